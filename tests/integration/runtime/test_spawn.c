/*
 * test_spawn.c - what makes a spawn cheap does not make it wrong.
 *
 * The spec cache reuses a manifest's spec without stat()ing its files at
 * each spawn (spec.c: the files are watched): a manifest or component
 * rewritten in place, replaced by a rename, a symbolic link re-pointed,
 * are each seen by the very next spawn; a directory above the files
 * renamed is seen within the cache's recheck interval (1 s).
 *
 * An idle actor's memory is packed (pack.c) and put back at its next turn
 * with every byte in place, also after it grew; packing races with
 * messages arriving at any time and loses none (packmem.wat checks its
 * memory's pattern).  The runtime's counters of packed and unpacked
 * memories are read from its internals to see that packing happened.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdbool.h>
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

#include "runtime/rt_int.h"
#include "rt_test_util.h"

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");

    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

/* A manifest of plain.wat's copy `comp` with version `version`. */
static void write_manifest(const char *path, const char *version, const char *comp)
{
    char text[1024];

    snprintf(text, sizeof text,
             "name = \"plain\"\nversion = \"%s\"\ncomponent = \"%s\"\n\n[[handler]]\n"
             "type = \"runtime\"\n",
             version, comp);
    write_file(path, text, strlen(text));
}

/* Spawn from `man`: 0 and its version in `version`, or the error code. */
static int spawn_version(rtt *t, const char *man, char version[256])
{
    th_spawn_opts o = {0};
    th_actor_info info;
    char id[TH_ACTOR_ID_SIZE];
    th_error err;
    int rc;

    o.manifest_path = man;
    if ((rc = th_runtime_spawn(t->rt, &o, id, &err)) != 0)
        return rc;
    assert_int_equal(th_runtime_actor_info(t->rt, id, &info, &err), 0);
    memcpy(version, info.version, sizeof info.version);
    assert_int_equal(th_runtime_stop(t->rt, id, &err), 0);
    return 0;
}

static void expect_version(rtt *t, const char *man, const char *want)
{
    char v[256];
    int rc = spawn_version(t, man, v);

    if (rc != 0)
        fail_msg("spawn from %s failed (%d)", man, rc);
    if (strcmp(v, want) != 0)
        fail_msg("spawn from %s ran version %s, the manifest says %s", man, v, want);
}

static void test_manifest_changes(void **state)
{
    rtt t;
    char man[300], tmp[300], comp[300], link[300], other[300];
    size_t len;
    void *bytes;

    (void)state;
    rtt_start(&t, 1);
    snprintf(comp, sizeof comp, "%s/plain.wasm", t.home);
    bytes = rtt_read_file(rtt_module("plain"), &len);
    write_file(comp, bytes, len);
    free(bytes);
    snprintf(man, sizeof man, "%s/m.toml", t.home);
    snprintf(tmp, sizeof tmp, "%s/m.toml.new", t.home);

    write_manifest(man, "1.0.0", comp);
    expect_version(&t, man, "1.0.0");
    expect_version(&t, man, "1.0.0"); /* from the cache */
    /* rewritten in place, same size */
    write_manifest(man, "2.0.0", comp);
    expect_version(&t, man, "2.0.0");
    /* replaced by a rename */
    write_manifest(tmp, "3.0.0", comp);
    assert_int_equal(rename(tmp, man), 0);
    expect_version(&t, man, "3.0.0");
    /* removed, then written again */
    assert_int_equal(unlink(man), 0);
    write_manifest(man, "4.0.0", comp);
    expect_version(&t, man, "4.0.0");

    /* a symbolic link re-pointed (by renaming a new link over it) */
    snprintf(link, sizeof link, "%s/link.toml", t.home);
    snprintf(other, sizeof other, "%s/other.toml", t.home);
    write_manifest(other, "5.0.0", comp);
    assert_int_equal(symlink(man, link), 0);
    expect_version(&t, link, "4.0.0");
    snprintf(tmp, sizeof tmp, "%s/link.new", t.home);
    assert_int_equal(symlink(other, tmp), 0);
    assert_int_equal(rename(tmp, link), 0);
    expect_version(&t, link, "5.0.0");
    /* the file a link points to, rewritten */
    write_manifest(other, "6.0.0", comp);
    expect_version(&t, link, "6.0.0");
    rtt_stop(&t);
}

static void test_component_changes(void **state)
{
    rtt t;
    char man[300], comp[300], tmp[300], v[256];
    size_t len;
    void *bytes;

    (void)state;
    rtt_start(&t, 1);
    snprintf(comp, sizeof comp, "%s/plain.wasm", t.home);
    snprintf(tmp, sizeof tmp, "%s/plain.wasm.new", t.home);
    bytes = rtt_read_file(rtt_module("plain"), &len);
    write_file(comp, bytes, len);
    snprintf(man, sizeof man, "%s/m.toml", t.home);
    write_manifest(man, "1.0.0", comp);
    expect_version(&t, man, "1.0.0");
    /* the component overwritten with something that is not wasm: the
     * next spawn reads it and fails */
    write_file(comp, "not wasm", 8);
    assert_int_not_equal(spawn_version(&t, man, v), 0);
    write_file(comp, bytes, len);
    expect_version(&t, man, "1.0.0");
    /* replaced by a rename */
    write_file(tmp, "still not", 9);
    assert_int_equal(rename(tmp, comp), 0);
    assert_int_not_equal(spawn_version(&t, man, v), 0);
    write_file(tmp, bytes, len);
    assert_int_equal(rename(tmp, comp), 0);
    expect_version(&t, man, "1.0.0");
    free(bytes);
    rtt_stop(&t);
}

/* A directory above the manifest swapped by renames: inotify does not see
 * it (it watches the files and their own directory), the recheck does
 * (spec.c, at most a second later).  Spawns keep running the old version
 * until then, and never anything else; the new one must come within a
 * minute (a sanitizer build on a loaded machine), not after a fixed wait. */
static void test_directory_swapped(void **state)
{
    rtt t;
    char d1[300], d2[300], d0[300], man[340], man2[340], comp[300], v[256];
    struct timespec t0, now;
    int spawns = 0;
    size_t len;
    void *bytes;

    (void)state;
    rtt_start(&t, 1);
    snprintf(comp, sizeof comp, "%s/plain.wasm", t.home);
    bytes = rtt_read_file(rtt_module("plain"), &len);
    write_file(comp, bytes, len);
    free(bytes);
    snprintf(d0, sizeof d0, "%s/d0", t.home);
    snprintf(d1, sizeof d1, "%s/d1", t.home);
    snprintf(d2, sizeof d2, "%s/d2", t.home);
    assert_int_equal(mkdir(d1, 0700), 0);
    assert_int_equal(mkdir(d2, 0700), 0);
    snprintf(man, sizeof man, "%s/m.toml", d1);
    snprintf(man2, sizeof man2, "%s/m.toml", d2);
    write_manifest(man, "1.0.0", comp);
    write_manifest(man2, "2.0.0", comp);
    expect_version(&t, man, "1.0.0");
    assert_int_equal(rename(d1, d0), 0);
    assert_int_equal(rename(d2, d1), 0);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        int rc = spawn_version(&t, man, v);
        spawns++;
        if (rc != 0)
            fail_msg("spawn from %s failed (%d)", man, rc);
        if (strcmp(v, "2.0.0") == 0)
            break;
        if (strcmp(v, "1.0.0") != 0)
            fail_msg("spawn from %s ran version %s, expected 1.0.0 then 2.0.0", man, v);
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - t0.tv_sec > 60)
            fail_msg("spawns from %s still ran version 1.0.0 a minute after its directory was "
                     "swapped (%d spawns)",
                     man, spawns);
        usleep(20000);
    }
    print_message("the swapped directory seen after %d spawn(s)\n", spawns);
    rtt_stop(&t);
}

/* Occurrences of `needle` in the log so far. */
static int log_count(rtt *t, const char *needle)
{
    int n = 0;

    pthread_mutex_lock(&t->log.lock);
    for (const char *p = t->log.text; p != NULL && (p = strstr(p, needle)) != NULL; p++)
        n++;
    pthread_mutex_unlock(&t->log.lock);
    return n;
}

static bool log_count_wait(rtt *t, const char *needle, int n, unsigned ms)
{
    for (unsigned i = 0; i < ms / 5; i++) {
        if (log_count(t, needle) >= n)
            return true;
        usleep(5000);
    }
    return log_count(t, needle) >= n;
}

static uint64_t packed(rtt *t)
{
    return atomic_load(&t->rt->pack_packed);
}

static bool packed_wait(rtt *t, uint64_t n, unsigned ms)
{
    for (unsigned i = 0; i < ms / 5; i++) {
        if (packed(t) >= n)
            return true;
        usleep(5000);
    }
    return packed(t) >= n;
}

static void send_byte(rtt *t, const char *id, char c)
{
    th_error err;

    if (th_runtime_send(t->rt, id, (const uint8_t *)&c, 1, &err) != 0)
        fail_msg("send: %s", err.msg);
}

static void spawn_packmem(rtt *t, char *id)
{
    const char *man =
        rtt_manifest(t, "packmem", rtt_module("packmem"), "runtime message-server", NULL);
    th_spawn_opts o = {0};
    th_error err;

    o.manifest_path = man;
    if (th_runtime_spawn(t->rt, &o, id, &err) != 0)
        fail_msg("spawn: %s", err.msg);
}

static void test_idle_memory_packed(void **state)
{
    rtt t;
    char id[TH_ACTOR_ID_SIZE];

    (void)state;
    rtt_start_packing(&t, 2, 0, 100);
    spawn_packmem(&t, id);
    assert_true(packed_wait(&t, 1, 10000));
    send_byte(&t, id, 'C');
    assert_true(log_count_wait(&t, "intact", 1, 10000));
    assert_true(atomic_load(&t.rt->pack_unpacked) >= 1);
    /* new contents, packed again */
    assert_true(packed_wait(&t, 2, 10000));
    send_byte(&t, id, 'W');
    assert_true(log_count_wait(&t, "written", 1, 10000));
    assert_true(packed_wait(&t, 3, 10000));
    send_byte(&t, id, 'C');
    assert_true(log_count_wait(&t, "intact", 2, 10000));
    /* grown after packing, packed again with its new page */
    assert_true(packed_wait(&t, 4, 10000));
    send_byte(&t, id, 'G');
    assert_true(log_count_wait(&t, "grown", 1, 10000));
    assert_true(packed_wait(&t, 5, 10000));
    send_byte(&t, id, 'C');
    assert_true(log_count_wait(&t, "intact", 3, 10000));
    assert_int_equal(log_count(&t, "damaged"), 0);
    rtt_stop(&t);
}

/* Stopping a packed actor runs none of its code: its memory is freed
 * packed, never put back (pack.c). */
static void test_packed_actor_stopped(void **state)
{
    rtt t;
    char id[TH_ACTOR_ID_SIZE];
    th_error err;
    uint64_t unpacked;

    (void)state;
    rtt_start_packing(&t, 2, 0, 100);
    spawn_packmem(&t, id);
    assert_true(packed_wait(&t, 1, 10000));
    unpacked = atomic_load(&t.rt->pack_unpacked);
    assert_int_equal(th_runtime_stop(t.rt, id, &err), 0);
    assert_int_equal(atomic_load(&t.rt->pack_unpacked), unpacked);
    rtt_stop(&t);
}

/* Never packed: TH_RUNTIME_PACK_NEVER. */
static void test_packing_off(void **state)
{
    rtt t;
    char id[TH_ACTOR_ID_SIZE];

    (void)state;
    rtt_start_packing(&t, 1, 0, TH_RUNTIME_PACK_NEVER);
    spawn_packmem(&t, id);
    /* A check that nothing happens, so there is no condition to wait for:
     * idle for 600 ms, six times the 100 ms after which the runtimes of the
     * tests above pack an idle actor, it must still not be packed.  A
     * runtime that packed anyway would usually have done so by then; on a
     * very slow machine this check can miss it, never fail wrongly. */
    usleep(600 * 1000);
    send_byte(&t, id, 'C');
    assert_true(log_count_wait(&t, "intact", 1, 10000));
    assert_int_equal(packed(&t), 0);
    rtt_stop(&t);
}

/* Messages at random moments to actors being packed as soon as they are
 * idle: every one is handled, on intact memory. */
static void test_packing_races(void **state)
{
    enum { N = 16 };
    rtt t;
    char ids[N][TH_ACTOR_ID_SIZE];
    int sent = 0, i;
    unsigned seed = 12345;

    (void)state;
    rtt_start_packing(&t, 2, 0, 1);
    for (i = 0; i < N; i++)
        spawn_packmem(&t, ids[i]);
    assert_true(packed_wait(&t, 1, 10000));
    for (i = 0; i < 400; i++) {
        seed = seed * 1103515245u + 12345u;
        send_byte(&t, ids[(seed >> 16) % N], (seed >> 8) % 5 == 0 ? 'W' : 'C');
        if ((seed >> 8) % 5 != 0)
            sent++;
        usleep((seed >> 20) % 4000);
    }
    assert_true(log_count_wait(&t, "intact", sent, 30000));
    assert_int_equal(log_count(&t, "intact"), sent);
    assert_int_equal(log_count(&t, "damaged"), 0);
    assert_true(packed(&t) > N);
    rtt_stop(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_manifest_changes),     cmocka_unit_test(test_component_changes),
        cmocka_unit_test(test_directory_swapped),    cmocka_unit_test(test_idle_memory_packed),
        cmocka_unit_test(test_packed_actor_stopped), cmocka_unit_test(test_packing_off),
        cmocka_unit_test(test_packing_races),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
