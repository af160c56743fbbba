/*
 * test_handoff.c - requests between actors handed off on one worker
 * (sched.c, turn.c): a request to an idle actor runs the target's turn
 * nested in the requester's, on the same thread.  What must hold:
 *
 *   - every answer reaches its requester, also along a chain A -> B -> C
 *     where B's own request is made inside a nested turn (not nested
 *     again), with one worker and with two; the chains verify and hold
 *     every call;
 *   - with one worker, a pair exchanging requests without end does not
 *     starve another actor's requests from outside;
 *   - the requester's call timeout holds when the target it handed off to
 *     never answers (it loops), and the worker goes on serving others.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "rt_test_util.h"
#include "theater/chain.h"

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void spawn(rtt *t, const char *man, char *id)
{
    th_spawn_opts o = {0};
    th_error err;
    int rc;

    o.manifest_path = man;
    rc = th_runtime_spawn(t->rt, &o, id, &err);
    if (rc != 0)
        print_message("spawn: %s\n", err.msg);
    assert_int_equal(rc, 0);
}

/* The relay's manifest, with the [limits] lines `limits` (may be NULL). */
static const char *relay(rtt *t, const char *name, const char *limits)
{
    return rtt_manifest(t, name, rtt_module("relay"), "runtime message-server", limits);
}

/* Tell relay `a` to make n requests of byte p to `to` in a row. */
static void ask_requests(rtt *t, const char *a, uint32_t n, char p, const char *to)
{
    uint8_t msg[42];
    th_error err;

    msg[0] = 'Q';
    memcpy(msg + 1, &n, 4);
    msg[5] = (uint8_t)p;
    memcpy(msg + 6, to, 36);
    assert_int_equal(th_runtime_send(t->rt, a, msg, sizeof msg, &err), 0);
}

static void set_peer(rtt *t, const char *a, const char *to)
{
    uint8_t msg[37];
    th_error err;

    msg[0] = 'S';
    memcpy(msg + 1, to, 36);
    assert_int_equal(th_runtime_send(t->rt, a, msg, sizeof msg, &err), 0);
}

static th_actor_status status_of(rtt *t, const char *id)
{
    th_actor_status st;
    th_error err;

    assert_int_equal(th_runtime_actor_status(t->rt, id, &st, &err), 0);
    return st;
}

/* The event types of `id`'s chain, one letter each, oldest first: 'c'
 * wasm-call, 'h' host-call, 'r' wasm-result, '?' any other (malloc'd). */
static char *chain_types(rtt *t, const char *id)
{
    th_chain_config cfg = {0};
    th_chain_query q = {0};
    th_chain_events evs;
    th_chain *c;
    th_error err;
    char *s;
    size_t i;

    assert_int_equal(th_runtime_flush(t->rt, id, &err), 0);
    cfg.home = t->home;
    cfg.read_only = 1;
    assert_int_equal(th_chain_open(&cfg, &c, &err), TH_OK);
    q.actor = id;
    assert_int_equal(th_chain_read(c, &q, &evs, &err), TH_OK);
    s = malloc(evs.count + 1);
    assert_non_null(s);
    for (i = 0; i < evs.count; i++) {
        const char *ty = evs.items[i].type;
        s[i] = strcmp(ty, "wasm-call") == 0     ? 'c'
               : strcmp(ty, "host-call") == 0   ? 'h'
               : strcmp(ty, "wasm-result") == 0 ? 'r'
                                                : '?';
    }
    s[evs.count] = 0;
    th_chain_events_free(&evs);
    th_chain_close(c);
    return s;
}

/* `s` ends with `pat` repeated n times, then `tail`. */
static bool ends_with_runs(const char *s, const char *pat, size_t n, const char *tail)
{
    size_t lp = strlen(pat), lt = strlen(tail), len = strlen(s), i;

    if (len < n * lp + lt || strcmp(s + len - lt, tail) != 0)
        return false;
    for (i = 0; i < n; i++)
        if (memcmp(s + len - lt - (n - i) * lp, pat, lp) != 0)
            return false;
    return true;
}

/* How many host-call events of `id`'s chain are exactly `data` (its last
 * events durable first). */
static size_t host_calls_exactly(rtt *t, const char *id, const char *data)
{
    th_chain_query q = {0};
    th_chain_events evs = {0};
    th_error err;
    size_t i, n = 0;

    assert_int_equal(th_runtime_flush(t->rt, id, &err), 0);
    q.actor = id;
    assert_int_equal(th_chain_read(th_runtime_chain(t->rt), &q, &evs, &err), 0);
    for (i = 0; i < evs.count; i++)
        n += strcmp(evs.items[i].type, "host-call") == 0 && evs.items[i].data_len == strlen(data) &&
             memcmp(evs.items[i].data, data, evs.items[i].data_len) == 0;
    th_chain_events_free(&evs);
    return n;
}

/* A -> B -> C, N requests: all answered, every call in the chains. */
static void chain(unsigned workers)
{
    enum { N = 2000 };
    rtt t;
    const char *man;
    char a[TH_ACTOR_ID_SIZE], b[TH_ACTOR_ID_SIZE], c[TH_ACTOR_ID_SIZE];

    rtt_start(&t, workers);
    man = relay(&t, "relay", NULL);
    spawn(&t, man, a);
    spawn(&t, man, b);
    spawn(&t, man, c);
    set_peer(&t, b, c);
    assert_true(rtt_calls_wait(&t, b, 1, 10000)); /* init, then "S" */
    ask_requests(&t, a, N, 'x', b);
    assert_true(rtt_log_wait(&t, "qdone", 120000));
    assert_int_equal(status_of(&t, a), TH_ACTOR_RUNNING);
    assert_int_equal(status_of(&t, b), TH_ACTOR_RUNNING);
    assert_int_equal(status_of(&t, c), TH_ACTOR_RUNNING);
    /* init + "S"/"Q" + N requests each (b's "S" came first) */
    assert_int_equal(rtt_calls(&t, a), 2);
    assert_int_equal(rtt_calls(&t, b), 2 + N);
    assert_int_equal(rtt_calls(&t, c), 1 + N);
    /* a: each request a host call; b: each request a call and a host
     * call; c: each request a call */
    assert_true(rtt_verify_chain(&t, a) >= N);
    assert_true(rtt_verify_chain(&t, b) >= 2 * N);
    assert_true(rtt_verify_chain(&t, c) >= N);
    /* and in their order, though the requester's events wait in its batch
     * while the targets' nested turns queue theirs: a's "Q" call, its N
     * requests, the log and its result; b's N calls each with its request
     * inside; c's N calls (call and result in one event) */
    {
        char *ta = chain_types(&t, a), *tb = chain_types(&t, b), *tc = chain_types(&t, c);
        assert_true(ends_with_runs(ta, "h", N + 1, "r"));
        assert_int_equal(ta[strlen(ta) - N - 3], 'c');
        assert_true(ends_with_runs(tb, "chr", N, ""));
        assert_true(ends_with_runs(tc, "c", N, ""));
        free(ta);
        free(tb);
        free(tc);
    }
    /* a host call in the middle of an op (the log after the requests) is
     * written in place into the worker's batch: the same JSON, byte for
     * byte, as one built apart */
    assert_int_equal(host_calls_exactly(&t, a,
                                        "{\"interface\":\"runtime\",\"function\":\"log\","
                                        "\"input\":{\"msg\":\"qdone\"},\"output\":null}"),
                     1);
    rtt_stop(&t);
}

static void test_chain_one_worker(void **unused)
{
    (void)unused;
    chain(1);
}

static void test_chain_two_workers(void **unused)
{
    (void)unused;
    chain(2);
}

/* One worker: a and c exchange requests for a long while; requests from
 * outside to d are answered meanwhile, each within a bound far below the
 * exchange's length. */
static void test_pair_does_not_starve(void **unused)
{
    enum { ROUNDS = 30 };
    rtt t;
    const char *man;
    char a[TH_ACTOR_ID_SIZE], c[TH_ACTOR_ID_SIZE], d[TH_ACTOR_ID_SIZE];
    uint64_t t0, worst = 0;
    int i;

    (void)unused;
    rtt_start(&t, 1);
    man = relay(&t, "relay", "[limits]\ncall_timeout_ms = 0\nfuel_per_call = 0");
    spawn(&t, man, a);
    spawn(&t, man, c);
    spawn(&t, man, d);
    ask_requests(&t, a, 2000000000u, 'y', c); /* far longer than this test */
    assert_true(rtt_calls_wait(&t, c, 100, 10000));
    for (i = 0; i < ROUNDS; i++) {
        char *r;
        t0 = now_ms();
        r = rtt_ask(&t, d, 10000, "ping");
        assert_string_equal(r, "ping");
        free(r);
        if (now_ms() - t0 > worst)
            worst = now_ms() - t0;
    }
    print_message("requests from outside during the exchange: worst %llu ms\n",
                  (unsigned long long)worst);
    assert_false(rtt_log_has(&t, "qdone")); /* the exchange was still going */
    assert_true(worst < 2000);
    rtt_stop(&t);
}

/* The target loops in its handle-request: the requester's call timeout
 * (300 ms) still ends its wait, and the worker serves others meanwhile. */
static void test_timeout_after_handoff(void **unused)
{
    rtt t;
    const char *man, *looper;
    char a[TH_ACTOR_ID_SIZE], b[TH_ACTOR_ID_SIZE], d[TH_ACTOR_ID_SIZE];
    uint64_t t0;
    char *r;

    (void)unused;
    rtt_start(&t, 1);
    man = relay(&t, "relay", "[limits]\ncall_timeout_ms = 300");
    looper = relay(&t, "looper", "[limits]\ncall_timeout_ms = 0\nfuel_per_call = 0");
    spawn(&t, man, a);
    spawn(&t, looper, b);
    spawn(&t, man, d);
    t0 = now_ms();
    ask_requests(&t, a, 1, 'L', b);
    r = rtt_ask(&t, d, 10000, "still here");
    assert_string_equal(r, "still here");
    free(r);
    while (status_of(&t, a) != TH_ACTOR_FAILED && now_ms() - t0 < 20000)
        usleep(10000);
    print_message("requester failed after %llu ms (call timeout 300 ms)\n",
                  (unsigned long long)(now_ms() - t0));
    assert_int_equal(status_of(&t, a), TH_ACTOR_FAILED);
    assert_int_equal(status_of(&t, b), TH_ACTOR_RUNNING);
    rtt_stop(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chain_one_worker),
        cmocka_unit_test(test_chain_two_workers),
        cmocka_unit_test(test_pair_does_not_starve),
        cmocka_unit_test(test_timeout_after_handoff),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
