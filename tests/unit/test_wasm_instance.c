/*
 * test_wasm_instance.c - instantiation (instance.c, imports.c, memory.c,
 * module.c): host function imports, link errors per the import subtyping
 * rules, segment traps whose earlier effects stay visible, the start
 * function, passive/declarative segments, memory/table/global objects,
 * small memories in slots (grown in and out of them, reused zeroed),
 * import/export introspection, and the cost of a small instance.
 *
 * Modules are hex strings after the 8-byte header; "{ ... }" stands for a
 * LEB128 size followed by the enclosed bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <pthread.h>

#include "wasm/wasm_int.h"
#include "wasm_bytes.h"

static th_wasm_module *module(const char *hex)
{
    uint8_t buf[4096] = {0, 'a', 's', 'm', 1, 0, 0, 0};
    size_t n = 8;
    th_wasm_module *m = NULL;
    th_error err;

    hex_parse(hex, buf, sizeof buf, &n);
    if (th_wasm_module_new(buf, n, &m, &err) != 0)
        fail_msg("module %s: %s", hex, err.msg);
    return m;
}

/* Instantiate and expect `code` with `want` in the message. */
static void expect_inst_error(th_wasm_module *m, const th_wasm_imports *imp,
                              const th_wasm_instance_config *cfg, int code, const char *want)
{
    th_wasm_instance *inst = NULL;
    th_error err;
    int rc = th_wasm_instance_new(m, imp, cfg, &inst, &err);

    if (rc != code || strstr(err.msg, want) == NULL)
        fail_msg("expected %d \"%s\", got %d \"%s\"", code, want, rc, rc ? err.msg : "");
    assert_null(inst);
}

static th_wasm_instance *instantiate(th_wasm_module *m, const th_wasm_imports *imp)
{
    th_wasm_instance *inst = NULL;
    th_error err;

    if (th_wasm_instance_new(m, imp, NULL, &inst, &err) != 0)
        fail_msg("instantiate: %s", err.msg);
    return inst;
}

/* ------------------------------------------------------------------ */

static int host_add(th_wasm_call *call, void *ctx, const th_wasm_val *args, th_wasm_val *results)
{
    (void)call;
    results[0].i32 = args[0].i32 + args[1].i32 + (int32_t)(intptr_t)ctx;
    return TH_OK;
}

static int host_nop(th_wasm_call *call, void *ctx, const th_wasm_val *args, th_wasm_val *results)
{
    (void)call, (void)ctx, (void)args, (void)results;
    return TH_OK;
}

static void test_host_import(void **state)
{
    (void)state;
    /* (import "env" "add" (func (param i32 i32) (result i32)))
     * (func (export "f") (param i32 i32) (result i32)
     *   local.get 0 local.get 1 call 0) */
    th_wasm_module *m = module("01 { 01 60 02 7f 7f 01 7f }"
                               "02 { 01 03 65 6e 76 03 61 64 64 00 00 }"
                               "03 { 01 00 }"
                               "07 { 01 01 66 00 01 }"
                               "0a { 01 { 00 20 00 20 01 10 00 0b } }");
    th_wasm_imports *imp = th_wasm_imports_new();
    assert_int_equal(
        th_wasm_imports_add_func(imp, "env", "add", "ii>i", host_add, (void *)(intptr_t)100), 0);
    assert_int_equal(th_wasm_imports_add_func(imp, "env", "add", "ii>i", host_add, NULL),
                     TH_EEXIST);
    assert_int_equal(th_wasm_imports_add_func(imp, "env", "bad", "ix>i", host_add, NULL),
                     TH_EINVAL);
    assert_int_equal(th_wasm_imports_add_func(imp, "env", "bad2", "i>i>i", host_add, NULL),
                     TH_EINVAL);

    th_wasm_instance *inst = instantiate(m, imp);
    th_wasm_func *f = th_wasm_instance_func(inst, "f");
    assert_non_null(f);
    assert_null(th_wasm_instance_func(inst, "g"));
    assert_null(th_wasm_instance_memory(inst, "f"));
    assert_int_equal(th_wasm_func_type(f)->nparams, 2);
    assert_int_equal(th_wasm_func_type(f)->nresults, 1);

    th_wasm_exec *ex = th_wasm_exec_new(NULL);
    th_wasm_val args[2] = {{.i32 = 2}, {.i32 = 3}}, res[1];
    assert_int_equal(th_wasm_exec_call(ex, f, args, 2, res, 1), TH_OK);
    assert_int_equal(res[0].i32, 105);
    th_wasm_exec_free(ex);

    th_wasm_instance_free(inst);
    th_wasm_module_free(m);
    th_wasm_imports_free(imp);
}

/* A module importing one of each kind from "m":
 *   f: func [] -> [], t: table funcref 2..5, m: memory 1.., g: global mut i32 */
static const char *IMPORTER = "01 { 01 60 00 00 }"
                              "02 { 04"
                              "  01 6d 01 66 00 00"
                              "  01 6d 01 74 01 70 01 02 05"
                              "  01 6d 01 6d 02 00 01"
                              "  01 6d 01 67 03 7f 01 }";

typedef struct link_set {
    th_wasm_table *t;
    th_wasm_memory *mem;
    th_wasm_global *g;
} link_set;

/* Bindings with one of them replaced by the caller's choice. */
static th_wasm_imports *bindings(const link_set *s, const char *func_sig)
{
    th_wasm_imports *imp = th_wasm_imports_new();
    if (func_sig != NULL)
        assert_int_equal(th_wasm_imports_add_func(imp, "m", "f", func_sig, host_nop, NULL), 0);
    if (s->t != NULL)
        assert_int_equal(th_wasm_imports_add_extern(imp, "m", "t", TH_WASM_EXTERN_TABLE, s->t), 0);
    if (s->mem != NULL)
        assert_int_equal(th_wasm_imports_add_extern(imp, "m", "m", TH_WASM_EXTERN_MEMORY, s->mem),
                         0);
    if (s->g != NULL)
        assert_int_equal(th_wasm_imports_add_extern(imp, "m", "g", TH_WASM_EXTERN_GLOBAL, s->g), 0);
    return imp;
}

static void check_link(th_wasm_module *m, const link_set *s, const char *sig, int code,
                       const char *want)
{
    th_wasm_imports *imp = bindings(s, sig);
    if (code == 0)
        th_wasm_instance_free(instantiate(m, imp));
    else
        expect_inst_error(m, imp, NULL, code, want);
    th_wasm_imports_free(imp);
}

static void test_link_errors(void **state)
{
    (void)state;
    th_wasm_module *m = module(IMPORTER);
    th_wasm_val zero = {.i32 = 0};
    link_set ok = {th_wasm_table_new(TH_WASM_FUNCREF, 2, 5), th_wasm_memory_new(1, UINT32_MAX),
                   th_wasm_global_new(TH_WASM_I32, true, zero)};
    link_set s;

    check_link(m, &ok, ">", 0, "");
    check_link(m, &ok, "", 0, ""); /* no '>' at all: [] -> [] */
    check_link(m, &ok, NULL, TH_ELINK, "unknown import");
    check_link(m, &ok, "i>", TH_ELINK, "incompatible import type");

    /* tables: bigger min and smaller max are fine */
    s = ok;
    s.t = th_wasm_table_new(TH_WASM_FUNCREF, 3, 4);
    check_link(m, &s, ">", 0, "");
    th_wasm_table_free(s.t);
    s.t = th_wasm_table_new(TH_WASM_FUNCREF, 1, 5); /* min too small */
    check_link(m, &s, ">", TH_ELINK, "incompatible import type");
    th_wasm_table_free(s.t);
    s.t = th_wasm_table_new(TH_WASM_FUNCREF, 2, UINT32_MAX); /* no max */
    check_link(m, &s, ">", TH_ELINK, "incompatible import type");
    th_wasm_table_free(s.t);
    s.t = th_wasm_table_new(TH_WASM_FUNCREF, 2, 6); /* max too big */
    check_link(m, &s, ">", TH_ELINK, "incompatible import type");
    th_wasm_table_free(s.t);
    s.t = th_wasm_table_new(TH_WASM_EXTERNREF, 2, 5);
    check_link(m, &s, ">", TH_ELINK, "incompatible import type");
    th_wasm_table_free(s.t);
    /* a table grown to the required size matches */
    s.t = th_wasm_table_new(TH_WASM_FUNCREF, 0, 5);
    check_link(m, &s, ">", TH_ELINK, "incompatible import type");
    assert_int_equal(wasm_table_grow(s.t, 2, NULL), 0);
    check_link(m, &s, ">", 0, "");
    th_wasm_table_free(s.t);

    /* memories */
    s = ok;
    s.mem = th_wasm_memory_new(0, UINT32_MAX);
    check_link(m, &s, ">", TH_ELINK, "incompatible import type");
    assert_int_equal(th_wasm_memory_grow(s.mem, 1), 0);
    check_link(m, &s, ">", 0, "");
    th_wasm_memory_free(s.mem);

    /* globals: type and mutability must be equal */
    s = ok;
    s.g = th_wasm_global_new(TH_WASM_I32, false, zero);
    check_link(m, &s, ">", TH_ELINK, "incompatible import type");
    th_wasm_global_free(s.g);
    s.g = th_wasm_global_new(TH_WASM_I64, true, zero);
    check_link(m, &s, ">", TH_ELINK, "incompatible import type");
    th_wasm_global_free(s.g);

    /* wrong kind under the right name */
    {
        th_wasm_imports *imp = th_wasm_imports_new();
        th_wasm_imports_add_extern(imp, "m", "f", TH_WASM_EXTERN_GLOBAL, ok.g);
        expect_inst_error(m, imp, NULL, TH_ELINK, "incompatible import type");
        th_wasm_imports_free(imp);
    }

    th_wasm_table_free(ok.t);
    th_wasm_memory_free(ok.mem);
    th_wasm_global_free(ok.g);
    th_wasm_module_free(m);
}

static void test_introspection(void **state)
{
    (void)state;
    th_wasm_module *m = module(IMPORTER);
    th_wasm_extern_desc d;

    assert_int_equal(th_wasm_module_import_count(m), 4);
    assert_int_equal(th_wasm_module_export_count(m), 0);
    assert_int_equal(th_wasm_module_import(m, 0, &d), 0);
    assert_string_equal(d.module, "m");
    assert_string_equal(d.name, "f");
    assert_int_equal(d.kind, TH_WASM_EXTERN_FUNC);
    assert_int_equal(d.functype.nparams, 0);
    assert_int_equal(th_wasm_module_import(m, 1, &d), 0);
    assert_int_equal(d.kind, TH_WASM_EXTERN_TABLE);
    assert_int_equal(d.valtype, TH_WASM_FUNCREF);
    assert_int_equal(d.min, 2);
    assert_int_equal(d.max, 5);
    assert_int_equal(th_wasm_module_import(m, 2, &d), 0);
    assert_int_equal(d.kind, TH_WASM_EXTERN_MEMORY);
    assert_int_equal(d.min, 1);
    assert_true(d.max == UINT64_MAX);
    assert_int_equal(th_wasm_module_import(m, 3, &d), 0);
    assert_int_equal(d.kind, TH_WASM_EXTERN_GLOBAL);
    assert_true(d.mutable_);
    assert_int_equal(th_wasm_module_import(m, 4, &d), TH_ENOENT);
    th_wasm_module_free(m);

    /* exports: func "run" (i32) -> (), memory "mem" 1..2, global "g" i64 */
    m = module("01 { 01 60 01 7f 00 }  03 { 01 00 }  05 { 01 01 01 02 }"
               "06 { 01 7e 00 42 07 0b }"
               "07 { 03 03 72 75 6e 00 00  03 6d 65 6d 02 00  01 67 03 00 }"
               "0a { 01 { 00 0b } }");
    assert_int_equal(th_wasm_module_export_count(m), 3);
    assert_int_equal(th_wasm_module_export(m, 0, &d), 0);
    assert_null(d.module);
    assert_string_equal(d.name, "run");
    assert_int_equal(d.functype.nparams, 1);
    assert_int_equal(d.functype.types[0], TH_WASM_I32);
    assert_int_equal(th_wasm_module_export(m, 1, &d), 0);
    assert_int_equal(d.kind, TH_WASM_EXTERN_MEMORY);
    assert_int_equal(d.min, 1);
    assert_int_equal(d.max, 2);
    assert_int_equal(th_wasm_module_export(m, 2, &d), 0);
    assert_int_equal(d.valtype, TH_WASM_I64);
    assert_false(d.mutable_);

    th_wasm_instance *inst = instantiate(m, NULL);
    th_wasm_global *g = th_wasm_instance_global(inst, "g");
    assert_non_null(g);
    assert_int_equal(th_wasm_global_get(g).i64, 7);
    assert_int_equal(th_wasm_global_set(g, th_wasm_global_get(g)), TH_EPERM);
    assert_ptr_equal(th_wasm_instance_memory(inst, "mem"), th_wasm_instance_memory0(inst));
    th_wasm_extern_kind kind;
    void *ext;
    assert_int_equal(th_wasm_instance_export(inst, "run", &kind, &ext), 0);
    assert_int_equal(kind, TH_WASM_EXTERN_FUNC);
    assert_int_equal(th_wasm_instance_export(inst, "nope", &kind, &ext), TH_ENOENT);
    th_wasm_instance_free(inst);
    th_wasm_module_free(m);
}

static void test_segment_traps(void **state)
{
    (void)state;
    /* imports table "m" "t" (funcref, min 2) and memory "m" "m";
     * elem (i32.const 0) f ; elem (i32.const 1) f f  <- out of bounds */
    th_wasm_module *me = module("01 { 01 60 00 00 }"
                                "02 { 02 01 6d 01 74 01 70 00 02"
                                "        01 6d 01 6d 02 00 01 }"
                                "03 { 01 00 }"
                                "09 { 02 00 41 00 0b 01 00  00 41 01 0b 02 00 00 }"
                                "0a { 01 { 00 0b } }");
    /* data (i32.const 0) "hi" ; data (i32.const 65535) "xy" <- out of bounds */
    th_wasm_module *md = module("02 { 01 01 6d 01 6d 02 00 01 }"
                                "0b { 02 00 41 00 0b 02 68 69"
                                "        00 41 ff ff 03 0b 02 78 79 }");
    th_wasm_imports *imp = th_wasm_imports_new();
    th_wasm_table *t = th_wasm_table_new(TH_WASM_FUNCREF, 2, UINT32_MAX);
    th_wasm_memory *mem = th_wasm_memory_new(1, 1);
    void *ref;
    uint64_t size;

    th_wasm_imports_add_extern(imp, "m", "t", TH_WASM_EXTERN_TABLE, t);
    th_wasm_imports_add_extern(imp, "m", "m", TH_WASM_EXTERN_MEMORY, mem);

    expect_inst_error(me, imp, NULL, TH_ETRAP, "out of bounds table access");
    /* the first segment stays applied (and its function stays alive) */
    assert_int_equal(th_wasm_table_get(t, 0, &ref), 0);
    assert_non_null(ref);
    assert_int_equal(th_wasm_func_type(ref)->nparams, 0);
    assert_int_equal(th_wasm_table_get(t, 1, &ref), 0);
    assert_null(ref);
    assert_int_equal(th_wasm_table_get(t, 2, &ref), TH_EINVAL);

    expect_inst_error(md, imp, NULL, TH_ETRAP, "out of bounds memory access");
    uint8_t *data = th_wasm_memory_data(mem, &size);
    assert_int_equal(size, 65536);
    assert_memory_equal(data, "hi", 2);
    assert_int_equal(data[65535], 0);

    /* an own memory too small for its segment: the instance is freed */
    th_wasm_module *mo = module("05 { 01 00 00 }  0b { 01 00 41 00 0b 01 61 }");
    expect_inst_error(mo, NULL, NULL, TH_ETRAP, "out of bounds memory access");
    th_wasm_module_free(mo);
    /* offset 0 with an empty segment into an empty table is in bounds,
     * offset 1 is not */
    mo = module("04 { 01 70 00 00 }  09 { 01 00 41 00 0b 00 }");
    th_wasm_instance_free(instantiate(mo, NULL));
    th_wasm_module_free(mo);
    mo = module("04 { 01 70 00 00 }  09 { 01 00 41 01 0b 00 }");
    expect_inst_error(mo, NULL, NULL, TH_ETRAP, "out of bounds table access");
    th_wasm_module_free(mo);

    th_wasm_module_free(me);
    th_wasm_module_free(md);
    th_wasm_imports_free(imp);
    th_wasm_table_free(t);
    th_wasm_memory_free(mem);
}

static void test_start_function(void **state)
{
    (void)state;
    /* memory 1; start: i32.store (i32.const 0) (i32.const 42) */
    th_wasm_module *m = module("01 { 01 60 00 00 }  03 { 01 00 }"
                               "05 { 01 00 01 }  07 { 01 03 6d 65 6d 02 00 }"
                               "08 { 00 }"
                               "0a { 01 { 00 41 00 41 2a 36 02 00 0b } }");
    th_wasm_instance *inst = instantiate(m, NULL);
    uint64_t size;
    uint8_t *data = th_wasm_memory_data(th_wasm_instance_memory0(inst), &size);
    assert_int_equal(data[0], 42);
    th_wasm_instance_free(inst);
    th_wasm_module_free(m);

    /* start: unreachable */
    m = module("01 { 01 60 00 00 }  03 { 01 00 }  08 { 00 }"
               "0a { 01 { 00 00 0b } }");
    expect_inst_error(m, NULL, NULL, TH_ETRAP, "unreachable");
    th_wasm_module_free(m);

    /* start: an endless loop, stopped by the start fuel */
    m = module("01 { 01 60 00 00 }  03 { 01 00 }  08 { 00 }"
               "0a { 01 { 00 03 40 0c 00 0b 0b } }");
    th_wasm_instance_config cfg = {.start_fuel = 1000};
    th_wasm_instance *out = NULL;
    th_error err;
    assert_true(th_wasm_instance_new(m, NULL, &cfg, &out, &err) < 0);
    assert_null(out);
    th_wasm_module_free(m);
}

static void test_passive_segments(void **state)
{
    (void)state;
    /* data: passive "abc", active "d"; elem: passive [f], declarative [f],
     * active [f] */
    th_wasm_module *m = module("01 { 01 60 00 00 }  03 { 01 00 }"
                               "04 { 01 70 00 01 }  05 { 01 00 01 }"
                               "09 { 03 01 00 01 00  03 00 01 00"
                               "        00 41 00 0b 01 00 }"
                               "0c { 02 }"
                               "0a { 01 { 00 0b } }"
                               "0b { 02 01 03 61 62 63  00 41 05 0b 01 64 }");
    th_wasm_instance *inst = instantiate(m, NULL);
    assert_int_equal(inst->data_len[0], 3);
    assert_int_equal(inst->data_len[1], 0);
    assert_int_equal(inst->elems[0].len, 1);
    assert_ptr_equal(inst->elems[0].refs[0], inst->funcs[0]);
    assert_int_equal(inst->elems[1].len, 0);
    assert_int_equal(inst->elems[2].len, 0);
    assert_ptr_equal(inst->tables[0]->elems[0], inst->funcs[0]);
    assert_int_equal(inst->mem0->data[5], 'd');
    th_wasm_instance_free(inst);
    th_wasm_module_free(m);
}

static void test_globals_init(void **state)
{
    (void)state;
    /* import "m" "g" (global i64); globals: i64 = global.get 0,
     * f32 = 1.5, funcref = ref.func 0, externref = ref.null extern */
    th_wasm_module *m = module("01 { 01 60 00 00 }"
                               "02 { 01 01 6d 01 67 03 7e 00 }"
                               "03 { 01 00 }"
                               "06 { 04 7e 00 23 00 0b  7d 00 43 00 00 c0 3f 0b"
                               "        70 00 d2 00 0b  6f 01 d0 6f 0b }"
                               "0a { 01 { 00 0b } }");
    th_wasm_val v = {.i64 = -5};
    th_wasm_global *g = th_wasm_global_new(TH_WASM_I64, false, v);
    th_wasm_imports *imp = th_wasm_imports_new();
    th_wasm_imports_add_extern(imp, "m", "g", TH_WASM_EXTERN_GLOBAL, g);
    th_wasm_instance *inst = instantiate(m, imp);

    assert_int_equal(inst->globals[1]->val.i64, -5);
    assert_true(inst->globals[2]->val.f32 == 1.5f);
    assert_ptr_equal(inst->globals[3]->val.ref, inst->funcs[0]);
    assert_null(inst->globals[4]->val.ref);
    assert_true(inst->globals[4]->mut);
    th_wasm_instance_free(inst);
    th_wasm_module_free(m);
    th_wasm_imports_free(imp);
    th_wasm_global_free(g);
}

static void test_add_instance(void **state)
{
    (void)state;
    /* exporter: func "f", table "t" (1), memory "mem" (1), global "g" */
    th_wasm_module *a = module("01 { 01 60 00 00 }  03 { 01 00 }"
                               "04 { 01 70 00 01 }  05 { 01 00 01 }"
                               "06 { 01 7f 01 41 09 0b }"
                               "07 { 04 01 66 00 00  01 74 01 00"
                               "        03 6d 65 6d 02 00  01 67 03 00 }"
                               "0a { 01 { 00 0b } }");
    /* importer of all four from "A" */
    th_wasm_module *b = module("01 { 01 60 00 00 }"
                               "02 { 04 01 41 01 66 00 00"
                               "        01 41 01 74 01 70 00 01"
                               "        01 41 03 6d 65 6d 02 00 01"
                               "        01 41 01 67 03 7f 01 }");
    th_wasm_instance *ia = instantiate(a, NULL);
    th_wasm_imports *imp = th_wasm_imports_new();
    assert_int_equal(th_wasm_imports_add_instance(imp, "A", ia), 0);
    th_wasm_instance *ib = instantiate(b, imp);
    assert_ptr_equal(ib->funcs[0], th_wasm_instance_func(ia, "f"));
    assert_ptr_equal(ib->mem0, th_wasm_instance_memory0(ia));
    assert_ptr_equal(ib->globals[0], th_wasm_instance_global(ia, "g"));
    assert_ptr_equal(ib->tables[0], th_wasm_instance_table(ia, "t"));
    /* the module outlives its caller's reference while instances live */
    th_wasm_module_free(a);
    assert_int_equal(th_wasm_global_get(ib->globals[0]).i32, 9);
    th_wasm_instance_free(ib);
    th_wasm_instance_free(ia);
    th_wasm_module_free(b);
    th_wasm_imports_free(imp);
}

static void test_memory_objects(void **state)
{
    (void)state;
    uint64_t size;
    th_wasm_memory *mem = th_wasm_memory_new(0, 3);

    assert_non_null(th_wasm_memory_data(mem, &size));
    assert_int_equal(size, 0);
    assert_int_equal(th_wasm_memory_grow(mem, 1), 0);
    uint8_t *d = th_wasm_memory_data(mem, &size);
    assert_int_equal(size, 65536);
    d[65535] = 7;
    assert_int_equal(th_wasm_memory_grow(mem, 2), 1);
    d = th_wasm_memory_data(mem, &size);
    assert_int_equal(size, 3 * 65536);
    assert_int_equal(d[65535], 7);                     /* contents survive the move */
    assert_int_equal(d[65536], 0);                     /* new pages are zero */
    assert_int_equal(th_wasm_memory_grow(mem, 1), -1); /* max 3 */
    assert_int_equal(th_wasm_memory_grow(mem, 0), 3);
    th_wasm_memory_free(mem);
    assert_null(th_wasm_memory_new(65537, UINT32_MAX));
    th_wasm_memory_free(NULL);

    /* the embedder's byte limit: initial size and growth */
    th_wasm_module *m = module("05 { 01 00 02 }");
    th_wasm_instance_config cfg = {.max_memory_bytes = 65536};
    expect_inst_error(m, NULL, &cfg, TH_ETOOBIG, "memory limit");
    cfg.max_memory_bytes = 3 * 65536;
    th_wasm_instance *inst = NULL;
    th_error err;
    assert_int_equal(th_wasm_instance_new(m, NULL, &cfg, &inst, &err), 0);
    th_wasm_memory *m0 = th_wasm_instance_memory0(inst);
    assert_int_equal(wasm_memory_grow(m0, 1), 2);
    assert_int_equal(wasm_memory_grow(m0, 1), -1);
    th_wasm_instance_free(inst);
    th_wasm_module_free(m);

    /* tables */
    th_wasm_table *t = th_wasm_table_new(TH_WASM_EXTERNREF, 1, 4);
    void *ref;
    assert_int_equal(th_wasm_table_size(t), 1);
    assert_int_equal(wasm_table_grow(t, 2, (void *)t), 1);
    assert_int_equal(th_wasm_table_size(t), 3);
    assert_int_equal(th_wasm_table_get(t, 2, &ref), 0);
    assert_ptr_equal(ref, t);
    assert_int_equal(th_wasm_table_set(t, 0, (void *)&ref), 0);
    assert_int_equal(th_wasm_table_get(t, 0, &ref), 0);
    assert_non_null(ref);
    assert_int_equal(wasm_table_grow(t, 2, NULL), -1);
    assert_int_equal(th_wasm_table_set(t, 3, NULL), TH_EINVAL);
    th_wasm_table_free(t);
    assert_null(th_wasm_table_new(TH_WASM_I32, 0, 1));
    assert_null(th_wasm_table_new(TH_WASM_FUNCREF, 2, 1));

    /* globals */
    th_wasm_val v = {.bits = 0xffffffff00000001ull};
    th_wasm_global *g = th_wasm_global_new(TH_WASM_I32, true, v);
    assert_int_equal(th_wasm_global_type(g), TH_WASM_I32);
    assert_true(th_wasm_global_get(g).bits == 1); /* upper half cleared */
    v.i32 = 5;
    assert_int_equal(th_wasm_global_set(g, v), 0);
    assert_int_equal(th_wasm_global_get(g).i32, 5);
    th_wasm_global_free(g);
    assert_null(th_wasm_global_new(0x40, false, v));
}

/* Threads: loading (type interning), sharing one module (reference
 * counts) and one imports set (lookups) at the same time. */
typedef struct thread_arg {
    th_wasm_module *shared;
    const th_wasm_imports *imp;
    const uint8_t *bytes;
    size_t len;
    int failures;
} thread_arg;

static void *thread_main(void *p)
{
    thread_arg *a = p;
    th_wasm_exec *ex = th_wasm_exec_new(NULL);

    for (int i = 0; i < 200; i++) {
        th_wasm_module *own = NULL;
        th_wasm_instance *i1 = NULL, *i2 = NULL;
        th_wasm_val args[2] = {{.i32 = i}, {.i32 = 1}}, res[1];
        th_error err;

        if (th_wasm_module_new(a->bytes, a->len, &own, &err) != 0 ||
            th_wasm_instance_new(own, a->imp, NULL, &i1, &err) != 0 ||
            th_wasm_instance_new(a->shared, a->imp, NULL, &i2, &err) != 0 ||
            th_wasm_exec_call(ex, th_wasm_instance_func(i2, "f"), args, 2, res, 1) != TH_OK ||
            res[0].i32 != i + 1)
            a->failures++;
        th_wasm_instance_free(i1);
        th_wasm_instance_free(i2);
        th_wasm_module_free(own);
    }
    th_wasm_exec_free(ex);
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    static const char *hex = "01 { 01 60 02 7f 7f 01 7f }"
                             "02 { 01 03 65 6e 76 03 61 64 64 00 00 }"
                             "03 { 01 00 }  07 { 01 01 66 00 01 }"
                             "0a { 01 { 00 20 00 20 01 10 00 0b } }";
    uint8_t buf[256] = {0, 'a', 's', 'm', 1, 0, 0, 0};
    size_t n = 8;
    pthread_t th[4];
    thread_arg args[4];
    th_wasm_imports *imp = th_wasm_imports_new();

    hex_parse(hex, buf, sizeof buf, &n);
    th_wasm_imports_add_func(imp, "env", "add", "ii>i", host_add, NULL);
    th_wasm_module *shared = module(hex);
    for (int i = 0; i < 4; i++) {
        args[i] = (thread_arg){shared, imp, buf, n, 0};
        assert_int_equal(pthread_create(&th[i], NULL, thread_main, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].failures, 0);
    }
    th_wasm_module_free(shared);
    th_wasm_imports_free(imp);
}

/* Resident set size in bytes. */
static long rss_bytes(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL)
        return -1;
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
        resident = -1;
    fclose(f);
    return resident < 0 ? -1 : resident * sysconf(_SC_PAGESIZE);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Whether all `n` bytes at `d` are zero. */
static bool all_zero(const uint8_t *d, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (d[i] != 0)
            return false;
    return true;
}

/* Small memories live in slots of shared mappings (memory.c): growing in
 * the slot, growing out of it (the pages move, then grow again as a
 * mapping of their own), and slots reused zeroed after their memory is
 * freed, in any order (they are emptied in batches). */
static void test_memory_slots(void **state)
{
    (void)state;
    uint64_t size;
    th_wasm_memory *mem = th_wasm_memory_new(3, 64), *v[64];
    uint8_t *d = th_wasm_memory_data(mem, &size), *d2;

    assert_int_equal(size, 3 * 65536);
    assert_true(all_zero(d, size));
    d[0] = 1;
    d[3 * 65536 - 1] = 2;
    /* 4 pages: still its slot (256 KiB) */
    assert_int_equal(th_wasm_memory_grow(mem, 1), 3);
    d2 = th_wasm_memory_data(mem, &size);
    assert_int_equal(size, 4 * 65536);
    assert_true(all_zero(d2 + 3 * 65536, 65536));
    d2[4 * 65536 - 1] = 3;
    /* 9 pages: out of the slot, then 20 pages: its own mapping grows */
    assert_int_equal(th_wasm_memory_grow(mem, 5), 4);
    assert_int_equal(th_wasm_memory_grow(mem, 11), 9);
    d2 = th_wasm_memory_data(mem, &size);
    assert_int_equal(size, 20 * 65536);
    assert_int_equal(d2[0], 1);
    assert_int_equal(d2[3 * 65536 - 1], 2);
    assert_int_equal(d2[4 * 65536 - 1], 3);
    assert_true(all_zero(d2 + 4 * 65536, 16 * 65536));
    assert_true(all_zero(d2 + 1, 3 * 65536 - 2));
    th_wasm_memory_free(mem);

    /* freed slots come back zeroed */
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 64; i++) {
            v[i] = th_wasm_memory_new(1 + (uint32_t)(i % 3), 64);
            d = th_wasm_memory_data(v[i], &size);
            assert_true(all_zero(d, size));
            memset(d, 0xa5, size);
        }
        /* out of order: the slots are emptied in batches, each run of
         * neighbours in one call (memory.c, slot_give) */
        for (int i = round % 2; i < 64; i += 2)
            th_wasm_memory_free(v[i]);
        for (int i = 63 - round % 2; i >= 0; i -= 2)
            th_wasm_memory_free(v[i]);
    }
}

/* Memories packed together (th_wasm_memory_pack_many gives back the
 * pages of neighbouring memories in one call): each packed one comes back
 * byte for byte, the ones not in the batch between them keep theirs, and
 * a packed memory freed without being unpacked leaves its slot zeroed for
 * the next one. */
static void test_memory_pack_many(void **state)
{
    (void)state;
    enum { N = 24 };
    th_wasm_memory *v[N], *batch[N];
    int status[N];
    uint64_t size;
    size_t nb = 0, i;
    uint8_t *d;

    for (i = 0; i < N; i++) {
        v[i] = th_wasm_memory_new(1 + (uint32_t)(i % 5 == 4), 4);
        d = th_wasm_memory_data(v[i], &size);
        d[7] = (uint8_t)(i + 1);
        d[size - 1] = (uint8_t)(0x80 | i);
        if (i % 3 != 1) /* every third one stays out, between the others */
            batch[nb++] = v[i];
    }
    assert_int_equal(th_wasm_memory_pack_many(batch, nb, 1u << 20, status), nb);
    for (i = 0; i < nb; i++) {
        assert_int_equal(status[i], 1);
        assert_true(th_wasm_memory_packed(batch[i]));
    }
    for (i = 0; i < N; i++) {
        assert_int_equal(th_wasm_memory_packed(v[i]), i % 3 != 1);
        if (i % 3 != 1) {
            /* given back: reads as zeros until unpacked */
            d = th_wasm_memory_data(v[i], &size);
            assert_true(all_zero(d, size));
            th_wasm_memory_unpack(v[i]);
        }
        d = th_wasm_memory_data(v[i], &size);
        assert_int_equal(d[7], i + 1);
        assert_int_equal(d[size - 1], 0x80 | i);
        d[7] = d[size - 1] = 0;
        assert_true(all_zero(d, size));
    }
    /* packed once, not again */
    d = th_wasm_memory_data(v[0], &size);
    d[100] = 9;
    assert_int_equal(th_wasm_memory_pack(v[0], 1u << 20), 1);
    assert_int_equal(th_wasm_memory_pack(v[0], 1u << 20), 0);
    assert_int_equal(th_wasm_memory_pack_many(v, 1, 1u << 20, status), 0);
    assert_int_equal(status[0], 0);
    th_wasm_memory_unpack(v[0]);
    assert_int_equal(d[100], 9);
    /* freed while packed, then the slots taken again: all zero */
    for (i = 0; i < N; i++) {
        d = th_wasm_memory_data(v[i], &size);
        memset(d, 0x5a, 512);
    }
    assert_int_equal(th_wasm_memory_pack_many(v, N, 1u << 20, status), N);
    for (i = 0; i < N; i++)
        th_wasm_memory_free(v[i]);
    for (i = 0; i < N; i++) {
        v[i] = th_wasm_memory_new(1 + (uint32_t)(i % 5 == 4), 4);
        d = th_wasm_memory_data(v[i], &size);
        assert_true(all_zero(d, size));
    }
    for (i = 0; i < N; i++)
        th_wasm_memory_free(v[i]);
}

/* Slots taken and given back from several threads at once. */
static void *slot_worker(void *arg)
{
    uint64_t size;

    (void)arg;
    for (int i = 0; i < 500; i++) {
        th_wasm_memory *mem = th_wasm_memory_new(1, 4);
        uint8_t *d = th_wasm_memory_data(mem, &size);
        if (!all_zero(d, size))
            return (void *)1;
        memset(d, 0x5a, 512);
        if (i % 7 == 0 && th_wasm_memory_grow(mem, 2) != 1)
            return (void *)1;
        th_wasm_memory_free(mem);
    }
    return NULL;
}

static void test_memory_slots_threads(void **state)
{
    pthread_t th[4];
    void *r;

    (void)state;
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, slot_worker, NULL), 0);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(th[i], &r), 0);
        assert_null(r);
    }
}

static void test_many_small_instances(void **state)
{
    (void)state;
    /* 1-page memory with a data segment, a table with two elements, two
     * globals, three functions and four exports. */
    th_wasm_module *m = module("01 { 02 60 01 7f 01 7f 60 00 00 }"
                               "03 { 03 00 00 01 }"
                               "04 { 01 70 00 02 }"
                               "05 { 01 00 01 }"
                               "06 { 02 7f 01 41 00 0b 7e 00 42 01 0b }"
                               "07 { 04 03 6d 65 6d 02 00 03 69 6e 63 00 00 03 64 65 63 00 01"
                               "        04 69 6e 69 74 00 02 }"
                               "09 { 01 00 41 00 0b 02 00 01 }"
                               "0a { 03 { 00 20 00 41 01 6a 0b } { 00 20 00 41 01 6b 0b }"
                               "        { 00 41 00 41 01 36 02 00 0b } }"
                               "0b { 01 00 41 10 0b 05 68 65 6c 6c 6f }");
    enum { N = 10000 };
    th_wasm_instance **insts = calloc(N, sizeof *insts);
    uint64_t *ns = calloc(N, sizeof *ns);
    th_error err;
    long before, after;

    assert_non_null(insts);
    /* warm up the allocator and the page cache of the code */
    for (int i = 0; i < 100; i++) {
        assert_int_equal(th_wasm_instance_new(m, NULL, NULL, &insts[i], &err), 0);
        th_wasm_instance_free(insts[i]);
    }
    before = rss_bytes();
    for (int i = 0; i < N; i++) {
        uint64_t t0 = now_ns();
        assert_int_equal(th_wasm_instance_new(m, NULL, NULL, &insts[i], &err), 0);
        ns[i] = now_ns() - t0;
    }
    after = rss_bytes();
    qsort(ns, N, sizeof *ns, cmp_u64);
    print_message("instantiate: median %.2f us, p99 %.2f us; RSS %.2f KiB per "
                  "live instance\n",
                  ns[N / 2] / 1000.0, ns[N * 99 / 100] / 1000.0,
                  (double)(after - before) / N / 1024.0);
    assert_int_equal(insts[N - 1]->mem0->data[16], 'h');
#if !defined(__SANITIZE_ADDRESS__)
    /* Sanitizers inflate every allocation; the bound holds without them. */
    if (before > 0 && after > 0)
        assert_true((after - before) / N <= 16 * 1024);
#endif
    for (int i = 0; i < N; i++)
        th_wasm_instance_free(insts[i]);
    free(insts);
    free(ns);
    th_wasm_module_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_host_import),          cmocka_unit_test(test_link_errors),
        cmocka_unit_test(test_introspection),        cmocka_unit_test(test_segment_traps),
        cmocka_unit_test(test_start_function),       cmocka_unit_test(test_passive_segments),
        cmocka_unit_test(test_globals_init),         cmocka_unit_test(test_add_instance),
        cmocka_unit_test(test_memory_objects),       cmocka_unit_test(test_threads),
        cmocka_unit_test(test_many_small_instances), cmocka_unit_test(test_memory_slots),
        cmocka_unit_test(test_memory_slots_threads), cmocka_unit_test(test_memory_pack_many),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
