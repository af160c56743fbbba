/*
 * http.c - libmicrohttpd glue: request objects, bodies and their limits,
 * the bearer token on TCP, responses and error bodies, suspension.
 *
 * A request goes through the access handler (on_request) several times:
 *   1. headers complete: the request object is made; a request line and
 *      headers above TH_SERVER_MAX_HEADER_BYTES are answered 414 / 431 at
 *      once, as is a TCP request without the right token (401) and a
 *      Content-Length above the limit (413): the body is never read, the
 *      request never routed;
 *   2. body pieces: appended up to TH_SERVER_MAX_BODY_BYTES (beyond: 413);
 *   3. the end of the body: the request is routed (api.c).  The handler
 *      prepares a response, or makes the request wait (srv_req_wait): the
 *      connection is suspended until srv_req_done resumes it;
 *   4. after a resume: the prepared response is queued.
 * libmicrohttpd holds the request line and headers in the connection's
 * memory (TH_SERVER_CONN_MEMORY_BYTES, twice the server's limit, so
 * that the server answers above its limit with a JSON error).  Only what
 * does not fit there is answered by libmicrohttpd itself (431 / 414, with
 * its own HTML body): on_mhd_log turns its report into the failed
 * request's log line.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "base/clock.h"
#include "base/grow.h"
#include "base/utf8.h"
#include "server/server_int.h"

/* ------------------------------------------------------------------ */
/* Buffers                                                            */

void srv_buf_add(srv_buf *b, const void *p, size_t n)
{
    char *nd;

    if (b->oom || n == 0)
        return;
    if ((nd = base_grow(b->data, &b->cap, b->len + n + 1, 256)) == NULL) {
        b->oom = true;
        return;
    }
    b->data = nd;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
}

void srv_buf_addf(srv_buf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof tmp) {
        srv_buf_add(b, tmp, (size_t)n);
        return;
    }
    {
        char *big = malloc((size_t)n + 1);
        if (big == NULL) {
            b->oom = true;
            return;
        }
        va_start(ap, fmt);
        vsnprintf(big, (size_t)n + 1, fmt, ap);
        va_end(ap);
        srv_buf_add(b, big, (size_t)n);
        free(big);
    }
}

void srv_buf_release(srv_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

void srv_buf_consume(srv_buf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
    } else {
        memmove(b->data, b->data + n, b->len - n);
        b->len -= n;
    }
    if (b->data != NULL)
        b->data[b->len] = 0;
    /* give memory back after a burst */
    if (b->len == 0 && b->cap > 65536) {
        free(b->data);
        b->data = NULL;
        b->cap = 0;
    }
}

/* ------------------------------------------------------------------ */
/* Requests                                                           */

static srv_req *req_new(srv_listener *l, struct MHD_Connection *conn, const char *method,
                        const char *url)
{
    srv_req *r = calloc(1, sizeof *r);
    const union MHD_ConnectionInfo *ci;

    if (r == NULL)
        return NULL;
    r->path = strdup(url);
    if (r->path == NULL) {
        free(r);
        return NULL;
    }
    r->srv = l->srv;
    r->conn = conn;
    r->tcp = l->tcp;
    atomic_init(&r->refs, 1);
    pthread_mutex_init(&r->lock, NULL);
    snprintf(r->method, sizeof r->method, "%s", method);
    ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    if (ci != NULL && ci->socket_context != NULL) {
        r->track = ci->socket_context;
        pthread_mutex_lock(&l->srv->lock);
        r->track->handling = true;
        pthread_mutex_unlock(&l->srv->lock);
    }
    return r;
}

void srv_req_ref(srv_req *r)
{
    atomic_fetch_add(&r->refs, 1);
}

void srv_req_release(srv_req *r)
{
    if (r == NULL || atomic_fetch_sub(&r->refs, 1) != 1)
        return;
    if (r->response != NULL)
        MHD_destroy_response(r->response);
    json_decref(r->args);
    srv_buf_release(&r->body);
    free(r->resp);
    free(r->path);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

void srv_reply(srv_req *r, unsigned status, const char *ctype, char *body, size_t len)
{
    free(r->resp);
    r->status = status;
    r->ctype = ctype;
    r->resp = body;
    r->resp_len = len;
    if (r->state == REQ_NEW || r->state == REQ_WAITING)
        r->state = REQ_READY;
}

void srv_reply_json(srv_req *r, unsigned status, json_t *obj)
{
    char *text = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
    size_t n;

    json_decref(obj);
    if (text == NULL) {
        srv_reply_error(r, 500, "internal", "out of memory");
        return;
    }
    n = strlen(text);
    /* a newline at the end, as curl users expect */
    {
        char *t2 = realloc(text, n + 2);
        if (t2 != NULL) {
            text = t2;
            text[n++] = '\n';
            text[n] = 0;
        }
    }
    srv_reply(r, status, "application/json", text, n);
}

/* The request's path as a log line shows it: at most 200 bytes, "..." when
 * cut, control characters (a decoded %0a) as '?', so that one failed
 * request stays one line whatever its path. */
static const char *log_path(const srv_req *r, char out[static 256])
{
    size_t i;

    for (i = 0; r->path[i] != 0 && i < 200; i++)
        out[i] = (unsigned char)r->path[i] < 0x20 || r->path[i] == 0x7f ? '?' : r->path[i];
    if (r->path[i] != 0) {
        memcpy(out + i, "...", 3);
        i += 3;
    }
    out[i] = 0;
    return out;
}

/* The log line of a failed request; with `frames` (the backtrace of a trap
 * that no actor's "failed" line tells of), the frames under it. */
static void log_failed(const srv_req *r, unsigned status, const char *code, const char *msg,
                       const json_t *frames)
{
    char path[256];

    srv_log_backtrace(r->srv, TH_LOG_WARN, frames, "%s %s -> %u %s: %s", r->method,
                      log_path(r, path), status, code, msg);
}

/* The lines of `backtrace` (may be NULL) as a JSON array of strings; NULL
 * for none (or out of memory). */
static json_t *frames_of(const char *backtrace)
{
    const char *nl;
    json_t *bt;

    if (backtrace == NULL || backtrace[0] == '\0' || (bt = json_array()) == NULL)
        return NULL;
    for (; *backtrace != '\0'; backtrace = nl + (*nl != '\0')) {
        if ((nl = strchr(backtrace, '\n')) == NULL)
            nl = backtrace + strlen(backtrace);
        if (nl > backtrace) /* (a line that is not UTF-8 is left out) */
            json_array_append_new(bt, json_stringn(backtrace, (size_t)(nl - backtrace)));
    }
    return bt;
}

/* The JSON of an error: {"error": {"code", "message"[, "backtrace"]}},
 * "backtrace" the array `frames` (may be NULL: then no such field). */
static char *error_body(const char *code, const char *msg, json_t *frames, size_t *len)
{
    char *utf8 = base_utf8_scrub((const uint8_t *)msg, strlen(msg));
    json_t *o =
        utf8 != NULL ? json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", utf8) : NULL;
    char *text;

    free(utf8);

    if (o != NULL && frames != NULL)
        json_object_set(json_object_get(o, "error"), "backtrace", frames);
    text = o ? json_dumps(o, JSON_COMPACT) : NULL;

    json_decref(o);
    if (text == NULL)
        text = strdup("{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}");
    *len = text ? strlen(text) : 0;
    return text;
}

void srv_reply_error(srv_req *r, unsigned status, const char *code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    size_t len;
    char *body;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    body = error_body(code, msg, NULL, &len);
    srv_reply(r, status, "application/json", body, len);
    log_failed(r, status, code, msg, NULL);
}

unsigned srv_status_of(int code, const char **ecode)
{
    switch (code) {
    case TH_ENOENT: *ecode = "not-found"; return 404;
    case TH_EINVAL: *ecode = "bad-request"; return 400;
    case TH_ETOOBIG: *ecode = "too-large"; return 413;
    case TH_ETIMEDOUT: *ecode = "timeout"; return 504;
    case TH_EBUSY: *ecode = "busy"; return 409;
    case TH_ESTATE: *ecode = "conflict"; return 409;
    case TH_EPERM: *ecode = "refused"; return 409;
    case TH_ECLOSED: *ecode = "closed"; return 409;
    case TH_ENOSYS: *ecode = "not-implemented"; return 501;
    case TH_ETRAP: *ecode = "actor-error"; return 502;
    case TH_ENOMEM: *ecode = "out-of-memory"; return 503;
    default: *ecode = "internal"; return 500;
    }
}

unsigned srv_status_of_delivery(int code, const char **ecode)
{
    switch (code) {
    case TH_ETOOBIG: *ecode = "too-large"; return 413; /* never fits its mailbox */
    case TH_EBUSY: *ecode = "busy"; return 503;        /* its mailbox is full: try again */
    case TH_ECLOSED: *ecode = "shutting-down"; return 503;
    case TH_EIO: *ecode = "storage-error"; return 503; /* a durable message not stored */
    default: *ecode = "out-of-memory"; return 503;
    }
}

bool srv_req_done_undelivered(srv_req *r, int code, const char *msg)
{
    const char *ecode;
    unsigned status = srv_status_of_delivery(code, &ecode);

    return srv_req_done_error(r, status, ecode, "%s", msg);
}

void srv_req_wait(srv_req *r)
{
    pthread_mutex_lock(&r->lock);
    r->state = REQ_WAITING;
    pthread_mutex_unlock(&r->lock);
    r->suspended = true;
    MHD_suspend_connection(r->conn);
}

bool srv_req_done(srv_req *r, unsigned status, const char *ctype, char *body, size_t len)
{
    bool mine;

    pthread_mutex_lock(&r->lock);
    mine = r->state == REQ_WAITING;
    if (mine) {
        srv_reply(r, status, ctype, body, len);
        r->state = REQ_READY;
        MHD_resume_connection(r->conn);
    }
    pthread_mutex_unlock(&r->lock);
    if (!mine)
        free(body);
    return mine;
}

static bool done_errorv(srv_req *r, unsigned status, const char *code, const char *backtrace,
                        bool log_frames, const char *fmt, va_list ap)
    __attribute__((format(printf, 6, 0)));
static bool done_errorv(srv_req *r, unsigned status, const char *code, const char *backtrace,
                        bool log_frames, const char *fmt, va_list ap)
{
    json_t *frames = frames_of(backtrace);
    char msg[1024];
    size_t len;
    char *body;
    bool done;

    vsnprintf(msg, sizeof msg, fmt, ap);
    body = error_body(code, msg, frames, &len);
    done = srv_req_done(r, status, "application/json", body, len);
    if (done) /* (without log_frames, the actor's "failed" line has them) */
        log_failed(r, status, code, msg, log_frames ? frames : NULL);
    json_decref(frames);
    return done;
}

bool srv_req_done_error(srv_req *r, unsigned status, const char *code, const char *fmt, ...)
{
    va_list ap;
    bool done;

    va_start(ap, fmt);
    done = done_errorv(r, status, code, NULL, false, fmt, ap);
    va_end(ap);
    return done;
}

bool srv_req_done_failure(srv_req *r, unsigned status, const char *code, const char *backtrace,
                          const char *fmt, ...)
{
    va_list ap;
    bool done;

    va_start(ap, fmt);
    done = done_errorv(r, status, code, backtrace, false, fmt, ap);
    va_end(ap);
    return done;
}

bool srv_req_done_trap(srv_req *r, unsigned status, const char *code, const char *backtrace,
                       const char *fmt, ...)
{
    va_list ap;
    bool done;

    va_start(ap, fmt);
    done = done_errorv(r, status, code, backtrace, true, fmt, ap);
    va_end(ap);
    return done;
}

const char *srv_arg(srv_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *srv_header(srv_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

bool srv_arg_u64(srv_req *r, const char *name, uint64_t max, uint64_t *out)
{
    const char *v = srv_arg(r, name);
    char *end;
    unsigned long long n;

    if (v == NULL) { /* absent, or a flag written bare (?force): true */
        if (max == 1 && MHD_lookup_connection_value_n(r->conn, MHD_GET_ARGUMENT_KIND, name,
                                                      strlen(name), NULL, NULL) == MHD_YES)
            *out = 1;
        return true;
    }
    if (max == 1 && (strcmp(v, "true") == 0 || strcmp(v, "false") == 0)) { /* a flag */
        *out = v[0] == 't';
        return true;
    }
    if (*v < '0' || *v > '9' || (n = strtoull(v, &end, 10), *end != 0) || n > max) {
        srv_reply_error(r, 400, "bad-request", "?%s=%s: expected a whole number from 0 to %llu",
                        name, v, (unsigned long long)max);
        return false;
    }
    *out = n;
    return true;
}

json_t *srv_body_object(srv_req *r, const char *const *allowed)
{
    json_error_t jerr;
    json_t *o, *v;
    const char *key;
    size_t i;

    if (r->body.len == 0)
        return json_object();
    o = json_loadb(r->body.data, r->body.len, JSON_REJECT_DUPLICATES, &jerr);
    if (o == NULL) {
        srv_reply_error(r, 400, "bad-json", "the body is not valid JSON: %s (line %d, column %d)",
                        jerr.text, jerr.line, jerr.column);
        return NULL;
    }
    if (!json_is_object(o)) {
        srv_reply_error(r, 400, "bad-request", "the body must be a JSON object");
        json_decref(o);
        return NULL;
    }
    json_object_foreach(o, key, v)
    {
        for (i = 0; allowed[i] != NULL; i++)
            if (strcmp(key, allowed[i]) == 0)
                break;
        if (allowed[i] == NULL) {
            srv_buf names = {0};
            for (i = 0; allowed[i] != NULL; i++)
                srv_buf_addf(&names, "%s%s", i ? ", " : "", allowed[i]);
            srv_reply_error(r, 400, "unknown-field", "unknown field \"%s\" (known: %s)", key,
                            names.data ? names.data : "none");
            srv_buf_release(&names);
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

/* ------------------------------------------------------------------ */
/* libmicrohttpd callbacks                                            */

/* Constant-time comparison of the bearer token (the scheme's name is
 * case-insensitive, RFC 9110 11.1; spaces after it and whitespace around
 * the field value are not part of the token, RFC 9110 5.5 and 11.4). */
static bool token_ok(th_server *s, struct MHD_Connection *conn)
{
    const char *h =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    size_t n = strlen(s->token), len, i;
    unsigned char diff = 0;

    if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0 || n == 0)
        return false;
    for (h += 7; *h == ' '; h++)
        ;
    for (len = strlen(h); len > 0 && (h[len - 1] == ' ' || h[len - 1] == '\t'); len--)
        ;
    if (len != n)
        return false;
    for (i = 0; i < n; i++)
        diff |= (unsigned char)(h[i] ^ s->token[i]);
    return diff == 0;
}

static enum MHD_Result add_field_size(void *cls, enum MHD_ValueKind kind, const char *key,
                                      size_t key_size, const char *value, size_t value_size)
{
    (void)kind, (void)key, (void)value;
    *(size_t *)cls += key_size + 2 + value_size + 2; /* "KEY: VALUE\r\n" */
    return MHD_YES;
}

/* Whether the request line and headers are above TH_SERVER_MAX_HEADER_BYTES
 * (libmicrohttpd counts them, with the empty line after them); if so, the
 * JSON error is prepared: 414 when the request line alone is above it, 431
 * otherwise. */
static bool head_too_large(srv_req *r)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
    size_t total = ci != NULL ? ci->header_size : 0, fields = 2;

    if (total <= TH_SERVER_MAX_HEADER_BYTES)
        return false;
    MHD_get_connection_values_n(r->conn, MHD_HEADER_KIND, add_field_size, &fields);
    if (fields < total && total - fields > TH_SERVER_MAX_HEADER_BYTES)
        srv_reply_error(r, 414, "uri-too-long",
                        "the request line is %zu bytes, more than the limit of %u bytes "
                        "for the request line and headers",
                        total - fields, TH_SERVER_MAX_HEADER_BYTES);
    else
        srv_reply_error(r, 431, "headers-too-large",
                        "the request line and headers are %zu bytes, more than the limit of %u "
                        "bytes",
                        total, TH_SERVER_MAX_HEADER_BYTES);
    return true;
}

static enum MHD_Result queue(srv_req *r)
{
    struct MHD_Response *resp;
    enum MHD_Result ret;

    r->queued = true;
    /* under the lock: the reaper thread reads the state of a request that
     * waited (server.c, reap_timeouts) */
    pthread_mutex_lock(&r->lock);
    r->state = REQ_SENT;
    pthread_mutex_unlock(&r->lock);
    if (r->response != NULL) { /* a stream */
        ret = MHD_queue_response(r->conn, r->status, r->response);
        MHD_destroy_response(r->response);
        r->response = NULL;
        return ret;
    }
    resp = MHD_create_response_from_buffer(r->resp_len, r->resp, MHD_RESPMEM_MUST_FREE);
    if (resp == NULL)
        return MHD_NO;
    r->resp = NULL; /* libmicrohttpd frees it */
    if (r->ctype != NULL)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->ctype);
    if (r->status == 401)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    if (r->status == 405 && r->allow[0] != 0)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
    if (r->status == 503 || r->close)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    ret = MHD_queue_response(r->conn, r->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* The marker of a request whose raw path has an encoded NUL or slash
 * (%00, %2F): libmicrohttpd decodes the path before the access handler
 * sees it, where a NUL would cut it and a slash be a separator, so such a
 * request is refused (400) rather than routed to what it decodes to. */
static char bad_path;

/* libmicrohttpd's URI log callback: the request target as received; what
 * it returns is the request's first *con_cls. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    const char *p;

    (void)cls, (void)conn;
    for (p = uri; *p != 0 && *p != '?'; p++)
        if (p[0] == '%' && (p[1] == '0' || p[1] == '2') && p[2] != 0 &&
            ((p[1] == '0' && p[2] == '0') || (p[1] == '2' && (p[2] == 'f' || p[2] == 'F'))))
            return &bad_path;
    return NULL;
}

/* Whether the request has Content-Length headers that differ (RFC 9112
 * 6.3: unrecoverable; libmicrohttpd takes the first). */
static enum MHD_Result count_length(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value)
{
    const char **first = cls;

    (void)kind;
    if (key == NULL || strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) != 0 || value == NULL)
        return MHD_YES;
    if (*first == NULL) {
        *first = value;
        return MHD_YES;
    }
    if (strcmp(*first, value) != 0) {
        *first = "";
        return MHD_NO;
    }
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    srv_listener *l = cls;
    srv_req *r = *con_cls;
    const char *cl;
    int st;

    (void)version;
    if (r == NULL || r == (void *)&bad_path) {
        const char *length = NULL;
        bool bad = r != NULL;
        r = req_new(l, conn, method, url);
        *con_cls = r;
        if (r == NULL)
            return MHD_NO;
        if (head_too_large(r))
            return queue(r);
        if (bad) {
            srv_reply_error(r, 400, "bad-request",
                            "the path has an encoded NUL or slash (%%00, %%2F) in a segment");
            return queue(r);
        }
        MHD_get_connection_values(conn, MHD_HEADER_KIND, count_length, &length);
        if (length != NULL && length[0] == 0) {
            srv_reply_error(r, 400, "bad-request",
                            "the request has Content-Length headers that differ");
            r->close = true;
            return queue(r);
        }
        if (l->tcp && !token_ok(l->srv, conn)) {
            srv_reply_error(
                r, 401, "unauthorized",
                "a TCP request needs the header Authorization: Bearer <token of %s/token>",
                l->srv->home);
            return queue(r);
        }
        cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl != NULL && strtoull(cl, NULL, 10) > TH_SERVER_MAX_BODY_BYTES) {
            srv_reply_error(r, 413, "too-large", "the body is larger than %u bytes",
                            TH_SERVER_MAX_BODY_BYTES);
            return queue(r);
        }
        return MHD_YES;
    }
    if (r->queued) { /* answered early: discard the rest */
        *upload_size = 0;
        return MHD_YES;
    }
    if (*upload_size > 0) {
        if (r->body.len + *upload_size > TH_SERVER_MAX_BODY_BYTES)
            r->too_big = true;
        else
            srv_buf_add(&r->body, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    pthread_mutex_lock(&r->lock);
    st = r->state;
    pthread_mutex_unlock(&r->lock);
    if (st == REQ_WAITING)
        return MHD_YES; /* a spurious call while suspended */
    if (st == REQ_READY)
        return queue(r);
    /* the whole request is here */
    if (r->too_big)
        srv_reply_error(r, 413, "too-large", "the body is larger than %u bytes",
                        TH_SERVER_MAX_BODY_BYTES);
    else if (r->body.oom)
        srv_reply_error(r, 503, "out-of-memory", "out of memory reading the body");
    else if (atomic_load(&l->srv->closing))
        srv_reply_error(r, 503, "shutting-down", "the server is shutting down");
    else
        srv_route(r);
    if (r->suspended)
        return MHD_YES; /* the resume calls again, then the answer is queued */
    if (r->state != REQ_READY)
        srv_reply_error(r, 500, "internal", "no response was prepared");
    return queue(r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    srv_listener *l = cls;
    srv_req *r = *con_cls;

    (void)conn, (void)toe;
    if (r == NULL || r == (void *)&bad_path) /* (not read as far as the handler) */
        return;
    if (r->track != NULL) {
        pthread_mutex_lock(&l->srv->lock);
        r->track->handling = false;
        r->track->since_ns = base_clock_mono_ns();
        pthread_mutex_unlock(&l->srv->lock);
    }
    *con_cls = NULL;
    srv_req_release(r);
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    srv_listener *l = cls;
    th_server *s = l->srv;
    srv_conn *c;
    const union MHD_ConnectionInfo *ci;

    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        c = calloc(1, sizeof *c);
        if (c == NULL)
            return;
        ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        c->fd = ci != NULL ? ci->connect_fd : -1;
        c->since_ns = base_clock_mono_ns();
        pthread_mutex_lock(&s->lock);
        c->next = s->conns;
        if (s->conns != NULL)
            s->conns->prev = c;
        s->conns = c;
        pthread_mutex_unlock(&s->lock);
        *socket_context = c;
        return;
    }
    c = *socket_context;
    if (c == NULL)
        return;
    /* called before libmicrohttpd closes the socket: once unlinked here,
     * the reaper cannot touch a reused descriptor */
    pthread_mutex_lock(&s->lock);
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    pthread_mutex_unlock(&s->lock);
    free(c);
    *socket_context = NULL;
}

/* libmicrohttpd's messages are debug lines, except its report of a request
 * it answered itself, before the access handler saw it ("Error processing
 * request (HTTP response code is 431 (...)). Closing connection."): a
 * request line and headers beyond the connection's memory, a malformed
 * request.  That one is the failed request's warn line, as the server logs
 * those it answers. */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    static const char answered[] = "Error processing request (HTTP response code is ";
    srv_listener *l = cls;
    char msg[512];
    unsigned status;
    size_t n;

    vsnprintf(msg, sizeof msg, fmt, ap);
    n = strlen(msg);
    while (n > 0 && msg[n - 1] == '\n')
        msg[--n] = 0;
    if (strncmp(msg, answered, sizeof answered - 1) == 0 &&
        sscanf(msg + sizeof answered - 1, "%u", &status) == 1) {
        if (status == 431 || status == 414)
            srv_log(l->srv, TH_LOG_WARN,
                    "(request not read) -> %u %s: the request line and headers do not fit in "
                    "the connection's %u bytes (the limit is %u bytes); answered by "
                    "libmicrohttpd",
                    status, status == 431 ? "headers-too-large" : "uri-too-long",
                    TH_SERVER_CONN_MEMORY_BYTES, TH_SERVER_MAX_HEADER_BYTES);
        else
            srv_log(l->srv, TH_LOG_WARN, "(request not read) -> %u: %s; answered by libmicrohttpd",
                    status, MHD_get_reason_phrase_for(status));
        return;
    }
    srv_log(l->srv, TH_LOG_DEBUG, "http: %s", msg);
}

int srv_listen(th_server *s, srv_listener *l, int fd, bool tcp, th_error *err)
{
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG;

    l->srv = s;
    l->fd = fd;
    l->tcp = tcp;
    if (tcp) {
        l->d = MHD_start_daemon(
            flags, 0, NULL, NULL, on_request, l, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, l,
            MHD_OPTION_URI_LOG_CALLBACK, on_uri, l, MHD_OPTION_LISTEN_SOCKET, fd,
            MHD_OPTION_NOTIFY_COMPLETED, on_completed, l, MHD_OPTION_NOTIFY_CONNECTION,
            on_connection, l, MHD_OPTION_CONNECTION_LIMIT, (unsigned)TH_SERVER_MAX_CONNECTIONS,
            MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)TH_SERVER_MAX_TCP_PER_IP,
            MHD_OPTION_CONNECTION_TIMEOUT, s->client_timeout_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
            (size_t)TH_SERVER_CONN_MEMORY_BYTES, MHD_OPTION_END);
    } else {
        l->d = MHD_start_daemon(
            flags, 0, NULL, NULL, on_request, l, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, l,
            MHD_OPTION_URI_LOG_CALLBACK, on_uri, l, MHD_OPTION_LISTEN_SOCKET, fd,
            MHD_OPTION_NOTIFY_COMPLETED, on_completed, l, MHD_OPTION_NOTIFY_CONNECTION,
            on_connection, l, MHD_OPTION_CONNECTION_LIMIT, (unsigned)TH_SERVER_MAX_CONNECTIONS,
            MHD_OPTION_CONNECTION_TIMEOUT, s->client_timeout_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
            (size_t)TH_SERVER_CONN_MEMORY_BYTES, MHD_OPTION_END);
    }
    if (l->d == NULL)
        return th_error_set(err, TH_EIO, "cannot start the HTTP server on %s",
                            tcp ? "TCP" : s->sock_path);
    return 0;
}
