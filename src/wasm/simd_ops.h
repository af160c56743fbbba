/*
 * simd_ops.h - the WebAssembly SIMD operations on v128 (see simd.h).
 *
 * Deliberately without an include guard: the includer defines
 *   SIMD_FN(name)  the name of each function (a prefix keeps two copies
 *                  apart when the file is included twice),
 *   SIMD_VEC       1 for the vector form, 0 for the scalar lane loops,
 * and the v128 union must already be defined (simd.h).  Every function is
 * static inline and exact: integer lanes wrap unless the operation
 * saturates, shift counts are taken modulo the lane width, float lanes
 * follow IEEE 754 with round-to-nearest-even, NaN results are quiet
 * (arithmetic) NaNs, min/max propagate NaN and order -0 below +0,
 * pmin/pmax are the plain `b < a ? b : a` / `a < b ? b : a`, trunc_sat maps
 * NaN to 0 and out-of-range values to the nearest bound, swizzle gives 0
 * for lane indices >= 16.  The scalar form is the reference; the vector
 * form uses vector extensions (and SSE2 on x86-64) only where those
 * compute the same bits.
 */

#if SIMD_VEC && defined(__SSE2__)
#include <emmintrin.h>
#define SIMD_SSE2 1
#else
#define SIMD_SSE2 0
#endif

/* ------------------------------------------------------------------ */
/* Scalar helpers                                                     */

static inline uint32_t SIMD_FN(fbits32)(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static inline float SIMD_FN(bitsf32)(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static inline uint64_t SIMD_FN(fbits64)(double d)
{
    uint64_t u;
    memcpy(&u, &d, 8);
    return u;
}

static inline double SIMD_FN(bitsf64)(uint64_t u)
{
    double d;
    memcpy(&d, &u, 8);
    return d;
}

/* Rounding: a NaN gives a quiet NaN (libm's inline forms may pass a
 * signalling NaN through). */
static inline float SIMD_FN(round32)(float a, float r)
{
    return a != a ? SIMD_FN(bitsf32)(SIMD_FN(fbits32)(a) | 0x00400000u) : r;
}

static inline double SIMD_FN(round64)(double a, double r)
{
    return a != a ? SIMD_FN(bitsf64)(SIMD_FN(fbits64)(a) | 0x0008000000000000ull) : r;
}

static inline float SIMD_FN(fmin32)(float a, float b)
{
    if (a != a || b != b)
        return a + b;
    if (a == b)
        return SIMD_FN(bitsf32)(SIMD_FN(fbits32)(a) | SIMD_FN(fbits32)(b));
    return a < b ? a : b;
}

static inline float SIMD_FN(fmax32)(float a, float b)
{
    if (a != a || b != b)
        return a + b;
    if (a == b)
        return SIMD_FN(bitsf32)(SIMD_FN(fbits32)(a) & SIMD_FN(fbits32)(b));
    return a > b ? a : b;
}

static inline double SIMD_FN(fmin64)(double a, double b)
{
    if (a != a || b != b)
        return a + b;
    if (a == b)
        return SIMD_FN(bitsf64)(SIMD_FN(fbits64)(a) | SIMD_FN(fbits64)(b));
    return a < b ? a : b;
}

static inline double SIMD_FN(fmax64)(double a, double b)
{
    if (a != a || b != b)
        return a + b;
    if (a == b)
        return SIMD_FN(bitsf64)(SIMD_FN(fbits64)(a) & SIMD_FN(fbits64)(b));
    return a > b ? a : b;
}

static inline int32_t SIMD_FN(sat_s32)(double x)
{
    if (x != x)
        return 0;
    if (x <= -2147483649.0)
        return INT32_MIN;
    if (x >= 2147483648.0)
        return INT32_MAX;
    return (int32_t)x;
}

static inline uint32_t SIMD_FN(sat_u32)(double x)
{
    if (x != x || x <= -1.0)
        return 0;
    if (x >= 4294967296.0)
        return UINT32_MAX;
    return (uint32_t)x;
}

static inline int32_t SIMD_FN(clamp)(int32_t x, int32_t lo, int32_t hi)
{
    return x < lo ? lo : x > hi ? hi : x;
}

static inline uint8_t SIMD_FN(popcnt8)(uint8_t v)
{
    v = (uint8_t)(v - ((v >> 1) & 0x55));
    v = (uint8_t)((v & 0x33) + ((v >> 2) & 0x33));
    return (uint8_t)((v + (v >> 4)) & 0x0f);
}

/* ------------------------------------------------------------------ */
/* Generators                                                         */

/* Lane loops: r.L[i] = expr of x = a.L[i] (and y = b.L[i]). */
#define SIMD_MAP1(name, L, N, expr) \
    static inline v128 SIMD_FN(name)(v128 a) \
    { \
        v128 r; \
        for (unsigned i = 0; i < (N); i++) { \
            __typeof__(a.L[0]) x = a.L[i]; \
            r.L[i] = (expr); \
        } \
        return r; \
    }
#define SIMD_MAP2(name, L, N, expr) \
    static inline v128 SIMD_FN(name)(v128 a, v128 b) \
    { \
        v128 r; \
        for (unsigned i = 0; i < (N); i++) { \
            __typeof__(a.L[0]) x = a.L[i], y = b.L[i]; \
            r.L[i] = (expr); \
        } \
        return r; \
    }
/* Comparisons: lanes of L compared, all-ones / zero written to lanes RL. */
#define SIMD_CMP_LOOP(name, L, RL, N, expr) \
    static inline v128 SIMD_FN(name)(v128 a, v128 b) \
    { \
        v128 r; \
        for (unsigned i = 0; i < (N); i++) { \
            __typeof__(a.L[0]) x = a.L[i], y = b.L[i]; \
            r.RL[i] = (expr) ? (__typeof__(r.RL[0]))~(__typeof__(r.RL[0]))0 : 0; \
        } \
        return r; \
    }

#if SIMD_VEC
/* r.M = a.M op b.M */
#define SIMD_BIN(name, L, N, expr, M, op) \
    static inline v128 SIMD_FN(name)(v128 a, v128 b) \
    { \
        v128 r; \
        r.M = a.M op b.M; \
        return r; \
    }
#define SIMD_CMP(name, L, RL, N, expr, M, RM, op) \
    static inline v128 SIMD_FN(name)(v128 a, v128 b) \
    { \
        v128 r; \
        r.RM = (__typeof__(r.RM))(a.M op b.M); \
        return r; \
    }
/* lane-wise min/max by a compare mask: r = mask ? a : b */
#define SIMD_SEL(name, L, N, expr, M, op) \
    static inline v128 SIMD_FN(name)(v128 a, v128 b) \
    { \
        v128 r; \
        __typeof__(a.M) m = (__typeof__(a.M))(a.M op b.M); \
        r.M = (a.M & m) | (b.M & ~m); \
        return r; \
    }
#else
#define SIMD_BIN(name, L, N, expr, M, op) SIMD_MAP2(name, L, N, expr)
#define SIMD_CMP(name, L, RL, N, expr, M, RM, op) SIMD_CMP_LOOP(name, L, RL, N, expr)
#define SIMD_SEL(name, L, N, expr, M, op) SIMD_MAP2(name, L, N, expr)
#endif

/* Shifts: count modulo the lane width. */
#if SIMD_VEC
#define SIMD_SHIFT(name, L, N, BITS, expr, M, op) \
    static inline v128 SIMD_FN(name)(v128 a, uint32_t s) \
    { \
        v128 r; \
        r.M = a.M op(int)(s & ((BITS)-1)); \
        return r; \
    }
#else
#define SIMD_SHIFT(name, L, N, BITS, expr, M, op) \
    static inline v128 SIMD_FN(name)(v128 a, uint32_t s) \
    { \
        v128 r; \
        unsigned n = s & ((BITS)-1); \
        for (unsigned i = 0; i < (N); i++) { \
            __typeof__(a.L[0]) x = a.L[i]; \
            r.L[i] = (__typeof__(r.L[0]))(expr); \
        } \
        return r; \
    }
#endif

/* ------------------------------------------------------------------ */
/* Loads (from `p`, the bounds already checked)                       */

static inline v128 SIMD_FN(load)(const uint8_t *p)
{
    v128 r;
    memcpy(&r, p, 16);
    return r;
}

#define SIMD_LOAD_EXT(name, L, SL, ST, N) \
    static inline v128 SIMD_FN(name)(const uint8_t *p) \
    { \
        v128 r; \
        for (unsigned i = 0; i < (N); i++) { \
            ST v; \
            memcpy(&v, p + i * sizeof v, sizeof v); \
            r.L[i] = v; \
        } \
        return r; \
    }
SIMD_LOAD_EXT(load8x8_s, i16, i8, int8_t, 8)
SIMD_LOAD_EXT(load8x8_u, u16, u8, uint8_t, 8)
SIMD_LOAD_EXT(load16x4_s, i32, i16, int16_t, 4)
SIMD_LOAD_EXT(load16x4_u, u32, u16, uint16_t, 4)
SIMD_LOAD_EXT(load32x2_s, i64, i32, int32_t, 2)
SIMD_LOAD_EXT(load32x2_u, u64, u32, uint32_t, 2)

#define SIMD_LOAD_SPLAT(name, L, ST, N) \
    static inline v128 SIMD_FN(name)(const uint8_t *p) \
    { \
        v128 r; \
        ST v; \
        memcpy(&v, p, sizeof v); \
        for (unsigned i = 0; i < (N); i++) \
            r.L[i] = v; \
        return r; \
    }
SIMD_LOAD_SPLAT(load8_splat, u8, uint8_t, 16)
SIMD_LOAD_SPLAT(load16_splat, u16, uint16_t, 8)
SIMD_LOAD_SPLAT(load32_splat, u32, uint32_t, 4)
SIMD_LOAD_SPLAT(load64_splat, u64, uint64_t, 2)

static inline v128 SIMD_FN(load32_zero)(const uint8_t *p)
{
    v128 r;
    memset(&r, 0, sizeof r);
    memcpy(&r, p, 4);
    return r;
}

static inline v128 SIMD_FN(load64_zero)(const uint8_t *p)
{
    v128 r;
    memset(&r, 0, sizeof r);
    memcpy(&r, p, 8);
    return r;
}

/* ------------------------------------------------------------------ */
/* Splat, lanes, shuffles                                             */

/* splat: from the bits of a scalar (i32/f32 in the low half) */
static inline v128 SIMD_FN(i8x16_splat)(uint64_t x)
{
    v128 r;
    memset(&r, (int)(x & 0xff), sizeof r);
    return r;
}

static inline v128 SIMD_FN(i16x8_splat)(uint64_t x)
{
    v128 r;
    for (unsigned i = 0; i < 8; i++)
        r.u16[i] = (uint16_t)x;
    return r;
}

static inline v128 SIMD_FN(i32x4_splat)(uint64_t x)
{
    v128 r;
    for (unsigned i = 0; i < 4; i++)
        r.u32[i] = (uint32_t)x;
    return r;
}

static inline v128 SIMD_FN(i64x2_splat)(uint64_t x)
{
    v128 r;
    r.u64[0] = r.u64[1] = x;
    return r;
}

/* extract_lane: the scalar's bits (i32/f32 zero-extended to 64) */
static inline uint64_t SIMD_FN(i8x16_extract_lane_s)(v128 a, unsigned l)
{
    return (uint32_t)(int32_t)a.i8[l & 15];
}

static inline uint64_t SIMD_FN(i8x16_extract_lane_u)(v128 a, unsigned l)
{
    return a.u8[l & 15];
}

static inline uint64_t SIMD_FN(i16x8_extract_lane_s)(v128 a, unsigned l)
{
    return (uint32_t)(int32_t)a.i16[l & 7];
}

static inline uint64_t SIMD_FN(i16x8_extract_lane_u)(v128 a, unsigned l)
{
    return a.u16[l & 7];
}

static inline uint64_t SIMD_FN(i32x4_extract_lane)(v128 a, unsigned l)
{
    return a.u32[l & 3];
}

static inline uint64_t SIMD_FN(i64x2_extract_lane)(v128 a, unsigned l)
{
    return a.u64[l & 1];
}

static inline v128 SIMD_FN(i8x16_replace_lane)(v128 a, uint64_t x, unsigned l)
{
    a.u8[l & 15] = (uint8_t)x;
    return a;
}

static inline v128 SIMD_FN(i16x8_replace_lane)(v128 a, uint64_t x, unsigned l)
{
    a.u16[l & 7] = (uint16_t)x;
    return a;
}

static inline v128 SIMD_FN(i32x4_replace_lane)(v128 a, uint64_t x, unsigned l)
{
    a.u32[l & 3] = (uint32_t)x;
    return a;
}

static inline v128 SIMD_FN(i64x2_replace_lane)(v128 a, uint64_t x, unsigned l)
{
    a.u64[l & 1] = x;
    return a;
}

/* i8x16.shuffle: lane indices (validated < 32) into a ++ b */
static inline v128 SIMD_FN(i8x16_shuffle)(v128 a, v128 b, const uint8_t *idx)
{
    uint8_t both[32];
    v128 r;

    memcpy(both, &a, 16);
    memcpy(both + 16, &b, 16);
    for (unsigned i = 0; i < 16; i++)
        r.u8[i] = both[idx[i] & 31];
    return r;
}

static inline v128 SIMD_FN(i8x16_swizzle)(v128 a, v128 b)
{
    v128 r;
    for (unsigned i = 0; i < 16; i++)
        r.u8[i] = b.u8[i] < 16 ? a.u8[b.u8[i]] : 0;
    return r;
}

/* ------------------------------------------------------------------ */
/* Bitwise                                                            */

#if SIMD_VEC
static inline v128 SIMD_FN(v128_not)(v128 a)
{
    a.vu64 = ~a.vu64;
    return a;
}
static inline v128 SIMD_FN(v128_andnot)(v128 a, v128 b)
{
    a.vu64 &= ~b.vu64;
    return a;
}
static inline v128 SIMD_FN(v128_bitselect)(v128 a, v128 b, v128 c)
{
    a.vu64 = (a.vu64 & c.vu64) | (b.vu64 & ~c.vu64);
    return a;
}
#else
SIMD_MAP1(v128_not, u64, 2, ~x)
SIMD_MAP2(v128_andnot, u64, 2, x & ~y)
static inline v128 SIMD_FN(v128_bitselect)(v128 a, v128 b, v128 c)
{
    v128 r;
    for (unsigned i = 0; i < 2; i++)
        r.u64[i] = (a.u64[i] & c.u64[i]) | (b.u64[i] & ~c.u64[i]);
    return r;
}
#endif
SIMD_BIN(v128_and, u64, 2, x &y, vu64, &)
SIMD_BIN(v128_or, u64, 2, x | y, vu64, |)
SIMD_BIN(v128_xor, u64, 2, x ^ y, vu64, ^)

static inline uint32_t SIMD_FN(v128_any_true)(v128 a)
{
    return (a.u64[0] | a.u64[1]) != 0;
}

/* ------------------------------------------------------------------ */
/* Comparisons                                                        */

#define SIMD_ICMPS(P, S, U, RL, N, VS, VU) \
    SIMD_CMP(P##_eq, U, RL, N, x == y, VU, VS, ==) \
    SIMD_CMP(P##_ne, U, RL, N, x != y, VU, VS, !=) \
    SIMD_CMP(P##_lt_s, S, RL, N, x < y, VS, VS, <) \
    SIMD_CMP(P##_lt_u, U, RL, N, x < y, VU, VS, <) \
    SIMD_CMP(P##_gt_s, S, RL, N, x > y, VS, VS, >) \
    SIMD_CMP(P##_gt_u, U, RL, N, x > y, VU, VS, >) \
    SIMD_CMP(P##_le_s, S, RL, N, x <= y, VS, VS, <=) \
    SIMD_CMP(P##_le_u, U, RL, N, x <= y, VU, VS, <=) \
    SIMD_CMP(P##_ge_s, S, RL, N, x >= y, VS, VS, >=) \
    SIMD_CMP(P##_ge_u, U, RL, N, x >= y, VU, VS, >=)
SIMD_ICMPS(i8x16, i8, u8, u8, 16, vi8, vu8)
SIMD_ICMPS(i16x8, i16, u16, u16, 8, vi16, vu16)
SIMD_ICMPS(i32x4, i32, u32, u32, 4, vi32, vu32)
SIMD_CMP(i64x2_eq, u64, u64, 2, x == y, vu64, vi64, ==)
SIMD_CMP(i64x2_ne, u64, u64, 2, x != y, vu64, vi64, !=)
SIMD_CMP(i64x2_lt_s, i64, u64, 2, x < y, vi64, vi64, <)
SIMD_CMP(i64x2_gt_s, i64, u64, 2, x > y, vi64, vi64, >)
SIMD_CMP(i64x2_le_s, i64, u64, 2, x <= y, vi64, vi64, <=)
SIMD_CMP(i64x2_ge_s, i64, u64, 2, x >= y, vi64, vi64, >=)
#define SIMD_FCMPS(P, L, RL, N, VM, RM) \
    SIMD_CMP(P##_eq, L, RL, N, x == y, VM, RM, ==) \
    SIMD_CMP(P##_ne, L, RL, N, x != y, VM, RM, !=) \
    SIMD_CMP(P##_lt, L, RL, N, x < y, VM, RM, <) \
    SIMD_CMP(P##_gt, L, RL, N, x > y, VM, RM, >) \
    SIMD_CMP(P##_le, L, RL, N, x <= y, VM, RM, <=) \
    SIMD_CMP(P##_ge, L, RL, N, x >= y, VM, RM, >=)
SIMD_FCMPS(f32x4, f32, u32, 4, vf32, vi32)
SIMD_FCMPS(f64x2, f64, u64, 2, vf64, vi64)

/* ------------------------------------------------------------------ */
/* Integer arithmetic                                                 */

SIMD_BIN(i8x16_add, u8, 16, (uint8_t)(x + y), vu8, +)
SIMD_BIN(i16x8_add, u16, 8, (uint16_t)(x + y), vu16, +)
SIMD_BIN(i32x4_add, u32, 4, x + y, vu32, +)
SIMD_BIN(i64x2_add, u64, 2, x + y, vu64, +)
SIMD_BIN(i8x16_sub, u8, 16, (uint8_t)(x - y), vu8, -)
SIMD_BIN(i16x8_sub, u16, 8, (uint16_t)(x - y), vu16, -)
SIMD_BIN(i32x4_sub, u32, 4, x - y, vu32, -)
SIMD_BIN(i64x2_sub, u64, 2, x - y, vu64, -)
SIMD_BIN(i16x8_mul, u16, 8, (uint16_t)((uint32_t)x *y), vu16, *)
SIMD_BIN(i32x4_mul, u32, 4, x *y, vu32, *)
SIMD_BIN(i64x2_mul, u64, 2, x *y, vu64, *)

#if SIMD_VEC
#define SIMD_NEG(name, M) \
    static inline v128 SIMD_FN(name)(v128 a) \
    { \
        a.M = -a.M; \
        return a; \
    }
/* abs: (x ^ m) - m with m = x >> (bits - 1), in unsigned lanes */
#define SIMD_ABS(name, SM, UM, BITS) \
    static inline v128 SIMD_FN(name)(v128 a) \
    { \
        __typeof__(a.UM) m = (__typeof__(a.UM))(a.SM >> ((BITS)-1)); \
        a.UM = (a.UM ^ m) - m; \
        return a; \
    }
SIMD_NEG(i8x16_neg, vu8)
SIMD_NEG(i16x8_neg, vu16)
SIMD_NEG(i32x4_neg, vu32)
SIMD_NEG(i64x2_neg, vu64)
SIMD_ABS(i8x16_abs, vi8, vu8, 8)
SIMD_ABS(i16x8_abs, vi16, vu16, 16)
SIMD_ABS(i32x4_abs, vi32, vu32, 32)
SIMD_ABS(i64x2_abs, vi64, vu64, 64)
#undef SIMD_NEG
#undef SIMD_ABS
#else
SIMD_MAP1(i8x16_neg, u8, 16, (uint8_t)(0u - x))
SIMD_MAP1(i16x8_neg, u16, 8, (uint16_t)(0u - x))
SIMD_MAP1(i32x4_neg, u32, 4, 0u - x)
SIMD_MAP1(i64x2_neg, u64, 2, 0u - x)
SIMD_MAP1(i8x16_abs, u8, 16, (uint8_t)((x & 0x80u) ? 0u - x : x))
SIMD_MAP1(i16x8_abs, u16, 8, (uint16_t)((x & 0x8000u) ? 0u - x : x))
SIMD_MAP1(i32x4_abs, u32, 4, (x & 0x80000000u) ? 0u - x : x)
SIMD_MAP1(i64x2_abs, u64, 2, (x >> 63) ? 0u - x : x)
#endif

#if SIMD_VEC
static inline v128 SIMD_FN(i8x16_popcnt)(v128 a)
{
    th_v16u8 v = a.vu8;
    v = v - ((v >> 1) & 0x55);
    v = (v & 0x33) + ((v >> 2) & 0x33);
    a.vu8 = (v + (v >> 4)) & 0x0f;
    return a;
}
#else
SIMD_MAP1(i8x16_popcnt, u8, 16, SIMD_FN(popcnt8)(x))
#endif

SIMD_SHIFT(i8x16_shl, u8, 16, 8, x << n, vu8, <<)
SIMD_SHIFT(i16x8_shl, u16, 8, 16, x << n, vu16, <<)
SIMD_SHIFT(i32x4_shl, u32, 4, 32, x << n, vu32, <<)
SIMD_SHIFT(i64x2_shl, u64, 2, 64, x << n, vu64, <<)
SIMD_SHIFT(i8x16_shr_s, i8, 16, 8, x >> n, vi8, >>)
SIMD_SHIFT(i16x8_shr_s, i16, 8, 16, x >> n, vi16, >>)
SIMD_SHIFT(i32x4_shr_s, i32, 4, 32, x >> n, vi32, >>)
SIMD_SHIFT(i64x2_shr_s, i64, 2, 64, x >> n, vi64, >>)
SIMD_SHIFT(i8x16_shr_u, u8, 16, 8, x >> n, vu8, >>)
SIMD_SHIFT(i16x8_shr_u, u16, 8, 16, x >> n, vu16, >>)
SIMD_SHIFT(i32x4_shr_u, u32, 4, 32, x >> n, vu32, >>)
SIMD_SHIFT(i64x2_shr_u, u64, 2, 64, x >> n, vu64, >>)

/* Saturating add/sub and rounding average: SSE2 has them exactly. */
#if SIMD_SSE2
#define SIMD_SSE2_BIN(name, intrin) \
    static inline v128 SIMD_FN(name)(v128 a, v128 b) \
    { \
        v128 r; \
        r.vi64 = (th_v2i64)intrin((__m128i)a.vi64, (__m128i)b.vi64); \
        return r; \
    }
SIMD_SSE2_BIN(i8x16_add_sat_s, _mm_adds_epi8)
SIMD_SSE2_BIN(i8x16_add_sat_u, _mm_adds_epu8)
SIMD_SSE2_BIN(i8x16_sub_sat_s, _mm_subs_epi8)
SIMD_SSE2_BIN(i8x16_sub_sat_u, _mm_subs_epu8)
SIMD_SSE2_BIN(i16x8_add_sat_s, _mm_adds_epi16)
SIMD_SSE2_BIN(i16x8_add_sat_u, _mm_adds_epu16)
SIMD_SSE2_BIN(i16x8_sub_sat_s, _mm_subs_epi16)
SIMD_SSE2_BIN(i16x8_sub_sat_u, _mm_subs_epu16)
SIMD_SSE2_BIN(i8x16_avgr_u, _mm_avg_epu8)
SIMD_SSE2_BIN(i16x8_avgr_u, _mm_avg_epu16)
SIMD_SSE2_BIN(i8x16_narrow_i16x8_s, _mm_packs_epi16)
SIMD_SSE2_BIN(i8x16_narrow_i16x8_u, _mm_packus_epi16)
SIMD_SSE2_BIN(i16x8_narrow_i32x4_s, _mm_packs_epi32)
SIMD_SSE2_BIN(i32x4_dot_i16x8_s, _mm_madd_epi16)
#undef SIMD_SSE2_BIN
#else
SIMD_MAP2(i8x16_add_sat_s, i8, 16, (int8_t)SIMD_FN(clamp)(x + y, -128, 127))
SIMD_MAP2(i8x16_add_sat_u, u8, 16, (uint8_t)SIMD_FN(clamp)(x + y, 0, 255))
SIMD_MAP2(i8x16_sub_sat_s, i8, 16, (int8_t)SIMD_FN(clamp)(x - y, -128, 127))
SIMD_MAP2(i8x16_sub_sat_u, u8, 16, (uint8_t)SIMD_FN(clamp)(x - y, 0, 255))
SIMD_MAP2(i16x8_add_sat_s, i16, 8, (int16_t)SIMD_FN(clamp)(x + y, -32768, 32767))
SIMD_MAP2(i16x8_add_sat_u, u16, 8, (uint16_t)SIMD_FN(clamp)(x + y, 0, 65535))
SIMD_MAP2(i16x8_sub_sat_s, i16, 8, (int16_t)SIMD_FN(clamp)(x - y, -32768, 32767))
SIMD_MAP2(i16x8_sub_sat_u, u16, 8, (uint16_t)SIMD_FN(clamp)(x - y, 0, 65535))
SIMD_MAP2(i8x16_avgr_u, u8, 16, (uint8_t)((x + y + 1u) >> 1))
SIMD_MAP2(i16x8_avgr_u, u16, 8, (uint16_t)((x + y + 1u) >> 1))

static inline v128 SIMD_FN(i8x16_narrow_i16x8_s)(v128 a, v128 b)
{
    v128 r;
    for (unsigned i = 0; i < 8; i++) {
        r.i8[i] = (int8_t)SIMD_FN(clamp)(a.i16[i], -128, 127);
        r.i8[i + 8] = (int8_t)SIMD_FN(clamp)(b.i16[i], -128, 127);
    }
    return r;
}

static inline v128 SIMD_FN(i8x16_narrow_i16x8_u)(v128 a, v128 b)
{
    v128 r;
    for (unsigned i = 0; i < 8; i++) {
        r.u8[i] = (uint8_t)SIMD_FN(clamp)(a.i16[i], 0, 255);
        r.u8[i + 8] = (uint8_t)SIMD_FN(clamp)(b.i16[i], 0, 255);
    }
    return r;
}

static inline v128 SIMD_FN(i16x8_narrow_i32x4_s)(v128 a, v128 b)
{
    v128 r;
    for (unsigned i = 0; i < 4; i++) {
        r.i16[i] = (int16_t)SIMD_FN(clamp)(a.i32[i], -32768, 32767);
        r.i16[i + 4] = (int16_t)SIMD_FN(clamp)(b.i32[i], -32768, 32767);
    }
    return r;
}

static inline v128 SIMD_FN(i32x4_dot_i16x8_s)(v128 a, v128 b)
{
    v128 r;
    for (unsigned i = 0; i < 4; i++)
        r.u32[i] = (uint32_t)((int32_t)a.i16[2 * i] * b.i16[2 * i]) +
                   (uint32_t)((int32_t)a.i16[2 * i + 1] * b.i16[2 * i + 1]);
    return r;
}
#endif

static inline v128 SIMD_FN(i16x8_narrow_i32x4_u)(v128 a, v128 b)
{
    v128 r;
    for (unsigned i = 0; i < 4; i++) {
        r.u16[i] = (uint16_t)SIMD_FN(clamp)(a.i32[i], 0, 65535);
        r.u16[i + 4] = (uint16_t)SIMD_FN(clamp)(b.i32[i], 0, 65535);
    }
    return r;
}

SIMD_SEL(i8x16_min_s, i8, 16, x < y ? x : y, vi8, <)
SIMD_SEL(i8x16_min_u, u8, 16, x < y ? x : y, vu8, <)
SIMD_SEL(i8x16_max_s, i8, 16, x > y ? x : y, vi8, >)
SIMD_SEL(i8x16_max_u, u8, 16, x > y ? x : y, vu8, >)
SIMD_SEL(i16x8_min_s, i16, 8, x < y ? x : y, vi16, <)
SIMD_SEL(i16x8_min_u, u16, 8, x < y ? x : y, vu16, <)
SIMD_SEL(i16x8_max_s, i16, 8, x > y ? x : y, vi16, >)
SIMD_SEL(i16x8_max_u, u16, 8, x > y ? x : y, vu16, >)
SIMD_SEL(i32x4_min_s, i32, 4, x < y ? x : y, vi32, <)
SIMD_SEL(i32x4_min_u, u32, 4, x < y ? x : y, vu32, <)
SIMD_SEL(i32x4_max_s, i32, 4, x > y ? x : y, vi32, >)
SIMD_SEL(i32x4_max_u, u32, 4, x > y ? x : y, vu32, >)

/* (x * y + 0x4000) >> 15, saturated: only -32768 * -32768 overflows */
SIMD_MAP2(i16x8_q15mulr_sat_s, i16, 8,
          (int16_t)SIMD_FN(clamp)(((int32_t)x * y + 0x4000) >> 15, -32768, 32767))

/* all_true and bitmask */
#define SIMD_ALL_TRUE(name, L, N) \
    static inline uint32_t SIMD_FN(name)(v128 a) \
    { \
        for (unsigned i = 0; i < (N); i++) \
            if (a.L[i] == 0) \
                return 0; \
        return 1; \
    }
SIMD_ALL_TRUE(i8x16_all_true, u8, 16)
SIMD_ALL_TRUE(i16x8_all_true, u16, 8)
SIMD_ALL_TRUE(i32x4_all_true, u32, 4)
SIMD_ALL_TRUE(i64x2_all_true, u64, 2)

#if SIMD_SSE2
static inline uint32_t SIMD_FN(i8x16_bitmask)(v128 a)
{
    return (uint32_t)_mm_movemask_epi8((__m128i)a.vi64);
}

static inline uint32_t SIMD_FN(i16x8_bitmask)(v128 a)
{
    /* signed saturation keeps each lane's sign */
    __m128i p = _mm_packs_epi16((__m128i)a.vi64, _mm_setzero_si128());
    return (uint32_t)_mm_movemask_epi8(p) & 0xffu;
}

static inline uint32_t SIMD_FN(i32x4_bitmask)(v128 a)
{
    return (uint32_t)_mm_movemask_ps((__m128)a.vf32);
}

static inline uint32_t SIMD_FN(i64x2_bitmask)(v128 a)
{
    return (uint32_t)_mm_movemask_pd((__m128d)a.vf64);
}
#else
#define SIMD_BITMASK(name, L, N, BITS) \
    static inline uint32_t SIMD_FN(name)(v128 a) \
    { \
        uint32_t m = 0; \
        for (unsigned i = 0; i < (N); i++) \
            m |= (uint32_t)(a.L[i] >> ((BITS)-1)) << i; \
        return m; \
    }
SIMD_BITMASK(i8x16_bitmask, u8, 16, 8)
SIMD_BITMASK(i16x8_bitmask, u16, 8, 16)
SIMD_BITMASK(i32x4_bitmask, u32, 4, 32)
SIMD_BITMASK(i64x2_bitmask, u64, 2, 64)
#undef SIMD_BITMASK
#endif

/* Widening: extend, extmul, extadd_pairwise. */
#define SIMD_EXTEND(name, RL, L, N, OFF) \
    static inline v128 SIMD_FN(name)(v128 a) \
    { \
        v128 r; \
        for (unsigned i = 0; i < (N); i++) \
            r.RL[i] = a.L[i + (OFF)]; \
        return r; \
    }
SIMD_EXTEND(i16x8_extend_low_i8x16_s, i16, i8, 8, 0)
SIMD_EXTEND(i16x8_extend_high_i8x16_s, i16, i8, 8, 8)
SIMD_EXTEND(i16x8_extend_low_i8x16_u, u16, u8, 8, 0)
SIMD_EXTEND(i16x8_extend_high_i8x16_u, u16, u8, 8, 8)
SIMD_EXTEND(i32x4_extend_low_i16x8_s, i32, i16, 4, 0)
SIMD_EXTEND(i32x4_extend_high_i16x8_s, i32, i16, 4, 4)
SIMD_EXTEND(i32x4_extend_low_i16x8_u, u32, u16, 4, 0)
SIMD_EXTEND(i32x4_extend_high_i16x8_u, u32, u16, 4, 4)
SIMD_EXTEND(i64x2_extend_low_i32x4_s, i64, i32, 2, 0)
SIMD_EXTEND(i64x2_extend_high_i32x4_s, i64, i32, 2, 2)
SIMD_EXTEND(i64x2_extend_low_i32x4_u, u64, u32, 2, 0)
SIMD_EXTEND(i64x2_extend_high_i32x4_u, u64, u32, 2, 2)

/* products in a wide enough (unsigned where it could overflow int) type */
#define SIMD_EXTMUL(name, RL, RT, L, WT, N, OFF) \
    static inline v128 SIMD_FN(name)(v128 a, v128 b) \
    { \
        v128 r; \
        for (unsigned i = 0; i < (N); i++) \
            r.RL[i] = (RT)((WT)a.L[i + (OFF)] * (WT)b.L[i + (OFF)]); \
        return r; \
    }
SIMD_EXTMUL(i16x8_extmul_low_i8x16_s, i16, int16_t, i8, int32_t, 8, 0)
SIMD_EXTMUL(i16x8_extmul_high_i8x16_s, i16, int16_t, i8, int32_t, 8, 8)
SIMD_EXTMUL(i16x8_extmul_low_i8x16_u, u16, uint16_t, u8, uint32_t, 8, 0)
SIMD_EXTMUL(i16x8_extmul_high_i8x16_u, u16, uint16_t, u8, uint32_t, 8, 8)
SIMD_EXTMUL(i32x4_extmul_low_i16x8_s, i32, int32_t, i16, int32_t, 4, 0)
SIMD_EXTMUL(i32x4_extmul_high_i16x8_s, i32, int32_t, i16, int32_t, 4, 4)
SIMD_EXTMUL(i32x4_extmul_low_i16x8_u, u32, uint32_t, u16, uint32_t, 4, 0)
SIMD_EXTMUL(i32x4_extmul_high_i16x8_u, u32, uint32_t, u16, uint32_t, 4, 4)
SIMD_EXTMUL(i64x2_extmul_low_i32x4_s, i64, int64_t, i32, int64_t, 2, 0)
SIMD_EXTMUL(i64x2_extmul_high_i32x4_s, i64, int64_t, i32, int64_t, 2, 2)
SIMD_EXTMUL(i64x2_extmul_low_i32x4_u, u64, uint64_t, u32, uint64_t, 2, 0)
SIMD_EXTMUL(i64x2_extmul_high_i32x4_u, u64, uint64_t, u32, uint64_t, 2, 2)

#define SIMD_EXTADD(name, RL, RT, L, N) \
    static inline v128 SIMD_FN(name)(v128 a) \
    { \
        v128 r; \
        for (unsigned i = 0; i < (N); i++) \
            r.RL[i] = (RT)(a.L[2 * i] + a.L[2 * i + 1]); \
        return r; \
    }
SIMD_EXTADD(i16x8_extadd_pairwise_i8x16_s, i16, int16_t, i8, 8)
SIMD_EXTADD(i16x8_extadd_pairwise_i8x16_u, u16, uint16_t, u8, 8)
SIMD_EXTADD(i32x4_extadd_pairwise_i16x8_s, i32, int32_t, i16, 4)
SIMD_EXTADD(i32x4_extadd_pairwise_i16x8_u, u32, uint32_t, u16, 4)

/* ------------------------------------------------------------------ */
/* Floating point                                                     */

#if SIMD_VEC
static inline v128 SIMD_FN(f32x4_abs)(v128 a)
{
    a.vu32 &= 0x7fffffffu;
    return a;
}
static inline v128 SIMD_FN(f32x4_neg)(v128 a)
{
    a.vu32 ^= 0x80000000u;
    return a;
}
static inline v128 SIMD_FN(f64x2_abs)(v128 a)
{
    a.vu64 &= 0x7fffffffffffffffull;
    return a;
}
static inline v128 SIMD_FN(f64x2_neg)(v128 a)
{
    a.vu64 ^= 0x8000000000000000ull;
    return a;
}
#else
SIMD_MAP1(f32x4_abs, u32, 4, x & 0x7fffffffu)
SIMD_MAP1(f32x4_neg, u32, 4, x ^ 0x80000000u)
SIMD_MAP1(f64x2_abs, u64, 2, x & 0x7fffffffffffffffull)
SIMD_MAP1(f64x2_neg, u64, 2, x ^ 0x8000000000000000ull)
#endif

SIMD_BIN(f32x4_add, f32, 4, x + y, vf32, +)
SIMD_BIN(f32x4_sub, f32, 4, x - y, vf32, -)
SIMD_BIN(f32x4_mul, f32, 4, x *y, vf32, *)
SIMD_BIN(f32x4_div, f32, 4, x / y, vf32, /)
SIMD_BIN(f64x2_add, f64, 2, x + y, vf64, +)
SIMD_BIN(f64x2_sub, f64, 2, x - y, vf64, -)
SIMD_BIN(f64x2_mul, f64, 2, x *y, vf64, *)
SIMD_BIN(f64x2_div, f64, 2, x / y, vf64, /)

#if SIMD_SSE2
static inline v128 SIMD_FN(f32x4_sqrt)(v128 a)
{
    a.vf32 = (th_v4f32)_mm_sqrt_ps((__m128)a.vf32);
    return a;
}

static inline v128 SIMD_FN(f64x2_sqrt)(v128 a)
{
    a.vf64 = (th_v2f64)_mm_sqrt_pd((__m128d)a.vf64);
    return a;
}

/* min/max: minps returns its second operand for equal or unordered
 * inputs, so both orders combined give the -0/+0 rule; NaN lanes become
 * the canonical NaN (a quiet NaN, as the spec requires). */
static inline v128 SIMD_FN(f32x4_min)(v128 a, v128 b)
{
    __m128 x = (__m128)a.vf32, y = (__m128)b.vf32;
    __m128 t = _mm_or_ps(_mm_min_ps(x, y), _mm_min_ps(y, x));
    __m128 n = _mm_cmpunord_ps(x, y);
    __m128 q = _mm_castsi128_ps(_mm_set1_epi32(0x7fc00000));
    a.vf32 = (th_v4f32)_mm_or_ps(_mm_andnot_ps(n, t), _mm_and_ps(n, q));
    return a;
}

static inline v128 SIMD_FN(f32x4_max)(v128 a, v128 b)
{
    __m128 x = (__m128)a.vf32, y = (__m128)b.vf32;
    __m128 t = _mm_and_ps(_mm_max_ps(x, y), _mm_max_ps(y, x));
    __m128 n = _mm_cmpunord_ps(x, y);
    __m128 q = _mm_castsi128_ps(_mm_set1_epi32(0x7fc00000));
    a.vf32 = (th_v4f32)_mm_or_ps(_mm_andnot_ps(n, t), _mm_and_ps(n, q));
    return a;
}

static inline v128 SIMD_FN(f64x2_min)(v128 a, v128 b)
{
    __m128d x = (__m128d)a.vf64, y = (__m128d)b.vf64;
    __m128d t = _mm_or_pd(_mm_min_pd(x, y), _mm_min_pd(y, x));
    __m128d n = _mm_cmpunord_pd(x, y);
    __m128d q = _mm_castsi128_pd(_mm_set1_epi64x(0x7ff8000000000000ll));
    a.vf64 = (th_v2f64)_mm_or_pd(_mm_andnot_pd(n, t), _mm_and_pd(n, q));
    return a;
}

static inline v128 SIMD_FN(f64x2_max)(v128 a, v128 b)
{
    __m128d x = (__m128d)a.vf64, y = (__m128d)b.vf64;
    __m128d t = _mm_and_pd(_mm_max_pd(x, y), _mm_max_pd(y, x));
    __m128d n = _mm_cmpunord_pd(x, y);
    __m128d q = _mm_castsi128_pd(_mm_set1_epi64x(0x7ff8000000000000ll));
    a.vf64 = (th_v2f64)_mm_or_pd(_mm_andnot_pd(n, t), _mm_and_pd(n, q));
    return a;
}
#else
SIMD_MAP1(f32x4_sqrt, f32, 4, sqrtf(x))
SIMD_MAP1(f64x2_sqrt, f64, 2, sqrt(x))
SIMD_MAP2(f32x4_min, f32, 4, SIMD_FN(fmin32)(x, y))
SIMD_MAP2(f32x4_max, f32, 4, SIMD_FN(fmax32)(x, y))
SIMD_MAP2(f64x2_min, f64, 2, SIMD_FN(fmin64)(x, y))
SIMD_MAP2(f64x2_max, f64, 2, SIMD_FN(fmax64)(x, y))
#endif

/* pmin/pmax: exactly `b < a ? b : a` and `a < b ? b : a`, bits kept */
#if SIMD_VEC
#define SIMD_PSEL(name, VF, VU, cmp) \
    static inline v128 SIMD_FN(name)(v128 a, v128 b) \
    { \
        __typeof__(a.VU) m = (__typeof__(a.VU))(cmp); \
        a.VU = (b.VU & m) | (a.VU & ~m); \
        return a; \
    }
SIMD_PSEL(f32x4_pmin, vf32, vu32, b.vf32 < a.vf32)
SIMD_PSEL(f32x4_pmax, vf32, vu32, a.vf32 < b.vf32)
SIMD_PSEL(f64x2_pmin, vf64, vu64, b.vf64 < a.vf64)
SIMD_PSEL(f64x2_pmax, vf64, vu64, a.vf64 < b.vf64)
#undef SIMD_PSEL
#else
SIMD_MAP2(f32x4_pmin, u32, 4, SIMD_FN(bitsf32)(y) < SIMD_FN(bitsf32)(x) ? y : x)
SIMD_MAP2(f32x4_pmax, u32, 4, SIMD_FN(bitsf32)(x) < SIMD_FN(bitsf32)(y) ? y : x)
SIMD_MAP2(f64x2_pmin, u64, 2, SIMD_FN(bitsf64)(y) < SIMD_FN(bitsf64)(x) ? y : x)
SIMD_MAP2(f64x2_pmax, u64, 2, SIMD_FN(bitsf64)(x) < SIMD_FN(bitsf64)(y) ? y : x)
#endif

SIMD_MAP1(f32x4_ceil, f32, 4, SIMD_FN(round32)(x, ceilf(x)))
SIMD_MAP1(f32x4_floor, f32, 4, SIMD_FN(round32)(x, floorf(x)))
SIMD_MAP1(f32x4_trunc, f32, 4, SIMD_FN(round32)(x, truncf(x)))
SIMD_MAP1(f32x4_nearest, f32, 4, SIMD_FN(round32)(x, rintf(x)))
SIMD_MAP1(f64x2_ceil, f64, 2, SIMD_FN(round64)(x, ceil(x)))
SIMD_MAP1(f64x2_floor, f64, 2, SIMD_FN(round64)(x, floor(x)))
SIMD_MAP1(f64x2_trunc, f64, 2, SIMD_FN(round64)(x, trunc(x)))
SIMD_MAP1(f64x2_nearest, f64, 2, SIMD_FN(round64)(x, rint(x)))

/* ------------------------------------------------------------------ */
/* Conversions                                                        */

#if SIMD_VEC
static inline v128 SIMD_FN(f32x4_convert_i32x4_s)(v128 a)
{
    a.vf32 = __builtin_convertvector(a.vi32, th_v4f32);
    return a;
}
#else
static inline v128 SIMD_FN(f32x4_convert_i32x4_s)(v128 a)
{
    v128 r;
    for (unsigned i = 0; i < 4; i++)
        r.f32[i] = (float)a.i32[i];
    return r;
}
#endif

static inline v128 SIMD_FN(f32x4_convert_i32x4_u)(v128 a)
{
    v128 r;
    for (unsigned i = 0; i < 4; i++)
        r.f32[i] = (float)a.u32[i];
    return r;
}

static inline v128 SIMD_FN(f64x2_convert_low_i32x4_s)(v128 a)
{
    v128 r;
    r.f64[0] = a.i32[0];
    r.f64[1] = a.i32[1];
    return r;
}

static inline v128 SIMD_FN(f64x2_convert_low_i32x4_u)(v128 a)
{
    v128 r;
    r.f64[0] = a.u32[0];
    r.f64[1] = a.u32[1];
    return r;
}

static inline v128 SIMD_FN(i32x4_trunc_sat_f32x4_s)(v128 a)
{
    v128 r;
    for (unsigned i = 0; i < 4; i++)
        r.i32[i] = SIMD_FN(sat_s32)(a.f32[i]);
    return r;
}

static inline v128 SIMD_FN(i32x4_trunc_sat_f32x4_u)(v128 a)
{
    v128 r;
    for (unsigned i = 0; i < 4; i++)
        r.u32[i] = SIMD_FN(sat_u32)(a.f32[i]);
    return r;
}

static inline v128 SIMD_FN(i32x4_trunc_sat_f64x2_s_zero)(v128 a)
{
    v128 r;
    r.i32[0] = SIMD_FN(sat_s32)(a.f64[0]);
    r.i32[1] = SIMD_FN(sat_s32)(a.f64[1]);
    r.u64[1] = 0;
    return r;
}

static inline v128 SIMD_FN(i32x4_trunc_sat_f64x2_u_zero)(v128 a)
{
    v128 r;
    r.u32[0] = SIMD_FN(sat_u32)(a.f64[0]);
    r.u32[1] = SIMD_FN(sat_u32)(a.f64[1]);
    r.u64[1] = 0;
    return r;
}

static inline v128 SIMD_FN(f32x4_demote_f64x2_zero)(v128 a)
{
    v128 r;
    r.f32[0] = (float)a.f64[0];
    r.f32[1] = (float)a.f64[1];
    r.u64[1] = 0;
    return r;
}

static inline v128 SIMD_FN(f64x2_promote_low_f32x4)(v128 a)
{
    v128 r;
    r.f64[0] = a.f32[0];
    r.f64[1] = a.f32[1];
    return r;
}

#undef SIMD_MAP1
#undef SIMD_MAP2
#undef SIMD_CMP_LOOP
#undef SIMD_BIN
#undef SIMD_CMP
#undef SIMD_SEL
#undef SIMD_SHIFT
#undef SIMD_LOAD_EXT
#undef SIMD_LOAD_SPLAT
#undef SIMD_ICMPS
#undef SIMD_FCMPS
#undef SIMD_ALL_TRUE
#undef SIMD_EXTEND
#undef SIMD_EXTMUL
#undef SIMD_EXTADD
#undef SIMD_SSE2
