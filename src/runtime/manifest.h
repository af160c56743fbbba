/*
 * manifest.h - actor manifests: TOML files that say what an actor is and
 * what it may do (internal API, prefix rt_manifest_).  The format is
 * documented in docs/manifest.md.
 *
 * rt_manifest_load() / rt_manifest_parse() read a manifest, substitute
 * ${VAR} references in its string values from the environment, check every
 * field (unknown fields and wrong types are errors naming the field and its
 * line) and return an rt_manifest.  Paths (component, a file init_state,
 * the filesystem handler's directory) are resolved against the manifest's
 * directory.  Nothing is loaded: the runtime reads the component and
 * resolves init_state later.
 *
 * Ownership: an rt_manifest owns everything it points to, including the
 * parsed TOML document that the handlers' `settings` subtrees borrow from;
 * release it with rt_manifest_free().  A manifest is immutable once built
 * and may be read from several threads.
 */
#ifndef THEATER_RT_MANIFEST_H
#define THEATER_RT_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/toml.h"
#include "theater/error.h"

/* Handler types, in the order of ARCHITECTURE.md (the same numbering as
 * the runtime's RT_H_*, so a handler set is a bit set of these). */
typedef enum rt_manifest_handler_type {
    RT_MANIFEST_H_RUNTIME = 0,
    RT_MANIFEST_H_MESSAGE_SERVER,
    RT_MANIFEST_H_SUPERVISOR,
    RT_MANIFEST_H_STORE,
    RT_MANIFEST_H_TIMING,
    RT_MANIFEST_H_RANDOM,
    RT_MANIFEST_H_ENVIRONMENT,
    RT_MANIFEST_H_FILESYSTEM,
    RT_MANIFEST_H_HTTP_CLIENT,
    RT_MANIFEST_H_HTTP_FRAMEWORK,
    RT_MANIFEST_H_PROCESS,
    RT_MANIFEST_H_COUNT
} rt_manifest_handler_type;

/* [supervision] strategy for the actor's children (NONE when the manifest
 * has no [supervision] table: the parent's handle-child-* exports decide
 * alone, as in the original Theater).  Same numbering as RT_STRAT_*. */
typedef enum rt_manifest_strategy {
    RT_MANIFEST_STRATEGY_NONE = 0,
    RT_MANIFEST_STRATEGY_ONE_FOR_ONE,
    RT_MANIFEST_STRATEGY_ONE_FOR_ALL,
    RT_MANIFEST_STRATEGY_REST_FOR_ONE
} rt_manifest_strategy;

/* The actor's own restart policy as a child (`restart`), as in Erlang/OTP:
 * permanent = always restarted, transient = only after a failure,
 * temporary = never.  Same numbering as RT_RESTART_*. */
typedef enum rt_manifest_restart {
    RT_MANIFEST_RESTART_PERMANENT = 0,
    RT_MANIFEST_RESTART_TRANSIENT,
    RT_MANIFEST_RESTART_TEMPORARY
} rt_manifest_restart;

/* One bit per [limits] field (rt_manifest.limits_set). */
enum {
    RT_MANIFEST_LIMIT_FUEL = 1u << 0,
    RT_MANIFEST_LIMIT_MEMORY = 1u << 1,
    RT_MANIFEST_LIMIT_TIMEOUT = 1u << 2,
    RT_MANIFEST_LIMIT_CHILDREN = 1u << 3,
    RT_MANIFEST_LIMIT_DESCENDANTS = 1u << 4,
    RT_MANIFEST_LIMIT_MAILBOX_MESSAGES = 1u << 5,
    RT_MANIFEST_LIMIT_MAILBOX_BYTES = 1u << 6,
    RT_MANIFEST_LIMIT_STORE_BYTES = 1u << 7,
    RT_MANIFEST_LIMIT_STACK_BYTES = 1u << 8,
};

/* Where the initial state comes from (a tagged value; the runtime reads
 * the file or the store when it spawns the actor). */
typedef enum rt_manifest_init_kind {
    RT_MANIFEST_INIT_NONE = 0, /* no init_state: the state starts as none */
    RT_MANIFEST_INIT_JSON,     /* inline JSON object or array: `json` */
    RT_MANIFEST_INIT_FILE,     /* a JSON file: `path` (absolute) */
    RT_MANIFEST_INIT_STORE     /* store:<store-id>/<label>: `store_id`, `label` */
} rt_manifest_init_kind;

typedef struct rt_manifest_init_state {
    rt_manifest_init_kind kind;
    int line;       /* line of init_state, 0 if absent */
    char *json;     /* INIT_JSON: the text as written (checked to parse) */
    char *path;     /* INIT_FILE */
    char *store_id; /* INIT_STORE */
    char *label;    /* INIT_STORE (may contain '/') */
} rt_manifest_init_state;

/* One [[handler]] entry. */
typedef struct rt_manifest_handler {
    rt_manifest_handler_type type;
    int line; /* line of the [[handler]] header */
    /* The entry's table (type and settings, after ${VAR} substitution),
     * borrowed from the manifest's document for the handler to read. */
    const toml_value *settings;
} rt_manifest_handler;

/* The http-framework grant (docs/manifest.md): where an actor's servers may
 * listen and how much they take.  Defaults when the manifest lists the
 * handler without a field: host 127.0.0.1, ports 1024-65535, the
 * TH_HTTP_DEFAULT_* sizes of base/limits.h. */
typedef struct rt_port_range {
    uint16_t lo, hi; /* inclusive */
} rt_port_range;
typedef struct rt_http_grant {
    char *host;           /* bind address (an IPv4 or IPv6 literal) */
    rt_port_range *ports; /* allowed_ports, normalised to ranges */
    size_t nports;
    uint64_t max_body_bytes;     /* request bodies above are refused (413) */
    uint32_t max_connections;    /* per server, open at once */
    uint32_t max_queued;         /* requests waiting for the actor (503 beyond) */
    uint32_t request_timeout_ms; /* no answer by then: 504 */
} rt_http_grant;

typedef struct rt_manifest {
    char *source; /* the path as given, or the options' name for text */
    char *dir;    /* absolute directory that relative paths resolve against */
    char *text;   /* the TOML text as read (before substitution) */
    size_t text_len;

    char *name;        /* required, non-empty */
    char *version;     /* "0.0.0" if absent */
    char *description; /* NULL if absent */
    char *component;   /* required; absolute path */
    rt_manifest_init_state init_state;
    bool save_chain;             /* true if absent */
    rt_manifest_restart restart; /* permanent if absent */

    struct {
        uint64_t fuel_per_call;    /* instructions per export call; 0 = unlimited */
        uint64_t memory_bytes;     /* linear memory cap; 0 = the module's own */
        uint32_t call_timeout_ms;  /* wall time per export call; 0 = none */
        uint32_t max_children;     /* children alive at once */
        uint32_t max_descendants;  /* actors below this one, at any depth */
        uint32_t mailbox_messages; /* messages waiting in the mailbox */
        uint64_t mailbox_bytes;    /* bytes waiting in the mailbox */
        uint64_t store_bytes;      /* bytes it (and its descendants) may add to the store */
        uint64_t stack_bytes;      /* wasm stack of one call; 0 = the engine's default */
    } limits;
    /* RT_MANIFEST_LIMIT_* bits of the [limits] fields the manifest sets; the
     * others hold defaults (a child inherits its parent's value for them). */
    uint32_t limits_set;

    struct {
        rt_manifest_strategy strategy;
        uint32_t max_restarts;   /* restart intensity: at most this many ... */
        uint32_t within_seconds; /* ... restarts within this many seconds */
    } supervision;

    rt_manifest_handler *handlers; /* in manifest order, one per type at most */
    size_t handlers_len;
    uint32_t handler_set; /* bit (1 << type) for each listed handler */

    /* Validated settings of the handlers that have them. */
    bool random_seeded; /* random: `seed` given */
    uint64_t random_seed;
    char **env_allow;     /* environment: `allowed_vars`, NULL-terminated */
    size_t env_allow_len; /* (an empty list when the handler has none) */
    char *fs_root;        /* filesystem: realpath of `path` (a directory) */
    /* http-client: `allowed_hosts` (NULL-terminated patterns "host",
     * "*.domain", either with ":port", or "*"; NULL when absent: every
     * request is refused), `timeout_ms`, `max_response_bytes`. */
    char **http_hosts;
    uint32_t http_timeout_ms;
    uint64_t http_max_response;
    /* process: `max_processes` (running at once), `max_output_buffer`
     * (bytes of one stream waiting for the actor), `allowed_programs`
     * (absolute paths) and `allowed_paths` (realpaths of directories a
     * cwd may lie in), each NULL-terminated or NULL when absent. */
    uint32_t proc_max;
    uint64_t proc_max_output;
    char **proc_programs;
    char **proc_paths;
    rt_http_grant http; /* http-framework: what its servers may do */

    toml_value *doc; /* the whole document, after substitution */
} rt_manifest;

/* Look up environment variables for ${VAR}: return the value or NULL if
 * undefined.  The string must stay valid until the next call. */
typedef const char *(*rt_manifest_getenv_fn)(void *ctx, const char *name);

typedef struct rt_manifest_options {
    const char *base_dir;         /* text: directory for relative paths; NULL = cwd */
    const char *name;             /* text: name for messages; NULL = "<manifest>" */
    rt_manifest_getenv_fn getenv; /* NULL = getenv(3) */
    void *getenv_ctx;
} rt_manifest_options;

/* Read and check the manifest file at `path` (`opt` may be NULL; its
 * base_dir and name are ignored: the file's directory and path are used).
 * Returns 0 and a new manifest in *out (caller frees), or TH_ENOENT /
 * TH_EIO (cannot read), TH_ETOOBIG (above TH_MANIFEST_MAX_BYTES), TH_EINVAL
 * (malformed: the message names the file, line and field) or TH_ENOMEM,
 * with *out NULL. */
int rt_manifest_load(const char *path, const rt_manifest_options *opt, rt_manifest **out /* out */,
                     th_error *err);

/* Same from `len` bytes of TOML text. */
int rt_manifest_parse(const char *text, size_t len, const rt_manifest_options *opt,
                      rt_manifest **out /* out */, th_error *err);

/* Release a manifest and everything it owns.  NULL is fine. */
void rt_manifest_free(rt_manifest *m);

/* The entry for handler `type`, or NULL if the manifest does not list it. */
const rt_manifest_handler *rt_manifest_handler_get(const rt_manifest *m,
                                                   rt_manifest_handler_type type);

/* True if handler `type` takes settings besides `type` (such a handler
 * must say how a child's settings are checked against its parent's). */
bool rt_manifest_handler_has_settings(int type);

/* "runtime", "message-server", ... for a type (NULL if out of range), and
 * the type for a name (-1 if unknown). */
const char *rt_manifest_handler_name(int type);
int rt_manifest_handler_lookup(const char *name);

#endif
