/*
 * event_text.h - chain events for people and for scripts: the one place
 * that knows what each event type's data means (docs/events.md).
 *
 * The runtime records event data as JSON text in which byte strings
 * (messages, states, responses) are lowercase hex.  The human form decodes
 * them: UTF-8 text is shown as text (JSON text bare, other text quoted),
 * anything else as hex; error types by name; actor ids in their short form
 * (ids.h), which the CLI accepts back.  Without CLI_EVENT_WIDE each value is
 * cut after CLI_EVENT_VALUE_MAX bytes with a note of how much was left out.
 *
 * The JSON form (--json; one object per event, documented in
 * docs/events.md) holds the event as recorded: the data is embedded as a
 * JSON value (so its byte strings appear once, as hex), never re-encoded.
 * Data that is not JSON text is given as "data_hex" instead of "data".
 *
 * An event whose data was too large to be kept inline (over 64 MiB) is on
 * the chain by content reference: description "content-ref", data
 * {"content-ref": HEX, "size": N}, the data itself in the home's store
 * (docs/chain-format.md).  The human form shows the data from there when a
 * cli_content gives the home (cut as any data, with a note of how it was
 * recorded); otherwise, or when the content is not there, it says so in
 * words: "(data recorded by reference: 140.0 MB, sha256 49f06eb2...)".
 *
 * Used by `theater chain events`, `theater run --events` and the daemon's
 * `theater events`.  Functions are reentrant; nothing is kept between calls
 * but the store a cli_content opens.
 */
#ifndef THEATER_CLI_EVENT_TEXT_H
#define THEATER_CLI_EVENT_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "cli/ids.h"
#include "theater/error.h"
#include "theater/store.h"

#define CLI_EVENT_VALUE_MAX 200 /* bytes of one value shown without --wide */

/* One event as the CLI sees it.  Only `type` is required; pointers are
 * borrowed for the call. */
typedef struct cli_event {
    const char *actor; /* full actor id, or NULL */
    uint64_t seq;
    const char *type;
    uint64_t timestamp_ms; /* ms since the Unix epoch */
    const uint8_t *data;   /* as recorded */
    size_t data_len;
    const uint8_t *hash;     /* 32 bytes, or NULL */
    const uint8_t *parent;   /* 32 bytes, or NULL (first event, or unknown) */
    const char *description; /* or NULL */
} cli_event;

enum {
    CLI_EVENT_WIDE = 1 << 0,   /* every value whole */
    CLI_EVENT_ACTOR = 1 << 1,  /* begin the line with the actor's short id */
    CLI_EVENT_NO_SEQ = 1 << 2, /* leave out the sequence number (not known) */
};

/* 1 if `type` is one of th_event_types (theater/runtime.h), else 0. */
int cli_event_type_known(const char *type);

/* "actor-spawned, wasm-call, ..." (static). */
const char *cli_event_types_joined(void);

/* Where the data of events recorded by content reference is read from: the
 * store of a home, opened read-only at the first such event (a daemon may
 * have the home open meanwhile).  cli_content_init(c, home): `home` is
 * borrowed and may be NULL ($THEATER_HOME, else ~/.theater); release with
 * cli_content_release.  Passing no cli_content (NULL) means no store at
 * hand. */
typedef struct cli_content {
    const char *home;
    th_store *store; /* once opened */
    int open_rc;     /* 0 until an open failed */
    char open_msg[TH_ERROR_MSG_MAX];
} cli_content;
void cli_content_init(cli_content *c, const char *home);
void cli_content_release(cli_content *c);

/* Name of a wit-error-type (ABI.md), e.g. 5 -> "internal"; NULL when the
 * number is not one. */
const char *cli_error_type_name(long code);

/* The human form of one event: one line, ending in '\n', plus indented
 * lines for a failure's backtrace.  `ids` (may be NULL) gives short ids;
 * `content` (may be NULL) the store of an event recorded by content
 * reference.  Returns a malloc'd string the caller frees, or NULL when out
 * of memory. */
char *cli_event_text(const cli_event *ev, const cli_ids *ids, cli_content *content, unsigned flags);

/* Bytes as the human form shows a value (a message, a state): text when
 * they are UTF-8 text (JSON objects and arrays bare on one line, other
 * text quoted with JSON's escapes), else hex; cut without CLI_EVENT_WIDE.
 * Never holds a newline.  Returns a malloc'd string, or NULL when out of
 * memory. */
char *cli_bytes_text(const uint8_t *bytes, size_t len, unsigned flags);

/* `o` gains a state as `theater state --json` gives it: "state" the JSON
 * value (null: none), or "state_hex" when the bytes are not JSON text.
 * 0, or -1 when out of memory. */
int cli_state_json_add(json_t *o, bool has, const uint8_t *bytes, size_t len);

/* The JSON form of one event (a new reference), or NULL when out of
 * memory. */
json_t *cli_event_json(const cli_event *ev);

/* The human form of an event given in the JSON form (what `--json` prints
 * and the daemon's API sends).  NULL with a message in `err` if `event` is
 * not such an object (TH_EINVAL) or memory ran out (TH_ENOMEM). */
char *cli_event_text_from_json(const json_t *event, const cli_ids *ids, cli_content *content,
                               unsigned flags, th_error *err);

#endif
