/*
 * simd.h - the v128 value type and the WebAssembly SIMD operations on it
 * (the fixed-width SIMD of WebAssembly 2.0), with the spec's exact
 * semantics.  Used by the interpreter (interp.c).
 *
 * A v128 is 16 bytes, lane 0 at the lowest address (WebAssembly's
 * little-endian lane order); in a frame it occupies two consecutive 8-byte
 * slots and is moved with memcpy (slots are only 8-aligned).  The engine
 * assumes a little-endian host, as its scalar loads and stores do.
 *
 * The operations themselves are in simd_ops.h, which can be compiled in
 * two ways:
 *   vector  GCC/Clang vector extensions, plus SSE2 intrinsics on x86-64,
 *           for the operations where they give exactly the spec's result;
 *   scalar  portable lane loops only (any C11 compiler, any CPU).
 * THEATER_SIMD_SCALAR (CMake option, defining TH_WASM_SIMD_SCALAR) selects
 * the scalar form for the whole engine; the spec suite runs against both
 * builds and tests/unit/test_wasm_simd.c compares the two forms directly
 * (simd_ops.h can be included twice with different prefixes).
 */
#ifndef THEATER_WASM_SIMD_H
#define THEATER_WASM_SIMD_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the engine assumes a little-endian host"
#endif

/* The one switch: vector code unless the scalar form is asked for or the
 * compiler has no vector extensions. */
#if !defined(TH_WASM_SIMD_SCALAR) && defined(__GNUC__)
#define TH_WASM_SIMD_VECTOR 1
#else
#define TH_WASM_SIMD_VECTOR 0
#endif

#if defined(__GNUC__)
#define TH_SIMD_HAVE_VEC_TYPES 1
typedef int8_t th_v16i8 __attribute__((vector_size(16)));
typedef uint8_t th_v16u8 __attribute__((vector_size(16)));
typedef int16_t th_v8i16 __attribute__((vector_size(16)));
typedef uint16_t th_v8u16 __attribute__((vector_size(16)));
typedef int32_t th_v4i32 __attribute__((vector_size(16)));
typedef uint32_t th_v4u32 __attribute__((vector_size(16)));
typedef int64_t th_v2i64 __attribute__((vector_size(16)));
typedef uint64_t th_v2u64 __attribute__((vector_size(16)));
typedef float th_v4f32 __attribute__((vector_size(16)));
typedef double th_v2f64 __attribute__((vector_size(16)));
#else
#define TH_SIMD_HAVE_VEC_TYPES 0
#endif

/* One v128 value, viewed as any lane shape. */
typedef union v128 {
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
#if TH_SIMD_HAVE_VEC_TYPES
    th_v16i8 vi8;
    th_v16u8 vu8;
    th_v8i16 vi16;
    th_v8u16 vu16;
    th_v4i32 vi32;
    th_v4u32 vu32;
    th_v2i64 vi64;
    th_v2u64 vu64;
    th_v4f32 vf32;
    th_v2f64 vf64;
#endif
} v128;

#define SIMD_FN(name) v128_##name
#define SIMD_VEC TH_WASM_SIMD_VECTOR
#include "wasm/simd_ops.h"
#undef SIMD_FN
#undef SIMD_VEC

/*
 * Comparing the two forms (the unit test, and fuzz builds with
 * TH_WASM_SIMD_DIFF, where interp.c runs every SIMD operation in both
 * forms).  Results of operation `fn` (its simd_ops.h name) agree when
 * their bytes are equal, or, for an operation with float results, when
 * every differing lane is a quiet NaN in both (the spec lets an arithmetic
 * NaN's payload vary).
 */
static inline unsigned v128_float_lane_bytes(const char *fn)
{
    static const char *const cmps[] = {"_eq", "_ne", "_lt", "_gt", "_le", "_ge"};
    unsigned w = strncmp(fn, "f32x4_", 6) == 0 ? 4 : strncmp(fn, "f64x2_", 6) == 0 ? 8 : 0;

    for (unsigned i = 0; w != 0 && i < sizeof cmps / sizeof cmps[0]; i++)
        if (strcmp(fn + 5, cmps[i]) == 0)
            return 0; /* comparisons give masks */
    return w;
}

static inline int v128_lane_quiet_nan(const uint8_t *p, unsigned w)
{
    uint64_t u = 0;
    memcpy(&u, p, w);
    return w == 4 ? (u & 0x7fc00000u) == 0x7fc00000u
                  : (u & 0x7ff8000000000000ull) == 0x7ff8000000000000ull;
}

static inline int v128_same_result(const char *fn, const v128 *x, const v128 *y)
{
    unsigned w = v128_float_lane_bytes(fn);

    if (memcmp(x, y, 16) == 0)
        return 1;
    if (w == 0)
        return 0;
    for (unsigned i = 0; i < 16; i += w)
        if (memcmp(x->u8 + i, y->u8 + i, w) != 0 &&
            !(v128_lane_quiet_nan(x->u8 + i, w) && v128_lane_quiet_nan(y->u8 + i, w)))
            return 0;
    return 1;
}

#endif
