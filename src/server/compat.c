/*
 * compat.c - the compatibility listener (compat.h): TCP clients of the
 * original Theater system's management protocol, served on a th_runtime.
 *
 * Ownership.  The server owns the listening socket and the list of
 * clients.  A client (conn) is owned by its reader thread, which on its
 * way out drops the client's subscriptions and channels (after which no
 * runtime callback can reach the client: th_runtime_unsubscribe and
 * th_runtime_channel_close guarantee it), stops and joins the writer,
 * unlinks the client and frees it.  srv_compat_stop shuts every client's
 * socket down and waits until the list is empty.
 */
#include "server/compat.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "base/file.h"
#include "base/hex.h"
#include "base/limits.h"
#include "base/uuid.h"
#include "server/compat_codec.h"
#include "server/compat_int.h"
#include "theater/store.h"

typedef struct conn conn;

/* One frame waiting to be written. */
typedef struct outq {
    struct outq *next;
    size_t len;
    uint8_t data[];
} outq;

/* A subscription of a client: events (SubscribeToActor, StartActor with
 * subscribe) and/or the actor's end as an ActorResult (StartActor with
 * parent). */
typedef struct csub {
    struct csub *next;
    conn *c;
    uint64_t rt_id;
    char actor[TH_ACTOR_ID_SIZE];
    char uuid[TH_ACTOR_ID_SIZE]; /* the subscription_id the client sees */
    bool events, results;
} csub;

/* A channel a client opened. */
typedef struct cchan {
    struct cchan *next;
    conn *c;
    char id[TH_ACTOR_ID_SIZE]; /* the runtime's */
    char wire[36];             /* the client's ("ch_...") */
    char actor[TH_ACTOR_ID_SIZE];
    bool opened;      /* ChannelOpened is queued: send directly */
    bool closed;      /* the actor closed it */
    srv_jbuf pending; /* frames the actor sent before that */
} cchan;

struct conn {
    conn *next;
    srv_compat *srv;
    int fd;
    pthread_t reader, writer;
    bool writer_started;
    pthread_mutex_t lock; /* the queue, layer, channel states */
    pthread_cond_t cond;
    outq *head, *tail;
    size_t queued;
    bool closing;
    int layer; /* SRV_COMPAT_*, from the client's first frame */
    uint64_t next_frag_id;
    srv_compat_defrag defrag; /* reader only */
    csub *subs;               /* reader only */
    cchan *chans;             /* reader only (list); states under lock */
};

struct srv_compat {
    th_runtime *rt;
    int lfd;
    int wake[2];
    uint16_t port;
    pthread_t acceptor;
    pthread_mutex_t lock;
    pthread_cond_t gone;
    conn *conns;
    unsigned nconns;
    bool stopping;
};

/* ------------------------------------------------------------------ */
/* Queue                                                              */

/* Queue one message (JSON bytes) for the client, framed in its layer.
 * Past the queue bound the client is disconnected.  Callable from any
 * thread; never blocks on the network. */
static void conn_send_locked(conn *c, const srv_jbuf *msg)
{
    srv_jbuf f = {0};
    outq *q;

    if (c->closing || msg->oom)
        return;
    if (srv_compat_wrap(&f, msg->data, msg->len, c->layer, &c->next_frag_id) != 0 ||
        c->queued + f.len > TH_COMPAT_MAX_QUEUED_BYTES || (q = malloc(sizeof *q + f.len)) == NULL) {
        /* too slow a reader, or no memory: end this client */
        c->closing = true;
        shutdown(c->fd, SHUT_RDWR);
        pthread_cond_broadcast(&c->cond);
        srv_jbuf_release(&f);
        return;
    }
    q->next = NULL;
    q->len = f.len;
    memcpy(q->data, f.data, f.len);
    srv_jbuf_release(&f);
    if (c->tail != NULL)
        c->tail->next = q;
    else
        c->head = q;
    c->tail = q;
    c->queued += q->len;
    pthread_cond_broadcast(&c->cond);
}

static void conn_send(conn *c, const srv_jbuf *msg)
{
    pthread_mutex_lock(&c->lock);
    conn_send_locked(c, msg);
    pthread_mutex_unlock(&c->lock);
}

static void *writer_main(void *arg)
{
    conn *c = arg;
    outq *q;
    size_t off;
    ssize_t n;
    bool sent_all;

    pthread_mutex_lock(&c->lock);
    for (;;) {
        while (c->head == NULL && !c->closing)
            pthread_cond_wait(&c->cond, &c->lock);
        if (c->head == NULL)
            break;
        q = c->head;
        c->head = q->next;
        if (c->head == NULL)
            c->tail = NULL;
        pthread_mutex_unlock(&c->lock);
        for (off = 0; off < q->len; off += (size_t)n) {
            n = send(c->fd, q->data + off, q->len - off, MSG_NOSIGNAL);
            if (n < 0 && errno == EINTR) {
                n = 0;
                continue;
            }
            if (n <= 0)
                break;
        }
        pthread_mutex_lock(&c->lock);
        c->queued -= q->len;
        sent_all = off >= q->len;
        free(q);
        if (!sent_all && !c->closing) {
            c->closing = true; /* the client is gone */
            shutdown(c->fd, SHUT_RDWR);
        }
    }
    while ((q = c->head) != NULL) {
        c->head = q->next;
        free(q);
    }
    c->tail = NULL;
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Runtime callbacks                                                  */

/* ActorError of the original for an "actor-failed" event
 * ({"error_type": N, "message": "..."}). */
static void actor_error(srv_jbuf *b, const th_runtime_event *ev)
{
    static const char *const names[] = {
        "operation-timeout",   "channel-closed",         "shutting-down",
        "function-not-found",  "type-mismatch",          "internal",
        "serialization-error", "update-component-error", "paused"};
    json_t *root = json_loadb((const char *)ev->data, ev->data_len, 0, NULL);
    json_t *t = root ? json_object_get(root, "error_type") : NULL;
    const char *msg = root ? json_string_value(json_object_get(root, "message")) : NULL;
    json_int_t type = -1;
    size_t i;

    /* the wit-error-type by name (older chains: its number) */
    if (json_is_integer(t))
        type = json_integer_value(t);
    for (i = 0; json_is_string(t) && i < sizeof names / sizeof names[0]; i++)
        if (strcmp(json_string_value(t), names[i]) == 0)
            type = (json_int_t)i;

    if (msg == NULL)
        msg = "";
    switch (type) {
    case 0: srv_jbuf_puts(b, "{\"OperationTimeout\":0}"); break;
    case 1: srv_jbuf_puts(b, "\"ChannelClosed\""); break;
    case 2: srv_jbuf_puts(b, "\"ShuttingDown\""); break;
    case 3:
    case 4:
        srv_jbuf_puts(b, type == 3 ? "{\"FunctionNotFound\":" : "{\"TypeMismatch\":");
        srv_jbuf_str(b, msg, strlen(msg));
        srv_jbuf_puts(b, "}");
        break;
    case 5: /* Internal(ChainEvent): the failure's own event */
        srv_jbuf_puts(b, "{\"Internal\":");
        srv_compat_chain_event(b, ev);
        srv_jbuf_puts(b, "}");
        break;
    case 6: srv_jbuf_puts(b, "\"SerializationError\""); break;
    case 7:
        srv_jbuf_puts(b, "{\"UpdateComponentError\":");
        srv_jbuf_str(b, msg, strlen(msg));
        srv_jbuf_puts(b, "}");
        break;
    case 8: srv_jbuf_puts(b, "\"Paused\""); break;
    default:
        srv_jbuf_puts(b, "{\"UnexpectedError\":");
        srv_jbuf_str(b, msg, strlen(msg));
        srv_jbuf_puts(b, "}");
        break;
    }
    json_decref(root);
}

/* ActorResult for the end of an actor started with parent = true. */
static void actor_result(srv_jbuf *b, const th_runtime_event *ev)
{
    json_t *root;
    const char *reason, *hex;
    uint8_t *data = NULL;
    size_t n = 0;

    if (strcmp(ev->type, "actor-failed") == 0) {
        srv_jbuf_puts(b, "{\"ActorResult\":{\"Error\":{\"actor_id\":");
        srv_jbuf_str(b, ev->actor_id, strlen(ev->actor_id));
        srv_jbuf_puts(b, ",\"error\":");
        actor_error(b, ev);
        srv_jbuf_puts(b, "}}}");
        return;
    }
    root = json_loadb((const char *)ev->data, ev->data_len, 0, NULL);
    reason = root ? json_string_value(json_object_get(root, "reason")) : NULL;
    hex = root ? json_string_value(json_object_get(root, "data")) : NULL;
    if (reason != NULL && strcmp(reason, "shutdown") == 0) {
        n = hex != NULL ? strlen(hex) / 2 : 0;
        if (hex != NULL && (data = malloc(n + 1)) != NULL && base_hex_decode(hex, data, n) != 0) {
            free(data);
            data = NULL;
        }
        srv_jbuf_puts(b, "{\"ActorResult\":{\"Success\":{\"actor_id\":");
        srv_jbuf_str(b, ev->actor_id, strlen(ev->actor_id));
        srv_jbuf_puts(b, ",\"result\":");
        if (data != NULL)
            srv_jbuf_bytes(b, data, n);
        else
            srv_jbuf_puts(b, "null");
        srv_jbuf_puts(b, "}}}");
    } else {
        srv_jbuf_puts(b, "{\"ActorResult\":{\"ExternalStop\":{\"actor_id\":");
        srv_jbuf_str(b, ev->actor_id, strlen(ev->actor_id));
        srv_jbuf_puts(b, "}}}");
    }
    free(data);
    json_decref(root);
}

static void on_event(void *ud, const th_runtime_event *ev)
{
    csub *s = ud;
    srv_jbuf b = {0};
    bool failed = strcmp(ev->type, "actor-failed") == 0;

    if (s->events) {
        srv_compat_actor_event(&b, ev);
        conn_send(s->c, &b);
        b.len = 0;
        if (failed) { /* the original also sends the error itself */
            srv_jbuf_puts(&b, "{\"ActorError\":{\"error\":");
            actor_error(&b, ev);
            srv_jbuf_puts(&b, "}}");
            conn_send(s->c, &b);
            b.len = 0;
        }
    }
    if (s->results && (failed || strcmp(ev->type, "actor-stopped") == 0)) {
        actor_result(&b, ev);
        conn_send(s->c, &b);
    }
    srv_jbuf_release(&b);
}

/* What the actor sends on a client's channel (th_runtime_channel_fn). */
static void on_channel(void *ud, int kind, const char *channel_id, const uint8_t *data, size_t len)
{
    cchan *ch = ud;
    conn *c = ch->c;
    srv_jbuf b = {0};
    char wire[36];
    bool closed = kind == TH_CHANNEL_CLOSED;

    srv_compat_channel_to_wire(channel_id, wire);
    if (closed)
        srv_compat_channel_only(&b, "ChannelClosed", wire);
    else
        srv_compat_channel_message(&b, wire, ch->actor, data, len);
    pthread_mutex_lock(&c->lock);
    if (closed)
        ch->closed = true;
    if (ch->opened) {
        conn_send_locked(c, &b);
    } else if (!b.oom) { /* keep the order: after ChannelOpened */
        srv_jbuf_add(&ch->pending, &(uint32_t){(uint32_t)b.len}, sizeof(uint32_t));
        srv_jbuf_add(&ch->pending, b.data, b.len);
    }
    pthread_mutex_unlock(&c->lock);
    srv_jbuf_release(&b);
}

/* ------------------------------------------------------------------ */
/* Commands                                                           */

static void chan_drop(conn *c, cchan *ch);

/* A RuntimeError "what: msg", then the frames of a trap's backtrace (may
 * be NULL), a line each ("\n    at #N name", as the CLI prints them): the
 * protocol's error is text, so the frames go into it. */
static void runtime_error(srv_jbuf *b, const char *what, const char *msg, const char *backtrace)
{
    size_t n = strlen(what) + strlen(msg) + 3, k = 0;
    const char *p, *nl;
    char *text;

    for (p = backtrace; p != NULL && *p != '\0'; p++)
        n += *p == '\n' ? 8 : 1;
    if ((text = malloc(n + 8)) == NULL) {
        srv_compat_error(b, SRV_E_RUNTIME_ERROR, msg);
        return;
    }
    k = (size_t)snprintf(text, n, "%s: %s", what, msg);
    for (p = backtrace; p != NULL && *p != '\0'; p = nl + (*nl != '\0')) {
        if ((nl = strchr(p, '\n')) == NULL)
            nl = p + strlen(p);
        if (nl > p) {
            memcpy(text + k, "\n    at ", 8);
            memcpy(text + k + 8, p, (size_t)(nl - p));
            k += 8 + (size_t)(nl - p);
        }
    }
    text[k] = '\0';
    srv_compat_error(b, SRV_E_RUNTIME_ERROR, text);
    free(text);
}

/* The original's ManagementError for a runtime error code (`backtrace`:
 * the frames of the actor's trap, or NULL). */
static void error_of_bt(srv_jbuf *b, int rc, const char *what, const th_error *e,
                        const char *backtrace)
{
    if (rc == TH_ENOENT)
        srv_compat_error(b, SRV_E_ACTOR_NOT_FOUND, NULL);
    else if (rc == TH_ETIMEDOUT)
        srv_compat_error(b, SRV_E_TIMEOUT, NULL);
    else
        runtime_error(b, what, e->msg[0] ? e->msg : th_strerror(rc), backtrace);
}

static void error_of(srv_jbuf *b, int rc, const char *what, const th_error *e)
{
    error_of_bt(b, rc, what, e, NULL);
}

static csub *sub_add(conn *c, const char *actor)
{
    csub *s = calloc(1, sizeof *s);

    if (s == NULL)
        return NULL;
    s->c = c;
    snprintf(s->actor, sizeof s->actor, "%s", actor);
    if (base_uuid_v4(s->uuid) != 0) {
        free(s);
        return NULL;
    }
    s->next = c->subs;
    c->subs = s;
    return s;
}

static void sub_drop(conn *c, csub *s)
{
    csub **pp;

    for (pp = &c->subs; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    }
    if (s->rt_id != 0)
        th_runtime_unsubscribe(c->srv->rt, s->rt_id);
    free(s);
}

static void cmd_start(conn *c, const srv_compat_cmd *cmd, srv_jbuf *out)
{
    th_spawn_opts o = {0};
    char id[TH_ACTOR_ID_SIZE], *bt = NULL;
    th_error e;
    csub *s = NULL;
    int rc;

    th_error_clear(&e);
    /* the original takes a path or the TOML itself */
    if (strchr(cmd->text, '\n') != NULL || strchr(cmd->text, '=') != NULL)
        o.manifest_text = cmd->text;
    else
        o.manifest_path = cmd->text;
    o.initial_state = cmd->has_data ? cmd->data : NULL;
    o.initial_state_len = cmd->len;
    if (cmd->has_data && cmd->data == NULL)
        o.initial_state = (const uint8_t *)"";
    if (cmd->parent || cmd->subscribe) {
        if ((s = sub_add(c, "")) == NULL) {
            srv_compat_error(out, SRV_E_INTERNAL_ERROR, "out of memory");
            return;
        }
        s->events = cmd->subscribe;
        s->results = cmd->parent;
        o.event_fn = on_event;
        o.event_ud = s;
        o.sub_id = &s->rt_id;
    }
    o.backtrace = &bt;
    rc = th_runtime_spawn(c->srv->rt, &o, id, &e);
    if (rc != 0) {
        if (s != NULL)
            sub_drop(c, s);
        runtime_error(out, "Failed to start actor", e.msg, bt);
        free(bt);
        return;
    }
    if (s != NULL)
        memcpy(s->actor, id, sizeof s->actor);
    srv_compat_id_only(out, "ActorStarted", id);
}

static void cmd_list(conn *c, srv_jbuf *out)
{
    char **ids = NULL;
    size_t n = 0, i;
    th_actor_info info;
    bool first = true;

    if (th_runtime_list_actors(c->srv->rt, &ids, &n, NULL) != 0) {
        srv_compat_error(out, SRV_E_RUNTIME_ERROR, "Failed to list actors: out of memory");
        return;
    }
    srv_jbuf_puts(out, "{\"ActorList\":{\"actors\":[");
    for (i = 0; i < n; i++) {
        if (th_runtime_actor_info(c->srv->rt, ids[i], &info, NULL) != 0)
            continue; /* gone in between */
        srv_jbuf_puts(out, first ? "[" : ",[");
        first = false;
        srv_jbuf_str(out, ids[i], strlen(ids[i]));
        srv_jbuf_puts(out, ",");
        srv_jbuf_str(out, info.name, strlen(info.name));
        srv_jbuf_puts(out, "]");
    }
    srv_jbuf_puts(out, "]}}");
    th_runtime_strv_free(ids);
}

static void cmd_subscribe(conn *c, const srv_compat_cmd *cmd, srv_jbuf *out)
{
    th_error e;
    csub *s = sub_add(c, cmd->id);
    int rc;

    th_error_clear(&e);
    if (s == NULL) {
        srv_compat_error(out, SRV_E_INTERNAL_ERROR, "out of memory");
        return;
    }
    s->events = true;
    rc = th_runtime_subscribe(c->srv->rt, cmd->id, on_event, s, &s->rt_id, &e);
    if (rc != 0) {
        sub_drop(c, s);
        error_of(out, rc, "Failed to subscribe", &e);
        return;
    }
    srv_compat_subscribed(out, cmd->id, s->uuid);
}

static void cmd_unsubscribe(conn *c, const srv_compat_cmd *cmd, srv_jbuf *out)
{
    csub *s;

    for (s = c->subs; s != NULL; s = s->next)
        if (strcmp(s->uuid, cmd->sub_id) == 0 && strcmp(s->actor, cmd->id) == 0)
            break;
    if (s != NULL)
        sub_drop(c, s);
    /* as the original: unknown subscriptions are not an error */
    srv_compat_id_only(out, "Unsubscribed", cmd->id);
}

static void cmd_request(conn *c, const srv_compat_cmd *cmd, srv_jbuf *out)
{
    char *bt = NULL;
    uint8_t *resp = NULL;
    size_t n = 0;
    th_error e;
    int rc;

    th_error_clear(&e);
    rc = th_runtime_request_bt(c->srv->rt, cmd->id, cmd->data, cmd->len,
                               TH_COMPAT_REQUEST_TIMEOUT_MS, &resp, &n, &bt, &e);
    if (rc != 0)
        error_of_bt(out, rc, "Failed to route", &e, bt);
    else
        srv_compat_requested(out, cmd->id, resp, n);
    free(resp);
    free(bt);
}

static void cmd_state(conn *c, const srv_compat_cmd *cmd, srv_jbuf *out)
{
    uint8_t *st = NULL;
    size_t n = 0;
    bool has = false;
    th_error e;
    int rc;

    th_error_clear(&e);
    rc = th_runtime_get_state(c->srv->rt, cmd->id, &has, &st, &n, &e);
    if (rc != 0)
        error_of(out, rc, "Failed to get state", &e);
    else
        srv_compat_state(out, cmd->id, has, st, n);
    free(st);
}

typedef struct events_ctx {
    srv_jbuf *out;
    bool first;
} events_ctx;

static void add_event(void *ud, const th_runtime_event *ev)
{
    events_ctx *x = ud;

    if (!x->first)
        srv_jbuf_puts(x->out, ",");
    x->first = false;
    srv_compat_chain_event(x->out, ev);
}

static void cmd_events(conn *c, const srv_compat_cmd *cmd, srv_jbuf *out)
{
    srv_jbuf evs = {0};
    events_ctx x = {&evs, true};
    th_error e;
    int rc;

    th_error_clear(&e);
    rc = th_runtime_actor_events(c->srv->rt, cmd->id, add_event, &x, &e);
    if (rc != 0) {
        error_of(out, rc, "Failed to get events", &e);
    } else if (evs.oom) {
        srv_compat_error(out, SRV_E_INTERNAL_ERROR, "out of memory");
    } else {
        srv_jbuf_puts(out, "{\"ActorEvents\":{\"id\":");
        srv_jbuf_str(out, cmd->id, strlen(cmd->id));
        srv_jbuf_puts(out, ",\"events\":[");
        srv_jbuf_add(out, evs.data, evs.len);
        srv_jbuf_puts(out, "]}}");
    }
    srv_jbuf_release(&evs);
}

/* The answer to an OpenChannel: the actor's handle-channel-open decides,
 * on a runtime thread; the client's reader waits for it (at most
 * TH_COMPAT_REQUEST_TIMEOUT_MS).  Two references: the reader's and the
 * runtime's `done` call. */
typedef struct open_wait {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int refs;
    bool done;
    int status;
    char msg[TH_ERROR_MSG_MAX];
} open_wait;

static void open_wait_release(open_wait *w)
{
    bool last;

    pthread_mutex_lock(&w->lock);
    last = --w->refs == 0;
    pthread_mutex_unlock(&w->lock);
    if (last) {
        pthread_mutex_destroy(&w->lock);
        pthread_cond_destroy(&w->cond);
        free(w);
    }
}

static void on_open_done(void *ud, int status, const uint8_t *data, size_t len, const char *msg,
                         const char *backtrace)
{
    open_wait *w = ud;

    (void)data, (void)len, (void)backtrace; /* (the protocol's error is a message) */
    pthread_mutex_lock(&w->lock);
    w->done = true;
    w->status = status;
    snprintf(w->msg, sizeof w->msg, "%s", msg != NULL ? msg : "");
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
    open_wait_release(w);
}

/* Wait for the answer; false on timeout. */
static bool open_wait_for(open_wait *w, int *status, char *msg, size_t n)
{
    struct timespec until;
    bool done;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += TH_COMPAT_REQUEST_TIMEOUT_MS / 1000;
    pthread_mutex_lock(&w->lock);
    while (!w->done && pthread_cond_timedwait(&w->cond, &w->lock, &until) == 0)
        ;
    done = w->done;
    *status = w->status;
    snprintf(msg, n, "%s", w->msg);
    pthread_mutex_unlock(&w->lock);
    return done;
}

static void cmd_open_channel(conn *c, const srv_compat_cmd *cmd, srv_jbuf *out)
{
    cchan *ch;
    open_wait *w;
    th_error e;
    size_t off;
    int rc, status = 0;
    char msg[TH_ERROR_MSG_MAX];

    th_error_clear(&e);
    if (cmd->to_external) {
        srv_compat_error(out, SRV_E_INVALID_REQUEST, "a channel needs an actor at the other end");
        return;
    }
    ch = calloc(1, sizeof *ch);
    w = calloc(1, sizeof *w);
    if (ch == NULL || w == NULL) {
        free(ch);
        free(w);
        srv_compat_error(out, SRV_E_INTERNAL_ERROR, "out of memory");
        return;
    }
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    w->refs = 2;
    ch->c = c;
    memcpy(ch->actor, cmd->id, sizeof ch->actor);
    rc = th_runtime_channel_open(c->srv->rt, cmd->id, cmd->data, cmd->len, on_channel, ch,
                                 on_open_done, w, ch->id, &e);
    if (rc != 0) {
        w->refs = 1; /* `done` is not called */
        open_wait_release(w);
        error_of(out, rc, "Error opening channel", &e);
        free(ch);
        return;
    }
    srv_compat_channel_to_wire(ch->id, ch->wire);
    ch->next = c->chans; /* released by chan_drop in every case */
    c->chans = ch;
    if (!open_wait_for(w, &status, msg, sizeof msg)) {
        open_wait_release(w);
        chan_drop(c, ch);
        srv_compat_error(out, SRV_E_TIMEOUT, NULL);
        return;
    }
    open_wait_release(w);
    if (status != 0) {
        chan_drop(c, ch);
        if (status == TH_EPERM) {
            srv_compat_error(out, SRV_E_CHANNEL_REJECTED, NULL);
        } else {
            snprintf(e.msg, sizeof e.msg, "%s", msg);
            error_of(out, status, "Error opening channel", &e);
        }
        return;
    }
    srv_compat_channel_opened(out, ch->wire, ch->actor);
    /* the answer, then what the actor sent before it was queued */
    pthread_mutex_lock(&c->lock);
    conn_send_locked(c, out);
    for (off = 0; off + 4 <= ch->pending.len;) {
        uint32_t n;
        srv_jbuf m = {0};
        memcpy(&n, ch->pending.data + off, 4);
        m.data = ch->pending.data + off + 4;
        m.len = n;
        conn_send_locked(c, &m);
        off += 4 + n;
    }
    ch->opened = true;
    pthread_mutex_unlock(&c->lock);
    srv_jbuf_release(&ch->pending);
    out->len = 0; /* sent */
}

static cchan *chan_find(conn *c, const char *wire)
{
    cchan *ch;

    for (ch = c->chans; ch != NULL; ch = ch->next)
        if (strcmp(ch->wire, wire) == 0)
            return ch;
    return NULL;
}

static void chan_drop(conn *c, cchan *ch)
{
    cchan **pp;

    th_runtime_channel_close(c->srv->rt, ch->id, NULL); /* no callback after this */
    for (pp = &c->chans; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == ch) {
            *pp = ch->next;
            break;
        }
    }
    srv_jbuf_release(&ch->pending);
    free(ch);
}

static void cmd_channel_send(conn *c, const srv_compat_cmd *cmd, srv_jbuf *out)
{
    char id[TH_ACTOR_ID_SIZE];
    th_error e;
    int rc;

    th_error_clear(&e);
    if (!srv_compat_channel_from_wire(cmd->text, id)) {
        srv_compat_error(out, SRV_E_CHANNEL_NOT_FOUND, NULL);
        return;
    }
    rc = th_runtime_channel_send(c->srv->rt, id, cmd->data, cmd->len, &e);
    if (rc == TH_ENOENT || rc == TH_EPERM)
        srv_compat_error(out, SRV_E_CHANNEL_NOT_FOUND, NULL);
    else if (rc == TH_ECLOSED)
        srv_compat_error(out, SRV_E_CHANNEL_CLOSED, NULL);
    else if (rc != 0)
        error_of(out, rc, "Failed to send on channel", &e);
    else
        srv_compat_channel_only(out, "MessageSent", cmd->text);
}

static void cmd_channel_close(conn *c, const srv_compat_cmd *cmd, srv_jbuf *out)
{
    cchan *ch = chan_find(c, cmd->text);

    if (ch != NULL) {
        chan_drop(c, ch);
        srv_compat_channel_only(out, "ChannelClosed", cmd->text);
        return;
    }
    /* none, or another client's: that one stays its owner's */
    srv_compat_error(out, SRV_E_CHANNEL_NOT_FOUND, NULL);
}

static void simple_id(conn *c, const srv_compat_cmd *cmd, srv_jbuf *out)
{
    th_actor_status st;
    th_error e;
    int rc;

    th_error_clear(&e);
    switch (cmd->kind) {
    case SRV_C_STOP_ACTOR:
    case SRV_C_TERMINATE_ACTOR:
        rc = th_runtime_stop(c->srv->rt, cmd->id, &e);
        if (rc != 0)
            error_of(out, rc,
                     cmd->kind == SRV_C_STOP_ACTOR ? "Failed to stop actor"
                                                   : "Failed to terminate actor",
                     &e);
        else
            srv_compat_id_only(out, "ActorStopped", cmd->id);
        break;
    case SRV_C_SEND:
        rc = th_runtime_send(c->srv->rt, cmd->id, cmd->data, cmd->len, &e);
        if (rc != 0)
            error_of(out, rc, "Failed to send", &e);
        else
            srv_compat_id_only(out, "SentMessage", cmd->id);
        break;
    case SRV_C_GET_STATUS:
        rc = th_runtime_actor_status(c->srv->rt, cmd->id, &st, &e);
        if (rc != 0)
            error_of(out, rc, "Failed to get status", &e);
        else
            srv_compat_status(out, cmd->id, st);
        break;
    case SRV_C_RESTART:
        rc = th_runtime_restart(c->srv->rt, cmd->id, &e);
        if (rc != 0)
            error_of(out, rc, "Failed to restart actor", &e);
        else
            srv_compat_id_only(out, "Restarted", cmd->id);
        break;
    default: break;
    }
}

/* UpdateActorComponent {id, component} (and the older UpdateActorPackage
 * {id, package}): the hot upgrade of the management API (PUT
 * /v1/actors/ID/component, th_runtime_update_bt), the component (or package)
 * being a path the daemon reads, as the original's is.  It waits for the
 * actor's turn (at most 60 s); the old code keeps running on any error. */
static void cmd_update(conn *c, const srv_compat_cmd *cmd, srv_jbuf *out)
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    char *bt = NULL;
    th_error e;
    int rc;

    th_error_clear(&e);
    rc = base_file_read(cmd->text, "component", TH_WASM_MAX_MODULE_BYTES, &bytes, &len, &e);
    if (rc == 0)
        rc = th_runtime_update_bt(c->srv->rt, cmd->id, bytes, len, NULL, NULL, NULL, &bt, &e);
    free(bytes);
    if (rc == 0)
        srv_compat_id_only(out, "ActorComponentUpdated", cmd->id);
    else if (rc == TH_ENOENT && strstr(e.msg, "no actor") == e.msg)
        srv_compat_error(out, SRV_E_ACTOR_NOT_FOUND, NULL);
    else if (rc == TH_ETIMEDOUT)
        srv_compat_error(out, SRV_E_TIMEOUT, NULL);
    else /* (a trap in its start function or migrate: the frames after the message) */
        error_of_bt(out, TH_EINVAL, "Failed to update actor component", &e, bt);
    free(bt);
}

static void run_command(conn *c, const srv_compat_cmd *cmd, srv_jbuf *out)
{
    char store[TH_ACTOR_ID_SIZE];
    th_error e;

    th_error_clear(&e);
    switch (cmd->kind) {
    case SRV_C_START_ACTOR: cmd_start(c, cmd, out); break;
    case SRV_C_LIST_ACTORS: cmd_list(c, out); break;
    case SRV_C_SUBSCRIBE: cmd_subscribe(c, cmd, out); break;
    case SRV_C_UNSUBSCRIBE: cmd_unsubscribe(c, cmd, out); break;
    case SRV_C_REQUEST: cmd_request(c, cmd, out); break;
    case SRV_C_GET_STATE: cmd_state(c, cmd, out); break;
    case SRV_C_GET_EVENTS: cmd_events(c, cmd, out); break;
    case SRV_C_GET_MANIFEST: srv_compat_manifest(c->srv->rt, cmd->id, out); break;
    case SRV_C_GET_METRICS: srv_compat_metrics(c->srv->rt, cmd->id, out); break;
    case SRV_C_OPEN_CHANNEL: cmd_open_channel(c, cmd, out); break;
    case SRV_C_SEND_ON_CHANNEL: cmd_channel_send(c, cmd, out); break;
    case SRV_C_CLOSE_CHANNEL: cmd_channel_close(c, cmd, out); break;
    case SRV_C_UPDATE_COMPONENT:
    case SRV_C_UPDATE_PACKAGE: cmd_update(c, cmd, out); break;
    case SRV_C_NEW_STORE:
        if (th_runtime_store(c->srv->rt) == NULL)
            srv_compat_error(out, SRV_E_STORE_ERROR, "the runtime is shut down");
        else if (th_store_new(th_runtime_store(c->srv->rt), store, &e) != 0)
            srv_compat_error(out, SRV_E_STORE_ERROR, e.msg);
        else
            srv_compat_store_created(out, store);
        break;
    default: simple_id(c, cmd, out); break;
    }
}

/* ------------------------------------------------------------------ */
/* Clients                                                            */

/* One message from the client: parse, run, queue the answer. */
static void on_message(conn *c, const uint8_t *msg, size_t len)
{
    srv_compat_cmd cmd;
    srv_jbuf out = {0};
    th_error e;

    th_error_clear(&e);
    if (srv_compat_parse(msg, len, &cmd, &e) != 0) {
        /* the original logs and answers nothing; an answer keeps a waiting
           client from hanging */
        srv_compat_error(&out, SRV_E_SERIALIZATION_ERROR, e.msg);
    } else {
        run_command(c, &cmd, &out);
        srv_compat_cmd_release(&cmd);
    }
    if (out.len > 0 && c->layer == SRV_COMPAT_PLAIN && out.len > TH_COMPAT_MAX_FRAME_BYTES) {
        out.len = 0;
        srv_compat_error(&out, SRV_E_INTERNAL_ERROR, "the response is over the frame limit");
    }
    if (out.len > 0)
        conn_send(c, &out);
    srv_jbuf_release(&out);
}

/* Frames from buf; returns false when the connection must end. */
static bool on_bytes(conn *c, uint8_t *buf, size_t *len)
{
    const uint8_t *p;
    size_t plen, used, off = 0;
    uint8_t *msg;
    size_t mlen;
    int layer, rc;
    th_error e;

    th_error_clear(&e);
    while ((rc = srv_compat_frame_next(buf + off, *len - off, &p, &plen, &used, &e)) == 1) {
        off += used;
        rc = srv_compat_unwrap(&c->defrag, p, plen, &msg, &mlen, &layer, &e);
        if (rc < 0)
            return false; /* the original's codec fails and drops the client */
        pthread_mutex_lock(&c->lock);
        c->layer = layer;
        pthread_mutex_unlock(&c->lock);
        if (rc == 1) {
            on_message(c, msg, mlen);
            free(msg);
        }
    }
    if (rc < 0)
        return false;
    memmove(buf, buf + off, *len - off);
    *len -= off;
    return true;
}

static void conn_end(conn *c)
{
    srv_compat *srv = c->srv;
    conn **pp;

    while (c->subs != NULL)
        sub_drop(c, c->subs);
    while (c->chans != NULL)
        chan_drop(c, c->chans);
    pthread_mutex_lock(&c->lock);
    c->closing = true;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
    if (c->writer_started)
        pthread_join(c->writer, NULL);
    close(c->fd);
    srv_compat_defrag_release(&c->defrag);
    pthread_mutex_destroy(&c->lock);
    pthread_cond_destroy(&c->cond);
    pthread_mutex_lock(&srv->lock);
    for (pp = &srv->conns; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    }
    srv->nconns--;
    pthread_cond_broadcast(&srv->gone);
    pthread_mutex_unlock(&srv->lock);
    free(c);
}

static void *reader_main(void *arg)
{
    conn *c = arg;
    size_t cap = 64 * 1024, len = 0;
    uint8_t *buf = malloc(cap), *nb;
    struct timeval tv = {TH_COMPAT_FRAME_TIMEOUT_S, 0};
    ssize_t n;

    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);

    while (buf != NULL) {
        if (len == cap) { /* a large frame: grow up to one whole frame */
            if (cap >= (size_t)TH_COMPAT_MAX_FRAME_BYTES + 4 ||
                (nb = realloc(buf, cap * 2 > (size_t)TH_COMPAT_MAX_FRAME_BYTES + 4
                                       ? (size_t)TH_COMPAT_MAX_FRAME_BYTES + 4
                                       : cap * 2)) == NULL)
                break;
            buf = nb;
            cap = cap * 2 > (size_t)TH_COMPAT_MAX_FRAME_BYTES + 4
                      ? (size_t)TH_COMPAT_MAX_FRAME_BYTES + 4
                      : cap * 2;
        }
        n = recv(c->fd, buf + len, cap - len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            /* SO_RCVTIMEO: an idle client may wait for events as long as it
               likes; one that stops in the middle of a frame is cut off */
            if (len == 0)
                continue;
            break;
        }
        if (n <= 0)
            break;
        len += (size_t)n;
        if (!on_bytes(c, buf, &len))
            break;
    }
    free(buf);
    conn_end(c);
    return NULL;
}

static void accept_one(srv_compat *srv, int fd)
{
    conn *c;
    pthread_attr_t attr;

    pthread_mutex_lock(&srv->lock);
    if (srv->stopping || srv->nconns >= TH_COMPAT_MAX_CONNECTIONS) {
        pthread_mutex_unlock(&srv->lock);
        close(fd);
        return;
    }
    c = calloc(1, sizeof *c);
    if (c == NULL) {
        pthread_mutex_unlock(&srv->lock);
        close(fd);
        return;
    }
    c->srv = srv;
    c->fd = fd;
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->cond, NULL);
    c->next_frag_id = 1;
    c->writer_started = pthread_create(&c->writer, NULL, writer_main, c) == 0;
    c->next = srv->conns;
    srv->conns = c;
    srv->nconns++;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (!c->writer_started || pthread_create(&c->reader, &attr, reader_main, c) != 0) {
        pthread_mutex_unlock(&srv->lock);
        pthread_attr_destroy(&attr);
        conn_end(c);
        return;
    }
    pthread_attr_destroy(&attr);
    pthread_mutex_unlock(&srv->lock);
}

static void *acceptor_main(void *arg)
{
    srv_compat *srv = arg;
    struct pollfd p[2] = {{srv->lfd, POLLIN, 0}, {srv->wake[0], POLLIN, 0}};
    int fd;

    for (;;) {
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (p[1].revents != 0)
            break;
        if (p[0].revents & POLLIN) {
            fd = accept(srv->lfd, NULL, NULL);
            if (fd >= 0)
                accept_one(srv, fd);
        }
    }
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Listener                                                           */

static bool is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa->sa_family == AF_INET6)
        return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)sa)->sin6_addr);
    return false;
}

/* Split "HOST:PORT" / "[V6]:PORT". */
static int split_addr(const char *addr, char *host, size_t hn, char *port, size_t pn, th_error *err)
{
    const char *colon, *h = addr, *he;

    if (addr[0] == '[') {
        he = strchr(addr, ']');
        if (he == NULL || he[1] != ':')
            return th_error_set(err, TH_EINVAL, "bad address %s: expected [IPV6]:PORT", addr);
        h = addr + 1;
        colon = he + 1;
    } else {
        colon = strrchr(addr, ':');
        if (colon == NULL)
            return th_error_set(err, TH_EINVAL, "bad address %s: expected HOST:PORT", addr);
        he = colon;
    }
    if ((size_t)(he - h) >= hn || strlen(colon + 1) >= pn || colon[1] == 0)
        return th_error_set(err, TH_EINVAL, "bad address %s: expected HOST:PORT", addr);
    memcpy(host, h, (size_t)(he - h));
    host[he - h] = 0;
    strcpy(port, colon + 1);
    return 0;
}

static int listen_on(srv_compat *srv, const char *addr, bool allow_nonloopback, th_error *err)
{
    struct addrinfo hints = {0}, *res = NULL;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char host[256], port[16];
    int rc, one = 1;

    if ((rc = split_addr(addr, host, sizeof host, port, sizeof port, err)) != 0)
        return rc;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    if ((rc = getaddrinfo(host, port, &hints, &res)) != 0)
        return th_error_set(err, TH_EINVAL, "bad address %s: %s", addr, gai_strerror(rc));
    if (!allow_nonloopback && !is_loopback(res->ai_addr)) {
        freeaddrinfo(res);
        return th_error_set(err, TH_EPERM,
                            "%s is not a loopback address; the protocol has no authentication "
                            "(allow it explicitly to listen there)",
                            addr);
    }
    srv->lfd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (srv->lfd < 0 || setsockopt(srv->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(srv->lfd, res->ai_addr, res->ai_addrlen) != 0 || listen(srv->lfd, 64) != 0 ||
        getsockname(srv->lfd, (struct sockaddr *)&ss, &sl) != 0) {
        rc = th_error_set(err, TH_EIO, "cannot listen on %s: %s", addr, strerror(errno));
        freeaddrinfo(res);
        return rc;
    }
    freeaddrinfo(res);
    srv->port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                              : ((struct sockaddr_in6 *)&ss)->sin6_port);
    return 0;
}

int srv_compat_start(th_runtime *rt, const char *addr, bool allow_nonloopback, srv_compat **out,
                     th_error *err)
{
    srv_compat *srv = calloc(1, sizeof *srv);
    int rc;

    *out = NULL;
    if (srv == NULL)
        return th_error_set(err, TH_ENOMEM, "out of memory");
    srv->rt = rt;
    srv->lfd = srv->wake[0] = srv->wake[1] = -1;
    pthread_mutex_init(&srv->lock, NULL);
    pthread_cond_init(&srv->gone, NULL);
    if ((rc = listen_on(srv, addr, allow_nonloopback, err)) != 0)
        goto fail;
    if (pipe(srv->wake) != 0) {
        rc = th_error_set(err, TH_EIO, "pipe: %s", strerror(errno));
        goto fail;
    }
    if (pthread_create(&srv->acceptor, NULL, acceptor_main, srv) != 0) {
        rc = th_error_set(err, TH_ENOMEM, "cannot start the listener thread");
        goto fail;
    }
    *out = srv;
    return 0;
fail:
    if (srv->lfd >= 0)
        close(srv->lfd);
    if (srv->wake[0] >= 0)
        close(srv->wake[0]), close(srv->wake[1]);
    pthread_mutex_destroy(&srv->lock);
    pthread_cond_destroy(&srv->gone);
    free(srv);
    return rc;
}

uint16_t srv_compat_port(const srv_compat *c)
{
    return c->port;
}

void srv_compat_stop(srv_compat *srv)
{
    conn *c;
    ssize_t w;

    if (srv == NULL)
        return;
    pthread_mutex_lock(&srv->lock);
    srv->stopping = true;
    pthread_mutex_unlock(&srv->lock);
    do
        w = write(srv->wake[1], "x", 1);
    while (w < 0 && errno == EINTR);
    pthread_join(srv->acceptor, NULL);
    pthread_mutex_lock(&srv->lock);
    for (c = srv->conns; c != NULL; c = c->next)
        shutdown(c->fd, SHUT_RDWR);
    while (srv->nconns > 0)
        pthread_cond_wait(&srv->gone, &srv->lock);
    pthread_mutex_unlock(&srv->lock);
    close(srv->lfd);
    close(srv->wake[0]);
    close(srv->wake[1]);
    pthread_mutex_destroy(&srv->lock);
    pthread_cond_destroy(&srv->gone);
    free(srv);
}
