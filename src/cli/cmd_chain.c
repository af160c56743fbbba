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

#include "base/file.h"
#include "base/hex.h"
#include "cli/cli.h"
#include "cli/event_text.h"
#include "cli/ids.h"
#include "theater/chain.h"
#include "theater/store.h"
#include "theater/home.h"

static void chain_usage(FILE *out)
{
    fputs("usage: theater chain [--home DIR] <command> [args]\n"
          "\n"
          "Every actor's events form a hash chain (SHA-256); the head of each chain is\n"
          "signed with this home's Ed25519 key (chain.key) whenever events are stored.\n"
          "\n"
          "commands:\n"
          "  ls [--json] [--wide]                  actors with chains: short id, name, length,\n"
          "                                        head\n"
          "  head ACTOR                            the signed head of ACTOR's chain\n"
          "  events ACTOR [--type T] [--limit N] [--wide | --json] [--state]\n"
          "                                        ACTOR's events in words (with --limit, the\n"
          "                                        newest N), oldest first; --wide: every value\n"
          "                                        whole; --json: JSON Lines (docs/events.md);\n"
          "                                        --state: after each call, the state it left\n"
          "                                        (computed by replay, `theater replay`)\n"
          "  verify [ACTOR]                        recompute every hash, link and signature of\n"
          "                                        ACTOR's chain or of all chains\n"
          "  export ACTOR [-o FILE] [--with-components]\n"
          "                                        ACTOR's chain as JSON Lines (stdout); with\n"
          "                                        --with-components also the code it ran, so\n"
          "                                        the file alone can be replayed\n"
          "  verify-file FILE [--key HEX]          verify an exported chain (- = stdin) and say\n"
          "                                        who signed it; the signer must be trusted\n"
          "                                        here (see trust), or be --key\n"
          "  import FILE [--allow-untrusted]       verify and add an exported chain here; its\n"
          "                                        signer must be trusted unless allowed\n"
          "  key                                   this home's public key and fingerprint, to\n"
          "                                        publish to those who verify its chains\n"
          "  trust ls                              the keys whose signatures this home trusts\n"
          "  trust add KEY [NOTE]                  trust KEY (64 hex digits) for verify-file\n"
          "                                        and import\n"
          "  trust rm KEY|FINGERPRINT              stop trusting it (the home's own key stays)\n"
          "\n"
          "options:\n"
          "  --home DIR    THEATER_HOME (default: $THEATER_HOME, else ~/.theater)\n"
          "  --json        machine output: JSON Lines for ls and events, one JSON object\n"
          "                (an array for trust ls) for the others; export writes JSON\n"
          "                Lines either way (docs/api.md: the JSON forms)\n"
          "  -h, --help    show this help\n"
          "Options with a value may also be written --NAME=VALUE (--home=DIR).\n"
          "\n"
          "ACTOR is an actor id or any unique prefix of one (as `chain ls` prints it).\n"
          "Event types: actor-spawned, wasm-call, wasm-result, host-call, actor-failed,\n"
          "supervisor-action, actor-restarted, actor-stopped, message-dropped,\n"
          "init-skipped, component-updated, actor-restored.\n"
          "\n"
          "verify, verify-file and import exit with status 1 and name the first bad\n"
          "event (actor, sequence number, what is wrong) if verification fails; an\n"
          "intact file signed by an untrusted key also fails, naming the signer's\n"
          "fingerprint (docs/security.md: what verification proves). With --json they\n"
          "print {\"ok\": false, ..., \"problems\": [{\"actor\", \"seq\", \"what\",\n"
          "\"detail\"}]} and exit 1 too.\n",
          out);
}

typedef struct chain_args {
    const char *home, *type, *out, *key;
    size_t limit;
    int json, wide, allow_untrusted, with_components, state;
    char *pos[4];
    int npos;
} chain_args;

static int parse(int argc, char **argv, chain_args *a)
{
    static const char *const vals[] = {"--home", "--type", "-o", "--key", "--limit", NULL};
    const char *v;
    char *end;
    int i, k;

    memset(a, 0, sizeof *a);
    for (i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            chain_usage(stdout);
            return 1;
        } else if ((k = cli_opt_value(argc, argv, &i, "chain", vals, &v)) == 0) {
            a->home = v;
        } else if (k == 1) {
            a->type = v;
        } else if (k == 2) {
            a->out = v;
        } else if (k == 3) {
            a->key = v;
        } else if (k == 4) {
            errno = 0;
            a->limit = (size_t)strtoull(v, &end, 10);
            if (errno != 0 || *end != '\0' || a->limit == 0 || *v < '0' || *v > '9') {
                cli_errorf("chain: --limit wants a positive number");
                return 2;
            }
        } else if (k == CLI_OPT_NO_VALUE) {
            return 2;
        } else if (strcmp(argv[i], "--json") == 0) {
            a->json = 1;
        } else if (strcmp(argv[i], "--wide") == 0) {
            a->wide = 1;
        } else if (strcmp(argv[i], "--allow-untrusted") == 0) {
            a->allow_untrusted = 1;
        } else if (strcmp(argv[i], "--with-components") == 0) {
            a->with_components = 1;
        } else if (strcmp(argv[i], "--state") == 0) {
            a->state = 1;
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
    if (a->type != NULL && !cli_event_type_known(a->type)) {
        cli_errorf("chain: unknown event type '%s'; the types are: %s", a->type,
                   cli_event_types_joined());
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

/* --json: print `o` (stolen; NULL = out of memory) on one line. */
static int print_json(json_t *o, th_error *err)
{
    int bad;

    if (o == NULL)
        return th_error_set(err, TH_ENOMEM, "out of memory");
    bad = json_dumpf(o, stdout, JSON_COMPACT) != 0;
    bad |= putchar('\n') == EOF;
    json_decref(o);
    return bad ? th_error_set(err, TH_EIO, "cannot write to stdout") : TH_OK;
}

/* Every actor with a chain, as a set for short ids and prefixes.  *l is
 * filled too (sorted by id); free both. */
static int load_ids(th_chain *c, th_chain_actors *l /* out */, cli_ids *ids /* out */,
                    th_error *err)
{
    const char **names;
    size_t i;
    int rc;

    memset(ids, 0, sizeof *ids);
    if ((rc = th_chain_list_actors(c, l, err)) != TH_OK)
        return rc;
    names = calloc(l->count ? l->count : 1, sizeof *names);
    if (names == NULL)
        return th_error_set(err, TH_ENOMEM, "out of memory");
    for (i = 0; i < l->count; i++)
        names[i] = l->items[i].name;
    rc = cli_ids_init(ids, names, l->count);
    free(names);
    if (rc != TH_OK)
        return th_error_set(err, rc, "out of memory");
    return TH_OK;
}

/* Resolve ACTOR (a full id or a unique prefix of one) against the chains
 * here; *out is malloc'd.  `ids` (may be NULL) receives the set, which the
 * caller then releases. */
static int resolve_actor(th_chain *c, const char *arg, char **out /* out */, cli_ids *ids_out,
                         th_error *err)
{
    th_chain_actors l = {0};
    cli_ids ids;
    const char *full;
    int rc;

    *out = NULL;
    if ((rc = load_ids(c, &l, &ids, err)) == TH_OK) {
        rc = cli_ids_resolve(&ids, arg, &full, err);
        if (rc == TH_ENOENT)
            th_error_set(err, TH_ENOENT, "no chain of an actor '%s' here", arg);
        if (rc == TH_OK && (*out = strdup(full)) == NULL)
            rc = th_error_set(err, TH_ENOMEM, "out of memory");
    }
    th_chain_actors_free(&l);
    if (ids_out != NULL && rc == TH_OK)
        *ids_out = ids;
    else
        cli_ids_release(&ids);
    return rc;
}

/* The actor's name, from its actor-spawned event (malloc'd), or NULL. */
static char *actor_name(th_chain *c, const char *id)
{
    th_chain_events evs = {0};
    th_chain_query q = {0};
    json_t *d = NULL;
    char *name = NULL;

    q.actor = id;
    q.to_seq = 1;
    q.limit = 1;
    if (th_chain_read(c, &q, &evs, NULL) != TH_OK)
        return NULL;
    if (evs.count == 1 && strcmp(evs.items[0].type, "actor-spawned") == 0)
        d = json_loadb((const char *)evs.items[0].data, evs.items[0].data_len, 0, NULL);
    if (json_is_string(json_object_get(d, "name")))
        name = strdup(json_string_value(json_object_get(d, "name")));
    json_decref(d);
    th_chain_events_free(&evs);
    return name;
}

static int cmd_ls(th_chain *c, const chain_args *a, th_error *err)
{
    th_chain_actors l = {0};
    cli_ids ids;
    char hex[65], when[40], idbuf[CLI_ID_MAX + 1], *name;
    size_t i, w = CLI_ID_SHORT_MIN, n;
    json_t *o;
    int rc;

    if ((rc = load_ids(c, &l, &ids, err)) != TH_OK)
        goto out;
    for (i = 0; i < l.count; i++)
        if ((n = a->wide ? strlen(l.items[i].name) : cli_ids_short_len(&ids, l.items[i].name)) > w)
            w = n;
    if (!a->json && l.count > 0)
        printf("%-*s  %-16s  %8s  %-16s  %s\n", (int)w, "ACTOR", "NAME", "EVENTS", "HEAD",
               "SIGNED");
    for (i = 0; i < l.count; i++) {
        th_chain_actor *x = &l.items[i];
        name = actor_name(c, x->name);
        base_hex_encode(x->head.hash, 32, hex);
        iso_time(x->head.signed_ms, when, sizeof when);
        if (a->json) {
            o = json_pack("{s:s, s:s?, s:I, s:I, s:s, s:I}", "actor", x->name, "name", name,
                          "events", (json_int_t)x->head.count, "head_seq", (json_int_t)x->head.seq,
                          "head", hex, "signed_ms", (json_int_t)x->head.signed_ms);
            if (o != NULL)
                json_dumpf(o, stdout, JSON_COMPACT);
            putchar('\n');
            json_decref(o);
        } else {
            printf("%-*s  %-16s  %8" PRIu64 "  %.16s  %s\n", (int)w,
                   a->wide ? x->name : cli_ids_short(&ids, x->name, idbuf, sizeof idbuf),
                   name ? name : "-", x->head.count, hex, when);
        }
        free(name);
    }
out:
    th_chain_actors_free(&l);
    cli_ids_release(&ids);
    return rc;
}

static int cmd_head(th_chain *c, const char *actor, int json, th_error *err)
{
    th_chain_head h;
    char hex[65], key[65], fp[TH_CHAIN_FINGERPRINT_SIZE], when[40], *full, *name;
    int rc;

    if ((rc = resolve_actor(c, actor, &full, NULL, err)) != TH_OK)
        return rc;
    if ((rc = th_chain_head_get(c, full, &h, err)) != TH_OK) {
        free(full);
        return rc;
    }
    name = actor_name(c, full);
    if (json) {
        th_chain_key_fingerprint(h.public_key, fp);
        rc = print_json(json_pack("{s:s, s:s?, s:I, s:I, s:s, s:I, s:s, s:s, s:s}", "actor", full,
                                  "name", name, "events", (json_int_t)h.count, "head_seq",
                                  (json_int_t)h.seq, "head", base_hex_encode(h.hash, 32, hex),
                                  "signed_ms", (json_int_t)h.signed_ms, "signed",
                                  iso_time(h.signed_ms, when, sizeof when), "signer_key",
                                  base_hex_encode(h.public_key, 32, key), "signer_fingerprint", fp),
                        err);
        free(name);
        free(full);
        return rc;
    }
    printf("actor      %s\nname       %s\nevents     %" PRIu64 "\nhead seq   %" PRIu64
           "\nhead hash  %s\n",
           full, name ? name : "-", h.count, h.seq, base_hex_encode(h.hash, 32, hex));
    printf("signed     %s\nsigner key %s\n", iso_time(h.signed_ms, when, sizeof when),
           base_hex_encode(h.public_key, 32, hex));
    free(name);
    free(full);
    return TH_OK;
}

/* --state: the actor's state after each call, by replay (cmd_replay.c). */
typedef struct states {
    struct st_item {
        uint64_t seq;
        bool has;
        uint8_t *bytes;
        size_t len;
    } * items;
    size_t count, cap;
    bool oom;
} states;

static void collect_state(void *ud, uint64_t seq, bool has, const uint8_t *state, size_t len)
{
    states *st = ud;
    struct st_item *v;

    if (st->count == st->cap) {
        size_t cap = st->cap ? st->cap * 2 : 64;
        if ((v = realloc(st->items, cap * sizeof *v)) == NULL) {
            st->oom = true;
            return;
        }
        st->items = v;
        st->cap = cap;
    }
    v = &st->items[st->count];
    v->seq = seq;
    v->has = has;
    v->len = len;
    v->bytes = NULL;
    if (has && (v->bytes = malloc(len + 1)) == NULL) {
        st->oom = true;
        return;
    }
    if (has && len)
        memcpy(v->bytes, state, len);
    st->count++;
}

/* "            state VALUE" after the event that left it, in the form
 * events show values in (cli_bytes_text: one line, text as text, else
 * hex). */
static int print_state(const struct st_item *it, const chain_args *a, th_error *err)
{
    char *shown = NULL;

    if (it->has &&
        (shown = cli_bytes_text(it->bytes, it->len, a->wide ? CLI_EVENT_WIDE : 0)) == NULL)
        return th_error_set(err, TH_ENOMEM, "out of memory");
    if (printf("            state %s\n", it->has ? shown : "none") < 0) {
        free(shown);
        return th_error_set(err, TH_EIO, "cannot write to stdout");
    }
    free(shown);
    return TH_OK;
}

/* One event, and with --state the state it left (`st`, NULL if none);
 * `content`: the home's store, for an event recorded by content reference. */
static int print_event(const th_chain_event *e, const cli_ids *ids, cli_content *content,
                       const chain_args *a, const struct st_item *st, th_error *err)
{
    cli_event ev = {e->actor,      e->seq,      e->type, e->timestamp_ms,
                    e->data,       e->data_len, e->hash, e->has_parent ? e->parent : NULL,
                    e->description};
    json_t *o;
    char *s;
    int bad;

    if (a->json) {
        if ((o = cli_event_json(&ev)) == NULL ||
            (st != NULL && cli_state_json_add(o, st->has, st->bytes, st->len) != 0)) {
            json_decref(o);
            return th_error_set(err, TH_ENOMEM, "out of memory");
        }
        bad = json_dumpf(o, stdout, JSON_COMPACT) != 0;
        json_decref(o);
        bad |= putchar('\n') == EOF;
    } else {
        if ((s = cli_event_text(&ev, ids, content, a->wide ? CLI_EVENT_WIDE : 0)) == NULL)
            return th_error_set(err, TH_ENOMEM, "out of memory");
        bad = fputs(s, stdout) == EOF;
        free(s);
        if (!bad && st != NULL)
            return print_state(st, a, err);
    }
    return bad ? th_error_set(err, TH_EIO, "cannot write to stdout") : TH_OK;
}

static int load_states(const chain_args *a, const char *full, states *st, th_error *err)
{
    cli_replay_src *src = NULL;
    th_runtime_replay_result res;
    int rc;

    memset(&res, 0, sizeof res);
    if ((rc = cli_replay_load(a->home, full, &src, err)) == TH_OK)
        rc = cli_replay_run(src, NULL, 0, UINT64_MAX, collect_state, st, &res, NULL, err);
    if (rc == TH_OK && st->oom)
        rc = th_error_set(err, TH_ENOMEM, "out of memory");
    if (rc == TH_OK && res.diverged)
        cli_errorf("chain events --state: the replay diverged at event %" PRIu64
                   " (%s): states are shown up to there",
                   res.seq, res.type);
    th_runtime_replay_result_release(&res);
    cli_replay_free(src);
    return rc;
}

static int cmd_events(th_chain *c, const chain_args *a, th_error *err)
{
    th_chain_events evs = {0};
    th_chain_query q = {0};
    cli_ids ids = {0};
    cli_content content;
    states st = {0};
    char *full = NULL;
    size_t i, k = 0;
    int rc;

    if ((rc = resolve_actor(c, a->pos[1], &full, &ids, err)) != TH_OK)
        return rc;
    cli_content_init(&content, a->home);
    if (a->state && (rc = load_states(a, full, &st, err)) != TH_OK)
        goto out;
    q.actor = full;
    q.type = a->type;
    q.limit = a->limit;
    q.newest = a->limit != 0;
    rc = th_chain_read(c, &q, &evs, err);
    for (i = 0; rc == TH_OK && i < evs.count; i++) {
        while (k < st.count && st.items[k].seq < evs.items[i].seq)
            k++;
        rc = print_event(&evs.items[i], &ids, &content, a,
                         k < st.count && st.items[k].seq == evs.items[i].seq ? &st.items[k] : NULL,
                         err);
    }
out:
    cli_content_release(&content);
    for (i = 0; i < st.count; i++)
        free(st.items[i].bytes);
    free(st.items);
    th_chain_events_free(&evs);
    cli_ids_release(&ids);
    free(full);
    return rc;
}

/* Set when report() printed a verification verdict, so the error is not
 * printed twice. */
static int g_reported;

/* Whether the problem found is at one chain's event (else the actor is
 * empty or "?": a key, a segment, a line before the file's header). */
static bool one_event(const th_chain_verify_result *res)
{
    return res->actor[0] != 0 && strcmp(res->actor, "?") != 0;
}

/* The verdict of a verification (rc, *res), if there is one (success, or a
 * problem found): in words, or with `jo` (--json; the command's other facts,
 * stolen) as {"ok", ...jo, "chains", "events", "problems": [{"actor", "seq",
 * "what", "detail"}]}, the first problem found.  Returns rc, or the error
 * of writing the JSON. */
static int report(int rc, const th_chain_verify_result *res, const char *what, json_t *jo,
                  th_error *err)
{
    json_t *o, *p;
    int prc;

    g_reported = rc == TH_OK || (rc == TH_ECORRUPT && res->problem != TH_CHAIN_OK);
    if (jo != NULL) {
        if (!g_reported) {
            json_decref(jo);
            return rc;
        }
        o = json_pack("{s:b}", "ok", rc == TH_OK);
        if (o == NULL || json_object_update(o, jo) != 0 ||
            json_object_set_new(o, "chains", json_integer((json_int_t)res->actors)) != 0 ||
            json_object_set_new(o, "events", json_integer((json_int_t)res->events)) != 0 ||
            json_object_set_new(o, "problems", json_array()) != 0) {
            json_decref(o);
            o = NULL;
        } else if (rc != TH_OK) {
            /* a problem of no one chain's event (a key, a segment, the
             * file's lines before its header): actor and seq null */
            p = json_pack("{s:s?, s:o, s:s, s:s}", "actor", one_event(res) ? res->actor : NULL,
                          "seq", one_event(res) ? json_integer((json_int_t)res->seq) : json_null(),
                          "what", th_chain_problem_name(res->problem), "detail", res->detail);
            if (p == NULL || json_array_append_new(json_object_get(o, "problems"), p) != 0) {
                json_decref(o);
                o = NULL;
            }
        }
        json_decref(jo);
        if ((prc = print_json(o, err)) != TH_OK) {
            g_reported = 0;
            return prc;
        }
        return rc;
    }
    if (rc == TH_OK)
        printf("ok: %s: %" PRIu64 " chain%s, %" PRIu64 " events verified\n", what, res->actors,
               res->actors == 1 ? "" : "s", res->events);
    else if (rc == TH_ECORRUPT && res->problem != TH_CHAIN_OK && !one_event(res))
        printf("FAILED: %s: %s: %s\n", what, th_chain_problem_name(res->problem), res->detail);
    else if (rc == TH_ECORRUPT && res->problem != TH_CHAIN_OK)
        printf("FAILED: %s: actor %s, event %" PRIu64 ": %s: %s\n", what, res->actor, res->seq,
               th_chain_problem_name(res->problem), res->detail);
    return rc;
}

/* Why the signer of a verified file is (not) trusted: "key" (the key given
 * with --key), "own" (this home's own key), "trusted_keys" (listed there)
 * or "untrusted". */
static const char *signer_trust(const th_chain_verify_result *res, const th_chain_trust *trust,
                                int by_key, int *index /* out */)
{
    *index = trust != NULL ? th_chain_trust_find(trust, res->signer) : -1;
    return by_key && res->signer_trusted             ? "key"
           : *index >= 0 && trust->items[*index].own ? "own"
           : *index >= 0                             ? "trusted_keys"
                                                     : "untrusted";
}

/* The signer of a verified file, and why it is (not) trusted. */
static void print_signer(const th_chain_verify_result *res, const th_chain_trust *trust, int by_key)
{
    char fp[TH_CHAIN_FINGERPRINT_SIZE], hex[65];
    const char *why;
    int i;

    if (!res->has_signer)
        return;
    th_chain_key_fingerprint(res->signer, fp);
    why = signer_trust(res, trust, by_key, &i);
    printf("signed by %s (%s): %s\n", fp, base_hex_encode(res->signer, 32, hex),
           strcmp(why, "key") == 0            ? "the key given with --key"
           : strcmp(why, "own") == 0          ? "trusted: this home's own key"
           : strcmp(why, "trusted_keys") == 0 ? "trusted: listed in trusted_keys"
                                              : "NOT trusted by this home");
}

/* --json of verify-file and import: the facts besides the verdict.  The
 * signer is named as in words: when the file is intact (`signer`). */
static json_t *file_json(const chain_args *a, int import, int rc, const th_chain_verify_result *res,
                         const th_chain_trust *trust, int signer)
{
    char fp[TH_CHAIN_FINGERPRINT_SIZE], hex[65];
    const char *why = NULL;
    json_t *o;
    int i = -1;

    signer = signer && res->has_signer;
    if (signer) {
        th_chain_key_fingerprint(res->signer, fp);
        base_hex_encode(res->signer, 32, hex);
        why = signer_trust(res, trust, a->key != NULL, &i);
    }
    o = json_pack("{s:s, s:s?, s:s?, s:s?, s:b, s:s?, s:s?}", "file", a->pos[1], "actor",
                  one_event(res) ? res->actor : NULL, "signed_by", signer ? fp : NULL, "signer_key",
                  signer ? hex : NULL, "trusted", why != NULL && strcmp(why, "untrusted") != 0,
                  "trust", why, "trust_note",
                  i >= 0 && !trust->items[i].own && trust->items[i].note[0] ? trust->items[i].note
                                                                            : NULL);
    if (o != NULL && import &&
        (json_object_set_new(o, "imported", json_boolean(rc == TH_OK)) != 0 ||
         json_object_set_new(o, "allowed_untrusted",
                             json_boolean(rc == TH_OK && !res->signer_trusted)) != 0)) {
        json_decref(o);
        o = NULL;
    }
    return o;
}

static int cmd_file(th_chain *c, const chain_args *a, th_error *err)
{
    th_chain_verify_result res;
    th_chain_trust trust = {0};
    json_t *jo = NULL;
    uint8_t key[32];
    th_error e2;
    FILE *in;
    int rc, signer;

    if (a->key != NULL && base_hex_decode(a->key, key, sizeof key) != 0)
        return th_error_set(err, TH_EINVAL, "--key wants 64 hex digits");
    /* a regular file only (a FIFO must not block here, holding the home's
     * writer lock during an import); lines are bounded while reading */
    if (strcmp(a->pos[1], "-") == 0)
        in = stdin;
    else if ((rc = base_file_fopen(a->pos[1], "chain file", UINT64_MAX, &in, err)) != TH_OK)
        return rc;
    memset(&res, 0, sizeof res);
    if (c == NULL && a->key == NULL && (rc = th_chain_trust_load(a->home, &trust, err)) != TH_OK) {
        if (in != stdin)
            fclose(in);
        return rc;
    }
    if (c != NULL)
        rc = th_chain_import(c, in, a->allow_untrusted ? TH_CHAIN_IMPORT_ALLOW_UNTRUSTED : 0, &res,
                             err);
    else if (a->key != NULL)
        rc = th_chain_verify_file(in, key, &res, err);
    else
        rc = th_chain_verify_file_trust(in, &trust, &res, err);
    if (in != stdin)
        fclose(in);
    signer = rc == TH_OK || (rc == TH_ECORRUPT && (res.problem == TH_CHAIN_UNTRUSTED ||
                                                   res.problem == TH_CHAIN_WRONG_KEY));
    /* (import: only to say why the signer is trusted; no trust set, no reason) */
    if (signer && c != NULL && th_chain_trust_load(a->home, &trust, &e2) != TH_OK)
        memset(&trust, 0, sizeof trust);
    if (a->json) {
        if ((jo = file_json(a, c != NULL, rc, &res, &trust, signer)) == NULL) {
            th_chain_trust_free(&trust);
            return th_error_set(err, TH_ENOMEM, "out of memory");
        }
        rc = report(rc, &res, a->pos[1], jo, err);
        th_chain_trust_free(&trust);
        return rc;
    }
    rc = report(rc, &res, a->pos[1], NULL, err);
    if (signer)
        print_signer(&res, &trust, a->key != NULL);
    if (rc == TH_OK && c != NULL)
        printf("imported the chain of %s%s\n", res.actor[0] ? res.actor : "(actor)",
               res.signer_trusted ? "" : " (signer not trusted: allowed by --allow-untrusted)");
    th_chain_trust_free(&trust);
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

/* `chain key`: the home's public key (created with the home if needed). */
static int cmd_key(const chain_args *a, th_error *err)
{
    th_chain_config cfg = {0};
    char fp[TH_CHAIN_FINGERPRINT_SIZE], hex[65];
    uint8_t key[32];
    th_chain *c = NULL;
    int rc = th_chain_home_key(a->home, key, err);

    if (rc == TH_ENOENT) { /* a fresh home: create it (database and key) */
        cfg.home = a->home;
        if ((rc = th_chain_open(&cfg, &c, err)) != TH_OK)
            return rc;
        th_chain_close(c);
        rc = th_chain_home_key(a->home, key, err);
    }
    if (rc != TH_OK)
        return rc;
    th_chain_key_fingerprint(key, fp);
    if (a->json)
        return print_json(
            json_pack("{s:s, s:s}", "public_key", base_hex_encode(key, 32, hex), "fingerprint", fp),
            err);
    printf("public key   %s\nfingerprint  %s\n", base_hex_encode(key, 32, hex), fp);
    return TH_OK;
}

/* One trusted key as JSON: {"fingerprint", "key", "own", "note"}. */
static json_t *trusted_json(const th_chain_trusted_key *k)
{
    char fp[TH_CHAIN_FINGERPRINT_SIZE], hex[65];

    th_chain_key_fingerprint(k->key, fp);
    return json_pack("{s:s, s:s, s:b, s:s?}", "fingerprint", fp, "key",
                     base_hex_encode(k->key, 32, hex), "own", k->own, "note",
                     k->own || k->note[0] == '\0' ? NULL : k->note);
}

/* `chain trust ls` */
static int trust_ls(const chain_args *a, th_error *err)
{
    char fp[TH_CHAIN_FINGERPRINT_SIZE], hex[65];
    th_chain_trust t;
    json_t *arr = NULL;
    size_t i;
    int rc;

    if ((rc = th_chain_trust_load(a->home, &t, err)) != TH_OK)
        return rc;
    if (a->json) {
        arr = json_array();
        for (i = 0; arr != NULL && i < t.count; i++)
            if (json_array_append_new(arr, trusted_json(&t.items[i])) != 0) {
                json_decref(arr);
                arr = NULL;
            }
        th_chain_trust_free(&t);
        return print_json(arr, err);
    }
    for (i = 0; i < t.count; i++) {
        th_chain_key_fingerprint(t.items[i].key, fp);
        printf("%s  %s  %s\n", fp, base_hex_encode(t.items[i].key, 32, hex),
               t.items[i].own ? "(this home's own key)" : t.items[i].note);
    }
    if (t.count == 0)
        printf("no trusted keys (this home has no key yet)\n");
    th_chain_trust_free(&t);
    return TH_OK;
}

/* `chain trust rm`; with --json {"removed": true, "fingerprint", "key",
 * "own": false, "note"}: the key that left the trust set. */
static int trust_rm(const chain_args *a, th_error *err)
{
    th_chain_trust before = {0}, after = {0};
    json_t *o = NULL;
    th_error e2;
    size_t i;
    int rc;

    if (a->json && th_chain_trust_load(a->home, &before, &e2) != TH_OK)
        memset(&before, 0, sizeof before);
    if ((rc = th_chain_trust_remove(a->home, a->pos[2], err)) != TH_OK) {
        th_chain_trust_free(&before);
        return rc;
    }
    if (!a->json) {
        printf("no longer trusted: %s\n", a->pos[2]);
        return TH_OK;
    }
    if (th_chain_trust_load(a->home, &after, &e2) != TH_OK)
        memset(&after, 0, sizeof after);
    for (i = 0; o == NULL && i < before.count; i++)
        if (!before.items[i].own && th_chain_trust_find(&after, before.items[i].key) < 0)
            o = trusted_json(&before.items[i]);
    if (o == NULL) /* the file changed meanwhile: say what was asked */
        o = json_pack("{s:s}", "removed", a->pos[2]);
    else if (json_object_set_new(o, "removed", json_true()) != 0) {
        json_decref(o);
        o = NULL;
    }
    th_chain_trust_free(&before);
    th_chain_trust_free(&after);
    return print_json(o, err);
}

/* `chain trust add --json`: {"added": true, "fingerprint", "key", "own":
 * false, "note"}, as the trust set now holds it. */
static int trust_added(const chain_args *a, const uint8_t key[32], const char *note, th_error *err)
{
    th_chain_trusted_key k = {0};
    th_chain_trust t;
    th_error e2;
    json_t *o;
    int i;

    if (th_chain_trust_load(a->home, &t, &e2) == TH_OK && (i = th_chain_trust_find(&t, key)) >= 0) {
        k = t.items[i];
    } else {
        memcpy(k.key, key, sizeof k.key);
        snprintf(k.note, sizeof k.note, "%s", note != NULL ? note : "");
    }
    th_chain_trust_free(&t);
    if ((o = trusted_json(&k)) != NULL && json_object_set_new(o, "added", json_true()) != 0) {
        json_decref(o);
        o = NULL;
    }
    return print_json(o, err);
}

/* A public key as an argument: 64 hex digits. */
static bool is_key_hex(const char *s)
{
    uint8_t key[32];

    return base_hex_decode(s, key, sizeof key) == 0;
}

/* `chain trust ls|add|rm` (the arguments checked by cli_cmd_chain). */
static int cmd_trust(const chain_args *a, th_error *err)
{
    char fp[TH_CHAIN_FINGERPRINT_SIZE];
    const char *note;
    uint8_t key[32];
    int rc;

    if (strcmp(a->pos[1], "ls") == 0 && a->npos == 2)
        return trust_ls(a, err);
    if (strcmp(a->pos[1], "add") == 0 && (a->npos == 3 || a->npos == 4)) {
        if (base_hex_decode(a->pos[2], key, sizeof key) != 0)
            return th_error_set(err, TH_EINVAL,
                                "KEY wants the 64 hex digits of a public key "
                                "(`theater chain key` prints it)");
        note = a->npos == 4 ? a->pos[3] : NULL;
        if ((rc = th_chain_trust_add(a->home, key, note, err)) != TH_OK)
            return rc;
        th_chain_key_fingerprint(key, fp);
        if (a->json)
            return trust_added(a, key, note, err);
        printf("trusted %s\n", fp);
        return TH_OK;
    }
    if (strcmp(a->pos[1], "rm") == 0 && a->npos == 3)
        return trust_rm(a, err);
    return th_error_set(err, TH_EINVAL, "usage: theater chain trust ls | add KEY [NOTE] | rm KEY");
}

int cli_cmd_chain(int argc, char **argv)
{
    th_chain_config cfg = {0};
    th_chain_verify_result res;
    th_chain *c = NULL;
    th_error err = {0};
    chain_args a;
    const char *cmd;
    json_t *jo = NULL;
    char *full = NULL;
    FILE *out;
    int rc, want;

    if ((rc = parse(argc, argv, &a)) != 0)
        return rc == 1 ? 0 : rc;
    cmd = a.pos[0];
    want = strcmp(cmd, "ls") == 0 || strcmp(cmd, "key") == 0 ? 1
           : strcmp(cmd, "verify") == 0                      ? -2
           : strcmp(cmd, "trust") == 0                       ? -4
                                                             : 2;
    if (strcmp(cmd, "ls") && strcmp(cmd, "head") && strcmp(cmd, "events") &&
        strcmp(cmd, "verify") && strcmp(cmd, "export") && strcmp(cmd, "verify-file") &&
        strcmp(cmd, "import") && strcmp(cmd, "key") && strcmp(cmd, "trust")) {
        cli_errorf("chain: unknown command '%s' (see `theater chain --help`)", cmd);
        return 2;
    }
    if ((want > 0 && a.npos != want) || (want == -2 && a.npos > 2) || (want == -4 && a.npos < 2)) {
        cli_errorf("chain %s: wrong number of arguments (see `theater chain --help`)", cmd);
        return 2;
    }
    if (want == -4 && !((strcmp(a.pos[1], "ls") == 0 && a.npos == 2) ||
                        (strcmp(a.pos[1], "add") == 0 && (a.npos == 3 || a.npos == 4)) ||
                        (strcmp(a.pos[1], "rm") == 0 && a.npos == 3))) {
        cli_errorf("chain trust: usage: theater chain trust ls | add KEY [NOTE] | rm KEY");
        return 2;
    }
    if ((want == -4 && strcmp(a.pos[1], "add") == 0 && !is_key_hex(a.pos[2])) ||
        (a.key != NULL && !is_key_hex(a.key))) {
        cli_errorf("chain %s: %s wants the 64 hex digits of a public key (`theater chain key` "
                   "prints it)",
                   cmd, a.key != NULL && want != -4 ? "--key" : "KEY");
        return 2;
    }
    if (strcmp(cmd, "verify-file") == 0) {
        rc = cmd_file(NULL, &a, &err);
        goto out;
    }
    if (strcmp(cmd, "key") == 0 || strcmp(cmd, "trust") == 0) {
        rc = strcmp(cmd, "key") == 0 ? cmd_key(&a, &err) : cmd_trust(&a, &err);
        goto out;
    }
    cfg.home = a.home;
    cfg.read_only = strcmp(cmd, "import") != 0;
    if ((rc = th_chain_open(&cfg, &c, &err)) != TH_OK)
        goto out;
    if (strcmp(cmd, "ls") == 0) {
        rc = cmd_ls(c, &a, &err);
    } else if (strcmp(cmd, "head") == 0) {
        rc = cmd_head(c, a.pos[1], a.json, &err);
    } else if (strcmp(cmd, "events") == 0) {
        rc = cmd_events(c, &a, &err);
    } else if (strcmp(cmd, "verify") == 0) {
        if (a.npos > 1 && (rc = resolve_actor(c, a.pos[1], &full, NULL, &err)) != TH_OK)
            goto out;
        if (a.json && (jo = json_pack("{s:s?}", "actor", full)) == NULL) {
            rc = th_error_set(&err, TH_ENOMEM, "out of memory");
            goto out;
        }
        rc = th_chain_verify(c, full, &res, &err);
        rc = report(rc, &res, full ? full : "all chains", jo, &err);
    } else if (strcmp(cmd, "export") == 0) {
        if ((rc = resolve_actor(c, a.pos[1], &full, NULL, &err)) != TH_OK)
            goto out;
        out = a.out ? fopen(a.out, "wb") : stdout;
        if (out == NULL) {
            rc = th_error_set(&err, TH_EIO, "cannot create %s: %s", a.out, strerror(errno));
            goto out;
        }
        rc = th_chain_export_with(c, full, a.with_components ? TH_CHAIN_EXPORT_COMPONENTS : 0, out,
                                  &err);
        if (out != stdout && fclose(out) != 0 && rc == TH_OK)
            rc = th_error_set(&err, TH_EIO, "cannot write %s", a.out);
    } else {
        rc = cmd_file(c, &a, &err);
    }
out:
    if (c != NULL && th_chain_close(c) != TH_OK && rc == TH_OK)
        rc = th_error_set(&err, TH_EIO, "storing the imported events failed");
    free(full);
    if (rc != TH_OK && !g_reported)
        print_error(cmd, a.home, &err, rc);
    return rc == TH_OK ? 0 : 1;
}
