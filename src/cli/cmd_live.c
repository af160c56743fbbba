/*
 * cmd_live.c - the live commands, clients of the daemon's management API
 * (docs/api.md): start, list, inspect, state, events, message, channel,
 * stop, restart, update.
 *
 * Each takes --home DIR, --json (machine output) and -h/--help.  Actor ids
 * may be any unique prefix: the daemon resolves
 * them and names the candidates of an ambiguous one.  Exit status: 0 on
 * success, 1 when the daemon refused or failed the request (the message
 * says why), 2 for a usage error, 3 when no daemon runs on the home.
 */
#define _GNU_SOURCE /* pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/hex.h"
#include "base/limits.h"
#include "base/utf8.h"
#include "cli/client.h"
#include "cli/event_text.h"

#define EXIT_HELP \
    "\nexit status: 0 on success, 1 if the daemon refused or failed the request,\n" \
    "2 for a usage error, 3 if no daemon runs on this home.\n"
#define COMMON_HELP \
    "  --json                 machine-readable output (JSON)\n" \
    "  --home DIR             THEATER_HOME (default $THEATER_HOME, else ~/.theater)\n" \
    "  -h, --help             show this help\n"

/* ------------------------------------------------------------------ */
/* Arguments                                                          */

typedef struct live_args {
    const char *home;
    int json;
    const char *pos[4];
    int npos;
    const char *val[8]; /* values of the command's value options, by index */
    int flag[8];        /* the command's flags, by index */
} live_args;

/* Parse argv (argv[0] = the command).  `vals` (at most 8) and `flags` are
 * NULL-terminated option names; a value option, --home included, is
 * "NAME VALUE" or "NAME=VALUE" (cli_opt_value), and every argument after
 * "--" is positional.  Returns -1 after --help, 0, or 2 after a usage
 * message. */
static int parse_args(int argc, char **argv, const char *help, const char *const *vals,
                      const char *const *flags, int maxpos, live_args *a)
{
    const char *names[10] = {"--home"}, *v;
    bool options = true;
    int i, k, nv = 1;

    memset(a, 0, sizeof *a);
    for (k = 0; vals != NULL && vals[k] != NULL && nv < 9; k++)
        names[nv++] = vals[k];
    for (i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (options && strcmp(s, "--") == 0) {
            options = false;
            continue;
        }
        if (options) {
            if (cli_is_help(s)) {
                fputs(help, stdout);
                return -1;
            }
            if (strcmp(s, "--json") == 0) {
                a->json = 1;
                continue;
            }
            if ((k = cli_opt_value(argc, argv, &i, argv[0], names, &v)) == CLI_OPT_NO_VALUE)
                return CLI_EXIT_USAGE;
            if (k >= 0) {
                if (k == 0)
                    a->home = v;
                else
                    a->val[k - 1] = v;
                continue;
            }
            for (k = 0; flags != NULL && flags[k] != NULL; k++)
                if (strcmp(s, flags[k]) == 0)
                    break;
            if (flags != NULL && flags[k] != NULL) {
                a->flag[k] = 1;
                continue;
            }
            if (s[0] == '-' && s[1] != 0) {
                cli_errorf("%s: unknown option %s (see `theater %s --help`; DATA that begins with "
                           "'-' goes after --)",
                           argv[0], s, argv[0]);
                return CLI_EXIT_USAGE;
            }
        }
        if (a->npos >= maxpos) {
            cli_errorf("%s: too many arguments (see `theater %s --help`)", argv[0], argv[0]);
            return CLI_EXIT_USAGE;
        }
        a->pos[a->npos++] = s;
    }
    return 0;
}

/* A whole number option from min to max: false after a usage message. */
static bool number_arg(const char *cmd, const char *opt, const char *v, long min, long max,
                       long *out)
{
    char *end;
    long n;

    errno = 0;
    n = strtol(v, &end, 10);
    if (v[0] < '0' || v[0] > '9' || *end != 0 || errno != 0 || n < min || n > max) {
        cli_errorf("%s: %s takes a whole number from %ld to %ld, not %s", cmd, opt, min, max, v);
        return false;
    }
    *out = n;
    return true;
}

/* Percent-encode a path segment or query value. */
static void enc(char *out, size_t cap, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;

    for (; *s && n + 4 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.') {
            out[n++] = (char)c;
        } else {
            out[n++] = '%';
            out[n++] = hex[c >> 4];
            out[n++] = hex[c & 15];
        }
    }
    out[n] = 0;
}

static void print_json(json_t *o)
{
    json_dumpf(o, stdout, JSON_INDENT(2));
    fputc('\n', stdout);
}

static const char *when(uint64_t ms, char *buf, size_t cap)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;

    localtime_r(&t, &tm);
    strftime(buf, cap, "%Y-%m-%d %H:%M:%S", &tm);
    return buf;
}

static void age(uint64_t ms, char *buf, size_t cap)
{
    uint64_t now = base_clock_wall_ms(), s;

    s = now > ms ? (now - ms) / 1000 : 0;
    if (s < 120)
        snprintf(buf, cap, "%llus", (unsigned long long)s);
    else if (s < 7200)
        snprintf(buf, cap, "%llum", (unsigned long long)(s / 60));
    else if (s < 172800)
        snprintf(buf, cap, "%lluh", (unsigned long long)(s / 3600));
    else
        snprintf(buf, cap, "%llud", (unsigned long long)(s / 86400));
}

/* Whether a reply goes into JSON as text: any valid UTF-8 (JSON escapes
 * the control characters, NUL included). */
static int utf8_text(const unsigned char *p, size_t n)
{
    return base_utf8_valid(p, n);
}

/* Decode hex (malloc'd bytes, *n), or NULL. */
static unsigned char *unhex(const char *s, size_t *n)
{
    size_t len = strlen(s);
    unsigned char *out = malloc(len / 2 + 1);

    if (out == NULL || len % 2 != 0 || base_hex_decode(s, out, len / 2) != 0) {
        free(out);
        return NULL;
    }
    *n = len / 2;
    return out;
}

/* Bytes as a JSON string of lowercase hex (a new reference). */
static json_t *hex_json(const char *p, size_t n)
{
    char *h = malloc(2 * n + 1);
    json_t *j;

    if (h == NULL)
        return NULL;
    base_hex_encode(p, n, h);
    j = json_string(h);
    free(h);
    return j;
}

/* One event for a person (event_text.c, as `theater chain events`);
 * `content`: the home's store, for an event recorded by content reference
 * (the daemon's home is this one: the CLI reads its store as the daemon
 * runs). */
static void print_event(json_t *ev, cli_content *content, unsigned flags)
{
    th_error err;
    char *text = cli_event_text_from_json(ev, NULL, content, flags, &err);

    if (text == NULL) {
        cli_errorf("%s", err.msg);
        return;
    }
    fputs(text, stdout);
    fflush(stdout);
    free(text);
}

/* ------------------------------------------------------------------ */
/* events                                                             */

typedef struct follow_ctx {
    int json;
    unsigned flags; /* event_text.h CLI_EVENT_* */
    long max;       /* stop after this many events (0 = never) */
    long seen;
    cli_content *content;
} follow_ctx;

static int on_event(void *ud, const char *event, const char *data)
{
    follow_ctx *f = ud;
    json_t *ev;

    (void)event;
    if (f->json) {
        printf("%s\n", data);
        fflush(stdout);
    } else if ((ev = json_loads(data, 0, NULL)) != NULL) {
        print_event(ev, f->content, f->flags);
        json_decref(ev);
    }
    return f->max > 0 && ++f->seen >= f->max;
}

/* Stream actor `id`'s events (of `type` if not NULL) from the first one
 * after `after` (-1: from the start). */
static int follow_events(cli_api *api, const char *id, const char *type, int json, unsigned flags,
                         long max, long long after)
{
    char path[512], t[256];
    cli_content content;
    follow_ctx f = {json, flags, max, 0, &content};
    cli_sse sse;
    int rc;

    memset(&sse, 0, sizeof sse);
    sse.fn = on_event;
    sse.ud = &f;
    snprintf(path, sizeof path, "/v1/actors/%s/events?follow=1", id);
    if (type != NULL) {
        enc(t, sizeof t, type);
        snprintf(path + strlen(path), sizeof path - strlen(path), "&type=%s", t);
    }
    if (after >= 0)
        snprintf(path + strlen(path), sizeof path - strlen(path), "&after=%lld", after);
    cli_content_init(&content, api->home);
    rc = cli_api_stream(api, path, &sse);
    cli_content_release(&content);
    return rc;
}

static const char events_help[] =
    "usage: theater events ID [--follow] [--type T] [--limit N] [--max N] [--wide] [--json]\n"
    "\n"
    "The events of actor ID's chain, oldest first (with --limit N: the newest N).\n"
    "With --follow, the stored events (the newest N with --limit N) and then\n"
    "live ones as they happen, until the actor ends, the daemon ends the stream\n"
    "or Ctrl-C; a dropped connection is resumed after the last event received\n"
    "(none lost, none repeated).\n"
    "\n"
    "options:\n"
    "  --follow               keep streaming live events\n"
    "  --type T               only events of type T (e.g. actor-failed)\n"
    "  --limit N              only the newest N stored events\n"
    "  --max N                with --follow: stop after N events\n"
    "  --wide                 every value whole (values are cut after 200 bytes)\n"
    "  --json                 one JSON object per event, as `theater chain events\n"
    "                         --json` prints them (docs/events.md)\n"
    "  --home DIR             THEATER_HOME (default $THEATER_HOME, else ~/.theater)\n"
    "  -h, --help             show this help\n" EXIT_HELP;

int cli_cmd_events(int argc, char **argv)
{
    static const char *const vals[] = {"--type", "--limit", "--max", NULL};
    static const char *const flags[] = {"--follow", "--wide", NULL};
    live_args a;
    cli_api api;
    cli_content content;
    char path[512], t[256], id[128];
    json_t *o;
    size_t i;
    long limit = 0, max = 0;
    int rc;

    if ((rc = parse_args(argc, argv, events_help, vals, flags, 1, &a)) != 0)
        return rc < 0 ? 0 : rc;
    if (a.npos != 1) {
        cli_errorf("events: missing ID (see `theater events --help`)");
        return CLI_EXIT_USAGE;
    }
    if ((a.val[1] &&
         !number_arg("events", "--limit", a.val[1], 1, TH_SERVER_MAX_LIST_LIMIT, &limit)) ||
        (a.val[2] && !number_arg("events", "--max", a.val[2], 1, LONG_MAX, &max)))
        return CLI_EXIT_USAGE;
    if (a.val[0] != NULL && !cli_event_type_known(a.val[0])) {
        cli_errorf("events: unknown event type %s (known: %s)", a.val[0], cli_event_types_joined());
        return CLI_EXIT_USAGE;
    }
    if ((rc = cli_api_open(a.home, &api)) != 0)
        return rc;
    enc(id, sizeof id, a.pos[0]);
    if (a.flag[0] && limit == 0) {
        rc = follow_events(&api, id, a.val[0], a.json, a.flag[1] ? CLI_EVENT_WIDE : 0, max, -1);
        cli_api_close(&api);
        return rc;
    }
    snprintf(path, sizeof path, "/v1/actors/%s/events?", id);
    if (a.val[0] != NULL) {
        enc(t, sizeof t, a.val[0]);
        snprintf(path + strlen(path), sizeof path - strlen(path), "type=%s&", t);
    }
    if (limit > 0)
        snprintf(path + strlen(path), sizeof path - strlen(path), "limit=%ld&newest=1", limit);
    o = cli_api_json(&api, "GET", path, NULL, 200, &rc);
    if (o != NULL && a.flag[0]) {
        /* --follow --limit N: from the first of the newest N on (as tail -f) */
        json_t *first = json_array_get(json_object_get(o, "events"), 0);
        long long seq = first ? (long long)json_integer_value(json_object_get(first, "seq")) : 0;
        rc = follow_events(&api, json_string_value(json_object_get(o, "actor")), a.val[0], a.json,
                           a.flag[1] ? CLI_EVENT_WIDE : 0, max, seq - 1);
        json_decref(o);
        cli_api_close(&api);
        return rc;
    }
    cli_api_close(&api);
    if (o == NULL)
        return rc;
    cli_content_init(&content, api.home);
    for (i = 0; i < json_array_size(json_object_get(o, "events")); i++) {
        json_t *ev = json_array_get(json_object_get(o, "events"), i);
        if (a.json) {
            json_dumpf(ev, stdout, JSON_COMPACT);
            fputc('\n', stdout);
        } else {
            print_event(ev, &content, a.flag[1] ? CLI_EVENT_WIDE : 0);
        }
    }
    cli_content_release(&content);
    json_decref(o);
    return 0;
}

/* ------------------------------------------------------------------ */
/* start                                                              */

static const char start_help[] =
    "usage: theater start MANIFEST [--state JSON] [--parent ID] [--follow] [--json]\n"
    "\n"
    "Start the actor of MANIFEST (a TOML file) in the daemon and print its id on\n"
    "its own line; with --follow, then stream its events (as `theater events\n"
    "--follow`).\n"
    "\n"
    "options:\n"
    "  --state JSON           initial state (overrides the manifest's init_state)\n"
    "  --parent ID            start it as a child of actor ID\n"
    "  --follow               stream the new actor's events afterwards\n" COMMON_HELP EXIT_HELP;

int cli_cmd_start(int argc, char **argv)
{
    static const char *const vals[] = {"--state", "--parent", NULL};
    static const char *const flags[] = {"--follow", NULL};
    live_args a;
    cli_api api;
    char abs[PATH_MAX];
    json_t *body, *o, *st = NULL;
    json_error_t jerr;
    int rc;

    if ((rc = parse_args(argc, argv, start_help, vals, flags, 1, &a)) != 0)
        return rc < 0 ? 0 : rc;
    if (a.npos != 1) {
        cli_errorf("start: missing MANIFEST (see `theater start --help`)");
        return CLI_EXIT_USAGE;
    }
    if (a.val[0] != NULL && (st = json_loads(a.val[0], JSON_DECODE_ANY, &jerr)) == NULL) {
        cli_errorf("start: --state is not valid JSON: %s", jerr.text);
        return CLI_EXIT_USAGE;
    }
    if (realpath(a.pos[0], abs) == NULL) {
        cli_errorf("start: cannot open %s: %s", a.pos[0], strerror(errno));
        json_decref(st);
        return CLI_EXIT_ERROR;
    }
    if ((rc = cli_api_open(a.home, &api)) != 0) {
        json_decref(st);
        return rc;
    }
    body = json_pack("{s:s}", "manifest", abs);
    if (st != NULL)
        json_object_set_new(body, "init_state", st);
    if (a.val[1] != NULL)
        json_object_set_new(body, "parent", json_string(a.val[1]));
    o = cli_api_json(&api, "POST", "/v1/actors", body, 201, &rc);
    if (o != NULL) {
        if (a.json && a.flag[0]) { /* one JSON object per line, as the events after it */
            json_dumpf(o, stdout, JSON_COMPACT);
            fputc('\n', stdout);
        } else if (a.json) {
            print_json(o);
        } else {
            printf("%s\n", json_string_value(json_object_get(o, "id")));
        }
        fflush(stdout);
        if (a.flag[0])
            rc = follow_events(&api, json_string_value(json_object_get(o, "id")), NULL, a.json, 0,
                               0, -1);
        json_decref(o);
    }
    cli_api_close(&api);
    return rc;
}

/* ------------------------------------------------------------------ */
/* list                                                               */

/* The shortest prefix length (>= 8) that tells every id apart. */
static int short_len(json_t *actors)
{
    size_t i, j, n = json_array_size(actors);
    int len = 8;

    for (i = 0; i < n; i++) {
        const char *x = json_string_value(json_object_get(json_array_get(actors, i), "id"));
        for (j = i + 1; j < n; j++) {
            const char *y = json_string_value(json_object_get(json_array_get(actors, j), "id"));
            int k = 0;
            while (x[k] && x[k] == y[k])
                k++;
            if (k + 1 > len)
                len = k + 1;
        }
    }
    return len;
}

static void list_row(json_t *ac, int idlen, int depth)
{
    char ago[32];
    const char *parent = json_string_value(json_object_get(ac, "parent"));

    age((uint64_t)json_integer_value(json_object_get(ac, "started")), ago, sizeof ago);
    printf("%-*.*s  %*s%-*s %-9s %-8s %.*s\n", idlen, idlen,
           json_string_value(json_object_get(ac, "id")), depth * 2, "",
           20 - depth * 2 > 4 ? 20 - depth * 2 : 4, json_string_value(json_object_get(ac, "name")),
           json_string_value(json_object_get(ac, "status")), ago, parent ? idlen : 1,
           parent ? parent : "-");
}

static void list_tree(json_t *actors, const char *parent, int idlen, int depth)
{
    size_t i;

    for (i = 0; i < json_array_size(actors); i++) {
        json_t *ac = json_array_get(actors, i);
        const char *p = json_string_value(json_object_get(ac, "parent"));
        if ((parent == NULL && p == NULL) ||
            (parent != NULL && p != NULL && strcmp(p, parent) == 0)) {
            list_row(ac, idlen, depth);
            if (depth < 32)
                list_tree(actors, json_string_value(json_object_get(ac, "id")), idlen, depth + 1);
        }
    }
}

static const char list_help[] =
    "usage: theater list [--tree] [--json]\n"
    "\n"
    "The daemon's actors: id (the shortest unique prefix of at least 8\n"
    "characters, which every command accepts), name, status, age and parent;\n"
    "with --tree, children are indented under their parents.\n"
    "\n"
    "options:\n"
    "  --tree                 show the supervision tree\n" COMMON_HELP EXIT_HELP;

/* A daemon whose recording stalls (a full disk...) still lists its actors
 * as running: say so on stderr. */
static void warn_unhealthy(cli_api *api)
{
    int rc;
    json_t *h = cli_api_json(api, "GET", "/v1/health", NULL, 200, &rc);
    const char *st = json_string_value(json_object_get(h, "status"));
    const char *why =
        json_string_value(json_object_get(json_object_get(h, "recording"), "message"));

    if (st != NULL && strcmp(st, "recording-stalled") == 0)
        fprintf(stderr,
                "theater: warning: recording is stalled%s%s: actors that record events wait, "
                "then fail, until it can store them again\n",
                why && why[0] ? ": " : "", why ? why : "");
    json_decref(h);
}

int cli_cmd_list(int argc, char **argv)
{
    static const char *const flags[] = {"--tree", NULL};
    live_args a;
    cli_api api;
    json_t *o, *actors;
    size_t i;
    int rc, idlen;

    if ((rc = parse_args(argc, argv, list_help, NULL, flags, 0, &a)) != 0)
        return rc < 0 ? 0 : rc;
    if ((rc = cli_api_open(a.home, &api)) != 0)
        return rc;
    o = cli_api_json(&api, "GET", "/v1/actors", NULL, 200, &rc);
    if (o != NULL)
        warn_unhealthy(&api);
    cli_api_close(&api);
    if (o == NULL)
        return rc;
    actors = json_object_get(o, "actors");
    if (a.json) {
        print_json(actors);
    } else if (json_array_size(actors) == 0) {
        printf("no actors running\n");
    } else {
        idlen = short_len(actors);
        printf("%-*s  %-20s %-9s %-8s %s\n", idlen, "ID", "NAME", "STATUS", "AGE", "PARENT");
        if (a.flag[0])
            list_tree(actors, NULL, idlen, 0);
        else
            for (i = 0; i < json_array_size(actors); i++)
                list_row(json_array_get(actors, i), idlen, 0);
    }
    json_decref(o);
    return 0;
}

/* ------------------------------------------------------------------ */
/* inspect, state                                                     */

static const char inspect_help[] =
    "usage: theater inspect ID [--json]\n"
    "\n"
    "Actor ID's status, manifest, children, metrics and most recent events.\n"
    "\n"
    "options:\n" COMMON_HELP EXIT_HELP;

int cli_cmd_inspect(int argc, char **argv)
{
    live_args a;
    cli_api api;
    cli_content content;
    char path[512], id[128], buf[64];
    json_t *o, *evs = NULL, *m, *kids;
    const char *key;
    json_t *v;
    size_t i;
    int rc, rc2;

    if ((rc = parse_args(argc, argv, inspect_help, NULL, NULL, 1, &a)) != 0)
        return rc < 0 ? 0 : rc;
    if (a.npos != 1) {
        cli_errorf("inspect: missing ID (see `theater inspect --help`)");
        return CLI_EXIT_USAGE;
    }
    if ((rc = cli_api_open(a.home, &api)) != 0)
        return rc;
    enc(id, sizeof id, a.pos[0]);
    snprintf(path, sizeof path, "/v1/actors/%s", id);
    o = cli_api_json(&api, "GET", path, NULL, 200, &rc);
    if (o != NULL) {
        snprintf(path, sizeof path, "/v1/actors/%s/events?limit=10&newest=1",
                 json_string_value(json_object_get(o, "id")));
        evs = cli_api_json(&api, "GET", path, NULL, 200, &rc2);
    }
    cli_api_close(&api);
    if (o == NULL)
        return rc;
    if (a.json) {
        json_object_set(o, "recent_events", evs ? json_object_get(evs, "events") : json_array());
        print_json(o);
    } else {
        m = json_object_get(o, "manifest");
        printf("id          %s\nname        %s %s\nstatus      %s\n",
               json_string_value(json_object_get(o, "id")),
               json_string_value(json_object_get(o, "name")),
               json_string_value(json_object_get(o, "version")),
               json_string_value(json_object_get(o, "status")));
        printf("started     %s\n",
               when((uint64_t)json_integer_value(json_object_get(o, "started")), buf, sizeof buf));
        printf("parent      %s\n", json_string_value(json_object_get(o, "parent"))
                                       ? json_string_value(json_object_get(o, "parent"))
                                       : "-");
        printf("manifest    %s\n", json_string_value(json_object_get(m, "path"))
                                       ? json_string_value(json_object_get(m, "path"))
                                       : "(inline TOML)");
        kids = json_object_get(o, "children");
        printf("children    %zu\n", json_array_size(kids));
        for (i = 0; i < json_array_size(kids); i++)
            printf("            %s\n", json_string_value(json_array_get(kids, i)));
        printf("metrics\n");
        json_object_foreach(json_object_get(o, "metrics"), key, v)
            printf("  %-13s %lld\n", key, (long long)json_integer_value(v));
        printf("recent events\n");
        cli_content_init(&content, api.home);
        for (i = 0; evs && i < json_array_size(json_object_get(evs, "events")); i++)
            print_event(json_array_get(json_object_get(evs, "events"), i), &content, 0);
        cli_content_release(&content);
    }
    json_decref(evs);
    json_decref(o);
    return 0;
}

static const char state_help[] =
    "usage: theater state ID [--json]\n"
    "       theater state ID --at SEQ [--home DIR] [--json]\n"
    "\n"
    "Actor ID's current state: pretty-printed when it is JSON, else the raw\n"
    "bytes; `null` when it has none.  With --json: {\"id\", \"state\"} (the JSON\n"
    "value) or {\"id\", \"state_hex\"} for bytes that are not JSON.\n"
    "\n"
    "With --at SEQ: the state right after event SEQ of its chain, computed by\n"
    "replaying the chain up to there (no daemon needed; see `theater replay`).\n"
    "\n"
    "options:\n" COMMON_HELP EXIT_HELP;

int cli_cmd_state(int argc, char **argv)
{
    live_args a;
    cli_api api;
    cli_resp r;
    char path[512], id[128];
    json_t *v = NULL, *info = NULL;
    const char *full = NULL;
    int rc;

    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--at") == 0 || strncmp(argv[i], "--at=", 5) == 0) /* offline: replay */
            return cli_replay_state_at(argc, argv);
    if ((rc = parse_args(argc, argv, state_help, NULL, NULL, 1, &a)) != 0)
        return rc < 0 ? 0 : rc;
    if (a.npos != 1) {
        cli_errorf("state: missing ID (see `theater state --help`)");
        return CLI_EXIT_USAGE;
    }
    if ((rc = cli_api_open(a.home, &api)) != 0)
        return rc;
    enc(id, sizeof id, a.pos[0]);
    if (a.json) {
        /* {"id"} names the actor by its full id, whatever prefix was given */
        snprintf(path, sizeof path, "/v1/actors/%s", id);
        if ((info = cli_api_json(&api, "GET", path, NULL, 200, &rc)) == NULL) {
            cli_api_close(&api);
            return rc;
        }
        full = json_string_value(json_object_get(info, "id"));
        if (full != NULL)
            enc(id, sizeof id, full);
    }
    snprintf(path, sizeof path, "/v1/actors/%s/state", id);
    rc = cli_api_call(&api, "GET", path, NULL, 0, NULL, &r);
    cli_api_close(&api);
    if (rc != 0) {
        json_decref(info);
        return rc;
    }
    if (r.status != 200 && r.status != 204) {
        rc = cli_api_fail(&r);
        cli_resp_free(&r);
        json_decref(info);
        return rc;
    }
    if (r.status == 200)
        v = json_loadb(r.body ? r.body : "", r.len, JSON_DECODE_ANY, NULL);
    if (a.json) {
        json_t *o = json_pack("{s:s}", "id", full != NULL ? full : a.pos[0]);
        if (r.status == 204) {
            json_object_set_new(o, "state", json_null());
        } else if (v != NULL) {
            json_object_set(o, "state", v);
        } else {
            json_object_set_new(o, "state_hex", hex_json(r.body, r.len));
        }
        print_json(o);
        json_decref(o);
    } else if (r.status == 204) {
        printf("null\n");
    } else if (v != NULL) {
        json_dumpf(v, stdout, JSON_INDENT(2) | JSON_ENCODE_ANY);
        fputc('\n', stdout);
    } else {
        fwrite(r.body, 1, r.len, stdout);
    }
    json_decref(v);
    json_decref(info);
    cli_resp_free(&r);
    return 0;
}

/* ------------------------------------------------------------------ */
/* message                                                            */

static const char message_help[] =
    "usage: theater message ID [--request] [DATA | --file F] [--timeout-ms N] [--json]\n"
    "\n"
    "Send DATA (or the bytes of file F; - is stdin; neither: an empty message)\n"
    "to actor ID as a one-way message (handle-send).  With --request, send it\n"
    "as a request (handle-request) and write the reply's bytes to stdout\n"
    "exactly as they are, nothing added; --json wraps the reply: {\"reply\":\n"
    "TEXT} when it is UTF-8, else {\"reply_hex\": ...}.\n"
    "\n"
    "options:\n"
    "  --request              wait for the actor's reply\n"
    "  --file F               the message is the content of F (- = stdin)\n"
    "  --timeout-ms N         give up on the reply after N ms (default 30000;\n"
    "                         exit status 1)\n" COMMON_HELP EXIT_HELP;

int cli_cmd_message(int argc, char **argv)
{
    static const char *const vals[] = {"--file", "--timeout-ms", NULL};
    static const char *const flags[] = {"--request", NULL};
    live_args a;
    cli_api api;
    cli_resp r;
    char path[512], id[128];
    unsigned char *data = NULL;
    size_t len = 0;
    long tmo = 0;
    int rc;

    if ((rc = parse_args(argc, argv, message_help, vals, flags, 2, &a)) != 0)
        return rc < 0 ? 0 : rc;
    if (a.npos < 1) {
        cli_errorf("message: missing ID (see `theater message --help`)");
        return CLI_EXIT_USAGE;
    }
    if (a.npos == 2 && a.val[0] != NULL) {
        cli_errorf("message: give the message as DATA or with --file F, not both (see `theater "
                   "message --help`)");
        return CLI_EXIT_USAGE;
    }
    if (a.val[1] != NULL &&
        !number_arg("message", "--timeout-ms", a.val[1], 0, TH_SERVER_MAX_REQUEST_TIMEOUT_MS, &tmo))
        return CLI_EXIT_USAGE;
    if (a.val[0] != NULL) {
        if ((data = cli_read_file(a.val[0], &len)) == NULL)
            return CLI_EXIT_ERROR;
    } else if (a.npos == 2) {
        len = strlen(a.pos[1]);
        data = (unsigned char *)strdup(a.pos[1]);
    } /* else an empty message */
    if ((rc = cli_api_open(a.home, &api)) != 0) {
        free(data);
        return rc;
    }
    enc(id, sizeof id, a.pos[0]);
    if (a.flag[0] && a.val[1] != NULL)
        snprintf(path, sizeof path, "/v1/actors/%s/requests?timeout_ms=%ld", id, tmo);
    else if (a.flag[0])
        snprintf(path, sizeof path, "/v1/actors/%s/requests", id);
    else
        snprintf(path, sizeof path, "/v1/actors/%s/messages", id);
    rc = cli_api_call(&api, "POST", path, data ? data : (unsigned char *)"", len,
                      "application/octet-stream", &r);
    cli_api_close(&api);
    free(data);
    if (rc != 0)
        return rc;
    if (r.status != (a.flag[0] ? 200 : 202)) {
        rc = cli_api_fail(&r);
    } else if (!a.flag[0]) {
        if (a.json)
            fwrite(r.body, 1, r.len, stdout);
    } else if (a.json) {
        json_t *o = json_object();
        if (utf8_text((unsigned char *)r.body, r.len)) {
            json_object_set_new(o, "reply", json_stringn(r.body ? r.body : "", r.len));
        } else {
            json_object_set_new(o, "reply_hex", hex_json(r.body, r.len));
        }
        print_json(o);
        json_decref(o);
    } else {
        fwrite(r.body, 1, r.len, stdout);
    }
    cli_resp_free(&r);
    return rc;
}

/* ------------------------------------------------------------------ */
/* channel open                                                       */

typedef struct chan_ctx {
    cli_api api; /* its own connection */
    char path[512];
    int json;
    int rc;
    bool actor_failed; /* the channel ended because its actor failed */
    bool closed;       /* its "closed" event came */
    int ended[2];      /* a pipe: the reader writes a byte when the stream ends */
} chan_ctx;

static int on_chan_msg(void *ud, const char *event, const char *data)
{
    chan_ctx *c = ud;
    json_t *o = json_loads(data, 0, NULL);
    const char *hx = json_string_value(json_object_get(o, "data_hex"));
    const char *why = json_string_value(json_object_get(o, "reason")); /* of a "closed" */
    unsigned char *raw;
    size_t n = 0;

    /* (the runtime's words for a failure: "actor NAME (ID) failed: ...") */
    if (strcmp(event, "closed") == 0 && why != NULL && strstr(why, ") failed: ") != NULL)
        c->actor_failed = true;
    if (strcmp(event, "closed") == 0)
        c->closed = true;
    if (c->json) {
        printf("%s\n", data);
    } else if (strcmp(event, "closed") == 0) {
        if (why != NULL)
            fprintf(stderr, "theater: the channel ended: %s\n", why);
        else
            fprintf(stderr, "theater: the actor closed the channel\n");
    } else if (strcmp(event, "gap") == 0) { /* messages no longer kept */
        fprintf(stderr, "theater: messages %lld to %lld of the channel are lost (not kept)\n",
                (long long)json_integer_value(json_object_get(o, "from")),
                (long long)json_integer_value(json_object_get(o, "to")));
    } else if (hx != NULL && (raw = unhex(hx, &n)) != NULL) {
        fwrite(raw, 1, n, stdout);
        if (n == 0 || raw[n - 1] != '\n')
            fputc('\n', stdout);
        free(raw);
    }
    fflush(stdout);
    json_decref(o);
    return 0;
}

static void *chan_reader(void *arg)
{
    chan_ctx *c = arg;
    cli_sse sse;

    memset(&sse, 0, sizeof sse);
    sse.fn = on_chan_msg;
    sse.ud = c;
    c->rc = cli_api_stream(&c->api, c->path, &sse);
    if (write(c->ended[1], "", 1) != 1) /* wakes the sender's poll */
        c->rc = c->rc ? c->rc : CLI_EXIT_ERROR;
    return NULL;
}

/* Send `len` bytes of `line` on the channel; false when it failed (*rc set
 * after a message). */
static bool chan_send_line(cli_api *api, const char *path, const char *line, size_t len, int *rc)
{
    cli_resp r;

    if ((*rc = cli_api_call(api, "POST", path, line, len, "application/octet-stream", &r)) != 0)
        return false;
    if (r.status != 202) {
        *rc = cli_api_fail(&r);
        cli_resp_free(&r);
        return false;
    }
    cli_resp_free(&r);
    return true;
}

static const char channel_help[] =
    "usage: theater channel open ID [DATA] [--wait-ms N] [--json]\n"
    "\n"
    "Open a channel to actor ID with DATA as the first message (the actor's\n"
    "handle-channel-open accepts or refuses it), then send every line of stdin\n"
    "on it and print what the actor sends back, one message per line (--json:\n"
    "the events as JSON lines).  At the end of stdin, waits N ms (default 500)\n"
    "for replies, then closes the channel; it also ends when the actor closes it\n"
    "(or stops, or restarts; when it fails, that is said and the exit status is 1).\n"
    "\n"
    "options:\n"
    "  --wait-ms N            how long to wait for replies after stdin ends\n" COMMON_HELP
        EXIT_HELP;

int cli_cmd_channel(int argc, char **argv)
{
    static const char *const vals[] = {"--wait-ms", NULL};
    live_args a;
    cli_api api;
    cli_resp r;
    chan_ctx c;
    pthread_t th;
    char path[512], id[128], chan[64], *line = NULL;
    size_t cap = 0, len = 0;
    ssize_t n;
    json_t *o;
    long wait_ms = 500;
    bool stream_ended = false, failed = false;
    int rc;

    if ((rc = parse_args(argc, argv, channel_help, vals, NULL, 3, &a)) != 0)
        return rc < 0 ? 0 : rc;
    if (a.npos < 2 || strcmp(a.pos[0], "open") != 0) {
        cli_errorf("channel: expected `channel open ID [DATA]` (see `theater channel --help`)");
        return CLI_EXIT_USAGE;
    }
    if (a.val[0] != NULL && !number_arg("channel", "--wait-ms", a.val[0], 0, 3600000, &wait_ms))
        return CLI_EXIT_USAGE;
    if ((rc = cli_api_open(a.home, &api)) != 0)
        return rc;
    enc(id, sizeof id, a.pos[1]);
    snprintf(path, sizeof path, "/v1/actors/%s/channels", id);
    rc = cli_api_call(&api, "POST", path, a.npos > 2 ? a.pos[2] : "",
                      a.npos > 2 ? strlen(a.pos[2]) : 0, "application/octet-stream", &r);
    if (rc != 0) {
        cli_api_close(&api);
        return rc;
    }
    if (r.status != 201) {
        rc = cli_api_fail(&r);
        cli_resp_free(&r);
        cli_api_close(&api);
        return rc;
    }
    o = json_loadb(r.body, r.len, 0, NULL);
    snprintf(chan, sizeof chan, "%s", json_string_value(json_object_get(o, "channel")) ?: "");
    json_decref(o);
    cli_resp_free(&r);
    if (!a.json)
        fprintf(stderr, "theater: channel %s open; type lines to send, Ctrl-D to close\n", chan);
    memset(&c, 0, sizeof c);
    c.json = a.json;
    snprintf(c.path, sizeof c.path, "/v1/channels/%s/messages", chan);
    if (pipe2(c.ended, O_CLOEXEC) != 0) {
        cli_errorf("pipe: %s", strerror(errno));
        cli_api_close(&api);
        return CLI_EXIT_ERROR;
    }
    if ((rc = cli_api_open(a.home, &c.api)) != 0 ||
        pthread_create(&th, NULL, chan_reader, &c) != 0) {
        close(c.ended[0]);
        close(c.ended[1]);
        cli_api_close(&api);
        return rc ? rc : CLI_EXIT_ERROR;
    }
    snprintf(path, sizeof path, "/v1/channels/%s/messages", chan);
    /* stdin is read with read(2), not stdio, so that poll sees every byte:
     * a line goes out as soon as it is complete, and the end of the
     * stream (the actor closed the channel, the daemon stopped) ends the
     * command even while the user types nothing */
    for (;;) {
        struct pollfd pf[2] = {{.fd = 0, .events = POLLIN}, {.fd = c.ended[0], .events = POLLIN}};
        char *nl;
        while (!failed && len > 0 && (nl = memchr(line, '\n', len)) != NULL) {
            size_t ll = (size_t)(nl - line);
            failed = !chan_send_line(&api, path, line, ll, &rc);
            memmove(line, nl + 1, len - ll - 1);
            len -= ll + 1;
        }
        if (failed)
            break;
        if (poll(pf, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (pf[1].revents != 0) {
            stream_ended = true;
            break;
        }
        if (len + 4096 > cap) {
            char *nb = realloc(line, cap = (cap ? cap * 2 : 8192));
            if (nb == NULL) {
                cli_errorf("out of memory");
                rc = CLI_EXIT_ERROR;
                break;
            }
            line = nb;
        }
        n = read(0, line + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) { /* end of stdin: a last line without its newline goes too */
            if (len > 0 && chan_send_line(&api, path, line, len, &rc))
                len = 0;
            break;
        }
        len += (size_t)n;
    }
    free(line);
    if (!stream_ended) {
        /* the replies to the last lines, then close (which ends the stream) */
        struct pollfd pf = {.fd = c.ended[0], .events = POLLIN};
        if (!failed && poll(&pf, 1, (int)wait_ms) == 1)
            stream_ended = true;
        snprintf(path, sizeof path, "/v1/channels/%s", chan);
        if (!stream_ended && cli_api_call(&api, "DELETE", path, NULL, 0, NULL, &r) == 0)
            cli_resp_free(&r);
    }
    pthread_join(th, NULL); /* the stream ends with the channel */
    if (stream_ended && !c.closed && c.rc == 0 && !c.json)
        fprintf(stderr, "theater: the channel's stream ended without a close (the daemon "
                        "stopped, or the connection was lost)\n");
    if (rc == 0)
        rc = c.rc;
    if (rc == 0 && c.actor_failed)
        rc = CLI_EXIT_ERROR;
    close(c.ended[0]);
    close(c.ended[1]);
    cli_api_close(&c.api);
    cli_api_close(&api);
    return rc;
}

/* ------------------------------------------------------------------ */
/* stop, restart, update                                              */

static const char stop_help[] =
    "usage: theater stop ID [--force] [--json]\n"
    "\n"
    "Stop actor ID (its children first; its parent hears of an external stop).\n"
    "Without --force the messages already in its mailbox are handled first (at\n"
    "most 10 s); --force stops it at once, abandoning the running call.\n"
    "\n"
    "options:\n"
    "  --force                stop at once\n" COMMON_HELP EXIT_HELP;

static const char restart_help[] =
    "usage: theater restart ID [--json]\n"
    "\n"
    "Restart actor ID with its manifest: a fresh instance and its initial\n"
    "state; id and chain are kept.\n"
    "\n"
    "options:\n" COMMON_HELP EXIT_HELP;

static const char update_help[] =
    "usage: theater update ID COMPONENT.wasm [--json]\n"
    "\n"
    "Replace actor ID's code keeping its id, state, mailbox, channels and chain\n"
    "(hot upgrade, between two of its operations).  The new code is checked\n"
    "first (valid, the imports its manifest grants, every export the running\n"
    "code has); its migrate export, if any, transforms the state.  If anything\n"
    "does not fit, the old code keeps running and the error says why.  Prints\n"
    "\"updated ID: OLD -> NEW\" (the components' SHA-256).\n"
    "\n"
    "options:\n" COMMON_HELP EXIT_HELP;

/* stop / restart / update: one request, a one-line answer. */
static int simple(int argc, char **argv, int which)
{
    static const char *const stop_flags[] = {"--force", NULL};
    const char *help = which == 0 ? stop_help : which == 1 ? restart_help : update_help;
    live_args a;
    cli_api api;
    char path[512], id[128], abs[PATH_MAX];
    json_t *o, *body = NULL;
    int rc;

    if ((rc = parse_args(argc, argv, help, NULL, which == 0 ? stop_flags : NULL, which == 2 ? 2 : 1,
                         &a)) != 0)
        return rc < 0 ? 0 : rc;
    if (a.npos != (which == 2 ? 2 : 1)) {
        cli_errorf("%s: missing %s (see `theater %s --help`)", argv[0],
                   which == 2 ? "ID or COMPONENT" : "ID", argv[0]);
        return CLI_EXIT_USAGE;
    }
    if (which == 2) {
        if (realpath(a.pos[1], abs) == NULL) {
            cli_errorf("update: cannot open %s: %s", a.pos[1], strerror(errno));
            return CLI_EXIT_ERROR;
        }
        body = json_pack("{s:s}", "component", abs);
    }
    if ((rc = cli_api_open(a.home, &api)) != 0) {
        json_decref(body);
        return rc;
    }
    enc(id, sizeof id, a.pos[0]);
    if (which == 0)
        snprintf(path, sizeof path, "/v1/actors/%s%s", id, a.flag[0] ? "?force=1" : "");
    else if (which == 1)
        snprintf(path, sizeof path, "/v1/actors/%s/restart", id);
    else
        snprintf(path, sizeof path, "/v1/actors/%s/component", id);
    o = cli_api_json(&api,
                     which == 0   ? "DELETE"
                     : which == 1 ? "POST"
                                  : "PUT",
                     path, body,
                     which == 0   ? 200
                     : which == 1 ? 202
                                  : 200,
                     &rc);
    cli_api_close(&api);
    if (o == NULL)
        return rc;
    if (a.json)
        print_json(o);
    else if (which == 2)
        printf("updated %s: %.12s -> %.12s\n", json_string_value(json_object_get(o, "id")),
               json_string_value(json_object_get(o, "from")),
               json_string_value(json_object_get(o, "component")));
    else
        printf("%s %s\n", which == 0 ? "stopped" : "restarting",
               json_string_value(json_object_get(o, "id")));
    json_decref(o);
    return 0;
}

int cli_cmd_stop(int argc, char **argv)
{
    return simple(argc, argv, 0);
}

int cli_cmd_restart(int argc, char **argv)
{
    return simple(argc, argv, 1);
}

int cli_cmd_update(int argc, char **argv)
{
    return simple(argc, argv, 2);
}
