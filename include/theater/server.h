/*
 * server.h - the management daemon (`theater server`, src/server/): one
 * process per THEATER_HOME that owns the runtime, the store and the chains
 * and serves the HTTP/JSON management API (../shared/API.md, docs/api.md)
 * on $THEATER_HOME/theater.sock and optionally on TCP with a bearer token.
 *
 * Life cycle: th_server_new takes the home's server lock (flock on
 * $THEATER_HOME/server.lock, held while the process lives, so it cannot
 * outlive a crash), starts the runtime and the listeners; th_server_run
 * serves until th_server_stop (async-signal-safe) or POST /v1/shutdown,
 * then stops accepting, ends every stream and waiting request, stops every
 * actor children first, flushes the chains and removes the socket.
 */
#ifndef THEATER_SERVER_H
#define THEATER_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "theater/error.h"
#include "theater/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct th_server th_server;

enum { TH_LOG_ERROR = 0, TH_LOG_WARN, TH_LOG_INFO, TH_LOG_DEBUG };

typedef struct th_server_config {
    const char *home;          /* NULL: $THEATER_HOME, else ~/.theater */
    const char *listen;        /* optional TCP "HOST:PORT" (token required) */
    int log_level;             /* TH_LOG_*; lines go to stderr */
    unsigned workers;          /* runtime workers; 0 = one per core */
    unsigned client_timeout_s; /* 0 = TH_SERVER_CLIENT_TIMEOUT_S */
    size_t stream_buffer;      /* 0 = TH_SERVER_STREAM_BUFFER_BYTES */
    /* Optional: called once on th_server_run's thread when shutdown has
     * begun, before any actor is stopped.  At that moment the server no
     * longer accepts connections (the socket file is gone) and answers
     * every request on a connection already open with 503 shutting-down;
     * the runtime and its actors are still running.  Shutdown goes on when
     * it returns. */
    void (*on_closing)(void *ud);
    void *on_closing_ud;
} th_server_config;

/* Start a server: lock the home, open the runtime, listen.  TH_EBUSY when
 * another server (or a `theater run`) owns the home. */
int th_server_new(const th_server_config *cfg, th_server **out, th_error *err);

/* Serve until stopped; then shut everything down.  0 on a clean end. */
int th_server_run(th_server *s, th_error *err);

/* Ask th_server_run to return (async-signal-safe). */
void th_server_stop(th_server *s);

/* Free (after th_server_run, or instead of it).  NULL is ok. */
void th_server_free(th_server *s);

/* The runtime the server owns (borrowed). */
th_runtime *th_server_runtime(th_server *s);

/* Is a server running on `home` (resolved like th_runtime_config.home)?
 * Returns 1 (with its pid in *pid when known, else 0), 0 if not, or a
 * negative TH_E* code. */
int th_server_home_owner(const char *home, pid_t *pid /* out */, th_error *err);

#ifdef __cplusplus
}
#endif
#endif
