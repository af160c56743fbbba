/*
 * simd_intrin.c - WebAssembly SIMD through clang's wasm_simd128.h
 * intrinsics, one operation family at a time, on edge-case inputs.  Built
 * for wasm32 with -msimd128 the intrinsics run on the engine; built
 * natively (no wasm_simd128.h) the same functions compute the spec's
 * result with plain scalar C.  Both builds must print the same lines
 * (tests/spec/simd/compare.cmake).  Float lanes that are NaN print as
 * "nan" (the spec lets the payload of an arithmetic NaN vary).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#ifdef __wasm_simd128__
#include <wasm_simd128.h>
#define WASM 1
#else
#define WASM 0
#endif

typedef union vec {
    uint8_t u8[16];
    int8_t i8[16];
    uint16_t u16[8];
    int16_t i16[8];
    uint32_t u32[4];
    int32_t i32[4];
    uint64_t u64[2];
    int64_t i64[2];
    float f32[4];
    double f64[2];
#if WASM
    v128_t v;
#endif
} vec;

static const vec inputs[] = {
    {.i32 = {0, -1, 0x7fffffff, (int32_t)0x80000000}},
    {.u8 = {0, 1, 2, 3, 0x7f, 0x80, 0x81, 0xfe, 0xff, 9, 17, 31, 32, 200, 100, 50}},
    {.i16 = {-32768, 32767, -1, 1, 300, -300, 255, 256}},
    {.f32 = {0.5f, 1.5f, 2.5f, -2.5f}},
    {.f32 = {-0.0f, 0.0f, NAN, INFINITY}},
    {.f32 = {3e9f, -3e9f, 4294967040.0f, -0.75f}},
    {.f64 = {-0.0, 1e300}},
    {.f64 = {NAN, -2.5}},
    {.u32 = {0x12345678, 0x9abcdef0, 0x0f0f0f0f, 0xf0f0f0f0}},
};
#define NIN (sizeof inputs / sizeof inputs[0])

static void print_vec(const char *name, vec r, int shape)
{
    printf("%s", name);
    if (shape == 32) {
        for (int i = 0; i < 4; i++)
            if (r.f32[i] != r.f32[i])
                printf(" nan");
            else
                printf(" %08x", r.u32[i]);
    } else if (shape == 64) {
        for (int i = 0; i < 2; i++)
            if (r.f64[i] != r.f64[i])
                printf(" nan");
            else
                printf(" %016llx", (unsigned long long)r.u64[i]);
    } else {
        for (int i = 0; i < 16; i++)
            printf(" %02x", r.u8[i]);
    }
    printf("\n");
}

static int32_t clampi(int32_t x, int32_t lo, int32_t hi)
{
    return x < lo ? lo : x > hi ? hi : x;
}

/* Shift counts at or above the lane width: the engine must take them
 * modulo the width.  They come from a volatile so that clang emits the
 * shift (a constant count that large is undefined in C, and clang drops
 * the whole expression). */
static volatile int count19 = 19, count14 = 14, count65 = 65;

/* Each op: the intrinsic (wasm) or the reference (native), r from a, b. */
#if WASM
#define OP2(name, shape, intr, ...) \
    static void name(vec a, vec b) \
    { \
        vec r; \
        (void)b; \
        r.v = intr; \
        print_vec(#name, r, shape); \
    }
#else
#define OP2(name, shape, intr, ...) \
    static void name(vec a, vec b) \
    { \
        vec r; \
        (void)b; \
        memset(&r, 0, sizeof r); \
        __VA_ARGS__; \
        print_vec(#name, r, shape); \
    }
#endif
#define LANES(n, ...) \
    for (int i = 0; i < (n); i++) { \
        __VA_ARGS__; \
    }

OP2(add_sat_s8, 0, wasm_i8x16_add_sat(a.v, b.v),
    LANES(16, r.i8[i] = (int8_t)clampi(a.i8[i] + b.i8[i], -128, 127)))
OP2(sub_sat_u8, 0, wasm_u8x16_sub_sat(a.v, b.v),
    LANES(16, r.u8[i] = (uint8_t)clampi(a.u8[i] - b.u8[i], 0, 255)))
OP2(add_sat_u16, 0, wasm_u16x8_add_sat(a.v, b.v),
    LANES(8, r.u16[i] = (uint16_t)clampi(a.u16[i] + b.u16[i], 0, 65535)))
OP2(avgr_u8, 0, wasm_u8x16_avgr(a.v, b.v),
    LANES(16, r.u8[i] = (uint8_t)((a.u8[i] + b.u8[i] + 1) >> 1)))
OP2(min_s8, 0, wasm_i8x16_min(a.v, b.v), LANES(16, r.i8[i] = a.i8[i] < b.i8[i] ? a.i8[i] : b.i8[i]))
OP2(max_u16, 0, wasm_u16x8_max(a.v, b.v),
    LANES(8, r.u16[i] = a.u16[i] > b.u16[i] ? a.u16[i] : b.u16[i]))
OP2(mul_i16, 0, wasm_i16x8_mul(a.v, b.v),
    LANES(8, r.u16[i] = (uint16_t)((uint32_t)a.u16[i] * b.u16[i])))
OP2(mul_i64, 0, wasm_i64x2_mul(a.v, b.v), LANES(2, r.u64[i] = a.u64[i] * b.u64[i]))
OP2(q15mulr, 0, wasm_i16x8_q15mulr_sat(a.v, b.v),
    LANES(8, r.i16[i] = (int16_t)clampi((a.i16[i] * b.i16[i] + 0x4000) >> 15, -32768, 32767)))
OP2(dot_i16, 0, wasm_i32x4_dot_i16x8(a.v, b.v),
    LANES(4, r.u32[i] = (uint32_t)(a.i16[2 * i] * b.i16[2 * i]) +
                        (uint32_t)(a.i16[2 * i + 1] * b.i16[2 * i + 1])))
OP2(narrow_u8, 0, wasm_u8x16_narrow_i16x8(a.v, b.v),
    LANES(8, r.u8[i] = (uint8_t)clampi(a.i16[i], 0, 255);
          r.u8[i + 8] = (uint8_t)clampi(b.i16[i], 0, 255)))
OP2(narrow_s16, 0, wasm_i16x8_narrow_i32x4(a.v, b.v),
    LANES(4, r.i16[i] = (int16_t)clampi(a.i32[i], -32768, 32767);
          r.i16[i + 4] = (int16_t)clampi(b.i32[i], -32768, 32767)))
OP2(extmul_hi_u8, 0, wasm_u16x8_extmul_high_u8x16(a.v, b.v),
    LANES(8, r.u16[i] = (uint16_t)(a.u8[i + 8] * b.u8[i + 8])))
OP2(extmul_lo_s32, 0, wasm_i64x2_extmul_low_i32x4(a.v, b.v),
    LANES(2, r.i64[i] = (int64_t)a.i32[i] * b.i32[i]))
OP2(extadd_s8, 0, wasm_i16x8_extadd_pairwise_i8x16(a.v),
    LANES(8, r.i16[i] = (int16_t)(a.i8[2 * i] + a.i8[2 * i + 1])))
OP2(extend_hi_u16, 0, wasm_u32x4_extend_high_u16x8(a.v), LANES(4, r.u32[i] = a.u16[i + 4]))
OP2(abs_i8, 0, wasm_i8x16_abs(a.v),
    LANES(16, r.u8[i] = (uint8_t)(a.i8[i] < 0 ? -a.i8[i] : a.i8[i])))
OP2(popcnt, 0, wasm_i8x16_popcnt(a.v), LANES(16, r.u8[i] = (uint8_t)__builtin_popcount(a.u8[i])))
OP2(shl_i16_big, 0, wasm_i16x8_shl(a.v, count19), LANES(8, r.u16[i] = (uint16_t)(a.u16[i] << 3)))
OP2(shr_s8_big, 0, wasm_i8x16_shr(a.v, count14), LANES(16, r.i8[i] = (int8_t)(a.i8[i] >> 6)))
OP2(shr_u64, 0, wasm_u64x2_shr(a.v, count65), LANES(2, r.u64[i] = a.u64[i] >> 1))
OP2(cmp_gt_s32, 0, wasm_i32x4_gt(a.v, b.v), LANES(4, r.u32[i] = a.i32[i] > b.i32[i] ? ~0u : 0))
OP2(cmp_le_u8, 0, wasm_u8x16_le(a.v, b.v), LANES(16, r.u8[i] = a.u8[i] <= b.u8[i] ? 0xff : 0))
OP2(cmp_ne_f32, 0, wasm_f32x4_ne(a.v, b.v), LANES(4, r.u32[i] = a.f32[i] != b.f32[i] ? ~0u : 0))
OP2(cmp_lt_f64, 0, wasm_f64x2_lt(a.v, b.v), LANES(2, r.u64[i] = a.f64[i] < b.f64[i] ? ~0ull : 0))
OP2(cmp_ge_s64, 0, wasm_i64x2_ge(a.v, b.v), LANES(2, r.u64[i] = a.i64[i] >= b.i64[i] ? ~0ull : 0))
OP2(andnot, 0, wasm_v128_andnot(a.v, b.v), LANES(2, r.u64[i] = a.u64[i] & ~b.u64[i]))
OP2(bitselect, 0, wasm_v128_bitselect(a.v, b.v, wasm_i32x4_splat(0x00ff00ff)),
    LANES(4, r.u32[i] = (a.u32[i] & 0x00ff00ffu) | (b.u32[i] & ~0x00ff00ffu)))
OP2(swizzle, 0, wasm_i8x16_swizzle(a.v, b.v), LANES(16, r.u8[i] = b.u8[i] < 16 ? a.u8[b.u8[i]] : 0))
OP2(shuffle, 0,
    wasm_i8x16_shuffle(a.v, b.v, 31, 0, 17, 2, 5, 30, 16, 1, 8, 9, 24, 25, 3, 19, 15, 4), {
        static const int idx[16] = {31, 0, 17, 2, 5, 30, 16, 1, 8, 9, 24, 25, 3, 19, 15, 4};
        LANES(16, r.u8[i] = idx[i] < 16 ? a.u8[idx[i]] : b.u8[idx[i] - 16])
    })
OP2(f32_min, 32, wasm_f32x4_min(a.v, b.v),
    LANES(4, float x = a.f32[i], y = b.f32[i]; r.f32[i] = x != x || y != y ? NAN
                                                          : x == y         ? (signbit(x) ? x : y)
                                                          : x < y          ? x
                                                                           : y))
OP2(f32_max, 32, wasm_f32x4_max(a.v, b.v),
    LANES(4, float x = a.f32[i], y = b.f32[i]; r.f32[i] = x != x || y != y ? NAN
                                                          : x == y         ? (signbit(x) ? y : x)
                                                          : x > y          ? x
                                                                           : y))
OP2(f32_pmin, 32, wasm_f32x4_pmin(a.v, b.v),
    LANES(4, r.f32[i] = b.f32[i] < a.f32[i] ? b.f32[i] : a.f32[i]))
OP2(f64_pmax, 64, wasm_f64x2_pmax(a.v, b.v),
    LANES(2, r.f64[i] = a.f64[i] < b.f64[i] ? b.f64[i] : a.f64[i]))
OP2(f32_nearest, 32, wasm_f32x4_nearest(a.v), LANES(4, r.f32[i] = rintf(a.f32[i])))
OP2(f64_floor, 64, wasm_f64x2_floor(a.v), LANES(2, r.f64[i] = floor(a.f64[i])))
OP2(f32_sqrt, 32, wasm_f32x4_sqrt(a.v), LANES(4, r.f32[i] = sqrtf(a.f32[i])))
OP2(f32_div, 32, wasm_f32x4_div(a.v, b.v), LANES(4, r.f32[i] = a.f32[i] / b.f32[i]))
OP2(f64_sub, 64, wasm_f64x2_sub(a.v, b.v), LANES(2, r.f64[i] = a.f64[i] - b.f64[i]))
OP2(f32_neg, 32, wasm_f32x4_neg(a.v), LANES(4, r.u32[i] = a.u32[i] ^ 0x80000000u))
OP2(trunc_sat_s, 0, wasm_i32x4_trunc_sat_f32x4(a.v),
    LANES(4, float x = a.f32[i]; r.i32[i] = x != x                ? 0
                                            : x <= -2147483904.0f ? INT32_MIN
                                            : x >= 2147483648.0f  ? INT32_MAX
                                                                  : (int32_t)x))
OP2(trunc_sat_u, 0, wasm_u32x4_trunc_sat_f32x4(a.v),
    LANES(4, float x = a.f32[i]; r.u32[i] = x != x || x <= -1.0f ? 0
                                            : x >= 4294967296.0f ? UINT32_MAX
                                                                 : (uint32_t)x))
OP2(trunc_sat_f64_u, 0, wasm_u32x4_trunc_sat_f64x2_zero(a.v),
    LANES(2, double x = a.f64[i]; r.u32[i] = x != x || x <= -1.0 ? 0
                                             : x >= 4294967296.0 ? UINT32_MAX
                                                                 : (uint32_t)x))
OP2(convert_u32, 32, wasm_f32x4_convert_u32x4(a.v), LANES(4, r.f32[i] = (float)a.u32[i]))
OP2(convert_lo_s32, 64, wasm_f64x2_convert_low_i32x4(a.v), LANES(2, r.f64[i] = a.i32[i]))
OP2(demote, 32, wasm_f32x4_demote_f64x2_zero(a.v), LANES(2, r.f32[i] = (float)a.f64[i]))
OP2(promote, 64, wasm_f64x2_promote_low_f32x4(a.v), LANES(2, r.f64[i] = a.f32[i]))

static void scalars(vec a)
{
#if WASM
    int any = wasm_v128_any_true(a.v), all8 = wasm_i8x16_all_true(a.v);
    int all64 = wasm_i64x2_all_true(a.v);
    unsigned m8 = wasm_i8x16_bitmask(a.v), m16 = wasm_i16x8_bitmask(a.v);
    unsigned m32 = wasm_i32x4_bitmask(a.v), m64 = wasm_i64x2_bitmask(a.v);
    int e8 = wasm_i8x16_extract_lane(a.v, 13), e16 = wasm_u16x8_extract_lane(a.v, 7);
    long long e64 = wasm_i64x2_extract_lane(a.v, 1);
#else
    int any = a.u64[0] != 0 || a.u64[1] != 0, all8 = 1, all64 = a.u64[0] && a.u64[1];
    unsigned m8 = 0, m16 = 0, m32 = 0, m64 = 0;
    for (int i = 0; i < 16; i++) {
        all8 &= a.u8[i] != 0;
        m8 |= (unsigned)(a.u8[i] >> 7) << i;
    }
    for (int i = 0; i < 8; i++)
        m16 |= (unsigned)(a.u16[i] >> 15) << i;
    for (int i = 0; i < 4; i++)
        m32 |= (a.u32[i] >> 31) << i;
    for (int i = 0; i < 2; i++)
        m64 |= (unsigned)(a.u64[i] >> 63) << i;
    int e8 = a.i8[13], e16 = a.u16[7];
    long long e64 = a.i64[1];
#endif
    printf("scalars %d %d %d %x %x %x %x %d %d %lld\n", any, all8, all64, m8, m16, m32, m64, e8,
           e16, e64);
}

static void memory_ops(void)
{
    static uint8_t buf[64];
    vec r, s;

    for (int i = 0; i < 64; i++)
        buf[i] = (uint8_t)(i * 37 + 11);
#if WASM
    r.v = wasm_v128_load(buf + 3); /* unaligned */
    print_vec("load", r, 0);
    r.v = wasm_i16x8_load8x8(buf + 9);
    print_vec("load8x8_s", r, 0);
    r.v = wasm_v128_load32_splat(buf + 5);
    print_vec("load32_splat", r, 0);
    r.v = wasm_v128_load64_zero(buf + 1);
    print_vec("load64_zero", r, 0);
    s.v = wasm_i32x4_splat(-1);
    r.v = wasm_v128_load16_lane(buf + 7, s.v, 5);
    print_vec("load16_lane", r, 0);
    wasm_v128_store32_lane(buf + 40, r.v, 2);
    wasm_v128_store(buf + 45, wasm_i8x16_splat(0x5a));
#else
    memcpy(&r, buf + 3, 16);
    print_vec("load", r, 0);
    for (int i = 0; i < 8; i++)
        r.i16[i] = (int8_t)buf[9 + i];
    print_vec("load8x8_s", r, 0);
    for (int i = 0; i < 4; i++)
        memcpy(&r.u32[i], buf + 5, 4);
    print_vec("load32_splat", r, 0);
    memset(&r, 0, sizeof r);
    memcpy(&r, buf + 1, 8);
    print_vec("load64_zero", r, 0);
    memset(&s, 0xff, sizeof s);
    r = s;
    memcpy(&r.u16[5], buf + 7, 2);
    print_vec("load16_lane", r, 0);
    memcpy(buf + 40, &r.u32[2], 4);
    memset(buf + 45, 0x5a, 16);
#endif
    memcpy(&r, buf + 38, 16);
    print_vec("stored", r, 0);
}

int main(void)
{
    void (*ops[])(vec, vec) = {
        add_sat_s8,      sub_sat_u8,    add_sat_u16,    avgr_u8,       min_s8,      max_u16,
        mul_i16,         mul_i64,       q15mulr,        dot_i16,       narrow_u8,   narrow_s16,
        extmul_hi_u8,    extmul_lo_s32, extadd_s8,      extend_hi_u16, abs_i8,      popcnt,
        shl_i16_big,     shr_s8_big,    shr_u64,        cmp_gt_s32,    cmp_le_u8,   cmp_ne_f32,
        cmp_lt_f64,      cmp_ge_s64,    andnot,         bitselect,     swizzle,     shuffle,
        f32_min,         f32_max,       f32_pmin,       f64_pmax,      f32_nearest, f64_floor,
        f32_sqrt,        f32_div,       f64_sub,        f32_neg,       trunc_sat_s, trunc_sat_u,
        trunc_sat_f64_u, convert_u32,   convert_lo_s32, demote,        promote,
    };
    for (unsigned i = 0; i < NIN; i++) {
        for (unsigned j = 0; j < NIN; j++) {
            printf("-- %u %u\n", i, j);
            for (unsigned k = 0; k < sizeof ops / sizeof ops[0]; k++)
                ops[k](inputs[i], inputs[j]);
        }
        scalars(inputs[i]);
    }
    memory_ops();
    return 0;
}
