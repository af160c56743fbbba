/*
 * abi_probe.c - not an example: an actor that defines every guest export
 * and calls every host import wrapper of the SDK, so that its module holds
 * the SDK's complete import/export surface. tests/unit/test_sdk_abi.c checks
 * each of its core names and signatures against the WIT of the ABI.
 */
#include "theater.h"

static ta_status probe_init(ta_state *state, ta_str id)
{
    ta_str s;
    ta_bytes b;
    bool flag;
    uint64_t u;
    double f;
    ta_opt_bytes ob;
    ta_opt_content_ref oref;
    ta_content_ref ref = {TA_STR("hash")};
    ta_chain_event_list events;
    ta_str_list names;
    ta_content_ref_list refs;
    ta_str store = TA_STR("store");
    int failed = 0; /* the probe never runs: it counts failures only to use each status */

    /* runtime */
    ta_log("probe");
    events = ta_get_chain();
    failed += !ta_shutdown(TA_NONE).ok;
    /* message-server-host */
    failed += !ta_send(id, TA_BYTES("m")).ok;
    failed += !ta_request(id, TA_BYTES("m"), &b).ok;
    failed += !ta_open_channel(id, TA_BYTES("m"), &s).ok;
    failed += !ta_send_on_channel(s, TA_BYTES("m")).ok;
    failed += !ta_close_channel(s).ok;
    names = ta_list_outstanding_requests();
    failed += !ta_respond_to_request(TA_STR("r"), TA_BYTES("m")).ok;
    failed += !ta_cancel_request(TA_STR("r")).ok;
    /* supervisor */
    failed += !ta_spawn(TA_STR("m.toml"), ta_some(TA_BYTES("x")), &s).ok;
    failed += !ta_resume(TA_STR("m.toml"), TA_NONE, &s).ok;
    names = ta_list_children();
    failed += !ta_stop_child(s).ok;
    failed += !ta_restart_child(s).ok;
    failed += !ta_get_child_state(s, &ob).ok;
    failed += !ta_get_child_events(s, &events).ok;
    /* store */
    failed += !ta_store_new(&store).ok;
    failed += !ta_store_store(store, TA_BYTES("c"), &ref).ok;
    failed += !ta_store_get(store, ref, &b).ok;
    failed += !ta_store_exists(store, ref, &flag).ok;
    failed += !ta_store_label(store, TA_STR("l"), ref).ok;
    failed += !ta_store_get_by_label(store, TA_STR("l"), &oref).ok;
    failed += !ta_store_remove_label(store, TA_STR("l")).ok;
    failed += !ta_store_remove_from_label(store, TA_STR("l"), ref).ok;
    failed += !ta_store_store_at_label(store, TA_STR("l"), TA_BYTES("c"), &ref).ok;
    failed += !ta_store_replace_content_at_label(store, TA_STR("l"), TA_BYTES("c"), &ref).ok;
    failed += !ta_store_replace_at_label(store, TA_STR("l"), ref).ok;
    failed += !ta_store_list_labels(store, &names).ok;
    failed += !ta_store_list_all_content(store, &refs).ok;
    failed += !ta_store_calculate_total_size(store, &u).ok;
    /* timing */
    u = ta_now();
    failed += !ta_sleep(u).ok;
    failed += !ta_deadline(u).ok;
    /* random */
    failed += !ta_random_bytes(16, &b).ok;
    failed += !ta_random_range(1, u, &u).ok;
    failed += !ta_random_float(&f).ok;
    failed += !ta_generate_uuid(&s).ok;
    /* environment */
    ta_opt_str var = ta_env_get_var(TA_STR("HOME"));
    ta_env_var_list vars = ta_env_list_vars();
    flag = ta_env_exists(TA_STR("HOME"));
    /* filesystem */
    failed += !ta_fs_read_file(TA_STR("f"), &b).ok;
    failed += !ta_fs_write_file(TA_STR("f"), TA_STR("c")).ok;
    failed += !ta_fs_list_files(TA_STR("."), &names).ok;
    failed += !ta_fs_delete_file(TA_STR("f")).ok;
    failed += !ta_fs_create_dir(TA_STR("d")).ok;
    failed += !ta_fs_delete_dir(TA_STR("d")).ok;
    failed += !ta_fs_path_exists(TA_STR("d"), &flag).ok;
    /* http-client */
    ta_http_request hreq = {TA_STR("GET"), TA_STR("http://127.0.0.1/"), {0, 0}, TA_NONE};
    ta_http_response hresp;
    failed += !ta_http_send(hreq, &hresp).ok;
    /* http-framework */
    ta_http_server_config hcfg = {.has_port = true, .port = 8080, .has_tls = true};
    ta_http_server_info hinfo;
    ta_opt_u64 hid_opt = {true, 1};
    uint64_t server, handler, route, mw;
    uint16_t port;
    failed += !ta_http_create_server(&hcfg, &server).ok;
    failed += !ta_http_get_server_info(server, &hinfo).ok;
    failed += !ta_http_start_server(server, &port).ok;
    failed += !ta_http_register_handler(TA_STR("h"), &handler).ok;
    failed += !ta_http_add_route(server, TA_STR("/"), TA_STR("GET"), handler, &route).ok;
    failed += !ta_http_remove_route(route).ok;
    failed += !ta_http_add_middleware(server, TA_STR("/"), handler, &mw).ok;
    failed += !ta_http_remove_middleware(mw).ok;
    failed += !ta_http_enable_websocket(server, TA_STR("/ws"), hid_opt, handler, hid_opt).ok;
    failed += !ta_http_send_websocket_message(server, 1, ta_ws_text(TA_STR("t"))).ok;
    failed += !ta_http_close_websocket(server, 1).ok;
    failed += !ta_http_stop_server(server).ok;
    failed += !ta_http_destroy_server(server).ok;
    /* process */
    ta_process_config pc = {.program = TA_STR("/bin/true")};
    ta_process_status ps;
    uint64_t pid;
    uint32_t queued;
    failed += !ta_os_spawn(&pc, &pid).ok;
    failed += !ta_os_write_stdin(pid, TA_BYTES("x"), &queued).ok;
    failed += !ta_os_status(pid, &ps).ok;
    failed += !ta_os_signal(pid, 15).ok;
    failed += !ta_os_kill(pid).ok;

    ta_logf("%zu %zu %zu %d %d %zu %d %u %u", events.len, names.len, refs.len, (int)f, var.some,
            vars.len, flag, (unsigned)port, (unsigned)hinfo.routes_count);
    return failed ? ta_failf("%d host calls failed", failed) : TA_OK;
}

static ta_status probe_send(ta_state *state, ta_bytes msg)
{
    return TA_OK;
}

static ta_status probe_request(ta_state *state, ta_str rid, ta_bytes msg, ta_opt_bytes *resp)
{
    *resp = ta_some(msg);
    return TA_OK;
}

static ta_status probe_open(ta_state *state, ta_str ch, ta_bytes msg, ta_channel_accept *acc)
{
    acc->accepted = true;
    return TA_OK;
}

static ta_status probe_message(ta_state *state, ta_str ch, ta_bytes msg)
{
    return TA_OK;
}
static ta_status probe_close(ta_state *state, ta_str ch)
{
    return TA_OK;
}

static ta_status probe_child_error(ta_state *state, ta_str child, ta_actor_error err)
{
    return ta_fail(ta_error_type_name(err.error_type));
}

static ta_status probe_child_exit(ta_state *state, ta_str child, ta_opt_bytes data)
{
    return TA_OK;
}

static ta_status probe_child_stop(ta_state *state, ta_str child)
{
    return TA_OK;
}

TA_ACTOR_INIT(probe_init)
TA_HANDLE_SEND(probe_send)
TA_HANDLE_REQUEST(probe_request)
TA_HANDLE_CHANNEL_OPEN(probe_open)
TA_HANDLE_CHANNEL_MESSAGE(probe_message)
TA_HANDLE_CHANNEL_CLOSE(probe_close)
TA_HANDLE_CHILD_ERROR(probe_child_error)
TA_HANDLE_CHILD_EXIT(probe_child_exit)
static ta_status probe_output(ta_state *state, uint64_t pid, ta_bytes data)
{
    return TA_OK;
}

static ta_status probe_exit(ta_state *state, uint64_t pid, int32_t code)
{
    return TA_OK;
}

static ta_status probe_http_request(ta_state *state, uint64_t handler_id, ta_http_request req,
                                    ta_http_response *resp)
{
    resp->status = 204;
    return TA_OK;
}

static ta_status probe_middleware(ta_state *state, uint64_t handler_id, ta_http_request req,
                                  ta_http_middleware_result *result)
{
    result->proceed = req.body.some;
    return TA_OK;
}

static ta_status probe_ws_connect(ta_state *state, uint64_t handler_id, uint64_t conn, ta_str path,
                                  ta_opt_str protocol)
{
    return TA_OK;
}

static ta_status probe_ws_message(ta_state *state, uint64_t handler_id, uint64_t conn,
                                  ta_ws_message msg, ta_ws_message_list *replies)
{
    static ta_ws_message echo[1];
    echo[0] = msg;
    *replies = (ta_ws_message_list){echo, 1};
    return TA_OK;
}

static ta_status probe_ws_disconnect(ta_state *state, uint64_t handler_id, uint64_t conn)
{
    return TA_OK;
}

TA_HANDLE_CHILD_EXTERNAL_STOP(probe_child_stop)
TA_HANDLE_HTTP_REQUEST(probe_http_request)
TA_HANDLE_MIDDLEWARE(probe_middleware)
TA_HANDLE_WS_CONNECT(probe_ws_connect)
TA_HANDLE_WS_MESSAGE(probe_ws_message)
TA_HANDLE_WS_DISCONNECT(probe_ws_disconnect)
TA_HANDLE_STDOUT(probe_output)
TA_HANDLE_STDERR(probe_output)
TA_HANDLE_EXIT(probe_exit)
