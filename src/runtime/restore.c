/*
 * restore.c - th_runtime_restore: bringing the durable actors of a home
 * back when a daemon starts (docs/durability.md; the records are written
 * by durable.c).
 *
 * For each durable_actor row, in start order but a parent before its
 * children (order_rows), the actor's chain decides:
 *   - the base is its last event that sets the state: a result ("wasm-call"
 *     with its result, "wasm-result": the state it returned),
 *     "actor-spawned" / "actor-restarted" (the initial state; init still to
 *     run), "actor-restored" (what the last restore gave it) or
 *     "component-updated" (the state after a hot upgrade's migrate);
 *   - after the base, "init-skipped" means init is done, "actor-failed"
 *     that it failed for good (a supervisor's restart would be a later
 *     base), "actor-stopped" other than by a runtime shutdown that it
 *     ended; such an actor is forgotten.  An operation that had begun and
 *     not returned (its "wasm-call" and host calls, no result) is not
 *     part of the state: its message is handled again.
 * The actor is created with its id, its parent (restored before it), its
 * manifest (the text it started with) and that state, and "actor-restored"
 * {id, name, version, manifest, parent, state, component, [incarnation,]
 * init, after_seq} is recorded; with init still to run (init true), init
 * runs first, as the incarnation that began it (its sends get the same ids).
 *
 * Then the messages: every durable_msg row of the actor not yet handled,
 * in order, except those whose handling event is on the chain after
 * marked_seq (committed, but marked only now).  Everything is created
 * before any actor runs, so an actor may send to any other at once.
 */
#define _GNU_SOURCE /* memmem */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "base/hex.h"
#include "base/json.h"
#include "db/db.h"
#include "theater/chain.h"
#include "theater/store.h"
#include "runtime/manifest.h"
#include "runtime/rt_int.h"

#define RS_PAGE 512 /* chain events read at a time, newest first */

typedef struct rs_row {
    char id[RT_ID_LEN + 1];
    char parent[RT_ID_LEN + 1];
    char *mpath, *mtext, *base;
    bool has_init;
    uint8_t *init;
    size_t init_len;
    int64_t marked;
} rs_row;

/* What the chain says about one actor. */
typedef struct rs_plan {
    int verdict; /* RS_RESTORE, RS_ENDED, RS_FAILED */
    bool has_state;
    uint8_t *state;
    size_t state_len;
    bool need_init;
    bool resumed; /* started by supervisor.resume: no init, now or at a restart */
    char incarnation[RT_ID_LEN + 1]; /* with need_init: whose init runs again */
    bool has_chain;
    uint64_t head; /* seq of its last event (has_chain) */
    bool has_component;
    char component[RT_HASH_HEX + 1]; /* the code it last ran (SHA-256) */
    char **handled;                  /* message ids handled after marked_seq */
    size_t nhandled, caphandled;
    /* RS_FAILED: the failure (its time, type and message) and, for a
     * child, what its supervisor had decided (RS_SUP_*) */
    uint64_t fail_ms;
    int fail_wit;
    char fail_msg[TH_ERROR_MSG_MAX];
    int sup;
} rs_plan;

enum { RS_RESTORE = 0, RS_ENDED, RS_FAILED };
/* What a failed child's supervisor had done about the failure, as its
 * chain shows it: nothing yet (the notice was lost with the daemon: it is
 * given again), a restart (carried out again if the child's chain lacks
 * it), or something that left the child as it is (it is forgotten). */
enum { RS_SUP_AWAIT = 0, RS_SUP_RESTART, RS_SUP_LEFT };

static void plan_release(rs_plan *p)
{
    size_t i;

    free(p->state);
    for (i = 0; i < p->nhandled; i++)
        free(p->handled[i]);
    free(p->handled);
    memset(p, 0, sizeof *p);
}

static void row_release(rs_row *r)
{
    free(r->mpath);
    free(r->mtext);
    free(r->base);
    free(r->init);
}

static char *col_dup(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t != NULL ? strdup((const char *)t) : NULL;
}

/* Every row of durable_actor, in start order. */
static int load_rows(sqlite3 *db, rs_row **out, size_t *n, th_error *err)
{
    sqlite3_stmt *st = NULL;
    rs_row *v = NULL, *x;
    size_t cap = 0;
    int rc;

    *out = NULL;
    *n = 0;
    rc = sqlite3_prepare_v2(db,
                            "SELECT id, parent, manifest_path, manifest_text, base_dir,"
                            " has_init_state, init_state, marked_seq FROM durable_actor ORDER BY n",
                            -1, &st, NULL);
    while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const unsigned char *id = sqlite3_column_text(st, 0), *par = sqlite3_column_text(st, 1);
        if (id == NULL || strlen((const char *)id) != RT_ID_LEN ||
            (par != NULL && strlen((const char *)par) != RT_ID_LEN)) {
            rc = SQLITE_OK; /* a damaged row: not an actor */
            continue;
        }
        if (*n == cap) {
            cap = cap ? 2 * cap : 16;
            if ((x = realloc(v, cap * sizeof *v)) == NULL) {
                rc = SQLITE_NOMEM;
                break;
            }
            v = x;
        }
        x = &v[(*n)++];
        memset(x, 0, sizeof *x);
        memcpy(x->id, id, RT_ID_LEN + 1);
        if (par != NULL)
            memcpy(x->parent, par, RT_ID_LEN + 1);
        x->mpath = col_dup(st, 2);
        x->mtext = col_dup(st, 3);
        x->base = col_dup(st, 4);
        x->has_init = sqlite3_column_int(st, 5) != 0;
        x->init_len = (size_t)sqlite3_column_bytes(st, 6);
        x->init = rt_memdup(sqlite3_column_blob(st, 6), x->init_len);
        x->marked = sqlite3_column_int64(st, 7);
        rc = SQLITE_OK;
        if (x->mtext == NULL || x->init == NULL) {
            rc = SQLITE_NOMEM;
            break;
        }
    }
    if (rc == SQLITE_DONE)
        rc = SQLITE_OK;
    sqlite3_finalize(st);
    *out = v;
    if (rc != SQLITE_OK)
        return db_error(db, rc, err, "reading the durable actors");
    return 0;
}

/* A byte string of an event's JSON: hex text or null. */
static int json_bytes(json_t *v, bool *has, uint8_t **out, size_t *len)
{
    const char *hex;
    size_t n;

    free(*out);
    *out = NULL;
    *len = 0;
    *has = false;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_string(v) || ((n = strlen(hex = json_string_value(v))) & 1) != 0)
        return TH_ECORRUPT;
    if ((*out = malloc(n / 2 + 1)) == NULL)
        return TH_ENOMEM;
    if (base_hex_decode(hex, *out, n / 2) != 0)
        return TH_ECORRUPT;
    *len = n / 2;
    *has = true;
    return 0;
}

/* The kinds of event that set the state (a base), 0 for others. */
enum { B_NONE = 0, B_RESULT, B_START, B_RESTORED };

static int base_kind(const th_chain_event *e)
{
    if (strcmp(e->type, "wasm-result") == 0)
        return B_RESULT;
    if (strcmp(e->type, "wasm-call") == 0)
        return memmem(e->data, e->data_len, "\"result\":{", 10) != NULL ? B_RESULT : B_NONE;
    if (strcmp(e->type, "actor-spawned") == 0 || strcmp(e->type, "actor-restarted") == 0)
        return B_START;
    if (strcmp(e->type, "actor-restored") == 0 || strcmp(e->type, "component-updated") == 0)
        return B_RESTORED; /* {"state"} (and "init" for a restore) */
    return B_NONE;
}

/* Apply the base event: the state (and whether init must run). */
static int apply_base(const th_chain_event *e, int kind, rs_plan *p, th_error *err)
{
    json_t *d = base_json_loadb((const char *)e->data, e->data_len, 0, NULL, NULL), *v = NULL;
    int rc;

    if (d == NULL || !json_is_object(d)) {
        json_decref(d);
        return th_error_set(err, TH_ECORRUPT, "event %llu (%s) is not the JSON it should be",
                            (unsigned long long)e->seq, e->type);
    }
    if (kind == B_RESULT) {
        json_t *r = json_object_get(d, "result");
        v = json_object_get(r != NULL ? r : d, "state");
        p->need_init = false;
    } else if (kind == B_START) {
        v = json_object_get(d, "init_state");
        p->need_init = true; /* unless resumed: analyze() */
    } else {
        v = json_object_get(d, "state");
        p->need_init = json_is_true(json_object_get(d, "init"));
    }
    rc = json_bytes(v, &p->has_state, &p->state, &p->state_len);
    /* the init to run again is that of the incarnation the base names
     * (actor-restarted's nonce, kept by actor-restored), so that its sends
     * get the ids they got the first time */
    p->incarnation[0] = 0;
    if (p->need_init) {
        const char *inc = json_string_value(json_object_get(d, "incarnation"));
        if (inc != NULL && strlen(inc) <= RT_ID_LEN)
            snprintf(p->incarnation, sizeof p->incarnation, "%s", inc);
    }
    json_decref(d);
    if (rc != 0)
        return th_error_set(err, rc, "event %llu (%s): bad state", (unsigned long long)e->seq,
                            e->type);
    return 0;
}

static int add_handled(rs_plan *p, const th_chain_event *e)
{
    char id[RT_ID_LEN + 1];
    char **v;

    if (!rt_durable_event_handled(e->type, e->data, e->data_len, id))
        return 0;
    if (p->nhandled == p->caphandled) {
        size_t cap = p->caphandled ? 2 * p->caphandled : 16;
        if ((v = realloc(p->handled, cap * sizeof *v)) == NULL)
            return TH_ENOMEM;
        p->handled = v;
        p->caphandled = cap;
    }
    if ((p->handled[p->nhandled] = strdup(id)) == NULL)
        return TH_ENOMEM;
    p->nhandled++;
    return 0;
}

/* The code an event starts ("component" of actor-spawned, -restarted,
 * -restored, component-updated), if it names one. */
static bool event_component(const th_chain_event *e, char hash[RT_HASH_HEX + 1])
{
    static const char key[] = "\"component\":\"";
    const uint8_t *at;
    size_t i;

    if (strcmp(e->type, "actor-spawned") != 0 && strcmp(e->type, "actor-restarted") != 0 &&
        strcmp(e->type, "actor-restored") != 0 && strcmp(e->type, "component-updated") != 0)
        return false;
    if ((at = memmem(e->data, e->data_len, key, sizeof key - 1)) == NULL ||
        (size_t)(e->data + e->data_len - at) < sizeof key + RT_HASH_HEX)
        return false;
    at += sizeof key - 1;
    for (i = 0; i < RT_HASH_HEX; i++)
        if (!((at[i] >= '0' && at[i] <= '9') || (at[i] >= 'a' && at[i] <= 'f')))
            return false;
    if (at[RT_HASH_HEX] != '"')
        return false;
    memcpy(hash, at, RT_HASH_HEX);
    hash[RT_HASH_HEX] = 0;
    return true;
}

/* The failure an "actor-failed" event records. */
static void note_failure(const th_chain_event *e, rs_plan *p)
{
    json_t *d = base_json_loadb((const char *)e->data, e->data_len, 0, NULL, NULL);
    const char *type = json_string_value(json_object_get(d, "error_type"));
    const char *msg = json_string_value(json_object_get(d, "message"));
    int t;

    p->fail_ms = e->timestamp_ms;
    p->fail_wit = RT_WIT_INTERNAL;
    for (t = 0; type != NULL && rt_wit_error_name(t) != NULL; t++)
        if (strcmp(rt_wit_error_name(t), type) == 0)
            p->fail_wit = t;
    snprintf(p->fail_msg, sizeof p->fail_msg, "%s", msg != NULL ? msg : "failed");
    json_decref(d);
}

/* After the base: what happened to the actor since. */
static void apply_after(const th_chain_event *e, rs_plan *p)
{
    if (strcmp(e->type, "init-skipped") == 0) {
        p->need_init = false;
    } else if (strcmp(e->type, "actor-failed") == 0) {
        p->verdict = RS_FAILED;
        note_failure(e, p);
    } else if (strcmp(e->type, "actor-stopped") == 0) {
        if (memmem(e->data, e->data_len, "\"runtime-shutdown\"", 18) == NULL)
            p->verdict = RS_ENDED;
    }
}

/* An event whose data (over 64 MiB: a large state, message or response)
 * the chain holds by content reference (docs/chain-format.md): its data
 * replaced by the content, from the home's store (checked against the
 * reference by the store).  Only the events that may set a state or name
 * a message need it. */
static int resolve_content(rt_runtime *rt, th_chain_events *list, size_t k, th_error *err)
{
    th_chain_event *e = &list->items[k];
    uint8_t h[TH_CHAIN_HASH_LEN];
    char ref[2 * TH_CHAIN_HASH_LEN + 1];
    uint64_t size;
    void *data = NULL;
    size_t len = 0;
    int rc;

    if ((strcmp(e->type, "wasm-call") != 0 && strcmp(e->type, "wasm-result") != 0) ||
        !th_chain_event_content_ref(e, h, &size))
        return 0;
    if (rt->store == NULL)
        return th_error_set(err, TH_ENOENT,
                            "event %llu holds %llu bytes by content reference, and the home has "
                            "no content store",
                            (unsigned long long)e->seq, (unsigned long long)size);
    base_hex_encode(h, TH_CHAIN_HASH_LEN, ref);
    rc = th_store_get(rt->store, TH_CHAIN_CONTENT_STORE, ref, &data, &len, err);
    if (rc != 0)
        return th_error_prefix(err, "event %llu (its %llu bytes by content reference)",
                               (unsigned long long)e->seq, (unsigned long long)size);
    if (len != size) {
        free(data);
        return th_error_set(err, TH_ECORRUPT,
                            "event %llu: its content has %zu bytes, its reference says %llu",
                            (unsigned long long)e->seq, len, (unsigned long long)size);
    }
    return th_chain_events_adopt(list, k, data, len, err);
}

/* Read the actor's chain from its end back to its last base and to
 * marked_seq, and make the plan. */
static int analyze(rt_runtime *rt, const rs_row *row, rs_plan *p, th_error *err)
{
    static const char k_resumed[] = "\"resumed\":true";
    th_chain_events *pages = NULL, *x;
    size_t npages = 0, i, k, base_page = 0, base_at = 0;
    uint64_t to = 0, need_from = row->marked >= 0 ? (uint64_t)row->marked + 1 : 0;
    bool found = false;
    th_chain_query q;
    int rc = 0;

    memset(p, 0, sizeof *p);
    for (;;) {
        if ((x = realloc(pages, (npages + 1) * sizeof *pages)) == NULL) {
            rc = th_error_set(err, TH_ENOMEM, "out of memory");
            goto out;
        }
        pages = x;
        memset(&q, 0, sizeof q);
        q.actor = row->id;
        q.to_seq = to;
        q.limit = RS_PAGE;
        q.newest = 1;
        rc = th_chain_read(rt->chain, &q, &pages[npages], err);
        if (rc == TH_ENOENT) {
            rc = 0;
            break;
        }
        if (rc != 0)
            goto out;
        x = &pages[npages++];
        if (x->count == 0)
            break;
        if (npages == 1) {
            p->has_chain = true;
            p->head = x->items[x->count - 1].seq;
        }
        for (k = x->count; !found && k-- > 0;) {
            if ((rc = resolve_content(rt, x, k, err)) != 0)
                goto out;
            if (base_kind(&x->items[k]) != B_NONE) {
                found = true;
                base_page = npages - 1;
                base_at = k;
            }
        }
        for (k = x->count; !p->has_component && k-- > 0;)
            if ((p->has_component = event_component(&x->items[k], p->component)))
                /* every event naming its code says whether it was resumed */
                p->resumed = memmem(x->items[k].data, x->items[k].data_len, k_resumed,
                                    sizeof k_resumed - 1) != NULL;
        to = x->items[0].seq;
        if (to == 0 || x->count < RS_PAGE || (found && to <= need_from && p->has_component))
            break;
    }
    p->verdict = RS_RESTORE;
    if (!found) {
        /* no chain (or none of it stored): start it again from its record */
        p->need_init = true;
        p->has_state = row->has_init;
        if (row->has_init && (p->state = rt_memdup(row->init, row->init_len)) == NULL)
            rc = th_error_set(err, TH_ENOMEM, "out of memory");
        p->state_len = row->init_len;
    } else {
        th_chain_event *b = &pages[base_page].items[base_at];
        rc = apply_base(b, base_kind(b), p, err);
        if (p->resumed) /* supervisor.resume's actor never runs init, whatever
                           its base (its start, a restart, a restore) */
            p->need_init = false;
    }
    /* pages are newest first: walk them oldest first */
    for (i = npages; rc == 0 && i-- > 0;) {
        for (k = 0; rc == 0 && k < pages[i].count; k++) {
            th_chain_event *e = &pages[i].items[k];
            if (e->seq >= need_from && (rc = resolve_content(rt, &pages[i], k, err)) == 0)
                rc = add_handled(p, e) != 0 ? th_error_set(err, TH_ENOMEM, "out of memory") : 0;
            if (found && (i < base_page || (i == base_page && k > base_at)))
                apply_after(e, p);
        }
    }
out:
    for (i = 0; i < npages; i++)
        th_chain_events_free(&pages[i]);
    free(pages);
    return rc;
}

/* A decision seen: a restart stays (a strategy's restart and the export's
 * call both happen for one failure; the export's may decide nothing). */
static void decide(int *verdict, int v)
{
    if (*verdict != RS_SUP_RESTART)
        *verdict = v;
}

/* What the parent `parent` had decided about the failure of `child` at
 * fail_ms: its events since then (newest pages first, walked oldest
 * first) that name the child.  A "supervisor-action" restarting it, or a
 * handle-child-error call that ended and called restart-child for it:
 * RS_SUP_RESTART; another decision (escalate; a call that ended without a
 * restart): RS_SUP_LEFT; none, or a handle-child-error cut off by the
 * daemon's end: RS_SUP_AWAIT. */
static int parent_decision(rt_runtime *rt, const char *parent, const char *child, uint64_t fail_ms)
{
    th_chain_events *pages = NULL, *x;
    size_t npages = 0, i, k;
    uint64_t to = 0;
    th_chain_query q;
    th_error err;
    int verdict = RS_SUP_AWAIT;
    bool in_call = false, restarts = false, done = false;

    while (!done) {
        if ((x = realloc(pages, (npages + 1) * sizeof *pages)) == NULL)
            break;
        pages = x;
        memset(&q, 0, sizeof q);
        q.actor = parent;
        q.to_seq = to;
        q.limit = RS_PAGE;
        q.newest = 1;
        if (th_chain_read(rt->chain, &q, &pages[npages], &err) != 0)
            break;
        x = &pages[npages++];
        if (x->count == 0 || x->items[0].timestamp_ms < fail_ms || x->items[0].seq == 0 ||
            x->count < RS_PAGE)
            done = true;
        else
            to = x->items[0].seq;
    }
    for (i = npages; i-- > 0;) {
        for (k = 0; k < pages[i].count; k++) {
            const th_chain_event *e = &pages[i].items[k];
            bool names = memmem(e->data, e->data_len, child, RT_ID_LEN) != NULL;
            if (e->timestamp_ms < fail_ms)
                continue;
            if (strcmp(e->type, "supervisor-action") == 0 && names) {
                decide(&verdict, memmem(e->data, e->data_len, "\"restart\"", 9) != NULL
                                     ? RS_SUP_RESTART
                                     : RS_SUP_LEFT);
            } else if (strcmp(e->type, "wasm-call") == 0 &&
                       memmem(e->data, e->data_len, "\"handle-child-error\"", 20) != NULL &&
                       names) {
                if (memmem(e->data, e->data_len, "\"result\":{", 10) != NULL)
                    decide(&verdict, RS_SUP_LEFT);
                else
                    in_call = true;
                restarts = false;
            } else if (in_call && strcmp(e->type, "host-call") == 0) {
                if (names && memmem(e->data, e->data_len, "\"restart-child\"", 15) != NULL)
                    restarts = true;
            } else if (in_call && strcmp(e->type, "wasm-result") == 0) {
                decide(&verdict, restarts ? RS_SUP_RESTART : RS_SUP_LEFT);
                in_call = false;
            } else if (in_call) {
                in_call = false; /* cut off: not decided */
            }
        }
    }
    for (i = 0; i < npages; i++)
        th_chain_events_free(&pages[i]);
    free(pages);
    return verdict;
}

static bool plan_handled(const rs_plan *p, const char *id)
{
    size_t i;

    for (i = 0; i < p->nhandled; i++)
        if (strcmp(p->handled[i], id) == 0)
            return true;
    return false;
}

/* The "actor-restored" record. */
static void restored_event(const rs_row *row, const rt_spec *s, const rs_plan *p, rt_buf *b)
{
    rt_buf_puts(b, "{\"id\":");
    rt_buf_json_str(b, row->id, RT_ID_LEN);
    rt_buf_puts(b, ",\"name\":");
    rt_buf_json_str(b, s->name, strlen(s->name));
    rt_buf_puts(b, ",\"version\":");
    rt_buf_json_str(b, s->version, strlen(s->version));
    rt_buf_puts(b, ",\"manifest\":");
    if (row->mpath != NULL)
        rt_buf_json_str(b, row->mpath, strlen(row->mpath));
    else
        rt_buf_puts(b, "null");
    rt_buf_puts(b, ",\"parent\":");
    if (row->parent[0])
        rt_buf_json_str(b, row->parent, RT_ID_LEN);
    else
        rt_buf_puts(b, "null");
    rt_buf_puts(b, ",\"state\":");
    if (p->has_state)
        rt_buf_json_hex(b, p->state, p->state_len);
    else
        rt_buf_puts(b, "null");
    rt_buf_puts(b, ",\"component\":");
    rt_buf_json_str(b, s->component, strlen(s->component));
    if (p->need_init && p->incarnation[0]) {
        rt_buf_puts(b, ",\"incarnation\":");
        rt_buf_json_str(b, p->incarnation, strlen(p->incarnation));
    }
    if (p->resumed)
        rt_buf_puts(b, ",\"resumed\":true");
    rt_buf_printf(b, ",\"init\":%s,\"after_seq\":", p->need_init ? "true" : "false");
    if (p->has_chain)
        rt_buf_printf(b, "%llu}", (unsigned long long)p->head);
    else
        rt_buf_puts(b, "null}");
}

/* The spec of a row: its manifest text, relative paths against its
 * directory, reported under the path it was started from; its code the
 * component its chain last named (from the content store), else (a chain
 * from before components were recorded) the file the manifest names. */
static int row_spec(rt_runtime *rt, const rs_row *row, const rs_plan *p, rt_spec **out,
                    th_error *err)
{
    rt_spec *s;
    char *path;
    int rc = p->has_component
                 ? rt_spec_load_recorded(rt, row->mtext, row->base, p->component, &s, err)
                 : rt_spec_load(rt, NULL, row->mtext, row->base, NULL, &s, err);

    if (rc != 0)
        return rc;
    if (row->mpath != NULL) {
        if ((path = strdup(row->mpath)) == NULL) {
            rt_spec_release(s);
            return th_error_set(err, TH_ENOMEM, "out of memory");
        }
        free(s->man->source);
        s->man->source = path;
        s->manifest_path = path;
    }
    *out = s;
    return 0;
}

/* Create one actor from its row and plan (not yet runnable: the caller
 * owns its turn). */
static int restore_one(rt_runtime *rt, const rs_row *row, const rs_plan *p, rt_actor *parent,
                       rt_actor **out, th_error *err)
{
    rt_actor_new_opts o;
    rt_spec *spec = NULL;
    rt_buf ev = {0};
    int rc;

    if ((rc = row_spec(rt, row, p, &spec, err)) != 0)
        return rc;
    restored_event(row, spec, p, &ev);
    if (ev.oom) {
        rt_spec_release(spec);
        rt_buf_release(&ev);
        return th_error_set(err, TH_ENOMEM, "out of memory");
    }
    memset(&o, 0, sizeof o);
    o.id = row->id;
    o.has_init_state = row->has_init;
    o.init_state = row->init;
    o.init_state_len = row->init_len;
    o.has_state = p->has_state;
    o.state = p->state;
    o.state_len = p->state_len;
    o.run_init = p->need_init;
    o.resumed = p->resumed;
    o.incarnation = p->need_init ? p->incarnation : NULL;
    o.event = p->has_chain ? "actor-restored" : NULL; /* no chain: spawned again */
    o.event_data = ev.data;
    o.event_len = ev.len;
    rc = rt_actor_new(rt, spec, parent, &o, out, err);
    rt_spec_release(spec);
    rt_buf_release(&ev);
    return rc;
}

static int exec_id(sqlite3 *db, const char *sql, const char *id)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);

    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Queue the actor's messages not yet handled, in order; mark those its
 * chain shows handled.  Returns how many were queued, or -1. */
static long queue_messages(sqlite3 *db, rt_actor *a, const rs_plan *p)
{
    sqlite3_stmt *st = NULL, *mark = NULL;
    long n = 0;
    int rc;

    rc = sqlite3_prepare_v2(db,
                            "SELECT id, sender, data FROM durable_msg WHERE actor = ? AND"
                            " handled = 0 ORDER BY n",
                            -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db, "UPDATE durable_msg SET handled = 1, data = NULL WHERE id = ?",
                                -1, &mark, NULL);
    if (rc == SQLITE_OK)
        sqlite3_bind_text(st, 1, a->id, -1, SQLITE_STATIC);
    while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(st, 0);
        const char *from = (const char *)sqlite3_column_text(st, 1);
        rt_msg *m;
        rc = SQLITE_OK;
        if (id == NULL || strlen(id) != RT_ID_LEN)
            continue;
        if (plan_handled(p, id)) {
            sqlite3_bind_text(mark, 1, id, -1, SQLITE_TRANSIENT);
            rc = sqlite3_step(mark) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
            sqlite3_reset(mark);
            continue;
        }
        m = rt_msg_new(RT_MSG_SEND, sqlite3_column_blob(st, 2),
                       (size_t)sqlite3_column_bytes(st, 2));
        if (m == NULL) {
            rc = SQLITE_NOMEM;
            break;
        }
        m->durable = true;
        memcpy(m->b, id, RT_ID_LEN + 1);
        if (from != NULL && strlen(from) == RT_ID_LEN)
            memcpy(m->a, from, RT_ID_LEN + 1);
        rt_actor_post(a, m); /* its turn is ours: nothing runs yet */
        n++;
    }
    if (rc == SQLITE_DONE)
        rc = SQLITE_OK;
    sqlite3_finalize(st);
    sqlite3_finalize(mark);
    if (rc == SQLITE_OK && p->has_chain) {
        char sql[128];
        snprintf(sql, sizeof sql, "UPDATE durable_actor SET marked_seq = %llu WHERE id = ?",
                 (unsigned long long)p->head);
        rc = exec_id(db, sql, a->id);
    }
    return rc == SQLITE_OK ? n : -1;
}

/* Put every row after its parent's (a parent's record is stored once its
 * init returned, so a child spawned by that init has the earlier row);
 * otherwise start order.  A row whose parent has no row stays in place. */
static int order_rows(rs_row *rows, size_t n)
{
    rs_row *out;
    bool *placed;
    size_t *up; /* the parent's row, or n */
    size_t k = 0, i, j;
    bool progress = true;

    if (n == 0) /* rows may be NULL then: nothing to order */
        return 0;
    out = malloc(n * sizeof *out);
    placed = calloc(n, sizeof *placed);
    up = malloc(n * sizeof *up);
    if (out == NULL || placed == NULL || up == NULL) {
        free(out);
        free(placed);
        free(up);
        return TH_ENOMEM;
    }
    for (i = 0; i < n; i++) {
        up[i] = n;
        for (j = 0; rows[i].parent[0] && j < n; j++)
            if (j != i && strcmp(rows[j].id, rows[i].parent) == 0)
                up[i] = j;
    }
    while (k < n && progress) {
        progress = false;
        for (i = 0; i < n; i++) {
            if (!placed[i] && (up[i] == n || placed[up[i]])) {
                out[k++] = rows[i];
                placed[i] = true;
                progress = true;
            }
        }
    }
    for (i = 0; i < n; i++) /* a cycle (a damaged table): as they were */
        if (!placed[i])
            out[k++] = rows[i];
    memcpy(rows, out, n * sizeof *out);
    free(out);
    free(placed);
    free(up);
    return 0;
}

/* A failed child brought back (the caller owns its turn): its supervisor
 * is told again (the failure recorded again, "actor-failed", and the
 * parent notified as at the failure), or the restart it had decided is
 * carried out. */
static void carry_on_failed(rt_actor *a, const rs_plan *p)
{
    th_error err;

    if (p->sup == RS_SUP_RESTART && rt_sup_restart(a->parent, a, &err) == 0)
        return;
    rt_actor_fail(a, p->fail_wit, "%s (restored failed: its supervisor decides again)",
                  p->fail_msg);
}

static rt_actor *find_created(rt_actor **v, size_t n, const char *id)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (v[i] != NULL && strcmp(v[i]->id, id) == 0)
            return v[i];
    return NULL;
}

static bool in_list(char (*v)[RT_ID_LEN + 1], size_t n, const char *id)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (strcmp(v[i], id) == 0)
            return true;
    return false;
}

/* One restore in progress: the rows in order and, row by row, the actor
 * made (or NULL), its plan, and the ids kept for later or forgotten. */
typedef struct rs_work {
    th_runtime *rt;
    rs_row *rows;
    size_t nrows;
    rt_actor **made;
    rs_plan *plans;
    char (*kept)[RT_ID_LEN + 1]; /* not brought back now, kept for later */
    char (*gone)[RT_ID_LEN + 1]; /* forgotten */
    size_t nkept, ngone;
} rs_work;

/* Bring back row i (its parent, if any, made before it): 0 with made[i]
 * set, or the code with `what` said and the id kept or forgotten. */
static int restore_row(rs_work *w, size_t i, char *what, size_t whatsz)
{
    rs_row *r = &w->rows[i];
    rs_plan *p = &w->plans[i];
    rt_actor *parent = r->parent[0] ? find_created(w->made, i, r->parent) : NULL;
    bool forget = true;
    th_error e;
    int rc;

    th_error_clear(&e);
    if (r->parent[0] && parent == NULL) {
        forget = !in_list(w->kept, w->nkept, r->parent);
        snprintf(what, whatsz, "its parent %.8s was not brought back", r->parent);
        rc = TH_ENOENT;
    } else if ((rc = analyze(w->rt, r, p, &e)) != 0) {
        forget = false;
        snprintf(what, whatsz, "its chain cannot be read: %s", e.msg);
    } else if (p->verdict == RS_FAILED && parent != NULL &&
               (p->sup = parent_decision(w->rt, r->parent, r->id, p->fail_ms)) != RS_SUP_LEFT &&
               !(p->need_init = false) &&
               (rc = restore_one(w->rt, r, p, parent, &w->made[i], &e)) != 0) {
        /* a failed child whose supervisor had not decided (or whose
         * restart is not on its chain): back, to be decided again */
        forget = false;
        snprintf(what, whatsz, "%s", e.msg);
    } else if (p->verdict == RS_FAILED && w->made[i] != NULL) {
        return 0;
    } else if (p->verdict != RS_RESTORE) {
        snprintf(what, whatsz, "%s", p->verdict == RS_FAILED ? "it had failed" : "it had stopped");
        rc = TH_ENOENT;
    } else if ((rc = restore_one(w->rt, r, p, parent, &w->made[i], &e)) != 0) {
        forget = false;
        snprintf(what, whatsz, "%s", e.msg);
    }
    if (rc == 0)
        return 0;
    w->made[i] = NULL;
    if (forget)
        memcpy(w->gone[w->ngone++], r->id, RT_ID_LEN + 1);
    else
        memcpy(w->kept[w->nkept++], r->id, RT_ID_LEN + 1);
    return rc;
}

/* The records, in one short transaction (the chain's writer is storing the
 * actor-restored events meanwhile): forgotten actors deleted, each actor
 * brought back given its messages (a failed one handed to its supervisor
 * again) and reported to `fn`.  Returns how many were brought back. */
static size_t restore_records(rs_work *w, sqlite3 *db, th_runtime_restore_fn fn, void *ud)
{
    char what[TH_ERROR_MSG_MAX + 64];
    size_t i, count = 0;

    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        rt_log(w->rt, NULL, NULL, "restoring: %s", sqlite3_errmsg(db));
    for (i = 0; i < w->ngone; i++)
        exec_id(db, "DELETE FROM durable_actor WHERE id = ?", w->gone[i]);
    for (i = 0; i < w->nrows; i++) {
        rt_actor *a = w->made[i];
        const rs_plan *p = &w->plans[i];
        long n;
        if (a == NULL)
            continue;
        if (p->verdict == RS_FAILED)
            carry_on_failed(a, p);
        if ((n = queue_messages(db, a, p)) < 0) {
            rt_log(w->rt, a->id, a->spec->name, "its messages cannot be read: %s",
                   sqlite3_errmsg(db));
            n = 0;
        }
        count++;
        if (fn != NULL) {
            snprintf(what, sizeof what, "state %s%zu bytes, %ld message%s to handle%s%s",
                     p->has_state ? "" : "none, ", p->state_len, n, n == 1 ? "" : "s",
                     p->need_init ? ", init to run" : "",
                     p->verdict != RS_FAILED    ? ""
                     : p->sup == RS_SUP_RESTART ? ", failed: its supervisor's restart again"
                                                : ", failed: its supervisor decides again");
            fn(ud, a->id, a->spec->name, 0, what);
        }
    }
    exec_id(db,
            "DELETE FROM durable_msg WHERE actor NOT IN (SELECT id FROM durable_actor)"
            " AND actor <> ?",
            "");
    if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        rt_log(w->rt, NULL, NULL, "restoring: %s", sqlite3_errmsg(db));
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    }
    return count;
}

int th_runtime_restore(th_runtime *rt, th_runtime_restore_fn fn, void *ud, size_t *restored,
                       th_error *err)
{
    rs_work w = {.rt = rt};
    sqlite3 *db = NULL;
    char what[TH_ERROR_MSG_MAX + 64];
    size_t i, count = 0;
    int rc;

    if (restored != NULL)
        *restored = 0;
    if (rt->durable == NULL)
        return th_error_set(err, TH_EINVAL, "the runtime was not created durable");
    if ((rc = db_open_schema(rt->home, &db_durable, 0, &db, err)) != 0)
        return th_error_prefix(err, "restoring the durable actors");
    if ((rc = load_rows(db, &w.rows, &w.nrows, err)) != 0)
        goto out;
    if (order_rows(w.rows, w.nrows) != 0) {
        rc = th_error_set(err, TH_ENOMEM, "out of memory restoring the durable actors");
        goto out;
    }
    w.made = calloc(w.nrows + 1, sizeof *w.made);
    w.plans = calloc(w.nrows + 1, sizeof *w.plans);
    w.kept = calloc(w.nrows + 1, sizeof *w.kept);
    w.gone = calloc(w.nrows + 1, sizeof *w.gone);
    if (w.made == NULL || w.plans == NULL || w.kept == NULL || w.gone == NULL) {
        rc = th_error_set(err, TH_ENOMEM, "out of memory restoring the durable actors");
        goto out;
    }
    for (i = 0; i < w.nrows; i++)
        if ((rc = restore_row(&w, i, what, sizeof what)) != 0 && fn != NULL)
            fn(ud, w.rows[i].id, NULL, rc, what);
    count = restore_records(&w, db, fn, ud);
    /* everyone exists: now they may run */
    for (i = 0; i < w.nrows; i++)
        if (w.made[i] != NULL)
            rt_sched_push(w.made[i], RT_PUSH_WAKE);
    rc = 0;
out:
    for (i = 0; i < w.nrows; i++) {
        row_release(&w.rows[i]);
        if (w.plans != NULL)
            plan_release(&w.plans[i]);
    }
    free(w.rows);
    free(w.plans);
    free(w.made);
    free(w.kept);
    free(w.gone);
    sqlite3_close_v2(db);
    if (restored != NULL)
        *restored = count;
    return rc;
}
