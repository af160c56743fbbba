/*
 * rt_test_util.h - helpers shared by the runtime integration tests: a
 * runtime over a fresh temporary THEATER_HOME, captured log lines, paths of
 * the example actors and of the test modules, manifest files written on
 * the fly.
 */
#ifndef RT_TEST_UTIL_H
#define RT_TEST_UTIL_H

#include <pthread.h>
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

#endif
