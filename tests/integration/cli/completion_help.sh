#!/bin/sh
# completion_help.sh THEATER - the completion scripts offer everything the
# help texts name, so that neither can change without the other: every
# command and subcommand that a help text lists (in a "commands:" section,
# or as `<run|validate>` in its usage line), and every long option a
# command's --help names, at that command (an option named in a
# subcommand's entry of the list, at that subcommand).  Checked in bash,
# and in fish and zsh when they are installed (a missing shell is reported
# and skipped).  The few names that are not options of the command are
# listed below, each with the reason.
set -u
. "$(dirname "$0")/../skip.sh"
theater=$1
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/theater-comphelp.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT INT TERM
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
PATH=$(cd "$(dirname "$theater")" && pwd):$PATH
export PATH

# "PATH OPTION  why": named in the help of PATH (its words joined by /),
# but not an option of it
exceptions='
wasm/run --target  clang'\''s option, in "clang --target=wasm32-wasi" (how a WASI module is built)
'
excepted() { printf '%s\n' "$exceptions" | grep -q "^$1 $2 "; }

# parse <HELP: what a help text lists and names, a line each:
#   entry NAME [SUB]         a listed subcommand (`trust add`: NAME SUB)
#   entryopt NAME[/SUB] OPT  a long option named in its entry
#   opt OPT                  a long option named anywhere else
parse() {
    awk '
    function opts(line, where,   s) {
        s = line
        while (match(s, /--[a-z][a-z0-9-]*/)) {
            print where substr(s, RSTART, RLENGTH)
            s = substr(s, RSTART + RLENGTH)
        }
    }
    NR == 1 && match($0, /<[a-z|-]+>/) {
        n = split(substr($0, RSTART + 1, RLENGTH - 2), w, "|")
        for (i = 1; i <= n; i++)
            usage[w[i]] = 1
    }
    /^commands:$/ { cmds = 1; next }
    /^$/ { cmds = 0; entry = 0 }
    /^  [a-z]/ && (cmds || ($1 in usage)) {
        syn = substr($0, 3)
        sub(/  .*/, "", syn) # the synopsis ends at two spaces
        n = split(syn, w, " ")
        first[++ne] = w[1]
        second[ne] = n > 1 ? w[2] : ""
        count[w[1]]++
        text[ne] = $0
        entry = 1
        next
    }
    entry && /^   / { text[ne] = text[ne] " " $0; next }
    { entry = 0; opts($0, "opt ") }
    END {
        for (i = 1; i <= ne; i++) {
            # `trust ls`, `trust add KEY`...: subcommands of a subcommand
            name = first[i]
            if (count[name] > 1 && second[i] ~ /^[a-z][a-z-]*$/)
                name = name " " second[i]
            print "entry " name
            key = name
            sub(/ /, "/", key)
            opts(text[i], "entryopt " key " ")
        }
    }'
}

# The tree, walked down from `theater --help`.  expect.txt gets what must be
# offered: "sub PATH NAME" and "opt PATH OPTION", PATH the words joined by /
# ("-" for none).  A subcommand whose --help is its parent's is described
# by the parent's: its entry's options, and the options named outside the
# list.  One with a help of its own is walked in turn.
: >"$tmp/expect.txt"
: >"$tmp/queue"
visit() { # KEY(words joined by /; - for none) PARENT_HELP_FILE
    key=$1
    h=$tmp/help.$(echo "$key" | tr / _)
    # shellcheck disable=SC2046
    "$theater" $(echo "$key" | tr / ' ' | sed 's/^-$//') --help >"$h" 2>&1 </dev/null ||
        fail "theater $key --help: status $?"
    if [ -n "$2" ] && cmp -s "$h" "$2"; then
        return
    fi
    parse <"$h" >"$h.parsed"
    sed -n "s|^opt |opt $key |p" "$h.parsed" >>"$tmp/expect.txt"
    sed -n 's/^entry //p' "$h.parsed" | while read -r name sub; do
        c=$(echo "$key/$name" | sed 's|^-/||')
        echo "sub $key $name" >>"$tmp/expect.txt"
        [ -n "$sub" ] && echo "sub $c $sub" >>"$tmp/expect.txt"
        sed -n "s|^entryopt $name${sub:+/$sub} |opt $c${sub:+/$sub} |p" "$h.parsed" >>"$tmp/expect.txt"
        "$theater" $(echo "$c" | tr / ' ') --help >"$h.child" 2>&1 </dev/null
        if cmp -s "$h.child" "$h"; then
            sed -n "s|^opt |opt $c |p" "$h.parsed" >>"$tmp/expect.txt"
            [ -n "$sub" ] && sed -n "s|^opt |opt $c/$sub |p" "$h.parsed" >>"$tmp/expect.txt"
        elif [ -z "$sub" ]; then
            echo "$c $key" >>"$tmp/queue"
        fi
    done
}
visit - ""
for depth in 1 2 3; do
    sort -u "$tmp/queue" >"$tmp/level"
    : >"$tmp/queue"
    while read -r c parent; do
        visit "$c" "$tmp/help.$(echo "$parent" | tr / _)"
    done <"$tmp/level"
done
[ -s "$tmp/queue" ] && fail "commands deeper than expected: $(cat "$tmp/queue")"
sort -u "$tmp/expect.txt" -o "$tmp/expect.txt"
# the parser understood the help texts
for want in "sub - replay" "sub chain/trust add" "sub wasm run" "opt chain/export --with-components" \
    "opt wasm/run --invoke" "opt server --client-timeout" "opt - --home"; do
    grep -qx "$want" "$tmp/expect.txt" || fail "help texts misread: no '$want' in what must be offered"
done
grep -q "^opt wasm --invoke" "$tmp/expect.txt" && fail "help texts misread: --invoke taken as wasm's"
echo "$(wc -l <"$tmp/expect.txt") names to offer, from $(ls "$tmp" | grep -c '^help\.[^.]*$') help texts"

# line KEY LAST: the command line "theater WORDS LAST" (WORDS: KEY's words)
line() { echo "theater $(echo "$1" | tr / ' ' | sed 's/^-$//') $2" | sed 's/^theater  /theater /'; }
# check SHELL: SHELL.offers has, under a line "== LINE" for each line of
# lines.txt, what the shell offers there; every name of expect.txt must be
# offered at its line
check() {
    exc=$exceptions awk -v shell="$1" '
    FILENAME == ARGV[1] {
        if (/^== /)
            at = substr($0, 4)
        else
            offered[at SUBSEP $0] = 1
        next
    }
    {
        if (index(ENVIRON["exc"], "\n" $2 " " $3 " "))
            next
        words = $2 == "-" ? "" : $2
        gsub("/", " ", words)
        l = "theater " (words == "" ? "" : words " ") ($1 == "opt" ? "--" : "")
        if (!((l SUBSEP $3) in offered)) {
            printf "FAIL: %s: \"%s\" does not offer %s (named in a --help)\n", shell, l, $3
            bad = 1
        }
    }
    END { exit bad }' "$tmp/$1.offers" "$tmp/expect.txt" || fails=$((fails + 1))
}
cut -d' ' -f2 "$tmp/expect.txt" | sort -u >"$tmp/keys"
# the lines to complete, for each KEY: "theater WORDS --" and "theater WORDS "
while read -r key; do
    line "$key" --
    line "$key" ""
done <"$tmp/keys" >"$tmp/lines"

# bash: COMPREPLY of the generated function
"$theater" completion bash >"$tmp/comp.bash" || fail "completion bash"
bash -c '. "$1"
while IFS= read -r l; do
    echo "== $l"
    read -ra COMP_WORDS <<<"$l"
    [[ $l == *" " ]] && COMP_WORDS+=("")
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    _theater
    printf "%s\n" "${COMPREPLY[@]}"
done' x "$tmp/comp.bash" <"$tmp/lines" >"$tmp/bash.offers"
check bash

# fish: complete -C
if command -v fish >/dev/null 2>&1; then
    "$theater" completion fish >"$tmp/comp.fish" || fail "completion fish"
    fish -c 'source $argv[1]
        while read -l l
            echo "== $l"
            complete -C $l | string replace -r "\t.*" ""
        end' "$tmp/comp.fish" <"$tmp/lines" >"$tmp/fish.offers"
    check fish
else
    it_skip_part "fish not installed"
fi

# zsh: completion typed on a terminal (zcomp.zsh)
if command -v zsh >/dev/null 2>&1; then
    "$theater" completion zsh >"$tmp/_theater" || fail "completion zsh"
    set --
    while IFS= read -r l; do
        set -- "$@" "$l"
    done <"$tmp/lines"
    zsh -f "$here/zcomp.zsh" "$tmp/_theater" "$@" >"$tmp/zsh.offers"
    case $? in
    0) check zsh ;;
    77) it_skip_part "zsh has no zsh/zpty module" ;;
    *) fail "zsh: zcomp.zsh failed" ;;
    esac
else
    it_skip_part "zsh not installed"
fi

[ $fails = 0 ] || exit 1
it_skipped_parts
echo "ok: the completion scripts offer what the help texts name"
