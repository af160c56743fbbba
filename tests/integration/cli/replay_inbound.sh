#!/bin/sh
# replay_inbound.sh THEATER EXAMPLES_DIR VARIANT_WASM - replay of the calls
# that handlers make on an actor (inbound events): a process's output and
# exit (the runner example, through a real daemon) replay identically, the
# recorded params being lowered into the guest from the record; the record
# against other code (VARIANT_WASM: the runner logging stdout lines
# differently) diverges at the log call of the first stdout line; an
# exported file whose recorded stdout line was edited diverges there too,
# with the edited line; a request of the http-framework handler (the notes
# example) replays too (replay_http.sh has the rest of that handler).
set -u
T=$1
EX=$2
VARIANT=$3
EDIT=$(cd "$(dirname "$0")" && pwd)/edit_event.py
. "$(dirname "$0")/../lib.sh"
it_need "$EX/runner.toml" "$VARIANT" -- curl python3
it_workdir replay_inbound

it_daemon
runner=$("$T" start --home "$H" "$EX/runner.toml" \
    --state '{"command": "echo hello; echo world; echo oops >&2; exit 3"}' | tail -n 1)
notes=$("$T" start --home "$H" "$EX/notes.toml" --state '{"port": "0"}' | tail -n 1)
it_wait_event "$runner" actor-stopped
port=$("$T" chain --home "$H" events "$notes" | sed -n 's/.*listening on port \([0-9]*\).*/\1/p' | head -n 1)
[ -n "$port" ] || fail "no port for notes"
curl -s -o /dev/null "http://127.0.0.1:$port/notes" || fail "GET /notes"

# ---- a process's output and exit: identical, live and offline ------------
expect live 0 "^replayed [0-9]+ events: identical$" "$T" replay --home "$H" "$runner"
n=$("$T" chain --home "$H" events "$runner" --json | grep -c '"interface":"process-handlers"')
[ "$n" -eq 4 ] || fail "the runner's chain has $n process-handlers calls, not 4 (2 stdout, 1 stderr, exit)"
# ---- an http-framework request: identical too ------------------------------
expect http_identical 0 "^replayed [0-9]+ events: identical$" "$T" replay --home "$H" "$notes"
kill -TERM "$DPID"
wait "$DPID"
DPID=
expect offline 0 "^replayed [0-9]+ events: identical$" "$T" replay --home "$H" "$runner"

# ---- other code: diverges at the log call of the first stdout line --------
first=$("$T" chain --home "$H" events "$runner" --json |
    sed -n 's/.*"seq":\([0-9]*\).*"function":"handle-stdout".*/\1/p' | head -n 1)
[ -n "$first" ] || fail "no handle-stdout on the runner's chain"
log=$((first + 1))
expect other_code 1 "^diverged at event $log \(host-call\): recorded host-call .*stdout: hello.*, replayed host-call .*out: hello" \
    "$T" replay --home "$H" "$runner" --component "$VARIANT"

# ---- an exported file with an edited stdout line -----------------------
"$T" chain --home "$H" export "$runner" --with-components -o runner.jsonl || fail "export runner"
expect file_identical 0 "identical" "$T" replay --home "$H" runner.jsonl
python3 "$EDIT" runner.jsonl runner_edited.jsonl wasm-call handle-stdout 1 \
    "params.1=\"$(printf HELLO | od -An -tx1 | tr -d ' \n')\"" \
    "params.1=\"$(printf hello | od -An -tx1 | tr -d ' \n')\"" || fail "edit the stdout line"
expect file_edited 1 "^diverged at event $log \(host-call\): recorded host-call .*stdout: hello.*, replayed host-call .*stdout: HELLO" \
    "$T" replay --home "$H" runner_edited.jsonl

it_done
