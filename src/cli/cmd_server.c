/*
 * cmd_server.c - `theater server`: the management daemon in the
 * foreground (include/theater/server.h).
 *
 *   theater server [--listen HOST:PORT] [--foreground] [--log-level L]
 *                  [--home DIR] [--workers N] [--client-timeout S]
 *                  [--compat-listen HOST:PORT [--compat-allow-remote]]
 *                  [--json]
 *
 * Every value option may also be written --NAME=VALUE.  The command line
 * is checked whole (the form of each address too) before the home is
 * touched, so a usage error leaves nothing behind.
 *
 * Exit status: 0 after a clean shutdown (SIGTERM, SIGINT or POST
 * /v1/shutdown), 1 if the server could not start or shut down cleanly
 * (another server on the home, an address it cannot listen on), 2 for a
 * usage error.
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
    "  --json                 accepted as by every command; the log stays text\n"
    "                         (the server has no JSON output)\n"
    "  -h, --help             show this help\n"
    "\n"
    "Options with a value may also be written --NAME=VALUE.  HOST:PORT is checked\n"
    "before anything is created: HOST a name or address ([::1] for IPv6), PORT a\n"
    "number from 0 to 65535.\n"
    "\n"
    "exit status: 0 after a clean shutdown, 1 if the server could not start\n"
    "(e.g. another server runs on this home, or the address is taken) or stop\n"
    "cleanly, 2 for a usage error.\n";

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

/* Check "HOST:PORT" (HOST may be [IPV6]; PORT from 0 to 65535) before
 * anything is created.  0, or 2 after a message naming `opt`. */
static int check_addr(const char *opt, const char *addr)
{
    const char *colon = strrchr(addr, ':'), *port;
    size_t hl;
    bool ok;

    if (colon == NULL || colon == addr)
        goto bad;
    hl = (size_t)(colon - addr); /* the host's length */
    if (addr[0] == '[')
        ok = hl >= 3 && addr[hl - 1] == ']' && memchr(addr + 1, '[', hl - 1) == NULL;
    else
        ok = memchr(addr, '[', hl) == NULL && memchr(addr, ']', hl) == NULL;
    if (!ok)
        goto bad;
    port = colon + 1;
    if (*port == '\0' || strspn(port, "0123456789") != strlen(port) || strlen(port) > 5 ||
        atoi(port) > 65535) {
        cli_errorf("server: %s %s: the port must be a number from 0 to 65535", opt, addr);
        return 2;
    }
    return 0;
bad:
    cli_errorf("server: %s %s: expected HOST:PORT (e.g. 127.0.0.1:9000, [::1]:9000)", opt, addr);
    return 2;
}

/* The command line of `theater server`. */
typedef struct server_args {
    th_server_config cfg;
    const char *compat_addr;
    bool compat_remote;
} server_args;

/* The options that take a value, by index in server_vals. */
enum { V_LISTEN, V_COMPAT_LISTEN, V_HOME, V_LOG_LEVEL, V_WORKERS, V_STREAM_BUFFER, V_TIMEOUT };
static const char *const server_vals[] = {
    [V_LISTEN] = "--listen",
    [V_COMPAT_LISTEN] = "--compat-listen",
    [V_HOME] = "--home",
    [V_LOG_LEVEL] = "--log-level",
    [V_WORKERS] = "--workers",
    [V_STREAM_BUFFER] = "--stream-buffer",
    [V_TIMEOUT] = "--client-timeout",
    [V_TIMEOUT + 1] = NULL,
};

/* Value option k of server_vals into *a; 0, or 2 after a message. */
static int set_value(server_args *a, int k, const char *v)
{
    unsigned n;

    switch (k) {
    case V_LISTEN: a->cfg.listen = v; return check_addr("--listen", v);
    case V_COMPAT_LISTEN: a->compat_addr = v; return check_addr("--compat-listen", v);
    case V_HOME: a->cfg.home = v; return 0;
    case V_LOG_LEVEL:
        if ((a->cfg.log_level = parse_level(v)) >= 0)
            return 0;
        cli_errorf("server: bad --log-level %s (error, warn, info or debug)", v);
        return 2;
    case V_WORKERS:
        if (parse_uint(v, 1024, &a->cfg.workers) == 0)
            return 0;
        cli_errorf("server: bad --workers %s", v);
        return 2;
    case V_STREAM_BUFFER:
        if (parse_uint(v, 1u << 30, &n) == 0 && n >= 1024) {
            a->cfg.stream_buffer = n;
            return 0;
        }
        cli_errorf("server: bad --stream-buffer %s (1024 or more)", v);
        return 2;
    default:
        if (parse_uint(v, 86400, &a->cfg.client_timeout_s) == 0)
            return 0;
        cli_errorf("server: bad --client-timeout %s", v);
        return 2;
    }
}

/* Parse argv into *a: 0, -1 after --help, or 2 for a usage error.  Every
 * check on the command line is made here, before anything is created. */
static int parse_args(int argc, char **argv, server_args *a)
{
    const char *v;
    int i, k;

    memset(a, 0, sizeof *a);
    a->cfg.log_level = TH_LOG_INFO;
    for (i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            fputs(server_help, stdout);
            return -1;
        } else if (strcmp(argv[i], "--foreground") == 0) {
            /* the default */
        } else if (strcmp(argv[i], "--json") == 0) {
            /* taken as by every command; the log has no JSON form */
        } else if (strcmp(argv[i], "--compat-allow-remote") == 0) {
            a->compat_remote = true;
        } else if ((k = cli_opt_value(argc, argv, &i, "server", server_vals, &v)) >= 0) {
            if (set_value(a, k, v) != 0)
                return 2;
        } else if (k == CLI_OPT_NO_VALUE) {
            return 2;
        } else {
            cli_errorf("server: unknown option %s (see `theater server --help`)", argv[i]);
            return 2;
        }
    }
    return 0;
}

int cli_cmd_server(int argc, char **argv)
{
    th_server *srv;
    srv_compat *compat = NULL;
    server_args a;
    th_error err;
    struct sigaction sa;
    int rc;

    if ((rc = parse_args(argc, argv, &a)) != 0)
        return rc < 0 ? 0 : rc;
    if (a.cfg.home == NULL)
        a.cfg.home = getenv("THEATER_HOME");
    signal(SIGPIPE, SIG_IGN);
    if (th_server_new(&a.cfg, &srv, &err) != 0) {
        cli_errorf("server: %s", err.msg);
        return 1;
    }
    if (a.compat_addr != NULL) {
        if (srv_compat_start(th_server_runtime(srv), a.compat_addr, a.compat_remote, &compat,
                             &err) != 0) {
            cli_errorf("server: --compat-listen %s: %s", a.compat_addr, err.msg);
            th_server_free(srv);
            return 1;
        }
        fprintf(stderr, "theater: compat listener on %s (port %u)\n", a.compat_addr,
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
