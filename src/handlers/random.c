/*
 * random.c - the `random` interface.  Each actor has its own xoshiro256**
 * generator: seeded from the manifest's `seed` (through splitmix64, so a run
 * is reproducible) or else from getrandom(2).  Not for cryptographic use.
 * Lifting, lowering and recording are the generated glue's (wit_glue.h).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "handlers/handlers_int.h"
#include "runtime/manifest.h"
#include "wit_glue.h"

#define RT_RANDOM_MAX_BYTES TH_RT_RANDOM_MAX_BYTES

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static uint64_t next(rt_hstate *s)
{
    uint64_t *r = s->rng, res = ((r[1] * 5) << 7 | (r[1] * 5) >> 57) * 9, t = r[1] << 17;

    r[2] ^= r[0];
    r[3] ^= r[1];
    r[1] ^= r[2];
    r[0] ^= r[3];
    r[2] ^= t;
    r[3] = r[3] << 45 | r[3] >> 19;
    return res;
}

/* The actor's generator, seeded on first use; NULL if out of memory. */
static rt_hstate *rng(rt_actor *a)
{
    rt_hstate *s = rt_hstate_get(a);
    const hs_random *set = rt_spec_settings(rt_actor_spec(a), HANDLER_RANDOM);
    uint64_t x;
    int i;

    if (s == NULL || s->rng_ready)
        return s;
    if (set != NULL && set->seeded) {
        x = set->seed;
    } else if (getrandom(&x, sizeof x, 0) != (ssize_t)sizeof x) {
        x = rt_now_ns() ^ (uint64_t)(uintptr_t)a;
    }
    for (i = 0; i < 4; i++)
        s->rng[i] = splitmix(&x);
    s->rng_ready = true;
    return s;
}

static int oom(rt_host *h)
{
    return th_error_set(&h->err, TH_ENOMEM, "out of memory");
}

static int r_bytes(rt_host *h, uint32_t length, wit_res_bytes_str *ret)
{
    rt_hstate *s;
    uint64_t x = 0;
    uint32_t i;

    if (length > RT_RANDOM_MAX_BYTES) {
        ret->is_err = true;
        return wit_str_set(h, &ret->err, "length above 1 MiB");
    }
    if ((s = rng(h->a)) == NULL || (ret->ok.ptr = malloc(length ? length : 1)) == NULL)
        return oom(h);
    ret->ok.len = length;
    for (i = 0; i < length; i++) {
        if (i % 8 == 0)
            x = next(s);
        ret->ok.ptr[i] = (uint8_t)(x >> (8 * (i % 8)));
    }
    return 0;
}

static int r_range(rt_host *h, uint64_t lo, uint64_t hi, wit_res_u64_str *ret)
{
    uint64_t span, v, limit;
    rt_hstate *s;

    if (lo >= hi) {
        ret->is_err = true;
        return wit_str_set(h, &ret->err, "min must be below max");
    }
    if ((s = rng(h->a)) == NULL)
        return oom(h);
    /* uniform in [lo, hi) by rejection */
    span = hi - lo;
    limit = UINT64_MAX - UINT64_MAX % span;
    do
        v = next(s);
    while (v >= limit);
    ret->ok = lo + v % span;
    return 0;
}

static int r_float(rt_host *h, wit_res_f64_str *ret)
{
    rt_hstate *s;

    if ((s = rng(h->a)) == NULL)
        return oom(h);
    ret->ok = (double)(next(s) >> 11) * 0x1.0p-53; /* [0, 1) */
    return 0;
}

static int r_uuid(rt_host *h, wit_res_str_str *ret)
{
    static const char hex[] = "0123456789abcdef";
    rt_hstate *s;
    uint8_t b[16];
    uint64_t x, y;
    char *id;
    int i, o = 0;

    if ((s = rng(h->a)) == NULL || (id = malloc(RT_ID_LEN + 1)) == NULL)
        return oom(h);
    x = next(s);
    y = next(s);
    memcpy(b, &x, 8);
    memcpy(b + 8, &y, 8);
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    for (i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            id[o++] = '-';
        id[o++] = hex[b[i] >> 4];
        id[o++] = hex[b[i] & 15];
    }
    id[o] = 0;
    ret->ok.ptr = id;
    ret->ok.len = RT_ID_LEN;
    return 0;
}

/* ---- settings: seed = <integer> (optional) ---- */

static int settings_read(rt_manifest_reader *r, const toml_value *h, const char *prefix, void *p)
{
    hs_random *s = p;
    const toml_keyval *kv;
    int rc;

    if ((rc = rt_manifest_field(r, h, prefix, "seed", TOML_INTEGER, &kv)) != 0)
        return rc;
    if (kv != NULL) {
        s->seeded = true;
        s->seed = (uint64_t)kv->value->u.i;
    }
    return 0;
}

/* Attenuation: a seed only fixes the sequence; it grants nothing, so any
 * child setting is within the parent's. */
static int settings_subset(const void *parent, const void *child, th_error *err)
{
    (void)parent, (void)child, (void)err;
    return 0;
}

static const char *const fields[] = {"seed", NULL};

static const wit_impl_random impl = {
    .random_bytes = r_bytes,
    .random_range = r_range,
    .random_float = r_float,
    .generate_uuid = r_uuid,
};

const rt_iface rt_iface_random = {
    .name = "random",
    .module = "theater:simple/random",
    .handler = HANDLER_RANDOM,
    .fns = wit_fns_random,
    .nfns = WIT_NFNS_RANDOM,
    .impl = &impl,
    .fields = fields,
    .settings_size = sizeof(hs_random),
    .settings_read = settings_read,
    .settings_subset = settings_subset,
};
