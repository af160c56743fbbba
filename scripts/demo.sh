#!/bin/sh
# demo.sh - what `make demo` runs.  Part 1: the hello example
# (examples/hello/hello.c, a C program compiled to wasm32-wasi) on theater's
# WebAssembly engine via `theater wasm run`, with a sandbox directory, an
# environment variable and arguments.  Part 2: the supervisor example actor
# system via `theater run`: a worker crashes and is restarted, and every
# chain verifies.  Part 3: the live system: `theater server`, the supervisor
# deployed with `theater start`, listed, sent messages, its events followed
# live through a crash and a restart, an actor serving HTTP to curl
# (examples/actors/notes), and the daemon shut down.
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

# ---- Part 3: the live system --------------------------------------------
LIVE_HOME="$BUILD/demo-live-home"
rm -rf "$LIVE_HOME"
mkdir -p "$LIVE_HOME"
export THEATER_HOME="$LIVE_HOME"
WORKER="$(cd "$BUILD/examples/actors" && pwd)/worker.toml"

cat <<INTRO3

==== Part 3: the live system ====

'theater server' is the daemon: it owns THEATER_HOME=$LIVE_HOME and serves
the management API on $LIVE_HOME/theater.sock.  The other commands are its
clients (so is curl: curl --unix-socket $LIVE_HOME/theater.sock http://x/v1/actors).
Its log goes to $LIVE_HOME/server.log.

INTRO3
echo "\$ $THEATER server &"
"$THEATER" server 2>"$LIVE_HOME/server.log" &
SERVER=$!
i=0
until "$THEATER" list >/dev/null 2>&1; do
    i=$((i + 1))
    if [ $i -gt 100 ]; then
        echo "demo: the daemon did not start" >&2
        cat "$LIVE_HOME/server.log" >&2
        exit 1
    fi
    sleep 0.05
done
echo

echo "Deploy the supervisor in live mode (it waits for work instead of running"
echo "its scenario and shutting down):"
echo
echo "\$ $THEATER start $SUPERVISOR --state '{\"worker\": \"$WORKER\", \"mode\": \"live\"}'"
SUP=$("$THEATER" start "$SUPERVISOR" --state "{\"worker\": \"$WORKER\", \"mode\": \"live\"}")
echo "$SUP"
echo
run "$THEATER" list --tree

echo "Follow the supervisor's events live (in the background), send it a job,"
echo "then tell it to make a worker crash:"
echo
echo "\$ $THEATER events $SUP --follow &"
"$THEATER" events "$SUP" --follow >"$LIVE_HOME/follow.txt" 2>&1 &
FOLLOW=$!
sleep 0.3
run "$THEATER" message "$SUP" "job 7"
run "$THEATER" message "$SUP" crash
sleep 0.5
echo "What 'events --follow' printed as it happened (the supervisor's own"
echo "messages, the worker's failure reported to handle-child-error, the"
echo "restart and the restarted worker's answer):"
echo
grep -E 'handle-send|handle-child-error|supervisor-action|restart-child|job 2' "$LIVE_HOME/follow.txt" | sed 's/^/  /'
echo
if ! grep -q 'supervisor-action' "$LIVE_HOME/follow.txt"; then
    echo "demo: events --follow did not show the restart" >&2
    kill "$SERVER" 2>/dev/null
    exit 1
fi
run "$THEATER" list --tree
CRASHED=$("$THEATER" list --json | sed -n 's/.*"id": "\([^"]*\)".*/\1/p' | while read -r a; do
    if "$THEATER" events "$a" --type actor-restarted | grep -q actor-restarted; then echo "$a"; fi
done | head -1)
echo "The crashed worker's own chain records its failure and its restart:"
echo
run "$THEATER" events "$CRASHED" --type actor-failed
run "$THEATER" events "$CRASHED" --type actor-restarted

# ---- an actor that serves HTTP ------------------------------------------
NOTES="$BUILD/examples/actors/notes.toml"
if [ -f "$NOTES" ] && command -v curl >/dev/null 2>&1; then
    echo "An actor can serve HTTP itself (the http-framework handler): the notes"
    echo "example keeps notes in its state and answers JSON on 127.0.0.1:8089."
    echo "Each request is a call of its handle-request export, run in its turn and"
    echo "recorded on its chain."
    echo
    echo "\$ $THEATER start $NOTES"
    NOTES_ID=$("$THEATER" start "$NOTES")
    echo "$NOTES_ID"
    echo
    i=0
    until curl -s -o /dev/null http://127.0.0.1:8089/notes; do
        i=$((i + 1))
        if [ $i -gt 50 ]; then
            echo "demo: the notes actor does not answer on 8089" >&2
            break
        fi
        sleep 0.05
    done
    run curl -s -w '\n' -X POST --data 'water the plants' http://127.0.0.1:8089/notes
    run curl -s -w '\n' -X POST --data 'call the plumber' http://127.0.0.1:8089/notes
    run curl -s -w '\n' http://127.0.0.1:8089/notes
    run curl -s -w '\n' -i http://127.0.0.1:8089/admin/whoami
    echo "The requests and answers, from the actor's chain:"
    echo
    "$THEATER" events "$NOTES_ID" --type wasm-call | grep -c handle-request | sed 's/^/  handle-request calls recorded: /'
    echo
fi

echo "Shut the daemon down (SIGTERM): it stops every actor, children first,"
echo "records each stop, flushes the chains and removes its socket."
echo
echo "\$ kill -TERM $SERVER"
kill -TERM "$SERVER"
wait "$SERVER"
echo "-> the daemon exited with status $?"
wait "$FOLLOW" 2>/dev/null
echo
echo "Its log:"
sed 's/^/  /' "$LIVE_HOME/server.log" | grep -v '^  \[' 
echo
run "$THEATER" chain verify --home "$LIVE_HOME"
echo "Replay (docs/replay.md): the supervisor's run again, from its chain alone: its"
echo "recorded code, the recorded messages in their order, every host call answered"
echo "from the record (nothing spawned, sent or timed), each event compared."
echo
run "$THEATER" replay --home "$LIVE_HOME" "$SUP"
if ! "$THEATER" replay --home "$LIVE_HOME" "$SUP" >/dev/null; then
    echo "demo: the replay did not match" >&2
    exit 1
fi
echo "Next: $THEATER --help, docs/api.md (the API), README.md (the commands)."
