/*
 * chain.c - the chain handle: open/close, the in-memory head of every chain,
 * append (hash in the caller's thread, queue), durability tickets and
 * listeners.  The writer thread that commits the queue is writer.c (group
 * commit into SQLite, signed heads), the checkpointer checkpoint.c; the
 * structures they share are handle.h.
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
#include "chain/handle.h"
#include "db/db.h"
#include "theater/store.h"
#include "theater/home.h"

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

/* Under the write lock: the table rehashed into `nn` buckets (a power of
 * two).  TH_ENOMEM leaves it as it was. */
static int table_resize(th_chain *c, size_t nn)
{
    chain_actor **nb = calloc(nn, sizeof *nb), *x, *next;
    size_t i;

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
    return TH_OK;
}

/* Insert under the write lock; grows the table at load factor 1. */
static int table_insert(th_chain *c, chain_actor *a)
{
    if (c->nactors + 1 > c->nbuckets &&
        table_resize(c, c->nbuckets ? c->nbuckets * 2 : 1024) != TH_OK)
        return TH_ENOMEM;
    a->hnext = c->buckets[a->hkey & (c->nbuckets - 1)];
    c->buckets[a->hkey & (c->nbuckets - 1)] = a;
    c->nactors++;
    return TH_OK;
}

/* Under the write lock, at the end of a sweep pass: a table that has
 * emptied to a quarter of its buckets is rehashed into the smallest size
 * that keeps it at load factor 1/2 (never below 1024 buckets), so a daemon
 * that once held a million chains does not keep their 8 MB of buckets. */
static void table_shrink(th_chain *c)
{
    size_t nn = 1024;

    if (c->nbuckets <= 1024 || c->nactors * 4 > c->nbuckets)
        return;
    while (nn < c->nactors * 2)
        nn *= 2;
    if (nn < c->nbuckets)
        (void)table_resize(c, nn); /* out of memory: the larger table still works */
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
    atomic_init(&a->pins, 0);
    return a;
}

static void actor_free(chain_actor *a)
{
    pthread_mutex_destroy(&a->lock);
    free(a->segs);
    free(a);
}

/* ---- chains in the database, not in memory (th_chain's `gone`) ---- */

/* Under tlock (write).  0, or -1 out of memory. */
static int gone_add(th_chain *c, uint64_t h)
{
    uint64_t k = h ? h : 1, *ng;
    size_t i, j, nc;

    if ((c->ngone + 1) * 2 > c->gone_cap) {
        nc = c->gone_cap ? c->gone_cap * 2 : 4096;
        if ((ng = calloc(nc, sizeof *ng)) == NULL)
            return -1;
        for (j = 0; j < c->gone_cap; j++) {
            if (c->gone[j] == 0)
                continue;
            for (i = c->gone[j] & (nc - 1); ng[i] != 0; i = (i + 1) & (nc - 1))
                ;
            ng[i] = c->gone[j];
        }
        free(c->gone);
        c->gone = ng;
        c->gone_cap = nc;
    }
    for (i = k & (c->gone_cap - 1); c->gone[i] != 0; i = (i + 1) & (c->gone_cap - 1))
        if (c->gone[i] == k)
            return 0;
    c->gone[i] = k;
    c->ngone++;
    return 0;
}

/* Under tlock.  1 if a chain of this name hash may be in the database
 * (a hash is never removed: a chain loaded again, or two names of one
 * hash, only cost a look at the database). */
static int gone_has(th_chain *c, uint64_t h)
{
    uint64_t k = h ? h : 1;
    size_t i;

    if (c->gone_cap == 0)
        return 0;
    for (i = k & (c->gone_cap - 1); c->gone[i] != 0; i = (i + 1) & (c->gone_cap - 1))
        if (c->gone[i] == k)
            return 1;
    return 0;
}

/* Under tlock (write): the chain's chain_actor row as a new entry, its head
 * that of the row.  NULL with err TH_ENOENT if there is no row, else with
 * the error. */
static chain_actor *load_entry(th_chain *c, const char *name, size_t n, uint64_t h, th_error *err)
{
    sqlite3_stmt *st = c->load_actor;
    chain_actor *a = NULL;
    int rc;

    if (st == NULL) {
        th_error_set(err, TH_ENOENT, "no chain %.*s", (int)n, name);
        return NULL;
    }
    sqlite3_bind_text(st, 1, name, (int)n, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        if ((a = actor_new(name, n, h)) == NULL) {
            th_error_set(err, TH_ENOMEM, "out of memory");
        } else {
            a->id = sqlite3_column_int64(st, 0);
            a->persisted = 1;
            if (sqlite3_column_type(st, 1) == SQLITE_INTEGER && sqlite3_column_bytes(st, 2) == 32) {
                a->head_seq = (uint64_t)sqlite3_column_int64(st, 1);
                memcpy(a->head_hash, sqlite3_column_blob(st, 2), 32);
                a->next_seq = a->head_seq + 1;
                a->stored_next = a->next_seq;
                memcpy(a->last, a->head_hash, 32);
            }
        }
    } else if (rc == SQLITE_DONE) {
        th_error_set(err, TH_ENOENT, "no chain %.*s", (int)n, name);
    } else {
        db_error(c->ldb, rc, err, "loading a chain's head");
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return a;
}

/* Find a chain, creating it if `create`, loading it if it was dropped from
 * memory.  NULL with err (TH_ENOENT: absent and not created).  The entry
 * is pinned until chain_actor_unpin (so chain_sweep leaves it). */
chain_actor *chain_actor_get(th_chain *c, const char *name, size_t n, int create, int *created,
                             th_error *err)
{
    uint64_t h = name_hash(name, n);
    th_error lerr;
    chain_actor *a;

    *created = 0;
    pthread_rwlock_rdlock(&c->tlock);
    a = table_find(c, name, n, h);
    if (a != NULL)
        atomic_fetch_add_explicit(&a->pins, 1, memory_order_relaxed);
    pthread_rwlock_unlock(&c->tlock);
    if (a != NULL)
        return a;
    pthread_rwlock_wrlock(&c->tlock);
    a = table_find(c, name, n, h);
    if (a == NULL && gone_has(c, h)) {
        th_error_clear(&lerr);
        a = load_entry(c, name, n, h, &lerr);
        if (a == NULL && lerr.code != TH_ENOENT) {
            /* never a new chain under the name of one that may exist */
            pthread_rwlock_unlock(&c->tlock);
            th_error_set(err, lerr.code, "%s", lerr.msg);
            return NULL;
        }
        if (a != NULL && table_insert(c, a) != TH_OK) {
            actor_free(a);
            pthread_rwlock_unlock(&c->tlock);
            th_error_set(err, TH_ENOMEM, "out of memory");
            return NULL;
        }
        if (a != NULL)
            atomic_fetch_add_explicit(&c->n_loaded, 1, memory_order_relaxed);
    }
    if (a == NULL && create && (a = actor_new(name, n, h)) != NULL) {
        a->id = c->next_actor_id++;
        if (table_insert(c, a) != TH_OK) {
            actor_free(a);
            a = NULL;
        } else {
            *created = 1;
        }
        if (a == NULL) {
            pthread_rwlock_unlock(&c->tlock);
            th_error_set(err, TH_ENOMEM, "out of memory");
            return NULL;
        }
    }
    if (a != NULL)
        atomic_fetch_add_explicit(&a->pins, 1, memory_order_relaxed);
    pthread_rwlock_unlock(&c->tlock);
    if (a == NULL)
        th_error_set(err, create ? TH_ENOMEM : TH_ENOENT,
                     create ? "out of memory" : "no chain %.*s", (int)n, name);
    return a;
}

void chain_actor_unpin(chain_actor *a)
{
    if (a != NULL)
        atomic_fetch_sub_explicit(&a->pins, 1, memory_order_release);
}

static void table_free(th_chain *c)
{
    chain_actor *a, *next;
    size_t i;

    for (i = 0; i < c->nbuckets; i++)
        for (a = c->buckets[i]; a != NULL; a = next) {
            next = a->hnext;
            actor_free(a);
        }
    free(c->buckets);
    c->buckets = NULL;
    c->nbuckets = c->nactors = 0;
    free(c->gone);
    c->gone = NULL;
    c->gone_cap = c->ngone = 0;
}

/* ---- dropping idle chains (writer thread) ---- */

#define CHAIN_SWEEP_BUCKETS 4096u    /* buckets looked at per step */
#define CHAIN_SWEEP_MAX 512u         /* chains dropped per step at most */
#define CHAIN_SWEEP_STEP_NS 1000000u /* between the steps of a pass */

/* Between two passes over the table: a chain leaves memory between
 * idle_ms and 1.5 idle_ms after its last event. */
static uint64_t sweep_pass_ns(const th_chain *c)
{
    return (c->idle_ms < 2 ? 1 : c->idle_ms / 2) * 1000000u;
}

/* Under tlock, writer thread: the chain may leave memory: nobody holds
 * it, every event of it is stored, its row holds its head (no span
 * pending), and it has had no event for idle_ms. */
static int droppable(th_chain *c, chain_actor *a, uint64_t now_ms)
{
    uint64_t next, used;

    if (atomic_load_explicit(&a->pins, memory_order_acquire) != 0 || !a->persisted || a->dirty ||
        a->stored_next != a->head_seq + 1)
        return 0;
    pthread_mutex_lock(&a->lock);
    next = a->next_seq;
    used = a->used_ms;
    pthread_mutex_unlock(&a->lock);
    return next == a->stored_next && now_ms >= used && now_ms - used >= c->idle_ms;
}

/* One step of a pass: the candidates are found under the read lock (the
 * appenders go on meanwhile), then dropped under the write lock if they
 * still may be (nobody can find an entry while it is held). */
void chain_sweep(th_chain *c)
{
    chain_actor *cand[CHAIN_SWEEP_MAX], **pp, *a;
    uint64_t now = base_clock_wall_ms();
    size_t i, end, nc = 0, k;
    int empty;

    pthread_rwlock_rdlock(&c->tlock);
    end = c->sweep_pos + CHAIN_SWEEP_BUCKETS;
    if (end > c->nbuckets)
        end = c->nbuckets;
    for (i = c->sweep_pos; i < end && nc < CHAIN_SWEEP_MAX; i++)
        for (a = c->buckets[i]; a != NULL && nc < CHAIN_SWEEP_MAX; a = a->hnext)
            if (droppable(c, a, now))
                cand[nc++] = a;
    end = i; /* where the candidates ran out, or the step's end */
    pthread_rwlock_unlock(&c->tlock);
    pthread_rwlock_wrlock(&c->tlock);
    for (k = 0; k < nc; k++) {
        a = cand[k];
        if (!droppable(c, a, now) || gone_add(c, a->hkey) != 0)
            continue;
        /* its bucket now: the table may have grown meanwhile */
        for (pp = &c->buckets[a->hkey & (c->nbuckets - 1)]; *pp != a; pp = &(*pp)->hnext)
            ;
        *pp = a->hnext;
        c->nactors--;
        actor_free(a);
        atomic_fetch_add_explicit(&c->n_dropped, 1, memory_order_relaxed);
    }
    if (end >= c->nbuckets) {
        end = 0;
        table_shrink(c); /* a pass is over: no position to keep */
    }
    c->sweep_pos = end;
    empty = c->nactors == 0;
    pthread_rwlock_unlock(&c->tlock);
    /* a pass that leaves the table empty: nothing to look at until the
     * next commit (chain_sweep_arm) */
    c->sweep_next_ns = c->sweep_pos != 0 ? base_clock_mono_ns() + CHAIN_SWEEP_STEP_NS
                       : empty           ? UINT64_MAX
                                         : base_clock_mono_ns() + sweep_pass_ns(c);
}

uint64_t chain_sweep_due(th_chain *c)
{
    return c->idle_ms == 0 ? UINT64_MAX : c->sweep_next_ns;
}

void chain_sweep_arm(th_chain *c)
{
    if (c->sweep_next_ns == UINT64_MAX)
        c->sweep_next_ns = base_clock_mono_ns() + sweep_pass_ns(c);
}

/* Note every chain of the database (writers, at open): their names' hashes
 * go into `gone` (an entry is loaded from its row when first asked for),
 * then the segments not yet indexed (after a crash) are replayed into the
 * heads of the chains they touch, which are indexed right away. */
static int table_load(th_chain *c, th_error *err)
{
    sqlite3_stmt *st = NULL;
    chain_segment seg;
    chain_actor *a;
    const char *name;
    uint64_t upto = 0, id;
    size_t i, n;
    int rc, created;

    rc = sqlite3_prepare_v2(c->wdb, "SELECT id, name FROM chain_actor", -1, &st, NULL);
    while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        name = (const char *)sqlite3_column_text(st, 1);
        n = (size_t)sqlite3_column_bytes(st, 1);
        if (name == NULL || n == 0 || n > TH_CHAIN_MAX_ACTOR_BYTES) {
            sqlite3_finalize(st);
            return th_error_set(err, TH_ECORRUPT, "chain_actor row %lld is malformed",
                                (long long)sqlite3_column_int64(st, 0));
        }
        if (gone_add(c, name_hash(name, n)) != 0) {
            sqlite3_finalize(st);
            return th_error_set(err, TH_ENOMEM, "out of memory loading chains");
        }
        if (sqlite3_column_int64(st, 0) >= c->next_actor_id)
            c->next_actor_id = sqlite3_column_int64(st, 0) + 1;
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
            a = chain_actor_get(c, seg.events[i].actor, strlen(seg.events[i].actor), 0, &created,
                                err);
            if (a == NULL) {
                chain_segment_release(&seg);
                if (err->code != TH_ENOENT)
                    return th_error_prefix(err, "recovering chains");
                return th_error_set(err, TH_ECORRUPT, "segment %llu names unknown actor %s",
                                    (unsigned long long)id, seg.events[i].actor);
            }
            a->next_seq = seg.events[i].seq + 1;
            a->stored_next = a->next_seq;
            memcpy(a->last, seg.events[i].hash, 32);
            a->head_seq = seg.events[i].seq;
            memcpy(a->head_hash, seg.events[i].hash, 32);
            rc = chain_span_add(c, a, seg.events[i].seq, id);
            chain_actor_unpin(a);
            if (rc != 0) {
                chain_segment_release(&seg);
                return th_error_set(err, TH_ENOMEM, "out of memory");
            }
        }
        chain_segment_release(&seg);
    }
    return TH_OK;
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
        {offsetof(th_chain, find_blob), DB_SQL_BLOB_FIND},
        {offsetof(th_chain, ins_blob), DB_SQL_BLOB_INSERT},
        {offsetof(th_chain, ins_content),
         "INSERT INTO store_content(hash, store, blob) VALUES(?, ?, ?)"
         " ON CONFLICT(hash, store) DO UPDATE SET blob = excluded.blob WHERE blob <= 0"},
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

    /* a commit's WAL frames go to the file in one write (db_wal_vfs) instead
     * of two writes per frame: under a one-way message load (a commit of
     * tens of frames a millisecond) a sixth of the writer's CPU */
    c->sync_normal = sync_normal;
    rc = db_open(c->home, DB_BUFFER_WAL | (sync_normal ? DB_SYNC_NORMAL : 0), &c->wdb, err);
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
    /* chains are loaded from their rows when asked for (chain_actor_get),
     * under the table's write lock, on this connection of their own: a
     * long read elsewhere never holds up an append */
    if ((rc = db_open(c->home, DB_READONLY, &c->ldb, err)) != TH_OK)
        return rc;
    rc =
        sqlite3_prepare_v2(c->ldb, "SELECT id, head_seq, head_hash FROM chain_actor WHERE name = ?",
                           -1, &c->load_actor, NULL);
    if (rc != SQLITE_OK)
        return db_error(c->ldb, rc, err, "opening chains");
    if ((rc = prepare_writer(c, err)) != TH_OK || (rc = table_load(c, err)) != TH_OK ||
        (rc = chain_flush_index(c, err)) != TH_OK || (rc = chain_pending_recover(c, err)) != TH_OK)
        return rc;
    sqlite3_wal_autocheckpoint(c->wdb, 0);
    sqlite3_wal_hook(c->wdb, chain_wal_hook, c);
    {
        char pragma[64];
        snprintf(pragma, sizeof pragma, "PRAGMA journal_size_limit=%lld",
                 (long long)c->wal_frames * 4096);
        sqlite3_exec(c->wdb, pragma, NULL, NULL, NULL);
        /* A small page cache: the writer appends segments (pages it never
         * reads again) and walks a few b-tree paths; the 64 MiB of db_open
         * only grew, page by page (a malloc and a page fault each), for
         * the first 64 MiB of segments after every start.  Measured
         * (chain_bench, saturated appends): 1.15-1.17 -> 1.41 M events/s. */
        sqlite3_exec(c->wdb, "PRAGMA cache_size=-8192", NULL, NULL, NULL);
    }
    if ((rc = db_open(c->home, 0, &c->cdb, err)) != TH_OK)
        return rc;
    c->enc_no = c->commit_no;      /* the encoder numbers the segments from here */
    c->sweep_next_ns = UINT64_MAX; /* armed by the first commit */
    if (pthread_create(&c->writer, NULL, chain_writer_main, c) != 0)
        return th_error_set(err, TH_ENOMEM, "cannot start the chain writer thread");
    c->writer_started = 1;
    if (pthread_create(&c->checkpointer, NULL, chain_checkpointer_main, c) != 0)
        return th_error_set(err, TH_ENOMEM, "cannot start the chain checkpointer thread");
    c->checkpointer_started = 1;
    return TH_OK;
}

static void load_trusted(th_chain *c)
{
    sqlite3_stmt *st = NULL;
    EVP_PKEY *key = NULL;

    c->trusted_looked = 1;
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
        c->trusted_from_db = 1;
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
        cfg->index_flush_ms > 3600000u || cfg->wal_max_mib > 65536u ||
        (cfg->idle_drop_ms > 86400000u && cfg->idle_drop_ms != TH_CHAIN_KEEP_IDLE))
        return th_error_set(err, TH_EINVAL,
                            "batch_max_events (<= 1000000), batch_max_ms "
                            "(<= 60000), index_flush_ms (<= 3600000), "
                            "wal_max_mib (<= 65536) or idle_drop_ms (<= 86400000) "
                            "out of range");
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
    c->idle_ms = cfg->idle_drop_ms == TH_CHAIN_KEEP_IDLE ? 0
                 : cfg->idle_drop_ms                     ? cfg->idle_drop_ms
                                                         : TH_CHAIN_DEFAULT_IDLE_DROP_MS;
    pthread_mutex_init(&c->rlock, NULL);
    pthread_mutex_init(&c->qlock, NULL);
    pthread_mutex_init(&c->llock, NULL);
    pthread_mutex_init(&c->ckpt_lock, NULL);
    pthread_mutex_init(&c->elock, NULL);
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
    /* a read-only handle (a replay, the CLI's reads) reads the segments
     * through a memory map: no read call and no page cache copy per page */
    if (rc == TH_OK && c->read_only)
        (void)sqlite3_exec(c->rdb, "PRAGMA mmap_size=1073741824", NULL, NULL, NULL);
    if (rc != TH_OK) {
        th_chain_close(c);
        return rc;
    }
    if (c->key != NULL) /* a writer: its own key (a reader finds it when asked) */
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
    sqlite3_finalize(c->find_blob);
    sqlite3_finalize(c->ins_blob);
    sqlite3_finalize(c->ins_content);
    sqlite3_finalize(c->ins_store);
    sqlite3_finalize(c->load_actor);
    sqlite3_close_v2(c->ldb);
    sqlite3_close_v2(c->wdb);
    sqlite3_close_v2(c->rdb);
    sqlite3_close_v2(c->cdb);
    if (c->pending_fd >= 0)
        close(c->pending_fd);
    if (c->lock_fd >= 0)
        close(c->lock_fd); /* releases the flock */
    EVP_PKEY_free(c->key);
    table_free(c);
    chain_writer_free(c);
    free(c->dirty);
    free(c->round);
    free(c->listeners);
    pthread_mutex_destroy(&c->rlock);
    pthread_mutex_destroy(&c->qlock);
    pthread_mutex_destroy(&c->llock);
    pthread_mutex_destroy(&c->ckpt_lock);
    pthread_mutex_destroy(&c->elock);
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

/* Fill the queue entry `p` (`size` bytes) with copies of the inputs (and
 * of `content`, clen bytes, for an event recorded by reference; may be
 * NULL). */
static void pending_fill(chain_pending *p, size_t size, const char *type, size_t tlen,
                         const char *desc, size_t dlen, const void *data, size_t len,
                         const void *content, size_t clen)
{
    char *q;

    p->next = NULL;
    p->size = size;
    p->slab = CHAIN_OWN_BLOCK;
    p->slab_mem = NULL;
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
}

/* Allocate a queue entry of its own (pending_fill's inputs). */
static chain_pending *pending_new(const char *type, size_t tlen, const char *desc, size_t dlen,
                                  const void *data, size_t len, const void *content, size_t clen)
{
    size_t size = sizeof(chain_pending) + tlen + 1 + (desc ? dlen + 1 : 0) + len + clen;
    chain_pending *p = base_block_alloc(size);

    if (p != NULL)
        pending_fill(p, size, type, tlen, desc, dlen, data, len, content, clen);
    return p;
}

/* The bytes a slab gives to an entry of `tlen` + `len` bytes: its size,
 * rounded up so that the next entry is aligned. */
static size_t slab_size(size_t tlen, size_t len)
{
    size_t a = _Alignof(chain_pending);

    return (sizeof(chain_pending) + tlen + 1 + len + a - 1) / a * a;
}

/* Slabs are recycled: a slab is allocated by an appending thread and
 * freed by the writer, and malloc would give the memory back to the
 * system at the writer's free (its arena's top shrinks) and fault it in
 * again at the appender's next allocation, page by page.  Under the
 * sanitizers every slab is plain malloc/free (they see each lifetime). */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define CHAIN_SLAB_PLAIN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define CHAIN_SLAB_PLAIN 1
#endif
#endif

#ifdef CHAIN_SLAB_PLAIN

static void *slab_get(void)
{
    return malloc(CHAIN_SLAB_BYTES);
}

static void slab_put(void *mem)
{
    free(mem);
}

#else

typedef union slab_free {
    union slab_free *next;
    max_align_t align;
} slab_free;

static pthread_mutex_t slab_lock = PTHREAD_MUTEX_INITIALIZER;
static slab_free *slab_pool;
static unsigned slab_npool;

/* A slab of CHAIN_SLAB_BYTES, or NULL if out of memory. */
static void *slab_get(void)
{
    slab_free *s;

    pthread_mutex_lock(&slab_lock);
    if ((s = slab_pool) != NULL) {
        slab_pool = s->next;
        slab_npool--;
    }
    pthread_mutex_unlock(&slab_lock);
    return s != NULL ? (void *)s : malloc(CHAIN_SLAB_BYTES);
}

static void slab_put(void *mem)
{
    slab_free *s = mem;

    pthread_mutex_lock(&slab_lock);
    if (slab_npool < CHAIN_SLAB_KEEP) {
        s->next = slab_pool;
        slab_pool = s;
        slab_npool++;
        s = NULL;
    }
    pthread_mutex_unlock(&slab_lock);
    free(s);
}

#endif

void chain_pending_free(chain_pending *p)
{
    if (p == NULL || p->slab == CHAIN_IN_SLAB)
        return; /* its slab goes with the slab's last entry */
    if (p->slab == CHAIN_SLAB_LAST)
        slab_put(p->slab_mem);
    else
        base_block_free(p, p->size);
}

/* Queue the list `p`..`last` of n entries linked by `next`, `bytes` in
 * all (called with its chain's mutex held, so per-chain order holds), and
 * write the first one's ticket to *ticket (the others follow it).  From
 * then on the writer owns them and may free them at any moment: the caller
 * must not touch them again. */
static int enqueue_list(th_chain *c, chain_pending *p, chain_pending *last, size_t n, size_t bytes,
                        uint64_t *ticket, int *due, th_error *err)
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
        chain_deadline_after(&ts, now + 100000000u);
        pthread_cond_timedwait(&c->dcv, &c->qlock, &ts);
    }
    if (c->failed || c->stopping) {
        pthread_mutex_unlock(&c->qlock);
        return th_error_set(err, c->failed ? c->fail_code : TH_ECLOSED, "chain writer %s: %s",
                            c->failed ? "failed" : "stopped", c->failed ? c->fail_msg : "closing");
    }
    *ticket = c->last_ticket + 1;
    for (chain_pending *q = p;; q = q->next) {
        q->ticket = ++c->last_ticket;
        if (q == last)
            break;
    }
    if (c->qtail != NULL) {
        c->qtail->next = p;
    } else {
        c->qhead = p;
        c->oldest_ns = base_clock_mono_ns();
    }
    c->qtail = last;
    c->qcount += n;
    c->qbytes += bytes;
    if (c->qcount == n || (c->qcount >= c->batch_max && c->qcount - n < c->batch_max))
        pthread_cond_signal(&c->qcv);
    if (due != NULL)
        *due = chain_queue_due(c, 0);
    pthread_mutex_unlock(&c->qlock);
    return TH_OK;
}

/* Queue one entry (enqueue_list's rules). */
static int enqueue(th_chain *c, chain_pending *p, uint64_t *ticket, th_error *err)
{
    return enqueue_list(c, p, p, 1, p->size, ticket, NULL, err);
}

int th_chain_append(th_chain *c, const char *actor, const char *type, const void *data, size_t len,
                    const char *description, th_chain_receipt *receipt, th_error *err)
{
    th_error own_err;
    size_t alen = 0, tlen = 0, dlen = 0, clen = 0, rlen;
    char ref[CHAIN_CONTENT_REF_MAX];
    const void *content = NULL;
    uint8_t chash[32];
    th_chain_receipt r;
    base_sha256_ctx *ctx;
    chain_pending *p;
    chain_actor *a;
    int rc, created;

    if (err == NULL)
        err = &own_err;
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
    if (ctx == NULL || p == NULL) {
        chain_pending_free(p);
        return th_error_set(err, TH_ENOMEM, "out of memory");
    }
    if ((a = chain_actor_get(c, actor, alen, 1, &created, err)) == NULL) {
        chain_pending_free(p);
        return err->code;
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
        chain_actor_unpin(a);
        chain_pending_free(p);
        return th_error_set(err, TH_ENOMEM, "SHA-256 failed (out of memory)");
    }
    memcpy(r.hash, p->hash, 32);
    r.seq = p->seq;
    r.timestamp_ms = p->ts;
    rc = enqueue(c, p, &r.ticket, err); /* p belongs to the writer now */
    if (rc == TH_OK) {
        a->next_seq++;
        memcpy(a->last, r.hash, 32);
        a->used_ms = r.timestamp_ms;
    }
    pthread_mutex_unlock(&a->lock);
    chain_actor_unpin(a);
    if (rc != TH_OK)
        chain_pending_free(p);
    else if (receipt != NULL)
        *receipt = r;
    return rc;
}

int th_chain_append_many(th_chain *c, const char *actor, const th_chain_item *items, size_t n,
                         th_chain_receipt *receipts, th_error *err)
{
    th_error own_err;
    chain_pending *first = NULL, *last = NULL, *p, *next;
    size_t alen = 0, tlen, i, j, bytes = 0, sz, slab_bytes;
    uint8_t *slab, *base;
    uint8_t prev[32];
    base_sha256_ctx *ctx;
    uint64_t ts, ticket;
    chain_actor *a;
    int rc, created, due = 0;

    if (err == NULL)
        err = &own_err;
    if (c->read_only)
        return th_error_set(err, TH_EPERM, "chains opened read-only");
    if ((rc = check_text("actor id", actor, TH_CHAIN_MAX_ACTOR_BYTES, &alen, err)) != TH_OK)
        return rc;
    if (alen == 0)
        return th_error_set(err, TH_EINVAL, "empty actor id");
    if (n == 0)
        return TH_OK;
    for (i = 0; i < n; i++) {
        if ((rc = check_text("event type", items[i].type, TH_CHAIN_MAX_TYPE_BYTES, &tlen, err)) !=
            TH_OK)
            return rc;
        rc = tlen == 0 ? th_error_set(err, TH_EINVAL, "empty event type")
             : items[i].data == NULL && items[i].len != 0
                 ? th_error_set(err, TH_EINVAL, "NULL event data")
             : items[i].len > TH_CHAIN_MAX_DATA_BYTES
                 ? th_error_set(err, TH_ETOOBIG,
                                "event data is %zu bytes: append it alone (by content reference)",
                                items[i].len)
                 : TH_OK;
        if (rc != TH_OK)
            return rc;
    }
    /* The entries, in slabs of at most CHAIN_SLAB_BYTES (an event that
     * does not fit one alone gets its own block); the last entry of each
     * slab frees it (handle.h). */
    for (i = 0; i < n; i = j) {
        slab_bytes = slab_size(strlen(items[i].type), items[i].len);
        for (j = i + 1; j < n; j++) {
            sz = slab_size(strlen(items[j].type), items[j].len);
            if (slab_bytes + sz > CHAIN_SLAB_BYTES)
                break;
            slab_bytes += sz;
        }
        if (j - i == 1) { /* alone: a recycled block */
            p = pending_new(items[i].type, strlen(items[i].type), NULL, 0, items[i].data,
                            items[i].len, NULL, 0);
            if (p == NULL) {
                rc = th_error_set(err, TH_ENOMEM, "out of memory");
                goto fail;
            }
            if (last != NULL)
                last->next = p;
            else
                first = p;
            last = p;
            bytes += p->size;
            continue;
        }
        if ((slab = base = slab_get()) == NULL) {
            rc = th_error_set(err, TH_ENOMEM, "out of memory");
            goto fail;
        }
        for (; i < j; i++) {
            tlen = strlen(items[i].type);
            p = (chain_pending *)(void *)slab;
            sz = slab_size(tlen, items[i].len);
            pending_fill(p, sz, items[i].type, tlen, NULL, 0, items[i].data, items[i].len, NULL, 0);
            p->slab = CHAIN_IN_SLAB;
            slab += sz;
            if (last != NULL)
                last->next = p;
            else
                first = p;
            last = p;
            bytes += sz;
        }
        last->slab = CHAIN_SLAB_LAST;
        last->slab_mem = base;
        /* the slab's unused end counts in the queue's bytes too */
        last->size += CHAIN_SLAB_BYTES - slab_bytes;
        bytes += CHAIN_SLAB_BYTES - slab_bytes;
    }
    if ((ctx = chain_thread_sha256()) == NULL) {
        rc = th_error_set(err, TH_ENOMEM, "out of memory");
        goto fail;
    }
    if ((a = chain_actor_get(c, actor, alen, 1, &created, err)) == NULL) {
        rc = err->code;
        goto fail;
    }
    ts = base_clock_wall_ms();
    pthread_mutex_lock(&a->lock);
    memcpy(prev, a->last, 32);
    for (i = 0, p = first; p != NULL; i++, p = p->next) {
        p->actor = a;
        p->seq = a->next_seq + i;
        p->ts = ts;
        p->has_parent = p->seq > 0;
        if (p->has_parent)
            memcpy(p->parent, prev, 32);
        if (chain_event_hash(ctx, p->has_parent ? p->parent : NULL, ts, p->buf, p->type_len,
                             p->data_len ? p->buf + p->type_len + 1 : "", p->data_len, NULL, 0,
                             p->hash) != 0) {
            pthread_mutex_unlock(&a->lock);
            chain_actor_unpin(a);
            rc = th_error_set(err, TH_ENOMEM, "SHA-256 failed (out of memory)");
            goto fail;
        }
        memcpy(prev, p->hash, 32);
        if (receipts != NULL) {
            memcpy(receipts[i].hash, p->hash, 32);
            receipts[i].seq = p->seq;
            receipts[i].timestamp_ms = ts;
        }
    }
    rc = enqueue_list(c, first, last, n, bytes, &ticket, &due, err); /* the writer's now */
    if (rc == TH_OK) {
        a->next_seq += n;
        memcpy(a->last, prev, 32);
        a->used_ms = ts;
    }
    pthread_mutex_unlock(&a->lock);
    chain_actor_unpin(a);
    if (rc != TH_OK)
        goto fail;
    /* a group commit is due: encode it here unless someone does (the
     * writer thread then only stores it; writer.c) */
    if (due)
        chain_assist(c);
    for (i = 0; receipts != NULL && i < n; i++)
        receipts[i].ticket = ticket + i;
    return TH_OK;
fail:
    for (p = first; p != NULL; p = next) {
        next = p->next;
        chain_pending_free(p);
    }
    return rc;
}

int chain_import_event(th_chain *c, const th_chain_event *ev, const void *content, size_t clen,
                       const uint8_t *chash, uint64_t *ticket, th_error *err)
{
    th_error own_err;
    size_t alen = strlen(ev->actor), tlen = strlen(ev->type);
    size_t dlen = ev->description ? strlen(ev->description) : 0;
    chain_pending *p;
    chain_actor *a;
    int rc, created;

    if (err == NULL)
        err = &own_err;
    if (c->read_only)
        return th_error_set(err, TH_EPERM, "chains opened read-only");
    p = pending_new(ev->type, tlen, ev->description, dlen, ev->data, ev->data_len, content, clen);
    if (p == NULL)
        return th_error_set(err, TH_ENOMEM, "out of memory");
    if ((a = chain_actor_get(c, ev->actor, alen, 1, &created, err)) == NULL) {
        chain_pending_free(p);
        return err->code;
    }
    if (content != NULL)
        memcpy(p->content_hash, chash, 32);
    pthread_mutex_lock(&a->lock);
    if (a->next_seq != ev->seq || (ev->seq > 0 && memcmp(a->last, ev->parent, 32) != 0)) {
        pthread_mutex_unlock(&a->lock);
        chain_actor_unpin(a);
        chain_pending_free(p);
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
        a->used_ms = base_clock_wall_ms();
    }
    pthread_mutex_unlock(&a->lock);
    chain_actor_unpin(a);
    if (rc != TH_OK)
        chain_pending_free(p);
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

int chain_actor_known(th_chain *c, const char *actor, th_error *err)
{
    chain_actor *a;
    th_error e;
    int created;

    th_error_clear(&e);
    a = chain_actor_get(c, actor, strlen(actor), 0, &created, &e);
    chain_actor_unpin(a);
    if (a != NULL)
        return 1;
    if (e.code == TH_ENOENT)
        return 0;
    th_error_set(err, e.code, "%s", e.msg);
    return -1;
}

size_t chain_in_memory(th_chain *c, uint64_t *loaded, uint64_t *dropped)
{
    size_t n;

    pthread_rwlock_rdlock(&c->tlock);
    n = c->nactors;
    pthread_rwlock_unlock(&c->tlock);
    if (loaded != NULL)
        *loaded = atomic_load(&c->n_loaded);
    if (dropped != NULL)
        *dropped = atomic_load(&c->n_dropped);
    return n;
}

size_t chain_table_buckets(th_chain *c)
{
    size_t n;

    pthread_rwlock_rdlock(&c->tlock);
    n = c->nbuckets;
    pthread_rwlock_unlock(&c->tlock);
    return n;
}

/* ---- durability ---- */

int th_chain_wait_durable(th_chain *c, uint64_t ticket, int timeout_ms, th_error *err)
{
    uint64_t deadline =
        base_clock_mono_ns() + (uint64_t)(timeout_ms < 0 ? 0 : timeout_ms) * 1000000u;
    struct timespec ts;
    int rc = TH_OK;

    pthread_mutex_lock(&c->qlock);
    if (c->durable < ticket && ticket > c->dwait_max) {
        /* the writer commits what this waits for as soon as it is free */
        c->dwait_max = ticket;
        if (c->qhead != NULL && c->qhead->ticket <= ticket)
            pthread_cond_signal(&c->qcv);
    }
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
        chain_deadline_after(&ts, deadline);
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

/* A reader looks the key up when first asked (a replay or a read of
 * events never needs it: no PEM decoding at open). */
int chain_trusted_key(th_chain *c, uint8_t out[CHAIN_PUBKEY_LEN], bool *from_db)
{
    pthread_mutex_lock(&c->rlock);
    if (!c->trusted_looked) {
        c->trusted_looked = 1;
        load_trusted(c);
    }
    pthread_mutex_unlock(&c->rlock);
    /* set once, under the lock, before trusted_looked is seen */
    if (!c->has_trusted)
        return -1;
    memcpy(out, c->trusted, 32);
    if (from_db != NULL)
        *from_db = c->trusted_from_db != 0;
    return 0;
}

int th_chain_public_key(th_chain *c, uint8_t key[32], th_error *err)
{
    if (chain_trusted_key(c, key, NULL) != 0)
        return th_error_set(err, TH_ENOENT, "no signing key in %s yet", c->home);
    return TH_OK;
}
