/*
 * handlers_int.h - what the handler files share: each one's interface table,
 * gathered into the built-in set by runtime.c (th_handlers_builtin), the
 * numbers the built-in handlers have in it, the settings each reads from
 * its [[handler]] entry (rt_iface.settings_read, in the handler's own
 * file) and the per-actor state they keep.
 */
#ifndef THEATER_HANDLERS_INT_H
#define THEATER_HANDLERS_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/rt_host.h"

/* The built-in handlers' numbers (rt_iface.handler: bits of
 * rt_spec.handlers, I/O slots), in the order of ARCHITECTURE.md. */
enum {
    HANDLER_RUNTIME = 0,
    HANDLER_MESSAGE_SERVER,
    HANDLER_SUPERVISOR,
    HANDLER_STORE,
    HANDLER_TIMING,
    HANDLER_RANDOM,
    HANDLER_ENVIRONMENT,
    HANDLER_FILESYSTEM,
    HANDLER_HTTP_CLIENT,
    HANDLER_HTTP_FRAMEWORK,
    HANDLER_PROCESS,
    HANDLER_COUNT
};
_Static_assert(HANDLER_COUNT <= RT_HANDLERS_MAX, "handler numbers");

/* Settings, as each handler reads them from its [[handler]] entry
 * (docs/manifest.md); the spec keeps them (rt_spec_settings). */
typedef struct hs_random {
    bool seeded; /* `seed` given */
    uint64_t seed;
} hs_random;
typedef struct hs_environment {
    char **vars; /* `allowed_vars`, NULL-terminated (empty when absent) */
    size_t len;
} hs_environment;
typedef struct hs_filesystem {
    char *root; /* realpath of `path` (a directory) */
} hs_filesystem;
/* http-client: `allowed_hosts` (NULL-terminated patterns "host",
 * "*.domain", either with ":port", or "*"; NULL when absent: every request
 * is refused), `timeout_ms`, `max_response_bytes`, `ca_file` (the real path
 * of a PEM bundle whose CAs alone are trusted for https; NULL when absent:
 * libcurl's system store). */
typedef struct hs_http_client {
    char **hosts;
    uint32_t timeout_ms;
    uint64_t max_response;
    char *ca_file;
} hs_http_client;
/* http-framework: where an actor's servers may listen and how much they
 * take.  Defaults when the manifest lists the handler without a field:
 * host 127.0.0.1, ports 1024-65535, the TH_HTTPD_DEFAULT_* sizes of
 * base/limits.h. */
typedef struct hs_port_range {
    uint16_t lo, hi; /* inclusive */
} hs_port_range;
typedef struct hs_http_framework {
    char *host;           /* bind address (an IPv4 or IPv6 literal) */
    hs_port_range *ports; /* allowed_ports, normalised to ranges */
    size_t nports;
    uint64_t max_body_bytes;     /* request bodies above are refused (413) */
    uint32_t max_connections;    /* per server, open at once */
    uint32_t max_queued;         /* requests waiting for the actor (503 beyond) */
    uint32_t request_timeout_ms; /* no answer by then: 504 */
    char **tls_files;            /* tls_files: real paths of the PEM files a tls-config
                                    may name besides those inside the filesystem grant
                                    (NULL-terminated; NULL when absent) */
} hs_http_framework;
/* process: `max_processes` (running at once), `max_output_buffer` (bytes
 * of one stream waiting for the actor), `allowed_programs` (absolute
 * paths) and `allowed_paths` (realpaths of directories a cwd may lie in),
 * each NULL-terminated or NULL when absent. */
typedef struct hs_process {
    uint32_t max;
    uint64_t max_output;
    char **programs;
    char **paths;
} hs_process;

/* Handlers' per-actor state (rt_actor_handler_data; freed with the actor
 * through th_handler_set.free_actor_state). */
typedef struct rt_hstate {
    bool rng_ready;
    uint64_t rng[4];       /* random: xoshiro256** state */
    void *procs;           /* process: the actor's processes (process.c) */
    struct hf_actor *http; /* http-framework: the actor's servers */
} rt_hstate;
/* The actor's handler state, allocated on first use (NULL if out of memory). */
rt_hstate *rt_hstate_get(rt_actor *a);

extern const rt_iface rt_iface_runtime, rt_iface_message_server, rt_iface_supervisor,
    rt_iface_store, rt_iface_timing, rt_iface_random, rt_iface_environment, rt_iface_filesystem,
    rt_iface_http_client, rt_iface_http_framework, rt_iface_process;

/* message_server.c, supervisor.c: the result of a call the runtime did
 * (RT_DONE, RT_SUSPENDED) or refused with `why` (err(why) in `err`). */
struct wit_str;
int rt_call_outcome(rt_host *h, int rc, bool *is_err, struct wit_str *err, const char *why);

/* What each outside-world handler ends when an actor's instance ends
 * (th_handler_set.actor_ended): its transfers, its processes. */
void rt_http_client_ended(rt_actor *a);
void rt_process_ended(rt_actor *a);
/* Frees the process table of an actor (rt_hstate.procs). */
void rt_process_free_state(rt_actor *a);
/* http-framework: the actor ended, failed or restarts: close its servers
 * and drop its object (http_framework.c; NULL ok). */
struct hf_actor;
void hf_actor_end(struct hf_actor *a);

#endif
