/*
 * compile.c - validation of function bodies and their translation into the
 * interpreter's internal code (format in interp.h).
 *
 * One pass per function does both jobs.  Validation follows the algorithm
 * of the WebAssembly specification's appendix: an operand stack of value
 * types (with the polymorphic "unknown" type after unreachable, br, return
 * and br_table) and a stack of control frames.
 *
 * Translation rides on the same operand stack: every operand records where
 * its value lives at run time -
 *   LOC_OWN    its own temporary slot (fixed by its height),
 *   LOC_LOCAL  a local's slot (local.get emits nothing),
 *   LOC_CONST  a constant (a slot of the per-function constant area,
 *              assigned when first used as an operand).
 * Instructions read operands wherever they are and write results to the
 * result's own slot; local.set/tee retarget the previous instruction's
 * destination to the local when that instruction produced the value.
 * Before a local is overwritten, operands still naming it are copied to
 * their own slots; at block boundaries all of them are.  Control flow needs
 * values in canonical places: block results and loop parameters live in the
 * own slots of their heights, call arguments in consecutive own slots (the
 * callee's frame starts there), function results in slots 0...
 *
 * A comparison followed by br_if or if is fused into one compare-and-branch
 * instruction.  Branches to loops use variants that spend fuel.
 *
 * Slot numbers of temporaries and constants depend on the final number of
 * constants, so operands are emitted tagged (TAG_TEMP / TAG_CONST) and
 * relocated once the function is done.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wasm/interp.h"

#define VT_UNKNOWN 0 /* the polymorphic bottom type */

enum { LOC_OWN, LOC_LOCAL, LOC_CONST };

#define TAG_TEMP 0x80000000u
#define TAG_CONST 0x40000000u
#define TAG_MASK 0x3fffffffu
#define MAX_FRAME_SLOTS 0x30000000u
#define NO_POS ((size_t)-1)
#define NO_FIX UINT32_MAX

enum { K_FUNC = 0, K_BLOCK = 0x02, K_LOOP = 0x03, K_IF = 0x04, K_ELSE = 0x05 };

/* An operand of the validator's stack and where its value lives. */
typedef struct vent {
    uint64_t cval; /* LOC_CONST: the bits */
    uint32_t t;    /* own temporary (slots above the constants) */
    uint32_t idx;  /* LOC_LOCAL: local index */
    uint8_t type;
    uint8_t loc;
} vent;

/* A forward branch waiting for its label: the rel field at `field`,
 * relative to the instruction at `insn`. */
typedef struct fixup {
    size_t field, insn;
    uint32_t next;
} fixup;

typedef struct ctrl {
    uint8_t kind;
    bool unreachable;
    bool dead;        /* began inside unreachable code: emit nothing */
    uint32_t height;  /* operand stack height below the params */
    uint32_t base_t;  /* own slot of the first param / result */
    uint32_t nparams, nresults;
    const uint8_t *params, *results;
    size_t loop_pos;  /* K_LOOP: code offset of the loop head */
    size_t else_field, else_insn; /* K_IF: branch to the else arm */
    uint32_t fix;     /* forward branches to the end */
} ctrl;

/* The last emitted instruction, if it produced the value on top. */
typedef struct lastinsn {
    bool valid;
    size_t start, dst_pos, nrelocs;
    uint32_t dst_t;
    int br_true, br_false; /* fused branches of a comparison, else -1 */
    uint32_t a, b;         /* the comparison's operands */
    uint8_t nops;
    uint8_t slotmask;      /* which of them are slots (else immediates) */
} lastinsn;

typedef struct comp {
    th_wasm_module *m;
    th_error *err;
    const void *const *labels;
    uint32_t fidx;
    const wasm_functype *ft;
    const uint8_t *p, *end;
    size_t insn_off;

    uint32_t nlocals;
    uint8_t *ltypes;
    uint32_t *lslot;
    uint32_t nlocal_slots;
    size_t caplocals;

    vent *vals;
    uint32_t nvals, capvals;
    vent *popped; /* operands of the current instruction, bottom first */
    uint32_t cappopped;
    vent *scratch;
    uint32_t capscratch;
    ctrl *ctrls;
    uint32_t nctrls, capctrls;

    uint8_t *code;
    size_t len, cap;
    size_t *relocs;
    size_t nrelocs, caprelocs;
    fixup *fixups;
    uint32_t nfixups, capfixups;
    uint64_t *consts;
    uint32_t nconsts, capconsts;
    uint32_t *chash; /* const index + 1, 0 = empty */
    uint32_t chcap;
    uint32_t max_t;
    lastinsn last;
    bool nomem;

    uint32_t *brt;
    uint32_t capbrt;
    uint32_t *stub_gen;
    size_t *stub_pos;
    uint32_t capstub, gen;
} comp;

/* ------------------------------------------------------------------ */
/* Errors and buffers                                                 */

static int fail(comp *C, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(comp *C, const char *fmt, ...)
{
    char msg[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    th_error_set(C->err, TH_EINVAL, "%s at offset 0x%zx in function %u", msg,
                 C->insn_off, C->fidx);
    return -1;
}

/* Grow *buf (elements of `size` bytes, capacity *cap) to hold `need`.
 * Returns false on allocation failure (the buffer is unchanged). */
static bool grow(void **buf, size_t *cap, size_t need, size_t size)
{
    size_t ncap;
    void *nb;

    if (need <= *cap)
        return true;
    ncap = *cap ? *cap * 2 : 16;
    while (ncap < need)
        ncap *= 2;
    nb = realloc(*buf, ncap * size);
    if (nb == NULL)
        return false;
    *buf = nb;
    *cap = ncap;
    return true;
}

static bool grow32(void **buf, uint32_t *cap, size_t need, size_t size)
{
    size_t c = *cap;
    bool ok;

    if (need > UINT32_MAX / 2)
        return false;
    ok = grow(buf, &c, need, size);
    *cap = (uint32_t)c;
    return ok;
}

/* ------------------------------------------------------------------ */
/* Reading the body                                                   */

static int rd_byte(comp *C, uint8_t *out)
{
    if (C->p >= C->end)
        return fail(C, "unexpected end of section or function");
    *out = *C->p++;
    return 0;
}

static int rd_u32(comp *C, uint32_t *out)
{
    uint32_t v = 0;
    for (unsigned i = 0; i < 5; i++) {
        uint8_t b = 0;
        if (rd_byte(C, &b))
            return -1;
        if (i == 4 && (b & 0x70))
            return fail(C, (b & 0x80) ? "integer representation too long" : "integer too large");
        v |= (uint32_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return fail(C, "integer representation too long");
}

/* Signed LEB128 of `bits` bits (32, 33 or 64). */
static int rd_sleb(comp *C, unsigned bits, int64_t *out)
{
    uint64_t v = 0;
    unsigned shift = 0, maxbytes = (bits + 6) / 7;
    for (unsigned i = 0; i < maxbytes; i++) {
        uint8_t b = 0;
        if (rd_byte(C, &b))
            return -1;
        if (i == maxbytes - 1) {
            /* the bits beyond `bits` must be copies of the sign bit */
            unsigned used = bits - shift; /* value bits in this byte */
            uint8_t rest = (uint8_t)(b & 0x7f) >> (used - 1); /* sign + extra bits */
            uint8_t all = (uint8_t)(0x7f >> (used - 1));
            if (b & 0x80)
                return fail(C, "integer representation too long");
            if (rest != 0 && rest != all)
                return fail(C, "integer too large");
        }
        v |= (uint64_t)(b & 0x7f) << shift;
        shift += 7;
        if (!(b & 0x80)) {
            if (shift < 64 && (b & 0x40))
                v |= ~(uint64_t)0 << shift;
            *out = (int64_t)v;
            return 0;
        }
    }
    return fail(C, "integer representation too long");
}

static int rd_zero(comp *C)
{
    uint8_t b = 0;
    if (rd_byte(C, &b))
        return -1;
    if (b != 0)
        return fail(C, "zero byte expected");
    return 0;
}

static const uint8_t valtypes[] = { TH_WASM_I32, TH_WASM_I64, TH_WASM_F32,
                                    TH_WASM_F64, TH_WASM_FUNCREF, TH_WASM_EXTERNREF };

/* Static one-element type list for valtype `t`, or NULL if not one. */
static const uint8_t *valtype_list(uint8_t t)
{
    for (size_t i = 0; i < sizeof valtypes; i++)
        if (valtypes[i] == t)
            return &valtypes[i];
    return NULL;
}

static bool is_num(uint8_t t)
{
    return t == TH_WASM_I32 || t == TH_WASM_I64 || t == TH_WASM_F32 ||
           t == TH_WASM_F64 || t == VT_UNKNOWN;
}

static bool is_ref(uint8_t t)
{
    return t == TH_WASM_FUNCREF || t == TH_WASM_EXTERNREF || t == VT_UNKNOWN;
}

static uint32_t nslots(uint8_t t)
{
    return t == TH_WASM_V128 ? 2 : 1;
}

/* ------------------------------------------------------------------ */
/* Emitting code                                                      */

static uint8_t *room(comp *C, size_t n)
{
    if (C->nomem)
        return NULL;
    if (!grow((void **)&C->code, &C->cap, C->len + n, 1)) {
        C->nomem = true;
        return NULL;
    }
    return C->code + C->len;
}

static void emit_u32(comp *C, uint32_t v)
{
    uint8_t *w = room(C, 4);
    if (w == NULL)
        return;
    memcpy(w, &v, 4);
    C->len += 4;
}

/* Start an instruction; returns its offset. */
static size_t emit_begin(comp *C, int op)
{
    size_t start = C->len;
    const void *h = C->labels[op];
    uint8_t *w = room(C, 8);

    C->last.valid = false;
    if (w != NULL) {
        memcpy(w, &h, sizeof h);
        C->len += 8;
    }
    return start;
}

static void emit_slot(comp *C, uint32_t enc)
{
    if (enc & (TAG_TEMP | TAG_CONST)) {
        if (!grow((void **)&C->relocs, &C->caprelocs, C->nrelocs + 1, sizeof *C->relocs)) {
            C->nomem = true;
            return;
        }
        C->relocs[C->nrelocs++] = C->len;
    }
    emit_u32(C, enc);
}

static void emit_ptr(comp *C, const void *ptr)
{
    uint8_t *w = room(C, sizeof ptr);
    if (w == NULL)
        return;
    memcpy(w, &ptr, sizeof ptr);
    C->len += sizeof ptr;
}

static void emit_end(comp *C)
{
    while (C->len & 7) {
        uint8_t *w = room(C, 1);
        if (w == NULL)
            return;
        *w = 0;
        C->len++;
    }
}

/* Emit `op` with operands `ops`; bit i of slotmask marks operand i as a
 * slot.  Returns the instruction's offset. */
static size_t emit_ops(comp *C, int op, const uint32_t *ops, unsigned n, unsigned slotmask)
{
    size_t start = emit_begin(C, op);
    for (unsigned i = 0; i < n; i++) {
        if (slotmask & (1u << i))
            emit_slot(C, ops[i]);
        else
            emit_u32(C, ops[i]);
    }
    emit_end(C);
    return start;
}

static void patch_rel(comp *C, size_t field, size_t insn, size_t target)
{
    int32_t rel = (int32_t)((int64_t)target - (int64_t)insn);
    if (!C->nomem)
        memcpy(C->code + field, &rel, 4);
}

/* Index of constant `v` in the constant area, tagged. */
static uint32_t const_slot(comp *C, uint64_t v)
{
    uint32_t mask, h;

    if (C->nconsts * 2 >= C->chcap) {
        uint32_t ncap = C->chcap ? C->chcap * 2 : 64;
        uint32_t *nh = calloc(ncap, sizeof *nh);
        if (nh == NULL) {
            C->nomem = true;
            return TAG_CONST;
        }
        for (uint32_t i = 0; i < C->nconsts; i++) {
            h = (uint32_t)((C->consts[i] * 0x9e3779b97f4a7c15ull) >> 40) & (ncap - 1);
            while (nh[h] != 0)
                h = (h + 1) & (ncap - 1);
            nh[h] = i + 1;
        }
        free(C->chash);
        C->chash = nh;
        C->chcap = ncap;
    }
    mask = C->chcap - 1;
    h = (uint32_t)((v * 0x9e3779b97f4a7c15ull) >> 40) & mask;
    while (C->chash[h] != 0) {
        if (C->consts[C->chash[h] - 1] == v)
            return TAG_CONST | (C->chash[h] - 1);
        h = (h + 1) & mask;
    }
    if (!grow32((void **)&C->consts, &C->capconsts, C->nconsts + 1, sizeof *C->consts)) {
        C->nomem = true;
        return TAG_CONST;
    }
    C->consts[C->nconsts] = v;
    C->chash[h] = ++C->nconsts;
    return TAG_CONST | (C->nconsts - 1);
}

/* Where operand `e` is read from. */
static uint32_t enc(comp *C, const vent *e)
{
    switch (e->loc) {
    case LOC_LOCAL:
        return C->lslot[e->idx];
    case LOC_CONST:
        return const_slot(C, e->cval);
    default:
        return TAG_TEMP | e->t;
    }
}

static void emit_copy(comp *C, uint32_t dst, uint32_t src)
{
    uint32_t ops[2] = { dst, src };
    emit_ops(C, WOP_COPY, ops, 2, 3);
}

/* Move `e` into its own slot (if elsewhere). */
static void materialize(comp *C, vent *e)
{
    if (e->loc == LOC_OWN)
        return;
    emit_copy(C, TAG_TEMP | e->t, enc(C, e));
    e->loc = LOC_OWN;
}

/* Record that the instruction at `start` (destination operand first)
 * produced the value in own slot `dst_t`. */
static void produced(comp *C, size_t start, size_t nrelocs, uint32_t dst_t)
{
    if (C->nomem)
        return;
    C->last.valid = true;
    C->last.start = start;
    C->last.dst_pos = start + 8;
    C->last.nrelocs = nrelocs;
    C->last.dst_t = dst_t;
    C->last.br_true = C->last.br_false = -1;
}

/* ------------------------------------------------------------------ */
/* Operand and control stacks                                         */

static ctrl *top_ctrl(comp *C)
{
    return &C->ctrls[C->nctrls - 1];
}

static bool emitting(comp *C)
{
    const ctrl *c = top_ctrl(C);
    return !c->unreachable && !c->dead;
}

static uint32_t t_at(const comp *C, uint32_t height)
{
    const vent *e;
    if (height == 0)
        return 0;
    e = &C->vals[height - 1];
    return e->t + nslots(e->type);
}

/* Push an operand living in its own slot. */
static vent *push(comp *C, uint8_t type)
{
    vent *e;
    uint32_t t = t_at(C, C->nvals);

    if (!grow32((void **)&C->vals, &C->capvals, C->nvals + 1, sizeof *C->vals)) {
        C->nomem = true;
        return NULL;
    }
    e = &C->vals[C->nvals++];
    e->t = t;
    e->type = type;
    e->loc = LOC_OWN;
    e->idx = 0;
    e->cval = 0;
    if (t + nslots(type) > C->max_t)
        C->max_t = t + nslots(type);
    return e;
}

/* Pop one operand of type `expect` (VT_UNKNOWN: any) into *out. */
static int pop(comp *C, uint8_t expect, vent *out)
{
    ctrl *c = top_ctrl(C);
    vent e;

    if (C->nvals == c->height) {
        if (!c->unreachable)
            return fail(C, "type mismatch");
        memset(out, 0, sizeof *out);
        out->type = VT_UNKNOWN;
        out->t = t_at(C, C->nvals);
        return 0;
    }
    e = C->vals[--C->nvals];
    if (expect != VT_UNKNOWN && e.type != VT_UNKNOWN && e.type != expect)
        return fail(C, "type mismatch");
    *out = e;
    return 0;
}

/* Pop operands of `types` into C->popped (bottom first). */
static int pop_vals(comp *C, const uint8_t *types, uint32_t n)
{
    if (!grow32((void **)&C->popped, &C->cappopped, n, sizeof *C->popped)) {
        C->nomem = true;
        return fail(C, "out of memory");
    }
    for (uint32_t i = n; i-- > 0;)
        if (pop(C, types[i], &C->popped[i]))
            return -1;
    return 0;
}

/* Push the operands in C->popped back, as they were. */
static void repush(comp *C, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        vent saved = C->popped[i];
        vent *e = push(C, saved.type);
        if (e == NULL)
            return;
        e->loc = saved.loc;
        e->idx = saved.idx;
        e->cval = saved.cval;
    }
}

static void push_types(comp *C, const uint8_t *types, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        push(C, types[i]);
}

/* Check that the top operands match `types` without popping (the spec's
 * push_vals(pop_vals(types)) on a possibly polymorphic stack). */
static int check_top(comp *C, const uint8_t *types, uint32_t n)
{
    const ctrl *c = top_ctrl(C);
    uint32_t avail = C->nvals - c->height;

    for (uint32_t k = 0; k < n; k++) {
        uint8_t want = types[n - 1 - k];
        if (k >= avail) {
            if (!c->unreachable)
                return fail(C, "type mismatch");
            continue;
        }
        uint8_t have = C->vals[C->nvals - 1 - k].type;
        if (have != VT_UNKNOWN && have != want)
            return fail(C, "type mismatch");
    }
    return 0;
}

static void set_unreachable(comp *C)
{
    ctrl *c = top_ctrl(C);
    C->nvals = c->height;
    c->unreachable = true;
}

static int push_ctrl(comp *C, uint8_t kind, const uint8_t *params, uint32_t np,
                     const uint8_t *results, uint32_t nr)
{
    bool em = C->nctrls == 0 || emitting(C);
    ctrl *c;

    if (C->nctrls >= TH_WASM_MAX_BLOCK_DEPTH)
        return fail(C, "blocks nested too deeply");
    if (!grow32((void **)&C->ctrls, &C->capctrls, C->nctrls + 1, sizeof *C->ctrls)) {
        C->nomem = true;
        return fail(C, "out of memory");
    }
    c = &C->ctrls[C->nctrls++];
    c->kind = kind;
    c->unreachable = false;
    c->dead = !em;
    c->height = C->nvals;
    c->base_t = t_at(C, C->nvals);
    c->nparams = np;
    c->params = params;
    c->nresults = nr;
    c->results = results;
    c->loop_pos = NO_POS;
    c->else_field = c->else_insn = NO_POS;
    c->fix = NO_FIX;
    return 0;
}

static uint32_t label_arity(const ctrl *c)
{
    return c->kind == K_LOOP ? c->nparams : c->nresults;
}

static const uint8_t *label_types(const ctrl *c)
{
    return c->kind == K_LOOP ? c->params : c->results;
}

/* Label `l` (relative depth), or NULL after reporting "unknown label". */
static ctrl *label(comp *C, uint32_t l)
{
    if (l >= C->nctrls) {
        fail(C, "unknown label");
        return NULL;
    }
    return &C->ctrls[C->nctrls - 1 - l];
}

/* Copy every operand naming local `x` (or any local if x == UINT32_MAX)
 * into its own slot. */
static void materialize_locals(comp *C, uint32_t x)
{
    for (uint32_t i = 0; i < C->nvals; i++) {
        vent *e = &C->vals[i];
        if (e->loc == LOC_LOCAL && (x == UINT32_MAX || e->idx == x))
            materialize(C, e);
    }
}

/* ------------------------------------------------------------------ */
/* Branches                                                           */

static void add_fixup(comp *C, ctrl *target, size_t field, size_t insn)
{
    fixup *f;
    if (!grow32((void **)&C->fixups, &C->capfixups, C->nfixups + 1, sizeof *C->fixups)) {
        C->nomem = true;
        return;
    }
    f = &C->fixups[C->nfixups];
    f->field = field;
    f->insn = insn;
    f->next = target->fix;
    target->fix = C->nfixups++;
}

/* Emit the rel operand of the branch at `insn` to `target`. */
static void emit_target(comp *C, size_t insn, ctrl *target)
{
    if (target->kind == K_LOOP) {
        emit_u32(C, 0);
        patch_rel(C, C->len - 4, insn, target->loop_pos);
    } else {
        add_fixup(C, target, C->len, insn);
        emit_u32(C, 0);
    }
}

/* Resolve the forward branches to `c`'s end at the current position. */
static void define_end(comp *C, ctrl *c)
{
    for (uint32_t i = c->fix; i != NO_FIX; i = C->fixups[i].next)
        patch_rel(C, C->fixups[i].field, C->fixups[i].insn, C->len);
    c->fix = NO_FIX;
}

/* Branch op variant spending fuel, for loop targets. */
static int back_op(int op)
{
    if (op >= WOP_BR_IF_I32_EQ && op <= WOP_BR_IF_I64_GE_U)
        return op - WOP_BR_IF_I32_EQ + WOP_BRB_IF_I32_EQ;
    if (op >= WOP_BR_IF_I32_EQ_K && op <= WOP_BR_IF_I32_GE_U_K)
        return op - WOP_BR_IF_I32_EQ_K + WOP_BRB_IF_I32_EQ_K;
    switch (op) {
    case WOP_BR: return WOP_BR_BACK;
    case WOP_BR_IF_NZ: return WOP_BR_IF_NZ_BACK;
    case WOP_BR_IF_Z: return WOP_BR_IF_Z_BACK;
    case WOP_BR_IF_I64_NZ: return WOP_BR_IF_I64_NZ_BACK;
    case WOP_BR_IF_I64_Z: return WOP_BR_IF_I64_Z_BACK;
    default: return op;
    }
}

/* Return with the n values `vals` (not modified) as results. */
static void emit_return(comp *C, const vent *vals, uint32_t n)
{
    vent *v;

    if (n == 0) {
        emit_begin(C, WOP_RET);
        emit_end(C);
        return;
    }
    if (n == 1 && nslots(vals[0].type) == 1) {
        uint32_t a = enc(C, &vals[0]);
        emit_ops(C, WOP_RET1, &a, 1, 1);
        return;
    }
    /* Several results: into their own (consecutive) slots first, then
     * down to slots 0..; own slot t_i >= i, so ascending order is safe. */
    if (!grow32((void **)&C->scratch, &C->capscratch, n, sizeof *C->scratch)) {
        C->nomem = true;
        return;
    }
    v = C->scratch;
    memcpy(v, vals, n * sizeof *v);
    for (uint32_t i = 0; i < n; i++)
        materialize(C, &v[i]);
    for (uint32_t i = 0, slot = 0; i < n; i++) {
        for (uint32_t k = 0; k < nslots(v[i].type); k++, slot++)
            emit_copy(C, slot, TAG_TEMP | (v[i].t + k));
    }
    emit_begin(C, WOP_RET);
    emit_end(C);
}

/* Does branching to `target` with values `vals` need copies? */
static bool branch_needs_copies(const ctrl *target, const vent *vals, uint32_t n)
{
    uint32_t slot = target->base_t;

    if (target->kind == K_FUNC)
        return true;
    for (uint32_t i = 0; i < n; i++) {
        if (vals[i].loc != LOC_OWN || vals[i].t != slot)
            return true;
        slot += nslots(vals[i].type);
    }
    return false;
}

/* Copies of the branch values into `target`'s label slots (ascending
 * order is safe: a value's own slot is never below its label slot). */
static void emit_label_copies(comp *C, const ctrl *target, const vent *vals, uint32_t n)
{
    uint32_t slot = target->base_t;

    for (uint32_t i = 0; i < n; i++) {
        if (vals[i].loc != LOC_OWN || vals[i].t != slot) {
            uint32_t src = enc(C, &vals[i]);
            emit_copy(C, TAG_TEMP | slot, src);
        }
        slot += nslots(vals[i].type);
    }
}

/* Unconditional branch to `target` carrying `vals`; `fuel` selects the
 * fuel-spending variant for loops. */
static void emit_branch(comp *C, ctrl *target, const vent *vals, uint32_t n, bool fuel)
{
    size_t s;

    if (target->kind == K_FUNC) {
        emit_return(C, vals, n);
        return;
    }
    emit_label_copies(C, target, vals, n);
    s = emit_begin(C, fuel && target->kind == K_LOOP ? WOP_BR_BACK : WOP_BR);
    emit_target(C, s, target);
    emit_end(C);
}

/* If `cond` was produced by the last instruction and that was a fusable
 * comparison, remove it and return its description in *out. */
static bool take_comparison(comp *C, const vent *cond, lastinsn *out)
{
    if (!C->last.valid || C->last.br_true < 0 || cond->loc != LOC_OWN ||
        cond->t != C->last.dst_t)
        return false;
    *out = C->last;
    C->len = out->start;
    C->nrelocs = out->nrelocs;
    C->last.valid = false;
    return true;
}

/* Emit a conditional branch on `cond` (when_true selects the sense),
 * using the fused comparison `cmp` if given; returns the offset of the
 * instruction, with the rel field last. */
static size_t emit_cond_branch(comp *C, const vent *cond, const lastinsn *cmp,
                               bool when_true, bool back)
{
    uint32_t ops[3];
    unsigned n, slotmask;
    int op;
    size_t s;

    if (cmp != NULL) {
        op = when_true ? cmp->br_true : cmp->br_false;
        ops[0] = cmp->a;
        ops[1] = cmp->b;
        n = cmp->nops;
        slotmask = cmp->slotmask;
    } else {
        op = when_true ? WOP_BR_IF_NZ : WOP_BR_IF_Z;
        ops[0] = enc(C, cond);
        n = 1;
        slotmask = 1;
    }
    if (back)
        op = back_op(op);
    s = emit_begin(C, op);
    for (unsigned i = 0; i < n; i++) {
        if (slotmask & (1u << i))
            emit_slot(C, ops[i]);
        else
            emit_u32(C, ops[i]);
    }
    return s; /* caller emits the rel field and emit_end */
}

/* ------------------------------------------------------------------ */
/* Control instructions                                               */

static int read_blocktype(comp *C, const uint8_t **params, uint32_t *np,
                          const uint8_t **results, uint32_t *nr)
{
    int64_t idx = 0;
    const wasm_functype *ft;

    *params = *results = NULL;
    *np = *nr = 0;
    if (C->p >= C->end)
        return fail(C, "unexpected end of section or function");
    if (*C->p == 0x40) {
        C->p++;
        return 0;
    }
    if (*C->p == TH_WASM_V128)
        return fail(C, "SIMD (v128) is not supported");
    if (valtype_list(*C->p) != NULL) {
        *results = valtype_list(*C->p++);
        *nr = 1;
        return 0;
    }
    if (rd_sleb(C, 33, &idx))
        return -1;
    if (idx < 0)
        return fail(C, "malformed block type");
    if ((uint64_t)idx >= C->m->ntypes)
        return fail(C, "unknown type");
    ft = &C->m->types[idx];
    *params = ft->types;
    *np = ft->nparams;
    *results = ft->types + ft->nparams;
    *nr = ft->nresults;
    return 0;
}

/* block, loop, if */
static int op_block(comp *C, uint8_t kind)
{
    const uint8_t *params, *results;
    uint32_t np, nr;
    vent cond;
    lastinsn cmp;
    bool em, fused = false;
    size_t s = NO_POS, field = NO_POS;

    if (read_blocktype(C, &params, &np, &results, &nr))
        return -1;
    if (kind == K_IF && pop(C, TH_WASM_I32, &cond))
        return -1;
    if (pop_vals(C, params, np))
        return -1;
    em = emitting(C);
    if (em) {
        if (kind == K_IF)
            fused = take_comparison(C, &cond, &cmp);
        materialize_locals(C, UINT32_MAX);
        for (uint32_t i = 0; i < np; i++)
            materialize(C, &C->popped[i]);
        if (kind == K_IF) {
            s = emit_cond_branch(C, &cond, fused ? &cmp : NULL, false, false);
            field = C->len;
            emit_u32(C, 0);
            emit_end(C);
        }
    }
    if (push_ctrl(C, kind, params, np, results, nr))
        return -1;
    repush(C, np);
    C->last.valid = false;
    if (kind == K_LOOP)
        top_ctrl(C)->loop_pos = C->len;
    if (kind == K_IF) {
        top_ctrl(C)->else_field = field;
        top_ctrl(C)->else_insn = s;
    }
    return 0;
}

static int op_else(comp *C)
{
    ctrl *c = top_ctrl(C);
    bool em = emitting(C);
    size_t s;

    if (c->kind != K_IF)
        return fail(C, "else without matching if");
    if (pop_vals(C, c->results, c->nresults))
        return -1;
    if (C->nvals != c->height)
        return fail(C, "type mismatch");
    if (em) {
        for (uint32_t i = 0; i < c->nresults; i++)
            materialize(C, &C->popped[i]);
        s = emit_begin(C, WOP_BR);
        emit_target(C, s, c);
        emit_end(C);
    }
    if (c->else_field != NO_POS)
        patch_rel(C, c->else_field, c->else_insn, C->len);
    c->else_field = NO_POS;
    c->kind = K_ELSE;
    c->unreachable = false;
    push_types(C, c->params, c->nparams);
    C->last.valid = false;
    return 0;
}

/* end; returns 1 when the function's body is complete. */
static int op_end(comp *C)
{
    ctrl *c = top_ctrl(C);
    bool em = emitting(C);

    if (pop_vals(C, c->results, c->nresults))
        return -1;
    if (C->nvals != c->height)
        return fail(C, "type mismatch");
    if (c->kind == K_FUNC) {
        if (em)
            emit_return(C, C->popped, c->nresults);
        C->nctrls--;
        return 1;
    }
    if (em)
        for (uint32_t i = 0; i < c->nresults; i++)
            materialize(C, &C->popped[i]);
    if (c->kind == K_IF) {
        if (c->nparams != c->nresults ||
            (c->nparams > 0 && memcmp(c->params, c->results, c->nparams) != 0))
            return fail(C, "type mismatch");
        if (c->else_field != NO_POS)
            patch_rel(C, c->else_field, c->else_insn, C->len);
    }
    define_end(C, c);
    C->nctrls--;
    push_types(C, c->results, c->nresults);
    C->last.valid = false;
    return 0;
}

static int op_br(comp *C)
{
    uint32_t l;
    ctrl *target;

    if (rd_u32(C, &l) || (target = label(C, l)) == NULL)
        return -1;
    if (pop_vals(C, label_types(target), label_arity(target)))
        return -1;
    if (emitting(C))
        emit_branch(C, target, C->popped, label_arity(target), true);
    set_unreachable(C);
    return 0;
}

static int op_br_if(comp *C)
{
    uint32_t l, n;
    ctrl *target;
    vent cond;
    lastinsn cmp;
    bool fused;
    const vent *vals;
    size_t s;

    if (rd_u32(C, &l) || (target = label(C, l)) == NULL)
        return -1;
    if (pop(C, TH_WASM_I32, &cond))
        return -1;
    n = label_arity(target);
    if (!emitting(C)) {
        /* the spec's pop_vals + push_vals(label types) */
        if (pop_vals(C, label_types(target), n))
            return -1;
        push_types(C, label_types(target), n);
        return 0;
    }
    if (check_top(C, label_types(target), n))
        return -1;
    vals = &C->vals[C->nvals - n];
    fused = take_comparison(C, &cond, &cmp);
    if (!branch_needs_copies(target, vals, n)) {
        s = emit_cond_branch(C, &cond, fused ? &cmp : NULL, true, target->kind == K_LOOP);
        emit_target(C, s, target);
        emit_end(C);
    } else {
        size_t field;
        s = emit_cond_branch(C, &cond, fused ? &cmp : NULL, false, false);
        field = C->len;
        emit_u32(C, 0);
        emit_end(C);
        emit_branch(C, target, vals, n, true);
        patch_rel(C, field, s, C->len);
    }
    C->last.valid = false;
    return 0;
}

/* Room for a br_table stub per label depth (C->nctrls of them). */
static bool grow_stubs(comp *C)
{
    uint32_t ncap = C->nctrls * 2;
    uint32_t *ng = realloc(C->stub_gen, ncap * sizeof *ng);
    size_t *np;

    if (ng == NULL) {
        C->nomem = true;
        return false;
    }
    C->stub_gen = ng;
    np = realloc(C->stub_pos, ncap * sizeof *np);
    if (np == NULL) {
        C->nomem = true;
        return false;
    }
    C->stub_pos = np;
    memset(ng + C->capstub, 0, (ncap - C->capstub) * sizeof *ng);
    C->capstub = ncap;
    return true;
}

static int op_br_table(comp *C)
{
    uint32_t n, arity, def;
    ctrl *dt;
    vent idx;
    size_t s, fields;

    if (rd_u32(C, &n))
        return -1;
    if (n > TH_WASM_MAX_BR_TABLE)
        return fail(C, "br_table has too many targets");
    if (!grow32((void **)&C->brt, &C->capbrt, (size_t)n + 1, sizeof *C->brt)) {
        C->nomem = true;
        return fail(C, "out of memory");
    }
    for (uint32_t i = 0; i <= n; i++) {
        if (rd_u32(C, &C->brt[i]))
            return -1;
        if (label(C, C->brt[i]) == NULL)
            return -1;
    }
    if (pop(C, TH_WASM_I32, &idx))
        return -1;
    def = C->brt[n];
    dt = label(C, def);
    arity = label_arity(dt);
    for (uint32_t i = 0; i < n; i++) {
        ctrl *t = label(C, C->brt[i]);
        if (label_arity(t) != arity)
            return fail(C, "type mismatch");
        if (check_top(C, label_types(t), arity))
            return -1;
    }
    if (pop_vals(C, label_types(dt), arity))
        return -1;
    if (emitting(C)) {
        uint32_t ops[2] = { enc(C, &idx), n };
        s = emit_begin(C, WOP_BR_TABLE);
        emit_slot(C, ops[0]);
        emit_u32(C, ops[1]);
        fields = C->len;
        for (uint32_t i = 0; i <= n; i++)
            emit_u32(C, 0);
        emit_end(C);
        if (C->capstub < C->nctrls && !grow_stubs(C))
            return fail(C, "out of memory");
        C->gen++;
        for (uint32_t i = 0; i <= n && !C->nomem; i++) {
            uint32_t depth = C->brt[i];
            ctrl *t = label(C, depth);
            size_t field = fields + 4 * (size_t)i;
            if (branch_needs_copies(t, C->popped, arity)) {
                if (C->stub_gen[depth] != C->gen) {
                    C->stub_gen[depth] = C->gen;
                    C->stub_pos[depth] = C->len;
                    /* fuel was spent by BR_TABLE itself */
                    emit_branch(C, t, C->popped, arity, false);
                }
                patch_rel(C, field, s, C->stub_pos[depth]);
            } else if (t->kind == K_LOOP) {
                patch_rel(C, field, s, t->loop_pos);
            } else {
                add_fixup(C, t, field, s);
            }
        }
    }
    set_unreachable(C);
    return 0;
}

static int op_return(comp *C)
{
    const ctrl *fn = &C->ctrls[0];
    if (pop_vals(C, fn->results, fn->nresults))
        return -1;
    if (emitting(C))
        emit_return(C, C->popped, fn->nresults);
    set_unreachable(C);
    return 0;
}

/* call / call_indirect: arguments into consecutive own slots. */
static int emit_call(comp *C, const wasm_functype *ft, int op, const uint32_t *imm,
                     unsigned nimm, const vent *index)
{
    uint32_t argbase;

    if (pop_vals(C, ft->types, ft->nparams))
        return -1;
    if (emitting(C)) {
        uint32_t ops[4];
        unsigned n = 0;
        size_t s;
        for (uint32_t i = 0; i < ft->nparams; i++)
            materialize(C, &C->popped[i]);
        argbase = ft->nparams ? C->popped[0].t : t_at(C, C->nvals);
        if (op == WOP_CALL) {
            s = emit_begin(C, WOP_CALL);
            emit_ptr(C, C->m->code[imm[0] - C->m->nfunc_imports]);
            emit_slot(C, TAG_TEMP | argbase);
            emit_end(C);
            (void)s;
        } else if (op == WOP_CALL_IMPORT) {
            ops[n++] = imm[0];
            ops[n++] = TAG_TEMP | argbase;
            emit_ops(C, op, ops, n, 2);
        } else {
            ops[n++] = imm[0]; /* type canon */
            ops[n++] = imm[1]; /* table */
            ops[n++] = enc(C, index);
            ops[n++] = TAG_TEMP | argbase;
            emit_ops(C, op, ops, n, 4 | 8);
        }
        (void)nimm;
    }
    push_types(C, ft->types + ft->nparams, ft->nresults);
    return 0;
}

static int op_call(comp *C)
{
    uint32_t f;
    const th_wasm_module *m = C->m;

    if (rd_u32(C, &f))
        return -1;
    if (f >= m->nfuncs)
        return fail(C, "unknown function %u", f);
    return emit_call(C, &m->types[m->func_type[f]],
                     f < m->nfunc_imports ? WOP_CALL_IMPORT : WOP_CALL, &f, 1, NULL);
}

static int op_call_indirect(comp *C)
{
    uint32_t ty, tab, imm[2];
    const th_wasm_module *m = C->m;
    vent index;

    if (rd_u32(C, &ty) || rd_u32(C, &tab))
        return -1;
    if (tab >= m->ntables)
        return fail(C, "unknown table %u", tab);
    if (m->tables[tab].reftype != TH_WASM_FUNCREF)
        return fail(C, "type mismatch");
    if (ty >= m->ntypes)
        return fail(C, "unknown type");
    if (pop(C, TH_WASM_I32, &index))
        return -1;
    imm[0] = m->types[ty].canon;
    imm[1] = tab;
    return emit_call(C, &m->types[ty], WOP_CALL_INDIRECT, imm, 2, &index);
}

/* ------------------------------------------------------------------ */
/* Variables, parametric and reference instructions                   */

/* local.set / local.tee of `x` with the popped value *e. */
static void set_local(comp *C, uint32_t x, vent *e, bool tee)
{
    uint32_t slot = C->lslot[x];

    if (e->loc == LOC_LOCAL && e->idx == x)
        return;
    materialize_locals(C, x);
    if (C->last.valid && e->loc == LOC_OWN && e->t == C->last.dst_t) {
        /* retarget the producer (it reads its operands before writing) */
        if (!C->nomem)
            memcpy(C->code + C->last.dst_pos, &slot, 4);
        C->last.valid = false;
        if (tee) {
            e->loc = LOC_LOCAL;
            e->idx = x;
        }
        return;
    }
    emit_copy(C, slot, enc(C, e));
}

static int op_local(comp *C, uint8_t op)
{
    uint32_t x;
    vent e, *n;

    if (rd_u32(C, &x))
        return -1;
    if (x >= C->nlocals)
        return fail(C, "unknown local %u", x);
    switch (op) {
    case 0x20:
        n = push(C, C->ltypes[x]);
        if (n != NULL) {
            n->loc = LOC_LOCAL;
            n->idx = x;
        }
        return 0;
    case 0x21:
        if (pop(C, C->ltypes[x], &e))
            return -1;
        if (emitting(C))
            set_local(C, x, &e, false);
        return 0;
    default:
        if (pop(C, C->ltypes[x], &e))
            return -1;
        if (emitting(C))
            set_local(C, x, &e, true);
        n = push(C, C->ltypes[x]);
        if (n != NULL) {
            n->loc = e.loc;
            n->idx = e.idx;
            n->cval = e.cval;
        }
        return 0;
    }
}

static int op_global(comp *C, uint8_t op)
{
    uint32_t x;
    const wasm_globaltype *g;
    vent e, *d;

    if (rd_u32(C, &x))
        return -1;
    if (x >= C->m->nglobals)
        return fail(C, "unknown global %u", x);
    g = &C->m->globals[x];
    if (op == 0x23) {
        d = push(C, g->valtype);
        if (d != NULL && emitting(C)) {
            uint32_t ops[2] = { TAG_TEMP | d->t, x };
            size_t nrel = C->nrelocs;
            size_t s = emit_ops(C, WOP_GLOBAL_GET, ops, 2, 1);
            produced(C, s, nrel, d->t);
        }
        return 0;
    }
    if (!g->mut)
        return fail(C, "global is immutable");
    if (pop(C, g->valtype, &e))
        return -1;
    if (emitting(C)) {
        uint32_t ops[2] = { x, enc(C, &e) };
        bool narrow = g->valtype == TH_WASM_I32 || g->valtype == TH_WASM_F32;
        emit_ops(C, narrow ? WOP_GLOBAL_SET32 : WOP_GLOBAL_SET, ops, 2, 2);
    }
    return 0;
}

/* Emit a value-producing instruction: result `type` pushed, then op with
 * [dst, ops...]; slotmask describes ops (bit i = ops[i] is a slot). */
static vent *emit_result(comp *C, int op, uint8_t type, const uint32_t *ops,
                         unsigned n, unsigned slotmask)
{
    uint32_t all[6];
    vent *d = push(C, type);
    size_t s, nrel;

    if (d == NULL || !emitting(C))
        return d;
    all[0] = TAG_TEMP | d->t;
    memcpy(all + 1, ops, n * sizeof *ops);
    nrel = C->nrelocs;
    s = emit_ops(C, op, all, n + 1, 1u | (slotmask << 1));
    produced(C, s, nrel, d->t);
    return d;
}

static int op_select(comp *C, bool typed)
{
    vent c, a, b;
    uint8_t t = VT_UNKNOWN;

    if (typed) {
        uint32_t n;
        uint8_t vt = 0;
        if (rd_u32(C, &n))
            return -1;
        if (n != 1)
            return fail(C, "invalid result arity");
        if (rd_byte(C, &vt))
            return -1;
        if (vt == TH_WASM_V128)
            return fail(C, "SIMD (v128) is not supported");
        if (valtype_list(vt) == NULL)
            return fail(C, "malformed value type");
        t = vt;
    }
    if (pop(C, TH_WASM_I32, &c) || pop(C, t, &b) || pop(C, t, &a))
        return -1;
    if (!typed) {
        if (!is_num(a.type) || !is_num(b.type))
            return fail(C, "type mismatch");
        if (a.type != b.type && a.type != VT_UNKNOWN && b.type != VT_UNKNOWN)
            return fail(C, "type mismatch");
        t = a.type == VT_UNKNOWN ? b.type : a.type;
    }
    if (emitting(C)) {
        uint32_t ops[3] = { enc(C, &a), enc(C, &b), enc(C, &c) };
        emit_result(C, WOP_SELECT, t, ops, 3, 7);
    } else {
        push(C, t);
    }
    return 0;
}

static int op_ref(comp *C, uint8_t op)
{
    vent a, *d;
    uint8_t t = 0;
    uint32_t x = 0;

    switch (op) {
    case 0xd0: /* ref.null t */
        if (rd_byte(C, &t))
            return -1;
        if (t != TH_WASM_FUNCREF && t != TH_WASM_EXTERNREF)
            return fail(C, "malformed reference type");
        d = push(C, t);
        if (d != NULL) {
            d->loc = LOC_CONST;
            d->cval = 0;
        }
        return 0;
    case 0xd1: /* ref.is_null */
        if (pop(C, VT_UNKNOWN, &a))
            return -1;
        if (!is_ref(a.type))
            return fail(C, "type mismatch");
        if (emitting(C)) {
            uint32_t ops[1] = { enc(C, &a) };
            emit_result(C, WOP_REF_IS_NULL, TH_WASM_I32, ops, 1, 1);
        } else {
            push(C, TH_WASM_I32);
        }
        return 0;
    default: /* ref.func x */
        if (rd_u32(C, &x))
            return -1;
        if (x >= C->m->nfuncs)
            return fail(C, "unknown function %u", x);
        if (C->m->func_declared == NULL || !C->m->func_declared[x])
            return fail(C, "undeclared function reference");
        emit_result(C, WOP_REF_FUNC, TH_WASM_FUNCREF, &x, 1, 0);
        return 0;
    }
}

/* ------------------------------------------------------------------ */
/* Memory and table instructions                                      */

static int need_memory(comp *C)
{
    if (C->m->nmems == 0)
        return fail(C, "unknown memory 0");
    return 0;
}

static int need_table(comp *C, uint32_t x)
{
    if (x >= C->m->ntables)
        return fail(C, "unknown table %u", x);
    return 0;
}

static int need_datacount(comp *C, uint32_t x)
{
    if (!C->m->has_datacount) {
        if (x >= C->m->ndatas)
            return fail(C, "unknown data segment %u", x);
        return fail(C, "data count section required");
    }
    if (x >= C->m->datacount)
        return fail(C, "unknown data segment %u", x);
    return 0;
}

/* Loads 0x28-0x35 and stores 0x36-0x3e. */
static int op_memory(comp *C, uint8_t op)
{
    /* natural alignment (log2), value type, internal op */
    static const struct { uint8_t align, type; uint8_t store; uint16_t wop; } mo[] = {
        { 2, TH_WASM_I32, 0, WOP_LOAD32 },     { 3, TH_WASM_I64, 0, WOP_LOAD64 },
        { 2, TH_WASM_F32, 0, WOP_LOAD32 },     { 3, TH_WASM_F64, 0, WOP_LOAD64 },
        { 0, TH_WASM_I32, 0, WOP_LOAD8_S32 },  { 0, TH_WASM_I32, 0, WOP_LOAD8_U32 },
        { 1, TH_WASM_I32, 0, WOP_LOAD16_S32 }, { 1, TH_WASM_I32, 0, WOP_LOAD16_U32 },
        { 0, TH_WASM_I64, 0, WOP_LOAD8_S64 },  { 0, TH_WASM_I64, 0, WOP_LOAD8_U32 },
        { 1, TH_WASM_I64, 0, WOP_LOAD16_S64 }, { 1, TH_WASM_I64, 0, WOP_LOAD16_U32 },
        { 2, TH_WASM_I64, 0, WOP_LOAD32_S64 }, { 2, TH_WASM_I64, 0, WOP_LOAD32 },
        { 2, TH_WASM_I32, 1, WOP_STORE32 },    { 3, TH_WASM_I64, 1, WOP_STORE64 },
        { 2, TH_WASM_F32, 1, WOP_STORE32 },    { 3, TH_WASM_F64, 1, WOP_STORE64 },
        { 0, TH_WASM_I32, 1, WOP_STORE8 },     { 1, TH_WASM_I32, 1, WOP_STORE16 },
        { 0, TH_WASM_I64, 1, WOP_STORE8 },     { 1, TH_WASM_I64, 1, WOP_STORE16 },
        { 2, TH_WASM_I64, 1, WOP_STORE32 },
    };
    uint32_t align, offset;
    vent addr, val;
    unsigned k = op - 0x28u;

    if (rd_u32(C, &align) || rd_u32(C, &offset))
        return -1;
    if (align >= 32)
        return fail(C, "malformed memop flags");
    if (need_memory(C))
        return -1;
    if (align > mo[k].align)
        return fail(C, "alignment must not be larger than natural");
    if (mo[k].store) {
        if (pop(C, mo[k].type, &val) || pop(C, TH_WASM_I32, &addr))
            return -1;
        if (emitting(C)) {
            uint32_t ops[3] = { enc(C, &addr), enc(C, &val), offset };
            emit_ops(C, mo[k].wop, ops, 3, 3);
        }
        return 0;
    }
    if (pop(C, TH_WASM_I32, &addr))
        return -1;
    if (emitting(C)) {
        uint32_t ops[2] = { enc(C, &addr), offset };
        emit_result(C, mo[k].wop, mo[k].type, ops, 2, 1);
    } else {
        push(C, mo[k].type);
    }
    return 0;
}

/* Pop n i32 operands; their encodings go to ops (bottom first). */
static int pop_i32s(comp *C, unsigned n, uint32_t *ops)
{
    static const uint8_t i32s[3] = { TH_WASM_I32, TH_WASM_I32, TH_WASM_I32 };
    if (pop_vals(C, i32s, n))
        return -1;
    if (emitting(C))
        for (unsigned i = 0; i < n; i++)
            ops[i] = enc(C, &C->popped[i]);
    return 0;
}

static int op_table(comp *C, uint8_t op)
{
    uint32_t x, ops[4];
    vent i, v;
    uint8_t rt;

    if (rd_u32(C, &x) || need_table(C, x))
        return -1;
    rt = C->m->tables[x].reftype;
    if (op == 0x25) { /* table.get */
        if (pop(C, TH_WASM_I32, &i))
            return -1;
        if (emitting(C)) {
            ops[0] = x;
            ops[1] = enc(C, &i);
            emit_result(C, WOP_TABLE_GET, rt, ops, 2, 2);
        } else {
            push(C, rt);
        }
        return 0;
    }
    /* table.set */
    if (pop(C, rt, &v) || pop(C, TH_WASM_I32, &i))
        return -1;
    if (emitting(C)) {
        ops[0] = x;
        ops[1] = enc(C, &i);
        ops[2] = enc(C, &v);
        emit_ops(C, WOP_TABLE_SET, ops, 3, 6);
    }
    return 0;
}

/* 0xFC prefix: saturating truncations, bulk memory, table operations. */
static int op_prefixed(comp *C)
{
    static const struct { uint16_t wop; uint8_t in, out; } sat[8] = {
        { WOP_I32_TRUNC_SAT_F32_S, TH_WASM_F32, TH_WASM_I32 },
        { WOP_I32_TRUNC_SAT_F32_U, TH_WASM_F32, TH_WASM_I32 },
        { WOP_I32_TRUNC_SAT_F64_S, TH_WASM_F64, TH_WASM_I32 },
        { WOP_I32_TRUNC_SAT_F64_U, TH_WASM_F64, TH_WASM_I32 },
        { WOP_I64_TRUNC_SAT_F32_S, TH_WASM_F32, TH_WASM_I64 },
        { WOP_I64_TRUNC_SAT_F32_U, TH_WASM_F32, TH_WASM_I64 },
        { WOP_I64_TRUNC_SAT_F64_S, TH_WASM_F64, TH_WASM_I64 },
        { WOP_I64_TRUNC_SAT_F64_U, TH_WASM_F64, TH_WASM_I64 },
    };
    const th_wasm_module *m = C->m;
    uint32_t sub, x, y, ops[6];
    vent a, v;
    bool em;

    if (rd_u32(C, &sub))
        return -1;
    if (sub < 8) {
        if (pop(C, sat[sub].in, &a))
            return -1;
        ops[0] = emitting(C) ? enc(C, &a) : 0;
        emit_result(C, sat[sub].wop, sat[sub].out, ops, 1, 1);
        return 0;
    }
    switch (sub) {
    case 8: /* memory.init data 0 */
        if (rd_u32(C, &x) || rd_zero(C) || need_memory(C) || need_datacount(C, x))
            return -1;
        if (pop_i32s(C, 3, ops + 1))
            return -1;
        ops[0] = x;
        if (emitting(C))
            emit_ops(C, WOP_MEMORY_INIT, ops, 4, 14);
        return 0;
    case 9: /* data.drop */
        if (rd_u32(C, &x) || need_datacount(C, x))
            return -1;
        if (emitting(C))
            emit_ops(C, WOP_DATA_DROP, &x, 1, 0);
        return 0;
    case 10: /* memory.copy 0 0 */
        if (rd_zero(C) || rd_zero(C) || need_memory(C) || pop_i32s(C, 3, ops))
            return -1;
        if (emitting(C))
            emit_ops(C, WOP_MEMORY_COPY, ops, 3, 7);
        return 0;
    case 11: /* memory.fill 0 */
        if (rd_zero(C) || need_memory(C) || pop_i32s(C, 3, ops))
            return -1;
        if (emitting(C))
            emit_ops(C, WOP_MEMORY_FILL, ops, 3, 7);
        return 0;
    case 12: /* table.init elem table */
        if (rd_u32(C, &y) || rd_u32(C, &x) || need_table(C, x))
            return -1;
        if (y >= m->nelems)
            return fail(C, "unknown elem segment %u", y);
        if (m->elems[y].reftype != m->tables[x].reftype)
            return fail(C, "type mismatch");
        if (pop_i32s(C, 3, ops + 2))
            return -1;
        ops[0] = x;
        ops[1] = y;
        if (emitting(C))
            emit_ops(C, WOP_TABLE_INIT, ops, 5, 28);
        return 0;
    case 13: /* elem.drop */
        if (rd_u32(C, &x))
            return -1;
        if (x >= m->nelems)
            return fail(C, "unknown elem segment %u", x);
        if (emitting(C))
            emit_ops(C, WOP_ELEM_DROP, &x, 1, 0);
        return 0;
    case 14: /* table.copy dst src */
        if (rd_u32(C, &x) || rd_u32(C, &y) || need_table(C, x) || need_table(C, y))
            return -1;
        if (m->tables[x].reftype != m->tables[y].reftype)
            return fail(C, "type mismatch");
        if (pop_i32s(C, 3, ops + 2))
            return -1;
        ops[0] = x;
        ops[1] = y;
        if (emitting(C))
            emit_ops(C, WOP_TABLE_COPY, ops, 5, 28);
        return 0;
    case 15: /* table.grow: init n -> old size */
        if (rd_u32(C, &x) || need_table(C, x))
            return -1;
        if (pop(C, TH_WASM_I32, &a) || pop(C, m->tables[x].reftype, &v))
            return -1;
        em = emitting(C);
        ops[0] = x;
        ops[1] = em ? enc(C, &v) : 0;
        ops[2] = em ? enc(C, &a) : 0;
        emit_result(C, WOP_TABLE_GROW, TH_WASM_I32, ops, 3, 6);
        return 0;
    case 16: /* table.size */
        if (rd_u32(C, &x) || need_table(C, x))
            return -1;
        emit_result(C, WOP_TABLE_SIZE, TH_WASM_I32, &x, 1, 0);
        return 0;
    case 17: { /* table.fill: i v n */
        vent i, n;
        if (rd_u32(C, &x) || need_table(C, x))
            return -1;
        if (pop(C, TH_WASM_I32, &n) || pop(C, m->tables[x].reftype, &v) ||
            pop(C, TH_WASM_I32, &i))
            return -1;
        if (emitting(C)) {
            ops[0] = x;
            ops[1] = enc(C, &i);
            ops[2] = enc(C, &v);
            ops[3] = enc(C, &n);
            emit_ops(C, WOP_TABLE_FILL, ops, 4, 14);
        }
        return 0;
    }
    default:
        return fail(C, "illegal opcode 0xfc %u", sub);
    }
}

static int op_memsize(comp *C, uint8_t op)
{
    vent a;
    uint32_t ops[1];

    if (rd_zero(C) || need_memory(C))
        return -1;
    if (op == 0x3f) {
        emit_result(C, WOP_MEMORY_SIZE, TH_WASM_I32, ops, 0, 0);
        return 0;
    }
    if (pop(C, TH_WASM_I32, &a))
        return -1;
    ops[0] = emitting(C) ? enc(C, &a) : 0;
    emit_result(C, WOP_MEMORY_GROW, TH_WASM_I32, ops, 1, 1);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Constants and numeric instructions                                 */

static int op_const(comp *C, uint8_t op)
{
    int64_t v = 0;
    uint8_t type;
    uint64_t bits = 0;
    vent *e;

    switch (op) {
    case 0x41:
        if (rd_sleb(C, 32, &v))
            return -1;
        type = TH_WASM_I32;
        bits = (uint32_t)v;
        break;
    case 0x42:
        if (rd_sleb(C, 64, &v))
            return -1;
        type = TH_WASM_I64;
        bits = (uint64_t)v;
        break;
    default: {
        unsigned n = op == 0x43 ? 4 : 8;
        if ((size_t)(C->end - C->p) < n)
            return fail(C, "unexpected end of section or function");
        for (unsigned i = 0; i < n; i++)
            bits |= (uint64_t)C->p[i] << (8 * i);
        C->p += n;
        type = op == 0x43 ? TH_WASM_F32 : TH_WASM_F64;
        break;
    }
    }
    e = push(C, type);
    if (e != NULL) {
        e->loc = LOC_CONST;
        e->cval = bits;
    }
    return 0;
}

enum { NK_OP, NK_RETYPE, NK_CMP32, NK_CMP64, NK_EQZ32, NK_EQZ64 };

typedef struct numop {
    uint16_t wop;
    uint8_t in1, in2, out; /* in2 = 0 for unary operators */
    uint8_t kind;
} numop;

#define I_ TH_WASM_I32
#define L_ TH_WASM_I64
#define F_ TH_WASM_F32
#define D_ TH_WASM_F64
#define UN(op, w, a, r) [(op) - 0x45] = { WOP_##w, a, 0, r, NK_OP }
#define BI(op, w, a, r) [(op) - 0x45] = { WOP_##w, a, a, r, NK_OP }
#define CM(op, w, a, k) [(op) - 0x45] = { WOP_##w, a, a, I_, k }
#define RT(op, a, r) [(op) - 0x45] = { 0, a, 0, r, NK_RETYPE }

/* Opcodes 0x45..0xc4. */
static const numop numops[0xc5 - 0x45] = {
    [0] = { WOP_I32_EQZ, I_, 0, I_, NK_EQZ32 },
    CM(0x46, I32_EQ, I_, NK_CMP32), CM(0x47, I32_NE, I_, NK_CMP32),
    CM(0x48, I32_LT_S, I_, NK_CMP32), CM(0x49, I32_LT_U, I_, NK_CMP32),
    CM(0x4a, I32_GT_S, I_, NK_CMP32), CM(0x4b, I32_GT_U, I_, NK_CMP32),
    CM(0x4c, I32_LE_S, I_, NK_CMP32), CM(0x4d, I32_LE_U, I_, NK_CMP32),
    CM(0x4e, I32_GE_S, I_, NK_CMP32), CM(0x4f, I32_GE_U, I_, NK_CMP32),
    [0x50 - 0x45] = { WOP_I64_EQZ, L_, 0, I_, NK_EQZ64 },
    CM(0x51, I64_EQ, L_, NK_CMP64), CM(0x52, I64_NE, L_, NK_CMP64),
    CM(0x53, I64_LT_S, L_, NK_CMP64), CM(0x54, I64_LT_U, L_, NK_CMP64),
    CM(0x55, I64_GT_S, L_, NK_CMP64), CM(0x56, I64_GT_U, L_, NK_CMP64),
    CM(0x57, I64_LE_S, L_, NK_CMP64), CM(0x58, I64_LE_U, L_, NK_CMP64),
    CM(0x59, I64_GE_S, L_, NK_CMP64), CM(0x5a, I64_GE_U, L_, NK_CMP64),
    CM(0x5b, F32_EQ, F_, NK_OP), CM(0x5c, F32_NE, F_, NK_OP), CM(0x5d, F32_LT, F_, NK_OP),
    CM(0x5e, F32_GT, F_, NK_OP), CM(0x5f, F32_LE, F_, NK_OP), CM(0x60, F32_GE, F_, NK_OP),
    CM(0x61, F64_EQ, D_, NK_OP), CM(0x62, F64_NE, D_, NK_OP), CM(0x63, F64_LT, D_, NK_OP),
    CM(0x64, F64_GT, D_, NK_OP), CM(0x65, F64_LE, D_, NK_OP), CM(0x66, F64_GE, D_, NK_OP),
    UN(0x67, I32_CLZ, I_, I_), UN(0x68, I32_CTZ, I_, I_), UN(0x69, I32_POPCNT, I_, I_),
    BI(0x6a, I32_ADD, I_, I_), BI(0x6b, I32_SUB, I_, I_), BI(0x6c, I32_MUL, I_, I_),
    BI(0x6d, I32_DIV_S, I_, I_), BI(0x6e, I32_DIV_U, I_, I_), BI(0x6f, I32_REM_S, I_, I_),
    BI(0x70, I32_REM_U, I_, I_), BI(0x71, I32_AND, I_, I_), BI(0x72, I32_OR, I_, I_),
    BI(0x73, I32_XOR, I_, I_), BI(0x74, I32_SHL, I_, I_), BI(0x75, I32_SHR_S, I_, I_),
    BI(0x76, I32_SHR_U, I_, I_), BI(0x77, I32_ROTL, I_, I_), BI(0x78, I32_ROTR, I_, I_),
    UN(0x79, I64_CLZ, L_, L_), UN(0x7a, I64_CTZ, L_, L_), UN(0x7b, I64_POPCNT, L_, L_),
    BI(0x7c, I64_ADD, L_, L_), BI(0x7d, I64_SUB, L_, L_), BI(0x7e, I64_MUL, L_, L_),
    BI(0x7f, I64_DIV_S, L_, L_), BI(0x80, I64_DIV_U, L_, L_), BI(0x81, I64_REM_S, L_, L_),
    BI(0x82, I64_REM_U, L_, L_), BI(0x83, I64_AND, L_, L_), BI(0x84, I64_OR, L_, L_),
    BI(0x85, I64_XOR, L_, L_), BI(0x86, I64_SHL, L_, L_), BI(0x87, I64_SHR_S, L_, L_),
    BI(0x88, I64_SHR_U, L_, L_), BI(0x89, I64_ROTL, L_, L_), BI(0x8a, I64_ROTR, L_, L_),
    UN(0x8b, F32_ABS, F_, F_), UN(0x8c, F32_NEG, F_, F_), UN(0x8d, F32_CEIL, F_, F_),
    UN(0x8e, F32_FLOOR, F_, F_), UN(0x8f, F32_TRUNC, F_, F_), UN(0x90, F32_NEAREST, F_, F_),
    UN(0x91, F32_SQRT, F_, F_), BI(0x92, F32_ADD, F_, F_), BI(0x93, F32_SUB, F_, F_),
    BI(0x94, F32_MUL, F_, F_), BI(0x95, F32_DIV, F_, F_), BI(0x96, F32_MIN, F_, F_),
    BI(0x97, F32_MAX, F_, F_), BI(0x98, F32_COPYSIGN, F_, F_),
    UN(0x99, F64_ABS, D_, D_), UN(0x9a, F64_NEG, D_, D_), UN(0x9b, F64_CEIL, D_, D_),
    UN(0x9c, F64_FLOOR, D_, D_), UN(0x9d, F64_TRUNC, D_, D_), UN(0x9e, F64_NEAREST, D_, D_),
    UN(0x9f, F64_SQRT, D_, D_), BI(0xa0, F64_ADD, D_, D_), BI(0xa1, F64_SUB, D_, D_),
    BI(0xa2, F64_MUL, D_, D_), BI(0xa3, F64_DIV, D_, D_), BI(0xa4, F64_MIN, D_, D_),
    BI(0xa5, F64_MAX, D_, D_), BI(0xa6, F64_COPYSIGN, D_, D_),
    RT(0xa7, L_, I_), /* i32.wrap_i64: the low half already is the result */
    UN(0xa8, I32_TRUNC_F32_S, F_, I_), UN(0xa9, I32_TRUNC_F32_U, F_, I_),
    UN(0xaa, I32_TRUNC_F64_S, D_, I_), UN(0xab, I32_TRUNC_F64_U, D_, I_),
    UN(0xac, I64_EXTEND_I32_S, I_, L_), UN(0xad, I64_EXTEND_I32_U, I_, L_),
    UN(0xae, I64_TRUNC_F32_S, F_, L_), UN(0xaf, I64_TRUNC_F32_U, F_, L_),
    UN(0xb0, I64_TRUNC_F64_S, D_, L_), UN(0xb1, I64_TRUNC_F64_U, D_, L_),
    UN(0xb2, F32_CONVERT_I32_S, I_, F_), UN(0xb3, F32_CONVERT_I32_U, I_, F_),
    UN(0xb4, F32_CONVERT_I64_S, L_, F_), UN(0xb5, F32_CONVERT_I64_U, L_, F_),
    UN(0xb6, F32_DEMOTE_F64, D_, F_),
    UN(0xb7, F64_CONVERT_I32_S, I_, D_), UN(0xb8, F64_CONVERT_I32_U, I_, D_),
    UN(0xb9, F64_CONVERT_I64_S, L_, D_), UN(0xba, F64_CONVERT_I64_U, L_, D_),
    UN(0xbb, F64_PROMOTE_F32, F_, D_),
    RT(0xbc, F_, I_), RT(0xbd, D_, L_), RT(0xbe, I_, F_), RT(0xbf, L_, D_),
    UN(0xc0, I32_EXTEND8_S, I_, I_), UN(0xc1, I32_EXTEND16_S, I_, I_),
    UN(0xc2, I64_EXTEND8_S, L_, L_), UN(0xc3, I64_EXTEND16_S, L_, L_),
    UN(0xc4, I64_EXTEND32_S, L_, L_),
};

/* Branch-if-not for each i32/i64 comparison (eq ne lt_s lt_u gt_s gt_u
 * le_s le_u ge_s ge_u): the index of its negation. */
static const uint8_t cmp_negation[10] = { 1, 0, 8, 9, 6, 7, 4, 5, 2, 3 };

/* The form of binary operator `wop` taking an immediate right operand,
 * or -1.  *comm: a constant left operand may be swapped to the right;
 * *neg: the immediate is negated (subtraction as addition). */
static int kform(int wop, bool *comm, bool *neg)
{
    *comm = *neg = false;
    if (wop >= WOP_I32_EQ && wop <= WOP_I32_GE_U)
        return wop - WOP_I32_EQ + WOP_I32_EQ_K;
    switch (wop) {
    case WOP_I32_SUB: *neg = true; return WOP_I32_ADD_K;
    case WOP_I64_SUB: *neg = true; return WOP_I64_ADD_K;
    case WOP_I32_ADD: *comm = true; return WOP_I32_ADD_K;
    case WOP_I32_MUL: *comm = true; return WOP_I32_MUL_K;
    case WOP_I32_AND: *comm = true; return WOP_I32_AND_K;
    case WOP_I32_OR: *comm = true; return WOP_I32_OR_K;
    case WOP_I32_XOR: *comm = true; return WOP_I32_XOR_K;
    case WOP_I32_SHL: return WOP_I32_SHL_K;
    case WOP_I32_SHR_S: return WOP_I32_SHR_S_K;
    case WOP_I32_SHR_U: return WOP_I32_SHR_U_K;
    case WOP_I32_ROTL: return WOP_I32_ROTL_K;
    case WOP_I32_ROTR: return WOP_I32_ROTR_K;
    case WOP_I64_ADD: *comm = true; return WOP_I64_ADD_K;
    case WOP_I64_MUL: *comm = true; return WOP_I64_MUL_K;
    case WOP_I64_AND: *comm = true; return WOP_I64_AND_K;
    case WOP_I64_OR: *comm = true; return WOP_I64_OR_K;
    case WOP_I64_XOR: *comm = true; return WOP_I64_XOR_K;
    case WOP_I64_SHL: return WOP_I64_SHL_K;
    case WOP_I64_SHR_S: return WOP_I64_SHR_S_K;
    case WOP_I64_SHR_U: return WOP_I64_SHR_U_K;
    case WOP_I64_ROTL: return WOP_I64_ROTL_K;
    case WOP_I64_ROTR: return WOP_I64_ROTR_K;
    default: return -1;
    }
}

/* The i32 comparison with its operands swapped (lt_s <-> gt_s, ...). */
static const uint8_t cmp_mirror[10] = { 0, 1, 4, 5, 2, 3, 8, 9, 6, 7 };

/* Try the immediate form of binary `n` on a and b: fills ops[0] (the slot
 * operand) and ops[1] (the immediate) and returns the op, or -1. */
static int try_kform(comp *C, const numop *n, const vent *a, const vent *b,
                     uint32_t *ops)
{
    bool comm, neg, is64 = n->in1 == TH_WASM_I64;
    int kop = kform(n->wop, &comm, &neg);
    const vent *cst, *var;
    int64_t v;

    if (kop < 0)
        return -1;
    if (b->loc == LOC_CONST) {
        cst = b;
        var = a;
    } else if (a->loc == LOC_CONST && (comm || n->kind == NK_CMP32)) {
        cst = a;
        var = b;
        if (n->kind == NK_CMP32)
            kop = WOP_I32_EQ_K + cmp_mirror[n->wop - WOP_I32_EQ];
    } else {
        return -1;
    }
    if (is64) {
        v = (int64_t)cst->cval;
        if (neg) {
            if (v == INT64_MIN)
                return -1;
            v = -v;
        }
        if (v < INT32_MIN || v > INT32_MAX)
            return -1;
    } else {
        v = (int32_t)(uint32_t)cst->cval;
        if (neg)
            v = -v; /* 2^31 wraps to INT32_MIN: the same addition mod 2^32 */
    }
    ops[0] = enc(C, var);
    ops[1] = (uint32_t)v;
    return kop;
}

static int op_numeric(comp *C, uint8_t op)
{
    const numop *n = &numops[op - 0x45];
    vent a, b, *d;
    uint32_t ops[2];
    unsigned nops = n->in2 ? 2 : 1, slotmask = nops == 2 ? 3 : 1;
    int wop = n->wop, kop = -1;

    if (n->in2 && pop(C, n->in2, &b))
        return -1;
    if (pop(C, n->in1, &a))
        return -1;
    if (n->kind == NK_RETYPE) {
        /* same bits, new type: the operand stays where it is */
        d = push(C, n->out);
        if (d != NULL) {
            d->loc = a.loc;
            d->idx = a.idx;
            d->cval = a.cval;
        }
        return 0;
    }
    if (!emitting(C)) {
        push(C, n->out);
        return 0;
    }
    if (nops == 2)
        kop = try_kform(C, n, &a, &b, ops);
    if (kop >= 0) {
        wop = kop;
        slotmask = 1;
    } else {
        ops[0] = enc(C, &a);
        if (nops == 2)
            ops[1] = enc(C, &b);
    }
    d = emit_result(C, wop, n->out, ops, nops, slotmask);
    if (d == NULL || !C->last.valid)
        return 0;
    C->last.a = ops[0];
    C->last.b = nops == 2 ? ops[1] : 0;
    C->last.nops = (uint8_t)nops;
    C->last.slotmask = (uint8_t)slotmask;
    switch (n->kind) {
    case NK_EQZ32:
        C->last.br_true = WOP_BR_IF_Z;
        C->last.br_false = WOP_BR_IF_NZ;
        break;
    case NK_EQZ64:
        C->last.br_true = WOP_BR_IF_I64_Z;
        C->last.br_false = WOP_BR_IF_I64_NZ;
        break;
    case NK_CMP32:
    case NK_CMP64: {
        int base, k;
        if (kop >= 0) {
            base = WOP_BR_IF_I32_EQ_K;
            k = kop - WOP_I32_EQ_K;
        } else {
            base = n->kind == NK_CMP32 ? WOP_BR_IF_I32_EQ : WOP_BR_IF_I64_EQ;
            k = n->wop - (n->kind == NK_CMP32 ? WOP_I32_EQ : WOP_I64_EQ);
        }
        C->last.br_true = base + k;
        C->last.br_false = base + cmp_negation[k];
        break;
    }
    default:
        break;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Functions                                                          */

/* Validate and translate one instruction; returns 1 after the final end. */
static int compile_insn(comp *C)
{
    uint8_t op = 0;

    C->insn_off = (size_t)(C->p - C->m->bytes);
    if (rd_byte(C, &op))
        return -1;
    switch (op) {
    case 0x00:
        if (emitting(C)) {
            emit_begin(C, WOP_UNREACHABLE);
            emit_end(C);
        }
        set_unreachable(C);
        return 0;
    case 0x01:
        return 0;
    case 0x02: case 0x03: case 0x04:
        return op_block(C, op);
    case 0x05:
        return op_else(C);
    case 0x0b:
        return op_end(C);
    case 0x0c:
        return op_br(C);
    case 0x0d:
        return op_br_if(C);
    case 0x0e:
        return op_br_table(C);
    case 0x0f:
        return op_return(C);
    case 0x10:
        return op_call(C);
    case 0x11:
        return op_call_indirect(C);
    case 0x1a: {
        vent e;
        return pop(C, VT_UNKNOWN, &e);
    }
    case 0x1b: case 0x1c:
        return op_select(C, op == 0x1c);
    case 0x20: case 0x21: case 0x22:
        return op_local(C, op);
    case 0x23: case 0x24:
        return op_global(C, op);
    case 0x25: case 0x26:
        return op_table(C, op);
    case 0x3f: case 0x40:
        return op_memsize(C, op);
    case 0x41: case 0x42: case 0x43: case 0x44:
        return op_const(C, op);
    case 0xd0: case 0xd1: case 0xd2:
        return op_ref(C, op);
    case 0xfc:
        return op_prefixed(C);
    case 0xfd:
        return fail(C, "SIMD (v128) is not supported");
    default:
        if (op >= 0x28 && op <= 0x3e)
            return op_memory(C, op);
        if (op >= 0x45 && op <= 0xc4)
            return op_numeric(C, op);
        return fail(C, "illegal opcode 0x%02x", op);
    }
}

/* Lay out the locals of function `C->fidx` (params first). */
static int setup_locals(comp *C, const wasm_body *body)
{
    const wasm_functype *ft = C->ft;
    uint64_t n = (uint64_t)ft->nparams + body->nlocals;
    uint32_t slot = 0;

    if (n > TH_WASM_MAX_LOCALS)
        return fail(C, "too many locals");
    if (n + 1 > C->caplocals) {
        uint8_t *nt = realloc(C->ltypes, n + 1);
        uint32_t *ns = nt ? realloc(C->lslot, (n + 1) * sizeof *ns) : NULL;
        if (nt != NULL)
            C->ltypes = nt;
        if (ns == NULL) {
            C->nomem = true;
            return fail(C, "out of memory");
        }
        C->lslot = ns;
        C->caplocals = n + 1;
    }
    C->nlocals = (uint32_t)n;
    if (ft->nparams > 0)
        memcpy(C->ltypes, ft->types, ft->nparams);
    if (body->nlocals > 0)
        memcpy(C->ltypes + ft->nparams, body->local_types, body->nlocals);
    for (uint32_t i = 0; i < C->nlocals; i++) {
        if (C->ltypes[i] == TH_WASM_V128)
            return fail(C, "SIMD (v128) is not supported");
        C->lslot[i] = slot;
        slot += nslots(C->ltypes[i]);
    }
    C->nlocal_slots = slot;
    return 0;
}

/* Relocate operands and fill in `code`. */
static int finish(comp *C, struct wasm_code *code, uint32_t nparam_slots)
{
    uint32_t L = C->nlocal_slots, K = C->nconsts;
    uint64_t frame = (uint64_t)L + K + C->max_t;
    uint32_t nres = 0, ninit = L - nparam_slots + K;

    for (uint32_t i = 0; i < C->ft->nresults; i++)
        nres += nslots(C->ft->types[C->ft->nparams + i]);
    if (frame > MAX_FRAME_SLOTS)
        return fail(C, "function frame too large");
    for (size_t i = 0; i < C->nrelocs; i++) {
        uint32_t v;
        memcpy(&v, C->code + C->relocs[i], 4);
        if (v & TAG_TEMP)
            v = L + K + (v & TAG_MASK);
        else if (v & TAG_CONST)
            v = L + (v & TAG_MASK);
        memcpy(C->code + C->relocs[i], &v, 4);
    }
    if (frame < nres)
        frame = nres;
    if (frame < nparam_slots)
        frame = nparam_slots;
    code->code = malloc(C->len);
    code->init = calloc(ninit ? ninit : 1, sizeof *code->init);
    if (code->code == NULL || code->init == NULL) {
        C->nomem = true;
        return fail(C, "out of memory");
    }
    memcpy(code->code, C->code, C->len);
    code->code_len = C->len;
    for (uint32_t i = 0; i < K; i++)
        code->init[L - nparam_slots + i].bits = C->consts[i];
    code->nparam_slots = nparam_slots;
    code->nlocal_slots = L;
    code->ninit = ninit;
    code->frame_slots = (uint32_t)frame;
    code->nresult_slots = nres;
    return 0;
}

static int compile_func(comp *C, uint32_t defined, struct wasm_code *code)
{
    th_wasm_module *m = C->m;
    const wasm_body *body = &m->bodies[defined];
    uint32_t nparam_slots = 0;
    int rc;

    C->fidx = m->nfunc_imports + defined;
    C->ft = &m->types[m->func_type[C->fidx]];
    C->p = m->bytes + body->off;
    C->end = C->p + body->len;
    C->insn_off = body->off;
    C->nvals = C->nctrls = 0;
    C->len = C->nrelocs = 0;
    C->nfixups = C->nconsts = 0;
    C->max_t = 0;
    C->last.valid = false;
    if (C->chash != NULL)
        memset(C->chash, 0, C->chcap * sizeof *C->chash);

    if (setup_locals(C, body))
        return -1;
    for (uint32_t i = 0; i < C->ft->nparams; i++)
        nparam_slots += nslots(C->ft->types[i]);
    if (push_ctrl(C, K_FUNC, NULL, 0, C->ft->types + C->ft->nparams, C->ft->nresults))
        return -1;
    do {
        rc = compile_insn(C);
        if (C->nomem)
            return th_error_set(C->err, TH_ENOMEM, "out of memory compiling function %u",
                                C->fidx);
        if (rc < 0)
            return -1;
    } while (rc == 0);
    if (C->p != C->end) {
        C->insn_off = (size_t)(C->p - m->bytes);
        return fail(C, "END opcode expected (operators after the function's end)");
    }
    return finish(C, code, nparam_slots);
}

void wasm_code_free(struct wasm_code *code)
{
    if (code == NULL)
        return;
    free(code->code);
    free(code->init);
    free(code);
}

static void comp_release(comp *C)
{
    free(C->ltypes);
    free(C->lslot);
    free(C->vals);
    free(C->popped);
    free(C->scratch);
    free(C->ctrls);
    free(C->code);
    free(C->relocs);
    free(C->fixups);
    free(C->consts);
    free(C->chash);
    free(C->brt);
    free(C->stub_gen);
    free(C->stub_pos);
}

int wasm_compile_module(th_wasm_module *m, th_error *err)
{
    uint32_t nd = m->nfuncs - m->nfunc_imports;
    comp C;
    int rc = 0;

    memset(&C, 0, sizeof C);
    C.m = m;
    C.err = err;
    C.labels = wasm_interp_labels();
    m->code = calloc(nd ? nd : 1, sizeof *m->code);
    if (m->code == NULL)
        return th_error_set(err, TH_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < nd; i++) {
        struct wasm_code *c = calloc(1, sizeof *c);
        if (c == NULL) {
            rc = th_error_set(err, TH_ENOMEM, "out of memory");
            goto fail;
        }
        c->func_idx = m->nfunc_imports + i;
        c->mod = m;
        c->type = &m->types[m->func_type[c->func_idx]];
        m->code[i] = c;
    }
    for (uint32_t i = 0; i < nd; i++) {
        if (compile_func(&C, i, m->code[i]) != 0) {
            rc = err ? err->code : TH_EINVAL;
            if (rc == TH_OK)
                rc = TH_EINVAL;
            goto fail;
        }
    }
    comp_release(&C);
    return 0;

fail:
    comp_release(&C);
    for (uint32_t i = 0; i < nd; i++)
        wasm_code_free(m->code[i]);
    free(m->code);
    m->code = NULL;
    return rc;
}
