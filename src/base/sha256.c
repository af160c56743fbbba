/*
 * sha256.c - SHA-256 helpers over OpenSSL EVP (see sha256.h).  The EVP_MD is
 * fetched once (pthread_once) and kept for the life of the process.
 */
#include <pthread.h>

#include <openssl/evp.h>

#include "base/sha256.h"

struct base_sha256_ctx {
    EVP_MD_CTX *md_ctx;
};

static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;
static EVP_MD *sha256_md;

static void sha256_fetch(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static const EVP_MD *sha256_algorithm(void)
{
    pthread_once(&sha256_once, sha256_fetch);
    return sha256_md != NULL ? sha256_md : EVP_sha256();
}

base_sha256_ctx *base_sha256_new(void)
{
    base_sha256_ctx *ctx = OPENSSL_zalloc(sizeof *ctx);

    if (ctx == NULL)
        return NULL;
    ctx->md_ctx = EVP_MD_CTX_new();
    if (ctx->md_ctx == NULL) {
        OPENSSL_free(ctx);
        return NULL;
    }
    return ctx;
}

void base_sha256_free(base_sha256_ctx *ctx)
{
    if (ctx == NULL)
        return;
    EVP_MD_CTX_free(ctx->md_ctx);
    OPENSSL_free(ctx);
}

int base_sha256_begin(base_sha256_ctx *ctx)
{
    return EVP_DigestInit_ex(ctx->md_ctx, sha256_algorithm(), NULL) == 1 ? 0 : -1;
}

int base_sha256_update(base_sha256_ctx *ctx, const void *data, size_t len)
{
    if (len == 0)
        return 0;
    return EVP_DigestUpdate(ctx->md_ctx, data, len) == 1 ? 0 : -1;
}

int base_sha256_end(base_sha256_ctx *ctx, uint8_t out[BASE_SHA256_LEN])
{
    unsigned int n = 0;

    if (EVP_DigestFinal_ex(ctx->md_ctx, out, &n) != 1 || n != BASE_SHA256_LEN)
        return -1;
    return 0;
}

int base_sha256(const void *data, size_t len, uint8_t out[BASE_SHA256_LEN])
{
    unsigned int n = 0;

    if (EVP_Digest(data, len, out, &n, sha256_algorithm(), NULL) != 1 || n != BASE_SHA256_LEN)
        return -1;
    return 0;
}
