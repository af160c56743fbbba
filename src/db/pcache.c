/*
 * pcache.c - SQLite's own page cache with one page number moved aside
 * (db_pcache_install), so that a b-tree rebalance no longer makes the end
 * of the next transaction scan the whole cache.
 *
 * When SQLite rebalances a b-tree (balance_nonroot in btree.c) and the
 * pages it ends with are not in ascending order, it swaps their numbers
 * through a parking spot: the locking page, PENDING_BYTE / page size + 1
 * (262,145 for 4 KiB pages), a number no page of any database ever holds.
 * The default cache (pcache1) keeps the largest number it has seen
 * (iMaxKey); the end of every transaction truncates the cache to the
 * database's size, and when that largest number lies more hash buckets
 * beyond the size than the cache has, the truncation walks every bucket
 * of the cache's hash table.  With theater.db's 64 MiB cache full of a
 * store's pages that walk was about a tenth of a 1 KiB put's CPU (the
 * random inserts into store_content rebalance on about one commit in 15).
 *
 * The wrapper passes every call to the default cache, except that it
 * gives the default cache the number 0 for the parking spot, in both
 * directions (fetch and rekey): no database page is number 0, so the two
 * numbers never meet, and 0 never raises iMaxKey.  Nothing else changes:
 * which pages are cached, evicted or discarded is the default cache's
 * decision as before.  The wrapper holds no state of its own beyond the
 * parking spot of each cache (fixed at creation), so it adds no locking.
 *
 * Invariant: a page SQLite knows as number K is number pc_key(c, K) in the
 * default cache, for every K (the map is its own inverse on the numbers
 * SQLite uses, since SQLite never uses 0).
 */
#include <pthread.h>
#include <stdlib.h>

#include "db/db.h"

/* SQLite's PENDING_BYTE (sqlite3PendingByte): the first byte of the range
 * its file locks use, 1 GiB; the page holding it is never used. */
#define PC_PENDING_BYTE 0x40000000u

typedef struct pc_cache {
    sqlite3_pcache *inner; /* the default cache's object */
    unsigned park;         /* the parking spot's number for this page size */
} pc_cache;

static sqlite3_pcache_methods2 pc_inner; /* the default cache, wrapped */
static pthread_once_t pc_once = PTHREAD_ONCE_INIT;
static int pc_installed;        /* set once, in pc_setup */
static unsigned long pc_parked; /* pages moved to the parking spot (atomic) */

static unsigned pc_key(const pc_cache *c, unsigned key)
{
    return key == c->park ? 0 : key;
}

static int pc_init(void *arg)
{
    return pc_inner.xInit != NULL ? pc_inner.xInit(arg) : SQLITE_OK;
}

static void pc_shutdown(void *arg)
{
    if (pc_inner.xShutdown != NULL)
        pc_inner.xShutdown(arg);
}

static sqlite3_pcache *pc_create(int page_size, int extra, int purgeable)
{
    pc_cache *c = malloc(sizeof *c);

    if (c == NULL)
        return NULL;
    c->inner = pc_inner.xCreate(page_size, extra, purgeable);
    if (c->inner == NULL || page_size <= 0) {
        if (c->inner != NULL)
            pc_inner.xDestroy(c->inner);
        free(c);
        return NULL;
    }
    c->park = PC_PENDING_BYTE / (unsigned)page_size + 1;
    return (sqlite3_pcache *)c;
}

static void pc_cachesize(sqlite3_pcache *p, int n)
{
    pc_inner.xCachesize(((pc_cache *)p)->inner, n);
}

static int pc_pagecount(sqlite3_pcache *p)
{
    return pc_inner.xPagecount(((pc_cache *)p)->inner);
}

static sqlite3_pcache_page *pc_fetch(sqlite3_pcache *p, unsigned key, int create)
{
    pc_cache *c = (pc_cache *)p;

    return pc_inner.xFetch(c->inner, pc_key(c, key), create);
}

static void pc_unpin(sqlite3_pcache *p, sqlite3_pcache_page *page, int discard)
{
    pc_inner.xUnpin(((pc_cache *)p)->inner, page, discard);
}

static void pc_rekey(sqlite3_pcache *p, sqlite3_pcache_page *page, unsigned old_key,
                     unsigned new_key)
{
    pc_cache *c = (pc_cache *)p;

    if (new_key == c->park)
        __atomic_add_fetch(&pc_parked, 1, __ATOMIC_RELAXED);
    pc_inner.xRekey(c->inner, page, pc_key(c, old_key), pc_key(c, new_key));
}

static void pc_truncate(sqlite3_pcache *p, unsigned limit)
{
    pc_inner.xTruncate(((pc_cache *)p)->inner, limit);
}

static void pc_destroy(sqlite3_pcache *p)
{
    pc_cache *c = (pc_cache *)p;

    pc_inner.xDestroy(c->inner);
    free(c);
}

static void pc_shrink(sqlite3_pcache *p)
{
    if (pc_inner.xShrink != NULL)
        pc_inner.xShrink(((pc_cache *)p)->inner);
}

static void pc_setup(void)
{
    sqlite3_pcache_methods2 m;

    /* Both fail (SQLITE_MISUSE) once SQLite is initialized: then the
     * default cache stays, unwrapped. */
    if (sqlite3_config(SQLITE_CONFIG_GETPCACHE2, &pc_inner) != SQLITE_OK || pc_inner.iVersion < 1 ||
        pc_inner.xCreate == NULL)
        return;
    m = pc_inner;
    m.xInit = pc_init;
    m.xShutdown = pc_shutdown;
    m.xCreate = pc_create;
    m.xCachesize = pc_cachesize;
    m.xPagecount = pc_pagecount;
    m.xFetch = pc_fetch;
    m.xUnpin = pc_unpin;
    m.xRekey = pc_rekey;
    m.xTruncate = pc_truncate;
    m.xDestroy = pc_destroy;
    m.xShrink = pc_shrink;
    pc_installed = sqlite3_config(SQLITE_CONFIG_PCACHE2, &m) == SQLITE_OK;
}

void db_pcache_install(void)
{
    pthread_once(&pc_once, pc_setup);
}

int db_pcache_active(unsigned long *parked)
{
    pthread_once(&pc_once, pc_setup);
    if (parked != NULL)
        *parked = __atomic_load_n(&pc_parked, __ATOMIC_RELAXED);
    return pc_installed;
}
