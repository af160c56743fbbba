/*
 * message_server.c - the `message-server-host` interface: messages between
 * actors.
 *
 *   send                one-way; queued in the target's mailbox.  A full
 *                       mailbox (the target's limits.mailbox_*) suspends
 *                       the caller until the message is admitted: nothing
 *                       is dropped (send-on-channel alike).  To a durable
 *                       actor of a daemon the caller also waits until the
 *                       message is stored (runtime/durable.c).
 *   request             the caller is suspended (never its worker) until
 *                       the target's handle-request answers, or until it
 *                       answers later with respond-to-request.
 *   open-channel        suspended until the target's handle-channel-open
 *                       accepts (ok(channel-id)) or rejects (err).
 *   send-on-channel, close-channel   to the peer of an open channel.
 *   list-outstanding-requests, respond-to-request, cancel-request
 *                       the caller's deferred requests.
 *
 * Every call is recorded in the caller's chain as a "host-call" event with
 * its input and output (for suspending calls, when the result arrives).
 * Lifting, lowering and recording are the generated glue's (wit_glue.h);
 * the mechanics (mailboxes, channels, deferred requests) are the
 * runtime's (runtime/send.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers/handlers_int.h"
#include "wit_glue.h"

#define IFACE "message-server-host"

int rt_call_outcome(rt_host *h, int rc, bool *is_err, wit_str *err, const char *why)
{
    if (rc != RT_REFUSED)
        return rc == RT_SUSPENDED ? TH_WASM_SUSPENDED : 0;
    *is_err = true;
    return wit_str_set(h, err, why);
}

static int m_send(rt_host *h, wit_str *actor_id, wit_bytes *msg, wit_res_unit_str *ret)
{
    char why[200];
    int rc = rt_msg_send(h, IFACE, "send", actor_id->ptr, actor_id->len, msg->ptr, msg->len, why,
                         sizeof why);

    return rt_call_outcome(h, rc, &ret->is_err, &ret->err, why);
}

static int m_request(rt_host *h, wit_str *actor_id, wit_bytes *msg, wit_res_bytes_str *ret)
{
    char why[200];
    int rc = rt_msg_request(h, IFACE, "request", actor_id->ptr, actor_id->len, msg->ptr, msg->len,
                            why, sizeof why);

    return rt_call_outcome(h, rc, &ret->is_err, &ret->err, why);
}

static int m_open_channel(rt_host *h, wit_str *actor_id, wit_bytes *initial_msg,
                          wit_res_str_str *ret)
{
    char why[200];
    int rc = rt_msg_open_channel(h, IFACE, "open-channel", actor_id->ptr, actor_id->len,
                                 initial_msg->ptr, initial_msg->len, why, sizeof why);

    return rt_call_outcome(h, rc, &ret->is_err, &ret->err, why);
}

static int m_send_on_channel(rt_host *h, wit_str *channel_id, wit_bytes *msg, wit_res_unit_str *ret)
{
    char why[200];
    int rc = rt_msg_channel_send(h, IFACE, "send-on-channel", channel_id->ptr, channel_id->len,
                                 msg->ptr, msg->len, why, sizeof why);

    return rt_call_outcome(h, rc, &ret->is_err, &ret->err, why);
}

static int m_close_channel(rt_host *h, wit_str *channel_id, wit_res_unit_str *ret)
{
    char why[200];
    int rc = rt_msg_channel_close(h, channel_id->ptr, channel_id->len, why, sizeof why);

    return rt_call_outcome(h, rc, &ret->is_err, &ret->err, why);
}

typedef struct {
    rt_host *h;
    wit_list_str *ret;
} id_sink;

static int add_id(void *ud, const char *id)
{
    id_sink *k = ud;
    int rc = wit_str_set(k->h, &k->ret->ptr[k->ret->len], id);

    if (rc == 0)
        k->ret->len++;
    return rc;
}

static int m_list_outstanding(rt_host *h, wit_list_str *ret)
{
    size_t n = rt_pending_count(h->a);
    id_sink k = {h, ret};

    if ((ret->ptr = calloc(n ? n : 1, sizeof *ret->ptr)) == NULL)
        return th_error_set(&h->err, TH_ENOMEM, "out of memory");
    return rt_pending_each(h->a, add_id, &k);
}

/* respond-to-request (ok) and cancel-request: refused for an id that
 * names no outstanding request, or one whose requester stopped waiting. */
static int answer(rt_host *h, wit_str *request_id, bool ok, const wit_bytes *response,
                  wit_res_unit_str *ret)
{
    int rc = TH_ENOENT;

    /* (an id holding a NUL names no request: "ID\0x" is not ID) */
    if (strlen(request_id->ptr) == request_id->len)
        rc = rt_pending_answer(h->a, request_id->ptr, ok, ok ? response->ptr : NULL,
                               ok ? response->len : 0);
    if (rc == TH_ETIMEDOUT)
        return rt_call_outcome(h, RT_REFUSED, &ret->is_err, &ret->err,
                               "the requester stopped waiting (its timeout passed)");
    if (rc != 0)
        return rt_call_outcome(h, RT_REFUSED, &ret->is_err, &ret->err,
                               "no such outstanding request");
    return 0;
}

static int m_respond(rt_host *h, wit_str *request_id, wit_bytes *response, wit_res_unit_str *ret)
{
    return answer(h, request_id, true, response, ret);
}

static int m_cancel(rt_host *h, wit_str *request_id, wit_res_unit_str *ret)
{
    return answer(h, request_id, false, NULL, ret);
}

static const wit_impl_message_server_host impl = {
    .send = m_send,
    .request = m_request,
    .open_channel = m_open_channel,
    .send_on_channel = m_send_on_channel,
    .close_channel = m_close_channel,
    .list_outstanding_requests = m_list_outstanding,
    .respond_to_request = m_respond,
    .cancel_request = m_cancel,
};

const rt_iface rt_iface_message_server = {
    .name = "message-server",
    .module = "theater:simple/message-server-host",
    .handler = HANDLER_MESSAGE_SERVER,
    .fns = wit_fns_message_server_host,
    .nfns = WIT_NFNS_MESSAGE_SERVER_HOST,
    .impl = &impl,
};
