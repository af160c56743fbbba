/*
 * once.c - the test actor of durable/once.py: what a kill -9 of the daemon
 * does to the sends of an init that runs again and to a request made by an
 * operation that runs again (docs/durability.md, "Delivery across a crash").
 *
 * The test decides when an operation ends: where the actor "holds", it
 * waits (filesystem path-exists, then a 20 ms sleep, again) for as long as
 * the file HOLD (relative to its filesystem grant) exists.  The test
 * creates HOLD before it starts the operation and removes it only after
 * the kill and the restart, so the kill always lands inside the operation,
 * on any machine and build, however slow.
 *
 * Its role is given by its initial state:
 *   "boss MANIFEST SINK HOLD"  (a supervisor, [supervision] in its manifest)
 *       init spawns a child from MANIFEST with the initial state "SINK HOLD";
 *       its state becomes "boss CHILD SINK HOLD".  A one-way message
 *       "crash" is sent on to the child (which fails, and is restarted by
 *       the strategy); "ask" makes a request to SINK, then holds.
 *   "guard MANIFEST SINK HOLD"  (a supervisor without [supervision])
 *       the same, but a failure of its child is decided by its
 *       handle-child-error: it holds, then restarts the child.
 *   "big"  a state of any size: "grow N" makes it N MiB (over 64 MiB of
 *       event data: recorded by content reference); a request is answered
 *       with the state's length and a checksum.
 *   "chan HOLD"  accepts every channel; a channel message logs, then holds.
 *   "defer"  defers every request (handle-request answers none and adds
 *       the request id to its state, "defer ID ID ..."); a one-way
 *       "answer" answers each of them (respond-to-request "answered"),
 *       logs how each went ("respond ID ok" / "respond ID failed: ...")
 *       and forgets them.
 *   "req TARGET"  a one-way "ask" makes a request "q" to TARGET and logs
 *       the answer ("answer: ...").
 *   "SINK HOLD"  (the child)
 *       init sends "init" to SINK, then holds; "crash" fails.
 */
#include "theater.h"

/* Wait while the file `hold` exists. */
static ta_status hold(ta_str path)
{
    bool held = true;
    ta_status st = ta_fs_path_exists(path, &held);
    while (st.ok && held) {
        st = ta_sleep(20);
        if (st.ok)
            st = ta_fs_path_exists(path, &held);
    }
    return st;
}

/* The next space-separated word of `s` from *at. */
static ta_str word(ta_bytes s, size_t *at)
{
    size_t i = *at, j;
    while (i < s.len && s.ptr[i] == ' ')
        i++;
    j = i;
    while (j < s.len && s.ptr[j] != ' ')
        j++;
    *at = j;
    return (ta_str){(const char *)s.ptr + i, j - i};
}

/* "boss ..." or "guard ...": a supervisor. */
static bool is_boss(const ta_state *state)
{
    return state->some &&
           ((state->val.len > 5 && ta_bytes_eq_c(ta_bytes_scoped(state->val.ptr, 5), "boss ")) ||
            (state->val.len > 6 && ta_bytes_eq_c(ta_bytes_scoped(state->val.ptr, 6), "guard ")));
}

static bool is_big(const ta_state *state)
{
    return state->some && state->val.len >= 3 && state->val.ptr[0] == 'b' &&
           state->val.ptr[1] == 'i' && state->val.ptr[2] == 'g';
}

static bool is_defer(const ta_state *state)
{
    return state->some && state->val.len >= 5 &&
           ta_bytes_eq_c(ta_bytes_scoped(state->val.ptr, 5), "defer");
}

static bool is_req(const ta_state *state)
{
    return state->some && state->val.len > 4 &&
           ta_bytes_eq_c(ta_bytes_scoped(state->val.ptr, 4), "req ");
}

/* "answer": every deferred request answered, each outcome logged. */
static ta_status answer_all(ta_state *state)
{
    size_t at = 5;
    ta_str id;
    while ((id = word(state->val, &at)).len > 0) {
        ta_status st = ta_respond_to_request(id, TA_BYTES("answered"));
        if (st.ok)
            ta_logf("respond %.*s ok", TA_FMT(id));
        else
            ta_logf("respond %.*s failed: %.*s", TA_FMT(id), TA_FMT(st.err));
    }
    ta_state_set(state, "defer", 5);
    return TA_OK;
}

static bool is_chan(const ta_state *state)
{
    return state->some && state->val.len > 5 &&
           ta_bytes_eq_c(ta_bytes_scoped(state->val.ptr, 5), "chan ");
}

static ta_status once_init(ta_state *state, ta_str actor_id)
{
    size_t at = 0;
    (void)actor_id;
    if (!state->some)
        return ta_fail("once: no initial state");
    if (is_big(state) || is_chan(state) || is_defer(state) || is_req(state))
        return TA_OK;
    if (is_boss(state)) {
        ta_str role = word(state->val, &at), manifest = word(state->val, &at);
        ta_str target = word(state->val, &at), held = word(state->val, &at), child;
        ta_str init = ta_format("%.*s %.*s", TA_FMT(target), TA_FMT(held));
        ta_status st = ta_spawn(manifest, ta_some(ta_str_bytes(init)), &child);
        if (!st.ok)
            return st;
        ta_str next = ta_format("%.*s %.*s %.*s %.*s", TA_FMT(role), TA_FMT(child), TA_FMT(target),
                                TA_FMT(held));
        ta_state_set(state, next.ptr, next.len);
        return TA_OK;
    }
    ta_str target = word(state->val, &at), held = word(state->val, &at);
    if (held.len == 0)
        return ta_fail("once: the initial state must be \"SINK HOLD\"");
    ta_status st = ta_send(target, TA_BYTES("init"));
    if (st.ok)
        st = hold(held);
    if (!st.ok)
        return st;
    ta_logf("init sent to %.*s", TA_FMT(target));
    return TA_OK;
}

static ta_status once_send(ta_state *state, ta_bytes msg)
{
    size_t at = 0;
    uint64_t n = 0;
    ta_bytes answer;
    if (is_big(state) && msg.len > 5 && ta_bytes_eq_c(ta_bytes_scoped(msg.ptr, 5), "grow ")) {
        if (!ta_parse_u64(ta_bytes_scoped(msg.ptr + 5, msg.len - 5), &n) || n > 512)
            return ta_fail("once: grow N (MiB, at most 512)");
        size_t len = (size_t)n << 20;
        uint8_t *big = ta_alloc(len);
        if (big == NULL)
            return ta_fail("once: out of memory");
        __builtin_memcpy(big, "big", 3);
        for (size_t i = 3; i < len; i++)
            big[i] = (uint8_t)(i * 131u >> 7);
        ta_state_set(state, big, len);
        ta_free(big);
        return TA_OK;
    }
    if (is_defer(state))
        return ta_bytes_eq_c(msg, "answer") ? answer_all(state) : TA_OK;
    if (is_req(state) && ta_bytes_eq_c(msg, "ask")) {
        ta_str target = {(const char *)state->val.ptr + 4, state->val.len - 4};
        ta_status st = ta_request(target, TA_BYTES("q"), &answer);
        if (!st.ok)
            return st;
        ta_logf("answer: %.*s", TA_FMT(answer));
        return TA_OK;
    }
    if (!is_boss(state))
        return ta_bytes_eq_c(msg, "crash") ? ta_fail("once: told to crash") : TA_OK;
    ta_str role = word(state->val, &at), child = word(state->val, &at);
    ta_str target = word(state->val, &at), held = word(state->val, &at);
    (void)role;
    if (ta_bytes_eq_c(msg, "crash"))
        return ta_send(child, TA_BYTES("crash"));
    if (ta_bytes_eq_c(msg, "ask")) {
        ta_status st = ta_request(target, TA_BYTES("count"), &answer);
        if (st.ok)
            st = hold(held);
        if (!st.ok)
            return st;
        ta_logf("asked %.*s: %.*s", TA_FMT(target), TA_FMT(answer));
    }
    return TA_OK;
}

/* A guard (no [supervision]) decides itself: it holds (so that the kill
 * cuts the decision), then restarts the child. */
static ta_status once_child_error(ta_state *state, ta_str child_id, ta_actor_error error)
{
    size_t at = 0;
    (void)error;
    if (!is_boss(state))
        return TA_OK;
    ta_str role = word(state->val, &at), child = word(state->val, &at);
    ta_str target = word(state->val, &at), held = word(state->val, &at);
    (void)child;
    (void)target;
    if (!ta_bytes_eq_c(ta_str_bytes(role), "guard"))
        return TA_OK; /* a boss has its strategy */
    ta_status st = hold(held);
    if (!st.ok)
        return st;
    return ta_restart_child(child_id);
}

static ta_status once_channel_open(ta_state *state, ta_str channel_id, ta_bytes msg,
                                   ta_channel_accept *accept)
{
    (void)channel_id;
    (void)msg;
    accept->accepted = is_chan(state);
    return TA_OK;
}

static ta_status once_channel_message(ta_state *state, ta_str channel_id, ta_bytes msg)
{
    (void)channel_id;
    if (!is_chan(state))
        return TA_OK;
    ta_logf("channel message %.*s", TA_FMT(msg)); /* on the chain before the hold */
    return hold((ta_str){(const char *)state->val.ptr + 5, state->val.len - 5});
}

/* A request is answered "ok" once what came before it is handled. */
static ta_status once_request(ta_state *state, ta_str request_id, ta_bytes msg,
                              ta_opt_bytes *response)
{
    (void)msg;
    if (is_defer(state)) { /* answered later, by "answer" */
        ta_str st = ta_format("%.*s %.*s", (int)state->val.len, (const char *)state->val.ptr,
                              TA_FMT(request_id));
        ta_state_set(state, st.ptr, st.len);
        return TA_OK;
    }
    if (is_big(state)) {
        uint32_t sum = 0;
        for (size_t i = 0; i < state->val.len; i++)
            sum = sum * 31u + state->val.ptr[i];
        ta_str r = ta_format("%zu %08x", state->val.len, sum);
        *response = ta_some(ta_str_bytes(r));
        return TA_OK;
    }
    *response = ta_some(TA_BYTES("ok"));
    return TA_OK;
}

TA_ACTOR_INIT(once_init)
TA_HANDLE_SEND(once_send)
TA_HANDLE_REQUEST(once_request)
TA_HANDLE_CHILD_ERROR(once_child_error)
TA_HANDLE_CHANNEL_OPEN(once_channel_open)
TA_HANDLE_CHANNEL_MESSAGE(once_channel_message)
