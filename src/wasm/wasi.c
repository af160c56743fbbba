/*
 * wasi.c - WASI preview1 host functions (include/theater/wasi.h).
 *
 * Every function is a small C function `uint16_t f(w, mem, args)` returning
 * a WASI errno; one trampoline (wasi_host) fetches the calling instance's
 * memory and stores the errno as the i32 result.  proc_exit has its own
 * host function because it traps instead of returning.
 *
 * Invariants:
 *   - guest memory is only touched through ranges checked by mem_ok();
 *     structures are read and written byte by byte in little-endian order;
 *   - a guest fd names a slot of w->fds whose host descriptor is >= 0;
 *     a free slot has host == -1 (-2 marks a slot reserved during set-up);
 *   - path arguments are resolved in wasi_fs.c, never above the directory
 *     they are relative to;
 *   - every call on a descriptor first checks the rights the call needs
 *     against the fd's rights_base (E_NOTCAPABLE when one is missing), as
 *     preview1's rights model says; fd_fdstat_get reports those rights.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "wasm/wasi_int.h"

/* ------------------------------------------------------------------ */
/* Descriptor table                                                   */

/* The open descriptor `fd`, or NULL. */
wasi_fd *wasm_wasi_fd(th_wasi *w, uint32_t fd)
{
    if (fd >= w->nfds || w->fds[fd].host < 0)
        return NULL;
    return &w->fds[fd];
}

uint16_t wasm_wasi_fd_get(th_wasi *w, uint32_t fd, uint64_t need, wasi_fd **out)
{
    wasi_fd *f = wasm_wasi_fd(w, fd);

    *out = f;
    if (f == NULL)
        return E_BADF;
    return (f->rights & need) == need ? E_SUCCESS : E_NOTCAPABLE;
}

/* Find a free slot (lowest number), growing the table; E_MFILE at the
 * limit.  The slot is returned cleared with host = -1. */
uint16_t wasm_wasi_fd_alloc(th_wasi *w, uint32_t *out)
{
    uint32_t i, ncap;
    wasi_fd *nfds;

    for (i = 0; i < w->nfds; i++)
        if (w->fds[i].host == -1) {
            *out = i;
            return E_SUCCESS;
        }
    if (w->nfds >= TH_WASI_MAX_FDS)
        return E_MFILE;
    ncap = w->nfds ? w->nfds * 2 : 8;
    if (ncap > TH_WASI_MAX_FDS)
        ncap = TH_WASI_MAX_FDS;
    nfds = realloc(w->fds, ncap * sizeof *nfds);
    if (nfds == NULL)
        return E_NOMEM;
    for (i = w->nfds; i < ncap; i++) {
        memset(&nfds[i], 0, sizeof nfds[i]);
        nfds[i].host = -1;
    }
    w->fds = nfds;
    *out = w->nfds;
    w->nfds = ncap;
    return E_SUCCESS;
}

/* Close a descriptor (unless borrowed) and free its slot. */
void wasm_wasi_fd_release(wasi_fd *f)
{
    if (f->dir != NULL)
        closedir(f->dir);
    if (f->host >= 0 && !f->borrowed)
        close(f->host);
    free(f->preopen);
    memset(f, 0, sizeof *f);
    f->host = -1;
}

/* The WASI filetype of a host st_mode. */
uint8_t wasm_wasi_filetype(mode_t mode)
{
    if (S_ISREG(mode))
        return FT_REG;
    if (S_ISDIR(mode))
        return FT_DIR;
    if (S_ISCHR(mode))
        return FT_CHAR;
    if (S_ISBLK(mode))
        return FT_BLOCK;
    if (S_ISLNK(mode))
        return FT_SYMLINK;
    if (S_ISSOCK(mode))
        return FT_SOCK_STREAM;
    return FT_UNKNOWN;
}

/* Write a filestat (64 bytes) for `st` at guest address `ptr`. */
uint16_t wasm_wasi_out_filestat(const wasi_mem *m, uint32_t ptr, const struct stat *st)
{
    uint8_t *p;

    if (!mem_ok(m, ptr, FILESTAT_SIZE))
        return E_FAULT;
    p = m->base + ptr;
    memset(p, 0, FILESTAT_SIZE);
    put_u64(p + 0, (uint64_t)st->st_dev);
    put_u64(p + 8, (uint64_t)st->st_ino);
    p[16] = wasm_wasi_filetype(st->st_mode);
    put_u64(p + 24, (uint64_t)st->st_nlink);
    put_u64(p + 32, (uint64_t)st->st_size);
    put_u64(p + 40, ts_ns(st->st_atim));
    put_u64(p + 48, ts_ns(st->st_mtim));
    put_u64(p + 56, ts_ns(st->st_ctim));
    return E_SUCCESS;
}

/* Map a host errno to a WASI errno (E_IO for unknown ones). */
uint16_t wasm_wasi_errno(int e)
{
    switch (e) {
    case 0: return E_SUCCESS;
    case E2BIG: return E_2BIG;
    case EACCES: return E_ACCES;
    case EAGAIN: return E_AGAIN;
    case EBADF: return E_BADF;
    case EBUSY: return E_BUSY;
    case EDQUOT: return E_DQUOT;
    case EEXIST: return E_EXIST;
    case EFAULT: return E_FAULT;
    case EFBIG: return E_FBIG;
    case EINTR: return E_INTR;
    case EINVAL: return E_INVAL;
    case EISDIR: return E_ISDIR;
    case ELOOP: return E_LOOP;
    case EMFILE: return E_MFILE;
    case EMLINK: return E_MLINK;
    case ENAMETOOLONG: return E_NAMETOOLONG;
    case ENFILE: return E_NFILE;
    case ENODEV: return E_NODEV;
    case ENOENT: return E_NOENT;
    case ENOMEM: return E_NOMEM;
    case ENOSPC: return E_NOSPC;
    case ENOSYS: return E_NOSYS;
    case ENOTDIR: return E_NOTDIR;
    case ENOTEMPTY: return E_NOTEMPTY;
    case EOPNOTSUPP: return E_NOTSUP;
    case ENOTTY: return E_NOTTY;
    case ENXIO: return E_NXIO;
    case EOVERFLOW: return E_OVERFLOW;
    case EPERM: return E_PERM;
    case EPIPE: return E_PIPE;
    case ERANGE: return E_RANGE;
    case EROFS: return E_ROFS;
    case ESPIPE: return E_SPIPE;
    case ETXTBSY: return E_TXTBSY;
    case EXDEV: return E_XDEV;
    default: return E_IO;
    }
}

/* ------------------------------------------------------------------ */
/* Arguments, environment, clocks, random                             */

/* Write `count` pointers to the strings of `buf` at `vec`, and `buf` itself
 * (`len` bytes) at `bufp`. */
static uint16_t out_strings(const wasi_mem *m, uint32_t vec, uint32_t bufp, const char *buf,
                            uint32_t count, uint32_t len)
{
    uint32_t off = 0;

    if (!mem_ok(m, vec, (uint64_t)count * 4) || !mem_ok(m, bufp, len))
        return E_FAULT;
    for (uint32_t i = 0; i < count; i++) {
        put_u32(m->base + vec + 4 * i, bufp + off);
        off += (uint32_t)strlen(buf + off) + 1;
    }
    if (len > 0)
        memcpy(m->base + bufp, buf, len);
    return E_SUCCESS;
}

static uint16_t wasi_args_get(th_wasi *w, const wasi_mem *m, const th_wasm_val *a)
{
    return out_strings(m, (uint32_t)a[0].i32, (uint32_t)a[1].i32, w->args, w->argc, w->args_len);
}

static uint16_t wasi_args_sizes_get(th_wasi *w, const wasi_mem *m, const th_wasm_val *a)
{
    uint16_t e = out_u32(m, (uint32_t)a[0].i32, w->argc);
    return e ? e : out_u32(m, (uint32_t)a[1].i32, w->args_len);
}

static uint16_t wasi_environ_get(th_wasi *w, const wasi_mem *m, const th_wasm_val *a)
{
    return out_strings(m, (uint32_t)a[0].i32, (uint32_t)a[1].i32, w->env, w->nenv, w->env_len);
}

static uint16_t wasi_environ_sizes_get(th_wasi *w, const wasi_mem *m, const th_wasm_val *a)
{
    uint16_t e = out_u32(m, (uint32_t)a[0].i32, w->nenv);
    return e ? e : out_u32(m, (uint32_t)a[1].i32, w->env_len);
}

static bool clock_of(uint32_t id, clockid_t *out)
{
    static const clockid_t ids[] = {CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_PROCESS_CPUTIME_ID,
                                    CLOCK_THREAD_CPUTIME_ID};
    if (id >= sizeof ids / sizeof ids[0])
        return false;
    *out = ids[id];
    return true;
}

static uint16_t wasi_clock_res_get(th_wasi *w, const wasi_mem *m, const th_wasm_val *a)
{
    clockid_t c;
    struct timespec ts;

    if (!clock_of((uint32_t)a[0].i32, &c))
        return E_INVAL;
    if (clock_getres(c, &ts) != 0)
        return host_errno();
    return out_u64(m, (uint32_t)a[1].i32, ts_ns(ts));
}

static uint16_t wasi_clock_time_get(th_wasi *w, const wasi_mem *m, const th_wasm_val *a)
{
    clockid_t c;
    struct timespec ts;

    if (!clock_of((uint32_t)a[0].i32, &c))
        return E_INVAL;
    if (clock_gettime(c, &ts) != 0)
        return host_errno();
    return out_u64(m, (uint32_t)a[2].i32, ts_ns(ts));
}

static uint16_t wasi_random_get(th_wasi *w, const wasi_mem *m, const th_wasm_val *a)
{
    uint32_t ptr = (uint32_t)a[0].i32, len = (uint32_t)a[1].i32, done = 0;
    ssize_t n;

    if (!mem_ok(m, ptr, len))
        return E_FAULT;
    while (done < len) {
        n = getrandom(m->base + ptr + done, len - done, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return host_errno();
        }
        done += (uint32_t)n;
    }
    return E_SUCCESS;
}

static uint16_t wasi_sched_yield(th_wasi *w, const wasi_mem *m, const th_wasm_val *a)
{
    sched_yield();
    return E_SUCCESS;
}

/* Calls this layer does not offer (sockets, proc_raise). */
static uint16_t wasi_nosys(th_wasi *w, const wasi_mem *m, const th_wasm_val *a)
{
    return E_NOSYS;
}

/* ------------------------------------------------------------------ */
/* Reading and writing                                                */

/* Translate the guest iovec array (ptr, n) into host iovecs; at most
 * TH_WASI_MAX_IOVS are used (a shorter transfer is allowed by POSIX). */
static uint16_t gather_iovs(const wasi_mem *m, uint32_t ptr, uint32_t n, struct iovec *iov,
                            int *cnt)
{
    if (!mem_ok(m, ptr, (uint64_t)n * 8))
        return E_FAULT;
    if (n > TH_WASI_MAX_IOVS)
        n = TH_WASI_MAX_IOVS;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t b = get_u32(m->base + ptr + 8 * i);
        uint32_t l = get_u32(m->base + ptr + 8 * i + 4);
        if (!mem_ok(m, b, l))
            return E_FAULT;
        iov[i].iov_base = m->base + b;
        iov[i].iov_len = l;
    }
    *cnt = (int)n;
    return E_SUCCESS;
}

enum { IO_READ, IO_WRITE, IO_PREAD, IO_PWRITE };

/* fd_read / fd_write / fd_pread / fd_pwrite: args (fd, iovs, n, [offset],
 * out). */
static uint16_t do_io(th_wasi *w, const wasi_mem *m, const th_wasm_val *a, int kind)
{
    /* pread and pwrite need the seek right as well (they name an offset) */
    static const uint64_t need[] = {
        [IO_READ] = R_FD_READ,
        [IO_WRITE] = R_FD_WRITE,
        [IO_PREAD] = R_FD_READ | R_FD_SEEK,
        [IO_PWRITE] = R_FD_WRITE | R_FD_SEEK,
    };
    wasi_fd *f;
    struct iovec iov[TH_WASI_MAX_IOVS];
    uint32_t outp;
    int cnt = 0;
    ssize_t n;
    uint16_t e;

    if ((e = wasm_wasi_fd_get(w, (uint32_t)a[0].i32, need[kind], &f)) != E_SUCCESS)
        return e;
    if (f->type == FT_DIR)
        return E_ISDIR;
    e = gather_iovs(m, (uint32_t)a[1].i32, (uint32_t)a[2].i32, iov, &cnt);
    if (e != E_SUCCESS)
        return e;
    outp = (uint32_t)a[kind == IO_PREAD || kind == IO_PWRITE ? 4 : 3].i32;
    if (!mem_ok(m, outp, 4))
        return E_FAULT;
    if ((kind == IO_PREAD || kind == IO_PWRITE) && a[3].i64 < 0)
        return E_INVAL;
    do {
        switch (kind) {
        case IO_READ: n = readv(f->host, iov, cnt); break;
        case IO_WRITE: n = writev(f->host, iov, cnt); break;
        case IO_PREAD: n = preadv(f->host, iov, cnt, (off_t)a[3].i64); break;
        default: n = pwritev(f->host, iov, cnt, (off_t)a[3].i64); break;
        }
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return host_errno();
    put_u32(m->base + outp, (uint32_t)n);
    return E_SUCCESS;
}

static uint16_t wasi_fd_read(th_wasi *w, const wasi_mem *m, const th_wasm_val *a)
{
    return do_io(w, m, a, IO_READ);
}

static uint16_t wasi_fd_write(th_wasi *w, const wasi_mem *m, const th_wasm_val *a)
{
    return do_io(w, m, a, IO_WRITE);
}

static uint16_t wasi_fd_pread(th_wasi *w, const wasi_mem *m, const th_wasm_val *a)
{
    return do_io(w, m, a, IO_PREAD);
}

static uint16_t wasi_fd_pwrite(th_wasi *w, const wasi_mem *m, const th_wasm_val *a)
{
    return do_io(w, m, a, IO_PWRITE);
}

/* The right to learn the offset: fd_tell, or fd_seek (which implies it). */
static uint16_t tell_right(th_wasi *w, uint32_t fd, wasi_fd **out)
{
    uint16_t e = wasm_wasi_fd_get(w, fd, R_FD_TELL, out);
    return e == E_NOTCAPABLE ? wasm_wasi_fd_get(w, fd, R_FD_SEEK, out) : e;
}

static uint16_t wasi_fd_seek(th_wasi *w, const wasi_mem *m, const th_wasm_val *a)
{
    static const int whence[] = {SEEK_SET, SEEK_CUR, SEEK_END};
    uint32_t fd = (uint32_t)a[0].i32, wh = (uint32_t)a[2].i32, outp = (uint32_t)a[3].i32;
    wasi_fd *f;
    off_t pos;
    uint16_t e;

    /* a seek by 0 from the current position only tells the offset */
    if (a[1].i64 == 0 && wh == 1)
        e = tell_right(w, fd, &f);
    else
        e = wasm_wasi_fd_get(w, fd, R_FD_SEEK, &f);
    if (e != E_SUCCESS)
        return e;
    if (wh > 2)
        return E_INVAL;
    if (!mem_ok(m, outp, 8))
        return E_FAULT;
    pos = lseek(f->host, (off_t)a[1].i64, whence[wh]);
    if (pos < 0)
        return host_errno();
    put_u64(m->base + outp, (uint64_t)pos);
    return E_SUCCESS;
}

static uint16_t wasi_fd_tell(th_wasi *w, const wasi_mem *m, const th_wasm_val *a)
{
    wasi_fd *f;
    off_t pos;
    uint16_t e;

    if ((e = tell_right(w, (uint32_t)a[0].i32, &f)) != E_SUCCESS)
        return e;
    if (!mem_ok(m, (uint32_t)a[1].i32, 8))
        return E_FAULT;
    pos = lseek(f->host, 0, SEEK_CUR);
    if (pos < 0)
        return host_errno();
    return out_u64(m, (uint32_t)a[1].i32, (uint64_t)pos);
}

/* ------------------------------------------------------------------ */
/* Descriptor operations                                              */

static uint16_t wasi_fd_close(th_wasi *w, const wasi_mem *m, const th_wasm_val *a)
{
    wasi_fd *f = wasm_wasi_fd(w, (uint32_t)a[0].i32);

    if (f == NULL)
        return E_BADF;
    wasm_wasi_fd_release(f);
    return E_SUCCESS;
}

static uint16_t wasi_fd_renumber(th_wasi *w, const wasi_mem *m, const th_wasm_val *a)
{
    wasi_fd *from = wasm_wasi_fd(w, (uint32_t)a[0].i32);
    wasi_fd *to = wasm_wasi_fd(w, (uint32_t)a[1].i32);

    if (from == NULL || to == NULL)
        return E_BADF;
    if (from == to)
        return E_SUCCESS;
    wasm_wasi_fd_release(to);
    *to = *from;
    memset(from, 0, sizeof *from);
    from->host = -1;
    return E_SUCCESS;
}

static uint16_t wasi_fd_fdstat_get(th_wasi *w, const wasi_mem *m, const th_wasm_val *a)
{
    wasi_fd *f = wasm_wasi_fd(w, (uint32_t)a[0].i32);
    uint32_t outp = (uint32_t)a[1].i32;
    uint16_t flags = 0;
    uint8_t *p;
    int fl;

    if (f == NULL)
        return E_BADF;
    if (!mem_ok(m, outp, 24))
        return E_FAULT;
    fl = fcntl(f->host, F_GETFL);
    if (fl < 0)
        return host_errno();
    if (fl & O_APPEND)
        flags |= FDFL_APPEND;
    if (fl & O_NONBLOCK)
        flags |= FDFL_NONBLOCK;
    if ((fl & O_SYNC) == O_SYNC)
        flags |= FDFL_SYNC | FDFL_RSYNC;
    else if (fl & O_DSYNC)
        flags |= FDFL_DSYNC;
    p = m->base + outp;
    memset(p, 0, 24);
    p[0] = f->type;
    put_u16(p + 2, flags);
    put_u64(p + 8, f->rights);
    put_u64(p + 16, f->inheriting);
    return E_SUCCESS;
}

static uint16_t wasi_fd_fdstat_set_flags(th_wasi *w, const wasi_mem *m, const th_wasm_val *a)
{
    wasi_fd *f;
    uint32_t want = (uint32_t)a[1].i32 & 0xffff;
    uint16_t e;
    int fl;

    if ((e = wasm_wasi_fd_get(w, (uint32_t)a[0].i32, R_FD_FDSTAT_SET_FLAGS, &f)) != E_SUCCESS)
        return e;
    if (want & (FDFL_DSYNC | FDFL_RSYNC | FDFL_SYNC))
        return E_NOTSUP; /* Linux cannot change these after open */
    fl = fcntl(f->host, F_GETFL);
    if (fl < 0)
        return host_errno();
    fl &= ~(O_APPEND | O_NONBLOCK);
    if (want & FDFL_APPEND)
        fl |= O_APPEND;
    if (want & FDFL_NONBLOCK)
        fl |= O_NONBLOCK;
    if (fcntl(f->host, F_SETFL, fl) != 0)
        return host_errno();
    return E_SUCCESS;
}

static uint16_t wasi_fd_fdstat_set_rights(th_wasi *w, const wasi_mem *m, const th_wasm_val *a)
{
    wasi_fd *f = wasm_wasi_fd(w, (uint32_t)a[0].i32);
    uint64_t base = (uint64_t)a[1].i64, inh = (uint64_t)a[2].i64;

    if (f == NULL)
        return E_BADF;
    if ((base & ~f->rights) || (inh & ~f->inheriting))
        return E_NOTCAPABLE; /* rights can only be dropped */
    f->rights = base;
    f->inheriting = inh;
    return E_SUCCESS;
}

static uint16_t wasi_fd_filestat_get(th_wasi *w, const wasi_mem *m, const th_wasm_val *a)
{
    wasi_fd *f;
    struct stat st;
    uint16_t e;

    if ((e = wasm_wasi_fd_get(w, (uint32_t)a[0].i32, R_FD_FILESTAT_GET, &f)) != E_SUCCESS)
        return e;
    if (fstat(f->host, &st) != 0)
        return host_errno();
    return wasm_wasi_out_filestat(m, (uint32_t)a[1].i32, &st);
}

static uint16_t wasi_fd_filestat_set_size(th_wasi *w, const wasi_mem *m, const th_wasm_val *a)
{
    wasi_fd *f;
    uint16_t e;

    if ((e = wasm_wasi_fd_get(w, (uint32_t)a[0].i32, R_FD_FILESTAT_SET_SIZE, &f)) != E_SUCCESS)
        return e;
    if (a[1].i64 < 0)
        return E_INVAL;
    if (ftruncate(f->host, (off_t)a[1].i64) != 0)
        return host_errno();
    return E_SUCCESS;
}

static uint16_t wasi_fd_advise(th_wasi *w, const wasi_mem *m, const th_wasm_val *a)
{
    static const int advice[] = {POSIX_FADV_NORMAL,   POSIX_FADV_SEQUENTIAL, POSIX_FADV_RANDOM,
                                 POSIX_FADV_WILLNEED, POSIX_FADV_DONTNEED,   POSIX_FADV_NOREUSE};
    wasi_fd *f;
    uint32_t adv = (uint32_t)a[3].i32;
    uint16_t e;

    if ((e = wasm_wasi_fd_get(w, (uint32_t)a[0].i32, R_FD_ADVISE, &f)) != E_SUCCESS)
        return e;
    if (adv > 5 || a[1].i64 < 0 || a[2].i64 < 0)
        return E_INVAL;
    return wasm_wasi_errno(posix_fadvise(f->host, (off_t)a[1].i64, (off_t)a[2].i64, advice[adv]));
}

static uint16_t wasi_fd_allocate(th_wasi *w, const wasi_mem *m, const th_wasm_val *a)
{
    wasi_fd *f;
    uint16_t e;

    if ((e = wasm_wasi_fd_get(w, (uint32_t)a[0].i32, R_FD_ALLOCATE, &f)) != E_SUCCESS)
        return e;
    if (a[1].i64 < 0 || a[2].i64 <= 0)
        return E_INVAL;
    return wasm_wasi_errno(posix_fallocate(f->host, (off_t)a[1].i64, (off_t)a[2].i64));
}

static uint16_t wasi_fd_sync(th_wasi *w, const wasi_mem *m, const th_wasm_val *a)
{
    wasi_fd *f;
    uint16_t e;

    if ((e = wasm_wasi_fd_get(w, (uint32_t)a[0].i32, R_FD_SYNC, &f)) != E_SUCCESS)
        return e;
    return fsync(f->host) == 0 ? E_SUCCESS : host_errno();
}

static uint16_t wasi_fd_datasync(th_wasi *w, const wasi_mem *m, const th_wasm_val *a)
{
    wasi_fd *f;
    uint16_t e;

    if ((e = wasm_wasi_fd_get(w, (uint32_t)a[0].i32, R_FD_DATASYNC, &f)) != E_SUCCESS)
        return e;
    return fdatasync(f->host) == 0 ? E_SUCCESS : host_errno();
}

static uint16_t wasi_fd_prestat_get(th_wasi *w, const wasi_mem *m, const th_wasm_val *a)
{
    wasi_fd *f = wasm_wasi_fd(w, (uint32_t)a[0].i32);
    uint32_t outp = (uint32_t)a[1].i32;

    if (f == NULL || f->preopen == NULL)
        return E_BADF;
    if (!mem_ok(m, outp, 8))
        return E_FAULT;
    memset(m->base + outp, 0, 8); /* tag 0 = directory */
    put_u32(m->base + outp + 4, (uint32_t)strlen(f->preopen));
    return E_SUCCESS;
}

static uint16_t wasi_fd_prestat_dir_name(th_wasi *w, const wasi_mem *m, const th_wasm_val *a)
{
    wasi_fd *f = wasm_wasi_fd(w, (uint32_t)a[0].i32);
    uint32_t ptr = (uint32_t)a[1].i32, len = (uint32_t)a[2].i32;
    size_t n;

    if (f == NULL || f->preopen == NULL)
        return E_BADF;
    n = strlen(f->preopen);
    if (len < n)
        return E_NAMETOOLONG;
    if (!mem_ok(m, ptr, n))
        return E_FAULT;
    memcpy(m->base + ptr, f->preopen, n);
    return E_SUCCESS;
}

/* ------------------------------------------------------------------ */
/* poll_oneoff                                                        */

static uint64_t now_ns(clockid_t c)
{
    struct timespec ts;

    clock_gettime(c, &ts);
    return ts_ns(ts);
}

/* One subscription being waited on. */
typedef struct wasi_sub {
    uint64_t userdata;
    uint8_t type;      /* 0 clock, 1 fd_read, 2 fd_write */
    uint16_t error;    /* set: reported at once, without waiting */
    clockid_t clock;   /* clock subscriptions */
    uint64_t deadline; /* absolute, on `clock` */
    int pfd;           /* index into the pollfd array, or -1 */
} wasi_sub;

/* Decode subscription `i` at `p` into `s`, adding a pollfd if needed. */
static void sub_decode(th_wasi *w, const uint8_t *p, wasi_sub *s, struct pollfd *pfds,
                       nfds_t *npfds)
{
    memset(s, 0, sizeof *s);
    s->userdata = get_u64(p);
    s->type = p[8];
    s->pfd = -1;
    if (s->type == 0) {
        uint64_t timeout = get_u64(p + 24);
        if (!clock_of(get_u32(p + 16), &s->clock)) {
            s->error = E_INVAL;
            return;
        }
        if (get_u16(p + 40) & 1u) /* absolute time */
            s->deadline = timeout;
        else {
            uint64_t now = now_ns(s->clock);
            s->deadline = timeout > UINT64_MAX - now ? UINT64_MAX : now + timeout;
        }
    } else if (s->type == 1 || s->type == 2) {
        /* poll_fd_readwrite, with fd_read or fd_write as the event asks */
        wasi_fd *f;
        uint64_t need = R_POLL_FD_READWRITE | (s->type == 1 ? R_FD_READ : R_FD_WRITE);
        uint16_t e = wasm_wasi_fd_get(w, get_u32(p + 16), need, &f);
        if (e != E_SUCCESS) {
            s->error = e;
            return;
        }
        s->pfd = (int)*npfds;
        pfds[*npfds].fd = f->host;
        pfds[*npfds].events = s->type == 1 ? POLLIN : POLLOUT;
        pfds[*npfds].revents = 0;
        (*npfds)++;
    } else {
        s->error = E_INVAL;
    }
}

/* Fill event `ev` (32 bytes) for `s`; true if the subscription fired. */
static bool sub_event(const wasi_sub *s, const struct pollfd *pfds, uint8_t *ev)
{
    int avail = 0;

    if (s->error == 0) {
        if (s->type == 0 && now_ns(s->clock) < s->deadline)
            return false;
        if (s->type != 0 && pfds[s->pfd].revents == 0)
            return false;
    }
    memset(ev, 0, EVENT_SIZE);
    put_u64(ev, s->userdata);
    put_u16(ev + 8, s->error);
    ev[10] = s->type;
    if (s->type != 0 && s->error == 0) {
        if (s->type == 1 && ioctl(pfds[s->pfd].fd, FIONREAD, &avail) == 0 && avail > 0)
            put_u64(ev + 16, (uint64_t)avail);
        if (pfds[s->pfd].revents & POLLHUP)
            put_u16(ev + 24, 1); /* fd_readwrite_hangup */
    }
    return true;
}

/*
 * poll_oneoff(in, out, nsubscriptions, nevents): wait until at least one
 * subscription fires (clocks: deadline reached; fds: poll() readiness), then
 * report every one that has.  Blocks the calling thread.
 */
static uint16_t wasi_poll_oneoff(th_wasi *w, const wasi_mem *m, const th_wasm_val *a)
{
    uint32_t in = (uint32_t)a[0].i32, out = (uint32_t)a[1].i32;
    uint32_t n = (uint32_t)a[2].i32, outn = (uint32_t)a[3].i32, nev = 0;
    wasi_sub *subs = NULL;
    struct pollfd *pfds = NULL;
    nfds_t npfds = 0;
    uint16_t e = E_SUCCESS;
    bool immediate = false;

    if (n == 0 || n > TH_WASI_MAX_SUBSCRIPTIONS)
        return E_INVAL;
    if (!mem_ok(m, in, (uint64_t)n * SUB_SIZE) || !mem_ok(m, out, (uint64_t)n * EVENT_SIZE) ||
        !mem_ok(m, outn, 4))
        return E_FAULT;
    subs = malloc(n * sizeof *subs);
    pfds = malloc(n * sizeof *pfds);
    if (subs == NULL || pfds == NULL) {
        e = E_NOMEM;
        goto out;
    }
    for (uint32_t i = 0; i < n; i++) {
        sub_decode(w, m->base + in + SUB_SIZE * i, &subs[i], pfds, &npfds);
        immediate |= subs[i].error != 0;
    }
    for (;;) {
        struct timespec ts, *tsp = NULL;
        uint64_t wait = UINT64_MAX;
        int r;

        for (uint32_t i = 0; i < n; i++) {
            if (subs[i].type != 0 || subs[i].error != 0)
                continue;
            uint64_t now = now_ns(subs[i].clock);
            uint64_t left = subs[i].deadline > now ? subs[i].deadline - now : 0;
            if (left < wait)
                wait = left;
        }
        if (immediate)
            wait = 0;
        if (wait != UINT64_MAX) {
            ts.tv_sec = (time_t)(wait / 1000000000ull);
            ts.tv_nsec = (long)(wait % 1000000000ull);
            tsp = &ts;
        }
        r = ppoll(pfds, npfds, tsp, NULL);
        if (r < 0 && errno != EINTR) {
            e = host_errno();
            goto out;
        }
        for (uint32_t i = 0; i < n; i++)
            if (sub_event(&subs[i], pfds, m->base + out + EVENT_SIZE * nev))
                nev++;
        if (nev > 0)
            break;
    }
    put_u32(m->base + outn, nev);
out:
    free(subs);
    free(pfds);
    return e;
}

/* ------------------------------------------------------------------ */
/* Registration                                                       */

static const wasi_spec wasi_specs[WASI_NSPECS] = {
    {"args_get", "ii>i", wasi_args_get},
    {"args_sizes_get", "ii>i", wasi_args_sizes_get},
    {"environ_get", "ii>i", wasi_environ_get},
    {"environ_sizes_get", "ii>i", wasi_environ_sizes_get},
    {"clock_res_get", "ii>i", wasi_clock_res_get},
    {"clock_time_get", "iIi>i", wasi_clock_time_get},
    {"fd_advise", "iIIi>i", wasi_fd_advise},
    {"fd_allocate", "iII>i", wasi_fd_allocate},
    {"fd_close", "i>i", wasi_fd_close},
    {"fd_datasync", "i>i", wasi_fd_datasync},
    {"fd_fdstat_get", "ii>i", wasi_fd_fdstat_get},
    {"fd_fdstat_set_flags", "ii>i", wasi_fd_fdstat_set_flags},
    {"fd_fdstat_set_rights", "iII>i", wasi_fd_fdstat_set_rights},
    {"fd_filestat_get", "ii>i", wasi_fd_filestat_get},
    {"fd_filestat_set_size", "iI>i", wasi_fd_filestat_set_size},
    {"fd_filestat_set_times", "iIIi>i", wasm_wasi_fd_filestat_set_times},
    {"fd_pread", "iiiIi>i", wasi_fd_pread},
    {"fd_prestat_get", "ii>i", wasi_fd_prestat_get},
    {"fd_prestat_dir_name", "iii>i", wasi_fd_prestat_dir_name},
    {"fd_pwrite", "iiiIi>i", wasi_fd_pwrite},
    {"fd_read", "iiii>i", wasi_fd_read},
    {"fd_readdir", "iiiIi>i", wasm_wasi_fd_readdir},
    {"fd_renumber", "ii>i", wasi_fd_renumber},
    {"fd_seek", "iIii>i", wasi_fd_seek},
    {"fd_sync", "i>i", wasi_fd_sync},
    {"fd_tell", "ii>i", wasi_fd_tell},
    {"fd_write", "iiii>i", wasi_fd_write},
    {"path_create_directory", "iii>i", wasm_wasi_path_create_directory},
    {"path_filestat_get", "iiiii>i", wasm_wasi_path_filestat_get},
    {"path_filestat_set_times", "iiiiIIi>i", wasm_wasi_path_filestat_set_times},
    {"path_link", "iiiiiii>i", wasm_wasi_path_link},
    {"path_open", "iiiiiIIii>i", wasm_wasi_path_open},
    {"path_readlink", "iiiiii>i", wasm_wasi_path_readlink},
    {"path_remove_directory", "iii>i", wasm_wasi_path_remove_directory},
    {"path_rename", "iiiiii>i", wasm_wasi_path_rename},
    {"path_symlink", "iiiii>i", wasm_wasi_path_symlink},
    {"path_unlink_file", "iii>i", wasm_wasi_path_unlink_file},
    {"poll_oneoff", "iiii>i", wasi_poll_oneoff},
    {"proc_raise", "i>i", wasi_nosys},
    {"random_get", "ii>i", wasi_random_get},
    {"sched_yield", ">i", wasi_sched_yield},
    {"sock_accept", "iii>i", wasi_nosys},
    {"sock_recv", "iiiiii>i", wasi_nosys},
    {"sock_send", "iiiii>i", wasi_nosys},
    {"sock_shutdown", "ii>i", wasi_nosys},
};

/* The host function behind every entry of wasi_specs: run the entry with
 * the caller's memory and return its errno as the i32 result. */
static int wasi_host(th_wasm_call *call, void *ctx, const th_wasm_val *args, th_wasm_val *results)
{
    static uint8_t no_memory;
    wasi_binding *b = ctx;
    wasi_mem m;

    m.base = th_wasm_call_memory(call, &m.size);
    if (m.base == NULL) {
        m.base = &no_memory;
        m.size = 0;
    }
    results[0].i32 = wasi_specs[b->idx].fn(b->w, &m, args);
    return TH_OK;
}

/* proc_exit(code): record the code and unwind the call with a trap. */
static int wasi_proc_exit(th_wasm_call *call, void *ctx, const th_wasm_val *args,
                          th_wasm_val *results)
{
    th_wasi *w = ctx;

    w->exited = true;
    w->exit_code = (uint32_t)args[0].i32;
    return th_wasm_call_trap(call, "proc_exit(%u)", w->exit_code);
}

int th_wasi_add_to_imports(th_wasi *w, th_wasm_imports *imp, th_error *err)
{
    int rc;

    for (uint32_t i = 0; i < WASI_NSPECS; i++) {
        rc = th_wasm_imports_add_func(imp, TH_WASI_MODULE, wasi_specs[i].name, wasi_specs[i].sig,
                                      wasi_host, &w->bindings[i]);
        if (rc != TH_OK)
            return th_error_set(err, rc, "cannot bind %s.%s", TH_WASI_MODULE, wasi_specs[i].name);
    }
    rc = th_wasm_imports_add_func(imp, TH_WASI_MODULE, "proc_exit", "i>", wasi_proc_exit, w);
    if (rc != TH_OK)
        return th_error_set(err, rc, "cannot bind %s.proc_exit", TH_WASI_MODULE);
    return TH_OK;
}

bool th_wasi_exit_code(const th_wasi *w, uint32_t *code)
{
    if (!w->exited)
        return false;
    *code = w->exit_code;
    return true;
}

/* ------------------------------------------------------------------ */
/* Context                                                            */

void th_wasi_config_init(th_wasi_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->stdin_fd = 0;
    cfg->stdout_fd = 1;
    cfg->stderr_fd = 2;
}

/* Pack `n` strings into one buffer of NUL-terminated strings. */
static int pack_strings(const char *const *v, size_t n, char **buf, uint32_t *count, uint32_t *len,
                        th_error *err)
{
    size_t total = 0, off = 0;

    if (n > TH_WASI_MAX_ARGS_BYTES)
        return th_error_set(err, TH_ETOOBIG, "too many arguments");
    for (size_t i = 0; i < n; i++) {
        total += strlen(v[i]) + 1;
        if (total > TH_WASI_MAX_ARGS_BYTES)
            return th_error_set(err, TH_ETOOBIG, "arguments or environment above %u bytes",
                                TH_WASI_MAX_ARGS_BYTES);
    }
    *buf = malloc(total ? total : 1);
    if (*buf == NULL)
        return th_error_set(err, TH_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(v[i]) + 1;
        memcpy(*buf + off, v[i], l);
        off += l;
    }
    *count = (uint32_t)n;
    *len = (uint32_t)total;
    return TH_OK;
}

/* Install borrowed host descriptor `host` as guest fd `slot` (stdio) with
 * `rights` (R_STDIN or R_STDOUT).  The host file behind it may be one the
 * guest must not otherwise touch (`>> log`): it gets no seek or tell, so
 * its writes land where the host's offset (or O_APPEND) puts them, and
 * nothing that truncates, reallocates or re-times it.  wasi-libc's
 * isatty() (a character device without seek and tell rights) then holds
 * for a terminal and not for a file or pipe, by the file type. */
static void add_stdio(th_wasi *w, uint32_t slot, int host, uint64_t rights)
{
    wasi_fd *f = &w->fds[slot];
    struct stat st;

    if (host < 0 || fstat(host, &st) != 0)
        return;
    f->host = host;
    f->borrowed = true;
    f->type = wasm_wasi_filetype(st.st_mode);
    f->rights = rights;
    f->inheriting = 0;
}

static int add_preopen(th_wasi *w, const th_wasi_dir *d, th_error *err)
{
    uint32_t slot;
    size_t gl;
    wasi_fd *f;
    int hfd;

    if (d->host == NULL || d->guest == NULL || d->guest[0] == 0)
        return th_error_set(err, TH_EINVAL, "preopened directory needs a host and a guest path");
    if (wasm_wasi_fd_alloc(w, &slot) != E_SUCCESS)
        return th_error_set(err, TH_ENOMEM, "too many descriptors");
    hfd = open(d->host, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (hfd < 0)
        return th_error_set(err, errno == ENOENT ? TH_ENOENT : TH_EIO,
                            "cannot open directory %s: %s", d->host, strerror(errno));
    f = &w->fds[slot];
    f->preopen = strdup(d->guest);
    if (f->preopen == NULL) {
        close(hfd);
        return th_error_set(err, TH_ENOMEM, "out of memory");
    }
    gl = strlen(f->preopen);
    while (gl > 1 && f->preopen[gl - 1] == '/')
        f->preopen[--gl] = 0;
    f->host = hfd;
    f->type = FT_DIR;
    f->rights = R_DIR;
    f->inheriting = R_ALL;
    return TH_OK;
}

int th_wasi_new(const th_wasi_config *cfg, th_wasi **out, th_error *err)
{
    th_wasi *w;
    uint32_t slot;
    int rc;

    *out = NULL;
    w = calloc(1, sizeof *w);
    if (w == NULL)
        return th_error_set(err, TH_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < WASI_NSPECS; i++) {
        w->bindings[i].w = w;
        w->bindings[i].idx = i;
    }
    rc = pack_strings(cfg->argv, cfg->argc, &w->args, &w->argc, &w->args_len, err);
    if (rc == TH_OK)
        rc = pack_strings(cfg->env, cfg->nenv, &w->env, &w->nenv, &w->env_len, err);
    if (rc != TH_OK)
        goto fail;
    /* Slots 0..2 are stdio (reserved while the preopens take 3, 4...). */
    for (uint32_t i = 0; i < 3; i++) {
        if (wasm_wasi_fd_alloc(w, &slot) != E_SUCCESS) {
            rc = th_error_set(err, TH_ENOMEM, "out of memory");
            goto fail;
        }
        w->fds[slot].host = -2;
    }
    for (size_t i = 0; i < cfg->ndirs; i++) {
        rc = add_preopen(w, &cfg->dirs[i], err);
        if (rc != TH_OK)
            goto fail;
    }
    for (uint32_t i = 0; i < 3; i++)
        w->fds[i].host = -1;
    add_stdio(w, 0, cfg->stdin_fd, R_STDIN);
    add_stdio(w, 1, cfg->stdout_fd, R_STDOUT);
    add_stdio(w, 2, cfg->stderr_fd, R_STDOUT);
    *out = w;
    return TH_OK;
fail:
    th_wasi_free(w);
    return rc;
}

void th_wasi_free(th_wasi *w)
{
    if (w == NULL)
        return;
    for (uint32_t i = 0; i < w->nfds; i++)
        if (w->fds[i].host >= 0)
            wasm_wasi_fd_release(&w->fds[i]);
    free(w->fds);
    free(w->args);
    free(w->env);
    free(w);
}
