/*
 * http_bench - requests per second and latency (p50, p99) of an endpoint
 * served by an actor through the http-framework handler (bench/http/hello.c:
 * GET /hello -> "hello", every request an export call in the actor's turn,
 * recorded on its chain in a real THEATER_HOME), beside the same HTTP
 * library (libh2o on a libuv loop thread) serving the same answer without
 * an actor, in the same run.  16 clients, each with one keep-alive
 * connection, send a request and wait for its answer, again and again.
 *
 *   http_bench [--seconds N] [--clients N]
 *
 * The clients are plain sockets: each writes a fixed GET and reads one
 * answer (status line, headers up to the blank line, then Content-Length
 * bytes); they share the machine with the servers, so absolute figures
 * depend on the cores available and the ratio is the measure.
 */
#define _GNU_SOURCE /* memmem */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <h2o.h>
#include <uv.h>

#include "theater/handlers.h"
#include "theater/runtime.h"

#define MAX_CLIENTS 256
#define MAX_SAMPLES (1u << 22)

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- the load ---- */

typedef struct client {
    pthread_t thread;
    unsigned port;
    uint64_t start, end; /* measure between these (ns) */
    uint64_t *lat;       /* latencies (ns) of the measured requests */
    size_t n, cap;
    int errors;
} client;

static const char request[] = "GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

/* Read one answer: 0 with the status, or -1. */
static int read_answer(int fd, char *buf, size_t cap, size_t *have, int *status)
{
    for (;;) {
        char *eoh = memmem(buf, *have, "\r\n\r\n", 4);
        if (eoh != NULL) {
            size_t head = (size_t)(eoh - buf) + 4, body = 0, total;
            char *cl = memmem(buf, head, "ontent-Length:", 14);
            if (cl == NULL)
                cl = memmem(buf, head, "ontent-length:", 14);
            if (cl != NULL)
                body = strtoul(cl + 14, NULL, 10);
            total = head + body;
            while (*have < total) {
                ssize_t r = read(fd, buf + *have, cap - *have);
                if (r <= 0)
                    return -1;
                *have += (size_t)r;
            }
            *status = atoi(buf + 9);
            memmove(buf, buf + total, *have - total);
            *have -= total;
            return 0;
        }
        if (*have == cap)
            return -1;
        ssize_t r = read(fd, buf + *have, cap - *have);
        if (r <= 0)
            return -1;
        *have += (size_t)r;
    }
}

static int connect_to(unsigned port)
{
    struct sockaddr_in a;
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static void *client_main(void *arg)
{
    client *c = arg;
    char buf[8192];
    size_t have = 0;
    int fd = connect_to(c->port), status;

    if (fd < 0) {
        c->errors++;
        return NULL;
    }
    for (;;) {
        uint64_t t0 = now_ns();
        if (t0 >= c->end)
            break;
        if (write(fd, request, sizeof request - 1) != (ssize_t)(sizeof request - 1) ||
            read_answer(fd, buf, sizeof buf, &have, &status) != 0) {
            c->errors++;
            break;
        }
        if (status != 200)
            c->errors++;
        uint64_t t1 = now_ns();
        if (t0 >= c->start && c->n < c->cap)
            c->lat[c->n++] = t1 - t0;
    }
    close(fd);
    return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

typedef struct result {
    double rps, p50_ms, p99_ms;
    int errors;
} result;

/* Run `nclients` clients against `port` for 0.5 s of warm-up then
 * `seconds` measured. */
static result load(unsigned port, int nclients, double seconds)
{
    static client cl[MAX_CLIENTS];
    uint64_t t = now_ns(), *all;
    size_t total = 0, k = 0;
    result r = {0, 0, 0, 0};

    for (int i = 0; i < nclients; i++) {
        cl[i].port = port;
        cl[i].start = t + 500000000u;
        cl[i].end = cl[i].start + (uint64_t)(seconds * 1e9);
        cl[i].cap = MAX_SAMPLES / (size_t)nclients;
        cl[i].lat = malloc(cl[i].cap * sizeof(uint64_t));
        cl[i].n = 0;
        cl[i].errors = 0;
        pthread_create(&cl[i].thread, NULL, client_main, &cl[i]);
    }
    for (int i = 0; i < nclients; i++) {
        pthread_join(cl[i].thread, NULL);
        total += cl[i].n;
        r.errors += cl[i].errors;
    }
    all = malloc((total ? total : 1) * sizeof *all);
    for (int i = 0; i < nclients; i++) {
        memcpy(all + k, cl[i].lat, cl[i].n * sizeof *all);
        k += cl[i].n;
        free(cl[i].lat);
    }
    qsort(all, total, sizeof *all, cmp_u64);
    r.rps = (double)total / seconds;
    if (total > 0) {
        r.p50_ms = (double)all[total / 2] / 1e6;
        r.p99_ms = (double)all[(size_t)((double)total * 0.99)] / 1e6;
    }
    free(all);
    return r;
}

/* ---- the baseline: h2o answering "hello" itself ---- */

static uv_loop_t base_loop;
static h2o_globalconf_t base_conf;
static h2o_context_t base_ctx;
static h2o_accept_ctx_t base_actx;
static uv_tcp_t base_listener;
static uv_async_t base_quit;
static unsigned base_port;

static int base_on_req(h2o_handler_t *self, h2o_req_t *req)
{
    (void)self;
    req->res.status = 200;
    req->res.reason = "OK";
    req->res.content_length = 5;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                   H2O_STRLIT("text/plain"));
    h2o_send_inline(req, "hello", 5);
    return 0;
}

static void base_on_closed(uv_handle_t *h)
{
    free(h);
}

static void base_on_accept(uv_stream_t *l, int status)
{
    uv_tcp_t *c;

    if (status != 0 || (c = malloc(sizeof *c)) == NULL)
        return;
    uv_tcp_init(l->loop, c);
    if (uv_accept(l, (uv_stream_t *)c) != 0) {
        uv_close((uv_handle_t *)c, base_on_closed);
        return;
    }
    uv_tcp_nodelay(c, 1);
    h2o_accept(&base_actx, h2o_uv_socket_create((uv_stream_t *)c, base_on_closed));
}

static void base_on_quit(uv_async_t *a)
{
    (void)a;
    uv_stop(&base_loop);
}

static void *base_main(void *arg)
{
    (void)arg;
    uv_run(&base_loop, UV_RUN_DEFAULT);
    return NULL;
}

static int base_start(pthread_t *th)
{
    struct sockaddr_in a;
    int len = sizeof a;
    h2o_hostconf_t *host;
    h2o_handler_t *h;

    uv_loop_init(&base_loop);
    h2o_config_init(&base_conf);
    host = h2o_config_register_host(&base_conf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h = h2o_create_handler(h2o_config_register_path(host, "/", 0), sizeof *h);
    h->on_req = base_on_req;
    h2o_context_init(&base_ctx, &base_loop, &base_conf);
    base_actx.ctx = &base_ctx;
    base_actx.hosts = base_conf.hosts;
    uv_tcp_init(&base_loop, &base_listener);
    uv_ip4_addr("127.0.0.1", 0, &a);
    if (uv_tcp_bind(&base_listener, (struct sockaddr *)&a, 0) != 0 ||
        uv_listen((uv_stream_t *)&base_listener, 511, base_on_accept) != 0)
        return -1;
    uv_tcp_getsockname(&base_listener, (struct sockaddr *)&a, &len);
    base_port = ntohs(a.sin_port);
    uv_async_init(&base_loop, &base_quit, base_on_quit);
    return pthread_create(th, NULL, base_main, NULL);
}

/* ---- the actor ---- */

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned actor_port;

static void on_log(void *ud, const char *id, const char *name, const char *line, size_t len)
{
    const char *p = memmem(line, len, "listening on port ", 18);
    (void)ud;
    (void)id;
    (void)name;
    if (p != NULL) {
        pthread_mutex_lock(&log_lock);
        actor_port = (unsigned)atoi(p + strlen("listening on port "));
        pthread_mutex_unlock(&log_lock);
    }
}

static void print(const char *what, result r)
{
    printf("  %-38s %9.0f req/s   p50 %6.3f ms   p99 %6.3f ms%s\n", what, r.rps, r.p50_ms, r.p99_ms,
           r.errors ? "   (errors!)" : "");
}

int main(int argc, char **argv)
{
    double seconds = 3;
    int nclients = 16;
    char home[] = "/tmp/theater-http-bench-XXXXXX", manifest[512], id[TH_ACTOR_ID_SIZE];
    th_runtime_config cfg = {0};
    th_spawn_opts o = {0};
    th_runtime *rt;
    th_error err;
    pthread_t base_th;
    result base, act;
    FILE *f;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
            seconds = atof(argv[++i]);
        else if (strcmp(argv[i], "--clients") == 0 && i + 1 < argc)
            nclients = atoi(argv[++i]);
        else if (strcmp(argv[i], "--quick") == 0)
            seconds = 1;
    }
    if (nclients < 1 || nclients > MAX_CLIENTS || seconds <= 0) {
        fprintf(stderr, "usage: http_bench [--seconds N] [--clients 1..%d] [--quick]\n",
                MAX_CLIENTS);
        return 2;
    }
    if (access(THEATER_BENCH_HELLO, R_OK) != 0) {
        printf("http_bench: %s was not built (no wasm toolchain); skipped\n", THEATER_BENCH_HELLO);
        return 0;
    }
    if (mkdtemp(home) == NULL)
        return 1;
    snprintf(manifest, sizeof manifest, "%s/hello.toml", home);
    f = fopen(manifest, "w");
    if (f == NULL)
        return 1;
    fprintf(f,
            "name = \"hello\"\ncomponent = \"%s\"\n\n[[handler]]\ntype = \"runtime\"\n\n"
            "[[handler]]\ntype = \"http-framework\"\nmax_queued = 100000\n",
            THEATER_BENCH_HELLO);
    fclose(f);

    cfg.home = home;
    cfg.handlers = th_handlers_builtin();
    cfg.log_fn = on_log;
    if (th_runtime_new(&cfg, &rt, &err) != 0) {
        fprintf(stderr, "http_bench: %s\n", err.msg);
        return 1;
    }
    o.manifest_path = manifest;
    if (th_runtime_spawn(rt, &o, id, &err) != 0) {
        fprintf(stderr, "http_bench: spawn: %s\n", err.msg);
        return 1;
    }
    for (int i = 0; i < 500 && actor_port == 0; i++)
        usleep(10000);
    if (actor_port == 0 || base_start(&base_th) != 0) {
        fprintf(stderr, "http_bench: no port\n");
        return 1;
    }

    printf("http_bench: GET /hello -> \"hello\", %d keep-alive clients, %.1f s each "
           "(after 0.5 s of warm-up)\n",
           nclients, seconds);
    base = load(base_port, nclients, seconds);
    act = load(actor_port, nclients, seconds);
    print("libh2o alone (baseline, no actor)", base);
    print("actor via http-framework, chain on", act);
    printf("  ratio actor/baseline: throughput %.2fx, p50 %.2fx, p99 %.2fx\n",
           base.rps > 0 ? act.rps / base.rps : 0, base.p50_ms > 0 ? act.p50_ms / base.p50_ms : 0,
           base.p99_ms > 0 ? act.p99_ms / base.p99_ms : 0);
    printf("  targets: >= 15000 req/s %s, p99 <= 5 ms %s\n", act.rps >= 15000 ? "met" : "MISSED",
           act.p99_ms <= 5 ? "met" : "MISSED");
    {
        th_actor_info info;
        if (th_runtime_actor_info(rt, id, &info, &err) == 0)
            printf("  the actor ran %llu export calls and recorded %llu chain events\n",
                   (unsigned long long)info.calls, (unsigned long long)info.events);
    }

    uv_async_send(&base_quit);
    pthread_join(base_th, NULL);
    th_runtime_shutdown(rt, &err);
    th_runtime_free(rt);
    {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", home);
        if (system(cmd) != 0)
            fprintf(stderr, "http_bench: could not remove %s\n", home);
    }
    return act.errors || base.errors ? 1 : 0;
}
