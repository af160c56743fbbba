/*
 * test_runtime_abi.c - the Canonical ABI glue (src/runtime/abi.c) driven
 * directly against real instances: bounds-checked spans, loads and stores at
 * the edges of memory (also of a 4 GiB one), allocation through
 * `cabi_realloc` and every way it can misbehave (trap, endless loop,
 * suspension, misaligned or out-of-bounds pointer, growing memory, absent),
 * lifting strings, bytes and options, and the result and list writers,
 * whose output is checked byte by byte against the layouts of ABI.md.
 *
 * Each check runs from the host between calls (an idle exec, `g.exec`) and,
 * where the code differs, from inside a host function (`g.call`).  Every
 * failure must be TH_ETRAP (TH_ETOOBIG for host-side sizes) with a message.
 *
 * Modules are WAT converted with wat2wasm (wabt); without it the tests skip.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "wat_util.h"

#include "base/limits.h"
#include "runtime/rt_int.h"
#include "theater/wasm.h"

/* ------------------------------------------------------------------ */
/* Guest modules                                                      */

/*
 * The test actor.  Its cabi_realloc records its arguments and call count in
 * globals and behaves according to the global `mode`:
 *   0 bump allocator from `heap` (aligned as asked)
 *   1 traps (unreachable)          2 loops forever
 *   3 bump pointer + 1             4 memory end - size + 1 (one past the end)
 *   5 grows memory by one page and returns the start of the new page
 *   6 calls the host import t.suspend (which suspends)
 *   7 spins `iters` loop iterations, then bump allocates
 *   8 memory end - size (ends exactly at the end)
 *   9 0xfffffff0
 * `run` calls the host import t.run, where the call-mode checks happen.
 */
static const char actor_wat[] =
    "(module\n"
    "  (import \"t\" \"run\" (func $host_run))\n"
    "  (import \"t\" \"suspend\" (func $host_suspend))\n"
    "  (memory (export \"memory\") 1 8)\n"
    "  (global $mode (export \"mode\") (mut i32) (i32.const 0))\n"
    "  (global $heap (export \"heap\") (mut i32) (i32.const 1024))\n"
    "  (global $calls (export \"calls\") (mut i32) (i32.const 0))\n"
    "  (global $a0 (export \"a0\") (mut i32) (i32.const -1))\n"
    "  (global $a1 (export \"a1\") (mut i32) (i32.const -1))\n"
    "  (global $a2 (export \"a2\") (mut i32) (i32.const -1))\n"
    "  (global $a3 (export \"a3\") (mut i32) (i32.const -1))\n"
    "  (global $iters (export \"iters\") (mut i32) (i32.const 0))\n"
    "  (func $bump (param $align i32) (param $size i32) (result i32)\n"
    "    (local $p i32)\n"
    "    (local.set $p (i32.and (i32.add (global.get $heap) (i32.sub (local.get $align) (i32.const "
    "1)))\n"
    "                           (i32.sub (i32.const 0) (local.get $align))))\n"
    "    (global.set $heap (i32.add (local.get $p) (local.get $size)))\n"
    "    (local.get $p))\n"
    "  (func $end (result i32) (i32.mul (memory.size) (i32.const 65536)))\n"
    "  (func (export \"cabi_realloc\") (param $old i32) (param $osz i32) (param $align i32)\n"
    "        (param $size i32) (result i32)\n"
    "    (local $i i32)\n"
    "    (global.set $calls (i32.add (global.get $calls) (i32.const 1)))\n"
    "    (global.set $a0 (local.get $old))\n"
    "    (global.set $a1 (local.get $osz))\n"
    "    (global.set $a2 (local.get $align))\n"
    "    (global.set $a3 (local.get $size))\n"
    "    (if (i32.eq (global.get $mode) (i32.const 1)) (then unreachable))\n"
    "    (if (i32.eq (global.get $mode) (i32.const 2)) (then (loop $l (br $l))))\n"
    "    (if (i32.eq (global.get $mode) (i32.const 3))\n"
    "      (then (return (i32.add (call $bump (local.get $align) (local.get $size)) (i32.const "
    "1)))))\n"
    "    (if (i32.eq (global.get $mode) (i32.const 4))\n"
    "      (then (return (i32.add (i32.sub (call $end) (local.get $size)) (i32.const 1)))))\n"
    "    (if (i32.eq (global.get $mode) (i32.const 5))\n"
    "      (then (return (i32.mul (memory.grow (i32.const 1)) (i32.const 65536)))))\n"
    "    (if (i32.eq (global.get $mode) (i32.const 6)) (then (call $host_suspend)))\n"
    "    (if (i32.eq (global.get $mode) (i32.const 7))\n"
    "      (then (loop $spin\n"
    "              (local.set $i (i32.add (local.get $i) (i32.const 1)))\n"
    "              (br_if $spin (i32.lt_u (local.get $i) (global.get $iters))))))\n"
    "    (if (i32.eq (global.get $mode) (i32.const 8))\n"
    "      (then (return (i32.sub (call $end) (local.get $size)))))\n"
    "    (if (i32.eq (global.get $mode) (i32.const 9)) (then (return (i32.const 0xfffffff0))))\n"
    "    (call $bump (local.get $align) (local.get $size)))\n"
    "  (func (export \"run\") (call $host_run)))\n";

/* No memory at all (cabi_realloc returns 16). */
static const char nomem_wat[] =
    "(module\n"
    "  (import \"t\" \"run\" (func $host_run))\n"
    "  (import \"t\" \"suspend\" (func $host_suspend))\n"
    "  (func (export \"cabi_realloc\") (param i32 i32 i32 i32) (result i32) (i32.const 16))\n"
    "  (func (export \"run\") (call $host_run)))\n";

/* A memory of zero pages. */
static const char zeromem_wat[] =
    "(module\n"
    "  (import \"t\" \"run\" (func $host_run))\n"
    "  (import \"t\" \"suspend\" (func $host_suspend))\n"
    "  (memory (export \"memory\") 0)\n"
    "  (func (export \"cabi_realloc\") (param i32 i32 i32 i32) (result i32) (i32.const 0))\n"
    "  (func (export \"run\") (call $host_run)))\n";

/* A full 4 GiB memory (mapped lazily), with a bump allocator from 1024. */
static const char bigmem_wat[] =
    "(module\n"
    "  (import \"t\" \"run\" (func $host_run))\n"
    "  (import \"t\" \"suspend\" (func $host_suspend))\n"
    "  (memory (export \"memory\") 65536)\n"
    "  (global $heap (mut i32) (i32.const 1024))\n"
    "  (func (export \"cabi_realloc\") (param i32 i32 i32 i32) (result i32)\n"
    "    (local $p i32)\n"
    "    (local.set $p (i32.and (i32.add (global.get $heap) (i32.sub (local.get 2) (i32.const "
    "1)))\n"
    "                           (i32.sub (i32.const 0) (local.get 2))))\n"
    "    (global.set $heap (i32.add (local.get $p) (local.get 3)))\n"
    "    (local.get $p))\n"
    "  (func (export \"run\") (call $host_run)))\n";

/* ------------------------------------------------------------------ */
/* Fixture                                                            */

#define PAGE 65536u

typedef struct env env;
/* A check run inside the host function t.run; its return is the host
 * function's status. */
typedef int (*scenario_fn)(env *e, th_wasm_call *call);

struct env {
    th_wasm_module *mod;
    th_wasm_imports *imp;
    th_wasm_instance *inst;
    th_wasm_exec *ex;
    th_error err;
    rt_guest g;           /* exec mode */
    scenario_fn scenario; /* what t.run does */
    int ran;              /* scenarios run to their end */
};

static int host_run(th_wasm_call *call, void *ctx, const th_wasm_val *args, th_wasm_val *res)
{
    env *e = ctx;

    (void)args, (void)res;
    if (e->scenario == NULL)
        return TH_WASM_SUSPENDED;
    return e->scenario(e, call);
}

static int host_suspend(th_wasm_call *call, void *ctx, const th_wasm_val *args, th_wasm_val *res)
{
    (void)call, (void)ctx, (void)args, (void)res;
    return TH_WASM_SUSPENDED;
}

/* Instantiate `wat` (user data `user`); skips without wat2wasm.  Returns
 * false if the instance could not be created (only allowed when `may_fail`). */
static bool env_open_user(env *e, const char *wat, void *user, bool may_fail)
{
    th_wasm_instance_config cfg;
    uint8_t *bin;
    size_t len = 0;
    int rc;

    memset(e, 0, sizeof *e);
    bin = wat_to_wasm(wat, &len);
    if (bin == NULL)
        wat_missing();
    if (th_wasm_module_new(bin, len, &e->mod, &e->err) != TH_OK)
        fail_msg("module: %s", e->err.msg);
    free(bin);
    e->imp = th_wasm_imports_new();
    assert_non_null(e->imp);
    assert_int_equal(th_wasm_imports_add_func(e->imp, "t", "run", "", host_run, e), TH_OK);
    assert_int_equal(th_wasm_imports_add_func(e->imp, "t", "suspend", "", host_suspend, e), TH_OK);
    memset(&cfg, 0, sizeof cfg);
    cfg.user = user;
    rc = th_wasm_instance_new(e->mod, e->imp, &cfg, &e->inst, &e->err);
    if (rc != TH_OK) {
        if (may_fail)
            return false;
        fail_msg("instance: %s", e->err.msg);
    }
    e->ex = th_wasm_exec_new(NULL);
    assert_non_null(e->ex);
    e->g.inst = e->inst;
    e->g.call = NULL;
    e->g.exec = e->ex;
    e->g.realloc = th_wasm_instance_func(e->inst, "cabi_realloc");
    e->g.err = &e->err;
    th_error_clear(&e->err);
    return true;
}

static void env_open(env *e, const char *wat)
{
    env_open_user(e, wat, NULL, false);
}

static void env_close(env *e)
{
    th_wasm_exec_free(e->ex);
    th_wasm_instance_free(e->inst);
    th_wasm_module_free(e->mod);
    th_wasm_imports_free(e->imp);
}

/* Run `fn` inside t.run; returns the status of the call of `run`. */
static int in_call(env *e, scenario_fn fn)
{
    int rc;

    e->scenario = fn;
    e->ran = 0;
    rc = th_wasm_exec_call(e->ex, th_wasm_instance_func(e->inst, "run"), NULL, 0, NULL, 0);
    e->scenario = NULL;
    return rc;
}

/* The guest view of a host function (call mode). */
static rt_guest call_guest(env *e, th_wasm_call *call)
{
    rt_guest g = {e->inst, call, NULL, th_wasm_instance_func(e->inst, "cabi_realloc"), &e->err};
    return g;
}

static uint8_t *mem(env *e, uint64_t *size)
{
    th_wasm_memory *m = th_wasm_instance_memory0(e->inst);
    uint64_t dummy;

    assert_non_null(m);
    return th_wasm_memory_data(m, size != NULL ? size : &dummy);
}

static uint32_t rd32(env *e, uint32_t addr)
{
    const uint8_t *p = mem(e, NULL) + addr;
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void wr32(env *e, uint32_t addr, uint32_t v)
{
    uint8_t *p = mem(e, NULL) + addr;
    p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16),
    p[3] = (uint8_t)(v >> 24);
}

static int32_t gget(env *e, const char *name)
{
    th_wasm_global *gl = th_wasm_instance_global(e->inst, name);

    assert_non_null(gl);
    return th_wasm_global_get(gl).i32;
}

static void gset(env *e, const char *name, int32_t v)
{
    th_wasm_global *gl = th_wasm_instance_global(e->inst, name);
    th_wasm_val x;

    assert_non_null(gl);
    x.bits = 0;
    x.i32 = v;
    assert_int_equal(th_wasm_global_set(gl, x), TH_OK);
}

/* `expr` must fail with `code` and a message containing `what`. */
#define EXPECT_FAIL(e, want, expr, what) \
    do { \
        th_error_clear(&(e)->err); \
        int rc_ = (expr); \
        if (rc_ != (want) || (e)->err.code != (want) || strstr((e)->err.msg, what) == NULL) \
            fail_msg("%s: got %d \"%s\", expected %d with \"%s\"", #expr, rc_, (e)->err.msg, \
                     (want), what); \
    } while (0)
#define EXPECT_TRAP(e, expr, what) EXPECT_FAIL(e, TH_ETRAP, expr, what)
#define EXPECT_OK(e, expr) \
    do { \
        th_error_clear(&(e)->err); \
        int rc_ = (expr); \
        if (rc_ != 0) \
            fail_msg("%s: %d \"%s\"", #expr, rc_, (e)->err.msg); \
    } while (0)

/* ------------------------------------------------------------------ */
/* Spans                                                              */

/* The edges of a one-page memory through `g` (either mode). */
static void check_spans(env *e, rt_guest *g)
{
    uint64_t size = 0;
    uint8_t *base = rt_guest_mem(g, &size), *p;

    assert_int_equal(size, PAGE);
    assert_ptr_equal(base, mem(e, NULL));
    EXPECT_OK(e, rt_abi_span(g, 0, PAGE, &p));
    assert_ptr_equal(p, base);
    EXPECT_OK(e, rt_abi_span(g, PAGE - 1, 1, &p));
    assert_ptr_equal(p, base + PAGE - 1);
    EXPECT_OK(e, rt_abi_span(g, PAGE - 16, 16, &p)); /* len up to exactly the end */
    assert_ptr_equal(p, base + PAGE - 16);
    EXPECT_OK(e, rt_abi_span(g, PAGE, 0, &p)); /* empty at the end */
    assert_ptr_equal(p, base + PAGE);
    EXPECT_TRAP(e, rt_abi_span(g, PAGE, 1, &p), "out-of-bounds");
    EXPECT_TRAP(e, rt_abi_span(g, PAGE - 16, 17, &p), "out-of-bounds");
    EXPECT_TRAP(e, rt_abi_span(g, PAGE + 1, 0, &p), "out-of-bounds");
    EXPECT_TRAP(e, rt_abi_span(g, 0, PAGE + 1, &p), "out-of-bounds");
    EXPECT_TRAP(e, rt_abi_span(g, UINT32_MAX, 1, &p), "out-of-bounds");
    /* ptr + len past 2^32: wraps in 32 bits */
    EXPECT_TRAP(e, rt_abi_span(g, 0xfffffff0u, 0x20, &p), "out-of-bounds");
    EXPECT_TRAP(e, rt_abi_span(g, 16, UINT32_MAX, &p), "out-of-bounds");
    /* ... and past 2^64: wraps in 64 bits */
    EXPECT_TRAP(e, rt_abi_span(g, 16, UINT64_MAX - 15, &p), "out-of-bounds");
    EXPECT_TRAP(e, rt_abi_span(g, 1, UINT64_MAX, &p), "out-of-bounds");
    EXPECT_TRAP(e, rt_abi_span(g, 0, UINT64_MAX, &p), "out-of-bounds");
}

static int scenario_spans(env *e, th_wasm_call *call)
{
    rt_guest g = call_guest(e, call);

    check_spans(e, &g);
    e->ran++;
    return TH_OK;
}

static void test_spans(void **unused)
{
    env e;

    (void)unused;
    env_open(&e, actor_wat);
    check_spans(&e, &e.g);
    assert_int_equal(in_call(&e, scenario_spans), TH_OK);
    assert_int_equal(e.ran, 1);
    env_close(&e);
}

/* ------------------------------------------------------------------ */
/* Loads and stores at the edges                                      */

static void check_load_store(env *e, rt_guest *g)
{
    uint8_t *m = mem(e, NULL), b = 0x5a;
    uint32_t w = 0x5a5a5a5a;
    static const uint8_t le32[4] = {0x04, 0x03, 0x02, 0x01};
    static const uint8_t le64[8] = {0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01};
    uint8_t fill[16];

    memset(m + PAGE - 16, 0xaa, 16);
    memset(fill, 0xaa, sizeof fill);

    /* u8: the last byte, then one past it */
    EXPECT_OK(e, rt_abi_store_u8(g, PAGE - 1, 0x7e));
    assert_int_equal(m[PAGE - 1], 0x7e);
    EXPECT_OK(e, rt_abi_load_u8(g, PAGE - 1, &b));
    assert_int_equal(b, 0x7e);
    EXPECT_TRAP(e, rt_abi_store_u8(g, PAGE, 1), "out-of-bounds");
    b = 0x5a;
    EXPECT_TRAP(e, rt_abi_load_u8(g, PAGE, &b), "out-of-bounds");
    assert_int_equal(b, 0x5a); /* not written on failure */
    EXPECT_TRAP(e, rt_abi_load_u8(g, UINT32_MAX, &b), "out-of-bounds");
    EXPECT_TRAP(e, rt_abi_store_u8(g, UINT32_MAX, 1), "out-of-bounds");
    m[PAGE - 1] = 0xaa;

    /* u32: little-endian at the last 4 bytes, then one past */
    EXPECT_OK(e, rt_abi_store_u32(g, PAGE - 4, 0x01020304));
    assert_memory_equal(m + PAGE - 4, le32, 4);
    EXPECT_OK(e, rt_abi_load_u32(g, PAGE - 4, &w));
    assert_int_equal(w, 0x01020304);
    memset(m + PAGE - 4, 0xaa, 4);
    EXPECT_TRAP(e, rt_abi_store_u32(g, PAGE - 3, 0x01020304), "out-of-bounds");
    assert_memory_equal(m + PAGE - 16, fill, 16); /* nothing written */
    w = 0x5a5a5a5a;
    EXPECT_TRAP(e, rt_abi_load_u32(g, PAGE - 3, &w), "out-of-bounds");
    assert_int_equal(w, 0x5a5a5a5a);
    EXPECT_TRAP(e, rt_abi_load_u32(g, UINT32_MAX - 1, &w), "out-of-bounds");
    EXPECT_TRAP(e, rt_abi_store_u32(g, UINT32_MAX - 1, 0), "out-of-bounds");

    /* u32 at an unaligned address inside memory is fine (memcpy-like) */
    EXPECT_OK(e, rt_abi_store_u32(g, 1001, 0xdeadbeef));
    assert_int_equal(rd32(e, 1001), 0xdeadbeef);
    EXPECT_OK(e, rt_abi_load_u32(g, 1001, &w));
    assert_int_equal(w, 0xdeadbeef);

    /* u64: little-endian at the last 8 bytes; one past writes nothing */
    EXPECT_OK(e, rt_abi_store_u64(g, PAGE - 8, 0x0102030405060708ull));
    assert_memory_equal(m + PAGE - 8, le64, 8);
    memset(m + PAGE - 8, 0xaa, 8);
    EXPECT_TRAP(e, rt_abi_store_u64(g, PAGE - 7, 1), "out-of-bounds");
    EXPECT_TRAP(e, rt_abi_store_u64(g, PAGE - 4, 0x0102030405060708ull), "out-of-bounds");
    EXPECT_TRAP(e, rt_abi_store_u64(g, PAGE, 1), "out-of-bounds");
    assert_memory_equal(m + PAGE - 16, fill, 16);
    EXPECT_TRAP(e, rt_abi_store_u64(g, UINT32_MAX - 3, 1), "out-of-bounds");
}

static int scenario_load_store(env *e, th_wasm_call *call)
{
    rt_guest g = call_guest(e, call);

    check_load_store(e, &g);
    e->ran++;
    return TH_OK;
}

static void test_load_store(void **unused)
{
    env e;

    (void)unused;
    env_open(&e, actor_wat);
    check_load_store(&e, &e.g);
    assert_int_equal(in_call(&e, scenario_load_store), TH_OK);
    assert_int_equal(e.ran, 1);
    env_close(&e);
}

/* ------------------------------------------------------------------ */
/* Modules without memory                                             */

static void check_no_memory(env *e, rt_guest *g)
{
    static const char *const strs[] = {"x"};
    uint64_t size = 1;
    uint8_t *p = NULL, b;
    uint32_t w, ptr;
    char *s = NULL;
    bool has = true;
    size_t n = 1;

    assert_null(rt_guest_mem(g, &size));
    assert_int_equal(size, 0);
    EXPECT_TRAP(e, rt_abi_span(g, 0, 0, &p), "no memory");
    EXPECT_TRAP(e, rt_abi_load_u8(g, 0, &b), "no memory");
    EXPECT_TRAP(e, rt_abi_load_u32(g, 0, &w), "no memory");
    EXPECT_TRAP(e, rt_abi_store_u8(g, 0, 1), "no memory");
    EXPECT_TRAP(e, rt_abi_store_u32(g, 0, 1), "no memory");
    EXPECT_TRAP(e, rt_abi_store_u64(g, 0, 1), "no memory");
    EXPECT_TRAP(e, rt_abi_bytes(g, 0, 0, &p), "no memory");
    EXPECT_TRAP(e, rt_abi_string(g, 0, 0, &s, &n), "no memory");
    EXPECT_TRAP(e, rt_abi_opt_bytes(g, 0, &has, &p, &n), "no memory");
    assert_false(has);
    assert_null(p);
    /* the allocator answers 16, but there is nothing at 16 */
    EXPECT_TRAP(e, rt_abi_alloc(g, 1, 8, &ptr), "no memory");
    assert_non_null(strstr(e->err.msg, "cabi_realloc(8 bytes)"));
    EXPECT_TRAP(e, rt_abi_alloc(g, 1, 0, &ptr), "no memory");
    EXPECT_TRAP(e, rt_abi_put(g, "abc", 3, 1, &ptr), "no memory");
    EXPECT_TRAP(e, rt_abi_store_list(g, 0, "abc", 3), "no memory");
    EXPECT_TRAP(e, rt_abi_result_unit(g, 0, NULL), "no memory");
    EXPECT_TRAP(e, rt_abi_result_unit(g, 0, "e"), "no memory");
    EXPECT_TRAP(e, rt_abi_result_err8(g, 0, "e"), "no memory");
    EXPECT_TRAP(e, rt_abi_result_bytes(g, 0, "d", 1, NULL), "no memory");
    EXPECT_TRAP(e, rt_abi_store_strings(g, 0, (char *const *)strs, 1), "no memory");
}

static int scenario_no_memory(env *e, th_wasm_call *call)
{
    rt_guest g = call_guest(e, call);
    rt_host h;
    const uint8_t *bp = (const uint8_t *)"sentinel";
    char *s = (char *)"sentinel";

    check_no_memory(e, &g);
    rt_host_begin(&h, call);
    assert_int_equal(rt_host_bytes(&h, 0, 0, &bp), TH_ETRAP);
    assert_null(bp);
    assert_int_equal(rt_host_str(&h, 0, 0, &s), TH_ETRAP);
    assert_non_null(strstr(h.err.msg, "no memory"));
    e->ran++;
    return TH_OK;
}

static void test_no_memory(void **unused)
{
    env e;
    uint8_t *p = NULL, b;
    uint64_t size = 1;

    (void)unused;
    env_open(&e, nomem_wat);
    check_no_memory(&e, &e.g);
    assert_int_equal(in_call(&e, scenario_no_memory), TH_OK);
    assert_int_equal(e.ran, 1);
    env_close(&e);

    /* A memory of zero pages: only the empty span at 0 exists. */
    env_open(&e, zeromem_wat);
    assert_non_null(rt_guest_mem(&e.g, &size));
    assert_int_equal(size, 0);
    EXPECT_OK(&e, rt_abi_span(&e.g, 0, 0, &p));
    EXPECT_TRAP(&e, rt_abi_span(&e.g, 0, 1, &p), "out-of-bounds");
    EXPECT_TRAP(&e, rt_abi_span(&e.g, 1, 0, &p), "out-of-bounds");
    EXPECT_TRAP(&e, rt_abi_load_u8(&e.g, 0, &b), "out-of-bounds");
    EXPECT_TRAP(&e, rt_abi_store_u8(&e.g, 0, 1), "out-of-bounds");
    EXPECT_TRAP(&e, rt_abi_result_unit(&e.g, 0, NULL), "out-of-bounds");
    EXPECT_OK(&e, rt_abi_bytes(&e.g, 0, 0, &p)); /* an empty list at 0 */
    assert_int_equal(p[0], 0);
    free(p);
    env_close(&e);
}

/* ------------------------------------------------------------------ */
/* cabi_realloc                                                       */

/* What every allocator behaviour gives through `g` (either mode). */
static void check_alloc(env *e, rt_guest *g)
{
    uint32_t ptr = 0;
    int calls;
    th_wasm_func *fn;

    gset(e, "heap", 1001);
    gset(e, "mode", 0);
    calls = gget(e, "calls");
    EXPECT_OK(e, rt_abi_alloc(g, 1, 5, &ptr));
    assert_int_equal(ptr, 1001);
    /* called as cabi_realloc(0, 0, align, size) */
    assert_int_equal(gget(e, "a0"), 0);
    assert_int_equal(gget(e, "a1"), 0);
    assert_int_equal(gget(e, "a2"), 1);
    assert_int_equal(gget(e, "a3"), 5);
    EXPECT_OK(e, rt_abi_alloc(g, 8, 3, &ptr));
    assert_int_equal(ptr, 1008);
    assert_int_equal(gget(e, "a2"), 8);
    assert_int_equal(gget(e, "a3"), 3);
    EXPECT_OK(e, rt_abi_alloc(g, 4, 0, &ptr));
    assert_int_equal(ptr, 1012);
    assert_int_equal(gget(e, "calls"), calls + 3);

    /* ends exactly at the end of memory: fine; one byte further: not */
    gset(e, "mode", 8);
    EXPECT_OK(e, rt_abi_alloc(g, 4, 16, &ptr));
    assert_int_equal(ptr, PAGE - 16);
    EXPECT_OK(e, rt_abi_alloc(g, 1, 0, &ptr));
    assert_int_equal(ptr, PAGE);
    gset(e, "mode", 4);
    EXPECT_TRAP(e, rt_abi_alloc(g, 1, 16, &ptr), "out-of-bounds");
    assert_non_null(strstr(e->err.msg, "cabi_realloc(16 bytes)"));
    EXPECT_TRAP(e, rt_abi_alloc(g, 1, 0, &ptr), "out-of-bounds");
    gset(e, "mode", 9); /* 0xfffffff0 + 32 overflows 32 bits */
    EXPECT_TRAP(e, rt_abi_alloc(g, 1, 32, &ptr), "out-of-bounds");
    EXPECT_TRAP(e, rt_abi_alloc(g, 16, 8, &ptr), "out-of-bounds");

    /* misaligned for the alignment asked (any pointer is aligned to 1) */
    gset(e, "mode", 3);
    gset(e, "heap", 2000);
    EXPECT_TRAP(e, rt_abi_alloc(g, 4, 8, &ptr), "misaligned");
    EXPECT_TRAP(e, rt_abi_alloc(g, 2, 8, &ptr), "misaligned");
    EXPECT_TRAP(e, rt_abi_alloc(g, 8, 8, &ptr), "misaligned");
    gset(e, "heap", 2000);
    EXPECT_OK(e, rt_abi_alloc(g, 1, 8, &ptr));
    assert_int_equal(ptr, 2001);

    /* traps: the message says why */
    gset(e, "mode", 1);
    EXPECT_TRAP(e, rt_abi_alloc(g, 1, 8, &ptr), "cabi_realloc");
    assert_non_null(strstr(e->err.msg, "unreachable"));

    /* absent */
    fn = g->realloc;
    g->realloc = NULL;
    calls = gget(e, "calls");
    EXPECT_TRAP(e, rt_abi_alloc(g, 1, 8, &ptr), "does not export cabi_realloc");
    EXPECT_TRAP(e, rt_abi_put(g, "x", 1, 1, &ptr), "does not export cabi_realloc");
    EXPECT_TRAP(e, rt_abi_store_list(g, 64, "x", 1), "does not export cabi_realloc");
    EXPECT_TRAP(e, rt_abi_result_unit(g, 64, "e"), "does not export cabi_realloc");
    assert_int_equal(gget(e, "calls"), calls);
    g->realloc = fn;

    /* and afterwards the allocator works again */
    gset(e, "mode", 0);
    gset(e, "heap", 3000);
    EXPECT_OK(e, rt_abi_alloc(g, 4, 4, &ptr));
    assert_int_equal(ptr, 3000);
}

static int scenario_alloc(env *e, th_wasm_call *call)
{
    rt_guest g = call_guest(e, call);

    check_alloc(e, &g);
    e->ran++;
    return TH_OK;
}

static void test_alloc(void **unused)
{
    env e;

    (void)unused;
    env_open(&e, actor_wat);
    check_alloc(&e, &e.g);
    assert_false(th_wasm_exec_is_suspended(e.ex));
    assert_int_equal(in_call(&e, scenario_alloc), TH_OK);
    assert_int_equal(e.ran, 1);
    env_close(&e);
}

/* Fuel: an endless cabi_realloc is stopped after TH_RT_REALLOC_FUEL. */
static int scenario_alloc_loops(env *e, th_wasm_call *call)
{
    rt_guest g = call_guest(e, call);
    th_wasm_exec *ex = th_wasm_call_exec(call);
    uint32_t ptr;
    uint64_t before;

    /* the caller's fuel is unlimited here: the realloc still stops */
    assert_int_equal(th_wasm_exec_fuel(ex), UINT64_MAX);
    gset(e, "mode", 2);
    EXPECT_TRAP(e, rt_abi_alloc(&g, 1, 8, &ptr), "fuel");
    assert_int_equal(th_wasm_exec_fuel(ex), UINT64_MAX);
    /* a realloc that needs less than its budget succeeds; what it uses is
     * charged to the caller */
    th_wasm_exec_set_fuel(ex, 3 * TH_RT_REALLOC_FUEL);
    gset(e, "mode", 7);
    gset(e, "iters", TH_RT_REALLOC_FUEL / 2);
    EXPECT_OK(e, rt_abi_alloc(&g, 1, 8, &ptr));
    before = th_wasm_exec_fuel(ex);
    assert_true(before <= 3 * TH_RT_REALLOC_FUEL - TH_RT_REALLOC_FUEL / 2);
    assert_true(before >= 2 * TH_RT_REALLOC_FUEL);
    /* more than the budget fails even though the caller has plenty */
    gset(e, "iters", TH_RT_REALLOC_FUEL + 1000);
    EXPECT_TRAP(e, rt_abi_alloc(&g, 1, 8, &ptr), "fuel");
    assert_true(th_wasm_exec_fuel(ex) < before);
    th_wasm_exec_set_fuel(ex, UINT64_MAX);
    gset(e, "mode", 0);
    EXPECT_OK(e, rt_abi_alloc(&g, 1, 8, &ptr));
    e->ran++;
    return TH_OK;
}

/* The caller's fuel is almost spent when the host function allocates: a
 * well-behaved allocator must still succeed (the nested call cannot be
 * suspended for more fuel), and the caller ends up with none. */
static int scenario_alloc_low_fuel(env *e, th_wasm_call *call)
{
    rt_guest g = call_guest(e, call);
    th_wasm_exec *ex = th_wasm_call_exec(call);
    uint32_t ptr;

    assert_int_equal(th_wasm_exec_fuel(ex), 0);
    gset(e, "mode", 7);
    gset(e, "iters", 50);
    EXPECT_OK(e, rt_abi_alloc(&g, 1, 8, &ptr));
    assert_int_equal(th_wasm_exec_fuel(ex), 0);
    e->ran++;
    return TH_OK;
}

static void test_alloc_fuel(void **unused)
{
    env e;
    uint32_t ptr;
    int rc;

    (void)unused;
    env_open(&e, actor_wat);

    /* from the host: the exec had unlimited fuel */
    assert_int_equal(th_wasm_exec_fuel(e.ex), UINT64_MAX);
    gset(&e, "mode", 2);
    EXPECT_TRAP(&e, rt_abi_alloc(&e.g, 1, 8, &ptr), "fuel");
    assert_false(th_wasm_exec_is_suspended(e.ex));
    assert_int_equal(th_wasm_exec_fuel(e.ex), 0); /* the whole budget was spent */
    gset(&e, "mode", 7);
    gset(&e, "iters", TH_RT_REALLOC_FUEL / 2);
    EXPECT_OK(&e, rt_abi_alloc(&e.g, 1, 8, &ptr));
    gset(&e, "iters", TH_RT_REALLOC_FUEL + 1000);
    EXPECT_TRAP(&e, rt_abi_alloc(&e.g, 1, 8, &ptr), "fuel");
    assert_false(th_wasm_exec_is_suspended(e.ex));
    gset(&e, "mode", 0);
    EXPECT_OK(&e, rt_abi_alloc(&e.g, 1, 8, &ptr));

    /* from a host function */
    th_wasm_exec_set_fuel(e.ex, UINT64_MAX);
    assert_int_equal(in_call(&e, scenario_alloc_loops), TH_OK);
    assert_int_equal(e.ran, 1);

    /* `run` spends its one unit on entry, leaving none for the host call */
    th_wasm_exec_set_fuel(e.ex, 1);
    rc = in_call(&e, scenario_alloc_low_fuel);
    assert_int_equal(e.ran, 1);
    assert_true(rc == TH_OK || rc == TH_WASM_OUT_OF_FUEL);
    if (rc == TH_WASM_OUT_OF_FUEL)
        th_wasm_exec_abort(e.ex);
    env_close(&e);
}

/* A suspension inside cabi_realloc. */
static int scenario_alloc_suspends(env *e, th_wasm_call *call)
{
    rt_guest g = call_guest(e, call);
    uint32_t ptr;

    gset(e, "mode", 6);
    EXPECT_TRAP(e, rt_abi_alloc(&g, 1, 8, &ptr), "cabi_realloc");
    assert_non_null(strstr(e->err.msg, "suspend"));
    gset(e, "mode", 0);
    EXPECT_OK(e, rt_abi_alloc(&g, 1, 8, &ptr));
    e->ran++;
    return TH_OK;
}

static void test_alloc_suspend(void **unused)
{
    env e;
    uint32_t ptr;

    (void)unused;
    env_open(&e, actor_wat);
    gset(&e, "mode", 6);
    EXPECT_TRAP(&e, rt_abi_alloc(&e.g, 1, 8, &ptr), "tried to suspend");
    assert_false(th_wasm_exec_is_suspended(e.ex));
    gset(&e, "mode", 0);
    EXPECT_OK(&e, rt_abi_alloc(&e.g, 1, 8, &ptr));
    assert_int_equal(in_call(&e, scenario_alloc_suspends), TH_OK);
    assert_int_equal(e.ran, 1);
    env_close(&e);
}

/* An exec that holds a suspended call cannot run cabi_realloc: that is a
 * failure, and the suspended call is left alone. */
static void test_alloc_busy_exec(void **unused)
{
    env e;
    uint32_t ptr;
    int calls;

    (void)unused;
    env_open(&e, actor_wat);
    e.scenario = NULL; /* t.run suspends */
    assert_int_equal(
        th_wasm_exec_call(e.ex, th_wasm_instance_func(e.inst, "run"), NULL, 0, NULL, 0),
        TH_WASM_SUSPENDED);
    calls = gget(&e, "calls");
    EXPECT_TRAP(&e, rt_abi_alloc(&e.g, 1, 8, &ptr), "cabi_realloc");
    EXPECT_TRAP(&e, rt_abi_store_list(&e.g, 64, "abc", 3), "cabi_realloc");
    assert_int_equal(gget(&e, "calls"), calls);
    assert_true(th_wasm_exec_is_suspended(e.ex));
    assert_int_equal(th_wasm_exec_fuel(e.ex), UINT64_MAX); /* its fuel untouched */
    assert_int_equal(th_wasm_exec_resume(e.ex, NULL, NULL, 0), TH_OK);
    assert_false(th_wasm_exec_is_suspended(e.ex));
    EXPECT_OK(&e, rt_abi_alloc(&e.g, 1, 8, &ptr));
    env_close(&e);
}

/* cabi_realloc grows (and may move) memory: the writes after it must land
 * in the new memory. */
static void check_growth(env *e, rt_guest *g)
{
    static const char *const strs[] = {"first", "", "third string"};
    uint8_t data[300];
    uint64_t size;
    uint32_t ptr, arr, i;

    for (i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 7 + 1);
    gset(e, "mode", 5);
    mem(e, &size);
    assert_int_equal(size, PAGE);
    EXPECT_OK(e, rt_abi_put(g, data, 100, 1, &ptr));
    assert_int_equal(ptr, PAGE);
    mem(e, &size);
    assert_int_equal(size, 2 * PAGE);
    assert_memory_equal(mem(e, NULL) + PAGE, data, 100);

    EXPECT_OK(e, rt_abi_store_list(g, 64, data, sizeof data));
    assert_int_equal(rd32(e, 64), 2 * PAGE);
    assert_int_equal(rd32(e, 68), sizeof data);
    assert_memory_equal(mem(e, NULL) + 2 * PAGE, data, sizeof data);

    /* the array, then each string, in a fresh page each */
    EXPECT_OK(e, rt_abi_store_strings(g, 128, (char *const *)strs, 3));
    arr = rd32(e, 128);
    assert_int_equal(arr, 3 * PAGE);
    assert_int_equal(rd32(e, 132), 3);
    for (i = 0; i < 3; i++) {
        assert_int_equal(rd32(e, arr + 8 * i), (4 + i) * PAGE);
        assert_int_equal(rd32(e, arr + 8 * i + 4), strlen(strs[i]));
        assert_memory_equal(mem(e, NULL) + (4 + i) * PAGE, strs[i], strlen(strs[i]));
    }
    mem(e, &size);
    assert_int_equal(size, 7 * PAGE);

    /* at the maximum (8 pages) growth fails: the allocator then answers
     * 0xffff0000, out of bounds */
    EXPECT_OK(e, rt_abi_put(g, data, 10, 1, &ptr));
    assert_int_equal(ptr, 7 * PAGE);
    EXPECT_TRAP(e, rt_abi_put(g, data, 10, 1, &ptr), "out-of-bounds");
    EXPECT_TRAP(e, rt_abi_store_strings(g, 128, (char *const *)strs, 3), "out-of-bounds");
    gset(e, "mode", 0);
}

static int scenario_growth(env *e, th_wasm_call *call)
{
    rt_guest g = call_guest(e, call);
    rt_host h;
    const uint8_t *p;
    uint64_t size;

    check_growth(e, &g);
    /* the host's view follows the grown memory */
    rt_host_begin(&h, call);
    assert_int_equal(rt_host_bytes(&h, 7 * PAGE, 10, &p), 0);
    assert_ptr_equal(p, th_wasm_call_memory(call, &size) + 7 * PAGE);
    assert_int_equal(size, 8 * PAGE);
    e->ran++;
    return TH_OK;
}

static void test_alloc_grows_memory(void **unused)
{
    env e;

    (void)unused;
    env_open(&e, actor_wat);
    check_growth(&e, &e.g);
    env_close(&e);
    env_open(&e, actor_wat);
    assert_int_equal(in_call(&e, scenario_growth), TH_OK);
    assert_int_equal(e.ran, 1);
    env_close(&e);
}

static void test_put(void **unused)
{
    env e;
    uint32_t ptr = 0;
    int calls;

    (void)unused;
    env_open(&e, actor_wat);
    gset(&e, "heap", 1001);
    EXPECT_OK(&e, rt_abi_put(&e.g, "hello", 5, 1, &ptr));
    assert_int_equal(ptr, 1001);
    assert_memory_equal(mem(&e, NULL) + 1001, "hello", 5);
    assert_int_equal(gget(&e, "a3"), 5);
    EXPECT_OK(&e, rt_abi_put(&e.g, "\x01\x02\x03\x04\x05\x06\x07\x08", 8, 8, &ptr));
    assert_int_equal(ptr, 1008);
    assert_int_equal(gget(&e, "a2"), 8);
    assert_memory_equal(mem(&e, NULL) + 1008, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
    /* empty: still allocated, with size 0 */
    calls = gget(&e, "calls");
    EXPECT_OK(&e, rt_abi_put(&e.g, "", 0, 1, &ptr));
    assert_int_equal(gget(&e, "calls"), calls + 1);
    assert_int_equal(gget(&e, "a3"), 0);
    /* more than a wasm32 memory can hold: refused before any allocation
     * (the data is never read) */
    EXPECT_FAIL(&e, TH_ETOOBIG, rt_abi_put(&e.g, "x", (size_t)UINT32_MAX + 1, 1, &ptr), "bytes");
    assert_int_equal(gget(&e, "calls"), calls + 1);
    /* the whole of the 32-bit range: allocated, then out of bounds */
    EXPECT_TRAP(&e, rt_abi_alloc(&e.g, 1, UINT32_MAX, &ptr), "out-of-bounds");
    env_close(&e);
}

/* ------------------------------------------------------------------ */
/* Lifting                                                            */

static void test_bytes(void **unused)
{
    env e;
    uint8_t *p = NULL, *m;

    (void)unused;
    env_open(&e, actor_wat);
    m = mem(&e, NULL);
    memcpy(m + 100, "a\0b\xff", 4);
    EXPECT_OK(&e, rt_abi_bytes(&e.g, 100, 4, &p));
    assert_memory_equal(p, "a\0b\xff", 4);
    assert_int_equal(p[4], 0); /* NUL-terminated copy */
    assert_ptr_not_equal(p, m + 100);
    free(p);
    memcpy(m + PAGE - 3, "xyz", 3);
    EXPECT_OK(&e, rt_abi_bytes(&e.g, PAGE - 3, 3, &p));
    assert_string_equal((char *)p, "xyz");
    free(p);
    EXPECT_OK(&e, rt_abi_bytes(&e.g, PAGE, 0, &p));
    assert_int_equal(p[0], 0);
    free(p);
    p = NULL;
    EXPECT_TRAP(&e, rt_abi_bytes(&e.g, PAGE - 3, 4, &p), "out-of-bounds");
    EXPECT_TRAP(&e, rt_abi_bytes(&e.g, 0xfffffff0u, 0x20, &p), "out-of-bounds");
    EXPECT_TRAP(&e, rt_abi_bytes(&e.g, 1, UINT32_MAX, &p), "out-of-bounds");
    assert_null(p);
    env_close(&e);
}

typedef struct utf8_case {
    const char *s;
    uint32_t len;
} utf8_case;

static void test_string(void **unused)
{
    static const utf8_case good[] = {
        {"", 0},
        {"plain", 5},
        {"a\0b", 3}, /* NUL is a character */
        {"\x7f", 1},
        {"caf\xc3\xa9", 5},      /* U+00E9 */
        {"\xc2\x80", 2},         /* U+0080, smallest 2-byte */
        {"\xdf\xbf", 2},         /* U+07FF */
        {"\xe0\xa0\x80", 3},     /* U+0800, smallest 3-byte */
        {"\xe2\x82\xac", 3},     /* euro sign */
        {"\xed\x9f\xbf", 3},     /* U+D7FF, below the surrogates */
        {"\xee\x80\x80", 3},     /* U+E000, above them */
        {"\xef\xbf\xbf", 3},     /* U+FFFF */
        {"\xf0\x90\x80\x80", 4}, /* U+10000, smallest 4-byte */
        {"\xf0\x9d\x84\x9e", 4}, /* U+1D11E */
        {"\xf4\x8f\xbf\xbf", 4}, /* U+10FFFF, the last */
        {"h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80!", 15},
    };
    static const utf8_case bad[] = {
        {"\x80", 1}, /* lone continuation */
        {"ok\xbf", 3},
        {"\xc0\xaf", 2},                 /* overlong '/' */
        {"\xc1\xbf", 2},                 /* overlong U+007F */
        {"\xe0\x80\xaf", 3},             /* overlong, 3 bytes */
        {"\xe0\x9f\xbf", 3},             /* overlong U+07FF */
        {"\xf0\x80\x80\xaf", 4},         /* overlong, 4 bytes */
        {"\xf0\x8f\xbf\xbf", 4},         /* overlong U+FFFF */
        {"\xed\xa0\x80", 3},             /* U+D800, high surrogate */
        {"\xed\xaf\xbf", 3},             /* U+DBFF */
        {"\xed\xb0\x80", 3},             /* U+DC00, low surrogate */
        {"\xed\xbf\xbf", 3},             /* U+DFFF */
        {"\xed\xa0\xbd\xed\xb8\x80", 6}, /* CESU-8 surrogate pair */
        {"\xf4\x90\x80\x80", 4},         /* U+110000 */
        {"\xf5\x80\x80\x80", 4},
        {"\xf8\x88\x80\x80\x80", 5}, /* 5-byte form */
        {"\xfe", 1},
        {"\xff", 1},
        {"\xc3", 1},         /* truncated 2-byte */
        {"\xe2\x82", 2},     /* truncated 3-byte */
        {"\xf0\x9f\x98", 3}, /* truncated 4-byte */
        {"ab\xe2", 3},
        {"\xe2\x28\xa1", 3}, /* bad continuation */
        {"\xc3\x28", 2},
        {"\xf0\x9f\x28\x80", 4},
    };
    env e;
    uint8_t *m;
    char *s;
    size_t n, i;
    uint32_t at;

    (void)unused;
    env_open(&e, actor_wat);
    m = mem(&e, NULL);
    for (i = 0; i < sizeof good / sizeof good[0]; i++) {
        at = 200 + (uint32_t)i;
        memcpy(m + at, good[i].s, good[i].len);
        s = NULL;
        n = 99;
        EXPECT_OK(&e, rt_abi_string(&e.g, at, good[i].len, &s, &n));
        assert_int_equal(n, good[i].len);
        assert_memory_equal(s, good[i].s, good[i].len);
        assert_int_equal(s[good[i].len], 0);
        free(s);
    }
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        at = 300 + (uint32_t)i * 3;
        memcpy(m + at, bad[i].s, bad[i].len);
        s = NULL;
        n = 99;
        EXPECT_TRAP(&e, rt_abi_string(&e.g, at, bad[i].len, &s, &n), "invalid UTF-8");
        assert_null(s);
        assert_int_equal(n, 99);
    }
    /* A sequence cut by the length: the bytes after it in memory must not
     * complete it. */
    memcpy(m + 500, "x\xe2\x82\xac", 4);
    EXPECT_OK(&e, rt_abi_string(&e.g, 500, 4, &s, NULL));
    free(s);
    EXPECT_TRAP(&e, rt_abi_string(&e.g, 500, 3, &s, NULL), "invalid UTF-8");
    EXPECT_TRAP(&e, rt_abi_string(&e.g, 500, 2, &s, NULL), "invalid UTF-8");
    /* ... nor the end of memory */
    memcpy(m + PAGE - 2, "\xf0\x9f", 2);
    EXPECT_TRAP(&e, rt_abi_string(&e.g, PAGE - 2, 2, &s, NULL), "invalid UTF-8");
    memcpy(m + PAGE - 2, "\xc3\xa9", 2);
    EXPECT_OK(&e, rt_abi_string(&e.g, PAGE - 2, 2, &s, &n));
    assert_string_equal(s, "\xc3\xa9");
    free(s);
    /* out of bounds before any decoding */
    EXPECT_TRAP(&e, rt_abi_string(&e.g, PAGE - 2, 3, &s, NULL), "out-of-bounds");
    EXPECT_TRAP(&e, rt_abi_string(&e.g, UINT32_MAX, 2, &s, NULL), "out-of-bounds");
    env_close(&e);
}

static void test_opt_bytes(void **unused)
{
    env e;
    uint8_t *m, *out;
    bool has;
    size_t n;

    (void)unused;
    env_open(&e, actor_wat);
    m = mem(&e, NULL);
    memcpy(m + 900, "state!", 6);

    /* none: nothing else is read */
    memset(m + 100, 0xee, 12);
    m[100] = 0;
    has = true, out = (uint8_t *)"x", n = 7;
    EXPECT_OK(&e, rt_abi_opt_bytes(&e.g, 100, &has, &out, &n));
    assert_false(has);
    assert_null(out);
    assert_int_equal(n, 0);

    /* some: disc @0, ptr @4, len @8 */
    m[100] = 1;
    wr32(&e, 104, 900);
    wr32(&e, 108, 6);
    EXPECT_OK(&e, rt_abi_opt_bytes(&e.g, 100, &has, &out, &n));
    assert_true(has);
    assert_int_equal(n, 6);
    assert_memory_equal(out, "state!", 6);
    assert_int_equal(out[6], 0);
    free(out);
    wr32(&e, 108, 0); /* some(empty) */
    EXPECT_OK(&e, rt_abi_opt_bytes(&e.g, 100, &has, &out, &n));
    assert_true(has);
    assert_int_equal(n, 0);
    assert_non_null(out);
    free(out);

    /* discriminants other than 0 and 1 */
    m[100] = 2;
    EXPECT_TRAP(&e, rt_abi_opt_bytes(&e.g, 100, &has, &out, &n), "invalid option discriminant 2");
    assert_false(has);
    assert_null(out);
    m[100] = 255;
    EXPECT_TRAP(&e, rt_abi_opt_bytes(&e.g, 100, &has, &out, &n), "invalid option discriminant 255");
    /* some with an out-of-bounds list */
    m[100] = 1;
    wr32(&e, 104, PAGE - 2);
    wr32(&e, 108, 3);
    EXPECT_TRAP(&e, rt_abi_opt_bytes(&e.g, 100, &has, &out, &n), "out-of-bounds");
    assert_false(has);
    assert_null(out);
    assert_int_equal(n, 0);
    wr32(&e, 104, 0xfffffff0u);
    wr32(&e, 108, 0x20);
    EXPECT_TRAP(&e, rt_abi_opt_bytes(&e.g, 100, &has, &out, &n), "out-of-bounds");

    /* the option (12 bytes) at the very end of memory, then one past it */
    m[PAGE - 12] = 1;
    wr32(&e, PAGE - 8, 900);
    wr32(&e, PAGE - 4, 6);
    EXPECT_OK(&e, rt_abi_opt_bytes(&e.g, PAGE - 12, &has, &out, &n));
    assert_true(has);
    assert_int_equal(n, 6);
    free(out);
    m[PAGE - 11] = 0;
    EXPECT_TRAP(&e, rt_abi_opt_bytes(&e.g, PAGE - 11, &has, &out, &n), "out-of-bounds");
    EXPECT_TRAP(&e, rt_abi_opt_bytes(&e.g, PAGE, &has, &out, &n), "out-of-bounds");
    EXPECT_TRAP(&e, rt_abi_opt_bytes(&e.g, UINT32_MAX, &has, &out, &n), "out-of-bounds");
    assert_false(has);
    assert_null(out);
    env_close(&e);
}

/* ------------------------------------------------------------------ */
/* Lowering: lists, results, list<string>                             */

static void test_store_list(void **unused)
{
    env e;
    uint8_t *m;
    uint32_t ptr;
    int calls;

    (void)unused;
    env_open(&e, actor_wat);
    m = mem(&e, NULL);
    gset(&e, "heap", 1001);
    EXPECT_OK(&e, rt_abi_store_list(&e.g, 64, "abcdef", 6));
    assert_int_equal(rd32(&e, 64), 1001); /* ptr @0 */
    assert_int_equal(rd32(&e, 68), 6);    /* len @4 */
    assert_memory_equal(m + 1001, "abcdef", 6);
    assert_int_equal(gget(&e, "a2"), 1); /* list<u8>: align 1 */
    assert_int_equal(gget(&e, "a3"), 6);
    EXPECT_OK(&e, rt_abi_store_list(&e.g, 72, "", 0));
    assert_int_equal(rd32(&e, 76), 0);
    /* the last 8 bytes of memory */
    EXPECT_OK(&e, rt_abi_store_list(&e.g, PAGE - 8, "xy", 2));
    ptr = rd32(&e, PAGE - 8);
    assert_int_equal(rd32(&e, PAGE - 4), 2);
    assert_memory_equal(m + ptr, "xy", 2);
    /* a destination that does not fit: no allocation at all */
    calls = gget(&e, "calls");
    EXPECT_TRAP(&e, rt_abi_store_list(&e.g, PAGE - 7, "xy", 2), "out-of-bounds");
    EXPECT_TRAP(&e, rt_abi_store_list(&e.g, UINT32_MAX - 3, "xy", 2), "out-of-bounds");
    assert_int_equal(gget(&e, "calls"), calls);
    env_close(&e);
}

/* result<_, string> / result<list<u8>|string, string> (12, 4: payload @4)
 * and result<u64|f64, string> (16, 8: payload @8), byte by byte. */
static void test_results(void **unused)
{
    env e;
    uint8_t *m, sentinel[16];
    uint32_t p;
    int calls;

    (void)unused;
    env_open(&e, actor_wat);
    m = mem(&e, NULL);
    memset(sentinel, 0xaa, sizeof sentinel);

    /* ok of result<_, string>: the discriminant only, no allocation */
    memset(m + 96, 0xaa, 16);
    calls = gget(&e, "calls");
    EXPECT_OK(&e, rt_abi_result_unit(&e.g, 96, NULL));
    assert_int_equal(m[96], 0);
    assert_memory_equal(m + 97, sentinel, 15);
    assert_int_equal(gget(&e, "calls"), calls);

    /* err("boom") */
    memset(m + 96, 0xaa, 16);
    gset(&e, "heap", 2001);
    EXPECT_OK(&e, rt_abi_result_unit(&e.g, 96, "boom"));
    assert_int_equal(m[96], 1);
    assert_memory_equal(m + 97, sentinel, 3); /* padding */
    assert_int_equal(rd32(&e, 100), 2001);
    assert_int_equal(rd32(&e, 104), 4);
    assert_memory_equal(m + 2001, "boom", 4);
    assert_int_equal(gget(&e, "calls"), calls + 1);
    assert_int_equal(gget(&e, "a2"), 1); /* string: align 1 */
    assert_int_equal(gget(&e, "a3"), 4);
    assert_memory_equal(m + 108, sentinel, 4); /* past the 12 bytes */

    /* result<u64, string>: err string at @8 */
    memset(m + 112, 0xaa, 20);
    gset(&e, "heap", 2101);
    EXPECT_OK(&e, rt_abi_result_err8(&e.g, 112, "bad"));
    assert_int_equal(m[112], 1);
    assert_memory_equal(m + 113, sentinel, 7); /* padding up to the payload */
    assert_int_equal(rd32(&e, 120), 2101);
    assert_int_equal(rd32(&e, 124), 3);
    assert_memory_equal(m + 2101, "bad", 3);
    assert_memory_equal(m + 128, sentinel, 4);

    /* result<list<u8>, string>: ok(list) and err(string), both @4 */
    memset(m + 136, 0xaa, 16);
    gset(&e, "heap", 2201);
    EXPECT_OK(&e, rt_abi_result_bytes(&e.g, 136, "\x00\x01\x02", 3, NULL));
    assert_int_equal(m[136], 0);
    assert_memory_equal(m + 137, sentinel, 3);
    assert_int_equal(rd32(&e, 140), 2201);
    assert_int_equal(rd32(&e, 144), 3);
    assert_memory_equal(m + 2201, "\x00\x01\x02", 3);
    assert_memory_equal(m + 148, sentinel, 4);
    memset(m + 136, 0xaa, 16);
    EXPECT_OK(&e, rt_abi_result_bytes(&e.g, 136, "ignored", 7, "no such thing"));
    assert_int_equal(m[136], 1);
    p = rd32(&e, 140);
    assert_int_equal(rd32(&e, 144), 13);
    assert_memory_equal(m + p, "no such thing", 13);
    /* ok with an empty list */
    EXPECT_OK(&e, rt_abi_result_bytes(&e.g, 136, NULL, 0, NULL));
    assert_int_equal(m[136], 0);
    assert_int_equal(rd32(&e, 144), 0);

    /* at the end of memory: the whole result must fit, ok or err */
    EXPECT_OK(&e, rt_abi_result_unit(&e.g, PAGE - 12, "e"));
    assert_int_equal(m[PAGE - 12], 1);
    assert_int_equal(rd32(&e, PAGE - 4), 1);
    EXPECT_OK(&e, rt_abi_result_unit(&e.g, PAGE - 12, NULL));
    EXPECT_OK(&e, rt_abi_result_bytes(&e.g, PAGE - 12, "d", 1, NULL));
    EXPECT_OK(&e, rt_abi_result_err8(&e.g, PAGE - 16, "e"));
    assert_int_equal(rd32(&e, PAGE - 4), 1);
    memset(m + PAGE - 16, 0xaa, 16);
    calls = gget(&e, "calls");
    EXPECT_TRAP(&e, rt_abi_result_unit(&e.g, PAGE - 8, NULL), "out-of-bounds");
    EXPECT_TRAP(&e, rt_abi_result_unit(&e.g, PAGE - 8, "e"), "out-of-bounds");
    EXPECT_TRAP(&e, rt_abi_result_bytes(&e.g, PAGE - 8, "d", 1, NULL), "out-of-bounds");
    EXPECT_TRAP(&e, rt_abi_result_bytes(&e.g, PAGE - 8, "d", 1, "e"), "out-of-bounds");
    EXPECT_TRAP(&e, rt_abi_result_err8(&e.g, PAGE - 12, "e"), "out-of-bounds");
    EXPECT_TRAP(&e, rt_abi_result_unit(&e.g, PAGE, NULL), "out-of-bounds");
    EXPECT_TRAP(&e, rt_abi_result_unit(&e.g, UINT32_MAX, "e"), "out-of-bounds");
    EXPECT_TRAP(&e, rt_abi_result_err8(&e.g, UINT32_MAX - 7, "e"), "out-of-bounds");
    assert_memory_equal(m + PAGE - 16, sentinel, 16); /* nothing written */
    assert_int_equal(gget(&e, "calls"), calls);       /* nothing allocated */

    /* an allocator that fails: a trap, not a partial success */
    gset(&e, "mode", 1);
    EXPECT_TRAP(&e, rt_abi_result_unit(&e.g, 96, "e"), "unreachable");
    EXPECT_TRAP(&e, rt_abi_result_bytes(&e.g, 96, "d", 1, NULL), "unreachable");
    EXPECT_TRAP(&e, rt_abi_result_err8(&e.g, 112, "e"), "unreachable");
    EXPECT_OK(&e, rt_abi_result_unit(&e.g, 96, NULL)); /* needs no allocator */
    env_close(&e);
}

/* list<string> (ptr, len) -> array of {ptr, len} (align 4) -> bytes. */
static void test_store_strings(void **unused)
{
    static const char *const v[] = {"", "a", "h\xc3\xa9llo", "\xf0\x9d\x84\x9ex", "with space"};
    env e;
    uint8_t *m;
    uint32_t arr, i, p;
    int calls;

    (void)unused;
    env_open(&e, actor_wat);
    m = mem(&e, NULL);
    gset(&e, "heap", 1001);
    calls = gget(&e, "calls");
    EXPECT_OK(&e, rt_abi_store_strings(&e.g, 64, (char *const *)v, 5));
    arr = rd32(&e, 64);
    assert_int_equal(rd32(&e, 68), 5);
    assert_int_equal(arr, 1004); /* aligned up from 1001 */
    assert_int_equal(gget(&e, "calls"), calls + 6);
    for (i = 0; i < 5; i++) {
        p = rd32(&e, arr + 8 * i);
        assert_int_equal(rd32(&e, arr + 8 * i + 4), strlen(v[i]));
        assert_true(p >= arr + 40); /* not inside the array */
        assert_memory_equal(m + p, v[i], strlen(v[i]));
    }
    /* the strings were allocated after the array, with align 1, in order */
    assert_int_equal(rd32(&e, arr + 8), arr + 40);
    assert_int_equal(rd32(&e, arr + 16), arr + 41);
    assert_int_equal(rd32(&e, arr + 24), arr + 47);
    assert_int_equal(gget(&e, "a2"), 1);
    assert_int_equal(gget(&e, "a3"), strlen(v[4]));

    /* the array allocation itself: cabi_realloc(0, 0, 4, 8 * n) */
    EXPECT_OK(&e, rt_abi_store_strings(&e.g, 72, (char *const *)v, 1));
    assert_int_equal(rd32(&e, 76), 1);
    assert_int_equal(rd32(&e, rd32(&e, 72) + 4), 0);
    assert_int_equal(gget(&e, "a2"), 1); /* last call: the empty string */
    EXPECT_OK(&e, rt_abi_store_strings(&e.g, 80, (char *const *)v, 0));
    assert_int_equal(rd32(&e, 84), 0);
    assert_int_equal(gget(&e, "a2"), 4);
    assert_int_equal(gget(&e, "a3"), 0);
    assert_int_equal(rd32(&e, 80) % 4, 0);

    /* the destination must fit before anything is allocated */
    calls = gget(&e, "calls");
    EXPECT_TRAP(&e, rt_abi_store_strings(&e.g, PAGE - 7, (char *const *)v, 5), "out-of-bounds");
    assert_int_equal(gget(&e, "calls"), calls);
    EXPECT_OK(&e, rt_abi_store_strings(&e.g, PAGE - 8, (char *const *)v, 2));
    assert_int_equal(rd32(&e, PAGE - 4), 2);
    /* too many strings for a wasm32 array (the vector is never read) */
    calls = gget(&e, "calls");
    EXPECT_FAIL(&e, TH_ETOOBIG,
                rt_abi_store_strings(&e.g, 64, (char *const *)v, UINT32_MAX / 8 + 1), "too long");
    assert_int_equal(gget(&e, "calls"), calls);
    /* an array that is not 4-aligned */
    gset(&e, "mode", 3);
    EXPECT_TRAP(&e, rt_abi_store_strings(&e.g, 64, (char *const *)v, 2), "misaligned");
    env_close(&e);
}

/* ------------------------------------------------------------------ */
/* A 4 GiB memory: addresses near 2^32 must not wrap around to 0        */

static void test_4gib_memory(void **unused)
{
    env e;
    uint8_t *m, *p, zero[16], b;
    uint32_t w, top = UINT32_MAX; /* the last byte */
    uint64_t size;
    bool has;
    size_t n;

    (void)unused;
    if (!env_open_user(&e, bigmem_wat, NULL, true)) {
        env_close(&e);
        th_skip("the system would not map 4 GiB");
    }
    m = mem(&e, &size);
    assert_int_equal(size, (uint64_t)1 << 32);
    memset(zero, 0, sizeof zero);

    EXPECT_OK(&e, rt_abi_span(&e.g, top, 1, &p));
    assert_ptr_equal(p, m + top);
    EXPECT_OK(&e, rt_abi_span(&e.g, 0, (uint64_t)1 << 32, &p));
    EXPECT_OK(&e, rt_abi_span(&e.g, top, 1, &p));
    EXPECT_TRAP(&e, rt_abi_span(&e.g, top, 2, &p), "out-of-bounds");
    EXPECT_TRAP(&e, rt_abi_span(&e.g, 0, ((uint64_t)1 << 32) + 1, &p), "out-of-bounds");
    EXPECT_OK(&e, rt_abi_store_u8(&e.g, top, 0x42));
    EXPECT_OK(&e, rt_abi_load_u8(&e.g, top, &b));
    assert_int_equal(b, 0x42);
    EXPECT_OK(&e, rt_abi_store_u32(&e.g, top - 3, 0x11223344));
    EXPECT_OK(&e, rt_abi_load_u32(&e.g, top - 3, &w));
    assert_int_equal(w, 0x11223344);
    EXPECT_TRAP(&e, rt_abi_load_u32(&e.g, top - 2, &w), "out-of-bounds");
    EXPECT_TRAP(&e, rt_abi_store_u32(&e.g, top - 2, 1), "out-of-bounds");
    EXPECT_OK(&e, rt_abi_store_u64(&e.g, top - 7, 0x0102030405060708ull));
    assert_int_equal(m[top - 7], 0x08);
    assert_int_equal(m[top], 0x01);

    /* Writes that would continue past 2^32 must not land at address 0. */
    EXPECT_TRAP(&e, rt_abi_store_u64(&e.g, top - 3, 0x0102030405060708ull), "out-of-bounds");
    EXPECT_TRAP(&e, rt_abi_result_unit(&e.g, top - 3, "e"), "out-of-bounds");
    EXPECT_TRAP(&e, rt_abi_result_unit(&e.g, top, "e"), "out-of-bounds");
    EXPECT_TRAP(&e, rt_abi_result_bytes(&e.g, top - 3, "d", 1, NULL), "out-of-bounds");
    EXPECT_TRAP(&e, rt_abi_result_err8(&e.g, top - 7, "e"), "out-of-bounds");
    assert_memory_equal(m, zero, sizeof zero);
    /* ... nor reads: an option whose ptr/len would come from address 0 */
    m[0] = 0x10; /* "ptr" 16 */
    m[4] = 0x04; /* "len" 4 */
    m[top - 3] = 1;
    has = false, p = NULL, n = 0;
    EXPECT_TRAP(&e, rt_abi_opt_bytes(&e.g, top - 3, &has, &p, &n), "out-of-bounds");
    assert_false(has);
    assert_null(p);
    m[0] = m[4] = 0;

    /* the results and lists that do fit at the top */
    EXPECT_OK(&e, rt_abi_result_unit(&e.g, top - 11, "e"));
    assert_int_equal(m[top - 11], 1);
    assert_int_equal(rd32(&e, top - 3), 1);
    EXPECT_OK(&e, rt_abi_result_err8(&e.g, top - 15, "ee"));
    assert_int_equal(rd32(&e, top - 3), 2);
    EXPECT_OK(&e, rt_abi_store_list(&e.g, top - 7, "abc", 3));
    assert_int_equal(rd32(&e, top - 3), 3);
    assert_memory_equal(m, zero, sizeof zero);
    env_close(&e);
}

/* ------------------------------------------------------------------ */
/* Host-function helpers                                              */

static char logged[256];

static void log_capture(void *ud, const char *id, const char *name, const char *msg, size_t len)
{
    (void)ud, (void)id, (void)name;
    snprintf(logged, sizeof logged, "%.*s", (int)len, msg);
}

/* A stand-in actor (zeroed but for what is set in test_host_helpers):
 * rt_host_begin finds it as the instance's user data, and with no recorder
 * rt_host_done's host-call record goes to the runtime's log. */
static struct th_runtime fake_rt;
static rt_actor fake_actor;

static int scenario_host_ok(env *e, th_wasm_call *call)
{
    rt_host h;
    char *s = NULL;
    const uint8_t *p = NULL;
    uint64_t size;
    uint8_t *base = th_wasm_call_memory(call, &size);

    memset(&h, 0x5a, sizeof h);
    rt_host_begin(&h, call);
    assert_ptr_equal(h.call, call);
    assert_ptr_equal(h.a, &fake_actor);
    assert_ptr_equal(h.g.inst, e->inst);
    assert_ptr_equal(h.g.call, call);
    assert_null(h.g.exec);
    assert_ptr_equal(h.g.realloc, fake_actor.fn_realloc);
    assert_ptr_equal(h.g.err, &h.err);
    assert_int_equal(h.err.code, TH_OK);
    assert_string_equal(h.err.msg, "");

    memcpy(base + 300, "na\xc3\xafve", 6);
    assert_int_equal(rt_host_str(&h, 300, 6, &s), 0);
    assert_string_equal(s, "na\xc3\xafve");
    assert_int_equal(rt_host_bytes(&h, 300, 6, &p), 0);
    assert_ptr_equal(p, base + 300); /* a view, not a copy */
    assert_int_equal(rt_host_bytes(&h, (uint32_t)size, 0, &p), 0);
    assert_int_equal(rt_host_bytes(&h, (uint32_t)size, 1, &p), TH_ETRAP);
    assert_null(p);
    assert_non_null(strstr(h.err.msg, "out-of-bounds"));

    /* the actor's allocator through the host view */
    gset(e, "heap", 4001);
    assert_int_equal(rt_abi_result_bytes(&h.g, 64, "xyz", 3, NULL), 0);
    assert_int_equal(rd32(e, 68), 4001);
    assert_memory_equal(th_wasm_call_memory(call, &size) + 4001, "xyz", 3);

    /* done: records the host call (here: logged, there is no recorder) and
     * takes the input */
    logged[0] = 0;
    assert_int_equal(rt_host_done(&h, "theater:simple/runtime", "log", s, "{\"ok\":null}"), TH_OK);
    assert_non_null(strstr(logged, "host-call"));
    e->ran++;
    return TH_OK;
}

static int scenario_host_bad_string(env *e, th_wasm_call *call)
{
    rt_host h;
    char *s = NULL;

    rt_host_begin(&h, call);
    memcpy(th_wasm_call_memory(call, &(uint64_t){0}) + 300, "\xed\xa0\x80", 3);
    if (rt_host_str(&h, 300, 3, &s) != 0) {
        assert_null(s);
        e->ran++;
        return rt_host_trap(&h);
    }
    free(s);
    return TH_OK;
}

static int scenario_host_trap_empty(env *e, th_wasm_call *call)
{
    rt_host h;

    rt_host_begin(&h, call);
    e->ran++;
    return rt_host_trap(&h);
}

static void test_host_helpers(void **unused)
{
    env e;

    (void)unused;
    memset(&fake_rt, 0, sizeof fake_rt);
    memset(&fake_actor, 0, sizeof fake_actor);
    fake_rt.log_fn = log_capture;
    fake_actor.rt = &fake_rt;
    strcpy(fake_actor.id, "00000000-0000-4000-8000-000000000000");
    env_open_user(&e, actor_wat, &fake_actor, false);
    fake_actor.fn_realloc = th_wasm_instance_func(e.inst, "cabi_realloc");
    fake_actor.inst = e.inst;

    assert_int_equal(in_call(&e, scenario_host_ok), TH_OK);
    assert_int_equal(e.ran, 1);

    assert_int_equal(in_call(&e, scenario_host_bad_string), TH_WASM_TRAPPED);
    assert_int_equal(e.ran, 1);
    assert_int_equal(th_wasm_exec_trap_kind(e.ex), TH_WASM_TRAP_HOST);
    assert_non_null(strstr(th_wasm_exec_trap_message(e.ex), "invalid UTF-8"));

    assert_int_equal(in_call(&e, scenario_host_trap_empty), TH_WASM_TRAPPED);
    assert_int_equal(e.ran, 1);
    assert_string_equal(th_wasm_exec_trap_message(e.ex), "host call failed");
    assert_false(th_wasm_exec_is_suspended(e.ex));
    env_close(&e);
}

/* rt_utf8_repair: well-formed text is kept, each other byte becomes '?'
 * (a lone continuation byte, a cut sequence, an overlong form, a
 * surrogate), the length never changes. */
static void test_utf8_repair(void **unused)
{
    char ok[] = "plain, caf\xc3\xa9, \xe2\x82\xac, \xf0\x9f\x98\x80";
    char bad[] = "a\xff"
                 "b\x80"
                 "c\xe2\x82"
                 "d\xc0\xaf"
                 "e\xed\xa0\x80"
                 "f";

    (void)unused;
    rt_utf8_repair(ok);
    assert_string_equal(ok, "plain, caf\xc3\xa9, \xe2\x82\xac, \xf0\x9f\x98\x80");
    rt_utf8_repair(bad);
    assert_string_equal(bad, "a?b?c??d??e???f");
}

static void test_json_obj1(void **unused)
{
    char *s;

    (void)unused;
    s = rt_json_obj1("value", NULL, 0, false);
    assert_string_equal(s, "{\"value\":null}");
    free(s);
    s = rt_json_obj1("name", "HOME", 4, false);
    assert_string_equal(s, "{\"name\":\"HOME\"}");
    free(s);
    s = rt_json_obj1("msg", "a\"b\\c\nd", 7, false);
    assert_string_equal(s, "{\"msg\":\"a\\\"b\\\\c\\nd\"}");
    free(s);
    s = rt_json_obj1("msg", "ab\0cd", 3, false); /* n, not strlen */
    assert_string_equal(s, "{\"msg\":\"ab\\u0000\"}");
    free(s);
    s = rt_json_obj1("ok", "\x00\x7f\xff", 3, true);
    assert_string_equal(s, "{\"ok\":\"007fff\"}");
    free(s);
    s = rt_json_obj1("ok", "", 0, true);
    assert_string_equal(s, "{\"ok\":\"\"}");
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spans),
        cmocka_unit_test(test_load_store),
        cmocka_unit_test(test_no_memory),
        cmocka_unit_test(test_alloc),
        cmocka_unit_test(test_alloc_fuel),
        cmocka_unit_test(test_alloc_suspend),
        cmocka_unit_test(test_alloc_busy_exec),
        cmocka_unit_test(test_alloc_grows_memory),
        cmocka_unit_test(test_put),
        cmocka_unit_test(test_bytes),
        cmocka_unit_test(test_string),
        cmocka_unit_test(test_opt_bytes),
        cmocka_unit_test(test_store_list),
        cmocka_unit_test(test_results),
        cmocka_unit_test(test_store_strings),
        cmocka_unit_test(test_4gib_memory),
        cmocka_unit_test(test_host_helpers),
        cmocka_unit_test(test_json_obj1),
        cmocka_unit_test(test_utf8_repair),
    };
    return th_test_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
