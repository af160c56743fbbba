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
 * Lifting, lowering and recording are the generated glue's (wit_glue.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers/handlers_int.h"
#include "wit_glue.h"

#define IFACE "message-server-host"

/* err(why) into a result's error string. */
static int fail(rt_host *h, bool *is_err, wit_str *err, const char *why)
{
    *is_err = true;
    return wit_str_set(h, err, why);
}

/* The running actor with this id, or NULL with a message. */
static rt_actor *target_of(rt_host *h, const wit_str *id, char *why, size_t cap)
{
    rt_actor *t = rt_registry_get(&h->a->rt->reg, id->ptr, id->len);
    int st;
    bool restarting;

    if (t == NULL) {
        snprintf(why, cap, "actor %s not found", id->ptr);
        return NULL;
    }
    pthread_mutex_lock(&t->lock);
    st = t->status;
    restarting = t->restart_pending;
    pthread_mutex_unlock(&t->lock);
    if ((st == TH_ACTOR_FAILED && !restarting) || st == TH_ACTOR_STOPPING ||
        st == TH_ACTOR_STOPPED) {
        snprintf(why, cap, "actor %s is not running", id->ptr);
        rt_actor_release(t);
        return NULL;
    }
    return t;
}

/* The common start of send, request and open-channel: refuse the caller
 * itself as target if `self_msg` is set, find the target and make the
 * message (from = the caller).  Returns the message with *t = the target
 * (a reference), or NULL with *why set. */
static rt_msg *outgoing(rt_host *h, const wit_str *id, const wit_bytes *msg, int kind,
                        const char *self_msg, rt_actor **t, char *why, size_t cap)
{
    rt_msg *m;

    if (self_msg != NULL && strcmp(id->ptr, h->a->id) == 0) {
        snprintf(why, cap, "%s", self_msg);
        return NULL;
    }
    if ((*t = target_of(h, id, why, cap)) == NULL)
        return NULL;
    if ((m = rt_msg_new(kind, msg->ptr, msg->len)) == NULL) {
        rt_actor_release(*t);
        snprintf(why, cap, "out of memory");
        return NULL;
    }
    memcpy(m->a, h->a->id, sizeof m->a);
    atomic_fetch_add_explicit(&h->a->n_out, 1, memory_order_relaxed);
    return m;
}

/* Post a message whose answer resumes the caller (request, open-channel);
 * the wait takes the call's input record over.  A full mailbox holds it
 * until there is room (the caller waits anyway). */
static int post_waiting(rt_host *h, rt_actor *t, rt_msg *m, int wait_kind, const char *fn)
{
    rt_actor_ref(h->a);
    m->reply.actor = h->a;
    m->reply.token = rt_op_wait(h->a, wait_kind, h->retptr, IFACE, fn, h->input);
    h->input = NULL;
    rt_actor_offer(t, m, true);
    rt_actor_release(t);
    return TH_WASM_SUSPENDED;
}

/* Deliver a one-way message (send, send-on-channel) from the caller to `t`.
 * Queued: the call returns ok now.  The target's mailbox full: the caller
 * is suspended until the message is admitted (ok) or the target ends
 * (err), or its own call timeout; to itself it cannot wait, so that is an
 * error.  Consumes `m`. */
static int post_oneway(rt_host *h, rt_actor *t, rt_msg *m, const char *fn, wit_res_unit_str *ret)
{
    char why[200];

    if (rt_actor_offer(t, m, false) == RT_OFFER_QUEUED)
        return 0;
    if (t == h->a) {
        rt_msg_free(m);
        snprintf(why, sizeof why,
                 "mailbox full: this actor's own mailbox has no room "
                 "(limits.mailbox_messages %u, mailbox_bytes %llu)",
                 t->lim.mailbox_messages, (unsigned long long)t->lim.mailbox_bytes);
        return fail(h, &ret->is_err, &ret->err, why);
    }
    rt_actor_ref(h->a);
    m->reply.actor = h->a;
    m->ack = true;
    m->reply.token = rt_op_wait(h->a, RT_WAIT_UNIT, h->retptr, IFACE, fn, h->input);
    h->input = NULL;
    rt_actor_offer(t, m, true);
    return TH_WASM_SUSPENDED;
}

/* A one-way message to a durable actor: the caller waits until it is
 * stored (and admitted), then gets ok (docs/durability.md). */
static int post_durable(rt_host *h, rt_actor *t, rt_msg *m, const char *fn)
{
    rt_actor_ref(h->a);
    m->reply.actor = h->a;
    m->ack = true;
    m->reply.token = rt_op_wait(h->a, RT_WAIT_UNIT, h->retptr, IFACE, fn, h->input);
    h->input = NULL;
    rt_durable_post(h->a->rt, h->a, t, m);
    return TH_WASM_SUSPENDED;
}

static int m_send(rt_host *h, wit_str *actor_id, wit_bytes *msg, wit_res_unit_str *ret)
{
    char why[160];
    rt_actor *t = NULL;
    rt_msg *m = outgoing(h, actor_id, msg, RT_MSG_SEND, NULL, &t, why, sizeof why);
    int rc;

    if (m == NULL)
        return fail(h, &ret->is_err, &ret->err, why);
    if (t->durable)
        rc = post_durable(h, t, m, "send");
    else
        rc = post_oneway(h, t, m, "send", ret);
    rt_actor_release(t);
    return rc;
}

static int m_request(rt_host *h, wit_str *actor_id, wit_bytes *msg, wit_res_bytes_str *ret)
{
    char why[160];
    rt_actor *t = NULL;
    rt_msg *m = outgoing(h, actor_id, msg, RT_MSG_REQUEST,
                         "an actor cannot send a request to itself", &t, why, sizeof why);

    if (m == NULL)
        return fail(h, &ret->is_err, &ret->err, why);
    rt_uuid_v4(m->b);
    return post_waiting(h, t, m, RT_WAIT_BYTES, "request");
}

static int m_open_channel(rt_host *h, wit_str *actor_id, wit_bytes *initial_msg,
                          wit_res_str_str *ret)
{
    char why[160];
    rt_actor *t = NULL;
    rt_msg *m = outgoing(h, actor_id, initial_msg, RT_MSG_CHAN_OPEN,
                         "an actor cannot open a channel to itself", &t, why, sizeof why);

    if (m == NULL)
        return fail(h, &ret->is_err, &ret->err, why);
    if (rt_channel_new(h->a->rt, h->a->id, t->id, m->b) != 0) {
        rt_msg_free(m);
        rt_actor_release(t);
        return fail(h, &ret->is_err, &ret->err, "out of memory");
    }
    return post_waiting(h, t, m, RT_WAIT_STRING, "open-channel");
}

static int m_send_on_channel(rt_host *h, wit_str *channel_id, wit_bytes *msg, wit_res_unit_str *ret)
{
    char peer[RT_ID_LEN + 1];
    const char *errmsg = NULL;
    rt_actor *t;
    rt_msg *m;
    int rc = rt_channel_peer(h->a->rt, channel_id->ptr, channel_id->len, h->a->id, peer);

    if (rc == TH_ENOENT)
        errmsg = "no such channel";
    else if (rc == TH_EPERM)
        errmsg = "not a participant of this channel";
    else if (rc != 0)
        errmsg = "channel-closed";
    if (errmsg == NULL) {
        m = rt_msg_new(RT_MSG_CHAN_MSG, msg->ptr, msg->len);
        if (m == NULL) {
            errmsg = "out of memory";
        } else {
            memcpy(m->a, h->a->id, sizeof m->a);
            snprintf(m->b, sizeof m->b, "%s", channel_id->ptr);
            if ((t = rt_registry_get(&h->a->rt->reg, peer, RT_ID_LEN)) != NULL) {
                /* an actor: its mailbox limits apply */
                atomic_fetch_add_explicit(&h->a->n_out, 1, memory_order_relaxed);
                rc = post_oneway(h, t, m, "send-on-channel", ret);
                rt_actor_release(t);
                return rc;
            }
            if (rt_channel_deliver(h->a->rt, peer, m))
                atomic_fetch_add_explicit(&h->a->n_out, 1, memory_order_relaxed);
            else
                errmsg = "channel-closed";
        }
    }
    return errmsg != NULL ? fail(h, &ret->is_err, &ret->err, errmsg) : 0;
}

static int m_close_channel(rt_host *h, wit_str *channel_id, wit_res_unit_str *ret)
{
    char peer[RT_ID_LEN + 1];
    const char *errmsg = NULL;
    rt_msg *m;
    int rc = rt_channel_close(h->a->rt, channel_id->ptr, h->a->id, peer);

    if (rc == TH_ENOENT)
        errmsg = "no such channel";
    else if (rc == TH_EPERM)
        errmsg = "not a participant of this channel";
    else if (rc == 0 && (m = rt_msg_new(RT_MSG_CHAN_CLOSE, NULL, 0)) != NULL) {
        memcpy(m->a, h->a->id, sizeof m->a);
        snprintf(m->b, sizeof m->b, "%s", channel_id->ptr);
        rt_channel_deliver(h->a->rt, peer, m);
    }
    return errmsg != NULL ? fail(h, &ret->is_err, &ret->err, errmsg) : 0;
}

static int m_list_outstanding(rt_host *h, wit_list_str *ret)
{
    rt_pending *p;
    size_t n = 0;
    int rc;

    for (p = h->a->pending; p != NULL; p = p->next)
        n++;
    if ((ret->ptr = calloc(n ? n : 1, sizeof *ret->ptr)) == NULL)
        return th_error_set(&h->err, TH_ENOMEM, "out of memory");
    for (p = h->a->pending; p != NULL; p = p->next) {
        if ((rc = wit_str_set(h, &ret->ptr[ret->len], p->id)) != 0)
            return rc;
        ret->len++;
    }
    return 0;
}

/* Take the deferred request `id` out of the actor's list. */
static rt_pending *take_pending(rt_actor *a, const char *id)
{
    rt_pending **pp, *p;

    for (pp = &a->pending; (p = *pp) != NULL; pp = &p->next) {
        if (strcmp(p->id, id) == 0) {
            *pp = p->next;
            a->npending--;
            return p;
        }
    }
    return NULL;
}

static int m_respond(rt_host *h, wit_str *request_id, wit_bytes *response, wit_res_unit_str *ret)
{
    rt_pending *p = take_pending(h->a, request_id->ptr);

    if (p == NULL)
        return fail(h, &ret->is_err, &ret->err, "no such outstanding request");
    rt_reply_complete(h->a->rt, &p->reply, TH_OK, true, response->ptr, response->len, NULL);
    free(p);
    return 0;
}

static int m_cancel(rt_host *h, wit_str *request_id, wit_res_unit_str *ret)
{
    rt_pending *p = take_pending(h->a, request_id->ptr);

    if (p == NULL)
        return fail(h, &ret->is_err, &ret->err, "no such outstanding request");
    rt_reply_complete(h->a->rt, &p->reply, TH_ECLOSED, false, NULL, 0, "request cancelled");
    free(p);
    return 0;
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
    "theater:simple/message-server-host",
    RT_H_MESSAGE_SERVER,
    wit_fns_message_server_host,
    WIT_NFNS_MESSAGE_SERVER_HOST,
    &impl,
    NULL,
};
