/*
 * test_wasm_wasi.c - unit tests of the WASI preview1 layer (src/wasm/wasi*.c).
 *
 * Each test instantiates a module, assembled here byte by byte, that
 * imports every wasi_snapshot_preview1 function (with the signatures
 * wasi-libc uses) and exports a wrapper calling it, plus its memory.  The
 * test writes arguments into that memory, calls the wrappers through the
 * engine and checks errnos, memory contents and host effects (files in a
 * temporary preopened directory, pipes for stdio).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "theater/wasi.h"
#include "theater/wasm.h"
#include "wasm_bytes.h"

/* WASI errnos used below. */
enum {
    E_SUCCESS = 0,
    E_BADF = 8,
    E_EXIST = 20,
    E_FAULT = 21,
    E_INVAL = 28,
    E_ISDIR = 31,
    E_LOOP = 32,
    E_NOENT = 44,
    E_NOSYS = 52,
    E_NOTDIR = 54,
    E_NOTEMPTY = 55,
    E_SPIPE = 70,
    E_NOTCAPABLE = 76,
};

/* Rights (wasi_snapshot_preview1 witx). */
#define R_DATASYNC (1ull << 0)
#define R_READ (1ull << 1)
#define R_SEEK (1ull << 2)
#define R_FDSTAT_SET_FLAGS (1ull << 3)
#define R_SYNC (1ull << 4)
#define R_TELL (1ull << 5)
#define R_WRITE (1ull << 6)
#define R_ADVISE (1ull << 7)
#define R_ALLOCATE (1ull << 8)
#define R_PATH_CREATE_DIRECTORY (1ull << 9)
#define R_PATH_CREATE_FILE (1ull << 10)
#define R_PATH_OPEN (1ull << 13)
#define R_READDIR (1ull << 14)
#define R_PATH_FILESTAT_GET (1ull << 18)
#define R_PATH_FILESTAT_SET_SIZE (1ull << 19)
#define R_FILESTAT_GET (1ull << 21)
#define R_FILESTAT_SET_SIZE (1ull << 22)
#define R_FILESTAT_SET_TIMES (1ull << 23)
#define R_PATH_UNLINK_FILE (1ull << 26)
#define R_POLL (1ull << 27)
#define R_ALL ((1ull << 30) - 1)
#define R_RW (R_READ | R_WRITE | R_SEEK | R_TELL)
/* What wasi-libc asks for a file opened O_RDWR (its maximum, masked by a
 * preopen's inheriting rights) */
#define R_FILE \
    (R_RW | R_DATASYNC | R_FDSTAT_SET_FLAGS | R_SYNC | R_ADVISE | R_ALLOCATE | R_FILESTAT_GET | \
     R_FILESTAT_SET_SIZE | R_FILESTAT_SET_TIMES | R_POLL)

/* Every preview1 import, with wasi-libc's signatures. */
static const struct {
    const char *name, *sig;
} funcs[] = {
    {"args_get", "ii>i"},
    {"args_sizes_get", "ii>i"},
    {"environ_get", "ii>i"},
    {"environ_sizes_get", "ii>i"},
    {"clock_res_get", "ii>i"},
    {"clock_time_get", "iIi>i"},
    {"fd_advise", "iIIi>i"},
    {"fd_allocate", "iII>i"},
    {"fd_close", "i>i"},
    {"fd_datasync", "i>i"},
    {"fd_fdstat_get", "ii>i"},
    {"fd_fdstat_set_flags", "ii>i"},
    {"fd_fdstat_set_rights", "iII>i"},
    {"fd_filestat_get", "ii>i"},
    {"fd_filestat_set_size", "iI>i"},
    {"fd_filestat_set_times", "iIIi>i"},
    {"fd_pread", "iiiIi>i"},
    {"fd_prestat_get", "ii>i"},
    {"fd_prestat_dir_name", "iii>i"},
    {"fd_pwrite", "iiiIi>i"},
    {"fd_read", "iiii>i"},
    {"fd_readdir", "iiiIi>i"},
    {"fd_renumber", "ii>i"},
    {"fd_seek", "iIii>i"},
    {"fd_sync", "i>i"},
    {"fd_tell", "ii>i"},
    {"fd_write", "iiii>i"},
    {"path_create_directory", "iii>i"},
    {"path_filestat_get", "iiiii>i"},
    {"path_filestat_set_times", "iiiiIIi>i"},
    {"path_link", "iiiiiii>i"},
    {"path_open", "iiiiiIIii>i"},
    {"path_readlink", "iiiiii>i"},
    {"path_remove_directory", "iii>i"},
    {"path_rename", "iiiiii>i"},
    {"path_symlink", "iiiii>i"},
    {"path_unlink_file", "iii>i"},
    {"poll_oneoff", "iiii>i"},
    {"proc_exit", "i>"},
    {"proc_raise", "i>i"},
    {"random_get", "ii>i"},
    {"sched_yield", ">i"},
    {"sock_accept", "iii>i"},
    {"sock_recv", "iiiiii>i"},
    {"sock_send", "iiiii>i"},
    {"sock_shutdown", "ii>i"},
};
#define NFUNCS (sizeof funcs / sizeof funcs[0])

/* ------------------------------------------------------------------ */
/* A tiny module assembler                                            */

static void name(wbuf *b, const char *s)
{
    uleb(b, (uint32_t)strlen(s));
    put(b, s, strlen(s));
}

static void section(wbuf *out, uint8_t id, wbuf *content)
{
    put8(out, id);
    uleb(out, (uint32_t)content->n);
    put(out, content->p, content->n);
    free(content->p);
    memset(content, 0, sizeof *content);
}

static uint8_t valtype(char c)
{
    return c == 'I' ? 0x7e : 0x7f;
}

/* The test module: func i imports funcs[i]; func NFUNCS + i wraps it and is
 * exported under the same name; memory (2 pages) exported as "memory". */
static uint8_t *build_module(size_t *len)
{
    wbuf out = {0}, s = {0};
    static const uint8_t header[] = {0, 'a', 's', 'm', 1, 0, 0, 0};

    put(&out, header, sizeof header);
    uleb(&s, NFUNCS); /* types: one per function */
    for (size_t i = 0; i < NFUNCS; i++) {
        const char *sig = funcs[i].sig, *gt = strchr(sig, '>');
        put8(&s, 0x60);
        uleb(&s, (uint32_t)(gt - sig));
        for (const char *c = sig; c < gt; c++)
            put8(&s, valtype(*c));
        uleb(&s, (uint32_t)strlen(gt + 1));
        for (const char *c = gt + 1; *c; c++)
            put8(&s, valtype(*c));
    }
    section(&out, 1, &s);
    uleb(&s, NFUNCS);
    for (size_t i = 0; i < NFUNCS; i++) {
        name(&s, "wasi_snapshot_preview1");
        name(&s, funcs[i].name);
        put8(&s, 0x00);
        uleb(&s, (uint32_t)i);
    }
    section(&out, 2, &s);
    uleb(&s, NFUNCS);
    for (size_t i = 0; i < NFUNCS; i++)
        uleb(&s, (uint32_t)i);
    section(&out, 3, &s);
    uleb(&s, 1); /* memory: min 2 pages, no max */
    put8(&s, 0x00);
    uleb(&s, 2);
    section(&out, 5, &s);
    uleb(&s, NFUNCS + 1);
    for (size_t i = 0; i < NFUNCS; i++) {
        name(&s, funcs[i].name);
        put8(&s, 0x00);
        uleb(&s, (uint32_t)(NFUNCS + i));
    }
    name(&s, "memory");
    put8(&s, 0x02);
    uleb(&s, 0);
    section(&out, 7, &s);
    uleb(&s, NFUNCS);
    for (size_t i = 0; i < NFUNCS; i++) {
        wbuf body = {0};
        uint32_t np = (uint32_t)(strchr(funcs[i].sig, '>') - funcs[i].sig);
        uleb(&body, 0); /* no locals */
        for (uint32_t p = 0; p < np; p++) {
            put8(&body, 0x20); /* local.get p */
            uleb(&body, p);
        }
        put8(&body, 0x10); /* call i */
        uleb(&body, (uint32_t)i);
        put8(&body, 0x0b);
        uleb(&s, (uint32_t)body.n);
        put(&s, body.p, body.n);
        free(body.p);
    }
    section(&out, 10, &s);
    *len = out.n;
    return out.p;
}

/* ------------------------------------------------------------------ */
/* Fixture                                                            */

typedef struct fx {
    th_wasi *wasi;
    th_wasm_imports *imp;
    th_wasm_module *mod;
    th_wasm_instance *inst;
    th_wasm_exec *ex;
    char dir[64];      /* host directory preopened as "/sandbox" (fd 3) */
    int in[2], out[2]; /* pipes behind guest stdin and stdout */
} fx;

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void host_write(const char *dir, const char *rel, const char *text)
{
    char path[256];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", dir, rel);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* A fixture whose guest stdin and stdout are the host descriptors `in_fd`
 * and `out_fd` (borrowed; stderr is `out_fd` too, as after `2>&1`), or
 * pipes (f->in, f->out) when they are -1 (stderr closed). */
static fx *fx_new_io(int in_fd, int out_fd)
{
    static const char *argv[] = {"prog", "first arg", "\xc3\xbc"};
    static const char *env[] = {"HOME=/nowhere", "EMPTY="};
    fx *f = calloc(1, sizeof *f);
    th_wasi_config cfg;
    th_wasi_dir dir;
    th_error err = {0};
    uint8_t *bytes;
    size_t len;

    assert_non_null(f);
    strcpy(f->dir, "/tmp/theater-wasi-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    assert_int_equal(pipe(f->in), 0);
    assert_int_equal(pipe(f->out), 0);
    th_wasi_config_init(&cfg);
    cfg.argv = argv;
    cfg.argc = 3;
    cfg.env = env;
    cfg.nenv = 2;
    dir.host = f->dir;
    dir.guest = "/sandbox";
    cfg.dirs = &dir;
    cfg.ndirs = 1;
    cfg.stderr_fd = out_fd < 0 ? -1 : out_fd;
    cfg.stdin_fd = in_fd < 0 ? f->in[0] : in_fd;
    cfg.stdout_fd = out_fd < 0 ? f->out[1] : out_fd;
    assert_int_equal(th_wasi_new(&cfg, &f->wasi, &err), TH_OK);
    f->imp = th_wasm_imports_new();
    assert_non_null(f->imp);
    assert_int_equal(th_wasi_add_to_imports(f->wasi, f->imp, &err), TH_OK);
    bytes = build_module(&len);
    if (th_wasm_module_new(bytes, len, &f->mod, &err) != TH_OK)
        fail_msg("module: %s", err.msg);
    free(bytes);
    if (th_wasm_instance_new(f->mod, f->imp, NULL, &f->inst, &err) != TH_OK)
        fail_msg("instance: %s", err.msg);
    f->ex = th_wasm_exec_new(NULL);
    assert_non_null(f->ex);
    return f;
}

static fx *fx_new(void)
{
    return fx_new_io(-1, -1);
}

static void fx_free(fx *f)
{
    th_wasm_exec_free(f->ex);
    th_wasm_instance_free(f->inst);
    th_wasm_imports_free(f->imp);
    th_wasm_module_free(f->mod);
    th_wasi_free(f->wasi);
    close(f->in[0]), close(f->in[1]);
    close(f->out[0]), close(f->out[1]);
    nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
}

static uint8_t *mem(fx *f, uint64_t *size)
{
    uint64_t sz;
    uint8_t *p = th_wasm_memory_data(th_wasm_instance_memory(f->inst, "memory"), &sz);
    if (size)
        *size = sz;
    return p;
}

/* Call wrapper `fn` with integer arguments (converted per its type);
 * returns the i32 result (the WASI errno). */
static int32_t wcall(fx *f, const char *fn, ...)
{
    th_wasm_func *func = th_wasm_instance_func(f->inst, fn);
    const th_wasm_functype *ft;
    th_wasm_val args[16], res[1];
    va_list ap;
    int rc;

    assert_non_null(func);
    ft = th_wasm_func_type(func);
    va_start(ap, fn);
    for (uint32_t i = 0; i < ft->nparams; i++) {
        int64_t v = va_arg(ap, int64_t);
        if (ft->types[i] == TH_WASM_I64)
            args[i].i64 = v;
        else
            args[i].i32 = (int32_t)v;
    }
    va_end(ap);
    rc = th_wasm_exec_call(f->ex, func, args, ft->nparams, res, ft->nresults);
    if (rc != TH_OK)
        fail_msg("%s: status %d (%s)", fn, rc,
                 rc == TH_WASM_TRAPPED ? th_wasm_exec_trap_message(f->ex) : "");
    return ft->nresults ? res[0].i32 : 0;
}

#define A(x) ((int64_t)(x))

static uint32_t rd32(fx *f, uint32_t at)
{
    uint8_t *p = mem(f, NULL) + at;
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(fx *f, uint32_t at)
{
    return rd32(f, at) | (uint64_t)rd32(f, at + 4) << 32;
}

static void wr32(fx *f, uint32_t at, uint32_t v)
{
    uint8_t *p = mem(f, NULL) + at;
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Place string s at `at`; returns its length. */
static uint32_t str_at(fx *f, uint32_t at, const char *s)
{
    memcpy(mem(f, NULL) + at, s, strlen(s));
    return (uint32_t)strlen(s);
}

/* Open `path` under the preopen (fd 3); returns errno, fd in *fd. */
/* Open `path` under directory `dir` with rights `base` and `inh`;
 * returns errno, fd in *fd. */
static int32_t open_in(fx *f, uint32_t dir, const char *path, uint32_t oflags, uint64_t base,
                       uint64_t inh, uint32_t *fd)
{
    uint32_t len = str_at(f, 1000, path);
    int32_t e = wcall(f, "path_open", A(dir), A(0), A(1000), A(len), A(oflags), A(base), A(inh),
                      A(0), A(900));
    if (e == 0 && fd)
        *fd = rd32(f, 900);
    return e;
}

static int32_t open_at(fx *f, const char *path, uint32_t lookup, uint32_t oflags, uint64_t rights,
                       uint32_t *fd)
{
    uint32_t len = str_at(f, 1000, path);
    int32_t e = wcall(f, "path_open", A(3), A(lookup), A(1000), A(len), A(oflags), A(rights),
                      A(rights), A(0), A(900));
    if (e == 0 && fd)
        *fd = rd32(f, 900);
    return e;
}

/* ------------------------------------------------------------------ */
/* Tests                                                              */

static void test_args_env(void **state)
{
    fx *f = fx_new();
    (void)state;

    assert_int_equal(wcall(f, "args_sizes_get", A(0), A(4)), E_SUCCESS);
    assert_int_equal(rd32(f, 0), 3);
    assert_int_equal(rd32(f, 4), strlen("prog") + strlen("first arg") + 2 + 3);
    assert_int_equal(wcall(f, "args_get", A(100), A(200)), E_SUCCESS);
    assert_int_equal(rd32(f, 100), 200);
    assert_string_equal((char *)mem(f, NULL) + rd32(f, 100), "prog");
    assert_string_equal((char *)mem(f, NULL) + rd32(f, 104), "first arg");
    assert_string_equal((char *)mem(f, NULL) + rd32(f, 108), "\xc3\xbc");

    assert_int_equal(wcall(f, "environ_sizes_get", A(0), A(4)), E_SUCCESS);
    assert_int_equal(rd32(f, 0), 2);
    assert_int_equal(rd32(f, 4), strlen("HOME=/nowhere") + strlen("EMPTY=") + 2);
    assert_int_equal(wcall(f, "environ_get", A(300), A(400)), E_SUCCESS);
    assert_string_equal((char *)mem(f, NULL) + rd32(f, 300), "HOME=/nowhere");
    assert_string_equal((char *)mem(f, NULL) + rd32(f, 304), "EMPTY=");
    fx_free(f);
}

static void test_bad_pointers(void **state)
{
    fx *f = fx_new();
    uint64_t size;
    (void)state;

    mem(f, &size);
    /* result pointers at or beyond the end of memory */
    assert_int_equal(wcall(f, "args_sizes_get", A(size - 2), A(0)), E_FAULT);
    assert_int_equal(wcall(f, "args_get", A(size - 4), A(0)), E_FAULT);
    assert_int_equal(wcall(f, "args_get", A(0), A(size - 3)), E_FAULT);
    assert_int_equal(wcall(f, "clock_time_get", A(0), A(0), A(0xfffffff8)), E_FAULT);
    assert_int_equal(wcall(f, "random_get", A(size - 8), A(9)), E_FAULT);
    assert_int_equal(wcall(f, "random_get", A(0xffffffff), A(2)), E_FAULT);
    /* an iovec whose buffer runs past the end */
    wr32(f, 0, (uint32_t)size - 4);
    wr32(f, 4, 8);
    assert_int_equal(wcall(f, "fd_write", A(1), A(0), A(1), A(16)), E_FAULT);
    /* a huge iovec count */
    assert_int_equal(wcall(f, "fd_write", A(1), A(0), A(0x20000000), A(16)), E_FAULT);
    assert_int_equal(
        wcall(f, "path_open", A(3), A(0), A(size - 1), A(5), A(0), A(R_READ), A(0), A(0), A(900)),
        E_FAULT);
    assert_int_equal(wcall(f, "poll_oneoff", A(size - 10), A(0), A(1), A(8)), E_FAULT);
    fx_free(f);
}

static void test_clocks(void **state)
{
    fx *f = fx_new();
    uint64_t t1, t2;
    (void)state;

    assert_int_equal(wcall(f, "clock_time_get", A(0), A(1), A(8)), E_SUCCESS);
    t1 = rd64(f, 8);
    assert_true(t1 / 1000000000ull >= (uint64_t)time(NULL) - 5);
    assert_true(t1 / 1000000000ull <= (uint64_t)time(NULL) + 5);
    assert_int_equal(wcall(f, "clock_time_get", A(1), A(1), A(8)), E_SUCCESS);
    t1 = rd64(f, 8);
    usleep(2000);
    assert_int_equal(wcall(f, "clock_time_get", A(1), A(1), A(8)), E_SUCCESS);
    t2 = rd64(f, 8);
    assert_true(t2 >= t1 + 2000000);
    for (int id = 0; id < 4; id++) {
        assert_int_equal(wcall(f, "clock_res_get", A(id), A(16)), E_SUCCESS);
        assert_true(rd64(f, 16) > 0);
        assert_int_equal(wcall(f, "clock_time_get", A(id), A(0), A(8)), E_SUCCESS);
    }
    assert_int_equal(wcall(f, "clock_time_get", A(4), A(0), A(8)), E_INVAL);
    assert_int_equal(wcall(f, "clock_res_get", A(-1), A(8)), E_INVAL);
    fx_free(f);
}

static void test_random(void **state)
{
    fx *f = fx_new();
    uint8_t a[64], b[64], zero[64] = {0};
    (void)state;

    memset(mem(f, NULL) + 100, 0, 200);
    assert_int_equal(wcall(f, "random_get", A(100), A(64)), E_SUCCESS);
    memcpy(a, mem(f, NULL) + 100, 64);
    assert_int_equal(wcall(f, "random_get", A(100), A(64)), E_SUCCESS);
    memcpy(b, mem(f, NULL) + 100, 64);
    assert_memory_not_equal(a, zero, 64);
    assert_memory_not_equal(a, b, 64);
    assert_int_equal(mem(f, NULL)[164], 0); /* nothing past the buffer */
    assert_int_equal(wcall(f, "random_get", A(0), A(0)), E_SUCCESS);
    fx_free(f);
}

static void test_stdio(void **state)
{
    fx *f = fx_new();
    char got[64] = {0};
    (void)state;

    /* fd_write with two iovecs to stdout (a pipe) */
    str_at(f, 200, "hello, ");
    str_at(f, 300, "pipe\n");
    wr32(f, 0, 200), wr32(f, 4, 7), wr32(f, 8, 300), wr32(f, 12, 5);
    assert_int_equal(wcall(f, "fd_write", A(1), A(0), A(2), A(16)), E_SUCCESS);
    assert_int_equal(rd32(f, 16), 12);
    assert_int_equal(read(f->out[0], got, sizeof got), 12);
    assert_string_equal(got, "hello, pipe\n");
    /* fd_read from stdin */
    assert_int_equal(write(f->in[1], "input", 5), 5);
    wr32(f, 0, 400), wr32(f, 4, 32);
    assert_int_equal(wcall(f, "fd_read", A(0), A(0), A(1), A(16)), E_SUCCESS);
    assert_int_equal(rd32(f, 16), 5);
    assert_memory_equal(mem(f, NULL) + 400, "input", 5);
    /* stdio cannot seek; stderr was left closed; fd 9 never existed */
    assert_int_equal(wcall(f, "fd_seek", A(1), A(0), A(0), A(24)), E_NOTCAPABLE);
    assert_int_equal(wcall(f, "fd_write", A(2), A(0), A(1), A(16)), E_BADF);
    assert_int_equal(wcall(f, "fd_write", A(9), A(0), A(1), A(16)), E_BADF);
    assert_int_equal(wcall(f, "fd_fdstat_get", A(1), A(40)), E_SUCCESS);
    assert_int_equal(mem(f, NULL)[40], 0); /* a pipe: filetype unknown */
    fx_free(f);
}

static void test_prestat(void **state)
{
    fx *f = fx_new();
    (void)state;

    assert_int_equal(wcall(f, "fd_prestat_get", A(3), A(0)), E_SUCCESS);
    assert_int_equal(mem(f, NULL)[0], 0); /* directory */
    assert_int_equal(rd32(f, 4), strlen("/sandbox"));
    assert_int_equal(wcall(f, "fd_prestat_dir_name", A(3), A(100), A(8)), E_SUCCESS);
    assert_memory_equal(mem(f, NULL) + 100, "/sandbox", 8);
    assert_int_not_equal(wcall(f, "fd_prestat_dir_name", A(3), A(100), A(3)), E_SUCCESS);
    assert_int_equal(wcall(f, "fd_prestat_get", A(4), A(0)), E_BADF);
    assert_int_equal(wcall(f, "fd_prestat_get", A(1), A(0)), E_BADF);
    assert_int_equal(wcall(f, "fd_fdstat_get", A(3), A(40)), E_SUCCESS);
    assert_int_equal(mem(f, NULL)[40], 3); /* directory */
    fx_free(f);
}

static void test_files(void **state)
{
    fx *f = fx_new();
    uint32_t fd, len, used, off;
    char path[256], got[64] = {0};
    bool saw_a = false, saw_sub = false;
    FILE *h;
    (void)state;

    /* create, write, seek, read back, tell, stat */
    assert_int_equal(open_at(f, "a.txt", 0, 1 /* creat */, R_FILE, &fd), E_SUCCESS);
    str_at(f, 200, "0123456789");
    wr32(f, 0, 200), wr32(f, 4, 10);
    assert_int_equal(wcall(f, "fd_write", A(fd), A(0), A(1), A(16)), E_SUCCESS);
    assert_int_equal(rd32(f, 16), 10);
    assert_int_equal(wcall(f, "fd_seek", A(fd), A(-4), A(2 /* end */), A(24)), E_SUCCESS);
    assert_int_equal(rd64(f, 24), 6);
    wr32(f, 0, 300), wr32(f, 4, 100);
    assert_int_equal(wcall(f, "fd_read", A(fd), A(0), A(1), A(16)), E_SUCCESS);
    assert_int_equal(rd32(f, 16), 4);
    assert_memory_equal(mem(f, NULL) + 300, "6789", 4);
    assert_int_equal(wcall(f, "fd_tell", A(fd), A(24)), E_SUCCESS);
    assert_int_equal(rd64(f, 24), 10);
    assert_int_equal(wcall(f, "fd_seek", A(fd), A(0), A(7), A(24)), E_INVAL);
    wr32(f, 0, 300), wr32(f, 4, 3);
    assert_int_equal(wcall(f, "fd_pread", A(fd), A(0), A(1), A(2), A(16)), E_SUCCESS);
    assert_memory_equal(mem(f, NULL) + 300, "234", 3);
    assert_int_equal(wcall(f, "fd_filestat_get", A(fd), A(400)), E_SUCCESS);
    assert_int_equal(mem(f, NULL)[400 + 16], 4); /* regular file */
    assert_int_equal(rd64(f, 400 + 32), 10);     /* size */
    assert_int_equal(wcall(f, "fd_filestat_set_size", A(fd), A(5)), E_SUCCESS);
    assert_int_equal(wcall(f, "fd_close", A(fd)), E_SUCCESS);
    assert_int_equal(wcall(f, "fd_close", A(fd)), E_BADF);
    snprintf(path, sizeof path, "%s/a.txt", f->dir);
    h = fopen(path, "r");
    assert_non_null(h);
    assert_non_null(fgets(got, sizeof got, h));
    fclose(h);
    assert_string_equal(got, "01234");

    /* O_EXCL on an existing file; a missing file without O_CREAT */
    assert_int_equal(open_at(f, "a.txt", 0, 1 | 4, R_RW, NULL), E_EXIST);
    assert_int_equal(open_at(f, "missing", 0, 0, R_READ, NULL), E_NOENT);
    /* a read-only open cannot write */
    assert_int_equal(open_at(f, "a.txt", 0, 0, R_READ, &fd), E_SUCCESS);
    wr32(f, 0, 200), wr32(f, 4, 1);
    assert_int_equal(wcall(f, "fd_write", A(fd), A(0), A(1), A(16)), E_NOTCAPABLE);
    assert_int_equal(wcall(f, "fd_close", A(fd)), E_SUCCESS);

    /* directories: create, stat, list, rename, remove */
    len = str_at(f, 1000, "sub");
    assert_int_equal(wcall(f, "path_create_directory", A(3), A(1000), A(len)), E_SUCCESS);
    assert_int_equal(wcall(f, "path_create_directory", A(3), A(1000), A(len)), E_EXIST);
    assert_int_equal(wcall(f, "path_filestat_get", A(3), A(0), A(1000), A(len), A(400)), E_SUCCESS);
    assert_int_equal(mem(f, NULL)[400 + 16], 3);
    host_write(f->dir, "sub/inner.txt", "x");
    len = str_at(f, 1000, "sub/inner.txt");
    assert_int_equal(wcall(f, "path_filestat_get", A(3), A(0), A(1000), A(len), A(400)), E_SUCCESS);
    assert_int_equal(rd64(f, 400 + 32), 1);
    assert_int_equal(open_at(f, ".", 0, 2 /* directory */, R_READDIR, &fd), E_SUCCESS);
    assert_int_equal(wcall(f, "fd_readdir", A(fd), A(2000), A(4096), A(0), A(16)), E_SUCCESS);
    used = rd32(f, 16);
    for (off = 0; off + 24 <= used;) {
        uint32_t nl = rd32(f, 2000 + off + 16);
        const char *nm = (const char *)mem(f, NULL) + 2000 + off + 24;
        if (nl == 5 && memcmp(nm, "a.txt", 5) == 0)
            saw_a = mem(f, NULL)[2000 + off + 20] == 4;
        if (nl == 3 && memcmp(nm, "sub", 3) == 0)
            saw_sub = mem(f, NULL)[2000 + off + 20] == 3;
        off += 24 + nl;
    }
    assert_true(saw_a);
    assert_true(saw_sub);
    /* a buffer too small for every entry fills up completely */
    assert_int_equal(wcall(f, "fd_readdir", A(fd), A(2000), A(30), A(0), A(16)), E_SUCCESS);
    assert_int_equal(rd32(f, 16), 30);
    assert_int_equal(wcall(f, "fd_close", A(fd)), E_SUCCESS);

    len = str_at(f, 1000, "sub");
    assert_int_equal(wcall(f, "path_remove_directory", A(3), A(1000), A(len)), E_NOTEMPTY);
    str_at(f, 1100, "a.txt");
    str_at(f, 1200, "sub/b.txt");
    assert_int_equal(wcall(f, "path_rename", A(3), A(1100), A(5), A(3), A(1200), A(9)), E_SUCCESS);
    snprintf(path, sizeof path, "%s/sub/b.txt", f->dir);
    assert_int_equal(access(path, F_OK), 0);
    assert_int_equal(wcall(f, "path_unlink_file", A(3), A(1200), A(9)), E_SUCCESS);
    assert_int_not_equal(access(path, F_OK), 0);
    len = str_at(f, 1000, "sub/inner.txt");
    assert_int_equal(wcall(f, "path_unlink_file", A(3), A(1000), A(len)), E_SUCCESS);
    len = str_at(f, 1000, "sub");
    assert_int_equal(wcall(f, "path_unlink_file", A(3), A(1000), A(len)), E_ISDIR);
    assert_int_equal(wcall(f, "path_remove_directory", A(3), A(1000), A(len)), E_SUCCESS);
    /* a path through a regular file */
    host_write(f->dir, "plain", "");
    assert_int_equal(open_at(f, "plain/x", 0, 0, R_READ, NULL), E_NOTDIR);
    fx_free(f);
}

static void test_fd_ops(void **state)
{
    fx *f = fx_new();
    uint32_t fd, fd2;
    char path[256];
    struct stat st;
    (void)state;

    assert_int_equal(open_at(f, "r.txt", 0, 1, R_FILE, &fd), E_SUCCESS);
    assert_int_equal(open_at(f, "s.txt", 0, 1, R_FILE, &fd2), E_SUCCESS);
    /* renumber: fd2 now refers to r.txt, fd is closed */
    assert_int_equal(wcall(f, "fd_renumber", A(fd), A(fd2)), E_SUCCESS);
    assert_int_equal(wcall(f, "fd_close", A(fd)), E_BADF);
    assert_int_equal(wcall(f, "fd_renumber", A(fd2), A(77)), E_BADF);
    /* append mode via fdstat_set_flags, read back with fdstat_get */
    assert_int_equal(wcall(f, "fd_fdstat_set_flags", A(fd2), A(1)), E_SUCCESS);
    assert_int_equal(wcall(f, "fd_fdstat_get", A(fd2), A(40)), E_SUCCESS);
    assert_int_equal(mem(f, NULL)[40], 4);     /* regular file */
    assert_int_equal(mem(f, NULL)[42] & 1, 1); /* APPEND */
    assert_int_equal(rd64(f, 48), R_FILE);     /* the rights asked for */
    str_at(f, 200, "abc");
    wr32(f, 0, 200), wr32(f, 4, 3);
    assert_int_equal(wcall(f, "fd_write", A(fd2), A(0), A(1), A(16)), E_SUCCESS);
    assert_int_equal(wcall(f, "fd_seek", A(fd2), A(0), A(0), A(24)), E_SUCCESS);
    assert_int_equal(wcall(f, "fd_write", A(fd2), A(0), A(1), A(16)), E_SUCCESS);
    snprintf(path, sizeof path, "%s/r.txt", f->dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 6); /* both writes appended */
    /* allocate, advise, sync, timestamps */
    assert_int_equal(wcall(f, "fd_allocate", A(fd2), A(0), A(100)), E_SUCCESS);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 100);
    assert_int_equal(wcall(f, "fd_advise", A(fd2), A(0), A(0), A(1)), E_SUCCESS);
    assert_int_equal(wcall(f, "fd_advise", A(fd2), A(0), A(0), A(9)), E_INVAL);
    assert_int_equal(wcall(f, "fd_sync", A(fd2)), E_SUCCESS);
    assert_int_equal(wcall(f, "fd_datasync", A(fd2)), E_SUCCESS);
    assert_int_equal(wcall(f, "fd_filestat_set_times", A(fd2), A(0), A(1234567890ll * 1000000000ll),
                           A(4 /* MTIM */)),
                     E_SUCCESS);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mtim.tv_sec, 1234567890);
    assert_int_equal(wcall(f, "fd_filestat_set_times", A(fd2), A(0), A(0), A(1 | 2)), E_INVAL);
    str_at(f, 1000, "r.txt");
    assert_int_equal(wcall(f, "path_filestat_set_times", A(3), A(0), A(1000), A(5),
                           A(1000000000ll * 1000000000ll), A(0), A(1 /* ATIM */)),
                     E_SUCCESS);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_atim.tv_sec, 1000000000);
    assert_int_equal(st.st_mtim.tv_sec, 1234567890); /* untouched */
    /* rights can be dropped, never regained, and what is dropped is refused */
    assert_int_equal(wcall(f, "fd_fdstat_set_rights", A(fd2), A(R_READ), A(0)), E_SUCCESS);
    assert_int_equal(wcall(f, "fd_fdstat_set_rights", A(fd2), A(R_RW), A(0)), E_NOTCAPABLE);
    assert_int_equal(wcall(f, "fd_fdstat_get", A(fd2), A(40)), E_SUCCESS);
    assert_int_equal(rd64(f, 48), R_READ);
    assert_int_equal(wcall(f, "fd_write", A(fd2), A(0), A(1), A(16)), E_NOTCAPABLE);
    assert_int_equal(wcall(f, "fd_allocate", A(fd2), A(0), A(200)), E_NOTCAPABLE);
    assert_int_equal(wcall(f, "fd_filestat_set_size", A(fd2), A(0)), E_NOTCAPABLE);
    assert_int_equal(wcall(f, "fd_filestat_set_times", A(fd2), A(0), A(0), A(8)), E_NOTCAPABLE);
    assert_int_equal(wcall(f, "fd_sync", A(fd2)), E_NOTCAPABLE);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 100);
    wr32(f, 0, 300), wr32(f, 4, 3);
    assert_int_equal(wcall(f, "fd_read", A(fd2), A(0), A(1), A(16)), E_SUCCESS);
    assert_int_equal(wcall(f, "fd_close", A(fd2)), E_SUCCESS);
    fx_free(f);
}

static void test_path_escapes(void **state)
{
    fx *f = fx_new();
    char link[256];
    uint32_t fd, len;
    (void)state;

    host_write(f->dir, "inside.txt", "in");
    assert_int_equal(mkdir(strcat(strcpy(link, f->dir), "/d"), 0755), 0);
    /* `..` above the root, absolute paths */
    assert_int_equal(open_at(f, "../etc/passwd", 0, 0, R_READ, NULL), E_NOTCAPABLE);
    assert_int_equal(open_at(f, "d/../../x", 0, 0, R_READ, NULL), E_NOTCAPABLE);
    assert_int_equal(open_at(f, "/etc/passwd", 0, 0, R_READ, NULL), E_NOTCAPABLE);
    assert_int_equal(open_at(f, "..", 0, 0, R_READ, NULL), E_NOTCAPABLE);
    /* `..` that stays inside is fine */
    assert_int_equal(open_at(f, "d/../inside.txt", 0, 0, R_READ, &fd), E_SUCCESS);
    assert_int_equal(wcall(f, "fd_close", A(fd)), E_SUCCESS);
    assert_int_equal(open_at(f, "./d/.//../inside.txt", 0, 0, R_READ, &fd), E_SUCCESS);
    assert_int_equal(wcall(f, "fd_close", A(fd)), E_SUCCESS);
    /* symlinks leading out: absolute, and relative climbing above the root */
    snprintf(link, sizeof link, "%s/abs", f->dir);
    assert_int_equal(symlink("/etc", link), 0);
    snprintf(link, sizeof link, "%s/d/up", f->dir);
    assert_int_equal(symlink("../..", link), 0);
    snprintf(link, sizeof link, "%s/good", f->dir);
    assert_int_equal(symlink("d/../inside.txt", link), 0);
    snprintf(link, sizeof link, "%s/loop", f->dir);
    assert_int_equal(symlink("loop", link), 0);
    assert_int_equal(open_at(f, "abs/passwd", 0, 0, R_READ, NULL), E_NOTCAPABLE);
    assert_int_equal(open_at(f, "abs", 1 /* follow */, 0, R_READ, NULL), E_NOTCAPABLE);
    assert_int_equal(open_at(f, "d/up/etc/passwd", 1, 0, R_READ, NULL), E_NOTCAPABLE);
    assert_int_equal(open_at(f, "d/up", 1, 0, R_READ, NULL), E_NOTCAPABLE);
    /* not following the final link: the link itself cannot be opened */
    assert_int_equal(open_at(f, "abs", 0, 0, R_READ, NULL), E_LOOP);
    /* a link that stays inside works when followed */
    assert_int_equal(open_at(f, "good", 1, 0, R_READ, &fd), E_SUCCESS);
    wr32(f, 0, 300), wr32(f, 4, 10);
    assert_int_equal(wcall(f, "fd_read", A(fd), A(0), A(1), A(16)), E_SUCCESS);
    assert_int_equal(rd32(f, 16), 2);
    assert_int_equal(wcall(f, "fd_close", A(fd)), E_SUCCESS);
    assert_int_equal(open_at(f, "loop", 1, 0, R_READ, NULL), E_LOOP);
    /* path_readlink reads the link without following it */
    len = str_at(f, 1000, "abs");
    assert_int_equal(wcall(f, "path_readlink", A(3), A(1000), A(len), A(1100), A(64), A(16)),
                     E_SUCCESS);
    assert_int_equal(rd32(f, 16), 4);
    assert_memory_equal(mem(f, NULL) + 1100, "/etc", 4);
    /* the other path calls refuse escapes too */
    len = str_at(f, 1000, "../escape");
    assert_int_equal(wcall(f, "path_create_directory", A(3), A(1000), A(len)), E_NOTCAPABLE);
    assert_int_equal(wcall(f, "path_unlink_file", A(3), A(1000), A(len)), E_NOTCAPABLE);
    len = str_at(f, 1000, "abs/passwd");
    assert_int_equal(wcall(f, "path_filestat_get", A(3), A(1), A(1000), A(len), A(400)),
                     E_NOTCAPABLE);
    str_at(f, 1100, "x");
    assert_int_equal(wcall(f, "path_rename", A(3), A(1100), A(1), A(3), A(1000), A(len)),
                     E_NOTCAPABLE);
    /* symlinks with absolute targets cannot be created */
    str_at(f, 1200, "/etc/passwd");
    str_at(f, 1300, "mylink");
    assert_int_equal(wcall(f, "path_symlink", A(1200), A(11), A(3), A(1300), A(6)), E_NOTCAPABLE);
    /* NUL inside a path, empty path, bad directory fds */
    memcpy(mem(f, NULL) + 1000, "a\0b", 3);
    assert_int_equal(
        wcall(f, "path_open", A(3), A(0), A(1000), A(3), A(0), A(R_READ), A(0), A(0), A(900)),
        E_INVAL);
    assert_int_equal(
        wcall(f, "path_open", A(3), A(0), A(1000), A(0), A(0), A(R_READ), A(0), A(0), A(900)),
        E_NOENT);
    assert_int_equal(
        wcall(f, "path_open", A(7), A(0), A(1000), A(1), A(0), A(R_READ), A(0), A(0), A(900)),
        E_BADF);
    /* stdout has no path rights; a file that has them is no directory */
    assert_int_equal(
        wcall(f, "path_open", A(1), A(0), A(1000), A(1), A(0), A(R_READ), A(0), A(0), A(900)),
        E_NOTCAPABLE);
    assert_int_equal(open_at(f, "inside.txt", 0, 0, R_READ | R_PATH_OPEN, &fd), E_SUCCESS);
    assert_int_equal(
        wcall(f, "path_open", A(fd), A(0), A(1000), A(1), A(0), A(R_READ), A(0), A(0), A(900)),
        E_NOTDIR);
    fx_free(f);
}

/* Read host file `path` into buf (NUL-terminated); returns its length. */
static size_t host_read(const char *path, char *buf, size_t cap)
{
    FILE *h = fopen(path, "rb");
    size_t n;

    assert_non_null(h);
    n = fread(buf, 1, cap - 1, h);
    buf[n] = 0;
    fclose(h);
    return n;
}

/*
 * The standard descriptors carry preview1 rights and every call checks
 * them: a guest whose stdout is a host file opened for appending (`>>
 * log`) can append to it and nothing else: no truncation, no write at an
 * offset, no seek, no new timestamps, no allocation, no flag change.
 * stdin, a host file too, can only be read.
 */
static void test_stdio_rights(void **state)
{
    char dir[] = "/tmp/theater-stdio-XXXXXX", log[64], input[64], got[128];
    struct stat before, after;
    int out_fd, in_fd;
    fx *f;
    uint8_t *m;
    (void)state;

    assert_non_null(mkdtemp(dir));
    snprintf(log, sizeof log, "%s/log", dir);
    snprintf(input, sizeof input, "%s/input", dir);
    host_write(dir, "log", "KEEP ME\n");
    host_write(dir, "input", "input data");
    out_fd = open(log, O_WRONLY | O_APPEND);
    in_fd = open(input, O_RDONLY);
    assert_true(out_fd >= 0 && in_fd >= 0);
    /* an old mtime, to see that nothing re-times the file */
    {
        struct timespec ts[2] = {{1000000000, 0}, {1000000000, 0}};
        assert_int_equal(futimens(out_fd, ts), 0);
    }
    assert_int_equal(fstat(out_fd, &before), 0);
    f = fx_new_io(in_fd, out_fd);

    /* fd_fdstat_get reports the rights that are enforced */
    assert_int_equal(wcall(f, "fd_fdstat_get", A(1), A(40)), E_SUCCESS);
    assert_int_equal(mem(f, NULL)[40], 4);     /* a regular file */
    assert_int_equal(mem(f, NULL)[42] & 1, 1); /* the host's O_APPEND */
    assert_int_equal(rd64(f, 48), R_WRITE | R_FILESTAT_GET | R_POLL);
    assert_int_equal(rd64(f, 56), 0);
    assert_int_equal(wcall(f, "fd_fdstat_get", A(0), A(40)), E_SUCCESS);
    assert_int_equal(rd64(f, 48), R_READ | R_FILESTAT_GET | R_POLL);
    assert_int_equal(rd64(f, 56), 0);

    /* stdout: everything but fd_write (and reading its metadata) is refused */
    str_at(f, 200, "x");
    wr32(f, 0, 200), wr32(f, 4, 1);
    assert_int_equal(wcall(f, "fd_filestat_set_size", A(1), A(0)), E_NOTCAPABLE);
    assert_int_equal(wcall(f, "fd_pwrite", A(1), A(0), A(1), A(0), A(16)), E_NOTCAPABLE);
    assert_int_equal(wcall(f, "fd_seek", A(1), A(0), A(0 /* set */), A(24)), E_NOTCAPABLE);
    assert_int_equal(wcall(f, "fd_seek", A(1), A(0), A(1 /* cur */), A(24)), E_NOTCAPABLE);
    assert_int_equal(wcall(f, "fd_tell", A(1), A(24)), E_NOTCAPABLE);
    assert_int_equal(wcall(f, "fd_filestat_set_times", A(1), A(0), A(0), A(2 | 8)), E_NOTCAPABLE);
    assert_int_equal(wcall(f, "fd_allocate", A(1), A(0), A(4096)), E_NOTCAPABLE);
    assert_int_equal(wcall(f, "fd_advise", A(1), A(0), A(0), A(4)), E_NOTCAPABLE);
    assert_int_equal(wcall(f, "fd_datasync", A(1)), E_NOTCAPABLE);
    assert_int_equal(wcall(f, "fd_sync", A(1)), E_NOTCAPABLE);
    assert_int_equal(wcall(f, "fd_fdstat_set_flags", A(1), A(0)), E_NOTCAPABLE);
    assert_int_equal(wcall(f, "fd_read", A(1), A(0), A(1), A(16)), E_NOTCAPABLE);
    assert_int_equal(wcall(f, "fd_pread", A(1), A(0), A(1), A(0), A(16)), E_NOTCAPABLE);
    assert_int_equal(wcall(f, "fd_readdir", A(1), A(2000), A(64), A(0), A(16)), E_NOTCAPABLE);
    /* rights cannot be added back */
    assert_int_equal(
        wcall(f, "fd_fdstat_set_rights", A(1), A(R_WRITE | R_SEEK | R_FILESTAT_GET | R_POLL), A(0)),
        E_NOTCAPABLE);
    /* stderr (here the same host file) is alike */
    assert_int_equal(wcall(f, "fd_fdstat_get", A(2), A(40)), E_SUCCESS);
    assert_int_equal(rd64(f, 48), R_WRITE | R_FILESTAT_GET | R_POLL);
    assert_int_equal(wcall(f, "fd_filestat_set_size", A(2), A(0)), E_NOTCAPABLE);
    assert_int_equal(wcall(f, "fd_pwrite", A(2), A(0), A(1), A(0), A(16)), E_NOTCAPABLE);
    /* metadata may be read */
    assert_int_equal(wcall(f, "fd_filestat_get", A(1), A(400)), E_SUCCESS);
    assert_int_equal(rd64(f, 400 + 32), 8);
    /* and fd_write appends */
    str_at(f, 200, "more\n");
    wr32(f, 0, 200), wr32(f, 4, 5);
    assert_int_equal(wcall(f, "fd_write", A(1), A(0), A(1), A(16)), E_SUCCESS);
    assert_int_equal(rd32(f, 16), 5);
    assert_true((fcntl(out_fd, F_GETFL) & O_APPEND) != 0);
    assert_int_equal(fstat(out_fd, &after), 0);
    assert_int_equal(after.st_size, 13);
    assert_true(after.st_mtim.tv_sec > before.st_mtim.tv_sec); /* the append */
    assert_true(after.st_atim.tv_sec == before.st_atim.tv_sec);
    assert_int_equal(host_read(log, got, sizeof got), 13);
    assert_string_equal(got, "KEEP ME\nmore\n");

    /* stdin: read only */
    wr32(f, 0, 300), wr32(f, 4, 5);
    assert_int_equal(wcall(f, "fd_write", A(0), A(0), A(1), A(16)), E_NOTCAPABLE);
    assert_int_equal(wcall(f, "fd_seek", A(0), A(0), A(2 /* end */), A(24)), E_NOTCAPABLE);
    assert_int_equal(wcall(f, "fd_pread", A(0), A(0), A(1), A(0), A(16)), E_NOTCAPABLE);
    assert_int_equal(wcall(f, "fd_filestat_set_size", A(0), A(0)), E_NOTCAPABLE);
    assert_int_equal(wcall(f, "fd_filestat_set_times", A(0), A(0), A(0), A(2 | 8)), E_NOTCAPABLE);
    assert_int_equal(wcall(f, "fd_read", A(0), A(0), A(1), A(16)), E_SUCCESS);
    assert_int_equal(rd32(f, 16), 5);
    assert_memory_equal(mem(f, NULL) + 300, "input", 5);
    assert_int_equal(host_read(input, got, sizeof got), 10);
    /* no path operation through stdio */
    str_at(f, 1000, "x");
    assert_int_equal(wcall(f, "path_create_directory", A(0), A(1000), A(1)), E_NOTCAPABLE);
    /* poll: fd_write on stdin and fd_read on stdout are not allowed */
    m = mem(f, NULL);
    memset(m + 100, 0, 96);
    m[100] = 1, m[108] = 2 /* fd_write */, wr32(f, 116, 0);
    m[148] = 2, m[156] = 1 /* fd_read */, wr32(f, 164, 1);
    assert_int_equal(wcall(f, "poll_oneoff", A(100), A(200), A(2), A(8)), E_SUCCESS);
    assert_int_equal(rd32(f, 8), 2);
    assert_int_equal(m[200 + 8], E_NOTCAPABLE);
    assert_int_equal(m[232 + 8], E_NOTCAPABLE);
    fx_free(f);
    close(out_fd);
    close(in_fd);
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/*
 * path_open: the directory needs path_open (path_create_file for creat,
 * path_filestat_set_size for trunc), and the rights asked for the new fd
 * must be among the directory's inheriting rights; the new fd gets them
 * and is held to them.  fd_seek by 0 from the current position needs only
 * fd_tell; fd_pread needs fd_seek as well.
 */
static void test_open_rights(void **state)
{
    fx *f = fx_new();
    uint32_t d, fd;
    char path[256];
    struct stat st;
    (void)state;

    host_write(f->dir, "a.txt", "0123456789");
    /* the preopen: directory rights, any right to inherit */
    assert_int_equal(wcall(f, "fd_fdstat_get", A(3), A(40)), E_SUCCESS);
    assert_int_equal(rd64(f, 48) & (R_PATH_OPEN | R_READDIR), R_PATH_OPEN | R_READDIR);
    assert_int_equal(rd64(f, 48) & (R_READ | R_WRITE | R_SEEK), 0);
    assert_int_equal(rd64(f, 56), R_ALL);
    /* a right that does not exist is not inheritable */
    assert_int_equal(open_in(f, 3, "a.txt", 0, R_READ | (1ull << 40), 0, NULL), E_NOTCAPABLE);
    assert_int_equal(open_in(f, 3, "a.txt", 0, R_READ, 1ull << 40, NULL), E_NOTCAPABLE);

    /* a directory that passes on reading only */
    assert_int_equal(open_in(f, 3, ".", 2 /* directory */, R_PATH_OPEN | R_READDIR, R_READ, &d),
                     E_SUCCESS);
    assert_int_equal(open_in(f, d, "a.txt", 0, R_READ | R_WRITE, 0, NULL), E_NOTCAPABLE);
    assert_int_equal(open_in(f, d, "a.txt", 0, R_READ, R_WRITE, NULL), E_NOTCAPABLE);
    assert_int_equal(open_in(f, d, "a.txt", 0, R_READ, 0, &fd), E_SUCCESS);
    assert_int_equal(wcall(f, "fd_fdstat_get", A(fd), A(40)), E_SUCCESS);
    assert_int_equal(rd64(f, 48), R_READ);
    wr32(f, 0, 300), wr32(f, 4, 4);
    assert_int_equal(wcall(f, "fd_read", A(fd), A(0), A(1), A(16)), E_SUCCESS);
    assert_int_equal(wcall(f, "fd_write", A(fd), A(0), A(1), A(16)), E_NOTCAPABLE);
    assert_int_equal(wcall(f, "fd_pread", A(fd), A(0), A(1), A(0), A(16)), E_NOTCAPABLE);
    assert_int_equal(wcall(f, "fd_tell", A(fd), A(24)), E_NOTCAPABLE);
    assert_int_equal(wcall(f, "fd_filestat_get", A(fd), A(400)), E_NOTCAPABLE);
    assert_int_equal(wcall(f, "fd_close", A(fd)), E_SUCCESS);
    /* without path_create_file, path_filestat_set_size and the other path
     * rights, nothing is created, truncated, removed or looked at */
    assert_int_equal(open_in(f, d, "new.txt", 1 /* creat */, R_READ, 0, NULL), E_NOTCAPABLE);
    assert_int_equal(open_in(f, d, "a.txt", 8 /* trunc */, R_READ, 0, NULL), E_NOTCAPABLE);
    str_at(f, 1000, "a.txt");
    assert_int_equal(wcall(f, "path_unlink_file", A(d), A(1000), A(5)), E_NOTCAPABLE);
    assert_int_equal(wcall(f, "path_filestat_get", A(d), A(0), A(1000), A(5), A(400)),
                     E_NOTCAPABLE);
    assert_int_equal(wcall(f, "path_create_directory", A(d), A(1000), A(5)), E_NOTCAPABLE);
    snprintf(path, sizeof path, "%s/a.txt", f->dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 10);
    snprintf(path, sizeof path, "%s/new.txt", f->dir);
    assert_int_not_equal(access(path, F_OK), 0);
    /* nor is a file opened where the directory lacks path_open */
    assert_int_equal(wcall(f, "fd_fdstat_set_rights", A(d), A(R_READDIR), A(R_READ)), E_SUCCESS);
    assert_int_equal(open_in(f, d, "a.txt", 0, R_READ, 0, NULL), E_NOTCAPABLE);
    assert_int_equal(wcall(f, "fd_close", A(d)), E_SUCCESS);

    /* fd_tell alone allows a seek that only tells */
    assert_int_equal(open_in(f, 3, "a.txt", 0, R_READ | R_TELL, 0, &fd), E_SUCCESS);
    assert_int_equal(wcall(f, "fd_seek", A(fd), A(0), A(1 /* cur */), A(24)), E_SUCCESS);
    assert_int_equal(wcall(f, "fd_tell", A(fd), A(24)), E_SUCCESS);
    assert_int_equal(wcall(f, "fd_seek", A(fd), A(0), A(0 /* set */), A(24)), E_NOTCAPABLE);
    assert_int_equal(wcall(f, "fd_seek", A(fd), A(2), A(1 /* cur */), A(24)), E_NOTCAPABLE);
    assert_int_equal(wcall(f, "fd_close", A(fd)), E_SUCCESS);
    /* fd_seek implies fd_tell */
    assert_int_equal(open_in(f, 3, "a.txt", 0, R_READ | R_SEEK, 0, &fd), E_SUCCESS);
    assert_int_equal(wcall(f, "fd_seek", A(fd), A(3), A(0), A(24)), E_SUCCESS);
    assert_int_equal(wcall(f, "fd_tell", A(fd), A(24)), E_SUCCESS);
    assert_int_equal(rd64(f, 24), 3);
    assert_int_equal(wcall(f, "fd_close", A(fd)), E_SUCCESS);
    fx_free(f);
}

static void test_no_preopens(void **state)
{
    th_wasi_config cfg;
    th_wasi *w = NULL;
    th_wasi_dir bad = {"/nonexistent/theater-test-dir", "/x"};
    th_error err = {0};
    (void)state;

    th_wasi_config_init(&cfg);
    cfg.dirs = &bad;
    cfg.ndirs = 1;
    assert_int_equal(th_wasi_new(&cfg, &w, &err), TH_ENOENT);
    assert_null(w);
    assert_non_null(strstr(err.msg, "/nonexistent/theater-test-dir"));
}

static void test_proc_exit(void **state)
{
    fx *f = fx_new();
    th_wasm_val arg;
    uint32_t code = 0;
    (void)state;

    assert_false(th_wasi_exit_code(f->wasi, &code));
    arg.i32 = 42;
    assert_int_equal(
        th_wasm_exec_call(f->ex, th_wasm_instance_func(f->inst, "proc_exit"), &arg, 1, NULL, 0),
        TH_WASM_TRAPPED);
    assert_true(th_wasi_exit_code(f->wasi, &code));
    assert_int_equal(code, 42);
    assert_non_null(strstr(th_wasm_exec_trap_message(f->ex), "proc_exit(42)"));
    fx_free(f);
}

static void test_nosys_and_poll(void **state)
{
    fx *f = fx_new();
    uint8_t *m;
    struct timespec t0, t1;
    double ms;
    (void)state;

    assert_int_equal(wcall(f, "sock_accept", A(3), A(0), A(0)), E_NOSYS);
    assert_int_equal(wcall(f, "sock_shutdown", A(3), A(0)), E_NOSYS);
    assert_int_equal(wcall(f, "proc_raise", A(9)), E_NOSYS);
    assert_int_equal(wcall(f, "sched_yield"), E_SUCCESS);

    /* one relative clock subscription of 20 ms */
    m = mem(f, NULL);
    memset(m + 100, 0, 48);
    m[100] = 0x77;          /* userdata */
    m[108] = 0;             /* clock */
    wr32(f, 116, 1);        /* monotonic */
    wr32(f, 124, 20000000); /* timeout (low word) */
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(wcall(f, "poll_oneoff", A(100), A(200), A(1), A(8)), E_SUCCESS);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    assert_true(ms >= 19.0);
    assert_int_equal(rd32(f, 8), 1);
    assert_int_equal(mem(f, NULL)[200], 0x77);
    assert_int_equal(mem(f, NULL)[210], 0); /* event type clock */
    /* an fd_read subscription on stdin with data ready, next to a long clock */
    assert_int_equal(write(f->in[1], "x", 1), 1);
    memset(m + 148, 0, 48);
    m[148] = 0x88;
    m[156] = 1; /* fd_read */
    wr32(f, 164, 0);
    wr32(f, 124, 2000000000); /* 2 s clock, must not be waited for */
    assert_int_equal(wcall(f, "poll_oneoff", A(100), A(200), A(2), A(8)), E_SUCCESS);
    assert_int_equal(rd32(f, 8), 1);
    assert_int_equal(mem(f, NULL)[200], 0x88);
    assert_int_equal(rd64(f, 216), 1); /* one byte available */
    /* zero subscriptions */
    assert_int_equal(wcall(f, "poll_oneoff", A(100), A(200), A(0), A(8)), E_INVAL);
    fx_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_args_env),     cmocka_unit_test(test_bad_pointers),
        cmocka_unit_test(test_clocks),       cmocka_unit_test(test_random),
        cmocka_unit_test(test_stdio),        cmocka_unit_test(test_prestat),
        cmocka_unit_test(test_files),        cmocka_unit_test(test_fd_ops),
        cmocka_unit_test(test_path_escapes), cmocka_unit_test(test_no_preopens),
        cmocka_unit_test(test_proc_exit),    cmocka_unit_test(test_nosys_and_poll),
        cmocka_unit_test(test_stdio_rights), cmocka_unit_test(test_open_rights),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
