/*
 * hash.c - the canonical encoding of an event and its hash.
 *
 * An event's hash is SHA-256 over this byte string (integers big-endian):
 *
 *   offset      size  field
 *   0           16    domain tag, the ASCII bytes "THEATER-EVENT-v1"
 *   16          1     parent flag: 0x00 = first event of its chain (no
 *                     parent), 0x01 = a parent hash follows
 *   17          32    parent hash: the previous event's hash (only if the
 *                     flag is 0x01; absent otherwise)
 *   P           8     timestamp, milliseconds since the Unix epoch (u64)
 *   P+8         4     T = length of the event type in bytes (u32)
 *   P+12        T     event type, UTF-8, no terminator
 *   Q = P+12+T  8     D = length of the data in bytes (u64)
 *   Q+8         D     data
 *   R = Q+8+D   1     description flag: 0x00 = none, 0x01 = present
 *   R+1         4     L = description length in bytes (u32; only if present)
 *   R+5         L     description, UTF-8 (only if present)
 *
 * where P = 17 + 32 * flag.  Every field is length-prefixed or of fixed
 * size, so two different events never share an encoding, and the domain tag
 * keeps the digest distinct from every other SHA-256 the system computes
 * (content references, Merkle nodes, signed batch messages).  The actor id
 * and sequence number are not encoded: the sequence is fixed by the parent
 * links, and the actor is bound by the signed head (sign.c).
 */
#include <pthread.h>
#include <string.h>

#include "chain/chain_int.h"

static const char event_tag[16] = {'T', 'H', 'E', 'A', 'T', 'E', 'R', '-',
                                   'E', 'V', 'E', 'N', 'T', '-', 'v', '1'};

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void put_be64(uint8_t *p, uint64_t v)
{
    put_be32(p, (uint32_t)(v >> 32));
    put_be32(p + 4, (uint32_t)v);
}

int chain_event_hash(base_sha256_ctx *ctx, const uint8_t *parent, uint64_t timestamp_ms,
                     const char *type, size_t type_len, const void *data, size_t data_len,
                     const char *description, size_t desc_len, uint8_t out[32])
{
    /* Fixed-size prefix up to and including the data length; the type is
     * bounded (TH_CHAIN_MAX_TYPE_BYTES) so it is copied in too. */
    uint8_t head[16 + 1 + 32 + 8 + 4 + TH_CHAIN_MAX_TYPE_BYTES + 8];
    uint8_t tail[5];
    uint8_t one[512];
    size_t n = 0;

    if (type_len > TH_CHAIN_MAX_TYPE_BYTES)
        return -1;
    memcpy(head, event_tag, 16);
    n = 16;
    if (parent != NULL) {
        head[n++] = 1;
        memcpy(head + n, parent, 32);
        n += 32;
    } else {
        head[n++] = 0;
    }
    put_be64(head + n, timestamp_ms);
    n += 8;
    put_be32(head + n, (uint32_t)type_len);
    n += 4;
    memcpy(head + n, type, type_len);
    n += type_len;
    put_be64(head + n, (uint64_t)data_len);
    n += 8;
    if (description != NULL) {
        tail[0] = 1;
        put_be32(tail + 1, (uint32_t)desc_len);
    } else {
        tail[0] = 0;
    }
    if (n + data_len + 5 + (description != NULL ? desc_len : 0) <= sizeof one) {
        /* a small event (most are) in one piece: one update, not four
         * (150 -> 137 ns for 224 bytes with SHA-NI) */
        size_t k = n;
        memcpy(one, head, n);
        memcpy(one + k, data, data_len);
        k += data_len;
        memcpy(one + k, tail, description != NULL ? 5 : 1);
        k += description != NULL ? 5 : 1;
        if (description != NULL) {
            memcpy(one + k, description, desc_len);
            k += desc_len;
        }
        if (base_sha256_begin(ctx) != 0 || base_sha256_update(ctx, one, k) != 0)
            return -1;
        return base_sha256_end(ctx, out);
    }
    if (base_sha256_begin(ctx) != 0 || base_sha256_update(ctx, head, n) != 0 ||
        base_sha256_update(ctx, data, data_len) != 0 ||
        base_sha256_update(ctx, tail, description != NULL ? 5 : 1) != 0 ||
        (description != NULL && base_sha256_update(ctx, description, desc_len) != 0))
        return -1;
    return base_sha256_end(ctx, out);
}

static pthread_key_t sha_key;
static pthread_once_t sha_once = PTHREAD_ONCE_INIT;

static void sha_destroy(void *p)
{
    base_sha256_free(p);
}

static void sha_key_make(void)
{
    (void)pthread_key_create(&sha_key, sha_destroy);
}

base_sha256_ctx *chain_thread_sha256(void)
{
    base_sha256_ctx *ctx;

    pthread_once(&sha_once, sha_key_make);
    ctx = pthread_getspecific(sha_key);
    if (ctx == NULL) {
        ctx = base_sha256_new();
        if (ctx != NULL && pthread_setspecific(sha_key, ctx) != 0) {
            base_sha256_free(ctx);
            ctx = NULL;
        }
    }
    return ctx;
}

int th_chain_event_hash(const uint8_t *parent, uint64_t timestamp_ms, const char *type,
                        const void *data, size_t data_len, const char *description,
                        uint8_t out[TH_CHAIN_HASH_LEN], th_error *err)
{
    base_sha256_ctx *ctx = chain_thread_sha256();
    size_t tlen, dlen = 0;

    if (type == NULL || (data == NULL && data_len != 0) || out == NULL)
        return th_error_set(err, TH_EINVAL, "event type, data or output is NULL");
    tlen = strlen(type);
    if (tlen > TH_CHAIN_MAX_TYPE_BYTES)
        return th_error_set(err, TH_ETOOBIG, "event type is %zu bytes, above the limit %u", tlen,
                            TH_CHAIN_MAX_TYPE_BYTES);
    if (description != NULL && (dlen = strlen(description)) > TH_CHAIN_MAX_DESC_BYTES)
        return th_error_set(err, TH_ETOOBIG, "description is %zu bytes, above the limit %u", dlen,
                            TH_CHAIN_MAX_DESC_BYTES);
    if (data_len > TH_CHAIN_MAX_DATA_BYTES)
        return th_error_set(err, TH_ETOOBIG, "event data is %zu bytes, above the limit %u",
                            data_len, TH_CHAIN_MAX_DATA_BYTES);
    if (ctx == NULL)
        return th_error_set(err, TH_ENOMEM, "out of memory");
    if (chain_event_hash(ctx, parent, timestamp_ms, type, tlen, data_len ? data : "", data_len,
                         description, dlen, out) != 0)
        return th_error_set(err, TH_ENOMEM, "SHA-256 failed");
    return TH_OK;
}
