/*
 * test_durable_ack.c - when a one-way message to a durable actor is
 * acknowledged (th_runtime_send_async, the API's 202): once it is stored
 * and in the actor's mailbox, and, while the mailbox is full, only when
 * the actor's turn admits it (docs/durability.md, commit point 1); each
 * acknowledgement is given once, and every message is handled.
 *
 * No timing is guessed for the order of events: the actor (probe.wasm,
 * mailbox of one message) is known to be inside a request that sleeps
 * 5 s once it has started that call (rtt_calls_wait); the check that the
 * held messages are not acknowledged meanwhile looks for 300 ms, well
 * inside the sleep.
 *
 * A deferred request answered with respond-to-request is answered when the
 * handling that answered it is on the chain, as a request's own reply is
 * (commit point 3): not while that handling still runs.
 *
 * Messages acknowledged to a root actor that failed (the runtime queues
 * them for a restart) and dropped when the runtime shuts down instead are
 * recorded as dropped, and their rows leave durable.db with it: the actor
 * is not brought back, so nothing would ever deliver them.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "rt_test_util.h"
#include "theater/handlers.h"

#define NMSG 3

typedef struct acks {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int count[NMSG];
    int status[NMSG];
} acks;

static acks g_acks = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, {0}, {0}};

static void on_ack(void *ud, int status, const uint8_t *data, size_t len, const char *msg,
                   const char *backtrace)
{
    int i = (int)(intptr_t)ud;

    (void)data;
    (void)len;
    (void)msg;
    (void)backtrace;
    pthread_mutex_lock(&g_acks.lock);
    g_acks.count[i]++;
    g_acks.status[i] = status;
    pthread_cond_broadcast(&g_acks.cond);
    pthread_mutex_unlock(&g_acks.lock);
}

/* Wait up to `ms` until message i has been acknowledged; its count. */
static int ack_wait(int i, unsigned ms)
{
    struct timespec until;
    int n;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&g_acks.lock);
    while (g_acks.count[i] == 0 && pthread_cond_timedwait(&g_acks.cond, &g_acks.lock, &until) == 0)
        ;
    n = g_acks.count[i];
    pthread_mutex_unlock(&g_acks.lock);
    return n;
}

static int ack_count(int i)
{
    int n;

    pthread_mutex_lock(&g_acks.lock);
    n = g_acks.count[i];
    pthread_mutex_unlock(&g_acks.lock);
    return n;
}

typedef struct asker {
    rtt *t;
    const char *id;
    char *answer;
} asker;

static void *ask_main(void *arg)
{
    asker *a = arg;

    a->answer = rtt_ask(a->t, a->id, 60000, "sleep 5000");
    return NULL;
}

static void on_log(void *ud, const char *id, const char *name, const char *msg, size_t len)
{
    rtt_log *l = ud;
    size_t need;

    (void)id;
    (void)name;
    pthread_mutex_lock(&l->lock);
    need = l->len + len + 2;
    if (need > l->cap) {
        char *nt = realloc(l->text, need * 2);
        if (nt == NULL) {
            pthread_mutex_unlock(&l->lock);
            return;
        }
        l->text = nt;
        l->cap = need * 2;
    }
    memcpy(l->text + l->len, msg, len);
    l->len += len;
    l->text[l->len++] = '\n';
    l->text[l->len] = 0;
    pthread_mutex_unlock(&l->lock);
}

static void start_durable(rtt *t)
{
    th_runtime_config cfg;
    th_error err;

    memset(t, 0, sizeof *t);
    snprintf(t->home, sizeof t->home, "/tmp/theater-rtt-XXXXXX");
    assert_non_null(mkdtemp(t->home));
    pthread_mutex_init(&t->log.lock, NULL);
    memset(&cfg, 0, sizeof cfg);
    cfg.home = t->home;
    cfg.workers = 2;
    cfg.durable = true;
    cfg.log_fn = on_log;
    cfg.log_ud = &t->log;
    cfg.handlers = th_handlers_builtin();
    if (th_runtime_new(&cfg, &t->rt, &err) != 0)
        fail_msg("th_runtime_new: %s", err.msg);
}

/* Spawn the probe with every handler it imports and a mailbox of
 * `mailbox` messages. */
static void spawn_probe(rtt *t, unsigned mailbox, char id[TH_ACTOR_ID_SIZE])
{
    static const char *const handlers[] = {"runtime",     "message-server", "supervisor",
                                           "store",       "timing",         "random",
                                           "environment", "filesystem"};
    char manifest[512];
    th_spawn_opts o = {0};
    th_error err;
    FILE *f;
    size_t i;

    snprintf(manifest, sizeof manifest, "%s/probe.toml", t->home);
    f = fopen(manifest, "w");
    assert_non_null(f);
    fprintf(f, "name = \"probe\"\ncomponent = \"%s\"\n\n[limits]\nmailbox_messages = %u\n",
            rtt_module("probe"), mailbox);
    for (i = 0; i < sizeof handlers / sizeof handlers[0]; i++)
        fprintf(f, "\n[[handler]]\ntype = \"%s\"\n", handlers[i]);
    fprintf(f, "path = \"%s\"\n", t->home); /* the last: filesystem */
    fclose(f);
    o.manifest_path = manifest;
    if (th_runtime_spawn(t->rt, &o, id, &err) != 0)
        fail_msg("spawn: %s", err.msg);
}

static void held_until_admitted(void **state)
{
    static const char *const text[NMSG] = {"m0", "m1", "m2"};
    char id[TH_ACTOR_ID_SIZE];
    unsigned long long calls;
    asker a;
    pthread_t th;
    th_error err;
    rtt t;
    int i;

    (void)state;
    start_durable(&t);
    spawn_probe(&t, 1, id);

    /* the actor takes a request that sleeps 5 s: its mailbox is empty */
    calls = rtt_calls(&t, id);
    a.t = &t;
    a.id = id;
    a.answer = NULL;
    assert_int_equal(pthread_create(&th, NULL, ask_main, &a), 0);
    assert_true(rtt_calls_wait(&t, id, calls, 30000));

    /* the first message fills the mailbox; the others wait for room */
    for (i = 0; i < NMSG; i++)
        assert_int_equal(th_runtime_send_async(t.rt, id, (const uint8_t *)text[i], strlen(text[i]),
                                               on_ack, (void *)(intptr_t)i, &err),
                         0);
    assert_int_equal(ack_wait(0, 30000), 1);
    assert_int_equal(g_acks.status[0], 0);
    /* A check that nothing happens, so there is no condition to wait for:
     * for 300 ms, well inside the 5 s the actor sleeps with its mailbox
     * full, the held messages get no acknowledgement.  An early one would
     * usually come within this time; on a very slow machine this check can
     * miss it, never fail wrongly (the acknowledgements come only after the
     * sleep, waited for below). */
    usleep(300000);
    assert_int_equal(ack_count(1), 0);
    assert_int_equal(ack_count(2), 0);

    /* after the sleep each is admitted, acknowledged once, and handled */
    for (i = 1; i < NMSG; i++) {
        assert_int_equal(ack_wait(i, 30000), 1);
        assert_int_equal(g_acks.status[i], 0);
    }
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_non_null(a.answer);
    assert_true(strncmp(a.answer, "ok ", 3) == 0);
    free(a.answer);
    for (i = 0; i < NMSG; i++) {
        char want[16];
        snprintf(want, sizeof want, "got %s", text[i]);
        assert_true(rtt_log_wait(&t, want, 30000));
    }
    for (i = 0; i < NMSG; i++)
        assert_int_equal(ack_count(i), 1);
    rtt_stop(&t);
}

typedef struct deferred {
    rtt *t;
    const char *id;
    const char *cmd;
    pthread_mutex_t lock;
    bool done;
    char *answer;
} deferred;

static void *deferred_main(void *arg)
{
    deferred *d = arg;
    char *s = rtt_ask(d->t, d->id, 60000, "%s", d->cmd);

    pthread_mutex_lock(&d->lock);
    d->answer = s;
    d->done = true;
    pthread_mutex_unlock(&d->lock);
    return NULL;
}

static bool deferred_done(deferred *d)
{
    bool done;

    pthread_mutex_lock(&d->lock);
    done = d->done;
    pthread_mutex_unlock(&d->lock);
    return done;
}

static void deferred_answer_held(void **state)
{
    char id[TH_ACTOR_ID_SIZE];
    unsigned long long calls;
    deferred first = {0}, second = {0};
    pthread_t t1, t2;
    char *s;
    rtt t;
    int i;

    (void)state;
    start_durable(&t);
    spawn_probe(&t, 16, id);

    /* a request the actor answers later (it keeps its id in its state) */
    first = (deferred){&t, id, "defer", PTHREAD_MUTEX_INITIALIZER, false, NULL};
    assert_int_equal(pthread_create(&t1, NULL, deferred_main, &first), 0);
    for (i = 0; i < 3000; i++) {
        s = rtt_ask(&t, id, 10000, "outstanding");
        bool some = strcmp(s, "ok none") != 0;
        free(s);
        if (some)
            break;
        usleep(10000);
    }
    assert_true(i < 3000);

    /* a handling that answers it, then sleeps 3 s: the answer waits for the
     * handling's result to be on the chain */
    calls = rtt_calls(&t, id);
    second = (deferred){&t, id, "respond-sleep 3000 late", PTHREAD_MUTEX_INITIALIZER, false, NULL};
    assert_int_equal(pthread_create(&t2, NULL, deferred_main, &second), 0);
    assert_true(rtt_calls_wait(&t, id, calls, 30000));
    /* A check that nothing happens (no condition to wait for): 500 ms into
     * the 3 s the handling sleeps, neither answer has left.  An answer sent
     * before the handling's result is on the chain would usually be seen by
     * then; a very slow machine can miss it, never fail wrongly. */
    usleep(500000);
    assert_false(deferred_done(&first));
    assert_false(deferred_done(&second));

    assert_int_equal(pthread_join(t1, NULL), 0);
    assert_int_equal(pthread_join(t2, NULL), 0);
    assert_string_equal(first.answer, "late");
    assert_string_equal(second.answer, "ok");
    free(first.answer);
    free(second.answer);
    rtt_stop(&t);
}

/* Rows of durable.db's durable_msg for actor `id` (the runtime is shut
 * down: the file is read as the next start would read it). */
static int stored_messages(const char *home, const char *id)
{
    char path[320];
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int n = -1;

    snprintf(path, sizeof path, "%s/durable.db", home);
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(
        sqlite3_prepare_v2(db, "SELECT count(*) FROM durable_msg WHERE actor = ?", -1, &st, NULL),
        SQLITE_OK);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

static void failed_root_dropped_at_shutdown(void **state)
{
    static const char *const text[NMSG] = {"f0", "f1", "f2"};
    char id[TH_ACTOR_ID_SIZE], *types, *end;
    uint8_t *resp = NULL;
    size_t len = 0;
    th_actor_info info;
    th_error err;
    rtt t;
    int i;

    (void)state;
    pthread_mutex_lock(&g_acks.lock);
    memset(g_acks.count, 0, sizeof g_acks.count);
    pthread_mutex_unlock(&g_acks.lock);
    start_durable(&t);
    spawn_probe(&t, 16, id);

    /* a root actor that fails stays, failed, waiting for a restart */
    assert_int_not_equal(
        th_runtime_request(t.rt, id, (const uint8_t *)"trap", 4, 30000, &resp, &len, &err), 0);
    free(resp);
    for (i = 0; i < 3000; i++) {
        assert_int_equal(th_runtime_actor_info(t.rt, id, &info, &err), 0);
        if (info.status == TH_ACTOR_FAILED)
            break;
        usleep(10000);
    }
    assert_int_equal(info.status, TH_ACTOR_FAILED);
    /* messages to it wait in its mailbox for that restart: stored, acknowledged */
    for (i = 0; i < NMSG; i++) {
        assert_int_equal(th_runtime_send_async(t.rt, id, (const uint8_t *)text[i], strlen(text[i]),
                                               on_ack, (void *)(intptr_t)i, &err),
                         0);
        assert_int_equal(ack_wait(i, 30000), 1);
        assert_int_equal(g_acks.status[i], 0);
    }

    /* the runtime shuts down instead: the actor is not brought back, so its
     * messages are dropped, on record, and their rows go */
    assert_int_equal(th_runtime_shutdown(t.rt, &err), 0);
    assert_int_equal(stored_messages(t.home, id), 0);
    rtt_restart_durable(&t, 2);
    assert_int_equal(th_runtime_actor_info(t.rt, id, &info, &err), TH_ENOENT);
    types = rtt_event_types(&t, id);
    end = types + strlen(types) - strlen("message-dropped\nactor-stopped\n");
    assert_true(end > types);
    assert_string_equal(end, "message-dropped\nactor-stopped\n");
    free(types);
    for (i = 0; i < NMSG; i++) {
        char got[16];
        snprintf(got, sizeof got, "got %s", text[i]);
        assert_false(rtt_log_has(&t, got));
    }
    rtt_stop(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(held_until_admitted),
        cmocka_unit_test(deferred_answer_held),
        cmocka_unit_test(failed_root_dropped_at_shutdown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
