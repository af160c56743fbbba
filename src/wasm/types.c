/*
 * types.c - process-wide interning of function types.
 *
 * Every distinct function type (parameter and result value types) gets one
 * id, the same in every module and for every host function, so
 * call_indirect and import matching compare two integers instead of two
 * type lists, across modules.  Ids start at 1; 0 means "allocation failed".
 *
 * Each id is reference counted: wasm_functype_canon takes a reference,
 * wasm_functype_release drops one, and an id whose last user is gone is
 * freed and may later be given to another type.  That is safe because an
 * id only lives inside objects that hold its reference (a module's types,
 * whose translated code embeds them, and host functions of an imports
 * set), and it keeps a long-running process that loads many different
 * untrusted modules from accumulating their types forever.
 *
 * Layout: `entries` is indexed by id - 1 (free entries are chained through
 * `next_free`); `slots` is an open-addressing hash table (linear probing,
 * deletion by backward shift) of ids.  One mutex guards both.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "wasm_int.h"

typedef struct canon_entry {
    uint8_t *types; /* nparams + nresults bytes (owned); NULL if free */
    uint32_t nparams, nresults;
    uint32_t hash;
    uint32_t refs;
    uint32_t next_free; /* free list link (an id, 0 = end) */
} canon_entry;

static pthread_mutex_t canon_lock = PTHREAD_MUTEX_INITIALIZER;
static canon_entry *entries;
static uint32_t nentries, entries_cap, free_head;
static uint32_t *slots;    /* ids, 0 = empty */
static uint32_t slots_cap; /* power of two, or 0 before first use */
static uint32_t live;      /* ids in use */

/* FNV-1a over the counts and the type bytes. */
static uint32_t canon_hash(const uint8_t *types, uint32_t np, uint32_t nr)
{
    uint32_t h = 2166136261u;
    uint32_t counts[2] = {np, nr};
    const uint8_t *c = (const uint8_t *)counts;

    for (size_t i = 0; i < sizeof counts; i++)
        h = (h ^ c[i]) * 16777619u;
    for (size_t i = 0; i < (size_t)np + nr; i++)
        h = (h ^ types[i]) * 16777619u;
    return h;
}

static int grow_slots(void)
{
    uint32_t ncap = slots_cap ? slots_cap * 2 : 64, mask = ncap - 1;
    uint32_t *ns = calloc(ncap, sizeof *ns);

    if (ns == NULL)
        return -1;
    for (uint32_t i = 0; i < slots_cap; i++) {
        uint32_t id = slots[i], k;
        if (id == 0)
            continue;
        for (k = entries[id - 1].hash & mask; ns[k] != 0; k = (k + 1) & mask)
            ;
        ns[k] = id;
    }
    free(slots);
    slots = ns;
    slots_cap = ncap;
    return 0;
}

/* A free entry's id (growing the array if needed), or 0. */
static uint32_t take_entry(void)
{
    uint32_t id;

    if (free_head != 0) {
        id = free_head;
        free_head = entries[id - 1].next_free;
        return id;
    }
    if (nentries == UINT32_MAX - 1)
        return 0;
    if (nentries == entries_cap) {
        uint32_t ncap = entries_cap ? entries_cap * 2 : 64;
        canon_entry *ne = realloc(entries, (size_t)ncap * sizeof *ne);
        if (ne == NULL)
            return 0;
        entries = ne;
        entries_cap = ncap;
    }
    return ++nentries;
}

uint32_t wasm_functype_canon(const uint8_t *types, uint32_t nparams, uint32_t nresults)
{
    uint32_t h = canon_hash(types, nparams, nresults), id = 0, k, mask;
    size_t n = (size_t)nparams + nresults;
    canon_entry *e;
    uint8_t *copy;

    pthread_mutex_lock(&canon_lock);
    if ((live + 1) * 2 > slots_cap && grow_slots() < 0)
        goto out;
    mask = slots_cap - 1;
    for (k = h & mask; slots[k] != 0; k = (k + 1) & mask) {
        e = &entries[slots[k] - 1];
        if (e->hash == h && e->nparams == nparams && e->nresults == nresults &&
            (n == 0 || memcmp(e->types, types, n) == 0)) {
            e->refs++;
            id = slots[k];
            goto out;
        }
    }
    copy = malloc(n ? n : 1);
    if (copy == NULL || (id = take_entry()) == 0) {
        free(copy);
        goto out;
    }
    if (n != 0)
        memcpy(copy, types, n);
    e = &entries[id - 1];
    e->types = copy;
    e->nparams = nparams;
    e->nresults = nresults;
    e->hash = h;
    e->refs = 1;
    e->next_free = 0;
    slots[k] = id;
    live++;
out:
    pthread_mutex_unlock(&canon_lock);
    return id;
}

/* Remove `id` from the hash table (backward-shift deletion). */
static void unslot(uint32_t id)
{
    uint32_t mask = slots_cap - 1, i, j;

    for (i = entries[id - 1].hash & mask; slots[i] != id; i = (i + 1) & mask)
        ;
    slots[i] = 0;
    for (j = (i + 1) & mask; slots[j] != 0; j = (j + 1) & mask) {
        uint32_t home = entries[slots[j] - 1].hash & mask;
        /* move slots[j] into the hole if its home is not in (i, j] */
        if (((j - home) & mask) >= ((j - i) & mask)) {
            slots[i] = slots[j];
            slots[j] = 0;
            i = j;
        }
    }
}

void wasm_functype_release(uint32_t id)
{
    canon_entry *e;

    if (id == 0)
        return;
    pthread_mutex_lock(&canon_lock);
    if (id <= nentries && entries[id - 1].types != NULL) {
        e = &entries[id - 1];
        if (--e->refs == 0) {
            unslot(id);
            free(e->types);
            e->types = NULL;
            e->next_free = free_head;
            free_head = id;
            live--;
        }
    }
    pthread_mutex_unlock(&canon_lock);
}
