/*
 * timer - logs a tick every 100 ms three times (timing.sleep), then waits
 * for an absolute time (timing.deadline) and shuts down. Sleeping suspends
 * the actor; it does not hold a worker thread.
 */
#include "theater.h"

#define TICKS 3
#define INTERVAL_MS 100

static ta_status timer_init(ta_state *state, ta_str actor_id)
{
    uint64_t start = ta_now();
    ta_logf("timer %.*s starts at %llu ms after the epoch", TA_FMT(actor_id),
            (unsigned long long)start);

    ta_status st;
    for (int i = 1; i <= TICKS; i++) {
        st = ta_sleep(INTERVAL_MS);
        if (!st.ok)
            return st;
        ta_logf("tick %d at +%llu ms", i, (unsigned long long)(ta_now() - start));
    }

    st = ta_deadline(start + (TICKS + 1) * INTERVAL_MS);
    if (!st.ok)
        return st;
    ta_logf("deadline +%d ms reached at +%llu ms", (TICKS + 1) * INTERVAL_MS,
            (unsigned long long)(ta_now() - start));
    return ta_shutdown(TA_NONE);
}

TA_ACTOR_INIT(timer_init)
