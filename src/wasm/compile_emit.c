/*
 * compile_emit.c - the translator's code buffer: emitting instructions
 * (handler, operands, padding), the relocation tags of temporary and
 * constant slots, the per-function constant area, copies and moves,
 * handler variants (the accumulator: which instruction writes it and which
 * reads it) and the adjacent pairs that run without a dispatch between
 * them (wasm_cc_pair_op).  The format is described in interp.h; what is
 * emitted when is decided by compile.c, compile_ops.c and compile_simd.c.
 *
 * Nothing here fails: after an allocation failure C->nomem is set, further
 * emission does nothing, and the function's translation reports TH_ENOMEM.
 */
#include <stdlib.h>
#include <string.h>

#include "wasm/compile.h"

/* ------------------------------------------------------------------ */
/* Emitting code                                                      */

static uint8_t *room(comp *C, size_t n)
{
    if (C->nomem)
        return NULL;
    if (!wasm_cc_grow((void **)&C->code, &C->cap, C->len + n, 1)) {
        C->nomem = true;
        return NULL;
    }
    return C->code + C->len;
}

void wasm_cc_emit_u32(comp *C, uint32_t v)
{
    uint8_t *w = room(C, 4);
    if (w == NULL)
        return;
    memcpy(w, &v, 4);
    C->len += 4;
}

/* The pair instruction doing `a` (variant av) then `b` (bv), or -1. */
int wasm_cc_pair_op(int a, unsigned av, int b, unsigned bv)
{
    if (a == WOP_I32_ADD_K && av == 0 && bv == 0) {
        if (b == WOP_I32_ADD_K)
            return WOP_P_ADDK_ADDK;
        if (b == WOP_RMW_MADD32)
            return WOP_P_ADDK_RMW_MADD32;
        if (b == WOP_CALL)
            return WOP_P_ADDK_CALL;
        if (b == WOP_BR_BACK)
            return WOP_P_ADDK_BR_BACK;
        if (b == WOP_BR_IF_NZ_BACK)
            return WOP_P_ADDK_BR_IF_NZ_BACK;
        if (b >= WOP_BRB_IF_I32_EQ && b <= WOP_BRB_IF_I32_GE_U)
            return WOP_P_ADDK_BRB_EQ + (b - WOP_BRB_IF_I32_EQ);
        if (b >= WOP_BRB_IF_I32_EQ_K && b <= WOP_BRB_IF_I32_GE_U_K)
            return WOP_P_ADDK_BRB_EQ_K + (b - WOP_BRB_IF_I32_EQ_K);
    }
    if (a == WOP_LOADSK32 && av == WV_R && b == WOP_BR_TABLE && bv == WV_A)
        return WOP_P_LSK32_BR_TABLE;
    if (av == WV_R && b == WOP_RET1 && bv == WV_A) {
        if (a == WOP_I32_ADD)
            return WOP_P_ADD32_RET1;
        if (a == WOP_I64_ADD)
            return WOP_P_ADD64_RET1;
        if (a == WOP_F_EXTU_ADD64)
            return WOP_P_EXTUADD64_RET1;
    }
    if (av != 0 || bv != 0)
        return -1;
    if (a == WOP_COPY && b == WOP_BR_BACK)
        return WOP_P_COPY_BR_BACK;
    if (a == WOP_COPY2 && b == WOP_BR_BACK)
        return WOP_P_COPY2_BR_BACK;
    if (a == WOP_COPY3 && b == WOP_BR_BACK)
        return WOP_P_COPY3_BR_BACK;
    if (a == WOP_COPY4 && b == WOP_BR_BACK)
        return WOP_P_COPY4_BR_BACK;
    return -1;
}

/* Start an instruction (variant `variant` of `op`); returns its offset.
 * When the previous instruction and this one form a known pair, the
 * previous one's handler becomes the pair's (both stay in the code, so
 * branches to the second and resumption at it still work). */
size_t wasm_cc_emit_begin_v(comp *C, int op, unsigned variant)
{
    size_t start = C->len;
    const void *h;
    uint8_t *w;
    int pair;

    if (C->entry_pick) {
        /* the first parameter is in the accumulator at offset 0 only */
        C->entry_pick = false;
        if (start != 0)
            variant &= ~(unsigned)(WV_A | WV_B);
        else if (variant & (WV_A | WV_B))
            C->entry_acc_used = true;
    }
    h = C->labels[op * WASM_NVARIANTS + variant];
    w = room(C, 8);

    C->last2 = C->last;
    C->last.valid = false;
    C->wt.valid = false;
    if (w == NULL)
        return start;
    memcpy(w, &h, sizeof h);
    C->len += 8;
    while (C->nhist > 0 && C->hist[C->nhist - 1] >= start)
        C->nhist--;
    if (C->nhist == WASM_CC_HIST) {
        memmove(C->hist, C->hist + 1, (WASM_CC_HIST - 1) * sizeof C->hist[0]);
        C->nhist--;
    }
    C->hist[C->nhist++] = start;
    if (C->prev.op >= 0 &&
        (pair = wasm_cc_pair_op(C->prev.op, C->prev.variant, op, variant)) >= 0) {
        /* a P_ADDK_ADDK whose second instruction heads this pair (a
         * P_ADDK_BR_BACK, P_ADDK_BRB_*, ...) goes straight into it */
        size_t chain = NO_POS, chain3 = NO_POS, hp;
        int hop, chain_op = WOP_P_ADDK_ADDK;
        unsigned hv;
        if (C->pair_tail != NO_POS && C->pair_tail == C->prev.start && pair >= WOP_P_ADDK_BR_BACK &&
            pair <= WOP_P_ADDK_BRB_GE_U_K && wasm_cc_insn_op(C, C->pair_head, &hop, &hv) &&
            hop == WOP_P_ADDK_ADDK) {
            chain = C->pair_head;
            wasm_cc_set_handler(C, chain, WOP_P_ADDK2_BR_BACK + (pair - WOP_P_ADDK_BR_BACK), 0);
            /* a P_ADDK_ADDK whose second addition is the chain's first
             * (three additions before the back-edge) goes straight into it */
            hp = wasm_cc_hist(C, 3);
            if (hp != NO_POS && hp + WASM_INSN_SIZE(3) == chain &&
                wasm_cc_insn_op(C, hp, &hop, &hv) && hop == WOP_P_ADDK_ADDK && hv == 0) {
                chain3 = hp;
                wasm_cc_set_handler(C, hp, WOP_P_ADDK3_BR_BACK + (pair - WOP_P_ADDK_BR_BACK), 0);
            }
        } else if (pair == WOP_P_LSK32_BR_TABLE) {
            /* an I32_ADD_K right before the load (a bytecode interpreter's
             * pc + 1 before its dispatch) goes straight into the pair */
            hp = wasm_cc_hist(C, 2);
            if (hp != NO_POS && hp + WASM_INSN_SIZE(3) == C->prev.start &&
                wasm_cc_insn_op(C, hp, &hop, &hv) && hop == WOP_I32_ADD_K && hv == 0) {
                chain = hp;
                chain_op = WOP_I32_ADD_K;
                wasm_cc_set_handler(C, hp, WOP_P_ADDK_LSK32_BR_TABLE, 0);
            }
        }
        C->pair_head_op = C->prev.op;
        C->pair_head_variant = C->prev.variant;
        wasm_cc_set_handler(C, C->prev.start, pair, 0);
        C->prev.op = pair;
        C->pair_head = C->prev.start;
        C->pair_tail = start;
        C->chain_head = chain;
        C->chain_op = chain_op;
        C->chain3_head = chain3;
    }
    C->prev2 = C->prev;
    C->prev.start = start;
    C->prev.op = op;
    C->prev.variant = (uint8_t)variant;
    return start;
}

size_t wasm_cc_emit_begin(comp *C, int op)
{
    return wasm_cc_emit_begin_v(C, op, 0);
}

void wasm_cc_emit_slot(comp *C, uint32_t enc)
{
    if (enc & (TAG_TEMP | TAG_CONST)) {
        if (!wasm_cc_grow((void **)&C->relocs, &C->caprelocs, C->nrelocs + 1, sizeof *C->relocs)) {
            C->nomem = true;
            return;
        }
        C->relocs[C->nrelocs++] = C->len;
    }
    wasm_cc_emit_u32(C, enc);
}

void wasm_cc_emit_ptr(comp *C, const void *ptr)
{
    uint8_t *w = room(C, sizeof ptr);
    if (w == NULL)
        return;
    memcpy(w, &ptr, sizeof ptr);
    C->len += sizeof ptr;
}

void wasm_cc_emit_end(comp *C)
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
size_t wasm_cc_emit_ops_v(comp *C, int op, unsigned variant, const uint32_t *ops, unsigned n,
                          unsigned slotmask)
{
    size_t start = wasm_cc_emit_begin_v(C, op, variant);
    for (unsigned i = 0; i < n; i++) {
        if (slotmask & (1u << i))
            wasm_cc_emit_slot(C, ops[i]);
        else
            wasm_cc_emit_u32(C, ops[i]);
    }
    wasm_cc_emit_end(C);
    return start;
}

void wasm_cc_patch_rel(comp *C, size_t field, size_t insn, size_t target)
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
        /* v128 constants add two at a time without a check here: grow
         * until the table is at most half full again */
        uint32_t ncap = C->chcap ? C->chcap * 2 : 64;
        while (ncap <= C->nconsts * 2)
            ncap *= 2;
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
    if (!wasm_cc_grow32((void **)&C->consts, &C->capconsts, C->nconsts + 1, sizeof *C->consts)) {
        C->nomem = true;
        return TAG_CONST;
    }
    C->consts[C->nconsts] = v;
    C->chash[h] = ++C->nconsts;
    return TAG_CONST | (C->nconsts - 1);
}

/* Two new consecutive constant slots holding a v128 (not shared with
 * other constants); returns the first, tagged. */
uint32_t wasm_cc_const_v128(comp *C, uint64_t lo, uint64_t hi)
{
    if (!wasm_cc_grow32((void **)&C->consts, &C->capconsts, C->nconsts + 2, sizeof *C->consts)) {
        C->nomem = true;
        return TAG_CONST;
    }
    C->consts[C->nconsts] = lo;
    C->consts[C->nconsts + 1] = hi;
    C->nconsts += 2;
    return TAG_CONST | (C->nconsts - 2);
}

/* Where operand `e` is read from. */
uint32_t wasm_cc_enc(comp *C, const vent *e)
{
    switch (e->loc) {
    case LOC_LOCAL: return C->lslot[e->idx];
    case LOC_CONST:
        if (e->type == TH_WASM_V128)
            return (uint32_t)e->cval; /* its slots, from wasm_cc_const_v128 */
        return const_slot(C, e->cval);
    default: return TAG_TEMP | e->t;
    }
}

size_t wasm_cc_label_here(comp *C)
{
    C->barrier = C->len;
    C->wt.valid = false;
    return C->len;
}

void wasm_cc_emit_copy(comp *C, uint32_t dst, uint32_t src)
{
    uint32_t ops[2] = {dst, src};

    /* up to four copies in a row (no branch target between) become one
     * COPY2 / COPY3 / COPY4, done in their order */
    if (C->last_copy != NO_POS && C->last_copy + WASM_INSN_SIZE(2 * C->last_copy_n) == C->len &&
        C->barrier != C->len && !C->nomem) {
        static const int grown[] = {WOP_COPY2, WOP_COPY3, WOP_COPY4};
        wasm_cc_set_handler(C, C->last_copy, grown[C->last_copy_n - 1], 0);
        wasm_cc_emit_slot(C, dst);
        wasm_cc_emit_slot(C, src);
        C->last.valid = false;
        if (++C->last_copy_n == 4)
            C->last_copy = NO_POS;
        return;
    }
    C->last_copy = wasm_cc_emit_ops(C, WOP_COPY, ops, 2, 3);
    C->last_copy_n = 1;
}

void wasm_cc_emit_move(comp *C, uint32_t dst, uint32_t src, uint8_t type)
{
    uint32_t ops[2] = {dst, src};

    if (type == TH_WASM_V128)
        wasm_cc_emit_ops(C, WOP_COPY_V128, ops, 2, 3);
    else
        wasm_cc_emit_copy(C, dst, src);
}

/* Move `e` into its own slot (if elsewhere). */
void wasm_cc_materialize(comp *C, vent *e)
{
    if (e->loc == LOC_OWN)
        return;
    wasm_cc_emit_move(C, TAG_TEMP | e->t, wasm_cc_enc(C, e), e->type);
    e->loc = LOC_OWN;
}

/* Record that the instruction at `start` (destination operand first)
 * produced the value in own slot `dst_t`. */
size_t wasm_cc_emit_ops(comp *C, int op, const uint32_t *ops, unsigned n, unsigned slotmask)
{
    return wasm_cc_emit_ops_v(C, op, 0, ops, n, slotmask);
}

bool wasm_cc_has_variant(const comp *C, int op, unsigned variant)
{
    return op >= 0 && C->labels[op * WASM_NVARIANTS + variant] != NULL;
}

/* Rewrite the handler of the instruction at `pos`. */
void wasm_cc_set_handler(comp *C, size_t pos, int op, unsigned variant)
{
    const void *h = C->labels[op * WASM_NVARIANTS + variant];
    if (!C->nomem)
        memcpy(C->code + pos, &h, sizeof h);
    if (C->prev.start == pos) {
        C->prev.op = op;
        C->prev.variant = (uint8_t)variant;
    }
    if (C->prev2.start == pos) {
        C->prev2.op = op;
        C->prev2.variant = (uint8_t)variant;
    }
}

/* f64 arithmetic (and the fused multiply-add pairs): reads and writes
 * the f64 accumulator (facc, interp_shapes.h). */
static bool f64_arith(int op)
{
    switch (op) {
    case WOP_F64_ADD:
    case WOP_F64_SUB:
    case WOP_F64_MUL:
    case WOP_F64_DIV:
    case WOP_F64_MIN:
    case WOP_F64_MAX:
    case WOP_F64_SQRT:
    case WOP_F64_ABS:
    case WOP_F64_NEG: return true;
    default: return op >= WOP_F_FMUL_FADD1 && op <= WOP_F_FADD_FMUL2;
    }
}

/* Which accumulator an operation's __R variant writes: the f64 one
 * (facc) for f64 results of f64 arithmetic and conversions, the integer
 * one (acc) for everything else (loads, calls and f32 values included). */
bool wasm_cc_acc_float_out(int op)
{
    if (f64_arith(op))
        return true;
    switch (op) {
    case WOP_F64_CONVERT_I32_S:
    case WOP_F64_CONVERT_I32_U:
    case WOP_F64_CONVERT_I64_S:
    case WOP_F64_CONVERT_I64_U:
    case WOP_F64_PROMOTE_F32: return true;
    default: return op >= WOP_M_F64_ADD1 && op <= WOP_M_F64_MUL2;
    }
}

/* Which accumulator variant `v` (WV_A or WV_B) of `op` reads. */
bool wasm_cc_acc_float_in(int op, unsigned v)
{
    if (f64_arith(op))
        return true;
    switch (op) {
    case WOP_F64_EQ:
    case WOP_F64_NE:
    case WOP_F64_LT:
    case WOP_F64_GT:
    case WOP_F64_LE:
    case WOP_F64_GE:
    case WOP_F32_DEMOTE_F64: return true;
    case WOP_STOREF64: return v == WV_B;
    default: return false;
    }
}

/* acc_pick when the last instruction is an f64 operation whose result
 * went to a local (C->wt): a source reading that local comes from facc. */
static unsigned acc_pick_wt(comp *C, int op, const vent *s0, const vent *s1, accpick *ap)
{
    unsigned v;

    if (!C->wt.valid || C->nomem || wasm_cc_hist(C, 0) != C->wt.start ||
        (C->barrier != NO_POS && C->barrier > C->wt.start))
        return 0;
    if (s1 != NULL && s1->loc == LOC_LOCAL && C->lslot[s1->idx] == C->wt.slot)
        v = WV_B;
    else if (s0 != NULL && s0->loc == LOC_LOCAL && C->lslot[s0->idx] == C->wt.slot)
        v = WV_A;
    else
        return 0;
    if (!wasm_cc_has_variant(C, op, v) || !wasm_cc_has_variant(C, C->wt.op, C->wt.variant | WV_R) ||
        !wasm_cc_acc_float_out(C->wt.op) || !wasm_cc_acc_float_in(op, v))
        return 0;
    if (C->pair_tail == C->wt.start) {
        wasm_cc_unpair(C);
    }
    wasm_cc_set_handler(C, C->wt.start, C->wt.op, C->wt.variant | WV_R);
    ap->variant = (uint8_t)v;
    ap->undo = true;
    ap->undo_pos = C->wt.start;
    ap->undo_op = C->wt.op;
    ap->undo_variant = C->wt.variant;
    return v;
}

/* Operations which, as a function's first instruction, may read the first
 * parameter from the accumulator: a comparison (possibly then fused into
 * the branch that consumes it: `if (n < 2)` at a recursive function's
 * entry) or a branch on it; nothing that merges with what follows (an
 * arithmetic operation's accumulator variants would keep it out of the
 * fused forms). */
static bool entry_op(int op)
{
    return op == WOP_I32_EQZ || (op >= WOP_I32_EQ && op <= WOP_I32_GE_U) ||
           (op >= WOP_I32_EQ_K && op <= WOP_I32_GE_U_K) || op == WOP_I64_EQZ ||
           (op >= WOP_I64_EQ && op <= WOP_I64_GE_U) || op == WOP_BR_IF_NZ || op == WOP_BR_IF_Z ||
           op == WOP_BR_IF_I64_NZ || op == WOP_BR_IF_I64_Z || op == WOP_BR_TABLE;
}

/* The variant reading the first parameter (an i32 or i64 in slot 0) from
 * the accumulator when this is the function's first instruction and no
 * branch leads to it: everything that enters a function whose first
 * instruction does so loads fp[0] into the accumulator
 * (wasm_code.entry_acc: CALL_A.., the slow call path, the exec's entry). */
static unsigned entry_pick(comp *C, int op, const vent *s0, const vent *s1, accpick *ap)
{
    unsigned v;

    if (C->len != 0 || C->barrier == 0 || C->nomem || C->ft->nparams == 0 ||
        (C->ft->types[0] != TH_WASM_I32 && C->ft->types[0] != TH_WASM_I64) || !entry_op(op))
        return 0;
    if (s1 != NULL && s1->loc == LOC_LOCAL && s1->idx == 0)
        v = WV_B;
    else if (s0 != NULL && s0->loc == LOC_LOCAL && s0->idx == 0)
        v = WV_A;
    else
        return 0;
    if (!wasm_cc_has_variant(C, op, v) || wasm_cc_acc_float_in(op, v))
        return 0;
    ap->variant = (uint8_t)v;
    ap->entry = true;
    C->entry_pick = true;
    return v;
}

unsigned wasm_cc_acc_pick(comp *C, int op, const vent *s0, const vent *s1, accpick *ap)
{
    const lastinsn *L = &C->last;
    unsigned v;

    memset(ap, 0, sizeof *ap);
    if ((v = entry_pick(C, op, s0, s1, ap)) != 0)
        return v;
    if (!L->valid || L->op < 0)
        return acc_pick_wt(C, op, s0, s1, ap);
    if (s1 != NULL && s1->loc == LOC_OWN && s1->t == L->dst_t)
        v = WV_B;
    else if (s0 != NULL && s0->loc == LOC_OWN && s0->t == L->dst_t)
        v = WV_A;
    else
        return 0;
    if (!wasm_cc_has_variant(C, op, v) || !wasm_cc_has_variant(C, L->op, L->variant | WV_R))
        return 0;
    if (wasm_cc_acc_float_out(L->op) != wasm_cc_acc_float_in(op, v))
        return 0;
    if (C->pair_tail == L->start && L->op != WOP_CALL) {
        /* the pair before it assumed the producer writes its slot (a
         * CALL's accumulator variant is the CALL itself) */
        wasm_cc_unpair(C);
    }
    wasm_cc_set_handler(C, L->start, L->op, L->variant | WV_R);
    ap->variant = (uint8_t)v;
    ap->undo = true;
    ap->undo_pos = L->start;
    ap->undo_op = L->op;
    ap->undo_variant = L->variant;
    return v;
}

void wasm_cc_acc_undo(comp *C, const accpick *ap)
{
    if (ap->undo)
        wasm_cc_set_handler(C, ap->undo_pos, ap->undo_op, ap->undo_variant);
}

void wasm_cc_produced(comp *C, size_t start, size_t nrelocs, uint32_t dst_t, int op,
                      const accpick *ap)
{
    if (C->nomem)
        return;
    C->last.valid = true;
    C->last.start = start;
    C->last.dst_pos = start + 8;
    C->last.nrelocs = nrelocs;
    C->last.dst_t = dst_t;
    C->last.fixed_dst = false;
    C->last.br_true = C->last.br_false = -1;
    C->last.op = op;
    if (ap != NULL)
        C->last.acc = *ap;
    else
        memset(&C->last.acc, 0, sizeof C->last.acc);
    C->last.variant = C->last.acc.variant;
}
