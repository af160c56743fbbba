/*
 * test_wasm_ops.c - differential tests of the translator's specialised
 * forms (compile.c / interp.c): operators with an immediate operand (a
 * constant on either side), comparisons fused into br_if / if / loop
 * back-edges, local.set/tee retargeting and deferred local.get.  Each form
 * is checked against the plain form of the same operator, whose operands
 * come from parameters, over edge-case values.
 *
 * The module is generated as text and converted with wat2wasm at test
 * time (wabt); without it the tests are skipped.
 */
#include <inttypes.h>
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
#include "wasm/interp.h"

static const char *binops[] = {
    "add", "sub", "mul",  "and",  "or",   "xor",  "shl",  "shr_s", "shr_u", "rotl", "rotr",
    "eq",  "ne",  "lt_s", "lt_u", "gt_s", "gt_u", "le_s", "le_u",  "ge_s",  "ge_u",
};
#define NBINOPS (sizeof binops / sizeof binops[0])
#define FIRST_CMP 11

static const int64_t vals32[] = {
    0,
    1,
    -1,
    2,
    5,
    31,
    32,
    33,
    63,
    64,
    INT32_MAX,
    INT32_MIN,
    INT32_MIN + 1,
    12345,
    -12345,
    (int32_t)0xdeadbeef,
};
#define NVALS32 (sizeof vals32 / sizeof vals32[0])

static const int64_t vals64[] = {
    0,
    1,
    -1,
    2,
    63,
    64,
    65,
    INT32_MAX,
    INT32_MIN,
    (int64_t)INT32_MAX + 1,
    (int64_t)INT32_MIN - 1,
    0x100000000ll,
    INT64_MAX,
    INT64_MIN,
    INT64_MIN + 1,
    -0x123456789abll,
};
#define NVALS64 (sizeof vals64 / sizeof vals64[0])

typedef struct ops_fixture {
    th_wasm_module *mod;
    th_wasm_imports *imp;
    th_wasm_instance *inst;
    th_wasm_exec *ex;
} ops_fixture;

/* Close the module text written to `w` (into *wat), assemble it and
 * instantiate it into *fx; the test is skipped without wat2wasm. */
static void fx_load(ops_fixture *fx, FILE *w, char **wat)
{
    size_t len = 0;
    uint8_t *bin;
    th_error err = {0};

    fputs(")\n", w);
    fclose(w);
    bin = wat_to_wasm(*wat, &len);
    free(*wat);
    *wat = NULL;
    memset(fx, 0, sizeof *fx);
    if (bin == NULL)
        wat_missing();
    if (th_wasm_module_new(bin, len, &fx->mod, &err) != TH_OK)
        fail_msg("module: %s", err.msg);
    free(bin);
    fx->imp = th_wasm_imports_new();
    if (th_wasm_instance_new(fx->mod, fx->imp, NULL, &fx->inst, &err) != TH_OK)
        fail_msg("instance: %s", err.msg);
    fx->ex = th_wasm_exec_new(NULL);
}

/* Call `fn` with one fuel unit at a time: each out-of-fuel stop is
 * resumed with one more unit, at most `max_rounds` times.  Returns the
 * call's final status; *rounds is how many times it was resumed. */
static int call_fuel_by_unit(th_wasm_exec *ex, th_wasm_func *fn, const th_wasm_val *args,
                             uint32_t nargs, th_wasm_val *res, int max_rounds, int *rounds)
{
    int rc;

    *rounds = 0;
    th_wasm_exec_set_fuel(ex, 1);
    rc = th_wasm_exec_call(ex, fn, args, nargs, res, 1);
    while (rc == TH_WASM_OUT_OF_FUEL) {
        th_wasm_exec_set_fuel(ex, 1);
        rc = th_wasm_exec_resume(ex, NULL, res, 1);
        ++*rounds;
        assert_true(*rounds < max_rounds);
    }
    return rc;
}

/* Load a whole module text (ending in ")\n"): fx_load closes the module
 * itself, so the text's own closing parenthesis is left out. */
static void fx_load_text(ops_fixture *fx, const char *text, size_t size)
{
    char *wat = NULL;
    size_t watlen = 0;
    FILE *w = open_memstream(&wat, &watlen);

    assert_non_null(w);
    fwrite(text, 1, size - 3, w);
    fx_load(fx, w, &wat);
}

/* Open a module text (closed by fx_load) with one page of memory whose
 * first bytes are `low` (the body of a WAT string literal) and whose last
 * 16 bytes are ff fe ... f0, so that accesses near both ends read known
 * values.  The caller writes its functions into the returned stream. */
static FILE *open_memory_module(char **wat, size_t *watlen, const char *low)
{
    FILE *w = open_memstream(wat, watlen);

    assert_non_null(w);
    fprintf(w,
            "(module (memory 1) (data (i32.const 0) \"%s\")\n"
            "(data (i32.const 65520) "
            "\"\\ff\\fe\\fd\\fc\\fb\\fa\\f9\\f8\\f7\\f6\\f5\\f4\\f3\\f2\\f1\\f0\")\n",
            low);
    return w;
}

/* Generate, for type t ("i32"/"i64") and every operator:
 *   OP_ref (a, b)         plain operator on two parameters
 *   OP_r_K (a)            OP a, const K          (immediate on the right)
 *   OP_l_K (a)            OP const K, a          (immediate on the left)
 * and for comparisons, results 1/0 through control flow:
 *   OP_if_K, OP_brif_K, OP_brv_K, OP_loop_K (a)  constant K on the right
 *   OP_if, OP_brif, OP_loop (a, b)               two parameters       */
static void gen_type(FILE *w, const char *t, const int64_t *vals, size_t nvals)
{
    for (size_t o = 0; o < NBINOPS; o++) {
        const char *op = binops[o];
        const char *res = o >= FIRST_CMP ? "i32" : t;
        fprintf(w,
                "(func (export \"%s_%s_ref\") (param %s %s) (result %s)"
                " (%s.%s (local.get 0) (local.get 1)))\n",
                t, op, t, t, res, t, op);
        for (size_t k = 0; k < nvals; k++) {
            int64_t c = vals[k];
            fprintf(w,
                    "(func (export \"%s_%s_r_%zu\") (param %s) (result %s)"
                    " (%s.%s (local.get 0) (%s.const %" PRId64 ")))\n",
                    t, op, k, t, res, t, op, t, c);
            fprintf(w,
                    "(func (export \"%s_%s_l_%zu\") (param %s) (result %s)"
                    " (%s.%s (%s.const %" PRId64 ") (local.get 0)))\n",
                    t, op, k, t, res, t, op, t, c);
            if (o < FIRST_CMP)
                continue;
            fprintf(w,
                    "(func (export \"%s_%s_if_%zu\") (param %s) (result i32)"
                    " (if (result i32) (%s.%s (local.get 0) (%s.const %" PRId64 "))"
                    " (then (i32.const 1)) (else (i32.const 0))))\n",
                    t, op, k, t, t, op, t, c);
            fprintf(w,
                    "(func (export \"%s_%s_brif_%zu\") (param %s) (result i32)"
                    " (block $b (br_if $b (%s.%s (local.get 0) (%s.const %" PRId64 ")))"
                    " (return (i32.const 0))) (i32.const 1))\n",
                    t, op, k, t, t, op, t, c);
            fprintf(w,
                    "(func (export \"%s_%s_brv_%zu\") (param %s) (result i32)"
                    " (block $b (result i32) (i32.const 1)"
                    " (br_if $b (%s.%s (local.get 0) (%s.const %" PRId64 ")))"
                    " (drop) (i32.const 0)))\n",
                    t, op, k, t, t, op, t, c);
            fprintf(w,
                    "(func (export \"%s_%s_loop_%zu\") (param %s) (result i32)"
                    " (local $n i32)"
                    " (loop $l (if (local.get $n) (then (return (i32.const 1))))"
                    " (local.set $n (i32.const 1))"
                    " (br_if $l (%s.%s (local.get 0) (%s.const %" PRId64 "))))"
                    " (i32.const 0))\n",
                    t, op, k, t, t, op, t, c);
        }
        if (o < FIRST_CMP)
            continue;
        fprintf(w,
                "(func (export \"%s_%s_if\") (param %s %s) (result i32)"
                " (if (result i32) (%s.%s (local.get 0) (local.get 1))"
                " (then (i32.const 1)) (else (i32.const 0))))\n",
                t, op, t, t, t, op);
        fprintf(w,
                "(func (export \"%s_%s_brif\") (param %s %s) (result i32)"
                " (block $b (br_if $b (%s.%s (local.get 0) (local.get 1)))"
                " (return (i32.const 0))) (i32.const 1))\n",
                t, op, t, t, t, op);
        fprintf(w,
                "(func (export \"%s_%s_loop\") (param %s %s) (result i32)"
                " (local $n i32)"
                " (loop $l (if (local.get $n) (then (return (i32.const 1))))"
                " (local.set $n (i32.const 1))"
                " (br_if $l (%s.%s (local.get 0) (local.get 1))))"
                " (i32.const 0))\n",
                t, op, t, t, t, op);
    }
    /* eqz fused into branches */
    fprintf(w, "(func (export \"%s_eqz_ref\") (param %s) (result i32) (%s.eqz (local.get 0)))\n", t,
            t, t);
    fprintf(
        w,
        "(func (export \"%s_eqz_if\") (param %s) (result i32)"
        " (if (result i32) (%s.eqz (local.get 0)) (then (i32.const 1)) (else (i32.const 0))))\n",
        t, t, t);
    fprintf(w,
            "(func (export \"%s_eqz_brif\") (param %s) (result i32)"
            " (block $b (br_if $b (%s.eqz (local.get 0))) (return (i32.const 0))) (i32.const 1))\n",
            t, t, t);
}

static void setup_ops(ops_fixture *fx)
{
    char *wat = NULL;
    size_t watlen = 0;
    FILE *w = open_memstream(&wat, &watlen);

    assert_non_null(w);
    fputs("(module\n", w);
    gen_type(w, "i32", vals32, NVALS32);
    gen_type(w, "i64", vals64, NVALS64);
    fx_load(fx, w, &wat);
}

static void teardown_ops(ops_fixture *fx)
{
    th_wasm_exec_free(fx->ex);
    th_wasm_instance_free(fx->inst);
    th_wasm_module_free(fx->mod);
    th_wasm_imports_free(fx->imp);
}

/* Call export `name` with 1 or 2 arguments of type t; returns the result
 * bits (i32 results zero-extended). */
static uint64_t call(ops_fixture *fx, bool is64, const char *name, int nargs, int64_t a, int64_t b)
{
    th_wasm_func *f = th_wasm_instance_func(fx->inst, name);
    th_wasm_val args[2], res = {0};
    int rc;

    if (f == NULL)
        fail_msg("no export %s", name);
    args[0].bits = is64 ? (uint64_t)a : (uint32_t)a;
    args[1].bits = is64 ? (uint64_t)b : (uint32_t)b;
    rc = th_wasm_exec_call(fx->ex, f, args, (uint32_t)nargs, &res, 1);
    if (rc != TH_OK)
        fail_msg("%s: rc %d (%s)", name, rc, th_wasm_exec_trap_message(fx->ex));
    return res.bits;
}

static void check_type(ops_fixture *fx, const char *t, const int64_t *vals, size_t nvals)
{
    bool is64 = strcmp(t, "i64") == 0;
    char name[64];

    for (size_t o = 0; o < NBINOPS; o++) {
        const char *op = binops[o];
        bool cmp = o >= FIRST_CMP;
        for (size_t k = 0; k < nvals; k++) {
            for (size_t x = 0; x < nvals; x++) {
                int64_t c = vals[k], v = vals[x];
                uint64_t want_r, want_l, got;
                snprintf(name, sizeof name, "%s_%s_ref", t, op);
                want_r = call(fx, is64, name, 2, v, c);
                want_l = call(fx, is64, name, 2, c, v);
                snprintf(name, sizeof name, "%s_%s_r_%zu", t, op, k);
                got = call(fx, is64, name, 1, v, 0);
                if (got != want_r)
                    fail_msg("%s(%" PRId64 ") = %" PRIx64 ", want %" PRIx64, name, v, got, want_r);
                snprintf(name, sizeof name, "%s_%s_l_%zu", t, op, k);
                got = call(fx, is64, name, 1, v, 0);
                if (got != want_l)
                    fail_msg("%s(%" PRId64 ") = %" PRIx64 ", want %" PRIx64, name, v, got, want_l);
                if (!cmp)
                    continue;
                static const char *forms[] = {"if", "brif", "brv", "loop"};
                for (size_t fi = 0; fi < 4; fi++) {
                    snprintf(name, sizeof name, "%s_%s_%s_%zu", t, op, forms[fi], k);
                    got = call(fx, is64, name, 1, v, 0);
                    if (got != want_r)
                        fail_msg("%s(%" PRId64 ") = %" PRIu64 ", want %" PRIu64, name, v, got,
                                 want_r);
                }
                static const char *forms2[] = {"if", "brif", "loop"};
                for (size_t fi = 0; fi < 3; fi++) {
                    snprintf(name, sizeof name, "%s_%s_%s", t, op, forms2[fi]);
                    got = call(fx, is64, name, 2, v, c);
                    if (got != want_r)
                        fail_msg("%s(%" PRId64 ", %" PRId64 ") = %" PRIu64 ", want %" PRIu64, name,
                                 v, c, got, want_r);
                }
            }
        }
    }
    for (size_t x = 0; x < nvals; x++) {
        uint64_t want, got;
        snprintf(name, sizeof name, "%s_eqz_ref", t);
        want = call(fx, is64, name, 1, vals[x], 0);
        assert_int_equal(want, vals[x] == 0 || (!is64 && (uint32_t)vals[x] == 0));
        snprintf(name, sizeof name, "%s_eqz_if", t);
        got = call(fx, is64, name, 1, vals[x], 0);
        assert_int_equal(got, want);
        snprintf(name, sizeof name, "%s_eqz_brif", t);
        got = call(fx, is64, name, 1, vals[x], 0);
        assert_int_equal(got, want);
    }
}

static void test_immediate_and_fused_forms(void **state)
{
    ops_fixture fx;

    (void)state;
    setup_ops(&fx);
    check_type(&fx, "i32", vals32, NVALS32);
    check_type(&fx, "i64", vals64, NVALS64);
    teardown_ops(&fx);
}

/* Deferred local.get and retargeted local.set/tee: operands that name a
 * local must keep the old value when the local is overwritten later. */
static const char *locals_wat =
    "(module\n"
    /* (a + 1) written to a while the old a is still on the stack */
    "  (func (export \"swap_sub\") (param $a i32) (param $b i32) (result i32)\n"
    "    (local.get $a)\n"
    "    (local.set $a (i32.add (local.get $a) (i32.const 1)))\n"
    "    (local.get $a) (i32.sub))\n"
    /* tee into a local that an older operand names */
    "  (func (export \"tee_old\") (param $a i32) (result i32)\n"
    "    (local.get $a)\n"
    "    (local.tee $a (i32.mul (local.get $a) (i32.const 3)))\n"
    "    (i32.add) (local.get $a) (i32.add))\n"
    /* an operand naming a local crosses a block that writes the local */
    "  (func (export \"across_block\") (param $a i32) (param $c i32) (result i32)\n"
    "    (local.get $a)\n"
    "    (block (br_if 0 (local.get $c)) (local.set $a (i32.const 100)))\n"
    "    (local.get $a) (i32.sub))\n"
    /* swap two locals through the stack */
    "  (func (export \"swap\") (param $a i32) (param $b i32) (result i32)\n"
    "    (local.get $a) (local.get $b) (local.set $a) (local.set $b)\n"
    "    (i32.sub (i32.mul (local.get $a) (i32.const 10)) (local.get $b)))\n"
    /* multi-value return of locals in swapped order */
    "  (func $pair (param $a i32) (param $b i32) (result i32 i32)\n"
    "    (local.get $b) (local.get $a))\n"
    "  (func (export \"pair\") (param i32 i32) (result i32)\n"
    "    (call $pair (local.get 0) (local.get 1)) (i32.const 10) (i32.mul) (i32.add))\n"
    /* loop with a block parameter and a result */
    "  (func (export \"sum_to\") (param $n i32) (result i32)\n"
    "    (local $i i32)\n"
    "    (i32.const 0)\n"
    "    (loop $l (param i32) (result i32)\n"
    "      (i32.add (local.get $i))\n"
    "      (local.set $i (i32.add (local.get $i) (i32.const 1)))\n"
    "      (br_if $l (i32.le_s (local.get $i) (local.get $n)))))\n"
    /* br_table with values into blocks at different heights */
    "  (func (export \"table\") (param $i i32) (result i32)\n"
    "    (block $a (result i32)\n"
    "      (block $b (result i32)\n"
    "        (block $c (result i32)\n"
    "          (i32.const 7) (local.get $i)\n"
    "          (br_table $a $b $c (i32.and (local.get $i) (i32.const 3))))\n"
    "        (i32.const 100) (i32.add))\n"
    "      (i32.const 1000) (i32.add)))\n"
    /* a zero stored into a local written on a path not taken */
    "  (func (export \"zero_after_if\") (param $c i32) (result i32) (local $x i32)\n"
    "    (if (local.get $c) (then (local.set $x (i32.const 5))))\n"
    "    (local.set $x (i32.const 0)) (local.get $x))\n"
    /* a zero stored into a local inside a loop */
    "  (func (export \"zero_in_loop\") (param $n i32) (result i32) (local $x i32) (local $s i32)\n"
    "    (loop $l\n"
    "      (local.set $s (i32.add (local.get $s) (local.get $x)))\n"
    "      (local.set $x (i32.const 0))\n"
    "      (local.set $x (i32.add (local.get $x) (local.get $n)))\n"
    "      (local.set $n (i32.sub (local.get $n) (i32.const 1)))\n"
    "      (br_if $l (local.get $n)))\n"
    "    (local.get $s))\n"
    /* two copies with a branch target between them */
    "  (func (export \"copies\") (param $c i32) (param $b i32) (result i32)\n"
    "    (local $a i32) (local $d i32)\n"
    "    (block (br_if 0 (local.get $c)) (local.set $a (local.get $b)))\n"
    "    (local.set $d (local.get $b))\n"
    "    (i32.add (i32.mul (local.get $a) (i32.const 10)) (local.get $d)))\n"
    ")\n";

static void test_locals_and_control(void **state)
{
    size_t len = 0;
    uint8_t *bin = wat_to_wasm(locals_wat, &len);
    th_wasm_module *m = NULL;
    th_wasm_imports *imp = th_wasm_imports_new();
    th_wasm_instance *inst = NULL;
    th_wasm_exec *ex = th_wasm_exec_new(NULL);
    th_error err = {0};
    th_wasm_val a[2], r;

    (void)state;
    if (bin == NULL) {
        th_wasm_exec_free(ex);
        th_wasm_imports_free(imp);
        wat_missing();
    }
    if (th_wasm_module_new(bin, len, &m, &err) != TH_OK)
        fail_msg("module: %s", err.msg);
    free(bin);
    assert_int_equal(th_wasm_instance_new(m, imp, NULL, &inst, &err), TH_OK);

#define CALL2(name, x, y) \
    (a[0].i32 = (x), a[1].i32 = (y), \
     assert_int_equal(th_wasm_exec_call(ex, th_wasm_instance_func(inst, name), a, 2, &r, 1), \
                      TH_OK), \
     r.i32)
#define CALL1(name, x) \
    (a[0].i32 = (x), \
     assert_int_equal(th_wasm_exec_call(ex, th_wasm_instance_func(inst, name), a, 1, &r, 1), \
                      TH_OK), \
     r.i32)
    assert_int_equal(CALL2("swap_sub", 5, 0), 5 - 6);
    assert_int_equal(CALL1("tee_old", 4), 4 + 12 + 12);
    assert_int_equal(CALL2("across_block", 5, 1), 0);
    assert_int_equal(CALL2("across_block", 5, 0), 5 - 100);
    assert_int_equal(CALL2("swap", 3, 4), 4 * 10 - 3);
    assert_int_equal(CALL2("pair", 3, 4), 4 + 30);
    assert_int_equal(CALL1("sum_to", 10), 55);
    assert_int_equal(CALL1("table", 0), 0);
    assert_int_equal(CALL1("table", 1), 1 + 1000);
    assert_int_equal(CALL1("table", 2), 2 + 100 + 1000);
    assert_int_equal(CALL1("table", 3), 3 + 100 + 1000);
    assert_int_equal(CALL1("zero_after_if", 1), 0);
    assert_int_equal(CALL1("zero_after_if", 0), 0);
    assert_int_equal(CALL1("zero_in_loop", 4), 4 + 3 + 2);
    assert_int_equal(CALL2("copies", 1, 7), 7);
    assert_int_equal(CALL2("copies", 0, 7), 77);
#undef CALL1
#undef CALL2
    th_wasm_exec_free(ex);
    th_wasm_instance_free(inst);
    th_wasm_module_free(m);
    th_wasm_imports_free(imp);
}

/* ------------------------------------------------------------------ */
/* Accumulator chains: a result consumed by the very next instruction   */

static const char *ibinops[] = {
    "add",  "sub",  "mul",   "div_s", "div_u", "rem_s", "rem_u", "and", "or",
    "xor",  "shl",  "shr_s", "shr_u", "rotl",  "rotr",  "eq",    "ne",  "lt_s",
    "lt_u", "gt_s", "gt_u",  "le_s",  "le_u",  "ge_s",  "ge_u",
};
static const char *fbinops[] = {
    "add", "sub", "mul", "div", "min", "max", "eq", "ne", "lt", "gt", "le", "ge",
};
#define NIBIN (sizeof ibinops / sizeof ibinops[0])
#define NFBIN (sizeof fbinops / sizeof fbinops[0])

/* Unary operators: name, input type, result type. */
static const char *unops[][3] = {
    {"i32.eqz", "i32", "i32"},           {"i64.eqz", "i64", "i32"},
    {"i64.extend_i32_s", "i32", "i64"},  {"i64.extend_i32_u", "i32", "i64"},
    {"i32.extend8_s", "i32", "i32"},     {"i32.extend16_s", "i32", "i32"},
    {"i64.extend8_s", "i64", "i64"},     {"i64.extend16_s", "i64", "i64"},
    {"i64.extend32_s", "i64", "i64"},    {"f64.neg", "f64", "f64"},
    {"f64.abs", "f64", "f64"},           {"f64.sqrt", "f64", "f64"},
    {"f32.neg", "f32", "f32"},           {"f32.abs", "f32", "f32"},
    {"f32.sqrt", "f32", "f32"},          {"f64.convert_i32_s", "i32", "f64"},
    {"f64.convert_i32_u", "i32", "f64"}, {"f64.convert_i64_s", "i64", "f64"},
    {"f64.convert_i64_u", "i64", "f64"}, {"f32.convert_i32_s", "i32", "f32"},
    {"f32.convert_i32_u", "i32", "f32"}, {"f32.demote_f64", "f64", "f32"},
    {"f64.promote_f32", "f32", "f64"},   {"i32.wrap_i64", "i64", "i32"},
};
#define NUNOPS (sizeof unops / sizeof unops[0])

/* For a binary operator OP of type t (result r), with parameters x y z:
 *   OP_A    OP((x + y), z)        first source from the accumulator
 *   OP_B    OP(z, (x + y))        second source from the accumulator
 *   OP_R    OP(x, y) + z          result to the accumulator ("+": add/xor)
 *   OP_ref  the same through locals, no chains
 * Traps (division) are compared too: both sides trap or neither. */
static void gen_chain_bin(FILE *w, const char *t, const char *op, const char *r)
{
    const char *comb = t[0] == 'f' ? "add" : "xor";
    fprintf(w,
            "(func (export \"%s.%s_A\") (param %s %s %s) (result %s)"
            " (%s.%s (%s.%s (local.get 0) (local.get 1)) (local.get 2)))\n",
            t, op, t, t, t, r, t, op, t, comb);
    fprintf(w,
            "(func (export \"%s.%s_B\") (param %s %s %s) (result %s)"
            " (%s.%s (local.get 2) (%s.%s (local.get 0) (local.get 1))))\n",
            t, op, t, t, t, r, t, op, t, comb);
    fprintf(w,
            "(func (export \"%s.%s_R\") (param %s %s %s) (result %s)"
            " (%s.%s (%s.%s (local.get 0) (local.get 1)) (%s.const 1)))\n",
            t, op, t, t, t, r, r, r[0] == 'f' ? "add" : "xor", t, op, r);
    fprintf(w,
            "(func (export \"%s.%s_refA\") (param %s %s %s) (result %s) (local %s)"
            " (local.set 3 (%s.%s (local.get 0) (local.get 1)))"
            " (%s.%s (local.get 3) (local.get 2)))\n",
            t, op, t, t, t, r, t, t, comb, t, op);
    fprintf(w,
            "(func (export \"%s.%s_refB\") (param %s %s %s) (result %s) (local %s)"
            " (local.set 3 (%s.%s (local.get 0) (local.get 1)))"
            " (%s.%s (local.get 2) (local.get 3)))\n",
            t, op, t, t, t, r, t, t, comb, t, op);
    fprintf(w,
            "(func (export \"%s.%s_refR\") (param %s %s %s) (result %s) (local %s)"
            " (local.set 3 (%s.%s (local.get 0) (local.get 1)))"
            " (%s.%s (local.get 3) (%s.const 1)))\n",
            t, op, t, t, t, r, r, t, op, r, r[0] == 'f' ? "add" : "xor", r);
}

typedef ops_fixture chain_fixture;

/* Call `name` with up to 3 raw arguments; returns the trap status in *rc. */
static uint64_t call_raw(chain_fixture *fx, const char *name, const uint64_t *args, uint32_t nargs,
                         int *rc)
{
    th_wasm_func *f = th_wasm_instance_func(fx->inst, name);
    th_wasm_val a[3], res = {0};

    if (f == NULL)
        fail_msg("no export %s", name);
    for (uint32_t i = 0; i < nargs; i++)
        a[i].bits = args[i];
    *rc = th_wasm_exec_call(fx->ex, f, a, nargs, &res, 1);
    return *rc == TH_OK ? res.bits : 0;
}

/* Call `got_name` in fixture a and `ref_name` in fixture b with the same
 * arguments: both must give the same result and trap status.  a and b are
 * one fixture, or two instances of one module (each with its own memory). */
static void expect_same_across(chain_fixture *a, chain_fixture *b, const char *got_name,
                               const char *ref_name, const uint64_t *args, uint32_t nargs)
{
    int rc1, rc2;
    uint64_t got = call_raw(a, got_name, args, nargs, &rc1);
    uint64_t want = call_raw(b, ref_name, args, nargs, &rc2);

    if (rc1 != rc2 || got != want)
        fail_msg("%s(%" PRIx64 ", %" PRIx64 ", %" PRIx64 ") = %" PRIx64 " (rc %d), "
                 "%s gives %" PRIx64 " (rc %d)",
                 got_name, args[0], nargs > 1 ? args[1] : 0, nargs > 2 ? args[2] : 0, got, rc1,
                 ref_name, want, rc2);
}

static void expect_same(chain_fixture *fx, const char *got_name, const char *ref_name,
                        const uint64_t *args, uint32_t nargs)
{
    expect_same_across(fx, fx, got_name, ref_name, args, nargs);
}

static const char *chain_extra_wat =
    /* loads, stores and branches reading the accumulator */
    "(memory 1)\n"
    "(func (export \"mem_acc\") (param i32 i32 i32) (result i32)\n"
    "  (i32.store (i32.and (i32.add (local.get 0) (i32.const 8)) (i32.const 0xfff0))\n"
    "             (i32.mul (local.get 1) (local.get 2)))\n"
    "  (i64.store8 (i32.and (local.get 1) (i32.const 0xff))\n"
    "              (i64.extend_i32_u (i32.add (local.get 2) (i32.const 1))))\n"
    "  (i32.add (i32.load (i32.and (i32.add (local.get 0) (i32.const 8)) (i32.const 0xfff0)))\n"
    "           (i32.load8_u (i32.and (local.get 1) (i32.const 0xff)))))\n"
    "(func (export \"mem_ref\") (param i32 i32 i32) (result i32) (local i32 i32 i64)\n"
    "  (local.set 3 (i32.and (i32.add (local.get 0) (i32.const 8)) (i32.const 0xfff0)))\n"
    "  (local.set 4 (i32.mul (local.get 1) (local.get 2)))\n"
    "  (i32.store (local.get 3) (local.get 4))\n"
    "  (local.set 4 (i32.and (local.get 1) (i32.const 0xff)))\n"
    "  (local.set 5 (i64.extend_i32_u (i32.add (local.get 2) (i32.const 1))))\n"
    "  (i64.store8 (local.get 4) (local.get 5))\n"
    "  (local.set 4 (i32.load (local.get 3)))\n"
    "  (local.set 3 (i32.load8_u (i32.and (local.get 1) (i32.const 0xff))))\n"
    "  (i32.add (local.get 4) (local.get 3)))\n"
    /* forward and backward compare-and-branch on a value in acc */
    "(func (export \"br_acc\") (param i32 i32 i32) (result i32) (local $n i32)\n"
    "  (block $b (br_if $b (i32.lt_s (i32.add (local.get 0) (local.get 1)) (local.get 2)))\n"
    "    (local.set $n (i32.const 10)))\n"
    "  (block $c (br_if $c (i32.eqz (i32.xor (local.get 0) (local.get 2))))\n"
    "    (local.set $n (i32.add (local.get $n) (i32.const 100))))\n"
    "  (loop $l (if (i32.ge_u (local.get $n) (i32.const 1000)) (then (return (local.get $n))))\n"
    "    (local.set $n (i32.add (local.get $n) (i32.const 1000)))\n"
    "    (br_if $l (i32.gt_u (i32.sub (local.get 1) (local.get 2)) (local.get 0))))\n"
    "  (i32.add (local.get $n) (i32.const 5)))\n"
    "(func (export \"br_ref\") (param i32 i32 i32) (result i32) (local $n i32) (local $t i32)\n"
    "  (local.set $t (i32.add (local.get 0) (local.get 1)))\n"
    "  (if (i32.ge_s (local.get $t) (local.get 2)) (then (local.set $n (i32.const 10))))\n"
    "  (local.set $t (i32.xor (local.get 0) (local.get 2)))\n"
    "  (if (local.get $t) (then (local.set $n (i32.add (local.get $n) (i32.const 100)))))\n"
    "  (local.set $n (i32.add (local.get $n) (i32.const 1000)))\n"
    "  (local.set $t (i32.sub (local.get 1) (local.get 2)))\n"
    "  (if (i32.gt_u (local.get $t) (local.get 0)) (then (return (local.get $n))))\n"
    "  (i32.add (local.get $n) (i32.const 5)))\n"
    /* a chain ending in a return */
    "(func (export \"ret_acc\") (param i32 i32 i32) (result i32)\n"
    "  (return (i32.mul (i32.add (local.get 0) (local.get 1)) (local.get 2))))\n"
    "(func (export \"ret_ref\") (param i32 i32 i32) (result i32) (local i32)\n"
    "  (local.set 3 (i32.add (local.get 0) (local.get 1)))\n"
    "  (local.set 3 (i32.mul (local.get 3) (local.get 2)))\n"
    "  (local.get 3))\n";

static void test_accumulator_chains(void **state)
{
    static const uint64_t fvals64[] = {
        0,
        0x8000000000000000ull,
        0x3ff0000000000000ull /* 1 */,
        0xbff8000000000000ull /* -1.5 */,
        0x7ff0000000000000ull /* inf */,
        0xfff0000000000000ull,
        0x7ff8000000000000ull /* nan */,
        0x7fefffffffffffffull,
        0x0000000000000001ull,
        0x4008000000000000ull /* 3 */,
    };
    static const uint64_t fvals32[] = {
        0,           0x80000000u, 0x3f800000u, 0xbfc00000u, 0x7f800000u,
        0xff800000u, 0x7fc00000u, 0x7f7fffffu, 0x00000001u, 0x40400000u,
    };
    static const char *types[] = {"i32", "i64", "f32", "f64"};
    chain_fixture fx;
    char *wat = NULL, name[64], ref[64];
    size_t watlen = 0;
    FILE *w = open_memstream(&wat, &watlen);

    (void)state;
    assert_non_null(w);
    fputs("(module\n", w);
    for (size_t ti = 0; ti < 4; ti++) {
        bool fl = types[ti][0] == 'f';
        size_t n = fl ? NFBIN : NIBIN;
        for (size_t o = 0; o < n; o++) {
            const char *op = fl ? fbinops[o] : ibinops[o];
            bool cmp = (fl ? o >= 6 : o >= 15);
            gen_chain_bin(w, types[ti], op, cmp ? "i32" : types[ti]);
        }
    }
    for (size_t u = 0; u < NUNOPS; u++) {
        const char *in = unops[u][1], *out = unops[u][2];
        const char *comb = in[0] == 'f' ? "add" : "xor";
        fprintf(w,
                "(func (export \"%s_A\") (param %s %s) (result %s)"
                " (%s (%s.%s (local.get 0) (local.get 1))))\n",
                unops[u][0], in, in, out, unops[u][0], in, comb);
        fprintf(w,
                "(func (export \"%s_ref\") (param %s %s) (result %s) (local %s)"
                " (local.set 2 (%s.%s (local.get 0) (local.get 1)))"
                " (%s (local.get 2)))\n",
                unops[u][0], in, in, out, in, in, comb, unops[u][0]);
    }
    fputs(chain_extra_wat, w);
    fx_load(&fx, w, &wat);

    for (size_t ti = 0; ti < 4; ti++) {
        bool fl = types[ti][0] == 'f', is64 = types[ti][1] == '6';
        size_t n = fl ? NFBIN : NIBIN, nv;
        uint64_t vals[NVALS64];
        if (fl) {
            nv = 10;
            for (size_t i = 0; i < nv; i++)
                vals[i] = is64 ? fvals64[i] : fvals32[i];
        } else {
            nv = is64 ? NVALS64 : NVALS32;
            for (size_t i = 0; i < nv; i++)
                vals[i] = is64 ? (uint64_t)vals64[i] : (uint32_t)vals32[i];
        }
        for (size_t o = 0; o < n; o++) {
            const char *op = fl ? fbinops[o] : ibinops[o];
            for (size_t x = 0; x < nv; x++)
                for (size_t y = 0; y < nv; y += 3)
                    for (size_t z = 0; z < nv; z++) {
                        uint64_t args[3] = {vals[x], vals[y], vals[z]};
                        static const char *forms[] = {"A", "B", "R"};
                        for (size_t f = 0; f < 3; f++) {
                            snprintf(name, sizeof name, "%s.%s_%s", types[ti], op, forms[f]);
                            snprintf(ref, sizeof ref, "%s.%s_ref%s", types[ti], op, forms[f]);
                            expect_same(&fx, name, ref, args, 3);
                        }
                    }
        }
    }
    for (size_t u = 0; u < NUNOPS; u++) {
        const char *in = unops[u][1];
        bool fl = in[0] == 'f', is64 = in[1] == '6';
        size_t nv = fl ? 10 : is64 ? NVALS64 : NVALS32;
        for (size_t x = 0; x < nv; x++)
            for (size_t y = 0; y < nv; y++) {
                uint64_t args[2];
                args[0] = fl     ? (is64 ? fvals64[x] : fvals32[x])
                          : is64 ? (uint64_t)vals64[x]
                                 : (uint32_t)vals32[x];
                args[1] = fl     ? (is64 ? fvals64[y] : fvals32[y])
                          : is64 ? (uint64_t)vals64[y]
                                 : (uint32_t)vals32[y];
                snprintf(name, sizeof name, "%s_A", unops[u][0]);
                snprintf(ref, sizeof ref, "%s_ref", unops[u][0]);
                expect_same(&fx, name, ref, args, 2);
            }
    }
    for (size_t x = 0; x < NVALS32; x++)
        for (size_t y = 0; y < NVALS32; y++)
            for (size_t z = 0; z < NVALS32; z++) {
                uint64_t args[3] = {(uint32_t)vals32[x], (uint32_t)vals32[y], (uint32_t)vals32[z]};
                expect_same(&fx, "mem_acc", "mem_ref", args, 3);
                expect_same(&fx, "br_acc", "br_ref", args, 3);
                expect_same(&fx, "ret_acc", "ret_ref", args, 3);
            }
    teardown_ops(&fx);
}

/* Fused pairs (interp.h, WASM_FUSED_LIST) and loads whose address is an
 * i32.add of a constant (LOADK): each nested expression, whose inner
 * result only the outer operation reads, against the same through a
 * local (never fused).  Every form is built with the inner operation's
 * source from the accumulator ("_a": its operand is itself a sum), with
 * the result going to the accumulator ("_r": consumed by a multiply) and
 * with the inner result as the outer operation's first and second source. */
static const char *fuse_kb_x[] = {"add", "sub", "and", "shl", "shr_u", "rotl", "rotr"};
static const char *fuse_kb_y[] = {"add", "and", "or", "xor"};
static const char *fuse_kk[][2] = {{"shl", "add"}, {"shr_u", "and"}, {"add", "shl"}};
static const char *fuse_bb32[][2] = {
    {"mul", "add"}, {"add", "add"}, {"xor", "xor"}, {"and", "xor"}, {"xor", "and"}};
static const char *fuse_bbf64[][2] = {
    {"mul", "add"}, {"mul", "mul"}, {"mul", "sub"}, {"sub", "mul"}, {"add", "mul"}};
static const char *fuse_loads[][2] = {
    {"i32.load", "i32"},    {"i64.load", "i64"},     {"i32.load8_s", "i32"},
    {"i32.load8_u", "i32"}, {"i32.load16_s", "i32"}, {"i32.load16_u", "i32"},
    {"i64.load8_s", "i64"}, {"i64.load16_s", "i64"}, {"i64.load32_s", "i64"},
    {"f64.load", "f64"},
};
static const int32_t fuse_ks[] = {0, 1, 7, 31, 32, -1, INT32_MIN, 0x12345};
#define NFUSE_KS (sizeof fuse_ks / sizeof fuse_ks[0])

/* Functions NAME_{1,2,1a,2a,1r,2r} (fused) and NAME_ref{1,2} of
 * (param t t t) computing OUTER(INNER(p0, B), p2) (pos 1) or
 * OUTER(p2, INNER(p0, B)) (pos 2), B being p1 or the constant `k`. */
static void gen_fused(FILE *w, const char *name, const char *t, const char *inner,
                      const char *outer, const char *b, const char *c)
{
    char a[64], x[160], y[400];

    for (int ai = 0; ai < 2; ai++)
        for (int pos = 1; pos <= 2; pos++)
            for (int r = 0; r < 2; r++) {
                if (ai)
                    snprintf(a, sizeof a, "(%s.add (local.get 0) (local.get 1))", t);
                else
                    snprintf(a, sizeof a, "(local.get 0)");
                snprintf(x, sizeof x, "(%s.%s %s %s)", t, inner, a, b);
                if (pos == 1)
                    snprintf(y, sizeof y, "(%s.%s %s %s)", t, outer, x, c);
                else
                    snprintf(y, sizeof y, "(%s.%s %s %s)", t, outer, c, x);
                fprintf(w, "(func (export \"%s_%d%s%s\") (param %s %s %s) (result %s) ", name, pos,
                        ai ? "a" : "", r ? "r" : "", t, t, t, t);
                if (r)
                    fprintf(w, "(%s.mul %s (local.get 1)))\n", t, y);
                else
                    fprintf(w, "%s)\n", y);
            }
    for (int ai = 0; ai < 2; ai++)
        for (int pos = 1; pos <= 2; pos++)
            for (int r = 0; r < 2; r++) {
                if (ai)
                    snprintf(a, sizeof a, "(%s.add (local.get 0) (local.get 1))", t);
                else
                    snprintf(a, sizeof a, "(local.get 0)");
                fprintf(w,
                        "(func (export \"%s_ref%d%s%s\") (param %s %s %s) (result %s) (local %s)"
                        " (local.set 3 (%s.%s %s %s))",
                        name, pos, ai ? "a" : "", r ? "r" : "", t, t, t, t, t, t, inner, a, b);
                if (pos == 1)
                    snprintf(y, sizeof y, "(%s.%s (local.get 3) %s)", t, outer, c);
                else
                    snprintf(y, sizeof y, "(%s.%s %s (local.get 3))", t, outer, c);
                if (r)
                    fprintf(w, " (local.set 3 %s) (%s.mul (local.get 3) (local.get 1)))\n", y, t);
                else
                    fprintf(w, " %s)\n", y);
            }
}

/* f64 results: any two NaNs agree (which input's payload an addition
 * passes on is the compiler's choice, and WebAssembly allows either). */
static void expect_same_f64(chain_fixture *fx, const char *got_name, const char *ref_name,
                            const uint64_t *args)
{
    int rc1, rc2;
    uint64_t got = call_raw(fx, got_name, args, 3, &rc1);
    uint64_t want = call_raw(fx, ref_name, args, 3, &rc2);
    bool both_nan = (got & 0x7fffffffffffffffull) > 0x7ff0000000000000ull &&
                    (want & 0x7fffffffffffffffull) > 0x7ff0000000000000ull;

    if (rc1 != rc2 || (got != want && !both_nan))
        fail_msg("%s(%" PRIx64 ", %" PRIx64 ", %" PRIx64 ") = %" PRIx64 ", %s gives %" PRIx64,
                 got_name, args[0], args[1], args[2], got, ref_name, want);
}

static void check_fused(chain_fixture *fx, const char *name, const uint64_t *vals, size_t nv,
                        bool f64)
{
    static const char *forms[] = {"1", "2", "1a", "2a", "1r", "2r", "1ar", "2ar"};
    char got[96], ref[96];

    for (size_t f = 0; f < 8; f++) {
        snprintf(got, sizeof got, "%s_%s", name, forms[f]);
        snprintf(ref, sizeof ref, "%s_ref%s", name, forms[f]);
        for (size_t x = 0; x < nv; x++)
            for (size_t y = 0; y < nv; y += 2)
                for (size_t z = 0; z < nv; z++) {
                    uint64_t args[3] = {vals[x], vals[y], vals[z]};
                    if (f64)
                        expect_same_f64(fx, got, ref, args);
                    else
                        expect_same(fx, got, ref, args, 3);
                }
    }
}

static void test_fused_pairs(void **state)
{
    static const uint64_t fv[] = {
        0,
        0x8000000000000000ull,
        0x3ff0000000000000ull,
        0xbff8000000000000ull,
        0x7ff0000000000000ull,
        0xfff0000000000000ull,
        0x7ff8000000000000ull,
        0x7fefffffffffffffull,
        0x0000000000000001ull,
        0x4008000000000000ull,
    };
    static const uint32_t addrs[] = {0,     4,     8,          65520,      65528,      65532,
                                     65535, 65536, 0xfffffff8, 0xfffffffc, 0xffffffff, 0x80000000};
    static const int32_t load_ks[] = {0, 4, 8, -8, -4, 65536};
    chain_fixture fx;
    char *wat = NULL, name[64], k[32];
    size_t watlen = 0, nx = sizeof fuse_kb_x / sizeof fuse_kb_x[0],
           ny = sizeof fuse_kb_y / sizeof fuse_kb_y[0];
    FILE *w = open_memstream(&wat, &watlen);
    uint64_t v32[NVALS32];

    (void)state;
    assert_non_null(w);
    fputs("(module (memory 1) (data (i32.const 0) \"\\81\\02\\c3\\04\\f5\\06\\87\\f8\")\n"
          "(data (i32.const 65520) "
          "\"\\ff\\fe\\fd\\fc\\fb\\fa\\f9\\f8\\f7\\f6\\f5\\f4\\f3\\f2\\f1\\f0\")\n",
          w);
    for (size_t i = 0; i < nx; i++)
        for (size_t j = 0; j < ny; j++)
            for (size_t q = 0; q < NFUSE_KS; q++) {
                snprintf(name, sizeof name, "kb_%s_%s_%zu", fuse_kb_x[i], fuse_kb_y[j], q);
                snprintf(k, sizeof k, "(i32.const %" PRId32 ")", fuse_ks[q]);
                gen_fused(w, name, "i32", fuse_kb_x[i], fuse_kb_y[j], k, "(local.get 2)");
            }
    /* c computed just before the inner operation (pos 2): c from the
     * accumulator */
    for (size_t i = 0; i < nx; i++)
        for (size_t j = 0; j < ny; j++)
            for (size_t q = 1; q < NFUSE_KS; q += 4) {
                snprintf(name, sizeof name, "kbc_%s_%s_%zu", fuse_kb_x[i], fuse_kb_y[j], q);
                snprintf(k, sizeof k, "(i32.const %" PRId32 ")", fuse_ks[q]);
                gen_fused(w, name, "i32", fuse_kb_x[i], fuse_kb_y[j], k,
                          "(i32.add (local.get 1) (local.get 2))");
                /* the result to a slot (a local) */
                fprintf(w,
                        "(func (export \"%s_2l\") (param i32 i32 i32) (result i32) (local i32)"
                        " (local.set 3 (i32.%s (i32.add (local.get 1) (local.get 2))"
                        " (i32.%s (local.get 0) %s))) (local.get 3))\n",
                        name, fuse_kb_y[j], fuse_kb_x[i], k);
            }
    for (size_t i = 0; i < 3; i++)
        for (size_t q = 0; q < NFUSE_KS; q++) {
            snprintf(name, sizeof name, "kk_%zu_%zu", i, q);
            snprintf(k, sizeof k, "(i32.const %" PRId32 ")", fuse_ks[q]);
            gen_fused(w, name, "i32", fuse_kk[i][0], fuse_kk[i][1], k,
                      q % 2 ? "(i32.const 3)" : "(i32.const 0x7ff0)");
        }
    for (size_t i = 0; i < 5; i++) {
        snprintf(name, sizeof name, "bb32_%zu", i);
        gen_fused(w, name, "i32", fuse_bb32[i][0], fuse_bb32[i][1], "(local.get 1)",
                  "(local.get 2)");
        snprintf(name, sizeof name, "bbf64_%zu", i);
        gen_fused(w, name, "f64", fuse_bbf64[i][0], fuse_bbf64[i][1], "(local.get 1)",
                  "(local.get 2)");
    }
    for (size_t i = 0; i < sizeof fuse_loads / sizeof fuse_loads[0]; i++)
        for (size_t q = 0; q < sizeof load_ks / sizeof load_ks[0]; q++)
            for (int off = 0; off <= 4; off += 4) {
                const char *ld = fuse_loads[i][0], *rt = fuse_loads[i][1];
                fprintf(w,
                        "(func (export \"ld_%zu_%zu_%d\") (param i32 i32 i32) (result %s)"
                        " (%s offset=%d (i32.add (local.get 0) (i32.const %" PRId32 "))))\n"
                        "(func (export \"ld_%zu_%zu_%d_a\") (param i32 i32 i32) (result %s)"
                        " (%s offset=%d (i32.add (i32.xor (local.get 0) (local.get 1))"
                        " (i32.const %" PRId32 "))))\n"
                        "(func (export \"ld_%zu_%zu_%d_ref\") (param i32 i32 i32) (result %s)"
                        " (local i32) (local.set 3 (i32.add (local.get 0) (i32.const %" PRId32 ")))"
                        " (%s offset=%d (local.get 3)))\n",
                        i, q, off, rt, ld, off, load_ks[q], i, q, off, rt, ld, off, load_ks[q], i,
                        q, off, rt, load_ks[q], ld, off);
            }
    fx_load(&fx, w, &wat);

    for (size_t i = 0; i < NVALS32; i++)
        v32[i] = (uint32_t)vals32[i];
    for (size_t i = 0; i < nx; i++)
        for (size_t j = 0; j < ny; j++)
            for (size_t q = 0; q < NFUSE_KS; q++) {
                snprintf(name, sizeof name, "kb_%s_%s_%zu", fuse_kb_x[i], fuse_kb_y[j], q);
                check_fused(&fx, name, v32, 8, false);
            }
    for (size_t i = 0; i < nx; i++)
        for (size_t j = 0; j < ny; j++)
            for (size_t q = 1; q < NFUSE_KS; q += 4) {
                snprintf(name, sizeof name, "kbc_%s_%s_%zu", fuse_kb_x[i], fuse_kb_y[j], q);
                check_fused(&fx, name, v32, 8, false);
                for (size_t x = 0; x < 8; x++)
                    for (size_t z = 0; z < 8; z++) {
                        char got[96], ref[96];
                        uint64_t args[3] = {v32[x], v32[z], v32[(x + z) % 8]};
                        snprintf(got, sizeof got, "%s_2l", name);
                        snprintf(ref, sizeof ref, "%s_ref2", name);
                        expect_same(&fx, got, ref, args, 3);
                    }
            }
    for (size_t i = 0; i < 3; i++)
        for (size_t q = 0; q < NFUSE_KS; q++) {
            snprintf(name, sizeof name, "kk_%zu_%zu", i, q);
            check_fused(&fx, name, v32, NVALS32, false);
        }
    for (size_t i = 0; i < 5; i++) {
        snprintf(name, sizeof name, "bb32_%zu", i);
        check_fused(&fx, name, v32, NVALS32, false);
        snprintf(name, sizeof name, "bbf64_%zu", i);
        check_fused(&fx, name, fv, sizeof fv / sizeof fv[0], true);
    }
    for (size_t i = 0; i < sizeof fuse_loads / sizeof fuse_loads[0]; i++)
        for (size_t q = 0; q < sizeof load_ks / sizeof load_ks[0]; q++)
            for (int off = 0; off <= 4; off += 4)
                for (size_t x = 0; x < sizeof addrs / sizeof addrs[0]; x++) {
                    char got[64], ref[64], gota[64];
                    uint64_t args[3] = {addrs[x], 0, 0};
                    snprintf(got, sizeof got, "ld_%zu_%zu_%d", i, q, off);
                    snprintf(gota, sizeof gota, "ld_%zu_%zu_%d_a", i, q, off);
                    snprintf(ref, sizeof ref, "ld_%zu_%zu_%d_ref", i, q, off);
                    expect_same(&fx, got, ref, args, 3);
                    expect_same(&fx, gota, ref, args, 3);
                }
    teardown_ops(&fx);
}

/* Loads and stores whose address an instruction computes (LOADX, LOADSK,
 * LOADSX, STOREK, STORESX), each against the same access through a local
 * holding the address (never fused): addresses near both ends of memory
 * and wrapping at 32 bits, sources from slots and from the accumulator
 * ("a": the shifted or added source is itself computed; "c": the added
 * operand is computed before the shift), results to the accumulator (the
 * return) and to a slot (a local). */
static const char *ea_loads[][2] = {
    {"i32.load", "i32"},    {"i64.load", "i64"},     {"i32.load8_s", "i32"},
    {"i32.load8_u", "i32"}, {"i32.load16_s", "i32"}, {"i32.load16_u", "i32"},
    {"i64.load8_s", "i64"}, {"i64.load16_s", "i64"}, {"i64.load32_s", "i64"},
    {"f64.load", "f64"},
};
/* store, value type, the load reading it back, its result type */
static const char *ea_stores[][4] = {
    {"i32.store8", "i32", "i32.load8_u", "i32"}, {"i32.store16", "i32", "i32.load16_u", "i32"},
    {"i32.store", "i32", "i32.load", "i32"},     {"i64.store", "i64", "i64.load", "i64"},
    {"f64.store", "f64", "i64.load", "i64"},     {"i64.store32", "i64", "i32.load", "i32"},
};
static const int ea_shifts[] = {0, 2, 3, 33};
static const int32_t ea_ks[] = {0, 4, -4, 65532, INT32_MIN};
#define NEA_LOADS (sizeof ea_loads / sizeof ea_loads[0])
#define NEA_STORES (sizeof ea_stores / sizeof ea_stores[0])
#define NEA_SHIFTS (sizeof ea_shifts / sizeof ea_shifts[0])
#define NEA_KS (sizeof ea_ks / sizeof ea_ks[0])
#define NEA_MODES 9

/* Address expression `m` (0..8) with shift s and constant k into buf. */
static void ea_addr(char *buf, size_t n, int m, int s, int32_t k)
{
    switch (m) {
    case 0: snprintf(buf, n, "(i32.add (local.get 0) (local.get 1))"); break;
    case 1:
        snprintf(buf, n, "(i32.add (i32.xor (local.get 0) (local.get 2)) (local.get 1))");
        break;
    case 2:
        snprintf(buf, n, "(i32.add (local.get 1) (i32.xor (local.get 0) (local.get 2)))");
        break;
    case 3:
        snprintf(buf, n, "(i32.add (i32.shl (local.get 0) (i32.const %d)) (i32.const %" PRId32 "))",
                 s, k);
        break;
    case 4:
        snprintf(buf, n,
                 "(i32.add (i32.shl (i32.xor (local.get 0) (local.get 2)) (i32.const %d))"
                 " (i32.const %" PRId32 "))",
                 s, k);
        break;
    case 5:
        snprintf(buf, n, "(i32.add (i32.shl (local.get 0) (i32.const %d)) (local.get 1))", s);
        break;
    case 6:
        snprintf(buf, n,
                 "(i32.add (i32.xor (local.get 1) (local.get 2))"
                 " (i32.shl (local.get 0) (i32.const %d)))",
                 s);
        break;
    case 7: snprintf(buf, n, "(i32.add (local.get 0) (i32.const %" PRId32 "))", k); break;
    default:
        snprintf(buf, n, "(i32.add (i32.xor (local.get 0) (local.get 2)) (i32.const %" PRId32 "))",
                 k);
        break;
    }
}

/* Shifts and constants address expression `m` uses (one of each when it
 * has none). */
static size_t ea_nshifts(int m)
{
    return m >= 3 && m <= 6 ? NEA_SHIFTS : 1;
}

static size_t ea_nks(int m)
{
    return m == 3 || m == 4 || m >= 7 ? NEA_KS : 1;
}

static void test_address_forms(void **state)
{
    static const uint32_t addrs[] = {0,     4,     8,          65520,      65528,     65532,
                                     65535, 65536, 0xfffffff8, 0xfffffffc, 0x80000000};
    static const uint32_t bs[] = {0, 4, 0xfffffffc, 65532, 0x80000000};
    static const uint32_t cs[] = {0x11, 0x2233, 0x44556677};
    chain_fixture fx;
    char *wat = NULL, addr[256], got[64], ref[64];
    size_t watlen = 0;
    FILE *w = open_memory_module(&wat, &watlen, "\\81\\02\\c3\\04\\f5\\06\\87\\f8");

    (void)state;
    for (int m = 0; m < NEA_MODES; m++)
        for (size_t si = 0; si < ea_nshifts(m); si++)
            for (size_t ki = 0; ki < ea_nks(m); ki++) {
                for (int off = 0; off <= 4; off += 4) {
                    ea_addr(addr, sizeof addr, m, ea_shifts[si], ea_ks[ki]);
                    for (size_t i = 0; i < NEA_LOADS; i++) {
                        const char *ld = ea_loads[i][0], *rt = ea_loads[i][1];
                        fprintf(w,
                                "(func (export \"l%d_%zu_%zu_%d_%zu\") (param i32 i32 i32)"
                                " (result %s) (%s offset=%d %s))\n"
                                "(func (export \"l%d_%zu_%zu_%d_%zu_l\") (param i32 i32 i32)"
                                " (result %s) (local %s) (local.set 3 (%s offset=%d %s))"
                                " (local.get 3))\n"
                                "(func (export \"l%d_%zu_%zu_%d_%zu_ref\") (param i32 i32 i32)"
                                " (result %s) (local i32) (local.set 3 %s)"
                                " (%s offset=%d (local.get 3)))\n",
                                m, si, ki, off, i, rt, ld, off, addr, m, si, ki, off, i, rt, rt, ld,
                                off, addr, m, si, ki, off, i, rt, addr, ld, off);
                    }
                    for (size_t i = 0; i < NEA_STORES; i++) {
                        const char *st = ea_stores[i][0], *vt = ea_stores[i][1];
                        const char *lb = ea_stores[i][2], *rt = ea_stores[i][3];
                        const char *val = vt[0] == 'f'         ? "(f64.convert_i32_u (local.get 2))"
                                          : !strcmp(vt, "i64") ? "(i64.extend_i32_u (local.get 2))"
                                                               : "(local.get 2)";
                        fprintf(w,
                                "(func (export \"s%d_%zu_%zu_%d_%zu\") (param i32 i32 i32)"
                                " (result %s) (local i32 %s) (local.set 4 %s)"
                                " (%s offset=%d %s (local.get 4)) (local.set 3 %s)"
                                " (%s offset=%d (local.get 3)))\n"
                                "(func (export \"s%d_%zu_%zu_%d_%zu_ref\") (param i32 i32 i32)"
                                " (result %s) (local i32 %s) (local.set 4 %s)"
                                " (local.set 3 %s) (%s offset=%d (local.get 3) (local.get 4))"
                                " (%s offset=%d (local.get 3)))\n",
                                m, si, ki, off, i, rt, vt, val, st, off, addr, addr, lb, off, m, si,
                                ki, off, i, rt, vt, val, addr, st, off, lb, off);
                    }
                }
            }
    fx_load(&fx, w, &wat);

    for (int m = 0; m < NEA_MODES; m++)
        for (size_t si = 0; si < ea_nshifts(m); si++)
            for (size_t ki = 0; ki < ea_nks(m); ki++) {
                for (int off = 0; off <= 4; off += 4)
                    for (size_t x = 0; x < sizeof addrs / sizeof addrs[0]; x++)
                        for (size_t y = 0; y < sizeof bs / sizeof bs[0]; y++)
                            for (size_t z = 0; z < sizeof cs / sizeof cs[0]; z++) {
                                uint64_t args[3] = {addrs[x], bs[y], cs[z]};
                                for (size_t i = 0; i < NEA_LOADS; i++) {
                                    snprintf(ref, sizeof ref, "l%d_%zu_%zu_%d_%zu_ref", m, si, ki,
                                             off, i);
                                    snprintf(got, sizeof got, "l%d_%zu_%zu_%d_%zu", m, si, ki, off,
                                             i);
                                    expect_same(&fx, got, ref, args, 3);
                                    snprintf(got, sizeof got, "l%d_%zu_%zu_%d_%zu_l", m, si, ki,
                                             off, i);
                                    expect_same(&fx, got, ref, args, 3);
                                }
                                for (size_t i = 0; i < NEA_STORES; i++) {
                                    snprintf(ref, sizeof ref, "s%d_%zu_%zu_%d_%zu_ref", m, si, ki,
                                             off, i);
                                    snprintf(got, sizeof got, "s%d_%zu_%zu_%d_%zu", m, si, ki, off,
                                             i);
                                    expect_same(&fx, got, ref, args, 3);
                                }
                            }
            }
    teardown_ops(&fx);
}

/* Operators with a source loaded from memory (M_*): i32.add, f64.add,
 * f64.sub and f64.mul with the loaded value first or second, the load
 * plain or with a constant added to its address, the result returned (to
 * the accumulator) or kept in a local (a slot), against the same through
 * a local holding the loaded value. */
static void test_memory_operands(void **state)
{
    static const char *ops[][2] = {
        {"i32.add", "i32"}, {"f64.add", "f64"}, {"f64.sub", "f64"}, {"f64.mul", "f64"}};
    static const int32_t ks[] = {0, 8, -8};
    static const uint32_t addrs[] = {0,     4,     8,          65520,      65528,     65532,
                                     65535, 65536, 0xfffffff8, 0xfffffffc, 0x80000000};
    static const uint32_t bs[] = {0, 1, 0xffffffff, 12345};
    chain_fixture fx;
    char *wat = NULL, addr[128], got[64], ref[64];
    size_t watlen = 0;
    FILE *w = open_memory_module(&wat, &watlen, "\\81\\02\\c3\\04\\f5\\06\\87\\f8\\ff\\ff");

    (void)state;
    for (size_t o = 0; o < 4; o++)
        for (size_t ki = 0; ki < 4; ki++)
            for (int off = 0; off <= 4; off += 4)
                for (int pos = 1; pos <= 2; pos++) {
                    const char *op = ops[o][0], *t = ops[o][1];
                    bool f = t[0] == 'f';
                    char ld[200], first[220], second[220];
                    if (ki < 3)
                        snprintf(addr, sizeof addr,
                                 "(i32.add (local.get 0) (i32.const %" PRId32 "))", ks[ki]);
                    else
                        snprintf(addr, sizeof addr, "(local.get 0)");
                    snprintf(ld, sizeof ld, "(%s.load offset=%d %s)", t, off, addr);
                    /* got: the load right before the operator */
                    snprintf(first, sizeof first, "%s", pos == 1 ? ld : "(local.get 3)");
                    snprintf(second, sizeof second, "%s", pos == 1 ? "(local.get 3)" : ld);
                    fprintf(w,
                            "(func (export \"m%zu_%zu_%d_%d\") (param i32 i32 i32) (result %s)"
                            " (local %s %s) (local.set 3 %s)"
                            " (%s %s %s))\n"
                            "(func (export \"m%zu_%zu_%d_%d_l\") (param i32 i32 i32) (result %s)"
                            " (local %s %s) (local.set 3 %s)"
                            " (local.set 4 (%s %s %s)) (local.get 4))\n",
                            o, ki, off, pos, t, t, t,
                            f ? "(f64.convert_i32_s (local.get 1))" : "(local.get 1)", op, first,
                            second, o, ki, off, pos, t, t, t,
                            f ? "(f64.convert_i32_s (local.get 1))" : "(local.get 1)", op, first,
                            second);
                    fprintf(w,
                            "(func (export \"m%zu_%zu_%d_%d_ref\") (param i32 i32 i32) (result %s)"
                            " (local %s %s) (local.set 3 %s) (local.set 4 %s)"
                            " (%s %s %s))\n",
                            o, ki, off, pos, t, t, t,
                            f ? "(f64.convert_i32_s (local.get 1))" : "(local.get 1)", ld, op,
                            pos == 1 ? "(local.get 4)" : "(local.get 3)",
                            pos == 1 ? "(local.get 3)" : "(local.get 4)");
                }
    fx_load(&fx, w, &wat);
    for (size_t o = 0; o < 4; o++)
        for (size_t ki = 0; ki < 4; ki++)
            for (int off = 0; off <= 4; off += 4)
                for (int pos = 1; pos <= 2; pos++)
                    for (size_t x = 0; x < sizeof addrs / sizeof addrs[0]; x++)
                        for (size_t y = 0; y < sizeof bs / sizeof bs[0]; y++) {
                            uint64_t args[3] = {addrs[x], bs[y], 0};
                            snprintf(ref, sizeof ref, "m%zu_%zu_%d_%d_ref", o, ki, off, pos);
                            for (int l = 0; l < 2; l++) {
                                snprintf(got, sizeof got, "m%zu_%zu_%d_%d%s", o, ki, off, pos,
                                         l ? "_l" : "");
                                if (o == 0)
                                    expect_same(&fx, got, ref, args, 3);
                                else
                                    expect_same_f64(&fx, got, ref, args);
                            }
                        }
    teardown_ops(&fx);
}

/* How many instructions of the module's code run operation `op` (any
 * variant): a form that is never emitted cannot be checked by running it. */
/* Instructions of `op` in variant `v` (or with the __R bit added) in one
 * function's code. */
static size_t count_variant(const struct wasm_code *c, int op, unsigned v)
{
    const void *const *labels = wasm_interp_labels();
    size_t n = 0;

    for (size_t off = 0; off + 8 <= c->code_len; off += 8) {
        const void *h;
        memcpy(&h, c->code + off, sizeof h);
        if (h != NULL &&
            (h == labels[op * WASM_NVARIANTS + v] || h == labels[op * WASM_NVARIANTS + (v | WV_R)]))
            n++;
    }
    return n;
}

/* Instructions of `op` (any variant) in one function's code. */
static size_t count_op_in(const struct wasm_code *c, int op)
{
    const void *const *labels = wasm_interp_labels();
    size_t n = 0;

    for (size_t off = 0; off + 8 <= c->code_len; off += 8) {
        const void *h;
        memcpy(&h, c->code + off, sizeof h);
        for (int v = 0; v < WASM_NVARIANTS; v++)
            if (h != NULL && h == labels[op * WASM_NVARIANTS + v])
                n++;
    }
    return n;
}

static size_t count_op(const th_wasm_module *m, int op)
{
    const void *const *labels = wasm_interp_labels();
    size_t n = 0;

    for (uint32_t f = 0; f < m->nfuncs - m->nfunc_imports; f++) {
        const struct wasm_code *c = m->code[f];
        for (size_t off = 0; off + 8 <= c->code_len; off += 8) {
            const void *h;
            memcpy(&h, c->code + off, sizeof h);
            for (int v = 0; v < WASM_NVARIANTS; v++)
                if (h != NULL && h == labels[op * WASM_NVARIANTS + v])
                    n++;
        }
    }
    return n;
}

/* RMW_MADD32 instructions whose address adds an immediate (pk != 0). */
static size_t count_madd_k(const th_wasm_module *m)
{
    const void *h0 = wasm_interp_labels()[WOP_RMW_MADD32 * WASM_NVARIANTS];
    size_t n = 0;

    for (uint32_t f = 0; f < m->nfuncs - m->nfunc_imports; f++) {
        const struct wasm_code *c = m->code[f];
        for (size_t off = 0; off + WASM_INSN_SIZE(7) <= c->code_len; off += 8) {
            const void *h;
            memcpy(&h, c->code + off, sizeof h);
            if (h == h0 && WASM_OPND(c->code + off, 1) != 0)
                n++;
        }
    }
    return n;
}

/* Read-modify-write stores, the multiply-add store, the extend-then-add
 * pair and br_table on a loaded index, each against the same computation
 * through locals (which no merging crosses).  The fused and the reference
 * functions run on two instances of the module, so each sees the memory
 * the other's would: results, traps and the memories afterwards agree. */
static const char *rmw_ops[][3] = {
    /* type, operator, M_* position of the loaded value */
    {"i32", "add", "1"}, {"i32", "add", "2"}, {"f64", "add", "1"}, {"f64", "add", "2"},
    {"f64", "sub", "1"}, {"f64", "sub", "2"}, {"f64", "mul", "1"}, {"f64", "mul", "2"},
};
#define NRMW (sizeof rmw_ops / sizeof rmw_ops[0])

static void gen_rmw(FILE *w)
{
    static const int offs[] = {0, 8};
    /* i32 a[p] += b[q + k] * x in both multiplication orders, k = 0 or not */
    for (int o = 0; o < 2; o++)
        for (int order = 0; order < 2; order++)
            for (int kk = 0; kk < 2; kk++) {
                char ld[160], mul[300];
                int off = offs[o];
                if (kk)
                    snprintf(ld, sizeof ld,
                             "(i32.load offset=4 (i32.add (local.get 1) (i32.const -4)))");
                else
                    snprintf(ld, sizeof ld, "(i32.load offset=4 (local.get 1))");
                snprintf(mul, sizeof mul,
                         order ? "(i32.mul (local.get 2) %s)" : "(i32.mul %s (local.get 2))", ld);
                fprintf(w,
                        "(func (export \"madd_%d%d%d\") (param i32 i32 i32) (result i32)\n"
                        " (i32.store offset=%d (local.get 0)\n"
                        "  (i32.add (i32.load offset=%d (local.get 0)) %s))\n"
                        " (i32.load offset=%d (local.get 0)))\n",
                        o, order, kk, off, off, mul, off);
                fprintf(
                    w,
                    "(func (export \"madd_%d%d%d_ref\") (param i32 i32 i32) (result i32)"
                    " (local i32 i32)\n"
                    " (local.set 3 (i32.load offset=%d (local.get 0)))\n"
                    " (local.set 4 %s)\n"
                    " (local.set 4 (i32.mul (local.get 4) (local.get 2)))\n"
                    " (i32.store offset=%d (local.get 0) (i32.add (local.get 3) (local.get 4)))\n"
                    " (i32.load offset=%d (local.get 0)))\n",
                    o, order, kk, off, ld, off, off);
            }
    /* the same through an address just set, a[p = a + k] += b[q] * x (the
     * second element of an unrolled loop), p another local (t 0) or the
     * one the address is computed from (t 1, p = p + k) */
    for (int t = 0; t < 2; t++)
        for (size_t k = 0; k < 3; k++) {
            static const int32_t ks[] = {4, -4, 65532};
            int p = t ? 0 : 3;
            fprintf(w,
                    "(func (export \"maddt_%d%zu\") (param i32 i32 i32) (result i32) (local i32)\n"
                    " (i32.store offset=4 (local.tee %d (i32.add (local.get 0) (i32.const %d)))\n"
                    "  (i32.add (i32.load offset=4 (local.get %d))\n"
                    "   (i32.mul (i32.load offset=4 (local.get 1)) (local.get 2))))\n"
                    " (i32.add (i32.load offset=4 (local.get %d)) (local.get %d)))\n",
                    t, k, p, ks[k], p, p, p);
            fprintf(w,
                    "(func (export \"maddt_%d%zu_ref\") (param i32 i32 i32) (result i32)"
                    " (local i32 i32 i32)\n"
                    " (local.set %d (i32.add (local.get 0) (i32.const %d)))\n"
                    " (local.set 4 (i32.load offset=4 (local.get %d)))\n"
                    " (local.set 5 (i32.load offset=4 (local.get 1)))\n"
                    " (local.set 5 (i32.mul (local.get 5) (local.get 2)))\n"
                    " (i32.store offset=4 (local.get %d) (i32.add (local.get 4) (local.get 5)))\n"
                    " (i32.add (i32.load offset=4 (local.get %d)) (local.get %d)))\n",
                    t, k, p, ks[k], p, p, p, p);
        }
    /* a[p] = a[p] OP b (M_* then the store back) */
    for (size_t i = 0; i < NRMW; i++)
        for (int o = 0; o < 2; o++) {
            const char *t = rmw_ops[i][0], *op = rmw_ops[i][1];
            bool f = t[0] == 'f';
            char b[80], ld[80];
            snprintf(b, sizeof b, f ? "(f64.convert_i32_s (local.get 1))" : "(local.get 1)");
            snprintf(ld, sizeof ld, "(%s.load offset=%d (local.get 0))", t, offs[o]);
            fprintf(w,
                    "(func (export \"rmw_%zu_%d\") (param i32 i32 i32) (result %s) (local %s)\n"
                    " (local.set 3 %s)\n"
                    " (%s.store offset=%d (local.get 0) (%s.%s %s %s))\n"
                    " (%s.load offset=%d (local.get 0)))\n",
                    i, o, t, t, b, t, offs[o], t, op,
                    rmw_ops[i][2][0] == '1' ? ld : "(local.get 3)",
                    rmw_ops[i][2][0] == '1' ? "(local.get 3)" : ld, t, offs[o]);
            fprintf(
                w,
                "(func (export \"rmw_%zu_%d_ref\") (param i32 i32 i32) (result %s) (local %s %s)\n"
                " (local.set 3 %s) (local.set 4 %s)\n"
                " (local.set 4 (%s.%s %s %s))\n"
                " (%s.store offset=%d (local.get 0) (local.get 4))\n"
                " (%s.load offset=%d (local.get 0)))\n",
                i, o, t, t, t, b, ld, t, op,
                rmw_ops[i][2][0] == '1' ? "(local.get 4)" : "(local.get 3)",
                rmw_ops[i][2][0] == '1' ? "(local.get 3)" : "(local.get 4)", t, offs[o], t,
                offs[o]);
        }
    /* a[p] = a[p] OP X, X computed after the load (RMWA_*): a product, a
     * fused multiply-add or a quotient of the parameters */
    for (size_t i = 0; i < 3; i++)
        for (int xk = 0; xk < 3; xk++) {
            static const char *fops[] = {"add", "sub", "mul"};
            static const char *xs[] = {
                "(f64.mul (local.get 3) (local.get 4))",
                "(f64.add (f64.mul (local.get 3) (local.get 3)) (local.get 4))",
                "(f64.div (local.get 4) (local.get 3))"};
            fprintf(
                w,
                "(func (export \"rmwa_%zu_%d\") (param i32 i32 i32) (result f64) (local f64 f64)\n"
                " (local.set 3 (f64.convert_i32_s (local.get 1)))"
                " (local.set 4 (f64.convert_i32_s (local.get 2)))\n"
                " (f64.store offset=8 (local.get 0) (f64.%s (f64.load offset=8 (local.get 0)) "
                "%s))\n"
                " (f64.load offset=8 (local.get 0)))\n",
                i, xk, fops[i], xs[xk]);
            fprintf(w,
                    "(func (export \"rmwa_%zu_%d_ref\") (param i32 i32 i32) (result f64)"
                    " (local f64 f64 f64 f64)\n"
                    " (local.set 3 (f64.convert_i32_s (local.get 1)))"
                    " (local.set 4 (f64.convert_i32_s (local.get 2)))\n"
                    " (local.set 5 (f64.load offset=8 (local.get 0))) (local.set 6 %s)\n"
                    " (f64.store offset=8 (local.get 0) (f64.%s (local.get 5) (local.get 6)))\n"
                    " (f64.load offset=8 (local.get 0)))\n",
                    i, xk, xs[xk], fops[i]);
        }
    /* i64.add of an extended i32: the i32 from a slot or the accumulator,
     * the other operand from a slot or the accumulator, either side */
    for (int s = 0; s < 2; s++) {
        const char *ext = s ? "i64.extend_i32_s" : "i64.extend_i32_u";
        fprintf(w,
                "(func (export \"ext_%d_1\") (param i32 i32 i32) (result i64)"
                " (i64.add (%s (local.get 0)) (i64.extend_i32_u (local.get 1))))\n"
                "(func (export \"ext_%d_2\") (param i32 i32 i32) (result i64)"
                " (i64.add (i64.mul (i64.extend_i32_u (local.get 1)) (i64.const 3)) (%s (local.get "
                "0))))\n"
                "(func (export \"ext_%d_3\") (param i32 i32 i32) (result i64)"
                " (i64.mul (i64.add (%s (i32.add (local.get 0) (local.get 2)))"
                " (i64.extend_i32_s (local.get 1))) (i64.const 5)))\n",
                s, ext, s, ext, s, ext);
        fprintf(w,
                "(func (export \"ext_%d_1_ref\") (param i32 i32 i32) (result i64) (local i64 i64)"
                " (local.set 3 (%s (local.get 0))) (local.set 4 (i64.extend_i32_u (local.get 1)))"
                " (i64.add (local.get 3) (local.get 4)))\n"
                "(func (export \"ext_%d_2_ref\") (param i32 i32 i32) (result i64) (local i64 i64)"
                " (local.set 4 (i64.mul (i64.extend_i32_u (local.get 1)) (i64.const 3)))"
                " (local.set 3 (%s (local.get 0))) (i64.add (local.get 4) (local.get 3)))\n"
                "(func (export \"ext_%d_3_ref\") (param i32 i32 i32) (result i64) (local i64 i64)"
                " (local.set 3 (%s (i32.add (local.get 0) (local.get 2))))"
                " (local.set 4 (i64.extend_i32_s (local.get 1)))"
                " (local.set 3 (i64.add (local.get 3) (local.get 4)))"
                " (i64.mul (local.get 3) (i64.const 5)))\n",
                s, ext, s, ext, s, ext);
    }
    /* loop-carried values rotating through locals: three or four copies in
     * a row (COPY3 / COPY4), before a br (P_COPY*_BR_BACK) or a br_if; the
     * reference puts an instruction between the copies */
    for (int n = 3; n <= 4; n++)
        for (int br = 0; br < 2; br++)
            for (int ref = 0; ref < 2; ref++) {
                static const char *v[] = {"$a", "$b", "$c", "$d"};
                fprintf(w,
                        "(func (export \"rot%d%s%s\") (param i32 i32 i32) (result i32)"
                        " (local $a i32) (local $b i32) (local $c i32) (local $d i32)"
                        " (local $t i32) (local $n i32)\n"
                        " (local.set $a (local.get 0)) (local.set $n (i32.const 19))"
                        " (local.set $b (local.get 1)) (local.set $t (i32.const 0))"
                        " (local.set $c (local.get 2)) (local.set $d (i32.const 7))\n"
                        " (block $out (loop $top\n"
                        "  (br_if $out (i32.eqz (local.get $n)))\n"
                        "  (local.set $n (i32.sub (local.get $n) (i32.const 1)))\n"
                        "  (local.set $t (i32.add (i32.mul (local.get $a) (i32.const 3))"
                        " (i32.rotl (local.get %s) (local.get $n))))\n",
                        n, br ? "" : "b", ref ? "_ref" : "", v[n - 1]);
                for (int i = 0; i < n; i++) {
                    const char *src = i == n - 1 ? "$t" : v[i + 1];
                    if (ref)
                        fprintf(w,
                                "  (local.set %s (i32.add (local.get %s) (i32.const 0)))"
                                " (local.set $t (local.get $t))\n",
                                v[i], src);
                    else
                        fprintf(w, "  (local.set %s (local.get %s))\n", v[i], src);
                }
                fprintf(w,
                        "  %s))\n"
                        " (i32.xor (i32.xor (local.get $a) (i32.shl (local.get $b) (i32.const 8)))"
                        " (i32.xor (i32.shl (local.get $c) (i32.const 16))"
                        " (i32.rotl (local.get $d) (i32.const 24)))))\n",
                        br ? "(br $top)" : "(br_if $top (i32.const 1))");
            }
    /* br_table on a loaded index (a small virtual machine: the code at
     * 4 * pc + 256, operations add 3 / xor 0x55 / multiply by 7 / halt,
     * anything else the default) */
    fputs("(func $vm (param $pc i32) (param $v i32) (param $ref i32) (result i32) (local $op i32)\n"
          " (loop $next\n"
          "  (block $halt (block $mul (block $xor (block $add\n"
          "   (if (local.get $ref) (then\n"
          "     (local.set $op (i32.load offset=4 (i32.add (i32.shl (local.get $pc) (i32.const 2))"
          " (i32.const 252))))\n"
          "     (local.set $pc (i32.add (local.get $pc) (i32.const 1)))\n"
          "     (br_table $add $xor $mul $halt (local.get $op))))\n"
          "   (local.set $pc (i32.add (local.get $pc) (i32.const 1)))\n"
          "   (br_table $add $xor $mul $halt\n"
          "    (i32.load offset=4 (i32.add (i32.shl (local.get $pc) (i32.const 2))"
          " (i32.const 248)))))\n"
          "   (local.set $v (i32.add (local.get $v) (i32.const 3))) (br $next))\n"
          "   (local.set $v (i32.xor (local.get $v) (i32.const 0x55))) (br $next))\n"
          "   (local.set $v (i32.mul (local.get $v) (i32.const 7))) (br $next)))\n"
          " (i32.add (local.get $v) (local.get $pc)))\n"
          "(func (export \"vm\") (param i32 i32 i32) (result i32)"
          " (call $vm (local.get 0) (local.get 1) (i32.const 0)))\n"
          "(func (export \"vm_ref\") (param i32 i32 i32) (result i32)"
          " (call $vm (local.get 0) (local.get 1) (i32.const 1)))\n",
          w);
}

static void test_rmw_and_pairs(void **state)
{
    static const uint32_t addrs[] = {0,     4,     8,     100,   65520,      65524,
                                     65528, 65532, 65535, 65536, 0xfffffffc, 0x80000000};
    static const uint32_t xs[] = {0, 1, 7, 0xffffffff, 0x80000000, 0x12345678};
    chain_fixture fa, fb;
    char *wat = NULL, got[64], ref[64];
    size_t watlen = 0;
    FILE *w = open_memory_module(
        &wat, &watlen, "\\81\\02\\c3\\04\\f5\\06\\87\\f8\\ff\\ff\\00\\00\\00\\40\\33\\33");
    th_error err = {0};

    (void)state;
    fputs("(data (i32.const 96) "
          "\"\\10\\20\\30\\40\\50\\60\\70\\80\\90\\a0\\b0\\c0\\d0\\e0\\f0\\ff\")\n"
          "(data (i32.const 256) \"\\00\\00\\00\\00\\01\\00\\00\\00\\02\\00\\00\\00\\00\\00\\00\\00"
          "\\09\\00\\00\\00\\02\\00\\00\\00\\01\\00\\00\\00\\03\\00\\00\\00\")\n",
          w);
    gen_rmw(w);
    fx_load(&fa, w, &wat);
    /* a second instance of the same module: each writes its own memory */
    fb = fa;
    assert_int_equal(th_wasm_instance_new(fa.mod, fa.imp, NULL, &fb.inst, &err), TH_OK);
    fb.ex = th_wasm_exec_new(NULL);

    /* every form is emitted: 8 multiply-add stores, 16 read-modify-write
     * stores (two of each operation, i32.add's in both positions), 6
     * read-modify-write stores with the accumulator, 6
     * extend-then-add pairs, and the br_table on a loaded index */
    assert_int_equal(count_op(fa.mod, WOP_RMW_MADD32), 8 + 6);
    assert_int_equal(count_madd_k(fa.mod), 3);
    /* each of them right after the I32_ADD_K it reads through: a pair */
    assert_int_equal(count_op(fa.mod, WOP_P_ADDK_RMW_MADD32), 3);
    for (int op = WOP_RMW_I32_ADD; op <= WOP_RMW_F64_MUL2; op++)
        assert_int_equal(count_op(fa.mod, op), op == WOP_RMW_I32_ADD ? 4 : 2);
    /* (X a product fuses with the operator into an F_FMUL_* pair instead) */
    for (int op = WOP_RMWA_F64_ADD; op <= WOP_RMWA_F64_MUL; op++)
        assert_int_equal(count_op(fa.mod, op), 2);
    assert_int_equal(count_op(fa.mod, WOP_F_EXTU_ADD64), 3);
    assert_int_equal(count_op(fa.mod, WOP_F_EXTS_ADD64), 3);
    assert_int_equal(count_op(fa.mod, WOP_P_LSK32_BR_TABLE), 1);
    /* with the pc + 1 right before it (vm, not vm_ref) */
    assert_int_equal(count_op(fa.mod, WOP_P_ADDK_LSK32_BR_TABLE), 1);
    assert_int_equal(count_op(fa.mod, WOP_P_COPY3_BR_BACK), 1);
    assert_int_equal(count_op(fa.mod, WOP_P_COPY4_BR_BACK), 1);
    assert_true(count_op(fa.mod, WOP_COPY3) >= 1);
    assert_true(count_op(fa.mod, WOP_COPY4) >= 1);

    for (size_t x = 0; x < sizeof addrs / sizeof addrs[0]; x++)
        for (size_t y = 0; y < sizeof addrs / sizeof addrs[0]; y++)
            for (size_t z = 0; z < sizeof xs / sizeof xs[0]; z++) {
                uint64_t args[3] = {addrs[x], addrs[y], xs[z]};
                for (int o = 0; o < 2; o++)
                    for (int order = 0; order < 2; order++)
                        for (int kk = 0; kk < 2; kk++) {
                            snprintf(got, sizeof got, "madd_%d%d%d", o, order, kk);
                            snprintf(ref, sizeof ref, "madd_%d%d%d_ref", o, order, kk);
                            expect_same_across(&fa, &fb, got, ref, args, 3);
                        }
                for (int t = 0; t < 2; t++)
                    for (int k = 0; k < 3; k++) {
                        snprintf(got, sizeof got, "maddt_%d%d", t, k);
                        snprintf(ref, sizeof ref, "maddt_%d%d_ref", t, k);
                        expect_same_across(&fa, &fb, got, ref, args, 3);
                    }
            }
    for (size_t i = 0; i < NRMW; i++)
        for (int o = 0; o < 2; o++)
            for (size_t x = 0; x < sizeof addrs / sizeof addrs[0]; x++)
                for (size_t z = 0; z < sizeof xs / sizeof xs[0]; z++) {
                    uint64_t args[3] = {addrs[x], xs[z], 0};
                    snprintf(got, sizeof got, "rmw_%zu_%d", i, o);
                    snprintf(ref, sizeof ref, "rmw_%zu_%d_ref", i, o);
                    expect_same_across(&fa, &fb, got, ref, args, 3);
                }
    for (size_t i = 0; i < 3; i++)
        for (int xk = 0; xk < 3; xk++)
            for (size_t x = 0; x < sizeof addrs / sizeof addrs[0]; x++)
                for (size_t z = 0; z < sizeof xs / sizeof xs[0]; z++) {
                    uint64_t args[3] = {addrs[x], xs[z], xs[(z + 1) % 6]};
                    snprintf(got, sizeof got, "rmwa_%zu_%d", i, xk);
                    snprintf(ref, sizeof ref, "rmwa_%zu_%d_ref", i, xk);
                    expect_same_across(&fa, &fb, got, ref, args, 3);
                }
    for (int s = 0; s < 2; s++)
        for (int f = 1; f <= 3; f++)
            for (size_t x = 0; x < sizeof xs / sizeof xs[0]; x++)
                for (size_t y = 0; y < sizeof xs / sizeof xs[0]; y++) {
                    uint64_t args[3] = {xs[x], xs[y], xs[(x + y) % 6]};
                    snprintf(got, sizeof got, "ext_%d_%d", s, f);
                    snprintf(ref, sizeof ref, "ext_%d_%d_ref", s, f);
                    expect_same(&fa, got, ref, args, 3);
                }
    for (int n = 3; n <= 4; n++)
        for (int br = 0; br < 2; br++)
            for (size_t x = 0; x < sizeof xs / sizeof xs[0]; x++)
                for (size_t y = 0; y < sizeof xs / sizeof xs[0]; y++) {
                    uint64_t args[3] = {xs[x], xs[y], xs[(x + 2 * y + 1) % 6]};
                    snprintf(got, sizeof got, "rot%d%s", n, br ? "" : "b");
                    snprintf(ref, sizeof ref, "rot%d%s_ref", n, br ? "" : "b");
                    expect_same(&fa, got, ref, args, 3);
                }
    /* the VM from each start, and from out of bounds (a trap in both) */
    for (uint32_t pc = 0; pc < 10; pc++)
        for (size_t z = 0; z < sizeof xs / sizeof xs[0]; z++) {
            uint64_t args[3] = {pc, xs[z], 0};
            expect_same(&fa, "vm", "vm_ref", args, 3);
        }
    {
        uint64_t args[3] = {0x3fffffc0, 1, 0};
        int rc;
        call_raw(&fa, "vm", args, 3, &rc);
        assert_int_equal(rc, TH_WASM_TRAPPED);
        expect_same(&fa, "vm", "vm_ref", args, 3);
    }
    {
        uint64_t sa = 0, sb = 0;
        uint8_t *ma = th_wasm_memory_data(th_wasm_instance_memory0(fa.inst), &sa);
        uint8_t *mb = th_wasm_memory_data(th_wasm_instance_memory0(fb.inst), &sb);
        assert_int_equal(sa, sb);
        assert_memory_equal(ma, mb, sa);
    }
    th_wasm_exec_free(fb.ex);
    th_wasm_instance_free(fb.inst);
    teardown_ops(&fa);
}

/* A call's result in the accumulator: RET1 leaves a one-value result
 * there as well as in slot 0, so the instruction right after a CALL may
 * read it (its _A / _B variant).  Callees return through every path
 * (end, return, br_if, br to the function, br_table), with every scalar
 * type; the callers are checked against the same computation with each
 * result stored in a local first, and a recursive function is run one
 * fuel unit at a time (resuming inside callees and after their return). */
static const char *call_acc_wat =
    "(module\n"
    "(type $t (func (param i32 i32) (result i32)))\n"
    "(table 2 funcref) (elem (i32.const 0) $c_par $c_sub)\n"
    "(func $c_par (param i32 i32) (result i32) (local.get 0))\n"
    "(func $c_sub (param i32 i32) (result i32) (i32.sub (local.get 0) (local.get 1)))\n"
    "(func $c_br (param i32 i32) (result i32)\n"
    "  (block (result i32)\n"
    "    (drop (br_if 1 (i32.mul (local.get 0) (i32.const 3))\n"
    "                   (i32.lt_u (local.get 0) (local.get 1))))\n"
    "    (if (i32.eq (local.get 1) (i32.const 7)) (then (return (i32.const 70))))\n"
    "    (if (i32.eq (local.get 1) (i32.const 8)) (then (br 2 (local.get 1))))\n"
    "    (br_table 0 1 (i32.xor (local.get 0) (local.get 1))\n"
    "                  (i32.and (local.get 1) (i32.const 1))))\n"
    "  (i32.add (i32.const 7)))\n"
    "(func $c_i64 (param i64) (result i64) (i64.rotl (local.get 0) (i64.const 13)))\n"
    "(func $c_f64 (param f64) (result f64) (f64.mul (local.get 0) (f64.const 1.5)))\n"
    "(func $c_f32 (param f32) (result f32) (f32.sub (local.get 0) (f32.const 2.5)))\n"
    "(func (export \"calls\") (param i32 i32 i32) (result i32) (local i32 i32)\n"
    "  (local.set 3 (i32.add (call $c_par (local.get 0) (local.get 1)) (local.get 2)))\n"
    "  (local.set 3 (i32.xor (local.get 3)\n"
    "    (i32.sub (local.get 2) (call $c_sub (local.get 0) (local.get 1)))))\n"
    "  (local.set 3 (i32.add (local.get 3)\n"
    "    (i32.mul (call $c_br (local.get 0) (local.get 1)) (i32.const 5))))\n"
    "  (local.set 3 (i32.add (local.get 3) (i32.wrap_i64 (i64.xor\n"
    "    (call $c_i64 (i64.extend_i32_u (local.get 0))) (i64.const 0x123456789)))))\n"
    "  (local.set 3 (i32.add (local.get 3) (i32.trunc_sat_f64_s (f64.add\n"
    "    (call $c_f64 (f64.convert_i32_s (local.get 1))) (f64.const 0.25)))))\n"
    "  (local.set 3 (i32.add (local.get 3) (i32.reinterpret_f32\n"
    "    (call $c_f32 (f32.convert_i32_u (local.get 2))))))\n"
    "  (if (call $c_sub (local.get 1) (local.get 2))\n"
    "    (then (local.set 3 (i32.add (local.get 3) (i32.const 1000)))))\n"
    "  (local.set 4 (call $c_br (local.get 2) (local.get 0)))\n"
    "  (local.set 3 (i32.add (local.get 3) (local.get 4)))\n"
    "  (local.set 3 (i32.add (local.get 3) (call_indirect (type $t)\n"
    "    (local.get 0) (local.get 1) (i32.and (local.get 2) (i32.const 1)))))\n"
    "  (block (br_if 0 (i32.eqz (call $c_par (local.get 2) (local.get 0))))\n"
    "    (local.set 3 (i32.rotl (local.get 3) (i32.const 3))))\n"
    "  (local.get 3))\n"
    "(func (export \"calls_ref\") (param i32 i32 i32) (result i32)\n"
    "  (local i32 i32 i32 i64 f64 f32)\n"
    "  (local.set 5 (call $c_par (local.get 0) (local.get 1)))\n"
    "  (local.set 3 (i32.add (local.get 5) (local.get 2)))\n"
    "  (local.set 5 (call $c_sub (local.get 0) (local.get 1)))\n"
    "  (local.set 3 (i32.xor (local.get 3) (i32.sub (local.get 2) (local.get 5))))\n"
    "  (local.set 5 (call $c_br (local.get 0) (local.get 1)))\n"
    "  (local.set 3 (i32.add (local.get 3) (i32.mul (local.get 5) (i32.const 5))))\n"
    "  (local.set 6 (call $c_i64 (i64.extend_i32_u (local.get 0))))\n"
    "  (local.set 3 (i32.add (local.get 3)\n"
    "    (i32.wrap_i64 (i64.xor (local.get 6) (i64.const 0x123456789)))))\n"
    "  (local.set 7 (call $c_f64 (f64.convert_i32_s (local.get 1))))\n"
    "  (local.set 3 (i32.add (local.get 3)\n"
    "    (i32.trunc_sat_f64_s (f64.add (local.get 7) (f64.const 0.25)))))\n"
    "  (local.set 8 (call $c_f32 (f32.convert_i32_u (local.get 2))))\n"
    "  (local.set 3 (i32.add (local.get 3) (i32.reinterpret_f32 (local.get 8))))\n"
    "  (local.set 5 (call $c_sub (local.get 1) (local.get 2)))\n"
    "  (if (local.get 5) (then (local.set 3 (i32.add (local.get 3) (i32.const 1000)))))\n"
    "  (local.set 4 (call $c_br (local.get 2) (local.get 0)))\n"
    "  (local.set 3 (i32.add (local.get 3) (local.get 4)))\n"
    "  (local.set 5 (call_indirect (type $t)\n"
    "    (local.get 0) (local.get 1) (i32.and (local.get 2) (i32.const 1))))\n"
    "  (local.set 3 (i32.add (local.get 3) (local.get 5)))\n"
    "  (local.set 5 (call $c_par (local.get 2) (local.get 0)))\n"
    "  (if (local.get 5) (then (local.set 3 (i32.rotl (local.get 3) (i32.const 3)))))\n"
    "  (local.get 3))\n"
    "(func $fib (export \"fib\") (param i32) (result i64)\n"
    "  (if (result i64) (i32.lt_u (local.get 0) (i32.const 2))\n"
    "    (then (i64.extend_i32_u (local.get 0)))\n"
    "    (else (i64.add (call $fib (i32.sub (local.get 0) (i32.const 1)))\n"
    "                   (call $fib (i32.sub (local.get 0) (i32.const 2)))))))\n";

/* Instructions right after a CALL that read the accumulator. */
static size_t count_acc_after_call(const th_wasm_module *m)
{
    const void *const *labels = wasm_interp_labels();
    size_t n = 0;

    for (uint32_t f = 0; f < m->nfuncs - m->nfunc_imports; f++) {
        const struct wasm_code *c = m->code[f];
        for (size_t off = 0; off + WASM_CALL_SIZE + 8 <= c->code_len; off += 8) {
            const void *h;
            bool is_call = false;
            memcpy(&h, c->code + off, sizeof h);
            for (int k = 0; k < 3; k++)
                is_call |= h == labels[(WOP_CALL + k) * WASM_NVARIANTS] ||
                           h == labels[(WOP_CALL_A + k) * WASM_NVARIANTS];
            if (!is_call)
                continue;
            memcpy(&h, c->code + off + WASM_CALL_SIZE, sizeof h);
            for (int i = 0; i < WOP_COUNT_ * WASM_NVARIANTS; i++)
                if (h != NULL && labels[i] == h && (i % WASM_NVARIANTS) & (WV_A | WV_B)) {
                    n++;
                    break;
                }
        }
    }
    return n;
}

static void test_call_result_accumulator(void **state)
{
    static const uint32_t xs[] = {0, 1, 2, 7, 8, 9, 0x7fffffff, 0x80000000, 0xfffffff9, 0xffffffff};
    chain_fixture fx;
    char *wat = NULL;
    size_t watlen = 0;
    FILE *w = open_memstream(&wat, &watlen);
    th_wasm_val arg = {.i32 = 20}, want = {0}, res = {0};
    int rc, rounds;

    (void)state;
    assert_non_null(w);
    /* fx_load closes the module */
    fputs(call_acc_wat, w);
    fx_load(&fx, w, &wat);
    /* the consumers of $c_par, $c_sub (twice), $c_br, $c_i64, $c_f32 and
     * $c_par in the br_if, and fib's second call (its first result is read
     * from its slot); not $c_f64's: f64 arithmetic reads the f64
     * accumulator, which a return does not set */
    assert_int_equal(count_acc_after_call(fx.mod), 8);
    for (size_t x = 0; x < sizeof xs / sizeof xs[0]; x++)
        for (size_t y = 0; y < sizeof xs / sizeof xs[0]; y++)
            for (size_t z = 0; z < sizeof xs / sizeof xs[0]; z++) {
                uint64_t args[3] = {xs[x], xs[y], xs[z]};
                expect_same(&fx, "calls", "calls_ref", args, 3);
            }
    assert_int_equal(
        th_wasm_exec_call(fx.ex, th_wasm_instance_func(fx.inst, "fib"), &arg, 1, &want, 1), TH_OK);
    assert_int_equal(want.i64, 6765);
    rc = call_fuel_by_unit(fx.ex, th_wasm_instance_func(fx.inst, "fib"), &arg, 1, &res, 100000,
                           &rounds);
    assert_int_equal(rc, TH_OK);
    assert_true(rounds >= 10000);
    assert_int_equal(res.i64, 6765);
    teardown_ops(&fx);
}

/* Calls whose callee initialises no slot at entry (CALL0) or zeroes one
 * declared local and has no constant slots (CALL1Z), against a callee
 * with two locals and constants (CALL, the copy loop): each call sees its
 * locals zero although the call before it, in the same stack slots, left
 * them written. */
static const char call_init_wat[] =
    "(module\n"
    "  (func $none (param i32) (result i64) (i64.extend_i32_u (local.get 0)))\n"
    "  (func $one (param i32) (result i64) (local i64)\n"
    "    (if (local.get 0) (then (local.set 1 (i64.extend_i32_u (local.get 0)))\n"
    "                          (return (local.get 1))))\n"
    "    (local.get 1))\n"
    "  (func $two (param i32) (result i64) (local i64 f64)\n"
    "    (if (local.get 0) (then (local.set 1 (i64.const 99)) (local.set 2 (f64.const 2))\n"
    "                          (return (i64.const 7))))\n"
    "    (i64.add (local.get 1) (i64.trunc_f64_s (local.get 2))))\n"
    "  (func (export \"run\") (param i32) (result i64)\n"
    "    (i64.add (i64.add (call $one (local.get 0)) (call $one (i32.const 0)))\n"
    "             (i64.add (i64.add (call $two (local.get 0)) (call $two (i32.const 0)))\n"
    "                      (call $none (local.get 0))))))\n";

static void test_call_init(void **state)
{
    ops_fixture fx;
    th_wasm_val arg = {.i32 = 1}, res = {0};

    (void)state;
    fx_load_text(&fx, call_init_wat, sizeof call_init_wat);
    assert_int_equal(count_op(fx.mod, WOP_CALL0), 1);
    /* $one and $two begin with a branch on their parameter, which they
     * read from the accumulator (CALL1Z_A, CALL_A: the call loads it) */
    assert_int_equal(count_op(fx.mod, WOP_CALL1Z_A), 2);
    assert_int_equal(count_op(fx.mod, WOP_CALL_A), 2);
    /* $one and $two with 1 write their locals, then the calls with 0
     * must find them zero: 1 + 0 + 7 + 0 + 1 */
    assert_int_equal(
        th_wasm_exec_call(fx.ex, th_wasm_instance_func(fx.inst, "run"), &arg, 1, &res, 1), TH_OK);
    assert_int_equal(res.i64, 9);
    arg.i32 = 0;
    assert_int_equal(
        th_wasm_exec_call(fx.ex, th_wasm_instance_func(fx.inst, "run"), &arg, 1, &res, 1), TH_OK);
    assert_int_equal(res.i64, 0);
    teardown_ops(&fx);
}

/* A bytecode VM's loop whose head steps its pc and dispatches on the
 * opcode the pc indexes (P_ADDK_LSK32_BR_TABLE), with back-edges that copy
 * the stepped pc back (P_COPY_BR_BACK_LSK), add to it (P_ADDK_BR_BACK_LSK)
 * or add to another local and then to it (P_ADDK2_BR_BACK_LSK): those do
 * the head's work themselves with the new pc.  Against the same VM whose
 * head indexes with a multiplication (none of those forms), over programs
 * that halt and one that runs off the end of memory (a trap in the
 * back-edge's load), also resumed one fuel unit at a time. */
static void gen_lsk_vm(FILE *w, const char *name, const char *index)
{
    fprintf(w,
            "(func (export \"%s\") (param $pc i32) (param $v i32) (result i32)"
            " (local $np i32) (local $x i32)\n"
            " (loop $next\n"
            "  (block $halt (block $c3 (block $c2 (block $c1 (block $c0\n"
            "   (local.set $np (i32.add (local.get $pc) (i32.const 1)))\n"
            "   (br_table $c0 $c1 $c2 $c3 $halt\n"
            "    (i32.load offset=4 (i32.add %s (i32.const 252)))))\n"
            "   (local.set $v (i32.add (local.get $v) (i32.const 3)))\n"
            "   (local.set $pc (local.get $np)) (br $next))\n"
            "   (local.set $v (i32.xor (local.get $v) (i32.const 0x55)))\n"
            "   (local.set $pc (i32.add (local.get $pc) (i32.const 2))) (br $next))\n"
            "   (local.set $v (i32.mul (local.get $v) (i32.const 7)))\n"
            "   (local.set $x (i32.add (local.get $x) (i32.const 1)))\n"
            "   (local.set $pc (i32.add (local.get $pc) (i32.const 2))) (br $next))\n"
            "   (local.set $v (i32.sub (local.get $v) (i32.const 1)))\n"
            "   (local.set $pc (local.get $np)) (br $next)))\n"
            " (i32.add (local.get $v) (i32.add (local.get $pc) (i32.mul (local.get $x) (i32.const "
            "1000)))))\n",
            name, index);
}

static void test_lsk_back_edges(void **state)
{
    ops_fixture fx;
    char *wat = NULL;
    size_t watlen = 0;
    FILE *w = open_memstream(&wat, &watlen);

    (void)state;
    assert_non_null(w);
    /* opcodes at 4 * pc + 256: 0 add 3 and step, 1 xor and skip one, 2
     * multiply, count and skip one, 3 subtract and step, 4.. halt; the
     * last word before the end is a 1 (its skip runs off the end) */
    fputs("(module (memory 1)\n"
          "(data (i32.const 256) \"\\00\\00\\00\\00\\01\\00\\00\\00\\02\\00\\00\\00\\00\\00\\00\\00"
          "\\03\\00\\00\\00\\02\\00\\00\\00\\01\\00\\00\\00\\00\\00\\00\\00\\03\\00\\00\\00\\09\\00"
          "\\00\\00"
          "\")\n"
          "(data (i32.const 65532) \"\\01\\00\\00\\00\")\n",
          w);
    gen_lsk_vm(w, "vm", "(i32.shl (local.get $pc) (i32.const 2))");
    gen_lsk_vm(w, "vm_ref", "(i32.mul (local.get $pc) (i32.const 4))");
    fx_load(&fx, w, &wat);
    assert_int_equal(count_op(fx.mod, WOP_P_COPY_BR_BACK_LSK), 2);
    assert_int_equal(count_op(fx.mod, WOP_P_ADDK_BR_BACK_LSK), 2);
    assert_int_equal(count_op(fx.mod, WOP_P_ADDK2_BR_BACK_LSK), 1);
    /* every start in the program reaches its halt (opcode 9 at pc 9) */
    for (uint32_t pc = 0; pc < 10; pc++)
        for (uint32_t v = 0; v < 3; v++) {
            th_wasm_val args[2] = {{.i32 = (int32_t)pc}, {.i32 = (int32_t)(v * 0x1234567)}};
            th_wasm_val res = {0}, ref = {0};
            int rounds;
            th_wasm_exec_set_fuel(fx.ex, UINT64_MAX);
            assert_int_equal(th_wasm_exec_call(fx.ex, th_wasm_instance_func(fx.inst, "vm_ref"),
                                               args, 2, &ref, 1),
                             TH_OK);
            assert_int_equal(
                th_wasm_exec_call(fx.ex, th_wasm_instance_func(fx.inst, "vm"), args, 2, &res, 1),
                TH_OK);
            assert_int_equal(res.i32, ref.i32);
            assert_int_equal(call_fuel_by_unit(fx.ex, th_wasm_instance_func(fx.inst, "vm"), args, 2,
                                               &res, 1000, &rounds),
                             TH_OK);
            assert_int_equal(res.i32, ref.i32);
        }
    /* from the last word: its skip leaves memory, in the back-edge's load */
    for (int f = 0; f < 2; f++) {
        th_wasm_val args[2] = {{.i32 = (65532 - 256) / 4}, {.i32 = 1}}, res = {0};
        th_wasm_exec_set_fuel(fx.ex, UINT64_MAX);
        assert_int_equal(th_wasm_exec_call(fx.ex,
                                           th_wasm_instance_func(fx.inst, f ? "vm" : "vm_ref"),
                                           args, 2, &res, 1),
                         TH_WASM_TRAPPED);
        assert_int_equal(th_wasm_exec_trap_kind(fx.ex), TH_WASM_TRAP_MEMORY_OOB);
    }
    teardown_ops(&fx);
}

/* A call whose last argument an addition of a constant has just computed
 * (`f(n - 1)`, with no local's value below it on the operand stack, which
 * the call would copy out first): the addition and the call run as one pair
 * (P_ADDK_CALL, P_ADDK_CALL0, P_ADDK_CALL1Z, following the handler the
 * call gets once its callee is known), against the sums computed here,
 * also resumed one fuel unit at a time (the call spends one, and is where
 * a call out of fuel resumes). */
static const char addk_call_wat[] =
    "(module\n"
    "  (func $sum0 (export \"sum0\") (param i32) (result i32)\n"
    "    (if (result i32) (i32.eqz (local.get 0)) (then (local.get 0))\n"
    "      (else (i32.add (call $sum0 (i32.add (local.get 0) (i32.const -1))) (local.get 0)))))\n"
    "  (func $sum1 (export \"sum1\") (param i32) (result i32) (local i32)\n"
    "    (if (i32.eqz (local.get 0)) (then (return (local.get 1))))\n"
    "    (local.set 1 (i32.add (local.get 1) (local.get 0)))\n"
    "    (i32.add (call $sum1 (i32.add (local.get 0) (i32.const -1))) (local.get 1)))\n"
    "  (func $sumc (export \"sumc\") (param i32) (result i64) (local i64)\n"
    "    (if (i32.eqz (local.get 0)) (then (return (local.get 1))))\n"
    "    (i64.add (i64.const 0x100000003)\n"
    "             (call $sumc (i32.add (local.get 0) (i32.const -1)))))\n"
    "  (func $cnt (param i32 i32) (result i32)\n"
    "    (if (i32.eqz (local.get 0)) (then (return (local.get 1))))\n"
    "    (call $cnt (i32.add (local.get 0) (i32.const -1)) (i32.add (local.get 1) (i32.const "
    "2))))\n"
    "  (func (export \"cnt\") (param i32) (result i32) (call $cnt (local.get 0) (i32.const 0)))\n"
    "  (global $g (mut i32) (i32.const 0))\n"
    "  (func $tri (export \"tri\") (param i32) (result i32)\n"
    "    (global.set $g (local.get 0))\n"
    "    (if (result i32) (i32.eqz (local.get 0)) (then (local.get 0))\n"
    "      (else (i32.add (call $tri (i32.add (local.get 0) (i32.const -1))) (local.get 0)))))\n"
    "  (type $t (func (param i32) (result i32)))\n"
    "  (table 1 funcref) (elem (i32.const 0) $sum0)\n"
    "  (func (export \"ind\") (param i32) (result i32)\n"
    "    (call_indirect (type $t) (local.get 0) (i32.const 0)))\n"
    "  (func $sum64 (export \"sum64\") (param i64) (result i64)\n"
    "    (if (result i64) (i64.eqz (local.get 0)) (then (local.get 0))\n"
    "      (else (i64.add (call $sum64 (i64.add (local.get 0) (i64.const -1))) (local.get "
    "0))))))\n";

static void test_addk_call(void **state)
{
    static const char *names[] = {"sum0", "sum1", "sumc", "cnt", "tri", "ind", "sum64"};
    ops_fixture fx;

    (void)state;
    fx_load_text(&fx, addk_call_wat, sizeof addk_call_wat);
    /* the callees but $tri begin with a branch on their first parameter,
     * read from the accumulator: the addition computing it puts it there
     * (P_ADDKA_*), or the call loads it ($cnt's, not the addition's;
     * $sum64's CALL_A), as do an indirect call ("ind", to $sum0) and the
     * exec's entry into each */
    assert_int_equal(count_op(fx.mod, WOP_P_ADDKA_CALL0), 1);
    assert_int_equal(count_op(fx.mod, WOP_P_ADDKA_CALL1Z), 1);
    assert_int_equal(count_op(fx.mod, WOP_P_ADDKA_CALL), 1);
    assert_int_equal(count_op(fx.mod, WOP_P_ADDK_CALL0_A), 1);
    assert_int_equal(count_op(fx.mod, WOP_P_ADDK_CALL0), 1);
    assert_int_equal(count_op(fx.mod, WOP_CALL_A), 1);
    for (int f = 0; f < 7; f++)
        for (uint32_t n = 0; n < 40; n += 1 + n / 4) {
            th_wasm_func *fn = th_wasm_instance_func(fx.inst, names[f]);
            th_wasm_val arg = {.i32 = (int32_t)n}, res = {0};
            uint64_t want = f == 2   ? (uint64_t)n * 0x100000003u
                            : f == 3 ? 2u * n
                                     : (uint64_t)n * (n + 1) / 2;
            if (f == 6)
                arg.i64 = (int64_t)n;
            int rounds;
            th_wasm_exec_set_fuel(fx.ex, UINT64_MAX);
            assert_int_equal(th_wasm_exec_call(fx.ex, fn, &arg, 1, &res, 1), TH_OK);
            assert_int_equal(f == 2 || f == 6 ? (uint64_t)res.i64 : (uint32_t)res.i32, want);
            assert_int_equal(call_fuel_by_unit(fx.ex, fn, &arg, 1, &res, 1000, &rounds), TH_OK);
            assert_int_equal(f == 2 || f == 6 ? (uint64_t)res.i64 : (uint32_t)res.i32, want);
        }
    teardown_ops(&fx);
}

/* A return of a sum to the accumulator (P_ADD32_RET1, P_ADD64_RET1,
 * P_EXTUADD64_RET1: the addition and the return in one instruction),
 * called directly and from callers that read the result from the
 * accumulator after the call, against the sums computed here. */
static const char ret_sum_wat[] =
    "(module\n"
    "  (func $add32 (export \"add32\") (param i32 i32) (result i32)\n"
    "    (i32.add (local.get 0) (local.get 1)))\n"
    "  (func $add64 (export \"add64\") (param i64 i64) (result i64)\n"
    "    (i64.add (local.get 0) (local.get 1)))\n"
    "  (func $extadd (export \"extadd\") (param i32 i64) (result i64)\n"
    "    (i64.add (local.get 1) (i64.extend_i32_u (local.get 0))))\n"
    "  (func (export \"use\") (param i32 i32) (result i64)\n"
    "    (i64.xor (i64.extend_i32_u (i32.mul (call $add32 (local.get 0) (local.get 1))\n"
    "                                        (i32.const 3)))\n"
    "             (i64.xor (i64.rotl (call $add64 (i64.extend_i32_s (local.get 0))\n"
    "                                             (i64.extend_i32_u (local.get 1)))\n"
    "                                (i64.const 17))\n"
    "                      (i64.mul (call $extadd (local.get 1) (i64.extend_i32_s (local.get 0)))\n"
    "                               (i64.const 5))))))\n";

static void test_return_sum(void **state)
{
    static const uint32_t xs[] = {0, 1, 2, 7, 0x7fffffff, 0x80000000, 0xfffffff9, 0xffffffff};
    ops_fixture fx;

    (void)state;
    fx_load_text(&fx, ret_sum_wat, sizeof ret_sum_wat);
    assert_int_equal(count_op(fx.mod, WOP_P_ADD32_RET1), 1);
    assert_int_equal(count_op(fx.mod, WOP_P_ADD64_RET1), 1);
    assert_int_equal(count_op(fx.mod, WOP_P_EXTUADD64_RET1), 1);
    for (size_t x = 0; x < sizeof xs / sizeof xs[0]; x++)
        for (size_t y = 0; y < sizeof xs / sizeof xs[0]; y++) {
            uint32_t a = xs[x], b = xs[y];
            uint64_t sa = (uint64_t)(int64_t)(int32_t)a;
            uint64_t s64 = sa + b, r64 = (s64 << 17) | (s64 >> 47);
            uint64_t want = (uint64_t)((a + b) * 3u) ^ (r64 ^ ((sa + b) * 5u));
            th_wasm_val args[2], res = {0};
            args[0].i32 = (int32_t)a;
            args[1].i32 = (int32_t)b;
            assert_int_equal(
                th_wasm_exec_call(fx.ex, th_wasm_instance_func(fx.inst, "add32"), args, 2, &res, 1),
                TH_OK);
            assert_int_equal((uint32_t)res.i32, a + b);
            args[0].i64 = (int64_t)sa;
            args[1].i64 = (int64_t)((uint64_t)b << 32 | a);
            assert_int_equal(
                th_wasm_exec_call(fx.ex, th_wasm_instance_func(fx.inst, "add64"), args, 2, &res, 1),
                TH_OK);
            assert_int_equal((uint64_t)res.i64, sa + ((uint64_t)b << 32 | a));
            args[0].i32 = (int32_t)a;
            assert_int_equal(th_wasm_exec_call(fx.ex, th_wasm_instance_func(fx.inst, "extadd"),
                                               args, 2, &res, 1),
                             TH_OK);
            assert_int_equal((uint64_t)res.i64, (uint64_t)a + ((uint64_t)b << 32 | a));
            args[0].i32 = (int32_t)a;
            args[1].i32 = (int32_t)b;
            assert_int_equal(
                th_wasm_exec_call(fx.ex, th_wasm_instance_func(fx.inst, "use"), args, 2, &res, 1),
                TH_OK);
            assert_int_equal((uint64_t)res.i64, want);
        }
    teardown_ops(&fx);
}

/* Additions of constants before a loop's back-edge (a pointer and a
 * counter stepped at a loop's end): an I32_ADD_K heading a pair with the
 * back-edge (P_ADDK_*), a P_ADDK_ADDK before it (P_ADDK2_*) and another
 * before that (P_ADDK3_*) run as one chain; when the branch tests the
 * value the last addition wrote, that value reaches it in the accumulator
 * (P_ADDK*A_* as the test's first operand, P_ADDK*B_* as its second).
 * Each loop against the sums computed here, also resumed one fuel unit at
 * a time (the back-edge is where a call out of fuel resumes, running its
 * own handler, which reads the slot). */
struct addk_loop {
    const char *name;
    int nadd;       /* 1..3 additions at the loop's end */
    const char *br; /* the back-edge */
    uint32_t stop;  /* the counter value that ends the loop */
    bool test_first;
    bool count_last; /* the counter is stepped by the last addition */
    int ops[3];      /* the pair and chains it is made of: ops[i] heads the
                        last i + 1 additions (and the branch) */
};

#define ADDK_LEVELS(p1, p2, p3, s) \
    { \
        WOP_##p1##_##s, WOP_##p2##_##s, WOP_##p3##_##s \
    }
static const struct addk_loop addk_loops[] = {
    {"brb1", 1, "(br_if $l (i32.gt_u (local.get 0) (i32.const 3)))", 3, false, true,
     ADDK_LEVELS(P_ADDKA, P_ADDK2A, P_ADDK3A, BRB_IF_I32_GT_U_K)},
    {"brb", 2, "(br_if $l (i32.gt_u (local.get 0) (i32.const 3)))", 3, false, true,
     ADDK_LEVELS(P_ADDKA, P_ADDK2A, P_ADDK3A, BRB_IF_I32_GT_U_K)},
    {"brb3", 3, "(br_if $l (i32.gt_u (local.get 0) (i32.const 3)))", 3, false, true,
     ADDK_LEVELS(P_ADDKA, P_ADDK2A, P_ADDK3A, BRB_IF_I32_GT_U_K)},
    {"nz", 2, "(br_if $l (local.get 0))", 0, false, true,
     ADDK_LEVELS(P_ADDKA, P_ADDK2A, P_ADDK3A, BR_IF_NZ_BACK)},
    {"nz3", 3, "(br_if $l (local.get 0))", 0, false, true,
     ADDK_LEVELS(P_ADDKA, P_ADDK2A, P_ADDK3A, BR_IF_NZ_BACK)},
    {"ltb1", 1, "(br_if $l (i32.lt_u (local.get 4) (local.get 0)))", 3, false, true,
     ADDK_LEVELS(P_ADDKB, P_ADDK2B, P_ADDK3B, BRB_IF_I32_LT_U)},
    {"ltb", 2, "(br_if $l (i32.lt_u (local.get 4) (local.get 0)))", 3, false, true,
     ADDK_LEVELS(P_ADDKB, P_ADDK2B, P_ADDK3B, BRB_IF_I32_LT_U)},
    {"ltb3", 3, "(br_if $l (i32.lt_u (local.get 4) (local.get 0)))", 3, false, true,
     ADDK_LEVELS(P_ADDKB, P_ADDK2B, P_ADDK3B, BRB_IF_I32_LT_U)},
    /* the test reads another local than the last addition's */
    {"other3", 3, "(br_if $l (i32.gt_u (local.get 0) (i32.const 3)))", 3, false, false,
     ADDK_LEVELS(P_ADDK, P_ADDK2, P_ADDK3, BRB_GT_U_K)},
    {"back", 2, "(br $l)", 0, true, true, ADDK_LEVELS(P_ADDK, P_ADDK2, P_ADDK3, BR_BACK)},
    {"back3", 3, "(br $l)", 0, true, true, ADDK_LEVELS(P_ADDK, P_ADDK2, P_ADDK3, BR_BACK)},
};
#undef ADDK_LEVELS

static void gen_addk_loop(FILE *w, const struct addk_loop *L)
{
    static const char *const adds[] = {
        "(local.set 1 (i32.add (local.get 1) (i32.const 7)))",
        "(local.set 3 (i32.add (local.get 3) (i32.const 3)))",
        "(local.set 0 (i32.add (local.get 0) (i32.const -1)))",
    };
    int first = 3 - L->nadd;

    fprintf(w,
            "(func (export \"%s\") (param i32 i32) (result i32) (local i32 i32 i32)\n"
            "  (local.set 4 (i32.const 3))\n"
            "  (block $out (loop $l\n",
            L->name);
    if (L->test_first)
        fputs("    (br_if $out (i32.eqz (local.get 0)))\n", w);
    fputs("    (local.set 2 (i32.xor (i32.xor (i32.rotl (local.get 2) (i32.const 5))"
          " (local.get 1)) (local.get 3)))\n",
          w);
    if (!L->count_last)
        fprintf(w, "    %s\n", adds[2]); /* the counter first */
    for (int i = first; i < 3; i++)
        if (L->count_last || i != 2)
            fprintf(w, "    %s\n", adds[i]);
    fprintf(w, "    %s))\n", L->br);
    fputs("  (i32.add (i32.add (local.get 2) (local.get 0)) (local.get 3)))\n", w);
}

/* What a loop computes: `stop` is the counter value that ends it;
 * `test_first` tests before the first round, the others after each; x
 * steps in loops of three additions, y in those of two or three. */
static uint32_t addk_chain_ref(const struct addk_loop *L, uint32_t n, uint32_t x)
{
    uint32_t h = 0, y = 0;
    bool step_x = L->nadd >= 3, step_y = L->nadd >= 2;

    if (L->test_first && n == 0)
        return 0;
    do {
        h = ((h << 5) | (h >> 27)) ^ x ^ y;
        if (step_x)
            x += 7;
        if (step_y)
            y += 3;
        n--;
    } while (n > L->stop);
    return h + n + y;
}

static void test_addk_chain(void **state)
{
    static const uint32_t ns[] = {0, 1, 2, 3, 4, 5, 9, 100};
    static const uint32_t xs[] = {0, 1, 0x7ffffffc, 0xfffffffe};
    const size_t nl = sizeof addk_loops / sizeof addk_loops[0];
    ops_fixture fx;
    char *wat = NULL;
    size_t watlen = 0;
    FILE *w = open_memstream(&wat, &watlen);

    (void)state;
    assert_non_null(w);
    fputs("(module\n", w);
    for (size_t l = 0; l < nl; l++)
        gen_addk_loop(w, &addk_loops[l]);
    fx_load(&fx, w, &wat);
    /* each handler as often as the loops hold it */
    for (size_t l = 0; l < nl; l++)
        for (int i = 0; i < addk_loops[l].nadd; i++) {
            int op = addk_loops[l].ops[i];
            size_t want = 0;
            for (size_t o = 0; o < nl; o++)
                for (int j = 0; j < addk_loops[o].nadd; j++)
                    want += addk_loops[o].ops[j] == op;
            assert_int_equal(count_op(fx.mod, op), want);
        }
    for (size_t l = 0; l < nl; l++)
        for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++)
            for (size_t j = 0; j < sizeof xs / sizeof xs[0]; j++) {
                const struct addk_loop *L = &addk_loops[l];
                th_wasm_func *fn = th_wasm_instance_func(fx.inst, L->name);
                uint32_t n = ns[i], want;
                th_wasm_val args[2], res = {0};
                int rc, rounds;
                if (!L->test_first && n == 0)
                    continue; /* the counter would wrap: 2^32 rounds */
                want = addk_chain_ref(L, n, xs[j]);
                args[0].i32 = (int32_t)n;
                args[1].i32 = (int32_t)xs[j];
                th_wasm_exec_set_fuel(fx.ex, UINT64_MAX);
                assert_int_equal(th_wasm_exec_call(fx.ex, fn, args, 2, &res, 1), TH_OK);
                assert_int_equal((uint32_t)res.i32, want);
                /* again, one fuel unit at a time */
                rc = call_fuel_by_unit(fx.ex, fn, args, 2, &res, 1000, &rounds);
                assert_int_equal(rc, TH_OK);
                assert_int_equal((uint32_t)res.i32, want);
            }
    teardown_ops(&fx);
}

/* Three rotates (or two and an unsigned shift) xor-ed together, as
 * SHA-256's sigma functions are: one T_* instruction, against the same
 * computation through locals, with its result in a slot and in the
 * accumulator (read by an add). */
static const int32_t xor3_ks[][3] = {{26, 21, 7}, {30, 19, 10}, {0, 31, 32}, {33, -1, 3}};

static void gen_xor3(FILE *w)
{
    for (int f = 0; f < 2; f++)
        for (size_t k = 0; k < sizeof xor3_ks / sizeof xor3_ks[0]; k++)
            for (int r = 0; r < 2; r++) {
                const char *third = f ? "shr_u" : "rotl";
                const int32_t *ks = xor3_ks[k];
                fprintf(w,
                        "(func (export \"x3_%d_%zu_%d\") (param i32 i32 i32) (result i32)\n"
                        "  %s(i32.xor (i32.xor (i32.rotl (local.get 0) (i32.const %d))\n"
                        "                    (i32.rotl (local.get 1) (i32.const %d)))\n"
                        "           (i32.%s (local.get 2) (i32.const %d)))%s)\n",
                        f, k, r, r ? "(i32.add (local.get 1) " : "", ks[0], ks[1], third, ks[2],
                        r ? ")" : "");
                fprintf(w,
                        "(func (export \"x3_%d_%zu_%d_ref\") (param i32 i32 i32) (result i32)\n"
                        "  (local i32 i32 i32)\n"
                        "  (local.set 3 (i32.rotl (local.get 0) (i32.const %d)))\n"
                        "  (local.set 4 (i32.rotl (local.get 1) (i32.const %d)))\n"
                        "  (local.set 5 (i32.%s (local.get 2) (i32.const %d)))\n"
                        "  (local.set 3 (i32.xor (i32.xor (local.get 3) (local.get 4)) (local.get "
                        "5)))\n"
                        "  %s)\n",
                        f, k, r, ks[0], ks[1], third, ks[2],
                        r ? "(i32.add (local.get 1) (local.get 3))" : "(local.get 3)");
            }
}

static void test_xor3(void **state)
{
    static const uint32_t xs[] = {0, 1, 0x80000000, 0xffffffff, 0x12345678, 0xdeadbeef};
    chain_fixture fx;
    char *wat = NULL, got[32], ref[32];
    size_t watlen = 0;
    FILE *w = open_memstream(&wat, &watlen);
    size_t nk = sizeof xor3_ks / sizeof xor3_ks[0];

    (void)state;
    assert_non_null(w);
    fputs("(module\n", w);
    gen_xor3(w);
    fx_load(&fx, w, &wat);
    assert_int_equal(count_op(fx.mod, WOP_T_ROTLK3_XOR), 2 * nk);
    assert_int_equal(count_op(fx.mod, WOP_T_ROTLK2_SHRUK_XOR), 2 * nk);
    for (int f = 0; f < 2; f++)
        for (size_t k = 0; k < nk; k++)
            for (int r = 0; r < 2; r++)
                for (size_t x = 0; x < sizeof xs / sizeof xs[0]; x++)
                    for (size_t y = 0; y < sizeof xs / sizeof xs[0]; y++)
                        for (size_t z = 0; z < sizeof xs / sizeof xs[0]; z++) {
                            uint64_t args[3] = {xs[x], xs[y], xs[z]};
                            snprintf(got, sizeof got, "x3_%d_%zu_%d", f, k, r);
                            snprintf(ref, sizeof ref, "x3_%d_%zu_%d_ref", f, k, r);
                            expect_same(&fx, got, ref, args, 3);
                        }
    teardown_ops(&fx);
}

/* The f64 accumulator (facc) beside the integer one: each function
 * passes f64 values between instructions that read or write different
 * accumulators (f64 arithmetic, loads, stores, reinterpretations,
 * conversions, comparisons, f32, calls, returns, select, local.tee), and
 * its reference does the same computation through locals, which no
 * accumulator crosses. */
static const char *facc_funcs[][3] = {
    {"store",
     "(f64.store (i32.const 64) (f64.mul (local.get 0) (local.get 1)))\n"
     " (f64.add (f64.load (i32.const 64)) (local.get 2))",
     "(local.set 3 (f64.mul (local.get 0) (local.get 1)))\n"
     " (f64.store (i32.const 64) (local.get 3))\n"
     " (local.set 4 (f64.load (i32.const 64))) (f64.add (local.get 4) (local.get 2))"},
    {"store_neg",
     "(f64.store offset=8 (i32.const 64) (f64.neg (f64.sub (local.get 0) (local.get 1))))\n"
     " (f64.load offset=8 (i32.const 64))",
     "(local.set 3 (f64.sub (local.get 0) (local.get 1))) (local.set 4 (f64.neg (local.get 3)))\n"
     " (f64.store offset=8 (i32.const 64) (local.get 4)) (f64.load offset=8 (i32.const 64))"},
    {"reinterpret",
     "(f64.sub (f64.reinterpret_i64 (i64.xor (i64.reinterpret_f64\n"
     "  (f64.add (local.get 0) (local.get 1))) (i64.const 0x8000000000000001)))\n"
     " (local.get 2))",
     "(local.set 3 (f64.add (local.get 0) (local.get 1)))\n"
     " (local.set 5 (i64.xor (i64.reinterpret_f64 (local.get 3)) (i64.const 0x8000000000000001)))\n"
     " (local.set 4 (f64.reinterpret_i64 (local.get 5))) (f64.sub (local.get 4) (local.get 2))"},
    {"signs",
     "(f64.sub (f64.neg (f64.abs (f64.sqrt (f64.mul (local.get 0) (local.get 1)))))\n"
     " (local.get 2))",
     "(local.set 3 (f64.mul (local.get 0) (local.get 1))) (local.set 3 (f64.sqrt (local.get 3)))\n"
     " (local.set 3 (f64.abs (local.get 3))) (local.set 3 (f64.neg (local.get 3)))\n"
     " (f64.sub (local.get 3) (local.get 2))"},
    {"compare",
     "(if (result f64) (f64.lt (f64.add (local.get 0) (local.get 1)) (local.get 2))\n"
     "  (then (local.get 0)) (else (f64.div (local.get 1) (local.get 2))))",
     "(local.set 3 (f64.add (local.get 0) (local.get 1))) (local.set 5 (i64.extend_i32_u\n"
     "  (f64.lt (local.get 3) (local.get 2))))\n"
     " (if (result f64) (i32.wrap_i64 (local.get 5)) (then (local.get 0))\n"
     "  (else (local.set 4 (f64.div (local.get 1) (local.get 2))) (local.get 4)))"},
    {"f32",
     "(f64.add (f64.promote_f32 (f32.add (f32.demote_f64 (f64.mul (local.get 0) (local.get 1)))\n"
     "  (f32.const 1.5))) (local.get 2))",
     "(local.set 3 (f64.mul (local.get 0) (local.get 1)))\n"
     " (local.set 6 (f32.demote_f64 (local.get 3))) (local.set 6 (f32.add (local.get 6) (f32.const "
     "1.5)))\n"
     " (local.set 4 (f64.promote_f32 (local.get 6))) (f64.add (local.get 4) (local.get 2))"},
    {"convert",
     "(f64.mul (f64.convert_i64_s (i64.add (i64.reinterpret_f64 (local.get 0))\n"
     "  (i64.const 3))) (f64.convert_i32_u (i32.trunc_sat_f64_u (f64.add (local.get 1)\n"
     "  (local.get 2)))))",
     "(local.set 5 (i64.add (i64.reinterpret_f64 (local.get 0)) (i64.const 3)))\n"
     " (local.set 3 (f64.convert_i64_s (local.get 5))) (local.set 4 (f64.add (local.get 1) "
     "(local.get 2)))\n"
     " (local.set 4 (f64.convert_i32_u (i32.trunc_sat_f64_u (local.get 4))))\n"
     " (f64.mul (local.get 3) (local.get 4))"},
    {"ret", "(f64.div (local.get 0) (f64.mul (local.get 1) (local.get 2)))",
     "(local.set 3 (f64.mul (local.get 1) (local.get 2))) (local.set 3 (f64.div (local.get 0)\n"
     "  (local.get 3))) (local.get 3)"},
    {"call", "(f64.add (call $fh (f64.mul (local.get 0) (local.get 1))) (local.get 2))",
     "(local.set 3 (f64.mul (local.get 0) (local.get 1))) (local.set 3 (call $fh (local.get 3)))\n"
     " (f64.add (local.get 3) (local.get 2))"},
    {"select",
     "(f64.add (select (f64.mul (local.get 0) (local.get 1)) (local.get 2)\n"
     "  (f64.ge (local.get 0) (local.get 2))) (local.get 1))",
     "(local.set 3 (f64.mul (local.get 0) (local.get 1)))\n"
     " (local.set 3 (select (local.get 3) (local.get 2) (f64.ge (local.get 0) (local.get 2))))\n"
     " (f64.add (local.get 3) (local.get 1))"},
    {"tee",
     "(f64.sub (local.tee 3 (f64.mul (local.get 0) (local.get 1))) (f64.min (local.get 3)\n"
     "  (f64.max (local.get 2) (f64.copysign (local.get 0) (local.get 1)))))",
     "(local.set 3 (f64.mul (local.get 0) (local.get 1))) (local.set 4 (f64.copysign (local.get "
     "0)\n"
     "  (local.get 1))) (local.set 4 (f64.max (local.get 2) (local.get 4)))\n"
     " (local.set 4 (f64.min (local.get 3) (local.get 4))) (f64.sub (local.get 3) (local.get 4))"},
    {"local",
     "(local.set 3 (f64.mul (local.get 0) (local.get 1))) (local.set 4 (f64.sqrt (local.get 3)))\n"
     " (local.set 4 (f64.add (local.get 2) (local.get 4)))\n"
     " (f64.sub (f64.mul (local.get 3) (local.get 4)) (local.get 3))",
     "(local.set 3 (f64.mul (local.get 0) (local.get 1))) (local.set 4 (f64.sqrt (local.get 3)))\n"
     " (local.set 4 (f64.add (local.get 2) (local.get 4)))\n"
     " (f64.sub (f64.mul (local.get 3) (local.get 4)) (local.get 3))"},
    {"local_store",
     "(f64.store (i32.const 64) (local.tee 3 (f64.add (local.get 0) (local.get 1))))\n"
     " (f64.mul (f64.load (i32.const 64)) (local.get 3))",
     "(local.set 3 (f64.add (local.get 0) (local.get 1)))\n"
     " (f64.store (i32.const 64) (local.get 3)) (f64.mul (f64.load (i32.const 64)) (local.get 3))"},
    {"memop",
     "(f64.store (i32.const 80) (local.get 2))\n"
     " (f64.mul (f64.add (f64.load (i32.const 80)) (local.get 0)) (f64.sub (local.get 1)\n"
     "  (f64.load (i32.const 80))))",
     "(f64.store (i32.const 80) (local.get 2)) (local.set 3 (f64.load (i32.const 80)))\n"
     " (local.set 3 (f64.add (local.get 3) (local.get 0))) (local.set 4 (f64.load (i32.const "
     "80)))\n"
     " (local.set 4 (f64.sub (local.get 1) (local.get 4))) (f64.mul (local.get 3) (local.get 4))"},
};

/* Write the instructions `s` with an empty loop after every local.set,
 * a branch target no accumulator crosses (nor reads a local from it). */
static void print_with_barriers(FILE *w, const char *s)
{
    size_t i = 0;

    while (s[i] != '\0') {
        if (strncmp(s + i, "(local.set", 10) == 0) {
            int depth = 0;
            do {
                depth += s[i] == '(' ? 1 : s[i] == ')' ? -1 : 0;
                fputc(s[i++], w);
            } while (depth > 0 && s[i] != '\0');
            fputs(" (loop)", w);
        } else {
            fputc(s[i++], w);
        }
    }
}

static void test_f64_accumulator(void **state)
{
    static const uint64_t fv[] = {
        0,
        0x8000000000000000ull,
        0x3ff0000000000000ull,
        0xbff8000000000000ull,
        0x7ff0000000000000ull,
        0xfff0000000000000ull,
        0x7ff8000000000000ull,
        0x7ff4000000000001ull /* signalling NaN */,
        0x7fefffffffffffffull,
        0x0000000000000001ull,
        0x4008000000000000ull,
        0x41f0000000000000ull /* 2^32 */,
    };
    size_t nf = sizeof facc_funcs / sizeof facc_funcs[0], nv = sizeof fv / sizeof fv[0];
    chain_fixture fx;
    char *wat = NULL, ref[32];
    size_t watlen = 0;
    FILE *w = open_memory_module(&wat, &watlen, "");

    (void)state;
    fputs("(func $fh (param f64) (result f64) (f64.mul (local.get 0) (f64.const -2.5)))\n", w);
    for (size_t i = 0; i < nf; i++) {
        fprintf(w,
                "(func (export \"%s\") (param f64 f64 f64) (result f64)\n"
                " (local f64 f64 i64 f32)\n %s)\n",
                facc_funcs[i][0], facc_funcs[i][1]);
        fprintf(w,
                "(func (export \"%s_ref\") (param f64 f64 f64) (result f64)\n"
                " (local f64 f64 i64 f32)\n",
                facc_funcs[i][0]);
        print_with_barriers(w, facc_funcs[i][2]);
        fputs(")\n", w);
    }
    fx_load(&fx, w, &wat);
    /* "store", "store_neg" and "local_store" store the f64 accumulator */
    assert_int_equal(count_op(fx.mod, WOP_STOREF64), 3);
    /* in "local", sqrt and add read the locals set just before them from
     * facc (their variants A / B); the reference's do not */
    for (size_t i = 0; i < nf; i++)
        if (strcmp(facc_funcs[i][0], "local") == 0) {
            const struct wasm_code *got = fx.mod->code[1 + 2 * i], *r = fx.mod->code[2 + 2 * i];
            assert_int_equal(count_variant(got, WOP_F64_SQRT, WV_A), 1);
            assert_int_equal(count_variant(got, WOP_F64_ADD, WV_B), 1);
            assert_int_equal(count_variant(r, WOP_F64_SQRT, WV_A), 0);
            assert_int_equal(count_variant(r, WOP_F64_ADD, WV_B), 0);
        }
    for (size_t i = 0; i < nf; i++) {
        snprintf(ref, sizeof ref, "%s_ref", facc_funcs[i][0]);
        for (size_t x = 0; x < nv; x++)
            for (size_t y = 0; y < nv; y++)
                for (size_t z = 0; z < nv; z += 3) {
                    uint64_t args[3] = {fv[x], fv[y], fv[z]};
                    expect_same_f64(&fx, facc_funcs[i][0], ref, args);
                }
    }
    teardown_ops(&fx);
}

/* local.set x of a value `local.tee s (i32.add a k)` just wrote: the
 * addition done again into x (a loop-carried pointer kept in two locals)
 * against a reference with a block between the two, which stops it.
 * Forms: x is a (r 0), x is another local (r 1), a is s itself (r 2: the
 * value must be copied). */
static void test_redo_addk(void **state)
{
    static const uint32_t xs[] = {0, 1, 5, 0x7fffffff, 0x80000000, 0xfffffffc};
    static const int32_t ks[] = {-4, 1, INT32_MIN};
    chain_fixture fx;
    char *wat = NULL, got[32], ref[32];
    size_t watlen = 0;
    FILE *w = open_memstream(&wat, &watlen);

    (void)state;
    assert_non_null(w);
    fputs("(module\n", w);
    for (int r = 0; r < 3; r++)
        for (size_t k = 0; k < sizeof ks / sizeof ks[0]; k++)
            for (int b = 0; b < 2; b++) {
                static const char *sets[] = {"0", "5", "0"};
                fprintf(
                    w,
                    "(func (export \"redo_%d%zu%s\") (param i32 i32 i32) (result i32)\n"
                    " (local i32 i32 i32)\n"
                    " (local.set 1 (i32.add (i32.and (local.get 1) (i32.const 7)) (i32.const 1)))\n"
                    " (local.set 3 (local.get 2))\n"
                    " (loop $l\n"
                    "  (local.tee 3 (i32.add (local.get %s) (i32.const %d)))%s (local.set %s)\n"
                    "  (local.set 4 (i32.add (i32.mul (local.get 4) (i32.const 7))\n"
                    "   (i32.xor (local.get 0) (local.get 5))))\n"
                    "  (br_if $l (local.tee 1 (i32.sub (local.get 1) (i32.const 1)))))\n"
                    " (i32.add (i32.add (i32.mul (local.get 3) (i32.const 31)) (local.get 4))\n"
                    "  (i32.xor (local.get 0) (local.get 5))))\n",
                    r, k, b ? "_ref" : "", r == 2 ? "3" : "0", ks[k], b ? " (block)" : "", sets[r]);
            }
    fx_load(&fx, w, &wat);
    for (int r = 0; r < 3; r++)
        for (size_t k = 0; k < sizeof ks / sizeof ks[0]; k++) {
            snprintf(got, sizeof got, "redo_%d%zu", r, k);
            snprintf(ref, sizeof ref, "redo_%d%zu_ref", r, k);
            for (size_t x = 0; x < sizeof xs / sizeof xs[0]; x++)
                for (size_t y = 0; y < sizeof xs / sizeof xs[0]; y++)
                    for (size_t z = 0; z < sizeof xs / sizeof xs[0]; z++) {
                        uint64_t args[3] = {xs[x], xs[y], xs[z]};
                        expect_same(&fx, got, ref, args, 3);
                    }
        }
    /* the two additions paired, in the r 0 and r 1 forms only (functions
     * in the order written: redo_rk, then its reference) */
    for (int r = 0; r < 3; r++)
        for (size_t k = 0; k < sizeof ks / sizeof ks[0]; k++) {
            size_t f = (r * (sizeof ks / sizeof ks[0]) + k) * 2;
            assert_int_equal(count_op_in(fx.mod->code[f], WOP_P_ADDK_ADDK),
                             count_op_in(fx.mod->code[f + 1], WOP_P_ADDK_ADDK) + (r < 2));
        }
    teardown_ops(&fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_immediate_and_fused_forms),
        cmocka_unit_test(test_locals_and_control),
        cmocka_unit_test(test_accumulator_chains),
        cmocka_unit_test(test_fused_pairs),
        cmocka_unit_test(test_address_forms),
        cmocka_unit_test(test_memory_operands),
        cmocka_unit_test(test_rmw_and_pairs),
        cmocka_unit_test(test_call_result_accumulator),
        cmocka_unit_test(test_call_init),
        cmocka_unit_test(test_return_sum),
        cmocka_unit_test(test_addk_chain),
        cmocka_unit_test(test_addk_call),
        cmocka_unit_test(test_lsk_back_edges),
        cmocka_unit_test(test_xor3),
        cmocka_unit_test(test_f64_accumulator),
        cmocka_unit_test(test_redo_addk),
    };
    return th_test_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
