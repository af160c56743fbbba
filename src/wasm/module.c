/*
 * module.c - th_wasm_module: load (decode, validate, translate), reference
 * counting, and introspection of imports and exports.
 *
 * A module is immutable once th_wasm_module_new returns, so any number of
 * instances on any threads may share it.  The reference count starts at 1
 * (the caller's); each instance holds one more.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wasm_int.h"

int th_wasm_module_new(const uint8_t *bytes, size_t len, th_wasm_module **out, th_error *err)
{
    th_wasm_module *m;
    int rc;

    if (out == NULL || (bytes == NULL && len != 0))
        return th_error_set(err, TH_EINVAL, "no module bytes");
    *out = NULL;
    if ((rc = wasm_decode(bytes, len, &m, err)) < 0)
        return rc;
    if ((rc = wasm_validate_module(m, err)) < 0)
        goto fail;
    if ((rc = wasm_compile_module(m, err)) < 0)
        goto fail;
    if ((rc = wasm_export_order(m, &m->export_order)) < 0) {
        th_error_set(err, rc, "out of memory");
        goto fail;
    }
    *out = m;
    return 0;
fail:
    wasm_module_destroy(m);
    return rc;
}

long long th_wasm_error_offset(const char *message)
{
    const char *p = message != NULL ? strstr(message, "offset 0x") : NULL;
    char *end;
    unsigned long long off;

    if (p == NULL)
        return -1;
    errno = 0;
    off = strtoull(p + 9, &end, 16);
    return errno != 0 || end == p + 9 || off > INT64_MAX ? -1 : (long long)off;
}

int th_wasm_module_validate(const uint8_t *bytes, size_t len, th_error *err)
{
    th_wasm_module *m = NULL;
    int rc = th_wasm_module_new(bytes, len, &m, err);

    if (rc == 0)
        th_wasm_module_free(m);
    return rc;
}

void th_wasm_module_free(th_wasm_module *m)
{
    if (m == NULL)
        return;
    if (atomic_fetch_sub_explicit(&m->refcount, 1, memory_order_acq_rel) == 1)
        wasm_module_destroy(m);
}

void wasm_module_destroy(th_wasm_module *m)
{
    uint32_t ndef;

    if (m == NULL)
        return;
    ndef = m->nfuncs - m->nfunc_imports;
    for (uint32_t i = 0; i < m->ntypes; i++) {
        wasm_functype_release(m->types[i].canon);
        free(m->types[i].types);
    }
    free(m->types);
    for (uint32_t i = 0; i < m->nimports; i++) {
        free(m->imports[i].module);
        free(m->imports[i].name);
    }
    free(m->imports);
    free(m->func_type);
    free(m->tables);
    free(m->mems);
    free(m->globals);
    free(m->global_init);
    for (uint32_t i = 0; i < m->nexports; i++)
        free(m->exports[i].name);
    free(m->exports);
    for (uint32_t i = 0; i < m->nelems; i++) {
        free(m->elems[i].funcs);
        free(m->elems[i].exprs);
    }
    free(m->elems);
    free(m->datas);
    if (m->bodies != NULL)
        for (uint32_t i = 0; i < ndef; i++)
            free(m->bodies[i].local_types);
    free(m->bodies);
    free(m->func_declared);
    free(m->name);
    if (m->func_names != NULL)
        for (uint32_t i = 0; i < m->nfuncs; i++)
            free(m->func_names[i]);
    free(m->func_names);
    free(m->export_order);
    if (m->code != NULL)
        for (uint32_t i = 0; i < ndef; i++)
            if (m->code[i] != NULL)
                wasm_code_free(m->code[i]);
    free(m->code);
    free(m->bytes);
    free(m);
}

/* ------------------------------------------------------------------ */
/* Introspection                                                      */

uint32_t th_wasm_module_import_count(const th_wasm_module *m)
{
    return m->nimports;
}

uint32_t th_wasm_module_export_count(const th_wasm_module *m)
{
    return m->nexports;
}

bool th_wasm_module_has_start(const th_wasm_module *m)
{
    return m->has_start;
}

static void limits_desc(const wasm_limits *l, th_wasm_extern_desc *out)
{
    out->min = l->min;
    out->max = l->has_max ? l->max : UINT64_MAX;
}

int th_wasm_module_import(const th_wasm_module *m, uint32_t i, th_wasm_extern_desc *out)
{
    const wasm_import *im;

    if (i >= m->nimports)
        return TH_ENOENT;
    im = &m->imports[i];
    memset(out, 0, sizeof *out);
    out->module = im->module;
    out->module_len = im->module_len;
    out->name = im->name;
    out->name_len = im->name_len;
    out->kind = (th_wasm_extern_kind)im->kind;
    switch (im->kind) {
    case TH_WASM_EXTERN_FUNC: out->functype = m->types[im->u.type_idx].pub; break;
    case TH_WASM_EXTERN_TABLE:
        out->valtype = im->u.table.reftype;
        limits_desc(&im->u.table.limits, out);
        break;
    case TH_WASM_EXTERN_MEMORY: limits_desc(&im->u.mem, out); break;
    default:
        out->valtype = im->u.global.valtype;
        out->mutable_ = im->u.global.mut;
        break;
    }
    return 0;
}

int th_wasm_module_export(const th_wasm_module *m, uint32_t i, th_wasm_extern_desc *out)
{
    const wasm_export *ex;

    if (i >= m->nexports)
        return TH_ENOENT;
    ex = &m->exports[i];
    memset(out, 0, sizeof *out);
    out->name = ex->name;
    out->name_len = ex->name_len;
    out->kind = (th_wasm_extern_kind)ex->kind;
    switch (ex->kind) {
    case TH_WASM_EXTERN_FUNC: out->functype = m->types[m->func_type[ex->idx]].pub; break;
    case TH_WASM_EXTERN_TABLE:
        out->valtype = m->tables[ex->idx].reftype;
        limits_desc(&m->tables[ex->idx].limits, out);
        break;
    case TH_WASM_EXTERN_MEMORY: limits_desc(&m->mems[ex->idx], out); break;
    default:
        out->valtype = m->globals[ex->idx].valtype;
        out->mutable_ = m->globals[ex->idx].mut;
        break;
    }
    return 0;
}
