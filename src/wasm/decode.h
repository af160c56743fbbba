/*
 * decode.h - the binary decoder's private reader, shared by decode.c (the
 * sections and the module) and decode_read.c (the reader itself).
 *
 * A reader walks the whole module with one bounds check per read: it never
 * reads at or past `len`.  Every function returns 0 or a negative TH_E*
 * code (TH_EINVAL for malformed input, TH_ENOMEM), with the message, which
 * starts "at offset 0x..:", set in `err` when it is not NULL; on failure
 * the outputs hold nothing the caller must free.
 */
#ifndef THEATER_WASM_DECODE_H
#define THEATER_WASM_DECODE_H

#include "wasm/wasm_int.h"

typedef struct rd {
    const uint8_t *b; /* the whole module */
    size_t pos, len;  /* len: end of what may be read */
    th_error *err;    /* may be NULL (name section: errors are ignored) */
} rd;

/* Errors: a malformed input at offset `at`, the end reached early, out of
 * memory (at the current position).  Each returns its code. */
int wasm_rd_fail(rd *r, size_t at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int wasm_rd_eos(rd *r);
int wasm_rd_nomem(rd *r);

int wasm_rd_byte(rd *r, uint8_t *out);
/* LEB128 of at most `bits` bits, as the binary format bounds them. */
int wasm_rd_uleb(rd *r, int bits, uint64_t *out);
int wasm_rd_sleb(rd *r, int bits, int64_t *out);
int wasm_rd_u32(rd *r, uint32_t *out);
/* A length or count that must not exceed the bytes left. */
int wasm_rd_len32(rd *r, uint32_t *out);
/* Skip n bytes; *start receives where they begin. */
int wasm_rd_skip(rd *r, size_t n, size_t *start);
/* A name (length, UTF-8 bytes): *out receives a NUL-terminated copy, owned
 * by the caller, unless out is NULL; *out_len (if not NULL) its length. */
int wasm_rd_name(rd *r, char **out, uint32_t *out_len);

/* Type encodings. */
int wasm_rd_valtype(rd *r, uint8_t *out);
int wasm_rd_reftype(rd *r, uint8_t *out);
int wasm_rd_limits(rd *r, wasm_limits *out);
int wasm_rd_tabletype(rd *r, wasm_tabletype *out);
int wasm_rd_globaltype(rd *r, wasm_globaltype *out);

#endif
