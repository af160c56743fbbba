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
static th_str next_word(th_str *rest, bool last)
{
    size_t n = last ? rest->len : 0;
    while (n < rest->len && rest->ptr[n] != ' ')
        n++;
    th_str word = {rest->ptr, n};
    size_t skip = n < rest->len ? n + 1 : n;
    rest->ptr += skip;
    rest->len -= skip;
    return word;
}

/* Runs one command against store `store`; sets *answer to the reply text. */
static th_status run(th_str store, th_bytes msg, th_str *answer)
{
    th_str rest = th_bytes_str(msg);
    th_str cmd = next_word(&rest, false);
    *answer = TH_STR("ok");

    if (th_str_eq_c(cmd, "put")) {
        th_content_ref ref;
        th_str key = next_word(&rest, false);
        th_str value = next_word(&rest, true);
        return th_store_replace_content_at_label(store, key, th_str_bytes(value), &ref);
    }
    if (th_str_eq_c(cmd, "get")) {
        th_opt_content_ref ref;
        th_bytes value;
        TH_TRY(th_store_get_by_label(store, next_word(&rest, true), &ref));
        if (!ref.some) {
            *answer = TH_STR("err no such key");
            return TH_OK;
        }
        TH_TRY(th_store_get(store, ref.val, &value));
        *answer = th_format("ok %.*s", TH_FMT(value));
        return TH_OK;
    }
    if (th_str_eq_c(cmd, "del"))
        return th_store_remove_label(store, next_word(&rest, true));
    if (th_str_eq_c(cmd, "keys")) {
        th_str_list keys;
        TH_TRY(th_store_list_labels(store, &keys));
        *answer = TH_STR("ok");
        for (size_t i = 0; i < keys.len; i++)
            *answer = th_format("%.*s %.*s", TH_FMT(*answer), TH_FMT(keys.items[i]));
        return TH_OK;
    }
    *answer = th_format("err unknown command: %.*s", TH_FMT(cmd));
    return TH_OK;
}

static th_status kv_init(th_state *state, th_str actor_id)
{
    if (!state->some) {
        th_str store;
        TH_TRY(th_store_new(&store));
        th_state_set(state, store.ptr, store.len);
    }
    th_logf("kv %.*s uses store %.*s", TH_FMT(actor_id), TH_FMT(state->val));
    return TH_OK;
}

static th_status kv_request(th_state *state, th_str request_id, th_bytes msg,
                            th_opt_bytes *response)
{
    th_str answer;
    TH_TRY(run(th_bytes_str(state->val), msg, &answer));
    *response = th_some(th_str_bytes(answer));
    return TH_OK;
}

static th_status kv_send(th_state *state, th_bytes msg)
{
    th_str answer;
    if (!th_bytes_starts_with(msg, "put ") && !th_bytes_starts_with(msg, "del "))
        return th_fail("kv: a one-way message must be a put or a del");
    return run(th_bytes_str(state->val), msg, &answer);
}

TH_ACTOR_INIT(kv_init)
TH_HANDLE_SEND(kv_send)
TH_HANDLE_REQUEST(kv_request)
