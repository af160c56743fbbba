#!/bin/sh
# completion.sh THEATER EXAMPLES_DIR - the shell completion scripts load
# and complete: commands, subcommands, flags, event types, actor ids from
# the chains of a home (bash and fish by running their completion; zsh by
# loading it into compinit).  A shell that is not installed is reported
# and its part skipped.
set -u
theater=$1
ex=$2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/theater-comp.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT INT TERM
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
bindir=$(dirname "$theater")
PATH=$bindir:$PATH
export PATH

home=$tmp/home
ids=""
if [ -f "$ex/counter.toml" ]; then
    "$theater" run --home "$home" --initial-state 5 "$ex/counter.toml" >"$tmp/run.out" 2>&1 &
    pid=$!
    # Ctrl-C once it runs: a background job of a script starts with SIGINT
    # ignored, until `theater run` sets its handler (before it spawns)
    i=0
    while [ $i -lt 600 ] && ! grep -q '^\[runtime\] started' "$tmp/run.out"; do
        sleep 0.1
        i=$((i + 1))
    done
    kill -INT $pid
    wait $pid
    ids=$("$theater" chain --home "$home" ls | awk 'NR > 1 {print $1}')
    [ -n "$ids" ] || fail "no chain to complete ids from"
fi

"$theater" completion bash >"$tmp/comp.bash" || fail "completion bash"
"$theater" completion tcsh >/dev/null 2>&1 && fail "completion tcsh should fail"
# --home and --json, which every command takes, change nothing
"$theater" completion --home "$tmp/nohome" bash --json >"$tmp/comp2.bash" || fail "completion bash --home --json"
cmp -s "$tmp/comp.bash" "$tmp/comp2.bash" || fail "completion bash --home --json differs from completion bash"
"$theater" completion bash zsh >/dev/null 2>&1 && fail "completion with two shells should fail"

# bash: loads, registers, completes
out=$(bash -c 'source <("$0" completion bash); complete -p theater' "$theater" 2>&1)
[ "$out" = "complete -F _theater theater" ] || fail "bash: complete -p says: $out"
comp() { # words... -> COMPREPLY of the last word
    bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _theater; printf "%s\n" "${COMPREPLY[@]}"' \
        x "$tmp/comp.bash" "$@"
}
comp theater ch | grep -qx chain || fail "bash: 'theater ch' does not complete to chain"
comp theater ch | grep -qx channel || fail "bash: 'theater ch' does not offer channel"
comp theater "" | grep -qx completion || fail "bash: completion is not a command"
for c in server start list inspect state events message channel stop restart update new build run chain store wasm; do
    comp theater "" | grep -qx "$c" || fail "bash: command $c missing"
done
comp theater chain "" | grep -qx verify-file || fail "bash: chain subcommands"
comp theater chain --t | grep -qx -- --type || fail "bash: chain --type"
comp theater chain events x --type actor-f | grep -qx actor-failed || fail "bash: event types"
comp theater events x --f | grep -qx -- --follow || fail "bash: events --follow"
comp theater stop x --f | grep -qx -- --force || fail "bash: stop --force"
comp theater message x --r | grep -qx -- --request || fail "bash: message --request"
comp theater server --l | grep -qx -- --listen || fail "bash: server --listen"
comp theater completion "" | grep -qx fish || fail "bash: completion shells"
mkdir -p "$tmp/d/sub" && touch "$tmp/d/a.toml" "$tmp/d/b.txt"
comp theater run "$tmp/d/" | grep -qx "$tmp/d/a.toml" || fail "bash: run offers manifests"
comp theater run "$tmp/d/" | grep -qx "$tmp/d/b.txt" && fail "bash: run offers a .txt"
for id in $ids; do
    comp theater chain --home "$home" events "" | grep -qx "$id" || fail "bash: actor id $id not offered"
    # the offered short id is accepted back
    "$theater" chain --home "$home" head "$id" >/dev/null 2>&1 || fail "short id $id not accepted"
done

# zsh: parses and registers with compinit
if command -v zsh >/dev/null 2>&1; then
    "$theater" completion zsh >"$tmp/_theater" || fail "completion zsh"
    zsh -n "$tmp/_theater" || fail "zsh: syntax"
    out=$(zsh -fc 'autoload -U compinit; compinit -u -d "$1/zcd"; source "$1/_theater"; print -r -- ${_comps[theater]}' \
        x "$tmp" 2>&1)
    [ "$out" = "_theater" ] || fail "zsh: not registered: $out"
else
    echo "zsh not installed: its part skipped"
fi

# fish: parses and completes
if command -v fish >/dev/null 2>&1; then
    "$theater" completion fish >"$tmp/theater.fish" || fail "completion fish"
    fish -n "$tmp/theater.fish" || fail "fish: syntax"
    fc() { fish -c 'source $argv[1]; complete -C $argv[2]' "$tmp/theater.fish" "$1" | cut -f1; }
    fc "theater ch" | grep -qx chain || fail "fish: commands"
    fc "theater chain --ty" | grep -qx -- --type || fail "fish: flags"
    fc "theater chain events x --type actor-f" | grep -qx actor-failed || fail "fish: event types"
    for id in $ids; do
        fc "theater chain --home $home events " | grep -qx "$id" || fail "fish: actor id $id"
    done
else
    echo "fish not installed: its part skipped"
fi

[ $fails = 0 ] || exit 1
echo "ok: completion"
