/*
 * chain.h - per-actor event chains: durable, verifiable records of
 * everything an actor did.
 *
 * Each actor has one chain: events numbered 0, 1, 2, ... (seq).  An event's
 * hash is SHA-256 over a canonical encoding of its parent's hash (the
 * previous event's hash; none for event 0), type, timestamp, data and
 * description (documented byte by byte in src/chain/hash.c and
 * docs/chain-format.md), so changing, removing or reordering any event
 * breaks every later link.
 *
 * Appending is cheap for the caller: the event is hashed in the caller's
 * thread and queued; a writer thread stores queued events in batched SQLite
 * transactions (group commit: at most batch_max_events per transaction, and
 * a transaction starts at most batch_max_ms after its oldest event was
 * appended).  In every transaction the writer also signs the new head of
 * each chain it touched with the Ed25519 key of THEATER_HOME (chain.key,
 * created on first use, mode 0600), so a head that is rolled back, forged or
 * signed with another key is detected by verification.  A caller that needs
 * an event on disk waits for its ticket (th_chain_wait_durable).
 *
 * Reads and verification look at the database, i.e. at durable events.
 *
 * All functions are thread-safe.  Only one process at a time may open a
 * THEATER_HOME's chains for appending (others get TH_EBUSY); any number may
 * open them read-only, also while a writer runs.
 */
#ifndef THEATER_CHAIN_H
#define THEATER_CHAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "theater/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TH_CHAIN_HASH_LEN 32

/* Events with more data than fits inline (64 MiB) are recorded by content
 * reference: the event's description is TH_CHAIN_CONTENT_REF_DESC, its data
 * {"content-ref":"<hex SHA-256>","size":N}, and the bytes are in the store
 * TH_CHAIN_CONTENT_STORE of the same home (th_store_get), written in the
 * same transaction as the event (docs/chain-format.md). */
#define TH_CHAIN_CONTENT_REF_DESC "content-ref"
#define TH_CHAIN_CONTENT_STORE "00000000-0000-4000-8000-000000000000"

typedef struct th_chain th_chain;

typedef struct th_chain_config {
    const char *home;          /* THEATER_HOME; NULL = $THEATER_HOME or ~/.theater */
    unsigned batch_max_events; /* events per transaction at most; 0 = 8192 */
    unsigned batch_max_ms;     /* max wait before a transaction starts; 0 = 1 */
    bool sync_normal;          /* true: survive process crashes only (no fsync per commit);
                                  false (default): every commit is fsync'ed (power-safe) */
    bool read_only;            /* true: no appends, no writer thread, no key creation */
    unsigned index_flush_ms;   /* how often per-chain spans are indexed; 0 = 1000 */
    unsigned wal_max_mib;      /* the WAL is started over once it holds this much,
                                  pausing commits for one final checkpoint pass;
                                  0 = 256 (MiB) */
    unsigned idle_drop_ms;     /* a chain with every event stored and none appended
                                  for this long leaves memory (its head is read
                                  back from the database at its next append);
                                  0 = TH_CHAIN_DEFAULT_IDLE_DROP_MS,
                                  TH_CHAIN_KEEP_IDLE = never */
} th_chain_config;

#define TH_CHAIN_DEFAULT_IDLE_DROP_MS 60000u
#define TH_CHAIN_KEEP_IDLE 0xffffffffu

/* One event.  In lists returned by the library all pointers are owned by the
 * list; in listener callbacks they are borrowed for the call only. */
typedef struct th_chain_event {
    const char *actor;
    uint64_t seq;
    uint8_t hash[TH_CHAIN_HASH_LEN];
    bool has_parent; /* false only for seq 0 */
    uint8_t parent[TH_CHAIN_HASH_LEN];
    const char *type;
    uint64_t timestamp_ms; /* ms since the Unix epoch */
    const uint8_t *data;   /* bytes, with no alignment promised */
    size_t data_len;
    const char *description; /* NULL if none */
} th_chain_event;

typedef struct th_chain_events {
    th_chain_event *items;
    size_t count;
    /* Private.  NULL: every item owns its strings and data (a list built
     * item by item).  Otherwise th_chain_read's storage, which the items
     * borrow from (the segments they were decoded from), freed with the
     * list.  A list built by hand starts zeroed. */
    void *held;
} th_chain_events;

/* What th_chain_append tells the caller about the new event. */
typedef struct th_chain_receipt {
    uint64_t seq;
    uint64_t timestamp_ms;
    uint8_t hash[TH_CHAIN_HASH_LEN];
    uint64_t ticket; /* pass to th_chain_wait_durable */
} th_chain_receipt;

/* The head (newest durable event) of one chain. */
typedef struct th_chain_head {
    uint64_t seq;   /* of the newest event */
    uint64_t count; /* seq + 1 */
    uint8_t hash[TH_CHAIN_HASH_LEN];
    uint64_t signed_ms;     /* when the head was signed */
    uint8_t public_key[32]; /* the key that signed it */
} th_chain_head;

typedef struct th_chain_actor {
    char *name;
    th_chain_head head;
} th_chain_actor;

typedef struct th_chain_actors {
    th_chain_actor *items;
    size_t count;
} th_chain_actors;

/* Which events th_chain_read returns: those of `actor` with from_seq <= seq <
 * to_seq (to_seq 0 = no upper bound), of type `type` if not NULL, oldest
 * first; if `newest` is set, the last `limit` matching events (still oldest
 * first); otherwise the first `limit` (0 = no limit). */
typedef struct th_chain_query {
    const char *actor;
    uint64_t from_seq;
    uint64_t to_seq;
    const char *type;
    size_t limit;
    bool newest;
} th_chain_query;

/* What verification found.  `problem` is TH_CHAIN_OK or the first problem,
 * with the actor and sequence number it concerns and a sentence in
 * `detail`. */
enum {
    TH_CHAIN_OK = 0,
    TH_CHAIN_BAD_HASH,      /* stored hash differs from the event's contents */
    TH_CHAIN_BAD_PARENT,    /* parent hash differs from the previous event's hash */
    TH_CHAIN_MISSING_EVENT, /* a sequence number has no event */
    TH_CHAIN_MALFORMED,     /* a stored field has the wrong size or type */
    TH_CHAIN_BAD_HEAD,      /* the signed head names another hash than the event */
    TH_CHAIN_UNSIGNED,      /* events beyond the signed head, or no signed head */
    TH_CHAIN_BAD_SIGNATURE, /* the head's signature does not verify (forged or rolled back) */
    TH_CHAIN_WRONG_KEY,     /* the head is signed by another key than this home's */
    TH_CHAIN_BAD_CONTENT,   /* content an event references is missing or altered */
    TH_CHAIN_UNTRUSTED,     /* intact, but signed by a key that is not trusted */
};

typedef struct th_chain_verify_result {
    uint64_t actors;  /* chains checked */
    uint64_t events;  /* events checked */
    int problem;      /* TH_CHAIN_* */
    char actor[1025]; /* actor of the problem ("" if none) */
    uint64_t seq;     /* sequence number of the problem event */
    char detail[512];
    /* verify-file / import: the key that signed the file's head (valid if
     * has_signer) and whether it is trusted (the caller's keys). */
    bool has_signer;
    uint8_t signer[32];
    bool signer_trusted;
} th_chain_verify_result;

/* Listener: called on the writer thread, in commit order (per actor in seq
 * order), for every event once it is durable.  It must be quick and must not
 * call th_chain_* functions that wait for the writer (flush, wait_durable,
 * close, unsubscribe). */
typedef void (*th_chain_listener)(void *userdata, const th_chain_event *event);

/* Open the chains of a THEATER_HOME; `cfg` may be NULL for defaults.
 * Writable opens create the database and signing key if needed and start the
 * writer thread.  *out owns the handle; close it with th_chain_close.
 * Errors: TH_EBUSY (another process appends), TH_ENOENT (read-only and no
 * database), TH_EVERSION, TH_ECORRUPT, TH_EIO, TH_EINVAL. */
int th_chain_open(const th_chain_config *cfg, th_chain **out /* out */, th_error *err);

/* Make every appended event durable, stop the writer and free everything.
 * Accepts NULL.  Returns TH_OK, or the writer's error if it failed. */
int th_chain_close(th_chain *c);

/* Append an event to `actor`'s chain (creating the chain on first use) with
 * the current time.  `data` may be NULL when len is 0; `description` may be
 * NULL.  Nothing is borrowed after return.  Blocks only if more than
 * TH_CHAIN_MAX_QUEUE_BYTES are waiting for the writer.  `receipt` may be
 * NULL.  Errors: TH_EINVAL / TH_ETOOBIG (bad or over-size input), TH_EPERM
 * (read-only), TH_EIO (the writer failed; no further appends). */
int th_chain_append(th_chain *c, const char *actor, const char *type, const void *data, size_t len,
                    const char *description, th_chain_receipt *receipt /* out */, th_error *err);

/* One event of th_chain_append_many. */
typedef struct th_chain_item {
    const char *type;
    const void *data; /* may be NULL when len is 0 */
    size_t len;       /* at most TH_CHAIN_MAX_DATA_BYTES */
} th_chain_item;

/* Append `n` events to `actor`'s chain, as n calls of th_chain_append (no
 * description) would one after the other, with one timestamp and the
 * chain's locks taken once.  All or nothing: on an error none is appended.
 * `receipts` (n of them) may be NULL.  Data above TH_CHAIN_MAX_DATA_BYTES
 * (recorded by content reference) is refused with TH_ETOOBIG: append such
 * an event alone.  When a group commit is due and nobody is encoding it,
 * the calling thread encodes and signs its segments before returning (the
 * writer thread then only stores them).  Errors as th_chain_append's. */
int th_chain_append_many(th_chain *c, const char *actor, const th_chain_item *items, size_t n,
                         th_chain_receipt *receipts /* out */, th_error *err);

/* The hash of one event (the canonical encoding of src/chain/hash.c), for
 * chains kept outside a th_chain (e.g. in memory) and for independent
 * verifiers.  `parent` is NULL for an event without a parent (seq 0);
 * `data` may be NULL when data_len is 0; `description` may be NULL.
 * Errors: TH_EINVAL / TH_ETOOBIG (bad or over-size input), TH_ENOMEM. */
int th_chain_event_hash(const uint8_t *parent, uint64_t timestamp_ms, const char *type,
                        const void *data, size_t data_len, const char *description,
                        uint8_t out[TH_CHAIN_HASH_LEN] /* out */, th_error *err);

/* Wait until the event with `ticket` (and every earlier one) is durable.
 * timeout_ms < 0 waits forever.  TH_OK, TH_ETIMEDOUT, or TH_EIO if the
 * writer failed before storing it. */
int th_chain_wait_durable(th_chain *c, uint64_t ticket, int timeout_ms, th_error *err);

/* Wait until everything appended before the call is durable. */
int th_chain_flush(th_chain *c, int timeout_ms, th_error *err);

/* The highest ticket known durable (0 if none yet). */
uint64_t th_chain_durable_ticket(th_chain *c);

/* Register a listener; *id receives a handle for th_chain_unsubscribe. */
int th_chain_subscribe(th_chain *c, th_chain_listener fn, void *userdata, uint64_t *id /* out */,
                       th_error *err);
/* Remove a listener; after return it is not running and will not be called.
 * TH_ENOENT if unknown. */
int th_chain_unsubscribe(th_chain *c, uint64_t id);

/* Read durable events (see th_chain_query).  *out is owned by the caller:
 * free with th_chain_events_free.  TH_ENOENT if the actor has no chain. */
int th_chain_read(th_chain *c, const th_chain_query *q, th_chain_events *out /* out */,
                  th_error *err);
void th_chain_events_free(th_chain_events *events);
/* Replace the data of item i with `data` (malloc'd, `len` bytes), which
 * the list owns from now on, also on failure (e.g. the content an event
 * holds by reference).  0 or TH_ENOMEM (the item keeps its data). */
int th_chain_events_adopt(th_chain_events *events, size_t i, void *data, size_t len, th_error *err);

/* The whole chain of `actor` (as th_chain_read with no other condition),
 * read on a thread of its own while the caller works on the events already
 * read (a replay runs them while the rest is read).  The stream holds the
 * handle's reader until the read is over: other reads of `c` wait for it;
 * close the stream before the chain. */
typedef struct th_chain_stream th_chain_stream;
int th_chain_stream_open(th_chain *c, const char *actor, th_chain_stream **out /* out */,
                         th_error *err);
/* Wait until the stream holds more than `i` events or its read is over;
 * *view gets the events read so far (borrowed until th_chain_stream_close,
 * not to be freed; they never change once there).  TH_OK: view->count > i,
 * or the read is over and the chain has no event i; otherwise the read's
 * error (the read failed before event i: TH_ENOENT, no chain). */
int th_chain_stream_wait(th_chain_stream *s, size_t i, th_chain_events *view /* out */,
                         th_error *err);
/* Wait for the end of the read and free the stream and its events: TH_OK,
 * or the read's error (a damaged segment anywhere in the chain). */
int th_chain_stream_close(th_chain_stream *s, th_error *err);

/* The signed head of `actor`'s chain.  TH_ENOENT if it has none. */
int th_chain_head_get(th_chain *c, const char *actor, th_chain_head *out /* out */, th_error *err);

/* Every actor that has a chain, sorted by name. */
int th_chain_list_actors(th_chain *c, th_chain_actors *out /* out */, th_error *err);
void th_chain_actors_free(th_chain_actors *actors);

/* Verify one chain (`actor`) or all chains (NULL): recompute every hash and
 * link, and check each head's signature against this home's key.  Returns
 * TH_OK if everything verifies, TH_ECORRUPT if a problem was found (details
 * in *res and err), TH_ENOENT for an unknown actor, other codes for I/O. */
int th_chain_verify(th_chain *c, const char *actor, th_chain_verify_result *res /* out */,
                    th_error *err);

/* This home's signing public key (32 bytes); TH_ENOENT if none exists yet. */
int th_chain_public_key(th_chain *c, uint8_t key[32] /* out */, th_error *err);

/* Export `actor`'s chain as JSON Lines to `out` (see docs/chain-format.md):
 * a header line, one line per event (data base64, hashes hex), and the
 * signed head. */
int th_chain_export(th_chain *c, const char *actor, FILE *out, th_error *err);

/* th_chain_export with options: TH_CHAIN_EXPORT_COMPONENTS also writes the
 * bytes of every component the chain's events name (from the store
 * TH_CHAIN_CONTENT_STORE; TH_ENOENT if one is missing), so that the file
 * alone can be replayed; verify-file then checks them and import stores
 * them. */
#define TH_CHAIN_EXPORT_COMPONENTS 1u
int th_chain_export_with(th_chain *c, const char *actor, unsigned flags, FILE *out, th_error *err);

/* ---- trust: whose signatures count (src/chain/trust.c) ----
 *
 * An exported chain carries the key that signed its head, so a file that
 * verifies proves only that the holder of that key signed it.  A home
 * trusts its own key (chain.key) and the keys listed in
 * THEATER_HOME/trusted_keys; verification of a file says who signed it and
 * whether that key is trusted, and import refuses untrusted signers. */

#define TH_CHAIN_FINGERPRINT_SIZE 40 /* "sha256:" + 32 hex digits + NUL */

/* A key's fingerprint: "sha256:" + hex of the first 16 bytes of SHA-256
 * over the 32-byte public key. */
void th_chain_key_fingerprint(const uint8_t key[32], char out[TH_CHAIN_FINGERPRINT_SIZE] /* out */);

/* The public key of a home's signing key (chain.key); TH_ENOENT if none
 * was created yet (home NULL = $THEATER_HOME or ~/.theater). */
int th_chain_home_key(const char *home, uint8_t key[32] /* out */, th_error *err);

typedef struct th_chain_trusted_key {
    uint8_t key[32];
    bool own;       /* the home's own key (always trusted, not in the file) */
    char note[128]; /* what the user wrote when adding it */
} th_chain_trusted_key;

typedef struct th_chain_trust {
    th_chain_trusted_key *items; /* the own key first, if it exists */
    size_t count;
} th_chain_trust;

/* The trust set of a home.  *out is the caller's: th_chain_trust_free. */
int th_chain_trust_load(const char *home, th_chain_trust *out /* out */, th_error *err);
void th_chain_trust_free(th_chain_trust *t);
/* Index of `key` in t, or -1. */
int th_chain_trust_find(const th_chain_trust *t, const uint8_t key[32]);
/* Add a key (with an optional note) to the home's trusted_keys; TH_EEXIST
 * if already trusted. */
int th_chain_trust_add(const char *home, const uint8_t key[32], const char *note, th_error *err);
/* Remove the key given as hex or fingerprint (or a unique prefix of
 * either); TH_ENOENT, TH_EINVAL (ambiguous), TH_EPERM (the own key). */
int th_chain_trust_remove(const char *home, const char *key_or_fingerprint, th_error *err);

/* Verify an exported file: every hash and link, the signed head, and that
 * the file's last event is the signed head.  res->signer is the key that
 * signed it.  If `trusted_key` is not NULL the head must be signed by it
 * (else TH_CHAIN_WRONG_KEY); if NULL, any signer passes (integrity only;
 * res->signer_trusted stays 0).  Returns like th_chain_verify. */
int th_chain_verify_file(FILE *in, const uint8_t *trusted_key,
                         th_chain_verify_result *res /* out */, th_error *err);

/* Verify an exported file and check its signer against `trust`: an intact
 * chain signed by a key not in it is TH_ECORRUPT with problem
 * TH_CHAIN_UNTRUSTED (the signer in res->signer). */
int th_chain_verify_file_trust(FILE *in, const th_chain_trust *trust,
                               th_chain_verify_result *res /* out */, th_error *err);

/* Let th_chain_import accept a chain signed by a key this home does not
 * trust (integrity is still checked). */
#define TH_CHAIN_IMPORT_ALLOW_UNTRUSTED 1u

/* Verify an exported file, require its signer to be trusted by this home
 * (unless TH_CHAIN_IMPORT_ALLOW_UNTRUSTED), and append its events,
 * unchanged, as the chain of its actor, which must not exist yet here; the
 * imported head is then signed with this home's key.  Returns like
 * th_chain_verify_file_trust, or TH_EEXIST. */
int th_chain_import(th_chain *c, FILE *in, unsigned flags, th_chain_verify_result *res /* out */,
                    th_error *err);

/* What the writer is doing.  When it cannot store events (disk full, I/O
 * errors, a lock held elsewhere) it keeps them and retries with back-off,
 * dropping nothing: `stalled` is set with the reason until a write
 * succeeds.  It gives up only while closing, after TH_CHAIN_CLOSE_RETRY_MS
 * (`failed`; th_chain_close then returns TH_EIO). */
typedef struct th_chain_status {
    bool read_only;
    bool stalled;                   /* cannot store events now; retrying */
    bool failed;                    /* gave up (only while closing) */
    uint64_t stalled_since_ms;      /* wall clock; 0 if not stalled */
    uint64_t retries;               /* failed attempts in the current stall */
    uint64_t pending_events;        /* appended, not yet durable */
    uint64_t pending_bytes;         /* of those still queued */
    char message[TH_ERROR_MSG_MAX]; /* why stalled or failed; "" if healthy */
} th_chain_status;

void th_chain_status_get(th_chain *c, th_chain_status *out /* out */);

/* True unless the writer is stalled or failed (cheap: no lock). */
bool th_chain_healthy(th_chain *c);

/* True if `ev` is recorded by content reference (TH_CHAIN_CONTENT_REF_DESC);
 * then *hash and *size name the content (in TH_CHAIN_CONTENT_STORE). */
bool th_chain_event_content_ref(const th_chain_event *ev, uint8_t hash[TH_CHAIN_HASH_LEN] /* out */,
                                uint64_t *size /* out */);

/* Static name of a TH_CHAIN_* problem, e.g. "bad hash". */
const char *th_chain_problem_name(int problem);

#ifdef __cplusplus
}
#endif
#endif
