/*
 * http_client.c - the `http-client` interface: send-http.
 *
 * The call is checked on the actor's worker (the manifest's allowed_hosts,
 * the method, the URL and the headers), then the actor is suspended (never
 * its worker) and the request runs on the runtime's I/O thread: one libcurl
 * multi handle per runtime, driven by the libuv loop through
 * curl_multi_socket_action (a uv_poll_t per socket curl asks about, one
 * uv_timer_t for curl's timeout).  When a transfer ends, its response (or
 * the reason it failed) wakes the actor as an RT_WAIT_RESULT, lowered and
 * recorded by the generated glue.
 *
 * Requests: HTTP/1.1 over http or https, no redirects followed, no proxy, no content decoding: the
 * body bytes and headers go out as the actor gives them (curl's own default Accept, Content-Type
 * and Expect headers are removed unless the actor sets them), and the answer comes back as sent (a
 * header that is not UTF-8 is read as ISO-8859-1, the historical charset of HTTP headers, since a
 * WIT string must be UTF-8).  The grants: `allowed_hosts` (absent: every request is refused),
 * `timeout_ms` for the whole transfer, `max_response_bytes` for the body, `ca_file` for the CAs an
 * https server's certificate must chain to (absent: libcurl's compiled-in system store; present:
 * that PEM bundle alone, CURLOPT_CAINFO with CURLOPT_CAPATH unset; no environment variable such as
 * SSL_CERT_FILE is read either way).  Every failure is an err(string) saying why.
 *
 * Ownership: a transfer (hc_xfer) belongs to the loop thread from the
 * moment it is posted; it names its actor by id, so an actor that ended
 * meanwhile is simply not woken (and actor_ended cancels its transfers).
 */
#define _GNU_SOURCE /* realpath */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <uv.h>

#include "handlers/handlers_int.h"
#include "runtime/manifest.h"
#include "wit_glue.h"

#define IFACE "http-client"

/* One transfer. */
typedef struct hc_xfer {
    struct hc_xfer *next; /* the loop's list */
    struct hc_loop *L;
    CURL *easy;
    CURLU *url;
    struct curl_slist *hdrs;
    char method[40];
    uint8_t *body; /* request body (owned) or NULL */
    size_t body_len;
    bool has_body, head;
    uint32_t timeout_ms;
    uint64_t max_body;
    char *ca_file; /* the grant's ca_file (owned), or NULL: the system store */
    rt_runtime *rt;
    char actor[RT_ID_LEN + 1];
    uint64_t token;
    /* the answer as it arrives */
    wit_res_http_types_http_response_str res;
    size_t cap_headers;
    rt_buf rbody;
    size_t header_bytes;
    bool too_big;        /* the body passed max_body */
    char abort_why[160]; /* why a callback stopped the transfer, or "" */
    char errbuf[CURL_ERROR_SIZE];
} hc_xfer;

/* The runtime's multi handle, in the I/O thread's slot. */
typedef struct hc_loop {
    CURLM *multi;
    uv_loop_t *loop;
    uv_timer_t timer;
    hc_xfer *xfers;
} hc_loop;

/* A socket curl watches. */
typedef struct hc_sock {
    uv_poll_t poll;
    curl_socket_t fd;
    hc_loop *L;
} hc_sock;

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ------------------------------------------------------------------ */
/* Results                                                            */

/* Wake the actor of `x` with its result (taken from x->res), or with
 * err(why) when why != NULL (the generated wit_wake_T). */
static void wake(hc_xfer *x, const char *why)
{
    wit_res_http_types_http_response_str v;

    if (why != NULL) {
        memset(&v, 0, sizeof v);
        v.is_err = true;
        v.err.ptr = strdup(why);
        v.err.len = v.err.ptr != NULL ? strlen(why) : 0; /* made UTF-8 by the wake */
    } else {
        v = x->res;
        memset(&x->res, 0, sizeof x->res);
    }
    wit_wake_res_http_types_http_response_str(x->rt, x->actor, x->token, &v);
}

static void xfer_free(hc_xfer *x)
{
    if (x == NULL)
        return;
    if (x->easy != NULL)
        curl_easy_cleanup(x->easy);
    curl_url_cleanup(x->url);
    curl_slist_free_all(x->hdrs);
    free(x->body);
    free(x->ca_file);
    wit_free_res_http_types_http_response_str(&x->res);
    rt_buf_release(&x->rbody);
    free(x);
}

/* ------------------------------------------------------------------ */
/* Receiving                                                          */

/* A string of a header as UTF-8: as is when valid, else each byte as the
 * ISO-8859-1 character it is.  NULL on allocation failure. */
static char *header_text(const char *p, size_t n)
{
    char *s, *o;

    if (rt_utf8_valid((const uint8_t *)p, n)) {
        if ((s = malloc(n + 1)) != NULL) {
            memcpy(s, p, n);
            s[n] = 0;
        }
        return s;
    }
    if ((s = malloc(2 * n + 1)) == NULL)
        return NULL;
    for (o = s; n > 0; n--, p++) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x80) {
            *o++ = (char)c;
        } else {
            *o++ = (char)(0xc0 | (c >> 6));
            *o++ = (char)(0x80 | (c & 0x3f));
        }
    }
    *o = 0;
    return s;
}

static void clear_headers(hc_xfer *x)
{
    wit_free_list_tup2_str_str(&x->res.ok.headers);
    memset(&x->res.ok.headers, 0, sizeof x->res.ok.headers);
    x->cap_headers = 0;
}

/* One header line of the answer (status lines start the list over: an
 * interim 1xx answer's headers are not the final one's). */
static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    hc_xfer *x = ud;
    wit_list_tup2_str_str *l = &x->res.ok.headers;
    size_t len = size * n, k, v, e;
    wit_tup2_str_str *t;

    x->header_bytes += len;
    if (x->header_bytes > TH_HTTP_MAX_HEADER_BYTES) {
        snprintf(x->abort_why, sizeof x->abort_why,
                 "the response's headers are larger than %u bytes", TH_HTTP_MAX_HEADER_BYTES);
        return 0;
    }
    if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
        clear_headers(x);
        return len;
    }
    e = len;
    while (e > 0 && (p[e - 1] == '\r' || p[e - 1] == '\n'))
        e--;
    for (k = 0; k < e && p[k] != ':'; k++)
        ;
    if (e == 0 || k == e || k == 0)
        return len; /* the blank line ending the headers, or not a header */
    if (l->len >= TH_HTTP_MAX_HEADERS) {
        snprintf(x->abort_why, sizeof x->abort_why, "the response has more than %u headers",
                 TH_HTTP_MAX_HEADERS);
        return 0;
    }
    if (l->len == x->cap_headers) {
        size_t cap = x->cap_headers ? 2 * x->cap_headers : 16;
        if ((t = realloc(l->ptr, cap * sizeof *t)) == NULL)
            goto nomem;
        l->ptr = t;
        x->cap_headers = cap;
    }
    for (v = k + 1; v < e && (p[v] == ' ' || p[v] == '\t'); v++)
        ;
    while (e > v && (p[e - 1] == ' ' || p[e - 1] == '\t'))
        e--;
    t = &l->ptr[l->len];
    t->f0.ptr = header_text(p, k);
    t->f0.len = t->f0.ptr != NULL ? strlen(t->f0.ptr) : 0;
    t->f1.ptr = header_text(p + v, e - v);
    t->f1.len = t->f1.ptr != NULL ? strlen(t->f1.ptr) : 0;
    l->len++;
    if (t->f0.ptr == NULL || t->f1.ptr == NULL)
        goto nomem;
    return len;
nomem:
    snprintf(x->abort_why, sizeof x->abort_why, "out of memory reading the response's headers");
    return 0;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    hc_xfer *x = ud;
    size_t len = size * n;

    if ((uint64_t)x->rbody.len + len > x->max_body) {
        x->too_big = true;
        return 0;
    }
    rt_buf_append(&x->rbody, p, len);
    if (x->rbody.oom) {
        snprintf(x->abort_why, sizeof x->abort_why, "out of memory reading the response's body");
        return 0;
    }
    return len;
}

/* libcurl names the ca_file when it cannot load it ("error setting
 * certificate file: PATH"): the actor hears of it as "this handler's
 * ca_file", the runtime's log has the path (rt_error_hide_host). */
static void hide_ca_file(hc_xfer *x, char *why, size_t cap)
{
    rt_hidden_file ca = {x->ca_file, "this handler's ca_file"};
    th_error e;

    if (x->ca_file == NULL || strstr(why, x->ca_file) == NULL)
        return;
    th_error_clear(&e);
    e.code = TH_EINVAL;
    snprintf(e.msg, sizeof e.msg, "%.*s", (int)sizeof e.msg - 1, why);
    rt_error_hide_paths(x->rt, NULL, "send-http", &ca, 1, &e);
    snprintf(why, cap, "%s", e.msg);
}

/* A transfer ended: the answer, or err with the reason. */
static void finish(hc_xfer *x, CURLcode rc)
{
    char why[CURL_ERROR_SIZE + 300], *url = NULL;
    long status = 0;

    curl_url_get(x->url, CURLUPART_URL, &url, 0);
    if (rc == CURLE_OK) {
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
        x->res.is_err = false;
        x->res.ok.status = (uint16_t)status;
        /* the body is always some, an empty one too (a HEAD, a 204), as
         * the original's send-http answered */
        if (x->rbody.data == NULL && (x->rbody.data = malloc(1)) == NULL) {
            wake(x, "out of memory");
            return;
        }
        x->res.ok.body.some = true;
        x->res.ok.body.val.ptr = x->rbody.data;
        x->res.ok.body.val.len = x->rbody.len;
        memset(&x->rbody, 0, sizeof x->rbody);
        wake(x, NULL);
    } else {
        if (x->too_big)
            snprintf(why, sizeof why,
                     "%s %s: the response's body is larger than max_response_bytes (%llu bytes)",
                     x->method, url ? url : "?", (unsigned long long)x->max_body);
        else if (x->abort_why[0] != 0)
            snprintf(why, sizeof why, "%s %s: %s", x->method, url ? url : "?", x->abort_why);
        else if (rc == CURLE_OPERATION_TIMEDOUT)
            snprintf(why, sizeof why, "%s %s: timed out after %u ms (timeout_ms): %s", x->method,
                     url ? url : "?", x->timeout_ms, x->errbuf);
        else
            snprintf(why, sizeof why, "%s %s: %s%s%s%s", x->method, url ? url : "?",
                     curl_easy_strerror(rc), x->errbuf[0] ? ": " : "", x->errbuf,
                     rc != CURLE_PEER_FAILED_VERIFICATION ? ""
                     : x->ca_file != NULL
                         ? " (trusted: only the CAs of this handler's ca_file)"
                         : " (trusted: the system's CA store; a handler's ca_file can name "
                           "others)");
        hide_ca_file(x, why, sizeof why);
        wake(x, why);
    }
    curl_free(url);
}

/* ------------------------------------------------------------------ */
/* The multi handle on the loop                                       */

static void check_done(hc_loop *L)
{
    CURLMsg *m;
    int left;
    hc_xfer *x, **pp;

    while ((m = curl_multi_info_read(L->multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        curl_multi_remove_handle(L->multi, m->easy_handle);
        for (pp = &L->xfers; *pp != NULL && *pp != x; pp = &(*pp)->next)
            ;
        if (*pp == x)
            *pp = x->next;
        finish(x, m->data.result);
        xfer_free(x);
    }
}

static void on_poll(uv_poll_t *p, int status, int events)
{
    hc_sock *s = p->data;
    int flags = 0, running;

    if (status < 0)
        flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE)
        flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE)
        flags |= CURL_CSELECT_OUT;
    curl_multi_socket_action(s->L->multi, s->fd, flags, &running);
    check_done(s->L);
}

static void on_timer(uv_timer_t *t)
{
    hc_loop *L = t->data;
    int running;

    curl_multi_socket_action(L->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(L);
}

static void on_sock_closed(uv_handle_t *h)
{
    free(h->data);
}

/* CURLMOPT_SOCKETFUNCTION: watch `fd` for what curl wants. */
static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    hc_loop *L = userp;
    hc_sock *s = socketp;
    int ev = 0;

    (void)easy;
    if (what == CURL_POLL_REMOVE) {
        if (s != NULL) {
            uv_poll_stop(&s->poll);
            uv_close((uv_handle_t *)&s->poll, on_sock_closed);
            curl_multi_assign(L->multi, fd, NULL);
        }
        return 0;
    }
    if (s == NULL) {
        if ((s = calloc(1, sizeof *s)) == NULL)
            return -1;
        s->fd = fd;
        s->L = L;
        if (uv_poll_init_socket(L->loop, &s->poll, fd) != 0) {
            free(s);
            return -1;
        }
        s->poll.data = s;
        curl_multi_assign(L->multi, fd, s);
    }
    if (what & CURL_POLL_IN)
        ev |= UV_READABLE;
    if (what & CURL_POLL_OUT)
        ev |= UV_WRITABLE;
    uv_poll_start(&s->poll, ev, on_poll);
    return 0;
}

/* CURLMOPT_TIMERFUNCTION. */
static int on_curl_timer(CURLM *multi, long ms, void *userp)
{
    hc_loop *L = userp;

    (void)multi;
    if (ms < 0)
        uv_timer_stop(&L->timer);
    else
        uv_timer_start(&L->timer, on_timer, (uint64_t)ms, 0);
    return 0;
}

static void on_loop_timer_closed(uv_handle_t *h)
{
    free(h->data);
}

/* The runtime stops: every transfer ends unanswered (its actor is being
 * stopped too), the multi handle and the timer go. */
static void loop_quit(uv_loop_t *loop, void *ud)
{
    hc_loop *L = ud;
    hc_xfer *x;

    (void)loop;
    while ((x = L->xfers) != NULL) {
        L->xfers = x->next;
        curl_multi_remove_handle(L->multi, x->easy);
        xfer_free(x);
    }
    curl_multi_cleanup(L->multi);
    uv_timer_stop(&L->timer);
    uv_close((uv_handle_t *)&L->timer, on_loop_timer_closed);
}

/* The runtime's multi handle (made on first use); NULL if it cannot be. */
static hc_loop *loop_state(uv_loop_t *loop)
{
    rt_io_slot_t *slot = rt_io_slot(loop, HANDLER_HTTP_CLIENT);
    hc_loop *L;

    if (slot == NULL)
        return NULL;
    if (slot->ud != NULL)
        return slot->ud;
    if ((L = calloc(1, sizeof *L)) == NULL || (L->multi = curl_multi_init()) == NULL) {
        free(L);
        return NULL;
    }
    L->loop = loop;
    uv_timer_init(loop, &L->timer);
    L->timer.data = L;
    curl_multi_setopt(L->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(L->multi, CURLMOPT_SOCKETDATA, L);
    curl_multi_setopt(L->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(L->multi, CURLMOPT_TIMERDATA, L);
    slot->ud = L;
    slot->quit = loop_quit;
    return L;
}

/* Whether the actor set header `name` itself. */
static bool has_header(const struct curl_slist *l, const char *name)
{
    size_t n = strlen(name);

    for (; l != NULL; l = l->next)
        if (strncasecmp(l->data, name, n) == 0 && (l->data[n] == ':' || l->data[n] == ';'))
            return true;
    return false;
}

static const char *setup(hc_xfer *x)
{
    static const char *const drop[] = {"Accept", "Content-Type", "Expect"};
    char line[64];
    struct curl_slist *n;
    CURL *e;

    if ((x->easy = e = curl_easy_init()) == NULL)
        return "cannot create a transfer";
    for (size_t i = 0; i < sizeof drop / sizeof drop[0]; i++) {
        if (has_header(x->hdrs, drop[i]))
            continue;
        snprintf(line, sizeof line, "%s:", drop[i]);
        if ((n = curl_slist_append(x->hdrs, line)) == NULL)
            return "out of memory";
        x->hdrs = n;
    }
    curl_easy_setopt(e, CURLOPT_PRIVATE, x);
    curl_easy_setopt(e, CURLOPT_CURLU, x->url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_PROXY, "");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    if (x->ca_file != NULL) {
        /* that bundle alone: no CA directory beside it */
        curl_easy_setopt(e, CURLOPT_CAINFO, x->ca_file);
        curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
    }
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)x->timeout_ms);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->hdrs);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    if (x->head)
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    if (x->has_body) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->body_len);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, x->body != NULL ? (char *)x->body : "");
    }
    if (strcmp(x->method, "GET") != 0 && strcmp(x->method, "HEAD") != 0 &&
        !(strcmp(x->method, "POST") == 0 && x->has_body))
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, x->method);
    else if (strcmp(x->method, "GET") == 0 && x->has_body)
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "GET");
    return NULL;
}

/* Posted to the loop: start the transfer. */
static void start(uv_loop_t *loop, void *ud)
{
    hc_xfer *x = ud;
    const char *why;
    hc_loop *L;

    if (loop == NULL) { /* the runtime stops */
        xfer_free(x);
        return;
    }
    if ((L = loop_state(loop)) == NULL) {
        why = "the HTTP client cannot start (out of memory)";
    } else if ((why = setup(x)) == NULL) {
        if (curl_multi_add_handle(L->multi, x->easy) != CURLM_OK) {
            why = "cannot start the transfer";
        } else {
            x->L = L;
            x->next = L->xfers;
            L->xfers = x;
            return;
        }
    }
    wake(x, why);
    xfer_free(x);
}

/* Posted to the loop: the actor ended; its transfers go unanswered. */
static void cancel(uv_loop_t *loop, void *ud)
{
    char *id = ud;
    rt_io_slot_t *slot = loop != NULL ? rt_io_slot(loop, HANDLER_HTTP_CLIENT) : NULL;
    hc_loop *L = slot != NULL ? slot->ud : NULL;
    hc_xfer **pp, *x;

    for (pp = L != NULL ? &L->xfers : NULL; pp != NULL && *pp != NULL;) {
        x = *pp;
        if (strcmp(x->actor, id) != 0) {
            pp = &x->next;
            continue;
        }
        *pp = x->next;
        curl_multi_remove_handle(L->multi, x->easy);
        xfer_free(x);
    }
    free(id);
}

void rt_http_client_ended(rt_actor *a)
{
    char *id;

    if (!(rt_actor_spec(a)->handlers & (1u << HANDLER_HTTP_CLIENT)) ||
        (id = strdup(rt_actor_id(a))) == NULL)
        return;
    if (rt_io_post(rt_actor_runtime(a), cancel, id) != 0)
        free(id);
}

/* ------------------------------------------------------------------ */
/* Grants                                                             */

/* Host and port of a pattern: host (lowercase, IPv6 with brackets) into
 * `host`, *port = 0 when it names none. */
static void pattern_split(const char *p, char *host, size_t cap, unsigned *port)
{
    const char *colon = p[0] == '[' ? strstr(p, "]:") : strrchr(p, ':');
    size_t n;

    if (colon != NULL && p[0] == '[')
        colon++;
    n = colon != NULL ? (size_t)(colon - p) : strlen(p);
    if (n >= cap)
        n = cap - 1;
    memcpy(host, p, n);
    host[n] = 0;
    *port = colon != NULL ? (unsigned)strtoul(colon + 1, NULL, 10) : 0;
}

/* Does host pattern `pat` ("*.d" or exact) cover host `h`? */
static bool host_covers(const char *pat, const char *h)
{
    size_t np, nh;

    if (strncmp(pat, "*.", 2) != 0)
        return strcasecmp(pat, h) == 0;
    np = strlen(pat + 1); /* ".d" */
    nh = strlen(h);
    return nh > np && strcasecmp(h + nh - np, pat + 1) == 0;
}

/* Is (host, port) allowed by the list? */
static bool host_allowed(char *const *list, const char *host, unsigned port)
{
    char ph[300];
    unsigned pp;

    for (; list != NULL && *list != NULL; list++) {
        if (strcmp(*list, "*") == 0)
            return true;
        pattern_split(*list, ph, sizeof ph, &pp);
        if ((pp == 0 || pp == port) && host_covers(ph, host))
            return true;
    }
    return false;
}

/* Does parent pattern `p` cover child pattern `c`? */
static bool pattern_covers(const char *p, const char *c)
{
    char ph[300], ch[300];
    unsigned pp, cp;

    if (strcmp(p, "*") == 0)
        return true;
    if (strcmp(c, "*") == 0)
        return false;
    pattern_split(p, ph, sizeof ph, &pp);
    pattern_split(c, ch, sizeof ch, &cp);
    if (pp != 0 && pp != cp)
        return false;
    if (strncmp(ch, "*.", 2) == 0) /* a child wildcard: within a parent's */
        return strncmp(ph, "*.", 2) == 0 &&
               (strcasecmp(ch + 1, ph + 1) == 0 || host_covers(ph, ch + 2));
    return host_covers(ph, ch);
}

static int settings_subset(const void *parent, const void *child, th_error *err)
{
    const hs_http_client *p = parent, *c = child;

    if (p == NULL || c == NULL)
        return th_error_set(err, TH_EPERM, "http-client: no grant to compare");
    for (char **v = c->hosts; v != NULL && *v != NULL; v++) {
        bool ok = false;
        for (char **w = p->hosts; w != NULL && *w != NULL && !ok; w++)
            ok = pattern_covers(*w, *v);
        if (!ok)
            return th_error_set(err, TH_EPERM,
                                "allowed_hosts lists \"%s\", which the parent's allowed_hosts do "
                                "not cover",
                                *v);
    }
    if (c->timeout_ms > p->timeout_ms)
        return th_error_set(err, TH_EPERM, "timeout_ms = %u exceeds the parent's %u", c->timeout_ms,
                            p->timeout_ms);
    if (c->max_response > p->max_response)
        return th_error_set(err, TH_EPERM, "max_response_bytes = %llu exceeds the parent's %llu",
                            (unsigned long long)c->max_response,
                            (unsigned long long)p->max_response);
    /* the CAs trusted are the parent's: the operator chose them, and a
     * child that picked its own could believe servers the parent would not
     * (both are real paths, resolved when the manifests were read).  The
     * parent's file is not named: an actor may not know where it is. */
    if (c->ca_file == NULL && p->ca_file != NULL)
        return th_error_set(err, TH_EPERM,
                            "ca_file is absent (the system's CA store), but the parent trusts "
                            "only its own ca_file");
    if (c->ca_file != NULL && p->ca_file == NULL)
        return th_error_set(err, TH_EPERM,
                            "ca_file '%s' is not the parent's trust (the system's CA store)",
                            c->ca_file);
    if (c->ca_file != NULL && strcmp(c->ca_file, p->ca_file) != 0)
        return th_error_set(err, TH_EPERM, "ca_file '%s' is not the parent's ca_file", c->ca_file);
    return 0;
}

/* ---- settings: allowed_hosts, timeout_ms, max_response_bytes, ca_file ---- */

/* http-client: "*", or a host name or IP literal (a leading "*." allows
 * its subdomains; IPv6 in brackets), with an optional ":port". */
static char *host_pattern(rt_manifest_reader *r, char *p, char *why, size_t cap)
{
    const char *h = p, *end, *colon;
    size_t i, n;

    (void)r;
    if (strcmp(p, "*") == 0)
        return p;
    if (strncmp(h, "*.", 2) == 0)
        h += 2;
    if (h[0] == '[') {
        end = strchr(h, ']');
        colon = end != NULL && end[1] == ':' ? end + 1 : NULL;
        if (end == NULL || (end[1] != 0 && colon == NULL) || h != p) {
            snprintf(why, cap, "\"%s\" is not a host pattern (IPv6 as [addr], no \"*.\")", p);
            goto bad;
        }
        n = (size_t)(end - h) + 1;
    } else {
        colon = strchr(h, ':');
        n = colon != NULL ? (size_t)(colon - h) : strlen(h);
        for (i = 0; i < n; i++)
            if (!(isalnum((unsigned char)h[i]) || h[i] == '-' || h[i] == '.' || h[i] == '_'))
                break;
        if (n == 0 || i < n) {
            snprintf(why, cap,
                     "\"%s\" is not a host pattern (a host name, \"*.\" and a domain, or "
                     "\"*\"; optionally \":port\")",
                     p);
            goto bad;
        }
    }
    if (colon != NULL) {
        char *e;
        unsigned long port = strtoul(colon + 1, &e, 10);
        if (colon[1] == 0 || *e != 0 || port == 0 || port > 65535 ||
            !isdigit((unsigned char)colon[1])) {
            snprintf(why, cap, "\"%s\": the port must be 1 to 65535", p);
            goto bad;
        }
    }
    for (char *q = p; *q; q++)
        *q = (char)tolower((unsigned char)*q);
    return p;
bad:
    free(p);
    return NULL;
}

static void settings_release(void *p)
{
    hs_http_client *s = p;

    rt_manifest_list_free(s->hosts);
    free(s->ca_file);
}

/* ca_file: resolved against the manifest's directory, an existing regular
 * file this process can read; kept as its real path. */
static int read_ca_file(rt_manifest_reader *r, const toml_value *h, const char *prefix,
                        hs_http_client *s)
{
    char *rel = NULL, *abs = NULL, real[PATH_MAX];
    struct stat st;
    int line = 0, rc, fd;

    if ((rc = rt_manifest_string(r, h, prefix, "ca_file", false, true, TH_MANIFEST_MAX_PATH_BYTES,
                                 &rel, &line)) != 0 ||
        rel == NULL)
        return rc;
    /* realpath into a buffer: with NULL, glibc reports a failed allocation
     * as EINVAL */
    if ((abs = rt_manifest_path(r, rel)) == NULL) {
        rc = rt_manifest_nomem(r);
    } else if (realpath(abs, real) == NULL || stat(real, &st) != 0) {
        rc = rt_manifest_fail(r, line, errno == ENOMEM ? TH_ENOMEM : TH_ENOENT,
                              "field '%s.ca_file': file '%s': %s", prefix, abs, strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {
        rc = rt_manifest_fail(r, line, TH_EINVAL,
                              "field '%s.ca_file': '%s' is not a file (a PEM bundle of CA "
                              "certificates)",
                              prefix, abs);
    } else if ((fd = open(real, O_RDONLY | O_CLOEXEC)) < 0) {
        rc = rt_manifest_fail(r, line, TH_EPERM, "field '%s.ca_file': file '%s' cannot be read: %s",
                              prefix, abs, strerror(errno));
    } else {
        close(fd);
        if ((s->ca_file = strdup(real)) == NULL)
            rc = rt_manifest_nomem(r);
    }
    free(rel);
    free(abs);
    return rc;
}

static int settings_read(rt_manifest_reader *r, const toml_value *h, const char *prefix, void *p)
{
    hs_http_client *s = p;
    uint64_t v;
    int rc;

    if ((rc = rt_manifest_list(r, h, prefix, "allowed_hosts", host_pattern, &s->hosts)) != 0)
        return rc;
    v = TH_HTTP_DEFAULT_TIMEOUT_MS;
    if ((rc = rt_manifest_uint(r, h, prefix, "timeout_ms", 1, TH_HTTP_MAX_TIMEOUT_MS, &v)) != 0)
        return rc;
    s->timeout_ms = (uint32_t)v;
    v = TH_HTTP_DEFAULT_MAX_RESPONSE;
    if ((rc = rt_manifest_uint(r, h, prefix, "max_response_bytes", 0, TH_HTTP_MAX_MAX_RESPONSE,
                               &v)) != 0)
        return rc;
    s->max_response = v;
    return read_ca_file(r, h, prefix, s);
}

static const char *const fields[] = {"allowed_hosts", "timeout_ms", "max_response_bytes", "ca_file",
                                     NULL};

/* ------------------------------------------------------------------ */
/* send-http                                                          */

static bool token_char(char c)
{
    return isalnum((unsigned char)c) || (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Check the request and make its transfer; NULL with the reason in why. */
static hc_xfer *prepare(rt_host *h, wit_http_types_http_request *req, char *why, size_t cap)
{
    const hs_http_client *m = rt_spec_settings(rt_actor_spec(h->a), HANDLER_HTTP_CLIENT);
    char *scheme = NULL, *host = NULL, *port = NULL, line[TH_HTTP_MAX_URL_BYTES + 8];
    hc_xfer *x = NULL;
    CURLUcode uc;
    size_t i, k;

    if (m == NULL || m->hosts == NULL) {
        snprintf(why, cap,
                 "the http-client handler of this actor allows no host (its manifest gives no "
                 "allowed_hosts), so every request is refused");
        return NULL;
    }
    if (req->method.len == 0 || req->method.len >= sizeof x->method) {
        snprintf(why, cap, "bad method: it must be 1 to 39 characters");
        return NULL;
    }
    for (i = 0; i < req->method.len; i++)
        if (!token_char(req->method.ptr[i])) {
            snprintf(why, cap, "bad method \"%.40s\": not an HTTP token", req->method.ptr);
            return NULL;
        }
    if (req->uri.len > TH_HTTP_MAX_URL_BYTES || strlen(req->uri.ptr) != req->uri.len) {
        snprintf(why, cap, "bad uri: longer than %u bytes or has NUL", TH_HTTP_MAX_URL_BYTES);
        return NULL;
    }
    if (req->headers.len > TH_HTTP_MAX_HEADERS) {
        snprintf(why, cap, "more than %u headers", TH_HTTP_MAX_HEADERS);
        return NULL;
    }
    if ((x = calloc(1, sizeof *x)) == NULL || (x->url = curl_url()) == NULL)
        goto nomem;
    memcpy(x->method, req->method.ptr, req->method.len);
    x->head = strcmp(x->method, "HEAD") == 0;
    if ((uc = curl_url_set(x->url, CURLUPART_URL, req->uri.ptr, 0)) != CURLUE_OK) {
        snprintf(why, cap, "bad uri \"%.200s\": %s", req->uri.ptr, curl_url_strerror(uc));
        goto fail;
    }
    if (curl_url_get(x->url, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(x->url, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        curl_url_get(x->url, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK) {
        snprintf(why, cap, "bad uri \"%.200s\": no host", req->uri.ptr);
        goto fail;
    }
    if (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0) {
        snprintf(why, cap, "uri \"%.200s\": only http and https are allowed", req->uri.ptr);
        goto fail;
    }
    if (!host_allowed(m->hosts, host, (unsigned)strtoul(port, NULL, 10))) {
        snprintf(why, cap, "host %s port %s is not in this actor's allowed_hosts", host, port);
        goto fail;
    }
    for (i = 0; i < req->headers.len; i++) {
        const wit_str *n = &req->headers.ptr[i].f0, *v = &req->headers.ptr[i].f1;
        struct curl_slist *l;
        for (k = 0; k < n->len && token_char(n->ptr[k]); k++)
            ;
        if (n->len == 0 || k < n->len || n->len > 256) {
            snprintf(why, cap, "header %zu: bad name \"%.60s\"", i, n->ptr);
            goto fail;
        }
        if (v->len > 8192 || strcspn(v->ptr, "\r\n") < v->len || strlen(v->ptr) != v->len) {
            snprintf(why, cap, "header %s: the value has CR, LF or NUL, or is too long", n->ptr);
            goto fail;
        }
        /* "Name;" is how curl sends a header with an empty value */
        snprintf(line, sizeof line, "%s%s%s", n->ptr, v->len ? ": " : ";", v->ptr);
        if ((l = curl_slist_append(x->hdrs, line)) == NULL)
            goto nomem;
        x->hdrs = l;
    }
    if (req->body.some) {
        x->has_body = true;
        x->body_len = req->body.val.len;
        x->body = req->body.val.ptr; /* taken over from the lifted value */
        req->body.val.ptr = NULL;
        req->body.val.len = 0;
    }
    x->timeout_ms = m->timeout_ms;
    x->max_body = m->max_response;
    if (m->ca_file != NULL && (x->ca_file = strdup(m->ca_file)) == NULL)
        goto nomem;
    x->rt = rt_actor_runtime(h->a);
    memcpy(x->actor, rt_actor_id(h->a), sizeof x->actor);
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    return x;
nomem:
    snprintf(why, cap, "out of memory");
fail:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    xfer_free(x);
    return NULL;
}

static int hc_send_http(rt_host *h, wit_http_types_http_request *req,
                        wit_res_http_types_http_response_str *ret)
{
    char why[600];
    hc_xfer *x;

    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK) {
        ret->is_err = true;
        return wit_str_set(h, &ret->err, "the HTTP library cannot start");
    }
    if ((x = prepare(h, req, why, sizeof why)) == NULL) {
        ret->is_err = true;
        return wit_str_set(h, &ret->err, why);
    }
    x->token = rt_op_wait(h->a, RT_WAIT_RESULT, h->retptr, IFACE, "send-http", h->input);
    h->input = NULL;
    if (rt_io_post(rt_actor_runtime(h->a), start, x) != 0) {
        /* answered through the wake all the same (the turn reads it next) */
        wake(x, "the runtime is stopping");
        xfer_free(x);
    }
    return TH_WASM_SUSPENDED;
}

static const wit_impl_http_client impl = {
    .send_http = hc_send_http,
};

const rt_iface rt_iface_http_client = {
    .name = "http-client",
    .module = "theater:simple/http-client",
    .handler = HANDLER_HTTP_CLIENT,
    .fns = wit_fns_http_client,
    .nfns = WIT_NFNS_HTTP_CLIENT,
    .impl = &impl,
    .fields = fields,
    .settings_size = sizeof(hs_http_client),
    .settings_read = settings_read,
    .settings_release = settings_release,
    .settings_subset = settings_subset,
};
