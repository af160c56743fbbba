#!/bin/sh
# replay_http.sh THEATER EXAMPLES_DIR VARIANT_WASM - replay of the calls the
# http-framework handler makes on an actor, whose result carries more than
# the state: the notes example, in a real daemon, gets real HTTP requests
# (handle-request), a guarded path (handle-middleware, refused and passed)
# and a WebSocket session (handle-websocket-connect, -message,
# -disconnect); its chain replays identically, live and offline; the record
# against other code (VARIANT_WASM: the notes echoing "ECHO: " instead of
# "echo: ") diverges at the first handle-websocket-message (its replies
# differ, its state does not); exported files whose recorded request body
# or middleware header was edited (cli/edit_event.py) diverge at that call;
# a WebSocket message recorded in the older form ("type") is named.
set -u
T=$1
EX=$2
VARIANT=$3
EDIT=$(cd "$(dirname "$0")" && pwd)/edit_event.py
. "$(dirname "$0")/../lib.sh"
it_need "$EX/notes.toml" "$VARIANT" -- curl python3
it_workdir replay_http

# seq_of FUNCTION [N]: the seq of the Nth (default 1st) wasm-call of
# FUNCTION on the notes actor's chain
seq_of() {
    "$T" chain --home "$H" events "$notes" --json | python3 -c '
import json, sys
fn, n = sys.argv[1], int(sys.argv[2])
for line in sys.stdin:
    e = json.loads(line)
    d = e.get("data")
    if e.get("event_type") == "wasm-call" and isinstance(d, dict) and d.get("function") == fn:
        n -= 1
        if n == 0:
            print(e["seq"])
            break
' "$1" "${2:-1}"
}

it_daemon
notes=$("$T" start --home "$H" "$EX/notes.toml" --state '{"port": "0"}' | tail -n 1)
i=0
port=
until [ -n "$port" ]; do
    port=$("$T" chain --home "$H" events "$notes" | sed -n 's/.*listening on port \([0-9]*\).*/\1/p' | head -n 1)
    i=$((i + 1))
    [ "$i" -lt 200 ] || { fail "no port for notes"; it_done; }
    [ -n "$port" ] || sleep 0.05
done
U="http://127.0.0.1:$port"

# ---- real requests: routes, the middleware, a WebSocket session ----------
[ "$(curl -s -X POST --data 'first note' "$U/notes")" = '{"id":1}' ] || fail "POST /notes"
curl -s "$U/notes" | grep -q '"first note"' || fail "GET /notes"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$U/admin/whoami")" = 403 ] ||
    fail "the middleware did not refuse"
[ "$(curl -s -H 'x-token: secret' "$U/admin/whoami")" = '{"auth":"ok"}' ] ||
    fail "the middleware did not pass"
[ "$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "$U/notes/1")" = 204 ] || fail "DELETE"
# the WebSocket client of the runtime tests: the welcome, an echo, then
# the actor's close on "bye", answered
ws=$(python3 "$(dirname "$0")/../runtime/ws_talk.py" "$port" /ws - r t:hi r t:bye r) ||
    fail "the WebSocket session: $ws"
[ "$(printf '%s\n' "$ws" | sed -n 1p)" = "text:welcome 1" ] || fail "the WebSocket welcome: $ws"
[ "$(printf '%s\n' "$ws" | sed -n 2p)" = "text:echo: hi" ] || fail "the WebSocket echo: $ws"
printf '%s\n' "$ws" | sed -n 3p | grep -q '^close:' || fail "the actor's WebSocket close: $ws"
i=0
until [ -n "$(seq_of handle-websocket-disconnect)" ]; do
    i=$((i + 1))
    [ "$i" -lt 200 ] || { fail "no handle-websocket-disconnect on the chain"; break; }
    sleep 0.05
done
for f in handle-request handle-middleware handle-websocket-connect handle-websocket-message; do
    [ -n "$(seq_of $f)" ] || fail "no $f on the chain"
done

# ---- the record replays: identical, live and offline --------------------
expect live 0 "^replayed [0-9]+ events: identical$" "$T" replay --home "$H" "$notes"
kill -TERM "$DPID"
wait "$DPID"
DPID=
expect offline 0 "^replayed [0-9]+ events: identical$" "$T" replay --home "$H" "$notes"

# ---- other code: its replies differ at the first WebSocket message --------
msg=$(seq_of handle-websocket-message)
expect other_code 1 "^diverged at event $msg \(wasm-call\): recorded wasm-call .*\"text\":\"echo: hi\".*, replayed wasm-call .*\"text\":\"ECHO: hi\"" \
    "$T" replay --home "$H" "$notes" --component "$VARIANT"

# ---- an exported file with an edited request body / middleware header ----
"$T" chain --home "$H" export "$notes" --with-components -o notes.jsonl || fail "export notes"
expect file_identical 0 "identical" "$T" replay --home "$H" notes.jsonl
hex() { printf '%s' "$1" | od -An -tx1 | tr -d ' \n'; }
python3 "$EDIT" notes.jsonl body.jsonl wasm-call handle-request 1 \
    "params.1.body=\"$(hex 'edited note')\"" "params.1.body=\"$(hex 'first note')\"" ||
    fail "edit the body"
post=$(seq_of handle-request)
expect file_body 1 "^diverged at event $post \(wasm-call\): recorded wasm-call .*\"state\":\"[0-9a-f]*$(hex 'first note')[0-9a-f]*\".*, replayed wasm-call .*\"state\":\"[0-9a-f]*$(hex 'edited note')" \
    "$T" replay --home "$H" body.jsonl
python3 "$EDIT" notes.jsonl token.jsonl wasm-call handle-middleware 1 \
    'params.1.headers.3=["x-token", "guess"]' 'params.1.headers.3=["x-token", "secret"]' ||
    fail "edit the header"
mw=$(seq_of handle-middleware 2)
expect file_token 1 "^diverged at event $mw \(wasm-call\): recorded wasm-call .*\"proceed\":true.*, replayed wasm-call .*\"proceed\":false" \
    "$T" replay --home "$H" token.jsonl
# a WebSocket message in the form recorded before the record followed the
# WIT ("type" for the field ty): named, not replayed
python3 "$EDIT" notes.jsonl old.jsonl wasm-call handle-websocket-message 1 \
    'params.2={"type": "text", "data": null, "text": "hi"}' || fail "edit the message"
expect file_old_form 1 "^theater: replay: event $msg: a call of http-handlers#handle-websocket-message recorded in the older form" \
    "$T" replay --home "$H" old.jsonl

it_done
