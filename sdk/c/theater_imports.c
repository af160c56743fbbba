/*
 * theater_imports.c - typed wrappers for every host import of the
 * `theater:simple` interfaces, on top of the glue generated from the WIT
 * (theater_wit.h: the core imports with their module and name, C types
 * whose layout is the Canonical ABI's, and per import a thw_call_* that
 * lowers the arguments and passes the return area the host fills; strings
 * and lists inside it are allocated by the host through cabi_realloc, so
 * they are call-scoped).  These wrappers only convert between the SDK's
 * types and the generated ones and turn result<_, string> into ta_status.
 * The wasm linker keeps only the imports an actor uses.  Part of the SDK
 * compiled into every actor.
 */
#include "theater_int.h"
#include "theater_wit.h"

#if defined(__wasm__)

/* The SDK's types as arguments of the generated calls (same layouts). */
#define S(x) (&(thw_str){(x).ptr, (x).len})
#define B(x) (&(thw_bytes){(x).ptr, (x).len})
#define REF(x) (&(thw_store_content_ref){{(x).hash.ptr, (x).hash.len}})
#define U64(x) (&(uint64_t){(x)})

static thw_opt_bytes opt_in(ta_opt_bytes o)
{
    thw_opt_bytes r = {0, {{NULL, 0}}};

    if (o.some) {
        r.some = 1;
        r.u.val = (thw_bytes){o.val.ptr, o.val.len};
    }
    return r;
}

static ta_str str_out(thw_str s)
{
    return (ta_str){s.ptr, s.len};
}
static ta_bytes bytes_out(thw_bytes b)
{
    return (ta_bytes){b.ptr, b.len};
}

/* ok -> TA_OK; err -> the host's message (call-scoped). */
static ta_status status_of(uint8_t is_err, thw_str err)
{
    return is_err == 0 ? TA_OK : (ta_status){.ok = false, .err = str_out(err)};
}

/* Lists the host wrote: the SDK's element types have the generated
 * element types' layouts (both are checked against the Canonical ABI). */
_Static_assert(sizeof(ta_chain_event) == sizeof(thw_types_chain_event), "chain-event");
_Static_assert(sizeof(ta_content_ref) == sizeof(thw_store_content_ref), "content-ref");
_Static_assert(sizeof(ta_env_var) == sizeof(thw_tup2_str_str), "tuple<string, string>");
_Static_assert(sizeof(ta_str) == sizeof(thw_str), "string");

static ta_str_list str_list_out(thw_list_str l)
{
    return (ta_str_list){(ta_str *)(uintptr_t)l.ptr, l.len};
}

/* --- runtime --------------------------------------------------------------- */

void ta_log_str(ta_str msg)
{
    ta_str fixed = ta_utf8_fix(msg);
    thw_call_runtime_log(S(fixed));
    if (fixed.ptr != msg.ptr)
        ta_free((void *)(uintptr_t)fixed.ptr);
}

void ta_log(const char *msg)
{
    ta_log_str(ta_str_c(msg));
}

void ta_logf(const char *fmt, ...)
{
    char buf[256];
    va_list ap, again;
    va_start(ap, fmt);
    va_copy(again, ap);
    size_t n = ta_vfmt(buf, sizeof buf, fmt, ap);
    if (n < sizeof buf) {
        ta_log_str((ta_str){buf, n});
    } else {
        ta_str s = ta__vformat_scoped(fmt, again);
        ta_log_str(s);
        ta_free((void *)(uintptr_t)s.ptr);
    }
    va_end(again);
    va_end(ap);
}

ta_chain_event_list ta_get_chain(void)
{
    thw_list_types_chain_event r;
    thw_call_runtime_get_chain(&r);
    return (ta_chain_event_list){(ta_chain_event *)(uintptr_t)r.ptr, r.len};
}

ta_status ta_shutdown(ta_opt_bytes data)
{
    thw_opt_bytes d = opt_in(data);
    thw_res_unit_str r;
    thw_call_runtime_shutdown(&d, &r);
    return status_of(r.is_err, r.u.err);
}

/* --- message-server-host ---------------------------------------------------- */

ta_status ta_send(ta_str actor_id, ta_bytes msg)
{
    thw_res_unit_str r;
    thw_call_message_server_host_send(S(actor_id), B(msg), &r);
    return status_of(r.is_err, r.u.err);
}

ta_status ta_request(ta_str actor_id, ta_bytes msg, ta_bytes *response)
{
    thw_res_bytes_str r;
    thw_call_message_server_host_request(S(actor_id), B(msg), &r);
    if (!r.is_err)
        *response = bytes_out(r.u.ok);
    return status_of(r.is_err, r.u.err);
}

ta_status ta_open_channel(ta_str actor_id, ta_bytes initial_msg, ta_str *channel_id)
{
    thw_res_str_str r;
    thw_call_message_server_host_open_channel(S(actor_id), B(initial_msg), &r);
    if (!r.is_err)
        *channel_id = str_out(r.u.ok);
    return status_of(r.is_err, r.u.err);
}

ta_status ta_send_on_channel(ta_str channel_id, ta_bytes msg)
{
    thw_res_unit_str r;
    thw_call_message_server_host_send_on_channel(S(channel_id), B(msg), &r);
    return status_of(r.is_err, r.u.err);
}

ta_status ta_close_channel(ta_str channel_id)
{
    thw_res_unit_str r;
    thw_call_message_server_host_close_channel(S(channel_id), &r);
    return status_of(r.is_err, r.u.err);
}

ta_str_list ta_list_outstanding_requests(void)
{
    thw_list_str r;
    thw_call_message_server_host_list_outstanding_requests(&r);
    return str_list_out(r);
}

ta_status ta_respond_to_request(ta_str request_id, ta_bytes response)
{
    thw_res_unit_str r;
    thw_call_message_server_host_respond_to_request(S(request_id), B(response), &r);
    return status_of(r.is_err, r.u.err);
}

ta_status ta_cancel_request(ta_str request_id)
{
    thw_res_unit_str r;
    thw_call_message_server_host_cancel_request(S(request_id), &r);
    return status_of(r.is_err, r.u.err);
}

/* --- supervisor --------------------------------------------------------------- */

ta_status ta_spawn(ta_str manifest, ta_opt_bytes init_bytes, ta_str *child_id)
{
    thw_opt_bytes init = opt_in(init_bytes);
    thw_res_str_str r;
    thw_call_supervisor_spawn(S(manifest), &init, &r);
    if (!r.is_err)
        *child_id = str_out(r.u.ok);
    return status_of(r.is_err, r.u.err);
}

ta_status ta_resume(ta_str manifest, ta_opt_bytes init_state, ta_str *child_id)
{
    thw_opt_bytes init = opt_in(init_state);
    thw_res_str_str r;
    thw_call_supervisor_resume(S(manifest), &init, &r);
    if (!r.is_err)
        *child_id = str_out(r.u.ok);
    return status_of(r.is_err, r.u.err);
}

ta_str_list ta_list_children(void)
{
    thw_list_str r;
    thw_call_supervisor_list_children(&r);
    return str_list_out(r);
}

ta_status ta_stop_child(ta_str child_id)
{
    thw_res_unit_str r;
    thw_call_supervisor_stop_child(S(child_id), &r);
    return status_of(r.is_err, r.u.err);
}

ta_status ta_restart_child(ta_str child_id)
{
    thw_res_unit_str r;
    thw_call_supervisor_restart_child(S(child_id), &r);
    return status_of(r.is_err, r.u.err);
}

ta_status ta_update_child(ta_str child_id, ta_bytes component)
{
    thw_res_unit_str r;
    thw_call_supervisor_update_child(S(child_id), B(component), &r);
    return status_of(r.is_err, r.u.err);
}

ta_status ta_get_child_state(ta_str child_id, ta_opt_bytes *state)
{
    thw_res_opt_bytes_str r;
    thw_call_supervisor_get_child_state(S(child_id), &r);
    if (!r.is_err) {
        state->some = r.u.ok.some != 0;
        state->val = r.u.ok.some ? bytes_out(r.u.ok.u.val) : (ta_bytes){NULL, 0};
    }
    return status_of(r.is_err, r.u.err);
}

ta_status ta_get_child_events(ta_str child_id, ta_chain_event_list *events)
{
    thw_res_list_types_chain_event_str r;
    thw_call_supervisor_get_child_events(S(child_id), &r);
    if (!r.is_err)
        *events = (ta_chain_event_list){(ta_chain_event *)(uintptr_t)r.u.ok.ptr, r.u.ok.len};
    return status_of(r.is_err, r.u.err);
}

/* --- store ----------------------------------------------------------------------- */

static ta_content_ref ref_out(thw_store_content_ref r)
{
    return (ta_content_ref){str_out(r.hash)};
}

ta_status ta_store_new(ta_str *store_id)
{
    thw_res_str_str r;
    thw_call_store_new_(&r);
    if (!r.is_err)
        *store_id = str_out(r.u.ok);
    return status_of(r.is_err, r.u.err);
}

ta_status ta_store_store(ta_str store_id, ta_bytes content, ta_content_ref *ref)
{
    thw_res_store_content_ref_str r;
    thw_call_store_store(S(store_id), B(content), &r);
    if (!r.is_err)
        *ref = ref_out(r.u.ok);
    return status_of(r.is_err, r.u.err);
}

ta_status ta_store_get(ta_str store_id, ta_content_ref ref, ta_bytes *content)
{
    thw_res_bytes_str r;
    thw_call_store_get(S(store_id), REF(ref), &r);
    if (!r.is_err)
        *content = bytes_out(r.u.ok);
    return status_of(r.is_err, r.u.err);
}

ta_status ta_store_exists(ta_str store_id, ta_content_ref ref, bool *exists)
{
    thw_res_bool_str r;
    thw_call_store_exists(S(store_id), REF(ref), &r);
    if (!r.is_err)
        *exists = r.u.ok != 0;
    return status_of(r.is_err, r.u.err);
}

ta_status ta_store_label(ta_str store_id, ta_str label, ta_content_ref ref)
{
    thw_res_unit_str r;
    thw_call_store_label(S(store_id), S(label), REF(ref), &r);
    return status_of(r.is_err, r.u.err);
}

ta_status ta_store_get_by_label(ta_str store_id, ta_str label, ta_opt_content_ref *ref)
{
    thw_res_opt_store_content_ref_str r;
    thw_call_store_get_by_label(S(store_id), S(label), &r);
    if (!r.is_err) {
        ref->some = r.u.ok.some != 0;
        ref->val = r.u.ok.some ? ref_out(r.u.ok.u.val) : (ta_content_ref){{NULL, 0}};
    }
    return status_of(r.is_err, r.u.err);
}

ta_status ta_store_remove_label(ta_str store_id, ta_str label)
{
    thw_res_unit_str r;
    thw_call_store_remove_label(S(store_id), S(label), &r);
    return status_of(r.is_err, r.u.err);
}

ta_status ta_store_remove_from_label(ta_str store_id, ta_str label, ta_content_ref ref)
{
    thw_res_unit_str r;
    thw_call_store_remove_from_label(S(store_id), S(label), REF(ref), &r);
    return status_of(r.is_err, r.u.err);
}

ta_status ta_store_store_at_label(ta_str store_id, ta_str label, ta_bytes content,
                                  ta_content_ref *ref)
{
    thw_res_store_content_ref_str r;
    thw_call_store_store_at_label(S(store_id), S(label), B(content), &r);
    if (!r.is_err)
        *ref = ref_out(r.u.ok);
    return status_of(r.is_err, r.u.err);
}

ta_status ta_store_replace_content_at_label(ta_str store_id, ta_str label, ta_bytes content,
                                            ta_content_ref *ref)
{
    thw_res_store_content_ref_str r;
    thw_call_store_replace_content_at_label(S(store_id), S(label), B(content), &r);
    if (!r.is_err)
        *ref = ref_out(r.u.ok);
    return status_of(r.is_err, r.u.err);
}

ta_status ta_store_replace_at_label(ta_str store_id, ta_str label, ta_content_ref ref)
{
    thw_res_unit_str r;
    thw_call_store_replace_at_label(S(store_id), S(label), REF(ref), &r);
    return status_of(r.is_err, r.u.err);
}

ta_status ta_store_list_labels(ta_str store_id, ta_str_list *labels)
{
    thw_res_list_str_str r;
    thw_call_store_list_labels(S(store_id), &r);
    if (!r.is_err)
        *labels = str_list_out(r.u.ok);
    return status_of(r.is_err, r.u.err);
}

ta_status ta_store_list_all_content(ta_str store_id, ta_content_ref_list *refs)
{
    thw_res_list_store_content_ref_str r;
    thw_call_store_list_all_content(S(store_id), &r);
    if (!r.is_err)
        *refs = (ta_content_ref_list){(ta_content_ref *)(uintptr_t)r.u.ok.ptr, r.u.ok.len};
    return status_of(r.is_err, r.u.err);
}

ta_status ta_store_calculate_total_size(ta_str store_id, uint64_t *size)
{
    thw_res_u64_str r;
    thw_call_store_calculate_total_size(S(store_id), &r);
    if (!r.is_err)
        *size = r.u.ok;
    return status_of(r.is_err, r.u.err);
}

/* --- timing -------------------------------------------------------------------- */

uint64_t ta_now(void)
{
    uint64_t now;
    thw_call_timing_now(&now);
    return now;
}

ta_status ta_sleep(uint64_t duration_ms)
{
    thw_res_unit_str r;
    thw_call_timing_sleep(U64(duration_ms), &r);
    return status_of(r.is_err, r.u.err);
}

ta_status ta_deadline(uint64_t timestamp_ms)
{
    thw_res_unit_str r;
    thw_call_timing_deadline(U64(timestamp_ms), &r);
    return status_of(r.is_err, r.u.err);
}

/* --- random -------------------------------------------------------------------- */

ta_status ta_random_bytes(uint32_t length, ta_bytes *bytes)
{
    thw_res_bytes_str r;
    thw_call_random_random_bytes(&length, &r);
    if (!r.is_err)
        *bytes = bytes_out(r.u.ok);
    return status_of(r.is_err, r.u.err);
}

ta_status ta_random_range(uint64_t min, uint64_t max, uint64_t *value)
{
    thw_res_u64_str r;
    thw_call_random_random_range(&min, &max, &r);
    if (!r.is_err)
        *value = r.u.ok;
    return status_of(r.is_err, r.u.err);
}

ta_status ta_random_float(double *value)
{
    thw_res_f64_str r;
    thw_call_random_random_float(&r);
    if (!r.is_err)
        *value = r.u.ok;
    return status_of(r.is_err, r.u.err);
}

ta_status ta_generate_uuid(ta_str *uuid)
{
    thw_res_str_str r;
    thw_call_random_generate_uuid(&r);
    if (!r.is_err)
        *uuid = str_out(r.u.ok);
    return status_of(r.is_err, r.u.err);
}

/* --- environment --------------------------------------------------------------- */

ta_opt_str ta_env_get_var(ta_str name)
{
    thw_opt_str r;
    thw_call_environment_get_var(S(name), &r);
    return r.some ? (ta_opt_str){true, str_out(r.u.val)} : (ta_opt_str){false, {NULL, 0}};
}

ta_env_var_list ta_env_list_vars(void)
{
    thw_list_tup2_str_str r;
    thw_call_environment_list_vars(&r);
    return (ta_env_var_list){(ta_env_var *)(uintptr_t)r.ptr, r.len};
}

bool ta_env_exists(ta_str name)
{
    bool yes;
    thw_call_environment_exists(S(name), &yes);
    return yes;
}

/* --- http-client --------------------------------------------------------------- */

_Static_assert(sizeof(ta_header) == sizeof(thw_tup2_str_str), "header");
_Static_assert(sizeof(ta_http_request) == sizeof(thw_http_types_http_request), "http-request");
_Static_assert(sizeof(ta_http_response) == sizeof(thw_http_types_http_response), "http-response");

ta_status ta_http_send(ta_http_request req, ta_http_response *resp)
{
    thw_http_types_http_request r = {
        *S(req.method),
        *S(req.uri),
        {(const thw_tup2_str_str *)(const void *)req.headers.items, req.headers.len},
        opt_in(req.body)};
    thw_res_http_types_http_response_str out;

    thw_call_http_client_send_http(&r, &out);
    if (!out.is_err) {
        resp->status = out.u.ok.status;
        resp->headers = (ta_header_list){(const ta_header *)(const void *)out.u.ok.headers.ptr,
                                         out.u.ok.headers.len};
        resp->body = (ta_opt_bytes){out.u.ok.body.some != 0,
                                    {out.u.ok.body.u.val.ptr, out.u.ok.body.u.val.len}};
    }
    return status_of(out.is_err, out.u.err);
}

/* --- http-framework ------------------------------------------------------------ */

ta_status ta_http_create_server(const ta_http_server_config *c, uint64_t *server_id)
{
    thw_http_types_server_config r;
    thw_res_u64_str out;

    __builtin_memset(&r, 0, sizeof r);
    r.port.some = c->has_port;
    r.port.u.val = c->port;
    r.host.some = c->host.some;
    r.host.u.val = *S(c->host.val);
    r.tls_config.some = c->has_tls;
    r.tls_config.u.val.cert_path = *S(c->tls_cert_path);
    r.tls_config.u.val.key_path = *S(c->tls_key_path);
    thw_call_http_framework_create_server(&r, &out);
    if (!out.is_err)
        *server_id = out.u.ok;
    return status_of(out.is_err, out.u.err);
}

ta_status ta_http_get_server_info(uint64_t server_id, ta_http_server_info *info)
{
    thw_res_http_types_server_info_str out;

    thw_call_http_framework_get_server_info(U64(server_id), &out);
    if (!out.is_err) {
        info->id = out.u.ok.id;
        info->port = out.u.ok.port;
        info->host = str_out(out.u.ok.host);
        info->running = out.u.ok.running;
        info->routes_count = out.u.ok.routes_count;
        info->middleware_count = out.u.ok.middleware_count;
        info->websocket_enabled = out.u.ok.websocket_enabled;
    }
    return status_of(out.is_err, out.u.err);
}

ta_status ta_http_start_server(uint64_t server_id, uint16_t *port)
{
    thw_res_u16_str out;

    thw_call_http_framework_start_server(U64(server_id), &out);
    if (!out.is_err && port != NULL)
        *port = out.u.ok;
    return status_of(out.is_err, out.u.err);
}

ta_status ta_http_stop_server(uint64_t server_id)
{
    thw_res_unit_str out;

    thw_call_http_framework_stop_server(U64(server_id), &out);
    return status_of(out.is_err, out.u.err);
}

ta_status ta_http_destroy_server(uint64_t server_id)
{
    thw_res_unit_str out;

    thw_call_http_framework_destroy_server(U64(server_id), &out);
    return status_of(out.is_err, out.u.err);
}

ta_status ta_http_register_handler(ta_str name, uint64_t *handler_id)
{
    thw_res_u64_str out;

    thw_call_http_framework_register_handler(S(name), &out);
    if (!out.is_err)
        *handler_id = out.u.ok;
    return status_of(out.is_err, out.u.err);
}

ta_status ta_http_add_route(uint64_t server_id, ta_str path, ta_str method, uint64_t handler_id,
                            uint64_t *route_id)
{
    thw_res_u64_str out;

    thw_call_http_framework_add_route(U64(server_id), S(path), S(method), U64(handler_id), &out);
    if (!out.is_err && route_id != NULL)
        *route_id = out.u.ok;
    return status_of(out.is_err, out.u.err);
}

ta_status ta_http_remove_route(uint64_t route_id)
{
    thw_res_unit_str out;

    thw_call_http_framework_remove_route(U64(route_id), &out);
    return status_of(out.is_err, out.u.err);
}

ta_status ta_http_add_middleware(uint64_t server_id, ta_str path, uint64_t handler_id,
                                 uint64_t *middleware_id)
{
    thw_res_u64_str out;

    thw_call_http_framework_add_middleware(U64(server_id), S(path), U64(handler_id), &out);
    if (!out.is_err && middleware_id != NULL)
        *middleware_id = out.u.ok;
    return status_of(out.is_err, out.u.err);
}

ta_status ta_http_remove_middleware(uint64_t middleware_id)
{
    thw_res_unit_str out;

    thw_call_http_framework_remove_middleware(U64(middleware_id), &out);
    return status_of(out.is_err, out.u.err);
}

ta_status ta_http_enable_websocket(uint64_t server_id, ta_str path, ta_opt_u64 connect_handler_id,
                                   uint64_t message_handler_id, ta_opt_u64 disconnect_handler_id)
{
    thw_opt_u64 conn = {connect_handler_id.some, {connect_handler_id.val}};
    thw_opt_u64 disc = {disconnect_handler_id.some, {disconnect_handler_id.val}};
    thw_res_unit_str out;

    thw_call_http_framework_enable_websocket(U64(server_id), S(path), &conn,
                                             U64(message_handler_id), &disc, &out);
    return status_of(out.is_err, out.u.err);
}

ta_status ta_http_send_websocket_message(uint64_t server_id, uint64_t connection_id,
                                         ta_ws_message msg)
{
    thw_websocket_types_websocket_message m;
    thw_res_unit_str out;

    ta__ws_low(&msg, &m);
    thw_call_http_framework_send_websocket_message(U64(server_id), U64(connection_id), &m, &out);
    return status_of(out.is_err, out.u.err);
}

ta_status ta_http_close_websocket(uint64_t server_id, uint64_t connection_id)
{
    thw_res_unit_str out;

    thw_call_http_framework_close_websocket(U64(server_id), U64(connection_id), &out);
    return status_of(out.is_err, out.u.err);
}

/* --- process ------------------------------------------------------------------- */

ta_status ta_os_spawn(const ta_process_config *c, uint64_t *pid)
{
    thw_process_process_config r;
    thw_res_u64_str out;

    r.program = *S(c->program);
    r.args = (thw_list_str){(const thw_str *)(const void *)c->args.items, c->args.len};
    r.cwd.some = c->cwd.some;
    r.cwd.u.val = *S(c->cwd.val);
    r.env =
        (thw_list_tup2_str_str){(const thw_tup2_str_str *)(const void *)c->env.items, c->env.len};
    r.buffer_size = c->buffer_size;
    r.stdout_mode.tag = (uint8_t)c->stdout_mode;
    r.stderr_mode.tag = (uint8_t)c->stderr_mode;
    r.chunk_size.some = c->has_chunk_size;
    r.chunk_size.u.val = c->chunk_size;
    r.execution_timeout.some = c->has_execution_timeout;
    r.execution_timeout.u.val = c->execution_timeout;
    thw_call_process_os_spawn(&r, &out);
    if (!out.is_err)
        *pid = out.u.ok;
    return status_of(out.is_err, out.u.err);
}

ta_status ta_os_write_stdin(uint64_t pid, ta_bytes data, uint32_t *queued)
{
    thw_res_u32_str out;

    thw_call_process_os_write_stdin(U64(pid), B(data), &out);
    if (!out.is_err && queued != NULL)
        *queued = out.u.ok;
    return status_of(out.is_err, out.u.err);
}

ta_status ta_os_status(uint64_t pid, ta_process_status *st)
{
    thw_res_process_process_status_str out;

    thw_call_process_os_status(U64(pid), &out);
    if (!out.is_err) {
        st->pid = out.u.ok.pid;
        st->running = out.u.ok.running;
        st->has_exit_code = out.u.ok.exit_code.some != 0;
        st->exit_code = out.u.ok.exit_code.u.val;
        st->start_time = out.u.ok.start_time;
    }
    return status_of(out.is_err, out.u.err);
}

ta_status ta_os_signal(uint64_t pid, uint32_t sig)
{
    thw_res_unit_str out;

    thw_call_process_os_signal(U64(pid), &(uint32_t){sig}, &out);
    return status_of(out.is_err, out.u.err);
}

ta_status ta_os_kill(uint64_t pid)
{
    thw_res_unit_str out;

    thw_call_process_os_kill(U64(pid), &out);
    return status_of(out.is_err, out.u.err);
}

/* --- filesystem ---------------------------------------------------------------- */

ta_status ta_fs_read_file(ta_str path, ta_bytes *content)
{
    thw_res_bytes_str r;
    thw_call_filesystem_read_file(S(path), &r);
    if (!r.is_err)
        *content = bytes_out(r.u.ok);
    return status_of(r.is_err, r.u.err);
}

ta_status ta_fs_write_file(ta_str path, ta_str content)
{
    thw_res_unit_str r;
    thw_call_filesystem_write_file(S(path), S(content), &r);
    return status_of(r.is_err, r.u.err);
}

ta_status ta_fs_list_files(ta_str path, ta_str_list *names)
{
    thw_res_list_str_str r;
    thw_call_filesystem_list_files(S(path), &r);
    if (!r.is_err)
        *names = str_list_out(r.u.ok);
    return status_of(r.is_err, r.u.err);
}

ta_status ta_fs_delete_file(ta_str path)
{
    thw_res_unit_str r;
    thw_call_filesystem_delete_file(S(path), &r);
    return status_of(r.is_err, r.u.err);
}

ta_status ta_fs_create_dir(ta_str path)
{
    thw_res_unit_str r;
    thw_call_filesystem_create_dir(S(path), &r);
    return status_of(r.is_err, r.u.err);
}

ta_status ta_fs_delete_dir(ta_str path)
{
    thw_res_unit_str r;
    thw_call_filesystem_delete_dir(S(path), &r);
    return status_of(r.is_err, r.u.err);
}

ta_status ta_fs_path_exists(ta_str path, bool *exists)
{
    thw_res_bool_str r;
    thw_call_filesystem_path_exists(S(path), &r);
    if (!r.is_err)
        *exists = r.u.ok != 0;
    return status_of(r.is_err, r.u.err);
}

#endif /* __wasm__ */
