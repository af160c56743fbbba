#!/bin/bash
# server.sh THEATER - `theater server --compat-listen`: the original's
# protocol served beside the daemon.  A client written with bash's
# /dev/tcp sends the frame of "ListActors" (u32 big-endian length + JSON)
# and must read back exactly the original's answer; a non-loopback
# address is refused without --compat-allow-remote; SIGTERM ends it
# cleanly.  Needs bash (for /dev/tcp); exit 77 = skipped.
set -u
THEATER=$1
. "$(dirname "$0")/../skip.sh"
command -v timeout >/dev/null || it_skip "no timeout (coreutils)"
HOME_DIR=$(mktemp -d)
LOG=$HOME_DIR/server.log
trap 'kill $PID 2>/dev/null; rm -rf "$HOME_DIR"' EXIT
fail() { echo "FAIL: $*"; cat "$LOG"; exit 1; }

# refused: 0.0.0.0 without the flag
timeout 20 "$THEATER" server --home "$HOME_DIR/a" --compat-listen 0.0.0.0:0 >"$LOG" 2>&1
[ $? -eq 1 ] || fail "a non-loopback --compat-listen was accepted"
grep -q "loopback" "$LOG" || fail "no word of loopback"

"$THEATER" server --home "$HOME_DIR/b" --compat-listen 127.0.0.1:0 >"$LOG" 2>&1 &
PID=$!
PORT=
for _ in $(seq 600); do
  PORT=$(sed -n 's/.*compat listener on .* (port \([0-9]*\)).*/\1/p' "$LOG")
  [ -n "$PORT" ] && break
  sleep 0.1
done
[ -n "$PORT" ] || fail "no compat listener line"

exec 3<>"/dev/tcp/127.0.0.1/$PORT" || fail "cannot connect to $PORT"
printf '\000\000\000\014"ListActors"' >&3
ANSWER=$(timeout 10 head -c 31 <&3 | od -An -c | tr -s ' \n' ' ')
exec 3<&-
WANT=$(printf '\000\000\000\033{"ActorList":{"actors":[]}}' | od -An -c | tr -s ' \n' ' ')
[ "$ANSWER" = "$WANT" ] || fail "answer [$ANSWER], want [$WANT]"

kill -TERM $PID
timeout 20 tail --pid=$PID -f /dev/null || fail "server still running after SIGTERM"
wait $PID
RC=$?
[ $RC -eq 0 ] || fail "exit status $RC after SIGTERM"
echo ok
