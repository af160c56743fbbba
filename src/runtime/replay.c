/*
 * replay.c - re-running an actor from its chain (th_runtime_replay).
 *
 * The chain records everything that decides what an actor does: the code
 * it runs (the component named by actor-spawned / actor-restarted /
 * component-updated, fetched from the content store by its SHA-256), its
 * limits, every export call with its parameters, and every host call with
 * its output.  A replay instantiates the recorded code in a runtime of its
 * own (no threads, no home: nothing it does reaches the world), calls the
 * recorded exports in their order with the recorded parameters, and
 * answers each host call with its recorded output instead of running the
 * handler (the generated glue calls rt_replay_host).  Every event the
 * actor produces goes through the same code as in a live run (turn.c,
 * the glue) and, instead of being recorded, is compared byte for byte with
 * the next recorded event (rt_replay_event).  The first difference stops
 * the replay and is reported: an event with other data, a host call the
 * record does not have (other function, other input, or none at that
 * point), or a recorded event the replay does not produce.
 *
 * The events the runtime decides rather than the actor's code
 * (actor-spawned, actor-restarted, actor-stopped, supervisor-action, a
 * failure recorded outside an operation) drive the replay: they are taken
 * from the record as they are.  Timestamps and hashes are not compared
 * (they are the record's own); the data is.
 *
 * Invariants: the replayed actor (rt_actor with `replay` set) is only
 * touched by the calling thread; it has no parent, children, mailbox
 * traffic or subscribers; its events never reach a chain.
 */
#define _GNU_SOURCE /* memmem */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/hex.h"
#include "base/jscan.h"
#include "base/json.h"
#include "theater/store.h"
#include "runtime/rt_int.h"
#include "wit_glue.h"

/* Shown of an event's data in a divergence report. */
#define REPLAY_SHOW_BYTES 400

typedef struct rt_replay {
    const th_chain_events *rec; /* the record */
    size_t next;                /* index of the next recorded event to match */
    uint64_t until;             /* replay events with seq <= until */
    bool stop;                  /* past `until`: the rest is not compared */
    bool cut;                   /* the running operation was cut off (below) */
    th_runtime_replay_result *res;
    rt_buf answer; /* the text of the last answer made from the record */
    bool refused;  /* a recorded output the replay cannot give (why) */
    char why[TH_ERROR_MSG_MAX];
    /* the functions whose output is recorded as a summary of a chain
     * (rt_iface.replay_own_chain / replay_child_chain), gathered once */
    struct rp_summary {
        const char *iface, *fn; /* iface without "theater:simple/" */
        bool own;
    } sum[16];
    size_t nsum;
    char last_iface[64], last_fn[64]; /* maybe_summary's last question */
    bool last_sum;
    /* the host call rt_replay_host matched last: its event (index in the
     * record, SIZE_MAX for none), its interface, function and input (the
     * glue's own pointers, unchanged until its rt_record_host) and where
     * its output starts in the event's data; rt_replay_host_done then
     * compares only the output and the end */
    size_t host_at, host_out;
    const char *host_iface, *host_fn, *host_input;
    /* the last recorded host call whose output was read (not a summary):
     * its data (the record's bytes: an event that repeats it has the same,
     * th_chain_read) and its output's span in them */
    const uint8_t *out_data;
    size_t out_len, out_at, out_n;
    bool out_same; /* ... and the replayed output was that very text */
    /* set by rt_replay_host for the call it matched: its output is the
     * last one's (a repeated event), or was read afresh from its event */
    bool out_repeat, out_fresh;
    char *out_text;             /* that output's text, NUL-terminated (out_same), */
    const uint8_t *out_text_of; /* ... of the event data out_data */
    /* the value the glue read from the output of out_data (val_of), kept
     * for the calls that repeat it (rt_replay_value, rt_replay_keep) */
    void *val;
    size_t val_size;
    void (*val_release)(void *);
    const uint8_t *val_of;
    unsigned lent; /* host calls running with val, out_text or args_input lent */
    /* the last host call whose arguments were kept (rt_replay_args_keep):
     * its function (the glue's strings), flat arguments, the bytes its
     * string and list<u8> arguments pointed to (in order) and its input */
    const char *args_iface, *args_fn;
    th_wasm_val args_flat[16];
    uint8_t *args_bytes;
    size_t args_len, args_cap;
    char *args_input;
    /* the last recorded event rt_replay_host matched with the input
     * args_input: its data and where its output starts */
    const uint8_t *match_data;
    size_t match_len, match_off;
    const char *match_iface, *match_fn;
    /* a record read while it is replayed (opts->stream; NULL once its
     * read is over): rec is &view, the events read so far */
    th_chain_stream *stream;
    th_chain_events view;
    struct replay_ctx *ctx;
    int read_rc; /* the read failed (read_err): the replay stops */
    th_error read_err;
} rt_replay;

static bool rec_more(rt_replay *rp, size_t i);

/* Is there a recorded event i?  (Waits for a record still being read.) */
static inline bool rec_has(rt_replay *rp, size_t i)
{
    return i < rp->rec->count || (rp->stream != NULL && rec_more(rp, i));
}

/* Is the type `t` the literal `lit`?  The first byte settles most of the
 * questions asked for every event (is it a supervisor-action, does it cut
 * the operation off) without a call. */
static inline bool type_is(const char *t, const char *lit)
{
    return t[0] == lit[0] && strcmp(t, lit) == 0;
}

/* An operation interrupted from outside: the record has its wasm-call and
 * some host calls, then "actor-stopped" (a shutdown or a forced stop),
 * "actor-restarted" (a restart, by its supervisor or asked for, aborts the
 * operation that runs) or "actor-restored" (the daemon's end, after a
 * crash: docs/durability.md) instead of its result.
 * The replayed operation stops where the record does: its host call gets
 * an error, nothing it produces after that is compared, and the next
 * top-level step takes the record's event as it is. */
static bool cuts_op(const rt_actor *a, const th_chain_event *e)
{
    return a->op != NULL && e != NULL &&
           (type_is(e->type, "actor-restored") || type_is(e->type, "actor-stopped") ||
            type_is(e->type, "actor-restarted"));
}

/* ------------------------------------------------------------------ */
/* Reporting                                                          */

/* "TYPE DATA" of an event, cut to REPLAY_SHOW_BYTES; bytes that are not
 * printable text (recorded data is JSON text, but a record may be edited)
 * are shown as \xNN. */
static void show(char *out, size_t cap, const char *type, const uint8_t *data, size_t len)
{
    size_t n = len > REPLAY_SHOW_BYTES ? REPLAY_SHOW_BYTES : len, o, i;
    bool text = data != NULL && rt_utf8_valid(data, n);

    o = (size_t)snprintf(out, cap, "%s ", type);
    for (i = 0; data != NULL && i < n && o + 5 < cap; i++) {
        if (data[i] >= 0x20 && data[i] != 0x7f && (data[i] < 0x80 || text))
            out[o++] = (char)data[i];
        else
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", data[i]);
    }
    if (len > n && o + 4 < cap)
        o += (size_t)snprintf(out + o, cap - o, "...");
    out[o < cap ? o : cap - 1] = '\0';
}

static void diverge(rt_replay *rp, uint64_t seq, const char *type, const char *recorded,
                    const char *replayed)
{
    th_runtime_replay_result *r = rp->res;

    if (r->diverged)
        return;
    r->diverged = true;
    r->seq = seq;
    snprintf(r->type, sizeof r->type, "%s", type);
    snprintf(r->recorded, sizeof r->recorded, "%s", recorded);
    snprintf(r->replayed, sizeof r->replayed, "%s", replayed);
}

static const th_chain_event *peek(rt_replay *rp)
{
    return rec_has(rp, rp->next) ? &rp->rec->items[rp->next] : NULL;
}

/* ------------------------------------------------------------------ */
/* What the replayed actor produces                                   */

bool rt_replay_call_alone(rt_actor *a, const uint8_t *call, size_t len)
{
    rt_replay *rp = a->replay;
    const th_chain_event *e;

    if (rp->res->diverged || rp->stop || rp->cut || (e = peek(rp)) == NULL)
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
    while ((e = peek(rp)) != NULL && type_is(e->type, "supervisor-action")) {
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
        show(mine, sizeof mine, type, data, len);
        show(theirs, sizeof theirs, e->type, e->data, e->data_len);
        diverge(rp, e->seq, e->type, theirs, mine);
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
    const th_chain_event *e = peek(rp);

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
static bool gather_summaries(rt_replay *rp, const rt_runtime *rt)
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
    while ((e = peek(rp)) != NULL && type_is(e->type, "supervisor-action")) {
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
        show(theirs, sizeof theirs, e->type, e->data, e->data_len);
        diverge(rp, e->seq, e->type, theirs, want);
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

static void drop_value(rt_replay *rp)
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
    drop_value(rp);
    memcpy(v, val, size);
    rp->val = v;
    rp->val_size = size;
    rp->val_release = release;
    rp->val_of = rp->out_data;
    h->replay_val = true;
}

/* ------------------------------------------------------------------ */
/* The replay's own runtime and actor                                 */

static void replay_rt_free(rt_runtime *rt)
{
    rt_module_entry *e, *next;
    unsigned i;

    if (rt == NULL)
        return;
    th_wasm_imports_free(rt->imports);
    free(rt->bound);
    for (e = rt->modules; e != NULL; e = next) {
        next = e->next;
        th_wasm_module_free(e->module);
        free(e->key);
        free(e);
    }
    for (i = 0; i < rt->npool; i++)
        th_wasm_exec_free(rt->pool[i]);
    pthread_mutex_destroy(&rt->modlock);
    pthread_mutex_destroy(&rt->chanlock);
    pthread_mutex_destroy(&rt->outlock);
    pthread_mutex_destroy(&rt->sublock);
    pthread_mutex_destroy(&rt->exitlock);
    pthread_mutex_destroy(&rt->poollock);
    rt_registry_release(&rt->reg);
    free(rt);
}

/* A runtime without threads, home, chain or store writes: the imports of
 * the handlers (answered from the record) and the caches. */
static int replay_rt_new(const th_handler_set *handlers, struct th_store *store, rt_runtime **out,
                         th_error *err)
{
    static const th_handler_set none;
    rt_runtime *rt = calloc(1, sizeof *rt);
    int rc;

    *out = NULL;
    if (rt == NULL)
        return th_error_set(err, TH_ENOMEM, "out of memory");
    rt->handlers = handlers != NULL ? handlers : &none;
    rt->store = store; /* read only: components by hash */
    rt->max_actors = 1;
    rt->record_stall_ms = 1;
    pthread_mutex_init(&rt->modlock, NULL);
    pthread_mutex_init(&rt->chanlock, NULL);
    pthread_mutex_init(&rt->outlock, NULL);
    pthread_mutex_init(&rt->sublock, NULL);
    pthread_mutex_init(&rt->exitlock, NULL);
    pthread_mutex_init(&rt->poollock, NULL);
    atomic_init(&rt->closing, false);
    atomic_init(&rt->interrupted, false);
    rt_registry_init(&rt->reg);
    rt->shut = true;
    if ((rt->imports = th_wasm_imports_new()) == NULL)
        rc = th_error_set(err, TH_ENOMEM, "out of memory");
    else
        rc = rt_capability_register_all(rt, err);
    if (rc != 0) {
        replay_rt_free(rt);
        return rc;
    }
    *out = rt;
    return 0;
}

static rt_actor *replay_actor_new(rt_runtime *rt, rt_spec *spec, rt_replay *rp)
{
    rt_actor *a = calloc(1, sizeof *a);

    if (a == NULL)
        return NULL;
    atomic_init(&a->refs, 1);
    atomic_init(&a->sched, RT_SCHED_QUEUED);
    atomic_init(&a->rq_next, NULL);
    atomic_init(&a->home, 0);
    atomic_init(&a->rec_queued, 0);
    atomic_init(&a->rec_done, 0);
    atomic_init(&a->last_ticket, 0);
    atomic_init(&a->subs, NULL);
    atomic_init(&a->memchain, NULL);
    atomic_init(&a->rec_failed, 0);
    rt_mpsc_init(&a->mbox);
    rt_mpsc_init(&a->ctl);
    atomic_init(&a->mbox_bytes, 0);
    atomic_init(&a->nblocked, 0);
    atomic_init(&a->ndesc, 0);
    atomic_init(&a->store_used, 0);
    pthread_mutex_init(&a->lock, NULL);
    pthread_mutex_init(&a->blk_lock, NULL);
    pthread_mutex_init(&a->rec_lock, NULL);
    a->rt = rt;
    a->status = TH_ACTOR_STARTING;
    a->next_token = 1;
    a->spec = spec;
    a->replay = rp;
    a->lim.mailbox_messages = UINT32_MAX;
    return a;
}

/* ------------------------------------------------------------------ */
/* Driving the replay from the record                                 */

typedef struct replay_ctx {
    rt_replay rp;
    const th_runtime_replay_opts *opts;
    rt_runtime *rt;
    rt_spec *spec;
    rt_actor *a;
    th_wasm_module *other; /* --component: the code replayed instead */
    char other_hash[RT_HASH_HEX + 1];
    th_chain_events big; /* the record with its content references resolved */
    uint8_t **big_data;  /* the contents fetched (owned) */
    size_t nbig;
} replay_ctx;

/* Events over 64 MiB are on the chain by content reference
 * (docs/chain-format.md): the record replayed has their contents, from
 * the store (the home's, or the components' store of an exported file).
 * c->rp.rec becomes a copy of the record's items with those data. */
static int resolve_big(replay_ctx *c, const th_chain_events *rec, th_error *err)
{
    size_t i, n = 0;
    uint8_t h[TH_CHAIN_HASH_LEN];
    uint64_t size;

    for (i = 0; i < rec->count; i++) /* a reference has its description */
        if (rec->items[i].description != NULL &&
            th_chain_event_content_ref(&rec->items[i], h, &size))
            n++;
    if (n == 0)
        return 0;
    c->big.items = malloc(rec->count * sizeof *c->big.items);
    c->big_data = calloc(n, sizeof *c->big_data);
    if (c->big.items == NULL || c->big_data == NULL)
        return th_error_set(err, TH_ENOMEM, "out of memory");
    memcpy(c->big.items, rec->items, rec->count * sizeof *c->big.items);
    c->big.count = rec->count;
    for (i = 0; i < rec->count; i++) {
        th_chain_event *e = &c->big.items[i];
        char ref[2 * TH_CHAIN_HASH_LEN + 1];
        void *data = NULL;
        size_t len = 0;
        if (!th_chain_event_content_ref(e, h, &size))
            continue;
        if (c->opts->store == NULL)
            return th_error_set(err, TH_ENOENT,
                                "event %llu holds %llu bytes by content reference, and there is "
                                "no store to read them from",
                                (unsigned long long)e->seq, (unsigned long long)size);
        base_hex_encode(h, TH_CHAIN_HASH_LEN, ref);
        if (th_store_get(c->opts->store, TH_CHAIN_CONTENT_STORE, ref, &data, &len, err) != 0)
            return th_error_prefix(err, "event %llu (%llu bytes by content reference)",
                                   (unsigned long long)e->seq, (unsigned long long)size);
        c->big_data[c->nbig++] = data;
        if (len != size)
            return th_error_set(err, TH_ECORRUPT,
                                "event %llu: its content has %zu bytes, its reference says %llu",
                                (unsigned long long)e->seq, len, (unsigned long long)size);
        e->data = data;
        e->data_len = len;
        e->description = NULL;
    }
    c->rp.rec = &c->big;
    return 0;
}

/* rec_has's slow path: wait for the stream to hold event i (or to end).
 * Events by content reference need the store's contents in the record
 * (resolve_big, which copies the list): the rest of the read is waited
 * for and the replay goes on in that copy. */
static bool rec_more(rt_replay *rp, size_t i)
{
    size_t from = rp->view.count, k;
    uint8_t h[TH_CHAIN_HASH_LEN];
    uint64_t size;
    int rc;

    rc = th_chain_stream_wait(rp->stream, i, &rp->view, &rp->read_err);
    for (k = from; rc == 0 && k < rp->view.count; k++) {
        if (rp->view.items[k].description == NULL ||
            !th_chain_event_content_ref(&rp->view.items[k], h, &size))
            continue;
        rc = th_chain_stream_wait(rp->stream, SIZE_MAX - 1, &rp->view, &rp->read_err);
        if (rc == 0)
            rc = resolve_big(rp->ctx, &rp->view, &rp->read_err); /* rp->rec: its copy */
        rp->stream = NULL;
        break;
    }
    if (rc != 0) {
        rp->read_rc = rc;
        rp->stop = true;
        rp->stream = NULL;
        rp->rec = &rp->view;
        rp->view.count = 0; /* nothing more is compared */
        return false;
    }
    if (i >= rp->view.count) /* the read is over */
        rp->stream = NULL;
    return i < rp->rec->count;
}

static int set_bytes(const json_t *v, bool *has, uint8_t **p, size_t *n)
{
    size_t len;

    *has = false;
    *p = NULL;
    *n = 0;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_string(v) || (len = json_string_length(v)) % 2 != 0 ||
        (*p = malloc(len / 2 + 1)) == NULL)
        return -1;
    if (base_hex_decode(json_string_value(v), *p, len / 2) != 0) {
        free(*p);
        *p = NULL;
        return -1;
    }
    *has = true;
    *n = len / 2;
    return 0;
}

static uint64_t get_u64(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);

    return json_is_integer(v) && json_integer_value(v) > 0 ? (uint64_t)json_integer_value(v) : 0;
}

/* The module of `hash` from the caller's component_fn (cached). */
static int fn_module(replay_ctx *c, const char *hash, th_wasm_module **out, th_error *err)
{
    char got[RT_HASH_HEX + 1];
    rt_module_entry *e;
    uint8_t *bytes = NULL;
    size_t len = 0;
    int rc;

    for (e = c->rt->modules; e != NULL; e = e->next) {
        if (strcmp(e->hash, hash) == 0) {
            *out = e->module;
            return 0;
        }
    }
    if ((rc = c->opts->component_fn(c->opts->component_ud, hash, &bytes, &len, err)) != 0)
        return rc;
    rc = rt_module_from_bytes(c->rt, bytes, len, false, out, got, err);
    free(bytes);
    if (rc != 0)
        return th_error_prefix(err, "component %s", hash);
    if (strcmp(got, hash) != 0) {
        th_wasm_module_free(*out);
        return th_error_set(err, TH_ECORRUPT, "component %s: its bytes have another hash", hash);
    }
    return rt_module_cache_put(c->rt, hash, *out, got, false, err);
}

/* Instantiate the code an event names (or the --component code) with the
 * state `v` (recorded bytes). */
static int start_code(replay_ctx *c, const th_chain_event *e, const json_t *d, const json_t *state,
                      th_error *err)
{
    rt_actor *a = c->a;
    const json_t *comp = json_object_get(d, "component");
    th_wasm_module *m;
    bool has;
    uint8_t *p;
    size_t n;
    int rc;

    if (c->other != NULL) {
        m = c->other;
        memcpy(a->component, c->other_hash, sizeof a->component);
    } else {
        if (!json_is_string(comp))
            return th_error_set(err, TH_ENOENT,
                                "event %llu (%s) does not name its component (recorded before "
                                "components were); give the code with --component",
                                (unsigned long long)e->seq, e->type);
        if (c->opts->component_fn != NULL)
            rc = fn_module(c, json_string_value(comp), &m, err);
        else
            rc = rt_component_module(c->rt, json_string_value(comp), &m, err);
        if (rc != 0)
            return th_error_prefix(err, "event %llu (%s)", (unsigned long long)e->seq, e->type);
        snprintf(a->component, sizeof a->component, "%s", json_string_value(comp));
    }
    /* the actor's own code, as a live upgrade sets it (upgrade.c); the
     * spec is left as it is (no module, so it caches no export indices:
     * rt_actor_instantiate finds those of a->module for each instance) */
    a->module = m;
    if (set_bytes(state, &has, &p, &n) != 0)
        return th_error_set(err, TH_ECORRUPT, "event %llu: bad state", (unsigned long long)e->seq);
    rt_actor_set_state(a, has, p, n);
    a->status = TH_ACTOR_STARTING;
    snprintf(c->rp.res->component, sizeof c->rp.res->component, "%s", a->component);
    /* (a trap in its start function ends the replay: the caller hears
     * where; the first such failure is the last start) */
    return rt_actor_instantiate(a, c->opts->backtrace, err);
}

static int on_spawned(replay_ctx *c, const th_chain_event *e, const json_t *d, th_error *err)
{
    const json_t *lim = json_object_get(d, "limits"), *id = json_object_get(d, "id");
    const json_t *name = json_object_get(d, "name");
    rt_actor *a = c->a;

    if (json_is_string(id))
        snprintf(a->id, sizeof a->id, "%s", json_string_value(id));
    if (json_is_string(name)) {
        free(c->spec->name);
        c->spec->name = strdup(json_string_value(name));
        if (c->spec->name == NULL)
            return th_error_set(err, TH_ENOMEM, "out of memory");
    }
    a->lim.fuel_per_call = get_u64(lim, "fuel_per_call");
    a->lim.memory_bytes = get_u64(lim, "memory_bytes");
    a->lim.stack_bytes = get_u64(lim, "stack_bytes");
    return start_code(c, e, d, json_object_get(d, "init_state"), err);
}

/* A hot upgrade: the new code, and its migrate run again on the state. */
static int on_updated(replay_ctx *c, const th_chain_event *e, const json_t *d, th_error *err)
{
    rt_actor *a = c->a;
    const json_t *from = json_object_get(d, "from_version"), *st = json_object_get(d, "state");
    char theirs[REPLAY_SHOW_BYTES + 128], mine[REPLAY_SHOW_BYTES + 128];
    bool has, ran = false;
    uint8_t *p;
    size_t n;
    int rc;
    th_error merr;

    if (set_bytes(st, &has, &p, &n) != 0)
        return th_error_set(err, TH_ECORRUPT, "event %llu: bad state", (unsigned long long)e->seq);
    if (c->other == NULL) {
        /* start_code with the current state, then migrate */
        json_t *cur = a->has_state ? json_string("") : json_null();
        rt_buf hex = {0};
        if (a->has_state) {
            rt_buf_json_hex(&hex, a->state, a->state_len);
            json_decref(cur);
            cur = hex.oom ? NULL : json_stringn((const char *)hex.data + 1, hex.len - 2);
        }
        rt_buf_release(&hex);
        rc = cur != NULL ? start_code(c, e, d, cur, err)
                         : th_error_set(err, TH_ENOMEM, "out of memory");
        json_decref(cur);
        if (rc != 0) {
            free(p);
            return rc;
        }
        a->status = TH_ACTOR_RUNNING;
        if (json_is_true(json_object_get(d, "migrated"))) {
            th_error_clear(&merr);
            if (rt_upgrade_migrate(a, json_is_string(from) ? json_string_value(from) : "", &ran,
                                   NULL, &merr) != 0 ||
                !ran) {
                show(theirs, sizeof theirs, e->type, e->data, e->data_len);
                snprintf(mine, sizeof mine, "migrate %s", ran ? merr.msg : "is not exported");
                diverge(&c->rp, e->seq, e->type, theirs, mine);
                free(p);
                return 0;
            }
        }
    }
    if (has != a->has_state || (has && (n != a->state_len || memcmp(p, a->state, n) != 0))) {
        rt_buf b = {0};
        show(theirs, sizeof theirs, e->type, e->data, e->data_len);
        rt_buf_puts(&b, "state ");
        if (a->has_state)
            rt_buf_json_hex(&b, a->state, a->state_len);
        else
            rt_buf_puts(&b, "null");
        show(mine, sizeof mine, "component-updated", b.data, b.oom ? 0 : b.len);
        diverge(&c->rp, e->seq, e->type, theirs, mine);
        rt_buf_release(&b);
    }
    free(p);
    return 0;
}

/* The message that a recorded wasm-call delivers (kind from the function,
 * fields from the params), or NULL if the record is not one. */
static rt_msg *call_msg(const json_t *d)
{
    static const struct {
        const char *fn;
        int kind;
    } kinds[] = {
        {"init", RT_MSG_INIT},
        {"handle-send", RT_MSG_SEND},
        {"handle-request", RT_MSG_REQUEST},
        {"handle-channel-open", RT_MSG_CHAN_OPEN},
        {"handle-channel-message", RT_MSG_CHAN_MSG},
        {"handle-channel-close", RT_MSG_CHAN_CLOSE},
        {"handle-child-error", RT_MSG_CHILD_ERROR},
        {"handle-child-exit", RT_MSG_CHILD_EXIT},
        {"handle-child-external-stop", RT_MSG_CHILD_STOP},
    };
    const char *fn = json_string_value(json_object_get(d, "function"));
    const json_t *ps = json_object_get(d, "params"), *from = json_object_get(d, "from");
    const json_t *p0 = json_array_get(ps, 0), *p1 = json_array_get(ps, 1);
    const json_t *bytes = NULL;
    int kind = 0;
    size_t i;
    rt_msg *m;

    for (i = 0; fn != NULL && i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(fn, kinds[i].fn) == 0)
            kind = kinds[i].kind;
    if (kind == 0 || !json_is_array(ps))
        return NULL;
    if (kind == RT_MSG_SEND)
        bytes = p0;
    else if (kind == RT_MSG_REQUEST || kind == RT_MSG_CHAN_OPEN || kind == RT_MSG_CHAN_MSG ||
             kind == RT_MSG_CHILD_EXIT)
        bytes = p1;
    {
        bool has;
        uint8_t *p;
        size_t n;
        if (set_bytes(bytes, &has, &p, &n) != 0)
            return NULL;
        m = rt_msg_new(kind, p, n);
        free(p);
        if (m == NULL)
            return NULL;
        m->has_data = has;
    }
#define COPY_ID(dst, v) \
    do { \
        if (json_is_string(v)) \
            snprintf(dst, sizeof dst, "%s", json_string_value(v)); \
    } while (0)
    switch (kind) {
    case RT_MSG_SEND:
        COPY_ID(m->a, from);
        COPY_ID(m->b, json_object_get(d, "message_id"));
        break;
    case RT_MSG_REQUEST:
        COPY_ID(m->b, p0);
        COPY_ID(m->a, from);
        break;
    case RT_MSG_CHAN_OPEN:
    case RT_MSG_CHAN_MSG:
    case RT_MSG_CHAN_CLOSE: COPY_ID(m->b, p0); break;
    case RT_MSG_CHILD_ERROR: {
        const json_t *et = json_object_get(p1, "error_type"), *data = json_object_get(p1, "data");
        COPY_ID(m->a, p0);
        m->code = -1;
        for (int k = 0; k < 64 && rt_wit_error_name(k) != NULL; k++)
            if (json_is_string(et) && strcmp(rt_wit_error_name(k), json_string_value(et)) == 0)
                m->code = (int16_t)k;
        if (json_is_integer(et))
            m->code = (int16_t)json_integer_value(et);
        if (json_is_string(data) && (m->text = strdup(json_string_value(data))) == NULL) {
            rt_msg_free(m);
            return NULL;
        }
        break;
    }
    case RT_MSG_CHILD_EXIT:
    case RT_MSG_CHILD_STOP: COPY_ID(m->a, p0); break;
    default: break;
    }
#undef COPY_ID
    /* a message a daemon stored for a durable actor: its events name it */
    m->durable = json_is_string(json_object_get(d, "message_id"));
    return m;
}

/* The message of a recorded wasm-call read in place (base/jscan.h),
 * without a JSON tree: the common case of a replay, every message an actor
 * handled.  1 with *out (and *has_result: the event holds the call's
 * result too), 0 when the event needs the full reader (call_msg: an
 * inbound event, a child's error, escapes in its strings), -1 out of
 * memory. */
static int fast_call_msg(const th_chain_event *e, rt_msg **out, bool *has_result)
{
    static const struct {
        const char *fn;
        int kind;
        int bytes; /* which param holds the bytes (-1: none) */
    } kinds[] = {
        {"init", RT_MSG_INIT, -1},
        {"handle-send", RT_MSG_SEND, 0},
        {"handle-request", RT_MSG_REQUEST, 1},
        {"handle-channel-open", RT_MSG_CHAN_OPEN, 1},
        {"handle-channel-message", RT_MSG_CHAN_MSG, 1},
        {"handle-channel-close", RT_MSG_CHAN_CLOSE, -1},
        {"handle-child-exit", RT_MSG_CHILD_EXIT, 1},
        {"handle-child-external-stop", RT_MSG_CHILD_STOP, -1},
    };
    static const char *const keys[] = {"function",   "params", "from",
                                       "message_id", "result", "interface"};
    base_jspan v[6], fn, p[2] = {{NULL, 0}, {NULL, 0}}, x, hex = {NULL, 0};
    uint8_t small[256], *bytes = small;
    size_t at = 0, i, k, nb = 0;
    int kind = -1, which = -1, got;
    bool has = false;
    rt_msg *m;

    *out = NULL;
    if (base_jscan_object((base_jspan){(const char *)e->data, e->data_len}, keys, 6, v) < 0 ||
        v[5].p != NULL || !base_jscan_plain(v[0], &fn) || v[1].p == NULL)
        return 0;
    for (i = 0; i < sizeof kinds / sizeof kinds[0] && kind < 0; i++)
        if (strlen(kinds[i].fn) == fn.n && memcmp(kinds[i].fn, fn.p, fn.n) == 0)
            kind = kinds[i].kind, which = kinds[i].bytes;
    if (kind < 0)
        return 0;
    for (k = 0; (got = base_jscan_next(v[1], &at, &x)) == 1; k++)
        if (k < 2)
            p[k] = x;
    if (got != 0)
        return 0;
    for (k = 0; k < 2; k++) /* ids and hex: plain strings (or a null) */
        if (p[k].p != NULL && !base_jscan_is(p[k], "null") && !base_jscan_plain(p[k], &x))
            return 0;
    for (k = 2; k < 4; k++)
        if (v[k].p != NULL && !base_jscan_plain(v[k], &x))
            return 0;
    if (which >= 0 && p[which].p != NULL && base_jscan_plain(p[which], &hex)) {
        if (hex.n % 2 != 0)
            return 0;
        nb = hex.n / 2;
        has = true;
        if (nb > sizeof small && (bytes = malloc(nb)) == NULL)
            return -1;
        if (base_hex_decode_n(hex.p, bytes, nb) != 0) {
            if (bytes != small)
                free(bytes);
            return 0;
        }
    }
    m = rt_msg_new(kind, bytes, nb);
    if (bytes != small)
        free(bytes);
    if (m == NULL)
        return -1;
    m->has_data = has;
#define SPAN_ID(dst, sp) \
    do { \
        base_jspan s_; \
        if ((sp).p != NULL && base_jscan_plain((sp), &s_)) { \
            size_t n_ = s_.n < sizeof(dst) - 1 ? s_.n : sizeof(dst) - 1; \
            memcpy((dst), s_.p, n_); \
            (dst)[n_] = '\0'; \
        } \
    } while (0)
    switch (kind) {
    case RT_MSG_SEND:
        SPAN_ID(m->a, v[2]);
        SPAN_ID(m->b, v[3]);
        break;
    case RT_MSG_REQUEST:
        SPAN_ID(m->b, p[0]);
        SPAN_ID(m->a, v[2]);
        break;
    case RT_MSG_CHAN_OPEN:
    case RT_MSG_CHAN_MSG:
    case RT_MSG_CHAN_CLOSE: SPAN_ID(m->b, p[0]); break;
    case RT_MSG_CHILD_EXIT:
    case RT_MSG_CHILD_STOP: SPAN_ID(m->a, p[0]); break;
    default: break;
    }
#undef SPAN_ID
    m->durable = v[3].p != NULL;
    *has_result = v[4].p != NULL;
    *out = m;
    return 1;
}

/* An inbound event (a call of an export that a handler makes: a child
 * process's output, docs/events.md) rebuilt from its recorded wasm-call:
 * the generated glue (wit_inbound, tools/witgen) lowers the recorded
 * params (the JSON of the export's params tuple) into the guest and lifts
 * the result; the call's other recorded members (the handler's, e.g. "cut")
 * are written again as they were, so the wasm-call compares like any
 * other.  Freed by `done`. */
typedef struct rp_inbound {
    rt_inbound in;
    rt_inbound_ops ops;
    const wit_inbound_desc *d;
    base_jspan params; /* the recorded array (in the record) */
    rt_buf extra;      /* ,"key":value of the call's other members */
    void *more;        /* what the result carries besides the state (d->more_json) */
} rp_inbound;

static int rpi_lower(rt_inbound *in, rt_guest *g, const wit_opt_bytes *state, th_wasm_val *args,
                     uint32_t *nargs)
{
    rp_inbound *r = (rp_inbound *)in;

    return r->d->lower(g, state, r->params, args, nargs);
}

static int rpi_lift(rt_inbound *in, rt_guest *g, const th_wasm_val *res, bool *has, uint8_t **state,
                    size_t *len, char **err)
{
    rp_inbound *r = (rp_inbound *)in;

    if (r->more != NULL) { /* a call lifted once only; kept for its record */
        r->d->more_free(r->more);
        r->more = NULL;
    }
    return r->d->lift(g, res, has, state, len, err, &r->more);
}

/* The result's members after "state", written by the same generated code
 * as in the live run (wit_inbound_more_F) from what the replayed code
 * returned. */
static void rpi_result_json(rt_inbound *in, rt_buf *b)
{
    rp_inbound *r = (rp_inbound *)in;

    if (r->d->more_json != NULL && r->more != NULL)
        r->d->more_json(b, r->more);
}

static void rpi_params(rt_inbound *in, rt_buf *b)
{
    rp_inbound *r = (rp_inbound *)in;

    rt_buf_append(b, r->params.p + 1, r->params.n - 2); /* without the brackets */
}

static void rpi_call_json(rt_inbound *in, rt_buf *b)
{
    rp_inbound *r = (rp_inbound *)in;

    if (r->extra.len > 0)
        rt_buf_append(b, r->extra.data, r->extra.len);
}

static void rpi_done(rt_inbound *in, int status, const char *text)
{
    rp_inbound *r = (rp_inbound *)in;

    (void)status, (void)text;
    if (r->more != NULL)
        r->d->more_free(r->more);
    rt_buf_release(&r->extra);
    free(r);
}

/* The message of a recorded inbound wasm-call into *out: 0, or an error
 * (it cannot be rebuilt). */
static int inbound_msg(const th_chain_event *e, rt_msg **out, th_error *err)
{
    base_jspan obj = {(const char *)e->data, e->data_len}, key, val, iface = {NULL, 0},
               fn = {NULL, 0}, params = {NULL, 0};
    const wit_inbound_desc *d = NULL;
    size_t at = 0, i;
    rp_inbound *r;
    rt_msg *m;
    int got, rc;

    *out = NULL;
    if ((r = calloc(1, sizeof *r)) == NULL)
        return th_error_set(err, TH_ENOMEM, "out of memory");
    while ((got = base_jscan_member(obj, &at, &key, &val)) == 1) {
        if (base_jscan_is(key, "\"interface\""))
            base_jscan_plain(val, &iface);
        else if (base_jscan_is(key, "\"function\""))
            base_jscan_plain(val, &fn);
        else if (base_jscan_is(key, "\"params\""))
            params = val;
        else if (!base_jscan_is(key, "\"result\"")) {
            rt_buf_puts(&r->extra, ",");
            rt_buf_append(&r->extra, key.p, (size_t)(val.p + val.n - key.p));
        }
    }
    for (i = 0; got == 0 && iface.p != NULL && fn.p != NULL && i < wit_ninbound; i++)
        if (strlen(wit_inbound[i].iface) == iface.n &&
            memcmp(wit_inbound[i].iface, iface.p, iface.n) == 0 &&
            strlen(wit_inbound[i].fn) == fn.n && memcmp(wit_inbound[i].fn, fn.p, fn.n) == 0)
            d = &wit_inbound[i];
    if (got != 0 || d == NULL || params.p == NULL || params.p[0] != '[' || r->extra.oom) {
        rc = th_error_set(err, TH_ECORRUPT,
                          "event %llu: a call from a handler the replay cannot read",
                          (unsigned long long)e->seq);
        goto fail;
    }
    if (strcmp(d->fn, "handle-websocket-message") == 0 &&
        memmem(params.p, params.n, "{\"type\":", 8) != NULL) {
        /* recorded before the record followed the WIT (docs/events.md) */
        rc = th_error_set(err, TH_ENOSYS,
                          "event %llu: a call of %s#%s recorded in the older form (its message's "
                          "field `ty` written as \"type\") cannot be replayed",
                          (unsigned long long)e->seq, d->iface, d->fn);
        goto fail;
    }
    if (d->lift == NULL) {
        rc = th_error_set(
            err, TH_ENOSYS,
            "event %llu: a call of %s#%s from its handler (an inbound event) cannot be "
            "replayed: its result is not one the WIT glue lifts for replay",
            (unsigned long long)e->seq, d->iface, d->fn);
        goto fail;
    }
    r->d = d;
    r->params = params;
    r->ops.iface = d->iface;
    r->ops.export = d->export_name;
    r->ops.lower = rpi_lower;
    r->ops.lift = rpi_lift;
    r->ops.params_json = rpi_params;
    r->ops.call_json = rpi_call_json;
    r->ops.result_json = rpi_result_json;
    r->ops.done = rpi_done;
    r->in.ops = &r->ops;
    if ((m = rt_msg_new(RT_MSG_INBOUND, NULL, 0)) == NULL) {
        rc = th_error_set(err, TH_ENOMEM, "out of memory");
        goto fail;
    }
    m->reply.in = &r->in;
    *out = m;
    return 0;
fail:
    rt_buf_release(&r->extra);
    free(r);
    return rc;
}

/* Index of the last event of the operation that starts at index i. */
static size_t op_end(rt_replay *rp, size_t i, bool has_result)
{
    size_t k;

    if (has_result)
        return i;
    for (k = i + 1; rec_has(rp, k); k++) {
        const char *t = rp->rec->items[k].type;
        if (strcmp(t, "wasm-result") == 0 || strcmp(t, "actor-failed") == 0 ||
            strcmp(t, "actor-stopped") == 0 || strcmp(t, "actor-restarted") == 0 ||
            strcmp(t, "actor-restored") == 0 || strcmp(t, "wasm-call") == 0)
            return strcmp(t, "wasm-call") == 0 ? k - 1 : k;
    }
    return rp->rec->count - 1;
}

static void report_state(replay_ctx *c, uint64_t seq)
{
    rt_actor *a = c->a;

    if (c->opts->state_fn != NULL)
        c->opts->state_fn(c->opts->state_ud, seq, a->has_state, a->state, a->state_len);
}

/* Run the operation of a recorded wasm-call (message m, taken over). */
static int run_call(replay_ctx *c, const th_chain_event *e, rt_msg *m, bool has_result,
                    th_error *err)
{
    rt_replay *rp = &c->rp;
    char theirs[REPLAY_SHOW_BYTES + 128];

    if (rp->until != UINT64_MAX && /* (no seq is above it) */
        rp->rec->items[op_end(rp, rp->next, has_result)].seq > rp->until) {
        rt_msg_free(m); /* the operation ends after --until: not run */
        rp->stop = true;
    } else if (c->a->inst == NULL) {
        rt_msg_free(m);
        show(theirs, sizeof theirs, e->type, e->data, e->data_len);
        diverge(rp, e->seq, e->type, theirs, "nothing (the actor had failed)");
    } else {
        rt_actor_run_op(c->a, m);
        if (rp->refused)
            return th_error_set(err, TH_ENOSYS, "%s", rp->why);
        if (!rp->res->diverged && !rp->stop)
            report_state(c, rp->next > 0 ? rp->rec->items[rp->next - 1].seq : 0);
    }
    return 0;
}

/* One event at the top level (between operations). */
static int step(replay_ctx *c, th_error *err)
{
    rt_replay *rp = &c->rp;
    const th_chain_event *e = peek(rp);
    json_error_t jerr;
    json_t *d;
    rt_msg *fm = NULL;
    bool has_result = false;

    rp->cut = false; /* between operations */
    if (strcmp(e->type, "wasm-call") == 0) {
        switch (fast_call_msg(e, &fm, &has_result)) {
        case 1: return run_call(c, e, fm, has_result, err);
        case -1: return th_error_set(err, TH_ENOMEM, "out of memory");
        default: break; /* the full reader below */
        }
    }
    d = base_json_loadb((const char *)e->data, e->data_len, 0, &jerr, NULL);
    char theirs[REPLAY_SHOW_BYTES + 128];
    int rc = 0;

    if (!json_is_object(d)) {
        json_decref(d);
        return th_error_set(err, TH_ECORRUPT, "event %llu (%s) has no JSON data",
                            (unsigned long long)e->seq, e->type);
    }
    if (strcmp(e->type, "wasm-call") == 0) {
        bool inbound = json_is_string(json_object_get(d, "interface"));
        rt_msg *m = NULL;
        if (inbound)
            rc = inbound_msg(e, &m, err);
        else
            m = call_msg(d);
        if (inbound && rc != 0) {
            /* said in err */
        } else if (m == NULL) {
            rc = th_error_set(err, TH_ECORRUPT, "event %llu: a wasm-call the replay cannot read",
                              (unsigned long long)e->seq);
        } else {
            rc = run_call(c, e, m, json_object_get(d, "result") != NULL, err);
        }
    } else if (strcmp(e->type, "init-skipped") == 0) {
        rt_msg *m = rt_msg_new(RT_MSG_INIT, NULL, 0);
        if (m == NULL)
            rc = th_error_set(err, TH_ENOMEM, "out of memory");
        else
            rt_actor_run_op(c->a, m);
    } else if (strcmp(e->type, "message-dropped") == 0 && json_object_get(d, "count") != NULL) {
        /* messages the actor never handled (it stopped or failed first):
         * nothing of them to run again */
        rp->next++;
        rp->res->events++;
    } else if (strcmp(e->type, "message-dropped") == 0) {
        const char *fn = json_string_value(json_object_get(d, "function"));
        th_wasm_func *f = NULL;
        char name[160];
        const char *iface = json_string_value(json_object_get(d, "interface"));
        snprintf(name, sizeof name, "theater:simple/%s#%s",
                 iface != NULL                                        ? iface
                 : fn != NULL && strncmp(fn, "handle-child", 12) == 0 ? "supervisor-handlers"
                                                                      : "message-server-client",
                 fn != NULL ? fn : "");
        if (c->a->inst != NULL)
            f = th_wasm_instance_func(c->a->inst, name);
        if (f != NULL) {
            show(theirs, sizeof theirs, e->type, e->data, e->data_len);
            diverge(rp, e->seq, e->type, theirs,
                    "the replayed code exports it: the message would have been handled");
        } else {
            rp->next++;
            rp->res->events++;
        }
    } else if (strcmp(e->type, "actor-restored") == 0) {
        /* a new daemon brought it back (docs/durability.md): the recorded
         * code and state, init again if it had not returned */
        rp->next++;
        rp->res->events++;
        rc = start_code(c, e, d, json_object_get(d, "state"), err);
        if (rc == 0 && !json_is_true(json_object_get(d, "init")))
            c->a->status = TH_ACTOR_RUNNING;
        if (rc == 0)
            report_state(c, e->seq);
    } else if (strcmp(e->type, "actor-spawned") == 0 || strcmp(e->type, "actor-restarted") == 0) {
        rp->next++;
        rp->res->events++;
        rc = strcmp(e->type, "actor-spawned") == 0
                 ? on_spawned(c, e, d, err)
                 : start_code(c, e, d, json_object_get(d, "init_state"), err);
        /* supervisor.resume's start (and its restarts): that state, no init */
        if (rc == 0 && json_is_true(json_object_get(d, "resumed")))
            c->a->status = TH_ACTOR_RUNNING;
        if (rc == 0)
            report_state(c, e->seq);
    } else if (strcmp(e->type, "component-updated") == 0) {
        rp->next++;
        rp->res->events++;
        rc = on_updated(c, e, d, err);
        if (rc == 0 && !rp->res->diverged)
            report_state(c, e->seq);
    } else if (strcmp(e->type, "host-call") == 0 || strcmp(e->type, "wasm-result") == 0) {
        show(theirs, sizeof theirs, e->type, e->data, e->data_len);
        diverge(rp, e->seq, e->type, theirs, "nothing (the replayed operation had ended)");
    } else {
        /* the runtime's decisions (supervisor-action, actor-stopped, a
         * failure outside an operation) and types this replay does not
         * know are taken as recorded */
        if (strcmp(e->type, "actor-stopped") == 0 || strcmp(e->type, "actor-failed") == 0) {
            th_wasm_instance_free(c->a->inst);
            c->a->inst = NULL;
            memset(c->a->fn, 0, sizeof c->a->fn);
        }
        rp->next++;
        rp->res->events++;
    }
    json_decref(d);
    return rc;
}

static void replay_free(replay_ctx *c)
{
    if (c->a != NULL) {
        c->a->spec = NULL;
        rt_actor_release(c->a);
    }
    if (c->spec != NULL) {
        free(atomic_load(&c->spec->exports)); /* (none: the actor runs a->module) */
        free(c->spec->name);
        free(c->spec);
    }
    replay_rt_free(c->rt);
    rt_buf_release(&c->rp.answer);
    drop_value(&c->rp);
    free(c->rp.out_text);
    free(c->rp.args_input);
    free(c->rp.args_bytes);
    while (c->nbig > 0)
        free(c->big_data[--c->nbig]);
    free(c->big_data);
    free(c->big.items);
}

int th_runtime_replay(const th_runtime_replay_opts *opts, th_runtime_replay_result *res,
                      th_error *err)
{
    replay_ctx c;
    int rc;

    memset(res, 0, sizeof *res);
    memset(&c, 0, sizeof c);
    if (opts->backtrace != NULL)
        *opts->backtrace = NULL;
    c.opts = opts;
    c.rp.rec = opts->stream != NULL ? &c.rp.view : opts->events;
    c.rp.stream = opts->stream;
    c.rp.ctx = &c;
    c.rp.until = opts->until;
    c.rp.res = res;
    c.rp.host_at = SIZE_MAX;
    if (c.rp.rec == NULL || !rec_has(&c.rp, 0)) {
        if (c.rp.read_rc != 0) {
            *err = c.rp.read_err;
            return c.rp.read_rc;
        }
        return th_error_set(err, TH_EINVAL, "no events to replay");
    }
    if ((rc = replay_rt_new(opts->handlers, opts->store, &c.rt, err)) != 0)
        return rc;
    if (!gather_summaries(&c.rp, c.rt)) {
        rc = th_error_set(err, TH_ETOOBIG,
                          "the handlers have more functions with summary outputs "
                          "than the replay holds");
        goto out;
    }
    if ((c.spec = calloc(1, sizeof *c.spec)) == NULL ||
        (c.a = replay_actor_new(c.rt, c.spec, &c.rp)) == NULL) {
        rc = th_error_set(err, TH_ENOMEM, "out of memory");
        goto out;
    }
    atomic_init(&c.spec->refs, 1);
    c.spec->save_chain = true;
    if ((c.spec->name = strdup("actor")) == NULL) {
        rc = th_error_set(err, TH_ENOMEM, "out of memory");
        goto out;
    }
    if (opts->component != NULL) {
        rc = rt_module_from_bytes(c.rt, opts->component, opts->component_len, false, &c.other,
                                  c.other_hash, err);
        if (rc == 0)
            rc = rt_module_cache_put(c.rt, "replay:component", c.other, c.other_hash, false, err);
        if (rc != 0) {
            c.other = NULL;
            th_error_prefix(err, "--component");
            goto out;
        }
    }
    /* (a record still being read is looked at as it comes: rec_more) */
    if (c.rp.stream == NULL && (rc = resolve_big(&c, c.rp.rec, err)) != 0)
        goto out;
    if (strcmp(c.rp.rec->items[0].type, "actor-spawned") != 0) {
        rc = th_error_set(err, TH_ECORRUPT, "the chain does not start with actor-spawned");
        goto out;
    }
    while (rc == 0 && !res->diverged && !c.rp.stop && peek(&c.rp) != NULL &&
           peek(&c.rp)->seq <= c.rp.until)
        rc = step(&c, err);
    if (rc == 0 && c.rp.read_rc != 0) { /* the record could not be read whole */
        rc = c.rp.read_rc;
        *err = c.rp.read_err;
    }
    if (rc == 0 && c.rp.refused)
        rc = th_error_set(err, TH_ENOSYS, "%s", c.rp.why);
    if (rc == 0 && c.a->has_state) {
        res->has_state = true;
        res->state = rt_memdup(c.a->state, c.a->state_len);
        res->state_len = c.a->state_len;
        if (res->state == NULL)
            rc = th_error_set(err, TH_ENOMEM, "out of memory");
    }
out:
    replay_free(&c);
    return rc;
}

void th_runtime_replay_result_release(th_runtime_replay_result *res)
{
    if (res == NULL)
        return;
    free(res->state);
    res->state = NULL;
}
