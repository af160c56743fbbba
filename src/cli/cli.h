/*
 * cli.h - the `theater` command's subcommands.  Each lives in its own
 * cmd_<name>.c and is listed in the table in main.c.
 *
 * A subcommand gets argv with argv[0] = its own name, returns the process
 * exit code, and prints its own --help.
 */
#ifndef THEATER_CLI_H
#define THEATER_CLI_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include <jansson.h>

#include "theater/error.h"
#include "theater/runtime.h"

typedef struct cli_command {
    const char *name;
    const char *summary; /* one line for `theater --help` */
    int (*run)(int argc, char **argv);
} cli_command;

/* Shared helpers (main.c). */
/* Set when `--home` came before the command (main.c passes it on as
 * $THEATER_HOME): hints then name the home as the user gave it. */
extern bool cli_home_option;
/* Print "theater: " + message to stderr. */
void cli_errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The frames of a wasm backtrace (one "#N name" frame per line; NULL or
 * "" for none) on `f` under an error line, one indented line each
 * ("    at #N name"), control characters shown as '?'. */
void cli_print_frames(FILE *f, const char *backtrace);
/* The lines of a wasm backtrace ("#N name" each) as a JSON array of
 * strings (a line that is not UTF-8 is left out); NULL for none. */
json_t *cli_frames_json(const char *backtrace);
/* True if argv[i] is -h or --help. */
int cli_is_help(const char *arg);
/* Read a whole file ("-" = stdin) into a malloc'd buffer; NULL + message on
 * error.  Only regular files (or stdin) of at most `max` bytes are read (a
 * FIFO, device or directory is refused at once, see base/file.h); `what`
 * names the file's role in messages.  The caller frees. */
unsigned char *cli_read_file_max(const char *path, const char *what, uint64_t max,
                                 size_t *len /* out */);
/* cli_read_file_max with the widest limit, TH_CLI_MAX_FILE_BYTES. */
unsigned char *cli_read_file(const char *path, size_t *len /* out */);
/* Which of the value options `names` (NULL-terminated) argv[*i] is, given
 * as "NAME VALUE" or, for a long option, "NAME=VALUE".  Returns its index
 * in `names`, with *val set and *i moved to the value's word; -1 if
 * argv[*i] is none of them; CLI_OPT_NO_VALUE if it is one but has no
 * value, after printing "CMD: NAME needs a value" (a usage error). */
#define CLI_OPT_NO_VALUE (-2)
int cli_opt_value(int argc, char **argv, int *i, const char *cmd, const char *const *names,
                  const char **val /* out */);

/* Subcommands (cmd_*.c). */
int cli_cmd_wasm(int argc, char **argv);
int cli_cmd_run(int argc, char **argv);
int cli_cmd_store(int argc, char **argv);
int cli_cmd_chain(int argc, char **argv);
int cli_cmd_server(int argc, char **argv);
int cli_cmd_start(int argc, char **argv);
int cli_cmd_list(int argc, char **argv);
int cli_cmd_inspect(int argc, char **argv);
int cli_cmd_state(int argc, char **argv);
int cli_cmd_events(int argc, char **argv);
int cli_cmd_message(int argc, char **argv);
int cli_cmd_channel(int argc, char **argv);
int cli_cmd_stop(int argc, char **argv);
int cli_cmd_restart(int argc, char **argv);
int cli_cmd_update(int argc, char **argv);
int cli_cmd_new(int argc, char **argv);
int cli_cmd_build(int argc, char **argv);
int cli_cmd_completion(int argc, char **argv);
int cli_cmd_replay(int argc, char **argv);

/* Replay (cmd_replay.c).  A record to replay: the chain of actor `arg` (id
 * or unique prefix) in `home`, or the export file `arg` if there is one.
 * *out is the caller's (cli_replay_free). */
typedef struct cli_replay_src cli_replay_src;
int cli_replay_load(const char *home, const char *arg, cli_replay_src **out /* out */,
                    th_error *err);
void cli_replay_free(cli_replay_src *src);
/* The record's actor id (borrowed). */
const char *cli_replay_actor(const cli_replay_src *src);
/* th_runtime_replay on the record (component: other code, or NULL;
 * backtrace: th_runtime_replay_opts.backtrace, may be NULL). */
int cli_replay_run(cli_replay_src *src, const uint8_t *component, size_t component_len,
                   uint64_t until, th_runtime_replay_state_fn fn, void *ud,
                   th_runtime_replay_result *res /* out */, char **backtrace /* out */,
                   th_error *err);
/* `theater state ID --at SEQ [--home DIR] [--json]`. */
int cli_replay_state_at(int argc, char **argv);

#endif
