/*
 * runtime_bench.c - benchmarks of the actor runtime, with chain recording
 * on (every event hashed, linked and stored in THEATER_HOME), printed side
 * by side with the same benchmarks in Erlang (bench/erlang/runtime_bench.erl,
 * run in the same invocation when `erl` is installed, with 2 schedulers):
 *
 *   spawn + init    median time of th_runtime_spawn of a small actor whose
 *                   module is already loaded (the call returns after init)
 *   memory          RSS growth per idle actor over 100,000 live actors, 2 s
 *                   after their spawns, with the runtime's default packing
 *                   of idle actors' memory (after 1 s idle); --no-pack
 *                   turns packing off for every runtime of the run
 *   one-way         messages/s between 4 actor pairs on 2 workers
 *                   (message-server send, handled by handle-send)
 *   one pair        the same between one pair on 2 workers (a sender and
 *                   its counter, as a user's first test would have them)
 *   round trip      request/reply between two actors: median over 20
 *                   batches of the mean round trip of 2,000 requests
 *   round trip p99  the 99th percentile of single round trips: the client
 *                   logs after each request and the log callback takes the
 *                   time, so each sample is one round trip plus one
 *                   (recorded) log call, an upper bound of the round trip
 *   scaling         the one-way figure with 2 workers over the same with
 *                   1 worker (independent pairs; Erlang: +S 2 over +S 1)
 *
 * The one-way runs are repeated (ONEWAY_ROUNDS, 1 with --quick), the
 * 2-worker and 1-worker runs alternating, and the medians are printed
 * with their ranges: on a shared machine one run of a second can lose a
 * quarter of its rate to a neighbour, and the scaling ratio is taken per
 * round, from two runs a second apart.
 *   million         (only with --million [N]) N idle actors (default
 *                   1,000,000) spawned, each sent one message (waited for
 *                   until handled), and stopped, in one process: time of
 *                   each phase and peak RSS, beside Erlang's
 *
 * Besides wall-clock figures, it prints the CPU time the whole process
 * spent per message and per round trip (all threads: workers, recorder,
 * chain writer), which a loaded machine disturbs much less.
 *
 * The actor is bench/runtime_actor.wat.  Requirements (issue 12): spawn
 * + init <= 4 us, <= 5 KiB per idle actor, >= 1,000,000 messages/s and at
 * most 4x Erlang's time for the same messages, round trip median <= 2 us
 * and p99 <= 20 us, 2 workers >= 1.7x one; the program prints MET/NOT MET
 * per figure.
 *
 *   runtime_bench [--quick] [--no-erlang] [--no-pack] [--only spawn|memory|oneway|pair|rtt|scaling]
 *                 [--spawns N] [--million [N]] [--oneway-workers N]
 *
 * --only runs one figure and no Erlang, except --only spawn, which runs
 * Erlang's spawn figure alone beside it (unless --no-erlang).
 * --oneway-workers N runs the one-way figure with N workers instead of 2
 * (for profiling one side of the scaling figure; the requirements are
 * stated for 2).
 */
#define _GNU_SOURCE /* RUSAGE_THREAD */
#include <dirent.h>
#include <pthread.h>
#include <sys/resource.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "theater/handlers.h"
#include "theater/runtime.h"

#ifndef THEATER_BENCH_ACTOR
#define THEATER_BENCH_ACTOR "runtime_actor.wasm"
#endif
#ifndef THEATER_BENCH_SRC_DIR
#define THEATER_BENCH_SRC_DIR "."
#endif

static atomic_int g_done, g_qdone;
/* "done" logs are also signalled here: the one-way figure waits for them
 * asleep, not polling (the polling thread's wake-ups would count in the
 * process's CPU per message). */
static pthread_mutex_t g_done_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_done_cv = PTHREAD_COND_INITIALIZER;
/* "qdone" is also signalled: an rtt batch is waited for without polling
 * (a thread waking every few microseconds would share the cores with the
 * round trips it measures) */
static pthread_mutex_t g_qlock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_qcond = PTHREAD_COND_INITIALIZER;

/* Times (us) of the client's "t" logs, one per round trip (rtt p99). */
#define TICKS_MAX 100000
static double g_ticks[TICKS_MAX];
static atomic_int g_nticks;

static double now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void on_log(void *ud, const char *id, const char *name, const char *msg, size_t len)
{
    (void)ud, (void)id, (void)name;
    if (len == 4 && memcmp(msg, "done", 4) == 0) {
        pthread_mutex_lock(&g_done_lock);
        atomic_fetch_add(&g_done, 1);
        pthread_cond_broadcast(&g_done_cv);
        pthread_mutex_unlock(&g_done_lock);
    } else if (len == 5 && memcmp(msg, "qdone", 5) == 0) {
        pthread_mutex_lock(&g_qlock);
        atomic_fetch_add(&g_qdone, 1);
        pthread_cond_broadcast(&g_qcond);
        pthread_mutex_unlock(&g_qlock);
    } else if (len == 1 && msg[0] == 't') {
        int i = atomic_fetch_add(&g_nticks, 1);
        if (i < TICKS_MAX)
            g_ticks[i] = now_us();
    } else
        fprintf(stderr, "log: %.*s\n", (int)len, msg);
}

/* CPU time of the whole process (every thread), in microseconds: what a
 * figure costs, whatever else shares the machine. */
static double cpu_us(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec * 1e6 + ru.ru_utime.tv_usec + ru.ru_stime.tv_sec * 1e6 +
           ru.ru_stime.tv_usec;
}

/* CPU time (us) of the process's threads by role, told apart by the names
 * the runtime gives its threads. */
enum { R_WORKER, R_RECORDER, R_WRITER, R_OTHER, R_N };
static const char *const role_name[R_N] = {"workers", "recorder", "chain writer", "other"};

/* Each thread's CPU clock (Linux: the clock id glibc's pthread_getcpuclockid
 * makes from a thread id), added up by role.  Threads that ended are not
 * counted; none ends within the figures that use this. */
static void role_cpu(double out[R_N])
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    struct timespec ts;
    char path[300], comm[32];
    FILE *f;
    long tid;
    int r;

    for (r = 0; r < R_N; r++)
        out[r] = 0;
    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        if ((tid = strtol(e->d_name, NULL, 10)) <= 0)
            continue;
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        comm[0] = '\0';
        if ((f = fopen(path, "r")) != NULL) {
            if (fgets(comm, sizeof comm, f) == NULL)
                comm[0] = '\0';
            fclose(f);
        }
        comm[strcspn(comm, "\n")] = '\0';
        if (clock_gettime((clockid_t)((~(unsigned long)tid << 3) | 6u), &ts) != 0)
            continue;
        r = strcmp(comm, "th-worker") == 0         ? R_WORKER
            : strcmp(comm, "th-recorder") == 0     ? R_RECORDER
            : strcmp(comm, "th-chain-writer") == 0 ? R_WRITER
                                                   : R_OTHER;
        out[r] += ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
    }
    closedir(d);
}

/* Per operation (n of them) between two role_cpu samples, into out. */
static void role_per(const double a[R_N], const double b[R_N], double n, double out[R_N])
{
    int r;

    for (r = 0; r < R_N; r++)
        out[r] = (b[r] - a[r]) / n;
}

static double g_oneway_cpu, g_rtt_cpu; /* CPU us per message / round trip */
/* the same until every event of the figure is durable (the recording
 * threads' backlog included), and its share by role */
static double g_oneway_dur, g_rtt_dur, g_oneway_role[R_N], g_rtt_role[R_N];
static double g_rtt_csw; /* context switches per round trip */

/* The CPU until durable and its share by thread. */
static void print_durable(double dur, const double role[R_N])
{
    int r;

    printf("%-30s %14.2f\n  ", "  until every event is durable", dur);
    for (r = 0; r < R_N; r++)
        printf("%s %s %.2f", r ? "," : "  of which", role_name[r], role[r]);
    printf("\n");
}

/* Context switches of the whole process so far (every thread's voluntary
 * and involuntary ones, /proc/self/status). */
static long ctx_switches(void)
{
    char line[128];
    long v, total = 0;
    FILE *f = fopen("/proc/self/status", "r");

    if (f == NULL)
        return 0;
    while (fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "voluntary_ctxt_switches: %ld", &v) == 1 ||
            sscanf(line, "nonvoluntary_ctxt_switches: %ld", &v) == 1)
            total += v;
    fclose(f);
    return total;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_double);
    return v[n / 2];
}

static long rss_kib(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");

    if (f == NULL)
        return -1;
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
        resident = -1;
    fclose(f);
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static void die(const char *what, const th_error *err)
{
    fprintf(stderr, "runtime_bench: %s: %s\n", what, err->msg);
    exit(1);
}

/* th_runtime_config.pack_idle_ms of the runtimes started (0: default;
 * --no-pack: never). */
static unsigned g_pack_idle_ms;

typedef struct bench {
    char home[128];
    char manifest[256];
    th_runtime *rt;
} bench;

static void bench_start(bench *b, unsigned workers)
{
    th_runtime_config cfg;
    th_error err;
    FILE *f;

    snprintf(b->home, sizeof b->home, "/tmp/theater-bench-XXXXXX");
    if (mkdtemp(b->home) == NULL) {
        perror("mkdtemp");
        exit(1);
    }
    snprintf(b->manifest, sizeof b->manifest, "%s/actor.toml", b->home);
    f = fopen(b->manifest, "w");
    if (f == NULL) {
        perror(b->manifest);
        exit(1);
    }
    fprintf(f,
            "name = \"bench\"\ncomponent = \"%s\"\n\n[[handler]]\ntype = \"runtime\"\n\n"
            "[[handler]]\ntype = \"message-server\"\n",
            THEATER_BENCH_ACTOR);
    fclose(f);
    memset(&cfg, 0, sizeof cfg);
    cfg.home = b->home;
    cfg.workers = workers;
    cfg.log_fn = on_log;
    cfg.handlers = th_handlers_builtin();
    cfg.pack_idle_ms = g_pack_idle_ms;
    if (th_runtime_new(&cfg, &b->rt, &err) != 0)
        die("runtime", &err);
}

static void bench_stop(bench *b)
{
    char cmd[200];
    th_error err;

    if (th_runtime_shutdown(b->rt, &err) != 0)
        fprintf(stderr, "runtime_bench: shutdown: %s\n", err.msg);
    th_runtime_free(b->rt);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", b->home);
    if (system(cmd) != 0)
        fprintf(stderr, "runtime_bench: could not remove %s\n", b->home);
}

static void spawn(bench *b, const char *peer, char *id)
{
    th_spawn_opts o = {0};
    th_error err;

    o.manifest_path = b->manifest;
    if (peer != NULL) {
        o.initial_state = (const uint8_t *)peer;
        o.initial_state_len = 36;
    }
    if (th_runtime_spawn(b->rt, &o, id, &err) != 0)
        die("spawn", &err);
}

/* The calling thread's minor page faults and context switches so far. */
static void thread_counts(long *faults, long *csw)
{
    struct rusage ru;

    getrusage(RUSAGE_THREAD, &ru);
    *faults = ru.ru_minflt;
    *csw = ru.ru_nvcsw + ru.ru_nivcsw;
}

/* Each spawn + init timed alone (n of them, after 200 to warm up); prints
 * the tail, the CPU of the process and of the spawning thread per spawn,
 * and the spawning thread's page faults and context switches per spawn;
 * returns the median. */
static double bench_spawn(int n)
{
    bench b;
    char id[TH_ACTOR_ID_SIZE];
    double *t = malloc(n * sizeof *t), t0, m, c0, ct0, cpu, tcpu;
    long f0, f1, s0, s1;
    struct timespec ts;
    int i;

    bench_start(&b, 2);
    for (i = 0; i < 200; i++) /* load the module, warm the caches */
        spawn(&b, NULL, id);
    c0 = cpu_us();
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    ct0 = ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
    thread_counts(&f0, &s0);
    for (i = 0; i < n; i++) {
        t0 = now_us();
        spawn(&b, NULL, id);
        t[i] = now_us() - t0;
    }
    thread_counts(&f1, &s1);
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    tcpu = (ts.tv_sec * 1e6 + ts.tv_nsec / 1e3 - ct0) / n;
    cpu = (cpu_us() - c0) / n;
    m = median(t, n); /* (sorts t) */
    printf("theater: spawn + init of %d actors: median %.2f us, p90 %.2f, p99 %.2f, p99.9 %.2f, "
           "max %.2f us;\n  CPU per spawn %.2f us (process), %.2f us (spawning thread); "
           "per spawn on the spawning thread: %.2f page faults, %.3f context switches\n",
           n, m, t[(size_t)((n - 1) * 0.90)], t[(size_t)((n - 1) * 0.99)],
           t[(size_t)((n - 1) * 0.999)], t[n - 1], cpu, tcpu, (double)(f1 - f0) / n,
           (double)(s1 - s0) / n);
    fflush(stdout);
    free(t);
    bench_stop(&b);
    return m;
}

static double bench_memory(int n)
{
    bench b;
    char id[TH_ACTOR_ID_SIZE];
    long before, after;
    int i;

    bench_start(&b, 2);
    for (i = 0; i < 200; i++)
        spawn(&b, NULL, id);
    sleep(1);
    before = rss_kib();
    for (i = 0; i < n; i++)
        spawn(&b, NULL, id);
    sleep(2); /* let the chain writer store the spawn events */
    after = rss_kib();
    bench_stop(&b);
    return (double)(after - before) * 1024.0 / n;
}

static void send_cmd(bench *b, const char *id, char op, uint32_t n)
{
    uint8_t msg[5];
    th_error err;

    msg[0] = (uint8_t)op;
    memcpy(msg + 1, &n, 4);
    if (th_runtime_send(b->rt, id, msg, 5, &err) != 0)
        die("send", &err);
}

static double bench_oneway(int pairs, uint32_t n, unsigned workers)
{
    bench b;
    char rx[8][TH_ACTOR_ID_SIZE], tx[8][TH_ACTOR_ID_SIZE];
    double t0, t1, c0, r0[R_N], r1[R_N];
    th_error err;
    int i;

    bench_start(&b, workers);
    for (i = 0; i < pairs; i++) {
        spawn(&b, NULL, rx[i]);
        spawn(&b, rx[i], tx[i]);
    }
    atomic_store(&g_done, 0);
    t0 = now_us();
    c0 = cpu_us();
    role_cpu(r0);
    for (i = 0; i < pairs; i++)
        send_cmd(&b, tx[i], 'G', n);
    pthread_mutex_lock(&g_done_lock);
    while (atomic_load(&g_done) < pairs)
        pthread_cond_wait(&g_done_cv, &g_done_lock);
    pthread_mutex_unlock(&g_done_lock);
    t1 = now_us();
    g_oneway_cpu = (cpu_us() - c0) / ((double)pairs * (n + 1));
    /* the recording threads' backlog: every event durable */
    for (i = 0; i < pairs; i++)
        if (th_runtime_flush(b.rt, tx[i], &err) != 0 || th_runtime_flush(b.rt, rx[i], &err) != 0)
            die("flush", &err);
    g_oneway_dur = (cpu_us() - c0) / ((double)pairs * (n + 1));
    role_cpu(r1);
    role_per(r0, r1, (double)pairs * (n + 1), g_oneway_role);
    bench_stop(&b);
    return (double)pairs * (n + 1) / ((t1 - t0) / 1e6);
}

/* One one-way run's figures: messages/s, CPU per message (until the last
 * is handled; until every event is durable) and its share per role. */
typedef struct oneway_run {
    double msgs, cpu, dur, role[R_N];
} oneway_run;

#define ONEWAY_ROUNDS 3

static oneway_run oneway_measure(int pairs, uint32_t n, unsigned workers)
{
    oneway_run r;

    r.msgs = bench_oneway(pairs, n, workers);
    r.cpu = g_oneway_cpu;
    r.dur = g_oneway_dur;
    memcpy(r.role, g_oneway_role, sizeof r.role);
    return r;
}

/* The run of median rate among n (sorts v by rate). */
static int cmp_run(const void *a, const void *b)
{
    double x = ((const oneway_run *)a)->msgs, y = ((const oneway_run *)b)->msgs;
    return x < y ? -1 : x > y;
}

static oneway_run median_run(oneway_run *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_run);
    return v[n / 2];
}

/* One batch of the client `cli`: n requests (op 'Q': timed by the caller;
 * 'P': each followed by a log call, rtt tail), waited for until the
 * client logs "qdone". */
static void rtt_batch(bench *b, const char *cli, char op, uint32_t n)
{
    int want = atomic_load(&g_qdone) + 1;

    send_cmd(b, cli, op, n);
    pthread_mutex_lock(&g_qlock);
    while (atomic_load(&g_qdone) < want)
        pthread_cond_wait(&g_qcond, &g_qlock);
    pthread_mutex_unlock(&g_qlock);
}

/* A fresh runtime (2 workers) with a server and its client, the client
 * warmed up by one batch of 100 requests. */
static void rtt_start(bench *b, char *srv, char *cli)
{
    bench_start(b, 2);
    spawn(b, NULL, srv);
    spawn(b, srv, cli);
    atomic_store(&g_qdone, 0);
    rtt_batch(b, cli, 'Q', 100); /* warm up */
}

static double bench_roundtrip(int batches, uint32_t n)
{
    bench b;
    char srv[TH_ACTOR_ID_SIZE], cli[TH_ACTOR_ID_SIZE];
    double *t = malloc(batches * sizeof *t), t0, m, c0, r0[R_N], r1[R_N];
    th_error err;
    long s0;
    int i;

    rtt_start(&b, srv, cli);
    if (th_runtime_flush(b.rt, cli, &err) != 0 || th_runtime_flush(b.rt, srv, &err) != 0)
        die("flush", &err); /* the warm-up's events are not counted */
    c0 = cpu_us();
    role_cpu(r0);
    s0 = ctx_switches();
    for (i = 0; i < batches; i++) {
        t0 = now_us();
        rtt_batch(&b, cli, 'Q', n);
        t[i] = (now_us() - t0) / n;
    }
    g_rtt_cpu = (cpu_us() - c0) / ((double)batches * n);
    g_rtt_csw = (double)(ctx_switches() - s0) / ((double)batches * n);
    if (th_runtime_flush(b.rt, cli, &err) != 0 || th_runtime_flush(b.rt, srv, &err) != 0)
        die("flush", &err);
    g_rtt_dur = (cpu_us() - c0) / ((double)batches * n);
    role_cpu(r1);
    role_per(r0, r1, (double)batches * n, g_rtt_role);
    m = median(t, batches);
    free(t);
    bench_stop(&b);
    return m;
}

/* Single round trips: `batches` batches of n requests, each request
 * followed by a log call whose callback takes the time; the percentile
 * `pct` (0..100) of the intervals between consecutive logs, in us. */
static double bench_rtt_tail(int batches, uint32_t n, double pct, double *p50)
{
    bench b;
    char srv[TH_ACTOR_ID_SIZE], cli[TH_ACTOR_ID_SIZE];
    double *d = malloc((size_t)batches * n * sizeof *d), v;
    size_t nd = 0;
    int i, k, base;

    rtt_start(&b, srv, cli);
    for (i = 0; i < batches; i++) {
        atomic_store(&g_nticks, 0);
        rtt_batch(&b, cli, 'P', n);
        base = atomic_load(&g_nticks) < TICKS_MAX ? atomic_load(&g_nticks) : TICKS_MAX;
        /* the first interval of a batch has no start: skip it */
        for (k = 1; k < base; k++)
            d[nd++] = g_ticks[k] - g_ticks[k - 1];
    }
    bench_stop(&b);
    qsort(d, nd, sizeof *d, cmp_double);
    v = nd ? d[(size_t)((double)(nd - 1) * pct / 100.0)] : -1;
    *p50 = nd ? d[nd / 2] : -1;
    free(d);
    return v;
}

/* Peak resident set of the process (VmHWM), in KiB; -1 if unknown. */
static long peak_rss_kib(void)
{
    char line[256];
    long v = -1;
    FILE *f = fopen("/proc/self/status", "r");

    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "VmHWM: %ld", &v) == 1)
            break;
    fclose(f);
    return v;
}

/* The figures of the million run: seconds of each phase, peak RSS. */
enum { M_SPAWN, M_SEND, M_STOP, M_TOTAL, M_RSS_KIB, M_NKEYS };

/* Stop ids[0..n) with th_runtime_stop_many (as Erlang's run sends every
 * stop and then waits for them all); returns when all are gone and their
 * last events are durable. */
static void stop_all(th_runtime *rt, char (*ids)[TH_ACTOR_ID_SIZE], unsigned n)
{
    const char **p = malloc((size_t)n * sizeof *p);
    th_error err;
    unsigned i;

    if (p == NULL) {
        fprintf(stderr, "runtime_bench: out of memory for %u ids\n", n);
        exit(1);
    }
    for (i = 0; i < n; i++)
        p[i] = ids[i];
    if (th_runtime_stop_many(rt, p, n, NULL, &err) != 0)
        die("stop", &err);
    free(p);
}

/* N idle actors: spawn them all (each spawn returns after its init), send
 * each one message and wait until every one is handled (the actor logs
 * "done" for it), stop them all (stop_all).  Fills the time of each phase
 * and the peak RSS (KiB) into out[]. */
static void bench_million(unsigned n, double out[M_NKEYS])
{
    bench b;
    char(*ids)[TH_ACTOR_ID_SIZE] = malloc((size_t)n * sizeof *ids);
    double t0, t_spawn, t_send, t_stop;
    th_error err;
    unsigned i;

    if (ids == NULL) {
        fprintf(stderr, "runtime_bench: out of memory for %u ids\n", n);
        exit(1);
    }
    bench_start(&b, 2);
    t0 = now_us();
    for (i = 0; i < n; i++)
        spawn(&b, NULL, ids[i]);
    t_spawn = now_us() - t0;
    atomic_store(&g_done, 0);
    t0 = now_us();
    for (i = 0; i < n; i++) {
        static const uint8_t log_done = 'L'; /* handle-send logs "done" */
        while (th_runtime_send(b.rt, ids[i], &log_done, 1, &err) != 0) {
            if (err.code != TH_EBUSY)
                die("send", &err);
            usleep(100);
        }
    }
    while ((unsigned)atomic_load(&g_done) < n)
        usleep(200);
    t_send = now_us() - t0;
    t0 = now_us();
    stop_all(b.rt, ids, n);
    t_stop = now_us() - t0;
    out[M_SPAWN] = t_spawn / 1e6;
    out[M_SEND] = t_send / 1e6;
    out[M_STOP] = t_stop / 1e6;
    out[M_TOTAL] = (t_spawn + t_send + t_stop) / 1e6;
    out[M_RSS_KIB] = (double)peak_rss_kib();
    printf("theater: %u idle actors: spawn %.2f s (%.2f us each), one message each (handled) "
           "%.2f s, stop %.2f s; total %.2f s; peak RSS %.1f MiB (peak / N: %.0f bytes per "
           "actor)\n",
           n, out[M_SPAWN], t_spawn / n, out[M_SEND], out[M_STOP], out[M_TOTAL],
           out[M_RSS_KIB] / 1024.0, out[M_RSS_KIB] * 1024.0 / n);
    fflush(stdout);
    bench_stop(&b);
    free(ids);
}

enum {
    E_SPAWN,
    E_BYTES,
    E_ONEWAY,
    E_ONEWAY1,
    E_RTT,
    E_RTT_P99,
    E_M_SPAWN,
    E_M_SEND,
    E_M_STOP,
    E_M_TOTAL,
    E_M_RSS_KIB,
    E_NKEYS
};

/* Run the Erlang version (bench/erlang/runtime_bench.erl) with `sched`
 * schedulers in `mode` (full, quick, oneway, million N); fills the
 * figures it prints (-1 where absent) and echoes its "million" line.
 * False if erl is not installed. */
static bool run_erlang(const char *mode, int sched, double out[E_NKEYS])
{
    static const char *const keys[E_NKEYS] = {
        "spawn_median_us",    "bytes_per_idle_process", "oneway_msgs_per_s",
        "oneway1_msgs_per_s", "roundtrip_median_us",    "roundtrip_p99_us",
        "million_spawn_s",    "million_send_s",         "million_stop_s",
        "million_total_s",    "million_peak_rss_kib"};
    char cmd[1024], line[512], name[64];
    double v;
    FILE *p;
    int i;

    for (i = 0; i < E_NKEYS; i++)
        out[i] = -1;
    if (system("command -v erl >/dev/null 2>&1 && command -v erlc >/dev/null 2>&1") != 0)
        return false;
    snprintf(cmd, sizeof cmd,
             "d=$(mktemp -d) && erlc -o \"$d\" '%s/erlang/runtime_bench.erl' && "
             "erl +S %d +P 2000000 -noshell -pa \"$d\" -run runtime_bench main %s -s init stop; "
             "rm -rf \"$d\"",
             THEATER_BENCH_SRC_DIR, sched, mode);
    p = popen(cmd, "r");
    if (p == NULL)
        return false;
    while (fgets(line, sizeof line, p) != NULL) {
        if (strncmp(line, "million ", 8) == 0)
            printf("erlang: %s", line + 8);
        if (sscanf(line, "%63s %lf", name, &v) != 2)
            continue;
        for (i = 0; i < E_NKEYS; i++)
            if (strcmp(name, keys[i]) == 0)
                out[i] = v;
    }
    pclose(p);
    return true;
}

static void row(const char *what, const char *unit, double ours, double erl, double limit,
                bool lower_is_better)
{
    bool pass = lower_is_better ? ours <= limit : ours >= limit;
    char e[32] = "-", r[32] = "-";

    if (erl > 0) {
        snprintf(e, sizeof e, "%.2f", erl);
        snprintf(r, sizeof r, "%.2fx", lower_is_better ? ours / erl : erl / ours);
    }
    printf("%-30s %14.2f %14s %10s   %s %s %.0f %s\n", what, ours, e, r, pass ? "MET" : "NOT MET",
           lower_is_better ? "<=" : ">=", limit, unit);
}

/* The million run beside Erlang's (same N, +S 2, in this run): a table of
 * the phases and the peak RSS, and the requirement (issue 12: done in one
 * process, reported beside Erlang; no figure is set for it). */
static int million_report(unsigned n, bool erlang)
{
    static const char *const what[M_NKEYS] = {"spawn (s)", "one message each (s)", "stop (s)",
                                              "total (s)", "peak RSS (MiB)"};
    double ours[M_NKEYS], erl[E_NKEYS];
    bool have_erl = false;
    char mode[64];
    int i;

    bench_million(n, ours);
    for (i = 0; i < E_NKEYS; i++)
        erl[i] = -1;
    if (erlang) {
        snprintf(mode, sizeof mode, "million %u", n);
        have_erl = run_erlang(mode, 2, erl);
        if (!have_erl)
            printf("(erl not installed: no Erlang baseline)\n");
    }
    printf("\n%-30s %14s %14s %10s\n", "million idle actors", "theater", "erlang", "ratio");
    for (i = 0; i < M_NKEYS; i++) {
        double o = i == M_RSS_KIB ? ours[i] / 1024.0 : ours[i];
        double e = erl[E_M_SPAWN + i];
        char es[32] = "-", rs[32] = "-";
        if (e > 0) {
            if (i == M_RSS_KIB)
                e /= 1024.0;
            snprintf(es, sizeof es, "%.2f", e);
            snprintf(rs, sizeof rs, "%.2fx", o / e);
        }
        printf("%-30s %14.2f %14s %10s\n", what[i], o, es, rs);
    }
    printf("%-30s %14.0f %14s\n", "peak RSS / N (bytes)", ours[M_RSS_KIB] * 1024.0 / n,
           erl[E_M_RSS_KIB] > 0 ? "" : "-");
    if (erl[E_M_RSS_KIB] > 0)
        printf("%-30s %14s %14.0f\n", "  erlang peak RSS / N", "", erl[E_M_RSS_KIB] * 1024.0 / n);
    printf("(ratio: theater over Erlang; lower is better)\n");
    printf("requirement (issue 12): %u actors spawned, each sent one message, and stopped, in "
           "one process, beside Erlang in the same run: %s\n",
           n, have_erl ? "MET" : "NOT MET (no Erlang baseline in this run)");
    return 0;
}

int main(int argc, char **argv)
{
    bool quick = false, erlang = true, no_erlang = false, have_erl = false;
    const char *only = NULL;
    double spawn_us, bytes, msgs = 0, rtt, rtt99 = 0, rtt50 = 0, one = 0, erl[E_NKEYS],
                            erl1[E_NKEYS];
    double ratio[ONEWAY_ROUNDS];
    oneway_run two_r[ONEWAY_ROUNDS], one_r[ONEWAY_ROUNDS], pair_r[ONEWAY_ROUNDS], two_m = {0},
                                                                                  one_m = {0};
    double pair = 0;
    int rounds = 0, rounds1 = quick ? 1 : ONEWAY_ROUNDS;
    unsigned million = 0, oneway_workers = 2;
    int i, spawns = 0;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0)
            quick = true;
        else if (strcmp(argv[i], "--no-erlang") == 0)
            erlang = false, no_erlang = true;
        else if (strcmp(argv[i], "--no-pack") == 0)
            g_pack_idle_ms = TH_RUNTIME_PACK_NEVER;
        else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
            only = argv[++i], erlang = false;
        else if (strcmp(argv[i], "--spawns") == 0 && i + 1 < argc && atoi(argv[i + 1]) > 0)
            spawns = atoi(argv[++i]);
        else if (strcmp(argv[i], "--oneway-workers") == 0 && i + 1 < argc &&
                 atoi(argv[i + 1]) >= 1 && atoi(argv[i + 1]) <= 8)
            oneway_workers = (unsigned)atoi(argv[++i]);
        else if (strcmp(argv[i], "--million") == 0)
            million = i + 1 < argc && argv[i + 1][0] != '-' ? (unsigned)atol(argv[++i]) : 1000000u;
        else {
            fprintf(stderr,
                    "usage: runtime_bench [--quick] [--no-erlang] [--no-pack] "
                    "[--only spawn|memory|oneway|pair|rtt|scaling] [--spawns N] [--million [N]] "
                    "[--oneway-workers 1-8]\n");
            return 2;
        }
    }
    if (million > 0) {
        printf("runtime_bench: %u idle actors, chain recording on; 2 workers\n", million);
        return million_report(million, erlang);
    }
    printf("runtime_bench: chain recording on; 2 workers; actor %s\n", THEATER_BENCH_ACTOR);
#define RUN(name) (only == NULL || strcmp(only, name) == 0)
    spawn_us = RUN("spawn") ? bench_spawn(spawns ? spawns : quick ? 2000 : 5000) : 0;
    /* the round trip, the most sensitive to what ran before it, right
     * after the short spawn figure: after the 100,000 actors of the memory
     * figure or the one-way runs' hundreds of MB of chain, it measured up
     * to twice as long for a few seconds on this virtual machine, whose
     * own CPU and disk were idle by then */
    rtt = RUN("rtt") ? bench_roundtrip(20, 2000) : 0;
    if (RUN("rtt"))
        rtt99 = bench_rtt_tail(quick ? 5 : 20, 2000, 99, &rtt50);
    bytes = RUN("memory") ? bench_memory(quick ? 20000 : 100000) : 0;
    if (RUN("oneway") || RUN("scaling")) {
        /* 2 workers and 1 alternating, so a slow spell of the machine
         * falls on both sides of a round's ratio */
        rounds = quick ? 1 : ONEWAY_ROUNDS;
        for (i = 0; i < rounds; i++) {
            two_r[i] = oneway_measure(4, quick ? 50000 : 250000, oneway_workers);
            if (RUN("scaling")) {
                one_r[i] = oneway_measure(4, quick ? 50000 : 250000, 1);
                ratio[i] = two_r[i].msgs / one_r[i].msgs;
            }
        }
        two_m = median_run(two_r, rounds);
        msgs = two_m.msgs;
        if (RUN("scaling")) {
            one_m = median_run(one_r, rounds);
            one = one_m.msgs;
            qsort(ratio, (size_t)rounds, sizeof ratio[0], cmp_double);
        }
    }
    if (RUN("pair")) {
        for (i = 0; i < rounds1; i++)
            pair_r[i] = oneway_measure(1, quick ? 50000 : 250000, oneway_workers);
        pair = median_run(pair_r, rounds1).msgs;
    }
    for (i = 0; i < E_NKEYS; i++)
        erl[i] = erl1[i] = -1;
    if (only != NULL && strcmp(only, "spawn") == 0 && !no_erlang) {
        /* the spawn figure alone has its Erlang figure alone */
        if (!run_erlang(quick ? "spawn_quick" : "spawn", 2, erl))
            printf("(erl not installed: no Erlang baseline)\n");
    } else if (erlang) {
        have_erl = run_erlang(quick ? "quick" : "full", 2, erl);
        if (have_erl && RUN("scaling"))
            run_erlang(quick ? "oneway_quick" : "oneway", 1, erl1);
        if (!have_erl)
            printf("(erl not installed: no Erlang baseline)\n");
    }
    printf("\n%-30s %14s %14s %10s   %s\n", "benchmark", "theater", "erlang", "ratio",
           "requirement (issue 12)");
    if (RUN("spawn"))
        row("spawn + init median (us)", "us", spawn_us, erl[E_SPAWN], 4, true);
    if (RUN("memory"))
        row(g_pack_idle_ms ? "bytes per idle actor (no pack)" : "bytes per idle actor", "bytes",
            bytes, erl[E_BYTES], 5120, true);
    if (RUN("oneway") || RUN("scaling")) {
        if (oneway_workers != 2)
            printf("(one-way figures below: %u worker%s)\n", oneway_workers,
                   oneway_workers == 1 ? "" : "s");
        row("one-way messages/s (4 pairs)", "msgs/s", msgs, erl[E_ONEWAY], 1000000, false);
        if (rounds > 1)
            printf("  (median of %d runs: %.0f to %.0f msgs/s)\n", rounds, two_r[0].msgs,
                   two_r[rounds - 1].msgs);
        if (erl[E_ONEWAY] > 0)
            printf("%-30s %14.2f %14s %10s   %s <= 4x Erlang's time\n", "  one-way time / Erlang's",
                   erl[E_ONEWAY] / msgs, "", "", erl[E_ONEWAY] / msgs <= 4 ? "MET" : "NOT MET");
    }
    if (RUN("pair")) {
        row("one-way messages/s (1 pair)", "msgs/s", pair, erl[E_ONEWAY1], 1000000, false);
        if (rounds1 > 1)
            printf("  (median of %d runs: %.0f to %.0f msgs/s)\n", rounds1, pair_r[0].msgs,
                   pair_r[rounds1 - 1].msgs);
        if (erl[E_ONEWAY1] > 0)
            printf("%-30s %14.2f %14s %10s   %s <= 4x Erlang's time\n",
                   "  one pair: time / Erlang's", erl[E_ONEWAY1] / pair, "", "",
                   erl[E_ONEWAY1] / pair <= 4 ? "MET" : "NOT MET");
    }
    if (RUN("rtt")) {
        row("request/reply median (us)", "us", rtt, erl[E_RTT], 2, true);
        row("request/reply p99 (us)", "us", rtt99, erl[E_RTT_P99], 20, true);
        printf("  (p99: single round trips, each with one log call; their median %.2f us)\n",
               rtt50);
    }
    if (RUN("scaling") && one > 0) {
        double e = erl[E_ONEWAY] > 0 && erl1[E_ONEWAY] > 0 ? erl[E_ONEWAY] / erl1[E_ONEWAY] : -1;
        double r = ratio[rounds / 2];
        printf("%-30s %14.2f %14s %10s   %s >= 1.7x (1 worker: %.0f msgs/s)\n",
               "2 workers over 1 (one-way)", r, e > 0 ? "" : "-", "", r >= 1.7 ? "MET" : "NOT MET",
               one);
        if (rounds > 1)
            printf("  (median of %d rounds, each 2 workers then 1: %.2f to %.2f)\n", rounds,
                   ratio[0], ratio[rounds - 1]);
        if (e > 0)
            printf("%-30s %14s %14.2f\n", "  erlang +S 2 over +S 1", "", e);
    }
    printf("(ratio: how many times Erlang is better)\n");
    if (msgs > 0 || rtt > 0)
        printf("\nCPU time of the whole process (all threads), steady under load:\n");
    if (msgs > 0) {
        printf("%-30s %14.2f\n", "one-way: CPU us per message", two_m.cpu);
        print_durable(two_m.dur, two_m.role);
        if (one > 0) { /* beside it: what a second worker changes per message */
            printf("%-30s %14.2f\n", "  the same with 1 worker", one_m.cpu);
            print_durable(one_m.dur, one_m.role);
        }
    }
    if (rtt > 0) {
        printf("%-30s %14.2f\n%-30s %14.3f\n", "round trip: CPU us per request", g_rtt_cpu,
               "  context switches per request", g_rtt_csw);
        print_durable(g_rtt_dur, g_rtt_role);
    }
    return 0;
}
