/*
 * cmd_run.c - `theater run`: run an actor system in this process.
 *
 *   theater run MANIFEST [--initial-state JSON|@FILE] [--events] [--home DIR]
 *                        [--workers N] [--json]
 *
 * Spawns the root actor from MANIFEST and runs until it shuts down, fails,
 * or Ctrl-C; prints the actors' log lines (and every chain event with
 * --events) on stdout; shuts the runtime down, which stops every actor and
 * flushes every chain into THEATER_HOME.
 *
 * With --json every line on stdout is one JSON object with a "kind":
 *   {"kind":"started","actor":ID}
 *   {"kind":"log","actor":ID,"name":NAME,"message":TEXT}   (no actor: the
 *       runtime's own line; "message_hex" when the text is not UTF-8)
 *   {"kind":"event",...}   the form of `theater chain events --json`
 *       (without "seq" for an event that could not be recorded)
 *   {"kind":"exit","actor":ID,"reason":"shutdown"|"failed"|"stopped"|
 *       "interrupted"[,"data"|"data_hex"][,"message"]}
 *
 * Exit status: 0 when the root actor shut down normally, 1 if it failed or
 * could not be spawned, 2 for a usage error, 130 after Ctrl-C.
 */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/hex.h"
#include "base/limits.h"
#include "cli/cli.h"
#include "cli/event_text.h"
#include "theater/handlers.h"
#include "theater/runtime.h"
#include "theater/server.h"

static const char run_help[] =
    "usage: theater run MANIFEST [OPTIONS]\n"
    "\n"
    "Run the actor described by MANIFEST (a TOML file) and the actors it\n"
    "spawns, in this process, until it shuts down or Ctrl-C.\n"
    "\n"
    "options:\n"
    "  --initial-state JSON   initial state of the root actor (overrides the\n"
    "                         manifest's init_state); @FILE reads it from FILE\n"
    "  --events               print every chain event of every actor\n"
    "  --home DIR             THEATER_HOME (default $THEATER_HOME, else ~/.theater)\n"
    "  --workers N            worker threads (default: one per core)\n"
    "  --json                 JSON Lines on stdout: one object per line, whose\n"
    "                         \"kind\" is started, log, event (the form of\n"
    "                         `theater chain events --json`) or exit\n"
    "  -h, --help             show this help\n"
    "\n"
    "Options with a value may also be written --NAME=VALUE.\n"
    "\n"
    "exit status: 0 when the root actor shut down, 1 if it failed or could not\n"
    "start, 2 for a usage error, 130 after Ctrl-C.\n";

static th_runtime *volatile g_rt;
static volatile sig_atomic_t g_interrupted;
static bool g_json; /* --json: every line on stdout is a JSON object */

static void on_sigint(int sig)
{
    (void)sig;
    g_interrupted = 1;
    if (g_rt != NULL)
        th_runtime_interrupt(g_rt);
}

/* Print `o` (a new reference, or NULL when out of memory) as one line of
 * JSON Lines, in one write (callbacks come from several threads). */
static void print_line(json_t *o)
{
    char *s = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;

    if (s != NULL)
        printf("%s\n", s);
    else
        cli_errorf("run: out of memory");
    free(s);
    json_decref(o);
    fflush(stdout);
}

/* o[key] = the bytes as a JSON string when they are UTF-8, else
 * o[key + "_hex"] = their hex.  0, or -1 when out of memory. */
static int set_bytes(json_t *o, const char *key, const void *bytes, size_t len)
{
    json_t *v = json_stringn(bytes, len);
    char name[32], *hex;

    if (v != NULL)
        return json_object_set_new(o, key, v);
    if ((hex = malloc(len * 2 + 1)) == NULL)
        return -1;
    base_hex_encode(bytes, len, hex);
    snprintf(name, sizeof name, "%s_hex", key);
    v = json_string(hex);
    free(hex);
    return json_object_set_new(o, name, v);
}

static void on_log(void *ud, const char *id, const char *name, const char *msg, size_t len)
{
    json_t *o;

    (void)ud;
    if (!g_json) {
        printf("[%s %.8s] %.*s\n", name ? name : "runtime", id ? id : "-", (int)len, msg);
        fflush(stdout);
        return;
    }
    o = json_pack("{s:s, s:s?}", "kind", "log", "actor", id);
    if (o != NULL && (json_object_set_new(o, "name", json_string(name ? name : "runtime")) != 0 ||
                      set_bytes(o, "message", msg, len) != 0)) {
        json_decref(o);
        o = NULL;
    }
    print_line(o);
}

/* Each event in words (event_text.h), after "event " and the actor's
 * short id, without its sequence number; with --json, the JSON form with
 * its sequence number and parent hash. */
static void on_event(void *ud, const th_runtime_event *ev)
{
    cli_event e = {ev->actor_id, 0,    ev->type, ev->timestamp_ms, ev->data, ev->data_len,
                   ev->hash,     NULL, NULL};
    char *s;
    json_t *o;

    (void)ud;
    if (g_json) {
        json_t *ej;
        e.seq = ev->seq;
        e.parent = ev->parent_hash;
        ej = cli_event_json(&e);
        o = json_pack("{s:s}", "kind", "event");
        if (ej == NULL || o == NULL || json_object_update(o, ej) != 0 ||
            (ev->seq == UINT64_MAX && json_object_del(o, "seq") != 0)) {
            json_decref(o);
            o = NULL;
        }
        json_decref(ej);
        print_line(o);
        return;
    }
    /* (an event as it happens has its data inline, never by reference) */
    s = cli_event_text(&e, NULL, NULL, CLI_EVENT_ACTOR | CLI_EVENT_NO_SEQ);
    if (s != NULL)
        printf("event %s", s);
    free(s);
    fflush(stdout);
}

/* The command line of `theater run`. */
typedef struct run_args {
    const char *manifest, *state_arg, *home;
    bool events, json;
    unsigned workers;
} run_args;

/* Parse argv into *a: 0, or the exit status (0 after --help, 2 for a bad
 * command line) with *done set. */
static int parse_run_args(int argc, char **argv, run_args *a, bool *done)
{
    static const char *const vals[] = {"--initial-state", "--home", "--workers", NULL};
    const char *v;
    char *end;
    unsigned long n;
    int i, k;

    memset(a, 0, sizeof *a);
    *done = true;
    for (i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            fputs(run_help, stdout);
            return 0;
        } else if (strcmp(argv[i], "--events") == 0) {
            a->events = true;
        } else if (strcmp(argv[i], "--json") == 0) {
            a->json = true;
        } else if ((k = cli_opt_value(argc, argv, &i, "run", vals, &v)) == 0) {
            a->state_arg = v;
        } else if (k == 1) {
            a->home = v;
        } else if (k == 2) {
            n = strtoul(v, &end, 10);
            if (*v < '0' || *v > '9' || *end || n == 0 || n > 1024) {
                cli_errorf("run: bad --workers %s", v);
                return 2;
            }
            a->workers = (unsigned)n;
        } else if (k == CLI_OPT_NO_VALUE) {
            return 2;
        } else if (argv[i][0] == '-' && argv[i][1] != 0) {
            cli_errorf("run: unknown option %s (see `theater run --help`)", argv[i]);
            return 2;
        } else if (a->manifest == NULL) {
            a->manifest = argv[i];
        } else {
            cli_errorf("run: more than one MANIFEST");
            return 2;
        }
    }
    if (a->manifest == NULL) {
        cli_errorf("run: missing MANIFEST (see `theater run --help`)");
        return 2;
    }
    *done = false;
    return 0;
}

/* The bytes of --initial-state (TEXT, or @FILE); false with a message. */
static bool read_state(const char *arg, unsigned char **state, size_t *len)
{
    *state = NULL;
    *len = 0;
    if (arg == NULL)
        return true;
    if (arg[0] == '@') {
        *state = cli_read_file_max(arg + 1, "initial state", TH_RT_MAX_INIT_STATE_BYTES, len);
        return *state != NULL;
    }
    if ((*state = (unsigned char *)strdup(arg)) == NULL) {
        cli_errorf("run: out of memory");
        return false;
    }
    *len = strlen(arg);
    return true;
}

/* A running daemon owns the home: say so (true). */
static bool home_owned(const char *home, const char *manifest)
{
    pid_t pid;
    th_error herr;

    if (th_server_home_owner(home, &pid, &herr) != 1)
        return false;
    cli_errorf("run: a theater server (pid %ld) owns this THEATER_HOME; run the actor in it with "
               "`theater start %s`, or stop the server first",
               (long)pid, manifest);
    return true;
}

/* The root actor's end as a JSON line (--json): `reason`, the data it
 * shut down with (or NULL), the failure's message (or NULL) and a trap's
 * frames ("backtrace", as the actor-failed event has them; or NULL). */
static void print_exit_json(const char *id, const char *reason, const th_actor_exit *ex,
                            const char *message, const char *backtrace)
{
    json_t *o = json_pack("{s:s, s:s, s:s}", "kind", "exit", "actor", id, "reason", reason), *bt;

    if (o != NULL &&
        ((ex != NULL && ex->has_data && set_bytes(o, "data", ex->data, ex->data_len) != 0) ||
         (message != NULL && set_bytes(o, "message", message, strlen(message)) != 0))) {
        json_decref(o);
        o = NULL;
    }
    if (o != NULL && (bt = cli_frames_json(backtrace)) != NULL)
        json_object_set_new(o, "backtrace", bt);
    print_line(o);
}

/* Wait for the root actor to end and say how it did; the exit status. */
static int wait_and_report(th_runtime *rt, const char *id)
{
    th_actor_exit ex;
    th_error err;
    int rc, status = 1;

    memset(&ex, 0, sizeof ex);
    rc = th_runtime_wait(rt, id, 0, &ex, &err);
    if (rc == TH_ECLOSED || g_interrupted) {
        if (g_json)
            print_exit_json(id, "interrupted", NULL, NULL, NULL);
        else
            printf("[runtime] interrupted; stopping every actor\n");
        status = 130;
    } else if (rc != 0) {
        cli_errorf("run: %s", err.msg);
    } else if (ex.reason == TH_EXIT_SHUTDOWN) {
        if (g_json)
            print_exit_json(id, "shutdown", &ex, NULL, NULL);
        else
            printf("[runtime] %s shut down%s%.*s\n", id, ex.has_data ? " with data: " : "",
                   ex.has_data ? (int)ex.data_len : 0, ex.has_data ? (const char *)ex.data : "");
        status = 0;
    } else if (ex.reason == TH_EXIT_FAILED) {
        if (g_json) {
            print_exit_json(id, "failed", NULL, ex.message, ex.backtrace);
        } else { /* (a trap: the frames under it) */
            printf("[runtime] %s failed: %s\n", id, ex.message);
            cli_print_frames(stdout, ex.backtrace);
        }
    } else {
        if (g_json)
            print_exit_json(id, "stopped", NULL, NULL, NULL);
        else
            printf("[runtime] %s was stopped\n", id);
        status = 0;
    }
    free(ex.data);
    free(ex.backtrace);
    return status;
}

int cli_cmd_run(int argc, char **argv)
{
    unsigned char *state = NULL;
    size_t state_len = 0;
    th_runtime_config cfg;
    th_runtime *rt;
    th_spawn_opts o;
    th_error err;
    char id[TH_ACTOR_ID_SIZE], *bt = NULL;
    int rc, status = 1;
    bool done;
    run_args a;

    if ((rc = parse_run_args(argc, argv, &a, &done)) != 0 || done)
        return rc;
    g_json = a.json;
    if (!read_state(a.state_arg, &state, &state_len))
        return 1;
    if (home_owned(a.home, a.manifest)) {
        free(state);
        return 1;
    }
    memset(&cfg, 0, sizeof cfg);
    cfg.home = a.home;
    cfg.workers = a.workers;
    cfg.handlers = th_handlers_builtin();
    cfg.log_fn = on_log;
    if (a.events)
        cfg.event_fn = on_event;
    if (th_runtime_new(&cfg, &rt, &err) != 0) {
        cli_errorf("run: %s", err.msg);
        free(state);
        return 1;
    }
    g_rt = rt;
    signal(SIGINT, on_sigint);
    signal(SIGTERM, on_sigint);

    memset(&o, 0, sizeof o);
    o.manifest_path = a.manifest;
    o.initial_state = state;
    o.initial_state_len = state_len;
    o.backtrace = &bt;
    if (th_runtime_spawn(rt, &o, id, &err) != 0) {
        cli_errorf("run: %s", err.msg);
        cli_print_frames(stderr, bt); /* (a trap in its init or start function) */
        free(bt);
    } else {
        if (g_json)
            print_line(json_pack("{s:s, s:s}", "kind", "started", "actor", id));
        else
            printf("[runtime] started %s\n", id);
        fflush(stdout);
        status = wait_and_report(rt, id);
    }
    if (th_runtime_shutdown(rt, &err) != 0) {
        cli_errorf("run: shutdown: %s", err.msg);
        if (status == 0)
            status = 1;
    }
    g_rt = NULL;
    th_runtime_free(rt);
    free(state);
    return status;
}
