/*
 * random.c - the `random` interface.  Each actor has its own xoshiro256**
 * generator: seeded from the manifest's `seed` (through splitmix64, so a run
 * is reproducible) or else from getrandom(2).  Not for cryptographic use.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "runtime/rt_int.h"

#define IFACE "random"
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
    uint64_t x;
    int i;

    if (s == NULL || s->rng_ready)
        return s;
    if (a->spec->random_seeded) {
        x = a->spec->random_seed;
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
    th_error_set(&h->err, TH_ENOMEM, "out of memory");
    return rt_host_trap(h);
}

static int h_bytes(th_wasm_call *call, void *ctx, const th_wasm_val *args, th_wasm_val *results)
{
    rt_host h;
    uint32_t n = (uint32_t)args[0].i32, retptr = (uint32_t)args[1].i32, i;
    rt_hstate *s;
    uint8_t *buf;
    char in[48], *out;
    uint64_t x = 0;
    int rc;

    (void)ctx, (void)results;
    rt_host_begin(&h, call);
    snprintf(in, sizeof in, "{\"length\":%u}", n);
    if (n > RT_RANDOM_MAX_BYTES) {
        if (rt_abi_result_unit(&h.g, retptr, "length above 1 MiB") != 0)
            return rt_host_trap(&h);
        return rt_host_done(&h, IFACE, "random-bytes", strdup(in), "{\"err\":\"length above 1 MiB\"}");
    }
    if ((s = rng(h.a)) == NULL || (buf = malloc(n ? n : 1)) == NULL)
        return oom(&h);
    for (i = 0; i < n; i++) {
        if (i % 8 == 0)
            x = next(s);
        buf[i] = (uint8_t)(x >> (8 * (i % 8)));
    }
    rc = rt_abi_result_bytes(&h.g, retptr, buf, n, NULL);
    out = rt_json_obj1("ok", (const char *)buf, n, true);
    free(buf);
    if (rc != 0) {
        free(out);
        return rt_host_trap(&h);
    }
    rt_host_done(&h, IFACE, "random-bytes", strdup(in), out);
    free(out);
    return TH_OK;
}

static int h_range(th_wasm_call *call, void *ctx, const th_wasm_val *args, th_wasm_val *results)
{
    rt_host h;
    uint64_t lo = (uint64_t)args[0].i64, hi = (uint64_t)args[1].i64, span, v, limit;
    uint32_t retptr = (uint32_t)args[2].i32;
    rt_hstate *s;
    char in[80], out[48];

    (void)ctx, (void)results;
    rt_host_begin(&h, call);
    snprintf(in, sizeof in, "{\"min\":%llu,\"max\":%llu}", (unsigned long long)lo, (unsigned long long)hi);
    if (lo >= hi) {
        if (rt_abi_result_err8(&h.g, retptr, "min must be below max") != 0)
            return rt_host_trap(&h);
        return rt_host_done(&h, IFACE, "random-range", strdup(in), "{\"err\":\"min must be below max\"}");
    }
    if ((s = rng(h.a)) == NULL)
        return oom(&h);
    /* uniform in [lo, hi) by rejection */
    span = hi - lo;
    limit = UINT64_MAX - UINT64_MAX % span;
    do
        v = next(s);
    while (v >= limit);
    v = lo + v % span;
    if (rt_abi_store_u8(&h.g, retptr, 0) != 0 || rt_abi_store_u64(&h.g, retptr + 8, v) != 0)
        return rt_host_trap(&h);
    snprintf(out, sizeof out, "{\"ok\":%llu}", (unsigned long long)v);
    return rt_host_done(&h, IFACE, "random-range", strdup(in), out);
}

static int h_float(th_wasm_call *call, void *ctx, const th_wasm_val *args, th_wasm_val *results)
{
    rt_host h;
    uint32_t retptr = (uint32_t)args[0].i32;
    rt_hstate *s;
    double d;
    uint64_t bits;
    char out[64];

    (void)ctx, (void)results;
    rt_host_begin(&h, call);
    if ((s = rng(h.a)) == NULL)
        return oom(&h);
    d = (double)(next(s) >> 11) * 0x1.0p-53; /* [0, 1) */
    memcpy(&bits, &d, 8);
    if (rt_abi_store_u8(&h.g, retptr, 0) != 0 || rt_abi_store_u64(&h.g, retptr + 8, bits) != 0)
        return rt_host_trap(&h);
    snprintf(out, sizeof out, "{\"ok\":%.17g}", d);
    return rt_host_done(&h, IFACE, "random-float", NULL, out);
}

static int h_uuid(th_wasm_call *call, void *ctx, const th_wasm_val *args, th_wasm_val *results)
{
    static const char hex[] = "0123456789abcdef";
    rt_host h;
    uint32_t retptr = (uint32_t)args[0].i32;
    rt_hstate *s;
    uint8_t b[16];
    uint64_t x, y;
    char id[RT_ID_LEN + 1], *out;
    int i, o = 0;

    (void)ctx, (void)results;
    rt_host_begin(&h, call);
    if ((s = rng(h.a)) == NULL)
        return oom(&h);
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
    if (rt_abi_result_bytes(&h.g, retptr, id, RT_ID_LEN, NULL) != 0)
        return rt_host_trap(&h);
    out = rt_json_obj1("ok", id, RT_ID_LEN, false);
    rt_host_done(&h, IFACE, "generate-uuid", NULL, out);
    free(out);
    return TH_OK;
}

static const rt_hostfn fns[] = {
    {"random-bytes", "ii>", h_bytes},
    {"random-range", "IIi>", h_range},
    {"random-float", "i>", h_float},
    {"generate-uuid", "i>", h_uuid},
};

/* Attenuation: a seed only fixes the sequence; it grants nothing, so any
 * child setting is within the parent's. */
static int subset(const rt_spec *parent, const rt_spec *child, th_error *err)
{
    (void)parent, (void)child, (void)err;
    return 0;
}

const rt_iface rt_iface_random = {"theater:simple/random", RT_H_RANDOM, fns, sizeof fns / sizeof fns[0], subset};
