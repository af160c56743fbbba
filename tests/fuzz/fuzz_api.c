/*
 * fuzz_api.c - the daemon's request path under fuzzing: each input is the
 * bytes a client writes on a connection to a real server (th_server, with
 * its runtime and a live counter actor behind it), so they go through
 * libmicrohttpd's parser, the routing, the JSON parsing and validation and
 * the endpoints.  A crash, a sanitizer report or a hang is a bug; the
 * response itself is not judged.
 *
 * Placeholders in the input are replaced before sending, so that mutations
 * reach the endpoints of a real actor: "@A@" by the counter actor's id and
 * "@M@" by the absolute path of its manifest.
 *
 * The server lives across inputs (restarted if an input shut it down, and
 * every FUZZ_API_RESTART inputs so that actors started by inputs do not
 * pile up).
 */
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "fuzz_api.h"
#include "theater/runtime.h"
#include "theater/server.h"

#ifndef FUZZ_API_MANIFEST
#define FUZZ_API_MANIFEST "counter.toml"
#endif
#define FUZZ_API_RESTART 5000
#define FUZZ_API_MAX_INPUT 65536

static char g_home[64];
static char g_sock[128];
static char g_actor[TH_ACTOR_ID_SIZE];
static th_server *g_srv;
static pthread_t g_thread;
static atomic_bool g_stopped;
static unsigned g_inputs;

static void *serve(void *arg)
{
    th_server_run(arg, NULL);
    atomic_store(&g_stopped, true);
    return NULL;
}

static void stop_server(void)
{
    if (g_srv == NULL)
        return;
    th_server_stop(g_srv);
    pthread_join(g_thread, NULL);
    th_server_free(g_srv);
    g_srv = NULL;
}

static int start_server(void)
{
    th_server_config cfg;
    th_spawn_opts o;
    th_error err;

    if (g_home[0] == 0) {
        snprintf(g_home, sizeof g_home, "/tmp/theater-fuzz-api-XXXXXX");
        if (mkdtemp(g_home) == NULL)
            return -1;
        snprintf(g_sock, sizeof g_sock, "%s/theater.sock", g_home);
    }
    memset(&cfg, 0, sizeof cfg);
    cfg.home = g_home;
    cfg.log_level = TH_LOG_ERROR;
    cfg.workers = 1;
    cfg.client_timeout_s = 1;
    if (th_server_new(&cfg, &g_srv, &err) != 0) {
        fprintf(stderr, "fuzz_api: %s\n", err.msg);
        return -1;
    }
    atomic_store(&g_stopped, false);
    pthread_create(&g_thread, NULL, serve, g_srv);
    memset(&o, 0, sizeof o);
    o.manifest_path = FUZZ_API_MANIFEST;
    if (th_runtime_spawn(th_server_runtime(g_srv), &o, g_actor, &err) != 0) {
        fprintf(stderr, "fuzz_api: %s\n", err.msg);
        return -1;
    }
    return 0;
}

/* The input with its placeholders replaced (malloc'd, *n). */
static char *expand(const uint8_t *data, size_t size, size_t *n)
{
    size_t cap = size * 4 + 64, i = 0, k = 0;
    char *out = malloc(cap);

    if (out == NULL)
        return NULL;
    while (i < size) {
        const char *rep = NULL;
        if (i + 3 <= size && memcmp(data + i, "@A@", 3) == 0)
            rep = g_actor;
        else if (i + 3 <= size && memcmp(data + i, "@M@", 3) == 0)
            rep = FUZZ_API_MANIFEST;
        if (rep != NULL && k + strlen(rep) < cap) {
            memcpy(out + k, rep, strlen(rep));
            k += strlen(rep);
            i += 3;
        } else if (k < cap) {
            out[k++] = (char)data[i++];
        } else {
            break;
        }
    }
    *n = k;
    return out;
}

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Write the bytes, then read what comes back until the server closes, it
 * goes quiet for a moment, or a deadline passes. */
static void exchange(const char *bytes, size_t n)
{
    struct sockaddr_un sa;
    char buf[65536];
    uint64_t end;
    int fd = socket(AF_UNIX, SOCK_STREAM, 0), got = 0;

    if (fd < 0)
        return;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, g_sock, strlen(g_sock) + 1);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return;
    }
    if (n > 0 && send(fd, bytes, n, MSG_NOSIGNAL) < 0) {
        close(fd);
        return;
    }
    end = now_ms() + 300;
    while (now_ms() < end) {
        struct pollfd p = {fd, POLLIN, 0};
        ssize_t r;
        if (poll(&p, 1, got ? 5 : 50) <= 0)
            break;
        r = recv(fd, buf, sizeof buf, 0);
        if (r <= 0)
            break;
        got = 1;
    }
    close(fd);
}

int fuzz_api_one(const uint8_t *data, size_t size)
{
    char *bytes;
    size_t n;

    if (size > FUZZ_API_MAX_INPUT)
        return 0;
    if (g_srv != NULL && (atomic_load(&g_stopped) || ++g_inputs % FUZZ_API_RESTART == 0))
        stop_server();
    if (g_srv != NULL && th_runtime_actor_status(th_server_runtime(g_srv), g_actor,
                                                 &(th_actor_status){0}, NULL) != 0) {
        /* an input stopped the actor (a new one), or the server (restart) */
        th_spawn_opts o;
        memset(&o, 0, sizeof o);
        o.manifest_path = FUZZ_API_MANIFEST;
        if (th_runtime_spawn(th_server_runtime(g_srv), &o, g_actor, NULL) != 0)
            stop_server();
    }
    if (g_srv == NULL && start_server() != 0)
        abort(); /* the harness cannot work at all */
    bytes = expand(data, size, &n);
    if (bytes == NULL)
        return 0;
    exchange(bytes, n);
    free(bytes);
    return 1;
}

void fuzz_api_finish(void)
{
    char cmd[128];

    stop_server();
    if (g_home[0] != 0) {
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_home);
        if (system(cmd) != 0)
            fprintf(stderr, "fuzz_api: could not remove %s\n", g_home);
    }
}
