#!/bin/sh
# demo.sh - what `make demo` runs: the hello example (examples/hello/hello.c,
# a C program compiled to wasm32-wasi) on theater's WebAssembly engine via
# `theater wasm run`, with a sandbox directory, an environment variable and
# arguments, showing its output and exit status.
#
#   scripts/demo.sh [BUILD]      (default build/)
set -u

BUILD=${1:-build}
THEATER="$BUILD/theater"
HELLO="$BUILD/examples/hello.wasm"

if [ ! -x "$THEATER" ]; then
    echo "demo: $THEATER is missing; run 'make build' first" >&2
    exit 1
fi
if [ ! -f "$HELLO" ]; then
    echo "demo: $HELLO is missing: the wasm toolchain (clang, lld, wasi-libc," >&2
    echo "      libclang-rt-14-dev-wasm32) was not found at configure time." >&2
    echo "      Run 'sh scripts/setup.sh', then 'make build' again." >&2
    exit 1
fi

SANDBOX=$(mktemp -d "${TMPDIR:-/tmp}/theater-demo.XXXXXX")
trap 'rm -rf "$SANDBOX"' EXIT INT TERM
echo "The sandbox keeps a note from the host." > "$SANDBOX/note.txt"

run() {
    printf '$'
    for a in "$@"; do
        case $a in
        *" "*) printf " '%s'" "$a" ;;
        *) printf ' %s' "$a" ;;
        esac
    done
    printf '\n'
    "$@"
    status=$?
    echo "-> exit status $status"
    echo
    return 0
}

cat <<INTRO
theater demo: a C program compiled to WebAssembly (wasm32-wasi) runs on
theater's own engine.  It can only see what it is given: its arguments,
the variables passed with --env, and the host directory passed with --dir
(here a fresh temporary directory, seen by the guest as /sandbox).

INTRO

run "$THEATER" wasm run --dir "$SANDBOX::/sandbox" --env GREETING="hello from the host" \
    "$HELLO" theater

echo "Run it again: the visit counter in /sandbox/visits.txt persists, and the"
echo "program's exit code (here --exit 3) becomes the exit status of 'theater'."
echo
run "$THEATER" wasm run --dir "$SANDBOX::/sandbox" "$HELLO" again --exit 3

echo "Without --dir the guest has no file system at all:"
echo
run "$THEATER" wasm run "$HELLO" nobody

echo "On the host, the sandbox directory now holds:"
ls -l "$SANDBOX" | sed 's/^/  /'
echo
echo "Try it yourself: $THEATER wasm run --help"
