/*
 * db.h - the database part (src/db/), below the store and the event chain:
 * opening THEATER_HOME/theater.db with the project's schema (one database for
 * content, labels and event chains; see db.c for the schema and its
 * versions), paths in the home, and mapping SQLite result codes to th_error
 * values.  Internal: included by src/store/, src/chain/ and the durable
 * records of src/runtime/ (durable.c, restore.c).
 */
#ifndef THEATER_DB_H
#define THEATER_DB_H

#include <sqlite3.h>

#include "theater/error.h"

#define DB_FILE "theater.db"
#define DB_VERSION 2 /* PRAGMA user_version this program writes */

enum {
    DB_READONLY = 1,    /* open read-only; fail if the database is missing */
    DB_SYNC_NORMAL = 2, /* synchronous=NORMAL instead of FULL */
};

/* Open (and unless read-only create and migrate) theater.db in the home
 * directory `home` (already resolved, see th_home_resolve), in WAL mode with
 * a busy timeout.  On success *out is a connection the caller closes with
 * sqlite3_close_v2.  Errors: TH_ENOENT, TH_EVERSION, TH_ECORRUPT, TH_EIO. */
int db_open(const char *home, int flags, sqlite3 **out /* out */, th_error *err);

/* Fill `err` for SQLite result `rc` on `db` while doing `what`; returns the
 * TH_E* code (TH_ECORRUPT for damaged files, TH_EBUSY for lock timeouts,
 * TH_ETOOBIG, TH_ENOMEM, else TH_EIO). */
int db_error(sqlite3 *db, int rc, th_error *err, const char *what);

/* Build "<home>/<name>" into `out` (`cap` bytes); 0 or TH_ETOOBIG. */
int db_home_path(const char *home, const char *name, char *out /* out */, size_t cap,
                 th_error *err);

#endif
