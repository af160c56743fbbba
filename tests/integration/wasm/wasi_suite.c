/*
 * wasi_suite.c - a guest that exercises the WASI layer through wasi-libc the
 * way ordinary C programs do: stdio and POSIX file calls, directories,
 * links, the sandbox boundary, clocks, sleeping and randomness.
 *
 *   theater wasm run --dir HOST::/sandbox wasi_suite.wasm
 *
 * HOST must be an empty directory.  Prints "ok <check>" or "FAIL <check>:
 * <detail>" per check and exits with the number of failures.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SB "/sandbox"

static int failures;

static void check(const char *name, int ok, const char *detail)
{
    if (ok) {
        printf("ok %s\n", name);
    } else {
        printf("FAIL %s: %s (errno %d: %s)\n", name, detail, errno, strerror(errno));
        failures++;
    }
}

static void stdio_files(void)
{
    char line[64] = {0};
    FILE *f = fopen(SB "/a.txt", "w");

    check("fopen-w", f != NULL, "fopen for writing");
    if (f == NULL)
        return;
    fprintf(f, "line one\nline two\n");
    check("fclose", fclose(f) == 0, "fclose");
    f = fopen(SB "/a.txt", "r");
    check("fopen-r", f != NULL, "fopen for reading");
    if (f == NULL)
        return;
    check("fgets", fgets(line, sizeof line, f) && strcmp(line, "line one\n") == 0, line);
    check("fseek-ftell", fseek(f, -9, SEEK_END) == 0 && ftell(f) == 9, "fseek/ftell");
    check("fgets-2", fgets(line, sizeof line, f) && strcmp(line, "line two\n") == 0, line);
    fclose(f);
}

static void posix_files(void)
{
    char buf[32] = {0};
    struct stat st;
    int fd = open(SB "/b.bin", O_RDWR | O_CREAT | O_TRUNC, 0644);

    check("open-rdwr", fd >= 0, "open O_RDWR|O_CREAT");
    if (fd < 0)
        return;
    check("write", write(fd, "abcdefghij", 10) == 10, "write");
    check("lseek", lseek(fd, 2, SEEK_SET) == 2, "lseek");
    check("read", read(fd, buf, 3) == 3 && memcmp(buf, "cde", 3) == 0, "read");
    check("pread", pread(fd, buf, 2, 8) == 2 && memcmp(buf, "ij", 2) == 0, "pread");
    check("pwrite", pwrite(fd, "XY", 2, 0) == 2, "pwrite");
    check("position-kept", lseek(fd, 0, SEEK_CUR) == 5, "pread/pwrite moved the offset");
    check("fstat", fstat(fd, &st) == 0 && st.st_size == 10 && S_ISREG(st.st_mode), "fstat");
    check("ftruncate", ftruncate(fd, 4) == 0 && fstat(fd, &st) == 0 && st.st_size == 4,
          "ftruncate");
    check("fsync", fsync(fd) == 0, "fsync");
    check("close", close(fd) == 0, "close");
    check("close-twice", close(fd) == -1 && errno == EBADF, "second close");
    fd = open(SB "/b.bin", O_RDONLY);
    check("reread", fd >= 0 && read(fd, buf, sizeof buf) == 4 && memcmp(buf, "XYcd", 4) == 0,
          "content");
    check("readonly-write", write(fd, "z", 1) == -1, "write on O_RDONLY");
    close(fd);
    fd = open(SB "/b.bin", O_WRONLY | O_APPEND);
    check("append", fd >= 0 && write(fd, "12", 2) == 2 && fstat(fd, &st) == 0 && st.st_size == 6,
          "O_APPEND");
    close(fd);
    check("excl", open(SB "/b.bin", O_WRONLY | O_CREAT | O_EXCL, 0644) == -1 && errno == EEXIST,
          "O_EXCL");
    check("enoent", open(SB "/nope", O_RDONLY) == -1 && errno == ENOENT, "missing file");
    check("truncate",
          truncate(SB "/b.bin", 1) == 0 && stat(SB "/b.bin", &st) == 0 && st.st_size == 1,
          "truncate");
    check("access", access(SB "/b.bin", F_OK) == 0 && access(SB "/nope", F_OK) == -1, "access");
}

static void directories(void)
{
    struct stat st;
    DIR *d;
    struct dirent *e;
    int seen[60] = {0}, bad = 0, total = 0;
    char path[256];

    check("mkdir", mkdir(SB "/dir", 0755) == 0, "mkdir");
    check("mkdir-exists", mkdir(SB "/dir", 0755) == -1 && errno == EEXIST, "mkdir twice");
    check("stat-dir", stat(SB "/dir", &st) == 0 && S_ISDIR(st.st_mode), "stat dir");
    check("rename",
          rename(SB "/a.txt", SB "/dir/moved.txt") == 0 && access(SB "/dir/moved.txt", F_OK) == 0 &&
              access(SB "/a.txt", F_OK) == -1,
          "rename");
    check("rmdir-notempty", rmdir(SB "/dir") == -1 && errno == ENOTEMPTY, "rmdir non-empty");
    check("unlink", unlink(SB "/dir/moved.txt") == 0, "unlink");
    check("rmdir", rmdir(SB "/dir") == 0 && stat(SB "/dir", &st) == -1, "rmdir");
    /* enough long names that readdir needs several fd_readdir calls */
    check("mkdir-many", mkdir(SB "/many", 0755) == 0, "mkdir");
    for (int i = 0; i < 60; i++) {
        snprintf(path, sizeof path,
                 SB "/many/entry-%02d-with-a-rather-long-name-to-fill-the-buffer-quickly", i);
        int fd = open(path, O_WRONLY | O_CREAT, 0644);
        bad += fd < 0;
        close(fd);
    }
    check("create-many", bad == 0, "creating 60 files");
    d = opendir(SB "/many");
    check("opendir", d != NULL, "opendir");
    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        int n;
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        total++;
        if (sscanf(e->d_name, "entry-%d-", &n) == 1 && n >= 0 && n < 60)
            seen[n]++;
    }
    bad = 0;
    for (int i = 0; i < 60; i++)
        bad += seen[i] != 1;
    check("readdir-all", total == 60 && bad == 0, "every entry exactly once");
    rewinddir(d);
    total = 0;
    while ((e = readdir(d)) != NULL)
        total++;
    check("rewinddir", total == 62, "rewind lists again (60 + . and ..)");
    closedir(d);
    check("chdir", chdir(SB "/many") == 0, "chdir");
    check("relative-open",
          access("entry-07-with-a-rather-long-name-to-fill-the-buffer-quickly", F_OK) == 0,
          "relative path after chdir");
    check("chdir-back", chdir(SB) == 0, "chdir back");
}

static void links(void)
{
    char target[64] = {0};
    struct stat st;
    ssize_t n;
    FILE *f = fopen(SB "/real.txt", "w");

    if (f) {
        fputs("real", f);
        fclose(f);
    }
    check("symlink", symlink("real.txt", SB "/link") == 0, "symlink");
    n = readlink(SB "/link", target, sizeof target - 1);
    check("readlink", n == 8 && strcmp(target, "real.txt") == 0, target);
    check("lstat", lstat(SB "/link", &st) == 0 && S_ISLNK(st.st_mode), "lstat sees the link");
    check("stat-follows", stat(SB "/link", &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 4,
          "stat follows");
    f = fopen(SB "/link", "r");
    check("open-through-link", f != NULL, "fopen through a link");
    if (f)
        fclose(f);
    check("hardlink",
          link(SB "/real.txt", SB "/hard.txt") == 0 && stat(SB "/hard.txt", &st) == 0 &&
              st.st_nlink == 2,
          "link");
    check("symlink-absolute-refused", symlink("/etc/passwd", SB "/abs") == -1, "absolute target");
    check("symlink-up", symlink("../..", SB "/up") == 0, "relative link climbing out");
    errno = 0;
    check("escape-via-link", open(SB "/up/etc/passwd", O_RDONLY) == -1 && errno == ENOTCAPABLE,
          "following ../.. out of the sandbox");
    errno = 0;
    check("escape-dotdot", open(SB "/../etc/passwd", O_RDONLY) == -1, "/sandbox/../etc/passwd");
    errno = 0;
    check("escape-absolute", open("/etc/passwd", O_RDONLY) == -1 && errno == ENOTCAPABLE,
          "/etc/passwd");
    errno = 0;
    check("escape-mkdir", mkdir(SB "/../outside", 0755) == -1, "mkdir outside");
}

static void times_and_random(void)
{
    struct timespec t0, t1, ts = {0, 10 * 1000 * 1000}, cpu;
    struct stat st;
    struct timespec times[2] = {{1000000000, 0}, {1234567890, 500}};
    uint8_t a[32] = {0}, b[32] = {0};
    int fd;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    check("nanosleep", nanosleep(&ts, NULL) == 0, "nanosleep");
    clock_gettime(CLOCK_MONOTONIC, &t1);
    check("slept", (t1.tv_sec - t0.tv_sec) * 1000000000L + (t1.tv_nsec - t0.tv_nsec) >= 10000000L,
          "at least 10 ms passed");
    check("realtime", time(NULL) > 1600000000, "wall clock after 2020");
    check("cputime", clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu) == 0, "process cputime");
    check("getentropy",
          getentropy(a, sizeof a) == 0 && getentropy(b, sizeof b) == 0 &&
              memcmp(a, b, sizeof a) != 0,
          "two different draws");
    fd = open(SB "/real.txt", O_RDWR);
    check("futimens",
          fd >= 0 && futimens(fd, times) == 0 && fstat(fd, &st) == 0 &&
              st.st_mtim.tv_sec == 1234567890,
          "set mtime");
    close(fd);
    check("utimensat",
          utimensat(AT_FDCWD, SB "/real.txt", times, 0) == 0 && stat(SB "/real.txt", &st) == 0 &&
              st.st_atim.tv_sec == 1000000000,
          "set atime by path");
}

int main(void)
{
    stdio_files();
    posix_files();
    directories();
    links();
    times_and_random();
    printf("%d failure%s\n", failures, failures == 1 ? "" : "s");
    return failures;
}
