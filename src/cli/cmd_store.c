/*
 * cmd_store.c - `theater store`: the content store, offline, directly on
 * THEATER_HOME/theater.db (safe while a daemon uses it: SQLite's locking
 * orders the writes).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/limits.h"
#include "cli/cli.h"
#include "theater/store.h"

static void store_usage(FILE *out)
{
    fputs("usage: theater store [--home DIR] <command> [args]\n"
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
          "  -o FILE       output file for get\n",
          out);
}

typedef struct store_args {
    const char *home, *store, *out;
    char *pos[8];
    int npos;
} store_args;

static int parse(int argc, char **argv, store_args *a)
{
    int i;

    memset(a, 0, sizeof *a);
    for (i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            store_usage(stdout);
            return 1;
        } else if (strcmp(argv[i], "--home") == 0 && i + 1 < argc) {
            a->home = argv[++i];
        } else if (strcmp(argv[i], "--store") == 0 && i + 1 < argc) {
            a->store = argv[++i];
        } else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
            a->out = argv[++i];
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

static int print_list(th_store_list *l, const char *indent)
{
    size_t i;

    for (i = 0; i < l->count; i++)
        printf("%s%s\n", indent, l->items[i]);
    th_store_list_free(l);
    return TH_OK;
}

static int cmd_ls(th_store *s, const store_args *a, th_error *err)
{
    th_store_list l = {0};
    th_content_ref ref;
    uint64_t size;
    size_t i;
    bool found;
    int rc;

    if (a->npos < 2) {
        if ((rc = th_store_list_stores(s, &l, err)) != TH_OK)
            return rc;
        for (i = 0; i < l.count; i++) {
            if (th_store_total_size(s, l.items[i], &size, err) != TH_OK)
                size = 0;
            printf("%s  %llu bytes\n", l.items[i], (unsigned long long)size);
        }
        th_store_list_free(&l);
        return TH_OK;
    }
    if ((rc = th_store_total_size(s, a->pos[1], &size, err)) != TH_OK)
        return rc;
    printf("store %s, %llu bytes\ncontent:\n", a->pos[1], (unsigned long long)size);
    if ((rc = th_store_list_content(s, a->pos[1], &l, err)) != TH_OK)
        return rc;
    print_list(&l, "  ");
    printf("labels:\n");
    if ((rc = th_store_list_labels(s, a->pos[1], &l, err)) != TH_OK)
        return rc;
    for (i = 0; i < l.count; i++)
        if (th_store_get_by_label(s, a->pos[1], l.items[i], &ref, &found, err) == TH_OK && found)
            printf("  %s -> %s\n", l.items[i], ref.hash);
    th_store_list_free(&l);
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

    if (a->npos != 2) {
        cli_errorf("store get: want one reference");
        return TH_EINVAL;
    }
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

static int cmd_label(th_store *s, const store_args *a, th_error *err)
{
    char id[TH_STORE_ID_LEN + 1];
    th_store_list l = {0};
    th_content_ref ref;
    const char *op = a->npos > 1 ? a->pos[1] : "";
    bool found;
    int rc;

    if ((rc = pick_store(s, a, id, err)) != TH_OK)
        return rc;
    if (strcmp(op, "set") == 0 && a->npos == 4)
        return th_store_label(s, id, a->pos[2], a->pos[3], err);
    if (strcmp(op, "rm") == 0 && a->npos == 3)
        return th_store_remove_label(s, id, a->pos[2], err);
    if (strcmp(op, "get") == 0 && a->npos == 3) {
        if ((rc = th_store_get_by_label(s, id, a->pos[2], &ref, &found, err)) != TH_OK)
            return rc;
        if (!found)
            return th_error_set(err, TH_ENOENT, "no label '%s' in store %s", a->pos[2], id);
        printf("%s\n", ref.hash);
        return TH_OK;
    }
    if (strcmp(op, "ls") == 0 && a->npos == 2) {
        if ((rc = th_store_list_labels(s, id, &l, err)) != TH_OK)
            return rc;
        return print_list(&l, "");
    }
    cli_errorf("store label: want set LABEL REF | get LABEL | rm LABEL | ls");
    return TH_EINVAL;
}

int cli_cmd_store(int argc, char **argv)
{
    th_store_config cfg = {0};
    char id[TH_STORE_ID_LEN + 1];
    th_content_ref ref;
    store_args a;
    th_store *s = NULL;
    th_error err = {0};
    unsigned char *data;
    const char *cmd;
    size_t len;
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
    if ((rc = th_store_open(&cfg, &s, &err)) != TH_OK)
        goto out;
    if (strcmp(cmd, "new") == 0) {
        if ((rc = th_store_new(s, id, &err)) == TH_OK)
            printf("%s\n", id);
    } else if (strcmp(cmd, "ls") == 0) {
        rc = cmd_ls(s, &a, &err);
    } else if (strcmp(cmd, "put") == 0) {
        if (a.npos != 2) {
            cli_errorf("store put: want one FILE (or - for stdin)");
            rc = TH_EINVAL;
            goto out;
        }
        data = cli_read_file_max(a.pos[1], "file", TH_STORE_DEFAULT_MAX_BLOB, &len);
        if (data == NULL) {
            rc = TH_EIO;
            goto out;
        }
        rc = pick_store(s, &a, id, &err);
        if (rc == TH_OK)
            rc = th_store_put(s, id, data, len, &ref, &err);
        free(data);
        if (rc == TH_OK)
            printf("%s\n", ref.hash);
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
