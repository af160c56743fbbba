/*
 * rt_record.h - what the runtime writes down and reads back: chain records
 * and subscriptions (record.c), durable actors' records (durable.c,
 * restore.c) and replay against a record (replay.c, recval.c).  Private
 * to src/runtime/ (rt_int.h) and the generated host glue.
 */
#ifndef THEATER_RT_RECORD_H
#define THEATER_RT_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "theater/error.h"
#include "theater/runtime.h"
#include "base/jscan.h"
#include "runtime/rt_host.h"
#include "runtime/rt_queue.h"
#include "runtime/rt_sched.h"

/* ------------------------------------------------------------------ */
/* Chain records (record.c)                                           */

/* Open / close the runtime's chains and store (runtime.c calls these). */
int rt_record_start(rt_runtime *rt, th_error *err);
int rt_record_stop(rt_runtime *rt, th_error *err);
/* Subscriptions. */
int rt_record_subscribe(rt_actor *a, th_runtime_event_fn fn, void *ud, uint64_t *id);
int rt_record_unsubscribe(rt_runtime *rt, uint64_t id);
/* rt_actor.rec_failed once an event could not be recorded: for want of
 * memory, or for another reason (the writer, shutdown). */
#define RT_REC_FAILED 2
#define RT_REC_FAILED_NOMEM 3
/* 0 while the actor's events are recorded; else why they no longer are:
 * TH_ENOMEM (out of memory) or TH_EIO. */
int rt_record_failure(const rt_actor *a);
/* Free what record.c keeps for an actor (subscriptions, in-memory chain). */
void rt_record_free(rt_actor *a);
/* Wait until the actor's events so far are durable (while the chain writer
 * is stalled, at most the runtime's record_stall_ms). */
int rt_record_flush(rt_actor *a, th_error *err);
/* Queue now what the worker's batch holds of the running turn (so that,
 * e.g., an ending actor's last events are queued before it leaves the
 * registry). */
void rt_record_push(rt_actor *a);
/* Wait until every event queued so far, of any actor, is durable: for an
 * actor that has left the registry, whose own counters are gone. */
int rt_record_flush_all(rt_runtime *rt, th_error *err);
/* A worker's turn of `a` begins / ends (turn.c): the events `a` records in
 * its turn are collected in a batch that is queued for the recorder at the
 * end of the turn (or when full, or when someone flushes). */
void rt_record_turn_begin(rt_actor *a);
void rt_record_turn_end(rt_actor *a);
/* The turn of `a` runs a nested turn (a request's hand-off, turn.c) /
 * resumes after it: a's batch is held meanwhile and collects on after it
 * (queued before any later event of a, whoever records it). */
void rt_record_nest_begin(rt_actor *a);
void rt_record_nest_end(rt_actor *a);
/* A worker thread ends (sched.c): free the batch buffer it kept. */
void rt_record_worker_done(rt_worker *w);

/* ------------------------------------------------------------------ */
/* Durable actors (durable.c, restore.c; docs/durability.md)          */

typedef struct rt_durable rt_durable;
/* Open the durable records (theater.db), start their writer thread and
 * listen to the chain (runtime.c, when th_runtime_config.durable). */
int rt_durable_start(rt_runtime *rt, th_error *err);
/* Commit what is queued, stop listening and the thread (before the chain
 * closes). */
void rt_durable_stop(rt_runtime *rt);
/* Deliver the one-way message `m` (RT_MSG_SEND, `reply` its
 * acknowledgement, with `ack` set) to the durable actor `t` once it is
 * stored: gives it an id (m->b; derived from the operation of `sender`
 * when that operation handles a durable message or is the init of a
 * durable actor, so that running it again sends the same ids), takes `m`.  The acknowledgement
 * comes when it is stored and admitted to the mailbox, or with an error. */
void rt_durable_post(rt_runtime *rt, rt_actor *sender, rt_actor *t, rt_msg *m);
/* Inside the turn: the init of a durable actor succeeded.  Stores its
 * record if it has none; true if it took over the spawn's waiters
 * (a->init_sync, a->init_reply), answered once the record is durable. */
bool rt_durable_started(rt_actor *a);
/* The actor ended for good: forget its record and messages. */
void rt_durable_ended(rt_actor *a);
/* Inside the turn: a supervisor restart gave the actor a new incarnation;
 * the sends of the previous init are no longer kept for a re-run. */
void rt_durable_restarted(rt_actor *a);
/* A durable message that will not be handled (refused): mark it. */
void rt_durable_dropped(rt_actor *a, const rt_msg *m);
/* Inside the turn of stored message `key`, before its result is recorded:
 * hold the answer (status, response, failure text) to *reply (taken from
 * it) until the event that ends the handling of `key` is durable: a
 * request's own reply (key = the request), or a deferred request answered
 * or cancelled by this handling (respond-to-request, cancel-request).
 * False (*reply left as it is, for the caller to answer at once) when the
 * runtime keeps no durable records (a replay) or on allocation failure. */
bool rt_durable_hold_reply(rt_actor *a, const rt_msg *key, rt_reply *reply, int status,
                           bool has_resp, const uint8_t *resp, size_t len, const char *text);
/* True if the event (type, JSON data) ends the handling of a stored
 * message: a result ("wasm-call" with its result, "wasm-result"),
 * "actor-failed" or "message-dropped" with "message_id"; its id in `id`. */
bool rt_durable_event_handled(const char *type, const uint8_t *data, size_t len,
                              char id[RT_ID_LEN + 1]);
/* Append ,"message_id":"<m->b>" to an event's JSON. */
void rt_durable_json_id(rt_buf *b, const rt_msg *m);

/* ------------------------------------------------------------------ */
/* Replay (replay.c)                                                  */

/* Inside a host function of a replayed actor (h->a->replay set), in place
 * of the handler: the call must be the next recorded event (same
 * interface, function and input); *out is the text of the recorded output
 * (borrowed until the next call), which the generated glue reads back
 * (jq_T, recval.c).  Otherwise the replay has diverged: an error (the
 * call traps) with h->err set. */
int rt_replay_host(rt_host *h, const char *iface, const char *fn, base_jspan *out);
/* Before a replayed host call's arguments are lifted: when the call is
 * the function (iface, fn: the glue's own strings) of the last call kept
 * by rt_replay_args_keep, with the same flat arguments and the same bytes
 * in guest memory where its string and list<u8> arguments point (`shape`:
 * one letter per parameter, 's' string, 'b' list<u8>, 'i' 'I' 'f' 'F' a
 * primitive of one flat i32, i64, f32, f64), its input is that call's
 * text: h->input is set to it (lent: h->replay_in) and true returned; the
 * glue neither lifts them nor writes the input.  False otherwise. */
bool rt_replay_args(rt_host *h, const char *iface, const char *fn, const char *shape,
                    const th_wasm_val *args);
/* After a replayed host call's arguments were lifted and its input
 * written (h->input): the replay takes the input over (h->replay_in) and
 * a copy of the arguments, for rt_replay_args. */
void rt_replay_args_keep(rt_host *h, const char *iface, const char *fn, const char *shape,
                         const th_wasm_val *args);
/* After rt_replay_host: when the recorded output is the very text of the
 * last call read (a repeated event: the same bytes) and its value was kept
 * by rt_replay_keep with the same `release` (the glue's function), that
 * value is copied (shallow) into *val (`size` bytes), h->replay_val set
 * (the glue does not free it) and true returned: jq_T would read the same
 * value from the same text.  False otherwise (the glue reads it). */
bool rt_replay_value(rt_host *h, void *val, size_t size, void (*release)(void *));
/* After a replayed host call whose output value the glue read from the
 * record (not a summary): the replay takes the value over (h->replay_val
 * set; `release` frees its parts) for the calls that repeat it. */
void rt_replay_keep(rt_host *h, void *val, size_t size, void (*release)(void *));
/* The end of a host call the replay lent its value or text to
 * (h->replay_lent): they may change again (not before: a host call made
 * while the guest's cabi_realloc runs inside this one must not free
 * them). */
void rt_replay_return(rt_host *h);

/* Recorded values read back (recval.c), for the generated jq_T: the JSON
 * of a bool, an integer (within [0, max] / [min, max]), a float (null is
 * NaN), a string (unescaped, valid UTF-8; *ptr malloc'd and
 * NUL-terminated) and a list<u8> (hex; *ptr malloc'd).  0, or TH_EINVAL
 * with g->err naming what was expected (*ptr may then be set: the caller
 * frees it). */
int rt_jq_bool(rt_guest *g, base_jspan j, bool *out);
int rt_jq_uint(rt_guest *g, base_jspan j, uint64_t max, uint64_t *out);
int rt_jq_sint(rt_guest *g, base_jspan j, int64_t min, int64_t max, int64_t *out);
int rt_jq_float(rt_guest *g, base_jspan j, double *out);
int rt_jq_str(rt_guest *g, base_jspan j, char **ptr, size_t *len);
int rt_jq_hex(rt_guest *g, base_jspan j, uint8_t **ptr, size_t *len);
/* TH_EINVAL: the recorded value is not a `what`. */
int rt_jq_bad(rt_guest *g, const char *what);
/* rt_record for a replayed actor: compare the event with the next
 * recorded one. */
void rt_replay_event(rt_actor *a, const char *type, const uint8_t *data, size_t len);
/* For a replayed actor whose operation ends: is the next recorded event
 * its wasm-call `call` alone (the live run recorded the call without its
 * result: the operation was cut off from outside, or the two could not be
 * merged)?  Then the call is compared alone and its result follows apart,
 * as in the live run. */
bool rt_replay_call_alone(rt_actor *a, const uint8_t *call, size_t len);
/* rt_record_host for a replayed actor whose call rt_replay_host has just
 * matched (same interface, function and this input text): the event is
 * compared in place, its output with the recorded output, without
 * building its text.  False when that does not apply (the caller then
 * builds the event and compares it whole, rt_replay_event). */
bool rt_replay_host_done(rt_actor *a, const char *iface, const char *fn, const char *input_json,
                         const char *output_json);
/* Run one operation of a replayed actor to its end (actor.c): the export
 * that `m` calls, with fuel slices but no suspension (its host calls
 * answer at once). Takes `m`. */
void rt_actor_run_op(rt_actor *a, rt_msg *m);

#endif
