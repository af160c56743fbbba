/*
 * wasi_int.h - internals shared by the WASI layer's files: wasi.c (context,
 * registration, args, environment, clocks, random, descriptors, polling)
 * and wasi_fs.c (path resolution inside preopened directories, the path_*
 * calls, fd_readdir).  See include/theater/wasi.h for the contract.
 *
 * Every implementation function has the shape
 *     uint16_t f(th_wasi *w, const wasi_mem *m, const th_wasm_val *args)
 * and returns a WASI errno; guest memory is only touched through ranges
 * checked with mem_ok(), in little-endian byte order.
 */
#ifndef THEATER_WASM_WASI_INT_H
#define THEATER_WASM_WASI_INT_H

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include "theater/wasi.h"
#include "base/limits.h"

/* ------------------------------------------------------------------ */
/* WASI constants (wasi_snapshot_preview1 witx)                       */

enum {
    E_SUCCESS = 0,
    E_2BIG = 1,
    E_ACCES = 2,
    E_AGAIN = 6,
    E_BADF = 8,
    E_BUSY = 10,
    E_DQUOT = 19,
    E_EXIST = 20,
    E_FAULT = 21,
    E_FBIG = 22,
    E_INTR = 27,
    E_INVAL = 28,
    E_IO = 29,
    E_ISDIR = 31,
    E_LOOP = 32,
    E_MFILE = 33,
    E_MLINK = 34,
    E_NAMETOOLONG = 37,
    E_NFILE = 41,
    E_NODEV = 43,
    E_NOENT = 44,
    E_NOMEM = 48,
    E_NOSPC = 51,
    E_NOSYS = 52,
    E_NOTDIR = 54,
    E_NOTEMPTY = 55,
    E_NOTSUP = 58,
    E_NOTTY = 59,
    E_NXIO = 60,
    E_OVERFLOW = 61,
    E_PERM = 63,
    E_PIPE = 64,
    E_RANGE = 68,
    E_ROFS = 69,
    E_SPIPE = 70,
    E_TXTBSY = 74,
    E_XDEV = 75,
    E_NOTCAPABLE = 76,
};

enum {
    FT_UNKNOWN = 0,
    FT_BLOCK = 1,
    FT_CHAR = 2,
    FT_DIR = 3,
    FT_REG = 4,
    FT_SOCK_DGRAM = 5,
    FT_SOCK_STREAM = 6,
    FT_SYMLINK = 7,
};

/* Rights (rights_base / rights_inheriting of an fd). */
#define R_FD_DATASYNC (1ull << 0)
#define R_FD_READ (1ull << 1)
#define R_FD_SEEK (1ull << 2)
#define R_FD_FDSTAT_SET_FLAGS (1ull << 3)
#define R_FD_SYNC (1ull << 4)
#define R_FD_TELL (1ull << 5)
#define R_FD_WRITE (1ull << 6)
#define R_FD_ADVISE (1ull << 7)
#define R_FD_ALLOCATE (1ull << 8)
#define R_PATH_CREATE_DIRECTORY (1ull << 9)
#define R_PATH_CREATE_FILE (1ull << 10)
#define R_PATH_LINK_SOURCE (1ull << 11)
#define R_PATH_LINK_TARGET (1ull << 12)
#define R_PATH_OPEN (1ull << 13)
#define R_FD_READDIR (1ull << 14)
#define R_PATH_READLINK (1ull << 15)
#define R_PATH_RENAME_SOURCE (1ull << 16)
#define R_PATH_RENAME_TARGET (1ull << 17)
#define R_PATH_FILESTAT_GET (1ull << 18)
#define R_PATH_FILESTAT_SET_SIZE (1ull << 19)
#define R_PATH_FILESTAT_SET_TIMES (1ull << 20)
#define R_FD_FILESTAT_GET (1ull << 21)
#define R_FD_FILESTAT_SET_SIZE (1ull << 22)
#define R_FD_FILESTAT_SET_TIMES (1ull << 23)
#define R_PATH_SYMLINK (1ull << 24)
#define R_PATH_REMOVE_DIRECTORY (1ull << 25)
#define R_PATH_UNLINK_FILE (1ull << 26)
#define R_POLL_FD_READWRITE (1ull << 27)
#define R_ALL ((1ull << 30) - 1)

/* What the standard descriptors may do: stdin is read, stdout and stderr
 * are written at their current end, and nothing else changes the host
 * file behind them (no seek, tell, pread/pwrite, truncation, timestamps,
 * allocation, advice, sync or flag changes).  Their metadata may be read. */
#define R_STDIN (R_FD_READ | R_FD_FILESTAT_GET | R_POLL_FD_READWRITE)
#define R_STDOUT (R_FD_WRITE | R_FD_FILESTAT_GET | R_POLL_FD_READWRITE)
/* A preopened directory: the path operations and what applies to a
 * directory itself; the files and directories opened below it may get
 * any right (R_ALL inheriting), each as path_open asks. */
#define R_DIR \
    (R_PATH_CREATE_DIRECTORY | R_PATH_CREATE_FILE | R_PATH_LINK_SOURCE | R_PATH_LINK_TARGET | \
     R_PATH_OPEN | R_FD_READDIR | R_PATH_READLINK | R_PATH_RENAME_SOURCE | R_PATH_RENAME_TARGET | \
     R_PATH_FILESTAT_GET | R_PATH_FILESTAT_SET_SIZE | R_PATH_FILESTAT_SET_TIMES | \
     R_FD_FILESTAT_GET | R_FD_FILESTAT_SET_TIMES | R_PATH_SYMLINK | R_PATH_REMOVE_DIRECTORY | \
     R_PATH_UNLINK_FILE | R_FD_FDSTAT_SET_FLAGS | R_FD_SYNC | R_FD_DATASYNC)

#define FDFL_APPEND 1u
#define FDFL_DSYNC 2u
#define FDFL_NONBLOCK 4u
#define FDFL_RSYNC 8u
#define FDFL_SYNC 16u

#define OFL_CREAT 1u
#define OFL_DIRECTORY 2u
#define OFL_EXCL 4u
#define OFL_TRUNC 8u

#define LOOKUP_FOLLOW 1u

#define FST_ATIM 1u
#define FST_ATIM_NOW 2u
#define FST_MTIM 4u
#define FST_MTIM_NOW 8u

#define SUB_SIZE 48u   /* sizeof(subscription) */
#define EVENT_SIZE 32u /* sizeof(event) */
#define DIRENT_SIZE 24u
#define FILESTAT_SIZE 64u

/* ------------------------------------------------------------------ */
/* Context                                                            */

typedef struct wasi_fd {
    int host;      /* host descriptor; -1 = free slot */
    uint8_t type;  /* FT_* */
    bool borrowed; /* stdio of the embedder: never closed by us */
    char *preopen; /* guest name if a preopened directory (owned) */
    uint64_t rights, inheriting;
    DIR *dir; /* fd_readdir stream on a dup of host (owned) */
} wasi_fd;

typedef struct wasi_binding {
    th_wasi *w;
    uint32_t idx; /* into wasi_specs[] */
} wasi_binding;

/* Guest memory as seen by one host call. */
typedef struct wasi_mem {
    uint8_t *base;
    uint64_t size;
} wasi_mem;

typedef uint16_t (*wasi_impl)(th_wasi *w, const wasi_mem *m, const th_wasm_val *a);

typedef struct wasi_spec {
    const char *name;
    const char *sig;
    wasi_impl fn;
} wasi_spec;

#define WASI_NSPECS 45u

struct th_wasi {
    char *args; /* argc NUL-terminated strings back to back (owned) */
    uint32_t argc, args_len;
    char *env; /* likewise for "K=V" entries (owned) */
    uint32_t nenv, env_len;
    wasi_fd *fds; /* nfds slots (owned) */
    uint32_t nfds;
    bool exited;
    uint32_t exit_code;
    wasi_binding bindings[WASI_NSPECS];
};

/* ------------------------------------------------------------------ */
/* Guest memory access                                                */

static inline bool mem_ok(const wasi_mem *m, uint64_t ptr, uint64_t len)
{
    return ptr <= m->size && len <= m->size - ptr;
}

static inline void put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static inline void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint16_t get_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t get_u64(const uint8_t *p)
{
    return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

/* Store a u32 result at guest address `ptr`; E_FAULT if out of bounds. */
static inline uint16_t out_u32(const wasi_mem *m, uint32_t ptr, uint32_t v)
{
    if (!mem_ok(m, ptr, 4))
        return E_FAULT;
    put_u32(m->base + ptr, v);
    return E_SUCCESS;
}

static inline uint16_t out_u64(const wasi_mem *m, uint32_t ptr, uint64_t v)
{
    if (!mem_ok(m, ptr, 8))
        return E_FAULT;
    put_u64(m->base + ptr, v);
    return E_SUCCESS;
}

static inline uint64_t ts_ns(struct timespec ts)
{
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ------------------------------------------------------------------ */
/* Shared functions                                                   */

/* wasi.c */
uint16_t wasm_wasi_errno(int e);
wasi_fd *wasm_wasi_fd(th_wasi *w, uint32_t fd);
/* The open descriptor `fd` into *out if its rights_base holds every right
 * of `need`; E_BADF if it is not open, E_NOTCAPABLE if a right is
 * missing. */
uint16_t wasm_wasi_fd_get(th_wasi *w, uint32_t fd, uint64_t need, wasi_fd **out);
/* Find a free slot (lowest number), growing the table; E_MFILE at the
 * limit.  The slot comes back cleared with host = -1.  The table may move:
 * pointers from wasm_wasi_fd() are stale afterwards. */
uint16_t wasm_wasi_fd_alloc(th_wasi *w, uint32_t *out);
void wasm_wasi_fd_release(wasi_fd *f);
uint8_t wasm_wasi_filetype(mode_t mode);
/* Write a filestat (64 bytes) for `st` at guest address `ptr`. */
uint16_t wasm_wasi_out_filestat(const wasi_mem *m, uint32_t ptr, const struct stat *st);

/* The WASI errno for the current host errno. */
static inline uint16_t host_errno(void)
{
    return wasm_wasi_errno(errno);
}

/* wasi_fs.c: implementations of the filesystem calls. */
uint16_t wasm_wasi_fd_readdir(th_wasi *w, const wasi_mem *m, const th_wasm_val *a);
uint16_t wasm_wasi_fd_filestat_set_times(th_wasi *w, const wasi_mem *m, const th_wasm_val *a);
uint16_t wasm_wasi_path_open(th_wasi *w, const wasi_mem *m, const th_wasm_val *a);
uint16_t wasm_wasi_path_filestat_get(th_wasi *w, const wasi_mem *m, const th_wasm_val *a);
uint16_t wasm_wasi_path_filestat_set_times(th_wasi *w, const wasi_mem *m, const th_wasm_val *a);
uint16_t wasm_wasi_path_create_directory(th_wasi *w, const wasi_mem *m, const th_wasm_val *a);
uint16_t wasm_wasi_path_remove_directory(th_wasi *w, const wasi_mem *m, const th_wasm_val *a);
uint16_t wasm_wasi_path_unlink_file(th_wasi *w, const wasi_mem *m, const th_wasm_val *a);
uint16_t wasm_wasi_path_rename(th_wasi *w, const wasi_mem *m, const th_wasm_val *a);
uint16_t wasm_wasi_path_link(th_wasi *w, const wasi_mem *m, const th_wasm_val *a);
uint16_t wasm_wasi_path_symlink(th_wasi *w, const wasi_mem *m, const th_wasm_val *a);
uint16_t wasm_wasi_path_readlink(th_wasi *w, const wasi_mem *m, const th_wasm_val *a);

#endif
