/*
 * supervise.c - parents and children: failure notification, the stop
 * cascade, the end of an actor, restarts and the declared strategies.
 *
 * The failure flow of the seed, step by step:
 *   1. the executor reports a trap / err result / fuel / timeout (turn.c);
 *   2. "actor-failed" is recorded in the child's chain (actor.c);
 *   3. the parent is notified: RT_MSG_CHILD_ERROR on its control queue;
 *   4. the supervisor decides: the strategy declared in the parent's
 *      manifest (one-for-one, one-for-all, rest-for-one, with the child's
 *      restart policy and the restart intensity), recorded as
 *      "supervisor-action" in the parent's chain; then the parent's own
 *      handle-child-error runs as an ordinary operation and may act too
 *      (supervisor.restart-child, stop-child);
 *   5. the runtime carries the action out (RT_MSG_RESTART to the child: a
 *      fresh instance from the same manifest and initial state, same id and
 *      chain);
 *   6. "actor-restarted" is recorded in the child's chain.
 * When restarts exceed max_restarts within within_seconds the parent itself
 * fails (and so is reported to its own parent), as in Erlang/OTP.
 *
 * Stopping an actor stops its children first: each gets RT_MSG_STOP and
 * answers with a RT_TOKEN_CHILD_GONE wake once it has ended; the parent
 * ends when the last one has answered.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/rt_int.h"

void rt_sup_unlink(rt_actor *parent, rt_actor *child)
{
    uint32_t i;
    bool found = false;

    pthread_mutex_lock(&parent->lock);
    for (i = 0; i < parent->nchildren; i++) {
        if (parent->children[i] == child) {
            memmove(&parent->children[i], &parent->children[i + 1],
                    (parent->nchildren - i - 1) * sizeof *parent->children);
            parent->nchildren--;
            found = true;
            break;
        }
    }
    pthread_mutex_unlock(&parent->lock);
    if (found)
        rt_actor_release(child);
}

/* Record the end in the actor (and, for a root actor, in the runtime's
 * list of ends) and take the list of its waiters. */
static rt_sync **exit_fill(rt_actor *a, int reason, bool has_data, const uint8_t *data, size_t len,
                           const char *message, const char *backtrace, uint32_t *nwaiters)
{
    th_actor_exit *x, bare = {.reason = reason};
    rt_sync **w;

    pthread_mutex_lock(&a->lock);
    if ((x = a->exit) != NULL) {
        free(x->data);
        free(x->backtrace);
        memset(x, 0, sizeof *x);
    } else {
        x = a->exit = calloc(1, sizeof *x); /* NULL: the reason alone is kept */
    }
    a->exit_reason = reason;
    if (x != NULL) {
        x->reason = reason;
        if (has_data) {
            x->data = rt_memdup(data, len);
            x->has_data = x->data != NULL;
            x->data_len = x->data ? len : 0;
        }
        if (message != NULL)
            snprintf(x->message, sizeof x->message, "%s", message);
        /* (the engine's backtrace, bounded as it bounds it; none if out
         * of memory) */
        if (backtrace != NULL && backtrace[0] != '\0')
            x->backtrace = strdup(backtrace);
    }
    a->exited = true;
    if (a->parent == NULL)
        rt_exit_remember(a->rt, a->id, x != NULL ? x : &bare);
    w = a->waiters;
    *nwaiters = a->nwaiters;
    a->waiters = NULL;
    a->nwaiters = 0;
    pthread_mutex_unlock(&a->lock);
    return w;
}

static void exit_wake(rt_actor *a, rt_sync **w, uint32_t n)
{
    uint32_t i;

    for (i = 0; i < n; i++) {
        rt_reply r = {NULL, 0, w[i], NULL, 0};
        rt_reply_complete(a->rt, &r, TH_OK, false, NULL, 0, NULL);
    }
    free(w);
}

/* Record the end in the actor and wake everyone waiting for it. */
static void set_exit(rt_actor *a, int reason, bool has_data, const uint8_t *data, size_t len,
                     const char *message, const char *backtrace)
{
    uint32_t n;
    rt_sync **w = exit_fill(a, reason, has_data, data, len, message, backtrace, &n);

    exit_wake(a, w, n);
}

void rt_sup_child_failed(rt_actor *child, int wit_type, const char *text, const char *backtrace)
{
    rt_msg *m;

    if (child->parent == NULL) {
        rt_durable_ended(child); /* failed for good: not brought back */
        child->failed_for_good = true;
        set_exit(child, TH_EXIT_FAILED, false, NULL, 0, text, backtrace);
        return;
    }
    m = rt_msg_new(RT_MSG_CHILD_ERROR, NULL, 0);
    if (m == NULL)
        return;
    memcpy(m->a, child->id, sizeof m->a);
    m->code = (int16_t)wit_type;
    /* the parent's handle-child-error gets a trap's frames in its data,
     * as a spawn's err carries them (the export has no other place) */
    m->text = rt_text_with_frames(text, backtrace);
    rt_actor_post_ctl(child->parent, m);
}

void rt_sup_begin_stop(rt_actor *a, rt_msg *stop)
{
    if (a->status == TH_ACTOR_STOPPED) {
        rt_reply_complete(a->rt, &stop->reply, TH_OK, false, NULL, 0, NULL);
        rt_msg_free(stop);
        return;
    }
    if (a->stop_msg != NULL) {
        /* already ending: answer this one at the end too */
        atomic_store_explicit(&stop->node.next, (rt_node *)a->stop_more, memory_order_relaxed);
        a->stop_more = stop;
        return;
    }
    a->stop_msg = stop;
    rt_actor_abort_op(a, "actor is stopping");
    rt_actor_set_status(a, TH_ACTOR_STOPPING);
    a->stop_waiting = rt_actor_stop_children(
        a, stop->code == RT_STOP_RUNTIME ? RT_STOP_RUNTIME : RT_STOP_BY_PARENT, true);
    if (a->stop_waiting == 0)
        rt_sup_finish(a);
}

void rt_sup_child_gone(rt_actor *a, rt_msg *m)
{
    (void)m;
    if (a->stop_msg == NULL || a->stop_waiting == 0)
        return;
    if (--a->stop_waiting == 0)
        rt_sup_finish(a);
}

static void answer_stops(rt_actor *a)
{
    rt_msg *m = a->stop_msg, *next;

    a->stop_msg = NULL;
    rt_reply_complete(a->rt, &m->reply, TH_OK, false, NULL, 0, NULL);
    rt_msg_free(m);
    for (m = a->stop_more, a->stop_more = NULL; m != NULL; m = next) {
        next = (rt_msg *)atomic_load_explicit(&m->node.next, memory_order_relaxed);
        rt_reply_complete(a->rt, &m->reply, TH_OK, false, NULL, 0, NULL);
        rt_msg_free(m);
    }
}

static void drop_instance(rt_actor *a)
{
    th_wasm_instance_free(a->inst);
    a->inst = NULL;
    memset(a->fn, 0, sizeof a->fn);
    memset(a->fn_post, 0, sizeof a->fn_post);
    a->fn_realloc = NULL;
    a->nfn_dyn = 0;
    rt_actor_ended(a);
}

void rt_sup_finish(rt_actor *a)
{
    int code = a->stop_msg->code;
    rt_actor *parent = a->parent;
    rt_buf b = {0};
    rt_msg *note = NULL;
    rt_sync **waiters;
    uint32_t nwaiters;
    char why[TH_ERROR_MSG_MAX];
    bool keep;

    /* A permanent child that exits normally under a declared strategy is
     * restarted like a failed one: it keeps its id, so it stays. */
    keep = code == RT_STOP_EXIT && parent != NULL && parent->spec->strategy != RT_STRAT_NONE &&
           a->spec->restart == RT_RESTART_PERMANENT;
    rt_buf_puts(&b, "{\"reason\":\"");
    rt_buf_puts(&b, code == RT_STOP_EXIT       ? "shutdown"
                    : code == RT_STOP_EXTERNAL ? "external-stop"
                    : code == RT_STOP_RUNTIME  ? "runtime-shutdown"
                                               : "stopped-by-parent");
    rt_buf_puts(&b, "\",\"data\":");
    if (code == RT_STOP_EXIT && a->shutdown_has_data)
        rt_buf_json_hex(&b, a->shutdown_data, a->shutdown_len);
    else
        rt_buf_puts(&b, "null");
    rt_buf_puts(&b, "}");
    if (!keep) {
        /* a failed root actor is not brought back (rt_sup_child_failed):
         * a shutdown drops its durable messages too */
        bool comes_back = code == RT_STOP_RUNTIME && !a->failed_for_good;
        /* before the event can be heard: a listing after it leaves it out */
        rt_actor_set_status(a, TH_ACTOR_STOPPED);
        /* what it will never handle is on record before its last event */
        rt_actor_drop_all(a, "stopped", "stopped", comes_back);
    }
    rt_record_buf(a, "actor-stopped", &b);

    drop_instance(a);
    rt_actor_fail_pending(a, "actor stopped");
    /* (a runtime shutdown is a daemon's: its channel streams say so) */
    snprintf(why, sizeof why, "actor %s (%s) stopped%s", a->spec->name, a->id,
             code == RT_STOP_RUNTIME ? ": the daemon is shutting down" : "");
    rt_channel_close_all(a->rt, a->id, why);
    if (parent != NULL && (code == RT_STOP_EXIT || code == RT_STOP_EXTERNAL)) {
        note = rt_msg_new(code == RT_STOP_EXIT ? RT_MSG_CHILD_EXIT : RT_MSG_CHILD_STOP,
                          code == RT_STOP_EXIT && a->shutdown_has_data ? a->shutdown_data : NULL,
                          code == RT_STOP_EXIT && a->shutdown_has_data ? a->shutdown_len : 0);
        if (note != NULL) {
            memcpy(note->a, a->id, sizeof note->a);
            note->has_data = code == RT_STOP_EXIT && a->shutdown_has_data;
        }
    }
    if (keep) {
        rt_actor_set_status(a, TH_ACTOR_FAILED);
        a->shutdown_req = false;
        answer_stops(a);
        if (note != NULL)
            rt_actor_post_ctl(parent, note);
        return;
    }
    /* a runtime shutdown keeps it for the next start, unless it is a root
     * actor that failed: its record went with the failure, and the rows of
     * the messages acknowledged to it since (dropped above, on record) go
     * now, or they would outlive it */
    if (code != RT_STOP_RUNTIME || a->failed_for_good)
        rt_durable_ended(a);
    rt_actor_refuse_all(a, "stopped");
    /* the end is on record before the actor leaves the registry, so a
     * th_runtime_wait in between still finds one or the other */
    if (code == RT_STOP_EXIT)
        waiters = exit_fill(a, TH_EXIT_SHUTDOWN, a->shutdown_has_data, a->shutdown_data,
                            a->shutdown_len, NULL, NULL, &nwaiters);
    else
        waiters = exit_fill(a, TH_EXIT_STOPPED, false, NULL, 0, NULL, NULL, &nwaiters);
    rt_record_push(a); /* its last events are queued before it is gone (th_runtime_flush) */
    rt_registry_remove(&a->rt->reg, a);
    rt_actor_uncount(a);
    if (note != NULL)
        rt_actor_post_ctl(parent, note);
    if (parent != NULL)
        rt_sup_unlink(parent, a);
    answer_stops(a);
    exit_wake(a, waiters, nwaiters);
}

/* ------------------------------------------------------------------ */
/* Restarts                                                           */

/* Post RESTART; until it is carried out, messages to the child are
 * accepted (queued for the new instance) although it is still FAILED. */
static void post_restart(rt_actor *child, rt_msg *m)
{
    pthread_mutex_lock(&child->lock);
    child->restart_pending = true;
    pthread_mutex_unlock(&child->lock);
    rt_actor_post_ctl(child, m);
}

void rt_sup_do_restart(rt_actor *a)
{
    th_error err;
    rt_msg *init;
    rt_buf b = {0};
    char why[TH_ERROR_MSG_MAX], *bt;

    pthread_mutex_lock(&a->lock);
    a->restart_pending = false;
    pthread_mutex_unlock(&a->lock);
    a->failed_for_good = false;
    if (a->status == TH_ACTOR_STOPPING || a->status == TH_ACTOR_STOPPED || a->stop_msg != NULL)
        return;
    rt_actor_abort_op(a, "actor is restarting");
    rt_actor_ended(a); /* the new instance starts with nothing outside */
    atomic_fetch_add_explicit(&a->n_restarts, 1, memory_order_relaxed);
    rt_actor_fail_pending(a, "actor restarted");
    snprintf(why, sizeof why, "actor %s (%s) restarted", a->spec->name, a->id);
    rt_channel_close_all(a->rt, a->id, why); /* the new instance accepted none of them */
    rt_actor_stop_children(a, RT_STOP_BY_PARENT, false);
    a->shutdown_req = false;
    rt_actor_set_state(a, a->has_init_state,
                       a->has_init_state ? rt_memdup(a->init_state, a->init_state_len) : NULL,
                       a->init_state_len);
    rt_buf_puts(&b, "{\"init_state\":");
    if (a->has_init_state)
        rt_buf_json_hex(&b, a->init_state, a->init_state_len);
    else
        rt_buf_puts(&b, "null");
    if (a->resumed) /* as supervisor.resume started it: that state, no init */
        rt_buf_puts(&b, ",\"resumed\":true");
    rt_buf_puts(&b, ",\"component\":\"");
    rt_buf_puts(&b, a->component);
    if (a->durable) {
        /* a new incarnation: its init's sends get new ids (durable.c) */
        rt_uuid_v4(a->incarnation);
        rt_buf_puts(&b, "\",\"incarnation\":\"");
        rt_buf_puts(&b, a->incarnation);
        rt_durable_restarted(a);
    }
    rt_buf_puts(&b, "\"}");
    rt_record_buf(a, "actor-restarted", &b);
    th_error_clear(&err);
    /* The new incarnation is in the ids of its init's sends: it must be on
     * the chain before any of them is stored.  Else a crash in between
     * brings the actor back as the previous incarnation, whose restart makes
     * yet another, and the receiver handles the sends of both. */
    if (a->durable && a->rt->durable != NULL && rt_record_flush(a, &err) != 0) {
        rt_actor_fail(a, RT_WIT_INTERNAL, "restart failed: %s", err.msg);
        return;
    }
    if (rt_actor_instantiate(a, &bt, &err) != 0) {
        /* (a trap in the start function: the failure says where) */
        rt_actor_fail_bt(a, RT_WIT_INTERNAL, bt, "restart failed: %s", err.msg);
        free(bt);
        return;
    }
    pthread_mutex_lock(&a->lock);
    a->status = a->resumed ? TH_ACTOR_RUNNING : TH_ACTOR_STARTING;
    pthread_mutex_unlock(&a->lock);
    if (a->resumed)
        return;
    init = rt_msg_new(RT_MSG_INIT, NULL, 0);
    if (init == NULL) {
        rt_actor_fail(a, RT_WIT_INTERNAL, "restart failed: out of memory");
        return;
    }
    rt_mpsc_push(&a->ctl, &init->node); /* served later in this turn */
}

int rt_sup_restart(rt_actor *parent, rt_actor *child, th_error *err)
{
    rt_msg *m;

    if (child->parent != parent)
        return th_error_set(err, TH_ENOENT, "%s is not a child of %s", child->id, parent->id);
    m = rt_msg_new(RT_MSG_RESTART, NULL, 0);
    if (m == NULL)
        return th_error_set(err, TH_ENOMEM, "out of memory");
    post_restart(child, m);
    return 0;
}

static const char *strategy_name(int s)
{
    switch (s) {
    case RT_STRAT_ONE_FOR_ONE: return "one-for-one";
    case RT_STRAT_ONE_FOR_ALL: return "one-for-all";
    case RT_STRAT_REST_FOR_ONE: return "rest-for-one";
    default: return "none";
    }
}

/* Count a restart against the intensity; false if it is exceeded. */
static bool intensity_ok(rt_actor *p)
{
    uint32_t max = p->spec->max_restarts, i, k = 0;
    uint64_t now = rt_now_ns();
    uint64_t window =
        (uint64_t)(p->spec->within_seconds ? p->spec->within_seconds : 5) * 1000000000u;

    if (p->restarts == NULL) {
        p->restarts = calloc((size_t)max + 1, sizeof *p->restarts);
        if (p->restarts == NULL)
            return false;
        p->nrestarts = 0;
    }
    for (i = 0; i < p->nrestarts; i++)
        if (now - p->restarts[i] < window)
            p->restarts[k++] = p->restarts[i];
    p->nrestarts = k;
    if (k >= max)
        return false;
    p->restarts[p->nrestarts++] = now;
    return true;
}

bool rt_sup_apply_strategy(rt_actor *p, rt_msg *m)
{
    rt_actor **kids = NULL, *child = NULL;
    size_t n = 0, i, at = 0;
    int policy, strat = p->spec->strategy;
    bool restart;
    rt_buf b = {0};

    if (strat == RT_STRAT_NONE || m->kind == RT_MSG_CHILD_STOP)
        return true;
    if (rt_actor_children(p, &kids, &n) != 0)
        return true;
    for (i = 0; i < n; i++) {
        if (memcmp(kids[i]->id, m->a, RT_ID_LEN) == 0) {
            child = kids[i];
            at = i;
            break;
        }
    }
    if (child == NULL)
        goto out;
    policy = child->spec->restart;
    restart = policy == RT_RESTART_PERMANENT ||
              (policy == RT_RESTART_TRANSIENT && m->kind == RT_MSG_CHILD_ERROR);
    if (!restart) {
        if (m->kind == RT_MSG_CHILD_ERROR) {
            /* a temporary child is not restarted: it goes away */
            rt_msg *stop = rt_msg_new(RT_MSG_STOP, NULL, 0);
            if (stop != NULL) {
                stop->code = RT_STOP_BY_PARENT;
                rt_actor_post_ctl(child, stop);
            }
        }
        goto out;
    }
    if (!intensity_ok(p)) {
        rt_buf_puts(&b, "{\"action\":\"escalate\",\"strategy\":\"");
        rt_buf_puts(&b, strategy_name(strat));
        rt_buf_printf(&b, "\",\"max_restarts\":%u,\"within_seconds\":%u,\"child\":",
                      p->spec->max_restarts, p->spec->within_seconds);
        rt_buf_json_str(&b, child->id, RT_ID_LEN);
        rt_buf_puts(&b, "}");
        rt_record_buf(p, "supervisor-action", &b);
        for (i = 0; i < n; i++)
            rt_actor_release(kids[i]);
        free(kids);
        rt_actor_fail(p, RT_WIT_INTERNAL,
                      "restart intensity exceeded: more than %u restarts in %u s (child %s)",
                      p->spec->max_restarts, p->spec->within_seconds ? p->spec->within_seconds : 5,
                      m->a);
        return false;
    }
    rt_buf_puts(&b, "{\"action\":\"restart\",\"strategy\":\"");
    rt_buf_puts(&b, strategy_name(strat));
    rt_buf_puts(&b, "\",\"trigger\":");
    rt_buf_json_str(&b, child->id, RT_ID_LEN);
    rt_buf_puts(&b, m->kind == RT_MSG_CHILD_ERROR ? ",\"because\":\"failed\""
                                                  : ",\"because\":\"exited\"");
    rt_buf_puts(&b, ",\"children\":[");
    for (i = 0; i < n; i++) {
        bool target = strat == RT_STRAT_ONE_FOR_ALL ||
                      (strat == RT_STRAT_REST_FOR_ONE && i >= at) || kids[i] == child;
        rt_msg *r;
        if (!target)
            continue;
        if (kids[i] != child && kids[i]->spec->restart == RT_RESTART_TEMPORARY) {
            r = rt_msg_new(RT_MSG_STOP, NULL, 0);
            if (r != NULL)
                r->code = RT_STOP_BY_PARENT;
        } else {
            r = rt_msg_new(RT_MSG_RESTART, NULL, 0);
            if (b.len && b.data[b.len - 1] != '[')
                rt_buf_puts(&b, ",");
            rt_buf_json_str(&b, kids[i]->id, RT_ID_LEN);
            if (r != NULL) {
                post_restart(kids[i], r);
                continue;
            }
        }
        if (r != NULL)
            rt_actor_post_ctl(kids[i], r);
    }
    rt_buf_puts(&b, "]}");
    rt_record_buf(p, "supervisor-action", &b);
out:
    for (i = 0; i < n; i++)
        rt_actor_release(kids[i]);
    free(kids);
    return true;
}
