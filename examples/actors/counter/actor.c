/*
 * counter - an actor whose state is a count, kept as decimal text ("42").
 *
 *   handle-send     adds one, or the number the message holds ("5" adds 5)
 *   handle-request  answers with the current count
 *
 * No initial state means 0; an initial state must be a decimal number.
 */
#include "theater.h"

/* Reads the count from the state; false if the state is not a number. */
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

static ta_status counter_init(ta_state *state, ta_str actor_id)
{
    uint64_t count;
    if (!get_count(state, &count))
        return ta_fail("counter: the initial state must be a decimal number");
    set_count(state, count);
    ta_logf("counter %.*s starts at %llu", TA_FMT(actor_id), (unsigned long long)count);
    return TA_OK;
}

static ta_status counter_send(ta_state *state, ta_bytes msg)
{
    uint64_t count, add;
    if (!get_count(state, &count))
        return ta_fail("counter: corrupt state");
    if (!ta_parse_u64(msg, &add))
        add = 1;
    set_count(state, count + add);
    return TA_OK;
}

static ta_status counter_request(ta_state *state, ta_str request_id, ta_bytes msg,
                                 ta_opt_bytes *response)
{
    /* The state bytes live until the call returns, so they can be the answer. */
    *response = ta_some(state->val);
    return TA_OK;
}

TA_ACTOR_INIT(counter_init)
TA_HANDLE_SEND(counter_send)
TA_HANDLE_REQUEST(counter_request)
