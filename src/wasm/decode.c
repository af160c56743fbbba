/*
 * decode.c - the WebAssembly 2.0 binary format into a
 * th_wasm_module.
 *
 * The decoder reads the whole binary with one bounds-checked reader (struct
 * rd, in decode.h; the reader and the type encodings are decode_read.c).  Like the reference
 * interpreter it does not confine reads to the current section: a section is parsed from its start
 * and afterwards its end must be exactly where its size said ("section size mismatch").  That keeps
 * the error a malformed binary gets the same as the specification's tests
 * expect.  Every error message starts with "at offset 0x..:".
 *
 * Function bodies are not decoded here: the decoder reads their locals and
 * records the byte range of their instructions; compile.c validates and
 * translates them.  Constant expressions (global initializers, segment
 * offsets and element expressions) are decoded structurally so their end is
 * known; validate.c checks that they are constant and well typed.
 *
 * Allocation failure is TH_ENOMEM; everything else malformed is TH_EINVAL.
 * On failure no module is returned and nothing leaks.
 */
#include <stdlib.h>
#include <string.h>

#include "wasm/decode.h"

/* ------------------------------------------------------------------ */
/* Instruction skipping                                               */

/* Immediate shapes of the one-byte opcodes (0 = illegal). */
enum {
    IMM_ILLEGAL = 0,
    IMM_NONE,
    IMM_BLOCK,
    IMM_IF,
    IMM_IDX,
    IMM_BRTABLE,
    IMM_CALLIND,
    IMM_SELECTT,
    IMM_MEMARG,
    IMM_ZERO,
    IMM_I32,
    IMM_I64,
    IMM_F32,
    IMM_F64,
    IMM_REFNULL,
    IMM_PREFIX_FC,
    IMM_PREFIX_FD,
};

static const uint8_t imm_shape[256] = {
    [0x00] = IMM_NONE,
    [0x01] = IMM_NONE,
    [0x02] = IMM_BLOCK,
    [0x03] = IMM_BLOCK,
    [0x04] = IMM_IF,
    [0x0c] = IMM_IDX,
    [0x0d] = IMM_IDX,
    [0x0e] = IMM_BRTABLE,
    [0x0f] = IMM_NONE,
    [0x10] = IMM_IDX,
    [0x11] = IMM_CALLIND,
    [0x1a] = IMM_NONE,
    [0x1b] = IMM_NONE,
    [0x1c] = IMM_SELECTT,
    [0x20 ... 0x26] = IMM_IDX,
    [0x28 ... 0x3e] = IMM_MEMARG,
    [0x3f] = IMM_ZERO,
    [0x40] = IMM_ZERO,
    [0x41] = IMM_I32,
    [0x42] = IMM_I64,
    [0x43] = IMM_F32,
    [0x44] = IMM_F64,
    [0x45 ... 0xc4] = IMM_NONE,
    [0xd0] = IMM_REFNULL,
    [0xd1] = IMM_NONE,
    [0xd2] = IMM_IDX,
    [0xfc] = IMM_PREFIX_FC,
    [0xfd] = IMM_PREFIX_FD,
};

/* Open constructs while skipping: a block/loop body, an if's then-arm
 * (else allowed) or an if's else-arm. */
enum { CTL_BLOCK = 0, CTL_THEN = 1, CTL_ELSE = 2 };

typedef struct ctl_stack {
    uint8_t inl[64];
    uint8_t *p;
    size_t n, cap;
} ctl_stack;

static int ctl_push(ctl_stack *c, uint8_t kind)
{
    if (c->n == c->cap) {
        size_t ncap = c->cap * 2;
        uint8_t *np = c->p == c->inl ? malloc(ncap) : realloc(c->p, ncap);
        if (np == NULL)
            return TH_ENOMEM;
        if (c->p == c->inl)
            memcpy(np, c->inl, c->n);
        c->p = np;
        c->cap = ncap;
    }
    c->p[c->n++] = kind;
    return 0;
}

/* Where to record ref.func indices (C.refs), or NULL. */
typedef struct refmark {
    uint8_t *declared;
    uint32_t nfuncs;
} refmark;

static int rd_zero(rd *r)
{
    uint8_t b;
    int rc = wasm_rd_byte(r, &b);
    if (rc < 0)
        return rc;
    if (b != 0)
        return wasm_rd_fail(r, r->pos - 1, "zero byte expected");
    return 0;
}

static int skip_fc(rd *r, size_t at)
{
    uint32_t sub, x;
    int rc;

    if ((rc = wasm_rd_u32(r, &sub)) < 0)
        return rc;
    switch (sub) {
    case 0:
    case 1:
    case 2:
    case 3:
    case 4:
    case 5:
    case 6:
    case 7: return 0;
    case 8: /* memory.init dataidx 0x00 */
        if ((rc = wasm_rd_u32(r, &x)) < 0)
            return rc;
        return rd_zero(r);
    case 9:
    case 13:
    case 15:
    case 16:
    case 17: /* one index */ return wasm_rd_u32(r, &x);
    case 10: /* memory.copy 0x00 0x00 */
        if ((rc = rd_zero(r)) < 0)
            return rc;
        return rd_zero(r);
    case 11: /* memory.fill 0x00 */ return rd_zero(r);
    case 12:
    case 14: /* table.init, table.copy: two indices */
        if ((rc = wasm_rd_u32(r, &x)) < 0)
            return rc;
        return wasm_rd_u32(r, &x);
    default: return wasm_rd_fail(r, at, "illegal opcode 0xfc %u", sub);
    }
}

/* The immediates of a 0xfd (SIMD) instruction.  Only the immediate
 * syntax is checked here (constant expressions); compile_simd.c decides
 * which sub-opcodes exist. */
static int skip_fd(rd *r, size_t at)
{
    uint32_t sub, x;
    int rc;

    if ((rc = wasm_rd_u32(r, &sub)) < 0)
        return rc;
    if (sub <= 0x0b || sub == 0x5c || sub == 0x5d || (sub >= 0x54 && sub <= 0x5b)) {
        if ((rc = wasm_rd_u32(r, &x)) < 0)
            return rc;
        if (x >= 32)
            return wasm_rd_fail(r, r->pos - 1, "malformed memop flags");
        if ((rc = wasm_rd_u32(r, &x)) < 0)
            return rc;
        return sub >= 0x54 && sub <= 0x5b ? wasm_rd_skip(r, 1, NULL) : 0;
    }
    if (sub == 0x0c || sub == 0x0d)
        return wasm_rd_skip(r, 16, NULL);
    if (sub >= 0x15 && sub <= 0x22)
        return wasm_rd_skip(r, 1, NULL);
    if (sub > 0xff)
        return wasm_rd_fail(r, at, "illegal opcode 0xfd %u", sub);
    return 0;
}

/* The immediates of the instruction `op` (already read, at offset `at`). */
static int skip_imm(rd *r, uint8_t op, size_t at, ctl_stack *c, const refmark *mk)
{
    int64_t s;
    uint32_t n, x;
    uint8_t t;
    int rc = 0;

    switch (imm_shape[op]) {
    case IMM_NONE: return 0;
    case IMM_BLOCK:
    case IMM_IF:
        /* blocktype: 0x40, a value type, or an s33 type index */
        if (r->pos < r->len && r->b[r->pos] == 0x40)
            r->pos++;
        else if (r->pos < r->len && (r->b[r->pos] & 0xc0) == 0x40)
            rc = wasm_rd_valtype(r, &t);
        else
            rc = wasm_rd_sleb(r, 33, &s);
        if (rc < 0)
            return rc;
        return ctl_push(c, imm_shape[op] == IMM_IF ? CTL_THEN : CTL_BLOCK);
    case IMM_IDX:
        if ((rc = wasm_rd_u32(r, &x)) < 0)
            return rc;
        if (op == 0xd2 && mk != NULL && x < mk->nfuncs)
            mk->declared[x] = 1;
        return 0;
    case IMM_BRTABLE:
        if ((rc = wasm_rd_len32(r, &n)) < 0)
            return rc;
        for (uint32_t i = 0; i <= n; i++)
            if ((rc = wasm_rd_u32(r, &x)) < 0)
                return rc;
        return 0;
    case IMM_CALLIND:
        if ((rc = wasm_rd_u32(r, &x)) < 0)
            return rc;
        return wasm_rd_u32(r, &x);
    case IMM_SELECTT:
        if ((rc = wasm_rd_len32(r, &n)) < 0)
            return rc;
        for (uint32_t i = 0; i < n; i++)
            if ((rc = wasm_rd_valtype(r, &t)) < 0)
                return rc;
        return 0;
    case IMM_MEMARG:
        if ((rc = wasm_rd_u32(r, &x)) < 0)
            return rc;
        if (x >= 32)
            return wasm_rd_fail(r, r->pos - 1, "malformed memop flags");
        return wasm_rd_u32(r, &x);
    case IMM_ZERO: return rd_zero(r);
    case IMM_I32: return wasm_rd_sleb(r, 32, &s);
    case IMM_I64: return wasm_rd_sleb(r, 64, &s);
    case IMM_F32: return wasm_rd_skip(r, 4, NULL);
    case IMM_F64: return wasm_rd_skip(r, 8, NULL);
    case IMM_REFNULL: return wasm_rd_reftype(r, &t);
    case IMM_PREFIX_FC: return skip_fc(r, at);
    case IMM_PREFIX_FD: return skip_fd(r, at);
    default: return wasm_rd_fail(r, at, "illegal opcode 0x%02x", op);
    }
}

/* Skip an instruction sequence and the `end` that closes it (the reference
 * decoder's instr_block + end): nested blocks must be closed and `else`
 * may only appear inside an if.  Records ref.func indices in mk. */
static int skip_code(rd *r, const refmark *mk)
{
    ctl_stack c;
    int rc;

    c.p = c.inl;
    c.n = 0;
    c.cap = sizeof c.inl;
    for (;;) {
        size_t at = r->pos;
        uint8_t op;

        if (at >= r->len) {
            rc = wasm_rd_eos(r);
            break;
        }
        op = r->b[r->pos++];
        if (op == 0x0b) {
            if (c.n == 0) {
                rc = 0;
                break;
            }
            c.n--;
            continue;
        }
        if (op == 0x05) {
            if (c.n > 0 && c.p[c.n - 1] == CTL_THEN) {
                c.p[c.n - 1] = CTL_ELSE;
                continue;
            }
            rc = wasm_rd_fail(r, at, "END opcode expected");
            break;
        }
        rc = skip_imm(r, op, at, &c, mk);
        if (rc == TH_ENOMEM)
            rc = wasm_rd_nomem(r);
        if (rc < 0)
            break;
    }
    if (c.p != c.inl)
        free(c.p);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Constant-expression instructions (shared with validate/instance)   */

int wasm_expr_next(const th_wasm_module *m, size_t *pos, size_t end, wasm_cinstr *out)
{
    rd r = {m->bytes, *pos, end, NULL};
    uint8_t op;
    int64_t s;
    uint32_t x;

    if (wasm_rd_byte(&r, &op) < 0)
        return -1;
    out->op = op;
    out->imm = out->imm_hi = 0;
    switch (op) {
    case 0x0b: *pos = r.pos; return 0;
    case 0x41:
        if (wasm_rd_sleb(&r, 32, &s) < 0)
            return -1;
        out->imm = (uint64_t)(uint32_t)(int32_t)s;
        break;
    case 0x42:
        if (wasm_rd_sleb(&r, 64, &s) < 0)
            return -1;
        out->imm = (uint64_t)s;
        break;
    case 0x43:
        if (r.len - r.pos < 4)
            return -1;
        for (int i = 3; i >= 0; i--)
            out->imm = (out->imm << 8) | r.b[r.pos + (size_t)i];
        r.pos += 4;
        break;
    case 0x44:
        if (r.len - r.pos < 8)
            return -1;
        for (int i = 7; i >= 0; i--)
            out->imm = (out->imm << 8) | r.b[r.pos + (size_t)i];
        r.pos += 8;
        break;
    case 0xd0:
        if (wasm_rd_byte(&r, &op) < 0)
            return -1;
        out->imm = op;
        break;
    case 0xd2:
    case 0x23:
        if (wasm_rd_u32(&r, &x) < 0)
            return -1;
        out->imm = x;
        break;
    case 0xfd: /* v128.const: 16 little-endian bytes */
        if (wasm_rd_u32(&r, &x) < 0 || x != 0x0c || r.len - r.pos < 16)
            return -1;
        for (int i = 7; i >= 0; i--) {
            out->imm = (out->imm << 8) | r.b[r.pos + (size_t)i];
            out->imm_hi = (out->imm_hi << 8) | r.b[r.pos + 8 + (size_t)i];
        }
        r.pos += 16;
        break;
    default: return -1;
    }
    *pos = r.pos;
    return 1;
}

/* ------------------------------------------------------------------ */
/* Decoder state                                                      */

typedef struct dec {
    rd r;
    th_wasm_module *m;
    bool funcs_built, tables_built, mems_built, globals_built;
    uint32_t ndef_funcs; /* function section count */
    wasm_body *bodies;   /* code section, attached at the end */
    uint32_t nbodies;
    bool has_names;
    size_t names_pos, names_end; /* "name" custom section payload */
    refmark mk;
} dec;

static int too_many(dec *d, size_t at, const char *what, uint64_t max)
{
    th_error_set(d->r.err, TH_ETOOBIG, "at offset 0x%zx: too many %s (limit %llu)", at, what,
                 (unsigned long long)max);
    return TH_ETOOBIG;
}

static void *dec_calloc(dec *d, size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (p == NULL)
        wasm_rd_nomem(&d->r);
    return p;
}

/* The function index space once the function section (or its absence) is
 * known: imported functions' types first, then `ndef` defined ones (filled
 * by the caller). */
static int build_funcs(dec *d, uint32_t ndef)
{
    th_wasm_module *m = d->m;
    uint32_t k = 0;

    m->nfuncs = m->nfunc_imports + ndef;
    m->func_type = dec_calloc(d, m->nfuncs, sizeof *m->func_type);
    m->func_declared = dec_calloc(d, m->nfuncs, 1);
    if (m->func_type == NULL || m->func_declared == NULL)
        return TH_ENOMEM;
    for (uint32_t i = 0; i < m->nimports; i++)
        if (m->imports[i].kind == TH_WASM_EXTERN_FUNC)
            m->func_type[k++] = m->imports[i].u.type_idx;
    d->funcs_built = true;
    d->mk.declared = m->func_declared;
    d->mk.nfuncs = m->nfuncs;
    return 0;
}

static int build_tables(dec *d, uint32_t ndef)
{
    th_wasm_module *m = d->m;
    uint32_t k = 0;

    m->ntables = m->ntable_imports + ndef;
    m->tables = dec_calloc(d, m->ntables, sizeof *m->tables);
    if (m->tables == NULL)
        return TH_ENOMEM;
    for (uint32_t i = 0; i < m->nimports; i++)
        if (m->imports[i].kind == TH_WASM_EXTERN_TABLE)
            m->tables[k++] = m->imports[i].u.table;
    d->tables_built = true;
    return 0;
}

static int build_mems(dec *d, uint32_t ndef)
{
    th_wasm_module *m = d->m;
    uint32_t k = 0;

    m->nmems = m->nmem_imports + ndef;
    m->mems = dec_calloc(d, m->nmems, sizeof *m->mems);
    if (m->mems == NULL)
        return TH_ENOMEM;
    for (uint32_t i = 0; i < m->nimports; i++)
        if (m->imports[i].kind == TH_WASM_EXTERN_MEMORY)
            m->mems[k++] = m->imports[i].u.mem;
    d->mems_built = true;
    return 0;
}

static int build_globals(dec *d, uint32_t ndef)
{
    th_wasm_module *m = d->m;
    uint32_t k = 0;

    m->nglobals = m->nglobal_imports + ndef;
    m->globals = dec_calloc(d, m->nglobals, sizeof *m->globals);
    m->global_init = dec_calloc(d, ndef, sizeof *m->global_init);
    if (m->globals == NULL || m->global_init == NULL)
        return TH_ENOMEM;
    for (uint32_t i = 0; i < m->nimports; i++)
        if (m->imports[i].kind == TH_WASM_EXTERN_GLOBAL)
            m->globals[k++] = m->imports[i].u.global;
    d->globals_built = true;
    return 0;
}

/* Build the index spaces whose sections come before section order `ord`
 * (1 type .. 12 data) and were absent. */
static int ensure_spaces(dec *d, int ord)
{
    int rc = 0;
    if (ord > 3 && !d->funcs_built && (rc = build_funcs(d, 0)) < 0)
        return rc;
    if (ord > 4 && !d->tables_built && (rc = build_tables(d, 0)) < 0)
        return rc;
    if (ord > 5 && !d->mems_built && (rc = build_mems(d, 0)) < 0)
        return rc;
    if (ord > 6 && !d->globals_built && (rc = build_globals(d, 0)) < 0)
        return rc;
    return 0;
}

/* A constant expression: instructions through the closing end. */
static int rd_expr(dec *d, wasm_expr *out)
{
    size_t start = d->r.pos;
    int rc = skip_code(&d->r, &d->mk);
    if (rc < 0)
        return rc;
    out->off = (uint32_t)start;
    out->len = (uint32_t)(d->r.pos - start);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Sections                                                           */

static int sec_type(dec *d)
{
    th_wasm_module *m = d->m;
    rd *r = &d->r;
    size_t at = r->pos;
    uint32_t n;
    int rc;

    if ((rc = wasm_rd_len32(r, &n)) < 0)
        return rc;
    if (n > TH_WASM_MAX_TYPES)
        return too_many(d, at, "types", TH_WASM_MAX_TYPES);
    if ((m->types = dec_calloc(d, n, sizeof *m->types)) == NULL)
        return TH_ENOMEM;
    m->ntypes = n;
    for (uint32_t i = 0; i < n; i++) {
        wasm_functype *ft = &m->types[i];
        uint32_t np, nr;
        size_t pstart, rstart;
        int64_t form;

        at = r->pos;
        if ((rc = wasm_rd_sleb(r, 7, &form)) < 0)
            return rc;
        if (form != -0x20)
            return wasm_rd_fail(r, at, "malformed function type");
        /* Read once to learn the counts, then again into the array. */
        at = r->pos;
        if ((rc = wasm_rd_len32(r, &np)) < 0)
            return rc;
        if (np > TH_WASM_MAX_PARAMS)
            return too_many(d, at, "parameters", TH_WASM_MAX_PARAMS);
        pstart = r->pos;
        for (uint32_t k = 0; k < np; k++) {
            uint8_t t;
            if ((rc = wasm_rd_valtype(r, &t)) < 0)
                return rc;
        }
        at = r->pos;
        if ((rc = wasm_rd_len32(r, &nr)) < 0)
            return rc;
        if (nr > TH_WASM_MAX_RESULTS)
            return too_many(d, at, "results", TH_WASM_MAX_RESULTS);
        rstart = r->pos;
        for (uint32_t k = 0; k < nr; k++) {
            uint8_t t;
            if ((rc = wasm_rd_valtype(r, &t)) < 0)
                return rc;
        }
        ft->types = malloc((size_t)np + nr + 1);
        if (ft->types == NULL)
            return wasm_rd_nomem(r);
        memcpy(ft->types, r->b + pstart, np);
        memcpy(ft->types + np, r->b + rstart, nr);
        ft->nparams = np;
        ft->nresults = nr;
        ft->canon = wasm_functype_canon(ft->types, np, nr);
        if (ft->canon == 0)
            return wasm_rd_nomem(r);
    }
    return 0;
}

static int sec_import(dec *d)
{
    th_wasm_module *m = d->m;
    rd *r = &d->r;
    size_t at = r->pos;
    uint32_t n;
    int rc;

    if ((rc = wasm_rd_len32(r, &n)) < 0)
        return rc;
    if (n > TH_WASM_MAX_IMPORTS)
        return too_many(d, at, "imports", TH_WASM_MAX_IMPORTS);
    if ((m->imports = dec_calloc(d, n, sizeof *m->imports)) == NULL)
        return TH_ENOMEM;
    m->nimports = n;
    for (uint32_t i = 0; i < n; i++) {
        wasm_import *im = &m->imports[i];
        uint8_t kind;

        im->at = (uint32_t)r->pos;
        if ((rc = wasm_rd_name(r, &im->module, &im->module_len)) < 0)
            return rc;
        if ((rc = wasm_rd_name(r, &im->name, &im->name_len)) < 0)
            return rc;
        if ((rc = wasm_rd_byte(r, &kind)) < 0)
            return rc;
        im->kind = kind;
        switch (kind) {
        case TH_WASM_EXTERN_FUNC:
            rc = wasm_rd_u32(r, &im->u.type_idx);
            m->nfunc_imports++;
            break;
        case TH_WASM_EXTERN_TABLE:
            rc = wasm_rd_tabletype(r, &im->u.table);
            m->ntable_imports++;
            break;
        case TH_WASM_EXTERN_MEMORY:
            rc = wasm_rd_limits(r, &im->u.mem);
            m->nmem_imports++;
            break;
        case TH_WASM_EXTERN_GLOBAL:
            rc = wasm_rd_globaltype(r, &im->u.global);
            m->nglobal_imports++;
            break;
        default: return wasm_rd_fail(r, r->pos - 1, "malformed import kind");
        }
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int sec_function(dec *d)
{
    th_wasm_module *m = d->m;
    rd *r = &d->r;
    size_t at = r->pos;
    uint32_t n;
    int rc;

    if ((rc = wasm_rd_len32(r, &n)) < 0)
        return rc;
    if ((uint64_t)n + m->nfunc_imports > TH_WASM_MAX_FUNCS)
        return too_many(d, at, "functions", TH_WASM_MAX_FUNCS);
    if ((rc = build_funcs(d, n)) < 0)
        return rc;
    d->ndef_funcs = n;
    for (uint32_t i = 0; i < n; i++)
        if ((rc = wasm_rd_u32(r, &m->func_type[m->nfunc_imports + i])) < 0)
            return rc;
    return 0;
}

static int sec_table(dec *d)
{
    th_wasm_module *m = d->m;
    rd *r = &d->r;
    size_t at = r->pos;
    uint32_t n;
    int rc;

    if ((rc = wasm_rd_len32(r, &n)) < 0)
        return rc;
    if ((uint64_t)n + m->ntable_imports > TH_WASM_MAX_TABLES)
        return too_many(d, at, "tables", TH_WASM_MAX_TABLES);
    if ((rc = build_tables(d, n)) < 0)
        return rc;
    for (uint32_t i = 0; i < n; i++)
        if ((rc = wasm_rd_tabletype(r, &m->tables[m->ntable_imports + i])) < 0)
            return rc;
    return 0;
}

static int sec_memory(dec *d)
{
    th_wasm_module *m = d->m;
    rd *r = &d->r;
    uint32_t n;
    int rc;

    /* More than one memory is a validation error ("multiple memories"),
     * reported by validate.c; the count is bounded by the bytes left. */
    if ((rc = wasm_rd_len32(r, &n)) < 0)
        return rc;
    if ((rc = build_mems(d, n)) < 0)
        return rc;
    for (uint32_t i = 0; i < n; i++)
        if ((rc = wasm_rd_limits(r, &m->mems[m->nmem_imports + i])) < 0)
            return rc;
    return 0;
}

static int sec_global(dec *d)
{
    th_wasm_module *m = d->m;
    rd *r = &d->r;
    size_t at = r->pos;
    uint32_t n;
    int rc;

    if ((rc = wasm_rd_len32(r, &n)) < 0)
        return rc;
    if ((uint64_t)n + m->nglobal_imports > TH_WASM_MAX_GLOBALS)
        return too_many(d, at, "globals", TH_WASM_MAX_GLOBALS);
    if ((rc = build_globals(d, n)) < 0)
        return rc;
    for (uint32_t i = 0; i < n; i++) {
        if ((rc = wasm_rd_globaltype(r, &m->globals[m->nglobal_imports + i])) < 0)
            return rc;
        if ((rc = rd_expr(d, &m->global_init[i])) < 0)
            return rc;
    }
    return 0;
}

static int sec_export(dec *d)
{
    th_wasm_module *m = d->m;
    rd *r = &d->r;
    size_t at = r->pos;
    uint32_t n;
    int rc;

    if ((rc = wasm_rd_len32(r, &n)) < 0)
        return rc;
    if (n > TH_WASM_MAX_EXPORTS)
        return too_many(d, at, "exports", TH_WASM_MAX_EXPORTS);
    if ((m->exports = dec_calloc(d, n, sizeof *m->exports)) == NULL)
        return TH_ENOMEM;
    m->nexports = n;
    for (uint32_t i = 0; i < n; i++) {
        wasm_export *ex = &m->exports[i];
        uint8_t kind;

        ex->at = (uint32_t)r->pos;
        if ((rc = wasm_rd_name(r, &ex->name, &ex->name_len)) < 0)
            return rc;
        if ((rc = wasm_rd_byte(r, &kind)) < 0)
            return rc;
        if (kind > TH_WASM_EXTERN_GLOBAL)
            return wasm_rd_fail(r, r->pos - 1, "malformed export kind");
        ex->kind = kind;
        if ((rc = wasm_rd_u32(r, &ex->idx)) < 0)
            return rc;
        if (kind == TH_WASM_EXTERN_FUNC && ex->idx < m->nfuncs)
            m->func_declared[ex->idx] = 1;
    }
    return 0;
}

static int sec_start(dec *d)
{
    int rc = wasm_rd_u32(&d->r, &d->m->start);
    if (rc < 0)
        return rc;
    d->m->has_start = true;
    return 0;
}

/* Element kind of the legacy forms 1-3: only 0x00 (funcref). */
static int rd_elemkind(rd *r, uint8_t *out)
{
    uint8_t k;
    int rc = wasm_rd_byte(r, &k);
    if (rc < 0)
        return rc;
    if (k != 0x00)
        return wasm_rd_fail(r, r->pos - 1, "malformed element kind");
    *out = TH_WASM_FUNCREF;
    return 0;
}

/* The initializer list of an element segment: function indices (forms
 * 0-3) or constant expressions (forms 4-7). */
static int rd_elem_init(dec *d, wasm_elem *e, bool exprs)
{
    rd *r = &d->r;
    uint32_t n;
    int rc;

    if ((rc = wasm_rd_len32(r, &n)) < 0)
        return rc;
    if (n > TH_WASM_MAX_TABLE_ELEMS)
        return too_many(d, r->pos, "element segment entries", TH_WASM_MAX_TABLE_ELEMS);
    if (exprs) {
        if ((e->exprs = dec_calloc(d, n, sizeof *e->exprs)) == NULL)
            return TH_ENOMEM;
    } else if ((e->funcs = dec_calloc(d, n, sizeof *e->funcs)) == NULL)
        return TH_ENOMEM;
    e->count = n;
    for (uint32_t i = 0; i < n; i++) {
        if (exprs)
            rc = rd_expr(d, &e->exprs[i]);
        else if ((rc = wasm_rd_u32(r, &e->funcs[i])) == 0 && e->funcs[i] < d->mk.nfuncs)
            d->mk.declared[e->funcs[i]] = 1;
        if (rc < 0)
            return rc;
    }
    return 0;
}

/*
 * One element segment.  Flag bits: 0 passive/declarative (else active),
 * 1 explicit table index (active) or declarative (not active),
 * 2 expressions instead of function indices.
 *   0: expr vec(funcidx)                 active, table 0, funcref
 *   1: elemkind vec(funcidx)             passive
 *   2: tableidx expr elemkind vec(funcidx) active
 *   3: elemkind vec(funcidx)             declarative
 *   4: expr vec(expr)                    active, table 0, funcref
 *   5: reftype vec(expr)                 passive
 *   6: tableidx expr reftype vec(expr)   active
 *   7: reftype vec(expr)                 declarative
 */
static int rd_elem(dec *d, wasm_elem *e)
{
    rd *r = &d->r;
    uint32_t flag;
    int rc;

    e->at = (uint32_t)r->pos;
    if ((rc = wasm_rd_u32(r, &flag)) < 0)
        return rc;
    if (flag > 7)
        return wasm_rd_fail(r, r->pos - 1, "malformed elements segment kind");
    e->reftype = TH_WASM_FUNCREF;
    e->table = 0;
    if (flag & 1)
        e->mode = (flag & 2) ? WASM_SEG_DECLARATIVE : WASM_SEG_PASSIVE;
    else
        e->mode = WASM_SEG_ACTIVE;
    if (e->mode == WASM_SEG_ACTIVE) {
        if ((flag & 2) && (rc = wasm_rd_u32(r, &e->table)) < 0)
            return rc;
        if ((rc = rd_expr(d, &e->offset)) < 0)
            return rc;
    }
    if (flag & 3) { /* every form but 0 and 4 names its type */
        if (flag & 4)
            rc = wasm_rd_reftype(r, &e->reftype);
        else
            rc = rd_elemkind(r, &e->reftype);
        if (rc < 0)
            return rc;
    }
    return rd_elem_init(d, e, (flag & 4) != 0);
}

static int sec_element(dec *d)
{
    th_wasm_module *m = d->m;
    rd *r = &d->r;
    size_t at = r->pos;
    uint32_t n;
    int rc;

    if ((rc = wasm_rd_len32(r, &n)) < 0)
        return rc;
    if (n > TH_WASM_MAX_SEGMENTS)
        return too_many(d, at, "element segments", TH_WASM_MAX_SEGMENTS);
    if ((m->elems = dec_calloc(d, n, sizeof *m->elems)) == NULL)
        return TH_ENOMEM;
    m->nelems = n;
    for (uint32_t i = 0; i < n; i++)
        if ((rc = rd_elem(d, &m->elems[i])) < 0)
            return rc;
    return 0;
}

static int sec_datacount(dec *d)
{
    int rc = wasm_rd_u32(&d->r, &d->m->datacount);
    if (rc < 0)
        return rc;
    d->m->has_datacount = true;
    return 0;
}

/* The locals of one body: vec(count valtype), at most TH_WASM_MAX_LOCALS
 * together with the parameters. */
static int rd_locals(dec *d, wasm_body *b, uint32_t nparams)
{
    rd *r = &d->r;
    size_t at = r->pos, first;
    uint64_t total = 0;
    uint32_t n, k = 0;
    int rc;

    if ((rc = wasm_rd_len32(r, &n)) < 0)
        return rc;
    first = r->pos;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t cnt;
        uint8_t t;
        if ((rc = wasm_rd_u32(r, &cnt)) < 0)
            return rc;
        if ((rc = wasm_rd_valtype(r, &t)) < 0)
            return rc;
        total += cnt;
    }
    if (total + nparams > TH_WASM_MAX_LOCALS)
        return wasm_rd_fail(r, at, "too many locals");
    b->nlocals = (uint32_t)total;
    if (total == 0)
        return 0;
    if ((b->local_types = malloc((size_t)total)) == NULL)
        return wasm_rd_nomem(r);
    r->pos = first; /* second pass: expand the runs */
    for (uint32_t i = 0; i < n; i++) {
        uint32_t cnt;
        uint8_t t;
        wasm_rd_u32(r, &cnt);
        wasm_rd_valtype(r, &t);
        memset(b->local_types + k, t, cnt);
        k += cnt;
    }
    return 0;
}

static int sec_code(dec *d)
{
    th_wasm_module *m = d->m;
    rd *r = &d->r;
    size_t at = r->pos;
    uint32_t n;
    int rc;

    if ((rc = wasm_rd_len32(r, &n)) < 0)
        return rc;
    if (n > TH_WASM_MAX_FUNCS)
        return too_many(d, at, "function bodies", TH_WASM_MAX_FUNCS);
    if ((d->bodies = dec_calloc(d, n, sizeof *d->bodies)) == NULL)
        return TH_ENOMEM;
    d->nbodies = n;
    for (uint32_t i = 0; i < n; i++) {
        wasm_body *b = &d->bodies[i];
        uint32_t size, nparams = 0, fidx = m->nfunc_imports + i;
        size_t start, end;

        if ((rc = wasm_rd_len32(r, &size)) < 0)
            return rc;
        start = r->pos;
        end = start + size;
        if (size > TH_WASM_MAX_FUNC_BYTES)
            return wasm_rd_fail(r, start, "function body too large (%u bytes)", size);
        if (fidx < m->nfuncs && m->func_type[fidx] < m->ntypes)
            nparams = m->types[m->func_type[fidx]].nparams;
        if ((rc = rd_locals(d, b, nparams)) < 0)
            return rc;
        if (end > r->len || r->pos >= end || r->b[end - 1] != 0x0b) {
            /* The body does not end with `end` (or its locals overran
             * it): decode its instructions the way the reference decoder
             * does, which reads on past the body and reports what it
             * finds there.  If that succeeds it stopped after an `end`
             * other than the body's last byte. */
            if ((rc = skip_code(r, NULL)) < 0)
                return rc;
            return wasm_rd_fail(r, start, "section size mismatch");
        }
        b->off = (uint32_t)r->pos;
        b->len = (uint32_t)(end - r->pos);
        r->pos = end;
    }
    return 0;
}

/*
 * One data segment.
 *   0: expr vec(byte)           active, memory 0
 *   1: vec(byte)                passive
 *   2: memidx expr vec(byte)    active
 */
static int rd_data(dec *d, wasm_data *s)
{
    rd *r = &d->r;
    uint32_t flag, n;
    size_t start;
    int rc;

    s->at = (uint32_t)r->pos;
    if ((rc = wasm_rd_u32(r, &flag)) < 0)
        return rc;
    if (flag > 2)
        return wasm_rd_fail(r, r->pos - 1, "malformed data segment kind");
    s->mem = 0;
    s->mode = flag == 1 ? WASM_SEG_PASSIVE : WASM_SEG_ACTIVE;
    if (flag == 2 && (rc = wasm_rd_u32(r, &s->mem)) < 0)
        return rc;
    if (flag != 1 && (rc = rd_expr(d, &s->offset)) < 0)
        return rc;
    if ((rc = wasm_rd_len32(r, &n)) < 0)
        return rc;
    if ((rc = wasm_rd_skip(r, n, &start)) < 0)
        return rc;
    s->off = (uint32_t)start;
    s->len = n;
    return 0;
}

static int sec_data(dec *d)
{
    th_wasm_module *m = d->m;
    rd *r = &d->r;
    size_t at = r->pos;
    uint32_t n;
    int rc;

    if ((rc = wasm_rd_len32(r, &n)) < 0)
        return rc;
    if (n > TH_WASM_MAX_SEGMENTS)
        return too_many(d, at, "data segments", TH_WASM_MAX_SEGMENTS);
    if ((m->datas = dec_calloc(d, n, sizeof *m->datas)) == NULL)
        return TH_ENOMEM;
    m->ndatas = n;
    for (uint32_t i = 0; i < n; i++)
        if ((rc = rd_data(d, &m->datas[i])) < 0)
            return rc;
    return 0;
}

/* A custom section: a name, then bytes up to the section's end.  The
 * "name" section is remembered and parsed at the end. */
static int sec_custom(dec *d, size_t start, uint32_t size)
{
    rd *r = &d->r;
    size_t npos;
    uint32_t nlen;
    int rc;

    if ((rc = wasm_rd_name(r, NULL, &nlen)) < 0)
        return rc;
    if (r->pos - start > size)
        return wasm_rd_eos(r);
    npos = r->pos;
    if (nlen == 4 && memcmp(r->b + npos - 4, "name", 4) == 0 && !d->has_names) {
        d->has_names = true;
        d->names_pos = npos;
        d->names_end = start + size;
    }
    return wasm_rd_skip(r, size - (r->pos - start), NULL);
}

size_t wasm_entry_offset(const th_wasm_module *m, uint8_t sec, uint32_t i)
{
    rd r = {m->bytes, m->sec_at[sec], m->len, NULL};
    wasm_tabletype tt;
    wasm_limits lim;
    uint32_t n, x;

    if (sec > WASM_SEC_DATACOUNT || r.pos == 0 || wasm_rd_len32(&r, &n) < 0 || i >= n)
        return r.pos;
    for (uint32_t k = 0; k < i; k++) {
        int rc = sec == WASM_SEC_FUNCTION ? wasm_rd_u32(&r, &x)
                 : sec == WASM_SEC_TABLE  ? wasm_rd_tabletype(&r, &tt)
                 : sec == WASM_SEC_MEMORY ? wasm_rd_limits(&r, &lim)
                                          : -1;
        if (rc < 0)
            return m->sec_at[sec];
    }
    return r.pos;
}

/* ------------------------------------------------------------------ */
/* The name section (optional, never fatal)                           */

static void free_names(th_wasm_module *m)
{
    if (m->func_names != NULL)
        for (uint32_t i = 0; i < m->nfuncs; i++)
            free(m->func_names[i]);
    free(m->func_names);
    free(m->name);
    m->func_names = NULL;
    m->name = NULL;
}

/* Subsection 0 (module name) and 1 (function names); others are skipped.
 * Returns 0, or -1 if the section is malformed. */
static int parse_names(th_wasm_module *m, size_t pos, size_t end)
{
    rd r = {m->bytes, pos, end, NULL};

    while (r.pos < r.len) {
        uint8_t id;
        uint32_t size, n;
        size_t sub_end;

        if (wasm_rd_byte(&r, &id) < 0 || wasm_rd_len32(&r, &size) < 0)
            return -1;
        sub_end = r.pos + size;
        if (sub_end > r.len)
            return -1;
        if (id == 0) {
            if (m->name != NULL || wasm_rd_name(&r, &m->name, NULL) < 0)
                return -1;
        } else if (id == 1) {
            if (m->func_names != NULL || wasm_rd_len32(&r, &n) < 0)
                return -1;
            m->func_names = calloc(m->nfuncs ? m->nfuncs : 1, sizeof(char *));
            if (m->func_names == NULL)
                return -1;
            for (uint32_t i = 0; i < n; i++) {
                uint32_t idx;
                char *s;
                if (wasm_rd_u32(&r, &idx) < 0 || wasm_rd_name(&r, &s, NULL) < 0)
                    return -1;
                if (idx >= m->nfuncs || m->func_names[idx] != NULL) {
                    free(s);
                    return -1;
                }
                m->func_names[idx] = s;
            }
        }
        if (r.pos > sub_end)
            return -1;
        r.pos = sub_end;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Module                                                             */

/* Position of each section id in the required order (custom: 0). */
static const uint8_t sec_order[13] = {
    [WASM_SEC_TYPE] = 1,       [WASM_SEC_IMPORT] = 2, [WASM_SEC_FUNCTION] = 3,
    [WASM_SEC_TABLE] = 4,      [WASM_SEC_MEMORY] = 5, [WASM_SEC_GLOBAL] = 6,
    [WASM_SEC_EXPORT] = 7,     [WASM_SEC_START] = 8,  [WASM_SEC_ELEMENT] = 9,
    [WASM_SEC_DATACOUNT] = 10, [WASM_SEC_CODE] = 11,  [WASM_SEC_DATA] = 12,
};

static int parse_section(dec *d, uint8_t id, size_t start, uint32_t size)
{
    int rc;

    if (id == WASM_SEC_CUSTOM)
        return sec_custom(d, start, size);
    if ((rc = ensure_spaces(d, sec_order[id])) < 0)
        return rc;
    d->m->sec_at[id] = (uint32_t)start;
    switch (id) {
    case WASM_SEC_TYPE: return sec_type(d);
    case WASM_SEC_IMPORT: return sec_import(d);
    case WASM_SEC_FUNCTION: return sec_function(d);
    case WASM_SEC_TABLE: return sec_table(d);
    case WASM_SEC_MEMORY: return sec_memory(d);
    case WASM_SEC_GLOBAL: return sec_global(d);
    case WASM_SEC_EXPORT: return sec_export(d);
    case WASM_SEC_START: return sec_start(d);
    case WASM_SEC_ELEMENT: return sec_element(d);
    case WASM_SEC_CODE: return sec_code(d);
    case WASM_SEC_DATA: return sec_data(d);
    default: return sec_datacount(d);
    }
}

static int parse_header(rd *r)
{
    static const uint8_t magic[4] = {0x00, 0x61, 0x73, 0x6d};
    static const uint8_t version[4] = {0x01, 0x00, 0x00, 0x00};

    if (r->len < 4)
        return wasm_rd_fail(r, r->len, "unexpected end");
    if (memcmp(r->b, magic, 4) != 0)
        return wasm_rd_fail(r, 0, "magic header not detected");
    if (r->len < 8)
        return wasm_rd_fail(r, r->len, "unexpected end");
    if (memcmp(r->b + 4, version, 4) != 0)
        return wasm_rd_fail(r, 4, "unknown binary version");
    r->pos = 8;
    return 0;
}

static int parse_module(dec *d)
{
    rd *r = &d->r;
    th_wasm_module *m = d->m;
    uint8_t last = 0;
    int rc;

    if ((rc = parse_header(r)) < 0)
        return rc;
    while (r->pos < r->len) {
        size_t id_at = r->pos, start;
        uint8_t id = r->b[r->pos++];
        uint32_t size;

        if (id > WASM_SEC_DATACOUNT)
            return wasm_rd_fail(r, id_at, "malformed section id");
        if (id != WASM_SEC_CUSTOM) {
            if (sec_order[id] <= last)
                return wasm_rd_fail(r, id_at, "unexpected content after last section");
            last = sec_order[id];
        }
        if ((rc = wasm_rd_len32(r, &size)) < 0)
            return rc;
        start = r->pos;
        if ((rc = parse_section(d, id, start, size)) < 0)
            return rc;
        if (r->pos != start + size)
            return wasm_rd_fail(r, start, "section size mismatch");
    }
    if ((rc = ensure_spaces(d, 13)) < 0)
        return rc;
    if (d->nbodies != d->ndef_funcs)
        return wasm_rd_fail(r, r->len, "function and code section have inconsistent lengths");
    if (m->has_datacount && m->datacount != m->ndatas)
        return wasm_rd_fail(r, r->len,
                            "data count and data section have "
                            "inconsistent lengths");
    return 0;
}

int wasm_decode(const uint8_t *bytes, size_t len, th_wasm_module **out, th_error *err)
{
    th_wasm_module *m;
    dec d;
    int rc;

    *out = NULL;
    if (len > TH_WASM_MAX_MODULE_BYTES)
        return th_error_set(err, TH_ETOOBIG, "module of %zu bytes is above the limit of %u", len,
                            TH_WASM_MAX_MODULE_BYTES);
    m = calloc(1, sizeof *m);
    if (m == NULL)
        return th_error_set(err, TH_ENOMEM, "out of memory");
    atomic_init(&m->refcount, 1);
    m->bytes = malloc(len ? len : 1);
    if (m->bytes == NULL) {
        free(m);
        return th_error_set(err, TH_ENOMEM, "out of memory");
    }
    memcpy(m->bytes, bytes, len);
    m->len = len;

    memset(&d, 0, sizeof d);
    d.r.b = m->bytes;
    d.r.len = len;
    d.r.err = err;
    d.m = m;
    rc = parse_module(&d);
    if (rc < 0) {
        for (uint32_t i = 0; i < d.nbodies; i++)
            free(d.bodies[i].local_types);
        free(d.bodies);
        wasm_module_destroy(m);
        return rc;
    }
    m->bodies = d.bodies;
    if (d.has_names && parse_names(m, d.names_pos, d.names_end) < 0)
        free_names(m);
    *out = m;
    return 0;
}
