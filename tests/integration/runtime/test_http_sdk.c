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
 * reply, close-websocket, disconnect).  The chain then verifies and
 * replays identically.
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
    unsigned port;
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

    rtt_verify_chain(&t, id);
    rtt_replay_identical(&t, id);
    rtt_stop(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sdk_server),
    };
    return th_test_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
