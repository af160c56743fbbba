#!/bin/sh
# replay_outputs.sh THEATER OUTPUTS_WASM - `theater replay` of host-call
# outputs recorded in special forms (docs/replay.md): runtime.get-chain
# (recorded as its length) is answered with the record's own events and
# replays identically; u64 outputs above 2^63 - 1 (random-range over the
# whole range) replay identically; a file read over 8 MiB (recorded as its
# size only) and supervisor.get-child-events (recorded as the child's number
# of events) are refused with an error naming the event.
set -u
T=$1
W=$2
[ -f "$W" ] || { echo "skipped: $W was not built"; exit 77; }
. "$(dirname "$0")/../lib.sh"
it_workdir outputs
cp "$W" "$H/outputs.wasm"
mkdir "$H/files"
cat >"$H/outputs.toml" <<TOML
name = "outputs"
version = "1.0.0"
component = "outputs.wasm"
[[handler]]
type = "runtime"
[[handler]]
type = "message-server"
[[handler]]
type = "random"
[[handler]]
type = "filesystem"
path = "files"
[[handler]]
type = "supervisor"
TOML
cp "$W" "$H/files/outputs.wasm"
cat >"$H/files/kid.toml" <<TOML
name = "kid"
version = "1.0.0"
component = "outputs.wasm"
[[handler]]
type = "runtime"
[[handler]]
type = "message-server"
[[handler]]
type = "random"
[[handler]]
type = "filesystem"
path = "."
[[handler]]
type = "supervisor"
TOML
printf 'small' >"$H/files/small"
dd if=/dev/zero of="$H/files/big" bs=1048576 count=9 2>/dev/null

it_daemon
a=$("$T" start --home "$H" "$H/outputs.toml" | tail -n 1)
b=$("$T" start --home "$H" "$H/outputs.toml" | tail -n 1)
c=$("$T" start --home "$H" "$H/outputs.toml" | tail -n 1)
for m in chain big "read small" chain big chain; do
    "$T" message --home "$H" "$a" "$m" >/dev/null || fail "message $m"
done
for m in chain "read big" chain; do
    "$T" message --home "$H" "$b" "$m" >/dev/null || fail "message $m"
done
# every message handled (a request waits behind them)
"$T" message --home "$H" --request "$a" "" >/dev/null 2>&1
"$T" message --home "$H" --request "$b" "" >/dev/null 2>&1
"$T" message --home "$H" "$c" "kid files/kid.toml" >/dev/null || fail "message kid"
"$T" message --home "$H" --request "$c" "" >/dev/null 2>&1
kill -TERM "$DPID"
wait "$DPID"
DPID=

grep -q "random 1[0-9]\{19\}\|random 9[3-9][0-9]\{17\}" "$H/server.log" ||
    echo "note: no random value above 2^63 - 1 this time (probability 2^-48)"
expect get_chain_and_big 0 "^replayed [0-9]+ events: identical$" "$T" replay --home "$H" "$a"
expect big_read_refused 1 "event [0-9]+ \(host-call filesystem\.read-file\) cannot be replayed: its output \(9437184 bytes\) was recorded as its size only" \
    "$T" replay --home "$H" "$b"
expect child_events_refused 1 "event [0-9]+ \(host-call supervisor\.get-child-events\) cannot be replayed: its output \(the child's [0-9]+ events\) is recorded as a count" \
    "$T" replay --home "$H" "$c"
# a tampered get-chain length is refused, not answered
"$T" chain --home "$H" export "$a" -o a.jsonl || fail "export"
python3 - <<'PY' || fail "the export has no get-chain output to edit"
import base64, json
out, done = [], False
for l in open("a.jsonl").read().splitlines():
    o = json.loads(l)
    if not done and o.get("kind") == "event" and o["event_type"] == "host-call":
        d = json.loads(base64.b64decode(o["data"]))
        if d["function"] == "get-chain":
            d["output"] = {"events": 9999}
            o["data"] = base64.b64encode(json.dumps(d, separators=(",", ":")).encode()).decode()
            done = True
    out.append(json.dumps(o, separators=(",", ":")))
assert done
open("a2.jsonl", "w").write("\n".join(out) + "\n")
PY
expect get_chain_tampered 1 "host-call runtime\.get-chain\) cannot be replayed: it returned 9999 events" \
    "$T" replay --home "$H" a2.jsonl
# a recorded u64 above 2^63 - 1 read back: edited to 2^64 - 1, the replayed
# actor logs that value where the record has the drawn one
python3 - <<'PY' || fail "the export has no random-range output to edit"
import base64, json
out, done = [], False
for l in open("a.jsonl").read().splitlines():
    o = json.loads(l)
    if not done and o.get("kind") == "event" and o["event_type"] == "host-call":
        d = json.loads(base64.b64decode(o["data"]))
        if d["function"] == "random-range" and d["output"]["ok"] != 18446744073709551615:
            d["output"] = {"ok": 18446744073709551615}
            o["data"] = base64.b64encode(json.dumps(d, separators=(",", ":")).encode()).decode()
            done = True
    out.append(json.dumps(o, separators=(",", ":")))
assert done
open("a3.jsonl", "w").write("\n".join(out) + "\n")
PY
expect u64_max_read 1 "^diverged at event [0-9]+ \(host-call\): recorded host-call .*random [0-9]+.*, replayed host-call .*random 18446744073709551615" \
    "$T" replay --home "$H" a3.jsonl
[ $fails -eq 0 ] || { KEEP=1; echo "home kept at $H"; exit 1; }
echo "replay_outputs: all passed"
