/*
 * mailbox.c - actor mailboxes and the objects that travel through them.
 *
 * The queue is Dmitry Vyukov's intrusive multi-producer single-consumer
 * queue: a push is one atomic exchange plus one store, a pop touches only
 * the consumer's end.  A producer that has exchanged the head but not yet
 * linked its node leaves the queue briefly "in between": pop returns NULL
 * while `count` is already or soon positive, and the scheduler's idle
 * re-check makes sure the actor is run again.
 *
 * Messages, reply targets and rt_sync objects are in message.c.
 */
#include "runtime/rt_int.h"

void rt_mpsc_init(rt_mpsc *q)
{
    atomic_init(&q->stub.next, NULL);
    atomic_init(&q->head, &q->stub);
    q->tail = &q->stub;
    atomic_init(&q->count, 0);
}

void rt_mpsc_push(rt_mpsc *q, rt_node *n)
{
    rt_node *prev;

    atomic_store_explicit(&n->next, NULL, memory_order_relaxed);
    prev = atomic_exchange_explicit(&q->head, n, memory_order_acq_rel);
    atomic_store_explicit(&prev->next, n, memory_order_release);
    atomic_fetch_add_explicit(&q->count, 1, memory_order_seq_cst);
}

rt_node *rt_mpsc_pop(rt_mpsc *q)
{
    rt_node *tail = q->tail, *next, *head;

    next = atomic_load_explicit(&tail->next, memory_order_acquire);
    if (tail == &q->stub) {
        if (next == NULL)
            return NULL;
        q->tail = next;
        tail = next;
        next = atomic_load_explicit(&next->next, memory_order_acquire);
    }
    if (next != NULL) {
        q->tail = next;
        goto got;
    }
    head = atomic_load_explicit(&q->head, memory_order_acquire);
    if (tail != head)
        return NULL; /* a producer is between its exchange and its link */
    /* tail is the last node: put the stub behind it so it can be taken */
    atomic_store_explicit(&q->stub.next, NULL, memory_order_relaxed);
    head = atomic_exchange_explicit(&q->head, &q->stub, memory_order_acq_rel);
    atomic_store_explicit(&head->next, &q->stub, memory_order_release);
    next = atomic_load_explicit(&tail->next, memory_order_acquire);
    if (next == NULL)
        return NULL;
    q->tail = next;
got:
    atomic_fetch_sub_explicit(&q->count, 1, memory_order_seq_cst);
    return tail;
}

size_t rt_mpsc_count(rt_mpsc *q)
{
    return atomic_load_explicit(&q->count, memory_order_seq_cst);
}
