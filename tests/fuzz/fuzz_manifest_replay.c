/*
 * fuzz_manifest_replay.c - feed every file of a corpus directory through
 * the manifest harness (fuzz_manifest_one) without libFuzzer: the ctest
 * that keeps the committed corpus passing.
 *
 * Usage: fuzz_manifest_replay DIR...   Exit status 0 unless a directory or
 * file cannot be read, or no manifest was accepted at all (a corpus that
 * no longer reaches the checks past parsing).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_manifest.h"

static int replay_file(const char *path, unsigned *accepted)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    long len;

    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0 ||
        (buf = malloc(len ? (size_t)len : 1)) == NULL || fread(buf, 1, (size_t)len, f) != (size_t)len) {
        if (f != NULL)
            fclose(f);
        free(buf);
        fprintf(stderr, "cannot read %s\n", path);
        return -1;
    }
    fclose(f);
    *accepted += (unsigned)fuzz_manifest_one(buf, (size_t)len);
    free(buf);
    return 0;
}

int main(int argc, char **argv)
{
    unsigned files = 0, accepted = 0;
    char path[4096];
    int status = 0;

    for (int i = 1; i < argc; i++) {
        DIR *dir = opendir(argv[i]);
        struct dirent *e;
        if (dir == NULL) {
            fprintf(stderr, "cannot open %s\n", argv[i]);
            return 1;
        }
        while ((e = readdir(dir)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            snprintf(path, sizeof path, "%s/%s", argv[i], e->d_name);
            if (replay_file(path, &accepted) != 0)
                status = 1;
            files++;
        }
        closedir(dir);
    }
    printf("%u files, %u manifests accepted\n", files, accepted);
    return status != 0 || accepted == 0 ? 1 : 0;
}
