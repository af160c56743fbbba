/*
 * message_server.c - the `message-server-host` interface: messages between
 * actors.
 *
 *   send                one-way; queued in the target's mailbox.
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
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/rt_int.h"

#define IFACE "message-server-host"

/* Input JSON {"to"/"channel"/"request": s, "msg": hex} (malloc'd or NULL). */
static char *input_json(const char *key, const char *s, const uint8_t *msg, size_t len, bool has_msg)
{
    rt_buf b = {0};

    rt_buf_puts(&b, "{\"");
    rt_buf_puts(&b, key);
    rt_buf_puts(&b, "\":");
    rt_buf_json_str(&b, s, strlen(s));
    if (has_msg) {
        rt_buf_puts(&b, ",\"msg\":");
        rt_buf_json_hex(&b, msg, len);
    }
    rt_buf_puts(&b, "}");
    if (b.oom) {
        rt_buf_release(&b);
        return NULL;
    }
    return (char *)b.data;
}

/* Finish a non-suspending call returning result<_, string>: write it,
 * record it. */
static int finish_unit(rt_host *h, uint32_t retptr, const char *fn, char *input, const char *errmsg)
{
    rt_buf out = {0};

    if (rt_abi_result_unit(&h->g, retptr, errmsg) != 0) {
        free(input);
        return rt_host_trap(h);
    }
    if (errmsg == NULL) {
        rt_buf_puts(&out, "{\"ok\":null}");
    } else {
        rt_buf_puts(&out, "{\"err\":");
        rt_buf_json_str(&out, errmsg, strlen(errmsg));
        rt_buf_puts(&out, "}");
    }
    rt_record_host(h->a, IFACE, fn, input, out.oom ? NULL : (char *)out.data);
    rt_buf_release(&out);
    free(input);
    return TH_OK;
}

/* The running actor with this id, or NULL with a message. */
static rt_actor *target_of(rt_host *h, const char *id, char *why, size_t cap)
{
    rt_actor *t = rt_registry_get(&h->a->rt->reg, id, strlen(id));
    int st;
    bool restarting;

    if (t == NULL) {
        snprintf(why, cap, "actor %s not found", id);
        return NULL;
    }
    pthread_mutex_lock(&t->lock);
    st = t->status;
    restarting = t->restart_pending;
    pthread_mutex_unlock(&t->lock);
    if ((st == TH_ACTOR_FAILED && !restarting) || st == TH_ACTOR_STOPPING || st == TH_ACTOR_STOPPED) {
        snprintf(why, cap, "actor %s is not running", id);
        rt_actor_release(t);
        return NULL;
    }
    return t;
}

/* A message about to leave the calling actor (send, request, open-channel). */
typedef struct outgoing {
    rt_actor *t;     /* the target (a reference) */
    rt_msg *m;       /* the message, from = the caller */
    char *in;        /* the call's input, as recorded */
    uint32_t retptr; /* where the result goes */
} outgoing;

/* The common start of send, request and open-channel: lift (actor-id,
 * bytes), check the result slot before anything happens, refuse the caller
 * itself as target if `self_msg` is set, find the target and make the
 * message.  Returns 1 with *o filled (the caller owns its parts), or 0 with
 * *ret = what the host function returns (a trap, or the call finished with
 * an error result). */
static int outgoing_begin(rt_host *h, const th_wasm_val *args, const char *fn, int kind,
                          const char *self_msg, outgoing *o, int *ret)
{
    char *id = NULL, why[160];
    const uint8_t *msg;
    uint32_t len = (uint32_t)args[3].i32;
    char *in;

    o->retptr = (uint32_t)args[4].i32;
    if (rt_host_str(h, (uint32_t)args[0].i32, (uint32_t)args[1].i32, &id) != 0 ||
        rt_host_bytes(h, (uint32_t)args[2].i32, len, &msg) != 0 ||
        rt_abi_fits(&h->g, o->retptr, 12) != 0) {
        free(id);
        *ret = rt_host_trap(h);
        return 0;
    }
    in = input_json("to", id, msg, len, true);
    if (self_msg != NULL && strcmp(id, h->a->id) == 0) {
        free(id);
        *ret = finish_unit(h, o->retptr, fn, in, self_msg);
        return 0;
    }
    o->t = target_of(h, id, why, sizeof why);
    free(id);
    if (o->t == NULL) {
        *ret = finish_unit(h, o->retptr, fn, in, why);
        return 0;
    }
    o->m = rt_msg_new(kind, msg, len);
    if (o->m == NULL) {
        rt_actor_release(o->t);
        *ret = finish_unit(h, o->retptr, fn, in, "out of memory");
        return 0;
    }
    memcpy(o->m->a, h->a->id, sizeof o->m->a);
    o->in = in;
    atomic_fetch_add_explicit(&h->a->n_out, 1, memory_order_relaxed);
    return 1;
}

/* Post a message whose answer resumes the caller (request, open-channel). */
static int post_waiting(rt_host *h, outgoing *o, int wait_kind, const char *fn)
{
    rt_actor_ref(h->a);
    o->m->reply.actor = h->a;
    o->m->reply.token = rt_op_wait(h->a, wait_kind, o->retptr, IFACE, fn, o->in);
    rt_actor_post(o->t, o->m);
    rt_actor_release(o->t);
    return TH_WASM_SUSPENDED;
}

static int h_send(th_wasm_call *call, void *ctx, const th_wasm_val *args, th_wasm_val *results)
{
    rt_host h;
    outgoing o;
    int rc;

    (void)ctx, (void)results;
    rt_host_begin(&h, call);
    if (!outgoing_begin(&h, args, "send", RT_MSG_SEND, NULL, &o, &rc))
        return rc;
    rt_actor_post(o.t, o.m);
    rt_actor_release(o.t);
    return finish_unit(&h, o.retptr, "send", o.in, NULL);
}

static int h_request(th_wasm_call *call, void *ctx, const th_wasm_val *args, th_wasm_val *results)
{
    rt_host h;
    outgoing o;
    int rc;

    (void)ctx, (void)results;
    rt_host_begin(&h, call);
    if (!outgoing_begin(&h, args, "request", RT_MSG_REQUEST,
                        "an actor cannot send a request to itself", &o, &rc))
        return rc;
    rt_uuid_v4(o.m->b);
    return post_waiting(&h, &o, RT_WAIT_BYTES, "request");
}

static int h_open_channel(th_wasm_call *call, void *ctx, const th_wasm_val *args, th_wasm_val *results)
{
    rt_host h;
    outgoing o;
    int rc;

    (void)ctx, (void)results;
    rt_host_begin(&h, call);
    if (!outgoing_begin(&h, args, "open-channel", RT_MSG_CHAN_OPEN,
                        "an actor cannot open a channel to itself", &o, &rc))
        return rc;
    if (rt_channel_new(h.a->rt, h.a->id, o.t->id, o.m->b) != 0) {
        rt_msg_free(o.m);
        rt_actor_release(o.t);
        return finish_unit(&h, o.retptr, "open-channel", o.in, "out of memory");
    }
    return post_waiting(&h, &o, RT_WAIT_STRING, "open-channel");
}

static int h_send_on_channel(th_wasm_call *call, void *ctx, const th_wasm_val *args, th_wasm_val *results)
{
    rt_host h;
    char *ch = NULL, peer[RT_ID_LEN + 1];
    const uint8_t *msg;
    rt_msg *m;
    char *in;
    const char *errmsg = NULL;
    uint32_t len = (uint32_t)args[3].i32;
    int rc;

    (void)ctx, (void)results;
    rt_host_begin(&h, call);
    if (rt_host_str(&h, (uint32_t)args[0].i32, (uint32_t)args[1].i32, &ch) != 0 ||
        rt_host_bytes(&h, (uint32_t)args[2].i32, len, &msg) != 0) {
        free(ch);
        return rt_host_trap(&h);
    }
    in = input_json("channel", ch, msg, len, true);
    rc = rt_channel_peer(h.a->rt, ch, strlen(ch), h.a->id, peer);
    if (rc == TH_ENOENT)
        errmsg = "no such channel";
    else if (rc == TH_EPERM)
        errmsg = "not a participant of this channel";
    else if (rc != 0)
        errmsg = "channel-closed";
    if (errmsg == NULL) {
        m = rt_msg_new(RT_MSG_CHAN_MSG, msg, len);
        if (m == NULL) {
            errmsg = "out of memory";
        } else {
            memcpy(m->a, h.a->id, sizeof m->a);
            snprintf(m->b, sizeof m->b, "%s", ch);
            if (rt_channel_deliver(h.a->rt, peer, m))
                atomic_fetch_add_explicit(&h.a->n_out, 1, memory_order_relaxed);
            else
                errmsg = "channel-closed";
        }
    }
    free(ch);
    return finish_unit(&h, (uint32_t)args[4].i32, "send-on-channel", in, errmsg);
}

static int h_close_channel(th_wasm_call *call, void *ctx, const th_wasm_val *args, th_wasm_val *results)
{
    rt_host h;
    char *ch = NULL, peer[RT_ID_LEN + 1];
    rt_msg *m;
    char *in;
    const char *errmsg = NULL;
    int rc;

    (void)ctx, (void)results;
    rt_host_begin(&h, call);
    if (rt_host_str(&h, (uint32_t)args[0].i32, (uint32_t)args[1].i32, &ch) != 0)
        return rt_host_trap(&h);
    in = input_json("channel", ch, NULL, 0, false);
    rc = rt_channel_close(h.a->rt, ch, h.a->id, peer);
    if (rc == TH_ENOENT)
        errmsg = "no such channel";
    else if (rc == TH_EPERM)
        errmsg = "not a participant of this channel";
    else if (rc == 0 && (m = rt_msg_new(RT_MSG_CHAN_CLOSE, NULL, 0)) != NULL) {
        memcpy(m->a, h.a->id, sizeof m->a);
        snprintf(m->b, sizeof m->b, "%s", ch);
        rt_channel_deliver(h.a->rt, peer, m);
    }
    free(ch);
    return finish_unit(&h, (uint32_t)args[2].i32, "close-channel", in, errmsg);
}

static int h_list_outstanding(th_wasm_call *call, void *ctx, const th_wasm_val *args, th_wasm_val *results)
{
    rt_host h;
    rt_pending *p;
    char **v = NULL;
    size_t n = 0, i = 0;
    rt_buf out = {0};
    int rc;

    (void)ctx, (void)results;
    rt_host_begin(&h, call);
    for (p = h.a->pending; p != NULL; p = p->next)
        n++;
    v = calloc(n ? n : 1, sizeof *v);
    if (v == NULL) {
        th_error_set(&h.err, TH_ENOMEM, "out of memory");
        return rt_host_trap(&h);
    }
    rt_buf_puts(&out, "{\"ok\":[");
    for (p = h.a->pending; p != NULL; p = p->next) {
        v[i++] = p->id;
        if (i > 1)
            rt_buf_puts(&out, ",");
        rt_buf_json_str(&out, p->id, strlen(p->id));
    }
    rt_buf_puts(&out, "]}");
    rc = rt_abi_store_strings(&h.g, (uint32_t)args[0].i32, v, n);
    free(v);
    if (rc != 0) {
        rt_buf_release(&out);
        return rt_host_trap(&h);
    }
    rt_record_host(h.a, IFACE, "list-outstanding-requests", NULL, out.oom ? NULL : (char *)out.data);
    rt_buf_release(&out);
    return TH_OK;
}

/* Take the deferred request `id` out of the actor's list. */
static rt_pending *take_pending(rt_actor *a, const char *id)
{
    rt_pending **pp, *p;

    for (pp = &a->pending; (p = *pp) != NULL; pp = &p->next) {
        if (strcmp(p->id, id) == 0) {
            *pp = p->next;
            return p;
        }
    }
    return NULL;
}

static int h_respond(th_wasm_call *call, void *ctx, const th_wasm_val *args, th_wasm_val *results)
{
    rt_host h;
    char *id = NULL;
    const uint8_t *msg;
    rt_pending *p;
    char *in;
    uint32_t len = (uint32_t)args[3].i32;

    (void)ctx, (void)results;
    rt_host_begin(&h, call);
    if (rt_host_str(&h, (uint32_t)args[0].i32, (uint32_t)args[1].i32, &id) != 0 ||
        rt_host_bytes(&h, (uint32_t)args[2].i32, len, &msg) != 0) {
        free(id);
        return rt_host_trap(&h);
    }
    in = input_json("request", id, msg, len, true);
    p = take_pending(h.a, id);
    free(id);
    if (p == NULL)
        return finish_unit(&h, (uint32_t)args[4].i32, "respond-to-request", in, "no such outstanding request");
    rt_reply_complete(h.a->rt, &p->reply, TH_OK, true, msg, len, NULL);
    free(p);
    return finish_unit(&h, (uint32_t)args[4].i32, "respond-to-request", in, NULL);
}

static int h_cancel(th_wasm_call *call, void *ctx, const th_wasm_val *args, th_wasm_val *results)
{
    rt_host h;
    char *id = NULL;
    rt_pending *p;
    char *in;

    (void)ctx, (void)results;
    rt_host_begin(&h, call);
    if (rt_host_str(&h, (uint32_t)args[0].i32, (uint32_t)args[1].i32, &id) != 0)
        return rt_host_trap(&h);
    in = input_json("request", id, NULL, 0, false);
    p = take_pending(h.a, id);
    free(id);
    if (p == NULL)
        return finish_unit(&h, (uint32_t)args[2].i32, "cancel-request", in, "no such outstanding request");
    rt_reply_complete(h.a->rt, &p->reply, TH_ECLOSED, false, NULL, 0, "request cancelled");
    free(p);
    return finish_unit(&h, (uint32_t)args[2].i32, "cancel-request", in, NULL);
}

static const rt_hostfn fns[] = {
    {"send", "iiiii>", h_send},
    {"request", "iiiii>", h_request},
    {"open-channel", "iiiii>", h_open_channel},
    {"send-on-channel", "iiiii>", h_send_on_channel},
    {"close-channel", "iii>", h_close_channel},
    {"list-outstanding-requests", "i>", h_list_outstanding},
    {"respond-to-request", "iiiii>", h_respond},
    {"cancel-request", "iii>", h_cancel},
};

const rt_iface rt_iface_message_server = {
    "theater:simple/message-server-host", RT_H_MESSAGE_SERVER, fns, sizeof fns / sizeof fns[0], NULL
};
