/*
 * test_base_block.c - recycled blocks (base/block.h): blocks are usable
 * and distinct, sizes above BASE_BLOCK_SIZE work, and blocks handed from
 * producer threads to a consumer thread that frees them (the event path's
 * pattern) never alias a live block.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/block.h"

static void test_alloc_free_sizes(void **state)
{
    size_t sizes[] = {1, 16, BASE_BLOCK_SIZE - 1, BASE_BLOCK_SIZE, BASE_BLOCK_SIZE + 1, 70000};
    void *p[6];
    size_t i, j;

    (void)state;
    for (i = 0; i < 6; i++) {
        p[i] = base_block_alloc(sizes[i]);
        assert_non_null(p[i]);
        memset(p[i], (int)i + 1, sizes[i]);
    }
    for (i = 0; i < 6; i++)
        for (j = 0; j < sizes[i]; j++)
            assert_int_equal(((uint8_t *)p[i])[j], i + 1);
    for (i = 0; i < 6; i++)
        base_block_free(p[i], sizes[i]);
    base_block_free(NULL, 10);
}

/* Many blocks live at once on one thread: all distinct. */
static void test_recycling_one_thread(void **state)
{
    enum { N = 5 * BASE_BLOCK_BATCH + 3 };
    uint32_t *p[N];
    size_t round, i;

    (void)state;
    for (round = 0; round < 4; round++) {
        for (i = 0; i < N; i++) {
            p[i] = base_block_alloc(64);
            assert_non_null(p[i]);
            p[i][0] = (uint32_t)i;
        }
        for (i = 0; i < N; i++)
            assert_int_equal(p[i][0], i); /* no block handed out twice */
        for (i = 0; i < N; i++)
            base_block_free(p[i], 64);
    }
}

/* Producers allocate and fill blocks, a consumer checks and frees them. */
#define QCAP 4096
#define PER_PRODUCER 200000

typedef struct queue {
    pthread_mutex_t lock;
    pthread_cond_t cv;
    uint64_t *items[QCAP];
    size_t head, count;
    int producers_left;
} queue;

typedef struct producer_arg {
    queue *q;
    uint64_t id;
} producer_arg;

static void *producer(void *arg)
{
    producer_arg *pa = arg;
    queue *q = pa->q;
    uint64_t i, *b;
    size_t size;

    for (i = 0; i < PER_PRODUCER; i++) {
        size = 16 + (i % 3 == 0 ? BASE_BLOCK_SIZE : 100); /* some above the block size */
        b = base_block_alloc(size);
        assert_non_null(b);
        b[0] = pa->id;
        b[1] = i;
        b[(size / 8) - 1] = size;
        pthread_mutex_lock(&q->lock);
        while (q->count == QCAP)
            pthread_cond_wait(&q->cv, &q->lock);
        q->items[(q->head + q->count++) % QCAP] = b;
        pthread_cond_broadcast(&q->cv);
        pthread_mutex_unlock(&q->lock);
    }
    pthread_mutex_lock(&q->lock);
    q->producers_left--;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->lock);
    return NULL;
}

static void test_cross_thread(void **state)
{
    static queue q;
    producer_arg pa[2];
    pthread_t t[2];
    uint64_t next[2] = {0, 0}, *b, size;
    int i;

    (void)state;
    pthread_mutex_init(&q.lock, NULL);
    pthread_cond_init(&q.cv, NULL);
    q.producers_left = 2;
    for (i = 0; i < 2; i++) {
        pa[i].q = &q;
        pa[i].id = (uint64_t)i;
        assert_int_equal(pthread_create(&t[i], NULL, producer, &pa[i]), 0);
    }
    for (;;) {
        pthread_mutex_lock(&q.lock);
        while (q.count == 0 && q.producers_left > 0)
            pthread_cond_wait(&q.cv, &q.lock);
        if (q.count == 0) {
            pthread_mutex_unlock(&q.lock);
            break;
        }
        b = q.items[q.head];
        q.head = (q.head + 1) % QCAP;
        q.count--;
        pthread_cond_broadcast(&q.cv);
        pthread_mutex_unlock(&q.lock);
        /* each producer's blocks arrive in order, intact */
        assert_true(b[0] < 2);
        assert_int_equal(b[1], next[b[0]]);
        next[b[0]]++;
        size = 16 + (b[1] % 3 == 0 ? BASE_BLOCK_SIZE : 100);
        assert_int_equal(b[(size / 8) - 1], size);
        base_block_free(b, (size_t)size);
    }
    for (i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(next[0], PER_PRODUCER);
    assert_int_equal(next[1], PER_PRODUCER);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alloc_free_sizes),
        cmocka_unit_test(test_recycling_one_thread),
        cmocka_unit_test(test_cross_thread),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
