/*
 * record.c - what the runtime writes into the event chains, and who hears
 * about it.
 *
 * Every event of an actor goes to its chain in THEATER_HOME (th_chain: the
 * event is hashed and linked in the calling thread, then stored by the
 * chain's writer thread in batched transactions).  Event data is JSON text
 * (built with rt_buf, byte strings as lowercase hex); the event types are:
 *
 *   actor-spawned     {id, name, version, manifest, parent, init_state}
 *   wasm-call         {function, params[, from]}      before an export call
 *   host-call         {interface, function, input, output}
 *   wasm-result       {function, state[, response | accepted, message]}
 *   actor-failed      {error_type, message}
 *   supervisor-action {action, strategy, trigger, children}  (parent's chain)
 *   actor-restarted   {init_state}
 *   actor-stopped     {reason, data}
 *   message-dropped / init-skipped   an optional export is absent
 *   component-updated, actor-restored  (upgrade.c, restore.c)
 *
 * th_event_types lists them all.
 *
 * Appending (hashing, linking, queueing for the chain's writer) costs a
 * fraction of a microsecond per event.  A worker appends the batch of a
 * turn itself (append_direct: hashed where its events were just written,
 * and recording scales with the workers), unless the turn handed requests
 * over (rec_handed: a round trip waits for its worker, so its events go to
 * the recorder thread on the other core) or the batch is of a few events;
 * everything else (single events, events recorded outside the actor's
 * turn, held and parked batches) is copied into an MPSC queue and the
 * recorder thread appends it in queue order.  Each actor's order holds:
 * its events are appended under its rec_lock, and a direct append is made
 * only while none of its entries wait in the queue (rec_inq; else the
 * batch is queued behind them).  Subscribers therefore hear an actor's
 * events in order, on the thread that appended them.  Wake-ups are
 * batched: a recorder with nothing to do naps (REC_NAP_NS) and is woken
 * early only when REC_NAP_WAKE_ITEMS events are waiting or someone flushes,
 * so a steady trickle of events (a request/reply, a spawn) costs no
 * thread wake-up per event; after REC_NAPS_BEFORE_SLEEP naps without work
 * it sleeps until the next event wakes it (an idle runtime does not poll).
 *
 * Batches.  The events an actor records in its own turn on a worker are
 * written in place into the worker's batch (a REC_BATCH_BYTES buffer of
 * one actor's events, recycled through a pool) and the batch is queued as
 * one entry: at the end of the turn, when it is full, when the turn's
 * actor records for another actor, or when someone flushes on that
 * worker.  So the shared queue, its counters and the actor's reference
 * are touched once per batch, not once per event, and the recorder reads
 * the events from one buffer.  Order holds: an actor's turn runs on one
 * thread at a time, and its batch is queued before the turn ends; events
 * recorded for it from elsewhere (outside its turn) are queued at once,
 * as before.  A turn that runs a nested turn (a request's hand-off,
 * turn.c) keeps its batch aside meanwhile (rec_held) and goes on filling
 * it after: the requester's events of a whole turn of round trips go as
 * one batch; the nested turn uses a second buffer (rec_nest) and queues
 * its events at its end.  Whatever queues events of the held batch's actor
 * meanwhile (an event recorded for it, a flush) queues the held batch
 * first (held_push).  The nested turn's batch is parked with its actor
 * at the nested turn's end (rec_parked, the worker keeping a reference in
 * rec_parker), and the actor's next nested turn on that worker collects
 * on in it: a server answering a turn of requests also hands its events
 * over once.  A parked batch is queued at the end of the outer turn, and
 * before anything else of its actor is queued by anyone: a turn of it
 * beginning elsewhere, an event recorded for it, a flush (parked_flush;
 * whoever takes it with an atomic exchange queues it).
 * Subscribers (th_runtime_subscribe) hear each
 * event right after it is appended (on the recorder thread or on the
 * worker that appended it); rt_record_flush waits until an actor's events
 * are appended and durable.
 *
 * Fail-stop: an effect that cannot be recorded does not happen.  When the
 * chain writer cannot store events (a full disk; it keeps them and
 * retries, th_chain_status), every host call of an actor first waits for
 * it (rt_record_ready, called by the gate in capability.c) at most the
 * runtime's record_stall_ms, then is refused and the actor stops with an
 * error that says why.  An event that could not be recorded at all (out
 * of memory, over the size limit) or not in time marks the actor
 * (rec_failed): its next host call fails the same way.  Nothing is dropped
 * with just a log line.  Data above 64 MiB is recorded by the chain by
 * content reference (docs/chain-format.md).
 *
 * An actor whose manifest says `save_chain = false` gets the same events,
 * hashed and linked the same way (th_chain_event_hash), but its chain is
 * kept in memory only (rt_memchain, at most TH_RT_MEMORY_CHAIN_BYTES; the
 * oldest events are dropped beyond that) and nothing about it is written to
 * THEATER_HOME.  Subscribers and get-chain see it as usual; it ends with
 * the actor.
 */
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

#include "base/block.h"
#include "base/clock.h"
#include "theater/chain.h"
#include "theater/store.h"
#include "runtime/rt_int.h"

typedef struct rt_sub {
    struct rt_sub *next;  /* runtime list (sublock) */
    struct rt_sub *anext; /* actor list (subs lock) */
    uint64_t id;
    th_runtime_event_fn fn;
    void *ud;
    rt_actor *actor; /* weak: the actor frees its subs */
} rt_sub;

typedef struct rec_subs {
    pthread_mutex_t lock;
    rt_sub *head;
} rec_subs;

/* Queue entries: one event (REC_ONE, rec_item), a batch of one actor's
 * events (REC_BATCH, rec_batch), or a fence (REC_FENCE, rec_fence: marks
 * when everything queued before it has been handed to the chain); all
 * start with the node and the kind. */
enum { REC_ONE = 1, REC_BATCH, REC_FENCE };

/* A fence (rt_record_flush_all, on the waiter's stack): the recorder sets
 * `passed` under its lock. */
typedef struct rec_fence {
    rt_node node; /* first */
    int kind;     /* REC_FENCE */
    bool passed;
} rec_fence;

/* One queued event. */
typedef struct rec_item {
    rt_node node;     /* first */
    int kind;         /* REC_ONE */
    rt_actor *a;      /* reference */
    const char *type; /* static */
    uint64_t seq;     /* the actor's rec_queued for it */
    size_t len;
    uint8_t data[];
} rec_item;

/* An event in a batch: `len` bytes of data after it, the next event at
 * the following multiple of 8. */
typedef struct rec_ev {
    const char *type; /* static */
    size_t len;
    uint8_t data[];
} rec_ev;

typedef struct rec_batch {
    rt_node node;            /* first */
    int kind;                /* REC_BATCH */
    rt_actor *a;             /* reference */
    struct rec_batch *pnext; /* the recorder's pool of idle batches */
    uint64_t first_seq;      /* the actor's rec_queued of its first event */
    uint32_t count;          /* events */
    size_t used;             /* bytes of ev[] in use */
    _Alignas(8) uint8_t ev[];
} rec_batch;

#define REC_BATCH_BYTES (16u * 1024u) /* a batch's allocation */
#define REC_BATCH_CAP (REC_BATCH_BYTES - sizeof(rec_batch))
#define REC_BATCH_POOL 64u /* idle batches kept for reuse */
#define REC_BATCH_FEW 4u   /* a batch of at most this many events is queued event by event */
#define REC_EV_SIZE(len) ((sizeof(rec_ev) + (len) + 7u) & ~(size_t)7u)

#define REC_NAP_NS 1000000u       /* a napping recorder looks again after this */
#define REC_NAP_WAKE_ITEMS 256u   /* ...or is woken when this many events wait */
#define REC_NAPS_BEFORE_SLEEP 50u /* naps without work before sleeping until woken */
/* A producer held back by a full queue (TH_RT_RECORD_QUEUE_BYTES) goes on
 * once the queue is down to this: one sleep while the recorder drains a
 * quarter of it, not a wake-up every few microseconds to look again. */
#define REC_ROOM_BYTES (TH_RT_RECORD_QUEUE_BYTES / 4u * 3u)

enum { REC_AWAKE = 0, REC_NAPPING, REC_SLEEPING };

typedef struct rt_recorder {
    rt_runtime *rt;
    pthread_t thread;
    rt_mpsc q;
    pthread_mutex_t lock;
    pthread_cond_t wake; /* the recorder sleeps here */
    pthread_cond_t done; /* flushers wait here */
    pthread_cond_t room; /* producers held back by a full queue wait here */
    atomic_int held;     /* how many */
    atomic_int state;    /* REC_AWAKE, REC_NAPPING, REC_SLEEPING */
    atomic_bool stop;
    atomic_int flushers;
    atomic_size_t bytes;  /* queued, for back-pressure */
    atomic_size_t events; /* queued (a batch counts its events), for wake-ups */
    bool started;
    pthread_mutex_t plock; /* the pool of idle batches */
    rec_batch *pool;
    unsigned npool;
} rt_recorder;

static void notify(rt_actor *a, const char *type, const uint8_t *data, size_t len,
                   const th_chain_receipt *r);

/* ------------------------------------------------------------------ */
/* In-memory chains (save_chain = false)                              */

typedef struct mem_event {
    struct mem_event *next;
    uint8_t hash[32];
    uint8_t parent[32];
    bool has_parent;
    uint64_t ts;
    const char *type; /* static */
    size_t len;
    uint8_t data[];
} mem_event;

typedef struct rt_memchain {
    pthread_mutex_t lock; /* the list; appended by the recorder thread only */
    mem_event *head, *tail;
    size_t bytes;
    uint64_t next_seq;
    bool dropped; /* events were dropped (logged once) */
} rt_memchain;

/* The actor's in-memory chain, created on its first event (recorder
 * thread); NULL on allocation failure. */
static rt_memchain *memchain_get(rt_actor *a)
{
    rt_memchain *m = atomic_load_explicit(&a->memchain, memory_order_acquire);

    if (m != NULL)
        return m;
    m = calloc(1, sizeof *m);
    if (m == NULL)
        return NULL;
    pthread_mutex_init(&m->lock, NULL);
    atomic_store_explicit(&a->memchain, m, memory_order_release);
    return m;
}

static int memchain_append(rt_actor *a, const char *type, const uint8_t *data, size_t len,
                           th_chain_receipt *r, th_error *err)
{
    rt_memchain *m = memchain_get(a);
    mem_event *e, *old;
    int rc;

    if (m == NULL || (e = malloc(sizeof *e + len)) == NULL)
        return th_error_set(err, TH_ENOMEM, "out of memory");
    e->next = NULL;
    e->has_parent = m->tail != NULL;
    if (e->has_parent)
        memcpy(e->parent, m->tail->hash, 32);
    e->ts = rt_wall_ms();
    e->type = type;
    e->len = len;
    if (len)
        memcpy(e->data, data, len);
    rc = th_chain_event_hash(e->has_parent ? e->parent : NULL, e->ts, type, e->data, len, NULL,
                             e->hash, err);
    if (rc != 0) {
        free(e);
        return rc;
    }
    pthread_mutex_lock(&m->lock);
    if (m->tail != NULL)
        m->tail->next = e;
    else
        m->head = e;
    m->tail = e;
    m->bytes += sizeof *e + len;
    r->seq = m->next_seq++;
    while (m->bytes > TH_RT_MEMORY_CHAIN_BYTES && m->head != m->tail) {
        old = m->head;
        m->head = old->next;
        m->bytes -= sizeof *old + old->len;
        free(old);
        if (!m->dropped) {
            m->dropped = true;
            rt_log(a->rt, a->id, a->spec->name,
                   "in-memory chain (save_chain = false) is over %u bytes: oldest events dropped",
                   TH_RT_MEMORY_CHAIN_BYTES);
        }
    }
    pthread_mutex_unlock(&m->lock);
    r->timestamp_ms = e->ts;
    memcpy(r->hash, e->hash, 32);
    r->ticket = 0;
    return 0;
}

static int memchain_each(rt_memchain *m, rt_event_visit fn, void *ud)
{
    mem_event *e;
    int rc = 0;

    pthread_mutex_lock(&m->lock);
    for (e = m->head; e != NULL && rc == 0; e = e->next)
        rc = fn(ud, e->hash, e->has_parent ? e->parent : NULL, e->type, e->data, e->len, e->ts,
                NULL);
    pthread_mutex_unlock(&m->lock);
    return rc;
}

/* Copy one event into the list being built (items own their bytes). */
static int memchain_copy(th_chain_events *out, size_t *cap, const char *actor, uint64_t seq,
                         const mem_event *e)
{
    th_chain_event *it;

    if (out->count == *cap) {
        size_t nc = *cap ? 2 * *cap : 16;
        void *nv = realloc(out->items, nc * sizeof *out->items);
        if (nv == NULL)
            return TH_ENOMEM;
        out->items = nv;
        *cap = nc;
    }
    it = &out->items[out->count];
    memset(it, 0, sizeof *it);
    it->seq = seq;
    memcpy(it->hash, e->hash, 32);
    it->has_parent = e->has_parent;
    if (e->has_parent)
        memcpy(it->parent, e->parent, 32);
    it->timestamp_ms = e->ts;
    it->data_len = e->len;
    it->actor = strdup(actor);
    it->type = strdup(e->type);
    it->data = malloc(e->len ? e->len : 1);
    if (it->actor == NULL || it->type == NULL || it->data == NULL) {
        free((void *)it->actor);
        free((void *)it->type);
        free((void *)it->data);
        return TH_ENOMEM;
    }
    if (e->len)
        memcpy((void *)it->data, e->data, e->len);
    out->count++;
    return 0;
}

int rt_record_memory_read(rt_actor *a, const th_chain_query *q, th_chain_events *out, th_error *err)
{
    rt_memchain *m;
    const mem_event *e;
    uint64_t seq, first, skip = 0, n = 0;
    size_t cap = 0;
    int rc;

    memset(out, 0, sizeof *out);
    if (a->spec->save_chain)
        return th_error_set(err, TH_EINVAL, "the chain of %s is stored, not kept in memory", a->id);
    if ((rc = rt_record_flush(a, err)) != 0)
        return rc;
    m = atomic_load_explicit(&a->memchain, memory_order_acquire);
    if (m == NULL)
        return 0;
    pthread_mutex_lock(&m->lock);
    /* the kept events are the newest: seq next_seq - count .. next_seq - 1 */
    for (e = m->head, first = m->next_seq; e != NULL; e = e->next)
        first--;
    if (q->newest && q->limit > 0) { /* how many matches to pass over */
        for (e = m->head, seq = first; e != NULL; e = e->next, seq++)
            if (seq >= q->from_seq && (q->to_seq == 0 || seq < q->to_seq) &&
                (q->type == NULL || strcmp(q->type, e->type) == 0))
                n++;
        skip = n > q->limit ? n - q->limit : 0;
    }
    rc = 0;
    for (e = m->head, seq = first; e != NULL && rc == 0; e = e->next, seq++) {
        if (seq < q->from_seq || (q->to_seq != 0 && seq >= q->to_seq) ||
            (q->type != NULL && strcmp(q->type, e->type) != 0))
            continue;
        if (skip > 0) {
            skip--;
            continue;
        }
        if (q->limit > 0 && out->count >= q->limit)
            break;
        rc = memchain_copy(out, &cap, a->id, seq, e);
    }
    pthread_mutex_unlock(&m->lock);
    if (rc != 0) {
        th_chain_events_free(out);
        return th_error_set(err, rc, "out of memory reading the chain");
    }
    return 0;
}

static void memchain_free(rt_memchain *m)
{
    mem_event *e, *next;

    if (m == NULL)
        return;
    for (e = m->head; e != NULL; e = next) {
        next = e->next;
        free(e);
    }
    pthread_mutex_destroy(&m->lock);
    free(m);
}

/* ------------------------------------------------------------------ */
/* Fail-stop: an effect that cannot be recorded does not happen          */

/* Note that an event of `a` could not be recorded (in time): from now on
 * every host call of the actor fails (rt_record_ready), so it stops with
 * this error instead of acting unrecorded.  The first reason is kept. */
#define RT_REC_ERROR_MAX 256 /* bytes of the reason, with its NUL */
/* the reason when there is no memory for it (not freed) */
static char rec_error_oom[] = "events cannot be recorded (out of memory saying why)";

static void record_failed(rt_actor *a, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void record_failed(rt_actor *a, int code, const char *fmt, ...)
{
    int expected = 0;
    char *why;
    va_list ap;

    if (!atomic_compare_exchange_strong(&a->rec_failed, &expected, 1))
        return;
    if ((why = malloc(RT_REC_ERROR_MAX)) != NULL) {
        va_start(ap, fmt);
        vsnprintf(why, RT_REC_ERROR_MAX, fmt, ap);
        va_end(ap);
    }
    a->rec_error = why != NULL ? why : rec_error_oom;
    atomic_store(&a->rec_failed,
                 code == TH_ENOMEM || why == NULL ? RT_REC_FAILED_NOMEM : RT_REC_FAILED);
    rt_log(a->rt, a->id, a->spec ? a->spec->name : NULL, "%s", a->rec_error);
}

/* While the chain writer is stalled (it keeps events and retries), wait
 * for it at most the runtime's record_stall_ms.  0 once it is healthy,
 * else TH_EIO with the writer's reason. */
static int stall_wait(rt_runtime *rt, th_error *err)
{
    uint64_t start = rt_now_ns(), limit = (uint64_t)rt->record_stall_ms * 1000000u;
    struct timespec ts = {0, 10 * 1000 * 1000};
    th_chain_status st;

    while (!th_chain_healthy(rt->chain)) {
        if (rt_now_ns() - start >= limit) {
            th_chain_status_get(rt->chain, &st);
            return th_error_set(err, TH_EIO,
                                "events cannot be recorded: the chain writer %s (waited %u ms): %s",
                                st.failed ? "failed" : "cannot store events", rt->record_stall_ms,
                                st.message[0] ? st.message : "unknown error");
        }
        nanosleep(&ts, NULL);
    }
    return 0;
}

/* 1 if the actor's events go to the chain writer (not kept in memory). */
static bool on_disk(const rt_actor *a)
{
    return a->spec != NULL && a->spec->save_chain && a->rt->chain != NULL;
}

int rt_record_failure(const rt_actor *a)
{
    int f = atomic_load(&a->rec_failed);
    return f == RT_REC_FAILED_NOMEM ? TH_ENOMEM : f == RT_REC_FAILED ? TH_EIO : 0;
}

int rt_record_ready(rt_actor *a, th_error *err)
{
    int rc;

    if (a->replay != NULL)
        return 0;
    if ((rc = rt_record_failure(a)) != 0)
        return th_error_set(err, rc, "%s", a->rec_error);
    if (!on_disk(a) || th_chain_healthy(a->rt->chain))
        return 0;
    if (stall_wait(a->rt, err) == 0)
        return 0;
    record_failed(a, TH_EIO, "%s", err->msg);
    return TH_EIO;
}

static void append_now(rt_actor *a, const char *type, const uint8_t *data, size_t len)
{
    th_chain_receipt r;
    th_error err;
    int rc;

    th_error_clear(&err);
    if (!a->spec->save_chain)
        rc = memchain_append(a, type, data, len, &r, &err);
    else
        rc = th_chain_append(a->rt->chain, a->id, type, data, len, NULL, &r, &err);
    if (rc != 0) {
        /* not silently: the actor stops (its host calls fail from now on) */
        record_failed(a, rc, "event %s (%zu bytes) could not be recorded: %s; stopping the actor",
                      type, len, err.msg);
        notify(a, type, data, len, NULL);
        return;
    }
    if (r.ticket != 0)
        atomic_store(&a->last_ticket, r.ticket);
    notify(a, type, data, len, &r);
}

/* Wake the recorder if it sleeps, or if it naps and `urgent` (events pile
 * up, someone waits for them). */
static void rec_poke(rt_recorder *rec, bool urgent)
{
    int st = atomic_load(&rec->state);

    if (st == REC_SLEEPING || (st == REC_NAPPING && urgent)) {
        pthread_mutex_lock(&rec->lock);
        pthread_cond_signal(&rec->wake);
        pthread_mutex_unlock(&rec->lock);
    }
}

/* Give a batch back to the pool (or free it). */
static void batch_put(rt_recorder *rec, rec_batch *b)
{
    pthread_mutex_lock(&rec->plock);
    if (rec->npool < REC_BATCH_POOL) {
        b->pnext = rec->pool;
        rec->pool = b;
        rec->npool++;
        b = NULL;
    }
    pthread_mutex_unlock(&rec->plock);
    free(b);
}

/* An idle batch from the pool (or a new one), or NULL if out of memory. */
static rec_batch *batch_get(rt_recorder *rec)
{
    rec_batch *b;

    pthread_mutex_lock(&rec->plock);
    if ((b = rec->pool) != NULL) {
        rec->pool = b->pnext;
        rec->npool--;
    }
    pthread_mutex_unlock(&rec->plock);
    if (b == NULL && (b = malloc(REC_BATCH_BYTES)) == NULL)
        return NULL;
    b->kind = REC_BATCH;
    b->count = 0;
    b->used = 0;
    return b;
}

#define REC_APPEND_MAX 128u /* events per th_chain_append_many */

/* Append `count` events of `a` laid out as in a batch (`ev`; the actor's
 * rec_queued of the first is `first_seq`) to its chain, in the calling
 * thread: to THEATER_HOME up to REC_APPEND_MAX at a time (the chain's
 * locks taken once for them), or to its in-memory chain; and tell the
 * subscribers of each.  Called with a->rec_lock held (the recorder thread,
 * or a worker appending its own batch): an actor's events are appended and
 * heard by one thread at a time, in order. */
static void append_evs(rt_actor *a, const uint8_t *evbuf, uint32_t count, uint64_t first_seq)
{
    th_chain_item items[REC_APPEND_MAX];
    th_chain_receipt r[REC_APPEND_MAX];
    const rec_ev *ev[REC_APPEND_MAX];
    size_t off = 0, k, n;
    uint32_t i = 0;
    th_error err;
    int rc;

    if (!on_disk(a)) {
        for (i = 0; i < count; i++) {
            const rec_ev *e = (const rec_ev *)(evbuf + off);
            append_now(a, e->type, e->data, e->len);
            atomic_store(&a->rec_done, first_seq + i);
            off += REC_EV_SIZE(e->len);
        }
        return;
    }
    while (i < count) {
        for (n = 0; n < REC_APPEND_MAX && i + n < count; n++) {
            const rec_ev *e = (const rec_ev *)(evbuf + off);
            ev[n] = e;
            items[n].type = e->type;
            items[n].data = e->data;
            items[n].len = e->len;
            off += REC_EV_SIZE(e->len);
        }
        th_error_clear(&err);
        rc = th_chain_append_many(a->rt->chain, a->id, items, n, r, &err);
        if (rc == 0) /* before rec_done: a flusher then waits for this ticket */
            atomic_store(&a->last_ticket, r[n - 1].ticket);
        for (k = 0; k < n; k++) {
            if (rc != 0) {
                record_failed(a, rc,
                              "event %s (%zu bytes) could not be recorded: %s; stopping the "
                              "actor",
                              ev[k]->type, ev[k]->len, err.msg);
                notify(a, ev[k]->type, ev[k]->data, ev[k]->len, NULL);
            } else {
                notify(a, ev[k]->type, ev[k]->data, ev[k]->len, &r[k]);
            }
        }
        /* once for the n events: the actor's line is not written per event
         * (the worker adds to rec_queued on the same line) */
        atomic_store(&a->rec_done, first_seq + i + n - 1);
        i += (uint32_t)n;
    }
}

/* Wake whoever waits in rt_record_flush for events appended by now. */
static void wake_flushers(rt_recorder *rec)
{
    if (atomic_load(&rec->flushers) > 0) {
        pthread_mutex_lock(&rec->lock);
        pthread_cond_broadcast(&rec->done);
        pthread_mutex_unlock(&rec->lock);
    }
}

/* Append the batch `b` in the calling thread (a worker, at the end of a
 * turn), hashing where its events were written, if nothing of its actor
 * waits in the recorder's queue: true then (b keeps its events and its
 * reference, for the caller to reuse or give back).  False if the actor
 * has entries queued: b must go behind them (the caller queues it). */
static bool append_direct(rt_recorder *rec, rec_batch *b)
{
    rt_actor *a = b->a;

    pthread_mutex_lock(&a->rec_lock);
    if (atomic_load(&a->rec_inq) != 0) {
        pthread_mutex_unlock(&a->rec_lock);
        return false;
    }
    append_evs(a, b->ev, b->count, b->first_seq);
    pthread_mutex_unlock(&a->rec_lock);
    wake_flushers(rec);
    return true;
}

/* Hand a queue entry of `a` to the recorder (it counts in a->rec_inq until
 * appended). */
static void rec_enqueue(rt_recorder *rec, rt_actor *a, rt_node *n)
{
    atomic_fetch_add(&a->rec_inq, 1);
    rt_mpsc_push(&rec->q, n);
}

/* Recorder thread: append the events of one queue entry. */
static void rec_consume(rt_recorder *rec, rt_node *n)
{
    rec_item *it = (rec_item *)n;
    rec_batch *b = (rec_batch *)n;

    if (it->kind == REC_FENCE) {
        pthread_mutex_lock(&rec->lock);
        ((rec_fence *)n)->passed = true; /* the waiter's: not touched after */
        pthread_cond_broadcast(&rec->done);
        pthread_mutex_unlock(&rec->lock);
        return;
    }
    if (it->kind == REC_ONE) {
        pthread_mutex_lock(&it->a->rec_lock);
        append_now(it->a, it->type, it->data, it->len);
        atomic_store(&it->a->rec_done, it->seq);
        atomic_fetch_sub(&it->a->rec_inq, 1);
        pthread_mutex_unlock(&it->a->rec_lock);
        atomic_fetch_sub(&rec->bytes, sizeof *it + it->len);
        atomic_fetch_sub(&rec->events, 1);
        rt_actor_release(it->a);
        base_block_free(it, sizeof *it + it->len);
        return;
    }
    pthread_mutex_lock(&b->a->rec_lock);
    append_evs(b->a, b->ev, b->count, b->first_seq);
    atomic_fetch_sub(&b->a->rec_inq, 1);
    pthread_mutex_unlock(&b->a->rec_lock);
    atomic_fetch_sub(&rec->bytes, REC_BATCH_BYTES);
    atomic_fetch_sub(&rec->events, b->count);
    rt_actor_release(b->a);
    batch_put(rec, b);
}

static void *recorder_main(void *arg)
{
    rt_recorder *rec = arg;
    rt_node *n;
    unsigned naps = 0;
    struct timespec ts;
    uint64_t t;
    int st;

    prctl(PR_SET_NAME, "th-recorder", 0, 0, 0); /* per-thread CPU (runtime_bench, top -H) */
    for (;;) {
        if ((n = rt_mpsc_pop(&rec->q)) != NULL) {
            rec_consume(rec, n);
            naps = 0;
            if (atomic_load(&rec->held) > 0 && atomic_load(&rec->bytes) <= REC_ROOM_BYTES) {
                pthread_mutex_lock(&rec->lock);
                pthread_cond_broadcast(&rec->room);
                pthread_mutex_unlock(&rec->lock);
            }
            wake_flushers(rec);
            continue;
        }
        if (rt_mpsc_count(&rec->q) > 0) { /* a push is half-done */
            sched_yield();
            continue;
        }
        if (atomic_load(&rec->stop))
            break;
        pthread_mutex_lock(&rec->lock);
        st = naps < REC_NAPS_BEFORE_SLEEP ? REC_NAPPING : REC_SLEEPING;
        /* the state is published before the queue is looked at again; a
         * producer pushes before it reads the state (both seq_cst) */
        atomic_store(&rec->state, st);
        if (rt_mpsc_count(&rec->q) == 0 && !atomic_load(&rec->stop)) {
            if (st == REC_NAPPING) {
                t = rt_now_ns() + REC_NAP_NS;
                ts.tv_sec = (time_t)(t / 1000000000u);
                ts.tv_nsec = (long)(t % 1000000000u);
                pthread_cond_timedwait(&rec->wake, &rec->lock, &ts);
            } else {
                pthread_cond_wait(&rec->wake, &rec->lock);
            }
        }
        atomic_store(&rec->state, REC_AWAKE);
        pthread_mutex_unlock(&rec->lock);
        naps++;
    }
    return NULL;
}

static int recorder_start(rt_runtime *rt, th_error *err)
{
    rt_recorder *rec = calloc(1, sizeof *rec);
    pthread_condattr_t ca;

    if (rec == NULL)
        return th_error_set(err, TH_ENOMEM, "out of memory");
    rec->rt = rt;
    rt_mpsc_init(&rec->q);
    pthread_mutex_init(&rec->lock, NULL);
    pthread_mutex_init(&rec->plock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* naps are timed by rt_now_ns */
    pthread_cond_init(&rec->wake, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&rec->done, NULL);
    pthread_cond_init(&rec->room, NULL);
    atomic_init(&rec->held, 0);
    atomic_init(&rec->state, REC_AWAKE);
    atomic_init(&rec->stop, false);
    atomic_init(&rec->flushers, 0);
    atomic_init(&rec->bytes, 0);
    atomic_init(&rec->events, 0);
    if (pthread_create(&rec->thread, NULL, recorder_main, rec) != 0) {
        free(rec);
        return th_error_set(err, TH_ENOMEM, "cannot start the recorder thread");
    }
    rec->started = true;
    rt->recorder = rec;
    return 0;
}

/* Append everything queued, then stop the thread. */
static void recorder_stop(rt_runtime *rt)
{
    rt_recorder *rec = rt->recorder;

    if (rec == NULL)
        return;
    pthread_mutex_lock(&rec->lock);
    atomic_store(&rec->stop, true);
    pthread_cond_signal(&rec->wake);
    pthread_cond_broadcast(&rec->room);
    pthread_mutex_unlock(&rec->lock);
    pthread_join(rec->thread, NULL);
    while (rec->pool != NULL) {
        rec_batch *b = rec->pool;
        rec->pool = b->pnext;
        free(b);
    }
    pthread_mutex_destroy(&rec->plock);
    pthread_mutex_destroy(&rec->lock);
    pthread_cond_destroy(&rec->wake);
    pthread_cond_destroy(&rec->done);
    pthread_cond_destroy(&rec->room);
    free(rec);
    rt->recorder = NULL;
}

int rt_record_start(rt_runtime *rt, th_error *err)
{
    th_chain_config cc;
    th_store_config sc;
    int rc;

    memset(&cc, 0, sizeof cc);
    cc.home = rt->home;
    cc.sync_normal = 0; /* every commit fsync'ed: chains survive power loss too */
    rc = th_chain_open(&cc, &rt->chain, err);
    if (rc != 0)
        return th_error_prefix(err, "opening the event chains");
    memset(&sc, 0, sizeof sc);
    sc.home = rt->home;
    rc = th_store_open(&sc, &rt->store, err);
    if (rc != 0) {
        th_chain_close(rt->chain);
        rt->chain = NULL;
        return th_error_prefix(err, "opening the store");
    }
    if ((rc = recorder_start(rt, err)) != 0) {
        th_store_close(rt->store);
        th_chain_close(rt->chain);
        rt->store = NULL;
        rt->chain = NULL;
    }
    return rc;
}

int rt_record_stop(rt_runtime *rt, th_error *err)
{
    int rc = 0;

    recorder_stop(rt);
    if (rt->chain != NULL) {
        rc = th_chain_close(rt->chain);
        if (rc != 0)
            th_error_set(err, rc, "the chain writer failed: some events were not stored");
        rt->chain = NULL;
    }
    th_store_close(rt->store);
    rt->store = NULL;
    return rc;
}

static void notify(rt_actor *a, const char *type, const uint8_t *data, size_t len,
                   const th_chain_receipt *r)
{
    rec_subs *s = atomic_load_explicit(&a->subs, memory_order_acquire);
    th_runtime_event ev;
    uint8_t parent[32];
    bool has_parent = a->has_last_hash;
    rt_sub *x;

    /* appended under a->rec_lock, by one thread at a time: the last hash is
     * the parent */
    if (has_parent)
        memcpy(parent, a->last_hash, sizeof parent);
    if (r != NULL) {
        memcpy(a->last_hash, r->hash, sizeof a->last_hash);
        a->has_last_hash = true;
    }
    if (s == NULL && a->rt->event_fn == NULL)
        return;
    ev.actor_id = a->id;
    ev.type = type;
    ev.data = data;
    ev.data_len = len;
    ev.timestamp_ms = r ? r->timestamp_ms : rt_wall_ms();
    ev.hash = r ? r->hash : NULL;
    ev.seq = r ? r->seq : UINT64_MAX;
    ev.parent_hash = has_parent ? parent : NULL;
    if (a->rt->event_fn != NULL)
        a->rt->event_fn(a->rt->event_ud, &ev);
    if (s == NULL)
        return;
    pthread_mutex_lock(&s->lock);
    for (x = s->head; x != NULL; x = x->anext)
        x->fn(x->ud, &ev);
    pthread_mutex_unlock(&s->lock);
}

/* Wait (at most 10 ms at a time) until the recorder has made room
 * (REC_ROOM_BYTES) or stops. */
static void rec_wait_room(rt_recorder *rec)
{
    struct timespec ts = base_clock_wall_deadline(10000000u);

    pthread_mutex_lock(&rec->lock);
    atomic_fetch_add(&rec->held, 1);
    /* the recorder is woken in case it naps (it wakes us once it drained) */
    if (atomic_load(&rec->state) != REC_AWAKE)
        pthread_cond_signal(&rec->wake);
    if (atomic_load(&rec->bytes) > REC_ROOM_BYTES && !atomic_load(&rec->stop))
        pthread_cond_timedwait(&rec->room, &rec->lock, &ts);
    atomic_fetch_sub(&rec->held, 1);
    pthread_mutex_unlock(&rec->lock);
}

/* Back-pressure: recording may not fall behind without bound; behind a
 * stalled writer the wait is bounded like stall_wait's. */
static void rec_backpressure(rt_recorder *rec, rt_actor *a)
{
    uint64_t since = 0;

    while (atomic_load(&rec->bytes) > TH_RT_RECORD_QUEUE_BYTES && !atomic_load(&rec->stop)) {
        struct timespec ts = {0, 50000};
        if (!on_disk(a) || th_chain_healthy(a->rt->chain)) {
            since = 0;
            rec_wait_room(rec);
            continue;
        }
        /* behind a stalled writer: look again every 50 us, bounded */
        if (since == 0) {
            since = rt_now_ns();
        } else if (rt_now_ns() - since >= (uint64_t)a->rt->record_stall_ms * 1000000u) {
            record_failed(a, TH_EIO,
                          "events cannot be recorded: the chain writer cannot store "
                          "events (waited %u ms); stopping the actor",
                          a->rt->record_stall_ms);
            break;
        }
        rec_poke(rec, true);
        nanosleep(&ts, NULL);
    }
}

/* Queue one event alone (the actor's rec_queued `seq`).  On failure the
 * actor is marked (record_failed). */
static void push_one(rt_recorder *rec, rt_actor *a, const char *type, const uint8_t *data,
                     size_t len, uint64_t seq)
{
    rec_item *it = base_block_alloc(sizeof *it + len); /* freed by the recorder thread */

    if (it == NULL) {
        record_failed(a, TH_ENOMEM, "event %s could not be recorded: out of memory", type);
        return;
    }
    rt_actor_ref(a);
    it->kind = REC_ONE;
    it->a = a;
    it->type = type;
    it->seq = seq;
    it->len = len;
    if (len)
        memcpy(it->data, data, len);
    atomic_fetch_add(&rec->bytes, sizeof *it + len);
    atomic_fetch_add(&rec->events, 1);
    rec_enqueue(rec, a, &it->node);
    rec_poke(rec, atomic_load(&rec->events) >= REC_NAP_WAKE_ITEMS ||
                      atomic_load(&rec->bytes) > TH_RT_RECORD_QUEUE_BYTES / 2);
}

/* Hand a whole batch to the recorder (its worker, or any thread that took
 * it from where it was parked). */
static void batch_queue(rec_batch *b)
{
    rt_recorder *rec = b->a->rt->recorder;
    size_t n;

    atomic_fetch_add(&rec->bytes, REC_BATCH_BYTES);
    n = atomic_fetch_add(&rec->events, b->count) + b->count;
    rec_enqueue(rec, b->a, &b->node); /* the recorder owns b (and its reference) now */
    rec_poke(rec,
             n >= REC_NAP_WAKE_ITEMS || atomic_load(&rec->bytes) > TH_RT_RECORD_QUEUE_BYTES / 2);
}

/* Queue what the worker's batch holds.  A few events (a short turn, as in
 * a request/reply) go one by one; more are appended by the worker itself
 * (append_direct), as are the few last events of `last` (an actor that
 * has just ended: rt_record_push), and the worker keeps the buffer for its
 * next turn in both cases; the batch itself is queued if the turn handed
 * requests over or the actor has entries queued.  The batch's actor is the
 * turn's, which the turn keeps alive. */
static void batch_push_as(rt_worker *w, const rt_actor *last)
{
    rec_batch *b = w->rec_batch;
    rt_recorder *rec;
    rt_actor *a;
    size_t off = 0;
    uint32_t i;

    if (b == NULL || b->count == 0)
        return;
    a = b->a;
    rec = a->rt->recorder;
    if (b->count <= REC_BATCH_FEW && a != last) {
        for (i = 0; i < b->count; i++) {
            const rec_ev *e = (const rec_ev *)(b->ev + off);
            push_one(rec, a, e->type, e->data, e->len, b->first_seq + i);
            off += REC_EV_SIZE(e->len);
        }
    } else if (w->rec_handed || !append_direct(rec, b)) {
        w->rec_batch = NULL;
        batch_queue(b); /* the recorder owns b (and its reference) now */
        rec_backpressure(rec, a);
        return;
    }
    b->count = 0; /* the worker keeps the buffer */
    b->used = 0;
    b->a = NULL;
    rt_actor_release(a); /* the turn holds its own */
    rec_backpressure(rec, a);
}

static void batch_push(rt_worker *w)
{
    batch_push_as(w, NULL);
}

/* Write the event into the worker's batch for `a` (a new one if it has
 * none, or one of another actor, or a full one); with `data` NULL, only
 * make room for its `len` bytes, which the caller writes before the batch
 * is pushed (by its own worker: at the end of the turn at the earliest).
 * Returns where the data is, or NULL if no batch could be had (out of
 * memory): the caller queues the event alone. */
static uint8_t *batch_add(rt_worker *w, rt_recorder *rec, rt_actor *a, const char *type,
                          const uint8_t *data, size_t len)
{
    rec_batch *b = w->rec_batch;
    size_t need = REC_EV_SIZE(len);
    uint64_t seq;
    rec_ev *e;

    if (b != NULL && b->count > 0 && (b->a != a || b->used + need > REC_BATCH_CAP)) {
        batch_push(w);
        b = w->rec_batch; /* kept (emptied) or NULL */
    }
    if (b == NULL) {
        if ((b = batch_get(rec)) == NULL)
            return NULL;
        w->rec_batch = b;
    }
    if (b->count == 0) {
        rt_actor_ref(a);
        b->a = a;
    }
    e = (rec_ev *)(b->ev + b->used);
    e->type = type;
    e->len = len;
    if (len && data != NULL)
        memcpy(e->data, data, len);
    seq = atomic_fetch_add_explicit(&a->rec_queued, 1, memory_order_relaxed) + 1;
    if (b->count == 0)
        b->first_seq = seq;
    b->count++;
    b->used += need;
    return e->data;
}

void rt_record_worker_done(rt_worker *w)
{
    free(w->rec_batch); /* empty: every turn queued its events */
    free(w->rec_held);
    free(w->rec_nest);
    w->rec_batch = w->rec_held = w->rec_nest = NULL;
}

/* Queue the batch the worker holds for the outer turn while a nested turn
 * runs, if it has events of `a`: they go before any later event of a. */
static void held_push(rt_worker *w, rt_actor *a)
{
    rec_batch *cur;

    if (w->rec_held == NULL || w->rec_held->count == 0 || w->rec_held->a != a)
        return;
    cur = w->rec_batch;
    w->rec_batch = w->rec_held;
    batch_push(w);
    w->rec_held = w->rec_batch; /* kept (emptied) or NULL */
    w->rec_batch = cur;
}

void rt_record_nest_begin(rt_actor *a)
{
    rt_worker *w = rt_sched_self();

    if (w == NULL)
        return;
    /* a durable actor's events are queued at once, as at a turn's end
     * (its commit points wait for them) */
    if (a->durable)
        batch_push(w);
    w->rec_handed = true;
    w->rec_held = w->rec_batch;
    w->rec_batch = w->rec_nest;
    w->rec_nest = NULL;
    w->turn_actor = NULL;
}

void rt_record_nest_end(rt_actor *a)
{
    rt_worker *w = rt_sched_self();

    if (w == NULL)
        return;
    batch_push(w); /* empty: the nested turn queued its events at its end */
    w->rec_nest = w->rec_batch;
    w->rec_batch = w->rec_held;
    w->rec_held = NULL;
    if (w->rt == a->rt)
        w->turn_actor = a;
}

/* Queue the batch of `a`'s nested turns parked by a worker, if there is
 * one: before any later event of a is queued (a turn of a begins, an event
 * is recorded for a elsewhere, a flush). */
static void parked_flush(rt_actor *a)
{
    rec_batch *b;

    if (atomic_load(&a->rec_parked) != NULL && (b = atomic_exchange(&a->rec_parked, NULL)) != NULL)
        batch_queue(b);
}

/* Queue every event of `a` recorded so far but not yet queued: the batch
 * of worker `w` (if any; appended by w itself, however few, if it is the
 * batch of `last`: batch_push_as), a's events it holds while a nested
 * turn runs, and a's parked batch.  Whatever queues an event of a, or
 * waits for its events, calls this first, so that a's events keep their
 * order. */
static void queue_pending_as(rt_worker *w, rt_actor *a, const rt_actor *last)
{
    if (w != NULL) {
        batch_push_as(w, last);
        held_push(w, a);
    }
    parked_flush(a);
}

static void queue_pending(rt_worker *w, rt_actor *a)
{
    queue_pending_as(w, a, NULL);
}

/* The worker's parked batch queued (if nobody took it meanwhile). */
static void parker_release(rt_worker *w)
{
    rt_actor *a = w->rec_parker;

    if (a == NULL)
        return;
    w->rec_parker = NULL;
    parked_flush(a);
    rec_backpressure(a->rt->recorder, a);
    rt_actor_release(a);
}

void rt_record_turn_begin(rt_actor *a)
{
    rt_worker *w = rt_sched_self();
    rec_batch *b;

    if (w != NULL && w->rt == a->rt && w->rec_parker == a && w->rec_batch == NULL &&
        (b = atomic_exchange(&a->rec_parked, NULL)) != NULL) {
        w->rec_batch = b; /* the next nested turn of a collects on in it */
    } else {
        parked_flush(a);
    }
    if (w != NULL && w->rt == a->rt)
        w->turn_actor = a;
}

void rt_record_turn_end(rt_actor *a)
{
    rt_worker *w = rt_sched_self();
    rec_batch *b;

    if (w == NULL)
        return;
    b = w->rec_batch;
    if (w->nested > 0 && b != NULL && b->count > 0 && b->a == a && !a->durable && w->rt == a->rt) {
        /* A nested turn (a hand-off): its events are parked with the
         * actor, and its next nested turn here collects on in the same
         * batch; the batch is queued at the end of the outer turn, or as
         * soon as anything else needs a's events in order (parked_flush). */
        if (w->rec_parker != a) {
            parker_release(w);
            rt_actor_ref(a);
            w->rec_parker = a;
        }
        w->rec_batch = NULL;
        atomic_store(&a->rec_parked, b);
    } else {
        batch_push(w);
        if (w->nested == 0)
            parker_release(w);
    }
    if (w->nested == 0)
        w->rec_handed = false;
    w->turn_actor = NULL;
}

void rt_record_held_call(rt_actor *a)
{
    if (a->op != NULL && a->op->call_rec.data != NULL) {
        rt_buf call = a->op->call_rec;
        memset(&a->op->call_rec, 0, sizeof a->op->call_rec);
        rt_record_buf(a, "wasm-call", &call);
    }
}

void rt_record(rt_actor *a, const char *type, const uint8_t *data, size_t len)
{
    rt_recorder *rec = a->rt->recorder;
    rt_worker *w;

    rt_record_held_call(a);
    if (a->replay != NULL) {
        rt_replay_event(a, type, data, len);
        return;
    }
    if (rec == NULL || atomic_load(&rec->stop)) {
        record_failed(a, TH_EIO, "event %s could not be recorded: the runtime is shutting down",
                      type);
        return;
    }
    /* A stalled writer: the actor waits (bounded) before handing over
     * more; the event itself is queued whatever happens (its effect may
     * have happened already), and is stored once the writer recovers. */
    if (on_disk(a) && !th_chain_healthy(a->rt->chain) && atomic_load(&a->rec_failed) == 0) {
        th_error err;
        if (stall_wait(a->rt, &err) != 0)
            record_failed(a, TH_EIO, "%s; stopping the actor", err.msg);
    }
    /* in the actor's own turn: into the worker's batch */
    w = rt_sched_self();
    if (w != NULL && w->turn_actor == a && REC_EV_SIZE(len) <= REC_BATCH_CAP &&
        batch_add(w, rec, a, type, data, len) != NULL)
        return;
    queue_pending(w, a); /* what is recorded before goes first */
    push_one(rec, a, type, data, len,
             atomic_fetch_add_explicit(&a->rec_queued, 1, memory_order_relaxed) + 1);
    rec_backpressure(rec, a);
}

void rt_record_buf(rt_actor *a, const char *type, rt_buf *b)
{
    if (b->oom) {
        static const char msg[] = "{\"truncated\":true}";
        /* what happened cannot be recorded in full: stop the actor */
        record_failed(a, TH_ENOMEM,
                      "event %s could not be built (out of memory); stopping the actor", type);
        rt_record(a, type, (const uint8_t *)msg, sizeof msg - 1);
    } else {
        rt_record(a, type, b->data, b->len);
    }
    rt_buf_release(b);
}

/* Room for an event of `len` bytes written in place into the worker's
 * batch, where rt_record would put it: in the actor's own turn, not
 * replayed, the writer healthy (the held-back "wasm-call" of the running
 * op is recorded first, as rt_record does).  NULL otherwise (or out of
 * memory): the caller then builds the event and hands it to rt_record. */
static uint8_t *record_in_place(rt_actor *a, const char *type, size_t len)
{
    rt_recorder *rec = a->rt->recorder;
    rt_worker *w;

    if (a->replay != NULL || rec == NULL || atomic_load(&rec->stop) ||
        (on_disk(a) && !th_chain_healthy(a->rt->chain)) || (w = rt_sched_self()) == NULL ||
        w->turn_actor != a || REC_EV_SIZE(len) > REC_BATCH_CAP)
        return NULL;
    rt_record_held_call(a);
    return batch_add(w, rec, a, type, NULL, len);
}

static void record_host(rt_actor *a, const char *iface, const char *fn, const char *input_json,
                        const char *output_json)
{
    static const char k_iface[] = "{\"interface\":\"", k_fn[] = "\",\"function\":\"",
                      k_in[] = "\",\"input\":", k_out[] = ",\"output\":";
    const char *in = input_json ? input_json : "null", *out = output_json ? output_json : "null";
    const struct {
        const char *s;
        size_t n;
    } part[] = {{k_iface, sizeof k_iface - 1},
                {iface, strlen(iface)},
                {k_fn, sizeof k_fn - 1},
                {fn, strlen(fn)},
                {k_in, sizeof k_in - 1},
                {in, strlen(in)},
                {k_out, sizeof k_out - 1},
                {out, strlen(out)},
                {"}", 1}};
    size_t len = 0, i;
    uint8_t *ev, *own = NULL, *q;

    for (i = 0; i < sizeof part / sizeof part[0]; i++)
        len += part[i].n;
    /* written in place into the worker's batch, or else into a buffer of
     * its own handed to rt_record: the same bytes either way */
    if ((ev = record_in_place(a, "host-call", len)) == NULL && (ev = own = malloc(len)) == NULL) {
        rt_buf oom = {.oom = true};
        rt_record_buf(a, "host-call", &oom);
        return;
    }
    for (q = ev, i = 0; i < sizeof part / sizeof part[0]; i++) {
        memcpy(q, part[i].s, part[i].n);
        q += part[i].n;
    }
    if (own != NULL) {
        rt_record(a, "host-call", own, len);
        free(own);
    }
}

void rt_record_host(rt_actor *a, const char *iface, const char *fn, const char *input_json,
                    const char *output_json)
{
    /* a replayed call is compared in place (before the lengths are taken) */
    if (a->replay == NULL || !rt_replay_host_done(a, iface, fn, input_json, output_json))
        record_host(a, iface, fn, input_json, output_json);
}

/* Wait until the chain's event `ticket` (UINT64_MAX: every event appended
 * so far) is durable, in slices: behind a stalled writer, at most the
 * runtime's record_stall_ms, then TH_EIO. */
static int durable_wait(rt_runtime *rt, uint64_t ticket, th_error *err)
{
    for (;;) {
        int rc = ticket == UINT64_MAX ? th_chain_flush(rt->chain, 50, err)
                                      : th_chain_wait_durable(rt->chain, ticket, 50, err);
        if (rc != TH_ETIMEDOUT)
            return rc;
        if (!th_chain_healthy(rt->chain) && stall_wait(rt, err) != 0)
            return TH_EIO;
    }
}

int rt_record_flush(rt_actor *a, th_error *err)
{
    rt_recorder *rec = a->rt->recorder;
    rt_worker *w = rt_sched_self();
    uint64_t target, ticket;

    queue_pending(w, a); /* its events are waited for below */
    target = atomic_load_explicit(&a->rec_queued, memory_order_relaxed);

    if (rec != NULL && atomic_load(&a->rec_done) < target) {
        pthread_mutex_lock(&rec->lock);
        atomic_fetch_add(&rec->flushers, 1);
        if (atomic_load(&rec->state) != REC_AWAKE)
            pthread_cond_signal(&rec->wake);
        /* an event that could not be queued (out of memory: rec_failed)
         * never comes: then stop waiting, the chain cannot be whole */
        while (atomic_load(&a->rec_done) < target && atomic_load(&a->rec_failed) == 0) {
            struct timespec ts = base_clock_wall_deadline(50000000u);
            pthread_cond_timedwait(&rec->done, &rec->lock, &ts);
        }
        atomic_fetch_sub(&rec->flushers, 1);
        pthread_mutex_unlock(&rec->lock);
    }
    ticket = atomic_load(&a->last_ticket);
    return ticket != 0 ? durable_wait(a->rt, ticket, err) : 0;
}

void rt_record_push(rt_actor *a)
{
    rt_worker *w = rt_sched_self();

    /* An actor's last events (its stop): whoever stopped it waits for
     * them next (th_runtime_stop's flush), so the worker appends them
     * itself, however few, rather than handing them to the recorder
     * thread and the waiter to its next wake-up. */
    queue_pending_as(w != NULL && w->rt == a->rt ? w : NULL, a, a);
}

int rt_record_flush_all(rt_runtime *rt, th_error *err)
{
    rt_recorder *rec = rt->recorder;
    rec_fence f = {.kind = REC_FENCE};

    if (rec != NULL && !atomic_load(&rec->stop)) {
        /* the recorder takes it after everything queued before it, sets
         * `passed` under its lock and no longer touches it */
        pthread_mutex_lock(&rec->lock);
        rt_mpsc_push(&rec->q, &f.node);
        if (atomic_load(&rec->state) != REC_AWAKE)
            pthread_cond_signal(&rec->wake);
        while (!f.passed) {
            struct timespec ts = base_clock_wall_deadline(50000000u);
            pthread_cond_timedwait(&rec->done, &rec->lock, &ts);
        }
        pthread_mutex_unlock(&rec->lock);
    }
    return durable_wait(rt, UINT64_MAX, err);
}

int rt_record_each(rt_actor *a, rt_event_visit fn, void *ud, th_error *err)
{
    th_chain_query q;
    th_chain_events evs;
    rt_memchain *m;
    size_t i;
    int rc;

    if ((rc = rt_record_flush(a, err)) != 0)
        return rc;
    if (!a->spec->save_chain) {
        m = atomic_load_explicit(&a->memchain, memory_order_acquire);
        return m != NULL ? memchain_each(m, fn, ud) : 0;
    }
    memset(&q, 0, sizeof q);
    q.actor = a->id;
    rc = th_chain_read(a->rt->chain, &q, &evs, err);
    if (rc == TH_ENOENT)
        return 0;
    if (rc != 0)
        return rc;
    for (i = 0; i < evs.count && rc == 0; i++) {
        th_chain_event *e = &evs.items[i];
        rc = fn(ud, e->hash, e->has_parent ? e->parent : NULL, e->type, e->data, e->data_len,
                e->timestamp_ms, e->description);
    }
    th_chain_events_free(&evs);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Subscriptions                                                      */

int rt_record_subscribe(rt_actor *a, th_runtime_event_fn fn, void *ud, uint64_t *id)
{
    rt_runtime *rt = a->rt;
    rec_subs *s;
    rt_sub *x = calloc(1, sizeof *x);

    if (x == NULL)
        return TH_ENOMEM;
    x->fn = fn;
    x->ud = ud;
    x->actor = a;
    pthread_mutex_lock(&rt->sublock);
    s = atomic_load(&a->subs);
    if (s == NULL) {
        s = calloc(1, sizeof *s);
        if (s == NULL) {
            pthread_mutex_unlock(&rt->sublock);
            free(x);
            return TH_ENOMEM;
        }
        pthread_mutex_init(&s->lock, NULL);
        atomic_store_explicit(&a->subs, s, memory_order_release);
    }
    x->id = ++rt->next_sub;
    x->next = rt->subs;
    rt->subs = x;
    pthread_mutex_lock(&s->lock);
    x->anext = s->head;
    s->head = x;
    pthread_mutex_unlock(&s->lock);
    pthread_mutex_unlock(&rt->sublock);
    *id = x->id;
    return 0;
}

int rt_record_unsubscribe(rt_runtime *rt, uint64_t id)
{
    rt_sub **pp, *x = NULL, **ap;
    rec_subs *s;

    pthread_mutex_lock(&rt->sublock);
    for (pp = &rt->subs; *pp != NULL; pp = &(*pp)->next) {
        if ((*pp)->id == id) {
            x = *pp;
            *pp = x->next;
            break;
        }
    }
    if (x != NULL) {
        s = atomic_load(&x->actor->subs);
        pthread_mutex_lock(&s->lock);
        for (ap = &s->head; *ap != NULL; ap = &(*ap)->anext) {
            if (*ap == x) {
                *ap = x->anext;
                break;
            }
        }
        pthread_mutex_unlock(&s->lock);
    }
    pthread_mutex_unlock(&rt->sublock);
    free(x);
    return x != NULL ? 0 : TH_ENOENT;
}

void rt_record_free(rt_actor *a)
{
    rt_runtime *rt = a->rt;
    rec_subs *s = atomic_load(&a->subs);
    rt_sub **pp, *x;

    memchain_free(atomic_load(&a->memchain));
    atomic_store(&a->memchain, NULL);
    if (a->rec_error != rec_error_oom)
        free(a->rec_error);
    a->rec_error = NULL;
    if (s == NULL)
        return;
    pthread_mutex_lock(&rt->sublock);
    for (pp = &rt->subs; *pp != NULL;) {
        x = *pp;
        if (x->actor == a) {
            *pp = x->next;
            free(x);
        } else {
            pp = &x->next;
        }
    }
    pthread_mutex_unlock(&rt->sublock);
    pthread_mutex_destroy(&s->lock);
    free(s);
    atomic_store(&a->subs, NULL);
}

const char *const th_event_types[] = {
    "actor-spawned",   "wasm-call",         "wasm-result",       "host-call",
    "actor-failed",    "supervisor-action", "actor-restarted",   "actor-stopped",
    "message-dropped", "init-skipped",      "component-updated", "actor-restored",
};
const size_t th_event_ntypes = sizeof th_event_types / sizeof th_event_types[0];

void th_event_types_join(char *out, size_t cap)
{
    size_t n = 0;

    if (cap > 0)
        out[0] = 0;
    for (size_t i = 0; i < th_event_ntypes && n < cap; i++)
        n += (size_t)snprintf(out + n, cap - n, "%s%s", i ? ", " : "", th_event_types[i]);
}

bool th_event_type_known(const char *type)
{
    for (size_t i = 0; i < th_event_ntypes; i++)
        if (strcmp(type, th_event_types[i]) == 0)
            return true;
    return false;
}
