/*
 * util.c - small helpers of the runtime: growable byte buffers with JSON
 * writers (chain event data is JSON built here, not through a DOM, because
 * it is written on every operation), byte duplication and clocks.
 *
 * rt_buf never fails loudly: an allocation failure sets `oom`, later appends
 * are ignored, and the owner checks `oom` once at the end.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/rt_int.h"

static bool buf_reserve(rt_buf *b, size_t extra)
{
    size_t need, cap;
    uint8_t *p;

    if (b->oom)
        return false;
    if (extra > SIZE_MAX - b->len - 1)
        goto oom;
    need = b->len + extra + 1; /* keep room for a NUL */
    if (need <= b->cap)
        return true;
    cap = b->cap ? b->cap : 128;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    p = realloc(b->data, cap);
    if (p == NULL)
        goto oom;
    b->data = p;
    b->cap = cap;
    return true;
oom:
    b->oom = true;
    return false;
}

void rt_buf_append(rt_buf *b, const void *p, size_t n)
{
    if (!buf_reserve(b, n))
        return;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
}

void rt_buf_puts(rt_buf *b, const char *s)
{
    rt_buf_append(b, s, strlen(s));
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

/* Length of the valid UTF-8 sequence at s[0..n), or 0 if invalid. */
static size_t utf8_seq(const uint8_t *s, size_t n)
{
    uint32_t c;
    size_t len, i;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        len = 2, c = s[0] & 0x1f;
    else if (s[0] >= 0xe0 && s[0] <= 0xef)
        len = 3, c = s[0] & 0x0f;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4)
        len = 4, c = s[0] & 0x07;
    else
        return 0;
    if (len > n)
        return 0;
    for (i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3f);
    }
    if ((len == 3 && (c < 0x800 || (c >= 0xd800 && c <= 0xdfff))) ||
        (len == 4 && (c < 0x10000 || c > 0x10ffff)))
        return 0;
    return len;
}

bool rt_utf8_valid(const uint8_t *s, size_t n)
{
    size_t i = 0, k;

    while (i < n) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        k = utf8_seq(s + i, n - i);
        if (k == 0)
            return false;
        i += k;
    }
    return true;
}

void rt_buf_json_str(rt_buf *b, const char *str, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const uint8_t *s = (const uint8_t *)str;
    size_t i = 0, run, k;
    char esc[8];

    rt_buf_append(b, "\"", 1);
    while (i < n) {
        run = i;
        while (run < n && s[run] >= 0x20 && s[run] < 0x80 && s[run] != '"' && s[run] != '\\')
            run++;
        if (run > i) {
            rt_buf_append(b, s + i, run - i);
            i = run;
            continue;
        }
        if (s[i] >= 0x80) {
            k = utf8_seq(s + i, n - i);
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
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t rt_wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}
