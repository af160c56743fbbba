/*
 * store.c - the `store` interface: the content-addressed store of
 * THEATER_HOME (theater/store.h) offered to actors, all fourteen calls.
 * Lifting, lowering and recording are the generated glue's (wit_glue.h);
 * each function here calls the store and turns its answer into the
 * result: a store error is err(message), never a trap.  What an actor adds
 * is charged against its limits.store_bytes and every ancestor's (charge).
 */
#include <stdlib.h>
#include <string.h>

#include "theater/store.h"
#include "handlers/handlers_int.h"
#include "wit_glue.h"

/* err(message of a failed store call) into a result's error string. */
static int fail(rt_host *h, bool *is_err, wit_str *err, int rc, const th_error *e)
{
    *is_err = true;
    return wit_str_set(h, err, e->msg[0] ? e->msg : th_strerror(rc));
}

static th_store *store_of(rt_host *h)
{
    return h->a->rt->store;
}

/* ok(content-ref) from a store reference. */
static int ref_out(rt_host *h, wit_store_content_ref *out, const th_content_ref *ref)
{
    return wit_str_set(h, &out->hash, ref->hash);
}

/* A list of strings from a store list (whose strings it takes over). */
static int strings_take(rt_host *h, th_store_list *l, wit_list_str *out)
{
    size_t i;
    int rc = 0;

    if ((out->ptr = calloc(l->count ? l->count : 1, sizeof *out->ptr)) == NULL)
        rc = th_error_set(&h->err, TH_ENOMEM, "out of memory");
    for (i = 0; rc == 0 && i < l->count; i++) {
        out->ptr[i].ptr = l->items[i];
        out->ptr[i].len = strlen(l->items[i]);
        l->items[i] = NULL;
        out->len = i + 1;
    }
    th_store_list_free(l);
    return rc;
}

/* Store bytes a call adds (limits.store_bytes): charged to the actor and
 * its ancestors before the call (0, or TH_ETOOBIG with the message in *e),
 * given back by refund if the call fails.  What counts: the content, the
 * label's name, and TH_RT_STORE_ENTRY_BYTES per new store or label entry. */
static int charge(rt_host *h, uint64_t content, const wit_str *label, th_error *e)
{
    uint64_t n = content + (label != NULL ? label->len : 0) + TH_RT_STORE_ENTRY_BYTES;

    if (rt_quota_store(h->a, n, e->msg, sizeof e->msg) != 0)
        return e->code = TH_ETOOBIG;
    return 0;
}

static void refund(rt_host *h, uint64_t content, const wit_str *label)
{
    rt_quota_store_refund(h->a,
                          content + (label != NULL ? label->len : 0) + TH_RT_STORE_ENTRY_BYTES);
}

static int s_new(rt_host *h, wit_res_str_str *ret)
{
    char sid[TH_STORE_ID_LEN + 1];
    th_error e;
    int rc;

    th_error_clear(&e);
    if ((rc = charge(h, 0, NULL, &e)) != 0)
        return fail(h, &ret->is_err, &ret->err, rc, &e);
    if ((rc = th_store_new(store_of(h), sid, &e)) != 0) {
        refund(h, 0, NULL);
        return fail(h, &ret->is_err, &ret->err, rc, &e);
    }
    return wit_str_set(h, &ret->ok, sid);
}

static int s_store(rt_host *h, wit_str *store_id, wit_bytes *content,
                   wit_res_store_content_ref_str *ret)
{
    th_content_ref ref;
    th_error e;
    int rc;

    th_error_clear(&e);
    if ((rc = charge(h, content->len, NULL, &e)) != 0)
        return fail(h, &ret->is_err, &ret->err, rc, &e);
    if ((rc = th_store_put(store_of(h), store_id->ptr, content->ptr, content->len, &ref, &e)) !=
        0) {
        refund(h, content->len, NULL);
        return fail(h, &ret->is_err, &ret->err, rc, &e);
    }
    return ref_out(h, &ret->ok, &ref);
}

static int s_get(rt_host *h, wit_str *store_id, wit_store_content_ref *content_ref,
                 wit_res_bytes_str *ret)
{
    void *data = NULL;
    size_t len = 0;
    th_error e;
    int rc;

    th_error_clear(&e);
    if ((rc = th_store_get(store_of(h), store_id->ptr, content_ref->hash.ptr, &data, &len, &e)) !=
        0)
        return fail(h, &ret->is_err, &ret->err, rc, &e);
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

    th_error_clear(&e);
    if ((rc = th_store_exists(store_of(h), store_id->ptr, content_ref->hash.ptr, &ex, &e)) != 0)
        return fail(h, &ret->is_err, &ret->err, rc, &e);
    ret->ok = ex != 0;
    return 0;
}

static int s_label(rt_host *h, wit_str *store_id, wit_str *label,
                   wit_store_content_ref *content_ref, wit_res_unit_str *ret)
{
    th_error e;
    int rc;

    th_error_clear(&e);
    if ((rc = charge(h, 0, label, &e)) != 0)
        return fail(h, &ret->is_err, &ret->err, rc, &e);
    if ((rc = th_store_label(store_of(h), store_id->ptr, label->ptr, content_ref->hash.ptr, &e)) !=
        0) {
        refund(h, 0, label);
        return fail(h, &ret->is_err, &ret->err, rc, &e);
    }
    return 0;
}

static int s_get_by_label(rt_host *h, wit_str *store_id, wit_str *label,
                          wit_res_opt_store_content_ref_str *ret)
{
    th_content_ref ref;
    th_error e;
    bool found = false;
    int rc;

    th_error_clear(&e);
    if ((rc = th_store_get_by_label(store_of(h), store_id->ptr, label->ptr, &ref, &found, &e)) != 0)
        return fail(h, &ret->is_err, &ret->err, rc, &e);
    ret->ok.some = found != 0;
    return found ? ref_out(h, &ret->ok.val, &ref) : 0;
}

static int s_remove_label(rt_host *h, wit_str *store_id, wit_str *label, wit_res_unit_str *ret)
{
    th_error e;
    int rc;

    th_error_clear(&e);
    if ((rc = th_store_remove_label(store_of(h), store_id->ptr, label->ptr, &e)) != 0)
        return fail(h, &ret->is_err, &ret->err, rc, &e);
    return 0;
}

static int s_remove_from_label(rt_host *h, wit_str *store_id, wit_str *label,
                               wit_store_content_ref *content_ref, wit_res_unit_str *ret)
{
    th_error e;
    int rc;

    th_error_clear(&e);
    rc = th_store_remove_from_label(store_of(h), store_id->ptr, label->ptr, content_ref->hash.ptr,
                                    &e);
    return rc != 0 ? fail(h, &ret->is_err, &ret->err, rc, &e) : 0;
}

static int s_store_at_label(rt_host *h, wit_str *store_id, wit_str *label, wit_bytes *content,
                            wit_res_store_content_ref_str *ret)
{
    th_content_ref ref;
    th_error e;
    int rc;

    th_error_clear(&e);
    if ((rc = charge(h, content->len, label, &e)) != 0)
        return fail(h, &ret->is_err, &ret->err, rc, &e);
    rc = th_store_store_at_label(store_of(h), store_id->ptr, label->ptr, content->ptr, content->len,
                                 &ref, &e);
    if (rc != 0) {
        refund(h, content->len, label);
        return fail(h, &ret->is_err, &ret->err, rc, &e);
    }
    return ref_out(h, &ret->ok, &ref);
}

static int s_replace_content_at_label(rt_host *h, wit_str *store_id, wit_str *label,
                                      wit_bytes *content, wit_res_store_content_ref_str *ret)
{
    th_content_ref ref;
    th_error e;
    int rc;

    th_error_clear(&e);
    if ((rc = charge(h, content->len, label, &e)) != 0)
        return fail(h, &ret->is_err, &ret->err, rc, &e);
    rc = th_store_replace_content_at_label(store_of(h), store_id->ptr, label->ptr, content->ptr,
                                           content->len, &ref, &e);
    if (rc != 0) {
        refund(h, content->len, label);
        return fail(h, &ret->is_err, &ret->err, rc, &e);
    }
    return ref_out(h, &ret->ok, &ref);
}

static int s_replace_at_label(rt_host *h, wit_str *store_id, wit_str *label,
                              wit_store_content_ref *content_ref, wit_res_unit_str *ret)
{
    th_error e;
    int rc;

    th_error_clear(&e);
    if ((rc = charge(h, 0, label, &e)) != 0)
        return fail(h, &ret->is_err, &ret->err, rc, &e);
    rc = th_store_replace_at_label(store_of(h), store_id->ptr, label->ptr, content_ref->hash.ptr,
                                   &e);
    if (rc != 0)
        refund(h, 0, label);
    return rc != 0 ? fail(h, &ret->is_err, &ret->err, rc, &e) : 0;
}

static int s_list_labels(rt_host *h, wit_str *store_id, wit_res_list_str_str *ret)
{
    th_store_list l = {NULL, 0};
    th_error e;
    int rc;

    th_error_clear(&e);
    if ((rc = th_store_list_labels(store_of(h), store_id->ptr, &l, &e)) != 0)
        return fail(h, &ret->is_err, &ret->err, rc, &e);
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

    th_error_clear(&e);
    if ((rc = th_store_list_content(store_of(h), store_id->ptr, &l, &e)) != 0)
        return fail(h, &ret->is_err, &ret->err, rc, &e);
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

    th_error_clear(&e);
    if ((rc = th_store_total_size(store_of(h), store_id->ptr, &ret->ok, &e)) != 0)
        return fail(h, &ret->is_err, &ret->err, rc, &e);
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

const rt_iface rt_iface_store = {"theater:simple/store", RT_H_STORE, wit_fns_store,
                                 WIT_NFNS_STORE,         &impl,      NULL};
