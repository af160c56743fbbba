/*
 * test_diskfull.c - fail-stop recording on a full disk.  THEATER_HOME lives
 * on a small tmpfs (mounted here; the test exits 77, a visible skip, where
 * mounting is not permitted).  A ballast file fills it; then:
 *
 *  - chain level: appends keep being accepted, the writer reports itself
 *    stalled with the reason, drops nothing, and once the ballast is
 *    removed stores everything; verification counts every event;
 *  - runtime level: an actor making host calls (random-bytes) waits for
 *    the stalled writer, then its next host call is refused (not made) and
 *    the actor stops with an error that says why; after space returns,
 *    every call that was answered has its host-call event on the chain, no
 *    refused call has one, and the chain verifies;
 *  - content store: a put that finds the disk full fails, saying so, and
 *    stores nothing; what was stored before stays readable; once space
 *    returns, puts on the same handle work again.
 *
 * Before the fix the writer failed for good on the first full commit,
 * every later event was dropped with a log line while the actor went on
 * answering, and verify said "ok" on the truncated chain.
 */
#define _GNU_SOURCE /* memmem */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/hex.h"
#include "base/sha256.h"
#include "rt_test_util.h"
#include "theater/chain.h"
#include "theater/handlers.h"
#include "theater/runtime.h"
#include "theater/store.h"

static char g_mnt[128];

/* Waits for something the writer does by itself poll every WAIT_STEP_US
 * for at most a minute: generous for a sanitizer build on a loaded
 * machine, and a writer that never does it still fails the test. */
#define WAIT_STEP_US 50000
#define WAIT_STEPS 1200
/* A flush waits as long (after the ballast goes, a resumed writer stores
 * the megabytes it held) */
#define WAIT_FLUSH_MS 60000

/* Fill the file system with a ballast file until it is full. */
static void fill(const char *dir)
{
    char path[256], buf[65536];
    int fd;

    memset(buf, 0xa5, sizeof buf);
    snprintf(path, sizeof path, "%s/ballast", dir);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    while (write(fd, buf, sizeof buf) > 0)
        ;
    while (write(fd, buf, 512) > 0)
        ;
    close(fd);
}

/* Event data that no event before it shares (v3 segments store an event
 * that repeats or edits an earlier one's data as a short reference, so
 * identical fillers might never fill the disk). */
static void fresh_data(char *data, size_t len, uint32_t *seed)
{
    size_t i;

    for (i = 0; i < len; i++) {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 17;
        *seed ^= *seed << 5;
        data[i] = (char)(*seed >> 24);
    }
}

static void unfill(const char *dir)
{
    char path[256];

    snprintf(path, sizeof path, "%s/ballast", dir);
    assert_int_equal(unlink(path), 0);
}

static void test_chain_writer_stalls_and_recovers(void **state)
{
    th_chain_config cfg = {0};
    th_chain_verify_result res;
    th_chain_status st;
    th_chain_events evs;
    th_chain_query q = {0};
    th_chain *c;
    th_error err;
    char home[200], data[16384];
    unsigned n = 0, i;
    uint32_t seed = 0x9e3779b9u;

    (void)state;
    snprintf(home, sizeof home, "%s/chain", g_mnt);
    cfg.home = home;
    cfg.sync_normal = 1;
    assert_int_equal(th_chain_open(&cfg, &c, &err), TH_OK);
    assert_int_equal(th_chain_append(c, "a", "first", "x", 1, NULL, NULL, &err), TH_OK);
    assert_int_equal(th_chain_flush(c, WAIT_FLUSH_MS, &err), TH_OK);
    fill(g_mnt);
    n = 1;
    for (i = 0; i < 4000; i++) {
        th_chain_status_get(c, &st);
        if (st.stalled)
            break;
        fresh_data(data, sizeof data, &seed);
        assert_int_equal(th_chain_append(c, "a", "fill", data, sizeof data, NULL, NULL, &err),
                         TH_OK);
        n++;
        if (i % 64 == 63)
            usleep(2000);
    }
    /* the writer says it cannot store events, and why; it keeps them */
    assert_true(st.stalled);
    assert_false(st.failed);
    assert_false(th_chain_healthy(c));
    assert_non_null(strstr(st.message, "full"));
    assert_true(st.pending_events > 0);
    /* it keeps retrying (the first retry comes after CHAIN_RETRY_FIRST_MS;
     * a sanitizer build on a loaded machine may take far longer) */
    for (i = 0; i < WAIT_STEPS; i++) {
        th_chain_status_get(c, &st);
        if (!st.stalled || st.retries > 1)
            break;
        usleep(WAIT_STEP_US);
    }
    assert_true(st.stalled && st.retries > 1);
    /* appends are still accepted meanwhile (nothing is dropped) */
    assert_int_equal(th_chain_append(c, "a", "during", "y", 1, NULL, NULL, &err), TH_OK);
    n++;
    unfill(g_mnt);
    /* the writer resumes by itself and stores everything */
    assert_int_equal(th_chain_flush(c, WAIT_FLUSH_MS, &err), TH_OK);
    th_chain_status_get(c, &st);
    assert_false(st.stalled);
    assert_int_equal(st.pending_events, 0);
    assert_true(th_chain_healthy(c));
    assert_int_equal(th_chain_verify(c, "a", &res, &err), TH_OK);
    assert_int_equal(res.events, n);
    q.actor = "a";
    assert_int_equal(th_chain_read(c, &q, &evs, &err), TH_OK);
    assert_int_equal(evs.count, n);
    assert_string_equal(evs.items[n - 1].type, "during");
    th_chain_events_free(&evs);
    assert_int_equal(th_chain_close(c), TH_OK);
}

/* The content store on a full disk: a put that cannot be stored fails with
 * an error that says so (no crash, nothing half-stored), what was stored
 * before stays readable and verifies, and once space returns puts work
 * again on the same handle (its WAL grows ahead in zeros, which a full disk
 * only stops). */
static void test_store_full_then_recovers(void **state)
{
    th_store_config cfg = {0};
    th_content_ref before, after, r;
    char home[200], id[TH_STORE_ID_LEN + 1], data[16384];
    th_store *s;
    th_error err;
    void *got;
    size_t len;
    unsigned i;
    int rc = TH_OK, failed = 0;
    bool exists;
    uint32_t seed = 0x27d4eb2fu;

    (void)state;
    snprintf(home, sizeof home, "%s/store", g_mnt);
    cfg.home = home;
    assert_int_equal(th_store_open(&cfg, &s, &err), TH_OK);
    assert_int_equal(th_store_new(s, id, &err), TH_OK);
    assert_int_equal(th_store_put(s, id, "kept", 4, &before, &err), TH_OK);
    fill(g_mnt);
    for (i = 0; i < 2000 && !failed; i++) {
        fresh_data(data, sizeof data, &seed);
        rc = th_store_put(s, id, data, sizeof data, &r, &err);
        if (rc != TH_OK) {
            uint8_t digest[BASE_SHA256_LEN];
            failed = 1;
            /* the put that failed left no row behind (a reference is the
             * SHA-256 of the content, in hex) */
            assert_int_equal(base_sha256(data, sizeof data, digest), 0);
            base_hex_encode(digest, sizeof digest, r.hash);
            assert_int_equal(th_store_exists(s, id, r.hash, &exists, &err), TH_OK);
            assert_false(exists);
        }
    }
    assert_true(failed);
    assert_int_equal(rc, TH_EIO);
    assert_non_null(strstr(err.msg, "full"));
    assert_int_equal(th_store_get(s, id, before.hash, &got, &len, &err), TH_OK);
    assert_int_equal(len, 4);
    assert_memory_equal(got, "kept", 4);
    free(got);
    unfill(g_mnt);
    fresh_data(data, sizeof data, &seed);
    assert_int_equal(th_store_put(s, id, data, sizeof data, &after, &err), TH_OK);
    assert_int_equal(th_store_get(s, id, after.hash, &got, &len, &err), TH_OK);
    assert_int_equal(len, sizeof data);
    assert_memory_equal(got, data, sizeof data);
    free(got);
    th_store_close(s);
    /* and from a fresh handle, after the close */
    assert_int_equal(th_store_open(&cfg, &s, &err), TH_OK);
    assert_int_equal(th_store_get(s, id, after.hash, &got, &len, &err), TH_OK);
    assert_int_equal(len, sizeof data);
    free(got);
    th_store_close(s);
}

static th_chain *open_chain(const char *home, int read_only)
{
    th_chain_config cfg = {0};
    th_chain *c = NULL;
    th_error err;

    cfg.home = home;
    cfg.read_only = read_only;
    cfg.sync_normal = 1;
    if (th_chain_open(&cfg, &c, &err) != TH_OK)
        fail_msg("open %s: %s", home, err.msg);
    return c;
}

/* A process that ends while events are unstored (its writer gave up at
 * close on a full disk): verification does not say "ok" afterwards.  A
 * reader sees the events pending while the writer retries, then lost; the
 * next writer keeps a permanent record of the loss. */
static void test_verify_tells_the_truth(void **state)
{
    th_chain_verify_result res;
    th_chain_status st;
    th_chain *c, *r;
    th_error err;
    char home[200], data[16384];
    unsigned i;
    uint32_t seed = 0x85ebca6bu;

    (void)state;
    snprintf(home, sizeof home, "%s/truth", g_mnt);
    c = open_chain(home, 0);
    for (i = 0; i < 3; i++)
        assert_int_equal(th_chain_append(c, "t", "before", "x", 1, NULL, NULL, &err), TH_OK);
    assert_int_equal(th_chain_flush(c, WAIT_FLUSH_MS, &err), TH_OK);
    fill(g_mnt);
    for (i = 0; i < 4000; i++) {
        th_chain_status_get(c, &st);
        if (st.stalled)
            break;
        fresh_data(data, sizeof data, &seed);
        assert_int_equal(th_chain_append(c, "t", "fill", data, sizeof data, NULL, NULL, &err),
                         TH_OK);
        if (i % 64 == 63)
            usleep(2000);
    }
    assert_true(st.stalled);
    assert_int_equal(th_chain_append(c, "new-actor", "first", "y", 1, NULL, NULL, &err), TH_OK);
    /* meanwhile a reader is told the events are pending, not "ok" (once
     * the stalled writer has written its snapshot of unstored events,
     * which it rewrites once a second while it retries) */
    r = open_chain(home, 1);
    for (i = 0; i < WAIT_STEPS; i++) {
        if (th_chain_verify(r, "t", &res, &err) != TH_OK)
            break;
        usleep(WAIT_STEP_US);
    }
    assert_int_equal(th_chain_verify(r, "t", &res, &err), TH_ECORRUPT);
    assert_int_equal(res.problem, TH_CHAIN_MISSING_EVENT);
    assert_non_null(strstr(res.detail, "keeps retrying"));
    th_chain_close(r);
    /* closing while the disk stays full: the writer gives up, says so */
    assert_int_equal(th_chain_close(c), TH_EIO);
    unfill(g_mnt);
    r = open_chain(home, 1);
    assert_int_equal(th_chain_verify(r, NULL, &res, &err), TH_ECORRUPT);
    assert_int_equal(res.problem, TH_CHAIN_MISSING_EVENT);
    assert_non_null(strstr(res.detail, "process ended"));
    th_chain_close(r);
    /* the next writer records the loss for good; new events do not hide it */
    c = open_chain(home, 0);
    assert_int_equal(th_chain_append(c, "t", "after", "z", 1, NULL, NULL, &err), TH_OK);
    assert_int_equal(th_chain_flush(c, WAIT_FLUSH_MS, &err), TH_OK);
    assert_int_equal(th_chain_verify(c, "t", &res, &err), TH_ECORRUPT);
    assert_int_equal(res.problem, TH_CHAIN_MISSING_EVENT);
    assert_non_null(strstr(res.detail, "never stored"));
    assert_non_null(strstr(res.detail, "full"));
    assert_int_equal(th_chain_verify(c, NULL, &res, &err), TH_ECORRUPT);
    assert_int_equal(th_chain_close(c), TH_OK);
}

/* Count the host-call events of the random interface, and find the
 * actor-failed event. */
static void count_events(const char *home, const char *id, unsigned *calls, char *failed,
                         size_t cap)
{
    th_chain_config cfg = {0};
    th_chain_verify_result res;
    th_chain_events evs;
    th_chain_query q = {0};
    th_chain *c;
    th_error err;
    size_t i;

    cfg.home = home;
    cfg.read_only = 1;
    assert_int_equal(th_chain_open(&cfg, &c, &err), TH_OK);
    if (th_chain_verify(c, NULL, &res, &err) != TH_OK)
        fail_msg("verify: %s", err.msg);
    q.actor = id;
    assert_int_equal(th_chain_read(c, &q, &evs, &err), TH_OK);
    *calls = 0;
    failed[0] = 0;
    for (i = 0; i < evs.count; i++) {
        const th_chain_event *e = &evs.items[i];
        if (strcmp(e->type, "host-call") == 0 &&
            memmem(e->data, e->data_len, "random-bytes", 12) != NULL)
            (*calls)++;
        if (strcmp(e->type, "actor-failed") == 0)
            snprintf(failed, cap, "%.*s", (int)e->data_len, (const char *)e->data);
    }
    th_chain_events_free(&evs);
    th_chain_close(c);
}

/* The probe actor with every handler it imports. */
static const char *probe_manifest(const char *home)
{
    static char path[300];
    FILE *f;

    snprintf(path, sizeof path, "%s/probe.toml", home);
    f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "name = \"probe\"\ncomponent = \"%s\"\n", rtt_module("probe"));
    fprintf(f,
            "[[handler]]\ntype = \"runtime\"\n[[handler]]\ntype = \"message-server\"\n"
            "[[handler]]\ntype = \"supervisor\"\n[[handler]]\ntype = \"store\"\n"
            "[[handler]]\ntype = \"timing\"\n[[handler]]\ntype = \"random\"\n"
            "[[handler]]\ntype = \"environment\"\nallowed_vars = []\n"
            "[[handler]]\ntype = \"filesystem\"\npath = \"%s\"\n",
            home);
    fclose(f);
    return path;
}

static void test_runtime_fail_stop(void **state)
{
    th_runtime_config cfg;
    th_spawn_opts o;
    th_chain_status st;
    th_error err;
    rtt t;
    char id[TH_ACTOR_ID_SIZE], failed[2048];
    const char *manifest;
    uint8_t *resp;
    size_t rlen;
    unsigned ok = 0, refused = 0, recorded, i;

    (void)state;
    memset(&t, 0, sizeof t);
    snprintf(t.home, sizeof t.home, "%s/rt", g_mnt);
    assert_int_equal(mkdir(t.home, 0700), 0);
    pthread_mutex_init(&t.log.lock, NULL);
    manifest = probe_manifest(t.home);
    memset(&cfg, 0, sizeof cfg);
    cfg.home = t.home;
    cfg.workers = 2;
    cfg.record_stall_ms = 300;
    cfg.handlers = th_handlers_builtin();
    if (th_runtime_new(&cfg, &t.rt, &err) != 0)
        fail_msg("runtime: %s", err.msg);
    memset(&o, 0, sizeof o);
    o.manifest_path = manifest;
    if (th_runtime_spawn(t.rt, &o, id, &err) != 0)
        fail_msg("spawn: %s", err.msg);
    assert_int_equal(th_runtime_flush(t.rt, id, &err), 0);
    fill(g_mnt);
    for (i = 0; i < 20000 && refused == 0; i++) {
        int rc = th_runtime_request(t.rt, id, (const uint8_t *)"rbytes 4096", 11, 10000, &resp,
                                    &rlen, &err);
        if (rc == 0 && rlen >= 2 && memcmp(resp, "ok", 2) == 0)
            ok++;
        else
            refused++;
        if (rc == 0)
            free(resp);
    }
    print_message("%u calls answered, then %u refused while the writer was stalled\n", ok, refused);
    /* the actor was stopped by a refused call while the writer was stalled */
    assert_true(refused > 0);
    th_runtime_chain_status(t.rt, &st);
    assert_true(st.stalled);
    assert_non_null(strstr(st.message, "full"));
    unfill(g_mnt);
    for (i = 0; i < WAIT_STEPS; i++) {
        th_runtime_chain_status(t.rt, &st);
        if (!st.stalled && st.pending_events == 0)
            break;
        usleep(WAIT_STEP_US);
    }
    assert_false(st.stalled);
    assert_int_equal(th_runtime_shutdown(t.rt, &err), 0);
    th_runtime_free(t.rt);
    count_events(t.home, id, &recorded, failed, sizeof failed);
    /* every answered call is on the chain, and no refused one */
    assert_int_equal(recorded, ok);
    assert_non_null(strstr(failed, "not made"));
    assert_non_null(strstr(failed, "cannot be recorded"));
    free(t.log.text);
    pthread_mutex_destroy(&t.log.lock);
}

/* Each test starts on an empty file system: what one test stored (its
 * chain grows to whatever the disk held once the ballast went) must not
 * leave the next one without room to open its database. */
static int empty_mount(void **state)
{
    char cmd[300];

    (void)state;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'/* '%s'/.[!.]*", g_mnt, g_mnt);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_chain_writer_stalls_and_recovers, empty_mount),
        cmocka_unit_test_setup(test_runtime_fail_stop, empty_mount),
        cmocka_unit_test_setup(test_verify_tells_the_truth, empty_mount),
        cmocka_unit_test_setup(test_store_full_then_recovers, empty_mount),
    };
    char cmd[300];
    int rc;

    snprintf(g_mnt, sizeof g_mnt, "/tmp/theater-diskfull-XXXXXX");
    if (mkdtemp(g_mnt) == NULL)
        return 1;
    if (mount("tmpfs", g_mnt, "tmpfs", 0, "size=6m,mode=0700") != 0) {
        printf("skipped: cannot mount a tmpfs here (%s); the disk-full test needs root\n",
               strerror(errno));
        rmdir(g_mnt);
        return 77;
    }
    if (access(rtt_module("probe"), R_OK) != 0) {
        printf("skipped: %s was not built\n", rtt_module("probe"));
        umount2(g_mnt, MNT_DETACH);
        rmdir(g_mnt);
        return 77;
    }
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    umount2(g_mnt, MNT_DETACH);
    snprintf(cmd, sizeof cmd, "rmdir '%s'", g_mnt);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", g_mnt);
    return rc;
}
