/*
 * interp_shapes.h - the shapes of the interpreter's handlers: macros that
 * stamp out a family of computed-goto labels (an operator and its
 * accumulator variants, conditional branches, loads and stores with their
 * address forms, memory operands, read-modify-write stores, trapping
 * truncations).  Included once, by interp.c, inside the dispatch loop's
 * translation unit: the macros use run()'s locals (ip, fp, acc, mbase,
 * msize) and its labels (trap_mem, trap).  The operand macros (OP, SLOT,
 * RU32, WU32, ...), SKIP, NEXT, FUEL and TRAP are interp.c's.
 */
/* Laid out by hand, as the dispatch loop is. */
/* clang-format off */
#ifndef THEATER_WASM_INTERP_SHAPES_H
#define THEATER_WASM_INTERP_SHAPES_H

/*
 * Accumulator.  `acc` carries a value from one instruction to the very
 * next one, sparing the store and reload of a frame slot on the hot
 * dependency chains.  Variants (interp.h): __R writes the result to acc,
 * _A reads the first source from acc, _B the second.
 */
#define A32 ((uint32_t)acc)
#define AI32 ((int32_t)acc)
#define A64 (acc)
#define AI64 ((int64_t)acc)
#define AF32 (bits_f32((uint32_t)acc))
#define AW32(v) (acc = (uint32_t)(v))
#define AW64(v) (acc = (uint64_t)(v))
#define AWF32(v) (acc = f32_bits(v))
/* f64 arithmetic has an accumulator of its own, `facc`, kept in a vector
 * register (the two-register scheme of wasm3): an f64 value passed from
 * one f64 operation to the next never crosses between the integer and
 * vector register files (several cycles each way).  Which operations
 * read or write facc rather than acc is compile_emit.c's acc_float_in /
 * acc_float_out; only an instruction pair agreeing on it is linked. */
#define AF64 (facc)
#define AWF64(v) (facc = (v))

/* Binary operator "d a b ..." of n operands and its five accumulator
 * variants; `body` computes r from a and b (and may trap). */
#define VBINN(name, n, T, RD, AR, RT, WR, AWR, body) \
    L_##name:        { T a = RD(1), b = RD(2); RT r; body; WR(0, r); SKIP(n); } \
    L_##name##__R:   { T a = RD(1), b = RD(2); RT r; body; AWR(r); SKIP(n); } \
    L_##name##_A:    { T a = AR, b = RD(2); RT r; body; WR(0, r); SKIP(n); } \
    L_##name##_A__R: { T a = AR, b = RD(2); RT r; body; AWR(r); SKIP(n); } \
    L_##name##_B:    { T a = RD(1), b = AR; RT r; body; WR(0, r); SKIP(n); } \
    L_##name##_B__R: { T a = RD(1), b = AR; RT r; body; AWR(r); SKIP(n); }
#define VBIN(name, T, RD, AR, RT, WR, AWR, body) VBINN(name, 3, T, RD, AR, RT, WR, AWR, body)

/* One-source operator "d a ..." of n operands and its three variants; the
 * body may read further operands (OP(2): an immediate or offset). */
#define VUN(name, n, T, RD, AR, RT, WR, AWR, body) \
    L_##name:        { T a = RD(1); RT r; body; WR(0, r); SKIP(n); } \
    L_##name##__R:   { T a = RD(1); RT r; body; AWR(r); SKIP(n); } \
    L_##name##_A:    { T a = AR; RT r; body; WR(0, r); SKIP(n); } \
    L_##name##_A__R: { T a = AR; RT r; body; AWR(r); SKIP(n); }

#define BIN_I32(name, expr) VBIN(name, uint32_t, RU32, A32, uint32_t, WU32, AW32, r = (expr))
#define BIN_I64(name, expr) VBIN(name, uint64_t, RU64, A64, uint64_t, WU64, AW64, r = (expr))
#define CMP_I64(name, expr) VBIN(name, uint64_t, RU64, A64, uint32_t, WU32, AW32, r = (expr))
#define BIN_F32(name, expr) VBIN(name, float, RF32, AF32, float, WF32, AWF32, r = (expr))
#define CMP_F32(name, expr) VBIN(name, float, RF32, AF32, uint32_t, WU32, AW32, r = (expr))
#define BIN_F64(name, expr) VBIN(name, double, RF64, AF64, double, WF64, AWF64, r = (expr))
#define CMP_F64(name, expr) VBIN(name, double, RF64, AF64, uint32_t, WU32, AW32, r = (expr))

/* Unary operators with variants (VUN_*) and without (UN_*). */
#define VUN_I32(name, expr) VUN(name, 2, uint32_t, RU32, A32, uint32_t, WU32, AW32, r = (expr))
#define VUN_I64(name, expr) VUN(name, 2, uint64_t, RU64, A64, uint64_t, WU64, AW64, r = (expr))
#define VUN_F32(name, expr) VUN(name, 2, float, RF32, AF32, float, WF32, AWF32, r = (expr))
#define VUN_F64(name, expr) VUN(name, 2, double, RF64, AF64, double, WF64, AWF64, r = (expr))
#define UN_I32(name, expr) \
    L_##name: { uint32_t a = RU32(1); WU32(0, (expr)); SKIP(2); }
#define UN_I64(name, expr) \
    L_##name: { uint64_t a = RU64(1); WU64(0, (expr)); SKIP(2); }
#define UN_F32(name, expr) \
    L_##name: { float a = RF32(1); WF32(0, (expr)); SKIP(2); }
#define UN_F64(name, expr) \
    L_##name: { double a = RF64(1); WF64(0, (expr)); SKIP(2); }

/* Binary operators with an immediate right operand ("d a k"). */
#define BIN_I32K(name, expr) \
    VUN(name, 3, uint32_t, RU32, A32, uint32_t, WU32, AW32, uint32_t b = OP(2); r = (expr))
#define BIN_I64K(name, expr) \
    VUN(name, 3, uint64_t, RU64, A64, uint64_t, WU64, AW64, \
        uint64_t b = (uint64_t)(int64_t)(int32_t)OP(2); r = (expr))

/* Fused pairs (interp.h, WASM_FUSED_LIST): "d a k c" and "d a b c". */
#define ROTL32(a, k) (((a) << ((k) & 31)) | ((a) >> ((32 - ((k) & 31)) & 31)))
#define ROTR32(a, k) (((a) >> ((k) & 31)) | ((a) << ((32 - ((k) & 31)) & 31)))
#define FUSED_HANDLER(X, kind, name, x, y, pos, expr) FH_##kind(name, expr)
#define FH_KB(name, expr) \
    VUN(name, 4, uint32_t, RU32, A32, uint32_t, WU32, AW32, \
        uint32_t k = OP(2); uint32_t c = RU32(3); r = (expr)) \
    L_##name##_B: { uint32_t a = RU32(1), k = OP(2), c = A32; WU32(0, (expr)); SKIP(4); } \
    L_##name##_B__R: { uint32_t a = RU32(1), k = OP(2), c = A32; AW32(expr); SKIP(4); }
#define FH_KK(name, expr) \
    VUN(name, 4, uint32_t, RU32, A32, uint32_t, WU32, AW32, \
        uint32_t k = OP(2); uint32_t c = OP(3); r = (expr))
#define FH_BB32(name, expr) \
    VBINN(name, 4, uint32_t, RU32, A32, uint32_t, WU32, AW32, uint32_t c = RU32(3); r = (expr))
#define FH_UX64(name, expr) \
    VUN(name, 4, uint32_t, RU32, A32, uint64_t, WU64, AW64, uint64_t c = RU64(3); r = (expr)) \
    L_##name##_B: { uint32_t a = RU32(1); uint64_t c = A64; WU64(0, (expr)); SKIP(4); } \
    L_##name##_B__R: { uint32_t a = RU32(1); uint64_t c = A64; AW64(expr); SKIP(4); }
#define FH_BBF64(name, expr) \
    VBINN(name, 4, double, RF64, AF64, double, WF64, AWF64, double c = RF64(3); r = (expr))

/* Conditional branches "c rel" / "a b rel" / "a k rel": forward ones with
 * accumulator variants, back-edge ones (which spend fuel, and so may be a
 * resume point) reading slots only. */
#define BRIF1(name, T, RD, AR, cond) \
    L_##name: { T a = RD(0); if (cond) { ip += (int32_t)OP(1); NEXT(); } SKIP(2); } \
    L_##name##_A: { T a = AR; if (cond) { ip += (int32_t)OP(1); NEXT(); } SKIP(2); } \
    L_##name##_BACK: { T a = RD(0); if (cond) { FUEL(); ip += (int32_t)OP(1); NEXT(); } SKIP(2); } \
    L_##name##_BACK_A: { T a = AR; if (cond) { FUEL(); ip += (int32_t)OP(1); NEXT(); } SKIP(2); }
#define BRIF2(name, bname, T, RD, AR, cond) \
    L_##name: { T a = RD(0), b = RD(1); \
        if (cond) { ip += (int32_t)OP(2); NEXT(); } SKIP(3); } \
    L_##name##_A: { T a = AR, b = RD(1); \
        if (cond) { ip += (int32_t)OP(2); NEXT(); } SKIP(3); } \
    L_##name##_B: { T a = RD(0), b = AR; \
        if (cond) { ip += (int32_t)OP(2); NEXT(); } SKIP(3); } \
    L_##bname: { T a = RD(0), b = RD(1); \
        if (cond) { FUEL(); ip += (int32_t)OP(2); NEXT(); } SKIP(3); } \
    L_##bname##_A: { T a = AR, b = RD(1); \
        if (cond) { FUEL(); ip += (int32_t)OP(2); NEXT(); } SKIP(3); } \
    L_##bname##_B: { T a = RD(0), b = AR; \
        if (cond) { FUEL(); ip += (int32_t)OP(2); NEXT(); } SKIP(3); }
#define BRIF_CMPS(P, BP, T, S, RD, AR) \
    BRIF2(P##_EQ, BP##_EQ, T, RD, AR, a == b) \
    BRIF2(P##_NE, BP##_NE, T, RD, AR, a != b) \
    BRIF2(P##_LT_S, BP##_LT_S, T, RD, AR, (S)a < (S)b) \
    BRIF2(P##_LT_U, BP##_LT_U, T, RD, AR, a < b) \
    BRIF2(P##_GT_S, BP##_GT_S, T, RD, AR, (S)a > (S)b) \
    BRIF2(P##_GT_U, BP##_GT_U, T, RD, AR, a > b) \
    BRIF2(P##_LE_S, BP##_LE_S, T, RD, AR, (S)a <= (S)b) \
    BRIF2(P##_LE_U, BP##_LE_U, T, RD, AR, a <= b) \
    BRIF2(P##_GE_S, BP##_GE_S, T, RD, AR, (S)a >= (S)b) \
    BRIF2(P##_GE_U, BP##_GE_U, T, RD, AR, a >= b)
#define BRIF2K(name, bname, cond) \
    L_##name: { uint32_t a = RU32(0), b = OP(1); \
        if (cond) { ip += (int32_t)OP(2); NEXT(); } SKIP(3); } \
    L_##name##_A: { uint32_t a = A32, b = OP(1); \
        if (cond) { ip += (int32_t)OP(2); NEXT(); } SKIP(3); } \
    L_##bname: { uint32_t a = RU32(0), b = OP(1); \
        if (cond) { FUEL(); ip += (int32_t)OP(2); NEXT(); } SKIP(3); } \
    L_##bname##_A: { uint32_t a = A32, b = OP(1); \
        if (cond) { FUEL(); ip += (int32_t)OP(2); NEXT(); } SKIP(3); }
#define BRIFK_CMPS(P, BP) \
    BRIF2K(P##_EQ_K, BP##_EQ_K, a == b) \
    BRIF2K(P##_NE_K, BP##_NE_K, a != b) \
    BRIF2K(P##_LT_S_K, BP##_LT_S_K, (int32_t)a < (int32_t)b) \
    BRIF2K(P##_LT_U_K, BP##_LT_U_K, a < b) \
    BRIF2K(P##_GT_S_K, BP##_GT_S_K, (int32_t)a > (int32_t)b) \
    BRIF2K(P##_GT_U_K, BP##_GT_U_K, a > b) \
    BRIF2K(P##_LE_S_K, BP##_LE_S_K, (int32_t)a <= (int32_t)b) \
    BRIF2K(P##_LE_U_K, BP##_LE_U_K, a <= b) \
    BRIF2K(P##_GE_S_K, BP##_GE_S_K, (int32_t)a >= (int32_t)b) \
    BRIF2K(P##_GE_U_K, BP##_GE_U_K, a >= b)

/* Loads "d addr off" and stores "addr value off": one compare against the
 * cached size. */
#define WBITS(k, v) (SLOT(k).bits = (v))
#define LOAD(name, N, T, conv) \
    VUN(name, 3, uint32_t, RU32, A32, uint64_t, WBITS, AW64, \
        uint64_t ea = (uint64_t)a + OP(2); T v; \
        if (UNLIKELY(ea + (N) > msize)) goto trap_mem; \
        memcpy(&v, mbase + ea, (N)); r = (conv))
#define LOADK(name, N, T, conv) \
    VUN(name, 4, uint32_t, RU32, A32, uint64_t, WBITS, AW64, \
        uint64_t ea = (uint64_t)(uint32_t)(a + OP(2)) + OP(3); T v; \
        if (UNLIKELY(ea + (N) > msize)) goto trap_mem; \
        memcpy(&v, mbase + ea, (N)); r = (conv))
/* The same with the address computed in the instruction (interp.h):
 * LOADX "d a b off", LOADSK "d a s k off", LOADSX "d a s b off". */
#define LOAD_EA(name, nops, N, LT, conv, ea_expr) \
    VUN(name, nops, uint32_t, RU32, A32, uint64_t, WBITS, AW64, \
        uint64_t ea = (ea_expr); LT v; \
        if (UNLIKELY(ea + (N) > msize)) goto trap_mem; \
        memcpy(&v, mbase + ea, (N)); r = (conv))
#define LOADX(name, N, LT, conv) \
    VBINN(name, 4, uint32_t, RU32, A32, uint64_t, WBITS, AW64, \
        uint64_t ea = (uint64_t)(uint32_t)(a + b) + OP(3); LT v; \
        if (UNLIKELY(ea + (N) > msize)) goto trap_mem; \
        memcpy(&v, mbase + ea, (N)); r = (conv))
#define LOADSK(name, N, LT, conv) \
    LOAD_EA(name, 5, N, LT, conv, (uint64_t)(uint32_t)((a << (OP(2) & 31)) + OP(3)) + OP(4))
#define LOADSX(name, N, LT, conv) \
    LOAD_EA(name, 5, N, LT, conv, (uint64_t)(uint32_t)((a << (OP(2) & 31)) + RU32(3)) + OP(4))
/* Every load kind of a family P: M(name, bytes, memory type, conversion). */
#define LOAD_KINDS(M, P) \
    M(P##32, 4, uint32_t, v) \
    M(P##64, 8, uint64_t, v) \
    M(P##8_S32, 1, int8_t, (uint32_t)(int32_t)v) \
    M(P##8_U32, 1, uint8_t, v) \
    M(P##16_S32, 2, int16_t, (uint32_t)(int32_t)v) \
    M(P##16_U32, 2, uint16_t, v) \
    M(P##8_S64, 1, int8_t, (uint64_t)(int64_t)v) \
    M(P##16_S64, 2, int16_t, (uint64_t)(int64_t)v) \
    M(P##32_S64, 4, int32_t, (uint64_t)(int64_t)v)
#define STORE1(name, N, T, ADDR, VAL) \
    L_##name: { \
        uint64_t ea = (uint64_t)(ADDR) + OP(2); \
        T v = (T)(VAL); \
        if (UNLIKELY(ea + (N) > msize)) \
            goto trap_mem; \
        memcpy(mbase + ea, &v, (N)); \
        SKIP(3); \
    }
#define STORE(name, N, T) \
    STORE1(name, N, T, RU32(0), SLOT(1).bits) \
    STORE1(name##_A, N, T, A32, SLOT(1).bits) \
    STORE1(name##_B, N, T, RU32(0), acc)
/* STOREF64: STORE64 of an f64, the value from facc in the _B variant. */
#define STOREF(name) \
    STORE1(name, 8, uint64_t, RU32(0), SLOT(1).bits) \
    STORE1(name##_B, 8, uint64_t, RU32(0), f64_bits(facc))

/* STOREK "a k value off" and STORESX "a s b value off", the address
 * source from a slot or (_A) the accumulator. */
#define STOREG(name, nops, N, T, ADDR, VAL) \
    L_##name: { \
        uint64_t ea = (uint64_t)(uint32_t)(ADDR) + OP(nops - 1); \
        T v = (T)(VAL); \
        if (UNLIKELY(ea + (N) > msize)) \
            goto trap_mem; \
        memcpy(mbase + ea, &v, (N)); \
        SKIP(nops); \
    }
#define STOREK(name, N, T) \
    STOREG(name, 4, N, T, RU32(0) + OP(1), SLOT(2).bits) \
    STOREG(name##_A, 4, N, T, A32 + OP(1), SLOT(2).bits)
#define STORESX(name, N, T) \
    STOREG(name, 5, N, T, (RU32(0) << (OP(1) & 31)) + RU32(2), SLOT(3).bits) \
    STOREG(name##_A, 5, N, T, (A32 << (OP(1) & 31)) + RU32(2), SLOT(3).bits)

/* Operators with a source loaded from memory: "d a k off b", the result
 * to a slot or (__R) the accumulator; `expr` combines m (the loaded
 * value) and b. */
#define MEMOP1(name, MT, conv, T, RD, WR, expr) \
    { \
        uint64_t ea = (uint64_t)(uint32_t)(RU32(1) + OP(2)) + OP(3); \
        MT mv; \
        if (UNLIKELY(ea + sizeof mv > msize)) \
            goto trap_mem; \
        memcpy(&mv, mbase + ea, sizeof mv); \
        T m = conv(mv), b = RD(4); \
        WR; \
        SKIP(5); \
    }
#define MEMOP(name, MT, conv, T, RD, W, AW, expr) \
    L_##name: MEMOP1(name, MT, conv, T, RD, W(0, (expr)), expr) \
    L_##name##__R: MEMOP1(name, MT, conv, T, RD, AW(expr), expr)
#define NOCONV(x) (x)

/* Read-modify-write "a off b": one bounds check for the load and the store
 * back; `expr` combines m (the loaded value) and b as the M_* form does. */
#define RMW(name, MT, conv, T, RD, back, expr) \
    L_##name: { \
        uint64_t ea = (uint64_t)RU32(0) + OP(1); \
        MT mv; \
        if (UNLIKELY(ea + sizeof mv > msize)) \
            goto trap_mem; \
        memcpy(&mv, mbase + ea, sizeof mv); \
        T m = conv(mv), b = RD(2); \
        mv = back(expr); \
        memcpy(mbase + ea, &mv, sizeof mv); \
        SKIP(3); \
    }

/* Trapping float-to-int truncation: lo < x < hi must hold. */
#define TRUNC(name, FT, RD, WR, IT, lo_ok, hi) \
    L_##name: { \
        FT x = RD(1); \
        if (UNLIKELY(x != x)) \
            TRAP(TH_WASM_TRAP_BAD_CONVERSION, "invalid conversion to integer"); \
        if (UNLIKELY(!((lo_ok) && x < (hi)))) \
            TRAP(TH_WASM_TRAP_INT_OVERFLOW, "integer overflow"); \
        WR(0, (IT)x); \
        SKIP(2); \
    }

#endif
