/*
 * rt_runtime.h - the runtime object (runtime.c): its caches of modules and
 * specs, components in the content store (component.c), channels and the
 * ends of root actors.  Private to src/runtime/ (rt_int.h).
 */
#ifndef THEATER_RT_RUNTIME_H
#define THEATER_RT_RUNTIME_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "theater/error.h"
#include "theater/runtime.h"
#include "theater/wasm.h"
#include "runtime/rt_host.h"
#include "runtime/rt_queue.h"
#include "runtime/rt_registry.h"
#include "runtime/rt_sched.h"

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
    /* pack.c: the packer of idle actors' memory */
    _Atomic(rt_actor *) pack_head; /* actors to look at (rt_actor.pack_next) */
    uint64_t pack_idle_ns;         /* idle time before packing; 0 = never */
    pthread_t pack_thread;
    pthread_mutex_t pack_lock;
    pthread_cond_t pack_cond;
    bool pack_init, pack_running, pack_stop;
    atomic_uint_fast64_t pack_packed, pack_unpacked; /* memories packed, unpacked */
    int spec_watch;        /* inotify descriptor of the spec cache (spec.c) */
    bool spec_watch_tried; /* ... created, or found unavailable (-1) */

    pthread_mutex_t chanlock; /* channels */
    rt_channel *channels;
    pthread_mutex_t outlock; /* outside channel endpoints (manage.c) */
    struct rt_outside *outside;

    pthread_mutex_t sublock; /* subscription ids */
    uint64_t next_sub;

    pthread_mutex_t exitlock;  /* ends of root actors, for late waiters */
    struct rt_exit_rec *exits; /* ring of RT_MAX_EXITS records */
    unsigned nexits;           /* records ever kept (the next goes at nexits % RT_MAX_EXITS) */
    unsigned exits_old;        /* records before this one are forgotten */
    size_t exits_bytes;        /* data and backtraces the ring holds */

    struct rt_durable *durable; /* durable.c: NULL unless th_runtime_config.durable */

    unsigned max_actors;             /* live actors at most (th_runtime_config) */
    atomic_bool closing;             /* shutdown started: spawns refused */
    atomic_uint_fast64_t next_start; /* the start order of the next actor created */
    atomic_bool interrupted;
    bool actors_stopped; /* th_runtime_stop_actors done */
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
/* Close every channel of an actor (telling the peers): it ended, `why`
 * (an outside peer hears it with the close, th_runtime_channel_fn). */
void rt_channel_close_all(rt_runtime *rt, const char *self, const char *why);

#endif
