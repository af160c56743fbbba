/*
 * cmd_server.c - `theater server`: the management daemon in the
 * foreground (include/theater/server.h).
 *
 *   theater server [--listen HOST:PORT] [--foreground] [--log-level L]
 *                  [--home DIR] [--workers N] [--client-timeout S]
 *                  [--compat-listen HOST:PORT [--compat-allow-remote]]
 *
 * Exit status: 0 after a clean shutdown (SIGTERM, SIGINT or POST
 * /v1/shutdown), 1 if the server could not start or shut down cleanly
 * (another server on the home, a bad --listen), 2 for a usage error.
 */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "server/compat.h"
#include "theater/server.h"

static const char server_help[] =
    "usage: theater server [OPTIONS]\n"
    "\n"
    "Run the Theater daemon for THEATER_HOME: it owns the runtime, the store\n"
    "and the event chains, and serves the management API (docs/api.md) on\n"
    "HOME/theater.sock (mode 0600). The other live commands (start, list,\n"
    "message, events...) talk to it. One server per home; SIGTERM or SIGINT\n"
    "(Ctrl-C) stops every actor, children first, and exits.\n"
    "\n"
    "options:\n"
    "  --listen HOST:PORT     also serve on TCP; every request must carry\n"
    "                         Authorization: Bearer <HOME/token> (created on\n"
    "                         first use, mode 0600)\n"
    "  --foreground           stay in the foreground (the only mode: use your\n"
    "                         service manager or `&` to put it in the background)\n"
    "  --log-level L          error, warn, info (default) or debug; logs go to stderr\n"
    "  --client-timeout S     close connections idle for S seconds, or whose\n"
    "                         request takes longer than S seconds to arrive\n"
    "                         (default 30)\n"
    "  --stream-buffer BYTES  unsent bytes an event stream may hold for a slow\n"
    "                         client before it is cut off with `event: overflow`\n"
    "                         (default 1048576)\n"
    "  --compat-listen HOST:PORT\n"
    "                         also serve the original Theater system's TCP\n"
    "                         management protocol there, for its clients\n"
    "                         (docs/compat.md); port 0 picks a free port.\n"
    "                         It has no authentication: loopback only unless\n"
    "  --compat-allow-remote  is given too\n"
    "  --workers N            runtime worker threads (default: one per core)\n"
    "  --home DIR             THEATER_HOME (default $THEATER_HOME, else ~/.theater)\n"
    "  -h, --help             show this help\n"
    "\n"
    "exit status: 0 after a clean shutdown, 1 if the server could not start\n"
    "(e.g. another server runs on this home) or stop cleanly, 2 for a usage error.\n";

static th_server *volatile g_srv;

static void on_signal(int sig)
{
    (void)sig;
    if (g_srv != NULL)
        th_server_stop(g_srv);
}

static int parse_level(const char *s)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    int i;

    for (i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return -1;
}

static int parse_uint(const char *s, unsigned long max, unsigned *out)
{
    char *end;
    unsigned long n = strtoul(s, &end, 10);

    if (*s < '0' || *s > '9' || *end != 0 || n == 0 || n > max)
        return -1;
    *out = (unsigned)n;
    return 0;
}

int cli_cmd_server(int argc, char **argv)
{
    th_server_config cfg;
    th_server *srv;
    srv_compat *compat = NULL;
    const char *compat_addr = NULL;
    bool compat_remote = false;
    th_error err;
    struct sigaction sa;
    int i, rc;

    memset(&cfg, 0, sizeof cfg);
    cfg.log_level = TH_LOG_INFO;
    for (i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            fputs(server_help, stdout);
            return 0;
        } else if (strcmp(argv[i], "--foreground") == 0) {
            /* the default */
        } else if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc) {
            cfg.listen = argv[++i];
        } else if (strcmp(argv[i], "--compat-listen") == 0 && i + 1 < argc) {
            compat_addr = argv[++i];
        } else if (strcmp(argv[i], "--compat-allow-remote") == 0) {
            compat_remote = true;
        } else if (strcmp(argv[i], "--home") == 0 && i + 1 < argc) {
            cfg.home = argv[++i];
        } else if (strcmp(argv[i], "--log-level") == 0 && i + 1 < argc) {
            if ((cfg.log_level = parse_level(argv[++i])) < 0) {
                cli_errorf("server: bad --log-level %s (error, warn, info or debug)", argv[i]);
                return 2;
            }
        } else if (strcmp(argv[i], "--workers") == 0 && i + 1 < argc) {
            if (parse_uint(argv[++i], 1024, &cfg.workers) != 0) {
                cli_errorf("server: bad --workers %s", argv[i]);
                return 2;
            }
        } else if (strcmp(argv[i], "--stream-buffer") == 0 && i + 1 < argc) {
            unsigned n;
            if (parse_uint(argv[++i], 1u << 30, &n) != 0 || n < 1024) {
                cli_errorf("server: bad --stream-buffer %s (1024 or more)", argv[i]);
                return 2;
            }
            cfg.stream_buffer = n;
        } else if (strcmp(argv[i], "--client-timeout") == 0 && i + 1 < argc) {
            if (parse_uint(argv[++i], 86400, &cfg.client_timeout_s) != 0) {
                cli_errorf("server: bad --client-timeout %s", argv[i]);
                return 2;
            }
        } else {
            cli_errorf("server: unknown option %s (see `theater server --help`)", argv[i]);
            return 2;
        }
    }
    if (cfg.home == NULL)
        cfg.home = getenv("THEATER_HOME");
    signal(SIGPIPE, SIG_IGN);
    if (th_server_new(&cfg, &srv, &err) != 0) {
        cli_errorf("server: %s", err.msg);
        return 1;
    }
    if (compat_addr != NULL) {
        if (srv_compat_start(th_server_runtime(srv), compat_addr, compat_remote, &compat, &err) !=
            0) {
            cli_errorf("server: --compat-listen %s: %s", compat_addr, err.msg);
            th_server_free(srv);
            return 1;
        }
        fprintf(stderr, "theater: compat listener on %s (port %u)\n", compat_addr,
                (unsigned)srv_compat_port(compat));
    }
    g_srv = srv;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    rc = th_server_run(srv, &err);
    if (rc != 0)
        cli_errorf("server: %s", err.msg);
    srv_compat_stop(compat); /* the actors are stopped: no client waits long */
    g_srv = NULL;
    th_server_free(srv);
    return rc == 0 ? 0 : 1;
}
