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

struct th_handler_set;
struct rt_iface;

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
    int type; /* the handler's number (rt_iface.handler) */
    int line; /* line of the [[handler]] header */
    /* The entry's table (type and settings, after ${VAR} substitution),
     * borrowed from the manifest's document for the handler to read. */
    const toml_value *settings;
    const struct rt_iface *iface; /* the handler, from the options' set */
    void *data;                   /* what its settings_read made (owned; NULL if it takes none) */
} rt_manifest_handler;

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
    bool durable;                /* true if absent (docs/durability.md) */
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
    /* The handlers a [[handler]] entry may name, each reading its own
     * settings (rt_iface); NULL = none. */
    const struct th_handler_set *handlers;
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

/* The entry for handler number `type`, or NULL if the manifest does not
 * list it. */
const rt_manifest_handler *rt_manifest_handler_get(const rt_manifest *m, int type);

/* The handler of `set` named `name` (the [[handler]] type), or of number
 * `type`; NULL if there is none. */
const struct rt_iface *rt_manifest_handler_lookup(const struct th_handler_set *set,
                                                  const char *name);
const struct rt_iface *rt_manifest_handler_find(const struct th_handler_set *set, int type);

/* ------------------------------------------------------------------------
 * Reading a handler's settings (rt_iface.settings_read).  The reader is
 * the manifest being checked; every error it reports names the manifest,
 * the line and the field ("<source>: line N: field 'handler[2].path' must
 * be ...") and is returned as the function's code.
 */
typedef struct rt_manifest_reader rt_manifest_reader;

/* Report an error at `line` (0: none) and return `code`. */
int rt_manifest_fail(rt_manifest_reader *r, int line, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Report an allocation failure: TH_ENOMEM. */
int rt_manifest_nomem(rt_manifest_reader *r);
/* "a string", "an integer"... for a type in messages. */
const char *rt_manifest_type_name(toml_type t);
/* Field `key` of table `t` if present (else *out = NULL), checked to be of
 * `type`; `prefix` names the table ("handler[2]"). */
int rt_manifest_field(rt_manifest_reader *r, const toml_value *t, const char *prefix,
                      const char *key, toml_type type, const toml_keyval **out /* out */);
/* A string field as a new C string into *out (NULL when absent and not
 * `required`), its line into *line (may be NULL).  Refuses NUL
 * characters, control characters when `text_only`, empty strings and
 * strings longer than `max`. */
int rt_manifest_string(rt_manifest_reader *r, const toml_value *t, const char *prefix,
                       const char *key, bool required, bool text_only, size_t max,
                       char **out /* out */, int *line /* out */);
/* An integer field in [min, max] into *out (left as is when absent). */
int rt_manifest_uint(rt_manifest_reader *r, const toml_value *t, const char *prefix,
                     const char *key, uint64_t min, uint64_t max, uint64_t *out);
/* A list of strings `key` (at most TH_MANIFEST_MAX_LIST, each at most
 * TH_MANIFEST_MAX_PATH_BYTES) into a new NULL-terminated array (*out stays
 * NULL when the field is absent); each checked by `ok`, which owns the
 * string it is given and returns the one to keep, or NULL with the reason
 * in `why` (an empty `why`: out of memory).  On failure *out holds what
 * was read so far, for the caller to free (rt_manifest_list_free). */
typedef char *(*rt_manifest_item_fn)(rt_manifest_reader *r, char *item, char *why, size_t cap);
int rt_manifest_list(rt_manifest_reader *r, const toml_value *t, const char *prefix,
                     const char *key, rt_manifest_item_fn ok, char ***out /* out */);
void rt_manifest_list_free(char **v);
/* `rel` against the manifest's directory: a new absolute path (NULL when
 * out of memory). */
char *rt_manifest_path(rt_manifest_reader *r, const char *rel);

#endif
