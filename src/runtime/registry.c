/*
 * registry.c - actor ids and the id -> actor map.
 *
 * Ids are UUID v4 strings.  The random bits come from a per-thread
 * xoshiro256** generator seeded from getrandom(2): ids must be unique and
 * unpredictable enough to be names, not secrets.
 *
 * The map is split into RT_REG_SHARDS shards by the id's first hex digits
 * (already uniformly random), each a chained hash table under its own
 * mutex, so lookups from many workers rarely meet on one lock.  The map
 * holds one reference on each actor.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "runtime/rt_int.h"

static __thread uint64_t rng_s[4];
static __thread bool rng_ready;

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(void)
{
    uint64_t r, t;

    if (!rng_ready) {
        if (getrandom(rng_s, sizeof rng_s, 0) != (ssize_t)sizeof rng_s) {
            /* no entropy source: mix time, pid and an address */
            rng_s[0] = rt_now_ns() ^ (uint64_t)getpid() << 32;
            rng_s[1] = (uint64_t)(uintptr_t)&rng_s ^ 0x9e3779b97f4a7c15u;
            rng_s[2] = rt_wall_ms() * 0xbf58476d1ce4e5b9u;
            rng_s[3] = 0x94d049bb133111ebu;
        }
        if ((rng_s[0] | rng_s[1] | rng_s[2] | rng_s[3]) == 0)
            rng_s[0] = 1;
        rng_ready = true;
    }
    r = rotl(rng_s[1] * 5, 7) * 9;
    t = rng_s[1] << 17;
    rng_s[2] ^= rng_s[0];
    rng_s[3] ^= rng_s[1];
    rng_s[1] ^= rng_s[2];
    rng_s[0] ^= rng_s[3];
    rng_s[2] ^= t;
    rng_s[3] = rotl(rng_s[3], 45);
    return r;
}

void rt_uuid_v4(char out[RT_ID_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    uint8_t b[16];
    uint64_t x = rng_next(), y = rng_next();
    int i, o = 0;

    memcpy(b, &x, 8);
    memcpy(b + 8, &y, 8);
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80); /* variant 10 */
    for (i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[b[i] >> 4];
        out[o++] = hex[b[i] & 15];
    }
    out[o] = 0;
}

bool rt_id_valid(const char *s, size_t n)
{
    size_t i;

    if (n != RT_ID_LEN)
        return false;
    for (i = 0; i < n; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return false;
        } else if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
                     (s[i] >= 'A' && s[i] <= 'F'))) {
            return false;
        }
    }
    return true;
}

/* FNV-1a over the id: ids from outside may be chosen by anyone. */
static uint64_t id_hash(const char *id, size_t n)
{
    uint64_t h = 0xcbf29ce484222325u;
    size_t i;

    for (i = 0; i < n; i++) {
        h ^= (uint8_t)id[i];
        h *= 0x100000001b3u;
    }
    return h;
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
            size_t k = (id_hash(a->id, RT_ID_LEN) >> 4) & (nb - 1);
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
    uint64_t h = id_hash(a->id, RT_ID_LEN);
    rt_reg_shard *s = &r->shards[h % RT_REG_SHARDS];
    rt_actor *x;
    size_t k;
    int rc = 0;

    pthread_mutex_lock(&s->lock);
    if (s->count >= s->nbuckets && (rc = shard_grow(s)) != 0)
        goto out;
    k = (h >> 4) & (s->nbuckets - 1);
    for (x = s->buckets[k]; x != NULL; x = x->reg_next) {
        if (memcmp(x->id, a->id, RT_ID_LEN) == 0) {
            rc = TH_EEXIST;
            goto out;
        }
    }
    rt_actor_ref(a);
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
    uint64_t h = id_hash(a->id, RT_ID_LEN);
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
    h = id_hash(id, n);
    s = &r->shards[h % RT_REG_SHARDS];
    pthread_mutex_lock(&s->lock);
    if (s->nbuckets) {
        for (a = s->buckets[(h >> 4) & (s->nbuckets - 1)]; a != NULL; a = a->reg_next) {
            if (memcmp(a->id, id, RT_ID_LEN) == 0) {
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
