/*
 * hello.c - the demo guest: a plain C program compiled to wasm32-wasi that
 * touches each WASI capability the engine offers.
 *
 *   theater wasm run --dir HOST::/sandbox --env GREETING=hi hello.wasm [NAME] [--exit N]
 *
 * It prints its arguments and the GREETING variable, reads the clocks,
 * draws random numbers, keeps a visit counter in /sandbox/visits.txt,
 * reads /sandbox/note.txt if the host left one, lists /sandbox, shows that paths outside /sandbox
 * are refused, and exits with status N when given --exit N.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SANDBOX "/sandbox"

static double elapsed_ms(const struct timespec *a, const struct timespec *b)
{
    return (double)(b->tv_sec - a->tv_sec) * 1e3 + (double)(b->tv_nsec - a->tv_nsec) / 1e6;
}

/* A little work to time: count the primes below n. */
static unsigned count_primes(unsigned n)
{
    unsigned count = 0;
    for (unsigned i = 2; i < n; i++) {
        unsigned d = 2;
        while (d * d <= i && i % d != 0)
            d++;
        count += d * d > i;
    }
    return count;
}

static void show_clocks(void)
{
    struct timespec t0, t1, res;
    time_t now = time(NULL);
    char buf[64];
    unsigned primes;

    strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", gmtime(&now));
    printf("clock:   the wall clock says %s\n", buf);
    clock_getres(CLOCK_MONOTONIC, &res);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    primes = count_primes(200000);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("clock:   counted %u primes below 200000 in %.1f ms "
           "(monotonic clock, resolution %ld ns)\n",
           primes, elapsed_ms(&t0, &t1), (long)res.tv_nsec);
}

static void show_random(void)
{
    uint8_t bytes[8];
    uint32_t die[5];

    if (getentropy(bytes, sizeof bytes) != 0) {
        printf("random:  getentropy failed: %s\n", strerror(errno));
        return;
    }
    printf("random:  8 fresh bytes: ");
    for (size_t i = 0; i < sizeof bytes; i++)
        printf("%02x", bytes[i]);
    if (getentropy(die, sizeof die) == 0) {
        printf(", five dice:");
        for (int i = 0; i < 5; i++)
            printf(" %u", (unsigned)(die[i] % 6 + 1));
    }
    printf("\n");
}

/* Read the visit counter from the sandbox, bump it, write it back. */
static void visit_file(void)
{
    const char *path = SANDBOX "/visits.txt";
    unsigned visits = 0;
    FILE *f = fopen(path, "r");

    if (f != NULL) {
        if (fscanf(f, "%u", &visits) != 1)
            visits = 0;
        fclose(f);
    } else if (errno != ENOENT) {
        printf("file:    no %s (%s): run with --dir HOSTDIR::%s\n", SANDBOX, strerror(errno),
               SANDBOX);
        return;
    }
    visits++;
    f = fopen(path, "w");
    if (f == NULL) {
        printf("file:    cannot write %s: %s\n", path, strerror(errno));
        return;
    }
    fprintf(f, "%u\n", visits);
    fclose(f);
    printf("file:    %s now says this program ran %u time%s\n", path, visits,
           visits == 1 ? "" : "s");
}

/* Show the first line of a note the host may have left in the sandbox. */
static void read_note(void)
{
    char line[200];
    FILE *f = fopen(SANDBOX "/note.txt", "r");

    if (f == NULL)
        return;
    if (fgets(line, sizeof line, f) != NULL) {
        line[strcspn(line, "\n")] = 0;
        printf("file:    %s/note.txt says \"%s\"\n", SANDBOX, line);
    }
    fclose(f);
}

static void list_sandbox(void)
{
    DIR *d = opendir(SANDBOX);
    struct dirent *e;

    if (d == NULL)
        return;
    printf("file:    %s holds:", SANDBOX);
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            printf(" %s", e->d_name);
    printf("\n");
    closedir(d);
}

static void try_escape(const char *path)
{
    FILE *f = fopen(path, "r");

    if (f != NULL) {
        printf("sandbox: opened %s -- this should not happen!\n", path);
        fclose(f);
    } else {
        printf("sandbox: %s is out of reach (%s)\n", path, strerror(errno));
    }
}

int main(int argc, char **argv)
{
    const char *name = "world";
    const char *greeting = getenv("GREETING");
    int status = 0;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--exit") == 0 && i + 1 < argc)
            status = atoi(argv[++i]);
        else
            name = argv[i];
    }
    printf("hello, %s! (a C program running on theater's WebAssembly engine)\n", name);
    printf("args:    %d:", argc);
    for (int i = 0; i < argc; i++)
        printf(" [%s]", argv[i]);
    printf("\n");
    printf("env:     GREETING=%s\n", greeting ? greeting : "(not set; try --env GREETING=hi)");
    show_clocks();
    show_random();
    visit_file();
    read_note();
    list_sandbox();
    try_escape(SANDBOX "/../etc/passwd");
    try_escape("/etc/passwd");
    if (status != 0)
        printf("exit:    leaving with status %d\n", status);
    fflush(stdout);
    return status;
}
