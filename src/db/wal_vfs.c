/*
 * wal_vfs.c - a SQLite VFS that gathers a transaction's writes to the WAL
 * into one write (db_wal_vfs, used by connections opened with
 * DB_BUFFER_WAL).
 *
 * SQLite appends each frame of a commit to the -wal file with two writes
 * (the 24-byte frame header, then the page), so a commit of three pages is
 * six pwrite(2) calls, each paying the kernel's per-write cost (page cache
 * lookup, buffer and inode bookkeeping) for a few bytes.  This VFS wraps
 * the default one ("unix") and, for WAL files only, keeps writes that
 * continue one another in a buffer, which it hands to the real file in one
 * write when the frame that commits (its header's "database size after
 * commit" field is not zero) is complete.  Every other file (the database,
 * journals) is the default VFS's own file object, untouched.
 *
 * Why that keeps SQLite's guarantees: other connections learn of new frames
 * only from the wal-index (shared memory), which SQLite updates after
 * sqlite3WalFrames has written every frame of the commit, i.e. after the
 * commit frame's write returned, which is when the buffer reached the
 * kernel.  So whatever another connection can see is in the file.  Bytes
 * still buffered belong to a transaction that has not committed; losing
 * them (a crash) is the same as losing the transaction.  The buffer is also
 * written out before anything else is done with the file (read, sync,
 * truncate, size, file control, close): SQLite reads frames it spilled
 * mid-transaction, and a sync (synchronous=FULL) must cover every byte.
 * A write that does not continue the buffer writes the buffer out first, so
 * writes reach the file in SQLite's order.  An error while writing the
 * buffer out is returned by the call that wrote it (for a commit, by the
 * commit frame's write, which fails the commit) and the buffer is dropped.
 *
 * Invariant: a WAL file's buffer holds bytes [off, off + len) of the file
 * as SQLite last wrote them, not yet given to the real file; len <=
 * WALBUF_MAX.
 *
 * With the second registration (WALBUF_GROW_NAME, db_wal_vfs(1)), the file
 * also grows ahead of the frames, in chunks of zeros (walbuf_grow).
 * A commit's fsync (synchronous=FULL) on a file whose size grew must also
 * make the new size and the newly allocated blocks durable: a journal
 * commit of the file system on top of the data, which costs about as
 * much again as the data's own write (an fsync'ed put of the content store
 * took twice as long while its WAL grew as when it overwrote a WAL
 * started over).  Frames written into blocks already written are data
 * only.  SQLite reads a WAL up to its first frame whose salt and checksum
 * do not match, so zeros after the last frame are no frame (as are the
 * stale frames it leaves there itself after starting the WAL over).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"

#define WALBUF_VFS_NAME "theater-walbuf"
#define WALBUF_GROW_NAME "theater-walbuf-grow"
#define WALBUF_FRAME_HDR 24 /* bytes of a WAL frame header */
/* Bytes buffered at most (a larger commit is written in parts).  Below
 * 128 KiB: the unix VFS passes only the low 17 bits of a write's length to
 * pwrite(2), so a longer write fails (SQLITE_FULL) when what is left of it
 * is a multiple of 128 KiB. */
#define WALBUF_MAX (120 * 1024)
#define WALBUF_FIRST_CAP (16 * 1024) /* first allocation of a buffer */
#define WALBUF_CHUNK (1024 * 1024)   /* the WAL grows by this much of zeros */
#define WALBUF_ZEROS (64 * 1024)     /* zeros written per call (below 128 KiB) */
/* SQLite versions the VFS is used with: its commit detection relies on the
 * WAL writer writing a frame's header and its page as two writes, as 3.40
 * does (test_store_wal fails on a version that does otherwise); other
 * versions open with the default VFS. */
#define WALBUF_MIN_VERSION 3022000
#define WALBUF_END_VERSION 3050000

/* A WAL file: the header SQLite sees, then the default VFS's file. */
typedef struct walbuf_file {
    sqlite3_file base;   /* pMethods = &walbuf_io */
    sqlite3_file *real;  /* the default VFS's file, inside this allocation */
    unsigned char *buf;  /* pending bytes (malloc'd, owned) */
    size_t len, cap;     /* bytes pending, bytes allocated */
    sqlite3_int64 off;   /* file offset of buf[0] */
    sqlite3_int64 grown; /* bytes [0, grown) of the real file are written */
    int grow;            /* opened through the growing registration */
    int commit_hdr;      /* the last write was the header of a commit frame */
} walbuf_file;

static const unsigned char walbuf_zeros[WALBUF_ZEROS];

static sqlite3_vfs walbuf_vfs, walbuf_grow_vfs;
static sqlite3_vfs *walbuf_root; /* the default VFS, wrapped */
static pthread_once_t walbuf_once = PTHREAD_ONCE_INIT;
static int walbuf_ok, walbuf_grow_ok; /* registered */

/* Size of walbuf_file rounded up so the real file that follows is aligned. */
static size_t walbuf_head(void)
{
    return (sizeof(walbuf_file) + 15) & ~(size_t)15;
}

/* Bytes up to `end` were just written: if the file grew, write zeros up
 * to the next chunk boundary, so the frames after these go into blocks
 * already written (the file's header comment says why).  A failure (the
 * disk is full) only stops growing ahead: the next frames grow the file
 * themselves. */
static void walbuf_grow(walbuf_file *f, sqlite3_int64 end)
{
    sqlite3_int64 to = (end + WALBUF_CHUNK - 1) / WALBUF_CHUNK * WALBUF_CHUNK, at = end;

    if (!f->grow || end <= f->grown)
        return;
    while (at < to) {
        int n = to - at < WALBUF_ZEROS ? (int)(to - at) : WALBUF_ZEROS;
        if (f->real->pMethods->xWrite(f->real, walbuf_zeros, n, at) != SQLITE_OK)
            break;
        at += n;
    }
    f->grown = at;
}

/* Write the pending bytes to the real file; the buffer is empty after, even
 * on error (the bytes belong to a transaction that now fails). */
static int walbuf_flush(walbuf_file *f)
{
    int rc = SQLITE_OK;

    if (f->len != 0) {
        rc = f->real->pMethods->xWrite(f->real, f->buf, (int)f->len, f->off);
        if (rc == SQLITE_OK)
            walbuf_grow(f, f->off + (sqlite3_int64)f->len);
    }
    f->len = 0;
    f->commit_hdr = 0;
    return rc;
}

static int walbuf_close(sqlite3_file *p)
{
    walbuf_file *f = (walbuf_file *)p;
    int rc = walbuf_flush(f), rc2 = f->real->pMethods->xClose(f->real);

    free(f->buf);
    f->buf = NULL;
    f->cap = 0;
    return rc != SQLITE_OK ? rc : rc2;
}

static int walbuf_read(sqlite3_file *p, void *out, int n, sqlite3_int64 off)
{
    walbuf_file *f = (walbuf_file *)p;
    int rc = walbuf_flush(f);

    return rc != SQLITE_OK ? rc : f->real->pMethods->xRead(f->real, out, n, off);
}

/* Grow the buffer to hold `need` bytes; 0 on success. */
static int walbuf_reserve(walbuf_file *f, size_t need)
{
    size_t cap = f->cap ? f->cap : WALBUF_FIRST_CAP;
    unsigned char *b;

    if (need <= f->cap)
        return 0;
    while (cap < need)
        cap *= 2;
    if ((b = realloc(f->buf, cap)) == NULL)
        return -1;
    f->buf = b;
    f->cap = cap;
    return 0;
}

static int walbuf_write(sqlite3_file *p, const void *data, int n, sqlite3_int64 off)
{
    walbuf_file *f = (walbuf_file *)p;
    const unsigned char *d = data;
    int rc, commit_page;

    /* the page that follows a commit frame's header completes the commit */
    commit_page = f->commit_hdr && f->len != 0 && off == f->off + (sqlite3_int64)f->len;
    if (f->len != 0 && (off != f->off + (sqlite3_int64)f->len || f->len + (size_t)n > WALBUF_MAX))
        if ((rc = walbuf_flush(f)) != SQLITE_OK)
            return rc;
    if ((size_t)n > WALBUF_MAX || walbuf_reserve(f, f->len + (size_t)n) != 0) {
        /* too big to gather (or no memory for it): written as it comes */
        if ((rc = walbuf_flush(f)) != SQLITE_OK)
            return rc;
        if ((rc = f->real->pMethods->xWrite(f->real, data, n, off)) == SQLITE_OK)
            walbuf_grow(f, off + n);
        return rc;
    }
    if (f->len == 0)
        f->off = off;
    memcpy(f->buf + f->len, data, (size_t)n);
    f->len += (size_t)n;
    /* a frame header: bytes 4-7 (big-endian) are the database size after
     * the commit for the frame that commits a transaction, else 0 */
    f->commit_hdr = n == WALBUF_FRAME_HDR && (d[4] | d[5] | d[6] | d[7]) != 0;
    return commit_page ? walbuf_flush(f) : SQLITE_OK;
}

static int walbuf_truncate(sqlite3_file *p, sqlite3_int64 size)
{
    walbuf_file *f = (walbuf_file *)p;
    int rc = walbuf_flush(f);

    if (rc == SQLITE_OK && (rc = f->real->pMethods->xTruncate(f->real, size)) == SQLITE_OK &&
        f->grown > size)
        f->grown = size;
    return rc;
}

static int walbuf_sync(sqlite3_file *p, int flags)
{
    walbuf_file *f = (walbuf_file *)p;
    int rc = walbuf_flush(f);

    return rc != SQLITE_OK ? rc : f->real->pMethods->xSync(f->real, flags);
}

static int walbuf_file_size(sqlite3_file *p, sqlite3_int64 *size)
{
    walbuf_file *f = (walbuf_file *)p;
    int rc = walbuf_flush(f);

    return rc != SQLITE_OK ? rc : f->real->pMethods->xFileSize(f->real, size);
}

static int walbuf_lock(sqlite3_file *p, int level)
{
    walbuf_file *f = (walbuf_file *)p;

    return f->real->pMethods->xLock(f->real, level);
}

static int walbuf_unlock(sqlite3_file *p, int level)
{
    walbuf_file *f = (walbuf_file *)p;

    return f->real->pMethods->xUnlock(f->real, level);
}

static int walbuf_check_reserved(sqlite3_file *p, int *out)
{
    walbuf_file *f = (walbuf_file *)p;

    return f->real->pMethods->xCheckReservedLock(f->real, out);
}

static int walbuf_file_control(sqlite3_file *p, int op, void *arg)
{
    walbuf_file *f = (walbuf_file *)p;
    int rc = walbuf_flush(f);

    return rc != SQLITE_OK ? rc : f->real->pMethods->xFileControl(f->real, op, arg);
}

static int walbuf_sector_size(sqlite3_file *p)
{
    walbuf_file *f = (walbuf_file *)p;

    return f->real->pMethods->xSectorSize(f->real);
}

static int walbuf_device_chars(sqlite3_file *p)
{
    walbuf_file *f = (walbuf_file *)p;

    return f->real->pMethods->xDeviceCharacteristics(f->real);
}

/* Version 1 methods: SQLite uses no shared memory or mmap on a WAL file. */
static const sqlite3_io_methods walbuf_io = {
    1,
    walbuf_close,
    walbuf_read,
    walbuf_write,
    walbuf_truncate,
    walbuf_sync,
    walbuf_file_size,
    walbuf_lock,
    walbuf_unlock,
    walbuf_check_reserved,
    walbuf_file_control,
    walbuf_sector_size,
    walbuf_device_chars,
    NULL,
    NULL,
    NULL,
    NULL,
    NULL,
    NULL,
};

/* xOpen: a WAL file gets the wrapper, with the default VFS's file after
 * it; any other file is the default VFS's file itself, opened in place
 * (szOsFile leaves room for either). */
static int walbuf_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *p, int flags,
                       int *out_flags)
{
    walbuf_file *f = (walbuf_file *)p;
    int rc;

    if (!(flags & SQLITE_OPEN_WAL))
        return walbuf_root->xOpen(walbuf_root, name, p, flags, out_flags);
    memset(f, 0, sizeof *f);
    f->real = (sqlite3_file *)((unsigned char *)p + walbuf_head());
    rc = walbuf_root->xOpen(walbuf_root, name, f->real, flags, out_flags);
    f->grow = vfs == &walbuf_grow_vfs;
    if (rc == SQLITE_OK && f->real->pMethods->xFileSize(f->real, &f->grown) != SQLITE_OK)
        f->grown = 0;
    if (rc == SQLITE_OK)
        f->base.pMethods = &walbuf_io;
    else if (f->real->pMethods != NULL) /* SQLite does not close a failed open's file */
        f->real->pMethods->xClose(f->real);
    return rc;
}

static void walbuf_register(void)
{
    size_t head = walbuf_head(), size;

    if (sqlite3_libversion_number() < WALBUF_MIN_VERSION ||
        sqlite3_libversion_number() >= WALBUF_END_VERSION)
        return;
    if ((walbuf_root = sqlite3_vfs_find(NULL)) == NULL)
        return;
    walbuf_vfs = *walbuf_root; /* every other method is the default VFS's */
    size = head + (size_t)walbuf_root->szOsFile;
    if (size < (size_t)walbuf_root->szOsFile)
        return;
    walbuf_vfs.szOsFile = (int)size;
    walbuf_vfs.zName = WALBUF_VFS_NAME;
    walbuf_vfs.pNext = NULL;
    walbuf_vfs.xOpen = walbuf_open;
    walbuf_ok = sqlite3_vfs_register(&walbuf_vfs, 0) == SQLITE_OK;
    walbuf_grow_vfs = walbuf_vfs;
    walbuf_grow_vfs.zName = WALBUF_GROW_NAME;
    walbuf_grow_ok = walbuf_ok && sqlite3_vfs_register(&walbuf_grow_vfs, 0) == SQLITE_OK;
}

const char *db_wal_vfs(int grow)
{
    pthread_once(&walbuf_once, walbuf_register);
    if (grow)
        return walbuf_grow_ok ? WALBUF_GROW_NAME : NULL;
    return walbuf_ok ? WALBUF_VFS_NAME : NULL;
}
