/*
 * theater.h - the C guest SDK for Theater actors.
 *
 * An actor is a core WebAssembly module that imports and exports the
 * `theater:simple` interfaces lowered by the Component Model Canonical ABI
 * (see docs/sdk.md and the project's ABI description). This header gives
 * actor authors:
 *
 *   - plain C types for the WIT types (ta_str, ta_bytes, ta_opt_bytes, ...)
 *     whose memory layout on wasm32 IS the Canonical ABI layout, so lists the
 *     host writes into guest memory can be used in place;
 *   - one macro per guest export (TA_ACTOR_INIT, TA_HANDLE_SEND, ...) that
 *     defines the exported core function, lifts its arguments, calls the
 *     author's typed C handler and lowers its result into the return area;
 *   - a typed wrapper for every host import of every interface;
 *   - an allocator (`cabi_realloc`, ta_alloc/ta_free) over memory.grow, a
 *     small printf-style formatter and a reader for JSON string fields.
 *
 * Every name here carries the prefix ta_ / TA_ ("theater actor"), apart from
 * the host's th_ / TH_ (include/theater/), so one program can include both.
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
 * export's post-return). Copy what you want to keep (ta_bytes_dup /
 * ta_str_dup, freed with ta_free) or detach a single block with ta_keep().
 * Memory you get from ta_alloc is yours until you ta_free it. Values a
 * handler returns (new state, response, error message) must stay valid until
 * the handler has returned: static data, call-scoped data, or memory from
 * ta_state_set / ta_fail / ta_format, which the SDK frees after the host has
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
typedef struct ta_str {
    const char *ptr;
    size_t len;
} ta_str;

/* list<u8>. Layout {u32 ptr, u32 len}. */
typedef struct ta_bytes {
    const uint8_t *ptr;
    size_t len;
} ta_bytes;

/* option<list<u8>>: some = discriminant (0 none, 1 some). Layout 12, align 4. */
typedef struct ta_opt_bytes {
    bool some;
    ta_bytes val;
} ta_opt_bytes;

/* option<string>. Layout 12, align 4. */
typedef struct ta_opt_str {
    bool some;
    ta_str val;
} ta_opt_str;

/* An actor's state: option<list<u8>>, threaded through every export. */
typedef ta_opt_bytes ta_state;

/* types.channel-accept. Layout 16, align 4 (accepted @0, message @4). */
typedef struct ta_channel_accept {
    bool accepted;
    ta_opt_bytes message;
} ta_channel_accept;

/* types.chain-event. Layout 64, align 8. */
typedef struct ta_chain_event {
    ta_bytes hash;
    ta_opt_bytes parent_hash;
    ta_str event_type;
    ta_bytes data;
    uint64_t timestamp;
    ta_opt_str description;
} ta_chain_event;

/* types.wit-error-type (an enum: a u8 in memory, an i32 when flat). */
typedef enum ta_error_type {
    TA_ERROR_OPERATION_TIMEOUT = 0,
    TA_ERROR_CHANNEL_CLOSED = 1,
    TA_ERROR_SHUTTING_DOWN = 2,
    TA_ERROR_FUNCTION_NOT_FOUND = 3,
    TA_ERROR_TYPE_MISMATCH = 4,
    TA_ERROR_INTERNAL = 5,
    TA_ERROR_SERIALIZATION_ERROR = 6,
    TA_ERROR_UPDATE_COMPONENT_ERROR = 7,
    TA_ERROR_PAUSED = 8,
} ta_error_type;

/* types.wit-actor-error, as handed to handle-child-error. */
typedef struct ta_actor_error {
    ta_error_type error_type;
    ta_opt_bytes data;
} ta_actor_error;

/* store.content-ref {hash: string}. Layout 8, align 4. */
typedef struct ta_content_ref {
    ta_str hash;
} ta_content_ref;

/* option<content-ref>. Layout 12, align 4. */
typedef struct ta_opt_content_ref {
    bool some;
    ta_content_ref val;
} ta_opt_content_ref;

/* tuple<string, string> of environment.list-vars. Layout 16, align 4. */
typedef struct ta_env_var {
    ta_str name;
    ta_str value;
} ta_env_var;

/* Lists of records: {u32 ptr, u32 count}. */
typedef struct ta_str_list {
    ta_str *items;
    size_t len;
} ta_str_list;
typedef struct ta_content_ref_list {
    ta_content_ref *items;
    size_t len;
} ta_content_ref_list;
typedef struct ta_chain_event_list {
    ta_chain_event *items;
    size_t len;
} ta_chain_event_list;
typedef struct ta_env_var_list {
    ta_env_var *items;
    size_t len;
} ta_env_var_list;

/* http-types: a header is tuple<string, string> (layout 16, align 4). */
typedef struct ta_header {
    ta_str name;
    ta_str value;
} ta_header;
typedef struct ta_header_list {
    const ta_header *items;
    size_t len;
} ta_header_list;
/* http-types.http-request. Layout 36, align 4. */
typedef struct ta_http_request {
    ta_str method;
    ta_str uri;
    ta_header_list headers;
    ta_opt_bytes body;
} ta_http_request;
/* http-types.http-response. Layout 24, align 4 (status @0, headers @4, body @12). */
typedef struct ta_http_response {
    uint16_t status;
    ta_header_list headers;
    ta_opt_bytes body;
} ta_http_response;

/* option<u64> (the optional handler ids of ta_http_enable_websocket). */
typedef struct ta_opt_u64 {
    bool some;
    uint64_t val;
} ta_opt_u64;

/* http-types.server-config (a plain C struct: ta_http_create_server lowers
 * it). Zeroed fields are the defaults: any free port of the grant, the
 * granted host, plain HTTP. */
typedef struct ta_http_server_config {
    bool has_port;
    uint16_t port;   /* 0: any free port of the manifest's allowed_ports */
    ta_opt_str host; /* must be the manifest's host (default 127.0.0.1) */
    bool has_tls;
    ta_str tls_cert_path, tls_key_path; /* PEM files: certificate chain, private key */
} ta_http_server_config;
/* http-types.server-info (host: scoped). */
typedef struct ta_http_server_info {
    uint64_t id;
    uint16_t port;
    ta_str host;
    bool running;
    uint32_t routes_count;
    uint32_t middleware_count;
    bool websocket_enabled;
} ta_http_server_info;
/* http-types.middleware-result: whether the request goes on, and the
 * request the next step (middleware or route) sees. When proceed is false
 * the answer is 403 with the body of `request`, if it has one. */
typedef struct ta_http_middleware_result {
    bool proceed;
    ta_http_request request;
} ta_http_middleware_result;

/* websocket-types.message-type (a variant; only `other` carries a string). */
typedef enum ta_ws_type {
    TA_WS_TEXT = 0,
    TA_WS_BINARY = 1,
    TA_WS_CONNECT = 2,
    TA_WS_CLOSE = 3,
    TA_WS_PING = 4,
    TA_WS_PONG = 5,
    TA_WS_OTHER = 6,
} ta_ws_type;
/* websocket-types.websocket-message (a plain C struct, converted by the
 * SDK): a text message carries `text`, a binary one, a ping or a pong
 * `data`; a close neither. Zeroed fields are none. */
typedef struct ta_ws_message {
    ta_ws_type type;
    ta_str other; /* TA_WS_OTHER: its name */
    ta_opt_bytes data;
    ta_opt_str text;
} ta_ws_message;
typedef struct ta_ws_message_list {
    const ta_ws_message *items;
    size_t len;
} ta_ws_message_list;

/* process.output-mode: how a child's stdout/stderr reach handle-stdout /
 * handle-stderr (docs/sdk.md). */
typedef enum ta_output_mode {
    TA_OUTPUT_RAW = 0,          /* each read, at most buffer_size bytes */
    TA_OUTPUT_LINE_BY_LINE = 1, /* each line, without its "\n" */
    TA_OUTPUT_JSON = 2,         /* each line that is a JSON value */
    TA_OUTPUT_CHUNKED = 3,      /* chunk_size bytes at a time */
} ta_output_mode;
/* process.process-config (a plain C struct: ta_os_spawn lowers it). */
typedef struct ta_process_config {
    ta_str program;       /* absolute path, one of the manifest's allowed_programs */
    ta_str_list args;     /* argv[1..] */
    ta_opt_str cwd;       /* inside one of the manifest's allowed_paths */
    ta_env_var_list env;  /* the child's whole environment */
    uint32_t buffer_size; /* raw mode: bytes per handle-stdout at most (0: 4096) */
    ta_output_mode stdout_mode, stderr_mode;
    bool has_chunk_size;
    uint32_t chunk_size; /* chunked mode (default 4096) */
    bool has_execution_timeout;
    uint64_t execution_timeout; /* seconds; then SIGTERM, SIGKILL */
} ta_process_config;
/* process.process-status. */
typedef struct ta_process_status {
    uint64_t pid;
    bool running;
    bool has_exit_code;
    int32_t exit_code;   /* the exit status, or -N after signal N */
    uint64_t start_time; /* ms since the Unix epoch */
} ta_process_status;

/*
 * The outcome of a handler or of a host call returning result<_, string>:
 * ok, or failed with a UTF-8 message. For host calls the message is
 * call-scoped host memory; a handler may return it as its own failure.
 */
typedef struct ta_status {
    bool ok;
    ta_str err;
} ta_status;

#define TA_OK ((ta_status){.ok = true, .err = {0, 0}})

/* Literal helpers. TA_STR("abc") is a ta_str over a string literal. */
#define TA_STR(lit) ((ta_str){(lit), sizeof(lit) - 1})
#define TA_BYTES(lit) ((ta_bytes){(const uint8_t *)(lit), sizeof(lit) - 1})
#define TA_NONE ((ta_opt_bytes){.some = false, .val = {0, 0}})
/* Arguments for "%.*s" in ta_logf/ta_format: ta_logf("id %.*s", TA_FMT(id)). */
#define TA_FMT(s) (int)(s).len, (const char *)(s).ptr

/* ------------------------------------------------------------------------ */
/* Memory                                                                   */
/* ------------------------------------------------------------------------ */

/* Allocates n bytes aligned to 8; returns NULL when memory cannot grow.
 * The caller owns the block and frees it with ta_free. */
void *ta_alloc(size_t n);
/* Like ta_alloc, zero-filled. */
void *ta_calloc(size_t n);
/* Resizes a block from ta_alloc (or NULL); returns NULL on failure, leaving
 * the old block intact. A call-scoped block stays call-scoped. */
void *ta_realloc(void *p, size_t n);
/* Frees a block from ta_alloc/ta_realloc, or a call-scoped block early.
 * NULL and pointers outside the heap (static data) are ignored. */
void ta_free(void *p);
/* Detaches a call-scoped block (a parameter, a host result) so that it
 * survives the call; the caller then owns it and frees it with ta_free.
 * Detaches only that block, not blocks it points to. Returns p. */
void *ta_keep(const void *p);
/* Call-scoped allocation: freed automatically after the current export
 * returns. Traps when out of memory. */
void *ta_scoped_alloc(size_t n);

/* Owned copies (ta_free them); NULL/empty results on allocation failure. */
ta_bytes ta_bytes_dup(ta_bytes b);
ta_str ta_str_dup(ta_str s);
/* Call-scoped copies; trap when out of memory. */
ta_bytes ta_bytes_scoped(const void *ptr, size_t len);
ta_str ta_str_scoped(const char *ptr, size_t len);

/* ------------------------------------------------------------------------ */
/* Strings, bytes, formatting                                               */
/* ------------------------------------------------------------------------ */

/* A ta_str over a NUL-terminated string (borrowed). */
ta_str ta_str_c(const char *s);
/* The bytes of a string and the string of some bytes (no copy, no check). */
ta_bytes ta_str_bytes(ta_str s);
ta_str ta_bytes_str(ta_bytes b);
bool ta_str_eq(ta_str a, ta_str b);
bool ta_str_eq_c(ta_str a, const char *c);
bool ta_bytes_eq_c(ta_bytes a, const char *c);
/* True when b begins with the NUL-terminated prefix. */
bool ta_bytes_starts_with(ta_bytes b, const char *prefix);
/* Parses all of b as a decimal u64 (no sign, no spaces, no overflow). */
bool ta_parse_u64(ta_bytes b, uint64_t *out);

/*
 * printf-style formatting into buf (always NUL-terminated when cap > 0).
 * Returns the length the full output needs, like snprintf. Supports the
 * flags '-' '0', width and precision (also '*'), the lengths hh h l ll z j t
 * and the conversions d i u x X o c s p %; no floating point.
 */
size_t ta_fmt(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
size_t ta_vfmt(char *buf, size_t cap, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
/* Formats into call-scoped memory. */
ta_str ta_format(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* True when s is valid UTF-8 (strings crossing to the host must be). */
bool ta_utf8_valid(ta_str s);
/* s itself when valid, else a call-scoped copy with U+FFFD in place of each
 * byte that does not start a valid sequence. ta_log* and ta_fail* apply it. */
ta_str ta_utf8_fix(ta_str s);

/*
 * Finds the string value of `key` in the top-level JSON object `json`.
 * Returns true and sets *out (escapes decoded; the value is borrowed from
 * json or call-scoped) when the key exists with a string value; false when
 * json is not an object, the key is missing or its value is not a string.
 * Useful because a manifest's init_state arrives as JSON text.
 */
bool ta_json_get_str(ta_bytes json, const char *key, ta_str *out);

/* The WIT name of an error type ("operation-timeout", ...), "unknown" if out of range. */
const char *ta_error_type_name(ta_error_type t);

/* Aborts the current call with a trap (an actor failure for the runtime). */
__attribute__((noreturn)) void ta_trap(void);

/* ------------------------------------------------------------------------ */
/* Handler results                                                          */
/* ------------------------------------------------------------------------ */

/* A failure with a copy of msg (call-scoped). */
ta_status ta_fail(const char *msg);
ta_status ta_fail_str(ta_str msg);
ta_status ta_failf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Sets the new state to a call-scoped copy of len bytes at data. */
void ta_state_set(ta_state *state, const void *data, size_t len);
/* Sets the new state to `none`. */
void ta_state_clear(ta_state *state);
/* Sets an option<list<u8>> (a response, an accept message) to a call-scoped copy. */
void ta_opt_set(ta_opt_bytes *opt, const void *data, size_t len);
/* option `some` over bytes without copying (they must outlive the call). */
ta_opt_bytes ta_some(ta_bytes b);

/* ------------------------------------------------------------------------ */
/* Exports: one macro per function of the guest interfaces                  */
/* ------------------------------------------------------------------------ */

/*
 * Each handler gets `state`: on entry the actor's current state, on return
 * the new one (leave it alone to keep it). Return TA_OK, or a failure
 * (ta_fail...), which the runtime records as an actor failure and reports to
 * the parent. A trap (ta_trap) is a failure too.
 */
typedef ta_status (*ta_init_fn)(ta_state *state, ta_str actor_id);
typedef ta_status (*ta_send_fn)(ta_state *state, ta_bytes msg);
/* *response starts as none ("answer later" via ta_respond_to_request). */
typedef ta_status (*ta_request_fn)(ta_state *state, ta_str request_id, ta_bytes msg,
                                   ta_opt_bytes *response);
/* *accept starts as {accepted = false, message = none}. */
typedef ta_status (*ta_channel_open_fn)(ta_state *state, ta_str channel_id, ta_bytes msg,
                                        ta_channel_accept *accept);
typedef ta_status (*ta_channel_message_fn)(ta_state *state, ta_str channel_id, ta_bytes msg);
typedef ta_status (*ta_channel_close_fn)(ta_state *state, ta_str channel_id);
typedef ta_status (*ta_child_error_fn)(ta_state *state, ta_str child_id, ta_actor_error error);
typedef ta_status (*ta_child_exit_fn)(ta_state *state, ta_str child_id, ta_opt_bytes data);
typedef ta_status (*ta_child_stop_fn)(ta_state *state, ta_str child_id);

/* process-handlers: output of child `pid` (handle-stdout, handle-stderr),
 * and its end (handle-exit: the exit status, or -N after signal N). */
typedef ta_status (*ta_process_output_fn)(ta_state *state, uint64_t pid, ta_bytes data);
typedef ta_status (*ta_process_exit_fn)(ta_state *state, uint64_t pid, int32_t code);

/* http-handlers: `handler_id` is the id ta_http_register_handler gave the
 * handler a route, middleware or WebSocket path was added with.
 * *resp starts as {status 200, no headers, body none}. */
typedef ta_status (*ta_http_request_fn)(ta_state *state, uint64_t handler_id, ta_http_request req,
                                        ta_http_response *resp);
/* *result starts as {proceed = true, request = req} (pass it on unchanged). */
typedef ta_status (*ta_http_middleware_fn)(ta_state *state, uint64_t handler_id,
                                           ta_http_request req, ta_http_middleware_result *result);
/* A WebSocket client connected on `path`; `protocol` is its
 * Sec-WebSocket-Protocol header, if any. */
typedef ta_status (*ta_ws_connect_fn)(ta_state *state, uint64_t handler_id, uint64_t connection_id,
                                      ta_str path, ta_opt_str protocol);
/* One message from the client; *replies starts empty: the messages to send
 * back, in order (they must live until the handler returns). */
typedef ta_status (*ta_ws_message_fn)(ta_state *state, uint64_t handler_id, uint64_t connection_id,
                                      ta_ws_message msg, ta_ws_message_list *replies);
typedef ta_status (*ta_ws_disconnect_fn)(ta_state *state, uint64_t handler_id,
                                         uint64_t connection_id);

/* Glue the macros call (in theater.c); each returns the return area. */
void *ta__call_init(ta_init_fn fn, uint32_t s_some, const uint8_t *s_ptr, size_t s_len,
                    const char *id_ptr, size_t id_len);
void *ta__call_send(ta_send_fn fn, uint32_t s_some, const uint8_t *s_ptr, size_t s_len,
                    const uint8_t *m_ptr, size_t m_len);
void *ta__call_request(ta_request_fn fn, uint32_t s_some, const uint8_t *s_ptr, size_t s_len,
                       const char *r_ptr, size_t r_len, const uint8_t *m_ptr, size_t m_len);
void *ta__call_channel_open(ta_channel_open_fn fn, uint32_t s_some, const uint8_t *s_ptr,
                            size_t s_len, const char *c_ptr, size_t c_len, const uint8_t *m_ptr,
                            size_t m_len);
void *ta__call_channel_message(ta_channel_message_fn fn, uint32_t s_some, const uint8_t *s_ptr,
                               size_t s_len, const char *c_ptr, size_t c_len, const uint8_t *m_ptr,
                               size_t m_len);
void *ta__call_channel_close(ta_channel_close_fn fn, uint32_t s_some, const uint8_t *s_ptr,
                             size_t s_len, const char *c_ptr, size_t c_len);
void *ta__call_child_error(ta_child_error_fn fn, uint32_t s_some, const uint8_t *s_ptr,
                           size_t s_len, const char *c_ptr, size_t c_len, uint32_t etype,
                           uint32_t d_some, const uint8_t *d_ptr, size_t d_len);
void *ta__call_child_exit(ta_child_exit_fn fn, uint32_t s_some, const uint8_t *s_ptr, size_t s_len,
                          const char *c_ptr, size_t c_len, uint32_t d_some, const uint8_t *d_ptr,
                          size_t d_len);
void *ta__call_child_stop(ta_child_stop_fn fn, uint32_t s_some, const uint8_t *s_ptr, size_t s_len,
                          const char *c_ptr, size_t c_len);
void *ta__call_process_output(ta_process_output_fn fn, uint32_t s_some, const uint8_t *s_ptr,
                              size_t s_len, uint64_t pid, const uint8_t *d_ptr, size_t d_len);
void *ta__call_process_exit(ta_process_exit_fn fn, uint32_t s_some, const uint8_t *s_ptr,
                            size_t s_len, uint64_t pid, int32_t code);
void *ta__call_http_request(ta_http_request_fn fn, uint32_t s_some, const uint8_t *s_ptr,
                            size_t s_len, uint64_t hid, const char *m_ptr, size_t m_len,
                            const char *u_ptr, size_t u_len, const ta_header *h_ptr, size_t h_len,
                            uint32_t b_some, const uint8_t *b_ptr, size_t b_len);
void *ta__call_http_middleware(ta_http_middleware_fn fn, uint32_t s_some, const uint8_t *s_ptr,
                               size_t s_len, uint64_t hid, const char *m_ptr, size_t m_len,
                               const char *u_ptr, size_t u_len, const ta_header *h_ptr,
                               size_t h_len, uint32_t b_some, const uint8_t *b_ptr, size_t b_len);
void *ta__call_ws_connect(ta_ws_connect_fn fn, uint32_t s_some, const uint8_t *s_ptr, size_t s_len,
                          uint64_t hid, uint64_t conn, const char *p_ptr, size_t p_len,
                          uint32_t pr_some, const char *pr_ptr, size_t pr_len);
void *ta__call_ws_message(ta_ws_message_fn fn, uint32_t s_some, const uint8_t *s_ptr, size_t s_len,
                          uint64_t hid, uint64_t conn, uint32_t tag, const char *o_ptr,
                          size_t o_len, uint32_t d_some, const uint8_t *d_ptr, size_t d_len,
                          uint32_t t_some, const char *t_ptr, size_t t_len);
void *ta__call_ws_disconnect(ta_ws_disconnect_fn fn, uint32_t s_some, const uint8_t *s_ptr,
                             size_t s_len, uint64_t hid, uint64_t conn);
/* Post-return: frees the finished call's scoped memory. */
void ta__post_return(void *ret_area);

/* For an export written by hand (a function without a TA_ macro; every
 * guest export of the ABI has one): call ta_export_begin() on entry
 * and ta_export_end() before returning the result area, and export its
 * post-return ("cabi_post_<export>") calling ta__post_return.  Between the
 * two, everything call-scoped stays valid; after the post-return it goes. */
void ta_export_begin(void);
void ta_export_end(void);

#define TA__EXPORT(name) __attribute__((export_name(name), visibility("default")))
#define TA__IFACE(i) "theater:simple/" i

/* Defines the export `theater:simple/<iface>#<fn>` and its post-return. */
#define TA__DEFINE_POST(sym, name) \
    void ta__post_##sym(void *ret); \
    TA__EXPORT("cabi_post_" name) void ta__post_##sym(void *ret) \
    { \
        ta__post_return(ret); \
    }

/* actor#init: (state, (actor-id,)) -> result<(state,), string>. */
#define TA_ACTOR_INIT(fn) \
    void *ta__export_init(uint32_t, const uint8_t *, size_t, const char *, size_t); \
    TA__EXPORT(TA__IFACE("actor#init")) \
    void *ta__export_init(uint32_t ss, const uint8_t *sp, size_t sl, const char *ip, size_t il) \
    { \
        return ta__call_init((fn), ss, sp, sl, ip, il); \
    } \
    TA__DEFINE_POST(init, TA__IFACE("actor#init"))

/* actor#migrate (this project's extension, docs/upgrade.md): called on the
 * new code of a hot upgrade with the running state and the version being
 * replaced, (state, from-version) -> result<(state,), string>; the handler
 * has init's type (ta_status fn(ta_state *state, ta_str from_version)).
 * A failure (ta_fail) or a trap keeps the old code running; it may not call
 * the host. */
#define TA_MIGRATE(fn) \
    void *ta__export_migrate(uint32_t, const uint8_t *, size_t, const char *, size_t); \
    TA__EXPORT(TA__IFACE("actor#migrate")) \
    void *ta__export_migrate(uint32_t ss, const uint8_t *sp, size_t sl, const char *vp, size_t vl) \
    { \
        return ta__call_init((fn), ss, sp, sl, vp, vl); \
    } \
    TA__DEFINE_POST(migrate, TA__IFACE("actor#migrate"))

/* message-server-client#handle-send: (state, (msg,)). */
#define TA_HANDLE_SEND(fn) \
    void *ta__export_send(uint32_t, const uint8_t *, size_t, const uint8_t *, size_t); \
    TA__EXPORT(TA__IFACE("message-server-client#handle-send")) \
    void *ta__export_send(uint32_t ss, const uint8_t *sp, size_t sl, const uint8_t *mp, size_t ml) \
    { \
        return ta__call_send((fn), ss, sp, sl, mp, ml); \
    } \
    TA__DEFINE_POST(send, TA__IFACE("message-server-client#handle-send"))

/* message-server-client#handle-request: (state, (request-id, msg)) -> (state, (response,)). */
#define TA_HANDLE_REQUEST(fn) \
    void *ta__export_request(uint32_t, const uint8_t *, size_t, const char *, size_t, \
                             const uint8_t *, size_t); \
    TA__EXPORT(TA__IFACE("message-server-client#handle-request")) \
    void *ta__export_request(uint32_t ss, const uint8_t *sp, size_t sl, const char *rp, size_t rl, \
                             const uint8_t *mp, size_t ml) \
    { \
        return ta__call_request((fn), ss, sp, sl, rp, rl, mp, ml); \
    } \
    TA__DEFINE_POST(request, TA__IFACE("message-server-client#handle-request"))

/* message-server-client#handle-channel-open: (state, (channel-id, msg)) -> (state, (accept,)). */
#define TA_HANDLE_CHANNEL_OPEN(fn) \
    void *ta__export_channel_open(uint32_t, const uint8_t *, size_t, const char *, size_t, \
                                  const uint8_t *, size_t); \
    TA__EXPORT(TA__IFACE("message-server-client#handle-channel-open")) \
    void *ta__export_channel_open(uint32_t ss, const uint8_t *sp, size_t sl, const char *cp, \
                                  size_t cl, const uint8_t *mp, size_t ml) \
    { \
        return ta__call_channel_open((fn), ss, sp, sl, cp, cl, mp, ml); \
    } \
    TA__DEFINE_POST(channel_open, TA__IFACE("message-server-client#handle-channel-open"))

/* message-server-client#handle-channel-message: (state, (channel-id, msg)). */
#define TA_HANDLE_CHANNEL_MESSAGE(fn) \
    void *ta__export_channel_message(uint32_t, const uint8_t *, size_t, const char *, size_t, \
                                     const uint8_t *, size_t); \
    TA__EXPORT(TA__IFACE("message-server-client#handle-channel-message")) \
    void *ta__export_channel_message(uint32_t ss, const uint8_t *sp, size_t sl, const char *cp, \
                                     size_t cl, const uint8_t *mp, size_t ml) \
    { \
        return ta__call_channel_message((fn), ss, sp, sl, cp, cl, mp, ml); \
    } \
    TA__DEFINE_POST(channel_message, TA__IFACE("message-server-client#handle-channel-message"))

/* message-server-client#handle-channel-close: (state, (channel-id,)). */
#define TA_HANDLE_CHANNEL_CLOSE(fn) \
    void *ta__export_channel_close(uint32_t, const uint8_t *, size_t, const char *, size_t); \
    TA__EXPORT(TA__IFACE("message-server-client#handle-channel-close")) \
    void *ta__export_channel_close(uint32_t ss, const uint8_t *sp, size_t sl, const char *cp, \
                                   size_t cl) \
    { \
        return ta__call_channel_close((fn), ss, sp, sl, cp, cl); \
    } \
    TA__DEFINE_POST(channel_close, TA__IFACE("message-server-client#handle-channel-close"))

/* supervisor-handlers#handle-child-error: (state, (child-id, wit-actor-error)). */
#define TA_HANDLE_CHILD_ERROR(fn) \
    void *ta__export_child_error(uint32_t, const uint8_t *, size_t, const char *, size_t, \
                                 uint32_t, uint32_t, const uint8_t *, size_t); \
    TA__EXPORT(TA__IFACE("supervisor-handlers#handle-child-error")) \
    void *ta__export_child_error(uint32_t ss, const uint8_t *sp, size_t sl, const char *cp, \
                                 size_t cl, uint32_t et, uint32_t ds, const uint8_t *dp, \
                                 size_t dl) \
    { \
        return ta__call_child_error((fn), ss, sp, sl, cp, cl, et, ds, dp, dl); \
    } \
    TA__DEFINE_POST(child_error, TA__IFACE("supervisor-handlers#handle-child-error"))

/* supervisor-handlers#handle-child-exit: (state, (child-id, option<list<u8>>)). */
#define TA_HANDLE_CHILD_EXIT(fn) \
    void *ta__export_child_exit(uint32_t, const uint8_t *, size_t, const char *, size_t, uint32_t, \
                                const uint8_t *, size_t); \
    TA__EXPORT(TA__IFACE("supervisor-handlers#handle-child-exit")) \
    void *ta__export_child_exit(uint32_t ss, const uint8_t *sp, size_t sl, const char *cp, \
                                size_t cl, uint32_t ds, const uint8_t *dp, size_t dl) \
    { \
        return ta__call_child_exit((fn), ss, sp, sl, cp, cl, ds, dp, dl); \
    } \
    TA__DEFINE_POST(child_exit, TA__IFACE("supervisor-handlers#handle-child-exit"))

/* supervisor-handlers#handle-child-external-stop: (state, (child-id,)). */
#define TA_HANDLE_CHILD_EXTERNAL_STOP(fn) \
    void *ta__export_child_stop(uint32_t, const uint8_t *, size_t, const char *, size_t); \
    TA__EXPORT(TA__IFACE("supervisor-handlers#handle-child-external-stop")) \
    void *ta__export_child_stop(uint32_t ss, const uint8_t *sp, size_t sl, const char *cp, \
                                size_t cl) \
    { \
        return ta__call_child_stop((fn), ss, sp, sl, cp, cl); \
    } \
    TA__DEFINE_POST(child_stop, TA__IFACE("supervisor-handlers#handle-child-external-stop"))

/* process-handlers#handle-stdout / #handle-stderr: (state, (pid, data)). */
#define TA__PROCESS_OUTPUT(sym, name, fn) \
    void *ta__export_##sym(uint32_t, const uint8_t *, size_t, uint64_t, const uint8_t *, size_t); \
    TA__EXPORT(TA__IFACE(name)) \
    void *ta__export_##sym(uint32_t ss, const uint8_t *sp, size_t sl, uint64_t pid, \
                           const uint8_t *dp, size_t dl) \
    { \
        return ta__call_process_output((fn), ss, sp, sl, pid, dp, dl); \
    } \
    TA__DEFINE_POST(sym, TA__IFACE(name))
#define TA_HANDLE_STDOUT(fn) TA__PROCESS_OUTPUT(stdout, "process-handlers#handle-stdout", fn)
#define TA_HANDLE_STDERR(fn) TA__PROCESS_OUTPUT(stderr, "process-handlers#handle-stderr", fn)

/* process-handlers#handle-exit: (state, (pid, exit-code)). */
#define TA_HANDLE_EXIT(fn) \
    void *ta__export_exit(uint32_t, const uint8_t *, size_t, uint64_t, int32_t); \
    TA__EXPORT(TA__IFACE("process-handlers#handle-exit")) \
    void *ta__export_exit(uint32_t ss, const uint8_t *sp, size_t sl, uint64_t pid, int32_t code) \
    { \
        return ta__call_process_exit((fn), ss, sp, sl, pid, code); \
    } \
    TA__DEFINE_POST(exit, TA__IFACE("process-handlers#handle-exit"))

/* The two http-handlers exports whose params are (handler-id, http-request). */
#define TA__HTTP_CALL(sym, name, glue, fn) \
    void *ta__export_##sym(uint32_t, const uint8_t *, size_t, uint64_t, const char *, size_t, \
                           const char *, size_t, const ta_header *, size_t, uint32_t, \
                           const uint8_t *, size_t); \
    TA__EXPORT(TA__IFACE(name)) \
    void *ta__export_##sym(uint32_t ss, const uint8_t *sp, size_t sl, uint64_t hid, \
                           const char *mp, size_t ml, const char *up, size_t ul, \
                           const ta_header *hp, size_t hl, uint32_t bs, const uint8_t *bp, \
                           size_t bl) \
    { \
        return glue((fn), ss, sp, sl, hid, mp, ml, up, ul, hp, hl, bs, bp, bl); \
    } \
    TA__DEFINE_POST(sym, TA__IFACE(name))
/* http-handlers#handle-request: (state, (handler-id, request)) -> (state, (response,)). */
#define TA_HANDLE_HTTP_REQUEST(fn) \
    TA__HTTP_CALL(http_request, "http-handlers#handle-request", ta__call_http_request, fn)

/* http-handlers#handle-middleware: (state, (handler-id, request))
 * -> (state, (middleware-result,)). */
#define TA_HANDLE_MIDDLEWARE(fn) \
    TA__HTTP_CALL(http_middleware, "http-handlers#handle-middleware", ta__call_http_middleware, fn)

/* http-handlers#handle-websocket-connect: (state, (handler-id, connection-id, path, protocol)). */
#define TA_HANDLE_WS_CONNECT(fn) \
    void *ta__export_ws_connect(uint32_t, const uint8_t *, size_t, uint64_t, uint64_t, \
                                const char *, size_t, uint32_t, const char *, size_t); \
    TA__EXPORT(TA__IFACE("http-handlers#handle-websocket-connect")) \
    void *ta__export_ws_connect(uint32_t ss, const uint8_t *sp, size_t sl, uint64_t hid, \
                                uint64_t conn, const char *pp, size_t pl, uint32_t rs, \
                                const char *rp, size_t rl) \
    { \
        return ta__call_ws_connect((fn), ss, sp, sl, hid, conn, pp, pl, rs, rp, rl); \
    } \
    TA__DEFINE_POST(ws_connect, TA__IFACE("http-handlers#handle-websocket-connect"))

/* http-handlers#handle-websocket-message: (state, (handler-id, connection-id, message))
 * -> (state, (replies,)). */
#define TA_HANDLE_WS_MESSAGE(fn) \
    void *ta__export_ws_message(uint32_t, const uint8_t *, size_t, uint64_t, uint64_t, uint32_t, \
                                const char *, size_t, uint32_t, const uint8_t *, size_t, uint32_t, \
                                const char *, size_t); \
    TA__EXPORT(TA__IFACE("http-handlers#handle-websocket-message")) \
    void *ta__export_ws_message(uint32_t ss, const uint8_t *sp, size_t sl, uint64_t hid, \
                                uint64_t conn, uint32_t tag, const char *op, size_t ol, \
                                uint32_t ds, const uint8_t *dp, size_t dl, uint32_t ts, \
                                const char *tp, size_t tl) \
    { \
        return ta__call_ws_message((fn), ss, sp, sl, hid, conn, tag, op, ol, ds, dp, dl, ts, tp, \
                                   tl); \
    } \
    TA__DEFINE_POST(ws_message, TA__IFACE("http-handlers#handle-websocket-message"))

/* http-handlers#handle-websocket-disconnect: (state, (handler-id, connection-id)). */
#define TA_HANDLE_WS_DISCONNECT(fn) \
    void *ta__export_ws_disconnect(uint32_t, const uint8_t *, size_t, uint64_t, uint64_t); \
    TA__EXPORT(TA__IFACE("http-handlers#handle-websocket-disconnect")) \
    void *ta__export_ws_disconnect(uint32_t ss, const uint8_t *sp, size_t sl, uint64_t hid, \
                                   uint64_t conn) \
    { \
        return ta__call_ws_disconnect((fn), ss, sp, sl, hid, conn); \
    } \
    TA__DEFINE_POST(ws_disconnect, TA__IFACE("http-handlers#handle-websocket-disconnect"))

/* ------------------------------------------------------------------------ */
/* Imports: typed wrappers (an import appears in the module only if used)   */
/* ------------------------------------------------------------------------ */
/* Results marked "scoped" are call-scoped host memory (see the top). Every
 * ta_status-returning wrapper leaves its out parameters untouched on error. */

/* runtime */
void ta_log(const char *msg); /* NUL-terminated */
void ta_log_str(ta_str msg);
void ta_logf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
ta_chain_event_list ta_get_chain(void); /* scoped */
ta_status ta_shutdown(ta_opt_bytes data);

/* message-server-host */
ta_status ta_send(ta_str actor_id, ta_bytes msg);
ta_status ta_request(ta_str actor_id, ta_bytes msg, ta_bytes *response /* out, scoped */);
ta_status ta_open_channel(ta_str actor_id, ta_bytes initial_msg,
                          ta_str *channel_id /* out, scoped */);
ta_status ta_send_on_channel(ta_str channel_id, ta_bytes msg);
ta_status ta_close_channel(ta_str channel_id);
ta_str_list ta_list_outstanding_requests(void); /* scoped */
ta_status ta_respond_to_request(ta_str request_id, ta_bytes response);
ta_status ta_cancel_request(ta_str request_id);

/* supervisor */
ta_status ta_spawn(ta_str manifest, ta_opt_bytes init_bytes, ta_str *child_id /* out, scoped */);
ta_status ta_resume(ta_str manifest, ta_opt_bytes init_state, ta_str *child_id /* out, scoped */);
ta_str_list ta_list_children(void); /* scoped */
ta_status ta_stop_child(ta_str child_id);
ta_status ta_restart_child(ta_str child_id);
/* Hot upgrade of a child to the code `component` (this project's
 * extension, docs/upgrade.md): returns once the child runs it; a failure
 * says why it was refused (the child keeps its old code). */
ta_status ta_update_child(ta_str child_id, ta_bytes component);
ta_status ta_get_child_state(ta_str child_id, ta_opt_bytes *state /* out, scoped */);
ta_status ta_get_child_events(ta_str child_id, ta_chain_event_list *events /* out, scoped */);

/* store (wrappers are ta_store_<function>) */
ta_status ta_store_new(ta_str *store_id /* out, scoped */);
ta_status ta_store_store(ta_str store_id, ta_bytes content, ta_content_ref *ref /* out, scoped */);
ta_status ta_store_get(ta_str store_id, ta_content_ref ref, ta_bytes *content /* out, scoped */);
ta_status ta_store_exists(ta_str store_id, ta_content_ref ref, bool *exists /* out */);
ta_status ta_store_label(ta_str store_id, ta_str label, ta_content_ref ref);
ta_status ta_store_get_by_label(ta_str store_id, ta_str label,
                                ta_opt_content_ref *ref /* out, scoped */);
ta_status ta_store_remove_label(ta_str store_id, ta_str label);
ta_status ta_store_remove_from_label(ta_str store_id, ta_str label, ta_content_ref ref);
ta_status ta_store_store_at_label(ta_str store_id, ta_str label, ta_bytes content,
                                  ta_content_ref *ref /* out, scoped */);
ta_status ta_store_replace_content_at_label(ta_str store_id, ta_str label, ta_bytes content,
                                            ta_content_ref *ref /* out, scoped */);
ta_status ta_store_replace_at_label(ta_str store_id, ta_str label, ta_content_ref ref);
ta_status ta_store_list_labels(ta_str store_id, ta_str_list *labels /* out, scoped */);
ta_status ta_store_list_all_content(ta_str store_id, ta_content_ref_list *refs /* out, scoped */);
ta_status ta_store_calculate_total_size(ta_str store_id, uint64_t *size /* out */);

/* timing (milliseconds) */
uint64_t ta_now(void);
ta_status ta_sleep(uint64_t duration_ms);
ta_status ta_deadline(uint64_t timestamp_ms);

/* random */
ta_status ta_random_bytes(uint32_t length, ta_bytes *bytes /* out, scoped */);
/* *value uniform in [min, max): max is never returned; min >= max is an error */
ta_status ta_random_range(uint64_t min, uint64_t max, uint64_t *value /* out */);
ta_status ta_random_float(double *value /* out */);
ta_status ta_generate_uuid(ta_str *uuid /* out, scoped */);

/* environment */
ta_opt_str ta_env_get_var(ta_str name); /* scoped */
ta_env_var_list ta_env_list_vars(void); /* scoped */
bool ta_env_exists(ta_str name);

/* filesystem */
ta_status ta_fs_read_file(ta_str path, ta_bytes *content /* out, scoped */);
ta_status ta_fs_write_file(ta_str path, ta_str content);
ta_status ta_fs_list_files(ta_str path, ta_str_list *names /* out, scoped */);
ta_status ta_fs_delete_file(ta_str path);
ta_status ta_fs_create_dir(ta_str path);
ta_status ta_fs_delete_dir(ta_str path);
ta_status ta_fs_path_exists(ta_str path, bool *exists /* out */);

/* http-client: one request; *resp (scoped) is the answer whatever its
 * status; err when the request is refused (allowed_hosts...) or fails
 * (connection, DNS, TLS, timeout, an answer over max_response_bytes). */
ta_status ta_http_send(ta_http_request req, ta_http_response *resp /* out, scoped */);

/* http-framework: the actor serves HTTP and WebSocket (docs/http.md).
 * Requests arrive at the http-handlers exports (TA_HANDLE_HTTP_REQUEST...)
 * with the id of the handler their route, middleware or WebSocket path was
 * added with. Out parameters marked "may be NULL" can be left out. */
ta_status ta_http_create_server(const ta_http_server_config *config, uint64_t *server_id /* out */);
ta_status ta_http_get_server_info(uint64_t server_id, ta_http_server_info *info /* out, scoped */);
/* Binds and listens; *port (may be NULL) is the bound port. */
ta_status ta_http_start_server(uint64_t server_id, uint16_t *port /* out */);
ta_status ta_http_stop_server(uint64_t server_id);
ta_status ta_http_destroy_server(uint64_t server_id);
ta_status ta_http_register_handler(ta_str name, uint64_t *handler_id /* out */);
/* path: literal segments, {name}, a last * ({*name}); method: upper case or "*". */
ta_status ta_http_add_route(uint64_t server_id, ta_str path, ta_str method, uint64_t handler_id,
                            uint64_t *route_id /* out, may be NULL */);
ta_status ta_http_remove_route(uint64_t route_id);
ta_status ta_http_add_middleware(uint64_t server_id, ta_str path, uint64_t handler_id,
                                 uint64_t *middleware_id /* out, may be NULL */);
ta_status ta_http_remove_middleware(uint64_t middleware_id);
ta_status ta_http_enable_websocket(uint64_t server_id, ta_str path, ta_opt_u64 connect_handler_id,
                                   uint64_t message_handler_id, ta_opt_u64 disconnect_handler_id);
ta_status ta_http_send_websocket_message(uint64_t server_id, uint64_t connection_id,
                                         ta_ws_message msg);
ta_status ta_http_close_websocket(uint64_t server_id, uint64_t connection_id);
/* Messages without copying: text (its bytes must outlive their use), binary. */
ta_ws_message ta_ws_text(ta_str text);
ta_ws_message ta_ws_binary(ta_bytes data);

/* process */
ta_status ta_os_spawn(const ta_process_config *config, uint64_t *pid /* out */);
/* Queues data for the child's stdin; empty data closes it (EOF). */
ta_status ta_os_write_stdin(uint64_t pid, ta_bytes data, uint32_t *queued /* out */);
ta_status ta_os_status(uint64_t pid, ta_process_status *status /* out */);
ta_status ta_os_signal(uint64_t pid, uint32_t signal);
ta_status ta_os_kill(uint64_t pid);

/* ------------------------------------------------------------------------ */
/* Layout proof: on wasm32 these types are the Canonical ABI layouts.       */
/* ------------------------------------------------------------------------ */
#if defined(__wasm32__) && !defined(__cplusplus)
_Static_assert(sizeof(ta_str) == 8 && _Alignof(ta_str) == 4, "string is {ptr,len}");
_Static_assert(sizeof(ta_bytes) == 8 && _Alignof(ta_bytes) == 4, "list is {ptr,len}");
_Static_assert(sizeof(bool) == 1, "bool is a byte");
_Static_assert(sizeof(ta_opt_bytes) == 12 && offsetof(ta_opt_bytes, val) == 4,
               "option<list<u8>>: disc @0, payload @4, size 12");
_Static_assert(sizeof(ta_opt_str) == 12 && offsetof(ta_opt_str, val) == 4, "option<string>");
_Static_assert(sizeof(ta_channel_accept) == 16 && offsetof(ta_channel_accept, message) == 4,
               "channel-accept: accepted @0, message @4, size 16");
_Static_assert(offsetof(ta_chain_event, parent_hash) == 8 &&
                   offsetof(ta_chain_event, event_type) == 20 &&
                   offsetof(ta_chain_event, data) == 28 &&
                   offsetof(ta_chain_event, timestamp) == 40 &&
                   offsetof(ta_chain_event, description) == 48 && sizeof(ta_chain_event) == 64 &&
                   _Alignof(ta_chain_event) == 8,
               "chain-event record layout");
_Static_assert(sizeof(ta_content_ref) == 8, "content-ref {hash: string}");
_Static_assert(sizeof(ta_opt_content_ref) == 12 && offsetof(ta_opt_content_ref, val) == 4,
               "option<content-ref>");
_Static_assert(sizeof(ta_env_var) == 16 && offsetof(ta_env_var, value) == 8,
               "tuple<string, string>");
_Static_assert(sizeof(ta_str_list) == 8 && sizeof(ta_chain_event_list) == 8, "lists");
_Static_assert(sizeof(ta_header) == 16 && offsetof(ta_header, value) == 8, "header tuple");
_Static_assert(sizeof(ta_http_request) == 36 && offsetof(ta_http_request, headers) == 16 &&
                   offsetof(ta_http_request, body) == 24,
               "http-request");
_Static_assert(sizeof(ta_http_response) == 24 && offsetof(ta_http_response, headers) == 4 &&
                   offsetof(ta_http_response, body) == 12,
               "http-response");
#endif

#ifdef __cplusplus
}
#endif

#endif /* THEATER_SDK_H */
