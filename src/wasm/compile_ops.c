/*
 * compile_ops.c - validation and translation of the instructions other
 * than control flow and calls: variables, parametric and reference
 * instructions, loads and stores, bulk memory and table operations,
 * constants and numeric operators.  Shared machinery is in compile.c; the
 * design is described there.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wasm/compile.h"

/* ------------------------------------------------------------------ */
/* Variables, parametric and reference instructions                   */

static uint32_t code_opnd(const comp *C, size_t start, unsigned i);

/* local.set x of a value the last instruction, an I32_ADD_K "s a k", has
 * just written to local s (`local.tee s (i32.add a k)`, then local.set x:
 * a loop-carried pointer or count also kept in another local): the
 * addition is done again into x's slot (a is not s, so it still holds
 * what the first one read) instead of copying s, so x no longer waits for
 * s to be written and read back (the two additions pair into one
 * P_ADDK_ADDK).  Returns false (nothing emitted) when the code differs. */
static bool redo_addk(comp *C, uint32_t slot, const vent *e)
{
    size_t h = wasm_cc_hist(C, 0);
    uint32_t s = wasm_cc_enc(C, e), ops[3];
    int op;
    unsigned v;

    if (e->loc != LOC_LOCAL || C->nomem || h == NO_POS || h + WASM_INSN_SIZE(3) != C->len ||
        (C->barrier != NO_POS && C->barrier > h))
        return false;
    if (!wasm_cc_insn_op(C, h, &op, &v) || op != WOP_I32_ADD_K || v != 0 ||
        code_opnd(C, h, 0) != s || code_opnd(C, h, 1) == s)
        return false;
    ops[0] = slot;
    ops[1] = code_opnd(C, h, 1);
    ops[2] = code_opnd(C, h, 2);
    wasm_cc_emit_ops(C, WOP_I32_ADD_K, ops, 3, 3);
    return true;
}

/* local.set / local.tee of `x` with the popped value *e. */
static void set_local(comp *C, uint32_t x, vent *e, bool tee)
{
    uint32_t slot = C->lslot[x];

    if (e->loc == LOC_LOCAL && e->idx == x)
        return;
    /* Before any loop, a declared local nothing has written yet still
     * holds its initial zero (code so far only branches forward). */
    if (e->loc == LOC_CONST && e->cval == 0 && !C->loop_seen && !C->lwritten[x])
        return;
    C->lwritten[x] = 1;
    wasm_cc_materialize_locals(C, x);
    if (C->last.valid && !C->last.fixed_dst && e->loc == LOC_OWN && e->t == C->last.dst_t) {
        /* retarget the producer (it reads its operands before writing) */
        if (!C->nomem)
            memcpy(C->code + C->last.dst_pos, &slot, 4);
        C->last.valid = false;
        int lop = C->last.op;
        if (wasm_cc_acc_float_out(lop) && wasm_cc_hist(C, 0) == C->last.start &&
            lop != WOP_F64_PROMOTE_F32 &&
            (lop < WOP_F64_CONVERT_I32_S || lop > WOP_F64_CONVERT_I64_U)) {
            C->wt.valid = true;
            C->wt.start = C->last.start;
            C->wt.slot = slot;
            C->wt.op = C->last.op;
            C->wt.variant = C->last.variant;
        }
        if (tee) {
            e->loc = LOC_LOCAL;
            e->idx = x;
        }
        return;
    }
    if (C->ltypes[x] == TH_WASM_I32 && redo_addk(C, slot, e))
        return;
    wasm_cc_emit_move(C, slot, wasm_cc_enc(C, e), C->ltypes[x]);
}

int wasm_cc_op_local(comp *C, uint8_t op)
{
    uint32_t x;
    vent e, *n;

    if (wasm_cc_rd_u32(C, &x))
        return -1;
    if (x >= C->nlocals)
        return wasm_cc_fail(C, "unknown local %u", x);
    switch (op) {
    case 0x20:
        n = wasm_cc_push(C, C->ltypes[x]);
        if (n != NULL) {
            vent ref = {.loc = LOC_LOCAL, .idx = x};
            wasm_cc_set_loc(C, n, &ref);
        }
        return 0;
    case 0x21:
        if (wasm_cc_pop(C, C->ltypes[x], &e))
            return -1;
        if (emitting(C))
            set_local(C, x, &e, false);
        return 0;
    default:
        if (wasm_cc_pop(C, C->ltypes[x], &e))
            return -1;
        if (emitting(C))
            set_local(C, x, &e, true);
        n = wasm_cc_push(C, C->ltypes[x]);
        if (n != NULL)
            wasm_cc_set_loc(C, n, &e);
        return 0;
    }
}

int wasm_cc_op_global(comp *C, uint8_t op)
{
    uint32_t x;
    const wasm_globaltype *g;
    vent e, *d;

    if (wasm_cc_rd_u32(C, &x))
        return -1;
    if (x >= C->m->nglobals)
        return wasm_cc_fail(C, "unknown global %u", x);
    g = &C->m->globals[x];
    if (op == 0x23) {
        d = wasm_cc_push(C, g->valtype);
        if (d != NULL && emitting(C)) {
            uint32_t ops[2] = {TAG_TEMP | d->t, x};
            size_t nrel = C->nrelocs;
            int gop = g->valtype == TH_WASM_V128 ? WOP_GLOBAL_GET_V128 : WOP_GLOBAL_GET;
            size_t s = wasm_cc_emit_ops(C, gop, ops, 2, 1);
            wasm_cc_produced(C, s, nrel, d->t, gop, NULL);
        }
        return 0;
    }
    if (!g->mut)
        return wasm_cc_fail(C, "global is immutable");
    if (wasm_cc_pop(C, g->valtype, &e))
        return -1;
    if (emitting(C)) {
        uint32_t ops[2] = {x, wasm_cc_enc(C, &e)};
        bool narrow = g->valtype == TH_WASM_I32 || g->valtype == TH_WASM_F32;
        int gop = g->valtype == TH_WASM_V128 ? WOP_GLOBAL_SET_V128
                  : narrow                   ? WOP_GLOBAL_SET32
                                             : WOP_GLOBAL_SET;
        wasm_cc_emit_ops(C, gop, ops, 2, 2);
    }
    return 0;
}

/* Emit a value-producing instruction: result `type` pushed, then op with
 * [dst, ops...]; slotmask describes ops (bit i = ops[i] is a slot).  s0
 * and s1 are the operands read by the first two source slots (or NULL),
 * for the accumulator variants. */
static vent *emit_result2(comp *C, int op, uint8_t type, const uint32_t *ops, unsigned n,
                          unsigned slotmask, const vent *s0, const vent *s1)
{
    uint32_t all[6];
    vent *d = wasm_cc_push(C, type);
    size_t s, nrel;
    accpick ap;
    unsigned v;

    if (d == NULL || !emitting(C))
        return d;
    all[0] = TAG_TEMP | d->t;
    memcpy(all + 1, ops, n * sizeof *ops);
    nrel = C->nrelocs;
    v = wasm_cc_acc_pick(C, op, s0, s1, &ap);
    s = wasm_cc_emit_ops_v(C, op, v, all, n + 1, 1u | (slotmask << 1));
    wasm_cc_produced(C, s, nrel, d->t, op, &ap);
    return d;
}

static vent *emit_result(comp *C, int op, uint8_t type, const uint32_t *ops, unsigned n,
                         unsigned slotmask)
{
    return emit_result2(C, op, type, ops, n, slotmask, NULL, NULL);
}

int wasm_cc_op_select(comp *C, bool typed)
{
    vent c, a, b;
    uint8_t t = VT_UNKNOWN;

    if (typed) {
        uint32_t n;
        uint8_t vt = 0;
        if (wasm_cc_rd_u32(C, &n))
            return -1;
        if (n != 1)
            return wasm_cc_fail(C, "invalid result arity");
        if (wasm_cc_rd_byte(C, &vt))
            return -1;
        if (wasm_cc_valtype_list(vt) == NULL)
            return wasm_cc_fail(C, "malformed value type");
        t = vt;
    }
    if (wasm_cc_pop(C, TH_WASM_I32, &c) || wasm_cc_pop(C, t, &b) || wasm_cc_pop(C, t, &a))
        return -1;
    if (!typed) {
        if (!is_num(a.type) || !is_num(b.type))
            return wasm_cc_fail(C, "type mismatch");
        if (a.type != b.type && a.type != VT_UNKNOWN && b.type != VT_UNKNOWN)
            return wasm_cc_fail(C, "type mismatch");
        t = a.type == VT_UNKNOWN ? b.type : a.type;
    }
    if (emitting(C)) {
        uint32_t ops[3] = {wasm_cc_enc(C, &a), wasm_cc_enc(C, &b), wasm_cc_enc(C, &c)};
        emit_result(C, t == TH_WASM_V128 ? WOP_SELECT_V128 : WOP_SELECT, t, ops, 3, 7);
    } else {
        wasm_cc_push(C, t);
    }
    return 0;
}

int wasm_cc_op_ref(comp *C, uint8_t op)
{
    vent a, *d;
    uint8_t t = 0;
    uint32_t x = 0;

    switch (op) {
    case 0xd0: /* ref.null t */
        if (wasm_cc_rd_byte(C, &t))
            return -1;
        if (t != TH_WASM_FUNCREF && t != TH_WASM_EXTERNREF)
            return wasm_cc_fail(C, "malformed reference type");
        d = wasm_cc_push(C, t);
        if (d != NULL) {
            d->loc = LOC_CONST;
            d->cval = 0;
        }
        return 0;
    case 0xd1: /* ref.is_null */
        if (wasm_cc_pop(C, VT_UNKNOWN, &a))
            return -1;
        if (!is_ref(a.type))
            return wasm_cc_fail(C, "type mismatch");
        if (emitting(C)) {
            uint32_t ops[1] = {wasm_cc_enc(C, &a)};
            emit_result(C, WOP_REF_IS_NULL, TH_WASM_I32, ops, 1, 1);
        } else {
            wasm_cc_push(C, TH_WASM_I32);
        }
        return 0;
    default: /* ref.func x */
        if (wasm_cc_rd_u32(C, &x))
            return -1;
        if (x >= C->m->nfuncs)
            return wasm_cc_fail(C, "unknown function %u", x);
        if (C->m->func_declared == NULL || !C->m->func_declared[x])
            return wasm_cc_fail(C, "undeclared function reference");
        emit_result(C, WOP_REF_FUNC, TH_WASM_FUNCREF, &x, 1, 0);
        return 0;
    }
}

/* ------------------------------------------------------------------ */
/* Memory and table instructions                                      */

static int need_memory(comp *C)
{
    if (C->m->nmems == 0)
        return wasm_cc_fail(C, "unknown memory 0");
    return 0;
}

static int need_table(comp *C, uint32_t x)
{
    if (x >= C->m->ntables)
        return wasm_cc_fail(C, "unknown table %u", x);
    return 0;
}

static int need_datacount(comp *C, uint32_t x)
{
    if (!C->m->has_datacount) {
        if (x >= C->m->ndatas)
            return wasm_cc_fail(C, "unknown data segment %u", x);
        return wasm_cc_fail(C, "data count section required");
    }
    if (x >= C->m->datacount)
        return wasm_cc_fail(C, "unknown data segment %u", x);
    return 0;
}

/* Loads 0x28-0x35 and stores 0x36-0x3e. */
/* A load from the address that `add` (an I32_ADD_K just taken out of
 * the code) computed: one LOADK instruction "d a k off" does both, reading
 * its source where the addition did (a slot, or the accumulator). */
static void emit_loadk(comp *C, int op, uint8_t type, const lastinsn *add, uint32_t offset)
{
    vent *d = wasm_cc_push(C, type);
    size_t s, nrel = C->nrelocs;

    if (d == NULL)
        return;
    uint32_t ops[4] = {TAG_TEMP | d->t, add->a, add->b, offset};
    s = wasm_cc_emit_ops_v(C, op, add->acc.variant, ops, 4, 1u | ((add->slotmask & 1u) << 1));
    wasm_cc_produced(C, s, nrel, d->t, op, &add->acc);
}

/* Operand i of the instruction at code offset `start` (still tagged). */
static uint32_t code_opnd(const comp *C, size_t start, unsigned i)
{
    uint32_t v;
    memcpy(&v, C->code + start + 8 + 4 * i, 4);
    return v;
}

/* A load from the address that the instruction just taken out of the
 * code (`x`: an I32_ADD, F_SHLK_ADDK or F_SHLK_ADD) computed: one
 * LOADX / LOADSK / LOADSX instruction does both (load kind `k`, 0..8 in
 * the order of LOAD32..LOAD32_S64), reading its sources where x did. */
static void emit_load_ea(comp *C, const lastinsn *x, unsigned k, uint8_t type, uint32_t offset)
{
    vent *d = wasm_cc_push(C, type);
    uint32_t a = code_opnd(C, x->start, 1), b = code_opnd(C, x->start, 2);
    size_t s, nrel = C->nrelocs;
    accpick ap = x->acc;
    int op;

    if (d == NULL)
        return;
    if (x->op == WOP_I32_ADD) {
        uint32_t ops[4] = {TAG_TEMP | d->t, a, b, offset};
        op = WOP_LOADX32 + (int)k;
        s = wasm_cc_emit_ops_v(C, op, ap.variant, ops, 4, 7);
    } else {
        uint32_t ops[5] = {TAG_TEMP | d->t, a, b, code_opnd(C, x->start, 3), offset};
        bool sx = x->op == WOP_F_SHLK_ADD;
        op = (sx ? WOP_LOADSX32 : WOP_LOADSK32) + (int)k;
        if (ap.variant == WV_B) {
            /* x read its c operand from the accumulator: read it from
             * its slot again */
            wasm_cc_acc_undo(C, &ap);
            memset(&ap, 0, sizeof ap);
        }
        s = wasm_cc_emit_ops_v(C, op, ap.variant, ops, 5, sx ? 11 : 3);
    }
    wasm_cc_produced(C, s, nrel, d->t, op, &ap);
}

/* A store to the address the last instruction computed (an I32_ADD_K or
 * F_SHLK_ADD, producing `addr`, read by nothing else): one STOREK /
 * STORESX instruction (store kind `k`: 0..3 for 8..64 bits) does both.
 * Returns false (nothing emitted) when the address came otherwise. */
static bool emit_store_ea(comp *C, const vent *addr, unsigned k, uint32_t val, uint32_t offset)
{
    lastinsn x;

    if (wasm_cc_take_producer(C, addr, WOP_I32_ADD_K, &x)) {
        uint32_t ops[4] = {code_opnd(C, x.start, 1), code_opnd(C, x.start, 2), val, offset};
        wasm_cc_emit_ops_v(C, WOP_STOREK8 + (int)k, x.acc.variant, ops, 4, 5);
        return true;
    }
    if (wasm_cc_take_producer(C, addr, WOP_F_SHLK_ADD, &x)) {
        uint32_t ops[5] = {code_opnd(C, x.start, 1), code_opnd(C, x.start, 2),
                           code_opnd(C, x.start, 3), val, offset};
        if (x.acc.variant == WV_B) {
            wasm_cc_acc_undo(C, &x.acc);
            x.acc.variant = 0;
        }
        wasm_cc_emit_ops_v(C, WOP_STORESX8 + (int)k, x.acc.variant, ops, 5, 13);
        return true;
    }
    return false;
}

/* A store of the value an M_* instruction (the last one, result in a slot)
 * computed, back to the address its load read (the same slot, no
 * immediate, the same offset): one RMW_* instruction does both.  `wop`:
 * the store's operation; `val`: the stored value. */
static bool emit_rmw(comp *C, int wop, const vent *addr, const vent *val, uint32_t offset)
{
    const lastinsn *L = &C->last;
    lastinsn x;
    int op = L->op;

    if (!L->valid || L->variant != 0 || op < WOP_M_I32_ADD || op > WOP_M_F64_MUL2)
        return false;
    if ((op == WOP_M_I32_ADD) != (wop == WOP_STORE32) ||
        (op != WOP_M_I32_ADD && wop != WOP_STORE64))
        return false;
    if (code_opnd(C, L->start, 1) != wasm_cc_enc(C, addr) || code_opnd(C, L->start, 2) != 0 ||
        code_opnd(C, L->start, 3) != offset)
        return false;
    if (!wasm_cc_take_producer(C, val, op, &x))
        return false;
    uint32_t ops[3] = {code_opnd(C, x.start, 1), offset, code_opnd(C, x.start, 4)};
    wasm_cc_emit_ops(C, WOP_RMW_I32_ADD + (op - WOP_M_I32_ADD), ops, 3, 5);
    return true;
}

/* An f64 read-modify-write whose other operand is computed after the load:
 *   LOAD64 d1 p off              (d1 a temporary)
 *   X                            (f64 arithmetic that cannot trap, slots
 *                                 to the accumulator)
 *   F64_ADD / SUB / MUL d d1 acc
 * and the store writes d to p + off: X, then one RMWA_* "p off" doing the
 * load, the operator and the store (the load after X: X neither traps
 * nor touches memory, so nothing tells the orders apart). */
static bool emit_rmwa(comp *C, const vent *addr, const vent *val, uint32_t offset)
{
    const lastinsn *L = &C->last;
    size_t p = wasm_cc_hist(C, 2), x = wasm_cc_hist(C, 1);
    uint32_t d1, pa, xops[4];
    unsigned pv, xv, fv, nx;
    int op, xop, base;

    if (!L->valid || val->loc != LOC_OWN || val->t != L->dst_t || C->nomem ||
        wasm_cc_hist(C, 0) != L->start || p == NO_POS || x == NO_POS)
        return false;
    switch (L->op) {
    case WOP_F64_ADD: base = WOP_RMWA_F64_ADD; break;
    case WOP_F64_SUB: base = WOP_RMWA_F64_SUB; break;
    case WOP_F64_MUL: base = WOP_RMWA_F64_MUL; break;
    default: return false;
    }
    if ((C->barrier != NO_POS && C->barrier > p) || (C->pair_tail != NO_POS && C->pair_tail >= p))
        return false;
    if (!wasm_cc_insn_op(C, p, &op, &pv) || op != WOP_LOAD64 || pv != 0)
        return false;
    d1 = code_opnd(C, p, 0);
    pa = code_opnd(C, p, 1);
    if (!(d1 & TAG_TEMP) || pa != wasm_cc_enc(C, addr) || code_opnd(C, p, 2) != offset || pa == d1)
        return false;
    if (!wasm_cc_insn_op(C, x, &xop, &xv) || xv != WV_R)
        return false;
    if (xop == WOP_F64_ADD || xop == WOP_F64_SUB || xop == WOP_F64_MUL || xop == WOP_F64_DIV)
        nx = 3;
    else if (xop >= WOP_F_FMUL_FADD1 && xop <= WOP_F_FADD_FMUL2)
        nx = 4;
    else
        return false;
    if (x + WASM_INSN_SIZE(nx) != L->start)
        return false;
    for (unsigned i = 0; i < nx; i++) {
        xops[i] = code_opnd(C, x, i);
        if (i > 0 && xops[i] == d1)
            return false;
    }
    if (!wasm_cc_insn_op(C, L->start, &op, &fv) || fv != WV_B || code_opnd(C, L->start, 1) != d1)
        return false;
    wasm_cc_truncate(C, p);
    wasm_cc_emit_ops_v(C, xop, WV_R, xops, nx, (1u << nx) - 1);
    uint32_t ops[2] = {pa, offset};
    wasm_cc_emit_ops(C, base, ops, 2, 1);
    return true;
}

/* The i32 multiply-add store a[i] += b[i] * x: the last instructions are
 *   LOAD32 d1 p off             (d1 a temporary)
 *   LOAD32 / LOADK32 d2 q [k] off2   (to the accumulator or temporary d2)
 *   F_MUL_ADD d3 (d2 x | x d2) d1    (d2 from the accumulator or its slot)
 * and the store writes d3 to p + off: one RMW_MADD32 "p pk off q k off2 x"
 * replaces all four (same bounds checks in the same order, the loads
 * before the store).  When p was just set to a + pk by an I32_ADD_K
 * (`local.tee p (i32.add a pk)`, the address of an unrolled loop's second
 * element), that instruction stays, but RMW_MADD32 computes its address
 * from a itself: the address no longer waits for p's slot to be written
 * and read back. */
static bool emit_rmw_madd32(comp *C, const vent *addr, const vent *val, uint32_t offset)
{
    const lastinsn *L = &C->last;
    size_t p = wasm_cc_hist(C, 2), q = wasm_cc_hist(C, 1);
    uint32_t d1, pa, qa, qk, qoff, d2, fa, fb, x;
    int op;
    unsigned pv, qv, fv;

    if (!L->valid || L->op != WOP_F_MUL_ADD || val->loc != LOC_OWN || val->t != L->dst_t ||
        C->nomem || wasm_cc_hist(C, 0) != L->start || p == NO_POS || q == NO_POS)
        return false;
    if ((C->barrier != NO_POS && C->barrier > p) || (C->pair_tail != NO_POS && C->pair_tail >= p))
        return false;
    if (!wasm_cc_insn_op(C, p, &op, &pv) || op != WOP_LOAD32 || pv != 0)
        return false;
    d1 = code_opnd(C, p, 0);
    pa = code_opnd(C, p, 1);
    if (!(d1 & TAG_TEMP) || pa != wasm_cc_enc(C, addr) || code_opnd(C, p, 2) != offset || pa == d1)
        return false;
    if (!wasm_cc_insn_op(C, q, &op, &qv) || (qv != 0 && qv != WV_R))
        return false;
    d2 = code_opnd(C, q, 0);
    qa = code_opnd(C, q, 1);
    if (op == WOP_LOAD32) {
        qk = 0;
        qoff = code_opnd(C, q, 2);
    } else if (op == WOP_LOADK32) {
        qk = code_opnd(C, q, 2);
        qoff = code_opnd(C, q, 3);
    } else {
        return false;
    }
    if (qa == d1 || (qv == 0 && !(d2 & TAG_TEMP)) || pa == d2)
        return false;
    if (!wasm_cc_insn_op(C, L->start, &op, &fv) || op != WOP_F_MUL_ADD)
        return false;
    fa = code_opnd(C, L->start, 1);
    fb = code_opnd(C, L->start, 2);
    if (code_opnd(C, L->start, 3) != d1)
        return false;
    if (fv == WV_A && qv == WV_R)
        x = fb;
    else if (fv == WV_B && qv == WV_R)
        x = fa;
    else if (fv == 0 && qv == 0 && fa == d2)
        x = fb;
    else if (fv == 0 && qv == 0 && fb == d2)
        x = fa;
    else
        return false;
    if (x == d1 || x == d2)
        return false;
    uint32_t pbase = pa, pk = 0;
    bool after_addk = false;
    size_t h = wasm_cc_hist(C, 3);
    int hop;
    unsigned hv;
    if (h != NO_POS && h + WASM_INSN_SIZE(3) == p && (C->barrier == NO_POS || C->barrier <= h) &&
        wasm_cc_insn_op(C, h, &hop, &hv) && hop == WOP_I32_ADD_K && hv == 0 &&
        code_opnd(C, h, 0) == pa && code_opnd(C, h, 1) != pa) {
        /* nothing runs between the I32_ADD_K and this instruction, so its
         * source still holds what it read */
        pbase = code_opnd(C, h, 1);
        pk = code_opnd(C, h, 2);
        after_addk = true;
    }
    wasm_cc_truncate(C, p);
    if (after_addk && (C->pair_tail == NO_POS || C->pair_tail < h)) {
        /* the I32_ADD_K and this instruction run as one pair
         * (P_ADDK_RMW_MADD32: no dispatch between them) */
        C->prev.start = h;
        C->prev.op = WOP_I32_ADD_K;
        C->prev.variant = 0;
    }
    uint32_t ops[7] = {pbase, pk, offset, qa, qk, qoff, x};
    wasm_cc_emit_ops(C, WOP_RMW_MADD32, ops, 7, 1u | 8u | 64u);
    return true;
}

int wasm_cc_op_memory(comp *C, uint8_t op)
{
    /* natural alignment (log2), value type, internal op */
    static const struct {
        uint8_t align, type;
        uint8_t store;
        uint16_t wop;
    } mo[] = {
        {2, TH_WASM_I32, 0, WOP_LOAD32},     {3, TH_WASM_I64, 0, WOP_LOAD64},
        {2, TH_WASM_F32, 0, WOP_LOAD32},     {3, TH_WASM_F64, 0, WOP_LOAD64},
        {0, TH_WASM_I32, 0, WOP_LOAD8_S32},  {0, TH_WASM_I32, 0, WOP_LOAD8_U32},
        {1, TH_WASM_I32, 0, WOP_LOAD16_S32}, {1, TH_WASM_I32, 0, WOP_LOAD16_U32},
        {0, TH_WASM_I64, 0, WOP_LOAD8_S64},  {0, TH_WASM_I64, 0, WOP_LOAD8_U32},
        {1, TH_WASM_I64, 0, WOP_LOAD16_S64}, {1, TH_WASM_I64, 0, WOP_LOAD16_U32},
        {2, TH_WASM_I64, 0, WOP_LOAD32_S64}, {2, TH_WASM_I64, 0, WOP_LOAD32},
        {2, TH_WASM_I32, 1, WOP_STORE32},    {3, TH_WASM_I64, 1, WOP_STORE64},
        {2, TH_WASM_F32, 1, WOP_STORE32},    {3, TH_WASM_F64, 1, WOP_STORE64},
        {0, TH_WASM_I32, 1, WOP_STORE8},     {1, TH_WASM_I32, 1, WOP_STORE16},
        {0, TH_WASM_I64, 1, WOP_STORE8},     {1, TH_WASM_I64, 1, WOP_STORE16},
        {2, TH_WASM_I64, 1, WOP_STORE32},
    };
    uint32_t align, offset;
    vent addr, val;
    unsigned k = op - 0x28u;

    if (wasm_cc_rd_u32(C, &align) || wasm_cc_rd_u32(C, &offset))
        return -1;
    if (align >= 32)
        return wasm_cc_fail(C, "malformed memop flags");
    if (need_memory(C))
        return -1;
    if (align > mo[k].align)
        return wasm_cc_fail(C, "alignment must not be larger than natural");
    if (mo[k].store) {
        if (wasm_cc_pop(C, mo[k].type, &val) || wasm_cc_pop(C, TH_WASM_I32, &addr))
            return -1;
        if (emitting(C)) {
            uint32_t ops[3] = {wasm_cc_enc(C, &addr), wasm_cc_enc(C, &val), offset};
            accpick ap;
            unsigned v;
            if (emit_store_ea(C, &addr, (unsigned)(mo[k].wop - WOP_STORE8), ops[1], offset))
                return 0;
            if (mo[k].type == TH_WASM_I32 && mo[k].wop == WOP_STORE32 &&
                emit_rmw_madd32(C, &addr, &val, offset))
                return 0;
            if (mo[k].type != TH_WASM_I64 && emit_rmw(C, mo[k].wop, &addr, &val, offset))
                return 0;
            if (mo[k].type == TH_WASM_F64 && emit_rmwa(C, &addr, &val, offset))
                return 0;
            if (mo[k].type == TH_WASM_F64 &&
                ((C->last.valid && wasm_cc_acc_float_out(C->last.op)) || C->wt.valid) &&
                wasm_cc_acc_pick(C, WOP_STOREF64, &addr, &val, &ap) == WV_B) {
                /* the value an f64 operation just computed, from facc */
                wasm_cc_emit_ops_v(C, WOP_STOREF64, WV_B, ops, 3, 3);
                return 0;
            }
            v = wasm_cc_acc_pick(C, mo[k].wop, &addr, &val, &ap);
            wasm_cc_emit_ops_v(C, mo[k].wop, v, ops, 3, 3);
        }
        return 0;
    }
    if (wasm_cc_pop(C, TH_WASM_I32, &addr))
        return -1;
    if (emitting(C)) {
        uint32_t ops[2] = {wasm_cc_enc(C, &addr), offset};
        lastinsn add;
        unsigned kind = (unsigned)(mo[k].wop - WOP_LOAD32);
        if (wasm_cc_take_producer(C, &addr, WOP_I32_ADD_K, &add))
            emit_loadk(C, WOP_LOADK32 + (int)kind, mo[k].type, &add, offset);
        else if (wasm_cc_take_producer(C, &addr, WOP_I32_ADD, &add) ||
                 wasm_cc_take_producer(C, &addr, WOP_F_SHLK_ADDK, &add) ||
                 wasm_cc_take_producer(C, &addr, WOP_F_SHLK_ADD, &add))
            emit_load_ea(C, &add, kind, mo[k].type, offset);
        else
            emit_result2(C, mo[k].wop, mo[k].type, ops, 2, 1, &addr, NULL);
    } else {
        wasm_cc_push(C, mo[k].type);
    }
    return 0;
}

/* Pop n i32 operands; their encodings go to ops (bottom first). */
static int pop_i32s(comp *C, unsigned n, uint32_t *ops)
{
    static const uint8_t i32s[3] = {TH_WASM_I32, TH_WASM_I32, TH_WASM_I32};
    if (wasm_cc_pop_vals(C, i32s, n))
        return -1;
    if (emitting(C))
        for (unsigned i = 0; i < n; i++)
            ops[i] = wasm_cc_enc(C, &C->popped[i]);
    return 0;
}

int wasm_cc_op_table(comp *C, uint8_t op)
{
    uint32_t x, ops[4];
    vent i, v;
    uint8_t rt;

    if (wasm_cc_rd_u32(C, &x) || need_table(C, x))
        return -1;
    rt = C->m->tables[x].reftype;
    if (op == 0x25) { /* table.get */
        if (wasm_cc_pop(C, TH_WASM_I32, &i))
            return -1;
        if (emitting(C)) {
            ops[0] = x;
            ops[1] = wasm_cc_enc(C, &i);
            emit_result(C, WOP_TABLE_GET, rt, ops, 2, 2);
        } else {
            wasm_cc_push(C, rt);
        }
        return 0;
    }
    /* table.set */
    if (wasm_cc_pop(C, rt, &v) || wasm_cc_pop(C, TH_WASM_I32, &i))
        return -1;
    if (emitting(C)) {
        ops[0] = x;
        ops[1] = wasm_cc_enc(C, &i);
        ops[2] = wasm_cc_enc(C, &v);
        wasm_cc_emit_ops(C, WOP_TABLE_SET, ops, 3, 6);
    }
    return 0;
}

/* 0xFC prefix: saturating truncations, bulk memory, table operations. */
int wasm_cc_op_prefixed(comp *C)
{
    static const struct {
        uint16_t wop;
        uint8_t in, out;
    } sat[8] = {
        {WOP_I32_TRUNC_SAT_F32_S, TH_WASM_F32, TH_WASM_I32},
        {WOP_I32_TRUNC_SAT_F32_U, TH_WASM_F32, TH_WASM_I32},
        {WOP_I32_TRUNC_SAT_F64_S, TH_WASM_F64, TH_WASM_I32},
        {WOP_I32_TRUNC_SAT_F64_U, TH_WASM_F64, TH_WASM_I32},
        {WOP_I64_TRUNC_SAT_F32_S, TH_WASM_F32, TH_WASM_I64},
        {WOP_I64_TRUNC_SAT_F32_U, TH_WASM_F32, TH_WASM_I64},
        {WOP_I64_TRUNC_SAT_F64_S, TH_WASM_F64, TH_WASM_I64},
        {WOP_I64_TRUNC_SAT_F64_U, TH_WASM_F64, TH_WASM_I64},
    };
    const th_wasm_module *m = C->m;
    uint32_t sub, x, y, ops[6];
    vent a, v;
    bool em;

    if (wasm_cc_rd_u32(C, &sub))
        return -1;
    if (sub < 8) {
        if (wasm_cc_pop(C, sat[sub].in, &a))
            return -1;
        ops[0] = emitting(C) ? wasm_cc_enc(C, &a) : 0;
        emit_result(C, sat[sub].wop, sat[sub].out, ops, 1, 1);
        return 0;
    }
    switch (sub) {
    case 8: /* memory.init data 0 */
        if (wasm_cc_rd_u32(C, &x) || wasm_cc_rd_zero(C) || need_memory(C) || need_datacount(C, x))
            return -1;
        if (pop_i32s(C, 3, ops + 1))
            return -1;
        ops[0] = x;
        if (emitting(C))
            wasm_cc_emit_ops(C, WOP_MEMORY_INIT, ops, 4, 14);
        return 0;
    case 9: /* data.drop */
        if (wasm_cc_rd_u32(C, &x) || need_datacount(C, x))
            return -1;
        if (emitting(C))
            wasm_cc_emit_ops(C, WOP_DATA_DROP, &x, 1, 0);
        return 0;
    case 10: /* memory.copy 0 0 */
        if (wasm_cc_rd_zero(C) || wasm_cc_rd_zero(C) || need_memory(C) || pop_i32s(C, 3, ops))
            return -1;
        if (emitting(C))
            wasm_cc_emit_ops(C, WOP_MEMORY_COPY, ops, 3, 7);
        return 0;
    case 11: /* memory.fill 0 */
        if (wasm_cc_rd_zero(C) || need_memory(C) || pop_i32s(C, 3, ops))
            return -1;
        if (emitting(C))
            wasm_cc_emit_ops(C, WOP_MEMORY_FILL, ops, 3, 7);
        return 0;
    case 12: /* table.init elem table */
        if (wasm_cc_rd_u32(C, &y) || wasm_cc_rd_u32(C, &x) || need_table(C, x))
            return -1;
        if (y >= m->nelems)
            return wasm_cc_fail(C, "unknown elem segment %u", y);
        if (m->elems[y].reftype != m->tables[x].reftype)
            return wasm_cc_fail(C, "type mismatch");
        if (pop_i32s(C, 3, ops + 2))
            return -1;
        ops[0] = x;
        ops[1] = y;
        if (emitting(C))
            wasm_cc_emit_ops(C, WOP_TABLE_INIT, ops, 5, 28);
        return 0;
    case 13: /* elem.drop */
        if (wasm_cc_rd_u32(C, &x))
            return -1;
        if (x >= m->nelems)
            return wasm_cc_fail(C, "unknown elem segment %u", x);
        if (emitting(C))
            wasm_cc_emit_ops(C, WOP_ELEM_DROP, &x, 1, 0);
        return 0;
    case 14: /* table.copy dst src */
        if (wasm_cc_rd_u32(C, &x) || wasm_cc_rd_u32(C, &y) || need_table(C, x) || need_table(C, y))
            return -1;
        if (m->tables[x].reftype != m->tables[y].reftype)
            return wasm_cc_fail(C, "type mismatch");
        if (pop_i32s(C, 3, ops + 2))
            return -1;
        ops[0] = x;
        ops[1] = y;
        if (emitting(C))
            wasm_cc_emit_ops(C, WOP_TABLE_COPY, ops, 5, 28);
        return 0;
    case 15: /* table.grow: init n -> old size */
        if (wasm_cc_rd_u32(C, &x) || need_table(C, x))
            return -1;
        if (wasm_cc_pop(C, TH_WASM_I32, &a) || wasm_cc_pop(C, m->tables[x].reftype, &v))
            return -1;
        em = emitting(C);
        ops[0] = x;
        ops[1] = em ? wasm_cc_enc(C, &v) : 0;
        ops[2] = em ? wasm_cc_enc(C, &a) : 0;
        emit_result(C, WOP_TABLE_GROW, TH_WASM_I32, ops, 3, 6);
        return 0;
    case 16: /* table.size */
        if (wasm_cc_rd_u32(C, &x) || need_table(C, x))
            return -1;
        emit_result(C, WOP_TABLE_SIZE, TH_WASM_I32, &x, 1, 0);
        return 0;
    case 17: { /* table.fill: i v n */
        vent i, n;
        if (wasm_cc_rd_u32(C, &x) || need_table(C, x))
            return -1;
        if (wasm_cc_pop(C, TH_WASM_I32, &n) || wasm_cc_pop(C, m->tables[x].reftype, &v) ||
            wasm_cc_pop(C, TH_WASM_I32, &i))
            return -1;
        if (emitting(C)) {
            ops[0] = x;
            ops[1] = wasm_cc_enc(C, &i);
            ops[2] = wasm_cc_enc(C, &v);
            ops[3] = wasm_cc_enc(C, &n);
            wasm_cc_emit_ops(C, WOP_TABLE_FILL, ops, 4, 14);
        }
        return 0;
    }
    default: return wasm_cc_fail(C, "illegal opcode 0xfc %u", sub);
    }
}

int wasm_cc_op_memsize(comp *C, uint8_t op)
{
    vent a;
    uint32_t ops[1];

    if (wasm_cc_rd_zero(C) || need_memory(C))
        return -1;
    if (op == 0x3f) {
        emit_result(C, WOP_MEMORY_SIZE, TH_WASM_I32, ops, 0, 0);
        return 0;
    }
    if (wasm_cc_pop(C, TH_WASM_I32, &a))
        return -1;
    ops[0] = emitting(C) ? wasm_cc_enc(C, &a) : 0;
    emit_result(C, WOP_MEMORY_GROW, TH_WASM_I32, ops, 1, 1);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Constants and numeric instructions                                 */

int wasm_cc_op_const(comp *C, uint8_t op)
{
    int64_t v = 0;
    uint8_t type;
    uint64_t bits = 0;
    vent *e;

    switch (op) {
    case 0x41:
        if (wasm_cc_rd_sleb(C, 32, &v))
            return -1;
        type = TH_WASM_I32;
        bits = (uint32_t)v;
        break;
    case 0x42:
        if (wasm_cc_rd_sleb(C, 64, &v))
            return -1;
        type = TH_WASM_I64;
        bits = (uint64_t)v;
        break;
    default: {
        unsigned n = op == 0x43 ? 4 : 8;
        if ((size_t)(C->end - C->p) < n)
            return wasm_cc_fail(C, "unexpected end of section or function");
        for (unsigned i = 0; i < n; i++)
            bits |= (uint64_t)C->p[i] << (8 * i);
        C->p += n;
        type = op == 0x43 ? TH_WASM_F32 : TH_WASM_F64;
        break;
    }
    }
    e = wasm_cc_push(C, type);
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
#define UN(op, w, a, r) [(op)-0x45] = {WOP_##w, a, 0, r, NK_OP}
#define BI(op, w, a, r) [(op)-0x45] = {WOP_##w, a, a, r, NK_OP}
#define CM(op, w, a, k) [(op)-0x45] = {WOP_##w, a, a, I_, k}
#define RT(op, a, r) [(op)-0x45] = {0, a, 0, r, NK_RETYPE}

/* Opcodes 0x45..0xc4. */
static const numop numops[0xc5 - 0x45] = {
    [0] = {WOP_I32_EQZ, I_, 0, I_, NK_EQZ32},
    CM(0x46, I32_EQ, I_, NK_CMP32),
    CM(0x47, I32_NE, I_, NK_CMP32),
    CM(0x48, I32_LT_S, I_, NK_CMP32),
    CM(0x49, I32_LT_U, I_, NK_CMP32),
    CM(0x4a, I32_GT_S, I_, NK_CMP32),
    CM(0x4b, I32_GT_U, I_, NK_CMP32),
    CM(0x4c, I32_LE_S, I_, NK_CMP32),
    CM(0x4d, I32_LE_U, I_, NK_CMP32),
    CM(0x4e, I32_GE_S, I_, NK_CMP32),
    CM(0x4f, I32_GE_U, I_, NK_CMP32),
    [0x50 - 0x45] = {WOP_I64_EQZ, L_, 0, I_, NK_EQZ64},
    CM(0x51, I64_EQ, L_, NK_CMP64),
    CM(0x52, I64_NE, L_, NK_CMP64),
    CM(0x53, I64_LT_S, L_, NK_CMP64),
    CM(0x54, I64_LT_U, L_, NK_CMP64),
    CM(0x55, I64_GT_S, L_, NK_CMP64),
    CM(0x56, I64_GT_U, L_, NK_CMP64),
    CM(0x57, I64_LE_S, L_, NK_CMP64),
    CM(0x58, I64_LE_U, L_, NK_CMP64),
    CM(0x59, I64_GE_S, L_, NK_CMP64),
    CM(0x5a, I64_GE_U, L_, NK_CMP64),
    CM(0x5b, F32_EQ, F_, NK_OP),
    CM(0x5c, F32_NE, F_, NK_OP),
    CM(0x5d, F32_LT, F_, NK_OP),
    CM(0x5e, F32_GT, F_, NK_OP),
    CM(0x5f, F32_LE, F_, NK_OP),
    CM(0x60, F32_GE, F_, NK_OP),
    CM(0x61, F64_EQ, D_, NK_OP),
    CM(0x62, F64_NE, D_, NK_OP),
    CM(0x63, F64_LT, D_, NK_OP),
    CM(0x64, F64_GT, D_, NK_OP),
    CM(0x65, F64_LE, D_, NK_OP),
    CM(0x66, F64_GE, D_, NK_OP),
    UN(0x67, I32_CLZ, I_, I_),
    UN(0x68, I32_CTZ, I_, I_),
    UN(0x69, I32_POPCNT, I_, I_),
    BI(0x6a, I32_ADD, I_, I_),
    BI(0x6b, I32_SUB, I_, I_),
    BI(0x6c, I32_MUL, I_, I_),
    BI(0x6d, I32_DIV_S, I_, I_),
    BI(0x6e, I32_DIV_U, I_, I_),
    BI(0x6f, I32_REM_S, I_, I_),
    BI(0x70, I32_REM_U, I_, I_),
    BI(0x71, I32_AND, I_, I_),
    BI(0x72, I32_OR, I_, I_),
    BI(0x73, I32_XOR, I_, I_),
    BI(0x74, I32_SHL, I_, I_),
    BI(0x75, I32_SHR_S, I_, I_),
    BI(0x76, I32_SHR_U, I_, I_),
    BI(0x77, I32_ROTL, I_, I_),
    BI(0x78, I32_ROTR, I_, I_),
    UN(0x79, I64_CLZ, L_, L_),
    UN(0x7a, I64_CTZ, L_, L_),
    UN(0x7b, I64_POPCNT, L_, L_),
    BI(0x7c, I64_ADD, L_, L_),
    BI(0x7d, I64_SUB, L_, L_),
    BI(0x7e, I64_MUL, L_, L_),
    BI(0x7f, I64_DIV_S, L_, L_),
    BI(0x80, I64_DIV_U, L_, L_),
    BI(0x81, I64_REM_S, L_, L_),
    BI(0x82, I64_REM_U, L_, L_),
    BI(0x83, I64_AND, L_, L_),
    BI(0x84, I64_OR, L_, L_),
    BI(0x85, I64_XOR, L_, L_),
    BI(0x86, I64_SHL, L_, L_),
    BI(0x87, I64_SHR_S, L_, L_),
    BI(0x88, I64_SHR_U, L_, L_),
    BI(0x89, I64_ROTL, L_, L_),
    BI(0x8a, I64_ROTR, L_, L_),
    UN(0x8b, F32_ABS, F_, F_),
    UN(0x8c, F32_NEG, F_, F_),
    UN(0x8d, F32_CEIL, F_, F_),
    UN(0x8e, F32_FLOOR, F_, F_),
    UN(0x8f, F32_TRUNC, F_, F_),
    UN(0x90, F32_NEAREST, F_, F_),
    UN(0x91, F32_SQRT, F_, F_),
    BI(0x92, F32_ADD, F_, F_),
    BI(0x93, F32_SUB, F_, F_),
    BI(0x94, F32_MUL, F_, F_),
    BI(0x95, F32_DIV, F_, F_),
    BI(0x96, F32_MIN, F_, F_),
    BI(0x97, F32_MAX, F_, F_),
    BI(0x98, F32_COPYSIGN, F_, F_),
    UN(0x99, F64_ABS, D_, D_),
    UN(0x9a, F64_NEG, D_, D_),
    UN(0x9b, F64_CEIL, D_, D_),
    UN(0x9c, F64_FLOOR, D_, D_),
    UN(0x9d, F64_TRUNC, D_, D_),
    UN(0x9e, F64_NEAREST, D_, D_),
    UN(0x9f, F64_SQRT, D_, D_),
    BI(0xa0, F64_ADD, D_, D_),
    BI(0xa1, F64_SUB, D_, D_),
    BI(0xa2, F64_MUL, D_, D_),
    BI(0xa3, F64_DIV, D_, D_),
    BI(0xa4, F64_MIN, D_, D_),
    BI(0xa5, F64_MAX, D_, D_),
    BI(0xa6, F64_COPYSIGN, D_, D_),
    RT(0xa7, L_, I_), /* i32.wrap_i64: the low half already is the result */
    UN(0xa8, I32_TRUNC_F32_S, F_, I_),
    UN(0xa9, I32_TRUNC_F32_U, F_, I_),
    UN(0xaa, I32_TRUNC_F64_S, D_, I_),
    UN(0xab, I32_TRUNC_F64_U, D_, I_),
    UN(0xac, I64_EXTEND_I32_S, I_, L_),
    UN(0xad, I64_EXTEND_I32_U, I_, L_),
    UN(0xae, I64_TRUNC_F32_S, F_, L_),
    UN(0xaf, I64_TRUNC_F32_U, F_, L_),
    UN(0xb0, I64_TRUNC_F64_S, D_, L_),
    UN(0xb1, I64_TRUNC_F64_U, D_, L_),
    UN(0xb2, F32_CONVERT_I32_S, I_, F_),
    UN(0xb3, F32_CONVERT_I32_U, I_, F_),
    UN(0xb4, F32_CONVERT_I64_S, L_, F_),
    UN(0xb5, F32_CONVERT_I64_U, L_, F_),
    UN(0xb6, F32_DEMOTE_F64, D_, F_),
    UN(0xb7, F64_CONVERT_I32_S, I_, D_),
    UN(0xb8, F64_CONVERT_I32_U, I_, D_),
    UN(0xb9, F64_CONVERT_I64_S, L_, D_),
    UN(0xba, F64_CONVERT_I64_U, L_, D_),
    UN(0xbb, F64_PROMOTE_F32, F_, D_),
    RT(0xbc, F_, I_),
    RT(0xbd, D_, L_),
    RT(0xbe, I_, F_),
    RT(0xbf, L_, D_),
    UN(0xc0, I32_EXTEND8_S, I_, I_),
    UN(0xc1, I32_EXTEND16_S, I_, I_),
    UN(0xc2, I64_EXTEND8_S, L_, L_),
    UN(0xc3, I64_EXTEND16_S, L_, L_),
    UN(0xc4, I64_EXTEND32_S, L_, L_),
};

/* Branch-if-not for each i32/i64 comparison (eq ne lt_s lt_u gt_s gt_u
 * le_s le_u ge_s ge_u): the index of its negation. */
static const uint8_t cmp_negation[10] = {1, 0, 8, 9, 6, 7, 4, 5, 2, 3};

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
static const uint8_t cmp_mirror[10] = {0, 1, 4, 5, 2, 3, 8, 9, 6, 7};

/* Try the immediate form of binary `n` on a and b: fills ops[0] (the slot
 * operand, *varp its entry) and ops[1] (the immediate) and returns the op,
 * or -1. */
static int try_kform(comp *C, const numop *n, const vent *a, const vent *b, uint32_t *ops,
                     const vent **varp)
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
    ops[0] = wasm_cc_enc(C, var);
    *varp = var;
    ops[1] = (uint32_t)v;
    return kop;
}

/* The fused pairs (interp.h): operations x then y, x's result as y's
 * source `pos` (0: either). */
enum { FK_KB, FK_KK, FK_UX64, FK_BB32, FK_BBF64 };
static const struct fusion {
    int16_t x, y, f;
    uint8_t pos, kind;
} fusions[] = {
#define FUSION_ENTRY(X, kind, name, x, y, pos, expr) {WOP_##x, WOP_##y, WOP_##name, pos, FK_##kind},
    WASM_FUSED_LIST(_, FUSION_ENTRY)
#undef FUSION_ENTRY
};

/* Three rotates (or two and a shift) xor-ed together, passing their
 * values in the accumulator:
 *   I32_ROTL_K__R  a k1                 (acc = rotl(a, k1))
 *   F_ROTLK_XOR_B__R  b k2              (acc = rotl(b, k2) ^ acc)
 *   F_ROTLK_XOR_B / F_SHRUK_XOR_B       (being emitted: x3 is its shift)
 * become one T_* instruction "d a k1 b k2 c k3".  The first two write no
 * slot, so reading all three sources first changes nothing.  Returns
 * false (nothing changed) when the code does not match. */
static bool try_xor3(comp *C, int f, const lastinsn *x3, uint32_t dst_t)
{
    const lastinsn *L = &C->last;
    size_t p = wasm_cc_hist(C, 1), q = wasm_cc_hist(C, 0);
    uint32_t ops[7];
    size_t s, nrel;
    unsigned v;
    int op;

    if (f != WOP_F_ROTLK_XOR && f != WOP_F_SHRUK_XOR)
        return false;
    if (!L->valid || L->op != WOP_F_ROTLK_XOR || L->start != q || p == NO_POS || C->nomem ||
        p + WASM_INSN_SIZE(3) != q)
        return false;
    if ((C->barrier != NO_POS && C->barrier > p) || (C->pair_tail != NO_POS && C->pair_tail >= p))
        return false;
    if (!wasm_cc_insn_op(C, q, &op, &v) || op != WOP_F_ROTLK_XOR || v != (WV_B | WV_R))
        return false;
    if (!wasm_cc_insn_op(C, p, &op, &v) || op != WOP_I32_ROTL_K || v != WV_R)
        return false;
    ops[0] = TAG_TEMP | dst_t;
    ops[1] = code_opnd(C, p, 1);
    ops[2] = code_opnd(C, p, 2);
    ops[3] = code_opnd(C, q, 1);
    ops[4] = code_opnd(C, q, 2);
    ops[5] = x3->a;
    ops[6] = x3->b;
    op = f == WOP_F_ROTLK_XOR ? WOP_T_ROTLK3_XOR : WOP_T_ROTLK2_SHRUK_XOR;
    wasm_cc_truncate(C, p);
    nrel = C->nrelocs;
    s = wasm_cc_emit_ops(C, op, ops, 7, 1u | 2u | 8u | 32u);
    wasm_cc_produced(C, s, nrel, dst_t, op, NULL);
    return true;
}

/* Emit `yop` (sources ops[0], ops[1]: s0, s1; immediate ops[1] when yk)
 * fused with the instruction before it when that one produced a source
 * and the pair is in WASM_FUSED_LIST: x's instruction goes and one
 * instruction "d xa xb c" does both.  Returns true when it did. */
static bool try_fuse(comp *C, int yop, bool yk, uint8_t out, const uint32_t *ops, const vent *s0,
                     const vent *s1)
{
    const lastinsn *L = &C->last;
    const vent *xv;
    unsigned pos;
    uint32_t other;
    bool other_slot = !yk;
    lastinsn x;
    vent *d;
    size_t s, nrel;

    if (!L->valid)
        return false;
    if (s0 != NULL && s0->loc == LOC_OWN && s0->t == L->dst_t) {
        xv = s0;
        pos = 1;
        other = ops[1];
    } else if (!yk && s1 != NULL && s1->loc == LOC_OWN && s1->t == L->dst_t) {
        xv = s1;
        pos = 2;
        other = ops[0];
    } else {
        return false;
    }
    for (size_t i = 0; i < sizeof fusions / sizeof fusions[0]; i++) {
        const struct fusion *f = &fusions[i];
        if (f->x != L->op || f->y != yop || (f->pos != 0 && f->pos != pos))
            continue;
        if (!wasm_cc_take_producer(C, xv, f->x, &x))
            return false;
        /* KB: Y's other operand c may come from the accumulator, when the
         * instruction before x produced it and x read no accumulator */
        accpick cp = x.acc;
        if ((f->kind == FK_KB || f->kind == FK_UX64) && x.acc.variant == 0)
            wasm_cc_acc_pick(C, f->f, NULL, pos == 1 ? s1 : s0, &cp);
        d = wasm_cc_push(C, out);
        if (d == NULL)
            return true;
        nrel = C->nrelocs;
        if (cp.variant == WV_B && x.slotmask == 1 && try_xor3(C, f->f, &x, d->t))
            return true;
        uint32_t all[4] = {TAG_TEMP | d->t, x.a, x.b, other};
        s = wasm_cc_emit_ops_v(C, f->f, cp.variant, all, 4,
                               1u | ((unsigned)x.slotmask << 1) | (other_slot ? 8u : 0u));
        wasm_cc_produced(C, s, nrel, d->t, f->f, &cp);
        return true;
    }
    return false;
}

/* Emit `wop` (two slot sources ops[0] = s0, ops[1] = s1) as one M_*
 * instruction when the last instruction is a plain load (LOAD or LOADK,
 * address from a slot) of one of its sources and interp.h has that
 * combination: the load goes.  Returns true when it did. */
static bool try_memop(comp *C, int wop, uint8_t out, const uint32_t *ops, const vent *s0,
                      const vent *s1)
{
    const lastinsn *L = &C->last;
    const vent *mv;
    uint32_t other;
    unsigned pos;
    bool k32, k64;
    int mop;
    lastinsn x;
    vent *d;
    size_t s, nrel;

    if (!L->valid || L->variant != 0)
        return false;
    if (s1 != NULL && s1->loc == LOC_OWN && s1->t == L->dst_t) {
        mv = s1;
        pos = 2;
        other = ops[0];
    } else if (s0 != NULL && s0->loc == LOC_OWN && s0->t == L->dst_t) {
        mv = s0;
        pos = 1;
        other = ops[1];
    } else {
        return false;
    }
    k32 = L->op == WOP_LOAD32 || L->op == WOP_LOADK32;
    k64 = L->op == WOP_LOAD64 || L->op == WOP_LOADK64;
    switch (wop) {
    case WOP_I32_ADD: mop = k32 ? WOP_M_I32_ADD : -1; break;
    case WOP_F64_ADD: mop = k64 ? (pos == 1 ? WOP_M_F64_ADD1 : WOP_M_F64_ADD2) : -1; break;
    case WOP_F64_SUB: mop = k64 ? (pos == 1 ? WOP_M_F64_SUB1 : WOP_M_F64_SUB2) : -1; break;
    case WOP_F64_MUL: mop = k64 ? (pos == 1 ? WOP_M_F64_MUL1 : WOP_M_F64_MUL2) : -1; break;
    default: mop = -1; break;
    }
    if (mop < 0 || !wasm_cc_take_producer(C, mv, L->op, &x))
        return false;
    d = wasm_cc_push(C, out);
    if (d == NULL)
        return true;
    bool is_k = x.op == WOP_LOADK32 || x.op == WOP_LOADK64;
    uint32_t all[5] = {TAG_TEMP | d->t, code_opnd(C, x.start, 1),
                       is_k ? code_opnd(C, x.start, 2) : 0, code_opnd(C, x.start, is_k ? 3 : 2),
                       other};
    nrel = C->nrelocs;
    s = wasm_cc_emit_ops_v(C, mop, 0, all, 5, 1u | 2u | 16u);
    wasm_cc_produced(C, s, nrel, d->t, mop, NULL);
    return true;
}

int wasm_cc_op_numeric(comp *C, uint8_t op)
{
    const numop *n = &numops[op - 0x45];
    vent a, b, *d;
    uint32_t ops[2];
    unsigned nops = n->in2 ? 2 : 1, slotmask = nops == 2 ? 3 : 1;
    int wop = n->wop, kop = -1;
    const vent *s0 = NULL, *s1 = NULL;

    if (n->in2 && wasm_cc_pop(C, n->in2, &b))
        return -1;
    if (wasm_cc_pop(C, n->in1, &a))
        return -1;
    if (n->kind == NK_RETYPE) {
        /* same bits, new type: the operand stays where it is */
        d = wasm_cc_push(C, n->out);
        if (d != NULL)
            wasm_cc_set_loc(C, d, &a);
        return 0;
    }
    if (!emitting(C)) {
        wasm_cc_push(C, n->out);
        return 0;
    }
    if (nops == 2)
        kop = try_kform(C, n, &a, &b, ops, &s0);
    if (kop >= 0) {
        wop = kop;
        slotmask = 1;
    } else {
        ops[0] = wasm_cc_enc(C, &a);
        s0 = &a;
        if (nops == 2) {
            ops[1] = wasm_cc_enc(C, &b);
            s1 = &b;
        }
    }
    if (nops == 2 && try_fuse(C, wop, kop >= 0, n->out, ops, s0, s1))
        return 0;
    if (nops == 2 && kop < 0 && try_memop(C, wop, n->out, ops, s0, s1))
        return 0;
    d = emit_result2(C, wop, n->out, ops, nops, slotmask, s0, s1);
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
    default: break;
    }
    return 0;
}
