/*
 * test_compat.c - the compatibility listener (src/server/compat.c) driven
 * as the original Theater system's clients drive its server: a TCP client
 * on 127.0.0.1 writes u32 big-endian length-prefixed frames holding the
 * serde_json text of ManagementCommand values, with a real runtime and the
 * example actors behind the listener.  Every answer is compared byte for
 * byte with what the original serializes (ids filled in once known).
 *
 * Also: the fragmenting layer (Complete and Fragment frames), malformed
 * and hostile input (bad JSON, unknown variants, a 4 GiB length prefix,
 * bad fragments), and the loopback-only rule.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "../runtime/rt_test_util.h"
#include "base/base64.h"
#include "server/compat.h"
#include "test_skip.h"

static rtt T;
static srv_compat *S;

/* ------------------------------------------------------------------ */
/* A client                                                           */

#define STASH 64

typedef struct client {
    int fd;
    char *stash[STASH]; /* frames read while waiting for another */
    int nstash;
} client;

static void client_open(client *c)
{
    struct sockaddr_in a = {0};

    memset(c, 0, sizeof *c);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(c->fd >= 0);
    a.sin_family = AF_INET;
    a.sin_port = htons(srv_compat_port(S));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(c->fd, (struct sockaddr *)&a, sizeof a), 0);
}

static void client_close(client *c)
{
    int i;

    for (i = 0; i < c->nstash; i++)
        free(c->stash[i]);
    close(c->fd);
}

static void send_all(client *c, const void *p, size_t n)
{
    const uint8_t *b = p;

    while (n > 0) {
        ssize_t k = send(c->fd, b, n, MSG_NOSIGNAL);
        assert_true(k > 0);
        b += k;
        n -= (size_t)k;
    }
}

static void send_frame_n(client *c, const void *p, size_t n)
{
    uint8_t h[4] = {(uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n};

    send_all(c, h, 4);
    send_all(c, p, n);
}

static void send_frame(client *c, const char *json)
{
    send_frame_n(c, json, strlen(json));
}

static void send_framef(client *c, const char *fmt, ...)
{
    char buf[8192];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    send_frame(c, buf);
}

/* Read exactly n bytes within `ms`; false on timeout or end of stream. */
static bool recv_exact(client *c, uint8_t *p, size_t n, int ms)
{
    struct pollfd pfd = {c->fd, POLLIN, 0};

    while (n > 0) {
        ssize_t k;
        if (poll(&pfd, 1, ms) <= 0)
            return false;
        k = recv(c->fd, p, n, 0);
        if (k <= 0)
            return false;
        p += k;
        n -= (size_t)k;
    }
    return true;
}

/* The next frame from the socket (NUL-terminated, malloc'd) or NULL. */
static char *read_frame(client *c, int ms)
{
    uint8_t h[4];
    uint32_t n;
    char *p;

    if (!recv_exact(c, h, 4, ms))
        return NULL;
    n = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
    p = malloc((size_t)n + 1);
    assert_non_null(p);
    if (!recv_exact(c, (uint8_t *)p, n, ms)) {
        free(p);
        return NULL;
    }
    p[n] = 0;
    return p;
}

/* The first frame (stashed first) starting with `prefix`; others are
 * stashed.  Fails the test after 10 s. */
static char *next_with(client *c, const char *prefix)
{
    int i;
    char *f;

    for (i = 0; i < c->nstash; i++) {
        if (strncmp(c->stash[i], prefix, strlen(prefix)) == 0) {
            f = c->stash[i];
            memmove(&c->stash[i], &c->stash[i + 1], (size_t)(c->nstash - i - 1) * sizeof f);
            c->nstash--;
            return f;
        }
    }
    for (;;) {
        f = read_frame(c, 10000);
        if (f == NULL)
            fail_msg("no frame starting with %s", prefix);
        if (strncmp(f, prefix, strlen(prefix)) == 0)
            return f;
        assert_true(c->nstash < STASH);
        c->stash[c->nstash++] = f;
    }
}

/* The next frame must be exactly `want` (stash ignored: use for answers
 * that nothing else can precede). */
static void expect(client *c, const char *want)
{
    char *f = next_with(c, "");

    assert_string_equal(f, want);
    free(f);
}

static void expectf(client *c, const char *fmt, ...)
{
    char buf[8192];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    expect(c, buf);
}

/* Send, then take the answer starting with `prefix` (events may come in
 * between and are stashed). */
static char *ask(client *c, const char *cmd, const char *prefix)
{
    send_frame(c, cmd);
    return next_with(c, prefix);
}

/* The id in {"ActorStarted":{"id":"..."}}. */
static void started_id(const char *frame, char id[37])
{
    const char *pre = "{\"ActorStarted\":{\"id\":\"";

    assert_int_equal(strncmp(frame, pre, strlen(pre)), 0);
    assert_int_equal(strlen(frame), strlen(pre) + 36 + 3);
    memcpy(id, frame + strlen(pre), 36);
    id[36] = 0;
    assert_string_equal(frame + strlen(pre) + 36, "\"}}");
}

static void start(client *c, const char *example, const char *extra, char id[37])
{
    char cmd[2048];
    char *f;

    snprintf(cmd, sizeof cmd, "{\"StartActor\":{\"manifest\":\"%s\",%s}}", rtt_example(example),
             extra);
    f = ask(c, cmd, "{\"ActorStarted\"");
    started_id(f, id);
    free(f);
}

/* ------------------------------------------------------------------ */
/* Fixture                                                            */

static int setup(void **state)
{
    th_error e;

    (void)state;
    if (rtt_example("counter") == NULL || rtt_example("echo") == NULL)
        return 0;
    rtt_start(&T, 2);
    th_error_clear(&e);
    assert_int_equal(srv_compat_start(T.rt, "127.0.0.1:0", false, &S, &e), 0);
    assert_true(srv_compat_port(S) > 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (S == NULL)
        return 0;
    srv_compat_stop(S);
    S = NULL;
    rtt_stop(&T);
    return 0;
}

#define NEED_ACTORS() \
    do { \
        if (S == NULL) \
            th_skip_missing("the example actors counter and echo (the wasm32 guest toolchain)"); \
    } while (0)

/* ------------------------------------------------------------------ */
/* Commands                                                           */

/* StartActor, ListActors, GetActorState, SendActorMessage,
 * RequestActorMessage, GetActorStatus, RestartActor, StopActor,
 * TerminateActor and the errors for a stopped actor. */
static void test_lifecycle(void **state)
{
    client c;
    char id[37], id2[37], *f;
    int i;

    (void)state;
    NEED_ACTORS();
    client_open(&c);
    send_frame(&c, "\"ListActors\"");
    expect(&c, "{\"ActorList\":{\"actors\":[]}}");
    start(&c, "counter", "\"initial_state\":[52,50],\"parent\":false,\"subscribe\":false", id);
    /* a unit variant may also come as {"ListActors":null} */
    send_frame(&c, "{\"ListActors\":null}");
    expectf(&c, "{\"ActorList\":{\"actors\":[[\"%s\",\"counter\"]]}}", id);
    send_framef(&c, "{\"GetActorState\":{\"id\":\"%s\"}}", id);
    expectf(&c, "{\"ActorState\":{\"id\":\"%s\",\"state\":[52,50]}}", id);
    send_framef(&c, "{\"SendActorMessage\":{\"id\":\"%s\",\"data\":[53]}}", id);
    expectf(&c, "{\"SentMessage\":{\"id\":\"%s\"}}", id);
    send_framef(&c, "{\"RequestActorMessage\":{\"id\":\"%s\",\"data\":[]}}", id);
    expectf(&c, "{\"RequestedMessage\":{\"id\":\"%s\",\"message\":[52,55]}}", id);
    send_framef(&c, "{\"GetActorStatus\":{\"id\":\"%s\"}}", id);
    expectf(&c, "{\"ActorStatus\":{\"id\":\"%s\",\"status\":\"Running\"}}", id);
    /* the id in another of the forms the uuid crate accepts */
    send_framef(&c, "{\"GetActorStatus\":{\"id\":\"{%.8s-%.4s-%.4s-%.4s-%.12s}\"}}", id, id + 9,
                id + 14, id + 19, id + 24);
    expectf(&c, "{\"ActorStatus\":{\"id\":\"%s\",\"status\":\"Running\"}}", id);

    /* RestartActor: the state goes back to the initial state */
    send_framef(&c, "{\"RestartActor\":{\"id\":\"%s\"}}", id);
    expectf(&c, "{\"Restarted\":{\"id\":\"%s\"}}", id);
    for (i = 0; i < 200; i++) {
        send_framef(&c, "{\"RequestActorMessage\":{\"id\":\"%s\",\"data\":[]}}", id);
        f = next_with(&c, "");
        if (strstr(f, "\"message\":[52,50]") != NULL) {
            free(f);
            break;
        }
        free(f);
        usleep(10000);
    }
    assert_true(i < 200);

    send_framef(&c, "{\"StopActor\":{\"id\":\"%s\"}}", id);
    expectf(&c, "{\"ActorStopped\":{\"id\":\"%s\"}}", id);
    send_framef(&c, "{\"GetActorState\":{\"id\":\"%s\"}}", id);
    expect(&c, "{\"Error\":{\"error\":\"ActorNotFound\"}}");
    send_framef(&c, "{\"GetActorStatus\":{\"id\":\"%s\"}}", id);
    expect(&c, "{\"Error\":{\"error\":\"ActorNotFound\"}}");
    send_framef(&c, "{\"SendActorMessage\":{\"id\":\"%s\",\"data\":[1]}}", id);
    expect(&c, "{\"Error\":{\"error\":\"ActorNotFound\"}}");
    send_framef(&c, "{\"RequestActorMessage\":{\"id\":\"%s\",\"data\":[1]}}", id);
    expect(&c, "{\"Error\":{\"error\":\"ActorNotFound\"}}");
    send_framef(&c, "{\"StopActor\":{\"id\":\"%s\"}}", id);
    expect(&c, "{\"Error\":{\"error\":\"ActorNotFound\"}}");

    /* TerminateActor (a struct variant may come as a sequence too) */
    start(&c, "counter", "\"initial_state\":null,\"parent\":false,\"subscribe\":false", id2);
    send_framef(&c, "{\"GetActorState\":[\"%s\"]}", id2);
    expectf(&c, "{\"ActorState\":{\"id\":\"%s\",\"state\":[48]}}", id2);
    send_framef(&c, "{\"TerminateActor\":{\"id\":\"%s\"}}", id2);
    expectf(&c, "{\"ActorStopped\":{\"id\":\"%s\"}}", id2);
    send_frame(&c, "\"ListActors\"");
    expect(&c, "{\"ActorList\":{\"actors\":[]}}");
    client_close(&c);
}

/* A failed start: the original's RuntimeError, and nothing left behind. */
static void test_start_errors(void **state)
{
    client c;
    char *f;

    (void)state;
    NEED_ACTORS();
    client_open(&c);
    f = ask(&c,
            "{\"StartActor\":{\"manifest\":\"/nonexistent/x.toml\",\"initial_state\":null,"
            "\"parent\":false,\"subscribe\":false}}",
            "");
    assert_int_equal(
        strncmp(f, "{\"Error\":{\"error\":{\"RuntimeError\":\"Failed to start actor: ", 57), 0);
    assert_string_equal(f + strlen(f) - 4, "\"}}}");
    free(f);
    /* an older client leaves parent and subscribe out: accepted */
    f = ask(&c, "{\"StartActor\":{\"manifest\":\"/nonexistent/y.toml\",\"initial_state\":null}}",
            "");
    assert_int_equal(strncmp(f, "{\"Error\":{\"error\":{\"RuntimeError\":", 34), 0);
    free(f);
    send_frame(&c, "\"ListActors\"");
    expect(&c, "{\"ActorList\":{\"actors\":[]}}");
    client_close(&c);
}

/* Checks a ChainEvent array: every event has the original's six fields in
 * order, parents link, hashes are 32 bytes. */
static size_t check_events(json_t *events, const char *want_type)
{
    size_t i, n = json_array_size(events);
    json_t *prev = NULL;
    bool found = want_type == NULL;

    for (i = 0; i < n; i++) {
        json_t *e = json_array_get(events, i);
        const char *keys[] = {"hash", "parent_hash", "event_type",
                              "data", "timestamp",   "description"};
        void *it = json_object_iter(e);
        for (size_t k = 0; k < 6; k++, it = json_object_iter_next(e, it)) {
            assert_non_null(it);
            assert_string_equal(json_object_iter_key(it), keys[k]);
        }
        assert_null(it);
        assert_int_equal(json_array_size(json_object_get(e, "hash")), 32);
        if (prev == NULL)
            assert_true(json_is_null(json_object_get(e, "parent_hash")));
        else
            assert_true(
                json_equal(json_object_get(e, "parent_hash"), json_object_get(prev, "hash")));
        assert_true(json_is_integer(json_object_get(e, "timestamp")));
        assert_true(json_is_null(json_object_get(e, "description")));
        if (want_type != NULL &&
            strcmp(json_string_value(json_object_get(e, "event_type")), want_type) == 0)
            found = true;
        prev = e;
    }
    assert_true(found);
    return n;
}

/* GetActorEvents, SubscribeToActor, UnsubscribeFromActor, GetActorMetrics,
 * GetActorManifest. */
static void test_events(void **state)
{
    client c;
    char id[37], sub[37], pre[1024], *f;
    json_t *root;
    size_t n;

    (void)state;
    NEED_ACTORS();
    client_open(&c);
    start(&c, "counter", "\"initial_state\":[55],\"parent\":false,\"subscribe\":false", id);

    send_framef(&c, "{\"GetActorEvents\":{\"id\":\"%s\"}}", id);
    f = next_with(&c, "");
    snprintf(pre, sizeof pre, "{\"ActorEvents\":{\"id\":\"%s\",\"events\":[{\"hash\":[", id);
    assert_int_equal(strncmp(f, pre, strlen(pre)), 0);
    root = json_loads(f, 0, NULL);
    assert_non_null(root);
    n = check_events(json_object_get(json_object_get(root, "ActorEvents"), "events"),
                     "actor-spawned");
    assert_true(n >= 2);
    json_decref(root);
    free(f);

    /* subscribed: the next message's events arrive as ActorEvent */
    send_framef(&c, "{\"SubscribeToActor\":{\"id\":\"%s\"}}", id);
    f = next_with(&c, "{\"Subscribed\"");
    snprintf(pre, sizeof pre, "{\"Subscribed\":{\"id\":\"%s\",\"subscription_id\":\"", id);
    assert_int_equal(strncmp(f, pre, strlen(pre)), 0);
    memcpy(sub, f + strlen(pre), 36);
    sub[36] = 0;
    assert_string_equal(f + strlen(pre) + 36, "\"}}");
    free(f);
    send_framef(&c, "{\"SendActorMessage\":{\"id\":\"%s\",\"data\":[49]}}", id);
    f = next_with(&c, "{\"SentMessage\"");
    free(f);
    f = next_with(&c, "{\"ActorEvent\":{\"event\":{\"hash\":[");
    root = json_loads(f, 0, NULL);
    assert_non_null(root);
    assert_string_equal(
        json_string_value(json_object_get(
            json_object_get(json_object_get(root, "ActorEvent"), "event"), "event_type")),
        "wasm-call");
    assert_int_equal(
        json_array_size(json_object_get(
            json_object_get(json_object_get(root, "ActorEvent"), "event"), "parent_hash")),
        32);
    json_decref(root);
    free(f);

    send_framef(&c, "{\"UnsubscribeFromActor\":{\"id\":\"%s\",\"subscription_id\":\"%s\"}}", id,
                sub);
    f = next_with(&c, "{\"Unsubscribed\"");
    snprintf(pre, sizeof pre, "{\"Unsubscribed\":{\"id\":\"%s\"}}", id);
    assert_string_equal(f, pre);
    free(f);
    /* drop events still in flight (until 100 ms pass without one), then
     * nothing more comes */
    while (c.nstash > 0)
        free(c.stash[--c.nstash]);
    while ((f = read_frame(&c, 100)) != NULL)
        free(f);
    send_framef(&c, "{\"SendActorMessage\":{\"id\":\"%s\",\"data\":[49]}}", id);
    snprintf(pre, sizeof pre, "{\"SentMessage\":{\"id\":\"%s\"}}", id);
    expect(&c, pre);
    f = read_frame(&c, 300);
    assert_null(f);

    send_framef(&c, "{\"GetActorMetrics\":{\"id\":\"%s\"}}", id);
    f = next_with(&c, "");
    snprintf(pre, sizeof pre,
             "{\"ActorMetrics\":{\"id\":\"%s\",\"metrics\":{\"operation_metrics\":{\"total_"
             "operations\":3,"
             "\"failed_operations\":0,\"total_processing_time\":0,\"max_processing_time\":0,"
             "\"min_processing_time\":null},\"resource_metrics\":{\"memory_usage\":",
             id);
    assert_int_equal(strncmp(f, pre, strlen(pre)), 0);
    root = json_loads(f, 0, NULL);
    assert_non_null(root);
    {
        json_t *m = json_object_get(json_object_get(root, "ActorMetrics"), "metrics");
        const char *keys[] = {"operation_metrics", "resource_metrics", "last_update", "uptime_secs",
                              "start_time"};
        void *it = json_object_iter(m);
        for (size_t k = 0; k < 5; k++, it = json_object_iter_next(m, it))
            assert_string_equal(json_object_iter_key(it), keys[k]);
        assert_true(json_integer_value(json_object_get(json_object_get(m, "resource_metrics"),
                                                       "memory_usage")) > 0);
        assert_true(json_integer_value(json_object_get(m, "start_time")) > 1700000000);
        assert_true(json_integer_value(json_object_get(m, "last_update")) >=
                    json_integer_value(json_object_get(m, "start_time")));
    }
    json_decref(root);
    free(f);

    send_framef(&c, "{\"GetActorManifest\":{\"id\":\"%s\"}}", id);
    expectf(&c,
            "{\"ActorManifest\":{\"id\":\"%s\",\"manifest\":{\"name\":\"counter\",\"version\":\"0."
            "1.0\","
            "\"component\":\"counter.wasm\",\"description\":\"Counts one-way messages and answers "
            "requests with the "
            "count\",\"long_description\":null,\"save_chain\":null,\"init_state\":null,"
            "\"handler\":[{\"type\":\"runtime\"},{\"type\":\"message-server\"}]}}}",
            id);

    send_framef(&c, "{\"StopActor\":{\"id\":\"%s\"}}", id);
    expectf(&c, "{\"ActorStopped\":{\"id\":\"%s\"}}", id);
    send_framef(&c, "{\"GetActorEvents\":{\"id\":\"%s\"}}", id);
    expect(&c, "{\"Error\":{\"error\":\"ActorNotFound\"}}");
    send_framef(&c, "{\"GetActorManifest\":{\"id\":\"%s\"}}", id);
    expect(&c, "{\"Error\":{\"error\":\"ActorNotFound\"}}");
    send_framef(&c, "{\"GetActorMetrics\":{\"id\":\"%s\"}}", id);
    expect(&c, "{\"Error\":{\"error\":\"ActorNotFound\"}}");
    client_close(&c);
}

/* StartActor with subscribe and parent: the init's events come as
 * ActorEvent, the end as ActorResult (ExternalStop, Success, Error). */
static void test_start_subscribed(void **state)
{
    client c;
    char id[37], want[512], *f;
    json_t *root;

    (void)state;
    NEED_ACTORS();
    client_open(&c);
    start(&c, "counter", "\"initial_state\":null,\"parent\":true,\"subscribe\":true", id);
    f = next_with(&c, "{\"ActorEvent\":{\"event\":{\"hash\":[");
    root = json_loads(f, 0, NULL);
    assert_non_null(root);
    /* the very first event: no parent */
    assert_string_equal(
        json_string_value(json_object_get(
            json_object_get(json_object_get(root, "ActorEvent"), "event"), "event_type")),
        "actor-spawned");
    assert_true(json_is_null(json_object_get(
        json_object_get(json_object_get(root, "ActorEvent"), "event"), "parent_hash")));
    json_decref(root);
    free(f);
    send_framef(&c, "{\"StopActor\":{\"id\":\"%s\"}}", id);
    f = next_with(&c, "{\"ActorResult\"");
    snprintf(want, sizeof want, "{\"ActorResult\":{\"ExternalStop\":{\"actor_id\":\"%s\"}}}", id);
    assert_string_equal(f, want);
    free(f);
    f = next_with(&c, "{\"ActorStopped\"");
    free(f);

    /* a worker that traps: ActorError to the subscriber, ActorResult Error
       to the parent, with the failure's own event as Internal */
    start(&c, "worker", "\"initial_state\":null,\"parent\":true,\"subscribe\":true", id);
    send_framef(&c, "{\"SendActorMessage\":{\"id\":\"%s\",\"data\":[99,114,97,115,104]}}", id);
    f = next_with(&c, "{\"ActorError\":{\"error\":{\"Internal\":{\"hash\":[");
    free(f);
    f = next_with(&c, "{\"ActorResult\":{\"Error\":{\"actor_id\":");
    snprintf(want, sizeof want,
             "{\"ActorResult\":{\"Error\":{\"actor_id\":\"%s\",\"error\":{\"Internal\":{\"hash\":[",
             id);
    assert_int_equal(strncmp(f, want, strlen(want)), 0);
    assert_non_null(strstr(f, "\"event_type\":\"actor-failed\""));
    free(f);
    send_framef(&c, "{\"GetActorStatus\":{\"id\":\"%s\"}}", id);
    f = next_with(&c, "{\"ActorStatus\"");
    snprintf(want, sizeof want, "{\"ActorStatus\":{\"id\":\"%s\",\"status\":\"Failed\"}}", id);
    assert_string_equal(f, want);
    free(f);
    send_framef(&c, "{\"StopActor\":{\"id\":\"%s\"}}", id);
    f = next_with(&c, "{\"ActorStopped\"");
    free(f);
    f = ask(&c, "\"ListActors\"", "{\"ActorList\"");
    assert_string_equal(f, "{\"ActorList\":{\"actors\":[]}}");
    free(f);
    client_close(&c);
}

/* OpenChannel (the echo actor accepts with the initial message),
 * SendOnChannel (echoed back as ChannelMessage), CloseChannel. */
static void test_channels(void **state)
{
    client c;
    char id[37], ch[36], want[512], *f;
    const char *pre;

    (void)state;
    NEED_ACTORS();
    client_open(&c);
    start(&c, "echo", "\"initial_state\":null,\"parent\":false,\"subscribe\":false", id);
    send_framef(&c,
                "{\"OpenChannel\":{\"actor_id\":{\"Actor\":\"%s\"},\"initial_message\":[104,105]}}",
                id);
    f = next_with(&c, "");
    pre = "{\"ChannelOpened\":{\"channel_id\":\"ch_";
    assert_int_equal(strncmp(f, pre, strlen(pre)), 0);
    memcpy(ch, f + strlen(pre) - 3, 35);
    ch[35] = 0;
    snprintf(want, sizeof want,
             "{\"ChannelOpened\":{\"channel_id\":\"%s\",\"actor_id\":{\"Actor\":\"%s\"}}}", ch, id);
    assert_string_equal(f, want);
    free(f);
    /* the accept's message comes after ChannelOpened */
    expectf(&c,
            "{\"ChannelMessage\":{\"channel_id\":\"%s\",\"sender_id\":{\"Actor\":\"%s\"},"
            "\"message\":[104,105]}}",
            ch, id);

    send_framef(&c, "{\"SendOnChannel\":{\"channel_id\":\"%s\",\"message\":[111,107]}}", ch);
    f = next_with(&c, "{\"MessageSent\"");
    snprintf(want, sizeof want, "{\"MessageSent\":{\"channel_id\":\"%s\"}}", ch);
    assert_string_equal(f, want);
    free(f);
    f = next_with(&c, "{\"ChannelMessage\"");
    snprintf(want, sizeof want,
             "{\"ChannelMessage\":{\"channel_id\":\"%s\",\"sender_id\":{\"Actor\":\"%s\"},"
             "\"message\":[111,107]}}",
             ch, id);
    assert_string_equal(f, want);
    free(f);

    send_framef(&c, "{\"CloseChannel\":{\"channel_id\":\"%s\"}}", ch);
    expectf(&c, "{\"ChannelClosed\":{\"channel_id\":\"%s\"}}", ch);
    send_framef(&c, "{\"SendOnChannel\":{\"channel_id\":\"%s\",\"message\":[1]}}", ch);
    expect(&c, "{\"Error\":{\"error\":\"ChannelNotFound\"}}");
    send_frame(&c, "{\"SendOnChannel\":{\"channel_id\":\"nope\",\"message\":[1]}}");
    expect(&c, "{\"Error\":{\"error\":\"ChannelNotFound\"}}");
    send_frame(&c, "{\"CloseChannel\":{\"channel_id\":\"ch_00000000000000000000000000000000\"}}");
    expect(&c, "{\"Error\":{\"error\":\"ChannelNotFound\"}}");
    send_frame(&c, "{\"OpenChannel\":{\"actor_id\":\"External\",\"initial_message\":[]}}");
    expect(&c, "{\"Error\":{\"error\":{\"InvalidRequest\":\"a channel needs an actor at the other "
               "end\"}}}");
    send_frame(
        &c, "{\"OpenChannel\":{\"actor_id\":{\"Actor\":\"00000000-0000-4000-8000-000000000000\"},"
            "\"initial_message\":[]}}");
    expect(&c, "{\"Error\":{\"error\":\"ActorNotFound\"}}");

    /* the actor ends: the client hears ChannelClosed */
    send_framef(&c, "{\"OpenChannel\":{\"actor_id\":{\"Actor\":\"%s\"},\"initial_message\":[]}}",
                id);
    f = next_with(&c, "{\"ChannelOpened\"");
    memcpy(ch, f + strlen(pre) - 3, 35);
    free(f);
    f = next_with(&c, "{\"ChannelMessage\"");
    free(f);
    send_framef(&c, "{\"StopActor\":{\"id\":\"%s\"}}", id);
    f = next_with(&c, "{\"ChannelClosed\"");
    snprintf(want, sizeof want, "{\"ChannelClosed\":{\"channel_id\":\"%s\"}}", ch);
    assert_string_equal(f, want);
    free(f);
    f = next_with(&c, "{\"ActorStopped\"");
    free(f);
    client_close(&c);
}

/* NewStore; UpdateActorComponent / UpdateActorPackage: the hot upgrade
 * (state kept, component-updated on the chain), its errors (an unknown
 * actor, code that is not wasm: the old code keeps running). */
static void test_store_and_update(void **state)
{
    client c;
    char *f, id[37], wasm[512], toml[512];
    const char *pre = "{\"StoreCreated\":{\"store_id\":\"";

    (void)state;
    NEED_ACTORS();
    client_open(&c);
    f = ask(&c, "{\"NewStore\":{}}", "");
    assert_int_equal(strncmp(f, pre, strlen(pre)), 0);
    assert_int_equal(strlen(f), strlen(pre) + 36 + 3);
    assert_string_equal(f + strlen(pre) + 36, "\"}}");
    free(f);
    snprintf(toml, sizeof toml, "%s", rtt_example("counter"));
    snprintf(wasm, sizeof wasm, "%.*s.wasm", (int)(strlen(toml) - 5), toml);
    send_framef(&c,
                "{\"UpdateActorComponent\":{\"id\":\"00000000-0000-4000-8000-000000000000\","
                "\"component\":\"%s\"}}",
                wasm);
    expect(&c, "{\"Error\":{\"error\":\"ActorNotFound\"}}");
    start(&c, "counter", "\"initial_state\":[52,50],\"parent\":false,\"subscribe\":false", id);
    send_framef(&c, "{\"UpdateActorComponent\":{\"id\":\"%s\",\"component\":\"%s\"}}", id, wasm);
    expectf(&c, "{\"ActorComponentUpdated\":{\"id\":\"%s\"}}", id);
    send_framef(&c, "{\"UpdateActorPackage\":{\"id\":\"%s\",\"package\":\"%s\"}}", id, wasm);
    expectf(&c, "{\"ActorComponentUpdated\":{\"id\":\"%s\"}}", id);
    /* the state is kept, and the chain says what happened */
    send_framef(&c, "{\"GetActorState\":{\"id\":\"%s\"}}", id);
    expectf(&c, "{\"ActorState\":{\"id\":\"%s\",\"state\":[52,50]}}", id);
    send_framef(&c, "{\"GetActorEvents\":{\"id\":\"%s\"}}", id);
    f = next_with(&c, "{\"ActorEvents\"");
    assert_non_null(strstr(f, "\"event_type\":\"component-updated\""));
    free(f);
    /* not wasm: refused, and the old code still answers */
    send_framef(&c, "{\"UpdateActorComponent\":{\"id\":\"%s\",\"component\":\"%s\"}}", id, toml);
    f = next_with(&c, "{\"Error\":{\"error\":{\"RuntimeError\":\"Failed to update actor "
                      "component: ");
    free(f);
    send_framef(&c, "{\"RequestActorMessage\":{\"id\":\"%s\",\"data\":[]}}", id);
    expectf(&c, "{\"RequestedMessage\":{\"id\":\"%s\",\"message\":[52,50]}}", id);
    send_framef(&c, "{\"StopActor\":{\"id\":\"%s\"}}", id);
    f = next_with(&c, "{\"ActorStopped\"");
    free(f);
    client_close(&c);
}

/* StartActor with the manifest's TOML itself (save_chain = false: the
 * chain in memory), GetActorManifest with every handler's config in the
 * original's shape, and the end of a parented actor that shuts itself
 * down: ActorResult Success with its data. */
static void test_probe_manifest_and_exit(void **state)
{
    client c;
    char toml[4096], dir[512], id[37], want[4096], *f;
    json_t *cmd;
    char *text;
    FILE *probe;

    (void)state;
    NEED_ACTORS();
    probe = fopen(rtt_module("probe"), "rb");
    if (probe == NULL)
        th_skip_missing("probe.wasm (the wasm32 guest toolchain)");
    fclose(probe);
    snprintf(dir, sizeof dir, "%s", T.home);
    snprintf(toml, sizeof toml,
             "name = \"probe\"\nversion = \"1.2.3\"\ncomponent = \"%s\"\nsave_chain = false\n"
             "[[handler]]\ntype = \"runtime\"\n[[handler]]\ntype = \"message-server\"\n"
             "[[handler]]\ntype = \"supervisor\"\n[[handler]]\ntype = \"store\"\n"
             "[[handler]]\ntype = \"timing\"\n[[handler]]\ntype = \"random\"\nseed = 7\n"
             "[[handler]]\ntype = \"environment\"\nallowed_vars = [\"RTT_X\"]\n"
             "[[handler]]\ntype = \"filesystem\"\npath = \"%s\"\n",
             rtt_module("probe"), dir);
    cmd = json_pack("{s:{s:s,s:n,s:b,s:b}}", "StartActor", "manifest", toml, "initial_state",
                    "parent", 1, "subscribe", 0);
    text = json_dumps(cmd, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(cmd);
    client_open(&c);
    f = ask(&c, text, "{\"ActorStarted\"");
    free(text);
    started_id(f, id);
    free(f);

    send_framef(&c, "{\"GetActorManifest\":{\"id\":\"%s\"}}", id);
    snprintf(
        want, sizeof want,
        "{\"ActorManifest\":{\"id\":\"%s\",\"manifest\":{\"name\":\"probe\",\"version\":\"1.2.3\","
        "\"component\":\"%s\",\"description\":null,\"long_description\":null,\"save_chain\":false,"
        "\"init_state\":null,\"handler\":[{\"type\":\"runtime\"},{\"type\":\"message-server\"},"
        "{\"type\":\"supervisor\"},{\"type\":\"store\"},{\"type\":\"timing\",\"max_sleep_"
        "duration\":3600000,"
        "\"min_sleep_duration\":1},{\"type\":\"random\",\"seed\":7,\"max_bytes\":1048576,"
        "\"max_int\":9223372036854775807,\"allow_crypto_secure\":false},{\"type\":\"environment\","
        "\"allowed_vars\":[\"RTT_X\"],\"denied_vars\":null,\"allow_list_all\":false,\"allowed_"
        "prefixes\":null},"
        "{\"type\":\"filesystem\",\"path\":\"%s\",\"new_dir\":null,\"allowed_commands\":null}]}}}",
        id, rtt_module("probe"), dir);
    expect(&c, want);

    /* the in-memory chain answers GetActorEvents too */
    send_framef(&c, "{\"GetActorEvents\":{\"id\":\"%s\"}}", id);
    f = next_with(&c, "{\"ActorEvents\"");
    {
        json_t *root = json_loads(f, 0, NULL);
        assert_non_null(root);
        check_events(json_object_get(json_object_get(root, "ActorEvents"), "events"),
                     "actor-spawned");
        json_decref(root);
    }
    free(f);

    /* "shutdown bye": runtime.shutdown(some("bye")) */
    send_framef(&c,
                "{\"RequestActorMessage\":{\"id\":\"%s\",\"data\":[115,104,117,116,100,111,119,110,"
                "32,98,121,101]}}",
                id);
    f = next_with(&c, "{\"ActorResult\"");
    snprintf(want, sizeof want,
             "{\"ActorResult\":{\"Success\":{\"actor_id\":\"%s\",\"result\":[98,121,101]}}}", id);
    assert_string_equal(f, want);
    free(f);
    f = ask(&c, "\"ListActors\"", "{\"ActorList\"");
    assert_string_equal(f, "{\"ActorList\":{\"actors\":[]}}");
    free(f);
    client_close(&c);
}

/* ------------------------------------------------------------------ */
/* The fragmenting layer                                              */

/* {"Complete":[...]} around `msg`. */
static char *complete_of(const char *msg)
{
    size_t n = strlen(msg), i, o;
    char *out = malloc(n * 4 + 32);

    assert_non_null(out);
    o = (size_t)sprintf(out, "{\"Complete\":[");
    for (i = 0; i < n; i++)
        o += (size_t)sprintf(out + o, i ? ",%u" : "%u", (unsigned char)msg[i]);
    sprintf(out + o, "]}");
    return out;
}

static void test_fragmenting(void **state)
{
    client c;
    char id[37], want[256], *f, *w;
    char buf[1024], frag[2][2048], b64[1024];
    size_t half, n;
    int i;

    (void)state;
    NEED_ACTORS();
    client_open(&c);
    /* a Complete frame is answered with a Complete frame */
    w = complete_of("\"ListActors\"");
    send_frame(&c, w);
    free(w);
    w = complete_of("{\"ActorList\":{\"actors\":[]}}");
    expect(&c, w);
    free(w);

    /* a command in two fragments, the second first */
    snprintf(buf, sizeof buf,
             "{\"StartActor\":{\"manifest\":\"%s\",\"initial_state\":[57],\"parent\":false,"
             "\"subscribe\":false}}",
             rtt_example("counter"));
    n = strlen(buf);
    half = n / 2;
    for (i = 0; i < 2; i++) {
        base_base64_encode(buf + (i ? half : 0), i ? n - half : half, b64);
        snprintf(frag[i], sizeof frag[i],
                 "{\"Fragment\":{\"message_id\":42,\"fragment_index\":%d,\"total_fragments\":2,"
                 "\"data\":\"%s\"}}",
                 i, b64);
    }
    send_frame(&c, frag[1]);
    send_frame(&c, frag[0]);
    f = next_with(&c, "{\"Complete\":[");
    json_t *root = json_loads(f, 0, NULL), *arr = json_object_get(root, "Complete");
    char inner[256];
    for (i = 0; i < (int)json_array_size(arr) && i < 255; i++)
        inner[i] = (char)json_integer_value(json_array_get(arr, (size_t)i));
    inner[i] = 0;
    json_decref(root);
    free(f);
    started_id(inner, id);
    snprintf(want, sizeof want, "{\"ActorState\":{\"id\":\"%s\",\"state\":[57]}}", id);
    snprintf(buf, sizeof buf, "{\"GetActorState\":{\"id\":\"%s\"}}", id);
    w = complete_of(buf);
    send_frame(&c, w);
    free(w);
    w = complete_of(want);
    expect(&c, w);
    free(w);
    snprintf(buf, sizeof buf, "{\"StopActor\":{\"id\":\"%s\"}}", id);
    w = complete_of(buf);
    send_frame(&c, w);
    free(w);
    f = next_with(&c, "{\"Complete\":[");
    free(f);

    /* a fragment out of range ends the connection, as the original's codec */
    send_frame(&c, "{\"Fragment\":{\"message_id\":1,\"fragment_index\":3,\"total_fragments\":2,"
                   "\"data\":\"\"}}");
    assert_null(read_frame(&c, 5000));
    client_close(&c);
}

/* ------------------------------------------------------------------ */
/* Hostile input                                                      */

static void test_malformed(void **state)
{
    client c;
    char *f;
    static const char *bad[] = {
        "{\"StartActor\":",
        "[1,2,3]",
        "{\"Bogus\":{}}",
        "\"StopActor\"",
        "{\"ListActors\":{}}",
        "{\"StopActor\":{\"id\":\"not-a-uuid\"}}",
        "{\"StopActor\":{}}",
        "{\"SendActorMessage\":{\"id\":\"00000000-0000-4000-8000-000000000000\",\"data\":[256]}}",
        "{\"SendActorMessage\":{\"id\":\"00000000-0000-4000-8000-000000000000\",\"data\":\"aGk=\"}"
        "}",
        "{\"StopActor\":{\"id\":\"00000000-0000-4000-8000-000000000000\"},\"id\":\"x\"}",
        "{\"StopActor\":{\"id\":\"00000000-0000-4000-8000-000000000000\",\"id\":\"00000000-0000-"
        "4000-8000-000000000000\"}}",
        "\xff\xfe",
        "",
        "{\"NewStore\":{}} trailing",
    };
    size_t i;

    (void)state;
    NEED_ACTORS();
    client_open(&c);
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        send_frame(&c, bad[i]);
        f = next_with(&c, "");
        if (strncmp(f, "{\"Error\":{\"error\":{\"SerializationError\":\"", 41) != 0)
            fail_msg("%s -> %s", bad[i], f);
        free(f);
    }
    /* unknown fields are ignored, as serde does */
    send_frame(&c, "{\"NewStore\":{\"extra\":[1,{}]}}");
    f = next_with(&c, "");
    assert_int_equal(strncmp(f, "{\"StoreCreated\"", 15), 0);
    free(f);
    /* still serving */
    send_frame(&c, "\"ListActors\"");
    expect(&c, "{\"ActorList\":{\"actors\":[]}}");

    /* a length prefix over the limit: the connection ends, the server stays */
    send_all(&c, "\xff\xff\xff\xff", 4);
    assert_null(read_frame(&c, 5000));
    client_close(&c);
    client_open(&c);
    send_frame(&c, "\"ListActors\"");
    expect(&c, "{\"ActorList\":{\"actors\":[]}}");
    /* a frame cut short, then the client goes away */
    send_all(&c, "\x00\x00\x10\x00{\"Li", 8);
    client_close(&c);
    client_open(&c);
    send_frame(&c, "\"ListActors\"");
    expect(&c, "{\"ActorList\":{\"actors\":[]}}");
    client_close(&c);
}

/* Several clients at once, each with its own answers. */
static void test_concurrent_clients(void **state)
{
    client c[4];
    char id[4][37];
    int i, k;

    (void)state;
    NEED_ACTORS();
    for (i = 0; i < 4; i++) {
        client_open(&c[i]);
        start(&c[i], "counter", "\"initial_state\":null,\"parent\":false,\"subscribe\":false",
              id[i]);
    }
    for (k = 0; k < 20; k++)
        for (i = 0; i < 4; i++)
            send_framef(&c[i], "{\"SendActorMessage\":{\"id\":\"%s\",\"data\":[]}}", id[i]);
    for (i = 0; i < 4; i++) {
        for (k = 0; k < 20; k++)
            expectf(&c[i], "{\"SentMessage\":{\"id\":\"%s\"}}", id[i]);
        send_framef(&c[i], "{\"RequestActorMessage\":{\"id\":\"%s\",\"data\":[]}}", id[i]);
        expectf(&c[i], "{\"RequestedMessage\":{\"id\":\"%s\",\"message\":[50,48]}}", id[i]);
        send_framef(&c[i], "{\"StopActor\":{\"id\":\"%s\"}}", id[i]);
        expectf(&c[i], "{\"ActorStopped\":{\"id\":\"%s\"}}", id[i]);
        client_close(&c[i]);
    }
}

/* At most TH_COMPAT_MAX_CONNECTIONS clients: the next ones are closed at
 * once; the server serves again when they go. */
static void test_connection_limit(void **state)
{
    enum { N = 72 };
    client c[N];
    int i, refused = 0;
    char *f;

    (void)state;
    NEED_ACTORS();
    /* (clients of earlier tests the server still counts would only be
     * more refusals: the bounds below hold either way) */
    for (i = 0; i < N; i++)
        client_open(&c[i]);
    for (i = 0; i < N; i++) {
        static const char lf[] = "\0\0\0\x0c\"ListActors\"";
        if (send(c[i].fd, lf, 16, MSG_NOSIGNAL) != 16) { /* closed already */
            refused++;
            continue;
        }
        f = read_frame(&c[i], 5000);
        if (f == NULL)
            refused++;
        else
            assert_string_equal(f, "{\"ActorList\":{\"actors\":[]}}");
        free(f);
    }
    assert_true(refused >= N - 64);
    assert_true(refused < N);
    for (i = 0; i < N; i++)
        client_close(&c[i]);
    /* once the server has seen them go (a client it still counts gets
     * closed at once: try again), a new client is served */
    f = NULL;
    for (i = 0; i < 600 && f == NULL; i++) {
        static const char lf[] = "\0\0\0\x0c\"ListActors\"";
        client_open(&c[0]);
        if (send(c[0].fd, lf, 16, MSG_NOSIGNAL) == 16)
            f = read_frame(&c[0], 5000);
        client_close(&c[0]);
        if (f == NULL)
            usleep(100000);
    }
    assert_non_null(f);
    assert_string_equal(f, "{\"ActorList\":{\"actors\":[]}}");
    free(f);
}

/* Only loopback addresses without the explicit flag. */
static void test_loopback_only(void **state)
{
    srv_compat *x = NULL;
    th_error e;

    (void)state;
    NEED_ACTORS();
    th_error_clear(&e);
    assert_int_equal(srv_compat_start(T.rt, "0.0.0.0:0", false, &x, &e), TH_EPERM);
    assert_null(x);
    assert_non_null(strstr(e.msg, "loopback"));
    assert_int_equal(srv_compat_start(T.rt, "127.0.0.1", false, &x, &e), TH_EINVAL);
    assert_int_equal(srv_compat_start(T.rt, "[::1]:0", false, &x, &e) == 0 || e.code == TH_EIO, 1);
    srv_compat_stop(x);
    x = NULL;
    assert_int_equal(srv_compat_start(T.rt, "0.0.0.0:0", true, &x, &e), 0);
    srv_compat_stop(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lifecycle),
        cmocka_unit_test(test_start_errors),
        cmocka_unit_test(test_events),
        cmocka_unit_test(test_start_subscribed),
        cmocka_unit_test(test_channels),
        cmocka_unit_test(test_store_and_update),
        cmocka_unit_test(test_probe_manifest_and_exit),
        cmocka_unit_test(test_fragmenting),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_concurrent_clients),
        cmocka_unit_test(test_connection_limit),
        cmocka_unit_test(test_loopback_only),
    };

    return th_test_exit(cmocka_run_group_tests(tests, setup, teardown));
}
