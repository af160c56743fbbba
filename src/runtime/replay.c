/*
 * replay.c - re-running an actor from its chain (th_runtime_replay).
 *
 * The chain records everything that decides what an actor does: the code
 * it runs (the component named by actor-spawned / actor-restarted /
 * component-updated, fetched from the content store by its SHA-256), its
 * limits, every export call with its parameters, and every host call with
 * its output.  A replay instantiates the recorded code in a runtime of its
 * own (no threads, no home: nothing it does reaches the world), calls the
 * recorded exports in their order with the recorded parameters, and
 * answers each host call with its recorded output instead of running the
 * handler (the generated glue calls rt_replay_host).  Every event the
 * actor produces goes through the same code as in a live run (turn.c,
 * the glue) and, instead of being recorded, is compared byte for byte with
 * the next recorded event (rt_replay_event).  The first difference stops
 * the replay and is reported: an event with other data, a host call the
 * record does not have (other function, other input, or none at that
 * point), or a recorded event the replay does not produce.
 *
 * The events the runtime decides rather than the actor's code
 * (actor-spawned, actor-restarted, actor-stopped, supervisor-action, a
 * failure recorded outside an operation) drive the replay: they are taken
 * from the record as they are.  Timestamps and hashes are not compared
 * (they are the record's own); the data is.
 *
 * This file drives the replay from the record and reports; the actor's
 * side (its events compared, its host calls answered) is replay_host.c,
 * and what the two share is replay_int.h.
 *
 * Invariants: the replayed actor (rt_actor with `replay` set) is only
 * touched by the calling thread; it has no parent, children, mailbox
 * traffic or subscribers; its events never reach a chain.
 */
#define _GNU_SOURCE /* memmem */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/hex.h"
#include "base/jscan.h"
#include "base/json.h"
#include "theater/store.h"
#include "runtime/replay_int.h"
#include "wit_glue.h"

/* ------------------------------------------------------------------ */
/* Reporting                                                          */

/* "TYPE DATA" of an event, cut to REPLAY_SHOW_BYTES; bytes that are not
 * printable text (recorded data is JSON text, but a record may be edited)
 * are shown as \xNN. */
void rt_replay_show(char *out, size_t cap, const char *type, const uint8_t *data, size_t len)
{
    size_t n = len > REPLAY_SHOW_BYTES ? REPLAY_SHOW_BYTES : len, o, i;
    bool text = data != NULL && rt_utf8_valid(data, n);

    o = (size_t)snprintf(out, cap, "%s ", type);
    for (i = 0; data != NULL && i < n && o + 5 < cap; i++) {
        if (data[i] >= 0x20 && data[i] != 0x7f && (data[i] < 0x80 || text))
            out[o++] = (char)data[i];
        else
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", data[i]);
    }
    if (len > n && o + 4 < cap)
        o += (size_t)snprintf(out + o, cap - o, "...");
    out[o < cap ? o : cap - 1] = '\0';
}

void rt_replay_diverge(rt_replay *rp, uint64_t seq, const char *type, const char *recorded,
                       const char *replayed)
{
    th_runtime_replay_result *r = rp->res;

    if (r->diverged)
        return;
    r->diverged = true;
    r->seq = seq;
    snprintf(r->type, sizeof r->type, "%s", type);
    snprintf(r->recorded, sizeof r->recorded, "%s", recorded);
    snprintf(r->replayed, sizeof r->replayed, "%s", replayed);
}

/* ------------------------------------------------------------------ */
/* The replay's own runtime and actor                                 */

static void replay_rt_free(rt_runtime *rt)
{
    rt_module_entry *e, *next;
    unsigned i;

    if (rt == NULL)
        return;
    th_wasm_imports_free(rt->imports);
    free(rt->bound);
    for (e = rt->modules; e != NULL; e = next) {
        next = e->next;
        th_wasm_module_free(e->module);
        free(e->key);
        free(e);
    }
    for (i = 0; i < rt->npool; i++)
        th_wasm_exec_free(rt->pool[i]);
    pthread_mutex_destroy(&rt->modlock);
    pthread_mutex_destroy(&rt->chanlock);
    pthread_mutex_destroy(&rt->outlock);
    pthread_mutex_destroy(&rt->sublock);
    pthread_mutex_destroy(&rt->exitlock);
    pthread_mutex_destroy(&rt->poollock);
    rt_registry_release(&rt->reg);
    free(rt);
}

/* A runtime without threads, home, chain or store writes: the imports of
 * the handlers (answered from the record) and the caches. */
static int replay_rt_new(const th_handler_set *handlers, struct th_store *store, rt_runtime **out,
                         th_error *err)
{
    static const th_handler_set none;
    rt_runtime *rt = calloc(1, sizeof *rt);
    int rc;

    *out = NULL;
    if (rt == NULL)
        return th_error_set(err, TH_ENOMEM, "out of memory");
    rt->handlers = handlers != NULL ? handlers : &none;
    rt->store = store; /* read only: components by hash */
    rt->max_actors = 1;
    rt->record_stall_ms = 1;
    pthread_mutex_init(&rt->modlock, NULL);
    pthread_mutex_init(&rt->chanlock, NULL);
    pthread_mutex_init(&rt->outlock, NULL);
    pthread_mutex_init(&rt->sublock, NULL);
    pthread_mutex_init(&rt->exitlock, NULL);
    pthread_mutex_init(&rt->poollock, NULL);
    atomic_init(&rt->closing, false);
    atomic_init(&rt->interrupted, false);
    rt_registry_init(&rt->reg);
    rt->shut = true;
    if ((rt->imports = th_wasm_imports_new()) == NULL)
        rc = th_error_set(err, TH_ENOMEM, "out of memory");
    else
        rc = rt_capability_register_all(rt, err);
    if (rc != 0) {
        replay_rt_free(rt);
        return rc;
    }
    *out = rt;
    return 0;
}

static rt_actor *replay_actor_new(rt_runtime *rt, rt_spec *spec, rt_replay *rp)
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
    atomic_init(&a->rec_failed, 0);
    rt_mpsc_init(&a->mbox);
    rt_mpsc_init(&a->ctl);
    atomic_init(&a->mbox_bytes, 0);
    atomic_init(&a->nblocked, 0);
    atomic_init(&a->ndesc, 0);
    atomic_init(&a->store_used, 0);
    pthread_mutex_init(&a->lock, NULL);
    pthread_mutex_init(&a->blk_lock, NULL);
    pthread_mutex_init(&a->rec_lock, NULL);
    a->rt = rt;
    a->status = TH_ACTOR_STARTING;
    a->next_token = 1;
    a->spec = spec;
    a->replay = rp;
    a->lim.mailbox_messages = UINT32_MAX;
    return a;
}

/* ------------------------------------------------------------------ */
/* Driving the replay from the record                                 */

typedef struct replay_ctx {
    rt_replay rp;
    const th_runtime_replay_opts *opts;
    rt_runtime *rt;
    rt_spec *spec;
    rt_actor *a;
    th_wasm_module *other; /* --component: the code replayed instead */
    char other_hash[RT_HASH_HEX + 1];
    th_chain_events big; /* the record with its content references resolved */
    uint8_t **big_data;  /* the contents fetched (owned) */
    size_t nbig;
} replay_ctx;

/* Events over 64 MiB are on the chain by content reference
 * (docs/chain-format.md): the record replayed has their contents, from
 * the store (the home's, or the components' store of an exported file).
 * c->rp.rec becomes a copy of the record's items with those data. */
static int resolve_big(replay_ctx *c, const th_chain_events *rec, th_error *err)
{
    size_t i, n = 0;
    uint8_t h[TH_CHAIN_HASH_LEN];
    uint64_t size;

    for (i = 0; i < rec->count; i++) /* a reference has its description */
        if (rec->items[i].description != NULL &&
            th_chain_event_content_ref(&rec->items[i], h, &size))
            n++;
    if (n == 0)
        return 0;
    c->big.items = malloc(rec->count * sizeof *c->big.items);
    c->big_data = calloc(n, sizeof *c->big_data);
    if (c->big.items == NULL || c->big_data == NULL)
        return th_error_set(err, TH_ENOMEM, "out of memory");
    memcpy(c->big.items, rec->items, rec->count * sizeof *c->big.items);
    c->big.count = rec->count;
    for (i = 0; i < rec->count; i++) {
        th_chain_event *e = &c->big.items[i];
        char ref[2 * TH_CHAIN_HASH_LEN + 1];
        void *data = NULL;
        size_t len = 0;
        if (!th_chain_event_content_ref(e, h, &size))
            continue;
        if (c->opts->store == NULL)
            return th_error_set(err, TH_ENOENT,
                                "event %llu holds %llu bytes by content reference, and there is "
                                "no store to read them from",
                                (unsigned long long)e->seq, (unsigned long long)size);
        base_hex_encode(h, TH_CHAIN_HASH_LEN, ref);
        if (th_store_get(c->opts->store, TH_CHAIN_CONTENT_STORE, ref, &data, &len, err) != 0)
            return th_error_prefix(err, "event %llu (%llu bytes by content reference)",
                                   (unsigned long long)e->seq, (unsigned long long)size);
        c->big_data[c->nbig++] = data;
        if (len != size)
            return th_error_set(err, TH_ECORRUPT,
                                "event %llu: its content has %zu bytes, its reference says %llu",
                                (unsigned long long)e->seq, len, (unsigned long long)size);
        e->data = data;
        e->data_len = len;
        e->description = NULL;
    }
    c->rp.rec = &c->big;
    return 0;
}

/* rec_has's slow path: wait for the stream to hold event i (or to end).
 * Events by content reference need the store's contents in the record
 * (resolve_big, which copies the list): the rest of the read is waited
 * for and the replay goes on in that copy. */
bool rt_replay_rec_more(rt_replay *rp, size_t i)
{
    size_t from = rp->view.count, k;
    uint8_t h[TH_CHAIN_HASH_LEN];
    uint64_t size;
    int rc;

    rc = th_chain_stream_wait(rp->stream, i, &rp->view, &rp->read_err);
    for (k = from; rc == 0 && k < rp->view.count; k++) {
        if (rp->view.items[k].description == NULL ||
            !th_chain_event_content_ref(&rp->view.items[k], h, &size))
            continue;
        rc = th_chain_stream_wait(rp->stream, SIZE_MAX - 1, &rp->view, &rp->read_err);
        if (rc == 0)
            rc = resolve_big(rp->ctx, &rp->view, &rp->read_err); /* rp->rec: its copy */
        rp->stream = NULL;
        break;
    }
    if (rc != 0) {
        rp->read_rc = rc;
        rp->stop = true;
        rp->stream = NULL;
        rp->rec = &rp->view;
        rp->view.count = 0; /* nothing more is compared */
        return false;
    }
    if (i >= rp->view.count) /* the read is over */
        rp->stream = NULL;
    return i < rp->rec->count;
}

static int set_bytes(const json_t *v, bool *has, uint8_t **p, size_t *n)
{
    size_t len;

    *has = false;
    *p = NULL;
    *n = 0;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_string(v) || (len = json_string_length(v)) % 2 != 0 ||
        (*p = malloc(len / 2 + 1)) == NULL)
        return -1;
    if (base_hex_decode(json_string_value(v), *p, len / 2) != 0) {
        free(*p);
        *p = NULL;
        return -1;
    }
    *has = true;
    *n = len / 2;
    return 0;
}

static uint64_t get_u64(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);

    return json_is_integer(v) && json_integer_value(v) > 0 ? (uint64_t)json_integer_value(v) : 0;
}

/* The module of `hash` from the caller's component_fn (cached). */
static int fn_module(replay_ctx *c, const char *hash, th_wasm_module **out, th_error *err)
{
    char got[RT_HASH_HEX + 1];
    rt_module_entry *e;
    uint8_t *bytes = NULL;
    size_t len = 0;
    int rc;

    for (e = c->rt->modules; e != NULL; e = e->next) {
        if (strcmp(e->hash, hash) == 0) {
            *out = e->module;
            return 0;
        }
    }
    if ((rc = c->opts->component_fn(c->opts->component_ud, hash, &bytes, &len, err)) != 0)
        return rc;
    rc = rt_module_from_bytes(c->rt, bytes, len, false, out, got, err);
    free(bytes);
    if (rc != 0)
        return th_error_prefix(err, "component %s", hash);
    if (strcmp(got, hash) != 0) {
        th_wasm_module_free(*out);
        return th_error_set(err, TH_ECORRUPT, "component %s: its bytes have another hash", hash);
    }
    return rt_module_cache_put(c->rt, hash, *out, got, false, err);
}

/* Instantiate the code an event names (or the --component code) with the
 * state `v` (recorded bytes). */
static int start_code(replay_ctx *c, const th_chain_event *e, const json_t *d, const json_t *state,
                      th_error *err)
{
    rt_actor *a = c->a;
    const json_t *comp = json_object_get(d, "component");
    th_wasm_module *m;
    bool has;
    uint8_t *p;
    size_t n;
    int rc;

    if (c->other != NULL) {
        m = c->other;
        memcpy(a->component, c->other_hash, sizeof a->component);
    } else {
        if (!json_is_string(comp))
            return th_error_set(err, TH_ENOENT,
                                "event %llu (%s) does not name its component (recorded before "
                                "components were); give the code with --component",
                                (unsigned long long)e->seq, e->type);
        if (c->opts->component_fn != NULL)
            rc = fn_module(c, json_string_value(comp), &m, err);
        else
            rc = rt_component_module(c->rt, json_string_value(comp), &m, err);
        if (rc != 0)
            return th_error_prefix(err, "event %llu (%s)", (unsigned long long)e->seq, e->type);
        snprintf(a->component, sizeof a->component, "%s", json_string_value(comp));
    }
    /* the actor's own code, as a live upgrade sets it (upgrade.c); the
     * spec is left as it is (no module, so it caches no export indices:
     * rt_actor_instantiate finds those of a->module for each instance) */
    a->module = m;
    if (set_bytes(state, &has, &p, &n) != 0)
        return th_error_set(err, TH_ECORRUPT, "event %llu: bad state", (unsigned long long)e->seq);
    rt_actor_set_state(a, has, p, n);
    a->status = TH_ACTOR_STARTING;
    snprintf(c->rp.res->component, sizeof c->rp.res->component, "%s", a->component);
    /* (a trap in its start function ends the replay: the caller hears
     * where; the first such failure is the last start) */
    return rt_actor_instantiate(a, c->opts->backtrace, err);
}

static int on_spawned(replay_ctx *c, const th_chain_event *e, const json_t *d, th_error *err)
{
    const json_t *lim = json_object_get(d, "limits"), *id = json_object_get(d, "id");
    const json_t *name = json_object_get(d, "name");
    rt_actor *a = c->a;

    if (json_is_string(id))
        snprintf(a->id, sizeof a->id, "%s", json_string_value(id));
    if (json_is_string(name)) {
        free(c->spec->name);
        c->spec->name = strdup(json_string_value(name));
        if (c->spec->name == NULL)
            return th_error_set(err, TH_ENOMEM, "out of memory");
    }
    a->lim.fuel_per_call = get_u64(lim, "fuel_per_call");
    a->lim.memory_bytes = get_u64(lim, "memory_bytes");
    a->lim.stack_bytes = get_u64(lim, "stack_bytes");
    return start_code(c, e, d, json_object_get(d, "init_state"), err);
}

/* A hot upgrade: the new code, and its migrate run again on the state. */
static int on_updated(replay_ctx *c, const th_chain_event *e, const json_t *d, th_error *err)
{
    rt_actor *a = c->a;
    const json_t *from = json_object_get(d, "from_version"), *st = json_object_get(d, "state");
    char theirs[REPLAY_SHOW_BYTES + 128], mine[REPLAY_SHOW_BYTES + 128];
    bool has, ran = false;
    uint8_t *p;
    size_t n;
    int rc;
    th_error merr;

    if (set_bytes(st, &has, &p, &n) != 0)
        return th_error_set(err, TH_ECORRUPT, "event %llu: bad state", (unsigned long long)e->seq);
    if (c->other == NULL) {
        /* start_code with the current state, then migrate */
        json_t *cur = a->has_state ? json_string("") : json_null();
        rt_buf hex = {0};
        if (a->has_state) {
            rt_buf_json_hex(&hex, a->state, a->state_len);
            json_decref(cur);
            cur = hex.oom ? NULL : json_stringn((const char *)hex.data + 1, hex.len - 2);
        }
        rt_buf_release(&hex);
        rc = cur != NULL ? start_code(c, e, d, cur, err)
                         : th_error_set(err, TH_ENOMEM, "out of memory");
        json_decref(cur);
        if (rc != 0) {
            free(p);
            return rc;
        }
        a->status = TH_ACTOR_RUNNING;
        if (json_is_true(json_object_get(d, "migrated"))) {
            th_error_clear(&merr);
            if (rt_upgrade_migrate(a, json_is_string(from) ? json_string_value(from) : "", &ran,
                                   NULL, &merr) != 0 ||
                !ran) {
                rt_replay_show(theirs, sizeof theirs, e->type, e->data, e->data_len);
                snprintf(mine, sizeof mine, "migrate %s", ran ? merr.msg : "is not exported");
                rt_replay_diverge(&c->rp, e->seq, e->type, theirs, mine);
                free(p);
                return 0;
            }
        }
    }
    if (has != a->has_state || (has && (n != a->state_len || memcmp(p, a->state, n) != 0))) {
        rt_buf b = {0};
        rt_replay_show(theirs, sizeof theirs, e->type, e->data, e->data_len);
        rt_buf_puts(&b, "state ");
        if (a->has_state)
            rt_buf_json_hex(&b, a->state, a->state_len);
        else
            rt_buf_puts(&b, "null");
        rt_replay_show(mine, sizeof mine, "component-updated", b.data, b.oom ? 0 : b.len);
        rt_replay_diverge(&c->rp, e->seq, e->type, theirs, mine);
        rt_buf_release(&b);
    }
    free(p);
    return 0;
}

/* The message that a recorded wasm-call delivers (kind from the function,
 * fields from the params), or NULL if the record is not one. */
static rt_msg *call_msg(const json_t *d)
{
    static const struct {
        const char *fn;
        int kind;
    } kinds[] = {
        {"init", RT_MSG_INIT},
        {"handle-send", RT_MSG_SEND},
        {"handle-request", RT_MSG_REQUEST},
        {"handle-channel-open", RT_MSG_CHAN_OPEN},
        {"handle-channel-message", RT_MSG_CHAN_MSG},
        {"handle-channel-close", RT_MSG_CHAN_CLOSE},
        {"handle-child-error", RT_MSG_CHILD_ERROR},
        {"handle-child-exit", RT_MSG_CHILD_EXIT},
        {"handle-child-external-stop", RT_MSG_CHILD_STOP},
    };
    const char *fn = json_string_value(json_object_get(d, "function"));
    const json_t *ps = json_object_get(d, "params"), *from = json_object_get(d, "from");
    const json_t *p0 = json_array_get(ps, 0), *p1 = json_array_get(ps, 1);
    const json_t *bytes = NULL;
    int kind = 0;
    size_t i;
    rt_msg *m;

    for (i = 0; fn != NULL && i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(fn, kinds[i].fn) == 0)
            kind = kinds[i].kind;
    if (kind == 0 || !json_is_array(ps))
        return NULL;
    if (kind == RT_MSG_SEND)
        bytes = p0;
    else if (kind == RT_MSG_REQUEST || kind == RT_MSG_CHAN_OPEN || kind == RT_MSG_CHAN_MSG ||
             kind == RT_MSG_CHILD_EXIT)
        bytes = p1;
    {
        bool has;
        uint8_t *p;
        size_t n;
        if (set_bytes(bytes, &has, &p, &n) != 0)
            return NULL;
        m = rt_msg_new(kind, p, n);
        free(p);
        if (m == NULL)
            return NULL;
        m->has_data = has;
    }
#define COPY_ID(dst, v) \
    do { \
        if (json_is_string(v)) \
            snprintf(dst, sizeof dst, "%s", json_string_value(v)); \
    } while (0)
    switch (kind) {
    case RT_MSG_SEND:
        COPY_ID(m->a, from);
        COPY_ID(m->b, json_object_get(d, "message_id"));
        break;
    case RT_MSG_REQUEST:
        COPY_ID(m->b, p0);
        COPY_ID(m->a, from);
        break;
    case RT_MSG_CHAN_OPEN:
    case RT_MSG_CHAN_MSG:
    case RT_MSG_CHAN_CLOSE: COPY_ID(m->b, p0); break;
    case RT_MSG_CHILD_ERROR: {
        const json_t *et = json_object_get(p1, "error_type"), *data = json_object_get(p1, "data");
        COPY_ID(m->a, p0);
        m->code = -1;
        for (int k = 0; k < 64 && rt_wit_error_name(k) != NULL; k++)
            if (json_is_string(et) && strcmp(rt_wit_error_name(k), json_string_value(et)) == 0)
                m->code = (int16_t)k;
        if (json_is_integer(et))
            m->code = (int16_t)json_integer_value(et);
        if (json_is_string(data) && (m->text = strdup(json_string_value(data))) == NULL) {
            rt_msg_free(m);
            return NULL;
        }
        break;
    }
    case RT_MSG_CHILD_EXIT:
    case RT_MSG_CHILD_STOP: COPY_ID(m->a, p0); break;
    default: break;
    }
#undef COPY_ID
    /* a message a daemon stored for a durable actor: its events name it */
    m->durable = json_is_string(json_object_get(d, "message_id"));
    return m;
}

/* The message of a recorded wasm-call read in place (base/jscan.h),
 * without a JSON tree: the common case of a replay, every message an actor
 * handled.  1 with *out (and *has_result: the event holds the call's
 * result too), 0 when the event needs the full reader (call_msg: an
 * inbound event, a child's error, escapes in its strings), -1 out of
 * memory. */
static int fast_call_msg(const th_chain_event *e, rt_msg **out, bool *has_result)
{
    static const struct {
        const char *fn;
        int kind;
        int bytes; /* which param holds the bytes (-1: none) */
    } kinds[] = {
        {"init", RT_MSG_INIT, -1},
        {"handle-send", RT_MSG_SEND, 0},
        {"handle-request", RT_MSG_REQUEST, 1},
        {"handle-channel-open", RT_MSG_CHAN_OPEN, 1},
        {"handle-channel-message", RT_MSG_CHAN_MSG, 1},
        {"handle-channel-close", RT_MSG_CHAN_CLOSE, -1},
        {"handle-child-exit", RT_MSG_CHILD_EXIT, 1},
        {"handle-child-external-stop", RT_MSG_CHILD_STOP, -1},
    };
    static const char *const keys[] = {"function",   "params", "from",
                                       "message_id", "result", "interface"};
    base_jspan v[6], fn, p[2] = {{NULL, 0}, {NULL, 0}}, x, hex = {NULL, 0};
    uint8_t small[256], *bytes = small;
    size_t at = 0, i, k, nb = 0;
    int kind = -1, which = -1, got;
    bool has = false;
    rt_msg *m;

    *out = NULL;
    if (base_jscan_object((base_jspan){(const char *)e->data, e->data_len}, keys, 6, v) < 0 ||
        v[5].p != NULL || !base_jscan_plain(v[0], &fn) || v[1].p == NULL)
        return 0;
    for (i = 0; i < sizeof kinds / sizeof kinds[0] && kind < 0; i++)
        if (strlen(kinds[i].fn) == fn.n && memcmp(kinds[i].fn, fn.p, fn.n) == 0)
            kind = kinds[i].kind, which = kinds[i].bytes;
    if (kind < 0)
        return 0;
    for (k = 0; (got = base_jscan_next(v[1], &at, &x)) == 1; k++)
        if (k < 2)
            p[k] = x;
    if (got != 0)
        return 0;
    for (k = 0; k < 2; k++) /* ids and hex: plain strings (or a null) */
        if (p[k].p != NULL && !base_jscan_is(p[k], "null") && !base_jscan_plain(p[k], &x))
            return 0;
    for (k = 2; k < 4; k++)
        if (v[k].p != NULL && !base_jscan_plain(v[k], &x))
            return 0;
    if (which >= 0 && p[which].p != NULL && base_jscan_plain(p[which], &hex)) {
        if (hex.n % 2 != 0)
            return 0;
        nb = hex.n / 2;
        has = true;
        if (nb > sizeof small && (bytes = malloc(nb)) == NULL)
            return -1;
        if (base_hex_decode_n(hex.p, bytes, nb) != 0) {
            if (bytes != small)
                free(bytes);
            return 0;
        }
    }
    m = rt_msg_new(kind, bytes, nb);
    if (bytes != small)
        free(bytes);
    if (m == NULL)
        return -1;
    m->has_data = has;
#define SPAN_ID(dst, sp) \
    do { \
        base_jspan s_; \
        if ((sp).p != NULL && base_jscan_plain((sp), &s_)) { \
            size_t n_ = s_.n < sizeof(dst) - 1 ? s_.n : sizeof(dst) - 1; \
            memcpy((dst), s_.p, n_); \
            (dst)[n_] = '\0'; \
        } \
    } while (0)
    switch (kind) {
    case RT_MSG_SEND:
        SPAN_ID(m->a, v[2]);
        SPAN_ID(m->b, v[3]);
        break;
    case RT_MSG_REQUEST:
        SPAN_ID(m->b, p[0]);
        SPAN_ID(m->a, v[2]);
        break;
    case RT_MSG_CHAN_OPEN:
    case RT_MSG_CHAN_MSG:
    case RT_MSG_CHAN_CLOSE: SPAN_ID(m->b, p[0]); break;
    case RT_MSG_CHILD_EXIT:
    case RT_MSG_CHILD_STOP: SPAN_ID(m->a, p[0]); break;
    default: break;
    }
#undef SPAN_ID
    m->durable = v[3].p != NULL;
    *has_result = v[4].p != NULL;
    *out = m;
    return 1;
}

/* An inbound event (a call of an export that a handler makes: a child
 * process's output, docs/events.md) rebuilt from its recorded wasm-call:
 * the generated glue (wit_inbound, tools/witgen) lowers the recorded
 * params (the JSON of the export's params tuple) into the guest and lifts
 * the result; the call's other recorded members (the handler's, e.g. "cut")
 * are written again as they were, so the wasm-call compares like any
 * other.  Freed by `done`. */
typedef struct rp_inbound {
    rt_inbound in;
    rt_inbound_ops ops;
    const wit_inbound_desc *d;
    base_jspan params; /* the recorded array (in the record) */
    rt_buf extra;      /* ,"key":value of the call's other members */
    void *more;        /* what the result carries besides the state (d->more_json) */
} rp_inbound;

static int rpi_lower(rt_inbound *in, rt_guest *g, const wit_opt_bytes *state, th_wasm_val *args,
                     uint32_t *nargs)
{
    rp_inbound *r = (rp_inbound *)in;

    return r->d->lower(g, state, r->params, args, nargs);
}

static int rpi_lift(rt_inbound *in, rt_guest *g, const th_wasm_val *res, bool *has, uint8_t **state,
                    size_t *len, char **err)
{
    rp_inbound *r = (rp_inbound *)in;

    if (r->more != NULL) { /* a call lifted once only; kept for its record */
        r->d->more_free(r->more);
        r->more = NULL;
    }
    return r->d->lift(g, res, has, state, len, err, &r->more);
}

/* The result's members after "state", written by the same generated code
 * as in the live run (wit_inbound_more_F) from what the replayed code
 * returned. */
static void rpi_result_json(rt_inbound *in, rt_buf *b)
{
    rp_inbound *r = (rp_inbound *)in;

    if (r->d->more_json != NULL && r->more != NULL)
        r->d->more_json(b, r->more);
}

static void rpi_params(rt_inbound *in, rt_buf *b)
{
    rp_inbound *r = (rp_inbound *)in;

    rt_buf_append(b, r->params.p + 1, r->params.n - 2); /* without the brackets */
}

static void rpi_call_json(rt_inbound *in, rt_buf *b)
{
    rp_inbound *r = (rp_inbound *)in;

    if (r->extra.len > 0)
        rt_buf_append(b, r->extra.data, r->extra.len);
}

static void rpi_done(rt_inbound *in, int status, const char *text)
{
    rp_inbound *r = (rp_inbound *)in;

    (void)status, (void)text;
    if (r->more != NULL)
        r->d->more_free(r->more);
    rt_buf_release(&r->extra);
    free(r);
}

/* The message of a recorded inbound wasm-call into *out: 0, or an error
 * (it cannot be rebuilt). */
static int inbound_msg(const th_chain_event *e, rt_msg **out, th_error *err)
{
    base_jspan obj = {(const char *)e->data, e->data_len}, key, val, iface = {NULL, 0},
               fn = {NULL, 0}, params = {NULL, 0};
    const wit_inbound_desc *d = NULL;
    size_t at = 0, i;
    rp_inbound *r;
    rt_msg *m;
    int got, rc;

    *out = NULL;
    if ((r = calloc(1, sizeof *r)) == NULL)
        return th_error_set(err, TH_ENOMEM, "out of memory");
    while ((got = base_jscan_member(obj, &at, &key, &val)) == 1) {
        if (base_jscan_is(key, "\"interface\""))
            base_jscan_plain(val, &iface);
        else if (base_jscan_is(key, "\"function\""))
            base_jscan_plain(val, &fn);
        else if (base_jscan_is(key, "\"params\""))
            params = val;
        else if (!base_jscan_is(key, "\"result\"")) {
            rt_buf_puts(&r->extra, ",");
            rt_buf_append(&r->extra, key.p, (size_t)(val.p + val.n - key.p));
        }
    }
    for (i = 0; got == 0 && iface.p != NULL && fn.p != NULL && i < wit_ninbound; i++)
        if (strlen(wit_inbound[i].iface) == iface.n &&
            memcmp(wit_inbound[i].iface, iface.p, iface.n) == 0 &&
            strlen(wit_inbound[i].fn) == fn.n && memcmp(wit_inbound[i].fn, fn.p, fn.n) == 0)
            d = &wit_inbound[i];
    if (got != 0 || d == NULL || params.p == NULL || params.p[0] != '[' || r->extra.oom) {
        rc = th_error_set(err, TH_ECORRUPT,
                          "event %llu: a call from a handler the replay cannot read",
                          (unsigned long long)e->seq);
        goto fail;
    }
    if (strcmp(d->fn, "handle-websocket-message") == 0 &&
        memmem(params.p, params.n, "{\"type\":", 8) != NULL) {
        /* recorded before the record followed the WIT (docs/events.md) */
        rc = th_error_set(err, TH_ENOSYS,
                          "event %llu: a call of %s#%s recorded in the older form (its message's "
                          "field `ty` written as \"type\") cannot be replayed",
                          (unsigned long long)e->seq, d->iface, d->fn);
        goto fail;
    }
    if (d->lift == NULL) {
        rc = th_error_set(
            err, TH_ENOSYS,
            "event %llu: a call of %s#%s from its handler (an inbound event) cannot be "
            "replayed: its result is not one the WIT glue lifts for replay",
            (unsigned long long)e->seq, d->iface, d->fn);
        goto fail;
    }
    r->d = d;
    r->params = params;
    r->ops.iface = d->iface;
    r->ops.export = d->export_name;
    r->ops.lower = rpi_lower;
    r->ops.lift = rpi_lift;
    r->ops.params_json = rpi_params;
    r->ops.call_json = rpi_call_json;
    r->ops.result_json = rpi_result_json;
    r->ops.done = rpi_done;
    r->in.ops = &r->ops;
    if ((m = rt_msg_new(RT_MSG_INBOUND, NULL, 0)) == NULL) {
        rc = th_error_set(err, TH_ENOMEM, "out of memory");
        goto fail;
    }
    m->reply.in = &r->in;
    *out = m;
    return 0;
fail:
    rt_buf_release(&r->extra);
    free(r);
    return rc;
}

/* Index of the last event of the operation that starts at index i. */
static size_t op_end(rt_replay *rp, size_t i, bool has_result)
{
    size_t k;

    if (has_result)
        return i;
    for (k = i + 1; rec_has(rp, k); k++) {
        const char *t = rp->rec->items[k].type;
        if (strcmp(t, "wasm-result") == 0 || strcmp(t, "actor-failed") == 0 ||
            strcmp(t, "actor-stopped") == 0 || strcmp(t, "actor-restarted") == 0 ||
            strcmp(t, "actor-restored") == 0 || strcmp(t, "wasm-call") == 0)
            return strcmp(t, "wasm-call") == 0 ? k - 1 : k;
    }
    return rp->rec->count - 1;
}

static void report_state(replay_ctx *c, uint64_t seq)
{
    rt_actor *a = c->a;

    if (c->opts->state_fn != NULL)
        c->opts->state_fn(c->opts->state_ud, seq, a->has_state, a->state, a->state_len);
}

/* Run the operation of a recorded wasm-call (message m, taken over). */
static int run_call(replay_ctx *c, const th_chain_event *e, rt_msg *m, bool has_result,
                    th_error *err)
{
    rt_replay *rp = &c->rp;
    char theirs[REPLAY_SHOW_BYTES + 128];

    if (rp->until != UINT64_MAX && /* (no seq is above it) */
        rp->rec->items[op_end(rp, rp->next, has_result)].seq > rp->until) {
        rt_msg_free(m); /* the operation ends after --until: not run */
        rp->stop = true;
    } else if (c->a->inst == NULL) {
        rt_msg_free(m);
        rt_replay_show(theirs, sizeof theirs, e->type, e->data, e->data_len);
        rt_replay_diverge(rp, e->seq, e->type, theirs, "nothing (the actor had failed)");
    } else {
        rt_actor_run_op(c->a, m);
        if (rp->refused)
            return th_error_set(err, TH_ENOSYS, "%s", rp->why);
        if (!rp->res->diverged && !rp->stop)
            report_state(c, rp->next > 0 ? rp->rec->items[rp->next - 1].seq : 0);
    }
    return 0;
}

/* One event at the top level (between operations). */
static int step(replay_ctx *c, th_error *err)
{
    rt_replay *rp = &c->rp;
    const th_chain_event *e = rt_replay_peek(rp);
    json_error_t jerr;
    json_t *d;
    rt_msg *fm = NULL;
    bool has_result = false;

    rp->cut = false; /* between operations */
    if (strcmp(e->type, "wasm-call") == 0) {
        switch (fast_call_msg(e, &fm, &has_result)) {
        case 1: return run_call(c, e, fm, has_result, err);
        case -1: return th_error_set(err, TH_ENOMEM, "out of memory");
        default: break; /* the full reader below */
        }
    }
    d = base_json_loadb((const char *)e->data, e->data_len, 0, &jerr, NULL);
    char theirs[REPLAY_SHOW_BYTES + 128];
    int rc = 0;

    if (!json_is_object(d)) {
        json_decref(d);
        return th_error_set(err, TH_ECORRUPT, "event %llu (%s) has no JSON data",
                            (unsigned long long)e->seq, e->type);
    }
    if (strcmp(e->type, "wasm-call") == 0) {
        bool inbound = json_is_string(json_object_get(d, "interface"));
        rt_msg *m = NULL;
        if (inbound)
            rc = inbound_msg(e, &m, err);
        else
            m = call_msg(d);
        if (inbound && rc != 0) {
            /* said in err */
        } else if (m == NULL) {
            rc = th_error_set(err, TH_ECORRUPT, "event %llu: a wasm-call the replay cannot read",
                              (unsigned long long)e->seq);
        } else {
            rc = run_call(c, e, m, json_object_get(d, "result") != NULL, err);
        }
    } else if (strcmp(e->type, "init-skipped") == 0) {
        rt_msg *m = rt_msg_new(RT_MSG_INIT, NULL, 0);
        if (m == NULL)
            rc = th_error_set(err, TH_ENOMEM, "out of memory");
        else
            rt_actor_run_op(c->a, m);
    } else if (strcmp(e->type, "message-dropped") == 0 && json_object_get(d, "count") != NULL) {
        /* messages the actor never handled (it stopped or failed first):
         * nothing of them to run again */
        rp->next++;
        rp->res->events++;
    } else if (strcmp(e->type, "message-dropped") == 0) {
        const char *fn = json_string_value(json_object_get(d, "function"));
        th_wasm_func *f = NULL;
        char name[160];
        const char *iface = json_string_value(json_object_get(d, "interface"));
        snprintf(name, sizeof name, "theater:simple/%s#%s",
                 iface != NULL                                        ? iface
                 : fn != NULL && strncmp(fn, "handle-child", 12) == 0 ? "supervisor-handlers"
                                                                      : "message-server-client",
                 fn != NULL ? fn : "");
        if (c->a->inst != NULL)
            f = th_wasm_instance_func(c->a->inst, name);
        if (f != NULL) {
            rt_replay_show(theirs, sizeof theirs, e->type, e->data, e->data_len);
            rt_replay_diverge(rp, e->seq, e->type, theirs,
                              "the replayed code exports it: the message would have been handled");
        } else {
            rp->next++;
            rp->res->events++;
        }
    } else if (strcmp(e->type, "actor-restored") == 0) {
        /* a new daemon brought it back (docs/durability.md): the recorded
         * code and state, init again if it had not returned */
        rp->next++;
        rp->res->events++;
        rc = start_code(c, e, d, json_object_get(d, "state"), err);
        if (rc == 0 && !json_is_true(json_object_get(d, "init")))
            c->a->status = TH_ACTOR_RUNNING;
        if (rc == 0)
            report_state(c, e->seq);
    } else if (strcmp(e->type, "actor-spawned") == 0 || strcmp(e->type, "actor-restarted") == 0) {
        rp->next++;
        rp->res->events++;
        rc = strcmp(e->type, "actor-spawned") == 0
                 ? on_spawned(c, e, d, err)
                 : start_code(c, e, d, json_object_get(d, "init_state"), err);
        /* supervisor.resume's start (and its restarts): that state, no init */
        if (rc == 0 && json_is_true(json_object_get(d, "resumed")))
            c->a->status = TH_ACTOR_RUNNING;
        if (rc == 0)
            report_state(c, e->seq);
    } else if (strcmp(e->type, "component-updated") == 0) {
        rp->next++;
        rp->res->events++;
        rc = on_updated(c, e, d, err);
        if (rc == 0 && !rp->res->diverged)
            report_state(c, e->seq);
    } else if (strcmp(e->type, "host-call") == 0 || strcmp(e->type, "wasm-result") == 0) {
        rt_replay_show(theirs, sizeof theirs, e->type, e->data, e->data_len);
        rt_replay_diverge(rp, e->seq, e->type, theirs,
                          "nothing (the replayed operation had ended)");
    } else {
        /* the runtime's decisions (supervisor-action, actor-stopped, a
         * failure outside an operation) and types this replay does not
         * know are taken as recorded */
        if (strcmp(e->type, "actor-stopped") == 0 || strcmp(e->type, "actor-failed") == 0) {
            th_wasm_instance_free(c->a->inst);
            c->a->inst = NULL;
            memset(c->a->fn, 0, sizeof c->a->fn);
        }
        rp->next++;
        rp->res->events++;
    }
    json_decref(d);
    return rc;
}

static void replay_free(replay_ctx *c)
{
    if (c->a != NULL) {
        c->a->spec = NULL;
        rt_actor_release(c->a);
    }
    if (c->spec != NULL) {
        free(atomic_load(&c->spec->exports)); /* (none: the actor runs a->module) */
        free(c->spec->name);
        free(c->spec);
    }
    replay_rt_free(c->rt);
    rt_buf_release(&c->rp.answer);
    rt_replay_drop_value(&c->rp);
    free(c->rp.out_text);
    free(c->rp.args_input);
    free(c->rp.args_bytes);
    while (c->nbig > 0)
        free(c->big_data[--c->nbig]);
    free(c->big_data);
    free(c->big.items);
}

int th_runtime_replay(const th_runtime_replay_opts *opts, th_runtime_replay_result *res,
                      th_error *err)
{
    replay_ctx c;
    int rc;

    memset(res, 0, sizeof *res);
    memset(&c, 0, sizeof c);
    if (opts->backtrace != NULL)
        *opts->backtrace = NULL;
    c.opts = opts;
    c.rp.rec = opts->stream != NULL ? &c.rp.view : opts->events;
    c.rp.stream = opts->stream;
    c.rp.ctx = &c;
    c.rp.until = opts->until;
    c.rp.res = res;
    c.rp.host_at = SIZE_MAX;
    if (c.rp.rec == NULL || !rec_has(&c.rp, 0)) {
        if (c.rp.read_rc != 0) {
            *err = c.rp.read_err;
            return c.rp.read_rc;
        }
        return th_error_set(err, TH_EINVAL, "no events to replay");
    }
    if ((rc = replay_rt_new(opts->handlers, opts->store, &c.rt, err)) != 0)
        return rc;
    if (!rt_replay_gather_summaries(&c.rp, c.rt)) {
        rc = th_error_set(err, TH_ETOOBIG,
                          "the handlers have more functions with summary outputs "
                          "than the replay holds");
        goto out;
    }
    if ((c.spec = calloc(1, sizeof *c.spec)) == NULL ||
        (c.a = replay_actor_new(c.rt, c.spec, &c.rp)) == NULL) {
        rc = th_error_set(err, TH_ENOMEM, "out of memory");
        goto out;
    }
    atomic_init(&c.spec->refs, 1);
    c.spec->save_chain = true;
    if ((c.spec->name = strdup("actor")) == NULL) {
        rc = th_error_set(err, TH_ENOMEM, "out of memory");
        goto out;
    }
    if (opts->component != NULL) {
        rc = rt_module_from_bytes(c.rt, opts->component, opts->component_len, false, &c.other,
                                  c.other_hash, err);
        if (rc == 0)
            rc = rt_module_cache_put(c.rt, "replay:component", c.other, c.other_hash, false, err);
        if (rc != 0) {
            c.other = NULL;
            th_error_prefix(err, "--component");
            goto out;
        }
    }
    /* (a record still being read is looked at as it comes: rt_replay_rec_more) */
    if (c.rp.stream == NULL && (rc = resolve_big(&c, c.rp.rec, err)) != 0)
        goto out;
    if (strcmp(c.rp.rec->items[0].type, "actor-spawned") != 0) {
        rc = th_error_set(err, TH_ECORRUPT, "the chain does not start with actor-spawned");
        goto out;
    }
    while (rc == 0 && !res->diverged && !c.rp.stop && rt_replay_peek(&c.rp) != NULL &&
           rt_replay_peek(&c.rp)->seq <= c.rp.until)
        rc = step(&c, err);
    if (rc == 0 && c.rp.read_rc != 0) { /* the record could not be read whole */
        rc = c.rp.read_rc;
        *err = c.rp.read_err;
    }
    if (rc == 0 && c.rp.refused)
        rc = th_error_set(err, TH_ENOSYS, "%s", c.rp.why);
    if (rc == 0 && c.a->has_state) {
        res->has_state = true;
        res->state = rt_memdup(c.a->state, c.a->state_len);
        res->state_len = c.a->state_len;
        if (res->state == NULL)
            rc = th_error_set(err, TH_ENOMEM, "out of memory");
    }
out:
    replay_free(&c);
    return rc;
}

void th_runtime_replay_result_release(th_runtime_replay_result *res)
{
    if (res == NULL)
        return;
    free(res->state);
    res->state = NULL;
}
