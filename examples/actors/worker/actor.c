/*
 * worker - the supervisor example's child. Answers a request with
 * "done: <request>"; a one-way message "crash" makes it trap.
 */
#include "theater.h"

static ta_status worker_init(ta_state *state, ta_str actor_id)
{
    ta_logf("worker %.*s started", TA_FMT(actor_id));
    return TA_OK;
}

static ta_status worker_send(ta_state *state, ta_bytes msg)
{
    if (ta_bytes_eq_c(msg, "crash")) {
        ta_log("worker: crashing on purpose");
        ta_trap();
    }
    ta_logf("worker got: %.*s", TA_FMT(msg));
    return TA_OK;
}

static ta_status worker_request(ta_state *state, ta_str request_id, ta_bytes msg,
                                ta_opt_bytes *response)
{
    *response = ta_some(ta_str_bytes(ta_format("done: %.*s", TA_FMT(msg))));
    return TA_OK;
}

TA_ACTOR_INIT(worker_init)
TA_HANDLE_SEND(worker_send)
TA_HANDLE_REQUEST(worker_request)
