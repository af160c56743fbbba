/*
 * abi_probe.c - not an example: an actor that defines every guest export
 * and calls every host import wrapper of the SDK, so that its module holds
 * the SDK's complete import/export surface. tests/unit/test_sdk_abi.c checks
 * each of its core names and signatures against the WIT of the ABI.
 */
#include "theater.h"

static th_status probe_init(th_state *state, th_str id)
{
    th_str s;
    th_bytes b;
    bool flag;
    uint64_t u;
    double f;
    th_opt_bytes ob;
    th_opt_content_ref oref;
    th_content_ref ref = {TH_STR("hash")};
    th_chain_event_list events;
    th_str_list names;
    th_content_ref_list refs;
    th_str store = TH_STR("store");

    /* runtime */
    th_log("probe");
    events = th_get_chain();
    TH_TRY(th_shutdown(TH_NONE));
    /* message-server-host */
    TH_TRY(th_send(id, TH_BYTES("m")));
    TH_TRY(th_request(id, TH_BYTES("m"), &b));
    TH_TRY(th_open_channel(id, TH_BYTES("m"), &s));
    TH_TRY(th_send_on_channel(s, TH_BYTES("m")));
    TH_TRY(th_close_channel(s));
    names = th_list_outstanding_requests();
    TH_TRY(th_respond_to_request(TH_STR("r"), TH_BYTES("m")));
    TH_TRY(th_cancel_request(TH_STR("r")));
    /* supervisor */
    TH_TRY(th_spawn(TH_STR("m.toml"), th_some(TH_BYTES("x")), &s));
    TH_TRY(th_resume(TH_STR("m.toml"), TH_NONE, &s));
    names = th_list_children();
    TH_TRY(th_stop_child(s));
    TH_TRY(th_restart_child(s));
    TH_TRY(th_get_child_state(s, &ob));
    TH_TRY(th_get_child_events(s, &events));
    /* store */
    TH_TRY(th_store_new(&store));
    TH_TRY(th_store_store(store, TH_BYTES("c"), &ref));
    TH_TRY(th_store_get(store, ref, &b));
    TH_TRY(th_store_exists(store, ref, &flag));
    TH_TRY(th_store_label(store, TH_STR("l"), ref));
    TH_TRY(th_store_get_by_label(store, TH_STR("l"), &oref));
    TH_TRY(th_store_remove_label(store, TH_STR("l")));
    TH_TRY(th_store_remove_from_label(store, TH_STR("l"), ref));
    TH_TRY(th_store_store_at_label(store, TH_STR("l"), TH_BYTES("c"), &ref));
    TH_TRY(th_store_replace_content_at_label(store, TH_STR("l"), TH_BYTES("c"), &ref));
    TH_TRY(th_store_replace_at_label(store, TH_STR("l"), ref));
    TH_TRY(th_store_list_labels(store, &names));
    TH_TRY(th_store_list_all_content(store, &refs));
    TH_TRY(th_store_calculate_total_size(store, &u));
    /* timing */
    u = th_now();
    TH_TRY(th_sleep(u));
    TH_TRY(th_deadline(u));
    /* random */
    TH_TRY(th_random_bytes(16, &b));
    TH_TRY(th_random_range(1, u, &u));
    TH_TRY(th_random_float(&f));
    TH_TRY(th_generate_uuid(&s));
    /* environment */
    th_opt_str var = th_env_get_var(TH_STR("HOME"));
    th_env_var_list vars = th_env_list_vars();
    flag = th_env_exists(TH_STR("HOME"));
    /* filesystem */
    TH_TRY(th_fs_read_file(TH_STR("f"), &b));
    TH_TRY(th_fs_write_file(TH_STR("f"), TH_STR("c")));
    TH_TRY(th_fs_list_files(TH_STR("."), &names));
    TH_TRY(th_fs_delete_file(TH_STR("f")));
    TH_TRY(th_fs_create_dir(TH_STR("d")));
    TH_TRY(th_fs_delete_dir(TH_STR("d")));
    TH_TRY(th_fs_path_exists(TH_STR("d"), &flag));

    th_logf("%zu %zu %zu %d %d %zu %d", events.len, names.len, refs.len, (int)f, var.some,
            vars.len, flag);
    return TH_OK;
}

static th_status probe_send(th_state *state, th_bytes msg) { return TH_OK; }

static th_status probe_request(th_state *state, th_str rid, th_bytes msg, th_opt_bytes *resp)
{
    *resp = th_some(msg);
    return TH_OK;
}

static th_status probe_open(th_state *state, th_str ch, th_bytes msg, th_channel_accept *acc)
{
    acc->accepted = true;
    return TH_OK;
}

static th_status probe_message(th_state *state, th_str ch, th_bytes msg) { return TH_OK; }
static th_status probe_close(th_state *state, th_str ch) { return TH_OK; }

static th_status probe_child_error(th_state *state, th_str child, th_actor_error err)
{
    return th_fail(th_error_type_name(err.error_type));
}

static th_status probe_child_exit(th_state *state, th_str child, th_opt_bytes data)
{
    return TH_OK;
}

static th_status probe_child_stop(th_state *state, th_str child) { return TH_OK; }

TH_ACTOR_INIT(probe_init)
TH_HANDLE_SEND(probe_send)
TH_HANDLE_REQUEST(probe_request)
TH_HANDLE_CHANNEL_OPEN(probe_open)
TH_HANDLE_CHANNEL_MESSAGE(probe_message)
TH_HANDLE_CHANNEL_CLOSE(probe_close)
TH_HANDLE_CHILD_ERROR(probe_child_error)
TH_HANDLE_CHILD_EXIT(probe_child_exit)
TH_HANDLE_CHILD_EXTERNAL_STOP(probe_child_stop)
