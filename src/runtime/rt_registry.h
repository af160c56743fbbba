/*
 * rt_registry.h - the map from actor ids to live actors (registry.c), sharded
 * by id, each shard under its own lock.  Private to src/runtime/
 * (rt_int.h).
 */
#ifndef THEATER_RT_REGISTRY_H
#define THEATER_RT_REGISTRY_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include "runtime/rt_host.h"

#define RT_REG_SHARDS 16
typedef struct rt_reg_shard {
    pthread_mutex_t lock;
    rt_actor **buckets;
    size_t nbuckets, count;
} rt_reg_shard;

typedef struct rt_registry {
    rt_reg_shard shards[RT_REG_SHARDS];
    atomic_size_t count;
} rt_registry;

int rt_registry_init(rt_registry *r);
void rt_registry_release(rt_registry *r);
/* Insert (takes a reference).  TH_EEXIST if the id is taken. */
int rt_registry_add(rt_registry *r, rt_actor *a);
/* Remove (drops the registry's reference) if present. */
void rt_registry_remove(rt_registry *r, rt_actor *a);
/* Look up an id (n bytes); returns a new reference or NULL. */
rt_actor *rt_registry_get(rt_registry *r, const char *id, size_t n);
/* Snapshot of every actor (new references); *out malloc'd, caller releases
 * each and frees the array. */
int rt_registry_snapshot(rt_registry *r, rt_actor ***out, size_t *n);

#endif
