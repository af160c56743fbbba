/*
 * runtime.c (handlers) - the `runtime` interface: log, get-chain, shutdown.
 * Also the set of built-in handlers (th_handlers_builtin), the per-actor
 * handler state shared by the other handlers, and the
 * reader of an actor's chain as list<chain-event> values used by get-chain
 * and supervisor.get-child-events.  Lifting, lowering and recording are
 * the generated glue's (wit_glue.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers/handlers_int.h"
#include "theater/handlers.h"
#include "wit_glue.h"

rt_hstate *rt_hstate_get(rt_actor *a)
{
    if (*rt_actor_handler_data(a) == NULL)
        *rt_actor_handler_data(a) = calloc(1, sizeof(rt_hstate));
    return *rt_actor_handler_data(a);
}

static void free_actor_state(rt_actor *a)
{
    rt_hstate *s = *rt_actor_handler_data(a);

    if (s != NULL)
        hf_actor_end(s->http); /* (normally done already by actor_ended) */
    rt_process_free_state(a);
    free(*rt_actor_handler_data(a));
    *rt_actor_handler_data(a) = NULL;
}

/* The actor's instance ended (failed, stopped, restarts): what the
 * handlers run for it outside ends too. */
static void actor_ended(rt_actor *a)
{
    rt_hstate *s = *rt_actor_handler_data(a);

    rt_http_client_ended(a);
    rt_process_ended(a);
    if (s != NULL && s->http != NULL) {
        hf_actor_end(s->http); /* its servers close */
        s->http = NULL;
    }
}

static const rt_iface *const builtin_ifaces[] = {
    &rt_iface_runtime,     &rt_iface_message_server, &rt_iface_supervisor,  &rt_iface_store,
    &rt_iface_timing,      &rt_iface_random,         &rt_iface_environment, &rt_iface_filesystem,
    &rt_iface_http_client, &rt_iface_http_framework, &rt_iface_process,
};

static const th_handler_set builtin = {builtin_ifaces,
                                       sizeof builtin_ifaces / sizeof builtin_ifaces[0],
                                       free_actor_state, actor_ended};

const th_handler_set *th_handlers_builtin(void)
{
    return &builtin;
}

/* Collects events into a list<chain-event> value. */
typedef struct ev_sink {
    wit_list_types_chain_event *l;
    size_t cap;
} ev_sink;

static int chain_event_copy(void *ud, const uint8_t hash[32], const uint8_t *parent,
                            const char *type, const uint8_t *data, size_t len, uint64_t ts,
                            const char *description)
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
    e->description.some = description != NULL;
    if (description != NULL) {
        e->description.val.ptr = strdup(description);
        e->description.val.len = strlen(description);
    }
    if (e->hash.ptr == NULL || (parent != NULL && e->parent_hash.val.ptr == NULL) ||
        e->event_type.ptr == NULL || e->data.ptr == NULL ||
        (description != NULL && e->description.val.ptr == NULL))
        return TH_ENOMEM;
    return 0;
}

int rt_chain_events(rt_actor *target, struct wit_list_types_chain_event *out, th_error *err)
{
    ev_sink k = {out, out->len};
    int rc = rt_record_each(target, chain_event_copy, &k, err);

    if (rc == TH_ENOMEM)
        return th_error_set(err, TH_ENOMEM, "out of memory reading the chain");
    if (rc != 0) /* the actor fails with this message: no host path in it */
        rt_error_hide_host(rt_actor_runtime(target), target, "reading the chain", NULL, 0, err);
    return rc;
}

static int r_log(rt_host *h, wit_str *msg)
{
    rt_actor_log(h->a, msg->ptr, msg->len);
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
    (void)ret;
    /* takes the lifted bytes over (a 1-byte block for an empty list) */
    rt_actor_request_shutdown(h->a, data->some, data->some ? data->val.ptr : NULL,
                              data->some ? data->val.len : 0);
    if (data->some) {
        data->val.ptr = NULL;
        data->val.len = 0;
    }
    return 0;
}

static const wit_impl_runtime impl = {
    .log = r_log,
    .get_chain = r_get_chain,
    .shutdown = r_shutdown,
};

/* recorded as {"events": n}, the caller's own chain */
static const char *const own_chain[] = {"get-chain", NULL};

const rt_iface rt_iface_runtime = {
    .name = "runtime",
    .module = "theater:simple/runtime",
    .handler = HANDLER_RUNTIME,
    .replay_own_chain = own_chain,
    .fns = wit_fns_runtime,
    .nfns = WIT_NFNS_RUNTIME,
    .impl = &impl,
};
