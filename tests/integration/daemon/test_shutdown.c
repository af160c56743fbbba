/*
 * test_shutdown.c - a request that arrives while the daemon shuts down is
 * answered 503 shutting-down (API.md) and never acted on.
 *
 * No timing is guessed: the server's on_closing hook (th_server_config)
 * holds the shutdown at the moment it has begun (no new connections, the
 * actors still running) until the test has sent its requests on
 * connections it opened before and read their answers.  Then the shutdown
 * goes on, and a second server on the same home brings the durable counter
 * back: its count shows the refused message was never stored or handled.
 */
#define _GNU_SOURCE /* strcasestr */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "../runtime/rt_test_util.h"
#include "test_skip.h"
#include "theater/server.h"

static char g_home[64];
static char g_sock[96];

/* ------------------------------------------------------------------ */
/* The hook: holds the shutdown until released                        */

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cond = PTHREAD_COND_INITIALIZER;
static int g_entered, g_released;

static void on_closing(void *ud)
{
    (void)ud;
    pthread_mutex_lock(&g_lock);
    g_entered++;
    pthread_cond_broadcast(&g_cond);
    while (!g_released)
        pthread_cond_wait(&g_cond, &g_lock);
    pthread_mutex_unlock(&g_lock);
}

static void wait_entered(void)
{
    pthread_mutex_lock(&g_lock);
    while (!g_entered)
        pthread_cond_wait(&g_cond, &g_lock);
    pthread_mutex_unlock(&g_lock);
}

static void release(void)
{
    pthread_mutex_lock(&g_lock);
    g_released = 1;
    pthread_cond_broadcast(&g_cond);
    pthread_mutex_unlock(&g_lock);
}

/* ------------------------------------------------------------------ */
/* A server in a thread                                               */

typedef struct running {
    th_server *srv;
    pthread_t thread;
    int rc;
} running;

static void *run_main(void *arg)
{
    running *r = arg;
    th_error err;

    r->rc = th_server_run(r->srv, &err);
    return NULL;
}

static void server_start(running *r, bool hook)
{
    th_server_config cfg;
    th_error err;

    memset(&cfg, 0, sizeof cfg);
    cfg.home = g_home;
    cfg.log_level = TH_LOG_ERROR;
    if (hook)
        cfg.on_closing = on_closing;
    if (th_server_new(&cfg, &r->srv, &err) != 0)
        fail_msg("th_server_new: %s", err.msg);
    assert_int_equal(pthread_create(&r->thread, NULL, run_main, r), 0);
}

static void server_end(running *r)
{
    assert_int_equal(pthread_join(r->thread, NULL), 0);
    assert_int_equal(r->rc, 0);
    th_server_free(r->srv);
}

/* ------------------------------------------------------------------ */
/* A keep-alive HTTP client on the unix socket                        */

static int connect_sock(void)
{
    struct sockaddr_un sa;
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", g_sock);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

typedef struct response {
    int status;
    char headers[4096];
    char body[4096];
} response;

/* Send one request and read its response (Content-Length framed). */
static void http(int fd, const char *method, const char *path, const char *body, response *out)
{
    char req[1024], buf[8192];
    size_t have = 0, blen = body ? strlen(body) : 0, want;
    char *end, *cl;
    ssize_t n;
    int len;

    len = snprintf(req, sizeof req,
                   "%s %s HTTP/1.1\r\nHost: theater\r\nContent-Length: %zu\r\n\r\n%s", method, path,
                   blen, body ? body : "");
    assert_int_equal(write(fd, req, (size_t)len), len);
    memset(out, 0, sizeof *out);
    for (;;) { /* the head */
        n = read(fd, buf + have, sizeof buf - 1 - have);
        assert_true(n > 0);
        have += (size_t)n;
        buf[have] = 0;
        if ((end = strstr(buf, "\r\n\r\n")) != NULL)
            break;
    }
    assert_int_equal(sscanf(buf, "HTTP/1.1 %d", &out->status), 1);
    snprintf(out->headers, sizeof out->headers, "%.*s", (int)(end - buf), buf);
    cl = strcasestr(out->headers, "\r\ncontent-length:");
    assert_non_null(cl);
    want = strtoul(cl + 17, NULL, 10);
    assert_true(want < sizeof out->body);
    end += 4;
    while ((size_t)(buf + have - end) < want) {
        n = read(fd, buf + have, sizeof buf - 1 - have);
        assert_true(n > 0);
        have += (size_t)n;
    }
    memcpy(out->body, end, want);
    out->body[want] = 0;
}

/* The error code of an error body. */
static void assert_error(const response *r, int status, const char *code)
{
    json_t *o = json_loads(r->body, 0, NULL);
    const char *c = json_string_value(json_object_get(json_object_get(o, "error"), "code"));

    if (r->status != status || c == NULL || strcmp(c, code) != 0)
        fail_msg("expected %d %s, got %d: %s", status, code, r->status, r->body);
    json_decref(o);
}

/* ------------------------------------------------------------------ */

static void test_request_during_shutdown(void **state)
{
    const char *counter = rtt_example("counter");
    running a, b;
    th_spawn_opts o;
    th_error err;
    char id[TH_ACTOR_ID_SIZE], path[128];
    uint8_t *reply = NULL;
    size_t rlen = 0;
    response r;
    int c1, c2, c3;
    char buf[16];

    (void)state;
    if (counter == NULL)
        th_skip_missing("the counter example actor (the wasm32 guest toolchain)");
    server_start(&a, true);
    memset(&o, 0, sizeof o);
    o.manifest_path = counter;
    if (th_runtime_spawn(th_server_runtime(a.srv), &o, id, &err) != 0)
        fail_msg("spawn: %s", err.msg);
    snprintf(path, sizeof path, "/v1/actors/%s/messages", id);

    /* two keep-alive connections, both served before the shutdown */
    c1 = connect_sock();
    c2 = connect_sock();
    assert_true(c1 >= 0 && c2 >= 0);
    http(c1, "POST", path, "5", &r);
    assert_int_equal(r.status, 202);
    http(c2, "GET", "/v1/health", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"status\":\"ok\""));

    /* shutdown begins and is held: nothing is stopped yet */
    th_server_stop(a.srv);
    wait_entered();
    http(c1, "POST", path, "7", &r);
    assert_error(&r, 503, "shutting-down");
    assert_non_null(strcasestr(r.headers, "\r\nconnection: close"));
    /* the server closes that connection after its answer */
    assert_int_equal(read(c1, buf, sizeof buf), 0);
    http(c2, "GET", "/v1/actors", NULL, &r);
    assert_error(&r, 503, "shutting-down");
    /* and takes no new connection: the socket file is gone */
    c3 = connect_sock();
    assert_int_equal(c3, -1);
    /* the actor still runs while the shutdown is held */
    assert_int_equal(th_runtime_request(th_server_runtime(a.srv), id, (const uint8_t *)"?", 1,
                                        10000, &reply, &rlen, &err),
                     0);
    assert_int_equal(rlen, 1);
    assert_memory_equal(reply, "5", 1);
    free(reply);
    reply = NULL;
    release();
    server_end(&a);
    close(c1);
    close(c2);
    assert_int_equal(g_entered, 1);

    /* the counter comes back (durable) with 5: the refused 7 was neither
     * stored nor handled (a stored message would be handled before this
     * request, which queues behind it) */
    server_start(&b, false);
    assert_int_equal(th_runtime_request(th_server_runtime(b.srv), id, (const uint8_t *)"?", 1,
                                        10000, &reply, &rlen, &err),
                     0);
    assert_int_equal(rlen, 1);
    assert_memory_equal(reply, "5", 1);
    free(reply);
    th_server_stop(b.srv);
    server_end(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_during_shutdown),
    };
    char cmd[128];
    int rc;

    snprintf(g_home, sizeof g_home, "/tmp/theater-shutdown-XXXXXX");
    if (mkdtemp(g_home) == NULL)
        return 1;
    snprintf(g_sock, sizeof g_sock, "%s/theater.sock", g_home);
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_home);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", g_home);
    return th_test_exit(rc);
}
