/*
 * engine_bench.c - speed of the WebAssembly engine against native code,
 * and the cost of instantiation.
 *
 * Kernels (the C files in bench/kernels/) are built twice by CMake: to wasm32-wasi by
 * clang -O2 (loaded from THEATER_BENCH_KERNEL_DIR at run time) and natively
 * by the host compiler at -O2 (linked into this program as kernel_<name>).
 * Nothing is compiled at run time.  Each round runs every kernel natively
 * then on the engine, so both see the same machine conditions; times are
 * the thread's CPU time (other load on a shared machine does not count).
 * The report gives per-kernel medians, engine/native ratios and their
 * geometric mean; the SIMD kernels (simd_*, wasm built with -msimd128)
 * get their own geometric mean.
 * Checksums must agree between the two builds (exit 1 otherwise).
 *
 * Instantiation: a small module (inst.wasm: 1 page of memory, a table, a
 * data segment, a few functions) is loaded once and instantiated 10,000
 * times with every instance kept alive; the median time per instantiation
 * and the resident memory per live instance (from /proc/self/statm, minus
 * the pages the data segment touches) are compared with the requirements,
 * and with a baseline of malloc + memset of the same 64 KiB.  Each of those
 * two measurements runs in a forked child so neither sees the other's heap.
 *
 *   engine_bench [--quick] [--rounds N] [--only NAME] [--no-inst]
 *                [--kernels DIR]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "theater/wasi.h"
#include "theater/wasm.h"

#ifndef THEATER_BENCH_KERNEL_DIR
#define THEATER_BENCH_KERNEL_DIR "bench/kernels"
#endif
#ifndef THEATER_BENCH_BUILD_TYPE
#define THEATER_BENCH_BUILD_TYPE "?"
#endif
#ifndef THEATER_BENCH_NATIVE_CC
#define THEATER_BENCH_NATIVE_CC "cc"
#endif

/* Requirements (issue 11, tightening issue 2's 20x, 10 us and 16 KiB). */
#define REQ_GEOMEAN 6.5
#define REQ_INST_US 5.0
#define REQ_INST_KIB 8.0

#define INST_COUNT 10000
/* inst.wat has one data segment of a few bytes at offset 1024: it touches
 * one host page of the instance's linear memory. */
#define INST_TOUCHED_BYTES 4096.0
#define INST_MEMORY_BYTES 65536

#define MAX_ROUNDS 99

uint64_t kernel_fib(uint32_t n);
uint64_t kernel_sha256(uint32_t n);
uint64_t kernel_nbody(uint32_t n);
uint64_t kernel_matmul(uint32_t n);
uint64_t kernel_interp(uint32_t n);
uint64_t kernel_sort(uint32_t n);
uint64_t kernel_simd_img(uint32_t n);
uint64_t kernel_simd_dot(uint32_t n);

typedef struct kernel {
    const char *name;
    uint64_t (*native)(uint32_t n);
    uint32_t size, quick_size;
    const char *what;
    bool simd; /* wasm built with -msimd128; reported apart from the geomean */
    /* filled at run time */
    th_wasm_module *mod;
    th_wasm_instance *inst;
    th_wasm_func *run;
    bool ok;
    double native_s[MAX_ROUNDS], engine_s[MAX_ROUNDS];
    uint64_t checksum;
} kernel;

static kernel kernels[] = {
    {.name = "fib", .native = kernel_fib, .size = 41, .quick_size = 34, .what = "recursive calls"},
    {.name = "sha256", .native = kernel_sha256, .size = 60, .quick_size = 6, .what = "32-bit ALU"},
    {.name = "nbody",
     .native = kernel_nbody,
     .size = 4000000,
     .quick_size = 400000,
     .what = "f64 arithmetic"},
    {.name = "matmul",
     .native = kernel_matmul,
     .size = 800,
     .quick_size = 350,
     .what = "i32 multiply-add, memory"},
    {.name = "interp",
     .native = kernel_interp,
     .size = 100000,
     .quick_size = 10000,
     .what = "br_table-heavy VM loop"},
    {.name = "sort",
     .native = kernel_sort,
     .size = 2000000,
     .quick_size = 200000,
     .what = "memory-bound quicksort"},
    {.name = "simd_img",
     .native = kernel_simd_img,
     .size = 60,
     .quick_size = 6,
     .what = "v128 u8 image filter",
     .simd = true},
    {.name = "simd_dot",
     .native = kernel_simd_dot,
     .size = 600,
     .quick_size = 60,
     .what = "v128 i16 dot, f32 saxpy",
     .simd = true},
};
#define NKERNELS (sizeof kernels / sizeof kernels[0])

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU time of this thread: kernel timings use it, so other load on the
 * machine (waiting for a core) does not count against either side. */
static double cpu_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Median of n values (sorts a copy); NAN if out of memory. */
static double median(const double *v, int n)
{
    double *s = malloc(sizeof *s * (size_t)n), m;

    if (s == NULL)
        return NAN;
    memcpy(s, v, sizeof *s * (size_t)n);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    m = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    free(s);
    return m;
}

static unsigned char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    long n;

    if (f == NULL)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = malloc((size_t)n + 1)) != NULL) {
        if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
            free(buf);
            buf = NULL;
        } else {
            *len = (size_t)n;
        }
    }
    fclose(f);
    return buf;
}

static void print_trap(th_wasm_exec *ex)
{
    const char *bt = th_wasm_exec_backtrace(ex);

    fprintf(stderr, "  trap: %s\n%s%s", th_wasm_exec_trap_message(ex), bt ? bt : "",
            bt && *bt && bt[strlen(bt) - 1] != '\n' ? "\n" : "");
}

/* Load and instantiate kernel k's wasm build (WASI imports, _initialize
 * run).  Returns false with a message if it cannot. */
static bool load_kernel(kernel *k, const char *dir, th_wasm_imports *imp, th_wasm_exec *ex)
{
    char path[4096];
    unsigned char *bytes;
    size_t len = 0;
    th_error err = {0};
    th_wasm_func *init;

    snprintf(path, sizeof path, "%s/%s.wasm", dir, k->name);
    bytes = read_file(path, &len);
    if (bytes == NULL) {
        fprintf(stderr, "%s: cannot read %s: %s (built with THEATER_GUEST=ON?)\n", k->name, path,
                strerror(errno));
        return false;
    }
    if (th_wasm_module_new(bytes, len, &k->mod, &err) != TH_OK ||
        th_wasm_instance_new(k->mod, imp, NULL, &k->inst, &err) != TH_OK) {
        fprintf(stderr, "%s: %s\n", k->name, err.msg);
        free(bytes);
        return false;
    }
    free(bytes);
    k->run = th_wasm_instance_func(k->inst, "run");
    init = th_wasm_instance_func(k->inst, "_initialize");
    if (k->run == NULL) {
        fprintf(stderr, "%s: no export 'run'\n", k->name);
        return false;
    }
    if (init != NULL && th_wasm_exec_call(ex, init, NULL, 0, NULL, 0) != TH_OK) {
        fprintf(stderr, "%s: _initialize failed\n", k->name);
        print_trap(ex);
        return false;
    }
    return true;
}

/* One engine run of kernel k at size n; false on a trap. */
static bool engine_run(kernel *k, th_wasm_exec *ex, uint32_t n, uint64_t *sum, double *secs)
{
    th_wasm_val arg, res;
    double t0;
    int rc;

    arg.i64 = 0;
    arg.i32 = (int32_t)n;
    t0 = cpu_s();
    rc = th_wasm_exec_call(ex, k->run, &arg, 1, &res, 1);
    *secs = cpu_s() - t0;
    if (rc != TH_OK) {
        fprintf(stderr, "%s: engine run failed (status %d)\n", k->name, rc);
        if (rc == TH_WASM_TRAPPED)
            print_trap(ex);
        return false;
    }
    *sum = (uint64_t)res.i64;
    return true;
}

/* Run the kernels; returns the number of failures (checksum or trap). */
static int bench_kernels(const char *dir, const char *only, int rounds, bool quick)
{
    th_wasm_imports *imp = th_wasm_imports_new();
    th_wasm_exec *ex = th_wasm_exec_new(NULL);
    th_wasi_config wc;
    th_wasi *wasi = NULL;
    th_error err = {0};
    const char *argv0 = "kernel";
    double logsum = 0, simd_logsum = 0;
    int failures = 0, measured = 0, simd_measured = 0;

    th_wasi_config_init(&wc);
    wc.argv = &argv0;
    wc.argc = 1;
    if (imp == NULL || ex == NULL || th_wasi_new(&wc, &wasi, &err) != TH_OK ||
        th_wasi_add_to_imports(wasi, imp, &err) != TH_OK) {
        fprintf(stderr, "engine_bench: set-up failed: %s\n", err.msg);
        failures = 1;
        goto out;
    }
    for (size_t i = 0; i < NKERNELS; i++) {
        kernel *k = &kernels[i];
        if (only != NULL && strcmp(only, k->name) != 0)
            continue;
        k->ok = load_kernel(k, dir, imp, ex);
        failures += !k->ok;
    }
    printf("kernels: %d round%s, each round runs every kernel natively then on the engine;\n"
           "times are the median CPU time of the benchmark thread\n",
           rounds, rounds == 1 ? "" : "s");
    for (int r = 0; r < rounds; r++) {
        for (size_t i = 0; i < NKERNELS; i++) {
            kernel *k = &kernels[i];
            uint32_t n = quick ? k->quick_size : k->size;
            uint64_t nsum, esum;
            double t0;

            if (!k->ok)
                continue;
            t0 = cpu_s();
            nsum = k->native(n);
            k->native_s[r] = cpu_s() - t0;
            if (!engine_run(k, ex, n, &esum, &k->engine_s[r])) {
                k->ok = false;
                failures++;
                continue;
            }
            if (nsum != esum || (r > 0 && nsum != k->checksum)) {
                fprintf(stderr,
                        "CHECKSUM MISMATCH in %s (n=%u, round %d): native %016" PRIx64
                        ", engine %016" PRIx64 "\n",
                        k->name, n, r + 1, nsum, esum);
                k->ok = false;
                failures++;
                continue;
            }
            k->checksum = nsum;
        }
        fprintf(stderr, "  round %d/%d done\n", r + 1, rounds);
    }
    printf("\n%-8s %-26s %9s %11s %11s %8s  %s\n", "kernel", "measures", "n", "native ms",
           "engine ms", "ratio", "checksum");
    for (size_t i = 0; i < NKERNELS; i++) {
        kernel *k = &kernels[i];
        double nm, em;

        if (only != NULL && strcmp(only, k->name) != 0)
            continue;
        if (!k->ok) {
            printf("%-8s %-26s %9s  FAILED (see above)\n", k->name, k->what, "");
            continue;
        }
        nm = median(k->native_s, rounds);
        em = median(k->engine_s, rounds);
        printf("%-8s %-26s %9u %11.1f %11.1f %7.1fx  %016" PRIx64 "\n", k->name, k->what,
               quick ? k->quick_size : k->size, nm * 1e3, em * 1e3, em / nm, k->checksum);
        if (k->simd) {
            simd_logsum += log(em / nm);
            simd_measured++;
            continue;
        }
        logsum += log(em / nm);
        measured++;
    }
    if (simd_measured > 0)
        printf("\nSIMD kernels (wasm -msimd128 against native -O2, both vectorized): "
               "geometric mean %.1fx over %d\n",
               exp(simd_logsum / simd_measured), simd_measured);
    if (measured > 0) {
        double g = exp(logsum / measured);
        printf("\ngeometric mean engine/native over %d kernel%s: %.1fx "
               "(requirement <= %.1fx: %s)\n",
               measured, measured == 1 ? "" : "s", g, REQ_GEOMEAN,
               g <= REQ_GEOMEAN ? "met" : "NOT MET");
    }
out:
    for (size_t i = 0; i < NKERNELS; i++) {
        th_wasm_instance_free(kernels[i].inst);
        th_wasm_module_free(kernels[i].mod);
    }
    th_wasm_exec_free(ex);
    th_wasm_imports_free(imp);
    th_wasi_free(wasi);
    return failures;
}

/* ------------------------------------------------------------------ */
/* Instantiation                                                      */

typedef struct inst_result {
    int ok;
    double median_us;
    double rss_per_kib; /* resident KiB per live object */
    char msg[256];
} inst_result;

static long rss_pages(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long size = 0, resident = -1;

    if (f == NULL)
        return -1;
    if (fscanf(f, "%ld %ld", &size, &resident) != 2)
        resident = -1;
    fclose(f);
    return resident;
}

/* Child: instantiate `mod` INST_COUNT times, keeping all alive. */
static void measure_instances(th_wasm_module *mod, inst_result *r)
{
    th_wasm_imports *imp = th_wasm_imports_new();
    th_wasm_instance **insts = calloc(INST_COUNT, sizeof *insts);
    double *us = calloc(INST_COUNT, sizeof *us);
    long before, after;
    th_error err = {0};

    if (imp == NULL || insts == NULL || us == NULL) {
        snprintf(r->msg, sizeof r->msg, "out of memory");
        return;
    }
    before = rss_pages();
    for (int i = 0; i < INST_COUNT; i++) {
        double t0 = now_s();
        if (th_wasm_instance_new(mod, imp, NULL, &insts[i], &err) != TH_OK) {
            snprintf(r->msg, sizeof r->msg, "instance %d: %.200s", i, err.msg);
            return;
        }
        us[i] = (now_s() - t0) * 1e6;
    }
    after = rss_pages();
    r->median_us = median(us, INST_COUNT);
    r->rss_per_kib = (double)(after - before) * (double)sysconf(_SC_PAGESIZE) / INST_COUNT / 1024.0;
    r->ok = 1;
}

/* Called through a volatile pointer so the compiler cannot fuse malloc +
 * memset into calloc (which skips clearing fresh pages). */
static void *(*volatile memset_fn)(void *, int, size_t) = memset;

/* Child: the baseline, malloc + memset of one wasm page, kept alive. */
static void measure_baseline(inst_result *r)
{
    void **blocks = calloc(INST_COUNT, sizeof *blocks);
    double *us = calloc(INST_COUNT, sizeof *us);
    long before, after;

    if (blocks == NULL || us == NULL) {
        snprintf(r->msg, sizeof r->msg, "out of memory");
        return;
    }
    before = rss_pages();
    for (int i = 0; i < INST_COUNT; i++) {
        double t0 = now_s();
        blocks[i] = malloc(INST_MEMORY_BYTES);
        if (blocks[i] == NULL) {
            snprintf(r->msg, sizeof r->msg, "malloc failed");
            return;
        }
        memset_fn(blocks[i], 0, INST_MEMORY_BYTES);
        us[i] = (now_s() - t0) * 1e6;
    }
    after = rss_pages();
    r->median_us = median(us, INST_COUNT);
    r->rss_per_kib = (double)(after - before) * (double)sysconf(_SC_PAGESIZE) / INST_COUNT / 1024.0;
    r->ok = 1;
}

/* Run fn in a forked child and collect its result through a pipe. */
static inst_result in_child(th_wasm_module *mod)
{
    inst_result r;
    int fds[2];
    pid_t pid;
    ssize_t got = 0;

    memset(&r, 0, sizeof r);
    if (pipe(fds) != 0) {
        snprintf(r.msg, sizeof r.msg, "pipe: %s", strerror(errno));
        return r;
    }
    pid = fork();
    if (pid < 0) {
        snprintf(r.msg, sizeof r.msg, "fork: %s", strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return r;
    }
    if (pid == 0) {
        close(fds[0]);
        if (mod != NULL)
            measure_instances(mod, &r);
        else
            measure_baseline(&r);
        if (write(fds[1], &r, sizeof r) != (ssize_t)sizeof r)
            _exit(1);
        _exit(0);
    }
    close(fds[1]);
    while (got < (ssize_t)sizeof r) {
        ssize_t n = read(fds[0], (char *)&r + got, sizeof r - (size_t)got);
        if (n <= 0)
            break;
        got += n;
    }
    close(fds[0]);
    waitpid(pid, NULL, 0);
    if (got != (ssize_t)sizeof r) {
        memset(&r, 0, sizeof r);
        snprintf(r.msg, sizeof r.msg, "measurement process died");
    }
    return r;
}

static int bench_instantiation(const char *dir)
{
    char path[4096];
    unsigned char *bytes;
    size_t len = 0;
    th_wasm_module *mod = NULL;
    th_error err = {0};
    inst_result e, b;
    double beyond;

    snprintf(path, sizeof path, "%s/inst.wasm", dir);
    bytes = read_file(path, &len);
    if (bytes == NULL) {
        fprintf(stderr, "instantiation: cannot read %s: %s\n", path, strerror(errno));
        return 1;
    }
    if (th_wasm_module_new(bytes, len, &mod, &err) != TH_OK) {
        fprintf(stderr, "instantiation: %s: %s\n", path, err.msg);
        free(bytes);
        return 1;
    }
    free(bytes);
    fflush(stdout);
    e = in_child(mod);
    b = in_child(NULL);
    th_wasm_module_free(mod);
    printf("\ninstantiation: %d live instances of inst.wasm (1 page of memory, "
           "a table, a data segment, 4 functions)\n",
           INST_COUNT);
    if (!e.ok) {
        printf("  engine:   FAILED: %s\n", e.msg);
        return 1;
    }
    beyond = e.rss_per_kib - INST_TOUCHED_BYTES / 1024.0;
    printf("  engine:   median %.2f us per instantiation (requirement <= %.0f us: %s)\n",
           e.median_us, REQ_INST_US, e.median_us <= REQ_INST_US ? "met" : "NOT MET");
    printf("            RSS %.1f KiB per live instance, %.1f KiB beyond the %.0f KiB "
           "the data segment touches (requirement <= %.0f KiB: %s)\n",
           e.rss_per_kib, beyond, INST_TOUCHED_BYTES / 1024.0, REQ_INST_KIB,
           beyond <= REQ_INST_KIB ? "met" : "NOT MET");
    if (b.ok)
        printf("  baseline: malloc+memset of %d KiB: median %.2f us, RSS %.1f KiB each\n",
               INST_MEMORY_BYTES / 1024, b.median_us, b.rss_per_kib);
    else
        printf("  baseline: FAILED: %s\n", b.msg);
    return 0;
}

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: engine_bench [--quick] [--rounds N] [--only KERNEL] [--no-inst] [--kernels DIR]\n"
        "  --quick        about a tenth of the default sizes\n"
        "  --rounds N     rounds of native+engine runs per kernel (default 3)\n"
        "  --only KERNEL  one kernel (fib sha256 nbody matmul interp sort simd_img simd_dot)\n"
        "  --no-inst      skip the instantiation benchmark\n"
        "  --kernels DIR  where the kernels' .wasm files are (default %s)\n",
        THEATER_BENCH_KERNEL_DIR);
}

int main(int argc, char **argv)
{
    const char *dir = THEATER_BENCH_KERNEL_DIR, *only = NULL;
    bool quick = false, inst = true;
    int rounds = 3, failures;

    setvbuf(stdout, NULL, _IOLBF, 0); /* keep the report in order with progress on stderr */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            quick = true;
        } else if (strcmp(argv[i], "--no-inst") == 0) {
            inst = false;
        } else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) {
            rounds = atoi(argv[++i]);
            if (rounds < 1 || rounds > MAX_ROUNDS) {
                fprintf(stderr, "engine_bench: --rounds must be 1..%d\n", MAX_ROUNDS);
                return 2;
            }
        } else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
            only = argv[++i];
        } else if (strcmp(argv[i], "--kernels") == 0 && i + 1 < argc) {
            dir = argv[++i];
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    printf("engine_bench: theater's WebAssembly engine vs native code\n"
           "  engine build: %s; native kernels: %s -O2; wasm kernels: clang -O2 "
           "--target=wasm32-wasi\n",
           THEATER_BENCH_BUILD_TYPE, THEATER_BENCH_NATIVE_CC);
    if (strcmp(THEATER_BENCH_BUILD_TYPE, "Release") != 0 &&
        strcmp(THEATER_BENCH_BUILD_TYPE, "RelWithDebInfo") != 0)
        printf("  note: the engine is not an optimized build; figures are not "
               "representative\n");
    printf("\n");
    failures = bench_kernels(dir, only, rounds, quick);
    if (inst)
        failures += bench_instantiation(dir);
    if (failures) {
        fprintf(stderr, "engine_bench: %d failure%s\n", failures, failures == 1 ? "" : "s");
        return 1;
    }
    return 0;
}
