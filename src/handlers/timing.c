/*
 * timing.c - the `timing` interface: now, sleep, deadline.  sleep and
 * deadline suspend the actor (never its worker) and arm a timer on the I/O
 * thread, whose expiry wakes it.
 */
#include <stdio.h>
#include <stdlib.h>

#include "runtime/rt_int.h"

#define IFACE "timing"

static int h_now(th_wasm_call *call, void *ctx, const th_wasm_val *args, th_wasm_val *results)
{
    rt_host h;
    uint64_t now = rt_wall_ms();
    char out[48];

    (void)ctx, (void)args;
    rt_host_begin(&h, call);
    results[0].i64 = (int64_t)now;
    snprintf(out, sizeof out, "%llu", (unsigned long long)now);
    return rt_host_done(&h, IFACE, "now", NULL, out);
}

/* Suspend for `ms` milliseconds (0: answer at once). */
static int wait_ms(rt_host *h, const char *fn, uint64_t ms, uint32_t retptr, char *in)
{
    uint64_t token;

    if (rt_abi_fits(&h->g, retptr, 12) != 0) {
        free(in);
        return rt_host_trap(h);
    }
    if (ms == 0) {
        if (rt_abi_result_unit(&h->g, retptr, NULL) != 0) {
            free(in);
            return rt_host_trap(h);
        }
        return rt_host_done(h, IFACE, fn, in, "{\"ok\":null}");
    }
    token = rt_op_wait(h->a, RT_WAIT_UNIT, retptr, IFACE, fn, in);
    if (rt_io_timer(h->a->rt, ms, h->a->id, token, TH_OK, false) == NULL) {
        th_error_set(&h->err, TH_ENOMEM, "cannot arm a timer");
        return rt_host_trap(h);
    }
    return TH_WASM_SUSPENDED;
}

static int h_sleep(th_wasm_call *call, void *ctx, const th_wasm_val *args, th_wasm_val *results)
{
    rt_host h;
    char in[64];
    uint64_t ms = (uint64_t)args[0].i64;

    (void)ctx, (void)results;
    rt_host_begin(&h, call);
    snprintf(in, sizeof in, "{\"duration\":%llu}", (unsigned long long)ms);
    return wait_ms(&h, "sleep", ms, (uint32_t)args[1].i32, (char *)rt_memdup(in, sizeof in));
}

static int h_deadline(th_wasm_call *call, void *ctx, const th_wasm_val *args, th_wasm_val *results)
{
    rt_host h;
    char in[64];
    uint64_t ts = (uint64_t)args[0].i64, now = rt_wall_ms();

    (void)ctx, (void)results;
    rt_host_begin(&h, call);
    snprintf(in, sizeof in, "{\"timestamp\":%llu}", (unsigned long long)ts);
    return wait_ms(&h, "deadline", ts > now ? ts - now : 0, (uint32_t)args[1].i32, (char *)rt_memdup(in, sizeof in));
}

static const rt_hostfn fns[] = {
    {"now", ">I", h_now},
    {"sleep", "Ii>", h_sleep},
    {"deadline", "Ii>", h_deadline},
};

const rt_iface rt_iface_timing = {"theater:simple/timing", RT_H_TIMING, fns, sizeof fns / sizeof fns[0], NULL};
