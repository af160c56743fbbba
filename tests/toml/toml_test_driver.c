/*
 * toml_test_driver.c - runs a toml-test decoder over the toml-test suite.
 *
 * Usage: toml_test_driver [-v] DECODER TESTS_DIR [LIST] [FILTER]
 *
 * For every `valid/...toml` and `invalid/...toml` line of LIST (default
 * TESTS_DIR/files-toml-1.0.0; lines containing FILTER only, if given) the
 * decoder is run with the file on stdin.  A valid case passes when the
 * decoder exits 0 and prints JSON equal to the case's .json file; an
 * invalid case passes when the decoder exits with a non-zero status (a
 * crash or timeout is a failure).  Equality is semantic, as toml-test
 * defines it: objects and arrays structurally; strings and booleans as
 * text; integers and floats as numbers (nan equals nan, the sign of zero
 * and of infinity counts); date-times as instants (offset date-times) or
 * as fields (local kinds), so "17:45:00.600Z" equals "17:45:00.6z".
 * A sanitizer report on the decoder's stderr fails the case.
 * Prints one line per failure (every case with -v) and then
 * "N passed, N failed"; exits 0 only if nothing failed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#define CASE_TIMEOUT_SECONDS 10

static bool verbose;

/* Read a whole stream from the start. */
static char *slurp(FILE *f, size_t *len)
{
    size_t cap = 4096, n = 0, r;
    char *buf = malloc(cap + 1);
    rewind(f);
    while (buf != NULL && (r = fread(buf + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            char *p = realloc(buf, 2 * cap + 1);
            if (p == NULL) {
                free(buf);
                return NULL;
            }
            buf = p;
            cap *= 2;
        }
    }
    if (buf != NULL)
        buf[n] = '\0';
    *len = n;
    return buf;
}

/* Run the decoder on `path`; returns its wait status (or -1) and what it
 * wrote to stdout and stderr (malloc'd). */
static int run_decoder(const char *decoder, const char *path, char **out, size_t *out_len,
                       char **errtext)
{
    FILE *o = tmpfile(), *e = tmpfile();
    int status = -1;
    size_t elen;
    pid_t pid;

    *out = *errtext = NULL;
    if (o == NULL || e == NULL)
        goto done;
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        FILE *in = freopen(path, "rb", stdin);
        if (in == NULL || dup2(fileno(o), 1) < 0 || dup2(fileno(e), 2) < 0)
            _exit(127);
        alarm(CASE_TIMEOUT_SECONDS);
        execl(decoder, decoder, (char *)NULL);
        _exit(127);
    }
    if (pid < 0 || waitpid(pid, &status, 0) < 0)
        status = -1;
    *out = slurp(o, out_len);
    *errtext = slurp(e, &elen);
done:
    if (o != NULL)
        fclose(o);
    if (e != NULL)
        fclose(e);
    return status;
}

/* ---- Semantic comparison ---- */

static bool parse_int(const char *s, int64_t *v)
{
    char *end;
    long long x;
    errno = 0;
    x = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0')
        return false;
    *v = x;
    return true;
}

static bool parse_float(const char *s, double *v)
{
    char *end;
    const char *t = (*s == '+' || *s == '-') ? s + 1 : s;
    if (strcmp(t, "nan") == 0) {
        *v = NAN;
        return true;
    }
    if (strcmp(t, "inf") == 0) {
        *v = *s == '-' ? -INFINITY : INFINITY;
        return true;
    }
    errno = 0;
    *v = strtod(s, &end);
    return end != s && *end == '\0';
}

/* A date-time in its fields; `epoch` is seconds since 1970 in UTC for
 * offset date-times. */
typedef struct dtval {
    int y, mo, d, h, mi, s;
    long ns;
    int off; /* minutes east */
    long long epoch;
} dtval;

static bool digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if ((*p)[i] < '0' || (*p)[i] > '9')
            return false;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return true;
}

static long long days_from_civil(int y, int m, int d)
{
    long long yy = y - (m <= 2), era = (yy >= 0 ? yy : yy - 399) / 400;
    long long yoe = yy - era * 400, mp = (m + 9) % 12;
    long long doy = (153 * mp + 2) / 5 + d - 1, doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static bool parse_dt(const char *type, const char *s, dtval *v)
{
    bool date = strcmp(type, "time-local") != 0, time = strcmp(type, "date-local") != 0;
    memset(v, 0, sizeof *v);
    if (date && (!digits(&s, 4, &v->y) || *s++ != '-' || !digits(&s, 2, &v->mo) || *s++ != '-' ||
                 !digits(&s, 2, &v->d)))
        return false;
    if (date && time && *s != 'T' && *s != 't' && *s != ' ')
        return false;
    if (date && time)
        s++;
    if (time) {
        if (!digits(&s, 2, &v->h) || *s++ != ':' || !digits(&s, 2, &v->mi) || *s++ != ':' ||
            !digits(&s, 2, &v->s))
            return false;
        if (*s == '.') {
            long scale = 100000000;
            if (*++s < '0' || *s > '9')
                return false;
            for (; *s >= '0' && *s <= '9'; s++, scale /= 10)
                v->ns += (*s - '0') * scale;
        }
    }
    if (strcmp(type, "datetime") == 0) {
        int oh, om;
        if (*s == 'Z' || *s == 'z')
            s++;
        else if (*s == '+' || *s == '-') {
            int sign = *s++ == '-' ? -1 : 1;
            if (!digits(&s, 2, &oh) || *s++ != ':' || !digits(&s, 2, &om))
                return false;
            v->off = sign * (oh * 60 + om);
        } else
            return false;
        v->epoch = days_from_civil(v->y, v->mo, v->d) * 86400 + v->h * 3600 + v->mi * 60 + v->s -
                   v->off * 60;
    }
    return *s == '\0';
}

static bool scalar_equal(const char *type, const char *want, const char *have)
{
    if (strcmp(type, "string") == 0 || strcmp(type, "bool") == 0)
        return strcmp(want, have) == 0;
    if (strcmp(type, "integer") == 0) {
        int64_t a, b;
        return parse_int(want, &a) && parse_int(have, &b) && a == b;
    }
    if (strcmp(type, "float") == 0) {
        double a, b;
        if (!parse_float(want, &a) || !parse_float(have, &b))
            return false;
        if (isnan(a) || isnan(b))
            return isnan(a) && isnan(b);
        return a == b && signbit(a) == signbit(b);
    }
    if (strcmp(type, "datetime") == 0 || strcmp(type, "datetime-local") == 0 ||
        strcmp(type, "date-local") == 0 || strcmp(type, "time-local") == 0) {
        dtval a, b;
        if (!parse_dt(type, want, &a) || !parse_dt(type, have, &b))
            return false;
        if (strcmp(type, "datetime") == 0)
            return a.epoch == b.epoch && a.ns == b.ns;
        return a.y == b.y && a.mo == b.mo && a.d == b.d && a.h == b.h && a.mi == b.mi &&
               a.s == b.s && a.ns == b.ns;
    }
    return false;
}

/* {"type": "...", "value": "..."} */
static bool is_tagged(json_t *j)
{
    return json_is_object(j) && json_object_size(j) == 2 &&
           json_is_string(json_object_get(j, "type")) &&
           json_is_string(json_object_get(j, "value"));
}

/* Compare; on mismatch write a description with the JSON path to `why`. */
static bool equal(json_t *want, json_t *have, const char *path, char *why, size_t n)
{
    char sub[1024];
    if (is_tagged(want)) {
        const char *wt = json_string_value(json_object_get(want, "type"));
        const char *wv = json_string_value(json_object_get(want, "value"));
        const char *ht, *hv;
        if (!is_tagged(have)) {
            snprintf(why, n, "%s: expected a %s, got something else", path, wt);
            return false;
        }
        ht = json_string_value(json_object_get(have, "type"));
        hv = json_string_value(json_object_get(have, "value"));
        if (strcmp(wt, ht) != 0 || !scalar_equal(wt, wv, hv)) {
            snprintf(why, n, "%s: expected %s \"%s\", got %s \"%s\"", path, wt, wv, ht, hv);
            return false;
        }
        return true;
    }
    if (json_is_object(want)) {
        const char *k;
        json_t *wv;
        if (!json_is_object(have) || is_tagged(have)) {
            snprintf(why, n, "%s: expected a table", path);
            return false;
        }
        if (json_object_size(want) != json_object_size(have)) {
            snprintf(why, n, "%s: expected %zu keys, got %zu", path, json_object_size(want),
                     json_object_size(have));
            return false;
        }
        json_object_foreach(want, k, wv)
        {
            json_t *hv = json_object_get(have, k);
            snprintf(sub, sizeof sub, "%s.%s", path, k);
            if (hv == NULL) {
                snprintf(why, n, "%s: missing", sub);
                return false;
            }
            if (!equal(wv, hv, sub, why, n))
                return false;
        }
        return true;
    }
    if (json_is_array(want)) {
        if (!json_is_array(have) || json_array_size(want) != json_array_size(have)) {
            snprintf(why, n, "%s: expected an array of %zu", path, json_array_size(want));
            return false;
        }
        for (size_t i = 0; i < json_array_size(want); i++) {
            snprintf(sub, sizeof sub, "%s[%zu]", path, i);
            if (!equal(json_array_get(want, i), json_array_get(have, i), sub, why, n))
                return false;
        }
        return true;
    }
    snprintf(why, n, "%s: unexpected JSON in the expected file", path);
    return false;
}

/* jansson cannot load object keys containing NUL (toml-test has one), so
 * both documents get every \u0000 escape replaced with \ufdd0, a
 * noncharacter, before loading; a document that already holds U+FDD0 is
 * refused rather than compared wrongly.  Works in place (same length). */
static bool hide_nul_escapes(char *text, size_t len)
{
    if (memmem(text, len, "\xEF\xB7\x90", 3) != NULL || strcasestr(text, "\\ufdd0") != NULL)
        return false;
    for (size_t i = 0; i + 1 < len; i++) {
        if (text[i] != '\\')
            continue;
        if (text[i + 1] == 'u' && i + 5 < len && memcmp(text + i + 2, "0000", 4) == 0)
            memcpy(text + i + 2, "fdd0", 4);
        i++; /* skip the escaped character */
    }
    return true;
}

static json_t *load_json(char *text, size_t len, char *why, size_t n, const char *what)
{
    json_error_t jerr;
    json_t *j;
    if (!hide_nul_escapes(text, len)) {
        snprintf(why, n, "%s contains U+FDD0, which the driver uses internally", what);
        return NULL;
    }
    if ((j = json_loadb(text, len, JSON_ALLOW_NUL, &jerr)) == NULL)
        snprintf(why, n, "%s is not valid JSON: %s (line %d)", what, jerr.text, jerr.line);
    return j;
}

/* ---- Cases ---- */

static bool run_case(const char *decoder, const char *dir, const char *name, char *why, size_t n)
{
    char path[4096], jpath[4096];
    bool valid = strncmp(name, "valid/", 6) == 0, ok = false;
    char *out = NULL, *errtext = NULL;
    size_t out_len = 0;
    int status;

    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path) {
        snprintf(why, n, "path too long");
        return false;
    }
    status = run_decoder(decoder, path, &out, &out_len, &errtext);
    /* Under ASan/UBSan a memory error exits with a status too: look for
     * the sanitizers' reports so that they are never taken for a reject. */
    if (errtext != NULL &&
        (strstr(errtext, "Sanitizer") != NULL || strstr(errtext, "runtime error:") != NULL)) {
        snprintf(why, n, "sanitizer report: %.300s", errtext);
        goto done;
    }
    if (errtext != NULL)
        errtext[strcspn(errtext, "\n")] = '\0';
    if (status == -1 || !WIFEXITED(status)) {
        snprintf(why, n, "decoder crashed or timed out (%s %d)",
                 status != -1 && WIFSIGNALED(status) ? "signal" : "status",
                 status != -1 && WIFSIGNALED(status) ? WTERMSIG(status) : status);
    } else if (!valid) {
        ok = WEXITSTATUS(status) != 0;
        snprintf(why, n, ok ? "rejected: %s" : "accepted an invalid document",
                 errtext != NULL ? errtext : "");
    } else if (WEXITSTATUS(status) != 0) {
        snprintf(why, n, "rejected a valid document: %s", errtext != NULL ? errtext : "");
    } else {
        json_t *have = NULL, *want = NULL;
        char *expected = NULL;
        size_t expected_len = 0;
        FILE *jf;
        snprintf(jpath, sizeof jpath, "%.*s.json", (int)(strlen(path) - 5), path);
        if ((jf = fopen(jpath, "rb")) != NULL) {
            expected = slurp(jf, &expected_len);
            fclose(jf);
        }
        if (expected == NULL)
            snprintf(why, n, "cannot read %.300s", jpath);
        else if (out == NULL)
            snprintf(why, n, "cannot read the decoder's output");
        else if ((want = load_json(expected, expected_len, why, n, "the expected JSON")) != NULL &&
                 (have = load_json(out, out_len, why, n, "the decoder's output")) != NULL)
            ok = equal(want, have, "$", why, n);
        json_decref(have);
        json_decref(want);
        free(expected);
    }
done:
    free(out);
    free(errtext);
    return ok;
}

int main(int argc, char **argv)
{
    const char *decoder, *dir, *filter = NULL;
    char list[4096], line[4096], why[2048];
    int passed = 0, failed = 0, ai = 1;
    FILE *f;

    long min_passed = 0;
    const char *req = getenv("THEATER_REQUIRE_SUITES");

    for (;;) {
        if (argc > ai && strcmp(argv[ai], "-v") == 0) {
            verbose = true;
            ai++;
        } else if (argc > ai + 1 && strcmp(argv[ai], "--min-passed") == 0) {
            min_passed = strtol(argv[ai + 1], NULL, 10);
            ai += 2;
        } else {
            break;
        }
    }
    if (argc - ai < 2) {
        fprintf(stderr,
                "usage: %s [-v] [--min-passed N] DECODER TESTS_DIR [LIST] [FILTER]\n"
                "  A missing suite exits 77 (skip), or 1 when THEATER_REQUIRE_SUITES=1.\n",
                argv[0]);
        return 2;
    }
    decoder = argv[ai];
    dir = argv[ai + 1];
    if (argc - ai >= 3 && argv[ai + 2][0] != '\0')
        snprintf(list, sizeof list, "%s", argv[ai + 2]);
    else
        snprintf(list, sizeof list, "%s/files-toml-1.0.0", dir);
    if (argc - ai >= 4)
        filter = argv[ai + 3];
    if ((f = fopen(list, "r")) == NULL) {
        bool required = req != NULL && strcmp(req, "1") == 0;
        printf("toml-test suite not found (%s: %s): %s\n", list, strerror(errno),
               required ? "FAILED (required)" : "skipped");
        return required ? 1 : 77; /* 77: ctest SKIP_RETURN_CODE */
    }
    while (fgets(line, sizeof line, f) != NULL) {
        size_t len = strcspn(line, "\r\n");
        line[len] = '\0';
        if (len < 6 || strcmp(line + len - 5, ".toml") != 0)
            continue;
        if (strncmp(line, "valid/", 6) != 0 && strncmp(line, "invalid/", 8) != 0)
            continue;
        if (filter != NULL && strstr(line, filter) == NULL)
            continue;
        if (run_case(decoder, dir, line, why, sizeof why)) {
            passed++;
            if (verbose)
                printf("PASS %s: %s\n", line, line[0] == 'i' ? why : "ok");
        } else {
            failed++;
            printf("FAIL %s: %s\n", line, why);
        }
    }
    fclose(f);
    if (passed < min_passed) {
        printf("only %d cases passed, at least %ld expected: the suite ran short\n", passed,
               min_passed);
        failed += (int)(min_passed - passed);
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 && passed > 0 ? 0 : 1;
}
