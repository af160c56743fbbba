/*
 * notes - a small JSON web service served by the actor itself through the
 * http-framework handler: notes kept in the actor's state, a middleware
 * that guards /admin, a WebSocket echo on /ws.
 *
 *   GET    /notes        {"count":N,"notes":[{"id":1,"text":"..."},...]}
 *   POST   /notes        body = the note's text -> 201 {"id":N}
 *   GET    /notes/{id}   {"id":N,"text":"..."} or 404
 *   DELETE /notes/{id}   204 or 404
 *   any    /echo/...     the request back: /echo/body answers its body,
 *                        anything else a JSON summary of the request
 *   GET    /slow         answers after 3 s (timing.sleep; "slow" in
 *                        init_state sets other ms)
 *   GET    /fail         the handler fails (the actor fails)
 *   GET    /admin/whoami behind the "auth" middleware: needs the header
 *                        x-token: secret, which it turns into x-auth: ok
 *   /ws                  WebSocket: "welcome <id>" on connect (sent with
 *                        send-websocket-message), every text echoed as
 *                        "echo: <text>", binary echoed as is, "bye" closes
 *
 * init_state (JSON) may give the port: '{"port": "8089"}' (default: any
 * free port, logged as "notes listening on port N"), and "cert" and "key"
 * (PEM files the manifest grants: http-framework's tls_files, or inside a
 * filesystem grant) to serve HTTPS.  The state is text:
 * "port P\nnext N\n" then one "<id> <text>" line per note.
 *
 * Everything here is the C guest SDK: the http-framework wrappers
 * (ta_http_*) and the http-handlers export macros (TA_HANDLE_HTTP_REQUEST,
 * TA_HANDLE_MIDDLEWARE, TA_HANDLE_WS_*).
 */
#include "theater.h"

/* What a WebSocket text is echoed with (tests/integration/cli/notes_variant.c
 * builds the example with another one). */
#ifndef NOTES_ECHO_PREFIX
#define NOTES_ECHO_PREFIX "echo: "
#endif

static uint64_t server_id;
static uint64_t slow_ms = 3000;
static uint64_t h_api, h_auth, h_ws;

/* ---- small text helpers ---- */

static ta_str line_at(ta_str text, size_t *pos)
{
    size_t s = *pos, e = s;
    while (e < text.len && text.ptr[e] != '\n')
        e++;
    *pos = e < text.len ? e + 1 : e;
    return (ta_str){text.ptr + s, e - s};
}

static uint64_t parse_num(ta_str s)
{
    uint64_t v = 0;
    for (size_t i = 0; i < s.len && s.ptr[i] >= '0' && s.ptr[i] <= '9'; i++)
        v = v * 10 + (uint64_t)(s.ptr[i] - '0');
    return v;
}

/* JSON string literal of s (quotes and escapes). */
static ta_str json_str(ta_str s)
{
    ta_str out = TA_STR("\"");
    size_t from = 0;
    for (size_t i = 0; i <= s.len; i++) {
        unsigned char c = i < s.len ? (unsigned char)s.ptr[i] : 0;
        if (i < s.len && c >= 0x20 && c != '"' && c != '\\')
            continue;
        out = ta_format("%.*s%.*s", TA_FMT(out), (int)(i - from), s.ptr + from);
        if (i < s.len)
            out = ta_format("%.*s\\u%04x", TA_FMT(out), c);
        from = i + 1;
    }
    return ta_format("%.*s\"", TA_FMT(out));
}

/* The value of header `name` (lower case) of a request, if any. */
static bool header(const ta_http_request *r, const char *name, ta_str *out)
{
    for (size_t i = 0; i < r->headers.len; i++)
        if (ta_str_eq_c(r->headers.items[i].name, name)) {
            *out = r->headers.items[i].value;
            return true;
        }
    return false;
}

/* ---- the state ---- */

typedef struct notes {
    uint64_t port, next;
    ta_str body; /* the note lines */
} notes;

static notes load(ta_state *st)
{
    notes n = {0, 1, {"", 0}};
    size_t pos = 0;
    ta_str text = ta_bytes_str(st->val);
    if (!st->some)
        return n;
    ta_str l1 = line_at(text, &pos), l2 = line_at(text, &pos);
    n.port = l1.len > 5 ? parse_num((ta_str){l1.ptr + 5, l1.len - 5}) : 0;
    n.next = l2.len > 5 ? parse_num((ta_str){l2.ptr + 5, l2.len - 5}) : 1;
    n.body = (ta_str){text.ptr + pos, text.len - pos};
    return n;
}

static void save(ta_state *st, const notes *n)
{
    ta_str s = ta_format("port %llu\nnext %llu\n%.*s", (unsigned long long)n->port,
                         (unsigned long long)n->next, TA_FMT(n->body));
    ta_state_set(st, s.ptr, s.len);
}

/* Find note `id`: its line's span in n->body. */
static bool find_note(const notes *n, uint64_t id, size_t *start, size_t *end, ta_str *text)
{
    size_t pos = 0;
    while (pos < n->body.len) {
        size_t s = pos;
        ta_str l = line_at(n->body, &pos);
        size_t sp = 0;
        while (sp < l.len && l.ptr[sp] != ' ')
            sp++;
        if (parse_num((ta_str){l.ptr, sp}) == id) {
            *start = s;
            *end = pos;
            *text = sp < l.len ? (ta_str){l.ptr + sp + 1, l.len - sp - 1} : TA_STR("");
            return true;
        }
    }
    return false;
}

/* ---- answers ---- */

static const ta_header json_header = {TA_STR("content-type"), TA_STR("application/json")};

static ta_http_response answer(uint16_t status, ta_str body, bool json)
{
    ta_http_response r;
    r.status = status;
    r.headers = (ta_header_list){json ? &json_header : NULL, json ? 1 : 0};
    r.body.some = body.len > 0 || status != 204;
    r.body.val = ta_str_bytes(body);
    return r;
}

static ta_status list_notes(notes *n, ta_http_response *resp)
{
    ta_str out = TA_STR("");
    size_t pos = 0, count = 0;
    while (pos < n->body.len) {
        ta_str l = line_at(n->body, &pos);
        size_t sp = 0;
        while (sp < l.len && l.ptr[sp] != ' ')
            sp++;
        ta_str text = sp < l.len ? (ta_str){l.ptr + sp + 1, l.len - sp - 1} : TA_STR("");
        out = ta_format("%.*s%s{\"id\":%.*s,\"text\":%.*s}", TA_FMT(out), count ? "," : "", (int)sp,
                        l.ptr, TA_FMT(json_str(text)));
        count++;
    }
    *resp = answer(200, ta_format("{\"count\":%zu,\"notes\":[%.*s]}", count, TA_FMT(out)), true);
    return TA_OK;
}

static ta_status api(ta_state *st, const ta_http_request *req, ta_http_response *resp)
{
    notes n = load(st);
    ta_str m = req->method, uri = req->uri;
    size_t plen = 0;
    while (plen < uri.len && uri.ptr[plen] != '?')
        plen++;
    ta_str path = {uri.ptr, plen};
    ta_bytes body = req->body.some ? req->body.val : (ta_bytes){(const uint8_t *)"", 0};

    if (ta_str_eq_c(path, "/notes") && ta_str_eq_c(m, "GET"))
        return list_notes(&n, resp);
    if (ta_str_eq_c(path, "/notes") && ta_str_eq_c(m, "POST")) {
        for (size_t i = 0; i < body.len; i++)
            if (body.ptr[i] == '\n' || body.ptr[i] == '\r' || body.ptr[i] == 0) {
                *resp = answer(400, TA_STR("{\"error\":\"a note is one line of text\"}"), true);
                return TA_OK;
            }
        if (body.len == 0) {
            *resp = answer(400, TA_STR("{\"error\":\"empty note\"}"), true);
            return TA_OK;
        }
        uint64_t id = n.next++;
        n.body = ta_format("%.*s%llu %.*s\n", TA_FMT(n.body), (unsigned long long)id, (int)body.len,
                           (const char *)body.ptr);
        save(st, &n);
        *resp = answer(201, ta_format("{\"id\":%llu}", (unsigned long long)id), true);
        return TA_OK;
    }
    if (path.len > 7 && ta_bytes_starts_with(ta_str_bytes(path), "/notes/")) {
        uint64_t id = parse_num((ta_str){path.ptr + 7, path.len - 7});
        size_t s, e;
        ta_str text;
        if (!find_note(&n, id, &s, &e, &text)) {
            *resp = answer(404, TA_STR("{\"error\":\"no such note\"}"), true);
        } else if (ta_str_eq_c(m, "DELETE")) {
            n.body =
                ta_format("%.*s%.*s", (int)s, n.body.ptr, (int)(n.body.len - e), n.body.ptr + e);
            save(st, &n);
            *resp = answer(204, TA_STR(""), false);
        } else {
            *resp = answer(200,
                           ta_format("{\"id\":%llu,\"text\":%.*s}", (unsigned long long)id,
                                     TA_FMT(json_str(text))),
                           true);
        }
        return TA_OK;
    }
    if (ta_str_eq_c(path, "/echo/body")) {
        *resp = answer(200, ta_bytes_str(body), false);
        resp->body.some = req->body.some;
        return TA_OK;
    }
    if (ta_bytes_starts_with(ta_str_bytes(path), "/echo")) {
        ta_str h = TA_STR("");
        for (size_t i = 0; i < req->headers.len; i++)
            h = ta_format("%.*s%s[%.*s,%.*s]", TA_FMT(h), i ? "," : "",
                          TA_FMT(json_str(req->headers.items[i].name)),
                          TA_FMT(json_str(req->headers.items[i].value)));
        *resp = answer(200,
                       ta_format("{\"method\":%.*s,\"uri\":%.*s,\"headers\":[%.*s],\"body\":%s,"
                                 "\"body_len\":%zu}",
                                 TA_FMT(json_str(m)), TA_FMT(json_str(uri)), TA_FMT(h),
                                 req->body.some ? "true" : "false", body.len),
                       true);
        return TA_OK;
    }
    if (ta_str_eq_c(path, "/slow")) {
        ta_status slept = ta_sleep(slow_ms);
        if (!slept.ok)
            return slept;
        *resp = answer(200, TA_STR("{\"slow\":true}"), true);
        return TA_OK;
    }
    if (ta_str_eq_c(path, "/fail"))
        return ta_fail("notes: failing on purpose (/fail)");
    if (ta_str_eq_c(path, "/admin/whoami")) {
        ta_str who;
        if (!header(req, "x-auth", &who))
            who = TA_STR("nobody");
        *resp = answer(200, ta_format("{\"auth\":%.*s}", TA_FMT(json_str(who))), true);
        return TA_OK;
    }
    *resp = answer(404, TA_STR("{\"error\":\"not found\"}"), true);
    return TA_OK;
}

/* ---- init: the server, its routes, middleware and WebSocket path ---- */

static ta_status route(const char *path, const char *method, uint64_t handler)
{
    return ta_http_add_route(server_id, ta_str_c(path), ta_str_c(method), handler, NULL);
}

static ta_status handler(const char *name, uint64_t *id)
{
    return ta_http_register_handler(ta_str_c(name), id);
}

/* The routes of the "api" handler (the comment at the top says what each does). */
static const struct {
    const char *path, *method;
} api_routes[] = {
    {"/notes", "GET"}, {"/notes", "POST"}, {"/notes/{id}", "GET"}, {"/notes/{id}", "DELETE"},
    {"/echo/*", "*"},  {"/slow", "GET"},   {"/fail", "GET"},       {"/admin/whoami", "GET"},
};

/* Registers the handlers, routes, the /admin middleware and the /ws path on
 * server_id. Each step runs only while the ones before it succeeded. */
static ta_status setup_routes(void)
{
    ta_status st = handler("api", &h_api);
    if (st.ok)
        st = handler("auth", &h_auth);
    if (st.ok)
        st = handler("ws", &h_ws);
    for (size_t i = 0; st.ok && i < sizeof api_routes / sizeof api_routes[0]; i++)
        st = route(api_routes[i].path, api_routes[i].method, h_api);
    if (!st.ok)
        return st;
    st = ta_http_add_middleware(server_id, TA_STR("/admin"), h_auth, NULL);
    if (!st.ok)
        return st;
    ta_opt_u64 ws = {true, h_ws};
    return ta_http_enable_websocket(server_id, TA_STR("/ws"), ws, h_ws, ws);
}

static ta_status notes_init(ta_state *state, ta_str actor_id)
{
    notes n = {0, 1, {"", 0}};
    ta_http_server_config cfg = {0};
    uint16_t bound;
    ta_str port, cert, key, slow;

    if (state->some && state->val.len > 0 && state->val.ptr[0] == '{') {
        if (ta_json_get_str(state->val, "port", &port))
            n.port = parse_num(port);
        if (ta_json_get_str(state->val, "slow", &slow))
            slow_ms = parse_num(slow);
        if (ta_json_get_str(state->val, "cert", &cert) &&
            ta_json_get_str(state->val, "key", &key)) {
            cfg.has_tls = true;
            cfg.tls_cert_path = cert;
            cfg.tls_key_path = key;
        }
    } else if (state->some) {
        n = load(state);
    }
    cfg.has_port = true;
    cfg.port = (uint16_t)n.port;
    ta_status st = ta_http_create_server(&cfg, &server_id);
    if (st.ok)
        st = setup_routes();
    if (st.ok)
        st = ta_http_start_server(server_id, &bound);
    if (!st.ok)
        return st;
    n.port = bound;
    save(state, &n);
    ta_logf("notes %.*s listening on port %u", TA_FMT(actor_id), (unsigned)bound);
    return TA_OK;
}

TA_ACTOR_INIT(notes_init)

/* ---- the http-handlers exports ---- */

static ta_status notes_request(ta_state *state, uint64_t handler_id, ta_http_request req,
                               ta_http_response *resp)
{
    return handler_id == h_api ? api(state, &req, resp) : ta_fail("unknown handler");
}

TA_HANDLE_HTTP_REQUEST(notes_request)

/* "auth": x-token: secret passes, with x-auth: ok added for the route;
 * anything else is refused with a JSON body (the 403's body). */
static ta_status notes_auth(ta_state *state, uint64_t handler_id, ta_http_request req,
                            ta_http_middleware_result *result)
{
    ta_str token;

    result->proceed = header(&req, "x-token", &token) && ta_str_eq_c(token, "secret");
    if (result->proceed) {
        ta_header *h = ta_scoped_alloc((req.headers.len + 1) * sizeof *h);
        for (size_t i = 0; i < req.headers.len; i++)
            h[i] = req.headers.items[i];
        h[req.headers.len] = (ta_header){TA_STR("x-auth"), TA_STR("ok")};
        result->request.headers = (ta_header_list){h, req.headers.len + 1};
    } else {
        result->request.body = ta_some(TA_BYTES("{\"error\":\"x-token required\"}"));
    }
    return TA_OK;
}

TA_HANDLE_MIDDLEWARE(notes_auth)

static ta_status notes_ws_connect(ta_state *state, uint64_t handler_id, uint64_t conn, ta_str path,
                                  ta_opt_str protocol)
{
    ta_str hello = ta_format("welcome %llu", (unsigned long long)conn);
    return ta_http_send_websocket_message(server_id, conn, ta_ws_text(hello));
}

TA_HANDLE_WS_CONNECT(notes_ws_connect)

/* Texts echoed with NOTES_ECHO_PREFIX, "bye" closes, binary echoed as is;
 * pings and pongs get nothing. */
static ta_status notes_ws_message(ta_state *state, uint64_t handler_id, uint64_t conn,
                                  ta_ws_message msg, ta_ws_message_list *replies)
{
    static ta_ws_message reply;

    if (msg.type == TA_WS_TEXT && msg.text.some && ta_str_eq_c(msg.text.val, "bye"))
        reply = (ta_ws_message){.type = TA_WS_CLOSE};
    else if (msg.type == TA_WS_TEXT && msg.text.some)
        reply = ta_ws_text(ta_format(NOTES_ECHO_PREFIX "%.*s", TA_FMT(msg.text.val)));
    else if (msg.type == TA_WS_BINARY && msg.data.some)
        reply = ta_ws_binary(msg.data.val);
    else
        return TA_OK; /* ping, pong: nothing to say */
    *replies = (ta_ws_message_list){&reply, 1};
    return TA_OK;
}

TA_HANDLE_WS_MESSAGE(notes_ws_message)

static ta_status notes_ws_disconnect(ta_state *state, uint64_t handler_id, uint64_t conn)
{
    ta_logf("notes: websocket %llu closed", (unsigned long long)conn);
    return TA_OK;
}

TA_HANDLE_WS_DISCONNECT(notes_ws_disconnect)
