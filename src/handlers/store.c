/*
 * store.c - the `store` interface: the content-addressed store of
 * THEATER_HOME (theater/store.h) offered to actors, all fourteen calls.
 * Lifting, lowering and recording are the generated glue's (wit_glue.h);
 * each function here calls the store and turns its answer into the
 * result: a store error is err(message), never a trap.  A database
 * error's message names the database file, a host path the actor must not
 * learn: the actor's err says what failed in words and the runtime's log
 * has the whole message (rt_error_hide_host).  What an actor adds
 * is charged against its limits.store_bytes and every ancestor's (charge).
 *
 * Reads answer at once (`get` returns the bytes as stored, without
 * re-hashing them: th_store_get_unverified).  Writes (new, store, label, remove-label,
 * remove-from-label, store-at-label, replace-content-at-label,
 * replace-at-label) wait for the database's fsync, so they do not run on
 * the actor's worker: the call suspends the actor (as sleep does), the
 * write runs in libuv's thread pool (queued from the I/O thread), and its
 * completion wakes the actor with the result (RT_WAIT_RESULT), recorded
 * then.  Other actors run on in the meantime.
 */
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "theater/store.h"
#include "handlers/handlers_int.h"
#include "wit_glue.h"

#define IFACE "store"

/* err(message of the failed store call `fn`) into a result's error
 * string; a database error's message names host files, so the actor gets
 * it in words and the runtime's log the whole of it (rt_error_hide_host). */
static int fail(rt_host *h, const char *fn, bool *is_err, wit_str *err, int rc, th_error *e)
{
    if (e->code == TH_OK)
        e->code = rc;
    rt_error_hide_host(rt_actor_runtime(h->a), h->a, fn, NULL, 0, e);
    *is_err = true;
    return wit_str_set(h, err, e->msg[0] ? e->msg : th_strerror(rc));
}

/* A store id, label or hash is passed on as a C string: one holding a NUL
 * would be cut at it ("important\0x" naming label "important"), so it is
 * refused. */
static bool holds_nul(const wit_str *s)
{
    return s != NULL && strlen(s->ptr) != s->len;
}

static int nul_refused(rt_host *h, bool *is_err, wit_str *err)
{
    *is_err = true;
    return wit_str_set(h, err, "a store id, label or content hash cannot hold a NUL character");
}

static th_store *store_of(rt_host *h)
{
    return rt_runtime_store(rt_actor_runtime(h->a));
}

/* ok(content-ref) from a store reference. */
static int ref_out(rt_host *h, wit_store_content_ref *out, const th_content_ref *ref)
{
    return wit_str_set(h, &out->hash, ref->hash);
}

/* A list of strings from a store list (whose strings it takes over). */
static int strings_take(rt_host *h, th_store_list *l, wit_list_str *out)
{
    size_t i, n;
    int rc = 0;

    if ((out->ptr = calloc(l->count ? l->count : 1, sizeof *out->ptr)) == NULL)
        rc = th_error_set(&h->err, TH_ENOMEM, "out of memory");
    for (i = 0; rc == 0 && i < l->count; i++) {
        /* a label set from outside (the CLI, the API) that is not UTF-8
         * cannot be a WIT string: left out */
        n = strlen(l->items[i]);
        if (!rt_utf8_valid((const uint8_t *)l->items[i], n))
            continue;
        out->ptr[out->len].ptr = l->items[i];
        out->ptr[out->len].len = n;
        l->items[i] = NULL;
        out->len++;
    }
    th_store_list_free(l);
    return rc;
}

/* Store bytes a write adds (limits.store_bytes), charged to the actor and
 * its ancestors before the write and given back if it fails: the content,
 * the label's name, and TH_RT_STORE_ENTRY_BYTES per new store or label
 * entry. */
static uint64_t cost(uint64_t content, const wit_str *label)
{
    return content + (label != NULL ? label->len : 0) + TH_RT_STORE_ENTRY_BYTES;
}

/* ------------------------------------------------------------------ */
/* Writes, off the worker                                             */

enum {
    W_NEW,
    W_STORE,
    W_LABEL,
    W_REMOVE_LABEL,
    W_REMOVE_FROM_LABEL,
    W_STORE_AT_LABEL,
    W_REPLACE_CONTENT_AT_LABEL,
    W_REPLACE_AT_LABEL
};

/* One write: its arguments (copies), its outcome, and the result the wake
 * lowers.  `base` first: the job is the wake's rt_result. */
typedef struct st_job {
    rt_result base;
    uv_work_t work;
    /* 1 handed to the pool, 2 written: release/acquire pairs that order
     * the job's fields across libuv's hand-offs (whose own synchronization
     * ThreadSanitizer cannot see) */
    atomic_int stage;
    int kind;       /* W_* */
    const char *fn; /* the call's name (static) */
    rt_runtime *rt;
    rt_actor *a; /* reference held until the job is freed (the refund) */
    char actor[RT_ID_LEN + 1];
    uint64_t token;
    char *store_id, *label, *hash;
    uint8_t *content;
    size_t len;
    uint64_t charged; /* store bytes charged; given back if the write fails */
    /* outcome (thread pool), then the result (strings point into the job) */
    int rc;
    th_error e;
    char sid[TH_STORE_ID_LEN + 1];
    th_content_ref ref;
    union {
        wit_res_unit_str unit;
        wit_res_str_str str;
        wit_res_store_content_ref_str cref;
    } v;
} st_job;

static void job_free(st_job *j)
{
    free(j->store_id);
    free(j->label);
    free(j->hash);
    free(j->content);
    rt_actor_release(j->a);
    free(j);
}

static int job_lower(rt_result *r, rt_guest *g, uint32_t retptr, rt_buf *json)
{
    st_job *j = (st_job *)r;
    int rc;

    switch (j->kind) {
    case W_NEW:
        if ((rc = wit_lower_res_str_str(g, retptr, &j->v.str)) == 0)
            wit_json_res_str_str(json, &j->v.str);
        return rc;
    case W_STORE:
    case W_STORE_AT_LABEL:
    case W_REPLACE_CONTENT_AT_LABEL:
        if ((rc = wit_lower_res_store_content_ref_str(g, retptr, &j->v.cref)) == 0)
            wit_json_res_store_content_ref_str(json, &j->v.cref);
        return rc;
    default:
        if ((rc = wit_lower_res_unit_str(g, retptr, &j->v.unit)) == 0)
            wit_json_res_unit_str(json, &j->v.unit);
        return rc;
    }
}

static void job_release(rt_result *r)
{
    job_free((st_job *)r);
}

/* The job of a uv_work_t (by address: nothing is read before `stage`). */
static st_job *job_of(uv_work_t *w)
{
    return (st_job *)(void *)((char *)w - offsetof(st_job, work));
}

/* The thread pool: the write itself. */
static void job_run(uv_work_t *w)
{
    st_job *j = job_of(w);
    th_store *st;

    (void)atomic_load_explicit(&j->stage, memory_order_acquire);
    st = rt_runtime_store(j->rt);
    th_error_clear(&j->e);
    switch (j->kind) {
    case W_NEW: j->rc = th_store_new(st, j->sid, &j->e); break;
    case W_STORE: j->rc = th_store_put(st, j->store_id, j->content, j->len, &j->ref, &j->e); break;
    case W_LABEL: j->rc = th_store_label(st, j->store_id, j->label, j->hash, &j->e); break;
    case W_REMOVE_LABEL: j->rc = th_store_remove_label(st, j->store_id, j->label, &j->e); break;
    case W_REMOVE_FROM_LABEL:
        j->rc = th_store_remove_from_label(st, j->store_id, j->label, j->hash, &j->e);
        break;
    case W_STORE_AT_LABEL:
        j->rc =
            th_store_store_at_label(st, j->store_id, j->label, j->content, j->len, &j->ref, &j->e);
        break;
    case W_REPLACE_CONTENT_AT_LABEL:
        j->rc = th_store_replace_content_at_label(st, j->store_id, j->label, j->content, j->len,
                                                  &j->ref, &j->e);
        break;
    default: j->rc = th_store_replace_at_label(st, j->store_id, j->label, j->hash, &j->e); break;
    }
    atomic_store_explicit(&j->stage, 2, memory_order_release);
}

/* The outcome as the call's result, then the wake (any thread). */
static void job_finish(st_job *j)
{
    wit_str err = {NULL, 0};
    bool is_err = j->rc != 0;
    rt_actor *a;

    if (is_err) {
        if (j->charged > 0)
            rt_quota_store_refund(j->a, j->charged);
        if (j->e.code == TH_OK)
            j->e.code = j->rc;
        rt_error_hide_host(j->rt, j->a, j->fn, NULL, 0, &j->e);
        if (j->e.msg[0] == 0)
            snprintf(j->e.msg, sizeof j->e.msg, "%s", th_strerror(j->rc));
        err = (wit_str){j->e.msg, strlen(j->e.msg)};
    }
    switch (j->kind) {
    case W_NEW: j->v.str = (wit_res_str_str){is_err, {j->sid, strlen(j->sid)}, err}; break;
    case W_STORE:
    case W_STORE_AT_LABEL:
    case W_REPLACE_CONTENT_AT_LABEL:
        j->v.cref.is_err = is_err;
        j->v.cref.ok.hash = (wit_str){j->ref.hash, is_err ? 0 : strlen(j->ref.hash)};
        j->v.cref.err = err;
        break;
    default: j->v.unit = (wit_res_unit_str){is_err, err}; break;
    }
    j->base.lower = job_lower;
    j->base.free = job_release;
    if ((a = rt_actor_find(j->rt, j->actor, RT_ID_LEN)) == NULL) {
        job_free(j); /* the actor is gone: nobody waits */
        return;
    }
    rt_actor_wake_result(a, j->token, &j->base);
    rt_actor_release(a);
}

/* The write will not run (the runtime is stopping): err as the result. */
static void job_refuse(st_job *j)
{
    j->rc = th_error_set(&j->e, TH_ECLOSED, "the runtime is stopping");
    job_finish(j);
}

static void job_done(uv_work_t *w, int status)
{
    st_job *j = job_of(w);

    (void)atomic_load_explicit(&j->stage, memory_order_acquire);
    if (status != 0)
        job_refuse(j);
    else
        job_finish(j);
}

/* The I/O thread: hand the job to the thread pool. */
static void job_start(struct uv_loop_s *loop, void *ud)
{
    st_job *j = ud;

    atomic_store_explicit(&j->stage, 1, memory_order_release);
    if (loop == NULL || uv_queue_work(loop, &j->work, job_run, job_done) != 0)
        job_refuse(j);
}

/* A write of `kind` with copies of its arguments (any may be NULL), the
 * store bytes already charged for it; NULL when out of memory (the charge
 * given back). */
static st_job *job_new(rt_host *h, int kind, const wit_str *store_id, const wit_str *label,
                       const wit_str *hash, const wit_bytes *content, uint64_t charged)
{
    st_job *j = calloc(1, sizeof *j);

    if (j == NULL)
        goto oom;
    j->kind = kind;
    j->rt = rt_actor_runtime(h->a);
    j->a = h->a;
    rt_actor_ref(h->a);
    snprintf(j->actor, sizeof j->actor, "%s", rt_actor_id(h->a));
    j->charged = charged;
    if ((store_id != NULL && (j->store_id = strndup(store_id->ptr, store_id->len)) == NULL) ||
        (label != NULL && (j->label = strndup(label->ptr, label->len)) == NULL) ||
        (hash != NULL && (j->hash = strndup(hash->ptr, hash->len)) == NULL))
        goto oom;
    if (content != NULL) {
        if ((j->content = malloc(content->len ? content->len : 1)) == NULL)
            goto oom;
        memcpy(j->content, content->ptr, content->len);
        j->len = content->len;
    }
    return j;
oom:
    if (charged > 0)
        rt_quota_store_refund(h->a, charged);
    if (j != NULL)
        job_free(j);
    th_error_set(&h->err, TH_ENOMEM, "out of memory");
    return NULL;
}

/* Suspend the calling actor until the job's write is done. */
static int job_submit(rt_host *h, st_job *j, const char *fn)
{
    j->fn = fn;
    j->token = rt_op_wait(h->a, RT_WAIT_RESULT, h->retptr, IFACE, fn, h->input);
    h->input = NULL;
    if (rt_io_post(rt_actor_runtime(h->a), job_start, j) != 0)
        job_refuse(j); /* answered through the wake all the same (the turn reads it next) */
    return TH_WASM_SUSPENDED;
}

/* A write: charge `charged` bytes first (an err result when over the
 * limit), then suspend until it is done. */
static int write_op(rt_host *h, int kind, const char *fn, uint64_t charged, const wit_str *store_id,
                    const wit_str *label, const wit_str *hash, const wit_bytes *content,
                    bool *is_err, wit_str *err)
{
    th_error e;
    st_job *j;
    int rc;

    th_error_clear(&e);
    if (holds_nul(store_id) || holds_nul(label) || holds_nul(hash))
        return nul_refused(h, is_err, err);
    /* a store the runtime keeps for itself (rt_store_reserved) is no
     * actor's: answered as one that does not exist, by every call */
    if (store_id != NULL && rt_store_reserved(store_id->ptr, store_id->len, &e))
        return fail(h, fn, is_err, err, TH_ENOENT, &e);
    if (charged > 0 && (rc = rt_quota_store(h->a, charged, e.msg, sizeof e.msg)) != 0)
        return fail(h, fn, is_err, err, TH_ETOOBIG, &e);
    if ((j = job_new(h, kind, store_id, label, hash, content, charged)) == NULL)
        return TH_ENOMEM;
    return job_submit(h, j, fn);
}

static int s_new(rt_host *h, wit_res_str_str *ret)
{
    return write_op(h, W_NEW, "new", cost(0, NULL), NULL, NULL, NULL, NULL, &ret->is_err,
                    &ret->err);
}

static int s_store(rt_host *h, wit_str *store_id, wit_bytes *content,
                   wit_res_store_content_ref_str *ret)
{
    return write_op(h, W_STORE, "store", cost(content->len, NULL), store_id, NULL, NULL, content,
                    &ret->is_err, &ret->err);
}

static int s_get(rt_host *h, wit_str *store_id, wit_store_content_ref *content_ref,
                 wit_res_bytes_str *ret)
{
    void *data = NULL;
    size_t len = 0;
    th_error e;
    int rc;

    if (holds_nul(store_id) || holds_nul(&content_ref->hash))
        return nul_refused(h, &ret->is_err, &ret->err);
    th_error_clear(&e);
    if (rt_store_reserved(store_id->ptr, store_id->len, &e)) /* no actor's */
        return fail(h, "get", &ret->is_err, &ret->err, TH_ENOENT, &e);
    /* the hot read: no re-hash (th_store_get_unverified; the CLI's and the
     * runtime's own reads of recorded content verify) */
    rc =
        th_store_get_unverified(store_of(h), store_id->ptr, content_ref->hash.ptr, &data, &len, &e);
    if (rc != 0)
        return fail(h, "get", &ret->is_err, &ret->err, rc, &e);
    ret->ok.ptr = data; /* owned by the result now */
    ret->ok.len = len;
    return 0;
}

static int s_exists(rt_host *h, wit_str *store_id, wit_store_content_ref *content_ref,
                    wit_res_bool_str *ret)
{
    th_error e;
    bool ex = false;
    int rc;

    if (holds_nul(store_id) || holds_nul(&content_ref->hash))
        return nul_refused(h, &ret->is_err, &ret->err);
    th_error_clear(&e);
    if (rt_store_reserved(store_id->ptr, store_id->len, &e)) /* no actor's */
        return fail(h, "exists", &ret->is_err, &ret->err, TH_ENOENT, &e);
    if ((rc = th_store_exists(store_of(h), store_id->ptr, content_ref->hash.ptr, &ex, &e)) != 0)
        return fail(h, "exists", &ret->is_err, &ret->err, rc, &e);
    ret->ok = ex != 0;
    return 0;
}

static int s_label(rt_host *h, wit_str *store_id, wit_str *label,
                   wit_store_content_ref *content_ref, wit_res_unit_str *ret)
{
    return write_op(h, W_LABEL, "label", cost(0, label), store_id, label, &content_ref->hash, NULL,
                    &ret->is_err, &ret->err);
}

static int s_get_by_label(rt_host *h, wit_str *store_id, wit_str *label,
                          wit_res_opt_store_content_ref_str *ret)
{
    th_content_ref ref;
    th_error e;
    bool found = false;
    int rc;

    if (holds_nul(store_id) || holds_nul(label))
        return nul_refused(h, &ret->is_err, &ret->err);
    th_error_clear(&e);
    if (rt_store_reserved(store_id->ptr, store_id->len, &e)) /* no actor's */
        return fail(h, "get-by-label", &ret->is_err, &ret->err, TH_ENOENT, &e);
    if ((rc = th_store_get_by_label(store_of(h), store_id->ptr, label->ptr, &ref, &found, &e)) != 0)
        return fail(h, "get-by-label", &ret->is_err, &ret->err, rc, &e);
    ret->ok.some = found != 0;
    return found ? ref_out(h, &ret->ok.val, &ref) : 0;
}

static int s_remove_label(rt_host *h, wit_str *store_id, wit_str *label, wit_res_unit_str *ret)
{
    return write_op(h, W_REMOVE_LABEL, "remove-label", 0, store_id, label, NULL, NULL, &ret->is_err,
                    &ret->err);
}

static int s_remove_from_label(rt_host *h, wit_str *store_id, wit_str *label,
                               wit_store_content_ref *content_ref, wit_res_unit_str *ret)
{
    return write_op(h, W_REMOVE_FROM_LABEL, "remove-from-label", 0, store_id, label,
                    &content_ref->hash, NULL, &ret->is_err, &ret->err);
}

static int s_store_at_label(rt_host *h, wit_str *store_id, wit_str *label, wit_bytes *content,
                            wit_res_store_content_ref_str *ret)
{
    return write_op(h, W_STORE_AT_LABEL, "store-at-label", cost(content->len, label), store_id,
                    label, NULL, content, &ret->is_err, &ret->err);
}

static int s_replace_content_at_label(rt_host *h, wit_str *store_id, wit_str *label,
                                      wit_bytes *content, wit_res_store_content_ref_str *ret)
{
    return write_op(h, W_REPLACE_CONTENT_AT_LABEL, "replace-content-at-label",
                    cost(content->len, label), store_id, label, NULL, content, &ret->is_err,
                    &ret->err);
}

static int s_replace_at_label(rt_host *h, wit_str *store_id, wit_str *label,
                              wit_store_content_ref *content_ref, wit_res_unit_str *ret)
{
    return write_op(h, W_REPLACE_AT_LABEL, "replace-at-label", cost(0, label), store_id, label,
                    &content_ref->hash, NULL, &ret->is_err, &ret->err);
}

static int s_list_labels(rt_host *h, wit_str *store_id, wit_res_list_str_str *ret)
{
    th_store_list l = {NULL, 0};
    th_error e;
    int rc;

    if (holds_nul(store_id))
        return nul_refused(h, &ret->is_err, &ret->err);
    th_error_clear(&e);
    if (rt_store_reserved(store_id->ptr, store_id->len, &e)) /* no actor's */
        return fail(h, "list-labels", &ret->is_err, &ret->err, TH_ENOENT, &e);
    if ((rc = th_store_list_labels(store_of(h), store_id->ptr, &l, &e)) != 0)
        return fail(h, "list-labels", &ret->is_err, &ret->err, rc, &e);
    return strings_take(h, &l, &ret->ok);
}

static int s_list_all_content(rt_host *h, wit_str *store_id,
                              wit_res_list_store_content_ref_str *ret)
{
    th_store_list l = {NULL, 0};
    wit_list_str hashes = {NULL, 0};
    size_t i;
    th_error e;
    int rc;

    if (holds_nul(store_id))
        return nul_refused(h, &ret->is_err, &ret->err);
    th_error_clear(&e);
    if (rt_store_reserved(store_id->ptr, store_id->len, &e)) /* no actor's */
        return fail(h, "list-all-content", &ret->is_err, &ret->err, TH_ENOENT, &e);
    if ((rc = th_store_list_content(store_of(h), store_id->ptr, &l, &e)) != 0)
        return fail(h, "list-all-content", &ret->is_err, &ret->err, rc, &e);
    rc = strings_take(h, &l, &hashes);
    if (rc == 0 && (ret->ok.ptr = calloc(hashes.len ? hashes.len : 1, sizeof *ret->ok.ptr)) == NULL)
        rc = th_error_set(&h->err, TH_ENOMEM, "out of memory");
    for (i = 0; rc == 0 && i < hashes.len; i++) {
        ret->ok.ptr[i].hash = hashes.ptr[i]; /* moved */
        hashes.ptr[i] = (wit_str){NULL, 0};
        ret->ok.len = i + 1;
    }
    wit_free_list_str(&hashes);
    return rc;
}

static int s_calculate_total_size(rt_host *h, wit_str *store_id, wit_res_u64_str *ret)
{
    th_error e;
    int rc;

    if (holds_nul(store_id))
        return nul_refused(h, &ret->is_err, &ret->err);
    th_error_clear(&e);
    if (rt_store_reserved(store_id->ptr, store_id->len, &e)) /* no actor's */
        return fail(h, "calculate-total-size", &ret->is_err, &ret->err, TH_ENOENT, &e);
    if ((rc = th_store_total_size(store_of(h), store_id->ptr, &ret->ok, &e)) != 0)
        return fail(h, "calculate-total-size", &ret->is_err, &ret->err, rc, &e);
    return 0;
}

static const wit_impl_store impl = {
    .new_ = s_new,
    .store = s_store,
    .get = s_get,
    .exists = s_exists,
    .label = s_label,
    .get_by_label = s_get_by_label,
    .remove_label = s_remove_label,
    .remove_from_label = s_remove_from_label,
    .store_at_label = s_store_at_label,
    .replace_content_at_label = s_replace_content_at_label,
    .replace_at_label = s_replace_at_label,
    .list_labels = s_list_labels,
    .list_all_content = s_list_all_content,
    .calculate_total_size = s_calculate_total_size,
};

const rt_iface rt_iface_store = {
    .name = "store",
    .module = "theater:simple/store",
    .handler = HANDLER_STORE,
    .fns = wit_fns_store,
    .nfns = WIT_NFNS_STORE,
    .impl = &impl,
    .grants_store = true, /* a spawn may read init_state from the store */
};
