/*
 * send.c - messages between actors, as the message-server interface asks
 * for them (handlers/message_server.c is the interface's glue; the
 * mechanics are here, beside the mailboxes they use).
 *
 *   send                one-way; queued in the target's mailbox.  A full
 *                       mailbox (the target's limits.mailbox_*) suspends
 *                       the caller until the message is admitted: nothing
 *                       is dropped (send-on-channel alike).  To a durable
 *                       actor of a daemon the caller also waits until the
 *                       message is stored (durable.c).
 *   request             the caller is suspended (never its worker) until
 *                       the target's handle-request answers, or until it
 *                       answers later with respond-to-request.
 *   open-channel        suspended until the target's handle-channel-open
 *                       accepts (ok(channel-id)) or rejects (err).
 *   send-on-channel, close-channel   to the peer of an open channel.
 *   deferred requests   listed, answered or cancelled by the actor that
 *                       holds them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/rt_int.h"

/* err(why): a result the caller gets. */
static int refuse(char *why, size_t cap, const char *text)
{
    snprintf(why, cap, "%s", text);
    return RT_REFUSED;
}

/* The running actor with this id, or NULL with a message.  It is the
 * caller's last target (self->last_to, which holds the reference: the
 * caller's turn may use it until it ends, and takes none of its own).  An
 * actor that sends to the same one again and again so finds it without
 * the registry (a shard's lock, shared by every worker) and without a
 * reference count of its own on the target's line.  A kept actor that no
 * longer takes messages is looked up again: the id may be another's now. */
static rt_actor *target_of(rt_actor *self, const char *id, size_t n, char *why, size_t cap)
{
    rt_actor *t = self->last_to;

    if (t != NULL && n == RT_ID_LEN && memcmp(t->id, id, RT_ID_LEN) == 0 &&
        rt_actor_takes_messages(t))
        return t;
    if ((t = rt_registry_get(&self->rt->reg, id, n)) == NULL) {
        snprintf(why, cap, "actor %.*s not found", (int)n, id);
        return NULL;
    }
    if (t != self->last_to) { /* the registry's reference goes to the cache */
        rt_actor_release(self->last_to);
        self->last_to = t;
    } else {
        rt_actor_release(t);
    }
    if (!rt_actor_takes_messages(t)) {
        snprintf(why, cap, "actor %.*s is not running", (int)n, id);
        return NULL;
    }
    return t;
}

/* The common start of send, request and open-channel: refuse the caller
 * itself as target if `self_msg` is set, find the target and make the
 * message (from = the caller).  Returns the message with *t = the target
 * (held by self->last_to until the caller's turn ends: not to be
 * released), or NULL with *why set. */
static rt_msg *outgoing(rt_actor *self, const char *id, size_t n, const uint8_t *data, size_t len,
                        int kind, const char *self_msg, rt_actor **t, char *why, size_t cap)
{
    rt_msg *m;

    if (self_msg != NULL && n == RT_ID_LEN && memcmp(id, self->id, RT_ID_LEN) == 0) {
        snprintf(why, cap, "%s", self_msg);
        return NULL;
    }
    if ((*t = target_of(self, id, n, why, cap)) == NULL)
        return NULL;
    if ((m = rt_msg_new(kind, data, len)) == NULL) {
        snprintf(why, cap, "out of memory");
        return NULL;
    }
    if (!rt_actor_msg_fits(*t, m)) { /* it could never be admitted */
        rt_actor_toobig_text(*t, m, why, cap);
        rt_msg_free(m);
        return NULL;
    }
    memcpy(m->a, self->id, sizeof m->a);
    rt_actor_count(&self->n_out, 1);
    return m;
}

/* Suspend the caller on m->reply; the wait takes the call's input record
 * over. */
static void wait_on(rt_host *h, rt_msg *m, int wait_kind, const char *iface, const char *fn)
{
    rt_actor_ref(h->a);
    m->reply.actor = h->a;
    m->reply.deadline_ns = h->a->op != NULL ? h->a->op->deadline_ns : 0; /* its call timeout */
    m->reply.token = rt_op_wait(h->a, wait_kind, h->retptr, iface, fn, h->input);
    h->input = NULL;
}

/* Pacing.  A sender in a loop runs until its turn's fuel slice ends or its
 * receiver's mailbox is full (limits.mailbox_messages, 10,000 by default),
 * so a receiver on the same worker then reads messages written thousands
 * of messages earlier, from memory rather than the cache, and the sender
 * writes new ones into memory the cache has long let go.  Every
 * TH_RT_SEND_PACE one-way messages of an operation, if the receiver has at
 * least that many waiting, the sender's turn ends at its next fuel check
 * (the operation yields as at the end of a fuel slice, charged only the
 * fuel it spent) and the receiver runs first: a pair on one worker takes
 * turns over batches of about that many messages.  Only a receiver that
 * waits to run on the sender's worker counts (rt_sched_pull_here: one in
 * the preempted FIFO is moved there first); one running elsewhere is let
 * be.  The sender goes behind it (turn.c, sched.c "Pacing").  Nothing is
 * refused or held: the mailbox's limits are as before. */
static void pace(rt_host *h, rt_actor *t)
{
    rt_op *op = h->a->op;
    uint64_t left;

    if (op == NULL || ++op->posted < TH_RT_SEND_PACE)
        return;
    op->posted = 0;
    left = th_wasm_exec_fuel(op->exec); /* (an operation always has a slice) */
    if (t == h->a || left == UINT64_MAX || rt_mpsc_count(&t->mbox) < TH_RT_SEND_PACE ||
        !rt_sched_pull_here(t))
        return;
    op->fuel_set -= left < op->fuel_set ? left : op->fuel_set;
    th_wasm_exec_set_fuel(op->exec, 0);
    op->paced = true;
}

/* Deliver a one-way message (send, send-on-channel) from the caller to `t`.
 * Queued: done now.  The target's mailbox full: the caller is suspended
 * until the message is admitted (ok) or the target ends (err), or its own
 * call timeout; to itself it cannot wait, so that is refused.  Consumes
 * `m`. */
static int post_oneway(rt_host *h, rt_actor *t, rt_msg *m, const char *iface, const char *fn,
                       char *why, size_t cap)
{
    int rc = rt_actor_offer(t, m, false);

    if (rc == RT_OFFER_QUEUED) {
        pace(h, t);
        return RT_DONE;
    }
    if (rc == RT_OFFER_TOOBIG) {
        rt_actor_toobig_text(t, m, why, cap);
        rt_msg_free(m);
        return RT_REFUSED;
    }
    if (t == h->a) {
        rt_msg_free(m);
        snprintf(why, cap,
                 "mailbox full: this actor's own mailbox has no room "
                 "(limits.mailbox_messages %u, mailbox_bytes %llu)",
                 t->lim.mailbox_messages, (unsigned long long)t->lim.mailbox_bytes);
        return RT_REFUSED;
    }
    m->ack = true;
    wait_on(h, m, RT_WAIT_UNIT, iface, fn);
    rt_actor_offer(t, m, true);
    return RT_SUSPENDED;
}

int rt_msg_send(rt_host *h, const char *iface, const char *fn, const char *to, size_t to_len,
                const uint8_t *data, size_t len, char *why, size_t cap)
{
    rt_actor *t = NULL;
    rt_msg *m = outgoing(h->a, to, to_len, data, len, RT_MSG_SEND, NULL, &t, why, cap);
    int rc;

    if (m == NULL)
        return RT_REFUSED;
    if (t->durable) {
        /* the caller waits until it is stored (and admitted), then gets ok
         * (docs/durability.md) */
        m->ack = true;
        wait_on(h, m, RT_WAIT_UNIT, iface, fn);
        rt_durable_post(h->a->rt, h->a, t, m);
        rc = RT_SUSPENDED;
    } else {
        rc = post_oneway(h, t, m, iface, fn, why, cap);
    }
    return rc;
}

int rt_msg_request(rt_host *h, const char *iface, const char *fn, const char *to, size_t to_len,
                   const uint8_t *data, size_t len, char *why, size_t cap)
{
    rt_actor *t = NULL;
    rt_msg *m = outgoing(h->a, to, to_len, data, len, RT_MSG_REQUEST,
                         "an actor cannot send a request to itself", &t, why, cap);

    if (m == NULL)
        return RT_REFUSED;
    rt_uuid_v4(m->b);
    /* a full mailbox holds it until there is room (the caller waits anyway);
     * an idle target runs next, nested in the caller's turn (sched.c) */
    wait_on(h, m, RT_WAIT_BYTES, iface, fn);
    rt_sched_offer_handoff(t, m);
    return RT_SUSPENDED;
}

int rt_msg_open_channel(rt_host *h, const char *iface, const char *fn, const char *to,
                        size_t to_len, const uint8_t *data, size_t len, char *why, size_t cap)
{
    rt_actor *t = NULL;
    rt_msg *m = outgoing(h->a, to, to_len, data, len, RT_MSG_CHAN_OPEN,
                         "an actor cannot open a channel to itself", &t, why, cap);

    if (m == NULL)
        return RT_REFUSED;
    if (rt_channel_new(h->a->rt, h->a->id, t->id, m->b) != 0) {
        rt_msg_free(m);
        return refuse(why, cap, "out of memory");
    }
    wait_on(h, m, RT_WAIT_STRING, iface, fn);
    rt_actor_offer(t, m, true);
    return RT_SUSPENDED;
}

/* The message of a channel (kind) from the caller on `chan` (n bytes). */
static rt_msg *channel_msg(rt_actor *self, int kind, const char *chan, size_t n,
                           const uint8_t *data, size_t len)
{
    rt_msg *m = rt_msg_new(kind, data, len);

    if (m != NULL) {
        memcpy(m->a, self->id, sizeof m->a);
        snprintf(m->b, sizeof m->b, "%.*s", (int)(n > RT_ID_LEN ? RT_ID_LEN : n), chan);
    }
    return m;
}

int rt_msg_channel_send(rt_host *h, const char *iface, const char *fn, const char *chan, size_t n,
                        const uint8_t *data, size_t len, char *why, size_t cap)
{
    char peer[RT_ID_LEN + 1];
    rt_actor *t;
    rt_msg *m;
    int rc = rt_channel_peer(h->a->rt, chan, n, h->a->id, peer);

    if (rc == TH_ENOENT)
        return refuse(why, cap, "no such channel");
    if (rc == TH_EPERM)
        return refuse(why, cap, "not a participant of this channel");
    if (rc != 0)
        return refuse(why, cap, "channel-closed");
    if ((m = channel_msg(h->a, RT_MSG_CHAN_MSG, chan, n, data, len)) == NULL)
        return refuse(why, cap, "out of memory");
    if ((t = rt_registry_get(&h->a->rt->reg, peer, RT_ID_LEN)) != NULL) {
        /* an actor: its mailbox limits apply */
        rt_actor_count(&h->a->n_out, 1);
        rc = post_oneway(h, t, m, iface, fn, why, cap);
        rt_actor_release(t);
        return rc;
    }
    if (!rt_channel_deliver(h->a->rt, peer, m))
        return refuse(why, cap, "channel-closed");
    rt_actor_count(&h->a->n_out, 1);
    return RT_DONE;
}

int rt_msg_channel_close(rt_host *h, const char *chan, size_t n, char *why, size_t cap)
{
    char peer[RT_ID_LEN + 1];
    rt_msg *m;
    int rc = rt_channel_close(h->a->rt, chan, h->a->id, peer);

    if (rc == TH_ENOENT)
        return refuse(why, cap, "no such channel");
    if (rc == TH_EPERM)
        return refuse(why, cap, "not a participant of this channel");
    if (rc == 0 && (m = channel_msg(h->a, RT_MSG_CHAN_CLOSE, chan, n, NULL, 0)) != NULL)
        rt_channel_deliver(h->a->rt, peer, m);
    return RT_DONE;
}

/* Whether the requester of a deferred request no longer waits: its
 * timeout passed, the actor that asked failed or stopped (its operation
 * ended with it), or the outside thread that waited left (its reference
 * was the other one). */
static bool pending_abandoned(rt_pending *p, uint64_t now)
{
    rt_sync *s = p->reply.sync;
    rt_actor *r = p->reply.actor;
    bool gone = false;
    int st;

    if (p->reply.deadline_ns != 0 && now >= p->reply.deadline_ns)
        return true;
    if (r != NULL) {
        pthread_mutex_lock(&r->lock);
        st = r->status;
        pthread_mutex_unlock(&r->lock);
        if (st == TH_ACTOR_FAILED || st == TH_ACTOR_STOPPING || st == TH_ACTOR_STOPPED)
            return true;
    }
    if (s != NULL) {
        pthread_mutex_lock(&s->lock);
        gone = s->done || (s->fn == NULL && atomic_load(&s->refs) == 1);
        pthread_mutex_unlock(&s->lock);
    }
    return gone;
}

/* Take *pp (abandoned) off the list: its reply is ended (which lets go of
 * what it holds; nobody hears it). */
static void pending_drop(rt_actor *a, rt_pending **pp)
{
    rt_pending *p = *pp;

    *pp = p->next;
    a->npending--;
    rt_reply_complete(a->rt, &p->reply, TH_ETIMEDOUT, false, NULL, 0,
                      "the requester stopped waiting");
    free(p);
}

void rt_pending_prune(rt_actor *a)
{
    uint64_t now = rt_now_ns();
    rt_pending **pp = &a->pending;

    while (*pp != NULL) {
        if (pending_abandoned(*pp, now))
            pending_drop(a, pp);
        else
            pp = &(*pp)->next;
    }
}

int rt_pending_each(rt_actor *a, int (*fn)(void *ud, const char *id), void *ud)
{
    int rc;

    rt_pending_prune(a);
    for (rt_pending *p = a->pending; p != NULL; p = p->next)
        if ((rc = fn(ud, p->id)) != 0)
            return rc;
    return 0;
}

size_t rt_pending_count(rt_actor *a)
{
    rt_pending_prune(a);
    return a->npending;
}

int rt_pending_answer(rt_actor *a, const char *id, bool ok, const uint8_t *resp, size_t len)
{
    int status = ok ? TH_OK : TH_ECLOSED;
    const char *text = ok ? NULL : "request cancelled";
    rt_pending **pp, *p;

    for (pp = &a->pending; (p = *pp) != NULL; pp = &p->next)
        if (strcmp(p->id, id) == 0)
            break;
    if (p == NULL)
        return TH_ENOENT;
    if (pending_abandoned(p, rt_now_ns())) {
        pending_drop(a, pp);
        return TH_ETIMEDOUT;
    }
    *pp = p->next;
    a->npending--;
    /* answered by the handling of a stored message: the answer leaves when
     * that handling's result is durable, as a request's own reply does
     * (docs/durability.md, commit point 3) */
    if (!ok)
        len = 0;
    if (a->op == NULL || a->op->msg == NULL || !a->op->msg->durable ||
        !rt_durable_hold_reply(a, a->op->msg, &p->reply, status, ok, resp, len, text))
        rt_reply_complete(a->rt, &p->reply, status, ok, resp, len, text);
    free(p);
    return 0;
}
