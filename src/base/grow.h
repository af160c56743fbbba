/*
 * grow.h - growing a malloc'd block by doubling: the one growth rule of the
 * project's byte buffers (the runtime's rt_buf, the server's response and
 * frame buffers, the TOML parser's strings).
 */
#ifndef THEATER_BASE_GROW_H
#define THEATER_BASE_GROW_H

#include <stddef.h>

/* The block `p` of *cap bytes (NULL and 0 for none yet), made to hold at
 * least `need` bytes: returned as it is when it does, else reallocated to
 * `first` bytes (when *cap is 0) doubled until it does (exactly `need`
 * where doubling would overflow), with *cap updated.  NULL when `need` is
 * 0 with no block, or out of memory: then `p` and *cap are unchanged and
 * `p` is still the caller's. */
void *base_grow(void *p, size_t *cap, size_t need, size_t first);

#endif
