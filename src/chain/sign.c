/*
 * sign.c - signed chain heads.
 *
 * Every transaction the writer commits (a batch) touches some chains.  For
 * each of them it forms a leaf from the chain's new head, builds a Merkle
 * tree over those leaves (RFC 9162 section 2.1 shape: the left subtree
 * holds the largest power of two of leaves smaller than n), and signs one
 * message naming the tree's root with the home's Ed25519 key.  Each chain's
 * stored head then carries the signature, its leaf index, the tree size and
 * its audit path, so one chain's head is checked on its own: recompute its
 * leaf, walk the path to the root, verify the signature.  One signature per
 * batch instead of one per chain keeps signing off the hot path (a batch can
 * touch thousands of chains; an Ed25519 signature costs ~40 us).
 *
 * Leaf (SHA-256 of):
 *   1   0x00 (leaf marker, as in RFC 9162)
 *   4   A = actor id length in bytes (u32 big-endian)
 *   A   actor id, UTF-8
 *   8   head sequence number (u64 big-endian)
 *   32  head event hash
 * Interior node: SHA-256(0x01 || left || right).
 *
 * Signed batch message (72 bytes, integers big-endian):
 *   0   16  domain tag, ASCII "THEATER-BATCH-v1"
 *   16  8   commit number (increases by one per batch in a home)
 *   24  8   signing time, ms since the Unix epoch
 *   32  8   tree size (number of leaves)
 *   40  32  Merkle root
 * Signature: Ed25519 (RFC 8032, pure) over those 72 bytes.
 */
#include <string.h>

#include "chain/chain_int.h"

static const char batch_tag[16] = {'T', 'H', 'E', 'A', 'T', 'E', 'R', '-',
                                   'B', 'A', 'T', 'C', 'H', '-', 'v', '1'};

static void be64(uint8_t *p, uint64_t v)
{
    int i;

    for (i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

void chain_head_leaf(base_sha256_ctx *ctx, const char *actor, size_t actor_len, uint64_t seq,
                     const uint8_t hash[32], uint8_t out[32])
{
    uint8_t pre[5], tail[40];

    pre[0] = 0x00;
    pre[1] = (uint8_t)(actor_len >> 24);
    pre[2] = (uint8_t)(actor_len >> 16);
    pre[3] = (uint8_t)(actor_len >> 8);
    pre[4] = (uint8_t)actor_len;
    be64(tail, seq);
    memcpy(tail + 8, hash, 32);
    base_sha256_begin(ctx);
    base_sha256_update(ctx, pre, sizeof pre);
    base_sha256_update(ctx, actor, actor_len);
    base_sha256_update(ctx, tail, sizeof tail);
    base_sha256_end(ctx, out);
}

static void node_hash(base_sha256_ctx *ctx, const uint8_t *left, const uint8_t *right,
                      uint8_t out[32])
{
    uint8_t buf[65];

    buf[0] = 0x01;
    memcpy(buf + 1, left, 32);
    memcpy(buf + 33, right, 32);
    base_sha256_begin(ctx);
    base_sha256_update(ctx, buf, sizeof buf);
    base_sha256_end(ctx, out);
}

static size_t split_point(size_t n)
{
    size_t k = 1;

    while (k * 2 < n)
        k *= 2;
    return k;
}

/* Root of leaves[lo, hi); appends each leaf's sibling hashes bottom-up
 * (children are finished before their parent appends). */
static void build(base_sha256_ctx *ctx, const uint8_t (*leaves)[32], size_t lo, size_t hi,
                  uint8_t *paths, uint8_t *depths, uint8_t out[32])
{
    uint8_t left[32], right[32];
    size_t k, i;

    if (hi - lo == 1) {
        memcpy(out, leaves[lo], 32);
        return;
    }
    k = split_point(hi - lo);
    build(ctx, leaves, lo, lo + k, paths, depths, left);
    build(ctx, leaves, lo + k, hi, paths, depths, right);
    for (i = lo; paths != NULL && i < lo + k; i++)
        memcpy(paths + (i * TH_CHAIN_MAX_MERKLE_DEPTH + depths[i]++) * 32, right, 32);
    for (i = lo + k; paths != NULL && i < hi; i++)
        memcpy(paths + (i * TH_CHAIN_MAX_MERKLE_DEPTH + depths[i]++) * 32, left, 32);
    node_hash(ctx, left, right, out);
}

int chain_merkle_build(base_sha256_ctx *ctx, const uint8_t (*leaves)[32], size_t n,
                       uint8_t root[32], uint8_t *paths, uint8_t *depths)
{
    if (n == 0)
        return -1;
    if (depths != NULL)
        memset(depths, 0, n);
    build(ctx, leaves, 0, n, paths, depths, root);
    return 0;
}

int chain_merkle_root(base_sha256_ctx *ctx, const uint8_t leaf[32], uint64_t index, uint64_t size,
                      const uint8_t *path, size_t path_len, uint8_t root[32])
{
    uint64_t fn = index, sn;
    uint8_t r[32];
    size_t i;

    if (size == 0 || index >= size || path_len % 32 != 0)
        return -1;
    sn = size - 1;
    memcpy(r, leaf, 32);
    for (i = 0; i < path_len; i += 32) {
        if (sn == 0)
            return -1;
        if ((fn & 1) || fn == sn) {
            node_hash(ctx, path + i, r, r);
            if (!(fn & 1))
                while (!(fn & 1) && fn != 0) {
                    fn >>= 1;
                    sn >>= 1;
                }
        } else {
            node_hash(ctx, r, path + i, r);
        }
        fn >>= 1;
        sn >>= 1;
    }
    if (sn != 0)
        return -1;
    memcpy(root, r, 32);
    return 0;
}

void chain_batch_message(uint64_t commit_no, uint64_t signed_ms, uint64_t tree_size,
                         const uint8_t root[32], uint8_t out[CHAIN_BATCH_MSG_LEN])
{
    memcpy(out, batch_tag, 16);
    be64(out + 16, commit_no);
    be64(out + 24, signed_ms);
    be64(out + 32, tree_size);
    memcpy(out + 40, root, 32);
}

int chain_head_message(base_sha256_ctx *ctx, const char *actor, const chain_signed_head *h,
                       uint8_t msg[CHAIN_BATCH_MSG_LEN])
{
    uint8_t leaf[32], root[32];
    int bad;

    base_sha256_take_error(ctx);
    chain_head_leaf(ctx, actor, strlen(actor), h->seq, h->hash, leaf);
    bad = chain_merkle_root(ctx, leaf, h->leaf_index, h->tree_size, h->path, h->path_len, root);
    if (base_sha256_take_error(ctx))
        return TH_ENOMEM;
    if (bad != 0)
        return 1;
    chain_batch_message(h->commit_no, h->signed_ms, h->tree_size, root, msg);
    return 0;
}
