/*
 * wat_util.h - test helper: WebAssembly text to binary with wabt's wat2wasm.
 * Include after <cmocka.h> (it asserts on I/O it cannot do without).
 */
#ifndef THEATER_TESTS_WAT_UTIL_H
#define THEATER_TESTS_WAT_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* Convert WAT to a binary (names kept in the name section); NULL if wat2wasm
 * is missing or rejects the text.  The caller frees the buffer. */
static uint8_t *wat_to_wasm(const char *wat, size_t *len)
{
    char dir[] = "/tmp/th_wat_XXXXXX", in[64], out[64], cmd[256];
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
    snprintf(cmd, sizeof cmd, "wat2wasm --debug-names %s -o %s 2>/dev/null", in, out);
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

#endif
