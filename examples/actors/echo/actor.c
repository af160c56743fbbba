/*
 * echo - accepts every channel opened to it and sends each message it
 * receives on a channel back on that channel. The initial message of a
 * channel is echoed in the accept.
 */
#include "theater.h"

static ta_status echo_init(ta_state *state, ta_str actor_id)
{
    ta_logf("echo %.*s ready", TA_FMT(actor_id));
    return TA_OK;
}

static ta_status echo_open(ta_state *state, ta_str channel_id, ta_bytes msg,
                           ta_channel_accept *accept)
{
    ta_logf("echo: channel %.*s opened", TA_FMT(channel_id));
    accept->accepted = true;
    accept->message = ta_some(msg);
    return TA_OK;
}

static ta_status echo_message(ta_state *state, ta_str channel_id, ta_bytes msg)
{
    return ta_send_on_channel(channel_id, msg);
}

static ta_status echo_close(ta_state *state, ta_str channel_id)
{
    ta_logf("echo: channel %.*s closed", TA_FMT(channel_id));
    return TA_OK;
}

TA_ACTOR_INIT(echo_init)
TA_HANDLE_CHANNEL_OPEN(echo_open)
TA_HANDLE_CHANNEL_MESSAGE(echo_message)
TA_HANDLE_CHANNEL_CLOSE(echo_close)
