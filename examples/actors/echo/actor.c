/*
 * echo - accepts every channel opened to it and sends each message it
 * receives on a channel back on that channel. The initial message of a
 * channel is echoed in the accept.
 */
#include "theater.h"

static th_status echo_init(th_state *state, th_str actor_id)
{
    th_logf("echo %.*s ready", TH_FMT(actor_id));
    return TH_OK;
}

static th_status echo_open(th_state *state, th_str channel_id, th_bytes msg,
                           th_channel_accept *accept)
{
    th_logf("echo: channel %.*s opened", TH_FMT(channel_id));
    accept->accepted = true;
    accept->message = th_some(msg);
    return TH_OK;
}

static th_status echo_message(th_state *state, th_str channel_id, th_bytes msg)
{
    return th_send_on_channel(channel_id, msg);
}

static th_status echo_close(th_state *state, th_str channel_id)
{
    th_logf("echo: channel %.*s closed", TH_FMT(channel_id));
    return TH_OK;
}

TH_ACTOR_INIT(echo_init)
TH_HANDLE_CHANNEL_OPEN(echo_open)
TH_HANDLE_CHANNEL_MESSAGE(echo_message)
TH_HANDLE_CHANNEL_CLOSE(echo_close)
