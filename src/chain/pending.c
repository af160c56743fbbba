/*
 * pending.c - THEATER_HOME/chain.pending: what the writer had accepted but
 * could not store, kept where verification finds it.
 *
 * While the writer is stalled (it cannot store events, writer.c), and when
 * it gives up at close, it writes here, for every chain with events not
 * yet stored, the first sequence number not stored and the first not
 * assigned.  The file is preallocated when a writer opens the home, so
 * this write needs no new space on a full disk.  A writer that recovers
 * empties it.  So after a process ended with events unstored (it gave up,
 * or was killed while stalled), the next writable open finds the record,
 * compares it with what the database holds, and keeps a permanent "lost"
 * record in chain_meta for each chain that ends before what was assigned;
 * `chain verify` reports such a chain as missing events instead of "ok".
 * A read-only verification also reads the file directly (events pending
 * behind a stalled writer in another process, or lost by one that died).
 *
 * Format (integers big-endian):
 *
 *   8   "THPEND-1"
 *   4   B = body length (0: nothing pending)
 *   32  SHA-256 of the body (a torn write is ignored)
 *   B   body:
 *         8  written_ms (wall clock)
 *         8  total: chains with unstored events (may exceed the entries
 *            below when they do not fit the file)
 *         2  R = reason length, R bytes of reason
 *         entries until the end of the body: 2 N = actor length, N bytes
 *         of actor, 8 stored_next, 8 next_seq
 *
 * chain_meta rows: key "lost:<actor>:<stored_next>", value
 * "<stored_next> <next_seq> <written_ms> <reason>".
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/file.h"
#include "chain/chain_int.h"
#include "db/db.h"

#define MAGIC "THPEND-1"
#define HEAD_LEN (8 + 4 + 32)

static void be(uint8_t *p, uint64_t v, int n)
{
    int i;

    for (i = n - 1; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static uint64_t unbe(const uint8_t *p, int n)
{
    uint64_t v = 0;
    int i;

    for (i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

int chain_pending_open(const char *home, int *fd, th_error *err)
{
    char path[4200];
    int rc, f;

    *fd = -1;
    if ((rc = db_home_path(home, CHAIN_PENDING_FILE, path, sizeof path, err)) != TH_OK)
        return rc;
    f = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);
    if (f < 0)
        return th_error_set(err, TH_EIO, "cannot open %s: %s", path, strerror(errno));
    /* reserve the space now, while there is some; without it (a file system
     * that cannot preallocate) the record is still written when possible */
    (void)posix_fallocate(f, 0, CHAIN_PENDING_BYTES);
    *fd = f;
    return TH_OK;
}

int chain_pending_write(int fd, const chain_pending_record *r)
{
    uint8_t *buf = calloc(1, CHAIN_PENDING_BYTES), *p, *end;
    size_t i, n, rl = strlen(r->reason);
    int rc = 0;

    if (buf == NULL)
        return -1;
    memcpy(buf, MAGIC, 8);
    p = buf + HEAD_LEN;
    end = buf + CHAIN_PENDING_BYTES;
    if (r->count > 0) {
        rl = rl > 1024 ? 1024 : rl;
        be(p, r->written_ms, 8);
        be(p + 8, r->total, 8);
        be(p + 16, rl, 2);
        memcpy(p + 18, r->reason, rl);
        p += 18 + rl;
        for (i = 0; i < r->count; i++) {
            n = strlen(r->items[i].actor);
            if ((size_t)(end - p) < 2 + n + 16)
                break;
            be(p, n, 2);
            memcpy(p + 2, r->items[i].actor, n);
            be(p + 2 + n, r->items[i].stored_next, 8);
            be(p + 10 + n, r->items[i].next_seq, 8);
            p += 18 + n;
        }
    }
    n = (size_t)(p - buf - HEAD_LEN);
    be(buf + 8, n, 4);
    if (base_sha256(buf + HEAD_LEN, n, buf + 12) != 0 ||
        pwrite(fd, buf, HEAD_LEN + n, 0) != (ssize_t)(HEAD_LEN + n) || fdatasync(fd) != 0)
        rc = -1;
    free(buf);
    return rc;
}

void chain_pending_release(chain_pending_record *r)
{
    size_t i;

    for (i = 0; i < r->count; i++)
        free(r->items[i].actor);
    free(r->items);
    memset(r, 0, sizeof *r);
}

/* Decode a record; 0, or -1 if it is not a valid non-empty record. */
static int decode(const uint8_t *buf, size_t len, chain_pending_record *r)
{
    const uint8_t *p, *end;
    uint8_t h[32];
    size_t n, rl;
    chain_unstored *v;

    memset(r, 0, sizeof *r);
    if (len < HEAD_LEN || memcmp(buf, MAGIC, 8) != 0)
        return -1;
    n = (size_t)unbe(buf + 8, 4);
    if (n == 0 || n < 18 || n > len - HEAD_LEN || base_sha256(buf + HEAD_LEN, n, h) != 0 ||
        memcmp(h, buf + 12, 32) != 0)
        return -1;
    p = buf + HEAD_LEN;
    end = p + n;
    r->written_ms = unbe(p, 8);
    r->total = unbe(p + 8, 8);
    rl = (size_t)unbe(p + 16, 2);
    if (rl > (size_t)(end - p - 18))
        return -1;
    snprintf(r->reason, sizeof r->reason, "%.*s", (int)rl, (const char *)p + 18);
    for (p += 18 + rl; p < end; p += 18 + n) {
        if (end - p < 2 || (n = (size_t)unbe(p, 2)) == 0 || n > TH_CHAIN_MAX_ACTOR_BYTES ||
            (size_t)(end - p) < 18 + n || memchr(p + 2, 0, n) != NULL)
            goto bad;
        v = realloc(r->items, (r->count + 1) * sizeof *v);
        if (v == NULL)
            goto bad;
        r->items = v;
        v[r->count].actor = strndup((const char *)p + 2, n);
        v[r->count].stored_next = unbe(p + 2 + n, 8);
        v[r->count].next_seq = unbe(p + 10 + n, 8);
        if (v[r->count].actor == NULL)
            goto bad;
        r->count++;
    }
    return r->count > 0 ? 0 : -1;
bad:
    chain_pending_release(r);
    return -1;
}

int chain_pending_read(const char *home, chain_pending_record *out, int *writer_alive,
                       th_error *err)
{
    char path[4200];
    uint8_t *buf = NULL;
    size_t len;
    int rc, fd;

    memset(out, 0, sizeof *out);
    *writer_alive = 0;
    if ((rc = db_home_path(home, CHAIN_PENDING_FILE, path, sizeof path, err)) != TH_OK)
        return rc;
    rc = base_file_read(path, "pending-events file", CHAIN_PENDING_BYTES, &buf, &len, err);
    if (rc == TH_ENOENT) {
        th_error_clear(err);
        return TH_ENOENT;
    }
    if (rc != TH_OK)
        return rc;
    rc = decode(buf, len, out) == 0 ? TH_OK : TH_ENOENT;
    free(buf);
    if (rc != TH_OK)
        return rc;
    /* is a writer holding the home (its events are pending, not lost)? */
    if (db_home_path(home, CHAIN_LOCK_FILE, path, sizeof path, NULL) == TH_OK &&
        (fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW)) >= 0) {
        if (flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK)
            *writer_alive = 1;
        close(fd); /* a flock of our own, on our own descriptor */
    }
    return TH_OK;
}

int chain_lost_record(sqlite3 *db, const chain_unstored *u, uint64_t written_ms, const char *reason,
                      th_error *err)
{
    sqlite3_stmt *st = NULL;
    char key[TH_CHAIN_MAX_ACTOR_BYTES + 64], value[1200];
    int rc;

    snprintf(key, sizeof key, "lost:%s:%" PRIu64, u->actor, u->stored_next);
    snprintf(value, sizeof value, "%" PRIu64 " %" PRIu64 " %" PRIu64 " %s", u->stored_next,
             u->next_seq, written_ms, reason);
    rc = sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO chain_meta(key, value) VALUES(?, ?)", -1,
                            &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
        rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(db);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_OK ? TH_OK : db_error(db, rc, err, "recording lost events");
}

int chain_lost_check(sqlite3 *db, const char *actor, uint64_t stored, th_chain_verify_result *res,
                     th_error *err)
{
    sqlite3_stmt *st = NULL;
    char prefix[TH_CHAIN_MAX_ACTOR_BYTES + 16], when[32];
    const char *v;
    uint64_t from, to, ms;
    int rc, off = 0, found = 0;

    snprintf(prefix, sizeof prefix, "lost:%s:", actor);
    rc = sqlite3_prepare_v2(db,
                            "SELECT value FROM chain_meta WHERE substr(key, 1, ?) = ?"
                            " ORDER BY key LIMIT 1",
                            -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int(st, 1, (int)strlen(prefix));
        sqlite3_bind_text(st, 2, prefix, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
    }
    if (rc == SQLITE_ROW && (v = (const char *)sqlite3_column_text(st, 0)) != NULL &&
        sscanf(v, "%" SCNu64 " %" SCNu64 " %" SCNu64 " %n", &from, &to, &ms, &off) == 3 &&
        off > 0) {
        snprintf(when, sizeof when, "%" PRIu64, ms);
        rc = chain_report(res, err, TH_CHAIN_MISSING_EVENT, actor, from,
                          "%" PRIu64 " event(s) from %" PRIu64 " on were appended but never "
                          "stored: the writer could not store them (%.200s) and the process "
                          "ended (recorded at %s ms); %" PRIu64 " event(s) are stored",
                          to - from, from, v + off, when, stored);
        found = 1;
    } else if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        rc = db_error(db, rc, err, "reading lost-event records");
        found = 1;
    }
    sqlite3_finalize(st);
    return found ? rc : TH_OK;
}
