/*
 * export.c - a chain as JSON Lines, and verification / import of such a
 * file.  Format (docs/chain-format.md), one JSON object per line:
 *
 *   {"kind":"chain","format":1,"actor":"<id>"[,"components":true]}
 *   [{"kind":"component","hash":"<hex>","size":N,"data":"<base64>"}]
 *   {"kind":"event","seq":0,"hash":"<hex>","parent_hash":null,
 *    "event_type":"<type>","timestamp":<ms>,"data":"<base64>",
 *    "description":null}
 *   ... one "event" line per event, in seq order ...
 *   {"kind":"head","seq":N,"hash":"<hex>","commit":C,"signed_ms":T,
 *    "leaf_index":I,"tree_size":S,"path":["<hex>",...],
 *    "signature":"<hex>","public_key":"<hex>"}
 *
 * With components (TH_CHAIN_EXPORT_COMPONENTS) the bytes of every
 * component an event names (its "component" field) are on a "component"
 * line before the first event that names them, and the header says
 * "components":true: verification then requires each named component to
 * be there and intact, and import stores them with the events.
 *
 * Hashes, keys and signatures are lowercase hex; data is standard base64.
 * The file is untrusted input: every line is bounded
 * (TH_CHAIN_MAX_JSONL_LINE), every field type- and size-checked.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <jansson.h>

#include "base/base64.h"
#include "base/hex.h"
#include "base/json.h"
#include "base/limits.h"
#include "base/sha256.h"
#include "chain/chain_int.h"
#include "db/db.h"

/* ---- export ---- */

static int write_line(json_t *obj, FILE *out, th_error *err)
{
    int rc = json_dumpf(obj, out, JSON_COMPACT | JSON_ENSURE_ASCII) == 0 && fputc('\n', out) != EOF;

    json_decref(obj);
    return rc ? TH_OK : th_error_set(err, TH_EIO, "cannot write the export");
}

static json_t *hex_value(const uint8_t *b, size_t n)
{
    char buf[129];

    return json_string(base_hex_encode(b, n, buf));
}

static json_t *event_json(const th_chain_event *ev)
{
    size_t cap = base_base64_encoded_size(ev->data_len);
    char *b64 = malloc(cap);
    json_t *o;

    if (b64 == NULL)
        return NULL;
    base_base64_encode(ev->data, ev->data_len, b64);
    o = json_pack("{s:s, s:I, s:o, s:o, s:s, s:I, s:s, s:o}", "kind", "event", "seq",
                  (json_int_t)ev->seq, "hash", hex_value(ev->hash, 32), "parent_hash",
                  ev->has_parent ? hex_value(ev->parent, 32) : json_null(), "event_type", ev->type,
                  "timestamp", (json_int_t)ev->timestamp_ms, "data", b64, "description",
                  ev->description ? json_string(ev->description) : json_null());
    free(b64);
    return o;
}

static json_t *head_json(const chain_signed_head *h)
{
    json_t *path = json_array();
    size_t i;

    for (i = 0; path != NULL && i < h->path_len; i += 32)
        json_array_append_new(path, hex_value(h->path + i, 32));
    return json_pack("{s:s, s:I, s:o, s:I, s:I, s:I, s:I, s:o, s:o, s:o}", "kind", "head", "seq",
                     (json_int_t)h->seq, "hash", hex_value(h->hash, 32), "commit",
                     (json_int_t)h->commit_no, "signed_ms", (json_int_t)h->signed_ms, "leaf_index",
                     (json_int_t)h->leaf_index, "tree_size", (json_int_t)h->tree_size, "path", path,
                     "signature", hex_value(h->signature, 64), "public_key",
                     hex_value(h->public_key, 32));
}

int chain_event_component(const th_chain_event *ev, uint8_t hash[32])
{
    json_error_t jerr;
    json_t *o, *v;
    int ok = 0;

    if (strcmp(ev->type, "actor-spawned") != 0 && strcmp(ev->type, "actor-restarted") != 0 &&
        strcmp(ev->type, "component-updated") != 0)
        return 0;
    o = base_json_loadb((const char *)ev->data, ev->data_len, 0, &jerr, NULL);
    v = json_is_object(o) ? json_object_get(o, "component") : NULL;
    if (json_is_string(v) && json_string_length(v) == 64 &&
        base_hex_decode(json_string_value(v), hash, 32) == 0)
        ok = 1;
    json_decref(o);
    return ok;
}

/* Hashes of the components written (export) or read (a file), with their
 * bytes when an import needs them. */
typedef struct comp_set {
    struct comp_item {
        uint8_t hash[32];
        uint8_t *bytes; /* owned; NULL when not kept */
        size_t len;
        int imported;
    } * items;
    size_t count, cap;
} comp_set;

static struct comp_item *comp_find(comp_set *cs, const uint8_t hash[32])
{
    size_t i;

    for (i = 0; i < cs->count; i++)
        if (memcmp(cs->items[i].hash, hash, 32) == 0)
            return &cs->items[i];
    return NULL;
}

/* Add a hash (taking over `bytes`, which may be NULL). */
static int comp_add(comp_set *cs, const uint8_t hash[32], uint8_t *bytes, size_t len, th_error *err)
{
    struct comp_item *v;

    if (cs->count == cs->cap) {
        size_t cap = cs->cap ? cs->cap * 2 : 4;
        if ((v = realloc(cs->items, cap * sizeof *v)) == NULL) {
            free(bytes);
            return th_error_set(err, TH_ENOMEM, "out of memory");
        }
        cs->items = v;
        cs->cap = cap;
    }
    v = &cs->items[cs->count++];
    memcpy(v->hash, hash, 32);
    v->bytes = bytes;
    v->len = len;
    v->imported = 0;
    return TH_OK;
}

static void comp_free(comp_set *cs)
{
    size_t i;

    for (i = 0; i < cs->count; i++)
        free(cs->items[i].bytes);
    free(cs->items);
    memset(cs, 0, sizeof *cs);
}

/* Write the "component" line of `hash` from the store's blobs (db). */
static int write_component(sqlite3 *db, const uint8_t hash[32], const char *actor, uint64_t seq,
                           FILE *out, th_error *err)
{
    sqlite3_stmt *st = NULL;
    char hex[65], *b64 = NULL;
    uint8_t h[32];
    const void *data;
    size_t n;
    json_t *o;
    int rc;

    base_hex_encode(hash, 32, hex);
    rc = sqlite3_prepare_v2(db,
                            "SELECT b.data FROM store_content c JOIN store_blob b ON b.id = c.blob"
                            " WHERE c.hash = ?1 LIMIT 1",
                            -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_blob(st, 1, hash, 32, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        rc = th_error_set(err, TH_ENOENT,
                          "component %s (named by event %s/%llu) is not in this home's store "
                          "(recorded with save_chain = false, or imported without it)",
                          hex, actor, (unsigned long long)seq);
        goto out;
    }
    if (rc != SQLITE_ROW) {
        rc = db_error(db, rc, err, "reading a component");
        goto out;
    }
    data = sqlite3_column_blob(st, 0);
    n = (size_t)sqlite3_column_bytes(st, 0);
    if (base_sha256(data != NULL ? data : "", n, h) != 0 || memcmp(h, hash, 32) != 0) {
        rc = th_error_set(err, TH_ECORRUPT, "component %s in the store was altered", hex);
        goto out;
    }
    if ((b64 = malloc(base_base64_encoded_size(n))) == NULL) {
        rc = th_error_set(err, TH_ENOMEM, "out of memory");
        goto out;
    }
    base_base64_encode(data, n, b64);
    o = json_pack("{s:s, s:s, s:I, s:s}", "kind", "component", "hash", hex, "size", (json_int_t)n,
                  "data", b64);
    rc = o != NULL ? write_line(o, out, err) : th_error_set(err, TH_ENOMEM, "out of memory");
out:
    free(b64);
    sqlite3_finalize(st);
    return rc;
}

int th_chain_export(th_chain *c, const char *actor, FILE *out, th_error *err)
{
    return th_chain_export_with(c, actor, 0, out, err);
}

int th_chain_export_with(th_chain *c, const char *actor, unsigned flags, FILE *out, th_error *err)
{
    comp_set written = {0};
    uint8_t chash[32];
    base_sha256_ctx *ctx = chain_thread_sha256();
    uint8_t msg[CHAIN_BATCH_MSG_LEN];
    chain_cached_head cached;
    chain_signed_head h;
    chain_segment seg;
    uint64_t *ids = NULL;
    size_t n = 0, s, e;
    int rc, idx, have_head = 0;
    json_t *o;
    sqlite3 *db;

    if (actor == NULL || ctx == NULL)
        return th_error_set(err, actor ? TH_ENOMEM : TH_EINVAL,
                            actor ? "out of memory" : "NULL actor");
    db = chain_reader_lock(c);
    rc = sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        rc = db_error(db, rc, err, "starting export");
        chain_reader_unlock(c);
        return rc;
    }
    if ((rc = chain_actor_segments(db, actor, 0, 0, &cached, &ids, &n, err)) != TH_OK)
        goto out;
    o = json_pack("{s:s, s:i, s:s}", "kind", "chain", "format", 1, "actor", actor);
    if (o != NULL && (flags & TH_CHAIN_EXPORT_COMPONENTS))
        json_object_set_new(o, "components", json_true());
    if (o == NULL || (rc = write_line(o, out, err)) != TH_OK) {
        rc = o == NULL ? th_error_set(err, TH_EINVAL, "actor id is not valid UTF-8") : rc;
        goto out;
    }
    for (s = 0; s < n && rc == TH_OK; s++) {
        if ((rc = chain_segment_load(db, ids[s], &seg, err)) != TH_OK)
            break;
        idx = chain_segment_actor(&seg, actor);
        for (e = 0; idx >= 0 && e < seg.nevents && rc == TH_OK; e++) {
            if (seg.actor_of[e] != (uint32_t)idx)
                continue;
            if ((flags & TH_CHAIN_EXPORT_COMPONENTS) &&
                chain_event_component(&seg.events[e], chash) &&
                comp_find(&written, chash) == NULL &&
                ((rc = write_component(db, chash, actor, seg.events[e].seq, out, err)) != TH_OK ||
                 (rc = comp_add(&written, chash, NULL, 0, err)) != TH_OK))
                break;
            o = event_json(&seg.events[e]);
            rc = o != NULL ? write_line(o, out, err)
                           : th_error_set(err, TH_EINVAL,
                                          "event %s/%llu cannot be exported "
                                          "(invalid UTF-8?)",
                                          actor, (unsigned long long)seg.events[e].seq);
        }
        /* The signed head: the actor's leaf in the last segment holding it. */
        if (idx >= 0 && rc == TH_OK) {
            if (chain_segment_message(ctx, &seg, idx, msg, &h) != 0)
                rc = th_error_set(err, TH_ENOMEM, "out of memory");
            have_head = 1;
        }
        chain_segment_release(&seg);
    }
    if (rc == TH_OK && !have_head)
        rc = th_error_set(err, TH_ECORRUPT, "the chain of '%s' has no events", actor);
    if (rc == TH_OK) {
        o = head_json(&h);
        rc = o != NULL ? write_line(o, out, err) : th_error_set(err, TH_ENOMEM, "out of memory");
    }
    if (rc == TH_OK && fflush(out) != 0)
        rc = th_error_set(err, TH_EIO, "cannot write the export");
out:
    free(ids);
    comp_free(&written);
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    chain_reader_unlock(c);
    return rc;
}

/* ---- reading an export ---- */

typedef struct file_reader {
    FILE *in;
    char *line;
    size_t cap;
    uint64_t lineno;
    th_chain_verify_result *res;
    char actor[TH_CHAIN_MAX_ACTOR_BYTES + 1];
} file_reader;

/* Read one line (without its newline) into r->line, never holding more than
 * TH_CHAIN_MAX_JSONL_LINE bytes however long the line is.  Returns its
 * length, -1 at end of file, -2 if too long, -3 on a read error. */
static ssize_t read_line(file_reader *r)
{
    size_t n = 0, cap;
    char *nl;
    int ch;

    for (;;) {
        ch = getc_unlocked(r->in); /* one reader per stream */
        if (ch == EOF) {
            if (ferror(r->in))
                return -3;
            if (n == 0)
                return -1;
            break;
        }
        if (ch == '\n')
            break;
        if (n >= TH_CHAIN_MAX_JSONL_LINE)
            return -2;
        if (n + 1 >= r->cap) {
            cap = r->cap ? r->cap * 2 : 4096;
            if (cap > TH_CHAIN_MAX_JSONL_LINE + 1)
                cap = TH_CHAIN_MAX_JSONL_LINE + 1;
            if ((nl = realloc(r->line, cap)) == NULL)
                return -3;
            r->line = nl;
            r->cap = cap;
        }
        r->line[n++] = (char)ch;
    }
    return (ssize_t)n;
}

/* Next line as a JSON object: *obj NULL at end of file. */
static int next_object(file_reader *r, json_t **obj, th_error *err)
{
    json_error_t jerr;
    bool oom;
    ssize_t n;

    *obj = NULL;
    for (;;) {
        n = read_line(r);
        r->lineno++;
        if (n == -1)
            return TH_OK;
        if (n == -3)
            return th_error_set(err, ferror(r->in) ? TH_EIO : TH_ENOMEM,
                                "cannot read line %llu of the file", (unsigned long long)r->lineno);
        if (n == -2)
            return th_error_set(err, TH_ETOOBIG, "line %llu is longer than %u bytes",
                                (unsigned long long)r->lineno, TH_CHAIN_MAX_JSONL_LINE);
        while (n > 0 && r->line[n - 1] == '\r')
            n--;
        if (n > 0)
            break;
    }
    *obj = base_json_loadb(r->line, (size_t)n, JSON_REJECT_DUPLICATES, &jerr, &oom);
    if (oom)
        return th_error_set(err, TH_ENOMEM, "out of memory reading line %llu",
                            (unsigned long long)r->lineno);
    if (*obj == NULL || !json_is_object(*obj)) {
        json_decref(*obj);
        *obj = NULL;
        /* the file's content: a verdict (malformed), as any bad line */
        return chain_report(r->res, err, TH_CHAIN_MALFORMED, r->actor[0] ? r->actor : "?", 0,
                            "line %llu is not a JSON object: %s", (unsigned long long)r->lineno,
                            jerr.text);
    }
    return TH_OK;
}

static int get_hex(json_t *o, const char *key, uint8_t *out, size_t n)
{
    json_t *v = json_object_get(o, key);

    return json_is_string(v) && base_hex_decode(json_string_value(v), out, n) == 0 ? 0 : -1;
}

static int get_u64(json_t *o, const char *key, uint64_t *out)
{
    json_t *v = json_object_get(o, key);

    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return -1;
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

static const char *kind_of(json_t *o)
{
    json_t *k = json_object_get(o, "kind");

    return json_is_string(k) ? json_string_value(k) : "";
}

static int bad_line(file_reader *r, th_error *err, const char *what)
{
    return chain_report(r->res, err, TH_CHAIN_MALFORMED, r->actor[0] ? r->actor : "?", 0,
                        "line %llu: %s", (unsigned long long)r->lineno, what);
}

/* Parse an event line into ev (data decoded into *buf, which the caller
 * frees).  TH_OK or TH_ECORRUPT via bad_line. */
static int parse_event(file_reader *r, json_t *o, th_chain_event *ev, uint8_t **buf, th_error *err)
{
    json_t *t = json_object_get(o, "event_type"), *d = json_object_get(o, "data");
    json_t *desc = json_object_get(o, "description"), *par = json_object_get(o, "parent_hash");
    size_t dl;

    memset(ev, 0, sizeof *ev);
    *buf = NULL;
    ev->actor = r->actor;
    if (get_u64(o, "seq", &ev->seq) != 0 || get_hex(o, "hash", ev->hash, 32) != 0 ||
        get_u64(o, "timestamp", &ev->timestamp_ms) != 0 || !json_is_string(t) ||
        json_string_length(t) > TH_CHAIN_MAX_TYPE_BYTES || !json_is_string(d) ||
        (desc != NULL && !json_is_null(desc) && !json_is_string(desc)) ||
        (par != NULL && !json_is_null(par) && get_hex(o, "parent_hash", ev->parent, 32) != 0))
        return bad_line(r, err, "malformed event");
    if (strlen(json_string_value(t)) != json_string_length(t) ||
        (json_is_string(desc) && strlen(json_string_value(desc)) != json_string_length(desc)))
        return bad_line(r, err, "event type or description contains NUL");
    ev->has_parent = par != NULL && !json_is_null(par);
    ev->type = json_string_value(t);
    ev->description = json_is_string(desc) ? json_string_value(desc) : NULL;
    *buf = malloc(json_string_length(d) / 4 * 3 + 1);
    if (*buf == NULL)
        return th_error_set(err, TH_ENOMEM, "out of memory");
    if (base_base64_decode(json_string_value(d), json_string_length(d), *buf, &dl) != 0)
        return bad_line(r, err, "event data is not base64");
    ev->data = *buf;
    ev->data_len = dl;
    return TH_OK;
}

static int parse_head(file_reader *r, json_t *o, chain_signed_head *h, th_error *err)
{
    json_t *path = json_object_get(o, "path"), *p;
    size_t i;

    memset(h, 0, sizeof *h);
    if (get_u64(o, "seq", &h->seq) != 0 || get_hex(o, "hash", h->hash, 32) != 0 ||
        get_u64(o, "commit", &h->commit_no) != 0 || get_u64(o, "signed_ms", &h->signed_ms) != 0 ||
        get_u64(o, "leaf_index", &h->leaf_index) != 0 ||
        get_u64(o, "tree_size", &h->tree_size) != 0 ||
        get_hex(o, "signature", h->signature, CHAIN_SIG_LEN) != 0 ||
        get_hex(o, "public_key", h->public_key, CHAIN_PUBKEY_LEN) != 0 || !json_is_array(path) ||
        json_array_size(path) > TH_CHAIN_MAX_MERKLE_DEPTH)
        return bad_line(r, err, "malformed head");
    json_array_foreach(path, i, p)
    {
        if (!json_is_string(p) || base_hex_decode(json_string_value(p), h->path + i * 32, 32) != 0)
            return bad_line(r, err, "malformed head path");
    }
    h->path_len = json_array_size(path) * 32;
    return TH_OK;
}

/* A "component" line: its bytes must have its size and hash (else bad
 * content).  Kept (for an import) when `keep`. */
static int parse_component(file_reader *r, json_t *o, comp_set *cs, int keep, uint64_t seq,
                           th_error *err)
{
    json_t *d = json_object_get(o, "data");
    uint8_t hash[32], h[32], *buf;
    uint64_t size;
    size_t dl;
    int rc;

    if (get_hex(o, "hash", hash, 32) != 0 || get_u64(o, "size", &size) != 0 || !json_is_string(d))
        return bad_line(r, err, "malformed component");
    if ((buf = malloc(json_string_length(d) / 4 * 3 + 1)) == NULL)
        return th_error_set(err, TH_ENOMEM, "out of memory");
    if (base_base64_decode(json_string_value(d), json_string_length(d), buf, &dl) != 0) {
        free(buf);
        return bad_line(r, err, "component data is not base64");
    }
    if (dl != size || base_sha256(buf, dl, h) != 0 || memcmp(h, hash, 32) != 0) {
        char hex[65];
        free(buf);
        return chain_report(r->res, err, TH_CHAIN_BAD_CONTENT, r->actor, seq,
                            "line %llu: component %s was altered (its bytes do not have "
                            "that %s)",
                            (unsigned long long)r->lineno, base_hex_encode(hash, 32, hex),
                            dl != size ? "size" : "hash");
    }
    if (comp_find(cs, hash) != NULL) {
        free(buf);
        return TH_OK;
    }
    if (!keep) {
        free(buf);
        buf = NULL;
    }
    rc = comp_add(cs, hash, buf, dl, err);
    return rc;
}

/* Read a whole export: verify it, and if `into` is not NULL queue its
 * events there (the caller has verified the file before). */
static int read_export(FILE *in, const uint8_t *trusted, th_chain *into,
                       th_chain_verify_result *res, th_error *err)
{
    base_sha256_ctx *ctx = chain_thread_sha256();
    file_reader r;
    chain_walk w;
    chain_signed_head head;
    th_chain_event ev;
    uint8_t *buf = NULL;
    uint64_t ticket = 0;
    json_t *o = NULL, *a;
    comp_set comps = {0};
    struct comp_item *ci;
    uint8_t chash[32];
    int rc, have_head = 0, with_components;

    memset(res, 0, sizeof *res);
    memset(&r, 0, sizeof r);
    memset(&w, 0, sizeof w);
    r.in = in;
    r.res = res;
    if (ctx == NULL)
        return th_error_set(err, TH_ENOMEM, "out of memory");
    if ((rc = next_object(&r, &o, err)) != TH_OK)
        goto out;
    a = o ? json_object_get(o, "actor") : NULL;
    if (o == NULL || strcmp(kind_of(o), "chain") != 0 || !json_is_string(a) ||
        json_string_length(a) == 0 || json_string_length(a) > TH_CHAIN_MAX_ACTOR_BYTES ||
        strlen(json_string_value(a)) != json_string_length(a)) {
        rc = bad_line(&r, err, "the first line must be a chain header with an actor");
        goto out;
    }
    snprintf(r.actor, sizeof r.actor, "%s", json_string_value(a));
    with_components = json_is_true(json_object_get(o, "components"));
    w.actor = r.actor;
    w.res = res;
    w.head = &head;
    /* The head comes last; its seq is needed while walking, so remember
     * hashes by checking the head against w.prev when it arrives. */
    for (;;) {
        json_decref(o);
        o = NULL;
        free(buf);
        buf = NULL;
        if ((rc = next_object(&r, &o, err)) != TH_OK)
            goto out;
        if (o == NULL)
            break;
        if (have_head) {
            rc = bad_line(&r, err, "lines after the head");
            goto out;
        }
        if (strcmp(kind_of(o), "head") == 0) {
            if ((rc = parse_head(&r, o, &head, err)) != TH_OK)
                goto out;
            have_head = 1;
            if (w.next_seq > 0 && head.seq == w.next_seq - 1) {
                w.head_seen = 1;
                memcpy(w.head_event, w.prev, 32);
            }
            continue;
        }
        if (strcmp(kind_of(o), "component") == 0) {
            if ((rc = parse_component(&r, o, &comps, into != NULL, w.next_seq, err)) != TH_OK)
                goto out;
            continue;
        }
        if (strcmp(kind_of(o), "event") != 0) {
            rc = bad_line(&r, err, "unknown line kind");
            goto out;
        }
        if ((rc = parse_event(&r, o, &ev, &buf, err)) != TH_OK)
            goto out;
        w.head = NULL; /* head not known yet: compared at the end */
        if ((rc = chain_walk_event(&w, ctx, &ev, err)) != TH_OK)
            goto out;
        ci = NULL;
        if ((with_components || comps.count > 0) && chain_event_component(&ev, chash) &&
            (ci = comp_find(&comps, chash)) == NULL) {
            char hex[65];
            rc = chain_report(res, err, TH_CHAIN_BAD_CONTENT, r.actor, ev.seq,
                              "component %s that the event names is not in the file",
                              base_hex_encode(chash, 32, hex));
            goto out;
        }
        if (into != NULL && ci != NULL && !ci->imported) {
            rc = chain_import_event(into, &ev, ci->bytes, ci->len, ci->hash, &ticket, err);
            ci->imported = 1;
        } else if (into != NULL) {
            rc = chain_import_event(into, &ev, NULL, 0, NULL, &ticket, err);
        }
        if (rc != TH_OK)
            goto out;
    }
    w.head = have_head ? &head : NULL;
    if (!have_head) {
        rc = chain_report(res, err, TH_CHAIN_UNSIGNED, r.actor, w.next_seq,
                          "the file has no signed head (truncated?)");
        goto out;
    }
    /* who signed it, whatever the outcome of the checks below */
    res->has_signer = 1;
    memcpy(res->signer, head.public_key, 32);
    rc = chain_walk_finish(&w, ctx, trusted, err);
    if (rc == TH_OK)
        snprintf(res->actor, sizeof res->actor, "%s", r.actor);
    if (rc == TH_OK && trusted != NULL)
        res->signer_trusted = 1;
    if (rc == TH_OK && into != NULL)
        rc = th_chain_wait_durable(into, ticket, -1, err);
out:
    json_decref(o);
    free(buf);
    free(r.line);
    comp_free(&comps);
    return rc;
}

int th_chain_verify_file(FILE *in, const uint8_t *trusted, th_chain_verify_result *res,
                         th_error *err)
{
    return read_export(in, trusted, NULL, res, err);
}

/* After an intact file: is its signer in `trust`? */
static int check_trust(const th_chain_trust *trust, th_chain_verify_result *res, th_error *err)
{
    char fp[TH_CHAIN_FINGERPRINT_SIZE], hex[65], actor[sizeof res->actor];

    if (th_chain_trust_find(trust, res->signer) >= 0) {
        res->signer_trusted = 1;
        return TH_OK;
    }
    res->signer_trusted = 0;
    th_chain_key_fingerprint(res->signer, fp);
    snprintf(actor, sizeof actor, "%s", res->actor);
    return chain_report(res, err, TH_CHAIN_UNTRUSTED, actor, res->events ? res->events - 1 : 0,
                        "the chain is intact but signed by key %s (%s), which this home does "
                        "not trust: anyone can sign an edited chain with a key of their own "
                        "(check the key with its owner, then `theater chain trust add KEY`)",
                        fp, base_hex_encode(res->signer, 32, hex));
}

int th_chain_verify_file_trust(FILE *in, const th_chain_trust *trust, th_chain_verify_result *res,
                               th_error *err)
{
    int rc = read_export(in, NULL, NULL, res, err);

    return rc == TH_OK ? check_trust(trust, res, err) : rc;
}

int th_chain_import(th_chain *c, FILE *in, unsigned flags, th_chain_verify_result *res,
                    th_error *err)
{
    th_chain_trust trust;
    file_reader r;
    json_t *o = NULL, *a;
    long start = ftell(in);
    int rc, trusted;

    if (start < 0)
        return th_error_set(err, TH_EINVAL, "import needs a seekable file");
    if ((rc = read_export(in, NULL, NULL, res, err)) != TH_OK)
        return rc;
    if ((rc = th_chain_trust_load(chain_home(c), &trust, err)) != TH_OK)
        return rc;
    rc = check_trust(&trust, res, err);
    th_chain_trust_free(&trust);
    if (rc != TH_OK && !(flags & TH_CHAIN_IMPORT_ALLOW_UNTRUSTED))
        return rc;
    if (rc != TH_OK) { /* allowed: the verdict stays "untrusted" in res */
        res->problem = TH_CHAIN_OK;
        th_error_clear(err);
    }
    /* The file verifies; refuse an actor that already has a chain. */
    if (fseek(in, start, SEEK_SET) != 0)
        return th_error_set(err, TH_EIO, "cannot rewind the file");
    memset(&r, 0, sizeof r);
    r.in = in;
    r.res = res;
    rc = next_object(&r, &o, err);
    a = o ? json_object_get(o, "actor") : NULL;
    if (rc == TH_OK && json_is_string(a)) {
        int known = chain_actor_known(c, json_string_value(a), err);
        if (known < 0)
            rc = err->code;
        else if (known > 0)
            rc = th_error_set(err, TH_EEXIST, "actor %s already has a chain here",
                              json_string_value(a));
        else
            th_error_clear(err);
    }
    json_decref(o);
    free(r.line);
    if (rc != TH_OK)
        return rc;
    if (fseek(in, start, SEEK_SET) != 0)
        return th_error_set(err, TH_EIO, "cannot rewind the file");
    trusted = res->signer_trusted;
    rc = read_export(in, NULL, c, res, err);
    res->signer_trusted = trusted;
    return rc;
}
