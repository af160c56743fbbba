/*
 * test_runtime_mailbox.c - the MPSC queue of actor mailboxes
 * (src/runtime/mailbox.c): FIFO order, empty behaviour, and many producers
 * against one consumer with per-producer order and nothing lost.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "runtime/rt_int.h"

typedef struct item {
    rt_node node; /* first: a node pointer is an item pointer */
    int producer;
    int seq;
} item;

static void test_fifo(void **unused)
{
    rt_mpsc q;
    item it[5];
    int i;

    (void)unused;
    rt_mpsc_init(&q);
    assert_null(rt_mpsc_pop(&q));
    assert_int_equal(rt_mpsc_count(&q), 0);
    for (i = 0; i < 5; i++) {
        it[i].seq = i;
        rt_mpsc_push(&q, &it[i].node);
    }
    assert_int_equal(rt_mpsc_count(&q), 5);
    for (i = 0; i < 3; i++)
        assert_int_equal(((item *)rt_mpsc_pop(&q))->seq, i);
    /* push after partial drain, then drain everything */
    rt_mpsc_push(&q, &it[0].node);
    assert_int_equal(((item *)rt_mpsc_pop(&q))->seq, 3);
    assert_int_equal(((item *)rt_mpsc_pop(&q))->seq, 4);
    assert_int_equal(((item *)rt_mpsc_pop(&q))->seq, 0);
    assert_null(rt_mpsc_pop(&q));
    assert_int_equal(rt_mpsc_count(&q), 0);
    /* a single element goes in and out repeatedly */
    for (i = 0; i < 10; i++) {
        rt_mpsc_push(&q, &it[1].node);
        assert_ptr_equal(rt_mpsc_pop(&q), &it[1].node);
        assert_null(rt_mpsc_pop(&q));
    }
}

#define PRODUCERS 4
#define PER 50000

static rt_mpsc g_q;

static void *producer(void *arg)
{
    item *items = arg;
    int i;

    for (i = 0; i < PER; i++)
        rt_mpsc_push(&g_q, &items[i].node);
    return NULL;
}

static void test_many_producers(void **unused)
{
    pthread_t th[PRODUCERS];
    item *items = calloc(PRODUCERS * PER, sizeof *items);
    int next[PRODUCERS] = {0}, got = 0, p, i;
    rt_node *n;

    (void)unused;
    assert_non_null(items);
    rt_mpsc_init(&g_q);
    for (p = 0; p < PRODUCERS; p++)
        for (i = 0; i < PER; i++)
            items[p * PER + i] = (item){{NULL}, p, i};
    for (p = 0; p < PRODUCERS; p++)
        pthread_create(&th[p], NULL, producer, items + p * PER);
    while (got < PRODUCERS * PER) {
        n = rt_mpsc_pop(&g_q);
        if (n == NULL)
            continue; /* empty, or a push half-done */
        item *it = (item *)n;
        assert_int_equal(it->seq, next[it->producer]); /* per-producer FIFO */
        next[it->producer]++;
        got++;
    }
    for (p = 0; p < PRODUCERS; p++)
        pthread_join(th[p], NULL);
    assert_null(rt_mpsc_pop(&g_q));
    assert_int_equal(rt_mpsc_count(&g_q), 0);
    free(items);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fifo),
        cmocka_unit_test(test_many_producers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
