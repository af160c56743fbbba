/*
 * cmd_completion.c - `theater completion bash|zsh|fish`: shell completion
 * scripts, all three written from one tree of commands, so that the shells
 * agree with each other.  The tree follows the commands' --help texts, which
 * are the truth: tests/integration/cli/completion_help.sh checks that every
 * command, subcommand and long option a help text names is offered.
 *
 * A node of the tree (the root, a command, a subcommand such as
 * `chain trust add`) has flags, which its subcommands inherit (--home, --json
 * and --help belong to every node; the root's own --version to it alone),
 * subcommands, and the kinds of its positional arguments, position by
 * position.  Values are completed by kind: directories, files, manifests
 * (*.toml), modules (*.wasm), event types, fixed words, command names, and
 * actor ids: the short ids of `theater chain ls` for the offline chain
 * commands and replay, the first column of `theater list` for the daemon's.
 *
 * Every script finds the command after the global options (`--home DIR`,
 * `--home=DIR`, `--json`), skips each flag's value when it counts positions,
 * and passes a --home given anywhere on to the command that lists actor ids.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/event_text.h"
#include "theater/runtime.h"

/* Kinds of values, of flags and of positional arguments. */
enum {
    V_NONE = 0,      /* a flag without a value; no (further) positional argument */
    V_WORD,          /* free text: nothing to offer */
    V_DIR,           /* a directory */
    V_FILE,          /* any file */
    V_TOML,          /* a manifest */
    V_WASM,          /* a module */
    V_TYPE,          /* an event type */
    V_ACTOR,         /* an actor of the daemon (`theater list`) */
    V_CHAIN_ACTOR,   /* an actor with a chain in the home (`theater chain ls`) */
    V_CHAIN_OR_FILE, /* that, or an exported chain file (replay) */
    V_COMMAND,       /* a command of theater (help) */
    V_SHELL,         /* bash, zsh or fish */
    V_LOG_LEVEL,     /* error, warn, info or debug */
    V_NKINDS
};

/* The kinds' names in the bash script ("toml" and "wasm" are also the
 * extensions of their files). */
static const char *const kind_names[V_NKINDS] = {
    "none",  "word",  "dir",        "file",    "toml",  "wasm",  "type",
    "actor", "chain", "chain-file", "command", "shell", "level",
};

typedef struct comp_flag {
    const char *name; /* "--type" or "-o" */
    int value;        /* V_*: the kind of the value it takes, V_NONE for none */
    const char *help;
} comp_flag;

#define MAX_ARGS 3   /* positional arguments completed by kind */
#define MAX_DEPTH 4  /* root, command, subcommand, sub-subcommand */
#define MAX_FLAGS 24 /* of one node: the common ones and those it inherits included */

typedef struct comp_node comp_node;
struct comp_node {
    const char *name, *help;
    const comp_flag *flags; /* its own flags, ending with {0}, or NULL */
    const comp_node *subs;  /* its subcommands, ending with {0}, or NULL */
    int args[MAX_ARGS];     /* the kinds of its positional arguments, in order */
};

/* Lists for the tree below: static arrays (compound literals at file scope). */
#define FLAGS(...) ((const comp_flag[]){__VA_ARGS__, {0}})
#define SUBS(...) ((const comp_node[]){__VA_ARGS__, {0}})

/* Every node's flags. */
static const comp_flag common[] = {
    {"--home", V_DIR, "THEATER_HOME"},
    {"--json", V_NONE, "machine-readable output"},
    {"--help", V_NONE, "describe the command"},
    {0},
};

/* The commands, in the order of `theater --help`; each entry is
 * {name, help, flags, subcommands, {kinds of positional arguments}}. */
static const comp_node root = {
    "theater",
    "WebAssembly actors",
    FLAGS({"--version", V_NONE, "print the version"}),
    SUBS({"wasm",
          "run or validate a WebAssembly module",
          NULL,
          SUBS({"run",
                "run a WASI command module, or call one export",
                FLAGS({"--invoke", V_WORD, "call this export instead of _start"},
                      {"--dir", V_DIR, "preopen a host directory (HOST::GUEST)"},
                      {"--env", V_WORD, "add an environment variable KEY=VALUE"},
                      {"--fuel", V_WORD, "trap after N fuel units"},
                      {"--max-memory", V_WORD, "limit linear memory (bytes, K, M, G)"},
                      {"--max-stack", V_WORD, "limit the wasm stack (bytes, K, M, G)"}),
                NULL,
                {V_WASM}},
               {"validate", "check that a binary is a valid module", NULL, NULL, {V_WASM}}),
          {V_NONE}},
         {"run",
          "run an actor system from a manifest until it shuts down",
          FLAGS({"--initial-state", V_WORD, "initial state (JSON, or @FILE)"},
                {"--events", V_NONE, "print every chain event"},
                {"--workers", V_WORD, "worker threads"}),
          NULL,
          {V_TOML}},
         {"store",
          "the content store",
          FLAGS({"--store", V_WORD, "the store to use"}),
          SUBS({"new", "create a store and print its id", NULL, NULL, {V_NONE}},
               {"ls", "list stores, or one store's content", NULL, NULL, {V_WORD}},
               {"put", "store a file (- = stdin)", NULL, NULL, {V_FILE}},
               {"get",
                "write content to stdout (or FILE)",
                FLAGS({"-o", V_FILE, "write the content to FILE"}),
                NULL,
                {V_WORD}},
               {"label",
                "name a reference",
                NULL,
                SUBS({"set", "set LABEL to REF", NULL, NULL, {V_WORD, V_WORD}},
                     {"get", "the reference of LABEL", NULL, NULL, {V_WORD}},
                     {"rm", "remove LABEL", NULL, NULL, {V_WORD}},
                     {"ls", "the store's labels", NULL, NULL, {V_NONE}}),
                {V_NONE}}),
          {V_NONE}},
         {"chain",
          "event chains",
          NULL,
          SUBS({"ls",
                "actors with chains",
                FLAGS({"--wide", V_NONE, "every value whole"}),
                NULL,
                {V_NONE}},
               {"head", "the signed head of a chain", NULL, NULL, {V_CHAIN_ACTOR}},
               {"events",
                "an actor's events",
                FLAGS({"--type", V_TYPE, "only events of this type"},
                      {"--limit", V_WORD, "the newest N events"},
                      {"--wide", V_NONE, "every value whole"},
                      {"--state", V_NONE, "the state after each call"}),
                NULL,
                {V_CHAIN_ACTOR}},
               {"verify", "check one chain, or all", NULL, NULL, {V_CHAIN_ACTOR}},
               {"export",
                "a chain as JSON Lines",
                FLAGS({"-o", V_FILE, "write the export to FILE"},
                      {"--with-components", V_NONE, "also the code it ran"}),
                NULL,
                {V_CHAIN_ACTOR}},
               {"verify-file",
                "verify an exported chain",
                FLAGS({"--key", V_WORD, "trust this public key (hex)"}),
                NULL,
                {V_FILE}},
               {"import",
                "verify and add an exported chain",
                FLAGS({"--allow-untrusted", V_NONE, "accept an untrusted signer"}),
                NULL,
                {V_FILE}},
               {"key", "this home's public key", NULL, NULL, {V_NONE}},
               {"trust",
                "the keys this home trusts",
                NULL,
                SUBS({"ls", "the trusted keys", NULL, NULL, {V_NONE}},
                     {"add", "trust KEY", NULL, NULL, {V_WORD, V_WORD}},
                     {"rm", "stop trusting a key", NULL, NULL, {V_WORD}}),
                {V_NONE}}),
          {V_NONE}},
         {"server",
          "the daemon: serve the management API",
          FLAGS({"--listen", V_WORD, "also serve on TCP HOST:PORT (bearer token)"},
                {"--foreground", V_NONE, "stay in the foreground"},
                {"--log-level", V_LOG_LEVEL, "error, warn, info or debug"},
                {"--client-timeout", V_WORD, "close idle connections after S seconds"},
                {"--stream-buffer", V_WORD, "bytes an event stream may hold"},
                {"--compat-listen", V_WORD, "serve the original protocol on HOST:PORT"},
                {"--compat-allow-remote", V_NONE, "let --compat-listen use a non-loopback address"},
                {"--workers", V_WORD, "runtime worker threads"}),
          NULL,
          {V_NONE}},
         {"start",
          "start an actor in the daemon from a manifest",
          FLAGS({"--state", V_WORD, "initial state (JSON)"},
                {"--parent", V_ACTOR, "start it as a child of this actor"},
                {"--follow", V_NONE, "then stream its events"}),
          NULL,
          {V_TOML}},
         {"list",
          "the daemon's actors",
          FLAGS({"--tree", V_NONE, "the supervision tree"}),
          NULL,
          {V_NONE}},
         {"inspect", "an actor's status, manifest, children, metrics", NULL, NULL, {V_ACTOR}},
         {"state",
          "an actor's current state",
          FLAGS({"--at", V_WORD, "the state right after event SEQ"}),
          NULL,
          {V_ACTOR}},
         {"events",
          "an actor's chain events",
          FLAGS({"--follow", V_NONE, "keep streaming live events"},
                {"--type", V_TYPE, "only events of this type"},
                {"--limit", V_WORD, "the newest N stored events"},
                {"--max", V_WORD, "with --follow: stop after N events"},
                {"--wide", V_NONE, "every value whole"}),
          NULL,
          {V_ACTOR}},
         {"message",
          "send a message to an actor",
          FLAGS({"--request", V_NONE, "wait for the reply and print it"},
                {"--file", V_FILE, "the message is this file's content"},
                {"--timeout-ms", V_WORD, "give up on the reply after N ms"}),
          NULL,
          {V_ACTOR, V_WORD}},
         {"channel",
          "open a channel to an actor",
          FLAGS({"--wait-ms", V_WORD, "wait N ms for replies after stdin ends"}),
          SUBS({"open", "open a channel to an actor", NULL, NULL, {V_ACTOR, V_WORD}}),
          {V_NONE}},
         {"stop", "stop an actor", FLAGS({"--force", V_NONE, "stop at once"}), NULL, {V_ACTOR}},
         {"restart", "restart an actor with its manifest", NULL, NULL, {V_ACTOR}},
         {"update", "replace an actor's code (hot upgrade)", NULL, NULL, {V_ACTOR, V_WASM}},
         {"replay",
          "re-run an actor from its chain",
          FLAGS({"--component", V_WASM, "replay against this code"},
                {"--until", V_WORD, "stop after event SEQ"}),
          NULL,
          {V_CHAIN_OR_FILE}},
         {"new", "write a new actor project", NULL, NULL, {V_WORD}},
         {"build",
          "compile an actor project to WebAssembly",
          FLAGS({"--sdk", V_DIR, "the guest SDK's directory"},
                {"-v", V_NONE, "print the clang command"}),
          NULL,
          {V_DIR}},
         {"completion", "shell completion scripts", NULL, NULL, {V_SHELL}},
         {"help", "describe a command", NULL, NULL, {V_COMMAND}}),
    {V_NONE},
};

static const char completion_help[] =
    "usage: theater completion bash|zsh|fish\n"
    "\n"
    "Print a completion script for the shell: commands, subcommands, flags and\n"
    "their values (directories, manifests, modules, event types, actor ids),\n"
    "also after the global options (`theater --home DIR <TAB>`).\n"
    "\n"
    "  bash:  source <(theater completion bash)      (e.g. in ~/.bashrc)\n"
    "  zsh:   theater completion zsh > \"${fpath[1]}/_theater\"\n"
    "  fish:  theater completion fish > ~/.config/fish/completions/theater.fish\n"
    "\n"
    "--home DIR and --json are accepted, as by every command, and change nothing.\n";

/* ------------------------------------------------------------------ */
/* The tree                                                           */

/* A node and the nodes above it: node[0] is the root. */
typedef struct comp_path {
    const comp_node *node[MAX_DEPTH];
    int depth;
} comp_path;

typedef void comp_visit(FILE *out, const comp_path *p);

static const comp_node *path_node(const comp_path *p)
{
    return p->node[p->depth - 1];
}

/* The words that lead from the root to p's node, separated by sep ("" at
 * the root), with each '-' written as dash; into buf (cut to size).
 * Returns buf. */
static const char *path_str(const comp_path *p, char sep, char dash, char *buf, size_t size)
{
    size_t k = 0;
    const char *s;
    int i;

    for (i = 1; i < p->depth; i++) {
        if (i > 1 && k + 1 < size)
            buf[k++] = sep;
        for (s = p->node[i]->name; *s && k + 1 < size; s++)
            buf[k++] = *s == '-' ? dash : *s;
    }
    buf[k] = 0;
    return buf;
}

/* The flags of p's node into out[MAX_FLAGS]: every node's, then the root's
 * own (at the root) or those of each command on the path (below it).
 * Returns how many. */
static size_t path_flags(const comp_path *p, const comp_flag **out /* out */)
{
    const comp_flag *f;
    size_t n = 0;
    int i;

    for (f = common; f->name; f++)
        out[n++] = f;
    for (i = p->depth == 1 ? 0 : 1; i < p->depth; i++)
        for (f = p->node[i]->flags; f != NULL && f->name && n < MAX_FLAGS; f++)
            out[n++] = f;
    return n;
}

/* Calls visit for n, then for each node under it, depth first. */
static void walk(FILE *out, comp_path *p, const comp_node *n, comp_visit *visit)
{
    const comp_node *s;

    if (p->depth == MAX_DEPTH)
        return;
    p->node[p->depth++] = n;
    visit(out, p);
    for (s = n->subs; s != NULL && s->name; s++)
        walk(out, p, s, visit);
    p->depth--;
}

static void walk_tree(FILE *out, comp_visit *visit)
{
    comp_path p = {{NULL}, 0};

    walk(out, &p, &root, visit);
}

/* The names of n's subcommands, separated by sep. */
static void put_subs(FILE *out, const comp_node *n, const char *sep)
{
    const comp_node *s;

    for (s = n->subs; s != NULL && s->name; s++)
        fprintf(out, "%s%s", s == n->subs ? "" : sep, s->name);
}

/* 1 if the values of a kind are a fixed list of words, else 0. */
static int has_words(int kind)
{
    return kind == V_TYPE || kind == V_COMMAND || kind == V_SHELL || kind == V_LOG_LEVEL;
}

/* The words of a kind for which has_words(), separated by spaces. */
static void put_words(FILE *out, int kind)
{
    size_t i;

    switch (kind) {
    case V_TYPE:
        for (i = 0; i < th_event_ntypes; i++)
            fprintf(out, "%s%s", i ? " " : "", th_event_types[i]);
        break;
    case V_COMMAND: put_subs(out, &root, " "); break;
    case V_SHELL: fputs("bash zsh fish", out); break;
    case V_LOG_LEVEL: fputs("error warn info debug", out); break;
    default: break;
    }
}

/* ------------------------------------------------------------------ */
/* bash                                                               */

/* One case of _theater_node: what may follow the words of p. */
static void bash_node(FILE *out, const comp_path *p)
{
    const comp_node *n = path_node(p);
    const comp_flag *f[MAX_FLAGS];
    size_t nf = path_flags(p, f), i;
    char buf[64];

    fprintf(out, "    '%s')\n        subs='", path_str(p, ' ', '-', buf, sizeof buf));
    put_subs(out, n, " ");
    fputs("'\n        opts='", out);
    for (i = 0; i < nf; i++)
        fprintf(out, "%s%s", i ? " " : "", f[i]->name);
    fputs("'\n        valued=' ", out);
    for (i = 0; i < nf; i++)
        if (f[i]->value != V_NONE)
            fprintf(out, "%s:%s ", f[i]->name, kind_names[f[i]->value]);
    fputs("'\n        kinds=(", out);
    for (i = 0; i < MAX_ARGS && n->args[i] != V_NONE; i++)
        fprintf(out, "%s%s", i ? " " : "", kind_names[n->args[i]]);
    fputs(")\n        ;;\n", out);
}

/* The end of _theater_node, and _theater: it reads the words before the
 * cursor, following _theater_node from node to node, and completes the
 * word at the cursor: a flag's value, a flag, a subcommand, or the
 * positional argument of its position. */
static const char bash_main[] =
    "    *)\n"
    "        subs= opts= valued= kinds=()\n"
    "        ;;\n"
    "    esac\n"
    "}\n"
    "\n"
    "_theater() {\n"
    "    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}\n"
    "    local home= path= subs opts valued w k i n=0\n"
    "    local -a kinds\n"
    "    COMPREPLY=()\n"
    "    _theater_node ''\n"
    "    # the words before the cursor: global options, (sub)commands, flags and\n"
    "    # their values, and n positional arguments\n"
    "    for ((i = 1; i < COMP_CWORD; i++)); do\n"
    "        w=${COMP_WORDS[i]}\n"
    "        case $w in\n"
    "        --home=*) home=${w#--home=} ;;\n"
    "        -*)\n"
    "            if [[ $valued == *\" $w:\"* ]] && ((i + 1 < COMP_CWORD)); then\n"
    "                ((i++))\n"
    "                # --flag=VALUE that COMP_WORDBREAKS split in three\n"
    "                if [[ ${COMP_WORDS[i]} == = ]] && ((i + 1 < COMP_CWORD)); then\n"
    "                    ((i++))\n"
    "                fi\n"
    "                [[ $w == --home ]] && home=${COMP_WORDS[i]}\n"
    "            fi\n"
    "            ;;\n"
    "        *)\n"
    "            if [[ -n $subs ]]; then\n"
    "                path=${path:+$path }$w\n"
    "                _theater_node \"$path\"\n"
    "            else\n"
    "                ((++n))\n"
    "            fi\n"
    "            ;;\n"
    "        esac\n"
    "    done\n"
    "    # the cursor on the '=' of a split --flag=VALUE, or after it\n"
    "    if [[ $cur == = && $valued == *\" $prev:\"* ]]; then\n"
    "        cur=\n"
    "    elif [[ $prev == = ]] && ((COMP_CWORD >= 2)); then\n"
    "        prev=${COMP_WORDS[COMP_CWORD-2]}\n"
    "    fi\n"
    "    if [[ $valued == *\" $prev:\"* ]]; then\n"
    "        k=${valued#*\" $prev:\"}\n"
    "        _theater_value \"${k%% *}\"\n"
    "    elif [[ $cur == --*=* ]]; then\n"
    "        w=${cur%%=*}\n"
    "        [[ $valued == *\" $w:\"* ]] || return\n"
    "        k=${valued#*\" $w:\"}\n"
    "        cur=${cur#*=}\n"
    "        _theater_value \"${k%% *}\"\n"
    "        COMPREPLY=(\"${COMPREPLY[@]/#/$w=}\")\n"
    "    elif [[ $cur == -* ]]; then\n"
    "        COMPREPLY=($(compgen -W \"$opts\" -- \"$cur\"))\n"
    "    elif [[ -n $subs ]]; then\n"
    "        COMPREPLY=($(compgen -W \"$subs\" -- \"$cur\"))\n"
    "    else\n"
    "        _theater_value \"${kinds[n]}\"\n"
    "    fi\n"
    "}\n"
    "complete -F _theater theater\n";

static void emit_bash(FILE *out)
{
    int k;

    fputs("# bash completion for theater (`theater completion bash`).\n"
          "# Load it with: source <(theater completion bash)\n"
          "\n"
          "# Actor ids into COMPREPLY: the first column of `theater ARGS [--home H]`,\n"
          "# without its header.\n"
          "_theater_ids() {\n"
          "    local ids h=$home\n"
          "    [[ $h == \"~\"* ]] && h=$HOME${h#\"~\"}\n"
          "    ids=$(theater \"$@\" ${h:+--home \"$h\"} 2>/dev/null | awk 'NR > 1 {print $1}')\n"
          "    COMPREPLY+=($(compgen -W \"$ids\" -- \"$cur\"))\n"
          "}\n"
          "\n"
          "# Values of kind $1 for $cur into COMPREPLY.\n"
          "_theater_value() {\n"
          "    COMPREPLY=()\n"
          "    case $1 in\n",
          out);
    fprintf(out,
            "    %s)\n"
            "        compopt -o filenames 2>/dev/null\n"
            "        COMPREPLY=($(compgen -d -- \"$cur\"))\n"
            "        ;;\n"
            "    %s)\n"
            "        compopt -o filenames 2>/dev/null\n"
            "        COMPREPLY=($(compgen -f -- \"$cur\"))\n"
            "        ;;\n"
            "    %s | %s)\n"
            "        compopt -o filenames 2>/dev/null\n"
            "        COMPREPLY=($(compgen -f -X \"!*.$1\" -- \"$cur\") $(compgen -d -- \"$cur\"))\n"
            "        ;;\n"
            "    %s) _theater_ids list ;;\n"
            "    %s) _theater_ids chain ls ;;\n"
            "    %s)\n"
            "        _theater_ids chain ls\n"
            "        compopt -o filenames 2>/dev/null\n"
            "        COMPREPLY+=($(compgen -f -- \"$cur\"))\n"
            "        ;;\n",
            kind_names[V_DIR], kind_names[V_FILE], kind_names[V_TOML], kind_names[V_WASM],
            kind_names[V_ACTOR], kind_names[V_CHAIN_ACTOR], kind_names[V_CHAIN_OR_FILE]);
    for (k = 0; k < V_NKINDS; k++) {
        if (!has_words(k))
            continue;
        fprintf(out, "    %s) COMPREPLY=($(compgen -W \"", kind_names[k]);
        put_words(out, k);
        fputs("\" -- \"$cur\")) ;;\n", out);
    }
    fputs("    esac\n"
          "}\n"
          "\n"
          "# What may follow the words PATH ('' at first, then 'chain', 'chain trust'...):\n"
          "# subcommands, flags, the flags that take a value with the kind of the value\n"
          "# (' --flag:kind '), and the kinds of the positional arguments in order.\n"
          "_theater_node() {\n"
          "    case $1 in\n",
          out);
    walk_tree(out, bash_node);
    fputs(bash_main, out);
}

/* ------------------------------------------------------------------ */
/* zsh                                                                */

/* What a value of a kind is, for the shells' descriptions. */
static const char *const kind_descr[V_NKINDS] = {
    "value",          "value",      "directory", "file",     "manifest (.toml)",
    "module (.wasm)", "event type", "actor id",  "actor id", "actor id or exported chain",
    "command",        "shell",      "log level",
};

/* Text inside '...[text]...' and 'name:text': a quote closes, escapes and
 * reopens the quoting; brackets, colons and backslashes are left out. */
static void zsh_text(FILE *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '\'')
            fputs("'\\''", out);
        else if (*s != '[' && *s != ']' && *s != ':' && *s != '\\')
            fputc(*s, out);
    }
}

/* ":description:action" for a value of a kind, inside single quotes. */
static void zsh_value(FILE *out, int kind)
{
    fprintf(out, ":%s:", kind_descr[kind]);
    if (has_words(kind)) {
        fputc('(', out);
        put_words(out, kind);
        fputc(')', out);
        return;
    }
    switch (kind) {
    case V_DIR: fputs("_files -/", out); break;
    case V_FILE: fputs("_files", out); break;
    case V_TOML: fputs("_files -g \"*.toml\"", out); break;
    case V_WASM: fputs("_files -g \"*.wasm\"", out); break;
    case V_ACTOR: fputs("_theater_actor_ids", out); break;
    case V_CHAIN_ACTOR: fputs("_theater_chain_ids", out); break;
    case V_CHAIN_OR_FILE:
        fputs("_alternative \"ids:actor id:_theater_chain_ids\" \"files:exported chain:_files\"",
              out);
        break;
    default: fputs(" ", out); break;
    }
}

/* The _arguments spec of a flag of p's node, after " \" and a new line. */
static void zsh_flag(FILE *out, const comp_path *p, const comp_flag *f)
{
    int at_root = p->depth == 1;

    if (strcmp(f->name, "--help") == 0) {
        fprintf(out, " \\\n    '%s'{-h,--help}'[describe the command%s]'",
                at_root ? "(- *)" : "(-h --help)", at_root ? "s" : "");
        return;
    }
    /* before the command, --home=DIR is one word too (`theater --home=DIR list`);
     * the root's other flags without a value (--version) stand alone */
    fprintf(out, " \\\n    '%s%s%s[",
            at_root && f->value == V_NONE && strcmp(f->name, "--json") != 0 ? "(- *)" : "", f->name,
            at_root && f->value != V_NONE ? "=" : "");
    zsh_text(out, f->help);
    fputc(']', out);
    if (f->value != V_NONE)
        zsh_value(out, f->value);
    fputc('\'', out);
}

/* The name of the completion function of p's node: _theater at the root,
 * else _theater_cmd_ and the path (`chain verify-file`: _theater_cmd_chain_verify_file). */
static void zsh_fname(FILE *out, const comp_path *p)
{
    char buf[64];

    fprintf(out, "%s%s", p->depth == 1 ? "_theater" : "_theater_cmd_",
            path_str(p, '_', '_', buf, sizeof buf));
}

/* After _arguments, a node with subcommands: offer them, or hand the words
 * from the subcommand on to its function. */
static void zsh_subs(FILE *out, const comp_path *p)
{
    const comp_node *n = path_node(p), *s;
    comp_path q = *p;
    char buf[64];

    fputs(" \\\n    ': :->command' \\\n    '*:: :->args' && ret=0\n", out);
    fputs("  case $state in\n  (command)\n    local -a subs\n    subs=(\n", out);
    for (s = n->subs; s->name; s++) {
        fprintf(out, "      '%s:", s->name);
        zsh_text(out, s->help);
        fputs("'\n", out);
    }
    fprintf(out, "    )\n    _describe -t commands 'theater%s%s command' subs && ret=0\n",
            p->depth == 1 ? "" : " ", path_str(p, ' ', '-', buf, sizeof buf));
    fputs("    ;;\n  (args)\n", out);
    fputs("    _theater_home=${opt_args[--home]:-$_theater_home}\n", out);
    fprintf(out, "    curcontext=${curcontext%%:*:*}:theater%s%s-$words[1]:\n",
            p->depth == 1 ? "" : "-", path_str(p, '-', '-', buf, sizeof buf));
    fputs("    case $words[1] in\n", out);
    q.depth++;
    for (s = n->subs; s->name && q.depth <= MAX_DEPTH; s++) {
        q.node[q.depth - 1] = s;
        fprintf(out, "    (%s) ", s->name);
        zsh_fname(out, &q);
        fputs(" && ret=0 ;;\n", out);
    }
    fputs("    (*) _message 'no such command' ;;\n"
          "    esac\n"
          "    ;;\n"
          "  esac\n"
          "  return ret\n",
          out);
}

/* The completion function of p's node. */
static void zsh_node(FILE *out, const comp_path *p)
{
    const comp_node *n = path_node(p);
    const comp_flag *f[MAX_FLAGS];
    size_t nf = path_flags(p, f), i;

    fputc('\n', out);
    zsh_fname(out, p);
    fputs("() {\n", out);
    if (p->depth == 1)
        fputs("  local _theater_home= # --home before the command\n", out);
    /* -A: the options after the subcommand are the subcommand's */
    if (n->subs != NULL)
        fputs("  local curcontext=$curcontext state state_descr line ret=1\n"
              "  typeset -A opt_args\n"
              "  _arguments -C -s -A '-*'",
              out);
    else
        fputs("  _arguments -s", out);
    for (i = 0; i < nf; i++)
        zsh_flag(out, p, f[i]);
    if (n->subs != NULL) {
        zsh_subs(out, p);
    } else {
        for (i = 0; i < MAX_ARGS && n->args[i] != V_NONE; i++) {
            fprintf(out, " \\\n    '%zu", i + 1);
            zsh_value(out, n->args[i]);
            fputc('\'', out);
        }
        fputc('\n', out);
    }
    fputs("}\n", out);
}

static void emit_zsh(FILE *out)
{
    fputs("#compdef theater\n"
          "# zsh completion for theater (`theater completion zsh`).  Save it as _theater\n"
          "# in a directory of $fpath, or load it with: source <(theater completion zsh)\n"
          "\n"
          "# Actor ids: the first column of `theater $1 [--home H]`, without its header\n"
          "# (H: this command's --home, else the one before it); then compadd's options.\n"
          "_theater_ids() {\n"
          "  local -a ids home\n"
          "  local what=$1 h=${opt_args[--home]:-$_theater_home}\n"
          "  shift\n"
          "  h=${(Q)h}\n"
          "  [[ -n $h ]] && home=(--home ${h/#\\~/$HOME})\n"
          "  ids=(${(f)\"$(theater ${=what} $home 2>/dev/null | awk 'NR > 1 {print $1}')\"})\n"
          "  compadd \"$@\" -a ids\n"
          "}\n"
          "_theater_actor_ids() { _theater_ids list \"$@\" }\n"
          "_theater_chain_ids() { _theater_ids 'chain ls' \"$@\" }\n",
          out);
    walk_tree(out, zsh_node);
    fputs("\n"
          "if [[ $zsh_eval_context[-1] == loadautofunc ]]; then\n"
          "  _theater \"$@\"\n"
          "else\n"
          "  compdef _theater theater\n"
          "fi\n",
          out);
}

/* ------------------------------------------------------------------ */
/* fish                                                               */

/* The complete(1) options for a value of a kind: of a flag (which takes
 * one: -r), or of a positional argument. */
static void fish_value(FILE *out, int kind, int flag)
{
    if (kind == V_FILE || kind == V_CHAIN_OR_FILE)
        fputs(flag ? " -r -F" : " -F", out);
    else if (kind != V_NONE)
        fputs(flag ? " -x" : "", out);
    if (has_words(kind)) {
        fputs(" -a '", out);
        put_words(out, kind);
        fputc('\'', out);
        return;
    }
    switch (kind) {
    case V_DIR: fputs(" -a '(__fish_complete_directories)'", out); break;
    case V_TOML: fputs(" -a '(__theater_files toml)'", out); break;
    case V_WASM: fputs(" -a '(__theater_files wasm)'", out); break;
    case V_ACTOR: fputs(" -a '(__theater_ids list)'", out); break;
    case V_CHAIN_ACTOR:
    case V_CHAIN_OR_FILE: fputs(" -a '(__theater_ids chain ls)'", out); break;
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

/* One case of __theater_subs and of __theater_valued. */
static void fish_subs_case(FILE *out, const comp_path *p)
{
    char buf[64];

    if (path_node(p)->subs == NULL)
        return;
    fprintf(out, "    case '%s'\n        printf '%%s\\n' ", path_str(p, ' ', '-', buf, sizeof buf));
    put_subs(out, path_node(p), " ");
    fputc('\n', out);
}

static void fish_valued_case(FILE *out, const comp_path *p)
{
    const comp_flag *f[MAX_FLAGS];
    size_t nf = path_flags(p, f), i;
    char buf[64];

    fprintf(out, "    case '%s'\n        printf '%%s\\n'", path_str(p, ' ', '-', buf, sizeof buf));
    for (i = 0; i < nf; i++)
        if (f[i]->value != V_NONE)
            fprintf(out, " %s", f[i]->name);
    fputc('\n', out);
}

/* The completions of p's node: its flags, subcommands and arguments. */
static void fish_node(FILE *out, const comp_path *p)
{
    const comp_node *n = path_node(p), *s;
    const comp_flag *f[MAX_FLAGS];
    size_t nf = path_flags(p, f), i;
    char path[64];

    path_str(p, ' ', '-', path, sizeof path);
    fprintf(out, "\n# theater%s%s\n", p->depth == 1 ? "" : " ", path);
    for (i = 0; i < nf; i++) {
        fprintf(out, "complete -c theater -n '__theater_at \"%s\"'", path);
        if (f[i]->name[1] == '-')
            fprintf(out, " -l %s", f[i]->name + 2);
        else
            fprintf(out, " -s %s", f[i]->name + 1);
        if (strcmp(f[i]->name, "--help") == 0)
            fputs(" -s h", out);
        fish_value(out, f[i]->value, 1);
        fputs(" -d ", out);
        fish_quoted(out, f[i]->help);
        fputc('\n', out);
    }
    for (s = n->subs; s != NULL && s->name; s++) {
        fprintf(out, "complete -c theater -n '__theater_at \"%s\" 0' -a %s -d ", path, s->name);
        fish_quoted(out, s->help);
        fputc('\n', out);
    }
    for (i = 0; i < MAX_ARGS && n->args[i] != V_NONE; i++) {
        if (n->args[i] == V_WORD)
            continue;
        fprintf(out, "complete -c theater -n '__theater_at \"%s\" %zu'", path, i);
        fish_value(out, n->args[i], 0);
        fputs(" -d ", out);
        fish_quoted(out, kind_descr[n->args[i]]);
        fputc('\n', out);
    }
}

/* The end of __theater_valued, the functions that read the command line
 * (__theater_scan, __theater_at) and list actor ids and files, and the
 * default: no file completion unless a kind wants files. */
static const char fish_scan[] =
    "    end\n"
    "end\n"
    "\n"
    "# The words before the cursor: __theater_path, the (sub)commands after the\n"
    "# global options; __theater_nargs, how many positional arguments follow;\n"
    "# __theater_home, the value of a --home.\n"
    "function __theater_scan\n"
    "    set -l words (commandline -opc)\n"
    "    set -g __theater_path\n"
    "    set -g __theater_nargs 0\n"
    "    set -g __theater_home\n"
    "    set -l subs (__theater_subs)\n"
    "    set -l valued (__theater_valued)\n"
    "    set -l i 2\n"
    "    while test $i -le (count $words)\n"
    "        set -l w $words[$i]\n"
    "        switch $w\n"
    "            case '--home=*'\n"
    "                set __theater_home (string sub -s 8 -- $w)\n"
    "            case '-*'\n"
    "                if contains -- $w $valued\n"
    "                    set i (math $i + 1)\n"
    "                    if test $w = --home -a $i -le (count $words)\n"
    "                        set __theater_home $words[$i]\n"
    "                    end\n"
    "                end\n"
    "            case '*'\n"
    "                if set -q subs[1]\n"
    "                    set -a __theater_path $w\n"
    "                    set subs (__theater_subs $__theater_path)\n"
    "                    set valued (__theater_valued $__theater_path)\n"
    "                else\n"
    "                    set __theater_nargs (math $__theater_nargs + 1)\n"
    "                end\n"
    "        end\n"
    "        set i (math $i + 1)\n"
    "    end\n"
    "end\n"
    "\n"
    "# __theater_at PATH [N]: the words so far are PATH's, [and N positional\n"
    "# arguments].\n"
    "function __theater_at\n"
    "    __theater_scan\n"
    "    test \"$__theater_path\" = \"$argv[1]\"; or return 1\n"
    "    test (count $argv) -lt 2; or test $__theater_nargs -eq $argv[2]\n"
    "end\n"
    "\n"
    "# Actor ids: the first column of `theater ARGS [--home H]`, without its header.\n"
    "function __theater_ids\n"
    "    __theater_scan\n"
    "    set -l home\n"
    "    if test -n \"$__theater_home\"\n"
    "        set home --home (string replace -r '^~' ~ -- $__theater_home)\n"
    "    end\n"
    "    theater $argv $home 2>/dev/null | awk 'NR > 1 {print $1}'\n"
    "end\n"
    "\n"
    "# Files ending in .$argv[1], and directories.\n"
    "function __theater_files\n"
    "    set -l cur (commandline -ct)\n"
    "    complete -C \"__fish_command_without_completions $cur\" |\n"
    "        string match -r -- \"^[^\\t]*(?:\\.$argv[1]|/)(?:\\t.*)?\\$\"\n"
    "end\n"
    "\n"
    "complete -c theater -f\n";

static void emit_fish(FILE *out)
{
    fputs("# fish completion for theater (`theater completion fish`).  Save it as\n"
          "# ~/.config/fish/completions/theater.fish\n"
          "\n"
          "# __theater_subs PATH: the subcommands after the words PATH ('', 'chain',\n"
          "# 'chain trust'...), one a line.\n"
          "function __theater_subs\n"
          "    switch \"$argv\"\n",
          out);
    walk_tree(out, fish_subs_case);
    fputs("    end\n"
          "end\n"
          "\n"
          "# __theater_valued PATH: the flags there that take a value, one a line.\n"
          "function __theater_valued\n"
          "    switch \"$argv\"\n",
          out);
    walk_tree(out, fish_valued_case);
    fputs(fish_scan, out);
    walk_tree(out, fish_node);
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
            cli_errorf("completion: unexpected argument '%s': one shell at a time, bash, zsh or "
                       "fish (see `theater completion --help`)",
                       argv[i]);
            return 2;
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
