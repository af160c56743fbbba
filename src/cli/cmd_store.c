/*
 * cmd_store.c - `theater store`: the content store, offline, directly on
 * THEATER_HOME/theater.db (safe while a daemon uses it: SQLite's locking
 * orders the writes).
 *
 * With --json each command prints one JSON document on stdout:
 *   new                {"id"}
 *   put                {"ref", "store", "bytes"}
 *   ls                 [{"id", "bytes"}, ...]
 *   ls STORE           {"id", "bytes", "content": [REF...], "labels": {LABEL: REF}}
 *   label set|get      {"store", "label", "ref"}
 *   label rm           {"store", "label", "removed": true}
 *   label ls           {"store", "labels": {LABEL: REF}}
 * `get` writes the content's bytes as they are, with or without --json.
 * Errors go to stderr as text.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/limits.h"
#include "cli/cli.h"
#include "theater/store.h"

static void store_usage(FILE *out)
{
    fputs("usage: theater store [--home DIR] [--json] <command> [args]\n"
          "\n"
          "The content-addressed store: content is named by its SHA-256 (hex) and kept\n"
          "once; stores group content; labels name one reference each.\n"
          "\n"
          "commands:\n"
          "  new                             create a store and print its id\n"
          "  ls [STORE]                      list stores; with STORE, its content,\n"
          "                                  labels and total size\n"
          "  put [--store ID] FILE|-         store a file (- = stdin), print its reference\n"
          "  get [--store ID] REF [-o FILE]  write content to stdout (or FILE)\n"
          "  label [--store ID] set LABEL REF | get LABEL | rm LABEL | ls\n"
          "\n"
          "options:\n"
          "  --home DIR    THEATER_HOME (default: $THEATER_HOME, else ~/.theater)\n"
          "  --store ID    the store to use (default: the oldest store, created if none)\n"
          "  -o FILE       output file for get\n"
          "  --json        one JSON document on stdout: new {\"id\"}; put {\"ref\", \"store\",\n"
          "                \"bytes\"}; ls [{\"id\", \"bytes\"}]; ls STORE {\"id\", \"bytes\",\n"
          "                \"content\", \"labels\"}; label set|get {\"store\", \"label\",\n"
          "                \"ref\"}; label rm {\"store\", \"label\", \"removed\"}; label ls\n"
          "                {\"store\", \"labels\": {LABEL: REF}}.  get writes the bytes\n"
          "                as they are (no JSON).\n"
          "  -h, --help    show this help\n"
          "Options may come anywhere after `store`; --home=DIR and --store=ID work too.\n",
          out);
}

typedef struct store_args {
    const char *home, *store, *out;
    int json;
    char *pos[8];
    int npos;
} store_args;

static int parse(int argc, char **argv, store_args *a)
{
    static const char *const vals[] = {"--home", "--store", "-o", NULL};
    const char *v;
    int i, k;

    memset(a, 0, sizeof *a);
    for (i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            store_usage(stdout);
            return 1;
        } else if ((k = cli_opt_value(argc, argv, &i, "store", vals, &v)) == 0) {
            a->home = v;
        } else if (k == 1) {
            a->store = v;
        } else if (k == 2) {
            a->out = v;
        } else if (k == CLI_OPT_NO_VALUE) {
            return 2;
        } else if (strcmp(argv[i], "--json") == 0) {
            a->json = 1;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            cli_errorf("store: unknown option '%s' (see `theater store --help`)", argv[i]);
            return 2;
        } else if (a->npos < 8) {
            a->pos[a->npos++] = argv[i];
        } else {
            cli_errorf("store: too many arguments");
            return 2;
        }
    }
    if (a->npos == 0) {
        store_usage(stderr);
        return 2;
    }
    return 0;
}

/* The store to use: --store, else the oldest one (created if none). */
static int pick_store(th_store *s, const store_args *a, char id[TH_STORE_ID_LEN + 1], th_error *err)
{
    th_store_list l = {0};
    int rc;

    if (a->store != NULL) {
        snprintf(id, TH_STORE_ID_LEN + 1, "%s", a->store);
        return TH_OK;
    }
    if ((rc = th_store_list_stores(s, &l, err)) != TH_OK)
        return rc;
    if (l.count > 0)
        snprintf(id, TH_STORE_ID_LEN + 1, "%s", l.items[0]);
    else
        rc = th_store_new(s, id, err);
    th_store_list_free(&l);
    return rc;
}

/* Print `o` (a new reference, or NULL when out of memory) as the
 * command's JSON document. */
static int print_json(json_t *o, th_error *err)
{
    int rc = TH_OK;

    if (o == NULL || json_dumpf(o, stdout, JSON_INDENT(2)) != 0)
        rc = th_error_set(err, TH_ENOMEM, "out of memory");
    else
        fputc('\n', stdout);
    json_decref(o);
    return rc;
}

/* The labels of `store` as an object {LABEL: REF}; NULL with *err set. */
static json_t *labels_json(th_store *s, const char *store, th_error *err)
{
    th_store_list l = {0};
    th_content_ref ref;
    json_t *o;
    size_t i;
    bool found;
    int rc;

    if (th_store_list_labels(s, store, &l, err) != TH_OK)
        return NULL;
    o = json_object();
    rc = o != NULL ? TH_OK : th_error_set(err, TH_ENOMEM, "out of memory");
    for (i = 0; rc == TH_OK && i < l.count; i++) {
        rc = th_store_get_by_label(s, store, l.items[i], &ref, &found, err);
        if (rc == TH_OK && found && json_object_set_new(o, l.items[i], json_string(ref.hash)) != 0)
            rc = th_error_set(err, TH_ENOMEM, "out of memory");
    }
    th_store_list_free(&l);
    if (rc != TH_OK) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* `ls` without STORE: every store and its size. */
static int ls_stores(th_store *s, const store_args *a, th_error *err)
{
    th_store_list l = {0};
    json_t *arr = a->json ? json_array() : NULL;
    uint64_t size;
    size_t i;
    int rc;

    if ((rc = th_store_list_stores(s, &l, err)) != TH_OK) {
        json_decref(arr);
        return rc;
    }
    for (i = 0; i < l.count; i++) {
        if (th_store_total_size(s, l.items[i], &size, err) != TH_OK)
            size = 0;
        if (a->json)
            json_array_append_new(
                arr, json_pack("{s:s, s:I}", "id", l.items[i], "bytes", (json_int_t)size));
        else
            printf("%s  %llu bytes\n", l.items[i], (unsigned long long)size);
    }
    th_store_list_free(&l);
    return a->json ? print_json(arr, err) : TH_OK;
}

static int cmd_ls(th_store *s, const store_args *a, th_error *err)
{
    th_store_list l = {0};
    json_t *o, *content, *labels;
    void *it;
    uint64_t size;
    size_t i;
    int rc;

    if (a->npos < 2)
        return ls_stores(s, a, err);
    if ((rc = th_store_total_size(s, a->pos[1], &size, err)) != TH_OK)
        return rc;
    if ((rc = th_store_list_content(s, a->pos[1], &l, err)) != TH_OK)
        return rc;
    content = json_array();
    for (i = 0; content != NULL && i < l.count; i++)
        json_array_append_new(content, json_string(l.items[i]));
    th_store_list_free(&l);
    if ((labels = labels_json(s, a->pos[1], err)) == NULL) {
        json_decref(content);
        return err->code;
    }
    if (a->json) {
        o = json_pack("{s:s, s:I, s:o, s:o}", "id", a->pos[1], "bytes", (json_int_t)size, "content",
                      content, "labels", labels);
        return print_json(o, err);
    }
    printf("store %s, %llu bytes\ncontent:\n", a->pos[1], (unsigned long long)size);
    for (i = 0; i < json_array_size(content); i++)
        printf("  %s\n", json_string_value(json_array_get(content, i)));
    printf("labels:\n");
    for (it = json_object_iter(labels); it != NULL; it = json_object_iter_next(labels, it))
        printf("  %s -> %s\n", json_object_iter_key(it),
               json_string_value(json_object_iter_value(it)));
    json_decref(content);
    json_decref(labels);
    return TH_OK;
}

static int cmd_get(th_store *s, const store_args *a, th_error *err)
{
    th_store_list l = {0};
    void *data = NULL;
    size_t len = 0, i;
    FILE *out;
    bool ex;
    int rc = TH_ENOENT;

    if (a->store != NULL) {
        rc = th_store_get(s, a->store, a->pos[1], &data, &len, err);
    } else { /* any store that holds it */
        if ((rc = th_store_list_stores(s, &l, err)) != TH_OK)
            return rc;
        rc = th_error_set(err, TH_ENOENT, "no store holds %s", a->pos[1]);
        for (i = 0; i < l.count; i++) {
            if (th_store_exists(s, l.items[i], a->pos[1], &ex, err) != TH_OK) {
                rc = err->code;
                break;
            }
            if (ex) {
                rc = th_store_get(s, l.items[i], a->pos[1], &data, &len, err);
                break;
            }
        }
        th_store_list_free(&l);
    }
    if (rc != TH_OK)
        return rc;
    out = a->out ? fopen(a->out, "wb") : stdout;
    if (out == NULL) {
        free(data);
        return th_error_set(err, TH_EIO, "cannot create %s: %s", a->out, strerror(errno));
    }
    if (fwrite(data, 1, len, out) != len || fflush(out) != 0)
        rc = th_error_set(err, TH_EIO, "cannot write the content");
    if (out != stdout)
        fclose(out);
    free(data);
    return rc;
}

/* `label set|get|rm` with --json: what was done, as one object. */
static int label_json(const char *store, const char *label, const char *ref, th_error *err)
{
    json_t *o = json_pack("{s:s, s:s}", "store", store, "label", label);

    if (o != NULL && json_object_set_new(o, ref ? "ref" : "removed",
                                         ref ? json_string(ref) : json_true()) != 0) {
        json_decref(o);
        o = NULL;
    }
    return print_json(o, err);
}

static int cmd_label(th_store *s, const store_args *a, th_error *err)
{
    char id[TH_STORE_ID_LEN + 1];
    th_store_list l = {0};
    th_content_ref ref;
    const char *op = a->npos > 1 ? a->pos[1] : "";
    json_t *labels;
    bool found;
    int rc;

    if ((rc = pick_store(s, a, id, err)) != TH_OK)
        return rc;
    if (strcmp(op, "set") == 0 && a->npos == 4) {
        if ((rc = th_store_label(s, id, a->pos[2], a->pos[3], err)) != TH_OK || !a->json)
            return rc;
        return label_json(id, a->pos[2], a->pos[3], err);
    }
    if (strcmp(op, "rm") == 0 && a->npos == 3) {
        if ((rc = th_store_remove_label(s, id, a->pos[2], err)) != TH_OK || !a->json)
            return rc;
        return label_json(id, a->pos[2], NULL, err);
    }
    if (strcmp(op, "get") == 0 && a->npos == 3) {
        if ((rc = th_store_get_by_label(s, id, a->pos[2], &ref, &found, err)) != TH_OK)
            return rc;
        if (!found)
            return th_error_set(err, TH_ENOENT, "no label '%s' in store %s", a->pos[2], id);
        if (a->json)
            return label_json(id, a->pos[2], ref.hash, err);
        printf("%s\n", ref.hash);
        return TH_OK;
    }
    if (strcmp(op, "ls") == 0 && a->npos == 2) {
        if (a->json) {
            if ((labels = labels_json(s, id, err)) == NULL)
                return err->code;
            return print_json(json_pack("{s:s, s:o}", "store", id, "labels", labels), err);
        }
        if ((rc = th_store_list_labels(s, id, &l, err)) != TH_OK)
            return rc;
        for (size_t i = 0; i < l.count; i++)
            printf("%s\n", l.items[i]);
        th_store_list_free(&l);
        return TH_OK;
    }
    /* not reached: usage_error checked the operation and its arguments */
    return th_error_set(err, TH_EINVAL, "unknown label operation '%s'", op);
}

/* `put FILE`: store the file's bytes; print the reference. */
static int cmd_put(th_store *s, const store_args *a, th_error *err)
{
    char id[TH_STORE_ID_LEN + 1];
    th_content_ref ref;
    unsigned char *data;
    size_t len;
    int rc;

    data = cli_read_file_max(a->pos[1], "file", TH_STORE_DEFAULT_MAX_BLOB, &len);
    if (data == NULL)
        return TH_EIO;
    rc = pick_store(s, a, id, err);
    if (rc == TH_OK)
        rc = th_store_put(s, id, data, len, &ref, err);
    free(data);
    if (rc != TH_OK)
        return rc;
    if (a->json)
        return print_json(
            json_pack("{s:s, s:s, s:I}", "ref", ref.hash, "store", id, "bytes", (json_int_t)len),
            err);
    printf("%s\n", ref.hash);
    return TH_OK;
}

/* The arguments' number is checked before the home is opened: a usage
 * error (exit 2) names what the command wants.  Returns 0 when they fit. */
static int usage_error(const store_args *a)
{
    const char *cmd = a->pos[0], *op = a->npos > 1 ? a->pos[1] : "";

    if ((strcmp(cmd, "put") == 0 || strcmp(cmd, "get") == 0) && a->npos != 2) {
        cli_errorf(strcmp(cmd, "put") == 0 ? "store put: want one FILE (or - for stdin)"
                                           : "store get: want one reference");
        return 2;
    }
    if ((strcmp(cmd, "new") == 0 && a->npos != 1) || (strcmp(cmd, "ls") == 0 && a->npos > 2)) {
        cli_errorf("store %s: wrong number of arguments (see `theater store --help`)", cmd);
        return 2;
    }
    if (strcmp(cmd, "label") == 0 &&
        !((strcmp(op, "set") == 0 && a->npos == 4) ||
          ((strcmp(op, "rm") == 0 || strcmp(op, "get") == 0) && a->npos == 3) ||
          (strcmp(op, "ls") == 0 && a->npos == 2))) {
        cli_errorf("store label: want set LABEL REF | get LABEL | rm LABEL | ls");
        return 2;
    }
    return 0;
}

int cli_cmd_store(int argc, char **argv)
{
    th_store_config cfg = {0};
    char id[TH_STORE_ID_LEN + 1];
    store_args a;
    th_store *s = NULL;
    th_error err = {0};
    const char *cmd;
    int rc;

    if ((rc = parse(argc, argv, &a)) != 0)
        return rc == 1 ? 0 : rc;
    cmd = a.pos[0];
    cfg.home = a.home;
    cfg.read_only = strcmp(cmd, "ls") == 0 || strcmp(cmd, "get") == 0;
    if (strcmp(cmd, "new") && strcmp(cmd, "ls") && strcmp(cmd, "put") && strcmp(cmd, "get") &&
        strcmp(cmd, "label")) {
        cli_errorf("store: unknown command '%s' (see `theater store --help`)", cmd);
        return 2;
    }
    if ((rc = usage_error(&a)) != 0)
        return rc;
    if ((rc = th_store_open(&cfg, &s, &err)) != TH_OK)
        goto out;
    if (strcmp(cmd, "new") == 0) {
        if ((rc = th_store_new(s, id, &err)) == TH_OK && a.json)
            rc = print_json(json_pack("{s:s}", "id", id), &err);
        else if (rc == TH_OK)
            printf("%s\n", id);
    } else if (strcmp(cmd, "ls") == 0) {
        rc = cmd_ls(s, &a, &err);
    } else if (strcmp(cmd, "put") == 0) {
        rc = cmd_put(s, &a, &err);
    } else if (strcmp(cmd, "get") == 0) {
        rc = cmd_get(s, &a, &err);
    } else {
        rc = cmd_label(s, &a, &err);
    }
out:
    th_store_close(s);
    if (rc != TH_OK && err.msg[0] != '\0')
        cli_errorf("store %s: %s", cmd, err.msg);
    return rc == TH_OK ? 0 : 1;
}
