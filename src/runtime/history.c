/*
 * history.c - an actor's chain so far as th_runtime_event values
 * (th_runtime_actor_events), for management clients that answer with
 * whole chains (the compatibility listener's GetActorEvents and
 * GetActorMetrics).  The events come from rt_record_each: the chain in
 * THEATER_HOME, or the in-memory chain of a save_chain = false actor.
 */
#include <string.h>

#include "runtime/rt_int.h"

typedef struct events_walk {
    const char *id;
    th_runtime_event_fn fn;
    void *ud;
    uint64_t seq;
} events_walk;

static int visit_event(void *ud, const uint8_t hash[32], const uint8_t *parent, const char *type,
                       const uint8_t *data, size_t len, uint64_t ts, const char *description)
{
    events_walk *w = ud;
    th_runtime_event ev;

    memset(&ev, 0, sizeof ev);
    ev.actor_id = w->id;
    ev.type = type;
    ev.data = data;
    ev.data_len = len;
    ev.timestamp_ms = ts;
    ev.hash = hash;
    ev.parent_hash = parent;
    ev.description = description;
    ev.seq = w->seq++;
    w->fn(w->ud, &ev);
    return 0;
}

int th_runtime_actor_events(th_runtime *rt, const char *actor_id, th_runtime_event_fn fn, void *ud,
                            th_error *err)
{
    rt_actor *a = actor_id != NULL ? rt_registry_get(&rt->reg, actor_id, strlen(actor_id)) : NULL;
    events_walk w = {NULL, fn, ud, 0};
    int rc;

    if (a == NULL)
        return th_error_set(err, TH_ENOENT, "no actor %s", actor_id != NULL ? actor_id : "(null)");
    w.id = a->id;
    rc = rt_record_each(a, visit_event, &w, err);
    rt_actor_release(a);
    return rc;
}
