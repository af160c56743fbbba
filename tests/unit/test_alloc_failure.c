/*
 * test_alloc_failure.c - allocation-failure injection over the parts that
 * read untrusted input or set up long-lived objects: the wasm decoder and
 * instantiation, the TOML parser, the manifest checker, the store, the event
 * chain and a runtime spawn.
 *
 * The test binary interposes malloc/calloc/realloc (and the aligned
 * allocators): when armed, the n-th allocation from then on returns NULL.
 * Every operation is run with the failure placed at n = 1, 2, 3, ... (every
 * position up to a bound, then a spread sample of the rest) until a run
 * completes without reaching the failure.  Each run must end in success or
 * TH_ENOMEM - never another code, never a crash - and under ASan (LSan)
 * nothing may leak.  SQLite allocates through the same malloc, so its
 * out-of-memory paths are covered too.
 *
 * The real allocator is found with dlsym(RTLD_NEXT, ...) so that ASan's and
 * TSan's allocators keep tracking every block; before it is found, a static
 * arena answers.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <execinfo.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include <cmocka.h>

#include "base/toml.h"
#include "runtime/manifest.h"
#include "theater/chain.h"
#include "theater/handlers.h"
#include "theater/runtime.h"
#include "theater/store.h"
#include "theater/wasm.h"
#include "wat_util.h"

/* ------------------------------------------------------------------ */
/* The interposed allocator                                           */

static void *(*real_malloc)(size_t);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static void (*real_free)(void *);
static int (*real_posix_memalign)(void **, size_t, size_t);
static void *(*real_aligned_alloc)(size_t, size_t);

/* The allocator runs before the sanitizer runtimes have set themselves up
 * (ASan's start-up allocates): it must not be instrumented. */
#define NO_SAN __attribute__((no_sanitize("address", "thread", "undefined")))

/* > 0: allocations left before the failing one; 0: disarmed. */
static atomic_long countdown;
static atomic_int failed; /* the armed failure happened */

/* Until the real allocator is resolved (by this file's constructor, after
 * the sanitizer runtimes have started), allocations come from a static
 * arena and are never given back. */
static _Alignas(16) unsigned char boot_arena[4 << 20]; /* the libraries' constructors */
static size_t boot_used;
static atomic_int ready;
static int trace_failures; /* ALLOCFAIL_TRACE=1: print each failure's backtrace */

/* Set while this thread is inside pthread_getattr_np: the sanitizers call it
 * when a new thread starts, before any of our code runs there, and abort if
 * its allocation fails; that allocation is not ours to fail. */
static __thread int in_getattr;
static int (*real_getattr_np)(pthread_t, pthread_attr_t *);

NO_SAN static void *boot_alloc(size_t n)
{
    void *p;
    n = (n + 15) & ~(size_t)15;
    if (boot_used + n > sizeof boot_arena)
        return NULL;
    p = boot_arena + boot_used;
    boot_used += n;
    return p;
}

NO_SAN static int is_boot(const void *p)
{
    return (const unsigned char *)p >= boot_arena &&
           (const unsigned char *)p < boot_arena + sizeof boot_arena;
}

__attribute__((constructor(101))) static void resolve_allocator(void)
{
    real_malloc = (void *(*)(size_t))dlsym(RTLD_NEXT, "malloc");
    real_calloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "calloc");
    real_realloc = (void *(*)(void *, size_t))dlsym(RTLD_NEXT, "realloc");
    real_free = (void (*)(void *))dlsym(RTLD_NEXT, "free");
    real_posix_memalign = (int (*)(void **, size_t, size_t))dlsym(RTLD_NEXT, "posix_memalign");
    real_aligned_alloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "aligned_alloc");
    trace_failures = getenv("ALLOCFAIL_TRACE") != NULL;
    atomic_store(&ready, 1);
}

/* True if this allocation is the one to fail (errno is then ENOMEM, as
 * the C library's allocator leaves it). */
NO_SAN static int should_fail(void)
{
    long left = atomic_load(&countdown);

    if (in_getattr)
        return 0;
    while (left > 0) {
        if (atomic_compare_exchange_weak(&countdown, &left, left - 1)) {
            if (left == 1) {
                atomic_store(&failed, 1);
                if (trace_failures) { /* where it failed: backtrace_symbols_fd does not allocate */
                    void *frames[24];
                    backtrace_symbols_fd(frames, backtrace(frames, 24), 2);
                }
                errno = ENOMEM;
                return 1;
            }
            return 0;
        }
    }
    return 0;
}

NO_SAN void *malloc(size_t n)
{
    if (!atomic_load(&ready))
        return boot_alloc(n);
    return should_fail() ? NULL : real_malloc(n);
}

NO_SAN void *calloc(size_t a, size_t b)
{
    if (!atomic_load(&ready))
        return b != 0 && a > SIZE_MAX / b ? NULL : boot_alloc(a * b); /* zeroed */
    return should_fail() ? NULL : real_calloc(a, b);
}

NO_SAN void *realloc(void *p, size_t n)
{
    if (!atomic_load(&ready) || is_boot(p)) {
        /* a boot block: its size is unknown, copy what may be there */
        void *q = malloc(n);
        if (q != NULL && p != NULL) {
            size_t avail = (size_t)(boot_arena + sizeof boot_arena - (unsigned char *)p);
            memcpy(q, p, n < avail ? n : avail);
        }
        return q;
    }
    return should_fail() ? NULL : real_realloc(p, n);
}

NO_SAN void free(void *p)
{
    if (p == NULL || is_boot(p))
        return;
    real_free(p);
}

NO_SAN int posix_memalign(void **out, size_t align, size_t n)
{
    return should_fail() ? 12 /* ENOMEM */ : real_posix_memalign(out, align, n);
}

NO_SAN void *aligned_alloc(size_t align, size_t n)
{
    return should_fail() ? NULL : real_aligned_alloc(align, n);
}

NO_SAN int pthread_getattr_np(pthread_t t, pthread_attr_t *attr)
{
    int rc;

    if (real_getattr_np == NULL)
        real_getattr_np =
            (int (*)(pthread_t, pthread_attr_t *))dlsym(RTLD_NEXT, "pthread_getattr_np");
    in_getattr = 1;
    rc = real_getattr_np(t, attr);
    in_getattr = 0;
    return rc;
}

static void arm(long n)
{
    atomic_store(&failed, 0);
    atomic_store(&countdown, n);
}

/* Disarm; returns whether the armed failure was reached. */
static int disarm(void)
{
    atomic_store(&countdown, 0);
    return atomic_load(&failed);
}

/* ------------------------------------------------------------------ */
/* The driver                                                         */

typedef int (*op_fn)(void *ud, th_error *err);

/* Runs `op` with the n-th allocation failing, for n = 1.. until a run does
 * not reach its failure: every n up to `dense`, then `sparse` positions
 * spread over the rest (the count measured by a clean run).  Each run must
 * return 0 or TH_ENOMEM.  Returns the number of failing positions tried. */
static long sweep(const char *what, op_fn op, void *ud, long dense, long sparse)
{
    long total = 0, tried = 0, n, step;
    th_error err;
    int rc;

    /* A clean run first: it must succeed; count its allocations. */
    arm(LONG_MAX);
    rc = op(ud, &err);
    total = LONG_MAX - atomic_load(&countdown);
    disarm();
    if (rc != 0)
        fail_msg("%s: clean run failed: %d %s", what, rc, err.msg);
    step = total > dense && sparse > 0 ? (total - dense) / sparse : 1;
    if (step < 1)
        step = 1;
    /* ALLOCFAIL_START=N: every position from N on (to chase one failure) */
    n = 1;
    if (getenv("ALLOCFAIL_START") != NULL) {
        n = atol(getenv("ALLOCFAIL_START"));
        dense = LONG_MAX;
    }
    for (;; n += n < dense ? 1 : step) {
        if (getenv("ALLOCFAIL_TRACE") != NULL)
            fprintf(stderr, "%s: failing allocation %ld\n", what, n);
        memset(&err, 0, sizeof err);
        arm(n);
        rc = op(ud, &err);
        if (!disarm()) {
            if (rc != 0)
                fail_msg("%s: run %ld (no failure reached) returned %d %s", what, n, rc, err.msg);
            break;
        }
        tried++;
        if (rc != 0 && rc != TH_ENOMEM)
            fail_msg("%s: allocation %ld of %ld failed; returned %d (%s) \"%s\", not TH_ENOMEM",
                     what, n, total, rc, th_strerror(rc), err.msg);
        if (n > total + 64) /* the op allocates more each time: stop */
            break;
    }
    printf("%s: %ld allocations in a clean run, %ld failure points tried\n", what, total, tried);
    return tried;
}

/* ------------------------------------------------------------------ */
/* The operations                                                     */

static const char WAT[] =
    "(module\n"
    "  (memory (export \"memory\") 1 4)\n"
    "  (table 4 funcref)\n"
    "  (global $g (mut i32) (i32.const 7))\n"
    "  (data (i32.const 16) \"hello, world\")\n"
    "  (elem (i32.const 0) $fib $add)\n"
    "  (func $add (export \"add\") (param i32 i32) (result i32)\n"
    "    local.get 0 local.get 1 i32.add)\n"
    "  (func $fib (export \"fib\") (param i32) (result i32)\n"
    "    (if (result i32) (i32.lt_u (local.get 0) (i32.const 2))\n"
    "      (then (local.get 0))\n"
    "      (else (i32.add (call $fib (i32.sub (local.get 0) (i32.const 1)))\n"
    "                     (call $fib (i32.sub (local.get 0) (i32.const 2)))))))\n"
    "  (func (export \"loop\") (param i32) (result i32) (local i32)\n"
    "    (block (loop\n"
    "      (br_if 1 (i32.eqz (local.get 0)))\n"
    "      (local.set 1 (i32.add (local.get 1) (global.get $g)))\n"
    "      (local.set 0 (i32.sub (local.get 0) (i32.const 1)))\n"
    "      (br 0)))\n"
    "    (local.get 1)))\n";

typedef struct wasm_case {
    uint8_t *bytes;
    size_t len;
} wasm_case;

static int op_wasm(void *ud, th_error *err)
{
    wasm_case *c = ud;
    th_wasm_module *m = NULL;
    th_wasm_instance *inst = NULL;
    int rc;

    rc = th_wasm_module_new(c->bytes, c->len, &m, err);
    if (rc != 0)
        return rc;
    rc = th_wasm_instance_new(m, NULL, NULL, &inst, err);
    th_wasm_instance_free(inst);
    th_wasm_module_free(m);
    return rc;
}

static void test_wasm_module_and_instance(void **state)
{
    wasm_case c;
    (void)state;
    c.bytes = wat_to_wasm(WAT, &c.len);
    if (c.bytes == NULL)
        wat_missing();
    assert_true(sweep("wasm decode+validate+compile+instantiate", op_wasm, &c, 400, 200) > 0);
    free(c.bytes);
}

static const char TOML_DOC[] =
    "title = \"allocation failures\"\n"
    "[owner]\nname = \"Tom\"\ndob = 1979-05-27T07:32:00-08:00\n"
    "[database]\nports = [ 8000, 8001, 8002 ]\ndata = [ [\"delta\", \"phi\"], [3.14] ]\n"
    "temp_targets = { cpu = 79.5, case = 72.0 }\n"
    "[[products]]\nname = \"Hammer\"\nsku = 738594937\n"
    "[[products]]\nname = \"Nail\"\nsku = 284758393\ncolor = \"gray\"\n"
    "multi = \"\"\"\nline one\nline two\\tescaped \\u00e9\"\"\"\n"
    "literal = 'C:\\Users\\nodejs'\n"
    "a.b.c = 1\nhex = 0xDEADBEEF\nfloat = 6.626e-34\ninf = -inf\n";

static int op_toml(void *ud, th_error *err)
{
    toml_value *v = NULL;
    int rc;
    (void)ud;
    rc = toml_parse(TOML_DOC, sizeof TOML_DOC - 1, &v, err);
    toml_free(v);
    return rc;
}

static void test_toml_parse(void **state)
{
    (void)state;
    assert_true(sweep("toml parse", op_toml, NULL, 1000, 0) > 0);
}

static const char MANIFEST[] =
    "name = \"alloc-${WHO}\"\n"
    "version = \"0.1.0\"\n"
    "component = \"actor.wasm\"\n"
    "init_state = '{\"count\": 0}'\n"
    "[[handler]]\ntype = \"runtime\"\n"
    "[[handler]]\ntype = \"message-server\"\n"
    "[[handler]]\ntype = \"supervisor\"\n"
    "[[handler]]\ntype = \"store\"\n"
    "[[handler]]\ntype = \"timing\"\n"
    "[[handler]]\ntype = \"random\"\n"
    "[[handler]]\ntype = \"environment\"\nallowed_vars = [\"HOME\", \"${WHO}\"]\n"
    "[[handler]]\ntype = \"filesystem\"\npath = \"${DIR}\"\n";

static const char *manifest_env(void *ctx, const char *name)
{
    (void)ctx;
    if (strcmp(name, "DIR") == 0)
        return "/tmp";
    return strcmp(name, "WHO") == 0 ? "tester" : NULL;
}

static int op_manifest(void *ud, th_error *err)
{
    rt_manifest_options opt = {0};
    rt_manifest *m = NULL;
    int rc;
    (void)ud;
    opt.base_dir = "/tmp";
    opt.getenv = manifest_env;
    opt.handlers = th_handlers_builtin();
    rc = rt_manifest_parse(MANIFEST, sizeof MANIFEST - 1, &opt, &m, err);
    rt_manifest_free(m);
    return rc;
}

static void test_manifest_check(void **state)
{
    (void)state;
    assert_true(sweep("manifest check", op_manifest, NULL, 2000, 0) > 0);
}

/* A fresh THEATER_HOME per run, removed afterwards. */
static void rm_rf(const char *dir)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

static int op_store(void *ud, th_error *err)
{
    char home[] = "/tmp/th_allocfail_XXXXXX", id[TH_STORE_ID_LEN + 1];
    th_store_config cfg = {0};
    th_store *s = NULL;
    th_content_ref ref;
    void *data = NULL;
    size_t len = 0;
    int rc;
    (void)ud;

    if (mkdtemp(home) == NULL)
        return TH_EIO;
    cfg.home = home;
    cfg.sync_normal = 1;
    rc = th_store_open(&cfg, &s, err);
    if (rc == 0)
        rc = th_store_new(s, id, err);
    if (rc == 0)
        rc = th_store_put(s, id, "some content", 12, &ref, err);
    if (rc == 0)
        rc = th_store_label(s, id, "name", ref.hash, err);
    if (rc == 0)
        rc = th_store_get(s, id, ref.hash, &data, &len, err);
    if (rc == 0 && (len != 12 || memcmp(data, "some content", 12) != 0))
        rc = TH_ECORRUPT;
    free(data);
    th_store_close(s);
    rm_rf(home);
    return rc;
}

static void test_store(void **state)
{
    (void)state;
    assert_true(sweep("store open+put+label+get", op_store, NULL, 200, 200) > 0);
}

static int op_chain(void *ud, th_error *err)
{
    char home[] = "/tmp/th_allocfail_XXXXXX";
    th_chain_config cfg = {0};
    th_chain_verify_result res;
    th_chain *c = NULL;
    int rc;
    (void)ud;

    if (mkdtemp(home) == NULL)
        return TH_EIO;
    cfg.home = home;
    cfg.sync_normal = 1;
    rc = th_chain_open(&cfg, &c, err);
    for (int i = 0; rc == 0 && i < 3; i++)
        rc = th_chain_append(c, "actor-a", "message", "hello", 5, NULL, NULL, err);
    if (rc == 0)
        rc = th_chain_flush(c, 10000, err);
    if (rc == 0)
        rc = th_chain_verify(c, "actor-a", &res, err);
    if (c != NULL) {
        int crc = th_chain_close(c);
        if (rc == 0)
            rc = crc;
    }
    rm_rf(home);
    return rc;
}

static void test_chain(void **state)
{
    (void)state;
    assert_true(sweep("chain open+append+flush+verify", op_chain, NULL, 200, 200) > 0);
}

static int op_spawn(void *ud, th_error *err)
{
    const char *manifest = ud;
    char home[] = "/tmp/th_allocfail_XXXXXX", id[TH_ACTOR_ID_SIZE];
    th_runtime_config cfg = {0};
    th_spawn_opts so = {0};
    th_runtime *rt = NULL;
    int rc;

    if (mkdtemp(home) == NULL)
        return TH_EIO;
    cfg.home = home;
    cfg.workers = 1;
    cfg.handlers = th_handlers_builtin();
    rc = th_runtime_new(&cfg, &rt, err);
    if (rc == 0) {
        so.manifest_path = manifest;
        rc = th_runtime_spawn(rt, &so, id, err);
    }
    if (rc == 0)
        rc = th_runtime_stop(rt, id, err);
    if (rt != NULL) {
        int src = th_runtime_shutdown(rt, err);
        if (rc == 0)
            rc = src;
        th_runtime_free(rt);
    }
    rm_rf(home);
    return rc;
}

static void test_runtime_spawn(void **state)
{
    char path[1024];
    const char *bin = getenv("THEATER_BINARY_DIR");
    struct stat st;
    (void)state;

    snprintf(path, sizeof path, "%s/examples/actors/counter.toml", bin ? bin : ".");
    if (stat(path, &st) != 0)
        th_skip_missing("the example actor examples/actors/counter.toml (built with the wasm32 "
                        "guest toolchain, THEATER_GUEST=ON)");
    assert_true(sweep("runtime new+spawn+stop+shutdown", op_spawn, path, 150, 150) > 0);
}

/* libuv's own allocations are not failed: libuv aborts the process on
 * some of them (growing its watcher array in uv__io_start, reached from
 * uv_loop_init), so a failure landing there would end the sweep rather
 * than test our handling.  They go straight to the C library's allocator. */
static void *uv_malloc_real(size_t n)
{
    return real_malloc(n);
}

static void *uv_realloc_real(void *p, size_t n)
{
    return real_realloc(p, n);
}

static void *uv_calloc_real(size_t n, size_t size)
{
    return real_calloc(n, size);
}

static void uv_free_real(void *p)
{
    real_free(p);
}

int main(void)
{
    uv_replace_allocator(uv_malloc_real, uv_realloc_real, uv_calloc_real, uv_free_real);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wasm_module_and_instance),
        cmocka_unit_test(test_toml_parse),
        cmocka_unit_test(test_manifest_check),
        cmocka_unit_test(test_store),
        cmocka_unit_test(test_chain),
        cmocka_unit_test(test_runtime_spawn),
    };
    return th_test_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
