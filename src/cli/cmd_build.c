/*
 * cmd_build.c - `theater build [DIR]`: compile an actor project (made by
 * `theater new`) to WebAssembly with the guest SDK.
 *
 * DIR/build.toml says what to build:
 *
 *   output = "hello.wasm"      the module (relative to DIR; required)
 *   sources = ["actor.c"]      C sources (relative to DIR; required)
 *   flags = ["-DDEBUG"]        more clang flags (optional)
 *   stack_size = 16384         shadow-stack bytes (optional)
 *
 * What it needs, and where it looks (the first that exists wins):
 *   clang     $THEATER_CC, else clang, clang-19 ... clang-14 in PATH; it
 *             must have the WebAssembly backend (`clang -print-targets`)
 *   wasm-ld   $THEATER_WASM_LD, else wasm-ld, wasm-ld-19 ... in PATH
 *             (Debian package lld)
 *   the SDK   --sdk DIR, $THEATER_SDK, then next to this program:
 *             <bindir>/share/theater/sdk/c (the build tree, where CMake
 *             copies sdk/c) and <bindir>/../share/theater/sdk/c (an
 *             installed tree, `cmake --install`)
 * Actors are freestanding (-nostdlib): the SDK brings its allocator and
 * the C functions the compiler calls, so wasi-libc is not used.
 *
 * The module is written to a temporary file beside the output and renamed
 * over it only when clang succeeded, so a failed build leaves the previous
 * module (or none) in place.
 */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/toml.h"
#include "cli/cli.h"

extern char **environ;

#define BUILD_MAX_SOURCES 256
#define BUILD_MAX_FLAGS 256
#define BUILD_MAX_SDK_FILES 64
#define BUILD_DEFAULT_STACK 16384
#define BUILD_MAX_STACK (64 * 1024 * 1024)
#define BUILD_MAX_FILE (1024 * 1024) /* bytes of build.toml */

static const char build_help[] =
    "usage: theater build [DIR] [--sdk DIR] [-v] [--json]\n"
    "\n"
    "Compile the actor project in DIR (default: the current directory) to\n"
    "WebAssembly, as DIR/build.toml says (`theater new` writes one):\n"
    "  output = \"hello.wasm\"     the module, relative to DIR\n"
    "  sources = [\"actor.c\"]     C sources, relative to DIR\n"
    "  flags = [\"-DDEBUG\"]       more clang flags (optional)\n"
    "  stack_size = 16384        shadow-stack bytes (optional)\n"
    "\n"
    "It needs clang with the WebAssembly backend and wasm-ld (Debian packages\n"
    "clang and lld), and the guest SDK (sdk/c). It looks for them in:\n"
    "  clang     $THEATER_CC, else clang, clang-19 ... clang-14 in PATH\n"
    "  wasm-ld   $THEATER_WASM_LD, else wasm-ld, wasm-ld-19 ... in PATH\n"
    "  SDK       --sdk DIR, $THEATER_SDK, then share/theater/sdk/c next to this\n"
    "            program (build tree) or in ../share (installed tree)\n"
    "and says which is missing. Actors are freestanding: wasi-libc is not used.\n"
    "\n"
    "options:\n"
    "  --sdk DIR   the guest SDK's directory (holding theater.h)\n"
    "  -v          print the clang command\n"
    "  --json      print {\"output\", \"bytes\"} instead of the text\n"
    "  --home DIR  accepted as by every command (a project needs no home)\n"
    "  -h, --help  show this help\n"
    "Options with a value may also be written --NAME=VALUE.\n"
    "\n"
    "exit status: 0 built, 1 the build failed or something is missing, 2 usage.\n";

typedef struct build_spec {
    char *output;
    char **sources;
    size_t nsources;
    char **flags;
    size_t nflags;
    long long stack;
} build_spec;

static void spec_release(build_spec *b)
{
    size_t i;

    free(b->output);
    for (i = 0; i < b->nsources; i++)
        free(b->sources[i]);
    for (i = 0; i < b->nflags; i++)
        free(b->flags[i]);
    free(b->sources);
    free(b->flags);
    memset(b, 0, sizeof *b);
}

/* A path inside the project: relative, without "..". */
static int inside_path(const char *p)
{
    const char *s = p;

    if (p[0] == '\0' || p[0] == '/')
        return 0;
    while (s != NULL) {
        if (strncmp(s, "..", 2) == 0 && (s[2] == '/' || s[2] == '\0'))
            return 0;
        s = strchr(s, '/');
        if (s != NULL)
            s++;
    }
    return 1;
}

/* An array of strings from build.toml into a malloc'd vector. */
static int string_list(const char *file, const char *key, const toml_value *v, size_t max,
                       char ***out, size_t *n)
{
    size_t i, len = toml_array_len(v);

    if (v->type != TOML_ARRAY) {
        cli_errorf("build: %s: '%s' must be an array of strings", file, key);
        return -1;
    }
    if (len > max) {
        cli_errorf("build: %s: '%s' has more than %zu entries", file, key, max);
        return -1;
    }
    *out = calloc(len ? len : 1, sizeof **out);
    if (*out == NULL) {
        cli_errorf("build: out of memory");
        return -1;
    }
    for (i = 0; i < len; i++) {
        const toml_value *e = toml_array_get(v, i);
        if (e->type != TOML_STRING || strlen(e->u.s.ptr) != e->u.s.len || e->u.s.len == 0) {
            cli_errorf("build: %s: '%s' entry %zu must be a non-empty string", file, key, i + 1);
            return -1;
        }
        if (((*out)[i] = strdup(e->u.s.ptr)) == NULL) {
            cli_errorf("build: out of memory");
            return -1;
        }
        *n = i + 1;
    }
    return 0;
}

/* Read DIR/build.toml into *b; 0 or -1 with a message. */
static int read_spec(const char *dir, build_spec *b)
{
    char file[PATH_MAX];
    unsigned char *text;
    size_t len, i;
    toml_value *root = NULL;
    th_error err = {0};
    int rc = -1;
    struct stat st;

    memset(b, 0, sizeof *b);
    b->stack = BUILD_DEFAULT_STACK;
    snprintf(file, sizeof file, "%s/build.toml", dir);
    if (stat(file, &st) != 0) {
        cli_errorf(
            "build: no build.toml in %s (is it an actor project? `theater new NAME` makes one)",
            dir);
        return -1;
    }
    if (st.st_size > BUILD_MAX_FILE) {
        cli_errorf("build: %s is larger than %d bytes", file, BUILD_MAX_FILE);
        return -1;
    }
    if ((text = cli_read_file(file, &len)) == NULL)
        return -1;
    if (toml_parse((const char *)text, len, &root, &err) != 0) {
        cli_errorf("build: %s: %s", file, err.msg);
        goto out;
    }
    for (i = 0; i < toml_table_len(root); i++) {
        const toml_keyval *kv = toml_table_entry(root, i);
        const toml_value *v = kv->value;
        if (strcmp(kv->key, "output") == 0) {
            if (v->type != TOML_STRING || !inside_path(v->u.s.ptr) || strlen(v->u.s.ptr) < 6 ||
                strcmp(v->u.s.ptr + strlen(v->u.s.ptr) - 5, ".wasm") != 0) {
                cli_errorf("build: %s: 'output' must be a path ending in .wasm inside the project",
                           file);
                goto out;
            }
            if ((b->output = strdup(v->u.s.ptr)) == NULL)
                goto oom;
        } else if (strcmp(kv->key, "sources") == 0) {
            if (string_list(file, "sources", v, BUILD_MAX_SOURCES, &b->sources, &b->nsources) != 0)
                goto out;
        } else if (strcmp(kv->key, "flags") == 0) {
            if (string_list(file, "flags", v, BUILD_MAX_FLAGS, &b->flags, &b->nflags) != 0)
                goto out;
        } else if (strcmp(kv->key, "stack_size") == 0) {
            if (v->type != TOML_INTEGER || v->u.i < 1024 || v->u.i > BUILD_MAX_STACK) {
                cli_errorf("build: %s: 'stack_size' must be an integer from 1024 to %d", file,
                           BUILD_MAX_STACK);
                goto out;
            }
            b->stack = v->u.i;
        } else {
            cli_errorf("build: %s: unknown key '%s' (known: output, sources, flags, stack_size)",
                       file, kv->key);
            goto out;
        }
    }
    if (b->output == NULL || b->nsources == 0) {
        cli_errorf("build: %s: needs 'output' and at least one of 'sources'", file);
        goto out;
    }
    for (i = 0; i < b->nsources; i++) {
        char p[PATH_MAX];
        snprintf(p, sizeof p, "%s/%s", dir, b->sources[i]);
        if (!inside_path(b->sources[i]) || access(p, R_OK) != 0) {
            cli_errorf("build: %s: source '%s' %s", file, b->sources[i],
                       inside_path(b->sources[i]) ? "cannot be read" : "is outside the project");
            goto out;
        }
    }
    rc = 0;
    goto out;
oom:
    cli_errorf("build: out of memory");
out:
    toml_free(root);
    free(text);
    if (rc != 0)
        spec_release(b);
    return rc;
}

/* An executable named `name` in PATH, into out; 0 or -1. */
static int in_path(const char *name, char *out, size_t cap)
{
    const char *path = getenv("PATH"), *p, *e;

    if (strchr(name, '/') != NULL) {
        snprintf(out, cap, "%s", name);
        return access(out, X_OK) == 0 ? 0 : -1;
    }
    for (p = path ? path : "/usr/bin:/bin"; *p; p = *e ? e + 1 : e) {
        e = strchr(p, ':');
        if (e == NULL)
            e = p + strlen(p);
        snprintf(out, cap, "%.*s/%s", (int)(e - p), e == p ? "." : p, name);
        if (e == p)
            snprintf(out, cap, "./%s", name);
        if (access(out, X_OK) == 0)
            return 0;
    }
    return -1;
}

/* Find a tool: $env, else the first of `names` in PATH.  On failure a
 * message says what was looked for and which package has it. */
static int find_tool(const char *env, const char *const *names, const char *what, const char *pkg,
                     char *out, size_t cap)
{
    const char *v = getenv(env);
    char list[256] = "";
    size_t i;

    if (v != NULL && v[0] != '\0') {
        if (in_path(v, out, cap) == 0)
            return 0;
        cli_errorf("build: %s=%s is not an executable", env, v);
        return -1;
    }
    for (i = 0; names[i] != NULL; i++) {
        if (in_path(names[i], out, cap) == 0)
            return 0;
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", names[i]);
    }
    cli_errorf("build: %s is missing: none of %s is in PATH (install the Debian package %s, "
               "or set %s)",
               what, list, pkg, env);
    return -1;
}

/* Run argv; with `capture`, its stdout goes there (cap bytes, NUL-ended).
 * Returns the exit status, or -1 if it could not run. */
static int run(char *const argv[], char *capture, size_t cap)
{
    posix_spawn_file_actions_t fa;
    int pfd[2] = {-1, -1}, status, rc;
    pid_t pid;
    size_t n = 0;
    ssize_t got;

    posix_spawn_file_actions_init(&fa);
    if (capture != NULL) {
        if (pipe(pfd) != 0)
            return -1;
        posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
        posix_spawn_file_actions_addclose(&fa, pfd[0]);
        posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", 0, 0);
    }
    rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (capture != NULL) {
        close(pfd[1]);
        while (rc == 0 && (got = read(pfd[0], capture + n, cap - 1 - n)) > 0 &&
               n + (size_t)got < cap - 1)
            n += (size_t)got;
        capture[n] = '\0';
        close(pfd[0]);
    }
    if (rc != 0)
        return -1;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status)
                             : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

/* out = a + b; -1 if it does not fit in cap bytes. */
static int join(char *out, size_t cap, const char *a, const char *b)
{
    int n = snprintf(out, cap, "%s%s", a, b);

    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

/* The SDK directory holds theater.h. */
static int sdk_at(const char *dir)
{
    char p[PATH_MAX];

    return join(p, sizeof p, dir, "/theater.h") == 0 && access(p, R_OK) == 0;
}

static int find_sdk(const char *opt, char *out, size_t cap)
{
    char exe[PATH_MAX], *slash, tried[3 * PATH_MAX] = "";
    const char *env = getenv("THEATER_SDK");
    ssize_t n;

    if (opt != NULL || (env != NULL && env[0] != '\0')) {
        snprintf(out, cap, "%s", opt ? opt : env);
        if (sdk_at(out))
            return 0;
        cli_errorf("build: the guest SDK is missing: %s (from %s) has no theater.h", out,
                   opt ? "--sdk" : "THEATER_SDK");
        return -1;
    }
    n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        if ((slash = strrchr(exe, '/')) != NULL)
            *slash = '\0';
        if (join(out, cap, exe, "/share/theater/sdk/c") == 0 && sdk_at(out))
            return 0;
        snprintf(tried, sizeof tried, "%s", out);
        if (join(out, cap, exe, "/../share/theater/sdk/c") == 0 && sdk_at(out))
            return 0;
        snprintf(tried + strlen(tried), sizeof tried - strlen(tried), ", %s", out);
    }
    cli_errorf("build: the guest SDK is missing: no theater.h in %s (pass --sdk DIR or set "
               "THEATER_SDK to the SDK's directory, sdk/c in the source tree)",
               tried[0] ? tried : "(cannot tell where this program is)");
    return -1;
}

/* The SDK's C files (sorted), appended to argv at *argc. */
static int sdk_sources(const char *sdk, char **argv, size_t *argc, size_t max)
{
    DIR *d = opendir(sdk);
    struct dirent *e;
    size_t start = *argc, i, j;

    if (d == NULL) {
        cli_errorf("build: cannot read the SDK directory %s: %s", sdk, strerror(errno));
        return -1;
    }
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n < 3 || strcmp(e->d_name + n - 2, ".c") != 0)
            continue;
        if (*argc >= max) {
            closedir(d);
            cli_errorf("build: too many files in the SDK directory %s", sdk);
            return -1;
        }
        if ((argv[*argc] = malloc(strlen(sdk) + n + 2)) == NULL) {
            closedir(d);
            cli_errorf("build: out of memory");
            return -1;
        }
        sprintf(argv[(*argc)++], "%s/%s", sdk, e->d_name);
    }
    closedir(d);
    for (i = start + 1; i < *argc; i++) /* insertion sort: a stable command */
        for (j = i; j > start && strcmp(argv[j - 1], argv[j]) > 0; j--) {
            char *t = argv[j];
            argv[j] = argv[j - 1];
            argv[j - 1] = t;
        }
    if (*argc == start) {
        cli_errorf("build: the SDK directory %s has no .c files", sdk);
        return -1;
    }
    return 0;
}

int cli_cmd_build(int argc, char **argv)
{
    static const char *const ccs[] = {"clang",    "clang-19", "clang-18", "clang-17",
                                      "clang-16", "clang-15", "clang-14", NULL};
    static const char *const lds[] = {"wasm-ld",    "wasm-ld-19", "wasm-ld-18", "wasm-ld-17",
                                      "wasm-ld-16", "wasm-ld-15", "wasm-ld-14", NULL};
    static const char *const vals[] = {"--sdk", "--home", NULL};
    const char *dir = NULL, *sdk_opt = NULL, *v;
    char cc[PATH_MAX], ld[PATH_MAX], sdk[PATH_MAX], out[PATH_MAX], tmp[PATH_MAX];
    char targets[8192], *cargv[BUILD_MAX_SOURCES + BUILD_MAX_FLAGS + BUILD_MAX_SDK_FILES + 32];
    char *owned[BUILD_MAX_SOURCES + BUILD_MAX_SDK_FILES + 4]; /* malloc'd arguments */
    size_t nargs = 0, nowned = 0, i, sdk_from;
    build_spec b;
    int verbose = 0, json = 0, rc, status = 1, a, k;
    struct stat st;

    for (a = 1; a < argc; a++) {
        if (cli_is_help(argv[a])) {
            fputs(build_help, stdout);
            return 0;
        } else if ((k = cli_opt_value(argc, argv, &a, "build", vals, &v)) == 0) {
            sdk_opt = v;
        } else if (k == 1) {
            /* every command takes --home; a project does not live in a home */
        } else if (k == CLI_OPT_NO_VALUE) {
            return 2;
        } else if (strcmp(argv[a], "-v") == 0 || strcmp(argv[a], "--verbose") == 0) {
            verbose = 1;
        } else if (strcmp(argv[a], "--json") == 0) {
            json = 1;
        } else if (argv[a][0] == '-') {
            cli_errorf("build: unknown option '%s' (see `theater build --help`)", argv[a]);
            return 2;
        } else if (dir != NULL) {
            cli_errorf("build: one DIR only (see `theater build --help`)");
            return 2;
        } else {
            dir = argv[a];
        }
    }
    if (dir == NULL)
        dir = ".";
    if (strlen(dir) > PATH_MAX / 2) {
        cli_errorf("build: the path is too long");
        return 2;
    }
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        cli_errorf("build: %s is not a directory", dir);
        return 1;
    }
    if (read_spec(dir, &b) != 0)
        return 1;
    if (find_tool("THEATER_CC", ccs, "clang (the C compiler for wasm32)", "clang", cc, sizeof cc) !=
            0 ||
        find_tool("THEATER_WASM_LD", lds, "wasm-ld (the WebAssembly linker)", "lld", ld,
                  sizeof ld) != 0 ||
        find_sdk(sdk_opt, sdk, sizeof sdk) != 0)
        goto out;
    {
        char *probe[] = {cc, "-print-targets", NULL};
        if (run(probe, targets, sizeof targets) != 0 || strstr(targets, "wasm32") == NULL) {
            cli_errorf(
                "build: %s cannot compile to WebAssembly (its -print-targets lists no wasm32); "
                "use a clang with the WebAssembly backend (Debian's clang has it)",
                cc);
            goto out;
        }
    }

    rc = snprintf(out, sizeof out, "%s/%s", dir, b.output);
    if (rc < 0 || (size_t)rc >= sizeof out ||
        (rc = snprintf(tmp, sizeof tmp, "%s.tmp-%ld", out, (long)getpid())) < 0 ||
        (size_t)rc >= sizeof tmp) {
        cli_errorf("build: the output path is too long");
        goto out;
    }
    cargv[nargs++] = cc;
    cargv[nargs++] = "--target=wasm32";
    cargv[nargs++] = "-O2";
    cargv[nargs++] = "-std=gnu11";
    cargv[nargs++] = "-ffreestanding";
    cargv[nargs++] = "-nostdlib";
    cargv[nargs++] = "-Wall";
    cargv[nargs++] = "-Wextra";
    cargv[nargs++] = "-Wno-unused-parameter";
    {
        char *inc = malloc(strlen(sdk) + 3), *ldp = malloc(strlen(ld) + 10), *stack = malloc(64);
        if (inc == NULL || ldp == NULL || stack == NULL) {
            free(inc), free(ldp), free(stack);
            cli_errorf("build: out of memory");
            goto out;
        }
        sprintf(inc, "-I%s", sdk);
        sprintf(ldp, "-fuse-ld=%s", ld);
        sprintf(stack, "-Wl,-z,stack-size=%lld", b.stack);
        cargv[nargs++] = owned[nowned++] = inc;
        cargv[nargs++] = owned[nowned++] = ldp;
        cargv[nargs++] = owned[nowned++] = stack;
    }
    cargv[nargs++] = "-Wl,--no-entry";
    for (i = 0; i < b.nflags; i++)
        cargv[nargs++] = b.flags[i];
    for (i = 0; i < b.nsources; i++) {
        char *p = malloc(strlen(dir) + strlen(b.sources[i]) + 2);
        if (p == NULL) {
            cli_errorf("build: out of memory");
            goto args;
        }
        sprintf(p, "%s/%s", dir, b.sources[i]);
        cargv[nargs++] = owned[nowned++] = p;
    }
    sdk_from = nargs;
    rc = sdk_sources(sdk, cargv, &nargs, nargs + BUILD_MAX_SDK_FILES);
    for (i = sdk_from; i < nargs; i++)
        owned[nowned++] = cargv[i];
    if (rc != 0)
        goto args;
    cargv[nargs++] = "-o";
    cargv[nargs++] = tmp;
    cargv[nargs] = NULL;
    if (verbose) {
        for (i = 0; i < nargs; i++)
            fprintf(stderr, "%s%s", i ? " " : "", cargv[i]);
        fputc('\n', stderr);
    }
    fflush(stdout);
    rc = run(cargv, NULL, 0);
    if (rc != 0) {
        unlink(tmp);
        if (rc < 0)
            cli_errorf("build: cannot run %s: %s", cc, strerror(errno));
        else
            cli_errorf("build: %s failed (exit status %d); nothing was written", cc, rc);
        goto args;
    }
    if (rename(tmp, out) != 0) {
        cli_errorf("build: cannot write %s: %s", out, strerror(errno));
        unlink(tmp);
        goto args;
    }
    if (stat(out, &st) == 0) {
        if (json) {
            json_t *o = json_pack("{s:s, s:I}", "output", out, "bytes", (json_int_t)st.st_size);
            json_dumpf(o, stdout, JSON_INDENT(2));
            fputc('\n', stdout);
            json_decref(o);
        } else {
            printf("built %s (%lld bytes)\n", out, (long long)st.st_size);
        }
    }
    status = 0;
args:
    for (i = 0; i < nowned; i++)
        free(owned[i]);
out:
    spec_release(&b);
    return status;
}
