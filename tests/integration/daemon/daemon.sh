#!/bin/sh
# daemon.sh - integration tests of `theater server` and its clients: each
# case starts a real daemon on a fresh THEATER_HOME and drives it as a user
# would, with the CLI and `curl --unix-socket` (and raw_client for clients
# that misbehave on purpose).
#
#   sh daemon.sh CASE      (CMake passes THEATER, EXAMPLES, PROBE, RAW)
#
# Exit status: 0 pass, 1 fail (with what was expected on stderr), 77 skip.
set -u
. "$(dirname "$0")/../skip.sh"

CASE=$1
: "${THEATER:?}" "${EXAMPLES:?}" "${RAW:?}"
PROBE=${PROBE:-}
H=$(mktemp -d /tmp/theater-daemon-XXXXXX)
S=$H/theater.sock
DPID=
export THEATER_HOME=$H

cleanup() {
    if [ -n "$DPID" ] && kill -0 "$DPID" 2>/dev/null; then
        kill -KILL "$DPID" 2>/dev/null
        wait "$DPID" 2>/dev/null
    fi
    rm -rf "$H"
}
trap cleanup EXIT

# fail MESSAGE: also from a $(...) subshell, the case fails (the marker).
fail() {
    echo "FAIL ($CASE): $*" >&2
    : >"$H/FAILED"
    if [ -f "$H/server.log" ]; then
        echo "--- server log (last 30 lines)" >&2
        tail -30 "$H/server.log" >&2
    fi
    exit 1
}

# start_daemon [server options]: a daemon on $H, its pid in DPID, once it
# answers (a stale socket may be there before it).
start_daemon() {
    "$THEATER" server --home "$H" "$@" 2>>"$H/server.log" &
    DPID=$!
    i=0
    until curl -s -o /dev/null --unix-socket "$S" http://theater/v1/health; do
        i=$((i + 1))
        [ $i -gt 600 ] && fail "the daemon did not answer on $S within 30 s"
        kill -0 "$DPID" 2>/dev/null || fail "the daemon exited at start"
        sleep 0.05
    done
}

# stop_daemon: SIGTERM and wait; the exit status in RC.
stop_daemon() {
    kill -TERM "$DPID"
    wait "$DPID"
    RC=$?
    DPID=
}

# api METHOD PATH [curl args...]: the body on stdout; the status in $H/status.
api() {
    m=$1
    p=$2
    shift 2
    curl -s -o "$H/body" -w '%{http_code}' --unix-socket "$S" -X "$m" "$@" "http://theater$p" >"$H/status"
    cat "$H/body"
}

# expect_status CODE METHOD PATH [curl args...]: check the status, body on stdout.
expect_status() {
    want=$1
    shift
    body=$(api "$@")
    got=$(cat "$H/status")
    [ "$got" = "$want" ] || fail "$1 $2: HTTP $got, expected $want: $body"
    printf '%s' "$body"
}

# contains TEXT PATTERN WHAT
contains() {
    printf '%s' "$1" | grep -Eq -- "$2" || fail "$3: expected /$2/ in: $1"
}

json_get() { # json_get FIELD < JSON  (top-level string or number)
    sed -n "s/.*\"$1\":\"\{0,1\}\([^\",}]*\)\"\{0,1\}.*/\1/p" | head -1
}

wait_until() { # wait_until WHAT COMMAND...: until COMMAND succeeds, 60 s at most
    what=$1
    shift
    i=0
    until "$@"; do
        i=$((i + 1))
        [ $i -lt 1200 ] || fail "timed out waiting for $what"
        sleep 0.05
    done
}

calls_above() { # calls_above ID N: the actor has begun more than N export calls
    [ "$(api GET "/v1/actors/$1" | json_get calls)" -gt "$2" ]
}

start_json() { # start_json MANIFEST: POST /v1/actors, the new id
    expect_status 201 POST /v1/actors -H 'Content-Type: application/json' \
        -d "{\"manifest\":\"$1\"}" | json_get id
}

probe_manifest() {
    mkdir -p "$H/files"
    printf 'name = "probe"\nversion = "0.1.0"\ncomponent = "%s"\n' "$PROBE"
    for h in runtime message-server supervisor store timing random environment; do
        printf '[[handler]]\ntype = "%s"\n' $h
    done
    printf '[[handler]]\ntype = "filesystem"\npath = "%s"\n' "$H/files"
}

case "$CASE" in

idle_memory)
    # a keep-alive connection that has served a request holds little while
    # idle: libmicrohttpd keeps its whole per-connection memory
    # (TH_SERVER_CONN_MEMORY_BYTES, 16 KiB) resident until the connection
    # closes; 200 such connections grow the daemon by less than 40 KiB
    # each (128 KiB each before the memory was cut to 16 KiB)
    command -v python3 >/dev/null || exit 77
    start_daemon
    kib=$(python3 "$(dirname "$0")/idle_conns.py" "$S" "$DPID" 200) || fail "idle_conns.py failed"
    echo "idle keep-alive connection: $kib KiB each"
    [ "$kib" -lt 40 ] || fail "an idle keep-alive connection holds $kib KiB, expected under 40"
    expect_status 200 GET /v1/health >/dev/null
    ;;

health)
    start_daemon
    b=$(expect_status 200 GET /v1/health)
    contains "$b" '"status":"ok"' "health"
    contains "$b" '"actors":0' "health"
    contains "$b" '"version":"[0-9]' "health"
    contains "$b" '"recording":{"stalled":false,"failed":false' "health"
    [ "$(stat -c %a "$S")" = 600 ] || fail "socket mode is $(stat -c %a "$S"), expected 600"
    out=$("$THEATER" list) || fail "list failed"
    contains "$out" "no actors running" "list"
    [ "$("$THEATER" list --json)" = "[]" ] || fail "list --json of nothing is not []"
    stop_daemon; [ "$RC" = 0 ] || fail "the daemon did not exit 0 on SIGTERM"
    [ ! -e "$S" ] || fail "the socket is still there after shutdown"
    ;;

no_daemon)
    out=$("$THEATER" list 2>&1)
    rc=$?
    [ $rc = 3 ] || fail "list without a daemon exited $rc, expected 3"
    contains "$out" "no daemon running at $S; start one with \`theater server\`" "no daemon"
    # --home before the command: the same home; without a directory, a usage error
    out=$(env -u THEATER_HOME "$THEATER" --home "$H" list 2>&1)
    rc=$?
    [ $rc = 3 ] || fail "theater --home DIR list without a daemon exited $rc, expected 3"
    contains "$out" "no daemon running at $S; start one with \`theater server --home $H\`" \
        "the hint names the --home given"
    for h in --help -h; do
        out=$("$THEATER" help $h 2>&1) || fail "theater help $h exited $?: $out"
        contains "$out" "^usage: theater" "theater help $h"
    done
    out=$("$THEATER" help bogus 2>&1)
    [ $? = 2 ] || fail "theater help bogus should be a usage error"
    contains "$out" "unknown command 'bogus'" "theater help bogus"
    for bad in "--home" "--home="; do
        out=$("$THEATER" $bad 2>&1)
        rc=$?
        [ $rc = 2 ] || fail "theater $bad exited $rc, expected 2"
        contains "$out" "--home needs a directory" "theater $bad"
    done
    # a stale socket left by a killed daemon
    start_daemon
    kill -KILL "$DPID"
    wait "$DPID" 2>/dev/null
    DPID=
    [ -S "$S" ] || fail "expected the killed daemon's socket to remain"
    out=$("$THEATER" list 2>&1)
    rc=$?
    [ $rc = 3 ] || fail "list with a stale socket exited $rc, expected 3: $out"
    contains "$out" "no daemon running" "stale socket"
    # the README's two lines: a daemon launched in the background and a
    # command right after it (the client waits for a daemon that starts)
    for i in 1 2 3; do
        rm -rf "$H/r$i"
        "$THEATER" server --home "$H/r$i" 2>>"$H/server.log" &
        DPID=$!
        id=$("$THEATER" start --home "$H/r$i" "$EXAMPLES/counter.toml") ||
            fail "start right after 'theater server &' failed (round $i)"
        [ -n "$id" ] || fail "no id from start right after 'theater server &'"
        kill -TERM "$DPID"
        wait "$DPID"
        DPID=
    done
    ;;

bad_requests)
    start_daemon
    expect_status 400 POST /v1/actors -d '{"manifest":' | grep -q '"code":"bad-json"' || fail "bad JSON"
    b=$(expect_status 400 POST /v1/actors -d '{"manifest":"/x.toml","colour":"red"}')
    contains "$b" 'unknown field \\"colour\\"' "unknown field"
    b=$(expect_status 400 POST /v1/actors -d '{"manifest":5}')
    contains "$b" 'must be a string' "wrong type"
    b=$(expect_status 400 POST /v1/actors -d '{}')
    contains "$b" 'exactly one of' "no manifest"
    b=$(expect_status 400 POST /v1/actors -d '{"manifest":"relative.toml"}')
    contains "$b" 'absolute path' "relative manifest path"
    b=$(expect_status 400 POST /v1/actors -d '{"manifest":"/nonexistent/x.toml"}')
    contains "$b" '"code":"bad-manifest"' "missing manifest"
    b=$(expect_status 400 POST /v1/actors -d '{"manifest_toml":"name = \"x\"\n[[handler]]\ntype = \"nope\""}')
    contains "$b" '"code":"bad-manifest"' "bad manifest text"
    b=$(expect_status 400 POST /v1/actors -d '[1,2]')
    contains "$b" 'JSON object' "not an object"
    # a refused start leaves no actor and no chain
    expect_status 200 GET /v1/health | grep -q '"actors":0' || fail "a refused start left an actor"
    b=$(expect_status 200 GET /v1/health)
    contains "$b" '"chains":\{"count":0' "a refused start left a chain"
    expect_status 404 GET /v1/actors/0123abcd >/dev/null
    b=$(expect_status 404 GET /v1/nothing)
    contains "$b" '"error":\{"code":"not-found","message":' "error body shape"
    b=$(expect_status 405 DELETE /v1/actors)
    contains "$b" 'allowed: GET, HEAD, POST' "405 names the allowed methods"
    # HEAD: GET's status and headers, no body
    code=$(curl -s -I -o "$H/head" -w '%{http_code}' --unix-socket "$S" http://theater/v1/health)
    [ "$code" = 200 ] || fail "HEAD /v1/health: HTTP $code"
    grep -qi '^content-type: application/json' "$H/head" || fail "HEAD /v1/health headers: $(cat "$H/head")"
    grep -q '"status"' "$H/head" && fail "HEAD /v1/health sent a body"
    b=$(expect_status 400 GET '/v1/events?type=actor-crashed')
    contains "$b" 'is not an event type \(known: actor-spawned' "an unknown ?type="
    b=$(expect_status 400 POST '/v1/actors/0123abcd/requests?timeout_ms=soon' -d x)
    contains "$b" 'timeout_ms' "bad query argument"
    head -c 17000000 /dev/zero >"$H/big"
    expect_status 413 POST /v1/actors --data-binary "@$H/big" >/dev/null
    # request line and headers above 8 KiB: the server's JSON error and its
    # log line, up to libmicrohttpd's buffer (16 KiB); beyond it
    # libmicrohttpd answers itself, and the log still has the line
    for n in 9000 12000; do
        { printf 'X-Big: '; head -c $n /dev/zero | tr '\0' a; } >"$H/header"
        got=$(curl -s -o "$H/body" -w '%{http_code} %{content_type}' --unix-socket "$S" \
            -H "@$H/header" http://theater/v1/health)
        [ "$got" = "431 application/json" ] || fail "a $n-byte header got '$got', expected 431 JSON"
        contains "$(cat "$H/body")" '^\{"error":\{"code":"headers-too-large","message":"the request line and headers are [0-9]+ bytes, more than the limit of 8192 bytes"\}\}$' \
            "the body of a $n-byte header's 431"
    done
    [ "$(grep -c 'GET /v1/health -> 431 headers-too-large: .*limit of 8192 bytes' "$H/server.log")" = 2 ] ||
        fail "the log has no line for each 431"
    got=$(curl -s -o "$H/body" -w '%{http_code} %{content_type}' --unix-socket "$S" \
        "http://theater/v1/health?q=$(head -c 10000 /dev/zero | tr '\0' a)")
    [ "$got" = "414 application/json" ] || fail "a 10 kB query got '$got', expected 414 JSON"
    contains "$(cat "$H/body")" '"code":"uri-too-long","message":"the request line is [0-9]+ bytes' "a 414's body"
    grep -q 'GET /v1/health -> 414 uri-too-long' "$H/server.log" || fail "the log has no line for the 414"
    { printf 'X-Big: '; head -c 200000 /dev/zero | tr '\0' a; } >"$H/header"
    code=$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$S" -H "@$H/header" http://theater/v1/health)
    [ "$code" = 431 ] || fail "a 200 kB header got HTTP $code, expected 431"
    grep -q '(request not read) -> 431 headers-too-large: .* 16384 bytes .*answered by libmicrohttpd' \
        "$H/server.log" || fail "the log has no line for the 431 libmicrohttpd answered"
    # a long path is cut in the log line, which keeps the status
    expect_status 404 GET "/v1/$(head -c 3000 /dev/zero | tr '\0' a)" >/dev/null
    grep -Eq '^.{20,400} -> 404 not-found' "$H/server.log" || fail "the 404 of a long path is not one short log line"
    # a path that decodes to a newline cannot forge a log line of its own
    expect_status 404 GET "/v1/nope%0a2026-01-01T00:00:00Z%20info%20%20forged" >/dev/null
    grep -q '^2026-01-01T00:00:00Z info  forged' "$H/server.log" && fail "a request's path forged a log line"
    grep -q 'nope?2026-01-01T00:00:00Z info  forged.* -> 404' "$H/server.log" ||
        fail "the 404 of a path with a newline is not one log line: $(grep -a forged "$H/server.log")"
    # an error that quotes bytes that are not UTF-8 keeps its code (they
    # become U+FFFD in the message)
    b=$(expect_status 404 GET "/v1/actors/%ff%fe%fd%fc")
    contains "$b" '^\{"error":\{"code":"actor-not-found","message":"no actor \\ufffd\\ufffd|^\{"error":\{"code":"actor-not-found","message":"no actor ' \
        "an unknown actor id that is not UTF-8"
    printf '%s' "$b" | grep -q 'out of memory' && fail "an id that is not UTF-8: $b"
    b=$(expect_status 404 DELETE "/v1/channels/%ff")
    contains "$b" '"code":"channel-not-found"' "a channel id that is not UTF-8"
    b=$(expect_status 400 GET "/v1/events?type=%ff")
    contains "$b" '"code":"bad-request","message":"\?type=' "a ?type= that is not UTF-8"
    # a query argument an endpoint does not take is refused, not ignored:
    # a typo must not turn a forced stop into a graceful one
    id=$(start_json "$EXAMPLES/counter.toml")
    b=$(expect_status 400 DELETE "/v1/actors/$id?forse=1")
    contains "$b" '\?forse is not an argument of DELETE .*it takes: force' "an unknown query argument"
    b=$(expect_status 400 GET "/v1/health?verbose=1")
    contains "$b" 'it takes none' "a query argument where none is taken"
    expect_status 200 GET "/v1/actors/$id" | grep -q '"status":"running"' || fail "the refused stop stopped the actor"
    expect_status 400 POST "/v1/actors/$id/restart" -d '{"x":1}' | grep -q 'unknown field' ||
        fail "a restart with an unknown field"
    expect_status 202 POST "/v1/actors/$id/restart" >/dev/null
    expect_status 400 GET "/v1/actors/$id/events?follow=yes" >/dev/null
    # a path is routed as sent: an encoded NUL or slash in it is refused,
    # not cut or split (the actor is not stopped)
    b=$(expect_status 400 DELETE "/v1/actors/$id%00xyz")
    contains "$b" 'encoded NUL or slash' "a path with %00"
    expect_status 400 GET "/v1/actors/$id%2Fstate" >/dev/null
    expect_status 200 GET "/v1/actors/$id" | grep -q '"status":"running"' || fail "a DELETE of ID%00xyz stopped ID"
    # the absolute form of a request target is the same request
    code=$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$S" --request-target http://theater/v1/health http://theater/)
    [ "$code" = 200 ] || fail "GET http://theater/v1/health (absolute form): HTTP $code"
    # two Content-Length headers that differ: refused, and the connection closed
    got=$(python3 - "$S" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.settimeout(10)
s.sendall(b"POST /v1/stores HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab")
d = b""
while True:
    c = s.recv(4096)
    if not c:
        break
    d += c
print(d.split(b"\r\n")[0].decode(), b'"code":"bad-request"' in d, b"Connection: close" in d)
PY
)
    [ "$got" = "HTTP/1.1 400 Bad Request True True" ] || fail "two Content-Length headers that differ: $got"
    # a flag written bare is true; another argument without a value is refused
    expect_status 400 GET "/v1/actors/$id/events?limit" | grep -q '?limit needs a value' || fail "a bare ?limit"
    expect_status 400 GET "/v1/actors/$id/events?type" | grep -q '?type needs a value' || fail "a bare ?type"
    curl -s -N --max-time 1 --unix-socket "$S" -D "$H/fh" -o /dev/null "http://theater/v1/actors/$id/events?follow"
    grep -qi '^content-type: text/event-stream' "$H/fh" || fail "a bare ?follow is not a stream: $(cat "$H/fh")"
    # the shutdown's body is checked as every body is: nothing shuts down
    expect_status 400 POST /v1/shutdown -d garbage | grep -q '"code":"bad-json"' || fail "POST /v1/shutdown with garbage"
    expect_status 400 POST /v1/shutdown -d '{"x":1}' | grep -q '"code":"unknown-field"' || fail "POST /v1/shutdown with a field"
    expect_status 200 DELETE "/v1/actors/$id?force" >/dev/null
    # the daemon is still fine
    expect_status 200 GET /v1/health >/dev/null
    ;;

lifecycle)
    start_daemon
    id=$("$THEATER" start "$EXAMPLES/counter.toml") || fail "start failed"
    printf '%s' "$id" | grep -Eq '^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$' || fail "start printed '$id'"
    short=$(printf '%s' "$id" | cut -c1-8)
    # any unique prefix, however short, names the actor (the only one)
    out=$("$THEATER" inspect "$(printf '%s' "$id" | cut -c1)" 2>&1) || fail "inspect by a unique 1-character prefix: $out"
    expect_status 200 GET "/v1/actors/$(printf '%s' "$id" | cut -c1-3)" >/dev/null
    out=$("$THEATER" list)
    contains "$out" "^$short +counter +running" "list"
    out=$("$THEATER" inspect "$short") || fail "inspect by prefix failed"
    contains "$out" "name +counter 0.1.0" "inspect"
    # a prefix (or a whole id) in upper case is the same actor, as in git
    upper=$(printf '%s' "$id" | tr a-f A-F)
    "$THEATER" inspect "$(printf '%s' "$upper" | cut -c1-13)" >/dev/null ||
        fail "inspect by an upper-case prefix failed"
    expect_status 200 GET "/v1/actors/$upper" >/dev/null
    "$THEATER" chain events "$(printf '%s' "$upper" | cut -c1-13)" --limit 1 >/dev/null ||
        fail "chain events by an upper-case prefix failed"
    contains "$out" "calls +1" "inspect metrics"
    contains "$out" "actor-spawned" "inspect recent events"
    "$THEATER" message "$short" one >/dev/null || fail "message failed"
    "$THEATER" message "$short" two >/dev/null || fail "message failed"
    : >"$H/empty"
    "$THEATER" message "$short" --file "$H/empty" >/dev/null || fail "message --file failed"
    "$THEATER" message "$short" --request x >"$H/reply" || fail "message --request failed"
    printf '3' | cmp -s - "$H/reply" || fail "the reply was '$(cat "$H/reply")', expected exactly 3"
    out=$("$THEATER" message "$short" --request x --json)
    contains "$out" '"reply": "3"' "message --request --json"
    out=$("$THEATER" state "$short")
    [ "$out" = 3 ] || fail "state is '$out', expected 3"
    out=$("$THEATER" state "$short" --json)
    contains "$out" "\"id\": \"$id\"" "state --json names the actor by its full id"
    contains "$out" '"state": 3' "state --json"
    # DATA is optional ([DATA | --file F]): no DATA, an empty message (counted)
    "$THEATER" message "$short" >/dev/null || fail "message without DATA failed"
    out=$("$THEATER" message "$short" x --file "$H/empty" 2>&1)
    [ $? = 2 ] || fail "message with both DATA and --file should exit 2"
    [ "$("$THEATER" message "$short" --request x)" = 4 ] || fail "the empty message was not counted"
    out=$("$THEATER" inspect "$id" --json)
    contains "$out" '"messages_in": 7' "metrics count messages in"
    out=$("$THEATER" events "$short" --type wasm-call --json)
    [ "$(printf '%s\n' "$out" | wc -l)" -ge 5 ] || fail "events --type wasm-call: $out"
    "$THEATER" events "$short" --type init-skipped >/dev/null || fail "events --type with no match failed"
    # --follow --limit N: the newest N stored events, then live ones
    last=$("$THEATER" events "$short" --limit 1 --json | sed 's/^{"actor":"[^"]*","seq":\([0-9]*\),.*/\1/')
    out=$("$THEATER" events "$short" --follow --limit 2 --max 2 --json | sed 's/^{"actor":"[^"]*","seq":\([0-9]*\),.*/\1/' | tr '\n' ' ')
    [ "$out" = "$((last - 1)) $last " ] || fail "events --follow --limit 2 gave events $out, expected $((last - 1)) $last"
    out=$("$THEATER" events "$short" --type nonsense 2>&1)
    [ $? = 2 ] || fail "events --type nonsense should exit 2"
    contains "$out" "unknown event type nonsense \(known: actor-spawned" "events --type nonsense"
    # options: --opt=value after the command, "--" before DATA that begins
    # with '-', numbers checked whole
    "$THEATER" list --home="$H" | grep -q "^$short" || fail "list --home=DIR"
    out=$("$THEATER" message "$short" -x 2>&1)
    [ $? = 2 ] || fail "message ID -x should be a usage error"
    contains "$out" "goes after --" "the hint for DATA that begins with '-'"
    "$THEATER" message "$short" -- -x >/dev/null || fail "message ID -- -x failed"
    for bad in "--limit 2x" "--limit 100001" "--limit=0" "--max 1x"; do
        out=$("$THEATER" events "$short" $bad 2>&1)
        [ $? = 2 ] || fail "events $bad should be a usage error: $out"
        contains "$out" "takes a whole number" "events $bad"
    done
    out=$("$THEATER" events "$short" --limit 2>&1)
    [ $? = 2 ] || fail "events --limit without a value should be a usage error"
    contains "$out" "--limit needs a value" "events --limit without a value"
    out=$("$THEATER" channel open "$short" --wait-ms abc 2>&1)
    [ $? = 2 ] || fail "channel open --wait-ms abc should be a usage error: $out"
    "$THEATER" events "$short" --limit=1 --json | grep -q '"seq"' || fail "events --limit=1"
    out=$("$THEATER" restart "$short") || fail "restart failed"
    contains "$out" "restarting $id" "restart"
    i=0 # the restart is queued: its init runs soon after
    until [ "$("$THEATER" state "$short")" = 0 ]; do
        i=$((i + 1))
        [ $i -gt 600 ] && fail "state after restart is not 0"
        sleep 0.05
    done
    "$THEATER" events "$short" --type actor-restarted | grep -q actor-restarted || fail "no actor-restarted event"
    # hot upgrade (upgrade/upgrade.sh tests it in depth): to the same code
    out=$("$THEATER" update "$short" "$EXAMPLES/counter.wasm" 2>&1) || fail "update: $out"
    contains "$out" "updated $id" "update"
    out=$("$THEATER" update "$short" "$EXAMPLES/echo.wasm" 2>&1)
    [ $? = 1 ] || fail "update to code without handle-send should exit 1"
    contains "$out" "does not export" "update refused"
    out=$("$THEATER" stop "$short") || fail "stop failed"
    contains "$out" "stopped $id" "stop"
    out=$("$THEATER" state "$short" 2>&1)
    [ $? = 1 ] || fail "state of a stopped actor should exit 1"
    contains "$out" "no actor" "state of a stopped actor"
    # its chain is still readable, by prefix too
    "$THEATER" events "$short" | grep -q actor-stopped || fail "events of a stopped actor"
    out=$("$THEATER" stop "$short" 2>&1)
    [ $? = 1 ] || fail "stopping a stopped actor should exit 1"
    out=$("$THEATER" start "$H/nope.toml" 2>&1)
    [ $? = 1 ] || fail "start of a missing manifest should exit 1"
    out=$("$THEATER" start "$EXAMPLES/counter.toml" --state '{bad' 2>&1)
    [ $? = 2 ] || fail "start --state with bad JSON should exit 2"
    out=$("$THEATER" frobnicate 2>&1)
    [ $? = 2 ] || fail "an unknown command should exit 2"
    for c in start list inspect state events message channel stop restart update server; do
        "$THEATER" $c --help | grep -q "exit status" || fail "$c --help does not document the exit status"
    done
    # a permanent child that ends by its own shutdown is restarted by its
    # supervisor: the log names it at every step
    probe_manifest >"$H/sup.toml"
    printf '[supervision]\nstrategy = "one-for-one"\nmax_restarts = 5\n' >>"$H/sup.toml"
    cp "$PROBE" "$H/files/probe.wasm"
    probe_manifest | sed -e 's|^name = .*|name = "kid"|' -e 's|^component = .*|component = "probe.wasm"|' \
        >"$H/files/kid.toml"
    sup=$(start_json "$H/sup.toml")
    b=$(expect_status 200 POST "/v1/actors/$sup/requests" --data-binary "spawn $H/files/kid.toml")
    kid=${b#ok }
    expect_status 200 POST "/v1/actors/$kid/requests" --data-binary 'shutdown bye' >/dev/null
    kid8=${kid%"${kid#????????}"}
    wait_until "the child's restart in the log" grep -q "($kid8) restarted" "$H/server.log"
    grep -q "info  actor kid ($kid8) restarted$" "$H/server.log" ||
        fail "the log line of the restart does not name the child: $(grep "($kid8) restarted" "$H/server.log")"
    ;;

endpoints)
    [ -n "$PROBE" ] && [ -f "$PROBE" ] || it_skip "probe.wasm was not built (the wasm32 guest toolchain)"
    start_daemon
    id=$(start_json "$EXAMPLES/counter.toml")
    [ -n "$id" ] || fail "no id from POST /v1/actors"
    b=$(expect_status 200 GET /v1/actors)
    contains "$b" "\"id\":\"$id\",\"name\":\"counter\",\"version\":\"0.1.0\",\"status\":\"running\"" "GET /v1/actors"
    b=$(expect_status 200 GET "/v1/actors/$id")
    contains "$b" '"metrics":\{' "GET /v1/actors/ID"
    contains "$b" '"children":\[\]' "GET /v1/actors/ID"
    b=$(expect_status 200 GET "/v1/actors/$id/manifest")
    contains "$b" 'name = \\"counter\\"' "manifest"
    contains "$b" "\"manifest_path\":\"$EXAMPLES/counter.toml\"" "manifest path"
    [ "$(expect_status 200 GET "/v1/actors/$id/state")" = 0 ] || fail "state"
    expect_status 202 POST "/v1/actors/$id/messages" --data-binary 'hi' | grep -q '"queued":true' || fail "messages"
    [ "$(expect_status 200 POST "/v1/actors/$id/requests" --data-binary 'q')" = 1 ] || fail "requests"
    expect_status 202 POST "/v1/actors/$id/restart" | grep -q '"restarting":true' || fail "restart"
    expect_status 200 PUT "/v1/actors/$id/component" -d "{\"component\":\"$EXAMPLES/counter.wasm\"}" | grep -q '"updated":true' || fail "component"
    expect_status 400 PUT "/v1/actors/$id/component" -d "{\"component\":\"$EXAMPLES/echo.wasm\"}" | grep -q update-component-error || fail "component refused"
    expect_status 400 PUT "/v1/actors/$id/component" -d '{}' >/dev/null
    b=$(expect_status 400 PUT "/v1/actors/$id/component" -d "{\"component\":\"$H\"}")
    contains "$b" '"code":"bad-request".*is a directory' "a directory as the component"
    expect_status 400 PUT "/v1/actors/$id/component" -d '{"component":"counter.wasm"}' | grep -q 'absolute path' ||
        fail "a relative component path"
    expect_status 404 PUT "/v1/actors/ffffffff/component" -d '{"component":"/x.wasm"}' >/dev/null
    b=$(expect_status 200 GET "/v1/actors/$id/events?limit=2")
    [ "$(printf '%s' "$b" | grep -o '"seq":' | wc -l)" = 2 ] || fail "?limit=2: $b"
    # HEAD of the JSON form, as of every GET that is not a stream
    code=$(curl -s -I -o "$H/head" -w '%{http_code}' --unix-socket "$S" "http://theater/v1/actors/$id/events?limit=1")
    [ "$code" = 200 ] || fail "HEAD .../events: HTTP $code"
    grep -qi '^content-type: application/json' "$H/head" || fail "HEAD .../events headers: $(cat "$H/head")"
    b=$(expect_status 200 GET "/v1/actors/$id/events?after=1&limit=1")
    contains "$b" '"seq":2,' "?after=1"
    b=$(expect_status 200 GET "/v1/actors/$id/events?type=actor-restarted")
    contains "$b" '"event_type":"actor-restarted"' "?type="
    expect_status 201 POST /v1/stores | grep -Eq '"id":"[0-9a-f-]{36}"' || fail "stores"
    # an optional "parent" given as null: no parent
    nid=$(expect_status 201 POST /v1/actors -d "{\"manifest\":\"$EXAMPLES/counter.toml\",\"parent\":null}" | json_get id)
    api GET /v1/actors | grep -q "\"id\":\"$nid\",[^}]*\"parent\":null" || fail "a start with \"parent\": null"
    expect_status 400 POST /v1/actors -d "{\"manifest\":\"$EXAMPLES/counter.toml\",\"parent\":5}" >/dev/null
    expect_status 400 POST /v1/stores -d '{"x":1}' >/dev/null
    # a request nobody answers: 504 after ?timeout_ms
    probe_manifest >"$H/probe.toml"
    pid=$(start_json "$H/probe.toml")
    t0=$(date +%s%N)
    b=$(expect_status 504 POST "/v1/actors/$pid/requests?timeout_ms=300" --data-binary 'defer')
    t1=$(date +%s%N)
    contains "$b" '"code":"timeout"' "504 body"
    [ $(((t1 - t0) / 1000000)) -ge 290 ] || fail "504 came before the timeout"
    [ $(((t1 - t0) / 1000000)) -lt 3000 ] || fail "504 came long after the timeout"
    n=$(grep -c -- "/requests -> 504 timeout" "$H/server.log")
    [ "$n" -eq 1 ] || fail "the 504 was logged $n times, not once"
    # the actor's deferred request is no longer outstanding once its client
    # stopped waiting
    b=$(expect_status 200 POST "/v1/actors/$pid/requests" --data-binary 'outstanding')
    [ "$b" = "ok none" ] || fail "a request its client gave up on is still outstanding: $b"
    # deferred requests beyond limits.mailbox_messages: 503 busy at once
    probe_manifest >"$H/probe1.toml"
    printf '[limits]\nmailbox_messages = 1\n' >>"$H/probe1.toml"
    pid1=$(start_json "$H/probe1.toml")
    calls=$(api GET "/v1/actors/$pid1" | json_get calls)
    curl -s -o /dev/null --unix-socket "$S" -X POST --data-binary defer \
        "http://theater/v1/actors/$pid1/requests?timeout_ms=60000" &
    dpid=$!
    wait_until "the actor to take the request to defer" calls_above "$pid1" "$calls"
    b=$(expect_status 503 POST "/v1/actors/$pid1/requests?timeout_ms=5000" --data-binary 'defer')
    contains "$b" '"code":"busy"' "deferred requests beyond the bound"
    expect_status 200 DELETE "/v1/actors/$pid1?force=1" >/dev/null
    wait $dpid
    # a request whose actor stops before it answers: 502 (stopped once the
    # actor has taken the request: its export calls grew)
    calls=$(api GET "/v1/actors/$pid" | json_get calls)
    curl -s -o "$H/r502" -w '%{http_code}' --unix-socket "$S" -X POST --data-binary defer \
        "http://theater/v1/actors/$pid/requests?timeout_ms=60000" >"$H/s502" &
    cpid=$!
    wait_until "the actor to take the request to defer" calls_above "$pid" "$calls"
    expect_status 200 DELETE "/v1/actors/$pid?force=1" >/dev/null
    wait $cpid
    [ "$(cat "$H/s502")" = 502 ] || fail "a request to an actor stopped meanwhile: HTTP $(cat "$H/s502")"
    grep -q request-failed "$H/r502" || fail "502 body: $(cat "$H/r502")"
    # a graceful stop waits behind the running call: the actor is listed as
    # stopping, a restart meanwhile is refused (409) and does not cut the
    # call short, which answers
    pid3=$(start_json "$H/probe.toml")
    calls=$(api GET "/v1/actors/$pid3" | json_get calls)
    curl -s -o "$H/rslow" -w '%{http_code}' --unix-socket "$S" -X POST --data-binary 'sleep 4000' \
        "http://theater/v1/actors/$pid3/requests" >"$H/sslow" &
    cpid=$!
    wait_until "the actor to take the request to sleep" calls_above "$pid3" "$calls"
    curl -s -o /dev/null -w '%{http_code}' --unix-socket "$S" -X DELETE "http://theater/v1/actors/$pid3" >"$H/sdel" &
    dpid=$!
    i=0
    until api GET "/v1/actors/$pid3" | grep -q '"status":"stopping"'; do
        i=$((i + 1))
        [ $i -lt 600 ] || fail "the actor is not listed as stopping during a graceful stop: $(api GET "/v1/actors/$pid3")"
        sleep 0.05
    done
    b=$(expect_status 409 POST "/v1/actors/$pid3/restart")
    contains "$b" '"code":"conflict"' "a restart during a graceful stop"
    # a message then would never be handled: refused, not acknowledged
    b=$(expect_status 409 POST "/v1/actors/$pid3/messages" --data-binary late)
    contains "$b" '"code":"conflict","message":"actor [0-9a-f-]{36} is stopping' "a message during a graceful stop"
    wait $cpid
    wait $dpid
    [ "$(cat "$H/sslow")" = 200 ] || fail "the call a graceful stop waited for: HTTP $(cat "$H/sslow") $(cat "$H/rslow")"
    [ "$(cat "$H/sdel")" = 200 ] || fail "the graceful stop: HTTP $(cat "$H/sdel")"
    # a failed root actor (no supervisor to restart it): a request or a
    # channel gets 502 at once, not a 504 after its timeout; a restart
    # brings it back
    # The 502 of a trap carries the wasm backtrace of its "actor-failed"
    # event beside its code and message, the daemon's line for the failure
    # has the frames under it, and so has the CLI's error line.
    pid4=$(start_json "$H/probe.toml")
    b=$(expect_status 502 POST "/v1/actors/$pid4/requests" --data-binary trap)
    contains "$b" '^\{"error":\{"code":"request-failed","message":"actor [0-9a-f-]{36} did not answer: actor probe \([0-9a-f-]{36}\) failed: trap in handle-request: unreachable","backtrace":\["#0 probe_trap_here","#1 probe_trap_caller","#2 probe_request",' \
        "the 502 of a trap"
    short4=$(printf '%s' "$pid4" | cut -c1-8)
    wait_until "the log line of the failure" grep -q "actor probe ($short4) failed: trap" "$H/server.log"
    grep -A2 "warn  actor probe ($short4) failed: trap in handle-request: unreachable$" "$H/server.log" >"$H/failed.log"
    [ "$(sed -n 2,3p "$H/failed.log")" = "$(printf '    at #0 probe_trap_here\n    at #1 probe_trap_caller')" ] ||
        fail "the failure's log line is not followed by its backtrace: $(cat "$H/failed.log")"
    api GET "/v1/actors/$pid4" | grep -q '"status":"failed"' || fail "the probe did not fail: $(api GET "/v1/actors/$pid4")"
    b=$(expect_status 502 POST "/v1/actors/$pid4/requests?timeout_ms=20000" --data-binary 'log x')
    contains "$b" 'has no supervisor to restart it' "a request to a failed root actor"
    expect_status 502 POST "/v1/actors/$pid4/channels?timeout_ms=20000" --data-binary hi >/dev/null
    # a message would wait for a restart that may never come: refused (409,
    # as one to an actor that is stopping), not acknowledged; the CLI
    # prints why and exits 1
    b=$(expect_status 409 POST "/v1/actors/$pid4/messages" --data-binary 'got lost')
    contains "$b" "^\\{\"error\":\\{\"code\":\"conflict\",\"message\":\"actor probe \\($pid4\\) has failed and has no supervisor to restart it: the message would not be handled; restart it with POST /v1/actors/$pid4/restart \\(theater restart $short4\\), then send it again\"\\}\\}" \
        "a message to a failed root actor"
    "$THEATER" message "$short4" 'got lost' >"$H/out" 2>"$H/err"
    rc=$?
    [ "$rc" = 1 ] || fail "theater message to a failed root actor: exit $rc, expected 1: $(cat "$H/err")"
    [ "$(cat "$H/err")" = "theater: actor probe ($pid4) has failed and has no supervisor to restart it: the message would not be handled; restart it with POST /v1/actors/$pid4/restart (theater restart $short4), then send it again" ] ||
        fail "theater message to a failed root actor: $(cat "$H/err")"
    [ -s "$H/out" ] && fail "theater message to a failed root actor wrote on stdout: $(cat "$H/out")"
    # once a restart is asked for, a message waits for it (202), and is handled
    expect_status 202 POST "/v1/actors/$pid4/restart" >/dev/null
    expect_status 202 POST "/v1/actors/$pid4/messages" --data-binary 'log after-restart' >/dev/null
    wait_until "the message sent during the restart to be handled" \
        sh -c "curl -s --unix-socket '$S' 'http://theater/v1/actors/$pid4/events?type=host-call' | grep -q 'got log after-restart'"
    api GET "/v1/actors/$pid4/events?type=host-call" | grep -q 'got lost' && fail "a refused message was handled"
    "$THEATER" message "$short4" --request trap >"$H/out" 2>"$H/err" && fail "message --request trap succeeded"
    [ "$(head -1 "$H/err")" = "theater: actor $pid4 did not answer: actor probe ($pid4) failed: trap in handle-request: unreachable" ] ||
        fail "the CLI's error line of a trap: $(cat "$H/err")"
    [ "$(sed -n 2,4p "$H/err")" = "$(printf '    at #0 probe_trap_here\n    at #1 probe_trap_caller\n    at #2 probe_request')" ] ||
        fail "the CLI's error line of a trap is not followed by the backtrace: $(cat "$H/err")"
    [ -s "$H/out" ] && fail "message --request trap wrote on stdout: $(cat "$H/out")"
    expect_status 202 POST "/v1/actors/$pid4/restart" >/dev/null
    expect_status 200 POST "/v1/actors/$pid4/requests?timeout_ms=20000" --data-binary 'log x' >/dev/null
    # an init that traps (the probe given the state "trap"): the 409 has the
    # backtrace, the CLI's error line the frames, the daemon's line for the
    # failure too
    b=$(expect_status 409 POST /v1/actors -d "{\"manifest\":\"$H/probe.toml\",\"init_state\":\"trap\"}")
    contains "$b" '^\{"error":\{"code":"init-failed","message":"init of [0-9a-f-]{36} failed: trap in init: unreachable","backtrace":\["#0 probe_trap_here","#1 probe_trap_caller","#2 probe_init",' \
        "the 409 of a trap in init"
    "$THEATER" start "$H/probe.toml" --state '"trap"' >"$H/out" 2>"$H/err" && fail "start of an init that traps succeeded"
    grep -Eq '^theater: init of [0-9a-f-]{36} failed: trap in init: unreachable$' "$H/err" ||
        fail "the CLI's error line of a trap in init: $(cat "$H/err")"
    grep -A2 '^theater: init of' "$H/err" | sed -n 2,3p >"$H/frames"
    [ "$(cat "$H/frames")" = "$(printf '    at #0 probe_trap_here\n    at #1 probe_trap_caller')" ] ||
        fail "the CLI's error line of a trap in init is not followed by the backtrace: $(cat "$H/err")"
    wait_until "the log line of the init's failure" grep -q "failed: trap in init: unreachable$" "$H/server.log"
    grep -A1 "warn  actor probe (.*) failed: trap in init: unreachable$" "$H/server.log" | grep -q '^    at #0 probe_trap_here$' ||
        fail "the init's failure line is not followed by its backtrace: $(cat "$H/server.log")"
    # a module whose start function traps (starttrap.wat): no actor is made;
    # 409 init-failed with the start function's frames, in the CLI's error
    # and under the daemon's line for the failed request
    printf 'name = "starter"\nversion = "0.1.0"\ncomponent = "%s"\n' "$(dirname "$PROBE")/starttrap.wasm" >"$H/starttrap.toml"
    b=$(expect_status 409 POST /v1/actors -d "{\"manifest\":\"$H/starttrap.toml\"}")
    [ "$b" = '{"error":{"code":"init-failed","message":"instantiating starter: start function: unreachable","backtrace":["#0 check","#1 begin"]}}' ] ||
        fail "the 409 of a trap in the start function: $b"
    "$THEATER" start "$H/starttrap.toml" >"$H/out" 2>"$H/err" && fail "start of a start function that traps succeeded"
    [ "$(cat "$H/err")" = "$(printf 'theater: instantiating starter: start function: unreachable\n    at #0 check\n    at #1 begin')" ] ||
        fail "the CLI's error of a trap in the start function: $(cat "$H/err")"
    grep -A2 "POST /v1/actors -> 409 init-failed: instantiating starter: start function: unreachable$" "$H/server.log" | sed -n 2,3p >"$H/frames"
    [ "$(sed -n 1,2p "$H/frames")" = "$(printf '    at #0 check\n    at #1 begin')" ] ||
        fail "the failed start's log line is not followed by the backtrace: $(cat "$H/server.log")"
    # a replay (beside the daemon) of the probe's record against that code:
    # the replay fails in the start function, and says where
    "$THEATER" replay "$pid4" --component "$(dirname "$PROBE")/starttrap.wasm" >"$H/out" 2>"$H/err" &&
        fail "a replay whose code traps in its start function succeeded"
    [ "$(cat "$H/err")" = "$(printf 'theater: replay: instantiating probe: start function: unreachable\n    at #0 check\n    at #1 begin')" ] ||
        fail "the replay's error of a trap in the start function: $(cat "$H/err")"
    # `theater run` (a home of its own: this one is the daemon's) of an
    # actor that fails for good on a trap after it started (selftrap.wat):
    # the failure line has the frames under it, and --json's exit line has
    # them as "backtrace"; an init that traps: the frames under the error
    printf 'name = "selfish"\nversion = "0.1.0"\ncomponent = "%s"\n[[handler]]\ntype = "message-server"\n' \
        "$(dirname "$PROBE")/selftrap.wasm" >"$H/selftrap.toml"
    "$THEATER" run --home "$H/runhome" "$H/selftrap.toml" >"$H/out" 2>"$H/err" &&
        fail "run of an actor that traps exited 0"
    grep -A3 '^\[runtime\] [0-9a-f-]* failed: trap in handle-send: unreachable$' "$H/out" | sed -n 2,4p >"$H/frames"
    [ "$(cat "$H/frames")" = "$(printf '    at #0 fault\n    at #1 handle\n    at #2 on_send')" ] ||
        fail "run: the failure line is not followed by the backtrace: $(cat "$H/out" "$H/err")"
    "$THEATER" run --home "$H/runhome" --json "$H/selftrap.toml" >"$H/out" 2>"$H/err"
    grep -q '^{"kind":"exit",.*"reason":"failed",.*"backtrace":\["#0 fault","#1 handle","#2 on_send"\]' "$H/out" ||
        fail "run --json: the exit line has no backtrace: $(cat "$H/out")"
    "$THEATER" run --home "$H/runhome" --initial-state '"trap"' "$H/probe.toml" >"$H/out" 2>"$H/err" &&
        fail "run of an init that traps exited 0"
    grep -A1 '^theater: run: init of [0-9a-f-]* failed: trap in init: unreachable$' "$H/err" | sed -n 2p | grep -q '^    at #0 probe_trap_here$' ||
        fail "run: the error of an init that traps is not followed by the backtrace: $(cat "$H/err")"
    # a trap in handle-channel-open is a failure, not a refusal: 502, with
    # the backtrace too
    b=$(expect_status 502 POST "/v1/actors/$pid4/channels?timeout_ms=20000" --data-binary trap)
    contains "$b" '"code":"request-failed","message":"actor [0-9a-f-]{36} did not open the channel: actor probe \([0-9a-f-]{36}\) failed: trap in handle-channel-open: unreachable","backtrace":\["#0 probe_trap_here","#1 probe_trap_caller","#2 probe_open",' \
        "the 502 of a trap in handle-channel-open"
    expect_status 202 POST "/v1/actors/$pid4/restart" >/dev/null
    # an actor that fails while a channel is open: the channel's stream ends
    # with the reason, and the CLI says so and exits 1
    expect_status 200 POST "/v1/actors/$pid4/requests?timeout_ms=20000" --data-binary 'log up' >/dev/null
    printf 'a\ntrap\n' | "$THEATER" channel open "$pid4" hi >"$H/out" 2>"$H/err" &&
        fail "channel open to an actor that failed exited 0: $(cat "$H/err")"
    grep -q "^theater: the channel ended: actor probe ($pid4) failed: trap in handle-channel-message" "$H/err" ||
        fail "channel open to an actor that failed: $(cat "$H/err")"
    expect_status 202 POST "/v1/actors/$pid4/restart" >/dev/null
    # errors that are not an actor's trap have no backtrace
    b=$(expect_status 504 POST "/v1/actors/$pid4/requests?timeout_ms=100" --data-binary defer)
    case "$b" in *backtrace*) fail "a timeout with a backtrace: $b" ;; esac
    expect_status 200 DELETE "/v1/actors/$pid4?force=1" >/dev/null
    # a channel open that outlives its timeout: 504, and the channel the
    # actor accepts afterwards is closed, not left open with nobody knowing it
    pid2=$(start_json "$H/probe.toml")
    b=$(expect_status 504 POST "/v1/actors/$pid2/channels?timeout_ms=200" --data-binary 'slow 700')
    contains "$b" '"code":"timeout"' "channel open 504 body"
    i=0
    until api GET "/v1/actors/$pid2/events?limit=1000" | grep -q 'handle-channel-close'; do
        i=$((i + 1))
        [ $i -lt 600 ] || fail "the late-accepted channel was not closed: $(api GET "/v1/actors/$pid2/events?limit=1000")"
        sleep 0.1
    done
    expect_status 200 DELETE "/v1/actors/$pid2?force=1" >/dev/null
    # channels: echo accepts, counter refuses (it has no channel handler)
    eid=$(start_json "$EXAMPLES/echo.toml")
    b=$(expect_status 201 POST "/v1/actors/$eid/channels" --data-binary 'hello')
    ch=$(printf '%s' "$b" | json_get channel)
    [ -n "$ch" ] || fail "no channel id: $b"
    expect_status 202 POST "/v1/channels/$ch/messages" --data-binary 'ping' >/dev/null
    curl -s -N --max-time 1 --unix-socket "$S" "http://theater/v1/channels/$ch/messages" >"$H/chan" 2>/dev/null
    grep -q "^event: message" "$H/chan" || fail "no message on the channel stream: $(cat "$H/chan")"
    grep -q '"data_hex":"70696e67"' "$H/chan" || fail "the echo of ping is missing: $(cat "$H/chan")"
    # a stream open when the channel is deleted ends with its closed event
    curl -s -N --max-time 10 --unix-socket "$S" "http://theater/v1/channels/$ch/messages" >"$H/chan" 2>/dev/null &
    cpid=$!
    wait_until "the channel stream" grep -q '^event: message' "$H/chan"
    expect_status 200 DELETE "/v1/channels/$ch" | grep -q '"closed":true' || fail "close channel"
    wait $cpid || fail "the stream of a deleted channel did not end (curl exit $?)"
    grep -q '^event: closed' "$H/chan" || fail "no closed event when the channel was deleted: $(cat "$H/chan")"
    grep -q '"reason":"closed through the API' "$H/chan" || fail "the closed event has no reason: $(cat "$H/chan")"
    expect_status 404 DELETE "/v1/channels/$ch" >/dev/null
    expect_status 404 POST "/v1/channels/$ch/messages" -d x >/dev/null
    expect_status 404 GET "/v1/channels/$ch/messages" >/dev/null
    # a stream that starts before the oldest message kept (1 MiB since the
    # open) is told which it will not get
    ch2=$(expect_status 201 POST "/v1/actors/$eid/channels" --data-binary 'hello' | json_get channel)
    head -c 600000 /dev/zero | tr '\0' z >"$H/600k"
    for i in 1 2 3; do expect_status 202 POST "/v1/channels/$ch2/messages" --data-binary "@$H/600k" >/dev/null; done
    chan_has3() { curl -s -N --max-time 1 --unix-socket "$S" "http://theater/v1/channels/$ch2/messages" 2>/dev/null | grep -q '^id: 3'; }
    wait_until "the three echoes" chan_has3
    curl -s -N --max-time 1 --unix-socket "$S" -H 'Last-Event-ID: 0' "http://theater/v1/channels/$ch2/messages" >"$H/gap" 2>/dev/null
    grep -q '^event: gap' "$H/gap" || fail "no gap event on a resume past the kept messages: $(grep -E '^(id|event):' "$H/gap")"
    grep -q "^data: {\"channel\":\"$ch2\",\"from\":1,\"to\":2}" "$H/gap" || fail "the gap event: $(grep -A1 '^event: gap' "$H/gap")"
    curl -s -N --max-time 1 --unix-socket "$S" "http://theater/v1/channels/$ch2/messages" >"$H/gap" 2>/dev/null
    grep -q "^data: {\"channel\":\"$ch2\",\"from\":0,\"to\":2}" "$H/gap" || fail "the gap event from the start: $(grep -A1 '^event: gap' "$H/gap")"
    expect_status 200 DELETE "/v1/channels/$ch2" >/dev/null
    cid=$(start_json "$EXAMPLES/counter.toml")
    b=$(expect_status 409 POST "/v1/actors/$cid/channels" --data-binary 'x')
    contains "$b" 'channel-refused' "refused channel"
    # the CLI's channel: lines out, replies back
    out=$(printf 'a\nb\n' | "$THEATER" channel open "$eid" first 2>/dev/null)
    contains "$out" "^first$" "channel open: first message echoed"
    contains "$out" "^b$" "channel open: stdin lines echoed"
    # a last line without its newline goes too
    out=$(printf 'a\nlast' | "$THEATER" channel open "$eid" first 2>/dev/null)
    contains "$out" "^last$" "channel open: a last line without a newline"
    # the command ends when the channel does, even while stdin stays open
    mkfifo "$H/in"
    sleep 60 >"$H/in" &
    spid=$!
    "$THEATER" channel open "$eid" first <"$H/in" >"$H/co" 2>"$H/co.err" &
    cpid=$!
    wait_until "the channel to open" grep -q 'channel .* open' "$H/co.err"
    ch=$(sed -n 's/^theater: channel \([^ ]*\) open.*/\1/p' "$H/co.err")
    expect_status 200 DELETE "/v1/channels/$ch" >/dev/null
    wait_until "channel open to end with its channel" sh -c "! kill -0 $cpid 2>/dev/null"
    wait $cpid || fail "channel open exited $? when its channel was closed: $(cat "$H/co.err")"
    grep -q 'the channel ended: closed through the API' "$H/co.err" ||
        fail "channel open did not say why it ended: $(cat "$H/co.err")"
    kill $spid 2>/dev/null
    # stop and force stop
    expect_status 200 DELETE "/v1/actors/$cid" | grep -q '"stopped":true' || fail "DELETE"
    expect_status 200 DELETE "/v1/actors/$eid?force=1" >/dev/null
    expect_status 404 DELETE "/v1/actors/$eid" >/dev/null
    expect_status 400 DELETE "/v1/actors/$id?force=maybe" >/dev/null
    # shutdown through the API
    expect_status 202 POST /v1/shutdown | grep -q shutting_down || fail "shutdown"
    wait "$DPID"
    rc=$?
    DPID=
    [ $rc = 0 ] || fail "the daemon exited $rc after POST /v1/shutdown"
    [ ! -e "$S" ] || fail "socket left after shutdown"
    "$THEATER" chain verify --home "$H" >/dev/null || fail "chains do not verify after shutdown"
    ;;

sse)
    start_daemon --stream-buffer 8192
    # a stream begins with a comment, at once, before any event (here none
    # comes: no actor): a client that shows its headers with the first
    # bytes of the body (curl -i -N, killed here) sees it accepted
    timeout -s KILL 1 curl -s -i -N --unix-socket "$S" http://theater/v1/events >"$H/s0"
    grep -q '^HTTP/1.1 200' "$H/s0" || fail "GET /v1/events showed no status within 1 s: $(cat "$H/s0")"
    grep -qi '^content-type: text/event-stream' "$H/s0" || fail "GET /v1/events headers: $(cat "$H/s0")"
    grep -q '^: stream open' "$H/s0" || fail "the stream does not begin with its comment: $(cat "$H/s0")"
    id=$(start_json "$EXAMPLES/counter.toml")
    timeout -s KILL 1 curl -s -i -N --unix-socket "$S" \
        "http://theater/v1/actors/$id/events?follow=1&after=1000" >"$H/s0"
    grep -q '^HTTP/1.1 200' "$H/s0" || fail "a quiet actor stream showed no status within 1 s"
    for m in a b c; do api POST "/v1/actors/$id/messages" --data-binary $m >/dev/null; done
    # stored events then live ones, ids contiguous
    curl -s -N --max-time 2 --unix-socket "$S" -H 'Accept: text/event-stream' \
        "http://theater/v1/actors/$id/events" >"$H/s1" 2>/dev/null &
    cpid=$!
    wait_until "the stored events on the stream" grep -q '^id: ' "$H/s1"
    for m in d e; do api POST "/v1/actors/$id/messages" --data-binary $m >/dev/null; done
    wait $cpid
    ids=$(sed -n 's/^id: //p' "$H/s1" | tr '\n' ' ')
    n=$(sed -n 's/^id: //p' "$H/s1" | wc -l)
    [ "$ids" = "$(seq -s ' ' 0 $((n - 1))) " ] || fail "stream ids not contiguous from 0: $ids"
    [ "$n" -ge 9 ] || fail "the stream lacks the live events ($n events): $ids"
    grep -q '^event: wasm-call' "$H/s1" || fail "no event: lines"
    # resume after id 3
    curl -s -N --max-time 1 --unix-socket "$S" -H 'Last-Event-ID: 3' \
        "http://theater/v1/actors/$id/events?follow=1" >"$H/s2" 2>/dev/null
    first=$(sed -n 's/^id: //p' "$H/s2" | head -1)
    [ "$first" = 4 ] || fail "resume with Last-Event-ID: 3 started at $first"
    # ?limit=N on a stream: the newest N stored events, then the rest
    curl -s -N --max-time 1 --unix-socket "$S" "http://theater/v1/actors/$id/events?follow=1&limit=2" >"$H/s2l" 2>/dev/null
    last=$(api GET "/v1/actors/$id/events?limit=1&newest=1" | sed 's/.*"seq":\([0-9]*\).*/\1/')
    ids=$(sed -n 's/^id: //p' "$H/s2l" | tr '\n' ' ')
    [ "$ids" = "$((last - 1)) $last " ] || fail "a stream with ?limit=2 sent $ids (the newest two are $((last - 1)) $last)"
    # Accept: media types are case-insensitive and weighed (q)
    for a in 'TEXT/Event-Stream' 'application/json;q=0.5, text/event-stream' 'text/event-stream;q=0' \
        'application/json, text/event-stream;q=0.9'; do
        curl -s -N --max-time 1 --unix-socket "$S" -H "Accept: $a" -D "$H/ah" -o /dev/null \
            "http://theater/v1/actors/$id/events"
        case "$a" in *'q=0'|*'q=0.9') want=application/json ;; *) want=text/event-stream ;; esac
        grep -qi "^content-type: $want" "$H/ah" || fail "Accept: $a answered $(grep -i '^content-type' "$H/ah")"
    done
    # a resume wins over ?limit: Last-Event-ID first, then ?after=, so a
    # client reconnecting to the URL it opened with ?limit=2 misses nothing
    curl -s -N --max-time 1 --unix-socket "$S" -H 'Last-Event-ID: 1' \
        "http://theater/v1/actors/$id/events?follow=1&limit=2&after=5" >"$H/s2r" 2>/dev/null
    ids=$(sed -n 's/^id: //p' "$H/s2r" | tr '\n' ' ')
    [ "$ids" = "$(seq -s ' ' 2 "$last") " ] || fail "Last-Event-ID: 1 with ?limit=2&after=5 sent $ids"
    curl -s -N --max-time 1 --unix-socket "$S" \
        "http://theater/v1/actors/$id/events?follow=1&limit=2&after=2" >"$H/s2r" 2>/dev/null
    ids=$(sed -n 's/^id: //p' "$H/s2r" | tr '\n' ' ')
    [ "$ids" = "$(seq -s ' ' 3 "$last") " ] || fail "?after=2&limit=2 on a stream sent $ids"
    # every actor's events
    curl -s -N --max-time 1 --unix-socket "$S" -D "$H/s3h" "http://theater/v1/events" \
        >"$H/s3" 2>/dev/null &
    cpid=$!
    # (the daemon answers once the stream is linked: its headers mean it)
    wait_until "the stream of every actor's events" grep -q '^HTTP/1.1 200' "$H/s3h"
    id2=$(start_json "$EXAMPLES/counter.toml")
    wait $cpid
    grep -q "\"actor\":\"$id2\"" "$H/s3" || fail "GET /v1/events missed the new actor"
    # its events name their parents: the first none, the next the first's hash
    h0=$(grep "\"actor\":\"$id2\",\"seq\":0," "$H/s3" | sed 's/.*"hash":"\([0-9a-f]*\)".*/\1/')
    grep -q "\"actor\":\"$id2\",\"seq\":0,.*\"parent_hash\":null" "$H/s3" ||
        fail "GET /v1/events: the first event's parent_hash is not null"
    grep -q "\"actor\":\"$id2\",\"seq\":1,.*\"parent_hash\":\"$h0\"" "$H/s3" ||
        fail "GET /v1/events: event 1 does not name event 0's hash ($h0) as its parent"
    # an actor's stream ends once the actor has ended, after its last event:
    # a follower stops by itself (also one filtered by type), and a stream
    # of an actor that has ended sends its chain and ends
    id3=$(start_json "$EXAMPLES/counter.toml")
    "$THEATER" events "$id3" --follow --json >"$H/f3" &
    fpid=$!
    "$THEATER" events "$id3" --follow --type wasm-call >"$H/f4" &
    fpid2=$!
    wait_until "the follower's first events" test -s "$H/f3"
    wait_until "the typed follower's first events" test -s "$H/f4"
    expect_status 200 DELETE "/v1/actors/$id3" >/dev/null
    wait_until "events --follow to end after the actor stopped" sh -c "! kill -0 $fpid 2>/dev/null"
    wait $fpid || fail "events --follow of a stopped actor failed"
    wait_until "events --follow --type to end after the actor stopped" sh -c "! kill -0 $fpid2 2>/dev/null"
    wait $fpid2 || fail "events --follow --type of a stopped actor failed"
    tail -1 "$H/f3" | grep -q '"event_type":"actor-stopped"' || fail "the follower's last event: $(tail -1 "$H/f3")"
    grep -q 'init(' "$H/f4" || fail "the typed follower: $(cat "$H/f4")"
    # start --follow --json: JSON lines, the start's answer first, until the
    # actor stops
    "$THEATER" start "$EXAMPLES/counter.toml" --follow --json >"$H/f5" &
    fpid=$!
    wait_until "start --follow to print the new id" grep -q '"event_type":"wasm-result"' "$H/f5"
    id5=$(head -1 "$H/f5" | json_get id)
    [ -n "$id5" ] || fail "start --follow --json: the first line is not the start's answer: $(head -1 "$H/f5")"
    expect_status 200 DELETE "/v1/actors/$id5" >/dev/null
    wait_until "start --follow to end after the actor stopped" sh -c "! kill -0 $fpid 2>/dev/null"
    wait $fpid || fail "start --follow failed"
    [ "$(grep -c '^{.*}$' "$H/f5")" = "$(wc -l <"$H/f5")" ] || fail "start --follow --json is not one JSON object per line: $(cat "$H/f5")"
    tail -1 "$H/f5" | grep -q '"event_type":"actor-stopped"' || fail "start --follow --json: the last line: $(tail -1 "$H/f5")"
    curl -s -N --max-time 20 --unix-socket "$S" "http://theater/v1/actors/$id3/events?follow=1" >"$H/s4"
    rc=$?
    [ $rc = 0 ] || fail "the stream of an ended actor did not end (curl exit $rc)"
    grep -q '^event: actor-stopped' "$H/s4" || fail "the stream of an ended actor: $(cat "$H/s4")"
    # the CLI follows across an overflow (it is stopped while 1500 messages
    # make ~500 kB of events, more than the socket buffers and the daemon's
    # 8 kB stream buffer hold): it resumes with Last-Event-ID and misses
    # and repeats nothing
    "$THEATER" events "$id2" --follow --json --max 1504 >"$H/f" &
    fpid=$!
    wait_until "the follower's first events" test -s "$H/f"
    kill -STOP $fpid
    i=0
    while [ $i -lt 15 ]; do
        curl -s --unix-socket "$S" -X POST --data-binary x \
            $(seq 1 100 | sed "s|.*|http://theater/v1/actors/$id2/messages|") >/dev/null
        i=$((i + 1))
    done
    wait_until "the stopped follower to fall behind" \
        grep -q "fell more than 8192 bytes behind" "$H/server.log"
    kill -CONT $fpid
    wait $fpid || fail "events --follow failed"
    seqs=$(sed 's/^{"actor":"[^"]*","seq":\([0-9]*\),.*/\1/' "$H/f" | tr '\n' ' ')
    [ "$seqs" = "$(seq -s ' ' 0 1503) " ] || fail "events --follow did not get events 0..1503 once each in order"
    # stored and live events alike carry their parent_hash: each names the
    # hash of the one before it
    sed 's/^{"actor":"[^"]*","seq":[0-9]*,"event_type":"[^"]*","timestamp":[0-9]*,"hash":"\([0-9a-f]*\)","parent_hash":"\{0,1\}\([0-9a-f]*\|null\)"\{0,1\},.*/\1 \2/' "$H/f" >"$H/links"
    awk 'NR == 1 && $2 != "null" { bad = 1 } NR > 1 && $2 != prev { bad = 1 } { prev = $1 } END { exit bad }' "$H/links" ||
        fail "events --follow --json: a parent_hash is not the hash of the event before it: $(awk 'NR > 1 && $2 != prev { print; exit } { prev = $1 }' "$H/links")"
    grep -q "fell more than 8192 bytes behind" "$H/server.log" || fail "the follower never fell behind (test too weak)"
    # an actor with save_chain = false: its chain is in the daemon's memory,
    # and the events endpoint, its stream and `theater events` serve it
    sed -e 's|^component = "counter.wasm"|component = "'"$EXAMPLES"'/counter.wasm"\nsave_chain = false|' \
        "$EXAMPLES/counter.toml" >"$H/counter_mem.toml"
    mid=$(start_json "$H/counter_mem.toml")
    expect_status 202 POST "/v1/actors/$mid/messages" --data-binary x >/dev/null
    [ "$(api POST "/v1/actors/$mid/requests" -d x)" = 1 ] || fail "the in-memory counter's request"
    b=$(expect_status 200 GET "/v1/actors/$mid/events")
    n=$(printf '%s' "$b" | grep -o '"seq":' | wc -l)
    [ "$n" -ge 5 ] || fail "GET .../events of a save_chain = false actor: $b"
    contains "$b" '"seq":0,"event_type":"actor-spawned"' "the in-memory chain's first event"
    b=$(expect_status 200 GET "/v1/actors/$mid/events?after=0&limit=1")
    contains "$b" '"events":\[\{"actor":"[^"]*","seq":1,' "?after=0&limit=1 of an in-memory chain"
    [ "$(printf '%s' "$b" | grep -o '"seq":' | wc -l)" = 1 ] || fail "?limit=1 of an in-memory chain: $b"
    b=$(expect_status 200 GET "/v1/actors/$mid/events?limit=1&newest=1")
    contains "$b" "\"seq\":$((n - 1))," "?newest=1 of an in-memory chain"
    b=$(expect_status 200 GET "/v1/actors/$mid/events?type=actor-spawned")
    [ "$(printf '%s' "$b" | grep -o '"seq":' | wc -l)" = 1 ] || fail "?type= of an in-memory chain: $b"
    curl -s -N --max-time 1 --unix-socket "$S" "http://theater/v1/actors/$mid/events?follow=1" >"$H/sm" 2>/dev/null
    ids=$(sed -n 's/^id: //p' "$H/sm" | tr '\n' ' ')
    [ "$ids" = "$(seq -s ' ' 0 $((n - 1))) " ] || fail "the stream of an in-memory chain sent $ids"
    curl -s -N --max-time 1 --unix-socket "$S" -H 'Last-Event-ID: 2' \
        "http://theater/v1/actors/$mid/events?follow=1&limit=1" >"$H/sm" 2>/dev/null
    ids=$(sed -n 's/^id: //p' "$H/sm" | tr '\n' ' ')
    [ "$ids" = "$(seq -s ' ' 3 $((n - 1))) " ] || fail "the resumed stream of an in-memory chain sent $ids"
    "$THEATER" events "$mid" | grep -q actor-spawned || fail "theater events of a save_chain = false actor"
    ;;

sse_paced)
    # A client that keeps up is never cut off: the stored events go out as
    # it reads them (at most --stream-buffer bytes at a time), however long
    # the chain, and one event larger than the buffer still goes out.
    start_daemon --stream-buffer 8192
    id=$(start_json "$EXAMPLES/counter.toml")
    head -c 1000 /dev/zero | tr '\0' a >"$H/m1k"
    head -c 20000 /dev/zero | tr '\0' b >"$H/m20k"
    i=0
    while [ $i -lt 6 ]; do
        curl -s --unix-socket "$S" -X POST --data-binary @"$H/m1k" \
            $(seq 1 20 | sed "s|.*|http://theater/v1/actors/$id/messages|") >/dev/null
        i=$((i + 1))
    done
    expect_status 202 POST "/v1/actors/$id/messages" --data-binary @"$H/m20k" >/dev/null
    api POST "/v1/actors/$id/messages" --data-binary z >/dev/null
    # every message handled (the counter's state counts them), so all are stored
    until [ "$(api GET "/v1/actors/$id/state")" = 122 ]; do
        i=$((i + 1))
        [ $i -lt 300 ] || fail "the counter did not handle the messages: $(api GET "/v1/actors/$id/state")"
        sleep 0.1
    done
    n=$(api GET "/v1/actors/$id/events?limit=100000" | grep -o '"seq":' | wc -l)
    [ "$n" -ge 123 ] || fail "expected at least 123 stored events, got $n"
    curl -s -N --max-time 3 --unix-socket "$S" "http://theater/v1/actors/$id/events?follow=1" >"$H/p1" 2>/dev/null
    if grep -q '^event: overflow' "$H/p1"; then fail "a client that keeps up was cut off: $(grep -A1 '^event: overflow' "$H/p1")"; fi
    ids=$(sed -n 's/^id: //p' "$H/p1" | tr '\n' ' ')
    [ "$ids" = "$(seq -s ' ' 0 $((n - 1))) " ] || fail "stream ids not 0..$((n - 1)): $ids"
    big=$(grep -n "$(head -c 20000 /dev/zero | tr '\0' b | od -An -tx1 | tr -d ' \n' | head -c 64)" "$H/p1" | head -1 | cut -d: -f1)
    [ -n "$big" ] || fail "the 20 kB message's event is not on the stream"
    # resuming right before the big event starts with it
    bigseq=$(sed -n "$((big - 2))s/^id: //p" "$H/p1")
    curl -s -N --max-time 2 --unix-socket "$S" -H "Last-Event-ID: $((bigseq - 1))" \
        "http://theater/v1/actors/$id/events?follow=1" >"$H/p2" 2>/dev/null
    first=$(sed -n 's/^id: //p' "$H/p2" | head -1)
    [ "$first" = "$bigseq" ] || fail "resume with Last-Event-ID: $((bigseq - 1)) started at $first"
    if grep -q '^event: overflow' "$H/p2"; then fail "the resumed stream was cut off"; fi
    # the CLI follows it too, to the end
    "$THEATER" events "$id" --follow --json --max "$n" >"$H/p3" || fail "events --follow failed"
    [ "$(wc -l <"$H/p3")" = "$n" ] || fail "events --follow --max $n printed $(wc -l <"$H/p3") lines"
    if grep -q "fell more than 8192 bytes behind" "$H/server.log"; then fail "the daemon cut off a client that kept up"; fi
    ;;

slow_client)
    start_daemon --client-timeout 2
    "$RAW" slowloris "$S" 2 || fail "slowloris"
    stop_daemon; [ "$RC" = 0 ] || fail "the daemon did not exit 0 on SIGTERM"
    # The stream client that reads nothing, on a daemon whose client timeout
    # is a minute: libmicrohttpd closes a connection that makes no progress
    # for the client timeout, and the 2,000 messages may take longer than
    # 2 s in a sanitizer build on a loaded machine (the stream would be
    # closed before its client heard of the overflow).
    start_daemon --client-timeout 60 --stream-buffer 16384
    # the stream is under test, not durability: a counter whose messages are
    # not stored first answers them as fast as the stream fills
    sed -e 's|^component = "counter.wasm"|component = "'"$EXAMPLES"'/counter.wasm"\ndurable = false|' \
        "$EXAMPLES/counter.toml" >"$H/counter_nd.toml"
    grep -q '^durable = false' "$H/counter_nd.toml" || fail "could not write a non-durable counter"
    id=$(start_json "$H/counter_nd.toml")
    "$RAW" slowsse "$S" "$id" 2000 || fail "slow SSE client"
    grep -q "fell more than 16384 bytes behind" "$H/server.log" || fail "no log line for the overflow"
    # the actor was not held up: it handles every message (each was
    # answered 202 once queued; the last ones may still be handled now)
    i=0
    until [ "$(api GET "/v1/actors/$id/state")" = 2000 ]; do
        i=$((i + 1))
        [ $i -lt 600 ] || fail "the actor did not get every message: state $(api GET "/v1/actors/$id/state")"
        sleep 0.1
    done
    expect_status 200 GET /v1/health >/dev/null
    ;;

shutdown_streams)
    # a graceful shutdown ends the streams after the actors' last events:
    # an actor's stream and /v1/events get its actor-stopped, a channel's
    # stream its closed event with the reason, and each then ends
    start_daemon
    cid=$(start_json "$EXAMPLES/counter.toml")
    eid=$(start_json "$EXAMPLES/echo.toml")
    ch=$(expect_status 201 POST "/v1/actors/$eid/channels" --data-binary 'hello' | json_get channel)
    [ -n "$ch" ] || fail "no channel"
    curl -s -N --max-time 20 --unix-socket "$S" "http://theater/v1/actors/$cid/events?follow=1" \
        >"$H/sa" 2>/dev/null &
    p1=$!
    curl -s -N --max-time 20 --unix-socket "$S" "http://theater/v1/events" >"$H/sv" 2>/dev/null &
    p2=$!
    curl -s -N --max-time 20 --unix-socket "$S" "http://theater/v1/channels/$ch/messages" \
        >"$H/sc" 2>/dev/null &
    p3=$!
    "$THEATER" events "$cid" --follow >"$H/cli" 2>"$H/cli.err" &
    p4=$!
    wait_until "the actor's stream" grep -q '^id: ' "$H/sa"
    wait_until "the streams to open" grep -q '^: stream open' "$H/sv" "$H/sc"
    wait_until "the CLI's stream" grep -q 'actor-spawned' "$H/cli"
    # (the CLI's stream is linked once it printed its stored events)
    stop_daemon
    [ "$RC" = 0 ] || fail "exit status after SIGTERM: $RC"
    wait $p1 || fail "the actor's stream did not end (curl exit $?)"
    wait $p2 || fail "the stream of every actor's events did not end (curl exit $?)"
    wait $p3 || fail "the channel's stream did not end (curl exit $?)"
    wait $p4 || fail "theater events --follow exit $?: $(cat "$H/cli.err")"
    tail -3 "$H/sa" | grep -q '^event: actor-stopped' ||
        fail "the actor's stream did not end with its actor-stopped: $(tail -5 "$H/sa")"
    grep -A1 '^event: actor-stopped' "$H/sa" | grep -q '"reason":"runtime-shutdown"' ||
        fail "the actor-stopped has not the shutdown's reason: $(tail -5 "$H/sa")"
    for a in "$cid" "$eid"; do
        grep "^data: {\"actor\":\"$a\"" "$H/sv" | grep -q '"event_type":"actor-stopped"' ||
            fail "GET /v1/events lacks the actor-stopped of $a: $(tail -8 "$H/sv")"
    done
    tail -3 "$H/sc" | grep -q '^event: closed' ||
        fail "the channel's stream did not end with its closed event: $(tail -5 "$H/sc")"
    grep -A1 '^event: closed' "$H/sc" | grep -q "\"reason\":\"actor echo ($eid) stopped: the daemon is shutting down\"" ||
        fail "the channel's closed event: $(grep -A1 '^event: closed' "$H/sc")"
    tail -1 "$H/cli" | grep -q 'actor-stopped' ||
        fail "theater events --follow did not print the actor-stopped last: $(tail -3 "$H/cli")"
    grep -q 'cut off' "$H/server.log" && fail "a stream was cut off: $(grep 'cut off' "$H/server.log")"
    ;;

dropped_messages)
    # a one-way message acknowledged (202) but never handled is on record:
    # the messages queued behind an operation that fails are dropped by the
    # failure, as one message-dropped event after its actor-failed; a
    # failed root actor then refuses messages (409) rather than keep them
    # for a restart that may never come, so a stop drops nothing more
    [ -n "$PROBE" ] || it_skip "no probe component"
    start_daemon
    probe_manifest >"$H/probe.toml"
    sed -e 's|^version = .*|&\ndurable = false|' "$H/probe.toml" >"$H/probe_nd.toml"
    grep -q '^durable = false' "$H/probe_nd.toml" || fail "could not write a non-durable probe"
    pid=$(start_json "$H/probe.toml")
    calls=$(api GET "/v1/actors/$pid" | json_get calls)
    curl -s -o /dev/null --unix-socket "$S" -X POST --data-binary 'sleep 4000' \
        "http://theater/v1/actors/$pid/requests" &
    spid=$!
    wait_until "the actor to take the request to sleep" calls_above "$pid" "$calls"
    n_in=$(api GET "/v1/actors/$pid" | json_get messages_in)
    curl -s -o "$H/rtrap" -w '%{http_code}' --unix-socket "$S" -X POST --data-binary trap \
        "http://theater/v1/actors/$pid/requests" >"$H/strap" &
    tpid=$!
    wait_until "the request to trap to be queued" sh -c \
        "[ \$(curl -s --unix-socket '$S' http://theater/v1/actors/$pid | sed -n 's/.*\"messages_in\":\([0-9]*\).*/\1/p') -gt $n_in ]"
    for m in a b c; do expect_status 202 POST "/v1/actors/$pid/messages" --data-binary $m >/dev/null; done
    wait $spid
    wait $tpid
    [ "$(cat "$H/strap")" = 502 ] || fail "the request to trap: HTTP $(cat "$H/strap") $(cat "$H/rtrap")"
    b=$(expect_status 200 GET "/v1/actors/$pid/events?limit=2&newest=1")
    contains "$b" '"event_type":"actor-failed",.*"event_type":"message-dropped",[^}]*"data":\{"reason":"failed","count":3,"bytes":3,"message_ids":\["[0-9a-f-]{36}","[0-9a-f-]{36}","[0-9a-f-]{36}"\]\}' \
        "the messages a failure dropped"
    "$THEATER" events "$pid" --type message-dropped >"$H/out" 2>&1 || fail "theater events: $(cat "$H/out")"
    grep -q '3 messages never handled: dropped (the actor failed)' "$H/out" ||
        fail "the human form of the dropped messages: $(cat "$H/out")"
    expect_status 409 POST "/v1/actors/$pid/messages" --data-binary d >/dev/null
    expect_status 200 DELETE "/v1/actors/$pid" >/dev/null
    b=$(expect_status 200 GET "/v1/actors/$pid/events?type=message-dropped")
    [ "$(printf '%s' "$b" | grep -o '"event_type":"message-dropped"' | wc -l)" = 1 ] ||
        fail "a stop of a failed root actor dropped messages: $b"
    # a daemon shutdown: the messages of an actor that does not come back
    # (not durable) are dropped, on record; a durable one keeps them for
    # the next start, not in the event
    nd=$(start_json "$H/probe_nd.toml")
    du=$(start_json "$H/probe.toml")
    spids=
    for a in "$nd" "$du"; do
        calls=$(api GET "/v1/actors/$a" | json_get calls)
        curl -s -o /dev/null --unix-socket "$S" -X POST --data-binary 'sleep 20000' \
            "http://theater/v1/actors/$a/requests" &
        spids="$spids $!"
        wait_until "the actor to take the request to sleep" calls_above "$a" "$calls"
        for m in x y; do expect_status 202 POST "/v1/actors/$a/messages" --data-binary $m >/dev/null; done
    done
    stop_daemon
    [ "$RC" = 0 ] || fail "exit status after SIGTERM: $RC"
    for p in $spids; do wait "$p"; done
    "$THEATER" chain events "$nd" --home "$H" --json >"$H/ev.json" || fail "chain events $nd"
    tr -d ' \n' <"$H/ev.json" | grep -q '"message-dropped",[^}]*"reason":"stopped","count":2,' ||
        fail "the messages of $nd were not recorded as dropped: $(grep -o "event_type[^,]*" "$H/ev.json" | tr "\n" " ") $(grep -A3 message-dropped "$H/ev.json")"
    "$THEATER" chain events "$du" --home "$H" --json >"$H/ev.json" || fail "chain events $du"
    grep -q message-dropped "$H/ev.json" && fail "the stored messages of $du were dropped: $(grep -A3 message-dropped "$H/ev.json")"
    start_daemon
    du8=$(printf '%s' "$du" | cut -c1-8)
    grep -q "restored actor probe ($du8): state none, 0 bytes, 2 messages to handle" "$H/server.log" ||
        fail "the durable actor did not come back with its 2 messages: $(grep restored "$H/server.log")"
    ;;

sigterm_1000)
    start_daemon
    n=0
    while [ $n -lt 1000 ]; do
        curl -s --unix-socket "$S" -X POST -d "{\"manifest\":\"$EXAMPLES/counter.toml\"}" \
            $(seq 1 100 | sed 's|.*|http://theater/v1/actors|') >/dev/null
        n=$((n + 100))
    done
    b=$(expect_status 200 GET /v1/health)
    n=$(printf '%s' "$b" | json_get actors)
    [ "$n" -ge 1000 ] || fail "expected 1000 actors, the daemon has $n"
    # an ambiguous prefix names its candidates (1000 random ids almost surely
    # share some 4-character prefix)
    pre=$("$THEATER" list --json | sed -n 's/.*"id": "\(....\).*/\1/p' | sort | uniq -d | head -1)
    if [ -n "$pre" ]; then
        out=$("$THEATER" inspect "$pre" 2>&1)
        [ $? = 1 ] || fail "an ambiguous prefix should exit 1"
        contains "$out" "$pre is ambiguous: it matches [0-9]+ actors \($pre" "ambiguous prefix"
        # the events endpoint also looks among the chains: each actor once
        want=$(printf '%s' "$out" | sed -n 's/.*it matches \([0-9]*\) actors.*/\1/p')
        b=$(expect_status 400 GET "/v1/actors/$pre/events")
        contains "$b" "it matches $want actors" "an ambiguous prefix among live actors and chains"
    fi
    t0=$(date +%s%N)
    stop_daemon; [ "$RC" = 0 ] || fail "exit status after SIGTERM"
    ms=$((($(date +%s%N) - t0) / 1000000))
    echo "$n idle actors: SIGTERM to exit in $ms ms"
    [ $ms -le 5000 ] || fail "shutdown took $ms ms"
    [ ! -e "$S" ] || fail "socket left"
    out=$("$THEATER" chain verify --home "$H") || fail "chain verify: $out"
    contains "$out" "$n chains" "every chain verifies"
    # each actor's stop is on its chain
    one=$("$THEATER" chain ls --home "$H" | sed -n 2p | cut -d' ' -f1)
    "$THEATER" chain events "$one" --home "$H" --type actor-stopped | grep -q runtime-shutdown ||
        fail "the shutdown is not on the chain of $one"
    ;;

kill9)
    start_daemon
    sup=$(start_json "$EXAMPLES/counter.toml")
    for m in a b c; do api POST "/v1/actors/$sup/messages" --data-binary $m >/dev/null; done
    api POST "/v1/actors/$sup/requests" -d x >/dev/null
    # reading the events flushes them: what the API showed must survive
    "$THEATER" events "$sup" | grep -q handle-request || fail "no handle-request event"
    kill -KILL "$DPID"
    wait "$DPID" 2>/dev/null
    DPID=
    [ -S "$S" ] || fail "expected a stale socket after kill -9"
    start_daemon
    expect_status 200 GET /v1/health >/dev/null
    grep -q "removed a stale socket" "$H/server.log" || fail "the stale socket was not reported"
    id=$(start_json "$EXAMPLES/counter.toml")
    [ -n "$id" ] || fail "cannot start an actor after a restart"
    # a follower across a daemon's kill -9 and restart: it waits for the
    # next daemon, which brings the durable actor back, and resumes after
    # the last event it got (none lost, none repeated)
    n0=$(api GET "/v1/actors/$id/events" | grep -o '"seq":' | wc -l)
    "$THEATER" events "$id" --follow --json --max $((n0 + 2)) >"$H/fk" 2>"$H/fk.err" &
    fpid=$!
    wait_until "the follower's first events" test -s "$H/fk"
    kill -KILL "$DPID"
    wait "$DPID" 2>/dev/null
    DPID=
    sleep 0.3
    start_daemon
    expect_status 202 POST "/v1/actors/$id/messages" --data-binary x >/dev/null
    wait_until "the follower to end after the new daemon's events" sh -c "! kill -0 $fpid 2>/dev/null"
    wait $fpid || fail "events --follow across a daemon restart failed: $(cat "$H/fk.err")"
    seqs=$(sed 's/^{"actor":"[^"]*","seq":\([0-9]*\),.*/\1/' "$H/fk" | tr '\n' ' ')
    [ "$seqs" = "$(seq -s ' ' 0 $((n0 + 1))) " ] || fail "events --follow across a restart got: $seqs"
    stop_daemon; [ "$RC" = 0 ] || fail "exit status"
    "$THEATER" chain verify --home "$H" >/dev/null || fail "chains do not verify after kill -9 and restart"
    "$THEATER" chain events "$sup" --home "$H" | grep -q handle-request || fail "events before kill -9 are lost"
    ;;

durable)
    # docs/durability.md: what comes back after kill -9 and SIGTERM, and what not
    start_daemon
    parent=$(start_json "$EXAMPLES/counter.toml")
    child=$(expect_status 201 POST /v1/actors -H 'Content-Type: application/json' \
        -d "{\"manifest\":\"$EXAMPLES/counter.toml\",\"parent\":\"$parent\"}" | json_get id)
    sed 's/^name = .*/name = "ephemeral"\ndurable = false/' "$EXAMPLES/counter.toml" >"$H/eph.toml"
    sed -i "s|^component = \"|component = \"$EXAMPLES/|" "$H/eph.toml"
    eph=$(start_json "$H/eph.toml")
    gone=$(start_json "$EXAMPLES/counter.toml")
    [ -n "$child" ] && [ -n "$eph" ] && [ -n "$gone" ] || fail "cannot start the actors"
    expect_status 200 DELETE "/v1/actors/$gone" >/dev/null
    for m in 5 5 5; do expect_status 202 POST "/v1/actors/$parent/messages" --data-binary $m >/dev/null; done
    expect_status 202 POST "/v1/actors/$child/messages" --data-binary 7 >/dev/null
    [ "$(api POST "/v1/actors/$parent/requests" -d x)" = 15 ] || fail "parent's count before the crash"
    kill -KILL "$DPID"
    wait "$DPID" 2>/dev/null
    DPID=
    start_daemon
    grep -q "restored actor counter ($(printf %s "$parent" | cut -c1-8)): state 2 bytes" "$H/server.log" ||
        fail "no log line for the restored parent"
    list=$(api GET /v1/actors)
    "$THEATER" list --home "$H" | grep -q "^$(printf %s "$child" | cut -c1-8) .*running" || fail "theater list"
    # --home and --json before the command too
    "$THEATER" --home "$H" list | grep -q "^$(printf %s "$child" | cut -c1-8) .*running" ||
        fail "theater --home DIR list"
    "$THEATER" --json --home="$H" list | grep -q "\"id\": \"$child\"" || fail "theater --json --home=DIR list"
    "$THEATER" help list | grep -q "^usage: theater list" || fail "theater help list"
    contains "$list" "\"id\":\"$parent\"" "the parent is back"
    contains "$list" "\"id\":\"$child\",[^}]*\"parent\":\"$parent\"" "the child is back, with its parent"
    # still in start order: the parent before its child
    order=$(printf '%s' "$list" | grep -o '"id":"[0-9a-f-]*"' | tr '\n' ' ')
    case "$order" in *"\"id\":\"$parent\""*"\"id\":\"$child\""*) ;; *) fail "the list after a restart is not in start order: $order" ;; esac
    printf '%s' "$list" | grep -q "$eph" && fail "an actor with durable = false came back"
    printf '%s' "$list" | grep -q "$gone" && fail "a stopped actor came back"
    [ "$(api GET "/v1/actors/$parent/state")" = 15 ] || fail "the parent's state after kill -9"
    [ "$(api GET "/v1/actors/$child/state")" = 7 ] || fail "the child's state after kill -9"
    "$THEATER" events "$parent" --type actor-restored | grep -q "restored counter" ||
        fail "no actor-restored event"
    expect_status 202 POST "/v1/actors/$parent/messages" --data-binary 1 >/dev/null
    stop_daemon; [ "$RC" = 0 ] || fail "exit status"
    start_daemon
    [ "$(api POST "/v1/actors/$parent/requests" -d x)" = 16 ] || fail "the parent's state after SIGTERM"
    expect_status 200 DELETE "/v1/actors/$parent" >/dev/null
    stop_daemon
    start_daemon
    [ "$(api GET /v1/actors)" = '{"actors":[]}' ] || fail "a stopped parent (or its child) came back: $(api GET /v1/actors)"
    stop_daemon
    "$THEATER" chain verify --home "$H" >/dev/null || fail "chains do not verify"
    ;;

durable_legacy)
    # A home written before durable.db: its durable records in theater.db's
    # tables (schema version 2).  The first start moves them (durable.c,
    # move_legacy): the actor comes back, and a message stored but not
    # handled before the crash is handled once.
    start_daemon
    id=$(start_json "$EXAMPLES/counter.toml")
    for m in 4 6; do expect_status 202 POST "/v1/actors/$id/messages" --data-binary $m >/dev/null; done
    [ "$(api POST "/v1/actors/$id/requests" -d x)" = 10 ] || fail "the count before the crash"
    kill -KILL "$DPID"
    wait "$DPID" 2>/dev/null
    DPID=
    python3 - "$H" "$id" <<'PY' || fail "cannot make the legacy home"
import sqlite3, sys
home, actor = sys.argv[1], sys.argv[2]
old = sqlite3.connect(home + "/theater.db")
old.execute("ATTACH DATABASE ? AS d", (home + "/durable.db",))
old.execute("INSERT INTO main.durable_actor SELECT * FROM d.durable_actor")
old.execute("INSERT INTO main.durable_msg SELECT * FROM d.durable_msg")
# acknowledged, not handled (as a kill -9 leaves it)
old.execute("INSERT INTO main.durable_msg(id, actor, sender, data) VALUES"
            " ('00000000-0000-4000-8000-00000000abcd', ?, NULL, CAST('5' AS BLOB))", (actor,))
old.commit()
old.execute("DETACH DATABASE d")
old.close()
PY
    rm -f "$H/durable.db" "$H/durable.db-wal" "$H/durable.db-shm"
    start_daemon
    [ "$(api POST "/v1/actors/$id/requests" -d x)" = 15 ] ||
        fail "the moved actor's count: $(api GET "/v1/actors/$id/state")"
    stop_daemon
    left=$(python3 -c "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]+'/theater.db'); print(c.execute('SELECT (SELECT count(*) FROM durable_actor)+(SELECT count(*) FROM durable_msg)').fetchone()[0])" "$H")
    [ "$left" = 0 ] || fail "$left durable rows left in theater.db"
    [ -f "$H/durable.db" ] || fail "no durable.db"
    [ "$(stat -c %a "$H/durable.db")" = 600 ] || fail "durable.db mode $(stat -c %a "$H/durable.db")"
    start_daemon
    [ "$(api GET "/v1/actors/$id/state")" = 15 ] || fail "the count after a second start"
    stop_daemon
    "$THEATER" chain verify --home "$H" >/dev/null || fail "chains do not verify"
    ;;

two_daemons)
    start_daemon
    id=$(start_json "$EXAMPLES/counter.toml")
    out=$("$THEATER" server --home "$H" 2>&1)
    [ $? = 1 ] || fail "a second server should exit 1"
    contains "$out" "already running on $H \(pid $DPID\)" "second server"
    [ -S "$S" ] || fail "the second server removed the first one's socket"
    expect_status 200 GET /v1/health >/dev/null
    out=$("$THEATER" run --home "$H" "$EXAMPLES/counter.toml" 2>&1)
    [ $? = 1 ] || fail "run on a daemon's home should exit 1"
    contains "$out" "theater server \(pid $DPID\) owns this THEATER_HOME" "run beside a daemon"
    api POST "/v1/actors/$id/requests" -d x >/dev/null
    "$THEATER" chain ls --home "$H" | grep -q "^$(printf '%s' "$id" | cut -c1-8) *counter" || fail "chain ls beside the daemon"
    "$THEATER" chain events "$id" --home "$H" | grep -q actor-spawned || fail "chain events beside the daemon"
    "$THEATER" store ls --home "$H" >/dev/null || fail "store ls beside the daemon"
    ;;

tcp)
    port=$((20000 + $$ % 20000))
    # a port out of range is refused, not wrapped round to another one
    out=$(timeout 10 "$THEATER" server --home "$H" --listen "127.0.0.1:$((port + 65536))" 2>&1)
    rc=$?
    [ $rc = 1 ] || [ $rc = 2 ] || fail "--listen with port $((port + 65536)) exited $rc: $out"
    contains "$out" "port must be a number from 0 to 65535" "--listen with a port out of range"
    # port 0: any free port, and the log names the one it got
    start_daemon --listen "127.0.0.1:0"
    grep -Eq "and tcp 127\.0\.0\.1:[1-9][0-9]*$" "$H/server.log" ||
        fail "the log does not name the port bound for --listen 127.0.0.1:0: $(grep 'and tcp' "$H/server.log")"
    stop_daemon
    start_daemon --listen "127.0.0.1:$port"
    [ -f "$H/token" ] || fail "no token file"
    [ "$(stat -c %a "$H/token")" = 600 ] || fail "token mode is not 600"
    tok=$(cat "$H/token")
    u=http://127.0.0.1:$port
    code=$(curl -s -o "$H/b" -w '%{http_code}' "$u/v1/health")
    [ "$code" = 401 ] || fail "TCP without a token: $code"
    grep -q '"code":"unauthorized"' "$H/b" || fail "401 body"
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer wrong$tok" \
        -X POST -d "{\"manifest\":\"$EXAMPLES/counter.toml\"}" "$u/v1/actors")
    [ "$code" = 401 ] || fail "TCP with a wrong token: $code"
    code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -d "{\"manifest\":\"$EXAMPLES/counter.toml\"}" "$u/v1/actors")
    [ "$code" = 401 ] || fail "TCP start without a token: $code"
    expect_status 200 GET /v1/health | grep -q '"actors":0' || fail "a 401 request started an actor"
    code=$(curl -s -o "$H/b" -w '%{http_code}' -H "Authorization: Bearer $tok" "$u/v1/health")
    [ "$code" = 200 ] || fail "TCP with the token: $code"
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: bearer $tok" "$u/v1/health")
    [ "$code" = 200 ] || fail "TCP with the token, scheme in lower case: $code"
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer  $tok " "$u/v1/health")
    [ "$code" = 200 ] || fail "TCP with the token between spaces: $code"
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer ${tok}0" "$u/v1/health")
    [ "$code" = 401 ] || fail "TCP with the token and one character more: $code"
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $tok" \
        -X POST -d "{\"manifest\":\"$EXAMPLES/counter.toml\"}" "$u/v1/actors")
    [ "$code" = 201 ] || fail "TCP start with the token: $code"
    stop_daemon; [ "$RC" = 0 ] || fail "exit status"
    ;;

diskfull)
    # a full disk: the daemon logs when recording stalls and when it
    # resumes, `theater list` warns meanwhile, and a message to a durable
    # actor that cannot be stored is 503 storage-error (needs root: tmpfs)
    mkdir -p "$H/disk"
    mount -t tmpfs -o size=16m tmpfs "$H/disk" 2>/dev/null || { echo "skipped: cannot mount a tmpfs" >&2; exit 77; }
    trap 'cleanup_disk' EXIT
    cleanup_disk() {
        if [ -n "$DPID" ] && kill -0 "$DPID" 2>/dev/null; then kill -KILL "$DPID"; wait "$DPID" 2>/dev/null; fi
        umount "$H/disk" 2>/dev/null
        rm -rf "$H"
    }
    HOME_D=$H/disk/home
    "$THEATER" server --home "$HOME_D" 2>>"$H/server.log" &
    DPID=$!
    S=$HOME_D/theater.sock
    wait_until "the daemon on the small disk" test -S "$S"
    sed -e 's|^component = "counter.wasm"|component = "'"$EXAMPLES"'/counter.wasm"\ndurable = false|' \
        "$EXAMPLES/counter.toml" >"$H/counter_nd.toml"
    nd=$(start_json "$H/counter_nd.toml")
    d=$(start_json "$EXAMPLES/counter.toml")
    [ -n "$nd" ] && [ -n "$d" ] || fail "cannot start the actors"
    dd if=/dev/zero of="$H/disk/filler" bs=1M count=64 2>/dev/null
    head -c 2000 /dev/zero | tr '\0' x >"$H/m"
    i=0
    while [ $i -lt 200 ] && ! grep -q "recording stalled" "$H/server.log"; do
        api POST "/v1/actors/$nd/messages" --data-binary @"$H/m" >/dev/null
        i=$((i + 1))
    done
    wait_until "the log line of the stall" grep -q "recording stalled" "$H/server.log"
    out=$("$THEATER" list --home "$HOME_D" 2>&1 >/dev/null)
    contains "$out" "warning: recording is stalled" "theater list during a stall"
    # 1 MiB: a small row may still fit in the room durable.db's WAL keeps
    # from its earlier commits (SQLite writes a reset WAL over its old
    # frames without growing the file); then it is stored and the 202 is
    # right.  This one cannot fit.
    head -c 1048576 /dev/zero | tr '\0' y >"$H/big"
    b=$(api POST "/v1/actors/$d/messages" --data-binary @"$H/big")
    [ "$(cat "$H/status")" = 503 ] || fail "a durable message on a full disk: HTTP $(cat "$H/status") $b"
    contains "$b" '"code":"storage-error"' "a durable message on a full disk"
    rm -f "$H/disk/filler"
    wait_until "the log line of the resume" grep -q "recording resumed" "$H/server.log"
    out=$("$THEATER" list --home "$HOME_D" 2>&1 >/dev/null)
    [ -z "$out" ] || fail "theater list still warns after the stall: $out"
    kill -TERM "$DPID"; wait "$DPID"; DPID=
    ;;

mailbox_toobig)
    # a message larger than the actor's mailbox could ever hold: 413 at
    # once, nothing stored or held, and the actor goes on serving
    start_daemon
    for d in true false; do
        sed "s/^name = .*/name = \"small\"\ndurable = $d/" "$EXAMPLES/counter.toml" >"$H/small.toml"
        sed -i "s|^component = \"|component = \"$EXAMPLES/|" "$H/small.toml"
        printf '[limits]\nmailbox_bytes = 4096\n' >>"$H/small.toml"
        id=$(start_json "$H/small.toml")
        [ -n "$id" ] || fail "cannot start the actor (durable = $d)"
        head -c 8192 /dev/zero | tr '\0' 7 >"$H/big"
        b=$(expect_status 413 POST "/v1/actors/$id/messages" --data-binary "@$H/big")
        contains "$b" '"code":"too-large"' "a message too large (durable = $d)"
        contains "$b" 'limits.mailbox_bytes 4096' "the message names the limit"
        b=$(expect_status 413 POST "/v1/actors/$id/requests" --data-binary "@$H/big")
        contains "$b" '"code":"too-large"' "a request too large (durable = $d)"
        "$THEATER" message "$id" --file "$H/big" 2>"$H/err" && fail "the CLI sent it (durable = $d)"
        contains "$(cat "$H/err")" 'too large' "the CLI says why"
        expect_status 202 POST "/v1/actors/$id/messages" --data-binary 5 >/dev/null
        r=$(curl -s --max-time 10 --unix-socket "$S" -X POST --data-binary x \
            "http://theater/v1/actors/$id/requests")
        [ "$r" = 5 ] || fail "the actor was held up (durable = $d): it answered '$r'"
    done
    # channels: the open and a message on it refuse the same way
    sed "s|^component = \"|component = \"$EXAMPLES/|" "$EXAMPLES/echo.toml" >"$H/echo.toml"
    printf '[limits]\nmailbox_bytes = 4096\n' >>"$H/echo.toml"
    id=$(start_json "$H/echo.toml")
    b=$(expect_status 413 POST "/v1/actors/$id/channels" --data-binary "@$H/big")
    contains "$b" '"code":"too-large"' "a channel's first message too large"
    ch=$(expect_status 201 POST "/v1/actors/$id/channels" --data-binary hi | json_get channel)
    [ -n "$ch" ] || fail "no channel id"
    b=$(expect_status 413 POST "/v1/channels/$ch/messages" --data-binary "@$H/big")
    contains "$b" '"code":"too-large"' "a channel message too large"
    expect_status 202 POST "/v1/channels/$ch/messages" --data-binary ok >/dev/null
    stop_daemon; [ "$RC" = 0 ] || fail "exit status"
    ;;

*)
    echo "unknown case $CASE" >&2
    exit 2
    ;;
esac
[ -e "$H/FAILED" ] && exit 1
exit 0
