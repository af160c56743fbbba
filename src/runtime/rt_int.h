/*
 * rt_int.h - internal structures of the actor runtime, shared by the files of
 * src/runtime/ only.  What the handlers may use is rt_host.h (included
 * here); everything else below is the runtime's own.
 *
 * Who does what:
 *   runtime.c     the public API (include/theater/runtime.h), runtime object
 *   registry.c    actor ids (UUID v4) and the id -> actor map
 *   mailbox.c     the MPSC queues (Vyukov); message.c message objects,
 *                 reply targets and rt_sync
 *   manage.c      management beyond running actors (snapshots, outside
 *                 channel ends); history.c an actor's chain as events
 *   util.c        byte buffers with JSON writers, UTF-8, clocks, ids
 *   sched.c       worker threads, run queues, the exec cache
 *   actor.c       actors as objects: creation, delivery, failure, queries
 *   turn.c        turns and operations: one operation at a time, export
 *                 calls with state threading, fuel slices, suspension
 *   abi.c         Canonical ABI: guest memory access, lowering, lifting
 *   supervise.c   parent notifications, stop cascade, restart, strategies
 *   send.c        messages between actors as message-server asks for them
 *   children.c    an actor's children as the supervisor interface asks
 *   attenuate.c   what a child may hold: handlers, grants, limits, quotas
 *   durable.c     durable actors' records; restore.c brings them back
 *   replay.c      replaying a chain; upgrade.c hot upgrade; component.c
 *                 components in the content store
 *   manifest.c, spec.c  manifests and the specs built from them
 *   io.c          the libuv I/O thread: timers for sleep/deadline, and the
 *                 handlers' work on its loop (rt_io_post, slots)
 *   timer.c       call timeouts in a timer wheel run by the workers
 *   record.c      chain events (JSON data) and subscriptions
 *   capability.c  the handler table and the spawn-time import check
 *   src/handlers/<interface>.c  the host functions of each capability,
 *                 which see the runtime through rt_host.h only
 *
 * Concurrency model.  An actor is run by at most one thread at a time: the
 * thread that won the IDLE -> QUEUED transition of `sched` owns the actor's
 * turn (its op, exec, instance, handler state) until it sets IDLE again.
 * Other threads only push messages (lock-free MPSC queues) and read the
 * fields guarded by `lock` (status, state, children, exit information).
 *
 * Suspension.  A host function that must wait (request, sleep, spawn...)
 * calls rt_op_wait(), which records a continuation on the actor's op and
 * returns TH_WASM_SUSPENDED; the engine keeps the wasm stack on the op's
 * exec and the worker moves on.  The completion arrives as an RT_MSG_WAKE
 * control message carrying the wait token; the next turn writes the result
 * into guest memory and resumes the exec.
 *
 * Inbound events.  What comes from outside the actors (a child's output,
 * an HTTP request) is an export call queued in the actor's mailbox by
 * rt_inbound_deliver (actor.c) and run in its turn like a message; the
 * handler learns the outcome through its rt_inbound_ops.done.
 */
#ifndef THEATER_RT_INT_H
#define THEATER_RT_INT_H

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "theater/error.h"
#include "theater/runtime.h"
#include "theater/wasm.h"
#include "base/jscan.h"
#include "base/limits.h"
#include "runtime/rt_host.h"

typedef struct rt_worker rt_worker;
typedef struct rt_sync rt_sync;
typedef struct rt_op rt_op;

/* A call-timeout timer (timer.c), embedded in the operation it guards. */
typedef struct rt_timer {
    struct rt_timer *prev, *next; /* wheel slot list (wheel lock) */
    uint64_t due_ms;              /* monotonic ms */
    uint64_t token;               /* wake token */
    const char *id;               /* the actor's id (lives longer than the node) */
    int status;                   /* wake status */
    atomic_bool armed;            /* linked in the wheel */
} rt_timer;

#define RT_WHEEL_SLOTS 1024u /* 1 ms each; power of two */

typedef struct rt_wheel {
    pthread_mutex_t lock;
    rt_timer *slot[RT_WHEEL_SLOTS];
    uint64_t cur_ms;          /* slots before this ms have been visited */
    size_t count;             /* armed timers */
    _Atomic uint64_t next_ms; /* <= the earliest due time; UINT64_MAX: none */
} rt_wheel;

#define RT_REG_SHARDS 16
typedef struct rt_reg_shard {
    pthread_mutex_t lock;
    rt_actor **buckets;
    size_t nbuckets, count;
} rt_reg_shard;

typedef struct rt_registry {
    rt_reg_shard shards[RT_REG_SHARDS];
    atomic_size_t count;
} rt_registry;

int rt_registry_init(rt_registry *r);
void rt_registry_release(rt_registry *r);
/* Insert (takes a reference).  TH_EEXIST if the id is taken. */
int rt_registry_add(rt_registry *r, rt_actor *a);
/* Remove (drops the registry's reference) if present. */
void rt_registry_remove(rt_registry *r, rt_actor *a);
/* Look up an id (n bytes); returns a new reference or NULL. */
rt_actor *rt_registry_get(rt_registry *r, const char *id, size_t n);
/* Snapshot of every actor (new references); *out malloc'd, caller releases
 * each and frees the array. */
int rt_registry_snapshot(rt_registry *r, rt_actor ***out, size_t *n);

/* ------------------------------------------------------------------ */
/* Mailboxes (mailbox.c)                                              */

typedef struct rt_node {
    _Atomic(struct rt_node *) next;
} rt_node;

/* Vyukov's intrusive MPSC queue: any thread pushes, one thread pops. */
typedef struct rt_mpsc {
    _Atomic(rt_node *) head; /* producers swap themselves in here */
    rt_node *tail;           /* consumer side */
    rt_node stub;
    atomic_size_t count; /* pushed and not yet popped (after linking) */
} rt_mpsc;

void rt_mpsc_init(rt_mpsc *q);
void rt_mpsc_push(rt_mpsc *q, rt_node *n);
/* Pop the oldest node, or NULL if empty or if a push is half-done (then
 * `count` stays > 0 and the caller comes back later).  Consumer only. */
rt_node *rt_mpsc_pop(rt_mpsc *q);
/* Nodes pushed and not yet popped; any thread. */
size_t rt_mpsc_count(rt_mpsc *q);

/* Where the answer to a request (or the end of a wait) goes. */
struct rt_inbound;
typedef struct rt_reply {
    rt_actor *actor;       /* a waiting actor (reference held), or NULL */
    uint64_t token;        /* the actor's wait token */
    rt_sync *sync;         /* an outside thread (reference held), or NULL */
    struct rt_inbound *in; /* an inbound event's handler (owned: its `done`
                              is called on completion or drop), or NULL */
} rt_reply;

/* A thread outside the runtime waiting for a result. */
struct rt_sync {
    atomic_int refs;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool done;
    int status;    /* TH_OK or a TH_E* code */
    uint8_t *data; /* result bytes (owned) */
    size_t len;
    bool has_data;
    char msg[TH_ERROR_MSG_MAX];
    th_runtime_reply_fn fn; /* asynchronous caller (manage.c): told once, */
    void *fn_ud;            /* at completion or when the last reference goes */
};

rt_sync *rt_sync_new(void);
void rt_sync_release(rt_sync *s); /* drops one reference; NULL ok */
/* Wait until done or `timeout_ms` passes (0 = forever); returns true if done. */
bool rt_sync_wait(rt_sync *s, uint32_t timeout_ms, rt_runtime *rt);

/* Message kinds.  Mailbox (rt_actor.mbox): operations on the actor.
 * Control (rt_actor.ctl): lifecycle and completions, served first. */
enum {
    RT_MSG_SEND = 1,    /* handle-send(data)                    a = sender */
    RT_MSG_REQUEST,     /* handle-request(b, data)               a = sender, b = request id */
    RT_MSG_CHAN_OPEN,   /* handle-channel-open(a, data)          a = opener, b = channel */
    RT_MSG_CHAN_MSG,    /* handle-channel-message(b, data)       b = channel */
    RT_MSG_CHAN_CLOSE,  /* handle-channel-close(b)               b = channel */
    RT_MSG_CHILD_ERROR, /* handle-child-error(a, err)            a = child, code, text */
    RT_MSG_CHILD_EXIT,  /* handle-child-exit(a, data?)           a = child */
    RT_MSG_CHILD_STOP,  /* handle-child-external-stop(a)         a = child */
    RT_MSG_INBOUND,     /* an inbound event: reply.in (rt_inbound_deliver) */
    /* control */
    RT_MSG_INIT,       /* run init (first op after spawn/restart) */
    RT_MSG_WAKE,       /* completion of a wait: token, status, data/text */
    RT_MSG_STOP,       /* stop: code = RT_STOP_*, reply = done */
    RT_MSG_CHILD_GONE, /* a child finished stopping (cascade ack) a = child */
    RT_MSG_RESTART,    /* restart now (from the supervisor) */
    RT_MSG_UPGRADE,    /* hot upgrade: data = rt_upgrade, reply = done (upgrade.c) */
};

/* Why an actor stops (RT_MSG_STOP code). */
enum {
    RT_STOP_EXTERNAL = 1, /* API / outside: parent gets handle-child-external-stop */
    RT_STOP_BY_PARENT,    /* stop-child, cascade, failed init: parent not notified */
    RT_STOP_RUNTIME,      /* runtime shutdown: nobody is notified */
    RT_STOP_EXIT,         /* runtime.shutdown(data): parent gets handle-child-exit */
};

struct rt_msg {
    rt_node node;
    uint16_t kind;
    int16_t code;   /* RT_STOP_*, wit-error-type, wake status... */
    bool has_data;  /* option<list<u8>> payloads: some/none */
    uint64_t token; /* RT_MSG_WAKE */
    rt_reply reply; /* REQUEST, CHAN_OPEN, STOP */
    char a[RT_ID_LEN + 1];
    char b[RT_ID_LEN + 1];
    char *text;            /* error text (owned) or NULL */
    struct rt_result *res; /* RT_MSG_WAKE of an RT_WAIT_RESULT (owned) or NULL */
    uint8_t *data;         /* payload, stored after the struct */
    size_t len;
    bool ack;     /* held back by a full mailbox: `reply` (the suspended
                     sender) is completed when it is admitted */
    bool durable; /* stored in durable_msg (durable.c): its id is `b` (SEND)
                     or the request id (REQUEST); the result records it */
};

/* Bytes a message counts for in a mailbox (header and payload). */
#define rt_msg_cost(m) (sizeof(rt_msg) + (m)->len)

/* New message with a copy of `len` bytes of `data` (may be NULL).  NULL on
 * allocation failure. */
rt_msg *rt_msg_new(int kind, const void *data, size_t len);
/* Free a message (its text, its reply references).  NULL ok. */
void rt_msg_free(rt_msg *m);
/* Complete a reply target: status TH_OK with data (has_data) or an error
 * code with text.  Consumes the references in `r` (sets them NULL). */
void rt_reply_complete(rt_runtime *rt, rt_reply *r, int status, bool has_data, const uint8_t *data,
                       size_t len, const char *text);
/* Drop a reply without completing it. */
void rt_reply_drop(rt_reply *r);

/* Build a spec from a manifest file or text (text != NULL).  Loads the
 * module (through the runtime's module cache) and checks capabilities.
 * `grant` is NULL for the operator (embedding API, CLI); for a spawn by an
 * actor it is that actor's spec, and every file the spawn reads (the
 * manifest file, the component, an init_state file) must lie inside its
 * grant (rt_grant_file), else TH_EPERM. */
int rt_spec_load(rt_runtime *rt, const char *path, const char *text, const char *base_dir,
                 const rt_spec *grant, rt_spec **out, th_error *err);
/* The first half of rt_spec_load: read and check the manifest (with the
 * grant's rules for a spawn by an actor), nothing loaded.  *out is the
 * caller's (rt_manifest_free). */
int rt_spec_manifest(const th_handler_set *hs, const char *path, const char *text,
                     const char *base_dir, const rt_spec *grant, struct rt_manifest **out /* out */,
                     th_error *err);
/* A spec from a checked manifest (taken over, freed on failure too),
 * without its module or initial state. */
int rt_spec_from_manifest(struct rt_manifest *man, bool from_text, rt_spec **out /* out */,
                          th_error *err);
/* A spec from manifest text whose code is the component recorded under
 * `hash` (SHA-256 hex, from the content store: rt_component_module), not
 * the file the manifest names; no initial state is resolved (the caller
 * has it).  For actors brought back from their records (restore.c). */
int rt_spec_load_recorded(rt_runtime *rt, const char *text, const char *base_dir, const char *hash,
                          rt_spec **out, th_error *err);
void rt_spec_release(rt_spec *s);
/* Check that a module's theater exports (and memory, cabi_realloc) have
 * their ABI signatures: 0 or TH_ELINK naming the first that does not. */
int rt_spec_check_exports(const th_wasm_module *m, th_error *err);
/* Free the spec cache (runtime teardown). */
void rt_spec_cache_free(rt_runtime *rt);

/* capability.c: check every import of `m` against the handler bit set;
 * the message names the import and the missing handler. */
int rt_capability_check(const rt_runtime *rt, const th_wasm_module *m, uint32_t handlers,
                        th_error *err);
/* Register every host function of the runtime's handlers into its imports
 * (rt->imports); what the bindings need is kept in rt->bound. */
int rt_capability_register_all(rt_runtime *rt, th_error *err);
/* The interface table of handler number `type`, or NULL if the runtime
 * offers no such handler. */
const rt_iface *rt_capability_iface(const rt_runtime *rt, int type);
/* Name of handler number `type` in the runtime's set ("?" if none). */
const char *rt_handler_name(const rt_runtime *rt, int type);

/* ------------------------------------------------------------------ */
/* Attenuation (attenuate.c): what an actor starts holds no more than it */

/* Check a child's spec against its parent's (handlers, each handler's
 * settings, limits, save_chain) and compute the child's limits in force
 * into *lim.  `parent` NULL (the operator): the spec's own limits.  0, or
 * TH_EPERM naming the first excess. */
int rt_attenuate(const rt_actor *parent, const rt_spec *child, rt_limits *lim /* out */,
                 th_error *err);
/* A file that a spawn by an actor reads: `path` (absolute) must be granted
 * to `grant` by the handler of `hs` that grants files (rt_iface.grant_file)
 * and that `grant` holds.  0 with the real path in *real (malloc'd, caller
 * frees), or TH_EPERM / TH_ENOENT naming `what` and the file. */
int rt_grant_file(const th_handler_set *hs, const rt_spec *grant, const char *path,
                  const char *what, char **real /* out */, th_error *err);
/* ------------------------------------------------------------------ */
/* Actors (actor.c)                                                   */

/* Cached exports of an instance. */
enum {
    RT_EX_INIT = 0,
    RT_EX_HANDLE_SEND,
    RT_EX_HANDLE_REQUEST,
    RT_EX_CHAN_OPEN,
    RT_EX_CHAN_MSG,
    RT_EX_CHAN_CLOSE,
    RT_EX_CHILD_ERROR,
    RT_EX_CHILD_EXIT,
    RT_EX_CHILD_STOP,
    RT_EX_COUNT,
    RT_EX_INBOUND = RT_EX_COUNT /* an inbound event's export (rt_op.fn) */
};
extern const char *const rt_export_names[RT_EX_COUNT];

enum { RT_SCHED_IDLE = 0, RT_SCHED_QUEUED = 1 };

/* A deferred request this actor must still answer. */
typedef struct rt_pending {
    struct rt_pending *next;
    char id[RT_ID_LEN + 1];
    rt_reply reply;
} rt_pending;

/* The operation an actor is running (only while it runs or is suspended). */
struct rt_op {
    int ex;                  /* RT_EX_* being called */
    th_wasm_func *fn, *post; /* the export and its post-return (or NULL) */
    const char *name;        /* the export's core name */
    rt_msg *msg;             /* the message being handled (owned) */
    th_wasm_exec *exec;
    uint64_t fuel_left;   /* UINT64_MAX = unlimited */
    uint64_t fuel_set;    /* fuel given for the current slice */
    uint64_t deadline_ns; /* 0 = none */
    /* suspension */
    int wait;               /* RT_WAIT_* or 0 while running */
    uint64_t token;         /* token of the current wait */
    uint32_t retptr_wait;   /* where the suspended host call's result goes */
    uint32_t result_ptr;    /* the export's returned pointer */
    const char *host_iface; /* for the chain record of the suspended call */
    const char *host_fn;
    char *host_input; /* JSON of the call's input (owned) */
    rt_timer timer;   /* the call timeout while waiting (timer.c) */
    rt_buf call_rec;  /* the "wasm-call" record, held back until a host
                         call or the result: a call without host calls
                         is recorded as one event with its result */
    bool woken;       /* a wake for `token` is queued */
    uint32_t nsent;   /* durable sends made by this op (their ids, durable.c) */
};

#define RT_FN_DYN 8 /* inbound exports an actor keeps looked up */

struct rt_actor {
    _Atomic(rt_actor *) rq_next; /* run-queue link */
    uint64_t rq_ns;              /* when it was queued as preempted (qlock) */
    atomic_int sched;            /* RT_SCHED_* */
    atomic_int refs;
    rt_mpsc mbox;             /* operations */
    rt_mpsc ctl;              /* control and completions */
    atomic_size_t mbox_bytes; /* bytes of the messages in mbox (rt_msg_cost) */
    /* Messages held back while the mailbox is full (their senders are
     * suspended); admitted in order as it empties, by the actor's turn. */
    pthread_mutex_t blk_lock;
    rt_msg *blk_head, *blk_tail; /* linked through node.next */
    atomic_size_t nblocked;
    rt_limits lim;                   /* limits in force (immutable after creation) */
    atomic_uint ndesc;               /* live descendants (attenuate.c) */
    atomic_uint_fast64_t store_used; /* store bytes charged to it and below */
    rt_runtime *rt;
    rt_actor *reg_next; /* registry bucket chain */
    char id[RT_ID_LEN + 1];
    bool durable; /* the runtime is durable and so is its spec (durable.c) */
    /* "" from its spawn; a restart's nonce ("incarnation" of actor-restarted):
     * the sends of init get ids derived from it (durable.c) */
    char incarnation[RT_ID_LEN + 1];

    pthread_mutex_t lock; /* guards the fields down to `end_locked` */
    int status;           /* th_actor_status */
    bool restart_pending; /* RT_MSG_RESTART posted, not yet carried out */
    bool has_state;
    uint8_t *state; /* current state (owned) */
    size_t state_len;
    rt_actor *parent;    /* reference held, NULL for roots */
    rt_actor **children; /* references held, start order */
    uint32_t nchildren, capchildren;
    rt_sync **waiters; /* th_runtime_wait callers */
    uint32_t nwaiters;
    bool exited;         /* exit info valid */
    int exit_reason;     /* TH_EXIT_*, once exited */
    th_actor_exit *exit; /* the rest, data owned: NULL until it exits (and
                            if it could not be allocated then) */
    /* end_locked */

    /* Owned by the thread running the turn. */
    rt_spec *spec;
    th_wasm_module *module;          /* the code it runs: the spec's, or after an
                                        upgrade its own (reference held) */
    char component[RT_HASH_HEX + 1]; /* SHA-256 of that code's bytes */
    th_wasm_instance *inst;
    th_wasm_func *fn[RT_EX_COUNT];
    th_wasm_func *fn_post[RT_EX_COUNT];
    th_wasm_func *fn_realloc;
    struct rt_fn_dyn {
        const char *name; /* an inbound event's export (static storage) */
        th_wasm_func *fn, *post;
    } * fn_dyn; /* exports looked up for inbound events (a cache of
                   RT_FN_DYN, allocated at the first such event) */
    unsigned nfn_dyn;
    rt_op *op;
    uint64_t next_token;
    bool has_init_state; /* spawn-time initial state (for restarts) */
    uint8_t *init_state;
    size_t init_state_len;
    rt_pending *pending;   /* deferred requests */
    uint32_t npending;     /* ... how many (at most lim.mailbox_messages) */
    uint32_t stop_waiting; /* children still stopping (cascade) */
    rt_msg *stop_msg;      /* the STOP being carried out */
    rt_msg *stop_more;     /* further STOPs waiting for the end (via node.next) */
    int end_reason;        /* TH_EXIT_* once decided */
    bool shutdown_req;     /* runtime.shutdown called in this op */
    bool shutdown_has_data;
    uint8_t *shutdown_data;
    size_t shutdown_len;
    rt_sync *init_sync;  /* th_runtime_spawn waiting for init */
    rt_reply init_reply; /* supervisor.spawn waiting for init */
    uint64_t *restarts;  /* supervisor: restart times (ns) ring */
    uint32_t nrestarts;
    atomic_uint_fast64_t
        rec_queued; /* record.c: events handed to the recorder (read by flushers on any thread) */
    atomic_uint_fast64_t rec_done;    /* ... of which appended to the chain */
    atomic_uint_fast64_t last_ticket; /* chain ticket of the last appended event */
    _Atomic(void *) subs;             /* record.c: subscriptions (lazily) */
    _Atomic(void *) memchain;         /* record.c: the chain of a save_chain = false actor */
    atomic_int rec_failed;            /* record.c: 2 once an event could not be recorded
                                         (in time): the actor's host calls fail from
                                         then on (1 while rec_error is written) */
    char *rec_error;                  /* why (written once, before rec_failed is set) */
    bool has_last_hash;               /* record.c (recorder thread): hash of the */
    uint8_t last_hash[32];            /* last event appended, the next one's parent */
    void *hstate;                     /* handlers: lazily allocated state */
    rt_msg *upgrade_msg;              /* upgrade.c: an upgrade waiting for the running
                                         operation to end */
    bool migrating;                   /* upgrade.c: running migrate (no host calls) */
    char version[128];                /* the version of the code it runs (the
                                         manifest's, or an upgrade's) */
    struct rt_replay *replay;         /* replay.c: set while the actor is a replay (its
                                         host calls answered from the record, its events
                                         compared with it); NULL otherwise */
    /* metrics (th_runtime_actor_info), written by the turn or by senders */
    uint64_t started_ms;
    atomic_uint_fast64_t n_in, n_out, n_calls, n_fuel, n_mem, n_restarts;
};

/* Create an actor from a spec with an id (NULL = fresh) and an optional
 * initial state; registered, child of `parent` (may be NULL), with INIT
 * queued.  `sub` (may be NULL): its event_fn is subscribed before the
 * first event ("actor-spawned").  The returned reference is the caller's; the actor is in
 * RT_SCHED_QUEUED owned by the caller, who must call rt_actor_turn or
 * rt_sched_push.  */
int rt_actor_create(rt_runtime *rt, rt_spec *spec, rt_actor *parent, bool has_state,
                    const uint8_t *state, size_t len, const th_spawn_opts *sub, rt_actor **out,
                    th_error *err);
/* The general form (rt_actor_create is a spawn): `id` NULL for a fresh
 * one; the initial state kept for restarts and the state it starts with
 * (a restored actor's differ); `run_init` false: it starts RUNNING with
 * that state, no init; `event` (static) with its JSON data replaces the
 * "actor-spawned" record (NULL: that record). */
typedef struct rt_actor_new_opts {
    const char *id;
    bool has_init_state;
    const uint8_t *init_state;
    size_t init_state_len;
    bool has_state;
    const uint8_t *state;
    size_t state_len;
    bool run_init;
    const char *event;
    const uint8_t *event_data;
    size_t event_len;
    const th_spawn_opts *sub;
    const char *incarnation; /* NULL or a->incarnation (a restore with init to run) */
} rt_actor_new_opts;
int rt_actor_new(rt_runtime *rt, rt_spec *spec, rt_actor *parent, const rt_actor_new_opts *o,
                 rt_actor **out, th_error *err);
/* The actor is gone: it no longer counts as a descendant of its ancestors. */
void rt_actor_uncount(rt_actor *a);

/* Shared by actor.c and turn.c.  rt_actor_mbox_push: queue `m` in the
 * mailbox (counting its bytes) and schedule; rt_actor_admit_blocked: move
 * held messages into the mailbox while it has room (the turn);
 * rt_actor_refuse_msg: answer a message that will not be handled (actor
 * gone or failed) with "actor <id> <why>". */
void rt_actor_mbox_push(rt_actor *a, rt_msg *m);
void rt_actor_admit_blocked(rt_actor *a);
void rt_actor_refuse_msg(rt_actor *a, rt_msg *m, const char *why);
/* turn.c: the op's export as a short name (for records), start the op of
 * message `m`, run or resume it for one slice, free it. */
const char *rt_op_short(const rt_op *op);
void rt_op_begin(rt_actor *a, rt_msg *m);
void rt_op_run(rt_actor *a, const th_wasm_val *args, uint32_t nargs, bool first);
void rt_op_free(rt_actor *a);

/* Run one turn of `a` on the current thread (the caller owns the turn) and
 * then hand the actor back (idle, or requeued if it still has work). */
void rt_actor_turn(rt_actor *a);

/* Deliver a message: push it to the mailbox (operations) or control queue
 * and schedule the actor.  Takes ownership of `m`.  rt_actor_post ignores
 * the mailbox limits: it is for what the runtime itself delivers (channel
 * closes, answers to an open, supervision notices), bounded by other
 * means; messages that actors or outside callers send go through
 * rt_actor_offer. */
void rt_actor_post(rt_actor *a, rt_msg *m);
void rt_actor_post_ctl(rt_actor *a, rt_msg *m);
/* Deliver a message subject to `a`'s mailbox limits (limits.mailbox_*).
 * RT_OFFER_QUEUED: queued (ownership taken).  RT_OFFER_FULL: the mailbox is
 * full (or others wait before it) and `wait` is false: nothing done, `m`
 * is still the caller's.  RT_OFFER_HELD: full and `wait` is true: `m` is
 * held (ownership taken) until the mailbox has room; the caller's actor
 * must be suspended on m->reply, and with m->ack set that reply is
 * completed (ok) when the message is admitted; if `a` ends first, it is
 * answered with an error. */
enum { RT_OFFER_QUEUED = 0, RT_OFFER_FULL, RT_OFFER_HELD };
int rt_actor_offer(rt_actor *a, rt_msg *m, bool wait);
/* Pop from the mailbox (the turn's thread), keeping mbox_bytes. */
rt_msg *rt_actor_mbox_pop(rt_actor *a);
/* Inside the turn: answer every message in the mailbox and every held one
 * with "actor <id> <why>". */
void rt_actor_refuse_all(rt_actor *a, const char *why);

/* Inside the turn: the actor's instance has ended (failure, stop,
 * restart); tells the handlers (th_handler_set.actor_ended). */
void rt_actor_ended(rt_actor *a);

/* Instantiate the spec's module for `a` (drops any old instance). */
int rt_actor_instantiate(rt_actor *a, th_error *err);

/* Inside the turn: abandon the current operation (if any), answering
 * whoever waits on it with `text`. */
void rt_actor_abort_op(rt_actor *a, const char *text);
/* Inside the turn: replace the state (takes ownership of `data`). */
void rt_actor_set_state(rt_actor *a, bool has, uint8_t *data, size_t len);
/* Inside the turn: answer every deferred request with an error. */
void rt_actor_fail_pending(rt_actor *a, const char *text);
/* Ask every child to stop (no waiting); returns how many were asked.  With
 * `ack` each child's end is reported back as a RT_TOKEN_CHILD_GONE wake. */
uint32_t rt_actor_stop_children(rt_actor *a, int code, bool ack);

/* ------------------------------------------------------------------ */
/* Supervision (supervise.c)                                          */

/* Inside the child's turn: the child failed (status already FAILED). */
void rt_sup_child_failed(rt_actor *child, int wit_type, const char *text);
/* Inside the turn of `a`: begin stopping (children first). */
void rt_sup_begin_stop(rt_actor *a, rt_msg *stop);
/* Inside the turn: a child finished stopping. */
void rt_sup_child_gone(rt_actor *a, rt_msg *m);
/* Inside the parent's turn, before calling its supervisor export: apply
 * the declared strategy for a child event.  Returns false if the parent
 * itself failed (intensity exceeded). */
bool rt_sup_apply_strategy(rt_actor *parent, rt_msg *m);
/* Ask `child` (a child of `parent`) to restart.  0 or TH_ENOENT. */
int rt_sup_restart(rt_actor *parent, rt_actor *child, th_error *err);
/* Inside the turn: carry out RT_MSG_RESTART. */
void rt_sup_do_restart(rt_actor *a);
/* Finish the end of `a` (after children are gone): record, unregister,
 * notify parent and waiters, free the instance. */
void rt_sup_finish(rt_actor *a);
/* Remove `child` from the children of `parent` (locks `parent`). */
void rt_sup_unlink(rt_actor *parent, rt_actor *child);

/* ------------------------------------------------------------------ */
/* Durable actors (durable.c, restore.c; docs/durability.md)          */

typedef struct rt_durable rt_durable;
/* Open the durable records (theater.db), start their writer thread and
 * listen to the chain (runtime.c, when th_runtime_config.durable). */
int rt_durable_start(rt_runtime *rt, th_error *err);
/* Commit what is queued, stop listening and the thread (before the chain
 * closes). */
void rt_durable_stop(rt_runtime *rt);
/* Deliver the one-way message `m` (RT_MSG_SEND, `reply` its
 * acknowledgement, with `ack` set) to the durable actor `t` once it is
 * stored: gives it an id (m->b; derived from the operation of `sender`
 * when that operation handles a durable message or is the init of a
 * durable actor, so that running it again sends the same ids), takes `m`.  The acknowledgement
 * comes when it is stored and admitted to the mailbox, or with an error. */
void rt_durable_post(rt_runtime *rt, rt_actor *sender, rt_actor *t, rt_msg *m);
/* Inside the turn: the init of a durable actor succeeded.  Stores its
 * record if it has none; true if it took over the spawn's waiters
 * (a->init_sync, a->init_reply), answered once the record is durable. */
bool rt_durable_started(rt_actor *a);
/* The actor ended for good: forget its record and messages. */
void rt_durable_ended(rt_actor *a);
/* Inside the turn: a supervisor restart gave the actor a new incarnation;
 * the sends of the previous init are no longer kept for a re-run. */
void rt_durable_restarted(rt_actor *a);
/* A durable message that will not be handled (refused): mark it. */
void rt_durable_dropped(rt_actor *a, const rt_msg *m);
/* Inside the turn, before the result is recorded: hold the reply of the
 * request `m` (taken from m->reply) until the event that answers it is
 * durable. */
void rt_durable_hold_reply(rt_actor *a, rt_msg *m, bool has_resp, const uint8_t *resp, size_t len);
/* True if the event (type, JSON data) ends the handling of a stored
 * message: a result ("wasm-call" with its result, "wasm-result"),
 * "actor-failed" or "message-dropped" with "message_id"; its id in `id`. */
bool rt_durable_event_handled(const char *type, const uint8_t *data, size_t len,
                              char id[RT_ID_LEN + 1]);
/* Append ,"message_id":"<m->b>" to an event's JSON. */
void rt_durable_json_id(rt_buf *b, const rt_msg *m);

/* ------------------------------------------------------------------ */
/* Scheduler (sched.c)                                                */

struct rt_worker {
    rt_runtime *rt;
    pthread_t thread;
    unsigned idx;
    pthread_mutex_t lock; /* guards the local queue */
    rt_actor *qhead, *qtail;
    atomic_size_t qlen;
    rt_actor *next;         /* run next (owner thread only) */
    bool ran_woken;         /* the last turn was of a woken actor */
    th_wasm_exec *cache[8]; /* idle execs */
    unsigned ncache;
    rt_actor *turn_actor;        /* whose turn runs here now (turn.c), or NULL */
    struct rec_batch *rec_batch; /* record.c: events of turn_actor not yet queued */
};

int rt_sched_start(rt_runtime *rt, unsigned nworkers, th_error *err);
void rt_sched_stop(rt_runtime *rt);
/* How an actor is made runnable (rt_sched_push). */
enum {
    RT_PUSH_WAKE = 0, /* woken: a worker's run-next slot, or the global queue */
    RT_PUSH_AGAIN,    /* more work came while it was going idle: local queue */
    RT_PUSH_PREEMPT,  /* its turn was cut short (slice or budget): behind woken actors */
};
/* Make `a` runnable (the caller won IDLE -> QUEUED and gives the run queue
 * one reference); `how` is RT_PUSH_*. */
void rt_sched_push(rt_actor *a, int how);
/* Try IDLE -> QUEUED and push; used by every message delivery. */
void rt_sched_wake(rt_actor *a);
/* The worker running on this thread, or NULL. */
rt_worker *rt_sched_self(void);
/* Wake a sleeping worker, if any (so it sees new timers). */
void rt_sched_poke(rt_runtime *rt);
/* Exec cache: an idle exec (new if none) / give one back. */
th_wasm_exec *rt_exec_get(rt_runtime *rt);
void rt_exec_put(rt_runtime *rt, th_wasm_exec *ex);

/* ------------------------------------------------------------------ */
/* I/O thread (io.c)                                                  */

typedef struct rt_io rt_io;
int rt_io_start(rt_runtime *rt, th_error *err);
void rt_io_stop(rt_runtime *rt);
/* ------------------------------------------------------------------ */
/* Call timeouts (timer.c)                                            */

void rt_wheel_init(rt_wheel *w);
void rt_wheel_release(rt_wheel *w);
/* Arm `t` (re-arming cancels first): after `delay_ms`, wake actor `id`
 * (a string that outlives the armed node) with `token` and `status`.  No
 * allocation, no system call; the node must be cancelled before its memory
 * goes. */
void rt_timer_arm(rt_runtime *rt, rt_timer *t, uint64_t delay_ms, const char *id, uint64_t token,
                  int status);
/* Unlink `t` if armed (a timer that fired is no longer armed). */
void rt_timer_cancel(rt_runtime *rt, rt_timer *t);
/* Workers: fire the due timers (at most a batch per call).  Returns a
 * lower bound of the next due time (monotonic ms), UINT64_MAX if none. */
uint64_t rt_wheel_run(rt_runtime *rt);

/* ------------------------------------------------------------------ */
/* Chain records (record.c)                                           */

/* Open / close the runtime's chains and store (runtime.c calls these). */
int rt_record_start(rt_runtime *rt, th_error *err);
int rt_record_stop(rt_runtime *rt, th_error *err);
/* Subscriptions. */
int rt_record_subscribe(rt_actor *a, th_runtime_event_fn fn, void *ud, uint64_t *id);
int rt_record_unsubscribe(rt_runtime *rt, uint64_t id);
/* Free what record.c keeps for an actor (subscriptions, in-memory chain). */
void rt_record_free(rt_actor *a);
/* Wait until the actor's events so far are durable (while the chain writer
 * is stalled, at most the runtime's record_stall_ms). */
int rt_record_flush(rt_actor *a, th_error *err);
/* A worker's turn of `a` begins / ends (turn.c): the events `a` records in
 * its turn are collected in a batch that is queued for the recorder at the
 * end of the turn (or when full, or when someone flushes). */
void rt_record_turn_begin(rt_actor *a);
void rt_record_turn_end(rt_actor *a);
/* A worker thread ends (sched.c): free the batch buffer it kept. */
void rt_record_worker_done(rt_worker *w);

/* ------------------------------------------------------------------ */
/* Hot upgrade (upgrade.c)                                            */

/* What an RT_MSG_UPGRADE carries (its data bytes). */
typedef struct rt_upgrade {
    th_wasm_module *module; /* owned by the runtime's module cache */
    char hash[RT_HASH_HEX + 1];
    char version[128]; /* "" = keep the version */
} rt_upgrade;
/* Inside the turn, between operations: carry out the upgrade `m` (takes
 * it) and answer its sender. */
void rt_upgrade_apply(rt_actor *a, rt_msg *m);
/* Check new code for actor `a` (valid, exports, imports against its
 * manifest), store and cache it: 0 with *u filled, or an error (nothing
 * changed).  Any thread. */
int rt_upgrade_prepare(rt_actor *a, const uint8_t *bytes, size_t len, const char *version,
                       rt_upgrade *u /* out */, th_error *err);
/* Post the upgrade to `a`'s turn; `reply` (taken) is completed with the
 * outcome: ok with the old hash, or the error.  On a failure to post
 * (TH_ENOMEM) it is completed at once with that error. */
int rt_upgrade_send(rt_actor *a, const rt_upgrade *u, rt_reply *reply);
/* Call the new instance's migrate export, if it has one, with the actor's
 * state and `from_version`; on success the state is replaced and *ran
 * says whether migrate existed.  0, or an error (err says why) and the
 * state is unchanged. */
int rt_upgrade_migrate(rt_actor *a, const char *from_version, bool *ran, th_error *err);

/* ------------------------------------------------------------------ */
/* Replay (replay.c)                                                  */

/* Inside a host function of a replayed actor (h->a->replay set), in place
 * of the handler: the call must be the next recorded event (same
 * interface, function and input); *out is the text of the recorded output
 * (borrowed until the next call), which the generated glue reads back
 * (jq_T, recval.c).  Otherwise the replay has diverged: an error (the
 * call traps) with h->err set. */
int rt_replay_host(rt_host *h, const char *iface, const char *fn, base_jspan *out);

/* Recorded values read back (recval.c), for the generated jq_T: the JSON
 * of a bool, an integer (within [0, max] / [min, max]), a float (null is
 * NaN), a string (unescaped, valid UTF-8; *ptr malloc'd and
 * NUL-terminated) and a list<u8> (hex; *ptr malloc'd).  0, or TH_EINVAL
 * with g->err naming what was expected (*ptr may then be set: the caller
 * frees it). */
int rt_jq_bool(rt_guest *g, base_jspan j, bool *out);
int rt_jq_uint(rt_guest *g, base_jspan j, uint64_t max, uint64_t *out);
int rt_jq_sint(rt_guest *g, base_jspan j, int64_t min, int64_t max, int64_t *out);
int rt_jq_float(rt_guest *g, base_jspan j, double *out);
int rt_jq_str(rt_guest *g, base_jspan j, char **ptr, size_t *len);
int rt_jq_hex(rt_guest *g, base_jspan j, uint8_t **ptr, size_t *len);
/* TH_EINVAL: the recorded value is not a `what`. */
int rt_jq_bad(rt_guest *g, const char *what);
/* rt_record for a replayed actor: compare the event with the next
 * recorded one. */
void rt_replay_event(rt_actor *a, const char *type, const uint8_t *data, size_t len);
/* Run one operation of a replayed actor to its end (actor.c): the export
 * that `m` calls, with fuel slices but no suspension (its host calls
 * answer at once). Takes `m`. */
void rt_actor_run_op(rt_actor *a, rt_msg *m);

/* ------------------------------------------------------------------ */
/* The runtime object (runtime.c)                                     */

typedef struct rt_module_entry {
    struct rt_module_entry *next;
    char *key; /* path + size + mtime, or "sha256:" + hash */
    th_wasm_module *module;
    char hash[RT_HASH_HEX + 1]; /* SHA-256 of the component's bytes */
    bool stored;                /* the bytes are in the content store */
} rt_module_entry;

typedef struct rt_channel {
    struct rt_channel *next;
    char id[RT_ID_LEN + 1];
    char side[2][RT_ID_LEN + 1]; /* opener, acceptor */
    bool open;                   /* accepted and not closed */
} rt_channel;

struct th_runtime {
    char *home;
    bool in_memory;
    unsigned record_stall_ms; /* how long recording actors wait for a stalled writer */
    th_runtime_log_fn log_fn;
    void *log_ud;
    th_runtime_event_fn event_fn;
    void *event_ud;
    rt_registry reg;
    const th_handler_set *handlers; /* what actors may be granted (never NULL) */
    th_wasm_imports *imports;       /* every host function of `handlers` */
    struct rt_bound_fn *bound;      /* the imports' contexts (capability.c) */

    /* scheduler */
    rt_worker *workers;
    unsigned nworkers;
    pthread_mutex_t qlock; /* global queue + sleeping */
    pthread_cond_t qcond;
    rt_actor *ghead, *gtail; /* woken by threads outside the pool */
    rt_actor *phead, *ptail; /* preempted (sched.c) */
    atomic_size_t npreempted;
    atomic_int sleepers;
    atomic_bool stopping;     /* workers exit */
    pthread_mutex_t poollock; /* exec pool for non-worker threads */
    th_wasm_exec *pool[32];
    unsigned npool;

    rt_io *io;
    rt_wheel wheel;               /* call timeouts (timer.c) */
    struct th_store *store;       /* content store (store handler, init_state) */
    struct th_chain *chain;       /* event chains (record.c) */
    struct rt_recorder *recorder; /* record.c: the thread that appends events */
    struct rt_sub *subs;          /* all subscriptions, under sublock */

    pthread_mutex_t modlock; /* module and spec caches */
    rt_module_entry *modules;
    struct spec_entry *specs;

    pthread_mutex_t chanlock; /* channels */
    rt_channel *channels;
    pthread_mutex_t outlock; /* outside channel endpoints (manage.c) */
    struct rt_outside *outside;

    pthread_mutex_t sublock; /* subscription ids */
    uint64_t next_sub;

    pthread_mutex_t exitlock;  /* ends of root actors, for late waiters */
    struct rt_exit_rec *exits; /* ring of RT_MAX_EXITS records */
    unsigned nexits;

    struct rt_durable *durable; /* durable.c: NULL unless th_runtime_config.durable */

    unsigned max_actors; /* live actors at most (th_runtime_config) */
    atomic_bool closing; /* shutdown started: spawns refused */
    atomic_bool interrupted;
    bool shut;
};

/* Module cache: the loaded module of a component file (owned by the
 * cache: an instance takes its own reference) and the SHA-256 of its bytes
 * (lowercase hex).  With `keep` the bytes are also put in the content
 * store (component.c), so that the chain events naming the hash can be
 * replayed. */
int rt_module_load(rt_runtime *rt, const char *path, bool keep, th_wasm_module **out /* out */,
                   char hash[RT_HASH_HEX + 1] /* out */, th_error *err);

/* Components (component.c).  An actor's component is part of its record:
 * the chain events that start code (actor-spawned, actor-restarted,
 * component-updated) name the SHA-256 of its bytes, and the bytes are in
 * the content store TH_CHAIN_CONTENT_STORE. */

/* Validate and compile `len` bytes (checked: exports with their ABI
 * signatures are left to the caller), hashing them into `hash`; with
 * `keep`, put them in the content store first.  *out is a new reference
 * (th_wasm_module_free). */
int rt_module_from_bytes(rt_runtime *rt, const uint8_t *bytes, size_t len, bool keep,
                         th_wasm_module **out /* out */, char hash[RT_HASH_HEX + 1] /* out */,
                         th_error *err);
/* Add a module to the cache under `key` (taking over the reference in
 * `m`, also on failure).  0 or TH_ENOMEM. */
int rt_module_cache_put(rt_runtime *rt, const char *key, th_wasm_module *m,
                        const char hash[RT_HASH_HEX + 1], bool stored, th_error *err);
/* The module of the component whose SHA-256 is `hash` (64 hex digits),
 * from the cache or the runtime's content store (the bytes are checked
 * against the hash).  The module is owned by the cache.  TH_ENOENT if the
 * store does not have it. */
int rt_component_module(rt_runtime *rt, const char *hash, th_wasm_module **out /* out */,
                        th_error *err);

/* Remember how a root actor ended, for th_runtime_wait callers that come
 * after it is gone (runtime.c). */
void rt_exit_remember(rt_runtime *rt, const char *id, const th_actor_exit *ex);

/* Channels (runtime.c). */
int rt_channel_new(rt_runtime *rt, const char *opener, const char *target, char id[RT_ID_LEN + 1]);
/* The peer of `self` on an open channel; TH_ENOENT / TH_EPERM / TH_ECLOSED. */
int rt_channel_peer(rt_runtime *rt, const char *chan, size_t n, const char *self,
                    char peer[RT_ID_LEN + 1]);
void rt_channel_set_open(rt_runtime *rt, const char *chan, bool open);
/* Close; returns 0 and the peer if it was open. */
int rt_channel_close(rt_runtime *rt, const char *chan, const char *self, char peer[RT_ID_LEN + 1]);
/* Hand a channel message (RT_MSG_CHAN_MSG / RT_MSG_CHAN_CLOSE) to the
 * peer `id`: an actor's mailbox or an outside endpoint (manage.c).  Takes
 * ownership of `m`; false if there is no such peer (m is freed). */
bool rt_channel_deliver(rt_runtime *rt, const char *id, rt_msg *m);
/* Free the outside endpoints (runtime teardown). */
void rt_outside_free(rt_runtime *rt);
/* Close every channel of an actor (telling the peers). */
void rt_channel_close_all(rt_runtime *rt, const char *self);

#endif
