/*
 * upgrader - a supervisor that upgrades its child (supervisor.update-child,
 * this project's extension), for upgrade.sh.  Its initial state names the
 * child's manifest: {"child": "path"}; init spawns it and keeps its id as
 * the state.  A request carries new code for the child: the answer is
 * "ok" once the child runs it, or "err: <why>" when it was refused.
 */
#include "theater.h"

static ta_status up_init(ta_state *state, ta_str actor_id)
{
    ta_str manifest, child;
    if (!state->some || !ta_json_get_str(state->val, "child", &manifest))
        return ta_fail("upgrader: the initial state must be {\"child\": \"<manifest>\"}");
    ta_status st = ta_spawn(manifest, TA_NONE, &child);
    if (!st.ok)
        return st;
    ta_state_set(state, child.ptr, child.len);
    return TA_OK;
}

static ta_status up_request(ta_state *state, ta_str request_id, ta_bytes msg,
                            ta_opt_bytes *response)
{
    ta_str child = {(const char *)state->val.ptr, state->val.len};
    ta_status st = ta_update_child(child, msg);
    if (st.ok) {
        *response = ta_some(TA_BYTES("ok"));
    } else {
        ta_str text = ta_format("err: %.*s", TA_FMT(st.err));
        *response = ta_some(ta_str_bytes(text));
    }
    return TA_OK;
}

TA_ACTOR_INIT(up_init)
TA_HANDLE_REQUEST(up_request)
