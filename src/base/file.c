/*
 * file.c - opening and reading files named by users and manifests: regular
 * files only, never blocking in open(), never reading beyond a limit (see
 * file.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/file.h"

static const char *kind_name(mode_t m)
{
    if (S_ISDIR(m))
        return "a directory";
    if (S_ISFIFO(m))
        return "a FIFO (named pipe)";
    if (S_ISCHR(m))
        return "a character device";
    if (S_ISBLK(m))
        return "a block device";
    if (S_ISSOCK(m))
        return "a socket";
    return "not a regular file";
}

int base_file_open(const char *path, const char *what, uint64_t max, int *fd, uint64_t *size,
                   th_error *err)
{
    struct stat st;
    int f, flags, e;

    *fd = -1;
    if (path == NULL || path[0] == '\0')
        return th_error_set(err, TH_EINVAL, "%s: empty file name", what);
    /* O_NONBLOCK: opening a FIFO without a writer, or a device, must not
     * wait; it has no effect on reads of a regular file. */
    f = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (f < 0) {
        e = errno;
        return th_error_set(err, e == ENOENT ? TH_ENOENT : TH_EIO, "cannot open %s %s: %s", what,
                            path, strerror(e));
    }
    if (fstat(f, &st) != 0) {
        e = errno;
        close(f);
        return th_error_set(err, TH_EIO, "cannot stat %s %s: %s", what, path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(f);
        return th_error_set(err, TH_EINVAL, "%s %s is %s; only regular files are read", what, path,
                            kind_name(st.st_mode));
    }
    if (st.st_size < 0 || (uint64_t)st.st_size > max) {
        close(f);
        return th_error_set(err, TH_ETOOBIG, "%s %s is %lld bytes, above the limit of %llu", what,
                            path, (long long)st.st_size, (unsigned long long)max);
    }
    flags = fcntl(f, F_GETFL);
    if (flags >= 0)
        (void)fcntl(f, F_SETFL, flags & ~O_NONBLOCK);
    *fd = f;
    if (size != NULL)
        *size = (uint64_t)st.st_size;
    return TH_OK;
}

int base_file_fopen(const char *path, const char *what, uint64_t max, FILE **out, th_error *err)
{
    int fd, rc;

    *out = NULL;
    if ((rc = base_file_open(path, what, max, &fd, NULL, err)) != TH_OK)
        return rc;
    if ((*out = fdopen(fd, "rb")) == NULL) {
        close(fd);
        return th_error_set(err, TH_ENOMEM, "out of memory opening %s", path);
    }
    return TH_OK;
}

/* Read from fd until EOF into a buffer, starting with room for `hint`
 * bytes; more than `max` bytes is an error. */
static int read_all(int fd, const char *name, uint64_t max, uint64_t hint, uint8_t **out,
                    size_t *len, th_error *err)
{
    size_t cap = (size_t)(hint < max ? hint : max) + 1, n = 0;
    uint8_t *buf = malloc(cap), *nb;
    ssize_t got;

    *out = NULL;
    *len = 0;
    if (buf == NULL)
        return th_error_set(err, TH_ENOMEM, "out of memory reading %s", name);
    for (;;) {
        if (n + 1 >= cap) { /* keep a byte for the NUL, and one to see growth past max */
            if ((uint64_t)cap > max + 1) {
                free(buf);
                return th_error_set(err, TH_ETOOBIG, "%s is larger than the limit of %llu bytes",
                                    name, (unsigned long long)max);
            }
            cap = (uint64_t)cap * 2 > max + 2 ? (size_t)(max + 2) : cap * 2;
            if ((nb = realloc(buf, cap)) == NULL) {
                free(buf);
                return th_error_set(err, TH_ENOMEM, "out of memory reading %s", name);
            }
            buf = nb;
        }
        got = read(fd, buf + n, cap - 1 - n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            int e = errno;
            free(buf);
            return th_error_set(err, TH_EIO, "cannot read %s: %s", name, strerror(e));
        }
        if (got == 0)
            break;
        n += (size_t)got;
        if ((uint64_t)n > max) {
            free(buf);
            return th_error_set(err, TH_ETOOBIG, "%s is larger than the limit of %llu bytes", name,
                                (unsigned long long)max);
        }
    }
    buf[n] = 0;
    *out = buf;
    *len = n;
    return TH_OK;
}

int base_fd_read(int fd, const char *name, uint64_t max, uint8_t **out, size_t *len, th_error *err)
{
    return read_all(fd, name, max, 65536, out, len, err);
}

int base_file_read(const char *path, const char *what, uint64_t max, uint8_t **out, size_t *len,
                   th_error *err)
{
    uint64_t size;
    int fd, rc;

    *out = NULL;
    *len = 0;
    if ((rc = base_file_open(path, what, max, &fd, &size, err)) != TH_OK)
        return rc;
    rc = read_all(fd, path, max, size, out, len, err);
    close(fd);
    return rc;
}
