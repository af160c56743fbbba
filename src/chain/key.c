/*
 * key.c - the Ed25519 signing key of a THEATER_HOME.
 *
 * <home>/chain.key holds the private key as PEM (PKCS#8).  It is created on
 * first use by a writer: generated, written to a temporary file with mode
 * 0600, fsync'ed, then link()ed into place, so concurrent creators agree on
 * one key and a crash never leaves a half-written key under the real name.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "base/file.h"
#include "base/oserr.h"
#include "base/sha256.h"
#include "chain/chain_int.h"
#include "db/db.h"

static int read_key(const char *path, EVP_PKEY **out, th_error *err)
{
    EVP_PKEY *key;
    FILE *f;
    int rc;

    /* a regular file of PEM text only (a FIFO planted here must not block) */
    if ((rc = base_file_fopen(path, "signing key", CHAIN_KEY_FILE_MAX, &f, err)) != TH_OK)
        return rc == TH_ENOENT ? th_error_set(err, TH_ENOENT, "no signing key at %s", path) : rc;
    base_crypto_clear();
    key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    if (key == NULL && base_crypto_error_code() == TH_ENOMEM)
        return th_error_set(err, TH_ENOMEM, "out of memory reading %s", path);
    if (key == NULL || EVP_PKEY_get_id(key) != EVP_PKEY_ED25519) {
        EVP_PKEY_free(key);
        return th_error_set(err, TH_ECORRUPT, "%s is not an Ed25519 private key", path);
    }
    *out = key;
    return TH_OK;
}

static int create_key(const char *path, th_error *err)
{
    char tmp[4200];
    EVP_PKEY_CTX *pctx = NULL;
    EVP_PKEY *key = NULL;
    FILE *f = NULL;
    int fd = -1, rc = TH_OK;

    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    base_crypto_clear();
    pctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
    if (pctx == NULL || EVP_PKEY_keygen_init(pctx) != 1 || EVP_PKEY_keygen(pctx, &key) != 1) {
        rc = th_error_set(err, base_crypto_error_code(), "cannot generate an Ed25519 key");
        goto out;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0 || (f = fdopen(fd, "wb")) == NULL) {
        rc =
            th_error_set(err, base_errno_code(errno), "cannot create %s: %s", tmp, strerror(errno));
        goto out;
    }
    fd = -1;
    base_crypto_clear();
    if (PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) != 1 || fflush(f) != 0 ||
        fsync(fileno(f)) != 0) {
        rc = base_crypto_error_code();
        rc = th_error_set(err, rc, "cannot write %s: %s", tmp,
                          rc == TH_ENOMEM ? "out of memory" : strerror(errno ? errno : EIO));
        goto out;
    }
    if (link(tmp, path) != 0 && errno != EEXIST) /* EEXIST: another creator won */
        rc = th_error_set(err, TH_EIO, "cannot create %s: %s", path, strerror(errno));
out:
    if (f != NULL)
        fclose(f);
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    EVP_PKEY_free(key);
    EVP_PKEY_CTX_free(pctx);
    return rc;
}

int chain_key_load(const char *home, int create, EVP_PKEY **out, th_error *err)
{
    char path[4096];
    int rc;

    *out = NULL;
    if ((rc = db_home_path(home, CHAIN_KEY_FILE, path, sizeof path, err)) != TH_OK)
        return rc;
    rc = read_key(path, out, err);
    if (rc != TH_ENOENT || !create)
        return rc;
    if ((rc = create_key(path, err)) != TH_OK)
        return rc;
    return read_key(path, out, err);
}

int chain_key_public(EVP_PKEY *key, uint8_t out[CHAIN_PUBKEY_LEN])
{
    size_t n = CHAIN_PUBKEY_LEN;

    if (EVP_PKEY_get_raw_public_key(key, out, &n) != 1 || n != CHAIN_PUBKEY_LEN)
        return -1;
    return 0;
}

int chain_key_sign(EVP_PKEY *key, const uint8_t *msg, size_t len, uint8_t sig[CHAIN_SIG_LEN])
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    size_t n = CHAIN_SIG_LEN;
    int ok;

    ok = md != NULL && EVP_DigestSignInit(md, NULL, NULL, NULL, key) == 1 &&
         EVP_DigestSign(md, sig, &n, msg, len) == 1 && n == CHAIN_SIG_LEN;
    EVP_MD_CTX_free(md);
    return ok ? 0 : -1;
}

int chain_key_verify(const uint8_t pub[CHAIN_PUBKEY_LEN], const uint8_t *msg, size_t len,
                     const uint8_t sig[CHAIN_SIG_LEN])
{
    EVP_PKEY *key;
    EVP_MD_CTX *md;
    int ok;

    base_crypto_clear();
    key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, CHAIN_PUBKEY_LEN);
    md = EVP_MD_CTX_new();
    ok = key != NULL && md != NULL && EVP_DigestVerifyInit(md, NULL, NULL, NULL, key) == 1 &&
         EVP_DigestVerify(md, sig, CHAIN_SIG_LEN, msg, len) == 1;
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(key);
    if (!ok && base_crypto_error_code() == TH_ENOMEM)
        return TH_ENOMEM; /* no verdict */
    return ok;
}
