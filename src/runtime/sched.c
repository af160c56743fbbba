/*
 * sched.c - the M:N scheduler: worker threads that run actor turns.
 *
 * Every worker has a "run next" slot and a local FIFO; there is one global
 * FIFO for actors made runnable by threads outside the pool (the embedding
 * API, the I/O thread).  An actor made runnable by a worker goes to that
 * worker's run-next slot (the previous occupant moves to its local queue):
 * a request/reply or a send between two actors then continues on the same
 * core without waking anybody, which is what keeps a round trip at a few
 * microseconds.
 *
 * Fairness.  A turn lasts at most one slice (TH_RT_TURN_SLICE_MS of wall
 * time, or TH_RT_TURN_BUDGET steps; turn.c).  An actor whose turn was cut
 * short (preempted) goes to the back of one shared "preempted" FIFO, which
 * a worker serves only when no woken actor is waiting anywhere (run-next,
 * its local queue, the global queue, the other workers' local queues).  So
 * an actor woken by a message or a timer runs within one slice of becoming
 * runnable, however many CPU-bound actors there are.  So that a steady
 * stream of woken actors cannot starve the preempted ones in turn, a
 * preempted actor that has waited longer than TH_RT_PREEMPT_WAIT_MS is
 * served first by the next worker that finishes a turn of a woken actor.
 * Two actors waking each other through the run-next slot (a request/reply
 * pair exchanging without end) could keep everyone else waiting: a
 * run-next streak lasts at most one slice, after which the slot's occupant
 * goes to the local queue and the global queue is looked at first; and
 * every RT_GLOBAL_EVERY-th pick looks at the global queue before the local
 * one, so actors woken from outside the pool are served within a bounded
 * number of turns however busy the local queues are.
 *
 * Affinity.  Each preempted actor belongs to a worker: the one whose actor
 * sent it its last message (a receiver follows its sender), else the one
 * it was preempted on.  While as many preempted actors belong to every
 * worker (queued, or running there again), a worker takes from the FIFO
 * the first of the oldest few that belong to it: a sender in a loop and
 * its receiver then share one core (a message is read where it was
 * written) instead of moving to whichever worker is free, and the share
 * of each is what the FIFO order gives.  When they are not as many (three
 * loops on two workers) the FIFO order moves them round.
 *
 * Pacing.  A sender whose receiver has a backlog yields to it (send.c):
 * the receiver, if it waits in the preempted FIFO, is moved to the
 * sender's worker's local queue, and the sender goes behind it there
 * (RT_PUSH_AGAIN) rather than to the FIFO, so the pair stays on one core
 * and takes turns.  Only for a slice of such turns since the sender was
 * last preempted: then it goes to the back of the FIFO as any turn that
 * used up its slice, so a pacing pair cannot keep CPU-bound actors
 * waiting longer than a pair without pacing would.
 *
 * A worker without work sleeps on a condition variable; whoever queues
 * work while someone sleeps signals it.  Each pass of a worker's loop also
 * fires the call timeouts that are due (timer.c), and a sleeping worker
 * wakes up by the next one.
 *
 * Hand-off.  A request from an actor whose turn runs on a worker to an
 * idle actor does not queue the target: rt_sched_offer_handoff keeps it in
 * the worker's hand-off slot, and the requester's turn, now waiting for
 * the answer, runs the target's turn nested, on the same thread, at once
 * (turn.c); the answer then wakes the requester inside its own turn, which
 * resumes it.  A round trip so costs two operations and no pass through
 * the run queues, much as Erlang's scheduler keeps a message exchange on
 * one scheduler.  Bounds: a nested turn never nests another (depth 1: a
 * request made inside it queues its target as usual), and each hand-off
 * costs the requester one step of its turn's budget and counts in its
 * slice (no hand-off once the slice is over); the nested turn has its own
 * budget and slice, so a requester's turn with its hand-offs lasts at most
 * about two slices, and a requester and its server alternating this way
 * still leave the worker.
 *
 * A queued actor is owned by the queue (state RT_SCHED_QUEUED, one
 * reference); rt_actor_turn hands it back.
 *
 * Idle execs (engine stacks) are cached per worker, so an idle actor owns
 * none; threads outside the pool use a small shared pool.  A cached exec
 * keeps its initial stacks (th_wasm_exec_keep_stacks): an operation then
 * costs no malloc/free of engine stacks.
 */
#include <stdlib.h>
#include <sys/prctl.h>
#include <string.h>
#include <time.h>

#include "runtime/rt_int.h"

static __thread rt_worker *tl_worker;

rt_worker *rt_sched_self(void)
{
    return tl_worker;
}

static void q_push(rt_actor **head, rt_actor **tail, rt_actor *a)
{
    atomic_store_explicit(&a->rq_next, NULL, memory_order_relaxed);
    if (*tail != NULL)
        atomic_store_explicit(&(*tail)->rq_next, a, memory_order_relaxed);
    else
        *head = a;
    *tail = a;
}

static rt_actor *q_pop(rt_actor **head, rt_actor **tail)
{
    rt_actor *a = *head;

    if (a != NULL) {
        *head = atomic_load_explicit(&a->rq_next, memory_order_relaxed);
        if (*head == NULL)
            *tail = NULL;
    }
    return a;
}

void rt_sched_poke(rt_runtime *rt)
{
    if (atomic_load(&rt->sleepers) > 0) {
        pthread_mutex_lock(&rt->qlock);
        pthread_cond_broadcast(&rt->qcond);
        pthread_mutex_unlock(&rt->qlock);
    }
}

static void notify_sleeper(rt_runtime *rt)
{
    if (atomic_load(&rt->sleepers) > 0) {
        pthread_mutex_lock(&rt->qlock);
        pthread_cond_signal(&rt->qcond);
        pthread_mutex_unlock(&rt->qlock);
    }
}

static void local_push(rt_worker *w, rt_actor *a)
{
    atomic_store_explicit(&a->waiting_on, w->idx + 1, memory_order_relaxed);
    pthread_mutex_lock(&w->lock);
    q_push(&w->qhead, &w->qtail, a);
    atomic_fetch_add(&w->qlen, 1);
    pthread_mutex_unlock(&w->lock);
}

static rt_actor *local_pop(rt_worker *w)
{
    rt_actor *a;

    if (atomic_load(&w->qlen) == 0)
        return NULL;
    pthread_mutex_lock(&w->lock);
    a = q_pop(&w->qhead, &w->qtail);
    if (a != NULL)
        atomic_fetch_sub(&w->qlen, 1);
    pthread_mutex_unlock(&w->lock);
    if (a != NULL)
        atomic_store_explicit(&a->waiting_on, 0, memory_order_relaxed);
    return a;
}

void rt_sched_push(rt_actor *a, int how)
{
    rt_runtime *rt = a->rt;
    rt_worker *w = tl_worker;

    if (how == RT_PUSH_PREEMPT) {
        unsigned home;

        pthread_mutex_lock(&rt->qlock);
        a->rq_ns = rt_now_ns();
        home = atomic_load_explicit(&a->home, memory_order_relaxed);
        if (home > 0 && home <= rt->nworkers)
            a->rq_worker = &rt->workers[home - 1];
        else
            a->rq_worker = w != NULL && w->rt == rt ? w : NULL;
        if (a->rq_worker != NULL)
            atomic_fetch_add_explicit(&a->rq_worker->npre, 1, memory_order_relaxed);
        q_push(&rt->phead, &rt->ptail, a);
        atomic_store_explicit(&a->waiting_on, RT_WAITING_PREEMPTED, memory_order_relaxed);
        atomic_fetch_add(&rt->npreempted, 1);
        if (atomic_load(&rt->sleepers) > 0)
            pthread_cond_signal(&rt->qcond);
        pthread_mutex_unlock(&rt->qlock);
        return;
    }
    if (w != NULL && w->rt == rt) {
        if (how == RT_PUSH_WAKE && w->handoff_want && w->handoff == NULL) {
            w->handoff = a; /* the requesting turn runs it (turn.c) */
            return;
        }
        if (how == RT_PUSH_WAKE) {
            rt_actor *old = w->next;
            atomic_store_explicit(&a->waiting_on, w->idx + 1, memory_order_relaxed);
            w->next = a;
            if (old == NULL)
                return;
            a = old;
        }
        local_push(w, a);
        notify_sleeper(rt);
        return;
    }
    pthread_mutex_lock(&rt->qlock);
    q_push(&rt->ghead, &rt->gtail, a);
    if (atomic_load(&rt->sleepers) > 0)
        pthread_cond_signal(&rt->qcond);
    pthread_mutex_unlock(&rt->qlock);
}

void rt_sched_wake(rt_actor *a)
{
    int expect = RT_SCHED_IDLE;

    /* a plain (sequentially consistent) read first: an actor that is
     * queued or running, the common case for a busy receiver, costs its
     * senders no locked instruction on its line; the turn's end stores
     * IDLE before it looks at its queues again, so a message pushed
     * before this read is seen by one side or the other */
    if (atomic_load(&a->sched) != RT_SCHED_IDLE)
        return;
    if (atomic_compare_exchange_strong(&a->sched, &expect, RT_SCHED_QUEUED)) {
        rt_actor_ref(a);
        rt_sched_push(a, RT_PUSH_WAKE);
    }
}

/* Under qlock: take `p` out of the preempted FIFO (`prev` the actor before
 * it, NULL if it is the first) and uncount it. */
static void preempted_take(rt_runtime *rt, rt_actor *prev, rt_actor *p)
{
    rt_actor *next = atomic_load_explicit(&p->rq_next, memory_order_relaxed);

    if (prev == NULL)
        rt->phead = next;
    else
        atomic_store_explicit(&prev->rq_next, next, memory_order_relaxed);
    if (rt->ptail == p)
        rt->ptail = prev;
    atomic_store_explicit(&p->waiting_on, 0, memory_order_relaxed);
    atomic_fetch_sub(&rt->npreempted, 1);
    if (p->rq_worker != NULL)
        atomic_fetch_sub_explicit(&p->rq_worker->npre, 1, memory_order_relaxed);
}

#define RT_PULL_SCAN 64u /* preempted actors rt_sched_pull_here looks through */

bool rt_sched_pull_here(rt_actor *a)
{
    rt_worker *w = tl_worker;
    rt_runtime *rt = a->rt;
    rt_actor *p, *prev = NULL;
    unsigned where = atomic_load_explicit(&a->waiting_on, memory_order_relaxed), i;

    if (w == NULL || w->rt != rt)
        return false;
    if (where == w->idx + 1)
        return true;
    if (where != RT_WAITING_PREEMPTED)
        return false;
    pthread_mutex_lock(&rt->qlock);
    for (p = rt->phead, i = 0; p != NULL && p != a && i < RT_PULL_SCAN;
         prev = p, p = atomic_load_explicit(&p->rq_next, memory_order_relaxed), i++)
        ;
    if (p != a) {
        pthread_mutex_unlock(&rt->qlock);
        return false;
    }
    preempted_take(rt, prev, a);
    pthread_mutex_unlock(&rt->qlock);
    local_push(w, a); /* the queue's reference goes with it */
    return true;
}

int rt_sched_offer_handoff(rt_actor *t, rt_msg *m)
{
    rt_worker *w = tl_worker;
    int rc;

    if (w == NULL || w->rt != t->rt || w->nested > 0)
        return rt_actor_offer(t, m, true);
    w->handoff_want = true;
    rc = rt_actor_offer(t, m, true);
    w->handoff_want = false;
    return rc;
}

/* Whether as many preempted actors belong to every worker (queued, or
 * running there again): then each worker serving its own is as fair as
 * the FIFO order, and cheaper (see the top of the file). */
static bool preempted_balanced(rt_runtime *rt)
{
    size_t lo = SIZE_MAX, hi = 0, n;
    unsigned i;

    for (i = 0; i < rt->nworkers; i++) {
        n = atomic_load_explicit(&rt->workers[i].npre, memory_order_relaxed) +
            atomic_load_explicit(&rt->workers[i].pre_running, memory_order_relaxed);
        lo = n < lo ? n : lo;
        hi = n > hi ? n : hi;
    }
    return lo == hi;
}

/* The oldest preempted actor; with `aged`, only if it has waited longer
 * than TH_RT_PREEMPT_WAIT_MS.  Otherwise, when the preempted actors are
 * balanced over the workers, the first of the oldest RT_AFFINITY_SCAN
 * that belongs to `w` (the oldest if none does). */
#define RT_AFFINITY_SCAN 8u

static rt_actor *preempted_pop(rt_runtime *rt, rt_worker *w, bool aged)
{
    rt_actor *a = NULL, *prev = NULL, *p = NULL;
    unsigned i;

    if (atomic_load(&rt->npreempted) == 0)
        return NULL;
    pthread_mutex_lock(&rt->qlock);
    if (rt->phead == NULL ||
        (aged && rt_now_ns() - rt->phead->rq_ns < (uint64_t)TH_RT_PREEMPT_WAIT_MS * 1000000u))
        goto out;
    if (!aged && rt->phead->rq_worker != w && preempted_balanced(rt)) {
        for (p = rt->phead, i = 0; p != NULL && i < RT_AFFINITY_SCAN;
             prev = p, p = atomic_load_explicit(&p->rq_next, memory_order_relaxed), i++)
            if (p->rq_worker == w)
                break;
        if (i == RT_AFFINITY_SCAN)
            p = NULL;
    }
    if (p == NULL) { /* the oldest is w's, or none of w's is among them: the oldest */
        p = rt->phead;
        prev = NULL;
    }
    preempted_take(rt, prev, p);
    a = p;
out:
    pthread_mutex_unlock(&rt->qlock);
    return a;
}

#define RT_GLOBAL_EVERY 61u /* picks between two looks at the global queue first */

static rt_actor *global_pop(rt_runtime *rt)
{
    rt_actor *a;

    pthread_mutex_lock(&rt->qlock);
    a = q_pop(&rt->ghead, &rt->gtail);
    pthread_mutex_unlock(&rt->qlock);
    return a;
}

/* The next actor to run: woken ones first (see the top of the file). */
static rt_actor *take_work(rt_worker *w)
{
    rt_runtime *rt = w->rt;
    rt_actor *a;
    unsigned i;

    atomic_store_explicit(&w->pre_running, 0, memory_order_relaxed); /* its turn ended */
    if (w->ran_woken && (a = preempted_pop(rt, w, true)) != NULL)
        goto preempted;
    if ((a = w->next) != NULL) {
        uint64_t now = rt_now_ns();
        w->next = NULL;
        atomic_store_explicit(&a->waiting_on, 0, memory_order_relaxed);
        if (w->next_since == 0)
            w->next_since = now;
        if (now - w->next_since < (uint64_t)TH_RT_TURN_SLICE_MS * 1000000u)
            goto woken_next;
        /* the streak has lasted a slice: the others first */
        local_push(w, a);
        if ((a = global_pop(rt)) != NULL)
            goto woken;
    } else if (++w->picks % RT_GLOBAL_EVERY == 0 && (a = global_pop(rt)) != NULL) {
        goto woken;
    }
    if ((a = local_pop(w)) != NULL)
        goto woken;
    if ((a = global_pop(rt)) != NULL)
        goto woken;
    for (i = 1; i < rt->nworkers; i++) {
        rt_worker *v = &rt->workers[(w->idx + i) % rt->nworkers];
        if ((a = local_pop(v)) != NULL)
            goto woken;
    }
    if ((a = preempted_pop(rt, w, false)) != NULL)
        goto preempted;
    return NULL;
woken:
    w->next_since = 0;
woken_next:
    w->ran_woken = true;
    return a;
preempted:
    w->next_since = 0;
    w->ran_woken = false;
    atomic_store_explicit(&w->pre_running, 1, memory_order_relaxed);
    return a;
}

static bool any_work(rt_runtime *rt)
{
    unsigned i;

    if (rt->ghead != NULL || rt->phead != NULL)
        return true;
    for (i = 0; i < rt->nworkers; i++)
        if (atomic_load(&rt->workers[i].qlen) > 0)
            return true;
    return false;
}

static void *worker_main(void *arg)
{
    rt_worker *w = arg;
    rt_runtime *rt = w->rt;
    rt_actor *a;
    struct timespec ts;
    uint64_t t, due;

    tl_worker = w;
    prctl(PR_SET_NAME, "th-worker", 0, 0, 0); /* per-thread CPU (runtime_bench, top -H) */
    for (;;) {
        due = rt_wheel_run(rt); /* call timeouts that are due */
        a = take_work(w);
        if (a != NULL) {
            rt_actor_turn(a);
            continue;
        }
        pthread_mutex_lock(&rt->qlock);
        if (atomic_load(&rt->stopping)) {
            pthread_mutex_unlock(&rt->qlock);
            break;
        }
        atomic_fetch_add(&rt->sleepers, 1);
        /* sleep until work comes, the next timer is due, or a while has
         * passed (re-check now and then) */
        t = rt_now_ns() + 200000000u;
        due = atomic_load_explicit(&rt->wheel.next_ms, memory_order_acquire);
        if (due != UINT64_MAX && due * 1000000u < t)
            t = due * 1000000u;
        if (!any_work(rt) && t > rt_now_ns()) {
            ts.tv_sec = (time_t)(t / 1000000000u);
            ts.tv_nsec = (long)(t % 1000000000u);
            pthread_cond_timedwait(&rt->qcond, &rt->qlock, &ts);
        }
        atomic_fetch_sub(&rt->sleepers, 1);
        pthread_mutex_unlock(&rt->qlock);
    }
    while (w->ncache)
        th_wasm_exec_free(w->cache[--w->ncache]);
    free(w->op_spare);
    w->op_spare = NULL;
    rt_record_worker_done(w);
    tl_worker = NULL;
    return NULL;
}

int rt_sched_start(rt_runtime *rt, unsigned nworkers, th_error *err)
{
    pthread_condattr_t ca;
    unsigned i;

    pthread_mutex_init(&rt->qlock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&rt->qcond, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&rt->poollock, NULL);
    atomic_init(&rt->sleepers, 0);
    atomic_init(&rt->npreempted, 0);
    atomic_init(&rt->stopping, false);
    rt->workers = calloc(nworkers, sizeof *rt->workers);
    if (rt->workers == NULL)
        return th_error_set(err, TH_ENOMEM, "out of memory starting workers");
    for (i = 0; i < nworkers; i++) {
        rt_worker *w = &rt->workers[i];
        w->rt = rt;
        w->idx = i;
        pthread_mutex_init(&w->lock, NULL);
        atomic_init(&w->qlen, 0);
        atomic_init(&w->npre, 0);
        atomic_init(&w->pre_running, 0);
    }
    rt->nworkers = nworkers;
    for (i = 0; i < nworkers; i++) {
        if (pthread_create(&rt->workers[i].thread, NULL, worker_main, &rt->workers[i]) != 0) {
            rt->nworkers = i;
            rt_sched_stop(rt);
            return th_error_set(err, TH_ENOMEM, "cannot start worker thread %u", i);
        }
    }
    return 0;
}

void rt_sched_stop(rt_runtime *rt)
{
    rt_worker *ws;
    unsigned i, n;

    pthread_mutex_lock(&rt->qlock);
    atomic_store(&rt->stopping, true);
    pthread_cond_broadcast(&rt->qcond);
    pthread_mutex_unlock(&rt->qlock);
    for (i = 0; i < rt->nworkers; i++)
        pthread_join(rt->workers[i].thread, NULL);
    /* gone under qlock: a turn preempted on another thread from now on
     * (rt_sched_push) finds no worker to belong to */
    pthread_mutex_lock(&rt->qlock);
    ws = rt->workers;
    n = rt->nworkers;
    rt->workers = NULL;
    rt->nworkers = 0;
    pthread_mutex_unlock(&rt->qlock);
    for (i = 0; i < n; i++)
        pthread_mutex_destroy(&ws[i].lock);
    free(ws);
    while (rt->npool)
        th_wasm_exec_free(rt->pool[--rt->npool]);
}

th_wasm_exec *rt_exec_get(rt_runtime *rt)
{
    rt_worker *w = tl_worker;
    th_wasm_exec *ex = NULL;

    if (w != NULL && w->rt == rt && w->ncache > 0)
        return w->cache[--w->ncache];
    pthread_mutex_lock(&rt->poollock);
    if (rt->npool > 0)
        ex = rt->pool[--rt->npool];
    pthread_mutex_unlock(&rt->poollock);
    if (ex == NULL && (ex = th_wasm_exec_new(NULL)) != NULL)
        th_wasm_exec_keep_stacks(ex, true); /* a call per message allocates nothing */
    return ex;
}

void rt_exec_put(rt_runtime *rt, th_wasm_exec *ex)
{
    rt_worker *w = tl_worker;

    if (ex == NULL)
        return;
    if (th_wasm_exec_is_suspended(ex))
        th_wasm_exec_abort(ex);
    th_wasm_exec_set_user(ex, NULL);
    if (w != NULL && w->rt == rt && w->ncache < sizeof w->cache / sizeof w->cache[0]) {
        w->cache[w->ncache++] = ex;
        return;
    }
    pthread_mutex_lock(&rt->poollock);
    if (rt->npool < sizeof rt->pool / sizeof rt->pool[0]) {
        rt->pool[rt->npool++] = ex;
        ex = NULL;
    }
    pthread_mutex_unlock(&rt->poollock);
    th_wasm_exec_free(ex);
}
