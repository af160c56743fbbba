/*
 * simd_dot.c - benchmark kernel: dot products of int16 vectors (i32
 * accumulators, as in fixed-point audio or quantized inference) and an
 * f32 saxpy (y = a * x + y, element-wise, no reduction), n rounds over
 * 64 Ki elements.  Plain C that compilers vectorize (wasm: -msimd128).
 * Integer sums wrap and the float operations are element-wise, so both
 * builds give the same bits whatever the vector width.  Checksum: the dot
 * products and the bits of y.
 */
#include "kernel.h"

#define N 65536u

static int16_t xs[N], ys[N];
static float fx[N], fy[N];

static int32_t dot(const int16_t *a, const int16_t *b, uint32_t n)
{
    int32_t s = 0;
    for (uint32_t i = 0; i < n; i++)
        s += (int32_t)a[i] * b[i];
    return s;
}

static void saxpy(float a, const float *x, float *y, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        y[i] = a * x[i] + y[i];
}

KERNEL_EXPORT uint64_t KERNEL_RUN(uint32_t n)
{
    uint64_t seed = 0x646f7431ull, sum = 0;

    for (uint32_t i = 0; i < N; i++) {
        uint64_t r = kernel_rand(&seed);
        xs[i] = (int16_t)r;
        ys[i] = (int16_t)(r >> 16);
        fx[i] = (float)(int32_t)(r >> 40) * (1.0f / 1024.0f);
        fy[i] = 0.0f;
    }
    for (uint32_t k = 0; k < n; k++) {
        sum = sum * 31u + (uint32_t)dot(xs, ys, N);
        sum = sum * 31u + (uint32_t)dot(xs + (k & 7), ys, N - 8);
        saxpy(k & 1 ? 0.5f : -0.25f, fx, fy, N);
    }
    for (uint32_t i = 0; i < N; i++) {
        union {
            float f;
            uint32_t u;
        } b = {fy[i]};
        sum = sum * 1000003u + b.u;
    }
    return sum;
}
