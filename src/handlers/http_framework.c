/*
 * http_framework.c - the `http-framework` interface: an actor creates HTTP
 * servers, registers handler names, adds routes, middleware and WebSocket
 * paths, and starts and stops its servers.  The servers themselves run on
 * the I/O thread (http_server.c); each inbound request or WebSocket event
 * comes back to the actor as an export call of `http-handlers`
 * (http_call.c).
 *
 * What the manifest grants (docs/manifest.md, hs_http_framework) is enforced
 * here: the bind address, the ports, and the sizes the server side uses.
 * A refused call answers err(string), recorded with the call by the
 * generated glue.  When the actor stops, fails or restarts, its servers
 * close (hf_actor_end through the handler state's release): a restarted
 * actor starts with none and recreates them in init.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "handlers/http_int.h"
#include "runtime/manifest.h"

/* ---- the per-actor object ---- */

void hf_server_release(hf_server *s)
{
    if (s == NULL || atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    for (hf_route *r = s->routes, *n; r != NULL; r = n) {
        n = r->next;
        free(r->path);
        free(r->method);
        free(r);
    }
    for (hf_route *r = s->mws, *n; r != NULL; r = n) {
        n = r->next;
        free(r->path);
        free(r->method);
        free(r);
    }
    for (hf_wspath *w = s->ws, *n; w != NULL; w = n) {
        n = w->next;
        free(w->path);
        free(w);
    }
    free(s->cert_path);
    free(s->key_path);
    hf_actor_release(s->owner);
    free(s);
}

void hf_actor_release(hf_actor *a)
{
    if (a == NULL || atomic_fetch_sub(&a->refs, 1) != 1)
        return;
    for (hf_handler *h = a->handlers, *n; h != NULL; h = n) {
        n = h->next;
        free(h->name);
        free(h);
    }
    free(a->ports);
    pthread_mutex_destroy(&a->lock);
    free(a);
}

/* The actor ended, failed or restarts: stop and forget every server. */
void hf_actor_end(hf_actor *a)
{
    hf_server *list;

    if (a == NULL)
        return;
    pthread_mutex_lock(&a->lock);
    a->closed = true;
    list = a->servers;
    a->servers = NULL;
    a->nservers = 0;
    pthread_mutex_unlock(&a->lock);
    while (list != NULL) {
        hf_server *s = list;
        list = s->next;
        if (s->running)
            hf_io_stop(s);
        s->running = false;
        hf_server_release(s); /* the list's reference */
    }
    hf_actor_release(a);
}

/* The calling actor's object, made on first use from its grant. */
static hf_actor *self(rt_host *h)
{
    rt_hstate *st = rt_hstate_get(h->a);
    const hs_http_framework *g = rt_spec_settings(rt_actor_spec(h->a), HANDLER_HTTP_FRAMEWORK);
    hf_actor *a;

    if (st == NULL)
        return NULL;
    if (st->http != NULL)
        return st->http;
    if (g == NULL || g->host == NULL || (a = calloc(1, sizeof *a)) == NULL)
        return NULL;
    if ((a->ports = calloc(g->nports ? g->nports : 1, sizeof *a->ports)) == NULL) {
        free(a);
        return NULL;
    }
    atomic_init(&a->refs, 1);
    pthread_mutex_init(&a->lock, NULL);
    a->rt = rt_actor_runtime(h->a);
    memcpy(a->id, rt_actor_id(h->a), sizeof a->id);
    snprintf(a->host, sizeof a->host, "%s", g->host);
    memcpy(a->ports, g->ports, g->nports * sizeof *a->ports);
    a->nports = g->nports;
    a->max_body = g->max_body_bytes;
    a->max_connections = g->max_connections;
    a->max_queued = g->max_queued;
    a->timeout_ms = g->request_timeout_ms;
    st->http = a;
    return a;
}

static int oom(rt_host *h)
{
    return th_error_set(&h->err, TH_ENOMEM, "out of memory");
}

/* Answer err(text) in a result<_, string>-shaped ret. */
#define REFUSE(ret, ...) (ret->is_err = true, wit_str_printf(h, &ret->err, __VA_ARGS__))

static int wit_str_printf(rt_host *h, wit_str *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int wit_str_printf(rt_host *h, wit_str *s, const char *fmt, ...)
{
    char buf[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return wit_str_set(h, s, buf);
}

/* The server with id `id` (under a->lock), or NULL. */
static hf_server *find_server(hf_actor *a, uint64_t id)
{
    for (hf_server *s = a->servers; s != NULL; s = s->next)
        if (s->id == id)
            return s;
    return NULL;
}

static bool handler_known(hf_actor *a, uint64_t id)
{
    for (hf_handler *x = a->handlers; x != NULL; x = x->next)
        if (x->id == id)
            return true;
    return false;
}

/* ---- server lifecycle ---- */

/* Whether a tls-config file `path` may be read: its real path (into
 * `real`, PATH_MAX bytes) is one of the handler's tls_files (the
 * operator's grant; the actor never reads their content), or lies inside
 * the actor's filesystem grant (which it may read anyway).  A relative
 * path is relative to the filesystem grant's directory, as the filesystem
 * handler's paths are (without one, to the manifest's directory, as
 * tls_files are).  A path granted by neither gets the same answer
 * whether or not it exists (rt_path_where). */
static bool tls_file(rt_host *h, const wit_str *path, char *real)
{
    const rt_spec *spec = rt_actor_spec(h->a);
    const hs_http_framework *g = rt_spec_settings(spec, HANDLER_HTTP_FRAMEWORK);
    const hs_filesystem *fs = rt_spec_settings(spec, HANDLER_FILESYSTEM);
    const char *base = fs != NULL ? fs->root : spec->base_dir;
    char abs[PATH_MAX];
    bool exists = false;
    int n;

    n = path->ptr[0] == '/'
            ? snprintf(abs, sizeof abs, "%s", path->ptr)
            : snprintf(abs, sizeof abs, "%s/%s", base != NULL ? base : ".", path->ptr);
    if (n < 0 || (size_t)n >= sizeof abs || rt_path_where(abs, real, &exists) != 0)
        return false;
    if (fs != NULL && rt_path_inside(fs->root, real))
        return true; /* a missing one fails to load, as inside the grant it may */
    for (char **f = g != NULL ? g->tls_files : NULL; exists && f != NULL && *f != NULL; f++)
        if (strcmp(*f, real) == 0)
            return true;
    return false;
}

static int f_create_server(rt_host *h, wit_http_types_server_config *config, wit_res_u64_str *ret)
{
    hf_actor *a = self(h);
    hf_server *s;
    const char *host;
    char cert[PATH_MAX], key[PATH_MAX];

    if (a == NULL)
        return oom(h);
    host = config->host.some ? config->host.val.ptr : a->host;
    if (strcmp(host, a->host) != 0 &&
        !(strcmp(host, "localhost") == 0 && strcmp(a->host, "127.0.0.1") == 0))
        return REFUSE(ret, "host %s is not granted (the manifest allows %s)", host, a->host);
    if (config->port.some && config->port.val != 0) {
        bool ok = false;
        for (size_t i = 0; i < a->nports; i++)
            ok |= config->port.val >= a->ports[i].lo && config->port.val <= a->ports[i].hi;
        if (!ok)
            return REFUSE(ret, "port %u is not in the actor's allowed_ports", config->port.val);
    }
    if (config->tls_config.some &&
        (strlen(config->tls_config.val.cert_path.ptr) != config->tls_config.val.cert_path.len ||
         strlen(config->tls_config.val.key_path.ptr) != config->tls_config.val.key_path.len))
        return REFUSE(ret, "tls-config: a path holds a NUL character");
    if (config->tls_config.some) {
        const wit_http_types_tls_config *t = &config->tls_config.val;
        const wit_str *bad = !tls_file(h, &t->cert_path, cert) ? &t->cert_path
                             : !tls_file(h, &t->key_path, key) ? &t->key_path
                                                               : NULL;
        th_error e;
        th_error_clear(&e);
        if (bad != NULL)
            return REFUSE(ret,
                          "tls-config: '%.300s' is neither one of this actor's tls_files nor "
                          "inside its filesystem grant",
                          bad->ptr);
        if (hf_tls_check(cert, key, t->cert_path.ptr, t->key_path.ptr, &e) != 0)
            return REFUSE(ret, "tls-config: %s", e.msg);
    }
    if ((s = calloc(1, sizeof *s)) == NULL)
        return oom(h);
    atomic_init(&s->refs, 1);
    atomic_init(&s->next_conn, 0);
    snprintf(s->host, sizeof s->host, "%s", a->host);
    s->want_port = config->port.some ? config->port.val : 0;
    if (config->tls_config.some) { /* the files checked, by their real paths */
        s->cert_path = strdup(cert);
        s->key_path = strdup(key);
        if (s->cert_path == NULL || s->key_path == NULL) {
            free(s->cert_path);
            free(s->key_path);
            free(s);
            return oom(h);
        }
    }
    pthread_mutex_lock(&a->lock);
    if (a->nservers >= TH_HTTPD_MAX_SERVERS) {
        pthread_mutex_unlock(&a->lock);
        free(s->cert_path);
        free(s->key_path);
        free(s);
        return REFUSE(ret, "the actor has %u servers, the most it may have", TH_HTTPD_MAX_SERVERS);
    }
    atomic_fetch_add(&a->refs, 1);
    s->owner = a;
    s->id = ++a->next_id;
    s->next = a->servers;
    a->servers = s;
    a->nservers++;
    pthread_mutex_unlock(&a->lock);
    ret->ok = s->id;
    return 0;
}

static int f_get_server_info(rt_host *h, uint64_t server_id,
                             wit_res_http_types_server_info_str *ret)
{
    hf_actor *a = self(h);
    hf_server *s;
    int rc = 0;

    if (a == NULL)
        return oom(h);
    pthread_mutex_lock(&a->lock);
    if ((s = find_server(a, server_id)) == NULL) {
        pthread_mutex_unlock(&a->lock);
        return REFUSE(ret, "no server %llu", (unsigned long long)server_id);
    }
    ret->ok.id = s->id;
    ret->ok.port = s->running ? s->port : s->want_port;
    ret->ok.running = s->running;
    ret->ok.routes_count = s->nroutes;
    ret->ok.middleware_count = s->nmws;
    ret->ok.websocket_enabled = s->ws != NULL;
    rc = wit_str_set(h, &ret->ok.host, s->host);
    pthread_mutex_unlock(&a->lock);
    return rc;
}

static int f_start_server(rt_host *h, uint64_t server_id, wit_res_u16_str *ret)
{
    hf_actor *a = self(h);
    hf_server *s;
    uint16_t port = 0;
    int fd = -1, rc;
    th_error e;

    if (a == NULL)
        return oom(h);
    th_error_clear(&e);
    /* the turn is the only writer of the list and of `running` */
    pthread_mutex_lock(&a->lock);
    s = find_server(a, server_id);
    pthread_mutex_unlock(&a->lock);
    if (s == NULL)
        return REFUSE(ret, "no server %llu", (unsigned long long)server_id);
    if (s->running)
        return REFUSE(ret, "server %llu is already running on port %u",
                      (unsigned long long)server_id, s->port);
    if (hf_bind(a, s, &fd, &port, &e) != 0)
        return REFUSE(ret, "%s", e.msg);
    if ((rc = hf_io_start(s, fd)) != 0)
        return REFUSE(ret, "cannot start the server: %s", th_strerror(rc));
    pthread_mutex_lock(&a->lock);
    s->running = true;
    s->port = port;
    pthread_mutex_unlock(&a->lock);
    ret->ok = port;
    return 0;
}

static int f_stop_server(rt_host *h, uint64_t server_id, wit_res_unit_str *ret)
{
    hf_actor *a = self(h);
    hf_server *s;

    if (a == NULL)
        return oom(h);
    pthread_mutex_lock(&a->lock);
    s = find_server(a, server_id);
    if (s != NULL && s->running) {
        s->running = false;
        hf_io_stop(s);
    }
    pthread_mutex_unlock(&a->lock);
    if (s == NULL)
        return REFUSE(ret, "no server %llu", (unsigned long long)server_id);
    return 0;
}

static int f_destroy_server(rt_host *h, uint64_t server_id, wit_res_unit_str *ret)
{
    hf_actor *a = self(h);
    hf_server **p, *s = NULL;

    if (a == NULL)
        return oom(h);
    pthread_mutex_lock(&a->lock);
    for (p = &a->servers; *p != NULL; p = &(*p)->next)
        if ((*p)->id == server_id) {
            s = *p;
            *p = s->next;
            a->nservers--;
            a->nroutes -= s->nroutes + s->nmws;
            break;
        }
    if (s != NULL && s->running) {
        s->running = false;
        hf_io_stop(s);
    }
    pthread_mutex_unlock(&a->lock);
    if (s == NULL)
        return REFUSE(ret, "no server %llu", (unsigned long long)server_id);
    hf_server_release(s);
    return 0;
}

/* ---- handlers, routes, middleware ---- */

static int f_register_handler(rt_host *h, wit_str *handler_name, wit_res_u64_str *ret)
{
    hf_actor *a = self(h);
    hf_handler *x;

    if (a == NULL || (x = calloc(1, sizeof *x)) == NULL)
        return oom(h);
    pthread_mutex_lock(&a->lock);
    if (a->nroutes >= TH_HTTPD_MAX_ROUTES) {
        pthread_mutex_unlock(&a->lock);
        free(x);
        return REFUSE(ret, "the actor has %u handlers, routes and middleware, the most it may",
                      TH_HTTPD_MAX_ROUTES);
    }
    x->name = handler_name->ptr; /* taken over */
    handler_name->ptr = NULL;
    x->id = ++a->next_id;
    x->next = a->handlers;
    a->handlers = x;
    a->nroutes++;
    pthread_mutex_unlock(&a->lock);
    ret->ok = x->id;
    return 0;
}

/* A route or middleware path: starts with '/', no control characters. */
static bool path_ok(const wit_str *p)
{
    if (p->len == 0 || p->ptr[0] != '/')
        return false;
    for (size_t i = 0; i < p->len; i++)
        if ((unsigned char)p->ptr[i] < 0x20 || p->ptr[i] == 0x7f || p->ptr[i] == '?')
            return false;
    return true;
}

/* Add a route (method != NULL) or a middleware to server `sid`. */
static int add_entry(rt_host *h, uint64_t sid, wit_str *path, wit_str *method, uint64_t handler,
                     wit_res_u64_str *ret)
{
    hf_actor *a = self(h);
    hf_route *r;
    hf_server *s;

    if (a == NULL)
        return oom(h);
    if (!path_ok(path))
        return REFUSE(ret, "path \"%s\" must start with '/' and hold no control character or '?'",
                      path->ptr);
    if (method != NULL) {
        if (method->len == 0 || method->len > 32)
            return REFUSE(ret, "method \"%s\" is not an HTTP method", method->ptr);
        for (size_t i = 0; i < method->len; i++) {
            unsigned char c = (unsigned char)method->ptr[i];
            if (!(isalpha(c) || c == '-' || c == '_' || (c == '*' && method->len == 1)))
                return REFUSE(ret, "method \"%s\" is not an HTTP method", method->ptr);
            method->ptr[i] = (char)toupper(c);
        }
    }
    if ((r = calloc(1, sizeof *r)) == NULL)
        return oom(h);
    pthread_mutex_lock(&a->lock);
    s = find_server(a, sid);
    if (s == NULL || !handler_known(a, handler) || a->nroutes >= TH_HTTPD_MAX_ROUTES) {
        bool full = a->nroutes >= TH_HTTPD_MAX_ROUTES;
        pthread_mutex_unlock(&a->lock);
        free(r);
        if (s == NULL)
            return REFUSE(ret, "no server %llu", (unsigned long long)sid);
        if (full)
            return REFUSE(ret, "the actor has %u handlers, routes and middleware, the most it may",
                          TH_HTTPD_MAX_ROUTES);
        return REFUSE(ret, "no handler %llu (register-handler gives one)",
                      (unsigned long long)handler);
    }
    r->path = path->ptr; /* taken over */
    path->ptr = NULL;
    if (method != NULL) {
        r->method = method->ptr;
        method->ptr = NULL;
    }
    r->handler = handler;
    r->id = ++a->next_id;
    /* routes keep registration order (first match wins); middleware is
     * kept newest first and reversed when a request collects its chain */
    if (method != NULL) {
        hf_route **p = &s->routes;
        while (*p != NULL)
            p = &(*p)->next;
        *p = r;
        s->nroutes++;
    } else {
        r->next = s->mws;
        s->mws = r;
        s->nmws++;
    }
    a->nroutes++;
    pthread_mutex_unlock(&a->lock);
    ret->ok = r->id;
    return 0;
}

static int f_add_route(rt_host *h, uint64_t server_id, wit_str *path, wit_str *method,
                       uint64_t handler_id, wit_res_u64_str *ret)
{
    return add_entry(h, server_id, path, method, handler_id, ret);
}

static int f_add_middleware(rt_host *h, uint64_t server_id, wit_str *path, uint64_t handler_id,
                            wit_res_u64_str *ret)
{
    return add_entry(h, server_id, path, NULL, handler_id, ret);
}

/* Remove route or middleware `id` from whichever server has it. */
static int remove_entry(rt_host *h, uint64_t id, bool mw, wit_res_unit_str *ret)
{
    hf_actor *a = self(h);
    hf_route *r = NULL;

    if (a == NULL)
        return oom(h);
    pthread_mutex_lock(&a->lock);
    for (hf_server *s = a->servers; s != NULL && r == NULL; s = s->next) {
        for (hf_route **p = mw ? &s->mws : &s->routes; *p != NULL; p = &(*p)->next)
            if ((*p)->id == id) {
                r = *p;
                *p = r->next;
                if (mw)
                    s->nmws--;
                else
                    s->nroutes--;
                a->nroutes--;
                break;
            }
    }
    pthread_mutex_unlock(&a->lock);
    if (r == NULL)
        return REFUSE(ret, "no %s %llu", mw ? "middleware" : "route", (unsigned long long)id);
    free(r->path);
    free(r->method);
    free(r);
    return 0;
}

static int f_remove_route(rt_host *h, uint64_t route_id, wit_res_unit_str *ret)
{
    return remove_entry(h, route_id, false, ret);
}

static int f_remove_middleware(rt_host *h, uint64_t middleware_id, wit_res_unit_str *ret)
{
    return remove_entry(h, middleware_id, true, ret);
}

/* ---- WebSocket ---- */

static int f_enable_websocket(rt_host *h, uint64_t server_id, wit_str *path,
                              wit_opt_u64 *connect_handler_id, uint64_t message_handler_id,
                              wit_opt_u64 *disconnect_handler_id, wit_res_unit_str *ret)
{
    hf_actor *a = self(h);
    hf_wspath *w, **p;
    hf_server *s;
    const char *why = NULL;

    if (a == NULL)
        return oom(h);
    if (!path_ok(path))
        return REFUSE(ret, "path \"%s\" must start with '/' and hold no control character or '?'",
                      path->ptr);
    if ((w = calloc(1, sizeof *w)) == NULL)
        return oom(h);
    pthread_mutex_lock(&a->lock);
    if ((s = find_server(a, server_id)) == NULL)
        why = "no such server";
    else if (!handler_known(a, message_handler_id) ||
             (connect_handler_id->some && !handler_known(a, connect_handler_id->val)) ||
             (disconnect_handler_id->some && !handler_known(a, disconnect_handler_id->val)))
        why = "a handler id is not registered (register-handler gives one)";
    if (why == NULL) {
        /* enabling a path again replaces its handlers */
        for (p = &s->ws; *p != NULL; p = &(*p)->next)
            if (strcmp((*p)->path, path->ptr) == 0) {
                hf_wspath *old = *p;
                *p = old->next;
                free(old->path);
                free(old);
                break;
            }
        w->path = path->ptr;
        path->ptr = NULL;
        w->has_connect = connect_handler_id->some;
        w->connect = connect_handler_id->val;
        w->message = message_handler_id;
        w->has_disconnect = disconnect_handler_id->some;
        w->disconnect = disconnect_handler_id->val;
        w->next = s->ws;
        s->ws = w;
    }
    pthread_mutex_unlock(&a->lock);
    if (why != NULL) {
        free(w);
        return REFUSE(ret, "server %llu: %s", (unsigned long long)server_id, why);
    }
    return 0;
}

/* The running server `id` (a new reference) or NULL with a refusal. */
static hf_server *running_server(rt_host *h, hf_actor *a, uint64_t id, wit_res_unit_str *ret)
{
    hf_server *s;

    pthread_mutex_lock(&a->lock);
    s = find_server(a, id);
    if (s != NULL && s->running)
        atomic_fetch_add(&s->refs, 1);
    pthread_mutex_unlock(&a->lock);
    if (s == NULL || !s->running) {
        REFUSE(ret, "no running server %llu", (unsigned long long)id);
        return NULL;
    }
    return s;
}

/* Is `conn` a WebSocket connection server `s` has had (open or closed)?
 * If not, a refusal naming it.  One that has closed is no error (what is
 * sent to it is dropped): a client may leave while the actor talks to it.
 * Every id the actor has heard of was given out before its connect call
 * was queued, so it is never above next_conn here. */
static bool conn_known(rt_host *h, hf_server *s, uint64_t conn, wit_res_unit_str *ret)
{
    if (conn != 0 && conn <= atomic_load(&s->next_conn))
        return true;
    REFUSE(ret,
           "no WebSocket connection %llu on server %llu: the server never had one with that id",
           (unsigned long long)conn, (unsigned long long)s->id);
    return false;
}

static int f_send_websocket_message(rt_host *h, uint64_t server_id, uint64_t connection_id,
                                    wit_websocket_types_websocket_message *message,
                                    wit_res_unit_str *ret)
{
    hf_actor *a = self(h);
    const uint8_t *data;
    size_t len;
    hf_server *s;
    int op, rc;

    if (a == NULL)
        return oom(h);
    if ((op = hf_ws_message_opcode(message, &data, &len)) < 0)
        return REFUSE(ret, "this message type cannot be sent (text, binary, ping, pong and close "
                           "can; a ping or pong carries at most 125 bytes)");
    if ((s = running_server(h, a, server_id, ret)) == NULL)
        return ret->err.ptr != NULL ? 0 : oom(h);
    if (!conn_known(h, s, connection_id, ret)) {
        hf_server_release(s);
        return ret->err.ptr != NULL ? 0 : oom(h);
    }
    rc = hf_io_ws_send(s, connection_id, op, data, len);
    hf_server_release(s);
    if (rc != 0)
        return REFUSE(ret, "cannot send: %s", th_strerror(rc));
    return 0;
}

static int f_close_websocket(rt_host *h, uint64_t server_id, uint64_t connection_id,
                             wit_res_unit_str *ret)
{
    hf_actor *a = self(h);
    hf_server *s;
    int rc;

    if (a == NULL)
        return oom(h);
    if ((s = running_server(h, a, server_id, ret)) == NULL)
        return ret->err.ptr != NULL ? 0 : oom(h);
    if (!conn_known(h, s, connection_id, ret)) {
        hf_server_release(s);
        return ret->err.ptr != NULL ? 0 : oom(h);
    }
    rc = hf_io_ws_close(s, connection_id);
    hf_server_release(s);
    if (rc != 0)
        return REFUSE(ret, "cannot close: %s", th_strerror(rc));
    return 0;
}

/* ---- attenuation ---- */

/* A child's grant lies within its parent's: the same host, every port
 * range inside the parent's ranges, sizes no larger, every TLS file one of
 * the parent's tls_files (as real paths). */
static int settings_subset(const void *parent, const void *child, th_error *err)
{
    const hs_http_framework *p = parent, *c = child;

    if (p == NULL || c == NULL)
        return th_error_set(err, TH_EPERM, "http-framework: no grant to compare");
    if (strcmp(p->host, c->host) != 0)
        return th_error_set(err, TH_EPERM, "http-framework host %s is not the parent's (%s)",
                            c->host, p->host);
    for (size_t i = 0; i < c->nports; i++) {
        bool inside = false;
        for (size_t k = 0; k < p->nports && !inside; k++)
            inside = c->ports[i].lo >= p->ports[k].lo && c->ports[i].hi <= p->ports[k].hi;
        if (!inside)
            return th_error_set(err, TH_EPERM,
                                "http-framework allowed_ports %u-%u are not within the parent's",
                                c->ports[i].lo, c->ports[i].hi);
    }
    if (c->max_body_bytes > p->max_body_bytes || c->max_connections > p->max_connections ||
        c->max_queued > p->max_queued || c->request_timeout_ms > p->request_timeout_ms)
        return th_error_set(err, TH_EPERM,
                            "http-framework max_body_bytes, max_connections, max_queued and "
                            "request_timeout_ms may not exceed the parent's");
    for (char **f = c->tls_files; f != NULL && *f != NULL; f++) {
        bool held = false;
        for (char **q = p->tls_files; q != NULL && *q != NULL && !held; q++)
            held = strcmp(*f, *q) == 0;
        if (!held)
            return th_error_set(err, TH_EPERM,
                                "http-framework tls_files lists '%s', which is not among the "
                                "parent's",
                                *f);
    }
    return 0;
}

/* ---- settings: host, allowed_ports, max_body_bytes, max_connections,
 * max_queued, request_timeout_ms (all optional) ---- */

/* One entry of http-framework.allowed_ports: a port (1-65535) or a string
 * "LOW-HIGH" with LOW <= HIGH. */
static int port_entry(rt_manifest_reader *r, const toml_value *v, const char *prefix, size_t i,
                      hs_port_range *out)
{
    unsigned lo, hi;
    int end = 0;

    if (v->type == TOML_INTEGER && v->u.i >= 1 && v->u.i <= 65535) {
        out->lo = out->hi = (uint16_t)v->u.i;
        return 0;
    }
    if (v->type == TOML_STRING && strlen(v->u.s.ptr) == v->u.s.len &&
        sscanf(v->u.s.ptr, "%5u-%5u%n", &lo, &hi, &end) == 2 && (size_t)end == v->u.s.len &&
        lo >= 1 && lo <= hi && hi <= 65535) {
        out->lo = (uint16_t)lo;
        out->hi = (uint16_t)hi;
        return 0;
    }
    return rt_manifest_fail(
        r, v->line, TH_EINVAL,
        "field '%s.allowed_ports[%zu]' must be a port (1-65535) or a range \"LOW-HIGH\"", prefix,
        i);
}

/* One entry of http-framework.tls_files: a file (relative to the
 * manifest's directory) that exists and is a regular file; kept as its
 * real path. */
static char *tls_files_entry(rt_manifest_reader *r, char *p, char *why, size_t cap)
{
    char real[PATH_MAX], *abs = rt_manifest_path(r, p);
    struct stat st;

    free(p);
    if (abs == NULL)
        return NULL;
    if (realpath(abs, real) == NULL || stat(real, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(why, cap, "'%s' is not a file", abs);
        free(abs);
        return NULL;
    }
    free(abs);
    return strdup(real);
}

/* http-framework: host, allowed_ports, max_body_bytes, max_connections,
 * max_queued, request_timeout_ms, tls_files (all optional). */
static int settings_read(rt_manifest_reader *r, const toml_value *h, const char *prefix, void *p)
{
    hs_http_framework *g = p;
    const toml_keyval *kv;
    struct in6_addr addr;
    uint64_t v;
    size_t n;
    int rc, line = 0;

    if ((rc = rt_manifest_string(r, h, prefix, "host", false, true, 64, &g->host, &line)) != 0)
        return rc;
    if (g->host == NULL && (g->host = strdup("127.0.0.1")) == NULL)
        return rt_manifest_nomem(r);
    /* the address servers bind: a name would fail every start-server */
    if (inet_pton(AF_INET, g->host, &addr) != 1 && inet_pton(AF_INET6, g->host, &addr) != 1)
        return rt_manifest_fail(r, line, TH_EINVAL,
                                "field '%s.host' must be an IPv4 or IPv6 address, not \"%s\"",
                                prefix, g->host);
    if ((rc = rt_manifest_field(r, h, prefix, "allowed_ports", TOML_ARRAY, &kv)) != 0)
        return rc;
    n = kv != NULL ? toml_array_len(kv->value) : 1;
    if (n > TH_HTTPD_MAX_PORT_RANGES)
        return rt_manifest_fail(r, kv->line, TH_EINVAL,
                                "field '%s.allowed_ports' lists more than %u entries", prefix,
                                TH_HTTPD_MAX_PORT_RANGES);
    if ((g->ports = calloc(n ? n : 1, sizeof *g->ports)) == NULL)
        return rt_manifest_nomem(r);
    if (kv == NULL) {
        g->ports[0] = (hs_port_range){1024, 65535};
        g->nports = 1;
    }
    for (size_t i = 0; kv != NULL && i < n; i++, g->nports++)
        if ((rc = port_entry(r, toml_array_get(kv->value, i), prefix, i, &g->ports[i])) != 0)
            return rc;
    g->max_body_bytes = TH_HTTPD_DEFAULT_MAX_BODY;
    if ((rc = rt_manifest_uint(r, h, prefix, "max_body_bytes", 0, TH_HTTPD_MAX_BODY_BYTES,
                               &g->max_body_bytes)) != 0)
        return rc;
    v = TH_HTTPD_DEFAULT_MAX_CONNECTIONS;
    if ((rc = rt_manifest_uint(r, h, prefix, "max_connections", 1, TH_HTTPD_MAX_CONNECTIONS, &v)) !=
        0)
        return rc;
    g->max_connections = (uint32_t)v;
    v = TH_HTTPD_DEFAULT_MAX_QUEUED;
    if ((rc = rt_manifest_uint(r, h, prefix, "max_queued", 1, TH_HTTPD_MAX_QUEUED, &v)) != 0)
        return rc;
    g->max_queued = (uint32_t)v;
    v = TH_HTTPD_DEFAULT_TIMEOUT_MS;
    if ((rc = rt_manifest_uint(r, h, prefix, "request_timeout_ms", 1,
                               TH_MANIFEST_MAX_CALL_TIMEOUT_MS, &v)) != 0)
        return rc;
    g->request_timeout_ms = (uint32_t)v;
    return rt_manifest_list(r, h, prefix, "tls_files", tls_files_entry, &g->tls_files);
}

static void settings_release(void *p)
{
    hs_http_framework *s = p;

    free(s->host);
    free(s->ports);
    rt_manifest_list_free(s->tls_files);
}

static const char *const fields[] = {
    "host",       "allowed_ports",      "max_body_bytes", "max_connections",
    "max_queued", "request_timeout_ms", "tls_files",      NULL};

static const wit_impl_http_framework impl = {
    .create_server = f_create_server,
    .get_server_info = f_get_server_info,
    .start_server = f_start_server,
    .stop_server = f_stop_server,
    .destroy_server = f_destroy_server,
    .register_handler = f_register_handler,
    .add_route = f_add_route,
    .remove_route = f_remove_route,
    .add_middleware = f_add_middleware,
    .remove_middleware = f_remove_middleware,
    .enable_websocket = f_enable_websocket,
    .send_websocket_message = f_send_websocket_message,
    .close_websocket = f_close_websocket,
};

const rt_iface rt_iface_http_framework = {
    .name = "http-framework",
    .module = "theater:simple/http-framework",
    .handler = HANDLER_HTTP_FRAMEWORK,
    .fns = wit_fns_http_framework,
    .nfns = WIT_NFNS_HTTP_FRAMEWORK,
    .impl = &impl,
    .fields = fields,
    .settings_size = sizeof(hs_http_framework),
    .settings_read = settings_read,
    .settings_release = settings_release,
    .settings_subset = settings_subset,
};
