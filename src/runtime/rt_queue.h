/*
 * rt_queue.h - mailboxes and what travels through them: the lock-free MPSC
 * queue (mailbox.c), messages, reply targets and the rt_sync an outside
 * thread waits on (message.c).  Private to src/runtime/ (rt_int.h).
 */
#ifndef THEATER_RT_QUEUE_H
#define THEATER_RT_QUEUE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "theater/error.h"
#include "theater/runtime.h"
#include "runtime/rt_host.h"

typedef struct rt_sync rt_sync;

typedef struct rt_node {
    _Atomic(struct rt_node *) next;
} rt_node;

/* Vyukov's intrusive MPSC queue: any thread pushes, one thread pops. */
typedef struct rt_mpsc {
    _Atomic(rt_node *) head; /* producers swap themselves in here */
    rt_node *tail;           /* consumer side */
    rt_node stub;
    atomic_size_t count; /* pushed and not yet popped (after linking) */
} rt_mpsc;

void rt_mpsc_init(rt_mpsc *q);
void rt_mpsc_push(rt_mpsc *q, rt_node *n);
/* Pop the oldest node, or NULL if empty or if a push is half-done (then
 * `count` stays > 0 and the caller comes back later).  Consumer only. */
rt_node *rt_mpsc_pop(rt_mpsc *q);
/* Nodes pushed and not yet popped; any thread. */
size_t rt_mpsc_count(rt_mpsc *q);

/* Where the answer to a request (or the end of a wait) goes. */
struct rt_inbound;
typedef struct rt_reply {
    rt_actor *actor;       /* a waiting actor (reference held), or NULL */
    uint64_t token;        /* the actor's wait token */
    rt_sync *sync;         /* an outside thread (reference held), or NULL */
    struct rt_inbound *in; /* an inbound event's handler (owned: its `done`
                              is called on completion or drop), or NULL */
    uint64_t deadline_ns;  /* when the requester stops waiting (rt_now_ns's
                              clock; 0 = it waits as long as it lives): a
                              deferred request past it is no longer
                              outstanding */
} rt_reply;

/* A thread outside the runtime waiting for a result. */
struct rt_sync {
    atomic_int refs;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool done;
    int status;    /* TH_OK or a TH_E* code */
    uint8_t *data; /* result bytes (owned) */
    size_t len;
    bool has_data;
    char msg[TH_ERROR_MSG_MAX];
    char *backtrace;        /* of the failure (rt_reply_fail; malloc'd), or NULL */
    th_runtime_reply_fn fn; /* asynchronous caller (manage.c): told once, */
    void *fn_ud;            /* at completion or when the last reference goes */
};

rt_sync *rt_sync_new(void);
void rt_sync_release(rt_sync *s); /* drops one reference; NULL ok */
/* Wait until done or `timeout_ms` passes (0 = forever); returns true if done. */
bool rt_sync_wait(rt_sync *s, uint32_t timeout_ms, rt_runtime *rt);

/* Message kinds.  Mailbox (rt_actor.mbox): operations on the actor.
 * Control (rt_actor.ctl): lifecycle and completions, served first. */
enum {
    RT_MSG_SEND = 1,    /* handle-send(data)                    a = sender */
    RT_MSG_REQUEST,     /* handle-request(b, data)               a = sender, b = request id */
    RT_MSG_CHAN_OPEN,   /* handle-channel-open(a, data)          a = opener, b = channel */
    RT_MSG_CHAN_MSG,    /* handle-channel-message(b, data)       b = channel */
    RT_MSG_CHAN_CLOSE,  /* handle-channel-close(b)               b = channel */
    RT_MSG_CHILD_ERROR, /* handle-child-error(a, err)            a = child, code, text */
    RT_MSG_CHILD_EXIT,  /* handle-child-exit(a, data?)           a = child */
    RT_MSG_CHILD_STOP,  /* handle-child-external-stop(a)         a = child */
    RT_MSG_INBOUND,     /* an inbound event: reply.in (rt_inbound_deliver) */
    /* control */
    RT_MSG_INIT,       /* run init (first op after spawn/restart) */
    RT_MSG_WAKE,       /* completion of a wait: token, status, data/text */
    RT_MSG_STOP,       /* stop: code = RT_STOP_*, reply = done */
    RT_MSG_CHILD_GONE, /* a child finished stopping (cascade ack) a = child */
    RT_MSG_RESTART,    /* restart now (from the supervisor) */
    RT_MSG_UPGRADE,    /* hot upgrade: data = rt_upgrade, reply = done (upgrade.c) */
};

/* Why an actor stops (RT_MSG_STOP code). */
enum {
    RT_STOP_EXTERNAL = 1, /* API / outside: parent gets handle-child-external-stop */
    RT_STOP_BY_PARENT,    /* stop-child, cascade, failed init: parent not notified */
    RT_STOP_RUNTIME,      /* runtime shutdown: nobody is notified */
    RT_STOP_EXIT,         /* runtime.shutdown(data): parent gets handle-child-exit */
};

struct rt_msg {
    rt_node node;
    uint16_t kind;
    int16_t code;   /* RT_STOP_*, wit-error-type, wake status... */
    bool has_data;  /* option<list<u8>> payloads: some/none */
    uint64_t token; /* RT_MSG_WAKE */
    rt_reply reply; /* REQUEST, CHAN_OPEN, STOP */
    char a[RT_ID_LEN + 1];
    char b[RT_ID_LEN + 1];
    char *text;            /* error text (owned) or NULL */
    struct rt_result *res; /* RT_MSG_WAKE of an RT_WAIT_RESULT (owned) or NULL */
    uint8_t *data;         /* payload, stored after the struct */
    size_t len;
    bool ack;     /* held back by a full mailbox: `reply` (the suspended
                     sender) is completed when it is admitted */
    bool durable; /* stored in durable_msg (durable.c): its id is `b` (SEND)
                     or the request id (REQUEST); the result records it */
};

/* Bytes a message counts for in a mailbox (header and payload). */
#define rt_msg_cost(m) (sizeof(rt_msg) + (m)->len)
/* Users size mailboxes by the header's size, which docs/manifest.md
 * (mailbox_bytes) and docs/api.md (413) give: change them with it
 * (test_mailbox_header_documented in tests/integration/runtime/test_bounds.c). */

/* New message with a copy of `len` bytes of `data` (may be NULL).  NULL on
 * allocation failure. */
rt_msg *rt_msg_new(int kind, const void *data, size_t len);
/* Free a message (its text, its reply references).  NULL ok. */
void rt_msg_free(rt_msg *m);
/* Complete a reply target: status TH_OK with data (has_data) or an error
 * code with text.  Consumes the references in `r` (sets them NULL). */
void rt_reply_complete(rt_runtime *rt, rt_reply *r, int status, bool has_data, const uint8_t *data,
                       size_t len, const char *text);
/* Complete it with an error code and text, as rt_reply_complete, and an
 * outside caller's callback also gets `backtrace` (the failing actor's
 * wasm backtrace; NULL or "" when it has none). */
void rt_reply_fail(rt_runtime *rt, rt_reply *r, int status, const char *text,
                   const char *backtrace);
/* Drop a reply without completing it. */
void rt_reply_drop(rt_reply *r);

#endif
