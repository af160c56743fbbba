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
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/rt_int.h"

#define IFACE "supervisor"

static int finish(rt_host *h, const char *fn, char *in, int rc_write, const char *errmsg)
{
    char *out;

    if (rc_write != 0) {
        free(in);
        return rt_host_trap(h);
    }
    out = errmsg ? rt_json_obj1("err", errmsg, strlen(errmsg), false) : strdup("{\"ok\":null}");
    rt_host_done(h, IFACE, fn, in, out);
    free(out);
    return TH_OK;
}

/* spawn and resume: (manifest, option<list<u8>>, retptr). */
static int do_spawn(th_wasm_call *call, const th_wasm_val *args, const char *fn)
{
    rt_host h;
    char *man = NULL, *in;
    const uint8_t *state = NULL;
    uint32_t disc = (uint32_t)args[2].i32, slen = (uint32_t)args[4].i32, retptr = (uint32_t)args[5].i32;
    rt_spec *spec = NULL;
    rt_actor *child = NULL;
    th_error err;
    bool text;
    rt_buf b = {0};

    rt_host_begin(&h, call);
    if (rt_host_str(&h, (uint32_t)args[0].i32, (uint32_t)args[1].i32, &man) != 0)
        return rt_host_trap(&h);
    if (disc > 1) {
        free(man);
        th_error_set(&h.err, TH_ETRAP, "invalid option discriminant %u", disc);
        return rt_host_trap(&h);
    }
    if ((disc == 1 && rt_host_bytes(&h, (uint32_t)args[3].i32, slen, &state) != 0) ||
        rt_abi_fits(&h.g, retptr, 12) != 0) {
        free(man);
        return rt_host_trap(&h);
    }
    rt_buf_puts(&b, "{\"manifest\":");
    rt_buf_json_str(&b, man, strlen(man));
    rt_buf_puts(&b, ",\"init\":");
    if (disc == 1)
        rt_buf_json_hex(&b, state, slen);
    else
        rt_buf_puts(&b, "null");
    rt_buf_puts(&b, "}");
    in = b.oom ? NULL : (char *)b.data;
    if (b.oom)
        rt_buf_release(&b);
    th_error_clear(&err);
    text = strchr(man, '\n') != NULL || strchr(man, '=') != NULL;
    if (atomic_load(&h.a->rt->closing)) {
        th_error_set(&err, TH_ECLOSED, "the runtime is shutting down");
    } else if (text) {
        rt_spec_load(h.a->rt, NULL, man, h.a->spec->base_dir, h.a->spec, &spec, &err);
    } else {
        char path[4096];
        if ((size_t)snprintf(path, sizeof path, "%s%s%s", man[0] == '/' ? "" : h.a->spec->base_dir,
                             man[0] == '/' ? "" : "/", man) >= sizeof path)
            th_error_set(&err, TH_EINVAL, "manifest path too long");
        else
            rt_spec_load(h.a->rt, path, NULL, NULL, h.a->spec, &spec, &err);
    }
    free(man);
    if (spec != NULL) {
        /* copy the state: creating may call into nothing, but be safe */
        uint8_t *copy = disc == 1 ? rt_memdup(state, slen) : NULL;
        rt_actor_create(h.a->rt, spec, h.a, disc == 1, copy, slen, &child, &err);
        free(copy);
        rt_spec_release(spec);
    }
    if (child == NULL)
        return finish(&h, fn, in, rt_abi_result_unit(&h.g, retptr, err.msg), err.msg);
    rt_actor_ref(h.a);
    child->init_reply.actor = h.a;
    child->init_reply.token = rt_op_wait(h.a, RT_WAIT_STRING, retptr, IFACE, fn, in);
    rt_sched_push(child, RT_PUSH_WAKE); /* its first turn runs init; the queue takes our reference */
    return TH_WASM_SUSPENDED;
}

static int h_spawn(th_wasm_call *call, void *ctx, const th_wasm_val *args, th_wasm_val *results)
{
    (void)ctx, (void)results;
    return do_spawn(call, args, "spawn");
}

static int h_resume(th_wasm_call *call, void *ctx, const th_wasm_val *args, th_wasm_val *results)
{
    (void)ctx, (void)results;
    return do_spawn(call, args, "resume");
}

/* The child of h->a with the id at (ptr, len); *in gets the input JSON. */
static rt_actor *child_arg(rt_host *h, const th_wasm_val *args, char **in, char *why, size_t cap, int *trap)
{
    char *id = NULL;
    rt_actor *c;

    *trap = 0;
    if (rt_host_str(h, (uint32_t)args[0].i32, (uint32_t)args[1].i32, &id) != 0) {
        *trap = 1;
        return NULL;
    }
    *in = rt_json_obj1("child", id, strlen(id), false);
    c = rt_registry_get(&h->a->rt->reg, id, strlen(id));
    if (c != NULL && c->parent != h->a) {
        rt_actor_release(c);
        c = NULL;
    }
    if (c == NULL)
        snprintf(why, cap, "%s is not a child of this actor", id);
    free(id);
    return c;
}

static int h_list_children(th_wasm_call *call, void *ctx, const th_wasm_val *args, th_wasm_val *results)
{
    rt_host h;
    rt_actor **kids;
    size_t n, i;
    char **ids;
    rt_buf out = {0};
    int rc;

    (void)ctx, (void)results;
    rt_host_begin(&h, call);
    if (rt_actor_children(h.a, &kids, &n) != 0) {
        th_error_set(&h.err, TH_ENOMEM, "out of memory");
        return rt_host_trap(&h);
    }
    ids = calloc(n + 1, sizeof *ids);
    rt_buf_puts(&out, "[");
    for (i = 0; i < n; i++) {
        if (ids != NULL)
            ids[i] = kids[i]->id;
        if (i)
            rt_buf_puts(&out, ",");
        rt_buf_json_str(&out, kids[i]->id, RT_ID_LEN);
    }
    rt_buf_puts(&out, "]");
    rc = ids ? rt_abi_store_strings(&h.g, (uint32_t)args[0].i32, ids, n)
             : th_error_set(&h.err, TH_ENOMEM, "out of memory");
    for (i = 0; i < n; i++)
        rt_actor_release(kids[i]);
    free(kids);
    free(ids);
    if (rc != 0) {
        rt_buf_release(&out);
        return rt_host_trap(&h);
    }
    rt_host_done(&h, IFACE, "list-children", NULL, out.oom ? NULL : (char *)out.data);
    rt_buf_release(&out);
    return TH_OK;
}

static int h_stop_child(th_wasm_call *call, void *ctx, const th_wasm_val *args, th_wasm_val *results)
{
    rt_host h;
    char *in = NULL, why[160];
    rt_actor *c;
    rt_msg *m;
    int trap;
    uint32_t retptr = (uint32_t)args[2].i32;

    (void)ctx, (void)results;
    rt_host_begin(&h, call);
    c = child_arg(&h, args, &in, why, sizeof why, &trap);
    if (trap || rt_abi_fits(&h.g, retptr, 12) != 0) {
        free(in);
        rt_actor_release(c);
        return rt_host_trap(&h);
    }
    if (c == NULL)
        return finish(&h, "stop-child", in, rt_abi_result_unit(&h.g, retptr, why), why);
    m = rt_msg_new(RT_MSG_STOP, NULL, 0);
    if (m == NULL) {
        rt_actor_release(c);
        return finish(&h, "stop-child", in, rt_abi_result_unit(&h.g, retptr, "out of memory"), "out of memory");
    }
    m->code = RT_STOP_BY_PARENT;
    rt_actor_ref(h.a);
    m->reply.actor = h.a;
    m->reply.token = rt_op_wait(h.a, RT_WAIT_UNIT, retptr, IFACE, "stop-child", in);
    rt_actor_post_ctl(c, m);
    rt_actor_release(c);
    return TH_WASM_SUSPENDED;
}

static int h_restart_child(th_wasm_call *call, void *ctx, const th_wasm_val *args, th_wasm_val *results)
{
    rt_host h;
    char *in = NULL, why[160];
    rt_actor *c;
    int trap, rc;
    rt_buf b = {0};

    (void)ctx, (void)results;
    rt_host_begin(&h, call);
    c = child_arg(&h, args, &in, why, sizeof why, &trap);
    if (trap)
        return rt_host_trap(&h);
    if (c == NULL)
        return finish(&h, "restart-child", in, rt_abi_result_unit(&h.g, (uint32_t)args[2].i32, why), why);
    rc = rt_sup_restart(h.a, c, &h.err);
    if (rc == 0) {
        rt_buf_puts(&b, "{\"action\":\"restart\",\"strategy\":\"actor\",\"trigger\":null,\"children\":[");
        rt_buf_json_str(&b, c->id, RT_ID_LEN);
        rt_buf_puts(&b, "]}");
        rt_record_buf(h.a, "supervisor-action", &b);
    }
    rt_actor_release(c);
    return finish(&h, "restart-child", in,
                  rt_abi_result_unit(&h.g, (uint32_t)args[2].i32, rc ? h.err.msg : NULL), rc ? h.err.msg : NULL);
}

static int h_get_child_state(th_wasm_call *call, void *ctx, const th_wasm_val *args, th_wasm_val *results)
{
    rt_host h;
    char *in = NULL, why[160], *out;
    rt_actor *c;
    bool has;
    uint8_t *data = NULL;
    size_t len = 0;
    int trap, rc;
    uint32_t retptr = (uint32_t)args[2].i32;

    (void)ctx, (void)results;
    rt_host_begin(&h, call);
    c = child_arg(&h, args, &in, why, sizeof why, &trap);
    if (trap)
        return rt_host_trap(&h);
    if (c == NULL)
        return finish(&h, "get-child-state", in, rt_abi_result_unit(&h.g, retptr, why), why);
    rc = rt_actor_get_state(c, &has, &data, &len);
    rt_actor_release(c);
    if (rc != 0)
        return finish(&h, "get-child-state", in, rt_abi_result_unit(&h.g, retptr, "out of memory"), "out of memory");
    /* result<option<list<u8>>, string>: disc @0, option disc @4, list @8 */
    rc = rt_abi_store_u8(&h.g, retptr, 0);
    if (rc == 0)
        rc = rt_abi_store_u8(&h.g, retptr + 4, has);
    if (rc == 0 && has)
        rc = rt_abi_store_list(&h.g, retptr + 8, data, len);
    out = rt_json_obj1("ok", (const char *)data, len, true);
    free(data);
    if (rc != 0) {
        free(in);
        free(out);
        return rt_host_trap(&h);
    }
    rt_host_done(&h, IFACE, "get-child-state", in, out);
    free(out);
    return TH_OK;
}

static int h_get_child_events(th_wasm_call *call, void *ctx, const th_wasm_val *args, th_wasm_val *results)
{
    rt_host h;
    char *in = NULL, why[160], out[64];
    rt_actor *c;
    size_t n = 0;
    int trap, rc;
    uint32_t retptr = (uint32_t)args[2].i32;

    (void)ctx, (void)results;
    rt_host_begin(&h, call);
    c = child_arg(&h, args, &in, why, sizeof why, &trap);
    if (trap)
        return rt_host_trap(&h);
    if (c == NULL)
        return finish(&h, "get-child-events", in, rt_abi_result_unit(&h.g, retptr, why), why);
    rc = rt_abi_store_u8(&h.g, retptr, 0);
    if (rc == 0)
        rc = rt_abi_store_events(&h.g, retptr + 4, c, &n);
    rt_actor_release(c);
    if (rc != 0) {
        free(in);
        return rt_host_trap(&h);
    }
    snprintf(out, sizeof out, "{\"ok\":{\"events\":%zu}}", n);
    return rt_host_done(&h, IFACE, "get-child-events", in, out);
}

static const rt_hostfn fns[] = {
    {"spawn", "iiiiii>", h_spawn},
    {"resume", "iiiiii>", h_resume},
    {"list-children", "i>", h_list_children},
    {"stop-child", "iii>", h_stop_child},
    {"restart-child", "iii>", h_restart_child},
    {"get-child-state", "iii>", h_get_child_state},
    {"get-child-events", "iii>", h_get_child_events},
};

const rt_iface rt_iface_supervisor = {"theater:simple/supervisor", RT_H_SUPERVISOR, fns, sizeof fns / sizeof fns[0], NULL, NULL};
