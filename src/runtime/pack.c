/*
 * pack.c - idle actors give their linear memory's pages back.
 *
 * An idle actor holds little besides the pages of its linear memory it
 * has touched: at least one 4 KiB page (its data, its stack, the return
 * area of its last call), however few bytes it uses there.  The packer, a
 * thread of the runtime, packs the memory of every actor whose last turn
 * began at least pack_idle_ms ago (th_runtime_config; 1 s by default):
 * the non-zero bytes of its resident pages are copied into one heap block
 * and the pages given back to the kernel, up to PACK_BATCH actors at once
 * (th_wasm_memory_pack_many).  The next
 * operation of the actor, before its code runs, puts them back
 * (rt_pack_unpack, from the start of every operation): a page fault and a
 * copy per page, once per waking.  A turn that runs no code (a stop, most
 * often) leaves them packed, so stopping a packed actor frees its memory
 * without touching a page: no fault, no copy, and no page to give back
 * (whose release would interrupt every other core running the process to
 * flush its TLB).
 * Memories with more than TH_RT_PACK_MAX_BYTES resident, or whose bytes
 * would not pack to half of it, are left as they are.
 *
 * Which actors are looked at: those whose memory may hold pages, that is
 * every actor that has run a turn since it was last packed.  Such an
 * actor puts itself on the packer's list at the start of the turn
 * (`pack_listed`, the list holding a reference), so a sweep costs one
 * look per actor that ran, not one per live actor.
 *
 * Ownership: the packer packs an actor only while it owns its turn (it
 * won IDLE -> QUEUED of `sched`, as a waking sender would), so no thread
 * runs the actor or touches its memory meanwhile; it then hands the turn
 * back as a turn's end does, waking the actor if a message came in while
 * it held it.  Actors that are running, queued, in the middle of an
 * operation (suspended), not running (starting, failed, stopped) or
 * replaying are not packed.
 */
#include <stdlib.h>
#include <time.h>

#include "runtime/rt_int.h"

/* Sweeps a second: an actor is packed between pack_idle_ms and
 * pack_idle_ms + 1/PACK_SWEEPS_PER_S s after its last turn began. */
#define PACK_SWEEPS_PER_S 4u

static void list_push(rt_runtime *rt, rt_actor *a)
{
    rt_actor *h = atomic_load_explicit(&rt->pack_head, memory_order_relaxed);

    do
        a->pack_next = h;
    while (!atomic_compare_exchange_weak_explicit(&rt->pack_head, &h, a, memory_order_release,
                                                  memory_order_relaxed));
}

void rt_pack_unpack(rt_actor *a)
{
    th_wasm_memory *mem;

    if (a->inst != NULL && (mem = th_wasm_instance_memory0(a->inst)) != NULL &&
        th_wasm_memory_packed(mem)) {
        th_wasm_memory_unpack(mem);
        atomic_fetch_add_explicit(&a->rt->pack_unpacked, 1, memory_order_relaxed);
    }
}

void rt_pack_turn_begin(rt_actor *a, uint64_t now)
{
    rt_runtime *rt = a->rt;

    if (a->inst == NULL)
        return;
    atomic_store_explicit(&a->ran_ns, now, memory_order_relaxed);
    if (rt->pack_idle_ns == 0 || a->replay != NULL ||
        atomic_load_explicit(&a->pack_listed, memory_order_relaxed) ||
        atomic_load_explicit(&rt->closing, memory_order_relaxed))
        return;
    atomic_store_explicit(&a->pack_listed, true, memory_order_relaxed);
    rt_actor_ref(a);
    list_push(rt, a);
}

/* Take `a`'s turn for packing if it has been idle long enough and the
 * turn can be had: 1 with *mem = the memory to pack (the turn held), 0 if
 * it leaves the list without it (looked at: nothing to pack; its turn
 * handed back), -1 if it stays on the list (not idle long enough, or
 * running or queued: it ran lately after all). */
static int pack_take(rt_runtime *rt, rt_actor *a, uint64_t now, th_wasm_memory **mem)
{
    int expect = RT_SCHED_IDLE, st;

    if (now - atomic_load_explicit(&a->ran_ns, memory_order_relaxed) < rt->pack_idle_ns)
        return -1;
    if (!atomic_compare_exchange_strong(&a->sched, &expect, RT_SCHED_QUEUED))
        return -1;
    /* the turn is ours */
    st = rt_actor_status(a);
    if (a->inst != NULL && a->op == NULL && a->replay == NULL && st == TH_ACTOR_RUNNING &&
        a->stop_msg == NULL && (*mem = th_wasm_instance_memory0(a->inst)) != NULL &&
        !th_wasm_memory_packed(*mem))
        return 1;
    return 0;
}

/* Hand the turn of `a` taken by pack_take back, off the list. */
static void pack_done(rt_actor *a)
{
    atomic_store_explicit(&a->pack_listed, false, memory_order_relaxed);
    /* a message that came meanwhile found it QUEUED */
    atomic_store(&a->sched, RT_SCHED_IDLE);
    if (rt_mpsc_count(&a->ctl) > 0 || rt_mpsc_count(&a->mbox) > 0 || atomic_load(&a->nblocked) > 0)
        rt_sched_wake(a);
    rt_actor_release(a); /* the list's reference */
}

/* Actors whose turns a sweep holds while their memories are packed
 * together (th_wasm_memory_pack_many gives back in one call the pages of
 * memories next to one another): at most this many, each held for about a
 * microsecond of copying per page it has. */
#define PACK_BATCH 256

static void pack_batch(rt_runtime *rt, rt_actor **held, th_wasm_memory **mems, size_t n)
{
    int status[PACK_BATCH];
    size_t i, packed = th_wasm_memory_pack_many(mems, n, TH_RT_PACK_MAX_BYTES, status);

    atomic_fetch_add_explicit(&rt->pack_packed, packed, memory_order_relaxed);
    for (i = 0; i < n; i++)
        pack_done(held[i]);
}

/* One sweep over the list: actors looked at leave it (dropping its
 * reference), the others go back on. */
static void sweep(rt_runtime *rt)
{
    rt_actor *a = atomic_exchange_explicit(&rt->pack_head, NULL, memory_order_acquire), *next;
    rt_actor *held[PACK_BATCH];
    th_wasm_memory *mems[PACK_BATCH], *mem = NULL;
    uint64_t now = rt_now_ns();
    size_t n = 0, looked = 0;

    for (; a != NULL; a = next) {
        next = a->pack_next;
        switch (pack_take(rt, a, now, &mem)) {
        case 1:
            held[n] = a;
            mems[n++] = mem;
            break;
        case 0: pack_done(a); break;
        default: list_push(rt, a); break;
        }
        /* a full batch, or the first one held has waited for a few
         * batches' worth of actors looked at */
        if (n > 0 && (n == PACK_BATCH || ++looked >= 4 * PACK_BATCH)) {
            pack_batch(rt, held, mems, n);
            n = looked = 0;
        }
    }
    if (n > 0)
        pack_batch(rt, held, mems, n);
}

static void *pack_main(void *arg)
{
    rt_runtime *rt = arg;
    struct timespec ts;

    pthread_mutex_lock(&rt->pack_lock);
    while (!rt->pack_stop) {
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += 1000000000L / PACK_SWEEPS_PER_S;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&rt->pack_cond, &rt->pack_lock, &ts);
        if (rt->pack_stop)
            break;
        pthread_mutex_unlock(&rt->pack_lock);
        sweep(rt);
        pthread_mutex_lock(&rt->pack_lock);
    }
    pthread_mutex_unlock(&rt->pack_lock);
    return NULL;
}

int rt_pack_start(rt_runtime *rt, unsigned idle_ms, th_error *err)
{
    pthread_condattr_t ca;

    atomic_init(&rt->pack_head, NULL);
    atomic_init(&rt->pack_packed, 0);
    atomic_init(&rt->pack_unpacked, 0);
    pthread_mutex_init(&rt->pack_lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&rt->pack_cond, &ca);
    pthread_condattr_destroy(&ca);
    rt->pack_init = true;
    if (idle_ms == 0)
        idle_ms = TH_RT_PACK_IDLE_MS;
    if (idle_ms == TH_RUNTIME_PACK_NEVER)
        return 0; /* pack_idle_ns 0: actors never list themselves */
    rt->pack_idle_ns = (uint64_t)idle_ms * 1000000u;
    if (pthread_create(&rt->pack_thread, NULL, pack_main, rt) != 0) {
        rt->pack_idle_ns = 0;
        return th_error_set(err, TH_ENOMEM, "cannot start the packer thread");
    }
    rt->pack_running = true;
    return 0;
}

void rt_pack_stop(rt_runtime *rt)
{
    if (!rt->pack_init || !rt->pack_running)
        return;
    pthread_mutex_lock(&rt->pack_lock);
    rt->pack_stop = true;
    pthread_cond_signal(&rt->pack_cond);
    pthread_mutex_unlock(&rt->pack_lock);
    pthread_join(rt->pack_thread, NULL);
    rt->pack_running = false;
}

void rt_pack_free(rt_runtime *rt)
{
    rt_actor *a, *next;

    if (!rt->pack_init)
        return;
    rt_pack_stop(rt);
    /* no turn runs any more: empty the list */
    a = atomic_exchange(&rt->pack_head, NULL);
    for (; a != NULL; a = next) {
        next = a->pack_next;
        atomic_store_explicit(&a->pack_listed, false, memory_order_relaxed);
        rt_actor_release(a);
    }
    pthread_mutex_destroy(&rt->pack_lock);
    pthread_cond_destroy(&rt->pack_cond);
    rt->pack_init = false;
}
