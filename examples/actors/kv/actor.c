/*
 * kv - a key-value actor on the content store. At init it creates a store
 * and keeps the store's id as its state; each key is a label in that store.
 *
 * Requests (text) and their answers:
 *   "put <key> <value>"   -> "ok"
 *   "get <key>"           -> "ok <value>", or "err no such key"
 *   "del <key>"           -> "ok"
 *   "keys"                -> "ok <key> <key> ..."
 * A one-way message may be a "put" or a "del" (no answer). Store errors are
 * actor failures.
 */
#include "theater.h"

/* Splits off the next space-separated word of *rest (the last word takes
 * the rest of the line, so values may contain spaces). */
static ta_str next_word(ta_str *rest, bool last)
{
    size_t n = last ? rest->len : 0;
    while (n < rest->len && rest->ptr[n] != ' ')
        n++;
    ta_str word = {rest->ptr, n};
    size_t skip = n < rest->len ? n + 1 : n;
    rest->ptr += skip;
    rest->len -= skip;
    return word;
}

/* Runs one command against store `store`; sets *answer to the reply text. */
static ta_status run(ta_str store, ta_bytes msg, ta_str *answer)
{
    ta_str rest = ta_bytes_str(msg);
    ta_str cmd = next_word(&rest, false);
    *answer = TA_STR("ok");

    if (ta_str_eq_c(cmd, "put")) {
        ta_content_ref ref;
        ta_str key = next_word(&rest, false);
        ta_str value = next_word(&rest, true);
        /* store-at-label sets the label, new or not (replace-content-at-label
         * would refuse a key that does not exist yet) */
        return ta_store_store_at_label(store, key, ta_str_bytes(value), &ref);
    }
    if (ta_str_eq_c(cmd, "get")) {
        ta_opt_content_ref ref;
        ta_bytes value;
        ta_status st = ta_store_get_by_label(store, next_word(&rest, true), &ref);
        if (!st.ok)
            return st;
        if (!ref.some) {
            *answer = TA_STR("err no such key");
            return TA_OK;
        }
        st = ta_store_get(store, ref.val, &value);
        if (!st.ok)
            return st;
        *answer = ta_format("ok %.*s", TA_FMT(value));
        return TA_OK;
    }
    if (ta_str_eq_c(cmd, "del"))
        return ta_store_remove_label(store, next_word(&rest, true));
    if (ta_str_eq_c(cmd, "keys")) {
        ta_str_list keys;
        ta_status st = ta_store_list_labels(store, &keys);
        if (!st.ok)
            return st;
        *answer = TA_STR("ok");
        for (size_t i = 0; i < keys.len; i++)
            *answer = ta_format("%.*s %.*s", TA_FMT(*answer), TA_FMT(keys.items[i]));
        return TA_OK;
    }
    *answer = ta_format("err unknown command: %.*s", TA_FMT(cmd));
    return TA_OK;
}

static ta_status kv_init(ta_state *state, ta_str actor_id)
{
    if (!state->some) {
        ta_str store;
        ta_status st = ta_store_new(&store);
        if (!st.ok)
            return st;
        ta_state_set(state, store.ptr, store.len);
    }
    ta_logf("kv %.*s uses store %.*s", TA_FMT(actor_id), TA_FMT(state->val));
    return TA_OK;
}

static ta_status kv_request(ta_state *state, ta_str request_id, ta_bytes msg,
                            ta_opt_bytes *response)
{
    ta_str answer;
    ta_status st = run(ta_bytes_str(state->val), msg, &answer);
    if (!st.ok)
        return st;
    *response = ta_some(ta_str_bytes(answer));
    return TA_OK;
}

static ta_status kv_send(ta_state *state, ta_bytes msg)
{
    ta_str answer;
    if (!ta_bytes_starts_with(msg, "put ") && !ta_bytes_starts_with(msg, "del "))
        return ta_fail("kv: a one-way message must be a put or a del");
    return run(ta_bytes_str(state->val), msg, &answer);
}

TA_ACTOR_INIT(kv_init)
TA_HANDLE_SEND(kv_send)
TA_HANDLE_REQUEST(kv_request)
