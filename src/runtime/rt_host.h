/*
 * rt_host.h - the runtime as the handlers see it: what a host function
 * may use, and nothing of the runtime's own machinery.
 *
 * The handlers (src/handlers/) include this header only; the runtime's
 * files include rt_int.h, which adds its internals (the actor structure
 * and its lock, mailboxes, the scheduler, the registry, the runtime
 * object).  So an actor is opaque here: a handler reaches what it may
 * read of it through the accessors below, and acts on it only through the
 * functions declared here (suspend and wake, record, post to the I/O
 * thread, deliver inbound events, send messages...).
 *
 * What a host function does:
 *   rt_host_begin / the generated glue (wit_glue.h) lift its parameters
 *   into C values; the handler does its work; the glue lowers the result
 *   and records the call ("host-call" with input and output).  A function
 *   that must wait calls rt_op_wait (a token) and returns
 *   TH_WASM_SUSPENDED; whoever completes the work calls rt_actor_wake or
 *   rt_actor_wake_result with that token, from any thread.
 */
#ifndef THEATER_RT_HOST_H
#define THEATER_RT_HOST_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "theater/error.h"
#include "theater/runtime.h"
#include "theater/wasm.h"
#include "base/limits.h"

typedef struct th_runtime rt_runtime;
typedef struct rt_actor rt_actor;
typedef struct rt_msg rt_msg;
typedef struct rt_spec rt_spec;
typedef struct rt_guest rt_guest;
struct wit_opt_bytes; /* wit_glue.h */

#define RT_ID_LEN 36
#define RT_HASH_HEX 64 /* a SHA-256 as lowercase hex */

/* ------------------------------------------------------------------ */
/* Byte buffers                                                       */

/* A growable byte buffer (malloc'd). */
typedef struct rt_buf {
    uint8_t *data;
    size_t len, cap;
    bool oom; /* an append failed; the content is incomplete */
} rt_buf;

/* The slow path of rt_buf_append: grows the buffer (or sets oom). */
void rt_buf_append_grow(rt_buf *b, const void *p, size_t n);

/* Append n bytes (and keep a NUL after them).  Inline: event records are
 * built of many short pieces, most of them string literals whose length
 * and copy the compiler then folds. */
static inline void rt_buf_append(rt_buf *b, const void *p, size_t n)
{
    if (b->cap - b->len > n && !b->oom) { /* room for the bytes and the NUL */
        if (n)
            memcpy(b->data + b->len, p, n);
        b->len += n;
        b->data[b->len] = 0;
        return;
    }
    rt_buf_append_grow(b, p, n);
}

static inline void rt_buf_puts(rt_buf *b, const char *s)
{
    rt_buf_append(b, s, strlen(s));
}
void rt_buf_printf(rt_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* JSON pieces: a string literal with escapes (invalid UTF-8 bytes become
 * U+FFFD), bytes as a lowercase hex string, or null. */
void rt_buf_json_str(rt_buf *b, const char *s, size_t n);
void rt_buf_json_hex(rt_buf *b, const uint8_t *p, size_t n);
void rt_buf_release(rt_buf *b);

/* Duplicate `n` bytes (never returns NULL for n == 0 on success: returns a
 * 1-byte allocation).  NULL on allocation failure. */
uint8_t *rt_memdup(const void *p, size_t n);

/* Monotonic and wall clocks (base/clock.h, under the runtime's names). */
uint64_t rt_now_ns(void); /* CLOCK_MONOTONIC */
/* rt_now_ns() `ms` from now; 0 (no deadline) for 0. */
uint64_t rt_deadline_ns(uint32_t ms);
uint64_t rt_wall_ms(void); /* ms since the Unix epoch */

/* ------------------------------------------------------------------ */
/* Ids (registry.c)                                                   */

/* Write a fresh UUID v4 string (36 chars + NUL). */
void rt_uuid_v4(char out[RT_ID_LEN + 1]);
/* True if `s` (n bytes) has the shape of a UUID string. */
bool rt_id_valid(const char *s, size_t n);

/* ------------------------------------------------------------------ */
/* Specs: a manifest with its loaded module (shared by restarts)      */

/* Handlers are numbered by the handler set the runtime is given
 * (rt_iface.handler): a bit of rt_spec.handlers and an I/O slot each. */
#define RT_HANDLERS_MAX 16

/* Supervision strategies and child restart policies. */
enum { RT_STRAT_NONE = 0, RT_STRAT_ONE_FOR_ONE, RT_STRAT_ONE_FOR_ALL, RT_STRAT_REST_FOR_ONE };
enum { RT_RESTART_PERMANENT = 0, RT_RESTART_TRANSIENT, RT_RESTART_TEMPORARY };

/* An actor's limits (the manifest's [limits], docs/manifest.md): in the
 * spec as written, in the actor as in force (a child inherits what its
 * manifest leaves unset from its parent; attenuate.c). */
typedef struct rt_limits {
    uint64_t fuel_per_call;   /* 0 = unlimited */
    uint64_t memory_bytes;    /* 0 = module's own max */
    uint32_t call_timeout_ms; /* 0 = none */
    uint32_t max_children;
    uint32_t max_descendants;
    uint32_t mailbox_messages;
    uint64_t mailbox_bytes;
    uint64_t store_bytes;
    uint64_t stack_bytes; /* wasm stack of one call; 0 = the engine's default */
} rt_limits;

struct rt_manifest;
struct rt_spec {
    atomic_int refs;
    struct rt_manifest *man; /* owned; the strings below point into it */
    char *name, *version;
    char *manifest_path; /* absolute, or NULL for inline text */
    char *manifest_text; /* the TOML text (kept for restarts and records) */
    char *base_dir;      /* directory relative paths resolve against */
    th_wasm_module *module;
    char component[RT_HASH_HEX + 1]; /* SHA-256 of the module's bytes */
    uint32_t handlers;               /* bit set of rt_iface.handler numbers */
    bool save_chain;
    bool durable; /* manifest `durable` (and save_chain): restored by a daemon */
    bool has_init_state;
    uint8_t *init_state; /* the manifest's init_state, resolved */
    size_t init_state_len;
    rt_limits limits;
    uint32_t limits_set; /* RT_MANIFEST_LIMIT_* the manifest gives */
    /* supervision of this actor's children */
    int strategy; /* RT_STRAT_* */
    uint32_t max_restarts;
    uint32_t within_seconds;
    int restart; /* this actor's own policy as a child: RT_RESTART_* */
    /* runtime-private (actor.c): the module's export indices, looked up
     * by name once, at its first instance (owned) */
    _Atomic(struct rt_exports *) exports;
};

/* One host function of an interface, and one interface (handlers). */
typedef struct rt_hostfn {
    const char *name;
    const char *sig; /* th_wasm signature string */
    th_wasm_host_fn fn;
} rt_hostfn;
/* A manifest being read (manifest.h): what a handler's settings reader
 * reports its errors through. */
struct rt_manifest_reader;
struct toml_value;
typedef struct rt_iface {
    const char *name;   /* in manifests: [[handler]] type = "<name>" */
    const char *module; /* "theater:simple/<interface>" */
    int handler;        /* its number: unique in the set, below RT_HANDLERS_MAX */
    const rt_hostfn *fns;
    size_t nfns;
    const void *impl; /* the wit_impl_<iface> table of generated glue (its
                         host functions' ctx), or NULL */

    /* Settings: the fields its [[handler]] entry takes besides `type`
     * (NULL-terminated; NULL for none: holding the handler is the whole
     * grant), read into an object of settings_size bytes that the spec
     * keeps (rt_spec_settings).  A handler with settings has a reader and
     * a subset rule (the runtime's start checks):
     *   settings_read: read and check them from the entry's table `t`
     *     (field names `prefix.key` in messages) into `settings` (zeroed
     *     by the caller), after the manifest has checked that `t` has no
     *     other field.  0, or an error reported through the reader
     *     (rt_manifest_fail and the other readers of manifest.h).
     *   settings_release: free what such an object holds, also one whose
     *     read failed part way (NULL: it holds nothing of its own).
     *   settings_subset: attenuation, when an actor starts a child that
     *     lists the handler: 0 if what `child` grants is within what
     *     `parent` holds, else TH_EPERM with a message naming the first
     *     excess. */
    const char *const *fields;
    size_t settings_size;
    int (*settings_read)(struct rt_manifest_reader *r, const struct toml_value *t,
                         const char *prefix, void *settings);
    void (*settings_release)(void *settings);
    int (*settings_subset)(const void *parent, const void *child, th_error *err);

    /* What a spawn by an actor reads through this handler's grant (the
     * actor's settings of it; NULL when the handler grants no such thing):
     *   grant_getenv: the value of environment variable `name` for ${VAR}
     *     in a manifest the actor gives, or NULL if its grant does not let
     *     it read `name`;
     *   grant_file: the file at `path` (absolute; `what` names it in
     *     messages, "component"...): 0 with its real path in *real
     *     (malloc'd), or TH_EPERM / TH_ENOENT naming the file;
     *   grants_store: holding the handler lets a spawn read init_state
     *     from the content store. */
    const char *(*grant_getenv)(const void *settings, const char *name);
    int (*grant_file)(const void *settings, const char *path, const char *what, char **real,
                      th_error *err);
    bool grants_store;

    /* Replay (docs/replay.md) of host calls whose output the handler
     * records as a count of chain events ({"events": n}), NULL-terminated
     * lists of function names (NULL: none): replay_own_chain, those whose
     * output is the calling actor's own chain before the call (the replay
     * answers them from the record); replay_child_chain, those whose output
     * is a child's chain (not part of the record: the replay stops there,
     * saying so). */
    const char *const *replay_own_chain;
    const char *const *replay_child_chain;
} rt_iface;
/* The handlers a runtime offers (th_runtime_config.handlers): the runtime
 * knows them only through this table, given by the embedder (the handlers
 * part's th_handlers_builtin), so the runtime never links the handlers. */
struct th_handler_set {
    const rt_iface *const *ifaces;
    size_t count;
    /* frees what the handlers keep per actor (rt_actor.hstate); NULL if
     * they keep nothing */
    void (*free_actor_state)(rt_actor *a);
    /* the actor's instance has ended (it failed, stopped, or restarts):
     * the handlers end what they run for it outside (processes, servers);
     * called in the actor's turn; NULL if they run nothing */
    void (*actor_ended)(rt_actor *a);
};

/* ------------------------------------------------------------------ */
/* Grants (attenuate.c)                                               */

/* The settings of handler number `handler` in spec `s` (what its
 * settings_read made), or NULL if the spec does not list it or it takes
 * none.  Constant for the life of the spec. */
const void *rt_spec_settings(const rt_spec *s, int handler);
/* True if the real path `real` is `root` or below it. */
bool rt_path_inside(const char *root, const char *real);
/* Where the absolute path `path` that an actor names leads, told so that
 * a check of it against the actor's grant (rt_path_inside) answers the
 * same for a path outside whether or not it exists:
 *   - 0, *exists = true: `out` is its real path (symlinks, `.` and `..`
 *     resolved);
 *   - 0, *exists = false: it does not exist; `out` is the real path of its
 *     nearest existing ancestor followed by the rest of `path` (plain
 *     names only, the first of which does not exist), i.e. where it would
 *     be;
 *   - TH_EPERM: where it leads cannot be told (the rest holds `.` or
 *     `..`, or its next name exists but does not resolve: a dangling
 *     symlink, a loop, no permission): the caller refuses it as outside;
 *   - TH_EINVAL: not absolute or longer than PATH_MAX.
 * `out` has room for PATH_MAX bytes. */
int rt_path_where(const char *path, char *out, bool *exists);
/* Charge `n` store bytes to `a` and every ancestor (hierarchical quota):
 * 0, or TH_ETOOBIG with a message naming the actor whose limit is hit
 * (nothing charged then).  rt_quota_store_refund gives them back. */
int rt_quota_store(rt_actor *a, uint64_t n, char *why, size_t cap);
void rt_quota_store_refund(rt_actor *a, uint64_t n);

/* ------------------------------------------------------------------ */
/* The actor, as a handler sees it (actor.c)                          */

/* Its id (RT_ID_LEN chars), runtime, spec (manifest, grants) and the
 * limits in force.  Constant for the life of the actor object. */
const char *rt_actor_id(const rt_actor *a);
rt_runtime *rt_actor_runtime(const rt_actor *a);
const rt_spec *rt_actor_spec(const rt_actor *a);
const rt_limits *rt_actor_limits(const rt_actor *a);
/* References: a handler that keeps an actor beyond the host call (a
 * completion from another thread) holds one. */
void rt_actor_ref(rt_actor *a);
void rt_actor_release(rt_actor *a);
/* The live actor with this id (n bytes): a new reference, or NULL. */
rt_actor *rt_actor_find(rt_runtime *rt, const char *id, size_t n);
/* The slot where the handlers keep their state for the actor (their
 * own type), used by the thread running its turn; freed through
 * th_handler_set.free_actor_state. */
void **rt_actor_handler_data(rt_actor *a);
/* A copy of the actor's current state (under its lock): *data malloc'd. */
int rt_actor_get_state(rt_actor *a, bool *has, uint8_t **data, size_t *len);
/* Snapshot of the children (new references; *out malloc'd). */
int rt_actor_children(rt_actor *a, rt_actor ***out, size_t *n);
/* Inside the turn: the actor asks to end once the running operation
 * returns (runtime.shutdown); takes `data` (malloc'd) over. */
void rt_actor_request_shutdown(rt_actor *a, bool has, uint8_t *data, size_t len);
/* A log line of the actor (runtime.log): to the runtime's log function. */
void rt_actor_log(rt_actor *a, const char *msg, size_t len);
/* The runtime's content store (the store handler's). */
struct th_store *rt_runtime_store(rt_runtime *rt);
/* Whether the store id `id` (n bytes) names a store the runtime keeps for
 * itself (TH_CHAIN_CONTENT_STORE: every actor's component bytes and the
 * event data recorded by reference), which no actor reaches: the `store`
 * handler and a spawn's `init_state = "store:..."` by an actor answer for
 * it as for a store that does not exist.  If so, `err` (may be NULL) gets
 * that answer: TH_ENOENT with th_store's own text for an unknown store. */
bool rt_store_reserved(const char *id, size_t n, th_error *err);

/* Log a runtime-level message (through log_fn or stderr). */
void rt_log(rt_runtime *rt, const char *id, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* A host file that a text an actor gets must not name, and the words it
 * is named by instead (rt_error_hide_host). */
typedef struct rt_hidden_file {
    const char *path; /* absolute, as the text would hold it */
    const char *shown;
} rt_hidden_file;

/* An error about to reach an actor (an err result, which its chain
 * records, or a spawn's refusal): it must not tell the actor where the
 * host keeps its files.
 *   - A message of the runtime's own storage (kind TH_EIO, TH_ECORRUPT,
 *     TH_EBUSY or TH_EVERSION) may name host files (db_error puts the
 *     database's path in front): e->msg becomes "WHAT: what happened, in
 *     words (details in the runtime's log)".
 *   - Any other message keeps its words, but the host paths in it are
 *     shown as an actor names them: one of `files` (n entries; may be
 *     NULL) by its `shown` words; a path in the directory of the manifest
 *     of `a` (may be NULL) relative to it, as supervisor.spawn takes a
 *     manifest path (`data/kid.wasm`; the directory itself is `.`), one in
 *     a directory above it with `..` (`../other`); THEATER_HOME as
 *     `$THEATER_HOME`.  A path is recognised where it starts a word and
 *     ends at a name's end.  Other paths (`/etc/x`: the actor wrote it, or
 *     read it in a manifest inside its grant) are left as they are, and
 *     so are the other words.
 * Whenever the message changes, the whole of it goes to the runtime's log
 * as "WHAT: message", with the id and name of `a`.  Returns e->code. */
int rt_error_hide_host(rt_runtime *rt, rt_actor *a, const char *what, const rt_hidden_file *files,
                       size_t n, th_error *e);
/* rt_error_hide_host for a message that is not about the runtime's own
 * storage whatever its kind (a spawn's: TH_EIO there is a manifest or
 * component file that cannot be read, whose message names it): only the
 * host paths are rewritten.  Returns e->code. */
int rt_error_hide_paths(rt_runtime *rt, rt_actor *a, const char *what, const rt_hidden_file *files,
                        size_t n, th_error *e);

/* `text` followed by the frames of a wasm backtrace (one "#N name" frame
 * per line, as the engine bounds it; NULL or "" for none), each on a line
 * of its own as "    at #N name" (as the CLI prints them under an error):
 * for an error that is a string to a guest (a supervisor's err), which
 * has no other place for them.  Malloc'd; NULL if out of memory. */
char *rt_text_with_frames(const char *text, const char *backtrace);

/* ------------------------------------------------------------------ */
/* Suspended host calls (turn.c, actor.c)                            */

#define RT_WAKE_CALL_TIMEOUT 1 /* wake status: the call timeout fired */
#define RT_TOKEN_CHILD_GONE 0  /* wake token: a child finished stopping */

/* wit-error-type values (ABI.md types.wit-error-type) */
enum {
    RT_WIT_TIMEOUT = 0,
    RT_WIT_CHANNEL_CLOSED,
    RT_WIT_SHUTTING_DOWN,
    RT_WIT_NOT_FOUND,
    RT_WIT_TYPE_MISMATCH,
    RT_WIT_INTERNAL,
    RT_WIT_SERIALIZATION
};

/* Result kinds of a suspended host call (how the wake is written back). */
enum {
    RT_WAIT_UNIT = 1, /* result<_, string> at retptr */
    RT_WAIT_BYTES,    /* result<list<u8>, string> */
    RT_WAIT_STRING,   /* result<string, string> */
    RT_WAIT_YIELD,    /* fuel slice ended: no host result */
    RT_WAIT_RESULT,   /* any result type: the wake carries an rt_result */
};

/* The result of a suspended host call whose type is the handler's own
 * (RT_WAIT_RESULT): carried by the wake (rt_actor_wake_result), written
 * into the guest by `lower` (the result at retptr, its JSON record
 * appended to *json: the generated wit_lower_* / wit_json_*), released by
 * `free`, which is called exactly once (after lowering, or when the wake
 * is dropped). */
typedef struct rt_result rt_result;
struct rt_result {
    int (*lower)(rt_result *r, rt_guest *g, uint32_t retptr, rt_buf *json);
    void (*free)(rt_result *r);
};

/* From a host function: the calling actor. */
rt_actor *rt_actor_of_call(th_wasm_call *call);

/* Suspend the running op from a host function: returns a token for the
 * completion (give it to rt_reply.token) and records how the result goes
 * back (kind, retptr) and what to record.  `input_json` is owned by the
 * op afterwards.  The host function then returns TH_WASM_SUSPENDED. */
uint64_t rt_op_wait(rt_actor *a, int kind, uint32_t retptr, const char *iface, const char *fn,
                    char *input_json);

/* Post a wake for `a` with `token` (a completion from any thread). */
void rt_actor_wake(rt_actor *a, uint64_t token, int status, bool has_data, const uint8_t *data,
                   size_t len, const char *text);
/* The same for an RT_WAIT_RESULT wait: takes `r` over (freed if the wake
 * cannot be posted or is not used). */
void rt_actor_wake_result(rt_actor *a, uint64_t token, rt_result *r);

/* Fail the actor now (inside its turn): records "actor-failed" (with the
 * actor's id and name, the running export and, for failv, the wasm
 * backtrace, which may be NULL), answers whoever waits on the running
 * operation with a message naming this actor, notifies the parent. */
void rt_actor_fail(rt_actor *a, int wit_error_type, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* rt_actor_fail with the wasm backtrace of the failure (may be NULL). */
void rt_actor_fail_bt(rt_actor *a, int wit_error_type, const char *backtrace, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* `code` is the TH_E* code its waiters (spawner, requester) get:
 * rt_actor_fail gives them TH_ETRAP; TH_ENOMEM says the host ran out. */
void rt_actor_failv(rt_actor *a, int code, int wit_error_type, const char *backtrace,
                    const char *fmt, va_list ap) __attribute__((format(printf, 5, 0)));
/* Name of a wit-error-type (ABI.md), e.g. "internal"; NULL if out of
 * range. */
const char *rt_wit_error_name(int wit_error_type);

/* ------------------------------------------------------------------ */
/* The I/O thread (io.c) and inbound events (actor.c)                 */

/* Arm a timer: after `delay_ms`, wake actor `id` with `token` (status
 * `status`).  Returns NULL on failure; if `cancellable`, a handle that must
 * be given to rt_io_cancel exactly once, else an opaque non-NULL value
 * that must not be used. */
void *rt_io_timer(rt_runtime *rt, uint64_t delay_ms, const char *id, uint64_t token, int status,
                  bool cancellable);
void rt_io_cancel(rt_runtime *rt, void *timer);

/* Work of the handlers on the I/O thread's libuv loop (struct uv_loop_s is
 * libuv's uv_loop_t; only files that include <uv.h> use it).
 *
 * rt_io_post: run fn(loop, ud) on the I/O thread, after the functions
 * posted before it.  0, or TH_ENOMEM / TH_ESTATE (the runtime is stopping:
 * the loop takes no more work) with fn not called and ud still the
 * caller's.  Once accepted, fn is called exactly once: with the loop, or,
 * if the loop quits before running it, with loop == NULL (on the thread
 * that stops the runtime), to release ud without touching the loop. */
struct uv_loop_s;
typedef void (*rt_io_fn)(struct uv_loop_s *loop, void *ud);
int rt_io_post(rt_runtime *rt, rt_io_fn fn, void *ud);
/* What a handler keeps on the loop (loop thread only): one slot per
 * handler number (rt_iface.handler).  When the runtime stops, the loop
 * first calls each slot's `drain` (optional; on the loop thread, after the
 * work posted before the stop): the handler begins to end what it holds
 * gracefully (a WebSocket connection: its close frame), and the loop runs
 * on while any slot's `busy` (optional) says that is under way, for at most
 * TH_RT_IO_QUIT_WAIT_MS.  Then it calls each slot's `quit` before it closes
 * the remaining handles: the handler closes its handles and ends what it
 * started (a process handle is closed by its owner once the child has
 * exited: the loop runs until then).  rt_io_slot returns NULL once the
 * quit has begun (not during the drain). */
#define RT_IO_SLOTS RT_HANDLERS_MAX
typedef struct rt_io_slot_t {
    void *ud;
    void (*drain)(struct uv_loop_s *loop, void *ud);
    bool (*busy)(void *ud);
    void (*quit)(struct uv_loop_s *loop, void *ud);
} rt_io_slot_t;
rt_io_slot_t *rt_io_slot(struct uv_loop_s *loop, int slot);
/* The runtime whose I/O thread runs `loop`. */
rt_runtime *rt_io_runtime(struct uv_loop_s *loop);

/* Inbound events: an export call on an actor that comes from outside the
 * actors (output of a child process, an HTTP request...), delivered from
 * any thread (typically the I/O thread) into the actor's mailbox and run
 * in its turn like any operation: one at a time, with its state, fuel and
 * call timeout, recorded on its chain ("wasm-call" with the interface,
 * function, params and result), a trap or err(string) being an actor
 * failure.  The handler describes the call with rt_inbound_ops (the
 * generated glue does the lowering and lifting) and learns the outcome
 * through `done`:
 *   - TH_OK: the export returned ok; what `lift` kept (a response) is in
 *     the handler's object;
 *   - TH_ENOENT: the actor does not export the function (the call is
 *     recorded as "message-dropped");
 *   - any other code with a text: the actor failed in the call, stopped,
 *     restarted, or went away before running it.
 * `done` is called exactly once, on whichever thread settles it (a worker
 * running the actor's turn, or a thread that drops the actor's messages);
 * it owns `in` from then on and frees it.  To touch the loop from `done`,
 * use rt_io_post. */
typedef struct rt_inbound rt_inbound;
typedef struct rt_inbound_ops {
    const char *iface;  /* "process-handlers" (for the record) */
    const char *export; /* the core export name, "theater:simple/I#F"
                           (static storage: compared by address first) */
    /* Lower (state, params) into args (at most 16; th_wasm_val args[16]).
     * In the turn; g is the actor's guest.  0 or an error in g->err. */
    int (*lower)(rt_inbound *in, rt_guest *g, const struct wit_opt_bytes *state, th_wasm_val *args,
                 uint32_t *nargs);
    /* Lift the export's result (res[0]): the new state into *has, *state,
     * *len (malloc'd, the caller's), or an err(string) into *err
     * (malloc'd); keep anything else in `in`.  0 or an error in g->err. */
    int (*lift)(rt_inbound *in, rt_guest *g, const th_wasm_val *res, bool *has, uint8_t **state,
                size_t *len, char **err);
    /* The params as JSON array members (no brackets) for the record. */
    void (*params_json)(rt_inbound *in, rt_buf *b);
    /* Extra members of the call record after "params" (a comma first,
     * e.g. ,"cut":12), or NULL. */
    void (*call_json)(rt_inbound *in, rt_buf *b);
    /* Extra members of the result record (",\"response\":..."), or NULL. */
    void (*result_json)(rt_inbound *in, rt_buf *b);
    /* The outcome (see above); takes `in` over. */
    void (*done)(rt_inbound *in, int status, const char *text);
} rt_inbound_ops;
struct rt_inbound {
    const rt_inbound_ops *ops;
};
/* Queue `in` as an operation of actor `id` (RT_ID_LEN chars).  With
 * `bounded` the actor's mailbox limits apply (TH_EBUSY when it is full:
 * an HTTP server answers 503), else it is queued whatever the mailbox
 * holds (bounded by other means, e.g. a pipe not read meanwhile).
 * 0: queued, `done` will be called.  TH_ENOENT (no such actor), TH_ESTATE
 * (it is stopping or stopped), TH_EBUSY, TH_ETOOBIG (limits.mailbox_bytes
 * is below one message's own size) or TH_ENOMEM: nothing done, `in` is
 * still the caller's. */
int rt_inbound_deliver(rt_runtime *rt, const char *id, rt_inbound *in, bool bounded);

/* ------------------------------------------------------------------ */
/* Canonical ABI (abi.c)                                              */

/* Access to one actor's guest: inside a host function (`call`) or from
 * the host between calls (`exec`, an idle exec). */
struct rt_guest {
    th_wasm_instance *inst;
    th_wasm_call *call;
    th_wasm_exec *exec;
    th_wasm_func *realloc;
    th_error *err;
};

/* Base and size of memory 0 (NULL/0 if none).  Valid until the next call
 * into wasm. */
uint8_t *rt_guest_mem(rt_guest *g, uint64_t *size);
/* Allocate in the guest with cabi_realloc(0, 0, align, size); checks the
 * returned range.  TH_ETRAP with a message on any misbehaviour. */
int rt_abi_alloc(rt_guest *g, uint32_t align, uint32_t size, uint32_t *ptr);
/* Copy bytes into a fresh guest allocation. */
int rt_abi_put(rt_guest *g, const void *data, size_t len, uint32_t align, uint32_t *ptr);
/* Bounds-checked access: pointer to [ptr, ptr+len) or TH_ETRAP. */
int rt_abi_span(rt_guest *g, uint32_t ptr, uint64_t len, uint8_t **out);
/* Check that a value of `size` bytes fits at addr before touching any of it
 * (as the Canonical ABI does for a whole result or parameter tuple): then no
 * field offset from addr can wrap past 2^32, and a bad address leaves memory
 * untouched.  0 or TH_ETRAP. */
int rt_abi_fits(rt_guest *g, uint32_t addr, uint32_t size);
int rt_abi_store_u8(rt_guest *g, uint32_t addr, uint8_t v);
int rt_abi_store_u32(rt_guest *g, uint32_t addr, uint32_t v);
int rt_abi_store_u64(rt_guest *g, uint32_t addr, uint64_t v);
int rt_abi_load_u8(rt_guest *g, uint32_t addr, uint8_t *v);
int rt_abi_load_u32(rt_guest *g, uint32_t addr, uint32_t *v);
/* Lift a string (UTF-8 checked) / bytes: malloc'd NUL-terminated copy. */
int rt_abi_string(rt_guest *g, uint32_t ptr, uint32_t len, char **out, size_t *n);
int rt_abi_bytes(rt_guest *g, uint32_t ptr, uint32_t len, uint8_t **out);
/* Lift option<list<u8>> stored at addr (disc @0, ptr @4, len @8). */
int rt_abi_opt_bytes(rt_guest *g, uint32_t addr, bool *has, uint8_t **out, size_t *n);
/* Store a list<u8>/string value (ptr, len) at addr, allocating it. */
int rt_abi_store_list(rt_guest *g, uint32_t addr, const void *data, size_t len);
/* Store result<_, string> / result<list<u8>|string, string> at retptr. */
int rt_abi_result_unit(rt_guest *g, uint32_t retptr, const char *errmsg);
/* err(string) of a result whose payload is 8-aligned (result<u64|f64, string>). */
int rt_abi_result_err8(rt_guest *g, uint32_t retptr, const char *errmsg);
int rt_abi_result_bytes(rt_guest *g, uint32_t retptr, const void *data, size_t len,
                        const char *errmsg);
/* Store list<string> (ptr,len) at addr. */
int rt_abi_store_strings(rt_guest *g, uint32_t addr, char *const *v, size_t n);
/* State shared by the code of one host function call. */
typedef struct rt_host {
    th_wasm_call *call;
    rt_actor *a;
    rt_guest g;
    th_error err;
    /* Set by the generated glue (wit_glue.c) around a handler's function:
     * where the result goes (0 when it is returned flat), the call's input
     * as recorded (JSON, malloc'd; a suspending function takes it over for
     * rt_op_wait and sets this to NULL), and an output record that replaces
     * the one generated from the result (malloc'd, optional; for summaries
     * of results too large to record). */
    uint32_t retptr;
    char *input;
    char *output;
    /* A replay's (replay.c): the result value is the replay's (the last
     * call's, rt_replay_value, or kept by rt_replay_keep) and `output`
     * is its text: the glue frees neither; `replay_lent`: the replay lent
     * them (the glue gives them back, rt_replay_return); `replay_in`:
     * `input` is the replay's (rt_replay_args). */
    bool replay_val, replay_out, replay_lent, replay_in;
} rt_host;
/* Start a host call: the actor, a guest view in call mode. */
void rt_host_begin(rt_host *h, th_wasm_call *call);
/* Trap the call with the message in h->err (returns TH_WASM_TRAPPED). */
int rt_host_trap(rt_host *h);
/* Lift a string argument (UTF-8 checked; malloc'd, NUL-terminated). */
int rt_host_str(rt_host *h, uint32_t ptr, uint32_t len, char **out);
/* Span of a list<u8> argument inside guest memory (valid until the next
 * call into wasm). */
int rt_host_bytes(rt_host *h, uint32_t ptr, uint32_t len, const uint8_t **out);

/* Check UTF-8 (no surrogates, no overlongs). */
bool rt_utf8_valid(const uint8_t *s, size_t n);
/* True while this thread runs a guest's cabi_realloc for the host (abi.c):
 * the guest may not call a host function then. */
bool rt_abi_in_realloc(void);
/* Make the NUL-ended text `s` well-formed UTF-8 in place, each byte that
 * starts no well-formed sequence becoming '?' (for host text, such as a
 * path read from the disk, handed to a guest as a WIT string: the
 * generated wit_str_set does it for every string it copies). */
void rt_utf8_repair(char *s);

/* ------------------------------------------------------------------ */
/* Messages and children, as the core interfaces ask for them          */

/* What message-server-host (send.c) and supervisor (supervise.c) do for
 * the calling actor of `h`; `iface` and `fn` name the call for its
 * record.  Each returns RT_DONE (the result is ok), RT_SUSPENDED (the
 * caller waits: the wait took h->input over and the result comes with
 * the wake; the host function returns TH_WASM_SUSPENDED) or RT_REFUSED
 * (the result is err(why)). */
enum { RT_DONE = 0, RT_SUSPENDED = 1, RT_REFUSED = 2 };
int rt_msg_send(rt_host *h, const char *iface, const char *fn, const char *to, size_t to_len,
                const uint8_t *data, size_t len, char *why, size_t cap);
int rt_msg_request(rt_host *h, const char *iface, const char *fn, const char *to, size_t to_len,
                   const uint8_t *data, size_t len, char *why, size_t cap);
int rt_msg_open_channel(rt_host *h, const char *iface, const char *fn, const char *to,
                        size_t to_len, const uint8_t *data, size_t len, char *why, size_t cap);
int rt_msg_channel_send(rt_host *h, const char *iface, const char *fn, const char *chan, size_t n,
                        const uint8_t *data, size_t len, char *why, size_t cap);
int rt_msg_channel_close(rt_host *h, const char *chan, size_t n, char *why, size_t cap);
/* The requests the actor deferred (inside its turn): visit their ids
 * (stops at the first non-zero return), count them, or answer one (`ok`:
 * with `resp`; else cancelled): 0 or TH_ENOENT. */
int rt_pending_each(rt_actor *a, int (*fn)(void *ud, const char *id), void *ud);
size_t rt_pending_count(rt_actor *a);
/* Deferred requests whose requester no longer waits (its timeout passed,
 * or it left) stop being outstanding: each, rt_pending_count and
 * rt_pending_answer (TH_ETIMEDOUT for such a one) drop them first. */
void rt_pending_prune(rt_actor *a);
int rt_pending_answer(rt_actor *a, const char *id, bool ok, const uint8_t *resp, size_t len);

/* Start a child from `manifest` (a path relative to the caller's
 * manifest, or the TOML text itself) with an optional initial state; the
 * caller waits for its init (ok(child-id)).  With `resume`
 * (supervisor.resume): the child starts with exactly that state and no
 * init (rt_actor_resume); the caller gets ok(child-id) at once (for a
 * durable child, once its record is stored).  Refused because the child's
 * module's start function trapped (no child was made): *backtrace gets
 * where (malloc'd, one "#N name" frame per line), which the err should
 * carry (rt_text_with_frames); otherwise NULL.  (A trap in the child's
 * init reaches the caller's err with its frames: rt_actor_failv.) */
int rt_child_spawn(rt_host *h, const char *iface, const char *fn, const char *manifest, bool resume,
                   bool has_init, const uint8_t *init, size_t len, char *why, size_t cap,
                   char **backtrace /* out */);
/* The caller's child with this id (n bytes): a new reference, or NULL
 * with why. */
rt_actor *rt_child_find(rt_actor *parent, const char *id, size_t n, char *why, size_t cap);
/* Stop a child (the caller waits until it has stopped), restart it
 * (recorded as a supervisor-action), or give it new code (the caller
 * waits for the upgrade's outcome). */
int rt_child_stop(rt_host *h, const char *iface, const char *fn, rt_actor *child, char *why,
                  size_t cap);
int rt_child_restart(rt_host *h, rt_actor *child, char *why, size_t cap);
int rt_child_update(rt_host *h, const char *iface, const char *fn, rt_actor *child,
                    const uint8_t *code, size_t len, char *why, size_t cap);

/* ------------------------------------------------------------------ */
/* Chain records (record.c)                                           */

/* Append an event (type: a string with static storage; JSON data) to the
 * actor's chain and tell the subscribers.  The event is queued in actor
 * order for the recorder thread, which hashes and appends it; failures to
 * record are reported through the log. */
void rt_record(rt_actor *a, const char *type, const uint8_t *data, size_t len);
void rt_record_buf(rt_actor *a, const char *type, rt_buf *b); /* releases b */
/* Record the held-back "wasm-call" of the running op (turn.c record_call),
 * if it has one: it goes before any other event of the op. */
void rt_record_held_call(rt_actor *a);
/* Record a host call with its JSON input and output (either may be NULL). */
void rt_record_host(rt_actor *a, const char *iface, const char *fn, const char *input_json,
                    const char *output_json);
/* Before an effect (every host call): 0 if the actor's events can be
 * recorded; if the chain writer is stalled, waits for it at most
 * record_stall_ms, then fails (message in err): the effect must then not
 * happen.  Also fails once an event of the actor could not be recorded. */
int rt_record_ready(rt_actor *a, th_error *err);
/* Visit the chain events of an actor, from the chain in THEATER_HOME or,
 * for a save_chain = false actor, from memory (runtime.get-chain,
 * supervisor.get-child-events). */
typedef int (*rt_event_visit)(void *ud, const uint8_t hash[32], const uint8_t *parent,
                              const char *type, const uint8_t *data, size_t len, uint64_t ts,
                              const char *description /* NULL if none */);
int rt_record_each(rt_actor *a, rt_event_visit fn, void *ud, th_error *err);
/* The events of a `save_chain = false` actor's in-memory chain that `q`
 * selects (q->actor is not looked at), as th_chain_read gives them (*out
 * owns its items; th_chain_events_free).  Events older than the newest
 * TH_RT_MEMORY_CHAIN_BYTES are gone.  TH_EINVAL for an actor whose chain
 * is stored. */
int rt_record_memory_read(rt_actor *a, const th_chain_query *q, th_chain_events *out,
                          th_error *err);

/* The events of `target` appended to *out (a wit_glue.h list, which the
 * caller frees with wit_free_list_types_chain_event, also on failure). */
struct wit_list_types_chain_event;
int rt_chain_events(rt_actor *target, struct wit_list_types_chain_event *out, th_error *err);
/* Result writers shared by handlers: a result<_, string> etc. and the
 * host-call record, for calls that return at once.  `input` is consumed. */
int rt_host_done(rt_host *h, const char *iface, const char *fn, char *input,
                 const char *output_json);
/* Input JSON helpers: {"k": "v"} with a string / hex value. */
char *rt_json_obj1(const char *key, const char *val, size_t n, bool hex);

#endif
