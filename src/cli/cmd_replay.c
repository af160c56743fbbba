/*
 * cmd_replay.c - `theater replay`, `theater state ID --at SEQ` and the
 * states of `theater chain events --state`: an actor re-run from its chain
 * (th_runtime_replay, src/runtime/replay.c), offline.
 *
 * The record comes from THEATER_HOME (chains and store opened read-only,
 * so this works beside a running daemon and without one) or from a file
 * written by `theater chain export` (its component lines, if exported
 * --with-components, else the home's store).  A file is read as it is,
 * not verified: replaying an edited file is how one asks what the edit
 * changes (`theater chain verify-file` checks integrity).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "base/base64.h"
#include "base/hex.h"
#include "base/limits.h"
#include "cli/cli.h"
#include "cli/client.h"
#include "cli/event_text.h"
#include "cli/ids.h"
#include "theater/chain.h"
#include "theater/handlers.h"
#include "theater/runtime.h"
#include "theater/store.h"

static const char replay_help[] =
    "usage: theater replay ID|FILE [--component WASM] [--until SEQ] [--home DIR] [--json]\n"
    "\n"
    "Re-run an actor from its chain: its recorded component (from the home's\n"
    "store, or the file's component lines) is instantiated again and called with\n"
    "the recorded messages in their order, under the same limits; every host\n"
    "call is answered with its recorded output (nothing is sent, read, timed or\n"
    "drawn), and every event the actor produces is compared with the recorded\n"
    "one.\n"
    "\n"
    "  ID              an actor of this home (id or unique prefix); works with or\n"
    "                  without a running daemon (read-only)\n"
    "  FILE            a file of `theater chain export` (read as it is, not\n"
    "                  verified: replay an edited file to see what changes)\n"
    "  --component W   replay the record against other code (would the new\n"
    "                  version have behaved the same?)\n"
    "  --until SEQ     stop after event SEQ\n"
    "  --home DIR      THEATER_HOME (default $THEATER_HOME, else ~/.theater)\n"
    "  --json          the verdict as one JSON object\n"
    "  -h, --help      show this help\n"
    "Options with a value may also be written --NAME=VALUE.\n"
    "\n"
    "exit status: 0 \"replayed N events: identical\"; 1 \"diverged at event SEQ\n"
    "(TYPE): recorded ..., replayed ...\" naming the first difference (or an\n"
    "error); 2 usage.\n";

/* The record: events and, from a file, its components. */
typedef struct rec_src {
    th_chain_events evs;
    char actor[CLI_ID_MAX + 1];
    struct comp {
        char hash[65];
        uint8_t *bytes;
        size_t len;
    } * comps;
    size_t ncomps;
    /* from a file, the events' strings and data are owned here */
    char **strs;
    size_t nstrs;
    th_chain *chain;
    th_chain_stream *stream; /* `theater replay ID`: read while replayed */
    th_store *store;
    int from_file;
} rec_src;

static void src_free(rec_src *s)
{
    size_t i;

    if (s->from_file) {
        for (i = 0; i < s->evs.count; i++)
            free((void *)s->evs.items[i].data);
        free(s->evs.items);
        for (i = 0; i < s->nstrs; i++)
            free(s->strs[i]);
        free(s->strs);
    } else {
        th_chain_events_free(&s->evs);
    }
    th_chain_stream_close(s->stream, NULL);
    for (i = 0; i < s->ncomps; i++)
        free(s->comps[i].bytes);
    free(s->comps);
    th_store_close(s->store);
    th_chain_close(s->chain);
    memset(s, 0, sizeof *s);
}

static int keep_str(rec_src *s, const char *v, const char **out, th_error *err)
{
    char **n = realloc(s->strs, (s->nstrs + 1) * sizeof *n);

    if (n == NULL)
        return th_error_set(err, TH_ENOMEM, "out of memory");
    s->strs = n;
    if ((n[s->nstrs] = strdup(v)) == NULL)
        return th_error_set(err, TH_ENOMEM, "out of memory");
    *out = n[s->nstrs++];
    return 0;
}

static int b64(const json_t *v, uint8_t **out, size_t *len)
{
    if (!json_is_string(v) || (*out = malloc(json_string_length(v) / 4 * 3 + 1)) == NULL)
        return -1;
    if (base_base64_decode(json_string_value(v), json_string_length(v), *out, len) != 0) {
        free(*out);
        *out = NULL;
        return -1;
    }
    return 0;
}

/* One line of an export file into the record. */
static int file_line(rec_src *s, json_t *o, size_t lineno, th_error *err)
{
    const char *kind = json_string_value(json_object_get(o, "kind"));
    th_chain_event *ev;
    void *grown;

    if (kind == NULL)
        return th_error_set(err, TH_EINVAL, "line %zu: not a line of an export", lineno);
    if (strcmp(kind, "chain") == 0) {
        const char *a = json_string_value(json_object_get(o, "actor"));
        snprintf(s->actor, sizeof s->actor, "%s", a ? a : "?");
    } else if (strcmp(kind, "component") == 0) {
        const char *h = json_string_value(json_object_get(o, "hash"));
        struct comp *c;
        if (h == NULL || strlen(h) != 64)
            return th_error_set(err, TH_EINVAL, "line %zu: malformed component", lineno);
        if ((grown = realloc(s->comps, (s->ncomps + 1) * sizeof *s->comps)) == NULL)
            return th_error_set(err, TH_ENOMEM, "out of memory");
        s->comps = grown;
        c = &s->comps[s->ncomps];
        snprintf(c->hash, sizeof c->hash, "%s", h);
        if (b64(json_object_get(o, "data"), &c->bytes, &c->len) != 0)
            return th_error_set(err, TH_EINVAL, "line %zu: malformed component", lineno);
        s->ncomps++;
    } else if (strcmp(kind, "event") == 0) {
        const json_t *t = json_object_get(o, "event_type"), *seq = json_object_get(o, "seq");
        if (!json_is_string(t) || !json_is_integer(seq) ||
            (uint64_t)json_integer_value(seq) != s->evs.count)
            return th_error_set(err, TH_EINVAL, "line %zu: malformed event (or out of order)",
                                lineno);
        grown = realloc(s->evs.items, (s->evs.count + 1) * sizeof *s->evs.items);
        if (grown == NULL)
            return th_error_set(err, TH_ENOMEM, "out of memory");
        s->evs.items = grown;
        ev = &s->evs.items[s->evs.count];
        memset(ev, 0, sizeof *ev);
        ev->seq = s->evs.count;
        ev->actor = s->actor;
        if (keep_str(s, json_string_value(t), &ev->type, err) != 0)
            return TH_ENOMEM;
        if (b64(json_object_get(o, "data"), (uint8_t **)&ev->data, &ev->data_len) != 0)
            return th_error_set(err, TH_EINVAL, "line %zu: event data is not base64", lineno);
        s->evs.count++;
        /* hashes and time: what runtime.get-chain returned is answered
         * from them (docs/replay.md); not checked (verify-file does) */
        {
            const char *h = json_string_value(json_object_get(o, "hash"));
            const char *ph = json_string_value(json_object_get(o, "parent_hash"));
            json_t *ts = json_object_get(o, "timestamp");
            if (h != NULL && strlen(h) == 2 * TH_CHAIN_HASH_LEN)
                base_hex_decode(h, ev->hash, TH_CHAIN_HASH_LEN);
            if (ph != NULL && strlen(ph) == 2 * TH_CHAIN_HASH_LEN)
                ev->has_parent = base_hex_decode(ph, ev->parent, TH_CHAIN_HASH_LEN) == 0;
            if (json_is_integer(ts) && json_integer_value(ts) >= 0)
                ev->timestamp_ms = (uint64_t)json_integer_value(ts);
        }
    }
    return 0; /* the head and unknown lines: not needed to replay */
}

static int load_file(rec_src *s, const char *path, th_error *err)
{
    FILE *f = fopen(path, "rb");
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    ssize_t n;
    json_t *o;
    int rc = 0;

    s->from_file = 1;
    if (f == NULL)
        return th_error_set(err, TH_EIO, "cannot open %s: %s", path, strerror(errno));
    while (rc == 0 && (n = getline(&line, &cap, f)) >= 0) {
        lineno++;
        if ((size_t)n > TH_CHAIN_MAX_JSONL_LINE) {
            rc = th_error_set(err, TH_ETOOBIG, "%s: line %zu is too long", path, lineno);
            break;
        }
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        if (n == 0)
            continue;
        o = json_loadb(line, (size_t)n, 0, NULL);
        if (!json_is_object(o))
            rc = th_error_set(err, TH_EINVAL, "%s: line %zu is not JSON", path, lineno);
        else
            rc = file_line(s, o, lineno, err);
        json_decref(o);
    }
    free(line);
    fclose(f);
    if (rc == 0 && s->evs.count == 0)
        rc = th_error_set(err, TH_EINVAL, "%s holds no events", path);
    return rc;
}

static int load_home(rec_src *s, const char *home, const char *arg, bool stream, th_error *err)
{
    th_chain_config cc = {0};
    th_store_config sc = {0};
    th_chain_actors l = {0};
    th_chain_query q = {0};
    const char **names = NULL;
    const char *full;
    cli_ids ids = {0};
    size_t i;
    int rc;

    cc.home = home;
    cc.read_only = 1;
    if ((rc = th_chain_open(&cc, &s->chain, err)) != 0)
        return rc;
    if ((rc = th_chain_list_actors(s->chain, &l, err)) != 0)
        return rc;
    if ((names = calloc(l.count ? l.count : 1, sizeof *names)) == NULL)
        rc = th_error_set(err, TH_ENOMEM, "out of memory");
    for (i = 0; rc == 0 && i < l.count; i++)
        names[i] = l.items[i].name;
    if (rc == 0 && cli_ids_init(&ids, names, l.count) != 0)
        rc = th_error_set(err, TH_ENOMEM, "out of memory");
    if (rc == 0 && (rc = cli_ids_resolve(&ids, arg, &full, err)) == TH_ENOENT)
        th_error_set(err, TH_ENOENT, "no chain of an actor '%s' here (nor such a file)", arg);
    if (rc == 0) {
        snprintf(s->actor, sizeof s->actor, "%s", full);
        q.actor = s->actor;
        /* a stream: the replay runs the events while the rest is read */
        rc = stream ? th_chain_stream_open(s->chain, s->actor, &s->stream, err)
                    : th_chain_read(s->chain, &q, &s->evs, err);
    }
    free(names);
    cli_ids_release(&ids);
    th_chain_actors_free(&l);
    sc.home = home;
    sc.read_only = 1;
    if (rc == 0 && th_store_open(&sc, &s->store, NULL) != 0)
        s->store = NULL; /* no store: only --component can be replayed */
    return rc;
}

static int file_component(void *ud, const char *hash, uint8_t **bytes, size_t *len, th_error *err)
{
    rec_src *s = ud;
    size_t i;

    for (i = 0; i < s->ncomps; i++) {
        if (strcmp(s->comps[i].hash, hash) == 0) {
            if ((*bytes = malloc(s->comps[i].len + 1)) == NULL)
                return th_error_set(err, TH_ENOMEM, "out of memory");
            memcpy(*bytes, s->comps[i].bytes, s->comps[i].len);
            *len = s->comps[i].len;
            return 0;
        }
    }
    if (s->store != NULL)
        return th_runtime_component_read(s->store, hash, bytes, len, err);
    return th_error_set(err, TH_ENOENT,
                        "component %s is not in the file (export it --with-components)", hash);
}

/* The record of `arg`; from the home, read while it is replayed if
 * `stream` (then only cli_replay_run and cli_replay_end may look at it). */
static int load(const char *home, const char *arg, bool stream, cli_replay_src **out, th_error *err)
{
    rec_src *s = calloc(1, sizeof *s);
    struct stat st;
    int rc;

    *out = NULL;
    if (s == NULL)
        return th_error_set(err, TH_ENOMEM, "out of memory");
    if (stat(arg, &st) == 0 && S_ISREG(st.st_mode)) {
        rc = load_file(s, arg, err);
        if (rc == 0) { /* components not in the file: from the home, if any */
            th_store_config sc = {0};
            sc.home = home;
            sc.read_only = 1;
            if (th_store_open(&sc, &s->store, NULL) != 0)
                s->store = NULL;
        }
    } else {
        rc = load_home(s, home, arg, stream, err);
    }
    if (rc != 0) {
        src_free(s);
        free(s);
        return rc;
    }
    *out = (cli_replay_src *)s;
    return 0;
}

int cli_replay_load(const char *home, const char *arg, cli_replay_src **out, th_error *err)
{
    return load(home, arg, false, out, err);
}

/* The end of a record read while it was replayed: TH_OK, or the read's
 * error (a damaged segment beyond where the replay stopped). */
static int replay_end(cli_replay_src *src, th_error *err)
{
    rec_src *s = (rec_src *)src;
    int rc = th_chain_stream_close(s->stream, err);

    s->stream = NULL;
    return rc;
}

void cli_replay_free(cli_replay_src *src)
{
    if (src != NULL) {
        src_free((rec_src *)src);
        free(src);
    }
}

const char *cli_replay_actor(const cli_replay_src *src)
{
    return ((const rec_src *)src)->actor;
}

int cli_replay_run(cli_replay_src *src, const uint8_t *component, size_t component_len,
                   uint64_t until, th_runtime_replay_state_fn fn, void *ud,
                   th_runtime_replay_result *res, char **backtrace, th_error *err)
{
    rec_src *s = (rec_src *)src;
    th_runtime_replay_opts o;

    memset(&o, 0, sizeof o);
    if (s->stream != NULL)
        o.stream = s->stream;
    else
        o.events = &s->evs;
    o.store = s->store;
    if (s->from_file) {
        o.component_fn = file_component;
        o.component_ud = s;
    }
    o.handlers = th_handlers_builtin();
    o.component = component;
    o.component_len = component_len;
    o.until = until;
    o.state_fn = fn;
    o.state_ud = ud;
    o.backtrace = backtrace;
    return th_runtime_replay(&o, res, err);
}

static int parse_seq(const char *s, uint64_t *out)
{
    char *end;

    errno = 0;
    *out = strtoull(s, &end, 10);
    return errno != 0 || end == s || *end != '\0' || s[0] == '-' ? -1 : 0;
}

int cli_cmd_replay(int argc, char **argv)
{
    static const char *const vals[] = {"--home", "--component", "--until", NULL};
    const char *home = NULL, *comp_path = NULL, *target = NULL, *v;
    uint64_t until = UINT64_MAX;
    int json = 0, i, k, rc;
    uint8_t *comp = NULL;
    size_t comp_len = 0;
    cli_replay_src *src = NULL;
    th_runtime_replay_result res;
    th_error err;
    char *bt = NULL;

    for (i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            fputs(replay_help, stdout);
            return 0;
        } else if ((k = cli_opt_value(argc, argv, &i, "replay", vals, &v)) == 0) {
            home = v;
        } else if (k == 1) {
            comp_path = v;
        } else if (k == 2) {
            if (parse_seq(v, &until) != 0) {
                cli_errorf("replay: --until wants a sequence number");
                return CLI_EXIT_USAGE;
            }
        } else if (k == CLI_OPT_NO_VALUE) {
            return CLI_EXIT_USAGE;
        } else if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            cli_errorf("replay: unknown option '%s' (see `theater replay --help`)", argv[i]);
            return CLI_EXIT_USAGE;
        } else if (target == NULL) {
            target = argv[i];
        } else {
            cli_errorf("replay: too many arguments");
            return CLI_EXIT_USAGE;
        }
    }
    if (target == NULL) {
        cli_errorf("replay: missing ID or FILE (see `theater replay --help`)");
        return CLI_EXIT_USAGE;
    }
    if (comp_path != NULL &&
        (comp = cli_read_file_max(comp_path, "component", TH_WASM_MAX_MODULE_BYTES, &comp_len)) ==
            NULL)
        return 1;
    th_error_clear(&err);
    memset(&res, 0, sizeof res);
    rc = load(home, target, until == UINT64_MAX, &src, &err);
    if (rc == 0)
        rc = cli_replay_run(src, comp, comp_len, until, NULL, NULL, &res, &bt, &err);
    if (src != NULL) { /* a record damaged beyond where the replay stopped: that, not the verdict */
        int end = replay_end(src, rc == 0 ? &err : NULL);
        if (rc == 0)
            rc = end;
    }
    if (rc != 0) {
        cli_errorf("replay: %s", err.msg[0] ? err.msg : th_strerror(rc));
        cli_print_frames(stderr, bt); /* (a trap in the code's start function) */
    } else if (json) {
        json_t *o = json_pack("{s:s, s:I, s:b, s:s, s:b}", "actor", cli_replay_actor(src), "events",
                              (json_int_t)res.events, "identical", !res.diverged, "component",
                              res.component, "open_end", res.open_end);
        if (o != NULL && res.diverged) {
            json_object_set_new(o, "seq", json_integer((json_int_t)res.seq));
            json_object_set_new(o, "type", json_string(res.type));
            json_object_set_new(o, "recorded", json_string(res.recorded));
            json_object_set_new(o, "replayed", json_string(res.replayed));
        }
        if (o != NULL)
            json_dumpf(o, stdout, JSON_COMPACT);
        fputc('\n', stdout);
        json_decref(o);
    } else if (res.diverged) {
        printf("diverged at event %" PRIu64 " (%s): recorded %s, replayed %s\n", res.seq, res.type,
               res.recorded, res.replayed);
    } else {
        printf("replayed %" PRIu64 " events: identical%s\n", res.events,
               res.open_end ? " (the record ends inside an operation: still running, or its "
                              "process ended)"
                            : "");
    }
    th_runtime_replay_result_release(&res);
    cli_replay_free(src);
    free(comp);
    free(bt);
    return rc != 0 || res.diverged ? 1 : 0;
}

/* `theater state ID --at SEQ`: the state right after event SEQ. */
int cli_replay_state_at(int argc, char **argv)
{
    static const char *const vals[] = {"--home", "--at", NULL};
    const char *home = NULL, *target = NULL, *val;
    uint64_t at = UINT64_MAX;
    int json = 0, i, k, rc;
    cli_replay_src *src = NULL;
    th_runtime_replay_result res;
    th_error err;
    json_t *v = NULL;
    char *bt = NULL;

    for (i = 1; i < argc; i++) {
        if ((k = cli_opt_value(argc, argv, &i, "state", vals, &val)) == 0) {
            home = val;
        } else if (k == 1) {
            if (parse_seq(val, &at) != 0) {
                cli_errorf("state: --at wants a sequence number");
                return CLI_EXIT_USAGE;
            }
        } else if (k == CLI_OPT_NO_VALUE) {
            return CLI_EXIT_USAGE;
        } else if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            cli_errorf("state: unknown option '%s' (see `theater state --help`)", argv[i]);
            return CLI_EXIT_USAGE;
        } else if (target == NULL) {
            target = argv[i];
        } else {
            cli_errorf("state: too many arguments");
            return CLI_EXIT_USAGE;
        }
    }
    if (target == NULL || at == UINT64_MAX) {
        cli_errorf("state: missing ID or --at SEQ (see `theater state --help`)");
        return CLI_EXIT_USAGE;
    }
    th_error_clear(&err);
    memset(&res, 0, sizeof res);
    rc = cli_replay_load(home, target, &src, &err);
    if (rc == 0 && at >= ((rec_src *)src)->evs.count)
        rc = th_error_set(&err, TH_ENOENT, "the chain has %zu events (0..%zu)",
                          ((rec_src *)src)->evs.count, ((rec_src *)src)->evs.count - 1);
    if (rc == 0)
        rc = cli_replay_run(src, NULL, 0, at, NULL, NULL, &res, &bt, &err);
    if (rc == 0 && res.diverged)
        rc = th_error_set(&err, TH_ECORRUPT,
                          "the replay diverged at event %" PRIu64 " (%s): recorded %s, replayed %s",
                          res.seq, res.type, res.recorded, res.replayed);
    if (rc != 0) {
        cli_errorf("state: %s", err.msg[0] ? err.msg : th_strerror(rc));
        cli_print_frames(stderr, bt);
    } else {
        if (res.has_state && !json)
            v = json_loadb((const char *)res.state, res.state_len, JSON_DECODE_ANY, NULL);
        if (json) {
            json_t *o = json_pack("{s:s, s:I}", "id", cli_replay_actor(src), "at", (json_int_t)at);
            cli_state_json_add(o, res.has_state, res.state, res.state_len);
            json_dumpf(o, stdout, JSON_COMPACT);
            fputc('\n', stdout);
            json_decref(o);
        } else if (!res.has_state) {
            printf("null\n");
        } else if (v != NULL) {
            json_dumpf(v, stdout, JSON_INDENT(2) | JSON_ENCODE_ANY);
            fputc('\n', stdout);
        } else {
            fwrite(res.state, 1, res.state_len, stdout);
        }
    }
    json_decref(v);
    th_runtime_replay_result_release(&res);
    cli_replay_free(src);
    free(bt);
    return rc != 0 ? 1 : 0;
}
