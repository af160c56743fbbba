/*
 * outputs.c - the test actor of cli/replay_outputs.sh: host calls whose
 * recorded output a replay must read back in its special forms
 * (docs/replay.md).  Its state is the number of messages handled.
 *
 *   "chain"      runtime.get-chain (recorded as its length only): logs how
 *                many events it got, the last one's type and a checksum of
 *                every hash and data byte (so a replay that answers with
 *                other events diverges at the log);
 *   "big"        16 random-range calls over the whole u64 range (recorded
 *                numbers above 2^63 - 1): logs each value;
 *   "read PATH"  filesystem.read-file (a file over 8 MiB is recorded as
 *                its size only): logs the length;
 *   "kid PATH"   supervisor.spawn of the manifest PATH, then
 *                supervisor.get-child-events of that child (recorded as the
 *                child's number of events): logs the count.
 *   "rep N"      N rounds of: filesystem.read-file of "rep" twice (the
 *                same output as the read before, or another after a write),
 *                runtime.log "tick" twice, and every fourth round a write of
 *                "rep" (another content of the same length); logs a
 *                checksum of every byte read: the repeated host calls a
 *                replay answers without reading them again (docs/replay.md).
 *                Built with OUTPUTS_VARIANT (outputs_variant.c), round 5
 *                logs "tick" and then "tock".
 */
#include "theater.h"

static ta_status outputs_send(ta_state *state, ta_bytes msg)
{
    uint64_t count = 0;
    if (state->some && !ta_parse_u64(state->val, &count))
        return ta_fail("outputs: corrupt state");
    if (ta_bytes_eq_c(msg, "chain")) {
        ta_chain_event_list l = ta_get_chain();
        uint32_t sum = 0;
        for (size_t i = 0; i < l.len; i++) {
            for (size_t k = 0; k < l.items[i].hash.len; k++)
                sum = sum * 31u + l.items[i].hash.ptr[k];
            for (size_t k = 0; k < l.items[i].data.len; k++)
                sum = sum * 31u + l.items[i].data.ptr[k];
            sum += (uint32_t)l.items[i].timestamp;
        }
        ta_str last = l.len ? l.items[l.len - 1].event_type : TA_STR("none");
        ta_logf("chain: %zu events, last %.*s, sum %08x", l.len, TA_FMT(last), sum);
    } else if (ta_bytes_eq_c(msg, "big")) {
        for (int i = 0; i < 16; i++) {
            uint64_t x;
            ta_status st = ta_random_range(0, UINT64_MAX, &x);
            if (!st.ok)
                return st;
            ta_logf("random %llu", (unsigned long long)x);
        }
    } else if (msg.len > 5 && ta_bytes_eq_c(ta_bytes_scoped(msg.ptr, 5), "read ")) {
        ta_bytes content;
        ta_status st = ta_fs_read_file((ta_str){(const char *)msg.ptr + 5, msg.len - 5}, &content);
        if (!st.ok)
            return st;
        ta_logf("read %zu bytes", content.len);
    } else if (msg.len > 4 && ta_bytes_eq_c(ta_bytes_scoped(msg.ptr, 4), "kid ")) {
        ta_str kid;
        ta_chain_event_list l;
        ta_status st = ta_spawn((ta_str){(const char *)msg.ptr + 4, msg.len - 4}, TA_NONE, &kid);
        if (st.ok)
            st = ta_get_child_events(kid, &l);
        if (!st.ok)
            return st;
        ta_logf("kid: %zu events", l.len);
    } else if (msg.len > 4 && ta_bytes_eq_c(ta_bytes_scoped(msg.ptr, 4), "rep ")) {
        uint64_t n = 0;
        uint32_t sum = 0;
        if (!ta_parse_u64(ta_bytes_scoped(msg.ptr + 4, msg.len - 4), &n))
            return ta_fail("outputs: rep N");
        for (uint64_t i = 0; i < n; i++) {
            ta_status st = TA_OK;
            for (int r = 0; r < 2; r++) {
                ta_bytes content;
                st = ta_fs_read_file(TA_STR("rep"), &content);
                if (!st.ok)
                    return st;
                for (size_t k = 0; k < content.len; k++)
                    sum = sum * 31u + content.ptr[k];
            }
            ta_log("tick");
#ifdef OUTPUTS_VARIANT
            ta_log(i == 5 ? "tock" : "tick");
#else
            ta_log("tick");
#endif
            if (i % 4 == 3) {
                char c[8];
                for (int k = 0; k < 8; k++)
                    c[k] = (char)('a' + (i / 4 + (uint64_t)k) % 26);
                st = ta_fs_write_file(TA_STR("rep"), (ta_str){c, sizeof c});
                if (!st.ok)
                    return st;
            }
        }
        ta_logf("rep: %llu rounds, sum %08x", (unsigned long long)n, sum);
    }
    ta_str text = ta_format("%llu", (unsigned long long)(count + 1));
    ta_state_set(state, text.ptr, text.len);
    return TA_OK;
}

TA_HANDLE_SEND(outputs_send)
