/*
 * server_int.h - internal structures of the management server (src/server/).
 *
 * Who does what:
 *   server.c   the server object: home lock, runtime, listeners (unix socket,
 *              TCP), the job threads, the reaper thread (timeouts, slow
 *              clients, keep-alives), shutdown, logging
 *   http.c     libmicrohttpd glue: request objects, bodies and limits, bearer
 *              tokens, routing, responses and error bodies, suspension
 *   api.c      the endpoints of API.md (one function each)
 *   stream.c   Server-Sent Events: event streams (stored then live) and the
 *              channels opened from outside with their message streams
 *
 * Threads.  libmicrohttpd runs one polling thread per listener; every
 * handler runs there and never blocks: a `requests` call is answered
 * through th_runtime_request_async, spawn and stop go to the job threads,
 * and both suspend the connection (MHD_suspend_connection) until the
 * answer is ready (srv_req_done resumes it).  Event streams are filled by
 * the runtime's event callback (the recorder thread) and drained by the
 * polling thread; a stream with nothing to send suspends its connection.
 *
 * References.  A request (srv_req) is referenced by its connection (dropped
 * when libmicrohttpd reports it completed) and by each pending completion
 * (a runtime callback, the job queue, the reaper's timeout list).  Only the
 * first completion writes the response (state REQ_WAITING -> REQ_READY).
 */
#ifndef THEATER_SERVER_INT_H
#define THEATER_SERVER_INT_H

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/limits.h"
#include "theater/chain.h"
#include "theater/runtime.h"
#include "theater/server.h"

#define SRV_ID_LEN 36

typedef struct srv_req srv_req;
typedef struct srv_stream srv_stream;
typedef struct srv_chan srv_chan;
typedef struct srv_conn srv_conn;

/* A growable byte buffer. */
typedef struct srv_buf {
    char *data;
    size_t len, cap;
    bool oom;
} srv_buf;
void srv_buf_add(srv_buf *b, const void *p, size_t n);
void srv_buf_addf(srv_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void srv_buf_release(srv_buf *b);
/* Drop the first n bytes. */
void srv_buf_consume(srv_buf *b, size_t n);

/* One listener: the unix socket or the TCP address. */
typedef struct srv_listener {
    th_server *srv;
    struct MHD_Daemon *d;
    int fd;
    bool tcp;
} srv_listener;

enum { REQ_NEW = 0, REQ_WAITING, REQ_READY, REQ_SENT };

typedef void (*srv_job_fn)(srv_req *req);

struct srv_req {
    th_server *srv;
    struct MHD_Connection *conn;
    srv_conn *track; /* the connection's tracker (slow clients) */
    atomic_int refs;
    pthread_mutex_t lock; /* state and the prepared response */
    int state;            /* REQ_* */
    bool tcp;
    bool queued;    /* a response went to libmicrohttpd */
    bool suspended; /* srv_req_wait was called */
    bool close;     /* answer with Connection: close (a malformed request) */
    char method[8];
    char *path;
    srv_buf body;
    bool too_big;
    /* the prepared response */
    unsigned status;
    const char *ctype;
    char *resp;
    size_t resp_len;
    struct MHD_Response *response; /* a prepared stream response, or NULL */
    char allow[64];                /* Allow header of a 405 */
    /* what a job or a completion needs */
    char id[SRV_ID_LEN + 1]; /* resolved actor id */
    json_t *args;            /* parsed body */
    srv_job_fn job;
    srv_req *next;        /* job queue / timeout list */
    uint64_t deadline_ns; /* REQ_WAITING: 504 after it (0 = none) */
    bool force;
    srv_chan *chan; /* a channel being opened */
};

/* Tracker of one connection, for the slow-client deadline: from the
 * connection's start (or the end of its last request) the next request must
 * have arrived whole within client_timeout_s. */
struct srv_conn {
    srv_conn *next, *prev;
    int fd;
    uint64_t since_ns;
    bool handling; /* a request is being handled or answered */
};

/* Names of stopped actors kept for the log line of a restart after it. */
#define SRV_STOPPED_NAMES 4096

struct th_server {
    char *home;
    char sock_path[4200];
    int lock_fd;
    int log_level;
    unsigned client_timeout_s;
    size_t stream_buffer;
    bool rec_stalled;      /* the reaper logged a recording stall (and not its end) */
    uint64_t rec_check_ns; /* when the reaper looks at the recording next */
    bool rec_watch_off;    /* (lock) the runtime shuts down: the reaper stops looking */
    th_runtime *rt;
    srv_listener unix_l, tcp_l;
    bool has_tcp;
    char token[65]; /* hex bearer token for TCP ("" if none) */
    uint64_t started_ns;
    uint64_t started_ms;
    int stop_pipe[2];
    atomic_bool closing; /* shutting down: new requests get 503 */
    void (*on_closing)(void *ud);
    void *on_closing_ud;

    pthread_mutex_t lock; /* jobs, timeouts, connections, streams list */
    pthread_cond_t cond;  /* job threads and the reaper wait here */
    srv_req *jobs_head, *jobs_tail;
    unsigned jobs_busy;
    pthread_t job_threads[TH_SERVER_JOB_THREADS];
    unsigned njob_threads;
    srv_req *waiting; /* requests with a deadline */
    srv_conn *conns;
    pthread_t reaper;
    bool reaper_started;
    bool threads_stop;

    pthread_mutex_t streams_lock; /* streams and channels */
    srv_stream *streams;
    atomic_int nstreams;
    atomic_bool chain_gone; /* shutdown: streams read no more stored events */
    atomic_int chain_reads; /* stored-event reads under way */
    srv_chan *chans;
    unsigned nchans;
    pthread_cond_t chan_cond; /* a channel's id is known (streams_lock) */
    uint64_t ended_check_ns;  /* last look for streams of ended actors (reaper) */

    pthread_mutex_t names_lock; /* actor names for log lines */
    json_t *names;              /* id -> name */
    json_t *stopped_names;      /* id -> name of actors stopped lately (a
                                   permanent child stopped by its own exit
                                   is restarted; at most SRV_STOPPED_NAMES) */
};

/* server.c */
void srv_log(th_server *s, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* srv_log, then the frames of a trap's backtrace (a JSON array of strings,
 * may be NULL) as lines "    at #N name", in one write. */
void srv_log_backtrace(th_server *s, int level, const json_t *bt, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Queue `req` for a job thread (takes a reference; the request is waiting). */
void srv_job_submit(th_server *s, srv_req *req, srv_job_fn fn);
/* Put a waiting request on the timeout list (takes a reference). */
void srv_timeout_add(th_server *s, srv_req *req, uint32_t timeout_ms);
/* Ask the server to stop (from a handler). */
void srv_request_stop(th_server *s);

/* http.c */
int srv_listen(th_server *s, srv_listener *l, int fd, bool tcp, th_error *err);
void srv_req_ref(srv_req *r);
void srv_req_release(srv_req *r);
/* Prepare a response (the handler's answer, or a completion's). */
void srv_reply(srv_req *r, unsigned status, const char *ctype, char *body, size_t len);
void srv_reply_json(srv_req *r, unsigned status, json_t *obj); /* steals obj */
void srv_reply_error(srv_req *r, unsigned status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The HTTP status and error code for a TH_E* code. */
unsigned srv_status_of(int code, const char **ecode);
/* The same for a message an actor's mailbox did not take (a send, a
 * request, a channel's open or message), after "no such actor/channel":
 * 413 too-large, 503 busy, 503 shutting-down, 503 storage-error (a durable
 * message that could not be stored), else 503 out-of-memory. */
unsigned srv_status_of_delivery(int code, const char **ecode);
/* Complete a waiting request with that answer for `code`, `msg` its text. */
bool srv_req_done_undelivered(srv_req *r, int code, const char *msg);
/* Suspend the connection: the answer comes later through srv_req_done. */
void srv_req_wait(srv_req *r);
/* Complete a waiting request with the response prepared by `fill` under the
 * request's lock (only the first completion counts): returns true if this
 * call completed it. */
bool srv_req_done(srv_req *r, unsigned status, const char *ctype, char *body, size_t len);
bool srv_req_done_error(srv_req *r, unsigned status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* srv_req_done_error for an actor's failure: the error object also gets
 * "backtrace", the lines of `backtrace` (the wasm backtrace of a trap, one
 * frame per line; NULL or "" for none: then no such field). */
bool srv_req_done_failure(srv_req *r, unsigned status, const char *code, const char *backtrace,
                          const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* srv_req_done_failure for a trap that no actor's "failed" log line tells
 * of (a start function's, while a spawn instantiates the actor): the log
 * line of the failed request has the frames under it. */
bool srv_req_done_trap(srv_req *r, unsigned status, const char *code, const char *backtrace,
                       const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* A query argument or NULL. */
const char *srv_arg(srv_req *r, const char *name);
const char *srv_header(srv_req *r, const char *name);
/* Parse the body as a JSON object whose keys are all in `allowed`
 * (NULL-terminated); on failure a 400 is prepared and NULL returned.  An
 * empty body is {}. */
json_t *srv_body_object(srv_req *r, const char *const *allowed);
/* Parse an unsigned query argument (absent: *out unchanged).  false with a
 * 400 prepared when malformed or above max.  With max 1 (a flag) "true"
 * and "false" are 1 and 0 too. */
bool srv_arg_u64(srv_req *r, const char *name, uint64_t max, uint64_t *out);

/* api.c */
void srv_route(srv_req *r);
/* Resolve an actor id or unique prefix among live actors (and, with
 * `chains`, actors that have a chain).  false with a 404/400 prepared. */
bool srv_resolve_actor(srv_req *r, const char *ref, bool chains, char out[SRV_ID_LEN + 1]);

/* Whether `id` is a live actor whose chain is kept in memory only
 * (`save_chain = false`). */
bool srv_chain_in_memory(th_server *s, const char *id);
/* Read an actor's events (q->actor) as th_chain_read does, from the home's
 * chains or (`memory`) from the runtime's in-memory chain of the actor. */
int srv_read_events(th_server *s, bool memory, const th_chain_query *q, th_chain_events *out,
                    th_error *err);

/* stream.c */
/* The runtime's event callback (every event of every actor). */
void srv_stream_on_event(void *ud, const th_runtime_event *ev);
/* GET /v1/actors/ID/events as a stream (actor NULL: every actor). */
void srv_stream_events(srv_req *r, const char *actor, const char *type, uint64_t after,
                       bool backlog);
/* Channels opened from outside. */
/* Open a channel to `actor`; 504 when it has not answered within timeout_ms
 * (a channel it accepts later is closed at once). */
void srv_chan_open(srv_req *r, const char *actor, const uint8_t *msg, size_t len,
                   uint64_t timeout_ms);
void srv_chan_send(srv_req *r, const char *chan);
void srv_chan_stream(srv_req *r, const char *chan);
void srv_chan_close(srv_req *r, const char *chan);
/* Shutdown: end every stream and close every channel. */
void srv_streams_close_all(th_server *s);
/* Shutdown, once the actors have stopped (their last events are on the
 * streams): every stream ends after what it holds (a stream still sending
 * stored events, after them and its pending live ones); a channel not yet
 * closed gets its `closed` event with a reason.  Then waits, at most
 * `wait_ms`, until every stream has been sent; then no stream reads the
 * chain any more (it is about to close).  Returns how many streams were
 * still open. */
int srv_streams_finish(th_server *s, unsigned wait_ms);
/* Reaper: keep-alive comments on idle streams; the end of the streams of
 * actors that have ended. */
void srv_streams_tick(th_server *s, uint64_t now_ns);
/* JSON of one chain event (its data embedded as JSON, else "data_hex"), as
 * in `theater chain events --json`; parent and description (an event
 * recorded by content reference has "content-ref") may be NULL.  Returns a
 * new object or NULL. */
json_t *srv_event_json(const char *actor, uint64_t seq, const char *type, uint64_t ts,
                       const uint8_t *hash, const uint8_t *parent, const uint8_t *data, size_t len,
                       const char *description);

#endif
