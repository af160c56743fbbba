/*
 * read.c - reading durable events and heads from theater.db (the read
 * connection of a chain handle; safe while the writer commits, thanks to
 * WAL).  Rows come from the database and are untrusted: every field is
 * size-checked before it is copied.
 */
#include <stdlib.h>
#include <string.h>

#include "chain/chain_int.h"
#include "store/store_int.h"

void th_chain_events_free(th_chain_events *events)
{
    size_t i;

    if (events == NULL)
        return;
    for (i = 0; i < events->count; i++) {
        free((void *)events->items[i].actor);
        free((void *)events->items[i].type);
        free((void *)events->items[i].data);
        free((void *)events->items[i].description);
    }
    free(events->items);
    events->items = NULL;
    events->count = 0;
}

void th_chain_actors_free(th_chain_actors *actors)
{
    size_t i;

    if (actors == NULL)
        return;
    for (i = 0; i < actors->count; i++)
        free(actors->items[i].name);
    free(actors->items);
    actors->items = NULL;
    actors->count = 0;
}

int chain_head_from_row(sqlite3_stmt *st, int col, chain_signed_head *h)
{
    int n = sqlite3_column_bytes(st, col + 6);

    memset(h, 0, sizeof *h);
    if (sqlite3_column_type(st, col) != SQLITE_INTEGER || sqlite3_column_bytes(st, col + 1) != 32 ||
        sqlite3_column_bytes(st, col + 7) != CHAIN_SIG_LEN ||
        sqlite3_column_bytes(st, col + 8) != CHAIN_PUBKEY_LEN || n % 32 != 0 ||
        (size_t)n > sizeof h->path)
        return -1;
    h->seq = (uint64_t)sqlite3_column_int64(st, col);
    memcpy(h->hash, sqlite3_column_blob(st, col + 1), 32);
    h->commit_no = (uint64_t)sqlite3_column_int64(st, col + 2);
    h->signed_ms = (uint64_t)sqlite3_column_int64(st, col + 3);
    h->leaf_index = (uint64_t)sqlite3_column_int64(st, col + 4);
    h->tree_size = (uint64_t)sqlite3_column_int64(st, col + 5);
    if (n > 0)
        memcpy(h->path, sqlite3_column_blob(st, col + 6), (size_t)n);
    h->path_len = (size_t)n;
    memcpy(h->signature, sqlite3_column_blob(st, col + 7), CHAIN_SIG_LEN);
    memcpy(h->public_key, sqlite3_column_blob(st, col + 8), CHAIN_PUBKEY_LEN);
    return 0;
}

int chain_load_head(sqlite3 *db, const char *actor, int64_t *id, chain_signed_head *h,
                    int *has_head, th_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc;

    *has_head = 0;
    memset(h, 0, sizeof *h);
    rc = sqlite3_prepare_v2(db, "SELECT id, " CHAIN_HEAD_COLUMNS " FROM chain_actor WHERE name = ?",
                            -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 1, actor, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        sqlite3_finalize(st);
        return th_error_set(err, TH_ENOENT, "no chain for actor '%s'", actor);
    }
    if (rc != SQLITE_ROW) {
        rc = store_db_error(db, rc, err, "reading a chain head");
        sqlite3_finalize(st);
        return rc;
    }
    *id = sqlite3_column_int64(st, 0);
    *has_head = chain_head_from_row(st, 1, h) == 0;
    sqlite3_finalize(st);
    return TH_OK;
}

int chain_row_view(sqlite3_stmt *st, const char *actor, th_chain_event *ev)
{
    memset(ev, 0, sizeof *ev);
    ev->actor = actor;
    ev->seq = (uint64_t)sqlite3_column_int64(st, 1);
    if (sqlite3_column_type(st, 1) != SQLITE_INTEGER || sqlite3_column_bytes(st, 2) != 32 ||
        (sqlite3_column_type(st, 3) != SQLITE_NULL && sqlite3_column_bytes(st, 3) != 32) ||
        sqlite3_column_type(st, 4) != SQLITE_TEXT || sqlite3_column_type(st, 5) != SQLITE_INTEGER ||
        (sqlite3_column_type(st, 7) != SQLITE_NULL && sqlite3_column_type(st, 7) != SQLITE_TEXT))
        return -1;
    memcpy(ev->hash, sqlite3_column_blob(st, 2), 32);
    if (sqlite3_column_type(st, 3) != SQLITE_NULL) {
        ev->has_parent = 1;
        memcpy(ev->parent, sqlite3_column_blob(st, 3), 32);
    }
    ev->type = (const char *)sqlite3_column_text(st, 4);
    ev->timestamp_ms = (uint64_t)sqlite3_column_int64(st, 5);
    ev->data = sqlite3_column_blob(st, 6);
    ev->data_len = (size_t)sqlite3_column_bytes(st, 6);
    if (ev->data == NULL)
        ev->data = (const uint8_t *)"";
    if (sqlite3_column_type(st, 7) == SQLITE_TEXT)
        ev->description = (const char *)sqlite3_column_text(st, 7);
    return ev->type != NULL ? 0 : -1;
}

static void head_public(const chain_signed_head *h, th_chain_head *out)
{
    out->seq = h->seq;
    out->count = h->seq + 1;
    memcpy(out->hash, h->hash, 32);
    out->signed_ms = h->signed_ms;
    memcpy(out->public_key, h->public_key, 32);
}

int th_chain_head_get(th_chain *c, const char *actor, th_chain_head *out, th_error *err)
{
    chain_signed_head h;
    int64_t id;
    int rc, has;

    if (actor == NULL)
        return th_error_set(err, TH_EINVAL, "NULL actor");
    rc = chain_load_head(chain_reader_lock(c), actor, &id, &h, &has, err);
    chain_reader_unlock(c);
    if (rc == TH_OK && !has)
        rc = th_error_set(err, TH_ECORRUPT, "the head of '%s' is malformed", actor);
    if (rc == TH_OK)
        head_public(&h, out);
    return rc;
}

int th_chain_list_actors(th_chain *c, th_chain_actors *out, th_error *err)
{
    sqlite3 *db = chain_reader_lock(c);
    sqlite3_stmt *st = NULL;
    th_chain_actor *items = NULL, *n;
    size_t count = 0, cap = 0;
    int rc;

    rc = sqlite3_prepare_v2(db,
                            "SELECT name, head_seq, head_hash, signed_ms, public_key FROM chain_actor"
                            " ORDER BY name",
                            -1, &st, NULL);
    while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (count == cap) {
            cap = cap ? cap * 2 : 64;
            n = realloc(items, cap * sizeof *n);
            if (n == NULL) {
                rc = SQLITE_NOMEM;
                break;
            }
            items = n;
        }
        memset(&items[count], 0, sizeof items[count]);
        items[count].name = strdup((const char *)sqlite3_column_text(st, 0));
        if (items[count].name == NULL) {
            rc = SQLITE_NOMEM;
            break;
        }
        items[count].head.seq = (uint64_t)sqlite3_column_int64(st, 1);
        items[count].head.count = items[count].head.seq + 1;
        if (sqlite3_column_bytes(st, 2) == 32)
            memcpy(items[count].head.hash, sqlite3_column_blob(st, 2), 32);
        items[count].head.signed_ms = (uint64_t)sqlite3_column_int64(st, 3);
        if (sqlite3_column_bytes(st, 4) == 32)
            memcpy(items[count].head.public_key, sqlite3_column_blob(st, 4), 32);
        count++;
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    out->items = items;
    out->count = count;
    if (rc != SQLITE_DONE) {
        rc = rc == SQLITE_NOMEM ? th_error_set(err, TH_ENOMEM, "out of memory")
                                : store_db_error(db, rc, err, "listing chains");
        th_chain_actors_free(out);
    } else {
        rc = TH_OK;
    }
    chain_reader_unlock(c);
    return rc;
}

/* Copy the current row (columns as in CHAIN_EVENT_COLUMNS) into ev, which
 * then owns its strings and data.  TH_ECORRUPT for a malformed row. */
static int row_to_event(sqlite3_stmt *st, const char *actor, th_chain_event *ev, th_error *err)
{
    th_chain_event v;
    char *a, *t, *d = NULL;
    uint8_t *buf;

    memset(ev, 0, sizeof *ev);
    if (chain_row_view(st, actor, &v) != 0)
        return th_error_set(err, TH_ECORRUPT, "event %s/%llu is malformed", actor,
                            (unsigned long long)v.seq);
    a = strdup(actor);
    t = strdup(v.type);
    buf = malloc(v.data_len ? v.data_len : 1);
    if (v.description != NULL)
        d = strdup(v.description);
    if (a == NULL || t == NULL || buf == NULL || (v.description != NULL && d == NULL)) {
        free(a);
        free(t);
        free(buf);
        free(d);
        return th_error_set(err, TH_ENOMEM, "out of memory");
    }
    if (v.data_len)
        memcpy(buf, v.data, v.data_len);
    *ev = v;
    ev->actor = a;
    ev->type = t;
    ev->data = buf;
    ev->description = d;
    return TH_OK;
}

int th_chain_read(th_chain *c, const th_chain_query *q, th_chain_events *out, th_error *err)
{
    char sql[512];
    sqlite3 *db;
    sqlite3_stmt *st = NULL;
    th_chain_event *items = NULL, *n;
    size_t count = 0, cap = 0, i;
    chain_signed_head h;
    int64_t id;
    int rc, has, k;

    out->items = NULL;
    out->count = 0;
    if (q == NULL || q->actor == NULL)
        return th_error_set(err, TH_EINVAL, "a query needs an actor");
    if (q->from_seq > INT64_MAX || q->to_seq > INT64_MAX || q->limit > INT64_MAX)
        return th_error_set(err, TH_EINVAL, "query bounds out of range");
    db = chain_reader_lock(c);
    if ((rc = chain_load_head(db, q->actor, &id, &h, &has, err)) != TH_OK)
        goto out;
    snprintf(sql, sizeof sql,
             "SELECT " CHAIN_EVENT_COLUMNS " FROM chain_event"
             " WHERE actor = ?1 AND seq >= ?2 AND seq < ?3%s ORDER BY seq %s LIMIT ?5",
             q->type ? " AND type = ?4" : "", q->newest ? "DESC" : "ASC");
    rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)q->from_seq);
        sqlite3_bind_int64(st, 3, q->to_seq ? (sqlite3_int64)q->to_seq : INT64_MAX);
        if (q->type)
            sqlite3_bind_text(st, 4, q->type, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 5, q->limit ? (sqlite3_int64)q->limit : -1);
    }
    while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (count == cap) {
            cap = cap ? cap * 2 : 64;
            n = realloc(items, cap * sizeof *n);
            if (n == NULL) {
                rc = th_error_set(err, TH_ENOMEM, "out of memory");
                goto out;
            }
            items = n;
        }
        if ((k = row_to_event(st, q->actor, &items[count], err)) != TH_OK) {
            rc = k;
            goto out;
        }
        count++;
        rc = SQLITE_OK;
    }
    rc = rc == SQLITE_DONE ? TH_OK : store_db_error(db, rc, err, "reading events");
out:
    sqlite3_finalize(st);
    chain_reader_unlock(c);
    if (rc == TH_OK && q->newest) /* newest first from SQL; return oldest first */
        for (i = 0; i < count / 2; i++) {
            th_chain_event t = items[i];
            items[i] = items[count - 1 - i];
            items[count - 1 - i] = t;
        }
    out->items = items;
    out->count = count;
    if (rc != TH_OK)
        th_chain_events_free(out);
    return rc;
}
