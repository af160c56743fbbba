/*
 * theater_text.c - text helpers of the C guest SDK: a small printf-style
 * formatter (no floating point) and a reader for string fields of a JSON
 * object (a manifest's init_state arrives as JSON text). Part of the SDK
 * compiled into every actor (see theater.h).
 */
#include "theater_int.h"

/* ------------------------------------------------------------------------ */
/* Formatting                                                               */
/* ------------------------------------------------------------------------ */

typedef struct fmt_out {
    char *buf;
    size_t cap;
    size_t len;
} fmt_out;

static void out_char(fmt_out *o, char c)
{
    if (o->len + 1 < o->cap)
        o->buf[o->len] = c;
    o->len++;
}

static void out_pad(fmt_out *o, char c, int n)
{
    while (n-- > 0)
        out_char(o, c);
}

/* Emits `body` (n chars) with an optional sign/prefix, zero padding to
 * `zeros` digits and space padding to `width`. */
static void out_field(fmt_out *o, const char *prefix, const char *body, int n, int zeros, int width,
                      bool left)
{
    int plen = (int)ta__c_len(prefix);
    int total = plen + (zeros > n ? zeros : n);
    if (!left)
        out_pad(o, ' ', width - total);
    for (int i = 0; i < plen; i++)
        out_char(o, prefix[i]);
    out_pad(o, '0', zeros - n);
    for (int i = 0; i < n; i++)
        out_char(o, body[i]);
    if (left)
        out_pad(o, ' ', width - total);
}

typedef struct fmt_spec {
    bool left, zero, alt;
    char plus;
    int width, prec; /* prec < 0: none */
} fmt_spec;

static void out_uint(fmt_out *o, const fmt_spec *sp, unsigned long long v, unsigned base,
                     bool upper, const char *prefix)
{
    char digits[24];
    int n = 0;
    const char *set = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    while (v) {
        digits[sizeof digits - 1 - n++] = set[v % base];
        v /= base;
    }
    if (n == 0 && sp->prec != 0)
        digits[sizeof digits - 1 - n++] = '0';
    int zeros = sp->prec >= 0 ? sp->prec : 0;
    if (sp->zero && !sp->left && sp->prec < 0)
        zeros = sp->width - (int)ta__c_len(prefix);
    out_field(o, prefix, digits + sizeof digits - n, n, zeros, sp->width, sp->left);
}

static const char *parse_spec(const char *f, fmt_spec *sp, va_list *ap)
{
    *sp = (fmt_spec){.prec = -1};
    for (;; f++) {
        if (*f == '-')
            sp->left = true;
        else if (*f == '0')
            sp->zero = true;
        else if (*f == '+' || *f == ' ')
            sp->plus = (sp->plus == '+') ? '+' : *f;
        else if (*f == '#')
            sp->alt = true;
        else
            break;
    }
    if (*f == '*') {
        sp->width = va_arg(*ap, int);
        if (sp->width < 0) {
            sp->left = true;
            sp->width = -sp->width;
        }
        f++;
    } else {
        while (*f >= '0' && *f <= '9')
            sp->width = sp->width * 10 + (*f++ - '0');
    }
    if (*f == '.') {
        f++;
        sp->prec = 0;
        if (*f == '*') {
            sp->prec = va_arg(*ap, int);
            f++;
        } else {
            while (*f >= '0' && *f <= '9')
                sp->prec = sp->prec * 10 + (*f++ - '0');
        }
    }
    return f;
}

/* Reads an integer argument of length modifier `len` ('H' hh, 'h', 'l',
 * 'L' ll, 'z', 'j', 't', 0 int). */
static long long arg_signed(va_list *ap, char len)
{
    switch (len) {
    case 'l': return va_arg(*ap, long);
    case 'L': return va_arg(*ap, long long);
    case 'z': return (long long)va_arg(*ap, size_t);
    case 'j': return va_arg(*ap, intmax_t);
    case 't': return va_arg(*ap, ptrdiff_t);
    case 'H': return (signed char)va_arg(*ap, int);
    case 'h': return (short)va_arg(*ap, int);
    default: return va_arg(*ap, int);
    }
}

static unsigned long long arg_unsigned(va_list *ap, char len)
{
    switch (len) {
    case 'l': return va_arg(*ap, unsigned long);
    case 'L': return va_arg(*ap, unsigned long long);
    case 'z': return va_arg(*ap, size_t);
    case 'j': return va_arg(*ap, uintmax_t);
    case 't': return (unsigned long long)va_arg(*ap, ptrdiff_t);
    case 'H': return (unsigned char)va_arg(*ap, unsigned);
    case 'h': return (unsigned short)va_arg(*ap, unsigned);
    default: return va_arg(*ap, unsigned);
    }
}

static void fmt_one(fmt_out *o, const fmt_spec *sp, char len, char conv, va_list *ap)
{
    switch (conv) {
    case 'd':
    case 'i': {
        long long v = arg_signed(ap, len);
        unsigned long long mag = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
        char sign[2] = {v < 0 ? '-' : sp->plus, 0};
        out_uint(o, sp, mag, 10, false, sign);
        break;
    }
    case 'u': out_uint(o, sp, arg_unsigned(ap, len), 10, false, ""); break;
    case 'o': out_uint(o, sp, arg_unsigned(ap, len), 8, false, sp->alt ? "0" : ""); break;
    case 'x': out_uint(o, sp, arg_unsigned(ap, len), 16, false, sp->alt ? "0x" : ""); break;
    case 'X': out_uint(o, sp, arg_unsigned(ap, len), 16, true, sp->alt ? "0X" : ""); break;
    case 'p': {
        fmt_spec p = *sp;
        out_uint(o, &p, (uintptr_t)va_arg(*ap, void *), 16, false, "0x");
        break;
    }
    case 'c': {
        char c = (char)va_arg(*ap, int);
        out_field(o, "", &c, 1, 0, sp->width, sp->left);
        break;
    }
    case 's': {
        const char *s = va_arg(*ap, const char *);
        if (!s)
            s = "(null)";
        int n = 0;
        while ((sp->prec < 0 || n < sp->prec) && s[n])
            n++;
        out_field(o, "", s, n, 0, sp->width, sp->left);
        break;
    }
    case '%': out_char(o, '%'); break;
    default: /* unknown conversion: print it as written */
        out_char(o, '%');
        if (conv)
            out_char(o, conv);
        break;
    }
}

size_t ta_vfmt(char *buf, size_t cap, const char *fmt, va_list ap)
{
    fmt_out o = {buf, cap, 0};
    va_list args;
    va_copy(args, ap);
    for (const char *f = fmt; *f; f++) {
        if (*f != '%') {
            out_char(&o, *f);
            continue;
        }
        fmt_spec sp;
        f = parse_spec(f + 1, &sp, &args);
        char len = 0;
        if ((f[0] == 'h' || f[0] == 'l') && f[1] == f[0]) {
            len = f[0] == 'h' ? 'H' : 'L'; /* hh, ll */
            f += 2;
        } else if (*f == 'h' || *f == 'l' || *f == 'z' || *f == 'j' || *f == 't') {
            len = *f++;
        }
        fmt_one(&o, &sp, len, *f, &args);
        if (!*f)
            break;
    }
    va_end(args);
    if (cap)
        buf[o.len < cap ? o.len : cap - 1] = 0;
    return o.len;
}

size_t ta_fmt(char *buf, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t n = ta_vfmt(buf, cap, fmt, ap);
    va_end(ap);
    return n;
}

ta_str ta__vformat_scoped(const char *fmt, va_list ap)
{
    va_list again;
    va_copy(again, ap);
    size_t n = ta_vfmt(NULL, 0, fmt, ap);
    char *p = ta_scoped_alloc(n + 1);
    ta_vfmt(p, n + 1, fmt, again);
    va_end(again);
    return (ta_str){p, n};
}

ta_str ta_format(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ta_str s = ta__vformat_scoped(fmt, ap);
    va_end(ap);
    return s;
}

/* ------------------------------------------------------------------------ */
/* UTF-8                                                                    */
/* ------------------------------------------------------------------------ */

/* Length of the valid UTF-8 sequence at p (n bytes left), 0 if invalid:
 * no overlong forms, no surrogates, nothing above U+10FFFF. */
static size_t utf8_seq(const uint8_t *p, size_t n)
{
    uint8_t c = p[0];
    if (c < 0x80)
        return 1;
    size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
    if (len == 0 || c > 0xf4 || n < len)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    if ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] > 0x9f) || (c == 0xf0 && p[1] < 0x90) ||
        (c == 0xf4 && p[1] > 0x8f))
        return 0;
    return len;
}

bool ta_utf8_valid(ta_str s)
{
    const uint8_t *p = (const uint8_t *)s.ptr;
    for (size_t i = 0, k; i < s.len; i += k)
        if (!(k = utf8_seq(p + i, s.len - i)))
            return false;
    return true;
}

ta_str ta_utf8_fix(ta_str s)
{
    if (ta_utf8_valid(s))
        return s;
    const uint8_t *p = (const uint8_t *)s.ptr;
    char *out = ta_scoped_alloc(s.len * 3 + 1), *d = out;
    for (size_t i = 0; i < s.len;) {
        size_t k = utf8_seq(p + i, s.len - i);
        if (k) {
            __builtin_memcpy(d, p + i, k);
            d += k;
            i += k;
        } else { /* U+FFFD for each byte that does not start a valid sequence */
            *d++ = (char)0xef;
            *d++ = (char)0xbf;
            *d++ = (char)0xbd;
            i++;
        }
    }
    *d = 0;
    return (ta_str){out, (size_t)(d - out)};
}

/* ------------------------------------------------------------------------ */
/* JSON string fields                                                       */
/* ------------------------------------------------------------------------ */

#define JSON_MAX_DEPTH 64

typedef struct jcur {
    const uint8_t *p, *end;
} jcur;

static void j_ws(jcur *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

/* At an opening quote: moves past the closing quote. Sets *esc when the
 * string holds escapes. Returns false on a malformed string. */
static bool j_skip_string(jcur *c, bool *esc)
{
    *esc = false;
    for (c->p++; c->p < c->end; c->p++) {
        if (*c->p == '"') {
            c->p++;
            return true;
        }
        if (*c->p < 0x20)
            return false;
        if (*c->p == '\\') {
            *esc = true;
            if (++c->p == c->end)
                return false;
        }
    }
    return false;
}

static bool j_skip_value(jcur *c, int depth)
{
    bool esc;
    j_ws(c);
    if (c->p >= c->end || depth > JSON_MAX_DEPTH)
        return false;
    if (*c->p == '"')
        return j_skip_string(c, &esc);
    if (*c->p == '{' || *c->p == '[') {
        uint8_t close = *c->p == '{' ? '}' : ']';
        c->p++;
        j_ws(c);
        if (c->p < c->end && *c->p == close) {
            c->p++;
            return true;
        }
        for (;;) {
            if (close == '}') {
                j_ws(c);
                if (c->p >= c->end || *c->p != '"' || !j_skip_string(c, &esc))
                    return false;
                j_ws(c);
                if (c->p >= c->end || *c->p++ != ':')
                    return false;
            }
            if (!j_skip_value(c, depth + 1))
                return false;
            j_ws(c);
            if (c->p >= c->end)
                return false;
            if (*c->p == close) {
                c->p++;
                return true;
            }
            if (*c->p++ != ',')
                return false;
        }
    }
    /* number, true, false, null: a run of literal characters */
    const uint8_t *start = c->p;
    while (c->p < c->end && ((*c->p >= '0' && *c->p <= '9') || (*c->p >= 'a' && *c->p <= 'z') ||
                             *c->p == '-' || *c->p == '+' || *c->p == '.' || *c->p == 'E'))
        c->p++;
    return c->p > start;
}

static int hexval(uint8_t h)
{
    if (h >= '0' && h <= '9')
        return h - '0';
    if (h >= 'a' && h <= 'f')
        return h - 'a' + 10;
    if (h >= 'A' && h <= 'F')
        return h - 'A' + 10;
    return -1;
}

static bool j_hex4(const uint8_t *p, const uint8_t *end, uint32_t *out)
{
    if (end - p < 4)
        return false;
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(p[i]);
        if (h < 0)
            return false;
        v = v << 4 | (uint32_t)h;
    }
    *out = v;
    return true;
}

static size_t utf8_put(char *d, uint32_t cp)
{
    if (cp < 0x80) {
        d[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        d[0] = (char)(0xc0 | cp >> 6);
        d[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        d[0] = (char)(0xe0 | cp >> 12);
        d[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        d[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    d[0] = (char)(0xf0 | cp >> 18);
    d[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    d[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    d[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Decodes the escaped JSON string body [s, e) into call-scoped memory. */
static bool j_decode(const uint8_t *s, const uint8_t *e, ta_str *out)
{
    char *d = ta_scoped_alloc((size_t)(e - s) + 1), *start = d;
    while (s < e) {
        if (*s != '\\') {
            *d++ = (char)*s++;
            continue;
        }
        s++;
        uint8_t c = *s++;
        switch (c) {
        case '"':
        case '\\':
        case '/': *d++ = (char)c; break;
        case 'b': *d++ = '\b'; break;
        case 'f': *d++ = '\f'; break;
        case 'n': *d++ = '\n'; break;
        case 'r': *d++ = '\r'; break;
        case 't': *d++ = '\t'; break;
        case 'u': {
            uint32_t cp, lo;
            if (!j_hex4(s, e, &cp))
                return false;
            s += 4;
            if (cp >= 0xd800 && cp < 0xdc00) {
                if (e - s < 6 || s[0] != '\\' || s[1] != 'u' || !j_hex4(s + 2, e, &lo) ||
                    lo < 0xdc00 || lo > 0xdfff)
                    return false;
                s += 6;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            } else if (cp >= 0xdc00 && cp <= 0xdfff) {
                return false;
            }
            d += utf8_put(d, cp);
            break;
        }
        default: return false;
        }
    }
    *d = 0;
    *out = (ta_str){start, (size_t)(d - start)};
    return true;
}

/* The string at c->p (an opening quote), decoded; moves past it. */
static bool j_string(jcur *c, ta_str *out)
{
    const uint8_t *s = c->p + 1;
    bool esc;
    if (!j_skip_string(c, &esc))
        return false;
    const uint8_t *e = c->p - 1;
    if (!esc) {
        *out = (ta_str){(const char *)s, (size_t)(e - s)};
        return true;
    }
    return j_decode(s, e, out);
}

bool ta_json_get_str(ta_bytes json, const char *key, ta_str *out)
{
    jcur c = {json.ptr, json.ptr + json.len};
    j_ws(&c);
    if (c.p >= c.end || *c.p++ != '{')
        return false;
    j_ws(&c);
    if (c.p < c.end && *c.p == '}')
        return false;
    for (;;) {
        ta_str k;
        j_ws(&c);
        if (c.p >= c.end || *c.p != '"' || !j_string(&c, &k))
            return false;
        j_ws(&c);
        if (c.p >= c.end || *c.p++ != ':')
            return false;
        j_ws(&c);
        if (ta_str_eq_c(k, key))
            return c.p < c.end && *c.p == '"' && j_string(&c, out);
        if (!j_skip_value(&c, 1))
            return false;
        j_ws(&c);
        if (c.p >= c.end || *c.p++ != ',')
            return false;
    }
}
