/*
 * kernel.h - the interface of a benchmark kernel (the C files in this folder).
 *
 * Each kernel is one C file defining
 *     uint64_t KERNEL_RUN(uint32_t n);
 * which runs its workload at size `n` and returns a checksum of the result.
 * The same file is compiled twice: to wasm32-wasi by clang -O2 (a reactor
 * module exporting the function as "run") and natively by the host compiler
 * at -O2, where the build defines KERNEL_RUN as kernel_<name> so all kernels
 * link into bench/engine_bench.c.  Kernels use only static memory and no
 * libc beyond what the compiler itself calls (memset, memcpy), so both
 * builds do exactly the same work and must produce the same checksum.
 */
#ifndef THEATER_BENCH_KERNEL_H
#define THEATER_BENCH_KERNEL_H

#include <stdint.h>

#ifndef KERNEL_RUN
#define KERNEL_RUN run
#endif

#ifdef __wasm__
#define KERNEL_EXPORT __attribute__((export_name("run")))
#else
#define KERNEL_EXPORT
#endif

KERNEL_EXPORT uint64_t KERNEL_RUN(uint32_t n);

/* A small deterministic generator (xorshift64*) for inputs. */
static inline uint64_t kernel_rand(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545f4914f6cdd1dull;
}

#endif
