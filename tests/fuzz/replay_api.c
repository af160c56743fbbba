/*
 * replay_api.c - every file of the API corpus through fuzz_api_one,
 * without libFuzzer (ctest fuzz.api_corpus): a request that once broke
 * the daemon stays fixed.
 *
 * Usage: fuzz_api_replay DIR.  Exit status 0 unless a file cannot be read
 * or the server stopped answering; a bug shows as a crash or a sanitizer
 * report.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_api.h"

int main(int argc, char **argv)
{
    unsigned files = 0;
    DIR *dir;
    struct dirent *e;
    int status = 0;

    if (argc != 2 || (dir = opendir(argv[1])) == NULL) {
        fprintf(stderr, "usage: fuzz_api_replay CORPUS_DIR\n");
        return 1;
    }
    while ((e = readdir(dir)) != NULL) {
        char path[4096];
        unsigned char buf[65536];
        size_t n;
        FILE *f;
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", argv[1], e->d_name);
        if ((f = fopen(path, "rb")) == NULL) {
            fprintf(stderr, "cannot read %s\n", path);
            status = 1;
            continue;
        }
        n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        fuzz_api_one(buf, n);
        files++;
    }
    closedir(dir);
    fuzz_api_finish();
    printf("%u requests replayed\n", files);
    return files == 0 ? 1 : status;
}
