/*
 * main.c - entry point of the `theater` command: dispatch to subcommands.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "base/limits.h"
#include "cli/cli.h"

#ifndef THEATER_VERSION
#error "THEATER_VERSION comes from the CMake project version"
#endif

static const cli_command commands[] = {
    {"wasm", "run or validate a WebAssembly module (wasm run|validate)", cli_cmd_wasm},
    {"run", "run an actor system from a manifest until it shuts down", cli_cmd_run},
    {"store", "the content store (store new|put|get|label|ls)", cli_cmd_store},
    {"chain", "event chains (chain ls|head|events|verify|export|verify-file|import|key|trust)",
     cli_cmd_chain},
    {"server", "the daemon: serve the management API on HOME/theater.sock", cli_cmd_server},
    {"start", "start an actor in the daemon from a manifest", cli_cmd_start},
    {"list", "the daemon's actors (--tree: the supervision tree)", cli_cmd_list},
    {"inspect", "an actor's status, manifest, children, metrics, recent events", cli_cmd_inspect},
    {"state", "an actor's current state", cli_cmd_state},
    {"events", "an actor's chain events (--follow: live)", cli_cmd_events},
    {"message", "send a message to an actor (--request: and print the reply)", cli_cmd_message},
    {"channel", "open a channel to an actor (channel open ID [DATA])", cli_cmd_channel},
    {"stop", "stop an actor (--force: at once)", cli_cmd_stop},
    {"restart", "restart an actor with its manifest", cli_cmd_restart},
    {"update", "replace an actor's code, keeping its state and chain (hot upgrade)",
     cli_cmd_update},
    {"replay", "re-run an actor from its chain and compare every event", cli_cmd_replay},
    {"new", "write a new actor project (C source, manifest, build file)", cli_cmd_new},
    {"build", "compile an actor project to WebAssembly", cli_cmd_build},
    {"completion", "shell completion scripts (completion bash|zsh|fish)", cli_cmd_completion},
};

#define NCOMMANDS (sizeof commands / sizeof commands[0])

void cli_errorf(const char *fmt, ...)
{
    va_list ap;
    fputs("theater: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void cli_print_frames(FILE *f, const char *backtrace)
{
    const char *p, *nl;

    for (p = backtrace; p != NULL && *p != '\0'; p = nl + (*nl != '\0')) {
        if ((nl = strchr(p, '\n')) == NULL)
            nl = p + strlen(p);
        if (nl == p)
            continue;
        fputs("    at ", f);
        for (; p < nl; p++)
            fputc((unsigned char)*p < 0x20 || *p == 0x7f ? '?' : *p, f);
        fputc('\n', f);
    }
}

json_t *cli_frames_json(const char *backtrace)
{
    const char *p, *nl;
    json_t *a;

    if (backtrace == NULL || backtrace[0] == '\0' || (a = json_array()) == NULL)
        return NULL;
    for (p = backtrace; *p != '\0'; p = nl + (*nl != '\0')) {
        if ((nl = strchr(p, '\n')) == NULL)
            nl = p + strlen(p);
        if (nl > p)
            json_array_append_new(a, json_stringn(p, (size_t)(nl - p)));
    }
    return a;
}

int cli_is_help(const char *arg)
{
    return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}

unsigned char *cli_read_file_max(const char *path, const char *what, uint64_t max, size_t *len)
{
    uint8_t *buf = NULL;
    th_error err;
    int rc;

    th_error_clear(&err);
    if (strcmp(path, "-") == 0)
        rc = base_fd_read(0, "standard input", max, &buf, len, &err);
    else
        rc = base_file_read(path, what, max, &buf, len, &err);
    if (rc != TH_OK) {
        cli_errorf("%s", err.msg);
        return NULL;
    }
    return buf;
}

unsigned char *cli_read_file(const char *path, size_t *len)
{
    return cli_read_file_max(path, "file", TH_CLI_MAX_FILE_BYTES, len);
}

int cli_opt_value(int argc, char **argv, int *i, const char *cmd, const char *const *names,
                  const char **val)
{
    const char *a = argv[*i];
    size_t n;
    int k;

    for (k = 0; names[k] != NULL; k++) {
        n = strlen(names[k]);
        if (strncmp(a, names[k], n) != 0)
            continue;
        if (a[n] == '=' && strncmp(a, "--", 2) == 0) {
            *val = a + n + 1;
            if (**val != '\0')
                return k;
        } else if (a[n] != '\0') {
            continue;
        } else if (*i + 1 < argc) {
            *val = argv[++*i];
            return k;
        }
        cli_errorf("%s: %s needs a value", cmd, names[k]);
        return CLI_OPT_NO_VALUE;
    }
    return -1;
}

static void usage(FILE *out)
{
    size_t i;
    fprintf(out, "usage: theater <command> [options] [args]\n\n"
                 "Theater runs WebAssembly actors: sandboxed, supervised, and recorded in\n"
                 "verifiable event chains.\n\ncommands:\n");
    for (i = 0; i < NCOMMANDS; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n`theater <command> --help` (or `theater help <command>`) describes each\n"
                 "command; `theater --version` prints the version.  --home DIR and --json may\n"
                 "also come before the command (`theater --home DIR list`).\n");
}

/* Options given before the command, as `theater --home DIR list`: --home
 * becomes THEATER_HOME (which every command reads when it has no --home of
 * its own) and --json goes after the command's name.  Returns the new argc,
 * or -1 after telling the user. */
bool cli_home_option;

static int take_globals(int argc, char **argv)
{
    bool json = false;
    int i = 1, k;

    while (i < argc && strncmp(argv[i], "--", 2) == 0) {
        const char *home = NULL;
        if (strcmp(argv[i], "--json") == 0) {
            json = true;
            i++;
        } else if (strcmp(argv[i], "--home") == 0) {
            home = i + 1 < argc ? argv[i + 1] : ""; /* "": refused below */
            i += 2;
        } else if (strncmp(argv[i], "--home=", 7) == 0) {
            home = argv[i++] + 7;
        } else {
            break;
        }
        if (home != NULL && (home[0] == 0 || setenv("THEATER_HOME", home, 1) != 0)) {
            cli_errorf("--home needs a directory");
            return -1;
        }
        if (home != NULL)
            cli_home_option = true;
    }
    /* argv[1..] = the command, [--json], the rest */
    k = 1;
    if (i < argc)
        argv[k++] = argv[i++];
    if (json && k == 2)
        argv[k++] = "--json";
    while (i < argc)
        argv[k++] = argv[i++];
    argv[k] = NULL;
    return k;
}

int main(int argc, char **argv)
{
    size_t i;

    if (argc >= 2 && (strcmp(argv[1], "--json") == 0 || strncmp(argv[1], "--home", 6) == 0) &&
        (argc = take_globals(argc, argv)) < 0)
        return 2;
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (cli_is_help(argv[1]) || strcmp(argv[1], "help") == 0) {
        /* `theater help start`; `theater help --help` is help about help */
        if (strcmp(argv[1], "help") == 0 && argc >= 3 && !cli_is_help(argv[2])) {
            for (i = 0; i < NCOMMANDS; i++)
                if (strcmp(argv[2], commands[i].name) == 0)
                    return commands[i].run(2, (char *[]){argv[2], "--help", NULL});
            cli_errorf("help: unknown command '%s' (see `theater --help`)", argv[2]);
            return 2;
        }
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        printf("theater %s\n", THEATER_VERSION);
        return 0;
    }
    for (i = 0; i < NCOMMANDS; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    cli_errorf("unknown command '%s' (see `theater --help`)", argv[1]);
    return 2;
}
