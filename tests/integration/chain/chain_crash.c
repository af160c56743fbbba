/*
 * chain_crash.c - crash test of the event chains.  Many rounds of: fork a
 * child that appends events to many chains as fast as it can (fsync'ed
 * group commits), SIGKILL it at a random moment, then check that
 *   - the database opens (read-only, as left by the crash, and writable,
 *     which re-indexes the segments committed after the last index flush),
 *   - every chain verifies (hashes, links, signatures: no torn or partial
 *     event is visible), and
 *   - every event the writer had reported durable before the kill is there
 *     (the child's durability listener records, per chain, how many events
 *     are durable, in memory shared with the parent).
 *
 * Usage: chain_crash [ROUNDS] (default 20); THEATER_CRASH_SEED fixes the
 * random kill times.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "theater/chain.h"

#define NACTORS 64

static uint64_t *durable; /* shared: per chain, events known durable */

static void on_durable(void *ud, const th_chain_event *ev)
{
    int i = atoi(ev->actor + 6); /* "crash-NN" */

    (void)ud;
    if (i >= 0 && i < NACTORS)
        __atomic_store_n(&durable[i], ev->seq + 1, __ATOMIC_RELEASE);
}

static void child(const char *home, unsigned seed)
{
    th_chain_config cfg = {0};
    char actor[32], desc[32];
    unsigned char data[400];
    th_chain *c;
    th_error err;
    uint64_t id, k;
    size_t len, j;

    cfg.home = home;
    cfg.index_flush_ms = 1 + seed % 20; /* so kills also land in index flushes */
    if (th_chain_open(&cfg, &c, &err) != TH_OK) {
        fprintf(stderr, "child: open: %s\n", err.msg);
        _exit(3);
    }
    th_chain_subscribe(c, on_durable, NULL, &id, &err);
    srand(seed);
    for (k = 0;; k++) {
        snprintf(actor, sizeof actor, "crash-%02d", (int)(k % NACTORS));
        len = (size_t)(rand() % (int)sizeof data);
        for (j = 0; j < len; j++)
            data[j] = (unsigned char)(k + j);
        snprintf(desc, sizeof desc, "event %llu", (unsigned long long)k);
        if (th_chain_append(c, actor, k % 7 ? "wasm-call" : "message", data, len,
                            k % 5 ? NULL : desc, NULL, &err) != TH_OK) {
            fprintf(stderr, "child: append: %s\n", err.msg);
            _exit(4);
        }
    }
}

static int check(const char *home, int writable, int round, uint64_t *events)
{
    th_chain_config cfg = {0};
    th_chain_verify_result res;
    th_chain_head head;
    th_chain *c;
    th_error err;
    char actor[32];
    uint64_t want;
    int i, bad = 0, rc;

    cfg.home = home;
    cfg.read_only = !writable;
    rc = th_chain_open(&cfg, &c, &err);
    if (rc == TH_ENOENT && !writable) { /* killed before the database existed */
        for (i = 0; i < NACTORS; i++)
            if (__atomic_load_n(&durable[i], __ATOMIC_ACQUIRE) != 0)
                bad = 1;
        if (bad)
            fprintf(stderr, "round %d: no database, but events were durable\n", round);
        return bad;
    }
    if (rc != TH_OK) {
        fprintf(stderr, "round %d: database does not open (%s): %s\n", round,
                writable ? "writable" : "read-only", err.msg);
        return 1;
    }
    if (th_chain_verify(c, NULL, &res, &err) != TH_OK) {
        fprintf(stderr, "round %d: verification failed (%s): %s\n", round,
                writable ? "after recovery" : "as left by the crash", err.msg);
        bad = 1;
    }
    *events = res.events;
    for (i = 0; i < NACTORS && !bad; i++) {
        want = __atomic_load_n(&durable[i], __ATOMIC_ACQUIRE);
        if (want == 0)
            continue;
        snprintf(actor, sizeof actor, "crash-%02d", i);
        if (th_chain_head_get(c, actor, &head, &err) != TH_OK || head.count < want) {
            fprintf(stderr, "round %d: %s has %llu events, %llu were reported durable\n", round,
                    actor, (unsigned long long)(err.code ? 0 : head.count),
                    (unsigned long long)want);
            bad = 1;
        }
    }
    if (th_chain_close(c) != TH_OK) {
        fprintf(stderr, "round %d: close failed\n", round);
        bad = 1;
    }
    return bad;
}

int main(int argc, char **argv)
{
    char home[] = "/tmp/theater-crash-XXXXXX", cmd[100];
    unsigned seed = getenv("THEATER_CRASH_SEED") ? (unsigned)atoi(getenv("THEATER_CRASH_SEED"))
                                                 : (unsigned)time(NULL);
    int rounds = argc > 1 ? atoi(argv[1]) : 20, r, status, failed = 0;
    uint64_t events = 0, durable_total, i;
    struct timespec ts;
    pid_t pid;

    if (mkdtemp(home) == NULL)
        return 1;
    durable = mmap(NULL, NACTORS * sizeof *durable, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (durable == MAP_FAILED)
        return 1;
    memset(durable, 0, NACTORS * sizeof *durable);
    printf("chain_crash: %d rounds, seed %u, home %s\n", rounds, seed, home);
    srand(seed);
    for (r = 0; r < rounds && !failed; r++) {
        long delay_ms = 5 + rand() % 120;
        fflush(stdout);
        pid = fork();
        if (pid < 0)
            return 1;
        if (pid == 0)
            child(home, seed + (unsigned)r);
        ts.tv_sec = 0;
        ts.tv_nsec = delay_ms * 1000000L;
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        if (!WIFSIGNALED(status)) {
            fprintf(stderr, "round %d: child exited early (status %d)\n", r, status);
            failed = 1;
            break;
        }
        durable_total = 0;
        for (i = 0; i < NACTORS; i++)
            durable_total += durable[i];
        failed = check(home, 0, r, &events) || check(home, 1, r, &events);
        printf("round %2d: killed after %3ld ms; %8llu events stored, %8llu reported durable; "
               "verified\n",
               r, delay_ms, (unsigned long long)events, (unsigned long long)durable_total);
    }
    snprintf(cmd, sizeof cmd, "rm -rf %s", home);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", home);
    if (failed) {
        fprintf(stderr, "chain_crash: FAILED (seed %u)\n", seed);
        return 1;
    }
    printf("chain_crash: %d kills survived\n", rounds);
    return 0;
}
