/*
 * runtime_names.c - the runtime knows no handler by name (part of
 * layers.check).
 *
 * Usage: runtime_names DIR...  Reads every .c and .h file of each DIR
 * (src/runtime) and reports, with file and line, each place that names a
 * handler of the built-in set or one of its settings.  The names come from
 * the set itself (th_handlers_builtin: each rt_iface's name, module and
 * settings fields), so a new handler is covered without touching this
 * check.  What counts, after comments are removed:
 *   - a string literal that is a handler's name or module, or that holds
 *     one in quotes (the text \"store\" in a message);
 *   - a word of a string literal that is a setting with an underscore in
 *     its name (allowed_vars), or a whole literal that is any setting
 *     ("path");
 *   - an identifier that names handlers by number (RT_H_*, HANDLER_*).
 * A line whose comment says "layers: not a handler name" is passed over
 * (a word that happens to be a handler's name too, such as the runtime's
 * own log tag).  Exit 0 when nothing is found, 1 otherwise, 2 on a usage
 * or read error.
 */
#define _GNU_SOURCE /* memmem */
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/rt_host.h"
#include "theater/handlers.h"

#define EXEMPT "layers: not a handler name"

static int g_found;

static void report(const char *file, int line, const char *what, const char *name)
{
    printf("    %s:%d: %s %s\n", file, line, what, name);
    g_found++;
}

static bool word_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

/* Does `s` hold `w` as a whole word (bounded by non-word characters)? */
static bool has_word(const char *s, const char *w)
{
    size_t n = strlen(w);

    for (const char *p = s; (p = strstr(p, w)) != NULL; p++)
        if ((p == s || !word_char(p[-1])) && !word_char(p[n]))
            return true;
    return false;
}

/* Check one string literal's content (escapes kept as written). */
static void check_literal(const char *file, int line, const char *lit)
{
    const th_handler_set *set = th_handlers_builtin();
    char quoted[128];

    for (size_t i = 0; i < set->count; i++) {
        const rt_iface *f = set->ifaces[i];
        snprintf(quoted, sizeof quoted, "\\\"%s\\\"", f->name);
        if (strcmp(lit, f->name) == 0 || strstr(lit, quoted) != NULL)
            report(file, line, "handler name", f->name);
        if (strcmp(lit, f->module) == 0)
            report(file, line, "handler module", f->module);
        for (const char *const *k = f->fields; k != NULL && *k != NULL; k++)
            if (strcmp(lit, *k) == 0 || (strchr(*k, '_') != NULL && has_word(lit, *k)))
                report(file, line, "setting", *k);
    }
}

static void check_ident(const char *file, int line, const char *id)
{
    if (strncmp(id, "RT_H_", 5) == 0 || strncmp(id, "RT_MANIFEST_H_", 14) == 0 ||
        strncmp(id, "HANDLER_", 8) == 0)
        report(file, line, "handler number", id);
}

/* Walk the text: skip comments, collect string literals and identifiers. */
static void check_text(const char *file, const char *s)
{
    char buf[4096];
    int line = 1;
    bool exempt = false;
    const char *eol;

    eol = strchr(s, '\n');
    exempt = eol != NULL && memmem(s, (size_t)(eol - s), EXEMPT, strlen(EXEMPT)) != NULL;
    while (*s) {
        if (*s == '\n') {
            line++;
            s++;
            eol = strchr(s, '\n');
            exempt = memmem(s, eol != NULL ? (size_t)(eol - s) : strlen(s), EXEMPT,
                            strlen(EXEMPT)) != NULL;
        } else if (s[0] == '/' && s[1] == '*') {
            for (s += 2; *s && !(s[0] == '*' && s[1] == '/'); s++)
                if (*s == '\n')
                    line++;
            s += *s ? 2 : 0;
        } else if (s[0] == '/' && s[1] == '/') {
            while (*s && *s != '\n')
                s++;
        } else if (*s == '"' || *s == '\'') {
            char q = *s++;
            size_t n = 0;
            while (*s && *s != q && *s != '\n') {
                if (*s == '\\' && s[1] != '\0' && n + 1 < sizeof buf)
                    buf[n++] = *s++;
                if (n + 1 < sizeof buf)
                    buf[n++] = *s;
                s++;
            }
            buf[n] = '\0';
            s += *s == q;
            if (q == '"' && !exempt)
                check_literal(file, line, buf);
        } else if ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_') {
            size_t n = 0;
            while (word_char(*s) && *s != '-') {
                if (n + 1 < sizeof buf)
                    buf[n++] = *s;
                s++;
            }
            buf[n] = '\0';
            if (!exempt)
                check_ident(file, line, buf);
        } else {
            s++;
        }
    }
}

static int check_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *text;
    long n;

    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
        fseek(f, 0, SEEK_SET) != 0 || (text = calloc(1, (size_t)n + 1)) == NULL) {
        fprintf(stderr, "runtime_names: cannot read %s\n", path);
        if (f != NULL)
            fclose(f);
        return 2;
    }
    if (fread(text, 1, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "runtime_names: cannot read %s\n", path);
        fclose(f);
        free(text);
        return 2;
    }
    fclose(f);
    check_text(path, text);
    free(text);
    return 0;
}

int main(int argc, char **argv)
{
    int files = 0;

    if (argc < 2) {
        fprintf(stderr, "usage: runtime_names DIR...\n");
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        DIR *d = opendir(argv[i]);
        struct dirent *e;
        if (d == NULL) {
            fprintf(stderr, "runtime_names: cannot open %s\n", argv[i]);
            return 2;
        }
        while ((e = readdir(d)) != NULL) {
            size_t n = strlen(e->d_name);
            char path[4096];
            if (n < 3 ||
                (strcmp(e->d_name + n - 2, ".c") != 0 && strcmp(e->d_name + n - 2, ".h") != 0))
                continue;
            snprintf(path, sizeof path, "%s/%s", argv[i], e->d_name);
            if (check_file(path) != 0) {
                closedir(d);
                return 2;
            }
            files++;
        }
        closedir(d);
    }
    if (files == 0) {
        fprintf(stderr, "runtime_names: no source files found\n");
        return 2;
    }
    return g_found > 0 ? 1 : 0;
}
