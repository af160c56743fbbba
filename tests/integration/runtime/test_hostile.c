/*
 * test_hostile.c - the failure flow with actors that misbehave: traps, err
 * results, bad results (out-of-bounds pointers, invalid UTF-8, bad
 * discriminants), runaway loops stopped by fuel or by the call timeout while
 * other actors keep running on the only worker, a memory bomb, unbounded
 * recursion, a forged cabi_realloc, a missing capability.  Every failure is
 * an actor failure reported to whoever supervises it; the host never
 * crashes.
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

static int spawn(rtt *t, const char *man, const char *state, char *id, th_error *err)
{
    th_spawn_opts o = {0};

    o.manifest_path = man;
    if (state != NULL) {
        o.initial_state = (const uint8_t *)state;
        o.initial_state_len = strlen(state);
    }
    return th_runtime_spawn(t->rt, &o, id, err);
}

/* Spawn a hostile actor, send it `msg`, and expect it to fail with a
 * message containing `expect`. */
/* Actor `id` fails, with a message holding `expect`. */
static void expect_failed(rtt *t, const char *id, const char *expect)
{
    th_actor_exit ex;
    th_error err;

    assert_int_equal(th_runtime_wait(t->rt, id, 20000, &ex, &err), 0);
    assert_int_equal(ex.reason, TH_EXIT_FAILED);
    if (strstr(ex.message, expect) == NULL)
        print_message("failure was: %s (expected %s)\n", ex.message, expect);
    assert_non_null(strstr(ex.message, expect));
    free(ex.data);
    free(ex.backtrace);
}

/* The actor of `man`, sent `msg`, fails with a message holding `expect`. */
static void expect_failure(rtt *t, const char *man, const char *msg, const char *expect)
{
    char id[TH_ACTOR_ID_SIZE];
    th_error err;
    int rc = spawn(t, man, NULL, id, &err);

    if (rc != 0)
        print_message("spawn: %s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(th_runtime_send(t->rt, id, (const uint8_t *)msg, strlen(msg), &err), 0);
    expect_failed(t, id, expect);
}

static void test_bad_results(void **unused)
{
    rtt t;
    const char *man;

    (void)unused;
    rtt_start(&t, 2);
    man = rtt_manifest(&t, "hostile", rtt_module("hostile"), "", NULL);
    expect_failure(&t, man, "T", "unreachable");
    expect_failure(&t, man, "E", "returned an error: boom");
    expect_failure(&t, man, "U", "invalid UTF-8");
    expect_failure(&t, man, "O", "out-of-bounds");
    expect_failure(&t, man, "D", "invalid result discriminant");
    expect_failure(&t, man, "A", "misaligned result pointer");
    expect_failure(&t, man, "S", "out-of-bounds");
    expect_failure(&t, man, "R", "handle-send");
    rtt_stop(&t);
}

/* Ask `id` something and check the answer (proves it is being served). */
static void ask(rtt *t, const char *id, const char *q)
{
    uint8_t *resp;
    size_t len;
    th_error err;

    assert_int_equal(
        th_runtime_request(t->rt, id, (const uint8_t *)q, strlen(q), 5000, &resp, &len, &err), 0);
    assert_int_equal(len, strlen(q));
    assert_memory_equal(resp, q, len);
    free(resp);
}

static void test_runaway_fuel(void **unused)
{
    rtt t;
    const char *loopy, *calm;
    char calm_id[TH_ACTOR_ID_SIZE], id[TH_ACTOR_ID_SIZE];
    th_actor_exit ex;
    th_error err;

    (void)unused;
    rtt_start(&t, 1); /* one worker: the loop must not hold it */
    loopy =
        rtt_manifest(&t, "loopy", rtt_module("hostile"), "", "[limits]\nfuel_per_call = 20000000");
    calm = rtt_manifest(&t, "calm", rtt_module("hostile"), "", NULL);
    assert_int_equal(spawn(&t, calm, NULL, calm_id, &err), 0);
    assert_int_equal(spawn(&t, loopy, NULL, id, &err), 0);
    assert_int_equal(th_runtime_send(t.rt, id, (const uint8_t *)"L", 1, &err), 0);
    ask(&t, calm_id, "still here");
    ask(&t, calm_id, "and here");
    assert_int_equal(th_runtime_wait(t.rt, id, 30000, &ex, &err), 0);
    free(ex.backtrace); /* (th_actor_exit: the caller's) */
    assert_int_equal(ex.reason, TH_EXIT_FAILED);
    assert_non_null(strstr(ex.message, "fuel exhausted"));
    ask(&t, calm_id, "after");
    rtt_stop(&t);
}

static void test_runaway_timeout(void **unused)
{
    rtt t;
    const char *loopy, *calm;
    char calm_id[TH_ACTOR_ID_SIZE], id[TH_ACTOR_ID_SIZE];
    th_actor_exit ex;
    th_error err;
    int i;

    (void)unused;
    rtt_start(&t, 1);
    loopy = rtt_manifest(&t, "loopy", rtt_module("hostile"), "", "[limits]\ncall_timeout_ms = 300");
    calm = rtt_manifest(&t, "calm", rtt_module("hostile"), "", NULL);
    assert_int_equal(spawn(&t, calm, NULL, calm_id, &err), 0);
    assert_int_equal(spawn(&t, loopy, NULL, id, &err), 0);
    assert_int_equal(th_runtime_send(t.rt, id, (const uint8_t *)"L", 1, &err), 0);
    for (i = 0; i < 5; i++)
        ask(&t, calm_id, "alive");
    assert_int_equal(th_runtime_wait(t.rt, id, 10000, &ex, &err), 0);
    free(ex.backtrace); /* (th_actor_exit: the caller's) */
    assert_int_equal(ex.reason, TH_EXIT_FAILED);
    assert_non_null(strstr(ex.message, "call timeout of 300 ms"));
    rtt_stop(&t);
}

/* limits.stack_bytes: a recursion 50,000 deep (a few MiB of wasm stack)
 * fails under 256 KiB, the failure naming the limit and how to raise it,
 * and finishes under 16 MiB and under the default (8 MiB). */
static void test_stack_limit(void **unused)
{
    rtt t;
    const char *small, *big, *dflt;
    char id[TH_ACTOR_ID_SIZE];
    th_error err;

    (void)unused;
    rtt_start(&t, 2);
    small = rtt_manifest(&t, "small", rtt_module("hostile"), "", "[limits]\nstack_bytes = 262144");
    big = rtt_manifest(&t, "big", rtt_module("hostile"), "", "[limits]\nstack_bytes = 16777216");
    dflt = rtt_manifest(&t, "dflt", rtt_module("hostile"), "", NULL);
    expect_failure(&t, small, "N", "the wasm stack limit of 262144 bytes was reached");
    expect_failure(&t, small, "N", "`stack_bytes` under [limits]");

    assert_int_equal(spawn(&t, big, NULL, id, &err), 0);
    assert_int_equal(th_runtime_send(t.rt, id, (const uint8_t *)"N", 1, &err), 0);
    ask(&t, id, "deep and alive"); /* served after the send: it finished */

    assert_int_equal(spawn(&t, dflt, NULL, id, &err), 0);
    assert_int_equal(th_runtime_send(t.rt, id, (const uint8_t *)"N", 1, &err), 0);
    ask(&t, id, "deep and alive");
    rtt_stop(&t);
}

static void test_memory_bomb(void **unused)
{
    rtt t;
    const char *man;

    (void)unused;
    rtt_start(&t, 2);
    man = rtt_manifest(&t, "bomb", rtt_module("hostile"), "", "[limits]\nmemory_bytes = 1048576");
    expect_failure(&t, man, "M", "memory limit");
    rtt_stop(&t);
}

static void test_forged_realloc(void **unused)
{
    rtt t;
    const char *man;
    char id[TH_ACTOR_ID_SIZE];
    th_error err;
    char **ids;
    size_t n;

    (void)unused;
    rtt_start(&t, 2);
    man = rtt_manifest(&t, "forged", rtt_module("forged"), "", NULL);
    assert_int_not_equal(spawn(&t, man, NULL, id, &err), 0);
    assert_non_null(strstr(err.msg, "cabi_realloc"));
    assert_int_not_equal(spawn(&t, man, "some state", id, &err), 0);
    assert_non_null(strstr(err.msg, "cabi_realloc"));
    /* the failed spawns left nothing behind */
    assert_int_equal(th_runtime_list_actors(t.rt, &ids, &n, &err), 0);
    assert_int_equal(n, 0);
    th_runtime_strv_free(ids);
    rtt_stop(&t);
}

/* cabi_realloc called by the host inside a host call (get-chain) spends
 * fuel beyond what the caller's slice had left: it still counts against
 * fuel_per_call.  The same actor without the burning allocator keeps
 * running under the same limit. */
static void test_realloc_fuel_charged(void **unused)
{
    rtt t;
    const char *man;
    char calm[TH_ACTOR_ID_SIZE];
    th_actor_exit ex;
    th_error err;
    int i;

    (void)unused;
    rtt_start(&t, 2);
    man = rtt_manifest(&t, "burner", rtt_module("burner"), "runtime",
                       "[limits]\nfuel_per_call = 500000");
    assert_int_equal(spawn(&t, man, NULL, calm, &err), 0);
    for (i = 0; i < 3; i++)
        assert_int_equal(th_runtime_send(t.rt, calm, (const uint8_t *)"x", 1, &err), 0);
    expect_failure(&t, man, "B", "fuel exhausted in handle-send");
    assert_int_equal(th_runtime_wait(t.rt, calm, 300, &ex, &err), TH_ETIMEDOUT);
    rtt_stop(&t);
}

static void test_capability_refused(void **unused)
{
    rtt t;
    const char *man;
    char id[TH_ACTOR_ID_SIZE];
    th_error err;

    (void)unused;
    rtt_start(&t, 1);
    man = rtt_manifest(&t, "caps", rtt_module("caps"), "runtime", NULL);
    assert_int_equal(spawn(&t, man, NULL, id, &err), TH_EPERM);
    assert_non_null(strstr(err.msg, "\"theater:simple/timing\" \"now\""));
    assert_non_null(strstr(err.msg, "\"timing\" handler"));
    man = rtt_manifest(&t, "caps2", rtt_module("caps"), "runtime timing", NULL);
    assert_int_equal(spawn(&t, man, NULL, id, &err), 0);
    rtt_stop(&t);
}

/* An export the WIT names, or its post-return, with a core type that is
 * not the Canonical ABI's refuses the spawn, naming the export and both
 * types (before, the actor started and failed at the export's first
 * call with "cannot call handle-request: invalid argument"). */
static void test_export_types_refused(void **unused)
{
    rtt t;
    const char *man;
    char id[TH_ACTOR_ID_SIZE];
    th_error err;

    (void)unused;
    rtt_start(&t, 1);
    man = rtt_manifest(&t, "badexport", rtt_module("badexport"), "runtime http-framework", NULL);
    assert_int_equal(spawn(&t, man, NULL, id, &err), TH_ELINK);
    assert_non_null(strstr(err.msg, "export theater:simple/http-handlers#handle-request has type "
                                    "i>i, expected iiiIiiiiiiiii>i"));
    man = rtt_manifest(&t, "badpost", rtt_module("badpost"), "runtime message-server", NULL);
    assert_int_equal(spawn(&t, man, NULL, id, &err), TH_ELINK);
    assert_non_null(strstr(err.msg, "export cabi_post_theater:simple/message-server-client#"
                                    "handle-send has type ii>, expected i>"));
    man = rtt_manifest(&t, "plain", rtt_module("plain"), "runtime", NULL);
    assert_int_equal(spawn(&t, man, NULL, id, &err), 0);
    rtt_stop(&t);
}

/* A cabi_realloc that calls a host function while the host lowers a
 * result into it fails the actor, naming the rule (before, the call was
 * made and recorded ahead of the host call that was lowering, and the
 * chain could not be replayed). */
static void test_realloc_may_not_call_host(void **unused)
{
    rtt t;
    const char *man;

    (void)unused;
    rtt_start(&t, 1);
    man = rtt_manifest(&t, "reentrant", rtt_module("reentrant"), "runtime message-server random",
                       NULL);
    expect_failure(&t, man, "x", "host call log not made: cabi_realloc may not call the host");
    rtt_stop(&t);
}

/* A post-return that calls a host function fails the actor, naming the
 * rule (before, the call was made and recorded after the export's result);
 * the chain of that failure replays identically. */
static void test_post_return_may_not_call_host(void **unused)
{
    char id[TH_ACTOR_ID_SIZE];
    th_error err;
    rtt t;
    const char *man;

    (void)unused;
    rtt_start(&t, 1);
    man = rtt_manifest(&t, "postcall", rtt_module("postcall"), "runtime message-server", NULL);
    rtt_spawn_state(&t, man, NULL, id);
    assert_int_equal(th_runtime_send(t.rt, id, (const uint8_t *)"y", 1, &err), 0);
    assert_int_equal(th_runtime_send(t.rt, id, (const uint8_t *)"x", 1, &err), 0);
    expect_failed(&t, id, "host call log not made: a post-return may not call the host");
    rtt_replay_identical(&t, id);
    rtt_stop(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_results),
        cmocka_unit_test(test_runaway_fuel),
        cmocka_unit_test(test_runaway_timeout),
        cmocka_unit_test(test_memory_bomb),
        cmocka_unit_test(test_forged_realloc),
        cmocka_unit_test(test_realloc_fuel_charged),
        cmocka_unit_test(test_capability_refused),
        cmocka_unit_test(test_stack_limit),
        cmocka_unit_test(test_export_types_refused),
        cmocka_unit_test(test_realloc_may_not_call_host),
        cmocka_unit_test(test_post_return_may_not_call_host),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
