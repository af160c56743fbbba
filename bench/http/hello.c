/*
 * hello - the actor of bench/http_bench: one server on a free port (logged
 * as "hello listening on port N"), one route GET /hello answering "hello"
 * (text/plain).  The http-handlers export is written by hand on the
 * generated ABI types, as in examples/actors/notes.
 */
#include "theater.h"
#include "theater_wit.h"

static uint64_t server_id, handler_id;

static ta_status fail_str(thw_str s)
{
    return ta_fail_str((ta_str){s.ptr, s.len});
}

static ta_status hello_init(ta_state *state, ta_str actor_id)
{
    thw_http_types_server_config cfg = {{1, {0}}, {0, {{0, 0}}}, {0, {{{0, 0}, {0, 0}}}}};
    thw_res_u64_str r64;
    thw_res_u16_str r16;
    thw_str name = {"hello", 5}, path = {"/hello", 6}, method = {"GET", 3};
    uint64_t route;

    thw_call_http_framework_create_server(&cfg, &r64);
    if (r64.is_err)
        return fail_str(r64.u.err);
    server_id = r64.u.ok;
    thw_call_http_framework_register_handler(&name, &r64);
    if (r64.is_err)
        return fail_str(r64.u.err);
    handler_id = r64.u.ok;
    thw_call_http_framework_add_route(&server_id, &path, &method, &handler_id, &r64);
    if (r64.is_err)
        return fail_str(r64.u.err);
    route = r64.u.ok;
    (void)route;
    thw_call_http_framework_start_server(&server_id, &r16);
    if (r16.is_err)
        return fail_str(r16.u.err);
    ta_logf("hello %.*s listening on port %u", TA_FMT(actor_id), (unsigned)r16.u.ok);
    (void)state;
    return TA_OK;
}

TA_ACTOR_INIT(hello_init)

static thw_res_tup2_opt_bytes_tup1_http_types_http_response_str out;
static const thw_tup2_str_str text_plain = {{"content-type", 12}, {"text/plain", 10}};

void *hello_request(uint32_t ss, const uint8_t *sp, size_t sl, uint64_t hid, const char *mp,
                    size_t ml, const char *up, size_t ul, const thw_tup2_str_str *hp, size_t hl,
                    uint32_t bs, const uint8_t *bp, size_t bl);
TA__EXPORT(TA__IFACE("http-handlers#handle-request"))
void *hello_request(uint32_t ss, const uint8_t *sp, size_t sl, uint64_t hid, const char *mp,
                    size_t ml, const char *up, size_t ul, const thw_tup2_str_str *hp, size_t hl,
                    uint32_t bs, const uint8_t *bp, size_t bl)
{
    ta_export_begin();
    out.is_err = 0;
    out.u.ok.f0 = (thw_opt_bytes){(uint8_t)ss, {{sp, sl}}};
    out.u.ok.f1.f0.status = 200;
    out.u.ok.f1.f0.headers = (thw_list_tup2_str_str){&text_plain, 1};
    out.u.ok.f1.f0.body = (thw_opt_bytes){1, {{(const uint8_t *)"hello", 5}}};
    ta_export_end();
    return &out;
}
TA__DEFINE_POST(hello_request, TA__IFACE("http-handlers#handle-request"))
