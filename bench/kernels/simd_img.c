/*
 * simd_img.c - benchmark kernel: an 8-bit grayscale image filter (3x3
 * box blur, then brightness/contrast with saturation and a threshold
 * mask), repeated n times on a 512x512 image.  Plain C that compilers
 * vectorize: the wasm build uses -msimd128 (clang auto-vectorizes to
 * v128 byte and 16-bit lane operations), the native build whatever -O2
 * gives.  Integer arithmetic only, so both builds compute the same image.
 * Checksum: a position-weighted sum of the final image.
 */
#include "kernel.h"

#define W 512u
#define H 512u

static uint8_t img[W * H], tmp[W * H];
static uint16_t rows[3][W];

static void blur(void)
{
    for (uint32_t y = 1; y + 1 < H; y++) {
        for (uint32_t r = 0; r < 3; r++) {
            const uint8_t *src = &img[(y - 1 + r) * W];
            for (uint32_t x = 1; x + 1 < W; x++)
                rows[r][x] = (uint16_t)(src[x - 1] + src[x] + src[x + 1]);
        }
        uint8_t *dst = &tmp[y * W];
        for (uint32_t x = 1; x + 1 < W; x++)
            dst[x] = (uint8_t)(((uint32_t)(rows[0][x] + rows[1][x] + rows[2][x]) * 7282u) >> 16);
    }
}

static void tone(uint8_t gain, uint8_t bias)
{
    for (uint32_t i = 0; i < W * H; i++) {
        uint32_t v = ((uint32_t)tmp[i] * gain >> 4) + bias;
        uint8_t s = (uint8_t)(v > 255u ? 255u : v);
        img[i] = s > 200u ? 255u : s;
    }
}

KERNEL_EXPORT uint64_t KERNEL_RUN(uint32_t n)
{
    uint64_t seed = 0x696d6167ull, sum = 0;

    for (uint32_t i = 0; i < W * H; i++)
        img[i] = tmp[i] = (uint8_t)kernel_rand(&seed);
    for (uint32_t k = 0; k < n; k++) {
        blur();
        tone((uint8_t)(15 + (k & 3)), (uint8_t)(k & 7));
    }
    for (uint32_t i = 0; i < W * H; i++)
        sum = sum * 1000003u + img[i];
    return sum;
}
