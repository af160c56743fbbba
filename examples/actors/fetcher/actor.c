/*
 * fetcher - fetches URLs with the http-client handler.
 *
 *   init            fetches the "url" of its initial state (JSON), logs the
 *                   status, the Content-Type and the body's size and first
 *                   line, and shuts down with the body as its exit data
 *   handle-request  the message is a URL: answers "STATUS BYTES" or
 *                   "error: WHY" (an actor started without "url" stays
 *                   up for these)
 *
 * Only the hosts its manifest's allowed_hosts lists can be reached; the
 * actor waits for each answer, its worker thread does not.
 */
#include "theater.h"

static const ta_header accept_any[] = {{{"Accept", 6}, {"*/*", 3}}};

static ta_status get(ta_str url, ta_http_response *resp)
{
    ta_http_request req = {TA_STR("GET"), url, {accept_any, 1}, TA_NONE};
    return ta_http_send(req, resp);
}

static ta_str header(const ta_http_response *r, const char *name)
{
    ta_str n = ta_str_c(name);
    for (size_t i = 0; i < r->headers.len; i++) {
        ta_str h = r->headers.items[i].name;
        bool same = h.len == n.len;
        for (size_t k = 0; same && k < n.len; k++)
            same = (h.ptr[k] | 0x20) == (n.ptr[k] | 0x20);
        if (same)
            return r->headers.items[i].value;
    }
    return TA_STR("(none)");
}

static ta_status fetcher_init(ta_state *state, ta_str actor_id)
{
    ta_str url;
    ta_http_response resp;

    if (!state->some || !ta_json_get_str(state->val, "url", &url)) {
        ta_logf("fetcher %.*s ready: send it URLs as requests", TA_FMT(actor_id));
        return TA_OK;
    }
    ta_logf("fetching %.*s", TA_FMT(url));
    ta_status st = get(url, &resp);
    if (!st.ok) {
        ta_logf("failed: %.*s", TA_FMT(st.err));
        return ta_shutdown(ta_some(ta_str_bytes(st.err)));
    }
    ta_bytes body = resp.body.some ? resp.body.val : (ta_bytes){0, 0};
    size_t first = 0;
    while (first < body.len && body.ptr[first] != '\n')
        first++;
    ta_logf("status %u, Content-Type %.*s, %zu bytes", (unsigned)resp.status,
            TA_FMT(header(&resp, "content-type")), body.len);
    ta_logf("first line: %.*s", TA_FMT(ta_utf8_fix((ta_str){(const char *)body.ptr, first})));
    return ta_shutdown(ta_some(body));
}

static ta_status fetcher_request(ta_state *state, ta_str request_id, ta_bytes msg,
                                 ta_opt_bytes *response)
{
    ta_http_response resp;
    ta_str out;
    (void)state;
    (void)request_id;

    ta_status st = get(ta_bytes_str(msg), &resp);
    if (st.ok)
        out = ta_format("%u %zu", (unsigned)resp.status, resp.body.some ? resp.body.val.len : 0);
    else
        out = ta_format("error: %.*s", TA_FMT(st.err));
    ta_opt_set(response, out.ptr, out.len);
    return TA_OK;
}

TA_ACTOR_INIT(fetcher_init)
TA_HANDLE_REQUEST(fetcher_request)
