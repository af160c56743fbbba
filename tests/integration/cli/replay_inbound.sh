#!/bin/sh
# replay_inbound.sh THEATER EXAMPLES_DIR VARIANT_WASM - replay of the calls
# that handlers make on an actor (inbound events): a process's output and
# exit (the runner example, through a real daemon) replay identically, the
# recorded params being lowered into the guest from the record; the record
# against other code (VARIANT_WASM: the runner logging stdout lines
# differently) diverges at the log call of the first stdout line; an
# exported file whose recorded stdout line was edited diverges there too,
# with the edited line; a request of the http-framework handler (the notes
# example) is refused naming the event (not replayed yet).
set -u
T=$1
EX=$2
VARIANT=$3
[ -f "$EX/runner.toml" ] || { echo "skipped: $EX/runner.toml was not built"; exit 77; }
[ -f "$VARIANT" ] || { echo "skipped: $VARIANT was not built"; exit 77; }
command -v curl >/dev/null 2>&1 || { echo "skipped: no curl"; exit 77; }
. "$(dirname "$0")/../lib.sh"
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
# ---- an http-framework request: refused, naming the event ----------------
expect http_refused 1 "^theater: replay: event [0-9]+: a call of http-handlers#handle-request from its handler \(an inbound event\) cannot be replayed yet" \
    "$T" replay --home "$H" "$notes"
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
python3 - <<'PY'
import base64, json
out, done = [], False
for l in open("runner.jsonl").read().splitlines():
    o = json.loads(l)
    if not done and o.get("kind") == "event" and o["event_type"] == "wasm-call":
        d = json.loads(base64.b64decode(o["data"]))
        if d.get("function") == "handle-stdout":
            assert bytes.fromhex(d["params"][1]) == b"hello", d
            d["params"][1] = b"HELLO".hex()
            o["data"] = base64.b64encode(json.dumps(d, separators=(",", ":")).encode()).decode()
            done = True
    out.append(json.dumps(o, separators=(",", ":")))
assert done, "no handle-stdout in runner.jsonl"
open("runner_edited.jsonl", "w").write("\n".join(out) + "\n")
PY
expect file_edited 1 "^diverged at event $log \(host-call\): recorded host-call .*stdout: hello.*, replayed host-call .*stdout: HELLO" \
    "$T" replay --home "$H" runner_edited.jsonl

it_done
