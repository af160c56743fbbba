/*
 * test_attenuation.c - what an actor starts can never hold more than the
 * actor holds (docs/security.md).
 *
 * The parent is parent.wat: its init spawns three children from the
 * manifest (a path, or TOML text) given as its initial state and fails
 * with the spawn's error if one is refused.  The children are hostile.wat
 * (it imports nothing, so any handler list is a valid manifest for it).
 * Every handler is checked: one the parent does not hold is refused, and
 * the settings of filesystem (directory inside the parent's), environment
 * (allow-list within the parent's) and random (a seed grants nothing) are
 * checked against the parent's.  Then the limits (each at most the
 * parent's; unset ones inherited), save_chain, the files a spawn reads
 * (component, init_state file, the manifest file: only through the
 * parent's filesystem grant), ${VAR} in an actor's manifest (only the
 * variables the parent may read) and init_state from the store (only for a
 * parent that holds the store).  Last, the rules a handler set keeps for
 * the runtime to start with it (a handler with settings reads and
 * attenuates them; names and numbers are unique).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "handlers/handlers_int.h"
#include "theater/handlers.h"
#include "rt_test_util.h"

/* The parent's grant of the whole filesystem (it reads the children's
 * component from the build directory). */
#define FS_ALL "[[handler]]\ntype = \"filesystem\"\npath = \"/\"\n"

/* Spawn parent.wat with `handlers` (besides runtime and supervisor) and
 * `extra` TOML; its children come from `child` (text or path).  Returns
 * th_runtime_spawn's code; the error in *err. */
static int family(rtt *t, const char *extra, const char *child, char *id, th_error *err)
{
    const char *par = rtt_manifest(t, "parent", rtt_module("parent"), "runtime supervisor", extra);
    th_spawn_opts o = {0};

    o.manifest_path = par;
    o.initial_state = (const uint8_t *)child;
    o.initial_state_len = strlen(child);
    return th_runtime_spawn(t->rt, &o, id, err);
}

/* The text of a child manifest: hostile.wat with `rest` appended. */
static const char *kid(const char *rest)
{
    static char buf[4][2048];
    static int slot;
    char *p = buf[slot++ % 4];

    snprintf(p, 2048, "name = \"kid\"\ncomponent = \"%s\"\n%s", rtt_module("hostile"), rest);
    return p;
}

static void refused(rtt *t, const char *extra, const char *child, const char *why)
{
    char id[TH_ACTOR_ID_SIZE];
    th_error err;
    int rc = family(t, extra, child, id, &err);

    if (rc == 0 || strstr(err.msg, why) == NULL)
        print_message("expected a refusal with '%s', got %d: %s\n", why, rc, rc ? err.msg : "");
    assert_int_not_equal(rc, 0);
    assert_non_null(strstr(err.msg, why));
}

static void accepted(rtt *t, const char *extra, const char *child, char *id)
{
    char buf[TH_ACTOR_ID_SIZE];
    th_error err;
    int rc = family(t, extra, child, id != NULL ? id : buf, &err);

    if (rc != 0)
        print_message("expected the spawn to work: %s\n", err.msg);
    assert_int_equal(rc, 0);
}

/* The case: a parent without filesystem or environment grants
 * starts a child that asks for the root directory and a secret. */
static void test_escalation_refused(void **unused)
{
    rtt t;

    (void)unused;
    rtt_start(&t, 2);
    setenv("RTT_SECRET", "hunter2", 1);
    refused(&t, FS_ALL,
            kid("[[handler]]\ntype = \"environment\"\nallowed_vars = [\"RTT_SECRET\"]\n"),
            "lists the \"environment\" handler, which the parent does not hold");
    refused(&t, "[[handler]]\ntype = \"environment\"\nallowed_vars = [\"HOME\"]\n" FS_ALL,
            kid("[[handler]]\ntype = \"environment\"\nallowed_vars = [\"RTT_SECRET\"]\n"),
            "allowed_vars lists \"RTT_SECRET\", which the parent may not read");
    rtt_stop(&t);
}

/* Each handler: refused when the parent does not hold it, accepted when it
 * does (with settings within the parent's). */
static void test_every_handler(void **unused)
{
    static const char *const others[] = {"message-server", "store", "timing", "random"};
    char extra[512], child[256];
    rtt t;
    size_t i;

    (void)unused;
    rtt_start(&t, 2);
    for (i = 0; i < sizeof others / sizeof others[0]; i++) {
        char why[128];
        snprintf(child, sizeof child, "[[handler]]\ntype = \"%s\"\n", others[i]);
        snprintf(why, sizeof why, "lists the \"%s\" handler, which the parent does not hold",
                 others[i]);
        refused(&t, FS_ALL, kid(child), why);
        snprintf(extra, sizeof extra, FS_ALL "[[handler]]\ntype = \"%s\"\n", others[i]);
        accepted(&t, extra, kid(child), NULL);
    }
    /* the parent's own handlers pass on */
    accepted(&t, FS_ALL,
             kid("[[handler]]\ntype = \"runtime\"\n[[handler]]\ntype = \"supervisor\"\n"), NULL);
    /* random: a seed grants nothing */
    accepted(&t, FS_ALL "[[handler]]\ntype = \"random\"\n",
             kid("[[handler]]\ntype = \"random\"\nseed = 7\n"), NULL);
    /* environment: within the parent's list (a shorter one is fine) */
    accepted(&t, FS_ALL "[[handler]]\ntype = \"environment\"\nallowed_vars = [\"LANG\", \"TZ\"]\n",
             kid("[[handler]]\ntype = \"environment\"\nallowed_vars = [\"TZ\"]\n"), NULL);
    refused(&t, FS_ALL "[[handler]]\ntype = \"environment\"\nallowed_vars = [\"LANG\"]\n",
            kid("[[handler]]\ntype = \"environment\"\nallowed_vars = [\"LANG\", \"PATH\"]\n"),
            "allowed_vars lists \"PATH\"");
    rtt_stop(&t);
}

/* filesystem: the child's directory is the parent's or below it; the
 * files a spawn reads lie inside the parent's directory. */
static void test_filesystem(void **unused)
{
    char dir[300], sub[320], other[320], extra[512], child[1024], wasm[400], state[400];
    rtt t;
    FILE *f;

    (void)unused;
    rtt_start(&t, 2);
    snprintf(dir, sizeof dir, "%s/grant", t.home);
    snprintf(sub, sizeof sub, "%s/sub", dir);
    snprintf(other, sizeof other, "%s/other", t.home);
    mkdir(dir, 0755);
    mkdir(sub, 0755);
    mkdir(other, 0755);
    snprintf(extra, sizeof extra, "[[handler]]\ntype = \"filesystem\"\npath = \"%s\"\n", dir);
    /* the component outside the grant */
    snprintf(child, sizeof child, "[[handler]]\ntype = \"filesystem\"\npath = \"%s\"\n", sub);
    refused(&t, extra, kid(child), "is outside the filesystem grant");
    /* inside: a copy of the module in the grant */
    snprintf(wasm, sizeof wasm, "cp '%s' '%s/kid.wasm'", rtt_module("hostile"), dir);
    assert_int_equal(system(wasm), 0);
    snprintf(child, sizeof child,
             "name = \"kid\"\ncomponent = \"%s/kid.wasm\"\n[[handler]]\ntype = "
             "\"filesystem\"\npath = \"%s\"\n",
             dir, sub);
    accepted(&t, extra, child, NULL);
    /* the same directory is fine; a sibling, the parent directory and "/" are not */
    snprintf(child, sizeof child,
             "name = \"kid\"\ncomponent = \"%s/kid.wasm\"\n[[handler]]\ntype = "
             "\"filesystem\"\npath = \"%s\"\n",
             dir, dir);
    accepted(&t, extra, child, NULL);
    snprintf(child, sizeof child,
             "name = \"kid\"\ncomponent = \"%s/kid.wasm\"\n[[handler]]\ntype = "
             "\"filesystem\"\npath = \"%s\"\n",
             dir, other);
    refused(&t, extra, child, "is outside the parent's directory");
    snprintf(child, sizeof child,
             "name = \"kid\"\ncomponent = \"%s/kid.wasm\"\n[[handler]]\ntype = "
             "\"filesystem\"\npath = \"/\"\n",
             dir);
    refused(&t, extra, child, "path '/' is outside the parent's directory");
    /* ".." cannot climb out: paths are compared as real paths */
    snprintf(child, sizeof child,
             "name = \"kid\"\ncomponent = \"%s/sub/../kid.wasm\"\n[[handler]]\ntype = "
             "\"filesystem\"\npath = \"%s/sub/..\"\n",
             dir, dir);
    accepted(&t, extra, child, NULL);
    snprintf(child, sizeof child,
             "name = \"kid\"\ncomponent = \"%s/kid.wasm\"\n[[handler]]\ntype = "
             "\"filesystem\"\npath = \"%s/..\"\n",
             dir, dir);
    refused(&t, extra, child, "is outside the parent's directory");
    /* a symlink inside the grant that leads out is followed, then refused */
    snprintf(wasm, sizeof wasm, "ln -s /etc '%s/etc'", dir);
    assert_int_equal(system(wasm), 0);
    snprintf(child, sizeof child,
             "name = \"kid\"\ncomponent = \"%s/kid.wasm\"\ninit_state = \"%s/etc/passwd\"\n", dir,
             dir);
    refused(&t, extra, child, "init_state file");
    /* an init_state file outside, then inside */
    snprintf(child, sizeof child,
             "name = \"kid\"\ncomponent = \"%s/kid.wasm\"\ninit_state = \"/etc/passwd\"\n", dir);
    refused(&t, extra, child, "init_state file '/etc/passwd' is outside the filesystem grant");
    snprintf(state, sizeof state, "%s/state.json", dir);
    f = fopen(state, "w");
    assert_non_null(f);
    fputs("{\"n\": 1}", f);
    fclose(f);
    snprintf(state, sizeof state, "%s/state.json", t.home);
    f = fopen(state, "w");
    assert_non_null(f);
    fputs("{\"secret\": 1}", f);
    fclose(f);
    snprintf(child, sizeof child,
             "name = \"kid\"\ncomponent = \"%s/kid.wasm\"\ninit_state = \"state.json\"\n", dir);
    /* relative paths in an actor's manifest text resolve against the
     * parent's manifest directory (the home here): outside the grant */
    refused(&t, extra, child, "is outside the filesystem grant");
    snprintf(child, sizeof child,
             "name = \"kid\"\ncomponent = \"%s/kid.wasm\"\ninit_state = \"grant/state.json\"\n",
             dir);
    accepted(&t, extra, child, NULL);
    /* a manifest file named by the actor: inside the grant, or refused */
    snprintf(state, sizeof state, "%s/kid.toml", dir);
    f = fopen(state, "w");
    assert_non_null(f);
    fputs("name = \"kid\"\ncomponent = \"kid.wasm\"\n", f);
    fclose(f);
    accepted(&t, extra, state, NULL);
    snprintf(state, sizeof state, "%s/kid.toml", other);
    f = fopen(state, "w");
    assert_non_null(f);
    fputs("name = \"kid\"\ncomponent = \"../grant/kid.wasm\"\n", f);
    fclose(f);
    refused(&t, extra, state, "manifest '");
    /* without any filesystem grant nothing can be read */
    refused(&t, "", kid(""), "this actor has none");
    rtt_stop(&t);
}

/* The refusal of a spawn (the spawn's message, malloc'd), with every
 * `from` in it replaced by `to` (same length). */
static char *refusal(rtt *t, const char *extra, const char *child, const char *from, const char *to)
{
    char id[TH_ACTOR_ID_SIZE], *m, *at;
    th_error err;

    assert_int_not_equal(family(t, extra, child, id, &err), 0);
    assert_int_equal(strlen(from), strlen(to));
    /* the parent's init gives the spawn's error (after the parent's id) */
    assert_non_null((at = strstr(err.msg, "init returned an error: ")));
    m = strdup(at);
    assert_non_null(m);
    for (at = m; (at = strstr(at, from)) != NULL; at += strlen(to))
        memcpy(at, to, strlen(to));
    return m;
}

/* A file a spawn by an actor names outside its filesystem grant is refused
 * with one answer whether or not it exists (no "No such file" for a path
 * outside: that would tell the actor which host paths exist); a missing
 * file inside the grant is said to be missing. */
/* The refusals of `a` (a file that exists) and `b` (one that does not)
 * are the same once the names are: nothing tells them apart; they hold
 * `holds` if not NULL. */
static void same_refusal(rtt *t, const char *extra, const char *a, const char *b, const char *holds)
{
    char *ma = refusal(t, extra, a, "exists", "XXXXXX");
    char *mb = refusal(t, extra, b, "nohere", "XXXXXX");

    assert_string_equal(ma, mb);
    if (holds != NULL)
        assert_non_null(strstr(ma, holds));
    free(ma);
    free(mb);
}

static void test_grant_file_no_oracle(void **unused)
{
    char dir[300], other[320], extra[512], path[1024], a[1400], b[1400], *ma;
    rtt t;
    FILE *f;

    (void)unused;
    rtt_start(&t, 2);
    snprintf(dir, sizeof dir, "%s/grant", t.home);
    snprintf(other, sizeof other, "%s/other", t.home);
    mkdir(dir, 0755);
    mkdir(other, 0755);
    snprintf(extra, sizeof extra, "[[handler]]\ntype = \"filesystem\"\npath = \"%s\"\n", dir);
    snprintf(path, sizeof path, "%s/exists.toml", other);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("name = \"kid\"\ncomponent = \"x.wasm\"\n", f);
    fclose(f);
    /* the manifest by path: absolute, through "..", below a missing
     * directory, through a symlink in the grant (to an existing and to a
     * missing file outside) */
    snprintf(a, sizeof a, "%s/exists.toml", other);
    snprintf(b, sizeof b, "%s/nohere.toml", other);
    same_refusal(&t, extra, a, b, "is outside the filesystem grant");
    snprintf(a, sizeof a, "%s/../other/exists.toml", dir);
    snprintf(b, sizeof b, "%s/../other/nohere.toml", dir);
    same_refusal(&t, extra, a, b, NULL);
    snprintf(a, sizeof a, "%s/nodir/../../other/exists.toml", dir);
    snprintf(b, sizeof b, "%s/nodir/../../other/nohere.toml", dir);
    same_refusal(&t, extra, a, b, NULL);
    snprintf(a, sizeof a,
             "ln -s '%s/exists.toml' '%s/lexists' && ln -s '%s/nohere.toml' '%s/lnohere'", other,
             dir, other, dir);
    assert_int_equal(system(a), 0);
    snprintf(a, sizeof a, "%s/lexists", dir);
    snprintf(b, sizeof b, "%s/lnohere", dir);
    same_refusal(&t, extra, a, b, "is outside the filesystem grant");
    /* a component named in manifest text: the same */
    snprintf(a, sizeof a, "name = \"kid\"\ncomponent = \"%s/exists.toml\"\n", other);
    snprintf(b, sizeof b, "name = \"kid\"\ncomponent = \"%s/nohere.toml\"\n", other);
    same_refusal(&t, extra, a, b, NULL);
    /* inside the grant, a missing file is missing */
    snprintf(a, sizeof a, "%s/nohere.toml", dir);
    ma = refusal(&t, extra, a, "nohere", "nohere");
    assert_non_null(strstr(ma, "No such file or directory"));
    free(ma);
    rtt_stop(&t);
}

/* Limits: at most the parent's; unset ones are the parent's. */
static void test_limits(void **unused)
{
    static const struct {
        const char *field, *parent, *child;
    } cases[] = {
        {"fuel_per_call", "1000000", "2000000"},
        {"fuel_per_call", "1000000", "0"},
        {"memory_bytes", "1048576", "2097152"},
        {"memory_bytes", "1048576", "0"},
        {"call_timeout_ms", "1000", "2000"},
        {"call_timeout_ms", "1000", "0"},
        {"max_children", "5", "6"},
        {"max_descendants", "5", "6"},
        {"mailbox_messages", "100", "101"},
        {"mailbox_bytes", "65536", "65537"},
        {"store_bytes", "1000", "1001"},
        {"stack_bytes", "1048576", "1048577"},
        {"stack_bytes", "1048576", "0"}, /* 0: the engine's 8 MiB */
    };
    /* For these 0 is zero, not "no limit" (docs/manifest.md): a parent of 0
     * cannot give a child 1, and a child may ask for 0 under any parent. */
    static const char *const zero[] = {"max_children", "max_descendants", "store_bytes"};
    char extra[512], child[256], why[128];
    rtt t;
    size_t i;

    (void)unused;
    rtt_start(&t, 2);
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(extra, sizeof extra, "[limits]\n%s = %s\n" FS_ALL, cases[i].field,
                 cases[i].parent);
        snprintf(child, sizeof child, "[limits]\n%s = %s\n", cases[i].field, cases[i].child);
        snprintf(why, sizeof why, "limits.%s = %s", cases[i].field, cases[i].child);
        refused(&t, extra, kid(child), why);
        snprintf(child, sizeof child, "[limits]\n%s = %s\n", cases[i].field, cases[i].parent);
        accepted(&t, extra, kid(child), NULL);
    }
    for (i = 0; i < sizeof zero / sizeof zero[0]; i++) {
        snprintf(extra, sizeof extra, "[limits]\n%s = 0\n" FS_ALL, zero[i]);
        snprintf(child, sizeof child, "[limits]\n%s = 1\n", zero[i]);
        snprintf(why, sizeof why, "limits.%s = 1 exceeds the parent's 0", zero[i]);
        refused(&t, extra, kid(child), why);
        snprintf(extra, sizeof extra, "[limits]\n%s = 5\n" FS_ALL, zero[i]);
        snprintf(child, sizeof child, "[limits]\n%s = 0\n", zero[i]);
        accepted(&t, extra, kid(child), NULL);
    }
    /* under a parent of the default stack, 0 (the default) and less are fine */
    accepted(&t, FS_ALL, kid("[limits]\nstack_bytes = 0\n"), NULL);
    accepted(&t, "[limits]\nstack_bytes = 0\n" FS_ALL, kid("[limits]\nstack_bytes = 65536\n"),
             NULL);
    refused(&t, FS_ALL, kid("[limits]\nstack_bytes = 1073741824\n"),
            "limits.stack_bytes = 1073741824 exceeds the parent's 8388608");
    rtt_stop(&t);
}

/* A limit the child leaves unset is the parent's, not the default: a loop
 * in the child runs out of the parent's fuel. */
static void test_limits_inherited(void **unused)
{
    char id[TH_ACTOR_ID_SIZE];
    th_actor_exit ex;
    th_error err;
    char **kids;
    size_t n;
    rtt t;

    (void)unused;
    rtt_start(&t, 2);
    accepted(&t, "[limits]\nfuel_per_call = 3000000\n" FS_ALL, kid(""), id);
    assert_int_equal(th_runtime_list_children(t.rt, id, &kids, &n, &err), 0);
    assert_int_equal(n, 3);
    assert_int_equal(th_runtime_send(t.rt, kids[0], (const uint8_t *)"L", 1, &err), 0);
    assert_true(rtt_log_wait(&t, "fuel exhausted in handle-send (limit 3000000)", 10000));
    th_runtime_strv_free(kids);
    (void)ex;
    rtt_stop(&t);
}

/* save_chain: a recorded parent cannot start an unrecorded child. */
static void test_save_chain(void **unused)
{
    rtt t;

    (void)unused;
    rtt_start(&t, 2);
    refused(&t, FS_ALL, kid("save_chain = false\n"),
            "save_chain = false, but the parent's chain is saved");
    accepted(&t, "save_chain = false\n" FS_ALL, kid("save_chain = false\n"), NULL);
    accepted(&t, "save_chain = false\n" FS_ALL, kid(""), NULL);
    rtt_stop(&t);
}

/* ${VAR} in an actor's manifest: only what the parent may read. */
static void test_substitution(void **unused)
{
    rtt t;

    (void)unused;
    rtt_start(&t, 2);
    setenv("RTT_SECRET", "hunter2", 1);
    setenv("RTT_VISIBLE", "fine", 1);
    refused(&t, FS_ALL, kid("description = \"${RTT_SECRET}\"\n"),
            "environment variable 'RTT_SECRET' is not defined");
    refused(&t, FS_ALL "[[handler]]\ntype = \"environment\"\nallowed_vars = [\"RTT_VISIBLE\"]\n",
            kid("description = \"${RTT_SECRET}\"\n"),
            "environment variable 'RTT_SECRET' is not defined");
    accepted(&t, FS_ALL "[[handler]]\ntype = \"environment\"\nallowed_vars = [\"RTT_VISIBLE\"]\n",
             kid("description = \"${RTT_VISIBLE}\"\n"), NULL);
    rtt_stop(&t);
}

/* init_state from the store needs the store handler. */
static void test_store_init_state(void **unused)
{
    rtt t;
    const char *child = kid("init_state = \"store:11111111-1111-4111-8111-111111111111/seed\"\n");

    (void)unused;
    rtt_start(&t, 2);
    refused(&t, FS_ALL, child, "does not hold the \"store\" handler");
    /* holding it, the reference is looked up (and here not found) */
    refused(&t, FS_ALL "[[handler]]\ntype = \"store\"\n", child, "init_state: unknown store");
    rtt_stop(&t);
}

/* A runtime given `set`: th_runtime_new's code, its message in *msg. */
static int start_with(const th_handler_set *set, char *msg, size_t cap)
{
    char home[] = "/tmp/theater-attn-XXXXXX", cmd[64];
    th_runtime_config cfg;
    th_runtime *rt = NULL;
    th_error err;
    int rc;

    assert_non_null(mkdtemp(home));
    memset(&cfg, 0, sizeof cfg);
    cfg.home = home;
    cfg.workers = 1;
    cfg.handlers = set;
    rc = th_runtime_new(&cfg, &rt, &err);
    snprintf(msg, cap, "%s", rc != 0 ? err.msg : "");
    if (rc == 0) {
        th_runtime_shutdown(rt, &err);
        th_runtime_free(rt);
    }
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", home);
    assert_int_equal(system(cmd), 0);
    return rc;
}

static int read_nothing(struct rt_manifest_reader *r, const struct toml_value *t,
                        const char *prefix, void *settings)
{
    (void)r, (void)t, (void)prefix, (void)settings;
    return 0;
}

/* The runtime starts only with a handler set that keeps its rules. */
static void test_handler_set_rules(void **unused)
{
    static const char *const fields[] = {"level", NULL};
    rt_iface plain = {.name = "plain", .module = "theater:simple/plain", .handler = 1};
    rt_iface twin = {.name = "twin", .module = "theater:simple/twin", .handler = 1};
    rt_iface bad = {.name = "bad",
                    .module = "theater:simple/bad",
                    .handler = 2,
                    .fields = fields,
                    .settings_size = 8,
                    .settings_read = read_nothing};
    rt_iface unread = {
        .name = "unread", .module = "theater:simple/unread", .handler = 3, .fields = fields};
    const rt_iface *ok_set[] = {&plain}, *dup_set[] = {&plain, &twin}, *bad_set[] = {&bad},
                   *unread_set[] = {&unread};
    th_handler_set set = {ok_set, 1, NULL, NULL};
    char msg[TH_ERROR_MSG_MAX];

    (void)unused;
    assert_int_equal(start_with(&set, msg, sizeof msg), 0);
    set.ifaces = dup_set;
    set.count = 2;
    assert_int_equal(start_with(&set, msg, sizeof msg), TH_EINVAL);
    assert_non_null(strstr(msg, "twin"));
    set.ifaces = bad_set;
    set.count = 1;
    assert_int_equal(start_with(&set, msg, sizeof msg), TH_ENOSYS);
    assert_non_null(strstr(msg, "handler \"bad\" has settings but no attenuation rule"));
    set.ifaces = unread_set;
    assert_int_equal(start_with(&set, msg, sizeof msg), TH_ENOSYS);
    assert_non_null(strstr(msg, "handler \"unread\" has settings but no reader"));
    /* the built-in set keeps them */
    assert_int_equal(start_with(th_handlers_builtin(), msg, sizeof msg), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escalation_refused),
        cmocka_unit_test(test_every_handler),
        cmocka_unit_test(test_filesystem),
        cmocka_unit_test(test_grant_file_no_oracle),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_limits_inherited),
        cmocka_unit_test(test_save_chain),
        cmocka_unit_test(test_substitution),
        cmocka_unit_test(test_store_init_state),
        cmocka_unit_test(test_handler_set_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
