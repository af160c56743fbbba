/*
 * block.c - recycled small blocks (see block.h).
 *
 * Each thread has two lists: `spare` (blocks to hand out) and `freed`
 * (blocks freed here, collected into a batch).  A full `freed` batch goes
 * to the shared stack; a thread whose lists are empty takes a batch from
 * it.  A batch is a list of blocks; its first block also links the batches
 * of the shared stack.
 */
#include <pthread.h>
#include <stdlib.h>

#include "base/block.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define BLOCK_PLAIN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define BLOCK_PLAIN 1
#endif
#endif

#ifdef BLOCK_PLAIN

void *base_block_alloc(size_t size)
{
    return malloc(size);
}

void base_block_free(void *p, size_t size)
{
    (void)size;
    free(p);
}

#else

typedef struct block {
    struct block *next;       /* next block of the same list or batch */
    struct block *next_batch; /* shared stack: the next batch (first blocks only) */
    size_t count;             /* shared stack: blocks in this batch */
} block;

typedef struct block_cache {
    block *spare, *freed;
    size_t nspare, nfreed;
    int registered;
} block_cache;

static pthread_mutex_t shared_lock = PTHREAD_MUTEX_INITIALIZER;
static block *shared;
static size_t nshared;

static __thread block_cache cache;
static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;

static void free_list(block *b)
{
    block *next;

    for (; b != NULL; b = next) {
        next = b->next;
        free(b);
    }
}

/* Thread exit: give the thread's blocks back to malloc. */
static void cache_destroy(void *unused)
{
    (void)unused;
    free_list(cache.spare);
    free_list(cache.freed);
    cache.spare = cache.freed = NULL;
    cache.nspare = cache.nfreed = 0;
}

static void cache_key_make(void)
{
    (void)pthread_key_create(&cache_key, cache_destroy);
}

static void cache_register(void)
{
    pthread_once(&cache_once, cache_key_make);
    /* any non-NULL value makes the destructor run at thread exit */
    if (pthread_setspecific(cache_key, &cache) == 0)
        cache.registered = 1;
}

void *base_block_alloc(size_t size)
{
    block *b;

    if (size > BASE_BLOCK_SIZE)
        return malloc(size);
    if (cache.spare == NULL && cache.freed != NULL) {
        cache.spare = cache.freed;
        cache.nspare = cache.nfreed;
        cache.freed = NULL;
        cache.nfreed = 0;
    }
    if (cache.spare == NULL && __atomic_load_n(&nshared, __ATOMIC_RELAXED) > 0) {
        if (!cache.registered)
            cache_register();
        pthread_mutex_lock(&shared_lock);
        if ((b = shared) != NULL) {
            shared = b->next_batch;
            __atomic_store_n(&nshared, nshared - 1, __ATOMIC_RELAXED);
            cache.spare = b;
            cache.nspare = b->count;
        }
        pthread_mutex_unlock(&shared_lock);
    }
    if ((b = cache.spare) == NULL)
        return malloc(BASE_BLOCK_SIZE);
    cache.spare = b->next;
    cache.nspare--;
    /* the next block was most likely freed on another core (a batch from
     * the shared stack): fetch its first lines now, for writing, so the
     * next call does not wait for its link and its user for its lines */
    if (cache.spare != NULL) {
        __builtin_prefetch(cache.spare, 1);
        __builtin_prefetch((char *)cache.spare + 64, 1);
    }
    return b;
}

void base_block_free(void *p, size_t size)
{
    block *b = p, *batch;
    int kept = 0;

    if (p == NULL)
        return;
    if (size > BASE_BLOCK_SIZE) {
        free(p);
        return;
    }
    if (!cache.registered)
        cache_register();
    b->next = cache.freed;
    cache.freed = b;
    if (++cache.nfreed < BASE_BLOCK_BATCH)
        return;
    batch = cache.freed;
    batch->count = cache.nfreed;
    cache.freed = NULL;
    cache.nfreed = 0;
    pthread_mutex_lock(&shared_lock);
    if (nshared < BASE_BLOCK_KEEP) {
        batch->next_batch = shared;
        shared = batch;
        __atomic_store_n(&nshared, nshared + 1, __ATOMIC_RELAXED);
        kept = 1;
    }
    pthread_mutex_unlock(&shared_lock);
    if (!kept)
        free_list(batch);
}

#endif
