/*
 * read.c - reading durable events and heads: a chain's events are found
 * through its spans (chain_span: which segments hold which of its events,
 * written by the writer's index flush) plus every segment committed since
 * the last flush (id > indexed_upto), then decoded from those segments.
 * Rows and blobs come from the database and are untrusted (segment.c checks
 * every length).  Calls run in one read transaction on the handle's read
 * connection, so a concurrent commit or index flush never shifts the view.
 */
#include <stdlib.h>
#include <string.h>

#include "chain/chain_int.h"
#include "db/db.h"

/* What the items of a list from th_chain_read borrow: the blobs of the
 * segments they were decoded from (one allocation per segment rather than
 * four per event). */
typedef struct read_held {
    size_t n, cap;
    void **blobs;
} read_held;

static void held_free(read_held *h)
{
    if (h == NULL)
        return;
    while (h->n > 0)
        free(h->blobs[--h->n]);
    free(h->blobs);
    free(h);
}

/* Keep `p` (malloc'd) until the list is freed.  0, or -1 (not kept). */
static int held_take_ptr(read_held *h, void *p)
{
    if (h->n == h->cap) {
        size_t ncap = h->cap ? h->cap * 2 : 8;
        void **nb = realloc(h->blobs, ncap * sizeof *nb);
        if (nb == NULL)
            return -1;
        h->blobs = nb;
        h->cap = ncap;
    }
    h->blobs[h->n++] = p;
    return 0;
}

/* Take over seg->blob and seg->xdata (the events just copied point into
 * them). */
static int held_take(read_held *h, chain_segment *seg)
{
    if (held_take_ptr(h, seg->blob) != 0)
        return -1;
    seg->blob = NULL;
    if (seg->xdata != NULL) {
        if (held_take_ptr(h, seg->xdata) != 0)
            return -1; /* the blob is kept: freed with the list */
        seg->xdata = NULL;
        seg->xlen = seg->xcap = 0;
    }
    return 0;
}

/* The events items[0..n) of one actor, just copied from `seg`, point into
 * its blob and xdata.  A segment holds every actor's events of its batch,
 * so when they are less than half of those bytes they are copied into one
 * allocation that the list keeps, and the segment keeps its buffers for
 * the next one (a chain read beside busier chains keeps only its own
 * bytes); otherwise the list takes the buffers (held_take).  0, or -1 out
 * of memory (the items unchanged). */
static int held_keep(read_held *h, chain_segment *seg, th_chain_event *items, size_t n)
{
    size_t need = 0, i, len, last_len = 0;
    const char *last_type = NULL, *last_copy = NULL, *actor;
    const uint8_t *last_data = NULL, *last_dcopy = NULL;
    char *p;

    /* An event whose data are the previous one's (the decoder shares the
     * data of an event that repeats an earlier one: the same pointer and
     * length) shares their copy too. */
    for (i = 0; i < n; i++) {
        if (items[i].data_len > 0 &&
            (items[i].data != last_data || items[i].data_len != last_len)) {
            need += items[i].data_len;
            last_data = items[i].data;
            last_len = items[i].data_len;
        }
        need += strlen(items[i].type) + 1 +
                (items[i].description != NULL ? strlen(items[i].description) + 1 : 0);
    }
    last_data = NULL;
    last_len = 0;
    need += strlen(items[0].actor) + 1;
    if (need >= (seg->blob_len + seg->xlen) / 2)
        return held_take(h, seg);
    if ((p = malloc(need)) == NULL || held_take_ptr(h, p) != 0) {
        free(p);
        return -1;
    }
    len = strlen(items[0].actor) + 1;
    actor = memcpy(p, items[0].actor, len);
    p += len;
    for (i = 0; i < n; i++) {
        th_chain_event *e = &items[i];
        e->actor = actor;
        if (last_type == NULL || strcmp(e->type, last_type) != 0) {
            len = strlen(e->type) + 1;
            last_type = e->type;
            last_copy = memcpy(p, e->type, len);
            p += len;
        }
        e->type = last_copy;
        if (e->data_len > 0 && e->data == last_data && e->data_len == last_len) {
            e->data = last_dcopy;
        } else if (e->data_len > 0) {
            last_data = e->data;
            last_len = e->data_len;
            e->data = last_dcopy = memcpy(p, e->data, e->data_len);
            p += e->data_len;
        } else {
            e->data = (const uint8_t *)"";
        }
        if (e->description != NULL) {
            len = strlen(e->description) + 1;
            e->description = memcpy(p, e->description, len);
            p += len;
        }
    }
    return 0;
}

void th_chain_events_free(th_chain_events *events)
{
    size_t i;

    if (events == NULL)
        return;
    if (events->held != NULL) {
        held_free(events->held);
        events->held = NULL;
        free(events->items);
        events->items = NULL;
        events->count = 0;
        return;
    }
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

int th_chain_events_adopt(th_chain_events *events, size_t i, void *data, size_t len, th_error *err)
{
    read_held *h = events->held;

    if (h != NULL && held_take_ptr(h, data) != 0) {
        free(data);
        return th_error_set(err, TH_ENOMEM, "out of memory");
    }
    if (h == NULL)
        free((void *)events->items[i].data);
    events->items[i].data = data;
    events->items[i].data_len = len;
    return TH_OK;
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

static int begin_read(sqlite3 *db, th_error *err)
{
    int rc = sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);

    return rc == SQLITE_OK ? TH_OK : db_error(db, rc, err, "starting a read");
}

static void end_read(sqlite3 *db)
{
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
}

int chain_indexed_upto(sqlite3 *db, uint64_t *upto, th_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, "SELECT value FROM chain_meta WHERE key = 'indexed_upto'", -1,
                                &st, NULL);

    *upto = 0;
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        *upto = (uint64_t)sqlite3_column_int64(st, 0);
        rc = SQLITE_DONE;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? TH_OK : db_error(db, rc, err, "reading chain metadata");
}

typedef struct id_list {
    uint64_t *ids;
    size_t n, cap;
} id_list;

static int id_push(id_list *l, uint64_t id)
{
    uint64_t *n;

    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        n = realloc(l->ids, l->cap * sizeof *n);
        if (n == NULL)
            return -1;
        l->ids = n;
    }
    l->ids[l->n++] = id;
    return 0;
}

uint64_t chain_be64(const uint8_t *p)
{
    uint64_t v = 0;
    int i;

    for (i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

int chain_actor_segments(sqlite3 *db, const char *actor, uint64_t from_seq, uint64_t to_seq,
                         chain_cached_head *head, uint64_t **ids, size_t *n, th_error *err)
{
    sqlite3_stmt *st = NULL;
    id_list l = {0};
    const uint8_t *b;
    uint64_t upto, id;
    size_t len, k;
    int rc;

    *ids = NULL;
    *n = 0;
    memset(head, 0, sizeof *head);
    rc = sqlite3_prepare_v2(db,
                            "SELECT id, head_seq, head_hash, head_segment FROM chain_actor"
                            " WHERE name = ?",
                            -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 1, actor, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        sqlite3_finalize(st);
        return th_error_set(err, TH_ENOENT, "no chain for actor '%s'", actor);
    }
    if (rc != SQLITE_ROW)
        goto dberr;
    head->id = sqlite3_column_int64(st, 0);
    if (sqlite3_column_type(st, 1) == SQLITE_INTEGER && sqlite3_column_bytes(st, 2) == 32) {
        head->valid = 1;
        head->seq = (uint64_t)sqlite3_column_int64(st, 1);
        memcpy(head->hash, sqlite3_column_blob(st, 2), 32);
        head->segment = (uint64_t)sqlite3_column_int64(st, 3);
    }
    sqlite3_finalize(st);
    st = NULL;
    if ((rc = chain_indexed_upto(db, &upto, err)) != TH_OK)
        return rc;
    rc = sqlite3_prepare_v2(db,
                            "SELECT segments FROM chain_span WHERE actor = ?1 AND last_seq >= ?2"
                            " AND first_seq < ?3 ORDER BY first_seq",
                            -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, head->id);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)from_seq);
        sqlite3_bind_int64(st, 3, to_seq ? (sqlite3_int64)to_seq : INT64_MAX);
    }
    while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        b = sqlite3_column_blob(st, 0);
        len = (size_t)sqlite3_column_bytes(st, 0);
        if (len % 8 != 0) {
            sqlite3_finalize(st);
            free(l.ids);
            return th_error_set(err, TH_ECORRUPT, "a span of '%s' is malformed", actor);
        }
        for (k = 0; k < len; k += 8) {
            id = chain_be64(b + k);
            if (id <= upto && (l.n == 0 || id > l.ids[l.n - 1]) && id_push(&l, id) != 0)
                goto nomem;
        }
        rc = SQLITE_OK;
    }
    if (rc != SQLITE_DONE)
        goto dberr;
    sqlite3_finalize(st);
    rc = sqlite3_prepare_v2(db, "SELECT id FROM chain_segment WHERE id > ? ORDER BY id", -1, &st,
                            NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, 1, (sqlite3_int64)upto);
    while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (id_push(&l, (uint64_t)sqlite3_column_int64(st, 0)) != 0)
            goto nomem;
        rc = SQLITE_OK;
    }
    if (rc != SQLITE_DONE)
        goto dberr;
    sqlite3_finalize(st);
    *ids = l.ids;
    *n = l.n;
    return TH_OK;
nomem:
    sqlite3_finalize(st);
    free(l.ids);
    return th_error_set(err, TH_ENOMEM, "out of memory");
dberr:
    rc = db_error(db, rc, err, "finding a chain's segments");
    sqlite3_finalize(st);
    free(l.ids);
    return rc;
}

/* A copy of ev that owns its strings and data. */
static int matches(const th_chain_query *q, const th_chain_event *ev)
{
    return ev->seq >= q->from_seq && (q->to_seq == 0 || ev->seq < q->to_seq) &&
           (q->type == NULL || strcmp(q->type, ev->type) == 0);
}

/* A read on a thread of its own (th_chain_stream_open): the reader
 * publishes the list segment by segment under `lock`; what it published
 * never changes (a longer list goes to a new array and the old one is kept
 * until the stream is closed), so the consumer reads it without the
 * lock. */
struct th_chain_stream {
    th_chain *c;
    char *actor;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t more;
    th_chain_event *items; /* published: items[0..count) */
    size_t count;
    bool ended; /* the read is over (rc, err) */
    int rc;
    th_error err;
    th_chain_events list; /* the reader's list, whole once ended */
    th_chain_event **old; /* arrays replaced by longer ones */
    size_t nold;
};

/* Keep `items` (a list's array just replaced) until the stream is
 * closed: the consumer may still be reading it.  0 or -1. */
static int stream_retire(th_chain_stream *st, th_chain_event *items)
{
    th_chain_event **n = realloc(st->old, (st->nold + 1) * sizeof *n);

    if (n == NULL)
        return -1;
    st->old = n;
    st->old[st->nold++] = items;
    return 0;
}

/* Publish items[0..count). */
static void stream_publish(th_chain_stream *st, th_chain_event *items, size_t count)
{
    pthread_mutex_lock(&st->lock);
    st->items = items;
    st->count = count;
    pthread_cond_broadcast(&st->more);
    pthread_mutex_unlock(&st->lock);
}

/* th_chain_read's work; with `st`, published segment by segment. */
static int read_list(th_chain *c, const th_chain_query *q, th_chain_events *out,
                     th_chain_stream *st, th_error *err)
{
    th_chain_event *items = NULL, *nitems;
    size_t count = 0, cap = 0, n = 0, s, e, i, before;
    chain_cached_head head;
    chain_segment seg;
    uint64_t *ids = NULL;
    read_held *held = NULL;
    sqlite3 *db;
    int rc, idx, done = 0;

    out->items = NULL;
    out->count = 0;
    out->held = NULL;
    if (q == NULL || q->actor == NULL)
        return th_error_set(err, TH_EINVAL, "a query needs an actor");
    if ((held = calloc(1, sizeof *held)) == NULL)
        return th_error_set(err, TH_ENOMEM, "out of memory");
    db = chain_reader_lock(c);
    if ((rc = begin_read(db, err)) != TH_OK) {
        chain_reader_unlock(c);
        held_free(held);
        return rc;
    }
    rc = chain_actor_segments(db, q->actor, q->from_seq, q->to_seq, &head, &ids, &n, err);
    /* room for what the head says the chain holds (a whole chain read at
     * once, as a replay does, then takes no copies of a growing array) */
    if (rc == TH_OK && head.valid && head.seq >= q->from_seq &&
        head.seq - q->from_seq < (1u << 22)) {
        cap = (size_t)(head.seq - q->from_seq) + 1;
        if (q->to_seq != 0 && q->to_seq > q->from_seq && q->to_seq - q->from_seq < cap)
            cap = (size_t)(q->to_seq - q->from_seq);
        if (q->limit != 0 && q->limit < cap)
            cap = q->limit;
        if ((items = malloc(cap * sizeof *items)) == NULL)
            cap = 0;
    }
    /* Oldest first, or (newest) from the last segment backwards.  The
     * items point into the blobs of their segments, which the list keeps.
     * Only the actor's events are decoded whole (seg.only); the arrays of
     * one segment are reused for the next. */
    memset(&seg, 0, sizeof seg);
    seg.only = q->actor;
    for (s = 0; rc == TH_OK && s < n && !done; s++) {
        rc = chain_segment_reload(db, ids[q->newest ? n - 1 - s : s], &seg, err);
        if (rc != TH_OK)
            break;
        idx = seg.only_idx;
        before = count;
        for (e = 0; idx >= 0 && e < seg.nevents && !done; e++) {
            i = q->newest ? seg.nevents - 1 - e : e;
            if (seg.actor_of[i] != (uint32_t)idx || !matches(q, &seg.events[i]))
                continue;
            if (count == cap) {
                cap = cap ? cap * 2 : 64;
                if (st == NULL) {
                    nitems = realloc(items, cap * sizeof *nitems);
                } else if ((nitems = malloc(cap * sizeof *nitems)) != NULL) {
                    /* the published array stays where it is */
                    if (count > 0)
                        memcpy(nitems, items, count * sizeof *items);
                    if (items != NULL && stream_retire(st, items) != 0) {
                        free(nitems);
                        nitems = NULL;
                    }
                }
                if (nitems == NULL) {
                    rc = th_error_set(err, TH_ENOMEM, "out of memory");
                    break;
                }
                items = nitems;
            }
            items[count++] = seg.events[i];
            done = q->limit != 0 && count >= q->limit;
        }
        if (rc == TH_OK && count > before &&
            held_keep(held, &seg, items + before, count - before) != 0) {
            count = before; /* they point into the blob, freed below */
            rc = th_error_set(err, TH_ENOMEM, "out of memory");
        }
        if (rc == TH_OK && st != NULL && count > before)
            stream_publish(st, items, count);
    }
    chain_segment_release(&seg);
    end_read(db);
    chain_reader_unlock(c);
    free(ids);
    if (q->newest)
        for (i = 0; i < count / 2; i++) {
            th_chain_event t = items[i];
            items[i] = items[count - 1 - i];
            items[count - 1 - i] = t;
        }
    out->items = items;
    out->count = count;
    out->held = held;
    if (rc != TH_OK && st == NULL)
        th_chain_events_free(out); /* (a stream's: freed when it is closed) */
    return rc;
}

int th_chain_read(th_chain *c, const th_chain_query *q, th_chain_events *out, th_error *err)
{
    return read_list(c, q, out, NULL, err);
}

static void *stream_main(void *arg)
{
    th_chain_stream *st = arg;
    th_chain_query q;
    th_error err;
    int rc;

    memset(&q, 0, sizeof q);
    q.actor = st->actor;
    th_error_clear(&err);
    rc = read_list(st->c, &q, &st->list, st, &err);
    pthread_mutex_lock(&st->lock);
    if (rc == TH_OK) { /* the whole list (also when it has no events) */
        st->items = st->list.items;
        st->count = st->list.count;
    }
    st->rc = rc;
    st->err = err;
    st->ended = true;
    pthread_cond_broadcast(&st->more);
    pthread_mutex_unlock(&st->lock);
    return NULL;
}

int th_chain_stream_open(th_chain *c, const char *actor, th_chain_stream **out, th_error *err)
{
    th_chain_stream *st;

    *out = NULL;
    if (actor == NULL)
        return th_error_set(err, TH_EINVAL, "a stream needs an actor");
    if ((st = calloc(1, sizeof *st)) == NULL || (st->actor = strdup(actor)) == NULL) {
        free(st);
        return th_error_set(err, TH_ENOMEM, "out of memory");
    }
    st->c = c;
    pthread_mutex_init(&st->lock, NULL);
    pthread_cond_init(&st->more, NULL);
    if (pthread_create(&st->thread, NULL, stream_main, st) != 0) {
        pthread_cond_destroy(&st->more);
        pthread_mutex_destroy(&st->lock);
        free(st->actor);
        free(st);
        return th_error_set(err, TH_ENOMEM, "cannot start a thread to read the chain");
    }
    *out = st;
    return TH_OK;
}

int th_chain_stream_wait(th_chain_stream *st, size_t i, th_chain_events *view, th_error *err)
{
    int rc = TH_OK;

    pthread_mutex_lock(&st->lock);
    while (st->count <= i && !st->ended)
        pthread_cond_wait(&st->more, &st->lock);
    view->items = st->items;
    view->count = st->count;
    view->held = NULL;
    if (st->count <= i && st->rc != TH_OK) {
        rc = st->rc;
        if (err != NULL)
            *err = st->err;
    }
    pthread_mutex_unlock(&st->lock);
    return rc;
}

int th_chain_stream_close(th_chain_stream *st, th_error *err)
{
    int rc;

    if (st == NULL)
        return TH_OK;
    /* the whole chain is read, also when the consumer is done early: a
     * damaged segment anywhere is still an error, as with th_chain_read */
    pthread_join(st->thread, NULL);
    rc = st->rc;
    if (rc != TH_OK && err != NULL)
        *err = st->err;
    th_chain_events_free(&st->list);
    while (st->nold > 0)
        free(st->old[--st->nold]);
    free(st->old);
    pthread_cond_destroy(&st->more);
    pthread_mutex_destroy(&st->lock);
    free(st->actor);
    free(st);
    return rc;
}

int th_chain_head_get(th_chain *c, const char *actor, th_chain_head *out, th_error *err)
{
    chain_cached_head head;
    chain_segment seg;
    const th_chain_event *ev;
    uint64_t *ids = NULL;
    size_t n = 0, s;
    sqlite3 *db;
    int rc, idx = -1;

    if (actor == NULL)
        return th_error_set(err, TH_EINVAL, "NULL actor");
    db = chain_reader_lock(c);
    if ((rc = begin_read(db, err)) != TH_OK) {
        chain_reader_unlock(c);
        return rc;
    }
    rc = chain_actor_segments(db, actor, 0, 0, &head, &ids, &n, err);
    for (s = n; rc == TH_OK && s > 0; s--) {
        if ((rc = chain_segment_load(db, ids[s - 1], &seg, err)) != TH_OK)
            break;
        idx = chain_segment_actor(&seg, actor);
        if (idx >= 0) {
            ev = &seg.events[seg.last_event[idx] - 1];
            out->seq = ev->seq;
            out->count = ev->seq + 1;
            memcpy(out->hash, ev->hash, 32);
            out->signed_ms = seg.signed_ms;
            memcpy(out->public_key, seg.public_key, 32);
        }
        chain_segment_release(&seg);
        if (idx >= 0)
            break;
    }
    if (rc == TH_OK && idx < 0)
        rc = th_error_set(err, TH_ECORRUPT, "the chain of '%s' has no events", actor);
    end_read(db);
    chain_reader_unlock(c);
    free(ids);
    return rc;
}

static int cmp_actor(const void *a, const void *b)
{
    return strcmp(((const th_chain_actor *)a)->name, ((const th_chain_actor *)b)->name);
}

/* Update the listed heads from segments committed after the last flush. */
static int apply_tail(sqlite3 *db, th_chain_actors *out, th_error *err)
{
    sqlite3_stmt *st = NULL;
    th_chain_actor key, *hit;
    const th_chain_event *ev;
    chain_segment seg;
    uint64_t upto;
    size_t i;
    int rc;

    if ((rc = chain_indexed_upto(db, &upto, err)) != TH_OK)
        return rc;
    rc = sqlite3_prepare_v2(db,
                            "SELECT signed_ms, public_key, signature, events, id FROM"
                            " chain_segment WHERE id > ? ORDER BY id",
                            -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, 1, (sqlite3_int64)upto);
    while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        rc = chain_segment_from_row(st, (uint64_t)sqlite3_column_int64(st, 4), &seg, err);
        if (rc != TH_OK) {
            sqlite3_finalize(st);
            return rc;
        }
        for (i = 0; i < seg.nactors; i++) {
            key.name = (char *)seg.actors[i];
            hit = bsearch(&key, out->items, out->count, sizeof key, cmp_actor);
            if (hit == NULL)
                continue;
            ev = &seg.events[seg.last_event[i] - 1];
            hit->head.seq = ev->seq;
            hit->head.count = ev->seq + 1;
            memcpy(hit->head.hash, ev->hash, 32);
            hit->head.signed_ms = seg.signed_ms;
            memcpy(hit->head.public_key, seg.public_key, 32);
        }
        chain_segment_release(&seg);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? TH_OK : db_error(db, rc, err, "reading segments");
}

int th_chain_list_actors(th_chain *c, th_chain_actors *out, th_error *err)
{
    sqlite3 *db = chain_reader_lock(c);
    sqlite3_stmt *st = NULL;
    th_chain_actor *n, *it;
    size_t cap = 0;
    int rc;

    out->items = NULL;
    out->count = 0;
    if ((rc = begin_read(db, err)) != TH_OK) {
        chain_reader_unlock(c);
        return rc;
    }
    rc = sqlite3_prepare_v2(db,
                            "SELECT a.name, a.head_seq, a.head_hash, s.signed_ms, s.public_key"
                            " FROM chain_actor a LEFT JOIN chain_segment s ON s.id = a.head_segment"
                            " ORDER BY a.name",
                            -1, &st, NULL);
    while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (out->count == cap) {
            cap = cap ? cap * 2 : 64;
            n = realloc(out->items, cap * sizeof *n);
            if (n == NULL) {
                rc = SQLITE_NOMEM;
                break;
            }
            out->items = n;
        }
        it = &out->items[out->count];
        memset(it, 0, sizeof *it);
        it->name = strdup((const char *)sqlite3_column_text(st, 0));
        if (it->name == NULL) {
            rc = SQLITE_NOMEM;
            break;
        }
        out->count++;
        if (sqlite3_column_type(st, 1) == SQLITE_INTEGER && sqlite3_column_bytes(st, 2) == 32) {
            it->head.seq = (uint64_t)sqlite3_column_int64(st, 1);
            it->head.count = it->head.seq + 1;
            memcpy(it->head.hash, sqlite3_column_blob(st, 2), 32);
            it->head.signed_ms = (uint64_t)sqlite3_column_int64(st, 3);
            if (sqlite3_column_bytes(st, 4) == 32)
                memcpy(it->head.public_key, sqlite3_column_blob(st, 4), 32);
        }
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE)
        rc = apply_tail(db, out, err);
    else
        rc = rc == SQLITE_NOMEM ? th_error_set(err, TH_ENOMEM, "out of memory")
                                : db_error(db, rc, err, "listing chains");
    end_read(db);
    chain_reader_unlock(c);
    if (rc != TH_OK)
        th_chain_actors_free(out);
    return rc;
}
