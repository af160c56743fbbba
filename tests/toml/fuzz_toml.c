/*
 * fuzz_toml.c - fuzz harness for the TOML parser (src/base/toml.c).
 *
 * Built two ways (tests/toml/CMakeLists.txt):
 *   fuzz_toml         with THEATER_FUZZ=ON and clang: a libFuzzer target,
 *                     e.g. `fuzz_toml -max_len=4096 CORPUS_DIR`;
 *   toml_fuzz_replay  always: replays the files and directories (recursively)
 *                     given as arguments through the same entry point, as
 *                     ctest toml.fuzz_replay does with every toml-test case
 *                     (TOML 1.1 ones included), under the sanitizers in the
 *                     ASan build.
 * Besides "no crash, no leak", each accepted document must satisfy: every
 * float and date-time prints as text that parses back to the same value,
 * and every node's depth stays within TH_TOML_MAX_DEPTH.  A violation
 * aborts (this is a test program, not library code).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdbool.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/limits.h"
#include "base/toml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_toml: invariant broken: %s\n", what);
        abort();
    }
}

/* Parse "x = <text>" and return the value node's copy in *out. */
static toml_value *reparse(const char *text)
{
    char doc[128];
    toml_value *root = NULL;
    th_error err;
    snprintf(doc, sizeof doc, "x = %s", text);
    check(toml_parse(doc, strlen(doc), &root, &err) == 0, "formatted value does not parse");
    return root;
}

static void walk(const toml_value *v, unsigned depth)
{
    char text[64];
    check(depth <= TH_TOML_MAX_DEPTH, "tree deeper than TH_TOML_MAX_DEPTH");
    for (size_t i = 0; i < toml_table_len(v); i++) {
        const toml_keyval *kv = toml_table_entry(v, i);
        check(toml_table_getn(v, kv->key, kv->key_len) == kv->value, "key lookup");
        walk(kv->value, depth + 1);
    }
    for (size_t i = 0; i < toml_array_len(v); i++)
        walk(toml_array_get(v, i), depth + 1);
    if (v->type == TOML_FLOAT) {
        toml_value *r;
        double d;
        toml_float_format(v->u.f, text, sizeof text);
        r = reparse(text);
        d = toml_table_get(r, "x")->u.f;
        check(toml_table_get(r, "x")->type == TOML_FLOAT, "float reads back as a float");
        check((isnan(d) && isnan(v->u.f)) || memcmp(&d, &v->u.f, sizeof d) == 0,
              "float round trip");
        toml_free(r);
    } else if (v->type >= TOML_DATETIME && v->type <= TOML_TIME_LOCAL) {
        toml_value *r;
        const toml_value *x;
        toml_datetime_format(&v->u.dt, v->type, text, sizeof text);
        r = reparse(text);
        x = toml_table_get(r, "x");
        check(x->type == v->type && memcmp(&x->u.dt, &v->u.dt, sizeof x->u.dt) == 0,
              "date-time round trip");
        toml_free(r);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    toml_value *root = NULL;
    th_error err;
    if (toml_parse((const char *)data, size, &root, &err) == 0)
        walk(root, 0);
    else
        check(root == NULL && err.msg[0] != '\0', "failure leaves no tree and says why");
    toml_free(root);
    return 0;
}

#ifndef THEATER_LIBFUZZER
static int replay(const char *path, unsigned *count)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        perror(path);
        return 1;
    }
    if (S_ISDIR(st.st_mode)) {
        struct dirent **names;
        int n = scandir(path, &names, NULL, alphasort), rc = 0;
        if (n < 0) {
            perror(path);
            return 1;
        }
        for (int i = 0; i < n; i++) {
            char sub[4096];
            if (names[i]->d_name[0] != '.' &&
                (size_t)snprintf(sub, sizeof sub, "%s/%s", path, names[i]->d_name) < sizeof sub)
                rc |= replay(sub, count);
            free(names[i]);
        }
        free(names);
        return rc;
    }
    {
        FILE *f = fopen(path, "rb");
        uint8_t *buf = malloc((size_t)st.st_size + 1);
        size_t len;
        if (f == NULL || buf == NULL) {
            perror(path);
            free(buf);
            if (f != NULL)
                fclose(f);
            return 1;
        }
        len = fread(buf, 1, (size_t)st.st_size, f);
        fclose(f);
        LLVMFuzzerTestOneInput(buf, len);
        free(buf);
        (*count)++;
    }
    return 0;
}

int main(int argc, char **argv)
{
    unsigned count = 0;
    int rc = 0;
    const char *req = getenv("THEATER_REQUIRE_SUITES");
    struct stat st;

    /* The inputs are toml-test's files: absent suite = a visible skip (77),
     * or a failure where suites are required (.ci/run). */
    if (argc > 1 && stat(argv[1], &st) != 0) {
        bool required = req != NULL && strcmp(req, "1") == 0;
        printf("toml-test suite not found at %s: %s\n", argv[1],
               required ? "FAILED (required)" : "skipped");
        return required ? 1 : 77;
    }
    for (int i = 1; i < argc; i++)
        rc |= replay(argv[i], &count);
    printf("%u inputs replayed\n", count);
    return rc != 0 || count == 0;
}
#endif
