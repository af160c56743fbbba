/*
 * test_wasm_compile.c - the function-body validator and translator
 * (compile.c, compile_ops.c) on inputs built byte by byte: error messages
 * with offsets, limits (block nesting, br_table size, frame size), inputs
 * that would take quadratic time with a naive translator, and random
 * mutations of valid modules (no crash; whatever loads also runs, under a
 * fuel limit).
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "theater/wasm.h"
#include "wasm_bytes.h"

/* ------------------------------------------------------------------ */
/* A minimal module writer (over wasm_bytes.h)                        */

static void section(wbuf *m, uint8_t id, const wbuf *content)
{
    put8(m, id);
    uleb(m, content->n);
    put(m, content->p, content->n);
}

/* A module with one function of type (params) -> (results), the given
 * extra locals (count of i32) and body (instructions incl. the final end);
 * the function is exported as "f".  The caller frees the returned bytes. */
static uint8_t *one_func(const char *params, const char *results, uint32_t nlocals,
                         const wbuf *body, size_t *len)
{
    static const uint8_t hdr[8] = {0, 'a', 's', 'm', 1, 0, 0, 0};
    wbuf m = {0}, s = {0}, code = {0};
    size_t np = strlen(params), nr = strlen(results);

    put(&m, hdr, 8);
    /* type section */
    uleb(&s, 1);
    put8(&s, 0x60);
    uleb(&s, np);
    put(&s, params, np);
    uleb(&s, nr);
    put(&s, results, nr);
    section(&m, 1, &s);
    s.n = 0;
    /* function section */
    uleb(&s, 1);
    uleb(&s, 0);
    section(&m, 3, &s);
    s.n = 0;
    /* memory section: one page */
    uleb(&s, 1);
    put8(&s, 0);
    uleb(&s, 1);
    section(&m, 5, &s);
    s.n = 0;
    /* export "f" */
    uleb(&s, 1);
    uleb(&s, 1);
    put8(&s, 'f');
    put8(&s, 0);
    uleb(&s, 0);
    section(&m, 7, &s);
    s.n = 0;
    /* code section */
    if (nlocals > 0) {
        uleb(&code, 1);
        uleb(&code, nlocals);
        put8(&code, 0x7f);
    } else {
        uleb(&code, 0);
    }
    put(&code, body->p, body->n);
    uleb(&s, 1);
    uleb(&s, code.n);
    put(&s, code.p, code.n);
    section(&m, 10, &s);
    free(s.p);
    free(code.p);
    *len = m.n;
    return m.p;
}

#define I32 "\x7f"

/* Compile; returns the code and fills err. */
static int load(const wbuf *body, const char *params, const char *results, uint32_t nlocals,
                th_wasm_module **out, th_error *err)
{
    size_t len;
    uint8_t *bin = one_func(params, results, nlocals, body, &len);
    int rc = th_wasm_module_new(bin, len, out, err);
    free(bin);
    return rc;
}

/* Run "f" of a loaded module with i32 arguments; returns the status. */
static int run_f(th_wasm_module *m, const int32_t *args, uint32_t nargs, th_wasm_val *res,
                 uint32_t nres, uint64_t fuel)
{
    th_wasm_imports *imp = th_wasm_imports_new();
    th_wasm_instance *inst = NULL;
    th_wasm_exec *ex = th_wasm_exec_new(NULL);
    th_wasm_val a[8];
    int rc;

    assert_int_equal(th_wasm_instance_new(m, imp, NULL, &inst, NULL), TH_OK);
    for (uint32_t i = 0; i < nargs; i++)
        a[i].i32 = args[i];
    th_wasm_exec_set_fuel(ex, fuel);
    rc = th_wasm_exec_call(ex, th_wasm_instance_func(inst, "f"), a, nargs, res, nres);
    th_wasm_exec_free(ex);
    th_wasm_instance_free(inst);
    th_wasm_imports_free(imp);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Error messages                                                      */

static void expect_invalid2(const wbuf *body, const char *params, const char *results,
                            const char *msg, bool in_function)
{
    th_wasm_module *m = NULL;
    th_error err = {0};

    assert_int_not_equal(load(body, params, results, 0, &m, &err), TH_OK);
    assert_null(m);
    if (strstr(err.msg, msg) == NULL)
        fail_msg("message \"%s\", expected \"%s\"", err.msg, msg);
    if (in_function && strstr(err.msg, "in function 0") == NULL)
        fail_msg("message \"%s\" names no function", err.msg);
}

static void expect_invalid(const wbuf *body, const char *params, const char *results,
                           const char *msg)
{
    expect_invalid2(body, params, results, msg, true);
}

static void test_error_messages(void **state)
{
    wbuf b = {0};

    (void)state;
    /* i32.add on one operand: the offset of the add is reported */
    put(&b, "\x41\x01\x6a\x0b", 4);
    expect_invalid(&b, "", I32, "type mismatch at offset 0x");
    b.n = 0;
    put(&b, "\x20\x05\x0b", 3); /* local.get 5 */
    expect_invalid(&b, "", I32, "unknown local");
    b.n = 0;
    put(&b, "\x0c\x03\x0b", 3); /* br 3 */
    expect_invalid(&b, "", "", "unknown label");
    b.n = 0;
    put(&b, "\x41\x00\x28\x03\x00\x0b", 6); /* i32.load align=8 */
    expect_invalid(&b, "", I32, "alignment must not be larger than natural");
    b.n = 0;
    put(&b, "\x41\x00\x28\x20\x00\x0b", 6); /* align=2^32 */
    expect_invalid(&b, "", I32, "malformed memop flags");
    b.n = 0;
    put(&b, "\x10\x07\x0b", 3); /* call 7 */
    expect_invalid(&b, "", "", "unknown function");
    b.n = 0;
    put(&b, "\x41\x00\x0b\x0b", 4); /* operators after the final end */
    expect_invalid(&b, "", I32, "END opcode expected");
    b.n = 0;
    put(&b, "\x41\x00", 2); /* no end (the decoder may see it first) */
    expect_invalid2(&b, "", I32, "unexpected end", false);
    b.n = 0;
    put(&b, "\x41\x80\x80\x80\x80\x80\x00\x0b", 8); /* over-long LEB */
    expect_invalid(&b, "", I32, "integer representation too long");
    b.n = 0;
    put(&b, "\x41\x80\x80\x80\x80\x70\x0b", 7); /* bits beyond 32 */
    expect_invalid(&b, "", I32, "integer too large");
    b.n = 0;
    put(&b, "\x06\x0b", 2); /* 0x06: not an opcode */
    expect_invalid(&b, "", "", "illegal opcode");
    b.n = 0;
    put(&b, "\x41\x00\x04\x7f\x41\x01\x0b\x0b", 8); /* if (result i32) without else */
    expect_invalid(&b, "", I32, "type mismatch");
    b.n = 0;
    put(&b, "\x41\x00\x41\x00\x1b\x0b", 6); /* select on two operands */
    expect_invalid(&b, "", I32, "type mismatch");
    b.n = 0;
    put(&b, "\xfc\x09\x00\x0b", 4); /* data.drop without a data count */
    expect_invalid(&b, "", "", "unknown data segment");
    free(b.p);
}

/* ------------------------------------------------------------------ */
/* Limits                                                              */

static void test_nesting_and_br_table(void **state)
{
    wbuf b = {0};
    th_wasm_module *m = NULL;
    th_error err = {0};
    th_wasm_val res;
    int32_t arg;
    const uint32_t depth = 5000;

    (void)state;
    /* 5000 nested blocks around a br_table that jumps out of k of them */
    for (uint32_t i = 0; i < depth; i++)
        put(&b, "\x02\x40", 2);
    put(&b, "\x20\x00\x0e", 3); /* local.get 0; br_table */
    uleb(&b, depth - 1);
    for (uint32_t i = 0; i < depth; i++)
        uleb(&b, i);
    for (uint32_t i = 0; i < depth; i++) {
        put8(&b, 0x0b);
        /* after leaving block (depth-1-i): add i to local 1 */
        put(&b, "\x20\x01\x41", 3);
        sleb(&b, 1);
        put(&b, "\x6a\x21\x01", 3);
    }
    put(&b, "\x20\x01\x0b", 3);
    assert_int_equal(load(&b, I32, I32, 1, &m, &err), TH_OK);
    arg = 0;
    assert_int_equal(run_f(m, &arg, 1, &res, 1, UINT64_MAX), TH_OK);
    assert_int_equal(res.i32, (int32_t)depth);
    arg = 1234;
    assert_int_equal(run_f(m, &arg, 1, &res, 1, UINT64_MAX), TH_OK);
    assert_int_equal(res.i32, (int32_t)(depth - 1234));
    arg = -1; /* default: the outermost */
    assert_int_equal(run_f(m, &arg, 1, &res, 1, UINT64_MAX), TH_OK);
    assert_int_equal(res.i32, 1);
    th_wasm_module_free(m);
    free(b.p);
}

/* A loop that takes seconds with a quadratic translator finishes at once:
 * deep operand stacks combined with many local.set / block entries. */
static void test_no_quadratic_compile(void **state)
{
    wbuf b = {0};
    th_wasm_module *m = NULL;
    th_error err = {0};
    const uint32_t n = 200000;

    (void)state;
    alarm(60);
    /* one operand naming local 1 at the bottom, then n constants */
    put(&b, "\x20\x01", 2);
    for (uint32_t i = 0; i < n; i++)
        put(&b, "\x41\x07", 2);
    /* n times: local.get 0, i32.const 1, local.set 0 and an empty block */
    for (uint32_t i = 0; i < n; i++)
        put(&b, "\x20\x00\x41\x01\x21\x00\x02\x40\x0b", 9);
    for (uint32_t i = 0; i < n; i++)
        put(&b, "\x6a", 1); /* fold the constants */
    for (uint32_t i = 0; i < n; i++)
        put8(&b, 0x1a); /* drop the local.get 0 copies */
    put8(&b, 0x0b);
    assert_int_equal(load(&b, "", I32, 2, &m, &err), TH_OK);
    th_wasm_module_free(m);
    alarm(0);
    free(b.p);
}

static void test_many_constants(void **state)
{
    wbuf b = {0};
    th_wasm_module *m = NULL;
    th_error err = {0};
    th_wasm_val res;
    const uint32_t n = 20000;
    uint32_t want = 0;

    (void)state;
    /* sum of n distinct constants via i64 (constant area of n slots) */
    put(&b, "\x42\x00", 2);
    for (uint32_t i = 0; i < n; i++) {
        put8(&b, 0x42);
        sleb(&b, ((int64_t)i << 32) | (i * 7919 + 3)); /* not an immediate */
        put8(&b, 0x7c);                                /* i64.add */
        want += i * 7919 + 3;
    }
    put(&b, "\xa7\x0b", 2); /* i32.wrap_i64 */
    assert_int_equal(load(&b, "", I32, 0, &m, &err), TH_OK);
    assert_int_equal(run_f(m, NULL, 0, &res, 1, UINT64_MAX), TH_OK);
    assert_int_equal((uint32_t)res.i32, want);
    th_wasm_module_free(m);
    free(b.p);
}

/* ------------------------------------------------------------------ */
/* Random mutations                                                    */

static void test_mutations(void **state)
{
    /* a loop with memory, calls-free arithmetic and branches */
    static const uint8_t body[] = {
        0x02, 0x40,                                                 /* block */
        0x03, 0x40,                                                 /*   loop */
        0x20, 0x00, 0x45, 0x0d, 0x01,                               /*     br_if 1 (eqz x) */
        0x20, 0x01, 0x20, 0x00, 0x6c, 0x41, 0x03, 0x6a, 0x21, 0x01, /* y = y*x + 3 */
        0x41, 0x10, 0x20, 0x01, 0x36, 0x02, 0x00,                   /* store [16] = y */
        0x20, 0x00, 0x41, 0x01, 0x6b, 0x21, 0x00,                   /* x = x - 1 */
        0x0c, 0x00,                                                 /*     br 0 */
        0x0b, 0x0b,                                                 /* end end */
        0x41, 0x10, 0x28, 0x02, 0x00,                               /* load [16] */
        0x20, 0x01, 0x73,                                           /* xor y */
        0x0b,
    };
    wbuf b = {0};
    size_t len;
    uint8_t *bin, *mut;
    uint32_t seed = 12345, loaded = 0;

    (void)state;
    put(&b, body, sizeof body);
    bin = one_func(I32, I32, 1, &b, &len);
    mut = malloc(len);
    assert_non_null(mut);
    for (int iter = 0; iter < 3000; iter++) {
        th_wasm_module *m = NULL;
        memcpy(mut, bin, len);
        for (int k = 0; k < 1 + iter % 3; k++) {
            seed = seed * 1103515245u + 12345u;
            size_t pos = 8 + (seed >> 8) % (len - 8);
            seed = seed * 1103515245u + 12345u;
            mut[pos] = (uint8_t)(seed >> 16);
        }
        if (th_wasm_module_new(mut, len, &m, NULL) == TH_OK) {
            th_wasm_val res[4];
            int32_t arg = 5;
            loaded++;
            /* must finish: trap, run out of fuel or return */
            th_wasm_instance *inst = NULL;
            th_wasm_imports *imp = th_wasm_imports_new();
            th_wasm_func *f;
            if (th_wasm_instance_new(m, imp, NULL, &inst, NULL) == TH_OK &&
                (f = th_wasm_instance_func(inst, "f")) != NULL) {
                const th_wasm_functype *ft = th_wasm_func_type(f);
                th_wasm_exec *ex = th_wasm_exec_new(NULL);
                th_wasm_val a[4] = {{.i32 = arg}};
                th_wasm_exec_set_fuel(ex, 10000);
                if (ft->nparams <= 4 && ft->nresults <= 4) {
                    int rc = th_wasm_exec_call(ex, f, a, ft->nparams, res, ft->nresults);
                    assert_true(rc == TH_OK || rc == TH_WASM_TRAPPED || rc == TH_WASM_OUT_OF_FUEL);
                }
                th_wasm_exec_free(ex);
            }
            th_wasm_instance_free(inst);
            th_wasm_imports_free(imp);
            th_wasm_module_free(m);
        }
    }
    assert_true(loaded > 0);
    free(mut);
    free(bin);
    free(b.p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_messages),
        cmocka_unit_test(test_nesting_and_br_table),
        cmocka_unit_test(test_no_quadratic_compile),
        cmocka_unit_test(test_many_constants),
        cmocka_unit_test(test_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
