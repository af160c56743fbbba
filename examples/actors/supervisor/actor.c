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
static bool live(th_state *state)
{
    th_str mode;

    return state->some && th_json_get_str(state->val, "mode", &mode) && th_bytes_eq_c(th_str_bytes(mode), "live");
}

static th_status supervisor_init(th_state *state, th_str actor_id)
{
    th_str manifest, first, second;
    th_bytes answer;
    if (!state->some || !th_json_get_str(state->val, "worker", &manifest))
        return th_fail("supervisor: the initial state must be {\"worker\": \"<manifest>\"}");

    TH_TRY(th_spawn(manifest, TH_NONE, &first));
    TH_TRY(th_spawn(manifest, TH_NONE, &second));
    th_logf("supervisor %.*s: spawned workers %.*s and %.*s", TH_FMT(actor_id), TH_FMT(first),
            TH_FMT(second));

    TH_TRY(th_request(first, TH_BYTES("job 1"), &answer));
    th_logf("supervisor: %.*s answered \"%.*s\"", TH_FMT(first), TH_FMT(answer));

    if (live(state)) {
        /* remember the workers: the state becomes {"worker", "mode", "first", "second"} */
        th_str st = th_format("{\"worker\":\"%.*s\",\"mode\":\"live\",\"first\":\"%.*s\",\"second\":\"%.*s\"}",
                              TH_FMT(manifest), TH_FMT(first), TH_FMT(second));
        th_state_set(state, st.ptr, st.len);
        return TH_OK;
    }
    /* The failure comes back later, as a call to handle-child-error. */
    return th_send(second, TH_BYTES("crash"));
}

static th_status supervisor_send(th_state *state, th_bytes msg)
{
    th_str first, second;
    th_bytes answer;

    if (!state->some || !th_json_get_str(state->val, "first", &first) ||
        !th_json_get_str(state->val, "second", &second))
        return th_fail("supervisor: messages are for the live mode only");
    if (th_bytes_eq_c(msg, "crash")) {
        th_logf("supervisor: telling worker %.*s to crash", TH_FMT(second));
        return th_send(second, TH_BYTES("crash"));
    }
    TH_TRY(th_request(first, msg, &answer));
    th_logf("supervisor: %.*s answered \"%.*s\"", TH_FMT(first), TH_FMT(answer));
    return TH_OK;
}

static th_status supervisor_child_error(th_state *state, th_str child_id, th_actor_error error)
{
    th_bytes answer;
    th_logf("supervisor: worker %.*s failed (%s%s%.*s)", TH_FMT(child_id),
            th_error_type_name(error.error_type), error.data.some ? ": " : "",
            TH_FMT(error.data.val));

    TH_TRY(th_restart_child(child_id));
    th_logf("supervisor: restarted worker %.*s", TH_FMT(child_id));

    TH_TRY(th_request(child_id, TH_BYTES("job 2"), &answer));
    th_logf("supervisor: restarted worker %.*s answered \"%.*s\"", TH_FMT(child_id),
            TH_FMT(answer));
    if (live(state))
        return TH_OK;
    return th_shutdown(TH_NONE);
}

static th_status supervisor_child_exit(th_state *state, th_str child_id, th_opt_bytes data)
{
    th_logf("supervisor: worker %.*s exited", TH_FMT(child_id));
    return TH_OK;
}

static th_status supervisor_child_stop(th_state *state, th_str child_id)
{
    th_logf("supervisor: worker %.*s was stopped from outside", TH_FMT(child_id));
    return TH_OK;
}

TH_ACTOR_INIT(supervisor_init)
TH_HANDLE_SEND(supervisor_send)
TH_HANDLE_CHILD_ERROR(supervisor_child_error)
TH_HANDLE_CHILD_EXIT(supervisor_child_exit)
TH_HANDLE_CHILD_EXTERNAL_STOP(supervisor_child_stop)
