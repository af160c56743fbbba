/*
 * replay.c - feed every file of a corpus directory through the fuzz
 * harness (fuzz_wasm_one), without libFuzzer: the ctest that keeps the
 * committed corpus (and every crash found and fixed) passing.
 *
 * Usage: fuzz_wasm_replay DIR...   Exit status 0 unless a file cannot be
 * read, the directories hold no file, or no file loads as a module (a
 * corpus that tests nothing: missing, emptied, or no longer reaching the
 * engine past its decoder); a bug shows as a crash or a sanitizer report.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_wasm.h"

static int replay_file(const char *path, unsigned *loaded)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf;
    long len;

    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 ||
        fseek(f, 0, SEEK_SET) != 0) {
        if (f != NULL)
            fclose(f);
        fprintf(stderr, "cannot read %s\n", path);
        return -1;
    }
    buf = malloc(len ? (size_t)len : 1);
    if (buf == NULL || fread(buf, 1, (size_t)len, f) != (size_t)len) {
        free(buf);
        fclose(f);
        fprintf(stderr, "cannot read %s\n", path);
        return -1;
    }
    fclose(f);
    *loaded += (unsigned)fuzz_wasm_one(buf, (size_t)len);
    free(buf);
    return 0;
}

int main(int argc, char **argv)
{
    unsigned files = 0, loaded = 0;
    int status = 0;

    for (int i = 1; i < argc; i++) {
        DIR *dir = opendir(argv[i]);
        struct dirent *e;
        if (dir == NULL) {
            fprintf(stderr, "cannot open %s\n", argv[i]);
            return 1;
        }
        while ((e = readdir(dir)) != NULL) {
            char path[4096];
            if (e->d_name[0] == '.')
                continue;
            snprintf(path, sizeof path, "%s/%s", argv[i], e->d_name);
            if (replay_file(path, &loaded) < 0)
                status = 1;
            files++;
        }
        closedir(dir);
    }
    printf("%u files replayed, %u loaded as modules\n", files, loaded);
    if (files == 0) {
        fprintf(stderr, "fuzz_wasm_replay: no input files: an empty corpus tests nothing\n");
        return 1;
    }
    if (loaded == 0) {
        fprintf(stderr, "fuzz_wasm_replay: no input loaded as a module: the corpus tests nothing "
                        "past the decoder\n");
        return 1;
    }
    return status;
}
