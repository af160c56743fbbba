/*
 * compat.h - the compatibility listener: serves the original Theater
 * system's TCP management protocol (ManagementCommand/ManagementResponse
 * in length-prefixed JSON frames, compat_codec.h) on top of a th_runtime,
 * so that the original's clients (its CLI, the MCP bridge) drive this
 * runtime.  docs/compat.md maps every command.
 *
 * Threads: one accepting thread; per client a reader (reads a frame, runs
 * the command on the runtime, which may block, queues the answer, so a
 * client's commands run one at a time and in order, as in the original)
 * and a writer (drains the client's queue: answers, subscribed events,
 * channel messages).  Runtime callbacks only queue.  A client whose queue
 * grows past TH_COMPAT_MAX_QUEUED_BYTES is disconnected.
 */
#ifndef THEATER_SERVER_COMPAT_H
#define THEATER_SERVER_COMPAT_H

#include <stdbool.h>
#include <stdint.h>

#include "theater/error.h"
#include "theater/runtime.h"

typedef struct srv_compat srv_compat;

/* Listen on `addr` ("HOST:PORT", IPv4 or [IPv6]; port 0 = any free port)
 * and serve clients on their own threads until srv_compat_stop.  Only a
 * loopback address is accepted unless `allow_nonloopback` (the protocol
 * has no authentication).  The runtime must outlive the listener. */
int srv_compat_start(th_runtime *rt, const char *addr, bool allow_nonloopback,
                     srv_compat **out /* out */, th_error *err);

/* The port actually bound. */
uint16_t srv_compat_port(const srv_compat *c);

/* Stop accepting, disconnect every client (their subscriptions and
 * channels are dropped), join the threads and free.  NULL ok. */
void srv_compat_stop(srv_compat *c);

#endif
