#!/bin/sh
# upgrade.sh THEATER EXAMPLES_DIR UPGRADE_DIR - hot code upgrade through a
# real daemon: `theater update` / PUT /v1/actors/ID/component replaces a
# counter's code keeping its id, state (migrated), mailbox and chain; code
# that does not fit (invalid, missing an export the running code has,
# importing what the manifest does not grant) and a migrate that returns an
# error or traps are refused with the reason while the old code keeps
# running; the chain records component-updated and replays identically.
set -u
T=$1
EX=$2
UP=$3
. "$(dirname "$0")/../skip.sh"
[ -f "$EX/counter.toml" ] && [ -f "$UP/counter2.wasm" ] || it_skip "actors not built"
command -v curl >/dev/null 2>&1 || it_skip "no curl"
. "$(dirname "$0")/../lib.sh"
it_workdir upgrade

it_daemon
c=$("$T" start --home "$H" "$EX/counter.toml" | tail -n 1)
for n in 1 2 3; do "$T" message --home "$H" "$c" "$n" >/dev/null || fail "message"; done
expect before 0 "^6$" "$T" message --home "$H" --request "$c" ""

# refused, the old code keeps running (count still 6)
printf 'not wasm' >bad.wasm
expect invalid 1 "does not fit|magic|invalid" "$T" update --home "$H" "$c" bad.wasm
expect missing_export 1 "does not export .*handle-send" "$T" update --home "$H" "$c" "$EX/echo.wasm"
expect import_not_granted 1 "does not fit.*(store|handler)" "$T" update --home "$H" "$c" "$EX/kv.wasm"
expect migrate_err 1 "migrate returned an error: counter2: refusing to migrate on purpose" \
    "$T" update --home "$H" "$c" "$UP/counter2_err.wasm"
expect migrate_trap 1 "migrate .*unreachable" "$T" update --home "$H" "$c" "$UP/counter2_trap.wasm"
# ... where it trapped: the CLI's error line, the API's 400, the daemon's
# line for the failed request (nothing was recorded), all with the frames
grep -A1 '^theater: .*migrate .*unreachable$' out | sed -n 2p | grep -Eq '^    at #0 [a-z_0-9]+$' ||
    fail "migrate_trap: the error line is not followed by the backtrace: $(cat out)"
grep -q '^    at #[0-9]* c2_migrate$' out || fail "migrate_trap: no c2_migrate frame: $(cat out)"
body=$(curl -s --unix-socket "$H/theater.sock" -X PUT -d "{\"component\":\"$UP/counter2_trap.wasm\"}" \
    "http://theater/v1/actors/$c/component")
echo "$body" | grep -Eq '^\{"error":\{"code":"update-component-error","message":"[^"]*migrate unreachable","backtrace":\["#0 [^"]*",.*"#[0-9]+ c2_migrate"' ||
    fail "PUT a component whose migrate traps: $body"
grep -A1 "PUT /v1/actors/$c/component -> 400 update-component-error: .*migrate unreachable$" "$H/server.log" |
    sed -n 2p | grep -Eq '^    at #0 ' ||
    fail "the failed upgrade's log line is not followed by the backtrace: $(cat "$H/server.log")"
grep -A1 "upgrade refused: .*migrate unreachable$" "$H/server.log" | sed -n 2p | grep -Eq '^    at #0 ' ||
    fail "the runtime's 'upgrade refused' line is not followed by the backtrace: $(cat "$H/server.log")"
expect still_old 0 "^6$" "$T" message --home "$H" --request "$c" ""
"$T" message --home "$H" "$c" "1" >/dev/null || fail "message after refusals"
expect still_old_works 0 "^7$" "$T" message --home "$H" --request "$c" ""

# the upgrade: migrate turns 7 into 70; id, chain and mailbox stay
old=$(sha256sum "$EX/counter.wasm" | cut -c1-12)
new=$(sha256sum "$UP/counter2.wasm" | cut -c1-12)
expect update 0 "^updated $c: $old -> $new$" "$T" update --home "$H" "$c" "$UP/counter2.wasm"
expect migrated 0 "^70$" "$T" message --home "$H" --request "$c" ""
"$T" message --home "$H" "$c" "5" >/dev/null || fail "message after the upgrade"
expect new_code 0 "^75$" "$T" message --home "$H" --request "$c" ""
expect recorded 0 "component-updated .*component $old -> $new .*migrated: state \"?70" \
    "$T" events --home "$H" "$c"
# the API directly: JSON, with a version
body=$(curl -s --unix-socket "$H/theater.sock" -X PUT -H 'Content-Type: application/json' \
    -d "{\"component\":\"$UP/counter2.wasm\",\"version\":\"2.0.0\"}" \
    "http://theater/v1/actors/$c/component")
echo "$body" | grep -q '"updated":true' || fail "PUT component: $body"
expect migrated_again 0 "^750$" "$T" message --home "$H" --request "$c" ""
body=$(curl -s --unix-socket "$H/theater.sock" -X PUT -d '{"component":"/nonexistent.wasm"}' \
    "http://theater/v1/actors/$c/component")
echo "$body" | grep -q '"code":"bad-request"' || fail "PUT a missing file: $body"
# a restart starts the upgraded code from the initial state
"$T" restart --home "$H" "$c" >/dev/null || fail "restart"
it_wait_event "$c" actor-restarted # the restart is queued: wait until it is on the chain
"$T" message --home "$H" "$c" "2" >/dev/null || fail "message after restart"
expect restarted_new_code 0 "^2$" "$T" message --home "$H" --request "$c" ""
expect restart_names_new 0 "actor-restarted .*component $new" "$T" events --home "$H" "$c"

# a supervisor upgrades its child (supervisor.update-child)
cat >upgrader.toml <<TOML
name = "upgrader"
version = "0.1.0"
component = "$UP/upgrader.wasm"
init_state = '{"child": "$EX/counter.toml"}'
[[handler]]
type = "runtime"
[[handler]]
type = "message-server"
[[handler]]
type = "supervisor"
[[handler]]
type = "filesystem"
path = "$EX"
TOML
p=$("$T" start --home "$H" "$H/upgrader.toml" | tail -n 1)
kid=$(curl -s --unix-socket "$H/theater.sock" "http://theater/v1/actors/$p" |
    sed -n 's/.*"children":\["\([^"]*\)".*/\1/p')
[ -n "$kid" ] || fail "no child of the upgrader"
"$T" message --home "$H" "$kid" "4" >/dev/null || fail "message to the child"
expect child_refused 0 "^err: .*does not export .*handle-send" \
    "$T" message --home "$H" --request "$p" --file "$EX/echo.wasm"
expect child_old 0 "^4$" "$T" message --home "$H" --request "$kid" ""
# a child's code whose migrate traps: update-child's err has the frames
# after its message, a line each
expect child_trap 0 "^err: .*migrate unreachable$" \
    "$T" message --home "$H" --request "$p" --file "$UP/counter2_trap.wasm"
[ "$(grep -c '^    at #[0-9]* c2_migrate$' out)" = 1 ] ||
    fail "child_trap: not one c2_migrate frame in the err: $(cat out)"
expect child_old_after_trap 0 "^4$" "$T" message --home "$H" --request "$kid" ""
expect child_updated 0 "^ok$" "$T" message --home "$H" --request "$p" --file "$UP/counter2.wasm"
expect child_migrated 0 "^40$" "$T" message --home "$H" --request "$kid" ""
expect parent_recorded 0 "supervisor.update-child.*-> ok" "$T" events --home "$H" "$p"

# the chain (with both upgrades and the refusals) replays, beside the daemon
expect replay_live 0 "^replayed [0-9]+ events: identical" "$T" replay --home "$H" "$c"
kill -TERM "$DPID"
wait "$DPID"
DPID=
expect replay 0 "^replayed [0-9]+ events: identical$" "$T" replay --home "$H" "$c"
expect replay_child 0 "^replayed [0-9]+ events: identical$" "$T" replay --home "$H" "$kid"
expect replay_parent 0 "^replayed [0-9]+ events: identical$" "$T" replay --home "$H" "$p"
# after the first upgrade (70) the state came from migrate
seq=$("$T" chain --home "$H" events "$c" --json --type component-updated |
    sed -n 's/.*"seq":\([0-9]*\).*/\1/p' | head -n 1)
expect state_after_upgrade 0 "^70$" "$T" state --home "$H" "$c" --at "$seq"

it_done
