/*
 * pong - answers every request with "pong" and logs the one-way messages
 * it gets. Spawned by the ping example.
 */
#include "theater.h"

static ta_status pong_init(ta_state *state, ta_str actor_id)
{
    ta_logf("pong %.*s ready", TA_FMT(actor_id));
    return TA_OK;
}

static ta_status pong_send(ta_state *state, ta_bytes msg)
{
    ta_logf("pong got a message: %.*s", TA_FMT(msg));
    return TA_OK;
}

static ta_status pong_request(ta_state *state, ta_str request_id, ta_bytes msg,
                              ta_opt_bytes *response)
{
    ta_logf("pong got a request: %.*s", TA_FMT(msg));
    *response = ta_some(TA_BYTES("pong"));
    return TA_OK;
}

TA_ACTOR_INIT(pong_init)
TA_HANDLE_SEND(pong_send)
TA_HANDLE_REQUEST(pong_request)
