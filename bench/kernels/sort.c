/*
 * sort.c - benchmark kernel: sort n pseudo-random uint32 keys (n <= 4 Mi)
 * with an introsort-style quicksort (median of three, insertion sort for
 * short ranges, explicit stack), then binary-search a sample of keys.
 * Measures memory-bound loads/stores and data-dependent branches over a
 * 16 MiB array.  Checksum: a weighted sample of the sorted array plus the
 * search hits.
 */
#include "kernel.h"

#define MAXN (4u << 20)

static uint32_t keys[MAXN];

static void insertion(uint32_t *a, uint32_t n)
{
    for (uint32_t i = 1; i < n; i++) {
        uint32_t v = a[i], j = i;
        while (j > 0 && a[j - 1] > v) {
            a[j] = a[j - 1];
            j--;
        }
        a[j] = v;
    }
}

static void swap(uint32_t *a, uint32_t *b)
{
    uint32_t t = *a;
    *a = *b;
    *b = t;
}

static void quicksort(uint32_t *a, uint32_t n)
{
    struct {
        uint32_t lo, hi;
    } stack[64];
    int sp = 0;

    stack[sp].lo = 0, stack[sp].hi = n, sp++;
    while (sp > 0) {
        sp--;
        uint32_t lo = stack[sp].lo, hi = stack[sp].hi;
        while (hi - lo > 16) {
            uint32_t mid = lo + (hi - lo) / 2, i = lo, j = hi - 1, pivot;
            if (a[mid] < a[lo])
                swap(&a[mid], &a[lo]);
            if (a[hi - 1] < a[lo])
                swap(&a[hi - 1], &a[lo]);
            if (a[hi - 1] < a[mid])
                swap(&a[hi - 1], &a[mid]);
            pivot = a[mid];
            for (;;) {
                while (a[i] < pivot)
                    i++;
                while (a[j] > pivot)
                    j--;
                if (i >= j)
                    break;
                swap(&a[i], &a[j]);
                i++, j--;
            }
            /* recurse into the smaller half later, loop on the larger */
            if (j + 1 - lo < hi - (j + 1)) {
                stack[sp].lo = j + 1, stack[sp].hi = hi, sp++;
                hi = j + 1;
            } else {
                stack[sp].lo = lo, stack[sp].hi = j + 1, sp++;
                lo = j + 1;
            }
        }
        insertion(a + lo, hi - lo);
    }
}

static int search(const uint32_t *a, uint32_t n, uint32_t key)
{
    uint32_t lo = 0, hi = n;

    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (a[mid] < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && a[lo] == key;
}

KERNEL_EXPORT uint64_t KERNEL_RUN(uint32_t n)
{
    uint64_t seed = 0x736f7274ull, sum = 0, probe = 0x1234ull;

    if (n > MAXN)
        n = MAXN;
    for (uint32_t i = 0; i < n; i++)
        keys[i] = (uint32_t)kernel_rand(&seed);
    quicksort(keys, n);
    for (uint32_t i = 1; i < n; i++)
        if (keys[i - 1] > keys[i])
            return 0; /* not sorted: a checksum no correct run produces */
    for (uint32_t i = 0; i < n; i += 97)
        sum = sum * 31 + keys[i];
    for (uint32_t i = 0; i < n / 4; i++) {
        uint32_t k =
            (i & 1) ? keys[(uint32_t)kernel_rand(&probe) % n] : (uint32_t)kernel_rand(&probe);
        sum += (uint64_t)search(keys, n, k) * (i + 1);
    }
    return sum;
}
