/*
 * cmd_completion.c - `theater completion bash|zsh|fish`: shell completion
 * scripts, all three written from one table of commands and flags (so the
 * shells agree with each other; the table follows the commands' --help and
 * API.md's CLI table, the daemon's commands included).
 *
 * Values are completed by kind: directories (--home), files, manifests
 * (*.toml), modules (*.wasm), event types, and actor ids: the short ids of
 * `theater chain ls` for the offline chain commands, the first column of
 * `theater list` for the daemon's.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/event_text.h"

/* Kinds of values. */
enum { V_NONE = 0, V_WORD, V_DIR, V_FILE, V_TOML, V_WASM, V_TYPE, V_CHAIN_ACTOR, V_ACTOR, V_SHELL };

typedef struct comp_flag {
    const char *name; /* "--home" or "-o" */
    int value;        /* V_*: the kind of the value it takes, V_NONE for none */
    const char *help;
} comp_flag;

typedef struct comp_sub {
    const char *name;
    int arg; /* kind of its positional arguments */
} comp_sub;

typedef struct comp_cmd {
    const char *name, *help;
    int arg;             /* kind of positional arguments (no subcommands) */
    comp_sub subs[10];   /* subcommands, if any */
    comp_flag flags[12]; /* besides --home, --json, -h/--help */
} comp_cmd;

static const comp_cmd cmds[] = {
    {"server",
     "run the daemon for THEATER_HOME",
     V_NONE,
     {{0}},
     {{"--listen", V_WORD, "also serve on TCP ADDR:PORT (bearer token)"},
      {"--foreground", V_NONE, "stay in the foreground"},
      {"--log-level", V_WORD, "error, warn, info or debug"},
      {"--compat-listen", V_WORD, "serve the original protocol on ADDR:PORT"},
      {"--compat-allow-remote", V_NONE, "let --compat-listen use a non-loopback address"}}},
    {"start",
     "start an actor in the daemon",
     V_TOML,
     {{0}},
     {{"--state", V_WORD, "initial state (JSON)"}, {"--follow", V_NONE, "then stream its events"}}},
    {"list", "the daemon's actors", V_NONE, {{0}}, {{"--tree", V_NONE, "parents and children"}}},
    {"inspect", "an actor's status, manifest, children, metrics", V_ACTOR, {{0}}, {{0}}},
    {"state", "an actor's current state", V_ACTOR, {{0}}, {{0}}},
    {"events",
     "an actor's events (live with --follow)",
     V_ACTOR,
     {{0}},
     {{"--follow", V_NONE, "keep streaming new events"},
      {"--type", V_TYPE, "only events of this type"},
      {"--limit", V_WORD, "the newest N events"},
      {"--wide", V_NONE, "every value whole"}}},
    {"message",
     "send a message (or a request) to an actor",
     V_ACTOR,
     {{0}},
     {{"--request", V_NONE, "wait for the reply and print it"},
      {"--file", V_FILE, "the message is this file's bytes"}}},
    {"channel", "open a channel to an actor", V_NONE, {{"open", V_ACTOR}}, {{0}}},
    {"stop", "stop an actor", V_ACTOR, {{0}}, {{"--force", V_NONE, "terminate at once"}}},
    {"restart", "restart an actor", V_ACTOR, {{0}}, {{0}}},
    {"update", "replace an actor's code", V_ACTOR, {{0}}, {{0}}},
    {"run",
     "run an actor system in this process",
     V_TOML,
     {{0}},
     {{"--initial-state", V_WORD, "initial state (JSON, or @FILE)"},
      {"--events", V_NONE, "print every event"},
      {"--workers", V_WORD, "worker threads"}}},
    {"new", "write a new actor project", V_WORD, {{0}}, {{0}}},
    {"build",
     "compile an actor project",
     V_DIR,
     {{0}},
     {{"--sdk", V_DIR, "the guest SDK's directory"}, {"-v", V_NONE, "print the clang command"}}},
    {"chain",
     "event chains",
     V_NONE,
     {{"ls", V_NONE},
      {"head", V_CHAIN_ACTOR},
      {"events", V_CHAIN_ACTOR},
      {"verify", V_CHAIN_ACTOR},
      {"export", V_CHAIN_ACTOR},
      {"verify-file", V_FILE},
      {"import", V_FILE}},
     {{"--type", V_TYPE, "only events of this type"},
      {"--limit", V_WORD, "the newest N events"},
      {"--wide", V_NONE, "every value whole"},
      {"-o", V_FILE, "write the export to FILE"},
      {"--key", V_WORD, "trusted public key (hex)"}}},
    {"store",
     "the content store",
     V_FILE,
     {{"new", V_NONE}, {"put", V_FILE}, {"get", V_WORD}, {"label", V_WORD}, {"ls", V_WORD}},
     {{"--store", V_WORD, "the store id"}, {"-o", V_FILE, "write the content to FILE"}}},
    {"wasm",
     "run or validate a WebAssembly module",
     V_WASM,
     {{"run", V_WASM}, {"validate", V_WASM}},
     {{"--invoke", V_WORD, "call this export instead of _start"},
      {"--dir", V_WORD, "preopen HOST::GUEST"},
      {"--env", V_WORD, "set KEY=VALUE"},
      {"--fuel", V_WORD, "instruction budget"},
      {"--max-memory", V_WORD, "memory limit in bytes"}}},
    {"completion",
     "shell completion scripts",
     V_NONE,
     {{"bash", V_NONE}, {"zsh", V_NONE}, {"fish", V_NONE}},
     {{0}}},
};

#define NCMDS (sizeof cmds / sizeof cmds[0])

static const comp_flag common[] = {
    {"--home", V_DIR, "THEATER_HOME"},
    {"--json", V_NONE, "machine-readable output"},
    {"--help", V_NONE, "describe the command"},
};

static const char completion_help[] =
    "usage: theater completion bash|zsh|fish\n"
    "\n"
    "Print a completion script for the shell: commands, subcommands, flags and\n"
    "their values (directories, manifests, modules, event types, actor ids).\n"
    "\n"
    "  bash:  source <(theater completion bash)      (e.g. in ~/.bashrc)\n"
    "  zsh:   theater completion zsh > \"${fpath[1]}/_theater\"\n"
    "  fish:  theater completion fish > ~/.config/fish/completions/theater.fish\n"
    "\n"
    "--home DIR and --json are accepted, as by every command, and change nothing.\n";

/* Space-separated event types. */
static void put_types(FILE *out)
{
    size_t i;

    for (i = 0; i < cli_event_ntypes; i++)
        fprintf(out, "%s%s", i ? " " : "", cli_event_types[i]);
}

/* ------------------------------------------------------------------ */
/* bash                                                               */

static void bash_value(FILE *out, int kind)
{
    switch (kind) {
    case V_DIR: fputs("COMPREPLY=($(compgen -d -- \"$cur\"))", out); break;
    case V_FILE: fputs("COMPREPLY=($(compgen -f -- \"$cur\"))", out); break;
    case V_TOML: fputs("_theater_files toml", out); break;
    case V_WASM: fputs("_theater_files wasm", out); break;
    case V_TYPE:
        fputs("COMPREPLY=($(compgen -W \"", out);
        put_types(out);
        fputs("\" -- \"$cur\"))", out);
        break;
    case V_CHAIN_ACTOR: fputs("_theater_ids chain ls", out); break;
    case V_ACTOR: fputs("_theater_ids list", out); break;
    default: fputs("COMPREPLY=()", out); break;
    }
}

static void bash_flags(FILE *out, const comp_cmd *c)
{
    size_t i;

    for (i = 0; i < sizeof common / sizeof common[0]; i++)
        fprintf(out, "%s%s", i ? " " : "", common[i].name);
    for (i = 0; i < 12 && c->flags[i].name; i++)
        fprintf(out, " %s", c->flags[i].name);
}

static void emit_bash(FILE *out)
{
    size_t i, k;

    fputs("# bash completion for theater (`theater completion bash`).\n"
          "# Load it with: source <(theater completion bash)\n"
          "\n"
          "# Files with extension $1, and directories.\n"
          "_theater_files() {\n"
          "    COMPREPLY=($(compgen -f -X \"!*.$1\" -- \"$cur\") $(compgen -d -- \"$cur\"))\n"
          "}\n"
          "\n"
          "# Actor ids: the first column of `theater [--home H] ARGS`, without its header.\n"
          "_theater_ids() {\n"
          "    local ids\n"
          "    ids=$(theater \"$@\" ${home:+--home \"$home\"} 2>/dev/null | awk 'NR > 1 {print "
          "$1}')\n"
          "    COMPREPLY=($(compgen -W \"$ids\" -- \"$cur\"))\n"
          "}\n"
          "\n"
          "_theater() {\n"
          "    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}\n"
          "    local cmd=${COMP_WORDS[1]} sub= home= i w valued\n"
          "    COMPREPLY=()\n"
          "    if [[ $COMP_CWORD -eq 1 ]]; then\n"
          "        COMPREPLY=($(compgen -W \"",
          out);
    for (i = 0; i < NCMDS; i++)
        fprintf(out, "%s ", cmds[i].name);
    fputs("--help --version\" -- \"$cur\"))\n"
          "        return\n"
          "    fi\n"
          "    case $cmd in\n",
          out);
    for (i = 0; i < NCMDS; i++) {
        const comp_cmd *c = &cmds[i];
        fprintf(out, "    %s)\n        valued=\"--home", c->name);
        for (k = 0; k < 12 && c->flags[k].name; k++)
            if (c->flags[k].value != V_NONE)
                fprintf(out, " %s", c->flags[k].name);
        fputs("\"\n        case $prev in\n            --home) ", out);
        bash_value(out, V_DIR);
        fputs("; return ;;\n", out);
        for (k = 0; k < 12 && c->flags[k].name; k++) {
            if (c->flags[k].value == V_NONE)
                continue;
            fprintf(out, "            %s) ", c->flags[k].name);
            bash_value(out, c->flags[k].value);
            fputs("; return ;;\n", out);
        }
        fputs("        esac\n", out);
        /* the words so far: --home's value, and the subcommand */
        fputs("        for ((i = 2; i < COMP_CWORD; i++)); do\n"
              "            w=${COMP_WORDS[i]}\n"
              "            if [[ \" $valued \" == *\" $w \"* ]]; then\n"
              "                [[ $w == --home ]] && home=${COMP_WORDS[i+1]}\n"
              "                ((i++))\n"
              "            elif [[ $w != -* && -z $sub ]]; then\n"
              "                sub=$w\n"
              "            fi\n"
              "        done\n"
              "        if [[ $cur == -* ]]; then\n"
              "            COMPREPLY=($(compgen -W \"",
              out);
        bash_flags(out, c);
        fputs("\" -- \"$cur\"))\n            return\n        fi\n", out);
        if (c->subs[0].name != NULL) {
            fputs("        case $sub in\n            '') COMPREPLY=($(compgen -W \"", out);
            for (k = 0; k < 10 && c->subs[k].name; k++)
                fprintf(out, "%s%s", k ? " " : "", c->subs[k].name);
            fputs("\" -- \"$cur\")) ;;\n", out);
            for (k = 0; k < 10 && c->subs[k].name; k++) {
                fprintf(out, "            %s) ", c->subs[k].name);
                bash_value(out, c->subs[k].arg);
                fputs(" ;;\n", out);
            }
            fputs("        esac\n", out);
        } else {
            fputs("        ", out);
            bash_value(out, c->arg);
            fputc('\n', out);
        }
        fputs("        ;;\n", out);
    }
    fputs("    esac\n"
          "}\n"
          "complete -F _theater theater\n",
          out);
}

/* ------------------------------------------------------------------ */
/* zsh                                                                */

/* A zsh _arguments action for a kind of value. */
static const char *zsh_action(int kind)
{
    switch (kind) {
    case V_DIR: return "_files -/";
    case V_FILE: return "_files";
    case V_TOML: return "_files -g \"*.toml\"";
    case V_WASM: return "_files -g \"*.wasm\"";
    case V_TYPE: return "__TYPES__";
    case V_CHAIN_ACTOR: return "_theater_chain_ids";
    case V_ACTOR: return "_theater_ids";
    default: return " ";
    }
}

static void zsh_action_put(FILE *out, int kind)
{
    const char *a = zsh_action(kind);

    if (strcmp(a, "__TYPES__") == 0) {
        fputc('(', out);
        put_types(out);
        fputc(')', out);
    } else {
        fputs(a, out);
    }
}

/* Help text safe inside '...[help]...': no quotes or brackets. */
static void zsh_help(FILE *out, const char *s)
{
    for (; *s; s++)
        if (*s != '\'' && *s != '[' && *s != ']' && *s != ':')
            fputc(*s, out);
}

static void emit_zsh(FILE *out)
{
    size_t i, k;

    fputs("#compdef theater\n"
          "# zsh completion for theater (`theater completion zsh`).  Save it as _theater\n"
          "# in a directory of $fpath, or load it with: source <(theater completion zsh)\n"
          "\n"
          "_theater_ids() {\n"
          "  local -a ids\n"
          "  ids=(${(f)\"$(theater list 2>/dev/null | awk 'NR > 1 {print $1}')\"})\n"
          "  compadd -a ids\n"
          "}\n"
          "\n"
          "_theater_chain_ids() {\n"
          "  local -a ids home\n"
          "  home=(${opt_args[--home]:+--home ${opt_args[--home]}})\n"
          "  ids=(${(f)\"$(theater chain $home ls 2>/dev/null | awk 'NR > 1 {print $1}')\"})\n"
          "  compadd -a ids\n"
          "}\n"
          "\n"
          "_theater() {\n"
          "  local curcontext=$curcontext state line\n"
          "  typeset -A opt_args\n"
          "  local -a commands\n"
          "  commands=(\n",
          out);
    for (i = 0; i < NCMDS; i++) {
        fprintf(out, "    '%s:", cmds[i].name);
        zsh_help(out, cmds[i].help);
        fputs("'\n", out);
    }
    fputs("  )\n"
          "  if (( CURRENT == 2 )); then\n"
          "    _describe -t commands 'theater command' commands\n"
          "    compadd -- --help --version\n"
          "    return\n"
          "  fi\n"
          "  local cmd=$words[2]\n"
          "  shift words\n"
          "  (( CURRENT-- ))\n"
          "  curcontext=\"${curcontext%:*:*}:theater-$cmd:\"\n"
          "  case $cmd in\n",
          out);
    for (i = 0; i < NCMDS; i++) {
        const comp_cmd *c = &cmds[i];
        fprintf(out, "  %s)\n    _arguments -C -s \\\n", c->name);
        fputs("      '--home[THEATER_HOME]:directory:_files -/' \\\n"
              "      '--json[machine-readable output]' \\\n"
              "      '(-h --help)'{-h,--help}'[describe the command]' \\\n",
              out);
        for (k = 0; k < 12 && c->flags[k].name; k++) {
            fprintf(out, "      '%s[", c->flags[k].name);
            zsh_help(out, c->flags[k].help);
            fputc(']', out);
            if (c->flags[k].value != V_NONE) {
                fputs(":value:", out);
                zsh_action_put(out, c->flags[k].value);
            }
            fputs("' \\\n", out);
        }
        if (c->subs[0].name != NULL) {
            fputs("      '1:subcommand:(", out);
            for (k = 0; k < 10 && c->subs[k].name; k++)
                fprintf(out, "%s%s", k ? " " : "", c->subs[k].name);
            fputs(")' \\\n      '*::argument:->args'\n", out);
            fputs("    [[ $state == args ]] || return\n    case $line[1] in\n", out);
            for (k = 0; k < 10 && c->subs[k].name; k++) {
                fprintf(out, "    %s) ", c->subs[k].name);
                if (c->subs[k].arg == V_NONE || c->subs[k].arg == V_WORD)
                    fputs("_message 'argument'", out);
                else if (c->subs[k].arg == V_TYPE)
                    zsh_action_put(out, V_TYPE);
                else
                    fputs(zsh_action(c->subs[k].arg), out);
                fputs(" ;;\n", out);
            }
            fputs("    esac\n", out);
        } else if (c->arg != V_NONE) {
            fputs("      '*:argument:", out);
            zsh_action_put(out, c->arg);
            fputs("'\n", out);
        } else {
            fputs("      \n", out);
        }
        fputs("    ;;\n", out);
    }
    fputs("  esac\n"
          "}\n"
          "\n"
          "if [[ $zsh_eval_context[-1] == loadautofunc ]]; then\n"
          "  _theater \"$@\"\n"
          "else\n"
          "  compdef _theater theater\n"
          "fi\n",
          out);
}

/* ------------------------------------------------------------------ */
/* fish                                                               */

static void fish_value(FILE *out, int kind)
{
    switch (kind) {
    case V_DIR: fputs(" -r -a '(__fish_complete_directories)'", out); break;
    case V_FILE: fputs(" -r -F", out); break;
    case V_TOML: fputs(" -r -a '(__fish_complete_suffix .toml)'", out); break;
    case V_WASM: fputs(" -r -a '(__fish_complete_suffix .wasm)'", out); break;
    case V_TYPE:
        fputs(" -x -a '", out);
        put_types(out);
        fputc('\'', out);
        break;
    case V_CHAIN_ACTOR: fputs(" -x -a '(__theater_ids chain ls)'", out); break;
    case V_ACTOR: fputs(" -x -a '(__theater_ids list)'", out); break;
    case V_WORD: fputs(" -x", out); break;
    default: break;
    }
}

/* Text inside fish's single quotes: ' and \ escaped. */
static void fish_quoted(FILE *out, const char *s)
{
    fputc('\'', out);
    for (; *s; s++) {
        if (*s == '\'' || *s == '\\')
            fputc('\\', out);
        fputc(*s, out);
    }
    fputc('\'', out);
}

static void fish_flag(FILE *out, const char *cmd, const comp_flag *f)
{
    fprintf(out, "complete -c theater -n '__fish_seen_subcommand_from %s' ", cmd);
    if (f->name[1] == '-')
        fprintf(out, "-l %s", f->name + 2);
    else
        fprintf(out, "-s %s", f->name + 1);
    fish_value(out, f->value);
    fputs(" -d ", out);
    fish_quoted(out, f->help);
    fputc('\n', out);
}

static void emit_fish(FILE *out)
{
    size_t i, k;

    fputs("# fish completion for theater (`theater completion fish`).  Save it as\n"
          "# ~/.config/fish/completions/theater.fish\n"
          "\n"
          "# Actor ids: the first column of `theater ARGS [--home H]`, without its header.\n"
          "function __theater_ids\n"
          "    set -l words (commandline -opc)\n"
          "    set -l home\n"
          "    for i in (seq (math (count $words) - 1))\n"
          "        if test \"$words[$i]\" = --home\n"
          "            set home --home $words[(math $i + 1)]\n"
          "        end\n"
          "    end\n"
          "    theater $argv $home 2>/dev/null | awk 'NR > 1 {print $1}'\n"
          "end\n"
          "\n"
          "complete -c theater -f\n"
          "complete -c theater -n __fish_use_subcommand -l help -s h -d 'describe the commands'\n"
          "complete -c theater -n __fish_use_subcommand -l version -d 'print the version'\n",
          out);
    for (i = 0; i < NCMDS; i++) {
        fprintf(out, "complete -c theater -n __fish_use_subcommand -a %s -d ", cmds[i].name);
        fish_quoted(out, cmds[i].help);
        fputc('\n', out);
    }
    for (i = 0; i < NCMDS; i++) {
        const comp_cmd *c = &cmds[i];
        fprintf(out, "\n# theater %s\n", c->name);
        for (k = 0; k < sizeof common / sizeof common[0]; k++)
            fish_flag(out, c->name, &common[k]);
        for (k = 0; k < 12 && c->flags[k].name; k++)
            fish_flag(out, c->name, &c->flags[k]);
        if (c->subs[0].name != NULL) {
            fprintf(out,
                    "complete -c theater -n '__fish_seen_subcommand_from %s; and not "
                    "__fish_seen_subcommand_from",
                    c->name);
            for (k = 0; k < 10 && c->subs[k].name; k++)
                fprintf(out, " %s", c->subs[k].name);
            fputs("' -a '", out);
            for (k = 0; k < 10 && c->subs[k].name; k++)
                fprintf(out, "%s%s", k ? " " : "", c->subs[k].name);
            fputs("'\n", out);
            for (k = 0; k < 10 && c->subs[k].name; k++) {
                if (c->subs[k].arg == V_NONE || c->subs[k].arg == V_WORD)
                    continue;
                fprintf(out,
                        "complete -c theater -n '__fish_seen_subcommand_from %s; and "
                        "__fish_seen_subcommand_from %s'",
                        c->name, c->subs[k].name);
                fish_value(out, c->subs[k].arg);
                fputc('\n', out);
            }
        } else if (c->arg != V_NONE && c->arg != V_WORD) {
            fprintf(out, "complete -c theater -n '__fish_seen_subcommand_from %s'", c->name);
            fish_value(out, c->arg);
            fputc('\n', out);
        }
    }
}

int cli_cmd_completion(int argc, char **argv)
{
    const char *shell = NULL;

    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            fputs(completion_help, stdout);
            return 0;
        } else if (strcmp(argv[i], "--json") == 0) {
            continue; /* every command takes it; a completion script has no JSON form */
        } else if (strcmp(argv[i], "--home") == 0 && i + 1 < argc) {
            i++; /* every command takes it; the script does not depend on a home */
        } else if (shell != NULL) {
            shell = NULL;
            break;
        } else {
            shell = argv[i];
        }
    }
    if (shell == NULL) {
        cli_errorf("completion: which shell? bash, zsh or fish (see `theater completion --help`)");
        return 2;
    }
    if (strcmp(shell, "bash") == 0) {
        emit_bash(stdout);
    } else if (strcmp(shell, "zsh") == 0) {
        emit_zsh(stdout);
    } else if (strcmp(shell, "fish") == 0) {
        emit_fish(stdout);
    } else {
        cli_errorf("completion: unknown shell '%s'; the shells are bash, zsh and fish", shell);
        return 2;
    }
    return fflush(stdout) == 0 ? 0 : 1;
}
