/*
 * wasi.h - WASI preview1 ("wasi_snapshot_preview1") for the engine.
 *
 * A th_wasi context holds what a WASI command module sees of the world: its
 * arguments, its environment, a table of file descriptors (stdio plus the
 * preopened directories the embedder grants) and its exit status.  The
 * context registers host functions under the module name
 * "wasi_snapshot_preview1" into a th_wasm_imports set; a module instantiated
 * with that set reaches the host only through them.
 *
 * Sandbox: every guest pointer and length is checked against the calling
 * instance's memory (EFAULT otherwise); paths are resolved one component at
 * a time below a preopened directory and may not leave it (absolute paths,
 * `..` above the root and symbolic links pointing outside fail with
 * ENOTCAPABLE).  Calls this layer does not implement (sockets, proc_raise)
 * return ENOSYS.
 *
 * Rights: every descriptor carries preview1 rights (rights_base,
 * rights_inheriting, reported by fd_fdstat_get) and every call checks the
 * rights it needs, failing with ENOTCAPABLE (76) when one is missing.
 * stdin has fd_read only, stdout and stderr fd_write only (both also
 * fd_filestat_get and poll_fd_readwrite): no seek or tell, no
 * fd_pread/fd_pwrite, no truncation, timestamps, allocation, advice, sync
 * or flag changes, so the host file behind a redirected stdio (`>> log`)
 * can only be read, or appended to.  A preopened directory has the path
 * rights and passes on any right (rights_inheriting = all); path_open
 * refuses rights for the new fd outside the directory's inheriting rights,
 * and the new fd has exactly the rights it asked for.  docs/engine.md
 * ("WASI") has the table.
 *
 * proc_exit: the host function records the exit code and traps with the
 * message "proc_exit(N)", so the call unwinds with TH_WASM_TRAPPED; the
 * embedder then asks th_wasi_exit_code() whether the trap was an exit.
 * Nothing here ever ends the process.
 *
 * Threading: a context is used by one call at a time (the instance's).
 * Blocking calls (fd_read on a terminal, poll_oneoff on clocks) block the
 * calling thread.
 */
#ifndef THEATER_WASI_H
#define THEATER_WASI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "theater/error.h"
#include "theater/wasm.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct th_wasi th_wasi;

/* The module name WASI functions are registered under. */
#define TH_WASI_MODULE "wasi_snapshot_preview1"

/* A directory granted to the guest: host path `host` appears to the guest
 * as preopened directory `guest` (e.g. "/data" or "."). */
typedef struct th_wasi_dir {
    const char *host;
    const char *guest;
} th_wasi_dir;

typedef struct th_wasi_config {
    /* Arguments (argv[0] is the program name the guest sees). */
    const char *const *argv;
    size_t argc;
    /* Environment entries, each "KEY=VALUE". */
    const char *const *env;
    size_t nenv;
    /* Preopened directories; they become guest fds 3, 4, ... in order. */
    const th_wasi_dir *dirs;
    size_t ndirs;
    /* Host descriptors behind guest fds 0, 1 and 2; -1 leaves that guest
     * fd closed.  They are borrowed: the context never closes them. */
    int stdin_fd, stdout_fd, stderr_fd;
} th_wasi_config;

/* Fill `cfg` with defaults: no args, no env, no dirs, stdio = host 0/1/2. */
void th_wasi_config_init(th_wasi_config *cfg /* out */);

/* Create a context from `cfg`.  Strings are copied; preopened directories
 * are opened now (TH_ENOENT / TH_EIO with the path in the message if one
 * cannot be).  Free with th_wasi_free. */
int th_wasi_new(const th_wasi_config *cfg, th_wasi **out, th_error *err);

/* Close the context's descriptors (not the borrowed stdio) and free it.
 * NULL is ok.  No instance linked against it may run afterwards. */
void th_wasi_free(th_wasi *w);

/* Bind every wasi_snapshot_preview1 function into `imp`, with `w` as the
 * context.  `w` must outlive every instance created from `imp`.  Returns
 * TH_OK, or TH_EEXIST if one of the names is already bound in `imp`. */
int th_wasi_add_to_imports(th_wasi *w, th_wasm_imports *imp, th_error *err);

/* True if the guest called proc_exit; its code is stored in `*code`.  After
 * a TH_WASM_TRAPPED result this tells an exit apart from a real trap. */
bool th_wasi_exit_code(const th_wasi *w, uint32_t *code /* out */);

#ifdef __cplusplus
}
#endif
#endif
