/*
 * cmd_chain.c - `theater chain`: list, read, verify, export and import
 * event chains, offline, directly on THEATER_HOME/theater.db (reads work
 * while a daemon appends; import needs the daemon stopped, since one process
 * appends at a time).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "base/base64.h"
#include "base/file.h"
#include "base/hex.h"
#include "cli/cli.h"
#include "theater/chain.h"
#include "theater/store.h"

static void chain_usage(FILE *out)
{
    fputs("usage: theater chain [--home DIR] <command> [args]\n"
          "\n"
          "Every actor's events form a hash chain (SHA-256); the head of each chain is\n"
          "signed with this home's Ed25519 key (chain.key) whenever events are stored.\n"
          "\n"
          "commands:\n"
          "  ls                                    actors with chains, their length and head\n"
          "  head ACTOR                            the signed head of ACTOR's chain\n"
          "  events ACTOR [--type T] [--limit N] [--json]\n"
          "                                        ACTOR's events (with --limit, the newest N),\n"
          "                                        oldest first; --json: JSON Lines\n"
          "  verify [ACTOR]                        recompute every hash, link and signature of\n"
          "                                        ACTOR's chain or of all chains\n"
          "  export ACTOR [-o FILE]                ACTOR's chain as JSON Lines (stdout)\n"
          "  verify-file FILE [--key HEX]          verify an exported chain (- = stdin); with\n"
          "                                        --key, its head must be signed by that key\n"
          "  import FILE                           verify and add an exported chain here\n"
          "\n"
          "options:\n"
          "  --home DIR    THEATER_HOME (default: $THEATER_HOME, else ~/.theater)\n"
          "\n"
          "verify, verify-file and import exit with status 1 and name the first bad\n"
          "event (actor, sequence number, what is wrong) if verification fails.\n",
          out);
}

typedef struct chain_args {
    const char *home, *type, *out, *key;
    size_t limit;
    int json;
    char *pos[4];
    int npos;
} chain_args;

static int parse(int argc, char **argv, chain_args *a)
{
    char *end;
    int i;

    memset(a, 0, sizeof *a);
    for (i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            chain_usage(stdout);
            return 1;
        } else if (strcmp(argv[i], "--home") == 0 && i + 1 < argc) {
            a->home = argv[++i];
        } else if (strcmp(argv[i], "--type") == 0 && i + 1 < argc) {
            a->type = argv[++i];
        } else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
            a->out = argv[++i];
        } else if (strcmp(argv[i], "--key") == 0 && i + 1 < argc) {
            a->key = argv[++i];
        } else if (strcmp(argv[i], "--json") == 0) {
            a->json = 1;
        } else if (strcmp(argv[i], "--limit") == 0 && i + 1 < argc) {
            errno = 0;
            a->limit = (size_t)strtoull(argv[++i], &end, 10);
            if (errno != 0 || *end != '\0' || a->limit == 0) {
                cli_errorf("chain: --limit wants a positive number");
                return 2;
            }
        } else if (strcmp(argv[i], "-") != 0 && argv[i][0] == '-') {
            cli_errorf("chain: unknown option '%s' (see `theater chain --help`)", argv[i]);
            return 2;
        } else if (a->npos < 4) {
            a->pos[a->npos++] = argv[i];
        } else {
            cli_errorf("chain: too many arguments");
            return 2;
        }
    }
    if (a->npos == 0) {
        chain_usage(stderr);
        return 2;
    }
    return 0;
}

static const char *iso_time(uint64_t ms, char *buf, size_t cap)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;

    size_t n;

    gmtime_r(&t, &tm);
    n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, cap - n, ".%03uZ", (unsigned)(ms % 1000));
    return buf;
}

static int cmd_ls(th_chain *c, th_error *err)
{
    th_chain_actors l = {0};
    char hex[65], when[40];
    size_t i;
    int rc;

    if ((rc = th_chain_list_actors(c, &l, err)) != TH_OK)
        return rc;
    for (i = 0; i < l.count; i++)
        printf("%s  %" PRIu64 " events  head %.16s  signed %s\n", l.items[i].name,
               l.items[i].head.count, base_hex_encode(l.items[i].head.hash, 32, hex),
               iso_time(l.items[i].head.signed_ms, when, sizeof when));
    th_chain_actors_free(&l);
    return TH_OK;
}

static int cmd_head(th_chain *c, const char *actor, th_error *err)
{
    th_chain_head h;
    char hex[65], when[40];
    int rc;

    if ((rc = th_chain_head_get(c, actor, &h, err)) != TH_OK)
        return rc;
    printf("actor      %s\nevents     %" PRIu64 "\nhead seq   %" PRIu64 "\nhead hash  %s\n", actor,
           h.count, h.seq, base_hex_encode(h.hash, 32, hex));
    printf("signed     %s\nsigner key %s\n", iso_time(h.signed_ms, when, sizeof when),
           base_hex_encode(h.public_key, 32, hex));
    return TH_OK;
}

static void print_json(const th_chain_event *ev)
{
    char *b64 = malloc(base_base64_encoded_size(ev->data_len));
    char hash[65], parent[65];
    json_t *o;

    if (b64 == NULL)
        return;
    base_base64_encode(ev->data, ev->data_len, b64);
    o = json_pack("{s:s, s:I, s:s, s:s?, s:s, s:I, s:s, s:s?}", "actor", ev->actor, "seq",
                  (json_int_t)ev->seq, "hash", base_hex_encode(ev->hash, 32, hash), "parent_hash",
                  ev->has_parent ? base_hex_encode(ev->parent, 32, parent) : NULL, "event_type",
                  ev->type, "timestamp", (json_int_t)ev->timestamp_ms, "data", b64, "description",
                  ev->description);
    if (o != NULL) {
        json_dumpf(o, stdout, JSON_COMPACT | JSON_ENSURE_ASCII);
        fputc('\n', stdout);
        json_decref(o);
    }
    free(b64);
}

/* Data shown as text if printable, else as a hex prefix. */
static void print_text(const th_chain_event *ev)
{
    char hex[65], when[40];
    size_t i, n = ev->data_len < 60 ? ev->data_len : 60;
    int printable = 1;

    for (i = 0; i < n; i++)
        if (ev->data[i] < 0x20 || ev->data[i] > 0x7e)
            printable = 0;
    printf("%6" PRIu64 "  %s  %.12s  %-20s %6zu B  ", ev->seq,
           iso_time(ev->timestamp_ms, when, sizeof when), base_hex_encode(ev->hash, 32, hex),
           ev->type, ev->data_len);
    if (printable)
        printf("\"%.*s\"%s", (int)n, (const char *)ev->data, n < ev->data_len ? "..." : "");
    else
        for (i = 0; i < n && i < 24; i++)
            printf("%02x", ev->data[i]);
    if (ev->description != NULL)
        printf("  (%s)", ev->description);
    putchar('\n');
}

static int cmd_events(th_chain *c, const chain_args *a, th_error *err)
{
    th_chain_events evs = {0};
    th_chain_query q = {0};
    size_t i;
    int rc;

    q.actor = a->pos[1];
    q.type = a->type;
    q.limit = a->limit;
    q.newest = a->limit != 0;
    if ((rc = th_chain_read(c, &q, &evs, err)) != TH_OK)
        return rc;
    for (i = 0; i < evs.count; i++) {
        if (a->json)
            print_json(&evs.items[i]);
        else
            print_text(&evs.items[i]);
    }
    th_chain_events_free(&evs);
    return TH_OK;
}

/* Set when report() printed a verification verdict, so the error is not
 * printed twice. */
static int g_reported;

static int report(int rc, const th_chain_verify_result *res, const char *what)
{
    g_reported = rc == TH_OK || (rc == TH_ECORRUPT && res->problem != TH_CHAIN_OK);
    if (rc == TH_OK)
        printf("ok: %s: %" PRIu64 " chain%s, %" PRIu64 " events verified\n", what, res->actors,
               res->actors == 1 ? "" : "s", res->events);
    else if (rc == TH_ECORRUPT && res->problem != TH_CHAIN_OK)
        printf("FAILED: %s: actor %s, event %" PRIu64 ": %s: %s\n", what, res->actor, res->seq,
               th_chain_problem_name(res->problem), res->detail);
    return rc;
}

static int cmd_file(th_chain *c, const chain_args *a, th_error *err)
{
    th_chain_verify_result res;
    uint8_t key[32];
    FILE *in;
    int rc;

    if (a->key != NULL && base_hex_decode(a->key, key, sizeof key) != 0)
        return th_error_set(err, TH_EINVAL, "--key wants 64 hex digits");
    /* a regular file only (a FIFO must not block here, holding the home's
     * writer lock during an import); lines are bounded while reading */
    if (strcmp(a->pos[1], "-") == 0)
        in = stdin;
    else if ((rc = base_file_fopen(a->pos[1], "chain file", UINT64_MAX, &in, err)) != TH_OK)
        return rc;
    if (c != NULL)
        rc = th_chain_import(c, in, &res, err);
    else
        rc = th_chain_verify_file(in, a->key ? key : NULL, &res, err);
    if (in != stdin)
        fclose(in);
    rc = report(rc, &res, a->pos[1]);
    if (rc == TH_OK && c != NULL)
        printf("imported the chain of %s\n", res.actor[0] ? res.actor : "(actor)");
    return rc;
}

/* Every failure names the file and the problem: errors about the database
 * that do not name it get its path in front. */
static void print_error(const char *cmd, const char *home, const th_error *err, int rc)
{
    char dir[4096], db[4200];
    th_error e2;

    if (err->msg[0] == '\0') {
        cli_errorf("chain %s: %s", cmd, th_strerror(rc));
        return;
    }
    if ((rc == TH_ECORRUPT || rc == TH_EIO || rc == TH_EVERSION || rc == TH_EBUSY) &&
        th_home_resolve(home, dir, sizeof dir, &e2) == TH_OK) {
        snprintf(db, sizeof db, "%s/theater.db", dir);
        if (strstr(err->msg, dir) == NULL) {
            cli_errorf("chain %s: %s: %s", cmd, db, err->msg);
            return;
        }
    }
    cli_errorf("chain %s: %s", cmd, err->msg);
}

int cli_cmd_chain(int argc, char **argv)
{
    th_chain_config cfg = {0};
    th_chain_verify_result res;
    th_chain *c = NULL;
    th_error err = {0};
    chain_args a;
    const char *cmd;
    FILE *out;
    int rc, want;

    if ((rc = parse(argc, argv, &a)) != 0)
        return rc == 1 ? 0 : rc;
    cmd = a.pos[0];
    want = strcmp(cmd, "ls") == 0 ? 1 : strcmp(cmd, "verify") == 0 ? -2 : 2;
    if (strcmp(cmd, "ls") && strcmp(cmd, "head") && strcmp(cmd, "events") &&
        strcmp(cmd, "verify") && strcmp(cmd, "export") && strcmp(cmd, "verify-file") &&
        strcmp(cmd, "import")) {
        cli_errorf("chain: unknown command '%s' (see `theater chain --help`)", cmd);
        return 2;
    }
    if ((want > 0 && a.npos != want) || (want == -2 && a.npos > 2)) {
        cli_errorf("chain %s: wrong number of arguments (see `theater chain --help`)", cmd);
        return 2;
    }
    if (strcmp(cmd, "verify-file") == 0) {
        rc = cmd_file(NULL, &a, &err);
        goto out;
    }
    cfg.home = a.home;
    cfg.read_only = strcmp(cmd, "import") != 0;
    if ((rc = th_chain_open(&cfg, &c, &err)) != TH_OK)
        goto out;
    if (strcmp(cmd, "ls") == 0) {
        rc = cmd_ls(c, &err);
    } else if (strcmp(cmd, "head") == 0) {
        rc = cmd_head(c, a.pos[1], &err);
    } else if (strcmp(cmd, "events") == 0) {
        rc = cmd_events(c, &a, &err);
    } else if (strcmp(cmd, "verify") == 0) {
        rc = report(th_chain_verify(c, a.npos > 1 ? a.pos[1] : NULL, &res, &err), &res,
                    a.npos > 1 ? a.pos[1] : "all chains");
    } else if (strcmp(cmd, "export") == 0) {
        out = a.out ? fopen(a.out, "wb") : stdout;
        if (out == NULL) {
            rc = th_error_set(&err, TH_EIO, "cannot create %s: %s", a.out, strerror(errno));
            goto out;
        }
        rc = th_chain_export(c, a.pos[1], out, &err);
        if (out != stdout && fclose(out) != 0 && rc == TH_OK)
            rc = th_error_set(&err, TH_EIO, "cannot write %s", a.out);
    } else {
        rc = cmd_file(c, &a, &err);
    }
out:
    if (c != NULL && th_chain_close(c) != TH_OK && rc == TH_OK)
        rc = th_error_set(&err, TH_EIO, "storing the imported events failed");
    if (rc != TH_OK && !g_reported)
        print_error(cmd, a.home, &err, rc);
    return rc == TH_OK ? 0 : 1;
}
