/*
 * supervisor - spawns two workers, gives the first a job and makes the
 * second crash. The runtime reports the crash to handle-child-error, which
 * restarts that worker with restart-child, checks that it answers again and
 * shuts down (stopping the workers first).
 *
 * Its initial state names the workers' manifest:
 *     {"worker": "path/to/worker.toml"}
 * With "mode": "live" (for a daemon: `theater start`) it stays: nothing
 * crashes at init, a one-way message "crash" makes the second worker crash,
 * any other message is a job for the first worker, and after a restart it
 * carries on instead of shutting down.
 */
#include "theater.h"

/* "mode": "live" in the initial state (which stays the actor's state). */
static bool live(ta_state *state)
{
    ta_str mode;

    return state->some && ta_json_get_str(state->val, "mode", &mode) &&
           ta_bytes_eq_c(ta_str_bytes(mode), "live");
}

static ta_status supervisor_init(ta_state *state, ta_str actor_id)
{
    ta_str manifest, first, second;
    ta_bytes answer;
    if (!state->some || !ta_json_get_str(state->val, "worker", &manifest))
        return ta_fail("supervisor: the initial state must be {\"worker\": \"<manifest>\"}");

    ta_status st = ta_spawn(manifest, TA_NONE, &first);
    if (!st.ok)
        return st;
    st = ta_spawn(manifest, TA_NONE, &second);
    if (!st.ok)
        return st;
    ta_logf("supervisor %.*s: spawned workers %.*s and %.*s", TA_FMT(actor_id), TA_FMT(first),
            TA_FMT(second));

    st = ta_request(first, TA_BYTES("job 1"), &answer);
    if (!st.ok)
        return st;
    ta_logf("supervisor: %.*s answered \"%.*s\"", TA_FMT(first), TA_FMT(answer));

    if (live(state)) {
        /* remember the workers: the state becomes {"worker", "mode", "first", "second"} */
        ta_str next = ta_format(
            "{\"worker\":\"%.*s\",\"mode\":\"live\",\"first\":\"%.*s\",\"second\":\"%.*s\"}",
            TA_FMT(manifest), TA_FMT(first), TA_FMT(second));
        ta_state_set(state, next.ptr, next.len);
        return TA_OK;
    }
    /* The failure comes back later, as a call to handle-child-error. */
    return ta_send(second, TA_BYTES("crash"));
}

static ta_status supervisor_send(ta_state *state, ta_bytes msg)
{
    ta_str first, second;
    ta_bytes answer;

    if (!state->some || !ta_json_get_str(state->val, "first", &first) ||
        !ta_json_get_str(state->val, "second", &second))
        return ta_fail("supervisor: messages are for the live mode only");
    if (ta_bytes_eq_c(msg, "crash")) {
        ta_logf("supervisor: telling worker %.*s to crash", TA_FMT(second));
        return ta_send(second, TA_BYTES("crash"));
    }
    ta_status st = ta_request(first, msg, &answer);
    if (!st.ok)
        return st;
    ta_logf("supervisor: %.*s answered \"%.*s\"", TA_FMT(first), TA_FMT(answer));
    return TA_OK;
}

static ta_status supervisor_child_error(ta_state *state, ta_str child_id, ta_actor_error error)
{
    ta_bytes answer;
    ta_logf("supervisor: worker %.*s failed (%s%s%.*s)", TA_FMT(child_id),
            ta_error_type_name(error.error_type), error.data.some ? ": " : "",
            TA_FMT(error.data.val));

    ta_status st = ta_restart_child(child_id);
    if (!st.ok)
        return st;
    ta_logf("supervisor: restarted worker %.*s", TA_FMT(child_id));

    st = ta_request(child_id, TA_BYTES("job 2"), &answer);
    if (!st.ok)
        return st;
    ta_logf("supervisor: restarted worker %.*s answered \"%.*s\"", TA_FMT(child_id),
            TA_FMT(answer));
    if (live(state))
        return TA_OK;
    return ta_shutdown(TA_NONE);
}

static ta_status supervisor_child_exit(ta_state *state, ta_str child_id, ta_opt_bytes data)
{
    ta_logf("supervisor: worker %.*s exited", TA_FMT(child_id));
    return TA_OK;
}

static ta_status supervisor_child_stop(ta_state *state, ta_str child_id)
{
    ta_logf("supervisor: worker %.*s was stopped from outside", TA_FMT(child_id));
    return TA_OK;
}

TA_ACTOR_INIT(supervisor_init)
TA_HANDLE_SEND(supervisor_send)
TA_HANDLE_CHILD_ERROR(supervisor_child_error)
TA_HANDLE_CHILD_EXIT(supervisor_child_exit)
TA_HANDLE_CHILD_EXTERNAL_STOP(supervisor_child_stop)
