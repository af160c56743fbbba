/*
 * filesystem.c - the `filesystem` interface, confined to the directory the
 * manifest names (`path` of the handler, resolved with realpath when the
 * manifest is loaded).  Guest paths are relative to it; absolute paths and
 * `..` components are refused, and the real path of the target (or, for a
 * new file or directory, of its parent) must lie inside the directory, so a
 * symlink cannot lead out.  A child's directory is its parent's or below
 * it (settings_subset), and the files a spawn by the actor reads (its
 * child's manifest, component, init_state file) must lie inside it
 * (grant_file).  delete-dir removes the directory with everything in it,
 * as the original's did, never following a symlink (a link inside is
 * removed, not what it points to) nor crossing into another mount; the
 * root of the grant itself cannot be deleted.  Lifting, lowering and
 * recording are the generated glue's (wit_glue.h); content over 8 MiB is
 * recorded by size.
 */
#define _GNU_SOURCE /* nftw's FTW_DEPTH, FTW_PHYS, FTW_MOUNT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "handlers/handlers_int.h"
#include "runtime/manifest.h"
#include "wit_glue.h"

#define RT_FS_MAX_FILE TH_RT_FS_MAX_FILE
#define RT_FS_RECORD_MAX (8u * 1024u * 1024u) /* larger reads are recorded by size */

/* Resolve the guest's `path` under the actor's root into `out`.  0, or an
 * error text. */
static const char *resolve(rt_actor *a, const wit_str *path, char *out, size_t cap)
{
    const hs_filesystem *fs = rt_spec_settings(rt_actor_spec(a), HANDLER_FILESYSTEM);
    const char *root = fs != NULL ? fs->root : NULL, *rel = path->ptr, *p;
    char real[PATH_MAX], tmp[PATH_MAX];
    size_t n;

    if (root == NULL)
        return "no directory configured for the filesystem handler";
    /* a NUL would end the path early: "a.txt\0.bak" is not "a.txt" */
    if (strlen(rel) != path->len)
        return "a path cannot hold a NUL character";
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

/* err(why) into a result's error string. */
static int fail(rt_host *h, bool *is_err, wit_str *err, const char *why)
{
    *is_err = true;
    return wit_str_set(h, err, why);
}

/* A summary record {"bytes": n, "not_recorded": true} for content too large
 * to record; `ok` wraps it as a result. */
static char *size_record(size_t n, bool ok)
{
    char buf[96];

    snprintf(buf, sizeof buf, "%s{\"bytes\":%zu,\"not_recorded\":true}%s", ok ? "{\"ok\":" : "", n,
             ok ? "}" : "");
    return strdup(buf);
}

static int f_read(rt_host *h, wit_str *path, wit_res_bytes_str *ret)
{
    char full[PATH_MAX];
    const char *why = resolve(h->a, path, full, sizeof full);
    uint8_t *buf = NULL;
    struct stat st;
    int fd = -1;
    ssize_t got = 0, r;

    if (why == NULL) {
        /* O_NONBLOCK: a FIFO or device must not block the open (only a
         * regular file is read; it has no effect on those) */
        fd = open(full, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
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
        return fail(h, &ret->is_err, &ret->err, why);
    }
    ret->ok.ptr = buf;
    ret->ok.len = (size_t)got;
    /* the content goes into the record (for replay) unless it is huge */
    if ((size_t)got > RT_FS_RECORD_MAX && (h->output = size_record((size_t)got, true)) == NULL)
        return th_error_set(&h->err, TH_ENOMEM, "out of memory");
    return 0;
}

static int f_write(rt_host *h, wit_str *path, wit_str *content, wit_res_unit_str *ret)
{
    char full[PATH_MAX];
    const char *why = resolve(h->a, path, full, sizeof full);
    size_t off = 0;
    ssize_t w;
    int fd;

    if (content->len > RT_FS_RECORD_MAX) {
        /* record the path and the size, not the content */
        rt_buf in = {0};
        rt_buf_puts(&in, "{\"path\":");
        rt_buf_json_str(&in, path->ptr, path->len);
        rt_buf_printf(&in, ",\"content\":{\"bytes\":%zu,\"not_recorded\":true}}", content->len);
        free(h->input);
        h->input = in.oom ? NULL : (char *)in.data;
        if (in.oom)
            rt_buf_release(&in);
    }
    if (why == NULL) {
        /* O_NONBLOCK: opening a FIFO without a reader must not block
         * (ENXIO); only regular files are written */
        struct stat st;
        fd = open(full,
                  O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC,
                  0644);
        if (fd < 0) {
            why = errno == ENXIO ? "not a regular file" : strerror(errno);
        } else if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
            why = "not a regular file";
            close(fd);
        } else {
            while (off < content->len &&
                   (w = write(fd, content->ptr + off, content->len - off)) > 0)
                off += (size_t)w;
            if (off < content->len)
                why = strerror(errno);
            close(fd);
        }
    }
    return why != NULL ? fail(h, &ret->is_err, &ret->err, why) : 0;
}

static int cmp_str(const void *x, const void *y)
{
    return strcmp(((const wit_str *)x)->ptr, ((const wit_str *)y)->ptr);
}

static int f_list(rt_host *h, wit_str *path, wit_res_list_str_str *ret)
{
    char full[PATH_MAX];
    const char *why = resolve(h->a, path, full, sizeof full);
    wit_list_str *l = &ret->ok;
    size_t cap = 0;
    struct dirent *de;
    wit_str *nv;
    DIR *d;

    if (why == NULL) {
        if ((d = opendir(full)) == NULL) {
            why = strerror(errno);
        } else {
            while ((de = readdir(d)) != NULL) {
                /* a name that is not UTF-8 cannot be a WIT string: left
                 * out, as the original's list-files did */
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
                    !rt_utf8_valid((const uint8_t *)de->d_name, strlen(de->d_name)))
                    continue;
                if (l->len == cap) {
                    cap = cap ? cap * 2 : 16;
                    if ((nv = realloc(l->ptr, cap * sizeof *nv)) == NULL) {
                        why = "out of memory";
                        break;
                    }
                    l->ptr = nv;
                }
                memset(&l->ptr[l->len], 0, sizeof l->ptr[0]);
                l->len++;
                if (wit_str_set(h, &l->ptr[l->len - 1], de->d_name) != 0) {
                    why = "out of memory";
                    break;
                }
            }
            closedir(d);
        }
    }
    if (why != NULL)
        return fail(h, &ret->is_err, &ret->err, why);
    if (l->len > 1)
        qsort(l->ptr, l->len, sizeof *l->ptr, cmp_str);
    return 0;
}

/* delete-file, create-dir */
static int simple_op(rt_host *h, const wit_str *path, int op, wit_res_unit_str *ret)
{
    char full[PATH_MAX];
    const char *why = resolve(h->a, path, full, sizeof full);
    int r;

    if (why == NULL) {
        r = op == 0 ? unlink(full) : mkdir(full, 0755);
        if (r != 0)
            why = strerror(errno);
    }
    return why != NULL ? fail(h, &ret->is_err, &ret->err, why) : 0;
}

/* The first errno of a tree removal (nftw's callback has no user data). */
static __thread int rm_errno;

/* nftw callback, depth first: each entry is removed after what is inside
 * it; a symlink is an entry like a file (FTW_PHYS). */
static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
    (void)st, (void)f;
    if (flag == FTW_DNR || flag == FTW_NS) {
        rm_errno = errno != 0 ? errno : EACCES;
        return 1;
    }
    if ((flag == FTW_DP ? rmdir(path) : unlink(path)) != 0) {
        rm_errno = errno;
        return 1;
    }
    return 0;
}

static int f_delete_dir(rt_host *h, wit_str *path, wit_res_unit_str *ret)
{
    const hs_filesystem *fs = rt_spec_settings(rt_actor_spec(h->a), HANDLER_FILESYSTEM);
    char full[PATH_MAX], real[PATH_MAX];
    const char *why = resolve(h->a, path, full, sizeof full);
    struct stat st;

    if (why == NULL) {
        if (lstat(full, &st) != 0)
            why = strerror(errno);
        else if (!S_ISDIR(st.st_mode))
            why = strerror(ENOTDIR);
        else if (realpath(full, real) == NULL)
            why = strerror(errno);
        else if (strcmp(real, fs->root) == 0)
            why = "the handler's directory itself cannot be deleted";
    }
    if (why == NULL) {
        /* at most 16 directories open at once, whatever the depth */
        rm_errno = 0;
        if (nftw(full, rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) != 0)
            why = strerror(rm_errno != 0 ? rm_errno : errno);
    }
    return why != NULL ? fail(h, &ret->is_err, &ret->err, why) : 0;
}

static int f_delete_file(rt_host *h, wit_str *path, wit_res_unit_str *ret)
{
    return simple_op(h, path, 0, ret);
}

static int f_create_dir(rt_host *h, wit_str *path, wit_res_unit_str *ret)
{
    return simple_op(h, path, 1, ret);
}

/* A path under a missing directory does not exist (not an error). */
static int f_exists(rt_host *h, wit_str *path, wit_res_bool_str *ret)
{
    char full[PATH_MAX];
    const char *why = resolve(h->a, path, full, sizeof full);
    struct stat st;

    if (why != NULL && strcmp(why, "no such directory") != 0)
        return fail(h, &ret->is_err, &ret->err, why);
    ret->ok = why == NULL && lstat(full, &st) == 0;
    return 0;
}

/* ---- settings: path = "directory" (must exist) ---- */

static void settings_release(void *p)
{
    free(((hs_filesystem *)p)->root);
}

static int settings_read(rt_manifest_reader *r, const toml_value *h, const char *prefix, void *p)
{
    char *rel = NULL, *abs = NULL, real[PATH_MAX];
    hs_filesystem *s = p;
    struct stat st;
    int line = 0, rc;

    if ((rc = rt_manifest_string(r, h, prefix, "path", true, true, TH_MANIFEST_MAX_PATH_BYTES, &rel,
                                 &line)) != 0)
        return rc;
    /* realpath into a buffer: with NULL, glibc reports a failed allocation
     * as EINVAL */
    if ((abs = rt_manifest_path(r, rel)) == NULL) {
        rc = rt_manifest_nomem(r);
    } else if (realpath(abs, real) == NULL || stat(real, &st) != 0) {
        rc = rt_manifest_fail(r, line, errno == ENOMEM ? TH_ENOMEM : TH_ENOENT,
                              "field '%s.path': directory '%s': %s", prefix, abs, strerror(errno));
    } else if ((s->root = strdup(real)) == NULL) {
        rc = rt_manifest_nomem(r);
    } else if (!S_ISDIR(st.st_mode)) {
        rc = rt_manifest_fail(r, line, TH_EINVAL, "field '%s.path': '%s' is not a directory",
                              prefix, abs);
    }
    free(rel);
    free(abs);
    return rc;
}

/* Attenuation: the child's directory is the parent's or below it (both are
 * real paths, resolved when the manifests were read). */
static int settings_subset(const void *parent, const void *child, th_error *err)
{
    const hs_filesystem *p = parent, *c = child;
    const char *pr = p != NULL ? p->root : NULL, *cr = c != NULL ? c->root : NULL;

    if (pr == NULL || cr == NULL || !rt_path_inside(pr, cr))
        return th_error_set(err, TH_EPERM, "path '%s' is outside the parent's directory '%s'",
                            cr ? cr : "?", pr ? pr : "?");
    return 0;
}

/* A file a spawn by the actor reads: its real path inside the directory.
 * A path outside gets one answer whether or not it exists
 * (rt_path_where); "no such file" only for one that would lie inside. */
static int grant_file(const void *settings, const char *path, const char *what, char **real,
                      th_error *err)
{
    const hs_filesystem *s = settings;
    char where[PATH_MAX];
    bool exists = false;
    int rc;

    *real = NULL;
    rc = rt_path_where(path, where, &exists);
    if (rc == TH_EINVAL)
        return th_error_set(err, TH_EINVAL, "%s '%s': not an absolute path of at most %d bytes",
                            what, path, PATH_MAX - 1);
    if (rc != 0 || !rt_path_inside(s->root, where))
        return th_error_set(err, TH_EPERM,
                            "%s '%s' is outside the filesystem grant '%s' of the spawning actor",
                            what, path, s->root);
    if (!exists)
        return th_error_set(err, TH_ENOENT, "%s '%s': %s", what, path, strerror(ENOENT));
    if ((*real = strdup(where)) == NULL)
        return th_error_set(err, TH_ENOMEM, "out of memory");
    return 0;
}

static const char *const fields[] = {"path", NULL};

static const wit_impl_filesystem impl = {
    .read_file = f_read,
    .write_file = f_write,
    .list_files = f_list,
    .delete_file = f_delete_file,
    .create_dir = f_create_dir,
    .delete_dir = f_delete_dir,
    .path_exists = f_exists,
};

const rt_iface rt_iface_filesystem = {
    .name = "filesystem",
    .module = "theater:simple/filesystem",
    .handler = HANDLER_FILESYSTEM,
    .fns = wit_fns_filesystem,
    .nfns = WIT_NFNS_FILESYSTEM,
    .impl = &impl,
    .fields = fields,
    .settings_size = sizeof(hs_filesystem),
    .settings_read = settings_read,
    .settings_release = settings_release,
    .settings_subset = settings_subset,
    .grant_file = grant_file,
};
