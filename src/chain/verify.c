/*
 * verify.c - verification of event chains: recompute every event's hash,
 * check every parent link and sequence number, then check the chain's
 * signed head (its Merkle path and Ed25519 signature, the key that signed
 * it, and that it names the chain's last event).  The first problem is
 * reported with the actor, the sequence number and what is wrong.
 *
 * Checking all chains is one pass over chain_event in (actor, seq) order
 * merged with one pass over chain_actor in id order, so events of a chain
 * that has no chain_actor row are found too.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hex.h"
#include "chain/chain_int.h"
#include "store/store_int.h"

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

int chain_walk_event(chain_walk *w, base_sha256_ctx *ctx, const th_chain_event *ev, th_error *err)
{
    uint8_t h[32];

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
    if (chain_event_hash(ctx, ev->has_parent ? ev->parent : NULL, ev->timestamp_ms, ev->type,
                         strlen(ev->type), ev->data, ev->data_len, ev->description,
                         ev->description ? strlen(ev->description) : 0, h) != 0)
        return chain_report(w->res, err, TH_CHAIN_MALFORMED, w->actor, ev->seq,
                            "the event cannot be hashed (type too long?)");
    if (memcmp(h, ev->hash, 32) != 0)
        return chain_report(w->res, err, TH_CHAIN_BAD_HASH, w->actor, ev->seq,
                            "the stored hash does not match the event's contents "
                            "(type, timestamp, data, description or parent changed)");
    if (w->head != NULL && ev->seq == w->head->seq) {
        w->head_seen = 1;
        memcpy(w->head_event, ev->hash, 32);
    }
    memcpy(w->prev, ev->hash, 32);
    w->next_seq++;
    w->res->events++;
    return TH_OK;
}

/* 1 if the head's signature verifies (using and filling the cache). */
static int signature_ok(chain_walk *w, base_sha256_ctx *ctx, const chain_signed_head *h)
{
    uint8_t msg[CHAIN_BATCH_MSG_LEN];
    unsigned slot = ((unsigned)h->signature[0] | (unsigned)h->signature[1] << 8) % CHAIN_SIG_CACHE;
    chain_sig_cache *cc = w->cache;

    if (chain_head_message(ctx, w->actor, h, msg) != 0)
        return 0;
    if (cc != NULL && cc->used[slot] && memcmp(cc->sig[slot], h->signature, CHAIN_SIG_LEN) == 0 &&
        memcmp(cc->msg[slot], msg, sizeof msg) == 0 &&
        memcmp(cc->key[slot], h->public_key, CHAIN_PUBKEY_LEN) == 0)
        return 1;
    if (!chain_key_verify(h->public_key, msg, sizeof msg, h->signature))
        return 0;
    if (cc != NULL) {
        memcpy(cc->sig[slot], h->signature, CHAIN_SIG_LEN);
        memcpy(cc->msg[slot], msg, sizeof msg);
        memcpy(cc->key[slot], h->public_key, CHAIN_PUBKEY_LEN);
        cc->used[slot] = 1;
    }
    return 1;
}

int chain_walk_finish(chain_walk *w, base_sha256_ctx *ctx, const uint8_t *trusted, th_error *err)
{
    const chain_signed_head *h = w->head;
    char a[65], b[65];

    w->res->actors++;
    if (h == NULL)
        return chain_report(w->res, err, TH_CHAIN_UNSIGNED, w->actor, 0,
                            "the chain has no valid signed head");
    if (!signature_ok(w, ctx, h))
        return chain_report(w->res, err, TH_CHAIN_BAD_SIGNATURE, w->actor, h->seq,
                            "the signature of the head (event %llu) does not verify: the head "
                            "was rolled back, altered or forged",
                            (unsigned long long)h->seq);
    if (trusted != NULL && memcmp(trusted, h->public_key, CHAIN_PUBKEY_LEN) != 0)
        return chain_report(w->res, err, TH_CHAIN_WRONG_KEY, w->actor, h->seq,
                            "the head is signed by key %.16s..., not by this home's key %.16s...",
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

/* Verify one chain given its id and head. */
static int verify_one(sqlite3 *db, const char *actor, int64_t id, const chain_signed_head *h,
                      const uint8_t *trusted, chain_sig_cache *cache, th_chain_verify_result *res,
                      th_error *err)
{
    base_sha256_ctx *ctx = chain_thread_sha256();
    sqlite3_stmt *st = NULL;
    th_chain_event ev;
    chain_walk w;
    int rc;

    if (ctx == NULL)
        return th_error_set(err, TH_ENOMEM, "out of memory");
    memset(&w, 0, sizeof w);
    w.actor = actor;
    w.res = res;
    w.head = h;
    w.cache = cache;
    rc = sqlite3_prepare_v2(db, "SELECT " CHAIN_EVENT_COLUMNS " FROM chain_event WHERE actor = ?"
                                " ORDER BY seq", -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, 1, id);
    while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (chain_row_view(st, actor, &ev) != 0) {
            rc = chain_report(res, err, TH_CHAIN_MALFORMED, actor, ev.seq,
                              "a stored field has the wrong size or type");
            goto out;
        }
        if ((rc = chain_walk_event(&w, ctx, &ev, err)) != TH_OK)
            goto out;
        rc = SQLITE_OK;
    }
    if (rc != SQLITE_DONE) {
        rc = store_db_error(db, rc, err, "reading events");
        goto out;
    }
    rc = chain_walk_finish(&w, ctx, trusted, err);
out:
    sqlite3_finalize(st);
    return rc;
}

/* All chains: merge chain_actor (by id) with chain_event (by actor, seq). */
static int verify_all(sqlite3 *db, const uint8_t *trusted, chain_sig_cache *cache,
                      th_chain_verify_result *res, th_error *err)
{
    base_sha256_ctx *ctx = chain_thread_sha256();
    sqlite3_stmt *sa = NULL, *se = NULL;
    int rc, ra, re, have_head = 0;
    chain_signed_head head;
    th_chain_event ev;
    chain_walk w;
    char name[1025] = "";
    int64_t aid = 0, eid;

    if (ctx == NULL)
        return th_error_set(err, TH_ENOMEM, "out of memory");
    memset(&w, 0, sizeof w);
    rc = sqlite3_prepare_v2(db, "SELECT id, name, " CHAIN_HEAD_COLUMNS " FROM chain_actor ORDER BY id",
                            -1, &sa, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db, "SELECT " CHAIN_EVENT_COLUMNS " FROM chain_event"
                                    " ORDER BY actor, seq", -1, &se, NULL);
    if (rc != SQLITE_OK) {
        rc = store_db_error(db, rc, err, "verifying chains");
        goto out;
    }
    ra = SQLITE_DONE;
    re = sqlite3_step(se);
    for (;;) {
        /* Advance to the next chain when the current one has no more events. */
        if (w.actor == NULL || re != SQLITE_ROW || sqlite3_column_int64(se, 0) != aid) {
            if (w.actor != NULL && (rc = chain_walk_finish(&w, ctx, trusted, err)) != TH_OK)
                goto out;
            ra = sqlite3_step(sa);
            if (ra != SQLITE_ROW)
                break;
            aid = sqlite3_column_int64(sa, 0);
            snprintf(name, sizeof name, "%s", (const char *)sqlite3_column_text(sa, 1));
            have_head = chain_head_from_row(sa, 2, &head) == 0;
            memset(&w, 0, sizeof w);
            w.actor = name;
            w.res = res;
            w.head = have_head ? &head : NULL;
            w.cache = cache;
        }
        while (re == SQLITE_ROW && (eid = sqlite3_column_int64(se, 0)) <= aid) {
            if (eid < aid) {
                rc = chain_report(res, err, TH_CHAIN_MALFORMED, "?",
                                  (uint64_t)sqlite3_column_int64(se, 1),
                                  "events are stored for chain id %lld, which has no chain_actor row",
                                  (long long)eid);
                goto out;
            }
            if (chain_row_view(se, name, &ev) != 0) {
                rc = chain_report(res, err, TH_CHAIN_MALFORMED, name, ev.seq,
                                  "a stored field has the wrong size or type");
                goto out;
            }
            if ((rc = chain_walk_event(&w, ctx, &ev, err)) != TH_OK)
                goto out;
            re = sqlite3_step(se);
        }
        if (re != SQLITE_ROW && re != SQLITE_DONE)
            break;
    }
    if (re != SQLITE_ROW && re != SQLITE_DONE) {
        rc = store_db_error(db, re, err, "verifying chains");
        goto out;
    }
    if (ra != SQLITE_DONE) {
        rc = store_db_error(db, ra, err, "verifying chains");
        goto out;
    }
    if (re == SQLITE_ROW) {
        rc = chain_report(res, err, TH_CHAIN_MALFORMED, "?", (uint64_t)sqlite3_column_int64(se, 1),
                          "events are stored for chain id %lld, which has no chain_actor row",
                          (long long)sqlite3_column_int64(se, 0));
        goto out;
    }
    rc = TH_OK;
out:
    sqlite3_finalize(sa);
    sqlite3_finalize(se);
    return rc;
}

int th_chain_verify(th_chain *c, const char *actor, th_chain_verify_result *res, th_error *err)
{
    chain_sig_cache *cache = calloc(1, sizeof *cache);
    uint8_t trusted[32];
    const uint8_t *tk = chain_trusted_key(c, trusted) == 0 ? trusted : NULL;
    chain_signed_head h;
    sqlite3 *db;
    int64_t id;
    int rc, has;

    memset(res, 0, sizeof *res);
    if (cache == NULL)
        return th_error_set(err, TH_ENOMEM, "out of memory");
    db = chain_reader_lock(c);
    /* One read transaction, so the writer's commits do not shift the view. */
    rc = sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        rc = store_db_error(db, rc, err, "starting verification");
        goto out;
    }
    if (actor == NULL) {
        rc = verify_all(db, tk, cache, res, err);
    } else if ((rc = chain_load_head(db, actor, &id, &h, &has, err)) == TH_OK) {
        rc = verify_one(db, actor, id, has ? &h : NULL, tk, cache, res, err);
    }
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
out:
    chain_reader_unlock(c);
    free(cache);
    return rc;
}
