/*
 * registry.c - actor ids and the id -> actor map.
 *
 * Ids are UUID v4 strings (rt_uuid_v4, util.c).  The map is split into RT_REG_SHARDS shards by the
 * id's first hex digits (already uniformly random), each a chained hash table under its own mutex,
 * so lookups from many workers rarely meet on one lock.  The map holds one reference on each actor.
 */
#include <stdlib.h>
#include <string.h>

#include "runtime/rt_int.h"

/* The hash of an id (RT_ID_LEN bytes): its words mixed by multiplication
 * and shifts, 8 bytes at a time (FNV-1a's byte at a time was most of an
 * insert).  Only the runtime makes the ids that go in (random UUIDs; a
 * restore brings back ids it made), so no one can choose keys that meet
 * in one bucket; an id from outside is only looked up. */
static uint64_t id_hash(const char *id)
{
    const uint64_t k = 0x9e3779b97f4a7c15u;
    uint64_t h = 0, w;
    uint32_t t;
    size_t i;

    for (i = 0; i + 8 <= RT_ID_LEN; i += 8) {
        memcpy(&w, id + i, 8);
        h = (h ^ w) * k;
        h ^= h >> 29;
    }
    t = 0;
    memcpy(&t, id + i, RT_ID_LEN - i);
    h = (h ^ t) * k;
    return h ^ (h >> 32);
}

int rt_registry_init(rt_registry *r)
{
    int i;

    memset(r, 0, sizeof *r);
    for (i = 0; i < RT_REG_SHARDS; i++)
        pthread_mutex_init(&r->shards[i].lock, NULL);
    atomic_init(&r->count, 0);
    return 0;
}

void rt_registry_release(rt_registry *r)
{
    int i;
    size_t b;
    rt_actor *a, *next;

    for (i = 0; i < RT_REG_SHARDS; i++) {
        rt_reg_shard *s = &r->shards[i];
        for (b = 0; b < s->nbuckets; b++) {
            for (a = s->buckets[b]; a != NULL; a = next) {
                next = a->reg_next;
                rt_actor_release(a);
            }
        }
        free(s->buckets);
        pthread_mutex_destroy(&s->lock);
    }
}

static int shard_grow(rt_reg_shard *s)
{
    size_t nb = s->nbuckets ? s->nbuckets * 2 : 64, b;
    rt_actor **nbk = calloc(nb, sizeof *nbk), *a, *next;

    if (nbk == NULL)
        return TH_ENOMEM;
    for (b = 0; b < s->nbuckets; b++) {
        for (a = s->buckets[b]; a != NULL; a = next) {
            size_t k = (a->reg_hash >> 4) & (nb - 1);
            next = a->reg_next;
            a->reg_next = nbk[k];
            nbk[k] = a;
        }
    }
    free(s->buckets);
    s->buckets = nbk;
    s->nbuckets = nb;
    return 0;
}

int rt_registry_add(rt_registry *r, rt_actor *a)
{
    uint64_t h = id_hash(a->id);
    rt_reg_shard *s = &r->shards[h % RT_REG_SHARDS];
    rt_actor *x;
    size_t k;
    int rc = 0;

    pthread_mutex_lock(&s->lock);
    if (s->count >= s->nbuckets && (rc = shard_grow(s)) != 0)
        goto out;
    k = (h >> 4) & (s->nbuckets - 1);
    for (x = s->buckets[k]; x != NULL; x = x->reg_next) {
        if (x->reg_hash == h && memcmp(x->id, a->id, RT_ID_LEN) == 0) {
            rc = TH_EEXIST;
            goto out;
        }
    }
    rt_actor_ref(a);
    a->reg_hash = h;
    a->reg_next = s->buckets[k];
    s->buckets[k] = a;
    s->count++;
    atomic_fetch_add(&r->count, 1);
out:
    pthread_mutex_unlock(&s->lock);
    return rc;
}

void rt_registry_remove(rt_registry *r, rt_actor *a)
{
    uint64_t h = a->reg_hash; /* set by rt_registry_add (0: never added, not found) */
    rt_reg_shard *s = &r->shards[h % RT_REG_SHARDS];
    rt_actor **pp;
    bool found = false;

    pthread_mutex_lock(&s->lock);
    if (s->nbuckets) {
        for (pp = &s->buckets[(h >> 4) & (s->nbuckets - 1)]; *pp != NULL; pp = &(*pp)->reg_next) {
            if (*pp == a) {
                *pp = a->reg_next;
                a->reg_next = NULL;
                s->count--;
                found = true;
                break;
            }
        }
    }
    pthread_mutex_unlock(&s->lock);
    if (found) {
        atomic_fetch_sub(&r->count, 1);
        rt_actor_release(a);
    }
}

rt_actor *rt_registry_get(rt_registry *r, const char *id, size_t n)
{
    uint64_t h;
    rt_reg_shard *s;
    rt_actor *a = NULL;

    if (n != RT_ID_LEN)
        return NULL;
    h = id_hash(id);
    s = &r->shards[h % RT_REG_SHARDS];
    pthread_mutex_lock(&s->lock);
    if (s->nbuckets) {
        for (a = s->buckets[(h >> 4) & (s->nbuckets - 1)]; a != NULL; a = a->reg_next) {
            if (a->reg_hash == h && memcmp(a->id, id, RT_ID_LEN) == 0) {
                rt_actor_ref(a);
                break;
            }
        }
    }
    pthread_mutex_unlock(&s->lock);
    return a;
}

int rt_registry_snapshot(rt_registry *r, rt_actor ***out, size_t *n)
{
    rt_actor **v = NULL, **nv, *a;
    size_t cnt = 0, cap = 0, b;
    int i;

    for (i = 0; i < RT_REG_SHARDS; i++) {
        rt_reg_shard *s = &r->shards[i];
        pthread_mutex_lock(&s->lock);
        for (b = 0; b < s->nbuckets; b++) {
            for (a = s->buckets[b]; a != NULL; a = a->reg_next) {
                if (cnt == cap) {
                    cap = cap ? cap * 2 : 64;
                    nv = realloc(v, cap * sizeof *v);
                    if (nv == NULL) {
                        pthread_mutex_unlock(&s->lock);
                        while (cnt)
                            rt_actor_release(v[--cnt]);
                        free(v);
                        return TH_ENOMEM;
                    }
                    v = nv;
                }
                rt_actor_ref(a);
                v[cnt++] = a;
            }
        }
        pthread_mutex_unlock(&s->lock);
    }
    *out = v;
    *n = cnt;
    return 0;
}
