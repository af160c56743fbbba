/*
 * instance.c - instantiation: import resolution, memories, tables and
 * globals, element and data segments, the start function; exports by name.
 *
 * An instance and all its fixed-size parts (function objects, the arrays
 * of the index spaces, its own tables, memories and globals, segment
 * state) are one allocation, so instantiating a small module costs one
 * calloc, one mmap for its memory and the pages its data segments touch.
 *
 * The order follows the specification (2.0): resolve and type-check every
 * import ("unknown import", "incompatible import type": TH_ELINK), then
 * create tables, memories and globals, evaluate element segments, apply
 * the active element segments and then the active data segments in order
 * (the first one out of bounds is a trap, TH_ETRAP; what earlier segments
 * wrote into imported tables and memories stays), drop active and
 * declarative segments, and run the start function.
 *
 * When instantiation fails after it may have handed out references to its
 * own functions (an element segment written into an imported table, or a
 * start function that ran), those references must stay callable, as the
 * specification requires.  Such an instance is not freed: it is kept on a
 * process-wide list for the life of the process.  This only happens to
 * modules that import tables or have a start function and fail at
 * instantiation.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "wasm_int.h"

/* Instances whose failed instantiation may have leaked references. */
static pthread_mutex_t graveyard_lock = PTHREAD_MUTEX_INITIALIZER;
static th_wasm_instance *graveyard; /* linked through ->priv */

static void bury(th_wasm_instance *inst)
{
    pthread_mutex_lock(&graveyard_lock);
    inst->priv = graveyard;
    graveyard = inst;
    pthread_mutex_unlock(&graveyard_lock);
}

/* ------------------------------------------------------------------ */
/* Layout of the single allocation                                    */

typedef struct layout {
    size_t funcs, own_funcs, tables, own_tables, mems, own_mems;
    size_t globals, own_globals, elems, data_len, total;
} layout;

static size_t take(size_t *off, size_t n, size_t size)
{
    size_t at = (*off + 15) & ~(size_t)15;
    *off = at + n * size;
    return at;
}

static void plan(const th_wasm_module *m, layout *l)
{
    size_t off = sizeof(th_wasm_instance);

    l->funcs = take(&off, m->nfuncs, sizeof(th_wasm_func *));
    l->own_funcs = take(&off, m->nfuncs - m->nfunc_imports, sizeof(th_wasm_func));
    l->tables = take(&off, m->ntables, sizeof(th_wasm_table *));
    l->own_tables = take(&off, m->ntables - m->ntable_imports, sizeof(th_wasm_table));
    l->mems = take(&off, m->nmems, sizeof(th_wasm_memory *));
    l->own_mems = take(&off, m->nmems - m->nmem_imports, sizeof(th_wasm_memory));
    l->globals = take(&off, m->nglobals, sizeof(th_wasm_global *));
    l->own_globals = take(&off, m->nglobals - m->nglobal_imports, sizeof(th_wasm_global));
    l->elems = take(&off, m->nelems, sizeof(wasm_elem_inst));
    l->data_len = take(&off, m->ndatas, sizeof(uint32_t));
    l->total = off;
}

/* ------------------------------------------------------------------ */
/* Imports                                                            */

/* Import subtyping of limits: the provided object's current size is at
 * least the required minimum, and if a maximum is required the object has
 * one that is no larger. */
static bool limits_match(uint64_t min, bool has_max, uint64_t max, const wasm_limits *want)
{
    if (min < want->min)
        return false;
    if (want->has_max && (!has_max || max > want->max))
        return false;
    return true;
}

static bool import_matches(const th_wasm_module *m, const wasm_import *im, void *ext)
{
    switch (im->kind) {
    case TH_WASM_EXTERN_FUNC: {
        const th_wasm_func *f = ext;
        return f->type->canon == m->types[im->u.type_idx].canon;
    }
    case TH_WASM_EXTERN_TABLE: {
        const th_wasm_table *t = ext;
        return t->reftype == im->u.table.reftype &&
               limits_match(t->size, t->has_max, t->max, &im->u.table.limits);
    }
    case TH_WASM_EXTERN_MEMORY: {
        const th_wasm_memory *mem = ext;
        return limits_match(mem->size / WASM_PAGE_SIZE, mem->has_max, mem->max_pages, &im->u.mem);
    }
    default: {
        const th_wasm_global *g = ext;
        return g->type == im->u.global.valtype && g->mut == im->u.global.mut;
    }
    }
}

static int resolve_imports(th_wasm_instance *inst, const th_wasm_imports *imp, th_error *err)
{
    const th_wasm_module *m = inst->mod;
    uint32_t nf = 0, nt = 0, nm = 0, ng = 0;

    for (uint32_t i = 0; i < m->nimports; i++) {
        const wasm_import *im = &m->imports[i];
        uint8_t kind;
        void *ext;

        if (wasm_imports_find(imp, im->module, im->module_len, im->name, im->name_len, &kind,
                              &ext) < 0)
            return th_error_set(err, TH_ELINK, "unknown import \"%s\" \"%s\"", im->module,
                                im->name);
        if (kind != im->kind || !import_matches(m, im, ext))
            return th_error_set(err, TH_ELINK, "incompatible import type for \"%s\" \"%s\"",
                                im->module, im->name);
        switch (kind) {
        case TH_WASM_EXTERN_FUNC: inst->funcs[nf++] = ext; break;
        case TH_WASM_EXTERN_TABLE: inst->tables[nt++] = ext; break;
        case TH_WASM_EXTERN_MEMORY: inst->mems[nm++] = ext; break;
        default: inst->globals[ng++] = ext; break;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Own objects                                                        */

/* Value of a validated constant expression (a single instruction); for
 * a v128 the high 8 bytes go to *hi (when not NULL, else they are 0). */
static th_wasm_val eval_const(const th_wasm_instance *inst, const wasm_expr *e,
                              uint64_t *hi /* out */)
{
    const th_wasm_module *m = inst->mod;
    size_t pos = e->off;
    wasm_cinstr ins;
    th_wasm_val v;

    v.bits = 0;
    if (hi != NULL)
        *hi = 0;
    if (wasm_expr_next(m, &pos, (size_t)e->off + e->len, &ins) != 1)
        return v; /* not reached: validate.c accepted the expression */
    switch (ins.op) {
    case 0x23:
        if (hi != NULL)
            *hi = inst->globals[ins.imm]->hi;
        return inst->globals[ins.imm]->val;
    case 0xd0: v.ref = NULL; return v;
    case 0xd2: v.ref = inst->funcs[ins.imm]; return v;
    default: /* t.const and v128.const: the bits */
        if (hi != NULL)
            *hi = ins.imm_hi;
        v.bits = ins.imm;
        return v;
    }
}

static void init_funcs(th_wasm_instance *inst)
{
    const th_wasm_module *m = inst->mod;
    uint32_t nimp = m->nfunc_imports;

    for (uint32_t i = nimp; i < m->nfuncs; i++) {
        th_wasm_func *f = &inst->own_funcs[i - nimp];
        f->type = &m->types[m->func_type[i]];
        f->inst = inst;
        f->code = m->code != NULL ? m->code[i - nimp] : NULL;
        f->idx = i;
        inst->funcs[i] = f;
    }
}

static int init_tables(th_wasm_instance *inst, th_wasm_table *own, th_error *err)
{
    const th_wasm_module *m = inst->mod;

    for (uint32_t i = m->ntable_imports; i < m->ntables; i++) {
        const wasm_tabletype *tt = &m->tables[i];
        th_wasm_table *t = &own[i - m->ntable_imports];
        uint32_t max = tt->limits.has_max ? (uint32_t)tt->limits.max : UINT32_MAX;
        int rc = wasm_table_init(t, tt->reftype, (uint32_t)tt->limits.min, max, NULL);
        inst->tables[i] = t;
        if (rc < 0)
            return th_error_set(err, rc, "table %u: %s", i,
                                rc == TH_ETOOBIG ? "too many elements" : "out of memory");
        t->has_max = tt->limits.has_max;
    }
    return 0;
}

/* Whether an active data segment of memory `mem` writes into its first
 * page (an i32.const offset there; other offsets are not known yet). */
static bool data_in_first_page(const th_wasm_module *m, uint32_t mem)
{
    for (uint32_t i = 0; i < m->ndatas; i++) {
        const wasm_data *d = &m->datas[i];
        size_t pos = d->offset.off;
        wasm_cinstr ins;

        if (d->mode == WASM_SEG_PASSIVE || d->mem != mem || d->len == 0 ||
            wasm_expr_next(m, &pos, (size_t)d->offset.off + d->offset.len, &ins) != 1)
            continue;
        if (ins.op == 0x41 && (uint32_t)ins.imm < 4096)
            return true;
    }
    return false;
}

static int init_mems(th_wasm_instance *inst, th_wasm_memory *own, th_error *err)
{
    const th_wasm_module *m = inst->mod;

    for (uint32_t i = m->nmem_imports; i < m->nmems; i++) {
        const wasm_limits *l = &m->mems[i];
        th_wasm_memory *mem = &own[i - m->nmem_imports];
        int rc = wasm_memory_init(mem, l->min, l->has_max ? l->max : WASM_MAX_PAGES,
                                  inst->max_memory_bytes, data_in_first_page(m, i));
        inst->mems[i] = mem;
        if (rc < 0)
            return th_error_set(err, rc == TH_EINVAL ? TH_ENOMEM : rc, "memory %u: %s", i,
                                rc == TH_ETOOBIG ? "initial size above the "
                                                   "instance's memory limit"
                                                 : "out of memory");
        mem->has_max = l->has_max;
    }
    if (m->nmems > 0)
        inst->mem0 = inst->mems[0];
    return 0;
}

static void init_globals(th_wasm_instance *inst, th_wasm_global *own)
{
    const th_wasm_module *m = inst->mod;

    for (uint32_t i = m->nglobal_imports; i < m->nglobals; i++) {
        th_wasm_global *g = &own[i - m->nglobal_imports];
        g->type = m->globals[i].valtype;
        g->mut = m->globals[i].mut;
        g->val = eval_const(inst, &m->global_init[i - m->nglobal_imports], &g->hi);
        inst->globals[i] = g;
    }
}

/* Reference k of element segment e. */
static void *elem_ref(const th_wasm_instance *inst, const wasm_elem *e, uint32_t k)
{
    if (e->funcs != NULL)
        return inst->funcs[e->funcs[k]];
    return eval_const(inst, &e->exprs[k], NULL).ref;
}

/* Element segments: passive ones are evaluated and kept, active ones
 * written into their table (a trap if out of bounds) and dropped,
 * declarative ones dropped.  *leaked is set when references to this
 * instance's functions went into an imported table. */
static int init_elems(th_wasm_instance *inst, bool *leaked, th_error *err)
{
    const th_wasm_module *m = inst->mod;

    for (uint32_t i = 0; i < m->nelems; i++) {
        const wasm_elem *e = &m->elems[i];
        wasm_elem_inst *ei = &inst->elems[i];

        if (e->mode == WASM_SEG_PASSIVE) {
            ei->refs = malloc((size_t)(e->count ? e->count : 1) * sizeof(void *));
            if (ei->refs == NULL)
                return th_error_set(err, TH_ENOMEM, "out of memory");
            for (uint32_t k = 0; k < e->count; k++)
                ei->refs[k] = elem_ref(inst, e, k);
            ei->len = e->count;
        } else if (e->mode == WASM_SEG_ACTIVE) {
            th_wasm_table *t = inst->tables[e->table];
            uint32_t off = (uint32_t)eval_const(inst, &e->offset, NULL).i32;

            if ((uint64_t)off + e->count > t->size)
                return th_error_set(err, TH_ETRAP,
                                    "out of bounds table access (element "
                                    "segment %u)",
                                    i);
            for (uint32_t k = 0; k < e->count; k++)
                t->elems[off + k] = elem_ref(inst, e, k);
            if (e->table < m->ntable_imports && e->count > 0)
                *leaked = true;
        }
    }
    return 0;
}

static int init_datas(th_wasm_instance *inst, th_error *err)
{
    const th_wasm_module *m = inst->mod;

    for (uint32_t i = 0; i < m->ndatas; i++) {
        const wasm_data *d = &m->datas[i];

        if (d->mode == WASM_SEG_PASSIVE) {
            inst->data_len[i] = d->len;
        } else {
            th_wasm_memory *mem = inst->mems[d->mem];
            uint32_t off = (uint32_t)eval_const(inst, &d->offset, NULL).i32;

            if ((uint64_t)off + d->len > mem->size)
                return th_error_set(err, TH_ETRAP,
                                    "out of bounds memory access (data "
                                    "segment %u)",
                                    i);
            if (d->len > 0)
                memcpy(mem->data + off, m->bytes + d->off, d->len);
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Public API                                                         */

static void release_parts(th_wasm_instance *inst)
{
    const th_wasm_module *m = inst->mod;

    for (uint32_t i = m->ntable_imports; i < m->ntables; i++)
        if (inst->tables[i] != NULL)
            wasm_table_release(inst->tables[i]);
    for (uint32_t i = m->nmem_imports; i < m->nmems; i++)
        if (inst->mems[i] != NULL)
            wasm_memory_release(inst->mems[i]);
    for (uint32_t i = 0; i < m->nelems; i++)
        free(inst->elems[i].refs);
}

int th_wasm_instance_new(th_wasm_module *m, const th_wasm_imports *imports,
                         const th_wasm_instance_config *cfg, th_wasm_instance **out, th_error *err)
{
    th_wasm_instance *inst;
    char *base;
    layout l;
    bool leaked = false;
    int rc;

    if (out == NULL || m == NULL)
        return th_error_set(err, TH_EINVAL, "no module");
    *out = NULL;
    plan(m, &l);
    if ((base = calloc(1, l.total)) == NULL)
        return th_error_set(err, TH_ENOMEM, "out of memory");
    inst = (th_wasm_instance *)(void *)base;
    atomic_fetch_add_explicit(&m->refcount, 1, memory_order_relaxed);
    inst->mod = m;
    inst->funcs = (th_wasm_func **)(void *)(base + l.funcs);
    inst->own_funcs = (th_wasm_func *)(void *)(base + l.own_funcs);
    inst->tables = (th_wasm_table **)(void *)(base + l.tables);
    inst->mems = (th_wasm_memory **)(void *)(base + l.mems);
    inst->globals = (th_wasm_global **)(void *)(base + l.globals);
    inst->elems = (wasm_elem_inst *)(void *)(base + l.elems);
    inst->data_len = (uint32_t *)(void *)(base + l.data_len);
    if (cfg != NULL) {
        inst->user = cfg->user;
        inst->max_memory_bytes = cfg->max_memory_bytes;
    }

    if ((rc = resolve_imports(inst, imports, err)) < 0)
        goto fail;
    init_funcs(inst);
    if ((rc = init_tables(inst, (th_wasm_table *)(void *)(base + l.own_tables), err)) < 0)
        goto fail;
    if ((rc = init_mems(inst, (th_wasm_memory *)(void *)(base + l.own_mems), err)) < 0)
        goto fail;
    init_globals(inst, (th_wasm_global *)(void *)(base + l.own_globals));
    if ((rc = init_elems(inst, &leaked, err)) < 0)
        goto fail;
    if ((rc = init_datas(inst, err)) < 0)
        goto fail;
    if (m->has_start) {
        leaked = true;
        rc = wasm_run_start(inst->funcs[m->start], cfg ? cfg->start_fuel : 0,
                            cfg ? cfg->start_exec : NULL, err);
        if (rc < 0)
            goto fail;
    }
    *out = inst;
    return 0;
fail:
    if (leaked)
        bury(inst);
    else
        th_wasm_instance_free(inst);
    return rc;
}

void th_wasm_instance_free(th_wasm_instance *inst)
{
    th_wasm_module *m;

    if (inst == NULL)
        return;
    m = inst->mod;
    release_parts(inst);
    free(inst);
    th_wasm_module_free(m);
}

void *th_wasm_instance_user(const th_wasm_instance *inst)
{
    return inst->user;
}

th_wasm_module *th_wasm_instance_module(const th_wasm_instance *inst)
{
    return inst->mod;
}

th_wasm_memory *th_wasm_instance_memory0(const th_wasm_instance *inst)
{
    return inst->mem0;
}

/* The export named by the `len` bytes at `name` (binary search over the
 * sorted order), or NULL. */
static const wasm_export *find_export(const th_wasm_module *m, const char *name, size_t len)
{
    uint32_t lo = 0, hi = m->nexports;

    if (m->export_order == NULL)
        return NULL;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        const wasm_export *ex = &m->exports[m->export_order[mid]];
        int c = ex->name_len != len ? (ex->name_len < len ? -1 : 1) : memcmp(ex->name, name, len);
        if (c == 0)
            return ex;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

int64_t th_wasm_module_export_index(const th_wasm_module *m, const char *name, size_t len)
{
    const wasm_export *ex;

    if (m == NULL || (name == NULL && len > 0) || (ex = find_export(m, name, len)) == NULL)
        return -1;
    return ex - m->exports;
}

/* The object export `ex` of `inst` names, and its kind. */
static void *export_object(const th_wasm_instance *inst, const wasm_export *ex,
                           th_wasm_extern_kind *kind)
{
    void *p;

    switch (ex->kind) {
    case TH_WASM_EXTERN_FUNC: p = inst->funcs[ex->idx]; break;
    case TH_WASM_EXTERN_TABLE: p = inst->tables[ex->idx]; break;
    case TH_WASM_EXTERN_MEMORY: p = inst->mems[ex->idx]; break;
    default: p = inst->globals[ex->idx]; break;
    }
    if (kind != NULL)
        *kind = (th_wasm_extern_kind)ex->kind;
    return p;
}

void *th_wasm_instance_export_at(const th_wasm_instance *inst, uint32_t i,
                                 th_wasm_extern_kind *kind)
{
    if (inst == NULL || i >= inst->mod->nexports)
        return NULL;
    return export_object(inst, &inst->mod->exports[i], kind);
}

th_wasm_func *th_wasm_instance_func_at(const th_wasm_instance *inst, uint32_t i)
{
    th_wasm_extern_kind kind;
    void *p = th_wasm_instance_export_at(inst, i, &kind);

    return p != NULL && kind == TH_WASM_EXTERN_FUNC ? p : NULL;
}

int th_wasm_instance_export_n(const th_wasm_instance *inst, const char *name, size_t len,
                              th_wasm_extern_kind *kind, void **ext)
{
    const wasm_export *ex;
    void *p;

    if (inst == NULL || (name == NULL && len > 0))
        return TH_EINVAL;
    if ((ex = find_export(inst->mod, name, len)) == NULL)
        return TH_ENOENT;
    p = export_object(inst, ex, kind);
    if (ext != NULL)
        *ext = p;
    return 0;
}

int th_wasm_instance_export(const th_wasm_instance *inst, const char *name,
                            th_wasm_extern_kind *kind, void **ext)
{
    if (name == NULL)
        return TH_EINVAL;
    return th_wasm_instance_export_n(inst, name, strlen(name), kind, ext);
}

static void *export_of_kind(const th_wasm_instance *inst, const char *name, size_t len,
                            th_wasm_extern_kind want)
{
    th_wasm_extern_kind kind;
    void *ext;

    if (th_wasm_instance_export_n(inst, name, len, &kind, &ext) < 0 || kind != want)
        return NULL;
    return ext;
}

th_wasm_func *th_wasm_instance_func_n(const th_wasm_instance *inst, const char *name, size_t len)
{
    return export_of_kind(inst, name, len, TH_WASM_EXTERN_FUNC);
}

th_wasm_func *th_wasm_instance_func(const th_wasm_instance *inst, const char *name)
{
    return name ? export_of_kind(inst, name, strlen(name), TH_WASM_EXTERN_FUNC) : NULL;
}

th_wasm_memory *th_wasm_instance_memory(const th_wasm_instance *inst, const char *name)
{
    return name ? export_of_kind(inst, name, strlen(name), TH_WASM_EXTERN_MEMORY) : NULL;
}

th_wasm_table *th_wasm_instance_table(const th_wasm_instance *inst, const char *name)
{
    return name ? export_of_kind(inst, name, strlen(name), TH_WASM_EXTERN_TABLE) : NULL;
}

th_wasm_global *th_wasm_instance_global(const th_wasm_instance *inst, const char *name)
{
    return name ? export_of_kind(inst, name, strlen(name), TH_WASM_EXTERN_GLOBAL) : NULL;
}
