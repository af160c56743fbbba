/*
 * theater_imports.c - typed wrappers for every host import of the
 * `theater:simple` interfaces. Each wrapper declares the core import with
 * import_module("theater:simple/<interface>") and import_name("<function>"),
 * passes strings and lists as (ptr, len) pairs and, when the result does not
 * fit one core value, a trailing retptr to a return area on the C stack that
 * the host fills (strings and lists inside it are allocated by the host
 * through cabi_realloc, so they are call-scoped). The wasm linker keeps only
 * the imports an actor uses. Part of the SDK compiled into every actor.
 */
#include "theater_int.h"

/* ------------------------------------------------------------------------ */
/* Imports                                                                  */
/* ------------------------------------------------------------------------ */
#if defined(__wasm__)

#define IMPORT(iface, name) \
    __attribute__((import_module("theater:simple/" iface), import_name(name)))

/* Return areas the host writes (retptr). Each is the Canonical ABI layout of
 * the import's result type; the static asserts below check it. */
typedef struct r_unit { uint8_t tag; union { th_str err; } u; } r_unit;           /* result<_, string> */
typedef struct r_str { uint8_t tag; union { th_str ok; th_str err; } u; } r_str; /* result<string, string> */
typedef struct r_bytes { uint8_t tag; union { th_bytes ok; th_str err; } u; } r_bytes;
typedef struct r_bool { uint8_t tag; union { uint8_t ok; th_str err; } u; } r_bool;
typedef struct r_u64 { uint8_t tag; union { uint64_t ok; th_str err; } u; } r_u64;
typedef struct r_f64 { uint8_t tag; union { double ok; th_str err; } u; } r_f64;
typedef struct r_ref { uint8_t tag; union { th_content_ref ok; th_str err; } u; } r_ref;
typedef struct r_opt_ref { uint8_t tag; union { th_opt_content_ref ok; th_str err; } u; } r_opt_ref;
typedef struct r_opt_bytes { uint8_t tag; union { th_opt_bytes ok; th_str err; } u; } r_opt_bytes;
typedef struct r_str_list { uint8_t tag; union { th_str_list ok; th_str err; } u; } r_str_list;
typedef struct r_ref_list { uint8_t tag; union { th_content_ref_list ok; th_str err; } u; } r_ref_list;
typedef struct r_events { uint8_t tag; union { th_chain_event_list ok; th_str err; } u; } r_events;

_Static_assert(sizeof(r_unit) == 12 && offsetof(r_unit, u) == 4, "result<_, string>: 12, @4");
_Static_assert(sizeof(r_str) == 12 && offsetof(r_str, u) == 4, "result<string, string>: 12, @4");
_Static_assert(sizeof(r_bytes) == 12 && offsetof(r_bytes, u) == 4, "result<list<u8>, string>");
_Static_assert(sizeof(r_bool) == 12 && offsetof(r_bool, u) == 4, "result<bool, string>");
_Static_assert(sizeof(r_u64) == 16 && offsetof(r_u64, u) == 8 && _Alignof(r_u64) == 8,
               "result<u64, string>: 16, @8");
_Static_assert(sizeof(r_f64) == 16 && offsetof(r_f64, u) == 8, "result<f64, string>: 16, @8");
_Static_assert(sizeof(r_ref) == 12 && offsetof(r_ref, u) == 4, "result<content-ref, string>");
_Static_assert(sizeof(r_opt_ref) == 16 && offsetof(r_opt_ref, u) == 4,
               "result<option<content-ref>, string>: 16, @4");
_Static_assert(sizeof(r_opt_bytes) == 16 && offsetof(r_opt_bytes, u) == 4,
               "result<option<list<u8>>, string>: 16, @4");
_Static_assert(sizeof(r_str_list) == 12 && sizeof(r_ref_list) == 12 && sizeof(r_events) == 12,
               "result<list<T>, string>: 12");

/* ok -> TH_OK; err -> the host's message (call-scoped). */
static th_status status_of(uint8_t tag, th_str err)
{
    return tag == 0 ? TH_OK : (th_status){.ok = false, .err = err};
}

/* Flattened option<list<u8>> arguments: none carries (0, 0). */
#define OPT_ARGS(o) (uint32_t)((o).some ? 1 : 0), (o).some ? (o).val.ptr : NULL, \
                    (o).some ? (o).val.len : 0

/* --- runtime --------------------------------------------------------------- */

IMPORT("runtime", "log") void th__imp_log(const char *p, size_t n);
IMPORT("runtime", "get-chain") void th__imp_get_chain(th_chain_event_list *ret);
IMPORT("runtime", "shutdown") void th__imp_shutdown(uint32_t some, const uint8_t *p, size_t n,
                                                   r_unit *ret);

void th_log_str(th_str msg)
{
    th_str fixed = th_utf8_fix(msg);
    th__imp_log(fixed.ptr, fixed.len);
    if (fixed.ptr != msg.ptr)
        th_free((void *)(uintptr_t)fixed.ptr);
}

void th_log(const char *msg) { th_log_str(th_str_c(msg)); }

void th_logf(const char *fmt, ...)
{
    char buf[256];
    va_list ap, again;
    va_start(ap, fmt);
    va_copy(again, ap);
    size_t n = th_vfmt(buf, sizeof buf, fmt, ap);
    if (n < sizeof buf) {
        th_log_str((th_str){buf, n});
    } else {
        th_str s = th__vformat_scoped(fmt, again);
        th_log_str(s);
        th_free((void *)(uintptr_t)s.ptr);
    }
    va_end(again);
    va_end(ap);
}

th_chain_event_list th_get_chain(void)
{
    th_chain_event_list ret;
    th__imp_get_chain(&ret);
    return ret;
}

th_status th_shutdown(th_opt_bytes data)
{
    r_unit r;
    th__imp_shutdown(OPT_ARGS(data), &r);
    return status_of(r.tag, r.u.err);
}

/* --- message-server-host ---------------------------------------------------- */

IMPORT("message-server-host", "send")
void th__imp_send(const char *id, size_t idl, const uint8_t *m, size_t ml, r_unit *ret);
IMPORT("message-server-host", "request")
void th__imp_request(const char *id, size_t idl, const uint8_t *m, size_t ml, r_bytes *ret);
IMPORT("message-server-host", "open-channel")
void th__imp_open_channel(const char *id, size_t idl, const uint8_t *m, size_t ml, r_str *ret);
IMPORT("message-server-host", "send-on-channel")
void th__imp_send_on_channel(const char *c, size_t cl, const uint8_t *m, size_t ml, r_unit *ret);
IMPORT("message-server-host", "close-channel")
void th__imp_close_channel(const char *c, size_t cl, r_unit *ret);
IMPORT("message-server-host", "list-outstanding-requests")
void th__imp_list_outstanding_requests(th_str_list *ret);
IMPORT("message-server-host", "respond-to-request")
void th__imp_respond_to_request(const char *r, size_t rl, const uint8_t *m, size_t ml,
                                r_unit *ret);
IMPORT("message-server-host", "cancel-request")
void th__imp_cancel_request(const char *r, size_t rl, r_unit *ret);

th_status th_send(th_str actor_id, th_bytes msg)
{
    r_unit r;
    th__imp_send(actor_id.ptr, actor_id.len, msg.ptr, msg.len, &r);
    return status_of(r.tag, r.u.err);
}

th_status th_request(th_str actor_id, th_bytes msg, th_bytes *response)
{
    r_bytes r;
    th__imp_request(actor_id.ptr, actor_id.len, msg.ptr, msg.len, &r);
    if (r.tag == 0)
        *response = r.u.ok;
    return status_of(r.tag, r.u.err);
}

th_status th_open_channel(th_str actor_id, th_bytes initial_msg, th_str *channel_id)
{
    r_str r;
    th__imp_open_channel(actor_id.ptr, actor_id.len, initial_msg.ptr, initial_msg.len, &r);
    if (r.tag == 0)
        *channel_id = r.u.ok;
    return status_of(r.tag, r.u.err);
}

th_status th_send_on_channel(th_str channel_id, th_bytes msg)
{
    r_unit r;
    th__imp_send_on_channel(channel_id.ptr, channel_id.len, msg.ptr, msg.len, &r);
    return status_of(r.tag, r.u.err);
}

th_status th_close_channel(th_str channel_id)
{
    r_unit r;
    th__imp_close_channel(channel_id.ptr, channel_id.len, &r);
    return status_of(r.tag, r.u.err);
}

th_str_list th_list_outstanding_requests(void)
{
    th_str_list ret;
    th__imp_list_outstanding_requests(&ret);
    return ret;
}

th_status th_respond_to_request(th_str request_id, th_bytes response)
{
    r_unit r;
    th__imp_respond_to_request(request_id.ptr, request_id.len, response.ptr, response.len, &r);
    return status_of(r.tag, r.u.err);
}

th_status th_cancel_request(th_str request_id)
{
    r_unit r;
    th__imp_cancel_request(request_id.ptr, request_id.len, &r);
    return status_of(r.tag, r.u.err);
}

/* --- supervisor --------------------------------------------------------------- */

IMPORT("supervisor", "spawn")
void th__imp_spawn(const char *m, size_t ml, uint32_t some, const uint8_t *p, size_t n,
                   r_str *ret);
IMPORT("supervisor", "resume")
void th__imp_resume(const char *m, size_t ml, uint32_t some, const uint8_t *p, size_t n,
                    r_str *ret);
IMPORT("supervisor", "list-children") void th__imp_list_children(th_str_list *ret);
IMPORT("supervisor", "stop-child") void th__imp_stop_child(const char *c, size_t cl, r_unit *ret);
IMPORT("supervisor", "restart-child")
void th__imp_restart_child(const char *c, size_t cl, r_unit *ret);
IMPORT("supervisor", "get-child-state")
void th__imp_get_child_state(const char *c, size_t cl, r_opt_bytes *ret);
IMPORT("supervisor", "get-child-events")
void th__imp_get_child_events(const char *c, size_t cl, r_events *ret);

th_status th_spawn(th_str manifest, th_opt_bytes init_bytes, th_str *child_id)
{
    r_str r;
    th__imp_spawn(manifest.ptr, manifest.len, OPT_ARGS(init_bytes), &r);
    if (r.tag == 0)
        *child_id = r.u.ok;
    return status_of(r.tag, r.u.err);
}

th_status th_resume(th_str manifest, th_opt_bytes init_state, th_str *child_id)
{
    r_str r;
    th__imp_resume(manifest.ptr, manifest.len, OPT_ARGS(init_state), &r);
    if (r.tag == 0)
        *child_id = r.u.ok;
    return status_of(r.tag, r.u.err);
}

th_str_list th_list_children(void)
{
    th_str_list ret;
    th__imp_list_children(&ret);
    return ret;
}

th_status th_stop_child(th_str child_id)
{
    r_unit r;
    th__imp_stop_child(child_id.ptr, child_id.len, &r);
    return status_of(r.tag, r.u.err);
}

th_status th_restart_child(th_str child_id)
{
    r_unit r;
    th__imp_restart_child(child_id.ptr, child_id.len, &r);
    return status_of(r.tag, r.u.err);
}

th_status th_get_child_state(th_str child_id, th_opt_bytes *state)
{
    r_opt_bytes r;
    th__imp_get_child_state(child_id.ptr, child_id.len, &r);
    if (r.tag == 0)
        *state = th__opt_out(r.u.ok);
    return status_of(r.tag, r.u.err);
}

th_status th_get_child_events(th_str child_id, th_chain_event_list *events)
{
    r_events r;
    th__imp_get_child_events(child_id.ptr, child_id.len, &r);
    if (r.tag == 0)
        *events = r.u.ok;
    return status_of(r.tag, r.u.err);
}

/* --- store ----------------------------------------------------------------------- */

IMPORT("store", "new") void th__imp_store_new(r_str *ret);
IMPORT("store", "store")
void th__imp_store_store(const char *s, size_t sl, const uint8_t *c, size_t cl, r_ref *ret);
IMPORT("store", "get")
void th__imp_store_get(const char *s, size_t sl, const char *h, size_t hl, r_bytes *ret);
IMPORT("store", "exists")
void th__imp_store_exists(const char *s, size_t sl, const char *h, size_t hl, r_bool *ret);
IMPORT("store", "label")
void th__imp_store_label(const char *s, size_t sl, const char *l, size_t ll, const char *h,
                         size_t hl, r_unit *ret);
IMPORT("store", "get-by-label")
void th__imp_store_get_by_label(const char *s, size_t sl, const char *l, size_t ll,
                                r_opt_ref *ret);
IMPORT("store", "remove-label")
void th__imp_store_remove_label(const char *s, size_t sl, const char *l, size_t ll, r_unit *ret);
IMPORT("store", "remove-from-label")
void th__imp_store_remove_from_label(const char *s, size_t sl, const char *l, size_t ll,
                                     const char *h, size_t hl, r_unit *ret);
IMPORT("store", "store-at-label")
void th__imp_store_store_at_label(const char *s, size_t sl, const char *l, size_t ll,
                                  const uint8_t *c, size_t cl, r_ref *ret);
IMPORT("store", "replace-content-at-label")
void th__imp_store_replace_content_at_label(const char *s, size_t sl, const char *l, size_t ll,
                                            const uint8_t *c, size_t cl, r_ref *ret);
IMPORT("store", "replace-at-label")
void th__imp_store_replace_at_label(const char *s, size_t sl, const char *l, size_t ll,
                                    const char *h, size_t hl, r_unit *ret);
IMPORT("store", "list-labels")
void th__imp_store_list_labels(const char *s, size_t sl, r_str_list *ret);
IMPORT("store", "list-all-content")
void th__imp_store_list_all_content(const char *s, size_t sl, r_ref_list *ret);
IMPORT("store", "calculate-total-size")
void th__imp_store_calculate_total_size(const char *s, size_t sl, r_u64 *ret);

th_status th_store_new(th_str *store_id)
{
    r_str r;
    th__imp_store_new(&r);
    if (r.tag == 0)
        *store_id = r.u.ok;
    return status_of(r.tag, r.u.err);
}

th_status th_store_store(th_str store_id, th_bytes content, th_content_ref *ref)
{
    r_ref r;
    th__imp_store_store(store_id.ptr, store_id.len, content.ptr, content.len, &r);
    if (r.tag == 0)
        *ref = r.u.ok;
    return status_of(r.tag, r.u.err);
}

th_status th_store_get(th_str store_id, th_content_ref ref, th_bytes *content)
{
    r_bytes r;
    th__imp_store_get(store_id.ptr, store_id.len, ref.hash.ptr, ref.hash.len, &r);
    if (r.tag == 0)
        *content = r.u.ok;
    return status_of(r.tag, r.u.err);
}

th_status th_store_exists(th_str store_id, th_content_ref ref, bool *exists)
{
    r_bool r;
    th__imp_store_exists(store_id.ptr, store_id.len, ref.hash.ptr, ref.hash.len, &r);
    if (r.tag == 0)
        *exists = r.u.ok != 0;
    return status_of(r.tag, r.u.err);
}

th_status th_store_label(th_str store_id, th_str label, th_content_ref ref)
{
    r_unit r;
    th__imp_store_label(store_id.ptr, store_id.len, label.ptr, label.len, ref.hash.ptr,
                        ref.hash.len, &r);
    return status_of(r.tag, r.u.err);
}

th_status th_store_get_by_label(th_str store_id, th_str label, th_opt_content_ref *ref)
{
    r_opt_ref r;
    th__imp_store_get_by_label(store_id.ptr, store_id.len, label.ptr, label.len, &r);
    if (r.tag == 0) {
        ref->some = r.u.ok.some;
        ref->val = r.u.ok.some ? r.u.ok.val : (th_content_ref){{NULL, 0}};
    }
    return status_of(r.tag, r.u.err);
}

th_status th_store_remove_label(th_str store_id, th_str label)
{
    r_unit r;
    th__imp_store_remove_label(store_id.ptr, store_id.len, label.ptr, label.len, &r);
    return status_of(r.tag, r.u.err);
}

th_status th_store_remove_from_label(th_str store_id, th_str label, th_content_ref ref)
{
    r_unit r;
    th__imp_store_remove_from_label(store_id.ptr, store_id.len, label.ptr, label.len,
                                    ref.hash.ptr, ref.hash.len, &r);
    return status_of(r.tag, r.u.err);
}

th_status th_store_store_at_label(th_str store_id, th_str label, th_bytes content,
                                  th_content_ref *ref)
{
    r_ref r;
    th__imp_store_store_at_label(store_id.ptr, store_id.len, label.ptr, label.len, content.ptr,
                                 content.len, &r);
    if (r.tag == 0)
        *ref = r.u.ok;
    return status_of(r.tag, r.u.err);
}

th_status th_store_replace_content_at_label(th_str store_id, th_str label, th_bytes content,
                                           th_content_ref *ref)
{
    r_ref r;
    th__imp_store_replace_content_at_label(store_id.ptr, store_id.len, label.ptr, label.len,
                                           content.ptr, content.len, &r);
    if (r.tag == 0)
        *ref = r.u.ok;
    return status_of(r.tag, r.u.err);
}

th_status th_store_replace_at_label(th_str store_id, th_str label, th_content_ref ref)
{
    r_unit r;
    th__imp_store_replace_at_label(store_id.ptr, store_id.len, label.ptr, label.len,
                                   ref.hash.ptr, ref.hash.len, &r);
    return status_of(r.tag, r.u.err);
}

th_status th_store_list_labels(th_str store_id, th_str_list *labels)
{
    r_str_list r;
    th__imp_store_list_labels(store_id.ptr, store_id.len, &r);
    if (r.tag == 0)
        *labels = r.u.ok;
    return status_of(r.tag, r.u.err);
}

th_status th_store_list_all_content(th_str store_id, th_content_ref_list *refs)
{
    r_ref_list r;
    th__imp_store_list_all_content(store_id.ptr, store_id.len, &r);
    if (r.tag == 0)
        *refs = r.u.ok;
    return status_of(r.tag, r.u.err);
}

th_status th_store_calculate_total_size(th_str store_id, uint64_t *size)
{
    r_u64 r;
    th__imp_store_calculate_total_size(store_id.ptr, store_id.len, &r);
    if (r.tag == 0)
        *size = r.u.ok;
    return status_of(r.tag, r.u.err);
}

/* --- timing -------------------------------------------------------------------- */

IMPORT("timing", "now") uint64_t th__imp_now(void);
IMPORT("timing", "sleep") void th__imp_sleep(uint64_t duration, r_unit *ret);
IMPORT("timing", "deadline") void th__imp_deadline(uint64_t timestamp, r_unit *ret);

uint64_t th_now(void) { return th__imp_now(); }

th_status th_sleep(uint64_t duration_ms)
{
    r_unit r;
    th__imp_sleep(duration_ms, &r);
    return status_of(r.tag, r.u.err);
}

th_status th_deadline(uint64_t timestamp_ms)
{
    r_unit r;
    th__imp_deadline(timestamp_ms, &r);
    return status_of(r.tag, r.u.err);
}

/* --- random -------------------------------------------------------------------- */

IMPORT("random", "random-bytes") void th__imp_random_bytes(uint32_t length, r_bytes *ret);
IMPORT("random", "random-range") void th__imp_random_range(uint64_t min, uint64_t max, r_u64 *ret);
IMPORT("random", "random-float") void th__imp_random_float(r_f64 *ret);
IMPORT("random", "generate-uuid") void th__imp_generate_uuid(r_str *ret);

th_status th_random_bytes(uint32_t length, th_bytes *bytes)
{
    r_bytes r;
    th__imp_random_bytes(length, &r);
    if (r.tag == 0)
        *bytes = r.u.ok;
    return status_of(r.tag, r.u.err);
}

th_status th_random_range(uint64_t min, uint64_t max, uint64_t *value)
{
    r_u64 r;
    th__imp_random_range(min, max, &r);
    if (r.tag == 0)
        *value = r.u.ok;
    return status_of(r.tag, r.u.err);
}

th_status th_random_float(double *value)
{
    r_f64 r;
    th__imp_random_float(&r);
    if (r.tag == 0)
        *value = r.u.ok;
    return status_of(r.tag, r.u.err);
}

th_status th_generate_uuid(th_str *uuid)
{
    r_str r;
    th__imp_generate_uuid(&r);
    if (r.tag == 0)
        *uuid = r.u.ok;
    return status_of(r.tag, r.u.err);
}

/* --- environment --------------------------------------------------------------- */

IMPORT("environment", "get-var") void th__imp_env_get_var(const char *n, size_t nl, th_opt_str *ret);
IMPORT("environment", "list-vars") void th__imp_env_list_vars(th_env_var_list *ret);
IMPORT("environment", "exists") int32_t th__imp_env_exists(const char *n, size_t nl);

th_opt_str th_env_get_var(th_str name)
{
    th_opt_str r;
    th__imp_env_get_var(name.ptr, name.len, &r);
    if (!r.some)
        r.val = (th_str){NULL, 0};
    return r;
}

th_env_var_list th_env_list_vars(void)
{
    th_env_var_list ret;
    th__imp_env_list_vars(&ret);
    return ret;
}

bool th_env_exists(th_str name) { return th__imp_env_exists(name.ptr, name.len) != 0; }

/* --- filesystem ---------------------------------------------------------------- */

IMPORT("filesystem", "read-file") void th__imp_fs_read_file(const char *p, size_t pl, r_bytes *ret);
IMPORT("filesystem", "write-file")
void th__imp_fs_write_file(const char *p, size_t pl, const char *c, size_t cl, r_unit *ret);
IMPORT("filesystem", "list-files")
void th__imp_fs_list_files(const char *p, size_t pl, r_str_list *ret);
IMPORT("filesystem", "delete-file") void th__imp_fs_delete_file(const char *p, size_t pl, r_unit *ret);
IMPORT("filesystem", "create-dir") void th__imp_fs_create_dir(const char *p, size_t pl, r_unit *ret);
IMPORT("filesystem", "delete-dir") void th__imp_fs_delete_dir(const char *p, size_t pl, r_unit *ret);
IMPORT("filesystem", "path-exists") void th__imp_fs_path_exists(const char *p, size_t pl, r_bool *ret);

th_status th_fs_read_file(th_str path, th_bytes *content)
{
    r_bytes r;
    th__imp_fs_read_file(path.ptr, path.len, &r);
    if (r.tag == 0)
        *content = r.u.ok;
    return status_of(r.tag, r.u.err);
}

th_status th_fs_write_file(th_str path, th_str content)
{
    r_unit r;
    th__imp_fs_write_file(path.ptr, path.len, content.ptr, content.len, &r);
    return status_of(r.tag, r.u.err);
}

th_status th_fs_list_files(th_str path, th_str_list *names)
{
    r_str_list r;
    th__imp_fs_list_files(path.ptr, path.len, &r);
    if (r.tag == 0)
        *names = r.u.ok;
    return status_of(r.tag, r.u.err);
}

th_status th_fs_delete_file(th_str path)
{
    r_unit r;
    th__imp_fs_delete_file(path.ptr, path.len, &r);
    return status_of(r.tag, r.u.err);
}

th_status th_fs_create_dir(th_str path)
{
    r_unit r;
    th__imp_fs_create_dir(path.ptr, path.len, &r);
    return status_of(r.tag, r.u.err);
}

th_status th_fs_delete_dir(th_str path)
{
    r_unit r;
    th__imp_fs_delete_dir(path.ptr, path.len, &r);
    return status_of(r.tag, r.u.err);
}

th_status th_fs_path_exists(th_str path, bool *exists)
{
    r_bool r;
    th__imp_fs_path_exists(path.ptr, path.len, &r);
    if (r.tag == 0)
        *exists = r.u.ok != 0;
    return status_of(r.tag, r.u.err);
}

#endif /* __wasm__ */

