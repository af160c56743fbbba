/*
 * test_wasm_simd.c - the two forms of the SIMD operations (src/wasm/
 * simd_ops.h: vector extensions + SSE2, and the portable scalar lane loops)
 * compared with each other, operation by operation, on edge-case and
 * random operands; plus a few spot checks of the spec's corner cases
 * (NaN, -0, saturation, shift masking, ties-to-even, out-of-range
 * swizzle) against fixed expected values.
 *
 * simd_ops.h is included twice here, with the prefixes vec_ and scl_.
 * Results must agree as simd.h's v128_same_result says: equal bytes, or
 * quiet NaNs in the same float lanes (the spec allows any arithmetic NaN
 * there).
 */
#include <inttypes.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "wasm/simd.h"
#include "wasm/interp.h"

#define SIMD_FN(name) vec_##name
#define SIMD_VEC 1
#include "wasm/simd_ops.h"
#undef SIMD_FN
#undef SIMD_VEC
#define SIMD_FN(name) scl_##name
#define SIMD_VEC 0
#include "wasm/simd_ops.h"
#undef SIMD_FN
#undef SIMD_VEC

#define ROUNDS 4000

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Lane values worth trying: float specials, integer extremes. */
static const uint32_t special32[] = {
    0x00000000, 0x80000000, 0x3f800000, 0xbf800000, 0x7f800000, 0xff800000, 0x7fc00000,
    0xffc00000, 0x7f800001, 0x7fa00000, 0x00000001, 0x807fffff, 0x3f000000, 0x3fc00000,
    0x40200000, 0xbfc00000, 0x4f000000, 0xcf000000, 0x4f800000, 0x7f7fffff, 0x7fffffff,
    0xffffffff, 0x00008000, 0x00007fff, 0x80808080, 0x7f7f7f7f, 0x01010101, 0xfffe0001,
};
static const uint64_t special64[] = {
    0,
    0x8000000000000000ull,
    0x3ff0000000000000ull,
    0xbff0000000000000ull,
    0x7ff0000000000000ull,
    0xfff0000000000000ull,
    0x7ff8000000000000ull,
    0xfff8000000000000ull,
    0x7ff0000000000001ull,
    0x7ff4000000000000ull,
    1,
    0x3fe0000000000000ull,
    0x3ff8000000000000ull,
    0x4004000000000000ull,
    0x41e0000000000000ull,
    0xc1e0000000000000ull,
    0x41efffffffe00000ull,
    0x41f0000000000000ull,
    0x7fefffffffffffffull,
    0x7fffffffffffffffull,
    0xffffffffffffffffull,
    0x4330000000000000ull,
};

static v128 random_v128(void)
{
    v128 v;
    switch (rnd() % 4) {
    case 0:
        v.u64[0] = rnd();
        v.u64[1] = rnd();
        break;
    case 1:
        for (unsigned i = 0; i < 4; i++)
            v.u32[i] = rnd() % 3 ? special32[rnd() % (sizeof special32 / 4)] : (uint32_t)rnd();
        break;
    case 2:
        for (unsigned i = 0; i < 2; i++)
            v.u64[i] = rnd() % 3 ? special64[rnd() % (sizeof special64 / 8)] : rnd();
        break;
    default: /* small lanes near the edges of 8- and 16-bit ranges */
        for (unsigned i = 0; i < 16; i++) {
            static const uint8_t b[] = {0, 1, 0x7f, 0x80, 0x81, 0xfe, 0xff, 0x40};
            v.u8[i] = b[rnd() % sizeof b];
        }
        break;
    }
    return v;
}

static long compared, mismatches;

static void same_v128(const char *name, v128 x, v128 y, v128 a, v128 b)
{
    compared++;
    if (v128_same_result(name, &x, &y))
        return;
    mismatches++;
    print_error("%s: a=%016" PRIx64 "%016" PRIx64 " b=%016" PRIx64 "%016" PRIx64
                " vector %016" PRIx64 "%016" PRIx64 " scalar %016" PRIx64 "%016" PRIx64 "\n",
                name, a.u64[1], a.u64[0], b.u64[1], b.u64[0], x.u64[1], x.u64[0], y.u64[1],
                y.u64[0]);
}

static void same_u64(const char *name, uint64_t x, uint64_t y)
{
    compared++;
    if (x == y)
        return;
    mismatches++;
    print_error("%s: vector %" PRIx64 " scalar %" PRIx64 "\n", name, x, y);
}

/* One check per operation of interp.h's list, by shape. */
#define CHECK_VUN(fn) same_v128(#fn, vec_##fn(a), scl_##fn(a), a, a);
#define CHECK_VBIN(fn) same_v128(#fn, vec_##fn(a, b), scl_##fn(a, b), a, b);
#define CHECK_VTER(fn) same_v128(#fn, vec_##fn(a, b, c), scl_##fn(a, b, c), a, b);
#define CHECK_VSHIFT(fn) same_v128(#fn, vec_##fn(a, s), scl_##fn(a, s), a, a);
#define CHECK_VTEST(fn) same_u64(#fn, vec_##fn(a), scl_##fn(a));
#define CHECK_SPLAT(fn) same_v128(#fn, vec_##fn(x), scl_##fn(x), a, a);
#define CHECK_EXTRACT(fn) same_u64(#fn, vec_##fn(a, lane), scl_##fn(a, lane));
#define CHECK_REPLACE(fn) same_v128(#fn, vec_##fn(a, x, lane), scl_##fn(a, x, lane), a, a);
#define CHECK_SHUFFLE(fn) same_v128(#fn, vec_##fn(a, b, idx), scl_##fn(a, b, idx), a, b);
#define CHECK_VLOAD(fn) same_v128(#fn, vec_##fn(mem), scl_##fn(mem), a, a);
#define CHECK_VSTORE(fn)
#define CHECK_VLOAD_LANE(fn)
#define CHECK_VSTORE_LANE(fn)
#define CHECK_OP(X, name, shape, fn, n) CHECK_##shape(fn)

static void run_all(v128 a, v128 b, v128 c, uint32_t s, uint64_t x, unsigned lane,
                    const uint8_t *idx, const uint8_t *mem)
{
    WASM_SIMD_LIST(_, CHECK_OP)
}

static void test_vector_matches_scalar(void **state)
{
    (void)state;
    for (int r = 0; r < ROUNDS; r++) {
        v128 a = random_v128(), b = random_v128(), c = random_v128();
        uint8_t idx[16], mem[16];
        uint32_t s = (uint32_t)rnd();
        uint64_t x = rnd();
        if (r % 4 == 0)
            s %= 130; /* counts near the lane widths */
        for (unsigned i = 0; i < 16; i++) {
            idx[i] = (uint8_t)(rnd() % 32);
            mem[i] = (uint8_t)rnd();
        }
        run_all(a, b, c, s, x, (unsigned)(rnd() % 16), idx, mem);
        /* the same lanes on both sides (equal operands, NaN against NaN) */
        run_all(a, a, b, s, x, 0, idx, mem);
    }
    print_message("%ld comparisons\n", compared);
    assert_int_equal(mismatches, 0);
}

static v128 f32s(float a, float b, float c, float d)
{
    v128 v;
    v.f32[0] = a;
    v.f32[1] = b;
    v.f32[2] = c;
    v.f32[3] = d;
    return v;
}

static v128 i16s(int16_t k)
{
    v128 v;
    for (unsigned i = 0; i < 8; i++)
        v.i16[i] = k;
    return v;
}

/* Corner cases with known answers, for both forms. */
#define SPOT_CHECKS(P) \
    do { \
        v128 r, a, b; \
        /* nearest: ties to even */ \
        r = P##f32x4_nearest(f32s(0.5f, 1.5f, 2.5f, -2.5f)); \
        assert_true(r.f32[0] == 0.0f && r.f32[1] == 2.0f && r.f32[2] == 2.0f && \
                    r.f32[3] == -2.0f); \
        /* min/max: -0 below +0, NaN wins and is quiet */ \
        a = f32s(0.0f, -0.0f, NAN, 1.0f); \
        b = f32s(-0.0f, 0.0f, 1.0f, NAN); \
        r = P##f32x4_min(a, b); \
        assert_true(r.u32[0] == 0x80000000u && r.u32[1] == 0x80000000u); \
        assert_true(v128_lane_quiet_nan(r.u8 + 8, 4) && v128_lane_quiet_nan(r.u8 + 12, 4)); \
        r = P##f32x4_max(a, b); \
        assert_true(r.u32[0] == 0 && r.u32[1] == 0); \
        /* pmin/pmax keep the first operand unless the compare is true */ \
        r = P##f32x4_pmin(a, b); \
        assert_true(r.u32[0] == 0 && r.u32[1] == 0x80000000u && r.u32[3] == 0x3f800000u); \
        assert_true(r.u32[2] == a.u32[2]); \
        /* trunc_sat: NaN -> 0, out of range -> bounds */ \
        r = P##i32x4_trunc_sat_f32x4_s(f32s(NAN, 3e9f, -3e9f, -1.9f)); \
        assert_true(r.i32[0] == 0 && r.i32[1] == INT32_MAX && r.i32[2] == INT32_MIN && \
                    r.i32[3] == -1); \
        r = P##i32x4_trunc_sat_f32x4_u(f32s(NAN, 5e9f, -3.0f, 4294967040.0f)); \
        assert_true(r.u32[0] == 0 && r.u32[1] == UINT32_MAX && r.u32[2] == 0 && \
                    r.u32[3] == 4294967040u); \
        /* saturation and q15 */ \
        r = P##i16x8_add_sat_s(i16s(30000), i16s(30000)); \
        assert_int_equal(r.i16[5], 32767); \
        r = P##i16x8_q15mulr_sat_s(i16s(-32768), i16s(-32768)); \
        assert_int_equal(r.i16[0], 32767); \
        r = P##i8x16_narrow_i16x8_u(i16s(-5), i16s(300)); \
        assert_true(r.u8[0] == 0 && r.u8[15] == 255); \
        /* shift counts are taken modulo the lane width */ \
        r = P##i16x8_shl(i16s(1), 17); \
        assert_int_equal(r.i16[3], 2); \
        r = P##i8x16_shr_s(P##i8x16_splat(0x80), 9); \
        assert_int_equal(r.u8[7], 0xc0); \
        /* swizzle: lane indices >= 16 give 0 */ \
        a = P##i8x16_splat(7); \
        b = P##i8x16_splat(16); \
        b.u8[1] = 3; \
        b.u8[2] = 255; \
        r = P##i8x16_swizzle(a, b); \
        assert_true(r.u8[0] == 0 && r.u8[1] == 7 && r.u8[2] == 0); \
        /* abs of the minimum stays the minimum */ \
        r = P##i32x4_abs(P##i32x4_splat(0x80000000u)); \
        assert_true(r.u32[2] == 0x80000000u); \
    } while (0)

static void test_spec_corner_cases(void **state)
{
    (void)state;
    SPOT_CHECKS(vec_);
    SPOT_CHECKS(scl_);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vector_matches_scalar),
        cmocka_unit_test(test_spec_corner_cases),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
