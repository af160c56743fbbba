/*
 * test_upgrade.c - hot code upgrade against the actor's other control
 * messages: an upgrade asked for right after a restart (both queued while
 * the actor is busy) waits for the restarted instance's init and then
 * applies, instead of being refused because the actor is starting.  The
 * operation the restart cut off is on the chain (its wasm-call, with or
 * without host calls after it) and replays as recorded.  An upgrade
 * refused because the new code trapped (in its start function, or in
 * migrate) tells the caller where: th_runtime_update_bt's backtrace.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/file.h"
#include "rt_test_util.h"
#include "theater/chain.h"
#include "theater/handlers.h"
#include "theater/runtime.h"
#include "theater/store.h"

/* Spinner busy with message `msg`, then a restart and an upgrade asked
 * for at once; the chain must have `cut` (the types of the cut-off
 * operation's events and the restart) and replay identically. */
static void update_right_after_restart(const char *msg, const char *cut)
{
    rtt t;
    const char *man;
    char id[TH_ACTOR_ID_SIZE], from[65], to[65];
    uint8_t *wasm;
    size_t len;
    char *types, *r, *u;
    th_error err;

    rtt_start(&t, 2);
    man = rtt_manifest(&t, "spinner", rtt_module("spinner"), "runtime message-server",
                       "[limits]\nfuel_per_call = 4000000000");
    rtt_spawn_state(&t, man, NULL, id);
    /* its handle-send spins: the restart and the upgrade both wait in
     * its control queue until the operation yields, and are served in
     * that order in one turn */
    assert_int_equal(th_runtime_send(t.rt, id, (const uint8_t *)msg, strlen(msg), &err), 0);
    assert_true(rtt_calls_wait(&t, id, 1, 10000));
    assert_int_equal(th_runtime_restart(t.rt, id, &err), 0);
    if (base_file_read(rtt_module("spinner"), "spinner", 1u << 20, &wasm, &len, &err) != 0)
        fail_msg("%s", err.msg);
    if (th_runtime_update(t.rt, id, wasm, len, "2", from, to, &err) != 0)
        fail_msg("update: %s", err.msg);
    assert_string_equal(from, to); /* the same code, a new version */
    free(wasm);
    /* on the chain: the restart, the new instance's init (its call and
     * result in one event), then the upgrade */
    types = rtt_event_types(&t, id);
    r = strstr(types, "actor-restarted\nwasm-call\n");
    u = strstr(types, "component-updated\n");
    if (r == NULL || u == NULL || u < r)
        fail_msg("events out of order:\n%s", types);
    /* the operation the restart cut off: its message was taken, so its
     * wasm-call is recorded; the replay runs it up to where its record
     * stops and takes the restart as recorded */
    if (strstr(types, cut) == NULL)
        fail_msg("no operation cut off by the restart (%s):\n%s", cut, types);
    free(types);
    assert_true(rtt_verify_chain(&t, id) > 0);
    rtt_replay_identical(&t, id);
    rtt_stop(&t);
}

/* cut off before any host call: the wasm-call alone, then the restart */
static void test_update_after_restart_cut_quiet(void **unused)
{
    (void)unused;
    update_right_after_restart("x", "wasm-call\nwasm-call\nactor-restarted\n");
}

/* cut off after a host call */
static void test_update_after_restart_cut_after_log(void **unused)
{
    (void)unused;
    update_right_after_restart("l", "wasm-call\nhost-call\nactor-restarted\n");
}

/* Upgrade the running "plain" actor to test module `module`, which traps:
 * refused with `want` in the message and the frames `frames` in the
 * backtrace; the old code keeps running and nothing is recorded. */
static void update_traps(const char *module, const char *want, const char *frames)
{
    rtt t;
    char id[TH_ACTOR_ID_SIZE], *bt = (char *)"unset", *types;
    uint8_t *wasm;
    size_t len;
    th_actor_status st;
    th_error err;

    rtt_start(&t, 2);
    rtt_spawn_state(&t, rtt_manifest(&t, "plain", rtt_module("plain"), "", NULL), NULL, id);
    wasm = rtt_read_file(rtt_module(module), &len);
    assert_int_equal(th_runtime_update_bt(t.rt, id, wasm, len, NULL, NULL, NULL, &bt, &err),
                     TH_ETRAP);
    if (strstr(err.msg, want) == NULL)
        fail_msg("'%s' not in '%s'", want, err.msg);
    assert_non_null(bt);
    assert_string_equal(bt, frames);
    free(bt);
    /* th_runtime_update: the same refusal, without the frames */
    assert_int_equal(th_runtime_update(t.rt, id, wasm, len, NULL, NULL, NULL, &err), TH_ETRAP);
    free(wasm);
    /* the old code runs on; nothing was recorded */
    assert_int_equal(th_runtime_actor_status(t.rt, id, &st, &err), 0);
    assert_int_equal(st, TH_ACTOR_RUNNING);
    types = rtt_event_types(&t, id);
    if (strstr(types, "component-updated") != NULL || strstr(types, "actor-failed") != NULL)
        fail_msg("a refused upgrade was recorded:\n%s", types);
    free(types);
    /* an upgrade that happens gives no backtrace */
    bt = (char *)"unset";
    wasm = rtt_read_file(rtt_module("plain"), &len);
    assert_int_equal(th_runtime_update_bt(t.rt, id, wasm, len, NULL, NULL, NULL, &bt, &err), 0);
    assert_null(bt);
    free(wasm);
    rtt_stop(&t);
}

/* new code whose start function traps (starttrap.wat) */
static void test_update_start_trap_backtrace(void **unused)
{
    (void)unused;
    update_traps("starttrap", "instantiating plain: start function: unreachable",
                 "#0 check\n#1 begin\n");
}

/* new code whose migrate traps (migtrap.wat) */
static void test_update_migrate_trap_backtrace(void **unused)
{
    (void)unused;
    update_traps("migtrap", "migrate unreachable", "#0 rewrite\n#1 migrate\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_update_after_restart_cut_quiet),
        cmocka_unit_test(test_update_after_restart_cut_after_log),
        cmocka_unit_test(test_update_start_trap_backtrace),
        cmocka_unit_test(test_update_migrate_trap_backtrace),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
