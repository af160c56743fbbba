/*
 * recval.c - reading recorded values back (replay): the scalars, strings
 * and byte lists of the JSON that the generated glue writes (js_T,
 * tools/witgen), read from the text in place (base/jscan.h) without a
 * JSON tree.  The generated jq_T functions call these for their leaves and
 * walk arrays and objects themselves.
 *
 * A record may be edited (an exported file is replayed as it is): every
 * value is checked for its syntax and range, strings for valid UTF-8 (the
 * guest gets only what a live handler could have given it), and a value
 * that does not fit is an error naming what was expected.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/hex.h"
#include "runtime/rt_int.h"

static int bad(rt_guest *g, const char *what)
{
    return th_error_set(g->err, TH_EINVAL, "the recorded value is not a %s", what);
}

int rt_jq_bool(rt_guest *g, base_jspan j, bool *out)
{
    if (base_jscan_is(j, "true"))
        *out = true;
    else if (base_jscan_is(j, "false"))
        *out = false;
    else
        return bad(g, "bool");
    return 0;
}

/* Digits only (an integer, as jansson reads one: no fraction, no
 * exponent), at most UINT64_MAX. */
static bool digits_u64(const char *s, size_t n, uint64_t *v)
{
    size_t i;

    *v = 0;
    if (n == 0 || n > 20 || (n > 1 && s[0] == '0'))
        return false;
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9' || *v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
            return false;
        *v = *v * 10 + (uint64_t)(s[i] - '0');
    }
    return true;
}

int rt_jq_uint(rt_guest *g, base_jspan j, uint64_t max, uint64_t *out)
{
    if (j.p == NULL || !digits_u64(j.p, j.n, out) || *out > max)
        return bad(g, max == 0x10FFFF ? "char" : "unsigned integer");
    return 0;
}

int rt_jq_sint(rt_guest *g, base_jspan j, int64_t min, int64_t max, int64_t *out)
{
    bool neg = j.p != NULL && j.n > 0 && j.p[0] == '-';
    uint64_t v;

    if (j.p == NULL || !digits_u64(j.p + neg, j.n - neg, &v) ||
        v > (neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX))
        return bad(g, "signed integer");
    *out = neg ? (v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v) : (int64_t)v;
    if (*out < min || *out > max)
        return bad(g, "signed integer");
    return 0;
}

int rt_jq_float(rt_guest *g, base_jspan j, double *out)
{
    char buf[64];
    char *end;

    if (base_jscan_is(j, "null")) {
        *out = NAN;
        return 0;
    }
    if (j.p == NULL || j.n == 0 || j.n >= sizeof buf ||
        !(j.p[0] == '-' || (j.p[0] >= '0' && j.p[0] <= '9')))
        return bad(g, "number");
    memcpy(buf, j.p, j.n);
    buf[j.n] = '\0';
    *out = strtod(buf, &end);
    if (*end != '\0')
        return bad(g, "number");
    return 0;
}

static bool u4(const char *s, unsigned *v)
{
    int k, d;

    *v = 0;
    for (k = 0; k < 4; k++) {
        if ((d = base_hex_digit((unsigned char)s[k])) < 0)
            return false;
        *v = *v << 4 | (unsigned)d;
    }
    return true;
}

static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12);
        o[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | cp >> 18);
    o[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    o[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* The contents of string span j (quotes included, syntax checked by the
 * scanner) unescaped into o (at least j.n bytes): its length, or -1 for a
 * lone surrogate. */
static long unescape(base_jspan j, char *o)
{
    const char *s = j.p + 1;
    size_t n = j.n - 2, i, w = 0;
    unsigned cp, lo;

    for (i = 0; i < n; i++) {
        if (s[i] != '\\') {
            o[w++] = s[i];
            continue;
        }
        switch (s[++i]) {
        case 'b': o[w++] = '\b'; break;
        case 'f': o[w++] = '\f'; break;
        case 'n': o[w++] = '\n'; break;
        case 'r': o[w++] = '\r'; break;
        case 't': o[w++] = '\t'; break;
        case 'u':
            if (!u4(s + i + 1, &cp))
                return -1;
            i += 4;
            if (cp >= 0xDC00 && cp <= 0xDFFF)
                return -1;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (n - i < 7 || s[i + 1] != '\\' || s[i + 2] != 'u' || !u4(s + i + 3, &lo) ||
                    lo < 0xDC00 || lo > 0xDFFF)
                    return -1;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                i += 6;
            }
            w += put_utf8(o + w, cp);
            break;
        default: o[w++] = s[i]; break; /* " \ / */
        }
    }
    return (long)w;
}

int rt_jq_str(rt_guest *g, base_jspan j, char **ptr, size_t *len)
{
    base_jspan plain;
    long n;

    *ptr = NULL;
    *len = 0;
    if (j.p == NULL || j.n < 2 || j.p[0] != '"')
        return bad(g, "string");
    if ((*ptr = malloc(j.n)) == NULL) /* the unescaped text is never longer */
        return th_error_set(g->err, TH_ENOMEM, "out of memory");
    if (base_jscan_plain(j, &plain)) {
        memcpy(*ptr, plain.p, plain.n);
        n = (long)plain.n;
    } else if ((n = unescape(j, *ptr)) < 0) {
        return bad(g, "string (a lone surrogate)");
    }
    (*ptr)[n] = '\0';
    *len = (size_t)n;
    if (!rt_utf8_valid((const uint8_t *)*ptr, *len))
        return bad(g, "string (invalid UTF-8)");
    return 0;
}

int rt_jq_hex(rt_guest *g, base_jspan j, uint8_t **ptr, size_t *len)
{
    base_jspan h;

    *ptr = NULL;
    *len = 0;
    if (!base_jscan_plain(j, &h) || h.n % 2 != 0)
        return bad(g, "hex bytes");
    if ((*ptr = malloc(h.n / 2 + 1)) == NULL)
        return th_error_set(g->err, TH_ENOMEM, "out of memory");
    *len = h.n / 2;
    if (base_hex_decode_n(h.p, *ptr, h.n / 2) != 0)
        return bad(g, "hex bytes");
    return 0;
}

int rt_jq_bad(rt_guest *g, const char *what)
{
    return bad(g, what);
}
