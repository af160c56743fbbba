/*
 * pong - answers every request with "pong" and logs the one-way messages
 * it gets. Spawned by the ping example.
 */
#include "theater.h"

static th_status pong_init(th_state *state, th_str actor_id)
{
    th_logf("pong %.*s ready", TH_FMT(actor_id));
    return TH_OK;
}

static th_status pong_send(th_state *state, th_bytes msg)
{
    th_logf("pong got a message: %.*s", TH_FMT(msg));
    return TH_OK;
}

static th_status pong_request(th_state *state, th_str request_id, th_bytes msg,
                              th_opt_bytes *response)
{
    th_logf("pong got a request: %.*s", TH_FMT(msg));
    *response = th_some(TH_BYTES("pong"));
    return TH_OK;
}

TH_ACTOR_INIT(pong_init)
TH_HANDLE_SEND(pong_send)
TH_HANDLE_REQUEST(pong_request)
