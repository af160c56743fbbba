/*
 * asker - replay_bench's message-heavy actor: it spawns the pong example
 * (its initial state names pong's manifest: {"pong": "path"}) and, for
 * each one-way message "N", asks pong N times (message-server request),
 * counting the answers in its state.  In a live run every request waits
 * for pong's turn; in a replay every answer comes from the record.
 */
#include "theater.h"

static ta_status asker_init(ta_state *state, ta_str actor_id)
{
    ta_str pong_manifest, pong;
    if (!state->some || !ta_json_get_str(state->val, "pong", &pong_manifest))
        return ta_fail("asker: the initial state must be {\"pong\": \"<pong manifest>\"}");
    ta_status st = ta_spawn(pong_manifest, TA_NONE, &pong);
    if (!st.ok)
        return st;
    ta_state_set(state, pong.ptr, pong.len); /* the state: pong's id */
    return TA_OK;
}

static ta_status asker_send(ta_state *state, ta_bytes msg)
{
    uint64_t n = 0;
    ta_str pong = {(const char *)state->val.ptr, state->val.len};
    if (!ta_parse_u64(msg, &n))
        return ta_fail("asker: the message must be a number");
    for (uint64_t i = 0; i < n; i++) {
        ta_bytes answer;
        ta_status st = ta_request(pong, TA_BYTES("ping"), &answer);
        if (!st.ok)
            return st;
    }
    return TA_OK;
}

TA_ACTOR_INIT(asker_init)
TA_HANDLE_SEND(asker_send)
