/*
 * validate.c - module-level validation of WebAssembly 2.0: everything
 * outside function bodies (those are compile.c's).
 *
 * Checked here: type indices of imports and functions, table and memory
 * limits, at most one memory, constant expressions (global initializers,
 * segment offsets, element expressions), element and data segments, the
 * exports (indices, unique names) and the start function.  The messages
 * carry the specification's wording ("unknown global 1", "type mismatch",
 * "constant expression required", ...) so the official tests recognise
 * them.  Every message starts "at offset 0x..:" with the byte offset of the
 * entry that is wrong (the import, export, segment, function or table
 * entry, memory, the start section's index), as the decoder's do.
 *
 * Constant expressions follow the 2.0 rules: t.const, ref.null, ref.func
 * and global.get of an immutable *imported* global; the expression must
 * leave exactly one value of the expected type.
 */
#include <stdlib.h>
#include <string.h>

#include "wasm_int.h"

static const char *kind_name(uint8_t kind)
{
    switch (kind) {
    case TH_WASM_EXTERN_FUNC: return "function";
    case TH_WASM_EXTERN_TABLE: return "table";
    case TH_WASM_EXTERN_MEMORY: return "memory";
    default: return "global";
    }
}

/* Limits of the entry at byte `at`. */
static int check_limits(const wasm_limits *l, uint64_t bound, size_t at, const char *what,
                        uint32_t idx, th_error *err)
{
    if (bound != 0 && l->min > bound)
        return th_error_set(err, TH_EINVAL,
                            "at offset 0x%zx: %s %u: memory size must be at most 65536 pages "
                            "(4GiB)",
                            at, what, idx);
    if (l->has_max && bound != 0 && l->max > bound)
        return th_error_set(err, TH_EINVAL,
                            "at offset 0x%zx: %s %u: memory size must be at most 65536 pages "
                            "(4GiB)",
                            at, what, idx);
    if (l->has_max && l->min > l->max)
        return th_error_set(err, TH_EINVAL,
                            "at offset 0x%zx: %s %u: size minimum must not be greater than "
                            "maximum",
                            at, what, idx);
    return 0;
}

/* Check constant expression `e` against the expected type `want` and
 * return its single instruction in *out (optional). */
static int check_const(const th_wasm_module *m, const wasm_expr *e, uint8_t want, const char *what,
                       uint32_t idx, th_error *err)
{
    size_t pos = e->off, end = (size_t)e->off + e->len;
    uint32_t count = 0;
    uint8_t type = 0;
    wasm_cinstr ins;
    int k;

    /* Pass 1 (constness and global indices), in instruction order. */
    while ((k = wasm_expr_next(m, &pos, end, &ins)) != 0) {
        if (k < 0)
            return th_error_set(err, TH_EINVAL,
                                "at offset 0x%zx: %s %u: constant expression "
                                "required",
                                pos, what, idx);
        if (ins.op == 0x23) {
            if (ins.imm >= m->nglobal_imports)
                return th_error_set(err, TH_EINVAL,
                                    "at offset 0x%x: %s %u: unknown global "
                                    "%llu",
                                    e->off, what, idx, (unsigned long long)ins.imm);
            if (m->globals[ins.imm].mut)
                return th_error_set(err, TH_EINVAL,
                                    "at offset 0x%x: %s %u: constant "
                                    "expression required (global %llu is "
                                    "mutable)",
                                    e->off, what, idx, (unsigned long long)ins.imm);
        }
    }
    /* Pass 2: types. */
    pos = e->off;
    while (wasm_expr_next(m, &pos, end, &ins) == 1) {
        switch (ins.op) {
        case 0x41: type = TH_WASM_I32; break;
        case 0x42: type = TH_WASM_I64; break;
        case 0x43: type = TH_WASM_F32; break;
        case 0x44: type = TH_WASM_F64; break;
        case 0xd0: type = (uint8_t)ins.imm; break;
        case 0xfd: type = TH_WASM_V128; break;
        case 0x23: type = m->globals[ins.imm].valtype; break;
        default: /* 0xd2 ref.func */
            if (ins.imm >= m->nfuncs)
                return th_error_set(err, TH_EINVAL,
                                    "at offset 0x%x: %s %u: unknown function "
                                    "%llu",
                                    e->off, what, idx, (unsigned long long)ins.imm);
            type = TH_WASM_FUNCREF;
            break;
        }
        count++;
    }
    if (count != 1 || type != want)
        return th_error_set(err, TH_EINVAL, "at offset 0x%x: %s %u: type mismatch", e->off, what,
                            idx);
    return 0;
}

static int check_imports_and_funcs(const th_wasm_module *m, th_error *err)
{
    int rc;

    for (uint32_t i = 0; i < m->nimports; i++) {
        const wasm_import *im = &m->imports[i];
        if (im->kind == TH_WASM_EXTERN_FUNC && im->u.type_idx >= m->ntypes)
            return th_error_set(err, TH_EINVAL, "at offset 0x%x: import %u: unknown type %u",
                                im->at, i, im->u.type_idx);
        if (im->kind == TH_WASM_EXTERN_TABLE &&
            (rc = check_limits(&im->u.table.limits, 0, im->at, "import", i, err)) < 0)
            return rc;
        if (im->kind == TH_WASM_EXTERN_MEMORY &&
            (rc = check_limits(&im->u.mem, WASM_MAX_PAGES, im->at, "import", i, err)) < 0)
            return rc;
    }
    for (uint32_t i = m->nfunc_imports; i < m->nfuncs; i++)
        if (m->func_type[i] >= m->ntypes)
            return th_error_set(err, TH_EINVAL, "at offset 0x%zx: function %u: unknown type %u",
                                wasm_entry_offset(m, WASM_SEC_FUNCTION, i - m->nfunc_imports), i,
                                m->func_type[i]);
    for (uint32_t i = m->ntable_imports; i < m->ntables; i++)
        if ((rc = check_limits(&m->tables[i].limits, 0,
                               wasm_entry_offset(m, WASM_SEC_TABLE, i - m->ntable_imports), "table",
                               i, err)) < 0)
            return rc;
    for (uint32_t i = m->nmem_imports; i < m->nmems; i++)
        if ((rc = check_limits(&m->mems[i], WASM_MAX_PAGES,
                               wasm_entry_offset(m, WASM_SEC_MEMORY, i - m->nmem_imports), "memory",
                               i, err)) < 0)
            return rc;
    return 0;
}

static int check_globals(const th_wasm_module *m, th_error *err)
{
    for (uint32_t i = m->nglobal_imports; i < m->nglobals; i++) {
        int rc = check_const(m, &m->global_init[i - m->nglobal_imports], m->globals[i].valtype,
                             "global", i, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int check_elems(const th_wasm_module *m, th_error *err)
{
    for (uint32_t i = 0; i < m->nelems; i++) {
        const wasm_elem *e = &m->elems[i];
        int rc;

        for (uint32_t k = 0; k < e->count; k++) {
            if (e->funcs != NULL && e->funcs[k] >= m->nfuncs)
                return th_error_set(err, TH_EINVAL,
                                    "at offset 0x%x: element segment %u: unknown function %u",
                                    e->at, i, e->funcs[k]);
            if (e->exprs != NULL &&
                (rc = check_const(m, &e->exprs[k], e->reftype, "element segment", i, err)) < 0)
                return rc;
        }
        if (e->mode == WASM_SEG_ACTIVE) {
            if (e->table >= m->ntables)
                return th_error_set(err, TH_EINVAL,
                                    "at offset 0x%x: element segment %u: unknown table %u", e->at,
                                    i, e->table);
            if ((rc = check_const(m, &e->offset, TH_WASM_I32, "element segment", i, err)) < 0)
                return rc;
            if (m->tables[e->table].reftype != e->reftype)
                return th_error_set(err, TH_EINVAL,
                                    "at offset 0x%x: element segment %u: type mismatch "
                                    "(segment and table %u differ)",
                                    e->at, i, e->table);
        }
    }
    return 0;
}

static int check_datas(const th_wasm_module *m, th_error *err)
{
    for (uint32_t i = 0; i < m->ndatas; i++) {
        const wasm_data *d = &m->datas[i];
        int rc;

        if (d->mode != WASM_SEG_ACTIVE)
            continue;
        if (d->mem >= m->nmems)
            return th_error_set(err, TH_EINVAL,
                                "at offset 0x%x: data segment %u: unknown memory %u", d->at, i,
                                d->mem);
        if ((rc = check_const(m, &d->offset, TH_WASM_I32, "data segment", i, err)) < 0)
            return rc;
    }
    return 0;
}

static int check_start(const th_wasm_module *m, th_error *err)
{
    const wasm_functype *ft;

    if (!m->has_start)
        return 0;
    if (m->start >= m->nfuncs)
        return th_error_set(err, TH_EINVAL, "at offset 0x%x: start: unknown function %u",
                            m->sec_at[WASM_SEC_START], m->start);
    ft = &m->types[m->func_type[m->start]];
    if (ft->nparams != 0 || ft->nresults != 0)
        return th_error_set(err, TH_EINVAL,
                            "at offset 0x%x: start function %u must have type [] -> []",
                            m->sec_at[WASM_SEC_START], m->start);
    return 0;
}

/* Export names compare by length, then bytes (names may hold NUL).  A
 * small merge sort, as qsort's comparison could not see the module
 * without a global (and loads run concurrently). */
static void merge_sort(const th_wasm_module *m, uint32_t *a, uint32_t *tmp, uint32_t n)
{
    uint32_t h, i, j, k;

    if (n < 2)
        return;
    h = n / 2;
    merge_sort(m, a, tmp, h);
    merge_sort(m, a + h, tmp, n - h);
    i = 0, j = h, k = 0;
    while (i < h && j < n) {
        const wasm_export *x = &m->exports[a[i]], *y = &m->exports[a[j]];
        int c = x->name_len != y->name_len ? (x->name_len < y->name_len ? -1 : 1)
                                           : memcmp(x->name, y->name, x->name_len);
        tmp[k++] = c <= 0 ? a[i++] : a[j++];
    }
    while (i < h)
        tmp[k++] = a[i++];
    while (j < n)
        tmp[k++] = a[j++];
    memcpy(a, tmp, (size_t)n * sizeof *a);
}

int wasm_export_order(const th_wasm_module *m, uint32_t **out)
{
    uint32_t n = m->nexports;
    uint32_t *a = malloc((size_t)(n ? n : 1) * sizeof *a);
    uint32_t *tmp = malloc((size_t)(n ? n : 1) * sizeof *tmp);

    if (a == NULL || tmp == NULL) {
        free(a);
        free(tmp);
        return TH_ENOMEM;
    }
    for (uint32_t i = 0; i < n; i++)
        a[i] = i;
    merge_sort(m, a, tmp, n);
    free(tmp);
    *out = a;
    return 0;
}

static int check_exports(const th_wasm_module *m, th_error *err)
{
    uint32_t *order;
    int rc = 0;

    for (uint32_t i = 0; i < m->nexports; i++) {
        const wasm_export *ex = &m->exports[i];
        uint32_t space = ex->kind == TH_WASM_EXTERN_FUNC     ? m->nfuncs
                         : ex->kind == TH_WASM_EXTERN_TABLE  ? m->ntables
                         : ex->kind == TH_WASM_EXTERN_MEMORY ? m->nmems
                                                             : m->nglobals;
        if (ex->idx >= space)
            return th_error_set(err, TH_EINVAL, "at offset 0x%x: export %u: unknown %s %u", ex->at,
                                i, kind_name(ex->kind), ex->idx);
    }
    if (wasm_export_order(m, &order) < 0)
        return th_error_set(err, TH_ENOMEM, "out of memory");
    for (uint32_t i = 1; i < m->nexports; i++) {
        const wasm_export *a = &m->exports[order[i - 1]];
        const wasm_export *b = &m->exports[order[i]];
        if (a->name_len == b->name_len && memcmp(a->name, b->name, a->name_len) == 0) {
            /* the sort is stable: b is the later of the two */
            rc = th_error_set(err, TH_EINVAL, "at offset 0x%x: duplicate export name \"%s\"", b->at,
                              b->name);
            break;
        }
    }
    free(order);
    return rc;
}

/* The byte offset of memory `idx`: its import, or its memory section
 * entry. */
static size_t memory_offset(const th_wasm_module *m, uint32_t idx)
{
    uint32_t k = 0;

    if (idx >= m->nmem_imports)
        return wasm_entry_offset(m, WASM_SEC_MEMORY, idx - m->nmem_imports);
    for (uint32_t i = 0; i < m->nimports; i++)
        if (m->imports[i].kind == TH_WASM_EXTERN_MEMORY && k++ == idx)
            return m->imports[i].at;
    return 0;
}

int wasm_validate_module(const th_wasm_module *m, th_error *err)
{
    int rc;

    if ((rc = check_imports_and_funcs(m, err)) < 0)
        return rc;
    if ((rc = check_globals(m, err)) < 0)
        return rc;
    if ((rc = check_elems(m, err)) < 0)
        return rc;
    if ((rc = check_datas(m, err)) < 0)
        return rc;
    if ((rc = check_start(m, err)) < 0)
        return rc;
    if ((rc = check_exports(m, err)) < 0)
        return rc;
    if (m->nmems > TH_WASM_MAX_MEMORIES)
        return th_error_set(err, TH_EINVAL, "at offset 0x%zx: multiple memories (%u)",
                            memory_offset(m, TH_WASM_MAX_MEMORIES), m->nmems);
    return 0;
}
