/*
 * probe.c - a test actor (C guest SDK) that calls the host functions on
 * command, so that tests/integration/runtime/test_handlers.c can check every
 * host function of ABI.md, including its errors.
 *
 * A request's message is a command, words separated by single spaces; the
 * response is the outcome as text: "ok[ <value>]" or "err <message>".
 * A command "defer" is answered later: its request id is kept in the state
 * and "respond-last <text>" answers it.  One-way messages "record <text>"
 * append to a log line.  Channels: every open is accepted with message
 * "welcome" (after N ms when the first message is "slow N"), except a first
 * message "refuse" (refused) or "trap" (a trap); channel messages are logged as
 * "chan-msg <text>" (but "trap" traps), closes as "chan-closed".  "slabels STORE" lists a store's
 * labels, "srmlabel STORE LABEL" removes one, "store-on STORE HASH" makes every call that names
 * a store on STORE.  "trap" traps (unreachable) two named functions deep,
 * for the backtraces of tests/integration/runtime/test_failures.c; so does init, given the
 * initial state "trap".  "bigstate N" sets a state
 * of N bytes; "described" counts the chain's events with a description.
 */
#include "theater.h"

/* The next space-separated word of *rest (the last one takes the rest). */
static ta_str word(ta_str *rest, bool last)
{
    size_t n = 0;
    if (last)
        n = rest->len;
    else
        while (n < rest->len && rest->ptr[n] != ' ')
            n++;
    ta_str w = {rest->ptr, n};
    size_t skip = n < rest->len ? n + 1 : n;
    rest->ptr += skip;
    rest->len -= skip;
    return w;
}

static ta_str outcome(ta_status st, ta_str value)
{
    if (!st.ok)
        return ta_format("err %.*s", TA_FMT(st.err));
    if (value.len == 0)
        return ta_str_c("ok");
    return ta_format("ok %.*s", TA_FMT(value));
}

static ta_str join(ta_str_list l)
{
    size_t n = 0, i, o = 0;
    for (i = 0; i < l.len; i++)
        n += l.items[i].len + 1;
    char *buf = ta_scoped_alloc(n + 1);
    for (i = 0; i < l.len; i++) {
        if (i)
            buf[o++] = ' ';
        for (size_t k = 0; k < l.items[i].len; k++)
            buf[o++] = l.items[i].ptr[k];
    }
    return (ta_str){buf, o};
}

static ta_str hex(ta_bytes b)
{
    static const char d[] = "0123456789abcdef";
    char *buf = ta_scoped_alloc(b.len * 2 + 1);
    for (size_t i = 0; i < b.len; i++) {
        buf[2 * i] = d[b.ptr[i] >> 4];
        buf[2 * i + 1] = d[b.ptr[i] & 15];
    }
    return (ta_str){buf, b.len * 2};
}

/* The fourteen store calls in a row, one line each. */
static ta_str store_all(void)
{
    ta_str sid, out;
    ta_content_ref r1, r2, r3, r4;
    ta_bytes got;
    bool ex;
    ta_opt_content_ref lr;
    ta_str_list labels;
    ta_content_ref_list refs;
    uint64_t size;
    ta_status st;

    st = ta_store_new(&sid);
    if (!st.ok)
        return outcome(st, sid);
    out = ta_format("new ok");
    st = ta_store_store(sid, TA_BYTES("hello"), &r1);
    out = ta_format("%.*s\nstore %.*s", TA_FMT(out), TA_FMT(outcome(st, r1.hash)));
    st = ta_store_get(sid, r1, &got);
    out = ta_format("%.*s\nget %.*s", TA_FMT(out), TA_FMT(outcome(st, ta_bytes_str(got))));
    st = ta_store_exists(sid, r1, &ex);
    out = ta_format("%.*s\nexists %.*s", TA_FMT(out),
                    TA_FMT(outcome(st, ta_str_c(ex ? "true" : "false"))));
    st = ta_store_label(sid, TA_STR("greeting"), r1);
    out = ta_format("%.*s\nlabel %.*s", TA_FMT(out), TA_FMT(outcome(st, TA_STR(""))));
    st = ta_store_get_by_label(sid, TA_STR("greeting"), &lr);
    out = ta_format("%.*s\nget-by-label %.*s", TA_FMT(out),
                    TA_FMT(outcome(st, lr.some ? lr.val.hash : TA_STR("none"))));
    st = ta_store_store_at_label(sid, TA_STR("other"), TA_BYTES("world"), &r2);
    out = ta_format("%.*s\nstore-at-label %.*s", TA_FMT(out), TA_FMT(outcome(st, r2.hash)));
    st = ta_store_replace_content_at_label(sid, TA_STR("other"), TA_BYTES("world!"), &r3);
    out =
        ta_format("%.*s\nreplace-content-at-label %.*s", TA_FMT(out), TA_FMT(outcome(st, r3.hash)));
    st = ta_store_replace_at_label(sid, TA_STR("other"), r1);
    out = ta_format("%.*s\nreplace-at-label %.*s", TA_FMT(out), TA_FMT(outcome(st, TA_STR(""))));
    st = ta_store_list_labels(sid, &labels);
    out = ta_format("%.*s\nlist-labels %.*s", TA_FMT(out), TA_FMT(outcome(st, join(labels))));
    st = ta_store_list_all_content(sid, &refs);
    out = ta_format("%.*s\nlist-all-content %.*s", TA_FMT(out),
                    TA_FMT(outcome(st, ta_format("%zu", refs.len))));
    st = ta_store_calculate_total_size(sid, &size);
    out = ta_format("%.*s\ncalculate-total-size %.*s", TA_FMT(out),
                    TA_FMT(outcome(st, ta_format("%llu", (unsigned long long)size))));
    st = ta_store_remove_from_label(sid, TA_STR("other"), r3);
    out = ta_format("%.*s\nremove-from-label-wrong %.*s", TA_FMT(out),
                    TA_FMT(outcome(st, TA_STR(""))));
    st = ta_store_remove_from_label(sid, TA_STR("other"), r1);
    out = ta_format("%.*s\nremove-from-label %.*s", TA_FMT(out), TA_FMT(outcome(st, TA_STR(""))));
    st = ta_store_remove_label(sid, TA_STR("greeting"));
    out = ta_format("%.*s\nremove-label %.*s", TA_FMT(out), TA_FMT(outcome(st, TA_STR(""))));
    st = ta_store_remove_label(sid, TA_STR("greeting"));
    out = ta_format("%.*s\nremove-label-again %.*s", TA_FMT(out), TA_FMT(outcome(st, TA_STR(""))));
    r4.hash = TA_STR("0000000000000000000000000000000000000000000000000000000000000000");
    st = ta_store_get(sid, r4, &got);
    out = ta_format("%.*s\nget-missing %.*s", TA_FMT(out), TA_FMT(outcome(st, TA_STR(""))));
    st = ta_store_store(TA_STR("no-such-store"), TA_BYTES("x"), &r4);
    out = ta_format("%.*s\nstore-bad-id %.*s", TA_FMT(out), TA_FMT(outcome(st, TA_STR(""))));
    return out;
}

/* The thirteen calls that name a store, on store `sid` with content
 * reference `hash` (label "l"), one line each: what an actor gets from a
 * store it names, e.g. the runtime's own. */
static ta_str store_on(ta_str sid, ta_str hash)
{
    ta_content_ref r = {hash}, o = {{0, 0}};
    ta_bytes got = {0, 0};
    bool ex = false;
    ta_opt_content_ref lr = {0};
    ta_str_list labels = {0, 0};
    ta_content_ref_list refs = {0, 0};
    uint64_t size = 0;
    ta_str out;
    ta_status st;

    st = ta_store_store(sid, TA_BYTES("x"), &o);
    out = ta_format("store %.*s", TA_FMT(outcome(st, o.hash)));
    st = ta_store_get(sid, r, &got);
    out = ta_format("%.*s\nget %.*s", TA_FMT(out), TA_FMT(outcome(st, hex(got))));
    st = ta_store_exists(sid, r, &ex);
    out = ta_format("%.*s\nexists %.*s", TA_FMT(out),
                    TA_FMT(outcome(st, ta_str_c(ex ? "true" : "false"))));
    st = ta_store_label(sid, TA_STR("l"), r);
    out = ta_format("%.*s\nlabel %.*s", TA_FMT(out), TA_FMT(outcome(st, TA_STR(""))));
    st = ta_store_get_by_label(sid, TA_STR("l"), &lr);
    out = ta_format("%.*s\nget-by-label %.*s", TA_FMT(out),
                    TA_FMT(outcome(st, lr.some ? lr.val.hash : TA_STR("none"))));
    st = ta_store_remove_label(sid, TA_STR("l"));
    out = ta_format("%.*s\nremove-label %.*s", TA_FMT(out), TA_FMT(outcome(st, TA_STR(""))));
    st = ta_store_remove_from_label(sid, TA_STR("l"), r);
    out = ta_format("%.*s\nremove-from-label %.*s", TA_FMT(out), TA_FMT(outcome(st, TA_STR(""))));
    st = ta_store_store_at_label(sid, TA_STR("l"), TA_BYTES("y"), &o);
    out = ta_format("%.*s\nstore-at-label %.*s", TA_FMT(out), TA_FMT(outcome(st, o.hash)));
    st = ta_store_replace_content_at_label(sid, TA_STR("l"), TA_BYTES("z"), &o);
    out =
        ta_format("%.*s\nreplace-content-at-label %.*s", TA_FMT(out), TA_FMT(outcome(st, o.hash)));
    st = ta_store_replace_at_label(sid, TA_STR("l"), r);
    out = ta_format("%.*s\nreplace-at-label %.*s", TA_FMT(out), TA_FMT(outcome(st, TA_STR(""))));
    st = ta_store_list_labels(sid, &labels);
    out = ta_format("%.*s\nlist-labels %.*s", TA_FMT(out), TA_FMT(outcome(st, join(labels))));
    st = ta_store_list_all_content(sid, &refs);
    out = ta_format("%.*s\nlist-all-content %.*s", TA_FMT(out),
                    TA_FMT(outcome(st, ta_format("%zu", refs.len))));
    st = ta_store_calculate_total_size(sid, &size);
    out = ta_format("%.*s\ncalculate-total-size %.*s", TA_FMT(out),
                    TA_FMT(outcome(st, ta_format("%llu", (unsigned long long)size))));
    return out;
}

__attribute__((noinline)) static void probe_trap_here(void)
{
    __builtin_trap();
}

__attribute__((noinline)) static void probe_trap_caller(volatile int depth)
{
    if (depth > 0)
        probe_trap_here();
}

static ta_str run(ta_state *state, ta_str request_id, ta_str cmd, bool *defer)
{
    ta_str rest = cmd, op = word(&rest, false), a, b, v = {0, 0};
    ta_status st = TA_OK;

    if (ta_str_eq_c(op, "log")) {
        ta_log_str(rest);
    } else if (ta_str_eq_c(op, "trap")) {
        probe_trap_caller(1);
    } else if (ta_str_eq_c(op, "chain")) {
        ta_chain_event_list l = ta_get_chain();
        if (l.len == 0)
            return ta_str_c("err empty chain");
        ta_chain_event *f = &l.items[0], *z = &l.items[l.len - 1];
        bool linked = true;
        for (size_t i = 1; i < l.len; i++)
            linked =
                linked && l.items[i].parent_hash.some && l.items[i].parent_hash.val.len == 32 &&
                __builtin_memcmp(l.items[i].parent_hash.val.ptr, l.items[i - 1].hash.ptr, 32) == 0;
        v = ta_format("%zu %.*s %.*s %s %s %s", l.len, TA_FMT(f->event_type), TA_FMT(z->event_type),
                      f->parent_hash.some ? "parent" : "root",
                      f->hash.len == 32 ? "hash32" : "badhash", linked ? "linked" : "unlinked");
    } else if (ta_str_eq_c(op, "described")) {
        /* the events that carry a description: how many, and the last one's */
        ta_chain_event_list l = ta_get_chain();
        size_t n = 0;
        ta_str last = ta_str_c("none");
        for (size_t i = 0; i < l.len; i++)
            if (l.items[i].description.some)
                n++, last = l.items[i].description.val;
        v = ta_format("%zu %.*s", n, TA_FMT(last));
    } else if (ta_str_eq_c(op, "bigstate")) {
        /* a state of N bytes (a = N): its event is recorded by content reference
         * when its JSON is over the chain's inline limit */
        size_t n = 0;
        a = word(&rest, false);
        for (size_t i = 0; i < a.len; i++)
            n = n * 10 + (size_t)(a.ptr[i] - '0');
        uint8_t *buf = ta_scoped_alloc(n ? n : 1);
        for (size_t i = 0; i < n; i++)
            buf[i] = (uint8_t)i;
        ta_state_set(state, buf, n);
    } else if (ta_str_eq_c(op, "shutdown")) {
        st = ta_shutdown(ta_some(ta_str_bytes(rest)));
    } else if (ta_str_eq_c(op, "send")) {
        a = word(&rest, false);
        st = ta_send(a, ta_str_bytes(rest));
    } else if (ta_str_eq_c(op, "request")) {
        ta_bytes resp = {0, 0};
        a = word(&rest, false);
        st = ta_request(a, ta_str_bytes(rest), &resp);
        v = ta_bytes_str(resp);
    } else if (ta_str_eq_c(op, "open")) {
        a = word(&rest, false);
        st = ta_open_channel(a, ta_str_bytes(rest), &v);
    } else if (ta_str_eq_c(op, "chsend")) {
        a = word(&rest, false);
        st = ta_send_on_channel(a, ta_str_bytes(rest));
    } else if (ta_str_eq_c(op, "chclose")) {
        st = ta_close_channel(rest);
    } else if (ta_str_eq_c(op, "outstanding")) {
        v = join(ta_list_outstanding_requests());
        if (v.len == 0)
            v = ta_str_c("none");
    } else if (ta_str_eq_c(op, "defer")) {
        ta_state_set(state, request_id.ptr, request_id.len);
        *defer = true;
        return v;
    } else if (ta_str_eq_c(op, "respond-last")) {
        if (!state->some)
            return ta_str_c("err nothing deferred");
        st = ta_respond_to_request(ta_bytes_str(state->val), ta_str_bytes(rest));
    } else if (ta_str_eq_c(op, "respond-sleep")) {
        /* "respond-sleep MS TEXT": answer the deferred request, then sleep */
        uint64_t ms = 0;
        if (!state->some)
            return ta_str_c("err nothing deferred");
        a = word(&rest, false);
        ta_parse_u64(ta_str_bytes(a), &ms);
        st = ta_respond_to_request(ta_bytes_str(state->val), ta_str_bytes(rest));
        if (st.ok)
            st = ta_sleep(ms);
    } else if (ta_str_eq_c(op, "respond")) {
        a = word(&rest, false);
        st = ta_respond_to_request(a, ta_str_bytes(rest));
    } else if (ta_str_eq_c(op, "cancel-last")) {
        if (!state->some)
            return ta_str_c("err nothing deferred");
        st = ta_cancel_request(ta_bytes_str(state->val));
    } else if (ta_str_eq_c(op, "cancel")) {
        st = ta_cancel_request(rest);
    } else if (ta_str_eq_c(op, "spawn")) {
        st = ta_spawn(rest, TA_NONE, &v);
    } else if (ta_str_eq_c(op, "resume")) {
        a = word(&rest, false);
        st = ta_resume(a, ta_some(ta_str_bytes(rest)), &v);
    } else if (ta_str_eq_c(op, "children")) {
        v = join(ta_list_children());
        if (v.len == 0)
            v = ta_str_c("none");
    } else if (ta_str_eq_c(op, "stop-child")) {
        st = ta_stop_child(rest);
    } else if (ta_str_eq_c(op, "restart-child")) {
        st = ta_restart_child(rest);
    } else if (ta_str_eq_c(op, "child-state")) {
        ta_opt_bytes s = TA_NONE;
        st = ta_get_child_state(rest, &s);
        v = s.some ? ta_bytes_str(s.val) : ta_str_c("none");
    } else if (ta_str_eq_c(op, "child-events")) {
        ta_chain_event_list l = {0, 0};
        st = ta_get_child_events(rest, &l);
        if (st.ok)
            v = ta_format("%zu %.*s", l.len, TA_FMT(l.items[0].event_type));
    } else if (ta_str_eq_c(op, "store")) {
        return store_all();
    } else if (ta_str_eq_c(op, "store-on")) {
        a = word(&rest, false);
        return store_on(a, rest);
    } else if (ta_str_eq_c(op, "slabels")) {
        ta_str_list l = {0, 0};
        st = ta_store_list_labels(rest, &l);
        v = join(l);
        if (st.ok && v.len == 0)
            v = ta_str_c("none");
    } else if (ta_str_eq_c(op, "srmlabel")) {
        a = word(&rest, false);
        st = ta_store_remove_label(a, rest);
    } else if (ta_str_eq_c(op, "now")) {
        v = ta_format("%llu", (unsigned long long)ta_now());
    } else if (ta_str_eq_c(op, "sleep")) {
        uint64_t ms = 0;
        ta_parse_u64(ta_str_bytes(rest), &ms);
        uint64_t t0 = ta_now();
        st = ta_sleep(ms);
        v = ta_format("%llu", (unsigned long long)(ta_now() - t0));
    } else if (ta_str_eq_c(op, "deadline")) {
        uint64_t ms = 0;
        ta_parse_u64(ta_str_bytes(rest), &ms);
        uint64_t t0 = ta_now();
        st = ta_deadline(t0 + ms);
        v = ta_format("%llu", (unsigned long long)(ta_now() - t0));
    } else if (ta_str_eq_c(op, "rbytes")) {
        uint64_t n = 0;
        ta_bytes bytes = {0, 0};
        ta_parse_u64(ta_str_bytes(rest), &n);
        st = ta_random_bytes((uint32_t)n, &bytes);
        v = hex(bytes);
    } else if (ta_str_eq_c(op, "rrange")) {
        uint64_t lo = 0, hi = 0, x = 0;
        a = word(&rest, false);
        ta_parse_u64(ta_str_bytes(a), &lo);
        ta_parse_u64(ta_str_bytes(rest), &hi);
        st = ta_random_range(lo, hi, &x);
        v = ta_format("%llu", (unsigned long long)x);
    } else if (ta_str_eq_c(op, "rfloat")) {
        double d = -1;
        st = ta_random_float(&d);
        v = ta_format("%s", d >= 0 && d < 1 ? "in-range" : "out-of-range");
    } else if (ta_str_eq_c(op, "uuid")) {
        st = ta_generate_uuid(&v);
    } else if (ta_str_eq_c(op, "env")) {
        ta_opt_str s = ta_env_get_var(rest);
        v = s.some ? s.val : ta_str_c("none");
    } else if (ta_str_eq_c(op, "env-list")) {
        ta_env_var_list l = ta_env_list_vars();
        ta_str_list names = {ta_scoped_alloc(sizeof(ta_str) * (l.len + 1)), l.len};
        for (size_t i = 0; i < l.len; i++)
            names.items[i] =
                ta_format("%.*s=%.*s", TA_FMT(l.items[i].name), TA_FMT(l.items[i].value));
        v = join(names);
        if (v.len == 0)
            v = ta_str_c("none");
    } else if (ta_str_eq_c(op, "env-exists")) {
        v = ta_str_c(ta_env_exists(rest) ? "true" : "false");
    } else if (ta_str_eq_c(op, "fs")) {
        ta_str what = word(&rest, false), path = word(&rest, false);
        if (ta_str_eq_c(what, "read")) {
            ta_bytes c = {0, 0};
            st = ta_fs_read_file(path, &c);
            v = ta_bytes_str(c);
        } else if (ta_str_eq_c(what, "write")) {
            st = ta_fs_write_file(path, rest);
        } else if (ta_str_eq_c(what, "list")) {
            ta_str_list l = {0, 0};
            st = ta_fs_list_files(path, &l);
            v = join(l);
            if (st.ok && v.len == 0)
                v = ta_str_c("none");
        } else if (ta_str_eq_c(what, "rm")) {
            st = ta_fs_delete_file(path);
        } else if (ta_str_eq_c(what, "mkdir")) {
            st = ta_fs_create_dir(path);
        } else if (ta_str_eq_c(what, "rmdir")) {
            st = ta_fs_delete_dir(path);
        } else if (ta_str_eq_c(what, "exists")) {
            bool e = false;
            st = ta_fs_path_exists(path, &e);
            v = ta_str_c(e ? "true" : "false");
        }
    } else {
        (void)b;
        return ta_format("err unknown command %.*s", TA_FMT(op));
    }
    return outcome(st, v);
}

static ta_status probe_init(ta_state *state, ta_str actor_id)
{
    /* an initial state "trap" (or the JSON string "trap", as the API
     * passes it) makes init trap, two named functions deep */
    if (state->some && (ta_bytes_eq_c(state->val, "trap") || ta_bytes_eq_c(state->val, "\"trap\"")))
        probe_trap_caller(1);
    return TA_OK;
}

static ta_status probe_send(ta_state *state, ta_bytes msg)
{
    ta_logf("got %.*s", TA_FMT(msg));
    return TA_OK;
}

static ta_status probe_request(ta_state *state, ta_str request_id, ta_bytes msg,
                               ta_opt_bytes *response)
{
    bool defer = false;
    ta_str out = run(state, request_id, ta_bytes_str(msg), &defer);
    if (!defer)
        ta_opt_set(response, out.ptr, out.len);
    return TA_OK;
}

static ta_status probe_open(ta_state *state, ta_str channel_id, ta_bytes msg,
                            ta_channel_accept *accept)
{
    /* "slow N": answer after sleeping N ms (an open that outlives its
     * caller's timeout) */
    if (msg.len > 5 && ta_str_eq_c((ta_str){(const char *)msg.ptr, 5}, "slow ")) {
        uint64_t ms = 0;
        ta_parse_u64((ta_bytes){msg.ptr + 5, msg.len - 5}, &ms);
        ta_sleep(ms);
    }
    if (ta_bytes_eq_c(msg, "trap"))
        probe_trap_caller(1);
    accept->accepted = !ta_bytes_eq_c(msg, "refuse");
    accept->message = ta_some(accept->accepted ? TA_BYTES("welcome") : TA_BYTES("not now"));
    return TA_OK;
}

static ta_status probe_chan_msg(ta_state *state, ta_str channel_id, ta_bytes msg)
{
    if (ta_bytes_eq_c(msg, "trap"))
        probe_trap_caller(1);
    ta_logf("chan-msg %.*s", TA_FMT(msg));
    return TA_OK;
}

static ta_status probe_chan_close(ta_state *state, ta_str channel_id)
{
    ta_log("chan-closed");
    return TA_OK;
}

TA_ACTOR_INIT(probe_init)
TA_HANDLE_SEND(probe_send)
TA_HANDLE_REQUEST(probe_request)
TA_HANDLE_CHANNEL_OPEN(probe_open)
TA_HANDLE_CHANNEL_MESSAGE(probe_chan_msg)
TA_HANDLE_CHANNEL_CLOSE(probe_chan_close)
