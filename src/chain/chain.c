/*
 * chain.c - the chain handle: open/close, the in-memory head of every chain,
 * append (hash in the caller's thread, queue) and the writer thread (group
 * commit into SQLite, signed heads, durability tickets, listeners).
 *
 * Invariants:
 *  - Each chain's in-memory head (next_seq, last hash) changes only under
 *    that chain's mutex, and an event is queued before the mutex is
 *    released, so the queue holds every chain's events in seq order.
 *  - Tickets are assigned under the queue mutex in queue order; the writer
 *    commits the queue in order, so "durable >= t" means every event with
 *    ticket <= t is in the database.
 *  - A batch's events, new chain rows and signed heads are one SQLite
 *    transaction: after a crash the database holds whole batches only.
 *  - Only the writer thread touches the write connection, the prepared
 *    statements and the chain_actor fields marked "writer".
 */
#define _GNU_SOURCE /* gettid */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "base/block.h"
#include "base/clock.h"
#include "base/hex.h"
#include "base/limits.h"
#include "base/sha256.h"
#include "chain/chain_int.h"
#include "db/db.h"
#include "theater/store.h"
#include "theater/home.h"

typedef struct chain_actor {
    struct chain_actor *hnext; /* hash bucket chain */
    uint64_t hkey;             /* hash of the name */
    int64_t id;                /* chain_actor.id */
    pthread_mutex_t lock;      /* guards next_seq and last */
    uint64_t next_seq;
    uint8_t last[32];
    uint64_t stored_next; /* writer: first seq not yet stored */
    int persisted;        /* writer: the chain_actor row exists */
    uint64_t batch_no;    /* writer: last batch that touched this chain */
    uint32_t slot;        /* writer: index in that batch's touched list */
    uint64_t batch_first; /* writer: first seq within the current batch */
    uint64_t head_seq;    /* writer: head within the current batch */
    uint8_t head_hash[32];
    int dirty;                      /* writer: span/head not yet in chain_span/chain_actor */
    uint64_t span_first, span_last; /* writer: seqs of the pending span */
    uint64_t *segs;                 /* writer: segments of the pending span */
    size_t nsegs, capsegs;
    size_t name_len;
    char name[];
} chain_actor;

typedef struct chain_pending {
    /* What the writer's walks over a batch read (drain, free) comes first,
     * in one cache line: the entries were written on another core. */
    struct chain_pending *next;
    size_t size; /* bytes allocated, for the queue limit */
    uint64_t ticket;
    chain_actor *actor;
    uint64_t seq, ts;
    uint32_t type_len, desc_len;
    size_t data_len;
    int has_parent;
    int has_desc;
    uint8_t hash[32];
    uint8_t parent[32];
    /* An event recorded by content reference (chain_int.h): the content
     * itself, stored in store_blob in the event's transaction. */
    const uint8_t *content; /* into buf, after data; NULL if none */
    size_t content_len;
    uint8_t content_hash[32];
    char buf[]; /* type NUL, description NUL (if any), data, content */
} chain_pending;

/* Queue entries are recycled blocks (base/block.h): allocated by appending
 * threads, freed by the writer. */
static void pending_free(chain_pending *p);

static void wal_finish(th_chain *c, int reset);

typedef struct chain_listener_slot {
    th_chain_listener fn;
    void *userdata;
    uint64_t id;
} chain_listener_slot;

struct th_chain {
    char home[4096];
    bool read_only;
    unsigned batch_max, batch_ms;
    sqlite3 *rdb; /* read connection (reads, verification) */
    pthread_mutex_t rlock;
    uint8_t trusted[32];
    int has_trusted;

    /* Writer side (unused when read-only). */
    sqlite3 *wdb;
    EVP_PKEY *key;
    uint8_t pub[32];
    int lock_fd;
    sqlite3_stmt *ins_segment, *ins_actor, *ins_span, *upd_head, *set_indexed;
    sqlite3_stmt *ins_blob, *ins_content, *ins_store;
    uint64_t commit_no, batch_no;
    chain_actor **touched;
    size_t cap_touched;
    uint8_t (*leaves)[32];
    uint8_t *seg; /* segment being encoded */
    size_t seg_cap;
    chain_actor **dirty; /* chains with a pending span, not in the round */
    size_t ndirty, cap_dirty;
    chain_actor **round; /* chains being indexed in the current round */
    size_t nround, cap_round, round_pos;
    uint64_t round_upto; /* indexed_upto once the round is written */
    int round_active;
    uint64_t last_flush_ns; /* when the last round started */
    uint64_t flush_ns;      /* interval between rounds */

    /* Actor table. */
    pthread_rwlock_t tlock;
    chain_actor **buckets;
    size_t nbuckets, nactors;
    int64_t next_actor_id;

    /* Queue. */
    pthread_mutex_t qlock;
    pthread_cond_t qcv; /* writer: work arrived or stop */
    pthread_cond_t dcv; /* waiters: durable advanced, space freed, failure */
    pthread_cond_t ccv; /* checkpointer: stop */
    chain_pending *qhead, *qtail;
    size_t qcount, qbytes;
    uint64_t oldest_ns; /* when the oldest queued event was appended */
    uint64_t last_ticket, durable;
    int stopping, failed;
    /* The writer could not store events (disk full, I/O error...) and
     * retries: nothing is dropped (see the writer's comment). */
    int stalled;
    int pending_fd;       /* chain.pending (pending.c); -1 if none */
    int pending_dirty;    /* writer: it holds a non-empty record */
    uint64_t pending_ns;  /* writer: when it was last written */
    atomic_int unhealthy; /* stalled || failed, read without the lock */
    uint64_t stalled_since_ms, stall_retries, stop_ns;
    char stall_msg[TH_ERROR_MSG_MAX];
    int wal_reset;             /* the checkpointer asks the writer to finish a checkpoint */
    int wal_frames;            /* WAL frames (4 KiB pages) that call for a reset */
    int wal_now;               /* writer: frames in the WAL after its last commit */
    pthread_mutex_t ckpt_lock; /* held while the writer or the checkpointer checkpoints */
    char fail_msg[TH_ERROR_MSG_MAX];
    int fail_code; /* TH_EIO, or TH_ENOMEM when the writer ran out of memory */
    pthread_t writer;
    int writer_started;

    /* Checkpointer: copies the WAL into the database off the writer thread. */
    sqlite3 *cdb;
    pthread_t checkpointer;
    int checkpointer_started;

    /* Listeners. */
    pthread_mutex_t llock;
    chain_listener_slot *listeners;
    size_t nlisteners;
    uint64_t next_listener;
};

/* ---- actor table ---- */

static uint64_t name_hash(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    size_t i;

    for (i = 0; i < n; i++) {
        h ^= (uint8_t)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

static chain_actor *table_find(th_chain *c, const char *name, size_t n, uint64_t h)
{
    chain_actor *a;

    if (c->nbuckets == 0)
        return NULL;
    for (a = c->buckets[h & (c->nbuckets - 1)]; a != NULL; a = a->hnext)
        if (a->hkey == h && a->name_len == n && memcmp(a->name, name, n) == 0)
            return a;
    return NULL;
}

/* Insert under the write lock; grows the table at load factor 1. */
static int table_insert(th_chain *c, chain_actor *a)
{
    chain_actor **nb, *x, *next;
    size_t nn, i;

    if (c->nactors + 1 > c->nbuckets) {
        nn = c->nbuckets ? c->nbuckets * 2 : 1024;
        nb = calloc(nn, sizeof *nb);
        if (nb == NULL)
            return TH_ENOMEM;
        for (i = 0; i < c->nbuckets; i++)
            for (x = c->buckets[i]; x != NULL; x = next) {
                next = x->hnext;
                x->hnext = nb[x->hkey & (nn - 1)];
                nb[x->hkey & (nn - 1)] = x;
            }
        free(c->buckets);
        c->buckets = nb;
        c->nbuckets = nn;
    }
    a->hnext = c->buckets[a->hkey & (c->nbuckets - 1)];
    c->buckets[a->hkey & (c->nbuckets - 1)] = a;
    c->nactors++;
    return TH_OK;
}

static chain_actor *actor_new(const char *name, size_t n, uint64_t h)
{
    chain_actor *a = calloc(1, sizeof *a + n + 1);

    if (a == NULL)
        return NULL;
    a->hkey = h;
    a->name_len = n;
    memcpy(a->name, name, n);
    pthread_mutex_init(&a->lock, NULL);
    return a;
}

/* Find a chain, creating it if `create`.  NULL if absent or out of memory
 * (*created tells a new chain apart). */
static chain_actor *actor_get(th_chain *c, const char *name, size_t n, int create, int *created)
{
    uint64_t h = name_hash(name, n);
    chain_actor *a;

    *created = 0;
    pthread_rwlock_rdlock(&c->tlock);
    a = table_find(c, name, n, h);
    pthread_rwlock_unlock(&c->tlock);
    if (a != NULL || !create)
        return a;
    pthread_rwlock_wrlock(&c->tlock);
    a = table_find(c, name, n, h);
    if (a == NULL && (a = actor_new(name, n, h)) != NULL) {
        a->id = c->next_actor_id++;
        if (table_insert(c, a) != TH_OK) {
            pthread_mutex_destroy(&a->lock);
            free(a);
            a = NULL;
        } else {
            *created = 1;
        }
    }
    pthread_rwlock_unlock(&c->tlock);
    return a;
}

static void table_free(th_chain *c)
{
    chain_actor *a, *next;
    size_t i;

    for (i = 0; i < c->nbuckets; i++)
        for (a = c->buckets[i]; a != NULL; a = next) {
            next = a->hnext;
            pthread_mutex_destroy(&a->lock);
            free(a->segs);
            free(a);
        }
    free(c->buckets);
    c->buckets = NULL;
    c->nbuckets = c->nactors = 0;
}

/* ---- the writer ---- */

static void set_failed(th_chain *c, int code, const char *msg)
{
    pthread_mutex_lock(&c->qlock);
    if (!c->failed) {
        c->failed = 1;
        c->fail_code = code == TH_ENOMEM ? TH_ENOMEM : TH_EIO;
        snprintf(c->fail_msg, sizeof c->fail_msg, "%s", msg);
    }
    atomic_store(&c->unhealthy, 1);
    pthread_cond_broadcast(&c->dcv);
    pthread_mutex_unlock(&c->qlock);
}

/* The writer could not store what it holds: note it (status, waiters). */
static void set_stalled(th_chain *c, const char *msg)
{
    pthread_mutex_lock(&c->qlock);
    if (!c->stalled) {
        c->stalled = 1;
        c->stalled_since_ms = base_clock_wall_ms();
        c->stall_retries = 0;
    }
    c->stall_retries++;
    snprintf(c->stall_msg, sizeof c->stall_msg, "%s", msg);
    atomic_store(&c->unhealthy, 1);
    pthread_cond_broadcast(&c->dcv);
    pthread_mutex_unlock(&c->qlock);
}

/* A write succeeded: the writer is healthy again. */
static void clear_stalled(th_chain *c)
{
    if (!atomic_load(&c->unhealthy))
        return;
    pthread_mutex_lock(&c->qlock);
    c->stalled = 0;
    c->stalled_since_ms = 0;
    c->stall_msg[0] = '\0';
    atomic_store(&c->unhealthy, c->failed);
    pthread_cond_broadcast(&c->dcv);
    pthread_mutex_unlock(&c->qlock);
}

/* After a failed write: wait before retrying (`delay_ms`, doubled each
 * time up to CHAIN_RETRY_MAX_MS).  Returns 1 if the writer must give up:
 * the handle is closing and has retried for TH_CHAIN_CLOSE_RETRY_MS. */
#define CHAIN_RETRY_FIRST_MS 10u
#define CHAIN_RETRY_MAX_MS 1000u
static void deadline_after(struct timespec *ts, uint64_t mono_ns);
static int retry_wait(th_chain *c, unsigned *delay_ms)
{
    struct timespec ts;
    int give_up;

    pthread_mutex_lock(&c->qlock);
    give_up = c->stopping &&
              base_clock_mono_ns() - c->stop_ns >= (uint64_t)TH_CHAIN_CLOSE_RETRY_MS * 1000000u;
    if (!give_up) {
        deadline_after(&ts, base_clock_mono_ns() + (uint64_t)*delay_ms * 1000000u);
        pthread_cond_timedwait(&c->qcv, &c->qlock, &ts);
    }
    pthread_mutex_unlock(&c->qlock);
    *delay_ms = *delay_ms * 2 > CHAIN_RETRY_MAX_MS ? CHAIN_RETRY_MAX_MS : *delay_ms * 2;
    return give_up;
}

/* Give `a` a slot in the current batch's actor table (once per batch). */
static int touch(th_chain *c, chain_actor *a, size_t *ntouched)
{
    chain_actor **nt;
    void *leaves;
    size_t cap;

    if (a->batch_no == c->batch_no)
        return 0;
    if (*ntouched == c->cap_touched) {
        cap = c->cap_touched ? c->cap_touched * 2 : 1024;
        nt = realloc(c->touched, cap * sizeof *nt);
        if (nt != NULL)
            c->touched = nt;
        leaves = realloc(c->leaves, cap * 32);
        if (leaves != NULL)
            c->leaves = leaves;
        if (nt == NULL || leaves == NULL)
            return -1;
        c->cap_touched = cap;
    }
    a->batch_no = c->batch_no;
    a->slot = (uint32_t)*ntouched;
    c->touched[(*ntouched)++] = a;
    return 0;
}

static uint8_t *put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
    return p + 4;
}

static uint8_t *put64(uint8_t *p, uint64_t v)
{
    return put32(put32(p, (uint32_t)(v >> 32)), (uint32_t)v);
}

/* An unsigned LEB128 varint (segment.c); at most 10 bytes. */
static uint8_t *put_var(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

static uint8_t *put_str(uint8_t *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    p[n] = 0;
    return p + n + 1;
}

/* Bytes an event takes in a segment at most (format in segment.c): every
 * varint at its longest, seq and parent explicit. */
static size_t event_size(const chain_pending *p)
{
    return 1 + 5 + 10 + 10 + 32 + (p->has_parent ? 32 : 0) + 5 + p->type_len + 1 + 10 +
           p->data_len + (p->has_desc ? 5 + p->desc_len + 1 : 0);
}

/* Encode one v2 event.  a->head_seq/head_hash hold the actor's previous
 * event in this segment unless this is its first (seq == batch_first). */
static uint8_t *put_event(uint8_t *q, const chain_pending *p, uint64_t base)
{
    const char *desc = p->buf + p->type_len + 1;
    const char *data = desc + (p->has_desc ? p->desc_len + 1 : 0);
    const chain_actor *a = p->actor;
    int follows = p->seq != a->batch_first;
    uint8_t flags = 0;

    if (p->has_parent) {
        flags |= CHAIN_SEG_HAS_PARENT;
        if (follows && memcmp(p->parent, a->head_hash, 32) == 0)
            flags |= CHAIN_SEG_PARENT_IMPLICIT;
    }
    if (follows && p->seq == a->head_seq + 1)
        flags |= CHAIN_SEG_SEQ_IMPLICIT;
    if (p->has_desc)
        flags |= CHAIN_SEG_HAS_DESC;
    *q++ = flags;
    q = put_var(q, a->slot);
    if (!(flags & CHAIN_SEG_SEQ_IMPLICIT))
        q = put_var(q, p->seq);
    q = put_var(q, p->ts - base);
    memcpy(q, p->hash, 32);
    q += 32;
    if (p->has_parent && !(flags & CHAIN_SEG_PARENT_IMPLICIT)) {
        memcpy(q, p->parent, 32);
        q += 32;
    }
    q = put_str(put_var(q, p->type_len), p->buf, p->type_len);
    q = put_var(q, p->data_len);
    memcpy(q, data, p->data_len);
    q += p->data_len;
    if (p->has_desc)
        q = put_str(put_var(q, p->desc_len), desc, p->desc_len);
    return q;
}

/* Encode `n` events starting at `first` as one v2 segment in c->seg; the
 * touched chains get their slots and batch heads.  Returns the size, or 0
 * if out of memory. */
static size_t encode_segment(th_chain *c, chain_pending *first, size_t n, size_t *ntouched)
{
    size_t i, size = 8 + 10 + 10 + 10;
    uint64_t base = UINT64_MAX;
    chain_pending *p;
    uint8_t *q, *nb;
    chain_actor *a;

    *ntouched = 0;
    for (i = 0, p = first; i < n; i++, p = p->next) {
        a = p->actor;
        if (a->batch_no != c->batch_no) {
            if (touch(c, a, ntouched) != 0)
                return 0;
            a->batch_first = p->seq;
            size += 10 + a->name_len + 1;
        }
        if (p->ts < base)
            base = p->ts;
        size += event_size(p);
    }
    if (size > c->seg_cap) {
        nb = realloc(c->seg, size);
        if (nb == NULL)
            return 0;
        c->seg = nb;
        c->seg_cap = size;
    }
    q = c->seg;
    memcpy(q, chain_segment_magic, 8);
    q = put_var(q + 8, *ntouched);
    for (i = 0; i < *ntouched; i++)
        q = put_str(put_var(q, c->touched[i]->name_len), c->touched[i]->name,
                    c->touched[i]->name_len);
    q = put_var(q, base);
    q = put_var(q, n);
    /* The heads advance event by event: put_event compares each event with
     * its actor's previous one. */
    for (i = 0, p = first; i < n; i++, p = p->next) {
        q = put_event(q, p, base);
        p->actor->head_seq = p->seq;
        memcpy(p->actor->head_hash, p->hash, 32);
    }
    return (size_t)(q - c->seg);
}

/* Sign the batch: Merkle root over the touched chains' new heads. */
static int sign_batch(th_chain *c, size_t ntouched, uint64_t now, uint8_t sig[CHAIN_SIG_LEN],
                      th_error *err)
{
    base_sha256_ctx *ctx = chain_thread_sha256();
    uint8_t root[32], msg[CHAIN_BATCH_MSG_LEN];
    chain_actor *a;
    size_t i;

    if (ctx == NULL)
        return th_error_set(err, TH_ENOMEM, "out of memory");
    base_sha256_take_error(ctx);
    for (i = 0; i < ntouched; i++) {
        a = c->touched[i];
        chain_head_leaf(ctx, a->name, a->name_len, a->head_seq, a->head_hash, c->leaves[i]);
    }
    if (chain_merkle_build(ctx, (const uint8_t(*)[32])c->leaves, ntouched, root, NULL, NULL) != 0 ||
        base_sha256_take_error(ctx))
        return th_error_set(err, TH_ENOMEM, "building the head tree failed");
    chain_batch_message(c->commit_no + 1, now, ntouched, root, msg);
    base_crypto_clear();
    if (chain_key_sign(c->key, msg, sizeof msg, sig) != 0)
        return th_error_set(err, base_crypto_error_code(), "signing the chain heads failed");
    return TH_OK;
}

static int step_done(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);

    sqlite3_reset(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Remember that segment `seg` holds events of `a` up to a->head_seq. */
static int span_add(th_chain *c, chain_actor *a, uint64_t first_seq, uint64_t seg)
{
    uint64_t *ns;
    chain_actor **nd;
    size_t cap;

    if (!a->dirty) {
        if (c->ndirty == c->cap_dirty) {
            cap = c->cap_dirty ? c->cap_dirty * 2 : 1024;
            nd = realloc(c->dirty, cap * sizeof *nd);
            if (nd == NULL)
                return -1;
            c->dirty = nd;
            c->cap_dirty = cap;
        }
        c->dirty[c->ndirty++] = a;
        a->dirty = 1;
        a->span_first = first_seq;
        a->nsegs = 0;
    }
    if (a->nsegs == 0 || a->segs[a->nsegs - 1] != seg) {
        if (a->nsegs == a->capsegs) {
            cap = a->capsegs ? a->capsegs * 2 : 4;
            ns = realloc(a->segs, cap * sizeof *ns);
            if (ns == NULL)
                return -1;
            a->segs = ns;
            a->capsegs = cap;
        }
        a->segs[a->nsegs++] = seg;
    }
    a->span_last = a->head_seq;
    return 0;
}

/* The content of events recorded by reference goes into the store's
 * tables (in the store TH_CHAIN_CONTENT_STORE), in the transaction of the
 * segment that holds the reference: an event is never durable without its
 * content. */
static int store_contents(th_chain *c, chain_pending *first, size_t n, uint64_t now)
{
    chain_pending *p;
    int rc = SQLITE_OK, store_done = 0;
    size_t i;

    for (i = 0, p = first; i < n && rc == SQLITE_OK; i++, p = p->next) {
        if (p->content == NULL)
            continue;
        if (!store_done) {
            sqlite3_bind_text(c->ins_store, 1, TH_CHAIN_CONTENT_STORE, -1, SQLITE_STATIC);
            sqlite3_bind_int64(c->ins_store, 2, (sqlite3_int64)now);
            if ((rc = step_done(c->ins_store)) != SQLITE_OK)
                break;
            store_done = 1;
        }
        sqlite3_bind_blob(c->ins_blob, 1, p->content_hash, 32, SQLITE_STATIC);
        sqlite3_bind_int64(c->ins_blob, 2, (sqlite3_int64)p->content_len);
        sqlite3_bind_blob64(c->ins_blob, 3, p->content, p->content_len, SQLITE_STATIC);
        rc = step_done(c->ins_blob);
        if (rc == SQLITE_OK) {
            sqlite3_bind_text(c->ins_content, 1, TH_CHAIN_CONTENT_STORE, -1, SQLITE_STATIC);
            sqlite3_bind_blob(c->ins_content, 2, p->content_hash, 32, SQLITE_STATIC);
            rc = step_done(c->ins_content);
        }
    }
    return rc;
}

/* Store `n` events starting at `first` as one signed segment, in one
 * transaction together with the rows of chains seen for the first time. */
static int commit_batch(th_chain *c, chain_pending *first, size_t n, th_error *err)
{
    uint8_t sig[CHAIN_SIG_LEN];
    uint64_t now = base_clock_wall_ms();
    size_t i, ntouched, len;
    int rc;

    c->batch_no++;
    len = encode_segment(c, first, n, &ntouched);
    if (len == 0)
        return th_error_set(err, TH_ENOMEM, "out of memory encoding a segment");
    if ((rc = sign_batch(c, ntouched, now, sig, err)) != TH_OK)
        return rc;
    rc = sqlite3_exec(c->wdb, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return db_error(c->wdb, rc, err, "starting a chain transaction");
    rc = store_contents(c, first, n, now);
    for (i = 0; i < ntouched && rc == SQLITE_OK; i++) {
        if (c->touched[i]->persisted)
            continue;
        sqlite3_bind_int64(c->ins_actor, 1, c->touched[i]->id);
        sqlite3_bind_text(c->ins_actor, 2, c->touched[i]->name, (int)c->touched[i]->name_len,
                          SQLITE_STATIC);
        rc = step_done(c->ins_actor);
    }
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(c->ins_segment, 1, (sqlite3_int64)(c->commit_no + 1));
        sqlite3_bind_int64(c->ins_segment, 2, (sqlite3_int64)now);
        sqlite3_bind_blob(c->ins_segment, 3, c->pub, 32, SQLITE_STATIC);
        sqlite3_bind_blob(c->ins_segment, 4, sig, sizeof sig, SQLITE_STATIC);
        sqlite3_bind_blob64(c->ins_segment, 5, c->seg, len, SQLITE_STATIC);
        sqlite3_bind_blob64(c->ins_segment, 6, c->leaves, ntouched * 32, SQLITE_STATIC);
        rc = step_done(c->ins_segment);
    }
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(c->wdb, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        rc = db_error(c->wdb, rc, err, "storing chain events");
        sqlite3_exec(c->wdb, "ROLLBACK", NULL, NULL, NULL);
        return rc;
    }
    c->commit_no++;
    for (i = 0; i < ntouched; i++) {
        c->touched[i]->persisted = 1;
        c->touched[i]->stored_next = c->touched[i]->head_seq + 1;
        if (span_add(c, c->touched[i], c->touched[i]->batch_first, c->commit_no) != 0)
            return th_error_set(err, TH_ENOMEM, "out of memory");
    }
    return TH_OK;
}

/* Index flush, in rounds: a round takes the chains with pending spans and
 * writes their spans and cached heads, CHAIN_FLUSH_CHUNK chains per
 * transaction (so a commit never waits long behind it); the last
 * transaction also sets indexed_upto to the last segment committed when the
 * round began.  Every chain touched by a segment <= that one is in the round,
 * so indexed_upto never claims a span that is not written.  Span rows are
 * keyed (actor, first_seq) and written with INSERT OR REPLACE, so a round cut
 * short by a crash is simply redone from the segments at the next open. */
#define CHAIN_FLUSH_CHUNK 64
#define CHAIN_FLUSH_MS 1000u /* default: a round starts at most once a second */

static int write_span(th_chain *c, chain_actor *a, uint8_t **blob, size_t *cap)
{
    uint8_t *nb;
    size_t k;
    int rc;

    if (a->nsegs * 8 > *cap) {
        nb = realloc(*blob, a->nsegs * 8);
        if (nb == NULL)
            return SQLITE_NOMEM;
        *blob = nb;
        *cap = a->nsegs * 8;
    }
    for (k = 0; k < a->nsegs; k++)
        put64(*blob + 8 * k, a->segs[k]);
    sqlite3_bind_int64(c->ins_span, 1, a->id);
    sqlite3_bind_int64(c->ins_span, 2, (sqlite3_int64)a->span_first);
    sqlite3_bind_int64(c->ins_span, 3, (sqlite3_int64)a->span_last);
    sqlite3_bind_blob(c->ins_span, 4, *blob, (int)(a->nsegs * 8), SQLITE_STATIC);
    rc = step_done(c->ins_span);
    if (rc != SQLITE_OK)
        return rc;
    sqlite3_bind_int64(c->upd_head, 1, (sqlite3_int64)a->span_last);
    sqlite3_bind_blob(c->upd_head, 2, a->head_hash, 32, SQLITE_STATIC);
    sqlite3_bind_int64(c->upd_head, 3, (sqlite3_int64)a->segs[a->nsegs - 1]);
    sqlite3_bind_int64(c->upd_head, 4, a->id);
    return step_done(c->upd_head);
}

/* One step of the index flush: start a round if `start` and chains are
 * pending, then write up to CHAIN_FLUSH_CHUNK chains of the round (all of
 * it if `all`). */
static int flush_step(th_chain *c, int start, int all, th_error *err)
{
    uint8_t *blob = NULL;
    chain_actor **t;
    size_t cap = 0, i, end;
    int rc;

    if (!c->round_active) {
        if (!start || c->ndirty == 0)
            return TH_OK;
        t = c->round;
        c->round = c->dirty;
        c->nround = c->ndirty;
        c->dirty = t;
        i = c->cap_round;
        c->cap_round = c->cap_dirty;
        c->cap_dirty = i;
        c->ndirty = 0;
        c->round_pos = 0;
        c->round_upto = c->commit_no;
        c->round_active = 1;
        c->last_flush_ns = base_clock_mono_ns();
    }
    end = all || c->nround - c->round_pos < CHAIN_FLUSH_CHUNK ? c->nround
                                                              : c->round_pos + CHAIN_FLUSH_CHUNK;
    rc = sqlite3_exec(c->wdb, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    for (i = c->round_pos; i < end && rc == SQLITE_OK; i++)
        rc = write_span(c, c->round[i], &blob, &cap);
    if (rc == SQLITE_OK && end == c->nround) {
        sqlite3_bind_int64(c->set_indexed, 1, (sqlite3_int64)c->round_upto);
        rc = step_done(c->set_indexed);
    }
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(c->wdb, "COMMIT", NULL, NULL, NULL);
    free(blob);
    if (rc != SQLITE_OK) {
        rc = db_error(c->wdb, rc, err, "indexing chains");
        sqlite3_exec(c->wdb, "ROLLBACK", NULL, NULL, NULL);
        return rc;
    }
    for (i = c->round_pos; i < end; i++) {
        c->round[i]->dirty = 0;
        c->round[i]->nsegs = 0;
    }
    c->round_pos = end;
    if (end == c->nround)
        c->round_active = 0;
    return TH_OK;
}

/* Flush everything pending (open, close). */
static int flush_index(th_chain *c, th_error *err)
{
    int rc = TH_OK;

    while (rc == TH_OK && (c->round_active || c->ndirty > 0))
        rc = flush_step(c, 1, 1, err);
    return rc;
}

/* 1 if the writer has index work it should do now. */
static int flush_due(th_chain *c)
{
    return c->round_active ||
           (c->ndirty > 0 && base_clock_mono_ns() - c->last_flush_ns >= c->flush_ns);
}

static void notify(th_chain *c, chain_pending *first, size_t n)
{
    th_chain_event ev;
    chain_pending *p;
    size_t i, k;

    pthread_mutex_lock(&c->llock);
    if (c->nlisteners == 0) {
        pthread_mutex_unlock(&c->llock);
        return;
    }
    for (i = 0, p = first; i < n; i++, p = p->next) {
        memset(&ev, 0, sizeof ev);
        ev.actor = p->actor->name;
        ev.seq = p->seq;
        memcpy(ev.hash, p->hash, 32);
        ev.has_parent = p->has_parent;
        memcpy(ev.parent, p->parent, 32);
        ev.type = p->buf;
        ev.timestamp_ms = p->ts;
        ev.description = p->has_desc ? p->buf + p->type_len + 1 : NULL;
        ev.data = (const uint8_t *)p->buf + p->type_len + 1 + (p->has_desc ? p->desc_len + 1 : 0);
        ev.data_len = p->data_len;
        for (k = 0; k < c->nlisteners; k++)
            c->listeners[k].fn(c->listeners[k].userdata, &ev);
    }
    pthread_mutex_unlock(&c->llock);
}

static void deadline_after(struct timespec *ts, uint64_t mono_ns)
{
    ts->tv_sec = (time_t)(mono_ns / 1000000000u);
    ts->tv_nsec = (long)(mono_ns % 1000000000u);
}

/* Writer: record in chain.pending every chain with events accepted but not
 * stored yet (pending.c), so that if the process ends before they are,
 * verification says so. */
static void pending_snapshot(th_chain *c, const char *reason)
{
    chain_pending_record r;
    chain_unstored *v;
    chain_actor *a;
    uint64_t next;
    size_t i, cap = 0, ncap;

    if (c->pending_fd < 0)
        return;
    memset(&r, 0, sizeof r);
    r.written_ms = base_clock_wall_ms();
    snprintf(r.reason, sizeof r.reason, "%s", reason);
    pthread_rwlock_rdlock(&c->tlock);
    for (i = 0; i < c->nbuckets; i++)
        for (a = c->buckets[i]; a != NULL; a = a->hnext) {
            pthread_mutex_lock(&a->lock);
            next = a->next_seq;
            pthread_mutex_unlock(&a->lock);
            if (next <= a->stored_next)
                continue;
            r.total++;
            if (r.count == cap) {
                ncap = cap ? cap * 2 : 64;
                if (ncap > CHAIN_PENDING_BYTES / 18 ||
                    (v = realloc(r.items, ncap * sizeof *v)) == NULL)
                    continue; /* counted in total, not listed */
                r.items = v;
                cap = ncap;
            }
            r.items[r.count].actor = a->name; /* borrowed */
            r.items[r.count].stored_next = a->stored_next;
            r.items[r.count].next_seq = next;
            r.count++;
        }
    pthread_rwlock_unlock(&c->tlock);
    if (r.count > 0 && chain_pending_write(c->pending_fd, &r) == 0) {
        c->pending_dirty = 1;
        c->pending_ns = base_clock_mono_ns();
    }
    free(r.items);
}

/* Writer open: a record left by a process that ended with events unstored
 * becomes a permanent "lost" record for each chain that ends before what
 * was assigned (the database is the truth of what is stored), then the
 * file is emptied. */
static int pending_recover(th_chain *c, th_error *err)
{
    chain_pending_record r;
    chain_unstored u;
    chain_actor *a;
    size_t i;
    int rc, alive, created;

    if ((rc = chain_pending_open(c->home, &c->pending_fd, err)) != TH_OK)
        return rc;
    rc = chain_pending_read(c->home, &r, &alive, err);
    if (rc == TH_ENOENT)
        return TH_OK;
    if (rc != TH_OK)
        return rc;
    for (i = 0; i < r.count && rc == TH_OK; i++) {
        a = actor_get(c, r.items[i].actor, strlen(r.items[i].actor), 0, &created);
        u = r.items[i];
        u.stored_next = a != NULL ? a->next_seq : 0;
        if (u.stored_next < u.next_seq)
            rc = chain_lost_record(c->wdb, &u, r.written_ms, r.reason, err);
    }
    chain_pending_release(&r);
    if (rc == TH_OK) {
        chain_pending_record empty = {0};
        if (chain_pending_write(c->pending_fd, &empty) != 0)
            rc = th_error_set(err, TH_EIO, "cannot empty %s/%s", c->home, CHAIN_PENDING_FILE);
    }
    return rc;
}

/* Commit one chunk, retrying while the database cannot take it (full
 * disk, I/O errors, another process holding the lock...): the events stay
 * queued, appenders see the writer "stalled" (th_chain_status) and the
 * runtime stops producing effects until it recovers.  Gives up only when
 * the handle is closing and TH_CHAIN_CLOSE_RETRY_MS have passed; returns
 * 0 if committed, -1 if given up (the writer has failed then). */
static int commit_retrying(th_chain *c, chain_pending *chunk, size_t n)
{
    unsigned delay = CHAIN_RETRY_FIRST_MS;
    th_error err;
    char msg[TH_ERROR_MSG_MAX];

    th_error_clear(&err);
    while (commit_batch(c, chunk, n, &err) != TH_OK) {
        set_stalled(c, err.msg);
        if (!c->pending_dirty || base_clock_mono_ns() - c->pending_ns >= 1000000000u)
            pending_snapshot(c, err.msg);
        if (retry_wait(c, &delay)) {
            pthread_mutex_lock(&c->qlock);
            snprintf(msg, sizeof msg, "%llu events could not be stored: %.440s",
                     (unsigned long long)(c->last_ticket - c->durable), err.msg);
            pthread_mutex_unlock(&c->qlock);
            pending_snapshot(c, err.msg); /* what verification will report lost */
            set_failed(c, err.code, msg);
            return -1;
        }
    }
    clear_stalled(c);
    if (c->pending_dirty) {
        chain_pending_record empty = {0};
        if (chain_pending_write(c->pending_fd, &empty) == 0)
            c->pending_dirty = 0;
    }
    return 0;
}

/* Commit a detached list in chunks of at most batch_max events and
 * TH_CHAIN_MAX_SEGMENT_BYTES (one event at least). */
static void drain(th_chain *c, chain_pending *list, int failed)
{
    chain_pending *p, *next, *chunk;
    uint64_t last_ticket = 0;
    size_t n, bytes, i;
    th_error err;
    int reset;

    while (list != NULL) {
        chunk = list;
        for (n = 0, bytes = 0, p = list; p != NULL && n < c->batch_max &&
                                         (n == 0 || bytes + p->size <= TH_CHAIN_MAX_SEGMENT_BYTES);
             p = p->next, n++) {
            bytes += p->size;
            last_ticket = p->ticket;
        }
        list = p;
        if (!failed && commit_retrying(c, chunk, n) != 0)
            failed = 1;
        if (!failed)
            notify(c, chunk, n);
        pthread_mutex_lock(&c->qlock);
        if (!failed)
            c->durable = last_ticket;
        c->qbytes -= bytes;
        reset = c->wal_reset;
        c->wal_reset = 0;
        pthread_cond_broadcast(&c->dcv);
        pthread_mutex_unlock(&c->qlock);
        for (i = 0, p = chunk; i < n; i++, p = next) {
            next = p->next;
            pending_free(p);
        }
        if (!failed)
            wal_finish(c, reset);
    }
    /* The index is redone from the segments at the next open if it cannot
     * be written: a failure here loses nothing, so it is retried later. */
    if (!failed && flush_due(c)) {
        if (flush_step(c, 1, 0, &err) != TH_OK)
            set_stalled(c, err.msg);
        else
            clear_stalled(c);
    }
}

static void *writer_main(void *arg)
{
    th_chain *c = arg;
    chain_pending *list;
    struct timespec ts;
    uint64_t deadline;
    th_error err;
    int failed;

    pthread_mutex_lock(&c->qlock);
    for (;;) {
        while (c->qhead == NULL && !c->stopping) {
            if ((c->ndirty == 0 && !c->round_active) || c->failed) {
                pthread_cond_wait(&c->qcv, &c->qlock);
                continue;
            }
            /* Idle with spans pending: index them within a second. */
            if (!flush_due(c)) {
                deadline_after(&ts, c->last_flush_ns + c->flush_ns);
                pthread_cond_timedwait(&c->qcv, &c->qlock, &ts);
                continue;
            }
            pthread_mutex_unlock(&c->qlock);
            if (flush_step(c, 1, 0, &err) != TH_OK) {
                unsigned delay = CHAIN_RETRY_MAX_MS;
                set_stalled(c, err.msg);
                (void)retry_wait(c, &delay);
            } else {
                clear_stalled(c);
            }
            pthread_mutex_lock(&c->qlock);
        }
        if (c->qhead == NULL)
            break;
        /* Group commit: wait for a full batch or the oldest event's deadline. */
        deadline = c->oldest_ns + (uint64_t)c->batch_ms * 1000000u;
        while (!c->stopping && c->qcount < c->batch_max && base_clock_mono_ns() < deadline) {
            deadline_after(&ts, deadline);
            pthread_cond_timedwait(&c->qcv, &c->qlock, &ts);
        }
        list = c->qhead;
        c->qhead = c->qtail = NULL;
        c->qcount = 0;
        failed = c->failed;
        pthread_mutex_unlock(&c->qlock);
        drain(c, list, failed);
        pthread_mutex_lock(&c->qlock);
    }
    failed = c->failed;
    pthread_mutex_unlock(&c->qlock);
    /* every event is stored; an index that cannot be written now is
     * rebuilt from the segments at the next open */
    if (!failed)
        (void)flush_index(c, &err);
    return NULL;
}

/* Load every chain from the database (writers, at open): the cached heads in
 * chain_actor, then the segments not yet indexed (after a crash), which are
 * indexed right away. */
static int table_load(th_chain *c, th_error *err)
{
    sqlite3_stmt *st = NULL;
    chain_segment seg;
    chain_actor *a;
    const char *name;
    uint64_t upto = 0, id;
    size_t i, n;
    int rc, created;

    rc = sqlite3_prepare_v2(c->wdb, "SELECT id, name, head_seq, head_hash FROM chain_actor", -1,
                            &st, NULL);
    while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        name = (const char *)sqlite3_column_text(st, 1);
        n = (size_t)sqlite3_column_bytes(st, 1);
        if (name == NULL || n == 0 || n > TH_CHAIN_MAX_ACTOR_BYTES) {
            sqlite3_finalize(st);
            return th_error_set(err, TH_ECORRUPT, "chain_actor row %lld is malformed",
                                (long long)sqlite3_column_int64(st, 0));
        }
        a = actor_new(name, n, name_hash(name, n));
        if (a == NULL || table_insert(c, a) != TH_OK) {
            free(a);
            sqlite3_finalize(st);
            return th_error_set(err, TH_ENOMEM, "out of memory loading chains");
        }
        a->id = sqlite3_column_int64(st, 0);
        a->persisted = 1;
        if (sqlite3_column_type(st, 2) == SQLITE_INTEGER && sqlite3_column_bytes(st, 3) == 32) {
            a->next_seq = (uint64_t)sqlite3_column_int64(st, 2) + 1;
            a->stored_next = a->next_seq;
            memcpy(a->last, sqlite3_column_blob(st, 3), 32);
        }
        if (a->id >= c->next_actor_id)
            c->next_actor_id = a->id + 1;
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    st = NULL;
    if (rc == SQLITE_DONE)
        rc = sqlite3_prepare_v2(c->wdb,
                                "SELECT coalesce((SELECT value FROM chain_meta WHERE key ="
                                " 'indexed_upto'), 0), coalesce(max(id), 0) FROM chain_segment",
                                -1, &st, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        upto = (uint64_t)sqlite3_column_int64(st, 0);
        c->commit_no = (uint64_t)sqlite3_column_int64(st, 1);
        rc = SQLITE_DONE;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return db_error(c->wdb, rc, err, "loading chains");
    /* Segments after indexed_upto: replay them into the in-memory heads. */
    for (id = upto + 1; id <= c->commit_no; id++) {
        if ((rc = chain_segment_load(c->wdb, id, &seg, err)) != TH_OK)
            return th_error_prefix(err, "recovering chains (run `theater chain verify`)");
        c->batch_no++;
        for (i = 0; i < seg.nevents; i++) {
            a = actor_get(c, seg.events[i].actor, strlen(seg.events[i].actor), 0, &created);
            if (a == NULL) {
                chain_segment_release(&seg);
                return th_error_set(err, TH_ECORRUPT, "segment %llu names unknown actor %s",
                                    (unsigned long long)id, seg.events[i].actor);
            }
            a->next_seq = seg.events[i].seq + 1;
            a->stored_next = a->next_seq;
            memcpy(a->last, seg.events[i].hash, 32);
            a->head_seq = seg.events[i].seq;
            memcpy(a->head_hash, seg.events[i].hash, 32);
            if (span_add(c, a, seg.events[i].seq, id) != 0) {
                chain_segment_release(&seg);
                return th_error_set(err, TH_ENOMEM, "out of memory");
            }
        }
        chain_segment_release(&seg);
    }
    return TH_OK;
}

/* The checkpointer thread: the writer's connection has auto-checkpoints
 * off, so its commits only append to the WAL; this thread copies committed
 * frames into the database (PASSIVE: it never blocks the writer or readers)
 * every CHAIN_CHECKPOINT_MS, and once more at close (never waiting for
 * readers, e.g. a CLI in another process).  The interval is short and the
 * thread's priority low: frequent small passes, each syncing what it wrote,
 * keep dirty data from piling up until the kernel throttles the writer.
 *
 * SQLite starts the WAL over only when a write begins after a checkpoint
 * that copied every frame.  Under a steady stream of commits the writer
 * always appends while this thread copies, so that never happens and the
 * WAL would grow without bound.  So when the WAL holds more than
 * wal_max_mib (wal_frames) after a pass, this thread copies again until at
 * most about CHAIN_WAL_TAIL_FRAMES are left, then sets wal_reset, and the
 * writer, between two commits, checkpoints those few frames (wal_finish):
 * the next commit then starts the WAL over, and the file's blocks are
 * reused instead of allocated.  SQLite syncs the database only at the end
 * of a checkpoint that copied every frame, so this thread also syncs it
 * after each of its passes (db_sync): the writer's final pass then pauses
 * commits for about 1-3 ms instead of one sync of everything copied since
 * the last restart (40-180 ms measured).  At lighter loads the WAL usually
 * starts over on its own in a quiet moment. */
#define CHAIN_CHECKPOINT_MS 25
#define CHAIN_CHECKPOINT_NICE 10 /* the checkpointer thread's nice value */
#define CHAIN_WAL_MAX_MIB 256    /* default wal_max_mib */
#define CHAIN_WAL_TAIL_FRAMES 64 /* left for the writer's final pass, about */
#define CHAIN_WAL_MAX_PASSES 16
#define CHAIN_WAL_HARD 2 /* the writer checkpoints itself past this many bounds */

/* SQLite's WAL hook on the writer's connection: the WAL's size after each
 * commit (writer thread). */
static int wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
    (void)db, (void)name;
    ((th_chain *)arg)->wal_now = frames;
    return SQLITE_OK;
}

/* Writer, between commits: checkpoint what is left if the checkpointer
 * asked for it (`reset`, taken from wal_reset by drain), or at once if the
 * WAL has grown past CHAIN_WAL_HARD times the bound (the disk cannot keep
 * up with checkpoints: the writer then slows down, and appenders with it,
 * rather than the WAL growing on). */
static void wal_finish(th_chain *c, int reset)
{
    if (reset || c->wal_now > CHAIN_WAL_HARD * c->wal_frames) {
        pthread_mutex_lock(&c->ckpt_lock); /* SQLite runs one checkpoint at a time */
        sqlite3_wal_checkpoint_v2(c->wdb, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        pthread_mutex_unlock(&c->ckpt_lock);
    }
}

/* Checkpointer: fsync the database file.  SQLite syncs it only at the end
 * of a checkpoint that copied every frame, so under steady appends all the
 * pages the passes copied would wait for that one sync, made while the
 * writer pauses (wal_finish); syncing after each pass keeps it short. */
static void db_sync(th_chain *c)
{
    sqlite3_file *f = NULL;

    if (sqlite3_file_control(c->cdb, "main", SQLITE_FCNTL_FILE_POINTER, &f) == SQLITE_OK &&
        f != NULL && f->pMethods != NULL)
        f->pMethods->xSync(f, SQLITE_SYNC_NORMAL);
}

/* Checkpointer, holding ckpt_lock: one PASSIVE pass, then sync what it
 * copied.  Returns the frames in the WAL. */
static int checkpoint_pass(th_chain *c)
{
    int nlog = 0, nckpt = 0;

    sqlite3_wal_checkpoint_v2(c->cdb, NULL, SQLITE_CHECKPOINT_PASSIVE, &nlog, &nckpt);
    if (nckpt > 0)
        db_sync(c);
    return nlog;
}

static void *checkpointer_main(void *arg)
{
    th_chain *c = arg;
    struct timespec ts;
    int stop, nlog, prev, pass;

    /* background work: let the writer and the appenders have the cores
     * first (raising one's own nice value needs no privilege) */
    (void)setpriority(PRIO_PROCESS, (id_t)gettid(), CHAIN_CHECKPOINT_NICE);

    pthread_mutex_lock(&c->qlock);
    for (;;) {
        stop = c->stopping;
        pthread_mutex_unlock(&c->qlock);
        if (stop)
            break;
        pthread_mutex_lock(&c->ckpt_lock);
        nlog = checkpoint_pass(c);
        /* a long WAL: copy again until a pass finds few new frames, so
         * that the writer's own final pass (it pauses commits) is short */
        for (pass = 0, prev = 0; nlog > c->wal_frames && nlog - prev > CHAIN_WAL_TAIL_FRAMES &&
                                 pass < CHAIN_WAL_MAX_PASSES;
             pass++) {
            prev = nlog;
            nlog = checkpoint_pass(c);
        }
        pthread_mutex_unlock(&c->ckpt_lock);
        pthread_mutex_lock(&c->qlock);
        if (nlog > c->wal_frames)
            c->wal_reset = 1;
        if (c->stopping)
            continue;
        deadline_after(&ts, base_clock_mono_ns() + CHAIN_CHECKPOINT_MS * 1000000u);
        pthread_cond_timedwait(&c->ccv, &c->qlock, &ts);
    }
    return NULL;
}

/* ---- open / close ---- */

static int prepare_writer(th_chain *c, th_error *err)
{
    static const struct {
        size_t off;
        const char *sql;
    } stmts[] = {
        {offsetof(th_chain, ins_segment),
         "INSERT INTO chain_segment(id, signed_ms, public_key, signature, events, leaves)"
         " VALUES(?, ?, ?, ?, ?, ?)"},
        {offsetof(th_chain, ins_actor), "INSERT INTO chain_actor(id, name) VALUES(?, ?)"},
        {offsetof(th_chain, ins_span),
         "INSERT OR REPLACE INTO chain_span(actor, first_seq, last_seq, segments)"
         " VALUES(?, ?, ?, ?)"},
        {offsetof(th_chain, upd_head),
         "UPDATE chain_actor SET head_seq = ?, head_hash = ?, head_segment = ? WHERE id = ?"},
        {offsetof(th_chain, set_indexed),
         "INSERT OR REPLACE INTO chain_meta(key, value) VALUES('indexed_upto', ?)"},
        {offsetof(th_chain, ins_blob),
         "INSERT OR IGNORE INTO store_blob(hash, size, data) VALUES(?, ?, ?)"},
        {offsetof(th_chain, ins_content),
         "INSERT OR IGNORE INTO store_content(store, hash) VALUES(?, ?)"},
        {offsetof(th_chain, ins_store), "INSERT OR IGNORE INTO store(id, created_ms) VALUES(?, ?)"},
    };
    size_t i;
    int rc;

    for (i = 0; i < sizeof stmts / sizeof stmts[0]; i++) {
        rc = sqlite3_prepare_v3(c->wdb, stmts[i].sql, -1, SQLITE_PREPARE_PERSISTENT,
                                (sqlite3_stmt **)((char *)c + stmts[i].off), NULL);
        if (rc != SQLITE_OK)
            return db_error(c->wdb, rc, err, "preparing chain statements");
    }
    return TH_OK;
}

/* Take the per-home writer lock (flock on chain.lock). */
static int take_writer_lock(th_chain *c, th_error *err)
{
    char path[4200];
    int rc;

    if ((rc = db_home_path(c->home, CHAIN_LOCK_FILE, path, sizeof path, err)) != TH_OK)
        return rc;
    c->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (c->lock_fd < 0)
        return th_error_set(err, TH_EIO, "cannot open %s: %s", path, strerror(errno));
    if (flock(c->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK)
            return th_error_set(err, TH_EBUSY,
                                "another process is appending to the chains of %s "
                                "(only one writer per THEATER_HOME; readers may open read-only)",
                                c->home);
        return th_error_set(err, TH_EIO, "cannot lock %s: %s", path, strerror(errno));
    }
    return TH_OK;
}

/* Writer set-up: lock, database, key, chains, statements, thread. */
static int open_writer(th_chain *c, bool sync_normal, th_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc;

    rc = db_open(c->home, sync_normal ? DB_SYNC_NORMAL : 0, &c->wdb, err);
    if (rc == TH_OK)
        rc = take_writer_lock(c, err);
    if (rc == TH_OK)
        rc = chain_key_load(c->home, 1, &c->key, err);
    if (rc != TH_OK)
        return rc;
    base_crypto_clear();
    if (chain_key_public(c->key, c->pub) != 0)
        return th_error_set(err, base_crypto_error_code(), "cannot read the public key");
    /* Remember the first key of this home (trust anchor if the key file is
     * lost). */
    rc = sqlite3_prepare_v2(c->wdb,
                            "INSERT OR IGNORE INTO chain_meta(key, value)"
                            " VALUES('public_key', ?)",
                            -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_blob(st, 1, c->pub, 32, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(c->wdb);
    sqlite3_finalize(st);
    if (rc != SQLITE_OK)
        return db_error(c->wdb, rc, err, "opening chains");
    c->next_actor_id = 1;
    if ((rc = prepare_writer(c, err)) != TH_OK || (rc = table_load(c, err)) != TH_OK ||
        (rc = flush_index(c, err)) != TH_OK || (rc = pending_recover(c, err)) != TH_OK)
        return rc;
    sqlite3_wal_autocheckpoint(c->wdb, 0);
    sqlite3_wal_hook(c->wdb, wal_hook, c);
    {
        char pragma[64];
        snprintf(pragma, sizeof pragma, "PRAGMA journal_size_limit=%lld",
                 (long long)c->wal_frames * 4096);
        sqlite3_exec(c->wdb, pragma, NULL, NULL, NULL);
    }
    if ((rc = db_open(c->home, 0, &c->cdb, err)) != TH_OK)
        return rc;
    if (pthread_create(&c->writer, NULL, writer_main, c) != 0)
        return th_error_set(err, TH_ENOMEM, "cannot start the chain writer thread");
    c->writer_started = 1;
    if (pthread_create(&c->checkpointer, NULL, checkpointer_main, c) != 0)
        return th_error_set(err, TH_ENOMEM, "cannot start the chain checkpointer thread");
    c->checkpointer_started = 1;
    return TH_OK;
}

static void load_trusted(th_chain *c)
{
    sqlite3_stmt *st = NULL;
    EVP_PKEY *key = NULL;

    if (c->key != NULL) {
        memcpy(c->trusted, c->pub, 32);
        c->has_trusted = 1;
        return;
    }
    if (chain_key_load(c->home, 0, &key, NULL) == TH_OK && chain_key_public(key, c->trusted) == 0) {
        c->has_trusted = 1;
        EVP_PKEY_free(key);
        return;
    }
    EVP_PKEY_free(key);
    if (sqlite3_prepare_v2(c->rdb, "SELECT value FROM chain_meta WHERE key = 'public_key'", -1, &st,
                           NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW && sqlite3_column_bytes(st, 0) == 32) {
        memcpy(c->trusted, sqlite3_column_blob(st, 0), 32);
        c->has_trusted = 1;
    }
    sqlite3_finalize(st);
}

int th_chain_open(const th_chain_config *cfg, th_chain **out, th_error *err)
{
    th_chain_config defaults = {0};
    pthread_condattr_t ca;
    th_chain *c;
    int rc;

    *out = NULL;
    if (cfg == NULL)
        cfg = &defaults;
    if (cfg->batch_max_events > 1000000u || cfg->batch_max_ms > 60000u ||
        cfg->index_flush_ms > 3600000u || cfg->wal_max_mib > 65536u)
        return th_error_set(err, TH_EINVAL,
                            "batch_max_events (<= 1000000), batch_max_ms "
                            "(<= 60000), index_flush_ms (<= 3600000) or "
                            "wal_max_mib (<= 65536) out of range");
    c = calloc(1, sizeof *c);
    if (c == NULL)
        return th_error_set(err, TH_ENOMEM, "out of memory");
    c->lock_fd = -1;
    c->pending_fd = -1;
    c->read_only = cfg->read_only != 0;
    c->batch_max = cfg->batch_max_events ? cfg->batch_max_events : TH_CHAIN_DEFAULT_BATCH_EVENTS;
    c->batch_ms = cfg->batch_max_ms ? cfg->batch_max_ms : TH_CHAIN_DEFAULT_BATCH_MS;
    c->flush_ns = (uint64_t)(cfg->index_flush_ms ? cfg->index_flush_ms : CHAIN_FLUSH_MS) * 1000000u;
    c->wal_frames = (int)((cfg->wal_max_mib ? cfg->wal_max_mib : CHAIN_WAL_MAX_MIB) * 256u);
    pthread_mutex_init(&c->rlock, NULL);
    pthread_mutex_init(&c->qlock, NULL);
    pthread_mutex_init(&c->llock, NULL);
    pthread_mutex_init(&c->ckpt_lock, NULL);
    pthread_rwlock_init(&c->tlock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->qcv, &ca);
    pthread_cond_init(&c->dcv, &ca);
    pthread_cond_init(&c->ccv, &ca);
    pthread_condattr_destroy(&ca);
    rc = th_home_resolve(cfg->home, c->home, sizeof c->home, err);
    if (rc == TH_OK && !c->read_only)
        rc = open_writer(c, cfg->sync_normal, err);
    if (rc == TH_OK)
        rc = db_open(c->home, DB_READONLY, &c->rdb, err);
    if (rc != TH_OK) {
        th_chain_close(c);
        return rc;
    }
    load_trusted(c);
    *out = c;
    return TH_OK;
}

int th_chain_close(th_chain *c)
{
    int rc = TH_OK;

    if (c == NULL)
        return TH_OK;
    if (c->writer_started) {
        pthread_mutex_lock(&c->qlock);
        c->stopping = 1;
        c->stop_ns = base_clock_mono_ns();
        pthread_cond_signal(&c->qcv);
        pthread_mutex_unlock(&c->qlock);
        pthread_join(c->writer, NULL);
    }
    if (c->checkpointer_started) {
        pthread_mutex_lock(&c->qlock);
        c->stopping = 1;
        pthread_cond_signal(&c->ccv);
        pthread_mutex_unlock(&c->qlock);
        pthread_join(c->checkpointer, NULL);
    }
    if (c->cdb != NULL)
        sqlite3_wal_checkpoint_v2(c->cdb, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    rc = c->failed ? c->fail_code : TH_OK;
    sqlite3_finalize(c->ins_segment);
    sqlite3_finalize(c->ins_actor);
    sqlite3_finalize(c->ins_span);
    sqlite3_finalize(c->upd_head);
    sqlite3_finalize(c->set_indexed);
    sqlite3_finalize(c->ins_blob);
    sqlite3_finalize(c->ins_content);
    sqlite3_finalize(c->ins_store);
    sqlite3_close_v2(c->wdb);
    sqlite3_close_v2(c->rdb);
    sqlite3_close_v2(c->cdb);
    if (c->pending_fd >= 0)
        close(c->pending_fd);
    if (c->lock_fd >= 0)
        close(c->lock_fd); /* releases the flock */
    EVP_PKEY_free(c->key);
    table_free(c);
    free(c->touched);
    free(c->leaves);
    free(c->seg);
    free(c->dirty);
    free(c->round);
    free(c->listeners);
    pthread_mutex_destroy(&c->rlock);
    pthread_mutex_destroy(&c->qlock);
    pthread_mutex_destroy(&c->llock);
    pthread_mutex_destroy(&c->ckpt_lock);
    pthread_rwlock_destroy(&c->tlock);
    pthread_cond_destroy(&c->qcv);
    pthread_cond_destroy(&c->dcv);
    pthread_cond_destroy(&c->ccv);
    free(c);
    return rc;
}

/* ---- append ---- */

static int check_text(const char *what, const char *s, size_t max, size_t *len, th_error *err)
{
    if (s == NULL)
        return th_error_set(err, TH_EINVAL, "%s is NULL", what);
    *len = strlen(s);
    if (*len > max)
        return th_error_set(err, TH_ETOOBIG, "%s is %zu bytes, above the limit %zu", what, *len,
                            max);
    return TH_OK;
}

/* Allocate a queue entry holding copies of the inputs (and of `content`,
 * clen bytes, for an event recorded by reference; may be NULL). */
static chain_pending *pending_new(const char *type, size_t tlen, const char *desc, size_t dlen,
                                  const void *data, size_t len, const void *content, size_t clen)
{
    size_t size = sizeof(chain_pending) + tlen + 1 + (desc ? dlen + 1 : 0) + len + clen;
    chain_pending *p = base_block_alloc(size);
    char *q;

    if (p == NULL)
        return NULL;
    p->next = NULL;
    p->size = size;
    p->type_len = (uint32_t)tlen;
    p->has_desc = desc != NULL;
    p->desc_len = (uint32_t)dlen;
    p->data_len = len;
    q = p->buf;
    memcpy(q, type, tlen + 1);
    q += tlen + 1;
    if (desc != NULL) {
        memcpy(q, desc, dlen + 1);
        q += dlen + 1;
    }
    if (len)
        memcpy(q, data, len);
    p->content = NULL;
    p->content_len = 0;
    if (content != NULL) {
        memcpy(q + len, content, clen);
        p->content = (const uint8_t *)q + len;
        p->content_len = clen;
    }
    return p;
}

static void pending_free(chain_pending *p)
{
    if (p != NULL)
        base_block_free(p, p->size);
}

/* Queue `p` (called with its chain's mutex held, so per-chain order holds)
 * and write its ticket to *ticket.  From then on the writer owns p and may
 * free it at any moment: the caller must not touch it again. */
static int enqueue(th_chain *c, chain_pending *p, uint64_t *ticket, th_error *err)
{
    uint64_t stalled_since = 0, now;
    struct timespec ts;

    pthread_mutex_lock(&c->qlock);
    /* a full queue waits for the writer; behind a stalled writer at most
     * TH_CHAIN_APPEND_STALL_MS (so that nobody waits forever on a full disk) */
    while (c->qbytes > TH_CHAIN_MAX_QUEUE_BYTES && !c->failed) {
        now = base_clock_mono_ns();
        if (!c->stalled) {
            stalled_since = 0;
        } else if (stalled_since == 0) {
            stalled_since = now;
        } else if (now - stalled_since >= (uint64_t)TH_CHAIN_APPEND_STALL_MS * 1000000u) {
            pthread_mutex_unlock(&c->qlock);
            return th_error_set(err, TH_EIO,
                                "the chain writer cannot store events and its queue "
                                "is full (%zu bytes): %.300s",
                                c->qbytes, c->stall_msg);
        }
        deadline_after(&ts, now + 100000000u);
        pthread_cond_timedwait(&c->dcv, &c->qlock, &ts);
    }
    if (c->failed || c->stopping) {
        pthread_mutex_unlock(&c->qlock);
        return th_error_set(err, c->failed ? c->fail_code : TH_ECLOSED, "chain writer %s: %s",
                            c->failed ? "failed" : "stopped", c->failed ? c->fail_msg : "closing");
    }
    p->ticket = *ticket = ++c->last_ticket;
    if (c->qtail != NULL) {
        c->qtail->next = p;
    } else {
        c->qhead = p;
        c->oldest_ns = base_clock_mono_ns();
    }
    c->qtail = p;
    c->qcount++;
    c->qbytes += p->size;
    if (c->qcount == 1 || c->qcount == c->batch_max)
        pthread_cond_signal(&c->qcv);
    pthread_mutex_unlock(&c->qlock);
    return TH_OK;
}

int th_chain_append(th_chain *c, const char *actor, const char *type, const void *data, size_t len,
                    const char *description, th_chain_receipt *receipt, th_error *err)
{
    size_t alen = 0, tlen = 0, dlen = 0, clen = 0, rlen;
    char ref[CHAIN_CONTENT_REF_MAX];
    const void *content = NULL;
    uint8_t chash[32];
    th_chain_receipt r;
    base_sha256_ctx *ctx;
    chain_pending *p;
    chain_actor *a;
    int rc, created;

    if (c->read_only)
        return th_error_set(err, TH_EPERM, "chains opened read-only");
    if ((rc = check_text("actor id", actor, TH_CHAIN_MAX_ACTOR_BYTES, &alen, err)) != TH_OK ||
        (rc = check_text("event type", type, TH_CHAIN_MAX_TYPE_BYTES, &tlen, err)) != TH_OK ||
        (description != NULL && (rc = check_text("description", description,
                                                 TH_CHAIN_MAX_DESC_BYTES, &dlen, err)) != TH_OK))
        return rc;
    if (alen == 0 || tlen == 0)
        return th_error_set(err, TH_EINVAL, "empty %s", alen == 0 ? "actor id" : "event type");
    if (data == NULL && len != 0)
        return th_error_set(err, TH_EINVAL, "NULL event data");
    if (len > TH_CHAIN_MAX_DATA_BYTES) {
        /* by content reference: the bytes go to the store, the event holds
         * their hash (chain_int.h) */
        if (len > TH_CHAIN_MAX_CONTENT_BYTES)
            return th_error_set(err, TH_ETOOBIG, "event data is %zu bytes, above the limit %llu",
                                len, (unsigned long long)TH_CHAIN_MAX_CONTENT_BYTES);
        if (description != NULL)
            return th_error_set(err, TH_EINVAL,
                                "an event of more than %u bytes (recorded by "
                                "content reference) cannot have a description",
                                TH_CHAIN_MAX_DATA_BYTES);
        if (base_sha256(data, len, chash) != 0)
            return th_error_set(err, TH_ENOMEM, "SHA-256 failed");
        rlen = chain_content_ref_encode(chash, len, ref);
        content = data;
        clen = len;
        data = ref;
        len = rlen;
        description = TH_CHAIN_CONTENT_REF_DESC;
        dlen = strlen(description);
    }
    ctx = chain_thread_sha256();
    p = pending_new(type, tlen, description, dlen, data, len, content, clen);
    a = actor_get(c, actor, alen, 1, &created);
    if (ctx == NULL || p == NULL || a == NULL) {
        pending_free(p);
        return th_error_set(err, TH_ENOMEM, "out of memory");
    }
    if (content != NULL)
        memcpy(p->content_hash, chash, 32);
    pthread_mutex_lock(&a->lock);
    p->actor = a;
    p->seq = a->next_seq;
    p->ts = base_clock_wall_ms();
    p->has_parent = p->seq > 0;
    if (p->has_parent)
        memcpy(p->parent, a->last, 32);
    if (chain_event_hash(ctx, p->has_parent ? p->parent : NULL, p->ts, type, tlen, len ? data : "",
                         len, description, dlen, p->hash) != 0) {
        pthread_mutex_unlock(&a->lock);
        pending_free(p);
        return th_error_set(err, TH_ENOMEM, "SHA-256 failed (out of memory)");
    }
    memcpy(r.hash, p->hash, 32);
    r.seq = p->seq;
    r.timestamp_ms = p->ts;
    rc = enqueue(c, p, &r.ticket, err); /* p belongs to the writer now */
    if (rc == TH_OK) {
        a->next_seq++;
        memcpy(a->last, r.hash, 32);
    }
    pthread_mutex_unlock(&a->lock);
    if (rc != TH_OK)
        pending_free(p);
    else if (receipt != NULL)
        *receipt = r;
    return rc;
}

int chain_import_event(th_chain *c, const th_chain_event *ev, const void *content, size_t clen,
                       const uint8_t *chash, uint64_t *ticket, th_error *err)
{
    size_t alen = strlen(ev->actor), tlen = strlen(ev->type);
    size_t dlen = ev->description ? strlen(ev->description) : 0;
    chain_pending *p;
    chain_actor *a;
    int rc, created;

    if (c->read_only)
        return th_error_set(err, TH_EPERM, "chains opened read-only");
    p = pending_new(ev->type, tlen, ev->description, dlen, ev->data, ev->data_len, content, clen);
    a = actor_get(c, ev->actor, alen, 1, &created);
    if (p == NULL || a == NULL) {
        pending_free(p);
        return th_error_set(err, TH_ENOMEM, "out of memory");
    }
    if (content != NULL)
        memcpy(p->content_hash, chash, 32);
    pthread_mutex_lock(&a->lock);
    if (a->next_seq != ev->seq || (ev->seq > 0 && memcmp(a->last, ev->parent, 32) != 0)) {
        pthread_mutex_unlock(&a->lock);
        pending_free(p);
        return th_error_set(err, TH_EEXIST, "actor %s already has a chain here (at seq %llu)",
                            ev->actor, (unsigned long long)a->next_seq);
    }
    p->actor = a;
    p->seq = ev->seq;
    p->ts = ev->timestamp_ms;
    p->has_parent = ev->has_parent;
    memcpy(p->parent, ev->parent, 32);
    memcpy(p->hash, ev->hash, 32);
    rc = enqueue(c, p, ticket, err); /* p belongs to the writer now */
    if (rc == TH_OK) {
        a->next_seq++;
        memcpy(a->last, ev->hash, 32);
    }
    pthread_mutex_unlock(&a->lock);
    if (rc != TH_OK)
        pending_free(p);
    return rc;
}

const char *chain_home(th_chain *c)
{
    return c->home;
}

bool chain_is_read_only(th_chain *c)
{
    return c->read_only;
}

int chain_actor_known(th_chain *c, const char *actor)
{
    int created;

    return actor_get(c, actor, strlen(actor), 0, &created) != NULL;
}

/* ---- durability ---- */

int th_chain_wait_durable(th_chain *c, uint64_t ticket, int timeout_ms, th_error *err)
{
    uint64_t deadline =
        base_clock_mono_ns() + (uint64_t)(timeout_ms < 0 ? 0 : timeout_ms) * 1000000u;
    struct timespec ts;
    int rc = TH_OK;

    pthread_mutex_lock(&c->qlock);
    while (c->durable < ticket && !c->failed) {
        if (timeout_ms < 0) {
            pthread_cond_wait(&c->dcv, &c->qlock);
            continue;
        }
        if (base_clock_mono_ns() >= deadline) {
            rc = th_error_set(err, TH_ETIMEDOUT, "event %llu not durable after %d ms",
                              (unsigned long long)ticket, timeout_ms);
            break;
        }
        deadline_after(&ts, deadline);
        pthread_cond_timedwait(&c->dcv, &c->qlock, &ts);
    }
    if (rc == TH_OK && c->durable < ticket)
        rc = th_error_set(err, c->fail_code, "chain writer failed: %s", c->fail_msg);
    pthread_mutex_unlock(&c->qlock);
    return rc;
}

int th_chain_flush(th_chain *c, int timeout_ms, th_error *err)
{
    uint64_t t;

    if (c->read_only)
        return TH_OK;
    pthread_mutex_lock(&c->qlock);
    t = c->last_ticket;
    pthread_mutex_unlock(&c->qlock);
    return th_chain_wait_durable(c, t, timeout_ms, err);
}

void th_chain_status_get(th_chain *c, th_chain_status *out)
{
    memset(out, 0, sizeof *out);
    out->read_only = c->read_only;
    if (c->read_only)
        return;
    pthread_mutex_lock(&c->qlock);
    out->stalled = c->stalled;
    out->failed = c->failed;
    out->stalled_since_ms = c->stalled_since_ms;
    out->retries = c->stall_retries;
    out->pending_events = c->last_ticket - c->durable;
    out->pending_bytes = c->qbytes;
    snprintf(out->message, sizeof out->message, "%s",
             c->failed    ? c->fail_msg
             : c->stalled ? c->stall_msg
                          : "");
    pthread_mutex_unlock(&c->qlock);
}

bool th_chain_healthy(th_chain *c)
{
    return !atomic_load(&c->unhealthy);
}

uint64_t th_chain_durable_ticket(th_chain *c)
{
    uint64_t t;

    pthread_mutex_lock(&c->qlock);
    t = c->durable;
    pthread_mutex_unlock(&c->qlock);
    return t;
}

/* ---- listeners ---- */

int th_chain_subscribe(th_chain *c, th_chain_listener fn, void *userdata, uint64_t *id,
                       th_error *err)
{
    chain_listener_slot *n;

    if (fn == NULL)
        return th_error_set(err, TH_EINVAL, "NULL listener");
    pthread_mutex_lock(&c->llock);
    n = realloc(c->listeners, (c->nlisteners + 1) * sizeof *n);
    if (n == NULL) {
        pthread_mutex_unlock(&c->llock);
        return th_error_set(err, TH_ENOMEM, "out of memory");
    }
    c->listeners = n;
    n[c->nlisteners].fn = fn;
    n[c->nlisteners].userdata = userdata;
    n[c->nlisteners].id = ++c->next_listener;
    *id = n[c->nlisteners].id;
    c->nlisteners++;
    pthread_mutex_unlock(&c->llock);
    return TH_OK;
}

int th_chain_unsubscribe(th_chain *c, uint64_t id)
{
    size_t i;
    int rc = TH_ENOENT;

    pthread_mutex_lock(&c->llock);
    for (i = 0; i < c->nlisteners; i++)
        if (c->listeners[i].id == id) {
            memmove(c->listeners + i, c->listeners + i + 1,
                    (c->nlisteners - i - 1) * sizeof *c->listeners);
            c->nlisteners--;
            rc = TH_OK;
            break;
        }
    pthread_mutex_unlock(&c->llock);
    return rc;
}

/* ---- shared with read.c / verify.c ---- */

sqlite3 *chain_reader_lock(th_chain *c)
{
    pthread_mutex_lock(&c->rlock);
    return c->rdb;
}

void chain_reader_unlock(th_chain *c)
{
    pthread_mutex_unlock(&c->rlock);
}

int chain_trusted_key(th_chain *c, uint8_t out[CHAIN_PUBKEY_LEN])
{
    if (!c->has_trusted)
        return -1;
    memcpy(out, c->trusted, 32);
    return 0;
}

int th_chain_public_key(th_chain *c, uint8_t key[32], th_error *err)
{
    if (chain_trusted_key(c, key) != 0)
        return th_error_set(err, TH_ENOENT, "no signing key in %s yet", c->home);
    return TH_OK;
}
