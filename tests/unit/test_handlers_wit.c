/*
 * test_handlers_wit.c - the glue generated from the WIT (tools/witgen,
 * <build>/gen/wit_glue.c):
 *
 *   - every host function of every interface makes a round trip: arguments
 *     lowered into a real instance's memory as a guest does (generated
 *     caller's side), lifted by the generated host function, compared in a
 *     test implementation, whose result the host function lowers (through
 *     the instance's cabi_realloc) and the caller's side lifts and compares;
 *     over rounds that cover empty strings and lists, multi-byte UTF-8, every
 *     case of every variant, enum, option and result, and 1 MiB strings and
 *     lists;
 *   - what the guest hands over is refused, never trusted: invalid UTF-8,
 *     misaligned and out-of-bounds pointers (arguments, lists, retptr), bad
 *     discriminants; each is a trap with a message and no call of the
 *     implementation;
 *   - the generated layouts equal the worked layouts of ABI.md;
 *   - the host tables the built-in handler set gives the runtime are the WIT's:
 *     same functions, same core signatures.
 *
 * Modules are WAT converted with wat2wasm (wabt); without it the tests skip.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "wat_util.h"

#include "runtime/rt_int.h"
#include "theater/handlers.h"
#include "theater/wasm.h"
#include "wit_glue.h"
#include "wit_test.h"

/* A guest with a bump allocator that grows memory as needed; `heap` can be
 * reset between round trips. */
static const char guest_wat[] =
    "(module\n"
    "  (import \"t\" \"run\" (func $host_run))\n"
    "  (memory (export \"memory\") 1 1024)\n"
    "  (global $heap (export \"heap\") (mut i32) (i32.const 1024))\n"
    "  (func (export \"cabi_realloc\") (param $old i32) (param $osz i32) (param $align i32)\n"
    "        (param $size i32) (result i32)\n"
    "    (local $p i32) (local $end i32)\n"
    "    (local.set $p (i32.and (i32.add (global.get $heap) (i32.sub (local.get $align) (i32.const "
    "1)))\n"
    "                           (i32.sub (i32.const 0) (local.get $align))))\n"
    "    (local.set $end (i32.add (local.get $p) (local.get $size)))\n"
    "    (block $ok\n"
    "      (loop $grow\n"
    "        (br_if $ok (i32.le_u (local.get $end) (i32.mul (memory.size) (i32.const 65536))))\n"
    "        (if (i32.lt_s (memory.grow (i32.const 16)) (i32.const 0)) (then unreachable))\n"
    "        (br $grow)))\n"
    "    (global.set $heap (local.get $end))\n"
    "    (local.get $p))\n"
    "  (func (export \"run\") (call $host_run)))\n";

typedef struct env env;
typedef int (*scenario_fn)(env *e, th_wasm_call *call);

struct env {
    th_wasm_module *mod;
    th_wasm_imports *imp;
    th_wasm_instance *inst;
    th_wasm_exec *ex;
    th_error err;
    scenario_fn scenario;
    int ran;
};

static struct th_runtime fake_rt;
static rt_actor fake_actor;

static void log_quiet(void *ud, const char *id, const char *name, const char *msg, size_t len)
{
    (void)ud, (void)id, (void)name, (void)msg, (void)len;
}

static int host_run(th_wasm_call *call, void *ctx, const th_wasm_val *args, th_wasm_val *res)
{
    env *e = ctx;

    (void)args, (void)res;
    return e->scenario(e, call);
}

static void env_open(env *e)
{
    th_wasm_instance_config cfg;
    uint8_t *bin;
    size_t len = 0;

    memset(e, 0, sizeof *e);
    memset(&fake_rt, 0, sizeof fake_rt);
    memset(&fake_actor, 0, sizeof fake_actor);
    fake_rt.log_fn = log_quiet;
    fake_actor.rt = &fake_rt;
    strcpy(fake_actor.id, "00000000-0000-4000-8000-000000000000");
    bin = wat_to_wasm(guest_wat, &len);
    if (bin == NULL)
        wat_missing();
    if (th_wasm_module_new(bin, len, &e->mod, &e->err) != TH_OK)
        fail_msg("module: %s", e->err.msg);
    free(bin);
    e->imp = th_wasm_imports_new();
    assert_non_null(e->imp);
    assert_int_equal(th_wasm_imports_add_func(e->imp, "t", "run", "", host_run, e), TH_OK);
    memset(&cfg, 0, sizeof cfg);
    cfg.user = &fake_actor;
    if (th_wasm_instance_new(e->mod, e->imp, &cfg, &e->inst, &e->err) != TH_OK)
        fail_msg("instance: %s", e->err.msg);
    e->ex = th_wasm_exec_new(NULL);
    assert_non_null(e->ex);
    fake_actor.fn_realloc = th_wasm_instance_func(e->inst, "cabi_realloc");
    fake_actor.inst = e->inst;
}

static void env_close(env *e)
{
    /* the fake actor has no chain, so its host calls' recording fails and
     * keeps the reason, which the actor's recording state frees */
    rt_record_free(&fake_actor);
    th_wasm_exec_free(e->ex);
    th_wasm_instance_free(e->inst);
    th_wasm_module_free(e->mod);
    th_wasm_imports_free(e->imp);
}

static int in_call(env *e, scenario_fn fn)
{
    th_wasm_val none[1];
    int rc;

    e->scenario = fn;
    e->ran = 0;
    rc = th_wasm_exec_call(e->ex, th_wasm_instance_func(e->inst, "run"), NULL, 0, none, 0);
    e->scenario = NULL;
    return rc;
}

static rt_guest call_guest(env *e, th_wasm_call *call)
{
    rt_guest g = {e->inst, call, NULL, fake_actor.fn_realloc, &e->err};
    return g;
}

static uint8_t *mem(th_wasm_call *call, uint64_t *size)
{
    uint64_t dummy;

    return th_wasm_call_memory(call, size != NULL ? size : &dummy);
}

static void reset_heap(env *e)
{
    th_wasm_global *gl = th_wasm_instance_global(e->inst, "heap");
    th_wasm_val v;

    assert_non_null(gl);
    v.i32 = 1024;
    assert_int_equal(th_wasm_global_set(gl, v), TH_OK);
}

/* ------------------------------------------------------------------ */
/* Round trips                                                        */

static env *cur;
static int rounds_bad;

static int scenario_roundtrips(env *e, th_wasm_call *call)
{
    rt_guest g = call_guest(e, call);
    const char *why = NULL;
    uint64_t round;
    size_t k;
    int big;

    for (k = 0; k < wit_test_count; k++) {
        for (big = 0; big < 2; big++) {
            for (round = 0; round < (big ? 2u : 12u); round++) {
                reset_heap(e);
                th_error_clear(&e->err);
                memset(&wit_test_state, 0, sizeof wit_test_state);
                wit_test_state.params = (wit_fill){round, 0, big != 0};
                wit_test_state.result = (wit_fill){round + 1, 1000, big != 0};
                why = NULL;
                if (wit_test_roundtrip(k, call, &g, &why) != 0) {
                    print_error("%s round %llu%s: %s (%s)\n", wit_test_names[k],
                                (unsigned long long)round, big ? " (1 MiB values)" : "",
                                why ? why : "?", e->err.msg);
                    rounds_bad++;
                }
            }
        }
    }
    e->ran++;
    return TH_OK;
}

static void test_roundtrip_every_function(void **unused)
{
    env e;

    (void)unused;
    env_open(&e);
    cur = &e;
    rounds_bad = 0;
    assert_true(wit_test_count >= 49); /* the 49 host functions of ABI.md and more */
    assert_int_equal(in_call(&e, scenario_roundtrips), TH_OK);
    assert_int_equal(e.ran, 1);
    assert_int_equal(rounds_bad, 0);
    env_close(&e);
}

/* ------------------------------------------------------------------ */
/* Refusals                                                           */

static int impl_calls;

static int count_log(rt_host *h, wit_str *msg)
{
    (void)h, (void)msg;
    impl_calls++;
    return 0;
}

static int count_send(rt_host *h, wit_str *actor_id, wit_bytes *msg, wit_res_unit_str *ret)
{
    (void)h, (void)actor_id, (void)msg, (void)ret;
    impl_calls++;
    return 0;
}

static int count_shutdown(rt_host *h, wit_opt_bytes *data, wit_res_unit_str *ret)
{
    (void)h, (void)data, (void)ret;
    impl_calls++;
    return 0;
}

static int count_range(rt_host *h, uint64_t min, uint64_t max, wit_res_u64_str *ret)
{
    (void)h, (void)min, (void)max;
    ret->ok = 7;
    impl_calls++;
    return 0;
}

/* Index of function `name` in a generated table. */
static size_t fn_index(const rt_hostfn *fns, size_t n, const char *name)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (strcmp(fns[i].name, name) == 0)
            return i;
    fail_msg("no function %s", name);
    return 0;
}

/* Call a generated host function; expect a trap whose message has `what`. */
static void expect_trap(th_wasm_call *call, const rt_hostfn *f, const void *impl,
                        const th_wasm_val *args, const char *what)
{
    th_wasm_val res[1];
    int rc;

    impl_calls = 0;
    rc = f->fn(call, (void *)impl, args, res);
    assert_int_equal(rc, TH_WASM_TRAPPED);
    assert_int_equal(impl_calls, 0);
    if (strstr(th_wasm_exec_trap_message(th_wasm_call_exec(call)), what) == NULL)
        fail_msg("trap \"%s\" does not mention %s",
                 th_wasm_exec_trap_message(th_wasm_call_exec(call)), what);
}

static int scenario_refusals(env *e, th_wasm_call *call)
{
    static const wit_impl_runtime rt_impl = {.log = count_log, .shutdown = count_shutdown};
    static const wit_impl_message_server_host ms_impl = {.send = count_send};
    static const wit_impl_random rnd_impl = {.random_range = count_range};
    const rt_hostfn *log = &wit_fns_runtime[fn_index(wit_fns_runtime, WIT_NFNS_RUNTIME, "log")];
    const rt_hostfn *shutdown =
        &wit_fns_runtime[fn_index(wit_fns_runtime, WIT_NFNS_RUNTIME, "shutdown")];
    const rt_hostfn *send = &wit_fns_message_server_host[fn_index(
        wit_fns_message_server_host, WIT_NFNS_MESSAGE_SERVER_HOST, "send")];
    const rt_hostfn *range =
        &wit_fns_random[fn_index(wit_fns_random, WIT_NFNS_RANDOM, "random-range")];
    uint64_t size;
    uint8_t *m = mem(call, &size);
    th_wasm_val a[8], res[1];

    memset(a, 0, sizeof a);
    memcpy(m + 300, "ok\xc3\xa9", 4);
    memcpy(m + 400, "\xed\xa0\x80", 3); /* a surrogate */
    memcpy(m + 410, "\xc3", 1);         /* truncated */
    memcpy(m + 420, "\xc0\xaf", 2);     /* overlong */

    /* valid: the implementation runs */
    a[0].i32 = 300, a[1].i32 = 4;
    impl_calls = 0;
    assert_int_equal(log->fn(call, (void *)&rt_impl, a, res), TH_OK);
    assert_int_equal(impl_calls, 1);
    /* invalid UTF-8 */
    a[0].i32 = 400, a[1].i32 = 3;
    expect_trap(call, log, &rt_impl, a, "UTF-8");
    a[0].i32 = 410, a[1].i32 = 1;
    expect_trap(call, log, &rt_impl, a, "UTF-8");
    a[0].i32 = 420, a[1].i32 = 2;
    expect_trap(call, log, &rt_impl, a, "UTF-8");
    /* out of bounds: past the end, wrapping */
    a[0].i32 = (int32_t)(size - 1), a[1].i32 = 2;
    expect_trap(call, log, &rt_impl, a, "out-of-bounds");
    a[0].i32 = -1, a[1].i32 = 2;
    expect_trap(call, log, &rt_impl, a, "out-of-bounds");

    /* send(actor-id, msg, retptr): bytes out of bounds, retptr misaligned or out of bounds */
    a[0].i32 = 300, a[1].i32 = 2, a[2].i32 = 300, a[3].i32 = 4, a[4].i32 = 512;
    impl_calls = 0;
    assert_int_equal(send->fn(call, (void *)&ms_impl, a, res), TH_OK);
    assert_int_equal(impl_calls, 1);
    a[3].i32 = (int32_t)size;
    expect_trap(call, send, &ms_impl, a, "out-of-bounds");
    a[3].i32 = 4, a[4].i32 = 514;
    expect_trap(call, send, &ms_impl, a, "misaligned");
    a[4].i32 = (int32_t)(size - 8);
    expect_trap(call, send, &ms_impl, a, "out-of-bounds");

    /* shutdown(option<list<u8>>): discriminant 2 */
    a[0].i32 = 2, a[1].i32 = 300, a[2].i32 = 1, a[3].i32 = 512;
    expect_trap(call, shutdown, &rt_impl, a, "discriminant");
    a[0].i32 = 1;
    impl_calls = 0;
    assert_int_equal(shutdown->fn(call, (void *)&rt_impl, a, res), TH_OK);
    assert_int_equal(impl_calls, 1);

    /* random-range: result<u64, string> needs an 8-aligned retptr */
    a[0].i64 = 1, a[1].i64 = 2, a[2].i32 = 516;
    expect_trap(call, range, &rnd_impl, a, "misaligned");
    a[2].i32 = 520;
    impl_calls = 0;
    assert_int_equal(range->fn(call, (void *)&rnd_impl, a, res), TH_OK);
    assert_int_equal(impl_calls, 1);
    m = mem(call, NULL);
    assert_int_equal(m[520], 0);
    assert_int_equal(m[528], 7);
    e->ran++;
    return TH_OK;
}

static void test_refusals(void **unused)
{
    env e;

    (void)unused;
    env_open(&e);
    assert_int_equal(in_call(&e, scenario_refusals), TH_OK);
    assert_int_equal(e.ran, 1);
    env_close(&e);
}

/* Lists the guest hands over: misaligned elements, lengths that wrap. */
static int scenario_lists(env *e, th_wasm_call *call)
{
    rt_guest g = call_guest(e, call);
    uint64_t size;
    uint8_t *m = mem(call, &size);
    th_wasm_val res[1];
    wit_res_list_str_str got;

    /* result<list<string>, string> at 600: ok, list at 602 (misaligned) */
    memset(m + 600, 0, 12);
    m[604] = 0x5a, m[605] = 0x02; /* ptr 0x25a = 602 */
    m[608] = 1;                   /* one element */
    res[0].i32 = 600;
    memset(&got, 0, sizeof got);
    assert_int_not_equal(wit_call_lift_store_list_labels(&g, res, &got), 0);
    assert_non_null(strstr(e->err.msg, "misaligned"));
    wit_free_res_list_str_str(&got);
    /* a count whose byte size wraps 32 bits */
    m[604] = 0x00, m[605] = 0x03;                               /* ptr 768 */
    m[608] = 0x00, m[609] = 0x00, m[610] = 0x00, m[611] = 0x20; /* 2^29 elements of 8 bytes */
    th_error_clear(&e->err);
    memset(&got, 0, sizeof got);
    assert_int_not_equal(wit_call_lift_store_list_labels(&g, res, &got), 0);
    assert_non_null(strstr(e->err.msg, "out-of-bounds"));
    wit_free_res_list_str_str(&got);
    /* result discriminant 2 */
    m[600] = 2;
    th_error_clear(&e->err);
    memset(&got, 0, sizeof got);
    assert_int_not_equal(wit_call_lift_store_list_labels(&g, res, &got), 0);
    assert_non_null(strstr(e->err.msg, "discriminant"));
    wit_free_res_list_str_str(&got);
    e->ran++;
    return TH_OK;
}

static void test_lists_refused(void **unused)
{
    env e;

    (void)unused;
    env_open(&e);
    assert_int_equal(in_call(&e, scenario_lists), TH_OK);
    assert_int_equal(e.ran, 1);
    env_close(&e);
}

/* ------------------------------------------------------------------ */
/* Layouts and tables                                                 */

static const wit_layout_desc *layout_of(const char *wit)
{
    size_t i;

    for (i = 0; i < wit_nlayouts; i++)
        if (strcmp(wit_layouts[i].wit, wit) == 0)
            return &wit_layouts[i];
    fail_msg("no generated layout for %s", wit);
    return NULL;
}

static void check_layout(const char *wit, uint32_t size, uint32_t align, int noff, ...)
{
    const wit_layout_desc *l = layout_of(wit);
    va_list ap;
    int i;

    if (l->size != size || l->align != align)
        fail_msg("%s: size %u align %u, ABI.md says %u, %u", wit, l->size, l->align, size, align);
    va_start(ap, noff);
    for (i = 0; i < noff; i++) {
        uint32_t off = va_arg(ap, uint32_t);
        if (l->off[i] != off)
            fail_msg("%s: offset %d is %u, ABI.md says %u", wit, i, l->off[i], off);
    }
    va_end(ap);
}

/* The worked layouts table of ABI.md, row by row. */
static void test_layouts_match_abi(void **unused)
{
    (void)unused;
    check_layout("option<list<u8>>", 12, 4, 1, 4u);
    check_layout("result<tuple<option<list<u8>>>, string>", 16, 4, 1, 4u);
    check_layout("tuple<option<list<u8>>>", 12, 4, 1, 0u);
    check_layout("result<tuple<option<list<u8>>, tuple<option<list<u8>>>>, string>", 28, 4, 1, 4u);
    check_layout("tuple<option<list<u8>>, tuple<option<list<u8>>>>", 24, 4, 2, 0u,
                 12u); /* state @4, response @16 */
    check_layout("channel-accept", 16, 4, 2, 0u, 4u);
    check_layout("result<_, string>", 12, 4, 1, 4u);
    check_layout("result<string, string>", 12, 4, 1, 4u);
    check_layout("result<list<u8>, string>", 12, 4, 1, 4u);
    check_layout("result<u64, string>", 16, 8, 1, 8u);
    check_layout("result<f64, string>", 16, 8, 1, 8u);
    /* and the records the SDK header asserts */
    check_layout("chain-event", 64, 8, 6, 0u, 8u, 20u, 28u, 40u, 48u);
    check_layout("content-ref", 8, 4, 1, 0u);
    check_layout("option<content-ref>", 12, 4, 1, 4u);
    check_layout("tuple<string, string>", 16, 4, 2, 0u, 8u);
    check_layout("result<option<content-ref>, string>", 16, 4, 1, 4u);
}

static const wit_fn_desc *wit_fn(const char *module, const char *name)
{
    size_t i;

    for (i = 0; i < wit_nfunctions; i++)
        if (strcmp(wit_functions[i].module, module) == 0 &&
            strcmp(wit_functions[i].name, name) == 0)
            return &wit_functions[i];
    return NULL;
}

/* The tables the runtime registers against the WIT, both ways. */
static void test_host_tables_match_wit(void **unused)
{
    const th_handler_set *set = th_handlers_builtin();
    const rt_iface *const *ifaces = set->ifaces;
    size_t i, j, n;

    (void)unused;
    for (i = 0; i < set->count; i++) {
        for (j = 0; j < ifaces[i]->nfns; j++) {
            const wit_fn_desc *d = wit_fn(ifaces[i]->module, ifaces[i]->fns[j].name);
            if (d == NULL)
                fail_msg("%s.%s is not in the WIT", ifaces[i]->module, ifaces[i]->fns[j].name);
            if (strcmp(d->sig, ifaces[i]->fns[j].sig) != 0)
                fail_msg("%s.%s: registered as %s, the WIT gives %s", ifaces[i]->module,
                         ifaces[i]->fns[j].name, ifaces[i]->fns[j].sig, d->sig);
        }
        for (j = 0, n = 0; j < wit_nfunctions; j++)
            if (strcmp(wit_functions[j].module, ifaces[i]->module) == 0)
                n++;
        if (n != ifaces[i]->nfns)
            fail_msg("%s: %zu functions registered, the WIT has %zu", ifaces[i]->module,
                     ifaces[i]->nfns, n);
    }
    /* the worked signatures of ABI.md */
    assert_string_equal(wit_fn("", "theater:simple/actor#init")->sig, "iiiii>i");
    assert_string_equal(wit_fn("theater:simple/runtime", "log")->sig, "ii>");
    assert_string_equal(wit_fn("theater:simple/message-server-host", "send")->sig, "iiiii>");
    assert_string_equal(wit_fn("theater:simple/timing", "now")->sig, ">I");
    assert_string_equal(wit_fn("theater:simple/timing", "sleep")->sig, "Ii>");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layouts_match_abi),
        cmocka_unit_test(test_host_tables_match_wit),
        cmocka_unit_test(test_roundtrip_every_function),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_lists_refused),
    };
    return th_test_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
