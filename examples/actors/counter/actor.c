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
static bool get_count(const th_state *state, uint64_t *count)
{
    *count = 0;
    return !state->some || th_parse_u64(state->val, count);
}

static void set_count(th_state *state, uint64_t count)
{
    th_str text = th_format("%llu", (unsigned long long)count);
    th_state_set(state, text.ptr, text.len);
}

static th_status counter_init(th_state *state, th_str actor_id)
{
    uint64_t count;
    if (!get_count(state, &count))
        return th_fail("counter: the initial state must be a decimal number");
    set_count(state, count);
    th_logf("counter %.*s starts at %llu", TH_FMT(actor_id), (unsigned long long)count);
    return TH_OK;
}

static th_status counter_send(th_state *state, th_bytes msg)
{
    uint64_t count, add;
    if (!get_count(state, &count))
        return th_fail("counter: corrupt state");
    if (!th_parse_u64(msg, &add))
        add = 1;
    set_count(state, count + add);
    return TH_OK;
}

static th_status counter_request(th_state *state, th_str request_id, th_bytes msg,
                                 th_opt_bytes *response)
{
    /* The state bytes live until the call returns, so they can be the answer. */
    *response = th_some(state->val);
    return TH_OK;
}

TH_ACTOR_INIT(counter_init)
TH_HANDLE_SEND(counter_send)
TH_HANDLE_REQUEST(counter_request)
