/*
 * test_supervision.c - parents and children: the parent hears about a
 * child's failure (handle-child-error), an outside stop
 * (handle-child-external-stop); stopping a parent stops its children first;
 * the declared strategies restart the right children (one-for-one,
 * one-for-all, rest-for-one), and a supervisor whose restart intensity is
 * exceeded fails itself.  th_runtime_stop_many stops many at once, a
 * parent's children with it.
 *
 * The parent is parent.wat (spawns three children from the manifest path
 * given as its initial state); the children are hostile.wat, whose state
 * becomes each one-way message (so a restart is visible as the state going
 * back to none) and which traps on "T".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "rt_test_util.h"

typedef struct fam {
    char parent[TH_ACTOR_ID_SIZE];
    char kids[3][TH_ACTOR_ID_SIZE];
} fam;

/* Spawn parent.wat with `supervision` TOML (may be NULL) over hostile kids. */
static void family(rtt *t, const char *supervision, const char *child_extra, fam *f)
{
    const char *kid = rtt_manifest(t, "kid", rtt_module("hostile"), "", child_extra);
    char extra[512];
    const char *par;
    /* the parent reads the kids' manifest and component through its
     * filesystem grant */
    snprintf(extra, sizeof extra, "%s\n[[handler]]\ntype = \"filesystem\"\npath = \"/\"\n",
             supervision ? supervision : "");
    par = rtt_manifest(t, "parent", rtt_module("parent"), "runtime supervisor", extra);
    th_spawn_opts o = {0};
    th_error err;
    char **ids;
    size_t n, i;
    int rc;

    o.manifest_path = par;
    o.initial_state = (const uint8_t *)kid;
    o.initial_state_len = strlen(kid);
    rc = th_runtime_spawn(t->rt, &o, f->parent, &err);
    if (rc != 0)
        print_message("spawn: %s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(th_runtime_list_children(t->rt, f->parent, &ids, &n, &err), 0);
    assert_int_equal(n, 3);
    for (i = 0; i < 3; i++)
        memcpy(f->kids[i], ids[i], TH_ACTOR_ID_SIZE);
    th_runtime_strv_free(ids);
}

/* Set a child's state to `s` and make sure it was handled. */
static void set_state(rtt *t, const char *id, const char *s)
{
    th_error err;
    uint8_t *resp;
    size_t len;

    assert_int_equal(th_runtime_send(t->rt, id, (const uint8_t *)s, strlen(s), &err), 0);
    assert_int_equal(
        th_runtime_request(t->rt, id, (const uint8_t *)"?", 1, 5000, &resp, &len, &err), 0);
    free(resp);
}

/* The state as a string ("" for none); waits up to 3 s for `want` if given. */
static void expect_state(rtt *t, const char *id, const char *want)
{
    bool has;
    uint8_t *st;
    size_t len;
    th_error err;
    char buf[64];
    int i;

    for (i = 0; i < 300; i++) {
        assert_int_equal(th_runtime_get_state(t->rt, id, &has, &st, &len, &err), 0);
        snprintf(buf, sizeof buf, "%.*s", has ? (int)len : 0, has ? (const char *)st : "");
        free(st);
        if (strcmp(buf, want) == 0)
            return;
        usleep(10000);
    }
    print_message("state of %s is '%s', expected '%s'\n", id, buf, want);
    fail();
}

static void crash(rtt *t, const char *id)
{
    th_error err;

    assert_int_equal(th_runtime_send(t->rt, id, (const uint8_t *)"T", 1, &err), 0);
}

static void test_notifications_and_cascade(void **unused)
{
    rtt t;
    fam f;
    th_error err;
    char **ids, msg[64];
    size_t n;
    th_actor_status st;

    (void)unused;
    rtt_start(&t, 2);
    family(&t, NULL, NULL, &f);
    /* failure -> handle-child-error with the failure text */
    crash(&t, f.kids[1]);
    assert_true(rtt_log_wait(&t, "child-error:trap in handle-send: unreachable", 5000));
    /* with the trap's frames, as a spawn's err has them */
    assert_true(rtt_log_wait(&t, "unreachable\n    at #0 ", 5000));
    assert_int_equal(th_runtime_actor_status(t.rt, f.kids[1], &st, &err), 0);
    assert_int_equal(st, TH_ACTOR_FAILED); /* no strategy: waits for its parent */
    /* stop from outside -> handle-child-external-stop */
    assert_int_equal(th_runtime_stop(t.rt, f.kids[0], &err), 0);
    assert_true(rtt_log_wait(&t, "child-stop", 5000));
    /* stop-child from the parent: no notification, child gone */
    snprintf(msg, sizeof msg, "S%s", f.kids[2]);
    assert_int_equal(th_runtime_send(t.rt, f.parent, (const uint8_t *)msg, strlen(msg), &err), 0);
    for (n = 0; n < 300 && th_runtime_actor_status(t.rt, f.kids[2], &st, &err) == 0; n++)
        usleep(10000);
    assert_int_equal(th_runtime_actor_status(t.rt, f.kids[2], &st, &err), TH_ENOENT);
    /* stopping the parent stops the failed child first */
    assert_int_equal(th_runtime_stop(t.rt, f.parent, &err), 0);
    assert_int_equal(th_runtime_list_actors(t.rt, &ids, &n, &err), 0);
    assert_int_equal(n, 0);
    th_runtime_strv_free(ids);
    rtt_stop(&t);
}

static void strategy(const char *name, const char *expect0, const char *expect2)
{
    rtt t;
    fam f;
    char sup[160];

    rtt_start(&t, 2);
    snprintf(sup, sizeof sup,
             "[supervision]\nstrategy = \"%s\"\nmax_restarts = 5\nwithin_seconds = 10", name);
    family(&t, sup, NULL, &f);
    set_state(&t, f.kids[0], "a");
    set_state(&t, f.kids[1], "b");
    set_state(&t, f.kids[2], "c");
    crash(&t, f.kids[1]);
    assert_true(rtt_log_wait(&t, "child-error:", 5000));
    expect_state(&t, f.kids[1], ""); /* restarted: back to its initial state */
    expect_state(&t, f.kids[0], expect0);
    expect_state(&t, f.kids[2], expect2);
    /* the restarted child works again, under the same id */
    set_state(&t, f.kids[1], "again");
    expect_state(&t, f.kids[1], "again");
    rtt_stop(&t);
}

static void test_one_for_one(void **unused)
{
    (void)unused;
    strategy("one-for-one", "a", "c");
}

static void test_one_for_all(void **unused)
{
    (void)unused;
    strategy("one-for-all", "", "");
}

static void test_rest_for_one(void **unused)
{
    (void)unused;
    strategy("rest-for-one", "a", "");
}

static void test_intensity(void **unused)
{
    rtt t;
    fam f;
    th_actor_exit ex;
    th_error err;
    int i;

    (void)unused;
    rtt_start(&t, 2);
    family(&t, "[supervision]\nstrategy = \"one-for-one\"\nmax_restarts = 2\nwithin_seconds = 60",
           NULL, &f);
    for (i = 0; i < 2; i++) {
        set_state(&t, f.kids[0], "x");
        crash(&t, f.kids[0]);
        expect_state(&t, f.kids[0], "");
    }
    set_state(&t, f.kids[0], "x");
    crash(&t, f.kids[0]); /* the third restart within the window: too many */
    assert_int_equal(th_runtime_wait(t.rt, f.parent, 10000, &ex, &err), 0);
    assert_int_equal(ex.reason, TH_EXIT_FAILED);
    assert_non_null(strstr(ex.message, "restart intensity exceeded"));
    free(ex.data);
    free(ex.backtrace);
    rtt_stop(&t);
}

static void test_temporary_child(void **unused)
{
    rtt t;
    fam f;
    th_error err;
    th_actor_status st;
    int i;

    (void)unused;
    rtt_start(&t, 2);
    family(&t, "[supervision]\nstrategy = \"one-for-one\"", "restart = \"temporary\"", &f);
    crash(&t, f.kids[0]);
    for (i = 0; i < 300 && th_runtime_actor_status(t.rt, f.kids[0], &st, &err) == 0; i++)
        usleep(10000);
    assert_int_equal(th_runtime_actor_status(t.rt, f.kids[0], &st, &err), TH_ENOENT);
    rtt_stop(&t);
}

/* The last event of `id`'s chain as stored (a read-only handle of its own
 * sees only what the writer committed). */
static void expect_stored_last(rtt *t, const char *id, const char *type)
{
    th_chain_config cfg = {0};
    th_chain_query q = {0};
    th_chain_events evs = {0};
    th_chain *c;
    th_error err;

    cfg.home = t->home;
    cfg.read_only = 1;
    assert_int_equal(th_chain_open(&cfg, &c, &err), TH_OK);
    q.actor = id;
    assert_int_equal(th_chain_read(c, &q, &evs, &err), 0);
    assert_true(evs.count > 0);
    assert_string_equal(evs.items[evs.count - 1].type, type);
    th_chain_events_free(&evs);
    th_chain_close(c);
}

/* th_runtime_stop_many: more actors than its window of stops under way,
 * a parent among them (its children go first), an id that names nobody:
 * every actor named is gone when it returns and its actor-stopped is
 * stored; the unknown id is reported, the others are stopped all the
 * same. */
static void test_stop_many(void **unused)
{
    enum { N = 1500 };
    rtt t;
    fam f;
    th_error err;
    char(*ids)[TH_ACTOR_ID_SIZE] = calloc(N, TH_ACTOR_ID_SIZE), **left;
    const char **names = calloc(N + 2, sizeof *names);
    const char *man;
    size_t n, stopped = 0, i;
    th_actor_status st;

    (void)unused;
    assert_non_null(ids);
    assert_non_null(names);
    rtt_start(&t, 2);
    family(&t, NULL, NULL, &f);
    man = rtt_manifest(&t, "plain", rtt_module("hostile"), "", "");
    for (i = 0; i < N; i++) {
        rtt_spawn_state(&t, man, NULL, ids[i]);
        names[i] = ids[i];
    }
    names[N] = f.parent;
    names[N + 1] = "00000000-no-such-actor";
    assert_int_equal(th_runtime_stop_many(t.rt, names, N + 2, &stopped, &err), TH_ENOENT);
    assert_non_null(strstr(err.msg, "00000000-no-such-actor"));
    assert_int_equal(stopped, N + 1);
    assert_int_equal(th_runtime_list_actors(t.rt, &left, &n, &err), 0);
    assert_int_equal(n, 0); /* the children too */
    th_runtime_strv_free(left);
    assert_int_equal(th_runtime_actor_status(t.rt, ids[N - 1], &st, &err), TH_ENOENT);
    expect_stored_last(&t, ids[0], "actor-stopped");
    expect_stored_last(&t, ids[N - 1], "actor-stopped");
    expect_stored_last(&t, f.parent, "actor-stopped");
    expect_stored_last(&t, f.kids[2], "actor-stopped");
    /* all found: 0; an id named twice is stopped once and waited for twice */
    rtt_spawn_state(&t, man, NULL, ids[0]);
    names[1] = ids[0];
    assert_int_equal(th_runtime_stop_many(t.rt, names, 2, &stopped, &err), 0);
    assert_int_equal(stopped, 2);
    assert_int_equal(th_runtime_actor_status(t.rt, ids[0], &st, &err), TH_ENOENT);
    assert_int_equal(th_runtime_stop_many(t.rt, NULL, 0, &stopped, &err), 0);
    assert_int_equal(stopped, 0);
    rtt_stop(&t);
    free(ids);
    free(names);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_notifications_and_cascade),
        cmocka_unit_test(test_one_for_one),
        cmocka_unit_test(test_one_for_all),
        cmocka_unit_test(test_rest_for_one),
        cmocka_unit_test(test_intensity),
        cmocka_unit_test(test_temporary_child),
        cmocka_unit_test(test_stop_many),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
