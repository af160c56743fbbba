#!/bin/sh
# chain_readable.sh THEATER EXAMPLES_DIR - `theater chain` as a new user
# reads it: run the supervisor example (a worker crashes and is restarted),
# then list the chains by short id and name, read them by unique prefix, in
# words, as JSON, by type; refuse an unknown type and an unknown actor.
set -u
theater=$1
ex=$2
. "$(dirname "$0")/../skip.sh"
[ -f "$ex/supervisor.toml" ] || it_skip "no example actors"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/theater-cli.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT INT TERM
home=$tmp/home
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
has() { grep -Eq -- "$2" "$1" || fail "$1 lacks /$2/:" "$(cat "$1")"; }
hasnt() { if grep -Eq -- "$2" "$1"; then fail "$1 has /$2/:" "$(cat "$1")"; fi; }

"$theater" run --home "$home" "$ex/supervisor.toml" >"$tmp/run" 2>&1 || fail "run: $(cat "$tmp/run")"

# ls: a header, one line per chain with its short id and the actor's name
"$theater" chain --home "$home" ls >"$tmp/ls" 2>&1 || fail "ls"
has "$tmp/ls" '^ACTOR +NAME +EVENTS +HEAD +SIGNED$'
has "$tmp/ls" '^[0-9a-f]{8,} +supervisor +[0-9]+ '
[ "$(grep -c ' worker ' "$tmp/ls")" = 2 ] || fail "ls: two workers expected: $(cat "$tmp/ls")"
sup=$(awk '$2 == "supervisor" {print $1}' "$tmp/ls")
# the crashed worker is the one with a failure on its chain
for w in $(awk '$2 == "worker" {print $1}' "$tmp/ls"); do
    "$theater" chain --home "$home" events "$w" --type actor-failed >"$tmp/f" 2>&1 || fail "events $w"
    [ -s "$tmp/f" ] && crashed=$w
done
[ -n "${crashed:-}" ] || fail "no worker has an actor-failed event"
crashed=${crashed:-none}

# events by the short id that ls printed, in words
"$theater" chain --home "$home" events "$crashed" >"$tmp/ev" 2>&1 || fail "events: $(cat "$tmp/ev")"
has "$tmp/ev" '^ +0  [0-9T:.-]+Z  actor-spawned +started worker 0\.1\.0 from .*worker\.toml, parent '"$sup"
has "$tmp/ev" 'wasm-call +handle-send\("crash"\) from '"$sup"'$'
has "$tmp/ev" 'actor-failed +worker \('"$crashed"'\) failed in handle-send: internal: trap'
has "$tmp/ev" 'handle-request\(request [0-9a-f]{8}, "job 2"\) from '"$sup"' -> response "done: job 2"'
hasnt "$tmp/ev" 'error_type'
hasnt "$tmp/ev" '6372617368' # "crash" in hex
# the supervisor saw the child's error by name, and the reply as text
"$theater" chain --home "$home" events "$sup" >"$tmp/sev" 2>&1 || fail "events supervisor"
has "$tmp/sev" 'handle-child-error\('"$crashed"', internal: "'
has "$tmp/sev" 'message-server-host\.request\(actor-id [0-9a-f]{8,}, msg "job 1"\) -> "done: job 1"'
# every short id printed resolves back (here: the parent and the trigger)
"$theater" chain --home "$home" head "$sup" >"$tmp/head" 2>&1 || fail "head by prefix"
has "$tmp/head" '^name +supervisor$'
"$theater" chain --home "$home" verify "$crashed" >"$tmp/ver" 2>&1 || fail "verify by prefix"
"$theater" chain --home "$home" export "$crashed" -o "$tmp/x.jsonl" || fail "export by prefix"
"$theater" chain --home "$home" verify-file "$tmp/x.jsonl" >/dev/null || fail "verify-file"

# --json: one object per line, the data embedded, error types by name
"$theater" chain --home "$home" events "$crashed" --json >"$tmp/json" 2>&1 || fail "--json"
has "$tmp/json" '^\{"actor":"'"$crashed"'[0-9a-f-]*","seq":0,"event_type":"actor-spawned",'
has "$tmp/json" '"data":\{"function":"handle-send","params":\["6372617368"\]'
has "$tmp/json" '"event_type":"actor-failed".*"data":\{"error_type":"internal"'
[ "$(wc -l <"$tmp/json")" = "$(wc -l <"$tmp/ev" | tr -d ' ')" ] || [ "$(grep -c '^ ' "$tmp/ev")" -ge 1 ] ||
    fail "--json and text differ in event count"

# --limit: the newest N; --type: one type
"$theater" chain --home "$home" events "$crashed" --limit 1 >"$tmp/last" 2>&1
has "$tmp/last" 'actor-stopped +stopped: '
[ "$(wc -l <"$tmp/last")" = 1 ] || fail "--limit 1: $(cat "$tmp/last")"

# an unknown type: an error naming the known ones
"$theater" chain --home "$home" events "$crashed" --type actor-crashed >"$tmp/bad" 2>&1
[ $? = 2 ] || fail "--type actor-crashed should exit 2"
has "$tmp/bad" "unknown event type 'actor-crashed'; the types are: actor-spawned, wasm-call, .*init-skipped"
# an unknown actor
"$theater" chain --home "$home" events zzzz >"$tmp/bad" 2>&1
[ $? = 1 ] || fail "events zzzz should exit 1"
has "$tmp/bad" "no chain of an actor 'zzzz'"

"$theater" --version >"$tmp/v" 2>&1 || fail "--version"
has "$tmp/v" '^theater [0-9]+\.[0-9]+\.[0-9]+$'

[ $fails = 0 ] || exit 1
echo "ok: chain_readable"
