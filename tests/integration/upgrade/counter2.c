/*
 * counter2 - version 2 of the counter example for the hot upgrade tests
 * (daemon/daemon.sh case upgrade): the same messages, and a migrate that
 * turns the count N of version 1 into N * 10 (so a test sees that migrate
 * ran on the live state).  Built three ways: MIGRATE_MODE 0 (this file),
 * 1 (migrate returns an error: counter2_err.c), 2 (migrate traps:
 * counter2_trap.c).
 */
#include "theater.h"

#ifndef MIGRATE_MODE
#define MIGRATE_MODE 0
#endif

static bool get_count(const ta_state *state, uint64_t *count)
{
    *count = 0;
    return !state->some || ta_parse_u64(state->val, count);
}

static void set_count(ta_state *state, uint64_t count)
{
    ta_str text = ta_format("%llu", (unsigned long long)count);
    ta_state_set(state, text.ptr, text.len);
}

static ta_status c2_init(ta_state *state, ta_str actor_id)
{
    uint64_t count;
    if (!get_count(state, &count))
        return ta_fail("counter2: the initial state must be a decimal number");
    set_count(state, count);
    return TA_OK;
}

static ta_status c2_migrate(ta_state *state, ta_str from_version)
{
    uint64_t count;
#if MIGRATE_MODE == 1
    return ta_fail("counter2: refusing to migrate on purpose");
#elif MIGRATE_MODE == 2
    ta_trap();
#endif
    if (!get_count(state, &count))
        return ta_fail("counter2: the state to migrate is not a number");
    set_count(state, count * 10);
    return TA_OK;
}

static ta_status c2_send(ta_state *state, ta_bytes msg)
{
    uint64_t count, add;
    if (!get_count(state, &count))
        return ta_fail("counter2: corrupt state");
    if (!ta_parse_u64(msg, &add))
        add = 1;
    set_count(state, count + add);
    return TA_OK;
}

static ta_status c2_request(ta_state *state, ta_str request_id, ta_bytes msg,
                            ta_opt_bytes *response)
{
    *response = ta_some(state->val);
    return TA_OK;
}

TA_ACTOR_INIT(c2_init)
TA_MIGRATE(c2_migrate)
TA_HANDLE_SEND(c2_send)
TA_HANDLE_REQUEST(c2_request)
