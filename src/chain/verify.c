/*
 * verify.c - verification of event chains: recompute every event's hash,
 * check every parent link and sequence number, then check the chain's
 * signed head (its Merkle path and Ed25519 signature, the key that signed
 * it, and that it names the chain's last event).  The first problem is
 * reported with the actor, the sequence number and what is wrong.
 *
 * In the database every segment's signature is checked (it covers the new
 * head of each chain the segment touched), and each chain's walk is compared
 * with the head cached in chain_actor, so removing a chain's newest events
 * (a rolled-back head) is reported as the first missing event.  Problems
 * that cannot name an event on their own (a signature that fails, a
 * missing segment) are reported only if no event-level problem explains
 * them first.  Checking all chains is one pass over the segments in commit
 * order.
 *
 * Hashing is most of the work, and an event's hash depends on nothing but
 * its own fields, so the pass over all chains computes the hashes of a
 * large segment's events on every core (a hash pool: the calling thread
 * and up to VERIFY_HELPERS helper threads, each taking one slice of the
 * segment), then walks the events in order with their hashes at hand.
 * The walk itself (links, sequence numbers, heads) stays sequential; the
 * segment's signature is checked by the calling thread while the helpers
 * start on the hashes.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/hex.h"
#include "chain/chain_int.h"
#include "db/db.h"

const char *th_chain_problem_name(int problem)
{
    switch (problem) {
    case TH_CHAIN_OK: return "ok";
    case TH_CHAIN_BAD_HASH: return "bad hash";
    case TH_CHAIN_BAD_PARENT: return "bad parent";
    case TH_CHAIN_MISSING_EVENT: return "missing event";
    case TH_CHAIN_MALFORMED: return "malformed";
    case TH_CHAIN_BAD_HEAD: return "bad head";
    case TH_CHAIN_UNSIGNED: return "unsigned";
    case TH_CHAIN_BAD_SIGNATURE: return "bad signature";
    case TH_CHAIN_WRONG_KEY: return "wrong key";
    case TH_CHAIN_BAD_CONTENT: return "bad content";
    case TH_CHAIN_UNTRUSTED: return "untrusted key";
    default: return "unknown problem";
    }
}

int chain_report(th_chain_verify_result *res, th_error *err, int problem, const char *actor,
                 uint64_t seq, const char *fmt, ...)
{
    va_list ap;

    res->problem = problem;
    snprintf(res->actor, sizeof res->actor, "%s", actor);
    res->seq = seq;
    va_start(ap, fmt);
    vsnprintf(res->detail, sizeof res->detail, fmt, ap);
    va_end(ap);
    return th_error_set(err, TH_ECORRUPT, "actor %s, event %llu: %s: %s", actor,
                        (unsigned long long)seq, th_chain_problem_name(problem), res->detail);
}

/* The hash of `ev` as its fields say (not its stored hash).  0 or -1. */
static int event_hash(base_sha256_ctx *ctx, const th_chain_event *ev, uint8_t out[32])
{
    return chain_event_hash(ctx, ev->has_parent ? ev->parent : NULL, ev->timestamp_ms, ev->type,
                            strlen(ev->type), ev->data, ev->data_len, ev->description,
                            ev->description ? strlen(ev->description) : 0, out);
}

/* chain_walk_event with the comparison of the event's recomputed hash and
 * its stored one already made: `hashed` 1 (equal), 0 (not), -1 (not
 * computable, reported as malformed). */
static int walk_checked(chain_walk *w, const th_chain_event *ev, int hashed, th_error *err);

/* The same with the recomputed hash (`hash`; NULL: not computable). */
static int walk_hashed(chain_walk *w, const th_chain_event *ev, const uint8_t *hash, th_error *err)
{
    return walk_checked(w, ev, hash == NULL ? -1 : memcmp(hash, ev->hash, 32) == 0, err);
}

int chain_walk_event(chain_walk *w, base_sha256_ctx *ctx, const th_chain_event *ev, th_error *err)
{
    uint8_t h[32];

    return walk_hashed(w, ev, event_hash(ctx, ev, h) == 0 ? h : NULL, err);
}

/* walk_checked's `hashed` of event e of a v4 segment. */
static int hash_state(const chain_segment *seg, size_t e)
{
    return seg->hash_ok[e] == CHAIN_SEG_UNHASHED ? -1 : seg->hash_ok[e] != 0;
}

/* Event e of a decoded segment: a v4 segment's events were hashed by the
 * decoder, which compared each with its stored check value (hash_ok);
 * older segments' are hashed here. */
static int walk_segment_event(chain_walk *w, base_sha256_ctx *ctx, const chain_segment *seg,
                              size_t e, th_error *err)
{
    if (seg->version >= 4)
        return walk_checked(w, &seg->events[e], hash_state(seg, e), err);
    return chain_walk_event(w, ctx, &seg->events[e], err);
}

/* The component `hash` that event `seq` names (it was spawned, restarted
 * or updated with that code) must, if the store holds it, be intact: a
 * replay or an export would run or hand out those bytes.  A component that
 * is not in the store is not a problem of the chain: `chain import`
 * without `--with-components` brings a chain without its code (replay and
 * export then say so).  Each component is looked up once per verification
 * (w->comps). */
static int check_component(chain_walk *w, const uint8_t hash[32], uint64_t seq, th_error *err)
{
    chain_comp_seen *cs = w->comps;
    char hex[65];
    th_error e2;
    size_t i;
    int rc;

    for (i = 0; i < cs->count; i++)
        if (memcmp(cs->hash[i], hash, 32) == 0)
            return TH_OK;
    rc = chain_content_check(w->db, hash, CHAIN_ANY_SIZE, &e2);
    if (rc == TH_ECORRUPT)
        return chain_report(w->res, err, TH_CHAIN_BAD_CONTENT, w->actor, seq,
                            "the component %s it names was altered in the store (its bytes do "
                            "not have that SHA-256)",
                            base_hex_encode(hash, 32, hex));
    if (rc != TH_OK && rc != TH_ENOENT)
        return th_error_set(err, rc, "%s", e2.msg);
    if (cs->count == cs->cap) {
        size_t cap = cs->cap ? cs->cap * 2 : 8;
        uint8_t(*nh)[32] = realloc(cs->hash, cap * sizeof *nh);
        if (nh == NULL)
            return th_error_set(err, TH_ENOMEM, "out of memory");
        cs->hash = nh;
        cs->cap = cap;
    }
    memcpy(cs->hash[cs->count++], hash, 32);
    return TH_OK;
}

static int walk_checked(chain_walk *w, const th_chain_event *ev, int hashed, th_error *err)
{
    uint8_t h[32];
    uint64_t size;

    if (ev->seq != w->next_seq) {
        if (ev->seq > w->next_seq)
            return chain_report(w->res, err, TH_CHAIN_MISSING_EVENT, w->actor, w->next_seq,
                                "event %llu is missing (the next stored event is %llu)",
                                (unsigned long long)w->next_seq, (unsigned long long)ev->seq);
        return chain_report(w->res, err, TH_CHAIN_MALFORMED, w->actor, ev->seq,
                            "event %llu appears out of order", (unsigned long long)ev->seq);
    }
    if (ev->seq == 0 && ev->has_parent)
        return chain_report(w->res, err, TH_CHAIN_BAD_PARENT, w->actor, 0,
                            "the first event has a parent hash");
    if (ev->seq > 0 && !ev->has_parent)
        return chain_report(w->res, err, TH_CHAIN_BAD_PARENT, w->actor, ev->seq,
                            "the event has no parent hash");
    if (ev->seq > 0 && memcmp(ev->parent, w->prev, 32) != 0)
        return chain_report(w->res, err, TH_CHAIN_BAD_PARENT, w->actor, ev->seq,
                            "the parent hash does not match the hash of event %llu",
                            (unsigned long long)(ev->seq - 1));
    if (hashed < 0)
        return chain_report(w->res, err, TH_CHAIN_MALFORMED, w->actor, ev->seq,
                            "the event cannot be hashed (type too long?)");
    if (!hashed)
        return chain_report(w->res, err, TH_CHAIN_BAD_HASH, w->actor, ev->seq,
                            "the stored hash does not match the event's contents "
                            "(type, timestamp, data, description or parent changed)");
    if (w->db != NULL && th_chain_event_content_ref(ev, h, &size)) {
        th_error e2;
        int rc = chain_content_check(w->db, h, size, &e2);
        if (rc == TH_ENOENT || rc == TH_ECORRUPT)
            return chain_report(w->res, err, TH_CHAIN_BAD_CONTENT, w->actor, ev->seq, "%s", e2.msg);
        if (rc != TH_OK)
            return th_error_set(err, rc, "%s", e2.msg);
    }
    if (w->comps != NULL && chain_event_component(ev, h)) {
        int rc = check_component(w, h, ev->seq, err);
        if (rc != TH_OK)
            return rc;
    }
    if (w->head != NULL && ev->seq == w->head->seq) {
        w->head_seen = 1;
        memcpy(w->head_event, ev->hash, 32);
    }
    memcpy(w->prev, ev->hash, 32);
    w->next_seq++;
    w->res->events++;
    return TH_OK;
}

/* 1 if a signed head's audit path and signature verify, 0 if not,
 * TH_ENOMEM (no verdict). */
static int signature_ok(chain_walk *w, base_sha256_ctx *ctx, const chain_signed_head *h)
{
    uint8_t msg[CHAIN_BATCH_MSG_LEN];
    int rc = chain_head_message(ctx, w->actor, h, msg);

    if (rc != 0)
        return rc < 0 ? rc : 0;
    return chain_key_verify(h->public_key, msg, sizeof msg, h->signature);
}

int chain_walk_finish(chain_walk *w, base_sha256_ctx *ctx, const uint8_t *trusted, th_error *err)
{
    const chain_signed_head *h = w->head;
    char a[65], b[65];
    int ok;

    w->res->actors++;
    if (h == NULL)
        return chain_report(w->res, err, TH_CHAIN_UNSIGNED, w->actor, 0,
                            "the chain has no valid signed head");
    if ((ok = signature_ok(w, ctx, h)) < 0)
        return th_error_set(err, ok, "out of memory checking a signature");
    if (!ok)
        return chain_report(w->res, err, TH_CHAIN_BAD_SIGNATURE, w->actor, h->seq,
                            "the signature of the head (event %llu) does not verify: the head "
                            "was rolled back, altered or forged",
                            (unsigned long long)h->seq);
    if (trusted != NULL && memcmp(trusted, h->public_key, CHAIN_PUBKEY_LEN) != 0)
        return chain_report(
            w->res, err, TH_CHAIN_WRONG_KEY, w->actor, h->seq,
            "the head is signed by key %.16s..., not by the key it was checked against, %.16s...",
            base_hex_encode(h->public_key, 32, a), base_hex_encode(trusted, 32, b));
    if (w->next_seq <= h->seq)
        return chain_report(w->res, err, TH_CHAIN_MISSING_EVENT, w->actor, w->next_seq,
                            "event %llu is missing: the signed head is at event %llu "
                            "(events were removed or the chain was rolled back)",
                            (unsigned long long)w->next_seq, (unsigned long long)h->seq);
    if (!w->head_seen || memcmp(w->head_event, h->hash, 32) != 0)
        return chain_report(w->res, err, TH_CHAIN_BAD_HEAD, w->actor, h->seq,
                            "the signed head names another hash than event %llu",
                            (unsigned long long)h->seq);
    if (w->next_seq > h->seq + 1)
        return chain_report(w->res, err, TH_CHAIN_UNSIGNED, w->actor, h->seq + 1,
                            "event %llu and later are not covered by the signed head (event %llu)",
                            (unsigned long long)(h->seq + 1), (unsigned long long)h->seq);
    return TH_OK;
}

/* A problem noticed on the way that is reported only if nothing more
 * precise is found first. */
typedef struct deferred {
    bool oom; /* a check ran out of memory: no verdict */
    int problem;
    char actor[TH_CHAIN_MAX_ACTOR_BYTES + 1];
    uint64_t seq;
    char detail[256];
} deferred;

static void defer(deferred *d, int problem, const char *actor, uint64_t seq, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void defer(deferred *d, int problem, const char *actor, uint64_t seq, const char *fmt, ...)
{
    va_list ap;

    if (d->problem != TH_CHAIN_OK)
        return;
    d->problem = problem;
    snprintf(d->actor, sizeof d->actor, "%s", actor);
    d->seq = seq;
    va_start(ap, fmt);
    vsnprintf(d->detail, sizeof d->detail, fmt, ap);
    va_end(ap);
}

/* The chain whose signed head the segment no longer matches: the stored
 * leaves must carry the signature, and the first recomputed leaf that
 * differs names the chain (only chain `want` is looked at if want >= 0).
 * When the segment holds fewer or more chains than the batch signed (the
 * events of a chain removed from it, or added), a leaf is looked for
 * among all the stored ones.  Returns its index, -1 if the leaves'
 * signature verifies and no leaf looked at differs, -3 if moreover the
 * number of chains differs (one was removed), -2 if that cannot be told
 * (no stored leaves, their signature fails, out of memory). */
static int altered_head(sqlite3 *db, base_sha256_ctx *ctx, const chain_segment *seg, int want)
{
    uint8_t root[32], msg[CHAIN_BATCH_MSG_LEN], leaf[32];
    const th_chain_event *ev;
    const uint8_t *leaves;
    sqlite3_stmt *st = NULL;
    int found = -2;
    size_t i, j, nstored;
    bool same;

    if (sqlite3_prepare_v2(db, "SELECT leaves FROM chain_segment WHERE id = ?", -1, &st, NULL) !=
            SQLITE_OK ||
        sqlite3_bind_int64(st, 1, (sqlite3_int64)seg->id) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW || sqlite3_column_bytes(st, 0) == 0 ||
        sqlite3_column_bytes(st, 0) % 32 != 0)
        goto out;
    nstored = (size_t)sqlite3_column_bytes(st, 0) / 32;
    same = nstored == seg->nactors;
    leaves = sqlite3_column_blob(st, 0);
    base_sha256_take_error(ctx);
    if (chain_merkle_build(ctx, (const uint8_t(*)[32])leaves, nstored, root, NULL, NULL) != 0 ||
        base_sha256_take_error(ctx))
        goto out;
    chain_batch_message(seg->id, seg->signed_ms, nstored, root, msg);
    if (chain_key_verify(seg->public_key, msg, sizeof msg, seg->signature) != 1)
        goto out;
    found = -1;
    for (i = want < 0 ? 0 : (size_t)want; i < seg->nactors && found == -1; i++) {
        ev = &seg->events[seg->last_event[i] - 1];
        chain_head_leaf(ctx, seg->actors[i], strlen(seg->actors[i]), ev->seq, ev->hash, leaf);
        if (base_sha256_take_error(ctx)) {
            found = -2; /* out of memory: the chain stays unnamed */
            break;
        }
        if (same) {
            if (memcmp(leaf, leaves + 32 * i, 32) != 0)
                found = (int)i;
        } else {
            for (j = 0; j < nstored && memcmp(leaf, leaves + 32 * j, 32) != 0; j++)
                ;
            if (j == nstored)
                found = (int)i;
        }
        if (want >= 0)
            break;
    }
    if (found == -1 && !same && want < 0)
        found = -3;
out:
    sqlite3_finalize(st);
    return found;
}

/* Check a segment's signature and key; problems are deferred, named by the
 * chain whose head changed if that can be told, else by `actor` (if not
 * NULL and in the segment) or the segment's first chain. */
static void check_segment(sqlite3 *db, base_sha256_ctx *ctx, const chain_segment *seg,
                          const uint8_t *trusted, const char *actor, deferred *d)
{
    int idx = actor != NULL ? chain_segment_actor(seg, actor) : -1;
    const th_chain_event *ev;
    char a[65], b[65];
    int bad;

    if (d->problem != TH_CHAIN_OK || d->oom)
        return;
    if ((bad = chain_segment_signature_ok(ctx, seg)) < 0) {
        d->oom = true;
    } else if (!bad) {
        /* Verifying one chain: its head may still be one the batch signed
         * (its leaf among the stored, signed leaves), another chain's
         * events of the batch having changed (with v4 segments a changed
         * event changes its chain's head: the batch's signature fails for
         * all its chains, the stored leaves tell them apart). */
        if (idx >= 0 && altered_head(db, ctx, seg, idx) == -1)
            return;
        bad = altered_head(db, ctx, seg, -1);
        if (bad == -3) {
            /* every chain it holds has a head the batch signed: another
             * chain's events were taken out of it (its leaf tells no name) */
            defer(d, TH_CHAIN_MISSING_EVENT, "?", 0,
                  "segment %llu was signed over the heads of more chains than it holds events "
                  "of: the events of a chain were removed from it (the chains it still holds "
                  "are as signed)",
                  (unsigned long long)seg->id);
            return;
        }
        if (bad >= 0)
            idx = bad;
        idx = idx < 0 ? 0 : idx;
        ev = &seg->events[seg->last_event[idx] - 1];
        defer(d, TH_CHAIN_BAD_SIGNATURE, seg->actors[idx], ev->seq,
              bad >= 0 ? "event %llu is not the head that segment %llu signed for this chain "
                         "(the chain was rolled back or its head altered)"
                       : "the signature of segment %llu (event %llu's batch) does not verify: "
                         "events were altered, removed or forged",
              bad >= 0 ? (unsigned long long)ev->seq : (unsigned long long)seg->id,
              bad >= 0 ? (unsigned long long)seg->id : (unsigned long long)ev->seq);
    } else if (trusted != NULL && memcmp(trusted, seg->public_key, CHAIN_PUBKEY_LEN) != 0) {
        idx = idx < 0 ? 0 : idx;
        ev = &seg->events[seg->last_event[idx] - 1];
        defer(d, TH_CHAIN_WRONG_KEY, seg->actors[idx], ev->seq,
              "segment %llu (this chain's head at event %llu) is signed by key %.16s..., not by "
              "this home's key %.16s...",
              (unsigned long long)seg->id, (unsigned long long)ev->seq,
              base_hex_encode(seg->public_key, 32, a), base_hex_encode(trusted, 32, b));
    }
}

/* End of one chain in the database: compare with its cached head. */
static int finish_db(chain_walk *w, const chain_cached_head *cached, th_error *err)
{
    w->res->actors++;
    if (w->next_seq == 0)
        return chain_report(w->res, err, TH_CHAIN_MISSING_EVENT, w->actor, 0,
                            "the chain has no events");
    if (!cached->valid)
        return TH_OK;
    if (w->next_seq <= cached->seq)
        return chain_report(w->res, err, TH_CHAIN_MISSING_EVENT, w->actor, w->next_seq,
                            "event %llu is missing: the chain's recorded head is event %llu "
                            "(events were removed or the chain was rolled back)",
                            (unsigned long long)w->next_seq, (unsigned long long)cached->seq);
    if (!w->head_seen || memcmp(w->head_event, cached->hash, 32) != 0)
        return chain_report(w->res, err, TH_CHAIN_BAD_HEAD, w->actor, cached->seq,
                            "event %llu differs from the chain's recorded head",
                            (unsigned long long)cached->seq);
    return TH_OK;
}

static int report_deferred(th_chain_verify_result *res, th_error *err, const deferred *d)
{
    if (d->oom)
        return th_error_set(err, TH_ENOMEM, "out of memory checking a signature");
    if (d->problem == TH_CHAIN_OK)
        return TH_OK;
    return chain_report(res, err, d->problem, d->actor, d->seq, "%s", d->detail);
}

static void walk_init(chain_walk *w, sqlite3 *db, chain_comp_seen *comps, const char *actor,
                      th_chain_verify_result *res, const chain_cached_head *cached,
                      chain_signed_head *want)
{
    memset(w, 0, sizeof *w);
    w->db = db;
    w->comps = comps;
    w->actor = actor;
    w->res = res;
    if (cached->valid) { /* only seq is used: head_seen/head_event record it */
        memset(want, 0, sizeof *want);
        want->seq = cached->seq;
        w->head = want;
    }
}

/* The truth about events accepted but not stored: a lost record in the
 * database (a process ended with them unstored), or, for a read-only
 * verification, the live chain.pending of the home (`pend`, may be NULL):
 * events that a stalled writer holds (alive) or that a dead one lost. */
static int check_unstored(sqlite3 *db, const char *actor, uint64_t stored,
                          const chain_pending_record *pend, int alive, th_chain_verify_result *res,
                          th_error *err)
{
    size_t i;
    int rc = chain_lost_check(db, actor, stored, res, err);

    for (i = 0; rc == TH_OK && pend != NULL && i < pend->count; i++) {
        const chain_unstored *u = &pend->items[i];
        if (strcmp(u->actor, actor) != 0 || stored >= u->next_seq)
            continue;
        rc = chain_report(res, err, TH_CHAIN_MISSING_EVENT, actor, stored,
                          "%llu event(s) from %llu on were appended but are not stored: %s "
                          "(%.200s)",
                          (unsigned long long)(u->next_seq - stored), (unsigned long long)stored,
                          alive ? "the writer cannot store them now and keeps retrying"
                                : "the writer could not store them and its process ended",
                          pend->reason);
    }
    return rc;
}

static int verify_one(sqlite3 *db, const char *actor, const uint8_t *trusted,
                      const chain_pending_record *pend, int alive, th_chain_verify_result *res,
                      th_error *err)
{
    base_sha256_ctx *ctx = chain_thread_sha256();
    chain_cached_head cached;
    chain_signed_head want;
    chain_comp_seen comps = {0};
    chain_segment seg;
    deferred d = {0};
    chain_walk w;
    uint64_t *ids = NULL;
    size_t n = 0, s, e;
    int rc, idx;

    if (ctx == NULL)
        return th_error_set(err, TH_ENOMEM, "out of memory");
    if ((rc = chain_actor_segments(db, actor, 0, 0, &cached, &ids, &n, err)) != TH_OK)
        return rc;
    walk_init(&w, db, &comps, actor, res, &cached, &want);
    for (s = 0; s < n; s++) {
        rc = chain_segment_load(db, ids[s], &seg, err);
        if (rc == TH_ENOENT) {
            rc = chain_report(res, err, TH_CHAIN_MISSING_EVENT, actor, w.next_seq,
                              "segment %llu, which holds events from %llu on, is missing",
                              (unsigned long long)ids[s], (unsigned long long)w.next_seq);
            goto out;
        }
        if (rc == TH_ENOMEM) /* no verdict on the chain */
            goto out;
        if (rc != TH_OK) {
            rc = chain_report(res, err, TH_CHAIN_MALFORMED, actor, w.next_seq, "%s", err->msg);
            goto out;
        }
        idx = chain_segment_actor(&seg, actor);
        for (e = 0; idx >= 0 && e < seg.nevents && rc == TH_OK; e++)
            if (seg.actor_of[e] == (uint32_t)idx)
                rc = walk_segment_event(&w, ctx, &seg, e, err);
        if (idx >= 0 && rc == TH_OK)
            check_segment(db, ctx, &seg, trusted, actor, &d);
        chain_segment_release(&seg);
        if (rc != TH_OK)
            goto out;
    }
    rc = finish_db(&w, &cached, err);
    if (rc == TH_OK)
        rc = report_deferred(res, err, &d);
    if (rc == TH_OK)
        rc = check_unstored(db, actor, w.next_seq, pend, alive, res, err);
out:
    free(comps.hash);
    free(ids);
    return rc;
}

/* Per-chain state of a full verification, sorted by name. */
typedef struct chain_state {
    char *name;
    chain_cached_head cached;
    chain_signed_head want;
    chain_walk w;
    uint64_t *segs;        /* the indexed segments (id <= indexed_upto) that */
    size_t nsegs, capsegs; /* hold its events, in order: what its spans must list */
    uint64_t indexed_last; /* its last event in them (with nsegs > 0) */
} chain_state;

/* Note that segment `id` holds the event `seq` of `x` (an indexed one). */
static int note_indexed(chain_state *x, uint64_t id, uint64_t seq)
{
    uint64_t *n;

    x->indexed_last = seq;
    if (x->nsegs > 0 && x->segs[x->nsegs - 1] == id)
        return 0;
    if (x->nsegs == x->capsegs) {
        x->capsegs = x->capsegs ? x->capsegs * 2 : 8;
        if ((n = realloc(x->segs, x->capsegs * sizeof *n)) == NULL)
            return -1;
        x->segs = n;
    }
    x->segs[x->nsegs++] = id;
    return 0;
}

/* The index (chain_span) of `x` against what the segments hold.  Readers
 * (events, export, replay) find a chain's indexed events through its
 * spans alone, so a span removed, cut or reordered would hide events from
 * them while every hash still verifies: the spans must run from event 0
 * without a gap to its last indexed event, and list exactly the indexed
 * segments that hold its events, in order (read.c takes them as it does
 * here: ids up to indexed_upto, each above the one before). */
static int check_index(sqlite3 *db, chain_state *x, uint64_t upto, th_chain_verify_result *res,
                       th_error *err)
{
    sqlite3_stmt *st = NULL;
    uint64_t next = 0, id, last = 0;
    size_t k = 0, len, j;
    const uint8_t *b;
    int rc, any = 0;

    rc = sqlite3_prepare_v2(db,
                            "SELECT first_seq, last_seq, segments FROM chain_span WHERE actor = ?"
                            " ORDER BY first_seq",
                            -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, 1, x->cached.id);
    while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        uint64_t first = (uint64_t)sqlite3_column_int64(st, 0);

        b = sqlite3_column_blob(st, 2);
        len = (size_t)sqlite3_column_bytes(st, 2);
        if (first != next || len % 8 != 0) {
            sqlite3_finalize(st);
            return chain_report(res, err, TH_CHAIN_MISSING_EVENT, x->name, next,
                                "the chain's index (chain_span) %s at event %llu: readers "
                                "would not find its events",
                                len % 8 != 0 ? "is malformed" : "has a gap",
                                (unsigned long long)next);
        }
        next = (uint64_t)sqlite3_column_int64(st, 1) + 1;
        any = 1;
        for (j = 0; j < len; j += 8) {
            id = chain_be64(b + j);
            if (id > upto || (k > 0 && id <= last))
                continue; /* not indexed yet, or passed over (as read.c does) */
            if (k >= x->nsegs || x->segs[k] != id) {
                sqlite3_finalize(st);
                return chain_report(
                    res, err, TH_CHAIN_MISSING_EVENT, x->name, k < x->nsegs ? 0 : next,
                    "the chain's index (chain_span) lists segment %llu where %s: readers would "
                    "not find all its events",
                    (unsigned long long)id, k < x->nsegs ? "the segments hold others" : "none is");
            }
            last = id;
            k++;
        }
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return db_error(db, rc, err, "reading the chain's index");
    if (k < x->nsegs || (x->nsegs > 0 && (!any || next <= x->indexed_last)))
        return chain_report(res, err, TH_CHAIN_MISSING_EVENT, x->name, any ? next : 0,
                            "the chain's index (chain_span) does not list segment %llu, which "
                            "holds its events: readers would not find them",
                            (unsigned long long)x->segs[k < x->nsegs ? k : x->nsegs - 1]);
    return TH_OK;
}

static int cmp_state(const void *a, const void *b)
{
    return strcmp(((const chain_state *)a)->name, ((const chain_state *)b)->name);
}

static int load_states(sqlite3 *db, chain_comp_seen *comps, th_chain_verify_result *res,
                       chain_state **out, size_t *n, th_error *err)
{
    sqlite3_stmt *st = NULL;
    chain_state *v = NULL, *nv, *x;
    size_t count = 0, cap = 0;
    int rc;

    rc = sqlite3_prepare_v2(db,
                            "SELECT name, head_seq, head_hash, head_segment, id FROM chain_actor"
                            " ORDER BY name",
                            -1, &st, NULL);
    while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (count == cap) {
            cap = cap ? cap * 2 : 256;
            nv = realloc(v, cap * sizeof *nv);
            if (nv == NULL) {
                rc = SQLITE_NOMEM;
                break;
            }
            v = nv;
        }
        x = &v[count];
        memset(x, 0, sizeof *x);
        x->name = strdup((const char *)sqlite3_column_text(st, 0));
        if (x->name == NULL) {
            rc = SQLITE_NOMEM;
            break;
        }
        count++;
        x->cached.id = sqlite3_column_int64(st, 4);
        if (sqlite3_column_type(st, 1) == SQLITE_INTEGER && sqlite3_column_bytes(st, 2) == 32) {
            x->cached.valid = 1;
            x->cached.seq = (uint64_t)sqlite3_column_int64(st, 1);
            memcpy(x->cached.hash, sqlite3_column_blob(st, 2), 32);
            x->cached.segment = (uint64_t)sqlite3_column_int64(st, 3);
        }
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    *out = v;
    *n = count;
    if (rc != SQLITE_DONE)
        return rc == SQLITE_NOMEM ? th_error_set(err, TH_ENOMEM, "out of memory")
                                  : db_error(db, rc, err, "listing chains");
    for (x = v; x < v + count; x++) /* after the array stopped moving */
        walk_init(&x->w, db, comps, x->name, res, &x->cached, &x->want);
    return TH_OK;
}

/* Chains none of whose events are stored, but which had events accepted
 * (lost records, chain.pending). */
static int unstored_elsewhere(sqlite3 *db, chain_state *states, size_t n,
                              const chain_pending_record *pend, int alive,
                              th_chain_verify_result *res, th_error *err)
{
    char name[TH_CHAIN_MAX_ACTOR_BYTES + 1];
    sqlite3_stmt *st = NULL;
    const char *k, *colon;
    chain_state key;
    size_t i;
    int rc = TH_OK, src;

    for (i = 0; pend != NULL && i < pend->count && rc == TH_OK; i++) {
        key.name = pend->items[i].actor;
        if (bsearch(&key, states, n, sizeof key, cmp_state) == NULL)
            rc = check_unstored(db, pend->items[i].actor, 0, pend, alive, res, err);
    }
    if (rc != TH_OK)
        return rc;
    src = sqlite3_prepare_v2(db, "SELECT key FROM chain_meta WHERE substr(key, 1, 5) = 'lost:'", -1,
                             &st, NULL);
    while (src == SQLITE_OK && rc == TH_OK && sqlite3_step(st) == SQLITE_ROW) {
        k = (const char *)sqlite3_column_text(st, 0);
        if (k == NULL || (colon = strrchr(k + 5, ':')) == NULL ||
            (size_t)(colon - k - 5) > TH_CHAIN_MAX_ACTOR_BYTES)
            continue;
        snprintf(name, sizeof name, "%.*s", (int)(colon - k - 5), k + 5);
        key.name = name;
        if (bsearch(&key, states, n, sizeof key, cmp_state) == NULL)
            rc = chain_lost_check(db, name, 0, res, err);
    }
    sqlite3_finalize(st);
    return rc;
}

/* ---- the hash pool (see the top of the file) ----
 *
 * A round hashes one segment's events.  Its events are cut into chunks
 * that the calling thread and the helpers claim from an atomic counter,
 * so the caller never waits for a helper that has not started (on a busy
 * machine a helper may not run for a while): it hashes whatever is left
 * itself, and waits only for chunks a helper has claimed.  A helper joins
 * a round under the lock (`active`), and the next round starts only once
 * no helper is in the previous one. */

#define VERIFY_HELPERS 3        /* helper threads at most (one per other core) */
#define VERIFY_PARALLEL_MIN 256 /* events in a segment worth sharing out */
#define VERIFY_CHUNK 64u        /* events per claim */
#define VERIFY_PARTS 8u         /* v4: parts of a segment's chains, one per claim (segment.c) */

typedef struct hash_pool {
    pthread_mutex_t lock;
    pthread_cond_t go, done;
    pthread_t threads[VERIFY_HELPERS];
    unsigned nthreads;
    unsigned active; /* helpers inside the current round */
    uint64_t round;  /* incremented for each round shared out */
    int stop;
    /* the round's work: hashes[i] of events[i] (ok[i] = 1) for i < n; or,
     * with `seg` (a v4 segment decoded with defer_hash), part i of n of its
     * events (chain_segment_hash_part) */
    chain_segment *seg;
    const th_chain_event *events;
    size_t n;
    uint8_t (*hashes)[32];
    uint8_t *ok;
    atomic_size_t next;   /* next chunk to claim */
    atomic_size_t hashed; /* events hashed so far */
} hash_pool;

/* Claim and hash chunks of the round until none is left. */
static void hash_chunks(hash_pool *p, base_sha256_ctx *ctx)
{
    size_t chunk = p->seg != NULL ? 1 : VERIFY_CHUNK;
    size_t nchunks = (p->n + chunk - 1) / chunk, k, i, to;

    while ((k = atomic_fetch_add(&p->next, 1)) < nchunks) {
        to = (k + 1) * chunk < p->n ? (k + 1) * chunk : p->n;
        for (i = k * chunk; i < to; i++)
            if (p->seg != NULL)
                chain_segment_hash_part(p->seg, i, p->n, ctx);
            else
                p->ok[i] = ctx != NULL && event_hash(ctx, &p->events[i], p->hashes[i]) == 0;
        if (atomic_fetch_add(&p->hashed, to - k * chunk) + (to - k * chunk) ==
            p->n) { /* the last chunk: tell the caller */
            pthread_mutex_lock(&p->lock);
            pthread_cond_broadcast(&p->done);
            pthread_mutex_unlock(&p->lock);
        }
    }
}

static void *hash_helper_main(void *arg)
{
    hash_pool *p = arg;
    base_sha256_ctx *ctx = chain_thread_sha256();
    uint64_t seen = 0;

    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->stop && p->round == seen)
            pthread_cond_wait(&p->go, &p->lock);
        if (p->stop)
            break;
        seen = p->round;
        p->active++;
        pthread_mutex_unlock(&p->lock);
        hash_chunks(p, ctx);
        pthread_mutex_lock(&p->lock);
        if (--p->active == 0)
            pthread_cond_broadcast(&p->done);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

/* Start helpers, one per other online core (none if threads cannot be
 * started: the caller then hashes alone). */
static void pool_start(hash_pool *p)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned want = ncpu > 1 ? (unsigned)(ncpu - 1) : 0, i;

    memset(p, 0, sizeof *p);
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->go, NULL);
    pthread_cond_init(&p->done, NULL);
    atomic_init(&p->next, 0);
    atomic_init(&p->hashed, 0);
    if (want > VERIFY_HELPERS)
        want = VERIFY_HELPERS;
    for (i = 0; i < want; i++) {
        if (pthread_create(&p->threads[i], NULL, hash_helper_main, p) != 0)
            break;
        p->nthreads++;
    }
}

static void pool_stop(hash_pool *p)
{
    unsigned i;

    pthread_mutex_lock(&p->lock);
    p->stop = 1;
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->lock);
    for (i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->go);
    pthread_cond_destroy(&p->done);
}

/* Start hashing the n events into hashes/ok (each at least n long): when n
 * is large enough, the helpers start on it at once and the caller may do
 * other work of the segment before pool_hash_finish, where it joins them.
 * Returns 1 if the round was shared out, 0 if pool_hash_finish hashes
 * alone. */
static int pool_hash_start(hash_pool *p, chain_segment *seg, const th_chain_event *events, size_t n,
                           uint8_t (*hashes)[32], uint8_t *ok)
{
    if (n < VERIFY_PARALLEL_MIN || p->nthreads == 0 || (seg != NULL && seg->nactors < 2))
        return 0;
    pthread_mutex_lock(&p->lock);
    while (p->active > 0) /* a late helper still in the previous round */
        pthread_cond_wait(&p->done, &p->lock);
    p->seg = seg;
    p->events = events;
    p->n = seg != NULL ? (seg->nactors < VERIFY_PARTS ? seg->nactors : VERIFY_PARTS) : n;
    p->hashes = hashes;
    p->ok = ok;
    atomic_store(&p->next, 0);
    atomic_store(&p->hashed, 0);
    p->round++;
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->lock);
    return 1;
}

/* Finish the hashing begun by pool_hash_start (`shared`: what it returned):
 * claim what is left, then wait for the chunks the helpers claimed. */
static void pool_hash_finish(hash_pool *p, int shared, base_sha256_ctx *ctx, chain_segment *seg,
                             const th_chain_event *events, size_t n, uint8_t (*hashes)[32],
                             uint8_t *ok)
{
    size_t i;

    if (!shared) {
        /* Alone, without touching the pool: a helper that wakes late for
         * an earlier round must find nothing of this one to claim. */
        if (seg != NULL)
            chain_segment_hash_part(seg, 0, 1, ctx);
        else
            for (i = 0; i < n; i++)
                ok[i] = ctx != NULL && event_hash(ctx, &events[i], hashes[i]) == 0;
        return;
    }
    hash_chunks(p, ctx);
    pthread_mutex_lock(&p->lock);
    while (atomic_load(&p->hashed) < p->n)
        pthread_cond_wait(&p->done, &p->lock);
    pthread_mutex_unlock(&p->lock);
}

static int verify_all(sqlite3 *db, const uint8_t *trusted, const chain_pending_record *pend,
                      int alive, th_chain_verify_result *res, th_error *err)
{
    base_sha256_ctx *ctx = chain_thread_sha256();
    chain_state *states = NULL, key, **map = NULL, **nm;
    chain_comp_seen comps = {0};
    sqlite3_stmt *st = NULL;
    size_t nstates = 0, i, mapcap = 0, hcap = 0;
    uint8_t(*hashes)[32] = NULL, *ok = NULL;
    chain_segment seg = {.defer_hash = true}; /* a view of each row in turn, its arrays
                                                 reused; v4 hashed below */
    deferred d = {0};
    uint64_t expect = 1, id, upto = 0;
    hash_pool pool;
    int rc, shared;

    if (ctx == NULL)
        return th_error_set(err, TH_ENOMEM, "out of memory");
    pool_start(&pool);
    if ((rc = load_states(db, &comps, res, &states, &nstates, err)) != TH_OK ||
        (rc = chain_indexed_upto(db, &upto, err)) != TH_OK)
        goto out;
    rc = sqlite3_prepare_v2(db,
                            "SELECT signed_ms, public_key, signature, events, id FROM"
                            " chain_segment ORDER BY id",
                            -1, &st, NULL);
    while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        id = (uint64_t)sqlite3_column_int64(st, 4);
        if (id != expect)
            defer(&d, TH_CHAIN_MISSING_EVENT, "?", 0, "segment %llu is missing (events were lost)",
                  (unsigned long long)expect);
        expect = id + 1;
        if ((rc = chain_segment_view_row(st, id, &seg, err)) == TH_ENOMEM)
            goto out; /* no verdict on the chain */
        if (rc != TH_OK) {
            rc = chain_report(res, err, TH_CHAIN_MALFORMED, "?", 0, "%s", err->msg);
            goto out;
        }
        if (seg.nactors > mapcap) {
            nm = realloc(map, seg.nactors * sizeof *nm);
            if (nm == NULL) {
                rc = th_error_set(err, TH_ENOMEM, "out of memory");
                goto out;
            }
            map = nm;
            mapcap = seg.nactors;
        }
        for (i = 0; i < seg.nactors; i++) {
            key.name = (char *)seg.actors[i];
            map[i] = bsearch(&key, states, nstates, sizeof key, cmp_state);
            if (map[i] == NULL) {
                rc = chain_report(res, err, TH_CHAIN_MALFORMED, seg.actors[i], 0,
                                  "segment %llu holds events of a chain with no chain_actor row",
                                  (unsigned long long)id);
                goto out;
            }
        }
        if (seg.nevents > hcap) {
            void *nh = realloc(hashes, seg.nevents * sizeof *hashes);
            if (nh != NULL)
                hashes = nh;
            void *nk = nh != NULL ? realloc(ok, seg.nevents) : NULL;
            if (nk == NULL) {
                rc = th_error_set(err, TH_ENOMEM, "out of memory");
                goto out;
            }
            ok = nk;
            hcap = seg.nevents;
        }
        /* The segment's signature (its Merkle tree over the chains' heads
         * and an Ed25519 check) needs none of the recomputed hashes: it is
         * checked while the helpers hash.  It only defers a problem, which
         * a problem found in the events' walk below takes precedence over,
         * as when it ran after the walk. */
        if (seg.version >= 4) {
            /* hashed here (the decoder left it): each chain's events in
             * order, the chains on every core; the signature needs the
             * heads' hashes, so it comes after */
            shared = pool_hash_start(&pool, &seg, seg.events, seg.nevents, NULL, NULL);
            pool_hash_finish(&pool, shared, ctx, &seg, seg.events, seg.nevents, NULL, NULL);
            check_segment(db, ctx, &seg, trusted, NULL, &d);
        } else {
            shared = pool_hash_start(&pool, NULL, seg.events, seg.nevents, hashes, ok);
            check_segment(db, ctx, &seg, trusted, NULL, &d);
            pool_hash_finish(&pool, shared, ctx, NULL, seg.events, seg.nevents, hashes, ok);
        }
        for (i = 0; i < seg.nevents && id <= upto; i++)
            if (note_indexed(map[seg.actor_of[i]], id, seg.events[i].seq) != 0) {
                rc = th_error_set(err, TH_ENOMEM, "out of memory");
                goto out;
            }
        for (i = 0; i < seg.nevents && rc == TH_OK; i++)
            rc = walk_checked(&map[seg.actor_of[i]]->w, &seg.events[i],
                              seg.version >= 4 ? hash_state(&seg, i)
                              : !ok[i]         ? -1
                                               : memcmp(hashes[i], seg.events[i].hash, 32) == 0,
                              err);
        if (rc != TH_OK)
            goto out;
    }
    if (rc != SQLITE_DONE) {
        rc = db_error(db, rc, err, "reading segments");
        goto out;
    }
    rc = TH_OK;
    for (i = 0; i < nstates && rc == TH_OK; i++)
        rc = finish_db(&states[i].w, &states[i].cached, err);
    if (rc == TH_OK)
        rc = report_deferred(res, err, &d);
    for (i = 0; i < nstates && rc == TH_OK; i++)
        rc = check_index(db, &states[i], upto, res, err);
    for (i = 0; i < nstates && rc == TH_OK; i++)
        rc = check_unstored(db, states[i].name, states[i].w.next_seq, pend, alive, res, err);
    if (rc == TH_OK)
        rc = unstored_elsewhere(db, states, nstates, pend, alive, res, err);
out:
    chain_segment_release(&seg);
    pool_stop(&pool);
    sqlite3_finalize(st);
    for (i = 0; i < nstates; i++) {
        free(states[i].name);
        free(states[i].segs);
    }
    free(states);
    free(map);
    free(comps.hash);
    free(hashes);
    free(ok);
    return rc;
}

/* A home without a key file of its own (a copied database, say) checks the
 * signatures against the key the database names, which whoever wrote the
 * file chose: the chains verify only if this home trusts that key
 * (trusted_keys), as an exported file's signer. */
static int check_db_key_trusted(th_chain *c, const uint8_t key[32], th_chain_verify_result *res,
                                th_error *err)
{
    th_chain_trust trust = {0};
    char fp[TH_CHAIN_FINGERPRINT_SIZE], hex[65];
    int rc, found;

    if ((rc = th_chain_trust_load(chain_home(c), &trust, err)) != TH_OK)
        return rc;
    found = th_chain_trust_find(&trust, key) >= 0;
    th_chain_trust_free(&trust);
    res->has_signer = true;
    memcpy(res->signer, key, 32);
    res->signer_trusted = found;
    if (found)
        return TH_OK;
    th_chain_key_fingerprint(key, fp);
    res->problem = TH_CHAIN_UNTRUSTED;
    snprintf(res->detail, sizeof res->detail,
             "signed by %s (%s), which this home does not trust: it has no chain.key of its own "
             "and trusted_keys does not list that key (theater chain trust add KEY)",
             fp, base_hex_encode(key, 32, hex));
    return th_error_set(err, TH_ECORRUPT, "%s", res->detail);
}

int th_chain_verify(th_chain *c, const char *actor, th_chain_verify_result *res, th_error *err)
{
    uint8_t trusted[32];
    bool from_db = false;
    const uint8_t *tk = chain_trusted_key(c, trusted, &from_db) == 0 ? trusted : NULL;
    chain_pending_record pend;
    sqlite3 *db;
    int rc, alive = 0, have_pend = 0;

    memset(res, 0, sizeof *res);
    /* another process's writer may hold events it cannot store (or its
     * process ended with them): chain.pending says which */
    if (chain_is_read_only(c) && chain_pending_read(chain_home(c), &pend, &alive, NULL) == TH_OK)
        have_pend = 1;
    db = chain_reader_lock(c);
    /* One read transaction, so the writer's commits do not shift the view. */
    rc = sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        rc = db_error(db, rc, err, "starting verification");
    } else {
        rc = actor == NULL ? verify_all(db, tk, have_pend ? &pend : NULL, alive, res, err)
                           : verify_one(db, actor, tk, have_pend ? &pend : NULL, alive, res, err);
        sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    }
    chain_reader_unlock(c);
    if (have_pend)
        chain_pending_release(&pend);
    if (rc == TH_OK && tk != NULL && from_db)
        rc = check_db_key_trusted(c, tk, res, err);
    return rc;
}
