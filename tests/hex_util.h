/*
 * hex_util.h - test helper: WebAssembly binaries written as hex text.
 * Include after <cmocka.h> (it asserts on text it cannot parse).
 */
#ifndef THEATER_TESTS_HEX_UTIL_H
#define THEATER_TESTS_HEX_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Parse hex pairs (whitespace ignored) into buf at *n.  "{ ... }" emits
 * the size of the enclosed bytes as a LEB128 u32 before them, so section
 * and body sizes need not be counted by hand.  Returns the position after
 * the parsed text. */
static const char *hex_parse(const char *p, uint8_t *buf, size_t cap, size_t *n)
{
    while (*p != '\0' && *p != '}') {
        unsigned v;
        if (*p == ' ' || *p == '\n') {
            p++;
        } else if (*p == '{') {
            uint8_t inner[4096];
            size_t k = 0;
            p = hex_parse(p + 1, inner, sizeof inner, &k);
            assert_true(*p == '}');
            p++;
            size_t len = k;
            do {
                assert_true(*n < cap);
                buf[(*n)++] = (uint8_t)((len & 0x7f) | (len > 0x7f ? 0x80 : 0));
                len >>= 7;
            } while (len != 0);
            assert_true(*n + k <= cap);
            memcpy(buf + *n, inner, k);
            *n += k;
        } else {
            assert_true(sscanf(p, "%2x", &v) == 1);
            assert_true(*n < cap);
            buf[(*n)++] = (uint8_t)v;
            p += 2;
        }
    }
    return p;
}

#endif
