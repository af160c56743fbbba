/*
 * store.c - the content-addressed store (see theater/store.h) on
 * theater.db's store_* tables (schema in db.c).
 *
 * Invariants: store_blob holds each distinct content once (its SHA-256 in
 * `hash`); a store holds a reference iff store_content has (hash, store),
 * whose `blob` is the id of the bytes in store_blob; a
 * label's hash is always held by its store (label calls check it inside the
 * same transaction).  Every call runs under the handle's mutex, and calls
 * that write run in one IMMEDIATE transaction, so a crash leaves either all
 * of a call's effects or none (th_store_put_many: all of its blobs or none).
 *
 * Hot paths use as few statements as the invariants allow: a put looks the
 * hash up in store_content (any store's row gives the bytes' id), appends
 * the bytes to store_blob only if none has them, and adds its own
 * store_content row with one INSERT ... SELECT that also proves the store
 * exists; a get finds the bytes' id with one covering seek in
 * store_content that also proves the store holds the reference, then
 * copies the bytes straight from SQLite's pages into the caller's buffer
 * through a blob handle (incremental blob I/O, moved from row to row while
 * the read snapshot lives: no statement to run, no column value to fill).
 * Only when those find nothing do the slower checks run, to say why.  Hashing (put) and
 * re-hashing (th_store_get; th_store_get_unverified skips it) happen outside
 * the mutex and the transaction.
 *
 * Checkpoints (copying committed WAL frames into the database file, with
 * its fsyncs) are off the callers' path: a writable handle has a
 * background thread with its own connection, woken by the WAL hook once
 * the WAL holds STORE_CKPT_FRAMES frames and then checkpointing at most
 * every STORE_CKPT_PAUSE_MS.  While writes keep coming the WAL cannot
 * restart from its beginning (SQLite starts it over only when a write
 * finds it wholly copied), so once it holds STORE_CKPT_RESTART_FRAMES
 * frames the thread follows its pass with a second one holding the
 * handle's mutex, which copies the few frames committed during the first
 * (bg_checkpoint): the next put starts the WAL over, and the writer never
 * waits for the fsyncs of a whole WAL.  Should the thread fall behind, at
 * STORE_CKPT_BACKSTOP_FRAMES the writer checkpoints itself, as SQLite's
 * auto-checkpoint would.
 *
 * Read snapshots: starting a read transaction costs more than a get itself
 * (WAL read-mark locks, two fcntl calls), so get and exists keep theirs
 * open for up to STORE_SNAP_MS and reuse it.  That is sound because what
 * they report when they find something can never stop being true: content
 * is never removed from a store and its bytes never change.  When they find
 * nothing in a reused snapshot they retry in a fresh one, so a put by any
 * connection is seen as soon as it is committed.  Every other call (writes,
 * labels, listings) ends the snapshot first and reads the latest state.
 * The background thread ends a snapshot left open by an idle handle, so it
 * never holds back checkpoints for long.  Read-only handles (no thread)
 * start a read transaction per call.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "base/hex.h"
#include "base/limits.h"
#include "base/sha256.h"
#include "base/uuid.h"
#include "db/db.h"
#include "theater/home.h"
#include "theater/store.h"

#define STORE_STMT_CACHE 32
#define STORE_KNOWN 4 /* store ids a handle remembers as existing */
/* The WAL starts over only after a checkpoint that copied all of it, which
 * a stream of puts must wait for (the pass under the mutex, or the
 * writer's backstop: 15-60 ms of copies and syncs), so it restarts once
 * per 16,000-32,000 frames (64-128 MiB of WAL, ~5,000-10,000 puts of 1 KiB)
 * rather than per 3,000-8,000: each stall is paid over more puts.  The
 * thread starts copying at 8,192 frames (not 1,000): a burst of a few
 * thousand puts then runs without its copies and syncs alongside (their
 * I/O interrupts and CPU slowed the writer by ~1 us per put), and the
 * thread copies it once the writer pauses. */
#define STORE_CKPT_FRAMES 8192           /* WAL frames that wake the checkpointer */
#define STORE_CKPT_RESTART_FRAMES 16384  /* WAL frames the thread copies wholly */
#define STORE_CKPT_BACKSTOP_FRAMES 32768 /* WAL frames at which the writer checkpoints */
#define STORE_CKPT_TAIL_FRAMES 1000      /* frames left for the pass under the mutex */
#define STORE_CKPT_PASSES 4              /* passes alongside the writer, at most */
#define STORE_CKPT_PAUSE_MS 20           /* least time between two checkpoints */
#define STORE_SNAP_MS 10                 /* longest life of a reused read snapshot */
#define STORE_MS 1000000u                /* nanoseconds per millisecond */

struct th_store {
    sqlite3 *db;
    pthread_mutex_t lock;
    uint64_t max_blob;
    bool read_only;
    uint64_t snap_ns;   /* when the open read snapshot began; 0 = none (under `lock`) */
    sqlite3_blob *blob; /* a get's blob handle, open only within a snapshot (`lock`) */
    /* The background thread (writable handles): its connection for
     * checkpoints and its requests, guarded by bg_lock, which is taken after
     * `lock` or alone, never before it. */
    sqlite3 *ckpt_db;
    pthread_t bg_thread;
    pthread_mutex_t bg_lock;
    /* Held while either connection checkpoints: SQLite refuses a second
     * concurrent checkpoint (SQLITE_BUSY) instead of waiting, so without it
     * the writer's backstop could fail every time behind a slow background
     * pass (a loaded disk) and the WAL would grow without bound. */
    pthread_mutex_t ckpt_lock;
    pthread_cond_t bg_cv;
    int bg_started, bg_quit;
    int ckpt_wanted; /* the WAL hook asks for a checkpoint */
    /* The WAL's size in frames after the handle's last commit (set by the
     * WAL hook, read by the thread without a lock). */
    atomic_int wal_frames;
    uint64_t snap_due; /* when to look at the read snapshot again; 0 = no need */
    /* Stores this handle has seen exist (a put into them committed), most
     * recent first; stores are never removed, so a put into one of them
     * needs no proof that it exists (under `lock`). */
    char known[STORE_KNOWN][TH_STORE_ID_LEN + 1];
    /* Prepared statements, keyed by the address of their SQL text (all SQL
     * here is string literals); used under `lock` only. */
    struct {
        const char *sql;
        sqlite3_stmt *st;
    } cache[STORE_STMT_CACHE];
};

/* A decoded reference: 32 bytes of SHA-256. */
typedef struct store_ref {
    uint8_t b[BASE_SHA256_LEN];
} store_ref;

static int bg_start(th_store *s, const char *home, int flags, th_error *err);
static void bg_stop(th_store *s);
static void blob_close(th_store *s);

int th_store_open(const th_store_config *cfg, th_store **out, th_error *err)
{
    th_store_config defaults = {0};
    char home[4096];
    pthread_condattr_t ca;
    th_store *s;
    int rc, flags;

    *out = NULL;
    if (cfg == NULL)
        cfg = &defaults;
    if (cfg->max_blob_bytes > TH_STORE_MAX_BLOB_LIMIT)
        return th_error_set(err, TH_EINVAL, "max_blob_bytes %llu is above the limit %u",
                            (unsigned long long)cfg->max_blob_bytes, TH_STORE_MAX_BLOB_LIMIT);
    if ((rc = th_home_resolve(cfg->home, home, sizeof home, err)) != TH_OK)
        return rc;
    s = calloc(1, sizeof *s);
    if (s == NULL)
        return th_error_set(err, TH_ENOMEM, "out of memory");
    s->max_blob = cfg->max_blob_bytes ? cfg->max_blob_bytes : TH_STORE_DEFAULT_MAX_BLOB;
    s->read_only = cfg->read_only != 0;
    flags = (s->read_only ? DB_READONLY : DB_BUFFER_WAL | DB_GROW_WAL) |
            (cfg->sync_normal ? DB_SYNC_NORMAL : 0);
    pthread_mutex_init(&s->lock, NULL);
    pthread_mutex_init(&s->bg_lock, NULL);
    pthread_mutex_init(&s->ckpt_lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->bg_cv, &ca);
    atomic_init(&s->wal_frames, 0);
    pthread_condattr_destroy(&ca);
    rc = db_open(home, flags, &s->db, err);
    if (rc == TH_OK && !s->read_only)
        rc = bg_start(s, home, flags, err);
    if (rc != TH_OK) {
        th_store_close(s);
        return rc;
    }
    *out = s;
    return TH_OK;
}

void th_store_close(th_store *s)
{
    size_t i;

    if (s == NULL)
        return;
    bg_stop(s); /* first: the thread uses s->db to end snapshots */
    blob_close(s);
    for (i = 0; i < STORE_STMT_CACHE; i++)
        sqlite3_finalize(s->cache[i].st);
    sqlite3_close_v2(s->db); /* ends an open snapshot */
    if (s->ckpt_db != NULL)  /* copy what is left */
        sqlite3_wal_checkpoint_v2(s->ckpt_db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    sqlite3_close_v2(s->ckpt_db);
    pthread_cond_destroy(&s->bg_cv);
    pthread_mutex_destroy(&s->bg_lock);
    pthread_mutex_destroy(&s->ckpt_lock);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

void th_store_list_free(th_store_list *list)
{
    size_t i;

    if (list == NULL)
        return;
    for (i = 0; i < list->count; i++)
        free(list->items[i]);
    free(list->items);
    list->items = NULL;
    list->count = 0;
}

/* ---- small helpers ---- */

static int parse_ref(const char *ref, store_ref *out, th_error *err)
{
    if (ref == NULL || base_hex_decode(ref, out->b, sizeof out->b) != 0)
        return th_error_set(err, TH_EINVAL, "bad content reference '%.80s' (want 64 hex digits)",
                            ref ? ref : "(null)");
    return TH_OK;
}

static void format_ref(const uint8_t *b, th_content_ref *out)
{
    base_hex_encode(b, BASE_SHA256_LEN, out->hash);
}

static int check_label(const char *label, th_error *err)
{
    size_t n;

    if (label == NULL || (n = strlen(label)) == 0)
        return th_error_set(err, TH_EINVAL, "empty label");
    if (n > TH_STORE_MAX_LABEL_BYTES)
        return th_error_set(err, TH_ETOOBIG, "label is %zu bytes, above the limit %u", n,
                            TH_STORE_MAX_LABEL_BYTES);
    return TH_OK;
}

static int check_writable(th_store *s, th_error *err)
{
    if (s->read_only)
        return th_error_set(err, TH_EPERM, "store opened read-only");
    return TH_OK;
}

/* The prepared statement for `sql` (a string literal), reset and with no
 * bindings; prepared on first use and cached.  Release with stmt_done. */
static int stmt_get(th_store *s, const char *sql, sqlite3_stmt **st)
{
    size_t i;
    int rc;

    for (i = 0; i < STORE_STMT_CACHE && s->cache[i].sql != NULL; i++)
        if (s->cache[i].sql == sql) {
            *st = s->cache[i].st;
            return SQLITE_OK;
        }
    rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL);
    if (rc == SQLITE_OK && i < STORE_STMT_CACHE) {
        s->cache[i].sql = sql;
        s->cache[i].st = *st;
    }
    return rc;
}

/* Done with a statement from stmt_get: reset it for the next use (cached
 * ones stay; an uncached one - the cache was full - is finalized). */
static void stmt_done(th_store *s, sqlite3_stmt *st)
{
    size_t i;

    if (st == NULL)
        return;
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    for (i = 0; i < STORE_STMT_CACHE; i++)
        if (s->cache[i].st == st)
            return;
    sqlite3_finalize(st);
}

/* Bind the variadic parameters described by `fmt` to st's parameters
 * 1, 2, ...: 's' text, 'r' store_ref (32-byte blob), 'i' int64.  The values
 * must outlive the statement's next step (SQLITE_STATIC). */
static int bind_args(sqlite3_stmt *st, const char *fmt, va_list ap)
{
    int rc = SQLITE_OK, i;

    for (i = 0; fmt[i] != '\0' && rc == SQLITE_OK; i++) {
        if (fmt[i] == 's')
            rc = sqlite3_bind_text(st, i + 1, va_arg(ap, const char *), -1, SQLITE_STATIC);
        else if (fmt[i] == 'r')
            rc = sqlite3_bind_blob(st, i + 1, va_arg(ap, const store_ref *)->b, BASE_SHA256_LEN,
                                   SQLITE_STATIC);
        else
            rc = sqlite3_bind_int64(st, i + 1, va_arg(ap, sqlite3_int64));
    }
    return rc;
}

/* Prepare `sql` into *st and bind its parameters.  Returns a SQLite code;
 * the caller finalizes *st in every case. */
static int vprep(th_store *s, sqlite3_stmt **st, const char *sql, const char *fmt, va_list ap)
{
    int rc = stmt_get(s, sql, st);

    return rc == SQLITE_OK ? bind_args(*st, fmt, ap) : rc;
}

static int prep(th_store *s, sqlite3_stmt **st, const char *sql, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = vprep(s, st, sql, fmt, ap);
    va_end(ap);
    return rc;
}

/* Run a statement to completion (rows are ignored).  TH_OK or an error. */
static int run(th_store *s, th_error *err, const char *what, const char *sql, const char *fmt, ...)
{
    sqlite3_stmt *st = NULL;
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = vprep(s, &st, sql, fmt, ap);
    va_end(ap);
    if (rc == SQLITE_OK) {
        while ((rc = sqlite3_step(st)) == SQLITE_ROW)
            ;
        if (rc == SQLITE_DONE)
            rc = SQLITE_OK;
    }
    stmt_done(s, st);
    return rc == SQLITE_OK ? TH_OK : db_error(s->db, rc, err, what);
}

/* 1 if the query returns a row, 0 if not, a negative TH_E* code on error. */
static int has_row(th_store *s, th_error *err, const char *sql, const char *fmt, ...)
{
    sqlite3_stmt *st = NULL;
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = vprep(s, &st, sql, fmt, ap);
    va_end(ap);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    stmt_done(s, st);
    if (rc == SQLITE_ROW)
        return 1;
    if (rc == SQLITE_DONE)
        return 0;
    return db_error(s->db, rc, err, "querying the store");
}

/* Transaction control through cached statements (sqlite3_exec would parse
 * the SQL on every call). */
static int begin(th_store *s, th_error *err)
{
    return run(s, err, "starting a transaction", "BEGIN IMMEDIATE", "");
}

/* Commit if rc is TH_OK, else roll back; returns the final code. */
static int finish(th_store *s, int rc, th_error *err)
{
    if (rc == TH_OK && (rc = run(s, err, "committing", "COMMIT", "")) == TH_OK)
        return TH_OK;
    if (!sqlite3_get_autocommit(s->db)) /* a failed COMMIT may have rolled back */
        run(s, NULL, "rolling back", "ROLLBACK", "");
    return rc;
}

/* TH_OK if store_id is a well-formed store id (no database access). */
static int check_store_id(const char *store_id, th_error *err)
{
    if (store_id == NULL || !base_uuid_valid(store_id))
        return th_error_set(err, TH_EINVAL, "bad store id '%.80s' (want a UUID)",
                            store_id ? store_id : "(null)");
    return TH_OK;
}

/* TH_OK if the store exists, TH_ENOENT/TH_EINVAL if not. */
static int check_store(th_store *s, const char *store_id, th_error *err)
{
    int rc;

    if ((rc = check_store_id(store_id, err)) != TH_OK)
        return rc;
    rc = has_row(s, err, "SELECT 1 FROM store WHERE id = ?", "s", store_id);
    if (rc == 0)
        return th_error_set(err, TH_ENOENT, "unknown store %s", store_id);
    return rc < 0 ? rc : TH_OK;
}

/* ---- read snapshots and the background thread ---- */

/* Close the handle's blob handle, if open (under `lock`). */
static void blob_close(th_store *s)
{
    if (s->blob != NULL) {
        sqlite3_blob_close(s->blob);
        s->blob = NULL;
    }
}

/* End the read snapshot, if one is open; under `lock`. */
static void snap_end(th_store *s)
{
    blob_close(s); /* it holds the read transaction open */
    if (s->snap_ns == 0)
        return;
    s->snap_ns = 0;
    if (!sqlite3_get_autocommit(s->db))
        run(s, NULL, "ending a read", "COMMIT", "");
}

/* Take the handle's mutex for a call that must see the latest state. */
static void store_lock(th_store *s)
{
    pthread_mutex_lock(&s->lock);
    snap_end(s);
}

/* Under `lock`: make sure a read snapshot is open for get / exists, opening
 * a new one if there is none or it is STORE_SNAP_MS old.  *reused = 1 if
 * the snapshot was open before (so "not found" must be re-checked in a
 * fresh one).  Without a background thread, nothing is kept open. */
static int snap_use(th_store *s, int *reused, th_error *err)
{
    uint64_t now;
    int rc;

    *reused = 0;
    if (!s->bg_started)
        return TH_OK;
    now = base_clock_mono_ns();
    if (s->snap_ns != 0 && now - s->snap_ns < STORE_SNAP_MS * STORE_MS) {
        *reused = 1;
        return TH_OK;
    }
    snap_end(s);
    if ((rc = run(s, err, "starting a read", "BEGIN", "")) != TH_OK)
        return rc;
    s->snap_ns = now;
    pthread_mutex_lock(&s->bg_lock); /* have the thread end it if we go idle */
    if (s->snap_due == 0) {
        s->snap_due = now + STORE_SNAP_MS * STORE_MS;
        pthread_cond_signal(&s->bg_cv);
    }
    pthread_mutex_unlock(&s->bg_lock);
    return TH_OK;
}

/* WAL hook of the handle's connection, called after each commit (under
 * `lock`) with the WAL's size in frames. */
static int ckpt_hook(void *ud, sqlite3 *db, const char *name, int frames)
{
    th_store *s = ud;

    (void)name;
    atomic_store_explicit(&s->wal_frames, frames, memory_order_relaxed);
    if (frames >= STORE_CKPT_BACKSTOP_FRAMES) {
        /* waits for a background pass in progress, then copies the rest */
        pthread_mutex_lock(&s->ckpt_lock);
        sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        pthread_mutex_unlock(&s->ckpt_lock);
    } else if (frames >= STORE_CKPT_FRAMES) {
        pthread_mutex_lock(&s->bg_lock);
        if (!s->ckpt_wanted) {
            s->ckpt_wanted = 1;
            pthread_cond_signal(&s->bg_cv);
        }
        pthread_mutex_unlock(&s->bg_lock);
    }
    return SQLITE_OK;
}

/* Wait on bg_cv until signalled or, if `until` is not 0, that time. */
static void bg_wait(th_store *s, uint64_t until)
{
    struct timespec ts;

    if (until == 0) {
        pthread_cond_wait(&s->bg_cv, &s->bg_lock);
        return;
    }
    ts.tv_sec = (time_t)(until / 1000000000u);
    ts.tv_nsec = (long)(until % 1000000000u);
    pthread_cond_timedwait(&s->bg_cv, &s->bg_lock, &ts);
}

/* Sync the database file of the checkpointer's connection (fdatasync).
 * SQLite syncs it only at the end of a checkpoint that copied every frame,
 * so without this the pass holding the handle's mutex would sync all that
 * the passes before it copied, while puts and gets wait. */
static void bg_sync_db(th_store *s)
{
    sqlite3_file *f = NULL;

    if (sqlite3_file_control(s->ckpt_db, "main", SQLITE_FCNTL_FILE_POINTER, &f) == SQLITE_OK &&
        f != NULL && f->pMethods != NULL)
        f->pMethods->xSync(f, SQLITE_SYNC_NORMAL);
}

/* One PASSIVE pass of the checkpointer's connection (it never blocks the
 * writer or readers; frames a reader still uses wait for the next round):
 * the frames in the WAL into *log and those copied so far into *done. */
static void bg_pass(th_store *s, int *log, int *done)
{
    pthread_mutex_lock(&s->ckpt_lock);
    sqlite3_wal_checkpoint_v2(s->ckpt_db, NULL, SQLITE_CHECKPOINT_PASSIVE, log, done);
    pthread_mutex_unlock(&s->ckpt_lock);
}

/* The background thread's checkpoint (without bg_lock): a pass alongside
 * the writer; and once the WAL has grown to STORE_CKPT_RESTART_FRAMES and
 * passes leave frames behind, more passes (each followed by a sync of what
 * it copied) until at most STORE_CKPT_TAIL_FRAMES are left, counting those
 * the handle committed while the pass ran (a pass reports only what was
 * left of the WAL as it was when it began: in a stream of puts the frames
 * committed meanwhile were the larger part, and the pass under the mutex
 * then had those to copy and sync, 12-20 ms), then a last
 * pass holding the handle's mutex (after ending its read snapshot, whose
 * frames a checkpoint may not pass): no put of this handle can commit
 * meanwhile, so unless another connection writes (the chain's writer
 * shares the WAL) or reads an older snapshot, the WAL is then wholly in
 * the database and the handle's next put starts it over.  Puts and gets
 * wait only for that last pass, which copies and syncs what was committed
 * during the one before.  When the tail stays long (another writer), the
 * handle's mutex is not taken: the next round tries again, and the
 * writer's backstop bounds the WAL. */
static void bg_checkpoint(th_store *s)
{
    int log = 0, done = 0, now = 0, pass;

    for (pass = 0; pass < STORE_CKPT_PASSES; pass++) {
        bg_pass(s, &log, &done);
        if (log < STORE_CKPT_RESTART_FRAMES || done >= log)
            return;
        bg_sync_db(s);
        /* what the pass left, with what this handle committed while it
         * ran (below `done`: the WAL restarted, or the handle has not
         * committed since other connections grew it) */
        now = atomic_load_explicit(&s->wal_frames, memory_order_relaxed);
        if (now < done)
            return;
        if (now < log)
            now = log;
        if (now - done <= STORE_CKPT_TAIL_FRAMES)
            break;
    }
    if (now - done > STORE_CKPT_TAIL_FRAMES)
        return;
    pthread_mutex_lock(&s->lock);
    snap_end(s);
    bg_pass(s, &log, &done);
    pthread_mutex_unlock(&s->lock);
}

/* The background thread, under bg_lock except while it works: a PASSIVE
 * checkpoint (it never blocks the writer or readers; frames a reader still
 * uses wait for the next round) when the hook asks, at most every
 * STORE_CKPT_PAUSE_MS so one round copies many frames; and ending a read
 * snapshot that has outlived STORE_SNAP_MS. */
static void *bg_main(void *arg)
{
    th_store *s = arg;
    uint64_t now, ckpt_at = 0, due, until;

    pthread_mutex_lock(&s->bg_lock);
    while (!s->bg_quit) {
        now = base_clock_mono_ns();
        if (s->ckpt_wanted && now >= ckpt_at) {
            s->ckpt_wanted = 0;
            pthread_mutex_unlock(&s->bg_lock);
            bg_checkpoint(s);
            ckpt_at = base_clock_mono_ns() + STORE_CKPT_PAUSE_MS * STORE_MS;
            pthread_mutex_lock(&s->bg_lock);
            continue;
        }
        if (s->snap_due != 0 && now >= s->snap_due) {
            s->snap_due = 0;
            pthread_mutex_unlock(&s->bg_lock); /* `lock` is never taken under bg_lock */
            pthread_mutex_lock(&s->lock);
            if (s->snap_ns != 0 && now - s->snap_ns >= STORE_SNAP_MS * STORE_MS)
                snap_end(s);
            due = s->snap_ns != 0 ? s->snap_ns + STORE_SNAP_MS * STORE_MS : 0;
            pthread_mutex_unlock(&s->lock);
            pthread_mutex_lock(&s->bg_lock);
            if (due != 0 && (s->snap_due == 0 || due < s->snap_due))
                s->snap_due = due;
            continue;
        }
        until = s->ckpt_wanted ? ckpt_at : 0;
        if (s->snap_due != 0 && (until == 0 || s->snap_due < until))
            until = s->snap_due;
        bg_wait(s, until);
    }
    pthread_mutex_unlock(&s->bg_lock);
    return NULL;
}

/* Open the checkpoint connection and start the thread; then route the
 * handle's checkpoints through ckpt_hook (which replaces SQLite's
 * auto-checkpoint). */
static int bg_start(th_store *s, const char *home, int flags, th_error *err)
{
    int rc;

    if ((rc = db_open(home, flags, &s->ckpt_db, err)) != TH_OK)
        return rc;
    if (pthread_create(&s->bg_thread, NULL, bg_main, s) != 0)
        return th_error_set(err, TH_ENOMEM, "cannot start the store's background thread");
    s->bg_started = 1;
    sqlite3_wal_hook(s->db, ckpt_hook, s);
    return TH_OK;
}

/* Stop and join the thread, if started. */
static void bg_stop(th_store *s)
{
    if (!s->bg_started)
        return;
    pthread_mutex_lock(&s->bg_lock);
    s->bg_quit = 1;
    pthread_cond_signal(&s->bg_cv);
    pthread_mutex_unlock(&s->bg_lock);
    pthread_join(s->bg_thread, NULL);
    s->bg_started = 0;
}

/* TH_OK if the store holds ref, TH_ENOENT if not. */
static int check_held(th_store *s, const char *store_id, const store_ref *r, th_error *err)
{
    char hex[2 * BASE_SHA256_LEN + 1];
    int rc = has_row(s, err, "SELECT 1 FROM store_content WHERE store = ?1 AND hash = ?2", "sr",
                     store_id, r);

    if (rc == 0)
        return th_error_set(err, TH_ENOENT, "store %s holds no content %s", store_id,
                            base_hex_encode(r->b, sizeof r->b, hex));
    return rc < 0 ? rc : TH_OK;
}

/* Check one blob against the size limit and hash it into `r`; no database
 * access, so callers do it before taking the mutex.  `index` names the blob
 * of a batch in messages (-1: a single put). */
static int hash_blob(const th_store *s, const th_store_blob *b, long index, store_ref *r,
                     th_error *err)
{
    if (b->len > s->max_blob) {
        if (index < 0)
            return th_error_set(err, TH_ETOOBIG,
                                "content is %zu bytes, above the blob limit of %llu", b->len,
                                (unsigned long long)s->max_blob);
        return th_error_set(err, TH_ETOOBIG, "blob %ld is %zu bytes, above the blob limit of %llu",
                            index, b->len, (unsigned long long)s->max_blob);
    }
    if (b->data == NULL && b->len != 0)
        return index < 0 ? th_error_set(err, TH_EINVAL, "NULL content")
                         : th_error_set(err, TH_EINVAL, "blob %ld has NULL content", index);
    if (base_sha256(b->data != NULL ? b->data : "", b->len, r->b) != 0)
        return th_error_set(err, TH_ENOMEM, "SHA-256 failed (out of memory)");
    return TH_OK;
}

/* 1 if the handle has seen store `id` (a well-formed id) exist; under
 * `lock`.  Sound because no call removes a store. */
static int known_has(const th_store *s, const char *id)
{
    size_t i;

    for (i = 0; i < STORE_KNOWN; i++)
        if (memcmp(s->known[i], id, TH_STORE_ID_LEN + 1) == 0)
            return 1;
    return 0;
}

/* Remember that store `id` (a well-formed id) exists, most recent first,
 * forgetting the least recent one; under `lock`. */
static void known_add(th_store *s, const char *id)
{
    size_t i;

    if (memcmp(s->known[0], id, TH_STORE_ID_LEN + 1) == 0)
        return;
    for (i = STORE_KNOWN - 1; i > 0; i--)
        memcpy(s->known[i], s->known[i - 1], sizeof s->known[i]);
    memcpy(s->known[0], id, TH_STORE_ID_LEN + 1);
}

/* Add the blob `b`, already hashed to `r` by hash_blob, to the store; inside
 * a write transaction.  db_blob_id finds the bytes if any store holds them
 * (dedup: one seek in store_content) or appends them to store_blob.  If
 * the store is known to exist (`store_known`: the caller checked it in
 * this transaction, or the handle has seen it exist, see known_has), the
 * store_content row is simply added (or left as it is); otherwise INSERT
 * ... SELECT adds it only if the store exists, and if no row was added,
 * either the store already holds `r` (nothing to do) or the store does
 * not exist, which is checked then; the bytes appended for an unknown
 * store go with the rolled-back transaction. */
static int put_locked(th_store *s, const char *store_id, const th_store_blob *b, const store_ref *r,
                      int store_known, th_error *err)
{
    sqlite3_stmt *find = NULL, *ins = NULL;
    sqlite3_int64 id = 0;
    int rc;

    rc = stmt_get(s, DB_SQL_BLOB_FIND, &find);
    if (rc == SQLITE_OK)
        rc = stmt_get(s, DB_SQL_BLOB_INSERT, &ins);
    if (rc == SQLITE_OK)
        rc = db_blob_id(find, ins, r->b, b->data, b->len, &id);
    stmt_done(s, find);
    stmt_done(s, ins);
    if (rc != SQLITE_OK)
        return db_error(s->db, rc, err, "storing content");
    if (store_known)
        return run(s, err, "storing content",
                   "INSERT INTO store_content(hash, store, blob) VALUES(?2, ?1, ?3)"
                   " ON CONFLICT(hash, store) DO UPDATE SET blob = excluded.blob WHERE blob <= 0",
                   "sri", store_id, r, id);
    rc = run(
        s, err, "storing content",
        "INSERT INTO store_content(hash, store, blob) SELECT ?2, ?1, ?3 FROM store WHERE id = ?1"
        " ON CONFLICT(hash, store) DO UPDATE SET blob = excluded.blob WHERE blob <= 0",
        "sri", store_id, r, id);
    if (rc != TH_OK)
        return rc;
    if (sqlite3_changes(s->db) == 0)
        return store_known ? TH_OK : check_store(s, store_id, err);
    return TH_OK;
}

/* Put blobs[0..n) (hashed to r[0..n)) into the store in one transaction.
 * A single blob needs no separate store check (put_locked proves the store
 * exists); a batch checks the store once. */
static int put_blobs(th_store *s, const char *store_id, const th_store_blob *blobs,
                     const store_ref *r, size_t n, th_error *err)
{
    size_t i;
    int rc, known;

    store_lock(s);
    known = known_has(s, store_id);
    if ((rc = begin(s, err)) == TH_OK) {
        if (n != 1 && !known)
            rc = check_store(s, store_id, err);
        for (i = 0; i < n && rc == TH_OK; i++)
            rc = put_locked(s, store_id, &blobs[i], &r[i], n != 1 || known, err);
        rc = finish(s, rc, err);
    }
    if (rc == TH_OK)
        known_add(s, store_id);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static int set_label(th_store *s, const char *store_id, const char *label, const store_ref *r,
                     th_error *err)
{
    return run(s, err, "setting label",
               "INSERT INTO store_label(store, name, hash) VALUES(?, ?, ?)"
               " ON CONFLICT(store, name) DO UPDATE SET hash = excluded.hash",
               "ssr", store_id, label, r);
}

static int label_exists(th_store *s, const char *store_id, const char *label, th_error *err)
{
    int rc = has_row(s, err, "SELECT 1 FROM store_label WHERE store = ? AND name = ?", "ss",
                     store_id, label);

    if (rc == 0)
        return th_error_set(err, TH_ENOENT, "store %s has no label '%s'", store_id, label);
    return rc < 0 ? rc : TH_OK;
}

/* ---- the API ---- */

int th_store_new(th_store *s, char id[TH_STORE_ID_LEN + 1], th_error *err)
{
    int rc;

    if ((rc = check_writable(s, err)) != TH_OK)
        return rc;
    if (base_uuid_v4(id) != 0)
        return th_error_set(err, TH_EIO, "random generator failed");
    store_lock(s);
    rc = run(s, err, "creating store", "INSERT INTO store(id, created_ms) VALUES(?, ?)", "si", id,
             (sqlite3_int64)base_clock_wall_ms());
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int th_store_create(th_store *s, const char *store_id, th_error *err)
{
    int rc;

    if ((rc = check_writable(s, err)) != TH_OK || (rc = check_store_id(store_id, err)) != TH_OK)
        return rc;
    store_lock(s);
    rc = run(s, err, "creating store", "INSERT OR IGNORE INTO store(id, created_ms) VALUES(?, ?)",
             "si", store_id, (sqlite3_int64)base_clock_wall_ms());
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* Collect column 0 (text, or a 32-byte blob shown as hex) of every row. */
static int collect(th_store *s, sqlite3_stmt *st, th_store_list *out, th_error *err)
{
    char **items = NULL, **n, *str;
    size_t count = 0, cap = 0;
    const void *p;
    int rc;

    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (count == cap) {
            cap = cap ? cap * 2 : 16;
            n = realloc(items, cap * sizeof *items);
            if (n == NULL)
                goto nomem;
            items = n;
        }
        if (sqlite3_column_type(st, 0) == SQLITE_BLOB &&
            sqlite3_column_bytes(st, 0) == BASE_SHA256_LEN) {
            p = sqlite3_column_blob(st, 0);
            str = malloc(2 * BASE_SHA256_LEN + 1);
            if (str != NULL && p != NULL)
                base_hex_encode(p, BASE_SHA256_LEN, str);
        } else {
            p = sqlite3_column_text(st, 0);
            str = p != NULL ? strdup(p) : NULL;
        }
        if (str == NULL)
            goto nomem;
        items[count++] = str;
    }
    out->items = items;
    out->count = count;
    if (rc != SQLITE_DONE) {
        th_store_list_free(out);
        return db_error(s->db, rc, err, "listing");
    }
    return TH_OK;
nomem:
    out->items = items;
    out->count = count;
    th_store_list_free(out);
    return th_error_set(err, TH_ENOMEM, "out of memory");
}

int th_store_list_stores(th_store *s, th_store_list *out, th_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc;

    out->items = NULL;
    out->count = 0;
    store_lock(s);
    rc = prep(s, &st, "SELECT id FROM store ORDER BY created_ms, id", "");
    rc = rc == SQLITE_OK ? collect(s, st, out, err) : db_error(s->db, rc, err, "listing stores");
    stmt_done(s, st);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int th_store_put(th_store *s, const char *store_id, const void *data, size_t len,
                 th_content_ref *ref, th_error *err)
{
    th_store_blob b = {data, len};
    store_ref r;
    int rc;

    if ((rc = check_writable(s, err)) != TH_OK || (rc = check_store_id(store_id, err)) != TH_OK ||
        (rc = hash_blob(s, &b, -1, &r, err)) != TH_OK)
        return rc;
    rc = put_blobs(s, store_id, &b, &r, 1, err);
    if (rc == TH_OK)
        format_ref(r.b, ref);
    return rc;
}

int th_store_put_many(th_store *s, const char *store_id, const th_store_blob *blobs, size_t n,
                      th_content_ref *refs_out, th_error *err)
{
    store_ref *r;
    size_t i;
    int rc;

    if ((rc = check_writable(s, err)) != TH_OK || (rc = check_store_id(store_id, err)) != TH_OK)
        return rc;
    if (n == 0) { /* nothing to store; still an error for an unknown store */
        store_lock(s);
        rc = check_store(s, store_id, err);
        pthread_mutex_unlock(&s->lock);
        return rc;
    }
    if (blobs == NULL || refs_out == NULL)
        return th_error_set(err, TH_EINVAL, "NULL %s for %zu blobs",
                            blobs == NULL ? "blobs" : "refs_out", n);
    if (n > SIZE_MAX / sizeof *r || (r = malloc(n * sizeof *r)) == NULL)
        return th_error_set(err, TH_ENOMEM, "out of memory (%zu blobs)", n);
    rc = TH_OK;
    for (i = 0; i < n && rc == TH_OK; i++)
        rc = hash_blob(s, &blobs[i], (long)i, &r[i], err);
    if (rc == TH_OK)
        rc = put_blobs(s, store_id, blobs, r, n, err);
    for (i = 0; i < n && rc == TH_OK; i++)
        format_ref(r[i].b, &refs_out[i]);
    free(r);
    return rc;
}

/* Why a get found no row: the store id is malformed (get, get_unverified
 * and exists check it only here, on a miss: no row has a malformed id, so
 * a hit proves it well-formed), the store is unknown, does not hold the
 * reference, or holds it but its blob is missing (a damaged database). */
static int get_missing(th_store *s, const char *store_id, const store_ref *r, const char *ref,
                       th_error *err)
{
    int rc;

    if ((rc = check_store(s, store_id, err)) != TH_OK ||
        (rc = check_held(s, store_id, r, err)) != TH_OK)
        return rc;
    return th_error_set(err, TH_ECORRUPT, "content %s is listed but missing", ref);
}

/* Under `lock`, in the read snapshot (or, without one, in the implicit read
 * transaction of this call): copy the bytes of store_blob row `id` into a
 * malloc'd *buf.  The bytes go straight from SQLite's pages into the
 * caller's buffer (incremental blob I/O: no statement run, no copy into a
 * column value first).  The blob handle is moved from row to row
 * (sqlite3_blob_reopen) while the snapshot lives; it holds the read
 * transaction open, so snap_end closes it, and a call without a snapshot
 * closes it before it returns.  A row that is missing (a damaged database)
 * is TH_ECORRUPT. */
static int blob_copy(th_store *s, sqlite3_int64 id, const char *ref, void **buf, size_t *n,
                     th_error *err)
{
    int rc, len;

    if (id <= 0)
        return th_error_set(err, TH_ECORRUPT, "content %s is listed but missing", ref);
    if (s->blob != NULL)
        rc = sqlite3_blob_reopen(s->blob, id);
    else
        rc = sqlite3_blob_open(s->db, "main", "store_blob", "data", id, 0, &s->blob);
    if (rc != SQLITE_OK) { /* the handle is unusable after a failure */
        blob_close(s);
        if ((rc & 0xff) == SQLITE_ERROR)
            return th_error_set(err, TH_ECORRUPT, "content %s is listed but missing (%s)", ref,
                                sqlite3_errmsg(s->db));
        return db_error(s->db, rc, err, "reading content");
    }
    len = sqlite3_blob_bytes(s->blob);
    *n = (size_t)len;
    *buf = malloc(*n ? *n : 1);
    if (*buf == NULL)
        return th_error_set(err, TH_ENOMEM, "out of memory (%zu bytes)", *n);
    if (len > 0 && (rc = sqlite3_blob_read(s->blob, *buf, len, 0)) != SQLITE_OK) {
        free(*buf);
        *buf = NULL;
        blob_close(s);
        return db_error(s->db, rc, err, "reading content");
    }
    return TH_OK;
}

/* Copy column 0 of the row at `st` (a blob) into a malloc'd *buf. */
static int column_copy(sqlite3_stmt *st, void **buf, size_t *n, th_error *err)
{
    const void *p = sqlite3_column_blob(st, 0);

    *n = (size_t)sqlite3_column_bytes(st, 0);
    *buf = malloc(*n ? *n : 1);
    if (*buf == NULL)
        return th_error_set(err, TH_ENOMEM, "out of memory (%zu bytes)", *n);
    if (*n != 0)
        memcpy(*buf, p, *n);
    return TH_OK;
}

/* The locked part of a get.  In a read snapshot (writable handles): one
 * covering seek in store_content proves the store holds the reference and
 * gives the bytes' id, and blob_copy reads them through the snapshot's
 * blob handle.  Without one (read-only handles, whose blob handle could
 * not outlive the call), one join reads the bytes in the statement's own
 * read transaction, as a blob handle opened per call would cost more.  A
 * miss in a reused snapshot is re-checked in a fresh one; `fresh` asks for
 * a fresh one from the start.  *reused tells whether the bytes came from a
 * reused snapshot. */
static int get_locked(th_store *s, const char *store_id, const store_ref *r, const char *ref,
                      int fresh, void **buf, size_t *n, int *reused, th_error *err)
{
    sqlite3_stmt *st = NULL;
    sqlite3_int64 id = 0;
    int rc, in_snap = 0, copied = TH_OK;

    *reused = fresh;
    pthread_mutex_lock(&s->lock);
    do {
        if (*reused)
            snap_end(s);
        if ((rc = snap_use(s, reused, err)) != TH_OK)
            goto out;
        in_snap = s->snap_ns != 0;
        if (in_snap)
            rc = prep(s, &st, "SELECT blob FROM store_content WHERE hash = ?2 AND store = ?1", "sr",
                      store_id, r);
        else
            rc = prep(s, &st,
                      "SELECT b.data FROM store_content c JOIN store_blob b ON b.id = c.blob"
                      " WHERE c.hash = ?2 AND c.store = ?1",
                      "sr", store_id, r);
        if (rc == SQLITE_OK)
            rc = sqlite3_step(st);
        if (rc == SQLITE_ROW && in_snap)
            id = sqlite3_column_int64(st, 0);
        else if (rc == SQLITE_ROW)
            copied = column_copy(st, buf, n, err);
        stmt_done(s, st);
        st = NULL;
    } while (rc == SQLITE_DONE && *reused);
    if (rc == SQLITE_ROW)
        rc = in_snap ? blob_copy(s, id, ref, buf, n, err) : copied;
    else if (rc == SQLITE_DONE)
        rc = get_missing(s, store_id, r, ref, err);
    else
        rc = db_error(s->db, rc, err, "reading content");
out:
    if (rc != TH_OK || s->snap_ns == 0)
        snap_end(s); /* also closes the blob handle */
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* th_store_get: the bytes are re-hashed outside the mutex.  Bytes from a
 * reused snapshot that fail the check are read again from a fresh one
 * before the damage is reported (the database may have been repaired or
 * changed meanwhile). */
int th_store_get(th_store *s, const char *store_id, const char *ref, void **data, size_t *len,
                 th_error *err)
{
    uint8_t check[BASE_SHA256_LEN];
    store_ref r;
    size_t n = 0;
    void *buf = NULL;
    int rc, reused, fresh;

    *data = NULL;
    *len = 0;
    if ((rc = parse_ref(ref, &r, err)) != TH_OK)
        return rc;
    for (fresh = 0;; fresh = 1) {
        if ((rc = get_locked(s, store_id, &r, ref, fresh, &buf, &n, &reused, err)) != TH_OK)
            return rc;
        if (base_sha256(buf, n, check) == 0 && memcmp(check, r.b, sizeof check) == 0)
            break;
        free(buf);
        buf = NULL;
        if (!reused)
            return th_error_set(err, TH_ECORRUPT,
                                "content %s is damaged: its bytes no longer hash to it", ref);
    }
    *data = buf;
    *len = n;
    return TH_OK;
}

/* The same read as th_store_get's, without the re-hash: one statement in
 * the (reused) read snapshot and a copy of the bytes. */
int th_store_get_unverified(th_store *s, const char *store_id, const char *ref, void **data,
                            size_t *len, th_error *err)
{
    store_ref r;
    int rc, reused;

    *data = NULL;
    *len = 0;
    if ((rc = parse_ref(ref, &r, err)) != TH_OK)
        return rc;
    return get_locked(s, store_id, &r, ref, 0, data, len, &reused, err);
}

int th_store_exists(th_store *s, const char *store_id, const char *ref, bool *exists, th_error *err)
{
    store_ref r;
    int rc, reused = 0;

    *exists = false;
    if ((rc = parse_ref(ref, &r, err)) != TH_OK)
        return rc;
    pthread_mutex_lock(&s->lock);
    /* A store_content row implies the store exists; only a miss (in a fresh
     * snapshot) needs the store check. */
    do {
        if (reused)
            snap_end(s);
        if ((rc = snap_use(s, &reused, err)) != TH_OK)
            break;
        rc = has_row(s, err, "SELECT 1 FROM store_content WHERE store = ?1 AND hash = ?2", "sr",
                     store_id, &r);
    } while (rc == 0 && reused);
    if (rc == 0)
        rc = check_store(s, store_id, err);
    else if (rc == 1) {
        *exists = true;
        rc = TH_OK;
    }
    if (rc != TH_OK)
        snap_end(s);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* Shared body of label / replace-at-label: `must_exist` requires the label
 * to exist already. */
static int label_ref(th_store *s, const char *store_id, const char *label, const char *ref,
                     int must_exist, th_error *err)
{
    store_ref r;
    int rc;

    if ((rc = check_writable(s, err)) != TH_OK || (rc = check_label(label, err)) != TH_OK ||
        (rc = parse_ref(ref, &r, err)) != TH_OK)
        return rc;
    store_lock(s);
    if ((rc = begin(s, err)) == TH_OK) {
        rc = check_store(s, store_id, err);
        if (rc == TH_OK && must_exist)
            rc = label_exists(s, store_id, label, err);
        if (rc == TH_OK)
            rc = check_held(s, store_id, &r, err);
        if (rc == TH_OK)
            rc = set_label(s, store_id, label, &r, err);
        rc = finish(s, rc, err);
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int th_store_label(th_store *s, const char *store_id, const char *label, const char *ref,
                   th_error *err)
{
    return label_ref(s, store_id, label, ref, 0, err);
}

int th_store_replace_at_label(th_store *s, const char *store_id, const char *label, const char *ref,
                              th_error *err)
{
    return label_ref(s, store_id, label, ref, 1, err);
}

int th_store_get_by_label(th_store *s, const char *store_id, const char *label, th_content_ref *ref,
                          bool *found, th_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc;

    *found = false;
    if ((rc = check_label(label, err)) != TH_OK)
        return rc;
    store_lock(s);
    if ((rc = check_store(s, store_id, err)) == TH_OK) {
        rc = prep(s, &st, "SELECT hash FROM store_label WHERE store = ? AND name = ?", "ss",
                  store_id, label);
        if (rc == SQLITE_OK)
            rc = sqlite3_step(st);
        if (rc == SQLITE_ROW && sqlite3_column_bytes(st, 0) == BASE_SHA256_LEN) {
            format_ref(sqlite3_column_blob(st, 0), ref);
            *found = true;
            rc = TH_OK;
        } else if (rc == SQLITE_ROW) {
            rc = th_error_set(err, TH_ECORRUPT, "label '%s' holds a malformed reference", label);
        } else {
            rc = rc == SQLITE_DONE ? TH_OK : db_error(s->db, rc, err, "reading label");
        }
    }
    stmt_done(s, st);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int th_store_remove_label(th_store *s, const char *store_id, const char *label, th_error *err)
{
    int rc;

    if ((rc = check_writable(s, err)) != TH_OK || (rc = check_label(label, err)) != TH_OK)
        return rc;
    store_lock(s);
    if ((rc = begin(s, err)) == TH_OK) {
        rc = check_store(s, store_id, err);
        if (rc == TH_OK)
            rc = label_exists(s, store_id, label, err);
        if (rc == TH_OK)
            rc = run(s, err, "removing label",
                     "DELETE FROM store_label WHERE store = ? AND name = ?", "ss", store_id, label);
        rc = finish(s, rc, err);
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int th_store_remove_from_label(th_store *s, const char *store_id, const char *label,
                               const char *ref, th_error *err)
{
    store_ref r;
    int rc;

    if ((rc = check_writable(s, err)) != TH_OK || (rc = check_label(label, err)) != TH_OK ||
        (rc = parse_ref(ref, &r, err)) != TH_OK)
        return rc;
    store_lock(s);
    if ((rc = begin(s, err)) == TH_OK) {
        rc = check_store(s, store_id, err);
        if (rc == TH_OK)
            rc = label_exists(s, store_id, label, err);
        if (rc == TH_OK)
            rc = run(s, err, "removing label",
                     "DELETE FROM store_label WHERE store = ? AND name = ? AND hash = ?", "ssr",
                     store_id, label, &r);
        if (rc == TH_OK && sqlite3_changes(s->db) == 0)
            rc = th_error_set(err, TH_ENOENT, "label '%s' does not point to %s", label, ref);
        rc = finish(s, rc, err);
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* Shared body of store-at-label / replace-content-at-label. */
static int put_label(th_store *s, const char *store_id, const char *label, const void *data,
                     size_t len, int must_exist, th_content_ref *ref, th_error *err)
{
    th_store_blob b = {data, len};
    store_ref r;
    int rc;

    if ((rc = check_writable(s, err)) != TH_OK || (rc = check_label(label, err)) != TH_OK ||
        (rc = check_store_id(store_id, err)) != TH_OK ||
        (rc = hash_blob(s, &b, -1, &r, err)) != TH_OK)
        return rc;
    store_lock(s);
    if ((rc = begin(s, err)) == TH_OK) {
        rc = check_store(s, store_id, err);
        if (rc == TH_OK && must_exist)
            rc = label_exists(s, store_id, label, err);
        if (rc == TH_OK)
            rc = put_locked(s, store_id, &b, &r, 1, err);
        if (rc == TH_OK)
            rc = set_label(s, store_id, label, &r, err);
        rc = finish(s, rc, err);
    }
    pthread_mutex_unlock(&s->lock);
    if (rc == TH_OK)
        format_ref(r.b, ref);
    return rc;
}

int th_store_store_at_label(th_store *s, const char *store_id, const char *label, const void *data,
                            size_t len, th_content_ref *ref, th_error *err)
{
    return put_label(s, store_id, label, data, len, 0, ref, err);
}

int th_store_replace_content_at_label(th_store *s, const char *store_id, const char *label,
                                      const void *data, size_t len, th_content_ref *ref,
                                      th_error *err)
{
    return put_label(s, store_id, label, data, len, 1, ref, err);
}

/* Shared body of the two per-store listings. */
static int list_store(th_store *s, const char *store_id, const char *sql, th_store_list *out,
                      th_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc;

    out->items = NULL;
    out->count = 0;
    store_lock(s);
    if ((rc = check_store(s, store_id, err)) == TH_OK) {
        rc = prep(s, &st, sql, "s", store_id);
        rc = rc == SQLITE_OK ? collect(s, st, out, err) : db_error(s->db, rc, err, "listing");
    }
    stmt_done(s, st);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int th_store_list_labels(th_store *s, const char *store_id, th_store_list *out, th_error *err)
{
    return list_store(s, store_id, "SELECT name FROM store_label WHERE store = ? ORDER BY name",
                      out, err);
}

int th_store_list_content(th_store *s, const char *store_id, th_store_list *out, th_error *err)
{
    return list_store(s, store_id, "SELECT hash FROM store_content WHERE store = ? ORDER BY hash",
                      out, err);
}

int th_store_total_size(th_store *s, const char *store_id, uint64_t *bytes, th_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc;

    *bytes = 0;
    store_lock(s);
    if ((rc = check_store(s, store_id, err)) == TH_OK) {
        rc = prep(s, &st,
                  "SELECT coalesce(sum(b.size), 0) FROM store_content c"
                  " JOIN store_blob b ON b.id = c.blob WHERE c.store = ?",
                  "s", store_id);
        if (rc == SQLITE_OK)
            rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            *bytes = (uint64_t)sqlite3_column_int64(st, 0);
            rc = TH_OK;
        } else {
            rc = db_error(s->db, rc, err, "summing sizes");
        }
    }
    stmt_done(s, st);
    pthread_mutex_unlock(&s->lock);
    return rc;
}
