/*
 * chain_int.h - internals of the event chain part: the canonical event hash
 * (hash.c), the signing key (key.c), signed batch heads (sign.c), the
 * handle (chain.c, its writer thread writer.c), reads (read.c), verification (verify.c) and
 * the JSON Lines export (export.c).
 */
#ifndef THEATER_CHAIN_INT_H
#define THEATER_CHAIN_INT_H

#include <pthread.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <sqlite3.h>

#include "base/limits.h"
#include "base/sha256.h"
#include "theater/chain.h"

#define CHAIN_KEY_FILE "chain.key"
#define CHAIN_LOCK_FILE "chain.lock"
#define CHAIN_KEY_FILE_MAX 65536u /* bytes of chain.key (PEM) */
#define CHAIN_PUBKEY_LEN 32
#define CHAIN_SIG_LEN 64

/* ---- hash.c ---- */

/* The event hash of the canonical encoding documented in hash.c.  `parent`
 * is NULL for the first event of a chain; `description` may be NULL.
 * `ctx` is a scratch context owned by the caller.  Returns 0 or -1. */
int chain_event_hash(base_sha256_ctx *ctx, const uint8_t *parent, uint64_t timestamp_ms,
                     const char *type, size_t type_len, const void *data, size_t data_len,
                     const char *description, size_t desc_len, uint8_t out[32] /* out */);

/* A per-thread scratch context for chain_event_hash (freed at thread exit),
 * or NULL if out of memory. */
base_sha256_ctx *chain_thread_sha256(void);

/* ---- content.c: events recorded by content reference ---- */

/* An event whose data is larger than TH_CHAIN_MAX_DATA_BYTES is recorded by
 * reference: its description is TH_CHAIN_CONTENT_REF_DESC and its data the
 * ASCII text {"content-ref":"<64 hex SHA-256>","size":<bytes>} (no spaces);
 * the bytes themselves are in store_blob (and in the store
 * TH_CHAIN_CONTENT_STORE), written in the same transaction as the event.
 * See docs/chain-format.md. */
#define CHAIN_CONTENT_REF_MAX 128 /* bytes of the reference text, at most */

/* Write the reference text of (hash, size) to out; returns its length. */
size_t chain_content_ref_encode(const uint8_t hash[32], uint64_t size,
                                char out[CHAIN_CONTENT_REF_MAX] /* out */);

/* Check that the content an event references is stored and intact (db:
 * a read transaction is open).  TH_OK, TH_ENOENT (absent), TH_ECORRUPT
 * (size or hash differs; message in err), or an I/O code. */
int chain_content_check(sqlite3 *db, const uint8_t hash[32], uint64_t size, th_error *err);

/* CHAIN_ANY_SIZE as chain_content_check's size: the content may have any
 * size (a component, whose size its event does not record). */
#define CHAIN_ANY_SIZE UINT64_MAX

/* ---- pending.c: events accepted but not stored (see pending.c) ---- */

#define CHAIN_PENDING_FILE "chain.pending"
#define CHAIN_PENDING_BYTES (256u * 1024u) /* preallocated size of the file */

typedef struct chain_unstored {
    char *actor;
    uint64_t stored_next; /* first seq not stored */
    uint64_t next_seq;    /* first seq not assigned */
} chain_unstored;

typedef struct chain_pending_record {
    uint64_t written_ms;
    uint64_t total; /* chains with unstored events (>= count) */
    char reason[512];
    chain_unstored *items;
    size_t count;
} chain_pending_record;

/* Open (create, 0600, preallocate) the home's chain.pending for writing. */
int chain_pending_open(const char *home, int *fd /* out */, th_error *err);
/* Replace the record (count 0: empty it), synced.  0 or -1.  The actor
 * names are borrowed. */
int chain_pending_write(int fd, const chain_pending_record *r);
/* Read a non-empty record: TH_OK, TH_ENOENT (no file or nothing pending).
 * *writer_alive tells whether a writer holds the home now.  Release with
 * chain_pending_release. */
int chain_pending_read(const char *home, chain_pending_record *out /* out */,
                       int *writer_alive /* out */, th_error *err);
void chain_pending_release(chain_pending_record *r);
/* Keep a permanent record that u's events from u->stored_next on were
 * lost (in chain_meta; the caller's transaction, if any). */
int chain_lost_record(sqlite3 *db, const chain_unstored *u, uint64_t written_ms, const char *reason,
                      th_error *err);
/* TH_OK, or TH_ECORRUPT (missing event, reported in res) if `actor` has a
 * lost record; `stored` = events stored. */
int chain_lost_check(sqlite3 *db, const char *actor, uint64_t stored, th_chain_verify_result *res,
                     th_error *err);

/* ---- key.c ---- */

/* Load this home's Ed25519 key from <home>/chain.key, creating it (mode
 * 0600, atomically) if `create` and it does not exist.  *out is owned by the
 * caller (EVP_PKEY_free).  TH_ENOENT if absent and !create. */
int chain_key_load(const char *home, int create, EVP_PKEY **out /* out */, th_error *err);

/* The raw 32-byte public key of `key`.  Returns 0 or -1. */
int chain_key_public(EVP_PKEY *key, uint8_t out[CHAIN_PUBKEY_LEN] /* out */);

/* Sign `msg` with `key` into `sig`.  Returns 0 or -1. */
int chain_key_sign(EVP_PKEY *key, const uint8_t *msg, size_t len,
                   uint8_t sig[CHAIN_SIG_LEN] /* out */);

/* 1 if `sig` is a valid signature of `msg` under the raw public key, 0 if
 * not, TH_ENOMEM when OpenSSL ran out of memory (no verdict). */
int chain_key_verify(const uint8_t pub[CHAIN_PUBKEY_LEN], const uint8_t *msg, size_t len,
                     const uint8_t sig[CHAIN_SIG_LEN]);

/* ---- sign.c: signed heads (a Merkle tree per committed batch) ---- */

#define CHAIN_BATCH_MSG_LEN 72

/* The leaf hash of one chain head: see sign.c. */
void chain_head_leaf(base_sha256_ctx *ctx, const char *actor, size_t actor_len, uint64_t seq,
                     const uint8_t hash[32], uint8_t out[32] /* out */);

/* Build the Merkle tree over `n` leaves (n >= 1): writes the root and, if
 * `paths` and `depths` are not NULL, each leaf i's audit path (paths + i *
 * TH_CHAIN_MAX_MERKLE_DEPTH * 32, depths[i] hashes, bottom up).  Returns 0 or
 * -1. */
int chain_merkle_build(base_sha256_ctx *ctx, const uint8_t (*leaves)[32], size_t n,
                       uint8_t root[32] /* out */, uint8_t *paths /* out */,
                       uint8_t *depths /* out */);

/* Recompute the root from a leaf and its audit path (RFC 9162 2.1.3.2).
 * Returns 0, or -1 if the path is inconsistent with index/size. */
int chain_merkle_root(base_sha256_ctx *ctx, const uint8_t leaf[32], uint64_t index, uint64_t size,
                      const uint8_t *path, size_t path_len, uint8_t root[32] /* out */);

/* The 72-byte message signed for a batch (layout in sign.c). */
void chain_batch_message(uint64_t commit_no, uint64_t signed_ms, uint64_t tree_size,
                         const uint8_t root[32], uint8_t out[CHAIN_BATCH_MSG_LEN] /* out */);

/* A signed head as stored in chain_actor and in exports. */
typedef struct chain_signed_head {
    uint64_t seq;
    uint8_t hash[32];
    uint64_t commit_no;
    uint64_t signed_ms;
    uint64_t leaf_index;
    uint64_t tree_size;
    uint8_t path[TH_CHAIN_MAX_MERKLE_DEPTH * 32];
    size_t path_len; /* bytes, a multiple of 32 */
    uint8_t signature[CHAIN_SIG_LEN];
    uint8_t public_key[CHAIN_PUBKEY_LEN];
} chain_signed_head;

/* The message a signed head of `actor` claims was signed: recompute the leaf
 * and the root.  Returns 0, 1 if the audit path is inconsistent, or
 * TH_ENOMEM (hashing failed). */
int chain_head_message(base_sha256_ctx *ctx, const char *actor, const chain_signed_head *h,
                       uint8_t msg[CHAIN_BATCH_MSG_LEN] /* out */);

/* ---- verify.c (shared with export.c) ---- */

/* Incremental verification of one chain's events, in seq order.  Set
 * actor, res and head (the head to compare with at the end, or NULL); zero
 * the rest. */
/* The components (SHA-256 of their bytes) one verification has already
 * looked up in the store, so that many chains of one component read and
 * hash its bytes once. */
typedef struct chain_comp_seen {
    uint8_t (*hash)[32];
    size_t count, cap;
} chain_comp_seen;

typedef struct chain_walk {
    const char *actor;
    th_chain_verify_result *res;
    const chain_signed_head *head;
    uint64_t next_seq;
    uint8_t prev[32];
    sqlite3 *db;            /* if not NULL: check referenced content here */
    chain_comp_seen *comps; /* with db: components already looked up */
    int head_seen;          /* the event at head->seq was walked */
    uint8_t head_event[32]; /* its hash */
} chain_walk;

/* Check the next event; on a problem fill walk->res and return
 * TH_ECORRUPT. */
int chain_walk_event(chain_walk *w, base_sha256_ctx *ctx, const th_chain_event *ev, th_error *err);

/* After the last event of an exported chain: check the signed head w->head
 * (Merkle path and signature) against the walked events and `trusted` (may
 * be NULL: any key).  Returns TH_OK or TH_ECORRUPT. */
int chain_walk_finish(chain_walk *w, base_sha256_ctx *ctx, const uint8_t *trusted, th_error *err);

/* Fill res with a problem and err with the matching message; returns
 * TH_ECORRUPT. */
int chain_report(th_chain_verify_result *res, th_error *err, int problem, const char *actor,
                 uint64_t seq, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* ---- segment.c: the storage format (one segment per committed batch) ---- */

extern const uint8_t chain_segment_magic[8]; /* the written format, "THSEG-v4" */
/* v4: an event stores the first CHAIN_SEG_CHECK_LEN bytes of its hash, the
 * decoder computes the rest (segment.c). */
#define CHAIN_SEG_CHECK_LEN 8u
#define CHAIN_SEG_UNHASHED 3u /* chain_segment.hash_ok: no verdict */

/* v2/v3 event flag bits (format in segment.c). */
#define CHAIN_SEG_HAS_PARENT 0x01u
#define CHAIN_SEG_PARENT_IMPLICIT 0x02u /* parent = hash of the actor's previous event */
#define CHAIN_SEG_SEQ_IMPLICIT 0x04u    /* seq = the actor's previous event's seq + 1 */
#define CHAIN_SEG_HAS_DESC 0x08u
/* v3 and v4: the type is an earlier event's of the same actor in the
 * segment, the data is given as an edit of that event's data. */
#define CHAIN_SEG_REF 0x10u
/* v3: how far back (in the actor's own events of the segment) a
 * reference may reach; the writer looks back CHAIN_SEG_REF_LOOK. */
#define CHAIN_SEG_REF_MAX 16u
#define CHAIN_SEG_REF_LOOK 4u

/* A decoded segment.  Event strings and data point into `blob` (and data
 * into `xdata`), which the segment owns. */
typedef struct chain_segment {
    uint64_t id; /* commit number */
    uint64_t signed_ms;
    uint8_t public_key[CHAIN_PUBKEY_LEN];
    uint8_t signature[CHAIN_SIG_LEN];
    uint8_t *blob;
    size_t blob_len;
    size_t nactors;
    const char **actors; /* names, in the segment's order */
    size_t *last_event;  /* per actor: 1 + index of its last event */
    size_t nevents;
    th_chain_event *events;
    uint32_t *actor_of; /* per event: actor index */
    /* v3 events whose data is an edit of an earlier event's: their data,
     * rebuilt by the decoder (owned; kept from one view to the next) */
    uint8_t *xdata;
    size_t xlen, xcap;
    size_t *xoff;    /* per event: 0 (data in the blob) or 1 + offset in xdata */
    size_t *prev_of; /* per event: 1 + index of the actor's previous event, 0 */
    /* chain_segment_view_row: the blob is the statement's (not freed), the
     * arrays are kept from one view to the next (their capacities) */
    bool blob_borrowed;
    size_t cap_actors, cap_events;
    /* Set before decoding to read one actor's events (th_chain_read):
     * only that actor's events are filled in whole; the others are checked
     * as strictly (a blob is accepted or refused alike) but get only their
     * seq, type and data_len (no hashes, data or description).  only_idx:
     * the actor's index in the segment after decoding, or -1. */
    const char *only;
    int only_idx;
    size_t blob_cap; /* chain_segment_reload: the blob's room, kept for the next */
    /* chain_segment_reload: its query and blob handle, kept for the next
     * segment of the same read (chain_segment_release closes them) */
    sqlite3_stmt *rd_st;
    sqlite3_blob *rd_blob;
    size_t xtotal; /* bytes of rebuilt data of every actor (the limit) */
    int version;   /* of the blob: 1 to 4 */
    /* v4 (meaningless before): per event, 1 if the hash the decoder computed from
     * its contents begins with the stored check value, 0 if not (its
     * contents were changed: its `hash` is then the check value followed
     * by the computed rest, which matches nothing), CHAIN_SEG_UNHASHED if
     * it could not be hashed (out of memory).  Other actors' events under
     * `only` are not hashed (1). */
    uint8_t *hash_ok;
    /* Set before decoding a v4 blob to leave the hashing to the caller
     * (chain_segment_hash_part for every part, e.g. on several threads,
     * before anything reads hashes, parents or hash_ok). */
    bool defer_hash;
} chain_segment;

/* Decode `blob`, v1 to v4 (ownership passes to seg, also on failure).
 * 0, -1 if it is malformed, or CHAIN_SEG_OOM when an allocation failed. */
#define CHAIN_SEG_OOM 1
int chain_segment_decode(uint8_t *blob, size_t len, chain_segment *seg /* out */);
/* Free what a segment owns; accepts NULL. */
void chain_segment_release(chain_segment *seg);
/* v4, decoded with defer_hash: compute the hashes and hash_ok of the
 * events of the actors whose index is `part` modulo `nparts`, each actor's
 * in order, with ctx.  Different parts on different threads. */
void chain_segment_hash_part(chain_segment *seg, size_t part, size_t nparts, base_sha256_ctx *ctx);
/* Load and decode segment `id`.  TH_ENOENT if absent, TH_ECORRUPT. */
int chain_segment_load(sqlite3 *db, uint64_t id, chain_segment *seg /* out */, th_error *err);
/* Like chain_segment_load, into a segment from an earlier load or reload
 * (or zeroed): its arrays, `only`, and its blob and xdata buffers (unless
 * taken: set to NULL) are reused.  On failure the segment is released. */
int chain_segment_reload(sqlite3 *db, uint64_t id, chain_segment *seg /* in, out */, th_error *err);
/* Decode the current row of a "SELECT signed_ms, public_key, signature,
 * events" statement as segment `id`. */
int chain_segment_from_row(sqlite3_stmt *st, uint64_t id, chain_segment *seg /* out */,
                           th_error *err);
/* The same, without copying the blob: the segment borrows the statement's
 * value, valid until the statement steps, resets or is finalized, and
 * reuses the arrays of an earlier view of `seg` (zeroed before the first
 * view; free with chain_segment_release, also after a failure). */
int chain_segment_view_row(sqlite3_stmt *st, uint64_t id, chain_segment *seg /* in, out */,
                           th_error *err);
/* Index of `actor` in the segment, or -1. */
int chain_segment_actor(const chain_segment *seg, const char *actor);
/* The batch message the segment's signature must cover (leaves = each
 * actor's last event in the segment, in segment order).  If want >= 0 and
 * head is not NULL, also fill *head with actor `want`'s signed head and
 * audit path.  0 or -1. */
int chain_segment_message(base_sha256_ctx *ctx, const chain_segment *seg, int want,
                          uint8_t msg[CHAIN_BATCH_MSG_LEN] /* out */,
                          chain_signed_head *head /* out */);
/* 1 if the segment's signature verifies under its public key, 0 if not,
 * TH_ENOMEM (no verdict). */
int chain_segment_signature_ok(base_sha256_ctx *ctx, const chain_segment *seg);

/* ---- read.c: finding a chain's segments ---- */

/* What chain_actor caches about a chain (as of the last index flush). */
typedef struct chain_cached_head {
    int64_t id;
    int valid; /* head fields present */
    uint64_t seq;
    uint8_t hash[32];
    uint64_t segment;
} chain_cached_head;

/* The ids of the segments that may hold events of `actor` with seq in
 * [from_seq, to_seq) (to_seq 0 = unbounded), ascending: those its spans
 * name, plus every segment not yet indexed.  *ids is malloc'd (caller
 * frees).  TH_ENOENT if the actor has no chain.  Call inside a read
 * transaction. */
int chain_actor_segments(sqlite3 *db, const char *actor, uint64_t from_seq, uint64_t to_seq,
                         chain_cached_head *head /* out */, uint64_t **ids /* out */,
                         size_t *n /* out */, th_error *err);

/* ---- chain.c: handle internals used by read/verify/export ---- */

/* The handle's read connection, serialized by a mutex. */
sqlite3 *chain_reader_lock(th_chain *c);
void chain_reader_unlock(th_chain *c);

/* The trusted public key of this home (key file, else the first key the
 * database recorded); 0 if found, -1 if none.  *from_db (may be NULL): the
 * key is only the database's own claim (the home has no key file), which a
 * verification must then find in trusted_keys. */
int chain_trusted_key(th_chain *c, uint8_t out[CHAIN_PUBKEY_LEN] /* out */,
                      bool *from_db /* out */);

/* Queue an already-verified event with its own hash and timestamp (import).
 * Its seq must be the chain's next and its parent the chain's last hash.
 * `content` (may be NULL; clen bytes whose SHA-256 is `chash`) goes into
 * the store TH_CHAIN_CONTENT_STORE in the event's transaction (a component
 * the event names).  Returns TH_OK, TH_EEXIST, TH_EPERM, TH_EIO. */
int chain_import_event(th_chain *c, const th_chain_event *ev, const void *content, size_t clen,
                       const uint8_t *chash, uint64_t *ticket /* out */, th_error *err);

/* The component an event names (field "component" of actor-spawned,
 * actor-restarted and component-updated data; export.c): 1 with its
 * SHA-256 in `hash`, else 0. */
int chain_event_component(const th_chain_event *ev, uint8_t hash[32] /* out */);

/* The handle's THEATER_HOME (resolved). */
const char *chain_home(th_chain *c);
/* 1 if the handle was opened read-only. */
bool chain_is_read_only(th_chain *c);

/* 1 if the actor has a chain in this (writable) handle, 0 if not, -1 with
 * err if that could not be read. */
int chain_actor_known(th_chain *c, const char *actor, th_error *err);
/* Chains held in memory now; chains loaded back from the database and
 * dropped from memory since open (either may be NULL). */
size_t chain_in_memory(th_chain *c, uint64_t *loaded, uint64_t *dropped);
/* chain_meta's indexed_upto (the segments up to it are in chain_span),
 * or 0 (read.c). */
int chain_indexed_upto(sqlite3 *db, uint64_t *upto, th_error *err);

/* The big-endian u64 at p (a span's segment ids; read.c). */
uint64_t chain_be64(const uint8_t *p);

/* The size of the chain table's bucket array (tests). */
size_t chain_table_buckets(th_chain *c);

/* Segments encoded so far by appending threads rather than the writer
 * thread (writer.c's take_queue; tests). */
uint64_t chain_segments_by_appenders(th_chain *c);

#endif
