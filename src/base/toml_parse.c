/*
 * toml_parse.c - the TOML 1.0.0 parser (toml_parse in toml.h), building the
 * tree of toml.c.
 *
 * The parser is a single pass of recursive descent over the byte buffer.
 * The whole input is checked to be well-formed UTF-8 first, so later code
 * may copy non-ASCII bytes without looking at them.  Recursion is bounded
 * by TH_TOML_MAX_DEPTH (arrays and inline tables nest; so do dotted keys
 * and headers, through the depth recorded on each node).
 *
 * Table definition rules (TOML 1.0.0, "Table" and "Keys"): each table node
 * records how it came to exist in `kind`:
 *   KIND_IMPLICIT  created as an intermediate of a [header] (e.g. `a` for
 *                  [a.b]); a later [a] may still define it once.
 *   KIND_HEADER    defined by a [header] (or the root, or an element of an
 *                  array of tables); never defined again.
 *   KIND_DOTTED    defined by dotted keys (a.b = 1 defines `a`) in section
 *                  `section`; only dotted keys of that same section may add
 *                  to it, no header may define it, headers may pass through.
 *   KIND_INLINE    an inline table; sealed, nothing may add to it.
 * Arrays are KIND_STATIC (written as [ ... ]) or KIND_AOT (built by [[ ]]);
 * only the latter may be extended or passed through by headers.  A section
 * is the body of one header or one inline table; each gets a fresh number.
 */
#define _GNU_SOURCE /* strtod_l */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hex.h"
#include "base/limits.h"
#include "base/toml.h"
#include "base/toml_int.h"
#include "base/utf8.h"

/* ------------------------------------------------------------------------
 * Parser state and errors.
 */

typedef struct parser {
    const char *start, *p, *end;
    th_error *err;
    toml_value *root;
    toml_value *cur;   /* table that receives the current section's keys */
    uint32_t section;  /* number of the section being parsed */
    uint32_t sections; /* sections numbered so far */
    const char *lpos;  /* line cache: position ... */
    int lno;           /* ... and its line */
} parser;

static int line_at(parser *ps, const char *at);

/* One part of a dotted key, owned by the key until stored in a table. */
typedef struct keypart {
    char *s;
    size_t len;
    const char *at; /* where it was written */
    int line;       /* its line (asked for in document order: see line_at) */
} keypart;

typedef struct key {
    keypart *parts;
    size_t n, cap;
} key;

/* 1-based line of position `at`.  Positions must be asked for in
 * increasing order (except when reporting an error), which keeps the work
 * linear in the document's size; going back rescans from the start. */
static int line_at(parser *ps, const char *at)
{
    if (at < ps->lpos) {
        ps->lpos = ps->start;
        ps->lno = 1;
    }
    while (ps->lpos < at) {
        const char *nl = memchr(ps->lpos, '\n', (size_t)(at - ps->lpos));
        if (nl == NULL) {
            ps->lpos = at;
            break;
        }
        ps->lno++;
        ps->lpos = nl + 1;
    }
    return ps->lno;
}

/* Fill the error with "line L, column C: message" for position `at` and
 * return `code`. */
static int fail_at(parser *ps, const char *at, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail_at(parser *ps, const char *at, int code, const char *fmt, ...)
{
    char msg[TH_ERROR_MSG_MAX];
    const char *q = at;
    int col = 1;
    va_list ap;

    if (at > ps->end)
        at = ps->end;
    q = at;
    while (q > ps->start && q[-1] != '\n')
        q--;
    for (; q < at; q++)
        col += ((unsigned char)*q & 0xC0) != 0x80;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return th_error_set(ps->err, code, "line %d, column %d: %s", line_at(ps, at), col, msg);
}

static int fail_nomem(parser *ps)
{
    return th_error_set(ps->err, TH_ENOMEM, "out of memory while parsing TOML");
}

/* Describe the character at `at` for messages. */
static const char *char_desc(parser *ps, const char *at, char *buf, size_t n)
{
    unsigned char c;
    if (at >= ps->end)
        return "end of input";
    c = (unsigned char)*at;
    if (c == '\n' || (c == '\r' && at + 1 < ps->end && at[1] == '\n'))
        return "end of line";
    if (c == '\r')
        return "a carriage return without line feed";
    if (c > 0x20 && c < 0x7f)
        snprintf(buf, n, "'%c'", c);
    else
        snprintf(buf, n, "byte 0x%02X", c);
    return buf;
}

static int fail_unexpected(parser *ps, const char *what)
{
    char b[16];
    return fail_at(ps, ps->p, TH_EINVAL, "expected %s, found %s", what,
                   char_desc(ps, ps->p, b, sizeof b));
}

/* Render key parts [0, upto) as a dotted key for messages. */
static const char *key_text(const key *k, size_t upto, char *out, size_t n)
{
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < upto && len + 1 < n; i++) {
        const keypart *kp = &k->parts[i];
        bool bare = kp->len > 0;
        for (size_t j = 0; j < kp->len; j++) {
            char c = kp->s[j];
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-'))
                bare = false;
        }
        len += (size_t)snprintf(out + len, n - len, bare ? "%s%.*s" : "%s\"%.*s\"",
                                i > 0 ? "." : "", (int)kp->len, kp->s);
    }
    if (len >= n && n > 4)
        memcpy(out + n - 4, "...", 4);
    return out;
}

/* "an inline table", "a table", "an array of tables", "an integer"... */
static const char *value_desc(const toml_value *v)
{
    switch (v->type) {
    case TOML_TABLE: return v->kind == KIND_INLINE ? "an inline table" : "a table";
    case TOML_ARRAY: return v->kind == KIND_AOT ? "an array of tables" : "an array";
    case TOML_INTEGER: return "an integer";
    case TOML_DATETIME: return "an offset date-time";
    case TOML_DATETIME_LOCAL: return "a local date-time";
    case TOML_DATE_LOCAL: return "a local date";
    case TOML_TIME_LOCAL: return "a local time";
    case TOML_STRING: return "a string";
    case TOML_FLOAT: return "a float";
    case TOML_BOOL: return "a boolean";
    }
    return "a value";
}

static void key_release(key *k)
{
    for (size_t i = 0; i < k->n; i++)
        free(k->parts[i].s);
    free(k->parts);
    k->parts = NULL;
    k->n = k->cap = 0;
}

/* ------------------------------------------------------------------------
 * Characters, whitespace, comments.
 */

static bool at_eof(const parser *ps)
{
    return ps->p >= ps->end;
}

static bool is_bare_key_char(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '_' || c == '-';
}

/* Control characters other than tab are not allowed in comments and
 * strings; neither is DEL. */
static bool is_control(unsigned char c)
{
    return (c < 0x20 && c != '\t') || c == 0x7f;
}

/* Returns the first byte that is not part of well-formed UTF-8 (RFC 3629:
 * no overlongs, surrogates or code points above U+10FFFF), or NULL. */
static const char *utf8_check(const char *text, size_t len)
{
    size_t ok = base_utf8_prefix((const uint8_t *)text, len);

    return ok == len ? NULL : text + ok;
}

static void skip_ws(parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t'))
        ps->p++;
}

/* At '#': skip the comment up to (not including) the end of line. */
static int skip_comment(parser *ps)
{
    for (ps->p++; ps->p < ps->end; ps->p++) {
        unsigned char c = (unsigned char)*ps->p;
        if (c == '\n')
            break;
        if (c == '\r') {
            if (ps->p + 1 < ps->end && ps->p[1] == '\n')
                break;
            return fail_at(ps, ps->p, TH_EINVAL, "carriage return without line feed in comment");
        }
        if (is_control(c))
            return fail_at(ps, ps->p, TH_EINVAL, "control character U+%04X in comment", c);
    }
    return 0;
}

/* Consume a newline (LF or CRLF) if one is next; returns true if so. */
static bool eat_newline(parser *ps)
{
    if (ps->p < ps->end && *ps->p == '\n') {
        ps->p++;
        return true;
    }
    if (ps->end - ps->p >= 2 && ps->p[0] == '\r' && ps->p[1] == '\n') {
        ps->p += 2;
        return true;
    }
    return false;
}

/* After an expression: optional whitespace and comment, then a newline or
 * the end of the document. */
static int expect_line_end(parser *ps)
{
    int rc;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == '#' && (rc = skip_comment(ps)) != 0)
        return rc;
    if (at_eof(ps) || eat_newline(ps))
        return 0;
    return fail_unexpected(ps, "end of line");
}

/* Inside arrays: whitespace, newlines and comments in any number. */
static int skip_ws_comments_newlines(parser *ps)
{
    int rc;
    for (;;) {
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == '#') {
            if ((rc = skip_comment(ps)) != 0)
                return rc;
        } else if (!eat_newline(ps)) {
            return 0;
        }
    }
}

/* ------------------------------------------------------------------------
 * Strings.
 */

static int utf8_encode(uint32_t cp, char out[4])
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* At a backslash in a basic string: decode one escape into `b`. */
static int parse_escape(parser *ps, sbuf *b)
{
    const char *at = ps->p;
    char c, utf[4], desc[16];
    int ndig = 0;
    uint32_t cp = 0;

    if (++ps->p >= ps->end)
        return fail_at(ps, at, TH_EINVAL, "unterminated escape sequence");
    c = *ps->p++;
    switch (c) {
    case 'b': return toml_buf_addc(b, '\b') ? fail_nomem(ps) : 0;
    case 't': return toml_buf_addc(b, '\t') ? fail_nomem(ps) : 0;
    case 'n': return toml_buf_addc(b, '\n') ? fail_nomem(ps) : 0;
    case 'f': return toml_buf_addc(b, '\f') ? fail_nomem(ps) : 0;
    case 'r': return toml_buf_addc(b, '\r') ? fail_nomem(ps) : 0;
    case '"': return toml_buf_addc(b, '"') ? fail_nomem(ps) : 0;
    case '\\': return toml_buf_addc(b, '\\') ? fail_nomem(ps) : 0;
    case 'u': ndig = 4; break;
    case 'U': ndig = 8; break;
    default:
        return fail_at(ps, at, TH_EINVAL, "invalid escape sequence '\\' followed by %s",
                       char_desc(ps, ps->p - 1, desc, sizeof desc));
    }
    for (int i = 0; i < ndig; i++) {
        int h = ps->p < ps->end ? base_hex_digit((unsigned char)*ps->p) : -1;
        if (h < 0)
            return fail_at(ps, at, TH_EINVAL, "\\%c escape needs %d hex digits", c, ndig);
        cp = cp << 4 | (uint32_t)h;
        ps->p++;
    }
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return fail_at(ps, at, TH_EINVAL, "\\%c%0*X is not a Unicode scalar value", c, ndig, cp);
    return toml_buf_add(b, utf, (size_t)utf8_encode(cp, utf)) ? fail_nomem(ps) : 0;
}

/* At "\" inside a multi-line basic string: if only whitespace follows up
 * to the end of the line, skip it and all whitespace and newlines after
 * it, and return 1; otherwise return 0 and consume nothing. */
static int line_ending_backslash(parser *ps)
{
    const char *q = ps->p + 1;
    while (q < ps->end && (*q == ' ' || *q == '\t'))
        q++;
    if (!(q < ps->end && (*q == '\n' || (*q == '\r' && q + 1 < ps->end && q[1] == '\n'))))
        return 0;
    ps->p = q;
    while (ps->p < ps->end) {
        if (*ps->p == ' ' || *ps->p == '\t')
            ps->p++;
        else if (!eat_newline(ps))
            break;
    }
    return 1;
}

/* Copy the run of plain characters at ps->p (up to the quote `q`, a
 * backslash, a control character or the end) into b: 0, or -1 out of
 * memory. */
static int string_run(parser *ps, char q, sbuf *b)
{
    const char *run = ps->p;

    while (ps->p < ps->end && *ps->p != q && *ps->p != '\\' && !is_control((unsigned char)*ps->p))
        ps->p++;
    return ps->p > run && toml_buf_add(b, run, (size_t)(ps->p - run)) != 0 ? -1 : 0;
}

/* The body of a single-line string (basic or literal), after the opening
 * quote `q`.  Stops after the closing quote. */
static int string_body(parser *ps, char q, const char *open, sbuf *b)
{
    int rc;
    for (;;) {
        unsigned char c;
        if (string_run(ps, q, b) != 0)
            return fail_nomem(ps);
        if (at_eof(ps))
            return fail_at(ps, open, TH_EINVAL, "unterminated string");
        c = (unsigned char)*ps->p;
        if (c == (unsigned char)q) {
            ps->p++;
            return 0;
        }
        if (c == '\\' && q == '"') {
            if ((rc = parse_escape(ps, b)) != 0)
                return rc;
        } else if (c == '\\') {
            if (toml_buf_addc(b, '\\') != 0)
                return fail_nomem(ps);
            ps->p++;
        } else if (c == '\n' || c == '\r') {
            return fail_at(ps, open, TH_EINVAL,
                           "unterminated string (newline before the closing quote)");
        } else {
            return fail_at(ps, ps->p, TH_EINVAL, "control character U+%04X in string", c);
        }
    }
}

/* The body of a multi-line string, after the three opening quotes. */
static int ml_string_body(parser *ps, char q, const char *open, sbuf *b)
{
    int rc;
    eat_newline(ps); /* a newline right after the delimiter is trimmed */
    for (;;) {
        unsigned char c;
        if (string_run(ps, q, b) != 0)
            return fail_nomem(ps);
        if (at_eof(ps))
            return fail_at(ps, open, TH_EINVAL, "unterminated multi-line string");
        c = (unsigned char)*ps->p;
        if (c == (unsigned char)q) {
            size_t n = 0;
            while (ps->p + n < ps->end && ps->p[n] == q)
                n++;
            if (n > 5)
                return fail_at(ps, ps->p, TH_EINVAL,
                               "too many quotes at the end of a multi-line string");
            if (toml_buf_add(b, ps->p, n >= 3 ? n - 3 : n) != 0)
                return fail_nomem(ps);
            ps->p += n;
            if (n >= 3)
                return 0;
        } else if (c == '\\' && q == '"') {
            if (!line_ending_backslash(ps) && (rc = parse_escape(ps, b)) != 0)
                return rc;
        } else if (c == '\\') {
            if (toml_buf_addc(b, '\\') != 0)
                return fail_nomem(ps);
            ps->p++;
        } else if (c == '\n' || c == '\r') {
            if (!eat_newline(ps))
                return fail_at(ps, ps->p, TH_EINVAL, "carriage return without line feed in string");
            if (toml_buf_addc(b, '\n') != 0)
                return fail_nomem(ps);
        } else {
            return fail_at(ps, ps->p, TH_EINVAL, "control character U+%04X in string", c);
        }
    }
}

/* At an opening quote (" or ').  Parses a basic, literal or (if
 * `multiline_ok`) multi-line string; *out receives a malloc'd NUL-terminated
 * copy owned by the caller. */
static int parse_string(parser *ps, bool multiline_ok, char **out, size_t *out_len)
{
    const char *open = ps->p;
    char q = *open;
    sbuf b = {0};
    int rc;

    if (ps->end - ps->p >= 3 && ps->p[1] == q && ps->p[2] == q) {
        if (!multiline_ok) {
            rc = fail_at(ps, open, TH_EINVAL, "multi-line strings cannot be keys");
            goto fail;
        }
        ps->p += 3;
        rc = ml_string_body(ps, q, open, &b);
    } else {
        ps->p++;
        rc = string_body(ps, q, open, &b);
    }
    if (rc != 0)
        goto fail;
    if ((*out = toml_buf_detach(&b, out_len)) == NULL) {
        rc = fail_nomem(ps);
        goto fail;
    }
    return 0;
fail:
    free(b.ptr);
    return rc;
}

/* ------------------------------------------------------------------------
 * Keys.
 */

static int key_push(parser *ps, key *k, char *s, size_t len, const char *at)
{
    if (k->n >= TH_TOML_MAX_DEPTH) {
        free(s);
        return fail_at(ps, at, TH_ETOOBIG, "dotted key has more than %u parts", TH_TOML_MAX_DEPTH);
    }
    if (k->n == k->cap) {
        size_t cap = k->cap ? k->cap * 2 : 4;
        keypart *parts = realloc(k->parts, cap * sizeof *parts);
        if (parts == NULL) {
            free(s);
            return fail_nomem(ps);
        }
        k->parts = parts;
        k->cap = cap;
    }
    k->parts[k->n++] = (keypart){s, len, at, line_at(ps, at)};
    return 0;
}

/* A key: simple keys (bare, "basic" or 'literal') joined by dots with
 * optional whitespace around them.  Leaves the position after the last
 * part (not after trailing whitespace). */
static int parse_key(parser *ps, key *k)
{
    int rc;
    for (;;) {
        const char *at = ps->p;
        char *s;
        size_t len;
        if (ps->p < ps->end && (*ps->p == '"' || *ps->p == '\'')) {
            if ((rc = parse_string(ps, false, &s, &len)) != 0)
                return rc;
        } else {
            while (ps->p < ps->end && is_bare_key_char((unsigned char)*ps->p))
                ps->p++;
            if (ps->p == at)
                return fail_unexpected(ps, "a key");
            len = (size_t)(ps->p - at);
            if ((s = malloc(len + 1)) == NULL)
                return fail_nomem(ps);
            memcpy(s, at, len);
            s[len] = '\0';
        }
        if ((rc = key_push(ps, k, s, len, at)) != 0)
            return rc;
        {
            const char *save = ps->p;
            skip_ws(ps);
            if (ps->p < ps->end && *ps->p == '.') {
                ps->p++;
                skip_ws(ps);
                continue;
            }
            ps->p = save;
        }
        return 0;
    }
}

/* ------------------------------------------------------------------------
 * Numbers and booleans.
 */

/* Digits of `base` with single underscores between them, starting at s.
 * Returns the end of the run, or NULL if an underscore is misplaced or
 * there is no digit. */
static const char *scan_digits(const char *s, const char *e, int base)
{
    bool need_digit = true;
    for (; s < e; s++) {
        int d = base_hex_digit((unsigned char)*s);
        if (*s == '_') {
            if (need_digit)
                return NULL;
            need_digit = true;
        } else if (d >= 0 && d < base && (base == 16 || is_digit((unsigned char)*s))) {
            need_digit = false;
        } else {
            break;
        }
    }
    return need_digit ? NULL : s;
}

/* Integer text [s, e) of `base` (underscores allowed between digits) to a
 * value no larger than `limit`.  Returns false on overflow. */
static bool digits_value(const char *s, const char *e, int base, uint64_t limit, uint64_t *out)
{
    uint64_t v = 0;
    for (; s < e; s++) {
        uint64_t d;
        if (*s == '_')
            continue;
        d = (uint64_t)base_hex_digit((unsigned char)*s);
        if (v > (limit - d) / (uint64_t)base)
            return false;
        v = v * (uint64_t)base + d;
    }
    *out = v;
    return true;
}

static int parse_float_text(parser *ps, const char *tok, const char *e, toml_value *v)
{
    char *clean = malloc((size_t)(e - tok) + 1), *c = clean, *endp;
    double d;
    if (clean == NULL)
        return fail_nomem(ps);
    for (const char *s = tok; s < e; s++)
        if (*s != '_')
            *c++ = *s;
    *c = '\0';
    errno = 0;
    d = toml_c_locale != (locale_t)0 ? strtod_l(clean, &endp, toml_c_locale) : strtod(clean, &endp);
    free(clean);
    if (errno == ERANGE && isinf(d))
        return fail_at(ps, tok, TH_EINVAL, "float out of range");
    v->type = TOML_FLOAT;
    v->u.f = d;
    return 0;
}

/* Decimal float: [+-] int-part ( frac [exp] | exp ), checked strictly. */
static int parse_float(parser *ps, const char *tok, const char *e, toml_value *v)
{
    const char *s = tok;
    if (*s == '+' || *s == '-')
        s++;
    if (s < e && *s == '0' && s + 1 < e && (is_digit((unsigned char)s[1]) || s[1] == '_'))
        return fail_at(ps, tok, TH_EINVAL, "leading zeros are not allowed in a float");
    if ((s = scan_digits(s, e, 10)) == NULL)
        return fail_at(ps, tok, TH_EINVAL,
                       "invalid float: digits expected around '.', '_' and 'e'");
    if (s < e && *s == '.' && (s = scan_digits(s + 1, e, 10)) == NULL)
        return fail_at(ps, tok, TH_EINVAL, "invalid float: digits expected after '.'");
    if (s < e && (*s == 'e' || *s == 'E')) {
        s++;
        if (s < e && (*s == '+' || *s == '-'))
            s++;
        if ((s = scan_digits(s, e, 10)) == NULL)
            return fail_at(ps, tok, TH_EINVAL, "invalid float: digits expected in the exponent");
    }
    if (s != e)
        return fail_at(ps, tok, TH_EINVAL, "invalid float '%.*s'", (int)(e - tok), tok);
    return parse_float_text(ps, tok, e, v);
}

static int parse_integer(parser *ps, const char *tok, const char *e, toml_value *v)
{
    const char *s = tok;
    bool neg = false;
    uint64_t mag;
    int base = 10;

    if (e - s >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'o' || s[1] == 'b')) {
        base = s[1] == 'x' ? 16 : s[1] == 'o' ? 8 : 2;
        s += 2;
    } else {
        if (*s == '+' || *s == '-')
            neg = *s++ == '-';
        if (s < e && *s == '0' && s + 1 < e)
            return fail_at(ps, tok, TH_EINVAL, "leading zeros are not allowed in an integer");
    }
    if (scan_digits(s, e, base) != e)
        return fail_at(ps, tok, TH_EINVAL, "invalid %s integer '%.*s'",
                       base == 16  ? "hexadecimal"
                       : base == 8 ? "octal"
                       : base == 2 ? "binary"
                                   : "decimal",
                       (int)(e - tok), tok);
    if (!digits_value(s, e, base, neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX, &mag))
        return fail_at(ps, tok, TH_EINVAL, "integer '%.*s' does not fit in 64 bits", (int)(e - tok),
                       tok);
    v->type = TOML_INTEGER;
    if (!neg)
        v->u.i = (int64_t)mag;
    else
        v->u.i = mag > (uint64_t)INT64_MAX ? INT64_MIN : -(int64_t)mag;
    return 0;
}

/* A bare token: boolean, integer or float (dates are handled before). */
static int parse_scalar_token(parser *ps, toml_value *v)
{
    const char *tok = ps->p, *e, *s;
    size_t n;
    char b[16];

    while (ps->p < ps->end &&
           (is_bare_key_char((unsigned char)*ps->p) || *ps->p == '+' || *ps->p == '.'))
        ps->p++;
    e = ps->p;
    n = (size_t)(e - tok);
    if (n == 0)
        return fail_at(ps, tok, TH_EINVAL, "expected a value, found %s",
                       char_desc(ps, tok, b, sizeof b));
    if ((n == 4 && memcmp(tok, "true", 4) == 0) || (n == 5 && memcmp(tok, "false", 5) == 0)) {
        v->type = TOML_BOOL;
        v->u.b = n == 4;
        return 0;
    }
    s = (*tok == '+' || *tok == '-') ? tok + 1 : tok;
    if (e - s == 3 && (memcmp(s, "inf", 3) == 0 || memcmp(s, "nan", 3) == 0)) {
        v->type = TOML_FLOAT;
        v->u.f = s[0] == 'i' ? INFINITY : NAN;
        if (*tok == '-')
            v->u.f = -v->u.f;
        return 0;
    }
    if (s == e || !is_digit((unsigned char)*s))
        return fail_at(ps, tok, TH_EINVAL, "invalid value '%.*s' (strings need quotes)", (int)n,
                       tok);
    if (!(e - s >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'o' || s[1] == 'b')) &&
        memchr(s, '.', (size_t)(e - s)) == NULL && memchr(s, 'e', (size_t)(e - s)) == NULL &&
        memchr(s, 'E', (size_t)(e - s)) == NULL)
        return parse_integer(ps, tok, e, v);
    if (s != tok && s[0] == '0' && e - s >= 2 && (s[1] == 'x' || s[1] == 'o' || s[1] == 'b'))
        return fail_at(ps, tok, TH_EINVAL,
                       "a sign is not allowed on a hex, octal or binary integer");
    if (e - s >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'o' || s[1] == 'b'))
        return parse_integer(ps, tok, e, v);
    return parse_float(ps, tok, e, v);
}

/* ------------------------------------------------------------------------
 * Dates and times (RFC 3339 as profiled by TOML 1.0.0).
 */

/* Exactly `n` digits at the current position into *out. */
static bool read_digits(parser *ps, int n, int *out)
{
    int v = 0;
    if (ps->end - ps->p < n)
        return false;
    for (int i = 0; i < n; i++) {
        if (!is_digit((unsigned char)ps->p[i]))
            return false;
        v = v * 10 + (ps->p[i] - '0');
    }
    ps->p += n;
    *out = v;
    return true;
}

static bool read_char(parser *ps, char c)
{
    if (ps->p < ps->end && *ps->p == c) {
        ps->p++;
        return true;
    }
    return false;
}

static int days_in_month(int year, int month)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return month == 2 && leap ? 29 : days[month - 1];
}

/* HH:MM:SS[.fraction] */
static int parse_time(parser *ps, const char *tok, toml_datetime *dt)
{
    if (!read_digits(ps, 2, &dt->hour) || !read_char(ps, ':') || !read_digits(ps, 2, &dt->minute))
        return fail_at(ps, tok, TH_EINVAL, "invalid time: expected HH:MM:SS");
    if (!read_char(ps, ':') || !read_digits(ps, 2, &dt->second))
        return fail_at(ps, tok, TH_EINVAL, "invalid time: seconds are required (HH:MM:SS)");
    if (dt->hour > 23 || dt->minute > 59 || dt->second > 60)
        return fail_at(ps, tok, TH_EINVAL, "invalid time %02d:%02d:%02d", dt->hour, dt->minute,
                       dt->second);
    if (read_char(ps, '.')) {
        int n = 0;
        if (at_eof(ps) || !is_digit((unsigned char)*ps->p))
            return fail_at(ps, tok, TH_EINVAL, "invalid time: digits expected after '.'");
        for (; ps->p < ps->end && is_digit((unsigned char)*ps->p); ps->p++, n++)
            if (n < 9)
                dt->nanosecond = dt->nanosecond * 10 + (*ps->p - '0');
        dt->frac_digits = n < 9 ? n : 9;
        for (; n < 9; n++)
            dt->nanosecond *= 10;
    }
    return 0;
}

/* Z, z or +HH:MM / -HH:MM. Returns 1 if an offset was read. */
static int parse_offset(parser *ps, const char *tok, toml_datetime *dt)
{
    int h, m;
    char sign;
    if (read_char(ps, 'Z') || read_char(ps, 'z'))
        return 1;
    if (at_eof(ps) || (*ps->p != '+' && *ps->p != '-'))
        return 0;
    sign = *ps->p++;
    if (!read_digits(ps, 2, &h) || !read_char(ps, ':') || !read_digits(ps, 2, &m))
        return fail_at(ps, tok, TH_EINVAL, "invalid time offset: expected %cHH:MM", sign);
    if (h > 23 || m > 59)
        return fail_at(ps, tok, TH_EINVAL, "invalid time offset %c%02d:%02d", sign, h, m);
    dt->offset_minutes = (sign == '-' ? -1 : 1) * (h * 60 + m);
    return 1;
}

/* At a value starting with YYYY- or HH:. */
static int parse_datetime(parser *ps, toml_value *v)
{
    const char *tok = ps->p;
    toml_datetime *dt = &v->u.dt;
    int rc;

    memset(dt, 0, sizeof *dt);
    if (ps->p + 2 < ps->end && ps->p[2] == ':') {
        v->type = TOML_TIME_LOCAL;
        return parse_time(ps, tok, dt);
    }
    if (!read_digits(ps, 4, &dt->year) || !read_char(ps, '-') || !read_digits(ps, 2, &dt->month) ||
        !read_char(ps, '-') || !read_digits(ps, 2, &dt->day))
        return fail_at(ps, tok, TH_EINVAL, "invalid date: expected YYYY-MM-DD");
    if (dt->month < 1 || dt->month > 12 || dt->day < 1 ||
        dt->day > days_in_month(dt->year, dt->month))
        return fail_at(ps, tok, TH_EINVAL, "invalid date %04d-%02d-%02d", dt->year, dt->month,
                       dt->day);
    v->type = TOML_DATE_LOCAL;
    /* The delimiter: T, t, or a space when a time follows it. */
    if (ps->p < ps->end && (*ps->p == 'T' || *ps->p == 't'))
        ps->p++;
    else if (ps->end - ps->p >= 4 && *ps->p == ' ' && is_digit((unsigned char)ps->p[1]) &&
             is_digit((unsigned char)ps->p[2]) && ps->p[3] == ':')
        ps->p++;
    else
        return 0;
    if ((rc = parse_time(ps, tok, dt)) != 0)
        return rc;
    if ((rc = parse_offset(ps, tok, dt)) < 0)
        return rc;
    v->type = rc == 1 ? TOML_DATETIME : TOML_DATETIME_LOCAL;
    return 0;
}

static bool looks_like_datetime(const parser *ps)
{
    const char *p = ps->p;
    size_t left = (size_t)(ps->end - p);
    if (left >= 5 && is_digit((unsigned char)p[0]) && is_digit((unsigned char)p[1]) &&
        is_digit((unsigned char)p[2]) && is_digit((unsigned char)p[3]) && p[4] == '-')
        return true;
    return left >= 3 && is_digit((unsigned char)p[0]) && is_digit((unsigned char)p[1]) &&
           p[2] == ':';
}

/* ------------------------------------------------------------------------
 * Values, arrays, inline tables.
 */

static int parse_value(parser *ps, uint32_t depth, toml_value **out);
static int parse_keyval(parser *ps, toml_value *base);

static int parse_array(parser *ps, toml_value *arr)
{
    const char *open = ps->p;
    int rc;
    arr->kind = KIND_STATIC;
    ps->p++;
    for (;;) {
        toml_value *item;
        if ((rc = skip_ws_comments_newlines(ps)) != 0)
            return rc;
        if (read_char(ps, ']'))
            return 0;
        if (at_eof(ps))
            return fail_at(ps, open, TH_EINVAL, "unterminated array");
        if ((rc = parse_value(ps, arr->depth + 1, &item)) != 0)
            return rc;
        if (toml_array_push(arr, item) != 0) {
            toml_free(item);
            return fail_nomem(ps);
        }
        if ((rc = skip_ws_comments_newlines(ps)) != 0)
            return rc;
        if (read_char(ps, ']'))
            return 0;
        if (!read_char(ps, ','))
            return at_eof(ps) ? fail_at(ps, open, TH_EINVAL, "unterminated array")
                              : fail_unexpected(ps, "',' or ']' in array");
    }
}

static int parse_inline_table(parser *ps, toml_value *tab)
{
    uint32_t saved = ps->section;
    int rc = 0;

    tab->kind = KIND_INLINE;
    ps->p++;
    ps->section = ++ps->sections;
    skip_ws(ps);
    if (read_char(ps, '}'))
        goto done;
    for (;;) {
        if ((rc = parse_keyval(ps, tab)) != 0)
            goto done;
        skip_ws(ps);
        if (read_char(ps, '}'))
            goto done;
        if (!read_char(ps, ',')) {
            rc = ps->p < ps->end && (*ps->p == '\n' || *ps->p == '\r')
                     ? fail_at(ps, ps->p, TH_EINVAL, "inline tables must be on one line")
                     : fail_unexpected(ps, "',' or '}' in inline table");
            goto done;
        }
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == '}') {
            rc = fail_at(ps, ps->p, TH_EINVAL, "trailing comma in inline table");
            goto done;
        }
    }
done:
    ps->section = saved;
    return rc;
}

/* Parse one value; *out receives a new node owned by the caller.  `depth`
 * is the depth the node will have in the tree. */
static int parse_value(parser *ps, uint32_t depth, toml_value **out)
{
    toml_value *v;
    int rc;
    char b[16];

    *out = NULL;
    if (depth > TH_TOML_MAX_DEPTH)
        return fail_at(ps, ps->p, TH_ETOOBIG, "nesting deeper than %u levels", TH_TOML_MAX_DEPTH);
    if (at_eof(ps) || *ps->p == '\n' || *ps->p == '\r' || *ps->p == '#')
        return fail_at(ps, ps->p, TH_EINVAL, "expected a value, found %s",
                       !at_eof(ps) && *ps->p == '#' ? "a comment"
                                                    : char_desc(ps, ps->p, b, sizeof b));
    if ((v = toml_node_new(TOML_STRING, line_at(ps, ps->p), depth)) == NULL)
        return fail_nomem(ps);
    switch (*ps->p) {
    case '"':
    case '\'': rc = parse_string(ps, true, &v->u.s.ptr, &v->u.s.len); break;
    case '[':
        v->type = TOML_ARRAY;
        rc = parse_array(ps, v);
        break;
    case '{':
        v->type = TOML_TABLE;
        rc = parse_inline_table(ps, v);
        break;
    default:
        v->type = TOML_BOOL; /* nothing to free if parsing fails */
        rc = looks_like_datetime(ps) ? parse_datetime(ps, v) : parse_scalar_token(ps, v);
        break;
    }
    if (rc != 0) {
        toml_free(v);
        return rc;
    }
    *out = v;
    return 0;
}

/* Store `val` under the dotted key `k` relative to table `base`, creating
 * the intermediate tables (KIND_DOTTED).  Takes ownership of `val` and of
 * the key strings it stores (their pointers in `k` are cleared). */
static int assign_dotted(parser *ps, toml_value *base, key *k, toml_value *val)
{
    toml_value *t = base;
    char kt[128];
    int rc;

    for (size_t i = 0; i + 1 < k->n; i++) {
        keypart *kp = &k->parts[i];
        toml_keyval *kv = toml_tab_find(t, kp->s, kp->len);
        toml_value *sub;
        if (kv == NULL) {
            if ((sub = toml_node_new(TOML_TABLE, kp->line, t->depth + 1)) == NULL) {
                rc = fail_nomem(ps);
                goto fail;
            }
            sub->kind = KIND_DOTTED;
            sub->section = ps->section;
            if (toml_tab_add(t, kp->s, kp->len, sub->line, sub) != 0) {
                toml_free(sub);
                rc = fail_nomem(ps);
                goto fail;
            }
            kp->s = NULL;
            t = sub;
            continue;
        }
        sub = kv->value;
        if (sub->type != TOML_TABLE) {
            rc = fail_at(ps, kp->at, TH_EINVAL, "'%s' is already defined as %s (line %d)",
                         key_text(k, i + 1, kt, sizeof kt), value_desc(sub), sub->line);
            goto fail;
        }
        if (!(sub->kind == KIND_IMPLICIT ||
              (sub->kind == KIND_DOTTED && sub->section == ps->section))) {
            rc = fail_at(ps, kp->at, TH_EINVAL,
                         "cannot add keys to table '%s' defined at line %d with dotted keys here",
                         key_text(k, i + 1, kt, sizeof kt), sub->line);
            goto fail;
        }
        sub->kind = KIND_DOTTED;
        sub->section = ps->section;
        t = sub;
    }
    {
        keypart *kp = &k->parts[k->n - 1];
        toml_keyval *kv = toml_tab_find(t, kp->s, kp->len);
        if (kv != NULL) {
            rc = fail_at(ps, kp->at, TH_EINVAL, "duplicate key '%s' (first defined at line %d)",
                         key_text(k, k->n, kt, sizeof kt), kv->line);
            goto fail;
        }
        if (toml_tab_add(t, kp->s, kp->len, kp->line, val) != 0) {
            rc = fail_nomem(ps);
            goto fail;
        }
        kp->s = NULL;
    }
    return 0;
fail:
    toml_free(val);
    return rc;
}

/* key = value, stored relative to `base` (the current table, or the inline
 * table being parsed). */
static int parse_keyval(parser *ps, toml_value *base)
{
    key k = {0};
    toml_value *val = NULL;
    int rc;

    if ((rc = parse_key(ps, &k)) != 0)
        goto done;
    skip_ws(ps);
    if (!read_char(ps, '=')) {
        rc = fail_unexpected(ps, "'=' after a key");
        goto done;
    }
    skip_ws(ps);
    if ((rc = parse_value(ps, base->depth + (uint32_t)k.n, &val)) != 0)
        goto done;
    rc = assign_dotted(ps, base, &k, val);
done:
    key_release(&k);
    return rc;
}

/* ------------------------------------------------------------------------
 * Table headers.
 */

/* Walk the header key `k` from the root, creating implicit tables, and
 * make the last part the current table ([k]) or a new element of the array
 * of tables ([[k]]). */
static int open_header(parser *ps, key *k, bool aot, int line)
{
    toml_value *t = ps->root, *tab;
    char kt[128];

    for (size_t i = 0; i < k->n; i++) {
        keypart *kp = &k->parts[i];
        toml_keyval *kv = toml_tab_find(t, kp->s, kp->len);
        bool last = i + 1 == k->n;
        toml_value *v = kv != NULL ? kv->value : NULL;

        if (v == NULL) {
            toml_value *nv =
                toml_node_new(last && aot ? TOML_ARRAY : TOML_TABLE, line, t->depth + 1);
            if (nv == NULL)
                return fail_nomem(ps);
            nv->kind = last ? (aot ? KIND_AOT : KIND_HEADER) : KIND_IMPLICIT;
            if (nv->depth + (aot && last) > TH_TOML_MAX_DEPTH) {
                toml_free(nv);
                return fail_at(ps, kp->at, TH_ETOOBIG, "nesting deeper than %u levels",
                               TH_TOML_MAX_DEPTH);
            }
            if (toml_tab_add(t, kp->s, kp->len, line, nv) != 0) {
                toml_free(nv);
                return fail_nomem(ps);
            }
            kp->s = NULL;
            v = nv;
            if (!(last && aot)) {
                t = v;
                continue;
            }
        } else if (last && !aot) {
            if (v->type != TOML_TABLE || v->kind != KIND_IMPLICIT)
                return fail_at(ps, kp->at, TH_EINVAL, "'%s' is already defined as %s (line %d)",
                               key_text(k, i + 1, kt, sizeof kt), value_desc(v), v->line);
            v->kind = KIND_HEADER;
            v->line = line;
            t = v;
            continue;
        } else if (last) {
            if (v->type != TOML_ARRAY || v->kind != KIND_AOT)
                return fail_at(ps, kp->at, TH_EINVAL,
                               "'%s' is already defined as %s (line %d), not an array of tables",
                               key_text(k, i + 1, kt, sizeof kt), value_desc(v), v->line);
        } else if (v->type == TOML_TABLE && v->kind != KIND_INLINE) {
            t = v;
            continue;
        } else if (v->type == TOML_ARRAY && v->kind == KIND_AOT) {
            t = v->u.a.items[v->u.a.len - 1];
            continue;
        } else {
            return fail_at(ps, kp->at, TH_EINVAL, "'%s' is already defined as %s (line %d)",
                           key_text(k, i + 1, kt, sizeof kt), value_desc(v), v->line);
        }
        /* [[k]]: append a new table to the array of tables v. */
        if ((tab = toml_node_new(TOML_TABLE, line, v->depth + 1)) == NULL)
            return fail_nomem(ps);
        tab->kind = KIND_HEADER;
        if (toml_array_push(v, tab) != 0) {
            toml_free(tab);
            return fail_nomem(ps);
        }
        t = tab;
    }
    ps->cur = t;
    ps->section = ++ps->sections;
    return 0;
}

/* At '[': a [table] or [[array of tables]] header. */
static int parse_header(parser *ps)
{
    int line = line_at(ps, ps->p);
    bool aot;
    key k = {0};
    int rc;

    ps->p++;
    aot = read_char(ps, '[');
    skip_ws(ps);
    if ((rc = parse_key(ps, &k)) != 0)
        goto done;
    skip_ws(ps);
    if (!read_char(ps, ']') || (aot && !read_char(ps, ']'))) {
        rc = fail_unexpected(ps, aot ? "']]' closing the header" : "']' closing the header");
        goto done;
    }
    rc = open_header(ps, &k, aot, line);
done:
    key_release(&k);
    return rc;
}

/* ------------------------------------------------------------------------
 * Documents.
 */

static int parse_document(parser *ps)
{
    int rc;
    if (ps->end - ps->p >= 3 && memcmp(ps->p, "\xEF\xBB\xBF", 3) == 0)
        ps->p += 3;
    while (!at_eof(ps)) {
        skip_ws(ps);
        if (at_eof(ps))
            break;
        if (eat_newline(ps))
            continue;
        if (*ps->p == '#')
            rc = skip_comment(ps);
        else if (*ps->p == '[')
            rc = parse_header(ps);
        else
            rc = parse_keyval(ps, ps->cur);
        if (rc != 0 || (rc = expect_line_end(ps)) != 0)
            return rc;
    }
    return 0;
}

int toml_parse(const char *text, size_t len, toml_value **out, th_error *err)
{
    parser ps = {0};
    const char *bad;
    int rc;

    *out = NULL;
    toml_init();
    if (text == NULL && len > 0)
        return th_error_set(err, TH_EINVAL, "no TOML text");
    if (len > TH_TOML_MAX_INPUT_BYTES)
        return th_error_set(err, TH_ETOOBIG, "TOML document of %zu bytes exceeds the limit of %u",
                            len, TH_TOML_MAX_INPUT_BYTES);
    ps.start = ps.p = ps.lpos = text != NULL ? text : "";
    ps.end = ps.start + len;
    ps.lno = 1;
    ps.err = err;
    if ((bad = utf8_check(ps.start, len)) != NULL)
        return fail_at(&ps, bad, TH_EINVAL, "invalid UTF-8 (byte 0x%02X)", (unsigned char)*bad);
    if ((ps.root = toml_node_new(TOML_TABLE, 1, 0)) == NULL)
        return fail_nomem(&ps);
    ps.root->kind = KIND_HEADER;
    ps.cur = ps.root;
    if ((rc = parse_document(&ps)) != 0) {
        toml_free(ps.root);
        return rc;
    }
    *out = ps.root;
    return 0;
}
