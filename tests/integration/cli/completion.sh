#!/bin/sh
# completion.sh THEATER EXAMPLES_DIR - the shell completion scripts load
# and complete: commands, subcommands, flags, event types, actor ids from
# the chains of a home, the command after the global options (--home DIR,
# --home=DIR, --json), each position's kind of value (bash and fish by
# running their completion, zsh by typing on a terminal with zcomp.zsh).
# A shell that is not installed is reported and its part skipped.
# completion_help.sh checks that every name of the help texts is offered.
set -u
. "$(dirname "$0")/../skip.sh"
theater=$1
ex=$2
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/theater-comp.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT INT TERM
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
bindir=$(cd "$(dirname "$theater")" && pwd)
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
"$theater" completion bash zsh >/dev/null 2>"$tmp/err"
[ $? = 2 ] || fail "completion with two shells should be a usage error (status 2)"
grep -q "unexpected argument 'zsh'" "$tmp/err" || fail "completion bash zsh does not name the extra argument: $(cat "$tmp/err")"

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
comp theater chain events x --t | grep -qx -- --type || fail "bash: chain events --type"
comp theater chain events x --type actor-f | grep -qx actor-failed || fail "bash: event types"
comp theater events x --f | grep -qx -- --follow || fail "bash: events --follow"
comp theater stop x --f | grep -qx -- --force || fail "bash: stop --force"
comp theater message x --r | grep -qx -- --request || fail "bash: message --request"
comp theater server --l | grep -qx -- --listen || fail "bash: server --listen"
comp theater completion "" | grep -qx fish || fail "bash: completion shells"
mkdir -p "$tmp/d/sub" && touch "$tmp/d/a.toml" "$tmp/d/b.txt"
comp theater run "$tmp/d/" | grep -qx "$tmp/d/a.toml" || fail "bash: run offers manifests"
comp theater run "$tmp/d/" | grep -qx "$tmp/d/b.txt" && fail "bash: run offers a .txt"
# every command; after the global options too
[ "$(comp theater re | sort | tr '\n' ' ')" = "replay restart " ] || fail "bash: 'theater re' does not offer replay and restart"
comp theater "" | grep -qx help || fail "bash: help is not a command"
comp theater help re | grep -qx replay || fail "bash: 'theater help re' does not offer replay"
comp theater --home "$tmp" "" | grep -qx list || fail "bash: 'theater --home DIR ' does not offer the commands"
comp theater --home="$tmp" re | grep -qx replay || fail "bash: 'theater --home=DIR re' does not offer replay"
comp theater --home = "$tmp" re | grep -qx replay || fail "bash: 'theater --home=DIR re' (split at =) does not offer replay"
comp theater --json --home "$tmp" "" | grep -qx chain || fail "bash: 'theater --json --home DIR ' does not offer the commands"
comp theater --home "$tmp" chain "" | grep -qx trust || fail "bash: 'theater --home DIR chain ' does not offer trust"
comp theater --home "$tmp/d/" >"$tmp/out"
grep -qx "$tmp/d/sub" "$tmp/out" && ! grep -q a.toml "$tmp/out" || fail "bash: 'theater --home ' does not complete directories only"
comp theater --home="$tmp/d/s" | grep -qx -- "--home=$tmp/d/sub" || fail "bash: 'theater --home=' does not complete directories"
comp theater -- | grep -qx -- --home || fail "bash: 'theater --' does not offer --home"
comp theater chain "" | grep -qx key || fail "bash: chain key"
comp theater chain trust "" | tr '\n' ' ' | grep -qx "ls add rm " || fail "bash: chain trust ls|add|rm"
# values by position: update ID COMPONENT.wasm
touch "$tmp/d/c.wasm"
comp theater update "$tmp/d/" >"$tmp/out1"
comp theater update abcd "$tmp/d/" >"$tmp/out2"
! grep -q . "$tmp/out1" && grep -qx "$tmp/d/c.wasm" "$tmp/out2" && ! grep -q a.toml "$tmp/out2" ||
    fail "bash: 'theater update ' does not offer an actor id, then .wasm files only"
# a flag's value is not a position
comp theater update --home "$tmp" abcd "$tmp/d/" | grep -qx "$tmp/d/c.wasm" || fail "bash: 'theater update --home DIR ID ' does not offer .wasm files"
comp theater start --parent "$tmp/d/" | grep -q a.toml && fail "bash: 'theater start --parent ' offers manifests, not actor ids"
comp theater server --log-level "" | grep -qx debug || fail "bash: server --log-level values"
comp theater events x --m | grep -qx -- --max || fail "bash: events --max"
comp theater chain export x --w | grep -qx -- --with-components || fail "bash: chain export --with-components"
comp theater chain export x --k | grep -q . && fail "bash: chain export offers verify-file's --key"
for id in $ids; do
    comp theater --home "$home" chain events "" | grep -qx "$id" || fail "bash: actor id $id not offered after a global --home"
    comp theater --home="$home" replay "" | grep -qx "$id" || fail "bash: replay does not offer actor id $id"
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
    # completion typed on a terminal: "== LINE" then the matches
    zc() { awk -v b="== $1" '$0 == b { on = 1; next } /^== / { on = 0 } on' "$tmp/zsh.out"; }
    set -- "theater re" "theater --home $tmp " "theater --home=$tmp chain " "theater chain trust " \
        "theater update abcd $tmp/d/" "theater chain events x --type actor-f" "theater server --" \
        "theater --home $tmp/d/s"
    for id in $ids; do
        set -- "$@" "theater --home $home chain events " "theater replay --home $home "
    done
    (cd "$tmp" && zsh -f "$here/zcomp.zsh" "$tmp/_theater" "$@") >"$tmp/zsh.out"
    case $? in
    0)
        [ "$(zc "theater re" | tr '\n' ' ')" = "replay restart " ] || fail "zsh: 'theater re' does not offer replay and restart"
        zc "theater --home $tmp " | grep -qx list || fail "zsh: 'theater --home DIR ' does not offer the commands"
        zc "theater --home=$tmp chain " | grep -qx key || fail "zsh: 'theater --home=DIR chain ' does not offer key"
        zc "theater chain trust " | tr '\n' ' ' | grep -qx "add ls rm " || fail "zsh: chain trust ls|add|rm"
        zc "theater update abcd $tmp/d/" >"$tmp/out"
        grep -qx c.wasm "$tmp/out" && ! grep -qx a.toml "$tmp/out" || fail "zsh: 'theater update ID ' does not offer .wasm files only"
        zc "theater chain events x --type actor-f" | grep -qx actor-failed || fail "zsh: event types"
        zc "theater server --" | grep -qx -- --stream-buffer || fail "zsh: server --stream-buffer"
        zc "theater --home $tmp/d/s" | grep -qx sub || fail "zsh: --home does not complete directories"
        for id in $ids; do
            zc "theater --home $home chain events " | grep -qx "$id" || fail "zsh: actor id $id after a global --home"
            zc "theater replay --home $home " | grep -qx "$id" || fail "zsh: replay does not offer actor id $id"
        done
        ;;
    77) it_skip_part "zsh has no zsh/zpty module: its completion not run" ;;
    *) fail "zsh: zcomp.zsh failed" ;;
    esac
else
    it_skip_part "zsh not installed"
fi

# fish: parses and completes
if command -v fish >/dev/null 2>&1; then
    "$theater" completion fish >"$tmp/theater.fish" || fail "completion fish"
    fish -n "$tmp/theater.fish" || fail "fish: syntax"
    fc() { fish -c 'source $argv[1]; complete -C $argv[2]' "$tmp/theater.fish" "$1" | cut -f1; }
    fc "theater ch" | grep -qx chain || fail "fish: commands"
    fc "theater chain events x --ty" | grep -qx -- --type || fail "fish: flags"
    fc "theater chain events x --type actor-f" | grep -qx actor-failed || fail "fish: event types"
    [ "$(fc "theater re" | sort | tr '\n' ' ')" = "replay restart " ] || fail "fish: 'theater re' does not offer replay and restart"
    fc "theater --home $tmp " | grep -qx list || fail "fish: 'theater --home DIR ' does not offer the commands"
    fc "theater --home=$tmp --json re" | grep -qx replay || fail "fish: 'theater --home=DIR --json re' does not offer replay"
    fc "theater chain trust " | grep -qx add || fail "fish: chain trust add"
    fc "theater update abcd $tmp/d/" >"$tmp/out"
    grep -qx "$tmp/d/c.wasm" "$tmp/out" && ! grep -qx "$tmp/d/a.toml" "$tmp/out" || fail "fish: 'theater update ID ' does not offer .wasm files only"
    fc "theater --home $tmp/d/s" | grep -qx "$tmp/d/sub/" || fail "fish: --home does not complete directories"
    for id in $ids; do
        fc "theater chain --home $home events " | grep -qx "$id" || fail "fish: actor id $id"
        fc "theater --home $home replay " | grep -qx "$id" || fail "fish: replay does not offer actor id $id"
    done
else
    it_skip_part "fish not installed"
fi

[ $fails = 0 ] || exit 1
it_skipped_parts
echo "ok: completion"
