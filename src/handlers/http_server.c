/*
 * http_server.c - the servers of the http-framework handler, on the
 * runtime's I/O thread: HTTP/1.1 (and HTTP/2 over TLS) by libh2o on the
 * thread's libuv loop, WebSocket (RFC 6455) by h2o's upgrade and wslay,
 * TLS by OpenSSL.  docs/http.md says why these libraries.
 *
 * A started server is an hf_io: our own listening socket (bound in the
 * actor's turn by hf_bind, so start-server answers the port at once),
 * accepted connections handed to h2o, one h2o context per server.  Every
 * request h2o parses comes to on_req: it is matched against the server's
 * WebSocket paths, middleware and routes (under the owner's lock), then
 * runs as a chain of export calls on the actor (http_call.c): each
 * middleware in registration order, then the route's handler; the answer
 * goes back to the client.  A request whose client has gone is noticed
 * through a dispose hook in h2o's request pool (req becomes NULL).
 *
 * Stopping a server closes its listener, answers its waiting requests 503
 * and shuts down every HTTP connection's socket (h2o then closes each as it
 * would a client that went away).  A WebSocket connection is sent a close
 * frame (1001, going away) after what was queued for it, and ends with the
 * close handshake, or is shut down like the others when it has not ended
 * TH_HTTPD_WS_CLOSE_WAIT_MS after the stop.  Once the last connection is
 * closed the h2o context is disposed.  When the runtime stops, its I/O
 * thread's drain stops every server still running the same way and waits
 * while a WebSocket connection is open (slot_drain, slot_busy), so that
 * the close handshakes end before the quit closes what is left.  Nothing
 * here blocks: the loop also runs timers, other servers and the daemon's
 * work.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <h2o.h>
#include <h2o/websocket.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <uv.h>

#include "handlers/http_int.h"
#include "wit_glue.h"

/* ------------------------------------------------------------------ */
/* Route patterns                                                     */

/* Length of the segment at p (up to '/' or the end e). */
static size_t seg_len(const char *p, const char *e)
{
    const char *q = p;
    while (q < e && *q != '/')
        q++;
    return (size_t)(q - p);
}

bool hf_path_match(const char *pattern, const char *path, size_t len, bool prefix)
{
    const char *p = pattern, *pe = pattern + strlen(pattern), *s = path, *se = path + len;

    for (;;) {
        while (p < pe && *p == '/')
            p++;
        while (s < se && *s == '/')
            s++;
        if (p == pe)
            return s == se || prefix;
        size_t pl = seg_len(p, pe), sl = seg_len(s, se);
        if ((pl == 1 && p[0] == '*') || (pl > 3 && p[0] == '{' && p[1] == '*' && p[pl - 1] == '}'))
            return p + pl == pe; /* wildcard: the rest, if it is the last segment */
        if (s == se)
            return false;
        if (pl >= 2 && p[0] == '{' && p[pl - 1] == '}') {
            /* a parameter: any one non-empty segment */
        } else if (pl != sl || memcmp(p, s, pl) != 0) {
            return false;
        }
        p += pl;
        s += sl;
    }
}

/* ------------------------------------------------------------------ */
/* Binding (any thread)                                               */

static bool port_allowed(const hf_actor *a, unsigned port)
{
    for (size_t i = 0; i < a->nports; i++)
        if (port >= a->ports[i].lo && port <= a->ports[i].hi)
            return true;
    return false;
}

/* A socket bound to host:port and listening; -errno on failure. */
static int bind_one(const char *host, unsigned port, int *fd)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    int s, one = 1;

    memset(&ss, 0, sizeof ss);
    if (inet_pton(AF_INET, host, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
        ((struct sockaddr_in *)&ss)->sin_family = AF_INET;
        ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
        sl = sizeof(struct sockaddr_in);
    } else if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
        ((struct sockaddr_in6 *)&ss)->sin6_family = AF_INET6;
        ((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
        sl = sizeof(struct sockaddr_in6);
    } else {
        return -EINVAL;
    }
    if ((s = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
        return -errno;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(s, (struct sockaddr *)&ss, sl) != 0 || listen(s, 511) != 0) {
        int e = errno;
        close(s);
        return -e;
    }
    *fd = s;
    return 0;
}

static uint16_t bound_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;

    if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0)
        return 0;
    return ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                          : ((struct sockaddr_in *)&ss)->sin_port);
}

int hf_bind(hf_actor *a, hf_server *s, int *fd, uint16_t *port, th_error *err)
{
    int rc = -EADDRINUSE;

    *fd = -1;
    if (s->want_port != 0) {
        if (!port_allowed(a, s->want_port))
            return th_error_set(err, TH_EPERM, "port %u is not in the actor's allowed_ports",
                                s->want_port);
        rc = bind_one(s->host, s->want_port, fd);
    } else if (a->nports == 1 && a->ports[0].lo == 1024 && a->ports[0].hi == 65535) {
        /* the default grant: the kernel's choice (an ephemeral port) */
        if ((rc = bind_one(s->host, 0, fd)) == 0 && !port_allowed(a, bound_port(*fd))) {
            close(*fd);
            *fd = -1;
            rc = -EADDRINUSE;
        }
    } else {
        /* a free port from the granted set, first fit */
        for (size_t i = 0; i < a->nports && rc == -EADDRINUSE; i++)
            for (unsigned p = a->ports[i].lo; p <= a->ports[i].hi && rc == -EADDRINUSE; p++)
                rc = bind_one(s->host, p, fd);
    }
    if (rc != 0)
        return th_error_set(err, rc == -EACCES ? TH_EPERM : TH_EIO, "cannot listen on %s:%u: %s",
                            s->host, s->want_port, strerror(-rc));
    *port = bound_port(*fd);
    return 0;
}

int hf_tls_check(const char *cert, const char *key, const char *cert_name, const char *key_name,
                 th_error *err)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    int rc = 0;

    if (ctx == NULL)
        return th_error_set(err, TH_ENOMEM, "cannot create a TLS context");
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1)
        rc = th_error_set(err, TH_EINVAL, "cannot load the certificate '%s'", cert_name);
    else if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
        rc = th_error_set(err, TH_EINVAL, "cannot load the private key '%s'", key_name);
    else if (SSL_CTX_check_private_key(ctx) != 1)
        rc = th_error_set(err, TH_EINVAL, "the key '%s' does not match the certificate", key_name);
    ERR_clear_error();
    SSL_CTX_free(ctx);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Running servers (I/O thread)                                       */

typedef struct hf_conn hf_conn;
typedef struct hf_req hf_req;
typedef struct hf_ws hf_ws;

/* Our h2o handler: every path of the server's one host comes here. */
typedef struct hf_h2o_handler {
    h2o_handler_t super;
    hf_io *io;
} hf_h2o_handler;

struct hf_io {
    hf_io *prev, *next; /* the loop's instances (the slot's list) */
    hf_server *srv;     /* reference held */
    uv_tcp_t listener;
    bool listening;
    h2o_globalconf_t conf;
    h2o_context_t ctx;
    h2o_accept_ctx_t actx;
    SSL_CTX *ssl;
    hf_conn *conns; /* open connections */
    uint32_t nconns;
    hf_req *reqs;       /* requests waiting for the actor */
    hf_ws *ws;          /* WebSocket connections */
    uv_timer_t *linger; /* stopping: the deadline of the WebSocket closes */
    bool stopping;
    bool disposed; /* the h2o context is gone (runtime shutdown) */
    int hold;      /* > 0: being worked on, not to be freed yet */
};

/* An accepted connection: the uv handle h2o's socket wraps. */
struct hf_conn {
    uv_tcp_t tcp; /* first: h2o's close callback gets its address */
    hf_io *io;
    h2o_socket_t *sock;
    bool ws; /* upgraded to WebSocket */
    hf_conn *prev, *next;
};

/* A request on its way through the actor (middleware, then the route). */
struct hf_req {
    hf_req *prev, *next; /* io->reqs */
    hf_io *io;
    h2o_req_t *req; /* NULL once h2o has freed it (client gone) */
    hf_req **slot;  /* in h2o's pool: its dispose callback clears req */
    uv_timer_t *timer;
    bool answered; /* a response (or 504) went out */
    bool in_call;  /* an export call is queued or running */
    wit_http_types_http_request wreq;
    uint64_t *mw; /* middleware handler ids in order */
    size_t nmw, imw;
    uint64_t handler;
};

/* A WebSocket connection. */
struct hf_ws {
    hf_ws *prev, *next;
    hf_io *io;
    h2o_websocket_conn_t *conn; /* NULL once closed */
    uint64_t id;
    uint64_t message;
    bool has_disconnect;
    uint64_t disconnect;
    int calls; /* export calls in flight that refer to it */
    bool closing;
    uint16_t close_code;    /* of the close frame we send (closing) */
    const char *close_why;  /* its reason text (static), or NULL */
    uv_timer_t *close_wait; /* a close waiting for the queued messages */
};

static void io_maybe_free(hf_io *io);

#define LINK(head, x) \
    do { \
        (x)->prev = NULL; \
        (x)->next = (head); \
        if ((head) != NULL) \
            (head)->prev = (x); \
        (head) = (x); \
    } while (0)
#define UNLINK(head, x) \
    do { \
        if ((x)->prev != NULL) \
            (x)->prev->next = (x)->next; \
        else \
            (head) = (x)->next; \
        if ((x)->next != NULL) \
            (x)->next->prev = (x)->prev; \
    } while (0)

/* ---- answers ---- */

static bool token_char(unsigned char c)
{
    return c > 0x20 && c < 0x7f && strchr("()<>@,;:\\\"/[]?={}", c) == NULL;
}

/* A header the actor may set: a token name, a value without CR, LF or
 * NUL, and not one that h2o frames itself. */
static bool header_ok(const wit_tup2_str_str *h)
{
    static const char *const framed[] = {"content-length", "transfer-encoding", "connection", NULL};
    if (h->f0.len == 0)
        return false;
    for (size_t i = 0; i < h->f0.len; i++)
        if (!token_char((unsigned char)h->f0.ptr[i]))
            return false;
    for (size_t i = 0; i < h->f1.len; i++)
        if (h->f1.ptr[i] == '\r' || h->f1.ptr[i] == '\n' || h->f1.ptr[i] == 0)
            return false;
    for (size_t i = 0; framed[i] != NULL; i++)
        if (strcasecmp(h->f0.ptr, framed[i]) == 0)
            return false;
    return true;
}

static void req_finish(hf_req *r);

/* A NUL-terminated copy of n bytes that may hold NULs themselves (strndup
 * would stop at the first and leave a length that lies). */
static char *dup_n(const void *p, size_t n)
{
    char *d = malloc(n + 1);

    if (d != NULL) {
        if (n)
            memcpy(d, p, n);
        d[n] = 0;
    }
    return d;
}

/* The reason phrase of a status (HTTP/1.1 sends one; clients ignore it). */
static const char *reason_of(int status)
{
    static const struct {
        int status;
        const char *reason;
    } t[] = {{100, "Continue"},
             {101, "Switching Protocols"},
             {200, "OK"},
             {201, "Created"},
             {202, "Accepted"},
             {204, "No Content"},
             {206, "Partial Content"},
             {301, "Moved Permanently"},
             {302, "Found"},
             {303, "See Other"},
             {304, "Not Modified"},
             {307, "Temporary Redirect"},
             {308, "Permanent Redirect"},
             {400, "Bad Request"},
             {401, "Unauthorized"},
             {403, "Forbidden"},
             {404, "Not Found"},
             {405, "Method Not Allowed"},
             {409, "Conflict"},
             {410, "Gone"},
             {413, "Payload Too Large"},
             {415, "Unsupported Media Type"},
             {422, "Unprocessable Content"},
             {429, "Too Many Requests"},
             {500, "Internal Server Error"},
             {501, "Not Implemented"},
             {502, "Bad Gateway"},
             {503, "Service Unavailable"},
             {504, "Gateway Timeout"}};

    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (t[i].status == status)
            return t[i].reason;
    return "";
}

/* Send a plain answer (status, text body). */
static void send_plain(hf_req *r, int status, const char *reason, const char *body)
{
    h2o_req_t *req = r->req;

    r->answered = true;
    if (req == NULL)
        return;
    req->res.status = status;
    req->res.reason = reason;
    req->res.content_length = strlen(body);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                   H2O_STRLIT("text/plain; charset=utf-8"));
    if (r->io->stopping)
        req->http1_is_persistent = 0;
    h2o_send_inline(req, body, strlen(body));
}

/* Send the actor's response; an invalid one becomes a 500. */
static void send_response(hf_req *r, const wit_http_types_http_response *resp)
{
    h2o_req_t *req = r->req;
    char *body;
    size_t n = resp->body.some ? resp->body.val.len : 0;

    if (req == NULL) {
        r->answered = true;
        return;
    }
    if (resp->status < 100 || resp->status > 999) {
        send_plain(r, 500, "Internal Server Error", "the actor answered an invalid status\n");
        return;
    }
    for (size_t i = 0; i < resp->headers.len; i++)
        if (!header_ok(&resp->headers.ptr[i])) {
            send_plain(r, 500, "Internal Server Error", "the actor answered an invalid header\n");
            return;
        }
    r->answered = true;
    req->res.status = resp->status;
    req->res.reason = reason_of(resp->status);
    for (size_t i = 0; i < resp->headers.len; i++) {
        const wit_tup2_str_str *h = &resp->headers.ptr[i];
        char *name = h2o_mem_alloc_pool(&req->pool, h->f0.len + 1);
        char *val = h2o_mem_alloc_pool(&req->pool, h->f1.len + 1);
        for (size_t k = 0; k < h->f0.len; k++) /* h2o wants lower case names */
            name[k] = (char)(h->f0.ptr[k] >= 'A' && h->f0.ptr[k] <= 'Z' ? h->f0.ptr[k] + 32
                                                                        : h->f0.ptr[k]);
        memcpy(val, h->f1.ptr, h->f1.len);
        h2o_add_header_by_str(&req->pool, &req->res.headers, name, h->f0.len, 1, NULL, val,
                              h->f1.len);
    }
    if (r->io->stopping)
        req->http1_is_persistent = 0;
    req->res.content_length = n;
    body = h2o_mem_alloc_pool(&req->pool, n ? n : 1);
    if (n)
        memcpy(body, resp->body.val.ptr, n);
    h2o_send_inline(req, body, n);
}

/* ---- requests ---- */

static void on_req_disposed(void *p)
{
    hf_req **slot = p;
    if (*slot != NULL) {
        (*slot)->req = NULL;
        (*slot)->slot = NULL;
    }
}

static void on_timer_closed(uv_handle_t *h)
{
    free(h);
}

/* The request is over on our side (answered or its client gone, and no
 * call in flight): unlink and free. */
static void req_free(hf_req *r)
{
    hf_io *io = r->io;

    if (r->slot != NULL)
        *r->slot = NULL;
    if (r->timer != NULL)
        uv_close((uv_handle_t *)r->timer, on_timer_closed);
    UNLINK(io->reqs, r);
    wit_free_http_types_http_request(&r->wreq);
    free(r->mw);
    free(r);
    io_maybe_free(io);
}

static void req_finish(hf_req *r)
{
    if (!r->in_call)
        req_free(r);
}

static void on_req_timeout(uv_timer_t *t)
{
    hf_req *r = t->data;

    if (!r->answered)
        send_plain(r, 504, "Gateway Timeout", "the actor did not answer in time\n");
    req_finish(r);
}

static void req_step(hf_req *r);

static void on_call_done(hf_call *c)
{
    hf_req *r = c->ud;
    hf_io *io = r->io;

    r->in_call = false;
    io->srv->owner->queued--;
    if (r->answered || r->req == NULL) {
        /* timed out or the client went away meanwhile */
    } else if (c->status == TH_EBUSY) {
        send_plain(r, 503, "Service Unavailable", "the actor's mailbox is full\n");
    } else if (c->status != 0) {
        send_plain(r, 500, "Internal Server Error", "the actor failed to answer\n");
    } else if (c->kind == HF_CALL_MIDDLEWARE) {
        if (!c->mw.proceed) {
            wit_http_types_http_response resp = {403, {NULL, 0}, c->mw.request.body};
            if (!resp.body.some) {
                static const char text[] = "forbidden\n";
                resp.body.some = true;
                resp.body.val.ptr = (uint8_t *)text;
                resp.body.val.len = sizeof text - 1;
            }
            send_response(r, &resp);
        } else {
            /* the next step sees the request as the middleware left it */
            wit_free_http_types_http_request(&r->wreq);
            r->wreq = c->mw.request;
            memset(&c->mw.request, 0, sizeof c->mw.request);
            r->imw++;
            hf_call_free(c);
            req_step(r);
            return;
        }
    } else {
        send_response(r, &c->resp);
    }
    hf_call_free(c);
    req_finish(r);
}

/* Deep copy of a request for a call. */
static int copy_request(const wit_http_types_http_request *from, wit_http_types_http_request *to)
{
    memset(to, 0, sizeof *to);
    if ((to->method.ptr = dup_n(from->method.ptr, from->method.len)) == NULL ||
        (to->uri.ptr = dup_n(from->uri.ptr, from->uri.len)) == NULL)
        goto fail;
    to->method.len = from->method.len;
    to->uri.len = from->uri.len;
    if (from->headers.len &&
        (to->headers.ptr = calloc(from->headers.len, sizeof *to->headers.ptr)) == NULL)
        goto fail;
    for (size_t i = 0; i < from->headers.len; i++, to->headers.len++) {
        const wit_tup2_str_str *h = &from->headers.ptr[i];
        to->headers.ptr[i].f0.ptr = dup_n(h->f0.ptr, h->f0.len);
        to->headers.ptr[i].f1.ptr = dup_n(h->f1.ptr, h->f1.len);
        if (to->headers.ptr[i].f0.ptr == NULL || to->headers.ptr[i].f1.ptr == NULL) {
            to->headers.len++;
            goto fail;
        }
        to->headers.ptr[i].f0.len = h->f0.len;
        to->headers.ptr[i].f1.len = h->f1.len;
    }
    if (from->body.some) {
        to->body.some = true;
        to->body.val.len = from->body.val.len;
        if ((to->body.val.ptr = rt_memdup(from->body.val.ptr, from->body.val.len)) == NULL)
            goto fail;
    }
    return 0;
fail:
    wit_free_http_types_http_request(to);
    return TH_ENOMEM;
}

/* Hand the next step of `r` to the actor. */
static void req_step(hf_req *r)
{
    hf_call *c = calloc(1, sizeof *c);

    if (c == NULL || copy_request(&r->wreq, &c->req) != 0) {
        free(c);
        send_plain(r, 500, "Internal Server Error", "out of memory\n");
        req_finish(r);
        return;
    }
    c->kind = r->imw < r->nmw ? HF_CALL_MIDDLEWARE : HF_CALL_REQUEST;
    c->handler = r->imw < r->nmw ? r->mw[r->imw] : r->handler;
    c->done = on_call_done;
    c->ud = r;
    r->in_call = true;
    r->io->srv->owner->queued++;
    hf_call_post(r->io->srv->owner, c);
}

/* The request as the actor sees it: method, URI with its query, every
 * header (names in lower case, as HTTP/2 sends them; Host first;
 * content-length last, the length of the body as given, after decoding a
 * chunked one), body (none for a request without one). */
static int lift_request(h2o_req_t *req, wit_http_types_http_request *w)
{
    size_t n = req->headers.size + 2, k = 0; /* + host and content-length */

    memset(w, 0, sizeof *w);
    if ((w->method.ptr = dup_n(req->method.base, req->method.len)) == NULL ||
        (w->uri.ptr = dup_n(req->path.base, req->path.len)) == NULL)
        goto fail;
    w->method.len = req->method.len;
    w->uri.len = req->path.len;
    if ((w->headers.ptr = calloc(n, sizeof *w->headers.ptr)) == NULL)
        goto fail;
    for (size_t i = 0; i < req->headers.size + 1; i++) {
        const char *name = i == 0 ? "host" : req->headers.entries[i - 1].name->base;
        size_t nl = i == 0 ? 4 : req->headers.entries[i - 1].name->len;
        h2o_iovec_t v = i == 0 ? req->authority : req->headers.entries[i - 1].value;
        if (i == 0 && v.len == 0)
            continue;
        wit_tup2_str_str *h = &w->headers.ptr[k++];
        w->headers.len = k;
        if ((h->f0.ptr = dup_n(name, nl)) == NULL || (h->f1.ptr = malloc(v.len + 1)) == NULL)
            goto fail;
        h->f0.len = nl;
        memcpy(h->f1.ptr, v.base, v.len);
        h->f1.ptr[v.len] = 0;
        h->f1.len = v.len;
    }
    if (req->entity.base != NULL) { /* h2o keeps the length apart from the headers */
        char len[24];
        int ll = snprintf(len, sizeof len, "%zu", req->entity.len);
        wit_tup2_str_str *h = &w->headers.ptr[k++];
        w->headers.len = k;
        if ((h->f0.ptr = dup_n("content-length", 14)) == NULL ||
            (h->f1.ptr = dup_n(len, (size_t)ll)) == NULL)
            goto fail;
        h->f0.len = 14;
        h->f1.len = (size_t)ll;
        w->body.some = true;
        w->body.val.len = req->entity.len;
        if ((w->body.val.ptr = rt_memdup(req->entity.base, req->entity.len)) == NULL)
            goto fail;
    }
    return 0;
fail:
    wit_free_http_types_http_request(w);
    return TH_ENOMEM;
}

/* Strings given to the actor must be UTF-8 (the Canonical ABI traps
 * otherwise): a request whose method, URI or headers are not is refused
 * with 400 before it reaches the actor. */
static bool request_utf8(const wit_http_types_http_request *w)
{
    if (!rt_utf8_valid((const uint8_t *)w->uri.ptr, w->uri.len) ||
        !rt_utf8_valid((const uint8_t *)w->method.ptr, w->method.len))
        return false;
    for (size_t i = 0; i < w->headers.len; i++)
        if (!rt_utf8_valid((const uint8_t *)w->headers.ptr[i].f1.ptr, w->headers.ptr[i].f1.len))
            return false;
    return true;
}

/* Match under the owner's lock: the route's handler and the middleware
 * chain.  200 if routed, else 404 / 405. */
static int route(hf_io *io, hf_req *r)
{
    hf_server *s = io->srv;
    hf_actor *a = s->owner;
    const char *uri = r->wreq.uri.ptr;
    size_t len = strcspn(uri, "?#");
    bool path_seen = false;
    int status = 404;

    pthread_mutex_lock(&a->lock);
    for (hf_route *rt = s->routes; rt != NULL; rt = rt->next) {
        if (!hf_path_match(rt->path, uri, len, false))
            continue;
        path_seen = true;
        if (strcmp(rt->method, "*") == 0 || strcmp(rt->method, r->wreq.method.ptr) == 0 ||
            (strcmp(rt->method, "GET") == 0 && strcmp(r->wreq.method.ptr, "HEAD") == 0)) {
            r->handler = rt->handler;
            status = 200;
            break;
        }
    }
    if (status == 200 && s->nmws > 0) {
        /* the list is newest first: fill from the back */
        size_t n = 0, i;
        for (hf_route *m = s->mws; m != NULL; m = m->next)
            n += hf_path_match(m->path, uri, len, true);
        if (n > 0 && (r->mw = calloc(n, sizeof *r->mw)) == NULL) {
            status = 500;
        } else {
            i = n;
            for (hf_route *m = s->mws; m != NULL; m = m->next)
                if (hf_path_match(m->path, uri, len, true))
                    r->mw[--i] = m->handler;
            r->nmw = n;
        }
    }
    pthread_mutex_unlock(&a->lock);
    return status == 404 && path_seen ? 405 : status;
}

static int on_ws_request(hf_io *io, h2o_req_t *req, const char *key);

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    hf_io *io = ((hf_h2o_handler *)self)->io;
    hf_actor *a = io->srv->owner;
    const char *key = NULL;
    hf_req *r;
    int status;

    if (io->stopping) {
        h2o_send_error_generic(req, 503, "Service Unavailable", "the server is stopping\n",
                               H2O_SEND_ERROR_HTTP1_CLOSE_CONNECTION);
        return 0;
    }
    if (h2o_is_websocket_handshake(req, &key) == 0 && key != NULL && on_ws_request(io, req, key))
        return 0;
    if ((r = calloc(1, sizeof *r)) == NULL || lift_request(req, &r->wreq) != 0) {
        free(r);
        h2o_send_error_generic(req, 500, "Internal Server Error", "out of memory\n", 0);
        return 0;
    }
    r->io = io;
    r->req = req;
    LINK(io->reqs, r);
    if (!request_utf8(&r->wreq)) {
        send_plain(r, 400, "Bad Request", "the request is not UTF-8 text\n");
        req_finish(r);
        return 0;
    }
    if ((status = route(io, r)) != 200) {
        send_plain(r, status,
                   status == 404   ? "Not Found"
                   : status == 405 ? "Method Not Allowed"
                                   : "Internal Server Error",
                   status == 404   ? "no route\n"
                   : status == 405 ? "method not allowed\n"
                                   : "out of memory\n");
        req_finish(r);
        return 0;
    }
    if (a->queued >= a->max_queued) {
        send_plain(r, 503, "Service Unavailable", "the actor has too many requests waiting\n");
        req_finish(r);
        return 0;
    }
    r->slot = h2o_mem_alloc_shared(&req->pool, sizeof *r->slot, on_req_disposed);
    *r->slot = r;
    if ((r->timer = malloc(sizeof *r->timer)) != NULL) {
        uv_timer_init(io->ctx.loop, r->timer);
        r->timer->data = r;
        uv_timer_start(r->timer, on_req_timeout, a->timeout_ms, 0);
    }
    req_step(r);
    return 0;
}

/* ---- WebSocket ---- */

static void ws_maybe_free(hf_ws *w)
{
    hf_io *io = w->io;

    if (w->conn == NULL && w->close_wait != NULL) {
        uv_close((uv_handle_t *)w->close_wait, on_timer_closed);
        w->close_wait = NULL;
    }
    if (w->conn != NULL || w->calls > 0)
        return;
    UNLINK(io->ws, w);
    free(w);
    io_maybe_free(io);
}

/* wslay sends control frames before queued messages, so a close the
 * actor asks for waits until what it sent before has gone out. */
static void on_close_wait(uv_timer_t *t)
{
    hf_ws *w = t->data;

    if (w->conn == NULL || wslay_event_want_write(w->conn->ws_ctx) ||
        (w->conn->sock != NULL && h2o_socket_is_writing(w->conn->sock)))
        return; /* not yet */
    uv_close((uv_handle_t *)t, on_timer_closed);
    w->close_wait = NULL;
    wslay_event_queue_close(w->conn->ws_ctx, w->close_code, (const uint8_t *)w->close_why,
                            w->close_why != NULL ? strlen(w->close_why) : 0);
    if (w->conn->sock != NULL)
        h2o_websocket_proceed(w->conn); /* (may end the connection, and free w) */
}

/* Close a connection with `code` (and the reason text `why`, static, or
 * NULL), after what was queued before.  A connection already closing
 * keeps the close it has. */
static void ws_close(hf_ws *w, uint16_t code, const char *why)
{
    if (w->conn == NULL || w->closing)
        return;
    w->closing = true;
    w->close_code = code;
    w->close_why = why;
    if ((w->close_wait = malloc(sizeof *w->close_wait)) != NULL) {
        uv_timer_init(w->io->ctx.loop, w->close_wait);
        w->close_wait->data = w;
        uv_timer_start(w->close_wait, on_close_wait, 0, 2);
        return;
    }
    wslay_event_queue_close(w->conn->ws_ctx, code, (const uint8_t *)why,
                            why != NULL ? strlen(why) : 0);
    if (w->conn->sock != NULL)
        h2o_websocket_proceed(w->conn); /* (may end the connection, and free w) */
}

/* Queue one frame on a connection and let h2o write it (a close: the
 * actor's, 1000). */
static void ws_queue(hf_ws *w, int opcode, const uint8_t *data, size_t len)
{
    struct wslay_event_msg m = {(uint8_t)opcode, data, len};

    if (opcode == WSLAY_CONNECTION_CLOSE) {
        ws_close(w, 1000, NULL);
        return;
    }
    if (w->conn == NULL || w->closing)
        return;
    wslay_event_queue_msg(w->conn->ws_ctx, &m);
    if (w->conn->sock != NULL)
        h2o_websocket_proceed(w->conn);
}

/* The wslay opcode of a message the actor sends, or -1. */
static int ws_opcode(const wit_websocket_types_websocket_message *m)
{
    switch (m->ty.tag) {
    case WIT_WEBSOCKET_TYPES_MESSAGE_TYPE_TEXT: return WSLAY_TEXT_FRAME;
    case WIT_WEBSOCKET_TYPES_MESSAGE_TYPE_BINARY: return WSLAY_BINARY_FRAME;
    case WIT_WEBSOCKET_TYPES_MESSAGE_TYPE_PING: return WSLAY_PING;
    case WIT_WEBSOCKET_TYPES_MESSAGE_TYPE_PONG: return WSLAY_PONG;
    case WIT_WEBSOCKET_TYPES_MESSAGE_TYPE_CLOSE: return WSLAY_CONNECTION_CLOSE;
    default: return -1;
    }
}

int hf_ws_message_opcode(const wit_websocket_types_websocket_message *m, const uint8_t **data,
                         size_t *len)
{
    int op = ws_opcode(m);

    *data = NULL;
    *len = 0;
    if (op == WSLAY_TEXT_FRAME && m->text.some) {
        *data = (const uint8_t *)m->text.val.ptr;
        *len = m->text.val.len;
    } else if (m->data.some) {
        *data = m->data.val.ptr;
        *len = m->data.val.len;
    } else if (m->text.some) {
        *data = (const uint8_t *)m->text.val.ptr;
        *len = m->text.val.len;
    }
    if ((op == WSLAY_PING || op == WSLAY_PONG) && *len > 125)
        return -1; /* a control frame carries at most 125 bytes */
    return op;
}

static void on_ws_call_done(hf_call *c)
{
    hf_ws *w = c->ud;

    /* (w->calls counts this call until the end: a write below that ends
     * the connection does not free w under the loop) */
    w->io->srv->owner->queued--;
    if (c->status == 0 && c->kind == HF_CALL_WS_MESSAGE) {
        for (size_t i = 0; i < c->replies.len; i++) {
            const uint8_t *d;
            size_t n;
            int op = hf_ws_message_opcode(&c->replies.ptr[i], &d, &n);
            if (op >= 0)
                ws_queue(w, op, d, n);
        }
    } else if (c->status != 0 && w->conn != NULL) {
        /* the actor did not take the call (its mailbox full: try again
         * later), or failed or is gone (going away) */
        if (c->status == TH_EBUSY)
            ws_close(w, 1013, "the actor's mailbox is full");
        else
            ws_close(w, 1001, "the actor failed");
    }
    w->calls--;
    hf_call_free(c);
    ws_maybe_free(w);
}

static void ws_call(hf_ws *w, hf_call *c)
{
    c->conn = w->id;
    c->done = on_ws_call_done;
    c->ud = w;
    w->calls++;
    w->io->srv->owner->queued++;
    hf_call_post(w->io->srv->owner, c);
}

static void on_ws_msg(h2o_websocket_conn_t *conn, const struct wslay_event_on_msg_recv_arg *arg)
{
    hf_ws *w = conn->data;
    hf_call *c;
    uint32_t tag;

    if (arg == NULL) {
        w->conn = NULL;
        h2o_websocket_close(conn);
        if (w->has_disconnect && (c = calloc(1, sizeof *c)) != NULL) {
            c->kind = HF_CALL_WS_DISCONNECT;
            c->handler = w->disconnect;
            ws_call(w, c); /* its end frees w */
            return;
        }
        ws_maybe_free(w);
        return;
    }
    switch (arg->opcode) {
    case WSLAY_TEXT_FRAME: tag = WIT_WEBSOCKET_TYPES_MESSAGE_TYPE_TEXT; break;
    case WSLAY_BINARY_FRAME: tag = WIT_WEBSOCKET_TYPES_MESSAGE_TYPE_BINARY; break;
    case WSLAY_PING: tag = WIT_WEBSOCKET_TYPES_MESSAGE_TYPE_PING; break;
    case WSLAY_PONG: tag = WIT_WEBSOCKET_TYPES_MESSAGE_TYPE_PONG; break;
    default: return; /* close: wslay answers it; the end comes as arg NULL */
    }
    if (w->io->stopping)
        return; /* the server stopped: the connection is closing, the actor hears no more */
    if (tag == WIT_WEBSOCKET_TYPES_MESSAGE_TYPE_TEXT && !rt_utf8_valid(arg->msg, arg->msg_length)) {
        wslay_event_queue_close(conn->ws_ctx, 1007, NULL, 0); /* RFC 6455 7.4.1 */
        w->closing = true;
        h2o_websocket_proceed(conn);
        return;
    }
    if (w->io->srv->owner->queued >= w->io->srv->owner->max_queued) {
        wslay_event_queue_close(conn->ws_ctx, 1013, NULL, 0); /* try again later */
        w->closing = true;
        h2o_websocket_proceed(conn);
        return;
    }
    if ((c = calloc(1, sizeof *c)) == NULL)
        return;
    c->kind = HF_CALL_WS_MESSAGE;
    c->handler = w->message;
    c->msg.ty.tag = tag;
    if (tag == WIT_WEBSOCKET_TYPES_MESSAGE_TYPE_TEXT) {
        c->msg.text.some = true;
        c->msg.text.val.len = arg->msg_length;
        if ((c->msg.text.val.ptr = dup_n((const char *)arg->msg, arg->msg_length)) == NULL)
            goto oom;
    } else {
        c->msg.data.some = true;
        c->msg.data.val.len = arg->msg_length;
        if ((c->msg.data.val.ptr = rt_memdup(arg->msg, arg->msg_length)) == NULL)
            goto oom;
    }
    ws_call(w, c);
    return;
oom:
    hf_call_free(c);
}

/* A client that offers subprotocols (Sec-WebSocket-Protocol: a, b) fails
 * the connection unless the 101 names one of them (RFC 6455, 4.1): the
 * server agrees to the first.  The actor cannot choose one (ABI.md), but
 * its connect handler gets the client's whole header and can close a
 * connection whose protocol it does not speak. */
static void answer_subprotocol(h2o_req_t *req)
{
    ssize_t i = h2o_find_header_by_str(&req->headers, H2O_STRLIT("sec-websocket-protocol"), -1);
    const char *v, *end;
    size_t n = 0;

    if (i < 0)
        return;
    v = req->headers.entries[i].value.base;
    end = v + req->headers.entries[i].value.len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (v + n < end && token_char((unsigned char)v[n]))
        n++;
    if (n > 0)
        h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("sec-websocket-protocol"),
                              0, NULL, v, n);
}

/* A WebSocket handshake: upgrade if its path is enabled (1 returned when
 * handled; 0 when the path is not a WebSocket path). */
static int on_ws_request(hf_io *io, h2o_req_t *req, const char *key)
{
    hf_server *s = io->srv;
    hf_actor *a = s->owner;
    size_t len = 0; /* h2o's strings are not NUL-terminated */
    hf_wspath *p;
    hf_ws *w;
    hf_call *c = NULL;
    bool has_connect = false;
    uint64_t connect = 0;

    while (len < req->path_normalized.len && req->path_normalized.base[len] != '?' &&
           req->path_normalized.base[len] != '#')
        len++;
    if ((w = calloc(1, sizeof *w)) == NULL)
        return 0;
    pthread_mutex_lock(&a->lock);
    for (p = s->ws; p != NULL; p = p->next)
        if (hf_path_match(p->path, req->path_normalized.base, len, false))
            break;
    if (p != NULL) {
        w->message = p->message;
        w->has_disconnect = p->has_disconnect;
        w->disconnect = p->disconnect;
        has_connect = p->has_connect;
        connect = p->connect;
    }
    pthread_mutex_unlock(&a->lock);
    if (p == NULL) {
        free(w);
        return 0;
    }
    if (a->queued >= a->max_queued) {
        free(w);
        h2o_send_error_generic(req, 503, "Service Unavailable",
                               "the actor has too many requests waiting\n", 0);
        return 1;
    }
    if (has_connect && (c = calloc(1, sizeof *c)) != NULL) {
        c->kind = HF_CALL_WS_CONNECT;
        c->handler = connect;
        c->path.len = len;
        if ((c->path.ptr = dup_n(req->path_normalized.base, len)) == NULL ||
            !rt_utf8_valid((const uint8_t *)c->path.ptr, len)) {
            hf_call_free(c);
            free(w);
            h2o_send_error_generic(req, 400, "Bad Request", "bad path\n", 0);
            return 1;
        }
        ssize_t i = h2o_find_header_by_str(&req->headers, H2O_STRLIT("sec-websocket-protocol"), -1);
        if (i >= 0) {
            h2o_iovec_t v = req->headers.entries[i].value;
            if (rt_utf8_valid((const uint8_t *)v.base, v.len)) {
                c->protocol.some = true;
                c->protocol.val.len = v.len;
                c->protocol.val.ptr = dup_n(v.base, v.len);
            }
        }
    }
    w->io = io;
    w->id = atomic_fetch_add(&s->next_conn, 1) + 1;
    LINK(io->ws, w);
    /* its connection closes with a close handshake when the server stops */
    if (req->conn->callbacks->get_socket != NULL) {
        h2o_socket_t *sock = req->conn->callbacks->get_socket(req->conn);
        for (hf_conn *cn = io->conns; cn != NULL; cn = cn->next)
            if (cn->sock == sock)
                cn->ws = true;
    }
    answer_subprotocol(req);
    w->conn = h2o_upgrade_to_websocket(req, key, w, on_ws_msg);
    wslay_event_config_set_max_recv_msg_length(w->conn->ws_ctx,
                                               a->max_body ? a->max_body : TH_HTTPD_MAX_WS_MESSAGE);
    if (c != NULL)
        ws_call(w, c);
    return 1;
}

/* ---- connections and the listener ---- */

static void on_conn_closed(uv_handle_t *h)
{
    hf_conn *c = (hf_conn *)h;
    hf_io *io = c->io;

    UNLINK(io->conns, c);
    io->nconns--;
    free(c);
    io_maybe_free(io);
}

static void on_reject_closed(uv_handle_t *h)
{
    free(h);
}

static void on_accept(uv_stream_t *l, int status)
{
    hf_io *io = l->data;
    hf_conn *c;
    h2o_socket_t *sock;

    if (status != 0 || (c = calloc(1, sizeof *c)) == NULL)
        return;
    uv_tcp_init(l->loop, &c->tcp);
    if (uv_accept(l, (uv_stream_t *)&c->tcp) != 0 || io->stopping ||
        io->nconns >= io->srv->owner->max_connections) {
        uv_close((uv_handle_t *)&c->tcp, on_reject_closed); /* over max_connections: closed */
        return;
    }
    c->io = io;
    LINK(io->conns, c);
    io->nconns++;
    uv_tcp_nodelay(&c->tcp, 1);
    sock = h2o_uv_socket_create((uv_stream_t *)&c->tcp, on_conn_closed);
    if (sock == NULL) {
        uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
        return;
    }
    c->sock = sock;
    h2o_accept(&io->actx, sock);
}

static void on_listener_closed(uv_handle_t *h)
{
    hf_io *io = h->data;

    io->listening = false;
    io_maybe_free(io);
}

/* The loop's running instances, kept in the handler's slot so that a
 * runtime shutdown ends what is still open: first gracefully (slot_drain,
 * while slot_busy), then under it (hf_io_quit). */
typedef struct hf_slot {
    hf_io *list;
} hf_slot;

static void slot_drain(uv_loop_t *loop, void *ud);
static bool slot_busy(void *ud);

static hf_slot *slot_get(uv_loop_t *loop, bool make)
{
    rt_io_slot_t *sl = rt_io_slot(loop, HANDLER_HTTP_FRAMEWORK);

    if (sl == NULL)
        return NULL;
    if (sl->ud == NULL && make) {
        if ((sl->ud = calloc(1, sizeof(hf_slot))) == NULL)
            return NULL;
        sl->drain = slot_drain;
        sl->busy = slot_busy;
        sl->quit = hf_io_quit;
    }
    return sl->ud;
}

static void slot_unlink(hf_io *io)
{
    hf_slot *sl = slot_get(io->ctx.loop, false);

    if (sl != NULL && (io->prev != NULL || sl->list == io))
        UNLINK(sl->list, io);
    io->prev = io->next = NULL;
}

/* Free a stopped server's instance once nothing refers to it. */
static void io_maybe_free(hf_io *io)
{
    hf_server *s;

    if (io->hold > 0 || !io->stopping || io->listening || io->conns != NULL || io->reqs != NULL ||
        io->ws != NULL)
        return;
    io->hold = 1; /* freed here, whatever the loop runs meanwhile */
    s = io->srv;
    slot_unlink(io);
    if (io->linger != NULL) {
        uv_close((uv_handle_t *)io->linger, on_timer_closed);
        io->linger = NULL;
    }
    if (!io->disposed) {
        /* (h2o_context_dispose runs the loop once: callbacks of other
         * objects may come in meanwhile, never again this io's) */
        io->disposed = true;
        h2o_context_dispose(&io->ctx);
        h2o_config_dispose(&io->conf);
    }
    if (io->ssl != NULL)
        SSL_CTX_free(io->ssl);
    if (s->io == io)
        s->io = NULL;
    free(io);
    hf_server_release(s);
}

/* A stopped server's WebSocket connections that have not ended their close
 * handshake by the deadline: shut down (h2o sees the end and closes each). */
static void on_linger_now(hf_io *io)
{
    for (hf_conn *c = io->conns; c != NULL; c = c->next) {
        uv_os_fd_t fd;
        if (uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0)
            shutdown(fd, SHUT_RDWR);
    }
}

static void on_linger(uv_timer_t *t)
{
    hf_io *io = t->data;

    uv_close((uv_handle_t *)t, on_timer_closed);
    io->linger = NULL;
    on_linger_now(io);
}

/* Everything the server of `io` has open is closed (a WebSocket connection
 * after its close frame); the instance goes when the last piece has. */
static void io_stop(hf_io *io)
{
    bool wait = false;

    if (io->stopping)
        return;
    io->stopping = true;
    io->ctx.shutdown_requested = 1;
    uv_close((uv_handle_t *)&io->listener, on_listener_closed);
    for (hf_req *r = io->reqs, *next; r != NULL; r = next) {
        next = r->next;
        if (!r->answered)
            send_plain(r, 503, "Service Unavailable", "the server stopped\n");
    }
    for (hf_ws *w = io->ws, *next; w != NULL; w = next) {
        next = w->next;
        ws_close(w, 1001, "the server stopped");
    }
    for (hf_conn *c = io->conns; c != NULL; c = c->next) {
        uv_os_fd_t fd;
        if (c->ws) {
            wait = true; /* its close handshake, until the deadline */
            continue;
        }
        if (uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0)
            shutdown(fd, SHUT_RDWR); /* h2o sees the end and closes it */
    }
    if (wait && io->linger == NULL && (io->linger = malloc(sizeof *io->linger)) != NULL) {
        uv_timer_init(io->ctx.loop, io->linger);
        io->linger->data = io;
        uv_timer_start(io->linger, on_linger, TH_HTTPD_WS_CLOSE_WAIT_MS, 0);
    } else if (wait && io->linger == NULL) {
        on_linger_now(io);
    }
}

/* The runtime stops (its I/O thread's drain): every instance still
 * running stops as a stop-server would stop it, so that each WebSocket
 * client gets its close frame (1001) and the close handshake can end
 * before the loop quits. */
static void slot_drain(uv_loop_t *loop, void *ud)
{
    hf_slot *sl = ud;

    (void)loop;
    for (;;) { /* from the head each time: a stop may free other instances */
        hf_io *io = sl->list;
        while (io != NULL && io->stopping)
            io = io->next;
        if (io == NULL)
            break;
        if (io->srv->io == io)
            io->srv->io = NULL;
        io->hold++;
        io_stop(io);
        io->hold--;
        io_maybe_free(io); /* (unlinks it when nothing is left open) */
    }
}

/* Whether a WebSocket connection of a stopped instance is still open (its
 * close handshake under way, until TH_HTTPD_WS_CLOSE_WAIT_MS). */
static bool slot_busy(void *ud)
{
    const hf_slot *sl = ud;

    for (const hf_io *io = sl->list; io != NULL; io = io->next)
        for (const hf_conn *c = io->conns; c != NULL; c = c->next)
            if (c->ws)
                return true;
    return false;
}

static SSL_CTX *tls_context(hf_server *s)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

    if (ctx == NULL)
        return NULL;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    h2o_ssl_register_alpn_protocols(ctx, h2o_http2_alpn_protocols); /* h2, http/1.1 */
    if (SSL_CTX_use_certificate_chain_file(ctx, s->cert_path) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, s->key_path, SSL_FILETYPE_PEM) != 1) {
        ERR_clear_error();
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

typedef struct start_req {
    hf_server *srv; /* reference held */
    int fd;
} start_req;

static void do_start(uv_loop_t *loop, void *ud)
{
    start_req *q = ud;
    hf_server *s = q->srv;
    hf_actor *a = s->owner;
    hf_io *io = NULL;
    h2o_hostconf_t *host;
    h2o_pathconf_t *path;
    hf_h2o_handler *h;
    hf_slot *sl;

    if (loop == NULL || s->io != NULL || (sl = slot_get(loop, true)) == NULL ||
        (io = calloc(1, sizeof *io)) == NULL)
        goto fail;
    if (s->cert_path != NULL && (io->ssl = tls_context(s)) == NULL)
        goto fail;
    h2o_config_init(&io->conf);
    io->conf.max_request_entity_size = (size_t)a->max_body;
    io->conf.server_name = h2o_iovec_init(H2O_STRLIT("theater"));
    host = h2o_config_register_host(&io->conf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    path = h2o_config_register_path(host, "/", 0);
    h = (hf_h2o_handler *)h2o_create_handler(path, sizeof *h);
    h->super.on_req = on_req;
    h->io = io;
    h2o_context_init(&io->ctx, loop, &io->conf);
    io->actx.ctx = &io->ctx;
    io->actx.hosts = io->conf.hosts;
    io->actx.ssl_ctx = io->ssl;
    io->srv = s;
    uv_tcp_init(loop, &io->listener);
    io->listener.data = io;
    io->listening = true;
    if (uv_tcp_open(&io->listener, q->fd) != 0 ||
        uv_listen((uv_stream_t *)&io->listener, 511, on_accept) != 0) {
        io->stopping = true;
        uv_close((uv_handle_t *)&io->listener, on_listener_closed); /* closes fd */
        free(q);
        return;
    }
    s->io = io;
    LINK(sl->list, io);
    free(q);
    return;
fail:
    if (io != NULL && io->ssl != NULL)
        SSL_CTX_free(io->ssl);
    free(io);
    close(q->fd);
    hf_server_release(s);
    free(q);
}

int hf_io_start(hf_server *s, int fd)
{
    start_req *q = malloc(sizeof *q);
    int rc;

    if (q == NULL) {
        close(fd);
        return TH_ENOMEM;
    }
    atomic_fetch_add(&s->refs, 1); /* the instance's, or dropped by do_start */
    q->srv = s;
    q->fd = fd;
    if ((rc = rt_io_post(s->owner->rt, do_start, q)) != 0) {
        close(fd);
        hf_server_release(s);
        free(q);
    }
    return rc;
}

static void do_stop(uv_loop_t *loop, void *ud)
{
    hf_server *s = ud;

    if (loop != NULL && s->io != NULL) {
        hf_io *io = s->io;
        s->io = NULL;
        io_stop(io);
        io_maybe_free(io);
    }
    hf_server_release(s);
}

int hf_io_stop(hf_server *s)
{
    int rc;

    atomic_fetch_add(&s->refs, 1);
    if ((rc = rt_io_post(s->owner->rt, do_stop, s)) != 0)
        hf_server_release(s);
    return rc;
}

typedef struct ws_req {
    hf_server *srv; /* reference held */
    uint64_t conn;
    int opcode; /* -1: close */
    size_t len;
    uint8_t data[];
} ws_req;

static void do_ws(uv_loop_t *loop, void *ud)
{
    ws_req *q = ud;
    hf_io *io = loop != NULL ? q->srv->io : NULL;

    for (hf_ws *w = io != NULL ? io->ws : NULL; w != NULL; w = w->next)
        if (w->id == q->conn) {
            ws_queue(w, q->opcode < 0 ? WSLAY_CONNECTION_CLOSE : q->opcode, q->data, q->len);
            break;
        }
    hf_server_release(q->srv);
    free(q);
}

static int ws_post(hf_server *s, uint64_t conn, int opcode, const uint8_t *data, size_t len)
{
    ws_req *q = malloc(sizeof *q + len);
    int rc;

    if (q == NULL)
        return TH_ENOMEM;
    atomic_fetch_add(&s->refs, 1);
    q->srv = s;
    q->conn = conn;
    q->opcode = opcode;
    q->len = len;
    if (len)
        memcpy(q->data, data, len);
    if ((rc = rt_io_post(s->owner->rt, do_ws, q)) != 0) {
        hf_server_release(s);
        free(q);
    }
    return rc;
}

int hf_io_ws_send(hf_server *s, uint64_t conn, int opcode, const uint8_t *data, size_t len)
{
    return ws_post(s, conn, opcode, data, len);
}

int hf_io_ws_close(hf_server *s, uint64_t conn)
{
    return ws_post(s, conn, -1, NULL, 0);
}

/* The runtime stops: every instance still running stops now, and what is
 * still open after that (connections h2o has not yet closed) is closed
 * under it: the loop runs no more h2o callbacks after the quit, only the
 * close callbacks, which free our objects. */
void hf_io_quit(uv_loop_t *loop, void *ud)
{
    hf_slot *sl = ud;

    (void)loop;
    while (sl->list != NULL) {
        hf_io *io = sl->list;
        UNLINK(sl->list, io);
        io->prev = io->next = NULL;
        if (io->srv->io == io)
            io->srv->io = NULL;
        io->hold++;
        io_stop(io);
        /* our timers go with our callbacks (the loop would close them
         * without, and then we would again) */
        for (hf_req *r = io->reqs; r != NULL; r = r->next)
            if (r->timer != NULL) {
                uv_close((uv_handle_t *)r->timer, on_timer_closed);
                r->timer = NULL;
            }
        for (hf_ws *w = io->ws; w != NULL; w = w->next)
            if (w->close_wait != NULL) {
                uv_close((uv_handle_t *)w->close_wait, on_timer_closed);
                w->close_wait = NULL;
            }
        if (io->linger != NULL) {
            uv_close((uv_handle_t *)io->linger, on_timer_closed);
            io->linger = NULL;
        }
        for (hf_conn *c = io->conns; c != NULL; c = c->next)
            if (!uv_is_closing((uv_handle_t *)&c->tcp))
                uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
        /* h2o's own handles go now, before the loop closes the rest (its
         * dispose runs the loop once: our close callbacks may come) */
        if (!io->disposed) {
            io->disposed = true;
            h2o_context_dispose(&io->ctx);
            h2o_config_dispose(&io->conf);
        }
        io->hold--;
        io_maybe_free(io);
        /* requests and WebSocket connections end with their connections:
         * their export calls, if any, settle through rt_io_post (loop NULL) */
    }
    free(sl);
}
