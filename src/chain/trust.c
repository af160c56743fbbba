/*
 * trust.c - whose signatures this THEATER_HOME accepts on exported chains.
 *
 * A chain file carries the public key that signed its head, so a file
 * verifying "by itself" proves only that whoever holds that key signed it:
 * anyone can edit a chain, re-hash it and sign it with a fresh key.  What
 * makes a verification mean something is whether the signer is trusted.
 * The trust set of a home is its own key (chain.key; always trusted) plus
 * the keys listed in <home>/trusted_keys, one per line:
 *
 *   <64 lowercase hex digits: Ed25519 public key>[ <note>]
 *
 * ('#' lines are comments).  The file is written whole to a temporary file
 * (mode 0600) and renamed into place.  A key is shown to people by its
 * fingerprint, "sha256:" + the first 16 bytes of SHA-256(key) in hex.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/file.h"
#include "base/hex.h"
#include "chain/chain_int.h"
#include "db/db.h"
#include "theater/store.h"
#include "theater/home.h"

#define TRUST_FILE "trusted_keys"
#define TRUST_FILE_MAX (1024u * 1024u)

void th_chain_key_fingerprint(const uint8_t key[32], char out[TH_CHAIN_FINGERPRINT_SIZE])
{
    uint8_t h[32];

    if (base_sha256(key, 32, h) != 0)
        memset(h, 0, sizeof h);
    memcpy(out, "sha256:", 7);
    base_hex_encode(h, 16, out + 7);
}

int th_chain_home_key(const char *home, uint8_t key[32], th_error *err)
{
    char dir[4096];
    EVP_PKEY *k = NULL;
    int rc;

    if ((rc = th_home_resolve(home, dir, sizeof dir, err)) != TH_OK)
        return rc;
    if ((rc = chain_key_load(dir, 0, &k, err)) != TH_OK)
        return rc;
    rc = chain_key_public(k, key) == 0 ? TH_OK : th_error_set(err, TH_EIO, "cannot read the key");
    EVP_PKEY_free(k);
    return rc;
}

static int push(th_chain_trust *t, const uint8_t key[32], int own, const char *note, size_t n)
{
    th_chain_trusted_key *v = realloc(t->items, (t->count + 1) * sizeof *v);

    if (v == NULL)
        return TH_ENOMEM;
    t->items = v;
    memset(&v[t->count], 0, sizeof v[t->count]);
    memcpy(v[t->count].key, key, 32);
    v[t->count].own = own;
    snprintf(v[t->count].note, sizeof v[t->count].note, "%.*s", (int)n, note);
    t->count++;
    return TH_OK;
}

/* Parse the trust file into t (after the own key). */
static int parse(th_chain_trust *t, const char *path, const char *text, size_t len, th_error *err)
{
    const char *p = text, *end = text + len, *nl;
    char hex[65];
    uint8_t key[32];
    size_t lineno = 0, n;

    for (; p < end; p = nl + 1) {
        nl = memchr(p, '\n', (size_t)(end - p));
        if (nl == NULL)
            nl = end;
        lineno++;
        n = (size_t)(nl - p);
        if (n == 0 || p[0] == '#')
            continue;
        if (n < 64 || (n > 64 && p[64] != ' '))
            return th_error_set(err, TH_ECORRUPT, "%s, line %zu: not a 64-hex-digit key", path,
                                lineno);
        memcpy(hex, p, 64);
        hex[64] = 0;
        if (base_hex_decode(hex, key, 32) != 0)
            return th_error_set(err, TH_ECORRUPT, "%s, line %zu: not a 64-hex-digit key", path,
                                lineno);
        if (th_chain_trust_find(t, key) >= 0)
            continue;
        if (push(t, key, 0, n > 65 ? p + 65 : "", n > 65 ? n - 65 : 0) != TH_OK)
            return th_error_set(err, TH_ENOMEM, "out of memory");
    }
    return TH_OK;
}

int th_chain_trust_load(const char *home, th_chain_trust *out, th_error *err)
{
    char dir[4096], path[4200];
    uint8_t key[32], *text = NULL;
    size_t len;
    th_error e2;
    int rc;

    memset(out, 0, sizeof *out);
    if ((rc = th_home_resolve(home, dir, sizeof dir, err)) != TH_OK)
        return rc;
    if (th_chain_home_key(dir, key, &e2) == TH_OK &&
        push(out, key, 1, "this home's key", 15) != TH_OK)
        return th_error_set(err, TH_ENOMEM, "out of memory");
    if ((rc = db_home_path(dir, TRUST_FILE, path, sizeof path, err)) != TH_OK)
        goto fail;
    rc = base_file_read(path, "trusted keys file", TRUST_FILE_MAX, &text, &len, err);
    if (rc == TH_ENOENT) {
        th_error_clear(err);
        return TH_OK;
    }
    if (rc == TH_OK)
        rc = parse(out, path, (const char *)text, len, err);
    free(text);
    if (rc == TH_OK)
        return TH_OK;
fail:
    th_chain_trust_free(out);
    return rc;
}

void th_chain_trust_free(th_chain_trust *t)
{
    if (t == NULL)
        return;
    free(t->items);
    t->items = NULL;
    t->count = 0;
}

int th_chain_trust_find(const th_chain_trust *t, const uint8_t key[32])
{
    size_t i;

    for (i = 0; t != NULL && i < t->count; i++)
        if (memcmp(t->items[i].key, key, 32) == 0)
            return (int)i;
    return -1;
}

/* Write the listed (not own) keys of t to <dir>/trusted_keys, atomically. */
static int save(const char *dir, const th_chain_trust *t, th_error *err)
{
    char path[4200], tmp[4300], hex[65];
    FILE *f = NULL;
    size_t i;
    int fd, rc = TH_OK;

    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return th_error_set(err, TH_EIO, "cannot create %s: %s", dir, strerror(errno));
    if ((rc = db_home_path(dir, TRUST_FILE, path, sizeof path, err)) != TH_OK)
        return rc;
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 || (f = fdopen(fd, "w")) == NULL) {
        rc = th_error_set(err, TH_EIO, "cannot create %s: %s", tmp, strerror(errno));
        if (fd >= 0)
            close(fd);
        return rc;
    }
    fputs("# chain signing keys this THEATER_HOME trusts besides its own "
          "(`theater chain trust add|ls|rm`)\n",
          f);
    for (i = 0; i < t->count; i++)
        if (!t->items[i].own)
            fprintf(f, "%s%s%s\n", base_hex_encode(t->items[i].key, 32, hex),
                    t->items[i].note[0] ? " " : "", t->items[i].note);
    if (fflush(f) != 0 || fsync(fileno(f)) != 0)
        rc = th_error_set(err, TH_EIO, "cannot write %s: %s", tmp, strerror(errno));
    if (fclose(f) != 0 && rc == TH_OK)
        rc = th_error_set(err, TH_EIO, "cannot write %s: %s", tmp, strerror(errno));
    if (rc == TH_OK && rename(tmp, path) != 0)
        rc = th_error_set(err, TH_EIO, "cannot replace %s: %s", path, strerror(errno));
    if (rc != TH_OK)
        unlink(tmp);
    return rc;
}

int th_chain_trust_add(const char *home, const uint8_t key[32], const char *note, th_error *err)
{
    char dir[4096], fp[TH_CHAIN_FINGERPRINT_SIZE];
    th_chain_trust t;
    size_t i, n = note ? strlen(note) : 0;
    int rc;

    for (i = 0; i < n; i++)
        if ((unsigned char)note[i] < 0x20)
            return th_error_set(err, TH_EINVAL, "the note may not contain control characters");
    if ((rc = th_home_resolve(home, dir, sizeof dir, err)) != TH_OK ||
        (rc = th_chain_trust_load(dir, &t, err)) != TH_OK)
        return rc;
    th_chain_key_fingerprint(key, fp);
    if (th_chain_trust_find(&t, key) >= 0)
        rc = th_error_set(err, TH_EEXIST, "key %s is already trusted", fp);
    else if (push(&t, key, 0, note ? note : "", n) != TH_OK)
        rc = th_error_set(err, TH_ENOMEM, "out of memory");
    else
        rc = save(dir, &t, err);
    th_chain_trust_free(&t);
    return rc;
}

int th_chain_trust_remove(const char *home, const char *which, th_error *err)
{
    char dir[4096], fp[TH_CHAIN_FINGERPRINT_SIZE], hex[65];
    th_chain_trust t;
    size_t i, n = strlen(which);
    int rc, found = -1, matches = 0;

    if (n == 0)
        return th_error_set(err, TH_EINVAL, "no key given");
    if ((rc = th_home_resolve(home, dir, sizeof dir, err)) != TH_OK ||
        (rc = th_chain_trust_load(dir, &t, err)) != TH_OK)
        return rc;
    /* a key in hex, or its fingerprint (with or without "sha256:"), or a
     * unique prefix of either */
    for (i = 0; i < t.count; i++) {
        th_chain_key_fingerprint(t.items[i].key, fp);
        base_hex_encode(t.items[i].key, 32, hex);
        if (strncmp(hex, which, n) == 0 || strncmp(fp, which, n) == 0 ||
            (n <= 32 && strncmp(fp + 7, which, n) == 0)) {
            found = (int)i;
            matches++;
        }
    }
    if (matches == 0)
        rc = th_error_set(err, TH_ENOENT, "no trusted key matches '%s'", which);
    else if (matches > 1)
        rc = th_error_set(err, TH_EINVAL, "'%s' matches %d keys; give more of it", which, matches);
    else if (t.items[found].own)
        rc = th_error_set(err, TH_EPERM, "that is this home's own key, which is always trusted");
    if (rc == TH_OK) {
        memmove(t.items + found, t.items + found + 1,
                (t.count - (size_t)found - 1) * sizeof *t.items);
        t.count--;
        rc = save(dir, &t, err);
    }
    th_chain_trust_free(&t);
    return rc;
}
