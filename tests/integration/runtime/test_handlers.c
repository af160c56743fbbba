/*
 * test_handlers.c - every host function of ABI.md, with its errors, through
 * the probe actor (probe.c): runtime, message-server (send, request,
 * deferred answers, cancel, channels), supervisor, store, timing, random
 * (seeded), environment (allow-list), filesystem (confinement), and the
 * capability check at spawn.
 */
#define _GNU_SOURCE /* memmem */
#include <pthread.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <sqlite3.h>

#include "base/utf8.h"
#include "theater/chain.h"
#include "theater/store.h"
#include "rt_test_util.h"

static char g_man[512];

static const char *g_extra;     /* TOML put before the handlers (limits...) */
static const char *g_component; /* component instead of the built probe */

/* The probe's manifest with every handler (or all but `skip`). */
static const char *probe_manifest(rtt *t, const char *name, const char *skip, uint64_t seed)
{
    static const char *handlers[] = {"runtime", "message-server", "supervisor",  "store",
                                     "timing",  "random",         "environment", "filesystem"};
    static char path[512];
    char dir[400];
    FILE *f;
    size_t i;

    snprintf(dir, sizeof dir, "%s/files", t->home);
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/%s.toml", t->home, name);
    f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "name = \"%s\"\ncomponent = \"%s\"\n%s\n", name,
            g_component ? g_component : rtt_module("probe"), g_extra ? g_extra : "");
    for (i = 0; i < sizeof handlers / sizeof handlers[0]; i++) {
        if (skip != NULL && strcmp(skip, handlers[i]) == 0)
            continue;
        fprintf(f, "\n[[handler]]\ntype = \"%s\"\n", handlers[i]);
        if (strcmp(handlers[i], "random") == 0 && seed)
            fprintf(f, "seed = %llu\n", (unsigned long long)seed);
        if (strcmp(handlers[i], "environment") == 0)
            fprintf(f, "allowed_vars = [\"RTT_VISIBLE\", \"RTT_UNSET\", \"RTT_NOT_UTF8\"]\n");
        if (strcmp(handlers[i], "filesystem") == 0)
            fprintf(f, "path = \"%s\"\n", dir);
    }
    fclose(f);
    return path;
}

static void spawn_probe(rtt *t, const char *man, char *id)
{
    th_spawn_opts o = {0};
    th_error err;
    int rc;

    o.manifest_path = man;
    rc = th_runtime_spawn(t->rt, &o, id, &err);
    if (rc != 0)
        print_message("spawn: %s\n", err.msg);
    assert_int_equal(rc, 0);
}

/* Run a command on probe `id`; returns the malloc'd answer. */
static char *cmd(rtt *t, const char *id, const char *fmt, ...)
{
    va_list ap;
    char *s;

    va_start(ap, fmt);
    s = rtt_askv(t, id, 10000, fmt, ap);
    va_end(ap);
    return s;
}

/* Run a command and check the answer starts with `prefix`; returns what follows. */
static char *expect(rtt *t, const char *id, const char *prefix, const char *fmt, ...)
{
    char c[1024], *s, *rest;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(c, sizeof c, fmt, ap);
    va_end(ap);
    s = cmd(t, id, "%s", c);
    if (strncmp(s, prefix, strlen(prefix)) != 0) {
        print_message("'%s' answered '%s', expected '%s...'\n", c, s, prefix);
        fail();
    }
    rest = strdup(s + strlen(prefix));
    free(s);
    return rest;
}

#define EXPECT(t, id, prefix, ...) free(expect(t, id, prefix, __VA_ARGS__))

/* A command of `len` bytes (it may hold a NUL); the answer, NUL-ended. */
static char *raw_cmd(rtt *t, const char *id, const char *c, size_t len)
{
    return rtt_ask_bytes(t, id, 30000, c, len);
}

static void test_runtime_iface(void **unused)
{
    rtt t;
    char id[TH_ACTOR_ID_SIZE];
    th_actor_exit ex;
    th_error err;

    (void)unused;
    rtt_start(&t, 2);
    spawn_probe(&t, probe_manifest(&t, "probe", NULL, 0), id);
    EXPECT(&t, id, "ok", "log hello from the probe");
    assert_true(rtt_log_has(&t, "hello from the probe"));
    EXPECT(&t, id, "ok ", "chain");
    /* first event is the spawn, the chain is linked, hashes are 32 bytes */
    char *c = cmd(&t, id, "chain");
    assert_non_null(strstr(c, "actor-spawned"));
    assert_non_null(strstr(c, "root hash32 linked"));
    free(c);
    EXPECT(&t, id, "ok", "shutdown bye");
    assert_int_equal(th_runtime_wait(t.rt, id, 5000, &ex, &err), 0);
    assert_int_equal(ex.reason, TH_EXIT_SHUTDOWN);
    assert_true(ex.has_data);
    assert_int_equal(ex.data_len, 3);
    assert_memory_equal(ex.data, "bye", 3);
    free(ex.data);
    free(ex.backtrace);
    rtt_stop(&t);
}

/* The ends of root actors kept for late waiters hold at most
 * TH_RT_EXITS_MAX_BYTES of data: ten ends of 2 MiB each forget the
 * oldest, never the newest. */
static void test_exits_bounded(void **unused)
{
    enum { N = 10, BIG = 2u << 20 };
    static const char pre[] = "shutdown ";
    char ids[N][TH_ACTOR_ID_SIZE];
    th_actor_exit ex;
    th_error err;
    char *c = malloc(sizeof pre - 1 + BIG);
    rtt t;
    int i, rc = 0;

    (void)unused;
    assert_non_null(c);
    memcpy(c, pre, sizeof pre - 1);
    memset(c + sizeof pre - 1, 'x', BIG);
    rtt_start(&t, 2);
    for (i = 0; i < N; i++) {
        spawn_probe(&t, probe_manifest(&t, "probe", NULL, 0), ids[i]);
        free(raw_cmd(&t, ids[i], c, sizeof pre - 1 + BIG));
        assert_int_equal(th_runtime_wait(t.rt, ids[i], 30000, &ex, &err), 0);
        assert_int_equal(ex.data_len, BIG);
        free(ex.data);
        free(ex.backtrace);
    }
    /* once the first has left the registry, only the ring could answer */
    for (int k = 0; k < 3000; k++) {
        rc = th_runtime_wait(t.rt, ids[0], 0, &ex, &err);
        if (rc != 0)
            break;
        free(ex.data);
        free(ex.backtrace);
        usleep(10000);
    }
    assert_int_equal(rc, TH_ENOENT);
    assert_int_equal(th_runtime_wait(t.rt, ids[N - 1], 30000, &ex, &err), 0);
    assert_int_equal(ex.reason, TH_EXIT_SHUTDOWN);
    assert_int_equal(ex.data_len, BIG);
    free(ex.data);
    free(ex.backtrace);
    free(c);
    rtt_stop(&t);
}

typedef struct bg_req {
    rtt *t;
    const char *id;
    const char *msg;
    int rc;
    char answer[256];
    char errmsg[TH_ERROR_MSG_MAX];
} bg_req;

static void *bg(void *arg)
{
    bg_req *r = arg;
    uint8_t *resp = NULL;
    size_t len = 0;
    th_error err;

    r->rc = th_runtime_request(r->t->rt, r->id, (const uint8_t *)r->msg, strlen(r->msg), 10000,
                               &resp, &len, &err);
    if (r->rc == 0)
        snprintf(r->answer, sizeof r->answer, "%.*s", (int)len, (const char *)resp);
    else
        snprintf(r->errmsg, sizeof r->errmsg, "%s", err.msg);
    free(resp);
    return NULL;
}

/* Wait until probe `id` lists an outstanding request. */
static void wait_outstanding(rtt *t, const char *id)
{
    int i;

    for (i = 0; i < 500; i++) {
        char *s = cmd(t, id, "outstanding");
        bool some = strcmp(s, "ok none") != 0;
        free(s);
        if (some)
            return;
        usleep(10000);
    }
    fail();
}

/* A deferred request whose requester stopped waiting (its timeout passed)
 * is no longer outstanding: it is not listed, an answer to it is refused,
 * and it does not count against the deferred requests' bound
 * (limits.mailbox_messages). */
static void test_abandoned_deferred(void **unused)
{
    rtt t;
    char id[TH_ACTOR_ID_SIZE];
    uint8_t *resp = NULL;
    size_t len = 0;
    th_error err;
    pthread_t th;
    bg_req r;
    int i;

    (void)unused;
    rtt_start(&t, 2);
    g_extra = "[limits]\nmailbox_messages = 2";
    spawn_probe(&t, probe_manifest(&t, "deferrer", NULL, 0), id);
    g_extra = NULL;
    for (i = 0; i < 3; i++)
        assert_int_equal(
            th_runtime_request(t.rt, id, (const uint8_t *)"defer", 5, 200, &resp, &len, &err),
            TH_ETIMEDOUT);
    /* the last one's id is in the probe's state */
    EXPECT(&t, id, "err the requester stopped waiting", "respond-last late");
    EXPECT(&t, id, "ok none", "outstanding");
    /* a live one is taken and answered: the dead ones took no room */
    r = (bg_req){&t, id, "defer", -1, "", ""};
    pthread_create(&th, NULL, bg, &r);
    wait_outstanding(&t, id);
    EXPECT(&t, id, "ok", "respond-last in time");
    pthread_join(th, NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.answer, "in time");
    rtt_stop(&t);
}

/* The time between a wasm-call and the host-call after it, the longest
 * such gap in a chain. */
typedef struct call_gap {
    uint64_t call_ts;
    bool after_call;
    uint64_t longest;
} call_gap;

static void on_call_gap(void *ud, const th_runtime_event *ev)
{
    call_gap *g = ud;

    if (g->after_call && strcmp(ev->type, "host-call") == 0 &&
        ev->timestamp_ms - g->call_ts > g->longest)
        g->longest = ev->timestamp_ms - g->call_ts;
    g->after_call = strcmp(ev->type, "wasm-call") == 0;
    g->call_ts = ev->timestamp_ms;
}

/* A call that waits in a host call is on the chain with the time it
 * began, not the time its wait ended: an actor's request answered 400 ms
 * later shows its wasm-call at least that long before the host-call. */
static void test_call_time(void **unused)
{
    rtt t;
    char p1[TH_ACTOR_ID_SIZE], p2[TH_ACTOR_ID_SIZE], msg[64];
    call_gap g = {0, false, 0};
    pthread_t th;
    th_error err;
    bg_req r;

    (void)unused;
    rtt_start(&t, 2);
    spawn_probe(&t, probe_manifest(&t, "asker", NULL, 0), p1);
    spawn_probe(&t, probe_manifest(&t, "answerer", NULL, 0), p2);
    snprintf(msg, sizeof msg, "request %s defer", p2);
    r = (bg_req){&t, p1, msg, -1, "", ""};
    pthread_create(&th, NULL, bg, &r);
    wait_outstanding(&t, p2);
    usleep(400000); /* the wait to be seen on the chain */
    EXPECT(&t, p2, "ok", "respond-last later");
    pthread_join(th, NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.answer, "ok later");
    assert_int_equal(th_runtime_flush(t.rt, p1, &err), 0);
    assert_int_equal(th_runtime_actor_events(t.rt, p1, on_call_gap, &g, &err), 0);
    if (g.longest < 390)
        fail_msg("the wasm-call is %llu ms before its host-call", (unsigned long long)g.longest);
    rtt_stop(&t);
}

static void test_message_server(void **unused)
{
    rtt t;
    char p1[TH_ACTOR_ID_SIZE], p2[TH_ACTOR_ID_SIZE], *chan, *s, *out, raw[128];
    pthread_t th;
    bg_req r;

    (void)unused;
    rtt_start(&t, 2);
    spawn_probe(&t, probe_manifest(&t, "probe", NULL, 0), p1);
    spawn_probe(&t, probe_manifest(&t, "probe", NULL, 0), p2);
    /* send */
    EXPECT(&t, p1, "ok", "send %s hi there", p2);
    assert_true(rtt_log_wait(&t, "got hi there", 5000));
    EXPECT(&t, p1, "err actor 00000000-0000-4000-8000-000000000000 not found",
           "send 00000000-0000-4000-8000-000000000000 x");
    /* request: p1 asks p2 to run "now" */
    EXPECT(&t, p1, "ok ok ", "request %s now", p2);
    EXPECT(&t, p1, "err an actor cannot send a request to itself", "request %s now", p1);
    EXPECT(&t, p1, "err actor nobody not found", "request nobody now");
    /* a refusal quoting a long id, cut by its buffer, is still UTF-8 */
    {
        char id[301];
        for (int i = 0; i < 300; i += 2)
            memcpy(id + i, "\xc3\xa9", 2);
        id[300] = 0;
        out = cmd(&t, p1, "send %s x", id);
        assert_int_equal(strncmp(out, "err actor \xc3\xa9", 12), 0);
        assert_true(base_utf8_valid((const uint8_t *)out, strlen(out)));
        free(out);
    }
    /* deferred answer */
    r = (bg_req){&t, p2, "defer", -1, "", ""};
    pthread_create(&th, NULL, bg, &r);
    wait_outstanding(&t, p2);
    /* a request id holding a NUL names no request: "ID\0x" is not ID */
    out = cmd(&t, p2, "outstanding");
    assert_int_equal(strlen(out), 3 + 36);
    snprintf(raw, sizeof raw, "respond %s", out + 3);
    memcpy(raw + 8 + 36, "\0x late", 7);
    free(out);
    out = raw_cmd(&t, p2, raw, 8 + 36 + 7);
    assert_string_equal(out, "err no such outstanding request");
    free(out);
    EXPECT(&t, p2, "ok", "respond-last the answer");
    pthread_join(th, NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.answer, "the answer");
    EXPECT(&t, p2, "err no such outstanding request", "respond-last again");
    EXPECT(&t, p2, "ok none", "outstanding");
    /* cancelled request */
    r = (bg_req){&t, p2, "defer", -1, "", ""};
    pthread_create(&th, NULL, bg, &r);
    wait_outstanding(&t, p2);
    EXPECT(&t, p2, "ok", "cancel-last");
    pthread_join(th, NULL);
    assert_int_not_equal(r.rc, 0);
    assert_non_null(strstr(r.errmsg, "request cancelled"));
    EXPECT(&t, p2, "err no such outstanding request", "cancel bogus");
    /* channels */
    chan = expect(&t, p1, "ok ", "open %s hello", p2);
    assert_int_equal(strlen(chan), 36);
    assert_true(rtt_log_wait(&t, "chan-msg welcome", 5000)); /* the accept message */
    EXPECT(&t, p1, "ok", "chsend %s ping", chan);
    assert_true(rtt_log_wait(&t, "chan-msg ping", 5000));
    EXPECT(&t, p2, "ok", "chsend %s pong", chan);
    assert_true(rtt_log_wait(&t, "chan-msg pong", 5000));
    EXPECT(&t, p1, "ok", "chclose %s", chan);
    assert_true(rtt_log_wait(&t, "chan-closed", 5000));
    EXPECT(&t, p2, "err no such channel", "chsend %s late", chan);
    EXPECT(&t, p1, "err no such channel", "chclose %s", chan);
    free(chan);
    /* the opener hears the refusal's message */
    out = cmd(&t, p1, "open %s refuse", p2);
    snprintf(raw, sizeof raw, "err channel rejected by %s: not now", p2);
    assert_string_equal(out, raw);
    free(out);
    /* the outsider of a channel cannot use it */
    chan = expect(&t, p1, "ok ", "open %s again", p2);
    s = strdup(p1);
    spawn_probe(&t, probe_manifest(&t, "probe", NULL, 0), p1);
    EXPECT(&t, p1, "err not a participant", "chsend %s intruder", chan);
    free(chan);
    /* a restart closes the channels of the actor restarted: its new
     * instance accepted none of them */
    chan = expect(&t, s, "ok ", "open %s once more", p2);
    EXPECT(&t, s, "ok", "chsend %s before", chan);
    {
        th_error err;
        int i;
        assert_int_equal(th_runtime_restart(t.rt, p2, &err), 0);
        for (i = 0; i < 500; i++) {
            out = cmd(&t, s, "chsend %s after", chan);
            bool gone = strcmp(out, "err no such channel") == 0;
            free(out);
            if (gone)
                break;
            usleep(10000);
        }
        assert_true(i < 500);
    }
    free(chan);
    free(s);
    rtt_stop(&t);
}

/* Copy `from` to `to` (whole file). */
static void copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    char buf[65536];
    size_t n;

    assert_non_null(in);
    assert_non_null(out);
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        assert_int_equal(fwrite(buf, 1, n, out), n);
    fclose(in);
    fclose(out);
}

/* A child manifest for the probe inside the probe's filesystem grant
 * (files/), with its component copied there: an actor's spawn reads files
 * only through its grant. */
static const char *child_manifest(rtt *t, char *out, size_t cap)
{
    char wasm[512], tmp[512];

    snprintf(wasm, sizeof wasm, "%s/files", t->home);
    mkdir(wasm, 0755);
    snprintf(wasm, sizeof wasm, "%s/files/probe.wasm", t->home);
    copy_file(rtt_module("probe"), wasm);
    g_component = "probe.wasm";
    snprintf(tmp, sizeof tmp, "%s", probe_manifest(t, "child", NULL, 0));
    g_component = NULL;
    snprintf(out, cap, "%s/files/child.toml", t->home);
    assert_int_equal(rename(tmp, out), 0);
    return out;
}

/* Actor `id`'s events are of these types, in order (one per line). */
static void expect_types(rtt *t, const char *id, const char *want)
{
    char *types = rtt_event_types(t, id);

    assert_string_equal(types, want);
    free(types);
}

static void test_supervisor_iface(void **unused)
{
    rtt t;
    char p[TH_ACTOR_ID_SIZE], *child, *c2, child_man[512], raw[600], link[600], *out;
    size_t n;

    (void)unused;
    rtt_start(&t, 2);
    child_manifest(&t, child_man, sizeof child_man);
    spawn_probe(&t, probe_manifest(&t, "probe", NULL, 0), p);
    child = expect(&t, p, "ok ", "spawn %s", child_man);
    assert_int_equal(strlen(child), 36);
    EXPECT(&t, p, "ok ", "children"); /* lists it */
    char *ch = cmd(&t, p, "children");
    assert_non_null(strstr(ch, child));
    free(ch);
    EXPECT(&t, p, "ok none", "child-state %s", child);
    EXPECT(&t, p, "ok 2 actor-spawned", "child-events %s", child); /* spawn + init */
    EXPECT(&t, p, "ok", "restart-child %s", child);
    EXPECT(&t, child, "ok", "log restarted child answers");
    EXPECT(&t, p, "ok", "stop-child %s", child);
    EXPECT(&t, p, "ok none", "children");
    EXPECT(&t, p, "err ", "stop-child %s", child);
    EXPECT(&t, p, "err ", "restart-child %s", child);
    EXPECT(&t, p, "err ", "child-state %s", child);
    EXPECT(&t, p, "err ", "child-events nobody");
    EXPECT(&t, p, "err ", "spawn /nonexistent/manifest.toml");
    /* a path with '=' in it ending in .toml is a path, not TOML text */
    {
        char *slash;

        snprintf(link, sizeof link, "%s", child_man);
        assert_non_null(slash = strrchr(link, '/'));
        snprintf(slash + 1, sizeof link - (size_t)(slash + 1 - link), "a=b.toml");
        assert_int_equal(symlink(child_man, link), 0);
        c2 = expect(&t, p, "ok ", "spawn %s", link);
        EXPECT(&t, p, "ok", "stop-child %s", c2);
        free(c2);
        assert_int_equal(unlink(link), 0);
    }
    /* a refusal naming a real path that is not UTF-8 (here through a
     * symlink: the actor's own path is a WIT string) is still a WIT
     * string: the bytes that are not UTF-8 become '?' */
    snprintf(raw, sizeof raw, "%s/files/d\xff", t.home);
    assert_int_equal(mkdir(raw, 0755), 0);
    snprintf(raw, sizeof raw, "%s/files/d\xff/m.toml", t.home);
    {
        FILE *f = fopen(raw, "w");
        assert_non_null(f);
        fputs("name = \"m\"\ncomponent = \"missing.wasm\"\n", f);
        fclose(f);
    }
    snprintf(link, sizeof link, "%s/files/link.toml", t.home);
    assert_int_equal(symlink(raw, link), 0);
    out = cmd(&t, p, "spawn %s", link);
    assert_int_equal(strncmp(out, "err ", 4), 0);
    assert_true(base_utf8_valid((const uint8_t *)out, strlen(out)));
    assert_non_null(strstr(out, "'files/d?/missing.wasm'"));
    free(out);
    /* a manifest path holding a NUL is refused, not cut at the NUL */
    snprintf(raw, sizeof raw, "spawn %s", child_man);
    n = strlen(raw);
    memcpy(raw + n, "\0x", 2);
    out = raw_cmd(&t, p, raw, n + 2);
    assert_string_equal(out, "err the manifest holds a NUL character");
    free(out);
    c2 = expect(&t, p, "ok ", "resume %s saved-state", child_man);
    EXPECT(&t, p, "ok saved-state", "child-state %s", c2);
    /* resume starts the child with that state and does not call its init
     * (spawn does): as the original's resume; the start says so, and so
     * does a restart, which starts it the same way */
    expect_types(&t, c2, "actor-spawned\n");
    EXPECT(&t, c2, "ok", "log resumed child answers");
    EXPECT(&t, p, "ok", "restart-child %s", c2);
    EXPECT(&t, c2, "ok", "log restarted child answers");
    EXPECT(&t, p, "ok saved-state", "child-state %s", c2);
    expect_types(&t, c2,
                 "actor-spawned\nwasm-call\nhost-call\nwasm-result\n"
                 "actor-restarted\nwasm-call\nhost-call\nwasm-result\n");
    rtt_replay_identical(&t, c2);
    /* a parent cannot touch another parent's child */
    EXPECT(&t, c2, "err ", "stop-child %s", p);
    free(child);
    free(c2);
    rtt_stop(&t);
}

/* A resumed durable child comes back from a restart of the runtime (as a
 * daemon's) with its state and still without init, and a restart of it
 * after that starts it the same way: its chain says "resumed" wherever it
 * names its code, which is where the restore looks. */
static void test_resume_durable(void **unused)
{
    rtt t;
    char p[TH_ACTOR_ID_SIZE], *c, child_man[512];

    (void)unused;
    rtt_start_durable(&t, 2);
    child_manifest(&t, child_man, sizeof child_man);
    spawn_probe(&t, probe_manifest(&t, "probe", NULL, 0), p);
    c = expect(&t, p, "ok ", "resume %s kept-state", child_man);
    rtt_restart_durable(&t, 2);
    EXPECT(&t, p, "ok kept-state", "child-state %s", c);
    expect_types(&t, c, "actor-spawned\nactor-stopped\nactor-restored\n");
    EXPECT(&t, p, "ok", "restart-child %s", c);
    EXPECT(&t, c, "ok", "log restarted child answers");
    EXPECT(&t, p, "ok kept-state", "child-state %s", c);
    expect_types(&t, c,
                 "actor-spawned\nactor-stopped\nactor-restored\nactor-restarted\n"
                 "wasm-call\nhost-call\nwasm-result\n");
    rtt_replay_identical(&t, c);
    free(c);
    rtt_stop(&t);
}

static void test_store_iface(void **unused)
{
    rtt t;
    char p[TH_ACTOR_ID_SIZE], *s, raw[128];

    (void)unused;
    rtt_start(&t, 2);
    spawn_probe(&t, probe_manifest(&t, "probe", NULL, 0), p);
    s = cmd(&t, p, "store");
    /* sha256("hello") */
    assert_non_null(
        strstr(s, "store ok 2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"));
    assert_non_null(strstr(s, "get ok hello"));
    assert_non_null(strstr(s, "exists ok true"));
    assert_non_null(strstr(s, "label ok\n"));
    assert_non_null(strstr(s, "get-by-label ok 2cf24dba"));
    assert_non_null(strstr(
        s, "store-at-label ok 486ea46224d1bb4fb680f34f7c9ad96a8f24ec88be73ea8e5a6c65260e9cb8a7"));
    assert_non_null(strstr(s, "replace-content-at-label ok "));
    assert_non_null(strstr(s, "replace-at-label ok\n"));
    assert_non_null(strstr(s, "list-labels ok greeting other"));
    assert_non_null(strstr(s, "list-all-content ok 3"));
    assert_non_null(strstr(s, "calculate-total-size ok 16")); /* 5 + 5 + 6 */
    assert_non_null(strstr(s, "remove-from-label-wrong err "));
    assert_non_null(strstr(s, "remove-from-label ok\n"));
    assert_non_null(strstr(s, "remove-label ok\n"));
    assert_non_null(strstr(s, "remove-label-again err "));
    assert_non_null(strstr(s, "get-missing err "));
    assert_non_null(strstr(s, "store-bad-id err "));
    free(s);
    {
        /* labels set from outside: one that is not UTF-8 is no WIT
         * string and is not listed; a label holding a NUL names nothing
         * ("kept\0x" is not kept) */
        th_store_config sc = {0};
        th_store *st = NULL;
        th_content_ref ref;
        th_error err;
        char sid[TH_STORE_ID_LEN + 1];

        sc.home = t.home;
        assert_int_equal(th_store_open(&sc, &st, &err), 0);
        assert_int_equal(th_store_new(st, sid, &err), 0);
        assert_int_equal(th_store_store_at_label(st, sid, "kept", "k", 1, &ref, &err), 0);
        assert_int_equal(th_store_store_at_label(st, sid, "caf\xe9", "c", 1, &ref, &err), 0);
        th_store_close(st);
        s = cmd(&t, p, "slabels %s", sid);
        assert_string_equal(s, "ok kept");
        free(s);
        snprintf(raw, sizeof raw, "srmlabel %s kept", sid);
        memcpy(raw + strlen(raw), "\0x", 2);
        s = raw_cmd(&t, p, raw, 9 + 36 + 5 + 2);
        assert_string_equal(s, "err a store id, label or content hash cannot hold a NUL character");
        free(s);
        s = cmd(&t, p, "slabels %s", sid);
        assert_string_equal(s, "ok kept");
        free(s);
    }
    rtt_stop(&t);
}

/* Whether `s` (n bytes) holds `needle`. */
static bool holds(const void *s, size_t n, const char *needle)
{
    return memmem(s, n, needle, strlen(needle)) != NULL;
}

/* A store call that fails in the database: the actor's err (and its chain,
 * which records it) says what failed without the host's paths (the
 * database file under THEATER_HOME); the runtime's log has the whole
 * message.  The store's label table is renamed away under it, so reading
 * (list-labels) and writing (remove-label) labels fail in SQLite. */
static void test_store_error_hides_host_path(void **unused)
{
    th_store_config sc = {0};
    th_chain_query q = {0};
    th_chain_events evs = {0};
    th_store *st = NULL;
    th_content_ref ref;
    th_error err;
    rtt t;
    char p[TH_ACTOR_ID_SIZE], sid[TH_STORE_ID_LEN + 1], path[600], *s[2];
    size_t i, seen = 0;
    sqlite3 *db;

    (void)unused;
    rtt_start(&t, 1);
    spawn_probe(&t, probe_manifest(&t, "probe", NULL, 0), p);
    sc.home = t.home;
    assert_int_equal(th_store_open(&sc, &st, &err), 0);
    assert_int_equal(th_store_new(st, sid, &err), 0);
    assert_int_equal(th_store_store_at_label(st, sid, "kept", "k", 1, &ref, &err), 0);
    th_store_close(st);
    snprintf(path, sizeof path, "%s/theater.db", t.home);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 30000);
    assert_int_equal(
        sqlite3_exec(db, "ALTER TABLE store_label RENAME TO store_label_away", NULL, NULL, NULL),
        SQLITE_OK);
    s[0] = cmd(&t, p, "slabels %s", sid);
    s[1] = cmd(&t, p, "srmlabel %s kept", sid);
    assert_int_equal(
        sqlite3_exec(db, "ALTER TABLE store_label_away RENAME TO store_label", NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    for (i = 0; i < 2; i++) {
        print_message("the actor got: %s\n", s[i]);
        assert_true(strncmp(s[i], "err ", 4) == 0);
        assert_non_null(strstr(s[i], i == 0 ? "list-labels" : "remove-label"));
        assert_null(strstr(s[i], t.home));
        assert_null(strstr(s[i], "theater.db"));
        assert_null(strchr(s[i], '/'));
        free(s[i]);
    }
    /* the operator's log has it all */
    assert_true(rtt_log_has(&t, path));
    /* what the chain recorded of those calls: no path either */
    q.actor = p;
    assert_int_equal(th_runtime_flush(t.rt, p, &err), 0);
    assert_int_equal(th_chain_read(th_runtime_chain(t.rt), &q, &evs, &err), 0);
    for (i = 0; i < evs.count; i++) {
        const th_chain_event *e = &evs.items[i];
        if (!holds(e->data, e->data_len, "storage"))
            continue;
        seen++;
        assert_false(holds(e->data, e->data_len, t.home));
        assert_false(holds(e->data, e->data_len, "theater.db"));
    }
    th_chain_events_free(&evs);
    assert_true(seen >= 2);
    /* the store works again once its table is back */
    s[0] = cmd(&t, p, "slabels %s", sid);
    assert_string_equal(s[0], "ok kept");
    free(s[0]);
    rtt_stop(&t);
}

/* `s` with every `from` replaced by `to` (same length); malloc'd. */
static char *replaced(const char *s, const char *from, const char *to)
{
    char *out = strdup(s), *at = out;

    assert_non_null(out);
    assert_int_equal(strlen(from), strlen(to));
    while ((at = strstr(at, from)) != NULL) {
        memcpy(at, to, strlen(to));
        at += strlen(to);
    }
    return out;
}

/* The runtime's own content store (components, large event data) is no
 * actor's: every store call naming it, and a spawn's init_state from it,
 * answer exactly as for a store that does not exist, and nothing is read,
 * written or labelled there (the store holds the probe's own component,
 * and a label the operator set, so there is something to find). */
static void test_store_reserved(void **unused)
{
    static const char unknown[] = "11111111-1111-4111-8111-111111111111";
    rtt t;
    char p[TH_ACTOR_ID_SIZE], hash[TH_STORE_REF_HEX_LEN + 1], man[512], *own, *none, *want;
    th_store_config sc = {0};
    th_store *st = NULL;
    th_store_list l = {NULL, 0};
    th_content_ref ref;
    bool found = false;
    th_error err;
    uint64_t size = 0, size_after = 0;

    (void)unused;
    rtt_start(&t, 2);
    /* an actor with init only, for the spawns below */
    snprintf(man, sizeof man, "%s/files", t.home);
    mkdir(man, 0755);
    snprintf(man, sizeof man, "%s/files/plain.wasm", t.home);
    copy_file(rtt_module("plain"), man);
    spawn_probe(&t, probe_manifest(&t, "probe", NULL, 0), p);
    sc.home = t.home;
    assert_int_equal(th_store_open(&sc, &st, &err), 0);
    assert_int_equal(th_store_list_content(st, TH_CHAIN_CONTENT_STORE, &l, &err), 0);
    assert_true(l.count >= 1); /* the probe's component */
    snprintf(hash, sizeof hash, "%s", l.items[0]);
    th_store_list_free(&l);
    assert_int_equal(th_store_label(st, TH_CHAIN_CONTENT_STORE, "l", hash, &err), 0);
    assert_int_equal(th_store_total_size(st, TH_CHAIN_CONTENT_STORE, &size, &err), 0);

    own = cmd(&t, p, "store-on %s %s", TH_CHAIN_CONTENT_STORE, hash);
    none = cmd(&t, p, "store-on %s %s", unknown, hash);
    want = replaced(none, unknown, TH_CHAIN_CONTENT_STORE);
    assert_string_equal(own, want);
    assert_non_null(strstr(own, "store err "));
    assert_non_null(strstr(own, "get err "));
    assert_non_null(strstr(own, "list-all-content err "));
    assert_null(strstr(own, " ok"));
    free(own);
    free(none);
    free(want);
    /* nothing was added, moved or removed there */
    assert_int_equal(th_store_total_size(st, TH_CHAIN_CONTENT_STORE, &size_after, &err), 0);
    assert_int_equal(size_after, size);
    assert_int_equal(th_store_get_by_label(st, TH_CHAIN_CONTENT_STORE, "l", &ref, &found, &err), 0);
    assert_true(found);
    assert_string_equal(ref.hash, hash);

    /* a child's init_state from it: refused as from an unknown store */
    own = cmd(&t, p,
              "spawn name = \"k\"\ncomponent = \"files/plain.wasm\"\n"
              "init_state = \"store:%s/l\"\n[[handler]]\ntype = \"runtime\"\n",
              TH_CHAIN_CONTENT_STORE);
    none = cmd(&t, p,
               "spawn name = \"k\"\ncomponent = \"files/plain.wasm\"\n"
               "init_state = \"store:%s/l\"\n[[handler]]\ntype = \"runtime\"\n",
               unknown);
    want = replaced(none, unknown, TH_CHAIN_CONTENT_STORE);
    assert_string_equal(own, want);
    assert_int_equal(strncmp(own, "err ", 4), 0);
    assert_non_null(strstr(own, "init_state"));
    free(own);
    free(none);
    free(want);
    /* the operator still may */
    {
        th_spawn_opts o = {0};
        char text[600], kid[TH_ACTOR_ID_SIZE];

        snprintf(text, sizeof text,
                 "name = \"op\"\ncomponent = \"%s\"\ninit_state = \"store:%s/l\"\n"
                 "[[handler]]\ntype = \"runtime\"\n",
                 rtt_module("plain"), TH_CHAIN_CONTENT_STORE);
        o.manifest_text = text;
        assert_int_equal(th_runtime_spawn(t.rt, &o, kid, &err), 0);
    }
    th_store_close(st);
    rtt_stop(&t);
}

/* A store command run on another thread (the request waits). */
typedef struct store_call {
    rtt *t;
    const char *id;
    char *answer;     /* read after the join */
    atomic_bool done; /* the answer has come */
} store_call;

static void *store_call_main(void *arg)
{
    store_call *c = arg;

    c->answer = cmd(c->t, c->id, "store");
    atomic_store(&c->done, true);
    return NULL;
}

static uint64_t calls_of(rtt *t, const char *id)
{
    th_actor_info info;
    th_error err;

    assert_int_equal(th_runtime_actor_info(t->rt, id, &info, &err), 0);
    return info.calls;
}

/* A store write waits for the database on the persistence side, not on
 * the actor's worker: with one worker and the database's write lock held by
 * another connection, a second actor still answers while the first one's
 * write waits, and the write completes once the lock is given back. */
static void test_store_write_off_worker(void **unused)
{
    rtt t;
    char w[TH_ACTOR_ID_SIZE], o[TH_ACTOR_ID_SIZE], path[600], *s;
    store_call c;
    pthread_t th;
    sqlite3 *db;
    uint64_t before;
    uint8_t *resp = NULL;
    size_t len;
    th_error err;
    int i, rc;

    (void)unused;
    rtt_start(&t, 1);
    spawn_probe(&t, probe_manifest(&t, "writer", NULL, 0), w);
    spawn_probe(&t, probe_manifest(&t, "other", NULL, 0), o);
    snprintf(path, sizeof path, "%s/theater.db", t.home);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 30000); /* the chain's writer commits too */
    assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    before = calls_of(&t, w);
    c.t = &t;
    c.id = w;
    c.answer = NULL;
    atomic_init(&c.done, false);
    assert_int_equal(pthread_create(&th, NULL, store_call_main, &c), 0);
    /* the writer's handle-request has started (and reached its first write) */
    for (i = 0; i < 1000 && calls_of(&t, w) == before; i++)
        usleep(10000);
    assert_true(calls_of(&t, w) > before);
    /* the only worker is free: the other actor answers */
    rc = th_runtime_request(t.rt, o, (const uint8_t *)"now", 3, 5000, &resp, &len, &err);
    if (rc != 0)
        print_message("the other actor did not answer: %s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_true(len > 3 && memcmp(resp, "ok ", 3) == 0);
    free(resp);
    assert_false(atomic_load(&c.done)); /* the write still waits for the lock */
    assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    pthread_join(th, NULL);
    s = c.answer;
    assert_non_null(strstr(s, "new ok"));
    assert_non_null(strstr(s, "store ok 2cf24dba"));
    assert_non_null(strstr(s, "label ok\n"));
    free(s);
    rtt_stop(&t);
}

static void test_timing_iface(void **unused)
{
    rtt t;
    char p[TH_ACTOR_ID_SIZE], *s;
    struct timespec ts;
    unsigned long long now, v;

    (void)unused;
    rtt_start(&t, 1);
    spawn_probe(&t, probe_manifest(&t, "probe", NULL, 0), p);
    s = expect(&t, p, "ok ", "now");
    clock_gettime(CLOCK_REALTIME, &ts);
    now = (unsigned long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    v = strtoull(s, NULL, 10);
    assert_true(v <= now && v + 5000 > now);
    free(s);
    s = expect(&t, p, "ok ", "sleep 50");
    assert_true(strtoull(s, NULL, 10) >= 49);
    free(s);
    s = expect(&t, p, "ok ", "deadline 30");
    assert_true(strtoull(s, NULL, 10) >= 29);
    free(s);
    s = expect(&t, p, "ok ", "sleep 0"); /* elapsed ms: no waiting (slow under TSan) */
    assert_true(strtoull(s, NULL, 10) < 50);
    free(s);
    rtt_stop(&t);
}

static void test_random_iface(void **unused)
{
    rtt t;
    char a[TH_ACTOR_ID_SIZE], b[TH_ACTOR_ID_SIZE], c[TH_ACTOR_ID_SIZE], *x, *y, *z;
    unsigned long long v;
    int i;

    (void)unused;
    rtt_start(&t, 2);
    spawn_probe(&t, probe_manifest(&t, "seeded", NULL, 42), a);
    spawn_probe(&t, probe_manifest(&t, "seeded", NULL, 42), b);
    spawn_probe(&t, probe_manifest(&t, "unseeded", NULL, 0), c);
    x = expect(&t, a, "ok ", "rbytes 16");
    y = expect(&t, b, "ok ", "rbytes 16");
    z = expect(&t, c, "ok ", "rbytes 16");
    assert_int_equal(strlen(x), 32);
    assert_string_equal(x, y); /* same seed, same sequence */
    assert_string_not_equal(x, z);
    free(x), free(y), free(z);
    for (i = 0; i < 20; i++) {
        x = expect(&t, a, "ok ", "rrange 5 10");
        v = strtoull(x, NULL, 10);
        assert_true(v >= 5 && v < 10);
        free(x);
    }
    EXPECT(&t, a, "err min must be below max", "rrange 10 5");
    /* as documented (docs/manifest.md): [min, max), so max never comes
     * and min == max is an error */
    for (i = 0; i < 20; i++) {
        x = cmd(&t, a, "rrange 7 8");
        assert_string_equal(x, "ok 7");
        free(x);
    }
    x = cmd(&t, a, "rrange 18446744073709551614 18446744073709551615");
    assert_string_equal(x, "ok 18446744073709551614");
    free(x);
    EXPECT(&t, a, "err min must be below max", "rrange 5 5");
    EXPECT(&t, a, "ok in-range", "rfloat");
    x = expect(&t, a, "ok ", "uuid");
    assert_int_equal(strlen(x), 36);
    assert_int_equal(x[14], '4');
    free(x);
    EXPECT(&t, a, "err length above 1 MiB", "rbytes 2000000");
    rtt_stop(&t);
}

static void test_environment_iface(void **unused)
{
    rtt t;
    char p[TH_ACTOR_ID_SIZE], *s;

    (void)unused;
    setenv("RTT_VISIBLE", "yes", 1);
    setenv("RTT_HIDDEN", "secret", 1);
    unsetenv("RTT_UNSET");
    /* allowed, but its value is no WIT string: not there for the actor */
    setenv("RTT_NOT_UTF8", "caf\xe9", 1);
    rtt_start(&t, 1);
    spawn_probe(&t, probe_manifest(&t, "probe", NULL, 0), p);
    EXPECT(&t, p, "ok yes", "env RTT_VISIBLE");
    EXPECT(&t, p, "ok none", "env RTT_HIDDEN");
    EXPECT(&t, p, "ok none", "env RTT_UNSET");
    EXPECT(&t, p, "ok RTT_VISIBLE=yes", "env-list");
    EXPECT(&t, p, "ok true", "env-exists RTT_VISIBLE");
    EXPECT(&t, p, "ok false", "env-exists RTT_HIDDEN");
    EXPECT(&t, p, "ok none", "env RTT_NOT_UTF8");
    EXPECT(&t, p, "ok false", "env-exists RTT_NOT_UTF8");
    s = cmd(&t, p, "env-list");
    assert_string_equal(s, "ok RTT_VISIBLE=yes");
    free(s);
    /* a name holding a NUL names no variable */
    s = raw_cmd(&t, p, "env RTT_VISIBLE\0x", 17);
    assert_string_equal(s, "ok none");
    free(s);
    rtt_stop(&t);
}

static void test_filesystem_iface(void **unused)
{
    rtt t;
    char p[TH_ACTOR_ID_SIZE], link[600], secret[600], *s;
    FILE *f;

    (void)unused;
    rtt_start(&t, 1);
    spawn_probe(&t, probe_manifest(&t, "probe", NULL, 0), p);
    EXPECT(&t, p, "ok none", "fs list .");
    EXPECT(&t, p, "ok", "fs write note.txt some words");
    EXPECT(&t, p, "ok some words", "fs read note.txt");
    EXPECT(&t, p, "ok true", "fs exists note.txt");
    EXPECT(&t, p, "ok", "fs mkdir sub");
    EXPECT(&t, p, "ok", "fs write sub/inner.txt x");
    EXPECT(&t, p, "ok note.txt sub", "fs list .");
    EXPECT(&t, p, "ok", "fs rm sub/inner.txt");
    EXPECT(&t, p, "ok", "fs rmdir sub");
    EXPECT(&t, p, "ok false", "fs exists sub");
    EXPECT(&t, p, "err ", "fs read missing.txt");
    /* confinement */
    snprintf(secret, sizeof secret, "%s/secret.txt", t.home);
    f = fopen(secret, "w");
    fputs("top secret", f);
    fclose(f);
    EXPECT(&t, p, "err '..' is not allowed", "fs read ../secret.txt");
    EXPECT(&t, p, "err absolute paths are not allowed", "fs read %s", secret);
    snprintf(link, sizeof link, "%s/files/escape", t.home);
    assert_int_equal(symlink(secret, link), 0);
    EXPECT(&t, p, "err path leaves the allowed directory", "fs read escape");
    snprintf(link, sizeof link, "%s/files/up", t.home);
    assert_int_equal(symlink(t.home, link), 0);
    EXPECT(&t, p, "err path leaves the allowed directory", "fs write up/new.txt x");
    EXPECT(&t, p, "err path leaves the allowed directory", "fs list up");
    /* a FIFO inside the granted directory is refused at once (opening it
     * used to block the worker thread forever) */
    snprintf(link, sizeof link, "%s/files/pipe", t.home);
    assert_int_equal(mkfifo(link, 0600), 0);
    EXPECT(&t, p, "err not a regular file", "fs read pipe");
    EXPECT(&t, p, "err not a regular file", "fs write pipe x");
    /* delete-dir removes a directory with everything in it, as the
     * original's did; a symlink inside is removed, never followed */
    EXPECT(&t, p, "ok", "fs mkdir tree");
    EXPECT(&t, p, "ok", "fs mkdir tree/a");
    EXPECT(&t, p, "ok", "fs mkdir tree/a/b");
    EXPECT(&t, p, "ok", "fs write tree/a/b/deep.txt x");
    EXPECT(&t, p, "ok", "fs write tree/top.txt y");
    snprintf(link, sizeof link, "%s/files/tree/a/home", t.home);
    assert_int_equal(symlink(t.home, link), 0);
    snprintf(link, sizeof link, "%s/files/tree/secret", t.home);
    assert_int_equal(symlink(secret, link), 0);
    EXPECT(&t, p, "ok", "fs rmdir tree");
    EXPECT(&t, p, "ok false", "fs exists tree");
    assert_int_equal(access(secret, F_OK), 0);
    EXPECT(&t, p, "ok true", "fs exists note.txt");
    /* a symlink to a directory is not a directory; the granted directory
     * itself cannot go */
    EXPECT(&t, p, "ok", "fs mkdir real");
    EXPECT(&t, p, "ok", "fs write real/kept.txt z");
    snprintf(link, sizeof link, "%s/files/alias", t.home);
    assert_int_equal(symlink("real", link), 0);
    EXPECT(&t, p, "err Not a directory", "fs rmdir alias");
    EXPECT(&t, p, "ok z", "fs read real/kept.txt");
    EXPECT(&t, p, "err the handler's directory itself cannot be deleted", "fs rmdir .");
    EXPECT(&t, p, "err No such file or directory", "fs rmdir nothing");
    /* a file name that is not UTF-8 cannot be a WIT string: not listed */
    EXPECT(&t, p, "ok", "fs mkdir names");
    EXPECT(&t, p, "ok", "fs write names/plain.txt p");
    snprintf(link, sizeof link, "%s/files/names/caf\xe9.txt", t.home);
    f = fopen(link, "w");
    assert_non_null(f);
    fclose(f);
    EXPECT(&t, p, "ok plain.txt", "fs list names");
    /* a path holding a NUL is refused: "plain.txt\0x" is not plain.txt */
    s = raw_cmd(&t, p, "fs rm names/plain.txt\0x", 23);
    assert_string_equal(s, "err a path cannot hold a NUL character");
    free(s);
    EXPECT(&t, p, "ok p", "fs read names/plain.txt");
    rtt_stop(&t);
}

static double mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* A call timeout of `ms` also ends a call that waits (here on a request
 * nobody answers); the waiting actor fails, not before its timeout, and the
 * other one is unharmed.  Before that, `ms`-bounded requests that are
 * answered do not time out (their timers are cancelled). */
static void timeout_while_waiting(unsigned ms)
{
    rtt t;
    char a[TH_ACTOR_ID_SIZE], b[TH_ACTOR_ID_SIZE], msg[100], extra[64], want[64];
    th_actor_exit ex;
    th_error err;
    bg_req r;
    pthread_t th;
    double t0, took;
    int i;

    rtt_start(&t, 2);
    spawn_probe(&t, probe_manifest(&t, "patient", NULL, 0), b);
    snprintf(extra, sizeof extra, "[limits]\ncall_timeout_ms = %u", ms);
    g_extra = extra;
    spawn_probe(&t, probe_manifest(&t, "impatient", NULL, 0), a);
    g_extra = NULL;
    for (i = 0; i < 20; i++)
        EXPECT(&t, a, "ok ok ", "request %s now", b);
    snprintf(msg, sizeof msg, "request %s defer", b);
    r = (bg_req){&t, a, msg, -1, "", ""};
    t0 = mono_ms();
    pthread_create(&th, NULL, bg, &r);
    assert_int_equal(th_runtime_wait(t.rt, a, ms + 5000, &ex, &err), 0);
    free(ex.backtrace); /* (th_actor_exit: the caller's) */
    took = mono_ms() - t0;
    pthread_join(th, NULL);
    assert_int_equal(ex.reason, TH_EXIT_FAILED);
    snprintf(want, sizeof want, "call timeout of %u ms exceeded", ms);
    assert_non_null(strstr(ex.message, want));
    assert_non_null(strstr(ex.message, "while waiting in request"));
    assert_true(took >= ms - 1);
    assert_int_not_equal(r.rc, 0); /* the outside request to `a` got an error */
    EXPECT(&t, b, "ok ", "now");
    /* `a` no longer waits for the request it left with `b` */
    EXPECT(&t, b, "err the requester stopped waiting", "respond-last late");
    EXPECT(&t, b, "ok none", "outstanding");
    rtt_stop(&t);
}

static void test_timeout_while_waiting(void **unused)
{
    (void)unused;
    timeout_while_waiting(200);
}

/* A timeout longer than one turn of the timer wheel (1024 ms) waits for
 * its due time, not for its slot's first turn. */
static void test_timeout_beyond_wheel_turn(void **unused)
{
    (void)unused;
    timeout_while_waiting(1500);
}

/* Events heard by a subscriber, re-hashed: each after the first must be
 * the hash the runtime reported, linked to the previous one. */
typedef struct heard {
    pthread_mutex_t lock;
    uint8_t last[32];
    size_t count, bad;
} heard;

static void on_event(void *ud, const th_runtime_event *ev)
{
    heard *h = ud;
    uint8_t want[32];
    th_error err;

    pthread_mutex_lock(&h->lock);
    if (ev->hash == NULL)
        h->bad++;
    else if (h->count == 0) /* its parent was not heard */
        memcpy(h->last, ev->hash, 32);
    else if (th_chain_event_hash(h->last, ev->timestamp_ms, ev->type, ev->data, ev->data_len, NULL,
                                 want, &err) != 0 ||
             memcmp(want, ev->hash, 32) != 0)
        h->bad++;
    else
        memcpy(h->last, ev->hash, 32);
    h->count++;
    pthread_mutex_unlock(&h->lock);
}

/* save_chain = false: the chain is kept in memory (get-chain, subscribers,
 * same hashes) and nothing about the actor reaches THEATER_HOME, while an
 * actor with the default keeps its chain there. */
static void test_save_chain_false(void **unused)
{
    rtt t;
    char mem_id[TH_ACTOR_ID_SIZE], disk_id[TH_ACTOR_ID_SIZE];
    th_chain_config cc = {0};
    th_chain_head head;
    th_chain *c;
    th_error err;
    heard h = {PTHREAD_MUTEX_INITIALIZER, {0}, 0, 0};
    uint64_t sub;
    char *s;

    (void)unused;
    rtt_start(&t, 2);
    g_extra = "save_chain = false";
    spawn_probe(&t, probe_manifest(&t, "memory", NULL, 0), mem_id);
    g_extra = NULL;
    spawn_probe(&t, probe_manifest(&t, "disk", NULL, 0), disk_id);
    s = cmd(&t, mem_id, "chain");
    assert_non_null(strstr(s, "actor-spawned"));
    assert_non_null(strstr(s, "root hash32 linked"));
    free(s);
    assert_int_equal(th_runtime_subscribe(t.rt, mem_id, on_event, &h, &sub, &err), 0);
    EXPECT(&t, mem_id, "ok", "log one");
    EXPECT(&t, mem_id, "ok", "log two");
    s = cmd(&t, mem_id, "chain");
    assert_non_null(strstr(s, "root hash32 linked"));
    free(s);
    EXPECT(&t, disk_id, "ok", "log three");
    assert_int_equal(th_runtime_flush(t.rt, mem_id, &err), 0);
    assert_int_equal(th_runtime_flush(t.rt, disk_id, &err), 0);
    assert_int_equal(th_runtime_unsubscribe(t.rt, sub), 0);
    pthread_mutex_lock(&h.lock);
    assert_true(h.count >= 4); /* results and host calls of both logs */
    assert_int_equal(h.bad, 0);
    pthread_mutex_unlock(&h.lock);

    cc.home = t.home;
    cc.read_only = 1;
    assert_int_equal(th_chain_open(&cc, &c, &err), 0);
    assert_int_equal(th_chain_head_get(c, mem_id, &head, &err), TH_ENOENT);
    assert_int_equal(th_chain_head_get(c, disk_id, &head, &err), 0);
    assert_true(head.count >= 3);
    th_chain_close(c);
    rtt_stop(&t);
}

/* An event whose data is over the chain's inline limit is held by content
 * reference: get-chain gives it with its description "content-ref" (ABI.md's
 * chain-event.description), as it is on the chain. */
static void test_chain_description(void **unused)
{
    rtt t;
    char id[TH_ACTOR_ID_SIZE];

    (void)unused;
    rtt_start(&t, 1);
    g_extra = "[limits]\nmemory_bytes = 268435456";
    spawn_probe(&t, probe_manifest(&t, "big", NULL, 0), id);
    g_extra = NULL;
    EXPECT(&t, id, "ok 0 none", "described");
    /* the state's hex in the event's JSON: 68,000,000 bytes, over 64 MiB */
    EXPECT(&t, id, "ok", "bigstate 34000000");
    EXPECT(&t, id, "ok 1 content-ref", "described");
    rtt_stop(&t);
}

static void test_capabilities(void **unused)
{
    rtt t;
    char id[TH_ACTOR_ID_SIZE];
    th_spawn_opts o = {0};
    th_error err;

    (void)unused;
    rtt_start(&t, 1);
    o.manifest_path = probe_manifest(&t, "nostore", "store", 0);
    assert_int_equal(th_runtime_spawn(t.rt, &o, id, &err), TH_EPERM);
    assert_non_null(strstr(err.msg, "\"theater:simple/store\""));
    assert_non_null(strstr(err.msg, "\"store\" handler"));
    o.manifest_path = probe_manifest(&t, "nofs", "filesystem", 0);
    assert_int_equal(th_runtime_spawn(t.rt, &o, id, &err), TH_EPERM);
    assert_non_null(strstr(err.msg, "\"filesystem\" handler"));
    rtt_stop(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_runtime_iface),
        cmocka_unit_test(test_exits_bounded),
        cmocka_unit_test(test_message_server),
        cmocka_unit_test(test_supervisor_iface),
        cmocka_unit_test(test_resume_durable),
        cmocka_unit_test(test_store_iface),
        cmocka_unit_test(test_store_write_off_worker),
        cmocka_unit_test(test_store_error_hides_host_path),
        cmocka_unit_test(test_store_reserved),
        cmocka_unit_test(test_timing_iface),
        cmocka_unit_test(test_random_iface),
        cmocka_unit_test(test_environment_iface),
        cmocka_unit_test(test_filesystem_iface),
        cmocka_unit_test(test_timeout_while_waiting),
        cmocka_unit_test(test_timeout_beyond_wheel_turn),
        cmocka_unit_test(test_capabilities),
        cmocka_unit_test(test_save_chain_false),
        cmocka_unit_test(test_abandoned_deferred),
        cmocka_unit_test(test_call_time),
        cmocka_unit_test(test_chain_description),
    };
    (void)g_man;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
