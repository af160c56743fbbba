/*
 * test_http_sdk.c - the C guest SDK's http-framework wrappers (ta_http_*)
 * and http-handlers export macros (TA_HANDLE_HTTP_REQUEST,
 * TA_HANDLE_MIDDLEWARE, TA_HANDLE_WS_*) end to end: serve_probe.c, an
 * actor written with the SDK alone, serves HTTP on 127.0.0.1 and curl and
 * a python3 WebSocket client (ws_talk.py) talk to it: a route with a path
 * parameter and the state threaded through, a removed route, a middleware
 * that refuses and one that changes the request, a removed middleware,
 * get-server-info, a second server through its whole life, and WebSocket
 * (send-websocket-message on connect, several replies, binary, a close
 * reply, close-websocket, disconnect, send-websocket-message and
 * close-websocket on a connection that has closed and on ids the server
 * never had).  The chain then verifies and replays identically.  When the
 * server stops (stop-server, the actor failing, the actor stopped, the
 * runtime shutting down), a WebSocket client gets a close frame, 1001,
 * before the connection ends.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "rt_test_util.h"
#include "test_skip.h"

/* Run a shell command; its stdout in a malloc'd string. */
static char *sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *sh(const char *fmt, ...)
{
    char cmd[4096], *out = NULL;
    size_t len = 0;
    va_list ap;
    FILE *f, *mem;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    f = popen(cmd, "r");
    assert_non_null(f);
    mem = open_memstream(&out, &len);
    assert_non_null(mem);
    for (int c; (c = fgetc(f)) != EOF;)
        fputc(c, mem);
    pclose(f);
    fclose(mem);
    return out;
}

/* `cmd`'s output must be exactly `want`. */
#define EXPECT_OUT(want, ...) \
    do { \
        char *out_ = sh(__VA_ARGS__); \
        if (strcmp(out_, want) != 0) \
            fail_msg("expected \"%s\", got \"%s\"", want, out_); \
        free(out_); \
    } while (0)

#define CURL "curl -s -S -m 10 "

/* The port the actor logged. */
static unsigned logged_port(rtt *t)
{
    unsigned port = 0;
    const char *p;

    for (int i = 0; i < 500 && port == 0; i++) {
        pthread_mutex_lock(&t->log.lock);
        p = strstr(t->log.text ? t->log.text : "", "listening on port ");
        if (p != NULL)
            port = (unsigned)atoi(p + strlen("listening on port "));
        pthread_mutex_unlock(&t->log.lock);
        if (port == 0)
            usleep(10000);
    }
    assert_true(port > 0);
    return port;
}

static void test_sdk_server(void **state)
{
    const char *wasm = rtt_module("serve_probe"), *src = getenv("THEATER_SOURCE_DIR");
    char id[TH_ACTOR_ID_SIZE], *out;
    unsigned port, sid;
    rtt t;

    (void)state;
    if (access(wasm, R_OK) != 0 || src == NULL)
        th_skip_missing("serve_probe.wasm (the wasm32 guest toolchain) or THEATER_SOURCE_DIR");
    rtt_start(&t, 2);
    rtt_spawn_state(&t, rtt_manifest(&t, "serve_probe", wasm, "runtime http-framework", NULL), NULL,
                    id);
    port = logged_port(&t);

    /* the second server: create, info, start, info, stop, info, destroy */
    assert_true(rtt_log_has(&t, "second server: new running=0, started running=1 port=match "
                                "host=127.0.0.1, stopped running=0, destroyed info refused"));

    /* a route with a parameter; the state counts the requests that reach
     * the route handler (not those refused before it) */
    EXPECT_OUT("hello world #1 x-count: 1",
               CURL "-D %s/h http://127.0.0.1:%u/hello/world; printf ' '; "
                    "grep -i '^x-count:' %s/h | tr -d '\\r\\n'",
               t.home, port, t.home);
    EXPECT_OUT("hello there #2", CURL "http://127.0.0.1:%u/hello/there", port);
    /* the removed route and the method a GET route does not take */
    EXPECT_OUT("404", CURL "-o /dev/null -w '%%{http_code}' http://127.0.0.1:%u/gone", port);
    EXPECT_OUT("405", CURL "-o /dev/null -w '%%{http_code}' -X POST http://127.0.0.1:%u/hello/x",
               port);
    /* the middleware refuses with its body, or passes the request it changed */
    EXPECT_OUT("no key 403", CURL "-w ' %%{http_code}' http://127.0.0.1:%u/private/a", port);
    EXPECT_OUT("no key 403",
               CURL "-H 'x-key: wrong' -w ' %%{http_code}' http://127.0.0.1:%u/private/a", port);
    EXPECT_OUT("private: x-seen=guard 200",
               CURL "-H 'x-key: let-me-in' -w ' %%{http_code}' http://127.0.0.1:%u/private/a",
               port);
    /* the removed middleware guards nothing */
    EXPECT_OUT("open 200", CURL "-w ' %%{http_code}' http://127.0.0.1:%u/open", port);
    /* get-server-info: 4 routes (one removed), 1 middleware (one removed) */
    out = sh(CURL "http://127.0.0.1:%u/info", port);
    assert_non_null(strstr(out, "{\"id\":"));
    sid = (unsigned)atoi(strstr(out, "{\"id\":") + 6);
    {
        char want[256];
        snprintf(want, sizeof want,
                 "\"port\":%u,\"host\":\"127.0.0.1\",\"running\":true,\"routes\":4,"
                 "\"middleware\":1,\"websocket\":true}",
                 port);
        if (strstr(out, want) == NULL)
            fail_msg("expected %s in %s", want, out);
    }
    free(out);
    EXPECT_OUT("hello again #6", CURL "http://127.0.0.1:%u/hello/again", port);

    /* WebSocket: the connect message, two replies to a text, binary
     * reversed, a close reply */
    EXPECT_OUT("text:hi 1 /ws chat\ntext:got: abc\ntext:len 3\nbinary:030201\nclose:1000\n",
               "python3 %s/tests/integration/runtime/ws_talk.py %u /ws chat "
               "r t:abc r r b:010203 r t:bye r 2>&1",
               src, port);
    assert_true(rtt_log_wait(&t, "serve_probe: connection 1 gone", 5000));
    /* close-websocket from the actor; no protocol offered */
    EXPECT_OUT("text:hi 2 /ws -\nclose:1000\n",
               "python3 %s/tests/integration/runtime/ws_talk.py %u /ws - r t:close-me r 2>&1", src,
               port);
    assert_true(rtt_log_wait(&t, "serve_probe: connection 2 gone", 5000));

    /* send-websocket-message and close-websocket by connection id: one
     * that has closed (1) is ok (what is sent to it is dropped: a client
     * may leave while the actor talks to it); an id the server never had
     * (999, 0) is an err naming it */
    {
        char want[1024];
        snprintf(want, sizeof want,
                 "text:hi 3 /ws -\ntext:send 1: ok\ntext:close 1: ok\n"
                 "text:send 999: err no WebSocket connection 999 on server %u: the server never "
                 "had one with that id\n"
                 "text:close 999: err no WebSocket connection 999 on server %u: the server never "
                 "had one with that id\n"
                 "text:send 0: err no WebSocket connection 0 on server %u: the server never had "
                 "one with that id\n"
                 "text:close 0: err no WebSocket connection 0 on server %u: the server never had "
                 "one with that id\n",
                 sid, sid, sid, sid);
        EXPECT_OUT(want,
                   "python3 %s/tests/integration/runtime/ws_talk.py %u /ws - r 't:probe 1' r r "
                   "'t:probe 999' r r 't:probe 0' r r c 2>&1",
                   src, port);
    }
    assert_true(rtt_log_wait(&t, "serve_probe: connection 3 gone", 5000));

    /* stop-server with a WebSocket client connected: a close frame,
     * 1001 (going away), then the end; the actor hears of the end */
    EXPECT_OUT("text:hi 4 /ws -\nclose:1001\n",
               "python3 %s/tests/integration/runtime/ws_talk.py %u /ws - r t:stop-server r 2>&1",
               src, port);
    assert_true(rtt_log_wait(&t, "serve_probe: connection 4 gone", 5000));
    EXPECT_OUT("000", CURL "-o /dev/null -w '%%{http_code}' http://127.0.0.1:%u/hello/x", port);

    rtt_verify_chain(&t, id);
    rtt_replay_identical(&t, id);
    rtt_stop(&t);
}

/* The actor fails (its WebSocket message handler answers err) or is
 * stopped, or the runtime shuts down, while a client is connected: the
 * client gets a close frame, 1001 (going away), not just the end of the
 * connection. */
static void test_ws_going_away(void **state)
{
    const char *wasm = rtt_module("serve_probe"), *src = getenv("THEATER_SOURCE_DIR");
    char id[TH_ACTOR_ID_SIZE], line[256];
    th_actor_status st = TH_ACTOR_RUNNING;
    th_error err;
    unsigned port;
    FILE *ws;
    rtt t;

    (void)state;
    if (access(wasm, R_OK) != 0 || src == NULL)
        skip(); /* no wasm32 guest toolchain */

    /* failing */
    rtt_start(&t, 2);
    rtt_spawn_state(&t, rtt_manifest(&t, "serve_probe", wasm, "runtime http-framework", NULL), NULL,
                    id);
    port = logged_port(&t);
    EXPECT_OUT("text:hi 1 /ws -\nclose:1001\n",
               "python3 %s/tests/integration/runtime/ws_talk.py %u /ws - r t:fail r 2>&1", src,
               port);
    for (int i = 0; i < 500 && st != TH_ACTOR_FAILED; i++) {
        assert_int_equal(th_runtime_actor_status(t.rt, id, &st, &err), 0);
        if (st != TH_ACTOR_FAILED)
            usleep(10000);
    }
    assert_int_equal(st, TH_ACTOR_FAILED);
    rtt_stop(&t);

    /* stopped from outside while the client waits for a message */
    rtt_start(&t, 2);
    rtt_spawn_state(&t, rtt_manifest(&t, "serve_probe", wasm, "runtime http-framework", NULL), NULL,
                    id);
    port = logged_port(&t);
    snprintf(line, sizeof line, "python3 %s/tests/integration/runtime/ws_talk.py %u /ws - r r 2>&1",
             src, port);
    ws = popen(line, "r");
    assert_non_null(ws);
    assert_non_null(fgets(line, sizeof line, ws));
    assert_string_equal(line, "text:hi 1 /ws -\n");
    assert_int_equal(th_runtime_stop(t.rt, id, &err), 0);
    if (fgets(line, sizeof line, ws) == NULL)
        line[0] = 0;
    pclose(ws);
    assert_string_equal(line, "close:1001\n");
    rtt_stop(&t);

    /* the runtime shuts down while an answer of 8 MiB is on its way to a
     * client that reads nothing for 300 ms: the close frame waits behind
     * it, and the I/O thread waits for the close handshake (up to
     * TH_RT_IO_QUIT_WAIT_MS) before it quits, instead of dropping the
     * connection with the answer half sent and no close frame */
    rtt_start(&t, 2);
    rtt_spawn_state(&t, rtt_manifest(&t, "serve_probe", wasm, "runtime http-framework", NULL), NULL,
                    id);
    port = logged_port(&t);
    snprintf(line, sizeof line,
             "python3 %s/tests/integration/runtime/ws_talk.py %u /ws - r B:8388608 P:1000 s:300 d "
             "2>&1",
             src, port);
    ws = popen(line, "r");
    assert_non_null(ws);
    assert_non_null(fgets(line, sizeof line, ws));
    assert_string_equal(line, "text:hi 1 /ws -\n");
    assert_non_null(fgets(line, sizeof line, ws));
    assert_string_equal(line, "sent:8388608\n");
    assert_non_null(fgets(line, sizeof line, ws)); /* the answer is under way */
    assert_string_equal(line, "got:1000\n");
    rtt_stop(&t);
    if (fgets(line, sizeof line, ws) == NULL)
        line[0] = 0;
    pclose(ws);
    assert_string_equal(line, "close:1001\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sdk_server),
        cmocka_unit_test(test_ws_going_away),
    };
    return th_test_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
