/*
 * rt_sched.h - what runs actors: the worker threads and their run queues
 * (sched.c), the call-timeout wheel the workers turn (timer.c) and the
 * libuv I/O thread (io.c).  Private to src/runtime/ (rt_int.h).
 */
#ifndef THEATER_RT_SCHED_H
#define THEATER_RT_SCHED_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "theater/error.h"
#include "theater/wasm.h"
#include "runtime/rt_host.h"

typedef struct rt_worker rt_worker;

/* ------------------------------------------------------------------ */
/* Call timeouts (timer.c)                                            */

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
/* Scheduler (sched.c)                                                */

struct rt_worker {
    rt_runtime *rt;
    pthread_t thread;
    unsigned idx;
    pthread_mutex_t lock; /* guards the local queue */
    rt_actor *qhead, *qtail;
    atomic_size_t qlen;
    atomic_size_t npre;        /* preempted actors queued that belong here (qlock) */
    atomic_size_t pre_running; /* 1 while it runs a turn of a preempted actor (owner writes) */
    rt_actor *next;            /* run next (owner thread only) */
    uint64_t next_since;       /* when the current run-next streak began (0: none) */
    unsigned picks;            /* actors taken (take_work, sched.c says why) */
    bool ran_woken;            /* the last turn was of a woken actor */
    th_wasm_exec *cache[8];    /* idle execs */
    struct rt_op *op_spare;    /* a freed operation kept for the next (turn.c) */
    unsigned ncache;
    rt_actor *handoff;           /* woken by a request of the running turn: runs nested (turn.c) */
    bool handoff_want;           /* a request is offering its message: keep the woken target */
    unsigned nested;             /* depth of nested turns running here (0 or 1) */
    rt_actor *turn_actor;        /* whose turn runs here now (turn.c), or NULL */
    struct rec_batch *rec_batch; /* record.c: events of turn_actor not yet queued */
    struct rec_batch *rec_held;  /* record.c: the outer turn's, while a nested turn runs */
    struct rec_batch *rec_nest;  /* record.c: the nested turns' buffer, kept between them */
    rt_actor *rec_parker;        /* record.c: whose nested turns' batch is parked (a reference) */
    bool rec_handed;             /* record.c: the running turn handed requests over (its
                                    batches go to the recorder: round trips wait for it) */
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
/* Pacing (send.c): `a` waits in the current worker's run-next slot or
 * local queue (true), or in the preempted FIFO among its first few, from
 * where it is moved to the worker's local queue (true); false otherwise.
 * A hint: `a` may be taken by another worker meanwhile. */
#define RT_WAITING_PREEMPTED UINT32_MAX /* rt_actor.waiting_on: in the preempted FIFO */
bool rt_sched_pull_here(rt_actor *a);
/* The worker running on this thread, or NULL. */
rt_worker *rt_sched_self(void);
/* Deliver a request's message (rt_actor_offer) so that, when it wakes an
 * idle target and the caller's turn is not itself nested, the target is
 * kept in the worker's hand-off slot for the caller's turn to run nested
 * (turn.c) instead of being queued.  Returns rt_actor_offer's result. */
int rt_sched_offer_handoff(rt_actor *t, rt_msg *m);
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

#endif
