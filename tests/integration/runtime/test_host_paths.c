/*
 * test_host_paths.c - an actor never learns where the host keeps its
 * files (docs/security.md "What an actor learns of the host"): the texts
 * an actor gets when a host call fails (an err result, which its chain
 * records) name paths as the actor wrote them, relative to its manifest's
 * directory, never the runtime's home or the manifest's directory as
 * absolute paths; the runtime's log has the whole message.
 *
 * The actor is the probe (probe.c) in an application directory of its own
 * (APP, its manifest's directory, under the test's home), with the
 * filesystem grant APP/data, where the children's manifests are.
 */
#define _GNU_SOURCE /* memmem */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "theater/chain.h"
#include "rt_test_util.h"

/* `text` into the file `dir`/`name`. */
static void put(const char *dir, const char *name, const char *text, size_t len)
{
    char path[600];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    fclose(f);
}

#define PUT(dir, name, text) put(dir, name, text, strlen(text))

/* The probe with runtime, message-server, supervisor and filesystem
 * (APP/data) from APP/probe.toml; APP into `app`, its id into `id`. */
static void spawn_app(rtt *t, char *app, size_t cap, char *id)
{
    char data[700], man[700];
    size_t len;
    void *wasm = rtt_read_file(rtt_module("probe"), &len);
    th_spawn_opts o = {0};
    th_error err;

    snprintf(app, cap, "%s/app", t->home);
    snprintf(data, sizeof data, "%s/data", app);
    assert_int_equal(mkdir(app, 0755), 0);
    assert_int_equal(mkdir(data, 0755), 0);
    put(app, "probe.wasm", wasm, len);
    put(data, "probe.wasm", wasm, len);
    free(wasm);
    PUT(app, "probe.toml",
        "name = \"probe\"\ncomponent = \"probe.wasm\"\n"
        "[[handler]]\ntype = \"runtime\"\n[[handler]]\ntype = \"message-server\"\n"
        "[[handler]]\ntype = \"supervisor\"\n[[handler]]\ntype = \"store\"\n"
        "[[handler]]\ntype = \"timing\"\n[[handler]]\ntype = \"random\"\n"
        "[[handler]]\ntype = \"environment\"\n"
        "[[handler]]\ntype = \"filesystem\"\npath = \"data\"\n");
    snprintf(man, sizeof man, "%s/probe.toml", app);
    o.manifest_path = man;
    if (th_runtime_spawn(t->rt, &o, id, &err) != 0)
        fail_msg("spawn: %s", err.msg);
}

/* The answer to `spawn WHAT` names no host path (`home`, of which APP is
 * below) and holds `want`. */
static void spawn_refused(rtt *t, const char *id, const char *what, const char *want)
{
    char *s = rtt_ask(t, id, 10000, "spawn %s", what);

    print_message("spawn %s: %s\n", what, s);
    assert_true(strncmp(s, "err ", 4) == 0);
    assert_null(strstr(s, t->home));
    if (strstr(s, want) == NULL)
        fail_msg("'%s' does not say '%s'", s, want);
    free(s);
}

/* Whether `s` (n bytes) holds `needle`. */
static bool holds(const void *s, size_t n, const char *needle)
{
    return memmem(s, n, needle, strlen(needle)) != NULL;
}

/* No host-call event of actor `id`'s chain (where the results of its host
 * calls are recorded) names `home`; how many hold `needle`. */
static size_t chain_without(rtt *t, const char *id, const char *home, const char *needle)
{
    th_chain_query q = {0};
    th_chain_events evs = {0};
    th_error err;
    size_t i, seen = 0;

    q.actor = id;
    assert_int_equal(th_runtime_flush(t->rt, id, &err), 0);
    assert_int_equal(th_chain_read(th_runtime_chain(t->rt), &q, &evs, &err), 0);
    for (i = 0; i < evs.count; i++) {
        const th_chain_event *e = &evs.items[i];
        if (strcmp(e->type, "host-call") != 0)
            continue;
        if (holds(e->data, e->data_len, home))
            fail_msg("event %s names the host path %s", e->type, home);
        seen += holds(e->data, e->data_len, needle);
    }
    th_chain_events_free(&evs);
    return seen;
}

/* supervisor.spawn and resume of a child that cannot start, from a
 * manifest path and from TOML text: the err says what is wrong with which
 * file, relative to the parent's manifest directory (as spawn takes a
 * manifest path), never where that directory or THEATER_HOME is.  The
 * parent's chain, which records the errs, names neither; the runtime's
 * log has the whole message. */
static void test_spawn_errors(void **unused)
{
    char app[600], data[700], path[800], id[TH_ACTOR_ID_SIZE];
    size_t len;
    void *kid = rtt_read_file(rtt_module("hostile"), &len);
    rtt t;

    (void)unused;
    rtt_start(&t, 1);
    spawn_app(&t, app, sizeof app, id);
    snprintf(data, sizeof data, "%s/data", app);
    put(data, "kid.wasm", kid, len);
    free(kid);
    PUT(data, "nocomp.toml", "name = \"kid\"\ncomponent = \"nothing.wasm\"\n");
    PUT(data, "bad.toml", "name = \"kid\"\ncomponent = \n");
    PUT(data, "junk.wasm", "not a module");
    PUT(data, "junk.toml", "name = \"kid\"\ncomponent = \"junk.wasm\"\n");
    PUT(data, "wide.toml",
        "name = \"kid\"\ncomponent = \"kid.wasm\"\n"
        "[[handler]]\ntype = \"filesystem\"\npath = \"../..\"\n");
    PUT(data, "nodir.toml",
        "name = \"kid\"\ncomponent = \"kid.wasm\"\n"
        "[[handler]]\ntype = \"filesystem\"\npath = \"nope\"\n");
    PUT(data, "nostate.toml",
        "name = \"kid\"\ncomponent = \"kid.wasm\"\ninit_state = \"none.json\"\n");
    snprintf(path, sizeof path, "%s/dir.wasm", data);
    assert_int_equal(mkdir(path, 0755), 0);
    PUT(data, "dircomp.toml", "name = \"kid\"\ncomponent = \"dir.wasm\"\n");
    spawn_refused(&t, id, "data/missing.toml", "manifest 'data/missing.toml': No such file");
    spawn_refused(&t, id, "data/dircomp.toml", "component data/dir.wasm is a directory");
    /* a file that cannot be opened (a socket: ENXIO, an I/O error) is
     * named, not called the runtime's storage */
    {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        assert_true(fd >= 0);
        int n = snprintf(sa.sun_path, sizeof sa.sun_path, "%s/sock.wasm", data);
        assert_true(n > 0 && (size_t)n < sizeof sa.sun_path);
        assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
        PUT(data, "sockcomp.toml", "name = \"kid\"\ncomponent = \"sock.wasm\"\n");
        spawn_refused(&t, id, "data/sockcomp.toml",
                      "cannot open component data/sock.wasm: No such device or address");
        close(fd);
    }
    spawn_refused(&t, id, "data/nocomp.toml", "component 'data/nothing.wasm': No such file");
    spawn_refused(&t, id, "data/bad.toml", "data/bad.toml: line 2");
    spawn_refused(&t, id, "data/junk.toml", "component data/junk.wasm: at offset 0x0");
    spawn_refused(&t, id, "data/wide.toml", "path '..' is outside the parent's directory 'data'");
    spawn_refused(&t, id, "data/nodir.toml", "directory 'data/nope': No such file");
    spawn_refused(&t, id, "data/nostate.toml", "init_state file 'data/none.json': No such file");
    spawn_refused(&t, id, "name = \"kid\"\ncomponent = \"data/none.wasm\"",
                  "component 'data/none.wasm': No such file");
    /* outside the grant: the grant is named as the manifest names it */
    spawn_refused(&t, id, "name = \"kid\"\ncomponent = \"probe.wasm\"",
                  "component 'probe.wasm' is outside the filesystem grant 'data'");
    spawn_refused(&t, id, "../kid.toml", "manifest '../kid.toml' is outside the filesystem grant");
    /* a path the actor wrote is its own */
    spawn_refused(&t, id, "/etc/kid.toml", "manifest '/etc/kid.toml' is outside");
    /* the same for resume */
    {
        char *s = rtt_ask(&t, id, 10000, "resume data/nocomp.toml state");
        assert_string_equal(s, "err data/nocomp.toml: component 'data/nothing.wasm': No such "
                               "file or directory");
        free(s);
    }
    assert_true(chain_without(&t, id, t.home, "data/nothing.wasm") >= 2);
    /* the same by an absolute path into the grant (which the chain
     * records, as the actor wrote it) */
    snprintf(path, sizeof path, "%s/nocomp.toml", data);
    spawn_refused(&t, id, path, "component 'data/nothing.wasm': No such file");
    /* the operator's log has it all */
    snprintf(path, sizeof path, "%s/nothing.wasm", data);
    assert_true(rtt_log_has(&t, path));
    rtt_stop(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spawn_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
