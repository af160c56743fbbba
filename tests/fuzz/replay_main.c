/*
 * replay_main.c - a main() for any harness that defines
 * LLVMFuzzerTestOneInput: feeds it every file of the directories given, so
 * ctest keeps a committed corpus (and every crash found and fixed) passing
 * without libFuzzer.  Built with -fsanitize=fuzzer instead, the same
 * harness is the libFuzzer target.
 *
 * Usage: PROGRAM DIR...   Exit status 0 unless a directory or file cannot
 * be read or none holds a file; a bug shows as a crash or a sanitizer
 * report.
 */
#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A harness may count the inputs that got past its parser; when it does,
 * a corpus none of whose inputs does any more fails the replay (it no
 * longer tests what it was made for). */
unsigned fuzz_replay_reached(void) __attribute__((weak));

static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    long len;

    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 ||
        fseek(f, 0, SEEK_SET) != 0 || (buf = malloc(len ? (size_t)len : 1)) == NULL ||
        fread(buf, 1, (size_t)len, f) != (size_t)len) {
        fprintf(stderr, "cannot read %s\n", path);
        if (f != NULL)
            fclose(f);
        free(buf);
        return -1;
    }
    fclose(f);
    LLVMFuzzerTestOneInput(buf, (size_t)len);
    free(buf);
    return 0;
}

int main(int argc, char **argv)
{
    unsigned files = 0;
    int status = 0;

    for (int i = 1; i < argc; i++) {
        DIR *dir = opendir(argv[i]);
        struct dirent *e;
        char path[4096];

        if (dir == NULL) {
            fprintf(stderr, "cannot open %s\n", argv[i]);
            return 1;
        }
        while ((e = readdir(dir)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            if (snprintf(path, sizeof path, "%s/%s", argv[i], e->d_name) >= (int)sizeof path)
                continue;
            status |= replay_file(path) != 0;
            files++;
        }
        closedir(dir);
    }
    if (fuzz_replay_reached != NULL) {
        printf("%u inputs replayed, %u past the parser\n", files, fuzz_replay_reached());
        if (fuzz_replay_reached() == 0)
            status = 1;
    } else {
        printf("%u inputs replayed\n", files);
    }
    if (files == 0) {
        fprintf(stderr, "no input files: an empty corpus tests nothing\n");
        return 1;
    }
    return status;
}
