/*
 * rt_actor.h - the actor: its structure and lock, the operation it runs
 * (actor.c, turn.c) and hot upgrade of its code (upgrade.c).  Private to
 * src/runtime/ (rt_int.h): handlers reach an actor through rt_host.h only.
 */
#ifndef THEATER_RT_ACTOR_H
#define THEATER_RT_ACTOR_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "theater/error.h"
#include "theater/runtime.h"
#include "theater/wasm.h"
#include "runtime/rt_host.h"
#include "runtime/rt_queue.h"
#include "runtime/rt_sched.h"

typedef struct rt_op rt_op;

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

/* Where a module's theater exports are (th_wasm_module_export_index; -1 =
 * absent): each export, its cabi_post_, and cabi_realloc.  Computed once
 * per spec (rt_spec.exports, for the spec's module: a replay gives its
 * spec another), so an instance finds its exports without looking names
 * up. */
typedef struct rt_exports {
    const th_wasm_module *module; /* the module they are of */
    int32_t fn[RT_EX_COUNT], post[RT_EX_COUNT], realloc;
} rt_exports;

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
    char *host_input;     /* JSON of the call's input (owned) */
    rt_timer timer;       /* the call timeout while waiting (timer.c) */
    rt_buf call_rec;      /* the "wasm-call" record, held back until a host
                             call or the result: a call without host calls
                             is recorded as one event with its result */
    bool woken;           /* a wake for `token` is queued */
    bool arm_later;       /* timer not armed yet: a hand-off runs first (turn.c) */
    uint32_t nsent;       /* durable sends made by this op (their ids, durable.c) */
    uint32_t posted;      /* one-way messages posted since its last pacing look (send.c) */
    bool paced;           /* send.c asked it to yield: its turn ends at the fuel
                             check that follows (turn.c) */
    uint64_t paced_since; /* turn.c: when the first of its paced turns since
                             it was last preempted began (0: none) */
};

#define RT_FN_DYN 8 /* inbound exports an actor keeps looked up */

/* An inbound event's export, looked up once per instance. */
typedef struct rt_fn_dyn {
    const char *name; /* the export's name (static storage) */
    th_wasm_func *fn, *post;
} rt_fn_dyn;

struct rt_actor {
    _Atomic(rt_actor *) rq_next; /* run-queue link */
    uint64_t rq_ns;              /* when it was queued as preempted (qlock) */
    atomic_uint home;            /* 1 + index of its last message's sender's worker, or 0 */
    rt_worker *rq_worker;        /* preempted: the worker it goes back to (qlock), or NULL */
    atomic_uint waiting_on;      /* 1 + index of the worker whose run-next slot or local
                                    queue holds it, or 0 (a hint: send.c's pacing) */
    atomic_int sched;            /* RT_SCHED_* */
    atomic_int refs;
    /* record.c: events of its nested turns not yet queued, parked by the
     * worker that ran them (a struct rec_batch; taken by whoever queues) */
    _Atomic(void *) rec_parked;
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
    uint64_t reg_hash;  /* its id's hash there (registry.c) */
    char id[RT_ID_LEN + 1];
    bool durable; /* the runtime is durable and so is its spec (durable.c) */
    /* "" from its spawn; a restart's nonce ("incarnation" of actor-restarted):
     * the sends of init get ids derived from it (durable.c) */
    char incarnation[RT_ID_LEN + 1];

    pthread_mutex_t lock;        /* guards the fields down to `end_locked` */
    atomic_int status;           /* th_actor_status (written under `lock`; */
    atomic_bool restart_pending; /* RT_MSG_RESTART posted, not yet carried out
                                    (written under `lock`; both read without
                                    it by rt_actor_takes_messages) */
    bool stop_queued;            /* a graceful stop waits behind its mailbox */
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
    rt_fn_dyn *fn_dyn; /* exports looked up for inbound events (a cache of
                          RT_FN_DYN, allocated at the first such event) */
    unsigned nfn_dyn;
    rt_op *op;
    rt_actor *last_to; /* send.c: the last actor it sent to (reference held),
                          found again without the registry; dropped when
                          its instance ends (rt_actor_ended) */
    uint64_t next_token;
    bool has_init_state; /* spawn-time initial state (for restarts) */
    bool resumed;        /* started by supervisor.resume: with init_state as
                            its state and no init, and so is each restart */
    uint8_t *init_state;
    size_t init_state_len;
    rt_pending *pending;   /* deferred requests */
    uint32_t npending;     /* ... how many (at most lim.mailbox_messages) */
    uint32_t stop_waiting; /* children still stopping (cascade) */
    rt_msg *stop_msg;      /* the STOP being carried out */
    rt_msg *stop_more;     /* further STOPs waiting for the end (via node.next) */
    int end_reason;        /* TH_EXIT_* once decided */
    bool shutdown_req;     /* runtime.shutdown called in this op */
    bool failed_for_good;  /* a failed root actor, until restarted: not brought back */
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
    atomic_int rec_failed;            /* record.c: RT_REC_FAILED(_NOMEM) once an event
                                         could not be recorded (in time): the actor's
                                         host calls fail from then on (1 while rec_error
                                         is written) */
    char *rec_error;                  /* why (written once, before rec_failed is set) */
    /* record.c: held by whoever appends the actor's events (the recorder
     * thread, or a worker appending a batch itself), so that they are
     * appended and heard in order; rec_inq counts its entries in the
     * recorder's queue (a direct append waits until it is 0) */
    pthread_mutex_t rec_lock;
    atomic_uint rec_inq;
    bool has_last_hash;       /* record.c (under rec_lock): hash of the */
    uint8_t last_hash[32];    /* last event appended, the next one's parent */
    void *hstate;             /* handlers: lazily allocated state */
    rt_msg *upgrade_msg;      /* upgrade.c: an upgrade waiting for the running
                                 operation to end */
    bool migrating;           /* upgrade.c: running migrate (no host calls) */
    bool in_post;             /* turn.c: running a post-return (no host calls) */
    char version[128];        /* the version of the code it runs (the
                                 manifest's, or an upgrade's) */
    struct rt_replay *replay; /* replay.c: set while the actor is a replay (its
                                 host calls answered from the record, its events
                                 compared with it); NULL otherwise */
    /* pack.c: packing its memory while it is idle */
    rt_actor *pack_next;         /* the packer's list, while listed */
    atomic_bool pack_listed;     /* on that list (which holds a reference) */
    atomic_uint_fast64_t ran_ns; /* when its last turn began */
    /* metrics (th_runtime_actor_info), written by the turn or by senders */
    uint64_t started_ms;
    uint64_t start_seq; /* the order actors were created in (a restore: parents first) */
    atomic_uint_fast64_t n_in, n_out, n_calls, n_fuel, n_mem, n_restarts;
};

/* Add to a counter only the actor's own turn writes (n_out, n_calls,
 * n_fuel): a plain load and store, no locked instruction (readers load it
 * atomically, th_runtime_actor_info). */
static inline void rt_actor_count(atomic_uint_fast64_t *c, uint64_t v)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v,
                          memory_order_relaxed);
}

/* Create an actor from a spec with an id (NULL = fresh) and an optional
 * initial state; registered, child of `parent` (may be NULL), with INIT
 * queued.  `sub` (may be NULL): its event_fn is subscribed before the
 * first event ("actor-spawned").  The returned reference is the caller's; the actor is in
 * RT_SCHED_QUEUED owned by the caller, who must call rt_actor_turn or
 * rt_sched_push.  */
int rt_actor_create(rt_runtime *rt, rt_spec *spec, rt_actor *parent, bool has_state,
                    const uint8_t *state, size_t len, const th_spawn_opts *sub, rt_actor **out,
                    th_error *err);
/* supervisor.resume: the same, but the actor starts RUNNING with exactly
 * the state given (none if has_state is false; the manifest's init_state
 * is not used) and its init is not called, now or at a restart; its
 * "actor-spawned" record says "resumed": true.  Nothing is queued.
 * `backtrace` (may be NULL), as th_spawn_opts.backtrace for `sub`: where
 * its module's start function trapped. */
int rt_actor_resume(rt_runtime *rt, rt_spec *spec, rt_actor *parent, bool has_state,
                    const uint8_t *state, size_t len, char **backtrace /* out */, rt_actor **out,
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
    bool resumed; /* supervisor.resume's start (run_init false): recorded
                     ("resumed": true) and kept for restarts */
    const char *event;
    const uint8_t *event_data;
    size_t event_len;
    const th_spawn_opts *sub;
    const char *incarnation; /* NULL or a->incarnation (a restore with init to run) */
    char **backtrace;        /* out, may be NULL: a trap in the start function
                                (rt_actor_instantiate); default sub->backtrace */
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
/* turn.c: the actor has started (its init succeeded, or supervisor.resume
 * started it without one): answer whoever waits for it (a->init_reply,
 * a->init_sync), a durable actor's once its record is stored. */
void rt_actor_started(rt_actor *a);
/* turn.c: the op's export as a short name (for records), start the op of
 * message `m`, run or resume it for one slice, free it. */
const char *rt_op_short(const rt_op *op);
void rt_op_begin(rt_actor *a, rt_msg *m);
void rt_op_run(rt_actor *a, const th_wasm_val *args, uint32_t nargs, bool first);
void rt_op_free(rt_actor *a);

/* Run one turn of `a` on the current thread (the caller owns the turn) and
 * then hand the actor back (idle, or requeued if it still has work). */
void rt_actor_turn(rt_actor *a);

/* Its status (th_actor_status), read under its lock; and set under it. */
int rt_actor_status(rt_actor *a);
void rt_actor_set_status(rt_actor *a, int status);
/* Whether it takes messages now: not stopping or stopped, and not failed
 * unless a restart is on its way (messages wait for the new instance). */
bool rt_actor_takes_messages(rt_actor *a);

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
 * answered with an error.
 * A message that could never fit (larger alone than limits.mailbox_bytes)
 * is refused rather than held for ever: RT_OFFER_TOOBIG when `wait` is
 * false (`m` is still the caller's), RT_OFFER_REFUSED when it is true (`m`
 * is answered with TH_ETOOBIG and freed). */
enum { RT_OFFER_QUEUED = 0, RT_OFFER_FULL, RT_OFFER_HELD, RT_OFFER_TOOBIG, RT_OFFER_REFUSED };
int rt_actor_offer(rt_actor *a, rt_msg *m, bool wait);
/* False if `m` alone is larger than a's limits.mailbox_bytes. */
bool rt_actor_msg_fits(const rt_actor *a, const rt_msg *m);
/* Why `m` does not fit (rt_actor_msg_fits), for an error message. */
void rt_actor_toobig_text(const rt_actor *a, const rt_msg *m, char *buf, size_t cap);
/* The error of an offer that was not queued (RT_OFFER_FULL: TH_EBUSY,
 * RT_OFFER_TOOBIG: TH_ETOOBIG), set in `err`; returns its code. */
int rt_actor_offer_error(const rt_actor *a, const rt_msg *m, int offer_rc, th_error *err);
/* Pop from the mailbox (the turn's thread), keeping mbox_bytes. */
rt_msg *rt_actor_mbox_pop(rt_actor *a);
/* Inside the turn: answer every message in the mailbox and every held one
 * with "actor <id> <why>". */
void rt_actor_refuse_all(rt_actor *a, const char *why);
/* rt_actor_refuse_all for an actor that will not handle its mailbox: the
 * one-way messages in it (which have nobody to answer) are first recorded
 * as one "message-dropped" event, {"reason": `reason`, "count", "bytes",
 * "message_ids": the ids of the durable ones, at most 100}, unless none
 * is.  keep_durable: the durable ones are not dropped but kept for the
 * restore (a runtime shutdown of an actor that comes back), so left out.
 * Not during a replay. */
void rt_actor_drop_all(rt_actor *a, const char *why, const char *reason, bool keep_durable);

/* Inside the turn: the actor's instance has ended (failure, stop,
 * restart); tells the handlers (th_handler_set.actor_ended) and drops
 * its last target (a->last_to: two actors that sent to each other would
 * otherwise keep each other for ever). */
void rt_actor_ended(rt_actor *a);

/* Instantiate the spec's module for `a` (drops any old instance).  When
 * its start function traps, *backtrace (if `backtrace` is not NULL) gets
 * where (malloc'd, one "#N name" frame per line, innermost first; the
 * caller frees it); otherwise NULL. */
int rt_actor_instantiate(rt_actor *a, char **backtrace /* out */, th_error *err);

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
/* Packing idle actors' memory (pack.c)                               */

/* Start the packer (before the workers): actors idle `idle_ms` (0 = the
 * default, TH_RUNTIME_PACK_NEVER = never) have their memory packed. */
int rt_pack_start(rt_runtime *rt, unsigned idle_ms, th_error *err);
/* Stop the packer thread (shutdown begins); idempotent. */
void rt_pack_stop(rt_runtime *rt);
/* Stop it if needed and empty its list (no turn runs any more). */
void rt_pack_free(rt_runtime *rt);
/* At the start of every turn: note the time (`now`, rt_now_ns) and put
 * the actor on the packer's list if it is not. */
void rt_pack_turn_begin(rt_actor *a, uint64_t now);
/* Before the actor's code runs (the start of an operation): its memory
 * back, if it was packed. */
void rt_pack_unpack(rt_actor *a);

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
 * state is unchanged; after a trap or running out of fuel, *backtrace (if
 * `backtrace` is not NULL) gets where (malloc'd, one "#N name" frame per
 * line, innermost first), otherwise NULL. */
int rt_upgrade_migrate(rt_actor *a, const char *from_version, bool *ran, char **backtrace /* out */,
                       th_error *err);

#endif
