/*
 * replay_host.c - the replayed actor's side of a replay (replay.c drives
 * it): every event the actor produces goes through the same code as in a
 * live run and lands here instead of on a chain (rt_replay_event), to be
 * compared byte for byte with the next recorded event; every host call the
 * generated glue makes is answered with its recorded output instead of
 * running the handler (rt_replay_host, rt_replay_args, rt_replay_value),
 * and a call the record does not have at that point is refused, which
 * makes the replay diverge.  Outputs recorded as a summary of a chain
 * (get-chain, get-child-events) are rebuilt from the record itself.
 *
 * Only the thread running the replay touches any of it.
 */
#define _GNU_SOURCE /* memmem */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/jscan.h"
#include "base/json.h"
#include "runtime/replay_int.h"

/* ------------------------------------------------------------------ */
/* What the replayed actor produces                                   */

bool rt_replay_call_alone(rt_actor *a, const uint8_t *call, size_t len)
{
    rt_replay *rp = a->replay;
    const th_chain_event *e;

    if (rp->res->diverged || rp->stop || rp->cut || (e = rt_replay_peek(rp)) == NULL)
        return false;
    return type_is(e->type, "wasm-call") && e->data_len == len && memcmp(e->data, call, len) == 0;
}

void rt_replay_event(rt_actor *a, const char *type, const uint8_t *data, size_t len)
{
    rt_replay *rp = a->replay;
    const th_chain_event *e;
    char mine[REPLAY_SHOW_BYTES + 128], theirs[REPLAY_SHOW_BYTES + 128];

    rp->host_at = SIZE_MAX; /* another event: no host call is half-matched */
    if (rp->res->diverged || rp->stop || rp->cut)
        return;
    /* the runtime's decisions may come between an operation's events */
    while ((e = rt_replay_peek(rp)) != NULL && type_is(e->type, "supervisor-action")) {
        rp->next++; /* taken as recorded, as between operations */
        rp->res->events++;
    }
    if (e != NULL && e->seq > rp->until) {
        rp->stop = true;
        return;
    }
    if (cuts_op(a, e)) {
        rp->cut = true;
        return;
    }
    if (e == NULL) {
        /* the record ends inside this operation: it was still running (a
         * live actor), or its process ended; nothing more to compare */
        rp->stop = true;
        rp->res->open_end = true;
        return;
    }
    if (strcmp(e->type, type) != 0 || e->data_len != len ||
        (len > 0 && memcmp(e->data, data, len) != 0)) {
        rt_replay_show(mine, sizeof mine, type, data, len);
        rt_replay_show(theirs, sizeof theirs, e->type, e->data, e->data_len);
        rt_replay_diverge(rp, e->seq, e->type, theirs, mine);
        return;
    }
    rp->next++;
    rp->res->events++;
}

/* Match `s` at data[*off] and move past it. */
static bool eat(const th_chain_event *e, size_t *off, const char *s)
{
    size_t n = strlen(s);

    if (e->data_len - *off < n || memcmp(e->data + *off, s, n) != 0)
        return false;
    *off += n;
    return true;
}

/* Does the recorded event `e` hold the host call's text as rt_record_host
 * writes it, {"interface":"I","function":"F","input":IN,"output":OUT}? */
static bool host_text_is(const th_chain_event *e, const char *iface, const char *fn,
                         const char *input, const char *output)
{
    size_t off = 0;

    return eat(e, &off, "{\"interface\":\"") && eat(e, &off, iface) &&
           eat(e, &off, "\",\"function\":\"") && eat(e, &off, fn) &&
           eat(e, &off, "\",\"input\":") && eat(e, &off, input) && eat(e, &off, ",\"output\":") &&
           eat(e, &off, output) && eat(e, &off, "}") && off == e->data_len;
}

bool rt_replay_host_done(rt_actor *a, const char *iface, const char *fn, const char *input_json,
                         const char *output_json)
{
    rt_replay *rp = a->replay;
    const th_chain_event *e = rt_replay_peek(rp);

    /* the common case, compared piece by piece without building the
     * event's text: the next recorded event is this host call; anything
     * else (another event first, a difference, a stopped replay) goes the
     * whole way (rt_replay_event), which takes or names it */
    size_t at = rp->host_at, off = rp->host_out;

    bool mine = at == rp->next && iface == rp->host_iface && fn == rp->host_fn &&
                input_json == rp->host_input;

    rp->host_at = SIZE_MAX;
    if (rp->res->diverged || rp->stop || rp->cut || e == NULL || e->seq > rp->until ||
        (a->op != NULL && a->op->call_rec.data != NULL) ||
        (!mine && !type_is(e->type, "host-call")))
        return false;
    if (mine && output_json != NULL && output_json == rp->out_text && e->data == rp->out_text_of &&
        e->data_len == rp->out_len) {
        /* the event rt_replay_host matched up to the output for this very
         * call (a host-call), and the output is that event's own text
         * (out_same: it ends the event) */
    } else if (mine) {
        /* the event rt_replay_host matched up to the output for this very
         * call: the rest */
        if (!eat(e, &off, output_json != NULL ? output_json : "null") || !eat(e, &off, "}") ||
            off != e->data_len)
            return false;
        rp->out_same = e->data == rp->out_data && e->data_len == rp->out_len;
    } else if (!host_text_is(e, iface, fn, input_json != NULL ? input_json : "null",
                             output_json != NULL ? output_json : "null")) {
        return false;
    }
    rp->next++;
    rp->res->events++;
    return true;
}

/* The record's events before index `end` as the JSON text of a
 * list<chain-event> (what runtime.get-chain returned), into b. */
static void chain_text(const th_chain_events *rec, size_t end, rt_buf *b)
{
    size_t i;

    rt_buf_puts(b, "[");
    for (i = 0; i < end; i++) {
        const th_chain_event *x = &rec->items[i];
        rt_buf_puts(b, i ? ",{\"hash\":" : "{\"hash\":");
        rt_buf_json_hex(b, x->hash, TH_CHAIN_HASH_LEN);
        rt_buf_puts(b, ",\"parent-hash\":");
        if (x->has_parent)
            rt_buf_json_hex(b, x->parent, TH_CHAIN_HASH_LEN);
        else
            rt_buf_puts(b, "null");
        rt_buf_puts(b, ",\"event-type\":");
        rt_buf_json_str(b, x->type, strlen(x->type));
        rt_buf_puts(b, ",\"data\":");
        rt_buf_json_hex(b, x->data, x->data_len);
        rt_buf_printf(b,
                      ",\"timestamp\":%llu,\"description\":", (unsigned long long)x->timestamp_ms);
        if (x->description != NULL)
            rt_buf_json_str(b, x->description, strlen(x->description));
        else
            rt_buf_puts(b, "null");
        rt_buf_puts(b, "}");
    }
    rt_buf_puts(b, "]");
}

/* Outputs recorded as a summary rather than in full (the handlers keep
 * the chain out of itself and huge contents out of the chain): a function
 * whose output is the caller's own chain (rt_iface.replay_own_chain:
 * runtime.get-chain) recorded as {"events": n} is answered with the
 * record's own first n events (the chain as it was then: every event
 * before this call); others cannot be answered, and the replay stops
 * saying which event. */
static void refuse(rt_replay *rp, const th_chain_event *e, const char *iface, const char *fn,
                   const char *what)
{
    rp->refused = true;
    rp->stop = true;
    snprintf(rp->why, sizeof rp->why, "event %llu (host-call %s.%s) cannot be replayed: %s",
             (unsigned long long)e->seq, iface, fn, what);
}

/* Gather the functions of the handlers whose output is a chain summary
 * (rp->sum); false if there are more than it holds. */
bool rt_replay_gather_summaries(rt_replay *rp, const rt_runtime *rt)
{
    static const char pkg[] = "theater:simple/";

    rp->nsum = 0;
    for (size_t i = 0; i < rt->handlers->count; i++) {
        const rt_iface *f = rt->handlers->ifaces[i];
        if (strncmp(f->module, pkg, sizeof pkg - 1) != 0)
            continue;
        for (int own = 0; own < 2; own++) {
            for (const char *const *l = own ? f->replay_own_chain : f->replay_child_chain;
                 l != NULL && *l != NULL; l++) {
                if (rp->nsum == sizeof rp->sum / sizeof rp->sum[0])
                    return false;
                rp->sum[rp->nsum++] = (struct rp_summary){f->module + sizeof pkg - 1, *l, own};
            }
        }
    }
    return true;
}

/* Is `fn` of the handler whose interface is recorded as `iface` in its
 * list `own` (rt_iface.replay_own_chain) or else replay_child_chain? */
static bool chain_summary(const rt_replay *rp, const char *iface, const char *fn, bool own)
{
    for (size_t i = 0; i < rp->nsum; i++)
        if (rp->sum[i].own == own && strcmp(rp->sum[i].fn, fn) == 0 &&
            strcmp(rp->sum[i].iface, iface) == 0)
            return true;
    return false;
}

/* Does the text hold "not_recorded" (with its quotes)?  Looked for by its
 * '_', which outputs rarely have (hex, numbers and most strings have
 * none). */
static bool has_not_recorded(base_jspan o)
{
    const char *p = o.p, *end = o.p + o.n, *u;

    while (p < end && (u = memchr(p, '_', (size_t)(end - p))) != NULL) {
        if (u - o.p >= 4 && end - u >= 10 && memcmp(u - 4, "\"not", 4) == 0 &&
            memcmp(u + 1, "recorded\"", 9) == 0)
            return true;
        p = u + 1;
    }
    return false;
}

/* True if the output (its text o) may be such a summary: only then is it
 * read as a JSON tree.  Whether the function's outputs are summaries is
 * kept for the last function asked (most replays ask about one or two). */
static bool maybe_summary(rt_replay *rp, const char *iface, const char *fn, base_jspan o)
{
    if (strcmp(fn, rp->last_fn) != 0 || strcmp(iface, rp->last_iface) != 0) {
        rp->last_sum = chain_summary(rp, iface, fn, true) || chain_summary(rp, iface, fn, false);
        /* kept only whole (an empty name is never asked) */
        if (strlen(iface) < sizeof rp->last_iface && strlen(fn) < sizeof rp->last_fn) {
            strcpy(rp->last_iface, iface);
            strcpy(rp->last_fn, fn);
        } else {
            rp->last_iface[0] = rp->last_fn[0] = '\0';
        }
    }
    return rp->last_sum || has_not_recorded(o);
}

/* A summary output `o`: 0 and *out unchanged if it is none after all; 0
 * with *out the text of the answer made from the record (get-chain, in
 * rp->answer); or -1 with the replay stopped (refuse). */
static int summary_output(rt_replay *rp, const th_chain_event *e, const char *iface, const char *fn,
                          base_jspan *out)
{
    json_t *o = base_json_loadb(out->p, out->n, JSON_DECODE_ANY, NULL, NULL);
    json_t *in = json_is_object(json_object_get(o, "ok")) ? json_object_get(o, "ok") : o;
    json_t *n = json_object_get(in, "events");
    char what[200];
    int rc = -1;

    if (json_is_true(json_object_get(in, "not_recorded"))) {
        snprintf(what, sizeof what,
                 "its output (%lld bytes) was recorded as its size only, not its content",
                 (long long)json_integer_value(json_object_get(in, "bytes")));
        refuse(rp, e, iface, fn, what);
    } else if (chain_summary(rp, iface, fn, true) && json_is_integer(n)) {
        /* the chain then: every event before this call, but the call's own
         * wasm-call when this was its first host call (it is recorded with
         * the first event inside the call) */
        json_int_t want = json_integer_value(n);
        bool whole = rp->next < rp->rec->count && rp->rec->items[rp->next].seq == e->seq &&
                     rp->rec->items[0].seq == 0;
        if (!whole || !(want == (json_int_t)e->seq ||
                        (want + 1 == (json_int_t)e->seq && want >= 0 &&
                         strcmp(rp->rec->items[want].type, "wasm-call") == 0))) {
            snprintf(what, sizeof what,
                     "it returned %lld events, which are not the %llu events before it in "
                     "this record",
                     (long long)json_integer_value(n), (unsigned long long)e->seq);
            refuse(rp, e, iface, fn, what);
        } else {
            rp->answer.len = 0;
            chain_text(rp->rec, (size_t)want, &rp->answer);
            if (rp->answer.oom) {
                refuse(rp, e, iface, fn, "out of memory");
            } else {
                out->p = (const char *)rp->answer.data;
                out->n = rp->answer.len;
                rc = 0;
            }
        }
    } else if (chain_summary(rp, iface, fn, false) && json_is_integer(n)) {
        snprintf(what, sizeof what,
                 "its output (the child's %lld events) is recorded as a count, and the child's "
                 "chain is not part of this actor's record",
                 (long long)json_integer_value(n));
        refuse(rp, e, iface, fn, what);
    } else {
        rc = 0;
    }
    json_decref(o);
    return rc;
}

static void lend(rt_host *h, rt_replay *rp)
{
    if (!h->replay_lent) {
        h->replay_lent = true;
        rp->lent++;
    }
}

/* Do host calls other than h's hold what the replay lent? */
static bool others_lent(const rt_host *h, const rt_replay *rp)
{
    return rp->lent > (h->replay_lent ? 1u : 0u);
}

void rt_replay_return(rt_host *h)
{
    if (h->replay_lent) {
        h->replay_lent = false;
        h->a->replay->lent--;
    }
}

/* Do the flat arguments `args` of the shape `shape` (rt_replay_args) and
 * the guest's bytes they point to equal those kept? */
static bool same_args(rt_host *h, const rt_replay *rp, const char *shape, const th_wasm_val *args)
{
    size_t k = 0, off = 0;
    uint8_t *p = NULL;
    uint32_t len;

    for (; *shape != 0; shape++) {
        if (k >= 16)
            return false;
        switch (*shape) {
        case 's':
        case 'b':
            if (k + 1 >= 16)
                return false;
            len = (uint32_t)args[k + 1].i32;
            if (len != (uint32_t)rp->args_flat[k + 1].i32 || rp->args_len - off < len ||
                rt_abi_span(&h->g, (uint32_t)args[k].i32, len, &p) != 0 ||
                (len > 0 && memcmp(p, rp->args_bytes + off, len) != 0))
                return false;
            off += len;
            k += 2;
            break;
        case 'i':
            if (args[k].i32 != rp->args_flat[k].i32)
                return false;
            k++;
            break;
        case 'I':
            if (args[k].i64 != rp->args_flat[k].i64)
                return false;
            k++;
            break;
        case 'f': /* the bits: a NaN's payload is part of the value */
            if (memcmp(&args[k].f32, &rp->args_flat[k].f32, sizeof args[k].f32) != 0)
                return false;
            k++;
            break;
        case 'F':
            if (memcmp(&args[k].f64, &rp->args_flat[k].f64, sizeof args[k].f64) != 0)
                return false;
            k++;
            break;
        default: return false;
        }
    }
    return off == rp->args_len;
}

bool rt_replay_args(rt_host *h, const char *iface, const char *fn, const char *shape,
                    const th_wasm_val *args)
{
    rt_replay *rp = h->a->replay;

    if (rp->args_input == NULL || rp->args_iface != iface || rp->args_fn != fn ||
        !same_args(h, rp, shape, args))
        return false;
    h->input = rp->args_input; /* lent: not freed by the glue */
    h->replay_in = true;
    lend(h, rp);
    return true;
}

void rt_replay_args_keep(rt_host *h, const char *iface, const char *fn, const char *shape,
                         const th_wasm_val *args)
{
    rt_replay *rp = h->a->replay;
    size_t k = 0, n = 0, len;
    const char *c;
    uint8_t *p = NULL;

    if (others_lent(h, rp)) /* (a call inside another's cabi_realloc) */
        return;
    for (c = shape; *c != 0; c++) { /* the bytes' length, and the shape checked */
        k += *c == 's' || *c == 'b' ? 2 : 1;
        if (k > 16)
            return;
        if (*c == 's' || *c == 'b')
            n += (uint32_t)args[k - 1].i32;
    }
    free(rp->args_input);
    rp->args_input = NULL;
    rp->match_data = NULL; /* (matched with that input) */
    if (n > rp->args_cap) {
        uint8_t *b = realloc(rp->args_bytes, n);

        if (b == NULL)
            return;
        rp->args_bytes = b;
        rp->args_cap = n;
    }
    for (k = 0, len = 0, c = shape; *c != 0; c++) {
        if (*c == 's' || *c == 'b') {
            uint32_t l = (uint32_t)args[k + 1].i32;

            /* lifted already: in bounds */
            if (rt_abi_span(&h->g, (uint32_t)args[k].i32, l, &p) != 0)
                return;
            if (l > 0)
                memcpy(rp->args_bytes + len, p, l);
            len += l;
            k += 2;
        } else {
            k++;
        }
    }
    memcpy(rp->args_flat, args, k * sizeof *args);
    rp->args_len = len;
    rp->args_input = h->input; /* taken over */
    rp->args_iface = iface;
    rp->args_fn = fn;
    h->replay_in = true;
    lend(h, rp);
}

int rt_replay_host(rt_host *h, const char *iface, const char *fn, base_jspan *out)
{
    rt_actor *a = h->a;
    rt_replay *rp = a->replay;
    const th_chain_event *e;
    char want[REPLAY_SHOW_BYTES + 128], theirs[REPLAY_SHOW_BYTES + 128];
    const char *input = h->input != NULL ? h->input : "null";
    base_jspan o, rec;
    size_t off = 0;

    out->p = NULL;
    out->n = 0;
    rp->host_at = SIZE_MAX;
    rp->out_repeat = rp->out_fresh = false;
    rt_record_held_call(a); /* it comes before the host call */
    if (rp->res->diverged || rp->stop || rp->cut)
        return th_error_set(&h->err, TH_ECLOSED, "replay stopped");
    while ((e = rt_replay_peek(rp)) != NULL && type_is(e->type, "supervisor-action")) {
        rp->next++; /* taken as recorded, as between operations */
        rp->res->events++;
    }
    if (e != NULL && e->seq > rp->until) {
        rp->stop = true;
        return th_error_set(&h->err, TH_ECLOSED, "replay stopped");
    }
    if (cuts_op(a, e)) {
        rp->cut = true;
        return th_error_set(&h->err, TH_ECLOSED, "the recorded operation was cut off here");
    }
    /* the recorded event must be this call with this input (the text
     * rt_record_host writes), followed by its output and "}" */
    if (e == NULL) { /* as in rt_replay_event */
        rp->stop = true;
        rp->res->open_end = true;
        return th_error_set(&h->err, TH_ECLOSED, "replay stopped: the record ends");
    }
    if (h->replay_in && h->input == rp->args_input && e->data == rp->match_data &&
        e->data_len == rp->match_len && iface == rp->match_iface && fn == rp->match_fn &&
        type_is(e->type, "host-call")) {
        /* the very bytes this input text matched last (a repeated event
         * and a repeated call): they match again */
        off = rp->match_off;
    } else if (strcmp(e->type, "host-call") != 0 || !eat(e, &off, "{\"interface\":\"") ||
               !eat(e, &off, iface) || !eat(e, &off, "\",\"function\":\"") || !eat(e, &off, fn) ||
               !eat(e, &off, "\",\"input\":") || !eat(e, &off, input) ||
               !eat(e, &off, ",\"output\":") || off >= e->data_len ||
               e->data[e->data_len - 1] != '}') {
        snprintf(want, sizeof want,
                 "host-call {\"interface\":\"%s\",\"function\":\"%s\",\"input\":%.*s%s}", iface, fn,
                 REPLAY_SHOW_BYTES, input, strlen(input) > REPLAY_SHOW_BYTES ? "..." : "");
        rt_replay_show(theirs, sizeof theirs, e->type, e->data, e->data_len);
        rt_replay_diverge(rp, e->seq, e->type, theirs, want);
        return th_error_set(&h->err, TH_ECLOSED, "replay diverged");
    } else if (h->replay_in && h->input == rp->args_input) {
        rp->match_data = e->data;
        rp->match_len = e->data_len;
        rp->match_off = off;
        rp->match_iface = iface;
        rp->match_fn = fn;
    }
    rp->host_at = rp->next;
    rp->host_out = off;
    rp->host_iface = iface;
    rp->host_fn = fn;
    rp->host_input = h->input;
    if (e->data == rp->out_data && e->data_len == rp->out_len) {
        /* the same bytes as the last call's event (a repeated call): the
         * same output, read already; when the value read from it was
         * written back as that very text (out_same: compared whole), it
         * is so again (jq_T and js_T depend on the text only), and the
         * event's output is that text without writing the value again */
        out->p = (const char *)e->data + rp->out_at;
        out->n = rp->out_n;
        rp->out_repeat = true;
        if (!rp->out_same)
            return 0;
        if (rp->out_text_of != rp->out_data && !others_lent(h, rp)) {
            free(rp->out_text);
            rp->out_text_of = NULL;
            if ((rp->out_text = strndup(out->p, out->n)) != NULL)
                rp->out_text_of = rp->out_data;
        }
        if (rp->out_text_of == rp->out_data) {
            h->output = rp->out_text; /* lent: not freed by the glue */
            h->replay_out = true;
            lend(h, rp);
        } else if ((h->output = strndup(out->p, out->n)) == NULL) {
            return th_error_set(&h->err, TH_ENOMEM, "out of memory");
        }
        return 0;
    }
    /* the output's text, read in place by the generated glue (jq_T) */
    if (base_jscan_whole((const char *)e->data + off, e->data_len - 1 - off, &o) != 0)
        return th_error_set(&h->err, TH_EINVAL,
                            "the output of recorded host-call %llu is not readable",
                            (unsigned long long)e->seq);
    rec = o;
    if (maybe_summary(rp, iface, fn, o)) {
        if (summary_output(rp, e, iface, fn, &o) != 0)
            return th_error_set(&h->err, TH_ECLOSED, "replay stopped: %s", rp->why);
        /* an answer made from the record: the event records the summary,
         * as the handler did */
        if (o.p != rec.p && (h->output = strndup(rec.p, rec.n)) == NULL)
            return th_error_set(&h->err, TH_ENOMEM, "out of memory");
    } else {
        rp->out_data = e->data;
        rp->out_len = e->data_len;
        rp->out_at = (size_t)(o.p - (const char *)e->data);
        rp->out_n = o.n;
        rp->out_same = false; /* (until rt_replay_host_done has compared it) */
        rp->out_fresh = true;
    }
    *out = o;
    return 0;
}

bool rt_replay_value(rt_host *h, void *val, size_t size, void (*release)(void *))
{
    rt_replay *rp = h->a->replay;

    if (!rp->out_repeat || rp->val == NULL || rp->val_of != rp->out_data ||
        rp->val_release != release || rp->val_size != size)
        return false;
    memcpy(val, rp->val, size);
    h->replay_val = true;
    lend(h, rp);
    return true;
}

void rt_replay_drop_value(rt_replay *rp)
{
    if (rp->val != NULL) {
        rp->val_release(rp->val);
        free(rp->val);
    }
    rp->val = NULL;
    rp->val_of = NULL;
}

void rt_replay_keep(rt_host *h, void *val, size_t size, void (*release)(void *))
{
    rt_replay *rp = h->a->replay;
    void *v;

    /* only a value read from the output of the event out_data (not a
     * summary), and once */
    if (!rp->out_fresh || others_lent(h, rp) || (v = malloc(size)) == NULL)
        return;
    rp->out_fresh = false;
    rt_replay_drop_value(rp);
    memcpy(v, val, size);
    rp->val = v;
    rp->val_size = size;
    rp->val_release = release;
    rp->val_of = rp->out_data;
    h->replay_val = true;
}
