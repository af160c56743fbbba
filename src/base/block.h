/*
 * block.h - recycled small blocks for data handed from thread to thread.
 *
 * The runtime's event path allocates a small block on one thread (a worker
 * records an event) and frees it on another (the recorder, the chain
 * writer).  glibc's malloc serves that pattern badly: every such free takes
 * the other thread's arena lock and coalesces chunks.  These functions keep
 * freed blocks of one size (BASE_BLOCK_SIZE bytes) in per-thread lists and
 * pass them between threads in batches of BASE_BLOCK_BATCH through one
 * mutex-protected stack, so a block costs a few pointer moves.  Larger
 * requests fall through to malloc.  Under AddressSanitizer or
 * ThreadSanitizer every call is plain malloc/free, so the sanitizers still
 * see each block's lifetime.
 *
 * Thread-safe.  A block from base_block_alloc must be freed with
 * base_block_free (on any thread), passing the same size.
 */
#ifndef THEATER_BASE_BLOCK_H
#define THEATER_BASE_BLOCK_H

#include <stddef.h>

#define BASE_BLOCK_SIZE 512u /* bytes in one recycled block */
#define BASE_BLOCK_BATCH 64u /* blocks moved between threads at once */
#define BASE_BLOCK_KEEP 256u /* batches kept in the shared stack at most */

/* A block of at least `size` bytes, or NULL if out of memory. */
void *base_block_alloc(size_t size);

/* Free a block of base_block_alloc(size).  Accepts NULL. */
void base_block_free(void *p, size_t size);

#endif
