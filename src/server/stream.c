/*
 * stream.c - Server-Sent Events: chain event streams and the channels
 * opened from outside with their message streams.
 *
 * A stream (srv_stream) is one SSE response.  Its bytes wait in `out`,
 * bounded by the server's stream_buffer: a client that falls so far behind
 * that `out` would pass the bound gets a final
 *     event: overflow
 *     data: {"last_sent": SEQ}
 * and its stream ends; the actors never wait for a client.  The reader
 * (libmicrohttpd's polling thread) drains `out`; when it is empty the
 * connection is suspended until the next event resumes it.
 *
 * An actor's event stream sends its stored events, then live ones, with no
 * gap and no repeat: the stream is registered (live events of the actor go
 * to `pending`, in order) before the actor's chain is flushed and read; the
 * stored events are read page by page as the client drains them; when the
 * chain is exhausted, the pending events after the last stored one follow
 * and the stream is live.  `id:` is the event's sequence number, so a
 * client resumes with Last-Event-ID.  The stream ends once the actor has
 * ended (end_streams_of_ended_actors).
 *
 * A stream begins with the comment ": stream open" (its headers go out with
 * it, at once).  SSE frame, as written (one per event):
 *     id: <seq>\n
 *     event: <type>\n
 *     data: <JSON, one line: srv_event_json>\n
 *     \n
 *
 * Locks: streams_lock (the stream list and every channel) before a
 * stream's own lock.  libmicrohttpd is resumed outside both.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "base/hex.h"
#include "theater/chain.h"
#include "server/server_int.h"

enum { STREAM_EVENTS = 1, STREAM_CHANNEL };

/* The comment every stream begins with. */
#define SRV_STREAM_OPENING ": stream open\n\n"

/* How often the reaper looks for streams of actors that have ended. */
#define SRV_ENDED_CHECK_MS 200

/* A live frame that arrived while stored events were still being sent. */
typedef struct frame {
    struct frame *next;
    uint64_t seq;
    size_t len;
    char text[];
} frame;

struct srv_stream {
    srv_stream *next, *prev; /* server list (streams_lock) */
    th_server *srv;
    struct MHD_Connection *conn;
    pthread_mutex_t lock; /* everything below */
    int kind;
    srv_buf out;                /* bytes not yet sent */
    bool suspended;             /* waiting for bytes (connection suspended) */
    bool ended;                 /* end of stream once `out` is sent */
    bool finish;                /* shutdown: end once the stored events are sent */
    char actor[SRV_ID_LEN + 1]; /* filter; "" = every actor */
    char *type;                 /* filter or NULL */
    bool backlog;               /* stored events (then `pending`) still being sent */
    bool memory;                /* the actor's chain is in the runtime's memory */
    bool stored_done;           /* every stored event is in `out` or sent */
    unsigned page;              /* stored events to read in the next step */
    uint64_t next_seq;          /* next stored event to read */
    frame *pending, *pending_tail;
    size_t pending_bytes;
    bool opened;  /* the opening comment went out (with the headers) */
    char *notice; /* a block sent after it, before `out` (a channel's gap), or NULL */
    bool sent_any;
    uint64_t last_sent; /* seq of the last event put into `out` */
    uint64_t last_ns;   /* when `out` last got bytes */
    srv_chan *chan;     /* STREAM_CHANNEL; NULL once the channel is gone */
};

/* A message the actor sent on an outside channel, kept for readers. */
typedef struct chan_msg {
    struct chan_msg *next;
    uint64_t seq;
    size_t len;
    char text[]; /* the SSE frame */
} chan_msg;

struct srv_chan {
    srv_chan *next;
    th_server *srv;
    char id[SRV_ID_LEN + 1];
    char actor[SRV_ID_LEN + 1];
    chan_msg *head, *tail; /* history (streams_lock) */
    size_t bytes;
    uint64_t next_seq;
    bool closed;   /* the actor closed it (or refused it) */
    bool id_ready; /* `id` is filled in */
    bool released; /* th_runtime_channel_close done */
};

/* ------------------------------------------------------------------ */
/* Frames                                                             */

static void stream_add_locked(srv_stream *st, const char *text, size_t len, uint64_t seq);

/* The SSE frame of an event (malloc'd text, *len), or NULL. */
static char *event_frame(const char *actor, uint64_t seq, const char *type, uint64_t ts,
                         const uint8_t *hash, const uint8_t *parent, const uint8_t *data,
                         size_t dlen, const char *description, size_t *len)
{
    json_t *o = srv_event_json(actor, seq, type, ts, hash, parent, data, dlen, description);
    char *j = o ? json_dumps(o, JSON_COMPACT) : NULL;
    srv_buf b = {0};

    json_decref(o);
    if (j == NULL)
        return NULL;
    srv_buf_addf(&b, "id: %llu\nevent: %s\ndata: ", (unsigned long long)seq, type);
    srv_buf_add(&b, j, strlen(j));
    srv_buf_add(&b, "\n\n", 2);
    free(j);
    if (b.oom) {
        srv_buf_release(&b);
        return NULL;
    }
    *len = b.len;
    return b.data;
}

/* Resume a suspended stream; call without locks, after clearing
 * `suspended` under the stream's lock. */
static void wake(srv_stream *st)
{
    MHD_resume_connection(st->conn);
}

/* End the stream because the client fell behind (stream lock held). */
static void overflow_locked(srv_stream *st)
{
    char msg[128];
    int n;

    if (st->sent_any)
        n = snprintf(msg, sizeof msg, "event: overflow\ndata: {\"last_sent\":%llu}\n\n",
                     (unsigned long long)st->last_sent);
    else
        n = snprintf(msg, sizeof msg, "event: overflow\ndata: {\"last_sent\":null}\n\n");
    srv_buf_add(&st->out, msg, (size_t)n);
    st->ended = true;
    srv_log(st->srv, TH_LOG_WARN,
            "a stream client fell more than %zu bytes behind: disconnected after %s %llu",
            st->srv->stream_buffer, st->sent_any ? "event" : "no event",
            (unsigned long long)(st->sent_any ? st->last_sent : 0));
}

/* Whether a frame of `len` bytes fits beside the `waiting` bytes: any
 * frame fits when nothing waits. */
static bool frame_fits(const srv_stream *st, size_t waiting, size_t len)
{
    return waiting == 0 || waiting + len <= st->srv->stream_buffer;
}

/* Append an event frame to `out` (stream lock held). */
static void stream_add_locked(srv_stream *st, const char *text, size_t len, uint64_t seq)
{
    if (st->ended)
        return;
    if (!frame_fits(st, st->out.len, len)) {
        overflow_locked(st);
        return;
    }
    srv_buf_add(&st->out, text, len);
    if (st->out.oom) {
        st->ended = true;
        return;
    }
    st->sent_any = true;
    st->last_sent = seq;
    st->last_ns = base_clock_mono_ns();
}

/* Hand a live frame to a stream (stream lock held); true if it must be
 * woken. */
static bool stream_offer_locked(srv_stream *st, const char *text, size_t len, uint64_t seq)
{
    frame *f;

    if (st->ended)
        return false;
    if (st->backlog) {
        if (!frame_fits(st, st->pending_bytes, len)) {
            overflow_locked(st);
        } else if ((f = malloc(sizeof *f + len)) != NULL) {
            f->next = NULL;
            f->seq = seq;
            f->len = len;
            memcpy(f->text, text, len);
            if (st->pending_tail != NULL)
                st->pending_tail->next = f;
            else
                st->pending = f;
            st->pending_tail = f;
            st->pending_bytes += len;
        } else {
            st->ended = true;
        }
    } else if (!st->sent_any || seq > st->last_sent ||
               (st->kind == STREAM_EVENTS && st->actor[0] == 0)) {
        stream_add_locked(st, text, len, seq);
    }
    if (st->suspended && (st->out.len > 0 || st->ended)) {
        st->suspended = false;
        return true;
    }
    return false;
}

/* ------------------------------------------------------------------ */
/* The runtime's events                                               */

void srv_stream_on_event(void *ud, const th_runtime_event *ev)
{
    th_server *s = ud;
    srv_stream *st, *woken[64];
    size_t nwoken = 0, i, len = 0;
    char *text = NULL;

    if (atomic_load_explicit(&s->nstreams, memory_order_relaxed) == 0 || ev->seq == UINT64_MAX)
        return;
    pthread_mutex_lock(&s->streams_lock);
    for (st = s->streams; st != NULL; st = st->next) {
        if (st->kind != STREAM_EVENTS || (st->actor[0] && strcmp(st->actor, ev->actor_id) != 0) ||
            (st->type != NULL && strcmp(st->type, ev->type) != 0))
            continue;
        /* the event as its chain has it, parent_hash too (as the stored
         * events of an actor's stream before it) */
        if (text == NULL) {
            text = event_frame(ev->actor_id, ev->seq, ev->type, ev->timestamp_ms, ev->hash,
                               ev->parent_hash, ev->data, ev->data_len, NULL, &len);
            if (text == NULL)
                break;
        }
        pthread_mutex_lock(&st->lock);
        if (stream_offer_locked(st, text, len, ev->seq)) {
            if (nwoken < sizeof woken / sizeof woken[0])
                woken[nwoken++] = st;
            else
                st->suspended = true; /* woken by the next tick */
        }
        pthread_mutex_unlock(&st->lock);
    }
    pthread_mutex_unlock(&s->streams_lock);
    /* a stream we took out of suspension cannot be freed before we resume
     * it: libmicrohttpd leaves suspended connections alone */
    for (i = 0; i < nwoken; i++)
        wake(woken[i]);
    free(text);
}

/* Move the live frames that came while stored events were sent into
 * `out`, as many as fit; once none is left the stream is live (stream lock
 * held). */
static void drain_pending_locked(srv_stream *st)
{
    frame *f;

    while ((f = st->pending) != NULL && !st->ended) {
        if (f->seq >= st->next_seq) {
            if (!frame_fits(st, st->out.len, f->len))
                return; /* the next read step takes it */
            stream_add_locked(st, f->text, f->len, f->seq);
        }
        st->pending = f->next;
        if (st->pending == NULL)
            st->pending_tail = NULL;
        st->pending_bytes -= f->len;
        free(f);
    }
    st->backlog = false;
    if (st->finish)
        st->ended = true;
}

/* Put the next stored events into `out`, at most stream_buffer bytes of
 * them (any one frame when `out` is empty); at the end of the chain, the
 * pending live ones.  Called by the reader with no lock held. */
static void read_backlog(srv_stream *st)
{
    th_chain_query q;
    th_chain_events evs;
    size_t i, len;
    char *text;
    bool full = false, done;
    int rc = -1;

    pthread_mutex_lock(&st->lock);
    done = st->stored_done;
    memset(&q, 0, sizeof q);
    q.actor = st->actor;
    q.from_seq = st->next_seq;
    q.type = st->type;
    if (st->page == 0)
        st->page = TH_SERVER_STREAM_PAGE;
    q.limit = st->page;
    pthread_mutex_unlock(&st->lock);
    if (!done) {
        /* the shutdown closes the chain once no read is under way
         * (srv_streams_finish) */
        th_server *s = st->srv;
        atomic_fetch_add(&s->chain_reads, 1);
        if (!atomic_load(&s->chain_gone))
            rc = srv_read_events(s, st->memory, &q, &evs, NULL);
        atomic_fetch_sub(&s->chain_reads, 1);
    }
    pthread_mutex_lock(&st->lock);
    if (!done && rc == 0) {
        for (i = 0; i < evs.count && !st->ended; i++) {
            th_chain_event *e = &evs.items[i];
            text = event_frame(e->actor, e->seq, e->type, e->timestamp_ms, e->hash,
                               e->has_parent ? e->parent : NULL, e->data, e->data_len,
                               e->description, &len);
            if (text != NULL && !frame_fits(st, st->out.len, len)) {
                free(text);
                full = true; /* this event is the next step's first */
                break;
            }
            if (text != NULL)
                stream_add_locked(st, text, len, e->seq);
            free(text);
            st->next_seq = e->seq + 1;
        }
        /* read no more than one step sends: large events, small pages */
        if (full)
            st->page = i > 0 ? (unsigned)i : 1;
        else if (st->page < TH_SERVER_STREAM_PAGE)
            st->page = st->page * 2 < TH_SERVER_STREAM_PAGE ? st->page * 2 : TH_SERVER_STREAM_PAGE;
        if (!full && evs.count < q.limit)
            st->stored_done = true;
    } else if (!done) {
        st->stored_done = true; /* unreadable: the live events follow */
    }
    if (st->stored_done)
        drain_pending_locked(st);
    pthread_mutex_unlock(&st->lock);
    if (rc == 0)
        th_chain_events_free(&evs);
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    srv_stream *st = cls;
    size_t n;
    bool backlog;

    (void)pos;
    /* libmicrohttpd sends the status line and headers with the first
     * bytes of the body: a comment first, so that a client knows at once
     * that its stream was accepted, however long the first event takes */
    if (!st->opened && max >= sizeof SRV_STREAM_OPENING - 1) {
        st->opened = true;
        memcpy(buf, SRV_STREAM_OPENING, sizeof SRV_STREAM_OPENING - 1);
        return (ssize_t)(sizeof SRV_STREAM_OPENING - 1);
    }
    pthread_mutex_lock(&st->lock);
    if (st->notice != NULL && max >= strlen(st->notice)) {
        n = strlen(st->notice);
        memcpy(buf, st->notice, n);
        free(st->notice);
        st->notice = NULL;
        pthread_mutex_unlock(&st->lock);
        return (ssize_t)n;
    }
    pthread_mutex_unlock(&st->lock);
    pthread_mutex_lock(&st->lock);
    backlog = st->backlog && st->out.len == 0 && !st->ended;
    pthread_mutex_unlock(&st->lock);
    if (backlog)
        read_backlog(st);
    pthread_mutex_lock(&st->lock);
    if (st->out.len > 0) {
        n = st->out.len < max ? st->out.len : max;
        memcpy(buf, st->out.data, n);
        srv_buf_consume(&st->out, n);
        pthread_mutex_unlock(&st->lock);
        return (ssize_t)n;
    }
    if (st->ended) {
        pthread_mutex_unlock(&st->lock);
        return MHD_CONTENT_READER_END_OF_STREAM;
    }
    st->suspended = true;
    MHD_suspend_connection(st->conn);
    pthread_mutex_unlock(&st->lock);
    return 0;
}

static void stream_free(void *cls)
{
    srv_stream *st = cls;
    th_server *s = st->srv;
    frame *f, *next;

    pthread_mutex_lock(&s->streams_lock);
    if (st->prev != NULL)
        st->prev->next = st->next;
    else
        s->streams = st->next;
    if (st->next != NULL)
        st->next->prev = st->prev;
    atomic_fetch_sub(&s->nstreams, 1);
    pthread_mutex_unlock(&s->streams_lock);
    for (f = st->pending; f != NULL; f = next) {
        next = f->next;
        free(f);
    }
    srv_buf_release(&st->out);
    free(st->notice);
    free(st->type);
    pthread_mutex_destroy(&st->lock);
    free(st);
}

/* A new stream answering `r` (not yet in the list). */
static srv_stream *stream_new(srv_req *r, int kind, const char *type)
{
    srv_stream *st = calloc(1, sizeof *st);
    struct MHD_Response *resp;

    if (st == NULL)
        return NULL;
    st->srv = r->srv;
    st->conn = r->conn;
    st->kind = kind;
    st->last_ns = base_clock_mono_ns();
    pthread_mutex_init(&st->lock, NULL);
    if (type != NULL && (st->type = strdup(type)) == NULL) {
        pthread_mutex_destroy(&st->lock);
        free(st);
        return NULL;
    }
    resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, stream_read, st, stream_free);
    if (resp == NULL) {
        free(st->type);
        pthread_mutex_destroy(&st->lock);
        free(st);
        return NULL;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    r->response = resp;
    r->status = 200;
    r->state = REQ_READY;
    return st;
}

/* Link a stream into the server's list (streams_lock held). */
static void stream_link_locked(th_server *s, srv_stream *st)
{
    st->prev = NULL;
    st->next = s->streams;
    if (s->streams != NULL)
        s->streams->prev = st;
    s->streams = st;
    atomic_fetch_add(&s->nstreams, 1);
}

void srv_stream_events(srv_req *r, const char *actor, const char *type, uint64_t from, bool backlog)
{
    th_server *s = r->srv;
    srv_stream *st = stream_new(r, STREAM_EVENTS, type);

    if (st == NULL) {
        srv_reply_error(r, 503, "out-of-memory", "out of memory");
        return;
    }
    if (actor != NULL)
        snprintf(st->actor, sizeof st->actor, "%s", actor);
    /* a save_chain = false actor's stored events are those it holds in memory */
    st->memory = backlog && actor != NULL && srv_chain_in_memory(s, actor);
    st->backlog = backlog;
    st->next_seq = from;
    if (from > 0) { /* resuming: nothing at or before from - 1 again */
        st->sent_any = true;
        st->last_sent = from - 1;
    }
    pthread_mutex_lock(&s->streams_lock);
    stream_link_locked(s, st);
    pthread_mutex_unlock(&s->streams_lock);
    /* live events from here on are pending; everything before is durable
     * once the flush returns */
    if (backlog && actor != NULL)
        th_runtime_flush(s->rt, actor, NULL);
}

/* The streams of one actor's events end once the actor has ended: nothing
 * more can come (a daemon brings an actor back only when it starts).  Its
 * last event (`actor-stopped`) is on the streams by then: the runtime hands
 * it to srv_stream_on_event before the actor leaves its registry.  A stream
 * still sending stored events ends at a later look, after them.  The
 * runtime is asked without streams_lock held (its callbacks take that
 * lock). */
static void end_streams_of_ended_actors(th_server *s)
{
    char(*ids)[SRV_ID_LEN + 1] = NULL;
    size_t n = 0, cap = 0, i, nwoken = 0;
    srv_stream *st, *woken[256];
    th_actor_status status;

    pthread_mutex_lock(&s->streams_lock);
    for (st = s->streams; st != NULL; st = st->next) {
        if (st->kind != STREAM_EVENTS || st->actor[0] == 0)
            continue;
        if (n == cap) {
            size_t nc = cap ? 2 * cap : 16;
            void *nv = realloc(ids, nc * sizeof *ids);
            if (nv == NULL)
                break;
            ids = nv;
            cap = nc;
        }
        memcpy(ids[n++], st->actor, SRV_ID_LEN + 1);
    }
    pthread_mutex_unlock(&s->streams_lock);
    for (i = 0; i < n;) { /* keep the ended ones */
        if (th_runtime_actor_status(s->rt, ids[i], &status, NULL) != 0 ||
            status == TH_ACTOR_STOPPED) {
            i++;
        } else {
            memcpy(ids[i], ids[n - 1], SRV_ID_LEN + 1);
            n--;
        }
    }
    if (n > 0) {
        pthread_mutex_lock(&s->streams_lock);
        for (st = s->streams; st != NULL && nwoken < sizeof woken / sizeof woken[0];
             st = st->next) {
            if (st->kind != STREAM_EVENTS || st->actor[0] == 0)
                continue;
            for (i = 0; i < n && strcmp(ids[i], st->actor) != 0; i++)
                ;
            if (i == n)
                continue;
            pthread_mutex_lock(&st->lock);
            if (!st->backlog && !st->ended) {
                st->ended = true;
                if (st->suspended) {
                    st->suspended = false;
                    woken[nwoken++] = st;
                }
            }
            pthread_mutex_unlock(&st->lock);
        }
        pthread_mutex_unlock(&s->streams_lock);
        for (i = 0; i < nwoken; i++)
            wake(woken[i]);
    }
    free(ids);
}

void srv_streams_tick(th_server *s, uint64_t now)
{
    static const char ka[] = ": keep-alive\n\n";
    srv_stream *st, *woken[256];
    size_t nwoken = 0, i;

    if (atomic_load_explicit(&s->nstreams, memory_order_relaxed) == 0)
        return;
    if (now - s->ended_check_ns >= (uint64_t)SRV_ENDED_CHECK_MS * 1000000u) {
        s->ended_check_ns = now;
        end_streams_of_ended_actors(s);
    }
    pthread_mutex_lock(&s->streams_lock);
    for (st = s->streams; st != NULL && nwoken < sizeof woken / sizeof woken[0]; st = st->next) {
        pthread_mutex_lock(&st->lock);
        if (!st->ended && st->out.len == 0 &&
            now - st->last_ns > (uint64_t)TH_SERVER_KEEPALIVE_MS * 1000000u) {
            srv_buf_add(&st->out, ka, sizeof ka - 1);
            st->last_ns = now;
        }
        if (st->suspended && (st->out.len > 0 || st->ended)) {
            st->suspended = false;
            woken[nwoken++] = st;
        }
        pthread_mutex_unlock(&st->lock);
    }
    pthread_mutex_unlock(&s->streams_lock);
    for (i = 0; i < nwoken; i++)
        wake(woken[i]);
}

/* ------------------------------------------------------------------ */
/* Channels opened from outside                                       */

static srv_chan *chan_find_locked(th_server *s, const char *id)
{
    srv_chan *c;

    for (c = s->chans; c != NULL; c = c->next)
        if (strcmp(c->id, id) == 0)
            return c;
    return NULL;
}

/* End the streams of a channel and forget the channel (streams_lock
 * held); frees it. */
static void chan_drop_locked(th_server *s, srv_chan *c)
{
    srv_chan **pp;
    srv_stream *st;
    chan_msg *m, *next;

    for (pp = &s->chans; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            s->nchans--;
            break;
        }
    }
    for (st = s->streams; st != NULL; st = st->next) {
        bool resume = false;
        if (st->chan != c)
            continue;
        pthread_mutex_lock(&st->lock);
        st->chan = NULL;
        st->ended = true;
        if (st->suspended) {
            st->suspended = false;
            resume = true;
        }
        pthread_mutex_unlock(&st->lock);
        if (resume)
            wake(st);
    }
    for (m = c->head; m != NULL; m = next) {
        next = m->next;
        free(m);
    }
    free(c);
}

/* Keep a message from the actor, or the channel's close (with `data` the
 * reason, if any), and offer it to the channel's streams (streams_lock
 * held); the streams to wake (outside the lock) go to woken[*nwoken]. */
static void chan_record_locked(srv_chan *c, const char *channel, int kind, const uint8_t *data,
                               size_t len, srv_stream **woken, size_t max_woken, size_t *nwoken)
{
    th_server *s = c->srv;
    srv_stream *st;
    srv_buf b = {0};
    chan_msg *m;
    char *hex;

    hex = malloc(2 * len + 1);
    if (hex == NULL)
        return;
    base_hex_encode(data, len, hex);
    srv_buf_addf(&b, "id: %llu\nevent: %s\ndata: {\"channel\":\"%s\",\"seq\":%llu",
                 (unsigned long long)c->next_seq, kind == TH_CHANNEL_MESSAGE ? "message" : "closed",
                 channel, (unsigned long long)c->next_seq);
    if (kind == TH_CHANNEL_MESSAGE) {
        srv_buf_add(&b, ",\"data_hex\":\"", 13);
        srv_buf_add(&b, hex, strlen(hex));
        srv_buf_add(&b, "\"", 1);
    } else {
        c->closed = true;
        if (len > 0) { /* it ended with its actor: why */
            json_t *why = json_stringn((const char *)data, len);
            char *text = why != NULL ? json_dumps(why, JSON_ENCODE_ANY) : NULL;
            if (text != NULL) {
                srv_buf_add(&b, ",\"reason\":", 10);
                srv_buf_add(&b, text, strlen(text));
            }
            free(text);
            json_decref(why);
        }
    }
    srv_buf_add(&b, "}\n\n", 3);
    free(hex);
    if (b.oom || (m = malloc(sizeof *m + b.len)) == NULL) {
        srv_buf_release(&b);
        return;
    }
    m->next = NULL;
    m->seq = c->next_seq++;
    m->len = b.len;
    memcpy(m->text, b.data, b.len);
    srv_buf_release(&b);
    if (c->tail != NULL)
        c->tail->next = m;
    else
        c->head = m;
    c->tail = m;
    c->bytes += m->len;
    while (c->bytes > TH_SERVER_CHANNEL_HISTORY_BYTES && c->head != c->tail) {
        chan_msg *old = c->head;
        c->head = old->next;
        c->bytes -= old->len;
        free(old);
    }
    for (st = s->streams; st != NULL; st = st->next) {
        if (st->chan != c)
            continue;
        pthread_mutex_lock(&st->lock);
        if (stream_offer_locked(st, m->text, m->len, m->seq) && *nwoken < max_woken)
            woken[(*nwoken)++] = st;
        if (kind == TH_CHANNEL_CLOSED)
            st->ended = true;
        pthread_mutex_unlock(&st->lock);
    }
}

/* The runtime's channel callback: a message from the actor, or its close. */
static void chan_event(void *ud, int kind, const char *channel, const uint8_t *data, size_t len)
{
    srv_chan *c = ud;
    th_server *s = c->srv;
    srv_stream *woken[64];
    size_t nwoken = 0, i;

    pthread_mutex_lock(&s->streams_lock);
    chan_record_locked(c, channel, kind, data, len, woken, sizeof woken / sizeof woken[0], &nwoken);
    pthread_mutex_unlock(&s->streams_lock);
    for (i = 0; i < nwoken; i++)
        wake(woken[i]);
}

/* Close channel `id` in the runtime and drop the server's record of it. */
static void chan_forget(th_server *s, const char *id)
{
    srv_chan *c;

    th_runtime_channel_close(s->rt, id, NULL);
    pthread_mutex_lock(&s->streams_lock);
    if ((c = chan_find_locked(s, id)) != NULL)
        chan_drop_locked(s, c);
    pthread_mutex_unlock(&s->streams_lock);
}

/* The actor's answer to the open (a runtime thread). */
static void on_chan_open(void *ud, int status, const uint8_t *data, size_t len, const char *msg,
                         const char *backtrace)
{
    srv_req *r = ud;
    th_server *s = r->srv;
    char id[SRV_ID_LEN + 1];

    (void)data, (void)len;
    /* srv_chan_open fills the id in right after the runtime returns it */
    pthread_mutex_lock(&s->streams_lock);
    while (!((srv_chan *)r->chan)->id_ready)
        pthread_cond_wait(&s->chan_cond, &s->streams_lock);
    snprintf(id, sizeof id, "%s", ((srv_chan *)r->chan)->id);
    pthread_mutex_unlock(&s->streams_lock);
    if (status == 0) {
        json_t *o = json_pack("{s:s, s:s}", "channel", id, "actor", r->id);
        char *body = o ? json_dumps(o, JSON_COMPACT) : NULL;
        json_decref(o);
        if (body != NULL && srv_req_done(r, 201, "application/json", body, strlen(body))) {
            srv_req_release(r);
            return;
        }
        /* the request timed out (504) or its client went: nobody knows the
         * id, so the channel is closed rather than left open for good */
        srv_log(s, TH_LOG_WARN, "channel %s accepted after its request ended; closing it", id);
        chan_forget(s, id);
    } else if (status == TH_EPERM || status == TH_ENOENT) {
        /* refused (or it takes no channels: no handle-channel-open): the
         * endpoint goes (no callback runs after this) */
        chan_forget(s, id);
        srv_req_done_failure(r, 409, "channel-refused", backtrace,
                             "actor %s refused the channel: %s", r->id,
                             msg && msg[0] ? msg : "no reason given");
    } else {
        /* it failed (or stopped) while deciding, as a request's 502 */
        chan_forget(s, id);
        srv_req_done_failure(r, 502, "request-failed", backtrace,
                             "actor %s did not open the channel: %s", r->id,
                             msg && msg[0] ? msg : "no reason given");
    }
    srv_req_release(r);
}

void srv_chan_open(srv_req *r, const char *actor, const uint8_t *msg, size_t len,
                   uint64_t timeout_ms)
{
    th_server *s = r->srv;
    srv_chan *c = calloc(1, sizeof *c);
    char id[TH_ACTOR_ID_SIZE];
    th_error err;
    int rc;

    if (c == NULL) {
        srv_reply_error(r, 503, "out-of-memory", "out of memory");
        return;
    }
    c->srv = s;
    snprintf(c->actor, sizeof c->actor, "%s", actor);
    pthread_mutex_lock(&s->streams_lock);
    if (s->nchans >= TH_SERVER_MAX_CHANNELS) {
        pthread_mutex_unlock(&s->streams_lock);
        free(c);
        srv_reply_error(r, 503, "too-many-channels", "%u channels are open; close some first",
                        TH_SERVER_MAX_CHANNELS);
        return;
    }
    /* listed before the runtime can call back; the runtime is called
     * without streams_lock (its callbacks take it), and the answer waits
     * until the id is filled in (id_ready) */
    c->next = s->chans;
    s->chans = c;
    s->nchans++;
    pthread_mutex_unlock(&s->streams_lock);
    r->chan = c;
    srv_req_wait(r);
    srv_req_ref(r); /* the runtime's answer */
    rc = th_runtime_channel_open(s->rt, actor, msg, len, chan_event, c, on_chan_open, r, id, &err);
    pthread_mutex_lock(&s->streams_lock);
    if (rc == 0) {
        memcpy(c->id, id, sizeof c->id);
        c->id_ready = true;
        pthread_cond_broadcast(&s->chan_cond);
    } else {
        chan_drop_locked(s, c);
    }
    pthread_mutex_unlock(&s->streams_lock);
    if (rc != 0) {
        srv_req_release(r);
        if (rc == TH_ENOENT)
            srv_req_done_error(r, 404, "actor-not-found", "no actor %s", actor);
        else
            srv_req_done_undelivered(r, rc, err.msg);
        return;
    }
    srv_timeout_add(s, r, timeout_ms);
}

void srv_chan_send(srv_req *r, const char *chan)
{
    th_error err;
    int rc =
        th_runtime_channel_send(r->srv->rt, chan, (const uint8_t *)r->body.data, r->body.len, &err);

    if (rc == 0)
        srv_reply_json(r, 202, json_pack("{s:s, s:b}", "channel", chan, "queued", 1));
    else if (rc == TH_ENOENT)
        srv_reply_error(r, 404, "channel-not-found", "no channel %.80s", chan);
    else if (rc == TH_ECLOSED)
        srv_reply_error(r, 409, "channel-closed", "%s", err.msg);
    else {
        const char *code;
        unsigned status = srv_status_of_delivery(rc, &code);
        srv_reply_error(r, status, code, "%s", err.msg);
    }
}

void srv_chan_stream(srv_req *r, const char *chan)
{
    th_server *s = r->srv;
    const char *last = srv_header(r, "Last-Event-ID");
    uint64_t after = UINT64_MAX, first, kept;
    srv_stream *st;
    srv_chan *c;
    chan_msg *m;

    if (last != NULL) {
        char *end;
        after = strtoull(last, &end, 10);
        if (*last < '0' || *last > '9' || *end != 0) {
            srv_reply_error(r, 400, "bad-request", "Last-Event-ID must be a sequence number: %.40s",
                            last);
            return;
        }
    }
    pthread_mutex_lock(&s->streams_lock);
    c = chan_find_locked(s, chan);
    if (c == NULL) {
        pthread_mutex_unlock(&s->streams_lock);
        srv_reply_error(r, 404, "channel-not-found", "no channel %.80s", chan);
        return;
    }
    st = stream_new(r, STREAM_CHANNEL, NULL);
    if (st == NULL) {
        pthread_mutex_unlock(&s->streams_lock);
        srv_reply_error(r, 503, "out-of-memory", "out of memory");
        return;
    }
    st->chan = c;
    /* messages the client has not had that are no longer kept (beyond
     * the 1 MiB kept since the open): say so before the rest */
    first = after == UINT64_MAX ? 0 : after + 1;
    kept = c->head != NULL ? c->head->seq : c->next_seq;
    if (kept > first) {
        char gap[192];
        int n = snprintf(gap, sizeof gap,
                         "event: gap\ndata: {\"channel\":\"%s\",\"from\":%llu,\"to\":%llu}\n\n",
                         c->id, (unsigned long long)first, (unsigned long long)(kept - 1));
        st->notice = strndup(gap, (size_t)n); /* sent first, not counted as waiting */
    }
    for (m = c->head; m != NULL; m = m->next)
        if (after == UINT64_MAX || m->seq > after)
            stream_add_locked(st, m->text, m->len, m->seq);
    if (c->closed)
        st->ended = true;
    stream_link_locked(s, st);
    pthread_mutex_unlock(&s->streams_lock);
}

void srv_chan_close(srv_req *r, const char *chan)
{
    th_server *s = r->srv;
    srv_stream *woken[64];
    size_t nwoken = 0, i;
    srv_chan *c;
    bool known;

    pthread_mutex_lock(&s->streams_lock);
    known = chan_find_locked(s, chan) != NULL;
    pthread_mutex_unlock(&s->streams_lock);
    if (!known) {
        srv_reply_error(r, 404, "channel-not-found", "no channel %.80s", chan);
        return;
    }
    /* no callback of this channel runs once this returns */
    th_runtime_channel_close(s->rt, chan, NULL);
    pthread_mutex_lock(&s->streams_lock);
    if ((c = chan_find_locked(s, chan)) != NULL) {
        /* its streams end with their `closed` event, which says why */
        static const char why[] = "closed through the API (DELETE /v1/channels/ID)";
        if (!c->closed)
            chan_record_locked(c, c->id, TH_CHANNEL_CLOSED, (const uint8_t *)why, sizeof why - 1,
                               woken, sizeof woken / sizeof woken[0], &nwoken);
        chan_drop_locked(s, c);
    }
    pthread_mutex_unlock(&s->streams_lock);
    for (i = 0; i < nwoken; i++)
        wake(woken[i]);
    srv_reply_json(r, 200, json_pack("{s:s, s:b}", "channel", chan, "closed", 1));
}

void srv_streams_close_all(th_server *s)
{
    srv_stream *st;

    pthread_mutex_lock(&s->streams_lock);
    for (st = s->streams; st != NULL; st = st->next) {
        bool resume = false;
        pthread_mutex_lock(&st->lock);
        st->ended = true;
        st->backlog = false;
        if (st->suspended) {
            st->suspended = false;
            resume = true;
        }
        pthread_mutex_unlock(&st->lock);
        if (resume)
            wake(st);
    }
    /* channels go once nothing can call back: after the runtime */
    while (s->rt == NULL && s->chans != NULL)
        chan_drop_locked(s, s->chans);
    pthread_mutex_unlock(&s->streams_lock);
}

static void nap_ms(unsigned ms)
{
    struct timespec ts = {0, (long)ms * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

int srv_streams_finish(th_server *s, unsigned wait_ms)
{
    static const char why[] = "the daemon is shutting down";
    srv_stream *st, *woken[256];
    size_t nwoken = 0, i;
    uint64_t deadline = base_clock_mono_ns() + (uint64_t)wait_ms * 1000000u;
    srv_chan *c;
    int left;

    pthread_mutex_lock(&s->streams_lock);
    /* a channel still open: its actor's stop closes it, with a reason,
     * unless that stop did not end in time */
    for (c = s->chans; c != NULL; c = c->next)
        if (!c->closed && c->id_ready)
            chan_record_locked(c, c->id, TH_CHANNEL_CLOSED, (const uint8_t *)why, sizeof why - 1,
                               woken, sizeof woken / sizeof woken[0], &nwoken);
    for (st = s->streams; st != NULL; st = st->next) {
        pthread_mutex_lock(&st->lock);
        if (st->backlog)
            st->finish = true; /* ends after its stored and pending events */
        else
            st->ended = true;
        if (st->suspended && (st->out.len > 0 || st->ended) &&
            nwoken < sizeof woken / sizeof woken[0]) {
            st->suspended = false;
            woken[nwoken++] = st;
        } /* (else the reaper's next tick resumes it) */
        pthread_mutex_unlock(&st->lock);
    }
    pthread_mutex_unlock(&s->streams_lock);
    for (i = 0; i < nwoken; i++)
        wake(woken[i]);
    /* each stream's response completes once it is sent (stream_free) */
    while ((left = atomic_load(&s->nstreams)) > 0 && base_clock_mono_ns() < deadline)
        nap_ms(5);
    atomic_store(&s->chain_gone, true);
    while (atomic_load(&s->chain_reads) > 0)
        nap_ms(1);
    return left;
}
