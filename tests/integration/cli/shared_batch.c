/*
 * shared_batch.c - two chains whose events are committed in the same
 * batches (segments), for cli/shared_batch.py: what two actors of a daemon
 * that record at the same moments (e.g. stopped together) leave in a home.
 *
 *   shared_batch HOME A B N      append N events to chain A and N to chain
 *                                B, one of each per batch (each batch is
 *                                flushed before the next), so every
 *                                segment holds an event of both chains
 *
 * Exit status 0, or 1 with a message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "theater/chain.h"

static int append(th_chain *c, const char *actor, unsigned i)
{
    char data[100];
    th_error err;

    snprintf(data, sizeof data, "{\"function\":\"handle-send\",\"params\":[\"%u\"]}", i);
    if (th_chain_append(c, actor, "wasm-call", data, strlen(data), NULL, NULL, &err) != TH_OK) {
        fprintf(stderr, "shared_batch: appending to %s: %s\n", actor, err.msg);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    th_chain_config cfg = {0};
    th_chain *c;
    th_error err;
    unsigned i, n;
    int bad = 0;

    if (argc != 5 || (n = (unsigned)strtoul(argv[4], NULL, 10)) == 0) {
        fprintf(stderr, "usage: shared_batch HOME A B N\n");
        return 2;
    }
    cfg.home = argv[1];
    if (th_chain_open(&cfg, &c, &err) != TH_OK) {
        fprintf(stderr, "shared_batch: %s\n", err.msg);
        return 1;
    }
    for (i = 0; i < n && !bad; i++) {
        bad = append(c, argv[2], i) || append(c, argv[3], i);
        if (!bad && th_chain_flush(c, 10000, &err) != TH_OK) {
            fprintf(stderr, "shared_batch: flushing: %s\n", err.msg);
            bad = 1;
        }
    }
    if (th_chain_close(c) != TH_OK && !bad) {
        fprintf(stderr, "shared_batch: storing the events failed\n");
        bad = 1;
    }
    return bad;
}
