/*
 * runtime.c (handlers) - the `runtime` interface: log, get-chain, shutdown.
 * Also the per-actor handler state shared by the other handlers, and the
 * list<chain-event> writer used by get-chain and supervisor.get-child-events.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/rt_int.h"

#define IFACE "runtime"

rt_hstate *rt_hstate_get(rt_actor *a)
{
    if (a->hstate == NULL)
        a->hstate = calloc(1, sizeof(rt_hstate));
    return a->hstate;
}

void rt_handlers_free_state(rt_actor *a)
{
    free(a->hstate);
    a->hstate = NULL;
}

static int h_log(th_wasm_call *call, void *ctx, const th_wasm_val *args, th_wasm_val *results)
{
    rt_host h;
    char *msg = NULL, *in;
    size_t n;
    rt_runtime *rt;

    (void)ctx, (void)results;
    rt_host_begin(&h, call);
    if (rt_abi_string(&h.g, (uint32_t)args[0].i32, (uint32_t)args[1].i32, &msg, &n) != 0)
        return rt_host_trap(&h);
    rt = h.a->rt;
    if (rt->log_fn != NULL)
        rt->log_fn(rt->log_ud, h.a->id, h.a->spec->name, msg, n);
    in = rt_json_obj1("msg", msg, n, false);
    free(msg);
    return rt_host_done(&h, IFACE, "log", in, NULL);
}

/* Layout of chain-event (size 64, align 8): hash list @0, parent-hash
 * option<list<u8>> @8 (disc @8, ptr @12, len @16), event-type string @20,
 * data list @28, timestamp u64 @40, description option<string> @48. */
typedef struct ev_copy {
    uint8_t hash[32];
    bool has_parent;
    uint8_t parent[32];
    char *type;
    uint8_t *data;
    size_t len;
    uint64_t ts;
} ev_copy;

typedef struct ev_list {
    ev_copy *v;
    size_t n, cap;
} ev_list;

static int collect(void *ud, const uint8_t hash[32], const uint8_t *parent, const char *type,
                   const uint8_t *data, size_t len, uint64_t ts)
{
    ev_list *l = ud;
    ev_copy *e;

    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        ev_copy *v = realloc(l->v, cap * sizeof *v);
        if (v == NULL)
            return TH_ENOMEM;
        l->v = v;
        l->cap = cap;
    }
    e = &l->v[l->n];
    memcpy(e->hash, hash, 32);
    e->has_parent = parent != NULL;
    if (parent != NULL)
        memcpy(e->parent, parent, 32);
    e->type = strdup(type);
    e->data = rt_memdup(data, len);
    e->len = len;
    e->ts = ts;
    if (e->type == NULL || e->data == NULL) {
        free(e->type);
        free(e->data);
        return TH_ENOMEM;
    }
    l->n++;
    return 0;
}

int rt_abi_store_events(rt_guest *g, uint32_t addr, rt_actor *target, size_t *count)
{
    ev_list l = {0};
    uint32_t arr = 0, at, i;
    uint8_t *p;
    int rc;

    if ((rc = rt_abi_span(g, addr, 8, &p)) != 0)
        return rc;
    rc = rt_record_each(target, collect, &l, g->err);
    if (rc == 0 && l.n > UINT32_MAX / 64)
        rc = th_error_set(g->err, TH_ETOOBIG, "chain too long for the guest");
    if (rc == 0)
        rc = rt_abi_alloc(g, 8, (uint32_t)(l.n * 64), &arr);
    for (i = 0; rc == 0 && i < l.n; i++) {
        ev_copy *e = &l.v[i];
        at = arr + i * 64;
        if ((rc = rt_abi_store_list(g, at, e->hash, 32)) != 0)
            break;
        if ((rc = rt_abi_store_u8(g, at + 8, e->has_parent)) != 0)
            break;
        if (e->has_parent) {
            if ((rc = rt_abi_store_list(g, at + 12, e->parent, 32)) != 0)
                break;
        } else if ((rc = rt_abi_store_u32(g, at + 12, 0)) != 0 || (rc = rt_abi_store_u32(g, at + 16, 0)) != 0) {
            break;
        }
        if ((rc = rt_abi_store_list(g, at + 20, e->type, strlen(e->type))) != 0 ||
            (rc = rt_abi_store_list(g, at + 28, e->data, e->len)) != 0 ||
            (rc = rt_abi_store_u64(g, at + 40, e->ts)) != 0 || (rc = rt_abi_store_u8(g, at + 48, 0)) != 0)
            break;
    }
    if (rc == 0 && (rc = rt_abi_store_u32(g, addr, arr)) == 0)
        rc = rt_abi_store_u32(g, addr + 4, (uint32_t)l.n);
    if (count != NULL)
        *count = l.n;
    for (i = 0; i < l.n; i++) {
        free(l.v[i].type);
        free(l.v[i].data);
    }
    free(l.v);
    if (rc == TH_ENOMEM)
        th_error_set(g->err, TH_ENOMEM, "out of memory reading the chain");
    return rc;
}

static int h_get_chain(th_wasm_call *call, void *ctx, const th_wasm_val *args, th_wasm_val *results)
{
    rt_host h;
    size_t n = 0;
    char out[64];

    (void)ctx, (void)results;
    rt_host_begin(&h, call);
    if (rt_abi_store_events(&h.g, (uint32_t)args[0].i32, h.a, &n) != 0)
        return rt_host_trap(&h);
    snprintf(out, sizeof out, "{\"events\":%zu}", n);
    return rt_host_done(&h, IFACE, "get-chain", NULL, out);
}

static int h_shutdown(th_wasm_call *call, void *ctx, const th_wasm_val *args, th_wasm_val *results)
{
    rt_host h;
    const uint8_t *data = NULL;
    uint32_t disc = (uint32_t)args[0].i32, len = (uint32_t)args[2].i32;
    char *in;

    (void)ctx, (void)results;
    rt_host_begin(&h, call);
    if (disc > 1) {
        th_error_set(&h.err, TH_ETRAP, "invalid option discriminant %u", disc);
        return rt_host_trap(&h);
    }
    if (disc == 1 && rt_host_bytes(&h, (uint32_t)args[1].i32, len, &data) != 0)
        return rt_host_trap(&h);
    free(h.a->shutdown_data);
    h.a->shutdown_data = NULL;
    h.a->shutdown_has_data = disc == 1;
    h.a->shutdown_len = disc == 1 ? len : 0;
    if (disc == 1 && (h.a->shutdown_data = rt_memdup(data, len)) == NULL) {
        th_error_set(&h.err, TH_ENOMEM, "out of memory");
        return rt_host_trap(&h);
    }
    h.a->shutdown_req = true;
    in = rt_json_obj1("data", (const char *)data, len, true);
    if (rt_abi_result_unit(&h.g, (uint32_t)args[3].i32, NULL) != 0) {
        free(in);
        return rt_host_trap(&h);
    }
    return rt_host_done(&h, IFACE, "shutdown", in, "{\"ok\":null}");
}

static const rt_hostfn fns[] = {
    {"log", "ii>", h_log},
    {"get-chain", "i>", h_get_chain},
    {"shutdown", "iiii>", h_shutdown},
};

const rt_iface rt_iface_runtime = {"theater:simple/runtime", RT_H_RUNTIME, fns, sizeof fns / sizeof fns[0], NULL, NULL};
