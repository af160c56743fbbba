/*
 * fuzz_wasm.c - fuzz harness for the WebAssembly engine: an input is a
 * module binary; see fuzz_wasm.h.
 *
 * Two input forms: a module binary (starts with 0x00, as "\0asm" does),
 * or, for any other first byte, a function body (the bytes after the first:
 * locals and instructions) that the harness places in a fixed module with
 * a memory, a table, globals, segments and an imported function, so that
 * the translator and interpreter see far more valid code than mutating
 * whole binaries would give them.
 *
 * Resource bounds keep one input cheap: imported memories are created with
 * at most FUZZ_MAX_PAGES pages, every instance's memories are limited to
 * FUZZ_MAX_MEMORY bytes, the start function and each export get
 * FUZZ_FUEL fuel units, and at most FUZZ_MAX_CALLS exports are called.
 */
#include <stdlib.h>
#include <string.h>

#include "theater/wasm.h"
#include "fuzz_wasm.h"

#define FUZZ_MAX_PAGES 16u
#define FUZZ_MAX_TABLE 10000u
#define FUZZ_MAX_MEMORY (16u * 65536u)
#define FUZZ_FUEL 2000u
#define FUZZ_MAX_CALLS 64u
#define FUZZ_MAX_STACK (256u * 1024u)

static int stub_trap(th_wasm_call *call, void *ctx, const th_wasm_val *args, th_wasm_val *results)
{
    (void)ctx, (void)args, (void)results;
    return th_wasm_call_trap(call, "fuzz stub import");
}

static char sig_letter(uint8_t t)
{
    switch (t) {
    case TH_WASM_I32: return 'i';
    case TH_WASM_I64: return 'I';
    case TH_WASM_F32: return 'f';
    case TH_WASM_F64: return 'F';
    case TH_WASM_FUNCREF: return 'r';
    case TH_WASM_EXTERNREF: return 'e';
    default: return 0; /* v128: host functions cannot take it */
    }
}

/* Slots of n values of `types` (a v128 takes two). */
static uint32_t slots_of(const uint8_t *types, uint32_t n)
{
    uint32_t k = 0;
    for (uint32_t i = 0; i < n; i++)
        k += types[i] == TH_WASM_V128 ? 2 : 1;
    return k;
}

/* Externs the harness creates for imports, freed after the instance. */
typedef struct owned {
    th_wasm_memory *mems[8];
    th_wasm_table *tables[64];
    th_wasm_global *globals[64];
    unsigned nmems, ntables, nglobals;
} owned;

static void owned_free(owned *o)
{
    for (unsigned i = 0; i < o->nmems; i++)
        th_wasm_memory_free(o->mems[i]);
    for (unsigned i = 0; i < o->ntables; i++)
        th_wasm_table_free(o->tables[i]);
    for (unsigned i = 0; i < o->nglobals; i++)
        th_wasm_global_free(o->globals[i]);
}

/* Bind import i of m, or return -1 to skip instantiating. */
static int bind_import(th_wasm_imports *imp, const th_wasm_extern_desc *d, owned *o)
{
    char sig[2 * 1000 + 2];
    size_t k = 0;
    void *ext = NULL;

    /* Names with NUL bytes cannot be bound through the C-string API. */
    if (strlen(d->module) != d->module_len || strlen(d->name) != d->name_len)
        return -1;
    switch (d->kind) {
    case TH_WASM_EXTERN_FUNC:
        if (d->functype.nparams + d->functype.nresults > 2000)
            return -1;
        for (uint32_t i = 0; i < d->functype.nparams; i++)
            if ((sig[k++] = sig_letter(d->functype.types[i])) == 0)
                return -1;
        sig[k++] = '>';
        for (uint32_t i = 0; i < d->functype.nresults; i++)
            if ((sig[k++] = sig_letter(d->functype.types[d->functype.nparams + i])) == 0)
                return -1;
        sig[k] = '\0';
        /* a duplicate (module, name) keeps its first binding */
        th_wasm_imports_add_func(imp, d->module, d->name, sig, stub_trap, NULL);
        return 0;
    case TH_WASM_EXTERN_MEMORY:
        if (d->min > FUZZ_MAX_PAGES || o->nmems == 8)
            return -1;
        ext = o->mems[o->nmems++] = th_wasm_memory_new(
            (uint32_t)d->min, d->max == UINT64_MAX ? UINT32_MAX : (uint32_t)d->max);
        break;
    case TH_WASM_EXTERN_TABLE:
        if (d->min > FUZZ_MAX_TABLE || o->ntables == 64)
            return -1;
        ext = o->tables[o->ntables++] = th_wasm_table_new(
            d->valtype, (uint32_t)d->min, d->max == UINT64_MAX ? UINT32_MAX : (uint32_t)d->max);
        break;
    default: {
        th_wasm_val zero;
        zero.bits = 0;
        if (o->nglobals == 64)
            return -1;
        ext = o->globals[o->nglobals++] = th_wasm_global_new(d->valtype, d->mutable_, zero);
        break;
    }
    }
    if (ext == NULL)
        return -1;
    th_wasm_imports_add_extern(imp, d->module, d->name, d->kind, ext);
    return 0;
}

static void call_exports(th_wasm_module *m, th_wasm_instance *inst)
{
    th_wasm_exec_config ecfg = {.max_stack_bytes = FUZZ_MAX_STACK, .max_call_depth = 500};
    th_wasm_exec *ex = th_wasm_exec_new(&ecfg);
    th_wasm_val args[2000], results[2000];
    uint32_t calls = 0;

    if (ex == NULL)
        return;
    memset(args, 0, sizeof args);
    for (uint32_t i = 0; i < th_wasm_module_export_count(m) && calls < FUZZ_MAX_CALLS; i++) {
        th_wasm_extern_desc d;
        th_wasm_func *f;

        if (th_wasm_module_export(m, i, &d) != 0 || d.kind != TH_WASM_EXTERN_FUNC ||
            d.functype.nparams > 1000 || d.functype.nresults > 1000 || strlen(d.name) != d.name_len)
            continue;
        f = th_wasm_instance_func(inst, d.name);
        if (f == NULL)
            continue;
        calls++;
        th_wasm_exec_set_fuel(ex, FUZZ_FUEL);
        if (th_wasm_exec_call(ex, f, args, slots_of(d.functype.types, d.functype.nparams), results,
                              slots_of(d.functype.types + d.functype.nparams,
                                       d.functype.nresults)) == TH_WASM_OUT_OF_FUEL)
            th_wasm_exec_abort(ex);
    }
    th_wasm_exec_free(ex);
}

/* Byte buffer for the body-form module. */
typedef struct wbuf {
    uint8_t *p;
    size_t n, cap;
} wbuf;

static int wb_put(wbuf *b, const void *src, size_t n)
{
    if (b->n + n > b->cap) {
        size_t cap = (b->n + n) * 2;
        uint8_t *p = realloc(b->p, cap);
        if (p == NULL)
            return -1;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, src, n);
    b->n += n;
    return 0;
}

static int wb_leb(wbuf *b, size_t v)
{
    do {
        uint8_t c = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        if (wb_put(b, &c, 1) < 0)
            return -1;
        v >>= 7;
    } while (v != 0);
    return 0;
}

static int wb_section(wbuf *b, uint8_t id, const void *content, size_t n)
{
    if (wb_put(b, &id, 1) < 0 || wb_leb(b, n) < 0)
        return -1;
    return wb_put(b, content, n);
}

/*
 * The module around a fuzzed body:
 *   type 0 (i32 i32) -> i32, type 1 () -> (), type 2 (i64 f64) -> f32
 *   import "env" "f" : type 1 (a stub that traps)
 *   func 1 : type 0, the fuzzed body;  func 2 : type 1, empty
 *   table 4..16 funcref, memory 1..4, globals mut i32, i64 const, mut funcref
 *   export "run" = func 1, elem (i32.const 0) func 1 func 2, passive elem,
 *   data count 2, active data "wasm" at 8, passive data "abcd"
 */
static uint8_t *body_module(const uint8_t *body, size_t n, size_t *len)
{
    static const uint8_t header[8] = {0, 'a', 's', 'm', 1, 0, 0, 0};
    static const uint8_t types[] = {3, 0x60, 2,    0x7f, 0x7f, 1,    0x7f, 0x60,
                                    0, 0,    0x60, 2,    0x7e, 0x7c, 1,    0x7d};
    static const uint8_t imports[] = {1, 3, 'e', 'n', 'v', 1, 'f', 0, 1};
    static const uint8_t funcs[] = {2, 0, 1};
    static const uint8_t tables[] = {1, 0x70, 1, 4, 16};
    static const uint8_t mems[] = {1, 1, 1, 4};
    static const uint8_t globals[] = {3,    0x7f, 1,    0x41, 7, 0x0b, 0x7e, 0,
                                      0x42, 0x7f, 0x0b, 0x70, 1, 0xd2, 2,    0x0b};
    static const uint8_t exports[] = {1, 3, 'r', 'u', 'n', 0, 1};
    static const uint8_t elems[] = {2, 0, 0x41, 0, 0x0b, 2, 1, 2, 1, 0, 1, 1};
    static const uint8_t datacount[] = {2};
    static const uint8_t datas[] = {2,   0,   0x41, 8, 0x0b, 4,   'w', 'a',
                                    's', 'm', 1,    4, 'a',  'b', 'c', 'd'};
    wbuf b = {NULL, 0, 0}, code = {NULL, 0, 0};
    int rc = 0;

    rc |= wb_put(&code, "\x02", 1);
    rc |= wb_leb(&code, n);
    rc |= wb_put(&code, body, n);
    rc |= wb_put(&code, "\x02\x00\x0b", 3); /* func 2: no locals, end */
    rc |= wb_put(&b, header, sizeof header);
    rc |= wb_section(&b, 1, types, sizeof types);
    rc |= wb_section(&b, 2, imports, sizeof imports);
    rc |= wb_section(&b, 3, funcs, sizeof funcs);
    rc |= wb_section(&b, 4, tables, sizeof tables);
    rc |= wb_section(&b, 5, mems, sizeof mems);
    rc |= wb_section(&b, 6, globals, sizeof globals);
    rc |= wb_section(&b, 7, exports, sizeof exports);
    rc |= wb_section(&b, 9, elems, sizeof elems);
    rc |= wb_section(&b, 12, datacount, sizeof datacount);
    if (code.p != NULL)
        rc |= wb_section(&b, 10, code.p, code.n);
    rc |= wb_section(&b, 11, datas, sizeof datas);
    free(code.p);
    if (rc != 0) {
        free(b.p);
        return NULL;
    }
    *len = b.n;
    return b.p;
}

static int run_module(const uint8_t *data, size_t size);

int fuzz_wasm_one(const uint8_t *data, size_t size)
{
    uint8_t *mod;
    size_t len;
    int rc;

    if (size == 0 || data[0] == 0x00)
        return run_module(data, size);
    if ((mod = body_module(data + 1, size - 1, &len)) == NULL)
        return 0;
    rc = run_module(mod, len);
    free(mod);
    return rc;
}

static int run_module(const uint8_t *data, size_t size)
{
    th_wasm_module *m = NULL;
    th_wasm_imports *imp;
    th_wasm_instance *inst = NULL;
    th_wasm_instance_config cfg = {.max_memory_bytes = FUZZ_MAX_MEMORY, .start_fuel = FUZZ_FUEL};
    owned o;
    th_error err;
    bool skip = false;

    if (th_wasm_module_new(data, size, &m, &err) != 0)
        return 0;
    memset(&o, 0, sizeof o);
    imp = th_wasm_imports_new();
    for (uint32_t i = 0; imp != NULL && i < th_wasm_module_import_count(m); i++) {
        th_wasm_extern_desc d;
        if (th_wasm_module_import(m, i, &d) != 0 || bind_import(imp, &d, &o) < 0) {
            skip = true;
            break;
        }
    }
    if (imp != NULL && !skip && th_wasm_instance_new(m, imp, &cfg, &inst, &err) == 0) {
        call_exports(m, inst);
        th_wasm_instance_free(inst);
    }
    th_wasm_imports_free(imp);
    owned_free(&o);
    th_wasm_module_free(m);
    return 1;
}
