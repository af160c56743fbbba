/*
 * timer.c - call deadlines in a timer wheel run by the worker threads.
 *
 * A host call that suspends its actor (request, open-channel, a send held
 * by a full mailbox) arms the call timeout of the running operation.  That
 * happens on nearly every request, and is cancelled again a few
 * microseconds later when the answer comes; so arming and cancelling must
 * cost no system call and wake no other thread.  The wheel is one mutex
 * and RT_WHEEL_SLOTS lists of 1 ms each (hashed by the due millisecond):
 * arming links a node into its slot, cancelling unlinks it, both O(1).
 *
 * The workers run it: each pass of a worker's loop looks at `next_ms`, a
 * lower bound of the earliest due time (one atomic load while nothing is
 * armed, one clock read otherwise), and a worker going to sleep sleeps no
 * longer than until then.  The worker that advances the wheel collects the
 * due nodes under the lock and wakes their actors after it (the actor is
 * looked up by id, so a timer holds no reference: a node belongs to its
 * actor's operation, and every path that frees an operation cancels it
 * first).
 *
 * Invariants (under `lock`): every armed node is in slot due_ms % SLOTS and
 * has due_ms >= cur_ms; every slot list position before cur_ms has been
 * visited; next_ms <= the due time of every armed node.
 */
#include <string.h>

#include "runtime/rt_int.h"

#define WHEEL_MASK (RT_WHEEL_SLOTS - 1u)
#define FIRE_BATCH 64u /* due timers fired per pass (the rest, next pass) */

static uint64_t now_ms(void)
{
    return rt_now_ns() / 1000000u;
}

void rt_wheel_init(rt_wheel *w)
{
    memset(w->slot, 0, sizeof w->slot);
    pthread_mutex_init(&w->lock, NULL);
    w->cur_ms = now_ms();
    w->count = 0;
    atomic_init(&w->next_ms, UINT64_MAX);
}

void rt_wheel_release(rt_wheel *w)
{
    pthread_mutex_destroy(&w->lock);
}

static void unlink_node(rt_wheel *w, rt_timer *t)
{
    if (t->prev != NULL)
        t->prev->next = t->next;
    else
        w->slot[t->due_ms & WHEEL_MASK] = t->next;
    if (t->next != NULL)
        t->next->prev = t->prev;
    t->prev = t->next = NULL;
    w->count--;
}

void rt_timer_arm(rt_runtime *rt, rt_timer *t, uint64_t delay_ms, const char *id, uint64_t token,
                  int status)
{
    rt_wheel *w = &rt->wheel;
    uint64_t due = now_ms() + delay_ms;
    rt_timer **head;

    rt_timer_cancel(rt, t);
    t->id = id;
    t->token = token;
    t->status = status;
    pthread_mutex_lock(&w->lock);
    if (due < w->cur_ms)
        due = w->cur_ms;
    t->due_ms = due;
    head = &w->slot[due & WHEEL_MASK];
    t->prev = NULL;
    t->next = *head;
    if (*head != NULL)
        (*head)->prev = t;
    *head = t;
    w->count++;
    atomic_store_explicit(&t->armed, true, memory_order_relaxed);
    if (due < atomic_load_explicit(&w->next_ms, memory_order_relaxed))
        atomic_store_explicit(&w->next_ms, due, memory_order_release);
    pthread_mutex_unlock(&w->lock);
    /* a worker arms its own operations' timers and sees next_ms before it
     * sleeps; anyone else makes sure a sleeping worker does */
    if (rt_sched_self() == NULL)
        rt_sched_poke(rt);
}

void rt_timer_cancel(rt_runtime *rt, rt_timer *t)
{
    rt_wheel *w = &rt->wheel;

    /* not armed: never linked, or already fired (unlinked by the worker
     * that fired it, under the lock) */
    if (!atomic_load_explicit(&t->armed, memory_order_acquire))
        return;
    pthread_mutex_lock(&w->lock);
    if (atomic_load_explicit(&t->armed, memory_order_relaxed)) {
        unlink_node(w, t);
        atomic_store_explicit(&t->armed, false, memory_order_relaxed);
    }
    pthread_mutex_unlock(&w->lock);
}

/* The first millisecond >= from whose slot is not empty (a lower bound of
 * the earliest due time), or UINT64_MAX if nothing is armed. */
static uint64_t first_due(rt_wheel *w, uint64_t from)
{
    uint64_t i;

    if (w->count == 0)
        return UINT64_MAX;
    for (i = 0; i < RT_WHEEL_SLOTS; i++)
        if (w->slot[(from + i) & WHEEL_MASK] != NULL)
            return from + i;
    return from; /* unreachable while count > 0 */
}

typedef struct fired {
    char id[RT_ID_LEN];
    uint64_t token;
    int status;
} fired;

uint64_t rt_wheel_run(rt_runtime *rt)
{
    rt_wheel *w = &rt->wheel;
    uint64_t next = atomic_load_explicit(&w->next_ms, memory_order_acquire), now, ms, end;
    fired out[FIRE_BATCH];
    unsigned n = 0, i;
    rt_timer *t, *tn;
    rt_actor *a;

    if (next == UINT64_MAX || (now = now_ms()) < next)
        return next;
    if (pthread_mutex_trylock(&w->lock) != 0)
        return now; /* another worker is at it */
    /* visit every slot from cur_ms to now (one round at most: a slot
     * holds every due time of its residue) */
    end = now - w->cur_ms >= RT_WHEEL_SLOTS ? w->cur_ms + RT_WHEEL_SLOTS - 1 : now;
    for (ms = w->cur_ms; ms <= end && n < FIRE_BATCH; ms++) {
        for (t = w->slot[ms & WHEEL_MASK]; t != NULL && n < FIRE_BATCH; t = tn) {
            tn = t->next;
            if (t->due_ms > now)
                continue;
            memcpy(out[n].id, t->id, RT_ID_LEN);
            out[n].token = t->token;
            out[n].status = t->status;
            n++;
            unlink_node(w, t);
            atomic_store_explicit(&t->armed, false, memory_order_release);
        }
    }
    if (n < FIRE_BATCH) {
        w->cur_ms = now + 1 > w->cur_ms ? now + 1 : w->cur_ms;
        next = first_due(w, w->cur_ms);
    } else {
        next = now; /* more may be due: the next pass goes on */
    }
    atomic_store_explicit(&w->next_ms, next, memory_order_release);
    pthread_mutex_unlock(&w->lock);
    for (i = 0; i < n; i++) {
        a = rt_registry_get(&rt->reg, out[i].id, RT_ID_LEN);
        if (a != NULL) {
            rt_actor_wake(a, out[i].token, out[i].status, false, NULL, 0, NULL);
            rt_actor_release(a);
        }
    }
    return next;
}
