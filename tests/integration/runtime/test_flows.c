/*
 * test_flows.c - the seed's flows end to end with the example actors:
 * creation (spawn + init, recorded), message processing (send, request,
 * deferred answers, channels), state threading, the embedding API (state,
 * lists, subscriptions, stop), and actors talking to actors (ping/pong,
 * supervisor/worker with a restart, timer with sleep and deadline).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "rt_test_util.h"
#include "test_skip.h"

#define NEED(path) \
    do { \
        if ((path) == NULL) \
            th_skip_missing("an example actor (the wasm32 guest toolchain)"); \
    } while (0)

static char *state_of(th_runtime *rt, const char *id)
{
    bool has;
    uint8_t *st;
    size_t len;
    th_error err;
    char *s;

    assert_int_equal(th_runtime_get_state(rt, id, &has, &st, &len, &err), 0);
    if (!has)
        return NULL;
    s = malloc(len + 1);
    memcpy(s, st, len);
    s[len] = 0;
    free(st);
    return s;
}

static void spawn_ok(th_runtime *rt, const th_spawn_opts *o, char *id)
{
    th_error err;
    int rc = th_runtime_spawn(rt, o, id, &err);

    if (rc != 0)
        print_message("spawn: %s\n", err.msg);
    assert_int_equal(rc, 0);
}

typedef struct evlog {
    pthread_mutex_t lock;
    char types[4096];
} evlog;

static void on_event(void *ud, const th_runtime_event *ev)
{
    evlog *l = ud;

    pthread_mutex_lock(&l->lock);
    if (strlen(l->types) + strlen(ev->type) + 2 < sizeof l->types) {
        strcat(l->types, ev->type);
        strcat(l->types, " ");
    }
    pthread_mutex_unlock(&l->lock);
}

static void test_counter(void **unused)
{
    const char *man = rtt_example("counter");
    th_spawn_opts o = {0};
    char id[TH_ACTOR_ID_SIZE], *s, **ids;
    uint8_t *resp;
    size_t len, n;
    th_error err;
    rtt t;
    uint64_t sub;
    evlog ev = {PTHREAD_MUTEX_INITIALIZER, ""};
    int i;

    (void)unused;
    NEED(man);
    rtt_start(&t, 2);
    o.manifest_path = man;
    o.initial_state = (const uint8_t *)"40";
    o.initial_state_len = 2;
    spawn_ok(t.rt, &o, id);
    assert_int_equal(strlen(id), 36);
    assert_int_equal(id[14], '4'); /* UUID v4 */
    assert_true(rtt_log_has(&t, "starts at 40"));
    s = state_of(t.rt, id);
    assert_string_equal(s, "40");
    free(s);

    assert_int_equal(th_runtime_subscribe(t.rt, id, on_event, &ev, &sub, &err), 0);
    assert_int_equal(th_runtime_send(t.rt, id, (const uint8_t *)"2", 1, &err), 0);
    for (i = 0; i < 10; i++)
        assert_int_equal(th_runtime_send(t.rt, id, (const uint8_t *)"x", 1, &err), 0);
    assert_int_equal(th_runtime_request(t.rt, id, (const uint8_t *)"?", 1, 5000, &resp, &len, &err),
                     0);
    assert_int_equal(len, 2);
    assert_memory_equal(resp, "52", 2); /* messages are handled in order */
    free(resp);
    s = state_of(t.rt, id);
    assert_string_equal(s, "52");
    free(s);
    /* events reach subscribers on the recorder thread: wait for them */
    assert_int_equal(th_runtime_flush(t.rt, id, &err), 0);
    assert_int_equal(th_runtime_unsubscribe(t.rt, sub), 0);
    assert_non_null(strstr(ev.types, "wasm-call"));

    assert_int_equal(th_runtime_list_actors(t.rt, &ids, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(ids[0], id);
    th_runtime_strv_free(ids);

    assert_int_equal(th_runtime_stop(t.rt, id, &err), 0);
    assert_int_equal(th_runtime_send(t.rt, id, (const uint8_t *)"1", 1, &err), TH_ENOENT);
    /* gone from the runtime, its flush still waits for its last events:
     * right after, the chain ends with the stop */
    assert_int_equal(th_runtime_flush(t.rt, id, &err), 0);
    {
        th_chain_query q = {0};
        th_chain_events evs = {0};
        q.actor = id;
        q.limit = 1;
        q.newest = true;
        assert_int_equal(th_chain_read(th_runtime_chain(t.rt), &q, &evs, &err), 0);
        assert_int_equal(evs.count, 1);
        assert_string_equal(evs.items[0].type, "actor-stopped");
        th_chain_events_free(&evs);
    }
    assert_int_equal(th_runtime_flush(t.rt, "00000000-0000-4000-8000-000000000000", &err),
                     TH_ENOENT);
    rtt_stop(&t);
}

/* A subscriber that, on hearing an actor's actor-stopped, lists the
 * runtime's actors at once (on the thread that appended the event). */
typedef struct stoplist {
    th_runtime *rt;
    const char *id;
    int heard, listed;
} stoplist;

static void on_stop_list(void *ud, const th_runtime_event *ev)
{
    stoplist *l = ud;
    char **ids;
    size_t n, i;
    th_error err;

    if (strcmp(ev->type, "actor-stopped") != 0)
        return;
    l->heard++;
    if (th_runtime_list_actors(l->rt, &ids, &n, &err) != 0)
        return;
    for (i = 0; i < n; i++)
        if (strcmp(ids[i], l->id) == 0)
            l->listed++;
    th_runtime_strv_free(ids);
}

/* Whoever heard an actor stop no longer finds it listed: it is marked
 * stopped before the event is recorded, though it leaves the registry a
 * moment after (a client of the daemon that sees actor-stopped and then
 * lists must not see it running). */
static void test_stopped_not_listed(void **unused)
{
    const char *man = rtt_example("counter");
    th_spawn_opts o = {0};
    char id[TH_ACTOR_ID_SIZE];
    th_error err;
    rtt t;
    uint64_t sub;
    stoplist l = {0};
    int i;

    (void)unused;
    NEED(man);
    rtt_start(&t, 2);
    o.manifest_path = man;
    l.rt = t.rt;
    l.id = id;
    for (i = 0; i < 20; i++) {
        spawn_ok(t.rt, &o, id);
        assert_int_equal(th_runtime_subscribe(t.rt, id, on_stop_list, &l, &sub, &err), 0);
        assert_int_equal(th_runtime_stop(t.rt, id, &err), 0);
        assert_int_equal(th_runtime_flush(t.rt, id, &err), 0);
        assert_int_equal(th_runtime_unsubscribe(t.rt, sub), 0);
    }
    assert_int_equal(l.heard, 20);
    assert_int_equal(l.listed, 0);
    rtt_stop(&t);
}

static void test_ping_pong(void **unused)
{
    const char *man = rtt_example("ping");
    th_spawn_opts o = {0};
    char id[TH_ACTOR_ID_SIZE];
    th_actor_exit ex;
    th_error err;
    rtt t;

    (void)unused;
    NEED(man);
    rtt_start(&t, 2);
    o.manifest_path = man;
    spawn_ok(t.rt, &o, id);
    assert_int_equal(th_runtime_wait(t.rt, id, 10000, &ex, &err), 0);
    assert_int_equal(ex.reason, TH_EXIT_SHUTDOWN);
    free(ex.data);
    free(ex.backtrace);
    assert_true(rtt_log_wait(&t, "pong got a message: hello from ping", 2000));
    assert_true(rtt_log_has(&t, "ping 3 -> pong"));
    rtt_stop(&t);
}

static void test_supervisor_restart(void **unused)
{
    const char *man = rtt_example("supervisor");
    th_spawn_opts o = {0};
    char id[TH_ACTOR_ID_SIZE];
    th_actor_exit ex;
    th_error err;
    rtt t;

    (void)unused;
    NEED(man);
    rtt_start(&t, 2);
    o.manifest_path = man;
    spawn_ok(t.rt, &o, id);
    assert_int_equal(th_runtime_wait(t.rt, id, 10000, &ex, &err), 0);
    assert_int_equal(ex.reason, TH_EXIT_SHUTDOWN);
    free(ex.data);
    free(ex.backtrace);
    assert_true(rtt_log_has(&t, "crashing on purpose"));
    rtt_stop(&t);
}

static void test_timer(void **unused)
{
    const char *man = rtt_example("timer");
    th_spawn_opts o = {0};
    char id[TH_ACTOR_ID_SIZE];
    th_actor_exit ex;
    th_error err;
    struct timespec a, b;
    double ms;
    rtt t;

    (void)unused;
    NEED(man);
    rtt_start(&t, 1);
    o.manifest_path = man;
    clock_gettime(CLOCK_MONOTONIC, &a);
    spawn_ok(t.rt, &o, id);
    assert_int_equal(th_runtime_wait(t.rt, id, 10000, &ex, &err), 0);
    free(ex.backtrace); /* (th_actor_exit: the caller's) */
    clock_gettime(CLOCK_MONOTONIC, &b);
    assert_int_equal(ex.reason, TH_EXIT_SHUTDOWN);
    ms = (b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6;
    assert_true(ms >= 390);
    assert_true(rtt_log_has(&t, "tick 3"));
    assert_true(rtt_log_has(&t, "deadline +400 ms reached"));
    rtt_stop(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counter),   cmocka_unit_test(test_stopped_not_listed),
        cmocka_unit_test(test_ping_pong), cmocka_unit_test(test_supervisor_restart),
        cmocka_unit_test(test_timer),
    };
    return th_test_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
