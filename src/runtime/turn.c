/*
 * turn.c - running actors: turns and operations.
 *
 * An actor runs one operation at a time.  An operation is one call of one of
 * its exports (init, handle-send, handle-request, channel and supervisor
 * handlers) with its current state; the returned state replaces it.  A turn
 * (rt_actor_turn) first serves the control queue (wakes, stop, restart),
 * then continues a preempted operation or starts operations from the
 * mailbox, up to RT_TURN_BUDGET steps or TH_RT_TURN_SLICE_MS of wall time
 * (one slice), and then hands the actor back to the scheduler (sched.c:
 * a preempted actor waits behind the woken ones).  A turn whose operation
 * waits for a request it just made to an idle actor runs that actor's
 * turn nested, at once (run_handoff; sched.c says why and its bounds):
 * the answer lands in this turn's control queue and is served by it.
 *
 * An operation's exec (engine stack) comes from the scheduler's cache and
 * goes back when the call ends; only a suspended (waiting or preempted)
 * operation keeps one.  Fuel is given out in slices of RT_FUEL_SLICE: when a
 * slice runs out the operation is preempted and the actor goes to the back
 * of the run queue, so a loop never holds a worker; when the manifest's fuel
 * per call is spent, or its call timeout has passed, the actor fails.
 *
 * Chain records per operation: "wasm-call" (export and parameters) before
 * the call, host calls during it, "wasm-result" (result and new state)
 * after it, or "actor-failed".
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"
#include "runtime/rt_int.h"
#include "wit_glue.h"

#define RT_TURN_BUDGET TH_RT_TURN_BUDGET
#define RT_FUEL_SLICE TH_RT_FUEL_SLICE
#define WIT_TIMEOUT RT_WIT_TIMEOUT
#define WIT_INTERNAL RT_WIT_INTERNAL
#define WIT_SERIALIZATION RT_WIT_SERIALIZATION

static void op_finish(rt_actor *a);
/* ------------------------------------------------------------------ */
/* Operations                                                         */

static int export_of(int kind)
{
    switch (kind) {
    case RT_MSG_INIT: return RT_EX_INIT;
    case RT_MSG_SEND: return RT_EX_HANDLE_SEND;
    case RT_MSG_REQUEST: return RT_EX_HANDLE_REQUEST;
    case RT_MSG_CHAN_OPEN: return RT_EX_CHAN_OPEN;
    case RT_MSG_CHAN_MSG: return RT_EX_CHAN_MSG;
    case RT_MSG_CHAN_CLOSE: return RT_EX_CHAN_CLOSE;
    case RT_MSG_CHILD_ERROR: return RT_EX_CHILD_ERROR;
    case RT_MSG_CHILD_EXIT: return RT_EX_CHILD_EXIT;
    case RT_MSG_CHILD_STOP: return RT_EX_CHILD_STOP;
    case RT_MSG_INBOUND: return RT_EX_INBOUND;
    default: return -1;
    }
}

static const char *short_of(const char *n)
{
    const char *h = strchr(n, '#');
    return h ? h + 1 : n;
}

const char *rt_op_short(const rt_op *op)
{
    return short_of(op->name);
}

/* The "wasm-call" record: which export, with which parameters. */
static void record_call(rt_actor *a, rt_op *op)
{
    rt_msg *m = op->msg;
    rt_buf b = {0};

    rt_buf_puts(&b, "{\"function\":\"");
    rt_buf_puts(&b, rt_op_short(op));
    rt_buf_puts(&b, "\",");
    if (op->ex == RT_EX_INBOUND) {
        rt_buf_puts(&b, "\"interface\":");
        rt_buf_json_str(&b, m->reply.in->ops->iface, strlen(m->reply.in->ops->iface));
        rt_buf_puts(&b, ",");
    }
    rt_buf_puts(&b, "\"params\":[");
    switch (op->ex) {
    case RT_EX_INBOUND: m->reply.in->ops->params_json(m->reply.in, &b); break;
    case RT_EX_INIT: rt_buf_json_str(&b, a->id, RT_ID_LEN); break;
    case RT_EX_HANDLE_SEND: rt_buf_json_hex(&b, m->data, m->len); break;
    case RT_EX_HANDLE_REQUEST:
    case RT_EX_CHAN_MSG:
        rt_buf_json_str(&b, m->b, strlen(m->b));
        rt_buf_puts(&b, ",");
        rt_buf_json_hex(&b, m->data, m->len);
        break;
    case RT_EX_CHAN_OPEN:
        rt_buf_json_str(&b, m->b, strlen(m->b));
        rt_buf_puts(&b, ",");
        rt_buf_json_hex(&b, m->data, m->len);
        break;
    case RT_EX_CHAN_CLOSE: rt_buf_json_str(&b, m->b, strlen(m->b)); break;
    case RT_EX_CHILD_ERROR:
        rt_buf_json_str(&b, m->a, strlen(m->a));
        if (rt_wit_error_name(m->code) != NULL)
            rt_buf_printf(&b, ",{\"error_type\":\"%s\",\"data\":", rt_wit_error_name(m->code));
        else
            rt_buf_printf(&b, ",{\"error_type\":%d,\"data\":", m->code);
        if (m->text != NULL)
            rt_buf_json_str(&b, m->text, strlen(m->text));
        else
            rt_buf_puts(&b, "null");
        rt_buf_puts(&b, "}");
        break;
    case RT_EX_CHILD_EXIT:
        rt_buf_json_str(&b, m->a, strlen(m->a));
        rt_buf_puts(&b, ",");
        if (m->has_data)
            rt_buf_json_hex(&b, m->data, m->len);
        else
            rt_buf_puts(&b, "null");
        break;
    case RT_EX_CHILD_STOP: rt_buf_json_str(&b, m->a, strlen(m->a)); break;
    }
    rt_buf_puts(&b, "]");
    if (op->ex == RT_EX_INBOUND && m->reply.in->ops->call_json != NULL)
        m->reply.in->ops->call_json(m->reply.in, &b);
    if (m->a[0] && (op->ex == RT_EX_HANDLE_SEND || op->ex == RT_EX_HANDLE_REQUEST)) {
        rt_buf_puts(&b, ",\"from\":");
        rt_buf_json_str(&b, m->a, strlen(m->a));
    }
    if (m->durable)
        rt_durable_json_id(&b, m); /* which stored message (a replay sees it here) */
    rt_buf_puts(&b, "}");
    op->call_rec = b; /* recorded by rt_record before any other event, or
                         merged with the result by record_result */
}

/* Lower the state and the parameters of `op` into the guest (generated
 * glue of each export, wit_glue.h; the C values borrow the actor's and the
 * message's memory, which the lowering only reads). */
static int lower_params(rt_actor *a, rt_op *op, th_wasm_val *args, uint32_t *nargs, th_error *err)
{
    rt_guest g = {a->inst, NULL, op->exec, a->fn_realloc, err};
    rt_msg *m = op->msg;
    wit_opt_bytes state = {a->has_state,
                           {a->has_state ? a->state : NULL, a->has_state ? a->state_len : 0}};
    wit_bytes data = {m->data, m->len};
    wit_str chan = {m->b, strlen(m->b)}, from = {m->a, strlen(m->a)};

    switch (op->ex) {
    case RT_EX_INBOUND: return m->reply.in->ops->lower(m->reply.in, &g, &state, args, nargs);
    case RT_EX_INIT: {
        wit_tup1_str p = {{a->id, RT_ID_LEN}};
        return wit_call_lower_actor_init(&g, &state, &p, args, nargs);
    }
    case RT_EX_HANDLE_SEND: {
        wit_tup1_bytes p = {data};
        return wit_call_lower_message_server_client_handle_send(&g, &state, &p, args, nargs);
    }
    case RT_EX_HANDLE_REQUEST: {
        wit_tup2_str_bytes p = {chan, data};
        return wit_call_lower_message_server_client_handle_request(&g, &state, &p, args, nargs);
    }
    case RT_EX_CHAN_OPEN: {
        wit_tup2_str_bytes p = {chan, data};
        return wit_call_lower_message_server_client_handle_channel_open(&g, &state, &p, args,
                                                                        nargs);
    }
    case RT_EX_CHAN_MSG: {
        wit_tup2_str_bytes p = {chan, data};
        return wit_call_lower_message_server_client_handle_channel_message(&g, &state, &p, args,
                                                                           nargs);
    }
    case RT_EX_CHAN_CLOSE: {
        wit_tup1_str p = {chan};
        return wit_call_lower_message_server_client_handle_channel_close(&g, &state, &p, args,
                                                                         nargs);
    }
    case RT_EX_CHILD_ERROR: {
        /* the error's data is its text */
        wit_tup2_str_types_wit_actor_error p = {
            from,
            {(uint32_t)m->code,
             {m->text != NULL, {(uint8_t *)m->text, m->text ? strlen(m->text) : 0}}}};
        return wit_call_lower_supervisor_handlers_handle_child_error(&g, &state, &p, args, nargs);
    }
    case RT_EX_CHILD_EXIT: {
        wit_tup2_str_opt_bytes p = {
            from, {m->has_data, {m->has_data ? m->data : NULL, m->has_data ? m->len : 0}}};
        return wit_call_lower_supervisor_handlers_handle_child_exit(&g, &state, &p, args, nargs);
    }
    case RT_EX_CHILD_STOP: {
        wit_tup1_str p = {from};
        return wit_call_lower_supervisor_handlers_handle_child_external_stop(&g, &state, &p, args,
                                                                             nargs);
    }
    default: return th_error_set(err, TH_EINVAL, "no export %d", op->ex);
    }
}

/* rt_actor_fail with the code its waiters get (TH_ENOMEM when the host ran
 * out of memory, not the actor). */
static void fail_code(rt_actor *a, int code, int wit_type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void fail_code(rt_actor *a, int code, int wit_type, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    rt_actor_failv(a, code, wit_type, NULL, fmt, ap);
    va_end(ap);
}

/* The init succeeded (or, resumed, there is none): answer the spawner (a
 * durable actor's once its record is stored). */
void rt_actor_started(rt_actor *a)
{
    if (a->durable && rt_durable_started(a))
        return;
    rt_reply_complete(a->rt, &a->init_reply, TH_OK, true, (const uint8_t *)a->id, RT_ID_LEN, NULL);
    if (a->init_sync != NULL) {
        rt_reply s = {NULL, 0, a->init_sync, NULL, 0};
        a->init_sync = NULL;
        rt_reply_complete(a->rt, &s, TH_OK, false, NULL, 0, NULL);
    }
}

/* The export an operation calls (NULL if the actor lacks it), its
 * post-return and its core name.  An inbound event names its export: it is
 * looked up once per instance (a->fn_dyn). */
static void find_export(rt_actor *a, int ex, rt_msg *m, th_wasm_func **fn, th_wasm_func **post,
                        const char **name)
{
    char pname[200];
    unsigned i;

    if (ex != RT_EX_INBOUND) {
        *fn = a->fn[ex];
        *post = a->fn_post[ex];
        *name = rt_export_names[ex];
        return;
    }
    *name = m->reply.in->ops->export;
    for (i = 0; i < a->nfn_dyn; i++)
        if (a->fn_dyn[i].name == *name) {
            *fn = a->fn_dyn[i].fn;
            *post = a->fn_dyn[i].post;
            return;
        }
    *fn = a->inst != NULL ? th_wasm_instance_func(a->inst, *name) : NULL;
    *post = NULL;
    if (*fn != NULL) {
        snprintf(pname, sizeof pname, "cabi_post_%s", *name);
        *post = th_wasm_instance_func(a->inst, pname);
    }
    if (a->fn_dyn == NULL) /* out of memory: looked up again next time */
        a->fn_dyn = malloc(RT_FN_DYN * sizeof *a->fn_dyn);
    if (a->fn_dyn != NULL && a->nfn_dyn < RT_FN_DYN) {
        a->fn_dyn[a->nfn_dyn].name = *name;
        a->fn_dyn[a->nfn_dyn].fn = *fn;
        a->fn_dyn[a->nfn_dyn].post = *post;
        a->nfn_dyn++;
    }
}

/* A zeroed operation: the worker's spare (one per worker: an operation
 * per message then costs no malloc/free), else a new one. */
static rt_op *op_alloc(rt_runtime *rt)
{
    rt_worker *w = rt_sched_self();
    rt_op *op;

    if (w != NULL && w->rt == rt && (op = w->op_spare) != NULL) {
        w->op_spare = NULL;
        memset(op, 0, sizeof *op);
        return op;
    }
    return calloc(1, sizeof *op);
}

/* Start the operation of `m`; `now` is a clock reading (rt_now_ns) taken
 * just before, with nothing run since (the call timeout counts from it). */
static void op_begin_at(rt_actor *a, rt_msg *m, uint64_t now)
{
    th_wasm_val args[16];
    uint32_t nargs = 0;
    th_error err;
    rt_op *op;
    int ex = export_of(m->kind);
    th_wasm_func *fn, *post;
    const char *name;

    if (ex < 0 || (ex == RT_EX_INBOUND && m->reply.in == NULL)) {
        rt_msg_free(m);
        return;
    }
    if (a->durable && m->kind == RT_MSG_REQUEST)
        m->durable = true; /* its result names it (the reply waits for it) */
    find_export(a, ex, m, &fn, &post, &name);
    if (fn == NULL) {
        /* Not exported: init and notifications are optional; requests and
         * channel opens get an error; sends are dropped (recorded). */
        if (ex == RT_EX_INIT) {
            rt_actor_set_status(a, TH_ACTOR_RUNNING);
            rt_record(a, "init-skipped", (const uint8_t *)"{}", 2);
            rt_actor_started(a);
        } else {
            rt_buf b = {0};
            rt_buf_puts(&b, "{\"function\":\"");
            rt_buf_puts(&b, short_of(name));
            rt_buf_puts(&b, "\"");
            if (ex == RT_EX_INBOUND) {
                rt_buf_puts(&b, ",\"interface\":");
                rt_buf_json_str(&b, m->reply.in->ops->iface, strlen(m->reply.in->ops->iface));
            }
            if (m->durable)
                rt_durable_json_id(&b, m);
            rt_buf_puts(&b, "}");
            rt_record_buf(a, "message-dropped", &b);
            rt_reply_complete(a->rt, &m->reply, TH_ENOENT, false, NULL, 0,
                              "function-not-found: the actor does not export it");
        }
        rt_msg_free(m);
        return;
    }
    rt_pack_unpack(a); /* its memory back before its code runs */
    op = op_alloc(a->rt);
    if (op == NULL || (op->exec = rt_exec_get(a->rt)) == NULL) {
        /* The operation cannot run: the actor fails (never a message
         * silently dropped, never an init that nobody answers). */
        free(op);
        rt_reply_complete(a->rt, &m->reply, TH_ENOMEM, false, NULL, 0, "out of memory");
        rt_msg_free(m);
        fail_code(a, TH_ENOMEM, WIT_INTERNAL, "host out of memory starting %s", short_of(name));
        return;
    }
    th_wasm_exec_set_user(op->exec, a);
    th_wasm_exec_set_max_stack(op->exec, (size_t)a->lim.stack_bytes);
    op->ex = ex;
    op->fn = fn;
    op->post = post;
    op->name = name;
    op->msg = m;
    op->fuel_left = a->lim.fuel_per_call ? a->lim.fuel_per_call : UINT64_MAX;
    if (a->lim.call_timeout_ms)
        op->deadline_ns = now + (uint64_t)a->lim.call_timeout_ms * 1000000u;
    a->op = op;
    rt_actor_count(&a->n_calls, 1);
    record_call(a, op);
    th_error_clear(&err);
    if (lower_params(a, op, args, &nargs, &err) != 0) {
        fail_code(a, err.code == TH_ENOMEM ? TH_ENOMEM : TH_ETRAP, WIT_SERIALIZATION,
                  "passing parameters to %s: %s", short_of(name), err.msg);
        return;
    }
    rt_op_run(a, args, nargs, true);
}

void rt_op_begin(rt_actor *a, rt_msg *m)
{
    op_begin_at(a, m, rt_now_ns());
}

/* The frames a call that is cut short had reached, while it is still on
 * the exec (abort ends it as a trap and takes its backtrace; the failure
 * is recorded before the exec goes back to the pool), or NULL. */
static const char *cut_short_backtrace(rt_op *op)
{
    if (!th_wasm_exec_is_suspended(op->exec))
        return NULL;
    th_wasm_exec_abort(op->exec);
    return th_wasm_exec_backtrace(op->exec);
}

/* The op's call used up fuel_per_call: a timeout failure, with the frames
 * the call had reached. */
static void fail_fuel(rt_actor *a, rt_op *op)
{
    rt_actor_fail_bt(a, WIT_TIMEOUT, cut_short_backtrace(op), "fuel exhausted in %s (limit %llu)",
                     rt_op_short(op), (unsigned long long)a->lim.fuel_per_call);
}

/* The op's call ran past limits.call_timeout_ms (running, or waiting in
 * host call `waiting_in`): a timeout failure, with the frames the call had
 * reached. */
static void fail_deadline(rt_actor *a, rt_op *op, const char *waiting_in)
{
    const char *bt = cut_short_backtrace(op);

    if (waiting_in != NULL)
        rt_actor_fail_bt(a, WIT_TIMEOUT, bt,
                         "call timeout of %u ms exceeded in %s while waiting in %s",
                         a->lim.call_timeout_ms, rt_op_short(op), waiting_in);
    else
        rt_actor_fail_bt(a, WIT_TIMEOUT, bt, "call timeout of %u ms exceeded in %s",
                         a->lim.call_timeout_ms, rt_op_short(op));
}

/* Classify a trap: hitting the memory limit is reported as such. */
static void fail_trap(rt_actor *a, rt_op *op)
{
    th_wasm_exec *ex = op->exec;
    const char *msg = th_wasm_exec_trap_message(ex);
    th_wasm_memory *mem = a->inst ? th_wasm_instance_memory0(a->inst) : NULL;
    uint64_t size = 0;

    if (mem != NULL)
        th_wasm_memory_data(mem, &size);
    if (th_wasm_exec_trap_kind(ex) == TH_WASM_TRAP_OOM)
        fail_code(a, TH_ENOMEM, WIT_INTERNAL, "host out of memory in %s: %s", rt_op_short(op), msg);
    else if (th_wasm_exec_trap_kind(ex) == TH_WASM_TRAP_MEMORY_LIMIT ||
             (a->lim.memory_bytes && size + 65536u > a->lim.memory_bytes))
        rt_actor_fail(a, WIT_INTERNAL, "memory limit of %llu bytes reached: %s in %s",
                      (unsigned long long)a->lim.memory_bytes, msg, rt_op_short(op));
    else
        rt_actor_fail_bt(a, WIT_INTERNAL, th_wasm_exec_backtrace(ex), "trap in %s: %s",
                         rt_op_short(op), msg);
}

/* Arm the call timeout of a waiting op (its deadline may have passed
 * already: then it fires at once). */
static void arm_timeout(rt_actor *a, rt_op *op)
{
    uint64_t now = rt_now_ns();
    uint64_t ms = op->deadline_ns > now ? (op->deadline_ns - now + 999999u) / 1000000u : 0;

    op->arm_later = false;
    rt_timer_arm(a->rt, &op->timer, ms, a->id, op->token, RT_WAKE_CALL_TIMEOUT);
}

/* Run (first) or resume the op's call for one slice and act on the end. */
void rt_op_run(rt_actor *a, const th_wasm_val *args, uint32_t nargs, bool first)
{
    rt_op *op = a->op;
    th_wasm_val res[1];
    uint64_t slice = op->fuel_left < RT_FUEL_SLICE ? op->fuel_left : RT_FUEL_SLICE, left;
    int rc;

    th_wasm_exec_set_fuel(op->exec, slice);
    op->fuel_set = slice;
    res[0].i64 = 0;
    if (first)
        rc = th_wasm_exec_call(op->exec, op->fn, args, nargs, res, 1);
    else
        rc = th_wasm_exec_resume(op->exec, NULL, res, 1);
    left = th_wasm_exec_fuel(op->exec);
    rt_actor_count(&a->n_fuel, op->fuel_set > left ? op->fuel_set - left : 0);
    if (op->fuel_left != UINT64_MAX) {
        /* fuel_set may exceed the slice: abi.c adds what a cabi_realloc
         * inside a host call spent beyond it; past the limit, the call
         * fails even if it has returned */
        uint64_t spent = op->fuel_set > left ? op->fuel_set - left : 0;
        if (spent > op->fuel_left) {
            op->fuel_left = 0;
            fail_fuel(a, op);
            return;
        }
        op->fuel_left -= spent;
    }
    switch (rc) {
    case TH_OK:
        op->result_ptr = (uint32_t)res[0].i32;
        op_finish(a);
        return;
    case TH_WASM_SUSPENDED:
        if (op->wait == 0) {
            rt_actor_fail(a, WIT_INTERNAL, "%s suspended without a wait", rt_op_short(op));
            return;
        }
        /* the call goes on the chain now, not when the host call it waits
         * in ends (maybe seconds later): its time is the call's, before
         * what the wait causes elsewhere */
        if (a->replay == NULL)
            rt_record_held_call(a);
        if (op->deadline_ns) {
            rt_worker *w = rt_sched_self();
            if (w != NULL && w->handoff != NULL)
                op->arm_later = true; /* the answer may come before the turn ends */
            else
                arm_timeout(a, op);
        }
        return;
    case TH_WASM_OUT_OF_FUEL:
        if (op->fuel_left == 0) {
            fail_fuel(a, op);
            return;
        }
        if (op->deadline_ns && rt_now_ns() >= op->deadline_ns) {
            fail_deadline(a, op, NULL);
            return;
        }
        op->wait = RT_WAIT_YIELD;
        return;
    case TH_WASM_TRAPPED: fail_trap(a, op); return;
    default:
        rt_actor_fail(a, WIT_INTERNAL, "cannot call %s: %s", rt_op_short(op), th_strerror(rc));
        return;
    }
}

/* Free the op (after success or failure): exec back to the cache, the op
 * itself kept as its worker's spare. */
void rt_op_free(rt_actor *a)
{
    rt_op *op = a->op;
    rt_worker *w;

    if (op == NULL)
        return;
    a->op = NULL;
    rt_timer_cancel(a->rt, &op->timer);
    rt_exec_put(a->rt, op->exec);
    rt_msg_free(op->msg);
    free(op->host_input);
    rt_buf_release(&op->call_rec);
    w = rt_sched_self();
    if (w != NULL && w->rt == a->rt && w->op_spare == NULL)
        w->op_spare = op; /* op_alloc's next */
    else
        free(op);
}

/* Lifted result of an operation. */
typedef struct op_result {
    bool has_state;
    uint8_t *state;
    size_t state_len;
    bool has_resp; /* handle-request response / channel accept message */
    uint8_t *resp;
    size_t resp_len;
    bool accepted; /* channel open */
    char *err;     /* err(string) */
} op_result;

/* The exports whose result is result<tuple<option<list<u8>>>, string>. */
typedef int (*state_lift_fn)(rt_guest *g, const th_wasm_val *res, wit_res_tup1_opt_bytes_str *out);
static const state_lift_fn state_lifts[RT_EX_COUNT] = {
    [RT_EX_INIT] = wit_call_lift_actor_init,
    [RT_EX_HANDLE_SEND] = wit_call_lift_message_server_client_handle_send,
    [RT_EX_CHAN_MSG] = wit_call_lift_message_server_client_handle_channel_message,
    [RT_EX_CHAN_CLOSE] = wit_call_lift_message_server_client_handle_channel_close,
    [RT_EX_CHILD_ERROR] = wit_call_lift_supervisor_handlers_handle_child_error,
    [RT_EX_CHILD_EXIT] = wit_call_lift_supervisor_handlers_handle_child_exit,
    [RT_EX_CHILD_STOP] = wit_call_lift_supervisor_handlers_handle_child_external_stop,
};

/* Move a lifted option<list<u8>> into (has, ptr, len). */
static void take_opt(wit_opt_bytes *o, bool *has, uint8_t **p, size_t *n)
{
    *has = o->some;
    *p = o->val.ptr;
    *n = o->val.len;
    o->val.ptr = NULL;
    o->val.len = 0;
}

/* Lift the export's result (generated glue: the whole result checked in
 * memory and aligned before any field is read, UTF-8 and discriminants
 * checked) and move it into r. */
static int lift_result(rt_actor *a, rt_op *op, uint32_t ptr, op_result *r, th_error *err)
{
    rt_guest g = {a->inst, NULL, op->exec, a->fn_realloc, err};
    th_wasm_val res[1];
    int rc;

    res[0].i32 = (int32_t)ptr;
    if (op->ex == RT_EX_INBOUND) {
        rt_inbound *in = op->msg->reply.in;
        return in->ops->lift(in, &g, res, &r->has_state, &r->state, &r->state_len, &r->err);
    }
    if (op->ex == RT_EX_HANDLE_REQUEST) {
        wit_res_tup2_opt_bytes_tup1_opt_bytes_str v;
        memset(&v, 0, sizeof v);
        rc = wit_call_lift_message_server_client_handle_request(&g, res, &v);
        if (rc == 0 && v.is_err) {
            r->err = v.err.ptr, v.err.ptr = NULL;
        } else if (rc == 0) {
            take_opt(&v.ok.f0, &r->has_state, &r->state, &r->state_len);
            take_opt(&v.ok.f1.f0, &r->has_resp, &r->resp, &r->resp_len);
        }
        wit_free_res_tup2_opt_bytes_tup1_opt_bytes_str(&v);
        return rc;
    }
    if (op->ex == RT_EX_CHAN_OPEN) {
        wit_res_tup2_opt_bytes_tup1_types_channel_accept_str v;
        memset(&v, 0, sizeof v);
        rc = wit_call_lift_message_server_client_handle_channel_open(&g, res, &v);
        if (rc == 0 && v.is_err) {
            r->err = v.err.ptr, v.err.ptr = NULL;
        } else if (rc == 0) {
            take_opt(&v.ok.f0, &r->has_state, &r->state, &r->state_len);
            r->accepted = v.ok.f1.f0.accepted;
            take_opt(&v.ok.f1.f0.message, &r->has_resp, &r->resp, &r->resp_len);
        }
        wit_free_res_tup2_opt_bytes_tup1_types_channel_accept_str(&v);
        return rc;
    }
    if (op->ex < 0 || op->ex >= RT_EX_COUNT || state_lifts[op->ex] == NULL)
        return th_error_set(err, TH_EINVAL, "no export %d", op->ex);
    {
        wit_res_tup1_opt_bytes_str v;
        memset(&v, 0, sizeof v);
        rc = state_lifts[op->ex](&g, res, &v);
        if (rc == 0 && v.is_err)
            r->err = v.err.ptr, v.err.ptr = NULL;
        else if (rc == 0)
            take_opt(&v.ok.f0, &r->has_state, &r->state, &r->state_len);
        wit_free_res_tup1_opt_bytes_str(&v);
        return rc;
    }
}

static void record_result(rt_actor *a, rt_op *op, const op_result *r)
{
    rt_buf b = {0};
    bool merged = op->call_rec.data != NULL && !op->call_rec.oom &&
                  (a->replay == NULL ||
                   !rt_replay_call_alone(a, (const uint8_t *)op->call_rec.data, op->call_rec.len));

    if (merged) {
        /* {"function":..,"params":[..]} + ,"result":{..}} */
        b = op->call_rec;
        memset(&op->call_rec, 0, sizeof op->call_rec);
        b.len--; /* the closing brace */
        rt_buf_puts(&b, ",\"result\":{\"state\":");
    } else {
        rt_buf_puts(&b, "{\"function\":\"");
        rt_buf_puts(&b, rt_op_short(op));
        rt_buf_puts(&b, "\"");
        if (op->msg->durable)
            rt_durable_json_id(&b, op->msg);
        rt_buf_puts(&b, ",\"state\":");
    }
    if (r->has_state)
        rt_buf_json_hex(&b, r->state, r->state_len);
    else
        rt_buf_puts(&b, "null");
    if (op->ex == RT_EX_HANDLE_REQUEST) {
        rt_buf_puts(&b, ",\"response\":");
        if (r->has_resp)
            rt_buf_json_hex(&b, r->resp, r->resp_len);
        else
            rt_buf_puts(&b, "null");
    } else if (op->ex == RT_EX_INBOUND) {
        rt_inbound *in = op->msg->reply.in;
        if (in->ops->result_json != NULL)
            in->ops->result_json(in, &b);
    } else if (op->ex == RT_EX_CHAN_OPEN) {
        rt_buf_printf(&b, ",\"accepted\":%s,\"message\":", r->accepted ? "true" : "false");
        if (r->has_resp)
            rt_buf_json_hex(&b, r->resp, r->resp_len);
        else
            rt_buf_puts(&b, "null");
    }
    rt_buf_puts(&b, merged ? "}}" : "}");
    rt_record_buf(a, merged ? "wasm-call" : "wasm-result", &b);
}

/* The opener's error for a refused channel: who refused, and the message
 * the actor refused it with (channel-accept.message) when there is one,
 * as text when it is printable UTF-8 (cut to fit), else its size. */
static void refusal_text(char *text, size_t cap, const char *id, bool has_msg, const uint8_t *msg,
                         size_t len)
{
    size_t n = (size_t)snprintf(text, cap, "channel rejected by %s", id), room, i;
    bool plain = base_utf8_valid(msg, len);

    if (!has_msg || len == 0 || n + 3 >= cap)
        return;
    for (i = 0; i < len && plain; i++)
        plain = msg[i] >= 0x20 ? msg[i] != 0x7f : msg[i] == '\t';
    if (!plain) {
        snprintf(text + n, cap - n, ": a message of %zu bytes that is not text", len);
        return;
    }
    room = cap - n - 3; /* ": " and the NUL */
    if (len > room)
        len = base_utf8_prefix(msg, room);
    memcpy(text + n, ": ", 2);
    memcpy(text + n + 2, msg, len);
    text[n + 2 + len] = 0;
}

/* Deliver what the operation produced besides the state. */
static void deliver_outputs(rt_actor *a, rt_op *op, op_result *r)
{
    rt_msg *m = op->msg;
    rt_pending *p;

    switch (op->ex) {
    case RT_EX_INIT:
        pthread_mutex_lock(&a->lock);
        if (a->status == TH_ACTOR_STARTING)
            a->status = TH_ACTOR_RUNNING;
        pthread_mutex_unlock(&a->lock);
        rt_actor_started(a);
        break;
    case RT_EX_HANDLE_REQUEST:
        if (r->has_resp) {
            rt_reply_complete(a->rt, &m->reply, TH_OK, true, r->resp, r->resp_len, NULL);
        } else if (rt_pending_count(a) >= a->lim.mailbox_messages) { /* the live ones */
            /* deferred requests are bounded like the mailbox they came from */
            char text[160];
            snprintf(text, sizeof text,
                     "actor %s has %u outstanding requests, its limit "
                     "(limits.mailbox_messages)",
                     a->id, a->npending);
            rt_reply_complete(a->rt, &m->reply, TH_EBUSY, false, NULL, 0, text);
        } else if (m->reply.actor != NULL || m->reply.sync != NULL) {
            /* answered later with respond-to-request */
            p = calloc(1, sizeof *p);
            if (p == NULL) {
                rt_reply_complete(a->rt, &m->reply, TH_ENOMEM, false, NULL, 0, "out of memory");
                break;
            }
            memcpy(p->id, m->b, sizeof p->id);
            p->reply = m->reply;
            memset(&m->reply, 0, sizeof m->reply);
            p->next = a->pending;
            a->pending = p;
            a->npending++;
        }
        break;
    case RT_EX_CHAN_OPEN:
        if (r->accepted) {
            rt_channel_set_open(a->rt, m->b, true);
            rt_reply_complete(a->rt, &m->reply, TH_OK, true, (const uint8_t *)m->b, strlen(m->b),
                              NULL);
            if (r->has_resp) {
                rt_msg *cm = rt_msg_new(RT_MSG_CHAN_MSG, r->resp, r->resp_len);
                if (cm != NULL) {
                    memcpy(cm->a, a->id, sizeof cm->a);
                    memcpy(cm->b, m->b, sizeof cm->b);
                    rt_actor_count(&a->n_out, 1);
                    rt_channel_deliver(a->rt, m->a, cm);
                }
            }
        } else {
            char text[TH_ERROR_MSG_MAX];
            rt_channel_close(a->rt, m->b, NULL, NULL);
            refusal_text(text, sizeof text, a->id, r->has_resp, r->resp, r->resp_len);
            rt_reply_complete(a->rt, &m->reply, TH_EPERM, false, NULL, 0, text);
        }
        break;
    case RT_EX_INBOUND: rt_reply_complete(a->rt, &m->reply, TH_OK, false, NULL, 0, NULL); break;
    default: break;
    }
}

/* The export returned: lift, post-return, new state, outputs, records. */
static void op_finish(rt_actor *a)
{
    rt_op *op = a->op;
    op_result r;
    th_wasm_val args[1], res[1];
    th_error err;
    uint32_t ptr;
    int rc;

    memset(&r, 0, sizeof r);
    th_error_clear(&err);
    ptr = op->result_ptr;
    rc = lift_result(a, op, ptr, &r, &err);
    if (rc == 0 && op->post != NULL) {
        args[0].i32 = (int32_t)ptr;
        th_wasm_exec_set_fuel(op->exec, RT_FUEL_SLICE);
        /* the Canonical ABI forbids a post-return to leave the guest: the
         * caller has its results already (capability.c refuses a host call) */
        a->in_post = true;
        rc = th_wasm_exec_call(op->exec, op->post, args, 1, res, 0);
        a->in_post = false;
        if (rc != TH_OK) {
            if (th_wasm_exec_is_suspended(op->exec))
                th_wasm_exec_abort(op->exec);
            bool oom =
                rc == TH_WASM_TRAPPED && th_wasm_exec_trap_kind(op->exec) == TH_WASM_TRAP_OOM;
            rc = th_error_set(
                &err, oom ? TH_ENOMEM : TH_ETRAP, "cabi_post_%s failed: %s", rt_op_short(op),
                rc == TH_WASM_TRAPPED ? th_wasm_exec_trap_message(op->exec) : "did not return");
        }
    }
    if (rc != 0) {
        fail_code(a, err.code == TH_ENOMEM ? TH_ENOMEM : TH_ETRAP, WIT_SERIALIZATION,
                  "bad result from %s: %s", rt_op_short(op), err.msg);
        goto out;
    }
    if (r.err != NULL) {
        rt_actor_fail(a, WIT_INTERNAL, "%s returned an error: %s", rt_op_short(op), r.err);
        goto out;
    }
    if (op->msg->durable && op->ex == RT_EX_HANDLE_REQUEST && r.has_resp)
        (void)rt_durable_hold_reply(a, op->msg, &op->msg->reply, TH_OK, true, r.resp, r.resp_len,
                                    NULL); /* commit point 3 */
    if (a->inst != NULL) {
        th_wasm_memory *mem = th_wasm_instance_memory0(a->inst);
        uint64_t size = 0;
        if (mem != NULL)
            th_wasm_memory_data(mem, &size);
        atomic_store_explicit(&a->n_mem, size, memory_order_relaxed);
    }
    /* The new state first, then its event: whoever hears the event (an
     * event larger than a batch is queued at once, and the recorder may
     * append it, and tell subscribers, before this turn goes on) and then
     * asks for the state gets this one.  The actor owns r.state from here;
     * only its own turn replaces it, so record_result may still read it. */
    rt_actor_set_state(a, r.has_state, r.state, r.state_len);
    record_result(a, op, &r);
    r.state = NULL;
    if (a->replay == NULL) /* a replay touches nothing outside the actor */
        deliver_outputs(a, op, &r);
    rt_op_free(a);
    if (a->shutdown_req && a->stop_msg == NULL) {
        rt_msg *stop = rt_msg_new(RT_MSG_STOP, NULL, 0);
        if (stop != NULL) {
            stop->code = RT_STOP_EXIT;
            rt_sup_begin_stop(a, stop);
        }
    }
out:
    free(r.state);
    free(r.resp);
    free(r.err);
}

uint64_t rt_op_wait(rt_actor *a, int kind, uint32_t retptr, const char *iface, const char *fn,
                    char *input_json)
{
    rt_op *op = a->op;

    op->wait = kind;
    op->retptr_wait = retptr;
    op->token = a->next_token++;
    op->host_iface = iface;
    op->host_fn = fn;
    free(op->host_input);
    op->host_input = input_json;
    return op->token;
}

/* A wake for the op's current wait: write the host call's result and
 * resume. */
static void op_wake(rt_actor *a, rt_msg *m)
{
    rt_op *op = a->op;
    th_wasm_exec *tmp;
    th_error err;
    rt_guest g;
    rt_buf out = {0};
    int rc = 0;
    const char *etext = m->text != NULL ? m->text : "failed";

    if (m->code == RT_WAKE_CALL_TIMEOUT) {
        fail_deadline(a, op, op->host_fn);
        return;
    }
    rt_timer_cancel(a->rt, &op->timer);
    op->arm_later = false;
    th_error_clear(&err);
    tmp = rt_exec_get(a->rt);
    if (tmp == NULL) {
        rt_actor_fail(a, WIT_INTERNAL, "out of memory resuming %s", op->host_fn);
        return;
    }
    g = (rt_guest){a->inst, NULL, tmp, a->fn_realloc, &err};
    /* the waiting call's result: result<_, string> (RT_WAIT_UNIT),
     * result<list<u8>, string> or result<string, string>, lowered and
     * recorded by the generated glue */
    if (op->wait == RT_WAIT_UNIT) {
        wit_res_unit_str r = {m->code != TH_OK, {(char *)etext, strlen(etext)}};
        if ((rc = wit_lower_res_unit_str(&g, op->retptr_wait, &r)) == 0)
            wit_json_res_unit_str(&out, &r);
    } else if (op->wait == RT_WAIT_BYTES) {
        wit_res_bytes_str r = {m->code != TH_OK, {m->data, m->len}, {(char *)etext, strlen(etext)}};
        if ((rc = wit_lower_res_bytes_str(&g, op->retptr_wait, &r)) == 0)
            wit_json_res_bytes_str(&out, &r);
    } else if (op->wait == RT_WAIT_STRING) {
        wit_res_str_str r = {
            m->code != TH_OK, {(char *)m->data, m->len}, {(char *)etext, strlen(etext)}};
        if ((rc = wit_lower_res_str_str(&g, op->retptr_wait, &r)) == 0)
            wit_json_res_str_str(&out, &r);
    } else if (op->wait == RT_WAIT_RESULT && m->res != NULL) {
        rc = m->res->lower(m->res, &g, op->retptr_wait, &out);
    } else {
        rc = th_error_set(&err, TH_EINVAL, "no result for wait %d", op->wait);
    }
    rt_exec_put(a->rt, tmp);
    if (rc != 0) {
        rt_buf_release(&out);
        rt_actor_fail(a, WIT_SERIALIZATION, "returning the result of %s: %s", op->host_fn, err.msg);
        return;
    }
    rt_record_host(a, op->host_iface, op->host_fn, op->host_input,
                   out.oom ? NULL : (char *)out.data);
    rt_buf_release(&out);
    op->wait = 0;
    rt_op_run(a, NULL, 0, false);
}

void rt_actor_abort_op(rt_actor *a, const char *text)
{
    if (a->op == NULL)
        return;
    /* its message was taken: a wasm-call not recorded yet (no event of
     * the operation so far) goes on the chain, without a result (what
     * ends the operation follows: actor-restarted, actor-stopped) */
    if (a->replay == NULL)
        rt_record_held_call(a);
    if (a->op->msg != NULL)
        rt_reply_complete(a->rt, &a->op->msg->reply, TH_ECLOSED, false, NULL, 0, text);
    rt_op_free(a);
    rt_reply_complete(a->rt, &a->init_reply, TH_ECLOSED, false, NULL, 0, text);
    if (a->init_sync != NULL) {
        rt_reply s = {NULL, 0, a->init_sync, NULL, 0};
        a->init_sync = NULL;
        rt_reply_complete(a->rt, &s, TH_ECLOSED, false, NULL, 0, text);
    }
}

void rt_actor_fail_pending(rt_actor *a, const char *text)
{
    a->npending = 0;
    while (a->pending != NULL) {
        rt_pending *p = a->pending;
        a->pending = p->next;
        rt_reply_complete(a->rt, &p->reply, TH_ECLOSED, false, NULL, 0, text);
        free(p);
    }
}

uint32_t rt_actor_stop_children(rt_actor *a, int code, bool ack)
{
    rt_actor **kids;
    size_t n, i;
    uint32_t asked = 0;
    rt_msg *m;

    if (rt_actor_children(a, &kids, &n) != 0)
        return 0;
    for (i = n; i-- > 0;) {
        m = rt_msg_new(RT_MSG_STOP, NULL, 0);
        if (m != NULL) {
            m->code = (int16_t)code;
            if (ack) {
                rt_actor_ref(a);
                m->reply.actor = a;
                m->reply.token = RT_TOKEN_CHILD_GONE;
            }
            rt_actor_post_ctl(kids[i], m);
            asked++;
        }
        rt_actor_release(kids[i]);
    }
    free(kids);
    return asked;
}

/* ------------------------------------------------------------------ */
/* Control messages and turns                                         */

static void control(rt_actor *a, rt_msg *m)
{
    switch (m->kind) {
    case RT_MSG_INIT:
        if (a->status == TH_ACTOR_STARTING && a->op == NULL && a->stop_msg == NULL) {
            rt_op_begin(a, m);
            return;
        }
        break;
    case RT_MSG_WAKE:
        if (m->token == RT_TOKEN_CHILD_GONE) {
            rt_sup_child_gone(a, m);
            break;
        }
        if (a->op != NULL && a->op->wait != 0 && a->op->wait != RT_WAIT_YIELD &&
            m->token == a->op->token)
            op_wake(a, m);
        break;
    case RT_MSG_STOP: rt_sup_begin_stop(a, m); return;
    case RT_MSG_RESTART: rt_sup_do_restart(a); break;
    case RT_MSG_UPGRADE:
        /* not while an instance starts (a restart queued before it: the
         * INIT behind it in this queue runs first) */
        if (a->op == NULL && a->status != TH_ACTOR_STARTING) {
            rt_upgrade_apply(a, m);
            return;
        }
        if (a->upgrade_msg == NULL) {
            a->upgrade_msg = m; /* between two operations, never during one */
            return;
        }
        rt_reply_complete(a->rt, &m->reply, TH_EBUSY, false, NULL, 0,
                          "another upgrade of this actor waits for its operation to end");
        break;
    case RT_MSG_CHILD_ERROR:
    case RT_MSG_CHILD_EXIT:
    case RT_MSG_CHILD_STOP:
        /* supervision first (the runtime's action), then the actor's own
         * handler as an ordinary operation */
        if (a->status == TH_ACTOR_STOPPING || a->status == TH_ACTOR_STOPPED)
            break;
        if (!rt_sup_apply_strategy(a, m))
            break;
        if (a->status == TH_ACTOR_RUNNING || a->status == TH_ACTOR_STARTING) {
            rt_actor_mbox_push(a, m);
            return;
        }
        break;
    default: break;
    }
    rt_msg_free(m);
}

/* The hand-off (sched.c): the actor `a`, whose turn runs on worker `w`,
 * made a request that woke `b`; run b's turn now, nested, if a's turn has
 * budget and time left, else queue b as any woken actor.  a's batch of
 * events is held meanwhile (record.c) and collects on after: a's events
 * keep their order and go to the recorder once per turn, not once per
 * round trip; b's turn queues its own at its end as any turn does. */
static void turn_at(rt_actor *a, uint64_t now);

static void run_handoff(rt_actor *a, rt_worker *w, int *budget, uint64_t end)
{
    rt_actor *b = w->handoff;
    uint64_t now;

    w->handoff = NULL;
    if (*budget <= 0 || (now = rt_now_ns()) >= end) {
        rt_sched_push(b, RT_PUSH_WAKE);
        return;
    }
    (*budget)--;
    rt_record_nest_begin(a);
    w->nested++;
    turn_at(b, now); /* consumes the reference the wake took */
    w->nested--;
    rt_record_nest_end(a);
}

/* The clock for a turn's checks: `*t` if it was read with nothing run
 * since (`*fresh`), else a new reading. */
static uint64_t turn_clock(uint64_t *t, bool *fresh)
{
    if (!*fresh) {
        *t = rt_now_ns();
        *fresh = true;
    }
    return *t;
}

void rt_actor_turn(rt_actor *a)
{
    turn_at(a, rt_now_ns());
}

/* The turn of `a`, started at `now` (rt_now_ns, read just before).  The
 * clock is read for the slice's checks only when something ran since the
 * last reading (a hand-off's nested turn starts from the reading that
 * allowed it, and its operation's call timeout counts from there too). */
static void turn_at(rt_actor *a, uint64_t now)
{
    int budget = RT_TURN_BUDGET;
    uint64_t t = now, end = now + (uint64_t)TH_RT_TURN_SLICE_MS * 1000000u;
    bool yield = false, paced = false, mbox_ok, fresh = true;
    rt_worker *w = rt_sched_self();
    rt_node *n;
    rt_msg *m;
    int expect;

    if (w != NULL && w->rt != a->rt)
        w = NULL;
    rt_pack_turn_begin(a, now); /* (a packed memory comes back with an operation) */
    rt_record_turn_begin(a);
    for (;;) {
        if (w != NULL && w->handoff != NULL) {
            run_handoff(a, w, &budget, end);
            fresh = false;
            continue;
        }
        if ((n = rt_mpsc_pop(&a->ctl)) != NULL) {
            if (a->status == TH_ACTOR_STOPPED)
                rt_actor_refuse_msg(a, (rt_msg *)n, "is stopped");
            else
                control(a, (rt_msg *)n);
            fresh = false;
            continue;
        }
        if (a->op != NULL) {
            if (a->op->wait != RT_WAIT_YIELD) {
                if (a->op->arm_later) /* the hand-off did not answer it */
                    arm_timeout(a, a->op);
                break; /* waiting for a wake */
            }
            if (a->op->paced) { /* send.c: its receiver goes first */
                a->op->paced = false;
                paced = yield = true;
                break;
            }
            if (budget-- <= 0 || turn_clock(&t, &fresh) >= end) {
                yield = true;
                break;
            }
            a->op->wait = 0;
            rt_op_run(a, NULL, 0, false);
            fresh = false;
            continue;
        }
        if (a->upgrade_msg != NULL) { /* the operation it waited for ended */
            rt_msg *up = a->upgrade_msg;
            a->upgrade_msg = NULL;
            rt_upgrade_apply(a, up);
            fresh = false;
            continue;
        }
        if (a->status == TH_ACTOR_STOPPED) {
            rt_actor_refuse_all(a, "is stopped");
            break;
        }
        if (a->status != TH_ACTOR_RUNNING || a->stop_msg != NULL)
            break;
        /* nothing to take: idle (no clock reading, no budget spent; a
         * message pushed meanwhile is seen after the turn, below) */
        if (rt_mpsc_count(&a->mbox) == 0 && atomic_load(&a->nblocked) == 0)
            break;
        if (budget-- <= 0 || turn_clock(&t, &fresh) >= end) {
            yield = true;
            break;
        }
        rt_actor_admit_blocked(a);
        if ((m = rt_actor_mbox_pop(a)) == NULL)
            break;
        fresh = false;
        if (m->kind == RT_MSG_STOP) {
            /* a graceful stop, queued behind the messages before it */
            rt_sup_begin_stop(a, m);
            continue;
        }
        op_begin_at(a, m, t); /* t: read just before, nothing run since */
    }
    rt_record_turn_end(a); /* its events are queued before anyone else runs it */
    if (yield) {
        /* A paced sender goes behind its receiver on this worker (the
         * local queue: the pair stays on one core) while its paced turns
         * since it was last preempted last less than a slice; then behind
         * everyone, as any turn that used up its slice. */
        if (paced && a->op != NULL) {
            if (a->op->paced_since == 0)
                a->op->paced_since = now;
            if (turn_clock(&t, &fresh) - a->op->paced_since <
                (uint64_t)TH_RT_TURN_SLICE_MS * 1000000u) {
                rt_sched_push(a, RT_PUSH_AGAIN);
                return;
            }
        }
        if (a->op != NULL)
            a->op->paced_since = 0;
        rt_sched_push(a, RT_PUSH_PREEMPT);
        return;
    }
    /* go idle, then look again: a message pushed after our last pop whose
     * sender saw us QUEUED must not be lost */
    mbox_ok = a->op == NULL && a->stop_msg == NULL &&
              (a->status == TH_ACTOR_RUNNING || a->status == TH_ACTOR_STOPPED);
    atomic_store(&a->sched, RT_SCHED_IDLE);
    if (rt_mpsc_count(&a->ctl) > 0 ||
        (mbox_ok && (rt_mpsc_count(&a->mbox) > 0 || atomic_load(&a->nblocked) > 0))) {
        expect = RT_SCHED_IDLE;
        if (atomic_compare_exchange_strong(&a->sched, &expect, RT_SCHED_QUEUED)) {
            rt_sched_push(a, RT_PUSH_AGAIN);
            return;
        }
    }
    rt_actor_release(a);
}
