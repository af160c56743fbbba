/*
 * api.c - the endpoints of the management API (../shared/API.md and
 * docs/api.md): routing by method and path, one handler per endpoint.
 *
 * Handlers run on libmicrohttpd's polling thread and never block: spawn and
 * stop go to a job thread, requests wait for the actor's answer through a
 * callback, streams are filled by the runtime's event callback (stream.c).
 * Every failure is an HTTP status with {"error": {"code", "message"}} whose
 * message names the problem.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/file.h"
#include "base/hex.h"
#include "base/limits.h"
#include "theater/chain.h"
#include "theater/store.h"
#include "server/server_int.h"

#define MAX_SEGS 6

static const char *status_name(th_actor_status st)
{
    switch (st) {
    case TH_ACTOR_STARTING: return "starting";
    case TH_ACTOR_RUNNING: return "running";
    case TH_ACTOR_FAILED: return "failed";
    case TH_ACTOR_STOPPING: return "stopping";
    case TH_ACTOR_STOPPED: return "stopped";
    }
    return "unknown";
}

/* ------------------------------------------------------------------ */
/* Actor ids                                                          */

/* Count the ids of `ids` that begin with ref[0..rl), but for those in
 * `seen` (counted already: an actor both live and in the chains); the
 * first match goes to `out`, the first ten to `names`.  `matched`, if not
 * NULL, collects the matches (pointers into `ids`). */
static size_t prefix_matches(char **ids, size_t n, const char *ref, size_t rl, char **seen,
                             size_t nseen, char **matched, srv_buf *names, char out[SRV_ID_LEN + 1],
                             size_t found)
{
    size_t i, j;

    for (i = 0; i < n; i++) {
        if (strncmp(ids[i], ref, rl) != 0)
            continue;
        for (j = 0; j < nseen && strcmp(seen[j], ids[i]) != 0; j++)
            ;
        if (j < nseen)
            continue;
        if (found == 0)
            snprintf(out, SRV_ID_LEN + 1, "%s", ids[i]);
        if (found < 10)
            srv_buf_addf(names, "%s%s", found ? ", " : "", ids[i]);
        if (matched != NULL)
            matched[found] = ids[i];
        found++;
    }
    return found;
}

bool srv_resolve_actor(srv_req *r, const char *given, bool chains, char out[SRV_ID_LEN + 1])
{
    th_server *s = r->srv;
    th_actor_status st;
    char **ids = NULL, **live = NULL, ref[SRV_ID_LEN + 1];
    size_t n = 0, rl = strlen(given), found = 0, nlive = 0;
    srv_buf names = {0};

    /* ids are written in lower case; one typed in upper case is matched
     * too, as git matches object names */
    if (rl == 0 || rl > SRV_ID_LEN || !base_hex_id_lower(memcpy(ref, given, rl + 1))) {
        srv_reply_error(r, 404, "actor-not-found", "no actor %.80s", given);
        return false;
    }
    if (rl == SRV_ID_LEN && th_runtime_actor_status(s->rt, ref, &st, NULL) == 0) {
        memcpy(out, ref, SRV_ID_LEN + 1);
        return true;
    }
    if (th_runtime_list_actors(s->rt, &ids, &n, NULL) != 0)
        ids = NULL, n = 0;
    /* the live matches, so that the chains' pass does not count them again */
    if (chains && n > 0)
        live = calloc(n, sizeof *live);
    found = nlive = prefix_matches(ids, n, ref, rl, NULL, 0, live, &names, out, 0);
    if (chains) {
        th_chain_actors ca;
        if (th_chain_list_actors(th_runtime_chain(s->rt), &ca, NULL) == 0) {
            size_t i;
            char **v = calloc(ca.count + 1, sizeof *v);
            for (i = 0; v != NULL && i < ca.count; i++)
                v[i] = ca.items[i].name;
            if (v != NULL)
                found = prefix_matches(v, ca.count, ref, rl, live, live ? nlive : 0, NULL, &names,
                                       out, found);
            free(v);
            th_chain_actors_free(&ca);
        }
    }
    free(live);
    if (ids != NULL)
        th_runtime_strv_free(ids);
    if (found == 1) {
        srv_buf_release(&names);
        return true;
    }
    if (found == 0)
        srv_reply_error(r, 404, "actor-not-found", "no actor %s", ref);
    else
        srv_reply_error(r, 400, "ambiguous-id", "%s is ambiguous: it matches %zu actors (%s%s)",
                        ref, found, names.data ? names.data : "", found > 10 ? ", ..." : "");
    srv_buf_release(&names);
    return false;
}

/* ------------------------------------------------------------------ */
/* Health and listing                                                 */

static void h_health(srv_req *r, char **seg)
{
    th_server *s = r->srv;
    char **ids = NULL;
    size_t n = 0, i;
    th_chain_actors ca;
    th_chain_status cs;
    uint64_t events = 0, chains = 0;
    json_t *o;

    (void)seg;
    /* fail-stop recording: a writer that cannot store events (full disk)
     * makes recording actors wait, then fail; say so */
    th_runtime_chain_status(s->rt, &cs);
    if (th_runtime_list_actors(s->rt, &ids, &n, NULL) == 0)
        th_runtime_strv_free(ids);
    if (th_chain_list_actors(th_runtime_chain(s->rt), &ca, NULL) == 0) {
        chains = ca.count;
        for (i = 0; i < ca.count; i++)
            events += ca.items[i].head.count;
        th_chain_actors_free(&ca);
    }
    o = json_pack("{s:s, s:s, s:I, s:s, s:I, s:I, s:I, s:I, s:{s:I, s:I}}", "status",
                  atomic_load(&s->closing)  ? "shutting-down"
                  : cs.stalled || cs.failed ? "recording-stalled"
                                            : "ok",
                  "version", THEATER_VERSION, "pid", (json_int_t)getpid(), "home", s->home,
                  "started", (json_int_t)s->started_ms, "uptime_ms",
                  (json_int_t)((base_clock_mono_ns() - s->started_ns) / 1000000u), "actors",
                  (json_int_t)n, "streams", (json_int_t)atomic_load(&s->nstreams), "chains",
                  "count", (json_int_t)chains, "events", (json_int_t)events);
    if (o != NULL)
        json_object_set_new(o, "recording",
                            json_pack("{s:b, s:b, s:I, s:I, s:I, s:s}", "stalled", cs.stalled,
                                      "failed", cs.failed, "stalled_since_ms",
                                      (json_int_t)cs.stalled_since_ms, "retries",
                                      (json_int_t)cs.retries, "pending_events",
                                      (json_int_t)cs.pending_events, "message", cs.message));
    srv_reply_json(r, 200, o);
}

static json_t *actor_summary(const th_actor_info *in)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s?, s:I, s:i}", "id", in->id, "name", in->name,
                     "version", in->version, "status", status_name(in->status), "parent",
                     in->parent[0] ? in->parent : NULL, "started", (json_int_t)in->started_ms,
                     "children", (int)in->children);
}

static int by_start(const void *a, const void *b)
{
    const th_actor_info *x = a, *y = b;

    return x->start_seq < y->start_seq ? -1 : x->start_seq > y->start_seq;
}

static void h_list(srv_req *r, char **seg)
{
    char **ids = NULL;
    size_t n = 0, i, k = 0;
    th_actor_info *v;
    json_t *arr;

    (void)seg;
    if (th_runtime_list_actors(r->srv->rt, &ids, &n, NULL) != 0) {
        srv_reply_error(r, 503, "out-of-memory", "out of memory listing actors");
        return;
    }
    v = calloc(n ? n : 1, sizeof *v);
    arr = json_array();
    if (v == NULL || arr == NULL) {
        th_runtime_strv_free(ids);
        free(v);
        json_decref(arr);
        srv_reply_error(r, 503, "out-of-memory", "out of memory listing actors");
        return;
    }
    for (i = 0; i < n; i++)
        if (th_runtime_actor_info(r->srv->rt, ids[i], &v[k], NULL) == 0)
            k++; /* gone meanwhile: skipped */
    th_runtime_strv_free(ids);
    qsort(v, k, sizeof *v, by_start);
    for (i = 0; i < k; i++)
        json_array_append_new(arr, actor_summary(&v[i]));
    free(v);
    srv_reply_json(r, 200, json_pack("{s:o}", "actors", arr));
}

/* ------------------------------------------------------------------ */
/* Starting                                                           */

static void job_spawn(srv_req *r)
{
    th_server *s = r->srv;
    json_t *a = r->args;
    th_spawn_opts o;
    th_error err;
    char id[TH_ACTOR_ID_SIZE], *state = NULL, *bt = NULL;
    json_t *st = json_object_get(a, "init_state");
    const char *code;
    unsigned status;
    int rc;

    memset(&o, 0, sizeof o);
    o.manifest_path = json_string_value(json_object_get(a, "manifest"));
    o.manifest_text = json_string_value(json_object_get(a, "manifest_toml"));
    o.parent_id = r->id[0] ? r->id : NULL;
    o.backtrace = &bt;
    if (st != NULL) {
        state = json_dumps(st, JSON_COMPACT | JSON_ENCODE_ANY);
        if (state == NULL) {
            srv_req_done_error(r, 503, "out-of-memory", "out of memory");
            return;
        }
        o.initial_state = (const uint8_t *)state;
        o.initial_state_len = strlen(state);
    }
    th_error_clear(&err);
    rc = th_runtime_spawn(s->rt, &o, id, &err);
    free(state);
    if (rc == 0) {
        th_actor_info info;
        const char *name = th_runtime_actor_info(s->rt, id, &info, NULL) == 0 ? info.name : "";
        char *body = NULL;
        json_t *resp = json_pack("{s:s, s:s}", "id", id, "name", name);
        body = resp ? json_dumps(resp, JSON_COMPACT) : NULL;
        json_decref(resp);
        if (body != NULL)
            srv_req_done(r, 201, "application/json", body, strlen(body));
        else
            srv_req_done_error(r, 503, "out-of-memory", "out of memory");
        return;
    }
    if (rc == TH_ECLOSED) {
        srv_req_done_error(r, 503, "shutting-down", "%s", err.msg);
    } else if (rc == TH_ENOMEM) {
        srv_req_done_error(r, 503, "out-of-memory", "%s", err.msg);
    } else if (strncmp(err.msg, "init of ", 8) == 0) {
        /* the manifest loaded; the actor's init failed (th_runtime_spawn):
         * a trap's frames are in the answer and under the actor's "failed"
         * log line */
        srv_req_done_failure(r, 409, "init-failed", bt, "%s", err.msg);
    } else if (bt != NULL) {
        /* its module's start function trapped: no actor was made, so the
         * request's log line has the frames */
        srv_req_done_trap(r, 409, "init-failed", bt, "%s", err.msg);
    } else if (rc == TH_ENOENT && o.parent_id != NULL && strstr(err.msg, o.parent_id) != NULL) {
        srv_req_done_error(r, 404, "actor-not-found", "parent: %s", err.msg);
    } else {
        status = srv_status_of(rc, &code);
        (void)status;
        srv_req_done_error(r, 400, "bad-manifest", "%s", err.msg);
    }
    free(bt);
}

static void h_start(srv_req *r, char **seg)
{
    static const char *const allowed[] = {"manifest", "manifest_toml", "init_state", "parent",
                                          NULL};
    json_t *a = srv_body_object(r, allowed), *m, *t, *p;

    (void)seg;
    if (a == NULL)
        return;
    m = json_object_get(a, "manifest");
    t = json_object_get(a, "manifest_toml");
    p = json_object_get(a, "parent");
    if (json_is_null(p)) /* an optional field given as null: no parent */
        p = NULL;
    if ((m == NULL) == (t == NULL)) {
        srv_reply_error(
            r, 400, "bad-request",
            "give exactly one of \"manifest\" (a path) and \"manifest_toml\" (TOML text)");
    } else if (m != NULL && !json_is_string(m)) {
        srv_reply_error(r, 400, "bad-request", "\"manifest\" must be a string (an absolute path)");
    } else if (m != NULL && json_string_value(m)[0] != '/') {
        srv_reply_error(r, 400, "bad-request",
                        "\"manifest\" must be an absolute path (the server does not share your "
                        "working directory): %s",
                        json_string_value(m));
    } else if (t != NULL && !json_is_string(t)) {
        srv_reply_error(r, 400, "bad-request", "\"manifest_toml\" must be a string");
    } else if (p != NULL && !json_is_string(p)) {
        srv_reply_error(r, 400, "bad-request", "\"parent\" must be a string (an actor id)");
    } else if (p != NULL && !srv_resolve_actor(r, json_string_value(p), false, r->id)) {
        /* 404 / 400 prepared */
    } else {
        r->args = a;
        srv_req_wait(r);
        srv_job_submit(r->srv, r, job_spawn);
        return;
    }
    json_decref(a);
}

/* ------------------------------------------------------------------ */
/* One actor                                                          */

static void h_info(srv_req *r, char **seg)
{
    th_server *s = r->srv;
    th_actor_info in;
    char **kids = NULL, *text = NULL, *path = NULL;
    size_t nk = 0, i;
    json_t *o, *children;
    uint64_t now = base_clock_wall_ms();

    if (!srv_resolve_actor(r, seg[2], false, r->id))
        return;
    if (th_runtime_actor_info(s->rt, r->id, &in, NULL) != 0) {
        srv_reply_error(r, 404, "actor-not-found", "no actor %s", r->id);
        return;
    }
    children = json_array();
    if (th_runtime_list_children(s->rt, r->id, &kids, &nk, NULL) == 0) {
        for (i = 0; i < nk; i++)
            json_array_append_new(children, json_string(kids[i]));
        th_runtime_strv_free(kids);
    }
    th_runtime_actor_manifest(s->rt, r->id, &text, &path, NULL);
    o = actor_summary(&in);
    json_object_set_new(o, "children", children);
    json_object_set_new(o, "save_chain", json_boolean(in.save_chain));
    json_object_set_new(
        o, "manifest",
        json_pack("{s:s, s:s, s:s?}", "name", in.name, "version", in.version, "path", path));
    json_object_set_new(
        o, "metrics",
        json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "messages_in",
                  (json_int_t)in.messages_in, "messages_out", (json_int_t)in.messages_out, "calls",
                  (json_int_t)in.calls, "fuel_used", (json_int_t)in.fuel_used, "memory_bytes",
                  (json_int_t)in.memory_bytes, "events", (json_int_t)in.events, "uptime_ms",
                  (json_int_t)(now > in.started_ms ? now - in.started_ms : 0), "restarts",
                  (json_int_t)in.restarts));
    free(text);
    free(path);
    srv_reply_json(r, 200, o);
}

static void h_manifest(srv_req *r, char **seg)
{
    char *text = NULL, *path = NULL;

    if (!srv_resolve_actor(r, seg[2], false, r->id))
        return;
    if (th_runtime_actor_manifest(r->srv->rt, r->id, &text, &path, NULL) != 0) {
        srv_reply_error(r, 404, "actor-not-found", "no actor %s", r->id);
        return;
    }
    srv_reply_json(
        r, 200,
        json_pack("{s:s, s:s?, s:s}", "id", r->id, "manifest_path", path, "manifest_toml", text));
    free(text);
    free(path);
}

static void h_state(srv_req *r, char **seg)
{
    bool has;
    uint8_t *st = NULL;
    size_t len = 0;

    if (!srv_resolve_actor(r, seg[2], false, r->id))
        return;
    if (th_runtime_get_state(r->srv->rt, r->id, &has, &st, &len, NULL) != 0) {
        srv_reply_error(r, 404, "actor-not-found", "no actor %s", r->id);
        return;
    }
    if (!has) {
        free(st);
        srv_reply(r, 204, NULL, NULL, 0);
        return;
    }
    srv_reply(r, 200, "application/octet-stream", (char *)st, len);
}

static void job_stop(srv_req *r)
{
    th_error err;
    int rc;

    th_error_clear(&err);
    rc = r->force ? th_runtime_stop(r->srv->rt, r->id, &err)
                  : th_runtime_stop_graceful(r->srv->rt, r->id, 10000, &err);
    if (rc == 0 || rc == TH_ENOENT) {
        /* gone while we waited counts as stopped */
        json_t *o = json_pack("{s:s, s:b}", "id", r->id, "stopped", 1);
        char *body = o ? json_dumps(o, JSON_COMPACT) : NULL;
        json_decref(o);
        if (body != NULL)
            srv_req_done(r, 200, "application/json", body, strlen(body));
        else
            srv_req_done_error(r, 503, "out-of-memory", "out of memory");
        return;
    }
    srv_req_done_error(r, 500, "internal", "stopping %s: %s", r->id, err.msg);
}

static void h_stop(srv_req *r, char **seg)
{
    uint64_t force = 0;

    if (!srv_arg_u64(r, "force", 1, &force) || !srv_resolve_actor(r, seg[2], false, r->id))
        return;
    r->force = force != 0;
    srv_req_wait(r);
    srv_job_submit(r->srv, r, job_stop);
}

static void h_restart(srv_req *r, char **seg)
{
    static const char *const none[] = {NULL};
    th_error err;
    json_t *body;
    int rc;

    if ((body = srv_body_object(r, none)) == NULL) /* no fields: {} or empty */
        return;
    json_decref(body);
    if (!srv_resolve_actor(r, seg[2], false, r->id))
        return;
    rc = th_runtime_restart(r->srv->rt, r->id, &err);
    if (rc == 0)
        srv_reply_json(r, 202, json_pack("{s:s, s:b}", "id", r->id, "restarting", 1));
    else if (rc == TH_ENOENT)
        srv_reply_error(r, 404, "actor-not-found", "no actor %s", r->id);
    else if (rc == TH_ECLOSED)
        srv_reply_error(r, 503, "shutting-down", "%s", err.msg);
    else
        srv_reply_error(r, 409, "conflict", "%s", err.msg);
}

/* The upgrade waits for the actor's turn (between two operations): a job. */
static void job_component(srv_req *r)
{
    const char *path = json_string_value(json_object_get(r->args, "component"));
    const char *version = json_string_value(json_object_get(r->args, "version"));
    char from[65] = "", to[65] = "", *bt = NULL;
    uint8_t *bytes = NULL;
    size_t len = 0;
    th_error err;
    json_t *o;
    char *body;
    int rc;

    th_error_clear(&err);
    rc = base_file_read(path, "component", TH_WASM_MAX_MODULE_BYTES, &bytes, &len, &err);
    if (rc != 0 && rc != TH_ENOMEM) { /* missing, unreadable, a directory, too large */
        srv_req_done_error(r, 400, "bad-request", "%s", err.msg);
        return;
    }
    if (rc == 0)
        rc = th_runtime_update_bt(r->srv->rt, r->id, bytes, len, version, from, to, &bt, &err);
    free(bytes);
    if (rc == 0) {
        o = json_pack("{s:s, s:s, s:s, s:b}", "id", r->id, "from", from, "component", to, "updated",
                      1);
        body = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
        json_decref(o);
        if (body != NULL)
            srv_req_done(r, 200, "application/json", body, strlen(body));
        else
            srv_req_done_error(r, 503, "out-of-memory", "out of memory");
    } else if (rc == TH_ENOENT && strstr(err.msg, "no actor") == err.msg) {
        srv_req_done_error(r, 404, "actor-not-found", "%s", err.msg);
    } else if (rc == TH_ENOENT || rc == TH_EIO || rc == TH_EPERM || rc == TH_ETOOBIG) {
        srv_req_done_error(r, 400, "bad-request", "%s", err.msg);
    } else if (rc == TH_ESTATE || rc == TH_EBUSY || rc == TH_ETIMEDOUT) {
        srv_req_done_error(r, 409, "conflict", "%s", err.msg);
    } else if (rc == TH_ENOMEM) {
        srv_req_done_error(r, 503, "out-of-memory", "%s", err.msg);
    } else if (bt != NULL) {
        /* its start function or migrate trapped: nothing was recorded and
         * no actor failed, so the request's log line has the frames */
        srv_req_done_trap(r, 400, "update-component-error", bt, "%s", err.msg);
    } else { /* the code does not fit, or its migrate refused: old code runs */
        srv_req_done_error(r, 400, "update-component-error", "%s", err.msg);
    }
    free(bt);
}

static void h_component(srv_req *r, char **seg)
{
    static const char *const allowed[] = {"component", "version", NULL};
    json_t *a = srv_body_object(r, allowed), *c, *v;

    if (a == NULL)
        return;
    c = json_object_get(a, "component");
    v = json_object_get(a, "version");
    if (c == NULL || !json_is_string(c) || (v != NULL && !json_is_string(v))) {
        srv_reply_error(r, 400, "bad-request",
                        "\"component\" (a path to a .wasm file) is required; \"version\" is a "
                        "string");
        json_decref(a);
        return;
    }
    if (json_string_value(c)[0] != '/') {
        srv_reply_error(r, 400, "bad-request",
                        "\"component\" must be an absolute path (the server does not share your "
                        "working directory): %.200s",
                        json_string_value(c));
        json_decref(a);
        return;
    }
    if (!srv_resolve_actor(r, seg[2], false, r->id)) {
        json_decref(a);
        return;
    }
    r->args = a; /* freed with the request */
    srv_req_wait(r);
    srv_job_submit(r->srv, r, job_component);
}

/* The message is queued (for a durable actor: stored first); a runtime
 * thread, or this one. */
static void on_queued(void *ud, int status, const uint8_t *data, size_t len, const char *msg,
                      const char *backtrace)
{
    srv_req *r = ud;
    size_t cap = strlen(r->id) + 32;
    char *body;

    (void)data, (void)len, (void)backtrace; /* (no actor ran: no backtrace) */
    if (status != 0) {
        srv_req_done_undelivered(r, status, msg && msg[0] ? msg : "the message was not queued");
    } else if ((body = malloc(cap)) == NULL) {
        srv_req_done_error(r, 503, "out-of-memory", "out of memory");
    } else {
        /* as srv_reply_json writes it (ids are UUIDs: nothing to escape) */
        snprintf(body, cap, "{\"id\":\"%s\",\"queued\":true}\n", r->id);
        srv_req_done(r, 202, "application/json", body, strlen(body));
    }
    srv_req_release(r);
}

/* Give the request's body to actor r->id as a one-way message or (with
 * `wait_ms`, how long the client waits for the answer) a request, the
 * answer to come through `done`.  True when started (the callback holds a
 * reference); false when refused, with the request answered (404 or 503). */
static bool start_async(srv_req *r, bool request, uint32_t wait_ms, th_runtime_reply_fn done)
{
    const uint8_t *body = (const uint8_t *)r->body.data;
    th_error err;
    int rc;

    srv_req_wait(r);
    srv_req_ref(r); /* the runtime's callback */
    rc = request ? th_runtime_request_async(r->srv->rt, r->id, body, r->body.len, wait_ms, done, r,
                                            &err)
                 : th_runtime_send_async(r->srv->rt, r->id, body, r->body.len, done, r, &err);
    if (rc == 0)
        return true;
    srv_req_release(r);
    if (rc == TH_ENOENT)
        srv_req_done_error(r, 404, "actor-not-found", "no actor %s", r->id);
    else if (rc == TH_ESTATE) /* a message to an actor that is stopping */
        srv_req_done_error(r, 409, "conflict", "%s", err.msg);
    else
        srv_req_done_undelivered(r, rc, err.msg);
    return false;
}

/* A failed root actor (r->id) has no supervisor to restart it: a request
 * or a channel would wait for its timeout, and a one-way message for a
 * restart that may never come (nor would it outlive the daemon: a failed
 * root actor is not brought back).  True with the error
 * prepared: for a message (`message`) 409 conflict, as for an actor that
 * is stopping; else 502 request-failed.  An actor whose restart is on its
 * way (listed as starting) takes them. */
static bool root_failed(srv_req *r, bool message)
{
    th_actor_info info;

    if (th_runtime_actor_info(r->srv->rt, r->id, &info, NULL) != 0 ||
        info.status != TH_ACTOR_FAILED || info.parent[0] != 0)
        return false;
    srv_reply_error(r, message ? 409 : 502, message ? "conflict" : "request-failed",
                    "actor %s (%s) has failed and has no supervisor to restart it%s; restart it "
                    "with POST /v1/actors/%s/restart (theater restart %.8s)%s",
                    info.name, r->id, message ? ": the message would not be handled" : "", r->id,
                    r->id, message ? ", then send it again" : "");
    return true;
}

static void h_message(srv_req *r, char **seg)
{
    bool waiting;

    if (!srv_resolve_actor(r, seg[2], false, r->id) || root_failed(r, true) ||
        !start_async(r, false, 0, on_queued))
        return;
    /* not answered yet (a durable actor's message is being stored, or waits
     * for room in a full mailbox): at most the request timeout */
    pthread_mutex_lock(&r->lock);
    waiting = r->state == REQ_WAITING;
    pthread_mutex_unlock(&r->lock);
    if (waiting)
        srv_timeout_add(r->srv, r, TH_SERVER_REQUEST_TIMEOUT_MS);
}

/* The actor's answer to POST .../requests (a runtime thread). */
static void on_reply(void *ud, int status, const uint8_t *data, size_t len, const char *msg,
                     const char *backtrace)
{
    srv_req *r = ud;

    if (status == 0) {
        char *body = malloc(len ? len : 1);
        if (body != NULL) {
            if (len)
                memcpy(body, data, len);
            srv_req_done(r, 200, "application/octet-stream", body, len);
        } else {
            srv_req_done_error(r, 503, "out-of-memory", "out of memory");
        }
    } else if (status == TH_EBUSY) { /* it takes no more deferred requests */
        srv_req_done_undelivered(r, status, msg && msg[0] ? msg : "the actor is busy");
    } else {
        srv_req_done_failure(r, 502, "request-failed", backtrace, "actor %s did not answer: %s",
                             r->id, msg && msg[0] ? msg : "no reason given");
    }
    srv_req_release(r);
}

/* The ?timeout_ms of a request to the actor named in seg[2] (0 or absent:
 * the default) and the actor's id into r->id; false when answered
 * already (a bad argument, no such actor, a failed root actor). */
static bool actor_and_timeout(srv_req *r, char **seg, uint64_t *timeout)
{
    *timeout = TH_SERVER_REQUEST_TIMEOUT_MS;
    if (!srv_arg_u64(r, "timeout_ms", TH_SERVER_MAX_REQUEST_TIMEOUT_MS, timeout) ||
        !srv_resolve_actor(r, seg[2], false, r->id))
        return false;
    if (*timeout == 0)
        *timeout = TH_SERVER_REQUEST_TIMEOUT_MS;
    return !root_failed(r, false);
}

static void h_request(srv_req *r, char **seg)
{
    uint64_t timeout;

    if (actor_and_timeout(r, seg, &timeout) && start_async(r, true, (uint32_t)timeout, on_reply))
        srv_timeout_add(r->srv, r, (uint32_t)timeout);
}

/* ------------------------------------------------------------------ */
/* Events                                                             */

json_t *srv_event_json(const char *actor, uint64_t seq, const char *type, uint64_t ts,
                       const uint8_t *hash, const uint8_t *parent, const uint8_t *data, size_t len,
                       const char *description)
{
    char h[65], p[65], *hex;
    json_t *o, *d;

    o = json_pack("{s:s, s:I, s:s, s:I}", "actor", actor, "seq", (json_int_t)seq, "event_type",
                  type, "timestamp", (json_int_t)ts);
    if (o == NULL)
        return NULL;
    if (hash != NULL)
        json_object_set_new(o, "hash", json_string(base_hex_encode(hash, 32, h)));
    if (hash != NULL || parent != NULL)
        json_object_set_new(o, "parent_hash",
                            parent ? json_string(base_hex_encode(parent, 32, p)) : json_null());
    /* the data as recorded: JSON text embedded as a value, else hex */
    d = len ? json_loadb((const char *)data, len, JSON_DECODE_ANY, NULL) : NULL;
    if (d != NULL) {
        json_object_set_new(o, "data", d);
    } else if ((hex = malloc(2 * len + 1)) != NULL) {
        json_object_set_new(o, "data_hex", json_string(base_hex_encode(data, len, hex)));
        free(hex);
    } else {
        json_decref(o);
        return NULL;
    }
    if (description != NULL &&
        json_object_set_new(o, "description", json_string(description)) != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* The weight (q, 0 to 1000) an Accept header gives the media range
 * `type`, named as such (case-insensitive, RFC 9110 12.5.1: "type/subtype"
 * or a whole type, "application/" followed by a star); -1 when it does not name it. */
static int accept_q(const char *acc, const char *type)
{
    const char *p = acc, *start;
    size_t tl = strlen(type), ml;
    int best = -1, q;
    bool match;

    while (*p != 0) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (*p == 0)
            break;
        for (start = p; *p != 0 && *p != ',' && *p != ';' && *p != ' ' && *p != '\t'; p++)
            ;
        ml = (size_t)(p - start);
        match = ml == tl && strncasecmp(start, type, tl) == 0;
        q = 1000;
        while (*p != 0 && *p != ',') { /* parameters: ";q=0.5" */
            if (*p++ != ';')
                continue;
            while (*p == ' ' || *p == '\t')
                p++;
            if ((p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
                int i, scale = 100;
                p += 2;
                q = *p == '1' ? 1000 : 0;
                if (*p == '0' || *p == '1')
                    p++;
                if (*p == '.')
                    for (p++, i = 0; i < 3 && *p >= '0' && *p <= '9'; i++, p++, scale /= 10)
                        q += (*p - '0') * scale;
                if (q > 1000)
                    q = 1000;
            }
        }
        if (match && q > best)
            best = q;
    }
    return best;
}

/* Whether the client asked for a stream: ?follow=1, or an Accept header
 * that names text/event-stream with a weight above 0 and at least that of
 * JSON (application/json, or the whole application type; a wildcard for every type, as
 * curl sends by default, says nothing); *stream is false when ?follow=0; false with a 400 prepared
 * when ?follow is malformed. */
static bool stream_wanted(srv_req *r, bool *stream)
{
    const char *acc = srv_header(r, MHD_HTTP_HEADER_ACCEPT);
    uint64_t follow = 2;
    int sse, json, app;

    if (!srv_arg_u64(r, "follow", 1, &follow))
        return false;
    *stream = follow == 1;
    if (follow == 2 && acc != NULL) {
        sse = accept_q(acc, "text/event-stream");
        json = accept_q(acc, "application/json");
        app = accept_q(acc, "application/*");
        if (app > json)
            json = app;
        *stream = sse > 0 && sse >= json;
    }
    return true;
}

/* ?type=T names an event type the runtime records (a typo would find
 * nothing, silently).  False with a 400 prepared. */
static bool type_ok(srv_req *r, const char *type)
{
    char known[512];

    if (type == NULL || th_event_type_known(type))
        return true;
    th_event_types_join(known, sizeof known);
    srv_reply_error(r, 400, "bad-request", "?type=%.80s is not an event type (known: %s)", type,
                    known);
    return false;
}

/* Whether `id` is a live actor whose chain is kept in memory only
 * (`save_chain = false`): its events are read from the runtime. */
bool srv_chain_in_memory(th_server *s, const char *id)
{
    th_actor_info in;

    return th_runtime_actor_info(s->rt, id, &in, NULL) == 0 && !in.save_chain;
}

/* Read an actor's events, from its chain in the home or (`memory`) from
 * the runtime's memory. */
int srv_read_events(th_server *s, bool memory, const th_chain_query *q, th_chain_events *out,
                    th_error *err)
{
    if (memory)
        return th_runtime_memory_events(s->rt, q->actor, q, out, err);
    return th_chain_read(th_runtime_chain(s->rt), q, out, err);
}

static void h_events(srv_req *r, char **seg)
{
    th_server *s = r->srv;
    uint64_t after = UINT64_MAX, limit = 0, newest = 0, from;
    bool stream, memory;
    const char *type = srv_arg(r, "type"), *last = srv_header(r, "Last-Event-ID");
    th_chain_query q;
    th_chain_events evs;
    th_error err;
    json_t *arr;
    size_t i;
    int rc;

    if (!srv_arg_u64(r, "after", UINT64_MAX - 1, &after) ||
        !srv_arg_u64(r, "limit", TH_SERVER_MAX_LIST_LIMIT, &limit) ||
        !srv_arg_u64(r, "newest", 1, &newest) || !stream_wanted(r, &stream) ||
        !srv_resolve_actor(r, seg[2], true, r->id))
        return;
    if (last != NULL) {
        char *end;
        unsigned long long v = strtoull(last, &end, 10);
        if (*last < '0' || *last > '9' || *end != 0) {
            srv_reply_error(r, 400, "bad-request", "Last-Event-ID must be a sequence number: %.40s",
                            last);
            return;
        }
        after = v;
    }
    from = after == UINT64_MAX ? 0 : after + 1;
    if (!type_ok(r, type))
        return;
    if (stream && strcmp(r->method, "HEAD") == 0) {
        srv_reply(r, 200, "text/event-stream", NULL, 0);
        return;
    }
    /* a stream resumes right after Last-Event-ID or ?after= (in that
     * order), whatever ?limit says: a client reconnecting to the URL it
     * opened with ?limit=N must miss nothing */
    if (stream && (limit == 0 || after != UINT64_MAX)) {
        srv_stream_events(r, r->id, type, from, true);
        return;
    }
    memory = srv_chain_in_memory(s, r->id);
    if (!memory)
        th_runtime_flush(s->rt, r->id, NULL); /* recent events are in the database */
    memset(&q, 0, sizeof q);
    q.actor = r->id;
    q.from_seq = from;
    q.type = type;
    q.limit = limit ? (size_t)limit : TH_SERVER_MAX_LIST_LIMIT;
    /* a stream has no gap: ?limit=N starts it at the newest N stored
     * events, then the rest of the chain and live ones */
    q.newest = stream || newest != 0;
    th_error_clear(&err);
    rc = srv_read_events(s, memory, &q, &evs, &err);
    if (stream) {
        if (rc == 0 && evs.count > 0)
            from = evs.items[0].seq;
        if (rc == 0)
            th_chain_events_free(&evs);
        srv_stream_events(r, r->id, type, from, true);
        return;
    }
    if (rc == TH_ENOENT) {
        srv_reply_json(r, 200, json_pack("{s:s, s:[]}", "actor", r->id, "events"));
        return;
    }
    if (rc != 0) {
        srv_reply_error(r, 500, "internal", "reading the chain of %s: %s", r->id, err.msg);
        return;
    }
    arr = json_array();
    for (i = 0; arr != NULL && i < evs.count; i++) {
        th_chain_event *e = &evs.items[i];
        json_array_append_new(arr, srv_event_json(e->actor, e->seq, e->type, e->timestamp_ms,
                                                  e->hash, e->has_parent ? e->parent : NULL,
                                                  e->data, e->data_len, e->description));
    }
    th_chain_events_free(&evs);
    srv_reply_json(r, 200, json_pack("{s:s, s:o}", "actor", r->id, "events", arr));
}

static void h_all_events(srv_req *r, char **seg)
{
    (void)seg;
    if (type_ok(r, srv_arg(r, "type")))
        srv_stream_events(r, NULL, srv_arg(r, "type"), 0, false);
}

/* ------------------------------------------------------------------ */
/* Channels, stores, shutdown                                         */

static void h_chan_open(srv_req *r, char **seg)
{
    uint64_t timeout;

    if (actor_and_timeout(r, seg, &timeout))
        srv_chan_open(r, r->id, (const uint8_t *)r->body.data, r->body.len, timeout);
}

static void h_chan_send(srv_req *r, char **seg)
{
    srv_chan_send(r, seg[2]);
}

static void h_chan_stream(srv_req *r, char **seg)
{
    srv_chan_stream(r, seg[2]);
}

static void h_chan_close(srv_req *r, char **seg)
{
    srv_chan_close(r, seg[2]);
}

static void h_store_new(srv_req *r, char **seg)
{
    static const char *const none[] = {NULL};
    char id[TH_STORE_ID_LEN + 1];
    th_error err;
    json_t *a = srv_body_object(r, none);

    (void)seg;
    if (a == NULL)
        return;
    json_decref(a);
    if (th_store_new(th_runtime_store(r->srv->rt), id, &err) != 0) {
        srv_reply_error(r, 500, "internal", "%s", err.msg);
        return;
    }
    srv_reply_json(r, 201, json_pack("{s:s}", "id", id));
}

static void h_shutdown(srv_req *r, char **seg)
{
    static const char *const none[] = {NULL};
    json_t *a = srv_body_object(r, none); /* empty or {}, as every body is checked */

    (void)seg;
    if (a == NULL)
        return;
    json_decref(a);
    srv_log(r->srv, TH_LOG_INFO, "shutdown requested through the API");
    srv_reply_json(r, 202, json_pack("{s:b}", "shutting_down", 1));
    srv_request_stop(r->srv);
}

/* ------------------------------------------------------------------ */
/* Routing                                                            */

typedef struct route {
    const char *pattern; /* segments; "*" matches one */
    const char *method;
    void (*fn)(srv_req *r, char **seg);
    const char *args; /* the query arguments it takes, space-separated */
} route;

static const route routes[] = {
    {"v1/health", "GET", h_health, ""},
    {"v1/actors", "GET", h_list, ""},
    {"v1/actors", "POST", h_start, ""},
    {"v1/actors/*", "GET", h_info, ""},
    {"v1/actors/*", "DELETE", h_stop, "force"},
    {"v1/actors/*/manifest", "GET", h_manifest, ""},
    {"v1/actors/*/state", "GET", h_state, ""},
    {"v1/actors/*/restart", "POST", h_restart, ""},
    {"v1/actors/*/component", "PUT", h_component, ""},
    {"v1/actors/*/messages", "POST", h_message, ""},
    {"v1/actors/*/requests", "POST", h_request, "timeout_ms"},
    {"v1/actors/*/events", "GET", h_events, "after limit newest type follow"},
    {"v1/actors/*/channels", "POST", h_chan_open, "timeout_ms"},
    {"v1/events", "GET", h_all_events, "type follow"},
    {"v1/channels/*/messages", "POST", h_chan_send, ""},
    {"v1/channels/*/messages", "GET", h_chan_stream, "follow"},
    {"v1/channels/*", "DELETE", h_chan_close, ""},
    {"v1/stores", "POST", h_store_new, ""},
    {"v1/shutdown", "POST", h_shutdown, ""},
};

/* The first query argument a route does not take (a typo such as
 * ?forse=1 must not be ignored). */
typedef struct arg_check {
    const char *allowed;
    char unknown[64];
    char bare[64]; /* an argument that needs a value and has none (?limit) */
} arg_check;

/* The query arguments that are flags: written bare (?force) they are true. */
static bool is_flag(const char *key)
{
    return strcmp(key, "force") == 0 || strcmp(key, "follow") == 0 || strcmp(key, "newest") == 0;
}

static enum MHD_Result check_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *value)
{
    arg_check *c = cls;
    size_t kl = key ? strlen(key) : 0;
    const char *p;

    (void)kind;
    if (kl == 0) /* "?" or a trailing "&" */
        return MHD_YES;
    for (p = c->allowed; (p = strstr(p, key)) != NULL; p += kl) {
        if ((p == c->allowed || p[-1] == ' ') && (p[kl] == ' ' || p[kl] == 0)) {
            if (value != NULL || is_flag(key))
                return MHD_YES;
            snprintf(c->bare, sizeof c->bare, "%s", key);
            return MHD_NO;
        }
    }
    snprintf(c->unknown, sizeof c->unknown, "%s", key);
    return MHD_NO;
}

/* HEAD is GET without the body (libmicrohttpd leaves it out), on every GET
 * that is not a stream (an actor's events: the JSON form; HEAD of its
 * stream form gets the stream's headers, and no stream is made). */
static bool head_ok(const route *rt)
{
    return strcmp(rt->method, "GET") == 0 && rt->fn != h_all_events && rt->fn != h_chan_stream;
}

static bool pattern_match(const char *pattern, char **seg, size_t nseg)
{
    char pat[64], *save = NULL, *tok;
    size_t i = 0;

    snprintf(pat, sizeof pat, "%s", pattern);
    for (tok = strtok_r(pat, "/", &save); tok != NULL; tok = strtok_r(NULL, "/", &save), i++) {
        if (i >= nseg)
            return false;
        if (strcmp(tok, "*") != 0 && strcmp(tok, seg[i]) != 0)
            return false;
    }
    return i == nseg;
}

void srv_route(srv_req *r)
{
    char path[1024], *seg[MAX_SEGS], *save = NULL, *tok;
    size_t nseg = 0, i;
    bool path_ok = false;
    srv_buf methods = {0};

    const char *target = r->path;

    /* the absolute form of a request target (RFC 9112 3.2.2,
     * "http://theater/v1/health"): the path after the authority */
    if (strncasecmp(target, "http://", 7) == 0 || strncasecmp(target, "https://", 8) == 0) {
        target = strchr(strstr(target, "://") + 3, '/');
        if (target == NULL)
            target = "/";
    }
    if (strlen(target) >= sizeof path || strstr(target, "//") != NULL) {
        srv_reply_error(r, 404, "not-found", "no such endpoint");
        return;
    }
    snprintf(path, sizeof path, "%s", target);
    for (tok = strtok_r(path, "/", &save); tok != NULL; tok = strtok_r(NULL, "/", &save)) {
        if (nseg == MAX_SEGS) {
            srv_reply_error(r, 404, "not-found", "no endpoint %.200s (see docs/api.md)", r->path);
            return;
        }
        seg[nseg++] = tok;
    }
    for (i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        if (!pattern_match(routes[i].pattern, seg, nseg))
            continue;
        if (strcmp(routes[i].method, r->method) == 0 ||
            (strcmp(r->method, "HEAD") == 0 && head_ok(&routes[i]))) {
            arg_check c = {.allowed = routes[i].args};
            srv_buf_release(&methods);
            MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, check_arg, &c);
            if (c.bare[0] != 0)
                srv_reply_error(r, 400, "bad-request", "?%.60s needs a value (?%.60s=...)", c.bare,
                                c.bare);
            else if (c.unknown[0] != 0)
                srv_reply_error(r, 400, "bad-request",
                                "?%.60s is not an argument of %s %.200s (%s%s)", c.unknown,
                                r->method, r->path,
                                routes[i].args[0] ? "it takes: " : "it takes none", routes[i].args);
            else
                routes[i].fn(r, seg);
            return;
        }
        path_ok = true;
        srv_buf_addf(&methods, "%s%s", methods.len ? ", " : "", routes[i].method);
        if (head_ok(&routes[i]))
            srv_buf_addf(&methods, ", HEAD");
    }
    if (path_ok) {
        snprintf(r->allow, sizeof r->allow, "%s", methods.data ? methods.data : "");
        srv_reply_error(r, 405, "method-not-allowed", "%s is not allowed on %.200s (allowed: %s)",
                        r->method, r->path, r->allow);
    } else {
        srv_reply_error(r, 404, "not-found", "no endpoint %.200s (see docs/api.md)", r->path);
    }
    srv_buf_release(&methods);
}
