/*
 * test_chain_segment.c - the chain's storage layer: the segment decoder on
 * damaged input (every truncation and many byte flips of a real segment, and
 * random garbage, must be refused or decoded without reading out of
 * bounds), the v2 encoding (round trips through the writer and through
 * hand-built blobs, truncations, bad varints, implicit fields without a
 * predecessor) and v1 blobs still decoding, reads of events committed after
 * the last index flush (the
 * unindexed tail) from a second, read-only handle while the writer runs,
 * durability waits that time out, and refusal of a damaged database.
 */
#define _GNU_SOURCE /* memmem */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chain/chain_int.h"
#include "db/db.h"
#include "theater/chain.h"

static char home[64];

static int setup(void **state)
{
    (void)state;
    snprintf(home, sizeof home, "/tmp/theater-segment-test-XXXXXX");
    return mkdtemp(home) != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[128];

    (void)state;
    snprintf(cmd, sizeof cmd, "rm -rf %s", home);
    return system(cmd) == 0 ? 0 : -1;
}

static th_chain *open_chain(int read_only, unsigned flush_ms)
{
    th_chain_config cfg = {0};
    th_chain *c = NULL;
    th_error err;

    cfg.home = home;
    cfg.read_only = read_only;
    cfg.sync_normal = 1;
    cfg.index_flush_ms = flush_ms;
    if (th_chain_open(&cfg, &c, &err) != TH_OK)
        fail_msg("open: %s", err.msg);
    return c;
}

/* The raw bytes of segment 1. */
static uint8_t *segment_bytes(size_t *len)
{
    char path[128];
    sqlite3 *db;
    sqlite3_stmt *st;
    uint8_t *b;

    snprintf(path, sizeof path, "%s/theater.db", home);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_prepare_v2(db, "SELECT events FROM chain_segment WHERE id = 1", -1, &st, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    *len = (size_t)sqlite3_column_bytes(st, 0);
    b = malloc(*len);
    memcpy(b, sqlite3_column_blob(st, 0), *len);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return b;
}

/* Store `b` as the bytes of segment 1. */
static void set_segment_bytes(const uint8_t *b, size_t len)
{
    char path[128];
    sqlite3 *db;
    sqlite3_stmt *st;

    snprintf(path, sizeof path, "%s/theater.db", home);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_prepare_v2(db, "UPDATE chain_segment SET events = ? WHERE id = 1", -1, &st, NULL),
        SQLITE_OK);
    sqlite3_bind_blob(st, 1, b, (int)len, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static int decode_copy(const uint8_t *b, size_t len, chain_segment *seg)
{
    uint8_t *copy = malloc(len ? len : 1);
    int rc;

    memcpy(copy, b, len);
    memset(seg, 0, sizeof *seg);
    rc = chain_segment_decode(copy, len, seg);
    chain_segment_release(seg);
    return rc;
}

/* Every proper prefix of a valid blob is refused. */
static void assert_prefixes_refused(const uint8_t *b, size_t len)
{
    chain_segment seg;
    size_t i;

    for (i = 0; i < len; i++)
        assert_int_equal(decode_copy(b, i, &seg), -1);
}

static void test_decoder_refuses_damage(void **state)
{
    th_chain *c = open_chain(0, 0);
    chain_segment seg;
    th_error err;
    uint8_t *b, *m;
    size_t len, i;
    int k, ok = 0, refused = 0;

    (void)state;
    for (k = 0; k < 5; k++)
        assert_int_equal(th_chain_append(c, k % 2 ? "a" : "bb", "type", "data", 4,
                                         k == 3 ? "desc" : NULL, NULL, &err),
                         TH_OK);
    assert_int_equal(th_chain_close(c), TH_OK);
    b = segment_bytes(&len);
    assert_int_equal(decode_copy(b, len, &seg), 0);
    assert_memory_equal(b, "THSEG-v4", 8); /* the writer writes v4 */
    assert_prefixes_refused(b, len);
    /* One trailing byte too many is refused. */
    m = malloc(len + 1);
    memcpy(m, b, len);
    m[len] = 0;
    assert_int_equal(decode_copy(m, len + 1, &seg), -1);
    /* Every single-byte change either decodes or is refused, in bounds
     * (ASan checks the bounds). */
    for (i = 0; i < len; i++) {
        memcpy(m, b, len);
        m[i] ^= 0xa5;
        if (decode_copy(m, len, &seg) == 0)
            ok++;
        else
            refused++;
    }
    assert_true(refused > 0);
    /* Random garbage. */
    srand(7);
    for (k = 0; k < 2000; k++) {
        for (i = 0; i < len; i++)
            m[i] = (uint8_t)rand();
        if (k % 2)
            memcpy(m, k % 4 == 1 ? "THSEG-v1" : "THSEG-v2", 8);
        (void)decode_copy(m, (size_t)rand() % (len + 1), &seg);
    }
    printf("  %zu byte flips: %d still decode (changed contents), %d refused\n", len, ok, refused);
    free(m);
    free(b);
}

/* ---- hand-built blobs (an encoder independent of the writer's) ---- */

typedef struct blob {
    uint8_t b[4096];
    size_t n;
} blob;

static void b_bytes(blob *x, const void *p, size_t n)
{
    assert_true(x->n + n <= sizeof x->b);
    if (n == 0)
        return;
    memcpy(x->b + x->n, p, n);
    x->n += n;
}

static void b_byte(blob *x, uint8_t v)
{
    b_bytes(x, &v, 1);
}

static void b_var(blob *x, uint64_t v)
{
    do {
        b_byte(x, (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0)));
        v >>= 7;
    } while (v != 0);
}

static void b_be(blob *x, uint64_t v, int bytes)
{
    while (bytes-- > 0)
        b_byte(x, (uint8_t)(v >> (8 * bytes)));
}

static void b_str(blob *x, const char *s, int v2)
{
    size_t n = strlen(s);

    if (v2)
        b_var(x, n);
    else
        b_be(x, n, 4);
    b_bytes(x, s, n + 1);
}

typedef struct ev_spec {
    unsigned actor;
    uint64_t seq;
    uint64_t ts;
    uint8_t hash_fill; /* hash = 32 bytes of this */
    int has_parent;
    uint8_t parent_fill; /* parent = 32 bytes of this */
    const char *type;
    const char *data; /* may be "" */
    const char *desc; /* NULL = none */
} ev_spec;

/* The v2 encoding of the events: seq and parent implicit wherever they
 * follow the actor's previous event (as the writer does). */
static void build_v2(blob *x, const char **actors, size_t na, const ev_spec *ev, size_t ne)
{
    uint64_t base = UINT64_MAX, last_seq[8];
    uint8_t last_hash[8];
    int seen[8] = {0};
    uint8_t flags, h[32];
    size_t i;

    x->n = 0;
    b_bytes(x, "THSEG-v2", 8);
    b_var(x, na);
    for (i = 0; i < na; i++)
        b_str(x, actors[i], 1);
    for (i = 0; i < ne; i++)
        if (ev[i].ts < base)
            base = ev[i].ts;
    b_var(x, base);
    b_var(x, ne);
    for (i = 0; i < ne; i++) {
        unsigned a = ev[i].actor;

        flags = 0;
        if (ev[i].has_parent) {
            flags |= CHAIN_SEG_HAS_PARENT;
            if (seen[a] && last_hash[a] == ev[i].parent_fill)
                flags |= CHAIN_SEG_PARENT_IMPLICIT;
        }
        if (seen[a] && ev[i].seq == last_seq[a] + 1)
            flags |= CHAIN_SEG_SEQ_IMPLICIT;
        if (ev[i].desc != NULL)
            flags |= CHAIN_SEG_HAS_DESC;
        b_byte(x, flags);
        b_var(x, a);
        if (!(flags & CHAIN_SEG_SEQ_IMPLICIT))
            b_var(x, ev[i].seq);
        b_var(x, ev[i].ts - base);
        memset(h, ev[i].hash_fill, 32);
        b_bytes(x, h, 32);
        if (ev[i].has_parent && !(flags & CHAIN_SEG_PARENT_IMPLICIT)) {
            memset(h, ev[i].parent_fill, 32);
            b_bytes(x, h, 32);
        }
        b_str(x, ev[i].type, 1);
        b_var(x, strlen(ev[i].data));
        b_bytes(x, ev[i].data, strlen(ev[i].data));
        if (ev[i].desc != NULL)
            b_str(x, ev[i].desc, 1);
        seen[a] = 1;
        last_seq[a] = ev[i].seq;
        last_hash[a] = ev[i].hash_fill;
    }
}

static void build_v1(blob *x, const char **actors, size_t na, const ev_spec *ev, size_t ne)
{
    uint8_t h[32];
    size_t i;

    x->n = 0;
    b_bytes(x, "THSEG-v1", 8);
    b_be(x, na, 4);
    for (i = 0; i < na; i++)
        b_str(x, actors[i], 0);
    b_be(x, ne, 4);
    for (i = 0; i < ne; i++) {
        b_be(x, ev[i].actor, 4);
        b_be(x, ev[i].seq, 8);
        b_be(x, ev[i].ts, 8);
        memset(h, ev[i].hash_fill, 32);
        b_bytes(x, h, 32);
        b_byte(x, (uint8_t)ev[i].has_parent);
        if (ev[i].has_parent) {
            memset(h, ev[i].parent_fill, 32);
            b_bytes(x, h, 32);
        }
        b_str(x, ev[i].type, 0);
        b_be(x, strlen(ev[i].data), 8);
        b_bytes(x, ev[i].data, strlen(ev[i].data));
        b_byte(x, ev[i].desc != NULL);
        if (ev[i].desc != NULL)
            b_str(x, ev[i].desc, 0);
    }
}

/* Decode a copy of x and compare every field with the specs. */
static void check_decodes_to(const blob *x, const char **actors, size_t na, const ev_spec *ev,
                             size_t ne)
{
    uint8_t *copy = malloc(x->n), h[32];
    chain_segment seg;
    size_t i;

    memcpy(copy, x->b, x->n);
    memset(&seg, 0, sizeof seg);
    assert_int_equal(chain_segment_decode(copy, x->n, &seg), 0);
    assert_int_equal(seg.nactors, na);
    for (i = 0; i < na; i++)
        assert_string_equal(seg.actors[i], actors[i]);
    assert_int_equal(seg.nevents, ne);
    for (i = 0; i < ne; i++) {
        const th_chain_event *e = &seg.events[i];

        assert_int_equal(seg.actor_of[i], ev[i].actor);
        assert_string_equal(e->actor, actors[ev[i].actor]);
        assert_int_equal(e->seq, ev[i].seq);
        assert_int_equal(e->timestamp_ms, ev[i].ts);
        memset(h, ev[i].hash_fill, 32);
        assert_memory_equal(e->hash, h, 32);
        assert_int_equal(e->has_parent, ev[i].has_parent);
        if (ev[i].has_parent) {
            memset(h, ev[i].parent_fill, 32);
            assert_memory_equal(e->parent, h, 32);
        }
        assert_string_equal(e->type, ev[i].type);
        assert_int_equal(e->data_len, strlen(ev[i].data));
        if (e->data_len)
            assert_memory_equal(e->data, ev[i].data, e->data_len);
        if (ev[i].desc == NULL)
            assert_null(e->description);
        else
            assert_string_equal(e->description, ev[i].desc);
    }
    chain_segment_release(&seg);
}

static const char *mixed_actors[] = {"alpha", "b", "gamma-actor"};
/* Mixed actors, a seq gap (alpha 5 -> 9: explicit seq, implicit parent),
 * a parent that is not the previous hash (b's third event), a chain start
 * (gamma seq 0, no parent), descriptions, empty data and type, timestamps
 * not monotonic across actors. */
static const ev_spec mixed_events[] = {
    {0, 4, 1000, 0x10, 1, 0x0f, "t", "abc", NULL},
    {1, 0, 999, 0x20, 0, 0, "type-b", "", "first of b"},
    {0, 5, 1002, 0x11, 1, 0x10, "t", "", NULL},
    {2, 0, 5000000000ull, 0x30, 0, 0, "", "g", NULL},
    {0, 9, 1001, 0x12, 1, 0x11, "t", "after a gap", ""},
    {1, 1, 999, 0x21, 1, 0x20, "type-b", "x", NULL},
    {1, 2, 1003, 0x22, 1, 0x99, "type-b", "", "parent not the previous"},
    {2, 1, 5000000001ull, 0x31, 1, 0x30, "", "", NULL},
};
#define N_MIXED (sizeof mixed_events / sizeof mixed_events[0])

static void test_v2_hand_built(void **state)
{
    blob x;
    chain_segment seg;

    (void)state;
    build_v2(&x, mixed_actors, 3, mixed_events, N_MIXED);
    check_decodes_to(&x, mixed_actors, 3, mixed_events, N_MIXED);
    /* Every proper prefix, and one byte more, are refused. */
    assert_prefixes_refused(x.b, x.n);
    x.b[x.n++] = 0;
    assert_int_equal(decode_copy(x.b, x.n, &seg), -1);
}

static void test_v1_still_decodes(void **state)
{
    blob x;
    chain_segment seg;

    (void)state;
    build_v1(&x, mixed_actors, 3, mixed_events, N_MIXED);
    check_decodes_to(&x, mixed_actors, 3, mixed_events, N_MIXED);
    assert_prefixes_refused(x.b, x.n);
    /* An unknown version is refused. */
    x.b[7] = '4';
    assert_int_equal(decode_copy(x.b, x.n, &seg), -1);
}

/* A v2 blob with one actor "a" and one event whose flags, seq and
 * timestamp varints are given as raw bytes. */
static int one_event(uint8_t flags, const uint8_t *seq, size_t seqn, const uint8_t *base,
                     size_t basen, const uint8_t *delta, size_t deltan)
{
    uint8_t h[32];
    chain_segment seg;
    blob x = {.n = 0};

    memset(h, 7, 32);
    b_bytes(&x, "THSEG-v2", 8);
    b_var(&x, 1);
    b_str(&x, "a", 1);
    b_bytes(&x, base, basen);
    b_var(&x, 1);
    b_byte(&x, flags);
    b_var(&x, 0);
    b_bytes(&x, seq, seqn);
    b_bytes(&x, delta, deltan);
    b_bytes(&x, h, 32);
    if ((flags & CHAIN_SEG_HAS_PARENT) && !(flags & CHAIN_SEG_PARENT_IMPLICIT))
        b_bytes(&x, h, 32);
    b_str(&x, "t", 1);
    b_var(&x, 0);
    return decode_copy(x.b, x.n, &seg);
}

static void test_v2_bad_varints_and_flags(void **state)
{
    static const uint8_t zero[] = {0}, one[] = {1};
    static const uint8_t max64[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    static const uint8_t over64[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02};
    static const uint8_t eleven[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
                                     0x80, 0x80, 0x80, 0x80, 0x00};
    static const uint8_t overlong[] = {0x85, 0x00}, overlong0[] = {0x80, 0x00};
    static const uint8_t seq_big[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
    static const uint8_t seq_max[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};
    blob x = {.n = 0};
    chain_segment seg;

    (void)state;
    /* The well-formed reference decodes. */
    assert_int_equal(one_event(0, zero, 1, one, 1, zero, 1), 0);
    /* Largest 64-bit value: accepted as a timestamp base, refused as a seq
     * (above INT64_MAX); INT64_MAX itself is a valid seq. */
    assert_int_equal(one_event(0, zero, 1, max64, 10, zero, 1), 0);
    assert_int_equal(one_event(0, max64, 10, one, 1, zero, 1), -1);
    assert_int_equal(one_event(0, seq_big, 10, one, 1, zero, 1), -1);
    assert_int_equal(one_event(0, seq_max, 9, one, 1, zero, 1), 0);
    /* base + delta overflowing 64 bits. */
    assert_int_equal(one_event(0, zero, 1, max64, 10, one, 1), -1);
    /* More than 64 bits, more than 10 bytes, overlong encodings. */
    assert_int_equal(one_event(0, zero, 1, over64, 10, zero, 1), -1);
    assert_int_equal(one_event(0, over64, 10, one, 1, zero, 1), -1);
    assert_int_equal(one_event(0, zero, 1, one, 1, eleven, 11), -1);
    assert_int_equal(one_event(0, overlong, 2, one, 1, zero, 1), -1);
    assert_int_equal(one_event(0, zero, 1, overlong0, 2, zero, 1), -1);
    assert_int_equal(one_event(0, zero, 1, one, 1, overlong0, 2), -1);
    /* Implicit seq or parent without an earlier event of the actor; an
     * implicit parent without has-parent; unknown flag bits. */
    assert_int_equal(one_event(CHAIN_SEG_SEQ_IMPLICIT, NULL, 0, one, 1, zero, 1), -1);
    assert_int_equal(
        one_event(CHAIN_SEG_HAS_PARENT | CHAIN_SEG_PARENT_IMPLICIT, zero, 1, one, 1, zero, 1), -1);
    assert_int_equal(one_event(CHAIN_SEG_HAS_PARENT, zero, 1, one, 1, zero, 1), 0);
    assert_int_equal(one_event(CHAIN_SEG_PARENT_IMPLICIT, zero, 1, one, 1, zero, 1), -1);
    assert_int_equal(one_event(0x10, zero, 1, one, 1, zero, 1), -1);
    assert_int_equal(one_event(0x80, zero, 1, one, 1, zero, 1), -1);
    /* An overlong actor count. */
    b_bytes(&x, "THSEG-v2", 8);
    b_byte(&x, 0x81);
    b_byte(&x, 0x00);
    b_str(&x, "a", 1);
    assert_int_equal(decode_copy(x.b, x.n, &seg), -1);
}

/* An implicit parent (or seq) naming another actor's event does not count:
 * the predecessor must be the same actor's. */
static void test_v2_implicit_needs_same_actor(void **state)
{
    static const char *actors[] = {"a", "b"};
    static const ev_spec evs[] = {
        {0, 0, 10, 0x01, 0, 0, "t", "", NULL},
        {1, 1, 10, 0x02, 1, 0x01, "t", "", NULL},
    };
    chain_segment seg;
    blob x;
    /* Header: magic 8, actor count 1, "a" 3, "b" 3, base 1, event count 1;
     * a's event: flags, index, seq, delta 1 each, hash 32, type 3, data
     * length 1.  Then b's event: flags, index, seq, delta, hash, parent. */
    size_t flags_at = 8 + 1 + 3 + 3 + 1 + 1 + 40, parent_at = flags_at + 4 + 32;

    (void)state;
    build_v2(&x, actors, 2, evs, 2);
    check_decodes_to(&x, actors, 2, evs, 2);
    assert_int_equal(x.b[flags_at], CHAIN_SEG_HAS_PARENT);
    assert_int_equal(x.b[parent_at], 0x01);
    /* Make b's parent implicit (dropping its 32 bytes): refused, although
     * the previous event (a's) has exactly that hash. */
    x.b[flags_at] = CHAIN_SEG_HAS_PARENT | CHAIN_SEG_PARENT_IMPLICIT;
    memmove(x.b + parent_at, x.b + parent_at + 32, x.n - (parent_at + 32));
    x.n -= 32;
    assert_int_equal(decode_copy(x.b, x.n, &seg), -1);
}

/* Through the writer: several segments, mixed actors, descriptions, empty
 * data; every decoded field matches what the appends returned, and parents
 * (implicit in the blob) are the previous events' hashes. */
static void test_v2_writer_round_trip(void **state)
{
    static const char *names[] = {"w-one", "w-two", "w-three"};
    th_chain *c = open_chain(0, 0);
    th_chain_receipt rec[3][12];
    unsigned count[3] = {0};
    th_error err;
    chain_segment seg;
    uint8_t *b;
    size_t len, i;
    int k, s, found;
    char path[128];
    sqlite3 *db;
    sqlite3_stmt *st;

    (void)state;
    for (s = 0; s < 3; s++) {
        for (k = 0; k < 10; k++) {
            int a = (k * 7 + s) % 3;
            char data[16], desc[16];

            if (count[a] >= 12)
                continue;
            snprintf(data, sizeof data, "d%d.%d", s, k);
            snprintf(desc, sizeof desc, "desc %d", k);
            assert_int_equal(th_chain_append(c, names[a], k % 2 ? "odd" : "even-type", data,
                                             k % 3 == 0 ? 0 : strlen(data),
                                             k % 4 == 1 ? desc : NULL, &rec[a][count[a]], &err),
                             TH_OK);
            count[a]++;
        }
        assert_int_equal(th_chain_flush(c, 5000, &err), TH_OK);
    }
    assert_int_equal(th_chain_close(c), TH_OK);
    snprintf(path, sizeof path, "%s/theater.db", home);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT signed_ms, public_key, signature, events, id"
                                        " FROM chain_segment ORDER BY id",
                                        -1, &st, NULL),
                     SQLITE_OK);
    found = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        th_error e2;

        len = (size_t)sqlite3_column_bytes(st, 3);
        b = (uint8_t *)sqlite3_column_blob(st, 3);
        assert_true(len > 8);
        assert_memory_equal(b, "THSEG-v4", 8);
        assert_int_equal(
            chain_segment_from_row(st, (uint64_t)sqlite3_column_int64(st, 4), &seg, &e2), TH_OK);
        assert_true(chain_segment_signature_ok(chain_thread_sha256(), &seg));
        for (i = 0; i < seg.nevents; i++) {
            const th_chain_event *e = &seg.events[i];
            int a = -1;

            for (k = 0; k < 3; k++)
                if (strcmp(e->actor, names[k]) == 0)
                    a = k;
            assert_true(a >= 0 && e->seq < count[a]);
            assert_memory_equal(e->hash, rec[a][e->seq].hash, 32);
            assert_int_equal(e->timestamp_ms, rec[a][e->seq].timestamp_ms);
            assert_int_equal(e->has_parent, e->seq > 0);
            if (e->seq > 0)
                assert_memory_equal(e->parent, rec[a][e->seq - 1].hash, 32);
            found++;
        }
        chain_segment_release(&seg);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    assert_int_equal(found, count[0] + count[1] + count[2]);
    /* And the library's own verification agrees. */
    c = open_chain(1, 0);
    {
        th_chain_verify_result res;
        th_chain_events evs = {0};
        th_chain_query q = {0};

        assert_int_equal(th_chain_verify(c, NULL, &res, &err), TH_OK);
        assert_int_equal(res.events, found);
        q.actor = names[1];
        assert_int_equal(th_chain_read(c, &q, &evs, &err), TH_OK);
        assert_int_equal(evs.count, count[1]);
        for (i = 0; i < evs.count; i++)
            assert_memory_equal(evs.items[i].hash, rec[1][i].hash, 32);
        th_chain_events_free(&evs);
    }
    assert_int_equal(th_chain_close(c), TH_OK);
}

static void test_tail_reads_while_writing(void **state)
{
    th_chain *w = open_chain(0, 3600000); /* no index flush during the test */
    th_chain *r;
    th_chain_events evs = {0};
    th_chain_query q = {0};
    th_chain_actors actors = {0};
    th_chain_verify_result res;
    th_chain_head head;
    th_error err;
    int i;

    (void)state;
    for (i = 0; i < 40; i++)
        assert_int_equal(
            th_chain_append(w, i % 2 ? "odd" : "even", "t", &i, sizeof i, NULL, NULL, &err), TH_OK);
    assert_int_equal(th_chain_flush(w, 5000, &err), TH_OK);
    r = open_chain(1, 0);
    assert_int_equal(th_chain_list_actors(r, &actors, &err), TH_OK);
    assert_int_equal(actors.count, 2);
    assert_string_equal(actors.items[0].name, "even");
    assert_int_equal(actors.items[0].head.count, 20);
    th_chain_actors_free(&actors);
    assert_int_equal(th_chain_head_get(r, "odd", &head, &err), TH_OK);
    assert_int_equal(head.seq, 19);
    q.actor = "odd";
    q.from_seq = 5;
    q.to_seq = 8;
    assert_int_equal(th_chain_read(r, &q, &evs, &err), TH_OK);
    assert_int_equal(evs.count, 3);
    assert_int_equal(evs.items[0].seq, 5);
    memcpy(&i, evs.items[0].data, sizeof i); /* bytes: no alignment promised */
    assert_int_equal(i, 11);
    th_chain_events_free(&evs);
    assert_int_equal(th_chain_verify(r, NULL, &res, &err), TH_OK);
    assert_int_equal(res.events, 40);
    /* More events after the reader opened are seen by its next read. */
    for (i = 0; i < 10; i++)
        assert_int_equal(th_chain_append(w, "odd", "t", "x", 1, NULL, NULL, &err), TH_OK);
    assert_int_equal(th_chain_flush(w, 5000, &err), TH_OK);
    assert_int_equal(th_chain_head_get(r, "odd", &head, &err), TH_OK);
    assert_int_equal(head.count, 30);
    assert_int_equal(th_chain_close(r), TH_OK);
    /* Closing flushes the index; a fresh reader then uses spans. */
    assert_int_equal(th_chain_close(w), TH_OK);
    r = open_chain(1, 0);
    q.actor = "odd";
    q.from_seq = 25;
    q.to_seq = 0;
    assert_int_equal(th_chain_read(r, &q, &evs, &err), TH_OK);
    assert_int_equal(evs.count, 5);
    th_chain_events_free(&evs);
    assert_int_equal(th_chain_verify(r, "odd", &res, &err), TH_OK);
    assert_int_equal(res.events, 30);
    assert_int_equal(th_chain_close(r), TH_OK);
}

static void test_wait_timeout_and_tickets(void **state)
{
    th_chain *c = open_chain(0, 0);
    th_chain_receipt rc1;
    th_error err;

    (void)state;
    assert_int_equal(th_chain_durable_ticket(c), 0);
    assert_int_equal(th_chain_append(c, "x", "t", "", 0, NULL, &rc1, &err), TH_OK);
    assert_int_equal(th_chain_wait_durable(c, rc1.ticket, -1, &err), TH_OK);
    assert_true(th_chain_durable_ticket(c) >= rc1.ticket);
    /* A ticket that was never handed out does not become durable. */
    assert_int_equal(th_chain_wait_durable(c, rc1.ticket + 1000, 20, &err), TH_ETIMEDOUT);
    assert_non_null(strstr(err.msg, "not durable"));
    assert_int_equal(th_chain_close(c), TH_OK);
}

static void test_damaged_database_refused(void **state)
{
    char path[128];
    th_chain_config cfg = {0};
    th_chain *c;
    th_error err;
    FILE *f;
    int i;

    (void)state;
    snprintf(path, sizeof path, "%s/theater.db", home);
    f = fopen(path, "wb");
    for (i = 0; i < 500; i++)
        fputs("garbage garbage ", f);
    fclose(f);
    cfg.home = home;
    assert_int_equal(th_chain_open(&cfg, &c, &err), TH_ECORRUPT);
    assert_non_null(strstr(err.msg, "not a SQLite database"));
    cfg.read_only = 1;
    assert_int_equal(th_chain_open(&cfg, &c, &err), TH_ECORRUPT);
}

/* Full verification hashes a large segment's events on several threads
 * (verify.c): every event is still checked.  1,000 events of three chains
 * in one segment verify; after one event near the end (in another
 * thread's slice) and then one near the start is changed in the stored
 * blob, verification names exactly that event. */
static void test_verify_large_segment(void **state)
{
    static const char *names[] = {"big-a", "big-b", "big-c"};
    th_chain_config cfg = {0};
    th_chain_verify_result res;
    th_chain *c;
    th_error err;
    char data[32];
    uint8_t *b;
    size_t len, i;
    int k, round;

    (void)state;
    cfg.home = home;
    cfg.sync_normal = 1;
    cfg.batch_max_ms = 1000; /* one segment for all of them */
    assert_int_equal(th_chain_open(&cfg, &c, &err), TH_OK);
    for (k = 0; k < 1000; k++) {
        char type[32];

        /* a type of its own per event: no event refers to another one
         * (v3), so each one's data is in the blob whole */
        snprintf(data, sizeof data, "event-%04d-of-%s", k, names[k % 3]);
        snprintf(type, sizeof type, "wasm-call-%04d", k);
        assert_int_equal(
            th_chain_append(c, names[k % 3], type, data, strlen(data), NULL, NULL, &err), TH_OK);
    }
    assert_int_equal(th_chain_flush(c, 5000, &err), TH_OK);
    assert_int_equal(th_chain_verify(c, NULL, &res, &err), TH_OK);
    assert_int_equal(res.events, 1000);
    assert_int_equal(th_chain_close(c), TH_OK);
    b = segment_bytes(&len);
    for (round = 0; round < 2; round++) {
        /* event 991 is big-b's seq 330; event 4 is big-b's seq 1 */
        const char *mark = round == 0 ? "event-0991-of-big-b" : "event-0004-of-big-b";
        uint8_t *at = memmem(b, len, mark, strlen(mark));

        assert_non_null(at);
        at[6] = 'X'; /* the data changes; the stored hash does not */
        set_segment_bytes(b, len);
        c = open_chain(1, 0);
        assert_int_equal(th_chain_verify(c, NULL, &res, &err), TH_ECORRUPT);
        assert_int_equal(res.problem, TH_CHAIN_BAD_HASH);
        assert_string_equal(res.actor, "big-b");
        assert_int_equal(res.seq, round == 0 ? 330 : 1);
        for (i = 0; i < 2; i++) /* and again: the pool starts afresh */
            assert_int_equal(th_chain_verify(c, NULL, &res, &err), TH_ECORRUPT);
        assert_int_equal(th_chain_close(c), TH_OK);
    }
    free(b);
}

/* A chain read on a thread of its own (th_chain_stream_*): event by
 * event the same list as th_chain_read's, waited for while it is read; no
 * chain and a damaged segment are the read's errors, said where the
 * stream has nothing more and again when it is closed. */
static void test_stream_read(void **state)
{
    th_chain *c;
    th_chain_stream *st;
    th_chain_events whole = {0}, view;
    th_chain_query q = {0};
    th_error err;
    char data[64];
    size_t i, n;
    int round, k;
    sqlite3 *db;
    char path[128];

    (void)state;
    c = open_chain(0, 0);
    for (round = 0; round < 6; round++) { /* a segment each */
        for (k = 0; k < 40; k++) {
            snprintf(data, sizeof data, "{\"round\":%d,\"k\":%d}", round, k);
            assert_int_equal(th_chain_append(c, "s", k % 2 ? "host-call" : "wasm-call", data,
                                             strlen(data), NULL, NULL, &err),
                             TH_OK);
            assert_int_equal(th_chain_append(c, "other", "host-call", "{}", 2, NULL, NULL, &err),
                             TH_OK);
        }
        assert_int_equal(th_chain_flush(c, 5000, &err), TH_OK);
    }
    assert_int_equal(th_chain_close(c), TH_OK);
    c = open_chain(1, 0);
    q.actor = "s";
    assert_int_equal(th_chain_read(c, &q, &whole, &err), TH_OK);
    n = whole.count;
    assert_int_equal(n, 240);
    assert_int_equal(th_chain_stream_open(c, "s", &st, &err), TH_OK);
    for (i = 0; i < n; i++) {
        assert_int_equal(th_chain_stream_wait(st, i, &view, &err), TH_OK);
        assert_true(view.count > i);
        assert_int_equal(view.items[i].seq, i);
        assert_string_equal(view.items[i].actor, "s");
        assert_string_equal(view.items[i].type, whole.items[i].type);
        assert_int_equal(view.items[i].data_len, whole.items[i].data_len);
        assert_memory_equal(view.items[i].data, whole.items[i].data, whole.items[i].data_len);
        assert_memory_equal(view.items[i].hash, whole.items[i].hash, 32);
    }
    assert_int_equal(th_chain_stream_wait(st, n, &view, &err), TH_OK); /* no event n */
    assert_int_equal(view.count, n);
    assert_int_equal(th_chain_stream_close(st, &err), TH_OK);
    th_chain_events_free(&whole);
    /* no such chain */
    assert_int_equal(th_chain_stream_open(c, "nobody", &st, &err), TH_OK);
    assert_int_equal(th_chain_stream_wait(st, 0, &view, &err), TH_ENOENT);
    assert_int_equal(view.count, 0);
    assert_int_equal(th_chain_stream_close(st, &err), TH_ENOENT);
    assert_int_equal(th_chain_close(c), TH_OK);
    /* the last segment damaged: the events before it, then the error */
    snprintf(path, sizeof path, "%s/theater.db", home);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "UPDATE chain_segment SET events = substr(events, 1, 20)"
                                  " WHERE id = (SELECT max(id) FROM chain_segment)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    c = open_chain(1, 0);
    assert_int_equal(th_chain_stream_open(c, "s", &st, &err), TH_OK);
    assert_int_equal(th_chain_stream_wait(st, 199, &view, &err), TH_OK);
    assert_int_equal(view.count, 200);
    assert_int_equal(th_chain_stream_wait(st, 200, &view, &err), TH_ECORRUPT);
    assert_non_null(strstr(err.msg, "malformed"));
    assert_int_equal(th_chain_stream_close(st, &err), TH_ECORRUPT);
    assert_int_equal(th_chain_close(c), TH_OK);
}

/* ---- v3: events that refer to an earlier event of their actor ---- */

/* A v3 blob, hand-built: actors "a" and "b", seq and parent implicit after
 * each actor's first event.  Each event is either whole (type, data) or a
 * reference: `back`, keep, tail, and the middle bytes. */
typedef struct ref_spec {
    unsigned actor;
    const char *type; /* whole: the type; NULL: a reference */
    const char *data; /* whole: the data; reference: the middle bytes */
    uint64_t back, keep, tail;
} ref_spec;

static void build_v3(blob *x, const ref_spec *ev, size_t ne)
{
    unsigned seen[2] = {0, 0};
    uint8_t h[32];
    size_t i;

    x->n = 0;
    b_bytes(x, "THSEG-v3", 8);
    b_var(x, 2);
    b_str(x, "a", 1);
    b_str(x, "b", 1);
    b_var(x, 1000);
    b_var(x, ne);
    for (i = 0; i < ne; i++) {
        unsigned a = ev[i].actor;
        uint8_t flags = seen[a] ? CHAIN_SEG_SEQ_IMPLICIT : 0;

        if (ev[i].type == NULL)
            flags |= CHAIN_SEG_REF;
        b_byte(x, flags);
        b_var(x, a);
        if (!seen[a])
            b_var(x, 0);
        b_var(x, i);
        memset(h, (int)(0x40 + i), 32);
        b_bytes(x, h, 32);
        if (ev[i].type != NULL) {
            b_str(x, ev[i].type, 1);
            b_var(x, strlen(ev[i].data));
        } else {
            b_var(x, ev[i].back);
            b_var(x, ev[i].keep);
            b_var(x, ev[i].tail);
            b_var(x, strlen(ev[i].data));
        }
        b_bytes(x, ev[i].data, strlen(ev[i].data));
        seen[a]++;
    }
}

static const ref_spec v3_events[] = {
    {0, "t", "hello world", 0, 0, 0},
    {1, "u", "x", 0, 0, 0},
    {0, NULL, "you", 1, 6, 0}, /* "hello " + "you" */
    {0, NULL, "hi ", 2, 0, 5}, /* "hi " + "world": two back, the first */
    {1, NULL, "", 1, 1, 0},    /* "x" */
    {0, NULL, "", 1, 0, 0},    /* empty data, type "t" */
    {0, "v", "other type", 0, 0, 0},
    {0, NULL, "!", 2, 0, 0}, /* "!" with type "t" (the empty one) */
};
#define N_V3 (sizeof v3_events / sizeof v3_events[0])

static void test_v3_hand_built(void **state)
{
    static const char *want_type[N_V3] = {"t", "u", "t", "t", "u", "t", "v", "t"};
    static const char *want_data[N_V3] = {"hello world", "x", "hello you",  "hi world",
                                          "x",           "",  "other type", "!"};
    ref_spec ev[N_V3];
    chain_segment seg;
    uint8_t *copy;
    blob x;
    size_t i;

    (void)state;
    build_v3(&x, v3_events, N_V3);
    copy = malloc(x.n);
    memcpy(copy, x.b, x.n);
    memset(&seg, 0, sizeof seg);
    assert_int_equal(chain_segment_decode(copy, x.n, &seg), 0);
    assert_int_equal(seg.nevents, N_V3);
    for (i = 0; i < N_V3; i++) {
        assert_int_equal(seg.events[i].timestamp_ms, 1000 + i);
        assert_string_equal(seg.events[i].type, want_type[i]);
        assert_int_equal(seg.events[i].data_len, strlen(want_data[i]));
        assert_non_null(seg.events[i].data);
        assert_memory_equal(seg.events[i].data, want_data[i], strlen(want_data[i]));
    }
    assert_int_equal(seg.events[7].seq, 5); /* a's sixth event */
    chain_segment_release(&seg);
    assert_prefixes_refused(x.b, x.n);

    /* Damaged references are refused. */
    memcpy(ev, v3_events, sizeof ev);
    ev[2].back = 0; /* not a reference to anything */
    build_v3(&x, ev, N_V3);
    assert_int_equal(decode_copy(x.b, x.n, &seg), -1);
    memcpy(ev, v3_events, sizeof ev);
    ev[2].back = 2; /* before a's first event */
    build_v3(&x, ev, N_V3);
    assert_int_equal(decode_copy(x.b, x.n, &seg), -1);
    memcpy(ev, v3_events, sizeof ev);
    ev[2].back = CHAIN_SEG_REF_MAX + 1;
    build_v3(&x, ev, N_V3);
    assert_int_equal(decode_copy(x.b, x.n, &seg), -1);
    memcpy(ev, v3_events, sizeof ev);
    ev[2].keep = 7;
    ev[2].tail = 5; /* 12 bytes of an 11-byte data */
    build_v3(&x, ev, N_V3);
    assert_int_equal(decode_copy(x.b, x.n, &seg), -1);
    memcpy(ev, v3_events, sizeof ev);
    ev[2].keep = 12;
    ev[2].tail = 0;
    build_v3(&x, ev, N_V3);
    assert_int_equal(decode_copy(x.b, x.n, &seg), -1);
    memcpy(ev, v3_events, sizeof ev);
    ev[1].type = NULL; /* b's first event cannot refer back */
    ev[1].back = 1;
    build_v3(&x, ev, N_V3);
    assert_int_equal(decode_copy(x.b, x.n, &seg), -1);
    /* A reference in a v2 blob is refused. */
    build_v3(&x, v3_events, N_V3);
    x.b[7] = '2';
    assert_int_equal(decode_copy(x.b, x.n, &seg), -1);
    /* Reaching back 16 events is allowed, 17 is not (above). */
    {
        ref_spec many[19];

        many[0] = (ref_spec){0, "t", "base", 0, 0, 0};
        for (i = 1; i < 18; i++)
            many[i] = (ref_spec){0, NULL, "", 1, 4, 0};
        many[17].back = CHAIN_SEG_REF_MAX;
        many[18] = (ref_spec){1, "u", "x", 0, 0, 0}; /* every actor has events */
        build_v3(&x, many, 19);
        copy = malloc(x.n);
        memcpy(copy, x.b, x.n);
        memset(&seg, 0, sizeof seg);
        assert_int_equal(chain_segment_decode(copy, x.n, &seg), 0);
        assert_memory_equal(seg.events[17].data, "base", 4);
        chain_segment_release(&seg);
    }
}

/* Decode a copy of b[0..len) with seg->only = only (the arrays of `seg`
 * are the caller's: zeroed first, released after). */
static int decode_only(const uint8_t *b, size_t len, const char *only, chain_segment *seg)
{
    uint8_t *copy = malloc(len ? len : 1);

    memcpy(copy, b, len);
    memset(seg, 0, sizeof *seg);
    seg->only = only;
    return chain_segment_decode(copy, len, seg);
}

/* Decoding one actor's events (th_chain_read): that actor's events are
 * whole and equal to a full decode's; the other actors' are not rebuilt;
 * and every blob refused whole is refused too. */
static void check_only(const uint8_t *b, size_t len, const char *const *actors, size_t na)
{
    chain_segment full, one;
    size_t a, i;

    memset(&full, 0, sizeof full);
    {
        uint8_t *copy = malloc(len);
        memcpy(copy, b, len);
        assert_int_equal(chain_segment_decode(copy, len, &full), 0);
    }
    for (a = 0; a <= na; a++) {
        const char *who = a < na ? actors[a] : "no-such-actor";
        assert_int_equal(decode_only(b, len, who, &one), 0);
        assert_int_equal(one.only_idx, a < na ? (int)a : -1);
        assert_int_equal(one.nevents, full.nevents);
        for (i = 0; i < full.nevents; i++) {
            const th_chain_event *x = &full.events[i], *y = &one.events[i];
            assert_int_equal(one.actor_of[i], full.actor_of[i]);
            assert_int_equal(y->seq, x->seq);
            assert_string_equal(y->type, x->type);
            assert_int_equal(y->data_len, x->data_len);
            if (full.actor_of[i] != a)
                continue;
            assert_string_equal(y->actor, x->actor);
            assert_int_equal(y->timestamp_ms, x->timestamp_ms);
            assert_memory_equal(y->hash, x->hash, 32);
            assert_int_equal(y->has_parent, x->has_parent);
            assert_memory_equal(y->parent, x->parent, 32);
            assert_memory_equal(y->data, x->data, x->data_len);
            if (x->description == NULL)
                assert_null(y->description);
            else
                assert_string_equal(y->description, x->description);
        }
        assert_true(one.xlen <= full.xlen);
        chain_segment_release(&one);
    }
    chain_segment_release(&full);
    for (i = 0; i < len; i++) {
        assert_int_equal(decode_only(b, i, actors[na - 1], &one), -1);
        chain_segment_release(&one);
    }
}

/* A reference that repeats its event's data whole shares them (the same
 * bytes in the blob or in xdata) rather than rebuilding them; an edit is
 * rebuilt. */
static void test_v3_repeats_shared(void **state)
{
    static const ref_spec ev[] = {
        {0, "t", "hello world", 0, 0, 0}, {0, NULL, "you", 1, 6, 0}, /* "hello you": rebuilt */
        {0, NULL, "", 1, 9, 0},  /* "hello you" again: shares event 1's */
        {0, NULL, "", 3, 11, 0}, /* "hello world" again: shares event 0's */
        {1, "u", "x", 0, 0, 0},  /* another actor between */
        {0, NULL, "", 1, 0, 11}, /* "hello world" (its end) again */
    };
    static const char *want[] = {"hello world", "hello you", "hello you",
                                 "hello world", "x",         "hello world"};
    chain_segment seg;
    uint8_t *copy;
    blob x;
    size_t i;

    (void)state;
    build_v3(&x, ev, sizeof ev / sizeof ev[0]);
    copy = malloc(x.n);
    memcpy(copy, x.b, x.n);
    memset(&seg, 0, sizeof seg);
    assert_int_equal(chain_segment_decode(copy, x.n, &seg), 0);
    assert_int_equal(seg.nevents, 6);
    for (i = 0; i < 6; i++) {
        assert_int_equal(seg.events[i].data_len, strlen(want[i]));
        assert_memory_equal(seg.events[i].data, want[i], strlen(want[i]));
    }
    assert_int_equal(seg.xlen, 9); /* only "hello you" */
    assert_ptr_equal(seg.events[2].data, seg.events[1].data);
    assert_ptr_equal(seg.events[3].data, seg.events[0].data);
    assert_ptr_equal(seg.events[5].data, seg.events[0].data);
    assert_int_equal(seg.xtotal, 9 + 9 + 11 + 11); /* the limit counts them all */
    chain_segment_release(&seg);
    assert_prefixes_refused(x.b, x.n);
}

static void test_decode_one_actor(void **state)
{
    static const char *const v3_actors[] = {"a", "b"};
    chain_segment seg;
    ref_spec ev[N_V3];
    blob x;
    size_t k;

    (void)state;
    build_v2(&x, mixed_actors, 3, mixed_events, N_MIXED);
    check_only(x.b, x.n, mixed_actors, 3);
    build_v1(&x, mixed_actors, 3, mixed_events, N_MIXED);
    check_only(x.b, x.n, mixed_actors, 3);
    build_v3(&x, v3_events, N_V3);
    check_only(x.b, x.n, v3_actors, 2);
    /* b's events only: a's references are checked, not rebuilt */
    assert_int_equal(decode_only(x.b, x.n, "b", &seg), 0);
    /* b's second "x" repeats its first: shared, not rebuilt */
    assert_int_equal(seg.xlen, 0);
    assert_int_equal(seg.events[4].data_len, 1);
    assert_ptr_equal(seg.events[4].data, seg.events[1].data);
    assert_memory_equal(seg.events[4].data, "x", 1);
    chain_segment_release(&seg);
    /* A damaged reference of a is refused when only b's are read. */
    for (k = 0; k < 4; k++) {
        memcpy(ev, v3_events, sizeof ev);
        if (k == 0)
            ev[2].back = 0;
        else if (k == 1)
            ev[2].back = 2; /* before a's first event */
        else if (k == 2)
            ev[2].keep = 7, ev[2].tail = 5; /* 12 bytes of an 11-byte data */
        else
            ev[3].back = CHAIN_SEG_REF_MAX + 1;
        build_v3(&x, ev, N_V3);
        assert_int_equal(decode_only(x.b, x.n, "b", &seg), -1);
        chain_segment_release(&seg);
    }
}

/* A chain read beside a busier chain in the same segments: its events come
 * back whole (types, data, descriptions, actor), oldest first and newest
 * first, and so do the busier chain's. */
static void test_read_beside_busier_chain(void **state)
{
    th_chain_config cfg = {0};
    th_chain *c;
    th_chain_events evs = {0};
    th_chain_query q = {0};
    th_error err;
    char big[600], small[5][40];
    size_t i, k;

    (void)state;
    cfg.home = home;
    cfg.sync_normal = 1;
    cfg.batch_max_ms = 1000; /* one segment for all of them */
    assert_int_equal(th_chain_open(&cfg, &c, &err), TH_OK);
    memset(big, 'b', sizeof big);
    for (i = 0; i < 60; i++) {
        if (i % 12 == 0) {
            k = i / 12;
            snprintf(small[k], sizeof small[k], "{\"n\":%zu}", k);
            assert_int_equal(th_chain_append(c, "quiet", k == 2 ? "other" : "host-call", small[k],
                                             k == 3 ? 0 : strlen(small[k]),
                                             k == 1 ? "a description" : NULL, NULL, &err),
                             TH_OK);
        }
        big[0] = (char)('A' + i % 26);
        assert_int_equal(th_chain_append(c, "busy", "wasm-call", big, sizeof big, NULL, NULL, &err),
                         TH_OK);
    }
    /* the same event three times more: stored as references, read back
     * sharing one copy of their data */
    for (i = 0; i < 3; i++)
        assert_int_equal(
            th_chain_append(c, "quiet", "host-call", small[4], strlen(small[4]), NULL, NULL, &err),
            TH_OK);
    assert_int_equal(th_chain_flush(c, 5000, &err), TH_OK);
    for (int newest = 0; newest < 2; newest++) {
        q.actor = "quiet";
        q.newest = newest;
        assert_int_equal(th_chain_read(c, &q, &evs, &err), TH_OK);
        assert_int_equal(evs.count, 8);
        for (i = 0; i < 8; i++) {
            const th_chain_event *e = &evs.items[i];
            k = i < 5 ? i : 4;
            assert_string_equal(e->actor, "quiet");
            assert_int_equal(e->seq, i);
            assert_string_equal(e->type, i == 2 ? "other" : "host-call");
            assert_int_equal(e->data_len, i == 3 ? 0 : strlen(small[k]));
            assert_memory_equal(e->data, small[k], e->data_len);
            if (i == 1)
                assert_string_equal(e->description, "a description");
            else
                assert_null(e->description);
        }
        assert_ptr_equal(evs.items[5].data, evs.items[6].data);
        assert_ptr_equal(evs.items[6].data, evs.items[7].data);
        th_chain_events_free(&evs);
        q.actor = "busy";
        assert_int_equal(th_chain_read(c, &q, &evs, &err), TH_OK);
        assert_int_equal(evs.count, 60);
        for (i = 0; i < 60; i++) {
            assert_int_equal(evs.items[i].data_len, sizeof big);
            assert_int_equal(evs.items[i].data[0], 'A' + i % 26);
            assert_memory_equal(evs.items[i].data + 1, big + 1, sizeof big - 1);
        }
        th_chain_events_free(&evs);
    }
    assert_int_equal(th_chain_close(c), TH_OK);
}

/* The writer refers to earlier events of the same type: the segment is
 * smaller than the data, reads back byte for byte, verifies, and a changed
 * byte of an edit is found by verification. */
static void test_v3_writer_refs(void **state)
{
    th_chain_config cfg = {0};
    th_chain *c;
    th_chain_events evs = {0};
    th_chain_query q = {0};
    th_chain_verify_result res;
    th_error err;
    char data[26][128], mark[8];
    size_t len, total = 0, i;
    uint8_t *b, *at;
    int k;

    (void)state;
    cfg.home = home;
    cfg.sync_normal = 1;
    cfg.batch_max_ms = 1000; /* one segment for all of them */
    assert_int_equal(th_chain_open(&cfg, &c, &err), TH_OK);
    for (k = 0; k < 26; k++) {
        /* the same start and end, three letters of their own between */
        snprintf(data[k], sizeof data[k],
                 "{\"interface\":\"message-server-host\",\"function\":\"send\",\"m\":\"%c%c%c\","
                 "\"output\":{\"ok\":null}}",
                 'a' + k, 'a' + k, 'a' + k);
        total += strlen(data[k]);
        assert_int_equal(th_chain_append(c, "sender", k % 3 == 2 ? "other" : "host-call", data[k],
                                         strlen(data[k]), NULL, NULL, &err),
                         TH_OK);
    }
    assert_int_equal(th_chain_flush(c, 5000, &err), TH_OK);
    assert_int_equal(th_chain_verify(c, NULL, &res, &err), TH_OK);
    assert_int_equal(res.events, 26);
    q.actor = "sender";
    assert_int_equal(th_chain_read(c, &q, &evs, &err), TH_OK);
    assert_int_equal(evs.count, 26);
    for (i = 0; i < 26; i++) {
        assert_string_equal(evs.items[i].type, i % 3 == 2 ? "other" : "host-call");
        assert_int_equal(evs.items[i].data_len, strlen(data[i]));
        assert_memory_equal(evs.items[i].data, data[i], strlen(data[i]));
    }
    th_chain_events_free(&evs);
    assert_int_equal(th_chain_close(c), TH_OK);
    b = segment_bytes(&len);
    assert_memory_equal(b, "THSEG-v4", 8);
    /* whole, each event would take its data and 32 bytes of hash and more */
    assert_true(len < total * 3 / 4);
    /* Event 7 ("hhh") is an edit of event 6: change a byte of its edit. */
    snprintf(mark, sizeof mark, "hhh");
    at = memmem(b, len, mark, 3);
    assert_non_null(at);
    at[1] = 'X';
    set_segment_bytes(b, len);
    free(b);
    c = open_chain(1, 0);
    assert_int_equal(th_chain_verify(c, NULL, &res, &err), TH_ECORRUPT);
    assert_int_equal(res.problem, TH_CHAIN_BAD_HASH);
    assert_string_equal(res.actor, "sender");
    assert_int_equal(res.seq, 7);
    assert_int_equal(th_chain_close(c), TH_OK);
}

/* v4: an event stores 8 bytes of its hash (the check value), not the 32;
 * the reader computes the hash from the contents, and a changed check
 * value is reported as a bad hash of that very event. */
static void test_v4_check_value(void **state)
{
    th_chain *c = open_chain(0, 0);
    th_chain_receipt rc[6];
    th_chain_verify_result res;
    th_chain_events evs = {0};
    th_chain_query q = {0};
    th_error err;
    uint8_t *b, *at;
    size_t len, i;
    char data[32];
    int k;

    (void)state;
    for (k = 0; k < 6; k++) {
        snprintf(data, sizeof data, "event %d", k);
        assert_int_equal(th_chain_append(c, k % 2 ? "odd" : "even", "note", data, strlen(data),
                                         k == 4 ? "desc" : NULL, &rc[k], &err),
                         TH_OK);
    }
    assert_int_equal(th_chain_flush(c, 5000, &err), TH_OK);
    q.actor = "even";
    assert_int_equal(th_chain_read(c, &q, &evs, &err), TH_OK);
    assert_int_equal(evs.count, 3);
    for (i = 0; i < 3; i++) { /* computed on reading: the appender's hashes */
        assert_memory_equal(evs.items[i].hash, rc[2 * i].hash, 32);
        if (i > 0)
            assert_memory_equal(evs.items[i].parent, rc[2 * i - 2].hash, 32);
    }
    th_chain_events_free(&evs);
    assert_int_equal(th_chain_close(c), TH_OK);
    b = segment_bytes(&len);
    assert_memory_equal(b, "THSEG-v4", 8);
    for (k = 0; k < 6; k++) {
        /* 8 bytes of each hash, never the rest (24 bytes: no chance match,
         * where the byte after the check value matched the hash's 9th byte
         * one time in 256) */
        assert_non_null(memmem(b, len, rc[k].hash, CHAIN_SEG_CHECK_LEN));
        assert_null(memmem(b, len, rc[k].hash + CHAIN_SEG_CHECK_LEN, 32 - CHAIN_SEG_CHECK_LEN));
    }
    /* change the check value of "even" seq 1 (event 2) */
    at = memmem(b, len, rc[2].hash, CHAIN_SEG_CHECK_LEN);
    at[3] ^= 0x40;
    set_segment_bytes(b, len);
    free(b);
    c = open_chain(1, 0);
    for (k = 0; k < 2; k++) { /* every chain, then that one */
        assert_int_equal(th_chain_verify(c, k ? "even" : NULL, &res, &err), TH_ECORRUPT);
        assert_int_equal(res.problem, TH_CHAIN_BAD_HASH);
        assert_string_equal(res.actor, "even");
        assert_int_equal(res.seq, 1);
    }
    assert_int_equal(th_chain_verify(c, "odd", &res, &err), TH_OK);
    assert_int_equal(th_chain_close(c), TH_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_decoder_refuses_damage, setup, teardown),
        cmocka_unit_test(test_v2_hand_built),
        cmocka_unit_test(test_v1_still_decodes),
        cmocka_unit_test(test_v2_bad_varints_and_flags),
        cmocka_unit_test(test_v2_implicit_needs_same_actor),
        cmocka_unit_test_setup_teardown(test_v2_writer_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tail_reads_while_writing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wait_timeout_and_tickets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged_database_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_large_segment, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_read, setup, teardown),
        cmocka_unit_test(test_v3_hand_built),
        cmocka_unit_test(test_v3_repeats_shared),
        cmocka_unit_test(test_decode_one_actor),
        cmocka_unit_test_setup_teardown(test_read_beside_busier_chain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_v3_writer_refs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_v4_check_value, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
