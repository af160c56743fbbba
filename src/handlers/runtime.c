/*
 * runtime.c (handlers) - the `runtime` interface: log, get-chain, shutdown.
 * Also the per-actor handler state shared by the other handlers, and the
 * reader of an actor's chain as list<chain-event> values used by get-chain
 * and supervisor.get-child-events.  Lifting, lowering and recording are
 * the generated glue's (wit_glue.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/rt_int.h"
#include "wit_glue.h"

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

/* Collects events into a list<chain-event> value. */
typedef struct ev_sink {
    wit_list_types_chain_event *l;
    size_t cap;
} ev_sink;

static int chain_event_copy(void *ud, const uint8_t hash[32], const uint8_t *parent, const char *type,
                            const uint8_t *data, size_t len, uint64_t ts)
{
    ev_sink *k = ud;
    wit_list_types_chain_event *l = k->l;
    wit_types_chain_event *e;

    if (l->len == k->cap) {
        size_t cap = k->cap ? k->cap * 2 : 16;
        if ((e = realloc(l->ptr, cap * sizeof *e)) == NULL)
            return TH_ENOMEM;
        l->ptr = e;
        k->cap = cap;
    }
    e = &l->ptr[l->len++]; /* from here on freed with the list */
    memset(e, 0, sizeof *e);
    e->hash.ptr = rt_memdup(hash, 32);
    e->hash.len = 32;
    e->parent_hash.some = parent != NULL;
    if (parent != NULL) {
        e->parent_hash.val.ptr = rt_memdup(parent, 32);
        e->parent_hash.val.len = 32;
    }
    e->event_type.ptr = strdup(type);
    e->event_type.len = strlen(type);
    e->data.ptr = rt_memdup(data, len);
    e->data.len = len;
    e->timestamp = ts;
    if (e->hash.ptr == NULL || (parent != NULL && e->parent_hash.val.ptr == NULL) || e->event_type.ptr == NULL ||
        e->data.ptr == NULL)
        return TH_ENOMEM;
    return 0;
}

int rt_chain_events(rt_actor *target, struct wit_list_types_chain_event *out, th_error *err)
{
    ev_sink k = {out, out->len};
    int rc = rt_record_each(target, chain_event_copy, &k, err);

    if (rc == TH_ENOMEM)
        return th_error_set(err, TH_ENOMEM, "out of memory reading the chain");
    return rc;
}

static int r_log(rt_host *h, wit_str *msg)
{
    rt_runtime *rt = h->a->rt;

    if (rt->log_fn != NULL)
        rt->log_fn(rt->log_ud, h->a->id, h->a->spec->name, msg->ptr, msg->len);
    return 0;
}

/* The chain is not recorded into itself: the output record is its length. */
static int r_get_chain(rt_host *h, wit_list_types_chain_event *ret)
{
    int rc = rt_chain_events(h->a, ret, &h->err);
    char out[64];

    if (rc != 0)
        return rc;
    snprintf(out, sizeof out, "{\"events\":%zu}", ret->len);
    if ((h->output = strdup(out)) == NULL)
        return th_error_set(&h->err, TH_ENOMEM, "out of memory");
    return 0;
}

static int r_shutdown(rt_host *h, wit_opt_bytes *data, wit_res_unit_str *ret)
{
    rt_actor *a = h->a;

    (void)ret;
    free(a->shutdown_data);
    a->shutdown_data = NULL;
    a->shutdown_has_data = data->some;
    a->shutdown_len = data->some ? data->val.len : 0;
    if (data->some) {
        /* take the lifted bytes over (a 1-byte block for an empty list) */
        a->shutdown_data = data->val.ptr;
        data->val.ptr = NULL;
        data->val.len = 0;
    }
    a->shutdown_req = true;
    return 0;
}

static const wit_impl_runtime impl = {
    .log = r_log,
    .get_chain = r_get_chain,
    .shutdown = r_shutdown,
};

const rt_iface rt_iface_runtime = {"theater:simple/runtime", RT_H_RUNTIME, wit_fns_runtime, WIT_NFNS_RUNTIME, &impl};
