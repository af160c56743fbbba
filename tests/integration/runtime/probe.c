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
 * "welcome"; channel messages are logged as "chan-msg <text>", closes as
 * "chan-closed".  "trap" traps (unreachable) two named functions deep,
 * for the backtraces of tests/integration/runtime/test_failures.c.
 */
#include "theater.h"

/* The next space-separated word of *rest (the last one takes the rest). */
static th_str word(th_str *rest, bool last)
{
    size_t n = 0;
    if (last)
        n = rest->len;
    else
        while (n < rest->len && rest->ptr[n] != ' ')
            n++;
    th_str w = {rest->ptr, n};
    size_t skip = n < rest->len ? n + 1 : n;
    rest->ptr += skip;
    rest->len -= skip;
    return w;
}

static th_str outcome(th_status st, th_str value)
{
    if (!st.ok)
        return th_format("err %.*s", TH_FMT(st.err));
    if (value.len == 0)
        return th_str_c("ok");
    return th_format("ok %.*s", TH_FMT(value));
}

static th_str join(th_str_list l)
{
    size_t n = 0, i, o = 0;
    for (i = 0; i < l.len; i++)
        n += l.items[i].len + 1;
    char *buf = th_scoped_alloc(n + 1);
    for (i = 0; i < l.len; i++) {
        if (i)
            buf[o++] = ' ';
        for (size_t k = 0; k < l.items[i].len; k++)
            buf[o++] = l.items[i].ptr[k];
    }
    return (th_str){buf, o};
}

static th_str hex(th_bytes b)
{
    static const char d[] = "0123456789abcdef";
    char *buf = th_scoped_alloc(b.len * 2 + 1);
    for (size_t i = 0; i < b.len; i++) {
        buf[2 * i] = d[b.ptr[i] >> 4];
        buf[2 * i + 1] = d[b.ptr[i] & 15];
    }
    return (th_str){buf, b.len * 2};
}

/* The fourteen store calls in a row, one line each. */
static th_str store_all(void)
{
    th_str sid, out;
    th_content_ref r1, r2, r3, r4;
    th_bytes got;
    bool ex;
    th_opt_content_ref lr;
    th_str_list labels;
    th_content_ref_list refs;
    uint64_t size;
    th_status st;

    st = th_store_new(&sid);
    if (!st.ok)
        return outcome(st, sid);
    out = th_format("new ok");
    st = th_store_store(sid, TH_BYTES("hello"), &r1);
    out = th_format("%.*s\nstore %.*s", TH_FMT(out), TH_FMT(outcome(st, r1.hash)));
    st = th_store_get(sid, r1, &got);
    out = th_format("%.*s\nget %.*s", TH_FMT(out), TH_FMT(outcome(st, th_bytes_str(got))));
    st = th_store_exists(sid, r1, &ex);
    out = th_format("%.*s\nexists %.*s", TH_FMT(out), TH_FMT(outcome(st, th_str_c(ex ? "true" : "false"))));
    st = th_store_label(sid, TH_STR("greeting"), r1);
    out = th_format("%.*s\nlabel %.*s", TH_FMT(out), TH_FMT(outcome(st, TH_STR(""))));
    st = th_store_get_by_label(sid, TH_STR("greeting"), &lr);
    out = th_format("%.*s\nget-by-label %.*s", TH_FMT(out),
                    TH_FMT(outcome(st, lr.some ? lr.val.hash : TH_STR("none"))));
    st = th_store_store_at_label(sid, TH_STR("other"), TH_BYTES("world"), &r2);
    out = th_format("%.*s\nstore-at-label %.*s", TH_FMT(out), TH_FMT(outcome(st, r2.hash)));
    st = th_store_replace_content_at_label(sid, TH_STR("other"), TH_BYTES("world!"), &r3);
    out = th_format("%.*s\nreplace-content-at-label %.*s", TH_FMT(out), TH_FMT(outcome(st, r3.hash)));
    st = th_store_replace_at_label(sid, TH_STR("other"), r1);
    out = th_format("%.*s\nreplace-at-label %.*s", TH_FMT(out), TH_FMT(outcome(st, TH_STR(""))));
    st = th_store_list_labels(sid, &labels);
    out = th_format("%.*s\nlist-labels %.*s", TH_FMT(out), TH_FMT(outcome(st, join(labels))));
    st = th_store_list_all_content(sid, &refs);
    out = th_format("%.*s\nlist-all-content %.*s", TH_FMT(out),
                    TH_FMT(outcome(st, th_format("%zu", refs.len))));
    st = th_store_calculate_total_size(sid, &size);
    out = th_format("%.*s\ncalculate-total-size %.*s", TH_FMT(out),
                    TH_FMT(outcome(st, th_format("%llu", (unsigned long long)size))));
    st = th_store_remove_from_label(sid, TH_STR("other"), r3);
    out = th_format("%.*s\nremove-from-label-wrong %.*s", TH_FMT(out), TH_FMT(outcome(st, TH_STR(""))));
    st = th_store_remove_from_label(sid, TH_STR("other"), r1);
    out = th_format("%.*s\nremove-from-label %.*s", TH_FMT(out), TH_FMT(outcome(st, TH_STR(""))));
    st = th_store_remove_label(sid, TH_STR("greeting"));
    out = th_format("%.*s\nremove-label %.*s", TH_FMT(out), TH_FMT(outcome(st, TH_STR(""))));
    st = th_store_remove_label(sid, TH_STR("greeting"));
    out = th_format("%.*s\nremove-label-again %.*s", TH_FMT(out), TH_FMT(outcome(st, TH_STR(""))));
    r4.hash = TH_STR("0000000000000000000000000000000000000000000000000000000000000000");
    st = th_store_get(sid, r4, &got);
    out = th_format("%.*s\nget-missing %.*s", TH_FMT(out), TH_FMT(outcome(st, TH_STR(""))));
    st = th_store_store(TH_STR("no-such-store"), TH_BYTES("x"), &r4);
    out = th_format("%.*s\nstore-bad-id %.*s", TH_FMT(out), TH_FMT(outcome(st, TH_STR(""))));
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

static th_str run(th_state *state, th_str request_id, th_str cmd, bool *defer)
{
    th_str rest = cmd, op = word(&rest, false), a, b, v = {0, 0};
    th_status st = TH_OK;

    if (th_str_eq_c(op, "log")) {
        th_log_str(rest);
    } else if (th_str_eq_c(op, "trap")) {
        probe_trap_caller(1);
    } else if (th_str_eq_c(op, "chain")) {
        th_chain_event_list l = th_get_chain();
        if (l.len == 0)
            return th_str_c("err empty chain");
        th_chain_event *f = &l.items[0], *z = &l.items[l.len - 1];
        bool linked = true;
        for (size_t i = 1; i < l.len; i++)
            linked = linked && l.items[i].parent_hash.some && l.items[i].parent_hash.val.len == 32 &&
                     __builtin_memcmp(l.items[i].parent_hash.val.ptr, l.items[i - 1].hash.ptr, 32) == 0;
        v = th_format("%zu %.*s %.*s %s %s %s", l.len, TH_FMT(f->event_type), TH_FMT(z->event_type),
                      f->parent_hash.some ? "parent" : "root", f->hash.len == 32 ? "hash32" : "badhash",
                      linked ? "linked" : "unlinked");
    } else if (th_str_eq_c(op, "shutdown")) {
        st = th_shutdown(th_some(th_str_bytes(rest)));
    } else if (th_str_eq_c(op, "send")) {
        a = word(&rest, false);
        st = th_send(a, th_str_bytes(rest));
    } else if (th_str_eq_c(op, "request")) {
        th_bytes resp = {0, 0};
        a = word(&rest, false);
        st = th_request(a, th_str_bytes(rest), &resp);
        v = th_bytes_str(resp);
    } else if (th_str_eq_c(op, "open")) {
        a = word(&rest, false);
        st = th_open_channel(a, th_str_bytes(rest), &v);
    } else if (th_str_eq_c(op, "chsend")) {
        a = word(&rest, false);
        st = th_send_on_channel(a, th_str_bytes(rest));
    } else if (th_str_eq_c(op, "chclose")) {
        st = th_close_channel(rest);
    } else if (th_str_eq_c(op, "outstanding")) {
        v = join(th_list_outstanding_requests());
        if (v.len == 0)
            v = th_str_c("none");
    } else if (th_str_eq_c(op, "defer")) {
        th_state_set(state, request_id.ptr, request_id.len);
        *defer = true;
        return v;
    } else if (th_str_eq_c(op, "respond-last")) {
        if (!state->some)
            return th_str_c("err nothing deferred");
        st = th_respond_to_request(th_bytes_str(state->val), th_str_bytes(rest));
    } else if (th_str_eq_c(op, "respond")) {
        a = word(&rest, false);
        st = th_respond_to_request(a, th_str_bytes(rest));
    } else if (th_str_eq_c(op, "cancel-last")) {
        if (!state->some)
            return th_str_c("err nothing deferred");
        st = th_cancel_request(th_bytes_str(state->val));
    } else if (th_str_eq_c(op, "cancel")) {
        st = th_cancel_request(rest);
    } else if (th_str_eq_c(op, "spawn")) {
        st = th_spawn(rest, TH_NONE, &v);
    } else if (th_str_eq_c(op, "resume")) {
        a = word(&rest, false);
        st = th_resume(a, th_some(th_str_bytes(rest)), &v);
    } else if (th_str_eq_c(op, "children")) {
        v = join(th_list_children());
        if (v.len == 0)
            v = th_str_c("none");
    } else if (th_str_eq_c(op, "stop-child")) {
        st = th_stop_child(rest);
    } else if (th_str_eq_c(op, "restart-child")) {
        st = th_restart_child(rest);
    } else if (th_str_eq_c(op, "child-state")) {
        th_opt_bytes s = TH_NONE;
        st = th_get_child_state(rest, &s);
        v = s.some ? th_bytes_str(s.val) : th_str_c("none");
    } else if (th_str_eq_c(op, "child-events")) {
        th_chain_event_list l = {0, 0};
        st = th_get_child_events(rest, &l);
        if (st.ok)
            v = th_format("%zu %.*s", l.len, TH_FMT(l.items[0].event_type));
    } else if (th_str_eq_c(op, "store")) {
        return store_all();
    } else if (th_str_eq_c(op, "now")) {
        v = th_format("%llu", (unsigned long long)th_now());
    } else if (th_str_eq_c(op, "sleep")) {
        uint64_t ms = 0;
        th_parse_u64(th_str_bytes(rest), &ms);
        uint64_t t0 = th_now();
        st = th_sleep(ms);
        v = th_format("%llu", (unsigned long long)(th_now() - t0));
    } else if (th_str_eq_c(op, "deadline")) {
        uint64_t ms = 0;
        th_parse_u64(th_str_bytes(rest), &ms);
        uint64_t t0 = th_now();
        st = th_deadline(t0 + ms);
        v = th_format("%llu", (unsigned long long)(th_now() - t0));
    } else if (th_str_eq_c(op, "rbytes")) {
        uint64_t n = 0;
        th_bytes bytes = {0, 0};
        th_parse_u64(th_str_bytes(rest), &n);
        st = th_random_bytes((uint32_t)n, &bytes);
        v = hex(bytes);
    } else if (th_str_eq_c(op, "rrange")) {
        uint64_t lo = 0, hi = 0, x = 0;
        a = word(&rest, false);
        th_parse_u64(th_str_bytes(a), &lo);
        th_parse_u64(th_str_bytes(rest), &hi);
        st = th_random_range(lo, hi, &x);
        v = th_format("%llu", (unsigned long long)x);
    } else if (th_str_eq_c(op, "rfloat")) {
        double d = -1;
        st = th_random_float(&d);
        v = th_format("%s", d >= 0 && d < 1 ? "in-range" : "out-of-range");
    } else if (th_str_eq_c(op, "uuid")) {
        st = th_generate_uuid(&v);
    } else if (th_str_eq_c(op, "env")) {
        th_opt_str s = th_env_get_var(rest);
        v = s.some ? s.val : th_str_c("none");
    } else if (th_str_eq_c(op, "env-list")) {
        th_env_var_list l = th_env_list_vars();
        th_str_list names = {th_scoped_alloc(sizeof(th_str) * (l.len + 1)), l.len};
        for (size_t i = 0; i < l.len; i++)
            names.items[i] = th_format("%.*s=%.*s", TH_FMT(l.items[i].name), TH_FMT(l.items[i].value));
        v = join(names);
        if (v.len == 0)
            v = th_str_c("none");
    } else if (th_str_eq_c(op, "env-exists")) {
        v = th_str_c(th_env_exists(rest) ? "true" : "false");
    } else if (th_str_eq_c(op, "fs")) {
        th_str what = word(&rest, false), path = word(&rest, false);
        if (th_str_eq_c(what, "read")) {
            th_bytes c = {0, 0};
            st = th_fs_read_file(path, &c);
            v = th_bytes_str(c);
        } else if (th_str_eq_c(what, "write")) {
            st = th_fs_write_file(path, rest);
        } else if (th_str_eq_c(what, "list")) {
            th_str_list l = {0, 0};
            st = th_fs_list_files(path, &l);
            v = join(l);
            if (st.ok && v.len == 0)
                v = th_str_c("none");
        } else if (th_str_eq_c(what, "rm")) {
            st = th_fs_delete_file(path);
        } else if (th_str_eq_c(what, "mkdir")) {
            st = th_fs_create_dir(path);
        } else if (th_str_eq_c(what, "rmdir")) {
            st = th_fs_delete_dir(path);
        } else if (th_str_eq_c(what, "exists")) {
            bool e = false;
            st = th_fs_path_exists(path, &e);
            v = th_str_c(e ? "true" : "false");
        }
    } else {
        (void)b;
        return th_format("err unknown command %.*s", TH_FMT(op));
    }
    return outcome(st, v);
}

static th_status probe_init(th_state *state, th_str actor_id)
{
    return TH_OK;
}

static th_status probe_send(th_state *state, th_bytes msg)
{
    th_logf("got %.*s", TH_FMT(msg));
    return TH_OK;
}

static th_status probe_request(th_state *state, th_str request_id, th_bytes msg, th_opt_bytes *response)
{
    bool defer = false;
    th_str out = run(state, request_id, th_bytes_str(msg), &defer);
    if (!defer)
        th_opt_set(response, out.ptr, out.len);
    return TH_OK;
}

static th_status probe_open(th_state *state, th_str channel_id, th_bytes msg, th_channel_accept *accept)
{
    accept->accepted = !th_bytes_eq_c(msg, "refuse");
    accept->message = th_some(TH_BYTES("welcome"));
    return TH_OK;
}

static th_status probe_chan_msg(th_state *state, th_str channel_id, th_bytes msg)
{
    th_logf("chan-msg %.*s", TH_FMT(msg));
    return TH_OK;
}

static th_status probe_chan_close(th_state *state, th_str channel_id)
{
    th_log("chan-closed");
    return TH_OK;
}

TH_ACTOR_INIT(probe_init)
TH_HANDLE_SEND(probe_send)
TH_HANDLE_REQUEST(probe_request)
TH_HANDLE_CHANNEL_OPEN(probe_open)
TH_HANDLE_CHANNEL_MESSAGE(probe_chan_msg)
TH_HANDLE_CHANNEL_CLOSE(probe_chan_close)
