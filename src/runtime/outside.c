/*
 * outside.c - what management clients (src/server/) ask of the runtime
 * beyond runtime.c: a description of a live actor, its chain so far, an
 * in-place restart, a new store id, and channels whose opener is outside
 * the runtime.
 *
 * Outside channels: the opener is not an actor, so its side of the
 * rt_channel holds a fresh UUID that no actor has, and the channel carries
 * the opener's callback (out_fn).  runtime.c delivers what the actor sends
 * to that callback under the channel lock, which is what makes "never
 * called after the close" hold.
 */
#include <stdlib.h>
#include <string.h>

#include "runtime/rt_int.h"
#include "theater/store.h"

static rt_actor *find(th_runtime *rt, const char *id, th_error *err)
{
    rt_actor *a = id != NULL ? rt_registry_get(&rt->reg, id, strlen(id)) : NULL;

    if (a == NULL)
        th_error_set(err, TH_ENOENT, "no actor %s", id != NULL ? id : "(null)");
    return a;
}

static char *dup_or_null(const char *s)
{
    return s != NULL ? strdup(s) : NULL;
}

int th_runtime_actor_info(th_runtime *rt, const char *actor_id, th_actor_info *info,
                          th_error *err)
{
    rt_actor *a = find(rt, actor_id, err);
    const rt_spec *sp;

    memset(info, 0, sizeof *info);
    if (a == NULL)
        return TH_ENOENT;
    sp = a->spec; /* set at creation, never replaced */
    memcpy(info->id, a->id, TH_ACTOR_ID_SIZE);
    pthread_mutex_lock(&a->lock);
    info->status = (th_actor_status)a->status;
    if (a->parent != NULL)
        memcpy(info->parent, a->parent->id, TH_ACTOR_ID_SIZE);
    info->has_state = a->has_state;
    info->state_len = a->state_len;
    pthread_mutex_unlock(&a->lock);
    info->save_chain = sp->save_chain;
    info->name = dup_or_null(sp->name != NULL ? sp->name : "");
    info->version = dup_or_null(sp->version != NULL ? sp->version : "");
    info->manifest_path = dup_or_null(sp->manifest_path);
    info->manifest_text = dup_or_null(sp->manifest_text != NULL ? sp->manifest_text : "");
    rt_actor_release(a);
    if (info->name == NULL || info->version == NULL || info->manifest_text == NULL ||
        (sp->manifest_path != NULL && info->manifest_path == NULL)) {
        th_actor_info_release(info);
        return th_error_set(err, TH_ENOMEM, "out of memory");
    }
    return 0;
}

void th_actor_info_release(th_actor_info *info)
{
    if (info == NULL)
        return;
    free(info->name);
    free(info->version);
    free(info->manifest_path);
    free(info->manifest_text);
    info->name = info->version = info->manifest_path = info->manifest_text = NULL;
}

/* rt_record_each -> th_runtime_event_fn */
typedef struct events_walk {
    const char *id;
    th_runtime_event_fn fn;
    void *ud;
} events_walk;

static int visit_event(void *ud, const uint8_t hash[32], const uint8_t *parent, const char *type,
                       const uint8_t *data, size_t len, uint64_t ts)
{
    events_walk *w = ud;
    th_runtime_event ev;

    ev.actor_id = w->id;
    ev.type = type;
    ev.data = data;
    ev.data_len = len;
    ev.timestamp_ms = ts;
    ev.hash = hash;
    ev.parent_hash = parent;
    w->fn(w->ud, &ev);
    return 0;
}

int th_runtime_actor_events(th_runtime *rt, const char *actor_id, th_runtime_event_fn fn,
                            void *ud, th_error *err)
{
    rt_actor *a = find(rt, actor_id, err);
    events_walk w = {actor_id, fn, ud};
    int rc;

    if (a == NULL)
        return TH_ENOENT;
    w.id = a->id;
    rc = rt_record_each(a, visit_event, &w, err);
    rt_actor_release(a);
    return rc;
}

int th_runtime_restart(th_runtime *rt, const char *actor_id, th_error *err)
{
    rt_actor *a = find(rt, actor_id, err);
    rt_actor *parent;
    rt_msg *m;
    int status, rc = 0;

    if (a == NULL)
        return TH_ENOENT;
    pthread_mutex_lock(&a->lock);
    status = a->status;
    parent = a->parent;
    if (parent != NULL)
        rt_actor_ref(parent);
    pthread_mutex_unlock(&a->lock);
    if (status == TH_ACTOR_STOPPING || status == TH_ACTOR_STOPPED) {
        rc = th_error_set(err, TH_ESTATE, "%s is stopping", a->id);
    } else if (parent != NULL) {
        rc = rt_sup_restart(parent, a, err);
    } else if ((m = rt_msg_new(RT_MSG_RESTART, NULL, 0)) == NULL) {
        rc = th_error_set(err, TH_ENOMEM, "out of memory");
    } else {
        pthread_mutex_lock(&a->lock);
        a->restart_pending = true;
        pthread_mutex_unlock(&a->lock);
        rt_actor_post_ctl(a, m);
    }
    rt_actor_release(parent);
    rt_actor_release(a);
    return rc;
}

int th_runtime_store_new(th_runtime *rt, char store_id[TH_ACTOR_ID_SIZE], th_error *err)
{
    if (rt->store == NULL)
        return th_error_set(err, TH_ECLOSED, "the runtime is shut down");
    return th_store_new(rt->store, store_id, err);
}

/* ------------------------------------------------------------------ */
/* Outside channels                                                   */

int th_runtime_channel_open(th_runtime *rt, const char *actor_id, const uint8_t *msg,
                            size_t len, uint32_t timeout_ms, th_runtime_channel_fn fn,
                            void *ud, char channel_id[TH_ACTOR_ID_SIZE], th_error *err)
{
    rt_actor *a;
    rt_sync *s;
    rt_msg *m;
    char opener[RT_ID_LEN + 1], chan[RT_ID_LEN + 1];
    int rc;

    if (fn == NULL)
        return th_error_set(err, TH_EINVAL, "a channel needs a callback");
    if ((a = find(rt, actor_id, err)) == NULL)
        return TH_ENOENT;
    s = rt_sync_new();
    m = rt_msg_new(RT_MSG_CHAN_OPEN, msg, len);
    rt_uuid_v4(opener);
    if (s == NULL || m == NULL || rt_channel_new(rt, opener, a->id, fn, ud, chan) != 0) {
        rt_sync_release(s);
        rt_msg_free(m);
        rt_actor_release(a);
        return th_error_set(err, TH_ENOMEM, "out of memory");
    }
    memcpy(m->a, opener, sizeof m->a);
    memcpy(m->b, chan, sizeof m->b);
    atomic_fetch_add(&s->refs, 1);
    m->reply.sync = s;
    rt_actor_post(a, m);
    rt_actor_release(a);
    if (!rt_sync_wait(s, timeout_ms, rt)) {
        rt_sync_release(s);
        rt_channel_close(rt, chan, opener, NULL); /* a late accept finds nothing */
        return th_error_set(err, TH_ETIMEDOUT, "no answer from %s within %u ms", actor_id,
                            timeout_ms);
    }
    rc = s->status;
    if (rc == 0)
        memcpy(channel_id, chan, TH_ACTOR_ID_SIZE);
    else
        th_error_set(err, rc, "%s", s->msg);
    rt_sync_release(s);
    if (rc != 0)
        rt_channel_close(rt, chan, opener, NULL); /* gone already when refused */
    return rc;
}

int th_runtime_channel_send(th_runtime *rt, const char *channel_id, const uint8_t *msg,
                            size_t len, th_error *err)
{
    char opener[RT_ID_LEN + 1];
    int rc = rt_channel_outside(rt, channel_id, opener);

    if (rc == 0)
        rc = rt_channel_send(rt, channel_id, strlen(channel_id), opener, msg, len);
    if (rc == TH_ENOENT)
        return th_error_set(err, rc, "no channel %s", channel_id);
    if (rc == TH_EPERM)
        return th_error_set(err, rc, "channel %s is between actors", channel_id);
    if (rc == TH_ECLOSED)
        return th_error_set(err, rc, "channel %s is closed", channel_id);
    if (rc != 0)
        return th_error_set(err, rc, "out of memory");
    return 0;
}

int th_runtime_channel_close(th_runtime *rt, const char *channel_id, th_error *err)
{
    char opener[RT_ID_LEN + 1], peer[RT_ID_LEN + 1];
    rt_actor *t;
    rt_msg *m;
    int rc = rt_channel_outside(rt, channel_id, opener);

    if (rc == TH_ENOENT)
        return th_error_set(err, rc, "no channel %s", channel_id);
    if (rc == TH_EPERM)
        return th_error_set(err, rc, "channel %s is between actors", channel_id);
    rc = rt_channel_close(rt, channel_id, opener, peer);
    if (rc == TH_ENOENT) /* closed by the actor in between */
        return th_error_set(err, rc, "no channel %s", channel_id);
    if (rc != 0)
        return 0; /* not open yet, or already closed: it is gone now */
    t = rt_registry_get(&rt->reg, peer, RT_ID_LEN);
    m = t != NULL ? rt_msg_new(RT_MSG_CHAN_CLOSE, NULL, 0) : NULL;
    if (m != NULL) {
        memcpy(m->a, opener, sizeof m->a);
        memcpy(m->b, channel_id, RT_ID_LEN);
        m->b[RT_ID_LEN] = 0;
        rt_actor_post(t, m);
    }
    rt_actor_release(t);
    return 0;
}
