/*
 * handle.h - the chain handle (struct th_chain) and its queue entries,
 * shared by the three files that run it:
 *   chain.c       open/close, the actor table, append, durability, listeners
 *   writer.c      the writer thread: group commit into SQLite, segments,
 *                 signed heads, the index, the pending record
 *   checkpoint.c  the checkpointer thread: WAL into the database file
 * The readers (read.c, verify.c, export.c...) do not see it: they use the
 * accessors of chain_int.h.
 */
#ifndef THEATER_CHAIN_HANDLE_H
#define THEATER_CHAIN_HANDLE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

#include "chain/chain_int.h"

/* Defaults of th_chain_config (open, chain.c; used by writer.c and
 * checkpoint.c). */
#define CHAIN_FLUSH_MS 1000u  /* index_flush_ms: a round starts at most once a second */
#define CHAIN_WAL_MAX_MIB 256 /* wal_max_mib */

typedef struct chain_actor {
    struct chain_actor *hnext; /* hash bucket chain */
    uint64_t hkey;             /* hash of the name */
    int64_t id;                /* chain_actor.id */
    pthread_mutex_t lock;      /* guards next_seq, last and used_ms */
    atomic_uint pins;          /* holders between chain_actor_get and chain_actor_unpin */
    uint64_t next_seq;
    uint8_t last[32];
    uint64_t used_ms;     /* wall clock of its last append (chain_sweep) */
    uint64_t stored_next; /* writer: first seq not yet stored */
    int persisted;        /* writer: the chain_actor row exists */
    uint64_t row_txn;     /* writer: the transaction that inserts that row */
    uint64_t head_seq;    /* writer: head of the last segment stored that touched it */
    uint8_t head_hash[32];
    /* encoder (whoever holds th_chain.elock: the writer thread or an
     * appender helping it, writer.c): the segment being encoded */
    uint64_t batch_no;    /* last segment encoded that touched this chain */
    uint32_t slot;        /* index in that segment's touched list */
    uint64_t batch_first; /* first seq within it */
    uint64_t enc_seq;     /* head within it so far */
    uint8_t enc_hash[32];
    /* the chain's last events in the segment being encoded (the candidates
     * for a v3 reference; ring of CHAIN_SEG_REF_LOOK) */
    const struct chain_pending *recent[CHAIN_SEG_REF_LOOK];
    uint32_t nrecent;               /* the chain's events so far in that segment */
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
    uint8_t has_parent;
    uint8_t has_desc;
    uint8_t slab;   /* CHAIN_OWN_BLOCK, CHAIN_IN_SLAB or CHAIN_SLAB_LAST */
    void *slab_mem; /* CHAIN_SLAB_LAST: the slab, given back with this entry */
    uint8_t hash[32];
    uint8_t parent[32];
    /* An event recorded by content reference (chain_int.h): the content
     * itself, stored in store_blob in the event's transaction. */
    const uint8_t *content; /* into buf, after data; NULL if none */
    size_t content_len;
    uint8_t content_hash[32];
    char buf[]; /* type NUL, description NUL (if any), data, content */
} chain_pending;

/* Queue entries are recycled blocks (base/block.h) allocated by appending
 * threads, or, for th_chain_append_many, laid out one after the other in
 * one allocation (a slab) of the appending thread: one allocation for up
 * to a whole call's events instead of one per event, and a writer walking
 * the queue reads them in address order (the hardware prefetches them)
 * instead of jumping between recycled blocks.  The writer frees entries in
 * queue order, and a slab's entries are queued together, in order: so the
 * slab is freed with its last entry. */
enum { CHAIN_OWN_BLOCK = 0, CHAIN_IN_SLAB, CHAIN_SLAB_LAST };
#define CHAIN_SLAB_BYTES (64u * 1024u) /* a slab's size (below malloc's mmap threshold) */
#define CHAIN_SLAB_KEEP 64u            /* idle slabs kept for reuse (4 MiB) */

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
    int trusted_from_db; /* no key file: `trusted` is the database's own claim */
    int trusted_looked;  /* load_trusted ran (a reader: when first asked) */

    /* Writer side (unused when read-only). */
    sqlite3 *wdb;
    EVP_PKEY *key;
    uint8_t pub[32];
    int lock_fd;
    sqlite3_stmt *ins_segment, *ins_actor, *ins_span, *upd_head, *set_indexed;
    sqlite3_stmt *find_blob, *ins_blob, *ins_content, *ins_store;
    uint64_t commit_no; /* writer: the last segment stored */
    uint64_t txn_no;    /* writer: transactions of segments begun */
    /* Encoder (writer.c): the queue is taken and encoded into signed
     * segments (chain_chunk) under elock, by the writer thread or by an
     * appender that finds a group commit due; the writer thread stores
     * them in order. */
    pthread_mutex_t elock;
    uint64_t batch_no; /* encoder: segments encoded (chain_actor.batch_no) */
    uint64_t enc_no;   /* encoder: the id of the last segment encoded */
    struct chain_chunk *chunk_head, *chunk_tail; /* qlock: encoded, to store, in order */
    struct chain_chunk *chunk_free;              /* qlock: recycled */
    unsigned nchunk_free;
    int encoding;          /* qlock: a taken queue is being encoded */
    uint64_t by_appenders; /* qlock: segments encoded by appenders */
    uint64_t assist_ns;    /* qlock: when an appender last encoded */
    chain_actor **dirty;   /* chains with a pending span, not in the round */
    size_t ndirty, cap_dirty;
    chain_actor **round; /* chains being indexed in the current round */
    size_t nround, cap_round, round_pos;
    uint64_t round_upto; /* indexed_upto once the round is written */
    int round_active;
    uint64_t last_flush_ns; /* when the last round started */
    uint64_t flush_ns;      /* interval between rounds */
    bool sync_normal;       /* the write connection's synchronous setting (else FULL) */

    /* Actor table: the chains in memory.  A chain fully stored and idle
     * for idle_ms is dropped from it (chain_sweep, on the writer thread)
     * and its name's hash goes into `gone`, the set of chains that are in
     * the database but not in memory (filled from chain_actor at open); a
     * chain missing from the table whose hash is in `gone` is loaded from
     * its chain_actor row (ldb) when next asked for.  So memory holds the
     * chains in use, not every chain the home ever had. */
    pthread_rwlock_t tlock;
    chain_actor **buckets;
    size_t nbuckets, nactors;
    int64_t next_actor_id;
    uint64_t *gone; /* tlock: open addressing, 0 = empty slot */
    size_t gone_cap, ngone;
    sqlite3 *ldb;                      /* tlock (write): read connection for loading chains */
    sqlite3_stmt *load_actor;          /* on ldb */
    uint64_t idle_ms;                  /* 0: chains are never dropped */
    size_t sweep_pos;                  /* writer: next bucket to look at */
    uint64_t sweep_next_ns;            /* writer: when to sweep next */
    atomic_size_t n_loaded, n_dropped; /* chains loaded again / dropped, for tests and stats */

    /* Queue. */
    pthread_mutex_t qlock;
    pthread_cond_t qcv; /* writer: work arrived or stop */
    pthread_cond_t dcv; /* waiters: durable advanced, space freed, failure */
    pthread_cond_t ccv; /* checkpointer: stop */
    chain_pending *qhead, *qtail;
    size_t qcount, qbytes;
    uint64_t oldest_ns; /* when the oldest queued event was appended */
    uint64_t last_ticket, durable;
    uint64_t dwait_max; /* the highest ticket a caller waits for (th_chain_wait_durable) */
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

/* ---- shared between chain.c, writer.c and checkpoint.c ---- */

/* chain.c: the chain named `name` (n bytes), created if `create` (then
 * *created says whether it is new), loaded from the database if it was
 * dropped from memory.  NULL if absent or out of memory.  The entry is
 * pinned (it stays in memory) until chain_actor_unpin. */
chain_actor *chain_actor_get(th_chain *c, const char *name, size_t n, int create, int *created,
                             th_error *err);
void chain_actor_unpin(chain_actor *a);
/* chain.c, writer thread: drop some chains fully stored and idle for
 * idle_ms (a bounded step; called again at chain_sweep_due). */
void chain_sweep(th_chain *c);
/* chain.c: when the writer should call chain_sweep next (mono ns);
 * UINT64_MAX if nothing could be dropped. */
uint64_t chain_sweep_due(th_chain *c);
/* chain.c, writer thread, after a commit: sweep again within a pass's
 * interval if the last pass left nothing to look at. */
void chain_sweep_arm(th_chain *c);
/* chain.c: free a queue entry (a recycled block). */
void chain_pending_free(chain_pending *p);

/* writer.c: the writer thread. */
void *chain_writer_main(void *arg);
/* writer.c: an appender that found a group commit due (enqueue) encodes
 * it unless someone else does (the writer thread then only stores it). */
void chain_assist(th_chain *c);
/* writer.c, under qlock: 1 if the queue is to be taken now by the writer
 * thread (`writer`) or by an appender. */
int chain_queue_due(th_chain *c, int writer);
/* writer.c: free the recycled segments (close). */
void chain_writer_free(th_chain *c);
/* writer.c: a CLOCK_REALTIME deadline `mono_ns` from now (condvar waits). */
void chain_deadline_after(struct timespec *ts, uint64_t mono_ns);
/* writer.c: remember that segment `seg` holds events of `a` from
 * `first_seq` (the index, written in rounds). */
int chain_span_add(th_chain *c, chain_actor *a, uint64_t first_seq, uint64_t seg);
/* writer.c: write every pending span of the index now. */
int chain_flush_index(th_chain *c, th_error *err);
/* writer.c, at open: take over the record a process left of events it
 * could not store (pending.c's file). */
int chain_pending_recover(th_chain *c, th_error *err);

/* checkpoint.c: the checkpointer thread, the writer connection's WAL hook,
 * and the writer's end of a checkpoint it was asked to finish. */
void *chain_checkpointer_main(void *arg);
int chain_wal_hook(void *arg, sqlite3 *db, const char *name, int frames);
void chain_wal_finish(th_chain *c, int reset);

#endif
