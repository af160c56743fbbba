/*
 * wat_util.h - test helper: WebAssembly text to binary with wabt's wat2wasm.
 * Include after <cmocka.h> (it asserts on I/O it cannot do without).
 *
 * The program is $WAT2WASM, else wat2wasm on the PATH.
 *
 *   bin = wat_to_wasm(text, &len);
 *   if (bin == NULL)
 *       wat_missing();   (a visible skip without wat2wasm, tests/test_skip.h;
 *                         a failure when wat2wasm refuses the text)
 */
#ifndef THEATER_TESTS_WAT_UTIL_H
#define THEATER_TESTS_WAT_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "test_skip.h"

static const char *wat2wasm_program(void)
{
    const char *w = getenv("WAT2WASM");

    return w != NULL && *w != '\0' ? w : "wat2wasm";
}

/* Convert WAT to a binary (names kept in the name section); NULL if wat2wasm
 * is missing or rejects the text.  The caller frees the buffer. */
static uint8_t *wat_to_wasm(const char *wat, size_t *len)
{
    char dir[] = "/tmp/th_wat_XXXXXX", in[64], out[64], cmd[1280];
    uint8_t *buf = NULL;
    FILE *f;
    long n;

    if (mkdtemp(dir) == NULL)
        return NULL;
    snprintf(in, sizeof in, "%s/m.wat", dir);
    snprintf(out, sizeof out, "%s/m.wasm", dir);
    f = fopen(in, "w");
    assert_non_null(f);
    fputs(wat, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "'%s' --debug-names %s -o %s 2>/dev/null", wat2wasm_program(), in,
             out);
    if (system(cmd) == 0 && (f = fopen(out, "rb")) != NULL) {
        fseek(f, 0, SEEK_END);
        n = ftell(f);
        fseek(f, 0, SEEK_SET);
        buf = malloc((size_t)n);
        assert_non_null(buf);
        assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
        fclose(f);
        *len = (size_t)n;
    }
    unlink(in);
    unlink(out);
    rmdir(dir);
    return buf;
}

/* After wat_to_wasm gave NULL: skip the case if wat2wasm is not installed
 * (a failure under THEATER_REQUIRE_SUITES=1), else fail it (the test's
 * text is wrong).  Does not return. */
static void wat_missing(void)
{
    char cmd[1100];

    snprintf(cmd, sizeof cmd, "command -v '%s' >/dev/null 2>&1", wat2wasm_program());
    if (system(cmd) != 0)
        th_skip_missing("wat2wasm (Debian package wabt)");
    fail_msg("wat2wasm refused the test's module text");
}

#endif
