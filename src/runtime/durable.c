/*
 * durable.c - durable actors: what a daemon needs to bring its actors back
 * after SIGTERM, kill -9 or a power cut, and the commit points that make
 * every acknowledged message handled exactly once (docs/durability.md).
 *
 * Only a runtime created with th_runtime_config.durable (the daemon) has
 * this part; `theater run` and embedders pay one branch per message.
 *
 * Storage: two tables of durable.db (its own file in the home, db.c),
 * written by one thread with its own connection in batched transactions
 * (group commit; synchronous = FULL like the chains).  Not theater.db: a
 * message is acknowledged when its row commits, and a commit there waits
 * for the chain's writer, which takes the file's one write lock for each
 * of its own commits:
 *
 *   durable_actor   one row per live durable actor: id, parent, manifest
 *                   (text, path, base directory), initial state, start order
 *                   (n), and marked_seq (below).  Inserted once its first
 *                   init succeeded and that result is durable on its chain,
 *                   before the spawn is answered; deleted
 *                   when it ends for good (stopped, exited, a root that
 *                   failed).  A runtime shutdown keeps it.  Its messages'
 *                   rows go when it ends, and those of a failed root's
 *                   messages (acknowledged after the failure, for a
 *                   restart) when it is stopped or the runtime shuts down.
 *   durable_msg     one row per one-way message to a durable actor, inserted
 *                   before the message is acknowledged (the API's 202, an
 *                   actor's `send` returning ok) and before it enters the
 *                   mailbox; once the event that handled it is durable,
 *                   deleted if no operation can send it again (no
 *                   origin), else `handled` and kept without data until
 *                   collected.
 *
 * Commit points:
 *   1. a message is durable (its durable_msg row committed) before it is
 *      acknowledged and before the receiver can see it;
 *   2. the event that ends its handling ("wasm-call" with its result,
 *      "wasm-result", "actor-failed" or "message-dropped") carries
 *      "message_id": the new state and the fact that the message was
 *      handled are one chain event, so they commit together;
 *   3. a request's reply is given only once that event is durable.
 * The chain listener marks rows handled once their event is durable
 * (marked_seq: every event of the actor's chain up to it has had its rows
 * marked); after a crash the restore reads the chain after marked_seq, so
 * a row whose event committed but whose mark did not is not delivered
 * twice.
 *
 * Exactly once across re-execution: an operation interrupted by a crash
 * runs again after the restart (its message was not handled), and sends
 * again what it sent the first time.  Such a send gets an id derived from
 * the message being handled and its position in the operation (origin,
 * nsent); its second insert finds the row and is acknowledged without a
 * second delivery.  A handled row is kept (without data) until its origin
 * is handled, then garbage-collected.
 *
 * Threads: the turn that owns an actor queues jobs (rt_durable_*); the
 * writer thread commits them and then delivers (messages), answers
 * (spawns) or forgets; the chain's writer thread calls the listener.
 */
#define _GNU_SOURCE /* memmem */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "base/clock.h"
#include "base/hex.h"
#include "base/json.h"
#include "base/sha256.h"
#include "db/db.h"
#include "theater/chain.h"
#include "theater/store.h"
#include "runtime/rt_int.h"

#define DUR_GC_MS 1000u           /* handled rows are collected about this often */
#define DUR_CKPT_IDLE_MS 50L      /* checkpoint durable.db after this long idle */
#define DUR_CKPT_FRAMES 2000      /* or once its WAL holds this many pages */
#define DUR_MARKS_DELAY_MS 20u    /* a handled row is marked within about this */
#define DUR_MARKS_MAX 1024u       /* or once this many marks wait */
#define DUR_SCAN_PAGE 512         /* events read at a time by the restore */
#define DUR_GATHER_MAX_NS 400000L /* a batch waits for more jobs at most this long */

enum { DJ_MSG = 1, DJ_ACTOR_ADD, DJ_ACTOR_DEL, DJ_HANDLED, DJ_RESTARTED };

typedef struct dur_job {
    struct dur_job *next;
    int kind;
    rt_actor *target;           /* DJ_MSG, DJ_ACTOR_ADD: reference */
    rt_msg *m;                  /* DJ_MSG: the message (owned) */
    char origin[RT_ID_LEN + 1]; /* DJ_MSG: "" or the message whose handling sent it */
    char id[RT_ID_LEN + 1];     /* DJ_HANDLED: message; DJ_ACTOR_DEL, DJ_RESTARTED: actor */
    char actor[RT_ID_LEN + 1];  /* DJ_HANDLED: the actor whose chain handled it */
    uint64_t seq;               /* DJ_HANDLED: the event; UINT64_MAX if none */
    char parent[RT_ID_LEN + 1]; /* DJ_ACTOR_ADD */
    char *manifest_path, *manifest_text, *base_dir;
    bool has_init;
    uint8_t *init;
    size_t init_len;
    rt_sync *init_sync; /* DJ_ACTOR_ADD: answered once stored */
    rt_reply init_reply;
    rt_reply ack; /* DJ_MSG: its sender's answer, once the batch is offered */
    bool inserted;
    int status;
    char msg[TH_ERROR_MSG_MAX];
} dur_job;

/* A request's reply held until the event that answered it is durable: the
 * result of the handling of stored message `id` (the request's own, or the
 * one whose handling answered a deferred request). */
typedef struct dur_held {
    struct dur_held *next;
    char id[RT_ID_LEN + 1];
    rt_reply reply;
    int status;
    bool has_resp;
    uint8_t *resp;
    size_t len;
    char *text; /* a failure's message (status != TH_OK) */
} dur_held;

static void held_free(dur_held *h)
{
    free(h->resp);
    free(h->text);
    free(h);
}

struct rt_durable {
    rt_runtime *rt;
    sqlite3 *db;
    sqlite3_stmt *ins_msg, *ins_actor, *del_actor, *del_msgs, *mark, *forget, *mark_seq, *gc,
        *unkeep;
    sqlite3_stmt *begin, *commit;          /* prepared once: sqlite3_exec compiles each time */
    sqlite3_stmt *sync_normal, *sync_full; /* around the marks' commits (run_marks) */
    bool relaxed;                          /* synchronous = NORMAL in effect */
    pthread_t thread;
    bool started;
    pthread_mutex_t lock; /* the job queue and `stop` */
    pthread_cond_t cond;
    dur_job *head, *tail;
    size_t njobs;                /* in head..tail */
    size_t last_batch;           /* jobs in the last batch taken (writer_main) */
    size_t came_during;          /* jobs that came while the last batch committed */
    size_t gather_target;        /* gather: wake the writer at this many jobs (0: no) */
    dur_job *marks, *marks_tail; /* DJ_HANDLED jobs, held (writer_main) */
    size_t nmarks;
    uint64_t marks_since_ns; /* when the oldest held mark came */
    bool stop;
    pthread_mutex_t hlock; /* held replies */
    dur_held *held;
    uint64_t listener;
    bool subscribed;
    uint64_t last_gc_ns;
    uint64_t busy_since_ns; /* busy_wait: when the current wait began */
    int wal_frames;         /* frames in durable.db's WAL (writer thread) */
};

/* ------------------------------------------------------------------ */
/* Jobs                                                               */

static void job_free(dur_job *j)
{
    if (j == NULL)
        return;
    if (j->target != NULL)
        rt_actor_release(j->target);
    rt_msg_free(j->m);
    free(j->manifest_path);
    free(j->manifest_text);
    free(j->base_dir);
    free(j->init);
    rt_sync_release(j->init_sync);
    rt_reply_drop(&j->init_reply);
    rt_reply_drop(&j->ack);
    free(j);
}

static void job_push(rt_durable *d, dur_job *j)
{
    pthread_mutex_lock(&d->lock);
    if (j->kind == DJ_HANDLED) {
        /* no one waits for a mark: it joins a later batch (writer_main) */
        if (d->marks_tail != NULL)
            d->marks_tail->next = j;
        else
            d->marks = j;
        if (d->nmarks++ == 0)
            d->marks_since_ns = rt_now_ns();
        d->marks_tail = j;
        if (d->nmarks == DUR_MARKS_MAX)
            pthread_cond_signal(&d->cond);
        pthread_mutex_unlock(&d->lock);
        return;
    }
    if (d->tail != NULL)
        d->tail->next = j;
    else
        d->head = j;
    d->tail = j;
    d->njobs++;
    /* a gathering writer wakes once the batch it waits for is complete */
    if (d->gather_target == 0 || d->njobs >= d->gather_target)
        pthread_cond_signal(&d->cond);
    pthread_mutex_unlock(&d->lock);
}

static int bind_text(sqlite3_stmt *st, int i, const char *s)
{
    return s != NULL ? sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(st, i);
}

/* Run one job's statements inside the open transaction. */
static int job_exec(rt_durable *d, dur_job *j)
{
    sqlite3_stmt *st;
    int rc = SQLITE_DONE;

    switch (j->kind) {
    case DJ_MSG:
        st = d->ins_msg;
        bind_text(st, 1, j->m->b);
        bind_text(st, 2, j->target->id);
        bind_text(st, 3, j->m->a[0] ? j->m->a : NULL);
        sqlite3_bind_blob(st, 4, j->m->len ? j->m->data : (const void *)"", (int)j->m->len,
                          SQLITE_STATIC);
        bind_text(st, 5, j->origin[0] ? j->origin : NULL);
        rc = sqlite3_step(st);
        j->inserted = rc == SQLITE_DONE && sqlite3_changes(d->db) > 0;
        sqlite3_reset(st);
        break;
    case DJ_ACTOR_ADD:
        st = d->ins_actor;
        bind_text(st, 1, j->target->id);
        bind_text(st, 2, j->parent[0] ? j->parent : NULL);
        bind_text(st, 3, j->manifest_path);
        bind_text(st, 4, j->manifest_text);
        bind_text(st, 5, j->base_dir);
        sqlite3_bind_int(st, 6, j->has_init);
        if (j->has_init)
            sqlite3_bind_blob(st, 7, j->init_len ? (const void *)j->init : "", (int)j->init_len,
                              SQLITE_STATIC);
        else
            sqlite3_bind_null(st, 7);
        sqlite3_bind_int64(st, 8, (sqlite3_int64)rt_wall_ms());
        rc = sqlite3_step(st);
        sqlite3_reset(st);
        break;
    case DJ_ACTOR_DEL:
        bind_text(d->del_actor, 1, j->id);
        rc = sqlite3_step(d->del_actor);
        sqlite3_reset(d->del_actor);
        if (rc == SQLITE_DONE) {
            bind_text(d->del_msgs, 1, j->id);
            rc = sqlite3_step(d->del_msgs);
            sqlite3_reset(d->del_msgs);
        }
        break;
    case DJ_RESTARTED:
        bind_text(d->unkeep, 1, j->id);
        rc = sqlite3_step(d->unkeep);
        sqlite3_reset(d->unkeep);
        break;
    case DJ_HANDLED:
        /* a row without origin is never inserted again (no operation that
         * runs again sends it): it goes at once; the others are kept,
         * without data, until collect_garbage */
        bind_text(d->forget, 1, j->id);
        bind_text(d->forget, 2, j->actor);
        rc = sqlite3_step(d->forget);
        sqlite3_reset(d->forget);
        if (rc == SQLITE_DONE && sqlite3_changes(d->db) == 0) {
            bind_text(d->mark, 1, j->id);
            bind_text(d->mark, 2, j->actor);
            rc = sqlite3_step(d->mark);
            sqlite3_reset(d->mark);
        }
        /* marks come in their chain's order: the last of a run of one
         * actor's marks moves marked_seq for all of them */
        if (rc == SQLITE_DONE && j->seq != UINT64_MAX &&
            (j->next == NULL || j->next->kind != DJ_HANDLED ||
             strcmp(j->next->actor, j->actor) != 0 || j->next->seq == UINT64_MAX)) {
            sqlite3_bind_int64(d->mark_seq, 1, (sqlite3_int64)j->seq);
            bind_text(d->mark_seq, 2, j->actor);
            rc = sqlite3_step(d->mark_seq);
            sqlite3_reset(d->mark_seq);
        }
        break;
    default: break;
    }
    return rc == SQLITE_DONE ? 0 : rc;
}

/* After the commit (status 0) or its failure: deliver, answer, free.  A
 * message queued at once keeps its sender's answer in j->ack: true, and
 * the caller answers and frees it (run_batch). */
static bool job_done(rt_durable *d, dur_job *j, int status, const char *why)
{
    rt_runtime *rt = d->rt;
    rt_msg *m;

    switch (j->kind) {
    case DJ_MSG:
        m = j->m;
        j->m = NULL;
        if (status != 0) {
            char text[TH_ERROR_MSG_MAX + 64];
            snprintf(text, sizeof text, "the message could not be stored: %s", why);
            rt_reply_complete(rt, &m->reply, TH_EIO, false, NULL, 0, text);
            rt_msg_free(m);
        } else if (!j->inserted || atomic_load(&rt->closing)) {
            /* closing: stored, so it is delivered after the next start */
            /* sent again by an operation that ran again: already queued or
             * handled (exactly once) */
            rt_reply_complete(rt, &m->reply, TH_OK, false, NULL, 0, NULL);
            rt_msg_free(m);
        } else if (strcmp(m->a, j->target->id) == 0) {
            /* to itself: it cannot wait for room while it waits for this */
            rt_reply r = m->reply;
            memset(&m->reply, 0, sizeof m->reply);
            m->ack = false;
            rt_actor_post(j->target, m);
            rt_reply_complete(rt, &r, TH_OK, false, NULL, 0, NULL);
        } else {
            /* queued without its answer, which run_batch gives with the
             * batch's others; a full mailbox holds it with its answer
             * until there is room */
            j->ack = m->reply;
            memset(&m->reply, 0, sizeof m->reply);
            m->ack = false;
            if (rt_actor_offer(j->target, m, false) == RT_OFFER_QUEUED)
                return true;
            m->reply = j->ack;
            memset(&j->ack, 0, sizeof j->ack);
            m->ack = true;
            rt_actor_offer(j->target, m, true);
        }
        break;
    case DJ_ACTOR_ADD:
        if (status != 0)
            rt_log(rt, j->target->id, NULL,
                   "the actor could not be made durable (it will not survive a restart): %s", why);
        rt_reply_complete(rt, &j->init_reply, TH_OK, true, (const uint8_t *)j->target->id,
                          RT_ID_LEN, NULL);
        if (j->init_sync != NULL) {
            rt_reply s = {NULL, 0, j->init_sync, NULL, 0};
            j->init_sync = NULL;
            rt_reply_complete(rt, &s, TH_OK, false, NULL, 0, NULL);
        }
        break;
    case DJ_ACTOR_DEL:
    case DJ_RESTARTED:
    case DJ_HANDLED:
        if (status != 0)
            rt_log(rt, j->kind == DJ_HANDLED ? j->actor : j->id, NULL,
                   "durable record not updated (repaired at the next restart): %s", why);
        break;
    default: break;
    }
    job_free(j);
    return false;
}

static void collect_garbage(rt_durable *d)
{
    uint64_t now = rt_now_ns();

    if (now - d->last_gc_ns < (uint64_t)DUR_GC_MS * 1000000u)
        return;
    d->last_gc_ns = now;
    sqlite3_step(d->gc);
    sqlite3_reset(d->gc);
}

/* Run a statement without rows: SQLITE_OK or the error. */
static int step_once(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);

    sqlite3_reset(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Commit a batch of jobs in one transaction, then finish each: the
 * messages are queued first, then their senders are answered one after
 * another.  Answering a sender of the API resumes its connection, which
 * wakes libmicrohttpd's thread; queueing a message may wake a worker.  Done
 * in turn for each message, the woken threads took the cores and the locks
 * the writer needed for the next answer, and libmicrohttpd answered the
 * batch's connections a few at a time; answered together, its thread
 * finds them all resumed, and the clients' next messages come together
 * (the next batch waits less for its last one). */
static void run_batch(rt_durable *d, dur_job *list)
{
    th_error err;
    dur_job *j, *next, *acks = NULL, **acks_tail = &acks;
    int rc;

    th_error_clear(&err);
    /* every commit of messages and records is synced (a marks commit left
     * synchronous = NORMAL: it is put back first, or nothing is stored) */
    rc = d->relaxed ? step_once(d->sync_full) : SQLITE_OK;
    if (rc == SQLITE_OK) {
        d->relaxed = false;
        rc = step_once(d->begin);
    }
    for (j = list; rc == SQLITE_OK && j != NULL; j = j->next)
        rc = job_exec(d, j) == 0 ? SQLITE_OK : sqlite3_errcode(d->db);
    if (rc == SQLITE_OK) {
        collect_garbage(d);
        rc = step_once(d->commit);
    }
    if (rc != SQLITE_OK) {
        db_error(d->db, rc, &err, "storing durable records");
        sqlite3_exec(d->db, "ROLLBACK", NULL, NULL, NULL);
    }
    /* before its senders hear back: the jobs of other senders (gather) */
    pthread_mutex_lock(&d->lock);
    d->came_during = d->njobs;
    pthread_mutex_unlock(&d->lock);
    for (j = list; j != NULL; j = next) {
        next = j->next;
        if (job_done(d, j, rc == SQLITE_OK ? 0 : err.code, err.msg)) {
            j->next = NULL;
            *acks_tail = j;
            acks_tail = &j->next;
        }
    }
    while ((j = acks) != NULL) {
        acks = j->next;
        rt_reply_complete(d->rt, &j->ack, TH_OK, false, NULL, 0, NULL);
        job_free(j);
    }
}

/* Commit marks (rows handled, DJ_HANDLED jobs) in a transaction of their
 * own, not synced: nothing waits for them, and a mark lost to a power cut
 * is repaired from the chain at the next start (the restore reads each
 * chain after marked_seq, and the event that handled a message names it).
 * Their frames reach the disk with the next commit of messages, whose
 * fdatasync covers the whole WAL.  Run while no message waits (after a
 * batch is answered, while its senders send their next ones), or once due
 * under a load that never lets the queue empty: a commit that acknowledges
 * messages no longer carries them (their statements and pages made one
 * such commit in about thirteen take three times as long under load). */
static void run_marks(rt_durable *d, dur_job *list)
{
    dur_job *j, *next;
    th_error err;
    int rc = SQLITE_OK;

    th_error_clear(&err);
    if (!d->relaxed && (rc = step_once(d->sync_normal)) == SQLITE_OK)
        d->relaxed = true;
    if (rc == SQLITE_OK)
        rc = step_once(d->begin);
    for (j = list; rc == SQLITE_OK && j != NULL; j = j->next)
        rc = job_exec(d, j) == 0 ? SQLITE_OK : sqlite3_errcode(d->db);
    if (rc == SQLITE_OK)
        rc = step_once(d->commit);
    if (rc != SQLITE_OK) {
        db_error(d->db, rc, &err, "storing durable records");
        sqlite3_exec(d->db, "ROLLBACK", NULL, NULL, NULL);
    }
    for (j = list; j != NULL; j = next) {
        next = j->next;
        job_done(d, j, rc == SQLITE_OK ? 0 : err.code, err.msg);
    }
}

/* After each commit: how many frames the WAL holds. */
static int on_wal(void *ud, sqlite3 *db, const char *name, int frames)
{
    rt_durable *d = ud;

    (void)db;
    (void)name;
    d->wal_frames = frames;
    return SQLITE_OK;
}

/* Copy the WAL into the database (the next commit then starts the WAL
 * over): when the writer has been idle for DUR_CKPT_IDLE_MS, or at once
 * past DUR_CKPT_FRAMES under a steady load. */
static void checkpoint(rt_durable *d)
{
    sqlite3_wal_checkpoint_v2(d->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    d->wal_frames = 0;
}

/* Marks are due once DUR_MARKS_MAX wait or the oldest has waited
 * DUR_MARKS_DELAY_MS (or at stop). */
static bool marks_due(const rt_durable *d, uint64_t now)
{
    return d->marks != NULL && (d->stop || d->nmarks >= DUR_MARKS_MAX ||
                                now - d->marks_since_ns >= (uint64_t)DUR_MARKS_DELAY_MS * 1000000u);
}

/* Let a batch grow to the number of senders at work (called with d->lock
 * held, which the wait releases): clients that each wait for their
 * message's acknowledgement send their next ones after a commit, so the
 * next batch can hold the last batch's senders and those whose jobs came
 * while it committed (the clients of a batch split in two come together
 * again).  The writer waits for that many jobs, woken by the push that completes them (not by every
 * push), for at most DUR_GATHER_MAX_NS.  A commit costs about the same whatever it holds (a
 * transaction, the writes of the pages it touched, an fdatasync: some 0.1-0.2 ms of CPU on a
 * virtual machine, besides the disk's time), so 16 clients' messages go in one commit instead of
 * two or three, and the CPU saved serves the messages; the batch is committed as soon as it is
 * complete, without sleeping past it.  A lone job (nothing came with it and the last batch was one
 * job too) is committed at once. */
static void gather(rt_durable *d)
{
    struct timespec until;

    size_t target = d->last_batch + d->came_during;

    if (d->head == NULL || d->stop || d->njobs >= target || (d->njobs < 2 && d->last_batch < 2))
        return;
    until = base_clock_wall_deadline((uint64_t)DUR_GATHER_MAX_NS);
    d->gather_target = target;
    while (d->njobs < d->gather_target && !d->stop &&
           pthread_cond_timedwait(&d->cond, &d->lock, &until) == 0)
        ;
    d->gather_target = 0;
}

/* The writer thread.  Each turn commits either every waiting job (a
 * batch, gathered) or the marks (rows handled): the marks once no job
 * waits, or once due (run_marks).  A mark is not waited for: the writer is
 * not woken for it (only for DUR_MARKS_MAX of them), it goes with the
 * writer's next turn. */
static void *writer_main(void *arg)
{
    rt_durable *d = arg;
    dur_job *list, *marks;
    struct timespec ts;
    uint64_t wait_ns;
    bool idle;

    for (;;) {
        idle = false;
        pthread_mutex_lock(&d->lock);
        for (;;) {
            if (d->head != NULL || d->marks != NULL || d->stop)
                break;
            wait_ns = d->wal_frames > 0 ? (uint64_t)DUR_CKPT_IDLE_MS * 1000000u : 1000000000u;
            ts = base_clock_wall_deadline(wait_ns);
            if (pthread_cond_timedwait(&d->cond, &d->lock, &ts) != 0 && d->head == NULL &&
                d->marks == NULL) {
                idle = true;
                break;
            }
        }
        marks = NULL;
        if (d->marks != NULL && (d->head == NULL || marks_due(d, rt_now_ns()))) {
            marks = d->marks;
            d->marks = d->marks_tail = NULL;
            d->nmarks = 0;
        }
        list = NULL;
        if (marks == NULL) {
            if (d->head == NULL && d->stop) {
                pthread_mutex_unlock(&d->lock);
                break;
            }
            gather(d);
            list = d->head;
            d->head = d->tail = NULL;
            d->last_batch = d->njobs;
            d->njobs = 0;
        }
        pthread_mutex_unlock(&d->lock);
        if (marks != NULL)
            run_marks(d, marks);
        else if (list != NULL)
            run_batch(d, list);
        if ((idle && d->wal_frames > 0) || d->wal_frames >= DUR_CKPT_FRAMES)
            checkpoint(d);
    }
    if (d->relaxed)
        step_once(d->sync_full); /* the checkpoint syncs the database */
    if (d->wal_frames > 0)
        checkpoint(d);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Message ids in events                                              */

#define MSGID_KEY "\"message_id\":\""

bool rt_durable_event_handled(const char *type, const uint8_t *data, size_t len,
                              char id[RT_ID_LEN + 1])
{
    const uint8_t *p;
    size_t k = sizeof MSGID_KEY - 1;

    if (strcmp(type, "wasm-result") != 0 && strcmp(type, "actor-failed") != 0 &&
        strcmp(type, "message-dropped") != 0 &&
        (strcmp(type, "wasm-call") != 0 || memmem(data, len, "\"result\":{", 10) == NULL))
        return false;
    p = memmem(data, len, MSGID_KEY, k);
    if (p == NULL || (size_t)(data + len - p) < k + RT_ID_LEN + 1 || p[k + RT_ID_LEN] != '"')
        return false;
    memcpy(id, p + k, RT_ID_LEN);
    id[RT_ID_LEN] = 0;
    return true;
}

void rt_durable_json_id(rt_buf *b, const rt_msg *m)
{
    rt_buf_puts(b, ",\"message_id\":");
    rt_buf_json_str(b, m->b, strnlen(m->b, RT_ID_LEN));
}

/* An event over 64 MiB is on the chain by content reference
 * (docs/chain-format.md): whether it ends a handling, from its content
 * (in the home's store, committed with the event). */
static bool big_event_handled(rt_durable *d, const th_chain_event *ev, char id[RT_ID_LEN + 1])
{
    uint8_t h[TH_CHAIN_HASH_LEN];
    char ref[2 * TH_CHAIN_HASH_LEN + 1];
    uint64_t size;
    void *data = NULL;
    size_t len = 0;
    th_error err;
    bool yes;

    if ((strcmp(ev->type, "wasm-call") != 0 && strcmp(ev->type, "wasm-result") != 0) ||
        d->rt->store == NULL || !th_chain_event_content_ref(ev, h, &size))
        return false;
    base_hex_encode(h, TH_CHAIN_HASH_LEN, ref);
    if (th_store_get(d->rt->store, TH_CHAIN_CONTENT_STORE, ref, &data, &len, &err) != 0) {
        rt_log(d->rt, ev->actor, NULL, "event %llu: its content cannot be read: %s",
               (unsigned long long)ev->seq, err.msg);
        return false;
    }
    yes = rt_durable_event_handled(ev->type, data, len, id);
    free(data);
    return yes;
}

/* Chain writer thread: an event is durable. */
static void on_durable_event(void *ud, const th_chain_event *ev)
{
    rt_durable *d = ud;
    char id[RT_ID_LEN + 1];
    dur_held **pp, *h, *done = NULL;
    dur_job *j;

    if (!rt_durable_event_handled(ev->type, ev->data, ev->data_len, id) &&
        !big_event_handled(d, ev, id))
        return;
    /* every reply held on this handling: the request's own and the deferred
     * answers it gave, in the order they were held (the list is newest
     * first, so taking them off it reverses them back) */
    pthread_mutex_lock(&d->hlock);
    for (pp = &d->held; (h = *pp) != NULL;) {
        if (strcmp(h->id, id) == 0) {
            *pp = h->next;
            h->next = done;
            done = h;
        } else {
            pp = &h->next;
        }
    }
    pthread_mutex_unlock(&d->hlock);
    while ((h = done) != NULL) {
        done = h->next;
        rt_reply_complete(d->rt, &h->reply, h->status, h->has_resp, h->resp, h->len, h->text);
        held_free(h);
    }
    if ((j = calloc(1, sizeof *j)) == NULL)
        return; /* repaired by the restore: it reads the chain after marked_seq */
    j->kind = DJ_HANDLED;
    memcpy(j->id, id, sizeof j->id);
    snprintf(j->actor, sizeof j->actor, "%s", ev->actor);
    j->seq = ev->seq;
    job_push(d, j);
}

/* ------------------------------------------------------------------ */
/* Start and stop                                                     */

/* The connection's busy handler.  durable.db has one other writer, the
 * restore when a daemon starts (restore.c), whose transaction is short;
 * SQLite's own handler (sqlite3_busy_timeout) sleeps 1, 2, 5, 10, ... ms
 * between tries, so a message that met it would wait several times as long
 * as that transaction.  Retry every DUR_BUSY_SPIN_NS for the first
 * DUR_BUSY_FAST_NS, then every millisecond, up to TH_STORE_BUSY_TIMEOUT_MS
 * in all (then the batch fails: its senders hear why). */
#define DUR_BUSY_SPIN_NS 50000L
#define DUR_BUSY_FAST_NS 20000000u

static int busy_wait(void *ud, int tries)
{
    rt_durable *d = ud;
    uint64_t now = rt_now_ns();
    struct timespec ts = {0, DUR_BUSY_SPIN_NS};

    if (tries == 0)
        d->busy_since_ns = now;
    else if (now - d->busy_since_ns > (uint64_t)TH_STORE_BUSY_TIMEOUT_MS * 1000000u)
        return 0;
    if (now - d->busy_since_ns > DUR_BUSY_FAST_NS)
        ts.tv_nsec = 1000000L;
    nanosleep(&ts, NULL);
    return 1;
}

/* Homes written before durable.db existed kept these records in two
 * tables of theater.db (its schema version 2; unused since): move them,
 * once.  The rows are copied and committed first, then deleted there: a
 * crash between the two copies them again at the next start, and INSERT OR
 * IGNORE keeps those already here. */
static int move_legacy(rt_durable *d, th_error *err)
{
    static const char *const copy =
        "BEGIN; INSERT OR IGNORE INTO main.durable_actor SELECT * FROM legacy.durable_actor;"
        " INSERT OR IGNORE INTO main.durable_msg SELECT * FROM legacy.durable_msg; COMMIT;";
    static const char *const drop =
        "BEGIN; DELETE FROM legacy.durable_msg; DELETE FROM legacy.durable_actor; COMMIT;";
    char path[4096];
    sqlite3_stmt *st = NULL;
    int rc, rows = 0;

    if ((rc = db_home_path(d->rt->home, DB_FILE, path, sizeof path, err)) != 0)
        return rc;
    rc = sqlite3_prepare_v2(d->db, "ATTACH DATABASE ? AS legacy", -1, &st, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC)) == SQLITE_OK)
        rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(d->db);
    sqlite3_finalize(st);
    st = NULL;
    if (rc != SQLITE_OK)
        return db_error(d->db, rc, err, "opening theater.db's durable records");
    rc = sqlite3_prepare_v2(d->db,
                            "SELECT (SELECT count(*) FROM legacy.durable_actor)"
                            " + (SELECT count(*) FROM legacy.durable_msg)",
                            -1, &st, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        rows = sqlite3_column_int(st, 0);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_OK && rows > 0 &&
        (rc = sqlite3_exec(d->db, copy, NULL, NULL, NULL)) == SQLITE_OK)
        rc = sqlite3_exec(d->db, drop, NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        db_error(d->db, rc, err, "moving the durable records from theater.db to durable.db");
        sqlite3_exec(d->db, "ROLLBACK", NULL, NULL, NULL);
    }
    sqlite3_exec(d->db, "DETACH DATABASE legacy", NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : err->code;
}

static int prepare(rt_durable *d, th_error *err)
{
    static const char *const sql[] = {
        "INSERT INTO durable_msg(id, actor, sender, data, origin) VALUES(?,?,?,?,?)"
        " ON CONFLICT(id) DO NOTHING",
        "INSERT INTO durable_actor(id, parent, manifest_path, manifest_text, base_dir,"
        " has_init_state, init_state, created_ms) VALUES(?,?,?,?,?,?,?,?)"
        " ON CONFLICT(id) DO NOTHING",
        "DELETE FROM durable_actor WHERE id = ?",
        "DELETE FROM durable_msg WHERE actor = ?",
        "UPDATE durable_msg SET handled = 1, data = NULL WHERE id = ? AND actor = ?",
        "DELETE FROM durable_msg WHERE id = ? AND actor = ? AND origin IS NULL",
        "UPDATE durable_actor SET marked_seq = max(marked_seq, ?) WHERE id = ?",
        /* a handled row goes once its origin is handled (a stored message),
         * or its sender is gone (an init's incarnation, "i-...") */
        "DELETE FROM durable_msg WHERE handled = 1 AND (origin IS NULL OR"
        " (origin LIKE 'i-%' AND NOT EXISTS (SELECT 1 FROM durable_actor a"
        " WHERE a.id = durable_msg.sender)) OR (origin NOT LIKE 'i-%' AND NOT EXISTS"
        " (SELECT 1 FROM durable_msg o WHERE o.id = durable_msg.origin AND o.handled = 0)))",
        "UPDATE durable_msg SET origin = NULL WHERE sender = ? AND origin LIKE 'i-%'",
        "BEGIN IMMEDIATE",
        "COMMIT",
        "PRAGMA synchronous=NORMAL",
        "PRAGMA synchronous=FULL",
    };
    sqlite3_stmt **out[] = {&d->ins_msg, &d->ins_actor,   &d->del_actor, &d->del_msgs, &d->mark,
                            &d->forget,  &d->mark_seq,    &d->gc,        &d->unkeep,   &d->begin,
                            &d->commit,  &d->sync_normal, &d->sync_full};
    size_t i;
    int rc;

    for (i = 0; i < sizeof sql / sizeof sql[0]; i++) {
        rc = sqlite3_prepare_v3(d->db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, out[i], NULL);
        if (rc != SQLITE_OK)
            return db_error(d->db, rc, err, "preparing the durable records");
    }
    return 0;
}

static void durable_free(rt_durable *d)
{
    dur_held *h;
    dur_job *j;

    if (d == NULL)
        return;
    while ((j = d->marks) != NULL) { /* left by a start that failed */
        d->marks = j->next;
        job_free(j);
    }
    sqlite3_finalize(d->ins_msg);
    sqlite3_finalize(d->ins_actor);
    sqlite3_finalize(d->del_actor);
    sqlite3_finalize(d->del_msgs);
    sqlite3_finalize(d->mark);
    sqlite3_finalize(d->forget);
    sqlite3_finalize(d->mark_seq);
    sqlite3_finalize(d->gc);
    sqlite3_finalize(d->unkeep);
    sqlite3_finalize(d->begin);
    sqlite3_finalize(d->commit);
    sqlite3_finalize(d->sync_normal);
    sqlite3_finalize(d->sync_full);
    sqlite3_close_v2(d->db);
    while ((h = d->held) != NULL) {
        d->held = h->next;
        rt_reply_complete(d->rt, &h->reply, TH_ECLOSED, false, NULL, 0,
                          "the runtime stopped before the answer was stored");
        held_free(h);
    }
    pthread_mutex_destroy(&d->lock);
    pthread_cond_destroy(&d->cond);
    pthread_mutex_destroy(&d->hlock);
    free(d);
}

int rt_durable_start(rt_runtime *rt, th_error *err)
{
    rt_durable *d;
    int rc;

    if (rt->chain == NULL)
        return th_error_set(err, TH_EINVAL, "durable actors need the chains in THEATER_HOME");
    if ((d = calloc(1, sizeof *d)) == NULL)
        return th_error_set(err, TH_ENOMEM, "out of memory");
    d->rt = rt;
    pthread_mutex_init(&d->lock, NULL);
    pthread_cond_init(&d->cond, NULL);
    pthread_mutex_init(&d->hlock, NULL);
    if ((rc = db_open_schema(rt->home, &db_durable, 0, &d->db, err)) != 0 ||
        (rc = move_legacy(d, err)) != 0 || (rc = prepare(d, err)) != 0)
        goto fail;
    /* A commit here acknowledges messages: it must not also checkpoint
     * (copy the WAL's frames into the database and sync it before its
     * senders hear back).  This thread checkpoints when it is idle. */
    sqlite3_wal_autocheckpoint(d->db, 0);
    sqlite3_wal_hook(d->db, on_wal, d);
    sqlite3_busy_handler(d->db, busy_wait, d);
    if ((rc = th_chain_subscribe(rt->chain, on_durable_event, d, &d->listener, err)) != 0)
        goto fail;
    d->subscribed = true;
    if (pthread_create(&d->thread, NULL, writer_main, d) != 0) {
        rc = th_error_set(err, TH_ENOMEM, "cannot start the durable records thread");
        goto fail;
    }
    d->started = true;
    rt->durable = d;
    return 0;
fail:
    if (d->subscribed)
        th_chain_unsubscribe(rt->chain, d->listener);
    durable_free(d);
    return th_error_prefix(err, "durable actors");
}

void rt_durable_stop(rt_runtime *rt)
{
    rt_durable *d = rt->durable;

    if (d == NULL)
        return;
    if (d->subscribed && rt->chain != NULL)
        th_chain_unsubscribe(rt->chain, d->listener);
    d->subscribed = false;
    if (d->started) {
        pthread_mutex_lock(&d->lock);
        d->stop = true;
        pthread_cond_signal(&d->cond);
        pthread_mutex_unlock(&d->lock);
        pthread_join(d->thread, NULL);
    }
    rt->durable = NULL;
    durable_free(d);
}

/* ------------------------------------------------------------------ */
/* What the runtime tells this part                                   */

static const char hexd[] = "0123456789abcdef";

/* The origin of the sends of a durable actor's init: "i-" and 32 hex
 * digits of SHA-256("theater-init:ACTOR:INCARNATION"), the same when that
 * init runs again after a crash (a restore with init to run keeps the
 * incarnation), new at each supervisor restart. */
static int init_origin(const rt_actor *a, char origin[RT_ID_LEN + 1])
{
    uint8_t h[BASE_SHA256_LEN], in[128];
    size_t n = (size_t)snprintf((char *)in, sizeof in, "theater-init:%s:%s", a->id, a->incarnation);
    size_t i;

    if (n >= sizeof in || base_sha256(in, n, h) != 0)
        return -1;
    origin[0] = 'i';
    origin[1] = '-';
    for (i = 0; i < 16; i++) {
        origin[2 + 2 * i] = hexd[h[i] >> 4];
        origin[3 + 2 * i] = hexd[h[i] & 15];
    }
    origin[34] = 0;
    return 0;
}

/* A fresh id for a message that no operation can send again (from the
 * API, or sent while handling what is not a stored message): a UUID of
 * version 7 (RFC 9562), its first 60 bits the wall clock in milliseconds
 * and a counter within it, so that ids only grow.  Each new row's key then
 * goes to the end of durable_msg's index on id (one page written per
 * commit, where random ids wrote one page of the index per message).  The
 * last 62 bits are random. */
static void fresh_id(char id[RT_ID_LEN + 1])
{
    static _Atomic uint64_t last; /* ms << 12 | counter */
    uint64_t prev = atomic_load(&last), now = (uint64_t)rt_wall_ms() << 12, v;
    char tail[RT_ID_LEN + 1], text[64];

    do
        v = now > prev ? now : prev + 1;
    while (!atomic_compare_exchange_weak(&last, &prev, v));
    rt_uuid_v4(tail); /* its random variant and last 62 bits */
    snprintf(text, sizeof text, "%08llx-%04llx-7%03llx-%s",
             (unsigned long long)((v >> 28) & 0xffffffffu),
             (unsigned long long)((v >> 12) & 0xffff), (unsigned long long)(v & 0xfff), tail + 19);
    memcpy(id, text, RT_ID_LEN);
    id[RT_ID_LEN] = 0;
}

/* A fresh message id: derived from the message being handled (or the
 * init's incarnation) and the number of sends before it in the operation
 * (the same when the operation runs again after a crash), else fresh. */
static void message_id(rt_actor *sender, char id[RT_ID_LEN + 1], char origin[RT_ID_LEN + 1])
{
    rt_msg *cur = sender != NULL && sender->op != NULL ? sender->op->msg : NULL;
    uint8_t h[BASE_SHA256_LEN], in[96];
    size_t n, i, k = 0;
    uint32_t nsent;

    origin[0] = 0;
    if (cur != NULL && cur->kind == RT_MSG_INIT && sender->durable) {
        if (init_origin(sender, origin) != 0) {
            origin[0] = 0;
            fresh_id(id);
            return;
        }
    } else if (cur == NULL || !cur->durable || cur->kind != RT_MSG_SEND) {
        fresh_id(id);
        return;
    } else {
        memcpy(origin, cur->b, RT_ID_LEN + 1);
    }
    nsent = sender->op->nsent++;
    n = (size_t)snprintf((char *)in, sizeof in, "theater-msg:%s:%u", origin, nsent);
    if (base_sha256(in, n, h) != 0) {
        fresh_id(id);
        origin[0] = 0;
        return;
    }
    h[6] = (uint8_t)((h[6] & 0x0f) | 0x50); /* the shape of a UUID (name-based) */
    h[8] = (uint8_t)((h[8] & 0x3f) | 0x80);
    for (i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            id[k++] = '-';
        id[k++] = hexd[h[i] >> 4];
        id[k++] = hexd[h[i] & 15];
    }
    id[k] = 0;
}

void rt_durable_post(rt_runtime *rt, rt_actor *sender, rt_actor *t, rt_msg *m)
{
    dur_job *j = calloc(1, sizeof *j);

    if (j == NULL) {
        rt_reply_complete(rt, &m->reply, TH_ENOMEM, false, NULL, 0, "out of memory");
        rt_msg_free(m);
        return;
    }
    j->kind = DJ_MSG;
    message_id(sender, m->b, j->origin);
    m->durable = true;
    rt_actor_ref(t);
    j->target = t;
    j->m = m;
    job_push(rt->durable, j);
}

bool rt_durable_started(rt_actor *a)
{
    rt_durable *d = a->rt->durable;
    th_error err;
    dur_job *j;

    if (d == NULL || !a->durable)
        return false;
    /* the init's result first: a record (and an answered spawn) whose
     * init is not on the chain would run that init again after a crash,
     * and what it did (spawns) would be done twice */
    th_error_clear(&err);
    if (rt_record_flush(a, &err) != 0)
        rt_log(a->rt, a->id, a->spec->name,
               "the end of init is not durable yet (%s): a crash now runs it again", err.msg);
    j = calloc(1, sizeof *j);
    if (j == NULL) {
        rt_log(a->rt, a->id, a->spec->name,
               "out of memory: the actor will not survive a restart of the daemon");
        return false;
    }
    j->kind = DJ_ACTOR_ADD;
    rt_actor_ref(a);
    j->target = a;
    if (a->parent != NULL)
        memcpy(j->parent, a->parent->id, sizeof j->parent);
    j->manifest_path = a->spec->manifest_path ? strdup(a->spec->manifest_path) : NULL;
    j->manifest_text = strdup(a->spec->manifest_text ? a->spec->manifest_text : "");
    j->base_dir = a->spec->base_dir ? strdup(a->spec->base_dir) : NULL;
    j->has_init = a->has_init_state;
    j->init = a->has_init_state ? rt_memdup(a->init_state, a->init_state_len) : NULL;
    j->init_len = a->init_state_len;
    if (j->manifest_text == NULL || (a->spec->manifest_path && !j->manifest_path) ||
        (a->spec->base_dir && !j->base_dir) || (j->has_init && j->init == NULL)) {
        job_free(j);
        rt_log(a->rt, a->id, a->spec->name,
               "out of memory: the actor will not survive a restart of the daemon");
        return false;
    }
    /* the spawner hears of it once the record is durable */
    j->init_sync = a->init_sync;
    a->init_sync = NULL;
    j->init_reply = a->init_reply;
    memset(&a->init_reply, 0, sizeof a->init_reply);
    job_push(d, j);
    return true;
}

void rt_durable_ended(rt_actor *a)
{
    rt_durable *d = a->rt->durable;
    dur_job *j;

    if (d == NULL || !a->durable || (j = calloc(1, sizeof *j)) == NULL)
        return; /* the restore sees the end on the chain */
    j->kind = DJ_ACTOR_DEL;
    memcpy(j->id, a->id, sizeof j->id);
    job_push(d, j);
}

void rt_durable_restarted(rt_actor *a)
{
    rt_durable *d = a->rt->durable;
    dur_job *j;

    if (d == NULL || !a->durable || (j = calloc(1, sizeof *j)) == NULL)
        return; /* the rows of the old init are kept until the actor ends */
    j->kind = DJ_RESTARTED;
    memcpy(j->id, a->id, sizeof j->id);
    job_push(d, j);
}

void rt_durable_dropped(rt_actor *a, const rt_msg *m)
{
    rt_durable *d = a->rt->durable;
    dur_job *j;

    if (d == NULL || !m->durable || m->kind != RT_MSG_SEND || (j = calloc(1, sizeof *j)) == NULL)
        return;
    j->kind = DJ_HANDLED;
    memcpy(j->id, m->b, sizeof j->id);
    memcpy(j->actor, a->id, sizeof j->actor);
    j->seq = UINT64_MAX;
    job_push(d, j);
}

bool rt_durable_hold_reply(rt_actor *a, const rt_msg *key, rt_reply *reply, int status,
                           bool has_resp, const uint8_t *resp, size_t len, const char *text)
{
    rt_durable *d = a->rt->durable;
    dur_held *h;

    if (d == NULL)
        return false; /* not a daemon (a replay): answered at once */
    h = calloc(1, sizeof *h);
    if (h == NULL || (has_resp && (h->resp = rt_memdup(resp, len)) == NULL) ||
        (text != NULL && (h->text = strdup(text)) == NULL)) {
        if (h != NULL)
            held_free(h);
        return false; /* the caller answers at once */
    }
    memcpy(h->id, key->b, sizeof h->id);
    h->reply = *reply;
    memset(reply, 0, sizeof *reply);
    h->status = status;
    h->has_resp = has_resp;
    h->len = len;
    pthread_mutex_lock(&d->hlock);
    h->next = d->held;
    d->held = h;
    pthread_mutex_unlock(&d->hlock);
    return true;
}
