/*
 * content.c - events recorded by content reference (chain_int.h): the
 * reference text and the check that the referenced bytes are stored and
 * intact.
 *
 * Reference text, exactly (ASCII, no spaces):
 *
 *   {"content-ref":"<64 lowercase hex digits: SHA-256 of the bytes>","size":<decimal>}
 *
 * with the event description "content-ref".  The event hash covers this
 * text (and the description), so the content is bound to the chain through
 * its SHA-256.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/hex.h"
#include "chain/chain_int.h"
#include "db/db.h"

#define REF_HEAD "{\"content-ref\":\""
#define REF_MID "\",\"size\":"

size_t chain_content_ref_encode(const uint8_t hash[32], uint64_t size,
                                char out[CHAIN_CONTENT_REF_MAX])
{
    char hex[65];
    int n = snprintf(out, CHAIN_CONTENT_REF_MAX, REF_HEAD "%s" REF_MID "%" PRIu64 "}",
                     base_hex_encode(hash, 32, hex), size);

    return (size_t)n;
}

bool th_chain_event_content_ref(const th_chain_event *ev, uint8_t hash[TH_CHAIN_HASH_LEN],
                                uint64_t *size)
{
    const size_t hl = sizeof REF_HEAD - 1, ml = sizeof REF_MID - 1;
    char hex[65];
    uint64_t v = 0;
    size_t i;

    if (ev->description == NULL || strcmp(ev->description, TH_CHAIN_CONTENT_REF_DESC) != 0 ||
        ev->data_len < hl + 64 + ml + 2 || memcmp(ev->data, REF_HEAD, hl) != 0 ||
        memcmp(ev->data + hl + 64, REF_MID, ml) != 0 || ev->data[ev->data_len - 1] != '}')
        return false;
    memcpy(hex, ev->data + hl, 64);
    hex[64] = 0;
    for (i = 0; i < 64; i++)
        if (!((hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f')))
            return false;
    if (base_hex_decode(hex, hash, 32) != 0)
        return false;
    for (i = hl + 64 + ml; i < ev->data_len - 1; i++) {
        if (ev->data[i] < '0' || ev->data[i] > '9' || v > (UINT64_MAX - 9) / 10 ||
            (i == hl + 64 + ml && ev->data[i] == '0' && i + 1 < ev->data_len - 1))
            return false;
        v = v * 10 + (uint64_t)(ev->data[i] - '0');
    }
    if (i == hl + 64 + ml) /* no digits */
        return false;
    *size = v;
    return true;
}

int chain_content_check(sqlite3 *db, const uint8_t hash[32], uint64_t size, th_error *err)
{
    sqlite3_stmt *st = NULL;
    uint8_t h[32];
    char hex[65];
    int rc;

    rc = sqlite3_prepare_v2(
        db,
        "SELECT b.size, b.data FROM store_content c JOIN store_blob b ON b.id = c.blob"
        " WHERE c.hash = ?1 LIMIT 1",
        -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_blob(st, 1, hash, 32, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    base_hex_encode(hash, 32, hex);
    if (rc == SQLITE_DONE) {
        rc = th_error_set(err, TH_ENOENT, "the content %s it references is not in the store", hex);
    } else if (rc != SQLITE_ROW) {
        rc = db_error(db, rc, err, "reading referenced content");
    } else if (size != CHAIN_ANY_SIZE && ((uint64_t)sqlite3_column_int64(st, 0) != size ||
                                          (uint64_t)sqlite3_column_bytes(st, 1) != size)) {
        rc = th_error_set(err, TH_ECORRUPT,
                          "the content %s it references has %lld bytes, not "
                          "%" PRIu64,
                          hex, (long long)sqlite3_column_bytes(st, 1), size);
    } else if (base_sha256(sqlite3_column_blob(st, 1), (size_t)sqlite3_column_bytes(st, 1), h) !=
               0) {
        rc = th_error_set(err, TH_ENOMEM, "SHA-256 failed");
    } else if (memcmp(h, hash, 32) != 0) {
        rc = th_error_set(err, TH_ECORRUPT, "the content %s it references was altered", hex);
    } else {
        rc = TH_OK;
    }
    sqlite3_finalize(st);
    return rc;
}
