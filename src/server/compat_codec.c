/*
 * compat_codec.c - frames, commands and responses of the original Theater
 * system's TCP management protocol (see compat_codec.h for the format).
 *
 * Parsing goes through jansson (strict: duplicate keys refused, no
 * trailing bytes, integers must be integers) and then applies serde's
 * rules for the original's types.  Encoding writes the bytes serde_json
 * would, by hand, because clients compare nothing but those bytes: field
 * order, no spaces, serde_json's string escapes.
 */
#include "base/hex.h"
#include "server/compat_codec.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base64.h"
#include "base/grow.h"
#include "base/limits.h"
#include "base/utf8.h"

/* The original's chunk size for fragmented messages. */
#define FRAGMENT_CHUNK (12u * 1024u * 1024u)

/* ------------------------------------------------------------------ */
/* Output buffer                                                      */

void srv_jbuf_add(srv_jbuf *b, const void *p, size_t n)
{
    uint8_t *d;

    if (b->oom || n == 0)
        return;
    if ((d = base_grow(b->data, &b->cap, b->len + n, 256)) == NULL) {
        b->oom = true;
        return;
    }
    b->data = d;
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

void srv_jbuf_puts(srv_jbuf *b, const char *s)
{
    srv_jbuf_add(b, s, strlen(s));
}

void srv_jbuf_u64(srv_jbuf *b, uint64_t v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)v);

    srv_jbuf_add(b, tmp, (size_t)n);
}

void srv_jbuf_release(srv_jbuf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

void srv_jbuf_str(srv_jbuf *b, const char *str, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, run = 0, k;
    char esc[6];

    srv_jbuf_add(b, "\"", 1);
    while (i < n) {
        unsigned c = s[i];
        const char *e = NULL;
        if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0x80 && (k = base_utf8_seq(s + i, n - i)) != 0) {
            i += k;
            continue;
        }
        srv_jbuf_add(b, s + run, i - run);
        switch (c) {
        case '"': e = "\\\""; break;
        case '\\': e = "\\\\"; break;
        case '\b': e = "\\b"; break;
        case '\f': e = "\\f"; break;
        case '\n': e = "\\n"; break;
        case '\r': e = "\\r"; break;
        case '\t': e = "\\t"; break;
        default: break;
        }
        if (e != NULL) {
            srv_jbuf_puts(b, e);
        } else if (c < 0x20) {
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            srv_jbuf_add(b, esc, 6);
        } else {
            srv_jbuf_puts(b, "\xef\xbf\xbd"); /* invalid UTF-8: U+FFFD */
        }
        run = ++i;
    }
    srv_jbuf_add(b, s + run, n - run);
    srv_jbuf_add(b, "\"", 1);
}

void srv_jbuf_bytes(srv_jbuf *b, const uint8_t *p, size_t n)
{
    char tmp[4];
    size_t i;
    int k;

    srv_jbuf_add(b, "[", 1);
    for (i = 0; i < n; i++) {
        if (i > 0)
            srv_jbuf_add(b, ",", 1);
        k = snprintf(tmp, sizeof tmp, "%u", p[i]);
        srv_jbuf_add(b, tmp, (size_t)k);
    }
    srv_jbuf_add(b, "]", 1);
}

/* ------------------------------------------------------------------ */
/* Frames                                                             */

int srv_compat_frame_next(const uint8_t *buf, size_t len, const uint8_t **payload, size_t *plen,
                          size_t *consumed, th_error *err)
{
    uint32_t n;

    if (len < 4)
        return 0;
    n = (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 | (uint32_t)buf[2] << 8 | buf[3];
    if (n > TH_COMPAT_MAX_FRAME_BYTES)
        return th_error_set(err, TH_ETOOBIG, "frame of %u bytes (at most %u)", n,
                            TH_COMPAT_MAX_FRAME_BYTES);
    if (len - 4 < n)
        return 0;
    *payload = buf + 4;
    *plen = n;
    *consumed = 4 + (size_t)n;
    return 1;
}

/* ------------------------------------------------------------------ */
/* serde-style readers over jansson values                            */

/* Vec<u8>: an array of integers 0..255.  Stores a malloc'd copy. */
static int read_bytes(const json_t *v, const char *what, uint8_t **out, size_t *n, th_error *err)
{
    size_t i, count;
    uint8_t *p;

    if (!json_is_array(v))
        return th_error_set(err, TH_EINVAL, "invalid type for `%s`: expected a sequence of bytes",
                            what);
    count = json_array_size(v);
    p = malloc(count ? count : 1);
    if (p == NULL)
        return th_error_set(err, TH_ENOMEM, "out of memory");
    for (i = 0; i < count; i++) {
        const json_t *e = json_array_get(v, i);
        json_int_t x;
        if (!json_is_integer(e) || (x = json_integer_value(e)) < 0 || x > 255) {
            free(p);
            return th_error_set(err, TH_EINVAL, "invalid value in `%s` at %zu: expected u8", what,
                                i);
        }
        p[i] = (uint8_t)x;
    }
    *out = p;
    *n = count;
    return 0;
}

/* A UUID as the uuid crate parses it: hyphenated, simple (32 digits),
 * braced or urn:uuid:; written lowercase hyphenated. */
static bool parse_uuid(const char *s, size_t n, char out[TH_ACTOR_ID_SIZE])
{
    static const char hex[] = "0123456789abcdef";
    uint8_t b[16];
    size_t i, k = 0;

    if (n == 45 && strncmp(s, "urn:uuid:", 9) == 0)
        s += 9, n -= 9;
    else if (n == 38 && s[0] == '{' && s[37] == '}')
        s += 1, n -= 2;
    if (n != 32 && n != 36)
        return false;
    for (i = 0; i < n;) {
        int hi, lo;
        if (n == 36 && (i == 8 || i == 13 || i == 18 || i == 23)) {
            if (s[i] != '-')
                return false;
            i++;
            continue;
        }
        hi = base_hex_digit((unsigned char)s[i]);
        lo = i + 1 < n ? base_hex_digit((unsigned char)s[i + 1]) : -1;
        if (hi < 0 || lo < 0 || k == 16)
            return false;
        b[k++] = (uint8_t)(hi << 4 | lo);
        i += 2;
    }
    if (k != 16)
        return false;
    for (i = 0, k = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[k++] = '-';
        out[k++] = hex[b[i] >> 4];
        out[k++] = hex[b[i] & 15];
    }
    out[k] = 0;
    return true;
}

static int read_uuid(const json_t *v, const char *what, char out[TH_ACTOR_ID_SIZE], th_error *err)
{
    if (!json_is_string(v))
        return th_error_set(err, TH_EINVAL, "invalid type for `%s`: expected a UUID string", what);
    if (!parse_uuid(json_string_value(v), json_string_length(v), out))
        return th_error_set(err, TH_EINVAL, "invalid UUID in `%s`", what);
    return 0;
}

static int read_string(const json_t *v, const char *what, char **out, th_error *err)
{
    if (!json_is_string(v))
        return th_error_set(err, TH_EINVAL, "invalid type for `%s`: expected a string", what);
    *out = strdup(json_string_value(v));
    if (*out == NULL)
        return th_error_set(err, TH_ENOMEM, "out of memory");
    return 0;
}

/* ChannelParticipant: "External", {"External":null} or {"Actor":"<uuid>"}. */
static int read_participant(const json_t *v, srv_compat_cmd *c, th_error *err)
{
    const char *key;
    json_t *val;

    if (json_is_string(v) && strcmp(json_string_value(v), "External") == 0) {
        c->to_external = true;
        return 0;
    }
    if (json_is_object(v) && json_object_size(v) == 1) {
        json_object_foreach((json_t *)v, key, val)
        {
            if (strcmp(key, "External") == 0 && json_is_null(val)) {
                c->to_external = true;
                return 0;
            }
            if (strcmp(key, "Actor") == 0)
                return read_uuid(val, "actor_id", c->id, err);
        }
    }
    return th_error_set(err, TH_EINVAL,
                        "invalid value for `actor_id`: expected {\"Actor\": id} or \"External\"");
}

/* ------------------------------------------------------------------ */
/* Commands                                                           */

enum { F_ID = 1, F_SUB, F_TEXT, F_BYTES, F_OPT_BYTES, F_PARENT, F_SUBSCRIBE, F_PARTICIPANT };

typedef struct field {
    const char *name;
    int type;
    bool optional; /* Option<T>, or a field older clients leave out */
} field;

typedef struct variant {
    const char *name;
    int kind;
    bool unit;
    field fields[4];
} cmd_variant;

static const cmd_variant variants[] = {
    {"StartActor",
     SRV_C_START_ACTOR,
     false,
     {{"manifest", F_TEXT, false},
      {"initial_state", F_OPT_BYTES, true},
      {"parent", F_PARENT, true},
      {"subscribe", F_SUBSCRIBE, true}}},
    {"StopActor", SRV_C_STOP_ACTOR, false, {{"id", F_ID, false}}},
    {"TerminateActor", SRV_C_TERMINATE_ACTOR, false, {{"id", F_ID, false}}},
    {"ListActors", SRV_C_LIST_ACTORS, true, {{0}}},
    {"SubscribeToActor", SRV_C_SUBSCRIBE, false, {{"id", F_ID, false}}},
    {"UnsubscribeFromActor",
     SRV_C_UNSUBSCRIBE,
     false,
     {{"id", F_ID, false}, {"subscription_id", F_SUB, false}}},
    {"SendActorMessage", SRV_C_SEND, false, {{"id", F_ID, false}, {"data", F_BYTES, false}}},
    {"RequestActorMessage", SRV_C_REQUEST, false, {{"id", F_ID, false}, {"data", F_BYTES, false}}},
    {"GetActorManifest", SRV_C_GET_MANIFEST, false, {{"id", F_ID, false}}},
    {"GetActorStatus", SRV_C_GET_STATUS, false, {{"id", F_ID, false}}},
    {"RestartActor", SRV_C_RESTART, false, {{"id", F_ID, false}}},
    {"GetActorState", SRV_C_GET_STATE, false, {{"id", F_ID, false}}},
    {"GetActorEvents", SRV_C_GET_EVENTS, false, {{"id", F_ID, false}}},
    {"GetActorMetrics", SRV_C_GET_METRICS, false, {{"id", F_ID, false}}},
    {"UpdateActorComponent",
     SRV_C_UPDATE_COMPONENT,
     false,
     {{"id", F_ID, false}, {"component", F_TEXT, false}}},
    {"UpdateActorPackage",
     SRV_C_UPDATE_PACKAGE,
     false,
     {{"id", F_ID, false}, {"package", F_TEXT, false}}},
    {"OpenChannel",
     SRV_C_OPEN_CHANNEL,
     false,
     {{"actor_id", F_PARTICIPANT, false}, {"initial_message", F_BYTES, false}}},
    {"SendOnChannel",
     SRV_C_SEND_ON_CHANNEL,
     false,
     {{"channel_id", F_TEXT, false}, {"message", F_BYTES, false}}},
    {"CloseChannel", SRV_C_CLOSE_CHANNEL, false, {{"channel_id", F_TEXT, false}}},
    {"NewStore", SRV_C_NEW_STORE, false, {{0}}},
};

static int read_field(const field *f, const json_t *v, srv_compat_cmd *c, th_error *err)
{
    switch (f->type) {
    case F_ID: return read_uuid(v, f->name, c->id, err);
    case F_SUB: return read_uuid(v, f->name, c->sub_id, err);
    case F_TEXT: return read_string(v, f->name, &c->text, err);
    case F_BYTES: c->has_data = true; return read_bytes(v, f->name, &c->data, &c->len, err);
    case F_OPT_BYTES:
        if (json_is_null(v))
            return 0;
        c->has_data = true;
        return read_bytes(v, f->name, &c->data, &c->len, err);
    case F_PARENT:
    case F_SUBSCRIBE:
        if (!json_is_boolean(v))
            return th_error_set(err, TH_EINVAL, "invalid type for `%s`: expected a boolean",
                                f->name);
        *(f->type == F_PARENT ? &c->parent : &c->subscribe) = json_is_true(v);
        return 0;
    case F_PARTICIPANT: return read_participant(v, c, err);
    default: return th_error_set(err, TH_EINVAL, "internal: field type");
    }
}

static size_t nfields(const cmd_variant *v)
{
    size_t n = 0;

    while (n < 4 && v->fields[n].name != NULL)
        n++;
    return n;
}

/* A struct variant's payload: an object of fields or an array of them. */
static int read_struct(const cmd_variant *v, const json_t *p, srv_compat_cmd *c, th_error *err)
{
    size_t i, n = nfields(v);
    int rc;

    if (json_is_array(p)) {
        if (json_array_size(p) != n)
            return th_error_set(err, TH_EINVAL,
                                "invalid length %zu, expected struct variant %s with %zu elements",
                                json_array_size(p), v->name, n);
        for (i = 0; i < n; i++)
            if ((rc = read_field(&v->fields[i], json_array_get(p, i), c, err)) != 0)
                return rc;
        return 0;
    }
    if (!json_is_object(p))
        return th_error_set(err, TH_EINVAL, "invalid type: expected struct variant %s", v->name);
    for (i = 0; i < n; i++) {
        const json_t *f = json_object_get(p, v->fields[i].name);
        if (f == NULL) {
            if (v->fields[i].optional)
                continue;
            return th_error_set(err, TH_EINVAL, "missing field `%s`", v->fields[i].name);
        }
        if ((rc = read_field(&v->fields[i], f, c, err)) != 0)
            return rc;
    }
    return 0; /* other keys are ignored, as serde does */
}

static const cmd_variant *find_variant(const char *name)
{
    size_t i;

    for (i = 0; i < sizeof variants / sizeof variants[0]; i++)
        if (strcmp(variants[i].name, name) == 0)
            return &variants[i];
    return NULL;
}

static int parse_value(const json_t *root, srv_compat_cmd *cmd, th_error *err)
{
    const cmd_variant *v;
    const char *key = NULL, *name = NULL;
    json_t *payload = NULL, *val;

    if (json_is_string(root)) {
        v = find_variant(json_string_value(root));
        if (v == NULL)
            return th_error_set(err, TH_EINVAL, "unknown variant `%s`", json_string_value(root));
        if (!v->unit)
            return th_error_set(err, TH_EINVAL,
                                "invalid type: unit variant, expected struct variant %s", v->name);
        cmd->kind = v->kind;
        return 0;
    }
    if (!json_is_object(root) || json_object_size(root) != 1)
        return th_error_set(err, TH_EINVAL,
                            "expected a command: \"Name\" or an object with one key");
    json_object_foreach((json_t *)root, key, val)
    {
        name = key; /* the loop leaves `key` NULL */
        payload = val;
    }
    v = find_variant(name);
    if (v == NULL)
        return th_error_set(err, TH_EINVAL, "unknown variant `%s`", name);
    cmd->kind = v->kind;
    if (v->unit) {
        if (!json_is_null(payload))
            return th_error_set(err, TH_EINVAL, "invalid type: expected unit variant %s", v->name);
        return 0;
    }
    return read_struct(v, payload, cmd, err);
}

int srv_compat_parse(const uint8_t *msg, size_t len, srv_compat_cmd *cmd, th_error *err)
{
    json_error_t je;
    json_t *root;
    int rc;

    memset(cmd, 0, sizeof *cmd);
    root = json_loadb((const char *)msg, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
    if (root == NULL)
        return th_error_set(err, TH_EINVAL, "%s at line %d column %d", je.text, je.line, je.column);
    rc = parse_value(root, cmd, err);
    json_decref(root);
    if (rc != 0)
        srv_compat_cmd_release(cmd);
    return rc;
}

void srv_compat_cmd_release(srv_compat_cmd *cmd)
{
    if (cmd == NULL)
        return;
    free(cmd->text);
    free(cmd->data);
    memset(cmd, 0, sizeof *cmd);
}

/* ------------------------------------------------------------------ */
/* The fragmenting layer                                              */

struct srv_compat_partial {
    srv_compat_partial *next;
    uint64_t id;
    uint32_t total, have;
    size_t bytes;
    uint8_t **chunks; /* [total], NULL until received */
    size_t *lens;
};

static void partial_free(srv_compat_partial *p)
{
    uint32_t i;

    if (p == NULL)
        return;
    for (i = 0; i < p->total; i++)
        free(p->chunks[i]);
    free(p->chunks);
    free(p->lens);
    free(p);
}

void srv_compat_defrag_release(srv_compat_defrag *d)
{
    srv_compat_partial *p, *n;

    for (p = d->head; p != NULL; p = n) {
        n = p->next;
        partial_free(p);
    }
    d->head = NULL;
    d->count = 0;
}

static size_t defrag_bytes(const srv_compat_defrag *d)
{
    const srv_compat_partial *p;
    size_t n = 0;

    for (p = d->head; p != NULL; p = p->next)
        n += p->bytes;
    return n;
}

/* An unsigned integer field of a Fragment. */
static int frag_uint(const json_t *v, const char *name, uint64_t max, uint64_t *out, th_error *err)
{
    json_int_t x;

    if (v == NULL)
        return th_error_set(err, TH_EINVAL, "fragment: missing field `%s`", name);
    if (!json_is_integer(v) || (x = json_integer_value(v)) < 0 || (uint64_t)x > max)
        return th_error_set(err, TH_EINVAL, "fragment: invalid `%s`", name);
    *out = (uint64_t)x;
    return 0;
}

/* Join a complete message; removes it from the list. */
static int defrag_join(srv_compat_defrag *d, srv_compat_partial *p, uint8_t **msg, size_t *len,
                       th_error *err)
{
    srv_compat_partial **pp;
    uint8_t *out = malloc(p->bytes ? p->bytes : 1);
    size_t off = 0;
    uint32_t i;

    for (pp = &d->head; *pp != p; pp = &(*pp)->next)
        ;
    *pp = p->next;
    d->count--;
    if (out == NULL) {
        partial_free(p);
        return th_error_set(err, TH_ENOMEM, "out of memory");
    }
    for (i = 0; i < p->total; i++) {
        memcpy(out + off, p->chunks[i], p->lens[i]);
        off += p->lens[i];
    }
    *msg = out;
    *len = off;
    partial_free(p);
    return 1;
}

static int defrag_add(srv_compat_defrag *d, const json_t *f, uint8_t **msg, size_t *len,
                      th_error *err)
{
    const json_t *data;
    srv_compat_partial *p;
    uint64_t id, index, total;
    uint8_t *chunk;
    size_t clen, tlen;
    int rc;

    if (json_is_array(f) && json_array_size(f) == 4) { /* a struct as a sequence */
        if ((rc = frag_uint(json_array_get(f, 0), "message_id", UINT64_MAX, &id, err)) != 0 ||
            (rc = frag_uint(json_array_get(f, 1), "fragment_index", UINT32_MAX, &index, err)) !=
                0 ||
            (rc = frag_uint(json_array_get(f, 2), "total_fragments", UINT32_MAX, &total, err)) != 0)
            return rc;
        data = json_array_get(f, 3);
    } else if (json_is_object(f)) {
        if ((rc = frag_uint(json_object_get(f, "message_id"), "message_id", UINT64_MAX, &id,
                            err)) != 0 ||
            (rc = frag_uint(json_object_get(f, "fragment_index"), "fragment_index", UINT32_MAX,
                            &index, err)) != 0 ||
            (rc = frag_uint(json_object_get(f, "total_fragments"), "total_fragments", UINT32_MAX,
                            &total, err)) != 0)
            return rc;
        data = json_object_get(f, "data");
    } else {
        return th_error_set(err, TH_EINVAL, "fragment: expected a struct");
    }
    if (!json_is_string(data))
        return th_error_set(err, TH_EINVAL, "fragment: `data` must be a base64 string");
    if (total == 0 || total > TH_COMPAT_MAX_FRAGMENTS || index >= total)
        return th_error_set(err, TH_EINVAL, "fragment %llu of %llu is out of range",
                            (unsigned long long)index, (unsigned long long)total);
    tlen = json_string_length(data);
    chunk = malloc(tlen / 4 * 3 + 1);
    if (chunk == NULL)
        return th_error_set(err, TH_ENOMEM, "out of memory");
    if (base_base64_decode(json_string_value(data), tlen, chunk, &clen) != 0) {
        free(chunk);
        return th_error_set(err, TH_EINVAL, "fragment: `data` is not base64");
    }
    if (defrag_bytes(d) + clen > TH_COMPAT_MAX_MESSAGE_BYTES) {
        free(chunk);
        return th_error_set(err, TH_ETOOBIG, "fragmented messages over %u bytes",
                            TH_COMPAT_MAX_MESSAGE_BYTES);
    }
    for (p = d->head; p != NULL && p->id != id; p = p->next)
        ;
    if (p == NULL) {
        if (d->count >= TH_COMPAT_MAX_PARTIALS) {
            free(chunk);
            return th_error_set(err, TH_ETOOBIG, "more than %u fragmented messages at once",
                                TH_COMPAT_MAX_PARTIALS);
        }
        p = calloc(1, sizeof *p);
        if (p != NULL) {
            p->chunks = calloc(total, sizeof *p->chunks);
            p->lens = calloc(total, sizeof *p->lens);
        }
        if (p == NULL || p->chunks == NULL || p->lens == NULL) {
            if (p != NULL)
                free(p->chunks), free(p->lens), free(p);
            free(chunk);
            return th_error_set(err, TH_ENOMEM, "out of memory");
        }
        p->id = id;
        p->total = (uint32_t)total;
        p->next = d->head;
        d->head = p;
        d->count++;
    } else if (p->total != total) {
        free(chunk);
        return th_error_set(err, TH_EINVAL, "fragments of message %llu disagree on their count",
                            (unsigned long long)id);
    }
    if (p->chunks[index] != NULL) { /* sent again: the later one wins */
        p->bytes -= p->lens[index];
        free(p->chunks[index]);
        p->have--;
    }
    p->chunks[index] = chunk;
    p->lens[index] = clen;
    p->bytes += clen;
    p->have++;
    if (p->have < p->total)
        return 0;
    return defrag_join(d, p, msg, len, err);
}

int srv_compat_unwrap(srv_compat_defrag *d, const uint8_t *frame, size_t n, uint8_t **msg,
                      size_t *msg_len, int *layer, th_error *err)
{
    json_error_t je;
    json_t *root, *val;
    const char *key = NULL;
    int rc;

    *msg = NULL;
    *msg_len = 0;
    *layer = SRV_COMPAT_PLAIN;
    root = json_loadb((const char *)frame, n, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
    if (root != NULL && json_is_object(root) && json_object_size(root) == 1) {
        json_object_foreach(root, key, val)
        {
            if (strcmp(key, "Complete") == 0) {
                *layer = SRV_COMPAT_FRAGMENTING;
                rc = read_bytes(val, "Complete", msg, msg_len, err);
                json_decref(root);
                return rc == 0 ? 1 : rc;
            }
            if (strcmp(key, "Fragment") == 0) {
                *layer = SRV_COMPAT_FRAGMENTING;
                rc = defrag_add(d, val, msg, msg_len, err);
                json_decref(root);
                return rc;
            }
        }
    }
    json_decref(root);
    /* a plain frame: the message itself, whatever it holds */
    *msg = malloc(n ? n : 1);
    if (*msg == NULL)
        return th_error_set(err, TH_ENOMEM, "out of memory");
    memcpy(*msg, frame, n);
    *msg_len = n;
    return 1;
}

static void put_frame_len(srv_jbuf *out, size_t at)
{
    size_t n = out->len - at - 4;

    if (out->oom)
        return;
    out->data[at] = (uint8_t)(n >> 24);
    out->data[at + 1] = (uint8_t)(n >> 16);
    out->data[at + 2] = (uint8_t)(n >> 8);
    out->data[at + 3] = (uint8_t)n;
}

int srv_compat_wrap(srv_jbuf *out, const uint8_t *msg, size_t len, int layer, uint64_t *next_id)
{
    static const uint8_t zero[4] = {0};
    size_t at, off, chunk, total, i;
    uint64_t id;
    char *b64;

    if (layer == SRV_COMPAT_PLAIN || len <= FRAGMENT_CHUNK) {
        at = out->len;
        srv_jbuf_add(out, zero, 4);
        if (layer == SRV_COMPAT_PLAIN) {
            srv_jbuf_add(out, msg, len);
        } else {
            srv_jbuf_puts(out, "{\"Complete\":");
            srv_jbuf_bytes(out, msg, len);
            srv_jbuf_puts(out, "}");
        }
        put_frame_len(out, at);
        return out->oom ? TH_ENOMEM : 0;
    }
    id = (*next_id)++;
    total = (len + FRAGMENT_CHUNK - 1) / FRAGMENT_CHUNK;
    b64 = malloc(base_base64_encoded_size(FRAGMENT_CHUNK));
    if (b64 == NULL)
        return TH_ENOMEM;
    for (i = 0, off = 0; i < total; i++, off += chunk) {
        chunk = len - off < FRAGMENT_CHUNK ? len - off : FRAGMENT_CHUNK;
        at = out->len;
        srv_jbuf_add(out, zero, 4);
        srv_jbuf_puts(out, "{\"Fragment\":{\"message_id\":");
        srv_jbuf_u64(out, id);
        srv_jbuf_puts(out, ",\"fragment_index\":");
        srv_jbuf_u64(out, i);
        srv_jbuf_puts(out, ",\"total_fragments\":");
        srv_jbuf_u64(out, total);
        srv_jbuf_puts(out, ",\"data\":\"");
        srv_jbuf_add(out, b64, base_base64_encode(msg + off, chunk, b64));
        srv_jbuf_puts(out, "\"}}");
        put_frame_len(out, at);
    }
    free(b64);
    return out->oom ? TH_ENOMEM : 0;
}

/* ------------------------------------------------------------------ */
/* Responses                                                          */

static const char *const error_names[] = {
    [SRV_E_ACTOR_NOT_FOUND] = "ActorNotFound",
    [SRV_E_ACTOR_ALREADY_EXISTS] = "ActorAlreadyExists",
    [SRV_E_ACTOR_NOT_RUNNING] = "ActorNotRunning",
    [SRV_E_CHANNEL_NOT_FOUND] = "ChannelNotFound",
    [SRV_E_CHANNEL_CLOSED] = "ChannelClosed",
    [SRV_E_CHANNEL_REJECTED] = "ChannelRejected",
    [SRV_E_TIMEOUT] = "Timeout",
    [SRV_E_ACTOR_ERROR] = "ActorError",
    [SRV_E_STORE_ERROR] = "StoreError",
    [SRV_E_COMMUNICATION_ERROR] = "CommunicationError",
    [SRV_E_INVALID_REQUEST] = "InvalidRequest",
    [SRV_E_RUNTIME_ERROR] = "RuntimeError",
    [SRV_E_INTERNAL_ERROR] = "InternalError",
    [SRV_E_SERIALIZATION_ERROR] = "SerializationError",
};

void srv_compat_error(srv_jbuf *b, int kind, const char *msg)
{
    if (kind < SRV_E_ACTOR_NOT_FOUND || kind > SRV_E_SERIALIZATION_ERROR)
        kind = SRV_E_INTERNAL_ERROR;
    srv_jbuf_puts(b, "{\"Error\":{\"error\":");
    if (kind < SRV_E_ACTOR_ERROR) {
        srv_jbuf_str(b, error_names[kind], strlen(error_names[kind]));
    } else {
        srv_jbuf_puts(b, "{\"");
        srv_jbuf_puts(b, error_names[kind]);
        srv_jbuf_puts(b, "\":");
        srv_jbuf_str(b, msg != NULL ? msg : "", msg != NULL ? strlen(msg) : 0);
        srv_jbuf_puts(b, "}");
    }
    srv_jbuf_puts(b, "}}");
}

static void open_variant(srv_jbuf *b, const char *variant)
{
    srv_jbuf_puts(b, "{\"");
    srv_jbuf_puts(b, variant);
    srv_jbuf_puts(b, "\":{");
}

static void key_str(srv_jbuf *b, const char *key, const char *val)
{
    srv_jbuf_puts(b, "\"");
    srv_jbuf_puts(b, key);
    srv_jbuf_puts(b, "\":");
    srv_jbuf_str(b, val, strlen(val));
}

void srv_compat_id_only(srv_jbuf *b, const char *variant, const char *id)
{
    open_variant(b, variant);
    key_str(b, "id", id);
    srv_jbuf_puts(b, "}}");
}

void srv_compat_channel_only(srv_jbuf *b, const char *variant, const char *channel)
{
    open_variant(b, variant);
    key_str(b, "channel_id", channel);
    srv_jbuf_puts(b, "}}");
}

void srv_compat_subscribed(srv_jbuf *b, const char *id, const char *sub_id)
{
    open_variant(b, "Subscribed");
    key_str(b, "id", id);
    srv_jbuf_puts(b, ",");
    key_str(b, "subscription_id", sub_id);
    srv_jbuf_puts(b, "}}");
}

void srv_compat_requested(srv_jbuf *b, const char *id, const uint8_t *msg, size_t len)
{
    open_variant(b, "RequestedMessage");
    key_str(b, "id", id);
    srv_jbuf_puts(b, ",\"message\":");
    srv_jbuf_bytes(b, msg, len);
    srv_jbuf_puts(b, "}}");
}

void srv_compat_status(srv_jbuf *b, const char *id, th_actor_status st)
{
    const char *s = st == TH_ACTOR_FAILED                               ? "Failed"
                    : st == TH_ACTOR_STOPPING || st == TH_ACTOR_STOPPED ? "Stopped"
                                                                        : "Running";
    open_variant(b, "ActorStatus");
    key_str(b, "id", id);
    srv_jbuf_puts(b, ",");
    key_str(b, "status", s);
    srv_jbuf_puts(b, "}}");
}

void srv_compat_state(srv_jbuf *b, const char *id, bool has, const uint8_t *p, size_t n)
{
    open_variant(b, "ActorState");
    key_str(b, "id", id);
    srv_jbuf_puts(b, ",\"state\":");
    if (has)
        srv_jbuf_bytes(b, p, n);
    else
        srv_jbuf_puts(b, "null");
    srv_jbuf_puts(b, "}}");
}

/* ChannelParticipant::Actor(id) */
static void participant(srv_jbuf *b, const char *actor_id)
{
    srv_jbuf_puts(b, "{\"Actor\":");
    srv_jbuf_str(b, actor_id, strlen(actor_id));
    srv_jbuf_puts(b, "}");
}

void srv_compat_channel_opened(srv_jbuf *b, const char *channel, const char *actor_id)
{
    open_variant(b, "ChannelOpened");
    key_str(b, "channel_id", channel);
    srv_jbuf_puts(b, ",\"actor_id\":");
    participant(b, actor_id);
    srv_jbuf_puts(b, "}}");
}

void srv_compat_channel_message(srv_jbuf *b, const char *channel, const char *sender,
                                const uint8_t *msg, size_t len)
{
    open_variant(b, "ChannelMessage");
    key_str(b, "channel_id", channel);
    srv_jbuf_puts(b, ",\"sender_id\":");
    participant(b, sender);
    srv_jbuf_puts(b, ",\"message\":");
    srv_jbuf_bytes(b, msg, len);
    srv_jbuf_puts(b, "}}");
}

void srv_compat_store_created(srv_jbuf *b, const char *store_id)
{
    open_variant(b, "StoreCreated");
    key_str(b, "store_id", store_id);
    srv_jbuf_puts(b, "}}");
}

void srv_compat_chain_event(srv_jbuf *b, const th_runtime_event *ev)
{
    static const uint8_t none[1] = {0};

    srv_jbuf_puts(b, "{\"hash\":");
    srv_jbuf_bytes(b, ev->hash != NULL ? ev->hash : none, ev->hash != NULL ? 32 : 0);
    srv_jbuf_puts(b, ",\"parent_hash\":");
    if (ev->parent_hash != NULL)
        srv_jbuf_bytes(b, ev->parent_hash, 32);
    else
        srv_jbuf_puts(b, "null");
    srv_jbuf_puts(b, ",");
    key_str(b, "event_type", ev->type);
    srv_jbuf_puts(b, ",\"data\":");
    srv_jbuf_bytes(b, ev->data, ev->data_len);
    srv_jbuf_puts(b, ",\"timestamp\":");
    srv_jbuf_u64(b, ev->timestamp_ms);
    srv_jbuf_puts(b, ",\"description\":");
    if (ev->description != NULL)
        srv_jbuf_str(b, ev->description, strlen(ev->description));
    else
        srv_jbuf_puts(b, "null");
    srv_jbuf_puts(b, "}");
}

void srv_compat_actor_event(srv_jbuf *b, const th_runtime_event *ev)
{
    srv_jbuf_puts(b, "{\"ActorEvent\":{\"event\":");
    srv_compat_chain_event(b, ev);
    srv_jbuf_puts(b, "}}");
}

/* ------------------------------------------------------------------ */
/* Channel ids                                                        */

void srv_compat_channel_to_wire(const char *id, char wire[36])
{
    size_t i, k = 3;

    memcpy(wire, "ch_", 3);
    for (i = 0; id[i] != 0 && k < 35; i++)
        if (id[i] != '-')
            wire[k++] = id[i];
    wire[k] = 0;
}

bool srv_compat_channel_from_wire(const char *wire, char id[TH_ACTOR_ID_SIZE])
{
    if (strncmp(wire, "ch_", 3) != 0 || strlen(wire) != 35)
        return false;
    return parse_uuid(wire + 3, 32, id);
}
