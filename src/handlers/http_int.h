/*
 * http_int.h - what the two halves of the http-framework handler share:
 * http_framework.c (the host functions, run in the actor's turn) and
 * http_server.c (the servers, run on the runtime's I/O thread with libh2o
 * and wslay on its libuv loop).
 *
 * Ownership and threads.  Each actor that uses the handler has one
 * hf_actor (reference-counted: the actor's handler state, each server, each
 * request in flight).  Its `lock` guards the server list and each server's
 * routes, middleware and WebSocket paths: the actor's turn changes them, the
 * I/O thread reads them when a request arrives.  Everything under
 * hf_server.io (listener, h2o context, connections, requests) belongs to
 * the I/O thread alone; the actor's turn reaches it only by posting work
 * there (hf_io_post).
 */
#ifndef THEATER_HTTP_INT_H
#define THEATER_HTTP_INT_H

#include "handlers/handlers_int.h"
#include "runtime/manifest.h"
#include "wit_glue.h"

#include <uv.h>

typedef struct hf_actor hf_actor;
typedef struct hf_server hf_server;
typedef struct hf_io hf_io;

/* A registered handler name (register-handler). */
typedef struct hf_handler {
    struct hf_handler *next;
    uint64_t id;
    char *name;
} hf_handler;

/* A route or a middleware of a server. */
typedef struct hf_route {
    struct hf_route *next;
    uint64_t id;
    char *path;   /* pattern: literal segments, {name}, a final * or {*name} */
    char *method; /* upper case; "*" = any (routes only) */
    uint64_t handler;
} hf_route;

/* A WebSocket path of a server (enable-websocket). */
typedef struct hf_wspath {
    struct hf_wspath *next;
    char *path;
    bool has_connect, has_disconnect;
    uint64_t connect, message, disconnect;
} hf_wspath;

struct hf_server {
    atomic_int refs;
    hf_actor *owner; /* reference held */
    hf_server *next; /* owner's list (owner->lock) */
    uint64_t id;
    /* configuration, fixed at create-server */
    char host[64];
    uint16_t want_port; /* 0 = a free one from the grant */
    char *cert_path, *key_path;
    /* under owner->lock */
    bool running;
    uint16_t port;
    hf_route *routes, *mws;
    uint32_t nroutes, nmws;
    hf_wspath *ws;
    /* I/O thread only: the running instance (NULL when stopped) */
    hf_io *io;
    /* WebSocket connection ids given out so far (1, 2, ...; over every run
     * of the server): the I/O thread gives them out, the actor's turn tells
     * an id that never was a connection from one that has closed */
    _Atomic uint64_t next_conn;
};

struct hf_actor {
    atomic_int refs;
    pthread_mutex_t lock;
    rt_runtime *rt;
    char id[RT_ID_LEN + 1];
    /* the grant, copied at first use (the spec may go before the servers) */
    char host[64];
    hs_port_range *ports;
    size_t nports;
    uint64_t max_body;
    uint32_t max_connections, max_queued, timeout_ms;
    /* under lock */
    bool closed; /* the actor ended or restarted: nothing new starts */
    uint64_t next_id;
    hf_handler *handlers;
    hf_server *servers;
    uint32_t nservers, nroutes;
    /* I/O thread only */
    uint32_t queued; /* requests handed to the actor and not yet answered */
};

/* http_framework.c: references. */
void hf_actor_release(hf_actor *a);
void hf_server_release(hf_server *s);

/* http_server.c, any thread: bind the listening socket of `s` for
 * start-server (a port from the grant when s->want_port is 0).  0 with the
 * descriptor in *fd and the port in *port, or an error in err. */
int hf_bind(hf_actor *a, hf_server *s, int *fd, uint16_t *port, th_error *err);
/* Check the TLS files of a server config (loadable key pair), read at
 * `cert` and `key`; errors name them `cert_name` and `key_name` (as the
 * actor named them).  0 or err. */
int hf_tls_check(const char *cert, const char *key, const char *cert_name, const char *key_name,
                 th_error *err);
/* Post to the I/O thread: serve `s` on the bound descriptor `fd` (taken
 * over) / stop serving it (closing its connections) / send a WebSocket
 * message / close a WebSocket connection.  0, or TH_ENOMEM / TH_ECLOSED. */
int hf_io_start(hf_server *s, int fd);
int hf_io_stop(hf_server *s);
int hf_io_ws_send(hf_server *s, uint64_t conn, int opcode, const uint8_t *data, size_t len);
int hf_io_ws_close(hf_server *s, uint64_t conn);

/* One export call of http-handlers on the actor, built on the I/O thread
 * and carried out in the actor's turn (http_call.c); `done` then runs on
 * the I/O thread with the result.  The call owns its parameters and its
 * result (hf_call_free). */
enum {
    HF_CALL_REQUEST = 1,  /* handle-request(handler, req) -> resp */
    HF_CALL_MIDDLEWARE,   /* handle-middleware(handler, req) -> mw */
    HF_CALL_WS_CONNECT,   /* handle-websocket-connect(handler, conn, path, protocol) */
    HF_CALL_WS_MESSAGE,   /* handle-websocket-message(handler, conn, msg) -> replies */
    HF_CALL_WS_DISCONNECT /* handle-websocket-disconnect(handler, conn) */
};
typedef struct hf_call hf_call;
struct hf_call {
    rt_inbound in; /* first: the runtime's view of the call */
    rt_runtime *rt;
    int kind;
    uint64_t handler, conn;
    wit_http_types_http_request req; /* REQUEST, MIDDLEWARE */
    wit_str path;                    /* WS_CONNECT */
    wit_opt_str protocol;
    wit_websocket_types_websocket_message msg; /* WS_MESSAGE */
    /* the outcome: status 0 and the result, or an error (the actor failed,
     * has no such export, is gone or refused the call) with its text */
    int status;
    char error[256];
    wit_http_types_http_response resp;
    wit_http_types_middleware_result mw;
    wit_list_websocket_types_websocket_message replies;
    void (*done)(hf_call *c); /* on the I/O thread; frees c */
    void *ud;
};
void hf_call_free(hf_call *c); /* NULL ok */
/* Queue `c` (taken over) for the actor; `done` runs on the I/O thread when
 * it has been carried out or refused. */
void hf_call_post(hf_actor *a, hf_call *c);
/* The I/O thread quits (runtime shutdown): close what is still open
 * (http_server.c; the slot's quit function). */
void hf_io_quit(uv_loop_t *loop, void *ud);
/* Register a started instance with the loop's slot (http_server.c). */

/* The wslay opcode of a message an actor sends and its payload (text or
 * data); -1 for a type that cannot be sent (connect, other, a control
 * frame above 125 bytes). */
int hf_ws_message_opcode(const wit_websocket_types_websocket_message *m, const uint8_t **data,
                         size_t *len);

/* Route matching (http_server.c; pure): does `pattern` match `path` (the
 * URI without its query)?  Middleware patterns match as prefixes (by whole
 * segments). */
bool hf_path_match(const char *pattern, const char *path, size_t len, bool prefix);

#endif
