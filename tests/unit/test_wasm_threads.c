/*
 * test_wasm_threads.c - executions moving between threads: a call that a
 * host function suspends on one thread is resumed on another (and again on
 * a third), and several threads run their own instances of one shared
 * module at the same time.  (ctest label: threads, for the TSan run.)
 *
 * Modules are written in the text format and converted with wat2wasm at
 * test time (wabt); without it the tests are skipped.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "wat_util.h"

#include "theater/wasm.h"

/* sum(i * ask(i)) for i < n, keeping state in locals, memory and a global
 * across the suspensions. */
static const char *wat = "(module\n"
                         "  (import \"env\" \"ask\" (func $ask (param i32) (result i32)))\n"
                         "  (memory 1)\n"
                         "  (global $calls (mut i32) (i32.const 0))\n"
                         "  (func $step (param $i i32) (result i32)\n"
                         "    (global.set $calls (i32.add (global.get $calls) (i32.const 1)))\n"
                         "    (i32.mul (local.get $i) (call $ask (local.get $i))))\n"
                         "  (func (export \"run\") (param $n i32) (result i32)\n"
                         "    (local $i i32)\n"
                         "    (loop $l\n"
                         "      (i32.store (i32.const 0)\n"
                         "        (i32.add (i32.load (i32.const 0)) (call $step (local.get $i))))\n"
                         "      (local.set $i (i32.add (local.get $i) (i32.const 1)))\n"
                         "      (br_if $l (i32.lt_u (local.get $i) (local.get $n))))\n"
                         "    (i32.add (i32.load (i32.const 0)) (global.get $calls))))\n";

static int host_ask(th_wasm_call *call, void *ctx, const th_wasm_val *args, th_wasm_val *results)
{
    (void)call;
    (void)results;
    *(int32_t *)ctx = args[0].i32;
    return TH_WASM_SUSPENDED;
}

typedef struct job {
    th_wasm_exec *ex;
    th_wasm_func *fn;
    int32_t asked; /* written by host_ask on the running thread */
    int rc;
    th_wasm_val res;
    bool first;
} job;

/* One step on a fresh thread: start the call, or resume it answering
 * asked + 1. */
static void *step_thread(void *arg)
{
    job *j = arg;
    th_wasm_val a;

    if (j->first) {
        a.i32 = 5;
        j->rc = th_wasm_exec_call(j->ex, j->fn, &a, 1, &j->res, 1);
    } else {
        a.i32 = j->asked + 1;
        j->rc = th_wasm_exec_resume(j->ex, &a, &j->res, 1);
    }
    return NULL;
}

static void test_resume_on_other_threads(void **state)
{
    size_t len = 0;
    uint8_t *bin = wat_to_wasm(wat, &len);
    th_wasm_module *m = NULL;
    th_wasm_imports *imp;
    th_wasm_instance *inst = NULL;
    th_error err = {0};
    job j = {0};
    int steps = 0;

    (void)state;
    if (bin == NULL)
        wat_missing();
    assert_int_equal(th_wasm_module_new(bin, len, &m, &err), TH_OK);
    free(bin);
    imp = th_wasm_imports_new();
    assert_int_equal(th_wasm_imports_add_func(imp, "env", "ask", "i>i", host_ask, &j.asked), TH_OK);
    assert_int_equal(th_wasm_instance_new(m, imp, NULL, &inst, &err), TH_OK);
    j.ex = th_wasm_exec_new(NULL);
    j.fn = th_wasm_instance_func(inst, "run");
    assert_non_null(j.fn);

    /* Each step (the call, then every resume) runs on a new thread. */
    j.first = true;
    do {
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, step_thread, &j), 0);
        assert_int_equal(pthread_join(t, NULL), 0);
        if (j.rc == TH_WASM_SUSPENDED)
            assert_int_equal(j.asked, steps);
        j.first = false;
        steps++;
    } while (j.rc == TH_WASM_SUSPENDED && steps < 20);
    assert_int_equal(j.rc, TH_OK);
    assert_int_equal(steps, 6); /* the call and 5 resumes */
    /* sum i*(i+1) for i < 5 = 40, plus 5 calls of $step */
    assert_int_equal(j.res.i32, 40 + 5);

    th_wasm_exec_free(j.ex);
    th_wasm_instance_free(inst);
    th_wasm_imports_free(imp);
    th_wasm_module_free(m);
}

/* Several threads, one shared module, an instance and exec each. */
typedef struct worker {
    th_wasm_module *m;
    int32_t asked;
    int32_t result;
    int ok;
} worker;

static void *worker_thread(void *arg)
{
    worker *w = arg;
    th_wasm_imports *imp = th_wasm_imports_new();
    th_wasm_instance *inst = NULL;
    th_wasm_exec *ex = th_wasm_exec_new(NULL);
    th_wasm_val a = {.i32 = 50}, res = {0};
    int rc;

    if (imp == NULL || ex == NULL ||
        th_wasm_imports_add_func(imp, "env", "ask", "i>i", host_ask, &w->asked) != TH_OK ||
        th_wasm_instance_new(w->m, imp, NULL, &inst, NULL) != TH_OK)
        goto done;
    rc = th_wasm_exec_call(ex, th_wasm_instance_func(inst, "run"), &a, 1, &res, 1);
    while (rc == TH_WASM_SUSPENDED) {
        a.i32 = w->asked + 1;
        rc = th_wasm_exec_resume(ex, &a, &res, 1);
    }
    w->result = res.i32;
    w->ok = rc == TH_OK;
done:
    th_wasm_exec_free(ex);
    th_wasm_instance_free(inst);
    th_wasm_imports_free(imp);
    return NULL;
}

static void test_shared_module_many_threads(void **state)
{
    size_t len = 0;
    uint8_t *bin = wat_to_wasm(wat, &len);
    th_wasm_module *m = NULL;
    pthread_t t[4];
    worker w[4];
    int32_t want = 0;

    (void)state;
    if (bin == NULL)
        wat_missing();
    assert_int_equal(th_wasm_module_new(bin, len, &m, NULL), TH_OK);
    free(bin);
    for (int32_t i = 0; i < 50; i++)
        want += i * (i + 1);
    want += 50;
    for (int i = 0; i < 4; i++) {
        memset(&w[i], 0, sizeof w[i]);
        w[i].m = m;
        assert_int_equal(pthread_create(&t[i], NULL, worker_thread, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        assert_true(w[i].ok);
        assert_int_equal(w[i].result, want);
    }
    th_wasm_module_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resume_on_other_threads),
        cmocka_unit_test(test_shared_module_many_threads),
    };
    return th_test_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
