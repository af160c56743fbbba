/*
 * sha256.c - SHA-256 helpers over OpenSSL (see sha256.h).
 *
 * Digests use OpenSSL's SHA256_Init/Update/Final: the same assembly (SHA-NI
 * where the CPU has it) as EVP without the provider dispatch, which costs
 * about a third of the time of a digest of a 200-byte event (an event hash,
 * a Merkle node).  They are deprecated in OpenSSL 3 but present in every
 * 3.x; nothing else of the deprecated API is used.
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/sha.h>

#include "base/sha256.h"
#include "theater/error.h"

struct base_sha256_ctx {
    SHA256_CTX sha;
    int ready; /* begin succeeded and end has not been called */
    int error; /* a call failed since the last base_sha256_take_error */
};

base_sha256_ctx *base_sha256_new(void)
{
    return OPENSSL_zalloc(sizeof(base_sha256_ctx));
}

void base_sha256_free(base_sha256_ctx *ctx)
{
    OPENSSL_clear_free(ctx, sizeof *ctx);
}

/* Note a failure: the message in progress is abandoned. */
static int sha_fail(base_sha256_ctx *ctx)
{
    ctx->ready = 0;
    ctx->error = 1;
    return -1;
}

int base_sha256_begin(base_sha256_ctx *ctx)
{
    if (SHA256_Init(&ctx->sha) != 1)
        return sha_fail(ctx);
    ctx->ready = 1;
    return 0;
}

int base_sha256_update(base_sha256_ctx *ctx, const void *data, size_t len)
{
    if (!ctx->ready)
        return sha_fail(ctx);
    if (len == 0)
        return 0;
    return SHA256_Update(&ctx->sha, data, len) == 1 ? 0 : sha_fail(ctx);
}

int base_sha256_end(base_sha256_ctx *ctx, uint8_t out[BASE_SHA256_LEN])
{
    if (!ctx->ready) {
        memset(out, 0, BASE_SHA256_LEN);
        return sha_fail(ctx);
    }
    ctx->ready = 0;
    if (SHA256_Final(out, &ctx->sha) != 1)
        return sha_fail(ctx);
    return 0;
}

int base_sha256_take_error(base_sha256_ctx *ctx)
{
    int e = ctx->error;
    ctx->error = 0;
    return e;
}

/* (not OpenSSL's one-shot SHA256(): in OpenSSL 3 it fetches the digest
 * from its provider on every call, some 5,800 instructions, more than
 * hashing 1 KiB costs) */
int base_sha256(const void *data, size_t len, uint8_t out[BASE_SHA256_LEN])
{
    SHA256_CTX c;
    int ok =
        SHA256_Init(&c) == 1 && SHA256_Update(&c, data, len) == 1 && SHA256_Final(out, &c) == 1;

    OPENSSL_cleanse(&c, sizeof c);
    return ok ? 0 : -1;
}

/* OpenSSL 3.0 does not report every failed allocation in its error queue
 * (EVP_MD_CTX_new, for one, just returns NULL, and Ed25519 verification then
 * answers "no match"), so its allocations go through these functions, which
 * note a failure in the calling thread.  They must be installed before
 * OpenSSL allocates anything: a constructor does it. */
static _Thread_local int crypto_alloc_failed;

static void *crypto_malloc(size_t n, const char *file, int line)
{
    void *p = malloc(n);
    (void)file;
    (void)line;
    if (p == NULL && n != 0)
        crypto_alloc_failed = 1;
    return p;
}

static void *crypto_realloc(void *old, size_t n, const char *file, int line)
{
    void *p = realloc(old, n);
    (void)file;
    (void)line;
    if (p == NULL && n != 0)
        crypto_alloc_failed = 1;
    return p;
}

static void crypto_free(void *p, const char *file, int line)
{
    (void)file;
    (void)line;
    free(p);
}

__attribute__((constructor)) static void crypto_install_allocator(void)
{
    CRYPTO_set_mem_functions(crypto_malloc, crypto_realloc, crypto_free);
}

void base_crypto_clear(void)
{
    crypto_alloc_failed = 0;
    errno = 0;
    ERR_clear_error();
}

int base_crypto_error_code(void)
{
    unsigned long e;
    int nomem = errno == ENOMEM || crypto_alloc_failed;

    while ((e = ERR_get_error()) != 0)
        if (ERR_GET_REASON(e) == ERR_R_MALLOC_FAILURE)
            nomem = 1;
    return nomem ? TH_ENOMEM : TH_EIO;
}
