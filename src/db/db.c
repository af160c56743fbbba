/*
 * db.c - THEATER_HOME and its databases: theater.db, shared by the store and
 * the event chain (siblings above this part), and durable.db, the daemon's
 * durable records (src/runtime/durable.c); resolving the home, opening,
 * pragmas, the schemas and their migrations, SQLite errors as TH_E* codes.
 *
 * The database is SQLite in WAL mode (readers never block the writer).  Its
 * schema version is PRAGMA user_version; PRAGMA application_id marks the
 * file as Theater's.  Opening for writing applies every migration from the
 * file's version up to DB_VERSION in one IMMEDIATE transaction, so a
 * crash mid-migration leaves the old version.  A file with a newer version,
 * another application's id, or that SQLite does not recognise is refused
 * with a message; it is never modified.
 *
 * theater.db, schema version 3 (the content store's tables as version 3
 * made them; the chain's as version 1 made them):
 *
 *   store(id TEXT PK, created_ms INT)              one row per store (UUID)
 *   store_blob(id INT PK, hash BLOB, size INT,     each distinct content once,
 *     data)                                        appended (rowid order);
 *                                                  hash = SHA-256 (32 bytes),
 *                                                  not indexed: found through
 *                                                  store_content
 *   store_content(hash, store, blob)               what each store holds and
 *     PK(hash, store) WITHOUT ROWID                where its bytes are (blob =
 *                                                  store_blob.id); the hash
 *                                                  first, so one seek finds a
 *                                                  content held by any store
 *   store_label(store, name, hash) PK(store, name) a label -> one reference
 *
 *   chain_meta(key TEXT PK, value)                'public_key': the home's first
 *                                                  signing key; 'indexed_upto':
 *                                                  last segment in chain_span
 *   chain_actor(id INT PK, name TEXT UNIQUE,       one per chain; head_* cache
 *     head_seq, head_hash, head_segment)           its head as of indexed_upto
 *   chain_segment(id INT PK, signed_ms,            one per committed batch:
 *     public_key, signature, events BLOB,          the batch's events, signed,
 *     leaves BLOB)                                 and the signed head leaves
 *                                                  (chain/segment.c, sign.c)
 *   chain_span(actor, first_seq, last_seq,         per chain: which segments
 *     segments BLOB) PK(actor, first_seq)          hold which events
 *     WITHOUT ROWID
 *
 * Schema version 2 added the durable actors of a daemon to theater.db.  They
 * have their own file since (durable.db, below): a message is acknowledged
 * once its row commits, and in theater.db that commit waited for the
 * chain's writer, which holds the file's one write lock for each of its
 * own commits.  The two tables stay in theater.db's schema, empty: the
 * first daemon of this version moves their rows (runtime/durable.c).
 *
 * Schema version 3 changed the content store's layout.  Up to version 2,
 * store_blob(hash UNIQUE, size, data) had an index on the hash beside its
 * rows, and store_content(store, hash) PK(store, hash): a put wrote three
 * b-tree pages (the blob's, the index's and store_content's) and a get
 * sought three times.  Now store_content is keyed by the hash and holds the
 * blob's id: a put writes two pages (store_content's leaf and the blob
 * appended to store_blob's last leaf) and a get seeks twice.  Listing one
 * store's content scans store_content (every store's references).  The
 * migration copies both tables (store_blob's ids are its old rowids); a
 * reference whose bytes were missing keeps blob = -1 and still reads as
 * "listed but missing".
 *
 * durable.db (its own application id, "THDR"), schema version 1, the
 * durable actors of a daemon (runtime/durable.c, docs/durability.md):
 *
 *   durable_actor(n INT PK, id TEXT UNIQUE,        one per live durable actor,
 *     parent, manifest_path, manifest_text,        n = start order; what a
 *     base_dir, has_init_state, init_state,        restart of the daemon needs
 *     marked_seq, created_ms)                      to bring it back; marked_seq:
 *                                                  its chain's events up to it
 *                                                  have their messages marked
 *   durable_msg(n INT PK, id TEXT UNIQUE, actor,   one per acknowledged message
 *     sender, data, origin, handled)               to a durable actor (n = order);
 *                                                  handled rows keep no data
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/limits.h"
#include "db/db.h"
#include "theater/home.h"

/* The durable records' tables: durable.db's first version, and theater.db's
 * version 2 (from before durable.db; unused since, kept empty). */
static const char durable_tables[] =
    "CREATE TABLE durable_actor(n INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, parent TEXT,"
    "  manifest_path TEXT, manifest_text TEXT NOT NULL, base_dir TEXT, has_init_state INTEGER"
    "  NOT NULL, init_state BLOB, marked_seq INTEGER NOT NULL DEFAULT -1,"
    "  created_ms INTEGER NOT NULL);"
    "CREATE TABLE durable_msg(n INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, actor TEXT NOT NULL,"
    "  sender TEXT, data BLOB, origin TEXT, handled INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX durable_msg_actor ON durable_msg(actor, handled, n);";

/* migrations[i] moves a database from version i to version i + 1. */
static const char *const main_migrations[DB_VERSION] = {
    /* 0 -> 1 */
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
    "  WITHOUT ROWID;",
    /* 1 -> 2: durable actors (src/runtime/durable.c) */
    durable_tables,
    /* 2 -> 3: the content store keyed by the hash (see above) */
    "CREATE TABLE store_blob_v3(id INTEGER PRIMARY KEY, hash BLOB NOT NULL,"
    "  size INTEGER NOT NULL, data BLOB NOT NULL);"
    "INSERT INTO store_blob_v3(id, hash, size, data)"
    "  SELECT rowid, hash, size, data FROM store_blob ORDER BY rowid;"
    "CREATE TABLE store_content_v3(hash BLOB NOT NULL, store TEXT NOT NULL,"
    "  blob INTEGER NOT NULL, PRIMARY KEY(hash, store)) WITHOUT ROWID;"
    "INSERT INTO store_content_v3(hash, store, blob)"
    "  SELECT c.hash, c.store, coalesce(b.rowid, -1) FROM store_content c"
    "  LEFT JOIN store_blob b ON b.hash = c.hash;"
    "DROP TABLE store_content;"
    "DROP TABLE store_blob;"
    "ALTER TABLE store_blob_v3 RENAME TO store_blob;"
    "ALTER TABLE store_content_v3 RENAME TO store_content;",
};

static const char *const durable_migrations[DB_DURABLE_VERSION] = {
    /* 0 -> 1 */
    durable_tables,
};

const db_schema db_main = {DB_FILE, 0x54485452 /* "THTR" */, DB_VERSION, main_migrations};
const db_schema db_durable = {DB_DURABLE_FILE, 0x54484452 /* "THDR" */, DB_DURABLE_VERSION,
                              durable_migrations};

/* Whether `what` names the file `path` (SQLite's absolute name of it):
 * holds it, or is it as given (relative: a tail of it after a '/'). */
static bool names_file(const char *what, const char *path)
{
    size_t w = strlen(what), p = strlen(path);

    if (strstr(what, path) != NULL)
        return true;
    return w > 0 && w < p && path[p - w - 1] == '/' && strcmp(path + p - w, what) == 0;
}

int db_error(sqlite3 *db, int rc, th_error *err, const char *what)
{
    const char *msg = db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    const char *path = db != NULL ? sqlite3_db_filename(db, "main") : NULL;
    int code;

    switch (rc & 0xff) {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB: code = TH_ECORRUPT; break;
    case SQLITE_BUSY:
    case SQLITE_LOCKED: code = TH_EBUSY; break;
    case SQLITE_NOMEM: code = TH_ENOMEM; break;
    case SQLITE_TOOBIG: code = TH_ETOOBIG; break;
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PERM: code = TH_EIO; break;
    default: code = TH_EIO; break;
    }
    /* the file in front, unless `what` names it already (whoever reads the
     * message learns which file is damaged, locked or unwritable) */
    if (code != TH_ENOMEM && code != TH_ETOOBIG && path != NULL && path[0] != '\0' &&
        !names_file(what, path))
        return th_error_set(err, code, "%s: %s: %s", path, what, msg);
    return th_error_set(err, code, "%s: %s", what, msg);
}

int db_blob_id(sqlite3_stmt *find, sqlite3_stmt *insert, const uint8_t hash[32], const void *data,
               size_t len, sqlite3_int64 *id)
{
    sqlite3 *db = sqlite3_db_handle(find);
    int rc;

    rc = sqlite3_bind_blob(find, 1, hash, 32, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(find);
    if (rc == SQLITE_ROW)
        *id = sqlite3_column_int64(find, 0);
    sqlite3_reset(find);
    if (rc == SQLITE_ROW)
        return SQLITE_OK;
    if (rc != SQLITE_DONE)
        return rc;
    /* not stored yet (or only listed with its bytes missing: stored again) */
    rc = sqlite3_bind_blob(insert, 1, hash, 32, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(insert, 2, (sqlite3_int64)len);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_blob64(insert, 3, data != NULL ? data : "", len, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(insert);
    sqlite3_reset(insert);
    if (rc != SQLITE_DONE)
        return rc;
    *id = sqlite3_last_insert_rowid(db);
    return SQLITE_OK;
}

int db_home_path(const char *home, const char *name, char *out, size_t cap, th_error *err)
{
    int n = snprintf(out, cap, "%s/%s", home, name);

    if (n < 0 || (size_t)n >= cap)
        return th_error_set(err, TH_ETOOBIG, "path too long: %s/%s", home, name);
    return TH_OK;
}

/* mkdir -p for the home directory (mode 0700: it holds the signing key). */
static int make_home(const char *home, th_error *err)
{
    char path[4096];
    size_t i, n = strlen(home);

    if (n == 0 || n >= sizeof path)
        return th_error_set(err, TH_EINVAL, "bad THEATER_HOME '%s'", home);
    memcpy(path, home, n + 1);
    for (i = 1; i <= n; i++) {
        if (path[i] != '/' && path[i] != '\0')
            continue;
        path[i] = '\0';
        if (mkdir(path, 0700) != 0 && errno != EEXIST)
            return th_error_set(err, TH_EIO, "cannot create %s: %s", path, strerror(errno));
        path[i] = i < n ? '/' : '\0';
    }
    return TH_OK;
}

static int pragma_int(sqlite3 *db, const char *what, const char *sql, int *value, th_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);

    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            *value = sqlite3_column_int(st, 0);
            rc = SQLITE_OK;
        }
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_OK)
        return db_error(db, rc, err, what);
    return TH_OK;
}

static int exec(sqlite3 *db, const char *sql, th_error *err, const char *what)
{
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);

    return rc == SQLITE_OK ? TH_OK : db_error(db, rc, err, what);
}

/* Check identity and version; migrate if writable.  Runs in a transaction
 * so two processes opening a new database do not both migrate it. */
static int check_and_migrate(sqlite3 *db, const db_schema *s, const char *path, int readonly,
                             th_error *err)
{
    int version = 0, app = 0, tables = 0, rc, v;
    char pragma[64], what[96];

    snprintf(what, sizeof what, "migrating its schema (%s)", s->file);
    if (!readonly && (rc = exec(db, "BEGIN IMMEDIATE", err, "checking its schema")) != TH_OK)
        return rc;
    if ((rc = pragma_int(db, "reading its schema", "PRAGMA user_version", &version, err)) !=
            TH_OK ||
        (rc = pragma_int(db, "reading its schema", "PRAGMA application_id", &app, err)) != TH_OK ||
        (rc = pragma_int(db, "reading its schema", "SELECT count(*) FROM sqlite_schema", &tables,
                         err)) != TH_OK)
        goto fail;
    if (app != s->application_id && (app != 0 || tables != 0)) {
        rc = th_error_set(err, TH_ECORRUPT, "%s is not a Theater database (application id %#x)",
                          path, (unsigned)app);
        goto fail;
    }
    if (version > s->version) {
        rc = th_error_set(err, TH_EVERSION,
                          "%s has schema version %d, newer than this theater supports (%d); "
                          "use a newer theater",
                          path, version, s->version);
        goto fail;
    }
    if (version == 0 && tables == 0 && readonly) {
        /* a file with nothing in it: a home's databases are written when
         * first opened for writing, so this one was never used, or was
         * emptied (truncated, replaced): nothing to migrate */
        rc = th_error_set(err, TH_ENOENT,
                          "%s is empty: it holds no records (never written, or truncated or "
                          "replaced since)",
                          path);
        goto fail;
    }
    if (version < s->version && readonly) {
        rc = th_error_set(err, version == 0 ? TH_ENOENT : TH_EVERSION,
                          "%s has schema version %d; open it for writing once to migrate", path,
                          version);
        goto fail;
    }
    for (v = version; v < s->version; v++) {
        if ((rc = exec(db, s->migrations[v], err, what)) != TH_OK)
            goto fail;
    }
    if (!readonly && version < s->version) {
        snprintf(pragma, sizeof pragma, "PRAGMA user_version=%d", s->version);
        if ((rc = exec(db, pragma, err, what)) != TH_OK)
            goto fail;
        snprintf(pragma, sizeof pragma, "PRAGMA application_id=%d", s->application_id);
        if ((rc = exec(db, pragma, err, what)) != TH_OK)
            goto fail;
    }
    if (!readonly && (rc = exec(db, "COMMIT", err, what)) != TH_OK)
        goto fail;
    return TH_OK;
fail:
    if (!readonly)
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

/* theater.db holds every actor's state and messages: owner only.  SQLite
 * creates the -wal, -shm (and -journal) files with the database file's
 * mode, so right after SQLite has opened (or created) the database, before
 * anything is written to it, a writable open makes it owner-only (and any
 * WAL/SHM file left readable by others).  A new database is made whole
 * under another name first (create_whole), never created empty under its
 * own: a process killed between that and SQLite's first write left a file
 * that read-only openers took for one with a hot journal.
 * Anything that is not a regular file under that name is refused (a FIFO
 * would block SQLite's open()).
 *
 * The existing files are only stat()ed and chmod()ed by name, never opened
 * and closed here: closing any descriptor of a file drops every POSIX lock
 * this process holds on it, i.e. the locks of other SQLite connections to
 * the same database. */
static int prepare_file(const char *path, int create, th_error *err)
{
    static const char *const suffixes[] = {"", "-wal", "-shm"};
    char p[4200];
    struct stat st;
    size_t i;
    int e;

    for (i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        snprintf(p, sizeof p, "%s%s", path, suffixes[i]);
        if (stat(p, &st) != 0) {
            e = errno;
            if (e == ENOENT && (i > 0 || create))
                continue; /* SQLite creates it */
            if (e == ENOENT)
                return th_error_set(err, TH_ENOENT, "no database at %s", p);
            return th_error_set(err, TH_EIO, "cannot stat %s: %s", p, strerror(e));
        }
        if (!S_ISREG(st.st_mode))
            return th_error_set(err, TH_EIO, "%s is not a regular file; refusing to use it", p);
        if (create && (st.st_mode & 077) != 0 && st.st_uid == geteuid())
            (void)chmod(p, st.st_mode & 0700);
    }
    return TH_OK;
}

/* A new database appears whole: it is made under a temporary name in the
 * home (owner-only, switched to WAL, closed cleanly so no -wal or -shm is
 * left) and then linked to its name, which fails harmlessly when another
 * process got there first.  SQLite creating it in place left, for a process
 * killed during the switch to WAL (the database's first write), a file with
 * a hot rollback journal that no read-only opener may roll back: offline
 * readers then failed with "attempt to write a readonly database" until a
 * writer opened it.  A process killed here leaves only its temporary file
 * (NAME.new-PID), never a half-made database under the real name. */
static int create_whole(const char *home, const char *path, th_error *err)
{
    char tmp[4200];
    sqlite3 *db = NULL;
    int rc, src, fd;

    snprintf(tmp, sizeof tmp, "%s.new-%ld", path, (long)getpid());
    (void)unlink(tmp); /* left by a killed process that had this pid */
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return th_error_set(err, TH_EIO, "cannot create %s: %s", tmp, strerror(errno));
    close(fd);
    src = sqlite3_open_v2(tmp, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (src == SQLITE_OK)
        src = sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
    if (src != SQLITE_OK) {
        rc = db_error(db, src, err, tmp);
        sqlite3_close_v2(db);
    } else if (sqlite3_close(db) != SQLITE_OK) {
        rc = th_error_set(err, TH_EIO, "cannot close %s", tmp);
        sqlite3_close_v2(db);
    } else if (link(tmp, path) != 0 && errno != EEXIST) {
        rc = th_error_set(err, TH_EIO, "cannot create %s: %s", path, strerror(errno));
    } else {
        rc = TH_OK;
    }
    (void)unlink(tmp);
    /* the new name survives a power cut like the rows SQLite syncs into it */
    if (rc == TH_OK && (fd = open(home, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    return rc;
}

int db_open(const char *home, int flags, sqlite3 **out, th_error *err)
{
    return db_open_schema(home, &db_main, flags, out, err);
}

int db_open_schema(const char *home, const db_schema *s, int flags, sqlite3 **out, th_error *err)
{
    char path[4096];
    sqlite3 *db = NULL;
    int readonly = (flags & DB_READONLY) != 0;
    int rc, oflags;

    *out = NULL;
    db_pcache_install(); /* before anything initializes SQLite */
    if ((rc = db_home_path(home, s->file, path, sizeof path, err)) != TH_OK)
        return rc;
    if (readonly) {
        if ((rc = prepare_file(path, 0, err)) != TH_OK)
            return rc;
        oflags = SQLITE_OPEN_READONLY;
    } else {
        if ((rc = make_home(home, err)) != TH_OK)
            return rc;
        if (access(path, F_OK) != 0 && errno == ENOENT &&
            (rc = create_whole(home, path, err)) != TH_OK)
            return rc;
        if ((rc = prepare_file(path, 1, err)) != TH_OK)
            return rc;
        oflags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    }
    rc = sqlite3_open_v2(path, &db, oflags | SQLITE_OPEN_NOMUTEX,
                         (flags & DB_BUFFER_WAL) ? db_wal_vfs(flags & DB_GROW_WAL) : NULL);
    if (rc != SQLITE_OK) {
        rc = db_error(db, rc, err, path);
        goto fail;
    }
    /* owner-only before the first write creates the WAL and SHM files */
    if (!readonly && (rc = prepare_file(path, 1, err)) != TH_OK)
        goto fail;
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, TH_STORE_BUSY_TIMEOUT_MS);
    if (!readonly) {
        /* Also the first read of the file: a non-database fails here. */
        rc = sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
        if (rc != SQLITE_OK) {
            if ((rc & 0xff) == SQLITE_NOTADB || (rc & 0xff) == SQLITE_CORRUPT)
                rc = th_error_set(err, TH_ECORRUPT,
                                  "%s is not a SQLite database or is damaged; refusing to use it",
                                  path);
            else
                rc = db_error(db, rc, err, path);
            goto fail;
        }
    }
    rc = sqlite3_exec(
        db, (flags & DB_SYNC_NORMAL) ? "PRAGMA synchronous=NORMAL" : "PRAGMA synchronous=FULL",
        NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, "PRAGMA cache_size=-65536", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        rc = db_error(db, rc, err, path);
        goto fail;
    }
    rc = check_and_migrate(db, s, path, readonly, err);
    if (rc == TH_ECORRUPT && err != NULL && strstr(err->msg, "Theater") == NULL)
        th_error_set(err, TH_ECORRUPT,
                     "%s is not a SQLite database or is damaged; refusing to use it", path);
    if (rc != TH_OK)
        goto fail;
    *out = db;
    return TH_OK;
fail:
    sqlite3_close_v2(db);
    return rc;
}

int th_home_resolve(const char *home, char *out, size_t cap, th_error *err)
{
    const char *env = getenv("THEATER_HOME");
    const char *user = getenv("HOME");
    int n;

    if (home != NULL && home[0] != '\0')
        n = snprintf(out, cap, "%s", home);
    else if (env != NULL && env[0] != '\0')
        n = snprintf(out, cap, "%s", env);
    else if (user != NULL && user[0] != '\0')
        n = snprintf(out, cap, "%s/.theater", user);
    else
        return th_error_set(err, TH_EINVAL, "neither THEATER_HOME nor HOME is set; use --home DIR");
    if (n < 0 || (size_t)n >= cap)
        return th_error_set(err, TH_ETOOBIG, "THEATER_HOME path is too long");
    while (n > 1 && out[n - 1] == '/')
        out[--n] = '\0';
    return TH_OK;
}
