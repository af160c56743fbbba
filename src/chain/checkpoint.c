/*
 * checkpoint.c - the checkpointer thread of a chain writer: copies the
 * WAL's committed frames into the database file off the writer thread.
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
 * writer, between two commits, checkpoints those few frames (chain_wal_finish):
 * the next commit then starts the WAL over, and the file's blocks are
 * reused instead of allocated.  SQLite syncs the database only at the end
 * of a checkpoint that copied every frame, so this thread also syncs it
 * after each of its passes (db_sync): the writer's final pass then pauses
 * commits for about 1-3 ms instead of one sync of everything copied since
 * the last restart (40-180 ms measured).  At lighter loads the WAL usually
 * starts over on its own in a quiet moment. */
#define CHAIN_CHECKPOINT_MS 25
#define CHAIN_CHECKPOINT_NICE 10 /* the checkpointer thread's nice value */
#define CHAIN_WAL_TAIL_FRAMES 64 /* left for the writer's final pass, about */
#define CHAIN_WAL_MAX_PASSES 16
#define CHAIN_WAL_HARD 2 /* the writer checkpoints itself past this many bounds */

/* SQLite's WAL hook on the writer's connection: the WAL's size after each
 * commit (writer thread). */
int chain_wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
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
void chain_wal_finish(th_chain *c, int reset)
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
 * writer pauses (chain_wal_finish); syncing after each pass keeps it short. */
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

void *chain_checkpointer_main(void *arg)
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
        chain_deadline_after(&ts, base_clock_mono_ns() + CHAIN_CHECKPOINT_MS * 1000000u);
        pthread_cond_timedwait(&c->ccv, &c->qlock, &ts);
    }
    return NULL;
}
