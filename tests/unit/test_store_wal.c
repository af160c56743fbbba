/*
 * test_store_wal.c - the WAL-buffering VFS the store's connections open with
 * (src/db/wal_vfs.c): a commit's frames reach the WAL file in one write;
 * every committed put is readable at once by other connections (which use
 * the default VFS), also for a batch larger than the VFS's buffer; puts
 * whose call returned survive a SIGKILL of the writing process; a fsync'ed
 * put still syncs the WAL.
 *
 * A counting VFS is made the default before the store registers its VFS,
 * so the store's VFS wraps it and the test sees the writes and syncs that
 * reach the files.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "db/db.h"
#include "theater/store.h"

/* ---- a counting VFS (the default one, counting WAL writes and syncs) ---- */

typedef struct count_file {
    sqlite3_file base;
    sqlite3_file *real;
} count_file;

static sqlite3_vfs count_vfs;
static sqlite3_vfs *count_root;
static int wal_writes, wal_syncs, zero_writes;

/* Are the n bytes at b all zero? */
static int all_zero(const void *b, int n)
{
    const unsigned char *p = b;
    int i;

    for (i = 0; i < n; i++)
        if (p[i] != 0)
            return 0;
    return 1;
}

static int c_close(sqlite3_file *p)
{
    count_file *f = (count_file *)p;
    return f->real->pMethods->xClose(f->real);
}
static int c_read(sqlite3_file *p, void *b, int n, sqlite3_int64 o)
{
    count_file *f = (count_file *)p;
    return f->real->pMethods->xRead(f->real, b, n, o);
}
static int c_write(sqlite3_file *p, const void *b, int n, sqlite3_int64 o)
{
    count_file *f = (count_file *)p;
    /* frames (a frame header is never zero: its page number is not), or
     * the zeros the file grows ahead by */
    __atomic_add_fetch(all_zero(b, n) ? &zero_writes : &wal_writes, 1, __ATOMIC_RELAXED);
    return f->real->pMethods->xWrite(f->real, b, n, o);
}
static int c_truncate(sqlite3_file *p, sqlite3_int64 size)
{
    count_file *f = (count_file *)p;
    return f->real->pMethods->xTruncate(f->real, size);
}
static int c_sync(sqlite3_file *p, int flags)
{
    count_file *f = (count_file *)p;
    __atomic_add_fetch(&wal_syncs, 1, __ATOMIC_RELAXED);
    return f->real->pMethods->xSync(f->real, flags);
}
static int c_size(sqlite3_file *p, sqlite3_int64 *size)
{
    count_file *f = (count_file *)p;
    return f->real->pMethods->xFileSize(f->real, size);
}
static int c_lock(sqlite3_file *p, int l)
{
    count_file *f = (count_file *)p;
    return f->real->pMethods->xLock(f->real, l);
}
static int c_unlock(sqlite3_file *p, int l)
{
    count_file *f = (count_file *)p;
    return f->real->pMethods->xUnlock(f->real, l);
}
static int c_reserved(sqlite3_file *p, int *out)
{
    count_file *f = (count_file *)p;
    return f->real->pMethods->xCheckReservedLock(f->real, out);
}
static int c_fcntl(sqlite3_file *p, int op, void *arg)
{
    count_file *f = (count_file *)p;
    return f->real->pMethods->xFileControl(f->real, op, arg);
}
static int c_sector(sqlite3_file *p)
{
    count_file *f = (count_file *)p;
    return f->real->pMethods->xSectorSize(f->real);
}
static int c_chars(sqlite3_file *p)
{
    count_file *f = (count_file *)p;
    return f->real->pMethods->xDeviceCharacteristics(f->real);
}

static const sqlite3_io_methods count_io = {
    1,       c_close,  c_read,  c_write, c_truncate, c_sync, c_size, c_lock, c_unlock, c_reserved,
    c_fcntl, c_sector, c_chars, NULL,    NULL,       NULL,   NULL,   NULL,   NULL,
};

static int c_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *p, int flags, int *out)
{
    count_file *f = (count_file *)p;
    int rc;

    (void)vfs;
    if (!(flags & SQLITE_OPEN_WAL))
        return count_root->xOpen(count_root, name, p, flags, out);
    memset(f, 0, sizeof *f);
    f->real = (sqlite3_file *)(f + 1);
    rc = count_root->xOpen(count_root, name, f->real, flags, out);
    if (rc == SQLITE_OK)
        f->base.pMethods = &count_io;
    return rc;
}

/* Make the counting VFS the default (before the store's VFS wraps it). */
static int setup_vfs(void **state)
{
    (void)state;
    count_root = sqlite3_vfs_find(NULL);
    count_vfs = *count_root;
    count_vfs.szOsFile = (int)sizeof(count_file) + count_root->szOsFile;
    count_vfs.zName = "test-count";
    count_vfs.pNext = NULL;
    count_vfs.xOpen = c_open;
    return sqlite3_vfs_register(&count_vfs, 1) == SQLITE_OK ? 0 : -1;
}

/* ---- helpers ---- */

static void make_home(char *home, size_t cap)
{
    snprintf(home, cap, "/tmp/theater-store-wal-XXXXXX");
    assert_non_null(mkdtemp(home));
}

static void remove_home(const char *home)
{
    char cmd[300];

    snprintf(cmd, sizeof cmd, "rm -rf %s", home);
    assert_int_equal(system(cmd), 0);
}

static th_store *open_store(const char *home, int sync_normal, int read_only)
{
    th_store_config cfg = {0};
    th_store *s = NULL;
    th_error err;

    cfg.home = home;
    cfg.sync_normal = sync_normal;
    cfg.read_only = read_only;
    cfg.max_blob_bytes = 4 * 1024 * 1024;
    assert_int_equal(th_store_open(&cfg, &s, &err), TH_OK);
    return s;
}

/* The i-th test blob of `len` bytes into buf. */
static void fill(uint8_t *buf, size_t len, unsigned i)
{
    size_t k;

    for (k = 0; k < len; k++)
        buf[k] = (uint8_t)(i * 31 + k * 7 + (k >> 8));
    memcpy(buf, &i, sizeof i);
}

/* `reader` (another connection) gets ref, verified, with the bytes of blob i. */
static void check_blob(th_store *reader, const char *id, const char *ref, size_t len, unsigned i)
{
    uint8_t *want = malloc(len ? len : 1);
    void *data = NULL;
    size_t n = 0;
    th_error err;

    assert_non_null(want);
    fill(want, len, i);
    assert_int_equal(th_store_get(reader, id, ref, &data, &n, &err), TH_OK);
    assert_int_equal(n, len);
    assert_memory_equal(data, want, len);
    free(data);
    free(want);
}

/* ---- tests ---- */

/* The store's connections use the buffering VFS on this SQLite (else the
 * other tests here would not test it), and one single put reaches the WAL
 * file in one write: SQLite alone writes each frame as two (header, page),
 * and a put commits at least two pages.  The file grows ahead of the
 * frames in chunks of zeros (1 MiB): while open, its size is a whole
 * number of chunks. */
static void test_one_write_per_commit(void **state)
{
    char home[64], id[TH_STORE_ID_LEN + 1], path[128];
    uint8_t blob[1024];
    th_content_ref ref;
    struct stat sb;
    th_error err;
    th_store *s;
    unsigned i;
    int before;

    (void)state;
    assert_non_null(db_wal_vfs(1));
    make_home(home, sizeof home);
    s = open_store(home, 1, 0);
    assert_int_equal(th_store_new(s, id, &err), TH_OK);
    for (i = 0; i < 200; i++) {
        fill(blob, sizeof blob, i);
        before = __atomic_load_n(&wal_writes, __ATOMIC_RELAXED);
        assert_int_equal(th_store_put(s, id, blob, sizeof blob, &ref, &err), TH_OK);
        /* the background checkpointer writes the database file, not the WAL */
        assert_int_equal(__atomic_load_n(&wal_writes, __ATOMIC_RELAXED) - before, 1);
    }
    /* 200 puts of about three frames: more than 2 MiB of WAL */
    assert_true(__atomic_load_n(&zero_writes, __ATOMIC_RELAXED) > 0);
    snprintf(path, sizeof path, "%s/theater.db-wal", home);
    assert_int_equal(stat(path, &sb), 0);
    assert_true(sb.st_size >= 2 * 1024 * 1024);
    assert_int_equal(sb.st_size % (1024 * 1024), 0);
    th_store_close(s);
    remove_home(home);
}

/* Every put is readable by another handle as soon as it returns: single
 * puts (fsync'ed and not), and one batch of 6 MiB, far above the VFS's
 * buffer (120 KiB), which goes to the file in parts. */
static void test_visible_to_other_connections(void **state)
{
    char home[64], id[TH_STORE_ID_LEN + 1];
    enum { BATCH = 1536, BIG = 4096 };
    th_content_ref *refs = calloc(BATCH, sizeof *refs);
    th_store_blob *blobs = calloc(BATCH, sizeof *blobs);
    uint8_t *bytes = malloc((size_t)BATCH * BIG);
    th_store *w, *r;
    th_error err;
    unsigned i;
    int sync_normal, syncs;

    (void)state;
    assert_non_null(refs);
    assert_non_null(blobs);
    assert_non_null(bytes);
    make_home(home, sizeof home);
    for (sync_normal = 0; sync_normal < 2; sync_normal++) {
        w = open_store(home, sync_normal, 0);
        r = open_store(home, 1, 1);
        assert_int_equal(th_store_new(w, id, &err), TH_OK);
        for (i = 0; i < 64; i++) {
            fill(bytes, 1000 + i, i);
            syncs = __atomic_load_n(&wal_syncs, __ATOMIC_RELAXED);
            assert_int_equal(th_store_put(w, id, bytes, 1000 + i, &refs[i], &err), TH_OK);
            /* a fsync'ed put syncs the WAL before it returns */
            if (!sync_normal)
                assert_true(__atomic_load_n(&wal_syncs, __ATOMIC_RELAXED) > syncs);
            check_blob(r, id, refs[i].hash, 1000 + i, i);
        }
        for (i = 0; i < BATCH; i++) {
            fill(bytes + (size_t)i * BIG, BIG, 1000 + i);
            blobs[i].data = bytes + (size_t)i * BIG;
            blobs[i].len = BIG;
        }
        if (th_store_put_many(w, id, blobs, BATCH, refs, &err) != TH_OK)
            fail_msg("put_many: %s", err.msg);
        for (i = 0; i < BATCH; i++)
            check_blob(r, id, refs[i].hash, BIG, 1000 + i);
        th_store_close(r);
        th_store_close(w);
    }
    remove_home(home);
    free(bytes);
    free(blobs);
    free(refs);
}

/* A child process puts blobs without fsync and reports each reference once
 * its put returned; it is killed (SIGKILL) while putting.  Every reported
 * put is then in the store, intact, and the database passes SQLite's
 * integrity check. */
static void test_puts_survive_kill(void **state)
{
    char home[64], id[TH_STORE_ID_LEN + 1], path[128];
    enum { KILL_AT = 2000, KILL_MAX = KILL_AT + 1024 };
    th_content_ref ref, *refs = calloc(KILL_MAX, sizeof *refs);
    uint8_t blob[1024];
    unsigned got = 0, i;
    int fds[2], status;
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    th_error err;
    th_store *s;
    pid_t pid;
    struct {
        unsigned i;
        th_content_ref ref;
    } msg;

    (void)state;
    assert_non_null(refs);
    make_home(home, sizeof home);
    s = open_store(home, 1, 0);
    assert_int_equal(th_store_new(s, id, &err), TH_OK);
    th_store_close(s);
    assert_int_equal(pipe(fds), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        s = open_store(home, 1, 0);
        for (i = 0;; i++) {
            fill(blob, sizeof blob, i);
            if (th_store_put(s, id, blob, sizeof blob, &ref, &err) != TH_OK)
                _exit(1);
            msg.i = i;
            msg.ref = ref;
            if (write(fds[1], &msg, sizeof msg) != (ssize_t)sizeof msg)
                _exit(1);
        }
    }
    close(fds[1]);
    while (got < KILL_MAX && read(fds[0], &msg, sizeof msg) == (ssize_t)sizeof msg) {
        assert_int_equal(msg.i, got);
        refs[got++] = msg.ref;
        if (got == KILL_AT)
            kill(pid, SIGKILL); /* in the middle of a put, or about to start one */
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    close(fds[0]);
    assert_true(got >= KILL_AT);
    s = open_store(home, 1, 1);
    for (i = 0; i < got; i++)
        check_blob(s, id, refs[i].hash, sizeof blob, i);
    th_store_close(s);
    snprintf(path, sizeof path, "%s/theater.db", home);
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);
    sqlite3_close(db);
    remove_home(home);
    free(refs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_write_per_commit),
        cmocka_unit_test(test_visible_to_other_connections),
        cmocka_unit_test(test_puts_survive_kill),
    };

    return cmocka_run_group_tests(tests, setup_vfs, NULL);
}
