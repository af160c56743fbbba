/*
 * timing.c - the `timing` interface: now, sleep, deadline.  sleep and
 * deadline suspend the actor (never its worker) and arm a timer on the I/O
 * thread, whose expiry wakes it.  Lifting, lowering and recording are the
 * generated glue's (wit_glue.h).
 */
#include "handlers/handlers_int.h"
#include "wit_glue.h"

#define IFACE "timing"

static int t_now(rt_host *h, uint64_t *ret)
{
    (void)h;
    *ret = rt_wall_ms();
    return 0;
}

/* Suspend for `ms` milliseconds (0: answer ok at once).  The wait takes the
 * call's input record over; the wake writes the result and records. */
static int wait_ms(rt_host *h, const char *fn, uint64_t ms)
{
    uint64_t token;

    if (ms == 0)
        return 0;
    token = rt_op_wait(h->a, RT_WAIT_UNIT, h->retptr, IFACE, fn, h->input);
    h->input = NULL;
    if (rt_io_timer(rt_actor_runtime(h->a), ms, rt_actor_id(h->a), token, TH_OK, false) == NULL)
        return th_error_set(&h->err, TH_ENOMEM, "cannot arm a timer");
    return TH_WASM_SUSPENDED;
}

static int t_sleep(rt_host *h, uint64_t duration, wit_res_unit_str *ret)
{
    (void)ret;
    return wait_ms(h, "sleep", duration);
}

static int t_deadline(rt_host *h, uint64_t timestamp, wit_res_unit_str *ret)
{
    uint64_t now = rt_wall_ms();

    (void)ret;
    return wait_ms(h, "deadline", timestamp > now ? timestamp - now : 0);
}

static const wit_impl_timing impl = {
    .now = t_now,
    .sleep = t_sleep,
    .deadline = t_deadline,
};

const rt_iface rt_iface_timing = {
    .name = "timing",
    .module = "theater:simple/timing",
    .handler = HANDLER_TIMING,
    .fns = wit_fns_timing,
    .nfns = WIT_NFNS_TIMING,
    .impl = &impl,
};
