/*
 * test_upgrade.c - hot code upgrade against the actor's other control
 * messages: an upgrade asked for right after a restart (both queued while
 * the actor is busy) waits for the restarted instance's init and then
 * applies, instead of being refused because the actor is starting.  The
 * operation the restart cut off is on the chain (its wasm-call, with or
 * without host calls after it) and replays as recorded.
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_update_after_restart_cut_quiet),
        cmocka_unit_test(test_update_after_restart_cut_after_log),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
