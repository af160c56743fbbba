/*
 * timer - logs a tick every 100 ms three times (timing.sleep), then waits
 * for an absolute time (timing.deadline) and shuts down. Sleeping suspends
 * the actor; it does not hold a worker thread.
 */
#include "theater.h"

#define TICKS 3
#define INTERVAL_MS 100

static th_status timer_init(th_state *state, th_str actor_id)
{
    uint64_t start = th_now();
    th_logf("timer %.*s starts at %llu ms after the epoch", TH_FMT(actor_id),
            (unsigned long long)start);

    for (int i = 1; i <= TICKS; i++) {
        TH_TRY(th_sleep(INTERVAL_MS));
        th_logf("tick %d at +%llu ms", i, (unsigned long long)(th_now() - start));
    }

    TH_TRY(th_deadline(start + (TICKS + 1) * INTERVAL_MS));
    th_logf("deadline +%d ms reached at +%llu ms", (TICKS + 1) * INTERVAL_MS,
            (unsigned long long)(th_now() - start));
    return th_shutdown(TH_NONE);
}

TH_ACTOR_INIT(timer_init)
