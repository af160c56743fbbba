/*
 * actor.c - actors as objects: references, creation (instance, exports,
 * registration, the first event), delivery into the mailboxes under the
 * limits, failure, and the queries other threads make.  Running them,
 * turn by turn, is turn.c.
 *
 * Chain records per operation: "wasm-call" (export and parameters) before
 * the call, host calls during it, "wasm-result" (result and new state)
 * after it, or "actor-failed".
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/rt_int.h"
#include "wit_glue.h"

const char *const rt_export_names[RT_EX_COUNT] = {
    WIT_EXPORT_ACTOR_INIT,
    WIT_EXPORT_MESSAGE_SERVER_CLIENT_HANDLE_SEND,
    WIT_EXPORT_MESSAGE_SERVER_CLIENT_HANDLE_REQUEST,
    WIT_EXPORT_MESSAGE_SERVER_CLIENT_HANDLE_CHANNEL_OPEN,
    WIT_EXPORT_MESSAGE_SERVER_CLIENT_HANDLE_CHANNEL_MESSAGE,
    WIT_EXPORT_MESSAGE_SERVER_CLIENT_HANDLE_CHANNEL_CLOSE,
    WIT_EXPORT_SUPERVISOR_HANDLERS_HANDLE_CHILD_ERROR,
    WIT_EXPORT_SUPERVISOR_HANDLERS_HANDLE_CHILD_EXIT,
    WIT_EXPORT_SUPERVISOR_HANDLERS_HANDLE_CHILD_EXTERNAL_STOP,
};

/* ------------------------------------------------------------------ */
/* References and creation                                            */

const char *rt_actor_id(const rt_actor *a)
{
    return a->id;
}

rt_runtime *rt_actor_runtime(const rt_actor *a)
{
    return a->rt;
}

const rt_spec *rt_actor_spec(const rt_actor *a)
{
    return a->spec;
}

const rt_limits *rt_actor_limits(const rt_actor *a)
{
    return &a->lim;
}

rt_actor *rt_actor_find(rt_runtime *rt, const char *id, size_t n)
{
    return rt_registry_get(&rt->reg, id, n);
}

void **rt_actor_handler_data(rt_actor *a)
{
    return &a->hstate;
}

void rt_actor_request_shutdown(rt_actor *a, bool has, uint8_t *data, size_t len)
{
    free(a->shutdown_data);
    a->shutdown_data = has ? data : NULL;
    a->shutdown_has_data = has;
    a->shutdown_len = has ? len : 0;
    if (!has)
        free(data);
    a->shutdown_req = true;
}

void rt_actor_log(rt_actor *a, const char *msg, size_t len)
{
    if (a->rt->log_fn != NULL)
        a->rt->log_fn(a->rt->log_ud, a->id, a->spec->name, msg, len);
}

struct th_store *rt_runtime_store(rt_runtime *rt)
{
    return rt->store;
}

void rt_actor_ref(rt_actor *a)
{
    atomic_fetch_add_explicit(&a->refs, 1, memory_order_relaxed);
}

static void drain_queue(rt_actor *a, rt_mpsc *q);

void rt_actor_release(rt_actor *a)
{
    uint32_t i;

    if (a == NULL || atomic_fetch_sub_explicit(&a->refs, 1, memory_order_acq_rel) != 1)
        return;
    drain_queue(a, &a->ctl);
    rt_actor_refuse_all(a, "is not running");
    if (a->op != NULL) {
        rt_timer_cancel(a->rt, &a->op->timer);
        rt_exec_put(a->rt, a->op->exec);
        rt_msg_free(a->op->msg);
        free(a->op->host_input);
        free(a->op);
    }
    th_wasm_instance_free(a->inst); /* a->module: the runtime's module cache owns it */
    rt_actor_release(a->last_to);
    if (a->upgrade_msg != NULL) /* its sender learns that it did not happen */
        rt_actor_refuse_msg(a, a->upgrade_msg, "is not running");
    rt_spec_release(a->spec);
    if (a->rt->handlers->free_actor_state != NULL)
        a->rt->handlers->free_actor_state(a);
    rt_record_free(a);
    for (i = 0; i < a->nchildren; i++)
        rt_actor_release(a->children[i]);
    free(a->children);
    for (i = 0; i < a->nwaiters; i++)
        rt_sync_release(a->waiters[i]);
    free(a->waiters);
    if (a->parent != NULL)
        rt_actor_release(a->parent);
    rt_sync_release(a->init_sync);
    rt_reply_drop(&a->init_reply);
    while (a->pending != NULL) {
        rt_pending *p = a->pending;
        a->pending = p->next;
        rt_reply_drop(&p->reply);
        free(p);
    }
    rt_msg_free(a->stop_msg);
    if (a->exit != NULL) {
        free(a->exit->data);
        free(a->exit->backtrace);
    }
    free(a->exit);
    free(a->fn_dyn);
    free(a->state);
    free(a->init_state);
    free(a->shutdown_data);
    free(a->restarts);
    pthread_mutex_destroy(&a->lock);
    pthread_mutex_destroy(&a->blk_lock);
    pthread_mutex_destroy(&a->rec_lock);
    free(a);
}

rt_actor *rt_actor_of_call(th_wasm_call *call)
{
    return th_wasm_instance_user(th_wasm_call_instance(call));
}

/* The export indices of module `m` into *x. */
static void exports_find(const th_wasm_module *m, rt_exports *x)
{
    char name[160];
    int i;

    x->module = m;
    for (i = 0; i < RT_EX_COUNT; i++) {
        x->fn[i] =
            (int32_t)th_wasm_module_export_index(m, rt_export_names[i], strlen(rt_export_names[i]));
        snprintf(name, sizeof name, "cabi_post_%s", rt_export_names[i]);
        x->post[i] = (int32_t)th_wasm_module_export_index(m, name, strlen(name));
    }
    x->realloc = (int32_t)th_wasm_module_export_index(m, "cabi_realloc", 12);
}

/* The spec's export indices, found at its first instance (racing threads
 * may each look, one result is kept); NULL if out of memory. */
static const rt_exports *spec_exports(rt_spec *s)
{
    rt_exports *x = atomic_load_explicit(&s->exports, memory_order_acquire), *none = NULL;

    if (x != NULL || (x = malloc(sizeof *x)) == NULL)
        return x;
    exports_find(s->module, x);
    if (!atomic_compare_exchange_strong_explicit(&s->exports, &none, x, memory_order_acq_rel,
                                                 memory_order_acquire)) {
        free(x);
        x = none;
    }
    return x;
}

static th_wasm_func *func_at(const th_wasm_instance *inst, int32_t i)
{
    return i < 0 ? NULL : th_wasm_instance_func_at(inst, (uint32_t)i);
}

/* Instantiate `m` for `a` into a->inst.  With `backtrace`, a module that
 * has a start function runs it on an exec of its own (fresh, so it holds
 * no earlier trap; the engine would make one all the same), which keeps
 * the backtrace of a trap in it: *backtrace gets a malloc'd copy.  A
 * module without one costs nothing more. */
static int instance_new(rt_actor *a, th_wasm_module *m, const th_wasm_instance_config *cfg,
                        char **backtrace, th_error *err)
{
    th_wasm_instance_config own = *cfg;
    th_wasm_exec *ex = NULL;
    const char *bt;
    int rc;

    if (backtrace != NULL && th_wasm_module_has_start(m))
        ex = own.start_exec = th_wasm_exec_new(NULL); /* (NULL: the engine's own) */
    rc = th_wasm_instance_new(m, a->rt->imports, &own, &a->inst, err);
    if (rc == TH_ETRAP && ex != NULL && th_wasm_exec_trap_kind(ex) != TH_WASM_TRAP_NONE) {
        th_error_prefix(err, "start function");
        if ((bt = th_wasm_exec_backtrace(ex))[0] != '\0')
            *backtrace = strdup(bt); /* (none if out of memory) */
    }
    th_wasm_exec_free(ex);
    return rc;
}

int rt_actor_instantiate(rt_actor *a, char **backtrace, th_error *err)
{
    th_wasm_instance_config cfg;
    const rt_exports *x = NULL;
    rt_exports own;
    int i, rc;

    if (backtrace != NULL)
        *backtrace = NULL;
    th_wasm_instance_free(a->inst);
    a->inst = NULL;
    memset(a->fn, 0, sizeof a->fn);
    memset(a->fn_post, 0, sizeof a->fn_post);
    a->fn_realloc = NULL;
    memset(&cfg, 0, sizeof cfg);
    cfg.max_memory_bytes = a->lim.memory_bytes;
    cfg.start_fuel = a->lim.fuel_per_call;
    cfg.user = a;
    rc = instance_new(a, a->module != NULL ? a->module : a->spec->module, &cfg, backtrace, err);
    if (rc != 0)
        return th_error_prefix(err, "instantiating %s", a->spec->name);
    /* an upgraded actor runs its own module: its exports are looked up */
    if (a->module == NULL || a->module == a->spec->module)
        x = spec_exports(a->spec);
    if (x == NULL || x->module != th_wasm_instance_module(a->inst)) {
        exports_find(th_wasm_instance_module(a->inst), &own);
        x = &own;
    }
    for (i = 0; i < RT_EX_COUNT; i++) {
        a->fn[i] = func_at(a->inst, x->fn[i]);
        if (a->fn[i] != NULL)
            a->fn_post[i] = func_at(a->inst, x->post[i]);
    }
    a->fn_realloc = func_at(a->inst, x->realloc);
    a->nfn_dyn = 0;
    return 0;
}

void rt_actor_set_state(rt_actor *a, bool has, uint8_t *data, size_t len)
{
    uint8_t *old;

    pthread_mutex_lock(&a->lock);
    old = a->state;
    a->has_state = has;
    a->state = has ? data : NULL;
    a->state_len = has ? len : 0;
    pthread_mutex_unlock(&a->lock);
    free(old);
    if (!has)
        free(data);
}

static void record_spawn(rt_actor *a, const char *event)
{
    rt_buf b = {0};

    rt_buf_puts(&b, "{\"id\":");
    rt_buf_json_str(&b, a->id, RT_ID_LEN);
    rt_buf_puts(&b, ",\"name\":");
    rt_buf_json_str(&b, a->spec->name, strlen(a->spec->name));
    rt_buf_puts(&b, ",\"version\":");
    rt_buf_json_str(&b, a->spec->version, strlen(a->spec->version));
    rt_buf_puts(&b, ",\"manifest\":");
    if (a->spec->manifest_path != NULL)
        rt_buf_json_str(&b, a->spec->manifest_path, strlen(a->spec->manifest_path));
    else
        rt_buf_puts(&b, "null");
    rt_buf_puts(&b, ",\"parent\":");
    if (a->parent != NULL)
        rt_buf_json_str(&b, a->parent->id, RT_ID_LEN);
    else
        rt_buf_puts(&b, "null");
    rt_buf_puts(&b, ",\"init_state\":");
    if (a->has_init_state)
        rt_buf_json_hex(&b, a->init_state, a->init_state_len);
    else
        rt_buf_puts(&b, "null");
    if (a->resumed) /* started with init_state as its state, no init */
        rt_buf_puts(&b, ",\"resumed\":true");
    rt_buf_puts(&b, ",\"component\":\"");
    rt_buf_puts(&b, a->component);
    /* what decides how far its code may run: a replay uses the same */
    rt_buf_printf(
        &b, "\",\"limits\":{\"fuel_per_call\":%llu,\"memory_bytes\":%llu,\"stack_bytes\":%zu}",
        (unsigned long long)a->lim.fuel_per_call, (unsigned long long)a->lim.memory_bytes,
        (size_t)a->lim.stack_bytes);
    rt_buf_puts(&b, "}");
    rt_record_buf(a, event, &b);
}

/* Count the new actor `a` as a descendant of each of its ancestors, each
 * within its limits.max_descendants: 0, or TH_EPERM (nothing counted). */
static int count_descendant(rt_actor *a, th_error *err)
{
    rt_actor *p, *q;
    unsigned was;

    for (p = a->parent; p != NULL; p = p->parent) {
        was = atomic_fetch_add(&p->ndesc, 1);
        if (was >= p->lim.max_descendants) {
            atomic_fetch_sub(&p->ndesc, 1);
            for (q = a->parent; q != p; q = q->parent)
                atomic_fetch_sub(&q->ndesc, 1);
            return th_error_set(err, TH_EPERM,
                                "spawn of %s refused: %s%s has %u descendants, its limit "
                                "(limits.max_descendants)",
                                a->spec->name, p == a->parent ? "the parent " : "ancestor ", p->id,
                                was);
        }
    }
    return 0;
}

void rt_actor_uncount(rt_actor *a)
{
    for (rt_actor *p = a->parent; p != NULL; p = p->parent)
        atomic_fetch_sub(&p->ndesc, 1);
}

int rt_actor_create(rt_runtime *rt, rt_spec *spec, rt_actor *parent, bool has_state,
                    const uint8_t *state, size_t len, const th_spawn_opts *sub, rt_actor **out,
                    th_error *err)
{
    rt_actor_new_opts o;

    memset(&o, 0, sizeof o);
    if (!has_state && spec->has_init_state) {
        has_state = true;
        state = spec->init_state;
        len = spec->init_state_len;
    }
    o.has_init_state = o.has_state = has_state;
    o.init_state = o.state = state;
    o.init_state_len = o.state_len = len;
    o.run_init = true;
    o.sub = sub;
    return rt_actor_new(rt, spec, parent, &o, out, err);
}

int rt_actor_resume(rt_runtime *rt, rt_spec *spec, rt_actor *parent, bool has_state,
                    const uint8_t *state, size_t len, char **backtrace, rt_actor **out,
                    th_error *err)
{
    rt_actor_new_opts o;

    memset(&o, 0, sizeof o);
    o.backtrace = backtrace;
    o.has_init_state = o.has_state = has_state;
    o.init_state = o.state = has_state ? state : NULL;
    o.init_state_len = o.state_len = has_state ? len : 0;
    o.resumed = true;
    return rt_actor_new(rt, spec, parent, &o, out, err);
}

/* The actor object with every field at its starting value (no spec, no
 * instance yet): status STARTING, queued, one reference (the caller's). */
static rt_actor *actor_alloc(rt_runtime *rt)
{
    rt_actor *a = calloc(1, sizeof *a);

    if (a == NULL)
        return NULL;
    atomic_init(&a->refs, 1);
    atomic_init(&a->sched, RT_SCHED_QUEUED);
    atomic_init(&a->rq_next, NULL);
    atomic_init(&a->home, 0);
    atomic_init(&a->rec_queued, 0);
    atomic_init(&a->rec_done, 0);
    atomic_init(&a->last_ticket, 0);
    atomic_init(&a->subs, NULL);
    atomic_init(&a->memchain, NULL);
    atomic_init(&a->pack_listed, false);
    atomic_init(&a->ran_ns, 0);
    rt_mpsc_init(&a->mbox);
    rt_mpsc_init(&a->ctl);
    atomic_init(&a->mbox_bytes, 0);
    atomic_init(&a->nblocked, 0);
    atomic_init(&a->ndesc, 0);
    atomic_init(&a->store_used, 0);
    pthread_mutex_init(&a->lock, NULL);
    pthread_mutex_init(&a->blk_lock, NULL);
    pthread_mutex_init(&a->rec_lock, NULL);
    atomic_init(&a->rec_inq, 0);
    a->rt = rt;
    a->status = TH_ACTOR_STARTING;
    a->next_token = 1;
    a->started_ms = rt_wall_ms();
    a->start_seq = atomic_fetch_add_explicit(&rt->next_start, 1, memory_order_relaxed);
    return a;
}

/* Bind `a` to its spec (a reference of its own) and give it its identity:
 * the id `o->id` (NULL: a fresh one) and the incarnation of a restore. */
static void actor_bind_spec(rt_actor *a, rt_spec *spec, const rt_actor_new_opts *o)
{
    atomic_fetch_add(&spec->refs, 1);
    a->spec = spec;
    memcpy(a->component, spec->component, sizeof a->component);
    snprintf(a->version, sizeof a->version, "%s", spec->version);
    a->durable = a->rt->durable != NULL && spec->durable;
    if (o->id != NULL)
        memcpy(a->id, o->id, sizeof a->id);
    else
        rt_uuid_v4(a->id);
    if (o->incarnation != NULL)
        snprintf(a->incarnation, sizeof a->incarnation, "%s", o->incarnation);
}

/* Its own copies of the initial state (kept for restarts) and of the
 * state it starts with. */
static int actor_copy_states(rt_actor *a, const rt_actor_new_opts *o, th_error *err)
{
    if (o->has_init_state) {
        a->has_init_state = true;
        a->init_state = rt_memdup(o->init_state, o->init_state_len);
        a->init_state_len = o->init_state_len;
        if (a->init_state == NULL)
            return th_error_set(err, TH_ENOMEM, "out of memory copying the initial state");
    }
    if (o->has_state) {
        a->state = rt_memdup(o->state, o->state_len);
        a->state_len = o->state_len;
        a->has_state = true;
        if (a->state == NULL)
            return th_error_set(err, TH_ENOMEM, "out of memory copying the initial state");
    }
    return 0;
}

/* Add `a` to the children of `parent` (locked by the caller), within its
 * limits.max_children; the parent's list holds a reference. */
static int parent_add_child(rt_actor *parent, rt_actor *a, th_error *err)
{
    if (parent->status == TH_ACTOR_STOPPING || parent->status == TH_ACTOR_STOPPED)
        return th_error_set(err, TH_ESTATE, "parent is stopping");
    if (parent->nchildren >= parent->lim.max_children)
        return th_error_set(err, TH_EPERM,
                            "spawn of %s refused: the parent has %u children, its limit "
                            "(limits.max_children)",
                            a->spec->name, parent->nchildren);
    if (parent->nchildren == parent->capchildren) {
        uint32_t cap = parent->capchildren ? parent->capchildren * 2 : 4;
        rt_actor **v = realloc(parent->children, cap * sizeof *v);
        if (v == NULL)
            return th_error_set(err, TH_ENOMEM, "out of memory adding a child");
        parent->children = v;
        parent->capchildren = cap;
    }
    rt_actor_ref(a);
    parent->children[parent->nchildren++] = a;
    return 0;
}

/* Make `a` a child of `parent` and count it as a descendant of each of its
 * ancestors.  On failure after the link, a->parent is set (the caller
 * unlinks); *counted says whether the count was taken. */
static int actor_link_parent(rt_actor *a, rt_actor *parent, bool *counted, th_error *err)
{
    int rc;

    pthread_mutex_lock(&parent->lock);
    rc = parent_add_child(parent, a, err);
    pthread_mutex_unlock(&parent->lock);
    if (rc != 0)
        return rc;
    rt_actor_ref(parent);
    a->parent = parent;
    if ((rc = count_descendant(a, err)) != 0)
        return rc;
    *counted = true;
    return 0;
}

/* Admit `a` under the runtime's actor limit, subscribe `sub`'s listener
 * (before the first event) and enter it in the registry. */
static int actor_register(rt_actor *a, const th_spawn_opts *sub, th_error *err)
{
    rt_runtime *rt = a->rt;
    int rc;

    if (atomic_load(&rt->reg.count) >= rt->max_actors)
        return th_error_set(err, TH_EPERM,
                            "spawn of %s refused: the runtime runs %u actors, its limit",
                            a->spec->name, rt->max_actors);
    if (sub != NULL && sub->event_fn != NULL &&
        (rc = rt_record_subscribe(a, sub->event_fn, sub->event_ud, sub->sub_id)) != 0)
        return th_error_set(err, rc, "out of memory subscribing");
    if ((rc = rt_registry_add(&rt->reg, a)) != 0)
        return th_error_set(err, rc, "actor id collision");
    return 0;
}

int rt_actor_new(rt_runtime *rt, rt_spec *spec, rt_actor *parent, const rt_actor_new_opts *o,
                 rt_actor **out, th_error *err)
{
    rt_actor *a = actor_alloc(rt);
    rt_msg *init = NULL;
    bool counted = false;
    int rc;

    if (a == NULL)
        return th_error_set(err, TH_ENOMEM, "out of memory creating an actor");
    actor_bind_spec(a, spec, o);
    if ((rc = rt_attenuate(parent, spec, &a->lim, err)) != 0) {
        th_error_prefix(err, "spawn of %s refused", spec->name);
        goto fail;
    }
    if ((rc = actor_copy_states(a, o, err)) != 0)
        goto fail;
    a->resumed = o->resumed;
    if (!o->run_init)
        a->status = TH_ACTOR_RUNNING; /* restored with its state */
    else if ((init = rt_msg_new(RT_MSG_INIT, NULL, 0)) == NULL) {
        rc = th_error_set(err, TH_ENOMEM, "out of memory creating an actor");
        goto fail;
    }
    /* (a spawner hears where a trap in the start function was) */
    if ((rc = rt_actor_instantiate(a,
                                   o->backtrace != NULL ? o->backtrace
                                   : o->sub != NULL     ? o->sub->backtrace
                                                        : NULL,
                                   err)) != 0)
        goto fail;
    if (parent != NULL && (rc = actor_link_parent(a, parent, &counted, err)) != 0)
        goto fail;
    if ((rc = actor_register(a, o->sub, err)) != 0)
        goto fail;
    if (o->event != NULL)
        rt_record(a, o->event, o->event_data, o->event_len);
    else
        record_spawn(a, "actor-spawned");
    if (init != NULL)
        rt_mpsc_push(&a->ctl, &init->node);
    *out = a;
    return 0;
fail:
    rt_msg_free(init);
    if (counted)
        rt_actor_uncount(a);
    if (a->parent != NULL)
        rt_sup_unlink(a->parent, a);
    a->status = TH_ACTOR_STOPPED;
    rt_actor_release(a);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Delivery                                                           */

void rt_actor_mbox_push(rt_actor *a, rt_msg *m)
{
    rt_worker *w = rt_sched_self();

    /* a message from an actor's turn: the receiver's home is now the
     * sender's worker (sched.c: where it goes back to when preempted) */
    if (w != NULL && w->rt == a->rt &&
        atomic_load_explicit(&a->home, memory_order_relaxed) != w->idx + 1)
        atomic_store_explicit(&a->home, w->idx + 1, memory_order_relaxed);
    atomic_fetch_add(&a->mbox_bytes, rt_msg_cost(m));
    rt_mpsc_push(&a->mbox, &m->node);
}

rt_msg *rt_actor_mbox_pop(rt_actor *a)
{
    rt_msg *m = (rt_msg *)rt_mpsc_pop(&a->mbox);

    if (m != NULL)
        atomic_fetch_sub(&a->mbox_bytes, rt_msg_cost(m));
    return m;
}

int rt_actor_status(rt_actor *a)
{
    int st;

    pthread_mutex_lock(&a->lock);
    st = a->status;
    pthread_mutex_unlock(&a->lock);
    return st;
}

void rt_actor_set_status(rt_actor *a, int status)
{
    pthread_mutex_lock(&a->lock);
    a->status = status;
    pthread_mutex_unlock(&a->lock);
}

/* Read without the lock (every send asks it of its target, whose lock
 * its own worker takes): the two fields may be of two moments, and each
 * mix is a state the actor was in, or one that answers as such a state
 * would (a restart clears restart_pending before its new status). */
bool rt_actor_takes_messages(rt_actor *a)
{
    bool restarting = atomic_load(&a->restart_pending);
    int st = atomic_load(&a->status);

    return !((st == TH_ACTOR_FAILED && !restarting) || st == TH_ACTOR_STOPPING ||
             st == TH_ACTOR_STOPPED);
}

void rt_actor_post(rt_actor *a, rt_msg *m)
{
    if (m->kind != RT_MSG_STOP)
        atomic_fetch_add_explicit(&a->n_in, 1, memory_order_relaxed);
    rt_actor_mbox_push(a, m);
    rt_sched_wake(a);
}

/* True if the mailbox has no room for `m` under the limits. */
static bool mbox_full(rt_actor *a, const rt_msg *m)
{
    return rt_mpsc_count(&a->mbox) >= a->lim.mailbox_messages ||
           atomic_load(&a->mbox_bytes) + rt_msg_cost(m) > a->lim.mailbox_bytes;
}

bool rt_actor_msg_fits(const rt_actor *a, const rt_msg *m)
{
    return rt_msg_cost(m) <= a->lim.mailbox_bytes;
}

void rt_actor_toobig_text(const rt_actor *a, const rt_msg *m, char *buf, size_t cap)
{
    snprintf(buf, cap,
             "message too large: %zu bytes can never fit in the mailbox of %s "
             "(limits.mailbox_bytes %llu, which counts %zu bytes per message besides its data)",
             m->len, a->id, (unsigned long long)a->lim.mailbox_bytes, sizeof(rt_msg));
}

int rt_actor_offer_error(const rt_actor *a, const rt_msg *m, int offer_rc, th_error *err)
{
    char text[TH_ERROR_MSG_MAX];

    if (offer_rc == RT_OFFER_TOOBIG) {
        rt_actor_toobig_text(a, m, text, sizeof text);
        return th_error_set(err, TH_ETOOBIG, "%s", text);
    }
    return th_error_set(err, TH_EBUSY,
                        "the mailbox of %s is full (limits.mailbox_messages %u, "
                        "mailbox_bytes %llu); try again later",
                        a->id, a->lim.mailbox_messages, (unsigned long long)a->lim.mailbox_bytes);
}

int rt_actor_offer(rt_actor *a, rt_msg *m, bool wait)
{
    if (!rt_actor_msg_fits(a, m)) {
        /* it would be held for ever (nothing is admitted that does not fit
         * into an empty mailbox), and everything sent after it behind it */
        char text[TH_ERROR_MSG_MAX];
        rt_reply r;

        if (!wait)
            return RT_OFFER_TOOBIG;
        rt_actor_toobig_text(a, m, text, sizeof text);
        r = m->reply;
        memset(&m->reply, 0, sizeof m->reply);
        rt_msg_free(m);
        rt_reply_complete(a->rt, &r, TH_ETOOBIG, false, NULL, 0, text);
        return RT_OFFER_REFUSED;
    }
    /* messages held before this one go first */
    if (atomic_load(&a->nblocked) == 0 && !mbox_full(a, m)) {
        rt_reply ack = {NULL, 0, NULL, NULL, 0};
        if (m->ack) { /* room after all: the sender goes on at once */
            ack = m->reply;
            memset(&m->reply, 0, sizeof m->reply);
            m->ack = false;
        }
        rt_actor_post(a, m);
        rt_reply_complete(a->rt, &ack, TH_OK, false, NULL, 0, NULL);
        return RT_OFFER_QUEUED;
    }
    if (!wait)
        return RT_OFFER_FULL;
    atomic_store_explicit(&m->node.next, NULL, memory_order_relaxed);
    pthread_mutex_lock(&a->blk_lock);
    if (a->blk_tail != NULL)
        atomic_store_explicit(&a->blk_tail->node.next, &m->node, memory_order_relaxed);
    else
        a->blk_head = m;
    a->blk_tail = m;
    atomic_fetch_add(&a->nblocked, 1);
    pthread_mutex_unlock(&a->blk_lock);
    /* the actor's turn admits it once there is room (it may have emptied
     * its mailbox and gone idle meanwhile) */
    rt_sched_wake(a);
    return RT_OFFER_HELD;
}

static rt_msg *blocked_pop(rt_actor *a)
{
    rt_msg *m = a->blk_head;

    if (m != NULL) {
        a->blk_head = (rt_msg *)atomic_load_explicit(&m->node.next, memory_order_relaxed);
        if (a->blk_head == NULL)
            a->blk_tail = NULL;
        atomic_fetch_sub(&a->nblocked, 1);
    }
    return m;
}

/* Inside the turn: move held messages into the mailbox once it has drained
 * to half its limits (so a sender that was held can then send many without
 * being held again), and tell their senders. */
void rt_actor_admit_blocked(rt_actor *a)
{
    rt_msg *m, *acks = NULL;

    if (atomic_load(&a->nblocked) == 0 || rt_mpsc_count(&a->mbox) > a->lim.mailbox_messages / 2 ||
        atomic_load(&a->mbox_bytes) > a->lim.mailbox_bytes / 2)
        return;
    pthread_mutex_lock(&a->blk_lock);
    while (a->blk_head != NULL && !mbox_full(a, a->blk_head)) {
        m = blocked_pop(a);
        if (m->ack) {
            /* a copy carries the sender's reply, completed after the unlock */
            rt_msg *ack = rt_msg_new(RT_MSG_WAKE, NULL, 0);
            if (ack != NULL) {
                ack->reply = m->reply;
                atomic_store_explicit(&ack->node.next, (rt_node *)acks, memory_order_relaxed);
                acks = ack;
            } else {
                rt_reply_drop(&m->reply);
            }
            memset(&m->reply, 0, sizeof m->reply);
            m->ack = false;
        }
        atomic_fetch_add_explicit(&a->n_in, 1, memory_order_relaxed);
        rt_actor_mbox_push(a, m);
    }
    pthread_mutex_unlock(&a->blk_lock);
    while ((m = acks) != NULL) {
        acks = (rt_msg *)atomic_load_explicit(&m->node.next, memory_order_relaxed);
        rt_reply_complete(a->rt, &m->reply, TH_OK, false, NULL, 0, NULL);
        rt_msg_free(m);
    }
}

void rt_actor_post_ctl(rt_actor *a, rt_msg *m)
{
    rt_mpsc_push(&a->ctl, &m->node);
    rt_sched_wake(a);
}

void rt_actor_wake(rt_actor *a, uint64_t token, int status, bool has_data, const uint8_t *data,
                   size_t len, const char *text)
{
    rt_msg *m = rt_msg_new(RT_MSG_WAKE, has_data ? data : NULL, has_data ? len : 0);

    if (m == NULL)
        return; /* the waiter stays suspended until its call timeout */
    m->token = token;
    m->code = (int16_t)status;
    m->has_data = has_data;
    if (text != NULL)
        m->text = strdup(text);
    rt_actor_post_ctl(a, m);
}

int rt_inbound_deliver(rt_runtime *rt, const char *id, rt_inbound *in, bool bounded)
{
    rt_actor *a = rt_registry_get(&rt->reg, id, RT_ID_LEN);
    rt_msg *m;
    int rc;

    if (a == NULL)
        return TH_ENOENT;
    if (!rt_actor_takes_messages(a)) {
        rt_actor_release(a);
        return TH_ESTATE;
    }
    if ((m = rt_msg_new(RT_MSG_INBOUND, NULL, 0)) == NULL) {
        rt_actor_release(a);
        return TH_ENOMEM;
    }
    m->reply.in = in;
    if (!bounded) {
        rt_actor_post(a, m);
    } else if ((rc = rt_actor_offer(a, m, false)) != RT_OFFER_QUEUED) {
        m->reply.in = NULL; /* still the caller's */
        rt_msg_free(m);
        rt_actor_release(a);
        return rc == RT_OFFER_TOOBIG ? TH_ETOOBIG : TH_EBUSY;
    }
    rt_actor_release(a);
    return 0;
}

void rt_actor_ended(rt_actor *a)
{
    rt_actor *t = a->last_to;

    a->last_to = NULL;
    rt_actor_release(t);
    if (a->rt->handlers->actor_ended != NULL)
        a->rt->handlers->actor_ended(a);
}

void rt_actor_wake_result(rt_actor *a, uint64_t token, rt_result *r)
{
    rt_msg *m = rt_msg_new(RT_MSG_WAKE, NULL, 0);

    if (m == NULL) {
        r->free(r); /* the waiter stays suspended until its call timeout */
        return;
    }
    m->token = token;
    m->code = TH_OK;
    m->res = r;
    rt_actor_post_ctl(a, m);
}

/* Answer a message that will not be handled (actor gone or failed). */
void rt_actor_refuse_msg(rt_actor *a, rt_msg *m, const char *why)
{
    char text[200];

    snprintf(text, sizeof text, "actor %s %s", a->id, why);
    if (m->durable && !atomic_load(&a->rt->closing))
        rt_durable_dropped(a, m); /* (a shutdown keeps it for the next start) */
    if (m->kind == RT_MSG_STOP || (m->kind == RT_MSG_WAKE && m->token == RT_TOKEN_CHILD_GONE))
        rt_reply_complete(a->rt, &m->reply, TH_OK, false, NULL, 0, NULL);
    else
        rt_reply_complete(a->rt, &m->reply, TH_ECLOSED, false, NULL, 0, text);
    rt_msg_free(m);
}

static void drain_queue(rt_actor *a, rt_mpsc *q)
{
    rt_node *n;

    while ((n = rt_mpsc_pop(q)) != NULL)
        rt_actor_refuse_msg(a, (rt_msg *)n, "is not running");
}

/* The messages held back for room in a's mailbox, each put in front of
 * the list `held`; the new head of the list. */
static rt_msg *take_blocked(rt_actor *a, rt_msg *held)
{
    rt_msg *m;

    pthread_mutex_lock(&a->blk_lock);
    while ((m = blocked_pop(a)) != NULL) {
        atomic_store_explicit(&m->node.next, (rt_node *)held, memory_order_relaxed);
        held = m;
    }
    pthread_mutex_unlock(&a->blk_lock);
    return held;
}

/* Refuse every message of the list `held`, in its order. */
static void refuse_list(rt_actor *a, rt_msg *held, const char *why)
{
    rt_msg *m;

    /* (answered newest first: each has its own sender) */
    while ((m = held) != NULL) {
        held = (rt_msg *)atomic_load_explicit(&m->node.next, memory_order_relaxed);
        rt_actor_refuse_msg(a, m, why);
    }
}

void rt_actor_refuse_all(rt_actor *a, const char *why)
{
    rt_msg *m;

    while ((m = rt_actor_mbox_pop(a)) != NULL)
        rt_actor_refuse_msg(a, m, why);
    refuse_list(a, take_blocked(a, NULL), why);
}

/* message ids listed in a "message-dropped" summary at most */
#define RT_DROPPED_IDS_MAX 100

void rt_actor_drop_all(rt_actor *a, const char *why, const char *reason, bool keep_durable)
{
    rt_msg *m, *held = NULL;
    uint64_t count = 0, bytes = 0;
    unsigned nids = 0;
    rt_buf ids = {0}, b = {0};

    /* everything waiting, in order: the mailbox, then the held ones */
    while ((m = rt_actor_mbox_pop(a)) != NULL) {
        atomic_store_explicit(&m->node.next, (rt_node *)held, memory_order_relaxed);
        held = m;
    }
    held = take_blocked(a, held);
    for (m = held; m != NULL;
         m = (rt_msg *)atomic_load_explicit(&m->node.next, memory_order_relaxed)) {
        if (m->kind != RT_MSG_SEND || (m->durable && keep_durable))
            continue;
        count++;
        bytes += m->len;
        if (m->durable && nids < RT_DROPPED_IDS_MAX) {
            rt_buf_puts(&ids, nids++ ? "," : "");
            rt_buf_json_str(&ids, m->b, strnlen(m->b, RT_ID_LEN));
        }
    }
    if (count > 0 && a->replay == NULL) {
        rt_buf_puts(&b, "{\"reason\":");
        rt_buf_json_str(&b, reason, strlen(reason));
        rt_buf_printf(&b, ",\"count\":%llu,\"bytes\":%llu,\"message_ids\":[",
                      (unsigned long long)count, (unsigned long long)bytes);
        if (ids.len > 0)
            rt_buf_append(&b, ids.data, ids.len);
        rt_buf_puts(&b, "]}");
        rt_record_buf(a, "message-dropped", &b);
    }
    rt_buf_release(&ids);
    refuse_list(a, held, why);
}

/* ------------------------------------------------------------------ */
/* Failure                                                            */

/* The "actor-failed" record: who failed, in which export, why, and where
 * (the wasm backtrace of a trap, one "#N name" frame per line). */
static void record_failure(rt_actor *a, int wit_type, const char *text, const char *backtrace)
{
    rt_buf b = {0};
    const char *name = rt_wit_error_name(wit_type), *nl;
    bool first = true;

    rt_buf_puts(&b, "{\"error_type\":");
    if (name != NULL)
        rt_buf_json_str(&b, name, strlen(name));
    else
        rt_buf_printf(&b, "%d", wit_type);
    rt_buf_puts(&b, ",\"message\":");
    rt_buf_json_str(&b, text, strlen(text));
    rt_buf_puts(&b, ",\"actor\":");
    rt_buf_json_str(&b, a->id, RT_ID_LEN);
    rt_buf_puts(&b, ",\"name\":");
    rt_buf_json_str(&b, a->spec->name, strlen(a->spec->name));
    if (a->op != NULL) {
        rt_buf_puts(&b, ",\"function\":\"");
        rt_buf_puts(&b, rt_op_short(a->op));
        rt_buf_puts(&b, "\"");
        if (a->op->msg != NULL && a->op->msg->durable)
            rt_durable_json_id(&b, a->op->msg);
    }
    if (backtrace != NULL && backtrace[0] != '\0') {
        rt_buf_puts(&b, ",\"backtrace\":[");
        for (; *backtrace != '\0'; backtrace = nl + (*nl != '\0')) {
            nl = strchr(backtrace, '\n');
            if (nl == NULL)
                nl = backtrace + strlen(backtrace);
            if (nl == backtrace)
                continue;
            rt_buf_puts(&b, first ? "" : ",");
            rt_buf_json_str(&b, backtrace, (size_t)(nl - backtrace));
            first = false;
        }
        rt_buf_puts(&b, "]");
    }
    rt_buf_puts(&b, "}");
    rt_record_buf(a, "actor-failed", &b);
}

void rt_actor_fail(rt_actor *a, int wit_type, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    rt_actor_failv(a, TH_ETRAP, wit_type, NULL, fmt, ap);
    va_end(ap);
}

void rt_actor_fail_bt(rt_actor *a, int wit_type, const char *backtrace, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    rt_actor_failv(a, TH_ETRAP, wit_type, backtrace, fmt, ap);
    va_end(ap);
}

void rt_actor_failv(rt_actor *a, int code, int wit_type, const char *backtrace, const char *fmt,
                    va_list ap)
{
    char text[TH_ERROR_MSG_MAX], told[2 * TH_ERROR_MSG_MAX];
    rt_op *op = a->op;
    bool init_waited = a->init_reply.actor != NULL || a->init_sync != NULL;

    vsnprintf(text, sizeof text, fmt, ap);

    /* 1-2: the executor detected it; record it in the chain */
    record_failure(a, wit_type, text, backtrace);

    /* whoever waits on this operation learns that it failed, and that it
     * was this actor that failed (not the one asking) */
    if (op != NULL) {
        if (op->msg != NULL) {
            snprintf(told, sizeof told, "actor %s (%s) failed: %s", a->spec->name, a->id, text);
            rt_reply_fail(a->rt, &op->msg->reply, code, told, backtrace);
        }
        rt_op_free(a);
    }
    /* supervisor.spawn: its err is a string, so rt_reply_fail puts the
     * frames into it, a line each, after the message */
    rt_reply_fail(a->rt, &a->init_reply, code, text, backtrace);
    if (a->init_sync != NULL) { /* th_runtime_spawn: where its init trapped, too */
        rt_reply s = {NULL, 0, a->init_sync, NULL, 0};
        a->init_sync = NULL;
        rt_reply_fail(a->rt, &s, code, text, backtrace);
    }
    snprintf(told, sizeof told, "actor %s (%s) failed: %s", a->spec->name, a->id, text);
    rt_actor_fail_pending(a, told);
    rt_actor_set_status(a, TH_ACTOR_FAILED);
    a->shutdown_req = false;
    th_wasm_instance_free(a->inst);
    a->inst = NULL;
    memset(a->fn, 0, sizeof a->fn);
    memset(a->fn_post, 0, sizeof a->fn_post);
    a->fn_realloc = NULL;
    a->nfn_dyn = 0;
    if (a->replay != NULL)
        return; /* nobody to tell: the record says what came next */
    rt_actor_ended(a);
    rt_actor_drop_all(a, "failed", "failed", atomic_load(&a->rt->closing));
    rt_channel_close_all(a->rt, a->id, told);
    rt_actor_stop_children(a, RT_STOP_BY_PARENT, false);
    if (init_waited) {
        /* a failed spawn: the spawner got the error; the actor goes away */
        rt_msg *stop = rt_msg_new(RT_MSG_STOP, NULL, 0);
        if (stop != NULL) {
            stop->code = RT_STOP_BY_PARENT;
            rt_sup_begin_stop(a, stop);
            return;
        }
    }
    /* 3: notify the supervisor (or the outside, for a root) */
    rt_sup_child_failed(a, wit_type, text, backtrace);
}

void rt_actor_run_op(rt_actor *a, rt_msg *m)
{
    rt_op_begin(a, m);
    while (a->op != NULL && a->op->wait == RT_WAIT_YIELD) {
        a->op->wait = 0;
        rt_op_run(a, NULL, 0, false);
    }
    if (a->op != NULL) /* waiting: a replay's host calls never do */
        rt_actor_abort_op(a, "replay: the operation waits for a host call");
}

/* ------------------------------------------------------------------ */
/* Queries                                                            */

int rt_actor_get_state(rt_actor *a, bool *has, uint8_t **data, size_t *len)
{
    int rc = 0;

    pthread_mutex_lock(&a->lock);
    *has = a->has_state;
    *data = NULL;
    *len = 0;
    if (a->has_state) {
        *data = rt_memdup(a->state, a->state_len);
        *len = a->state_len;
        if (*data == NULL)
            rc = TH_ENOMEM;
    }
    pthread_mutex_unlock(&a->lock);
    return rc;
}

int rt_actor_children(rt_actor *a, rt_actor ***out, size_t *n)
{
    rt_actor **v;
    uint32_t i;

    pthread_mutex_lock(&a->lock);
    v = malloc((a->nchildren ? a->nchildren : 1) * sizeof *v);
    if (v == NULL) {
        pthread_mutex_unlock(&a->lock);
        return TH_ENOMEM;
    }
    for (i = 0; i < a->nchildren; i++) {
        rt_actor_ref(a->children[i]);
        v[i] = a->children[i];
    }
    *n = a->nchildren;
    pthread_mutex_unlock(&a->lock);
    *out = v;
    return 0;
}
