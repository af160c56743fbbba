/*
 * sha256.h - SHA-256 through OpenSSL (its SHA256_* digest functions: no
 * provider dispatch per message, which costs a third of a small digest in
 * OpenSSL 3).
 *
 * A base_sha256_ctx may be reused for many messages by one thread at a
 * time; it is not shared between threads.
 */
#ifndef THEATER_BASE_SHA256_H
#define THEATER_BASE_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define BASE_SHA256_LEN 32

typedef struct base_sha256_ctx base_sha256_ctx;

/* A new context, or NULL if out of memory.  Free with base_sha256_free. */
base_sha256_ctx *base_sha256_new(void);
void base_sha256_free(base_sha256_ctx *ctx);

/* Start a message.  Returns 0 or -1 (OpenSSL failure). */
int base_sha256_begin(base_sha256_ctx *ctx);
/* Add bytes.  Returns 0 or -1. */
int base_sha256_update(base_sha256_ctx *ctx, const void *data, size_t len);
/* Finish the message into `out`.  Returns 0 or -1. */
int base_sha256_end(base_sha256_ctx *ctx, uint8_t out[BASE_SHA256_LEN] /* out */);

/* Whether a begin/update/end call on `ctx` failed since the last call of
 * this function (then resets).  A failed call abandons its message: later
 * update/end calls of it fail too (end writes zeros), so a sequence of calls
 * whose results are not checked one by one is checked once at its end. */
int base_sha256_take_error(base_sha256_ctx *ctx);

/* One-shot digest of `len` bytes.  Returns 0 or -1.  OpenSSL fails only
 * for want of memory: callers report -1 as TH_ENOMEM. */
int base_sha256(const void *data, size_t len, uint8_t out[BASE_SHA256_LEN] /* out */);

/* Before OpenSSL calls whose failure is to be classified: forget earlier
 * failures of the calling thread (errno, OpenSSL's error queue, the note of
 * a failed allocation). */
void base_crypto_clear(void);

/* After such calls failed: TH_ENOMEM if they failed for want of memory (an
 * OpenSSL allocation failed in this thread, its error queue says so, or
 * errno is ENOMEM, e.g. from stdio beneath it), else TH_EIO.  Empties
 * OpenSSL's error queue of the calling thread. */
int base_crypto_error_code(void);

#endif
