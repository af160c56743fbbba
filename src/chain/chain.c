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
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/hex.h"
#include "base/limits.h"
#include "chain/chain_int.h"
#include "store/store_int.h"
#include "theater/store.h"

typedef struct chain_actor {
    struct chain_actor *hnext; /* hash bucket chain */
    uint64_t hkey;             /* hash of the name */
    int64_t id;                /* chain_actor.id */
    pthread_mutex_t lock;      /* guards next_seq and last */
    uint64_t next_seq;
    uint8_t last[32];
    int persisted;     /* writer: the chain_actor row exists */
    uint64_t batch_no; /* writer: last batch that touched this chain */
    uint32_t slot;     /* writer: index in that batch's touched list */
    uint64_t head_seq; /* writer: head within the current batch */
    uint8_t head_hash[32];
    size_t name_len;
    char name[];
} chain_actor;

typedef struct chain_pending {
    struct chain_pending *next;
    chain_actor *actor;
    uint64_t seq, ts, ticket;
    uint8_t hash[32];
    uint8_t parent[32];
    int has_parent;
    int has_desc;
    uint32_t type_len, desc_len;
    size_t data_len;
    size_t size;  /* bytes allocated, for the queue limit */
    char buf[];   /* type NUL, description NUL (if any), data */
} chain_pending;

typedef struct chain_listener_slot {
    th_chain_listener fn;
    void *userdata;
    uint64_t id;
} chain_listener_slot;

struct th_chain {
    char home[4096];
    int read_only;
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
    sqlite3_stmt *ins_event, *ins_actor, *upd_head;
    uint64_t commit_no, batch_no;
    chain_actor **touched;
    size_t cap_touched;
    uint8_t (*leaves)[32];
    uint8_t *paths, *depths;

    /* Actor table. */
    pthread_rwlock_t tlock;
    chain_actor **buckets;
    size_t nbuckets, nactors;
    int64_t next_actor_id;

    /* Queue. */
    pthread_mutex_t qlock;
    pthread_cond_t qcv; /* writer: work arrived or stop */
    pthread_cond_t dcv; /* waiters: durable advanced, space freed, failure */
    chain_pending *qhead, *qtail;
    size_t qcount, qbytes;
    uint64_t oldest_ns; /* when the oldest queued event was appended */
    uint64_t last_ticket, durable;
    int stopping, failed;
    char fail_msg[TH_ERROR_MSG_MAX];
    pthread_t writer;
    int writer_started;

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
            free(a);
        }
    free(c->buckets);
    c->buckets = NULL;
    c->nbuckets = c->nactors = 0;
}

/* Load every chain's head from the database (writers, at open). */
static int table_load(th_chain *c, th_error *err)
{
    sqlite3_stmt *st = NULL;
    chain_actor *a;
    const char *name;
    int rc, n;

    rc = sqlite3_prepare_v2(c->wdb,
                            "SELECT id, name, head_seq, head_hash FROM chain_actor", -1, &st, NULL);
    while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        name = (const char *)sqlite3_column_text(st, 1);
        n = sqlite3_column_bytes(st, 1);
        if (name == NULL || sqlite3_column_type(st, 2) != SQLITE_INTEGER ||
            sqlite3_column_bytes(st, 3) != 32) {
            sqlite3_finalize(st);
            return th_error_set(err, TH_ECORRUPT,
                                "chain_actor row %lld is malformed; run `theater chain verify`",
                                (long long)sqlite3_column_int64(st, 0));
        }
        a = actor_new(name, (size_t)n, name_hash(name, (size_t)n));
        if (a == NULL || table_insert(c, a) != TH_OK) {
            free(a);
            sqlite3_finalize(st);
            return th_error_set(err, TH_ENOMEM, "out of memory loading chains");
        }
        a->id = sqlite3_column_int64(st, 0);
        a->next_seq = (uint64_t)sqlite3_column_int64(st, 2) + 1;
        memcpy(a->last, sqlite3_column_blob(st, 3), 32);
        a->persisted = 1;
        if (a->id >= c->next_actor_id)
            c->next_actor_id = a->id + 1;
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return store_db_error(c->wdb, rc, err, "loading chains");
    return TH_OK;
}

/* ---- the writer ---- */

static void set_failed(th_chain *c, const char *msg)
{
    pthread_mutex_lock(&c->qlock);
    if (!c->failed) {
        c->failed = 1;
        snprintf(c->fail_msg, sizeof c->fail_msg, "%s", msg);
    }
    pthread_cond_broadcast(&c->dcv);
    pthread_mutex_unlock(&c->qlock);
}

static int touch(th_chain *c, chain_actor *a, size_t *ntouched)
{
    chain_actor **nt;

    if (a->batch_no == c->batch_no)
        return 0;
    if (*ntouched == c->cap_touched) {
        size_t cap = c->cap_touched ? c->cap_touched * 2 : 1024;
        void *leaves, *paths, *depths;
        nt = realloc(c->touched, cap * sizeof *nt);
        if (nt != NULL)
            c->touched = nt;
        leaves = realloc(c->leaves, cap * 32);
        if (leaves != NULL)
            c->leaves = leaves;
        paths = realloc(c->paths, cap * TH_CHAIN_MAX_MERKLE_DEPTH * 32);
        if (paths != NULL)
            c->paths = paths;
        depths = realloc(c->depths, cap);
        if (depths != NULL)
            c->depths = depths;
        if (nt == NULL || leaves == NULL || paths == NULL || depths == NULL)
            return -1;
        c->cap_touched = cap;
    }
    a->batch_no = c->batch_no;
    a->slot = (uint32_t)*ntouched;
    c->touched[(*ntouched)++] = a;
    return 0;
}

static int insert_event(th_chain *c, chain_pending *p)
{
    sqlite3_stmt *st = c->ins_event;
    const char *desc = p->has_desc ? p->buf + p->type_len + 1 : NULL;
    const void *data = p->buf + p->type_len + 1 + (p->has_desc ? p->desc_len + 1 : 0);
    int rc;

    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, p->actor->id);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)p->seq);
    sqlite3_bind_blob(st, 3, p->hash, 32, SQLITE_STATIC);
    if (p->has_parent)
        sqlite3_bind_blob(st, 4, p->parent, 32, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 4);
    sqlite3_bind_text(st, 5, p->buf, (int)p->type_len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, (sqlite3_int64)p->ts);
    sqlite3_bind_blob64(st, 7, data, p->data_len, SQLITE_STATIC);
    if (desc != NULL)
        sqlite3_bind_text(st, 8, desc, (int)p->desc_len, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 8);
    rc = sqlite3_step(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int insert_actor(th_chain *c, chain_actor *a)
{
    int rc;

    sqlite3_reset(c->ins_actor);
    sqlite3_bind_int64(c->ins_actor, 1, a->id);
    sqlite3_bind_text(c->ins_actor, 2, a->name, (int)a->name_len, SQLITE_STATIC);
    rc = sqlite3_step(c->ins_actor);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Sign the heads of the touched chains and store them. */
static int sign_heads(th_chain *c, size_t n, th_error *err)
{
    base_sha256_ctx *ctx = chain_thread_sha256();
    uint8_t root[32], msg[CHAIN_BATCH_MSG_LEN], sig[CHAIN_SIG_LEN];
    uint64_t now = base_clock_wall_ms();
    sqlite3_stmt *st = c->upd_head;
    chain_actor *a;
    size_t i;
    int rc;

    if (ctx == NULL)
        return th_error_set(err, TH_ENOMEM, "out of memory");
    for (i = 0; i < n; i++) {
        a = c->touched[i];
        chain_head_leaf(ctx, a->name, a->name_len, a->head_seq, a->head_hash, c->leaves[i]);
    }
    if (chain_merkle_build(ctx, (const uint8_t(*)[32])c->leaves, n, root, c->paths, c->depths) != 0)
        return th_error_set(err, TH_ENOMEM, "building the head tree failed");
    chain_batch_message(c->commit_no + 1, now, n, root, msg);
    if (chain_key_sign(c->key, msg, sizeof msg, sig) != 0)
        return th_error_set(err, TH_EIO, "signing the chain heads failed");
    for (i = 0; i < n; i++) {
        a = c->touched[i];
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, (sqlite3_int64)a->head_seq);
        sqlite3_bind_blob(st, 2, a->head_hash, 32, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, (sqlite3_int64)(c->commit_no + 1));
        sqlite3_bind_int64(st, 4, (sqlite3_int64)now);
        sqlite3_bind_int64(st, 5, (sqlite3_int64)i);
        sqlite3_bind_int64(st, 6, (sqlite3_int64)n);
        sqlite3_bind_blob(st, 7, c->paths + i * TH_CHAIN_MAX_MERKLE_DEPTH * 32,
                          c->depths[i] * 32, SQLITE_STATIC);
        sqlite3_bind_blob(st, 8, sig, sizeof sig, SQLITE_STATIC);
        sqlite3_bind_blob(st, 9, c->pub, 32, SQLITE_STATIC);
        sqlite3_bind_int64(st, 10, a->id);
        rc = sqlite3_step(st);
        if (rc != SQLITE_DONE)
            return store_db_error(c->wdb, rc, err, "storing a signed head");
    }
    return TH_OK;
}

/* Store `n` events starting at `first` in one transaction. */
static int commit_batch(th_chain *c, chain_pending *first, size_t n, th_error *err)
{
    size_t i, ntouched = 0;
    chain_pending *p;
    int rc;

    c->batch_no++;
    rc = sqlite3_exec(c->wdb, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return store_db_error(c->wdb, rc, err, "starting a chain transaction");
    for (i = 0, p = first; i < n; i++, p = p->next) {
        if (!p->actor->persisted && p->actor->batch_no != c->batch_no &&
            (rc = insert_actor(c, p->actor)) != SQLITE_OK) {
            rc = store_db_error(c->wdb, rc, err, "creating a chain");
            goto fail;
        }
        if (touch(c, p->actor, &ntouched) != 0) {
            rc = th_error_set(err, TH_ENOMEM, "out of memory");
            goto fail;
        }
        p->actor->head_seq = p->seq;
        memcpy(p->actor->head_hash, p->hash, 32);
        if ((rc = insert_event(c, p)) != SQLITE_OK) {
            rc = store_db_error(c->wdb, rc, err, "storing an event");
            goto fail;
        }
    }
    if ((rc = sign_heads(c, ntouched, err)) != TH_OK)
        goto fail;
    rc = sqlite3_exec(c->wdb, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        rc = store_db_error(c->wdb, rc, err, "committing chain events");
        goto fail;
    }
    c->commit_no++;
    for (i = 0; i < ntouched; i++)
        c->touched[i]->persisted = 1;
    return TH_OK;
fail:
    sqlite3_exec(c->wdb, "ROLLBACK", NULL, NULL, NULL);
    return rc;
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

static void *writer_main(void *arg)
{
    th_chain *c = arg;
    chain_pending *list, *p, *next, *chunk;
    struct timespec ts;
    size_t n, bytes, i;
    uint64_t last_ticket, deadline;
    th_error err;
    int failed;

    pthread_mutex_lock(&c->qlock);
    for (;;) {
        while (c->qhead == NULL && !c->stopping)
            pthread_cond_wait(&c->qcv, &c->qlock);
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

        while (list != NULL) {
            chunk = list;
            for (n = 0, bytes = 0, p = list; p != NULL && n < c->batch_max; p = p->next, n++) {
                bytes += p->size;
                last_ticket = p->ticket;
            }
            list = p;
            if (!failed && commit_batch(c, chunk, n, &err) != TH_OK) {
                set_failed(c, err.msg);
                failed = 1;
            }
            if (!failed)
                notify(c, chunk, n);
            pthread_mutex_lock(&c->qlock);
            if (!failed)
                c->durable = last_ticket;
            c->qbytes -= bytes;
            pthread_cond_broadcast(&c->dcv);
            pthread_mutex_unlock(&c->qlock);
            for (i = 0, p = chunk; i < n; i++, p = next) {
                next = p->next;
                free(p);
            }
        }
        pthread_mutex_lock(&c->qlock);
    }
    pthread_mutex_unlock(&c->qlock);
    return NULL;
}

/* ---- open / close ---- */

static int prepare_writer(th_chain *c, th_error *err)
{
    int rc = sqlite3_prepare_v3(c->wdb,
                                "INSERT INTO chain_event(actor, seq, hash, parent, type, ts, data,"
                                " description) VALUES(?, ?, ?, ?, ?, ?, ?, ?)",
                                -1, SQLITE_PREPARE_PERSISTENT, &c->ins_event, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v3(c->wdb, "INSERT INTO chain_actor(id, name) VALUES(?, ?)", -1,
                                SQLITE_PREPARE_PERSISTENT, &c->ins_actor, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v3(c->wdb,
                                "UPDATE chain_actor SET head_seq = ?, head_hash = ?, commit_no = ?,"
                                " signed_ms = ?, leaf_index = ?, tree_size = ?, path = ?,"
                                " signature = ?, public_key = ? WHERE id = ?",
                                -1, SQLITE_PREPARE_PERSISTENT, &c->upd_head, NULL);
    if (rc != SQLITE_OK)
        return store_db_error(c->wdb, rc, err, "preparing chain statements");
    return TH_OK;
}

/* Take the per-home writer lock (flock on chain.lock). */
static int take_writer_lock(th_chain *c, th_error *err)
{
    char path[4200];
    int rc;

    if ((rc = store_home_path(c->home, CHAIN_LOCK_FILE, path, sizeof path, err)) != TH_OK)
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
static int open_writer(th_chain *c, int sync_normal, th_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc;

    rc = store_db_open(c->home, sync_normal ? STORE_DB_SYNC_NORMAL : 0, &c->wdb, err);
    if (rc == TH_OK)
        rc = take_writer_lock(c, err);
    if (rc == TH_OK)
        rc = chain_key_load(c->home, 1, &c->key, err);
    if (rc != TH_OK)
        return rc;
    if (chain_key_public(c->key, c->pub) != 0)
        return th_error_set(err, TH_EIO, "cannot read the public key");
    /* Remember the first key of this home (trust anchor if the key file is
     * lost), and never let an auto-checkpoint stall a commit for long. */
    rc = sqlite3_prepare_v2(c->wdb, "INSERT OR IGNORE INTO chain_meta(key, value)"
                                    " VALUES('public_key', ?)", -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_blob(st, 1, c->pub, 32, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(c->wdb);
    sqlite3_finalize(st);
    st = NULL;
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(c->wdb, "SELECT coalesce(max(commit_no), 0) FROM chain_actor", -1,
                                &st, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        c->commit_no = (uint64_t)sqlite3_column_int64(st, 0);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_OK)
        return store_db_error(c->wdb, rc, err, "opening chains");
    c->next_actor_id = 1;
    if ((rc = table_load(c, err)) != TH_OK || (rc = prepare_writer(c, err)) != TH_OK)
        return rc;
    if (pthread_create(&c->writer, NULL, writer_main, c) != 0)
        return th_error_set(err, TH_EIO, "cannot start the chain writer thread");
    c->writer_started = 1;
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
    if (cfg->batch_max_events > 1000000u || cfg->batch_max_ms > 60000u)
        return th_error_set(err, TH_EINVAL, "batch_max_events (<= 1000000) or batch_max_ms "
                                            "(<= 60000) out of range");
    c = calloc(1, sizeof *c);
    if (c == NULL)
        return th_error_set(err, TH_ENOMEM, "out of memory");
    c->lock_fd = -1;
    c->read_only = cfg->read_only != 0;
    c->batch_max = cfg->batch_max_events ? cfg->batch_max_events : TH_CHAIN_DEFAULT_BATCH_EVENTS;
    c->batch_ms = cfg->batch_max_ms ? cfg->batch_max_ms : TH_CHAIN_DEFAULT_BATCH_MS;
    pthread_mutex_init(&c->rlock, NULL);
    pthread_mutex_init(&c->qlock, NULL);
    pthread_mutex_init(&c->llock, NULL);
    pthread_rwlock_init(&c->tlock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->qcv, &ca);
    pthread_cond_init(&c->dcv, &ca);
    pthread_condattr_destroy(&ca);
    rc = th_home_resolve(cfg->home, c->home, sizeof c->home, err);
    if (rc == TH_OK && !c->read_only)
        rc = open_writer(c, cfg->sync_normal, err);
    if (rc == TH_OK)
        rc = store_db_open(c->home, STORE_DB_READONLY, &c->rdb, err);
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
        pthread_cond_signal(&c->qcv);
        pthread_mutex_unlock(&c->qlock);
        pthread_join(c->writer, NULL);
    }
    rc = c->failed ? TH_EIO : TH_OK;
    sqlite3_finalize(c->ins_event);
    sqlite3_finalize(c->ins_actor);
    sqlite3_finalize(c->upd_head);
    sqlite3_close_v2(c->wdb);
    sqlite3_close_v2(c->rdb);
    if (c->lock_fd >= 0)
        close(c->lock_fd); /* releases the flock */
    EVP_PKEY_free(c->key);
    table_free(c);
    free(c->touched);
    free(c->leaves);
    free(c->paths);
    free(c->depths);
    free(c->listeners);
    pthread_mutex_destroy(&c->rlock);
    pthread_mutex_destroy(&c->qlock);
    pthread_mutex_destroy(&c->llock);
    pthread_rwlock_destroy(&c->tlock);
    pthread_cond_destroy(&c->qcv);
    pthread_cond_destroy(&c->dcv);
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

/* Allocate a queue entry holding copies of the inputs. */
static chain_pending *pending_new(const char *type, size_t tlen, const char *desc, size_t dlen,
                                  const void *data, size_t len)
{
    size_t size = sizeof(chain_pending) + tlen + 1 + (desc ? dlen + 1 : 0) + len;
    chain_pending *p = malloc(size);
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
    return p;
}

/* Queue `p` (called with its chain's mutex held, so per-chain order holds). */
static int enqueue(th_chain *c, chain_pending *p, th_error *err)
{
    pthread_mutex_lock(&c->qlock);
    while (c->qbytes > TH_CHAIN_MAX_QUEUE_BYTES && !c->failed)
        pthread_cond_wait(&c->dcv, &c->qlock);
    if (c->failed || c->stopping) {
        pthread_mutex_unlock(&c->qlock);
        return th_error_set(err, c->failed ? TH_EIO : TH_ECLOSED, "chain writer %s: %s",
                            c->failed ? "failed" : "stopped", c->failed ? c->fail_msg : "closing");
    }
    p->ticket = ++c->last_ticket;
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

int th_chain_append(th_chain *c, const char *actor, const char *type, const void *data,
                    size_t len, const char *description, th_chain_receipt *receipt, th_error *err)
{
    size_t alen, tlen, dlen = 0;
    base_sha256_ctx *ctx;
    chain_pending *p;
    chain_actor *a;
    int rc, created;

    if (c->read_only)
        return th_error_set(err, TH_EPERM, "chains opened read-only");
    if ((rc = check_text("actor id", actor, TH_CHAIN_MAX_ACTOR_BYTES, &alen, err)) != TH_OK ||
        (rc = check_text("event type", type, TH_CHAIN_MAX_TYPE_BYTES, &tlen, err)) != TH_OK ||
        (description != NULL &&
         (rc = check_text("description", description, TH_CHAIN_MAX_DESC_BYTES, &dlen, err)) != TH_OK))
        return rc;
    if (alen == 0 || tlen == 0)
        return th_error_set(err, TH_EINVAL, "empty %s", alen == 0 ? "actor id" : "event type");
    if (len > TH_CHAIN_MAX_DATA_BYTES)
        return th_error_set(err, TH_ETOOBIG, "event data is %zu bytes, above the limit %u", len,
                            TH_CHAIN_MAX_DATA_BYTES);
    if (data == NULL && len != 0)
        return th_error_set(err, TH_EINVAL, "NULL event data");
    ctx = chain_thread_sha256();
    p = pending_new(type, tlen, description, dlen, data, len);
    a = actor_get(c, actor, alen, 1, &created);
    if (ctx == NULL || p == NULL || a == NULL) {
        free(p);
        return th_error_set(err, TH_ENOMEM, "out of memory");
    }
    pthread_mutex_lock(&a->lock);
    p->actor = a;
    p->seq = a->next_seq;
    p->ts = base_clock_wall_ms();
    p->has_parent = p->seq > 0;
    if (p->has_parent)
        memcpy(p->parent, a->last, 32);
    if (chain_event_hash(ctx, p->has_parent ? p->parent : NULL, p->ts, type, tlen,
                         len ? data : "", len, description, dlen, p->hash) != 0) {
        pthread_mutex_unlock(&a->lock);
        free(p);
        return th_error_set(err, TH_EIO, "SHA-256 failed");
    }
    rc = enqueue(c, p, err);
    if (rc == TH_OK) {
        a->next_seq++;
        memcpy(a->last, p->hash, 32);
        if (receipt != NULL) {
            receipt->seq = p->seq;
            receipt->timestamp_ms = p->ts;
            memcpy(receipt->hash, p->hash, 32);
            receipt->ticket = p->ticket;
        }
    }
    pthread_mutex_unlock(&a->lock);
    if (rc != TH_OK)
        free(p);
    return rc;
}

int chain_import_event(th_chain *c, const th_chain_event *ev, uint64_t *ticket, th_error *err)
{
    size_t alen = strlen(ev->actor), tlen = strlen(ev->type);
    size_t dlen = ev->description ? strlen(ev->description) : 0;
    chain_pending *p;
    chain_actor *a;
    int rc, created;

    if (c->read_only)
        return th_error_set(err, TH_EPERM, "chains opened read-only");
    p = pending_new(ev->type, tlen, ev->description, dlen, ev->data, ev->data_len);
    a = actor_get(c, ev->actor, alen, 1, &created);
    if (p == NULL || a == NULL) {
        free(p);
        return th_error_set(err, TH_ENOMEM, "out of memory");
    }
    pthread_mutex_lock(&a->lock);
    if (a->next_seq != ev->seq || (ev->seq > 0 && memcmp(a->last, ev->parent, 32) != 0)) {
        pthread_mutex_unlock(&a->lock);
        free(p);
        return th_error_set(err, TH_EEXIST, "actor %s already has a chain here (at seq %llu)",
                            ev->actor, (unsigned long long)a->next_seq);
    }
    p->actor = a;
    p->seq = ev->seq;
    p->ts = ev->timestamp_ms;
    p->has_parent = ev->has_parent;
    memcpy(p->parent, ev->parent, 32);
    memcpy(p->hash, ev->hash, 32);
    rc = enqueue(c, p, err);
    if (rc == TH_OK) {
        a->next_seq++;
        memcpy(a->last, p->hash, 32);
        *ticket = p->ticket;
    }
    pthread_mutex_unlock(&a->lock);
    if (rc != TH_OK)
        free(p);
    return rc;
}

int chain_actor_known(th_chain *c, const char *actor)
{
    int created;

    return actor_get(c, actor, strlen(actor), 0, &created) != NULL;
}

/* ---- durability ---- */

int th_chain_wait_durable(th_chain *c, uint64_t ticket, int timeout_ms, th_error *err)
{
    uint64_t deadline = base_clock_mono_ns() + (uint64_t)(timeout_ms < 0 ? 0 : timeout_ms) * 1000000u;
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
        rc = th_error_set(err, TH_EIO, "chain writer failed: %s", c->fail_msg);
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
