/*
 * ping - spawns a pong actor, sends it a one-way message, asks it three
 * times and logs the answers, then shuts down (which stops pong too).
 *
 * Its initial state (init_state in the manifest) names pong's manifest:
 *     {"pong": "path/to/pong.toml"}
 */
#include "theater.h"

#define ROUNDS 3

static ta_status ping_init(ta_state *state, ta_str actor_id)
{
    ta_str pong_manifest, pong;
    if (!state->some || !ta_json_get_str(state->val, "pong", &pong_manifest))
        return ta_fail("ping: the initial state must be {\"pong\": \"<pong manifest>\"}");

    ta_status st = ta_spawn(pong_manifest, TA_NONE, &pong);
    if (!st.ok)
        return st;
    ta_logf("ping %.*s spawned pong %.*s", TA_FMT(actor_id), TA_FMT(pong));

    st = ta_send(pong, TA_BYTES("hello from ping"));
    if (!st.ok)
        return st;
    for (int i = 1; i <= ROUNDS; i++) {
        ta_bytes answer;
        st = ta_request(pong, ta_str_bytes(ta_format("ping %d", i)), &answer);
        if (!st.ok)
            return st;
        ta_logf("ping %d -> %.*s", i, TA_FMT(answer));
    }
    return ta_shutdown(TA_NONE);
}

TA_ACTOR_INIT(ping_init)
