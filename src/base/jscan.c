/*
 * jscan.c - reading JSON text in place (see jscan.h).  A value is skipped
 * by a recursive descent bounded by BASE_JSCAN_MAX_DEPTH; every byte read
 * is checked against the text's end first.
 */
#include <string.h>

#include "base/jscan.h"

static size_t skip_ws(const char *s, size_t n, size_t i)
{
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    return i;
}

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* A string at s[i] == '"': the index past its closing quote, or 0. */
static size_t skip_string(const char *s, size_t n, size_t i)
{
    for (i++; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"')
            return i + 1;
        if (c < 0x20)
            return 0;
        if (c != '\\')
            continue;
        if (++i >= n)
            return 0;
        if (s[i] == 'u') {
            if (n - i < 5 || !is_hex(s[i + 1]) || !is_hex(s[i + 2]) || !is_hex(s[i + 3]) ||
                !is_hex(s[i + 4]))
                return 0;
            i += 4;
        } else if (strchr("\"\\/bfnrt", s[i]) == NULL || s[i] == 0) {
            return 0;
        }
    }
    return 0;
}

static bool digit(const char *s, size_t n, size_t i)
{
    return i < n && s[i] >= '0' && s[i] <= '9';
}

/* A number at s[i] (RFC 8259 grammar): the index past it, or 0. */
static size_t skip_number(const char *s, size_t n, size_t i)
{
    if (i < n && s[i] == '-')
        i++;
    if (!digit(s, n, i))
        return 0;
    if (s[i] == '0')
        i++;
    else
        while (digit(s, n, i))
            i++;
    if (i < n && s[i] == '.') {
        if (!digit(s, n, ++i))
            return 0;
        while (digit(s, n, i))
            i++;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        if (!digit(s, n, i))
            return 0;
        while (digit(s, n, i))
            i++;
    }
    return i;
}

static int value(const char *s, size_t n, size_t *at, int depth);

/* An array or object at s[*at]; *at past it.  0 or -1. */
static int compound(const char *s, size_t n, size_t *at, int depth)
{
    char close = s[*at] == '[' ? ']' : '}';
    size_t i = skip_ws(s, n, *at + 1);
    bool obj = close == '}';

    if (depth >= BASE_JSCAN_MAX_DEPTH)
        return -1;
    if (i < n && s[i] == close) {
        *at = i + 1;
        return 0;
    }
    for (;;) {
        if (obj) {
            if (i >= n || s[i] != '"' || (i = skip_string(s, n, i)) == 0)
                return -1;
            i = skip_ws(s, n, i);
            if (i >= n || s[i] != ':')
                return -1;
            i++;
        }
        if (value(s, n, &i, depth + 1) != 0)
            return -1;
        i = skip_ws(s, n, i);
        if (i < n && s[i] == ',') {
            i = skip_ws(s, n, i + 1);
            continue;
        }
        if (i < n && s[i] == close) {
            *at = i + 1;
            return 0;
        }
        return -1;
    }
}

static int value(const char *s, size_t n, size_t *at, int depth)
{
    size_t i = skip_ws(s, n, *at), e = 0;

    if (i >= n)
        return -1;
    switch (s[i]) {
    case '"': e = skip_string(s, n, i); break;
    case '[':
    case '{': *at = i; return compound(s, n, at, depth);
    case 't': e = n - i >= 4 && memcmp(s + i, "true", 4) == 0 ? i + 4 : 0; break;
    case 'f': e = n - i >= 5 && memcmp(s + i, "false", 5) == 0 ? i + 5 : 0; break;
    case 'n': e = n - i >= 4 && memcmp(s + i, "null", 4) == 0 ? i + 4 : 0; break;
    default: e = skip_number(s, n, i); break;
    }
    if (e == 0)
        return -1;
    *at = e;
    return 0;
}

int base_jscan_value(const char *s, size_t n, size_t *at, base_jspan *v)
{
    size_t i = skip_ws(s, n, *at), start = i;

    v->p = NULL;
    v->n = 0;
    if (value(s, n, &i, 0) != 0)
        return -1;
    v->p = s + start;
    v->n = i - start;
    *at = i;
    return 0;
}

int base_jscan_whole(const char *s, size_t n, base_jspan *v)
{
    size_t at = 0;

    if (base_jscan_value(s, n, &at, v) != 0 || skip_ws(s, n, at) != n)
        return -1;
    return 0;
}

int base_jscan_object(base_jspan obj, const char *const *keys, size_t nkeys, base_jspan *vals)
{
    const char *s = obj.p;
    size_t n = obj.n, i, k, ks, ke;
    int members = 0;
    base_jspan v;

    for (k = 0; k < nkeys; k++)
        vals[k].p = NULL, vals[k].n = 0;
    if (n < 2 || s[0] != '{')
        return -1;
    i = skip_ws(s, n, 1);
    if (i < n && s[i] == '}')
        return i + 1 == n ? 0 : -1;
    for (;; members++) {
        if (i >= n || s[i] != '"' || (ke = skip_string(s, n, i)) == 0)
            return -1;
        ks = i + 1;
        i = skip_ws(s, n, ke);
        if (i >= n || s[i] != ':')
            return -1;
        i++;
        if (base_jscan_value(s, n, &i, &v) != 0)
            return -1;
        for (k = 0; k < nkeys; k++) {
            /* the member's first byte ends most mismatches before strlen */
            size_t kl = ke - 1 - ks;
            if (kl > 0 && s[ks] != keys[k][0])
                continue;
            if (strlen(keys[k]) == kl && memcmp(s + ks, keys[k], kl) == 0) {
                if (vals[k].p != NULL)
                    return -1;
                vals[k] = v;
            }
        }
        i = skip_ws(s, n, i);
        if (i < n && s[i] == ',') {
            i = skip_ws(s, n, i + 1);
            continue;
        }
        return i < n && s[i] == '}' && i + 1 == n ? members + 1 : -1;
    }
}

int base_jscan_single(base_jspan obj, base_jspan *key, base_jspan *val)
{
    const char *s = obj.p;
    size_t n = obj.n, i, ke;

    if (s == NULL || n < 2 || s[0] != '{')
        return -1;
    i = skip_ws(s, n, 1);
    if (i >= n || s[i] != '"' || (ke = skip_string(s, n, i)) == 0 ||
        !base_jscan_plain((base_jspan){s + i, ke - i}, key))
        return -1;
    i = skip_ws(s, n, ke);
    if (i >= n || s[i] != ':')
        return -1;
    i++;
    if (base_jscan_value(s, n, &i, val) != 0)
        return -1;
    i = skip_ws(s, n, i);
    return i < n && s[i] == '}' && i + 1 == n ? 0 : -1;
}

int base_jscan_member(base_jspan obj, size_t *at, base_jspan *key, base_jspan *val)
{
    const char *s = obj.p;
    size_t n = obj.n, i = *at, ke;

    if (s == NULL || n < 2 || s[0] != '{' || s[n - 1] != '}')
        return -1;
    i = skip_ws(s, n - 1, i == 0 ? 1 : i);
    if (i == n - 1)
        return 0;
    if (*at != 0) {
        if (s[i] != ',')
            return -1;
        i = skip_ws(s, n - 1, i + 1);
    }
    if (i >= n - 1 || s[i] != '"' || (ke = skip_string(s, n - 1, i)) == 0)
        return -1;
    key->p = s + i;
    key->n = ke - i;
    i = skip_ws(s, n - 1, ke);
    if (i >= n - 1 || s[i] != ':')
        return -1;
    i++;
    if (base_jscan_value(s, n - 1, &i, val) != 0)
        return -1;
    *at = i;
    return 1;
}

int base_jscan_next(base_jspan arr, size_t *at, base_jspan *v)
{
    const char *s = arr.p;
    size_t n = arr.n, i = *at;

    if (n < 2 || s[0] != '[' || s[n - 1] != ']')
        return -1;
    if (i == 0) {
        i = skip_ws(s, n - 1, 1);
        if (i == n - 1) {
            *at = i;
            return 0;
        }
    } else {
        i = skip_ws(s, n - 1, i);
        if (i == n - 1)
            return 0;
        if (s[i] != ',')
            return -1;
        i++;
    }
    if (base_jscan_value(s, n - 1, &i, v) != 0)
        return -1;
    *at = i;
    return 1;
}

bool base_jscan_plain(base_jspan v, base_jspan *out)
{
    if (v.p == NULL || v.n < 2 || v.p[0] != '"' || v.p[v.n - 1] != '"' ||
        memchr(v.p + 1, '\\', v.n - 2) != NULL)
        return false;
    out->p = v.p + 1;
    out->n = v.n - 2;
    return true;
}

bool base_jscan_is(base_jspan v, const char *lit)
{
    size_t n = strlen(lit);

    return v.p != NULL && v.n == n && memcmp(v.p, lit, n) == 0;
}
