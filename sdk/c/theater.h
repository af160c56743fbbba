/*
 * theater.h - the C guest SDK for Theater actors.
 *
 * An actor is a core WebAssembly module that imports and exports the
 * `theater:simple` interfaces lowered by the Component Model Canonical ABI
 * (see docs/sdk.md and the project's ABI description). This header gives
 * actor authors:
 *
 *   - plain C types for the WIT types (th_str, th_bytes, th_opt_bytes, ...)
 *     whose memory layout on wasm32 IS the Canonical ABI layout, so lists the
 *     host writes into guest memory can be used in place;
 *   - one macro per guest export (TH_ACTOR_INIT, TH_HANDLE_SEND, ...) that
 *     defines the exported core function, lifts its arguments, calls the
 *     author's typed C handler and lowers its result into the return area;
 *   - a typed wrapper for every host import of every interface;
 *   - an allocator (`cabi_realloc`, th_alloc/th_free) over memory.grow, a
 *     small printf-style formatter and a reader for JSON string fields.
 *
 * Build an actor by compiling its sources together with the SDK sources
 * (theater.c, theater_text.c, theater_imports.c):
 *
 *   clang --target=wasm32 -O2 -nostdlib -ffreestanding -I sdk/c \
 *         -fuse-ld=lld -Wl,--no-entry actor.c sdk/c/theater*.c -o actor.wasm
 *
 * MEMORY OWNERSHIP (the one rule to remember): everything the SDK hands to
 * a handler - the incoming state, the handler's parameters, and every string
 * or list a host call returns - is "call-scoped": it stays valid until the
 * handler returns to the host and is then freed automatically (at the
 * export's post-return). Copy what you want to keep (th_bytes_dup /
 * th_str_dup, freed with th_free) or detach a single block with th_keep().
 * Memory you get from th_alloc is yours until you th_free it. Values a
 * handler returns (new state, response, error message) must stay valid until
 * the handler has returned: static data, call-scoped data, or memory from
 * th_state_set / th_fail / th_format, which the SDK frees after the host has
 * read it.
 *
 * Actors run one operation at a time, so nothing here is thread-safe and
 * nothing needs to be.
 */
#ifndef THEATER_SDK_H
#define THEATER_SDK_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* WIT types as C types                                                     */
/* ------------------------------------------------------------------------ */

/* string: UTF-8 bytes, NOT NUL-terminated. Layout {u32 ptr, u32 len}. */
typedef struct th_str {
    const char *ptr;
    size_t len;
} th_str;

/* list<u8>. Layout {u32 ptr, u32 len}. */
typedef struct th_bytes {
    const uint8_t *ptr;
    size_t len;
} th_bytes;

/* option<list<u8>>: some = discriminant (0 none, 1 some). Layout 12, align 4. */
typedef struct th_opt_bytes {
    bool some;
    th_bytes val;
} th_opt_bytes;

/* option<string>. Layout 12, align 4. */
typedef struct th_opt_str {
    bool some;
    th_str val;
} th_opt_str;

/* An actor's state: option<list<u8>>, threaded through every export. */
typedef th_opt_bytes th_state;

/* types.channel-accept. Layout 16, align 4 (accepted @0, message @4). */
typedef struct th_channel_accept {
    bool accepted;
    th_opt_bytes message;
} th_channel_accept;

/* types.chain-event. Layout 64, align 8. */
typedef struct th_chain_event {
    th_bytes hash;
    th_opt_bytes parent_hash;
    th_str event_type;
    th_bytes data;
    uint64_t timestamp;
    th_opt_str description;
} th_chain_event;

/* types.wit-error-type (an enum: a u8 in memory, an i32 when flat). */
typedef enum th_error_type {
    TH_ERROR_OPERATION_TIMEOUT = 0,
    TH_ERROR_CHANNEL_CLOSED = 1,
    TH_ERROR_SHUTTING_DOWN = 2,
    TH_ERROR_FUNCTION_NOT_FOUND = 3,
    TH_ERROR_TYPE_MISMATCH = 4,
    TH_ERROR_INTERNAL = 5,
    TH_ERROR_SERIALIZATION_ERROR = 6,
    TH_ERROR_UPDATE_COMPONENT_ERROR = 7,
    TH_ERROR_PAUSED = 8,
} th_error_type;

/* types.wit-actor-error, as handed to handle-child-error. */
typedef struct th_actor_error {
    th_error_type error_type;
    th_opt_bytes data;
} th_actor_error;

/* store.content-ref {hash: string}. Layout 8, align 4. */
typedef struct th_content_ref {
    th_str hash;
} th_content_ref;

/* option<content-ref>. Layout 12, align 4. */
typedef struct th_opt_content_ref {
    bool some;
    th_content_ref val;
} th_opt_content_ref;

/* tuple<string, string> of environment.list-vars. Layout 16, align 4. */
typedef struct th_env_var {
    th_str name;
    th_str value;
} th_env_var;

/* Lists of records: {u32 ptr, u32 count}. */
typedef struct th_str_list {
    th_str *items;
    size_t len;
} th_str_list;
typedef struct th_content_ref_list {
    th_content_ref *items;
    size_t len;
} th_content_ref_list;
typedef struct th_chain_event_list {
    th_chain_event *items;
    size_t len;
} th_chain_event_list;
typedef struct th_env_var_list {
    th_env_var *items;
    size_t len;
} th_env_var_list;

/*
 * The outcome of a handler or of a host call returning result<_, string>:
 * ok, or failed with a UTF-8 message. For host calls the message is
 * call-scoped host memory; a handler may return it as its own failure.
 */
typedef struct th_status {
    bool ok;
    th_str err;
} th_status;

#define TH_OK ((th_status){.ok = true, .err = {0, 0}})

/* Evaluates a th_status expression and returns it from the enclosing
 * handler when it failed: TH_TRY(th_send(peer, msg)); */
#define TH_TRY(expr)                                                               \
    do {                                                                           \
        th_status th__try = (expr);                                                \
        if (!th__try.ok)                                                           \
            return th__try;                                                        \
    } while (0)

/* Literal helpers. TH_STR("abc") is a th_str over a string literal. */
#define TH_STR(lit) ((th_str){(lit), sizeof(lit) - 1})
#define TH_BYTES(lit) ((th_bytes){(const uint8_t *)(lit), sizeof(lit) - 1})
#define TH_NONE ((th_opt_bytes){.some = false, .val = {0, 0}})
/* Arguments for "%.*s" in th_logf/th_format: th_logf("id %.*s", TH_FMT(id)). */
#define TH_FMT(s) (int)(s).len, (const char *)(s).ptr

/* ------------------------------------------------------------------------ */
/* Memory                                                                   */
/* ------------------------------------------------------------------------ */

/* Allocates n bytes aligned to 8; returns NULL when memory cannot grow.
 * The caller owns the block and frees it with th_free. */
void *th_alloc(size_t n);
/* Like th_alloc, zero-filled. */
void *th_calloc(size_t n);
/* Resizes a block from th_alloc (or NULL); returns NULL on failure, leaving
 * the old block intact. A call-scoped block stays call-scoped. */
void *th_realloc(void *p, size_t n);
/* Frees a block from th_alloc/th_realloc, or a call-scoped block early.
 * NULL and pointers outside the heap (static data) are ignored. */
void th_free(void *p);
/* Detaches a call-scoped block (a parameter, a host result) so that it
 * survives the call; the caller then owns it and frees it with th_free.
 * Detaches only that block, not blocks it points to. Returns p. */
void *th_keep(const void *p);
/* Call-scoped allocation: freed automatically after the current export
 * returns. Traps when out of memory. */
void *th_scoped_alloc(size_t n);

/* Owned copies (th_free them); NULL/empty results on allocation failure. */
th_bytes th_bytes_dup(th_bytes b);
th_str th_str_dup(th_str s);
/* Call-scoped copies; trap when out of memory. */
th_bytes th_bytes_scoped(const void *ptr, size_t len);
th_str th_str_scoped(const char *ptr, size_t len);

/* ------------------------------------------------------------------------ */
/* Strings, bytes, formatting                                               */
/* ------------------------------------------------------------------------ */

/* A th_str over a NUL-terminated string (borrowed). */
th_str th_str_c(const char *s);
/* The bytes of a string and the string of some bytes (no copy, no check). */
th_bytes th_str_bytes(th_str s);
th_str th_bytes_str(th_bytes b);
bool th_str_eq(th_str a, th_str b);
bool th_str_eq_c(th_str a, const char *c);
bool th_bytes_eq_c(th_bytes a, const char *c);
/* True when b begins with the NUL-terminated prefix. */
bool th_bytes_starts_with(th_bytes b, const char *prefix);
/* Parses all of b as a decimal u64 (no sign, no spaces, no overflow). */
bool th_parse_u64(th_bytes b, uint64_t *out);

/*
 * printf-style formatting into buf (always NUL-terminated when cap > 0).
 * Returns the length the full output needs, like snprintf. Supports the
 * flags '-' '0', width and precision (also '*'), the lengths hh h l ll z j t
 * and the conversions d i u x X o c s p %; no floating point.
 */
size_t th_fmt(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
size_t th_vfmt(char *buf, size_t cap, const char *fmt, va_list ap) __attribute__((format(printf, 3, 0)));
/* Formats into call-scoped memory. */
th_str th_format(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* True when s is valid UTF-8 (strings crossing to the host must be). */
bool th_utf8_valid(th_str s);
/* s itself when valid, else a call-scoped copy with U+FFFD in place of each
 * byte that does not start a valid sequence. th_log* and th_fail* apply it. */
th_str th_utf8_fix(th_str s);

/*
 * Finds the string value of `key` in the top-level JSON object `json`.
 * Returns true and sets *out (escapes decoded; the value is borrowed from
 * json or call-scoped) when the key exists with a string value; false when
 * json is not an object, the key is missing or its value is not a string.
 * Useful because a manifest's init_state arrives as JSON text.
 */
bool th_json_get_str(th_bytes json, const char *key, th_str *out);

/* The WIT name of an error type ("operation-timeout", ...), "unknown" if out of range. */
const char *th_error_type_name(th_error_type t);

/* Aborts the current call with a trap (an actor failure for the runtime). */
__attribute__((noreturn)) void th_trap(void);

/* ------------------------------------------------------------------------ */
/* Handler results                                                          */
/* ------------------------------------------------------------------------ */

/* A failure with a copy of msg (call-scoped). */
th_status th_fail(const char *msg);
th_status th_fail_str(th_str msg);
th_status th_failf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Sets the new state to a call-scoped copy of len bytes at data. */
void th_state_set(th_state *state, const void *data, size_t len);
/* Sets the new state to `none`. */
void th_state_clear(th_state *state);
/* Sets an option<list<u8>> (a response, an accept message) to a call-scoped copy. */
void th_opt_set(th_opt_bytes *opt, const void *data, size_t len);
/* option `some` over bytes without copying (they must outlive the call). */
th_opt_bytes th_some(th_bytes b);

/* ------------------------------------------------------------------------ */
/* Exports: one macro per function of the guest interfaces                  */
/* ------------------------------------------------------------------------ */

/*
 * Each handler gets `state`: on entry the actor's current state, on return
 * the new one (leave it alone to keep it). Return TH_OK, or a failure
 * (th_fail...), which the runtime records as an actor failure and reports to
 * the parent. A trap (th_trap) is a failure too.
 */
typedef th_status (*th_init_fn)(th_state *state, th_str actor_id);
typedef th_status (*th_send_fn)(th_state *state, th_bytes msg);
/* *response starts as none ("answer later" via th_respond_to_request). */
typedef th_status (*th_request_fn)(th_state *state, th_str request_id, th_bytes msg,
                                   th_opt_bytes *response);
/* *accept starts as {accepted = false, message = none}. */
typedef th_status (*th_channel_open_fn)(th_state *state, th_str channel_id, th_bytes msg,
                                        th_channel_accept *accept);
typedef th_status (*th_channel_message_fn)(th_state *state, th_str channel_id, th_bytes msg);
typedef th_status (*th_channel_close_fn)(th_state *state, th_str channel_id);
typedef th_status (*th_child_error_fn)(th_state *state, th_str child_id, th_actor_error error);
typedef th_status (*th_child_exit_fn)(th_state *state, th_str child_id, th_opt_bytes data);
typedef th_status (*th_child_stop_fn)(th_state *state, th_str child_id);

/* Glue the macros call (in theater.c); each returns the return area. */
void *th__call_init(th_init_fn fn, uint32_t s_some, const uint8_t *s_ptr, size_t s_len,
                    const char *id_ptr, size_t id_len);
void *th__call_send(th_send_fn fn, uint32_t s_some, const uint8_t *s_ptr, size_t s_len,
                    const uint8_t *m_ptr, size_t m_len);
void *th__call_request(th_request_fn fn, uint32_t s_some, const uint8_t *s_ptr, size_t s_len,
                       const char *r_ptr, size_t r_len, const uint8_t *m_ptr, size_t m_len);
void *th__call_channel_open(th_channel_open_fn fn, uint32_t s_some, const uint8_t *s_ptr,
                            size_t s_len, const char *c_ptr, size_t c_len,
                            const uint8_t *m_ptr, size_t m_len);
void *th__call_channel_message(th_channel_message_fn fn, uint32_t s_some, const uint8_t *s_ptr,
                               size_t s_len, const char *c_ptr, size_t c_len,
                               const uint8_t *m_ptr, size_t m_len);
void *th__call_channel_close(th_channel_close_fn fn, uint32_t s_some, const uint8_t *s_ptr,
                             size_t s_len, const char *c_ptr, size_t c_len);
void *th__call_child_error(th_child_error_fn fn, uint32_t s_some, const uint8_t *s_ptr,
                           size_t s_len, const char *c_ptr, size_t c_len, uint32_t etype,
                           uint32_t d_some, const uint8_t *d_ptr, size_t d_len);
void *th__call_child_exit(th_child_exit_fn fn, uint32_t s_some, const uint8_t *s_ptr,
                          size_t s_len, const char *c_ptr, size_t c_len, uint32_t d_some,
                          const uint8_t *d_ptr, size_t d_len);
void *th__call_child_stop(th_child_stop_fn fn, uint32_t s_some, const uint8_t *s_ptr,
                          size_t s_len, const char *c_ptr, size_t c_len);
/* Post-return: frees the finished call's scoped memory. */
void th__post_return(void *ret_area);

#define TH__EXPORT(name) __attribute__((export_name(name), visibility("default")))
#define TH__IFACE(i) "theater:simple/" i

/* Defines the export `theater:simple/<iface>#<fn>` and its post-return. */
#define TH__DEFINE_POST(sym, name)                                                 \
    void th__post_##sym(void *ret);                                                \
    TH__EXPORT("cabi_post_" name) void th__post_##sym(void *ret) { th__post_return(ret); }

/* actor#init: (state, (actor-id,)) -> result<(state,), string>. */
#define TH_ACTOR_INIT(fn)                                                          \
    void *th__export_init(uint32_t, const uint8_t *, size_t, const char *, size_t); \
    TH__EXPORT(TH__IFACE("actor#init"))                                            \
    void *th__export_init(uint32_t ss, const uint8_t *sp, size_t sl, const char *ip, size_t il) \
    {                                                                              \
        return th__call_init((fn), ss, sp, sl, ip, il);                            \
    }                                                                              \
    TH__DEFINE_POST(init, TH__IFACE("actor#init"))

/* message-server-client#handle-send: (state, (msg,)). */
#define TH_HANDLE_SEND(fn)                                                         \
    void *th__export_send(uint32_t, const uint8_t *, size_t, const uint8_t *, size_t); \
    TH__EXPORT(TH__IFACE("message-server-client#handle-send"))                     \
    void *th__export_send(uint32_t ss, const uint8_t *sp, size_t sl, const uint8_t *mp, size_t ml) \
    {                                                                              \
        return th__call_send((fn), ss, sp, sl, mp, ml);                            \
    }                                                                              \
    TH__DEFINE_POST(send, TH__IFACE("message-server-client#handle-send"))

/* message-server-client#handle-request: (state, (request-id, msg)) -> (state, (response,)). */
#define TH_HANDLE_REQUEST(fn)                                                      \
    void *th__export_request(uint32_t, const uint8_t *, size_t, const char *, size_t, \
                             const uint8_t *, size_t);                             \
    TH__EXPORT(TH__IFACE("message-server-client#handle-request"))                  \
    void *th__export_request(uint32_t ss, const uint8_t *sp, size_t sl, const char *rp, \
                             size_t rl, const uint8_t *mp, size_t ml)              \
    {                                                                              \
        return th__call_request((fn), ss, sp, sl, rp, rl, mp, ml);                 \
    }                                                                              \
    TH__DEFINE_POST(request, TH__IFACE("message-server-client#handle-request"))

/* message-server-client#handle-channel-open: (state, (channel-id, msg)) -> (state, (accept,)). */
#define TH_HANDLE_CHANNEL_OPEN(fn)                                                 \
    void *th__export_channel_open(uint32_t, const uint8_t *, size_t, const char *, size_t, \
                                  const uint8_t *, size_t);                        \
    TH__EXPORT(TH__IFACE("message-server-client#handle-channel-open"))             \
    void *th__export_channel_open(uint32_t ss, const uint8_t *sp, size_t sl, const char *cp, \
                                  size_t cl, const uint8_t *mp, size_t ml)         \
    {                                                                              \
        return th__call_channel_open((fn), ss, sp, sl, cp, cl, mp, ml);            \
    }                                                                              \
    TH__DEFINE_POST(channel_open, TH__IFACE("message-server-client#handle-channel-open"))

/* message-server-client#handle-channel-message: (state, (channel-id, msg)). */
#define TH_HANDLE_CHANNEL_MESSAGE(fn)                                              \
    void *th__export_channel_message(uint32_t, const uint8_t *, size_t, const char *, size_t, \
                                     const uint8_t *, size_t);                     \
    TH__EXPORT(TH__IFACE("message-server-client#handle-channel-message"))          \
    void *th__export_channel_message(uint32_t ss, const uint8_t *sp, size_t sl, const char *cp, \
                                     size_t cl, const uint8_t *mp, size_t ml)      \
    {                                                                              \
        return th__call_channel_message((fn), ss, sp, sl, cp, cl, mp, ml);         \
    }                                                                              \
    TH__DEFINE_POST(channel_message, TH__IFACE("message-server-client#handle-channel-message"))

/* message-server-client#handle-channel-close: (state, (channel-id,)). */
#define TH_HANDLE_CHANNEL_CLOSE(fn)                                                \
    void *th__export_channel_close(uint32_t, const uint8_t *, size_t, const char *, size_t); \
    TH__EXPORT(TH__IFACE("message-server-client#handle-channel-close"))            \
    void *th__export_channel_close(uint32_t ss, const uint8_t *sp, size_t sl, const char *cp, \
                                   size_t cl)                                      \
    {                                                                              \
        return th__call_channel_close((fn), ss, sp, sl, cp, cl);                   \
    }                                                                              \
    TH__DEFINE_POST(channel_close, TH__IFACE("message-server-client#handle-channel-close"))

/* supervisor-handlers#handle-child-error: (state, (child-id, wit-actor-error)). */
#define TH_HANDLE_CHILD_ERROR(fn)                                                  \
    void *th__export_child_error(uint32_t, const uint8_t *, size_t, const char *, size_t, \
                                 uint32_t, uint32_t, const uint8_t *, size_t);     \
    TH__EXPORT(TH__IFACE("supervisor-handlers#handle-child-error"))                \
    void *th__export_child_error(uint32_t ss, const uint8_t *sp, size_t sl, const char *cp, \
                                 size_t cl, uint32_t et, uint32_t ds, const uint8_t *dp, \
                                 size_t dl)                                        \
    {                                                                              \
        return th__call_child_error((fn), ss, sp, sl, cp, cl, et, ds, dp, dl);     \
    }                                                                              \
    TH__DEFINE_POST(child_error, TH__IFACE("supervisor-handlers#handle-child-error"))

/* supervisor-handlers#handle-child-exit: (state, (child-id, option<list<u8>>)). */
#define TH_HANDLE_CHILD_EXIT(fn)                                                   \
    void *th__export_child_exit(uint32_t, const uint8_t *, size_t, const char *, size_t, \
                                uint32_t, const uint8_t *, size_t);                \
    TH__EXPORT(TH__IFACE("supervisor-handlers#handle-child-exit"))                 \
    void *th__export_child_exit(uint32_t ss, const uint8_t *sp, size_t sl, const char *cp, \
                                size_t cl, uint32_t ds, const uint8_t *dp, size_t dl) \
    {                                                                              \
        return th__call_child_exit((fn), ss, sp, sl, cp, cl, ds, dp, dl);          \
    }                                                                              \
    TH__DEFINE_POST(child_exit, TH__IFACE("supervisor-handlers#handle-child-exit"))

/* supervisor-handlers#handle-child-external-stop: (state, (child-id,)). */
#define TH_HANDLE_CHILD_EXTERNAL_STOP(fn)                                          \
    void *th__export_child_stop(uint32_t, const uint8_t *, size_t, const char *, size_t); \
    TH__EXPORT(TH__IFACE("supervisor-handlers#handle-child-external-stop"))        \
    void *th__export_child_stop(uint32_t ss, const uint8_t *sp, size_t sl, const char *cp, \
                                size_t cl)                                         \
    {                                                                              \
        return th__call_child_stop((fn), ss, sp, sl, cp, cl);                      \
    }                                                                              \
    TH__DEFINE_POST(child_stop, TH__IFACE("supervisor-handlers#handle-child-external-stop"))

/* ------------------------------------------------------------------------ */
/* Imports: typed wrappers (an import appears in the module only if used)   */
/* ------------------------------------------------------------------------ */
/* Results marked "scoped" are call-scoped host memory (see the top). Every
 * th_status-returning wrapper leaves its out parameters untouched on error. */

/* runtime */
void th_log(const char *msg);                     /* NUL-terminated */
void th_log_str(th_str msg);
void th_logf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
th_chain_event_list th_get_chain(void);           /* scoped */
th_status th_shutdown(th_opt_bytes data);

/* message-server-host */
th_status th_send(th_str actor_id, th_bytes msg);
th_status th_request(th_str actor_id, th_bytes msg, th_bytes *response /* out, scoped */);
th_status th_open_channel(th_str actor_id, th_bytes initial_msg, th_str *channel_id /* out, scoped */);
th_status th_send_on_channel(th_str channel_id, th_bytes msg);
th_status th_close_channel(th_str channel_id);
th_str_list th_list_outstanding_requests(void);   /* scoped */
th_status th_respond_to_request(th_str request_id, th_bytes response);
th_status th_cancel_request(th_str request_id);

/* supervisor */
th_status th_spawn(th_str manifest, th_opt_bytes init_bytes, th_str *child_id /* out, scoped */);
th_status th_resume(th_str manifest, th_opt_bytes init_state, th_str *child_id /* out, scoped */);
th_str_list th_list_children(void);               /* scoped */
th_status th_stop_child(th_str child_id);
th_status th_restart_child(th_str child_id);
th_status th_get_child_state(th_str child_id, th_opt_bytes *state /* out, scoped */);
th_status th_get_child_events(th_str child_id, th_chain_event_list *events /* out, scoped */);

/* store (wrappers are th_store_<function>) */
th_status th_store_new(th_str *store_id /* out, scoped */);
th_status th_store_store(th_str store_id, th_bytes content, th_content_ref *ref /* out, scoped */);
th_status th_store_get(th_str store_id, th_content_ref ref, th_bytes *content /* out, scoped */);
th_status th_store_exists(th_str store_id, th_content_ref ref, bool *exists /* out */);
th_status th_store_label(th_str store_id, th_str label, th_content_ref ref);
th_status th_store_get_by_label(th_str store_id, th_str label,
                                th_opt_content_ref *ref /* out, scoped */);
th_status th_store_remove_label(th_str store_id, th_str label);
th_status th_store_remove_from_label(th_str store_id, th_str label, th_content_ref ref);
th_status th_store_store_at_label(th_str store_id, th_str label, th_bytes content,
                                  th_content_ref *ref /* out, scoped */);
th_status th_store_replace_content_at_label(th_str store_id, th_str label, th_bytes content,
                                           th_content_ref *ref /* out, scoped */);
th_status th_store_replace_at_label(th_str store_id, th_str label, th_content_ref ref);
th_status th_store_list_labels(th_str store_id, th_str_list *labels /* out, scoped */);
th_status th_store_list_all_content(th_str store_id, th_content_ref_list *refs /* out, scoped */);
th_status th_store_calculate_total_size(th_str store_id, uint64_t *size /* out */);

/* timing (milliseconds) */
uint64_t th_now(void);
th_status th_sleep(uint64_t duration_ms);
th_status th_deadline(uint64_t timestamp_ms);

/* random */
th_status th_random_bytes(uint32_t length, th_bytes *bytes /* out, scoped */);
th_status th_random_range(uint64_t min, uint64_t max, uint64_t *value /* out */);
th_status th_random_float(double *value /* out */);
th_status th_generate_uuid(th_str *uuid /* out, scoped */);

/* environment */
th_opt_str th_env_get_var(th_str name);           /* scoped */
th_env_var_list th_env_list_vars(void);           /* scoped */
bool th_env_exists(th_str name);

/* filesystem */
th_status th_fs_read_file(th_str path, th_bytes *content /* out, scoped */);
th_status th_fs_write_file(th_str path, th_str content);
th_status th_fs_list_files(th_str path, th_str_list *names /* out, scoped */);
th_status th_fs_delete_file(th_str path);
th_status th_fs_create_dir(th_str path);
th_status th_fs_delete_dir(th_str path);
th_status th_fs_path_exists(th_str path, bool *exists /* out */);

/* ------------------------------------------------------------------------ */
/* Layout proof: on wasm32 these types are the Canonical ABI layouts.       */
/* ------------------------------------------------------------------------ */
#if defined(__wasm32__) && !defined(__cplusplus)
_Static_assert(sizeof(th_str) == 8 && _Alignof(th_str) == 4, "string is {ptr,len}");
_Static_assert(sizeof(th_bytes) == 8 && _Alignof(th_bytes) == 4, "list is {ptr,len}");
_Static_assert(sizeof(bool) == 1, "bool is a byte");
_Static_assert(sizeof(th_opt_bytes) == 12 && offsetof(th_opt_bytes, val) == 4,
               "option<list<u8>>: disc @0, payload @4, size 12");
_Static_assert(sizeof(th_opt_str) == 12 && offsetof(th_opt_str, val) == 4, "option<string>");
_Static_assert(sizeof(th_channel_accept) == 16 && offsetof(th_channel_accept, message) == 4,
               "channel-accept: accepted @0, message @4, size 16");
_Static_assert(offsetof(th_chain_event, parent_hash) == 8 &&
                   offsetof(th_chain_event, event_type) == 20 &&
                   offsetof(th_chain_event, data) == 28 &&
                   offsetof(th_chain_event, timestamp) == 40 &&
                   offsetof(th_chain_event, description) == 48 &&
                   sizeof(th_chain_event) == 64 && _Alignof(th_chain_event) == 8,
               "chain-event record layout");
_Static_assert(sizeof(th_content_ref) == 8, "content-ref {hash: string}");
_Static_assert(sizeof(th_opt_content_ref) == 12 && offsetof(th_opt_content_ref, val) == 4,
               "option<content-ref>");
_Static_assert(sizeof(th_env_var) == 16 && offsetof(th_env_var, value) == 8,
               "tuple<string, string>");
_Static_assert(sizeof(th_str_list) == 8 && sizeof(th_chain_event_list) == 8, "lists");
#endif

#ifdef __cplusplus
}
#endif

#endif /* THEATER_SDK_H */
