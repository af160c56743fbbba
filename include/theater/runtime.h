/*
 * runtime.h - the public, thread-safe embedding API of the actor runtime
 * (src/runtime/).
 *
 * A th_runtime owns worker threads that run actors, one I/O thread (timers,
 * deadlines), the content store and the event chains under a THEATER_HOME
 * directory.  Actors are WebAssembly modules that follow ABI.md, spawned from
 * TOML manifests.  Every function here may be called from any thread, except
 * from inside an event callback (th_runtime_event_fn) where only the
 * non-blocking calls (send, list, get-state) are allowed.
 *
 * Actor ids are UUID v4 strings (36 characters + NUL, TH_ACTOR_ID_SIZE).
 *
 * Ownership: buffers returned through `uint8_t **` / `char ***` outputs are
 * malloc'd and owned by the caller (free them with free(), or
 * th_runtime_strv_free for string vectors).
 */
#ifndef THEATER_RUNTIME_H
#define THEATER_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "theater/chain.h"
#include "theater/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TH_ACTOR_ID_SIZE 37 /* "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx" + NUL */

typedef struct th_runtime th_runtime;
struct th_chain;
struct th_store;

/* One chain event as seen by subscribers.  Every pointer is valid only
 * during the callback. */
typedef struct th_runtime_event {
    const char *actor_id;
    const char *type;    /* e.g. "wasm-call", "host-call", "actor-failed" */
    const uint8_t *data; /* event data (JSON text, see docs) */
    size_t data_len;
    uint64_t timestamp_ms;      /* ms since the Unix epoch */
    const uint8_t *hash;        /* 32-byte event hash, NULL if not hashed */
    uint64_t seq;               /* sequence number in the actor's chain
                                   (UINT64_MAX if it could not be recorded) */
    const uint8_t *parent_hash; /* 32-byte hash of the actor's previous event,
                                   NULL for its first one (or if unknown) */
    const char *description;    /* the event's description, NULL if none (an
                                   event held by content reference has
                                   "content-ref") */
} th_runtime_event;

/* Called on a runtime thread for every event of a subscribed actor, in chain
 * order.  Must be quick and must not block. */
typedef void (*th_runtime_event_fn)(void *ud, const th_runtime_event *ev);

/* Called for every `runtime.log` of any actor (NULL: log lines go to the
 * events only). */
typedef void (*th_runtime_log_fn)(void *ud, const char *actor_id, const char *actor_name,
                                  const char *msg, size_t len);

/* The host capabilities (handlers) a runtime may grant; the built-in set is
 * th_handlers_builtin() (theater/handlers.h). */
typedef struct th_handler_set th_handler_set;

typedef struct th_runtime_config {
    const char *home; /* THEATER_HOME; NULL: $THEATER_HOME, else ~/.theater */
    /* The handlers actors may be granted; NULL = none (an actor whose
     * manifest lists a handler is refused).  Embedders pass
     * th_handlers_builtin(). */
    const th_handler_set *handlers;
    unsigned workers;         /* worker threads; 0 = number of cores */
    bool in_memory;           /* keep the store and chains in memory only */
    th_runtime_log_fn log_fn; /* optional */
    void *log_ud;
    th_runtime_event_fn event_fn; /* optional: every event of every actor */
    void *event_ud;
    unsigned max_actors; /* live actors at most; 0 = TH_RT_DEFAULT_MAX_ACTORS (1,000,000) */
    /* While the chain writer cannot store events (e.g. the disk is full),
     * an actor about to make a host call (an effect) waits for it at most
     * this long, then the call fails and the actor stops: nothing happens
     * unrecorded.  0 = TH_RT_RECORD_STALL_MS (30 s). */
    unsigned record_stall_ms;
    /* Durable actors (the daemon; docs/durability.md): actors whose
     * manifest does not say `durable = false` are recorded in theater.db
     * so that th_runtime_restore brings them back after a restart, and
     * every message to them is stored before it is acknowledged. */
    bool durable;
    /* An actor idle this long has its linear memory packed: the non-zero
     * bytes of its touched pages kept in one heap block, the pages given
     * back, all put back when it next runs (docs/performance.md).  0 =
     * TH_RT_PACK_IDLE_MS (1 s); TH_RUNTIME_PACK_NEVER = never. */
    unsigned pack_idle_ms;
} th_runtime_config;

#define TH_RUNTIME_PACK_NEVER 0xffffffffu

/* The state of the runtime's chain writer (th_chain_status): `stalled`
 * means events cannot be stored right now (e.g. a full disk); recording
 * actors then wait up to record_stall_ms and fail.  A daemon reports it
 * (health endpoint); all zero before start or after shutdown. */
void th_runtime_chain_status(th_runtime *rt, th_chain_status *out /* out */);

/* The event types the runtime records (docs/events.md), in the order the
 * docs list them; th_event_type_known says whether `type` is one. */
extern const char *const th_event_types[];
extern const size_t th_event_ntypes;
bool th_event_type_known(const char *type);
/* "actor-spawned, wasm-call, ..." into out (cap bytes, cut if shorter). */
void th_event_types_join(char *out, size_t cap);

/* Create a runtime: open (creating if needed) the home directory and its
 * database, start the workers and the I/O thread.  `cfg` may be NULL. */
int th_runtime_new(const th_runtime_config *cfg, th_runtime **out, th_error *err);

/* Stop every actor (children before parents), flush every chain to the
 * database and stop the threads.  Idempotent.  After it, only
 * th_runtime_free is valid. */
int th_runtime_shutdown(th_runtime *rt, th_error *err);

/* The first part of th_runtime_shutdown, for a caller that still has work
 * to do with the actors' last events before the chain closes: refuse new
 * spawns and stop every actor (each stop waited for at most 30 s), their
 * last events heard; the chain stays open and readable.
 * th_runtime_shutdown then does the rest (it stops no actor again).
 * Idempotent. */
void th_runtime_stop_actors(th_runtime *rt);

/* Shut down if not done yet and free everything.  NULL is ok. */
void th_runtime_free(th_runtime *rt);

/* How to spawn: a manifest by path, or its TOML text (relative paths in the
 * text resolve against `base_dir`, default the current directory), with an
 * optional initial state that overrides the manifest's init_state. */
typedef struct th_spawn_opts {
    const char *manifest_path;    /* either this ... */
    const char *manifest_text;    /* ... or this (NUL-terminated TOML) */
    const char *base_dir;         /* for manifest_text; may be NULL */
    const uint8_t *initial_state; /* optional (NULL = none) */
    size_t initial_state_len;
    const char *parent_id; /* optional: start it as a child of this
                              live actor (its supervisor hears of it) */
    /* Optional: subscribe `event_fn` to the new actor's events before its
     * init runs, so no event is missed; the subscription id goes to
     * *sub_id (th_runtime_unsubscribe).  It stays even if init fails. */
    th_runtime_event_fn event_fn;
    void *event_ud;
    uint64_t *sub_id; /* out; required with event_fn */
    /* Optional: when the spawn fails because the actor's code trapped (in
     * its init, or in its module's start function), *backtrace gets where
     * (malloc'd, caller frees: the wasm backtrace, one "#N name" frame per
     * line, innermost first); otherwise NULL. */
    char **backtrace; /* out */
} th_spawn_opts;

/* Spawn a root actor and run its init.  Returns 0 with the id in `id_out`
 * once init has succeeded; on a failed init the actor is removed and the
 * error says why (the chain stays in the database; a trap's backtrace:
 * th_spawn_opts.backtrace).  The caller is the operator: the actor gets
 * what its manifest grants (docs/security.md); TH_EPERM if the runtime
 * already runs max_actors actors. */
int th_runtime_spawn(th_runtime *rt, const th_spawn_opts *opts, char id_out[TH_ACTOR_ID_SIZE],
                     th_error *err);

/* Send a one-way message (handle-send).  Returns once it is queued.  Never
 * waits: if the actor's mailbox is full (its limits.mailbox_messages or
 * mailbox_bytes, or messages of suspended senders wait before it), returns
 * TH_EBUSY and nothing is queued; try again later.  A message larger than
 * the mailbox could ever hold (limits.mailbox_bytes, which counts a header
 * per message besides its bytes) gets TH_ETOOBIG. */
int th_runtime_send(th_runtime *rt, const char *actor_id, const uint8_t *msg, size_t len,
                    th_error *err);

/* Send a request (handle-request) and wait for the response, at most
 * `timeout_ms` (0 = no limit).  TH_ETIMEDOUT when the time is up; TH_EBUSY
 * (or TH_ETOOBIG) at once, as for th_runtime_send, if the mailbox is full
 * (or the message could never fit).  The response
 * is malloc'd into *resp (caller frees). */
int th_runtime_request(th_runtime *rt, const char *actor_id, const uint8_t *msg, size_t len,
                       uint32_t timeout_ms, uint8_t **resp /* out */, size_t *resp_len /* out */,
                       th_error *err);
/* th_runtime_request that also says where a trap was: when the actor
 * trapped while handling the request, *backtrace gets its wasm backtrace
 * (the frames its "actor-failed" event records: one "#N name" frame per
 * line, innermost first; malloc'd, caller frees); otherwise NULL. */
int th_runtime_request_bt(th_runtime *rt, const char *actor_id, const uint8_t *msg, size_t len,
                          uint32_t timeout_ms, uint8_t **resp /* out */, size_t *resp_len /* out */,
                          char **backtrace /* out */, th_error *err);

/* Stop an actor (its children first) and wait until it is gone and its
 * events (actor-stopped the last) are durable.  Its parent, if any, gets
 * handle-child-external-stop. */
int th_runtime_stop(th_runtime *rt, const char *actor_id, th_error *err);

/* Stop many actors as th_runtime_stop stops one, side by side: every stop
 * is under way at once (up to a window of 1,024), so the workers stop them
 * in their turns and their last events share the chain's commits; returns
 * once each has gone and its events are durable.  Ids not found are
 * skipped (the others are stopped).  *stopped (may be NULL) gets how many
 * of the ids named an actor now stopped (an id named twice counts twice).  0 if every id was
 * stopped; else the first failure's code (TH_ENOENT for ids not found), with the others stopped all
 * the same. */
int th_runtime_stop_many(th_runtime *rt, const char *const *actor_ids, size_t n,
                         size_t *stopped /* out */, th_error *err);

/* Copy of an actor's current state.  *has_state is false for `none`. */
int th_runtime_get_state(th_runtime *rt, const char *actor_id, bool *has_state /* out */,
                         uint8_t **state /* out */, size_t *len /* out */, th_error *err);

/* Status of an actor by id. */
typedef enum th_actor_status {
    TH_ACTOR_STARTING = 0,
    TH_ACTOR_RUNNING,
    TH_ACTOR_FAILED, /* waiting for its supervisor (restart or stop) */
    TH_ACTOR_STOPPING,
    TH_ACTOR_STOPPED,
} th_actor_status;
int th_runtime_actor_status(th_runtime *rt, const char *actor_id, th_actor_status *status /* out */,
                            th_error *err);

/* Ids of all live actors, or of one actor's children (in start order).
 * *ids is a NULL-terminated malloc'd vector (th_runtime_strv_free). */
int th_runtime_list_actors(th_runtime *rt, char ***ids /* out */, size_t *n /* out */,
                           th_error *err);
int th_runtime_list_children(th_runtime *rt, const char *actor_id, char ***ids /* out */,
                             size_t *n /* out */, th_error *err);
void th_runtime_strv_free(char **ids);

/* Subscribe to an actor's events (past events are not replayed).  Returns a
 * subscription id > 0 in *sub_id. */
int th_runtime_subscribe(th_runtime *rt, const char *actor_id, th_runtime_event_fn fn, void *ud,
                         uint64_t *sub_id /* out */, th_error *err);
/* Remove a subscription; once it returns the callback is not running and
 * will not run again. */
int th_runtime_unsubscribe(th_runtime *rt, uint64_t sub_id);

/* Wait until every event recorded for the actor so far is durable and has
 * been delivered to its subscribers.  An actor that has ended (it left the
 * runtime) is flushed too: then everything recorded so far, of any actor,
 * is waited for.  TH_ENOENT for an actor neither running nor on the
 * chain. */
int th_runtime_flush(th_runtime *rt, const char *actor_id, th_error *err);

/* The events of a live actor with `save_chain = false`, whose chain is
 * kept in memory only (the newest 16 MiB of it), that `q` selects as
 * th_chain_read would (q->actor is not looked at); recorded events are
 * flushed first.  *out is the caller's (th_chain_events_free).  TH_ENOENT
 * for no live actor, TH_EINVAL for an actor whose chain is stored. */
int th_runtime_memory_events(th_runtime *rt, const char *actor_id, const th_chain_query *q,
                             th_chain_events *out /* out */, th_error *err);

/* How an actor ended (th_runtime_wait). */
typedef struct th_actor_exit {
    int reason;    /* TH_EXIT_* */
    bool has_data; /* shutdown data (TH_EXIT_SHUTDOWN) */
    uint8_t *data; /* malloc'd, caller frees */
    size_t data_len;
    char message[TH_ERROR_MSG_MAX]; /* failure description */
    /* A failure that was a trap (or used up fuel_per_call or its time):
     * where, the wasm backtrace its "actor-failed" event records (one "#N
     * name" frame per line, innermost first); malloc'd, caller frees;
     * NULL otherwise. */
    char *backtrace;
} th_actor_exit;
enum {
    TH_EXIT_SHUTDOWN = 1, /* runtime.shutdown(data) */
    TH_EXIT_STOPPED = 2,  /* stopped from outside or by its parent */
    TH_EXIT_FAILED = 3,   /* failed and nobody restarted it */
};

/* Wait until the actor shuts down, is stopped or fails (a failure of an
 * actor that has a supervising parent is not an end: it may be restarted).
 * `timeout_ms` 0 = no limit.  `exit` may be NULL; its data and backtrace
 * are the caller's to free.  A root actor's end is still known after it
 * has left: the newest 4,096 ends (TH_RT_MAX_EXITS), holding at most 16
 * MiB of end data and backtraces (TH_RT_EXITS_MAX_BYTES; the newest end is
 * kept whatever its size); an older one gives TH_ENOENT. */
int th_runtime_wait(th_runtime *rt, const char *actor_id, uint32_t timeout_ms,
                    th_actor_exit *exit /* out */, th_error *err);

/* Every event of a live actor's chain so far, oldest first (after a flush,
 * so every event recorded before the call is included), with hash and
 * parent hash; `fn` runs on the calling thread (src/runtime/history.c).
 * TH_ENOENT for an unknown actor. */
int th_runtime_actor_events(th_runtime *rt, const char *actor_id, th_runtime_event_fn fn, void *ud,
                            th_error *err);

/* Ask every wait to return early (e.g. on Ctrl-C): waits return TH_ECLOSED.
 * Only stores a flag: safe to call from a signal handler. */
void th_runtime_interrupt(th_runtime *rt);

/* ------------------------------------------------------------------ */
/* Management (src/runtime/manage.c): what a management API needs.     */

/* A snapshot of one live actor: identity, place in the tree, metrics. */
typedef struct th_actor_info {
    char id[TH_ACTOR_ID_SIZE];
    char parent[TH_ACTOR_ID_SIZE]; /* "" for a root actor */
    char name[256];
    char version[256];
    th_actor_status status;
    uint64_t started_ms; /* ms since the Unix epoch (spawn) */
    uint64_t start_seq;  /* start order in this runtime (a restore: parents first) */
    uint32_t children;
    bool save_chain;
    uint64_t messages_in;  /* operations delivered to its mailbox */
    uint64_t messages_out; /* sends, requests, channel messages it made */
    uint64_t calls;        /* export calls started */
    uint64_t fuel_used;    /* instructions, over all calls */
    uint64_t memory_bytes; /* linear memory after its last call */
    uint64_t events;       /* chain events recorded */
    uint64_t restarts;     /* times it was restarted */
} th_actor_info;

/* Fill `out` for a live actor.  TH_ENOENT if there is none. */
int th_runtime_actor_info(th_runtime *rt, const char *actor_id, th_actor_info *out /* out */,
                          th_error *err);

/* The manifest an actor was started with: its TOML text (malloc'd, caller
 * frees) and, when it came from a file, the file's absolute path (malloc'd
 * or NULL; `path` may be NULL if not wanted). */
int th_runtime_actor_manifest(th_runtime *rt, const char *actor_id, char **text /* out */,
                              char **path /* out */, th_error *err);

/* Restart an actor with its manifest: a fresh instance, its initial state,
 * its id and chain kept ("actor-restarted" is recorded).  Returns once the
 * restart is queued. */
int th_runtime_restart(th_runtime *rt, const char *actor_id, th_error *err);

/* Stop an actor after the messages already in its mailbox (graceful; the
 * parent is told as for th_runtime_stop), waiting at most `timeout_ms`
 * (0 = no limit) before stopping it at once. */
int th_runtime_stop_graceful(th_runtime *rt, const char *actor_id, uint32_t timeout_ms,
                             th_error *err);

/* Completion of an asynchronous call: `status` 0 with the result bytes, or
 * a TH_E* code with a message.  When the actor trapped while handling the
 * call, `backtrace` is where (the wasm backtrace its "actor-failed" event
 * records: one "#N name" frame per line, innermost first); otherwise NULL.
 * Both strings are borrowed for the call.  Called exactly once, on a
 * runtime thread (or on the caller's thread if the call fails at once);
 * must be quick and must not call back into the runtime. */
typedef void (*th_runtime_reply_fn)(void *ud, int status, const uint8_t *data, size_t len,
                                    const char *msg, const char *backtrace);

/* Send a request like th_runtime_request without waiting: `fn` gets the
 * response.  `timeout_ms` (0 = none) is how long the caller waits for it:
 * after that a request the actor deferred (answered later with
 * respond-to-request) is no longer outstanding, as for th_runtime_request
 * (`fn` is still called once, with whatever comes).  Returns 0 if the
 * request was queued (then `fn` is called later), or an error (then `fn`
 * is not called): TH_EBUSY if the mailbox is full, TH_ETOOBIG if the
 * message could never fit, as for th_runtime_send. */
int th_runtime_request_async(th_runtime *rt, const char *actor_id, const uint8_t *msg, size_t len,
                             uint32_t timeout_ms, th_runtime_reply_fn fn, void *ud, th_error *err);

/* Send a one-way message like th_runtime_send without waiting: `fn` is
 * called once (with status 0, or an error) when it is queued; for a
 * durable actor (th_runtime_config.durable) that is once it is stored and
 * has room in the mailbox (it waits for room instead of TH_EBUSY).  `fn`
 * may run on the calling thread before this returns.  Returns 0 if `fn`
 * will be (or was) called, else an error (TH_ENOENT, TH_EBUSY, TH_ETOOBIG
 * also for a durable actor, before anything is stored, TH_ESTATE for an
 * actor that is stopping, ...) and `fn` is
 * not called. */
int th_runtime_send_async(th_runtime *rt, const char *actor_id, const uint8_t *msg, size_t len,
                          th_runtime_reply_fn fn, void *ud, th_error *err);

/* Bring back the durable actors of the home (a runtime created with
 * th_runtime_config.durable, before anyone else uses it): every actor
 * that was running when the last runtime on this home ended (however it
 * ended), with its id, parent, manifest and the state after the last
 * event committed on its chain, recorded as "actor-restored"; then the
 * messages acknowledged to them and not yet handled, in their order.  An
 * actor whose chain ends stopped or failed is forgotten.  `fn` (may be
 * NULL) hears of each actor brought back (or not: status != 0 and why).
 * *restored (may be NULL) counts them.  Errors: reading the database. */
typedef void (*th_runtime_restore_fn)(void *ud, const char *actor_id, const char *name, int status,
                                      const char *what);
int th_runtime_restore(th_runtime *rt, th_runtime_restore_fn fn, void *ud,
                       size_t *restored /* out */, th_error *err);

/* Channels with the outside: an endpoint that is not an actor. */
enum { TH_CHANNEL_MESSAGE = 1, TH_CHANNEL_CLOSED = 2 };
/* What the actor sends on the channel (TH_CHANNEL_MESSAGE, with bytes) and
 * its end (TH_CHANNEL_CLOSED: no bytes when the actor closed it; else why
 * it ended, as text: "actor NAME (ID) failed: ...", "... stopped",
 * "... restarted").  Called on runtime threads, never after
 * th_runtime_channel_close returned; must be quick, must not call back. */
typedef void (*th_runtime_channel_fn)(void *ud, int kind, const char *channel, const uint8_t *data,
                                      size_t len);

/* Open a channel from the outside to an actor with an initial message:
 * the actor's handle-channel-open decides.  `done` is called once with the
 * channel id as its bytes (accepted) or an error (TH_EPERM: rejected).
 * Messages the actor sends back go to `fn`.  The channel id is known at
 * once (`chan_out`); release the endpoint with th_runtime_channel_close
 * in every case (also after a rejection or a close by the actor).  If this
 * returns an error (TH_EBUSY: the actor's mailbox is full; TH_ETOOBIG: the
 * message could never fit in it) there is no endpoint and `done` is not
 * called. */
int th_runtime_channel_open(th_runtime *rt, const char *actor_id, const uint8_t *msg, size_t len,
                            th_runtime_channel_fn fn, void *ud, th_runtime_reply_fn done,
                            void *done_ud, char chan_out[TH_ACTOR_ID_SIZE], th_error *err);
/* Send on a channel opened with th_runtime_channel_open.  TH_ENOENT (no
 * such channel), TH_ECLOSED (not open), TH_EBUSY (the actor's mailbox is
 * full: nothing sent, try again), TH_ETOOBIG (the message could never fit
 * in it). */
int th_runtime_channel_send(th_runtime *rt, const char *channel, const uint8_t *msg, size_t len,
                            th_error *err);
/* Close it (the actor gets handle-channel-close if it was open) and release
 * the endpoint: once this returns, `fn` is not running and will not run. */
int th_runtime_channel_close(th_runtime *rt, const char *channel, th_error *err);

/* The runtime's event chains and content store (borrowed; valid until
 * th_runtime_free), for readers beside the runtime. */
struct th_chain *th_runtime_chain(th_runtime *rt);
struct th_store *th_runtime_store(th_runtime *rt);

/* Hot upgrade (src/runtime/upgrade.c, docs/upgrade.md): replace a live
 * actor's component with `len` bytes of new code between two of its
 * operations, keeping its id, state, mailbox, channels, children and
 * chain.  The code is validated, its exports' signatures and its imports
 * (against the handlers the manifest grants) checked, and it must export
 * every actor export the running code has; its optional migrate export
 * then transforms the state (an err or a trap keeps the old code).  On
 * success "component-updated" is recorded and `from` / `to` (65 bytes
 * each, may be NULL) get the old and new SHA-256; `version` (may be NULL)
 * is the new code's version, passed to the next upgrade's migrate.  On
 * any failure the old code keeps running and err says why: TH_ENOENT (no
 * such actor), TH_EINVAL / TH_ELINK (the code does not fit), TH_ETRAP /
 * TH_EINVAL (migrate trapped / returned an error), TH_ESTATE (not
 * running), TH_ETIMEDOUT (an operation still runs after 60 s: the upgrade
 * happens when it ends). */
int th_runtime_update(th_runtime *rt, const char *actor_id, const uint8_t *bytes, size_t len,
                      const char *version, char *from /* out */, char *to /* out */, th_error *err);
/* th_runtime_update that also says where the new code trapped: when the
 * upgrade is refused because its start function or its migrate trapped
 * (or migrate ran out of fuel), *backtrace gets the wasm backtrace (one
 * "#N name" frame per line, innermost first; malloc'd, caller frees);
 * otherwise NULL.  Nothing is recorded for a refused upgrade, so this is
 * the only place the frames are told. */
int th_runtime_update_bt(th_runtime *rt, const char *actor_id, const uint8_t *bytes, size_t len,
                         const char *version, char *from /* out */, char *to /* out */,
                         char **backtrace /* out */, th_error *err);

/* ------------------------------------------------------------------ */
/* Components (src/runtime/component.c)                               */

/* An actor's component is part of its record: actor-spawned,
 * actor-restarted and component-updated events name the SHA-256 of its
 * bytes ("component", docs/events.md) and the bytes are in the content
 * store TH_CHAIN_CONTENT_STORE of the home. */

/* The bytes of the component `hash` (64 lowercase hex digits) from the
 * store `s`, checked against the hash.  *bytes is malloc'd (caller frees).
 * TH_ENOENT if the store does not have it, TH_ECORRUPT if the stored bytes
 * do not match. */
int th_runtime_component_read(struct th_store *s, const char *hash, uint8_t **bytes /* out */,
                              size_t *len /* out */, th_error *err);

/* The component an actor ran right after event `upto` of its chain `evs`
 * (events oldest first, evs->items[i].seq == i; SIZE_MAX: after the last):
 * the hash named by the last actor-spawned, actor-restarted or
 * component-updated event up to it, into `hash` (65 bytes).  TH_ENOENT if
 * no such event names one (a chain recorded before components were). */
int th_runtime_chain_component(const th_chain_events *evs, size_t upto, char *hash /* out */,
                               th_error *err);

/* ------------------------------------------------------------------ */
/* Replay (src/runtime/replay.c)                                      */

/* Called after each replayed operation (and each start of code) with the
 * sequence number of its last event and the actor's state right after it
 * (borrowed for the call). */
typedef void (*th_runtime_replay_state_fn)(void *ud, uint64_t seq, bool has_state,
                                           const uint8_t *state, size_t len);

typedef struct th_runtime_replay_opts {
    const th_chain_events *events; /* the recorded chain, seq 0, 1, ... */
    /* or (events NULL) the chain being read (th_chain_stream_open): the
     * replay runs each event as soon as it is read; the stream stays the
     * caller's (th_chain_stream_close after the replay: a read error
     * beyond where the replay stopped is said there) */
    struct th_chain_stream *stream;
    struct th_store *store;         /* the components by hash (may be NULL
                                       with `component`) */
    const th_handler_set *handlers; /* th_handlers_builtin(): the imports */
    /* optional: where components come from instead of `store` (e.g. an
     * export file's component lines): the bytes of `hash` (malloc'd), or
     * TH_ENOENT */
    int (*component_fn)(void *ud, const char *hash, uint8_t **bytes /* out */,
                        size_t *len /* out */, th_error *err);
    void *component_ud;
    const uint8_t *component; /* optional: replay this code instead */
    size_t component_len;
    uint64_t until;                      /* replay the events up to this seq (UINT64_MAX: all);
                                            an operation that ends after it is not run */
    th_runtime_replay_state_fn state_fn; /* optional */
    void *state_ud;
    /* Optional: when the replay fails because the code trapped in its
     * module's start function (instantiated for actor-spawned,
     * actor-restarted, actor-restored or component-updated), *backtrace
     * gets where (malloc'd, caller frees: the wasm backtrace, one "#N
     * name" frame per line, innermost first); otherwise NULL. */
    char **backtrace; /* out */
} th_runtime_replay_opts;

typedef struct th_runtime_replay_result {
    uint64_t events;                   /* recorded events replayed, each matched */
    bool diverged;                     /* the first difference: */
    uint64_t seq;                      /* the recorded event where it is */
    char type[64];                     /* ... its type */
    char recorded[512], replayed[512]; /* both sides, "TYPE DATA" (cut) */
    bool has_state;                    /* the state at the end (malloc'd) */
    uint8_t *state;
    size_t state_len;
    char component[65]; /* the code replayed last (SHA-256 hex) */
    bool open_end;      /* the record ends inside an operation (still running,
                           or its process ended): compared up to there */
} th_runtime_replay_result;

/* Re-run an actor from its chain: instantiate its recorded component (from
 * `store` by the hash its events name, or `component`), call its exports
 * with the recorded parameters in the recorded order (same limits), answer
 * every host call with its recorded output (nothing reaches the world) and
 * compare every event it produces with the recorded one.  Returns 0 when
 * the replay ran: res->diverged says whether it matched (th_runtime_replay_result_release
 * frees the state); an error when it could not (no component, a record it
 * cannot read, code whose start function traps: opts->backtrace). */
int th_runtime_replay(const th_runtime_replay_opts *opts, th_runtime_replay_result *res /* out */,
                      th_error *err);
void th_runtime_replay_result_release(th_runtime_replay_result *res);

/* The THEATER_HOME directory the runtime uses (borrowed). */
const char *th_runtime_home(th_runtime *rt);

#ifdef __cplusplus
}
#endif
#endif
