#!/bin/sh
# replay_outputs.sh THEATER OUTPUTS_WASM - `theater replay` of host-call
# outputs recorded in special forms (docs/replay.md): runtime.get-chain
# (recorded as its length) is answered with the record's own events and
# replays identically; u64 outputs above 2^63 - 1 (random-range over the
# whole range) replay identically; a file read over 8 MiB (recorded as its
# size only) and supervisor.get-child-events (recorded as the child's number
# of events) are refused with an error naming the event.  Repeated host
# calls (the same arguments, the same recorded event), which a replay
# answers without lifting, writing or reading them again, replay
# identically; other code that makes one of them with other bytes of the
# same length (VARIANT_WASM) diverges there, and so does an edited output
# among them.
#   replay_outputs.sh THEATER OUTPUTS_WASM VARIANT_WASM
set -u
T=$1
W=$2
V=$3
. "$(dirname "$0")/../skip.sh"
[ -f "$W" ] || it_skip "$W was not built"
[ -f "$V" ] || it_skip "$V was not built"
EDIT=$(cd "$(dirname "$0")" && pwd)/edit_event.py
. "$(dirname "$0")/../lib.sh"
it_workdir outputs
cp "$W" "$H/outputs.wasm"
mkdir "$H/files"
# manifest NAME FILES_PATH: the actor's manifest (its component beside it)
manifest() {
    cat <<TOML
name = "$1"
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
path = "$2"
[[handler]]
type = "supervisor"
TOML
}
manifest outputs files >"$H/outputs.toml"
cp "$W" "$H/files/outputs.wasm"
manifest kid . >"$H/files/kid.toml"
printf 'small' >"$H/files/small"
printf 'abcdefgh' >"$H/files/rep"
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
d=$("$T" start --home "$H" "$H/outputs.toml" | tail -n 1)
for m in "rep 40" "rep 40"; do
    "$T" message --home "$H" "$d" "$m" >/dev/null || fail "message $m"
done
"$T" message --home "$H" --request "$d" "" >/dev/null 2>&1
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
python3 "$EDIT" a.jsonl a2.jsonl host-call get-chain 1 'output={"events": 9999}' ||
    fail "the export has no get-chain output to edit"
expect get_chain_tampered 1 "host-call runtime\.get-chain\) cannot be replayed: it returned 9999 events" \
    "$T" replay --home "$H" a2.jsonl
# a recorded u64 above 2^63 - 1 read back: edited to 2^64 - 1, the replayed
# actor logs that value where the record has the drawn one
python3 "$EDIT" a.jsonl a3.jsonl host-call random-range 1 output.ok=18446744073709551615 \
    output.ok!=18446744073709551615 || fail "the export has no random-range output to edit"
expect u64_max_read 1 "^diverged at event [0-9]+ \(host-call\): recorded host-call .*random [0-9]+.*, replayed host-call .*random 18446744073709551615" \
    "$T" replay --home "$H" a3.jsonl
# repeated host calls
expect repeated 0 "^replayed [0-9]+ events: identical$" "$T" replay --home "$H" "$d"
grep -q "rep: 40 rounds, sum" "$H/server.log" || fail "rep: no checksum logged"
# other code: round 5 logs "tock" (the same length as the "tick" before)
expect repeated_other_arg 1 "^diverged at event [0-9]+ \(host-call\): recorded host-call .*\"msg\":\"tick\".*, replayed host-call .*\"msg\":\"tock\"" \
    "$T" replay --home "$H" "$d" --component "$V"
# the 7th read's output edited (the 8th repeats it in the home): the actor's checksum
# differs from the record's
"$T" chain --home "$H" export "$d" -o d.jsonl || fail "export d"
expect repeated_file 0 "^replayed [0-9]+ events: identical$" "$T" replay --home "$H" d.jsonl
python3 "$EDIT" d.jsonl d2.jsonl host-call read-file 7 'output={"ok":"7a7a7a7a7a7a7a7a"}' ||
    fail "the export has no 7th read-file to edit"
expect repeated_output_edited 1 "^diverged at event [0-9]+ \(host-call\): recorded host-call .*rep: 40 rounds, sum [0-9a-f]+.*, replayed host-call .*rep: 40 rounds, sum" \
    "$T" replay --home "$H" d2.jsonl
[ $fails -eq 0 ] || { KEEP=1; echo "home kept at $H"; exit 1; }
echo "replay_outputs: all passed"
