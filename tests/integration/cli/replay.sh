#!/bin/sh
# replay.sh THEATER EXAMPLES_DIR - `theater replay`: every example actor's
# recorded run replays identically (through a real daemon, with messages,
# requests and channels from outside; replayed while the daemon runs and
# after it stopped); the record replayed against other code, and an
# exported file with an edited host-call output, diverge and the first
# difference is named; `state --at` gives the state after an event;
# `chain events --state` the state after each call.
set -u
T=$1
EX=$2
. "$(dirname "$0")/../skip.sh"
[ -f "$EX/counter.toml" ] || it_skip "$EX/counter.toml was not built"
command -v curl >/dev/null 2>&1 || it_skip "no curl"
. "$(dirname "$0")/../lib.sh"
it_workdir replay

# ---- a daemon with every example actor, driven from outside -------------
it_daemon
start() { "$T" start --home "$H" "$EX/$1.toml" | tail -n 1; }
counter=$(start counter)
kv=$(start kv)
echo_id=$(start echo)
sup=$(start supervisor)
timer=$(start timer)
worker=$(start worker)
ping=$(start ping)
for n in 1 2 3 5 8; do "$T" message --home "$H" "$counter" "$n" >/dev/null || fail "message counter"; done
"$T" message --home "$H" --request "$counter" "" >/dev/null || fail "request counter"
out=$("$T" message --home "$H" --request "$kv" "put a 1")
[ "$out" = ok ] || fail "kv put a new key: $out"
out=$("$T" message --home "$H" --request "$kv" "put a 2")
[ "$out" = ok ] || fail "kv put an existing key: $out"
out=$("$T" message --home "$H" --request "$kv" "get a")
[ "$out" = "ok 2" ] || fail "kv get after two puts: $out"
"$T" message --home "$H" --request "$kv" "keys" >/dev/null || fail "kv keys"
"$T" message --home "$H" "$worker" "hello" >/dev/null || fail "worker"
"$T" message --home "$H" --request "$worker" "job" >/dev/null || fail "worker request"
ch=$(curl -s --unix-socket "$H/theater.sock" -X POST --data-binary "hi" \
    "http://theater/v1/actors/$echo_id/channels" | sed -n 's/.*"channel":"\([^"]*\)".*/\1/p')
[ -n "$ch" ] || fail "channel open"
curl -s -o /dev/null --unix-socket "$H/theater.sock" -X POST --data-binary "one" \
    "http://theater/v1/channels/$ch/messages" || fail "channel send"
curl -s -o /dev/null --unix-socket "$H/theater.sock" -X DELETE "http://theater/v1/channels/$ch"
# the timer ticks, then shuts down; the supervisor's worker crashes and is
# restarted, then the supervisor shuts down (a minute at most)
it_wait_event "$timer" actor-stopped
it_wait_event "$sup" actor-stopped

# every actor's chain replays identically beside the running daemon
for a in $("$T" chain --home "$H" ls | awk 'NR > 1 {print $1}'); do
    expect "live_$a" 0 "^replayed [0-9]+ events: identical" "$T" replay --home "$H" "$a"
done
kill -TERM "$DPID"
wait "$DPID"
DPID=
# ... and after it stopped, offline
n=0
for a in $("$T" chain --home "$H" ls | awk 'NR > 1 {print $1}'); do
    # N is the chain's number of events (a supervisor-action among an
    # operation's events is counted too: taken as recorded)
    len=$("$T" chain --home "$H" head "$a" | awk '$1 == "events" {print $2}')
    expect "offline_$a" 0 "^replayed $len events: identical$" "$T" replay --home "$H" "$a"
    n=$((n + 1))
done
[ "$n" -ge 9 ] || fail "only $n chains to replay"

# JSON verdict
expect json 0 '"identical":true' "$T" replay --home "$H" "$counter" --json

# ---- other code: the counter's record against the echo component --------
expect other_code 1 "^diverged at event 2 \(host-call\): recorded host-call .*counter .*, replayed host-call .*echo" \
    "$T" replay --home "$H" "$counter" --component "$EX/echo.wasm"
# the kv actor's record against the counter's code: a host call the record
# does not have, or the reverse, is named
expect other_code_kv 1 "^diverged at event [0-9]+ \((host-call|wasm-call)\): recorded" \
    "$T" replay --home "$H" "$kv" --component "$EX/counter.wasm"

# ---- an exported file with an edited host-call output -------------------
"$T" chain --home "$H" export "$kv" --with-components -o kv.jsonl || fail "export kv"
expect file_identical 0 "identical" "$T" replay --home "$H" kv.jsonl
python3 - <<'PY'
import base64, json
lines = open("kv.jsonl").read().splitlines()
out = []
done = False
for l in lines:
    o = json.loads(l)
    if not done and o.get("kind") == "event" and o["event_type"] == "host-call":
        d = json.loads(base64.b64decode(o["data"]))
        if d["function"] == "new":
            d["output"] = {"ok": "00000000-0000-4000-8000-00000000beef"}  # another store
            o["data"] = base64.b64encode(json.dumps(d, separators=(",", ":")).encode()).decode()
            done = True
            print("tampered event", o["seq"])
    out.append(json.dumps(o, separators=(",", ":")))
assert done, "no store.new host call in kv.jsonl"
open("kv_tampered.jsonl", "w").write("\n".join(out) + "\n")
PY
expect file_verify_fails 1 "bad hash" "$T" chain --home "$H" verify-file kv_tampered.jsonl
# the actor logs the store id it got: the log call differs from the record
expect file_tampered 1 "^diverged at event 3 \(host-call\): recorded host-call .*uses store [0-9a-f-]{36}.*, replayed host-call .*uses store 00000000-0000-4000-8000-00000000beef" \
    "$T" replay --home "$H" kv_tampered.jsonl
# the same output value in another text (a space after its colon): the
# actor gets the same value and does the same, but the event it produces
# is not the recorded one byte for byte, and the replay says so at that
# very host call
python3 - <<'PY'
import base64, json
lines = open("kv.jsonl").read().splitlines()
out = []
seq = None
for l in lines:
    o = json.loads(l)
    if seq is None and o.get("kind") == "event" and o["event_type"] == "host-call":
        t = base64.b64decode(o["data"]).decode()
        if '"function":"new"' in t and t.count('"output":{"ok":') == 1:
            t = t.replace('"output":{"ok":', '"output":{"ok": ')
            o["data"] = base64.b64encode(t.encode()).decode()
            seq = o["seq"]
    out.append(json.dumps(o, separators=(",", ":")))
assert seq is not None, "no store.new host call in kv.jsonl"
open("kv_spaced.jsonl", "w").write("\n".join(out) + "\n")
open("kv_spaced.seq", "w").write(str(seq))
PY
spaced=$(cat kv_spaced.seq)
expect file_spaced 1 "^diverged at event $spaced \(host-call\): recorded host-call .*\"output\":\{\"ok\": \".*, replayed host-call .*\"output\":\{\"ok\":\"" \
    "$T" replay --home "$H" kv_spaced.jsonl

# ---- time travel ---------------------------------------------------------
# counter: init (state none), then sends of 1 2 3 5 8: the state after the
# third send is 6
third=$("$T" chain --home "$H" events "$counter" --json --type wasm-call |
    sed -n 's/.*"seq":\([0-9]*\).*"function":"handle-send".*/\1/p' | sed -n 3p)
[ -n "$third" ] || fail "no third handle-send"
expect state_at 0 "^6$" "$T" state --home "$H" "$counter" --at "$third"
expect state_at_json 0 '"state":6' "$T" state --home "$H" "$counter" --at "$third" --json
expect state_at_0 0 "^null$" "$T" state --home "$H" "$counter" --at 0
expect state_at_far 1 "has [0-9]+ events" "$T" state --home "$H" "$counter" --at 100000
expect events_state 0 "state \"19\"" "$T" chain --home "$H" events "$counter" --state
# --json: the state beside each event that left one, as `state --json` gives it
expect events_state_json 0 '"function":"handle-send".*"state":19\}$' \
    "$T" chain --home "$H" events "$counter" --state --json
n_json=$("$T" chain --home "$H" events "$counter" --state --json | grep -c '"state":') || true
n_text=$("$T" chain --home "$H" events "$counter" --state | grep -c '^            state ') || true
[ "$n_json" -gt 0 ] && [ "$n_json" = "$n_text" ] ||
    fail "chain events --state --json: $n_json states, the text form $n_text"
# every state on one line (the form values take in events)
"$T" chain --home "$H" events "$kv" --state --wide >out 2>&1 || fail "chain events kv --state"
grep -Eq '^            state "[0-9a-f-]{36}"$' out || { fail "kv --state: no state shown"; cat out; }
if grep -Evq '^ *[0-9]+  [0-9]{4}-|^            state ' out; then
    fail "kv --state: a line that is neither an event nor a state"
    cat out
fi
expect until 0 "^replayed 4 events: identical$" "$T" replay --home "$H" "$counter" --until 3
# the supervisor's chain has supervisor-actions (its worker crashed and was
# restarted); replayed up to its last event, every event is counted
last=$("$T" chain --home "$H" head "$sup" | awk '$1 == "events" {print $2 - 1}')
"$T" chain --home "$H" events "$sup" --type supervisor-action | grep -q . ||
    fail "the supervisor's chain has no supervisor-action"
expect until_sup 0 "^replayed $((last + 1)) events: identical$" "$T" replay --home "$H" "$sup" --until "$last"

it_done
