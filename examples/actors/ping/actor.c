/*
 * ping - spawns a pong actor, sends it a one-way message, asks it three
 * times and logs the answers, then shuts down (which stops pong too).
 *
 * Its initial state (init_state in the manifest) names pong's manifest:
 *     {"pong": "path/to/pong.toml"}
 */
#include "theater.h"

#define ROUNDS 3

static th_status ping_init(th_state *state, th_str actor_id)
{
    th_str pong_manifest, pong;
    if (!state->some || !th_json_get_str(state->val, "pong", &pong_manifest))
        return th_fail("ping: the initial state must be {\"pong\": \"<pong manifest>\"}");

    TH_TRY(th_spawn(pong_manifest, TH_NONE, &pong));
    th_logf("ping %.*s spawned pong %.*s", TH_FMT(actor_id), TH_FMT(pong));

    TH_TRY(th_send(pong, TH_BYTES("hello from ping")));
    for (int i = 1; i <= ROUNDS; i++) {
        th_bytes answer;
        TH_TRY(th_request(pong, th_str_bytes(th_format("ping %d", i)), &answer));
        th_logf("ping %d -> %.*s", i, TH_FMT(answer));
    }
    return th_shutdown(TH_NONE);
}

TH_ACTOR_INIT(ping_init)
