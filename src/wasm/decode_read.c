/*
 * decode_read.c - the decoder's bounds-checked reader (struct rd, in
 * decode.h): bytes, LEB128 integers, lengths, UTF-8 names, and the type
 * encodings (value, reference, limits, table and global types).
 *
 * Every function returns 0 or a negative TH_E* code, with the message
 * ("at offset 0x..: ...") set in r->err; nothing is read past r->len.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wasm/decode.h"

/* ------------------------------------------------------------------ */
/* Reader                                                             */

int wasm_rd_fail(rd *r, size_t at, const char *fmt, ...)
{
    char msg[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    th_error_set(r->err, TH_EINVAL, "at offset 0x%zx: %s", at, msg);
    return TH_EINVAL;
}

int wasm_rd_eos(rd *r)
{
    return wasm_rd_fail(r, r->len, "unexpected end of section or function");
}

int wasm_rd_nomem(rd *r)
{
    th_error_set(r->err, TH_ENOMEM, "at offset 0x%zx: out of memory", r->pos);
    return TH_ENOMEM;
}

int wasm_rd_byte(rd *r, uint8_t *out)
{
    *out = 0;
    if (r->pos >= r->len)
        return wasm_rd_eos(r);
    *out = r->b[r->pos++];
    return 0;
}

/* Unsigned LEB128 of at most `bits` bits: too many bytes is "integer
 * representation too long", bits set beyond `bits` "integer too large". */
int wasm_rd_uleb(rd *r, int bits, uint64_t *out)
{
    uint64_t v = 0;
    unsigned shift = 0;
    int n = bits;

    *out = 0;
    for (;;) {
        uint8_t b;
        if (n <= 0)
            return wasm_rd_fail(r, r->pos, "integer representation too long");
        if (r->pos >= r->len)
            return wasm_rd_eos(r);
        b = r->b[r->pos++];
        if (n < 7 && (b & 0x7f) >= (1u << n))
            return wasm_rd_fail(r, r->pos - 1, "integer too large");
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            break;
        shift += 7;
        n -= 7;
    }
    *out = v;
    return 0;
}

/* Signed LEB128 of at most `bits` bits; the unused bits of the last byte
 * must all equal the sign bit. */
int wasm_rd_sleb(rd *r, int bits, int64_t *out)
{
    uint64_t v = 0;
    unsigned shift = 0;
    int n = bits;

    *out = 0;
    for (;;) {
        uint8_t b;
        if (n <= 0)
            return wasm_rd_fail(r, r->pos, "integer representation too long");
        if (r->pos >= r->len)
            return wasm_rd_eos(r);
        b = r->b[r->pos++];
        if (n < 7) {
            uint8_t mask = (uint8_t)((0xffu << (n - 1)) & 0x7f);
            if ((b & mask) != 0 && (b & mask) != mask)
                return wasm_rd_fail(r, r->pos - 1, "integer too large");
        }
        v |= (uint64_t)(b & 0x7f) << shift;
        shift += 7;
        if (!(b & 0x80)) {
            if ((b & 0x40) && shift < 64)
                v |= ~(uint64_t)0 << shift;
            break;
        }
        n -= 7;
    }
    *out = (int64_t)v;
    return 0;
}

int wasm_rd_u32(rd *r, uint32_t *out)
{
    uint64_t v;
    int rc = wasm_rd_uleb(r, 32, &v);
    *out = 0;
    if (rc < 0)
        return rc;
    *out = (uint32_t)v;
    return 0;
}

/* A length or count: a u32 that must not exceed the bytes left (counted
 * from the start of the LEB128 itself, as the reference decoder does). */
int wasm_rd_len32(rd *r, uint32_t *out)
{
    size_t at = r->pos;
    uint64_t v;
    int rc = wasm_rd_uleb(r, 32, &v);
    *out = 0;
    if (rc < 0)
        return rc;
    if (v > r->len - at)
        return wasm_rd_fail(r, at, "length out of bounds");
    *out = (uint32_t)v;
    return 0;
}

/* Skip n bytes; *start receives where they begin. */
int wasm_rd_skip(rd *r, size_t n, size_t *start)
{
    if (start != NULL)
        *start = r->pos;
    if (n > r->len - r->pos)
        return wasm_rd_eos(r);
    if (start != NULL)
        *start = r->pos;
    r->pos += n;
    return 0;
}

/* True if s[0..n) is well-formed UTF-8 (no overlong forms, no surrogates,
 * nothing above U+10FFFF). */
static bool utf8_valid(const uint8_t *s, size_t n)
{
    size_t i = 0;

    while (i < n) {
        uint8_t c = s[i];
        size_t need;
        uint8_t lo = 0x80, hi = 0xbf;

        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf)
            need = 1;
        else if (c >= 0xe0 && c <= 0xef) {
            need = 2;
            if (c == 0xe0)
                lo = 0xa0;
            else if (c == 0xed)
                hi = 0x9f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            need = 3;
            if (c == 0xf0)
                lo = 0x90;
            else if (c == 0xf4)
                hi = 0x8f;
        } else
            return false;
        if (n - i - 1 < need)
            return false;
        if (s[i + 1] < lo || s[i + 1] > hi)
            return false;
        for (size_t k = 2; k <= need; k++)
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
        i += need + 1;
    }
    return true;
}

/* A name: length, UTF-8 bytes.  *out receives a NUL-terminated copy (owned
 * by the caller) unless out is NULL. */
int wasm_rd_name(rd *r, char **out, uint32_t *out_len)
{
    size_t at = r->pos, start = 0;
    uint32_t n = 0;
    int rc;

    if ((rc = wasm_rd_len32(r, &n)) < 0)
        return rc;
    if (n > TH_WASM_MAX_NAME_BYTES)
        return wasm_rd_fail(r, at, "name too long (%u bytes)", n);
    if ((rc = wasm_rd_skip(r, n, &start)) < 0)
        return rc;
    if (!utf8_valid(r->b + start, n))
        return wasm_rd_fail(r, at, "malformed UTF-8 encoding");
    if (out != NULL) {
        char *s = malloc((size_t)n + 1);
        if (s == NULL)
            return wasm_rd_nomem(r);
        memcpy(s, r->b + start, n);
        s[n] = '\0';
        *out = s;
    }
    if (out_len != NULL)
        *out_len = n;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Types                                                              */

static bool is_valtype(uint8_t t)
{
    return t == TH_WASM_I32 || t == TH_WASM_I64 || t == TH_WASM_F32 || t == TH_WASM_F64 ||
           t == TH_WASM_V128 || t == TH_WASM_FUNCREF || t == TH_WASM_EXTERNREF;
}

int wasm_rd_valtype(rd *r, uint8_t *out)
{
    uint8_t t;
    int rc = wasm_rd_byte(r, &t);
    *out = 0;
    if (rc < 0)
        return rc;
    if (!is_valtype(t))
        return wasm_rd_fail(r, r->pos - 1, "malformed value type 0x%02x", t);
    *out = t;
    return 0;
}

int wasm_rd_reftype(rd *r, uint8_t *out)
{
    uint8_t t;
    int rc = wasm_rd_byte(r, &t);
    *out = 0;
    if (rc < 0)
        return rc;
    if (t != TH_WASM_FUNCREF && t != TH_WASM_EXTERNREF)
        return wasm_rd_fail(r, r->pos - 1, "malformed reference type");
    *out = t;
    return 0;
}

/* limits: flag (a 1-bit LEB128), min, optional max; all u32. */
int wasm_rd_limits(rd *r, wasm_limits *out)
{
    uint64_t flag;
    uint32_t v;
    int rc;

    if ((rc = wasm_rd_uleb(r, 1, &flag)) < 0)
        return rc;
    if ((rc = wasm_rd_u32(r, &v)) < 0)
        return rc;
    out->min = v;
    out->has_max = flag == 1;
    out->max = 0;
    if (out->has_max) {
        if ((rc = wasm_rd_u32(r, &v)) < 0)
            return rc;
        out->max = v;
    }
    return 0;
}

int wasm_rd_tabletype(rd *r, wasm_tabletype *out)
{
    int rc = wasm_rd_reftype(r, &out->reftype);
    if (rc < 0)
        return rc;
    return wasm_rd_limits(r, &out->limits);
}

int wasm_rd_globaltype(rd *r, wasm_globaltype *out)
{
    uint8_t mut;
    int rc;

    if ((rc = wasm_rd_valtype(r, &out->valtype)) < 0)
        return rc;
    if ((rc = wasm_rd_byte(r, &mut)) < 0)
        return rc;
    if (mut > 1)
        return wasm_rd_fail(r, r->pos - 1, "malformed mutability");
    out->mut = mut == 1;
    return 0;
}
