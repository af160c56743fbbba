/*
 * toml.c - the TOML document tree (see toml.h): nodes, tables and their
 * key index, accessors, and the formatting of floats and date-times.  The
 * parser that builds trees is toml_parse.c; what the two share is in
 * toml_int.h.
 */
#define _GNU_SOURCE /* strtod_l, newlocale */
#include "base/toml.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "base/grow.h"
#include "base/limits.h"
#include "base/toml_int.h"

/* Tables index their keys in a hash once they reach this many entries. */
#define TABLE_INDEX_MIN 8

/* ------------------------------------------------------------------------
 * Process-wide state: the "C" locale for number conversion and the hash
 * seed (random, so that crafted documents cannot force collisions).
 */

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
locale_t toml_c_locale;
static uint64_t g_hash_seed;

static void global_init(void)
{
    uint64_t seed = 0;
    toml_c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
    if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) != (ssize_t)sizeof seed)
        seed = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)&seed;
    g_hash_seed = seed | 1;
}

void toml_init(void)
{
    pthread_once(&g_once, global_init);
}

static uint64_t hash_key(const char *key, size_t len)
{
    uint64_t h = g_hash_seed ^ 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)key[i];
        h *= 0x100000001b3ull;
    }
    h ^= h >> 32;
    h *= 0xd6e8feb86659fd93ull;
    h ^= h >> 32;
    return h;
}

/* ------------------------------------------------------------------------
 * Growable byte buffer used while building strings.
 */

int toml_buf_reserve(sbuf *b, size_t extra)
{
    char *p;
    if (extra > SIZE_MAX - b->len - 1)
        return TH_ENOMEM;
    if ((p = base_grow(b->ptr, &b->cap, b->len + extra + 1, 32)) == NULL)
        return TH_ENOMEM;
    b->ptr = p;
    return 0;
}

int toml_buf_add(sbuf *b, const char *s, size_t n)
{
    if (toml_buf_reserve(b, n) != 0)
        return TH_ENOMEM;
    memcpy(b->ptr + b->len, s, n);
    b->len += n;
    b->ptr[b->len] = '\0';
    return 0;
}

int toml_buf_addc(sbuf *b, char c)
{
    return toml_buf_add(b, &c, 1);
}

/* Hand the NUL-terminated contents over to the caller (never NULL on
 * success, "" for an empty buffer). */
char *toml_buf_detach(sbuf *b, size_t *len)
{
    char *p;
    if (b->ptr == NULL && toml_buf_reserve(b, 0) != 0)
        return NULL;
    b->ptr[b->len] = '\0';
    p = b->ptr;
    *len = b->len;
    b->ptr = NULL;
    b->len = b->cap = 0;
    return p;
}

/* ------------------------------------------------------------------------
 * Nodes.
 */

toml_value *toml_node_new(toml_type type, int line, uint32_t depth)
{
    toml_value *v = calloc(1, sizeof *v);
    if (v == NULL)
        return NULL;
    v->type = type;
    v->line = line;
    v->depth = depth;
    return v;
}

void toml_free(toml_value *v)
{
    if (v == NULL)
        return;
    switch (v->type) {
    case TOML_STRING: free(v->u.s.ptr); break;
    case TOML_ARRAY:
        for (size_t i = 0; i < v->u.a.len; i++)
            toml_free(v->u.a.items[i]);
        free(v->u.a.items);
        break;
    case TOML_TABLE:
        for (size_t i = 0; i < v->u.t.len; i++) {
            free(v->u.t.items[i].key);
            toml_free(v->u.t.items[i].value);
        }
        free(v->u.t.items);
        free(v->u.t.index);
        break;
    default: break;
    }
    free(v);
}

int toml_array_push(toml_value *a, toml_value *item)
{
    if (a->u.a.len == a->u.a.cap) {
        size_t cap = a->u.a.cap ? a->u.a.cap * 2 : 4;
        toml_value **items = realloc(a->u.a.items, cap * sizeof *items);
        if (items == NULL)
            return TH_ENOMEM;
        a->u.a.items = items;
        a->u.a.cap = cap;
    }
    a->u.a.items[a->u.a.len++] = item;
    return 0;
}

/* Put entry `i` of table `t` into the hash index (which has room). */
static void index_put(toml_value *t, size_t i)
{
    const toml_keyval *kv = &t->u.t.items[i];
    size_t mask = t->u.t.index_cap - 1;
    size_t slot = (size_t)hash_key(kv->key, kv->key_len) & mask;
    while (t->u.t.index[slot] != 0)
        slot = (slot + 1) & mask;
    t->u.t.index[slot] = (uint32_t)(i + 1);
}

/* Keep the index at most half full; build it when the table gets big. */
static int index_grow(toml_value *t)
{
    size_t want = t->u.t.index_cap ? t->u.t.index_cap : 16;
    uint32_t *slots;
    while (want < 2 * (t->u.t.len + 1))
        want *= 2;
    if (want == t->u.t.index_cap)
        return 0;
    slots = calloc(want, sizeof *slots);
    if (slots == NULL)
        return TH_ENOMEM;
    free(t->u.t.index);
    t->u.t.index = slots;
    t->u.t.index_cap = want;
    for (size_t i = 0; i < t->u.t.len; i++)
        index_put(t, i);
    return 0;
}

toml_keyval *toml_tab_find(const toml_value *t, const char *key, size_t len)
{
    if (t->u.t.index != NULL) {
        size_t mask = t->u.t.index_cap - 1;
        size_t slot = (size_t)hash_key(key, len) & mask;
        uint32_t e;
        while ((e = t->u.t.index[slot]) != 0) {
            toml_keyval *kv = &t->u.t.items[e - 1];
            if (kv->key_len == len && memcmp(kv->key, key, len) == 0)
                return kv;
            slot = (slot + 1) & mask;
        }
        return NULL;
    }
    for (size_t i = 0; i < t->u.t.len; i++) {
        toml_keyval *kv = &t->u.t.items[i];
        if (kv->key_len == len && memcmp(kv->key, key, len) == 0)
            return kv;
    }
    return NULL;
}

/* Append a new entry (the caller checked that the key is absent).  On
 * success the table owns `key` (malloc'd, NUL-terminated) and `value`. */
int toml_tab_add(toml_value *t, char *key, size_t key_len, int line, toml_value *value)
{
    if (t->u.t.len == t->u.t.cap) {
        size_t cap = t->u.t.cap ? t->u.t.cap * 2 : 4;
        toml_keyval *items;
        if (cap > UINT32_MAX - 1)
            return TH_ENOMEM;
        items = realloc(t->u.t.items, cap * sizeof *items);
        if (items == NULL)
            return TH_ENOMEM;
        t->u.t.items = items;
        t->u.t.cap = cap;
    }
    if ((t->u.t.index != NULL || t->u.t.len + 1 >= TABLE_INDEX_MIN) &&
        2 * (t->u.t.len + 1) > t->u.t.index_cap && index_grow(t) != 0)
        return TH_ENOMEM;
    t->u.t.items[t->u.t.len] = (toml_keyval){key, key_len, line, value};
    t->u.t.len++;
    if (t->u.t.index != NULL)
        index_put(t, t->u.t.len - 1);
    return 0;
}

/* ------------------------------------------------------------------------
 * Accessors.
 */

const char *toml_type_name(toml_type type)
{
    switch (type) {
    case TOML_TABLE: return "table";
    case TOML_ARRAY: return "array";
    case TOML_STRING: return "string";
    case TOML_INTEGER: return "integer";
    case TOML_FLOAT: return "float";
    case TOML_BOOL: return "boolean";
    case TOML_DATETIME: return "offset date-time";
    case TOML_DATETIME_LOCAL: return "local date-time";
    case TOML_DATE_LOCAL: return "local date";
    case TOML_TIME_LOCAL: return "local time";
    }
    return "unknown";
}

size_t toml_table_len(const toml_value *t)
{
    return t != NULL && t->type == TOML_TABLE ? t->u.t.len : 0;
}

const toml_keyval *toml_table_entry(const toml_value *t, size_t i)
{
    return i < toml_table_len(t) ? &t->u.t.items[i] : NULL;
}

const toml_value *toml_table_getn(const toml_value *t, const char *key, size_t key_len)
{
    const toml_keyval *kv;
    if (t == NULL || t->type != TOML_TABLE || key == NULL)
        return NULL;
    pthread_once(&g_once, global_init);
    kv = toml_tab_find(t, key, key_len);
    return kv != NULL ? kv->value : NULL;
}

const toml_keyval *toml_table_find(const toml_value *t, const char *key)
{
    if (t == NULL || t->type != TOML_TABLE || key == NULL)
        return NULL;
    pthread_once(&g_once, global_init);
    return toml_tab_find(t, key, strlen(key));
}

const toml_value *toml_table_get(const toml_value *t, const char *key)
{
    const toml_keyval *kv = toml_table_find(t, key);
    return kv != NULL ? kv->value : NULL;
}

size_t toml_array_len(const toml_value *a)
{
    return a != NULL && a->type == TOML_ARRAY ? a->u.a.len : 0;
}

const toml_value *toml_array_get(const toml_value *a, size_t i)
{
    return i < toml_array_len(a) ? a->u.a.items[i] : NULL;
}

int toml_string_set(toml_value *v, const char *s, size_t len)
{
    char *p;
    if (v == NULL || v->type != TOML_STRING || (s == NULL && len > 0))
        return TH_EINVAL;
    if (len == SIZE_MAX || (p = malloc(len + 1)) == NULL)
        return TH_ENOMEM;
    if (len > 0)
        memcpy(p, s, len);
    p[len] = '\0';
    free(v->u.s.ptr);
    v->u.s.ptr = p;
    v->u.s.len = len;
    return 0;
}

/* ------------------------------------------------------------------------
 * Formatting.
 */

int toml_datetime_format(const toml_datetime *dt, toml_type type, char *buf, size_t n)
{
    char date[16] = "", time_[32] = "", off[8] = "";
    bool has_date = type != TOML_TIME_LOCAL, has_time = type != TOML_DATE_LOCAL;

    if (type != TOML_DATETIME && type != TOML_DATETIME_LOCAL && type != TOML_DATE_LOCAL &&
        type != TOML_TIME_LOCAL)
        return -1;
    if (has_date)
        snprintf(date, sizeof date, "%04d-%02d-%02d", dt->year % 10000, dt->month % 100,
                 dt->day % 100);
    if (has_time) {
        int len = snprintf(time_, sizeof time_, "%s%02d:%02d:%02d", has_date ? "T" : "",
                           dt->hour % 100, dt->minute % 100, dt->second % 100);
        if (dt->frac_digits > 0 && dt->frac_digits <= 9) {
            char frac[16];
            snprintf(frac, sizeof frac, "%09d", dt->nanosecond % 1000000000);
            snprintf(time_ + len, sizeof time_ - (size_t)len, ".%.*s", dt->frac_digits, frac);
        }
    }
    if (type == TOML_DATETIME) {
        int m = dt->offset_minutes, a = m < 0 ? -m : m;
        if (m == 0)
            snprintf(off, sizeof off, "Z");
        else
            snprintf(off, sizeof off, "%c%02d:%02d", m < 0 ? '-' : '+', (a / 60) % 100, a % 60);
    }
    return snprintf(buf, n, "%s%s%s", date, time_, off);
}

/* Shortest significant digits that read back as `d`: the digits (no dot)
 * into `digits` and the decimal exponent of the first one. */
static int shortest_digits(double d, char digits[20], int *exp10)
{
    char tmp[40];
    int prec, nd = 0;
    locale_t old;

    toml_init();
    old = toml_c_locale != (locale_t)0 ? uselocale(toml_c_locale) : (locale_t)0;
    for (prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec - 1, d);
        if (strtod(tmp, NULL) == d)
            break;
    }
    if (old != (locale_t)0)
        uselocale(old);
    /* tmp is "[-]D[.DDD]e[+-]XX" */
    for (const char *q = tmp; *q != 'e' && *q != '\0'; q++)
        if (is_digit((unsigned char)*q) && nd < 19)
            digits[nd++] = *q;
    digits[nd] = '\0';
    *exp10 = atoi(strchr(tmp, 'e') + 1);
    return nd;
}

int toml_float_format(double d, char *buf, size_t n)
{
    char digits[20], out[TOML_FLOAT_MAX_TEXT];
    int nd, x, len = 0;

    if (isnan(d))
        return snprintf(buf, n, "nan");
    if (isinf(d))
        return snprintf(buf, n, d < 0 ? "-inf" : "inf");
    pthread_once(&g_once, global_init);
    nd = shortest_digits(d, digits, &x);
    if (signbit(d))
        out[len++] = '-';
    if (x >= 17 || x < -5) {
        /* Scientific: D.DDDe+XX */
        len += snprintf(out + len, sizeof out - (size_t)len, "%c%s%s%se%+d", digits[0],
                        nd > 1 ? "." : "", digits + 1, nd > 1 ? "" : ".0", x);
    } else if (x >= 0) {
        /* Fixed with the point after digit x (zeros pad the integer part). */
        for (int i = 0; i <= x; i++)
            out[len++] = i < nd ? digits[i] : '0';
        out[len++] = '.';
        if (nd > x + 1)
            for (int i = x + 1; i < nd; i++)
                out[len++] = digits[i];
        else
            out[len++] = '0';
        out[len] = '\0';
    } else {
        /* 0.000DDD */
        len += snprintf(out + len, sizeof out - (size_t)len, "0.%.*s%s", -x - 1, "0000", digits);
    }
    return snprintf(buf, n, "%s", out);
}
