/*
 * worker - the supervisor example's child. Answers a request with
 * "done: <request>"; a one-way message "crash" makes it trap.
 */
#include "theater.h"

static th_status worker_init(th_state *state, th_str actor_id)
{
    th_logf("worker %.*s started", TH_FMT(actor_id));
    return TH_OK;
}

static th_status worker_send(th_state *state, th_bytes msg)
{
    if (th_bytes_eq_c(msg, "crash")) {
        th_log("worker: crashing on purpose");
        th_trap();
    }
    th_logf("worker got: %.*s", TH_FMT(msg));
    return TH_OK;
}

static th_status worker_request(th_state *state, th_str request_id, th_bytes msg,
                                th_opt_bytes *response)
{
    *response = th_some(th_str_bytes(th_format("done: %.*s", TH_FMT(msg))));
    return TH_OK;
}

TH_ACTOR_INIT(worker_init)
TH_HANDLE_SEND(worker_send)
TH_HANDLE_REQUEST(worker_request)
