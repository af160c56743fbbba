/*
 * types.c - process-wide interning of function types.
 *
 * Every distinct function type (parameter and result value types) gets one
 * id, the same in every module and for every host function, so
 * call_indirect and import matching compare two integers instead of two
 * type lists, across modules.  Ids start at 1; 0 means "allocation failed".
 *
 * The table is an open-addressing hash set guarded by a mutex; entries are
 * never removed (ids stay valid for the life of the process; the number of
 * distinct types a process sees is small in practice).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "wasm_int.h"

typedef struct canon_entry {
    uint8_t *types;  /* nparams + nresults bytes (owned by the table) */
    uint32_t nparams, nresults;
    uint32_t hash;
    uint32_t id;     /* 0: empty slot */
} canon_entry;

static pthread_mutex_t canon_lock = PTHREAD_MUTEX_INITIALIZER;
static canon_entry *canon_tab;
static uint32_t canon_cap;   /* power of two, or 0 before first use */
static uint32_t canon_count;

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

static int canon_grow(void)
{
    uint32_t ncap = canon_cap ? canon_cap * 2 : 64;
    canon_entry *nt = calloc(ncap, sizeof *nt);

    if (nt == NULL)
        return -1;
    for (uint32_t i = 0; i < canon_cap; i++) {
        canon_entry *e = &canon_tab[i];
        uint32_t k;
        if (e->id == 0)
            continue;
        for (k = e->hash & (ncap - 1); nt[k].id != 0; k = (k + 1) & (ncap - 1))
            ;
        nt[k] = *e;
    }
    free(canon_tab);
    canon_tab = nt;
    canon_cap = ncap;
    return 0;
}

uint32_t wasm_functype_canon(const uint8_t *types, uint32_t nparams,
                             uint32_t nresults)
{
    uint32_t h = canon_hash(types, nparams, nresults), id = 0, k;
    size_t n = (size_t)nparams + nresults;

    pthread_mutex_lock(&canon_lock);
    if ((canon_count + 1) * 2 > canon_cap && canon_grow() < 0)
        goto out;
    for (k = h & (canon_cap - 1); canon_tab[k].id != 0;
         k = (k + 1) & (canon_cap - 1)) {
        canon_entry *e = &canon_tab[k];
        if (e->hash == h && e->nparams == nparams && e->nresults == nresults &&
            (n == 0 || memcmp(e->types, types, n) == 0)) {
            id = e->id;
            goto out;
        }
    }
    canon_tab[k].types = malloc(n ? n : 1);
    if (canon_tab[k].types == NULL)
        goto out;
    if (n != 0)
        memcpy(canon_tab[k].types, types, n);
    canon_tab[k].nparams = nparams;
    canon_tab[k].nresults = nresults;
    canon_tab[k].hash = h;
    canon_tab[k].id = id = ++canon_count;
out:
    pthread_mutex_unlock(&canon_lock);
    return id;
}
