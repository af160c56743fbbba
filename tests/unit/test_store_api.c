/*
 * test_store_api.c - unit tests of the content store (theater/store.h):
 * every call of the ABI's store interface, the batch put (all or nothing),
 * dedup, limits, bad input, schema version and damaged-file refusal, the
 * migration of a home of schema version 2.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include "theater/store.h"
#include "theater/home.h"

#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define ABC_SHA256 "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define HELLO_SHA256 "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"

typedef struct fixture {
    char home[256];
    th_store *s;
    char id[TH_STORE_ID_LEN + 1];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    th_store_config cfg = {0};
    th_error err;

    snprintf(f->home, sizeof f->home, "/tmp/theater-store-test-XXXXXX");
    assert_non_null(mkdtemp(f->home));
    cfg.home = f->home;
    cfg.max_blob_bytes = 1024 * 1024;
    assert_int_equal(th_store_open(&cfg, &f->s, &err), TH_OK);
    assert_int_equal(th_store_new(f->s, f->id, &err), TH_OK);
    *state = f;
    return 0;
}

/* Another handle on the fixture's home, opened as the daemon opens its
 * own (synchronous=NORMAL); the caller closes it. */
static th_store *open_other(const fixture *f)
{
    th_store_config cfg = {0};
    th_store *s = NULL;
    th_error err;

    cfg.home = f->home;
    cfg.sync_normal = 1;
    assert_int_equal(th_store_open(&cfg, &s, &err), TH_OK);
    return s;
}

static int teardown(void **state)
{
    fixture *f = *state;
    char cmd[300];

    th_store_close(f->s);
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->home);
    if (system(cmd) != 0)
        return -1;
    free(f);
    return 0;
}

static void test_new_and_list_stores(void **state)
{
    fixture *f = *state;
    char id2[TH_STORE_ID_LEN + 1];
    th_store_list l = {0};
    th_error err;

    assert_int_equal(strlen(f->id), 36);
    assert_int_equal(f->id[14], '4'); /* version 4 */
    assert_int_equal(th_store_new(f->s, id2, &err), TH_OK);
    assert_string_not_equal(f->id, id2);
    assert_int_equal(th_store_list_stores(f->s, &l, &err), TH_OK);
    assert_int_equal(l.count, 2);
    assert_true((strcmp(l.items[0], f->id) == 0 && strcmp(l.items[1], id2) == 0) ||
                (strcmp(l.items[1], f->id) == 0 && strcmp(l.items[0], id2) == 0));
    th_store_list_free(&l);
}

static void test_put_get_exists(void **state)
{
    fixture *f = *state;
    th_content_ref ref, ref2;
    th_error err;
    void *data;
    size_t len;
    bool ex;

    assert_int_equal(th_store_put(f->s, f->id, "abc", 3, &ref, &err), TH_OK);
    assert_string_equal(ref.hash, ABC_SHA256);
    assert_int_equal(th_store_get(f->s, f->id, ref.hash, &data, &len, &err), TH_OK);
    assert_int_equal(len, 3);
    assert_memory_equal(data, "abc", 3);
    free(data);
    assert_int_equal(th_store_exists(f->s, f->id, ref.hash, &ex, &err), TH_OK);
    assert_int_equal(ex, 1);
    assert_int_equal(th_store_exists(f->s, f->id, EMPTY_SHA256, &ex, &err), TH_OK);
    assert_int_equal(ex, 0);
    /* Empty content is fine and has the well-known digest. */
    assert_int_equal(th_store_put(f->s, f->id, NULL, 0, &ref2, &err), TH_OK);
    assert_string_equal(ref2.hash, EMPTY_SHA256);
    assert_int_equal(th_store_get(f->s, f->id, EMPTY_SHA256, &data, &len, &err), TH_OK);
    assert_int_equal(len, 0);
    assert_non_null(data);
    free(data);
    /* Upper-case references are accepted. */
    assert_int_equal(
        th_store_exists(f->s, f->id,
                        "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD", &ex,
                        &err),
        TH_OK);
    assert_int_equal(ex, 1);
}

static void test_dedup_and_size(void **state)
{
    fixture *f = *state;
    char other[TH_STORE_ID_LEN + 1];
    th_content_ref a, b;
    th_store_list l = {0};
    uint64_t size;
    th_error err;
    bool ex;

    assert_int_equal(th_store_put(f->s, f->id, "hello", 5, &a, &err), TH_OK);
    assert_int_equal(th_store_put(f->s, f->id, "hello", 5, &b, &err), TH_OK);
    assert_string_equal(a.hash, b.hash);
    assert_int_equal(th_store_put(f->s, f->id, "world!", 6, &b, &err), TH_OK);
    assert_int_equal(th_store_list_content(f->s, f->id, &l, &err), TH_OK);
    assert_int_equal(l.count, 2);
    assert_true(strcmp(l.items[0], l.items[1]) < 0);
    th_store_list_free(&l);
    assert_int_equal(th_store_total_size(f->s, f->id, &size, &err), TH_OK);
    assert_int_equal(size, 11);

    /* Another store does not see this store's content, but shares bytes. */
    assert_int_equal(th_store_new(f->s, other, &err), TH_OK);
    assert_int_equal(th_store_exists(f->s, other, a.hash, &ex, &err), TH_OK);
    assert_int_equal(ex, 0);
    assert_int_equal(th_store_total_size(f->s, other, &size, &err), TH_OK);
    assert_int_equal(size, 0);
    assert_int_equal(th_store_put(f->s, other, "hello", 5, &b, &err), TH_OK);
    assert_string_equal(a.hash, b.hash);
    assert_int_equal(th_store_total_size(f->s, other, &size, &err), TH_OK);
    assert_int_equal(size, 5);
}

static void test_labels(void **state)
{
    fixture *f = *state;
    th_content_ref a, b, got;
    th_store_list l = {0};
    th_error err;
    bool found;

    assert_int_equal(th_store_put(f->s, f->id, "v1", 2, &a, &err), TH_OK);
    assert_int_equal(th_store_put(f->s, f->id, "v2", 2, &b, &err), TH_OK);
    assert_int_equal(th_store_label(f->s, f->id, "state", a.hash, &err), TH_OK);
    assert_int_equal(th_store_get_by_label(f->s, f->id, "state", &got, &found, &err), TH_OK);
    assert_int_equal(found, 1);
    assert_string_equal(got.hash, a.hash);
    /* label moves an existing label. */
    assert_int_equal(th_store_label(f->s, f->id, "state", b.hash, &err), TH_OK);
    assert_int_equal(th_store_get_by_label(f->s, f->id, "state", &got, &found, &err), TH_OK);
    assert_string_equal(got.hash, b.hash);
    /* replace-at-label needs an existing label. */
    assert_int_equal(th_store_replace_at_label(f->s, f->id, "state", a.hash, &err), TH_OK);
    assert_int_equal(th_store_get_by_label(f->s, f->id, "state", &got, &found, &err), TH_OK);
    assert_string_equal(got.hash, a.hash);
    assert_int_equal(th_store_replace_at_label(f->s, f->id, "nolabel", a.hash, &err), TH_ENOENT);
    assert_non_null(strstr(err.msg, "nolabel"));
    /* store-at-label creates; replace-content-at-label moves. */
    assert_int_equal(th_store_store_at_label(f->s, f->id, "cfg", "x=1", 3, &got, &err), TH_OK);
    assert_int_equal(th_store_get_by_label(f->s, f->id, "cfg", &a, &found, &err), TH_OK);
    assert_string_equal(a.hash, got.hash);
    assert_int_equal(th_store_replace_content_at_label(f->s, f->id, "cfg", "x=2", 3, &got, &err),
                     TH_OK);
    assert_int_equal(th_store_get_by_label(f->s, f->id, "cfg", &a, &found, &err), TH_OK);
    assert_string_equal(a.hash, got.hash);
    assert_int_equal(th_store_replace_content_at_label(f->s, f->id, "nope", "x", 1, &got, &err),
                     TH_ENOENT);
    /* list-labels, sorted. */
    assert_int_equal(th_store_list_labels(f->s, f->id, &l, &err), TH_OK);
    assert_int_equal(l.count, 2);
    assert_string_equal(l.items[0], "cfg");
    assert_string_equal(l.items[1], "state");
    th_store_list_free(&l);
    /* remove-from-label only when it points there. */
    assert_int_equal(th_store_remove_from_label(f->s, f->id, "cfg", b.hash, &err), TH_ENOENT);
    assert_int_equal(th_store_remove_from_label(f->s, f->id, "cfg", a.hash, &err), TH_OK);
    assert_int_equal(th_store_get_by_label(f->s, f->id, "cfg", &got, &found, &err), TH_OK);
    assert_int_equal(found, 0);
    assert_int_equal(th_store_remove_from_label(f->s, f->id, "cfg", a.hash, &err), TH_ENOENT);
    /* remove-label. */
    assert_int_equal(th_store_remove_label(f->s, f->id, "state", &err), TH_OK);
    assert_int_equal(th_store_remove_label(f->s, f->id, "state", &err), TH_ENOENT);
    assert_int_equal(th_store_list_labels(f->s, f->id, &l, &err), TH_OK);
    assert_int_equal(l.count, 0);
    th_store_list_free(&l);
}

static void test_bad_input(void **state)
{
    fixture *f = *state;
    const char *unknown = "00000000-0000-4000-8000-000000000000";
    th_content_ref ref;
    th_store_list l = {0};
    uint64_t size;
    th_error err;
    void *data;
    size_t len;
    bool ex, found;
    char *big;

    /* Unknown store, malformed store id. */
    assert_int_equal(th_store_put(f->s, unknown, "a", 1, &ref, &err), TH_ENOENT);
    assert_non_null(strstr(err.msg, "unknown store"));
    assert_int_equal(th_store_put(f->s, "not-a-uuid", "a", 1, &ref, &err), TH_EINVAL);
    assert_int_equal(th_store_put(f->s, NULL, "a", 1, &ref, &err), TH_EINVAL);
    assert_int_equal(th_store_get(f->s, unknown, ABC_SHA256, &data, &len, &err), TH_ENOENT);
    assert_int_equal(th_store_exists(f->s, unknown, ABC_SHA256, &ex, &err), TH_ENOENT);
    assert_int_equal(th_store_list_labels(f->s, unknown, &l, &err), TH_ENOENT);
    assert_int_equal(th_store_list_content(f->s, unknown, &l, &err), TH_ENOENT);
    assert_int_equal(th_store_total_size(f->s, unknown, &size, &err), TH_ENOENT);
    assert_int_equal(th_store_get_by_label(f->s, unknown, "x", &ref, &found, &err), TH_ENOENT);
    /* Unknown and malformed references. */
    assert_int_equal(th_store_get(f->s, f->id, ABC_SHA256, &data, &len, &err), TH_ENOENT);
    assert_null(data);
    assert_int_equal(th_store_get(f->s, f->id, "abc", &data, &len, &err), TH_EINVAL);
    assert_int_equal(th_store_get(f->s, f->id, EMPTY_SHA256 "00", &data, &len, &err), TH_EINVAL);
    assert_int_equal(
        th_store_exists(f->s, f->id,
                        "zz7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", &ex,
                        &err),
        TH_EINVAL);
    /* Label on missing content, empty label, over-long label. */
    assert_int_equal(th_store_label(f->s, f->id, "l", ABC_SHA256, &err), TH_ENOENT);
    assert_non_null(strstr(err.msg, "holds no content"));
    assert_int_equal(th_store_put(f->s, f->id, "abc", 3, &ref, &err), TH_OK);
    assert_int_equal(th_store_label(f->s, f->id, "", ref.hash, &err), TH_EINVAL);
    big = malloc(5000);
    memset(big, 'l', 4999);
    big[4999] = '\0';
    assert_int_equal(th_store_label(f->s, f->id, big, ref.hash, &err), TH_ETOOBIG);
    free(big);
    assert_int_equal(th_store_remove_label(f->s, f->id, "missing", &err), TH_ENOENT);
    /* Over-size blob: the limit in this fixture is 1 MiB. */
    big = calloc(1, 1024 * 1024 + 1);
    assert_int_equal(th_store_put(f->s, f->id, big, 1024 * 1024 + 1, &ref, &err), TH_ETOOBIG);
    assert_non_null(strstr(err.msg, "blob limit"));
    assert_int_equal(th_store_store_at_label(f->s, f->id, "big", big, 1024 * 1024 + 1, &ref, &err),
                     TH_ETOOBIG);
    assert_int_equal(th_store_get_by_label(f->s, f->id, "big", &ref, &found, &err), TH_OK);
    assert_int_equal(found, 0); /* nothing half-done */
    assert_int_equal(th_store_put(f->s, f->id, big, 1024 * 1024, &ref, &err), TH_OK);
    free(big);
}

/* Number of references the store holds (list-all-content). */
static size_t content_count(fixture *f, const char *id)
{
    th_store_list l = {0};
    th_error err;
    size_t n;

    assert_int_equal(th_store_list_content(f->s, id, &l, &err), TH_OK);
    n = l.count;
    th_store_list_free(&l);
    return n;
}

static void test_put_many(void **state)
{
    fixture *f = *state;
    th_store_blob blobs[4] = {{"abc", 3}, {NULL, 0}, {"xyz", 3}, {"abc", 3}};
    char other[TH_STORE_ID_LEN + 1];
    th_content_ref refs[4], one;
    uint64_t size;
    th_error err;
    void *data;
    size_t len;
    bool ex;

    assert_int_equal(th_store_put_many(f->s, f->id, blobs, 4, refs, &err), TH_OK);
    assert_string_equal(refs[0].hash, ABC_SHA256);
    assert_string_equal(refs[1].hash, EMPTY_SHA256);
    /* The same content twice in one batch: one reference, stored once. */
    assert_string_equal(refs[3].hash, ABC_SHA256);
    assert_int_equal(content_count(f, f->id), 3);
    assert_int_equal(th_store_total_size(f->s, f->id, &size, &err), TH_OK);
    assert_int_equal(size, 6);
    assert_int_equal(th_store_put(f->s, f->id, "xyz", 3, &one, &err), TH_OK);
    assert_string_equal(one.hash, refs[2].hash);
    assert_int_equal(th_store_get(f->s, f->id, refs[2].hash, &data, &len, &err), TH_OK);
    assert_int_equal(len, 3);
    assert_memory_equal(data, "xyz", 3);
    free(data);
    /* Content already in this store, and content of another store. */
    assert_int_equal(th_store_new(f->s, other, &err), TH_OK);
    assert_int_equal(th_store_put_many(f->s, other, blobs, 3, refs, &err), TH_OK);
    assert_int_equal(content_count(f, other), 3);
    assert_int_equal(th_store_exists(f->s, other, ABC_SHA256, &ex, &err), TH_OK);
    assert_int_equal(ex, 1);
    assert_int_equal(th_store_put_many(f->s, other, blobs, 4, refs, &err), TH_OK);
    assert_int_equal(content_count(f, other), 3);
    assert_int_equal(th_store_get(f->s, other, ABC_SHA256, &data, &len, &err), TH_OK);
    assert_memory_equal(data, "abc", 3);
    free(data);
    /* n = 0 stores nothing and needs no arrays. */
    assert_int_equal(th_store_put_many(f->s, f->id, NULL, 0, NULL, &err), TH_OK);
    assert_int_equal(content_count(f, f->id), 3);
}

/* A handle remembers a few stores it has put into (puts into them skip
 * the proof that the store exists): puts into more stores than it
 * remembers, in turn, each land in their own store; a store never put
 * into by this handle (made by another) is proved to exist; a store that
 * does not exist is refused by put and put_many after puts into known
 * ones, and gets no content. */
static void test_known_stores(void **state)
{
    fixture *f = *state;
    const char *unknown = "00000000-0000-4000-8000-000000000000";
    char ids[6][TH_STORE_ID_LEN + 1], other[TH_STORE_ID_LEN + 1], blob[16];
    th_store_blob two[2] = {{"p", 1}, {"q", 1}};
    th_content_ref ref, refs[2];
    th_store *o = open_other(f);
    unsigned k, round;
    uint64_t size;
    th_error err;

    for (k = 0; k < 6; k++)
        assert_int_equal(th_store_new(f->s, ids[k], &err), TH_OK);
    for (round = 0; round < 3; round++)
        for (k = 0; k < 6; k++) {
            snprintf(blob, sizeof blob, "s%u-r%u", k, round);
            assert_int_equal(th_store_put(f->s, ids[k], blob, strlen(blob), &ref, &err), TH_OK);
            assert_int_equal(th_store_put(f->s, unknown, blob, strlen(blob), &ref, &err),
                             TH_ENOENT);
            assert_non_null(strstr(err.msg, "unknown store"));
        }
    assert_int_equal(th_store_put_many(f->s, unknown, two, 2, refs, &err), TH_ENOENT);
    for (k = 0; k < 6; k++) {
        assert_int_equal(content_count(f, ids[k]), 3);
        assert_int_equal(th_store_total_size(f->s, ids[k], &size, &err), TH_OK);
        assert_int_equal(size, 3 * 5);
    }
    assert_int_equal(th_store_new(o, other, &err), TH_OK);
    assert_int_equal(th_store_put_many(f->s, other, two, 2, refs, &err), TH_OK);
    assert_int_equal(th_store_put(f->s, other, "r", 1, &ref, &err), TH_OK);
    assert_int_equal(content_count(f, other), 3);
    assert_int_equal(th_store_put(f->s, unknown, "r", 1, &ref, &err), TH_ENOENT);
    th_store_close(o);
}

static void test_put_many_bad_input(void **state)
{
    fixture *f = *state;
    const char *unknown = "00000000-0000-4000-8000-000000000000";
    th_store_blob blobs[3] = {{"first", 5}, {NULL, 0}, {"third", 5}};
    th_content_ref refs[3];
    th_error err;
    char *big;
    bool ex;

    memset(refs, 'x', sizeof refs);
    assert_int_equal(th_store_put_many(f->s, unknown, blobs, 3, refs, &err), TH_ENOENT);
    assert_non_null(strstr(err.msg, "unknown store"));
    assert_int_equal(th_store_put_many(f->s, unknown, NULL, 0, NULL, &err), TH_ENOENT);
    assert_int_equal(th_store_put_many(f->s, "not-a-uuid", blobs, 3, refs, &err), TH_EINVAL);
    assert_int_equal(th_store_put_many(f->s, NULL, blobs, 3, refs, &err), TH_EINVAL);
    assert_int_equal(th_store_put_many(f->s, f->id, NULL, 3, refs, &err), TH_EINVAL);
    assert_int_equal(th_store_put_many(f->s, f->id, blobs, 3, NULL, &err), TH_EINVAL);
    /* An over-size blob in the middle: an error naming it, nothing stored,
     * refs_out untouched.  The fixture's limit is 1 MiB. */
    big = calloc(1, 1024 * 1024 + 1);
    assert_non_null(big);
    blobs[1].data = big;
    blobs[1].len = 1024 * 1024 + 1;
    assert_int_equal(th_store_put_many(f->s, f->id, blobs, 3, refs, &err), TH_ETOOBIG);
    assert_non_null(strstr(err.msg, "blob 1 "));
    assert_non_null(strstr(err.msg, "blob limit"));
    assert_int_equal(content_count(f, f->id), 0);
    assert_int_equal(refs[0].hash[0], 'x');
    /* NULL content with a length, in the middle. */
    blobs[1].data = NULL;
    blobs[1].len = 1;
    assert_int_equal(th_store_put_many(f->s, f->id, blobs, 3, refs, &err), TH_EINVAL);
    assert_int_equal(content_count(f, f->id), 0);
    /* At the limit it fits. */
    blobs[1].data = big;
    blobs[1].len = 1024 * 1024;
    assert_int_equal(th_store_put_many(f->s, f->id, blobs, 3, refs, &err), TH_OK);
    assert_int_equal(content_count(f, f->id), 3);
    assert_int_equal(th_store_exists(f->s, f->id, refs[1].hash, &ex, &err), TH_OK);
    assert_int_equal(ex, 1);
    free(big);
}

/* Rows of store_blob, read through a separate connection. */
static int blob_rows(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    int n = -1;

    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM store_blob", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return n;
}

/* A failure inside the transaction (here a trigger that aborts the third
 * blob's insert) rolls back the blobs before it too. */
static void test_put_many_atomic(void **state)
{
    fixture *f = *state;
    th_store_blob blobs[3] = {{"one", 3}, {"two", 3}, {"fail!!!", 7}};
    th_content_ref refs[3], ref;
    char path[300];
    th_error err;
    sqlite3 *db;

    snprintf(path, sizeof path, "%s/theater.db", f->home);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "CREATE TRIGGER fail_seven BEFORE INSERT ON store_blob"
                                  " WHEN NEW.size = 7 BEGIN SELECT RAISE(ABORT, 'injected'); END",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(th_store_put_many(f->s, f->id, blobs, 3, refs, &err), TH_EIO);
    assert_non_null(strstr(err.msg, "injected"));
    assert_int_equal(content_count(f, f->id), 0);
    assert_int_equal(blob_rows(db), 0);
    /* The handle keeps working after the rollback; a single put that fails
     * inside its transaction stores nothing either. */
    assert_int_equal(th_store_put(f->s, f->id, "one", 3, &ref, &err), TH_OK);
    assert_int_equal(th_store_put(f->s, f->id, "fail!!!", 7, &ref, &err), TH_EIO);
    assert_int_equal(content_count(f, f->id), 1);
    assert_int_equal(blob_rows(db), 1);
    assert_int_equal(sqlite3_exec(db, "DROP TRIGGER fail_seven", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(th_store_put_many(f->s, f->id, blobs, 3, refs, &err), TH_OK);
    assert_int_equal(content_count(f, f->id), 3);
    assert_int_equal(blob_rows(db), 3);
    sqlite3_close(db);
}

/* Size of a file of the home, 0 if missing. */
static long long file_size(const fixture *f, const char *name)
{
    char path[300];
    struct stat st;

    snprintf(path, sizeof path, "%s/%s", f->home, name);
    return stat(path, &st) == 0 ? (long long)st.st_size : 0;
}

/* Put `n` distinct 1 KiB blobs, numbered from `first`. */
static void put_numbered(th_store *s, const char *id, unsigned first, unsigned n)
{
    th_content_ref ref;
    uint8_t blob[1024];
    th_error err;
    unsigned i;

    for (i = first; i < first + n; i++) {
        memset(blob, (int)i, sizeof blob);
        memcpy(blob, &i, sizeof i);
        assert_int_equal(th_store_put(s, id, blob, sizeof blob, &ref, &err), TH_OK);
    }
}

/* Checkpoints run while a handle writes.  3000 puts (~9500 WAL frames)
 * wake the checkpointer thread, which copies them into theater.db soon.  In
 * a steady stream of puts the WAL restarts only when the thread finishes a
 * checkpoint holding the handle's mutex, or at the writer's backstop at
 * 32768 frames (4120 bytes each: ~135 MB), should the thread fall behind;
 * either way it stays bounded, where 12000 more puts would make ~41000
 * frames (~170 MB). */
static void test_checkpoints_during_writes(void **state)
{
    fixture *f = *state;
    th_store *s = open_other(f);
    int waited;

    put_numbered(s, f->id, 0, 3000);
    /* (at most a minute: the checkpointer thread may get little CPU in a
     * sanitizer build on a loaded machine) */
    for (waited = 0; waited < 60000 && file_size(f, "theater.db") < 1024 * 1024; waited += 10)
        usleep(10000);
    assert_true(file_size(f, "theater.db") >= 1024 * 1024);
    put_numbered(s, f->id, 3000, 12000);
    assert_true(file_size(f, "theater.db-wal") < 34000ll * 4120);
    th_store_close(s);
}

/* Result columns of PRAGMA wal_checkpoint(TRUNCATE) on a new connection:
 * returns `busy` (1 if a reader kept it from finishing). */
static int truncate_busy(const fixture *f)
{
    char path[300];
    sqlite3_stmt *st = NULL;
    sqlite3 *db;
    int busy = -1;

    snprintf(path, sizeof path, "%s/theater.db", f->home);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    if (sqlite3_prepare_v2(db, "PRAGMA wal_checkpoint(TRUNCATE)", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        busy = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return busy;
}

/* get and exists reuse a read snapshot between calls; that must never hide
 * what another handle committed, nor hold checkpoints back once idle. */
static void test_read_snapshots(void **state)
{
    fixture *f = *state;
    th_content_ref a, b, got;
    th_store *other = open_other(f);
    th_error err;
    void *data;
    size_t len;
    bool ex, found;

    assert_int_equal(th_store_put(f->s, f->id, "first", 5, &a, &err), TH_OK);
    assert_int_equal(th_store_get(f->s, f->id, a.hash, &data, &len, &err), TH_OK);
    free(data);
    /* Committed by another handle right after: seen at once, by get and
     * by exists. */
    assert_int_equal(th_store_put(other, f->id, "second", 6, &b, &err), TH_OK);
    assert_int_equal(th_store_get(f->s, f->id, b.hash, &data, &len, &err), TH_OK);
    assert_int_equal(len, 6);
    assert_memory_equal(data, "second", 6);
    free(data);
    assert_int_equal(th_store_put(other, f->id, "fourth", 6, &got, &err), TH_OK);
    assert_int_equal(th_store_exists(f->s, f->id, got.hash, &ex, &err), TH_OK);
    assert_int_equal(ex, 1);
    /* Labels (which move) always read the latest state. */
    assert_int_equal(th_store_label(other, f->id, "cur", a.hash, &err), TH_OK);
    assert_int_equal(th_store_get(f->s, f->id, a.hash, &data, &len, &err), TH_OK);
    free(data);
    assert_int_equal(th_store_label(other, f->id, "cur", b.hash, &err), TH_OK);
    assert_int_equal(th_store_get_by_label(f->s, f->id, "cur", &got, &found, &err), TH_OK);
    assert_int_equal(found, 1);
    assert_string_equal(got.hash, b.hash);
    /* A miss is still a miss, and an unknown store still unknown. */
    assert_int_equal(th_store_get(f->s, f->id, ABC_SHA256, &data, &len, &err), TH_ENOENT);
    assert_int_equal(
        th_store_exists(f->s, "00000000-0000-4000-8000-000000000000", a.hash, &ex, &err),
        TH_ENOENT);
    /* An idle handle lets go of its snapshot: a TRUNCATE checkpoint, which
     * waits for no reader, completes after a while. */
    assert_int_equal(th_store_get(f->s, f->id, a.hash, &data, &len, &err), TH_OK);
    free(data);
    assert_int_equal(th_store_put(other, f->id, "third", 5, &b, &err), TH_OK);
    int busy = 1;
    for (int waited = 0; waited < 60000 && (busy = truncate_busy(f)) != 0; waited += 20)
        usleep(20000); /* until the snapshot is let go, at most a minute */
    assert_int_equal(busy, 0);
    th_store_close(other);
}

typedef struct worker {
    pthread_t t;
    th_store *s;
    const char *id;
    unsigned base;
    int failures;
} worker;

/* Put numbered blobs (one by one and in batches), read each back at once,
 * and move a label, counting anything that goes wrong. */
static void *worker_main(void *arg)
{
    worker *w = arg;
    uint8_t bytes[4][64];
    th_store_blob blobs[4];
    th_content_ref refs[4], ref;
    th_error err;
    unsigned i, k;
    void *data;
    size_t len;
    bool ex;

    for (i = 0; i < 100; i++) {
        for (k = 0; k < 4; k++) {
            memset(bytes[k], (int)k, sizeof bytes[k]);
            snprintf((char *)bytes[k], sizeof bytes[k], "%u-%u-%u", w->base, i, k);
            blobs[k].data = bytes[k];
            blobs[k].len = sizeof bytes[k];
        }
        if (th_store_put(w->s, w->id, bytes[0], sizeof bytes[0], &ref, &err) != TH_OK ||
            th_store_put_many(w->s, w->id, &blobs[1], 3, &refs[1], &err) != TH_OK)
            w->failures++;
        refs[0] = ref;
        for (k = 0; k < 4; k++) {
            if (th_store_get(w->s, w->id, refs[k].hash, &data, &len, &err) != TH_OK ||
                len != sizeof bytes[k] || memcmp(data, bytes[k], len) != 0)
                w->failures++;
            free(data);
            if (th_store_exists(w->s, w->id, refs[k].hash, &ex, &err) != TH_OK || ex != 1)
                w->failures++;
        }
        if (th_store_label(w->s, w->id, "shared", refs[i % 4].hash, &err) != TH_OK)
            w->failures++;
    }
    return NULL;
}

/* Threads sharing one handle, and another handle on the same home, with
 * writes, reads and checkpoints interleaved. */
static void test_threads(void **state)
{
    fixture *f = *state;
    worker w[3];
    th_store *other = open_other(f);
    int i;

    for (i = 0; i < 3; i++) {
        w[i].s = i == 2 ? other : f->s;
        w[i].id = f->id;
        w[i].base = (unsigned)i;
        w[i].failures = 0;
        assert_int_equal(pthread_create(&w[i].t, NULL, worker_main, &w[i]), 0);
    }
    for (i = 0; i < 3; i++) {
        pthread_join(w[i].t, NULL);
        assert_int_equal(w[i].failures, 0);
    }
    assert_int_equal(content_count(f, f->id), 3 * 100 * 4);
    th_store_close(other);
}

static void test_damaged_content_detected(void **state)
{
    fixture *f = *state;
    char path[300];
    th_content_ref ref;
    th_error err;
    sqlite3 *db;
    void *data;
    size_t len;

    assert_int_equal(th_store_put(f->s, f->id, "precious", 8, &ref, &err), TH_OK);
    snprintf(path, sizeof path, "%s/theater.db", f->home);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "UPDATE store_blob SET data = x'00'", NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(th_store_get(f->s, f->id, ref.hash, &data, &len, &err), TH_ECORRUPT);
    assert_non_null(strstr(err.msg, "damaged"));
    assert_null(data);
    /* Listed in the store but its bytes are gone. */
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "DELETE FROM store_blob", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(th_store_get(f->s, f->id, ref.hash, &data, &len, &err), TH_ECORRUPT);
    assert_non_null(strstr(err.msg, "listed but missing"));
}

/* th_store_get_unverified reads what get reads, without the re-hash:
 * damaged bytes come back as they are (th_store_get is the check), while
 * every other error is the same. */
static void test_get_unverified(void **state)
{
    fixture *f = *state;
    char path[300], other[TH_STORE_ID_LEN + 1];
    th_store_list l;
    th_content_ref ref;
    th_error err;
    sqlite3 *db;
    void *data;
    size_t len;

    assert_int_equal(th_store_put(f->s, f->id, "precious", 8, &ref, &err), TH_OK);
    assert_int_equal(th_store_get_unverified(f->s, f->id, ref.hash, &data, &len, &err), TH_OK);
    assert_int_equal(len, 8);
    assert_memory_equal(data, "precious", 8);
    free(data);
    assert_int_equal(th_store_get_unverified(f->s, f->id, ABC_SHA256, &data, &len, &err),
                     TH_ENOENT);
    assert_null(data);
    assert_int_equal(th_store_get_unverified(f->s, f->id, "abc", &data, &len, &err), TH_EINVAL);
    assert_int_equal(th_store_get_unverified(f->s, "not-a-store", ref.hash, &data, &len, &err),
                     TH_EINVAL);
    assert_int_equal(th_store_new(f->s, other, &err), TH_OK);
    assert_int_equal(th_store_get_unverified(f->s, other, ref.hash, &data, &len, &err), TH_ENOENT);
    snprintf(path, sizeof path, "%s/theater.db", f->home);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "UPDATE store_blob SET data = x'00'", NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    /* damaged: the unverified read returns the stored byte, the check refuses it */
    assert_int_equal(th_store_get_unverified(f->s, f->id, ref.hash, &data, &len, &err), TH_OK);
    assert_int_equal(len, 1);
    free(data);
    assert_int_equal(th_store_get(f->s, f->id, ref.hash, &data, &len, &err), TH_ECORRUPT);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "DELETE FROM store_blob", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    /* (a found blob may be served from the read snapshot of the last
     * get for STORE_SNAP_MS: content never goes away unless the file is
     * tampered with, as here; a listing ends the snapshot) */
    assert_int_equal(th_store_list_stores(f->s, &l, &err), TH_OK);
    th_store_list_free(&l);
    assert_int_equal(th_store_get_unverified(f->s, f->id, ref.hash, &data, &len, &err),
                     TH_ECORRUPT);
    assert_non_null(strstr(err.msg, "listed but missing"));
}

/* Gets move one blob handle from row to row within a read snapshot: rows
 * of every size (empty, within a page, across overflow pages) read back
 * whole, in any order, through both gets; a write on the same handle and
 * a read-only handle (which keeps no snapshot, so must not keep the blob
 * handle either) still see new content at once; malformed references are
 * refused before any read. */
static void test_get_sizes_and_handles(void **state)
{
    static const size_t sizes[] = {0, 1, 1000, 5000, 200 * 1024, 3};
    enum { NSIZES = sizeof sizes / sizeof sizes[0] };
    fixture *f = *state;
    th_store_config cfg = {0};
    th_content_ref refs[NSIZES], ref;
    uint8_t *blobs[NSIZES];
    th_store *ro, *other = open_other(f);
    th_error err;
    char bad[80];
    void *data;
    size_t len, i, j;
    int round;

    for (i = 0; i < NSIZES; i++) {
        blobs[i] = malloc(sizes[i] + 1);
        assert_non_null(blobs[i]);
        for (j = 0; j < sizes[i]; j++)
            blobs[i][j] = (uint8_t)(j * 7 + i);
        assert_int_equal(th_store_put(f->s, f->id, blobs[i], sizes[i], &refs[i], &err), TH_OK);
    }
    cfg.home = f->home;
    cfg.read_only = 1;
    assert_int_equal(th_store_open(&cfg, &ro, &err), TH_OK);
    for (round = 0; round < 3; round++) {
        for (j = 0; j < NSIZES; j++) {
            i = round == 1 ? NSIZES - 1 - j : j; /* forwards, backwards */
            assert_int_equal(th_store_get_unverified(f->s, f->id, refs[i].hash, &data, &len, &err),
                             TH_OK);
            assert_int_equal(len, sizes[i]);
            assert_memory_equal(data, blobs[i], sizes[i]);
            free(data);
            assert_int_equal(th_store_get(f->s, f->id, refs[i].hash, &data, &len, &err), TH_OK);
            assert_int_equal(len, sizes[i]);
            free(data);
            assert_int_equal(th_store_get(ro, f->id, refs[i].hash, &data, &len, &err), TH_OK);
            assert_int_equal(len, sizes[i]);
            assert_memory_equal(data, blobs[i], sizes[i]);
            free(data);
        }
        /* a put on the handle between gets, then by another handle: both
         * seen by the next gets of either handle */
        snprintf(bad, sizeof bad, "new in round %d", round);
        assert_int_equal(
            th_store_put(round == 0 ? f->s : other, f->id, bad, strlen(bad), &ref, &err), TH_OK);
        assert_int_equal(th_store_get_unverified(f->s, f->id, ref.hash, &data, &len, &err), TH_OK);
        assert_int_equal(len, strlen(bad));
        free(data);
        assert_int_equal(th_store_get_unverified(ro, f->id, ref.hash, &data, &len, &err), TH_OK);
        assert_memory_equal(data, bad, len);
        free(data);
    }
    /* malformed references: short, long, a non-hex digit, a NUL inside */
    memcpy(bad, refs[0].hash, sizeof refs[0].hash);
    bad[63] = '\0';
    assert_int_equal(th_store_get(f->s, f->id, bad, &data, &len, &err), TH_EINVAL);
    assert_null(data);
    memcpy(bad, refs[0].hash, 64);
    bad[64] = '0';
    bad[65] = '\0';
    assert_int_equal(th_store_get_unverified(f->s, f->id, bad, &data, &len, &err), TH_EINVAL);
    memcpy(bad, refs[0].hash, sizeof refs[0].hash);
    bad[10] = 'g';
    assert_int_equal(th_store_get_unverified(ro, f->id, bad, &data, &len, &err), TH_EINVAL);
    bad[10] = '\0';
    assert_int_equal(th_store_get_unverified(ro, f->id, bad, &data, &len, &err), TH_EINVAL);
    assert_int_equal(th_store_get_unverified(ro, f->id, NULL, &data, &len, &err), TH_EINVAL);
    th_store_close(ro);
    th_store_close(other);
    for (i = 0; i < NSIZES; i++)
        free(blobs[i]);
}

static void test_reopen_and_read_only(void **state)
{
    fixture *f = *state;
    th_store_config cfg = {0};
    th_content_ref ref;
    th_store *ro;
    th_error err;
    void *data;
    size_t len;
    char id[TH_STORE_ID_LEN + 1];

    assert_int_equal(th_store_put(f->s, f->id, "kept", 4, &ref, &err), TH_OK);
    cfg.home = f->home;
    cfg.read_only = 1;
    assert_int_equal(th_store_open(&cfg, &ro, &err), TH_OK);
    assert_int_equal(th_store_get(ro, f->id, ref.hash, &data, &len, &err), TH_OK);
    assert_memory_equal(data, "kept", 4);
    free(data);
    assert_int_equal(th_store_new(ro, id, &err), TH_EPERM);
    assert_int_equal(th_store_put(ro, f->id, "x", 1, &ref, &err), TH_EPERM);
    assert_int_equal(th_store_put_many(ro, f->id, NULL, 0, NULL, &err), TH_EPERM);
    th_store_close(ro);
    /* Read-only on an empty directory: no database. */
    cfg.home = "/tmp/theater-store-test-does-not-exist";
    assert_int_equal(th_store_open(&cfg, &ro, &err), TH_ENOENT);
    assert_non_null(strstr(err.msg, "no database"));
}

static void test_newer_schema_and_garbage_refused(void **state)
{
    char home[] = "/tmp/theater-store-ver-XXXXXX", path[300], cmd[300];
    th_store_config cfg = {0};
    th_store *s;
    th_error err;
    sqlite3 *db;
    FILE *fp;

    (void)state;
    assert_non_null(mkdtemp(home));
    cfg.home = home;
    assert_int_equal(th_store_open(&cfg, &s, &err), TH_OK);
    th_store_close(s);
    snprintf(path, sizeof path, "%s/theater.db", home);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "PRAGMA user_version=99", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(th_store_open(&cfg, &s, &err), TH_EVERSION);
    assert_non_null(strstr(err.msg, "newer"));
    /* Not a database at all. */
    unlink(path);
    snprintf(cmd, sizeof cmd, "rm -f %s/theater.db-wal %s/theater.db-shm", home, home);
    assert_int_equal(system(cmd), 0);
    fp = fopen(path, "wb");
    for (int i = 0; i < 1000; i++)
        fputs("this is not a database ", fp);
    fclose(fp);
    assert_int_equal(th_store_open(&cfg, &s, &err), TH_ECORRUPT);
    assert_non_null(strstr(err.msg, "not a SQLite database"));
    /* Another application's SQLite database. */
    unlink(path);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(db, "CREATE TABLE t(x); PRAGMA application_id=42", NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(th_store_open(&cfg, &s, &err), TH_ECORRUPT);
    assert_non_null(strstr(err.msg, "not a Theater database"));
    snprintf(cmd, sizeof cmd, "rm -rf %s", home);
    assert_int_equal(system(cmd), 0);
}

/* A home written before schema version 3 (store_blob with an index on its
 * hash, store_content keyed by (store, hash)) is migrated by the first
 * writable open: every reference, label and byte is still there, dedup
 * still finds the old bytes, and a reference whose bytes were missing is
 * still reported as damaged. */
static void test_old_layout_migrated(void **state)
{
    static const char v2[] =
        "CREATE TABLE store(id TEXT PRIMARY KEY NOT NULL, created_ms INTEGER NOT NULL)"
        "  WITHOUT ROWID;"
        "CREATE TABLE store_blob(hash BLOB NOT NULL UNIQUE, size INTEGER NOT NULL,"
        "  data BLOB NOT NULL);"
        "CREATE TABLE store_content(store TEXT NOT NULL, hash BLOB NOT NULL,"
        "  PRIMARY KEY(store, hash)) WITHOUT ROWID;"
        "CREATE TABLE store_label(store TEXT NOT NULL, name TEXT NOT NULL, hash BLOB NOT NULL,"
        "  PRIMARY KEY(store, name)) WITHOUT ROWID;"
        "CREATE TABLE chain_meta(key TEXT PRIMARY KEY NOT NULL, value) WITHOUT ROWID;"
        "CREATE TABLE chain_actor(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
        "  head_seq INTEGER, head_hash BLOB, head_segment INTEGER);"
        "CREATE TABLE chain_segment(id INTEGER PRIMARY KEY, signed_ms INTEGER NOT NULL,"
        "  public_key BLOB NOT NULL, signature BLOB NOT NULL, events BLOB NOT NULL,"
        "  leaves BLOB NOT NULL);"
        "CREATE TABLE chain_span(actor INTEGER NOT NULL, first_seq INTEGER NOT NULL,"
        "  last_seq INTEGER NOT NULL, segments BLOB NOT NULL, PRIMARY KEY(actor, first_seq))"
        "  WITHOUT ROWID;"
        "CREATE TABLE durable_actor(n INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, parent TEXT,"
        "  manifest_path TEXT, manifest_text TEXT NOT NULL, base_dir TEXT, has_init_state INTEGER"
        "  NOT NULL, init_state BLOB, marked_seq INTEGER NOT NULL DEFAULT -1,"
        "  created_ms INTEGER NOT NULL);"
        "CREATE TABLE durable_msg(n INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,"
        "  actor TEXT NOT NULL, sender TEXT, data BLOB, origin TEXT,"
        "  handled INTEGER NOT NULL DEFAULT 0);"
        "CREATE INDEX durable_msg_actor ON durable_msg(actor, handled, n);"
        "INSERT INTO store VALUES('0a6c9a3e-1d3b-4f6e-9c1a-5b7e2d4f6a80', 1),"
        "  ('7f1e2d3c-4b5a-4968-8776-655443322110', 2);"
        "INSERT INTO store_blob(hash, size, data) VALUES"
        "  (x'" ABC_SHA256 "', 3, CAST('abc' AS BLOB)), (x'" EMPTY_SHA256 "', 0, x'');"
        "INSERT INTO store_content VALUES"
        "  ('0a6c9a3e-1d3b-4f6e-9c1a-5b7e2d4f6a80', x'" ABC_SHA256 "'),"
        "  ('0a6c9a3e-1d3b-4f6e-9c1a-5b7e2d4f6a80', x'" EMPTY_SHA256 "'),"
        "  ('7f1e2d3c-4b5a-4968-8776-655443322110', x'" ABC_SHA256 "'),"
        "  ('7f1e2d3c-4b5a-4968-8776-655443322110', x'" HELLO_SHA256 "');"
        "INSERT INTO store_label VALUES"
        "  ('0a6c9a3e-1d3b-4f6e-9c1a-5b7e2d4f6a80', 'first', x'" ABC_SHA256 "');"
        "PRAGMA application_id=1414026322; PRAGMA user_version=2;";
    const char *s1 = "0a6c9a3e-1d3b-4f6e-9c1a-5b7e2d4f6a80";
    const char *s2 = "7f1e2d3c-4b5a-4968-8776-655443322110";
    char home[] = "/tmp/theater-store-v2-XXXXXX", path[300], cmd[300];
    th_store_config cfg = {0};
    th_store_list list = {0};
    th_content_ref ref;
    sqlite3_stmt *st;
    uint64_t bytes;
    bool found;
    th_store *s;
    th_error err;
    sqlite3 *db;
    size_t len;
    void *data;

    (void)state;
    assert_non_null(mkdtemp(home));
    snprintf(path, sizeof path, "%s/theater.db", home);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, v2, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    /* read-only: not migrated, and said so */
    cfg.home = home;
    cfg.read_only = 1;
    assert_int_equal(th_store_open(&cfg, &s, &err), TH_EVERSION);
    assert_non_null(strstr(err.msg, "open it for writing once"));
    cfg.read_only = 0;
    assert_int_equal(th_store_open(&cfg, &s, &err), TH_OK);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 3);
    sqlite3_finalize(st);
    assert_int_equal(blob_rows(db), 2);
    /* the old content, by store */
    assert_int_equal(th_store_get(s, s1, ABC_SHA256, &data, &len, &err), TH_OK);
    assert_int_equal(len, 3);
    assert_memory_equal(data, "abc", 3);
    free(data);
    assert_int_equal(th_store_get(s, s2, ABC_SHA256, &data, &len, &err), TH_OK);
    assert_int_equal(len, 3);
    free(data);
    assert_int_equal(th_store_get(s, s1, EMPTY_SHA256, &data, &len, &err), TH_OK);
    assert_int_equal(len, 0);
    free(data);
    assert_int_equal(th_store_get(s, s2, EMPTY_SHA256, &data, &len, &err), TH_ENOENT);
    assert_int_equal(th_store_get_by_label(s, s1, "first", &ref, &found, &err), TH_OK);
    assert_true(found);
    assert_string_equal(ref.hash, ABC_SHA256);
    assert_int_equal(th_store_list_content(s, s1, &list, &err), TH_OK);
    assert_int_equal(list.count, 2);
    assert_string_equal(list.items[0], ABC_SHA256);
    assert_string_equal(list.items[1], EMPTY_SHA256);
    th_store_list_free(&list);
    assert_int_equal(th_store_total_size(s, s1, &bytes, &err), TH_OK);
    assert_int_equal(bytes, 3);
    /* listed without its bytes before: still damaged, until put again */
    assert_int_equal(th_store_get(s, s2, HELLO_SHA256, &data, &len, &err), TH_ECORRUPT);
    assert_non_null(strstr(err.msg, "missing"));
    /* dedup against the migrated bytes: no new row */
    assert_int_equal(th_store_put(s, s2, "", 0, &ref, &err), TH_OK);
    assert_string_equal(ref.hash, EMPTY_SHA256);
    assert_int_equal(blob_rows(db), 2);
    /* new content after the old ids; the damaged reference repaired */
    assert_int_equal(th_store_put(s, s2, "hello", 5, &ref, &err), TH_OK);
    assert_string_equal(ref.hash, HELLO_SHA256);
    assert_int_equal(blob_rows(db), 3);
    assert_int_equal(th_store_get(s, s2, HELLO_SHA256, &data, &len, &err), TH_OK);
    assert_int_equal(len, 5);
    assert_memory_equal(data, "hello", 5);
    free(data);
    assert_int_equal(th_store_total_size(s, s2, &bytes, &err), TH_OK);
    assert_int_equal(bytes, 8);
    sqlite3_close(db);
    th_store_close(s);
    /* and a second open finds nothing to migrate */
    assert_int_equal(th_store_open(&cfg, &s, &err), TH_OK);
    assert_int_equal(th_store_get(s, s1, ABC_SHA256, &data, &len, &err), TH_OK);
    free(data);
    th_store_close(s);
    snprintf(cmd, sizeof cmd, "rm -rf %s", home);
    assert_int_equal(system(cmd), 0);
}

static void test_home_resolve(void **state)
{
    char out[64];
    th_error err;

    (void)state;
    assert_int_equal(th_home_resolve("/x/y/", out, sizeof out, &err), TH_OK);
    assert_string_equal(out, "/x/y");
    setenv("THEATER_HOME", "/env/home", 1);
    assert_int_equal(th_home_resolve(NULL, out, sizeof out, &err), TH_OK);
    assert_string_equal(out, "/env/home");
    unsetenv("THEATER_HOME");
    setenv("HOME", "/h", 1);
    assert_int_equal(th_home_resolve(NULL, out, sizeof out, &err), TH_OK);
    assert_string_equal(out, "/h/.theater");
    assert_int_equal(
        th_home_resolve("/a/very/long/path/that/does/not/fit/in/sixty/four/bytes/at/all/not/at/all",
                        out, sizeof out, &err),
        TH_ETOOBIG);
}

static void test_open_bad_config(void **state)
{
    th_store_config cfg = {0};
    th_store *s;
    th_error err;

    (void)state;
    cfg.home = "/tmp";
    cfg.max_blob_bytes = (uint64_t)1 << 40;
    assert_int_equal(th_store_open(&cfg, &s, &err), TH_EINVAL);
    th_store_close(NULL);
    th_store_list_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_new_and_list_stores, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_get_exists, setup, teardown),
        cmocka_unit_test_setup_teardown(test_get_unverified, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dedup_and_size, setup, teardown),
        cmocka_unit_test_setup_teardown(test_labels, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_input, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_many, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_many_bad_input, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_many_atomic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_known_stores, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkpoints_during_writes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_snapshots, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged_content_detected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_and_read_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_get_sizes_and_handles, setup, teardown),
        cmocka_unit_test(test_newer_schema_and_garbage_refused),
        cmocka_unit_test(test_old_layout_migrated),
        cmocka_unit_test(test_home_resolve),
        cmocka_unit_test(test_open_bad_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
