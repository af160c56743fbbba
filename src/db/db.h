/*
 * db.h - the database part (src/db/), below the store and the event chain:
 * opening the databases of THEATER_HOME with their schemas (theater.db:
 * content, labels and event chains; durable.db: a daemon's durable actors
 * and messages; see db.c for the schemas and their versions), paths in the
 * home, and mapping SQLite result codes to th_error values.  Internal:
 * included by src/store/, src/chain/ and the durable records of
 * src/runtime/ (durable.c, restore.c).
 */
#ifndef THEATER_DB_H
#define THEATER_DB_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "theater/error.h"

#define DB_FILE "theater.db"
#define DB_VERSION 3 /* PRAGMA user_version this program writes */
#define DB_DURABLE_FILE "durable.db"
#define DB_DURABLE_VERSION 1

/* One database file of the home and its schema. */
typedef struct db_schema {
    const char *file;              /* its name in the home */
    int application_id;            /* PRAGMA application_id: whose file it is */
    int version;                   /* PRAGMA user_version this program writes */
    const char *const *migrations; /* [i] moves version i to i + 1 */
} db_schema;

extern const db_schema db_main;    /* theater.db */
extern const db_schema db_durable; /* durable.db */

enum {
    DB_READONLY = 1,    /* open read-only; fail if the database is missing */
    DB_SYNC_NORMAL = 2, /* synchronous=NORMAL instead of FULL */
    DB_BUFFER_WAL = 4,  /* through db_wal_vfs: a commit's WAL frames in one write */
    DB_GROW_WAL = 8,    /* with DB_BUFFER_WAL: the WAL grows ahead in chunks of zeros */
};

/* The name of the VFS that gathers each commit's writes to the WAL into one
 * write (wal_vfs.c), registered on first call; NULL if this SQLite is not
 * one it was checked against (the default VFS is used then).  With `grow`,
 * the one that also grows a WAL ahead of its frames in chunks of zeros, so
 * that a commit's fsync finds the file's size and blocks already durable
 * (one fsync'ed single put of 1 KiB in the content store: about half the
 * time; the chain writer's large commits gain nothing and lose the
 * zeros' writes, so it does not use it). */
const char *db_wal_vfs(int grow);

/* Install SQLite's default page cache wrapped so that a b-tree rebalance
 * no longer makes the end of a transaction scan the whole cache
 * (pcache.c); once per process, before SQLite is initialized (db_open does
 * it; later it changes nothing). */
void db_pcache_install(void);

/* 1 if the wrapped cache is in use (0: SQLite was initialized before
 * db_pcache_install ran); *parked (if not NULL) counts the pages that
 * rebalances have moved through the parking spot so far. */
int db_pcache_active(unsigned long *parked /* out */);

/* Open (and unless read-only create and migrate) theater.db in the home
 * directory `home` (already resolved, see th_home_resolve), in WAL mode with
 * a busy timeout.  On success *out is a connection the caller closes with
 * sqlite3_close_v2.  Errors: TH_ENOENT, TH_EVERSION, TH_ECORRUPT, TH_EIO. */
int db_open(const char *home, int flags, sqlite3 **out /* out */, th_error *err);

/* The same for any database of the home: db_open is db_open_schema with
 * &db_main. */
int db_open_schema(const char *home, const db_schema *s, int flags, sqlite3 **out /* out */,
                   th_error *err);

/* Fill `err` for SQLite result `rc` on `db` while doing `what`; returns the
 * TH_E* code (TH_ECORRUPT for damaged files, TH_EBUSY for lock timeouts,
 * TH_ETOOBIG, TH_ENOMEM, else TH_EIO).  The message names the database
 * file ("PATH: WHAT: SQLite's message") unless the error is not about the
 * file (TH_ENOMEM, TH_ETOOBIG) or `what` names it already. */
int db_error(sqlite3 *db, int rc, th_error *err, const char *what);

/* The content store's bytes (schema version 3, see db.c): every writer of
 * store_blob (the store and the chain's writer) prepares these two and
 * calls db_blob_id, inside its write transaction, then adds its
 * store_content row (hash, store, blob id). */
#define DB_SQL_BLOB_FIND "SELECT blob FROM store_content WHERE hash = ?1 AND blob > 0 LIMIT 1"
#define DB_SQL_BLOB_INSERT "INSERT INTO store_blob(hash, size, data) VALUES(?1, ?2, ?3)"

/* The id in store_blob of the content `hash` (its SHA-256; data[0..len)
 * its bytes): the one any store already holds (`find`: DB_SQL_BLOB_FIND),
 * else a new row (`insert`: DB_SQL_BLOB_INSERT), into *id.  Both statements
 * are reset on return.  Returns a SQLite code (SQLITE_OK). */
int db_blob_id(sqlite3_stmt *find, sqlite3_stmt *insert, const uint8_t hash[32], const void *data,
               size_t len, sqlite3_int64 *id /* out */);

/* Build "<home>/<name>" into `out` (`cap` bytes); 0 or TH_ETOOBIG. */
int db_home_path(const char *home, const char *name, char *out /* out */, size_t cap,
                 th_error *err);

#endif
