/*
 * fuzz_chain.c - fuzz harness of the chain's readers of bytes nobody vouches
 * for: segments read back from a database (which may have been edited by
 * hand or damaged on disk) and exported chain files (JSONL) given to
 * `chain verify-file` and `chain import`.
 *
 * The first byte of an input picks what the rest is:
 *   0 (mod 3)  a segment blob: decoded (chain_segment_decode), and when it
 *              decodes, its signature checked, which rebuilds its Merkle
 *              tree over every chain's head;
 *   1 (mod 3)  an exported file: verified (th_chain_verify_file);
 *   2 (mod 3)  an exported file: imported into a chain kept open for the
 *              whole run, untrusted signers allowed so that what follows
 *              the trust check runs too.
 * A crash, a hang, a sanitizer report or a leak is a bug.  Built with
 * replay_main.c for ctest (fuzz.chain_corpus) or with -fsanitize=fuzzer as
 * the libFuzzer target fuzz_chain (THEATER_FUZZ=ON, tests/fuzz/README.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chain/chain_int.h"
#include "theater/chain.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static th_chain *g_chain;
static char g_home[] = "/tmp/th_fuzz_chain_XXXXXX";

static void close_chain(void)
{
    char cmd[64];

    th_chain_close(g_chain);
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_home);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", g_home);
}

/* The chain imports go to (opened on first use); NULL if it cannot be. */
static th_chain *import_chain(void)
{
    th_chain_config cfg = {0};
    th_error err;

    if (g_chain != NULL || mkdtemp(g_home) == NULL)
        return g_chain;
    cfg.home = g_home;
    cfg.sync_normal = 1;
    if (th_chain_open(&cfg, &g_chain, &err) != TH_OK) {
        fprintf(stderr, "cannot open a chain in %s: %s\n", g_home, err.msg);
        abort();
    }
    atexit(close_chain);
    return g_chain;
}

static void segment(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1);
    chain_segment seg;

    if (copy == NULL)
        return;
    memcpy(copy, data, size);
    memset(&seg, 0, sizeof seg);
    if (chain_segment_decode(copy, size, &seg) == 0) /* seg owns copy now */
        (void)chain_segment_signature_ok(chain_thread_sha256(), &seg);
    chain_segment_release(&seg);
}

static void exported(const uint8_t *data, size_t size, int import)
{
    th_chain_verify_result res;
    th_error err;
    FILE *in;

    if (size == 0 || (in = fmemopen((void *)data, size, "rb")) == NULL)
        return;
    if (import)
        (void)th_chain_import(import_chain(), in, TH_CHAIN_IMPORT_ALLOW_UNTRUSTED, &res, &err);
    else
        (void)th_chain_verify_file(in, NULL, &res, &err);
    fclose(in);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    switch (data[0] % 3) {
    case 0: segment(data + 1, size - 1); break;
    case 1: exported(data + 1, size - 1, 0); break;
    default: exported(data + 1, size - 1, 1); break;
    }
    return 0;
}
