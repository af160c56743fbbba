/*
 * compile.c - validation of function bodies and their translation into the
 * interpreter's internal code (format in interp.h): the operand and
 * control stacks, branches, control and call instructions and the
 * per-function driver.  The code buffer (emission, constants, accumulator
 * variants, adjacent pairs) is compile_emit.c; the other instructions are
 * translated in compile_ops.c and compile_simd.c (shared declarations in
 * compile.h).
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
 * instruction; an integer operator with a constant operand takes it as an
 * immediate; a value consumed by the very next instruction travels in the
 * interpreter's accumulator (the producer is switched to its "__R" variant
 * when the consumer is emitted); consecutive copies merge; some adjacent
 * pairs run without a dispatch between them.  Branches to loops use
 * variants that spend fuel.
 *
 * Slot numbers of temporaries and constants depend on the final number of
 * constants, so operands are emitted tagged (TAG_TEMP / TAG_CONST) and
 * relocated once the function is done.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wasm/compile.h"

/* ------------------------------------------------------------------ */
/* Errors and buffers                                                 */

int wasm_cc_oom(comp *C)
{
    th_error_set(C->err, TH_ENOMEM, "out of memory at offset 0x%zx in function %u", C->insn_off,
                 C->fidx);
    return -1;
}

int wasm_cc_fail(comp *C, const char *fmt, ...)
{
    char msg[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    th_error_set(C->err, TH_EINVAL, "%s at offset 0x%zx in function %u", msg, C->insn_off, C->fidx);
    return -1;
}

/* Grow *buf (elements of `size` bytes, capacity *cap) to hold `need`.
 * Returns false on allocation failure (the buffer is unchanged). */
bool wasm_cc_grow(void **buf, size_t *cap, size_t need, size_t size)
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

bool wasm_cc_grow32(void **buf, uint32_t *cap, size_t need, size_t size)
{
    size_t c = *cap;
    bool ok;

    if (need > UINT32_MAX / 2)
        return false;
    ok = wasm_cc_grow(buf, &c, need, size);
    *cap = (uint32_t)c;
    return ok;
}

/* ------------------------------------------------------------------ */
/* Reading the body                                                   */

int wasm_cc_rd_byte(comp *C, uint8_t *out)
{
    if (C->p >= C->end)
        return wasm_cc_fail(C, "unexpected end of section or function");
    *out = *C->p++;
    return 0;
}

int wasm_cc_rd_u32(comp *C, uint32_t *out)
{
    uint32_t v = 0;
    for (unsigned i = 0; i < 5; i++) {
        uint8_t b = 0;
        if (wasm_cc_rd_byte(C, &b))
            return -1;
        if (i == 4 && (b & 0x70))
            return wasm_cc_fail(C, (b & 0x80) ? "integer representation too long"
                                              : "integer too large");
        v |= (uint32_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return wasm_cc_fail(C, "integer representation too long");
}

/* Signed LEB128 of `bits` bits (32, 33 or 64). */
int wasm_cc_rd_sleb(comp *C, unsigned bits, int64_t *out)
{
    uint64_t v = 0;
    unsigned shift = 0, maxbytes = (bits + 6) / 7;
    for (unsigned i = 0; i < maxbytes; i++) {
        uint8_t b = 0;
        if (wasm_cc_rd_byte(C, &b))
            return -1;
        if (i == maxbytes - 1) {
            /* the bits beyond `bits` must be copies of the sign bit */
            unsigned used = bits - shift;                     /* value bits in this byte */
            uint8_t rest = (uint8_t)(b & 0x7f) >> (used - 1); /* sign + extra bits */
            uint8_t all = (uint8_t)(0x7f >> (used - 1));
            if (b & 0x80)
                return wasm_cc_fail(C, "integer representation too long");
            if (rest != 0 && rest != all)
                return wasm_cc_fail(C, "integer too large");
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
    return wasm_cc_fail(C, "integer representation too long");
}

int wasm_cc_rd_zero(comp *C)
{
    uint8_t b = 0;
    if (wasm_cc_rd_byte(C, &b))
        return -1;
    if (b != 0)
        return wasm_cc_fail(C, "zero byte expected");
    return 0;
}

static const uint8_t valtypes[] = {TH_WASM_I32,  TH_WASM_I64,     TH_WASM_F32,      TH_WASM_F64,
                                   TH_WASM_V128, TH_WASM_FUNCREF, TH_WASM_EXTERNREF};

/* Static one-element type list for valtype `t`, or NULL if not one. */
const uint8_t *wasm_cc_valtype_list(uint8_t t)
{
    for (size_t i = 0; i < sizeof valtypes; i++)
        if (valtypes[i] == t)
            return &valtypes[i];
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Operand and control stacks                                         */

static uint32_t t_at(const comp *C, uint32_t height)
{
    const vent *e;
    if (height == 0)
        return 0;
    e = &C->vals[height - 1];
    return e->t + nslots(e->type);
}

/* Push an operand living in its own slot. */
vent *wasm_cc_push(comp *C, uint8_t type)
{
    vent *e;
    uint32_t t = t_at(C, C->nvals);

    if (!wasm_cc_grow32((void **)&C->vals, &C->capvals, C->nvals + 1, sizeof *C->vals)) {
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
int wasm_cc_pop(comp *C, uint8_t expect, vent *out)
{
    ctrl *c = top_ctrl(C);
    vent e;

    if (C->nvals == c->height) {
        if (!c->unreachable)
            return wasm_cc_fail(C, "type mismatch");
        memset(out, 0, sizeof *out);
        out->type = VT_UNKNOWN;
        out->t = t_at(C, C->nvals);
        return 0;
    }
    e = C->vals[--C->nvals];
    if (e.loc == LOC_LOCAL) {
        C->lrefs[e.idx]--;
        C->nlrefs--;
    }
    if (expect != VT_UNKNOWN && e.type != VT_UNKNOWN && e.type != expect)
        return wasm_cc_fail(C, "type mismatch");
    *out = e;
    return 0;
}

/* Pop operands of `types` into C->popped (bottom first). */
int wasm_cc_pop_vals(comp *C, const uint8_t *types, uint32_t n)
{
    if (!wasm_cc_grow32((void **)&C->popped, &C->cappopped, n, sizeof *C->popped)) {
        C->nomem = true;
        return wasm_cc_oom(C);
    }
    for (uint32_t i = n; i-- > 0;)
        if (wasm_cc_pop(C, types[i], &C->popped[i]))
            return -1;
    return 0;
}

/* Push the operands in C->popped back, as they were. */
static void repush(comp *C, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        vent saved = C->popped[i];
        vent *e = wasm_cc_push(C, saved.type);
        if (e == NULL)
            return;
        wasm_cc_set_loc(C, e, &saved);
    }
}

static void push_types(comp *C, const uint8_t *types, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        wasm_cc_push(C, types[i]);
}

/* Check that the top operands match `types` without popping (the spec's
 * push_vals(wasm_cc_pop_vals(types)) on a possibly polymorphic stack). */
static int check_top(comp *C, const uint8_t *types, uint32_t n)
{
    const ctrl *c = top_ctrl(C);
    uint32_t avail = C->nvals - c->height;

    for (uint32_t k = 0; k < n; k++) {
        uint8_t want = types[n - 1 - k];
        if (k >= avail) {
            if (!c->unreachable)
                return wasm_cc_fail(C, "type mismatch");
            continue;
        }
        uint8_t have = C->vals[C->nvals - 1 - k].type;
        if (have != VT_UNKNOWN && have != want)
            return wasm_cc_fail(C, "type mismatch");
    }
    return 0;
}

static void set_unreachable(comp *C)
{
    ctrl *c = top_ctrl(C);
    for (uint32_t i = c->height; i < C->nvals; i++) {
        if (C->vals[i].loc == LOC_LOCAL) {
            C->lrefs[C->vals[i].idx]--;
            C->nlrefs--;
        }
    }
    C->nvals = c->height;
    c->unreachable = true;
}

static int push_ctrl(comp *C, uint8_t kind, const uint8_t *params, uint32_t np,
                     const uint8_t *results, uint32_t nr)
{
    bool em = C->nctrls == 0 || emitting(C);
    ctrl *c;

    if (C->nctrls >= TH_WASM_MAX_BLOCK_DEPTH)
        return wasm_cc_fail(C, "blocks nested too deeply");
    if (!wasm_cc_grow32((void **)&C->ctrls, &C->capctrls, C->nctrls + 1, sizeof *C->ctrls)) {
        C->nomem = true;
        return wasm_cc_oom(C);
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
        wasm_cc_fail(C, "unknown label");
        return NULL;
    }
    return &C->ctrls[C->nctrls - 1 - l];
}

/* Copy every operand naming local `x` (or any local if x == UINT32_MAX)
 * into its own slot. */
void wasm_cc_materialize_locals(comp *C, uint32_t x)
{
    /* counted, top down: the cost is bounded by the pushes since the
     * operands naming x were pushed (no quadratic compile time) */
    uint32_t want = x == UINT32_MAX ? C->nlrefs : C->lrefs[x];

    for (uint32_t i = C->nvals; want > 0 && i-- > 0;) {
        vent *e = &C->vals[i];
        if (e->loc == LOC_LOCAL && (x == UINT32_MAX || e->idx == x)) {
            C->lrefs[e->idx]--;
            C->nlrefs--;
            want--;
            wasm_cc_materialize(C, e);
        }
    }
}

void wasm_cc_set_loc(comp *C, vent *e, const vent *src)
{
    e->loc = src->loc;
    e->idx = src->idx;
    e->cval = src->cval;
    if (e->loc == LOC_LOCAL) {
        C->lrefs[e->idx]++;
        C->nlrefs++;
    }
}

/* ------------------------------------------------------------------ */
/* Branches                                                           */

static void add_fixup(comp *C, ctrl *target, size_t field, size_t insn)
{
    fixup *f;
    if (!wasm_cc_grow32((void **)&C->fixups, &C->capfixups, C->nfixups + 1, sizeof *C->fixups)) {
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
        wasm_cc_emit_u32(C, 0);
        wasm_cc_patch_rel(C, C->len - 4, insn, target->loop_pos);
    } else {
        add_fixup(C, target, C->len, insn);
        wasm_cc_emit_u32(C, 0);
    }
}

/* Resolve the forward branches to `c`'s end at the current position. */
static void define_end(comp *C, ctrl *c)
{
    for (uint32_t i = c->fix; i != NO_FIX; i = C->fixups[i].next)
        wasm_cc_patch_rel(C, C->fixups[i].field, C->fixups[i].insn, wasm_cc_label_here(C));
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
        wasm_cc_emit_begin(C, WOP_RET);
        wasm_cc_emit_end(C);
        return;
    }
    if (n == 1 && nslots(vals[0].type) == 1) {
        uint32_t a = wasm_cc_enc(C, &vals[0]);
        accpick ap;
        unsigned variant = wasm_cc_acc_pick(C, WOP_RET1, &vals[0], NULL, &ap);
        wasm_cc_emit_ops_v(C, WOP_RET1, variant, &a, 1, 1);
        return;
    }
    /* Several results: into their own (consecutive) slots first, then
     * down to slots 0..; own slot t_i >= i, so ascending order is safe. */
    if (!wasm_cc_grow32((void **)&C->scratch, &C->capscratch, n, sizeof *C->scratch)) {
        C->nomem = true;
        return;
    }
    v = C->scratch;
    memcpy(v, vals, n * sizeof *v);
    for (uint32_t i = 0; i < n; i++)
        wasm_cc_materialize(C, &v[i]);
    for (uint32_t i = 0, slot = 0; i < n; i++) {
        for (uint32_t k = 0; k < nslots(v[i].type); k++, slot++)
            wasm_cc_emit_copy(C, slot, TAG_TEMP | (v[i].t + k));
    }
    wasm_cc_emit_begin(C, WOP_RET);
    wasm_cc_emit_end(C);
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
            uint32_t src = wasm_cc_enc(C, &vals[i]);
            wasm_cc_emit_move(C, TAG_TEMP | slot, src, vals[i].type);
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
    s = wasm_cc_emit_begin(C, fuel && target->kind == K_LOOP ? WOP_BR_BACK : WOP_BR);
    emit_target(C, s, target);
    wasm_cc_emit_end(C);
}

/* If `cond` was produced by the last instruction and that was a fusable
 * comparison, remove it and return its description in *out. */
static void hist_trim(comp *C)
{
    while (C->nhist > 0 && C->hist[C->nhist - 1] >= C->len)
        C->nhist--;
    while (C->ncalls > C->ncalls_done && C->calls[C->ncalls - 1].off >= C->len)
        C->ncalls--;
}

size_t wasm_cc_hist(const comp *C, unsigned back)
{
    return back < C->nhist ? C->hist[C->nhist - 1 - back] : NO_POS;
}

bool wasm_cc_insn_op(const comp *C, size_t start, int *op, unsigned *variant)
{
    const void *h;

    if (C->nomem || start + 8 > C->len)
        return false;
    memcpy(&h, C->code + start, sizeof h);
    for (int i = 0; i < WOP_COUNT_ * WASM_NVARIANTS; i++)
        if (C->labels[i] == h) {
            *op = i / WASM_NVARIANTS;
            *variant = (unsigned)(i % WASM_NVARIANTS);
            return true;
        }
    return false;
}

void wasm_cc_truncate(comp *C, size_t start)
{
    C->len = start;
    while (C->nrelocs > 0 && C->relocs[C->nrelocs - 1] >= start)
        C->nrelocs--;
    hist_trim(C);
    C->last.valid = C->last2.valid = false;
    C->last_copy = NO_POS;
    C->prev.op = C->prev2.op = -1;
    if (C->pair_tail != NO_POS && C->pair_tail >= start) {
        if (C->pair_head < start) {
            wasm_cc_unpair(C);
        } else {
            if (C->chain_head != NO_POS && C->chain_head < start)
                /* the chain's second instruction goes: its first runs alone */
                wasm_cc_set_handler(C, C->chain_head, WOP_I32_ADD_K, 0);
            if (C->chain3_head != NO_POS && C->chain3_head < start)
                /* so does a three-addition chain's first, unless its
                 * second (the chain's head, an I32_ADD_K) stays */
                wasm_cc_set_handler(C, C->chain3_head,
                                    C->chain_head < start ? WOP_P_ADDK_ADDK : WOP_I32_ADD_K, 0);
            C->pair_head = C->pair_tail = C->chain_head = C->chain3_head = NO_POS;
        }
    }
}

void wasm_cc_unpair(comp *C)
{
    wasm_cc_set_handler(C, C->pair_head, C->pair_head_op, C->pair_head_variant);
    if (C->chain3_head != NO_POS) {
        /* its second addition runs alone again */
        wasm_cc_set_handler(C, C->chain3_head, WOP_P_ADDK_ADDK, 0);
        C->chain3_head = NO_POS;
    }
    if (C->chain_head != NO_POS && C->chain_op == WOP_I32_ADD_K) {
        wasm_cc_set_handler(C, C->chain_head, WOP_I32_ADD_K, 0);
        C->pair_head = C->pair_tail = C->chain_head = NO_POS;
    } else if (C->chain_head != NO_POS) {
        wasm_cc_set_handler(C, C->chain_head, WOP_P_ADDK_ADDK, 0);
        C->pair_tail = C->pair_head;
        C->pair_head = C->chain_head;
        C->pair_head_op = WOP_I32_ADD_K;
        C->pair_head_variant = 0;
        C->chain_head = NO_POS;
    } else {
        C->pair_head = C->pair_tail = C->chain_head = NO_POS;
    }
}

static bool take_comparison(comp *C, const vent *cond, lastinsn *out)
{
    if (!C->last.valid || C->last.br_true < 0 || cond->loc != LOC_OWN || cond->t != C->last.dst_t)
        return false;
    *out = C->last;
    C->len = out->start;
    C->nrelocs = out->nrelocs;
    hist_trim(C);
    C->last.valid = false;
    C->prev = C->prev2; /* the instruction before the comparison */
    C->prev2.op = -1;
    return true;
}

bool wasm_cc_take_producer(comp *C, const vent *v, int op, lastinsn *out)
{
    const lastinsn *L = &C->last;

    if (!L->valid || L->op != op || v->loc != LOC_OWN || v->t != L->dst_t || C->nomem)
        return false;
    if (C->barrier != NO_POS && C->barrier > L->start)
        return false; /* a branch target after it */
    if (C->pair_tail == L->start) {
        /* the pair before it ends with the instruction that goes */
        wasm_cc_unpair(C);
    }
    *out = *L;
    C->len = out->start;
    C->nrelocs = out->nrelocs;
    hist_trim(C);
    /* the instruction before it is the last one again */
    C->last = C->last2;
    C->last2.valid = false;
    C->last_copy = NO_POS;
    C->prev = C->prev2;
    C->prev2.op = -1;
    return true;
}

/* A conditional back-edge at `s` that an I32_ADD_K pairs with (P_ADDK_*,
 * perhaps the end of a P_ADDK2_* / P_ADDK3_* chain), testing the slot the
 * addition writes (`local.tee i (i32.add i k)` before `br_if`): the
 * addition also leaves its result in the accumulator and the branch reads
 * it there (P_ADDKA_* / P_ADDKB_*, into the branch's _A / _B variant: the
 * first / second operand of the test), so the test does
 * not wait for the slot to be written and read back.  The branch keeps
 * its own handler, which reads the slot: it still runs correctly alone
 * (resumed there after running out of fuel, or the pair undone). */
static void pair_through_acc(comp *C, size_t s, unsigned slotmask)
{
    int hop, k, p1, p2, p3;
    unsigned hv;
    uint32_t a, b, d;

    if (C->nomem || C->pair_tail != s || !wasm_cc_insn_op(C, C->pair_head, &hop, &hv) ||
        hop < WOP_P_ADDK_BR_IF_NZ_BACK || hop > WOP_P_ADDK_BRB_GE_U_K)
        return;
    memcpy(&a, C->code + s + 8, 4);
    memcpy(&b, C->code + s + 12, 4);
    memcpy(&d, C->code + C->pair_head + 8, 4);
    if (a == d) {
        k = hop - WOP_P_ADDK_BR_IF_NZ_BACK;
        p1 = WOP_P_ADDKA_BR_IF_NZ_BACK;
        p2 = WOP_P_ADDK2A_BR_IF_NZ_BACK;
        p3 = WOP_P_ADDK3A_BR_IF_NZ_BACK;
    } else if (b == d && (slotmask & 2u) && hop >= WOP_P_ADDK_BRB_EQ &&
               hop <= WOP_P_ADDK_BRB_GE_U) {
        k = hop - WOP_P_ADDK_BRB_EQ;
        p1 = WOP_P_ADDKB_BRB_IF_I32_EQ;
        p2 = WOP_P_ADDK2B_BRB_IF_I32_EQ;
        p3 = WOP_P_ADDK3B_BRB_IF_I32_EQ;
    } else {
        return;
    }
    wasm_cc_set_handler(C, C->pair_head, p1 + k, 0);
    if (C->chain_head != NO_POS && C->chain_op == WOP_P_ADDK_ADDK)
        wasm_cc_set_handler(C, C->chain_head, p2 + k, 0);
    if (C->chain3_head != NO_POS)
        wasm_cc_set_handler(C, C->chain3_head, p3 + k, 0);
}

/* Emit a conditional branch on `cond` (when_true selects the sense),
 * using the fused comparison `cmp` if given; returns the offset of the
 * instruction, with the rel field last. */
static size_t emit_cond_branch(comp *C, const vent *cond, const lastinsn *cmp, bool when_true,
                               bool back)
{
    uint32_t ops[3];
    unsigned n, slotmask, variant = 0;
    int op;
    size_t s;
    accpick ap;

    if (cmp != NULL) {
        op = when_true ? cmp->br_true : cmp->br_false;
        ops[0] = cmp->a;
        ops[1] = cmp->b;
        n = cmp->nops;
        slotmask = cmp->slotmask;
        /* the comparison read a source from the accumulator: so can the
         * branch */
        ap = cmp->acc;
        if (back)
            op = back_op(op);
        if (ap.variant != 0 && !wasm_cc_has_variant(C, op, ap.variant)) {
            wasm_cc_acc_undo(C, &ap);
            ap.variant = 0;
        }
    } else {
        op = when_true ? WOP_BR_IF_NZ : WOP_BR_IF_Z;
        ops[0] = wasm_cc_enc(C, cond);
        n = 1;
        slotmask = 1;
        if (back)
            op = back_op(op);
        wasm_cc_acc_pick(C, op, cond, NULL, &ap);
    }
    /* a loop's back-edge after an addition of a constant runs as a pair
     * (no dispatch between them) rather than through the accumulator */
    if (back && ap.variant != 0 && ap.undo && ap.undo_pos == C->prev.start &&
        wasm_cc_pair_op(ap.undo_op, ap.undo_variant, op, 0) >= 0) {
        wasm_cc_acc_undo(C, &ap);
        ap.variant = 0;
    }
    if (ap.entry && ap.variant != 0)
        C->entry_pick = true; /* (dropped unless the branch is at offset 0) */
    variant = ap.variant;
    s = wasm_cc_emit_begin_v(C, op, variant);
    for (unsigned i = 0; i < n; i++) {
        if (slotmask & (1u << i))
            wasm_cc_emit_slot(C, ops[i]);
        else
            wasm_cc_emit_u32(C, ops[i]);
    }
    if (back && variant == 0 && (slotmask & 1u))
        pair_through_acc(C, s, slotmask);
    return s; /* caller emits the rel field and emit_end */
}

/* ------------------------------------------------------------------ */
/* Control instructions                                               */

static int read_blocktype(comp *C, const uint8_t **params, uint32_t *np, const uint8_t **results,
                          uint32_t *nr)
{
    int64_t idx = 0;
    const wasm_functype *ft;

    *params = *results = NULL;
    *np = *nr = 0;
    if (C->p >= C->end)
        return wasm_cc_fail(C, "unexpected end of section or function");
    if (*C->p == 0x40) {
        C->p++;
        return 0;
    }
    if (wasm_cc_valtype_list(*C->p) != NULL) {
        *results = wasm_cc_valtype_list(*C->p++);
        *nr = 1;
        return 0;
    }
    if (wasm_cc_rd_sleb(C, 33, &idx))
        return -1;
    if (idx < 0)
        return wasm_cc_fail(C, "malformed block type");
    if ((uint64_t)idx >= C->m->ntypes)
        return wasm_cc_fail(C, "unknown type");
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
    if (kind == K_IF && wasm_cc_pop(C, TH_WASM_I32, &cond))
        return -1;
    if (wasm_cc_pop_vals(C, params, np))
        return -1;
    em = emitting(C);
    if (em) {
        if (kind == K_IF)
            fused = take_comparison(C, &cond, &cmp);
        wasm_cc_materialize_locals(C, UINT32_MAX);
        for (uint32_t i = 0; i < np; i++)
            wasm_cc_materialize(C, &C->popped[i]);
        if (kind == K_IF) {
            s = emit_cond_branch(C, &cond, fused ? &cmp : NULL, false, false);
            field = C->len;
            wasm_cc_emit_u32(C, 0);
            wasm_cc_emit_end(C);
        }
    }
    if (push_ctrl(C, kind, params, np, results, nr))
        return -1;
    repush(C, np);
    C->last.valid = false;
    if (kind == K_LOOP)
        C->loop_seen = true;
    if (kind == K_LOOP)
        top_ctrl(C)->loop_pos = wasm_cc_label_here(C);
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
        return wasm_cc_fail(C, "else without matching if");
    if (wasm_cc_pop_vals(C, c->results, c->nresults))
        return -1;
    if (C->nvals != c->height)
        return wasm_cc_fail(C, "type mismatch");
    if (em) {
        for (uint32_t i = 0; i < c->nresults; i++)
            wasm_cc_materialize(C, &C->popped[i]);
        s = wasm_cc_emit_begin(C, WOP_BR);
        emit_target(C, s, c);
        wasm_cc_emit_end(C);
    }
    if (c->else_field != NO_POS)
        wasm_cc_patch_rel(C, c->else_field, c->else_insn, wasm_cc_label_here(C));
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

    if (wasm_cc_pop_vals(C, c->results, c->nresults))
        return -1;
    if (C->nvals != c->height)
        return wasm_cc_fail(C, "type mismatch");
    if (c->kind == K_FUNC) {
        if (em)
            emit_return(C, C->popped, c->nresults);
        C->nctrls--;
        return 1;
    }
    if (em)
        for (uint32_t i = 0; i < c->nresults; i++)
            wasm_cc_materialize(C, &C->popped[i]);
    if (c->kind == K_IF) {
        if (c->nparams != c->nresults ||
            (c->nparams > 0 && memcmp(c->params, c->results, c->nparams) != 0))
            return wasm_cc_fail(C, "type mismatch");
        if (c->else_field != NO_POS)
            wasm_cc_patch_rel(C, c->else_field, c->else_insn, wasm_cc_label_here(C));
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

    if (wasm_cc_rd_u32(C, &l) || (target = label(C, l)) == NULL)
        return -1;
    if (wasm_cc_pop_vals(C, label_types(target), label_arity(target)))
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

    if (wasm_cc_rd_u32(C, &l) || (target = label(C, l)) == NULL)
        return -1;
    if (wasm_cc_pop(C, TH_WASM_I32, &cond))
        return -1;
    n = label_arity(target);
    if (!emitting(C)) {
        /* the spec's pop_vals + push_vals(label types) */
        if (wasm_cc_pop_vals(C, label_types(target), n))
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
        wasm_cc_emit_end(C);
    } else {
        size_t field;
        s = emit_cond_branch(C, &cond, fused ? &cmp : NULL, false, false);
        field = C->len;
        wasm_cc_emit_u32(C, 0);
        wasm_cc_emit_end(C);
        emit_branch(C, target, vals, n, true);
        wasm_cc_patch_rel(C, field, s, wasm_cc_label_here(C));
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

    if (wasm_cc_rd_u32(C, &n))
        return -1;
    if (n > TH_WASM_MAX_BR_TABLE)
        return wasm_cc_fail(C, "br_table has too many targets");
    if (!wasm_cc_grow32((void **)&C->brt, &C->capbrt, (size_t)n + 1, sizeof *C->brt)) {
        C->nomem = true;
        return wasm_cc_oom(C);
    }
    for (uint32_t i = 0; i <= n; i++) {
        if (wasm_cc_rd_u32(C, &C->brt[i]))
            return -1;
        if (label(C, C->brt[i]) == NULL)
            return -1;
    }
    if (wasm_cc_pop(C, TH_WASM_I32, &idx))
        return -1;
    def = C->brt[n];
    dt = label(C, def);
    arity = label_arity(dt);
    for (uint32_t i = 0; i < n; i++) {
        ctrl *t = label(C, C->brt[i]);
        if (label_arity(t) != arity)
            return wasm_cc_fail(C, "type mismatch");
        if (check_top(C, label_types(t), arity))
            return -1;
    }
    if (wasm_cc_pop_vals(C, label_types(dt), arity))
        return -1;
    if (emitting(C)) {
        uint32_t ops[2] = {wasm_cc_enc(C, &idx), n};
        accpick ap;
        s = wasm_cc_emit_begin_v(C, WOP_BR_TABLE,
                                 wasm_cc_acc_pick(C, WOP_BR_TABLE, &idx, NULL, &ap));
        wasm_cc_emit_slot(C, ops[0]);
        wasm_cc_emit_u32(C, ops[1]);
        fields = C->len;
        for (uint32_t i = 0; i <= n; i++)
            wasm_cc_emit_u32(C, 0);
        wasm_cc_emit_end(C);
        if (C->capstub < C->nctrls && !grow_stubs(C))
            return wasm_cc_oom(C);
        C->gen++;
        for (uint32_t i = 0; i <= n && !C->nomem; i++) {
            uint32_t depth = C->brt[i];
            ctrl *t = label(C, depth);
            size_t field = fields + 4 * (size_t)i;
            if (branch_needs_copies(t, C->popped, arity)) {
                if (C->stub_gen[depth] != C->gen) {
                    C->stub_gen[depth] = C->gen;
                    C->stub_pos[depth] = wasm_cc_label_here(C);
                    /* fuel was spent by BR_TABLE itself */
                    emit_branch(C, t, C->popped, arity, false);
                }
                wasm_cc_patch_rel(C, field, s, C->stub_pos[depth]);
            } else if (t->kind == K_LOOP) {
                wasm_cc_patch_rel(C, field, s, t->loop_pos);
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
    if (wasm_cc_pop_vals(C, fn->results, fn->nresults))
        return -1;
    if (emitting(C))
        emit_return(C, C->popped, fn->nresults);
    set_unreachable(C);
    return 0;
}

/* call / call_indirect: arguments into consecutive own slots. */
static int emit_call(comp *C, const wasm_functype *ft, int op, const uint32_t *imm, unsigned nimm,
                     const vent *index)
{
    uint32_t argbase;

    if (wasm_cc_pop_vals(C, ft->types, ft->nparams))
        return -1;
    if (emitting(C)) {
        uint32_t ops[4];
        unsigned n = 0;
        size_t s;
        for (uint32_t i = 0; i < ft->nparams; i++)
            wasm_cc_materialize(C, &C->popped[i]);
        argbase = ft->nparams ? C->popped[0].t : t_at(C, C->nvals);
        if (op == WOP_CALL) {
            size_t nrelocs = C->nrelocs;
            s = wasm_cc_emit_begin(C, WOP_CALL);
            wasm_cc_emit_ptr(C, C->m->code[imm[0] - C->m->nfunc_imports]);
            wasm_cc_emit_slot(C, TAG_TEMP | argbase);
            wasm_cc_emit_u32(C, 0);    /* CALL1Z's slot (pick_calls) */
            wasm_cc_emit_ptr(C, NULL); /* the callee's code (pick_calls) */
            wasm_cc_emit_end(C);
            if (!wasm_cc_grow((void **)&C->calls, &C->capcalls, C->ncalls + 1, sizeof *C->calls)) {
                C->nomem = true;
                return -1;
            }
            C->calls[C->ncalls].fn = C->fidx - C->m->nfunc_imports;
            C->calls[C->ncalls].head = C->pair_tail == s ? C->pair_head : NO_POS;
            C->calls[C->ncalls++].off = s;
            push_types(C, ft->types + ft->nparams, ft->nresults);
            if (ft->nresults == 1 && nslots(ft->types[ft->nparams]) == 1) {
                /* The callee returns through RET1, which leaves its result
                 * in the accumulator as well as in slot argbase: the next
                 * instruction may read it there (the CALL's "__R" variant
                 * is the CALL itself).  The slot stays the call's. */
                wasm_cc_produced(C, s, nrelocs, argbase, WOP_CALL, NULL);
                C->last.fixed_dst = true;
            }
            return 0;
        } else if (op == WOP_CALL_IMPORT) {
            ops[n++] = imm[0];
            ops[n++] = TAG_TEMP | argbase;
            wasm_cc_emit_ops(C, op, ops, n, 2);
        } else {
            ops[n++] = imm[0]; /* type canon */
            ops[n++] = imm[1]; /* table */
            ops[n++] = wasm_cc_enc(C, index);
            ops[n++] = TAG_TEMP | argbase;
            wasm_cc_emit_ops(C, op, ops, n, 4 | 8);
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

    if (wasm_cc_rd_u32(C, &f))
        return -1;
    if (f >= m->nfuncs)
        return wasm_cc_fail(C, "unknown function %u", f);
    return emit_call(C, &m->types[m->func_type[f]],
                     f < m->nfunc_imports ? WOP_CALL_IMPORT : WOP_CALL, &f, 1, NULL);
}

static int op_call_indirect(comp *C)
{
    uint32_t ty, tab, imm[2];
    const th_wasm_module *m = C->m;
    vent index;

    if (wasm_cc_rd_u32(C, &ty) || wasm_cc_rd_u32(C, &tab))
        return -1;
    if (tab >= m->ntables)
        return wasm_cc_fail(C, "unknown table %u", tab);
    if (m->tables[tab].reftype != TH_WASM_FUNCREF)
        return wasm_cc_fail(C, "type mismatch");
    if (ty >= m->ntypes)
        return wasm_cc_fail(C, "unknown type");
    if (wasm_cc_pop(C, TH_WASM_I32, &index))
        return -1;
    imm[0] = m->types[ty].canon;
    imm[1] = tab;
    return emit_call(C, &m->types[ty], WOP_CALL_INDIRECT, imm, 2, &index);
}

/* ------------------------------------------------------------------ */
/* Functions                                                          */

/* Validate and translate one instruction; returns 1 after the final end. */
static int compile_insn(comp *C)
{
    uint8_t op = 0;

    C->insn_off = (size_t)(C->p - C->m->bytes);
    if (wasm_cc_rd_byte(C, &op))
        return -1;
    switch (op) {
    case 0x00:
        if (emitting(C)) {
            wasm_cc_emit_begin(C, WOP_UNREACHABLE);
            wasm_cc_emit_end(C);
        }
        set_unreachable(C);
        return 0;
    case 0x01: return 0;
    case 0x02:
    case 0x03:
    case 0x04: return op_block(C, op);
    case 0x05: return op_else(C);
    case 0x0b: return op_end(C);
    case 0x0c: return op_br(C);
    case 0x0d: return op_br_if(C);
    case 0x0e: return op_br_table(C);
    case 0x0f: return op_return(C);
    case 0x10: return op_call(C);
    case 0x11: return op_call_indirect(C);
    case 0x1a: {
        vent e;
        return wasm_cc_pop(C, VT_UNKNOWN, &e);
    }
    case 0x1b:
    case 0x1c: return wasm_cc_op_select(C, op == 0x1c);
    case 0x20:
    case 0x21:
    case 0x22: return wasm_cc_op_local(C, op);
    case 0x23:
    case 0x24: return wasm_cc_op_global(C, op);
    case 0x25:
    case 0x26: return wasm_cc_op_table(C, op);
    case 0x3f:
    case 0x40: return wasm_cc_op_memsize(C, op);
    case 0x41:
    case 0x42:
    case 0x43:
    case 0x44: return wasm_cc_op_const(C, op);
    case 0xd0:
    case 0xd1:
    case 0xd2: return wasm_cc_op_ref(C, op);
    case 0xfc: return wasm_cc_op_prefixed(C);
    case 0xfd: return wasm_cc_op_simd(C);
    default:
        if (op >= 0x28 && op <= 0x3e)
            return wasm_cc_op_memory(C, op);
        if (op >= 0x45 && op <= 0xc4)
            return wasm_cc_op_numeric(C, op);
        return wasm_cc_fail(C, "illegal opcode 0x%02x", op);
    }
}

/* Lay out the locals of function `C->fidx` (params first). */
static int setup_locals(comp *C, const wasm_body *body)
{
    const wasm_functype *ft = C->ft;
    uint64_t n = (uint64_t)ft->nparams + body->nlocals;
    uint32_t slot = 0;

    if (n > TH_WASM_MAX_LOCALS)
        return wasm_cc_fail(C, "too many locals");
    if (n + 1 > C->caplocals) {
        uint8_t *nt = realloc(C->ltypes, n + 1);
        uint8_t *nw = nt ? realloc(C->lwritten, n + 1) : NULL;
        uint32_t *nr = nw ? realloc(C->lrefs, (n + 1) * sizeof *nr) : NULL;
        uint32_t *ns = nr ? realloc(C->lslot, (n + 1) * sizeof *ns) : NULL;
        if (nt != NULL)
            C->ltypes = nt;
        if (nw != NULL)
            C->lwritten = nw;
        if (nr != NULL)
            C->lrefs = nr;
        if (ns == NULL) {
            C->nomem = true;
            return wasm_cc_oom(C);
        }
        C->lslot = ns;
        C->caplocals = n + 1;
    }
    /* parameters hold arguments; declared locals start at zero */
    memset(C->lwritten, 0, n + 1);
    memset(C->lrefs, 0, (n + 1) * sizeof *C->lrefs);
    C->nlrefs = 0;
    memset(C->lwritten, 1, ft->nparams);
    C->nlocals = (uint32_t)n;
    if (ft->nparams > 0)
        memcpy(C->ltypes, ft->types, ft->nparams);
    if (body->nlocals > 0)
        memcpy(C->ltypes + ft->nparams, body->local_types, body->nlocals);
    for (uint32_t i = 0; i < C->nlocals; i++) {
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
        return wasm_cc_fail(C, "function frame too large");
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
#ifdef TH_WASM_OPSTATS
    /* profiling builds copy 32 bytes of each executed instruction */
    code->code = calloc(1, C->len + 32);
#else
    code->code = malloc(C->len);
#endif
    code->init = calloc(ninit ? ninit : 1, sizeof *code->init);
    if (code->code == NULL || code->init == NULL) {
        C->nomem = true;
        return wasm_cc_oom(C);
    }
    memcpy(code->code, C->code, C->len);
    code->code_len = C->len;
    for (uint32_t i = 0; i < K; i++)
        code->init[L - nparam_slots + i].bits = C->consts[i];
    code->nparam_slots = nparam_slots;
    code->entry_acc = C->entry_acc_used;
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
    C->last.valid = C->last2.valid = C->wt.valid = false;
    C->last_copy = C->barrier = NO_POS;
    C->prev.op = C->prev2.op = -1;
    C->prev.start = C->prev2.start = NO_POS;
    C->pair_head = C->pair_tail = C->chain_head = C->chain3_head = NO_POS;
    C->entry_pick = C->entry_acc_used = false;
    C->nhist = 0;
    C->loop_seen = false;
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
            return th_error_set(C->err, TH_ENOMEM, "out of memory compiling function %u", C->fidx);
        if (rc < 0)
            return -1;
    } while (rc == 0);
    if (C->p != C->end) {
        C->insn_off = (size_t)(C->p - m->bytes);
        return wasm_cc_fail(C, "END opcode expected (operators after the function's end)");
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
    free(C->lwritten);
    free(C->lrefs);
    free(C->vals);
    free(C->popped);
    free(C->scratch);
    free(C->ctrls);
    free(C->code);
    free(C->relocs);
    free(C->fixups);
    free(C->consts);
    free(C->chash);
    free(C->calls);
    free(C->brt);
    free(C->stub_gen);
    free(C->stub_pos);
}

/* Every callee is translated: each CALL gets the address of its callee's
 * code (the interpreter jumps there without loading it from the callee's
 * record first), and a CALL to a function that initialises no slot at
 * entry becomes CALL0, one that zeroes one slot CALL1Z (no copy loop, no
 * load of what to copy). */
static void pick_calls(comp *C)
{
    for (size_t i = 0; i < C->ncalls; i++) {
        uint8_t *insn = C->m->code[C->calls[i].fn]->code + C->calls[i].off;
        const struct wasm_code *callee = (const struct wasm_code *)WASM_OPND_PTR(insn);
        const void *h;
        memcpy(&h, insn, sizeof h);
        if (h != C->labels[WOP_CALL * WASM_NVARIANTS])
            continue;
        int k = 0; /* CALL, CALL0, CALL1Z */
        memcpy(insn + WASM_CALL_CODE_OFF, &callee->code, sizeof callee->code);
        if (callee->ninit == 0) {
            k = 1;
        } else if (callee->ninit == 1 && callee->init[0].bits == 0) {
            /* the slot goes in the CALL's padding operand */
            uint32_t slot = callee->nparam_slots;
            memcpy(insn + 8 + 3 * 4, &slot, 4);
            k = 2;
        }
        h = C->labels[(callee->entry_acc ? WOP_CALL_A + k : WOP_CALL + k) * WASM_NVARIANTS];
        memcpy(insn, &h, sizeof h);
        if (C->calls[i].head != NO_POS) {
            /* the addition before it (a P_ADDK_CALL pair, unless it was
             * undone) goes straight into the CALL's new handler, or when
             * it computes the first argument of a callee reading that
             * from the accumulator, puts it there itself */
            uint8_t *head = C->m->code[C->calls[i].fn]->code + C->calls[i].head;
            const void *ph = C->labels[WOP_P_ADDK_CALL * WASM_NVARIANTS];
            if (memcmp(head, &ph, sizeof ph) == 0) {
                uint32_t d, argbase;
                int op = WOP_P_ADDK_CALL + k;
                memcpy(&d, head + 8, 4);
                memcpy(&argbase, insn + 8 + 2 * 4, 4);
                if (callee->entry_acc)
                    op = d == argbase ? WOP_P_ADDKA_CALL + k : WOP_P_ADDK_CALL_A + k;
                ph = C->labels[op * WASM_NVARIANTS];
                memcpy(head, &ph, sizeof ph);
            }
        }
    }
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
        C.ncalls_done = C.ncalls;
    }
    pick_calls(&C);
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
