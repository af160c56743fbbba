/*
 * http_call.c - the export calls of `http-handlers` that the servers make
 * on their actor: each inbound request, middleware step and WebSocket event
 * is an rt_inbound (the runtime's inbound events, rt_host.h) queued in the
 * actor's mailbox and run in its turn like any operation, recorded on its
 * chain as a "wasm-call" with the parameters and the result.  The outcome
 * comes back on whichever thread ran the turn and is posted to the I/O
 * thread, where the call's `done` (http_server.c) answers the client.
 */
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "handlers/http_int.h"

void hf_call_free(hf_call *c)
{
    if (c == NULL)
        return;
    wit_free_http_types_http_request(&c->req);
    wit_free_str(&c->path);
    free(c->protocol.val.ptr);
    wit_free_websocket_types_websocket_message(&c->msg);
    wit_free_http_types_http_response(&c->resp);
    wit_free_http_types_middleware_result(&c->mw);
    for (size_t i = 0; i < c->replies.len; i++)
        wit_free_websocket_types_websocket_message(&c->replies.ptr[i]);
    free(c->replies.ptr);
    free(c);
}

/* ---- lowering (in the actor's turn) ---- */

static int lower(rt_inbound *in, rt_guest *g, const struct wit_opt_bytes *state, th_wasm_val *args,
                 uint32_t *nargs)
{
    hf_call *c = (hf_call *)in;

    switch (c->kind) {
    case HF_CALL_REQUEST: {
        wit_tup2_u64_http_types_http_request p = {c->handler, c->req};
        return wit_call_lower_http_handlers_handle_request(g, state, &p, args, nargs);
    }
    case HF_CALL_MIDDLEWARE: {
        wit_tup2_u64_http_types_http_request p = {c->handler, c->req};
        return wit_call_lower_http_handlers_handle_middleware(g, state, &p, args, nargs);
    }
    case HF_CALL_WS_CONNECT: {
        wit_tup4_u64_u64_str_opt_str p = {c->handler, c->conn, c->path, c->protocol};
        return wit_call_lower_http_handlers_handle_websocket_connect(g, state, &p, args, nargs);
    }
    case HF_CALL_WS_MESSAGE: {
        wit_tup3_u64_u64_websocket_types_websocket_message p = {c->handler, c->conn, c->msg};
        return wit_call_lower_http_handlers_handle_websocket_message(g, state, &p, args, nargs);
    }
    default: {
        wit_tup2_u64_u64 p = {c->handler, c->conn};
        return wit_call_lower_http_handlers_handle_websocket_disconnect(g, state, &p, args, nargs);
    }
    }
}

/* ---- lifting ---- */

/* Move a lifted option<list<u8>> state out. */
static void take_state(wit_opt_bytes *o, bool *has, uint8_t **state, size_t *len)
{
    *has = o->some;
    *state = o->val.ptr;
    *len = o->val.len;
    o->val.ptr = NULL;
    o->val.len = 0;
}

/* Take the outcome out of a lifted result<tuple<option<list<u8>>, ...>,
 * string> (its parts given by address): err(s) into *err; ok: the state
 * into *has, *state, *len and the `size` bytes of the payload (0: none)
 * moved into `dst`.  What is taken is cleared in the value, which the
 * caller frees. */
static void take(bool is_err, wit_str *e, wit_opt_bytes *st, void *payload, void *dst, size_t size,
                 bool *has, uint8_t **state, size_t *len, char **err)
{
    if (is_err) {
        *err = e->ptr;
        e->ptr = NULL;
        return;
    }
    take_state(st, has, state, len);
    if (size > 0) {
        memcpy(dst, payload, size);
        memset(payload, 0, size);
    }
}

static int lift(rt_inbound *in, rt_guest *g, const th_wasm_val *res, bool *has, uint8_t **state,
                size_t *len, char **err)
{
    hf_call *c = (hf_call *)in;
    int rc;

    switch (c->kind) {
    case HF_CALL_REQUEST: {
        wit_res_tup2_opt_bytes_tup1_http_types_http_response_str v = {0};
        if ((rc = wit_call_lift_http_handlers_handle_request(g, res, &v)) == 0)
            take(v.is_err, &v.err, &v.ok.f0, &v.ok.f1.f0, &c->resp, sizeof c->resp, has, state, len,
                 err);
        wit_free_res_tup2_opt_bytes_tup1_http_types_http_response_str(&v);
        return rc;
    }
    case HF_CALL_MIDDLEWARE: {
        wit_res_tup2_opt_bytes_tup1_http_types_middleware_result_str v = {0};
        if ((rc = wit_call_lift_http_handlers_handle_middleware(g, res, &v)) == 0)
            take(v.is_err, &v.err, &v.ok.f0, &v.ok.f1.f0, &c->mw, sizeof c->mw, has, state, len,
                 err);
        wit_free_res_tup2_opt_bytes_tup1_http_types_middleware_result_str(&v);
        return rc;
    }
    case HF_CALL_WS_MESSAGE: {
        wit_res_tup2_opt_bytes_tup1_list_websocket_types_websocket_message_str v = {0};
        if ((rc = wit_call_lift_http_handlers_handle_websocket_message(g, res, &v)) == 0)
            take(v.is_err, &v.err, &v.ok.f0, &v.ok.f1.f0, &c->replies, sizeof c->replies, has,
                 state, len, err);
        wit_free_res_tup2_opt_bytes_tup1_list_websocket_types_websocket_message_str(&v);
        return rc;
    }
    default: {
        wit_res_tup1_opt_bytes_str v = {0};
        rc = c->kind == HF_CALL_WS_CONNECT
                 ? wit_call_lift_http_handlers_handle_websocket_connect(g, res, &v)
                 : wit_call_lift_http_handlers_handle_websocket_disconnect(g, res, &v);
        if (rc == 0)
            take(v.is_err, &v.err, &v.ok.f0, NULL, NULL, 0, has, state, len, err);
        wit_free_res_tup1_opt_bytes_str(&v);
        return rc;
    }
    }
}

/* ---- the record ---- */

/* The call's params and the value its result carries besides the state,
 * written by the glue generated from the WIT (tools/witgen), as replay
 * writes them again: params as the JSON of the WIT tuple, the result's
 * value as X's fields (a record: status, headers, body of the response;
 * proceed, request of the middleware's result) or "value": X (the
 * WebSocket replies). */
static void params_json(rt_inbound *in, rt_buf *b)
{
    hf_call *c = (hf_call *)in;

    switch (c->kind) {
    case HF_CALL_REQUEST: {
        wit_tup2_u64_http_types_http_request p = {c->handler, c->req};
        wit_inbound_params_http_handlers_handle_request(b, &p);
        break;
    }
    case HF_CALL_MIDDLEWARE: {
        wit_tup2_u64_http_types_http_request p = {c->handler, c->req};
        wit_inbound_params_http_handlers_handle_middleware(b, &p);
        break;
    }
    case HF_CALL_WS_CONNECT: {
        wit_tup4_u64_u64_str_opt_str p = {c->handler, c->conn, c->path, c->protocol};
        wit_inbound_params_http_handlers_handle_websocket_connect(b, &p);
        break;
    }
    case HF_CALL_WS_MESSAGE: {
        wit_tup3_u64_u64_websocket_types_websocket_message p = {c->handler, c->conn, c->msg};
        wit_inbound_params_http_handlers_handle_websocket_message(b, &p);
        break;
    }
    default: {
        wit_tup2_u64_u64 p = {c->handler, c->conn};
        wit_inbound_params_http_handlers_handle_websocket_disconnect(b, &p);
        break;
    }
    }
}

static void result_json(rt_inbound *in, rt_buf *b)
{
    hf_call *c = (hf_call *)in;

    switch (c->kind) {
    case HF_CALL_REQUEST: wit_inbound_more_http_handlers_handle_request(b, &c->resp); break;
    case HF_CALL_MIDDLEWARE: wit_inbound_more_http_handlers_handle_middleware(b, &c->mw); break;
    case HF_CALL_WS_MESSAGE:
        wit_inbound_more_http_handlers_handle_websocket_message(b, &c->replies);
        break;
    default: break;
    }
}

/* ---- the outcome ---- */

static void on_loop_done(uv_loop_t *loop, void *ud)
{
    hf_call *c = ud;

    if (loop == NULL) {
        /* the runtime stopped meanwhile: the server is gone with the loop */
        hf_call_free(c);
        return;
    }
    c->done(c);
}

static void done(rt_inbound *in, int status, const char *text)
{
    hf_call *c = (hf_call *)in;

    c->status = status;
    if (status != 0)
        snprintf(c->error, sizeof c->error, "%s", text != NULL ? text : th_strerror(status));
    if (rt_io_post(c->rt, on_loop_done, c) != 0)
        hf_call_free(c); /* the loop is gone: nothing waits any more */
}

#define OPS(name, exp) \
    { \
        .iface = "http-handlers", .export = exp, .lower = lower, .lift = lift, \
        .params_json = params_json, .result_json = result_json, .done = done \
    }
static const rt_inbound_ops ops_request = OPS(request, WIT_EXPORT_HTTP_HANDLERS_HANDLE_REQUEST);
static const rt_inbound_ops ops_middleware =
    OPS(middleware, WIT_EXPORT_HTTP_HANDLERS_HANDLE_MIDDLEWARE);
static const rt_inbound_ops ops_connect =
    OPS(connect, WIT_EXPORT_HTTP_HANDLERS_HANDLE_WEBSOCKET_CONNECT);
static const rt_inbound_ops ops_message =
    OPS(message, WIT_EXPORT_HTTP_HANDLERS_HANDLE_WEBSOCKET_MESSAGE);
static const rt_inbound_ops ops_disconnect =
    OPS(disconnect, WIT_EXPORT_HTTP_HANDLERS_HANDLE_WEBSOCKET_DISCONNECT);

void hf_call_post(hf_actor *a, hf_call *c)
{
    int rc;

    switch (c->kind) {
    case HF_CALL_REQUEST: c->in.ops = &ops_request; break;
    case HF_CALL_MIDDLEWARE: c->in.ops = &ops_middleware; break;
    case HF_CALL_WS_CONNECT: c->in.ops = &ops_connect; break;
    case HF_CALL_WS_MESSAGE: c->in.ops = &ops_message; break;
    default: c->in.ops = &ops_disconnect; break;
    }
    c->rt = a->rt;
    /* bounded: a full mailbox answers at once (503 for a request) */
    if ((rc = rt_inbound_deliver(a->rt, a->id, &c->in, true)) != 0) {
        c->status = rc;
        snprintf(c->error, sizeof c->error, "%s",
                 rc == TH_EBUSY ? "the actor's mailbox is full" : th_strerror(rc));
        c->done(c); /* on the I/O thread already */
    }
}
