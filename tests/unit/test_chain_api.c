/*
 * test_chain_api.c - unit tests of the event chain (theater/chain.h): append
 * and durability, reads (range, type, newest, heads, actors), listeners,
 * reopen, the signing key, export / verify-file / import, concurrency, and
 * bad input.  Tampering and crashes are tested in tests/integration.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/sha256.h"
#include "chain/chain_int.h"
#include "chain/handle.h"
#include "theater/chain.h"

typedef struct fixture {
    char home[256];
    th_chain *c;
} fixture;

static void rm_rf(const char *dir)
{
    char cmd[400];

    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static th_chain *open_home(const char *home, int read_only)
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

static int setup(void **state)
{
    umask(022); /* the default that used to leave theater.db 0644 */
    fixture *f = calloc(1, sizeof *f);

    snprintf(f->home, sizeof f->home, "/tmp/theater-chain-test-XXXXXX");
    assert_non_null(mkdtemp(f->home));
    f->c = open_home(f->home, 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;

    assert_int_equal(th_chain_close(f->c), TH_OK);
    rm_rf(f->home);
    free(f);
    return 0;
}

static void append_ok(th_chain *c, const char *actor, const char *type, const char *data,
                      th_chain_receipt *r)
{
    th_error err;

    if (th_chain_append(c, actor, type, data, strlen(data), NULL, r, &err) != TH_OK)
        fail_msg("append: %s", err.msg);
}

/* The documented encoding, built independently of hash.c. */
static void reference_hash(const uint8_t *parent, uint64_t ts, const char *type, const void *data,
                           size_t len, const char *desc, uint8_t out[32])
{
    uint8_t buf[4096];
    size_t n = 0, i;

    assert_true(len + (desc ? strlen(desc) : 0) + 128 <= sizeof buf);
    memcpy(buf, "THEATER-EVENT-v1", 16);
    n = 16;
    buf[n++] = parent ? 1 : 0;
    if (parent) {
        memcpy(buf + n, parent, 32);
        n += 32;
    }
    for (i = 0; i < 8; i++)
        buf[n++] = (uint8_t)(ts >> (56 - 8 * i));
    for (i = 0; i < 4; i++)
        buf[n++] = (uint8_t)(strlen(type) >> (24 - 8 * i));
    memcpy(buf + n, type, strlen(type));
    n += strlen(type);
    for (i = 0; i < 8; i++)
        buf[n++] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
    memcpy(buf + n, data, len);
    n += len;
    buf[n++] = desc ? 1 : 0;
    if (desc) {
        for (i = 0; i < 4; i++)
            buf[n++] = (uint8_t)(strlen(desc) >> (24 - 8 * i));
        memcpy(buf + n, desc, strlen(desc));
        n += strlen(desc);
    }
    assert_int_equal(base_sha256(buf, n, out), 0);
}

/* The event hash at every size around SHA-256's block and padding
 * boundaries (data of 0 to 1,200 bytes), with and without a parent and a
 * description, against the reference encoding hashed by base_sha256. */
static void test_hash_sizes(void **state)
{
    uint8_t data[1200], parent[32], want[32], got[32];
    const char *desc;
    th_error err;
    size_t len, i;
    int k;

    (void)state;
    for (i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 131 + 7);
    memset(parent, 0xa5, sizeof parent);
    for (len = 0; len <= sizeof data; len++) {
        for (k = 0; k < 4; k++) {
            desc = k & 1 ? "a description of the event" : NULL;
            reference_hash(k & 2 ? parent : NULL, 1700000000123u + len, "host-call", data, len,
                           desc, want);
            assert_int_equal(th_chain_event_hash(k & 2 ? parent : NULL, 1700000000123u + len,
                                                 "host-call", data, len, desc, got, &err),
                             TH_OK);
            assert_memory_equal(got, want, 32);
        }
    }
}

static void test_append_read_and_hash(void **state)
{
    fixture *f = *state;
    th_chain_receipt r0, r1;
    th_chain_events evs = {0};
    th_chain_query q = {0};
    th_chain_head head;
    uint8_t expect[32];
    th_error err;

    append_ok(f->c, "actor-a", "init", "hello", &r0);
    assert_int_equal(th_chain_append(f->c, "actor-a", "msg", "xyz", 3, "a description", &r1, &err),
                     TH_OK);
    assert_int_equal(r0.seq, 0);
    assert_int_equal(r1.seq, 1);
    assert_true(r1.ticket > r0.ticket);
    reference_hash(NULL, r0.timestamp_ms, "init", "hello", 5, NULL, expect);
    assert_memory_equal(expect, r0.hash, 32);
    reference_hash(r0.hash, r1.timestamp_ms, "msg", "xyz", 3, "a description", expect);
    assert_memory_equal(expect, r1.hash, 32);
    /* the public hash function agrees with appends */
    assert_int_equal(
        th_chain_event_hash(NULL, r0.timestamp_ms, "init", "hello", 5, NULL, expect, &err), TH_OK);
    assert_memory_equal(expect, r0.hash, 32);
    assert_int_equal(th_chain_event_hash(r0.hash, r1.timestamp_ms, "msg", "xyz", 3, "a description",
                                         expect, &err),
                     TH_OK);
    assert_memory_equal(expect, r1.hash, 32);
    assert_int_equal(
        th_chain_event_hash(r0.hash, r1.timestamp_ms, "msg", "xyz", 3, NULL, expect, &err), TH_OK);
    assert_memory_not_equal(expect, r1.hash, 32);
    reference_hash(NULL, 7, "empty", "", 0, NULL, r1.hash);
    assert_int_equal(th_chain_event_hash(NULL, 7, "empty", NULL, 0, NULL, expect, &err), TH_OK);
    assert_memory_equal(expect, r1.hash, 32);
    assert_int_equal(th_chain_event_hash(NULL, 7, NULL, "x", 1, NULL, expect, &err), TH_EINVAL);
    assert_int_equal(th_chain_event_hash(NULL, 7, "t", NULL, 1, NULL, expect, &err), TH_EINVAL);
    {
        char big[TH_CHAIN_MAX_TYPE_BYTES + 2];
        memset(big, 't', sizeof big - 1);
        big[sizeof big - 1] = '\0';
        assert_int_equal(th_chain_event_hash(NULL, 7, big, "x", 1, NULL, expect, &err), TH_ETOOBIG);
    }
    /* r1.hash was reused above: restore it for the checks below */
    reference_hash(r0.hash, r1.timestamp_ms, "msg", "xyz", 3, "a description", r1.hash);

    assert_int_equal(th_chain_wait_durable(f->c, r1.ticket, 5000, &err), TH_OK);
    assert_true(th_chain_durable_ticket(f->c) >= r1.ticket);
    q.actor = "actor-a";
    assert_int_equal(th_chain_read(f->c, &q, &evs, &err), TH_OK);
    assert_int_equal(evs.count, 2);
    assert_string_equal(evs.items[0].actor, "actor-a");
    assert_string_equal(evs.items[0].type, "init");
    assert_int_equal(evs.items[0].data_len, 5);
    assert_memory_equal(evs.items[0].data, "hello", 5);
    assert_int_equal(evs.items[0].has_parent, 0);
    assert_null(evs.items[0].description);
    assert_memory_equal(evs.items[0].hash, r0.hash, 32);
    assert_int_equal(evs.items[1].has_parent, 1);
    assert_memory_equal(evs.items[1].parent, r0.hash, 32);
    assert_string_equal(evs.items[1].description, "a description");
    assert_int_equal(evs.items[1].timestamp_ms, r1.timestamp_ms);
    th_chain_events_free(&evs);

    assert_int_equal(th_chain_head_get(f->c, "actor-a", &head, &err), TH_OK);
    assert_int_equal(head.seq, 1);
    assert_int_equal(head.count, 2);
    assert_memory_equal(head.hash, r1.hash, 32);
}

static void test_queries(void **state)
{
    fixture *f = *state;
    th_chain_events evs = {0};
    th_chain_query q = {0};
    th_error err;
    char data[32];
    int i;

    for (i = 0; i < 50; i++) {
        snprintf(data, sizeof data, "event-%d", i);
        append_ok(f->c, "q", i % 5 == 0 ? "tick" : "msg", data, NULL);
    }
    assert_int_equal(th_chain_flush(f->c, 5000, &err), TH_OK);
    q.actor = "q";
    q.from_seq = 10;
    q.to_seq = 20;
    assert_int_equal(th_chain_read(f->c, &q, &evs, &err), TH_OK);
    assert_int_equal(evs.count, 10);
    assert_int_equal(evs.items[0].seq, 10);
    assert_int_equal(evs.items[9].seq, 19);
    th_chain_events_free(&evs);

    memset(&q, 0, sizeof q);
    q.actor = "q";
    q.type = "tick";
    assert_int_equal(th_chain_read(f->c, &q, &evs, &err), TH_OK);
    assert_int_equal(evs.count, 10);
    for (i = 0; i < 10; i++) {
        assert_string_equal(evs.items[i].type, "tick");
        assert_int_equal(evs.items[i].seq, (uint64_t)i * 5);
    }
    th_chain_events_free(&evs);

    memset(&q, 0, sizeof q);
    q.actor = "q";
    q.newest = 1;
    q.limit = 3;
    assert_int_equal(th_chain_read(f->c, &q, &evs, &err), TH_OK);
    assert_int_equal(evs.count, 3);
    assert_int_equal(evs.items[0].seq, 47); /* oldest first */
    assert_int_equal(evs.items[2].seq, 49);
    assert_memory_equal(evs.items[2].data, "event-49", 8);
    th_chain_events_free(&evs);

    memset(&q, 0, sizeof q);
    q.actor = "q";
    q.limit = 4;
    q.type = "msg";
    assert_int_equal(th_chain_read(f->c, &q, &evs, &err), TH_OK);
    assert_int_equal(evs.count, 4);
    assert_int_equal(evs.items[3].seq, 4);
    th_chain_events_free(&evs);

    q.actor = "nobody";
    assert_int_equal(th_chain_read(f->c, &q, &evs, &err), TH_ENOENT);
    assert_int_equal(evs.count, 0);
}

static void test_actors_and_verify(void **state)
{
    fixture *f = *state;
    th_chain_verify_result res;
    th_chain_actors actors = {0};
    th_chain_head head;
    th_error err;
    uint8_t key[32];
    int i;

    for (i = 0; i < 30; i++) {
        append_ok(f->c, "b", "t", "x", NULL);
        append_ok(f->c, "a", "t", "y", NULL);
        append_ok(f->c, "c", "t", "z", NULL);
    }
    assert_int_equal(th_chain_flush(f->c, 5000, &err), TH_OK);
    assert_int_equal(th_chain_list_actors(f->c, &actors, &err), TH_OK);
    assert_int_equal(actors.count, 3);
    assert_string_equal(actors.items[0].name, "a");
    assert_string_equal(actors.items[2].name, "c");
    assert_int_equal(actors.items[1].head.count, 30);
    assert_int_equal(th_chain_public_key(f->c, key, &err), TH_OK);
    assert_memory_equal(actors.items[1].head.public_key, key, 32);
    th_chain_actors_free(&actors);

    assert_int_equal(th_chain_verify(f->c, NULL, &res, &err), TH_OK);
    assert_int_equal(res.problem, TH_CHAIN_OK);
    assert_int_equal(res.actors, 3);
    assert_int_equal(res.events, 90);
    assert_int_equal(th_chain_verify(f->c, "b", &res, &err), TH_OK);
    assert_int_equal(res.actors, 1);
    assert_int_equal(res.events, 30);
    assert_int_equal(th_chain_verify(f->c, "zzz", &res, &err), TH_ENOENT);
    assert_int_equal(th_chain_head_get(f->c, "zzz", &head, &err), TH_ENOENT);
    assert_string_equal(th_chain_problem_name(TH_CHAIN_BAD_HASH), "bad hash");
}

static void test_bad_input(void **state)
{
    fixture *f = *state;
    th_chain_config cfg = {0};
    th_chain *c2;
    th_error err;
    char *big;
    uint64_t id;

    assert_int_equal(th_chain_append(f->c, NULL, "t", "", 0, NULL, NULL, &err), TH_EINVAL);
    assert_int_equal(th_chain_append(f->c, "", "t", "", 0, NULL, NULL, &err), TH_EINVAL);
    assert_int_equal(th_chain_append(f->c, "a", "", "", 0, NULL, NULL, &err), TH_EINVAL);
    assert_int_equal(th_chain_append(f->c, "a", NULL, "", 0, NULL, NULL, &err), TH_EINVAL);
    assert_int_equal(th_chain_append(f->c, "a", "t", NULL, 5, NULL, NULL, &err), TH_EINVAL);
    big = calloc(1, 70000);
    memset(big, 'x', 69999);
    assert_int_equal(th_chain_append(f->c, "a", big, "", 0, NULL, NULL, &err), TH_ETOOBIG);
    assert_non_null(strstr(err.msg, "event type"));
    assert_int_equal(th_chain_append(f->c, big, "t", "", 0, NULL, NULL, &err), TH_ETOOBIG);
    assert_int_equal(th_chain_append(f->c, "a", "t", "", 0, big, NULL, &err), TH_ETOOBIG);
    /* above 64 MiB data is recorded by content reference (test_chain_harden.c),
     * up to TH_CHAIN_MAX_CONTENT_BYTES; the sizes are checked before reading */
    assert_int_equal(th_chain_append(f->c, "a", "t", big, (size_t)TH_CHAIN_MAX_CONTENT_BYTES + 1,
                                     NULL, NULL, &err),
                     TH_ETOOBIG);
    assert_int_equal(
        th_chain_append(f->c, "a", "t", big, (size_t)65 * 1024 * 1024, "d", NULL, &err), TH_EINVAL);
    free(big);
    /* Empty data is allowed. */
    assert_int_equal(th_chain_append(f->c, "a", "t", NULL, 0, NULL, NULL, &err), TH_OK);
    assert_int_equal(th_chain_subscribe(f->c, NULL, NULL, &id, &err), TH_EINVAL);
    assert_int_equal(th_chain_unsubscribe(f->c, 12345), TH_ENOENT);
    /* A second writer on the same home is refused; readers are fine. */
    cfg.home = f->home;
    assert_int_equal(th_chain_open(&cfg, &c2, &err), TH_EBUSY);
    assert_non_null(strstr(err.msg, "another process"));
    cfg.batch_max_events = 2000000;
    assert_int_equal(th_chain_open(&cfg, &c2, &err), TH_EINVAL);
    c2 = open_home(f->home, 1);
    assert_int_equal(th_chain_append(c2, "a", "t", "", 0, NULL, NULL, &err), TH_EPERM);
    assert_int_equal(th_chain_close(c2), TH_OK);
    /* Read-only on a home without a database. */
    cfg.batch_max_events = 0;
    cfg.read_only = 1;
    cfg.home = "/tmp/theater-chain-test-nothing-here";
    assert_int_equal(th_chain_open(&cfg, &c2, &err), TH_ENOENT);
    assert_int_equal(th_chain_close(NULL), TH_OK);
    th_chain_events_free(NULL);
    th_chain_actors_free(NULL);
}

static void test_reopen_continues_and_key(void **state)
{
    fixture *f = *state;
    th_chain_receipt r0, r1;
    th_chain_events evs = {0};
    th_chain_query q = {0};
    th_chain_verify_result res;
    uint8_t k1[32], k2[32];
    char path[300];
    struct stat st;
    th_error err;

    append_ok(f->c, "r", "t", "one", &r0);
    assert_int_equal(th_chain_public_key(f->c, k1, &err), TH_OK);
    assert_int_equal(th_chain_close(f->c), TH_OK);
    snprintf(path, sizeof path, "%s/chain.key", f->home);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    f->c = open_home(f->home, 0);
    assert_int_equal(th_chain_public_key(f->c, k2, &err), TH_OK);
    assert_memory_equal(k1, k2, 32);
    append_ok(f->c, "r", "t", "two", &r1);
    assert_int_equal(r1.seq, 1);
    assert_int_equal(th_chain_flush(f->c, 5000, &err), TH_OK);
    q.actor = "r";
    assert_int_equal(th_chain_read(f->c, &q, &evs, &err), TH_OK);
    assert_int_equal(evs.count, 2);
    assert_memory_equal(evs.items[1].parent, r0.hash, 32);
    th_chain_events_free(&evs);
    assert_int_equal(th_chain_verify(f->c, NULL, &res, &err), TH_OK);
}

typedef struct counter {
    pthread_mutex_t lock;
    uint64_t n;
    uint64_t next_seq_b;
    int order_ok;
} counter;

static void on_event(void *ud, const th_chain_event *ev)
{
    counter *cn = ud;

    pthread_mutex_lock(&cn->lock);
    cn->n++;
    if (strcmp(ev->actor, "listen-b") == 0) {
        if (ev->seq != cn->next_seq_b)
            cn->order_ok = 0;
        cn->next_seq_b++;
    }
    pthread_mutex_unlock(&cn->lock);
}

static void test_listener(void **state)
{
    fixture *f = *state;
    counter cn = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 1};
    th_error err;
    uint64_t id;
    int i;

    assert_int_equal(th_chain_subscribe(f->c, on_event, &cn, &id, &err), TH_OK);
    for (i = 0; i < 100; i++) {
        append_ok(f->c, "listen-a", "t", "x", NULL);
        append_ok(f->c, "listen-b", "t", "y", NULL);
    }
    assert_int_equal(th_chain_flush(f->c, 5000, &err), TH_OK);
    assert_int_equal(cn.n, 200);
    assert_int_equal(cn.order_ok, 1);
    assert_int_equal(th_chain_unsubscribe(f->c, id), TH_OK);
    append_ok(f->c, "listen-a", "t", "x", NULL);
    assert_int_equal(th_chain_flush(f->c, 5000, &err), TH_OK);
    assert_int_equal(cn.n, 200);
}

typedef struct worker_arg {
    th_chain *c;
    int index;
    int n;
} worker_arg;

/* One event of `v` on the chain "shared" and one on `own`; 0 or -1. */
static int append_shared_and_own(th_chain *c, const char *own, int v)
{
    th_error err;

    return th_chain_append(c, "shared", "t", &v, sizeof v, NULL, NULL, &err) == TH_OK &&
                   th_chain_append(c, own, "t", &v, sizeof v, NULL, NULL, &err) == TH_OK
               ? 0
               : -1;
}

static void *worker(void *p)
{
    worker_arg *a = p;
    char own[32];
    int i;

    snprintf(own, sizeof own, "own-%d", a->index);
    for (i = 0; i < a->n; i++)
        if (append_shared_and_own(a->c, own, i) != 0)
            return (void *)1;
    return NULL;
}

static void test_concurrent_appends(void **state)
{
    fixture *f = *state;
    pthread_t t[4];
    worker_arg a[4];
    th_chain_verify_result res;
    th_chain_head head;
    th_error err;
    void *ret;
    int i;

    for (i = 0; i < 4; i++) {
        a[i].c = f->c;
        a[i].index = i;
        a[i].n = 3000;
        assert_int_equal(pthread_create(&t[i], NULL, worker, &a[i]), 0);
    }
    for (i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(t[i], &ret), 0);
        assert_null(ret);
    }
    assert_int_equal(th_chain_flush(f->c, 10000, &err), TH_OK);
    assert_int_equal(th_chain_head_get(f->c, "shared", &head, &err), TH_OK);
    assert_int_equal(head.count, 12000);
    if (th_chain_verify(f->c, NULL, &res, &err) != TH_OK)
        fail_msg("verify: %s", err.msg);
    assert_int_equal(res.events, 24000);
    assert_int_equal(res.actors, 5);
}

/* A chain with every event stored and nothing appended for idle_drop_ms
 * leaves memory; its next append reads its head back from the database
 * and links to it; a handle opened again holds no chain until asked. */
static th_chain *open_idle(const char *home, unsigned idle_ms)
{
    th_chain_config cfg = {0};
    th_chain *c = NULL;
    th_error err;

    cfg.home = home;
    cfg.sync_normal = 1;
    cfg.index_flush_ms = 1;
    cfg.idle_drop_ms = idle_ms;
    if (th_chain_open(&cfg, &c, &err) != TH_OK)
        fail_msg("open %s: %s", home, err.msg);
    return c;
}

/* Wait (at most 20 s) until at most `most` chains are in memory. */
static size_t wait_in_memory(th_chain *c, size_t most)
{
    size_t n = 0;
    int i;

    for (i = 0; i < 2000 && (n = chain_in_memory(c, NULL, NULL)) > most; i++)
        usleep(10000);
    return n;
}

#define IDLE_CHAINS 300

static void test_idle_chains_leave_memory(void **state)
{
    fixture *f = *state;
    static th_chain_receipt first[IDLE_CHAINS];
    th_chain_receipt r;
    th_chain_config cfg = {0};
    th_chain_events evs = {0};
    th_chain_query q = {0};
    th_chain_verify_result res;
    th_chain_head head;
    uint64_t loaded, dropped;
    char name[32];
    th_error err;
    th_chain *c2;
    int i;

    assert_int_equal(th_chain_close(f->c), TH_OK);
    cfg.home = f->home;
    cfg.idle_drop_ms = 86400001u;
    assert_int_equal(th_chain_open(&cfg, &c2, &err), TH_EINVAL);
    f->c = open_idle(f->home, 1);
    for (i = 0; i < IDLE_CHAINS; i++) {
        snprintf(name, sizeof name, "idle-%d", i);
        append_ok(f->c, name, "t", "one", NULL);
        append_ok(f->c, name, "t", "two", &first[i]);
    }
    assert_int_equal(th_chain_flush(f->c, 10000, &err), TH_OK);
    assert_int_equal(wait_in_memory(f->c, 0), 0);
    chain_in_memory(f->c, &loaded, &dropped);
    assert_true(dropped >= IDLE_CHAINS);
    assert_int_equal(loaded, 0);
    /* each continues where it was, linked to its head */
    for (i = 0; i < IDLE_CHAINS; i++) {
        snprintf(name, sizeof name, "idle-%d", i);
        append_ok(f->c, name, "t", "three", &r);
        assert_int_equal(r.seq, 2);
    }
    append_ok(f->c, "fresh", "t", "new", &r);
    assert_int_equal(r.seq, 0);
    chain_in_memory(f->c, &loaded, NULL);
    assert_int_equal(loaded, IDLE_CHAINS);
    assert_int_equal(th_chain_flush(f->c, 10000, &err), TH_OK);
    q.actor = "idle-7";
    assert_int_equal(th_chain_read(f->c, &q, &evs, &err), TH_OK);
    assert_int_equal(evs.count, 3);
    assert_memory_equal(evs.items[2].parent, first[7].hash, 32);
    th_chain_events_free(&evs);
    if (th_chain_verify(f->c, NULL, &res, &err) != TH_OK)
        fail_msg("verify: %s", err.msg);
    assert_int_equal(res.events, IDLE_CHAINS * 3 + 1);
    assert_int_equal(res.actors, IDLE_CHAINS + 1);
    assert_int_equal(th_chain_close(f->c), TH_OK);

    /* opened again (default idle time): nothing in memory until asked */
    f->c = open_home(f->home, 0);
    assert_int_equal(chain_in_memory(f->c, NULL, NULL), 0);
    assert_int_equal(chain_actor_known(f->c, "idle-5", &err), 1);
    assert_int_equal(chain_actor_known(f->c, "nobody", &err), 0);
    append_ok(f->c, "idle-0", "t", "four", &r);
    assert_int_equal(r.seq, 3);
    append_ok(f->c, "later", "t", "x", &r);
    assert_int_equal(r.seq, 0);
    assert_int_equal(th_chain_flush(f->c, 10000, &err), TH_OK);
    assert_int_equal(th_chain_head_get(f->c, "idle-0", &head, &err), TH_OK);
    assert_int_equal(head.count, 4);
    /* the default keeps them for a minute */
    assert_int_equal(chain_in_memory(f->c, &loaded, &dropped), 3);
    assert_int_equal(loaded, 2);
    assert_int_equal(dropped, 0);
    if (th_chain_verify(f->c, NULL, &res, &err) != TH_OK)
        fail_msg("verify: %s", err.msg);
    assert_int_equal(res.events, IDLE_CHAINS * 3 + 3);
}

/* A caller waiting for an event does not wait out the batch's time: the
 * writer commits what it waits for as soon as it is free (with a batch
 * time of a minute, the wait below would time out otherwise). */
/* The table's bucket array grows with the chains in memory and shrinks
 * back once they have left it. */
static void test_idle_table_shrinks(void **state)
{
    fixture *f = *state;
    static chain_actor *pinned[3000];
    char name[32];
    th_error err;
    int i, created;

    assert_int_equal(th_chain_close(f->c), TH_OK);
    f->c = open_idle(f->home, 1);
    for (i = 0; i < 3000; i++) {
        snprintf(name, sizeof name, "many-%d", i);
        append_ok(f->c, name, "t", "one", NULL);
    }
    /* all of them in memory at once (pinned: the sweep leaves them) */
    for (i = 0; i < 3000; i++) {
        snprintf(name, sizeof name, "many-%d", i);
        pinned[i] = chain_actor_get(f->c, name, strlen(name), 0, &created, &err);
        if (pinned[i] == NULL)
            fail_msg("%s: %s", name, err.msg);
    }
    assert_true(chain_table_buckets(f->c) >= 4096);
    for (i = 0; i < 3000; i++)
        chain_actor_unpin(pinned[i]);
    assert_int_equal(th_chain_flush(f->c, 10000, &err), TH_OK);
    assert_int_equal(wait_in_memory(f->c, 0), 0);
    for (i = 0; i < 2000 && chain_table_buckets(f->c) > 1024; i++)
        usleep(10000);
    assert_int_equal(chain_table_buckets(f->c), 1024);
    /* every chain is still found, and continues where it was */
    for (i = 0; i < 3000; i++) {
        th_chain_receipt r;

        snprintf(name, sizeof name, "many-%d", i);
        append_ok(f->c, name, "t", "two", &r);
        assert_int_equal(r.seq, 1);
    }
}

static void test_waiter_commits_now(void **state)
{
    fixture *f = *state;
    th_chain_config cfg = {0};
    th_chain_receipt r;
    th_chain_head head;
    th_error err;
    int i;

    assert_int_equal(th_chain_close(f->c), TH_OK);
    cfg.home = f->home;
    cfg.sync_normal = 1;
    cfg.batch_max_ms = 60000;
    if (th_chain_open(&cfg, &f->c, &err) != TH_OK)
        fail_msg("open: %s", err.msg);
    for (i = 0; i < 3; i++) {
        append_ok(f->c, "waited", "t", "x", &r);
        if (th_chain_wait_durable(f->c, r.ticket, 10000, &err) != TH_OK)
            fail_msg("wait %d: %s", i, err.msg);
    }
    assert_int_equal(th_chain_head_get(f->c, "waited", &head, &err), TH_OK);
    assert_int_equal(head.count, 3);
}

typedef struct idle_arg {
    th_chain *c;
    int index;
    atomic_int *stop;
    int appended[8];
} idle_arg;

/* Bursts of appends to 8 chains of its own and one shared, with pauses
 * long enough for them to leave memory between bursts. */
static void *idle_worker(void *p)
{
    idle_arg *a = p;
    unsigned seed = (unsigned)a->index;
    char name[32];
    int k;

    while (!atomic_load(a->stop)) {
        for (k = 0; k < 8; k++) {
            snprintf(name, sizeof name, "w%d-%d", a->index, k);
            if (append_shared_and_own(a->c, name, k) != 0)
                return (void *)1;
            a->appended[k]++;
        }
        usleep(2000 + rand_r(&seed) % 6000);
    }
    return NULL;
}

static void test_idle_drop_races_appends(void **state)
{
    fixture *f = *state;
    pthread_t t[4];
    idle_arg a[4];
    atomic_int stop;
    th_chain_verify_result res;
    th_chain_head head;
    uint64_t loaded = 0, total = 0;
    char name[32];
    th_error err;
    void *ret;
    int i, k;

    assert_int_equal(th_chain_close(f->c), TH_OK);
    f->c = open_idle(f->home, 1);
    atomic_init(&stop, 0);
    for (i = 0; i < 4; i++) {
        memset(&a[i], 0, sizeof a[i]);
        a[i].c = f->c;
        a[i].index = i;
        a[i].stop = &stop;
        assert_int_equal(pthread_create(&t[i], NULL, idle_worker, &a[i]), 0);
    }
    /* until chains have been dropped and loaded again many times */
    for (i = 0; i < 2000 && loaded < 200; i++) {
        usleep(10000);
        chain_in_memory(f->c, &loaded, NULL);
    }
    atomic_store(&stop, 1);
    for (i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(t[i], &ret), 0);
        assert_null(ret);
    }
    assert_true(loaded >= 200);
    assert_int_equal(th_chain_flush(f->c, 10000, &err), TH_OK);
    for (i = 0; i < 4; i++)
        for (k = 0; k < 8; k++) {
            snprintf(name, sizeof name, "w%d-%d", i, k);
            assert_int_equal(th_chain_head_get(f->c, name, &head, &err), TH_OK);
            assert_int_equal(head.count, (uint64_t)a[i].appended[k]);
            total += head.count;
        }
    assert_int_equal(th_chain_head_get(f->c, "shared", &head, &err), TH_OK);
    assert_int_equal(head.count, total);
    if (th_chain_verify(f->c, NULL, &res, &err) != TH_OK)
        fail_msg("verify: %s", err.msg);
    assert_int_equal(res.events, 2 * total);
    assert_int_equal(res.actors, 33);
}

static void test_export_verify_import(void **state)
{
    fixture *f = *state;
    th_chain_verify_result res;
    th_chain_events evs = {0};
    th_chain_query q = {0};
    char other[] = "/tmp/theater-chain-import-XXXXXX", path[300], line[4096];
    uint8_t key[32], wrong[32];
    th_chain *c2;
    th_error err;
    FILE *fp, *out;
    int i, n;

    for (i = 0; i < 20; i++)
        assert_int_equal(th_chain_append(f->c, "exp", i % 2 ? "odd" : "even", "\x00\x01\xff", 3,
                                         i == 3 ? "described" : NULL, NULL, &err),
                         TH_OK);
    assert_int_equal(th_chain_flush(f->c, 5000, &err), TH_OK);
    snprintf(path, sizeof path, "%s/exp.jsonl", f->home);
    fp = fopen(path, "w+");
    assert_non_null(fp);
    assert_int_equal(th_chain_export(f->c, "exp", fp, &err), TH_OK);
    rewind(fp);
    for (n = 0; fgets(line, sizeof line, fp) != NULL; n++)
        if (n == 1)
            assert_non_null(strstr(line, "\"data\":\"AAH/\""));
    assert_int_equal(n, 22); /* header + 20 events + head */
    rewind(fp);
    assert_int_equal(th_chain_public_key(f->c, key, &err), TH_OK);
    if (th_chain_verify_file(fp, key, &res, &err) != TH_OK)
        fail_msg("verify-file: %s", err.msg);
    assert_int_equal(res.events, 20);
    rewind(fp);
    memset(wrong, 7, sizeof wrong);
    assert_int_equal(th_chain_verify_file(fp, wrong, &res, &err), TH_ECORRUPT);
    assert_int_equal(res.problem, TH_CHAIN_WRONG_KEY);
    assert_int_equal(th_chain_export(f->c, "nobody", fp, &err), TH_ENOENT);

    /* Import into another home, then verify there. */
    assert_non_null(mkdtemp(other));
    c2 = open_home(other, 0);
    /* the other home does not trust this home's key: refused, naming the
     * signer, unless allowed; once the key is trusted it is accepted */
    rewind(fp);
    assert_int_equal(th_chain_import(c2, fp, 0, &res, &err), TH_ECORRUPT);
    assert_int_equal(res.problem, TH_CHAIN_UNTRUSTED);
    assert_true(res.has_signer);
    assert_memory_equal(res.signer, key, 32);
    assert_non_null(strstr(err.msg, "sha256:"));
    assert_false(chain_actor_known(c2, "exp", &err));
    assert_int_equal(th_chain_trust_add(other, key, "the test home", &err), TH_OK);
    assert_int_equal(th_chain_trust_add(other, key, NULL, &err), TH_EEXIST);
    rewind(fp);
    if (th_chain_import(c2, fp, 0, &res, &err) != TH_OK)
        fail_msg("import: %s", err.msg);
    assert_true(res.signer_trusted);
    q.actor = "exp";
    assert_int_equal(th_chain_read(c2, &q, &evs, &err), TH_OK);
    assert_int_equal(evs.count, 20);
    assert_string_equal(evs.items[3].description, "described");
    assert_int_equal(evs.items[5].data_len, 3);
    th_chain_events_free(&evs);
    assert_int_equal(th_chain_verify(c2, NULL, &res, &err), TH_OK);
    rewind(fp);
    assert_int_equal(th_chain_import(c2, fp, 0, &res, &err), TH_EEXIST);
    assert_int_equal(th_chain_close(c2), TH_OK);
    rm_rf(other);

    /* A file with one event's data changed names that event. */
    rewind(fp);
    out = tmpfile();
    for (n = 0; fgets(line, sizeof line, fp) != NULL; n++) {
        char *d = strstr(line, "AAH/");
        if (n == 8 && d != NULL)
            d[0] = 'B';
        fputs(line, out);
    }
    rewind(out);
    assert_int_equal(th_chain_verify_file(out, NULL, &res, &err), TH_ECORRUPT);
    assert_int_equal(res.problem, TH_CHAIN_BAD_HASH);
    assert_int_equal(res.seq, 7);
    assert_string_equal(res.actor, "exp");
    fclose(out);
    /* A truncated file (no head) and garbage are refused. */
    rewind(fp);
    out = tmpfile();
    for (n = 0; fgets(line, sizeof line, fp) != NULL && n < 10; n++)
        fputs(line, out);
    rewind(out);
    assert_int_equal(th_chain_verify_file(out, NULL, &res, &err), TH_ECORRUPT);
    assert_int_equal(res.problem, TH_CHAIN_UNSIGNED);
    fclose(out);
    out = tmpfile();
    fputs("{\"kind\":\"chain\",\"actor\":\"x\"}\nnot json\n", out);
    rewind(out);
    assert_int_not_equal(th_chain_verify_file(out, NULL, &res, &err), TH_OK);
    fclose(out);
    fclose(fp);
}

/* Under a steady stream of commits (no quiet moment in which SQLite could
 * start the WAL over by itself), the WAL stays near wal_max_mib instead of
 * growing with everything written. */
typedef struct wal_writer {
    th_chain *c;
    atomic_int stop;
    uint64_t bytes;
} wal_writer;

static void *wal_write(void *arg)
{
    wal_writer *w = arg;
    char data[500];
    th_error err;
    unsigned i = 0;

    memset(data, 'w', sizeof data);
    while (!atomic_load(&w->stop)) {
        snprintf(data, sizeof data, "%u", i);
        data[strlen(data)] = 'w';
        if (th_chain_append(w->c, i % 2 ? "wal-a" : "wal-b", "fill", data, sizeof data, NULL, NULL,
                            &err) != TH_OK)
            break;
        w->bytes += sizeof data;
        i++;
    }
    return NULL;
}

static void test_wal_bounded(void **state)
{
    char home[64], wal[128];
    th_chain_config cfg = {0};
    th_chain_verify_result res;
    wal_writer w = {0};
    struct stat st;
    off_t peak = 0;
    pthread_t t;
    th_error err;
    int i;

    (void)state;
    snprintf(home, sizeof home, "/tmp/theater-chain-wal-XXXXXX");
    assert_non_null(mkdtemp(home));
    snprintf(wal, sizeof wal, "%s/theater.db-wal", home);
    cfg.home = home;
    cfg.sync_normal = 1;
    cfg.wal_max_mib = 2;
    assert_int_equal(th_chain_open(&cfg, &w.c, &err), TH_OK);
    assert_int_equal(pthread_create(&t, NULL, wal_write, &w), 0);
    for (i = 0; i < 150; i++) { /* 3 s */
        usleep(20000);
        if (stat(wal, &st) == 0 && st.st_size > peak)
            peak = st.st_size;
    }
    atomic_store(&w.stop, 1);
    pthread_join(t, NULL);
    assert_int_equal(th_chain_flush(w.c, -1, &err), TH_OK);
    /* a real test only if far more went through than the bound */
    if (w.bytes < 40u * 1024 * 1024)
        print_message("only %llu bytes appended; WAL bound not exercised\n",
                      (unsigned long long)w.bytes);
    else
        assert_true(peak < 24 * 1024 * 1024);
    assert_int_equal(th_chain_verify(w.c, NULL, &res, &err), TH_OK);
    assert_int_equal(th_chain_close(w.c), TH_OK);
    rm_rf(home);
}

/* Data above 64 MiB is recorded by content reference: the event holds the
 * hash, the bytes are in the store in the same transaction, and verify
 * checks them (an altered or missing content is "bad content").  (Such an
 * event used to be refused: the runtime's call ran unrecorded.) */
static void test_content_ref(void **state)
{
    fixture *f = *state;
    size_t len = (size_t)TH_CHAIN_MAX_DATA_BYTES + 12345;
    th_chain_verify_result res;
    th_chain_events evs = {0};
    th_chain_query q = {0};
    uint8_t *big = malloc(len), hash[32], want[32];
    uint64_t size;
    char path[300];
    sqlite3 *db;
    th_error err;

    assert_non_null(big);
    memset(big, 'q', len);
    big[7] = 'x';
    assert_int_equal(base_sha256(big, len, want), 0);
    append_ok(f->c, "big", "small", "1", NULL);
    assert_int_equal(th_chain_append(f->c, "big", "host-call", big, len, NULL, NULL, &err), TH_OK);
    append_ok(f->c, "big", "small", "2", NULL);
    free(big);
    assert_int_equal(th_chain_flush(f->c, 20000, &err), TH_OK);
    q.actor = "big";
    assert_int_equal(th_chain_read(f->c, &q, &evs, &err), TH_OK);
    assert_int_equal(evs.count, 3);
    assert_string_equal(evs.items[1].description, TH_CHAIN_CONTENT_REF_DESC);
    assert_true(th_chain_event_content_ref(&evs.items[1], hash, &size));
    assert_int_equal(size, len);
    assert_memory_equal(hash, want, 32);
    assert_false(th_chain_event_content_ref(&evs.items[0], hash, &size));
    th_chain_events_free(&evs);
    assert_int_equal(th_chain_verify(f->c, NULL, &res, &err), TH_OK);
    assert_int_equal(res.events, 3);
    /* alter the stored content: verification names the event */
    snprintf(path, sizeof path, "%s/theater.db", f->home);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    assert_int_equal(sqlite3_exec(db, "UPDATE store_blob SET data = CAST(zeroblob(size) AS BLOB)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(th_chain_verify(f->c, "big", &res, &err), TH_ECORRUPT);
    assert_int_equal(res.problem, TH_CHAIN_BAD_CONTENT);
    assert_int_equal(res.seq, 1);
    assert_non_null(strstr(res.detail, "altered"));
    assert_int_equal(sqlite3_exec(db, "DELETE FROM store_blob", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(th_chain_verify(f->c, NULL, &res, &err), TH_ECORRUPT);
    assert_int_equal(res.problem, TH_CHAIN_BAD_CONTENT);
    assert_non_null(strstr(res.detail, "not in the store"));
    sqlite3_close(db);
}

/* The span whose segment list is `from` (n bytes) lists `to` instead. */
static void set_span_segments(sqlite3 *db, const uint8_t *from, const uint8_t *to, int n)
{
    sqlite3_stmt *st;

    assert_int_equal(sqlite3_prepare_v2(db,
                                        "UPDATE chain_span SET segments = ?1 WHERE segments = ?2",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_blob(st, 1, to, n, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, from, n, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
}

/* The index (chain_span) is not signed, and every reader finds a chain's
 * events through it: a verification of every chain checks it against the
 * segments, so an edit that would hide events from readers is found. */
static void test_verify_checks_index(void **state)
{
    fixture *f = *state;
    th_chain_verify_result res;
    sqlite3_stmt *st;
    uint8_t blob[64], rev[64];
    char path[300];
    th_error err;
    sqlite3 *db;
    int i, n;

    for (i = 0; i < 6; i++) {
        append_ok(f->c, "ix", "t", "e", NULL);
        append_ok(f->c, "other", "t", "e", NULL);
        assert_int_equal(th_chain_flush(f->c, 10000, &err), TH_OK); /* a segment each */
    }
    assert_int_equal(th_chain_close(f->c), TH_OK); /* indexes what is left */
    f->c = open_home(f->home, 0);
    assert_int_equal(th_chain_verify(f->c, NULL, &res, &err), TH_OK);
    assert_int_equal(res.events, 12);
    snprintf(path, sizeof path, "%s/theater.db", f->home);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    /* the span of "ix" that lists several segments, its list reversed */
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT s.segments FROM chain_span s JOIN chain_actor a"
                                        " ON a.id = s.actor WHERE a.name = 'ix'"
                                        " AND length(s.segments) >= 16",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    n = sqlite3_column_bytes(st, 0);
    assert_true(n <= (int)sizeof blob);
    memcpy(blob, sqlite3_column_blob(st, 0), (size_t)n);
    sqlite3_finalize(st);
    for (i = 0; i < n; i += 8)
        memcpy(rev + i, blob + n - 8 - i, 8);
    set_span_segments(db, blob, rev, n);
    assert_int_equal(th_chain_verify(f->c, NULL, &res, &err), TH_ECORRUPT);
    assert_int_equal(res.problem, TH_CHAIN_MISSING_EVENT);
    assert_string_equal(res.actor, "ix");
    assert_non_null(strstr(res.detail, "index"));
    /* put back: it verifies again */
    set_span_segments(db, rev, blob, n);
    assert_int_equal(th_chain_verify(f->c, NULL, &res, &err), TH_OK);
    /* the chain's index removed: its events are there, readers find none */
    assert_int_equal(sqlite3_exec(db,
                                  "DELETE FROM chain_span WHERE actor ="
                                  " (SELECT id FROM chain_actor WHERE name = 'ix')",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(th_chain_verify(f->c, NULL, &res, &err), TH_ECORRUPT);
    assert_int_equal(res.problem, TH_CHAIN_MISSING_EVENT);
    assert_string_equal(res.actor, "ix");
    sqlite3_close(db);
}

/* theater.db and its WAL/SHM files are the owner's only (they hold every
 * actor's state and messages), whatever the umask. */
static void test_db_mode(void **state)
{
    fixture *f = *state;
    const char *sfx[] = {"", "-wal", "-shm"};
    char path[300];
    struct stat st;
    th_error err;
    size_t i;

    append_ok(f->c, "m", "t", "x", NULL);
    assert_int_equal(th_chain_flush(f->c, 5000, &err), TH_OK);
    for (i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/theater.db%s", f->home, sfx[i]);
        assert_int_equal(stat(path, &st), 0);
        if ((st.st_mode & 077) != 0)
            fail_msg("%s has mode %o", path, (unsigned)(st.st_mode & 0777));
    }
}

static void test_merkle_paths(void **state)
{
    base_sha256_ctx *ctx = base_sha256_new();
    uint8_t leaves[70][32], root[32], again[32];
    uint8_t *paths = malloc(70 * TH_CHAIN_MAX_MERKLE_DEPTH * 32), depths[70];
    size_t n, i;

    (void)state;
    for (i = 0; i < 70; i++)
        base_sha256(&i, sizeof i, leaves[i]);
    for (n = 1; n <= 70; n++) {
        assert_int_equal(
            chain_merkle_build(ctx, (const uint8_t(*)[32])leaves, n, root, paths, depths), 0);
        for (i = 0; i < n; i++) {
            assert_int_equal(chain_merkle_root(ctx, leaves[i], i, n,
                                               paths + i * TH_CHAIN_MAX_MERKLE_DEPTH * 32,
                                               depths[i] * 32u, again),
                             0);
            assert_memory_equal(root, again, 32);
            /* The wrong index or size does not reproduce the root. */
            if (n > 1)
                assert_true(chain_merkle_root(ctx, leaves[i], (i + 1) % n, n,
                                              paths + i * TH_CHAIN_MAX_MERKLE_DEPTH * 32,
                                              depths[i] * 32u, again) != 0 ||
                            memcmp(root, again, 32) != 0);
        }
    }
    free(paths);
    base_sha256_free(ctx);
}

/* th_chain_append_many: the events continue the chain as single appends
 * would (seq, parent links, the documented hash, tickets in order), mixed
 * with single appends; a bad item refuses the whole call and appends
 * nothing. */
static void test_append_many(void **state)
{
    fixture *f = *state;
    th_chain_item items[3] = {
        {"host-call", "one", 3}, {"wasm-call", NULL, 0}, {"host-call", "three", 5}};
    th_chain_receipt first, r[3], after;
    th_chain_verify_result res;
    th_chain_query q = {0};
    th_chain_events evs;
    th_error err;
    uint8_t h[32];
    size_t i;

    append_ok(f->c, "many", "actor-spawned", "{}", &first);
    assert_int_equal(th_chain_append_many(f->c, "many", items, 3, r, &err), TH_OK);
    append_ok(f->c, "many", "wasm-result", "{}", &after);
    assert_int_equal(r[0].seq, 1);
    assert_int_equal(r[2].seq, 3);
    assert_int_equal(after.seq, 4);
    assert_true(r[0].ticket > first.ticket && r[1].ticket == r[0].ticket + 1 &&
                r[2].ticket == r[1].ticket + 1 && after.ticket > r[2].ticket);
    reference_hash(first.hash, r[0].timestamp_ms, "host-call", "one", 3, NULL, h);
    assert_memory_equal(h, r[0].hash, 32);
    reference_hash(r[0].hash, r[1].timestamp_ms, "wasm-call", "", 0, NULL, h);
    assert_memory_equal(h, r[1].hash, 32);
    /* refused as a whole: a bad item anywhere appends nothing */
    items[1].type = "";
    assert_int_equal(th_chain_append_many(f->c, "many", items, 3, r, &err), TH_EINVAL);
    items[1].type = "wasm-call";
    items[2].len = (size_t)TH_CHAIN_MAX_DATA_BYTES + 1;
    assert_int_equal(th_chain_append_many(f->c, "many", items, 3, r, &err), TH_ETOOBIG);
    items[2].len = 5;
    assert_int_equal(th_chain_append_many(f->c, NULL, items, 3, r, &err), TH_EINVAL);
    assert_int_equal(th_chain_append_many(f->c, "many", items, 0, NULL, &err), TH_OK);
    assert_int_equal(th_chain_flush(f->c, 5000, &err), TH_OK);
    q.actor = "many";
    assert_int_equal(th_chain_read(f->c, &q, &evs, &err), TH_OK);
    assert_int_equal(evs.count, 5);
    for (i = 1; i < 4; i++) {
        assert_memory_equal(evs.items[i].hash, r[i - 1].hash, 32);
        assert_string_equal(evs.items[i].type, items[i - 1].type);
        assert_int_equal(evs.items[i].data_len, items[i - 1].len);
    }
    assert_memory_equal(evs.items[4].parent, r[2].hash, 32);
    th_chain_events_free(&evs);
    assert_int_equal(th_chain_verify(f->c, NULL, &res, &err), TH_OK);
    assert_int_equal(res.events, 5);
}

/* A writer whose batches hold a few events commits a long queue in many
 * chunks (each walked through its array of entries, read ahead): every
 * event is stored once, in order, with its data, and heard by listeners
 * in order; the chains verify. */
static void test_small_batches(void **state)
{
    fixture *f = *state;
    counter cn = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 1};
    th_chain_config cfg = {0};
    th_chain_verify_result res;
    th_chain_query q = {0};
    th_chain_events evs;
    th_chain *c = NULL;
    th_error err;
    char data[600], actor[16];
    uint64_t id;
    size_t len;
    int i, k;

    assert_int_equal(th_chain_close(f->c), TH_OK);
    cfg.home = f->home;
    cfg.sync_normal = 1;
    cfg.batch_max_events = 7;
    if (th_chain_open(&cfg, &c, &err) != TH_OK)
        fail_msg("open: %s", err.msg);
    f->c = c;
    assert_int_equal(th_chain_subscribe(c, on_event, &cn, &id, &err), TH_OK);
    for (i = 0; i < 600; i++) {
        /* sizes from a few bytes to several cache lines; a repeated
         * start and end (the segment's edits of an earlier event) */
        len = (size_t)(i * 37) % sizeof data;
        memset(data, 'a' + i % 3, len);
        if (len > 8)
            snprintf(data + len / 2, 8, "%d", i);
        snprintf(actor, sizeof actor, "listen-%c", "abc"[i % 3]);
        if (th_chain_append(c, actor, i % 2 ? "host-call" : "wasm-call", data, len, NULL, NULL,
                            &err) != TH_OK)
            fail_msg("append: %s", err.msg);
    }
    assert_int_equal(th_chain_flush(c, 10000, &err), TH_OK);
    assert_int_equal(cn.n, 600);
    assert_int_equal(cn.order_ok, 1);
    q.actor = "listen-b";
    assert_int_equal(th_chain_read(c, &q, &evs, &err), TH_OK);
    assert_int_equal(evs.count, 200);
    for (k = 0; k < 200; k++) {
        i = 3 * k + 1;
        len = (size_t)(i * 37) % sizeof data;
        memset(data, 'a' + i % 3, len);
        if (len > 8)
            snprintf(data + len / 2, 8, "%d", i);
        assert_int_equal(evs.items[k].seq, k);
        assert_string_equal(evs.items[k].type, i % 2 ? "host-call" : "wasm-call");
        assert_int_equal(evs.items[k].data_len, len);
        if (len > 0)
            assert_memory_equal(evs.items[k].data, data, len);
    }
    th_chain_events_free(&evs);
    assert_int_equal(th_chain_unsubscribe(c, id), TH_OK);
    if (th_chain_verify(c, NULL, &res, &err) != TH_OK)
        fail_msg("verify: %s", err.msg);
    assert_int_equal(res.events, 600);
    assert_int_equal(res.actors, 3);
}

/* The data of event i of test_append_many_slabs: `len` bytes, a pattern
 * of i (written into buf, which holds at least len bytes). */
static size_t slab_event(int i, uint8_t *buf)
{
    /* mostly small (many share a slab), now and then several KiB (slabs
     * fill up early), and one above a whole slab (an entry of its own) */
    size_t len = i == 150 ? 100000 : i % 50 == 7 ? 9000 + (size_t)i : (size_t)(i * 13) % 300;
    size_t k;

    for (k = 0; k < len; k++)
        buf[k] = (uint8_t)(i * 7 + k * 3);
    return len;
}

/* th_chain_append_many queues each call's events in slabs (one allocation
 * for many entries, freed with its last entry): calls whose events fill
 * several slabs, or need an entry of their own, stored by a writer whose
 * small batches split slabs between commits, read back byte for byte and
 * verify; the listener hears each event once, in order. */
static void test_append_many_slabs(void **state)
{
    fixture *f = *state;
    counter cn = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 1};
    th_chain_config cfg = {0};
    th_chain_verify_result res;
    th_chain_item items[128];
    th_chain_query q = {0};
    th_chain_events evs;
    th_chain *c = NULL;
    th_error err;
    uint8_t *data = malloc(300000), *buf = malloc(100000), *p;
    uint64_t id;
    size_t len;
    int i, k, n, total = 0;

    assert_non_null(data);
    assert_non_null(buf);
    assert_int_equal(th_chain_close(f->c), TH_OK);
    cfg.home = f->home;
    cfg.sync_normal = 1;
    cfg.batch_max_events = 5;
    if (th_chain_open(&cfg, &c, &err) != TH_OK)
        fail_msg("open: %s", err.msg);
    f->c = c;
    assert_int_equal(th_chain_subscribe(c, on_event, &cn, &id, &err), TH_OK);
    for (n = 1; total + n <= 400; n = n * 37 % 128 + 1) {
        for (k = 0, p = data; k < n; k++) {
            items[k].type = (total + k) % 2 ? "host-call" : "wasm-call";
            items[k].data = p;
            items[k].len = slab_event(total + k, p);
            p += items[k].len;
        }
        if (th_chain_append_many(c, "listen-b", items, (size_t)n, NULL, &err) != TH_OK)
            fail_msg("append_many: %s", err.msg);
        total += n;
    }
    assert_int_equal(th_chain_flush(c, 10000, &err), TH_OK);
    assert_int_equal(cn.n, total);
    assert_int_equal(cn.order_ok, 1);
    q.actor = "listen-b";
    assert_int_equal(th_chain_read(c, &q, &evs, &err), TH_OK);
    assert_int_equal(evs.count, total);
    for (i = 0; i < total; i++) {
        len = slab_event(i, buf);
        assert_int_equal(evs.items[i].seq, i);
        assert_string_equal(evs.items[i].type, i % 2 ? "host-call" : "wasm-call");
        assert_int_equal(evs.items[i].data_len, len);
        if (len > 0)
            assert_memory_equal(evs.items[i].data, buf, len);
    }
    th_chain_events_free(&evs);
    assert_int_equal(th_chain_unsubscribe(c, id), TH_OK);
    if (th_chain_verify(c, NULL, &res, &err) != TH_OK)
        fail_msg("verify: %s", err.msg);
    assert_int_equal(res.events, total);
    free(data);
    free(buf);
}

/* Appending threads encode a due group commit themselves (the writer
 * thread then only stores it): four threads appending batches to their own
 * chains and to a shared one, with a writer whose batches are small, so
 * that appenders and the writer thread take the queue in turn.  Every
 * event is stored once, in order (the listener), the chains verify, and
 * after a reopen the segments go on numbered from the last one. */
typedef struct many_arg {
    th_chain *c;
    int index, calls;
} many_arg;

static void *many_worker(void *arg)
{
    many_arg *m = arg;
    th_chain_item items[40];
    uint32_t vals[40];
    char own[16];
    th_error err;
    int i, k, n;

    snprintf(own, sizeof own, "own-%d", m->index);
    for (i = 0; i < m->calls; i++) {
        n = 1 + (i * 7 + m->index) % 40;
        for (k = 0; k < n; k++) {
            vals[k] = (uint32_t)(i * 100 + k);
            items[k].type = k % 3 ? "host-call" : "wasm-call";
            items[k].data = &vals[k];
            items[k].len = sizeof vals[k];
        }
        if (th_chain_append_many(m->c, i % 4 == 0 ? "listen-b" : own, items, (size_t)n, NULL,
                                 &err) != TH_OK)
            return (void *)1;
    }
    return NULL;
}

static void test_appenders_encode(void **state)
{
    fixture *f = *state;
    counter cn = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 1};
    th_chain_config cfg = {0};
    th_chain_verify_result res;
    th_chain_head head;
    many_arg m[4];
    pthread_t t[4];
    th_chain *c = NULL;
    uint64_t id, total = 0, shared = 0;
    th_error err;
    void *ret;
    int i, k;

    assert_int_equal(th_chain_close(f->c), TH_OK);
    cfg.home = f->home;
    cfg.sync_normal = 1;
    cfg.batch_max_events = 64;
    if (th_chain_open(&cfg, &c, &err) != TH_OK)
        fail_msg("open: %s", err.msg);
    f->c = c;
    assert_int_equal(th_chain_subscribe(c, on_event, &cn, &id, &err), TH_OK);
    for (i = 0; i < 4; i++) {
        m[i].c = c;
        m[i].index = i;
        m[i].calls = 400;
        for (k = 0; k < m[i].calls; k++) {
            total += (uint64_t)(1 + (k * 7 + i) % 40);
            if (k % 4 == 0)
                shared += (uint64_t)(1 + (k * 7 + i) % 40);
        }
        assert_int_equal(pthread_create(&t[i], NULL, many_worker, &m[i]), 0);
    }
    for (i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(t[i], &ret), 0);
        assert_null(ret);
    }
    assert_int_equal(th_chain_flush(c, 10000, &err), TH_OK);
    assert_true(chain_segments_by_appenders(c) > 0);
    assert_int_equal(cn.n, total);
    assert_int_equal(cn.order_ok, 1);
    assert_int_equal(th_chain_unsubscribe(c, id), TH_OK);
    assert_int_equal(th_chain_head_get(c, "listen-b", &head, &err), TH_OK);
    assert_int_equal(head.count, shared);
    if (th_chain_verify(c, NULL, &res, &err) != TH_OK)
        fail_msg("verify: %s", err.msg);
    assert_int_equal(res.events, total);
    assert_int_equal(res.actors, 5);
    /* reopened: the next segments follow the stored ones */
    assert_int_equal(th_chain_close(c), TH_OK);
    f->c = c = NULL;
    if (th_chain_open(&cfg, &c, &err) != TH_OK)
        fail_msg("reopen: %s", err.msg);
    f->c = c;
    m[0].c = c;
    m[0].calls = 100;
    assert_null(many_worker(&m[0]));
    for (k = 0; k < 100; k++)
        total += (uint64_t)(1 + k * 7 % 40);
    assert_int_equal(th_chain_flush(c, 10000, &err), TH_OK);
    if (th_chain_verify(c, NULL, &res, &err) != TH_OK)
        fail_msg("verify after reopen: %s", err.msg);
    assert_int_equal(res.events, total);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_sizes),
        cmocka_unit_test_setup_teardown(test_append_read_and_hash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_append_many, setup, teardown),
        cmocka_unit_test_setup_teardown(test_actors_and_verify, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_input, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_continues_and_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_listener, setup, teardown),
        cmocka_unit_test_setup_teardown(test_small_batches, setup, teardown),
        cmocka_unit_test_setup_teardown(test_append_many_slabs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_appenders_encode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_appends, setup, teardown),
        cmocka_unit_test_setup_teardown(test_export_verify_import, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idle_chains_leave_memory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idle_table_shrinks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idle_drop_races_appends, setup, teardown),
        cmocka_unit_test_setup_teardown(test_waiter_commits_now, setup, teardown),
        cmocka_unit_test(test_merkle_paths),
        cmocka_unit_test_setup_teardown(test_content_ref, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_checks_index, setup, teardown),
        cmocka_unit_test_setup_teardown(test_db_mode, setup, teardown),
        cmocka_unit_test(test_wal_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
