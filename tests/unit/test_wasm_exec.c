/*
 * test_wasm_exec.c - execution contexts (exec.c) and the interpreter
 * (interp.c) through the public API: fuel exhaustion and resumption, abort,
 * suspension in a host function, host traps with their backtrace, call
 * stack exhaustion, nested calls from host functions, the memory limit,
 * stack growth, and traps of the interpreter.
 *
 * Modules are written in the text format and converted with wat2wasm at
 * test time (wabt); without it the tests are skipped.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "wat_util.h"

#include "theater/wasm.h"

/* ------------------------------------------------------------------ */
/* Helpers                                                            */

typedef struct fixture {
    th_wasm_module *mod;
    th_wasm_imports *imp;
    th_wasm_instance *inst;
    th_wasm_exec *ex;
} fixture;

/* Compile and instantiate `wat` with imports `imp` (taken over; may be
 * NULL).  Skips the test when wat2wasm is unavailable. */
static void setup_module(fixture *fx, const char *wat, th_wasm_imports *imp,
                         const th_wasm_instance_config *cfg, const th_wasm_exec_config *ecfg)
{
    size_t len = 0;
    uint8_t *bin = wat_to_wasm(wat, &len);
    th_error err = {0};

    memset(fx, 0, sizeof *fx);
    fx->imp = imp ? imp : th_wasm_imports_new();
    if (bin == NULL) {
        th_wasm_imports_free(fx->imp);
        wat_missing();
    }
    if (th_wasm_module_new(bin, len, &fx->mod, &err) != TH_OK)
        fail_msg("module: %s", err.msg);
    free(bin);
    if (th_wasm_instance_new(fx->mod, fx->imp, cfg, &fx->inst, &err) != TH_OK)
        fail_msg("instance: %s", err.msg);
    fx->ex = th_wasm_exec_new(ecfg);
    assert_non_null(fx->ex);
}

static void teardown_module(fixture *fx)
{
    th_wasm_exec_free(fx->ex);
    th_wasm_instance_free(fx->inst);
    th_wasm_module_free(fx->mod);
    th_wasm_imports_free(fx->imp);
}

static th_wasm_func *func(fixture *fx, const char *name)
{
    th_wasm_func *f = th_wasm_instance_func(fx->inst, name);
    assert_non_null(f);
    return f;
}

/* ------------------------------------------------------------------ */
/* Fuel                                                               */

static const char *loop_wat = "(module\n"
                              "  (func $count (export \"count\") (param $n i32) (result i32)\n"
                              "    (local $i i32) (local $sum i32)\n"
                              "    (block $done\n"
                              "      (loop $top\n"
                              "        (br_if $done (i32.ge_s (local.get $i) (local.get $n)))\n"
                              "        (local.set $sum (i32.add (local.get $sum) (local.get $i)))\n"
                              "        (local.set $i (i32.add (local.get $i) (i32.const 1)))\n"
                              "        (br $top)))\n"
                              "    (local.get $sum))\n"
                              "  (func (export \"spin\") (loop $l (br $l))))\n";

static void test_fuel_exhaustion_and_resume(void **state)
{
    fixture fx;
    th_wasm_val arg = {.i32 = 1000}, res = {0};
    int rc, rounds = 0;

    (void)state;
    setup_module(&fx, loop_wat, NULL, NULL, NULL);

    /* Unlimited by default. */
    assert_int_equal(th_wasm_exec_fuel(fx.ex), UINT64_MAX);
    assert_int_equal(th_wasm_exec_call(fx.ex, func(&fx, "count"), &arg, 1, &res, 1), TH_OK);
    assert_int_equal(res.i32, 499500);

    /* 1000 iterations need ~1000 fuel units: 100 at a time. */
    th_wasm_exec_set_fuel(fx.ex, 100);
    res.i32 = 0;
    rc = th_wasm_exec_call(fx.ex, func(&fx, "count"), &arg, 1, &res, 1);
    while (rc == TH_WASM_OUT_OF_FUEL) {
        assert_true(th_wasm_exec_is_suspended(fx.ex));
        assert_int_equal(th_wasm_exec_fuel(fx.ex), 0);
        /* a second call while one is kept is refused */
        assert_int_equal(th_wasm_exec_call(fx.ex, func(&fx, "count"), &arg, 1, &res, 1), TH_EBUSY);
        th_wasm_exec_set_fuel(fx.ex, 100);
        rc = th_wasm_exec_resume(fx.ex, NULL, &res, 1);
        rounds++;
        assert_true(rounds < 100);
    }
    assert_int_equal(rc, TH_OK);
    assert_false(th_wasm_exec_is_suspended(fx.ex));
    assert_int_equal(res.i32, 499500);
    assert_true(rounds >= 9 && rounds <= 11);

    /* Resuming an idle exec is a state error. */
    assert_int_equal(th_wasm_exec_resume(fx.ex, NULL, &res, 1), TH_ESTATE);
    teardown_module(&fx);
}

/* Back-edge branches and br_table reading a value the instruction before
 * them produced (the interpreter's accumulator) are where an execution
 * out of fuel resumes: one fuel unit at a time gives the same results. */
static const char *acc_loop_wat =
    "(module\n"
    "  (func (export \"nz\") (param $n i32) (result i32) (local $i i32) (local $s i32)\n"
    "    (loop $top\n"
    "      (local.set $s (i32.add (local.get $s) (i32.mul (local.get $i) (i32.const 3))))\n"
    "      (local.set $i (i32.add (local.get $i) (i32.const 1)))\n"
    "      (br_if $top (i32.xor (local.get $i) (local.get $n))))\n"
    "    (local.get $s))\n"
    "  (func (export \"cmp\") (param $n i32) (result i32) (local $i i32) (local $s i32)\n"
    "    (loop $top\n"
    "      (local.set $s (i32.xor (local.get $s) (i32.shl (local.get $i) (i32.const 5))))\n"
    "      (local.set $i (i32.add (local.get $i) (i32.const 1)))\n"
    "      (br_if $top (i32.lt_u (i32.mul (local.get $i) (i32.const 2)) (local.get $n))))\n"
    "    (local.get $s))\n"
    "  (func (export \"table\") (param $n i32) (result i32) (local $i i32) (local $s i32)\n"
    "    (loop $top\n"
    "      (local.set $s (i32.add (local.get $s) (i32.rotl (local.get $i) (i32.const 7))))\n"
    "      (local.set $i (i32.add (local.get $i) (i32.const 1)))\n"
    "      (block $out\n"
    "        (br_table $top $out (i32.ge_u (local.get $i) (local.get $n)))))\n"
    "    (local.get $s))\n"
    /* br_table on an index loaded from memory (P_LSK32_BR_TABLE) */
    "  (memory 1)\n"
    "  (func (export \"table_load\") (param $n i32) (result i32) (local $i i32) (local $s i32)\n"
    "    (loop $top\n"
    "      (local.set $s (i32.add (local.get $s) (i32.rotl (local.get $i) (i32.const 7))))\n"
    "      (local.set $i (i32.add (local.get $i) (i32.const 1)))\n"
    "      (i32.store offset=4 (i32.add (i32.shl (local.get $i) (i32.const 2)) (i32.const 64))\n"
    "                 (i32.ge_u (local.get $i) (local.get $n)))\n"
    "      (block $out\n"
    "        (br_table $top $out\n"
    "          (i32.load offset=4 (i32.add (i32.shl (local.get $i) (i32.const 2)) (i32.const "
    "64))))))\n"
    "    (local.get $s)))\n";

static void test_fuel_resume_accumulator(void **state)
{
    static const char *names[] = {"nz", "cmp", "table", "table_load"};
    fixture fx;
    th_wasm_val arg = {.i32 = 300}, want = {0}, res = {0};

    (void)state;
    setup_module(&fx, acc_loop_wat, NULL, NULL, NULL);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        int rc, rounds = 0;
        th_wasm_exec_set_fuel(fx.ex, UINT64_MAX);
        assert_int_equal(th_wasm_exec_call(fx.ex, func(&fx, names[i]), &arg, 1, &want, 1), TH_OK);
        th_wasm_exec_set_fuel(fx.ex, 1);
        rc = th_wasm_exec_call(fx.ex, func(&fx, names[i]), &arg, 1, &res, 1);
        while (rc == TH_WASM_OUT_OF_FUEL) {
            th_wasm_exec_set_fuel(fx.ex, 1);
            rc = th_wasm_exec_resume(fx.ex, NULL, &res, 1);
            rounds++;
            assert_true(rounds < 1000);
        }
        assert_int_equal(rc, TH_OK);
        assert_true(rounds >= 100);
        assert_int_equal(res.i32, want.i32);
    }
    teardown_module(&fx);
}

static void test_fuel_zero_before_entry(void **state)
{
    fixture fx;
    th_wasm_val arg = {.i32 = 10}, res = {0};

    (void)state;
    setup_module(&fx, loop_wat, NULL, NULL, NULL);
    th_wasm_exec_set_fuel(fx.ex, 0);
    assert_int_equal(th_wasm_exec_call(fx.ex, func(&fx, "count"), &arg, 1, &res, 1),
                     TH_WASM_OUT_OF_FUEL);
    /* still no fuel: stays out of fuel */
    assert_int_equal(th_wasm_exec_resume(fx.ex, NULL, &res, 1), TH_WASM_OUT_OF_FUEL);
    th_wasm_exec_set_fuel(fx.ex, UINT64_MAX);
    assert_int_equal(th_wasm_exec_resume(fx.ex, NULL, &res, 1), TH_OK);
    assert_int_equal(res.i32, 45);
    teardown_module(&fx);
}

static void test_abort_runaway_loop(void **state)
{
    fixture fx;
    th_wasm_val arg = {.i32 = 5}, res = {0};

    (void)state;
    setup_module(&fx, loop_wat, NULL, NULL, NULL);
    th_wasm_exec_set_fuel(fx.ex, 10000);
    assert_int_equal(th_wasm_exec_call(fx.ex, func(&fx, "spin"), NULL, 0, NULL, 0),
                     TH_WASM_OUT_OF_FUEL);
    assert_true(th_wasm_exec_is_suspended(fx.ex));
    th_wasm_exec_abort(fx.ex);
    assert_false(th_wasm_exec_is_suspended(fx.ex));
    assert_int_equal(th_wasm_exec_trap_kind(fx.ex), TH_WASM_TRAP_FUEL);
    assert_int_equal(th_wasm_exec_resume(fx.ex, NULL, NULL, 0), TH_ESTATE);

    /* The exec is usable again. */
    th_wasm_exec_set_fuel(fx.ex, UINT64_MAX);
    assert_int_equal(th_wasm_exec_call(fx.ex, func(&fx, "count"), &arg, 1, &res, 1), TH_OK);
    assert_int_equal(res.i32, 10);
    teardown_module(&fx);
}

/* Out of fuel three calls deep, or before the entry function began: the
 * abort turns it into a fuel trap whose backtrace names the frames the
 * call had reached. */
static const char *deep_fuel_wat = "(module\n"
                                   "  (func $c (loop $l (br $l)))\n"
                                   "  (func $b (call $c))\n"
                                   "  (func $a (export \"a\") (call $b)))\n";

static void test_fuel_trap_backtrace(void **state)
{
    fixture fx;

    (void)state;
    setup_module(&fx, deep_fuel_wat, NULL, NULL, NULL);
    th_wasm_exec_set_fuel(fx.ex, 1000);
    assert_int_equal(th_wasm_exec_call(fx.ex, func(&fx, "a"), NULL, 0, NULL, 0),
                     TH_WASM_OUT_OF_FUEL);
    th_wasm_exec_abort(fx.ex);
    assert_int_equal(th_wasm_exec_trap_kind(fx.ex), TH_WASM_TRAP_FUEL);
    assert_string_equal(th_wasm_exec_trap_message(fx.ex), "fuel exhausted");
    assert_string_equal(th_wasm_exec_backtrace(fx.ex), "#0 c\n#1 b\n#2 a\n");
    /* no fuel for the entry function itself */
    th_wasm_exec_set_fuel(fx.ex, 0);
    assert_int_equal(th_wasm_exec_call(fx.ex, func(&fx, "a"), NULL, 0, NULL, 0),
                     TH_WASM_OUT_OF_FUEL);
    assert_string_equal(th_wasm_exec_backtrace(fx.ex), ""); /* the call cleared it */
    th_wasm_exec_abort(fx.ex);
    assert_string_equal(th_wasm_exec_backtrace(fx.ex), "#0 a\n");
    /* the next call starts without it */
    th_wasm_exec_set_fuel(fx.ex, 10);
    assert_int_equal(th_wasm_exec_call(fx.ex, func(&fx, "a"), NULL, 0, NULL, 0),
                     TH_WASM_OUT_OF_FUEL);
    assert_string_equal(th_wasm_exec_backtrace(fx.ex), "");
    th_wasm_exec_abort(fx.ex);
    teardown_module(&fx);
}

/* A start function's trap (unreachable two calls deep, or out of fuel)
 * fails the instantiation with TH_ETRAP, and the exec it ran on
 * (cfg.start_exec) holds its backtrace; that exec's fuel setting is the
 * same afterwards, and a busy one is refused. */
static const char *start_trap_wat = "(module\n"
                                    "  (func $t unreachable)\n"
                                    "  (func $s (call $t))\n"
                                    "  (start $s))\n";
static const char *start_loop_wat = "(module\n"
                                    "  (func $spin (loop $l (br $l)))\n"
                                    "  (func $s (call $spin))\n"
                                    "  (start $s)\n"
                                    "  (func (export \"spin\") (call $spin)))\n";
static const char *start_ok_wat = "(module\n"
                                  "  (global $g (mut i32) (i32.const 0))\n"
                                  "  (func $s (global.set $g (i32.const 5)))\n"
                                  "  (start $s))\n";

static th_wasm_module *compile(const char *wat)
{
    size_t len = 0;
    uint8_t *bin = wat_to_wasm(wat, &len);
    th_wasm_module *m = NULL;
    th_error err = {0};

    if (bin == NULL)
        skip();
    if (th_wasm_module_new(bin, len, &m, &err) != TH_OK)
        fail_msg("module: %s", err.msg);
    free(bin);
    return m;
}

static void test_start_trap_backtrace(void **state)
{
    th_wasm_module *trap = compile(start_trap_wat), *loop = compile(start_loop_wat);
    th_wasm_module *ok = compile(start_ok_wat);
    th_wasm_imports *imp = th_wasm_imports_new();
    th_wasm_exec *ex = th_wasm_exec_new(NULL);
    th_wasm_instance_config cfg = {0};
    th_wasm_instance *inst = NULL, *li = NULL;
    th_error err = {0};

    (void)state;
    assert_non_null(imp);
    assert_non_null(ex);
    /* without an exec: the message only, as before */
    assert_int_equal(th_wasm_instance_new(trap, imp, NULL, &inst, &err), TH_ETRAP);
    assert_string_equal(err.msg, "unreachable");
    /* on the embedder's exec: the frames of the start function */
    th_wasm_exec_set_fuel(ex, 777);
    cfg.start_exec = ex;
    assert_int_equal(th_wasm_instance_new(trap, imp, &cfg, &inst, &err), TH_ETRAP);
    assert_null(inst);
    assert_string_equal(err.msg, "unreachable");
    assert_int_equal(th_wasm_exec_trap_kind(ex), TH_WASM_TRAP_UNREACHABLE);
    assert_string_equal(th_wasm_exec_trap_message(ex), "unreachable");
    assert_string_equal(th_wasm_exec_backtrace(ex), "#0 t\n#1 s\n");
    assert_int_equal(th_wasm_exec_fuel(ex), 777);
    assert_false(th_wasm_exec_is_suspended(ex));
    /* out of the start fuel */
    cfg.start_fuel = 500;
    assert_int_equal(th_wasm_instance_new(loop, imp, &cfg, &inst, &err), TH_ETRAP);
    assert_non_null(strstr(err.msg, "fuel exhausted"));
    assert_int_equal(th_wasm_exec_trap_kind(ex), TH_WASM_TRAP_FUEL);
    assert_string_equal(th_wasm_exec_backtrace(ex), "#0 spin\n#1 s\n");
    assert_int_equal(th_wasm_exec_fuel(ex), 777);
    /* a start function that returns leaves the exec idle, its fuel as set */
    th_wasm_exec_set_fuel(ex, UINT64_MAX);
    assert_int_equal(th_wasm_instance_new(ok, imp, &cfg, &inst, &err), TH_OK);
    assert_int_equal(th_wasm_exec_fuel(ex), UINT64_MAX);
    assert_false(th_wasm_exec_is_suspended(ex));
    /* an exec holding a call (out of fuel) is not used */
    cfg.start_fuel = 0;
    cfg.start_exec = NULL;
    th_wasm_exec_set_fuel(ex, 0);
    th_wasm_instance_free(inst);
    inst = NULL;
    {
        th_wasm_module *lm = compile("(module (func (export \"f\") (loop $l (br $l))))");
        th_wasm_func *f;
        assert_int_equal(th_wasm_instance_new(lm, imp, NULL, &li, &err), TH_OK);
        f = th_wasm_instance_func(li, "f");
        assert_non_null(f);
        assert_int_equal(th_wasm_exec_call(ex, f, NULL, 0, NULL, 0), TH_WASM_OUT_OF_FUEL);
        th_wasm_module_free(lm);
    }
    cfg.start_exec = ex;
    assert_int_equal(th_wasm_instance_new(trap, imp, &cfg, &inst, &err), TH_EBUSY);
    th_wasm_exec_abort(ex);
    th_wasm_instance_free(li);
    th_wasm_exec_free(ex);
    th_wasm_imports_free(imp);
    th_wasm_module_free(trap);
    th_wasm_module_free(loop);
    th_wasm_module_free(ok);
}

/* ------------------------------------------------------------------ */
/* Host functions: suspension, traps, nested calls                    */

static const char *host_wat =
    "(module\n"
    "  (import \"env\" \"ask\" (func $ask (param i32) (result i32)))\n"
    "  (import \"env\" \"fail\" (func $fail (param i32)))\n"
    "  (import \"env\" \"twice\" (func $twice (param i32) (result i32)))\n"
    "  (memory (export \"mem\") 1)\n"
    "  (export \"ask_direct\" (func $ask))\n"
    "  (func $inner (param i32) (result i32)\n"
    "    (call $fail (local.get 0)) (i32.const 0))\n"
    "  (func $outer (export \"outer\") (param i32) (result i32)\n"
    "    (i32.add (call $inner (local.get 0)) (i32.const 1)))\n"
    "  (func (export \"asks\") (param $n i32) (result i32)\n"
    "    (local $i i32) (local $acc i32)\n"
    "    (loop $l\n"
    "      (local.set $acc (i32.add (local.get $acc) (call $ask (local.get $i))))\n"
    "      (local.set $i (i32.add (local.get $i) (i32.const 1)))\n"
    "      (br_if $l (i32.lt_s (local.get $i) (local.get $n))))\n"
    "    (local.get $acc))\n"
    "  (func (export \"double\") (param i32) (result i32)\n"
    "    (i32.store (i32.const 16) (local.get 0))\n"
    "    (i32.mul (local.get 0) (i32.const 2)))\n"
    "  (func $use_twice (export \"use_twice\") (param i32) (result i32)\n"
    "    (i32.add (call $twice (local.get 0)) (i32.const 100)))\n"
    "  (func $boom (export \"boom\") (param i32) (result i32) unreachable))\n";

typedef struct host_state {
    int asked; /* calls of ask */
    uint32_t last_arg;
    bool suspend;       /* ask suspends instead of answering */
    const char *nested; /* export twice calls back into */
    th_wasm_instance *inst;
    int nested_rc;
} host_state;

static int host_ask(th_wasm_call *call, void *ctx, const th_wasm_val *args, th_wasm_val *results)
{
    host_state *hs = ctx;
    (void)call;
    hs->asked++;
    hs->last_arg = (uint32_t)args[0].i32;
    if (hs->suspend)
        return TH_WASM_SUSPENDED;
    results[0].i32 = args[0].i32 * 10;
    return TH_OK;
}

static int host_fail(th_wasm_call *call, void *ctx, const th_wasm_val *args, th_wasm_val *results)
{
    (void)ctx;
    (void)results;
    return th_wasm_call_trap(call, "boom %d", args[0].i32);
}

static int host_twice(th_wasm_call *call, void *ctx, const th_wasm_val *args, th_wasm_val *results)
{
    host_state *hs = ctx;
    th_wasm_func *f = th_wasm_instance_func(hs->inst, hs->nested);
    th_wasm_val r = {0};
    uint64_t size = 0;
    uint8_t *mem;

    assert_non_null(f);
    assert_ptr_equal(th_wasm_call_instance(call), hs->inst);
    hs->nested_rc = th_wasm_call_invoke(call, f, args, &r);
    if (hs->nested_rc != TH_OK)
        return TH_WASM_TRAPPED;
    /* the nested call wrote memory: fetch it again after the call */
    mem = th_wasm_call_memory(call, &size);
    assert_non_null(mem);
    assert_int_equal(size, 65536);
    assert_int_equal(mem[16], (uint8_t)args[0].i32);
    results[0].i32 = r.i32 + 1;
    return TH_OK;
}

static th_wasm_imports *host_imports(host_state *hs)
{
    th_wasm_imports *imp = th_wasm_imports_new();
    assert_non_null(imp);
    assert_int_equal(th_wasm_imports_add_func(imp, "env", "ask", "i>i", host_ask, hs), TH_OK);
    assert_int_equal(th_wasm_imports_add_func(imp, "env", "fail", "i>", host_fail, hs), TH_OK);
    assert_int_equal(th_wasm_imports_add_func(imp, "env", "twice", "i>i", host_twice, hs), TH_OK);
    return imp;
}

static void test_host_suspend_resume(void **state)
{
    fixture fx;
    host_state hs = {0};
    th_wasm_val arg = {.i32 = 4}, res = {0}, answer;
    int rc;

    (void)state;
    setup_module(&fx, host_wat, host_imports(&hs), NULL, NULL);
    hs.suspend = true;
    rc = th_wasm_exec_call(fx.ex, func(&fx, "asks"), &arg, 1, &res, 1);
    for (uint32_t i = 0; i < 4; i++) {
        assert_int_equal(rc, TH_WASM_SUSPENDED);
        assert_true(th_wasm_exec_is_suspended(fx.ex));
        assert_int_equal(hs.last_arg, i);
        answer.i32 = (int32_t)(i + 1) * 7;
        rc = th_wasm_exec_resume(fx.ex, &answer, &res, 1);
    }
    assert_int_equal(rc, TH_OK);
    assert_int_equal(hs.asked, 4);
    assert_int_equal(res.i32, 7 + 14 + 21 + 28);

    /* Without suspension the same code runs straight through. */
    hs.suspend = false;
    assert_int_equal(th_wasm_exec_call(fx.ex, func(&fx, "asks"), &arg, 1, &res, 1), TH_OK);
    assert_int_equal(res.i32, 0 + 10 + 20 + 30);
    teardown_module(&fx);
}

/* A host function called directly (re-exported import), suspending. */
static void test_host_direct_call(void **state)
{
    fixture fx;
    host_state hs = {.suspend = true};
    th_wasm_val arg = {.i32 = 5}, res = {0}, answer = {.i32 = 9};

    (void)state;
    setup_module(&fx, host_wat, host_imports(&hs), NULL, NULL);
    assert_int_equal(th_wasm_exec_call(fx.ex, func(&fx, "ask_direct"), &arg, 1, &res, 1),
                     TH_WASM_SUSPENDED);
    assert_true(th_wasm_exec_is_suspended(fx.ex));
    assert_int_equal(th_wasm_exec_resume(fx.ex, &answer, &res, 1), TH_OK);
    assert_int_equal(res.i32, 9);
    hs.suspend = false;
    assert_int_equal(th_wasm_exec_call(fx.ex, func(&fx, "ask_direct"), &arg, 1, &res, 1), TH_OK);
    assert_int_equal(res.i32, 50);
    teardown_module(&fx);
}

static void test_host_suspend_abort(void **state)
{
    fixture fx;
    host_state hs = {.suspend = true};
    th_wasm_val arg = {.i32 = 3}, res = {0};

    (void)state;
    setup_module(&fx, host_wat, host_imports(&hs), NULL, NULL);
    assert_int_equal(th_wasm_exec_call(fx.ex, func(&fx, "asks"), &arg, 1, &res, 1),
                     TH_WASM_SUSPENDED);
    th_wasm_exec_abort(fx.ex);
    assert_false(th_wasm_exec_is_suspended(fx.ex));
    assert_int_equal(th_wasm_exec_trap_kind(fx.ex), TH_WASM_TRAP_ABORTED);
    /* where it was suspended: in "asks" (no name: its index) */
    assert_string_equal(th_wasm_exec_backtrace(fx.ex), "#0 func[5]\n");
    hs.suspend = false;
    assert_int_equal(th_wasm_exec_call(fx.ex, func(&fx, "asks"), &arg, 1, &res, 1), TH_OK);
    assert_int_equal(res.i32, 30);
    teardown_module(&fx);
}

static void test_host_trap_backtrace(void **state)
{
    fixture fx;
    host_state hs = {0};
    th_wasm_val arg = {.i32 = 7}, res = {0};

    (void)state;
    setup_module(&fx, host_wat, host_imports(&hs), NULL, NULL);
    assert_int_equal(th_wasm_exec_call(fx.ex, func(&fx, "outer"), &arg, 1, &res, 1),
                     TH_WASM_TRAPPED);
    assert_int_equal(th_wasm_exec_trap_kind(fx.ex), TH_WASM_TRAP_HOST);
    assert_string_equal(th_wasm_exec_trap_message(fx.ex), "boom 7");
    assert_string_equal(th_wasm_exec_backtrace(fx.ex), "#0 inner\n#1 outer\n");
    assert_false(th_wasm_exec_is_suspended(fx.ex));

    /* A trap in wasm code itself. */
    assert_int_equal(th_wasm_exec_call(fx.ex, func(&fx, "boom"), &arg, 1, &res, 1),
                     TH_WASM_TRAPPED);
    assert_int_equal(th_wasm_exec_trap_kind(fx.ex), TH_WASM_TRAP_UNREACHABLE);
    assert_string_equal(th_wasm_exec_trap_message(fx.ex), "unreachable");
    assert_string_equal(th_wasm_exec_backtrace(fx.ex), "#0 boom\n");
    teardown_module(&fx);
}

static void test_nested_invoke(void **state)
{
    fixture fx;
    host_state hs = {.nested = "double"};
    th_wasm_val arg = {.i32 = 21}, res = {0};

    (void)state;
    setup_module(&fx, host_wat, host_imports(&hs), NULL, NULL);
    hs.inst = fx.inst;
    /* use_twice -> host twice -> (nested) double -> back */
    assert_int_equal(th_wasm_exec_call(fx.ex, func(&fx, "use_twice"), &arg, 1, &res, 1), TH_OK);
    assert_int_equal(hs.nested_rc, TH_OK);
    assert_int_equal(res.i32, 21 * 2 + 1 + 100);

    /* A nested trap: the host sees it and traps; the message survives. */
    hs.nested = "boom";
    assert_int_equal(th_wasm_exec_call(fx.ex, func(&fx, "use_twice"), &arg, 1, &res, 1),
                     TH_WASM_TRAPPED);
    assert_int_equal(hs.nested_rc, TH_WASM_TRAPPED);
    assert_string_equal(th_wasm_exec_trap_message(fx.ex), "unreachable");
    assert_string_equal(th_wasm_exec_backtrace(fx.ex), "#0 boom\n#1 use_twice\n");

    /* A nested call cannot suspend: that traps. */
    hs.nested = "asks";
    hs.suspend = true;
    arg.i32 = 2;
    assert_int_equal(th_wasm_exec_call(fx.ex, func(&fx, "use_twice"), &arg, 1, &res, 1),
                     TH_WASM_TRAPPED);
    assert_int_equal(hs.nested_rc, TH_WASM_TRAPPED);
    assert_false(th_wasm_exec_is_suspended(fx.ex));

    /* Fuel runs out inside the nested call: reported as a fuel trap. */
    hs.nested = "double";
    hs.suspend = false;
    th_wasm_exec_set_fuel(fx.ex, 1);
    assert_int_equal(th_wasm_exec_call(fx.ex, func(&fx, "use_twice"), &arg, 1, &res, 1),
                     TH_WASM_TRAPPED);
    assert_int_equal(hs.nested_rc, TH_WASM_OUT_OF_FUEL);
    assert_int_equal(th_wasm_exec_trap_kind(fx.ex), TH_WASM_TRAP_FUEL);

    /* And everything works again afterwards. */
    th_wasm_exec_set_fuel(fx.ex, UINT64_MAX);
    assert_int_equal(th_wasm_exec_call(fx.ex, func(&fx, "use_twice"), &arg, 1, &res, 1), TH_OK);
    assert_int_equal(res.i32, 2 * 2 + 1 + 100);
    teardown_module(&fx);
}

/* ------------------------------------------------------------------ */
/* Stack limits                                                       */

static const char *rec_wat =
    "(module\n"
    "  (func $down (export \"down\") (param $n i32) (result i32)\n"
    "    (local i64 i64 i64 i64 f64 f64)\n"
    "    (if (result i32) (i32.eqz (local.get $n))\n"
    "      (then (i32.const 0))\n"
    "      (else (i32.add (call $down (i32.sub (local.get $n) (i32.const 1)))\n"
    "                     (i32.const 1)))))\n"
    "  (func $forever (export \"forever\") (call $forever))\n"
    "  (func $small (export \"small\") (param $n i32) (result i32)\n"
    "    (if (result i32) (local.get $n)\n"
    "      (then (i32.add (call $small (i32.sub (local.get $n) (i32.const 1))) (i32.const 1)))\n"
    "      (else (i32.const 0)))))\n";

static void test_call_stack_exhausted(void **state)
{
    fixture fx;
    th_wasm_val arg = {.i32 = 9000}, res = {0};

    (void)state;
    setup_module(&fx, rec_wat, NULL, NULL, NULL);
    /* Deep but allowed: the stacks grow (and are rebased) on demand. */
    assert_int_equal(th_wasm_exec_call(fx.ex, func(&fx, "down"), &arg, 1, &res, 1), TH_OK);
    assert_int_equal(res.i32, 9000);

    assert_int_equal(th_wasm_exec_call(fx.ex, func(&fx, "forever"), NULL, 0, NULL, 0),
                     TH_WASM_TRAPPED);
    assert_int_equal(th_wasm_exec_trap_kind(fx.ex), TH_WASM_TRAP_STACK_EXHAUSTED);
    /* the message names the limit and how to raise it */
    assert_string_equal(th_wasm_exec_trap_message(fx.ex),
                        "call stack exhausted: the wasm stack limit of 8388608 bytes was "
                        "reached (raise it with `theater wasm run --max-stack BYTES`, or "
                        "`stack_bytes` under [limits] in an actor's manifest)");
    assert_non_null(strstr(th_wasm_exec_backtrace(fx.ex), "#0 forever\n"));
    assert_non_null(strstr(th_wasm_exec_backtrace(fx.ex), "more frames"));

    /* Reusable afterwards. */
    arg.i32 = 100;
    assert_int_equal(th_wasm_exec_call(fx.ex, func(&fx, "down"), &arg, 1, &res, 1), TH_OK);
    assert_int_equal(res.i32, 100);
    teardown_module(&fx);
}

static void test_small_stack_limit(void **state)
{
    fixture fx;
    th_wasm_exec_config ecfg = {.max_stack_bytes = 16 * 1024, .max_call_depth = 0};
    th_wasm_val arg = {.i32 = 10}, res = {0};

    (void)state;
    setup_module(&fx, rec_wat, NULL, NULL, &ecfg);
    assert_int_equal(th_wasm_exec_call(fx.ex, func(&fx, "down"), &arg, 1, &res, 1), TH_OK);
    assert_int_equal(res.i32, 10);
    /* ~12 slots a frame: 2000 frames do not fit in 16 KiB */
    arg.i32 = 2000;
    assert_int_equal(th_wasm_exec_call(fx.ex, func(&fx, "down"), &arg, 1, &res, 1),
                     TH_WASM_TRAPPED);
    assert_int_equal(th_wasm_exec_trap_kind(fx.ex), TH_WASM_TRAP_STACK_EXHAUSTED);
    teardown_module(&fx);

    ecfg.max_stack_bytes = 0;
    ecfg.max_call_depth = 50;
    setup_module(&fx, rec_wat, NULL, NULL, &ecfg);
    arg.i32 = 40;
    assert_int_equal(th_wasm_exec_call(fx.ex, func(&fx, "down"), &arg, 1, &res, 1), TH_OK);
    arg.i32 = 60;
    assert_int_equal(th_wasm_exec_call(fx.ex, func(&fx, "down"), &arg, 1, &res, 1),
                     TH_WASM_TRAPPED);
    assert_int_equal(th_wasm_exec_trap_kind(fx.ex), TH_WASM_TRAP_STACK_EXHAUSTED);
    assert_non_null(strstr(th_wasm_exec_trap_message(fx.ex), "call depth limit of 50 frames"));
    teardown_module(&fx);
}

/* The default limit is in bytes and is enough for deep recursion of a
 * small function (>= 100,000 frames); a smaller limit set on the exec
 * later takes effect; the stacks are released when the call is over. */
static void test_deep_recursion_default(void **state)
{
    fixture fx;
    th_wasm_val arg = {.i32 = 100000}, res = {0};

    (void)state;
    setup_module(&fx, rec_wat, NULL, NULL, NULL);
    assert_int_equal(th_wasm_exec_max_stack(fx.ex), 8u * 1024 * 1024);
    assert_int_equal(th_wasm_exec_call(fx.ex, func(&fx, "small"), &arg, 1, &res, 1), TH_OK);
    assert_int_equal(res.i32, 100000);

    th_wasm_exec_set_max_stack(fx.ex, 1024 * 1024);
    assert_int_equal(th_wasm_exec_call(fx.ex, func(&fx, "small"), &arg, 1, &res, 1),
                     TH_WASM_TRAPPED);
    assert_int_equal(th_wasm_exec_trap_kind(fx.ex), TH_WASM_TRAP_STACK_EXHAUSTED);
    assert_non_null(strstr(th_wasm_exec_trap_message(fx.ex), "limit of 1048576 bytes"));
    arg.i32 = 10000; /* 1 MiB still holds 10,000 frames */
    assert_int_equal(th_wasm_exec_call(fx.ex, func(&fx, "small"), &arg, 1, &res, 1), TH_OK);
    assert_int_equal(res.i32, 10000);

    th_wasm_exec_set_max_stack(fx.ex, 32u * 1024 * 1024);
    arg.i32 = 400000;
    assert_int_equal(th_wasm_exec_call(fx.ex, func(&fx, "small"), &arg, 1, &res, 1), TH_OK);
    assert_int_equal(res.i32, 400000);
    teardown_module(&fx);
}

/* The deepest `down` that runs on `ex` (0..limit), calling it with 0, 1,
 * 2, ... until it traps. */
static int32_t deepest_down(fixture *fx, int32_t limit)
{
    th_wasm_val arg, res;
    int32_t n;

    for (n = 0; n <= limit; n++) {
        arg.i32 = n;
        if (th_wasm_exec_call(fx->ex, func(fx, "down"), &arg, 1, &res, 1) != TH_OK) {
            assert_int_equal(th_wasm_exec_trap_kind(fx->ex), TH_WASM_TRAP_STACK_EXHAUSTED);
            return n - 1;
        }
        assert_int_equal(res.i32, n);
    }
    return limit;
}

/* A pooled exec keeps its initial stacks between calls; its stack limit
 * binds exactly as on an exec that keeps nothing, also a limit lowered
 * below what it kept, and stacks that grew past their initial size are
 * released as usual (the next calls still see the limit). */
static void test_keep_stacks(void **state)
{
    enum { LIMIT = 4096 + 256 };
    fixture fx;
    th_wasm_val arg = {.i32 = 5}, res = {0};
    int32_t plain, kept;

    (void)state;
    setup_module(&fx, rec_wat, NULL, NULL, NULL);
    /* a limit just above the first stack of values (4 KiB): a few frame
     * records fit, fewer than the 16 the exec first allocates */
    th_wasm_exec_set_max_stack(fx.ex, LIMIT);
    plain = deepest_down(&fx, 10000);
    assert_true(plain > 0 && plain < 14);

    th_wasm_exec_set_max_stack(fx.ex, 0);
    th_wasm_exec_keep_stacks(fx.ex, true);
    for (int i = 0; i < 100; i++) {
        assert_int_equal(th_wasm_exec_call(fx.ex, func(&fx, "down"), &arg, 1, &res, 1), TH_OK);
        assert_int_equal(res.i32, 5);
    }
    /* kept stacks (4 KiB of values and 16 frame records) exceed the
     * limit: it drops them and binds at once */
    th_wasm_exec_set_max_stack(fx.ex, LIMIT);
    arg.i32 = plain + 1; /* the first call after: not on the kept stacks */
    assert_int_equal(th_wasm_exec_call(fx.ex, func(&fx, "down"), &arg, 1, &res, 1),
                     TH_WASM_TRAPPED);
    assert_int_equal(th_wasm_exec_trap_kind(fx.ex), TH_WASM_TRAP_STACK_EXHAUSTED);
    kept = deepest_down(&fx, 10000);
    assert_int_equal(kept, plain);

    /* grown stacks are not kept: a deep call, then the same small limit */
    th_wasm_exec_set_max_stack(fx.ex, 0);
    arg.i32 = 5000;
    assert_int_equal(th_wasm_exec_call(fx.ex, func(&fx, "down"), &arg, 1, &res, 1), TH_OK);
    th_wasm_exec_set_max_stack(fx.ex, LIMIT);
    assert_int_equal(deepest_down(&fx, 10000), plain);

    th_wasm_exec_keep_stacks(fx.ex, false);
    th_wasm_exec_set_max_stack(fx.ex, 0);
    arg.i32 = 5;
    assert_int_equal(th_wasm_exec_call(fx.ex, func(&fx, "down"), &arg, 1, &res, 1), TH_OK);
    assert_int_equal(res.i32, 5);
    teardown_module(&fx);
}

/* ------------------------------------------------------------------ */
/* Memory                                                             */

static const char *mem_wat =
    "(module\n"
    "  (memory (export \"mem\") 1 10)\n"
    "  (func (export \"grow\") (param i32) (result i32) (memory.grow (local.get 0)))\n"
    "  (func (export \"size\") (result i32) (memory.size))\n"
    "  (func (export \"load\") (param i32) (result i32) (i32.load (local.get 0)))\n"
    "  (func (export \"store\") (param i32 i32) (i32.store (local.get 0) (local.get 1)))\n"
    "  (func (export \"div\") (param i32 i32) (result i32)\n"
    "    (i32.div_s (local.get 0) (local.get 1))))\n";

static void test_memory_limit(void **state)
{
    fixture fx;
    th_wasm_instance_config cfg = {.max_memory_bytes = 3 * 65536};
    th_wasm_val args[2], res = {0};

    (void)state;
    setup_module(&fx, mem_wat, NULL, &cfg, NULL);
    args[0].i32 = 1;
    assert_int_equal(th_wasm_exec_call(fx.ex, func(&fx, "grow"), args, 1, &res, 1), TH_OK);
    assert_int_equal(res.i32, 1);
    /* one more page fits the limit, two do not */
    args[0].i32 = 2;
    assert_int_equal(th_wasm_exec_call(fx.ex, func(&fx, "grow"), args, 1, &res, 1), TH_OK);
    assert_int_equal(res.i32, -1);
    args[0].i32 = 1;
    assert_int_equal(th_wasm_exec_call(fx.ex, func(&fx, "grow"), args, 1, &res, 1), TH_OK);
    assert_int_equal(res.i32, 2);
    assert_int_equal(th_wasm_exec_call(fx.ex, func(&fx, "size"), NULL, 0, &res, 1), TH_OK);
    assert_int_equal(res.i32, 3);

    /* The grown memory is usable right away, its end traps. */
    args[0].i32 = 3 * 65536 - 4;
    args[1].i32 = 0x12345678;
    assert_int_equal(th_wasm_exec_call(fx.ex, func(&fx, "store"), args, 2, NULL, 0), TH_OK);
    assert_int_equal(th_wasm_exec_call(fx.ex, func(&fx, "load"), args, 1, &res, 1), TH_OK);
    assert_int_equal(res.i32, 0x12345678);
    args[0].i32 = 3 * 65536 - 3;
    assert_int_equal(th_wasm_exec_call(fx.ex, func(&fx, "load"), args, 1, &res, 1),
                     TH_WASM_TRAPPED);
    assert_int_equal(th_wasm_exec_trap_kind(fx.ex), TH_WASM_TRAP_MEMORY_OOB);
    assert_string_equal(th_wasm_exec_trap_message(fx.ex), "out of bounds memory access");
    teardown_module(&fx);
}

static void test_arithmetic_traps(void **state)
{
    fixture fx;
    th_wasm_val args[2], res = {0};

    (void)state;
    setup_module(&fx, mem_wat, NULL, NULL, NULL);
    args[0].i32 = 7;
    args[1].i32 = 0;
    assert_int_equal(th_wasm_exec_call(fx.ex, func(&fx, "div"), args, 2, &res, 1), TH_WASM_TRAPPED);
    assert_int_equal(th_wasm_exec_trap_kind(fx.ex), TH_WASM_TRAP_DIV_ZERO);
    assert_string_equal(th_wasm_exec_trap_message(fx.ex), "integer divide by zero");
    args[0].i32 = INT32_MIN;
    args[1].i32 = -1;
    assert_int_equal(th_wasm_exec_call(fx.ex, func(&fx, "div"), args, 2, &res, 1), TH_WASM_TRAPPED);
    assert_int_equal(th_wasm_exec_trap_kind(fx.ex), TH_WASM_TRAP_INT_OVERFLOW);
    args[1].i32 = 2;
    assert_int_equal(th_wasm_exec_call(fx.ex, func(&fx, "div"), args, 2, &res, 1), TH_OK);
    assert_int_equal(res.i32, INT32_MIN / 2);
    assert_int_equal(th_wasm_exec_trap_kind(fx.ex), TH_WASM_TRAP_NONE);

    /* Misuse: wrong argument count. */
    assert_int_equal(th_wasm_exec_call(fx.ex, func(&fx, "div"), args, 1, &res, 1), TH_EINVAL);
    teardown_module(&fx);
}

/* ------------------------------------------------------------------ */
/* Calls across instances                                             */

static const char *inst_b_wat =
    "(module\n"
    "  (import \"env\" \"ask\" (func $ask (param i32) (result i32)))\n"
    "  (memory (export \"mem\") 1)\n"
    "  (func (export \"b_fn\") (param i32) (result i32)\n"
    "    (i32.store (i32.const 0) (call $ask (local.get 0)))\n"
    "    (drop (memory.grow (i32.const 1)))\n"
    "    (i32.store (i32.const 70000) (i32.const 5))\n"
    "    (i32.add (i32.load (i32.const 0)) (i32.load (i32.const 70000)))))\n";

static const char *inst_a_wat =
    "(module\n"
    "  (import \"b\" \"b_fn\" (func $b (param i32) (result i32)))\n"
    "  (type $t (func (param i32) (result i32)))\n"
    "  (table 2 funcref)\n"
    "  (elem (i32.const 1) $b)\n"
    "  (memory 1)\n"
    "  (func (export \"direct\") (param i32) (result i32)\n"
    "    (i32.store (i32.const 8) (i32.const 100))\n"
    "    (i32.add (call $b (local.get 0)) (i32.load (i32.const 8))))\n"
    "  (func (export \"indirect\") (param i32) (result i32)\n"
    "    (i32.store (i32.const 8) (i32.const 1000))\n"
    "    (i32.add (call_indirect (type $t) (local.get 0) (i32.const 1))\n"
    "             (i32.load (i32.const 8)))))\n";

static void test_cross_instance_suspend(void **state)
{
    fixture fb, fa;
    host_state hs = {.suspend = true};
    th_wasm_imports *imp_b = th_wasm_imports_new(), *imp_a = th_wasm_imports_new();
    th_wasm_val arg = {.i32 = 3}, res = {0}, ans = {.i32 = 40};
    const char *names[2] = {"direct", "indirect"};
    const int32_t extra[2] = {100, 1000};

    (void)state;
    assert_int_equal(th_wasm_imports_add_func(imp_b, "env", "ask", "i>i", host_ask, &hs), TH_OK);
    setup_module(&fb, inst_b_wat, imp_b, NULL, NULL);
    assert_int_equal(th_wasm_imports_add_instance(imp_a, "b", fb.inst), TH_OK);
    setup_module(&fa, inst_a_wat, imp_a, NULL, NULL);
    for (int k = 0; k < 2; k++) {
        assert_int_equal(th_wasm_exec_call(fa.ex, func(&fa, names[k]), &arg, 1, &res, 1),
                         TH_WASM_SUSPENDED);
        assert_int_equal(hs.last_arg, 3);
        assert_int_equal(th_wasm_exec_resume(fa.ex, &ans, &res, 1), TH_OK);
        /* b's answer + 5 (from b's grown memory) + a's own memory value */
        assert_int_equal(res.i32, 40 + 5 + extra[k]);
    }
    /* b's memory grew twice (one page each call) */
    uint64_t size = 0;
    th_wasm_memory_data(th_wasm_instance_memory(fb.inst, "mem"), &size);
    assert_int_equal(size, 3 * 65536);
    teardown_module(&fa);
    teardown_module(&fb);
}

/* Host -> wasm -> host -> ... recursion through th_wasm_call_invoke. */
static const char *nest_wat =
    "(module\n"
    "  (import \"env\" \"rec\" (func $rec (param i32) (result i32)))\n"
    "  (func (export \"down\") (param i32) (result i32)\n"
    "    (if (result i32) (i32.eqz (local.get 0)) (then (i32.const 0))\n"
    "      (else (i32.add (call $rec (i32.sub (local.get 0) (i32.const 1)))\n"
    "                     (i32.const 1))))))\n";

static int host_rec(th_wasm_call *call, void *ctx, const th_wasm_val *args, th_wasm_val *results)
{
    th_wasm_instance **inst = ctx;
    int rc = th_wasm_call_invoke(call, th_wasm_instance_func(*inst, "down"), args, results);
    return rc == TH_OK ? TH_OK : TH_WASM_TRAPPED;
}

static void test_nested_recursion_limit(void **state)
{
    fixture fx;
    th_wasm_instance *inst = NULL;
    th_wasm_imports *imp = th_wasm_imports_new();
    th_wasm_val arg = {.i32 = 60}, res = {0};

    (void)state;
    assert_int_equal(th_wasm_imports_add_func(imp, "env", "rec", "i>i", host_rec, &inst), TH_OK);
    setup_module(&fx, nest_wat, imp, NULL, NULL);
    inst = fx.inst;
    assert_int_equal(th_wasm_exec_call(fx.ex, func(&fx, "down"), &arg, 1, &res, 1), TH_OK);
    assert_int_equal(res.i32, 60);
    arg.i32 = 100000;
    assert_int_equal(th_wasm_exec_call(fx.ex, func(&fx, "down"), &arg, 1, &res, 1),
                     TH_WASM_TRAPPED);
    assert_int_equal(th_wasm_exec_trap_kind(fx.ex), TH_WASM_TRAP_STACK_EXHAUSTED);
    arg.i32 = 3;
    assert_int_equal(th_wasm_exec_call(fx.ex, func(&fx, "down"), &arg, 1, &res, 1), TH_OK);
    assert_int_equal(res.i32, 3);
    teardown_module(&fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fuel_exhaustion_and_resume),
        cmocka_unit_test(test_fuel_resume_accumulator),
        cmocka_unit_test(test_fuel_zero_before_entry),
        cmocka_unit_test(test_abort_runaway_loop),
        cmocka_unit_test(test_fuel_trap_backtrace),
        cmocka_unit_test(test_start_trap_backtrace),
        cmocka_unit_test(test_host_suspend_resume),
        cmocka_unit_test(test_host_suspend_abort),
        cmocka_unit_test(test_host_direct_call),
        cmocka_unit_test(test_host_trap_backtrace),
        cmocka_unit_test(test_nested_invoke),
        cmocka_unit_test(test_call_stack_exhausted),
        cmocka_unit_test(test_small_stack_limit),
        cmocka_unit_test(test_deep_recursion_default),
        cmocka_unit_test(test_keep_stacks),
        cmocka_unit_test(test_memory_limit),
        cmocka_unit_test(test_arithmetic_traps),
        cmocka_unit_test(test_cross_instance_suspend),
        cmocka_unit_test(test_nested_recursion_limit),
    };
    return th_test_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
