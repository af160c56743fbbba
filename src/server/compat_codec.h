/*
 * compat_codec.h - the wire format of the original Theater system's TCP
 * management protocol (its crates/theater-server), shared by the listener
 * (compat.c), its tests and the fuzz harness.
 *
 * Framing.  A frame is a u32 big-endian length followed by that many bytes
 * (tokio's LengthDelimitedCodec; at most TH_COMPAT_MAX_FRAME_BYTES).
 * Clients of the original speak one of two layers on top:
 *   - plain: the frame is the serde_json text of one message;
 *   - fragmenting (FragmentingCodec): the frame is {"Complete":[bytes]}
 *     with the message's JSON bytes as an array of numbers, or
 *     {"Fragment":{"message_id":u64,"fragment_index":u32,
 *     "total_fragments":u32,"data":"<base64 of a chunk>"}}, the chunks of
 *     one message to be joined in index order.
 * The decoder tells which one a frame uses; the listener answers each
 * client in the layer it spoke.
 *
 * Messages are serde_json encodings of the original's enums: externally
 * tagged (a unit variant is "Name", any other {"Name": payload}), struct
 * fields in declaration order, Vec<u8> as an array of numbers, Option as
 * null or the value, ids (UUIDs) as lowercase hyphenated strings, compact
 * (no whitespace).  The encoders here write exactly those bytes.
 */
#ifndef THEATER_SERVER_COMPAT_CODEC_H
#define THEATER_SERVER_COMPAT_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "theater/error.h"
#include "theater/runtime.h"

/* ------------------------------------------------------------------ */
/* Frames                                                             */

/* The next frame in buf[0..len): 1 with the payload span and the bytes
 * consumed, 0 if more bytes are needed, TH_ETOOBIG if the announced length
 * is over the limit (the connection cannot continue). */
int srv_compat_frame_next(const uint8_t *buf, size_t len, const uint8_t **payload /* out */,
                          size_t *plen /* out */, size_t *consumed /* out */, th_error *err);

/* The fragmenting layer's reassembly state of one client. */
typedef struct srv_compat_partial srv_compat_partial;
typedef struct srv_compat_defrag {
    srv_compat_partial *head; /* messages with fragments missing */
    unsigned count;
} srv_compat_defrag;
void srv_compat_defrag_release(srv_compat_defrag *d);

/* Layer of a frame. */
enum { SRV_COMPAT_PLAIN = 0, SRV_COMPAT_FRAGMENTING = 1 };

/* Unwrap one frame payload into a message: 1 with the message bytes in
 * *msg (malloc'd, caller frees) and the layer in *layer, 0 if it was a
 * fragment of a message still incomplete, or an error (TH_EINVAL: a
 * malformed Complete/Fragment frame; TH_ETOOBIG: over a limit) after
 * which the original closes the connection.  A plain frame is returned
 * as it is (its JSON is checked by srv_compat_parse). */
int srv_compat_unwrap(srv_compat_defrag *d, const uint8_t *frame, size_t n, uint8_t **msg /* out */,
                      size_t *msg_len /* out */, int *layer /* out */, th_error *err);

/* Wrap a message for the fragmenting layer: appended to *out as complete
 * frames (length prefix included); chunks of 12 MiB as the original.
 * `next_id` numbers fragmented messages.  0 or TH_ENOMEM. */
typedef struct srv_jbuf {
    uint8_t *data;
    size_t len, cap;
    bool oom;
} srv_jbuf;
int srv_compat_wrap(srv_jbuf *out, const uint8_t *msg, size_t len, int layer, uint64_t *next_id);

/* ------------------------------------------------------------------ */
/* Commands (ManagementCommand)                                       */

enum {
    SRV_C_START_ACTOR = 1,
    SRV_C_STOP_ACTOR,
    SRV_C_TERMINATE_ACTOR,
    SRV_C_LIST_ACTORS,
    SRV_C_SUBSCRIBE,
    SRV_C_UNSUBSCRIBE,
    SRV_C_SEND,
    SRV_C_REQUEST,
    SRV_C_GET_MANIFEST,
    SRV_C_GET_STATUS,
    SRV_C_RESTART,
    SRV_C_GET_STATE,
    SRV_C_GET_EVENTS,
    SRV_C_GET_METRICS,
    SRV_C_UPDATE_COMPONENT,
    SRV_C_UPDATE_PACKAGE,
    SRV_C_OPEN_CHANNEL,
    SRV_C_SEND_ON_CHANNEL,
    SRV_C_CLOSE_CHANNEL,
    SRV_C_NEW_STORE,
};

typedef struct srv_compat_cmd {
    int kind;                  /* SRV_C_* */
    char id[TH_ACTOR_ID_SIZE]; /* actor id, lowercase hyphenated */
    char sub_id[TH_ACTOR_ID_SIZE];
    char *text;    /* manifest, component, package or channel id (malloc'd) */
    bool has_data; /* initial_state (Option), or always for byte fields */
    uint8_t *data; /* data, initial_message, message (malloc'd) */
    size_t len;
    bool parent, subscribe; /* StartActor */
    bool to_external;       /* OpenChannel { actor_id: External } */
} srv_compat_cmd;

/* Parse one message as a ManagementCommand, with serde's rules (unknown
 * fields ignored, duplicate fields and unknown variants refused, a struct
 * as an object or an array of its fields in order).  0, or TH_EINVAL with
 * a message in the style of serde_json's. */
int srv_compat_parse(const uint8_t *msg, size_t len, srv_compat_cmd *cmd /* out */, th_error *err);
void srv_compat_cmd_release(srv_compat_cmd *cmd);

/* ------------------------------------------------------------------ */
/* Responses (ManagementResponse): appended to a buffer                */

void srv_jbuf_puts(srv_jbuf *b, const char *s);
void srv_jbuf_add(srv_jbuf *b, const void *p, size_t n);
void srv_jbuf_str(srv_jbuf *b, const char *s, size_t n); /* a JSON string, serde_json's escapes */
void srv_jbuf_bytes(srv_jbuf *b, const uint8_t *p, size_t n); /* [1,2,3] */
void srv_jbuf_u64(srv_jbuf *b, uint64_t v);
void srv_jbuf_release(srv_jbuf *b);

/* ManagementError variants. */
enum {
    SRV_E_ACTOR_NOT_FOUND = 1, /* unit variants */
    SRV_E_ACTOR_ALREADY_EXISTS,
    SRV_E_ACTOR_NOT_RUNNING,
    SRV_E_CHANNEL_NOT_FOUND,
    SRV_E_CHANNEL_CLOSED,
    SRV_E_CHANNEL_REJECTED,
    SRV_E_TIMEOUT,
    SRV_E_ACTOR_ERROR, /* (String) variants */
    SRV_E_STORE_ERROR,
    SRV_E_COMMUNICATION_ERROR,
    SRV_E_INVALID_REQUEST,
    SRV_E_RUNTIME_ERROR,
    SRV_E_INTERNAL_ERROR,
    SRV_E_SERIALIZATION_ERROR,
};
/* {"Error":{"error":...}} */
void srv_compat_error(srv_jbuf *b, int kind, const char *msg);
/* {"<variant>":{"id":"<id>"}}: ActorStarted, ActorStopped, Unsubscribed,
 * SentMessage, Restarted, ActorComponentUpdated. */
void srv_compat_id_only(srv_jbuf *b, const char *variant, const char *id);
/* {"<variant>":{"channel_id":"<ch>"}}: MessageSent, ChannelClosed. */
void srv_compat_channel_only(srv_jbuf *b, const char *variant, const char *channel);
void srv_compat_subscribed(srv_jbuf *b, const char *id, const char *sub_id);
void srv_compat_requested(srv_jbuf *b, const char *id, const uint8_t *msg, size_t len);
void srv_compat_status(srv_jbuf *b, const char *id, th_actor_status st);
void srv_compat_state(srv_jbuf *b, const char *id, bool has, const uint8_t *p, size_t n);
void srv_compat_channel_opened(srv_jbuf *b, const char *channel, const char *actor_id);
void srv_compat_channel_message(srv_jbuf *b, const char *channel, const char *sender,
                                const uint8_t *msg, size_t len);
void srv_compat_store_created(srv_jbuf *b, const char *store_id);
/* One ChainEvent object (no wrapper). */
void srv_compat_chain_event(srv_jbuf *b, const th_runtime_event *ev);
/* {"ActorEvent":{"event":...}} */
void srv_compat_actor_event(srv_jbuf *b, const th_runtime_event *ev);

/* Channel ids on the wire: the original's "ch_" prefix and 32 hex digits
 * (our UUID without its hyphens).  srv_compat_channel_from_wire gives back
 * the runtime's id, false if `wire` is not of that form. */
void srv_compat_channel_to_wire(const char *id, char wire[36] /* out */);
bool srv_compat_channel_from_wire(const char *wire, char id[TH_ACTOR_ID_SIZE] /* out */);

#endif
