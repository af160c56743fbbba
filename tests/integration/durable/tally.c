/*
 * tally.c - the test actor of the durable-actors crash test (crash.py).
 *
 * Its state is the number of one-way messages it has handled, as decimal
 * text.  A message "F <actor-id> <tag>" is also forwarded: it sends
 * "<tag>" to that actor (so the test loads messages between actors too),
 * then works a while and logs (so that a kill often cuts the operation);
 * any other message is a tag, counted only.  A request is answered with
 * the count.  The chain keeps which tags it handled (the wasm-call's
 * parameters), which is what the test checks.
 */
#include "theater.h"

static bool get_count(const ta_state *state, uint64_t *count)
{
    *count = 0;
    return !state->some || ta_parse_u64(state->val, count);
}

static volatile uint32_t sink;

static void spin(uint32_t n)
{
    uint32_t x = 2463534242u;
    for (uint32_t k = 0; k < n; k++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
    }
    sink = x;
}

static ta_status tally_init(ta_state *state, ta_str actor_id)
{
    uint64_t count;
    (void)actor_id;
    if (!get_count(state, &count))
        return ta_fail("tally: the initial state must be a decimal number");
    ta_str text = ta_format("%llu", (unsigned long long)count);
    ta_state_set(state, text.ptr, text.len);
    return TA_OK;
}

static ta_status tally_send(ta_state *state, ta_bytes msg)
{
    uint64_t count;
    if (!get_count(state, &count))
        return ta_fail("tally: corrupt state");
    if (msg.len > 2 && msg.ptr[0] == 'F' && msg.ptr[1] == ' ') {
        size_t i = 2;
        while (i < msg.len && msg.ptr[i] != ' ')
            i++;
        if (i >= msg.len)
            return ta_fail("tally: F needs an actor id and a tag");
        ta_str target = {(const char *)msg.ptr + 2, i - 2};
        ta_status st = ta_send(target, ta_bytes_scoped(msg.ptr + i + 1, msg.len - i - 1));
        if (!st.ok)
            return st;
        /* work after the send, so that a daemon killed at a random moment
         * often cuts an operation whose first events are committed */
        spin(300000);
        ta_logf("forwarded %.*s", (int)(msg.len - i - 1), (const char *)msg.ptr + i + 1);
    }
    ta_str text = ta_format("%llu", (unsigned long long)(count + 1));
    ta_state_set(state, text.ptr, text.len);
    return TA_OK;
}

static ta_status tally_request(ta_state *state, ta_str request_id, ta_bytes msg,
                               ta_opt_bytes *response)
{
    (void)request_id;
    (void)msg;
    *response = ta_some(state->val);
    return TA_OK;
}

TA_ACTOR_INIT(tally_init)
TA_HANDLE_SEND(tally_send)
TA_HANDLE_REQUEST(tally_request)
