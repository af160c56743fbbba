/*
 * chain_bench.c - benchmark of the event chain and the content store, with
 * the original system's approach measured in the same run as a baseline.
 *
 *  1. Append, persistence on: P producer threads append 100-byte events to
 *     many actors; the writer thread group-commits them into SQLite (fsync on
 *     every commit unless --no-fsync) and signs the heads.  Measured twice:
 *     saturated (producers as fast as they can: the maximum sustained rate)
 *     and paced at --rate events/s (the durability delay at that load), and
 *     paced once more without fsync (synchronous=NORMAL: a commit survives a
 *     crash of the process, the sense of the SIGKILL crash test, but not a
 *     power loss; the runtime fsyncs every commit).  The delay of every event
 *     (append -> durable, reported by a listener after the commit) is
 *     collected; percentiles are printed.
 *  2. Baseline append: the original's approach - SHA-1 over a JSON encoding
 *     of each event (data as a JSON array of numbers, hashes hex) and one
 *     file written per event - with the same producers.
 *  3. Verification of all chains written in 1 (events/s), against the
 *     original's verification of the baseline's files (each file read and
 *     its SHA-1 compared with its name).
 *  4. Store: put (single, and th_store_put_many in batches of 256; with and
 *     without fsync) and get of 1 KiB blobs, against one file per blob named
 *     by its SHA-256 (hashed per put; the file and its directory fsync'ed
 *     or neither, as the store row).  The puts run in rounds, each running
 *     every store side and the baseline in turn; the medians of the rounds
 *     are printed.  Gets, plain and verified (re-hashed),
 *     alternate with the baseline's (the whole file read into a malloc'd
 *     buffer; verified: its SHA-256 compared with its name) over several
 *     passes; the medians are printed.
 *
 * The paced runs last --paced-seconds (12 by default): long enough at 300k
 * events/s to include the pause with which the writer bounds the WAL.
 *
 * Usage: chain_bench [--seconds S] [--paced-seconds S] [--wal-mib M] [--actors N]
 *                    [--threads P] [--rate R]
 *                    [--dir DIR] [--no-fsync] [--quick] [--append-only]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "base/sha256.h"
#include "theater/chain.h"
#include "theater/store.h"

#define EVENT_BYTES 100
#define MAX_SAMPLES (64u * 1024u * 1024u)

static struct {
    double seconds, paced_seconds;
    unsigned actors, threads, wal_mib;
    double rate;
    char dir[512];
    int no_fsync;
} opt = {4.0, 12.0, 1000, 2, 0, 300000.0, "", 0};

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* CPU time of the whole process (every thread), in seconds: what a figure
 * costs, whatever else shares the machine. */
static double cpu_s(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static void die(const char *what, const th_error *err)
{
    fprintf(stderr, "chain_bench: %s: %s\n", what, err ? err->msg : strerror(errno));
    exit(1);
}

static void rm_rf(const char *dir)
{
    char cmd[700];

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "chain_bench: could not remove %s\n", dir);
}

/* ---- delay samples (filled by the listener on the writer thread) ---- */

static uint32_t *samples; /* microseconds */
static atomic_size_t nsamples;

static void on_durable(void *ud, const th_chain_event *ev)
{
    uint64_t stamp;
    size_t i;

    (void)ud;
    if (ev->data_len < 8)
        return;
    memcpy(&stamp, ev->data, 8);
    i = atomic_fetch_add_explicit(&nsamples, 1, memory_order_relaxed);
    if (i < MAX_SAMPLES)
        samples[i] = (uint32_t)((now_ns() - stamp) / 1000u);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

    return x < y ? -1 : x > y;
}

/* Print the delay percentiles of the samples; returns the p99 in ms. */
static double print_delays(const char *label)
{
    size_t n = atomic_load(&nsamples);

    if (n > MAX_SAMPLES)
        n = MAX_SAMPLES;
    if (n == 0)
        return -1;
    qsort(samples, n, sizeof *samples, cmp_u32);
    printf("  %-28s delay append->durable: p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, max %.2f ms\n",
           label, samples[n / 2] / 1000.0, samples[(size_t)(n * 0.99)] / 1000.0,
           samples[(size_t)(n * 0.999)] / 1000.0, samples[n - 1] / 1000.0);
    return samples[(size_t)(n * 0.99)] / 1000.0;
}

static void requirement(const char *what, double value, const char *unit, bool pass,
                        const char *rule)
{
    printf("  %-40s %12.2f %-9s %s %s\n", what, value, unit, pass ? "PASS" : "FAIL", rule);
}

/* ---- producers ---- */

typedef struct producer {
    pthread_t t;
    unsigned index;
    th_chain *c;          /* NULL: baseline */
    const char *base_dir; /* baseline: where files go */
    double rate;          /* events/s for this thread, 0 = as fast as possible */
    uint64_t deadline;
    uint64_t count;
} producer;

static atomic_int start_flag;

static void actor_name(unsigned i, char *out)
{
    snprintf(out, 48, "actor-%08x-0000-4000-8000-%012u", i * 2654435761u, i);
}

static void fill_event(uint8_t *data, uint64_t seq)
{
    uint64_t t = now_ns();
    size_t i;

    memcpy(data, &t, 8);
    for (i = 8; i < EVENT_BYTES; i++)
        data[i] = (uint8_t)(seq * 31 + i);
}

static char (*names)[48]; /* actor ids, made before the clock starts */

static void *produce_chain(void *arg)
{
    producer *p = arg;
    uint8_t data[EVENT_BYTES];
    th_error err;
    uint64_t start, due;
    unsigned a, first = p->index, stride = opt.threads, k = 0;

    while (!atomic_load(&start_flag))
        ;
    start = now_ns();
    for (;;) {
        if ((p->count & 255) == 0 && now_ns() >= p->deadline)
            break;
        if (p->rate > 0) { /* sleep (never spin: the writer needs the core) */
            due = start + (uint64_t)((double)p->count * 1e9 / p->rate);
            if (now_ns() + 50000 < due) {
                struct timespec ts = {(time_t)(due / 1000000000u), (long)(due % 1000000000u)};
                clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
            }
        }
        a = first + stride * (k++ % ((opt.actors - first + stride - 1) / stride));
        fill_event(data, p->count);
        if (th_chain_append(p->c, names[a], "wasm-call", data, sizeof data, NULL, NULL, &err) !=
            TH_OK)
            die("append", &err);
        p->count++;
    }
    return NULL;
}

/* The original: JSON of the event, SHA-1 of the JSON, one file per event. */
static void *produce_baseline(void *arg)
{
    producer *p = arg;
    static const char hexd[] = "0123456789abcdef";
    char json[2048], path[700], hex[41], parent[41] = "";
    uint8_t data[EVENT_BYTES], md[20];
    unsigned int mdlen;
    size_t n, i;
    int fd;

    while (!atomic_load(&start_flag))
        ;
    while (!((p->count & 63) == 0 && now_ns() >= p->deadline)) {
        fill_event(data, p->count);
        n = (size_t)snprintf(json, sizeof json,
                             "{\"hash\":null,\"parent_hash\":%s%s%s,\"event_type\":\"wasm-call\","
                             "\"data\":[",
                             parent[0] ? "\"" : "", parent[0] ? parent : "null",
                             parent[0] ? "\"" : "");
        for (i = 0; i < sizeof data; i++)
            n += (size_t)snprintf(json + n, sizeof json - n, "%s%u", i ? "," : "", data[i]);
        n += (size_t)snprintf(json + n, sizeof json - n,
                              "],\"timestamp\":%" PRIu64 ",\"description\":null}",
                              now_ns() / 1000000u);
        EVP_Digest(json, n, md, &mdlen, EVP_sha1(), NULL);
        for (i = 0; i < 20; i++) {
            hex[2 * i] = hexd[md[i] >> 4];
            hex[2 * i + 1] = hexd[md[i] & 15];
        }
        hex[40] = '\0';
        memcpy(parent, hex, sizeof parent);
        snprintf(path, sizeof path, "%s/%s.json", p->base_dir, hex);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || write(fd, json, n) != (ssize_t)n)
            die("baseline write", NULL);
        close(fd);
        p->count++;
    }
    return NULL;
}

/* The original's verification: read every event file of `dir` and check
 * that its SHA-1 is its name.  Returns events/s; *n = files checked. */
static double verify_baseline(const char *dir, uint64_t *n)
{
    static const char hexd[] = "0123456789abcdef";
    char path[1024], buf[4096], hex[41];
    uint8_t md[20];
    unsigned int mdlen;
    struct dirent *e;
    uint64_t t0 = now_ns();
    ssize_t len;
    DIR *d = opendir(dir);
    int fd, i;

    *n = 0;
    if (d == NULL)
        die("opendir", NULL);
    while ((e = readdir(d)) != NULL) {
        if (strlen(e->d_name) != 45)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if ((fd = open(path, O_RDONLY)) < 0 || (len = read(fd, buf, sizeof buf)) < 0)
            die("baseline read", NULL);
        close(fd);
        EVP_Digest(buf, (size_t)len, md, &mdlen, EVP_sha1(), NULL);
        for (i = 0; i < 20; i++) {
            hex[2 * i] = hexd[md[i] >> 4];
            hex[2 * i + 1] = hexd[md[i] & 15];
        }
        if (memcmp(hex, e->d_name, 40) != 0)
            fprintf(stderr, "chain_bench: baseline file %s does not verify\n", e->d_name);
        (*n)++;
    }
    closedir(d);
    return (double)*n / ((double)(now_ns() - t0) / 1e9);
}

static double run_producers(th_chain *c, const char *base_dir, double total_rate, double seconds,
                            uint64_t *events)
{
    producer *p = calloc(opt.threads, sizeof *p);
    uint64_t t0, t1, deadline;
    unsigned i;

    atomic_store(&start_flag, 0);
    for (i = 0; i < opt.threads; i++) {
        p[i].index = i;
        p[i].c = c;
        p[i].base_dir = base_dir;
        p[i].rate = total_rate / opt.threads;
        pthread_create(&p[i].t, NULL, c ? produce_chain : produce_baseline, &p[i]);
    }
    t0 = now_ns();
    deadline = t0 + (uint64_t)(seconds * 1e9);
    for (i = 0; i < opt.threads; i++)
        p[i].deadline = deadline;
    atomic_store(&start_flag, 1);
    *events = 0;
    for (i = 0; i < opt.threads; i++) {
        pthread_join(p[i].t, NULL);
        *events += p[i].count;
    }
    if (c != NULL) {
        th_error err;
        if (th_chain_flush(c, -1, &err) != TH_OK)
            die("flush", &err);
    }
    t1 = now_ns();
    free(p);
    return (double)(t1 - t0) / 1e9;
}

static th_chain *open_chain(const char *home, int sync_normal)
{
    th_chain_config cfg = {0};
    th_chain *c;
    th_error err;
    uint64_t id;

    cfg.home = home;
    cfg.sync_normal = sync_normal;
    cfg.wal_max_mib = opt.wal_mib;
    if (th_chain_open(&cfg, &c, &err) != TH_OK)
        die("open", &err);
    if (th_chain_subscribe(c, on_durable, NULL, &id, &err) != TH_OK)
        die("subscribe", &err);
    return c;
}

/* Append for `seconds` at `rate` events/s (0: as fast as possible) into
 * a new chain in the home `dir`/`name`, the delay of every event sampled;
 * returns the chain, open (flushed), and the events/s in *rate_out. */
static th_chain *append_round(const char *dir, const char *name, int sync_normal, double rate,
                              double seconds, uint64_t *events, double *rate_out)
{
    char home[700];
    th_chain *c;
    double secs;

    snprintf(home, sizeof home, "%s/%s", dir, name);
    c = open_chain(home, sync_normal);
    atomic_store(&nsamples, 0);
    secs = run_producers(c, NULL, rate, seconds, events);
    *rate_out = (double)*events / secs;
    return c;
}

/* ---- store ---- */

/* A hex digit's value (the baseline's names are lowercase hex). */
static int hexval(char c)
{
    return c <= '9' ? c - '0' : c - 'a' + 10;
}

#define STORE_BATCH 256
#define PUT_ROUNDS 5 /* rounds of puts, every side in turn */

/* The i-th 1 KiB blob of a round; `tag` keeps rounds' contents distinct. */
static void store_blob_fill(uint8_t *blob, unsigned i, unsigned tag)
{
    memset(blob, (int)i, 1024);
    memcpy(blob, &i, sizeof i);
    memcpy(blob + 8, &tag, sizeof tag);
}

/* One side of the put figures: a store (its own new home, opened once and
 * kept across the rounds) or, with `files` set, a directory of one file per
 * blob; its rate and CPU per put in each round. */
typedef struct put_side {
    int files;       /* 1: the baseline's files */
    int sync_normal; /* store: no fsync per put; files: no fsync */
    unsigned batch;  /* store: 0 = th_store_put each, else put_many of that many */
    unsigned n;      /* puts per round */
    unsigned tag;    /* keeps each side's contents distinct */
    unsigned done;   /* blobs put so far (the next blob's index) */
    char path[700];  /* home or directory */
    th_store *s;
    char id[TH_STORE_ID_LEN + 1];
    int dfd; /* files: the directory, for its fsync */
    double rate[PUT_ROUNDS], cpu_us[PUT_ROUNDS];
} put_side;

static void put_side_open(put_side *p, const char *dir, const char *name)
{
    th_store_config cfg = {0};
    th_error err;

    snprintf(p->path, sizeof p->path, "%s/%s", dir, name);
    if (p->files) {
        mkdir(p->path, 0755);
        if ((p->dfd = open(p->path, O_RDONLY | O_DIRECTORY)) < 0)
            die("baseline directory", NULL);
        return;
    }
    cfg.home = p->path;
    cfg.sync_normal = p->sync_normal;
    if (th_store_open(&cfg, &p->s, &err) != TH_OK || th_store_new(p->s, p->id, &err) != TH_OK)
        die("store", &err);
}

/* Baseline put of blob i: one file named by its SHA-256 (computed, as a
 * put must: the name is the content's hash; the same SHA-256 code as the
 * store's), written with the same bytes as the store's puts; its name in
 * *ref.  With `fsync_each`, durable as a fsync'ed store put is (power
 * loss): the file and then its directory fsync'ed, without which a new
 * file's name may be lost. */
static void file_put(const put_side *p, unsigned i, th_content_ref *ref)
{
    static const char hexd[] = "0123456789abcdef";
    uint8_t blob[1024], md[BASE_SHA256_LEN];
    char path[800];
    unsigned k;
    int fd;

    store_blob_fill(blob, i, p->tag);
    if (base_sha256(blob, sizeof blob, md) != 0)
        die("sha256", NULL);
    for (k = 0; k < 32; k++) {
        ref->hash[2 * k] = hexd[md[k] >> 4];
        ref->hash[2 * k + 1] = hexd[md[k] & 15];
    }
    ref->hash[64] = '\0';
    snprintf(path, sizeof path, "%s/%s", p->path, ref->hash);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, blob, sizeof blob) != (ssize_t)sizeof blob ||
        (!p->sync_normal && (fsync(fd) != 0 || fsync(p->dfd) != 0)))
        die("baseline put", NULL);
    close(fd);
}

/* Round r of one side: its next p->n blobs put (store: th_store_put each,
 * or th_store_put_many in batches; files: file_put), their references in
 * refs[done..]; the round's rate and CPU per put recorded. */
static void put_round(put_side *p, unsigned r, th_content_ref *refs)
{
    th_store_blob *blobs = malloc(p->n * sizeof *blobs);
    uint8_t *bytes = malloc((size_t)p->n * 1024);
    unsigned i, k, first = p->done;
    th_error err;
    uint64_t t0;
    double c0;

    if (bytes == NULL || blobs == NULL)
        die("malloc", NULL);
    for (i = 0; i < p->n; i++) { /* made before the clock starts, as the baseline's */
        store_blob_fill(bytes + (size_t)i * 1024, first + i, p->tag);
        blobs[i].data = bytes + (size_t)i * 1024;
        blobs[i].len = 1024;
    }
    sync(); /* nothing written before is left to write back while timed */
    c0 = cpu_s();
    t0 = now_ns();
    for (i = 0; i < p->n; i += k) {
        k = p->batch == 0 ? 1 : (p->n - i < p->batch ? p->n - i : p->batch);
        if (p->files)
            file_put(p, first + i, &refs[first + i]);
        else if (p->batch == 0 &&
                 th_store_put(p->s, p->id, blobs[i].data, 1024, &refs[first + i], &err) != TH_OK)
            die("put", &err);
        else if (p->batch != 0 &&
                 th_store_put_many(p->s, p->id, &blobs[i], k, &refs[first + i], &err) != TH_OK)
            die("put_many", &err);
    }
    p->rate[r] = p->n / ((double)(now_ns() - t0) / 1e9);
    p->cpu_us[r] = (cpu_s() - c0) * 1e6 / p->n;
    p->done += p->n;
    free(blobs);
    free(bytes);
}

/* One pass of n store gets (th_store_get_unverified, or th_store_get with
 * `verified`); each returned buffer freed.  The wall and CPU seconds. */
static void store_gets(th_store *s, const char *id, const th_content_ref *refs, unsigned n,
                       int verified, double *secs, double *cpu)
{
    double c0 = cpu_s();
    uint64_t t0 = now_ns();
    th_error err;
    unsigned i;
    void *data;
    size_t len;
    int rc;

    for (i = 0; i < n; i++) {
        rc = verified ? th_store_get(s, id, refs[i].hash, &data, &len, &err)
                      : th_store_get_unverified(s, id, refs[i].hash, &data, &len, &err);
        if (rc != TH_OK || len != 1024)
            die("get", &err);
        free(data);
    }
    *secs = (double)(now_ns() - t0) / 1e9;
    *cpu = cpu_s() - c0;
}

/* One pass of the baseline's n gets: as a reader that knows only the
 * name, each file opened, its size taken (fstat), the whole of it read
 * into a malloc'd buffer (as the store's get returns one) and closed;
 * with `verified`, its SHA-256 (the store's code) compared with its name,
 * as th_store_get re-hashes. */
static void files_gets(const char *dir, const th_content_ref *refs, unsigned n, int verified,
                       double *secs, double *cpu)
{
    double c0 = cpu_s();
    uint64_t t0 = now_ns();
    uint8_t md[BASE_SHA256_LEN], want[BASE_SHA256_LEN];
    char path[800];
    struct stat st;
    unsigned i, k;
    void *data;
    int fd;

    for (i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, refs[i].hash);
        if ((fd = open(path, O_RDONLY)) < 0 || fstat(fd, &st) != 0 ||
            (data = malloc(st.st_size ? (size_t)st.st_size : 1)) == NULL)
            die("baseline get", NULL);
        if (read(fd, data, (size_t)st.st_size) != (ssize_t)st.st_size || st.st_size != 1024)
            die("baseline get", NULL);
        close(fd);
        if (verified) {
            for (k = 0; k < BASE_SHA256_LEN; k++)
                want[k] =
                    (uint8_t)(hexval(refs[i].hash[2 * k]) << 4 | hexval(refs[i].hash[2 * k + 1]));
            if (base_sha256(data, (size_t)st.st_size, md) != 0 || memcmp(md, want, sizeof md) != 0)
                die("baseline get: damaged", NULL);
        }
        free(data);
    }
    *secs = (double)(now_ns() - t0) / 1e9;
    *cpu = cpu_s() - c0;
}

/* One line of the store's figures: its rate, the baseline's, the ratio and
 * whether it meets issue 12's >= 1.0x. */
static void store_line(const char *what, double rate, double cpu, unsigned n, const char *base,
                       double brate, double bcpu)
{
    printf("  %-30s %9.0f ops/s  (%u ops; baseline %s: %.0f ops/s; ratio %.2fx %s)\n"
           "  %-30s CPU of the process per op: %.1f us, baseline %.1f us\n",
           what, rate, n, base, brate, rate / brate, rate >= brate ? "MET" : "NOT MET", "", cpu,
           bcpu);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/* The median of v[0..n) (sorts v). */
static double median(double *v, unsigned n)
{
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#define GET_ROUNDS 5 /* passes of each kind of get, alternated */

/* The median rate and CPU of a side's rounds. */
static void put_medians(put_side *p, double *rate, double *cpu)
{
    *rate = median(p->rate, PUT_ROUNDS);
    *cpu = median(p->cpu_us, PUT_ROUNDS);
}

static void bench_store(const char *dir, unsigned n)
{
    th_content_ref *refs = malloc(n * sizeof *refs), *frefs = malloc(n * sizeof *frefs);
    th_content_ref *scratch = malloc(n * sizeof *scratch);
    double secs, cpu, prate[6], pcpu[6];
    /* [kind][round]: kind 0 store get, 1 store verified, 2 file, 3 file verified */
    double rate[4][GET_ROUNDS], cpu_us[4][GET_ROUNDS], mrate[4], mcpu[4];
    unsigned nsync = n / 10, r, k;
    /* The sides, in the order each round runs them: every store side next
     * to the baseline with the same durability. */
    put_side sides[6] = {
        {.files = 0, .sync_normal = 0, .batch = 0, .n = nsync / PUT_ROUNDS, .tag = 1},
        {.files = 1, .sync_normal = 0, .batch = 0, .n = nsync / PUT_ROUNDS, .tag = 5},
        {.files = 0, .sync_normal = 0, .batch = STORE_BATCH, .n = n / PUT_ROUNDS, .tag = 2},
        {.files = 0, .sync_normal = 1, .batch = 0, .n = n / PUT_ROUNDS, .tag = 4},
        {.files = 1, .sync_normal = 1, .batch = 0, .n = n / PUT_ROUNDS, .tag = 6},
        {.files = 0, .sync_normal = 1, .batch = STORE_BATCH, .n = n / PUT_ROUNDS, .tag = 3},
    };
    static const char *const dirs[6] = {"store-single-fsync", "store-files-fsync",
                                        "store-batch-fsync",  "store-single",
                                        "store-files",        "store-batch"};
    th_store *s;

    if (refs == NULL || frefs == NULL || scratch == NULL)
        die("malloc", NULL);
    for (k = 0; k < 6; k++)
        put_side_open(&sides[k], dir, dirs[k]);
    /* Puts: PUT_ROUNDS rounds, each running every side once in turn (the
     * stores grow across the rounds, as the baseline's directories do);
     * medians of the rounds.  The single puts without fsync (refs) and the
     * files without fsync (frefs) are read back by the gets. */
    for (r = 0; r < PUT_ROUNDS; r++)
        for (k = 0; k < 6; k++)
            put_round(&sides[k], r, k == 3 ? refs : k == 4 ? frefs : scratch);
    for (k = 0; k < 6; k++)
        put_medians(&sides[k], &prate[k], &pcpu[k]);
    for (k = 0; k < 6; k++) {
        if (k != 3)
            th_store_close(sides[k].s);
        if (sides[k].files)
            close(sides[k].dfd);
    }
    s = sides[3].s;
    n = sides[3].done;
    /* Gets: the store's (of the single puts without fsync) and the
     * baseline's (of the files without fsync), both from memory (SQLite's
     * page cache, the kernel's), alternated GET_ROUNDS times; medians. */
    sync();
    for (r = 0; r < GET_ROUNDS; r++) {
        for (k = 0; k < 4; k++) {
            if (k < 2)
                store_gets(s, sides[3].id, refs, n, k == 1, &secs, &cpu);
            else
                files_gets(sides[4].path, frefs, n, k == 3, &secs, &cpu);
            rate[k][r] = n / secs;
            cpu_us[k][r] = cpu * 1e6 / n;
        }
    }
    th_store_close(s);
    for (k = 0; k < 4; k++) {
        mrate[k] = median(rate[k], GET_ROUNDS);
        mcpu[k] = median(cpu_us[k], GET_ROUNDS);
    }
    printf("store, 1 KiB blobs (baseline: one file per blob named by its SHA-256, measured in "
           "this run;\nissue 12 asks each ratio >= 1.0x):\n");
    printf("  puts: medians of %d rounds, each running the store's puts and the baseline's in "
           "turn\n  (%u fsync'ed single puts and files, %u of the others, per round)\n",
           PUT_ROUNDS, sides[0].n, sides[3].n);
    store_line("put, fsync per put", prate[0], pcpu[0], sides[0].done, "fsync'ed", prate[1],
               pcpu[1]);
    store_line("put, no fsync", prate[3], pcpu[3], sides[3].done, "no fsync", prate[4], pcpu[4]);
    store_line("put_many 256/batch, fsync", prate[2], pcpu[2], sides[2].done, "fsync'ed", prate[1],
               pcpu[1]);
    store_line("put_many 256/batch, no fsync", prate[5], pcpu[5], sides[5].done, "no fsync",
               prate[4], pcpu[4]);
    printf("  gets: medians of %d alternated passes of %u gets each\n", GET_ROUNDS, n);
    store_line("get (no re-hash)", mrate[0], mcpu[0], n, "read", mrate[2], mcpu[2]);
    store_line("get, verified (re-hashed)", mrate[1], mcpu[1], n, "read + SHA-256", mrate[3],
               mcpu[3]);
    free(refs);
    free(frefs);
    free(scratch);
}

int main(int argc, char **argv)
{
    char base[700], tmpl[600];
    th_chain_verify_result res;
    th_error err;
    th_chain *c;
    uint64_t events, bevents, bfiles, t0;
    double bsecs, vsecs, vcpu, sat_rate, paced_rate, paced_p99, normal_rate, normal_p99, bverify;
    char what[96];
    int i, quick = 0, append_only = 0, store_only = 0;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
            opt.seconds = atof(argv[++i]);
        else if (strcmp(argv[i], "--paced-seconds") == 0 && i + 1 < argc)
            opt.paced_seconds = atof(argv[++i]);
        else if (strcmp(argv[i], "--wal-mib") == 0 && i + 1 < argc)
            opt.wal_mib = (unsigned)atoi(argv[++i]);
        else if (strcmp(argv[i], "--actors") == 0 && i + 1 < argc)
            opt.actors = (unsigned)atoi(argv[++i]);
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            opt.threads = (unsigned)atoi(argv[++i]);
        else if (strcmp(argv[i], "--rate") == 0 && i + 1 < argc)
            opt.rate = atof(argv[++i]);
        else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
            snprintf(opt.dir, sizeof opt.dir, "%s", argv[++i]);
        else if (strcmp(argv[i], "--no-fsync") == 0)
            opt.no_fsync = 1;
        else if (strcmp(argv[i], "--quick") == 0)
            quick = 1;
        else if (strcmp(argv[i], "--append-only") == 0)
            append_only = 1;
        else if (strcmp(argv[i], "--store-only") == 0)
            store_only = 1;
        else {
            fprintf(stderr, "usage: chain_bench [--seconds S] [--paced-seconds S] [--wal-mib M] "
                            "[--actors N] [--threads P] [--rate R] [--dir DIR] [--no-fsync] "
                            "[--quick] [--append-only] [--store-only]\n");
            return 2;
        }
    }
    if (quick)
        opt.seconds = opt.paced_seconds = 1.0;
    if (opt.actors < opt.threads || opt.threads == 0) {
        fprintf(stderr, "chain_bench: need at least one actor per thread\n");
        return 2;
    }
    snprintf(tmpl, sizeof tmpl, "%s/theater-bench-XXXXXX", opt.dir[0] ? opt.dir : "/tmp");
    if (mkdtemp(tmpl) == NULL)
        die("mkdtemp", NULL);
    samples = malloc(MAX_SAMPLES * sizeof *samples);
    names = malloc(opt.actors * sizeof *names);
    if (samples == NULL || names == NULL)
        die("malloc", NULL);
    for (i = 0; i < (int)opt.actors; i++)
        actor_name((unsigned)i, names[i]);
    printf("chain_bench: %u actors, %u producer threads, %d-byte events, %s, %ld cores\n",
           opt.actors, opt.threads, EVENT_BYTES,
           opt.no_fsync ? "synchronous=NORMAL (no fsync per commit)" : "fsync on every commit",
           sysconf(_SC_NPROCESSORS_ONLN));

    if (store_only) {
        bench_store(tmpl, quick ? 5000 : 20000);
        rm_rf(tmpl);
        free(samples);
        free(names);
        return 0;
    }
    /* 1a. Saturated. */
    c = append_round(tmpl, "home-saturated", opt.no_fsync, 0, opt.seconds, &events, &sat_rate);
    printf("append, saturated:    %10.0f events/s durable (%" PRIu64 " events in %.2f s)\n",
           sat_rate, events, events / sat_rate);
    print_delays("(saturated, queue full)");

    /* 3. Verification of everything written so far. */
    t0 = now_ns();
    vcpu = cpu_s();
    if (th_chain_verify(c, NULL, &res, &err) != TH_OK)
        die("verify", &err);
    vsecs = (double)(now_ns() - t0) / 1e9;
    vcpu = cpu_s() - vcpu;
    if (th_chain_close(c) != TH_OK)
        die("close", NULL);
    printf("verify:               %10.0f events/s (%" PRIu64 " events, %" PRIu64
           " chains, %.2f s; CPU of the process %.0f ns per event)\n",
           res.events / vsecs, res.events, res.actors, vsecs, vcpu * 1e9 / (double)res.events);
    if (append_only) {
        rm_rf(tmpl);
        return 0;
    }

    /* 1b. Paced at the target rate. */
    c = append_round(tmpl, "home-paced", opt.no_fsync, opt.rate, opt.paced_seconds, &events,
                     &paced_rate);
    printf("append, paced:        %10.0f events/s durable (target %.0f/s, %" PRIu64 " events)\n",
           paced_rate, opt.rate, events);
    paced_p99 = print_delays("(paced)");
    th_chain_close(c);
    /* 1c. Paced again without fsync: durable = survives a crash of the
     * process (the SIGKILL crash test's sense; the runtime fsyncs). */
    normal_rate = paced_rate;
    normal_p99 = paced_p99;
    if (!opt.no_fsync) {
        c = append_round(tmpl, "home-paced-normal", 1, opt.rate, opt.paced_seconds, &events,
                         &normal_rate);
        printf("append, paced, no fsync: %7.0f events/s durable (synchronous=NORMAL: "
               "process-crash durable)\n",
               normal_rate);
        normal_p99 = print_delays("(paced, no fsync)");
        th_chain_close(c);
    }

    /* 2. Baseline. */
    snprintf(base, sizeof base, "%s/baseline-files", tmpl);
    mkdir(base, 0755);
    bsecs = run_producers(NULL, base, 0, opt.seconds > 2 ? 2 : opt.seconds, &bevents);
    printf(
        "append, baseline:     %10.0f events/s (SHA-1 over JSON + one file per event, no fsync)\n",
        bevents / bsecs);
    printf("  ratio saturated / baseline: %.1fx\n", sat_rate / (bevents / bsecs));

    bverify = verify_baseline(base, &bfiles);
    printf("verify, baseline:     %10.0f events/s (%" PRIu64
           " files re-read, SHA-1 checked); ratio %.1fx\n",
           bverify, bfiles, res.events / vsecs / bverify);

    /* 4. Store. */
    bench_store(tmpl, quick ? 5000 : 20000);

    printf("requirements (saturated run: %s):\n",
           opt.no_fsync ? "no fsync per commit" : "fsync on every commit");
    requirement("sustained durable appends", sat_rate, "events/s", sat_rate >= 300000, ">= 300000");
    if (!opt.no_fsync) {
        snprintf(what, sizeof what, "p99 delay, fsync'ed, at %.0f/s", paced_rate);
        requirement(what, paced_p99, "ms",
                    paced_p99 >= 0 && paced_p99 <= 10 && paced_rate >= 0.98 * 300000,
                    "<= 10 ms at >= 300000/s (power-loss durable)");
    }
    snprintf(what, sizeof what, "p99 delay, no fsync, at %.0f/s", normal_rate);
    requirement(what, normal_p99, "ms",
                normal_p99 >= 0 && normal_p99 <= 10 && normal_rate >= 0.98 * 300000,
                "<= 10 ms at >= 300000/s (process-crash durable)");
    requirement("verification", res.events / vsecs, "events/s", res.events / vsecs >= 3e6,
                ">= 3000000");
    rm_rf(tmpl);
    free(samples);
    free(names);
    return 0;
}
