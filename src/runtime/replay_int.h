/*
 * replay_int.h - what the two halves of a replay share: replay.c drives
 * it from the record (the runtime's own events, the export calls in their
 * order) and reports the first difference; replay_host.c is the replayed
 * actor's side (each event it produces compared with the record, each
 * host call answered from it).  Only these two files include it.
 */
#ifndef THEATER_RUNTIME_REPLAY_INT_H
#define THEATER_RUNTIME_REPLAY_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "runtime/rt_int.h"

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

/* replay.c: rec_has's slow path, for a record still being read (waits
 * for event i or the read's end). */
bool rt_replay_rec_more(rt_replay *rp, size_t i);

/* Is there a recorded event i?  (Waits for a record still being read.) */
static inline bool rec_has(rt_replay *rp, size_t i)
{
    return i < rp->rec->count || (rp->stream != NULL && rt_replay_rec_more(rp, i));
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
static inline bool cuts_op(const rt_actor *a, const th_chain_event *e)
{
    return a->op != NULL && e != NULL &&
           (type_is(e->type, "actor-restored") || type_is(e->type, "actor-stopped") ||
            type_is(e->type, "actor-restarted"));
}

/* The next recorded event to match, or NULL at the record's end. */
static inline const th_chain_event *rt_replay_peek(rt_replay *rp)
{
    return rec_has(rp, rp->next) ? &rp->rec->items[rp->next] : NULL;
}

/* replay.c: "TYPE DATA" of an event into out (cap bytes), cut to
 * REPLAY_SHOW_BYTES, bytes that are not text as \xNN. */
void rt_replay_show(char *out, size_t cap, const char *type, const uint8_t *data, size_t len);

/* replay.c: note the first difference (later ones are ignored): event
 * `seq` of type `type`, both sides as rt_replay_show wrote them. */
void rt_replay_diverge(rt_replay *rp, uint64_t seq, const char *type, const char *recorded,
                       const char *replayed);

/* replay_host.c: gather the functions whose output is recorded as a
 * summary of a chain (once per replay); false if there are too many. */
bool rt_replay_gather_summaries(rt_replay *rp, const rt_runtime *rt);

/* replay_host.c: release the value kept for repeated host calls. */
void rt_replay_drop_value(rt_replay *rp);

#endif
