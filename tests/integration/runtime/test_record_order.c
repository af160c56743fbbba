/*
 * test_record_order.c - an actor's events appended by several threads
 * (record.c): a worker appends the batch of a plain turn itself, while
 * the batches of turns that handed requests over, and single events, go
 * through the recorder thread.  What must hold when one actor's events
 * come both ways at once, with one worker and with two:
 *
 *   - its subscribers hear every event once, in chain order: sequence
 *     numbers one after the other, each event's parent the hash of the one
 *     heard before;
 *   - its chain verifies and holds every call in the order the actor
 *     handled them (each records the count of calls so far): the flood's
 *     one-way messages (plain turns) and the requests handed over to it
 *     (nested turns) alike;
 *   - what the subscribers heard is what the chain holds.
 *
 * Modules: counted.wat (the receiver: counts its calls), flood.wat (sends n
 * one-way messages of 1 KiB to its peer) and relay.wat (makes n requests
 * in a row).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "rt_test_util.h"
#include "theater/chain.h"

/* What a subscriber heard of one actor. */
typedef struct heard {
    pthread_mutex_t lock;
    uint64_t count;     /* events heard */
    uint64_t first_seq; /* of the first one */
    uint64_t next_seq;  /* expected next */
    uint8_t last[32];   /* hash of the last one */
    unsigned bad;       /* events out of order or not linked */
    char why[160];      /* the first such */
} heard;

static void on_event(void *ud, const th_runtime_event *ev)
{
    heard *h = ud;

    pthread_mutex_lock(&h->lock);
    if (ev->hash == NULL || ev->seq == UINT64_MAX) {
        if (h->bad++ == 0)
            snprintf(h->why, sizeof h->why, "event %s not recorded", ev->type);
    } else if (h->count > 0 && (ev->seq != h->next_seq || ev->parent_hash == NULL ||
                                memcmp(ev->parent_hash, h->last, 32) != 0)) {
        if (h->bad++ == 0)
            snprintf(h->why, sizeof h->why, "seq %llu (%s) heard after seq %llu%s",
                     (unsigned long long)ev->seq, ev->type, (unsigned long long)h->next_seq - 1,
                     ev->seq == h->next_seq ? ": not linked to it" : "");
    }
    if (ev->hash != NULL) {
        if (h->count == 0)
            h->first_seq = ev->seq;
        memcpy(h->last, ev->hash, 32);
        h->next_seq = ev->seq + 1;
    }
    h->count++;
    pthread_mutex_unlock(&h->lock);
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The count a counted.wat event records ("state":"<16 hex digits>", a u64
 * little-endian), or 0 if it records none. */
static uint64_t tally_of(const th_chain_event *e)
{
    static const char key[] = "\"state\":\"";
    const char *d = (const char *)e->data, *p = NULL;
    uint64_t v = 0;
    size_t i, k = sizeof key - 1;
    int j;

    for (i = 0; i + k + 16 <= e->data_len && p == NULL; i++)
        if (memcmp(d + i, key, k) == 0)
            p = d + i + k;
    if (p == NULL)
        return 0;
    for (j = 7; j >= 0; j--) {
        int hi = hexval(p[2 * j]), lo = hexval(p[2 * j + 1]);
        if (hi < 0 || lo < 0)
            return 0;
        v = v << 8 | (uint64_t)(hi << 4 | lo);
    }
    return v;
}

/* Read `id`'s chain (flushed first): its events in *total and the hash of
 * the last in `last`; every count counted.wat recorded must be the one
 * before plus one (each call in its place).  Returns the calls counted. */
static uint64_t chain_tallies(rtt *t, const char *id, size_t *total, uint8_t last[32] /* out */)
{
    th_chain_query q = {0};
    th_chain_events evs = {0};
    th_error err;
    uint64_t seen = 0, v;
    size_t i;

    assert_int_equal(th_runtime_flush(t->rt, id, &err), 0);
    q.actor = id;
    assert_int_equal(th_chain_read(th_runtime_chain(t->rt), &q, &evs, &err), 0);
    for (i = 0; i < evs.count; i++) {
        if ((v = tally_of(&evs.items[i])) == 0)
            continue;
        if (v != seen + 1)
            print_message("event %zu records call %llu after call %llu\n", i, (unsigned long long)v,
                          (unsigned long long)seen);
        assert_int_equal(v, seen + 1);
        seen = v;
    }
    *total = evs.count;
    assert_true(evs.count > 0);
    memcpy(last, evs.items[evs.count - 1].hash, 32);
    th_chain_events_free(&evs);
    return seen;
}

/* rx is flooded with one-way messages by tx and asked requests by rq at
 * the same time. */
static void flood_and_requests(unsigned workers)
{
    enum { SENDS = 20000, REQUESTS = 3000 };
    rtt t;
    char rx[TH_ACTOR_ID_SIZE], tx[TH_ACTOR_ID_SIZE], rq[TH_ACTOR_ID_SIZE];
    uint8_t flood[5] = {'F'}, ask[42] = {'Q'};
    uint32_t n;
    uint8_t last[32];
    heard h = {.lock = PTHREAD_MUTEX_INITIALIZER};
    size_t total;
    uint64_t sub;
    th_error err;

    rtt_start(&t, workers);
    rtt_spawn_state(&t, rtt_manifest(&t, "rx", rtt_module("counted"), "", NULL), NULL, rx);
    assert_int_equal(th_runtime_subscribe(t.rt, rx, on_event, &h, &sub, &err), 0);
    rtt_spawn_state(&t, rtt_manifest(&t, "tx", rtt_module("flood"), "runtime message-server", NULL),
                    rx, tx);
    rtt_spawn_state(&t, rtt_manifest(&t, "rq", rtt_module("relay"), "runtime message-server", NULL),
                    NULL, rq);
    n = SENDS;
    memcpy(flood + 1, &n, 4);
    n = REQUESTS;
    memcpy(ask + 1, &n, 4);
    ask[5] = 'y';
    memcpy(ask + 6, rx, 36);
    assert_int_equal(th_runtime_send(t.rt, tx, flood, sizeof flood, &err), 0);
    assert_int_equal(th_runtime_send(t.rt, rq, ask, sizeof ask, &err), 0);
    assert_true(rtt_log_wait(&t, "flood done", 120000));
    assert_true(rtt_log_wait(&t, "qdone", 120000));
    /* everything of rx handled: then its chain holds every call */
    assert_true(rtt_calls_wait(&t, rx, SENDS + REQUESTS, 120000));
    assert_int_equal(chain_tallies(&t, rx, &total, last), SENDS + REQUESTS);
    assert_int_equal(th_runtime_unsubscribe(t.rt, sub), 0);
    assert_true(rtt_verify_chain(&t, rx) == total);
    pthread_mutex_lock(&h.lock);
    if (h.bad != 0)
        print_message("%u events out of order; the first: %s\n", h.bad, h.why);
    assert_int_equal(h.bad, 0);
    /* heard from where the subscription began to the chain's end */
    assert_int_equal(h.first_seq + h.count, total);
    assert_memory_equal(h.last, last, 32);
    pthread_mutex_unlock(&h.lock);
    rtt_stop(&t);
}

static void test_one_worker(void **unused)
{
    (void)unused;
    flood_and_requests(1);
}

static void test_two_workers(void **unused)
{
    (void)unused;
    flood_and_requests(2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_worker),
        cmocka_unit_test(test_two_workers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
