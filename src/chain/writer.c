/*
 * writer.c - the chain's writer thread: it takes the queue of appended
 * events in order, encodes each chain's events as segments, signs the
 * batch (a Merkle root over the touched chains' new heads) and commits it
 * with the new heads in one SQLite transaction (group commit); it keeps
 * the index of segments per chain, stores referenced content, tells the
 * listeners and the durability waiters, and when the disk refuses it
 * keeps everything and retries (see writer_main's comment), recording what
 * is pending in chain.pending.  Taking the queue and encoding and signing
 * its segments (take_queue) is also done by an appending thread that finds
 * a group commit due while nobody else encodes: the writer thread then
 * only stores the segments, in order.  The handle's structures: handle.h.
 */
#define _GNU_SOURCE /* gettid */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
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
static int retry_wait(th_chain *c, unsigned *delay_ms)
{
    struct timespec ts;
    int give_up;

    pthread_mutex_lock(&c->qlock);
    give_up = c->stopping &&
              base_clock_mono_ns() - c->stop_ns >= (uint64_t)TH_CHAIN_CLOSE_RETRY_MS * 1000000u;
    if (!give_up) {
        chain_deadline_after(&ts, base_clock_mono_ns() + (uint64_t)*delay_ms * 1000000u);
        pthread_cond_timedwait(&c->qcv, &c->qlock, &ts);
    }
    pthread_mutex_unlock(&c->qlock);
    *delay_ms = *delay_ms * 2 > CHAIN_RETRY_MAX_MS ? CHAIN_RETRY_MAX_MS : *delay_ms * 2;
    return give_up;
}

/* A chunk of the queue taken by the encoder (take_queue): its entries in
 * queue order, encoded as one signed segment, with the new head of every
 * chain it touches, waiting for the writer thread to store it. */
typedef struct chain_chunk {
    struct chain_chunk *next;
    chain_pending **ev;  /* the entries (room for batch_max) */
    chain_pending **own; /* those that free memory (a block, a slab's last) */
    size_t n, bytes;     /* entries, their queue bytes */
    size_t nown;         /* own's entries (once encoded) */
    uint64_t last_ticket;
    uint64_t id;     /* its chain_segment.id (signed) */
    uint64_t now;    /* signed_ms */
    int encoded;     /* 0: encoding failed (out of memory): the writer retries */
    int spans_noted; /* stored, and its spans noted (chain_span_add) */
    size_t contents; /* events recorded by content reference */
    uint8_t *blob;   /* the segment */
    size_t len, cap;
    chain_actor **touched; /* in order of first appearance */
    uint64_t *first, *head;
    uint8_t (*hash)[32];
    uint8_t (*leaves)[32];
    size_t ntouched, cap_touched;
    uint8_t sig[CHAIN_SIG_LEN];
} chain_chunk;

#define CHAIN_CHUNK_KEEP 8u        /* idle chunks kept for reuse */
#define CHAIN_CHUNKS_PER_COMMIT 8u /* segments stored in one transaction at most */

/* Give `a` a slot in the chunk's table of touched chains (once per chunk). */
static int touch(th_chain *c, chain_chunk *k, chain_actor *a)
{
    size_t cap;
    void *v;

    if (a->batch_no == c->batch_no)
        return 0;
    if (k->ntouched == k->cap_touched) {
        cap = k->cap_touched ? k->cap_touched * 2 : 1024;
        if ((v = realloc(k->touched, cap * sizeof *k->touched)) != NULL)
            k->touched = v;
        if (v != NULL && (v = realloc(k->first, cap * sizeof *k->first)) != NULL)
            k->first = v;
        if (v != NULL && (v = realloc(k->head, cap * sizeof *k->head)) != NULL)
            k->head = v;
        if (v != NULL && (v = realloc(k->hash, cap * 32)) != NULL)
            k->hash = v;
        if (v != NULL && (v = realloc(k->leaves, cap * 32)) != NULL)
            k->leaves = v;
        if (v == NULL)
            return -1;
        k->cap_touched = cap;
    }
    a->batch_no = c->batch_no;
    a->slot = (uint32_t)k->ntouched;
    k->touched[k->ntouched++] = a;
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
 * varint at its longest, seq and parent explicit, and room for a
 * reference (K and three lengths instead of the type and data length). */
static size_t event_size(const chain_pending *p)
{
    return 1 + 5 + 10 + 10 + CHAIN_SEG_CHECK_LEN + (p->has_parent ? 32 : 0) + 5 + p->type_len + 1 +
           10 + 30 + p->data_len + (p->has_desc ? 5 + p->desc_len + 1 : 0);
}

static const uint8_t *pending_data(const chain_pending *p)
{
    return (const uint8_t *)p->buf + p->type_len + 1 + (p->has_desc ? p->desc_len + 1 : 0);
}

/* Length of the common start of a and b (n bytes each), 8 bytes a step. */
static size_t common_start(const uint8_t *a, const uint8_t *b, size_t n)
{
    uint64_t x, y;
    size_t i = 0;

    for (; i + 8 <= n; i += 8) {
        memcpy(&x, a + i, 8);
        memcpy(&y, b + i, 8);
        if (x != y)
            break;
    }
    while (i < n && a[i] == b[i])
        i++;
    return i;
}

/* Length of the common end of a and b (n bytes each, ending there). */
static size_t common_end(const uint8_t *a_end, const uint8_t *b_end, size_t n)
{
    uint64_t x, y;
    size_t i = 0;

    for (; i + 8 <= n; i += 8) {
        memcpy(&x, a_end - i - 8, 8);
        memcpy(&y, b_end - i - 8, 8);
        if (x != y)
            break;
    }
    while (i < n && a_end[-1 - (ptrdiff_t)i] == b_end[-1 - (ptrdiff_t)i])
        i++;
    return i;
}

/* The latest of the actor's last CHAIN_SEG_REF_LOOK events in this segment
 * with p's type: *back is how far back it is.  NULL if none. */
static const chain_pending *find_ref(const chain_pending *p, uint32_t *back)
{
    const chain_actor *a = p->actor;
    const chain_pending *r;
    uint32_t k;

    for (k = 1; k <= CHAIN_SEG_REF_LOOK && k <= a->nrecent; k++) {
        r = a->recent[(a->nrecent - k) % CHAIN_SEG_REF_LOOK];
        if (r->type_len == p->type_len && memcmp(r->buf, p->buf, p->type_len) == 0) {
            *back = k;
            return r;
        }
    }
    return NULL;
}

/* Encode one v4 event.  a->enc_seq/enc_hash hold the actor's previous
 * event in this segment unless this is its first (seq == batch_first). */
static uint8_t *put_event(uint8_t *q, const chain_pending *p, uint64_t base)
{
    const char *desc = p->buf + p->type_len + 1;
    const uint8_t *data = pending_data(p), *rd;
    chain_actor *a = p->actor;
    int follows = p->seq != a->batch_first;
    const chain_pending *ref = NULL;
    size_t keep, tail, lim;
    uint32_t back = 0;
    uint8_t flags = 0;

    if (p->has_parent) {
        flags |= CHAIN_SEG_HAS_PARENT;
        if (follows && memcmp(p->parent, a->enc_hash, 32) == 0)
            flags |= CHAIN_SEG_PARENT_IMPLICIT;
    }
    if (follows && p->seq == a->enc_seq + 1)
        flags |= CHAIN_SEG_SEQ_IMPLICIT;
    if (p->has_desc)
        flags |= CHAIN_SEG_HAS_DESC;
    if (!follows)
        a->nrecent = 0;
    else if ((ref = find_ref(p, &back)) != NULL)
        flags |= CHAIN_SEG_REF;
    *q++ = flags;
    q = put_var(q, a->slot);
    if (!(flags & CHAIN_SEG_SEQ_IMPLICIT))
        q = put_var(q, p->seq);
    q = put_var(q, p->ts - base);
    memcpy(q, p->hash, CHAIN_SEG_CHECK_LEN); /* v4: its check value */
    q += CHAIN_SEG_CHECK_LEN;
    if (p->has_parent && !(flags & CHAIN_SEG_PARENT_IMPLICIT)) {
        memcpy(q, p->parent, 32);
        q += 32;
    }
    if (ref != NULL) {
        /* the longest common start, then the longest common end of what
         * is left of both */
        rd = pending_data(ref);
        lim = p->data_len < ref->data_len ? p->data_len : ref->data_len;
        keep = common_start(data, rd, lim);
        tail = common_end(data + p->data_len, rd + ref->data_len, lim - keep);
        q = put_var(put_var(put_var(q, back), keep), tail);
        q = put_var(q, p->data_len - keep - tail);
        memcpy(q, data + keep, p->data_len - keep - tail);
        q += p->data_len - keep - tail;
    } else {
        q = put_str(put_var(q, p->type_len), p->buf, p->type_len);
        q = put_var(q, p->data_len);
        memcpy(q, data, p->data_len);
        q += p->data_len;
    }
    if (p->has_desc)
        q = put_str(put_var(q, p->desc_len), desc, p->desc_len);
    a->recent[a->nrecent % CHAIN_SEG_REF_LOOK] = p;
    a->nrecent++;
    return q;
}

/* The walks over a chunk (encode, store, notify, free) go through an
 * array of its entries (take_queue) and ask for the entry CHAIN_PREFETCH
 * places ahead: the entries were written on another core and are seldom
 * in this one's cache, and a walk along p->next waits for each miss in
 * turn. */
#define CHAIN_PREFETCH 8

static void prefetch_entry(chain_pending *const *ev, size_t i, size_t n)
{
    if (i + CHAIN_PREFETCH < n)
        __builtin_prefetch(ev[i + CHAIN_PREFETCH]);
}

/* The rest of an entry (its data), once its first line is in the cache. */
static void prefetch_rest(const chain_pending *p)
{
    const char *b = (const char *)p;
    size_t off, end = p->size < 512 ? p->size : 512;

    for (off = 64; off < end; off += 64)
        __builtin_prefetch(b + off);
}

/* Encode the chunk's events as one v4 segment in k->blob, with the
 * touched chains' slots and new heads.  Returns 0, or -1 if out of memory. */
static int encode_segment(th_chain *c, chain_chunk *k)
{
    chain_pending *const *ev = k->ev;
    size_t i, n = k->n, size = 8 + 10 + 10 + 10;
    uint64_t base = UINT64_MAX;
    chain_pending *p;
    uint8_t *q, *nb;
    chain_actor *a;

    k->ntouched = 0;
    k->contents = 0;
    k->nown = 0;
    for (i = 0; i < n; i++) {
        prefetch_entry(ev, i, n);
        p = ev[i];
        a = p->actor;
        k->contents += p->content != NULL;
        if (a->batch_no != c->batch_no) {
            if (touch(c, k, a) != 0)
                return -1;
            a->batch_first = p->seq;
            size += 10 + a->name_len + 1;
        }
        if (p->ts < base)
            base = p->ts;
        size += event_size(p);
    }
    if (size > k->cap) {
        nb = realloc(k->blob, size);
        if (nb == NULL)
            return -1;
        k->blob = nb;
        k->cap = size;
    }
    q = k->blob;
    memcpy(q, chain_segment_magic, 8);
    q = put_var(q + 8, k->ntouched);
    for (i = 0; i < k->ntouched; i++)
        q = put_str(put_var(q, k->touched[i]->name_len), k->touched[i]->name,
                    k->touched[i]->name_len);
    q = put_var(q, base);
    q = put_var(q, n);
    /* The heads advance event by event: put_event compares each event with
     * its actor's previous one. */
    for (i = 0; i < n; i++) {
        if (i + CHAIN_PREFETCH / 2 < n)
            prefetch_rest(ev[i + CHAIN_PREFETCH / 2]);
        p = ev[i];
        q = put_event(q, p, base);
        if (p->slab != CHAIN_IN_SLAB) /* the writer frees these only */
            k->own[k->nown++] = p;
        p->actor->enc_seq = p->seq;
        memcpy(p->actor->enc_hash, p->hash, 32);
    }
    k->len = (size_t)(q - k->blob);
    for (i = 0; i < k->ntouched; i++) {
        a = k->touched[i];
        k->first[i] = a->batch_first;
        k->head[i] = a->enc_seq;
        memcpy(k->hash[i], a->enc_hash, 32);
    }
    return 0;
}

/* Sign the chunk: Merkle root over the touched chains' new heads. */
static int sign_chunk(chain_chunk *k, EVP_PKEY *key, th_error *err)
{
    base_sha256_ctx *ctx = chain_thread_sha256();
    uint8_t root[32], msg[CHAIN_BATCH_MSG_LEN];
    chain_actor *a;
    size_t i;

    if (ctx == NULL)
        return th_error_set(err, TH_ENOMEM, "out of memory");
    base_sha256_take_error(ctx);
    for (i = 0; i < k->ntouched; i++) {
        a = k->touched[i];
        chain_head_leaf(ctx, a->name, a->name_len, k->head[i], k->hash[i], k->leaves[i]);
    }
    if (chain_merkle_build(ctx, (const uint8_t(*)[32])k->leaves, k->ntouched, root, NULL, NULL) !=
            0 ||
        base_sha256_take_error(ctx))
        return th_error_set(err, TH_ENOMEM, "building the head tree failed");
    chain_batch_message(k->id, k->now, k->ntouched, root, msg);
    base_crypto_clear();
    if (chain_key_sign(key, msg, sizeof msg, k->sig) != 0)
        return th_error_set(err, base_crypto_error_code(), "signing the chain heads failed");
    return TH_OK;
}

/* Encoder, holding elock: encode and sign the chunk k (its id set). */
static int encode_chunk(th_chain *c, chain_chunk *k, th_error *err)
{
    int rc;

    c->batch_no++;
    k->now = base_clock_wall_ms();
    k->encoded = 0;
    if (encode_segment(c, k) != 0)
        return th_error_set(err, TH_ENOMEM, "out of memory encoding a segment");
    if ((rc = sign_chunk(k, c->key, err)) != TH_OK)
        return rc;
    k->encoded = 1;
    return TH_OK;
}

static int step_done(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);

    sqlite3_reset(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Remember that segment `seg` holds events of `a` up to a->head_seq. */
int chain_span_add(th_chain *c, chain_actor *a, uint64_t first_seq, uint64_t seg)
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
static int store_contents(th_chain *c, chain_pending *const *ev, size_t n, uint64_t now)
{
    chain_pending *p;
    sqlite3_int64 blob;
    int rc = SQLITE_OK, store_done = 0;
    size_t i;

    for (i = 0; i < n && rc == SQLITE_OK; i++) {
        p = ev[i];
        if (p->content == NULL)
            continue;
        if (!store_done) {
            sqlite3_bind_text(c->ins_store, 1, TH_CHAIN_CONTENT_STORE, -1, SQLITE_STATIC);
            sqlite3_bind_int64(c->ins_store, 2, (sqlite3_int64)now);
            if ((rc = step_done(c->ins_store)) != SQLITE_OK)
                break;
            store_done = 1;
        }
        rc = db_blob_id(c->find_blob, c->ins_blob, p->content_hash, p->content, p->content_len,
                        &blob);
        if (rc == SQLITE_OK) {
            sqlite3_bind_blob(c->ins_content, 1, p->content_hash, 32, SQLITE_STATIC);
            sqlite3_bind_text(c->ins_content, 2, TH_CHAIN_CONTENT_STORE, -1, SQLITE_STATIC);
            sqlite3_bind_int64(c->ins_content, 3, blob);
            rc = step_done(c->ins_content);
        }
    }
    return rc;
}

/* Store the segments of the chunks `list` (linked by next, in order) in
 * one transaction, together with the rows of chains seen for the first
 * time: one commit (and one sync) for whatever the encoder handed over
 * meanwhile (writer thread).  A chunk whose encoding failed is encoded
 * again here. */
static int commit_chunks(th_chain *c, chain_chunk *list, th_error *err)
{
    chain_chunk *k;
    chain_actor *a;
    size_t i;
    int rc;

    for (k = list; k != NULL; k = k->next)
        if (k->id > c->commit_no && !k->encoded) {
            pthread_mutex_lock(&c->elock);
            rc = encode_chunk(c, k, err);
            pthread_mutex_unlock(&c->elock);
            if (rc != TH_OK)
                return rc;
        }
    c->txn_no++; /* new chains' rows: inserted once per transaction */
    rc = sqlite3_exec(c->wdb, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return db_error(c->wdb, rc, err, "starting a chain transaction");
    for (k = list; k != NULL && rc == SQLITE_OK; k = k->next) {
        if (k->id <= c->commit_no) /* stored; its spans could not be noted */
            continue;
        /* events recorded by content reference are rare: the walk over the
         * chunk for them is made only when the encoder saw one */
        rc = k->contents ? store_contents(c, k->ev, k->n, k->now) : SQLITE_OK;
        for (i = 0; i < k->ntouched && rc == SQLITE_OK; i++) {
            a = k->touched[i];
            if (a->persisted || a->row_txn == c->txn_no)
                continue;
            a->row_txn = c->txn_no;
            sqlite3_bind_int64(c->ins_actor, 1, a->id);
            sqlite3_bind_text(c->ins_actor, 2, a->name, (int)a->name_len, SQLITE_STATIC);
            rc = step_done(c->ins_actor);
        }
        if (rc == SQLITE_OK) {
            sqlite3_bind_int64(c->ins_segment, 1, (sqlite3_int64)k->id);
            sqlite3_bind_int64(c->ins_segment, 2, (sqlite3_int64)k->now);
            sqlite3_bind_blob(c->ins_segment, 3, c->pub, 32, SQLITE_STATIC);
            sqlite3_bind_blob(c->ins_segment, 4, k->sig, sizeof k->sig, SQLITE_STATIC);
            sqlite3_bind_blob64(c->ins_segment, 5, k->blob, k->len, SQLITE_STATIC);
            sqlite3_bind_blob64(c->ins_segment, 6, k->leaves, k->ntouched * 32, SQLITE_STATIC);
            rc = step_done(c->ins_segment);
        }
    }
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(c->wdb, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        rc = db_error(c->wdb, rc, err, "storing chain events");
        sqlite3_exec(c->wdb, "ROLLBACK", NULL, NULL, NULL);
        return rc;
    }
    /* in order: a chain's head is this chunk's when its span is noted */
    for (k = list; k != NULL; k = k->next) {
        if (k->id > c->commit_no) {
            c->commit_no = k->id;
            for (i = 0; i < k->ntouched; i++) {
                a = k->touched[i];
                a->persisted = 1;
                a->head_seq = k->head[i];
                memcpy(a->head_hash, k->hash[i], 32);
                a->stored_next = a->head_seq + 1;
            }
        }
        for (i = 0; i < k->ntouched && !k->spans_noted; i++)
            if (chain_span_add(c, k->touched[i], k->first[i], k->id) != 0)
                return th_error_set(err, TH_ENOMEM, "out of memory");
        k->spans_noted = 1;
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
    /* The index is not synced: it is redone from the segments if a crash
     * loses it (indexed_upto is written with the spans), and the next
     * segment's commit syncs the WAL up to and past it.  A sync per index
     * transaction doubled the commits of a load that touches many chains
     * (each stop of a million actors waited for two syncs). */
    sqlite3_exec(c->wdb, "PRAGMA synchronous=OFF", NULL, NULL, NULL);
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
    }
    sqlite3_exec(c->wdb, c->sync_normal ? "PRAGMA synchronous=NORMAL" : "PRAGMA synchronous=FULL",
                 NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return rc;
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
int chain_flush_index(th_chain *c, th_error *err)
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

static void notify(th_chain *c, chain_pending *const *evs, size_t n)
{
    th_chain_event ev;
    chain_pending *p;
    size_t i, k;

    pthread_mutex_lock(&c->llock);
    if (c->nlisteners == 0) {
        pthread_mutex_unlock(&c->llock);
        return;
    }
    for (i = 0; i < n; i++) {
        prefetch_entry(evs, i, n);
        p = evs[i];
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

void chain_deadline_after(struct timespec *ts, uint64_t mono_ns)
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
int chain_pending_recover(th_chain *c, th_error *err)
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
        a = chain_actor_get(c, r.items[i].actor, strlen(r.items[i].actor), 0, &created, err);
        if (a == NULL && err->code != TH_ENOENT) {
            rc = err->code;
            break;
        }
        th_error_clear(err);
        u = r.items[i];
        u.stored_next = a != NULL ? a->next_seq : 0;
        chain_actor_unpin(a);
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
static int commit_retrying(th_chain *c, chain_chunk *list)
{
    unsigned delay = CHAIN_RETRY_FIRST_MS;
    th_error err;
    char msg[TH_ERROR_MSG_MAX];

    th_error_clear(&err);
    while (commit_chunks(c, list, &err) != TH_OK) {
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

/* A chunk with room for batch_max entries: a recycled one, or NULL if out
 * of memory.  Takes qlock. */
static chain_chunk *chunk_get(th_chain *c)
{
    chain_chunk *k;

    pthread_mutex_lock(&c->qlock);
    if ((k = c->chunk_free) != NULL) {
        c->chunk_free = k->next;
        c->nchunk_free--;
    }
    pthread_mutex_unlock(&c->qlock);
    if (k != NULL)
        return k;
    if ((k = calloc(1, sizeof *k)) == NULL)
        return NULL;
    k->ev = malloc(c->batch_max * sizeof *k->ev);
    k->own = malloc(c->batch_max * sizeof *k->own);
    if (k->ev == NULL || k->own == NULL) {
        free(k->ev);
        free(k->own);
        free(k);
        return NULL;
    }
    return k;
}

static void chunk_free(chain_chunk *k)
{
    free(k->ev);
    free(k->own);
    free(k->blob);
    free(k->touched);
    free(k->first);
    free(k->head);
    free(k->hash);
    free(k->leaves);
    free(k);
}

/* Recycle a stored chunk.  Takes qlock. */
static void chunk_put(th_chain *c, chain_chunk *k)
{
    pthread_mutex_lock(&c->qlock);
    if (c->nchunk_free < CHAIN_CHUNK_KEEP) {
        k->next = c->chunk_free;
        c->chunk_free = k;
        c->nchunk_free++;
        k = NULL;
    }
    pthread_mutex_unlock(&c->qlock);
    if (k != NULL)
        chunk_free(k);
}

void chain_writer_free(th_chain *c)
{
    chain_chunk *k, *next;

    for (k = c->chunk_free; k != NULL; k = next) {
        next = k->next;
        chunk_free(k);
    }
    c->chunk_free = NULL;
    c->nchunk_free = 0;
}

/* Under qlock: when the writer thread takes the queue itself (a full
 * batch, or the oldest queued event has waited batch_ms).  Appenders that
 * took it lately (take_queue) will again: while they do, the writer thread
 * leaves them half a batch_ms more. */
static uint64_t writer_deadline(th_chain *c, uint64_t now)
{
    uint64_t wait = (uint64_t)c->batch_ms * 1000000u;

    if (c->by_appenders > 0 && now - c->assist_ns < 10 * wait)
        wait += wait / 2;
    return c->oldest_ns + wait;
}

int chain_queue_due(th_chain *c, int writer)
{
    uint64_t now;

    if (c->qhead == NULL || c->encoding)
        return 0;
    if (c->stopping || c->qcount >= c->batch_max)
        return 1;
    /* a caller waits for queued events: the writer commits them as soon
     * as it is free, with whatever else came meanwhile (a group commit
     * whose size follows the time a commit takes), instead of waiting
     * out the batch's time */
    if (writer && c->dwait_max >= c->qhead->ticket && c->chunk_head == NULL)
        return 1;
    now = base_clock_mono_ns();
    if (writer)
        return now >= writer_deadline(c, now);
    /* an appender: one segment at a time while the writer thread stores
     * (else each millisecond's would be a commit of its own) */
    return c->chunk_head == NULL && now >= c->oldest_ns + (uint64_t)c->batch_ms * 1000000u;
}

/* The encoder: take the first chunk of the queue (at most batch_max
 * events and TH_CHAIN_MAX_SEGMENT_BYTES, one event at least) and encode
 * and sign it as one segment for the writer thread to store, in order.
 * The one walk along the list (outside qlock: the queue is detached
 * meanwhile and what is left goes back in front of what was appended
 * since) puts the chunk's entries in its array, which the later walks
 * read ahead in.  `writer`: the writer thread (waits for elock);
 * otherwise an appender, which encodes only if nobody else does and a
 * group commit is due: the writer thread then only stores what it
 * encoded, and the work of encoding and signing grows with the appending
 * threads instead of waiting for one.  Returns 1 if a chunk was taken, 0
 * if not, -1 if out of memory (the queue is left as it was). */
static int take_queue(th_chain *c, int writer)
{
    chain_pending *list, *tail, *p;
    uint64_t oldest;
    size_t n, bytes, count;
    chain_chunk *k;
    th_error err;
    int failed;

    if (writer)
        pthread_mutex_lock(&c->elock);
    else if (pthread_mutex_trylock(&c->elock) != 0)
        return 0;
    pthread_mutex_lock(&c->qlock);
    if (!chain_queue_due(c, writer)) {
        pthread_mutex_unlock(&c->qlock);
        pthread_mutex_unlock(&c->elock);
        return 0;
    }
    list = c->qhead;
    tail = c->qtail;
    count = c->qcount;
    oldest = c->oldest_ns;
    c->qhead = c->qtail = NULL;
    c->qcount = 0;
    failed = c->failed;
    c->encoding = 1;
    pthread_mutex_unlock(&c->qlock);
    if ((k = chunk_get(c)) != NULL) {
        for (n = 0, bytes = 0, p = list; p != NULL && n < c->batch_max &&
                                         (n == 0 || bytes + p->size <= TH_CHAIN_MAX_SEGMENT_BYTES);
             p = p->next, n++) {
            k->ev[n] = p;
            bytes += p->size;
            k->last_ticket = p->ticket;
        }
        list = p; /* what is left */
        count -= n;
        k->n = n;
        k->bytes = bytes;
        k->id = ++c->enc_no;
        k->next = NULL;
        k->encoded = 0;
        k->spans_noted = 0;
        /* a failed writer stores nothing; a chunk that cannot be encoded
         * now is encoded again by the writer thread (commit_chunks) */
        if (!failed)
            (void)encode_chunk(c, k, &err);
    }
    pthread_mutex_lock(&c->qlock);
    if (list != NULL) { /* back in front of what was appended since */
        tail->next = c->qhead;
        if (c->qhead == NULL)
            c->qtail = tail;
        c->qhead = list;
        c->qcount += count;
        c->oldest_ns = oldest;
    }
    if (k != NULL) {
        if (c->chunk_tail != NULL)
            c->chunk_tail->next = k;
        else
            c->chunk_head = k;
        c->chunk_tail = k;
        if (!writer) {
            c->by_appenders++;
            c->assist_ns = base_clock_mono_ns();
        }
    }
    c->encoding = 0;
    pthread_cond_signal(&c->qcv); /* the writer thread */
    pthread_mutex_unlock(&c->qlock);
    pthread_mutex_unlock(&c->elock);
    return k != NULL ? 1 : -1;
}

void chain_assist(th_chain *c)
{
    (void)take_queue(c, 0);
}

uint64_t chain_segments_by_appenders(th_chain *c)
{
    uint64_t n;

    pthread_mutex_lock(&c->qlock);
    n = c->by_appenders;
    pthread_mutex_unlock(&c->qlock);
    return n;
}

/* Writer thread: store the chunks `list` (nothing if the writer has
 * failed), tell the listeners and the durability waiters, free their
 * entries. */
static void store_chunks(th_chain *c, chain_chunk *list, int failed)
{
    chain_chunk *k, *next;
    uint64_t last_ticket = 0;
    size_t i, bytes = 0;
    th_error err;
    int reset;

    if (!failed && commit_retrying(c, list) != 0)
        failed = 1;
    for (k = list; k != NULL; k = k->next) {
        if (!failed)
            notify(c, k->ev, k->n);
        last_ticket = k->last_ticket;
        bytes += k->bytes;
    }
    pthread_mutex_lock(&c->qlock);
    if (!failed)
        c->durable = last_ticket;
    c->qbytes -= bytes;
    reset = c->wal_reset;
    c->wal_reset = 0;
    pthread_cond_broadcast(&c->dcv);
    pthread_mutex_unlock(&c->qlock);
    for (k = list; k != NULL; k = next) {
        next = k->next;
        /* an encoded chunk knows which entries hold memory (a slab goes
         * with its last entry): the others, written on another core, are
         * not read */
        if (k->encoded) {
            for (i = 0; i < k->nown; i++)
                chain_pending_free(k->own[i]);
        } else {
            for (i = 0; i < k->n; i++) {
                prefetch_entry(k->ev, i, k->n);
                chain_pending_free(k->ev[i]);
            }
        }
        chunk_put(c, k);
    }
    if (failed)
        return;
    chain_sweep_arm(c);
    chain_wal_finish(c, reset);
    /* The index is redone from the segments at the next open if it cannot
     * be written: a failure here loses nothing, so it is retried later. */
    if (flush_due(c)) {
        if (flush_step(c, 1, 0, &err) != TH_OK)
            set_stalled(c, err.msg);
        else
            clear_stalled(c);
    }
}

void *chain_writer_main(void *arg)
{
    th_chain *c = arg;
    chain_chunk *k;
    struct timespec ts;
    unsigned delay, n;
    th_error err;
    int failed;

    prctl(PR_SET_NAME, "th-chain-writer", 0, 0, 0); /* per-thread CPU (runtime_bench, top -H) */
    pthread_mutex_lock(&c->qlock);
    for (;;) {
        /* Chains idle and stored leave memory, a bounded step at a time. */
        if (!c->failed && !c->stopping && base_clock_mono_ns() >= chain_sweep_due(c)) {
            pthread_mutex_unlock(&c->qlock);
            chain_sweep(c);
            pthread_mutex_lock(&c->qlock);
            continue;
        }
        /* Encoded chunks first, in order: those waiting in one
         * transaction (up to CHAIN_CHUNKS_PER_COMMIT). */
        if ((k = c->chunk_head) != NULL) {
            chain_chunk *end = k;
            for (n = 1; n < CHAIN_CHUNKS_PER_COMMIT && end->next != NULL; n++)
                end = end->next;
            if ((c->chunk_head = end->next) == NULL)
                c->chunk_tail = NULL;
            end->next = NULL;
            failed = c->failed;
            pthread_mutex_unlock(&c->qlock);
            store_chunks(c, k, failed);
            pthread_mutex_lock(&c->qlock);
            continue;
        }
        /* Group commit: a full batch or the oldest event's deadline (an
         * appender may have encoded it meanwhile). */
        if (c->qhead != NULL && !c->encoding) {
            if (!chain_queue_due(c, 1)) {
                chain_deadline_after(&ts, writer_deadline(c, base_clock_mono_ns()));
                pthread_cond_timedwait(&c->qcv, &c->qlock, &ts);
                continue;
            }
            pthread_mutex_unlock(&c->qlock);
            if (take_queue(c, 1) < 0) {
                delay = CHAIN_RETRY_FIRST_MS;
                set_stalled(c, "out of memory taking the chain queue");
                (void)retry_wait(c, &delay);
            }
            pthread_mutex_lock(&c->qlock);
            continue;
        }
        if (c->encoding) { /* an appender publishes what it took (qcv) */
            pthread_cond_wait(&c->qcv, &c->qlock);
            continue;
        }
        if (c->qhead == NULL && c->stopping)
            break;
        if ((c->ndirty == 0 && !c->round_active) || c->failed) {
            if (c->failed || chain_sweep_due(c) == UINT64_MAX)
                pthread_cond_wait(&c->qcv, &c->qlock);
            else {
                chain_deadline_after(&ts, chain_sweep_due(c));
                pthread_cond_timedwait(&c->qcv, &c->qlock, &ts);
            }
            continue;
        }
        /* Idle with spans pending: index them within a second. */
        if (!flush_due(c)) {
            uint64_t at = c->last_flush_ns + c->flush_ns;
            if (chain_sweep_due(c) < at)
                at = chain_sweep_due(c);
            chain_deadline_after(&ts, at);
            pthread_cond_timedwait(&c->qcv, &c->qlock, &ts);
            continue;
        }
        pthread_mutex_unlock(&c->qlock);
        if (flush_step(c, 1, 0, &err) != TH_OK) {
            delay = CHAIN_RETRY_MAX_MS;
            set_stalled(c, err.msg);
            (void)retry_wait(c, &delay);
        } else {
            clear_stalled(c);
        }
        pthread_mutex_lock(&c->qlock);
    }
    failed = c->failed;
    pthread_mutex_unlock(&c->qlock);
    /* every event is stored; an index that cannot be written now is
     * rebuilt from the segments at the next open */
    if (!failed)
        (void)chain_flush_index(c, &err);
    return NULL;
}
