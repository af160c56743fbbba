/*
 * spectest.c - the `spectest` host module every spec script may import:
 * print functions (silent, or a log line per call), four immutable globals
 * holding 666 / 666.6, a funcref table (10..20) and a memory (1..2 pages).
 *
 * The externs are standalone objects made with the engine's _new
 * functions and bound by name into a th_wasm_imports set; the caller owns
 * them and frees them after every instance of the script.
 */
#include <inttypes.h>
#include <string.h>

#include "spec.h"

/* Print the arguments as the signature letters describe them. */
static int spectest_print(th_wasm_call *call, void *ctx, const th_wasm_val *args,
                          th_wasm_val *results)
{
    const spec_print_ctx *pc = ctx;
    (void)call;
    (void)results;
    if (pc->log == NULL)
        return TH_OK;
    fprintf(pc->log, "spectest.%s(", pc->name);
    for (size_t i = 0; pc->sig[i] != '\0' && pc->sig[i] != '>'; i++) {
        const char *sep = i ? ", " : "";
        switch (pc->sig[i]) {
        case 'i': fprintf(pc->log, "%s%" PRId32, sep, args[i].i32); break;
        case 'I': fprintf(pc->log, "%s%" PRId64, sep, args[i].i64); break;
        case 'f': fprintf(pc->log, "%s%.9g", sep, (double)args[i].f32); break;
        case 'F': fprintf(pc->log, "%s%.17g", sep, args[i].f64); break;
        default: fprintf(pc->log, "%s?", sep); break;
        }
    }
    fprintf(pc->log, ")\n");
    return TH_OK;
}

static const struct {
    const char *name;
    const char *sig;
} print_funcs[SPEC_NPRINTS] = {
    {"print", ""},       {"print_i32", "i>"},      {"print_i64", "I>"},      {"print_f32", "f>"},
    {"print_f64", "F>"}, {"print_i32_f32", "if>"}, {"print_f64_f64", "FF>"},
};

int spec_spectest_init(spec_spectest *st, FILE *log)
{
    memset(st, 0, sizeof *st);
    th_wasm_val v;
    v.bits = 0;
    v.i32 = 666;
    st->global_i32 = th_wasm_global_new(TH_WASM_I32, false, v);
    v.bits = 0;
    v.i64 = 666;
    st->global_i64 = th_wasm_global_new(TH_WASM_I64, false, v);
    v.bits = 0;
    v.f32 = 666.6f;
    st->global_f32 = th_wasm_global_new(TH_WASM_F32, false, v);
    v.bits = 0;
    v.f64 = 666.6;
    st->global_f64 = th_wasm_global_new(TH_WASM_F64, false, v);
    st->table = th_wasm_table_new(TH_WASM_FUNCREF, 10, 20);
    st->memory = th_wasm_memory_new(1, 2);
    for (size_t i = 0; i < SPEC_NPRINTS; i++) {
        st->prints[i].name = print_funcs[i].name;
        st->prints[i].sig = print_funcs[i].sig;
        st->prints[i].log = log;
    }
    if (!st->global_i32 || !st->global_i64 || !st->global_f32 || !st->global_f64 || !st->table ||
        !st->memory) {
        spec_spectest_release(st);
        return TH_ENOMEM;
    }
    return 0;
}

void spec_spectest_release(spec_spectest *st)
{
    th_wasm_global *globals[4] = {st->global_i32, st->global_i64, st->global_f32, st->global_f64};
    for (size_t i = 0; i < 4; i++) {
        if (globals[i] != NULL)
            th_wasm_global_free(globals[i]);
    }
    if (st->table != NULL)
        th_wasm_table_free(st->table);
    if (st->memory != NULL)
        th_wasm_memory_free(st->memory);
    memset(st, 0, sizeof *st);
}

int spec_spectest_bind(spec_spectest *st, th_wasm_imports *imp)
{
    int rc = 0;
    for (size_t i = 0; i < SPEC_NPRINTS && rc == 0; i++)
        rc = th_wasm_imports_add_func(imp, "spectest", st->prints[i].name, st->prints[i].sig,
                                      spectest_print, &st->prints[i]);
    if (rc == 0)
        rc = th_wasm_imports_add_extern(imp, "spectest", "global_i32", TH_WASM_EXTERN_GLOBAL,
                                        st->global_i32);
    if (rc == 0)
        rc = th_wasm_imports_add_extern(imp, "spectest", "global_i64", TH_WASM_EXTERN_GLOBAL,
                                        st->global_i64);
    if (rc == 0)
        rc = th_wasm_imports_add_extern(imp, "spectest", "global_f32", TH_WASM_EXTERN_GLOBAL,
                                        st->global_f32);
    if (rc == 0)
        rc = th_wasm_imports_add_extern(imp, "spectest", "global_f64", TH_WASM_EXTERN_GLOBAL,
                                        st->global_f64);
    if (rc == 0)
        rc = th_wasm_imports_add_extern(imp, "spectest", "table", TH_WASM_EXTERN_TABLE, st->table);
    if (rc == 0)
        rc = th_wasm_imports_add_extern(imp, "spectest", "memory", TH_WASM_EXTERN_MEMORY,
                                        st->memory);
    return rc;
}
