/*
 * util.c - small helpers of the runtime: growable byte buffers with JSON
 * writers (chain event data is JSON built here, not through a DOM, because
 * it is written on every operation), UTF-8 checks, byte duplication, clocks
 * and UUID v4 ids.  The random bits of ids come from a per-thread
 * xoshiro256** generator seeded from getrandom(2): ids must be unique and
 * unpredictable enough to be names, not secrets.
 *
 * rt_buf never fails loudly: an allocation failure sets `oom`, later appends
 * are ignored, and the owner checks `oom` once at the end.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/grow.h"
#include "base/utf8.h"
#include "runtime/rt_int.h"

static bool buf_reserve(rt_buf *b, size_t extra)
{
    uint8_t *p;

    if (b->oom)
        return false;
    /* room for a NUL too; 512 bytes first: most event records fit at once */
    if (extra > SIZE_MAX - b->len - 1 ||
        (p = base_grow(b->data, &b->cap, b->len + extra + 1, 512)) == NULL) {
        b->oom = true;
        return false;
    }
    b->data = p;
    return true;
}

void rt_buf_append_grow(rt_buf *b, const void *p, size_t n)
{
    if (!buf_reserve(b, n))
        return;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
}

void rt_buf_printf(rt_buf *b, const char *fmt, ...)
{
    va_list ap;
    char small[256];
    int n;

    va_start(ap, fmt);
    n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = true;
        return;
    }
    if ((size_t)n < sizeof small) {
        rt_buf_append(b, small, (size_t)n);
        return;
    }
    if (!buf_reserve(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

const char *rt_wit_error_name(int t)
{
    static const char *const names[] = {
        "operation-timeout",   "channel-closed",         "shutting-down",
        "function-not-found",  "type-mismatch",          "internal",
        "serialization-error", "update-component-error", "paused",
    };

    return t >= 0 && (size_t)t < sizeof names / sizeof names[0] ? names[t] : NULL;
}

bool rt_utf8_valid(const uint8_t *s, size_t n)
{
    return base_utf8_valid(s, n);
}

/* 1 for the bytes a JSON string holds as they are (printable ASCII but
 * the quote and the backslash). */
static const uint8_t json_plain[256] = {
    [0x20] = 1, [0x21] = 1, [0x23 ... 0x5b] = 1, [0x5d ... 0x7e] = 1, [0x7f] = 1,
};

void rt_buf_json_str(rt_buf *b, const char *str, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const uint8_t *s = (const uint8_t *)str;
    size_t i = 0, run, k;
    char esc[8];

    rt_buf_append(b, "\"", 1);
    while (i < n) {
        run = i;
        while (run < n && json_plain[s[run]])
            run++;
        if (run > i) {
            rt_buf_append(b, s + i, run - i);
            i = run;
            continue;
        }
        if (s[i] >= 0x80) {
            k = base_utf8_seq(s + i, n - i);
            if (k == 0) {
                rt_buf_append(b, "\xef\xbf\xbd", 3); /* U+FFFD */
                i++;
            } else {
                rt_buf_append(b, s + i, k);
                i += k;
            }
            continue;
        }
        switch (s[i]) {
        case '"': rt_buf_append(b, "\\\"", 2); break;
        case '\\': rt_buf_append(b, "\\\\", 2); break;
        case '\n': rt_buf_append(b, "\\n", 2); break;
        case '\r': rt_buf_append(b, "\\r", 2); break;
        case '\t': rt_buf_append(b, "\\t", 2); break;
        default:
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[s[i] >> 4];
            esc[5] = hex[s[i] & 15];
            rt_buf_append(b, esc, 6);
        }
        i++;
    }
    rt_buf_append(b, "\"", 1);
}

void rt_buf_json_hex(rt_buf *b, const uint8_t *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t i;
    char *o;

    if (n > (SIZE_MAX - 4) / 2 || !buf_reserve(b, 2 * n + 2))
        return;
    o = (char *)b->data + b->len;
    *o++ = '"';
    for (i = 0; i < n; i++) {
        *o++ = hex[p[i] >> 4];
        *o++ = hex[p[i] & 15];
    }
    *o++ = '"';
    b->len += 2 * n + 2;
    b->data[b->len] = 0;
}

void rt_buf_release(rt_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->oom = false;
}

uint8_t *rt_memdup(const void *p, size_t n)
{
    uint8_t *d = malloc(n ? n : 1);

    if (d != NULL && n)
        memcpy(d, p, n);
    return d;
}

uint64_t rt_now_ns(void)
{
    return base_clock_mono_ns();
}

uint64_t rt_deadline_ns(uint32_t ms)
{
    return ms ? rt_now_ns() + (uint64_t)ms * 1000000u : 0;
}

uint64_t rt_wall_ms(void)
{
    return base_clock_wall_ms();
}

/* ------------------------------------------------------------------ */
/* Ids                                                                */

static __thread uint64_t rng_s[4];
static __thread bool rng_ready;

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(void)
{
    uint64_t r, t;

    if (!rng_ready) {
        if (getrandom(rng_s, sizeof rng_s, 0) != (ssize_t)sizeof rng_s) {
            /* no entropy source: mix time, pid and an address */
            rng_s[0] = rt_now_ns() ^ (uint64_t)getpid() << 32;
            rng_s[1] = (uint64_t)(uintptr_t)&rng_s ^ 0x9e3779b97f4a7c15u;
            rng_s[2] = rt_wall_ms() * 0xbf58476d1ce4e5b9u;
            rng_s[3] = 0x94d049bb133111ebu;
        }
        if ((rng_s[0] | rng_s[1] | rng_s[2] | rng_s[3]) == 0)
            rng_s[0] = 1;
        rng_ready = true;
    }
    r = rotl(rng_s[1] * 5, 7) * 9;
    t = rng_s[1] << 17;
    rng_s[2] ^= rng_s[0];
    rng_s[3] ^= rng_s[1];
    rng_s[1] ^= rng_s[2];
    rng_s[0] ^= rng_s[3];
    rng_s[2] ^= t;
    rng_s[3] = rotl(rng_s[3], 45);
    return r;
}

void rt_uuid_v4(char out[RT_ID_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    uint8_t b[16];
    uint64_t x = rng_next(), y = rng_next();
    int i, o = 0;

    memcpy(b, &x, 8);
    memcpy(b + 8, &y, 8);
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80); /* variant 10 */
    for (i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[b[i] >> 4];
        out[o++] = hex[b[i] & 15];
    }
    out[o] = 0;
}

bool rt_id_valid(const char *s, size_t n)
{
    size_t i;

    if (n != RT_ID_LEN)
        return false;
    for (i = 0; i < n; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return false;
        } else if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
                     (s[i] >= 'A' && s[i] <= 'F'))) {
            return false;
        }
    }
    return true;
}

char *rt_text_with_frames(const char *text, const char *backtrace)
{
    rt_buf b = {0};
    const char *p, *nl;

    rt_buf_puts(&b, text);
    for (p = backtrace; p != NULL && *p != '\0'; p = nl + (*nl != '\0')) {
        if ((nl = strchr(p, '\n')) == NULL)
            nl = p + strlen(p);
        if (nl > p) {
            rt_buf_puts(&b, "\n    at ");
            rt_buf_append(&b, p, (size_t)(nl - p));
        }
    }
    if (b.oom) {
        rt_buf_release(&b);
        return NULL;
    }
    return b.data != NULL ? (char *)b.data : strdup(""); /* (kept NUL-terminated) */
}
