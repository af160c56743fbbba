/*
 * cmd_new.c - `theater new NAME`: write an actor project that builds and
 * runs as it is.
 *
 *   NAME/actor.c        the actor (C, the guest SDK of sdk/c)
 *   NAME/manifest.toml  what `theater run` / `theater start` load
 *   NAME/build.toml     what `theater build` compiles (cmd_build.c)
 *   NAME/.gitignore     the built NAME.wasm
 *
 * The files are written into a fresh temporary directory beside NAME,
 * which is then renamed to NAME, so a failure leaves nothing behind and an
 * existing NAME is never touched.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"

#define NEW_NAME_MAX 64 /* characters of an actor project's name */

static const char new_help[] =
    "usage: theater new NAME [--json]\n"
    "\n"
    "Write a new actor project in the directory NAME (which must not exist):\n"
    "  actor.c        the actor, in C with the guest SDK (theater.h)\n"
    "  manifest.toml  its manifest: name, component, handlers\n"
    "  build.toml     how `theater build` compiles it\n"
    "\n"
    "Then:\n"
    "  theater build NAME                  compile NAME/actor.c to NAME/NAME.wasm\n"
    "  theater run NAME/manifest.toml      run it here (Ctrl-C stops it)\n"
    "  theater start NAME/manifest.toml    or deploy it into the daemon\n"
    "\n"
    "NAME is a path whose last part names the actor: a letter, then letters,\n"
    "digits, '-' or '_' (at most 64).\n"
    "\n"
    "options:\n"
    "  --json      print {\"dir\", \"name\", \"files\"} instead of the text\n"
    "  --home DIR  accepted as by every command (a project needs no home);\n"
    "              also --home=DIR\n"
    "  -h, --help  show this help\n"
    "\n"
    "exit status: 0 done, 1 could not write it, 2 usage error.\n";

/* The project's files; "@NAME@" becomes the actor's name, "@IDENT@" a C
 * identifier made from it. */
static const char actor_c[] =
    "/*\n"
    " * @NAME@ - an actor made by `theater new`.\n"
    " *\n"
    " *   init            the state is a count of messages, as decimal text\n"
    " *   handle-send     counts the message and logs it\n"
    " *   handle-request  answers how many messages it has seen; the request\n"
    " *                   \"stop\" shuts the actor down\n"
    " *\n"
    " * Build: theater build   Run: theater run manifest.toml\n"
    " * The guest SDK (theater.h) is described in docs/sdk.md.\n"
    " */\n"
    "#include \"theater.h\"\n"
    "\n"
    "static uint64_t count_of(const ta_state *state)\n"
    "{\n"
    "    uint64_t n = 0;\n"
    "    if (state->some)\n"
    "        ta_parse_u64(state->val, &n);\n"
    "    return n;\n"
    "}\n"
    "\n"
    "static void set_count(ta_state *state, uint64_t n)\n"
    "{\n"
    "    ta_str text = ta_format(\"%llu\", (unsigned long long)n);\n"
    "    ta_state_set(state, text.ptr, text.len);\n"
    "}\n"
    "\n"
    "static ta_status @IDENT@_init(ta_state *state, ta_str actor_id)\n"
    "{\n"
    "    set_count(state, count_of(state));\n"
    "    ta_logf(\"@NAME@ %.*s is running\", TA_FMT(actor_id));\n"
    "    return TA_OK;\n"
    "}\n"
    "\n"
    "static ta_status @IDENT@_send(ta_state *state, ta_bytes msg)\n"
    "{\n"
    "    uint64_t n = count_of(state) + 1;\n"
    "    set_count(state, n);\n"
    "    ta_logf(\"message %llu: %.*s\", (unsigned long long)n, TA_FMT(msg));\n"
    "    return TA_OK;\n"
    "}\n"
    "\n"
    "static ta_status @IDENT@_request(ta_state *state, ta_str request_id,\n"
    "        ta_bytes msg, ta_opt_bytes *response)\n"
    "{\n"
    "    ta_str answer;\n"
    "    if (ta_bytes_eq_c(msg, \"stop\")) {\n"
    "        ta_status st = ta_shutdown(TA_NONE);\n"
    "        if (!st.ok)\n"
    "            return st;\n"
    "        answer = ta_str_c(\"stopping\");\n"
    "    } else {\n"
    "        answer = ta_format(\"@NAME@ has seen %llu messages\",\n"
    "                           (unsigned long long)count_of(state));\n"
    "    }\n"
    "    *response = ta_some(ta_str_bytes(answer));\n"
    "    return TA_OK;\n"
    "}\n"
    "\n"
    "TA_ACTOR_INIT(@IDENT@_init)\n"
    "TA_HANDLE_SEND(@IDENT@_send)\n"
    "TA_HANDLE_REQUEST(@IDENT@_request)\n";

static const char manifest_toml[] =
    "# @NAME@ - made by `theater new`.  `theater build` compiles actor.c into\n"
    "# @NAME@.wasm; `theater run manifest.toml` runs it.  docs/manifest.md lists\n"
    "# every field.\n"
    "name = \"@NAME@\"\n"
    "version = \"0.1.0\"\n"
    "description = \"Counts messages and answers requests with the count\"\n"
    "component = \"@NAME@.wasm\"\n"
    "\n"
    "[[handler]]\n"
    "type = \"runtime\"\n"
    "\n"
    "[[handler]]\n"
    "type = \"message-server\"\n";

static const char build_toml[] =
    "# How `theater build` compiles this actor (see `theater build --help`).\n"
    "output = \"@NAME@.wasm\"\n"
    "sources = [\"actor.c\"]\n"
    "# flags = [\"-DDEBUG\"]    # more clang flags\n"
    "# stack_size = 16384      # bytes of the actor's shadow stack\n";

static const char gitignore[] = "*.wasm\n";

/* 1 if `name` is a valid project name. */
static int valid_name(const char *name)
{
    size_t i, n = strlen(name);

    if (n == 0 || n > NEW_NAME_MAX)
        return 0;
    if (!((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= 'A' && name[0] <= 'Z')))
        return 0;
    for (i = 1; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return 0;
    }
    return 1;
}

/* Write `tmpl` with its placeholders filled to dir/file; 0 or -1 (with a
 * message). */
static int write_file(const char *dir, const char *file, const char *tmpl, const char *name,
                      const char *ident)
{
    char path[4096];
    const char *p = tmpl, *at;
    FILE *f;
    int bad;

    if (snprintf(path, sizeof path, "%s/%s", dir, file) >= (int)sizeof path) {
        cli_errorf("new: the path is too long");
        return -1;
    }
    f = fopen(path, "w");
    if (f == NULL) {
        cli_errorf("new: cannot create %s: %s", path, strerror(errno));
        return -1;
    }
    while ((at = strchr(p, '@')) != NULL) {
        fwrite(p, 1, (size_t)(at - p), f);
        if (strncmp(at, "@NAME@", 6) == 0) {
            fputs(name, f);
            p = at + 6;
        } else if (strncmp(at, "@IDENT@", 7) == 0) {
            fputs(ident, f);
            p = at + 7;
        } else {
            fputc('@', f);
            p = at + 1;
        }
    }
    fputs(p, f);
    bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        cli_errorf("new: cannot write %s", path);
        return -1;
    }
    return 0;
}

static void remove_tree(const char *dir)
{
    static const char *const files[] = {"actor.c", "manifest.toml", "build.toml", ".gitignore"};
    char path[4096];
    size_t i;

    for (i = 0; i < sizeof files / sizeof files[0]; i++) {
        if (snprintf(path, sizeof path, "%s/%s", dir, files[i]) < (int)sizeof path)
            unlink(path);
    }
    rmdir(dir);
}

int cli_cmd_new(int argc, char **argv)
{
    const char *target = NULL, *name, *slash;
    char ident[NEW_NAME_MAX + 1], tmp[4096];
    static const char *const home_opt[] = {"--home", NULL};
    const char *v;
    struct stat st;
    size_t i;
    int json = 0, a, k;

    for (a = 1; a < argc; a++) {
        if (cli_is_help(argv[a])) {
            fputs(new_help, stdout);
            return 0;
        } else if (strcmp(argv[a], "--json") == 0) {
            json = 1;
            continue;
        } else if ((k = cli_opt_value(argc, argv, &a, "new", home_opt, &v)) >= 0) {
            continue; /* every command takes it; a project does not live in a home */
        } else if (k == CLI_OPT_NO_VALUE) {
            return 2;
        } else if (argv[a][0] == '-') {
            cli_errorf("new: unknown option '%s' (see `theater new --help`)", argv[a]);
            return 2;
        } else if (target != NULL) {
            cli_errorf("new: one NAME only (see `theater new --help`)");
            return 2;
        }
        target = argv[a];
    }
    if (target == NULL) {
        cli_errorf("new: missing NAME (see `theater new --help`)");
        return 2;
    }
    if (strlen(target) > 3000) {
        cli_errorf("new: the path is too long");
        return 2;
    }
    slash = strrchr(target, '/');
    name = slash ? slash + 1 : target;
    if (!valid_name(name)) {
        cli_errorf(
            "new: '%s' is not a valid actor name: a letter, then letters, digits, '-' or '_' "
            "(at most %d)",
            name, NEW_NAME_MAX);
        return 2;
    }
    for (i = 0; name[i] != '\0'; i++)
        ident[i] = name[i] == '-' ? '_' : name[i];
    ident[i] = '\0';
    if (lstat(target, &st) == 0) {
        cli_errorf("new: %s already exists; choose another NAME", target);
        return 1;
    }
    if (snprintf(tmp, sizeof tmp, "%.*s.%s.new-XXXXXX", (int)(name - target), target, name) >=
        (int)sizeof tmp) {
        cli_errorf("new: the path is too long");
        return 2;
    }
    if (mkdtemp(tmp) == NULL) {
        cli_errorf("new: cannot create a directory beside %s: %s", target, strerror(errno));
        return 1;
    }
    if (write_file(tmp, "actor.c", actor_c, name, ident) != 0 ||
        write_file(tmp, "manifest.toml", manifest_toml, name, ident) != 0 ||
        write_file(tmp, "build.toml", build_toml, name, ident) != 0 ||
        write_file(tmp, ".gitignore", gitignore, name, ident) != 0 || chmod(tmp, 0755) != 0)
        goto fail;
    /* rename() would replace an empty directory made meanwhile; link-like
     * semantics are not needed beyond "NAME did not exist a moment ago". */
    if (lstat(target, &st) == 0) {
        cli_errorf("new: %s already exists; choose another NAME", target);
        goto fail;
    }
    if (rename(tmp, target) != 0) {
        cli_errorf("new: cannot create %s: %s", target, strerror(errno));
        goto fail;
    }
    if (json) {
        json_t *o = json_pack("{s:s, s:s, s:[s,s,s,s]}", "dir", target, "name", name, "files",
                              "actor.c", "manifest.toml", "build.toml", ".gitignore");
        json_dumpf(o, stdout, JSON_INDENT(2));
        fputc('\n', stdout);
        json_decref(o);
        return 0;
    }
    printf("created %s/ (actor.c, manifest.toml, build.toml)\n"
           "next:\n"
           "  theater build %s\n"
           "  theater run %s/manifest.toml      (offline, in this process)\n"
           "  theater start %s/manifest.toml    (in the daemon: theater server)\n",
           target, target, target, target);
    return 0;
fail:
    remove_tree(tmp);
    return 1;
}
