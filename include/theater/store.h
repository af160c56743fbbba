/*
 * store.h - the content-addressed store: blobs named by their SHA-256
 * (lowercase hex), grouped in stores (UUID v4 ids), with labels that each
 * point to one reference.  It offers the `store` interface of ABI.md as a C
 * API; everything lives in THEATER_HOME/theater.db (SQLite, WAL).
 *
 * Semantics:
 *  - Content is deduplicated across all stores: the bytes are kept once and
 *    each store records which references it holds.  A store only sees (get,
 *    exists, label, list) content put into that store.
 *  - A label names one reference of its store.  th_store_label and
 *    th_store_store_at_label create or move a label; the replace_* calls
 *    require the label to exist already; th_store_remove_from_label removes
 *    the label only if it points to the given reference.
 *  - Every blob is at most `max_blob_bytes` (default 64 MiB); larger content
 *    gets TH_ETOOBIG.  th_store_get re-hashes the bytes and reports
 *    TH_ECORRUPT if they no longer match their reference;
 *    th_store_get_unverified skips that check (the store's hot read path,
 *    e.g. an actor's `get`), so integrity is verified on demand.
 *
 * All calls are thread-safe (one SQLite connection per handle, serialized by
 * a mutex; a writable handle also runs a background thread with a second
 * connection that checkpoints the WAL).  Several processes may use one
 * database at once; SQLite's locking orders their writes, and a get or
 * exists sees every put committed before it began, whoever made it.
 */
#ifndef THEATER_STORE_H
#define THEATER_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "theater/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TH_STORE_REF_HEX_LEN 64 /* characters of a content reference */
#define TH_STORE_ID_LEN 36      /* characters of a store id (UUID) */

typedef struct th_store th_store;

/* A content reference: SHA-256 of the content, lowercase hex, NUL-ended. */
typedef struct th_content_ref {
    char hash[TH_STORE_REF_HEX_LEN + 1];
} th_content_ref;

typedef struct th_store_config {
    const char *home;        /* THEATER_HOME; NULL = $THEATER_HOME or ~/.theater */
    uint64_t max_blob_bytes; /* 0 = TH_STORE_DEFAULT_MAX_BLOB (64 MiB) */
    bool read_only;          /* true: never create or write; the db must exist */
    bool sync_normal;        /* true: no fsync per write (survives process crashes,
                                not power loss); false (default): fsync'ed */
} th_store_config;

/* A list of strings owned by the list; free with th_store_list_free. */
typedef struct th_store_list {
    char **items;
    size_t count;
} th_store_list;

/* Open (creating the home directory and database unless read_only) the
 * store of a THEATER_HOME.  `cfg` may be NULL for defaults.  On success
 * *out owns the handle: close it with th_store_close.  Errors: TH_ENOENT (no
 * database, read_only), TH_EVERSION (schema newer than this program),
 * TH_ECORRUPT (not a theater database / damaged), TH_EIO. */
int th_store_open(const th_store_config *cfg, th_store **out /* out */, th_error *err);
void th_store_close(th_store *s);

/* new: create a store; writes its UUID v4 id (NUL-ended) to `id`. */
int th_store_new(th_store *s, char id[TH_STORE_ID_LEN + 1] /* out */, th_error *err);
/* Create the store `store_id` (a UUID) unless it exists already (for
 * well-known stores such as TH_CHAIN_CONTENT_STORE).  TH_EINVAL for a bad
 * id, TH_EPERM on a read-only handle. */
int th_store_create(th_store *s, const char *store_id, th_error *err);
/* All store ids, oldest first. */
int th_store_list_stores(th_store *s, th_store_list *out /* out */, th_error *err);

/* store: put `len` bytes into the store; `ref` receives their reference.
 * TH_ENOENT if the store does not exist, TH_ETOOBIG above the blob limit. */
int th_store_put(th_store *s, const char *store_id, const void *data, size_t len,
                 th_content_ref *ref /* out */, th_error *err);
/* One blob of a batch put: `len` bytes at `data` (which may be NULL only
 * when len is 0).  The bytes stay owned by the caller. */
typedef struct th_store_blob {
    const void *data;
    size_t len;
} th_store_blob;

/* store, batched: put `n` blobs into the store in one transaction, so
 * either all of them are stored or, on any error, none.  On success
 * refs_out[i] receives the reference of blobs[i]; on error refs_out is left
 * unchanged.  Each blob follows th_store_put's rules: the size limit, and
 * dedup (content already in the store, or twice in one batch, is kept once;
 * every copy gets the same reference).  The hashing happens before the
 * transaction, so a large batch holds the database's write lock only to
 * insert.  `n` = 0 stores nothing (but still reports an unknown store).
 * Errors: TH_EINVAL (bad store id; NULL `blobs` or `refs_out` with n > 0;
 * NULL data with len > 0), TH_ENOENT (no such store), TH_ETOOBIG (a blob
 * above the limit; the message gives its index), TH_EPERM (read-only
 * handle), TH_ENOMEM, TH_EBUSY / TH_EIO (database). */
int th_store_put_many(th_store *s, const char *store_id, const th_store_blob *blobs, size_t n,
                      th_content_ref *refs_out /* out: n refs */, th_error *err);
/* get: the content of `ref` in a malloc'd buffer the caller frees (*data is
 * non-NULL even for empty content).  TH_ENOENT if unknown in that store. */
int th_store_get(th_store *s, const char *store_id, const char *ref, void **data /* out */,
                 size_t *len /* out */, th_error *err);
/* get without the re-hash: the bytes as stored, in a malloc'd buffer the
 * caller frees, for readers that trust the database file (the check costs
 * a SHA-256 of every byte read; th_store_get is the verified read).  The
 * same errors as th_store_get, except that damaged bytes are not noticed
 * (a blob listed but missing is still TH_ECORRUPT). */
int th_store_get_unverified(th_store *s, const char *store_id, const char *ref,
                            void **data /* out */, size_t *len /* out */, th_error *err);
/* exists: *exists = 1 if the store holds `ref`, else 0. */
int th_store_exists(th_store *s, const char *store_id, const char *ref, bool *exists /* out */,
                    th_error *err);

/* label: point `label` at `ref` (which the store must hold), creating or
 * moving the label. */
int th_store_label(th_store *s, const char *store_id, const char *label, const char *ref,
                   th_error *err);
/* get-by-label: *found = 1 and `ref` filled, or *found = 0 if no such label. */
int th_store_get_by_label(th_store *s, const char *store_id, const char *label,
                          th_content_ref *ref /* out */, bool *found /* out */, th_error *err);
/* remove-label: TH_ENOENT if the label does not exist. */
int th_store_remove_label(th_store *s, const char *store_id, const char *label, th_error *err);
/* remove-from-label: remove the label if it points to `ref`; TH_ENOENT if
 * the label does not exist or points elsewhere. */
int th_store_remove_from_label(th_store *s, const char *store_id, const char *label,
                               const char *ref, th_error *err);
/* store-at-label: put the content and point the label at it (create/move). */
int th_store_store_at_label(th_store *s, const char *store_id, const char *label, const void *data,
                            size_t len, th_content_ref *ref /* out */, th_error *err);
/* replace-content-at-label: put the content and move an existing label to
 * it; TH_ENOENT if the label does not exist (nothing is stored then). */
int th_store_replace_content_at_label(th_store *s, const char *store_id, const char *label,
                                      const void *data, size_t len, th_content_ref *ref /* out */,
                                      th_error *err);
/* replace-at-label: move an existing label to `ref` (held by the store). */
int th_store_replace_at_label(th_store *s, const char *store_id, const char *label, const char *ref,
                              th_error *err);
/* list-labels: label names, sorted. */
int th_store_list_labels(th_store *s, const char *store_id, th_store_list *out /* out */,
                         th_error *err);
/* list-all-content: references held by the store, sorted. */
int th_store_list_content(th_store *s, const char *store_id, th_store_list *out /* out */,
                          th_error *err);
/* calculate-total-size: sum of the sizes of the store's content. */
int th_store_total_size(th_store *s, const char *store_id, uint64_t *bytes /* out */,
                        th_error *err);

/* Free the strings and the array; accepts NULL and empty lists. */
void th_store_list_free(th_store_list *list);

#ifdef __cplusplus
}
#endif
#endif
