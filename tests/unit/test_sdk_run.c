/*
 * test_sdk_run.c - runs the example actors built with the C guest SDK on
 * the project's WebAssembly engine, against a small mock host that plays
 * the host side of the Canonical ABI: it lowers export arguments through
 * the guest's cabi_realloc, lifts the results from the return area, calls
 * cabi_post_*, and implements the host imports the examples use (writing
 * their results at retptr, strings and lists allocated in the guest).
 *
 * This proves at run time what test_sdk_abi proves about shapes: state
 * threading, responses, channel accepts, errors, traps, retptr results,
 * and that call-scoped memory is released (a long run does not grow the
 * guest's memory, with or without post-return).
 *
 * The modules come from <build>/sdk/abi_check.txt; without it (guests not
 * built) the tests skip.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test_skip.h"
#include "theater/wasm.h"

#define MAX_LINES 64
#define LINE 256

/* ------------------------------------------------------------------------ */
/* The mock host                                                            */
/* ------------------------------------------------------------------------ */

typedef struct mock {
    th_wasm_module *mod;
    th_wasm_instance *inst;
    th_wasm_imports *imp;
    th_wasm_exec *ex;
    th_wasm_func *realloc_fn;
    char log[MAX_LINES][LINE]; /* runtime.log messages */
    int nlog;
    char calls[MAX_LINES][LINE]; /* other host calls, as "name arg arg" */
    int ncalls;
    uint64_t clock; /* timing: ms */
    int nspawn;
    char request_answer[LINE]; /* what message-server-host.request returns */
    struct {
        char label[64], value[LINE];
    } kv[16];
    int nkv;
} mock;

static mock M;
static char wasm_dir[1024];
static bool guests_built;

/* Reads guest bytes [ptr, ptr+len) as a NUL-terminated copy in out. */
static void read_guest(const uint8_t *mem, uint64_t size, uint32_t ptr, uint32_t len, char *out,
                       size_t cap)
{
    assert_true((uint64_t)ptr + len <= size);
    assert_true(len < cap);
    memcpy(out, mem + ptr, len);
    out[len] = 0;
}

static void put_u8(uint8_t *mem, uint64_t size, uint32_t off, uint8_t v)
{
    assert_true((uint64_t)off + 1 <= size);
    mem[off] = v;
}

static void put_u32(uint8_t *mem, uint64_t size, uint32_t off, uint32_t v)
{
    assert_true((uint64_t)off + 4 <= size);
    memcpy(mem + off, &v, 4); /* wasm is little-endian, and so is this host */
}

static uint32_t get_u32(const uint8_t *mem, uint64_t size, uint32_t off)
{
    uint32_t v;
    assert_true((uint64_t)off + 4 <= size);
    memcpy(&v, mem + off, 4);
    return v;
}

/* Allocates in the guest from inside a host function. */
static uint32_t guest_alloc(th_wasm_call *call, uint32_t align, uint32_t n)
{
    th_wasm_val args[4] = {{.i32 = 0}, {.i32 = 0}, {.i32 = (int32_t)align}, {.i32 = (int32_t)n}};
    th_wasm_val res[1];
    assert_int_equal(th_wasm_call_invoke(call, M.realloc_fn, args, res), TH_OK);
    assert_int_equal((uint32_t)res[0].i32 % align, 0);
    return (uint32_t)res[0].i32;
}

/* Copies s into a fresh guest allocation; returns its address. */
static uint32_t guest_string(th_wasm_call *call, const char *s)
{
    uint32_t n = (uint32_t)strlen(s), p = guest_alloc(call, 1, n);
    uint64_t size;
    uint8_t *mem = th_wasm_call_memory(call, &size);
    assert_true((uint64_t)p + n <= size);
    memcpy(mem + p, s, n);
    return p;
}

/* Writes {tag, (ptr, len)} at retptr: a result<string|list<u8>, string> or
 * option<string>, with the payload at offset 4. */
static void ret_string(th_wasm_call *call, uint32_t retptr, uint8_t tag, const char *s)
{
    uint32_t p = s ? guest_string(call, s) : 0, n = s ? (uint32_t)strlen(s) : 0;
    uint64_t size;
    uint8_t *mem = th_wasm_call_memory(call, &size);
    put_u8(mem, size, retptr, tag);
    put_u32(mem, size, retptr + 4, p);
    put_u32(mem, size, retptr + 8, n);
}

/* result<_, string> ok at retptr. */
static void ret_ok(th_wasm_call *call, uint32_t retptr)
{
    uint64_t size;
    uint8_t *mem = th_wasm_call_memory(call, &size);
    put_u8(mem, size, retptr, 0);
}

static void record(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void record(const char *fmt, ...)
{
    va_list ap;
    assert_true(M.ncalls < MAX_LINES);
    va_start(ap, fmt);
    vsnprintf(M.calls[M.ncalls++], LINE, fmt, ap);
    va_end(ap);
}

/* Reads argument string i (ptr at args[i], len at args[i+1]). */
static void arg_str(th_wasm_call *call, const th_wasm_val *args, int i, char *out, size_t cap)
{
    uint64_t size;
    uint8_t *mem = th_wasm_call_memory(call, &size);
    read_guest(mem, size, (uint32_t)args[i].i32, (uint32_t)args[i + 1].i32, out, cap);
}

#define HOST(name) \
    static int name(th_wasm_call *call, void *ctx, const th_wasm_val *args, th_wasm_val *results)

HOST(h_log)
{
    assert_true(M.nlog < MAX_LINES);
    arg_str(call, args, 0, M.log[M.nlog++], LINE);
    return TH_OK;
}

HOST(h_shutdown)
{
    char data[LINE] = "";
    if (args[0].i32)
        arg_str(call, args, 1, data, sizeof data);
    record("shutdown %s", args[0].i32 ? data : "none");
    ret_ok(call, (uint32_t)args[3].i32);
    return TH_OK;
}

HOST(h_send)
{
    char id[LINE], msg[LINE];
    arg_str(call, args, 0, id, sizeof id);
    arg_str(call, args, 2, msg, sizeof msg);
    record("send %s %s", id, msg);
    ret_ok(call, (uint32_t)args[4].i32);
    return TH_OK;
}

HOST(h_request)
{
    char id[LINE], msg[LINE];
    arg_str(call, args, 0, id, sizeof id);
    arg_str(call, args, 2, msg, sizeof msg);
    record("request %s %s", id, msg);
    ret_string(call, (uint32_t)args[4].i32, 0, M.request_answer);
    return TH_OK;
}

HOST(h_send_on_channel)
{
    char ch[LINE], msg[LINE];
    arg_str(call, args, 0, ch, sizeof ch);
    arg_str(call, args, 2, msg, sizeof msg);
    record("send-on-channel %s %s", ch, msg);
    ret_ok(call, (uint32_t)args[4].i32);
    return TH_OK;
}

HOST(h_spawn)
{
    char manifest[LINE], id[32];
    arg_str(call, args, 0, manifest, sizeof manifest);
    record("spawn %s %s", manifest, args[2].i32 ? "some" : "none");
    snprintf(id, sizeof id, "child-%d", ++M.nspawn);
    ret_string(call, (uint32_t)args[5].i32, 0, id);
    return TH_OK;
}

HOST(h_restart_child)
{
    char id[LINE];
    arg_str(call, args, 0, id, sizeof id);
    record("restart-child %s", id);
    ret_ok(call, (uint32_t)args[2].i32);
    return TH_OK;
}

HOST(h_now)
{
    results[0].i64 = (int64_t)M.clock;
    return TH_OK;
}

HOST(h_sleep)
{
    record("sleep %lld", (long long)args[0].i64);
    M.clock += (uint64_t)args[0].i64;
    ret_ok(call, (uint32_t)args[1].i32);
    return TH_OK;
}

HOST(h_deadline)
{
    record("deadline +%lld", (long long)((uint64_t)args[0].i64 - 1000000));
    if ((uint64_t)args[0].i64 > M.clock)
        M.clock = (uint64_t)args[0].i64;
    ret_ok(call, (uint32_t)args[1].i32);
    return TH_OK;
}

/* --- store: one store, labels map to values; a content ref's hash is
 * "h:" + the value. */

static int kv_find(const char *label)
{
    for (int i = 0; i < M.nkv; i++)
        if (strcmp(M.kv[i].label, label) == 0)
            return i;
    return -1;
}

HOST(h_store_new)
{
    record("store.new");
    ret_string(call, (uint32_t)args[0].i32, 0, "store-1");
    return TH_OK;
}

HOST(h_store_replace_content)
{
    char store[LINE], label[64], value[LINE], hash[LINE + 2];
    arg_str(call, args, 0, store, sizeof store);
    arg_str(call, args, 2, label, sizeof label);
    arg_str(call, args, 4, value, sizeof value);
    assert_string_equal(store, "store-1");
    int i = kv_find(label);
    if (i < 0) {
        assert_true(M.nkv < 16);
        i = M.nkv++;
        snprintf(M.kv[i].label, sizeof M.kv[i].label, "%s", label);
    }
    snprintf(M.kv[i].value, sizeof M.kv[i].value, "%s", value);
    snprintf(hash, sizeof hash, "h:%s", value);
    ret_string(call, (uint32_t)args[6].i32, 0, hash); /* content-ref {hash} @4 */
    return TH_OK;
}

HOST(h_store_get_by_label)
{
    char label[64], hash[LINE + 2];
    arg_str(call, args, 2, label, sizeof label);
    uint32_t ret = (uint32_t)args[4].i32;
    int i = kv_find(label);
    uint32_t p = 0, n = 0;
    if (i >= 0) {
        snprintf(hash, sizeof hash, "h:%s", M.kv[i].value);
        p = guest_string(call, hash);
        n = (uint32_t)strlen(hash);
    }
    uint64_t size;
    uint8_t *mem = th_wasm_call_memory(call, &size);
    put_u8(mem, size, ret, 0);                  /* ok */
    put_u8(mem, size, ret + 4, i >= 0 ? 1 : 0); /* option disc @4 */
    put_u32(mem, size, ret + 8, p);             /* content-ref @8 */
    put_u32(mem, size, ret + 12, n);
    return TH_OK;
}

HOST(h_store_get)
{
    char hash[LINE];
    arg_str(call, args, 2, hash, sizeof hash);
    assert_true(strncmp(hash, "h:", 2) == 0);
    ret_string(call, (uint32_t)args[4].i32, 0, hash + 2);
    return TH_OK;
}

HOST(h_store_remove_label)
{
    char label[64];
    arg_str(call, args, 2, label, sizeof label);
    int i = kv_find(label);
    if (i >= 0)
        M.kv[i] = M.kv[--M.nkv];
    ret_ok(call, (uint32_t)args[4].i32);
    return TH_OK;
}

HOST(h_store_list_labels)
{
    uint32_t ret = (uint32_t)args[2].i32;
    uint32_t arr = guest_alloc(call, 4, (uint32_t)(8 * M.nkv));
    uint32_t ptrs[16];
    for (int i = 0; i < M.nkv; i++)
        ptrs[i] = guest_string(call, M.kv[i].label);
    uint64_t size;
    uint8_t *mem = th_wasm_call_memory(call, &size);
    for (int i = 0; i < M.nkv; i++) {
        put_u32(mem, size, arr + 8 * (uint32_t)i, ptrs[i]);
        put_u32(mem, size, arr + 8 * (uint32_t)i + 4, (uint32_t)strlen(M.kv[i].label));
    }
    put_u8(mem, size, ret, 0);
    put_u32(mem, size, ret + 4, arr);
    put_u32(mem, size, ret + 8, (uint32_t)M.nkv);
    return TH_OK;
}

static void bind(const char *iface, const char *name, const char *sig, th_wasm_host_fn fn)
{
    char module[96];
    snprintf(module, sizeof module, "theater:simple/%s", iface);
    assert_int_equal(th_wasm_imports_add_func(M.imp, module, name, sig, fn, &M), TH_OK);
}

/* Loads build/examples/actors/<name>.wasm and instantiates it. */
static void load(const char *name)
{
    char path[1200];
    th_error err;
    if (!guests_built)
        th_skip_missing("the example actors (<build>/sdk/abi_check.txt: THEATER_GUEST=ON and the "
                        "wasm32 guest toolchain)");
    memset(&err, 0, sizeof err);
    snprintf(path, sizeof path, "%s/%s.wasm", wasm_dir, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    static uint8_t bytes[1 << 20];
    size_t n = fread(bytes, 1, sizeof bytes, f);
    fclose(f);

    memset(&M, 0, sizeof M);
    M.clock = 1000000;
    snprintf(M.request_answer, sizeof M.request_answer, "pong");
    if (th_wasm_module_new(bytes, n, &M.mod, &err) != TH_OK)
        fail_msg("%s: %s", name, err.msg);
    M.imp = th_wasm_imports_new();
    bind("runtime", "log", "ii>", h_log);
    bind("runtime", "shutdown", "iiii>", h_shutdown);
    bind("message-server-host", "send", "iiiii>", h_send);
    bind("message-server-host", "request", "iiiii>", h_request);
    bind("message-server-host", "send-on-channel", "iiiii>", h_send_on_channel);
    bind("supervisor", "spawn", "iiiiii>", h_spawn);
    bind("supervisor", "restart-child", "iii>", h_restart_child);
    bind("timing", "now", ">I", h_now);
    bind("timing", "sleep", "Ii>", h_sleep);
    bind("timing", "deadline", "Ii>", h_deadline);
    bind("store", "new", "i>", h_store_new);
    /* kv puts with store-at-label: the fake stores at the label either way */
    bind("store", "store-at-label", "iiiiiii>", h_store_replace_content);
    bind("store", "replace-content-at-label", "iiiiiii>", h_store_replace_content);
    bind("store", "get-by-label", "iiiii>", h_store_get_by_label);
    bind("store", "get", "iiiii>", h_store_get);
    bind("store", "remove-label", "iiiii>", h_store_remove_label);
    bind("store", "list-labels", "iii>", h_store_list_labels);
    if (th_wasm_instance_new(M.mod, M.imp, NULL, &M.inst, &err) != TH_OK)
        fail_msg("%s: %s", name, err.msg);
    M.ex = th_wasm_exec_new(NULL);
    M.realloc_fn = th_wasm_instance_func(M.inst, "cabi_realloc");
    assert_non_null(M.ex);
    assert_non_null(M.realloc_fn);
}

static void unload(void)
{
    th_wasm_exec_free(M.ex);
    th_wasm_instance_free(M.inst);
    th_wasm_imports_free(M.imp);
    th_wasm_module_free(M.mod);
    memset(&M, 0, sizeof M);
}

static uint64_t memory_size(void)
{
    uint64_t size;
    th_wasm_memory_data(th_wasm_instance_memory(M.inst, "memory"), &size);
    return size;
}

/* ------------------------------------------------------------------------ */
/* Calling exports                                                          */
/* ------------------------------------------------------------------------ */

typedef struct args {
    th_wasm_val v[16];
    uint32_t n;
} args;

/* Lowers bytes through cabi_realloc (from outside any host call). */
static uint32_t lower_bytes(const char *s, uint32_t len)
{
    th_wasm_val a[4] = {{.i32 = 0}, {.i32 = 0}, {.i32 = 1}, {.i32 = (int32_t)len}}, r[1];
    assert_int_equal(th_wasm_exec_call(M.ex, M.realloc_fn, a, 4, r, 1), TH_OK);
    uint64_t size;
    uint8_t *mem = th_wasm_memory_data(th_wasm_instance_memory(M.inst, "memory"), &size);
    assert_true((uint64_t)(uint32_t)r[0].i32 + len <= size);
    memcpy(mem + (uint32_t)r[0].i32, s, len);
    return (uint32_t)r[0].i32;
}

static void push_str(args *a, const char *s)
{
    uint32_t n = (uint32_t)strlen(s);
    a->v[a->n++].i32 = (int32_t)lower_bytes(s, n);
    a->v[a->n++].i32 = (int32_t)n;
}

static void push_opt(args *a, const char *s)
{
    a->v[a->n++].i32 = s ? 1 : 0;
    if (s) {
        push_str(a, s);
    } else {
        a->v[a->n++].i32 = 0;
        a->v[a->n++].i32 = 0;
    }
}

static void push_i32(args *a, int32_t v)
{
    a->v[a->n++].i32 = v;
}

/* What an export returned. */
typedef struct outcome {
    int status; /* TH_OK or TH_WASM_TRAPPED */
    bool ok;    /* result: ok (true) or err */
    char err[LINE];
    bool state_some;
    char state[LINE];
    bool resp_some; /* handle-request response / channel accept message */
    char resp[LINE];
    bool accepted;
} outcome;

enum shape { SHAPE_STATE, SHAPE_REQUEST, SHAPE_OPEN };

/* Reads an option<list<u8>> at off into some/out. */
static void lift_opt(const uint8_t *mem, uint64_t size, uint32_t off, bool *some, char *out)
{
    assert_true(off + 12 <= size);
    assert_true(mem[off] <= 1);
    *some = mem[off] == 1;
    if (*some)
        read_guest(mem, size, get_u32(mem, size, off + 4), get_u32(mem, size, off + 8), out, LINE);
}

/* Calls export `iface#fn` with a, lifts the result of the given shape and
 * calls the post-return (unless skip_post). */
static outcome call_export(const char *name, args *a, enum shape shape, bool skip_post)
{
    outcome o;
    char full[160];
    memset(&o, 0, sizeof o);
    snprintf(full, sizeof full, "theater:simple/%s", name);
    th_wasm_func *fn = th_wasm_instance_func(M.inst, full);
    if (!fn)
        fail_msg("no export %s", full);
    th_wasm_val res[1];
    o.status = th_wasm_exec_call(M.ex, fn, a->v, a->n, res, 1);
    if (o.status != TH_OK)
        return o;
    uint32_t p = (uint32_t)res[0].i32;
    uint64_t size;
    const uint8_t *mem = th_wasm_memory_data(th_wasm_instance_memory(M.inst, "memory"), &size);
    assert_int_equal(p % 4, 0);
    assert_true(p + 32 <= size);
    assert_true(mem[p] <= 1);
    o.ok = mem[p] == 0;
    if (!o.ok) {
        read_guest(mem, size, get_u32(mem, size, p + 4), get_u32(mem, size, p + 8), o.err, LINE);
    } else {
        lift_opt(mem, size, p + 4, &o.state_some, o.state);
        if (shape == SHAPE_REQUEST)
            lift_opt(mem, size, p + 16, &o.resp_some, o.resp);
        if (shape == SHAPE_OPEN) {
            assert_true(mem[p + 16] <= 1);
            o.accepted = mem[p + 16] == 1;
            lift_opt(mem, size, p + 20, &o.resp_some, o.resp);
        }
    }
    if (!skip_post) {
        snprintf(full, sizeof full, "cabi_post_theater:simple/%s", name);
        th_wasm_func *post = th_wasm_instance_func(M.inst, full);
        assert_non_null(post);
        th_wasm_val pa[1] = {{.i32 = (int32_t)p}};
        assert_int_equal(th_wasm_exec_call(M.ex, post, pa, 1, NULL, 0), TH_OK);
    }
    return o;
}

static outcome init(const char *state, const char *id)
{
    args a = {.n = 0};
    push_opt(&a, state);
    push_str(&a, id);
    return call_export("actor#init", &a, SHAPE_STATE, false);
}

static outcome send_msg(const char *state, const char *msg, bool skip_post)
{
    args a = {.n = 0};
    push_opt(&a, state);
    push_str(&a, msg);
    return call_export("message-server-client#handle-send", &a, SHAPE_STATE, skip_post);
}

static outcome request(const char *state, const char *msg)
{
    args a = {.n = 0};
    push_opt(&a, state);
    push_str(&a, "req-1");
    push_str(&a, msg);
    return call_export("message-server-client#handle-request", &a, SHAPE_REQUEST, false);
}

static bool logged(const char *line)
{
    for (int i = 0; i < M.nlog; i++)
        if (strcmp(M.log[i], line) == 0)
            return true;
    return false;
}

static void expect_calls(const char *const *want)
{
    int n = 0;
    for (; want[n]; n++) {
        if (n >= M.ncalls)
            fail_msg("host call %d missing: expected \"%s\"", n, want[n]);
        if (strcmp(M.calls[n], want[n]) != 0)
            fail_msg("host call %d: \"%s\", expected \"%s\"", n, M.calls[n], want[n]);
    }
    if (M.ncalls != n)
        fail_msg("%d host calls, expected %d (extra: \"%s\")", M.ncalls, n, M.calls[n]);
}

/* ------------------------------------------------------------------------ */
/* The examples                                                             */
/* ------------------------------------------------------------------------ */

static void test_counter(void **state)
{
    (void)state;
    load("counter");
    outcome o = init(NULL, "c1");
    assert_int_equal(o.status, TH_OK);
    assert_true(o.ok && o.state_some);
    assert_string_equal(o.state, "0");
    assert_true(logged("counter c1 starts at 0"));

    o = send_msg("0", "anything", false);
    assert_true(o.ok && o.state_some);
    assert_string_equal(o.state, "1");
    o = send_msg("1", "41", false);
    assert_string_equal(o.state, "42");

    o = request("42", "get");
    assert_true(o.ok && o.state_some && o.resp_some);
    assert_string_equal(o.state, "42");
    assert_string_equal(o.resp, "42");

    o = init("not a number", "c2");
    assert_int_equal(o.status, TH_OK);
    assert_false(o.ok);
    assert_string_equal(o.err, "counter: the initial state must be a decimal number");
    unload();
}

/* Thousands of calls do not grow memory: call-scoped memory is freed at
 * post-return, or at the next call when the host skips post-return. */
static void test_counter_memory_is_released(void **state)
{
    (void)state;
    load("counter");
    char count[32] = "0";
    assert_true(init(NULL, "c").ok);
    uint64_t before = memory_size();
    for (int i = 1; i <= 3000; i++) {
        outcome o = send_msg(count, "1", i % 2 == 0);
        assert_true(o.ok);
        snprintf(count, sizeof count, "%d", i);
        assert_string_equal(o.state, count);
    }
    assert_int_equal(memory_size(), before);
    unload();
}

static void test_ping(void **state)
{
    (void)state;
    load("ping");
    outcome o = init("{\"pong\": \"/x/pong.toml\"}", "p1");
    assert_int_equal(o.status, TH_OK);
    if (!o.ok)
        fail_msg("ping init failed: %s", o.err);
    static const char *const want[] = {"spawn /x/pong.toml none",
                                       "send child-1 hello from ping",
                                       "request child-1 ping 1",
                                       "request child-1 ping 2",
                                       "request child-1 ping 3",
                                       "shutdown none",
                                       NULL};
    expect_calls(want);
    assert_true(logged("ping p1 spawned pong child-1"));
    assert_true(logged("ping 3 -> pong"));

    o = init("{}", "p2");
    assert_false(o.ok);
    assert_string_equal(o.err, "ping: the initial state must be {\"pong\": \"<pong manifest>\"}");
    unload();
}

static void test_pong_and_worker(void **state)
{
    (void)state;
    load("pong");
    outcome o = request(NULL, "ping 1");
    assert_true(o.ok && o.resp_some);
    assert_false(o.state_some);
    assert_string_equal(o.resp, "pong");
    unload();

    load("worker");
    o = request(NULL, "job 7");
    assert_true(o.ok && o.resp_some);
    assert_string_equal(o.resp, "done: job 7");
    o = send_msg(NULL, "crash", false);
    assert_int_equal(o.status, TH_WASM_TRAPPED);
    assert_int_equal(th_wasm_exec_trap_kind(M.ex), TH_WASM_TRAP_UNREACHABLE);
    assert_true(logged("worker: crashing on purpose"));
    unload();
}

static void test_supervisor(void **state)
{
    (void)state;
    load("supervisor");
    snprintf(M.request_answer, sizeof M.request_answer, "done: job");
    outcome o = init("{\"worker\": \"w.toml\"}", "s1");
    if (!o.ok)
        fail_msg("supervisor init failed: %s", o.err);
    assert_true(logged("supervisor s1: spawned workers child-1 and child-2"));

    /* handle-child-error(state, (child-id, {error-type, data})) */
    args a = {.n = 0};
    push_opt(&a, "{\"worker\": \"w.toml\"}");
    push_str(&a, "child-2");
    push_i32(&a, 5); /* internal */
    push_opt(&a, "boom");
    o = call_export("supervisor-handlers#handle-child-error", &a, SHAPE_STATE, false);
    assert_int_equal(o.status, TH_OK);
    if (!o.ok)
        fail_msg("handle-child-error failed: %s", o.err);
    assert_true(o.state_some);
    assert_string_equal(o.state, "{\"worker\": \"w.toml\"}");
    static const char *const want[] = {"spawn w.toml none",     "spawn w.toml none",
                                       "request child-1 job 1", "send child-2 crash",
                                       "restart-child child-2", "request child-2 job 2",
                                       "shutdown none",         NULL};
    expect_calls(want);
    assert_true(logged("supervisor: worker child-2 failed (internal: boom)"));
    assert_true(logged("supervisor: restarted worker child-2 answered \"done: job\""));
    unload();
}

static void test_echo(void **state)
{
    (void)state;
    load("echo");
    args a = {.n = 0};
    push_opt(&a, NULL);
    push_str(&a, "ch-9");
    push_str(&a, "hello");
    outcome o = call_export("message-server-client#handle-channel-open", &a, SHAPE_OPEN, false);
    assert_true(o.ok && o.accepted && o.resp_some);
    assert_string_equal(o.resp, "hello");

    a.n = 0;
    push_opt(&a, NULL);
    push_str(&a, "ch-9");
    push_str(&a, "echo me");
    o = call_export("message-server-client#handle-channel-message", &a, SHAPE_STATE, false);
    assert_true(o.ok);
    static const char *const want[] = {"send-on-channel ch-9 echo me", NULL};
    expect_calls(want);
    unload();
}

static void test_kv(void **state)
{
    (void)state;
    load("kv");
    outcome o = init(NULL, "kv1");
    assert_true(o.ok && o.state_some);
    assert_string_equal(o.state, "store-1");

    static const char *const script[][2] = {
        {"put color blue", "ok"},         {"put name ada lovelace", "ok"},
        {"get name", "ok ada lovelace"},  {"get color", "ok blue"},
        {"keys", "ok color name"},        {"del color", "ok"},
        {"get color", "err no such key"}, {"frob", "err unknown command: frob"},
    };
    for (size_t i = 0; i < sizeof script / sizeof script[0]; i++) {
        o = request("store-1", script[i][0]);
        assert_true(o.ok && o.resp_some);
        assert_string_equal(o.resp, script[i][1]);
        assert_string_equal(o.state, "store-1");
    }
    o = send_msg("store-1", "keys", false);
    assert_false(o.ok);
    unload();
}

static void test_timer(void **state)
{
    (void)state;
    load("timer");
    outcome o = init(NULL, "t1");
    if (!o.ok)
        fail_msg("timer init failed: %s", o.err);
    static const char *const want[] = {"sleep 100",     "sleep 100",     "sleep 100",
                                       "deadline +400", "shutdown none", NULL};
    expect_calls(want);
    assert_true(logged("tick 3 at +300 ms"));
    assert_true(logged("deadline +400 ms reached at +400 ms"));
    unload();
}

int main(void)
{
    const char *bin = getenv("THEATER_BINARY_DIR");
    char cfg[1100];
    snprintf(cfg, sizeof cfg, "%s/sdk/abi_check.txt", bin ? bin : ".");
    FILE *f = fopen(cfg, "r");
    if (f) {
        guests_built = true;
        fclose(f);
        snprintf(wasm_dir, sizeof wasm_dir, "%s/examples/actors", bin ? bin : ".");
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counter),    cmocka_unit_test(test_counter_memory_is_released),
        cmocka_unit_test(test_ping),       cmocka_unit_test(test_pong_and_worker),
        cmocka_unit_test(test_supervisor), cmocka_unit_test(test_echo),
        cmocka_unit_test(test_kv),         cmocka_unit_test(test_timer),
    };
    return th_test_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
