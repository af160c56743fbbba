/*
 * chain_tamper.c - tamper test of the event chains: build a home with three
 * chains over several batches, then, each time on a fresh copy, change an
 * event's data, type, timestamp, description or parent inside its stored
 * segment, delete an event, roll a chain's head back (with and without
 * fixing up the cached head), re-sign rewritten history with another key,
 * delete a whole segment, and damage a segment's bytes.  Verification must
 * name the exact actor, event and kind of damage each time.
 *
 * Segments are re-encoded here from the format documented in
 * src/chain/segment.c, independently of the writer's encoder.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <sqlite3.h>

#include "base/sha256.h"
#include "chain/chain_int.h"
#include "theater/chain.h"

static int failures;

#define CHECK(cond, ...) \
    do { \
        if (!(cond)) { \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
            fprintf(stderr, __VA_ARGS__); \
            fputc('\n', stderr); \
            failures++; \
        } \
    } while (0)

static void sh(const char *cmd)
{
    if (system(cmd) != 0) {
        fprintf(stderr, "command failed: %s\n", cmd);
        exit(1);
    }
}

/* ---- an independent segment encoder ---- */

static uint8_t *w32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8),
    p[3] = (uint8_t)v;
    return p + 4;
}

static uint8_t *w64(uint8_t *p, uint64_t v)
{
    return w32(w32(p, (uint32_t)(v >> 32)), (uint32_t)v);
}

static uint8_t *wstr(uint8_t *p, const char *s)
{
    size_t n = strlen(s);

    p = w32(p, (uint32_t)n);
    memcpy(p, s, n + 1);
    return p + n + 1;
}

/* Encode seg (events whose seq is UINT64_MAX are dropped); returns size. */
static size_t encode(const chain_segment *seg, uint8_t *out)
{
    uint8_t *p = out;
    uint32_t i, n = 0;
    const th_chain_event *ev;

    memcpy(p, "THSEG-v1", 8);
    p = w32(p + 8, (uint32_t)seg->nactors);
    for (i = 0; i < seg->nactors; i++)
        p = wstr(p, seg->actors[i]);
    for (i = 0; i < seg->nevents; i++)
        n += seg->events[i].seq != UINT64_MAX;
    p = w32(p, n);
    for (i = 0; i < seg->nevents; i++) {
        ev = &seg->events[i];
        if (ev->seq == UINT64_MAX)
            continue;
        p = w32(p, seg->actor_of[i]);
        p = w64(p, ev->seq);
        p = w64(p, ev->timestamp_ms);
        memcpy(p, ev->hash, 32);
        p += 32;
        *p++ = (uint8_t)ev->has_parent;
        if (ev->has_parent) {
            memcpy(p, ev->parent, 32);
            p += 32;
        }
        p = wstr(p, ev->type);
        p = w64(p, ev->data_len);
        memcpy(p, ev->data, ev->data_len);
        p += ev->data_len;
        *p++ = ev->description != NULL;
        if (ev->description != NULL)
            p = wstr(p, ev->description);
    }
    return (size_t)(p - out);
}

static sqlite3 *db_open(const char *home)
{
    char path[600];
    sqlite3 *db;

    snprintf(path, sizeof path, "%s/theater.db", home);
    if (sqlite3_open(path, &db) != SQLITE_OK) {
        fprintf(stderr, "cannot open %s\n", path);
        exit(1);
    }
    return db;
}

static void exec_sql(sqlite3 *db, const char *sql)
{
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) {
        fprintf(stderr, "sql failed: %s: %s\n", sql, sqlite3_errmsg(db));
        exit(1);
    }
}

static void store_segment(sqlite3 *db, const chain_segment *seg)
{
    uint8_t *buf = malloc(seg->blob_len + 4096);
    sqlite3_stmt *st;
    size_t n = encode(seg, buf);

    sqlite3_prepare_v2(db,
                       "UPDATE chain_segment SET events = ?, signature = ?, public_key = ?"
                       " WHERE id = ?",
                       -1, &st, NULL);
    sqlite3_bind_blob(st, 1, buf, (int)n, SQLITE_TRANSIENT);
    sqlite3_bind_blob(st, 2, seg->signature, 64, SQLITE_TRANSIENT);
    sqlite3_bind_blob(st, 3, seg->public_key, 32, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)seg->id);
    if (sqlite3_step(st) != SQLITE_DONE) {
        fprintf(stderr, "update failed: %s\n", sqlite3_errmsg(db));
        exit(1);
    }
    sqlite3_finalize(st);
    free(buf);
}

/* Find the segment and index holding actor/seq. */
static int find_event(sqlite3 *db, const char *actor, uint64_t seq, chain_segment *seg)
{
    uint64_t id;
    size_t i;

    for (id = 1;; id++) {
        if (chain_segment_load(db, id, seg, NULL) != TH_OK)
            break;
        for (i = 0; i < seg->nevents; i++)
            if (seg->events[i].seq == seq && strcmp(seg->events[i].actor, actor) == 0)
                return (int)i;
        chain_segment_release(seg);
    }
    fprintf(stderr, "event %s/%llu not found\n", actor, (unsigned long long)seq);
    exit(1);
}

/* ---- the scenario ---- */

#define PER_ROUND 10
#define ROUNDS 3
static const char *actors[] = {"alice", "bob", "carol"};

static void build_home(const char *home)
{
    th_chain_config cfg = {0};
    th_chain *c;
    th_error err;
    char data[64];
    int r, i, a;

    cfg.home = home;
    cfg.sync_normal = 1;
    if (th_chain_open(&cfg, &c, &err) != TH_OK) {
        fprintf(stderr, "open: %s\n", err.msg);
        exit(1);
    }
    for (r = 0; r < ROUNDS; r++) {
        for (i = 0; i < PER_ROUND; i++)
            for (a = 0; a < 3; a++) {
                snprintf(data, sizeof data, "%s says %d", actors[a], r * PER_ROUND + i);
                if (th_chain_append(c, actors[a], i % 3 ? "message" : "call", data, strlen(data),
                                    i == 4 ? "with a description" : NULL, NULL, &err) != TH_OK) {
                    fprintf(stderr, "append: %s\n", err.msg);
                    exit(1);
                }
            }
        th_chain_flush(c, -1, &err); /* one segment (or more) per round */
    }
    th_chain_close(c);
}

static void expect(const char *home, const char *actor, int problem, const char *who, uint64_t seq,
                   const char *what)
{
    th_chain_config cfg = {0};
    th_chain_verify_result res;
    th_chain *c;
    th_error err;
    int rc;

    cfg.home = home;
    cfg.read_only = 1;
    if (th_chain_open(&cfg, &c, &err) != TH_OK) {
        CHECK(0, "%s: open: %s", what, err.msg);
        return;
    }
    rc = th_chain_verify(c, actor, &res, &err);
    if (problem == TH_CHAIN_OK) {
        CHECK(rc == TH_OK, "%s: verify(%s) should pass: %s", what, actor ? actor : "all", err.msg);
    } else {
        CHECK(rc == TH_ECORRUPT, "%s: verify(%s) returned %d, want TH_ECORRUPT (%s)", what,
              actor ? actor : "all", rc, rc ? err.msg : "passed");
        CHECK(res.problem == problem, "%s: problem '%s', want '%s' (%s)", what,
              th_chain_problem_name(res.problem), th_chain_problem_name(problem), res.detail);
        CHECK(strcmp(res.actor, who) == 0 && res.seq == seq, "%s: named %s/%llu, want %s/%llu",
              what, res.actor, (unsigned long long)res.seq, who, (unsigned long long)seq);
        printf("  %-34s -> %s\n", what, err.msg);
    }
    th_chain_close(c);
}

/* A fresh copy of the pristine home. */
static void fresh(const char *pristine, const char *work)
{
    char cmd[1000];

    snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -r '%s' '%s'", work, pristine, work);
    sh(cmd);
}

static void recompute(base_sha256_ctx *ctx, th_chain_event *ev)
{
    chain_event_hash(ctx, ev->has_parent ? ev->parent : NULL, ev->timestamp_ms, ev->type,
                     strlen(ev->type), ev->data, ev->data_len, ev->description,
                     ev->description ? strlen(ev->description) : 0, ev->hash);
}

/* Rewrite bob's history from seq 15 on with new data, fix every later hash
 * and parent and the cached head, and re-sign the segments with `key`. */
static void rewrite_history(sqlite3 *db, EVP_PKEY *key)
{
    base_sha256_ctx *ctx = base_sha256_new();
    uint8_t prev[32], msg[CHAIN_BATCH_MSG_LEN], root[32], *leaves;
    static const char forged[] = "bob never said that";
    chain_segment seg;
    sqlite3_stmt *st;
    uint64_t id, seq = 15;
    size_t i, a;
    int idx, touched;

    idx = find_event(db, "bob", 14, &seg);
    memcpy(prev, seg.events[idx].hash, 32);
    chain_segment_release(&seg);
    for (id = 1; chain_segment_load(db, id, &seg, NULL) == TH_OK; id++) {
        touched = 0;
        for (i = 0; i < seg.nevents; i++) {
            th_chain_event *ev = &seg.events[i];
            if (strcmp(ev->actor, "bob") != 0 || ev->seq < seq)
                continue;
            if (ev->seq == 15) {
                ev->data = (const uint8_t *)forged;
                ev->data_len = strlen(forged);
            }
            memcpy(ev->parent, prev, 32);
            recompute(ctx, ev);
            memcpy(prev, ev->hash, 32);
            touched = 1;
        }
        if (touched) {
            leaves = malloc(seg.nactors * 32);
            for (a = 0; a < seg.nactors; a++) {
                th_chain_event *ev = &seg.events[seg.last_event[a] - 1];
                chain_head_leaf(ctx, seg.actors[a], strlen(seg.actors[a]), ev->seq, ev->hash,
                                leaves + 32 * a);
            }
            chain_merkle_build(ctx, (const uint8_t(*)[32])leaves, seg.nactors, root, NULL, NULL);
            chain_batch_message(seg.id, seg.signed_ms, seg.nactors, root, msg);
            chain_key_sign(key, msg, sizeof msg, seg.signature);
            chain_key_public(key, seg.public_key);
            store_segment(db, &seg);
            sqlite3_prepare_v2(db, "UPDATE chain_segment SET leaves = ? WHERE id = ?", -1, &st,
                               NULL);
            sqlite3_bind_blob(st, 1, leaves, (int)(seg.nactors * 32), SQLITE_TRANSIENT);
            sqlite3_bind_int64(st, 2, (sqlite3_int64)seg.id);
            sqlite3_step(st);
            sqlite3_finalize(st);
            free(leaves);
        }
        chain_segment_release(&seg);
    }
    sqlite3_prepare_v2(db, "UPDATE chain_actor SET head_hash = ? WHERE name = 'bob'", -1, &st,
                       NULL);
    sqlite3_bind_blob(st, 1, prev, 32, SQLITE_TRANSIENT);
    sqlite3_step(st);
    sqlite3_finalize(st);
    base_sha256_free(ctx);
}

int main(void)
{
    char base[] = "/tmp/theater-tamper-XXXXXX", pristine[300], work[300];
    static const char other_data[] = "changed!";
    chain_segment seg;
    EVP_PKEY *key = NULL;
    EVP_PKEY_CTX *kctx;
    sqlite3 *db;
    int i;

    if (mkdtemp(base) == NULL)
        return 1;
    snprintf(pristine, sizeof pristine, "%s/pristine", base);
    snprintf(work, sizeof work, "%s/work", base);
    build_home(pristine);
    printf("chain_tamper: 3 chains x %d events in %s\n", PER_ROUND * ROUNDS, pristine);
    expect(pristine, NULL, TH_CHAIN_OK, "", 0, "untouched");

    /* Data, type, timestamp, description, parent of bob/15. */
    for (i = 0; i < 5; i++) {
        static const char *what[] = {"changed data", "changed type", "changed timestamp",
                                     "added description", "changed parent"};
        fresh(pristine, work);
        db = db_open(work);
        int k = find_event(db, "bob", 15, &seg);
        th_chain_event *ev = &seg.events[k];
        if (i == 0) {
            ev->data = (const uint8_t *)other_data;
            ev->data_len = strlen(other_data);
        } else if (i == 1) {
            ev->type = "admin";
        } else if (i == 2) {
            ev->timestamp_ms += 1;
        } else if (i == 3) {
            ev->description = "inserted later";
        } else {
            ev->parent[7] ^= 1;
        }
        store_segment(db, &seg);
        chain_segment_release(&seg);
        sqlite3_close(db);
        expect(work, NULL, i == 4 ? TH_CHAIN_BAD_PARENT : TH_CHAIN_BAD_HASH, "bob", 15, what[i]);
        expect(work, "bob", i == 4 ? TH_CHAIN_BAD_PARENT : TH_CHAIN_BAD_HASH, "bob", 15, what[i]);
        expect(work, "alice", TH_CHAIN_OK, "", 0, "other chains still verify");
    }

    /* Delete bob/15. */
    fresh(pristine, work);
    db = db_open(work);
    i = find_event(db, "bob", 15, &seg);
    seg.events[i].seq = UINT64_MAX;
    store_segment(db, &seg);
    chain_segment_release(&seg);
    sqlite3_close(db);
    expect(work, NULL, TH_CHAIN_MISSING_EVENT, "bob", 15, "deleted event");
    expect(work, "bob", TH_CHAIN_MISSING_EVENT, "bob", 15, "deleted event (one chain)");

    /* Roll bob back by one event (the head cache still names 29). */
    fresh(pristine, work);
    db = db_open(work);
    i = find_event(db, "bob", 29, &seg);
    seg.events[i].seq = UINT64_MAX;
    store_segment(db, &seg);
    chain_segment_release(&seg);
    sqlite3_close(db);
    expect(work, NULL, TH_CHAIN_MISSING_EVENT, "bob", 29, "rolled back head");
    expect(work, "bob", TH_CHAIN_MISSING_EVENT, "bob", 29, "rolled back head (one chain)");

    /* The same, with the cached head moved back to 28 as well: the segment's
     * signature no longer matches bob's head. */
    fresh(pristine, work);
    db = db_open(work);
    i = find_event(db, "bob", 28, &seg);
    {
        sqlite3_stmt *st;
        sqlite3_prepare_v2(db,
                           "UPDATE chain_actor SET head_seq = 28, head_hash = ? WHERE name = 'bob'",
                           -1, &st, NULL);
        sqlite3_bind_blob(st, 1, seg.events[i].hash, 32, SQLITE_TRANSIENT);
        sqlite3_step(st);
        sqlite3_finalize(st);
    }
    chain_segment_release(&seg);
    i = find_event(db, "bob", 29, &seg);
    seg.events[i].seq = UINT64_MAX;
    store_segment(db, &seg);
    chain_segment_release(&seg);
    sqlite3_close(db);
    expect(work, NULL, TH_CHAIN_BAD_SIGNATURE, "bob", 28, "rolled back head and cache");
    expect(work, "bob", TH_CHAIN_BAD_SIGNATURE, "bob", 28, "rolled back head and cache (bob)");

    /* History rewritten consistently and re-signed with another key. */
    fresh(pristine, work);
    kctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
    EVP_PKEY_keygen_init(kctx);
    EVP_PKEY_keygen(kctx, &key);
    EVP_PKEY_CTX_free(kctx);
    db = db_open(work);
    rewrite_history(db, key);
    sqlite3_close(db);
    expect(work, "bob", TH_CHAIN_WRONG_KEY, "bob", 19, "re-signed with another key");
    /* ... and with that key planted as this home's key too: the first key
     * recorded in the database no longer matches (key file removed). */
    {
        char cmd[400];
        snprintf(cmd, sizeof cmd, "rm -f '%s/chain.key'", work);
        sh(cmd);
    }
    expect(work, "bob", TH_CHAIN_WRONG_KEY, "bob", 19, "re-signed, key file gone");
    EVP_PKEY_free(key);

    /* The database alone, without the home's key file: the signatures are
     * checked against the key the database names, which the file's writer
     * chose, so the chains verify only once that key is trusted. */
    {
        th_chain_config cfg = {0};
        uint8_t own[32];
        th_chain *c;
        th_error err;
        char cmd[400];

        cfg.home = pristine;
        cfg.read_only = 1;
        CHECK(th_chain_open(&cfg, &c, &err) == TH_OK && th_chain_public_key(c, own, &err) == TH_OK,
              "the pristine home's key: %s", err.msg);
        th_chain_close(c);
        fresh(pristine, work);
        snprintf(cmd, sizeof cmd, "rm -f '%s/chain.key'", work);
        sh(cmd);
        expect(work, NULL, TH_CHAIN_UNTRUSTED, "", 0, "no key file, key not trusted");
        CHECK(th_chain_trust_add(work, own, "the writer's key", &err) == TH_OK, "trust add: %s",
              err.msg);
        expect(work, NULL, TH_CHAIN_OK, "", 0, "no key file, the writer's key trusted");
    }

    /* A whole segment deleted (the last one). */
    fresh(pristine, work);
    db = db_open(work);
    exec_sql(db, "DELETE FROM chain_segment WHERE id = (SELECT max(id) FROM chain_segment)");
    sqlite3_close(db);
    expect(work, NULL, TH_CHAIN_MISSING_EVENT, "alice", 20, "deleted last segment");

    /* A segment's bytes damaged. */
    fresh(pristine, work);
    db = db_open(work);
    exec_sql(db, "UPDATE chain_segment SET events = substr(events, 1, 100) WHERE id = 2");
    sqlite3_close(db);
    expect(work, NULL, TH_CHAIN_MALFORMED, "?", 0, "truncated segment");

    snprintf(work, sizeof work, "rm -rf '%s'", base);
    sh(work);
    if (failures) {
        fprintf(stderr, "chain_tamper: %d failure(s)\n", failures);
        return 1;
    }
    printf("chain_tamper: every tampering was detected and named\n");
    return 0;
}
