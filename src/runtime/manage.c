/*
 * manage.c - the part of the embedding API that a management server needs
 * beyond running actors: actor snapshots with metrics, manifests, restart,
 * graceful stop, requests answered through a callback, and channels whose
 * other end is outside the runtime (a client of the daemon).
 *
 * Outside endpoints.  A channel opened from the outside has an id for its
 * outside side like an actor's (a UUID), kept in rt->outside under outlock
 * with the callback that receives what the actor sends.  rt_channel_deliver
 * is the one place a channel message goes to its peer: an actor's mailbox,
 * or the callback of an outside endpoint (called under outlock, so that
 * th_runtime_channel_close can promise that no callback runs after it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/rt_int.h"

typedef struct rt_outside {
    struct rt_outside *next;
    char id[RT_ID_LEN + 1];   /* this endpoint's side of the channel */
    char chan[RT_ID_LEN + 1]; /* the channel */
    th_runtime_channel_fn fn;
    void *ud;
} rt_outside;

static rt_actor *lookup(rt_runtime *rt, const char *id, th_error *err)
{
    rt_actor *a = id ? rt_registry_get(&rt->reg, id, strlen(id)) : NULL;

    if (a == NULL)
        th_error_set(err, TH_ENOENT, "no actor %s", id ? id : "(null)");
    return a;
}

static void copy_str(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

int th_runtime_actor_info(th_runtime *rt, const char *actor_id, th_actor_info *out, th_error *err)
{
    rt_actor *a = lookup(rt, actor_id, err);

    if (a == NULL)
        return TH_ENOENT;
    memset(out, 0, sizeof *out);
    memcpy(out->id, a->id, sizeof out->id);
    copy_str(out->name, sizeof out->name, a->spec->name);
    copy_str(out->version, sizeof out->version, a->spec->version);
    out->save_chain = a->spec->save_chain;
    out->started_ms = a->started_ms;
    out->start_seq = a->start_seq;
    pthread_mutex_lock(&a->lock);
    out->status = (th_actor_status)a->status;
    if (a->stop_queued && a->status == TH_ACTOR_RUNNING)
        out->status = TH_ACTOR_STOPPING; /* a graceful stop waits behind its mailbox */
    else if (a->restart_pending && a->status == TH_ACTOR_FAILED)
        out->status = TH_ACTOR_STARTING; /* a restart is on its way */
    out->children = a->nchildren;
    if (a->parent != NULL)
        memcpy(out->parent, a->parent->id, sizeof out->parent);
    pthread_mutex_unlock(&a->lock);
    out->messages_in = atomic_load_explicit(&a->n_in, memory_order_relaxed);
    out->messages_out = atomic_load_explicit(&a->n_out, memory_order_relaxed);
    out->calls = atomic_load_explicit(&a->n_calls, memory_order_relaxed);
    out->fuel_used = atomic_load_explicit(&a->n_fuel, memory_order_relaxed);
    out->memory_bytes = atomic_load_explicit(&a->n_mem, memory_order_relaxed);
    out->restarts = atomic_load_explicit(&a->n_restarts, memory_order_relaxed);
    out->events = atomic_load_explicit(&a->rec_done, memory_order_relaxed);
    rt_actor_release(a);
    return 0;
}

int th_runtime_actor_manifest(th_runtime *rt, const char *actor_id, char **text, char **path,
                              th_error *err)
{
    rt_actor *a = lookup(rt, actor_id, err);
    int rc = 0;

    *text = NULL;
    if (path != NULL)
        *path = NULL;
    if (a == NULL)
        return TH_ENOENT;
    /* the spec is shared and immutable once loaded */
    *text = strdup(a->spec->manifest_text ? a->spec->manifest_text : "");
    if (path != NULL && a->spec->manifest_path != NULL)
        *path = strdup(a->spec->manifest_path);
    if (*text == NULL || (path != NULL && a->spec->manifest_path != NULL && *path == NULL)) {
        free(*text);
        *text = NULL;
        if (path != NULL) {
            free(*path);
            *path = NULL;
        }
        rc = th_error_set(err, TH_ENOMEM, "out of memory");
    }
    rt_actor_release(a);
    return rc;
}

int th_runtime_restart(th_runtime *rt, const char *actor_id, th_error *err)
{
    rt_actor *a;
    rt_msg *m;
    int st;

    if (atomic_load(&rt->closing))
        return th_error_set(err, TH_ECLOSED, "the runtime is shutting down");
    if ((a = lookup(rt, actor_id, err)) == NULL)
        return TH_ENOENT;
    m = rt_msg_new(RT_MSG_RESTART, NULL, 0);
    if (m == NULL) {
        rt_actor_release(a);
        return th_error_set(err, TH_ENOMEM, "out of memory");
    }
    /* one look: a stop queued behind its mailbox (graceful) is not cut
     * short by a restart either */
    pthread_mutex_lock(&a->lock);
    st = a->stop_queued ? TH_ACTOR_STOPPING : a->status;
    if (st != TH_ACTOR_STOPPING && st != TH_ACTOR_STOPPED)
        a->restart_pending = true;
    pthread_mutex_unlock(&a->lock);
    if (st == TH_ACTOR_STOPPING || st == TH_ACTOR_STOPPED) {
        rt_msg_free(m);
        rt_actor_release(a);
        return th_error_set(err, TH_ESTATE, "actor %s is stopping", actor_id);
    }
    rt_actor_post_ctl(a, m);
    rt_actor_release(a);
    return 0;
}

int th_runtime_stop_graceful(th_runtime *rt, const char *actor_id, uint32_t timeout_ms,
                             th_error *err)
{
    rt_actor *a = lookup(rt, actor_id, err);
    rt_sync *s;
    rt_msg *m;
    bool done;
    int st;

    if (a == NULL)
        return TH_ENOENT;
    s = rt_sync_new();
    m = rt_msg_new(RT_MSG_STOP, NULL, 0);
    if (s == NULL || m == NULL) {
        rt_sync_release(s);
        rt_msg_free(m);
        rt_actor_release(a);
        return th_error_set(err, TH_ENOMEM, "out of memory");
    }
    m->code = RT_STOP_EXTERNAL;
    atomic_fetch_add(&s->refs, 1);
    m->reply.sync = s;
    /* only a running actor serves its mailbox (it is then listed as
     * stopping and a restart is refused); any other is stopped now */
    pthread_mutex_lock(&a->lock);
    st = a->status;
    if (st == TH_ACTOR_RUNNING)
        a->stop_queued = true;
    pthread_mutex_unlock(&a->lock);
    if (st == TH_ACTOR_RUNNING)
        rt_actor_post(a, m);
    else
        rt_actor_post_ctl(a, m);
    done = rt_sync_wait(s, timeout_ms, NULL);
    /* a stop refused from the mailbox (the actor failed meanwhile), or
     * one that took too long: stop it at once */
    if (!done || s->status != 0) {
        rt_sync_release(s);
        rt_actor_release(a);
        return th_runtime_stop(rt, actor_id, err);
    }
    rt_sync_release(s);
    rt_record_flush(a, NULL); /* as th_runtime_stop: its last events are readable */
    rt_actor_release(a);
    return 0;
}

/* TH_EBUSY for a message from outside to a full mailbox (the outside is
 * never held; runtime.h). */
int th_runtime_request_async(th_runtime *rt, const char *actor_id, const uint8_t *msg, size_t len,
                             uint32_t timeout_ms, th_runtime_reply_fn fn, void *ud, th_error *err)
{
    rt_actor *a = lookup(rt, actor_id, err);
    rt_sync *s;
    rt_msg *m;
    int rc;

    if (a == NULL)
        return TH_ENOENT;
    s = rt_sync_new();
    m = rt_msg_new(RT_MSG_REQUEST, msg, len);
    if (s == NULL || m == NULL) {
        rt_sync_release(s);
        rt_msg_free(m);
        rt_actor_release(a);
        return th_error_set(err, TH_ENOMEM, "out of memory");
    }
    s->fn = fn;
    s->fn_ud = ud;
    rt_uuid_v4(m->b);
    m->reply.sync = s; /* the message holds the only reference */
    m->reply.deadline_ns = rt_deadline_ns(timeout_ms);
    if ((rc = rt_actor_offer(a, m, false)) != RT_OFFER_QUEUED) {
        rc = rt_actor_offer_error(a, m, rc, err);
        s->fn = NULL;   /* the caller hears it from the result */
        rt_msg_free(m); /* and s with it */
        rt_actor_release(a);
        return rc;
    }
    rt_actor_release(a);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Channels with the outside                                          */

bool rt_channel_deliver(rt_runtime *rt, const char *id, rt_msg *m)
{
    rt_actor *peer = rt_registry_get(&rt->reg, id, strlen(id));
    rt_outside *o;
    bool found = false;

    if (peer != NULL) {
        rt_actor_post(peer, m);
        rt_actor_release(peer);
        return true;
    }
    pthread_mutex_lock(&rt->outlock);
    for (o = rt->outside; o != NULL; o = o->next) {
        if (strcmp(o->id, id) == 0 && strcmp(o->chan, m->b) == 0) {
            o->fn(o->ud, m->kind == RT_MSG_CHAN_MSG ? TH_CHANNEL_MESSAGE : TH_CHANNEL_CLOSED,
                  o->chan, m->data, m->len);
            found = true;
            break;
        }
    }
    pthread_mutex_unlock(&rt->outlock);
    rt_msg_free(m);
    return found;
}

void rt_outside_free(rt_runtime *rt)
{
    rt_outside *o, *next;

    for (o = rt->outside; o != NULL; o = next) {
        next = o->next;
        free(o);
    }
    rt->outside = NULL;
}

int th_runtime_channel_open(th_runtime *rt, const char *actor_id, const uint8_t *msg, size_t len,
                            th_runtime_channel_fn fn, void *ud, th_runtime_reply_fn done,
                            void *done_ud, char chan_out[TH_ACTOR_ID_SIZE], th_error *err)
{
    rt_actor *a;
    rt_outside *o;
    rt_sync *s = NULL;
    rt_msg *m = NULL;
    int rc;

    if (atomic_load(&rt->closing))
        return th_error_set(err, TH_ECLOSED, "the runtime is shutting down");
    if ((a = lookup(rt, actor_id, err)) == NULL)
        return TH_ENOENT;
    o = calloc(1, sizeof *o);
    s = o ? rt_sync_new() : NULL;
    m = s ? rt_msg_new(RT_MSG_CHAN_OPEN, msg, len) : NULL;
    if (m != NULL)
        rt_uuid_v4(o->id); /* the opener's side, named like an actor */
    if (m == NULL || rt_channel_new(rt, o->id, a->id, m->b) != 0) {
        free(o);
        rt_sync_release(s);
        rt_msg_free(m);
        rt_actor_release(a);
        return th_error_set(err, TH_ENOMEM, "out of memory");
    }
    o->fn = fn;
    o->ud = ud;
    memcpy(o->chan, m->b, sizeof o->chan);
    pthread_mutex_lock(&rt->outlock);
    o->next = rt->outside;
    rt->outside = o;
    pthread_mutex_unlock(&rt->outlock);
    memcpy(m->a, o->id, sizeof m->a);
    memcpy(chan_out, o->chan, TH_ACTOR_ID_SIZE);
    s->fn = done;
    s->fn_ud = done_ud;
    m->reply.sync = s;
    if ((rc = rt_actor_offer(a, m, false)) != RT_OFFER_QUEUED) {
        rt_outside **pp;
        pthread_mutex_lock(&rt->outlock);
        for (pp = &rt->outside; *pp != NULL && *pp != o; pp = &(*pp)->next)
            ;
        if (*pp != NULL)
            *pp = o->next;
        pthread_mutex_unlock(&rt->outlock);
        rt_channel_close(rt, o->chan, NULL, NULL);
        free(o);
        rc = rt_actor_offer_error(a, m, rc, err);
        s->fn = NULL;   /* the caller hears it from the result */
        rt_msg_free(m); /* and s with it */
        rt_actor_release(a);
        return rc;
    }
    rt_actor_release(a);
    return 0;
}

/* The endpoint of an outside channel, by channel id (outlock held). */
static rt_outside **outside_find(rt_runtime *rt, const char *chan)
{
    rt_outside **pp;

    for (pp = &rt->outside; *pp != NULL; pp = &(*pp)->next)
        if (strcmp((*pp)->chan, chan) == 0)
            return pp;
    return NULL;
}

int th_runtime_channel_send(th_runtime *rt, const char *channel, const uint8_t *msg, size_t len,
                            th_error *err)
{
    char self[RT_ID_LEN + 1], peer[RT_ID_LEN + 1];
    rt_outside **pp;
    rt_actor *a;
    rt_msg *m;
    int rc;

    pthread_mutex_lock(&rt->outlock);
    pp = outside_find(rt, channel);
    if (pp != NULL)
        memcpy(self, (*pp)->id, sizeof self);
    pthread_mutex_unlock(&rt->outlock);
    if (pp == NULL)
        return th_error_set(err, TH_ENOENT, "no channel %s", channel);
    rc = rt_channel_peer(rt, channel, strlen(channel), self, peer);
    if (rc != 0)
        return th_error_set(err, TH_ECLOSED, "channel %s is not open", channel);
    m = rt_msg_new(RT_MSG_CHAN_MSG, msg, len);
    if (m == NULL)
        return th_error_set(err, TH_ENOMEM, "out of memory");
    memcpy(m->a, self, sizeof m->a);
    memcpy(m->b, channel, RT_ID_LEN);
    m->b[RT_ID_LEN] = 0;
    if ((a = rt_registry_get(&rt->reg, peer, RT_ID_LEN)) != NULL) {
        /* an actor: its mailbox limits apply */
        rc = rt_actor_offer(a, m, false);
        rc = rc == RT_OFFER_QUEUED ? 0 : rt_actor_offer_error(a, m, rc, err);
        if (rc != 0)
            rt_msg_free(m);
        rt_actor_release(a);
        return rc;
    }
    if (!rt_channel_deliver(rt, peer, m))
        return th_error_set(err, TH_ECLOSED, "the actor of channel %s is gone", channel);
    return 0;
}

int th_runtime_channel_close(th_runtime *rt, const char *channel, th_error *err)
{
    char peer[RT_ID_LEN + 1];
    rt_outside **pp, *o = NULL;
    rt_msg *m;
    int rc;

    pthread_mutex_lock(&rt->outlock);
    pp = outside_find(rt, channel);
    if (pp != NULL) {
        o = *pp;
        *pp = o->next;
    }
    pthread_mutex_unlock(&rt->outlock);
    if (o == NULL)
        return th_error_set(err, TH_ENOENT, "no channel %s", channel);
    rc = rt_channel_close(rt, channel, o->id, peer);
    if (rc == 0 && (m = rt_msg_new(RT_MSG_CHAN_CLOSE, NULL, 0)) != NULL) {
        memcpy(m->a, o->id, sizeof m->a);
        memcpy(m->b, o->chan, sizeof m->b);
        rt_channel_deliver(rt, peer, m);
    }
    free(o);
    return 0;
}

struct th_chain *th_runtime_chain(th_runtime *rt)
{
    return rt->chain;
}

struct th_store *th_runtime_store(th_runtime *rt)
{
    return rt->store;
}

const char *th_runtime_home(th_runtime *rt)
{
    return rt->home;
}
