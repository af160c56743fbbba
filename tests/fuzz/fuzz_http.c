/*
 * fuzz_http.c - the inbound path of the http-framework handler under
 * fuzzing: each input is the bytes a client writes on one TCP connection to
 * a server run by a real actor (examples/actors/notes, in a runtime with
 * chain recording), so they go through h2o's parser, the routing and the
 * middleware, the lifting of the request into the actor (method, URI,
 * headers and body of any bytes), the actor's answer lifted back and
 * checked, and WebSocket frames after an upgrade.  A crash, a sanitizer
 * report or a hang is a bug; the answer itself is not judged.
 *
 * The runtime and the actor live across inputs; when an input made the
 * actor fail (GET /fail does), it is spawned again.  Inputs above
 * FUZZ_HTTP_MAX_INPUT bytes are skipped.
 *
 * LLVMFuzzerTestOneInput is the entry point for libFuzzer (fuzz_http, with
 * THEATER_FUZZ=ON) and for replay_main.c (fuzz_http_replay, ctest
 * fuzz.http_corpus).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "theater/handlers.h"
#include "theater/runtime.h"

#ifndef FUZZ_HTTP_ACTOR
#define FUZZ_HTTP_ACTOR "notes.wasm"
#endif
#define FUZZ_HTTP_MAX_INPUT 65536
#define FUZZ_HTTP_READ_MS 3000 /* longest wait for the end of an answer */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
unsigned fuzz_replay_reached(void);

static char g_home[64];
static th_runtime *g_rt;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned g_port, g_reached;
static char g_id[TH_ACTOR_ID_SIZE];

static void on_log(void *ud, const char *id, const char *name, const char *msg, size_t len)
{
    static const char key[] = "listening on port ";
    char line[256];

    (void)ud;
    (void)id;
    (void)name;
    if (len >= sizeof line)
        return;
    memcpy(line, msg, len);
    line[len] = 0;
    const char *p = strstr(line, key);
    if (p != NULL) {
        pthread_mutex_lock(&g_lock);
        g_port = (unsigned)atoi(p + sizeof key - 1);
        pthread_mutex_unlock(&g_lock);
    }
}

static void cleanup(void)
{
    char cmd[128];

    if (g_rt != NULL) {
        th_runtime_free(g_rt);
        g_rt = NULL;
    }
    if (g_home[0] != 0) {
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_home);
        if (system(cmd) != 0)
            fprintf(stderr, "fuzz_http: cannot remove %s\n", g_home);
    }
}

/* Spawn the actor (again) and wait for its port; 0 or -1. */
static int spawn_actor(void)
{
    char manifest[128];
    th_spawn_opts o = {0};
    th_error err;
    FILE *f;

    if (g_id[0] != 0) /* the failed one goes */
        th_runtime_stop(g_rt, g_id, &err);

    snprintf(manifest, sizeof manifest, "%s/notes.toml", g_home);
    f = fopen(manifest, "w");
    if (f == NULL)
        return -1;
    /* /slow sleeps 50 ms, beyond the answer timeout: 504, and the
     * requests behind it wait little */
    fprintf(f,
            "name = \"notes\"\ncomponent = \"%s\"\n"
            "init_state = '{\"port\": \"0\", \"slow\": \"50\"}'\n\n"
            "[[handler]]\ntype = \"runtime\"\n\n[[handler]]\ntype = \"timing\"\n\n"
            "[[handler]]\ntype = \"http-framework\"\nmax_body_bytes = 65536\n"
            "request_timeout_ms = 20\nmax_connections = 64\n",
            FUZZ_HTTP_ACTOR);
    fclose(f);
    pthread_mutex_lock(&g_lock);
    g_port = 0;
    pthread_mutex_unlock(&g_lock);
    o.manifest_path = manifest;
    if (th_runtime_spawn(g_rt, &o, g_id, &err) != 0) {
        fprintf(stderr, "fuzz_http: spawn: %s\n", err.msg);
        return -1;
    }
    for (int i = 0; i < 500; i++) {
        pthread_mutex_lock(&g_lock);
        unsigned p = g_port;
        pthread_mutex_unlock(&g_lock);
        if (p != 0)
            return 0;
        usleep(10000);
    }
    return -1;
}

static int start(void)
{
    th_runtime_config cfg = {0};
    th_error err;

    snprintf(g_home, sizeof g_home, "/tmp/theater-fuzz-http-XXXXXX");
    if (mkdtemp(g_home) == NULL)
        return -1;
    cfg.home = g_home;
    cfg.handlers = th_handlers_builtin();
    cfg.workers = 1;
    cfg.log_fn = on_log;
    if (th_runtime_new(&cfg, &g_rt, &err) != 0) {
        fprintf(stderr, "fuzz_http: %s\n", err.msg);
        return -1;
    }
    atexit(cleanup);
    return spawn_actor();
}

static int connect_port(unsigned port)
{
    struct sockaddr_in a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Write the input, close our side, read until the server closes or
 * FUZZ_HTTP_READ_MS pass.  Returns the bytes read, -1 if no connection. */
static long exchange(unsigned port, const uint8_t *data, size_t size)
{
    int fd = connect_port(port);
    size_t off = 0;
    long got = 0;
    uint64_t until;
    char buf[16384];

    if (fd < 0)
        return -1;
    while (off < size) {
        ssize_t w = send(fd, data + off, size - off, MSG_NOSIGNAL);
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    shutdown(fd, SHUT_WR);
    until = now_ms() + FUZZ_HTTP_READ_MS;
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        uint64_t t = now_ms();
        if (t >= until || poll(&p, 1, (int)(until - t)) <= 0)
            break;
        ssize_t r = recv(fd, buf, sizeof buf, 0);
        if (r <= 0)
            break;
        got += r;
    }
    close(fd);
    return got;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned port;
    long got;

    if (size > FUZZ_HTTP_MAX_INPUT)
        return 0;
    if (g_rt == NULL && start() != 0)
        abort(); /* the harness cannot run: say so loudly */
    pthread_mutex_lock(&g_lock);
    port = g_port;
    pthread_mutex_unlock(&g_lock);
    got = exchange(port, data, size);
    if (got < 0) {
        /* the actor failed (its servers closed with it): a new one */
        if (spawn_actor() != 0)
            abort();
        pthread_mutex_lock(&g_lock);
        port = g_port;
        pthread_mutex_unlock(&g_lock);
        got = exchange(port, data, size);
    }
    if (got > 0)
        g_reached++;
    return 0;
}

/* Inputs the server answered (replay_main.c: a corpus none of which gets an
 * answer no longer tests the path). */
unsigned fuzz_replay_reached(void)
{
    return g_reached;
}
