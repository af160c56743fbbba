/*
 * matmul.c - benchmark kernel: integer matrix multiply C = A * B of two
 * n x n matrices of uint32 (wrapping arithmetic), i-k-j loop order.
 * Measures i32 multiply-add and linear memory traffic.  n <= 1024.
 * Checksum: a position-weighted sum of C.
 */
#include "kernel.h"

#define MAXN 1024u

static uint32_t A[MAXN * MAXN], B[MAXN * MAXN], C[MAXN * MAXN];

KERNEL_EXPORT uint64_t KERNEL_RUN(uint32_t n)
{
    uint64_t seed = 0x6d61746dull, sum = 0;

    if (n > MAXN)
        n = MAXN;
    for (uint32_t i = 0; i < n * n; i++) {
        A[i] = (uint32_t)kernel_rand(&seed);
        B[i] = (uint32_t)kernel_rand(&seed);
        C[i] = 0;
    }
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t k = 0; k < n; k++) {
            uint32_t a = A[i * n + k];
            const uint32_t *brow = &B[k * n];
            uint32_t *crow = &C[i * n];
            for (uint32_t j = 0; j < n; j++)
                crow[j] += a * brow[j];
        }
    for (uint32_t i = 0; i < n * n; i++)
        sum = sum * 1000003u + C[i];
    return sum;
}
