/*
 * test_failures.c - a failure names the actor that failed and carries the
 * wasm backtrace: a trap in a child's handle-request, asked by its parent,
 * is recorded as the child's failure (its id, name, export and frames, by
 * the names of the module's name section), and the parent's request gets
 * an error that names the child, while the parent itself goes on.  A
 * request from outside that the actor traps on is answered with the
 * trap's backtrace too (th_runtime_reply_fn's `backtrace`).
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
#include "rt_test_util.h"

/* A probe manifest named `name` granting every handler the probe imports
 * (it links only when all are granted); returns a malloc'd path. */
static char *probe_manifest(rtt *t, const char *name)
{
    const char *man =
        rtt_manifest(t, name, rtt_module("probe"),
                     "runtime message-server supervisor store timing random environment", NULL);
    FILE *f = fopen(man, "a");

    assert_non_null(f);
    /* the whole filesystem: a spawn by an actor reads the child's manifest
     * (in the home) and component (in the build tree) through its grant */
    fprintf(f, "\n[[handler]]\ntype = \"filesystem\"\npath = \"/\"\n");
    fclose(f);
    return strdup(man);
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
