/*
 * rt_test_util.h - helpers shared by the runtime integration tests: a
 * runtime over a fresh temporary THEATER_HOME, captured log lines, paths of
 * the example actors and of the test modules, manifest files written on
 * the fly.
 */
#ifndef RT_TEST_UTIL_H
#define RT_TEST_UTIL_H

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "theater/runtime.h"

typedef struct rtt_log {
    pthread_mutex_t lock;
    char *text; /* every line, "\n"-separated */
    size_t len, cap;
} rtt_log;

typedef struct rtt {
    char home[256];
    th_runtime *rt;
    rtt_log log;
} rtt;

/* Start a runtime with `workers` threads over a new temporary home. */
void rtt_start(rtt *t, unsigned workers);
/* The same with th_runtime_config.max_actors set. */
void rtt_start_max(rtt *t, unsigned workers, unsigned max_actors);
/* The same with th_runtime_config.pack_idle_ms set too. */
void rtt_start_packing(rtt *t, unsigned workers, unsigned max_actors, unsigned pack_idle_ms);
/* Start a runtime with durable actors (th_runtime_config.durable, as the
 * daemon runs) over a new temporary home. */
void rtt_start_durable(rtt *t, unsigned workers);
/* Shut that runtime down and start another over the same home, which
 * brings its durable actors back (th_runtime_restore), as a restarted
 * daemon does. */
void rtt_restart_durable(rtt *t, unsigned workers);
/* Resident set size of this process in KiB (/proc/self/statm). */
long rtt_rss_kib(void);
/* Shut down, free, remove the home. */
void rtt_stop(rtt *t);
/* True if some log line contains `needle`. */
bool rtt_log_has(rtt *t, const char *needle);
/* Wait up to `ms` for a log line containing `needle`. */
bool rtt_log_wait(rtt *t, const char *needle, unsigned ms);
/* Export calls the actor has started (th_actor_info.calls; 0 if there is
 * no such actor). */
unsigned long long rtt_calls(rtt *t, const char *id);
/* Wait up to `ms` until the actor has started more than `n` export calls
 * (it has taken the next operation off its mailbox). */
bool rtt_calls_wait(rtt *t, const char *id, unsigned long long n, unsigned ms);
/* Path of an example actor's manifest (build/examples/actors/<name>.toml),
 * or NULL if it was not built. */
const char *rtt_example(const char *name);
/* Path of a test module (build/tests/integration/runtime/<name>.wasm). */
const char *rtt_module(const char *name);
/* Write a manifest for `module` with the given handlers (space-separated)
 * and extra TOML lines; returns its path (static buffer per call slot). */
const char *rtt_manifest(rtt *t, const char *name, const char *module, const char *handlers,
                         const char *extra);
/* The whole file at `path` (malloc'd, one byte beyond `len` allocated);
 * exits the test with the reason if it cannot be read. */
void *rtt_read_file(const char *path, size_t *len);
/* Spawn the actor of manifest `man` with the initial state `state` (a
 * string, or NULL for none); the id into `id`.  Exits the test with the
 * reason if the spawn is refused. */
void rtt_spawn_state(rtt *t, const char *man, const char *state, char *id);
/* Spawn test module `module` (rtt_module) as actor `name` holding the
 * runtime and message-server handlers and `handler`, whose settings are
 * the TOML lines `grant` (may be ""); the id into `id`.  Exits the test
 * with the reason if the spawn is refused. */
void rtt_spawn_probe(rtt *t, const char *name, const char *module, const char *handler,
                     const char *grant, char *id);
/* Spawn parent.wat (runtime, supervisor, filesystem "/" and `handler`
 * with the settings `grant`), whose init spawns hostile.wat from a
 * manifest listing `handler` with the settings `child_grant`: the spawn's
 * code (the parent's init fails with the child's refusal), the reason in
 * err. */
int rtt_spawn_family(rtt *t, const char *handler, const char *grant, const char *child_grant,
                     th_error *err);
/* The types of actor `id`'s events (flushed first), in order, one per
 * line (malloc'd). */
char *rtt_event_types(rtt *t, const char *id);
/* Replay actor `id`'s chain (flushed; the runtime may still run) with its
 * recorded components: it must match event for event, or the test exits
 * with the first difference. */
void rtt_replay_identical(rtt *t, const char *id);
/* Send the text request `fmt` to actor `id` and wait at most `timeout_ms`
 * for its answer: a malloc'd NUL-terminated copy (the caller frees).
 * Exits the test with the reason if it is not answered. */
char *rtt_ask(rtt *t, const char *id, uint32_t timeout_ms, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
char *rtt_askv(rtt *t, const char *id, uint32_t timeout_ms, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));
/* The same for a request of `len` bytes, which may hold a NUL. */
char *rtt_ask_bytes(rtt *t, const char *id, uint32_t timeout_ms, const void *req, size_t len);
/* Descriptors this process has open (/proc/self/fd). */
int rtt_fd_count(void);
/* Flush actor `id`'s chain and verify it: the number of events checked.
 * Exits the test if it does not verify. */
unsigned long long rtt_verify_chain(rtt *t, const char *id);

#endif
