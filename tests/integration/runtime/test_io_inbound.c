/*
 * test_io_inbound.c - the runtime's service to the outside-world handlers
 * (src/runtime/io.c, actor.c): functions posted to the I/O thread's loop,
 * handler slots ended when the runtime stops, and inbound events (an export
 * call delivered from the loop into an actor's mailbox, run in its turn,
 * recorded on its chain, its outcome reported through `done`).  The target
 * actor is inbound.wat (process-handlers#handle-stdout); plain.wat lacks
 * the export.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <uv.h>

#include "theater/chain.h"
#include "runtime/rt_int.h"
#include "wit_glue.h"
#include "rt_test_util.h"

/* An inbound handle-stdout(pid, data) whose outcome the test waits for. */
typedef struct ev {
    rt_inbound in;
    uint64_t pid;
    char data[64];
    size_t len;
    struct outcome *out;
} ev;

typedef struct outcome {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int done;
    int status;
    char text[512];
    bool on_worker; /* done ran on a thread other than the test's */
    pthread_t test_thread;
} outcome;

static int ev_lower(rt_inbound *in, rt_guest *g, const struct wit_opt_bytes *state,
                    th_wasm_val *args, uint32_t *nargs)
{
    ev *e = (ev *)in;
    wit_tup2_u64_bytes p = {e->pid, {(uint8_t *)e->data, e->len}};

    return wit_call_lower_process_handlers_handle_stdout(g, state, &p, args, nargs);
}

static int ev_lift(rt_inbound *in, rt_guest *g, const th_wasm_val *res, bool *has, uint8_t **state,
                   size_t *len, char **err)
{
    wit_res_tup1_opt_bytes_str v;
    int rc;

    (void)in;
    memset(&v, 0, sizeof v);
    rc = wit_call_lift_process_handlers_handle_stdout(g, res, &v);
    if (rc == 0 && v.is_err) {
        *err = v.err.ptr;
        v.err.ptr = NULL;
    } else if (rc == 0) {
        *has = v.ok.f0.some;
        *state = v.ok.f0.val.ptr;
        *len = v.ok.f0.val.len;
        v.ok.f0.val.ptr = NULL;
    }
    wit_free_res_tup1_opt_bytes_str(&v);
    return rc;
}

static void ev_params(rt_inbound *in, rt_buf *b)
{
    ev *e = (ev *)in;

    rt_buf_printf(b, "%llu,", (unsigned long long)e->pid);
    rt_buf_json_hex(b, (const uint8_t *)e->data, e->len);
}

static void ev_done(rt_inbound *in, int status, const char *text)
{
    ev *e = (ev *)in;
    outcome *o = e->out;

    pthread_mutex_lock(&o->lock);
    o->done++;
    o->status = status;
    snprintf(o->text, sizeof o->text, "%s", text ? text : "");
    o->on_worker = !pthread_equal(pthread_self(), o->test_thread);
    pthread_cond_broadcast(&o->cond);
    pthread_mutex_unlock(&o->lock);
    free(e);
}

static const rt_inbound_ops ev_ops = {
    "process-handlers",
    WIT_EXPORT_PROCESS_HANDLERS_HANDLE_STDOUT,
    ev_lower,
    ev_lift,
    ev_params,
    NULL,
    NULL,
    ev_done,
};

static void outcome_init(outcome *o)
{
    memset(o, 0, sizeof *o);
    pthread_mutex_init(&o->lock, NULL);
    pthread_cond_init(&o->cond, NULL);
    o->test_thread = pthread_self();
}

/* Wait until `n` outcomes came (at most 10 s). */
static void outcome_wait(outcome *o, int n)
{
    for (int i = 0; i < 1000; i++) {
        pthread_mutex_lock(&o->lock);
        int d = o->done;
        pthread_mutex_unlock(&o->lock);
        if (d >= n)
            return;
        usleep(10000);
    }
    fail_msg("no outcome after 10 s");
}

static ev *ev_new(outcome *o, const char *data)
{
    ev *e = calloc(1, sizeof *e);

    assert_non_null(e);
    e->in.ops = &ev_ops;
    e->pid = 4242;
    e->len = strlen(data);
    memcpy(e->data, data, e->len);
    e->out = o;
    return e;
}

/* What a posted function sees. */
typedef struct post_probe {
    th_runtime *rt;
    const char *id;
    outcome *o;
    const char *data;
    int deliver_rc;
    bool ran_with_loop, ran_on_loop_thread, runtime_ok;
    pthread_t test_thread;
    pthread_mutex_t lock; /* (not uv_sem_t: libuv is not instrumented for TSan) */
    pthread_cond_t cond;
    bool posted;
} post_probe;

static void probe_init(post_probe *p)
{
    memset(p, 0, sizeof *p);
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
}

static void probe_post(post_probe *p)
{
    pthread_mutex_lock(&p->lock);
    p->posted = true;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
}

static void probe_wait(post_probe *p)
{
    pthread_mutex_lock(&p->lock);
    while (!p->posted)
        pthread_cond_wait(&p->cond, &p->lock);
    pthread_mutex_unlock(&p->lock);
}

static void on_loop(struct uv_loop_s *loop, void *ud)
{
    post_probe *p = ud;
    ev *e;

    p->ran_with_loop = loop != NULL;
    p->ran_on_loop_thread = !pthread_equal(pthread_self(), p->test_thread);
    p->runtime_ok = loop != NULL && rt_io_runtime(loop) == p->rt;
    if (loop != NULL && p->id != NULL) {
        e = ev_new(p->o, p->data);
        p->deliver_rc = rt_inbound_deliver(rt_io_runtime(loop), p->id, &e->in, false);
        if (p->deliver_rc != 0)
            free(e);
    }
    probe_post(p);
}

static void spawn(rtt *t, const char *man, char id[TH_ACTOR_ID_SIZE])
{
    th_spawn_opts o = {0};
    th_error err;

    o.manifest_path = man;
    if (th_runtime_spawn(t->rt, &o, id, &err) != 0)
        fail_msg("spawn: %s", err.msg);
}

/* Every event type and data of an actor, "type data\n" lines. */
static void collect(void *ud, const th_runtime_event *e)
{
    rt_buf *b = ud;

    rt_buf_printf(b, "%s %.*s\n", e->type, (int)e->data_len, (const char *)e->data);
}

static char *events_of(rtt *t, const char *id)
{
    rt_buf b = {0};
    th_error err;

    assert_int_equal(th_runtime_actor_events(t->rt, id, collect, &b, &err), 0);
    rt_buf_append(&b, "", 1);
    return (char *)b.data;
}

/* Post from the test thread; the function runs on the loop thread and
 * delivers handle-stdout("hello"): the actor's state becomes "hello", the
 * outcome is ok, reported from a worker, and the call is on the chain. */
static void test_post_and_deliver(void **state)
{
    rtt t;
    char id[TH_ACTOR_ID_SIZE], *evs;
    outcome o;
    post_probe p;
    bool has;
    uint8_t *st;
    size_t len;
    th_error err;

    (void)state;
    rtt_start(&t, 2);
    outcome_init(&o);
    spawn(&t, rtt_manifest(&t, "inbound", rtt_module("inbound"), "runtime timing", NULL), id);
    probe_init(&p);
    p.rt = t.rt;
    p.id = id;
    p.o = &o;
    p.data = "hello";
    p.test_thread = pthread_self();
    assert_int_equal(rt_io_post(t.rt, on_loop, &p), 0);
    probe_wait(&p);
    assert_true(p.ran_with_loop);
    assert_true(p.ran_on_loop_thread);
    assert_true(p.runtime_ok);
    assert_int_equal(p.deliver_rc, 0);
    outcome_wait(&o, 1);
    assert_int_equal(o.status, TH_OK);
    assert_true(o.on_worker);
    assert_int_equal(th_runtime_get_state(t.rt, id, &has, &st, &len, &err), 0);
    assert_true(has);
    assert_int_equal(len, 5);
    assert_memory_equal(st, "hello", 5);
    free(st);
    evs = events_of(&t, id);
    assert_non_null(strstr(evs, "\"function\":\"handle-stdout\",\"interface\":\"process-handlers\","
                                "\"params\":[4242,\"68656c6c6f\"]"));
    free(evs);
    assert_true(rtt_verify_chain(&t, id) > 0);
    rtt_stop(&t);
}

/* An actor without the export: TH_ENOENT, recorded as dropped; an err
 * result: the actor fails and the outcome says so; an unknown or ended
 * actor: refused at once, nothing queued. */
static void test_refusals(void **state)
{
    rtt t;
    char plain[TH_ACTOR_ID_SIZE], tgt[TH_ACTOR_ID_SIZE], *evs;
    outcome o;
    ev *e;
    th_actor_status st;
    th_error err;

    (void)state;
    rtt_start(&t, 2);
    outcome_init(&o);
    spawn(&t, rtt_manifest(&t, "plain", rtt_module("plain"), "runtime", NULL), plain);
    e = ev_new(&o, "x");
    assert_int_equal(rt_inbound_deliver(t.rt, plain, &e->in, false), 0);
    outcome_wait(&o, 1);
    assert_int_equal(o.status, TH_ENOENT);
    assert_non_null(strstr(o.text, "function-not-found"));
    evs = events_of(&t, plain);
    assert_non_null(strstr(evs, "message-dropped {\"function\":\"handle-stdout\",\"interface\":"
                                "\"process-handlers\"}"));
    free(evs);
    assert_true(rtt_verify_chain(&t, plain) > 0);

    spawn(&t, rtt_manifest(&t, "inbound", rtt_module("inbound"), "runtime timing", NULL), tgt);
    e = ev_new(&o, "Xbad");
    assert_int_equal(rt_inbound_deliver(t.rt, tgt, &e->in, false), 0);
    outcome_wait(&o, 2);
    assert_int_not_equal(o.status, TH_OK);
    assert_non_null(strstr(o.text, "refused"));
    assert_int_equal(th_runtime_actor_status(t.rt, tgt, &st, &err), 0);
    assert_int_equal(st, TH_ACTOR_FAILED);
    /* a failed actor takes no more events */
    e = ev_new(&o, "y");
    assert_int_equal(rt_inbound_deliver(t.rt, tgt, &e->in, false), TH_ESTATE);
    free(e);
    assert_true(rtt_verify_chain(&t, tgt) > 0);

    e = ev_new(&o, "y");
    assert_int_equal(
        rt_inbound_deliver(t.rt, "00000000-0000-4000-8000-000000000000", &e->in, false), TH_ENOENT);
    free(e);
    rtt_stop(&t);
}

/* Bounded delivery respects the mailbox limit (TH_EBUSY, the event still
 * the caller's); events queued when the actor stops are answered. */
static void test_bounded_and_stop(void **state)
{
    rtt t;
    char id[TH_ACTOR_ID_SIZE];
    outcome o;
    ev *e;
    int busy = 0, queued = 0, i, rc;
    unsigned long long calls;
    th_error err;

    (void)state;
    rtt_start(&t, 2);
    outcome_init(&o);
    spawn(&t,
          rtt_manifest(&t, "inbound", rtt_module("inbound"), "runtime timing",
                       "[limits]\nmailbox_messages = 2"),
          id);
    calls = rtt_calls(&t, id);
    e = ev_new(&o, "S");
    assert_int_equal(rt_inbound_deliver(t.rt, id, &e->in, true), 0);
    /* its first event has left the mailbox: the actor runs it (asleep) */
    assert_true(rtt_calls_wait(&t, id, calls, 60000));
    for (i = 0; i < 6; i++) {
        e = ev_new(&o, "more");
        rc = rt_inbound_deliver(t.rt, id, &e->in, true);
        if (rc == TH_EBUSY) {
            free(e);
            busy++;
        } else {
            assert_int_equal(rc, 0);
            queued++;
        }
    }
    assert_true(busy > 0);
    assert_true(queued >= 1 && queued <= 2);
    /* stop while events wait: each gets an outcome all the same */
    assert_int_equal(th_runtime_stop(t.rt, id, &err), 0);
    outcome_wait(&o, 1 + queued);
    rtt_stop(&t);
    pthread_mutex_lock(&o.lock);
    assert_int_equal(o.done, 1 + queued);
    pthread_mutex_unlock(&o.lock);
}

/* Slots: what a handler keeps on the loop is ended when the runtime
 * stops; posting after the stop is refused. */
static int g_quit_calls;
static bool g_quit_with_loop;

static void slot_quit(struct uv_loop_s *loop, void *ud)
{
    g_quit_calls++;
    g_quit_with_loop = loop != NULL && ud == (void *)&g_quit_calls;
}

static void set_slot(struct uv_loop_s *loop, void *ud)
{
    rt_io_slot_t *s = rt_io_slot(loop, RT_IO_SLOTS - 1) /* a slot no handler uses */;
    post_probe *p = ud;

    assert_non_null(s);
    s->ud = &g_quit_calls;
    s->quit = slot_quit;
    assert_null(rt_io_slot(loop, RT_IO_SLOTS));
    probe_post(p);
}

static void never(struct uv_loop_s *loop, void *ud)
{
    (void)loop;
    (void)ud;
    fail_msg("posted after the stop");
}

static void test_slot_quit(void **state)
{
    rtt t;
    post_probe p;
    th_error err;

    (void)state;
    rtt_start(&t, 1);
    probe_init(&p);
    assert_int_equal(rt_io_post(t.rt, set_slot, &p), 0);
    probe_wait(&p);
    assert_int_equal(g_quit_calls, 0);
    assert_int_equal(th_runtime_shutdown(t.rt, &err), 0);
    assert_int_equal(g_quit_calls, 1);
    assert_true(g_quit_with_loop);
    assert_int_equal(rt_io_post(t.rt, never, NULL), TH_ESTATE);
    rtt_stop(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_post_and_deliver),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_bounded_and_stop),
        cmocka_unit_test(test_slot_quit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
