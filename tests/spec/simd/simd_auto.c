/*
 * simd_auto.c - plain C loops that clang auto-vectorizes for wasm32 with
 * -msimd128 -O2 (integer and float element-wise arithmetic, widening,
 * saturation by clamping, reductions, conversions).  The same source built
 * natively must print the same lines: tests/spec/simd/compare.cmake runs
 * both and compares.  Floats are printed as bits, so any difference in
 * rounding shows.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define N 1024

static uint32_t seed = 12345;

static uint32_t next(void)
{
    seed = seed * 1103515245u + 12345u;
    return seed >> 7;
}

static int32_t ia[N], ib[N], ic[N];
static int16_t sa[N], sb[N];
static uint8_t ba[N], bb[N], bc[N];
static float fa[N], fb[N], fc[N];
static double da[N], db[N];
static int64_t la[N], lb[N];

static uint64_t mix(uint64_t h, uint64_t v)
{
    return (h ^ v) * 0x100000001b3ull;
}

static uint32_t fbits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static uint64_t dbits(double d)
{
    uint64_t u;
    memcpy(&u, &d, 8);
    return u;
}

__attribute__((noinline)) static void int_ops(void)
{
    for (int i = 0; i < N; i++)
        ic[i] = (ia[i] + ib[i]) * 3 ^ (ia[i] >> 3) ^ (int32_t)((uint32_t)ib[i] << 5);
}

__attribute__((noinline)) static int32_t int_sum(void)
{
    uint32_t s = 0; /* wraps, as i32.mul/i32.add do (signed overflow is undefined in C) */
    for (int i = 0; i < N; i++)
        s += (uint32_t)ia[i] * (uint32_t)ib[i];
    return (int32_t)s;
}

__attribute__((noinline)) static int32_t widen_dot(void)
{
    uint32_t s = 0; /* wraps, as the wasm sum does */
    for (int i = 0; i < N; i++)
        s += (uint32_t)((int32_t)sa[i] * sb[i]);
    return (int32_t)s;
}

__attribute__((noinline)) static void bytes_ops(void)
{
    for (int i = 0; i < N; i++) {
        int v = ba[i] + bb[i];
        bc[i] = (uint8_t)(v > 255 ? 255 : v);
    }
}

__attribute__((noinline)) static uint32_t sad(void)
{
    uint32_t s = 0;
    for (int i = 0; i < N; i++)
        s += (uint32_t)(ba[i] > bb[i] ? ba[i] - bb[i] : bb[i] - ba[i]);
    return s;
}

__attribute__((noinline)) static void minmax(void)
{
    for (int i = 0; i < N; i++) {
        int32_t x = ia[i], y = ib[i];
        ic[i] = (x < y ? x : y) + (x > y ? x : y) / 2;
    }
}

__attribute__((noinline)) static void float_ops(void)
{
    for (int i = 0; i < N; i++)
        fc[i] = fa[i] * fb[i] + (fa[i] - fb[i]) / 4.0f;
}

__attribute__((noinline)) static void double_ops(void)
{
    for (int i = 0; i < N; i++)
        da[i] = da[i] * 0.5 + db[i] * 1.25;
}

__attribute__((noinline)) static void conversions(void)
{
    for (int i = 0; i < N; i++)
        fc[i] = (float)ia[i] * 0.125f;
    for (int i = 0; i < N; i++)
        ic[i] = (int32_t)(fb[i] * 100.0f);
}

__attribute__((noinline)) static void i64_ops(void)
{
    for (int i = 0; i < N; i++)
        la[i] = la[i] * 7 + (lb[i] >> 2) - (int64_t)ia[i];
}

__attribute__((noinline)) static void blur(void)
{
    /* 3-tap horizontal box filter on bytes, as an image filter would */
    for (int i = 1; i < N - 1; i++)
        bc[i] = (uint8_t)((ba[i - 1] + 2 * ba[i] + ba[i + 1] + 2) >> 2);
}

int main(void)
{
    uint64_t h = 0xcbf29ce484222325ull;

    for (int i = 0; i < N; i++) {
        ia[i] = (int32_t)next() - (1 << 24);
        ib[i] = (int32_t)(next() % 2000) - 1000;
        sa[i] = (int16_t)next();
        sb[i] = (int16_t)next();
        ba[i] = (uint8_t)next();
        bb[i] = (uint8_t)next();
        fa[i] = (float)((int32_t)(next() % 20000) - 10000) / 64.0f;
        fb[i] = (float)(next() % 5000) / 3.0f;
        da[i] = (double)next() / 7.0;
        db[i] = (double)(int32_t)next() / 3.0;
        la[i] = (int64_t)next() << 20;
        lb[i] = -(int64_t)next() * 12345;
    }
    int_ops();
    for (int i = 0; i < N; i++)
        h = mix(h, (uint32_t)ic[i]);
    printf("int_ops %016llx\n", (unsigned long long)h);
    printf("int_sum %d\n", int_sum());
    printf("widen_dot %d\n", widen_dot());
    bytes_ops();
    h = 0;
    for (int i = 0; i < N; i++)
        h = mix(h, bc[i]);
    printf("bytes_ops %016llx\n", (unsigned long long)h);
    printf("sad %u\n", sad());
    minmax();
    h = 0;
    for (int i = 0; i < N; i++)
        h = mix(h, (uint32_t)ic[i]);
    printf("minmax %016llx\n", (unsigned long long)h);
    float_ops();
    h = 0;
    for (int i = 0; i < N; i++)
        h = mix(h, fbits(fc[i]));
    printf("float_ops %016llx\n", (unsigned long long)h);
    double_ops();
    h = 0;
    for (int i = 0; i < N; i++)
        h = mix(h, dbits(da[i]));
    printf("double_ops %016llx\n", (unsigned long long)h);
    conversions();
    h = 0;
    for (int i = 0; i < N; i++)
        h = mix(mix(h, fbits(fc[i])), (uint32_t)ic[i]);
    printf("conversions %016llx\n", (unsigned long long)h);
    i64_ops();
    h = 0;
    for (int i = 0; i < N; i++)
        h = mix(h, (uint64_t)la[i]);
    printf("i64_ops %016llx\n", (unsigned long long)h);
    blur();
    h = 0;
    for (int i = 0; i < N; i++)
        h = mix(h, bc[i]);
    printf("blur %016llx\n", (unsigned long long)h);
    return 0;
}
