/*
 * fib.c - benchmark kernel: naive doubly recursive Fibonacci.  Measures
 * call/return cost.  n = the Fibonacci index (default 37).
 */
#include "kernel.h"

static uint64_t fib(uint32_t n)
{
    return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

KERNEL_EXPORT uint64_t KERNEL_RUN(uint32_t n)
{
    return fib(n);
}
