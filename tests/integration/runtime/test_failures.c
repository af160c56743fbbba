/*
 * test_failures.c - a failure names the actor that failed and carries the
 * wasm backtrace: a trap in a child's handle-request, asked by its parent,
 * is recorded as the child's failure (its id, name, export and frames, by
 * the names of the module's name section), and the parent's request gets
 * an error that names the child, while the parent itself goes on.  A
 * request from outside that the actor traps on is answered with the
 * trap's backtrace too (th_runtime_reply_fn's `backtrace`,
 * th_runtime_request_bt), and so is a spawn whose init or start function
 * traps (th_spawn_opts.backtrace); a restart whose start function traps
 * records the frames in its actor-failed event, and a replay whose code
 * traps there gives them too (th_runtime_replay_opts.backtrace).  A
 * child that supervisor.spawn starts and whose init or start function
 * traps: the parent's err has the frames after its message.  A root
 * actor's end after a trap has them too (th_actor_exit.backtrace).
 *
 * The actors are probe.c (C guest SDK): "spawn", "request ID trap".
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "theater/chain.h"
#include "theater/handlers.h"
#include "theater/wasm.h"
#include "runtime/rt_int.h"
#include "rt_test_util.h"

/* A probe manifest named `name` granting every handler the probe imports
 * (it links only when all are granted), with the TOML lines `extra` (may
 * be NULL); returns a malloc'd path. */
static char *probe_manifest_x(rtt *t, const char *name, const char *extra)
{
    const char *man =
        rtt_manifest(t, name, rtt_module("probe"),
                     "runtime message-server supervisor store timing random environment", extra);
    FILE *f = fopen(man, "a");

    assert_non_null(f);
    /* the whole filesystem: a spawn by an actor reads the child's manifest
     * (in the home) and component (in the build tree) through its grant */
    fprintf(f, "\n[[handler]]\ntype = \"filesystem\"\npath = \"/\"\n");
    fclose(f);
    return strdup(man);
}

static char *probe_manifest(rtt *t, const char *name)
{
    return probe_manifest_x(t, name, NULL);
}

/* Spawn a probe as a root actor. */
static void spawn(rtt *t, const char *man, char id[TH_ACTOR_ID_SIZE])
{
    th_spawn_opts o = {0};
    th_error err;
    int rc;

    o.manifest_path = man;
    rc = th_runtime_spawn(t->rt, &o, id, &err);
    if (rc != 0)
        print_message("spawn: %s\n", err.msg);
    assert_int_equal(rc, 0);
}

/* The data of `actor`'s events of `type`, joined by newlines (malloc'd);
 * "" if none. */
static char *events_of(rtt *t, const char *actor, const char *type)
{
    th_chain_config cfg = {0};
    th_chain_query q = {0};
    th_chain_events evs = {0};
    th_chain *c;
    th_error err;
    size_t i, n = 1;
    char *out;

    assert_int_equal(th_runtime_flush(t->rt, actor, &err), 0);
    cfg.home = t->home;
    cfg.read_only = 1;
    assert_int_equal(th_chain_open(&cfg, &c, &err), 0);
    q.actor = actor;
    q.type = type;
    assert_int_equal(th_chain_read(c, &q, &evs, &err), 0);
    for (i = 0; i < evs.count; i++)
        n += evs.items[i].data_len + 1;
    out = calloc(1, n);
    assert_non_null(out);
    for (i = 0; i < evs.count; i++) {
        strncat(out, (const char *)evs.items[i].data, evs.items[i].data_len);
        strcat(out, "\n");
    }
    th_chain_events_free(&evs);
    th_chain_close(c);
    return out;
}

static void expect_in(const char *s, const char *want)
{
    if (strstr(s, want) == NULL)
        fail_msg("'%s' not in '%s'", want, s);
}

static void test_child_trap_in_request(void **unused)
{
    rtt t;
    th_error err;
    char parent[TH_ACTOR_ID_SIZE], want[256], *child, *s;
    char *pman, *cman;
    th_actor_status st;

    (void)unused;
    rtt_start(&t, 2);
    cman = probe_manifest(&t, "kid");
    pman = probe_manifest(&t, "boss");
    spawn(&t, pman, parent);
    {
        char c[600];
        snprintf(c, sizeof c, "spawn %s", cman);
        s = rtt_ask(&t, parent, 10000, "%s", c);
    }
    assert_true(strncmp(s, "ok ", 3) == 0);
    child = strdup(s + 3);
    free(s);

    /* the parent asks the child to trap in its handle-request */
    {
        char c[128];
        snprintf(c, sizeof c, "request %s trap", child);
        s = rtt_ask(&t, parent, 10000, "%s", c);
    }
    /* the parent's request failed with an error naming the child */
    snprintf(want, sizeof want, "err actor kid (%s) failed: trap in handle-request", child);
    expect_in(s, want);
    /* and where, a line a frame, as a spawn's err has them */
    expect_in(s, "unreachable\n    at #0 probe_trap_here\n    at #1 probe_trap_caller");
    free(s);

    /* the child's chain: its failure, by id, name, export, with frames */
    s = events_of(&t, child, "actor-failed");
    expect_in(s, "\"error_type\":\"internal\"");
    snprintf(want, sizeof want, "\"actor\":\"%s\",\"name\":\"kid\",\"function\":\"handle-request\"",
             child);
    expect_in(s, want);
    expect_in(s, "\"backtrace\":[\"#0 probe_trap_here\",\"#1 probe_trap_caller\"");
    expect_in(s, "handle-request");
    free(s);

    /* the parent did not fail: no actor-failed on its chain, and it runs */
    s = events_of(&t, parent, "actor-failed");
    assert_string_equal(s, "");
    free(s);
    assert_int_equal(th_runtime_actor_status(t.rt, parent, &st, &err), 0);
    assert_int_equal(st, TH_ACTOR_RUNNING);
    free(child);
    free(cman);
    free(pman);
    rtt_stop(&t);
}

static void test_err_result_names_actor(void **unused)
{
    rtt t;
    th_error err;
    char id[TH_ACTOR_ID_SIZE], want[256], *s, *man;
    uint8_t *resp = NULL;
    size_t len;

    (void)unused;
    rtt_start(&t, 2);
    man = probe_manifest(&t, "lonely");
    spawn(&t, man, id);
    free(man);
    /* a request from outside: the error names the actor that failed */
    assert_int_equal(
        th_runtime_request(t.rt, id, (const uint8_t *)"trap", 4, 10000, &resp, &len, &err),
        TH_ETRAP);
    snprintf(want, sizeof want, "actor lonely (%s) failed: trap in handle-request: unreachable",
             id);
    expect_in(err.msg, want);
    free(resp);
    s = events_of(&t, id, "actor-failed");
    expect_in(s, "\"backtrace\":[\"#0 probe_trap_here\"");
    free(s);
    rtt_stop(&t);
}

/* th_runtime_request_bt: a request the actor traps on gets the error of
 * th_runtime_request and the frames of the trap; an answered one, none. */
static void test_request_backtrace(void **unused)
{
    rtt t;
    th_error err;
    char id[TH_ACTOR_ID_SIZE], *man, *bt = (char *)"unset";
    uint8_t *resp = NULL;
    size_t len;

    (void)unused;
    rtt_start(&t, 2);
    man = probe_manifest(&t, "asked");
    spawn(&t, man, id);
    free(man);
    assert_int_equal(
        th_runtime_request_bt(t.rt, id, (const uint8_t *)"log x", 5, 10000, &resp, &len, &bt, &err),
        0);
    assert_null(bt);
    free(resp);
    assert_int_equal(
        th_runtime_request_bt(t.rt, id, (const uint8_t *)"trap", 4, 10000, &resp, &len, &bt, &err),
        TH_ETRAP);
    expect_in(err.msg, "failed: trap in handle-request: unreachable");
    assert_non_null(bt);
    expect_in(bt, "#0 probe_trap_here\n#1 probe_trap_caller\n#2 probe_request\n");
    assert_int_equal(strncmp(bt, "#0 ", 3), 0);
    free(bt);
    free(resp);
    /* (an error that is no trap has no backtrace) */
    bt = (char *)"unset";
    assert_int_equal(th_runtime_request_bt(t.rt, "no-such-actor", (const uint8_t *)"x", 1, 1000,
                                           &resp, &len, &bt, &err),
                     TH_ENOENT);
    assert_null(bt);
    rtt_stop(&t);
}

/* A spawn whose init traps: th_spawn_opts.backtrace gets the frames the
 * actor-failed event records. */
static void test_init_trap_backtrace(void **unused)
{
    th_spawn_opts o = {0};
    rtt t;
    th_error err;
    char id[TH_ACTOR_ID_SIZE], *man, *bt = (char *)"unset";

    (void)unused;
    rtt_start(&t, 2);
    man = probe_manifest(&t, "doomed");
    o.manifest_path = man;
    o.initial_state = (const uint8_t *)"\"trap\"";
    o.initial_state_len = 6;
    o.backtrace = &bt;
    assert_int_equal(th_runtime_spawn(t.rt, &o, id, &err), TH_ETRAP);
    expect_in(err.msg, "init of ");
    expect_in(err.msg, "trap in init: unreachable");
    assert_non_null(bt);
    expect_in(bt, "#0 probe_trap_here\n#1 probe_trap_caller\n#2 probe_init\n");
    assert_int_equal(strncmp(bt, "#0 ", 3), 0);
    free(bt);
    /* a spawn that succeeds leaves it NULL */
    bt = (char *)"unset";
    o.initial_state = NULL;
    o.initial_state_len = 0;
    assert_int_equal(th_runtime_spawn(t.rt, &o, id, &err), 0);
    assert_null(bt);
    free(man);
    rtt_stop(&t);
}

/* A module whose start function traps (starttrap.wat): the spawn fails
 * with the trap, "start function" in its message, and the frames in
 * th_spawn_opts.backtrace. */
static void test_start_trap_backtrace(void **unused)
{
    th_spawn_opts o = {0};
    rtt t;
    th_error err;
    char id[TH_ACTOR_ID_SIZE], *bt = NULL;

    (void)unused;
    rtt_start(&t, 2);
    o.manifest_path = rtt_manifest(&t, "starter", rtt_module("starttrap"), "", NULL);
    o.backtrace = &bt;
    assert_int_equal(th_runtime_spawn(t.rt, &o, id, &err), TH_ETRAP);
    expect_in(err.msg, "instantiating starter: start function: unreachable");
    assert_non_null(bt);
    assert_string_equal(bt, "#0 check\n#1 begin\n");
    free(bt);
    rtt_stop(&t);
}

/* A restart whose new instance traps in its start function fails the
 * actor with the frames in its actor-failed event.  No public call gives
 * a running actor such a module (an upgrade refuses it), so the test sets
 * the code the idle actor runs (rt_actor.module, as an upgrade does). */
static void test_restart_start_trap_backtrace(void **unused)
{
    rtt t;
    th_error err;
    th_actor_exit ex;
    th_wasm_module *m;
    rt_actor *a;
    char id[TH_ACTOR_ID_SIZE], *s;
    uint8_t *bytes;
    size_t len;

    (void)unused;
    rtt_start(&t, 2);
    spawn(&t, rtt_manifest(&t, "plain", rtt_module("plain"), "", NULL), id);
    bytes = rtt_read_file(rtt_module("starttrap"), &len);
    assert_true(len > 0);
    assert_int_equal(th_wasm_module_new(bytes, len, &m, &err), 0);
    free(bytes);
    a = rt_registry_get(&t.rt->reg, id, strlen(id));
    assert_non_null(a);
    a->module = m; /* (idle: the restart below is posted after this) */
    rt_actor_release(a);
    assert_int_equal(th_runtime_restart(t.rt, id, &err), 0);
    assert_int_equal(th_runtime_wait(t.rt, id, 20000, &ex, &err), 0);
    assert_int_equal(ex.reason, TH_EXIT_FAILED);
    expect_in(ex.message, "restart failed: instantiating plain: start function: unreachable");
    assert_non_null(ex.backtrace); /* (the actor's end, as its event) */
    assert_string_equal(ex.backtrace, "#0 check\n#1 begin\n");
    free(ex.data);
    free(ex.backtrace);
    s = events_of(&t, id, "actor-failed");
    expect_in(s, "\"backtrace\":[\"#0 check\",\"#1 begin\"]");
    free(s);
    rtt_stop(&t);
    th_wasm_module_free(m);
}

/* A replay whose code traps in its module's start function (the record of
 * "plain" replayed with starttrap.wat as --component would): the replay
 * fails with the trap, and th_runtime_replay_opts.backtrace has the
 * frames; a replay that runs leaves it NULL. */
static void test_replay_start_trap_backtrace(void **unused)
{
    th_runtime_replay_opts o = {0};
    th_runtime_replay_result res = {0};
    th_chain_query q = {0};
    th_chain_events evs = {0};
    rtt t;
    th_error err;
    char id[TH_ACTOR_ID_SIZE], *bt = (char *)"unset";
    uint8_t *wasm;
    size_t len;

    (void)unused;
    rtt_start(&t, 2);
    spawn(&t, rtt_manifest(&t, "plain", rtt_module("plain"), "", NULL), id);
    q.actor = id;
    assert_int_equal(th_runtime_flush(t.rt, id, &err), 0);
    assert_int_equal(th_chain_read(th_runtime_chain(t.rt), &q, &evs, &err), 0);
    wasm = rtt_read_file(rtt_module("starttrap"), &len);
    o.events = &evs;
    o.handlers = th_handlers_builtin();
    o.until = UINT64_MAX;
    o.component = wasm;
    o.component_len = len;
    o.backtrace = &bt;
    assert_int_equal(th_runtime_replay(&o, &res, &err), TH_ETRAP);
    expect_in(err.msg, "instantiating plain: start function: unreachable");
    assert_non_null(bt);
    assert_string_equal(bt, "#0 check\n#1 begin\n");
    free(bt);
    th_runtime_replay_result_release(&res);
    free(wasm);
    /* its own code replays: no backtrace */
    bt = (char *)"unset";
    wasm = rtt_read_file(rtt_module("plain"), &len);
    o.component = wasm;
    o.component_len = len;
    assert_int_equal(th_runtime_replay(&o, &res, &err), 0);
    assert_false(res.diverged);
    assert_null(bt);
    th_runtime_replay_result_release(&res);
    free(wasm);
    th_chain_events_free(&evs);
    rtt_stop(&t);
}

/* The id of the one chain in the home other than `not` (malloc'd). */
static char *other_chain(rtt *t, const char * not )
{
    th_chain_actors as = {0};
    th_error err;
    char *id = NULL;
    size_t i;

    assert_int_equal(th_chain_list_actors(th_runtime_chain(t->rt), &as, &err), 0);
    for (i = 0; i < as.count; i++) {
        if (strcmp(as.items[i].name, not ) != 0) {
            assert_null(id);
            id = strdup(as.items[i].name);
        }
    }
    th_chain_actors_free(&as);
    assert_non_null(id);
    return id;
}

/* supervisor.spawn of a child whose init traps (a probe with the initial
 * state "trap"): the parent's err has the frames after the message, a
 * line each (and so has its host-call event); the child's chain records
 * them in its actor-failed event, as for a spawn from outside. */
static void test_child_init_trap_backtrace(void **unused)
{
    rtt t;
    char parent[TH_ACTOR_ID_SIZE], *kid, *pman, *cman, *s;

    (void)unused;
    rtt_start(&t, 2);
    {
        /* the initial state "trap" (a JSON string, from a file beside the
         * manifest: inline, the text would be taken for a file name) */
        char path[512];
        FILE *f;
        snprintf(path, sizeof path, "%s/trap.json", t.home);
        assert_non_null(f = fopen(path, "w"));
        fputs("\"trap\"", f);
        fclose(f);
    }
    cman = probe_manifest_x(&t, "kid", "init_state = \"trap.json\"");
    pman = probe_manifest(&t, "boss");
    spawn(&t, pman, parent);
    s = rtt_ask(&t, parent, 10000, "spawn %s", cman);
    expect_in(s, "err trap in init: unreachable\n    at #0 probe_trap_here\n    at #1 "
                 "probe_trap_caller\n    at #2 probe_init\n");
    free(s);
    s = events_of(&t, parent, "host-call");
    expect_in(s, "\"err\":\"trap in init: unreachable\\n    at #0 probe_trap_here\\n");
    free(s);
    kid = other_chain(&t, parent);
    s = events_of(&t, kid, "actor-failed");
    expect_in(s,
              "\"backtrace\":[\"#0 probe_trap_here\",\"#1 probe_trap_caller\",\"#2 probe_init\"");
    free(s);
    free(kid);
    free(cman);
    free(pman);
    rtt_stop(&t);
}

/* supervisor.spawn of a child whose module's start function traps
 * (starttrap.wat): no child is made; the parent's err (and its host-call
 * event) has the frames after the message, and the runtime's log says so
 * with the frames, as the daemon's log does for a start from outside. */
static void test_child_start_trap_backtrace(void **unused)
{
    rtt t;
    char parent[TH_ACTOR_ID_SIZE], *pman, *s;
    const char *want = "instantiating starter: start function: unreachable\n    at #0 check\n"
                       "    at #1 begin";

    (void)unused;
    rtt_start(&t, 2);
    pman = probe_manifest(&t, "boss");
    spawn(&t, pman, parent);
    s = rtt_ask(&t, parent, 10000, "spawn %s",
                rtt_manifest(&t, "starter", rtt_module("starttrap"), "", NULL));
    if (strncmp(s, "err ", 4) != 0 || strcmp(s + 4, want) != 0)
        fail_msg("the parent's answer: '%s'", s);
    free(s);
    s = events_of(&t, parent, "host-call");
    expect_in(s, "\"err\":\"instantiating starter: start function: unreachable\\n    at #0 "
                 "check\\n    at #1 begin\"");
    free(s);
    assert_true(rtt_log_has(&t, "spawn of a child refused: instantiating starter: start function: "
                                "unreachable\n    at #0 check\n    at #1 begin"));
    free(pman);
    rtt_stop(&t);
}

/* A root actor that fails for good on a trap (selftrap.wat: its init sends
 * itself a message, on which handle-send traps): th_runtime_wait's
 * th_actor_exit has the frames its actor-failed event records, also once
 * the actor is gone (the runtime's list of ends); a stopped actor's end
 * has none. */
static void test_exit_backtrace(void **unused)
{
    rtt t;
    th_error err;
    th_actor_exit ex;
    char id[TH_ACTOR_ID_SIZE], *s;
    int i;

    (void)unused;
    rtt_start(&t, 2);
    spawn(&t, rtt_manifest(&t, "selfish", rtt_module("selftrap"), "message-server", NULL), id);
    for (i = 0; i < 2; i++) { /* (the second: after it is gone, if it is by then) */
        memset(&ex, 0, sizeof ex);
        assert_int_equal(th_runtime_wait(t.rt, id, 20000, &ex, &err), 0);
        assert_int_equal(ex.reason, TH_EXIT_FAILED);
        expect_in(ex.message, "trap in handle-send: unreachable");
        assert_non_null(ex.backtrace);
        assert_string_equal(ex.backtrace, "#0 fault\n#1 handle\n#2 on_send\n");
        free(ex.data);
        free(ex.backtrace);
    }
    s = events_of(&t, id, "actor-failed");
    expect_in(s, "\"backtrace\":[\"#0 fault\",\"#1 handle\",\"#2 on_send\"]");
    free(s);
    /* an end that is no failure has none */
    spawn(&t, rtt_manifest(&t, "plain", rtt_module("plain"), "", NULL), id);
    assert_int_equal(th_runtime_stop(t.rt, id, &err), 0);
    memset(&ex, 0, sizeof ex);
    assert_int_equal(th_runtime_wait(t.rt, id, 20000, &ex, &err), 0);
    assert_int_equal(ex.reason, TH_EXIT_STOPPED);
    assert_null(ex.backtrace);
    rtt_stop(&t);
}

/* Actor "loopy" (hostile.wat: "L" is an endless loop in handle-send) under
 * `limits` fails with a timeout whose message has `want` and whose event
 * has the frames the call had reached, as a trap's; its actor-failed
 * events (the caller frees them). */
static char *loop_failure(rtt *t, const char *limits, const char *want)
{
    th_error err;
    th_actor_exit ex;
    char id[TH_ACTOR_ID_SIZE], *s;

    spawn(t, rtt_manifest(t, "loopy", rtt_module("hostile"), "", limits), id);
    assert_int_equal(th_runtime_send(t->rt, id, (const uint8_t *)"L", 1, &err), 0);
    assert_int_equal(th_runtime_wait(t->rt, id, 30000, &ex, &err), 0);
    free(ex.backtrace); /* (th_actor_exit: the caller's) */
    assert_int_equal(ex.reason, TH_EXIT_FAILED);
    expect_in(ex.message, want);
    s = events_of(t, id, "actor-failed");
    expect_in(s, "\"error_type\":\"operation-timeout\"");
    expect_in(s, "\"backtrace\":[\"#0 ");
    return s;
}

/* A call that runs out of its fuel_per_call fails the actor with the
 * frames it had reached. */
static void test_fuel_failure_backtrace(void **unused)
{
    rtt t;
    char *s;

    (void)unused;
    rtt_start(&t, 1);
    s = loop_failure(&t, "[limits]\nfuel_per_call = 2000000", "fuel exhausted in handle-send");
    expect_in(s, "fuel exhausted in handle-send (limit 2000000)");
    free(s);
    rtt_stop(&t);
}

/* So does a call that runs past limits.call_timeout_ms. */
static void test_call_timeout_backtrace(void **unused)
{
    rtt t;

    (void)unused;
    rtt_start(&t, 1);
    free(loop_failure(&t, "[limits]\ncall_timeout_ms = 300",
                      "call timeout of 300 ms exceeded in handle-send"));
    rtt_stop(&t);
}

/* What an asynchronous request's callback was told. */
typedef struct told {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool done;
    int status;
    char msg[TH_ERROR_MSG_MAX];
    char *backtrace; /* a copy, or NULL */
} told;

static void on_told(void *ud, int status, const uint8_t *data, size_t len, const char *msg,
                    const char *backtrace)
{
    told *w = ud;

    (void)data, (void)len;
    pthread_mutex_lock(&w->lock);
    w->status = status;
    snprintf(w->msg, sizeof w->msg, "%s", msg != NULL ? msg : "");
    w->backtrace = backtrace != NULL ? strdup(backtrace) : NULL;
    w->done = true;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

/* th_runtime_request_async of `req` to `id`; waits for the callback. */
static void request_async(rtt *t, const char *id, const char *req, told *w)
{
    th_error err;

    memset(w, 0, sizeof *w);
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    assert_int_equal(
        th_runtime_request_async(t->rt, id, (const uint8_t *)req, strlen(req), 0, on_told, w, &err),
        0);
    pthread_mutex_lock(&w->lock);
    while (!w->done)
        pthread_cond_wait(&w->cond, &w->lock);
    pthread_mutex_unlock(&w->lock);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->cond);
}

/* The callback of an asynchronous request that the actor trapped on gets
 * the trap's backtrace (as its "actor-failed" event records it); an
 * answered request gets none. */
static void test_async_reply_backtrace(void **unused)
{
    static const char frames[] = "#0 probe_trap_here\n#1 probe_trap_caller\n#2 probe_request\n";
    rtt t;
    told w;
    char id[TH_ACTOR_ID_SIZE], *man;

    (void)unused;
    rtt_start(&t, 2);
    man = probe_manifest(&t, "traced");
    spawn(&t, man, id);
    free(man);
    request_async(&t, id, "log fine", &w);
    assert_int_equal(w.status, 0);
    assert_null(w.backtrace);
    request_async(&t, id, "trap", &w);
    assert_int_equal(w.status, TH_ETRAP);
    expect_in(w.msg, "failed: trap in handle-request: unreachable");
    assert_non_null(w.backtrace);
    assert_true(strncmp(w.backtrace, frames, strlen(frames)) == 0);
    free(w.backtrace);
    rtt_stop(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_child_trap_in_request),
        cmocka_unit_test(test_err_result_names_actor),
        cmocka_unit_test(test_fuel_failure_backtrace),
        cmocka_unit_test(test_call_timeout_backtrace),
        cmocka_unit_test(test_async_reply_backtrace),
        cmocka_unit_test(test_request_backtrace),
        cmocka_unit_test(test_init_trap_backtrace),
        cmocka_unit_test(test_start_trap_backtrace),
        cmocka_unit_test(test_restart_start_trap_backtrace),
        cmocka_unit_test(test_replay_start_trap_backtrace),
        cmocka_unit_test(test_child_init_trap_backtrace),
        cmocka_unit_test(test_child_start_trap_backtrace),
        cmocka_unit_test(test_exit_backtrace),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
