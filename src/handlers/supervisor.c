/*
 * supervisor.c - the `supervisor` interface: an actor's children.
 *
 *   spawn / resume   start a child from a manifest (a path, relative to the
 *                    parent's manifest directory, or TOML text) with an
 *                    optional initial state; the parent is suspended until
 *                    the child's init has finished: ok(child-id) or err.
 *                    The child holds no more than the parent (attenuate.c):
 *                    its handlers, their settings and its limits are
 *                    checked against the parent's, and the files its
 *                    manifest names are read through the parent's
 *                    filesystem grant.
 *   list-children, stop-child (suspends until the child is gone),
 *   restart-child (a fresh instance, same id and chain), get-child-state,
 *   get-child-events.
 *
 * Lifting, lowering and recording are the generated glue's (wit_glue.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers/handlers_int.h"
#include "wit_glue.h"

#define IFACE "supervisor"

/* err(msg) in a result<_, string> / result<string, string>. */
static int fail(rt_host *h, bool *is_err, wit_str *err, const char *msg)
{
    *is_err = true;
    return wit_str_set(h, err, msg);
}

/* spawn and resume: the parent is suspended until the child's init has
 * finished (the wake writes ok(child-id) or err and records). */
static int do_spawn(rt_host *h, const char *fn, wit_str *manifest, wit_opt_bytes *init,
                    wit_res_str_str *ret)
{
    const char *man = manifest->ptr;
    rt_spec *spec = NULL;
    rt_actor *child = NULL;
    th_error err;
    bool text;

    th_error_clear(&err);
    text = strchr(man, '\n') != NULL || strchr(man, '=') != NULL;
    if (atomic_load(&h->a->rt->closing)) {
        th_error_set(&err, TH_ECLOSED, "the runtime is shutting down");
    } else if (text) {
        rt_spec_load(h->a->rt, NULL, man, h->a->spec->base_dir, h->a->spec, &spec, &err);
    } else {
        char path[4096];
        if ((size_t)snprintf(path, sizeof path, "%s%s%s", man[0] == '/' ? "" : h->a->spec->base_dir,
                             man[0] == '/' ? "" : "/", man) >= sizeof path)
            th_error_set(&err, TH_EINVAL, "manifest path too long");
        else
            rt_spec_load(h->a->rt, path, NULL, NULL, h->a->spec, &spec, &err);
    }
    if (spec != NULL) {
        rt_actor_create(h->a->rt, spec, h->a, init->some, init->some ? init->val.ptr : NULL,
                        init->some ? init->val.len : 0, NULL, &child, &err);
        rt_spec_release(spec);
    }
    if (child == NULL)
        return fail(h, &ret->is_err, &ret->err, err.msg);
    rt_actor_ref(h->a);
    child->init_reply.actor = h->a;
    child->init_reply.token = rt_op_wait(h->a, RT_WAIT_STRING, h->retptr, IFACE, fn, h->input);
    h->input = NULL;
    rt_sched_push(child,
                  RT_PUSH_WAKE); /* its first turn runs init; the queue takes our reference */
    return TH_WASM_SUSPENDED;
}

static int s_spawn(rt_host *h, wit_str *manifest, wit_opt_bytes *init_bytes, wit_res_str_str *ret)
{
    return do_spawn(h, "spawn", manifest, init_bytes, ret);
}

static int s_resume(rt_host *h, wit_str *manifest, wit_opt_bytes *init_state, wit_res_str_str *ret)
{
    return do_spawn(h, "resume", manifest, init_state, ret);
}

/* The child of h->a with this id (a reference), or NULL with *why set. */
static rt_actor *child_of(rt_host *h, const wit_str *id, char *why, size_t cap)
{
    rt_actor *c = rt_registry_get(&h->a->rt->reg, id->ptr, id->len);

    if (c != NULL && c->parent != h->a) {
        rt_actor_release(c);
        c = NULL;
    }
    if (c == NULL)
        snprintf(why, cap, "%s is not a child of this actor", id->ptr);
    return c;
}

static int s_list_children(rt_host *h, wit_list_str *ret)
{
    rt_actor **kids;
    size_t n, i;
    int rc = 0;

    if (rt_actor_children(h->a, &kids, &n) != 0)
        return th_error_set(&h->err, TH_ENOMEM, "out of memory");
    if ((ret->ptr = calloc(n ? n : 1, sizeof *ret->ptr)) == NULL)
        rc = th_error_set(&h->err, TH_ENOMEM, "out of memory");
    for (i = 0; i < n; i++) {
        if (rc == 0 && (rc = wit_str_set(h, &ret->ptr[i], kids[i]->id)) == 0)
            ret->len = i + 1;
        rt_actor_release(kids[i]);
    }
    free(kids);
    return rc;
}

/* Stopping suspends the parent until the child is gone. */
static int s_stop_child(rt_host *h, wit_str *child_id, wit_res_unit_str *ret)
{
    char why[160];
    rt_actor *c = child_of(h, child_id, why, sizeof why);
    rt_msg *m;

    if (c == NULL)
        return fail(h, &ret->is_err, &ret->err, why);
    if ((m = rt_msg_new(RT_MSG_STOP, NULL, 0)) == NULL) {
        rt_actor_release(c);
        return fail(h, &ret->is_err, &ret->err, "out of memory");
    }
    m->code = RT_STOP_BY_PARENT;
    rt_actor_ref(h->a);
    m->reply.actor = h->a;
    m->reply.token = rt_op_wait(h->a, RT_WAIT_UNIT, h->retptr, IFACE, "stop-child", h->input);
    h->input = NULL;
    rt_actor_post_ctl(c, m);
    rt_actor_release(c);
    return TH_WASM_SUSPENDED;
}

static int s_restart_child(rt_host *h, wit_str *child_id, wit_res_unit_str *ret)
{
    char why[160];
    rt_actor *c = child_of(h, child_id, why, sizeof why);
    th_error err;
    rt_buf b = {0};
    int rc;

    if (c == NULL)
        return fail(h, &ret->is_err, &ret->err, why);
    th_error_clear(&err);
    rc = rt_sup_restart(h->a, c, &err);
    if (rc == 0) {
        rt_buf_puts(
            &b, "{\"action\":\"restart\",\"strategy\":\"actor\",\"trigger\":null,\"children\":[");
        rt_buf_json_str(&b, c->id, RT_ID_LEN);
        rt_buf_puts(&b, "]}");
        rt_record_buf(h->a, "supervisor-action", &b);
    }
    rt_actor_release(c);
    return rc != 0 ? fail(h, &ret->is_err, &ret->err, err.msg) : 0;
}

static int s_get_child_state(rt_host *h, wit_str *child_id, wit_res_opt_bytes_str *ret)
{
    char why[160];
    rt_actor *c = child_of(h, child_id, why, sizeof why);
    uint8_t *data = NULL;
    size_t len = 0;
    bool has = false;
    int rc;

    if (c == NULL)
        return fail(h, &ret->is_err, &ret->err, why);
    rc = rt_actor_get_state(c, &has, &data, &len);
    rt_actor_release(c);
    if (rc != 0)
        return fail(h, &ret->is_err, &ret->err, "out of memory");
    ret->ok.some = has;
    if (has) {
        ret->ok.val.ptr = data; /* owned by the result now */
        ret->ok.val.len = len;
    } else {
        free(data);
    }
    return 0;
}

/* The events are not recorded into the parent's chain: the output record
 * is their number. */
static int s_get_child_events(rt_host *h, wit_str *child_id,
                              wit_res_list_types_chain_event_str *ret)
{
    char why[160], out[64];
    rt_actor *c = child_of(h, child_id, why, sizeof why);
    int rc;

    if (c == NULL)
        return fail(h, &ret->is_err, &ret->err, why);
    rc = rt_chain_events(c, &ret->ok, &h->err);
    rt_actor_release(c);
    if (rc != 0)
        return rc;
    snprintf(out, sizeof out, "{\"ok\":{\"events\":%zu}}", ret->ok.len);
    if ((h->output = strdup(out)) == NULL)
        return th_error_set(&h->err, TH_ENOMEM, "out of memory");
    return 0;
}

/* A hot upgrade of a child (upgrade.c): the parent waits for the child's
 * turn, where the new code replaces the old (or is refused). */
static int s_update_child(rt_host *h, wit_str *child_id, wit_bytes *component,
                          wit_res_unit_str *ret)
{
    char why[160];
    rt_actor *c = child_of(h, child_id, why, sizeof why);
    rt_upgrade u;
    rt_reply reply;
    th_error err;

    if (c == NULL)
        return fail(h, &ret->is_err, &ret->err, why);
    th_error_clear(&err);
    if (rt_upgrade_prepare(c, component->ptr, component->len, NULL, &u, &err) != 0) {
        rt_actor_release(c);
        return fail(h, &ret->is_err, &ret->err, err.msg);
    }
    memset(&reply, 0, sizeof reply);
    rt_actor_ref(h->a);
    reply.actor = h->a;
    reply.token = rt_op_wait(h->a, RT_WAIT_UNIT, h->retptr, IFACE, "update-child", h->input);
    h->input = NULL;
    rt_upgrade_send(c, &u, &reply);
    rt_actor_release(c);
    return TH_WASM_SUSPENDED;
}

static const wit_impl_supervisor impl = {
    .spawn = s_spawn,
    .resume = s_resume,
    .list_children = s_list_children,
    .stop_child = s_stop_child,
    .restart_child = s_restart_child,
    .get_child_state = s_get_child_state,
    .get_child_events = s_get_child_events,
    .update_child = s_update_child,
};

const rt_iface rt_iface_supervisor = {
    "theater:simple/supervisor", RT_H_SUPERVISOR, wit_fns_supervisor,
    WIT_NFNS_SUPERVISOR,         &impl,           NULL};
