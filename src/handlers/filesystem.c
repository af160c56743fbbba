/*
 * filesystem.c - the `filesystem` interface, confined to the directory the
 * manifest names (`path` of the handler, resolved with realpath when the
 * manifest is loaded).  Guest paths are relative to it; absolute paths and
 * `..` components are refused, and the real path of the target (or, for a
 * new file or directory, of its parent) must lie inside the directory, so a
 * symlink cannot lead out.  A child's directory is its parent's or below
 * it (subset).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/rt_int.h"

#define IFACE "filesystem"
#define RT_FS_MAX_FILE TH_RT_FS_MAX_FILE
#define RT_FS_RECORD_MAX (8u * 1024u * 1024u) /* larger reads are recorded by size */

/* Resolve `rel` under the actor's root into `out`.  0, or an error text. */
static const char *resolve(rt_actor *a, const char *rel, char *out, size_t cap)
{
    const char *root = a->spec->fs_root, *p;
    char real[PATH_MAX], tmp[PATH_MAX];
    size_t n;

    if (root == NULL)
        return "no directory configured for the filesystem handler";
    if (rel[0] == '/')
        return "absolute paths are not allowed";
    for (p = rel; *p;) {
        n = strcspn(p, "/");
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return "'..' is not allowed in paths";
        p += n;
        while (*p == '/')
            p++;
    }
    if ((size_t)snprintf(out, cap, "%s/%s", root, rel) >= cap)
        return "path too long";
    if (realpath(out, real) != NULL)
        return rt_path_inside(root, real) ? NULL : "path leaves the allowed directory";
    if (errno != ENOENT)
        return strerror(errno);
    /* a new entry: its parent must exist inside */
    snprintf(tmp, sizeof tmp, "%s", out);
    if (realpath(dirname(tmp), real) == NULL)
        return "no such directory";
    return rt_path_inside(root, real) ? NULL : "path leaves the allowed directory";
}

/* Common prologue: lift the path, resolve it.  Returns 0 / trap (-1) /
 * refused (1 with *why). */
static int path_arg(rt_host *h, const th_wasm_val *args, char *full, size_t cap, char **in,
                    const char **why)
{
    char *rel = NULL;

    if (rt_host_str(h, (uint32_t)args[0].i32, (uint32_t)args[1].i32, &rel) != 0)
        return -1;
    *in = rt_json_obj1("path", rel, strlen(rel), false);
    *why = resolve(h->a, rel, full, cap);
    free(rel);
    return *why ? 1 : 0;
}

static int done_unit(rt_host *h, const char *fn, uint32_t retptr, char *in, const char *errmsg)
{
    char *out;

    if (rt_abi_result_unit(&h->g, retptr, errmsg) != 0) {
        free(in);
        return rt_host_trap(h);
    }
    out = errmsg ? rt_json_obj1("err", errmsg, strlen(errmsg), false) : strdup("{\"ok\":null}");
    rt_host_done(h, IFACE, fn, in, out);
    free(out);
    return TH_OK;
}

static int h_read(th_wasm_call *call, void *ctx, const th_wasm_val *args, th_wasm_val *results)
{
    rt_host h;
    char full[PATH_MAX], *in = NULL, out[64];
    const char *why = NULL;
    uint32_t retptr = (uint32_t)args[2].i32;
    uint8_t *buf = NULL;
    struct stat st;
    int fd = -1, rc;
    ssize_t got = 0, r;

    (void)ctx, (void)results;
    rt_host_begin(&h, call);
    if ((rc = path_arg(&h, args, full, sizeof full, &in, &why)) < 0)
        return rt_host_trap(&h);
    if (rc == 0) {
        fd = open(full, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || fstat(fd, &st) != 0)
            why = strerror(errno);
        else if (!S_ISREG(st.st_mode))
            why = "not a regular file";
        else if ((uint64_t)st.st_size > RT_FS_MAX_FILE)
            why = "file larger than 64 MiB";
        else if ((buf = malloc((size_t)st.st_size + 1)) == NULL)
            why = "out of memory";
        while (why == NULL && got < st.st_size) {
            r = read(fd, buf + got, (size_t)(st.st_size - got));
            if (r <= 0) {
                if (r < 0)
                    why = strerror(errno);
                break;
            }
            got += r;
        }
        if (fd >= 0)
            close(fd);
    }
    if (why != NULL) {
        free(buf);
        return done_unit(&h, "read-file", retptr, in, why);
    }
    rc = rt_abi_result_bytes(&h.g, retptr, buf, (size_t)got, NULL);
    if (rc != 0) {
        free(buf);
        free(in);
        return rt_host_trap(&h);
    }
    /* the content goes into the record (for replay) unless it is huge */
    if ((size_t)got <= RT_FS_RECORD_MAX) {
        char *o = rt_json_obj1("ok", (const char *)buf, (size_t)got, true);
        free(buf);
        rt_host_done(&h, IFACE, "read-file", in, o);
        free(o);
        return TH_OK;
    }
    free(buf);
    snprintf(out, sizeof out, "{\"ok\":{\"bytes\":%zd,\"not_recorded\":true}}", got);
    return rt_host_done(&h, IFACE, "read-file", in, out);
}

static int h_write(th_wasm_call *call, void *ctx, const th_wasm_val *args, th_wasm_val *results)
{
    rt_host h;
    char full[PATH_MAX], *in = NULL, *content = NULL;
    const char *why = NULL;
    size_t n = 0, off = 0;
    int fd, rc;
    ssize_t w;

    (void)ctx, (void)results;
    rt_host_begin(&h, call);
    if ((rc = path_arg(&h, args, full, sizeof full, &in, &why)) < 0)
        return rt_host_trap(&h);
    if (rt_abi_string(&h.g, (uint32_t)args[2].i32, (uint32_t)args[3].i32, &content, &n) != 0) {
        free(in);
        return rt_host_trap(&h);
    }
    if (rc == 0) {
        fd = open(full, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0) {
            why = strerror(errno);
        } else {
            while (off < n && (w = write(fd, content + off, n - off)) > 0)
                off += (size_t)w;
            if (off < n)
                why = strerror(errno);
            close(fd);
        }
    }
    free(content);
    return done_unit(&h, "write-file", (uint32_t)args[4].i32, in, why);
}

static int cmp_str(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

static int h_list(th_wasm_call *call, void *ctx, const th_wasm_val *args, th_wasm_val *results)
{
    rt_host h;
    char full[PATH_MAX], *in = NULL, **names = NULL, **nv;
    const char *why = NULL;
    uint32_t retptr = (uint32_t)args[2].i32;
    size_t n = 0, cap = 0, i;
    struct dirent *de;
    DIR *d;
    int rc;
    rt_buf out = {0};

    (void)ctx, (void)results;
    rt_host_begin(&h, call);
    if ((rc = path_arg(&h, args, full, sizeof full, &in, &why)) < 0)
        return rt_host_trap(&h);
    if (rc == 0) {
        if ((d = opendir(full)) == NULL) {
            why = strerror(errno);
        } else {
            while ((de = readdir(d)) != NULL) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                    continue;
                if (n == cap) {
                    cap = cap ? cap * 2 : 16;
                    if ((nv = realloc(names, cap * sizeof *nv)) == NULL) {
                        why = "out of memory";
                        break;
                    }
                    names = nv;
                }
                if ((names[n] = strdup(de->d_name)) == NULL) {
                    why = "out of memory";
                    break;
                }
                n++;
            }
            closedir(d);
        }
    }
    if (why == NULL && n > 1)
        qsort(names, n, sizeof *names, cmp_str);
    if (why != NULL) {
        rc = done_unit(&h, "list-files", retptr, in, why);
    } else {
        rc = rt_abi_store_u8(&h.g, retptr, 0);
        if (rc == 0)
            rc = rt_abi_store_strings(&h.g, retptr + 4, names, n);
        if (rc != 0) {
            free(in);
            rc = rt_host_trap(&h);
        } else {
            rt_buf_puts(&out, "{\"ok\":[");
            for (i = 0; i < n; i++) {
                if (i)
                    rt_buf_puts(&out, ",");
                rt_buf_json_str(&out, names[i], strlen(names[i]));
            }
            rt_buf_puts(&out, "]}");
            rc = rt_host_done(&h, IFACE, "list-files", in, out.oom ? NULL : (char *)out.data);
            rt_buf_release(&out);
        }
    }
    for (i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

/* delete-file, create-dir, delete-dir */
static int simple_op(th_wasm_call *call, const th_wasm_val *args, const char *fn, int op)
{
    rt_host h;
    char full[PATH_MAX], *in = NULL;
    const char *why = NULL;
    int rc, r;

    rt_host_begin(&h, call);
    if ((rc = path_arg(&h, args, full, sizeof full, &in, &why)) < 0)
        return rt_host_trap(&h);
    if (rc == 0) {
        r = op == 0 ? unlink(full) : op == 1 ? mkdir(full, 0755) : rmdir(full);
        if (r != 0)
            why = strerror(errno);
    }
    return done_unit(&h, fn, (uint32_t)args[2].i32, in, why);
}

static int h_delete_file(th_wasm_call *call, void *ctx, const th_wasm_val *args, th_wasm_val *results)
{
    (void)ctx, (void)results;
    return simple_op(call, args, "delete-file", 0);
}

static int h_create_dir(th_wasm_call *call, void *ctx, const th_wasm_val *args, th_wasm_val *results)
{
    (void)ctx, (void)results;
    return simple_op(call, args, "create-dir", 1);
}

static int h_delete_dir(th_wasm_call *call, void *ctx, const th_wasm_val *args, th_wasm_val *results)
{
    (void)ctx, (void)results;
    return simple_op(call, args, "delete-dir", 2);
}

static int h_exists(th_wasm_call *call, void *ctx, const th_wasm_val *args, th_wasm_val *results)
{
    rt_host h;
    char full[PATH_MAX], *in = NULL;
    const char *why = NULL;
    uint32_t retptr = (uint32_t)args[2].i32;
    struct stat st;
    bool yes;
    int rc;

    (void)ctx, (void)results;
    rt_host_begin(&h, call);
    if ((rc = path_arg(&h, args, full, sizeof full, &in, &why)) < 0)
        return rt_host_trap(&h);
    if (rc == 1 && strcmp(why, "no such directory") != 0)
        return done_unit(&h, "path-exists", retptr, in, why);
    yes = rc == 0 && lstat(full, &st) == 0;
    if (rt_abi_store_u8(&h.g, retptr, 0) != 0 || rt_abi_store_u8(&h.g, retptr + 4, yes) != 0) {
        free(in);
        return rt_host_trap(&h);
    }
    return rt_host_done(&h, IFACE, "path-exists", in, yes ? "{\"ok\":true}" : "{\"ok\":false}");
}

/* Attenuation: the child's directory is the parent's or below it (both are
 * real paths, resolved when the manifests were read). */
static int subset(const rt_spec *parent, const rt_spec *child, th_error *err)
{
    if (parent->fs_root == NULL || child->fs_root == NULL || !rt_path_inside(parent->fs_root, child->fs_root))
        return th_error_set(err, TH_EPERM, "path '%s' is outside the parent's directory '%s'",
                            child->fs_root ? child->fs_root : "?", parent->fs_root ? parent->fs_root : "?");
    return 0;
}

static const rt_hostfn fns[] = {
    {"read-file", "iii>", h_read},
    {"write-file", "iiiii>", h_write},
    {"list-files", "iii>", h_list},
    {"delete-file", "iii>", h_delete_file},
    {"create-dir", "iii>", h_create_dir},
    {"delete-dir", "iii>", h_delete_dir},
    {"path-exists", "iii>", h_exists},
};

const rt_iface rt_iface_filesystem = {"theater:simple/filesystem", RT_H_FILESYSTEM, fns,
                                      sizeof fns / sizeof fns[0], NULL, subset};
