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
 * (PEM files) to serve HTTPS.  The state is text:
 * "port P\nnext N\n" then one "<id> <text>" line per note.
 *
 * http-handlers has no TA_ export macro in the SDK yet, so its exports are
 * written here by hand on the generated Canonical ABI types
 * (theater_wit.h), between ta_export_begin and ta_export_end.
 */
#include "theater.h"
#include "theater_wit.h"

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

static ta_str thw_to_str(thw_str s)
{
    return (ta_str){s.ptr, s.len};
}

/* The value of header `name` (lower case) of a request, if any. */
static bool header(const thw_http_types_http_request *r, const char *name, ta_str *out)
{
    for (size_t i = 0; i < r->headers.len; i++)
        if (ta_str_eq_c(thw_to_str(r->headers.ptr[i].f0), name)) {
            *out = thw_to_str(r->headers.ptr[i].f1);
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

static thw_tup2_str_str json_header = {{"content-type", 12}, {"application/json", 16}};

static thw_http_types_http_response answer(uint16_t status, ta_str body, bool json)
{
    thw_http_types_http_response r;
    r.status = status;
    r.headers.ptr = json ? &json_header : NULL;
    r.headers.len = json ? 1 : 0;
    r.body.some = body.len > 0 || status != 204;
    r.body.u.val.ptr = (const uint8_t *)body.ptr;
    r.body.u.val.len = body.len;
    return r;
}

static ta_status list_notes(notes *n, thw_http_types_http_response *resp)
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

static ta_status api(ta_state *st, const thw_http_types_http_request *req,
                     thw_http_types_http_response *resp)
{
    notes n = load(st);
    ta_str m = thw_to_str(req->method), uri = thw_to_str(req->uri);
    size_t plen = 0;
    while (plen < uri.len && uri.ptr[plen] != '?')
        plen++;
    ta_str path = {uri.ptr, plen};
    ta_bytes body = req->body.some ? (ta_bytes){req->body.u.val.ptr, req->body.u.val.len}
                                   : (ta_bytes){(const uint8_t *)"", 0};

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
                          TA_FMT(json_str(thw_to_str(req->headers.ptr[i].f0))),
                          TA_FMT(json_str(thw_to_str(req->headers.ptr[i].f1))));
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

static ta_status check_u64(thw_res_u64_str *r, uint64_t *out)
{
    if (r->is_err)
        return ta_fail_str(thw_to_str(r->u.err));
    *out = r->u.ok;
    return TA_OK;
}

static ta_status check_unit(thw_res_unit_str *r)
{
    return r->is_err ? ta_fail_str(thw_to_str(r->u.err)) : TA_OK;
}

static ta_status route(const char *path, const char *method, uint64_t handler)
{
    thw_res_u64_str r;
    uint64_t id;
    thw_str p = {path, __builtin_strlen(path)}, m = {method, __builtin_strlen(method)};
    thw_call_http_framework_add_route(&server_id, &p, &m, &handler, &r);
    return check_u64(&r, &id);
}

static ta_status handler(const char *name, uint64_t *id)
{
    thw_res_u64_str r;
    thw_str n = {name, __builtin_strlen(name)};
    thw_call_http_framework_register_handler(&n, &r);
    return check_u64(&r, id);
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
    thw_res_u64_str r64;
    thw_res_unit_str ru;
    uint64_t mw;
    thw_str admin = {"/admin", 6}, ws = {"/ws", 3};

    ta_status st = handler("api", &h_api);
    if (st.ok)
        st = handler("auth", &h_auth);
    if (st.ok)
        st = handler("ws", &h_ws);
    for (size_t i = 0; st.ok && i < sizeof api_routes / sizeof api_routes[0]; i++)
        st = route(api_routes[i].path, api_routes[i].method, h_api);
    if (!st.ok)
        return st;
    thw_call_http_framework_add_middleware(&server_id, &admin, &h_auth, &r64);
    st = check_u64(&r64, &mw);
    if (!st.ok)
        return st;
    thw_opt_u64 conn = {1, {h_ws}}, disc = {1, {h_ws}};
    thw_call_http_framework_enable_websocket(&server_id, &ws, &conn, &h_ws, &disc, &ru);
    return check_unit(&ru);
}

static ta_status notes_init(ta_state *state, ta_str actor_id)
{
    notes n = {0, 1, {"", 0}};
    thw_http_types_server_config cfg = {{0, {0}}, {0, {{0, 0}}}, {0, {{{0, 0}, {0, 0}}}}};
    thw_res_u64_str r64;
    thw_res_u16_str r16;
    ta_str port, cert, key, slow;

    if (state->some && state->val.len > 0 && state->val.ptr[0] == '{') {
        if (ta_json_get_str(state->val, "port", &port))
            n.port = parse_num(port);
        if (ta_json_get_str(state->val, "slow", &slow))
            slow_ms = parse_num(slow);
        if (ta_json_get_str(state->val, "cert", &cert) &&
            ta_json_get_str(state->val, "key", &key)) {
            cfg.tls_config.some = 1;
            cfg.tls_config.u.val.cert_path = (thw_str){cert.ptr, cert.len};
            cfg.tls_config.u.val.key_path = (thw_str){key.ptr, key.len};
        }
    } else if (state->some) {
        n = load(state);
    }
    cfg.port.some = 1;
    cfg.port.u.val = (uint16_t)n.port;
    thw_call_http_framework_create_server(&cfg, &r64);
    ta_status st = check_u64(&r64, &server_id);
    if (st.ok)
        st = setup_routes();
    if (!st.ok)
        return st;
    thw_call_http_framework_start_server(&server_id, &r16);
    if (r16.is_err)
        return ta_fail_str(thw_to_str(r16.u.err));
    n.port = r16.u.ok;
    save(state, &n);
    ta_logf("notes %.*s listening on port %u", TA_FMT(actor_id), (unsigned)r16.u.ok);
    return TA_OK;
}

TA_ACTOR_INIT(notes_init)

/* ---- the http-handlers exports, by hand ---- */

static union {
    thw_res_tup2_opt_bytes_tup1_http_types_http_response_str request;
    thw_res_tup2_opt_bytes_tup1_http_types_middleware_result_str middleware;
    thw_res_tup1_opt_bytes_str state_only;
    thw_res_tup2_opt_bytes_tup1_list_websocket_types_websocket_message_str message;
} out;

static thw_opt_bytes state_out(ta_state st)
{
    thw_opt_bytes o = {st.some, {{st.val.ptr, st.val.len}}};
    return o;
}

static ta_state state_in(uint32_t some, const uint8_t *p, size_t n)
{
    ta_state st = {some != 0, {p, n}};
    return st;
}

static thw_http_types_http_request request_in(const char *mp, size_t ml, const char *up, size_t ul,
                                              const thw_tup2_str_str *hp, size_t hl, uint32_t bs,
                                              const uint8_t *bp, size_t bl)
{
    thw_http_types_http_request r;
    r.method = (thw_str){mp, ml};
    r.uri = (thw_str){up, ul};
    r.headers = (thw_list_tup2_str_str){hp, hl};
    r.body.some = (uint8_t)bs;
    r.body.u.val = (thw_bytes){bp, bl};
    return r;
}

void *notes_handle_request(uint32_t ss, const uint8_t *sp, size_t sl, uint64_t hid, const char *mp,
                           size_t ml, const char *up, size_t ul, const thw_tup2_str_str *hp,
                           size_t hl, uint32_t bs, const uint8_t *bp, size_t bl);
TA__EXPORT(TA__IFACE("http-handlers#handle-request"))
void *notes_handle_request(uint32_t ss, const uint8_t *sp, size_t sl, uint64_t hid, const char *mp,
                           size_t ml, const char *up, size_t ul, const thw_tup2_str_str *hp,
                           size_t hl, uint32_t bs, const uint8_t *bp, size_t bl)
{
    ta_export_begin();
    ta_state st = state_in(ss, sp, sl);
    thw_http_types_http_request req = request_in(mp, ml, up, ul, hp, hl, bs, bp, bl);
    thw_http_types_http_response resp;
    ta_status r = hid == h_api ? api(&st, &req, &resp) : ta_fail("unknown handler");
    out.request.is_err = !r.ok;
    if (r.ok) {
        out.request.u.ok.f0 = state_out(st);
        out.request.u.ok.f1.f0 = resp;
    } else {
        out.request.u.err = (thw_str){r.err.ptr, r.err.len};
    }
    ta_export_end();
    return &out.request;
}
TA__DEFINE_POST(http_request, TA__IFACE("http-handlers#handle-request"))

void *notes_handle_middleware(uint32_t ss, const uint8_t *sp, size_t sl, uint64_t hid,
                              const char *mp, size_t ml, const char *up, size_t ul,
                              const thw_tup2_str_str *hp, size_t hl, uint32_t bs, const uint8_t *bp,
                              size_t bl);
TA__EXPORT(TA__IFACE("http-handlers#handle-middleware"))
void *notes_handle_middleware(uint32_t ss, const uint8_t *sp, size_t sl, uint64_t hid,
                              const char *mp, size_t ml, const char *up, size_t ul,
                              const thw_tup2_str_str *hp, size_t hl, uint32_t bs, const uint8_t *bp,
                              size_t bl)
{
    ta_export_begin();
    ta_state st = state_in(ss, sp, sl);
    thw_http_types_http_request req = request_in(mp, ml, up, ul, hp, hl, bs, bp, bl);
    ta_str token;
    bool ok = header(&req, "x-token", &token) && ta_str_eq_c(token, "secret");

    out.middleware.is_err = 0;
    out.middleware.u.ok.f0 = state_out(st);
    out.middleware.u.ok.f1.f0.proceed = ok;
    if (ok) {
        /* the route sees the request with x-auth: ok added */
        thw_tup2_str_str *h = ta_alloc((hl + 1) * sizeof *h);
        for (size_t i = 0; i < hl; i++)
            h[i] = hp[i];
        h[hl] = (thw_tup2_str_str){{"x-auth", 6}, {"ok", 2}};
        req.headers = (thw_list_tup2_str_str){h, hl + 1};
    } else {
        static const char denied[] = "{\"error\":\"x-token required\"}";
        req.body.some = 1;
        req.body.u.val = (thw_bytes){(const uint8_t *)denied, sizeof denied - 1};
    }
    out.middleware.u.ok.f1.f0.request = req;
    ta_export_end();
    return &out.middleware;
}
TA__DEFINE_POST(http_middleware, TA__IFACE("http-handlers#handle-middleware"))

void *notes_ws_connect(uint32_t ss, const uint8_t *sp, size_t sl, uint64_t hid, uint64_t conn,
                       const char *pp, size_t pl, uint32_t prs, const char *prp, size_t prl);
TA__EXPORT(TA__IFACE("http-handlers#handle-websocket-connect"))
void *notes_ws_connect(uint32_t ss, const uint8_t *sp, size_t sl, uint64_t hid, uint64_t conn,
                       const char *pp, size_t pl, uint32_t prs, const char *prp, size_t prl)
{
    ta_export_begin();
    ta_str hello = ta_format("welcome %llu", (unsigned long long)conn);
    thw_websocket_types_websocket_message m = {
        {0, {{0, 0}}}, {0, {{0, 0}}}, {1, {{hello.ptr, hello.len}}}};
    thw_res_unit_str r;
    thw_call_http_framework_send_websocket_message(&server_id, &conn, &m, &r);
    out.state_only.is_err = r.is_err;
    if (r.is_err)
        out.state_only.u.err = r.u.err;
    else
        out.state_only.u.ok.f0 = state_out(state_in(ss, sp, sl));
    ta_export_end();
    return &out.state_only;
}
TA__DEFINE_POST(ws_connect, TA__IFACE("http-handlers#handle-websocket-connect"))

void *notes_ws_message(uint32_t ss, const uint8_t *sp, size_t sl, uint64_t hid, uint64_t conn,
                       uint32_t tag, const char *op, size_t ol, uint32_t ds, const uint8_t *dp,
                       size_t dl, uint32_t ts, const char *tp, size_t tl);
TA__EXPORT(TA__IFACE("http-handlers#handle-websocket-message"))
void *notes_ws_message(uint32_t ss, const uint8_t *sp, size_t sl, uint64_t hid, uint64_t conn,
                       uint32_t tag, const char *op, size_t ol, uint32_t ds, const uint8_t *dp,
                       size_t dl, uint32_t ts, const char *tp, size_t tl)
{
    static thw_websocket_types_websocket_message reply;
    ta_export_begin();
    __builtin_memset(&reply, 0, sizeof reply);
    size_t n = 1;
    if (tag == 0 && ts && tl == 3 && __builtin_memcmp(tp, "bye", 3) == 0) {
        reply.ty.tag = 3; /* close */
    } else if (tag == 0 && ts) {
        ta_str e = ta_format(NOTES_ECHO_PREFIX "%.*s", (int)tl, tp);
        reply.ty.tag = 0;
        reply.text = (thw_opt_str){1, {{e.ptr, e.len}}};
    } else if (tag == 1 && ds) {
        reply.ty.tag = 1;
        reply.data = (thw_opt_bytes){1, {{dp, dl}}};
    } else {
        n = 0; /* ping, pong: nothing to say */
    }
    out.message.is_err = 0;
    out.message.u.ok.f0 = state_out(state_in(ss, sp, sl));
    out.message.u.ok.f1.f0 = (thw_list_websocket_types_websocket_message){&reply, n};
    ta_export_end();
    return &out.message;
}
TA__DEFINE_POST(ws_message, TA__IFACE("http-handlers#handle-websocket-message"))

void *notes_ws_disconnect(uint32_t ss, const uint8_t *sp, size_t sl, uint64_t hid, uint64_t conn);
TA__EXPORT(TA__IFACE("http-handlers#handle-websocket-disconnect"))
void *notes_ws_disconnect(uint32_t ss, const uint8_t *sp, size_t sl, uint64_t hid, uint64_t conn)
{
    ta_export_begin();
    ta_logf("notes: websocket %llu closed", (unsigned long long)conn);
    out.state_only.is_err = 0;
    out.state_only.u.ok.f0 = state_out(state_in(ss, sp, sl));
    ta_export_end();
    return &out.state_only;
}
TA__DEFINE_POST(ws_disconnect, TA__IFACE("http-handlers#handle-websocket-disconnect"))
