/*
 * serve_probe.c - a test actor for the C guest SDK's http-framework
 * wrappers and http-handlers export macros (test_http_sdk.c): written with
 * the SDK only (theater.h), no generated glue, no export by hand.
 *
 * init makes a server on any free port with
 *   GET  /hello/{name}  "hello NAME #N" and x-count: N, N the number of
 *                       requests so far (the state, decimal text)
 *   *    /info          the server's get-server-info as JSON
 *   GET  /open          "open" (its middleware was added, then removed)
 *   *    /private/...   (the route /private/ then *) behind the "guard" middleware: x-key:
 * let-me-in passes with x-seen: guard added, anything else is refused with the body "no key";
 * answers "private: x-seen=VALUE" GET  /gone          added, then removed: no route /ws WebSocket:
 * "hi CONN PATH PROTOCOL" on connect (sent with send-websocket-message), a text T answered with
 *                       "got: T" and "len N", binary with its bytes reversed,
 *                       "bye" with a close, "close-me" by close-websocket,
 *                       "probe N" with send-websocket-message and close-websocket
 *                       on connection N, answered "send N: ok" or "send N: err
 *                       MESSAGE" and "close N: ..." likewise, "stop-server" by
 *                       stop-server of its server, "fail" by failing
 * and logs "serve_probe listening on port P". Before that it runs a second
 * server through its whole life (create, info, start, info, stop, info,
 * destroy, info) and logs what it saw as one "second server:" line.
 */
#include "theater.h"

static uint64_t server_id;
static uint64_t h_api, h_guard, h_ws;

static uint64_t count_of(const ta_state *state)
{
    uint64_t n = 0;
    if (state->some)
        ta_parse_u64(state->val, &n);
    return n;
}

static bool header(ta_http_request req, const char *name, ta_str *value)
{
    for (size_t i = 0; i < req.headers.len; i++)
        if (ta_str_eq_c(req.headers.items[i].name, name)) {
            *value = req.headers.items[i].value;
            return true;
        }
    return false;
}

/* ---- init ---- */

/* The second server's life, as one log line; fails at the first refusal. */
static ta_status second_server(void)
{
    ta_http_server_config cfg = {.has_port = true, .port = 0};
    ta_http_server_info a, b, c;
    uint64_t id;
    uint16_t port;

    ta_status st = ta_http_create_server(&cfg, &id);
    if (st.ok)
        st = ta_http_get_server_info(id, &a);
    if (st.ok)
        st = ta_http_start_server(id, &port);
    if (st.ok)
        st = ta_http_get_server_info(id, &b);
    if (st.ok)
        st = ta_http_stop_server(id);
    if (st.ok)
        st = ta_http_get_server_info(id, &c);
    if (st.ok)
        st = ta_http_destroy_server(id);
    if (!st.ok)
        return st;
    ta_http_server_info gone;
    ta_status after = ta_http_get_server_info(id, &gone);
    ta_logf("second server: new running=%d, started running=%d port=%s host=%.*s, "
            "stopped running=%d, destroyed info %s",
            a.running, b.running, b.port == port && port > 0 ? "match" : "differ", TA_FMT(b.host),
            c.running, after.ok ? "answers" : "refused");
    return TA_OK;
}

static ta_status probe_init(ta_state *state, ta_str actor_id)
{
    ta_http_server_config cfg = {0};
    ta_opt_u64 ws = {true, 0};
    uint64_t gone, mw;
    uint16_t port;

    ta_status st = second_server();
    if (st.ok)
        st = ta_http_register_handler(TA_STR("api"), &h_api);
    if (st.ok)
        st = ta_http_register_handler(TA_STR("guard"), &h_guard);
    if (st.ok)
        st = ta_http_register_handler(TA_STR("ws"), &h_ws);
    if (st.ok)
        st = ta_http_create_server(&cfg, &server_id);
    if (st.ok)
        st = ta_http_add_route(server_id, TA_STR("/hello/{name}"), TA_STR("GET"), h_api, NULL);
    if (st.ok)
        st = ta_http_add_route(server_id, TA_STR("/info"), TA_STR("*"), h_api, NULL);
    if (st.ok)
        st = ta_http_add_route(server_id, TA_STR("/open"), TA_STR("GET"), h_api, NULL);
    if (st.ok)
        st = ta_http_add_route(server_id, TA_STR("/private/*"), TA_STR("*"), h_api, NULL);
    if (st.ok)
        st = ta_http_add_route(server_id, TA_STR("/gone"), TA_STR("GET"), h_api, &gone);
    if (st.ok)
        st = ta_http_remove_route(gone);
    if (st.ok)
        st = ta_http_add_middleware(server_id, TA_STR("/open"), h_guard, &mw);
    if (st.ok)
        st = ta_http_remove_middleware(mw);
    if (st.ok)
        st = ta_http_add_middleware(server_id, TA_STR("/private"), h_guard, NULL);
    ws.val = h_ws;
    if (st.ok)
        st = ta_http_enable_websocket(server_id, TA_STR("/ws"), ws, h_ws, ws);
    if (st.ok)
        st = ta_http_start_server(server_id, &port);
    if (!st.ok)
        return st;
    ta_state_set(state, "0", 1);
    ta_logf("serve_probe %.*s listening on port %u", TA_FMT(actor_id), (unsigned)port);
    return TA_OK;
}

TA_ACTOR_INIT(probe_init)

/* ---- http-handlers ---- */

static ta_status info_json(ta_http_response *resp)
{
    ta_http_server_info i;
    ta_status st = ta_http_get_server_info(server_id, &i);
    if (!st.ok)
        return st;
    ta_str s = ta_format("{\"id\":%llu,\"port\":%u,\"host\":\"%.*s\",\"running\":%s,\"routes\":%u,"
                         "\"middleware\":%u,\"websocket\":%s}",
                         (unsigned long long)i.id, (unsigned)i.port, TA_FMT(i.host),
                         i.running ? "true" : "false", (unsigned)i.routes_count,
                         (unsigned)i.middleware_count, i.websocket_enabled ? "true" : "false");
    resp->body = ta_some(ta_str_bytes(s));
    return TA_OK;
}

static ta_status on_request(ta_state *state, uint64_t handler_id, ta_http_request req,
                            ta_http_response *resp)
{
    static ta_header count_header[1];
    uint64_t n = count_of(state) + 1;
    ta_str n_text = ta_format("%llu", (unsigned long long)n), seen;

    if (handler_id != h_api)
        return ta_failf("request for handler %llu", (unsigned long long)handler_id);
    ta_state_set(state, n_text.ptr, n_text.len);
    if (ta_bytes_starts_with(ta_str_bytes(req.uri), "/hello/")) {
        ta_str name = {req.uri.ptr + 7, req.uri.len - 7};
        ta_str body = ta_format("hello %.*s #%llu", TA_FMT(name), (unsigned long long)n);
        count_header[0] = (ta_header){TA_STR("x-count"), n_text};
        resp->headers = (ta_header_list){count_header, 1};
        resp->body = ta_some(ta_str_bytes(body));
        return TA_OK;
    }
    if (ta_str_eq_c(req.uri, "/info"))
        return info_json(resp);
    if (ta_str_eq_c(req.uri, "/open")) {
        resp->body = ta_some(TA_BYTES("open"));
        return TA_OK;
    }
    if (!header(req, "x-seen", &seen))
        seen = TA_STR("-");
    resp->body = ta_some(ta_str_bytes(ta_format("private: x-seen=%.*s", TA_FMT(seen))));
    return TA_OK;
}

TA_HANDLE_HTTP_REQUEST(on_request)

static ta_status on_middleware(ta_state *state, uint64_t handler_id, ta_http_request req,
                               ta_http_middleware_result *result)
{
    ta_str key;

    if (handler_id != h_guard)
        return ta_failf("middleware for handler %llu", (unsigned long long)handler_id);
    if (!header(req, "x-key", &key) || !ta_str_eq_c(key, "let-me-in")) {
        result->proceed = false;
        result->request.body = ta_some(TA_BYTES("no key"));
        return TA_OK;
    }
    ta_header *h = ta_scoped_alloc((req.headers.len + 1) * sizeof *h);
    for (size_t i = 0; i < req.headers.len; i++)
        h[i] = req.headers.items[i];
    h[req.headers.len] = (ta_header){TA_STR("x-seen"), TA_STR("guard")};
    result->request.headers = (ta_header_list){h, req.headers.len + 1};
    return TA_OK;
}

TA_HANDLE_MIDDLEWARE(on_middleware)

static ta_status on_connect(ta_state *state, uint64_t handler_id, uint64_t conn, ta_str path,
                            ta_opt_str protocol)
{
    ta_str hi = ta_format("hi %llu %.*s %.*s", (unsigned long long)conn, TA_FMT(path),
                          TA_FMT(protocol.some ? protocol.val : TA_STR("-")));
    if (handler_id != h_ws)
        return ta_fail("connect for another handler");
    return ta_http_send_websocket_message(server_id, conn, ta_ws_text(hi));
}

TA_HANDLE_WS_CONNECT(on_connect)

static ta_status on_message(ta_state *state, uint64_t handler_id, uint64_t conn, ta_ws_message msg,
                            ta_ws_message_list *replies)
{
    static ta_ws_message out[2];

    if (msg.type == TA_WS_TEXT && msg.text.some) {
        ta_str t = msg.text.val;
        if (ta_str_eq_c(t, "close-me"))
            return ta_http_close_websocket(server_id, conn);
        if (ta_str_eq_c(t, "stop-server"))
            return ta_http_stop_server(server_id);
        if (ta_str_eq_c(t, "fail"))
            return ta_fail("asked to fail");
        if (ta_bytes_starts_with(ta_str_bytes(t), "probe ")) {
            uint64_t n = 0;
            ta_parse_u64((ta_bytes){(const uint8_t *)t.ptr + 6, t.len - 6}, &n);
            ta_status sent = ta_http_send_websocket_message(server_id, n, ta_ws_text(TA_STR("x")));
            ta_status closed = ta_http_close_websocket(server_id, n);
            out[0] = ta_ws_text(ta_format("send %llu: %s%.*s", (unsigned long long)n,
                                          sent.ok ? "ok" : "err ", TA_FMT(sent.err)));
            out[1] = ta_ws_text(ta_format("close %llu: %s%.*s", (unsigned long long)n,
                                          closed.ok ? "ok" : "err ", TA_FMT(closed.err)));
            *replies = (ta_ws_message_list){out, 2};
            return TA_OK;
        }
        if (ta_str_eq_c(t, "bye")) {
            out[0] = (ta_ws_message){.type = TA_WS_CLOSE};
            *replies = (ta_ws_message_list){out, 1};
            return TA_OK;
        }
        out[0] = ta_ws_text(ta_format("got: %.*s", TA_FMT(t)));
        out[1] = ta_ws_text(ta_format("len %zu", t.len));
        *replies = (ta_ws_message_list){out, 2};
    } else if (msg.type == TA_WS_BINARY && msg.data.some) {
        uint8_t *r = ta_scoped_alloc(msg.data.val.len + 1);
        for (size_t i = 0; i < msg.data.val.len; i++)
            r[i] = msg.data.val.ptr[msg.data.val.len - 1 - i];
        out[0] = ta_ws_binary((ta_bytes){r, msg.data.val.len});
        *replies = (ta_ws_message_list){out, 1};
    }
    return TA_OK;
}

TA_HANDLE_WS_MESSAGE(on_message)

static ta_status on_disconnect(ta_state *state, uint64_t handler_id, uint64_t conn)
{
    ta_logf("serve_probe: connection %llu gone", (unsigned long long)conn);
    return TA_OK;
}

TA_HANDLE_WS_DISCONNECT(on_disconnect)
