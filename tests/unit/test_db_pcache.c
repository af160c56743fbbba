/*
 * test_db_pcache.c - the page cache that db_open installs (src/db/pcache.c):
 * it is in use after db_open; b-tree rebalances move pages through its
 * parking spot; and with it, random inserts into a WITHOUT ROWID table
 * (rebalancing often), transactions rolled back after they grew the file,
 * and a second connection reading alongside all leave exactly the rows
 * committed, in a database that passes SQLite's integrity check.
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
#include <unistd.h>

#include "db/db.h"

#define ROWS 6000

static char home[256];

static void exec_ok(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);

    if (rc != SQLITE_OK)
        fprintf(stderr, "%s: %s\n", sql, msg ? msg : sqlite3_errstr(rc));
    sqlite3_free(msg);
    assert_int_equal(rc, SQLITE_OK);
}

/* Row i's key: 32 bytes spread over the key space (an LCG's output), so
 * inserts in order of i land in random leaves. */
static void row_key(unsigned i, uint8_t key[32])
{
    uint64_t x = (uint64_t)i * 0x9E3779B97F4A7C15ull + 1;
    unsigned k;

    for (k = 0; k < 32; k += 8) {
        x ^= x >> 29;
        x *= 0xBF58476D1CE4E5B9ull;
        x ^= x >> 32;
        memcpy(key + k, &x, 8);
    }
}

static int insert_row(sqlite3 *db, sqlite3_stmt *ins, unsigned i)
{
    uint8_t key[32], val[120];
    int rc;

    row_key(i, key);
    memset(val, (int)(i & 0xff), sizeof val);
    sqlite3_bind_blob(ins, 1, key, sizeof key, SQLITE_TRANSIENT);
    sqlite3_bind_blob(ins, 2, val, sizeof val, SQLITE_TRANSIENT);
    sqlite3_bind_int64(ins, 3, (sqlite3_int64)i);
    rc = sqlite3_step(ins);
    sqlite3_reset(ins);
    (void)db;
    return rc;
}

/* 1 if row i is present with its value, 0 if absent. */
static int row_present(sqlite3_stmt *get, unsigned i)
{
    uint8_t key[32];
    const uint8_t *v;
    int rc, found = 0;

    row_key(i, key);
    sqlite3_bind_blob(get, 1, key, sizeof key, SQLITE_TRANSIENT);
    rc = sqlite3_step(get);
    if (rc == SQLITE_ROW) {
        found = 1;
        assert_int_equal(sqlite3_column_bytes(get, 0), 120);
        v = sqlite3_column_blob(get, 0);
        assert_int_equal(v[0], (int)(i & 0xff));
        assert_int_equal(v[119], (int)(i & 0xff));
        assert_int_equal(sqlite3_column_int64(get, 1), (sqlite3_int64)i);
    } else {
        assert_int_equal(rc, SQLITE_DONE);
    }
    sqlite3_reset(get);
    return found;
}

static void test_rebalances_keep_rows(void **state)
{
    sqlite3 *db = NULL, *rd = NULL;
    sqlite3_stmt *ins = NULL, *get = NULL, *rget = NULL, *chk = NULL;
    unsigned long parked0 = 0, parked1 = 0;
    unsigned i, n = 0;
    th_error err;

    (void)state;
    assert_int_equal(db_open(home, DB_SYNC_NORMAL, &db, &err), TH_OK);
    assert_int_equal(db_open(home, DB_SYNC_NORMAL, &rd, &err), TH_OK);
    assert_int_equal(db_pcache_active(&parked0), 1);
    exec_ok(db, "CREATE TABLE t(k BLOB PRIMARY KEY, v BLOB NOT NULL, i INTEGER NOT NULL)"
                " WITHOUT ROWID");
    assert_int_equal(
        sqlite3_prepare_v2(db, "INSERT INTO t(k, v, i) VALUES(?, ?, ?)", -1, &ins, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT v, i FROM t WHERE k = ?", -1, &get, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(rd, "SELECT v, i FROM t WHERE k = ?", -1, &rget, NULL),
                     SQLITE_OK);
    /* One row per transaction; every seventh transaction adds a batch of
     * rows (growing the file) and is rolled back; the reader checks the
     * latest row and one rolled-back row as it goes. */
    for (i = 0; i < ROWS; i++) {
        exec_ok(db, "BEGIN IMMEDIATE");
        if (i % 7 == 3) {
            unsigned k;

            for (k = 0; k < 40; k++)
                assert_int_equal(insert_row(db, ins, ROWS + i * 40 + k), SQLITE_DONE);
            exec_ok(db, "ROLLBACK");
            continue;
        }
        assert_int_equal(insert_row(db, ins, i), SQLITE_DONE);
        exec_ok(db, "COMMIT");
        n++;
        if (i % 97 == 0) {
            assert_int_equal(row_present(rget, i), 1);
            assert_int_equal(row_present(rget, ROWS + 3 * 40), 0);
        }
    }
    /* Every committed row, none of the rolled-back ones, from both. */
    for (i = 0; i < ROWS; i++) {
        assert_int_equal(row_present(get, i), i % 7 != 3);
        assert_int_equal(row_present(rget, i), i % 7 != 3);
    }
    for (i = 3; i < ROWS; i += 7 * 13)
        assert_int_equal(row_present(get, ROWS + i * 40 + 5), 0);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &chk, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(chk), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(chk, 0), "ok");
    sqlite3_finalize(chk);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM t", -1, &chk, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(chk), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int64(chk, 0), (sqlite3_int64)n);
    sqlite3_finalize(chk);
    /* the workload went through the parking spot (random inserts into a
     * b-tree of 32-byte keys rebalance with pages out of order) */
    assert_int_equal(db_pcache_active(&parked1), 1);
    assert_true(parked1 > parked0);
    sqlite3_finalize(ins);
    sqlite3_finalize(get);
    sqlite3_finalize(rget);
    assert_int_equal(sqlite3_close(rd), SQLITE_OK);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rebalances_keep_rows),
    };
    char cmd[300];
    int rc;

    snprintf(home, sizeof home, "/tmp/theater-test-pcache-%ld", (long)getpid());
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", home);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", home);
    return rc;
}
