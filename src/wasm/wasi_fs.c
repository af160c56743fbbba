/*
 * wasi_fs.c - the filesystem half of WASI preview1: path resolution below a
 * preopened directory, the path_* calls, fd_readdir and the timestamp calls.
 *
 * Invariant: path_resolve() walks one component at a time below a directory
 * fd with O_NOFOLLOW, keeps its own stack of parent directories for `..`,
 * expands symbolic links itself (relative ones only) and never lets the
 * walk rise above the starting directory.  The final component is then
 * used with *at() calls that do not follow symlinks, so a link swapped in
 * concurrently cannot lead outside either.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h> /* renameat */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wasm/wasi_int.h"

/* ------------------------------------------------------------------ */
/* Path resolution                                                    */

typedef struct wasi_path {
    int dirfd;               /* directory holding `name` */
    bool owned;              /* dirfd must be closed by path_done() */
    bool slash;              /* the path ended in '/': name must be a directory */
    char name[NAME_MAX + 1]; /* one component, never "..", or "." */
} wasi_path;

static void path_done(wasi_path *p)
{
    if (p->owned)
        close(p->dirfd);
    p->owned = false;
}

/* Copy a guest string (bounds-checked, no NUL inside, at most
 * TH_WASI_MAX_PATH bytes) into a new NUL-terminated buffer. */
static uint16_t guest_string(const wasi_mem *m, uint32_t ptr, uint32_t len, char **out)
{
    char *s;

    if (!mem_ok(m, ptr, len))
        return E_FAULT;
    if (len > TH_WASI_MAX_PATH)
        return E_NAMETOOLONG;
    if (memchr(m->base + ptr, 0, len) != NULL)
        return E_INVAL;
    s = malloc((size_t)len + 1);
    if (s == NULL)
        return E_NOMEM;
    memcpy(s, m->base + ptr, len);
    s[len] = 0;
    *out = s;
    return E_SUCCESS;
}

/* Replace `*rest` by target + ("/" if sep) + tail; `tail` may point into
 * the old `*rest`, which is freed only after the copy.  Absolute targets are
 * refused: they would leave the sandbox. */
static uint16_t splice_link(char **rest, const char *target, const char *tail, bool sep)
{
    size_t tl = strlen(target), rl = strlen(tail), pos;
    char *n;

    if (target[0] == '/')
        return E_NOTCAPABLE;
    if (tl == 0)
        return E_NOENT;
    if (tl + rl + 1 > TH_WASI_MAX_PATH)
        return E_NAMETOOLONG;
    n = malloc(tl + rl + 2);
    if (n == NULL)
        return E_NOMEM;
    memcpy(n, target, tl);
    pos = tl;
    if (sep)
        n[pos++] = '/';
    memcpy(n + pos, tail, rl + 1);
    free(*rest);
    *rest = n;
    return E_SUCCESS;
}

/*
 * The walk of path_resolve: `stack[0]` is the starting directory (not
 * owned), stack[1..depth-1] are directories we opened.  `rest` is the
 * remaining path (owned, replaced when a symlink is expanded).
 */
typedef struct wasi_walk {
    int stack[TH_WASI_MAX_PATH_DEPTH];
    uint32_t depth;
    char *rest;
    uint32_t links;
} wasi_walk;

/* Close the directories opened by the walk except stack[keep] (0 = all). */
static void walk_free(wasi_walk *wk, uint32_t keep)
{
    for (uint32_t i = 1; i < wk->depth; i++)
        if (i != keep)
            close(wk->stack[i]);
    free(wk->rest);
}

enum { STEP_DESCENDED, STEP_EXPANDED, STEP_DONE };

/* One step of the walk on component `comp` (NUL-terminated, non-empty, not
 * "." or ".."), followed in the path by `tail`.  *step says what happened:
 * descended into comp, replaced wk->rest by a symlink's expansion, or
 * reached the final component (then `out->name` is set). */
static uint16_t walk_step(wasi_walk *wk, const char *comp, const char *tail, bool last, bool follow,
                          wasi_path *out, int *step)
{
    int cur = wk->stack[wk->depth - 1], nfd;
    struct stat st;
    char target[PATH_MAX + 1];
    ssize_t n;

    if (strlen(comp) > NAME_MAX)
        return E_NAMETOOLONG;
    *step = STEP_DONE;
    if (last && !follow) {
        strcpy(out->name, comp);
        return E_SUCCESS;
    }
    if (fstatat(cur, comp, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (last && errno == ENOENT) { /* may be created by the caller */
            strcpy(out->name, comp);
            return E_SUCCESS;
        }
        return host_errno();
    }
    if (S_ISLNK(st.st_mode)) {
        if (++wk->links > TH_WASI_MAX_SYMLINKS)
            return E_LOOP;
        n = readlinkat(cur, comp, target, sizeof target - 1);
        if (n < 0)
            return host_errno();
        target[n] = 0;
        *step = STEP_EXPANDED;
        return splice_link(&wk->rest, target, tail, !last || out->slash);
    }
    if (last) {
        strcpy(out->name, comp);
        return E_SUCCESS;
    }
    if (wk->depth >= TH_WASI_MAX_PATH_DEPTH)
        return E_NAMETOOLONG;
    nfd = openat(cur, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (nfd < 0)
        return host_errno();
    wk->stack[wk->depth++] = nfd;
    *step = STEP_DESCENDED;
    return E_SUCCESS;
}

/*
 * Resolve guest path (ptr, len) relative to directory fd `fd`, which must
 * hold the rights `need` (E_NOTCAPABLE otherwise).  On success `out` names
 * the directory and final component; release with path_done().
 * `follow`: expand a symlink in the final component too.
 */
static uint16_t path_resolve(th_wasi *w, const wasi_mem *m, uint32_t fd, uint64_t need,
                             uint32_t ptr, uint32_t len, bool follow, wasi_path *out)
{
    wasi_fd *f;
    wasi_walk wk;
    uint16_t e;

    memset(out, 0, sizeof *out);
    if ((e = wasm_wasi_fd_get(w, fd, need, &f)) != E_SUCCESS)
        return e;
    if (f->type != FT_DIR)
        return E_NOTDIR;
    wk.depth = 1;
    wk.stack[0] = f->host;
    wk.links = 0;
    wk.rest = NULL;
    e = guest_string(m, ptr, len, &wk.rest);
    if (e != E_SUCCESS)
        return e;
    if (wk.rest[0] == 0)
        e = E_NOENT;
    else if (wk.rest[0] == '/')
        e = E_NOTCAPABLE;
    while (e == E_SUCCESS) {
        char *p = wk.rest, *comp, *tail;
        bool last;
        int step = STEP_DESCENDED;

        while (*p == '/')
            p++;
        if (*p == 0) { /* only slashes left: the directory itself */
            strcpy(out->name, ".");
            out->slash = true;
            break;
        }
        comp = p;
        while (*p != 0 && *p != '/')
            p++;
        tail = p;
        while (*tail == '/')
            tail++;
        last = *tail == 0;
        if (last && *p == '/')
            out->slash = true;
        *p = 0;
        if (strcmp(comp, ".") == 0) {
            step = last ? STEP_DONE : STEP_DESCENDED;
        } else if (strcmp(comp, "..") == 0) {
            if (wk.depth == 1) {
                e = E_NOTCAPABLE;
                break;
            }
            close(wk.stack[--wk.depth]);
            step = last ? STEP_DONE : STEP_DESCENDED;
        } else {
            e = walk_step(&wk, comp, tail, last, follow || out->slash, out, &step);
            if (e != E_SUCCESS)
                break;
        }
        if (step == STEP_DONE) {
            if (out->name[0] == 0)
                strcpy(out->name, ".");
            break;
        }
        if (step == STEP_DESCENDED)
            memmove(wk.rest, tail, strlen(tail) + 1);
    }
    if (e != E_SUCCESS) {
        walk_free(&wk, 0);
        return e;
    }
    out->dirfd = wk.stack[wk.depth - 1];
    out->owned = wk.depth > 1;
    walk_free(&wk, wk.depth - 1);
    return E_SUCCESS;
}

/* Build utimensat() times from WASI (atim, mtim, fstflags). */
static uint16_t make_times(uint64_t atim, uint64_t mtim, uint32_t fst, struct timespec ts[2])
{
    if (((fst & FST_ATIM) && (fst & FST_ATIM_NOW)) || ((fst & FST_MTIM) && (fst & FST_MTIM_NOW)) ||
        (fst & ~15u))
        return E_INVAL;
    ts[0].tv_sec = (time_t)(atim / 1000000000ull);
    ts[0].tv_nsec = (long)(atim % 1000000000ull);
    ts[1].tv_sec = (time_t)(mtim / 1000000000ull);
    ts[1].tv_nsec = (long)(mtim % 1000000000ull);
    if (fst & FST_ATIM_NOW)
        ts[0].tv_nsec = UTIME_NOW;
    else if (!(fst & FST_ATIM))
        ts[0].tv_nsec = UTIME_OMIT;
    if (fst & FST_MTIM_NOW)
        ts[1].tv_nsec = UTIME_NOW;
    else if (!(fst & FST_MTIM))
        ts[1].tv_nsec = UTIME_OMIT;
    return E_SUCCESS;
}

uint16_t wasm_wasi_fd_filestat_set_times(th_wasi *w, const wasi_mem *m, const th_wasm_val *a)
{
    wasi_fd *f;
    struct timespec ts[2];
    uint16_t e;

    if ((e = wasm_wasi_fd_get(w, (uint32_t)a[0].i32, R_FD_FILESTAT_SET_TIMES, &f)) != E_SUCCESS)
        return e;
    e = make_times((uint64_t)a[1].i64, (uint64_t)a[2].i64, (uint32_t)a[3].i32, ts);
    if (e != E_SUCCESS)
        return e;
    if (futimens(f->host, ts) != 0)
        return host_errno();
    return E_SUCCESS;
}

static uint8_t dirent_type(unsigned char t)
{
    switch (t) {
    case DT_REG: return FT_REG;
    case DT_DIR: return FT_DIR;
    case DT_CHR: return FT_CHAR;
    case DT_BLK: return FT_BLOCK;
    case DT_LNK: return FT_SYMLINK;
    case DT_SOCK: return FT_SOCK_STREAM;
    default: return FT_UNKNOWN;
    }
}

/*
 * fd_readdir(fd, buf, buf_len, cookie, bufused): entries from position
 * `cookie` (0 = start; otherwise a d_next we returned, i.e. a telldir()
 * value), each a 24-byte dirent then the name, the last one possibly cut
 * short when the buffer fills (the guest then asks again from its cookie).
 */
uint16_t wasm_wasi_fd_readdir(th_wasi *w, const wasi_mem *m, const th_wasm_val *a)
{
    wasi_fd *f;
    uint32_t buf = (uint32_t)a[1].i32, len = (uint32_t)a[2].i32;
    uint64_t cookie = (uint64_t)a[3].i64;
    uint32_t outp = (uint32_t)a[4].i32, used = 0;
    struct dirent *de;
    uint8_t hdr[DIRENT_SIZE];
    uint16_t e;

    if ((e = wasm_wasi_fd_get(w, (uint32_t)a[0].i32, R_FD_READDIR, &f)) != E_SUCCESS)
        return e;
    if (f->type != FT_DIR)
        return E_NOTDIR;
    if (!mem_ok(m, buf, len) || !mem_ok(m, outp, 4))
        return E_FAULT;
    if (cookie > LONG_MAX)
        return E_INVAL;
    if (f->dir == NULL) {
        int d = openat(f->host, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (d < 0)
            return host_errno();
        f->dir = fdopendir(d);
        if (f->dir == NULL) {
            close(d);
            return host_errno();
        }
    }
    if (cookie == 0)
        rewinddir(f->dir);
    else
        seekdir(f->dir, (long)cookie);
    while (used < len) {
        uint32_t namlen, take;
        long next;

        errno = 0;
        de = readdir(f->dir);
        if (de == NULL) {
            if (errno != 0)
                return host_errno();
            break;
        }
        next = telldir(f->dir);
        namlen = (uint32_t)strlen(de->d_name);
        put_u64(hdr, (uint64_t)next);
        put_u64(hdr + 8, (uint64_t)de->d_ino);
        put_u32(hdr + 16, namlen);
        hdr[20] = dirent_type(de->d_type);
        hdr[21] = hdr[22] = hdr[23] = 0;
        take = len - used < DIRENT_SIZE ? len - used : DIRENT_SIZE;
        memcpy(m->base + buf + used, hdr, take);
        used += take;
        take = len - used < namlen ? len - used : namlen;
        memcpy(m->base + buf + used, de->d_name, take);
        used += take;
    }
    put_u32(m->base + outp, used);
    return E_SUCCESS;
}

/* ------------------------------------------------------------------ */
/* Paths                                                              */

/*
 * path_open(dirfd, dirflags, path, path_len, oflags, rights_base,
 * rights_inheriting, fdflags, fd_out).  The directory needs path_open, and
 * path_create_file for oflags::creat, path_filestat_set_size for
 * oflags::trunc; the rights asked for the new fd (base and inheriting,
 * plus fd_datasync for fdflags::dsync and fd_sync for rsync/sync) must all
 * be among the directory's inheriting rights: E_NOTCAPABLE otherwise
 * (wasi-libc asks for its maximum masked by those, so it never asks too
 * much).  The new fd gets exactly the rights asked.  The host access mode
 * follows them (as wasi-libc derives them from O_RDONLY/O_WRONLY/O_RDWR).
 */
uint16_t wasm_wasi_path_open(th_wasi *w, const wasi_mem *m, const th_wasm_val *a)
{
    const uint64_t rd = R_FD_READ | R_FD_READDIR;
    const uint64_t wr = R_FD_WRITE | R_FD_DATASYNC | R_FD_ALLOCATE | R_FD_FILESTAT_SET_SIZE;
    uint32_t dirfd = (uint32_t)a[0].i32, oflags = (uint32_t)a[4].i32;
    uint64_t rights = (uint64_t)a[5].i64, inh = (uint64_t)a[6].i64;
    uint32_t fdflags = (uint32_t)a[7].i32, outp = (uint32_t)a[8].i32, slot;
    uint64_t need = R_PATH_OPEN, need_inh = rights | inh;
    int flags = O_CLOEXEC | O_NOFOLLOW, hfd;
    wasi_fd *dir = wasm_wasi_fd(w, dirfd), *f;
    wasi_path p;
    struct stat st;
    uint16_t e;

    if (dir == NULL)
        return E_BADF;
    if (oflags & OFL_CREAT)
        need |= R_PATH_CREATE_FILE;
    if (oflags & OFL_TRUNC)
        need |= R_PATH_FILESTAT_SET_SIZE;
    if (fdflags & FDFL_DSYNC)
        need_inh |= R_FD_DATASYNC;
    if (fdflags & (FDFL_RSYNC | FDFL_SYNC))
        need_inh |= R_FD_SYNC;
    if ((dir->rights & need) != need || (need_inh & ~dir->inheriting) != 0)
        return E_NOTCAPABLE;
    if (!mem_ok(m, outp, 4))
        return E_FAULT;
    if (oflags & OFL_CREAT)
        flags |= O_CREAT;
    if (oflags & OFL_DIRECTORY)
        flags |= O_DIRECTORY;
    if (oflags & OFL_EXCL)
        flags |= O_EXCL;
    if (oflags & OFL_TRUNC)
        flags |= O_TRUNC;
    if (fdflags & FDFL_APPEND)
        flags |= O_APPEND;
    if (fdflags & FDFL_NONBLOCK)
        flags |= O_NONBLOCK;
    if (fdflags & FDFL_SYNC)
        flags |= O_SYNC;
    else if (fdflags & (FDFL_DSYNC | FDFL_RSYNC))
        flags |= O_DSYNC;
    if ((oflags & OFL_DIRECTORY) || !(rights & wr))
        flags |= O_RDONLY;
    else if (rights & rd)
        flags |= O_RDWR;
    else
        flags |= O_WRONLY;
    e = path_resolve(w, m, dirfd, need, (uint32_t)a[2].i32, (uint32_t)a[3].i32,
                     ((uint32_t)a[1].i32 & LOOKUP_FOLLOW) != 0, &p);
    if (e != E_SUCCESS)
        return e;
    if (p.slash)
        flags |= O_DIRECTORY;
    e = wasm_wasi_fd_alloc(w, &slot);
    if (e != E_SUCCESS)
        goto out;
    hfd = openat(p.dirfd, p.name, flags, 0666);
    if (hfd < 0) {
        e = host_errno();
        goto out;
    }
    if (fstat(hfd, &st) != 0) {
        e = host_errno();
        close(hfd);
        goto out;
    }
    f = &w->fds[slot];
    f->host = hfd;
    f->type = wasm_wasi_filetype(st.st_mode);
    f->rights = rights;
    f->inheriting = inh;
    put_u32(m->base + outp, slot);
out:
    path_done(&p);
    return e;
}

uint16_t wasm_wasi_path_filestat_get(th_wasi *w, const wasi_mem *m, const th_wasm_val *a)
{
    wasi_path p;
    struct stat st;
    uint16_t e;

    e = path_resolve(w, m, (uint32_t)a[0].i32, R_PATH_FILESTAT_GET, (uint32_t)a[2].i32,
                     (uint32_t)a[3].i32, ((uint32_t)a[1].i32 & LOOKUP_FOLLOW) != 0, &p);
    if (e != E_SUCCESS)
        return e;
    if (fstatat(p.dirfd, p.name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        e = host_errno();
    else if (p.slash && !S_ISDIR(st.st_mode))
        e = E_NOTDIR;
    else
        e = wasm_wasi_out_filestat(m, (uint32_t)a[4].i32, &st);
    path_done(&p);
    return e;
}

uint16_t wasm_wasi_path_filestat_set_times(th_wasi *w, const wasi_mem *m, const th_wasm_val *a)
{
    struct timespec ts[2];
    wasi_path p;
    uint16_t e;

    e = make_times((uint64_t)a[4].i64, (uint64_t)a[5].i64, (uint32_t)a[6].i32, ts);
    if (e != E_SUCCESS)
        return e;
    e = path_resolve(w, m, (uint32_t)a[0].i32, R_PATH_FILESTAT_SET_TIMES, (uint32_t)a[2].i32,
                     (uint32_t)a[3].i32, ((uint32_t)a[1].i32 & LOOKUP_FOLLOW) != 0, &p);
    if (e != E_SUCCESS)
        return e;
    if (utimensat(p.dirfd, p.name, ts, AT_SYMLINK_NOFOLLOW) != 0)
        e = host_errno();
    path_done(&p);
    return e;
}

uint16_t wasm_wasi_path_create_directory(th_wasi *w, const wasi_mem *m, const th_wasm_val *a)
{
    wasi_path p;
    uint16_t e;

    e = path_resolve(w, m, (uint32_t)a[0].i32, R_PATH_CREATE_DIRECTORY, (uint32_t)a[1].i32,
                     (uint32_t)a[2].i32, false, &p);
    if (e != E_SUCCESS)
        return e;
    if (mkdirat(p.dirfd, p.name, 0777) != 0)
        e = host_errno();
    path_done(&p);
    return e;
}

uint16_t wasm_wasi_path_remove_directory(th_wasi *w, const wasi_mem *m, const th_wasm_val *a)
{
    wasi_path p;
    uint16_t e;

    e = path_resolve(w, m, (uint32_t)a[0].i32, R_PATH_REMOVE_DIRECTORY, (uint32_t)a[1].i32,
                     (uint32_t)a[2].i32, false, &p);
    if (e != E_SUCCESS)
        return e;
    if (unlinkat(p.dirfd, p.name, AT_REMOVEDIR) != 0)
        e = host_errno();
    path_done(&p);
    return e;
}

uint16_t wasm_wasi_path_unlink_file(th_wasi *w, const wasi_mem *m, const th_wasm_val *a)
{
    wasi_path p;
    struct stat st;
    uint16_t e;

    e = path_resolve(w, m, (uint32_t)a[0].i32, R_PATH_UNLINK_FILE, (uint32_t)a[1].i32,
                     (uint32_t)a[2].i32, false, &p);
    if (e != E_SUCCESS)
        return e;
    if (p.slash) /* "name/" names a directory, never a file */
        e = fstatat(p.dirfd, p.name, &st, 0) == 0 && S_ISDIR(st.st_mode) ? E_ISDIR : E_NOTDIR;
    else if (unlinkat(p.dirfd, p.name, 0) != 0)
        e = host_errno();
    path_done(&p);
    return e;
}

uint16_t wasm_wasi_path_rename(th_wasi *w, const wasi_mem *m, const th_wasm_val *a)
{
    wasi_path from, to;
    uint16_t e;

    e = path_resolve(w, m, (uint32_t)a[0].i32, R_PATH_RENAME_SOURCE, (uint32_t)a[1].i32,
                     (uint32_t)a[2].i32, false, &from);
    if (e != E_SUCCESS)
        return e;
    e = path_resolve(w, m, (uint32_t)a[3].i32, R_PATH_RENAME_TARGET, (uint32_t)a[4].i32,
                     (uint32_t)a[5].i32, false, &to);
    if (e == E_SUCCESS) {
        if (renameat(from.dirfd, from.name, to.dirfd, to.name) != 0)
            e = host_errno();
        path_done(&to);
    }
    path_done(&from);
    return e;
}

uint16_t wasm_wasi_path_link(th_wasi *w, const wasi_mem *m, const th_wasm_val *a)
{
    wasi_path from, to;
    uint16_t e;

    e = path_resolve(w, m, (uint32_t)a[0].i32, R_PATH_LINK_SOURCE, (uint32_t)a[2].i32,
                     (uint32_t)a[3].i32, ((uint32_t)a[1].i32 & LOOKUP_FOLLOW) != 0, &from);
    if (e != E_SUCCESS)
        return e;
    e = path_resolve(w, m, (uint32_t)a[4].i32, R_PATH_LINK_TARGET, (uint32_t)a[5].i32,
                     (uint32_t)a[6].i32, false, &to);
    if (e == E_SUCCESS) {
        if (linkat(from.dirfd, from.name, to.dirfd, to.name, 0) != 0)
            e = host_errno();
        path_done(&to);
    }
    path_done(&from);
    return e;
}

/* path_symlink(target, target_len, dirfd, path, path_len).  Absolute
 * targets are refused; relative ones can never be followed out of the
 * sandbox by path_resolve. */
uint16_t wasm_wasi_path_symlink(th_wasi *w, const wasi_mem *m, const th_wasm_val *a)
{
    char *target = NULL;
    wasi_path p;
    uint16_t e;

    e = guest_string(m, (uint32_t)a[0].i32, (uint32_t)a[1].i32, &target);
    if (e != E_SUCCESS)
        return e;
    if (target[0] == '/') {
        free(target);
        return E_NOTCAPABLE;
    }
    e = path_resolve(w, m, (uint32_t)a[2].i32, R_PATH_SYMLINK, (uint32_t)a[3].i32,
                     (uint32_t)a[4].i32, false, &p);
    if (e == E_SUCCESS) {
        if (symlinkat(target, p.dirfd, p.name) != 0)
            e = host_errno();
        path_done(&p);
    }
    free(target);
    return e;
}

/* path_readlink(dirfd, path, path_len, buf, buf_len, bufused): the link's
 * contents, truncated to buf_len. */
uint16_t wasm_wasi_path_readlink(th_wasi *w, const wasi_mem *m, const th_wasm_val *a)
{
    uint32_t buf = (uint32_t)a[3].i32, len = (uint32_t)a[4].i32;
    uint32_t outp = (uint32_t)a[5].i32;
    char target[PATH_MAX];
    wasi_path p;
    ssize_t n;
    uint16_t e;

    if (!mem_ok(m, buf, len) || !mem_ok(m, outp, 4))
        return E_FAULT;
    e = path_resolve(w, m, (uint32_t)a[0].i32, R_PATH_READLINK, (uint32_t)a[1].i32,
                     (uint32_t)a[2].i32, false, &p);
    if (e != E_SUCCESS)
        return e;
    n = readlinkat(p.dirfd, p.name, target, sizeof target);
    if (n < 0) {
        e = host_errno();
    } else {
        if ((uint32_t)n > len)
            n = len;
        memcpy(m->base + buf, target, (size_t)n);
        put_u32(m->base + outp, (uint32_t)n);
    }
    path_done(&p);
    return e;
}
