/*
 * test_chain_segment.c - the chain's storage layer: the segment decoder on
 * damaged input (every truncation and many byte flips of a real segment, and
 * random garbage, must be refused or decoded without reading out of
 * bounds), reads of events committed after the last index flush (the
 * unindexed tail) from a second, read-only handle while the writer runs,
 * durability waits that time out, and refusal of a damaged database.
 */
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
#include "store/store_int.h"
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
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT events FROM chain_segment WHERE id = 1", -1,
                                        &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    *len = (size_t)sqlite3_column_bytes(st, 0);
    b = malloc(*len);
    memcpy(b, sqlite3_column_blob(st, 0), *len);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return b;
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
    /* Every proper prefix is refused. */
    for (i = 0; i < len; i++)
        assert_int_equal(decode_copy(b, i, &seg), -1);
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
            memcpy(m, "THSEG-v1", 8);
        (void)decode_copy(m, (size_t)rand() % (len + 1), &seg);
    }
    printf("  %zu byte flips: %d still decode (changed contents), %d refused\n", len, ok, refused);
    free(m);
    free(b);
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
        assert_int_equal(th_chain_append(w, i % 2 ? "odd" : "even", "t", &i, sizeof i, NULL, NULL,
                                         &err),
                         TH_OK);
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
    assert_int_equal(*(const int *)evs.items[0].data, 11);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_decoder_refuses_damage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tail_reads_while_writing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wait_timeout_and_tickets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged_database_refused, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
