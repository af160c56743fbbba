/*
 * test_bounds.c - nothing an actor does grows without bound: a spawn bomb
 * stops at the root's limits.max_descendants, a message flood at the
 * receiver's mailbox limits (the sender waits; nothing is dropped), the
 * store at limits.store_bytes, the runtime at max_actors.  Memory is
 * measured (resident set size) with bounds generous enough for a
 * sanitizer build; unchecked, the bomb and the flood take gigabytes.
 *
 * Modules: bomb.wat (init spawns four copies of itself), flood.wat (sends
 * n messages of 1 KiB to its peer), hostile.wat (loops on "L", so its
 * mailbox is never served), probe (store, spawn on command).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/limits.h"
#include "rt_test_util.h"
#include "test_skip.h"

#define FS_ALL "[[handler]]\ntype = \"filesystem\"\npath = \"/\"\n"
#define LOOPER "[limits]\nfuel_per_call = 0\ncall_timeout_ms = 0\n"

static size_t actor_count(rtt *t)
{
    char **ids;
    size_t n;
    th_error err;

    assert_int_equal(th_runtime_list_actors(t->rt, &ids, &n, &err), 0);
    th_runtime_strv_free(ids);
    return n;
}

/* The bomb under the default limits: the tree stops at max_descendants
 * (1,000) below the root, and memory with it. */
static void test_spawn_bomb(void **unused)
{
    rtt t;
    char id[TH_ACTOR_ID_SIZE];
    const char *man;
    long before, after;
    size_t n;

    (void)unused;
    rtt_start(&t, 2);
    man = rtt_manifest(&t, "bomb", rtt_module("bomb"), "supervisor", FS_ALL);
    before = rtt_rss_kib();
    rtt_spawn_state(&t, man, man, id); /* returns once every init below has returned */
    n = actor_count(&t);
    after = rtt_rss_kib();
    print_message("spawn bomb: %zu actors, RSS %ld -> %ld MiB\n", n, before / 1024, after / 1024);
    assert_int_equal(n, 1 + TH_MANIFEST_DEFAULT_MAX_DESCENDANTS);
    assert_true(after - before < 512 * 1024);
    rtt_stop(&t);
}

/* The same bomb with a smaller limit in the root's manifest, and a child
 * that cannot raise it. */
static void test_spawn_bomb_limit(void **unused)
{
    rtt t;
    char id[TH_ACTOR_ID_SIZE];
    const char *man;

    (void)unused;
    rtt_start(&t, 2);
    man = rtt_manifest(&t, "bomb", rtt_module("bomb"), "supervisor",
                       "[limits]\nmax_descendants = 50\n" FS_ALL);
    rtt_spawn_state(&t, man, man, id);
    assert_int_equal(actor_count(&t), 51);
    rtt_stop(&t);
}

/* A refused spawn is an err for the spawning actor. */
static void test_children_limit(void **unused)
{
    rtt t;
    char id[TH_ACTOR_ID_SIZE], child[600], q[700];
    uint8_t *resp;
    size_t len;
    th_error err;
    int i;

    (void)unused;
    rtt_start(&t, 2);
    snprintf(child, sizeof child, "name = \"kid\"\ncomponent = \"%s\"\n", rtt_module("hostile"));
    rtt_spawn_state(
        &t,
        rtt_manifest(&t, "probe", rtt_module("probe"),
                     "runtime message-server supervisor store timing random environment",
                     "[limits]\nmax_children = 2\n" FS_ALL),
        NULL, id);
    for (i = 0; i < 3; i++) {
        snprintf(q, sizeof q, "spawn %s", child);
        assert_int_equal(
            th_runtime_request(t.rt, id, (const uint8_t *)q, strlen(q), 10000, &resp, &len, &err),
            0);
        if (i < 2)
            assert_memory_equal(resp, "ok ", 3);
        else
            assert_non_null(
                strstr((char *)resp, "err spawn of kid refused: the parent has 2 children"));
        free(resp);
    }
    rtt_stop(&t);
}

static void test_max_actors(void **unused)
{
    rtt t;
    char id[TH_ACTOR_ID_SIZE];
    th_spawn_opts o = {0};
    th_error err;
    int i;

    (void)unused;
    rtt_start_max(&t, 2, 3);
    o.manifest_path = rtt_manifest(&t, "calm", rtt_module("hostile"), "", NULL);
    for (i = 0; i < 3; i++)
        assert_int_equal(th_runtime_spawn(t.rt, &o, id, &err), 0);
    assert_int_equal(th_runtime_spawn(t.rt, &o, id, &err), TH_EPERM);
    assert_non_null(strstr(err.msg, "the runtime runs 3 actors, its limit"));
    assert_int_equal(th_runtime_stop(t.rt, id, &err), 0);
    assert_int_equal(th_runtime_spawn(t.rt, &o, id, &err), 0);
    rtt_stop(&t);
}

/* Messages from outside: refused with TH_EBUSY once the mailbox is full
 * (by count, then by bytes); nothing queued beyond it. */
static void test_mailbox_external(void **unused)
{
    rtt t;
    char a[TH_ACTOR_ID_SIZE], b[TH_ACTOR_ID_SIZE];
    uint8_t kib[1024], *resp;
    unsigned long long ca, cb;
    size_t len;
    th_error err;
    int i, ok;

    (void)unused;
    memset(kib, 'x', sizeof kib);
    rtt_start(&t, 2);
    rtt_spawn_state(
        &t, rtt_manifest(&t, "a", rtt_module("hostile"), "", LOOPER "mailbox_messages = 10"), NULL,
        a);
    rtt_spawn_state(&t,
                    rtt_manifest(&t, "b", rtt_module("hostile"), "", LOOPER "mailbox_bytes = 8192"),
                    NULL, b);
    ca = rtt_calls(&t, a);
    cb = rtt_calls(&t, b);
    assert_int_equal(th_runtime_send(t.rt, a, (const uint8_t *)"L", 1, &err), 0);
    assert_int_equal(th_runtime_send(t.rt, b, (const uint8_t *)"L", 1, &err), 0);
    /* both are looping, their mailboxes empty and no longer served */
    assert_true(rtt_calls_wait(&t, a, ca, 60000));
    assert_true(rtt_calls_wait(&t, b, cb, 60000));
    for (i = 0, ok = 0; i < 20; i++)
        ok += th_runtime_send(t.rt, a, kib, 1, &err) == 0;
    assert_int_equal(ok, 10);
    assert_int_equal(th_runtime_send(t.rt, a, kib, 1, &err), TH_EBUSY);
    assert_non_null(strstr(err.msg, "is full"));
    assert_int_equal(th_runtime_request(t.rt, a, kib, 1, 1000, &resp, &len, &err), TH_EBUSY);
    for (i = 0, ok = 0; i < 20; i++)
        ok += th_runtime_send(t.rt, b, kib, sizeof kib, &err) == 0;
    assert_true(ok >= 5 && ok <= 7);
    rtt_stop(&t);
}

static atomic_int g_async_told;

static void async_told(void *ud, int status, const uint8_t *data, size_t len, const char *msg,
                       const char *backtrace)
{
    (void)ud, (void)status, (void)data, (void)len, (void)msg, (void)backtrace;
    atomic_fetch_add(&g_async_told, 1);
}

/* The header bytes each message counts in `id`'s mailbox, as the refusal
 * of a message too large says it. */
static size_t mailbox_header(rtt *t, const char *id)
{
    static uint8_t big[8192];
    const char *p;
    th_error err;

    assert_int_equal(th_runtime_send(t->rt, id, big, sizeof big, &err), TH_ETOOBIG);
    assert_non_null((p = strstr(err.msg, "which counts ")));
    return (size_t)strtoul(p + strlen("which counts "), NULL, 10);
}

/* A message larger alone than the receiver's limits.mailbox_bytes could
 * never be admitted: it is refused at once (TH_ETOOBIG, from outside; an
 * error for the sending actor), not held for ever with everything sent
 * after it behind it, and the receiver goes on serving what fits. */
static void test_mailbox_toobig(void **unused)
{
    rtt t;
    char rx[TH_ACTOR_ID_SIZE], tx[TH_ACTOR_ID_SIZE], chan[TH_ACTOR_ID_SIZE];
    static uint8_t big[8192];
    uint8_t cmd[9] = {'F', 3, 0, 0, 0}, *resp = NULL;
    uint32_t size = sizeof big;
    unsigned long long calls;
    size_t len;
    th_error err;

    (void)unused;
    memset(big, 'x', sizeof big);
    rtt_start(&t, 2);
    rtt_spawn_state(
        &t, rtt_manifest(&t, "rx", rtt_module("hostile"), "", "[limits]\nmailbox_bytes = 4096"),
        NULL, rx);
    /* from outside, every way in */
    assert_int_equal(th_runtime_send(t.rt, rx, big, sizeof big, &err), TH_ETOOBIG);
    assert_non_null(strstr(err.msg, "message too large: 8192 bytes can never fit"));
    assert_non_null(strstr(err.msg, "limits.mailbox_bytes 4096"));
    assert_int_equal(th_runtime_request(t.rt, rx, big, sizeof big, 1000, &resp, &len, &err),
                     TH_ETOOBIG);
    atomic_store(&g_async_told, 0);
    assert_int_equal(th_runtime_request_async(t.rt, rx, big, sizeof big, 0, async_told, NULL, &err),
                     TH_ETOOBIG);
    assert_int_equal(th_runtime_channel_open(t.rt, rx, big, sizeof big, NULL, NULL, async_told,
                                             NULL, chan, &err),
                     TH_ETOOBIG);
    /* refused by its result alone: the callbacks are not called as well.
     * A check that nothing happens, so there is no condition to wait for: a
     * callback called anyway would come from the runtime's threads within
     * 100 ms on any but a very slow machine, where this check can miss it
     * (never fail wrongly). */
    usleep(100000);
    assert_int_equal(atomic_load(&g_async_told), 0);
    /* from an actor: its send fails at once */
    rtt_spawn_state(&t, rtt_manifest(&t, "tx", rtt_module("flood"), "runtime message-server", NULL),
                    rx, tx);
    memcpy(cmd + 5, &size, 4);
    assert_int_equal(th_runtime_send(t.rt, tx, cmd, sizeof cmd, &err), 0);
    assert_true(rtt_log_wait(&t, "flood refused: message too large: 8192 bytes", 10000));
    /* nothing is held: what fits is still served */
    calls = rtt_calls(&t, rx);
    assert_int_equal(th_runtime_send(t.rt, rx, big, 1024, &err), 0);
    assert_true(rtt_calls_wait(&t, rx, calls, 10000));
    /* the limit counts the header the error names (and the docs give):
     * the largest message that fits the empty mailbox is 4096 - header */
    {
        size_t header = mailbox_header(&t, rx);
        calls = rtt_calls(&t, rx);
        assert_int_equal(th_runtime_send(t.rt, rx, big, 4096 - header + 1, &err), TH_ETOOBIG);
        assert_int_equal(th_runtime_send(t.rt, rx, big, 4096 - header, &err), 0);
        assert_true(rtt_calls_wait(&t, rx, calls, 10000));
    }
    rtt_stop(&t);
}

/* docs/manifest.md (mailbox_bytes) and docs/api.md (413) give the header
 * each message counts in a mailbox, by which users size mailboxes: the
 * number the runtime counts. */
static void test_mailbox_header_documented(void **unused)
{
    static const char *const docs[] = {"docs/manifest.md", "docs/api.md"};
    const char *src = getenv("THEATER_SOURCE_DIR");
    char rx[TH_ACTOR_ID_SIZE], want[64], path[600], *text;
    rtt t;
    FILE *f;
    long n;

    (void)unused;
    if (src == NULL)
        th_skip_missing("THEATER_SOURCE_DIR (set by ctest)");
    rtt_start(&t, 1);
    rtt_spawn_state(
        &t, rtt_manifest(&t, "rx", rtt_module("hostile"), "", "[limits]\nmailbox_bytes = 4096"),
        NULL, rx);
    snprintf(want, sizeof want, "a header of %zu bytes", mailbox_header(&t, rx));
    rtt_stop(&t);
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", src, docs[i]);
        assert_non_null((f = fopen(path, "rb")));
        assert_int_equal(fseek(f, 0, SEEK_END), 0);
        assert_true((n = ftell(f)) > 0);
        rewind(f);
        assert_non_null((text = calloc(1, (size_t)n + 1)));
        assert_int_equal(fread(text, 1, (size_t)n, f), (size_t)n);
        fclose(f);
        if (strstr(text, want) == NULL)
            fail_msg("%s does not say '%s'", docs[i], want);
        free(text);
    }
}

/* Operations delivered to an actor's mailbox so far (0 if it is gone). */
static uint64_t messages_in(rtt *t, const char *id)
{
    th_actor_info info;
    th_error err;

    return th_runtime_actor_info(t->rt, id, &info, &err) == 0 ? info.messages_in : 0;
}

/* A flood into a mailbox that is never served: the sender is held after
 * the limit, memory stays flat, and when the receiver goes away the held
 * send fails (the sender hears of it: nothing is dropped silently). */
static void test_flood_held(void **unused)
{
    rtt t;
    char rx[TH_ACTOR_ID_SIZE], tx[TH_ACTOR_ID_SIZE];
    uint8_t cmd[5] = {'F', 0, 0, 0, 0};
    uint32_t n = 200000;
    long before, after;
    th_error err;

    (void)unused;
    rtt_start(&t, 2);
    rtt_spawn_state(
        &t, rtt_manifest(&t, "rx", rtt_module("hostile"), "", LOOPER "mailbox_messages = 1000"),
        NULL, rx);
    assert_int_equal(th_runtime_send(t.rt, rx, (const uint8_t *)"L", 1, &err), 0);
    rtt_spawn_state(&t,
                    rtt_manifest(&t, "tx", rtt_module("flood"), "runtime message-server",
                                 "save_chain = false\n" LOOPER),
                    rx, tx);
    before = rtt_rss_kib();
    memcpy(cmd + 1, &n, 4);
    assert_int_equal(th_runtime_send(t.rt, tx, cmd, sizeof cmd, &err), 0);
    /* the mailbox fills ("L", which rx runs, and 1000 more); the sender's
     * next send is held and nothing more gets in (a minute at most: a
     * sanitizer build on a loaded machine) */
    for (int i = 0; i < 12000 && messages_in(&t, rx) < 1 + 1000; i++)
        usleep(5000);
    assert_int_equal(messages_in(&t, rx), 1 + 1000);
    after = rtt_rss_kib();
    print_message("flood of %u x 1 KiB into a 1000-message mailbox: RSS %ld -> %ld MiB\n", n,
                  before / 1024, after / 1024);
    assert_true(after - before < 32 * 1024);
    assert_false(rtt_log_has(&t, "flood done"));
    assert_false(rtt_log_has(&t, "flood refused"));
    assert_int_equal(th_runtime_stop(t.rt, rx, &err), 0);
    assert_true(rtt_log_wait(&t, "flood refused: actor ", 5000));
    rtt_stop(&t);
}

/* A held sender still has its call timeout. */
static void test_flood_timeout(void **unused)
{
    rtt t;
    char rx[TH_ACTOR_ID_SIZE], tx[TH_ACTOR_ID_SIZE];
    uint8_t cmd[5] = {'F', 100, 0, 0, 0};
    th_actor_exit ex;
    th_error err;

    (void)unused;
    rtt_start(&t, 2);
    rtt_spawn_state(
        &t, rtt_manifest(&t, "rx", rtt_module("hostile"), "", LOOPER "mailbox_messages = 10"), NULL,
        rx);
    assert_int_equal(th_runtime_send(t.rt, rx, (const uint8_t *)"L", 1, &err), 0);
    rtt_spawn_state(&t,
                    rtt_manifest(&t, "tx", rtt_module("flood"), "runtime message-server",
                                 "[limits]\ncall_timeout_ms = 300"),
                    rx, tx);
    assert_int_equal(th_runtime_send(t.rt, tx, cmd, sizeof cmd, &err), 0);
    assert_int_equal(th_runtime_wait(t.rt, tx, 10000, &ex, &err), 0);
    free(ex.backtrace); /* (th_actor_exit: the caller's) */
    assert_int_equal(ex.reason, TH_EXIT_FAILED);
    assert_non_null(
        strstr(ex.message, "call timeout of 300 ms exceeded in handle-send while waiting in send"));
    rtt_stop(&t);
}

static atomic_int g_handled;

static void count_sends(void *ud, const th_runtime_event *ev)
{
    (void)ud;
    if (strcmp(ev->type, "wasm-call") == 0 && ev->data_len > 26 &&
        memcmp(ev->data, "{\"function\":\"handle-send\"", 25) == 0)
        atomic_fetch_add(&g_handled, 1);
}

/* Backpressure without loss: a small mailbox served as fast as it can be;
 * every message of the flood is handled. */
static void test_flood_delivered(void **unused)
{
    rtt t;
    char rx[TH_ACTOR_ID_SIZE], tx[TH_ACTOR_ID_SIZE];
    uint32_t n = 5000;
    uint8_t cmd[5] = {'F'};
    uint64_t sub;
    th_error err;
    int i;

    (void)unused;
    rtt_start(&t, 2);
    rtt_spawn_state(
        &t, rtt_manifest(&t, "rx", rtt_module("hostile"), "", "[limits]\nmailbox_messages = 16"),
        NULL, rx);
    rtt_spawn_state(&t, rtt_manifest(&t, "tx", rtt_module("flood"), "runtime message-server", NULL),
                    rx, tx);
    atomic_store(&g_handled, 0);
    assert_int_equal(th_runtime_subscribe(t.rt, rx, count_sends, NULL, &sub, &err), 0);
    memcpy(cmd + 1, &n, 4);
    assert_int_equal(th_runtime_send(t.rt, tx, cmd, sizeof cmd, &err), 0);
    assert_true(rtt_log_wait(&t, "flood done", 60000));
    for (i = 0; i < 1000 && atomic_load(&g_handled) < (int)n; i++)
        usleep(10000);
    assert_int_equal(atomic_load(&g_handled), n);
    th_runtime_unsubscribe(t.rt, sub);
    rtt_stop(&t);
}

/* limits.store_bytes: what an actor adds to the store. */
static void test_store_bytes(void **unused)
{
    rtt t;
    char id[TH_ACTOR_ID_SIZE];
    uint8_t *resp;
    size_t len;
    th_error err;
    char *s;

    (void)unused;
    rtt_start(&t, 2);
    rtt_spawn_state(
        &t,
        rtt_manifest(&t, "probe", rtt_module("probe"),
                     "runtime message-server supervisor store timing random environment",
                     "[limits]\nstore_bytes = 100\n" FS_ALL),
        NULL, id);
    assert_int_equal(
        th_runtime_request(t.rt, id, (const uint8_t *)"store", 5, 10000, &resp, &len, &err), 0);
    s = strndup((char *)resp, len);
    free(resp);
    /* a new store (64) fits, "hello" in it (5 + 64) does not */
    assert_non_null(strstr(s, "new ok"));
    assert_non_null(strstr(s, "\nstore err store limit reached: this actor may add 100 bytes"));
    free(s);
    rtt_stop(&t);
}

/* The outcomes of asynchronous requests, in the order they came. */
typedef struct outcomes {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int n;
    int status[8];
} outcomes;

static outcomes g_outcomes = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, {0}};

static void on_outcome(void *ud, int status, const uint8_t *data, size_t len, const char *msg,
                       const char *backtrace)
{
    (void)ud, (void)data, (void)len, (void)msg, (void)backtrace;
    pthread_mutex_lock(&g_outcomes.lock);
    if (g_outcomes.n < 8)
        g_outcomes.status[g_outcomes.n] = status;
    g_outcomes.n++;
    pthread_cond_broadcast(&g_outcomes.cond);
    pthread_mutex_unlock(&g_outcomes.lock);
}

/* Wait until `n` outcomes came (at most 10 s). */
static int outcomes_wait(int n)
{
    struct timespec until;
    int got;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    pthread_mutex_lock(&g_outcomes.lock);
    while (g_outcomes.n < n &&
           pthread_cond_timedwait(&g_outcomes.cond, &g_outcomes.lock, &until) == 0)
        ;
    got = g_outcomes.n;
    pthread_mutex_unlock(&g_outcomes.lock);
    return got;
}

/* A deferred request: sent, and listed by the actor. */
static void defer_one(rtt *t, const char *id, size_t listed)
{
    th_error err;
    char *s;
    int i;

    assert_int_equal(
        th_runtime_request_async(t->rt, id, (const uint8_t *)"defer", 5, 0, on_outcome, NULL, &err),
        0);
    for (i = 0; i < 1000; i++) {
        s = rtt_ask(t, id, 5000, "outstanding");
        size_t n = strcmp(s, "ok none") == 0 ? 0 : (strlen(s) - 2) / 37;
        free(s);
        if (n == listed)
            return;
        usleep(10000);
    }
    fail_msg("%zu deferred requests never listed", listed);
}

/* The probe, which defers requests ("defer") and answers them later, with
 * room for 3 of them (limits.mailbox_messages). */
static void spawn_deferrer(rtt *t, char id[TH_ACTOR_ID_SIZE])
{
    rtt_spawn_state(
        t,
        rtt_manifest(t, "probe", rtt_module("probe"),
                     "runtime message-server supervisor store timing random environment",
                     "[limits]\nmailbox_messages = 3\n" FS_ALL),
        NULL, id);
}

/* Deferred requests (answered later with respond-to-request) are bounded
 * like the mailbox: beyond it the request gets an error at once
 * (TH_EBUSY).  Only requests whose requester still waits count. */
static void test_outstanding_requests(void **unused)
{
    rtt t;
    char id[TH_ACTOR_ID_SIZE];
    uint8_t *resp;
    size_t len;
    th_error err;
    int i;

    (void)unused;
    rtt_start(&t, 2);
    spawn_deferrer(&t, id);
    g_outcomes.n = 0;
    for (i = 0; i < 3; i++)
        defer_one(&t, id, (size_t)i + 1);
    /* answering one makes room for one more */
    assert_int_equal(th_runtime_request(t.rt, id, (const uint8_t *)"respond-last x", 14, 5000,
                                        &resp, &len, &err),
                     0);
    assert_memory_equal(resp, "ok", 2);
    free(resp);
    assert_int_equal(outcomes_wait(1), 1);
    assert_int_equal(g_outcomes.status[0], 0);
    defer_one(&t, id, 3);
    /* the bound is reached: the next one is refused at once */
    assert_int_equal(
        th_runtime_request(t.rt, id, (const uint8_t *)"defer", 5, 5000, &resp, &len, &err),
        TH_EBUSY);
    assert_non_null(strstr(err.msg, "has 3 outstanding requests, its limit"));
    rtt_stop(&t);
    assert_int_equal(outcomes_wait(4), 4); /* the rest end with the runtime */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spawn_bomb),
        cmocka_unit_test(test_spawn_bomb_limit),
        cmocka_unit_test(test_children_limit),
        cmocka_unit_test(test_max_actors),
        cmocka_unit_test(test_mailbox_external),
        cmocka_unit_test(test_mailbox_toobig),
        cmocka_unit_test(test_mailbox_header_documented),
        cmocka_unit_test(test_flood_held),
        cmocka_unit_test(test_flood_timeout),
        cmocka_unit_test(test_flood_delivered),
        cmocka_unit_test(test_store_bytes),
        cmocka_unit_test(test_outstanding_requests),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
