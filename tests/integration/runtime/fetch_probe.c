/*
 * fetch_probe.c - a test actor (C guest SDK) for the http-client handler
 * (tests/integration/runtime/test_http_client.c).  A request's message is
 * a command "METHOD URL [HEXBODY]"; the actor sends that request with the
 * header "X-Test: probe" (and the body, if given) and answers
 *   "ok STATUS HEXBODY" ("ok STATUS -" for a body of none) then one line
 * "name: value" per response header, or "err MESSAGE".
 */
#include "theater.h"

static int unhex(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static ta_str next_word(ta_str *rest)
{
    size_t n = 0;
    while (n < rest->len && rest->ptr[n] != ' ')
        n++;
    ta_str w = {rest->ptr, n};
    size_t skip = n < rest->len ? n + 1 : n;
    rest->ptr += skip;
    rest->len -= skip;
    return w;
}

static ta_status on_request(ta_state *state, ta_str request_id, ta_bytes msg,
                            ta_opt_bytes *response)
{
    static const char d[] = "0123456789abcdef";
    static const ta_header hdr[] = {{{"X-Test", 6}, {"probe", 5}}};
    ta_str rest = ta_bytes_str(msg);
    ta_http_request req = {next_word(&rest), next_word(&rest), {hdr, 1}, TA_NONE};
    ta_http_response resp;
    (void)state;
    (void)request_id;

    if (rest.len > 0) {
        uint8_t *body = ta_scoped_alloc(rest.len / 2 + 1);
        for (size_t i = 0; i + 1 < rest.len; i += 2)
            body[i / 2] = (uint8_t)(unhex(rest.ptr[i]) * 16 + unhex(rest.ptr[i + 1]));
        req.body = ta_some((ta_bytes){body, rest.len / 2});
    }
    ta_status st = ta_http_send(req, &resp);
    if (!st.ok) {
        ta_str out = ta_format("err %.*s", TA_FMT(st.err));
        ta_opt_set(response, out.ptr, out.len);
        return TA_OK;
    }
    size_t n = 32 + (resp.body.some ? 2 * resp.body.val.len : 0);
    for (size_t i = 0; i < resp.headers.len; i++)
        n += resp.headers.items[i].name.len + resp.headers.items[i].value.len + 4;
    char *buf = ta_scoped_alloc(n);
    size_t o = ta_fmt(buf, n, "ok %u %s", (unsigned)resp.status, resp.body.some ? "" : "-");
    for (size_t i = 0; resp.body.some && i < resp.body.val.len; i++) {
        buf[o++] = d[resp.body.val.ptr[i] >> 4];
        buf[o++] = d[resp.body.val.ptr[i] & 15];
    }
    for (size_t i = 0; i < resp.headers.len; i++)
        o += ta_fmt(buf + o, n - o, "\n%.*s: %.*s", TA_FMT(resp.headers.items[i].name),
                    TA_FMT(resp.headers.items[i].value));
    ta_opt_set(response, buf, o);
    return TA_OK;
}

TA_HANDLE_REQUEST(on_request)
