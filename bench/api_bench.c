/*
 * api_bench.c - the daemon's management API under load, beside a baseline
 * measured in the same run: the same client against a minimal static
 * handler of the same HTTP library (libmicrohttpd, same threading, also on
 * a unix socket), so the ratio shows what the daemon adds to HTTP itself.
 *
 * The client is libcurl multi: 16 concurrent keep-alive connections over a
 * unix socket, each sending its next request as soon as the previous one is
 * answered, for a fixed time per scenario:
 *
 *   baseline     GET of a 1-byte static body (the bare HTTP library)
 *   state        GET /v1/actors/ID/state of a counter actor
 *   messages     POST /v1/actors/ID/messages (one-way, 5 bytes) to a durable
 *                actor (the default: each message is stored before its
 *                202, docs/durability.md), and the same to a counter with
 *                `durable = false` (the cost of durability, same run)
 *   SSE          one subscriber on GET /v1/actors/ID/events?follow=1 while
 *                messages arrive every 2 ms: the delay from an event's
 *                commit (a runtime subscription on the same actor, called
 *                at the moment the daemon's stream hears it) to its arrival
 *                at the subscriber
 *
 * Targets (issue "The daemon"): state reads >= 30,000/s with p99 <= 2 ms,
 * one-way messages >= 20,000/s, SSE p99 <= 5 ms; PASS/FAIL is printed.
 *
 *   api_bench [--seconds S] [--clients N] [--only state|messages|sse]
 *
 * --only runs the baseline and one scenario (for profiling one path).
 * Each load line also gives the process's CPU time (client and daemon
 * together, user and system) per request: on a machine shared with other
 * work it moves less than the rate does, and it shows what a change costs;
 * and the process's context switches per request (every hop of a request
 * between threads that finds the other thread asleep costs one or two).
 */
#include <curl/curl.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "theater/runtime.h"
#include "theater/server.h"

#ifndef THEATER_BENCH_COUNTER
#define THEATER_BENCH_COUNTER "counter.toml"
#endif

#define MAX_CLIENTS 64
#define MAX_SAMPLES 4000000

static double g_seconds = 3.0;
static int g_clients = 16;
static const char *g_only; /* NULL: every scenario */

static bool want(const char *name)
{
    return g_only == NULL || strcmp(g_only, name) == 0;
}

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* ------------------------------------------------------------------ */
/* The load client                                                    */

typedef struct load_result {
    double per_s;
    double p50_ms, p99_ms;
    double cpu_us; /* the process's CPU time (client and daemon) per request */
    double cs;     /* the process's context switches per request */
    long errors;
} load_result;

static double cpu_s(void)
{
    struct rusage u;

    getrusage(RUSAGE_SELF, &u);
    return (double)u.ru_utime.tv_sec + (double)u.ru_stime.tv_sec +
           ((double)u.ru_utime.tv_usec + (double)u.ru_stime.tv_usec) / 1e6;
}

static double switches(void)
{
    struct rusage u;

    getrusage(RUSAGE_SELF, &u);
    return (double)u.ru_nvcsw + (double)u.ru_nivcsw;
}

static size_t discard(char *p, size_t s, size_t n, void *ud)
{
    (void)p, (void)ud;
    return s * n;
}

static void load(const char *sock, const char *url, const char *body, int clients, load_result *out)
{
    CURLM *m = curl_multi_init();
    CURL *h[MAX_CLIENTS];
    uint64_t start[MAX_CLIENTS], t0, end, *lat = malloc(MAX_SAMPLES * sizeof *lat);
    size_t n = 0;
    long errors = 0;
    int i, running, q;
    double cpu0, cs0;
    struct curl_slist *hdr = curl_slist_append(NULL, "Expect:");

    for (i = 0; i < clients; i++) {
        h[i] = curl_easy_init();
        curl_easy_setopt(h[i], CURLOPT_UNIX_SOCKET_PATH, sock);
        curl_easy_setopt(h[i], CURLOPT_URL, url);
        curl_easy_setopt(h[i], CURLOPT_WRITEFUNCTION, discard);
        curl_easy_setopt(h[i], CURLOPT_HTTPHEADER, hdr);
        curl_easy_setopt(h[i], CURLOPT_PRIVATE, (char *)NULL + i);
        /* no SIGPIPE handler swapped around every transfer (two sigaction
         * calls per call of curl_multi_perform): SIGPIPE is ignored (main) */
        curl_easy_setopt(h[i], CURLOPT_NOSIGNAL, 1L);
        if (body != NULL) {
            curl_easy_setopt(h[i], CURLOPT_POSTFIELDS, body);
            curl_easy_setopt(h[i], CURLOPT_POSTFIELDSIZE, (long)strlen(body));
        }
    }
    /* warm up: one request each opens the connections */
    for (i = 0; i < clients; i++)
        curl_easy_perform(h[i]);
    t0 = now_ns();
    cpu0 = cpu_s();
    cs0 = switches();
    end = t0 + (uint64_t)(g_seconds * 1e9);
    for (i = 0; i < clients; i++) {
        start[i] = now_ns();
        curl_multi_add_handle(m, h[i]);
    }
    for (;;) {
        CURLMsg *msg;
        curl_multi_perform(m, &running);
        while ((msg = curl_multi_info_read(m, &q)) != NULL) {
            char *priv;
            long code = 0;
            if (msg->msg != CURLMSG_DONE)
                continue;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
            i = (int)(priv - (char *)NULL);
            curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &code);
            if (msg->data.result != CURLE_OK || code >= 400)
                errors++;
            if (n < MAX_SAMPLES)
                lat[n++] = now_ns() - start[i];
            curl_multi_remove_handle(m, h[i]);
            if (now_ns() < end) {
                start[i] = now_ns();
                curl_multi_add_handle(m, h[i]);
            }
        }
        if (running == 0 && now_ns() >= end)
            break;
        curl_multi_poll(m, NULL, 0, 10, NULL);
    }
    out->per_s = n / ((now_ns() - t0) / 1e9);
    out->cpu_us = n ? (cpu_s() - cpu0) * 1e6 / (double)n : 0;
    out->cs = n ? (switches() - cs0) / (double)n : 0;
    qsort(lat, n, sizeof *lat, cmp_u64);
    out->p50_ms = n ? lat[n / 2] / 1e6 : 0;
    out->p99_ms = n ? lat[n * 99 / 100] / 1e6 : 0;
    out->errors = errors;
    for (i = 0; i < clients; i++)
        curl_easy_cleanup(h[i]);
    curl_multi_cleanup(m);
    curl_slist_free_all(hdr);
    free(lat);
}

/* ------------------------------------------------------------------ */
/* SSE delay                                                          */

/* Per event i (id = g_first_seq + i): when it was sent, when it was
 * recorded (a runtime subscription: called on the recorder thread right
 * after the daemon's own event callback, which fills the streams), when
 * the subscriber read it.  Delays are computed after the run, so an event
 * that reaches the client before the subscription hears of it counts 0. */
#define SSE_EVENTS 1000
static _Atomic uint64_t g_sent[SSE_EVENTS], g_commit[SSE_EVENTS], g_seen[SSE_EVENTS];
static uint64_t g_first_seq;
static atomic_int g_nseen;

static void on_commit(void *ud, const th_runtime_event *ev)
{
    (void)ud;
    if (ev->seq >= g_first_seq && ev->seq - g_first_seq < SSE_EVENTS)
        atomic_store(&g_commit[ev->seq - g_first_seq], now_ns());
}

typedef struct sse_buf {
    char data[65536];
    size_t len;
} sse_buf;

static size_t on_sse(char *p, size_t s, size_t n, void *ud)
{
    sse_buf *b = ud;
    size_t len = s * n;
    uint64_t t = now_ns();
    char *line;

    if (b->len + len >= sizeof b->data)
        b->len = 0;
    memcpy(b->data + b->len, p, len);
    b->len += len;
    b->data[b->len] = 0;
    while ((line = strstr(b->data, "\n\n")) != NULL) {
        char *id = strstr(b->data, "id: ");
        if (id != NULL && id < line) {
            uint64_t seq = strtoull(id + 4, NULL, 10);
            if (seq >= g_first_seq && seq - g_first_seq < SSE_EVENTS &&
                atomic_load(&g_seen[seq - g_first_seq]) == 0) {
                atomic_store(&g_seen[seq - g_first_seq], t);
                atomic_fetch_add(&g_nseen, 1);
            }
        }
        memmove(b->data, line + 2, b->len - (size_t)(line + 2 - b->data) + 1);
        b->len -= (size_t)(line + 2 - b->data);
    }
    return len;
}

typedef struct sse_arg {
    const char *sock;
    char url[256];
    char last[64];
    int events;
} sse_arg;

static size_t sse_progress_stop(void *ud, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
    sse_arg *arg = ud;

    (void)a, (void)b, (void)c, (void)d;
    return atomic_load(&g_nseen) >= arg->events;
}

static void *sse_client(void *arg)
{
    sse_arg *a = arg;
    static sse_buf b;
    CURL *h = curl_easy_init();
    struct curl_slist *hdr = curl_slist_append(NULL, a->last);

    b.len = 0;
    curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, a->sock);
    curl_easy_setopt(h, CURLOPT_URL, a->url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_sse);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, sse_progress_stop);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, a);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
    curl_easy_perform(h);
    curl_slist_free_all(hdr);
    curl_easy_cleanup(h);
    return NULL;
}

static void sse_reset(uint64_t first)
{
    int i;

    g_first_seq = first;
    for (i = 0; i < SSE_EVENTS; i++) {
        atomic_store(&g_sent[i], 0);
        atomic_store(&g_commit[i], 0);
        atomic_store(&g_seen[i], 0);
    }
    atomic_store(&g_nseen, 0);
}

/* p50 and p99 of g_seen - from[i] over the events seen; the count. */
static int sse_delays(_Atomic uint64_t *from, double *p50, double *p99)
{
    static uint64_t d[SSE_EVENTS];
    int i, n = 0;

    for (i = 0; i < SSE_EVENTS; i++) {
        uint64_t f = atomic_load(&from[i]), t = atomic_load(&g_seen[i]);
        if (f != 0 && t != 0)
            d[n++] = t > f ? t - f : 0;
    }
    qsort(d, (size_t)n, sizeof d[0], cmp_u64);
    *p50 = n ? d[n / 2] / 1e6 : 0;
    *p99 = n ? d[n * 99 / 100] / 1e6 : 0;
    return n;
}

/* The baseline's stream: one subscriber on GET /sse of the static server,
 * fed by the bench's thread the way the daemon feeds its streams (a
 * buffer under a lock; the connection suspended while it is empty and
 * resumed by the producer). */
static struct {
    pthread_mutex_t lock;
    struct MHD_Connection *conn;
    char buf[8192];
    size_t len;
    bool suspended, ended;
} g_bsse = {PTHREAD_MUTEX_INITIALIZER, NULL, {0}, 0, false, false};

static ssize_t bsse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    size_t n;

    (void)cls, (void)pos;
    pthread_mutex_lock(&g_bsse.lock);
    if (g_bsse.len > 0) {
        n = g_bsse.len < max ? g_bsse.len : max;
        memcpy(buf, g_bsse.buf, n);
        memmove(g_bsse.buf, g_bsse.buf + n, g_bsse.len - n);
        g_bsse.len -= n;
        pthread_mutex_unlock(&g_bsse.lock);
        return (ssize_t)n;
    }
    if (g_bsse.ended) {
        pthread_mutex_unlock(&g_bsse.lock);
        return MHD_CONTENT_READER_END_OF_STREAM;
    }
    g_bsse.suspended = true;
    MHD_suspend_connection(g_bsse.conn);
    pthread_mutex_unlock(&g_bsse.lock);
    return 0;
}

static void bsse_publish(const char *frame, bool end)
{
    bool resume = false;

    pthread_mutex_lock(&g_bsse.lock);
    if (frame != NULL && g_bsse.len + strlen(frame) < sizeof g_bsse.buf) {
        memcpy(g_bsse.buf + g_bsse.len, frame, strlen(frame));
        g_bsse.len += strlen(frame);
    }
    g_bsse.ended = end;
    if (g_bsse.suspended && g_bsse.conn != NULL) {
        g_bsse.suspended = false;
        resume = true;
    }
    pthread_mutex_unlock(&g_bsse.lock);
    if (resume)
        MHD_resume_connection(g_bsse.conn);
}

/* Feed `events` events at 2 ms intervals to a subscriber on sa->url:
 * through the daemon (rt != NULL: a one-way message each, which records an
 * event) or the baseline's stream. */
static int sse_run(th_runtime *rt, const char *id, sse_arg *sa)
{
    pthread_t ct;
    char frame[64];
    int i, k = 0;

    sa->events = rt != NULL ? SSE_EVENTS : SSE_EVENTS - 10;
    pthread_create(&ct, NULL, sse_client, sa);
    usleep(200000);
    for (i = 0; i < SSE_EVENTS && atomic_load(&g_nseen) < sa->events; i++) {
        if (rt != NULL) {
            /* each message records one event of the actor (a wasm-call,
             * with its result); the first ones may be of the stored past */
            atomic_store(&g_sent[k], now_ns());
            th_runtime_send(rt, id, (const uint8_t *)"x", 1, NULL);
            k++;
        } else {
            atomic_store(&g_sent[i], now_ns());
            atomic_store(&g_commit[i], now_ns());
            snprintf(frame, sizeof frame, "id: %d\nevent: x\ndata: {}\n\n", i);
            bsse_publish(frame, false);
        }
        usleep(2000);
    }
    if (rt == NULL)
        bsse_publish(NULL, true);
    pthread_join(ct, NULL);
    return atomic_load(&g_nseen);
}

/* SSE: the baseline's stream, then the daemon's stream of an actor (after
 * everything so far) while it is sent paced messages; returns 1 if the
 * target was missed. */
static int sse_scenario(th_runtime *rt, const char *bsock, const char *sock, const char *id)
{
    th_actor_info in;
    sse_arg sa;
    uint64_t sub;
    double b50, b99, c50, c99, s50, s99;
    int n;

    sse_reset(0);
    sa.sock = bsock;
    snprintf(sa.url, sizeof sa.url, "http://x/sse");
    snprintf(sa.last, sizeof sa.last, "X-Nothing: 0");
    sse_run(NULL, NULL, &sa);
    sse_delays(g_commit, &b50, &b99);
    printf("  baseline  SSE publish->client        p50 %.3f ms  p99 %.3f ms\n", b50, b99);

    th_runtime_flush(rt, id, NULL);
    th_runtime_actor_info(rt, id, &in, NULL);
    sse_reset(in.events); /* the next event's sequence number */
    th_runtime_subscribe(rt, id, on_commit, NULL, &sub, NULL);
    sa.sock = sock;
    snprintf(sa.url, sizeof sa.url, "http://theater/v1/actors/%s/events?follow=1", id);
    snprintf(sa.last, sizeof sa.last, "Last-Event-ID: %llu", (unsigned long long)(g_first_seq - 1));
    sse_run(rt, id, &sa);
    th_runtime_unsubscribe(rt, sub);
    n = sse_delays(g_commit, &c50, &c99);
    sse_delays(g_sent, &s50, &s99);
    printf("  daemon    SSE record->client  %4d   p50 %.3f ms  p99 %.3f ms  (p99 %+.3f ms over "
           "baseline)\n",
           n, c50, c99, c99 - b99);
    printf("  daemon    SSE send->client    %4d   p50 %.3f ms  p99 %.3f ms  (the actor's turn "
           "and the recorder's batching included)\n",
           n, s50, s99);
    if (n < SSE_EVENTS || c99 > 5.0) {
        printf("FAIL sse p99 <= 5 ms\n");
        return 1;
    }
    printf("PASS sse p99 <= 5 ms\n");
    return 0;
}

/* ------------------------------------------------------------------ */
/* The baseline server                                                */

static enum MHD_Result static_handler(void *cls, struct MHD_Connection *c, const char *url,
                                      const char *method, const char *version, const char *upload,
                                      size_t *upload_size, void **ptr)
{
    static int first;
    struct MHD_Response *r;
    enum MHD_Result ret;

    (void)cls, (void)method, (void)version, (void)upload;
    if (*ptr == NULL) {
        *ptr = &first;
        return MHD_YES;
    }
    if (*upload_size > 0) {
        *upload_size = 0;
        return MHD_YES;
    }
    if (strcmp(url, "/sse") == 0) {
        r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, bsse_read, NULL, NULL);
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
        pthread_mutex_lock(&g_bsse.lock);
        g_bsse.conn = c;
        g_bsse.len = 0;
        g_bsse.ended = g_bsse.suspended = false;
        pthread_mutex_unlock(&g_bsse.lock);
        ret = MHD_queue_response(c, 200, r);
        MHD_destroy_response(r);
        return ret;
    }
    r = MHD_create_response_from_buffer(1, (void *)"0", MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/octet-stream");
    ret = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return ret;
}

static struct MHD_Daemon *baseline_start(const char *path)
{
    struct sockaddr_un sa;
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof sa.sun_path)
        return NULL;
    memcpy(sa.sun_path, path, strlen(path) + 1);
    unlink(path);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 512) != 0)
        return NULL;
    /* the daemon's flags (src/server/http.c) */
    return MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
                                MHD_ALLOW_SUSPEND_RESUME,
                            0, NULL, NULL, static_handler, NULL, MHD_OPTION_LISTEN_SOCKET, fd,
                            MHD_OPTION_CONNECTION_LIMIT, 1024u, MHD_OPTION_END);
}

/* The disk's own price of a commit, in the same run: write 4 KiB into a
 * file of the home (overwriting, as SQLite's WAL does once it is reused)
 * and fdatasync, 300 times; the mean, p50 and p99 in ms. */
static void disk_sync(const char *home, double *mean, double *p50, double *p99)
{
    static uint64_t d[300];
    char path[512], block[4096];
    uint64_t sum = 0;
    int fd, i, n = 0;

    *mean = *p50 = *p99 = 0;
    snprintf(path, sizeof path, "%s/disk-probe", home);
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        return;
    memset(block, 'x', sizeof block);
    for (i = 0; i < 256; i++)
        if (pwrite(fd, block, sizeof block, (off_t)i * 4096) != (ssize_t)sizeof block)
            break;
    if (i == 256 && fsync(fd) == 0) {
        for (n = 0; n < 300; n++) {
            uint64_t t = now_ns();
            if (pwrite(fd, block, sizeof block, (off_t)(n % 256) * 4096) != (ssize_t)sizeof block ||
                fdatasync(fd) != 0)
                break;
            d[n] = now_ns() - t;
            sum += d[n];
        }
    }
    close(fd);
    unlink(path);
    qsort(d, (size_t)n, sizeof d[0], cmp_u64);
    *mean = n ? sum / 1e6 / n : 0;
    *p50 = n ? d[n / 2] / 1e6 : 0;
    *p99 = n ? d[n * 99 / 100] / 1e6 : 0;
}

/* ------------------------------------------------------------------ */

static void *server_main(void *arg)
{
    th_server_run(arg, NULL);
    return NULL;
}

int main(int argc, char **argv)
{
    char home[] = "/tmp/theater-api-bench-XXXXXX", sock[256], bsock[256], url[256], id[64];
    th_server_config cfg;
    th_server *srv;
    th_runtime *rt;
    th_spawn_opts o;
    th_error err;
    pthread_t st;
    struct MHD_Daemon *base;
    load_result rb, rs, rm, rn;
    char id2[64], *text = NULL, dir[512];
    int i, fails = 0;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
            g_seconds = atof(argv[++i]);
        else if (strcmp(argv[i], "--clients") == 0 && i + 1 < argc)
            g_clients = atoi(argv[++i]);
        else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
            g_only = argv[++i];
        else
            g_clients = 0; /* usage */
    }
    if (g_clients < 1 || g_clients > MAX_CLIENTS || g_seconds <= 0 ||
        (g_only != NULL && !want("state") && !want("messages") && !want("sse"))) {
        fprintf(stderr,
                "usage: api_bench [--seconds S] [--clients 1..%d] [--only state|messages|sse]\n",
                MAX_CLIENTS);
        return 2;
    }
    if (mkdtemp(home) == NULL)
        return 1;
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    memset(&cfg, 0, sizeof cfg);
    cfg.home = home;
    cfg.log_level = TH_LOG_ERROR;
    if (th_server_new(&cfg, &srv, &err) != 0) {
        fprintf(stderr, "api_bench: %s\n", err.msg);
        return 1;
    }
    rt = th_server_runtime(srv);
    pthread_create(&st, NULL, server_main, srv);
    memset(&o, 0, sizeof o);
    o.manifest_path = THEATER_BENCH_COUNTER;
    if (th_runtime_spawn(rt, &o, id, &err) != 0) {
        fprintf(stderr, "api_bench: %s\n", err.msg);
        return 1;
    }
    {
        /* the same counter, not durable */
        FILE *f = fopen(THEATER_BENCH_COUNTER, "rb");
        long n = -1;
        char *slash;
        if (f != NULL && fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
            fseek(f, 0, SEEK_SET) == 0 && (text = malloc((size_t)n + 32)) != NULL) {
            strcpy(text, "durable = false\n");
            n = (long)fread(text + 16, 1, (size_t)n, f);
            text[16 + n] = 0;
        }
        if (f != NULL)
            fclose(f);
        snprintf(dir, sizeof dir, "%s", THEATER_BENCH_COUNTER);
        if ((slash = strrchr(dir, '/')) != NULL)
            *slash = 0;
        else
            strcpy(dir, ".");
        memset(&o, 0, sizeof o);
        o.manifest_text = text;
        o.base_dir = dir;
        if (text == NULL || th_runtime_spawn(rt, &o, id2, &err) != 0) {
            fprintf(stderr, "api_bench: %s\n", text ? err.msg : "cannot read the counter");
            return 1;
        }
        free(text);
    }
    snprintf(sock, sizeof sock, "%s/theater.sock", home);
    snprintf(bsock, sizeof bsock, "%s/baseline.sock", home);
    base = baseline_start(bsock);
    if (base == NULL) {
        fprintf(stderr, "api_bench: cannot start the baseline server\n");
        return 1;
    }
    printf("api_bench: %d keep-alive clients over a unix socket, %.1f s per scenario\n", g_clients,
           g_seconds);

    load(bsock, "http://x/static", NULL, g_clients, &rb);
    printf("  baseline  static handler    %9.0f req/s  p50 %.3f ms  p99 %.3f ms  cpu %.0f us/req  "
           "%.1f cs/req\n",
           rb.per_s, rb.p50_ms, rb.p99_ms, rb.cpu_us, rb.cs);
    if (want("state")) {
        snprintf(url, sizeof url, "http://theater/v1/actors/%s/state", id);
        load(sock, url, NULL, g_clients, &rs);
        printf("  daemon    GET state         %9.0f req/s  p50 %.3f ms  p99 %.3f ms  (%.2fx "
               "baseline)%s\n",
               rs.per_s, rs.p50_ms, rs.p99_ms, rs.per_s / rb.per_s, rs.errors ? "  ERRORS" : "");
    }
    if (want("messages")) {
        double dmean, d50, d99, bound;
        int many = g_clients * 4 > MAX_CLIENTS ? MAX_CLIENTS : g_clients * 4;
        /* Little's law: N clients that each wait for one commit of mean
         * duration T get at most N / T acknowledgements a second */
        disk_sync(home, &dmean, &d50, &d99);
        bound = dmean > 0 ? g_clients / (dmean / 1e3) : 0;
        printf("  disk      4 KiB write + fdatasync in the home  mean %.3f ms  p50 %.3f ms  p99 "
               "%.3f ms: %d clients that each wait for one commit get at most %.0f/s\n",
               dmean, d50, d99, g_clients, bound);
        snprintf(url, sizeof url, "http://theater/v1/actors/%s/messages", id);
        load(sock, url, "hello", g_clients, &rm);
        printf(
            "  daemon    POST messages     %9.0f msg/s  p50 %.3f ms  p99 %.3f ms  cpu %.0f us/msg  "
            "%.1f cs/msg  (%.2fx baseline; %.2fx the disk's bound)%s\n",
            rm.per_s, rm.p50_ms, rm.p99_ms, rm.cpu_us, rm.cs, rm.per_s / rb.per_s,
            bound > 0 ? rm.per_s / bound : 0, rm.errors ? "  ERRORS" : "");
        snprintf(url, sizeof url, "http://theater/v1/actors/%s/messages", id2);
        load(sock, url, "hello", g_clients, &rn);
        printf("  daemon    POST messages, durable = false  %9.0f msg/s  p50 %.3f ms  p99 %.3f ms  "
               "cpu %.0f us/msg  %.1f cs/msg  (%.2fx baseline; durable: %.2fx of this)%s\n",
               rn.per_s, rn.p50_ms, rn.p99_ms, rn.cpu_us, rn.cs, rn.per_s / rb.per_s,
               rm.per_s / rn.per_s, rn.errors ? "  ERRORS" : "");
        if (many > g_clients) {
            load_result r4;
            snprintf(url, sizeof url, "http://theater/v1/actors/%s/messages", id);
            load(sock, url, "hello", many, &r4);
            printf(
                "  daemon    POST messages, %d clients  %9.0f msg/s  p50 %.3f ms  p99 %.3f ms  cpu "
                "%.0f us/msg  %.1f cs/msg  (group commit: %.2fx the %d-client figure)%s\n",
                many, r4.per_s, r4.p50_ms, r4.p99_ms, r4.cpu_us, r4.cs, r4.per_s / rm.per_s,
                g_clients, r4.errors ? "  ERRORS" : "");
        }
    }
    if (want("sse"))
        fails += sse_scenario(rt, bsock, sock, id2);
    if (want("state")) {
        if (rs.per_s >= 30000 && rs.p99_ms <= 2.0 && rs.errors == 0) {
            printf("PASS state reads >= 30,000/s with p99 <= 2 ms\n");
        } else {
            printf("FAIL state reads >= 30,000/s with p99 <= 2 ms\n");
            fails++;
        }
    }
    if (want("messages")) {
        if (rm.per_s >= 20000 && rm.errors == 0) {
            printf("PASS one-way messages >= 20,000/s\n");
        } else {
            printf("FAIL one-way messages >= 20,000/s\n");
            fails++;
        }
    }
    MHD_stop_daemon(base);
    th_server_stop(srv);
    pthread_join(st, NULL);
    th_server_free(srv);
    {
        char cmd[512];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", home);
        if (system(cmd) != 0)
            fprintf(stderr, "api_bench: could not remove %s\n", home);
    }
    curl_global_cleanup();
    return fails ? 1 : 0;
}
