/*
 * chain_int.h - internals of the event chain part: the canonical event hash
 * (hash.c), the signing key (key.c), signed batch heads (sign.c), the
 * handle and writer (chain.c), reads (read.c), verification (verify.c) and
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

/* ---- key.c ---- */

/* Load this home's Ed25519 key from <home>/chain.key, creating it (mode
 * 0600, atomically) if `create` and it does not exist.  *out is owned by the
 * caller (EVP_PKEY_free).  TH_ENOENT if absent and !create. */
int chain_key_load(const char *home, int create, EVP_PKEY **out /* out */, th_error *err);

/* The raw 32-byte public key of `key`.  Returns 0 or -1. */
int chain_key_public(EVP_PKEY *key, uint8_t out[CHAIN_PUBKEY_LEN] /* out */);

/* Sign `msg` with `key` into `sig`.  Returns 0 or -1. */
int chain_key_sign(EVP_PKEY *key, const uint8_t *msg, size_t len, uint8_t sig[CHAIN_SIG_LEN] /* out */);

/* 1 if `sig` is a valid signature of `msg` under the raw public key, else 0. */
int chain_key_verify(const uint8_t pub[CHAIN_PUBKEY_LEN], const uint8_t *msg, size_t len,
                     const uint8_t sig[CHAIN_SIG_LEN]);

/* ---- sign.c: signed heads (a Merkle tree per committed batch) ---- */

#define CHAIN_BATCH_MSG_LEN 72

/* The leaf hash of one chain head: see sign.c. */
void chain_head_leaf(base_sha256_ctx *ctx, const char *actor, size_t actor_len, uint64_t seq,
                     const uint8_t hash[32], uint8_t out[32] /* out */);

/* Build the Merkle tree over `n` leaves (n >= 1): writes the root and, for
 * each leaf i, its audit path (paths + i * 64 * 32, *depths[i] hashes, bottom
 * up).  Returns 0, or -1 if out of memory. */
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
 * and the root.  Returns 0, or -1 if the audit path is inconsistent. */
int chain_head_message(base_sha256_ctx *ctx, const char *actor, const chain_signed_head *h,
                       uint8_t msg[CHAIN_BATCH_MSG_LEN] /* out */);

/* ---- verify.c (shared with export.c) ---- */

/* Signatures already verified in this run (many heads share a batch's
 * signature); direct-mapped, keyed by the signature's first bytes. */
#define CHAIN_SIG_CACHE 1024
typedef struct chain_sig_cache {
    uint8_t msg[CHAIN_SIG_CACHE][CHAIN_BATCH_MSG_LEN];
    uint8_t sig[CHAIN_SIG_CACHE][CHAIN_SIG_LEN];
    uint8_t key[CHAIN_SIG_CACHE][CHAIN_PUBKEY_LEN];
    uint8_t used[CHAIN_SIG_CACHE];
} chain_sig_cache;

/* Incremental verification of one chain's events, in seq order.  Set
 * actor, res, head (the signed head to check at the end, or NULL), cache
 * (may be NULL); zero the rest. */
typedef struct chain_walk {
    const char *actor;
    th_chain_verify_result *res;
    const chain_signed_head *head;
    chain_sig_cache *cache;
    uint64_t next_seq;
    uint8_t prev[32];
    int head_seen;            /* the event at head->seq was walked */
    uint8_t head_event[32];   /* its hash */
} chain_walk;

/* Check the next event; on a problem fill walk->res and return
 * TH_ECORRUPT. */
int chain_walk_event(chain_walk *w, base_sha256_ctx *ctx, const th_chain_event *ev,
                     th_error *err);

/* After the last event: check w->head against the walked events and
 * `trusted` (may be NULL: any key).  Returns TH_OK or TH_ECORRUPT. */
int chain_walk_finish(chain_walk *w, base_sha256_ctx *ctx, const uint8_t *trusted, th_error *err);

/* Fill res with a problem and err with the matching message; returns
 * TH_ECORRUPT. */
int chain_report(th_chain_verify_result *res, th_error *err, int problem, const char *actor,
                 uint64_t seq, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* ---- chain.c: handle internals used by read/verify/export ---- */

/* Run `fn` with the handle's read connection (serialized by a mutex). */
sqlite3 *chain_reader_lock(th_chain *c);
void chain_reader_unlock(th_chain *c);

/* The trusted public key of this home (key file, else the first key the
 * database recorded); 0 if found, -1 if none. */
int chain_trusted_key(th_chain *c, uint8_t out[CHAIN_PUBKEY_LEN] /* out */);

/* Queue an already-verified event with given hash and timestamp for a new
 * chain (import).  The actor must not exist.  Returns TH_OK, TH_EEXIST... */
int chain_import_event(th_chain *c, const th_chain_event *ev, uint64_t *ticket /* out */,
                       th_error *err);

/* 1 if the actor has a chain (in memory for writers, else in the db). */
int chain_actor_known(th_chain *c, const char *actor);

/* Columns of a signed head in chain_actor, in chain_head_from_row order. */
#define CHAIN_HEAD_COLUMNS \
    "head_seq, head_hash, commit_no, signed_ms, leaf_index, tree_size, path, signature, public_key"
/* Columns of an event, in chain_row_view order. */
#define CHAIN_EVENT_COLUMNS "actor, seq, hash, parent, type, ts, data, description"

/* Parse the CHAIN_HEAD_COLUMNS starting at column `col`.  0, or -1 if a
 * field is missing or has the wrong size. */
int chain_head_from_row(sqlite3_stmt *st, int col, chain_signed_head *h /* out */);

/* A borrowed view of the current CHAIN_EVENT_COLUMNS row (valid until the
 * next step), with `actor` as its actor.  0, or -1 if malformed. */
int chain_row_view(sqlite3_stmt *st, const char *actor, th_chain_event *ev /* out */);

/* Load the signed head row of an actor (by name): *has_head = 0 if the row's
 * head fields are malformed.  TH_ENOENT if no such chain. */
int chain_load_head(sqlite3 *db, const char *actor, int64_t *id /* out */,
                    chain_signed_head *h /* out */, int *has_head /* out */, th_error *err);

#endif
