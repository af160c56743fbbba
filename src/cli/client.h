/*
 * client.h - the live commands' client of the management API (client.c):
 * HTTP over $THEATER_HOME/theater.sock with libcurl.
 */
#ifndef THEATER_CLI_CLIENT_H
#define THEATER_CLI_CLIENT_H

#include <curl/curl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "cli/cli.h"

/* Exit codes of the live commands (documented in each --help). */
enum {
    CLI_EXIT_OK = 0,
    CLI_EXIT_ERROR = 1, /* the daemon refused or failed the request */
    CLI_EXIT_USAGE = 2,
    CLI_EXIT_NO_DAEMON = 3, /* no daemon on this home (or it went away) */
};

typedef struct cli_api {
    bool home_given; /* --home (not $THEATER_HOME or the default): named in hints */
    char home[4096];
    char sock[4200];
    CURL *curl;
} cli_api;

typedef struct cli_resp {
    char *body; /* NUL-terminated (malloc'd) */
    size_t len;
    long status;
} cli_resp;

/* Resolve the home (--home, else $THEATER_HOME, else ~/.theater) and check
 * that a daemon's socket is there, waiting for a daemon that is starting
 * (it holds the home's lock, or the socket appears within half a second).
 * 0, or an exit code after a message. */
int cli_api_open(const char *home, cli_api *api /* out */);
void cli_api_close(cli_api *api);

/* One request.  0 with *out filled (any HTTP status), or an exit code
 * after a message (cannot connect...). */
int cli_api_call(cli_api *api, const char *method, const char *path, const void *body, size_t len,
                 const char *ctype, cli_resp *out /* out */);
void cli_resp_free(cli_resp *r);
/* Print the error of a failed response (and the frames of its "backtrace",
 * if any, one line each under it); returns the exit code. */
int cli_api_fail(const cli_resp *r);
/* A JSON request (body stolen, may be NULL) expecting HTTP `want` and a
 * JSON answer: the parsed answer, or NULL with *exit_code set after a
 * message. */
json_t *cli_api_json(cli_api *api, const char *method, const char *path, json_t *body, long want,
                     int *exit_code /* out */);

/* An SSE stream: fn(ud, event, data) per event (non-zero stops).  After a
 * dropped connection or an overflow it reconnects with Last-Event-ID, so no
 * event is lost or repeated. */
typedef struct cli_sse {
    int (*fn)(void *ud, const char *event, const char *data);
    void *ud;
    char last_id[64];
    int have_id;
    int overflowed;
} cli_sse;
/* Returns 0 when the daemon ended the stream or fn stopped it, else an
 * exit code after a message. */
int cli_api_stream(cli_api *api, const char *path, cli_sse *sse);

#endif
