/*
 * compile_simd.c - validation and translation of the SIMD (0xFD prefix)
 * instructions into the interpreter's SIMD operations (interp.h's
 * WASM_SIMD_LIST; their semantics are in simd.h).
 *
 * A v128 operand occupies two consecutive slots and is named by the first;
 * v128.const allocates its two constant slots at once (compile.c's
 * wasm_cc_const_v128).  Every instruction here reads its operands before
 * writing its result, so local.set may retarget the result like any other.
 * The table below maps each sub-opcode to an operation and an operand
 * shape; sub-opcodes without an entry are illegal.
 */
#include <string.h>

#include "wasm/compile.h"

enum {
    SK_NONE = 0,
    SK_LOAD,       /* memarg; i32 -> v128 */
    SK_STORE,      /* memarg; i32 v128 -> */
    SK_LOAD_LANE,  /* memarg lane; i32 v128 -> v128 */
    SK_STORE_LANE, /* memarg lane; i32 v128 -> */
    SK_CONST,      /* 16 bytes */
    SK_SHUFFLE,    /* 16 lane indices; v128 v128 -> v128 */
    SK_UN,         /* v128 -> v128 */
    SK_BIN,        /* v128 v128 -> v128 */
    SK_TER,        /* v128 v128 v128 -> v128 */
    SK_SHIFT,      /* v128 i32 -> v128 */
    SK_TEST,       /* v128 -> i32 */
    SK_SPLAT,      /* t -> v128 */
    SK_EXTRACT,    /* lane; v128 -> t */
    SK_REPLACE,    /* lane; v128 t -> v128 */
};

/* wop: the operation; kind: SK_*; t: the scalar type (SPLAT, EXTRACT,
 * REPLACE); n: log2 of the natural alignment (memory), or the lane count
 * (EXTRACT, REPLACE). */
typedef struct simdop {
    uint16_t wop;
    uint8_t kind, t, n;
} simdop;

#define I_ TH_WASM_I32
#define L_ TH_WASM_I64
#define F_ TH_WASM_F32
#define D_ TH_WASM_F64
#define OP(code, w, k) [code] = {WOP_##w, SK_##k, 0, 0}
#define MEM(code, w, k, align) [code] = {WOP_##w, SK_##k, 0, align}
#define LANE(code, w, k, t, lanes) [code] = {WOP_##w, SK_##k, t, lanes}
#define ICMP(code, S) \
    OP(code, S##_EQ, BIN), OP(code + 1, S##_NE, BIN), OP(code + 2, S##_LT_S, BIN), \
        OP(code + 3, S##_LT_U, BIN), OP(code + 4, S##_GT_S, BIN), OP(code + 5, S##_GT_U, BIN), \
        OP(code + 6, S##_LE_S, BIN), OP(code + 7, S##_LE_U, BIN), OP(code + 8, S##_GE_S, BIN), \
        OP(code + 9, S##_GE_U, BIN)
#define FCMP(code, S) \
    OP(code, S##_EQ, BIN), OP(code + 1, S##_NE, BIN), OP(code + 2, S##_LT, BIN), \
        OP(code + 3, S##_GT, BIN), OP(code + 4, S##_LE, BIN), OP(code + 5, S##_GE, BIN)
#define EXTEND(code, S, F) \
    OP(code, S##_EXTEND_LOW_##F##_S, UN), OP(code + 1, S##_EXTEND_HIGH_##F##_S, UN), \
        OP(code + 2, S##_EXTEND_LOW_##F##_U, UN), OP(code + 3, S##_EXTEND_HIGH_##F##_U, UN)
#define EXTMUL(code, S, F) \
    OP(code, S##_EXTMUL_LOW_##F##_S, BIN), OP(code + 1, S##_EXTMUL_HIGH_##F##_S, BIN), \
        OP(code + 2, S##_EXTMUL_LOW_##F##_U, BIN), OP(code + 3, S##_EXTMUL_HIGH_##F##_U, BIN)
#define FARITH(code, S) \
    OP(code, S##_ABS, UN), OP(code + 1, S##_NEG, UN), OP(code + 3, S##_SQRT, UN), \
        OP(code + 4, S##_ADD, BIN), OP(code + 5, S##_SUB, BIN), OP(code + 6, S##_MUL, BIN), \
        OP(code + 7, S##_DIV, BIN), OP(code + 8, S##_MIN, BIN), OP(code + 9, S##_MAX, BIN), \
        OP(code + 10, S##_PMIN, BIN), OP(code + 11, S##_PMAX, BIN)
#define SHIFTS(code, S) \
    OP(code, S##_SHL, SHIFT), OP(code + 1, S##_SHR_S, SHIFT), OP(code + 2, S##_SHR_U, SHIFT)

static const simdop simdops[256] = {
    MEM(0x00, V128_LOAD, LOAD, 4),
    MEM(0x01, V128_LOAD8X8_S, LOAD, 3),
    MEM(0x02, V128_LOAD8X8_U, LOAD, 3),
    MEM(0x03, V128_LOAD16X4_S, LOAD, 3),
    MEM(0x04, V128_LOAD16X4_U, LOAD, 3),
    MEM(0x05, V128_LOAD32X2_S, LOAD, 3),
    MEM(0x06, V128_LOAD32X2_U, LOAD, 3),
    MEM(0x07, V128_LOAD8_SPLAT, LOAD, 0),
    MEM(0x08, V128_LOAD16_SPLAT, LOAD, 1),
    MEM(0x09, V128_LOAD32_SPLAT, LOAD, 2),
    MEM(0x0a, V128_LOAD64_SPLAT, LOAD, 3),
    MEM(0x0b, V128_STORE, STORE, 4),
    [0x0c] = {0, SK_CONST, 0, 0},
    OP(0x0d, I8X16_SHUFFLE, SHUFFLE),
    OP(0x0e, I8X16_SWIZZLE, BIN),
    LANE(0x0f, I8X16_SPLAT, SPLAT, I_, 0),
    LANE(0x10, I16X8_SPLAT, SPLAT, I_, 0),
    LANE(0x11, I32X4_SPLAT, SPLAT, I_, 0),
    LANE(0x12, I64X2_SPLAT, SPLAT, L_, 0),
    LANE(0x13, I32X4_SPLAT, SPLAT, F_, 0),
    LANE(0x14, I64X2_SPLAT, SPLAT, D_, 0),
    LANE(0x15, I8X16_EXTRACT_LANE_S, EXTRACT, I_, 16),
    LANE(0x16, I8X16_EXTRACT_LANE_U, EXTRACT, I_, 16),
    LANE(0x17, I8X16_REPLACE_LANE, REPLACE, I_, 16),
    LANE(0x18, I16X8_EXTRACT_LANE_S, EXTRACT, I_, 8),
    LANE(0x19, I16X8_EXTRACT_LANE_U, EXTRACT, I_, 8),
    LANE(0x1a, I16X8_REPLACE_LANE, REPLACE, I_, 8),
    LANE(0x1b, I32X4_EXTRACT_LANE, EXTRACT, I_, 4),
    LANE(0x1c, I32X4_REPLACE_LANE, REPLACE, I_, 4),
    LANE(0x1d, I64X2_EXTRACT_LANE, EXTRACT, L_, 2),
    LANE(0x1e, I64X2_REPLACE_LANE, REPLACE, L_, 2),
    LANE(0x1f, I32X4_EXTRACT_LANE, EXTRACT, F_, 4),
    LANE(0x20, I32X4_REPLACE_LANE, REPLACE, F_, 4),
    LANE(0x21, I64X2_EXTRACT_LANE, EXTRACT, D_, 2),
    LANE(0x22, I64X2_REPLACE_LANE, REPLACE, D_, 2),
    ICMP(0x23, I8X16),
    ICMP(0x2d, I16X8),
    ICMP(0x37, I32X4),
    FCMP(0x41, F32X4),
    FCMP(0x47, F64X2),
    OP(0x4d, V128_NOT, UN),
    OP(0x4e, V128_AND, BIN),
    OP(0x4f, V128_ANDNOT, BIN),
    OP(0x50, V128_OR, BIN),
    OP(0x51, V128_XOR, BIN),
    OP(0x52, V128_BITSELECT, TER),
    OP(0x53, V128_ANY_TRUE, TEST),
    MEM(0x54, V128_LOAD8_LANE, LOAD_LANE, 0),
    MEM(0x55, V128_LOAD16_LANE, LOAD_LANE, 1),
    MEM(0x56, V128_LOAD32_LANE, LOAD_LANE, 2),
    MEM(0x57, V128_LOAD64_LANE, LOAD_LANE, 3),
    MEM(0x58, V128_STORE8_LANE, STORE_LANE, 0),
    MEM(0x59, V128_STORE16_LANE, STORE_LANE, 1),
    MEM(0x5a, V128_STORE32_LANE, STORE_LANE, 2),
    MEM(0x5b, V128_STORE64_LANE, STORE_LANE, 3),
    MEM(0x5c, V128_LOAD32_ZERO, LOAD, 2),
    MEM(0x5d, V128_LOAD64_ZERO, LOAD, 3),
    OP(0x5e, F32X4_DEMOTE_F64X2_ZERO, UN),
    OP(0x5f, F64X2_PROMOTE_LOW_F32X4, UN),
    OP(0x60, I8X16_ABS, UN),
    OP(0x61, I8X16_NEG, UN),
    OP(0x62, I8X16_POPCNT, UN),
    OP(0x63, I8X16_ALL_TRUE, TEST),
    OP(0x64, I8X16_BITMASK, TEST),
    OP(0x65, I8X16_NARROW_I16X8_S, BIN),
    OP(0x66, I8X16_NARROW_I16X8_U, BIN),
    OP(0x67, F32X4_CEIL, UN),
    OP(0x68, F32X4_FLOOR, UN),
    OP(0x69, F32X4_TRUNC, UN),
    OP(0x6a, F32X4_NEAREST, UN),
    SHIFTS(0x6b, I8X16),
    OP(0x6e, I8X16_ADD, BIN),
    OP(0x6f, I8X16_ADD_SAT_S, BIN),
    OP(0x70, I8X16_ADD_SAT_U, BIN),
    OP(0x71, I8X16_SUB, BIN),
    OP(0x72, I8X16_SUB_SAT_S, BIN),
    OP(0x73, I8X16_SUB_SAT_U, BIN),
    OP(0x74, F64X2_CEIL, UN),
    OP(0x75, F64X2_FLOOR, UN),
    OP(0x76, I8X16_MIN_S, BIN),
    OP(0x77, I8X16_MIN_U, BIN),
    OP(0x78, I8X16_MAX_S, BIN),
    OP(0x79, I8X16_MAX_U, BIN),
    OP(0x7a, F64X2_TRUNC, UN),
    OP(0x7b, I8X16_AVGR_U, BIN),
    OP(0x7c, I16X8_EXTADD_PAIRWISE_I8X16_S, UN),
    OP(0x7d, I16X8_EXTADD_PAIRWISE_I8X16_U, UN),
    OP(0x7e, I32X4_EXTADD_PAIRWISE_I16X8_S, UN),
    OP(0x7f, I32X4_EXTADD_PAIRWISE_I16X8_U, UN),
    OP(0x80, I16X8_ABS, UN),
    OP(0x81, I16X8_NEG, UN),
    OP(0x82, I16X8_Q15MULR_SAT_S, BIN),
    OP(0x83, I16X8_ALL_TRUE, TEST),
    OP(0x84, I16X8_BITMASK, TEST),
    OP(0x85, I16X8_NARROW_I32X4_S, BIN),
    OP(0x86, I16X8_NARROW_I32X4_U, BIN),
    EXTEND(0x87, I16X8, I8X16),
    SHIFTS(0x8b, I16X8),
    OP(0x8e, I16X8_ADD, BIN),
    OP(0x8f, I16X8_ADD_SAT_S, BIN),
    OP(0x90, I16X8_ADD_SAT_U, BIN),
    OP(0x91, I16X8_SUB, BIN),
    OP(0x92, I16X8_SUB_SAT_S, BIN),
    OP(0x93, I16X8_SUB_SAT_U, BIN),
    OP(0x94, F64X2_NEAREST, UN),
    OP(0x95, I16X8_MUL, BIN),
    OP(0x96, I16X8_MIN_S, BIN),
    OP(0x97, I16X8_MIN_U, BIN),
    OP(0x98, I16X8_MAX_S, BIN),
    OP(0x99, I16X8_MAX_U, BIN),
    OP(0x9b, I16X8_AVGR_U, BIN),
    EXTMUL(0x9c, I16X8, I8X16),
    OP(0xa0, I32X4_ABS, UN),
    OP(0xa1, I32X4_NEG, UN),
    OP(0xa3, I32X4_ALL_TRUE, TEST),
    OP(0xa4, I32X4_BITMASK, TEST),
    EXTEND(0xa7, I32X4, I16X8),
    SHIFTS(0xab, I32X4),
    OP(0xae, I32X4_ADD, BIN),
    OP(0xb1, I32X4_SUB, BIN),
    OP(0xb5, I32X4_MUL, BIN),
    OP(0xb6, I32X4_MIN_S, BIN),
    OP(0xb7, I32X4_MIN_U, BIN),
    OP(0xb8, I32X4_MAX_S, BIN),
    OP(0xb9, I32X4_MAX_U, BIN),
    OP(0xba, I32X4_DOT_I16X8_S, BIN),
    EXTMUL(0xbc, I32X4, I16X8),
    OP(0xc0, I64X2_ABS, UN),
    OP(0xc1, I64X2_NEG, UN),
    OP(0xc3, I64X2_ALL_TRUE, TEST),
    OP(0xc4, I64X2_BITMASK, TEST),
    EXTEND(0xc7, I64X2, I32X4),
    SHIFTS(0xcb, I64X2),
    OP(0xce, I64X2_ADD, BIN),
    OP(0xd1, I64X2_SUB, BIN),
    OP(0xd5, I64X2_MUL, BIN),
    OP(0xd6, I64X2_EQ, BIN),
    OP(0xd7, I64X2_NE, BIN),
    OP(0xd8, I64X2_LT_S, BIN),
    OP(0xd9, I64X2_GT_S, BIN),
    OP(0xda, I64X2_LE_S, BIN),
    OP(0xdb, I64X2_GE_S, BIN),
    EXTMUL(0xdc, I64X2, I32X4),
    FARITH(0xe0, F32X4),
    FARITH(0xec, F64X2),
    OP(0xf8, I32X4_TRUNC_SAT_F32X4_S, UN),
    OP(0xf9, I32X4_TRUNC_SAT_F32X4_U, UN),
    OP(0xfa, F32X4_CONVERT_I32X4_S, UN),
    OP(0xfb, F32X4_CONVERT_I32X4_U, UN),
    OP(0xfc, I32X4_TRUNC_SAT_F64X2_S_ZERO, UN),
    OP(0xfd, I32X4_TRUNC_SAT_F64X2_U_ZERO, UN),
    OP(0xfe, F64X2_CONVERT_LOW_I32X4_S, UN),
    OP(0xff, F64X2_CONVERT_LOW_I32X4_U, UN),
};

/* Push a result of `type` and emit `op` writing it: [dst, ops...]. */
static void emit_res(comp *C, int op, uint8_t type, const uint32_t *ops, unsigned n,
                     unsigned slotmask)
{
    uint32_t all[8];
    vent *d = wasm_cc_push(C, type);
    size_t s, nrel;

    if (d == NULL || !emitting(C))
        return;
    all[0] = TAG_TEMP | d->t;
    memcpy(all + 1, ops, n * sizeof *ops);
    nrel = C->nrelocs;
    s = wasm_cc_emit_ops(C, op, all, n + 1, 1u | (slotmask << 1));
    wasm_cc_produced(C, s, nrel, d->t, op, NULL);
}

/* Pop the operands of `types` (bottom first) and encode them into ops. */
static int pop_enc(comp *C, const uint8_t *types, unsigned n, uint32_t *ops)
{
    if (wasm_cc_pop_vals(C, types, n))
        return -1;
    for (unsigned i = 0; i < n; i++)
        ops[i] = emitting(C) ? wasm_cc_enc(C, &C->popped[i]) : 0;
    return 0;
}

/* memarg of a load or store whose natural alignment is 2^natural. */
static int rd_memarg(comp *C, unsigned natural, uint32_t *offset)
{
    uint32_t align;

    if (wasm_cc_rd_u32(C, &align) || wasm_cc_rd_u32(C, offset))
        return -1;
    if (align >= 32)
        return wasm_cc_fail(C, "malformed memop flags");
    if (C->m->nmems == 0)
        return wasm_cc_fail(C, "unknown memory 0");
    if (align > natural)
        return wasm_cc_fail(C, "alignment must not be larger than natural");
    return 0;
}

/* A lane index immediate below `lanes`. */
static int rd_lane(comp *C, unsigned lanes, uint32_t *lane)
{
    uint8_t b = 0;

    if (wasm_cc_rd_byte(C, &b))
        return -1;
    if (b >= lanes)
        return wasm_cc_fail(C, "invalid lane index");
    *lane = b;
    return 0;
}

static int op_const(comp *C)
{
    uint64_t lo = 0, hi = 0;
    vent *e;

    if ((size_t)(C->end - C->p) < 16)
        return wasm_cc_fail(C, "unexpected end of section or function");
    for (int i = 7; i >= 0; i--) {
        lo = (lo << 8) | C->p[i];
        hi = (hi << 8) | C->p[8 + i];
    }
    C->p += 16;
    e = wasm_cc_push(C, TH_WASM_V128);
    if (e != NULL && emitting(C)) {
        e->loc = LOC_CONST;
        e->cval = wasm_cc_const_v128(C, lo, hi);
    }
    return 0;
}

static int op_shuffle(comp *C)
{
    static const uint8_t vv[2] = {TH_WASM_V128, TH_WASM_V128};
    uint32_t ops[6];

    if ((size_t)(C->end - C->p) < 16)
        return wasm_cc_fail(C, "unexpected end of section or function");
    for (unsigned i = 0; i < 16; i++)
        if (C->p[i] >= 32)
            return wasm_cc_fail(C, "invalid lane index");
    memcpy(ops + 2, C->p, 16);
    C->p += 16;
    if (pop_enc(C, vv, 2, ops))
        return -1;
    emit_res(C, WOP_I8X16_SHUFFLE, TH_WASM_V128, ops, 6, 3);
    return 0;
}

/* Loads and stores (plain and lane). */
static int op_memory(comp *C, const simdop *o)
{
    static const uint8_t iv[2] = {TH_WASM_I32, TH_WASM_V128};
    uint32_t off, lane = 0, ops[4];

    if (rd_memarg(C, o->n, &off))
        return -1;
    if ((o->kind == SK_LOAD_LANE || o->kind == SK_STORE_LANE) && rd_lane(C, 16u >> o->n, &lane))
        return -1;
    switch (o->kind) {
    case SK_LOAD:
        if (pop_enc(C, iv, 1, ops))
            return -1;
        ops[1] = off;
        emit_res(C, o->wop, TH_WASM_V128, ops, 2, 1);
        return 0;
    case SK_LOAD_LANE:
        if (pop_enc(C, iv, 2, ops))
            return -1;
        ops[2] = off;
        ops[3] = lane;
        emit_res(C, o->wop, TH_WASM_V128, ops, 4, 3);
        return 0;
    default: /* stores: addr v off [lane] */
        if (pop_enc(C, iv, 2, ops))
            return -1;
        ops[2] = off;
        ops[3] = lane;
        if (emitting(C))
            wasm_cc_emit_ops(C, o->wop, ops, o->kind == SK_STORE ? 3 : 4, 3);
        return 0;
    }
}

int wasm_cc_op_simd(comp *C)
{
    static const uint8_t vvv[3] = {TH_WASM_V128, TH_WASM_V128, TH_WASM_V128};
    static const uint8_t vi[2] = {TH_WASM_V128, TH_WASM_I32};
    uint32_t sub, lane = 0, ops[4];
    const simdop *o;
    uint8_t types[2];

    if (wasm_cc_rd_u32(C, &sub))
        return -1;
    if (sub > 0xff || simdops[sub].kind == SK_NONE)
        return wasm_cc_fail(C, "illegal opcode 0xfd %u", sub);
    o = &simdops[sub];
    switch (o->kind) {
    case SK_CONST: return op_const(C);
    case SK_SHUFFLE: return op_shuffle(C);
    case SK_LOAD:
    case SK_STORE:
    case SK_LOAD_LANE:
    case SK_STORE_LANE: return op_memory(C, o);
    case SK_UN:
    case SK_BIN:
    case SK_TER: {
        unsigned n = o->kind == SK_UN ? 1 : o->kind == SK_BIN ? 2 : 3;
        if (pop_enc(C, vvv, n, ops))
            return -1;
        emit_res(C, o->wop, TH_WASM_V128, ops, n, (1u << n) - 1);
        return 0;
    }
    case SK_SHIFT:
        if (pop_enc(C, vi, 2, ops))
            return -1;
        emit_res(C, o->wop, TH_WASM_V128, ops, 2, 3);
        return 0;
    case SK_TEST:
        if (pop_enc(C, vvv, 1, ops))
            return -1;
        emit_res(C, o->wop, TH_WASM_I32, ops, 1, 1);
        return 0;
    case SK_SPLAT:
        if (pop_enc(C, &o->t, 1, ops))
            return -1;
        emit_res(C, o->wop, TH_WASM_V128, ops, 1, 1);
        return 0;
    case SK_EXTRACT:
        if (rd_lane(C, o->n, &lane) || pop_enc(C, vvv, 1, ops))
            return -1;
        ops[1] = lane;
        emit_res(C, o->wop, o->t, ops, 2, 1);
        return 0;
    default: /* SK_REPLACE */
        types[0] = TH_WASM_V128;
        types[1] = o->t;
        if (rd_lane(C, o->n, &lane) || pop_enc(C, types, 2, ops))
            return -1;
        ops[2] = lane;
        emit_res(C, o->wop, TH_WASM_V128, ops, 3, 3);
        return 0;
    }
}
