/*
 * event_text.c - the human and JSON forms of chain events (event_text.h,
 * docs/events.md).
 *
 * The human form is written into a memory stream by one summarizer per
 * event type.  Each summarizer knows which fields of its type are byte
 * strings (hex in the record), which are actor ids and which are error
 * types, prints them in words, and names the fields it consumed; any field
 * it does not know is still printed afterwards as key=value, so an event
 * recorded by a newer runtime loses nothing.  Data that is not JSON, or an
 * unknown type, is shown as its bytes.
 *
 * An event recorded by content reference is shown from its content (read
 * from the home's store through a cli_content, verified against its
 * SHA-256) as if it had been recorded inline, with a note; when the
 * content cannot be had, in words.
 *
 * Invariant: nothing here trusts the data.  A field of the wrong JSON type
 * is shown as the JSON it is; a "hex" string that is not hex is shown as
 * the string it is.
 */
#define _GNU_SOURCE /* open_memstream */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/hex.h"
#include "base/limits.h"
#include "base/utf8.h"
#include "cli/event_text.h"
#include "theater/chain.h"
#include "theater/runtime.h"

static const char *const error_names[] = {
    "operation-timeout",   "channel-closed",         "shutting-down",
    "function-not-found",  "type-mismatch",          "internal",
    "serialization-error", "update-component-error", "paused",
};

int cli_event_type_known(const char *type)
{
    return th_event_type_known(type);
}

const char *cli_event_types_joined(void)
{
    static char joined[512];

    if (joined[0] == 0)
        th_event_types_join(joined, sizeof joined);
    return joined;
}

const char *cli_error_type_name(long code)
{
    if (code < 0 || (size_t)code >= sizeof error_names / sizeof error_names[0])
        return NULL;
    return error_names[code];
}

/* ------------------------------------------------------------------ */
/* Values                                                             */

typedef struct rctx {
    FILE *out;
    const cli_ids *ids;
    unsigned flags;
} rctx;

/* Text a person can read: valid UTF-8 without control characters other
 * than tab, newline and carriage return. */
static int is_text(const uint8_t *s, size_t n)
{
    size_t i = 0, k;

    while (i < n) {
        if (s[i] < 0x20 && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
            return 0;
        if (s[i] == 0x7f)
            return 0;
        if ((k = base_utf8_seq(s + i, n - i)) == 0)
            return 0;
        i += k;
    }
    return 1;
}

/* How many of the first `n` bytes to show: all with --wide, else at most
 * CLI_EVENT_VALUE_MAX, cut back to a character boundary. */
static size_t shown_len(const rctx *c, const uint8_t *s, size_t n)
{
    size_t k;

    if ((c->flags & CLI_EVENT_WIDE) || n <= CLI_EVENT_VALUE_MAX)
        return n;
    k = CLI_EVENT_VALUE_MAX;
    while (k > 0 && (s[k] & 0xc0) == 0x80)
        k--;
    return k;
}

static void put_cut(rctx *c, size_t shown, size_t n)
{
    if (shown < n)
        fprintf(c->out, "...(+%zu bytes)", n - shown);
}

/* Text: JSON objects and arrays bare (whitespace runs as one space), other
 * text quoted with JSON's escapes. */
static void put_text(rctx *c, const uint8_t *s, size_t n)
{
    size_t k = shown_len(c, s, n), i;
    int bare = n > 0 && (s[0] == '{' || s[0] == '[');
    json_t *probe;

    if (bare) {
        probe = json_loadb((const char *)s, n, JSON_DECODE_ANY, NULL);
        bare = probe != NULL;
        json_decref(probe);
    }
    if (!bare)
        fputc('"', c->out);
    for (i = 0; i < k; i++) {
        uint8_t ch = s[i];
        if (bare && (ch == '\n' || ch == '\r' || ch == '\t')) {
            while (i + 1 < k &&
                   (s[i + 1] == '\n' || s[i + 1] == '\r' || s[i + 1] == '\t' || s[i + 1] == ' '))
                i++;
            fputc(' ', c->out);
        } else if (!bare && ch == '"') {
            fputs("\\\"", c->out);
        } else if (!bare && ch == '\\') {
            fputs("\\\\", c->out);
        } else if (ch == '\n') {
            fputs("\\n", c->out);
        } else if (ch == '\r') {
            fputs("\\r", c->out);
        } else if (ch == '\t') {
            fputs("\\t", c->out);
        } else {
            fputc(ch, c->out);
        }
    }
    if (!bare)
        fputc('"', c->out);
    put_cut(c, k, n);
}

/* A string shown as it is, but for control characters (escaped) and
 * invalid UTF-8 (as \xNN); cut like any value. */
static void put_plain(rctx *c, const char *str, size_t n)
{
    const uint8_t *s = (const uint8_t *)str;
    size_t k = shown_len(c, s, n), i = 0, q;

    while (i < k) {
        if (s[i] == '\n') {
            fputs("\\n", c->out);
            i++;
        } else if (s[i] < 0x20 || s[i] == 0x7f || (q = base_utf8_seq(s + i, n - i)) == 0) {
            fprintf(c->out, "\\x%02x", s[i]);
            i++;
        } else {
            fwrite(s + i, 1, q, c->out);
            i += q;
        }
    }
    put_cut(c, k, n);
}

/* Any JSON value: strings as text, the rest as compact JSON. */
static void put_json(rctx *c, const json_t *v)
{
    char *s;

    if (v == NULL || json_is_null(v)) {
        fputs("none", c->out);
        return;
    }
    if (json_is_string(v)) {
        put_text(c, (const uint8_t *)json_string_value(v), json_string_length(v));
        return;
    }
    s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (s == NULL) {
        fputs("?", c->out);
        return;
    }
    put_plain(c, s, strlen(s));
    free(s);
}

/* Bytes: as text when they are text, else hex. */
static void put_bytes(rctx *c, const uint8_t *s, size_t n)
{
    size_t i, k;

    if (is_text(s, n)) {
        put_text(c, s, n);
        return;
    }
    k = (c->flags & CLI_EVENT_WIDE) || n <= CLI_EVENT_VALUE_MAX / 2 ? n : CLI_EVENT_VALUE_MAX / 2;
    fputs("0x", c->out);
    for (i = 0; i < k; i++)
        fprintf(c->out, "%02x", s[i]);
    fprintf(c->out, " (%zu byte%s%s)", n, n == 1 ? "" : "s", k < n ? ", cut" : "");
}

char *cli_bytes_text(const uint8_t *bytes, size_t len, unsigned flags)
{
    char *buf = NULL;
    size_t n = 0;
    rctx c = {.ids = NULL, .flags = flags};

    if ((c.out = open_memstream(&buf, &n)) == NULL)
        return NULL;
    put_bytes(&c, bytes, len);
    if (fclose(c.out) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* A byte string recorded as hex ("none" for null). */
static void put_hex(rctx *c, const json_t *v)
{
    const char *h;
    size_t n;
    uint8_t *b;

    if (!json_is_string(v)) {
        put_json(c, v);
        return;
    }
    h = json_string_value(v);
    n = json_string_length(v);
    b = n % 2 == 0 ? malloc(n / 2 + 1) : NULL;
    if (b == NULL || base_hex_decode(h, b, n / 2) != 0)
        put_json(c, v);
    else
        put_bytes(c, b, n / 2);
    free(b);
}

/* An actor id, in its short form. */
static void put_id(rctx *c, const json_t *v)
{
    char buf[CLI_ID_MAX + 1];

    if (!json_is_string(v) || json_string_length(v) > CLI_ID_MAX) {
        put_json(c, v);
        return;
    }
    if (c->flags & CLI_EVENT_WIDE)
        fputs(json_string_value(v), c->out);
    else
        fputs(cli_ids_short(c->ids, json_string_value(v), buf, sizeof buf), c->out);
}

/* A string shown by its first `width` characters unless --wide (ids,
 * hashes); anything else as JSON. */
static void put_short(rctx *c, const json_t *v, int width)
{
    if (!json_is_string(v)) {
        put_json(c, v);
        return;
    }
    if (c->flags & CLI_EVENT_WIDE)
        fputs(json_string_value(v), c->out);
    else
        fprintf(c->out, "%.*s", width, json_string_value(v));
}

/* An id that is not an actor's (request, channel): 8 characters unless
 * --wide. */
static void put_other_id(rctx *c, const json_t *v)
{
    put_short(c, v, 8);
}

/* A durable actor's message id ("message_id", docs/events.md): ", message
 * id" and 8 characters of it (whole with --wide), unless it is the request
 * id the summary already shows (`shown`, may be NULL).  A message's id is a
 * time-ordered UUID (version 7), whose first characters are the time it
 * was sent (the same for every message of a minute): its last 8 tell
 * messages apart.  Other ids (a request's, version 4) show their first 8. */
static void put_message_id(rctx *c, const json_t *d, const json_t *shown)
{
    const json_t *v = json_object_get(d, "message_id");
    const char *s = json_string_value(v);
    size_t n = s ? strlen(s) : 0;

    if (v == NULL || (shown != NULL && json_equal((json_t *)v, (json_t *)shown)))
        return;
    fputs(", message id ", c->out);
    if (n == 36 && s[14] == '7' && !(c->flags & CLI_EVENT_WIDE))
        fputs(s + 28, c->out);
    else
        put_other_id(c, v);
}

/* An error type: its name (also when recorded as a number). */
static void put_error_type(rctx *c, const json_t *v)
{
    const char *name = json_is_integer(v) ? cli_error_type_name((long)json_integer_value(v)) : NULL;

    if (name != NULL)
        fputs(name, c->out);
    else if (json_is_string(v))
        fputs(json_string_value(v), c->out);
    else
        put_json(c, v);
}

/* The fields of `d` not named in `used` (NULL-terminated), as key=value. */
static void put_rest(rctx *c, const json_t *d, const char *const *used)
{
    const char *key;
    json_t *v;
    size_t i;

    json_object_foreach((json_t *)d, key, v)
    {
        for (i = 0; used[i] != NULL && strcmp(used[i], key) != 0; i++)
            ;
        if (used[i] != NULL)
            continue;
        fprintf(c->out, " %s=", key);
        put_json(c, v);
    }
}

/* A short string that reads as a word (a name, a version, a reason):
 * bare when it has no space or control character, else quoted. */
static void put_word(rctx *c, const json_t *v)
{
    const char *s = json_string_value(v);
    size_t i, n = json_string_length(v);

    for (i = 0; s != NULL && i < n; i++)
        if ((unsigned char)s[i] <= ' ' || s[i] == '"' || s[i] == 0x7f)
            break;
    if (s != NULL && n > 0 && i == n && n <= CLI_EVENT_VALUE_MAX)
        fputs(s, c->out);
    else
        put_json(c, v);
}

static const char *str_of(const json_t *d, const char *key)
{
    return json_string_value(json_object_get(d, key));
}

/* ------------------------------------------------------------------ */
/* Summaries, one per event type                                      */

/* A component hash: its first 12 digits unless --wide. */
static void put_component(rctx *c, const json_t *v)
{
    put_short(c, v, 12);
}

static void sum_spawned(rctx *c, const json_t *d)
{
    static const char *const used[] = {"id",      "name",       "version",   "manifest", "parent",
                                       "resumed", "init_state", "component", "limits",   NULL};
    const json_t *parent = json_object_get(d, "parent");

    fputs("started ", c->out);
    put_word(c, json_object_get(d, "name"));
    if (json_object_get(d, "version") != NULL) {
        fputc(' ', c->out);
        put_word(c, json_object_get(d, "version"));
    }
    if (json_is_string(json_object_get(d, "manifest"))) {
        fputs(" from ", c->out);
        fputs(str_of(d, "manifest"), c->out);
    } else {
        fputs(" from manifest text", c->out);
    }
    if (parent != NULL && !json_is_null(parent)) {
        fputs(", parent ", c->out);
        put_id(c, parent);
    }
    /* supervisor.resume: that state, no init */
    fputs(json_is_true(json_object_get(d, "resumed")) ? ", resumed with state " : ", init state ",
          c->out);
    put_hex(c, json_object_get(d, "init_state"));
    if (json_object_get(d, "component") != NULL) {
        fputs(", component ", c->out);
        put_component(c, json_object_get(d, "component"));
    }
    put_rest(c, d, used);
}

/* Parameter kinds of each export: i actor id, b bytes, B bytes or none,
 * r request id, c channel id, e error record. */
static const struct {
    const char *fn, *params;
} call_shapes[] = {
    {"init", "i"},
    {"handle-send", "b"},
    {"handle-request", "rb"},
    {"handle-channel-open", "cb"},
    {"handle-channel-message", "cb"},
    {"handle-channel-close", "c"},
    {"handle-child-error", "ie"},
    {"handle-child-exit", "iB"},
    {"handle-child-external-stop", "i"},
};

static const char *call_shape(const char *fn)
{
    size_t i;

    for (i = 0; fn != NULL && i < sizeof call_shapes / sizeof call_shapes[0]; i++)
        if (strcmp(fn, call_shapes[i].fn) == 0)
            return call_shapes[i].params;
    return "";
}

static void put_error_record(rctx *c, const json_t *e)
{
    static const char *const used[] = {"error_type", "data", NULL};
    const json_t *data = json_object_get(e, "data");

    if (!json_is_object(e)) {
        put_json(c, e);
        return;
    }
    put_error_type(c, json_object_get(e, "error_type"));
    if (data != NULL && !json_is_null(data)) {
        fputs(": ", c->out);
        put_json(c, data);
    }
    put_rest(c, e, used);
}

static void put_params(rctx *c, const char *fn, const json_t *params)
{
    const char *shape = call_shape(fn);
    size_t i, n = shape[0] ? strlen(shape) : 0;
    json_t *p;

    fputc('(', c->out);
    json_array_foreach((json_t *)params, i, p)
    {
        if (i > 0)
            fputs(", ", c->out);
        switch (i < n ? shape[i] : '?') {
        case 'i': put_id(c, p); break;
        case 'b':
        case 'B': put_hex(c, p); break;
        case 'r':
            fputs("request ", c->out);
            put_other_id(c, p);
            break;
        case 'c':
            fputs("channel ", c->out);
            put_other_id(c, p);
            break;
        case 'e': put_error_record(c, p); break;
        default: put_json(c, p); break;
        }
    }
    fputc(')', c->out);
}

/* What an export returned: {state[, response | accepted, message]}; the
 * caller adds the rest of the object's fields. */
static void put_result(rctx *c, const json_t *r)
{
    const json_t *acc = json_object_get(r, "accepted");

    fputs(" -> ", c->out);
    if (acc != NULL) {
        fputs(json_is_true(acc) ? "accepted" : "refused", c->out);
        fputs(", message ", c->out);
        put_hex(c, json_object_get(r, "message"));
        fputs(",", c->out);
    } else if (json_object_get(r, "response") != NULL) {
        fputs("response ", c->out);
        put_hex(c, json_object_get(r, "response"));
        fputs(",", c->out);
    } else {
        fputs("ok,", c->out);
    }
    fputs(" state ", c->out);
    put_hex(c, json_object_get(r, "state"));
}

static void sum_call(rctx *c, const json_t *d)
{
    static const char *const used[] = {"function", "params", "from", "result", "message_id", NULL};
    static const char *const rused[] = {"state", "response", "accepted", "message", NULL};
    const char *fn = str_of(d, "function");
    const json_t *params = json_object_get(d, "params");
    const json_t *res = json_object_get(d, "result");

    fputs(fn ? fn : "?", c->out);
    /* an inbound event's export (with "interface") is not actor#F or
     * message-server-client#F: http-handlers#handle-request's first
     * param is a handler id, not a request id */
    if (json_is_array(params))
        put_params(c, json_object_get(d, "interface") == NULL ? fn : NULL, params);
    if (json_object_get(d, "from") != NULL) {
        fputs(" from ", c->out);
        put_id(c, json_object_get(d, "from"));
    }
    if (json_is_object(res)) {
        put_result(c, res);
        put_rest(c, res, rused);
    }
    /* handle-request's message id is its request id, shown already */
    put_message_id(c, d,
                   fn != NULL && strcmp(fn, "handle-request") == 0 && json_is_array(params)
                       ? json_array_get(params, 0)
                       : NULL);
    put_rest(c, d, used);
}

static void sum_result(rctx *c, const json_t *d)
{
    static const char *const used[] = {"function", "state", "response", "accepted",   "message",
                                       "params",   "from",  "result",   "message_id", NULL};
    const char *fn = str_of(d, "function");

    fputs(fn ? fn : "?", c->out);
    put_result(c, d);
    put_message_id(c, d, NULL);
    put_rest(c, d, used);
}

/* Host functions whose input fields (`in_bytes`: space-separated keys,
 * "[last]" for the last element of an array input) or output `ok` is a
 * byte string, and which return actor ids.  Keys are listed both as the
 * handlers recorded them by hand ("to", "init") and as the generated WIT
 * glue records them (the WIT parameter names, "actor-id", "init-bytes"). */
static const struct {
    const char *iface, *fn, *in_bytes;
    int out_bytes, out_id;
} host_shapes[] = {
    {"runtime", "shutdown", "data", 0, 0},
    {"message-server-host", "send", "msg", 0, 0},
    {"message-server-host", "request", "msg", 1, 0},
    {"message-server-host", "open-channel", "msg initial-msg", 0, 0},
    {"message-server-host", "send-on-channel", "msg", 0, 0},
    {"message-server-host", "respond-to-request", "msg response", 0, 0},
    {"supervisor", "spawn", "init init-bytes", 0, 1},
    {"supervisor", "resume", "init init-state", 0, 1},
    {"supervisor", "list-children", NULL, 0, 1},
    {"supervisor", "get-child-state", NULL, 1, 0},
    {"store", "store", "[last] content", 0, 0},
    {"store", "store-at-label", "[last] content", 0, 0},
    {"store", "replace-content-at-label", "[last] content", 0, 0},
    {"store", "get", NULL, 1, 0},
    {"random", "random-bytes", NULL, 1, 0},
    {"filesystem", "read-file", NULL, 1, 0},
};

/* 1 if `key` is one of the space-separated words of `list`. */
static int in_list(const char *list, const char *key)
{
    size_t n = strlen(key);
    const char *p = list;

    if (n == 0)
        return 0; /* strstr finds "" everywhere: it would never advance */
    while (p != NULL && (p = strstr(p, key)) != NULL) {
        if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
            return 1;
        p += n;
    }
    return 0;
}

static int host_shape(const char *iface, const char *fn)
{
    size_t i;

    for (i = 0; iface && fn && i < sizeof host_shapes / sizeof host_shapes[0]; i++)
        if (strcmp(iface, host_shapes[i].iface) == 0 && strcmp(fn, host_shapes[i].fn) == 0)
            return (int)i;
    return -1;
}

static void put_host_input(rctx *c, int shape, const json_t *in)
{
    const char *bytes_key = shape >= 0 ? host_shapes[shape].in_bytes : NULL;
    const char *key;
    json_t *v;
    size_t i, n;
    int first = 1;

    fputc('(', c->out);
    if (json_is_array(in)) {
        n = json_array_size(in);
        json_array_foreach((json_t *)in, i, v)
        {
            fputs(i ? ", " : "", c->out);
            if (bytes_key != NULL && in_list(bytes_key, "[last]") && i + 1 == n)
                put_hex(c, v);
            else
                put_json(c, v);
        }
    } else if (json_is_object(in)) {
        json_object_foreach((json_t *)in, key, v)
        {
            /* one argument goes without its name: log("..."), read-file("a") */
            if (json_object_size(in) > 1)
                fprintf(c->out, "%s%s ", first ? "" : ", ", key);
            first = 0;
            if (bytes_key != NULL && in_list(bytes_key, key))
                put_hex(c, v);
            else if (in_list("to child actor-id child-id", key))
                put_id(c, v);
            else if (in_list("channel request channel-id request-id", key))
                put_other_id(c, v);
            else
                put_json(c, v);
        }
    } else if (in != NULL && !json_is_null(in)) {
        put_json(c, in);
    }
    fputc(')', c->out);
}

static void put_host_value(rctx *c, int shape, const json_t *v)
{
    size_t i;
    json_t *x;

    if (shape >= 0 && host_shapes[shape].out_bytes) {
        put_hex(c, v);
    } else if (shape >= 0 && host_shapes[shape].out_id && json_is_array(v)) {
        fputc('[', c->out);
        json_array_foreach((json_t *)v, i, x)
        {
            fputs(i ? ", " : "", c->out);
            put_id(c, x);
        }
        fputc(']', c->out);
    } else if (shape >= 0 && host_shapes[shape].out_id) {
        put_id(c, v);
    } else {
        put_json(c, v);
    }
}

static void put_host_output(rctx *c, int shape, const json_t *out)
{
    const json_t *ok = json_object_get(out, "ok"), *err = json_object_get(out, "err");

    if (out == NULL || json_is_null(out))
        return;
    fputs(" -> ", c->out);
    if (json_is_object(out) && json_object_size(out) == 1 && err != NULL) {
        fputs("error ", c->out);
        put_json(c, err);
    } else if (json_is_object(out) && json_object_size(out) == 1 && ok != NULL) {
        if (json_is_null(ok) && !(shape >= 0 && host_shapes[shape].out_bytes))
            fputs("ok", c->out);
        else
            put_host_value(c, shape, ok);
    } else {
        put_json(c, out);
    }
}

static void sum_host(rctx *c, const json_t *d)
{
    static const char *const used[] = {"interface", "function", "input", "output", NULL};
    const char *iface = str_of(d, "interface"), *fn = str_of(d, "function");
    int shape = host_shape(iface, fn);

    fprintf(c->out, "%s.%s", iface ? iface : "?", fn ? fn : "?");
    put_host_input(c, shape, json_object_get(d, "input"));
    put_host_output(c, shape, json_object_get(d, "output"));
    put_rest(c, d, used);
}

static void sum_failed(rctx *c, const json_t *d)
{
    static const char *const used[] = {"error_type", "message",   "actor",      "name",
                                       "function",   "backtrace", "message_id", NULL};
    const json_t *bt = json_object_get(d, "backtrace"), *f;
    const char *fn = str_of(d, "function");
    size_t i;

    if (json_is_string(json_object_get(d, "name"))) {
        fputs(str_of(d, "name"), c->out);
        fputc(' ', c->out);
    }
    if (json_object_get(d, "actor") != NULL) {
        fputc('(', c->out);
        put_id(c, json_object_get(d, "actor"));
        fputs(") ", c->out);
    }
    fputs("failed", c->out);
    if (fn != NULL)
        fprintf(c->out, " in %s", fn);
    fputs(": ", c->out);
    put_error_type(c, json_object_get(d, "error_type"));
    fputs(": ", c->out);
    if (json_is_string(json_object_get(d, "message")))
        put_plain(c, str_of(d, "message"), json_string_length(json_object_get(d, "message")));
    else
        put_json(c, json_object_get(d, "message"));
    put_message_id(c, d, NULL);
    put_rest(c, d, used);
    if (json_is_array(bt)) {
        json_array_foreach((json_t *)bt, i, f)
        {
            fputs("\n            at ", c->out);
            if (json_is_string(f))
                put_plain(c, json_string_value(f), json_string_length(f));
            else
                put_json(c, f);
        }
    }
}

static void put_id_list(rctx *c, const json_t *v)
{
    size_t i;
    json_t *x;

    if (!json_is_array(v)) {
        put_json(c, v);
        return;
    }
    json_array_foreach((json_t *)v, i, x)
    {
        fputs(i ? ", " : "", c->out);
        put_id(c, x);
    }
}

static void sum_supervisor(rctx *c, const json_t *d)
{
    static const char *const used[] = {"action",       "strategy",       "trigger",
                                       "because",      "children",       "child",
                                       "max_restarts", "within_seconds", NULL};
    const char *action = str_of(d, "action"), *strat = str_of(d, "strategy");
    const json_t *trigger = json_object_get(d, "trigger");

    fputs(action ? action : "?", c->out);
    if (action != NULL && strcmp(action, "escalate") == 0) {
        fprintf(c->out, " (%s): more than ", strat ? strat : "?");
        put_json(c, json_object_get(d, "max_restarts"));
        fputs(" restarts within ", c->out);
        put_json(c, json_object_get(d, "within_seconds"));
        fputs(" s, child ", c->out);
        put_id(c, json_object_get(d, "child"));
    } else {
        if (json_object_get(d, "children") != NULL) {
            fputc(' ', c->out);
            put_id_list(c, json_object_get(d, "children"));
        }
        if (strat != NULL && strcmp(strat, "actor") == 0)
            fputs(" (asked by the actor)", c->out);
        else if (strat != NULL)
            fprintf(c->out, " (%s)", strat);
        if (trigger != NULL && !json_is_null(trigger)) {
            const char *why = json_string_value(json_object_get(d, "because"));
            fputs(" after ", c->out);
            put_id(c, trigger);
            /* chains from before "because" did not say which */
            fprintf(c->out, " %s",
                    why != NULL && strcmp(why, "exited") == 0 ? "exited"
                    : why != NULL                             ? "failed"
                                                              : "ended");
        }
    }
    put_rest(c, d, used);
}

static void sum_restarted(rctx *c, const json_t *d)
{
    static const char *const used[] = {"init_state", "resumed", "component", NULL};

    fputs(json_is_true(json_object_get(d, "resumed")) ? "restarted, resumed with state "
                                                      : "restarted, init state ",
          c->out);
    put_hex(c, json_object_get(d, "init_state"));
    if (json_object_get(d, "component") != NULL) {
        fputs(", component ", c->out);
        put_component(c, json_object_get(d, "component"));
    }
    put_rest(c, d, used);
}

static void sum_updated(rctx *c, const json_t *d)
{
    static const char *const used[] = {"from",     "component", "version", "from_version",
                                       "migrated", "state",     NULL};
    const json_t *v = json_object_get(d, "version"), *fv = json_object_get(d, "from_version");

    fputs("component ", c->out);
    put_component(c, json_object_get(d, "from"));
    fputs(" -> ", c->out);
    put_component(c, json_object_get(d, "component"));
    if (json_is_string(fv) && json_is_string(v))
        fprintf(c->out, " (version %s -> %s)", json_string_value(fv), json_string_value(v));
    fputs(json_is_true(json_object_get(d, "migrated")) ? ", migrated: state " : ", state ", c->out);
    put_hex(c, json_object_get(d, "state"));
    put_rest(c, d, used);
}

/* "actor-restored" (docs/durability.md): brought back by a new daemon. */
static void sum_restored(rctx *c, const json_t *d)
{
    static const char *const used[] = {"id",        "name",    "version", "manifest",
                                       "parent",    "state",   "init",    "after_seq",
                                       "component", "resumed", NULL};
    const json_t *parent = json_object_get(d, "parent"), *after = json_object_get(d, "after_seq");

    fputs("restored ", c->out);
    put_word(c, json_object_get(d, "name"));
    if (json_is_integer(after))
        fprintf(c->out, " after event %lld", (long long)json_integer_value(after));
    if (parent != NULL && !json_is_null(parent)) {
        fputs(", parent ", c->out);
        put_id(c, parent);
    }
    fputs(", state ", c->out);
    put_hex(c, json_object_get(d, "state"));
    if (json_is_true(json_object_get(d, "init")))
        fputs(", init runs again", c->out);
    if (json_is_true(json_object_get(d, "resumed"))) /* supervisor.resume's: never init */
        fputs(", resumed", c->out);
    if (json_object_get(d, "component") != NULL) {
        fputs(", component ", c->out);
        put_component(c, json_object_get(d, "component"));
    }
    put_rest(c, d, used);
}

static void sum_stopped(rctx *c, const json_t *d)
{
    static const char *const used[] = {"reason", "data", NULL};
    const json_t *data = json_object_get(d, "data");

    fputs("stopped: ", c->out);
    put_word(c, json_object_get(d, "reason"));
    if (data != NULL && !json_is_null(data)) {
        fputs(", data ", c->out);
        put_hex(c, data);
    }
    put_rest(c, d, used);
}

static void sum_dropped(rctx *c, const json_t *d)
{
    static const char *const used[] = {"function", "message_id", NULL};
    static const char *const used_n[] = {"reason", "count", NULL};
    const char *fn = str_of(d, "function");
    const json_t *n = json_object_get(d, "count");

    if (json_is_integer(n)) { /* messages it never handled: it ended first */
        const char *why = str_of(d, "reason");
        long long k = (long long)json_integer_value(n);
        fprintf(c->out, "%lld message%s never handled: dropped (the actor %s)", k,
                k == 1 ? "" : "s", why ? why : "ended");
        put_rest(c, d, used_n);
        return;
    }

    fprintf(c->out, "%s is not exported: message dropped", fn ? fn : "?");
    put_message_id(c, d, NULL);
    put_rest(c, d, used);
}

static void sum_skipped(rctx *c, const json_t *d)
{
    static const char *const used[] = {NULL};

    fputs("init is not exported: started without it", c->out);
    put_rest(c, d, used);
}

static const struct {
    const char *type;
    void (*fn)(rctx *c, const json_t *d);
} summaries[] = {
    {"actor-spawned", sum_spawned},     {"wasm-call", sum_call},
    {"wasm-result", sum_result},        {"host-call", sum_host},
    {"actor-failed", sum_failed},       {"supervisor-action", sum_supervisor},
    {"actor-restarted", sum_restarted}, {"actor-stopped", sum_stopped},
    {"message-dropped", sum_dropped},   {"init-skipped", sum_skipped},
    {"component-updated", sum_updated}, {"actor-restored", sum_restored},
};

/* ------------------------------------------------------------------ */
/* Lines                                                              */

static void put_time(FILE *out, uint64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    char buf[40];

    gmtime_r(&t, &tm);
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    fprintf(out, "%s.%03uZ", buf, (unsigned)(ms % 1000));
}

/* Render `ev`; `data` is its data parsed (borrowed), or NULL when it is
 * not JSON (then ev->data is shown as bytes).  `instead` (may be NULL) is
 * shown in place of the data; `note` (may be NULL) in place of the
 * description: after the data in parentheses, nothing when "". */
static char *render(const cli_event *ev, const json_t *data, const char *instead, const char *note,
                    const cli_ids *ids, unsigned flags)
{
    char *buf = NULL, idbuf[CLI_ID_MAX + 1];
    size_t len = 0, i;
    rctx c;
    int done = 0;

    c.out = open_memstream(&buf, &len);
    if (c.out == NULL)
        return NULL;
    c.ids = ids;
    c.flags = flags;
    if ((flags & CLI_EVENT_ACTOR) && ev->actor != NULL) {
        const char *shown = (flags & CLI_EVENT_WIDE) || strlen(ev->actor) > CLI_ID_MAX
                                ? ev->actor
                                : cli_ids_short(ids, ev->actor, idbuf, sizeof idbuf);
        c.flags |= CLI_EVENT_WIDE; /* ids are whole (or short) already */
        put_plain(&c, shown, strlen(shown));
        c.flags = flags;
        fputs("  ", c.out);
    }
    if (!(flags & CLI_EVENT_NO_SEQ))
        fprintf(c.out, "%6" PRIu64 "  ", ev->seq);
    put_time(c.out, ev->timestamp_ms);
    fputs("  ", c.out);
    put_plain(&c, ev->type, strlen(ev->type));
    for (i = strlen(ev->type); i < 17; i++)
        fputc(' ', c.out);
    fputs("  ", c.out);
    if (instead != NULL) {
        fputs(instead, c.out);
        done = 1;
    }
    for (i = 0; !done && data != NULL && json_is_object(data) &&
                i < sizeof summaries / sizeof summaries[0];
         i++) {
        if (strcmp(ev->type, summaries[i].type) == 0) {
            summaries[i].fn(&c, data);
            done = 1;
            break;
        }
    }
    if (!done && data != NULL)
        put_json(&c, data);
    else if (!done)
        put_bytes(&c, ev->data, ev->data_len);
    if (note != NULL) {
        if (note[0] != '\0')
            fprintf(c.out, "  (%s)", note);
    } else if (ev->description != NULL) {
        fputs("  (", c.out);
        put_text(&c, (const uint8_t *)ev->description, strlen(ev->description));
        fputc(')', c.out);
    }
    fputc('\n', c.out);
    if (ferror(c.out)) {
        fclose(c.out);
        free(buf);
        return NULL;
    }
    fclose(c.out);
    return buf;
}

static json_t *parse_data(const cli_event *ev)
{
    if (ev->data_len == 0 || ev->data == NULL)
        return NULL;
    return json_loadb((const char *)ev->data, ev->data_len,
                      JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
}

/* ------------------------------------------------------------------ */
/* Events recorded by content reference                               */

void cli_content_init(cli_content *c, const char *home)
{
    memset(c, 0, sizeof *c);
    c->home = home;
}

void cli_content_release(cli_content *c)
{
    if (c == NULL)
        return;
    th_store_close(c->store);
    c->store = NULL;
}

/* Whether `ev` is recorded by content reference, by
 * th_chain_event_content_ref on its recorded text (an event given in the
 * JSON form, its data a value in `data`, is written back in that text
 * first): then the content's SHA-256 in hex and its size. */
static bool content_ref_of(const cli_event *ev, const json_t *data, char hex[65], uint64_t *size)
{
    const json_t *ref = json_object_get(data, "content-ref"), *n = json_object_get(data, "size");
    th_chain_event ce;
    uint8_t hash[TH_CHAIN_HASH_LEN];
    char text[160];
    int len;

    if (ev->description == NULL || strcmp(ev->description, TH_CHAIN_CONTENT_REF_DESC) != 0)
        return false;
    memset(&ce, 0, sizeof ce);
    ce.description = ev->description;
    if (ev->data != NULL) {
        ce.data = ev->data;
        ce.data_len = ev->data_len;
    } else {
        if (json_object_size(data) != 2 || !json_is_string(ref) || !json_is_integer(n) ||
            json_string_length(ref) != 64 || json_integer_value(n) < 0)
            return false;
        len = snprintf(text, sizeof text,
                       "{\"content-ref\":\"%s\",\"size\":%" JSON_INTEGER_FORMAT "}",
                       json_string_value(ref), json_integer_value(n));
        if (len < 0 || (size_t)len >= sizeof text)
            return false;
        ce.data = (const uint8_t *)text;
        ce.data_len = (size_t)len;
    }
    if (!th_chain_event_content_ref(&ce, hash, size))
        return false;
    base_hex_encode(hash, sizeof hash, hex);
    return true;
}

/* A size in words: "512 bytes", "140.0 MB" (powers of 1000). */
static void put_size(char *out, size_t cap, uint64_t n)
{
    static const char *const units[] = {"kB", "MB", "GB"};
    double v = (double)n;
    int u = -1;

    if (n < 1000) {
        snprintf(out, cap, "%" PRIu64 " byte%s", n, n == 1 ? "" : "s");
        return;
    }
    while (v >= 1000 && u < 2) {
        v /= 1000;
        u++;
    }
    snprintf(out, cap, "%.1f %s", v, units[u]);
}

/* The content `hex` of `size` bytes from the home's store (verified;
 * malloc'd), or NULL with the reason it cannot be shown in `why` ("" when
 * no store is at hand; else a clause: "it is not in the home's store"). */
static void *content_get(cli_content *c, const char *hex, uint64_t size, size_t *len, char *why,
                         size_t cap)
{
    th_store_config cfg = {0};
    th_error err;
    void *data = NULL;
    int rc;

    why[0] = '\0';
    if (c == NULL)
        return NULL;
    if (size > TH_CLI_MAX_EVENT_CONTENT_BYTES) {
        snprintf(why, cap, "too large to show here: `theater store get --store %s %s` writes it",
                 TH_CHAIN_CONTENT_STORE, hex);
        return NULL;
    }
    if (c->store == NULL && c->open_rc == 0) {
        cfg.home = c->home;
        cfg.read_only = true;
        if ((rc = th_store_open(&cfg, &c->store, &err)) != 0) {
            c->store = NULL;
            c->open_rc = rc;
            snprintf(c->open_msg, sizeof c->open_msg, "%s", err.msg);
        }
    }
    if (c->store == NULL) {
        snprintf(why, cap, "the home's store cannot be read: %s", c->open_msg);
        return NULL;
    }
    rc = th_store_get(c->store, TH_CHAIN_CONTENT_STORE, hex, &data, len, &err);
    if (rc == TH_ENOENT)
        snprintf(why, cap, "it is not in the home's store");
    else if (rc != 0)
        snprintf(why, cap, "it cannot be read: %s", err.msg);
    else if (*len != size)
        snprintf(why, cap, "the home's store has %zu bytes of it, not %" PRIu64, *len, size);
    if (why[0] != '\0') {
        free(data);
        return NULL;
    }
    return data;
}

/* An event recorded by content reference: from its content, or in words
 * when that cannot be had. */
static char *render_ref(const cli_event *ev, const char *hex, uint64_t size, const cli_ids *ids,
                        cli_content *content, unsigned flags)
{
    char why[TH_ERROR_MSG_MAX + 128], words[sizeof why + 256], sz[32];
    cli_event real = *ev;
    json_t *data;
    size_t len = 0;
    void *bytes = content_get(content, hex, size, &len, why, sizeof why);
    char *s;

    put_size(sz, sizeof sz, size);
    if (bytes != NULL) {
        real.data = bytes;
        real.data_len = len;
        real.description = NULL;
        data = parse_data(&real);
        snprintf(words, sizeof words, "recorded by reference: %s", sz);
        s = render(&real, data, NULL, words, ids, flags);
        json_decref(data);
        free(bytes);
        return s;
    }
    snprintf(words, sizeof words, "(data recorded by reference: %s, sha256 %.*s%s%s%s)", sz,
             (flags & CLI_EVENT_WIDE) ? 64 : 8, hex, (flags & CLI_EVENT_WIDE) ? "" : "...",
             why[0] ? "; " : "", why);
    return render(ev, NULL, words, "", ids, flags);
}

/* The human form of `ev`, whose data `data` parses to (NULL: not JSON). */
static char *event_text(const cli_event *ev, const json_t *data, const cli_ids *ids,
                        cli_content *content, unsigned flags)
{
    char hex[65];
    uint64_t size;

    if (content_ref_of(ev, data, hex, &size))
        return render_ref(ev, hex, size, ids, content, flags);
    return render(ev, data, NULL, NULL, ids, flags);
}

char *cli_event_text(const cli_event *ev, const cli_ids *ids, cli_content *content, unsigned flags)
{
    json_t *data = parse_data(ev);
    char *s = event_text(ev, data, ids, content, flags);

    json_decref(data);
    return s;
}

/* ------------------------------------------------------------------ */
/* The JSON form                                                      */

/* Error types recorded as numbers become their names. */
static void name_error_type(json_t *obj)
{
    json_t *v = json_object_get(obj, "error_type");
    const char *name;

    if (json_is_integer(v) && (name = cli_error_type_name((long)json_integer_value(v))) != NULL)
        json_object_set_new(obj, "error_type", json_string(name));
}

static json_t *hex_json(const uint8_t *b, size_t n)
{
    char *h = malloc(2 * n + 1);
    json_t *v;

    if (h == NULL)
        return NULL;
    v = json_string(base_hex_encode(b, n, h));
    free(h);
    return v;
}

/* A JSON string of `s`, with every byte that is not part of valid UTF-8
 * replaced by U+FFFD (stored names need not be UTF-8; JSON must be). */
static json_t *text_json(const char *s)
{
    size_t n = strlen(s);
    char *fixed;
    json_t *v;

    if (base_utf8_valid((const uint8_t *)s, n))
        return json_string(s);
    if ((fixed = base_utf8_scrub((const uint8_t *)s, n)) == NULL)
        return NULL;
    v = json_string(fixed);
    free(fixed);
    return v;
}

int cli_state_json_add(json_t *o, bool has, const uint8_t *bytes, size_t len)
{
    json_t *v;
    char *hex;
    int rc;

    if (!has)
        return json_object_set_new(o, "state", json_null());
    if ((v = json_loadb((const char *)bytes, len, JSON_DECODE_ANY, NULL)) != NULL)
        return json_object_set_new(o, "state", v);
    if ((hex = malloc(len * 2 + 1)) == NULL)
        return -1;
    rc = json_object_set_new(o, "state_hex", json_string(base_hex_encode(bytes, len, hex)));
    free(hex);
    return rc;
}

json_t *cli_event_json(const cli_event *ev)
{
    json_t *o = json_object(), *data = parse_data(ev), *p;
    int bad = o == NULL;

    if (ev->actor != NULL)
        bad |= json_object_set_new(o, "actor", text_json(ev->actor));
    bad |= json_object_set_new(o, "seq", json_integer((json_int_t)ev->seq));
    bad |= json_object_set_new(o, "event_type", text_json(ev->type));
    bad |= json_object_set_new(o, "timestamp", json_integer((json_int_t)ev->timestamp_ms));
    if (ev->hash != NULL)
        bad |= json_object_set_new(o, "hash", hex_json(ev->hash, 32));
    if (ev->hash != NULL || ev->parent != NULL)
        bad |= json_object_set_new(o, "parent_hash",
                                   ev->parent ? hex_json(ev->parent, 32) : json_null());
    if (data != NULL) {
        if (strcmp(ev->type, "actor-failed") == 0)
            name_error_type(data);
        if (strcmp(ev->type, "wasm-call") == 0 &&
            json_is_array(p = json_object_get(data, "params")) &&
            json_is_object(json_array_get(p, 1)))
            name_error_type(json_array_get(p, 1));
        bad |= json_object_set_new(o, "data", data);
    } else if (ev->data_len == 0) {
        bad |= json_object_set_new(o, "data_hex", json_string(""));
    } else {
        bad |= json_object_set_new(o, "data_hex", hex_json(ev->data, ev->data_len));
    }
    if (ev->description != NULL)
        bad |= json_object_set_new(o, "description", text_json(ev->description));
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

char *cli_event_text_from_json(const json_t *event, const cli_ids *ids, cli_content *content,
                               unsigned flags, th_error *err)
{
    const json_t *seq = json_object_get(event, "seq"), *ts = json_object_get(event, "timestamp");
    const json_t *data = json_object_get(event, "data"), *hex = json_object_get(event, "data_hex");
    cli_event ev;
    uint8_t *raw = NULL;
    char *s;

    memset(&ev, 0, sizeof ev);
    ev.type = json_string_value(json_object_get(event, "event_type"));
    ev.actor = json_string_value(json_object_get(event, "actor"));
    ev.description = json_string_value(json_object_get(event, "description"));
    if (!json_is_object(event) || ev.type == NULL || !json_is_integer(seq) ||
        !json_is_integer(ts) || json_integer_value(seq) < 0 || json_integer_value(ts) < 0 ||
        (data == NULL && !json_is_string(hex))) {
        th_error_set(err, TH_EINVAL,
                     "not an event: it needs event_type, seq, timestamp and data "
                     "or data_hex");
        return NULL;
    }
    ev.seq = (uint64_t)json_integer_value(seq);
    ev.timestamp_ms = (uint64_t)json_integer_value(ts);
    if (data == NULL) {
        size_t n = json_string_length(hex);
        raw = malloc(n / 2 + 1);
        if (raw == NULL) {
            th_error_set(err, TH_ENOMEM, "out of memory");
            return NULL;
        }
        if (n % 2 != 0 || base_hex_decode(json_string_value(hex), raw, n / 2) != 0) {
            free(raw);
            th_error_set(err, TH_EINVAL, "data_hex is not hex");
            return NULL;
        }
        ev.data = raw;
        ev.data_len = n / 2;
    }
    s = event_text(&ev, data, ids, content, flags);
    free(raw);
    if (s == NULL)
        th_error_set(err, TH_ENOMEM, "out of memory");
    return s;
}
