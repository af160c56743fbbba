/*
 * wasm_bytes.h - test helpers that write WebAssembly binaries by hand: a
 * growable byte buffer with the LEB128 writers, and a parser of modules
 * written as hex text.  Include after <cmocka.h> (they assert on memory
 * and text they cannot handle).
 */
#ifndef THEATER_TESTS_WASM_BYTES_H
#define THEATER_TESTS_WASM_BYTES_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A growable byte buffer (zero it to start; the caller frees p). */
typedef struct wbuf {
    uint8_t *p;
    size_t n, cap;
} wbuf;

static inline void put(wbuf *b, const void *data, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    memcpy(b->p + b->n, data, n);
    b->n += n;
}

static inline void put8(wbuf *b, uint8_t v)
{
    put(b, &v, 1);
}

/* Unsigned and signed LEB128. */
static inline void uleb(wbuf *b, uint64_t v)
{
    do {
        uint8_t c = v & 0x7f;
        v >>= 7;
        put8(b, (uint8_t)(c | (v ? 0x80 : 0)));
    } while (v);
}

static inline void sleb(wbuf *b, int64_t v)
{
    for (;;) {
        uint8_t c = v & 0x7f;
        v >>= 7;
        if ((v == 0 && !(c & 0x40)) || (v == -1 && (c & 0x40))) {
            put8(b, c);
            return;
        }
        put8(b, c | 0x80);
    }
}

/* Parse hex pairs (whitespace ignored) into out at *n.  "{ ... }" emits
 * the size of the enclosed bytes as a LEB128 u32 before them, so section
 * and body sizes need not be counted by hand.  Returns the position after
 * the parsed text. */
static inline const char *hex_parse(const char *p, uint8_t *out, size_t cap, size_t *n)
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
                out[(*n)++] = (uint8_t)((len & 0x7f) | (len > 0x7f ? 0x80 : 0));
                len >>= 7;
            } while (len != 0);
            assert_true(*n + k <= cap);
            memcpy(out + *n, inner, k);
            *n += k;
        } else {
            assert_true(sscanf(p, "%2x", &v) == 1);
            assert_true(*n < cap);
            out[(*n)++] = (uint8_t)v;
            p += 2;
        }
    }
    return p;
}

#endif
