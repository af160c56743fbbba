/*
 * manifest.c - actor manifests: read, substitute ${VAR}, check, resolve
 * paths (see manifest.h; the format is documented in docs/manifest.md).
 *
 * Order of work: parse the TOML (src/base/toml.c) -> substitute ${VAR} in
 * every string value of the document -> check the top-level fields, then
 * [limits], [supervision] and each [[handler]] (its type, then its
 * settings, read by the handler itself: rt_iface.settings_read, with the
 * readers below).  Every check that fails
 * names the field (as a path such as `handler[2].path`) and, when the field
 * exists, its line: "<source>: line N: field 'x' must be ...".
 */
#define _GNU_SOURCE /* realpath */
#include "runtime/manifest.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "base/file.h"
#include "base/json.h"
#include "base/limits.h"
#include "runtime/rt_host.h"

static const char *const top_fields[] = {
    "name",    "version", "description", "component",   "init_state", "save_chain",
    "durable", "restart", "limits",      "supervision", "handler",    NULL,
};
static const char *const limits_fields[] = {
    "fuel_per_call",    "memory_bytes",  "call_timeout_ms", "max_children", "max_descendants",
    "mailbox_messages", "mailbox_bytes", "store_bytes",     "stack_bytes",  NULL};
static const char *const supervision_fields[] = {"strategy", "max_restarts", "within_seconds",
                                                 NULL};

/* Work in progress: where messages go, how ${VAR} is looked up, which
 * handlers there are.  Handlers reading their settings see it as an
 * rt_manifest_reader. */
struct rt_manifest_reader {
    rt_manifest *m;
    th_error *err;
    rt_manifest_getenv_fn getenv_fn;
    void *getenv_ctx;
    const th_handler_set *handlers;
};
typedef struct rt_manifest_reader mctx;

static const char *default_getenv(void *ctx, const char *name)
{
    (void)ctx;
    return getenv(name);
}

/* "<source>: line N: message" (or without the line when `line` is 0). */
static int fail(mctx *c, int line, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(mctx *c, int line, int code, const char *fmt, ...)
{
    char msg[TH_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (line > 0)
        return th_error_set(c->err, code, "%s: line %d: %s", c->m->source, line, msg);
    return th_error_set(c->err, code, "%s: %s", c->m->source, msg);
}

static int fail_nomem(mctx *c)
{
    return th_error_set(c->err, TH_ENOMEM, "%s: out of memory", c->m->source);
}

int rt_manifest_fail(rt_manifest_reader *r, int line, int code, const char *fmt, ...)
{
    char msg[TH_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return fail(r, line, code, "%s", msg);
}

int rt_manifest_nomem(rt_manifest_reader *r)
{
    return fail_nomem(r);
}

/* "a string", "an integer"... for type errors. */
static const char *a_type(toml_type t)
{
    switch (t) {
    case TOML_ARRAY:
    case TOML_INTEGER:
    case TOML_DATETIME:
        return t == TOML_ARRAY     ? "an array"
               : t == TOML_INTEGER ? "an integer"
                                   : "an offset date-time";
    case TOML_TABLE: return "a table";
    case TOML_STRING: return "a string";
    case TOML_FLOAT: return "a float";
    case TOML_BOOL: return "a boolean";
    case TOML_DATETIME_LOCAL: return "a local date-time";
    case TOML_DATE_LOCAL: return "a local date";
    case TOML_TIME_LOCAL: return "a local time";
    }
    return "a value";
}

/* ------------------------------------------------------------------------
 * ${VAR} substitution.
 */

static bool is_name_start(char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || ch == '_';
}

static bool is_name_char(char ch)
{
    return is_name_start(ch) || (ch >= '0' && ch <= '9');
}

/* Append to a malloc'd growing string. */
static int append(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t ncap = *cap ? *cap : 64;
        char *p;
        while (ncap < *len + n + 1)
            ncap *= 2;
        if ((p = realloc(*buf, ncap)) == NULL)
            return TH_ENOMEM;
        *buf = p;
        *cap = ncap;
    }
    memcpy(*buf + *len, s, n);
    *len += n;
    (*buf)[*len] = '\0';
    return 0;
}

/* Replace ${NAME} in string node `v` (field `path`); "$${" is a literal
 * "${". */
static int subst_string(mctx *c, toml_value *v, const char *path)
{
    const char *s = v->u.s.ptr;
    size_t n = v->u.s.len, len = 0, cap = 0;
    char *out = NULL;
    int rc = 0;

    if (memchr(s, '$', n) == NULL)
        return 0;
    for (size_t i = 0; i < n && rc == 0;) {
        if (s[i] == '$' && i + 2 < n && s[i + 1] == '$' && s[i + 2] == '{') {
            rc = append(&out, &len, &cap, "${", 2) ? fail_nomem(c) : 0;
            i += 3;
        } else if (s[i] == '$' && i + 1 < n && s[i + 1] == '{') {
            size_t j = i + 2;
            char name[256];
            const char *val;
            while (j < n && is_name_char(s[j]))
                j++;
            if (j == i + 2 || !is_name_start(s[i + 2]) || j >= n || s[j] != '}' ||
                j - i - 2 >= sizeof name) {
                rc = fail(c, v->line, TH_EINVAL,
                          "field '%s': malformed variable reference (write ${NAME}, or $${ for a "
                          "literal ${)",
                          path);
                break;
            }
            memcpy(name, s + i + 2, j - i - 2);
            name[j - i - 2] = '\0';
            if ((val = c->getenv_fn(c->getenv_ctx, name)) == NULL) {
                rc = fail(c, v->line, TH_EINVAL,
                          "environment variable '%s' is not defined (used in field '%s')", name,
                          path);
                break;
            }
            if (len + strlen(val) > TH_MANIFEST_MAX_BYTES) {
                rc =
                    fail(c, v->line, TH_ETOOBIG, "field '%s' is too long after substitution", path);
                break;
            }
            rc = append(&out, &len, &cap, val, strlen(val)) ? fail_nomem(c) : 0;
            i = j + 1;
        } else {
            rc = append(&out, &len, &cap, s + i, 1) ? fail_nomem(c) : 0;
            i++;
        }
    }
    if (rc == 0 && toml_string_set(v, out != NULL ? out : "", len) != 0)
        rc = fail_nomem(c);
    free(out);
    return rc;
}

/* Substitute in every string below `v`; `path` names `v`. */
static int subst_tree(mctx *c, toml_value *v, const char *path)
{
    char sub[256];
    int rc;
    if (v->type == TOML_STRING)
        return subst_string(c, v, path);
    if (v->type == TOML_ARRAY) {
        for (size_t i = 0; i < v->u.a.len; i++) {
            snprintf(sub, sizeof sub, "%s[%zu]", path, i);
            if ((rc = subst_tree(c, v->u.a.items[i], sub)) != 0)
                return rc;
        }
    } else if (v->type == TOML_TABLE) {
        for (size_t i = 0; i < v->u.t.len; i++) {
            snprintf(sub, sizeof sub, "%s%s%s", path, path[0] ? "." : "", v->u.t.items[i].key);
            if ((rc = subst_tree(c, v->u.t.items[i].value, sub)) != 0)
                return rc;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * Field access with checks.
 */

/* Every key of table `t` must be `also` (unless NULL) or in `allowed`
 * (NULL: nothing more); `prefix` is the table's path ("" for the top
 * level). */
static int check_fields(mctx *c, const toml_value *t, const char *prefix,
                        const char *const *allowed, const char *also)
{
    for (size_t i = 0; i < toml_table_len(t); i++) {
        const toml_keyval *kv = toml_table_entry(t, i);
        bool known =
            also != NULL && strlen(also) == kv->key_len && memcmp(also, kv->key, kv->key_len) == 0;
        for (const char *const *a = allowed; a != NULL && *a != NULL && !known; a++)
            known = strlen(*a) == kv->key_len && memcmp(*a, kv->key, kv->key_len) == 0;
        if (!known)
            return fail(c, kv->line, TH_EINVAL, "unknown field '%s%s%s'", prefix,
                        prefix[0] ? "." : "", kv->key);
    }
    return 0;
}

/* Field `key` of table `t` if present (else *out = NULL), checked to be of
 * `type`. */
static int field(mctx *c, const toml_value *t, const char *prefix, const char *key, toml_type type,
                 const toml_keyval **out)
{
    const toml_keyval *kv = toml_table_find(t, key);
    *out = NULL;
    if (kv == NULL)
        return 0;
    if (kv->value->type != type)
        return fail(c, kv->line, TH_EINVAL, "field '%s%s%s' must be %s, not %s", prefix,
                    prefix[0] ? "." : "", key, a_type(type), a_type(kv->value->type));
    *out = kv;
    return 0;
}

/* A string field as a new C string (NULL if absent and not required).
 * Refuses NUL characters, control characters when `text_only`, empty
 * strings and strings longer than `max`. */
static int string_field(mctx *c, const toml_value *t, const char *prefix, const char *key,
                        bool required, bool text_only, size_t max, char **out, int *line)
{
    const toml_keyval *kv;
    const char *sep = prefix[0] ? "." : "";
    int rc;

    *out = NULL;
    if ((rc = field(c, t, prefix, key, TOML_STRING, &kv)) != 0)
        return rc;
    if (kv == NULL)
        return required ? fail(c, 0, TH_EINVAL, "missing required field '%s%s%s'", prefix, sep, key)
                        : 0;
    if (line != NULL)
        *line = kv->line;
    if (kv->value->u.s.len == 0)
        return fail(c, kv->line, TH_EINVAL, "field '%s%s%s' must not be empty", prefix, sep, key);
    if (kv->value->u.s.len > max)
        return fail(c, kv->line, TH_EINVAL, "field '%s%s%s' is longer than %zu bytes", prefix, sep,
                    key, max);
    for (size_t i = 0; i < kv->value->u.s.len; i++) {
        unsigned char ch = (unsigned char)kv->value->u.s.ptr[i];
        if (ch == 0 || (text_only && (ch < 0x20 || ch == 0x7f)))
            return fail(c, kv->line, TH_EINVAL, "field '%s%s%s' contains a control character",
                        prefix, sep, key);
    }
    if ((*out = strdup(kv->value->u.s.ptr)) == NULL)
        return fail_nomem(c);
    return 0;
}

/* An integer field in [min, max] into *out (left as is when absent). */
static int uint_field(mctx *c, const toml_value *t, const char *prefix, const char *key,
                      uint64_t min, uint64_t max, uint64_t *out)
{
    const toml_keyval *kv;
    int rc;
    if ((rc = field(c, t, prefix, key, TOML_INTEGER, &kv)) != 0 || kv == NULL)
        return rc;
    if (kv->value->u.i < 0 || (uint64_t)kv->value->u.i < min || (uint64_t)kv->value->u.i > max)
        return fail(c, kv->line, TH_EINVAL, "field '%s.%s' must be between %llu and %llu, not %lld",
                    prefix, key, (unsigned long long)min, (unsigned long long)max,
                    (long long)kv->value->u.i);
    *out = (uint64_t)kv->value->u.i;
    return 0;
}

/* One of `names` (NULL-terminated) into *out as its index. */
static int enum_field(mctx *c, const toml_value *t, const char *prefix, const char *key,
                      const char *const *names, const char *expected, int *out)
{
    const toml_keyval *kv;
    int rc;
    if ((rc = field(c, t, prefix, key, TOML_STRING, &kv)) != 0 || kv == NULL)
        return rc;
    for (int i = 0; names[i] != NULL; i++) {
        if (strcmp(names[i], kv->value->u.s.ptr) == 0 && strlen(names[i]) == kv->value->u.s.len) {
            *out = i;
            return 0;
        }
    }
    return fail(c, kv->line, TH_EINVAL, "field '%s%s%s' must be %s, not \"%s\"", prefix,
                prefix[0] ? "." : "", key, expected, kv->value->u.s.ptr);
}

/* `rel` against the manifest's directory; a new absolute path. */
static char *resolve_path(const rt_manifest *m, const char *rel)
{
    char *p;
    if (rel[0] == '/')
        return strdup(rel);
    if (asprintf(&p, "%s/%s", m->dir, rel) < 0)
        return NULL;
    return p;
}

/* ------------------------------------------------------------------------
 * The readers handlers use for their settings (manifest.h).
 */

const char *rt_manifest_type_name(toml_type t)
{
    return a_type(t);
}

int rt_manifest_field(rt_manifest_reader *r, const toml_value *t, const char *prefix,
                      const char *key, toml_type type, const toml_keyval **out)
{
    return field(r, t, prefix, key, type, out);
}

int rt_manifest_string(rt_manifest_reader *r, const toml_value *t, const char *prefix,
                       const char *key, bool required, bool text_only, size_t max, char **out,
                       int *line)
{
    return string_field(r, t, prefix, key, required, text_only, max, out, line);
}

int rt_manifest_uint(rt_manifest_reader *r, const toml_value *t, const char *prefix,
                     const char *key, uint64_t min, uint64_t max, uint64_t *out)
{
    return uint_field(r, t, prefix, key, min, max, out);
}

char *rt_manifest_path(rt_manifest_reader *r, const char *rel)
{
    return resolve_path(r->m, rel);
}

int rt_manifest_list(rt_manifest_reader *c, const toml_value *h, const char *prefix,
                     const char *key, rt_manifest_item_fn ok, char ***out)
{
    const toml_keyval *kv;
    char why[256], *item;
    size_t n;
    int rc;

    if ((rc = field(c, h, prefix, key, TOML_ARRAY, &kv)) != 0 || kv == NULL)
        return rc;
    n = toml_array_len(kv->value);
    if (n > TH_MANIFEST_MAX_LIST)
        return fail(c, kv->line, TH_EINVAL, "field '%s.%s' lists more than %u entries", prefix, key,
                    TH_MANIFEST_MAX_LIST);
    if ((*out = calloc(n + 1, sizeof **out)) == NULL)
        return fail_nomem(c);
    for (size_t i = 0; i < n; i++) {
        const toml_value *v = toml_array_get(kv->value, i);
        if (v->type != TOML_STRING)
            return fail(c, v->line, TH_EINVAL, "field '%s.%s[%zu]' must be a string, not %s",
                        prefix, key, i, a_type(v->type));
        if (strlen(v->u.s.ptr) != v->u.s.len || v->u.s.len == 0 ||
            v->u.s.len > TH_MANIFEST_MAX_PATH_BYTES)
            return fail(c, v->line, TH_EINVAL, "field '%s.%s[%zu]' is empty, too long or has NUL",
                        prefix, key, i);
        if ((item = strdup(v->u.s.ptr)) == NULL)
            return fail_nomem(c);
        why[0] = 0;
        if (((*out)[i] = ok(c, item, why, sizeof why)) == NULL)
            return why[0]
                       ? fail(c, v->line, TH_EINVAL, "field '%s.%s[%zu]': %s", prefix, key, i, why)
                       : fail_nomem(c);
    }
    return 0;
}

void rt_manifest_list_free(char **v)
{
    for (size_t i = 0; v != NULL && v[i] != NULL; i++)
        free(v[i]);
    free(v);
}

/* ------------------------------------------------------------------------
 * Sections.
 */

static int check_init_state(mctx *c, const toml_value *doc)
{
    rt_manifest_init_state *is = &c->m->init_state;
    char *s = NULL;
    int line = 0, rc;
    const char *p;

    if ((rc = string_field(c, doc, "", "init_state", false, false, TH_MANIFEST_MAX_BYTES, &s,
                           &line)) != 0 ||
        s == NULL)
        return rc;
    is->line = line;
    p = s + strspn(s, " \t\r\n");
    if (strncmp(s, "store:", 6) == 0) {
        const char *slash = strchr(s + 6, '/');
        if (slash == NULL || slash == s + 6 || slash[1] == '\0') {
            rc = fail(c, line, TH_EINVAL,
                      "field 'init_state': expected store:<store-id>/<label>, not \"%s\"", s);
            goto done;
        }
        is->kind = RT_MANIFEST_INIT_STORE;
        is->store_id = strndup(s + 6, (size_t)(slash - s - 6));
        is->label = strdup(slash + 1);
        rc = is->store_id == NULL || is->label == NULL ? fail_nomem(c) : 0;
    } else if (*p == '{' || *p == '[') {
        json_error_t jerr;
        bool oom;
        json_t *j = base_json_loadb(s, strlen(s), 0, &jerr, &oom);
        if (oom) {
            rc = fail_nomem(c);
            goto done;
        }
        if (j == NULL) {
            rc = fail(c, line, TH_EINVAL,
                      "field 'init_state' is not valid JSON: %s (JSON line %d, column %d)",
                      jerr.text, jerr.line, jerr.column);
            goto done;
        }
        json_decref(j);
        is->kind = RT_MANIFEST_INIT_JSON;
        is->json = s;
        s = NULL;
    } else {
        is->kind = RT_MANIFEST_INIT_FILE;
        rc = (is->path = resolve_path(c->m, s)) == NULL ? fail_nomem(c) : 0;
    }
done:
    free(s);
    return rc;
}

/* A [limits] integer in [min, max]: sets *out and `bit` in limits_set
 * when present. */
static int limit_field(mctx *c, const toml_value *t, const char *key, uint64_t min, uint64_t max,
                       uint64_t *out, uint32_t bit)
{
    const toml_keyval *kv;
    int rc;

    if ((rc = field(c, t, "limits", key, TOML_INTEGER, &kv)) != 0 || kv == NULL)
        return rc;
    if ((rc = uint_field(c, t, "limits", key, min, max, out)) != 0)
        return rc;
    c->m->limits_set |= bit;
    return 0;
}

static int check_limits(mctx *c, const toml_value *doc)
{
    static const struct {
        const char *key;
        uint64_t min, max, def;
        uint32_t bit;
    } spec[] = {
        {"fuel_per_call", 0, INT64_MAX, TH_MANIFEST_DEFAULT_FUEL_PER_CALL, RT_MANIFEST_LIMIT_FUEL},
        {"memory_bytes", 0, TH_MANIFEST_MAX_MEMORY_BYTES, TH_MANIFEST_DEFAULT_MEMORY_BYTES,
         RT_MANIFEST_LIMIT_MEMORY},
        {"call_timeout_ms", 0, TH_MANIFEST_MAX_CALL_TIMEOUT_MS, TH_MANIFEST_DEFAULT_CALL_TIMEOUT_MS,
         RT_MANIFEST_LIMIT_TIMEOUT},
        {"max_children", 0, TH_MANIFEST_MAX_CHILDREN, TH_MANIFEST_DEFAULT_MAX_CHILDREN,
         RT_MANIFEST_LIMIT_CHILDREN},
        {"max_descendants", 0, TH_MANIFEST_MAX_DESCENDANTS, TH_MANIFEST_DEFAULT_MAX_DESCENDANTS,
         RT_MANIFEST_LIMIT_DESCENDANTS},
        {"mailbox_messages", 1, TH_MANIFEST_MAX_MAILBOX_MESSAGES,
         TH_MANIFEST_DEFAULT_MAILBOX_MESSAGES, RT_MANIFEST_LIMIT_MAILBOX_MESSAGES},
        {"mailbox_bytes", TH_MANIFEST_MIN_MAILBOX_BYTES, TH_MANIFEST_MAX_MAILBOX_BYTES,
         TH_MANIFEST_DEFAULT_MAILBOX_BYTES, RT_MANIFEST_LIMIT_MAILBOX_BYTES},
        {"store_bytes", 0, TH_MANIFEST_MAX_STORE_BYTES, TH_MANIFEST_DEFAULT_STORE_BYTES,
         RT_MANIFEST_LIMIT_STORE_BYTES},
        {"stack_bytes", 0, TH_MANIFEST_MAX_STACK_BYTES, 0, RT_MANIFEST_LIMIT_STACK_BYTES},
    };
    uint64_t v[sizeof spec / sizeof spec[0]];
    const toml_keyval *kv;
    size_t i;
    int rc;

    for (i = 0; i < sizeof spec / sizeof spec[0]; i++)
        v[i] = spec[i].def;
    if ((rc = field(c, doc, "", "limits", TOML_TABLE, &kv)) != 0)
        return rc;
    if (kv != NULL) {
        if ((rc = check_fields(c, kv->value, "limits", limits_fields, NULL)) != 0)
            return rc;
        for (i = 0; i < sizeof spec / sizeof spec[0]; i++)
            if ((rc = limit_field(c, kv->value, spec[i].key, spec[i].min, spec[i].max, &v[i],
                                  spec[i].bit)) != 0)
                return rc;
    }
    c->m->limits.fuel_per_call = v[0];
    c->m->limits.memory_bytes = v[1];
    c->m->limits.call_timeout_ms = (uint32_t)v[2];
    c->m->limits.max_children = (uint32_t)v[3];
    c->m->limits.max_descendants = (uint32_t)v[4];
    c->m->limits.mailbox_messages = (uint32_t)v[5];
    c->m->limits.mailbox_bytes = v[6];
    c->m->limits.store_bytes = v[7];
    c->m->limits.stack_bytes = v[8];
    return 0;
}

static int check_supervision(mctx *c, const toml_value *doc)
{
    static const char *const strategies[] = {"one-for-one", "one-for-all", "rest-for-one", NULL};
    const toml_keyval *kv;
    uint64_t max_restarts = TH_MANIFEST_DEFAULT_MAX_RESTARTS,
             within = TH_MANIFEST_DEFAULT_WITHIN_SECONDS;
    int strategy = -1, rc;

    if ((rc = field(c, doc, "", "supervision", TOML_TABLE, &kv)) != 0)
        return rc;
    if (kv != NULL) {
        if ((rc = check_fields(c, kv->value, "supervision", supervision_fields, NULL)) != 0 ||
            (rc = enum_field(c, kv->value, "supervision", "strategy", strategies,
                             "\"one-for-one\", \"one-for-all\" or \"rest-for-one\"", &strategy)) !=
                0 ||
            (rc = uint_field(c, kv->value, "supervision", "max_restarts", 0, UINT32_MAX,
                             &max_restarts)) != 0 ||
            (rc = uint_field(c, kv->value, "supervision", "within_seconds", 1, UINT32_MAX,
                             &within)) != 0)
            return rc;
        if (strategy < 0)
            return fail(c, kv->value->line, TH_EINVAL,
                        "missing required field 'supervision.strategy'");
    }
    c->m->supervision.strategy = (rt_manifest_strategy)(strategy + 1);
    c->m->supervision.max_restarts = (uint32_t)max_restarts;
    c->m->supervision.within_seconds = (uint32_t)within;
    return 0;
}

/* The names of the handlers there are, by number: "a, b, c". */
static void known_handlers(const th_handler_set *set, char *out, size_t cap)
{
    size_t o = 0;

    out[0] = '\0';
    for (int t = 0; t < RT_HANDLERS_MAX; t++) {
        const rt_iface *f = rt_manifest_handler_find(set, t);
        if (f != NULL && o < cap)
            o += (size_t)snprintf(out + o, cap - o, "%s%s", o > 0 ? ", " : "", f->name);
    }
}

static int check_handler(mctx *c, size_t index, const toml_value *h)
{
    rt_manifest *m = c->m;
    const toml_keyval *kv;
    const rt_iface *f;
    char prefix[32], known[512];
    void *data = NULL;
    int rc;

    snprintf(prefix, sizeof prefix, "handler[%zu]", index);
    if (h->type != TOML_TABLE)
        return fail(c, h->line, TH_EINVAL, "'%s' must be a table, not %s", prefix, a_type(h->type));
    if ((rc = field(c, h, prefix, "type", TOML_STRING, &kv)) != 0)
        return rc;
    if (kv == NULL)
        return fail(c, h->line, TH_EINVAL, "missing required field '%s.type'", prefix);
    f = strlen(kv->value->u.s.ptr) == kv->value->u.s.len
            ? rt_manifest_handler_lookup(c->handlers, kv->value->u.s.ptr)
            : NULL;
    if (f == NULL) {
        known_handlers(c->handlers, known, sizeof known);
        return fail(c, kv->line, TH_EINVAL, "field '%s.type': unknown handler \"%s\" (known: %s)",
                    prefix, kv->value->u.s.ptr, known[0] ? known : "none");
    }
    if (m->handler_set & (1u << f->handler))
        return fail(c, kv->line, TH_EINVAL, "handler \"%s\" is listed twice (first at line %d)",
                    f->name, rt_manifest_handler_get(m, f->handler)->line);
    if ((rc = check_fields(c, h, prefix, f->fields, "type")) != 0)
        return rc;
    if (f->settings_read != NULL) {
        if ((data = calloc(1, f->settings_size > 0 ? f->settings_size : 1)) == NULL)
            return fail_nomem(c);
        if ((rc = f->settings_read(c, h, prefix, data)) != 0) {
            if (f->settings_release != NULL)
                f->settings_release(data);
            free(data);
            return rc;
        }
    }
    m->handlers[m->handlers_len++] = (rt_manifest_handler){f->handler, h->line, h, f, data};
    m->handler_set |= 1u << f->handler;
    return 0;
}

static int check_handlers(mctx *c, const toml_value *doc)
{
    const toml_keyval *kv = toml_table_find(doc, "handler");
    size_t n;
    int rc;

    if (kv == NULL)
        return 0;
    if (kv->value->type != TOML_ARRAY)
        return fail(c, kv->line, TH_EINVAL,
                    "field 'handler' must be an array of tables ([[handler]]), not %s",
                    a_type(kv->value->type));
    n = toml_array_len(kv->value);
    if ((c->m->handlers = calloc(n > 0 ? n : 1, sizeof *c->m->handlers)) == NULL)
        return fail_nomem(c);
    for (size_t i = 0; i < n; i++)
        if ((rc = check_handler(c, i, toml_array_get(kv->value, i))) != 0)
            return rc;
    return 0;
}

static int check_manifest(mctx *c)
{
    static const char *const restarts[] = {"permanent", "transient", "temporary", NULL};
    rt_manifest *m = c->m;
    const toml_value *doc = m->doc;
    const toml_keyval *kv;
    char *component = NULL;
    int restart = RT_MANIFEST_RESTART_PERMANENT, rc;

    if ((rc = check_fields(c, doc, "", top_fields, NULL)) != 0 ||
        (rc = string_field(c, doc, "", "name", true, true, TH_MANIFEST_MAX_NAME_BYTES, &m->name,
                           NULL)) != 0 ||
        (rc = string_field(c, doc, "", "version", false, true, TH_MANIFEST_MAX_NAME_BYTES,
                           &m->version, NULL)) != 0 ||
        (rc = string_field(c, doc, "", "description", false, false, TH_MANIFEST_MAX_BYTES,
                           &m->description, NULL)) != 0 ||
        (rc = string_field(c, doc, "", "component", true, true, TH_MANIFEST_MAX_PATH_BYTES,
                           &component, NULL)) != 0)
        goto done;
    if (m->version == NULL && (m->version = strdup("0.0.0")) == NULL) {
        rc = fail_nomem(c);
        goto done;
    }
    if ((m->component = resolve_path(m, component)) == NULL) {
        rc = fail_nomem(c);
        goto done;
    }
    if ((rc = field(c, doc, "", "save_chain", TOML_BOOL, &kv)) != 0)
        goto done;
    m->save_chain = kv == NULL || kv->value->u.b; /* recorded unless asked not to */
    if ((rc = field(c, doc, "", "durable", TOML_BOOL, &kv)) != 0)
        goto done;
    m->durable = kv == NULL || kv->value->u.b; /* survives a daemon restart unless asked not to */
    if ((rc = enum_field(c, doc, "", "restart", restarts,
                         "\"permanent\", \"transient\" or \"temporary\"", &restart)) != 0)
        goto done;
    m->restart = (rt_manifest_restart)restart;
    if ((rc = check_init_state(c, doc)) != 0 || (rc = check_limits(c, doc)) != 0 ||
        (rc = check_supervision(c, doc)) != 0)
        goto done;
    rc = check_handlers(c, doc);
done:
    free(component);
    return rc;
}

/* ------------------------------------------------------------------------
 * Entry points.
 */

/* Build a manifest from text (copied) named `source`, with relative paths
 * resolved against `dir` (both copied). */
static int build(const char *text, size_t len, const char *source, const char *dir,
                 const rt_manifest_options *opt, rt_manifest **out, th_error *err)
{
    rt_manifest *m = calloc(1, sizeof *m);
    mctx c = {m, err, default_getenv, NULL, NULL};
    int rc;

    *out = NULL;
    if (m == NULL)
        return th_error_set(err, TH_ENOMEM, "%s: out of memory", source);
    if (opt != NULL && opt->getenv != NULL) {
        c.getenv_fn = opt->getenv;
        c.getenv_ctx = opt->getenv_ctx;
    }
    if (opt != NULL)
        c.handlers = opt->handlers;
    if ((m->source = strdup(source)) == NULL || (m->dir = strdup(dir)) == NULL ||
        (m->text = malloc(len + 1)) == NULL) {
        rt_manifest_free(m);
        return th_error_set(err, TH_ENOMEM, "%s: out of memory", source);
    }
    if (len > 0)
        memcpy(m->text, text, len);
    m->text[len] = '\0';
    m->text_len = len;
    if (len > TH_MANIFEST_MAX_BYTES) {
        rc = fail(&c, 0, TH_ETOOBIG, "manifest of %zu bytes exceeds the limit of %u", len,
                  TH_MANIFEST_MAX_BYTES);
    } else if ((rc = toml_parse(text, len, &m->doc, err)) != 0) {
        th_error_prefix(err, "%s", source);
    } else if ((rc = subst_tree(&c, m->doc, "")) == 0) {
        rc = check_manifest(&c);
    }
    if (rc != 0) {
        rt_manifest_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

/* Absolute form of `dir` (realpath if it exists), malloc'd. */
static char *absolute_dir(const char *dir)
{
    char real[PATH_MAX], cwd[PATH_MAX], *p;
    if (realpath(dir, real) != NULL)
        return strdup(real);
    if (dir[0] == '/' || getcwd(cwd, sizeof cwd) == NULL)
        return strdup(dir);
    if (asprintf(&p, "%s/%s", cwd, dir) < 0)
        return NULL;
    return p;
}

int rt_manifest_parse(const char *text, size_t len, const rt_manifest_options *opt,
                      rt_manifest **out, th_error *err)
{
    const char *name = opt != NULL && opt->name != NULL ? opt->name : "<manifest>";
    char *dir = absolute_dir(opt != NULL && opt->base_dir != NULL ? opt->base_dir : ".");
    int rc;

    *out = NULL;
    if (text == NULL && len > 0)
        return th_error_set(err, TH_EINVAL, "%s: no manifest text", name);
    if (dir == NULL)
        return th_error_set(err, TH_ENOMEM, "%s: out of memory", name);
    rc = build(text != NULL ? text : "", len, name, dir, opt, out, err);
    free(dir);
    return rc;
}

int rt_manifest_load(const char *path, const rt_manifest_options *opt, rt_manifest **out,
                     th_error *err)
{
    uint8_t *text = NULL;
    char *full = NULL, *slash;
    size_t len = 0;
    int rc;

    *out = NULL;
    if (path == NULL)
        return th_error_set(err, TH_EINVAL, "no manifest path");
    /* a FIFO or device is refused without blocking; the size is checked
     * before anything is read */
    if ((rc = base_file_read(path, "manifest", TH_MANIFEST_MAX_BYTES, &text, &len, err)) != 0)
        return rc;
    /* Relative paths resolve against the directory holding the manifest. */
    if ((full = absolute_dir(path)) == NULL) {
        rc = th_error_set(err, TH_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    slash = strrchr(full, '/');
    if (slash == full)
        slash[1] = '\0';
    else if (slash != NULL)
        *slash = '\0';
    rc = build((const char *)text, len, path, full, opt, out, err);
done:
    free(text);
    free(full);
    return rc;
}

void rt_manifest_free(rt_manifest *m)
{
    if (m == NULL)
        return;
    free(m->source);
    free(m->dir);
    free(m->text);
    free(m->name);
    free(m->version);
    free(m->description);
    free(m->component);
    free(m->init_state.json);
    free(m->init_state.path);
    free(m->init_state.store_id);
    free(m->init_state.label);
    for (size_t i = 0; m->handlers != NULL && i < m->handlers_len; i++)
        if (m->handlers[i].data != NULL) {
            if (m->handlers[i].iface->settings_release != NULL)
                m->handlers[i].iface->settings_release(m->handlers[i].data);
            free(m->handlers[i].data);
        }
    free(m->handlers);
    toml_free(m->doc);
    free(m);
}

const rt_manifest_handler *rt_manifest_handler_get(const rt_manifest *m, int type)
{
    for (size_t i = 0; m != NULL && i < m->handlers_len; i++)
        if (m->handlers[i].type == type)
            return &m->handlers[i];
    return NULL;
}

const rt_iface *rt_manifest_handler_lookup(const th_handler_set *set, const char *name)
{
    for (size_t i = 0; set != NULL && name != NULL && i < set->count; i++)
        if (strcmp(set->ifaces[i]->name, name) == 0)
            return set->ifaces[i];
    return NULL;
}

const rt_iface *rt_manifest_handler_find(const th_handler_set *set, int type)
{
    for (size_t i = 0; set != NULL && i < set->count; i++)
        if (set->ifaces[i]->handler == type)
            return set->ifaces[i];
    return NULL;
}
