/*
 * store.c - the `store` interface: the content-addressed store of
 * THEATER_HOME (theater/store.h) offered to actors, all fourteen calls.
 * A content-ref record {hash: string} flattens to one string.  What an
 * actor adds is charged against its limits.store_bytes and every
 * ancestor's (the call fails with an error beyond them).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "theater/store.h"
#include "runtime/rt_int.h"

#define IFACE "store"

enum {
    S_NEW, S_STORE, S_GET, S_EXISTS, S_LABEL, S_GET_BY_LABEL, S_REMOVE_LABEL, S_REMOVE_FROM_LABEL,
    S_STORE_AT_LABEL, S_REPLACE_CONTENT, S_REPLACE_AT_LABEL, S_LIST_LABELS, S_LIST_CONTENT, S_SIZE
};

static const char *const names[] = {
    "new", "store", "get", "exists", "label", "get-by-label", "remove-label", "remove-from-label",
    "store-at-label", "replace-content-at-label", "replace-at-label", "list-labels",
    "list-all-content", "calculate-total-size",
};

/* Parameter shapes: how many strings, then whether a list<u8> follows. */
static const struct { int nstr; bool content; } shape[] = {
    [S_NEW] = {0, false},          [S_STORE] = {1, true},           [S_GET] = {2, false},
    [S_EXISTS] = {2, false},       [S_LABEL] = {3, false},          [S_GET_BY_LABEL] = {2, false},
    [S_REMOVE_LABEL] = {2, false}, [S_REMOVE_FROM_LABEL] = {3, false},
    [S_STORE_AT_LABEL] = {2, true}, [S_REPLACE_CONTENT] = {2, true}, [S_REPLACE_AT_LABEL] = {3, false},
    [S_LIST_LABELS] = {1, false},  [S_LIST_CONTENT] = {1, false},   [S_SIZE] = {1, false},
};

/* Store bytes a call adds (limits.store_bytes, charged to the actor and
 * its ancestors before the call): content, label names, and a fixed
 * amount per new store or label entry.  0 for calls that add nothing. */
static uint64_t store_charge(int op, char *const *s, uint32_t clen)
{
    switch (op) {
    case S_NEW: return TH_RT_STORE_ENTRY_BYTES;
    case S_STORE: return (uint64_t)clen + TH_RT_STORE_ENTRY_BYTES;
    case S_LABEL:
    case S_REPLACE_AT_LABEL: return strlen(s[1]) + TH_RT_STORE_ENTRY_BYTES;
    case S_STORE_AT_LABEL:
    case S_REPLACE_CONTENT: return (uint64_t)clen + strlen(s[1]) + TH_RT_STORE_ENTRY_BYTES;
    default: return 0;
    }
}

static int store_op(th_wasm_call *call, const th_wasm_val *args, int op)
{
    rt_host h;
    th_store *st;
    char *s[3] = {NULL, NULL, NULL};
    const uint8_t *content = NULL;
    uint32_t clen = 0, retptr;
    int i, na = 0, rc = 0, found = 0, ex = 0;
    th_error e;
    th_content_ref ref;
    th_store_list list = {NULL, 0};
    char sid[TH_STORE_ID_LEN + 1];
    void *data = NULL;
    size_t dlen = 0;
    uint64_t total = 0, charge = 0;
    rt_buf in = {0}, out = {0};

    rt_host_begin(&h, call);
    st = h.a->rt->store;
    for (i = 0; i < shape[op].nstr; i++, na += 2) {
        if (rt_host_str(&h, (uint32_t)args[na].i32, (uint32_t)args[na + 1].i32, &s[i]) != 0)
            goto trap;
    }
    if (shape[op].content) {
        clen = (uint32_t)args[na + 1].i32;
        if (rt_host_bytes(&h, (uint32_t)args[na].i32, clen, &content) != 0)
            goto trap;
        na += 2;
    }
    retptr = (uint32_t)args[na].i32;
    rt_buf_puts(&in, "[");
    for (i = 0; i < shape[op].nstr; i++) {
        if (i)
            rt_buf_puts(&in, ",");
        rt_buf_json_str(&in, s[i], strlen(s[i]));
    }
    if (shape[op].content) {
        rt_buf_puts(&in, shape[op].nstr ? "," : "");
        rt_buf_json_hex(&in, content, clen);
    }
    rt_buf_puts(&in, "]");

    th_error_clear(&e);
    charge = store_charge(op, s, clen);
    if (charge > 0 && rt_quota_store(h.a, charge, e.msg, sizeof e.msg) != 0) {
        rc = e.code = TH_ETOOBIG;
        goto failed;
    }
    switch (op) {
    case S_NEW: rc = th_store_new(st, sid, &e); break;
    case S_STORE: rc = th_store_put(st, s[0], content, clen, &ref, &e); break;
    case S_GET: rc = th_store_get(st, s[0], s[1], &data, &dlen, &e); break;
    case S_EXISTS: rc = th_store_exists(st, s[0], s[1], &ex, &e); break;
    case S_LABEL: rc = th_store_label(st, s[0], s[1], s[2], &e); break;
    case S_GET_BY_LABEL: rc = th_store_get_by_label(st, s[0], s[1], &ref, &found, &e); break;
    case S_REMOVE_LABEL: rc = th_store_remove_label(st, s[0], s[1], &e); break;
    case S_REMOVE_FROM_LABEL: rc = th_store_remove_from_label(st, s[0], s[1], s[2], &e); break;
    case S_STORE_AT_LABEL: rc = th_store_store_at_label(st, s[0], s[1], content, clen, &ref, &e); break;
    case S_REPLACE_CONTENT: rc = th_store_replace_content_at_label(st, s[0], s[1], content, clen, &ref, &e); break;
    case S_REPLACE_AT_LABEL: rc = th_store_replace_at_label(st, s[0], s[1], s[2], &e); break;
    case S_LIST_LABELS: rc = th_store_list_labels(st, s[0], &list, &e); break;
    case S_LIST_CONTENT: rc = th_store_list_content(st, s[0], &list, &e); break;
    case S_SIZE: rc = th_store_total_size(st, s[0], &total, &e); break;
    }
    if (rc != 0)
        rt_quota_store_refund(h.a, charge);
failed:
    if (rc != 0) {
        const char *msg = e.msg[0] ? e.msg : th_strerror(rc);
        if ((op == S_SIZE ? rt_abi_result_err8(&h.g, retptr, msg) : rt_abi_result_unit(&h.g, retptr, msg)) != 0)
            goto trap;
        rt_buf_puts(&out, "{\"err\":");
        rt_buf_json_str(&out, msg, strlen(msg));
        rt_buf_puts(&out, "}");
        goto record;
    }
    if (rt_abi_store_u8(&h.g, retptr, 0) != 0)
        goto trap;
    rt_buf_puts(&out, "{\"ok\":");
    switch (op) {
    case S_NEW:
        if (rt_abi_store_list(&h.g, retptr + 4, sid, strlen(sid)) != 0)
            goto trap;
        rt_buf_json_str(&out, sid, strlen(sid));
        break;
    case S_STORE:
    case S_STORE_AT_LABEL:
    case S_REPLACE_CONTENT:
        if (rt_abi_store_list(&h.g, retptr + 4, ref.hash, strlen(ref.hash)) != 0)
            goto trap;
        rt_buf_json_str(&out, ref.hash, strlen(ref.hash));
        break;
    case S_GET:
        if (rt_abi_store_list(&h.g, retptr + 4, data, dlen) != 0)
            goto trap;
        rt_buf_json_hex(&out, data, dlen);
        break;
    case S_EXISTS:
        if (rt_abi_store_u8(&h.g, retptr + 4, ex != 0) != 0)
            goto trap;
        rt_buf_puts(&out, ex ? "true" : "false");
        break;
    case S_GET_BY_LABEL:
        if (rt_abi_store_u8(&h.g, retptr + 4, found != 0) != 0 ||
            (found && rt_abi_store_list(&h.g, retptr + 8, ref.hash, strlen(ref.hash)) != 0))
            goto trap;
        if (found)
            rt_buf_json_str(&out, ref.hash, strlen(ref.hash));
        else
            rt_buf_puts(&out, "null");
        break;
    case S_LIST_LABELS:
    case S_LIST_CONTENT:
        if (rt_abi_store_strings(&h.g, retptr + 4, list.items, list.count) != 0)
            goto trap;
        rt_buf_puts(&out, "[");
        for (size_t k = 0; k < list.count; k++) {
            if (k)
                rt_buf_puts(&out, ",");
            rt_buf_json_str(&out, list.items[k], strlen(list.items[k]));
        }
        rt_buf_puts(&out, "]");
        break;
    case S_SIZE:
        if (rt_abi_store_u64(&h.g, retptr + 8, total) != 0)
            goto trap;
        rt_buf_printf(&out, "%llu", (unsigned long long)total);
        break;
    default:
        rt_buf_puts(&out, "null");
        break;
    }
    rt_buf_puts(&out, "}");
record:
    rt_record_host(h.a, IFACE, names[op], in.oom ? NULL : (char *)in.data, out.oom ? NULL : (char *)out.data);
    rc = TH_OK;
    goto out;
trap:
    rc = rt_host_trap(&h);
out:
    for (i = 0; i < 3; i++)
        free(s[i]);
    free(data);
    th_store_list_free(&list);
    rt_buf_release(&in);
    rt_buf_release(&out);
    return rc;
}

#define WRAP(fname, op)                                                                         \
    static int fname(th_wasm_call *call, void *ctx, const th_wasm_val *args, th_wasm_val *res) \
    {                                                                                           \
        (void)ctx, (void)res;                                                                   \
        return store_op(call, args, op);                                                        \
    }
WRAP(h_new, S_NEW)
WRAP(h_store, S_STORE)
WRAP(h_get, S_GET)
WRAP(h_exists, S_EXISTS)
WRAP(h_label, S_LABEL)
WRAP(h_get_by_label, S_GET_BY_LABEL)
WRAP(h_remove_label, S_REMOVE_LABEL)
WRAP(h_remove_from_label, S_REMOVE_FROM_LABEL)
WRAP(h_store_at_label, S_STORE_AT_LABEL)
WRAP(h_replace_content, S_REPLACE_CONTENT)
WRAP(h_replace_at_label, S_REPLACE_AT_LABEL)
WRAP(h_list_labels, S_LIST_LABELS)
WRAP(h_list_content, S_LIST_CONTENT)
WRAP(h_size, S_SIZE)

static const rt_hostfn fns[] = {
    {"new", "i>", h_new},
    {"store", "iiiii>", h_store},
    {"get", "iiiii>", h_get},
    {"exists", "iiiii>", h_exists},
    {"label", "iiiiiii>", h_label},
    {"get-by-label", "iiiii>", h_get_by_label},
    {"remove-label", "iiiii>", h_remove_label},
    {"remove-from-label", "iiiiiii>", h_remove_from_label},
    {"store-at-label", "iiiiiii>", h_store_at_label},
    {"replace-content-at-label", "iiiiiii>", h_replace_content},
    {"replace-at-label", "iiiiiii>", h_replace_at_label},
    {"list-labels", "iii>", h_list_labels},
    {"list-all-content", "iii>", h_list_content},
    {"calculate-total-size", "iii>", h_size},
};

const rt_iface rt_iface_store = {"theater:simple/store", RT_H_STORE, fns, sizeof fns / sizeof fns[0], NULL, NULL};
