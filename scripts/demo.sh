#!/bin/sh
# demo.sh - what `make demo` runs.  Part 1: the hello example
# (examples/hello/hello.c, a C program compiled to wasm32-wasi) on theater's
# WebAssembly engine via `theater wasm run`, with a sandbox directory, an
# environment variable and arguments.  Part 2: the supervisor example actor
# system via `theater run`: a worker crashes and is restarted, and every
# chain verifies.
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
echo

# ---- Part 2: an actor system -------------------------------------------
SUPERVISOR="$BUILD/examples/actors/supervisor.toml"
if [ ! -f "$SUPERVISOR" ]; then
    echo "demo: $SUPERVISOR is missing (example actors not built); skipping part 2" >&2
    exit 1
fi
HOME_DIR="$BUILD/demo-home"
rm -rf "$HOME_DIR"

cat <<INTRO2
==== Part 2: actors, supervision and the event chain ====

A supervisor actor spawns two worker actors.  One worker is told to crash
(its handler executes 'unreachable'); the runtime reports the failure to
the supervisor's handle-child-error, which restarts the worker (same id,
same chain) and sends it work again.  Every step is recorded in each
actor's hash chain in THEATER_HOME=$HOME_DIR.

INTRO2
run "$THEATER" run --home "$HOME_DIR" "$SUPERVISOR"

echo "The chains the run left behind (one per actor; heads signed with Ed25519):"
echo
run "$THEATER" chain ls --home "$HOME_DIR"

# The worker that crashed is the one with an actor-restarted event.
RESTARTED=""
for actor in $("$THEATER" chain ls --home "$HOME_DIR" | awk '{print $1}'); do
    if "$THEATER" chain events --home "$HOME_DIR" "$actor" --type actor-restarted | grep -q actor-restarted; then
        RESTARTED=$actor
    fi
done
if [ -n "$RESTARTED" ]; then
    echo "The crashed worker's failure and restart, from its own chain:"
    echo
    run "$THEATER" chain events --home "$HOME_DIR" "$RESTARTED" --type actor-failed
    run "$THEATER" chain events --home "$HOME_DIR" "$RESTARTED" --type actor-restarted
else
    echo "demo: no actor-restarted event found: the restart did not happen" >&2
    exit 1
fi

echo "Anyone can check that no event was altered, removed or reordered:"
echo
run "$THEATER" chain verify --home "$HOME_DIR"
if ! "$THEATER" chain verify --home "$HOME_DIR" >/dev/null; then
    echo "demo: chain verification failed" >&2
    exit 1
fi
echo "The chains stay in $HOME_DIR; explore them with: $THEATER chain --help"
