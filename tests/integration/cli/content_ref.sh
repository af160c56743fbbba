#!/bin/sh
# content_ref.sh THEATER BIG_EVENT - an event recorded by content reference
# (its data over 64 MiB, in the home's store; docs/chain-format.md) as
# `theater chain events` and the daemon's `theater events` show it: from
# its content, cut like any event's data, with a note; once the content is
# gone from the store, in words (size and hash), never as the reference's
# own fields.  BIG_EVENT is cli/big_event.c.
set -u
T=$1
BIG=$2
. "$(dirname "$0")/../lib.sh"
it_workdir content-ref
A=8f0c2b1e-1111-4222-8333-444455556666

# expect_event WHAT FILE PATTERN...: every (extended) pattern matches the
# line of event 1 in FILE, and it holds no trace of the reference's own
# fields.
expect_event() {
    what=$1
    file=$2
    shift 2
    line=$(grep -E '^ +1  ' "$file")
    for p in "$@"; do
        printf '%s\n' "$line" | grep -Eq -- "$p" || fail "$what: expected /$p/ in: $(printf '%s' "$line" | cut -c1-400)"
    done
    case "$line" in
    *'content-ref='* | *' ? '* | *'("content-ref")'*) fail "$what: the reference's fields: $line" ;;
    esac
    [ "$(wc -l <"$file")" = 3 ] || fail "$what: $(wc -l <"$file") lines, expected 3: $(cut -c1-200 "$file")"
}

hash=$("$BIG" "$H/home" "$A") || { echo "FAIL: big_event could not write the chain"; exit 1; }
short=$(printf '%s' "$hash" | cut -c1-8)
a200=$(printf '%0200d' 0 | tr 0 a)

# offline: the content is in the home's store
"$T" chain --home "$H/home" events "$A" >"$H/out" 2>"$H/err" || fail "chain events: $(cat "$H/err")"
expect_event "chain events" "$H/out" "  wasm-call +handle-send\(\"$a200\"\.\.\.\(\+33558328 bytes\)\)  \(recorded by reference: 67\.1 MB\)$"
# --json keeps the event as recorded: the reference and its description
"$T" chain --home "$H/home" events "$A" --json >"$H/json" 2>"$H/err" || fail "chain events --json: $(cat "$H/err")"
grep -q "\"seq\":1,.*\"data\":{\"content-ref\":\"$hash\",\"size\":67117096},\"description\":\"content-ref\"}" "$H/json" ||
    fail "chain events --json: $(cut -c1-400 "$H/json")"

# the daemon's events of the chain (its actor is not running): the same,
# the content read from the home the daemon has open
it_daemon "$H/home"
"$T" events --home "$H/home" "$A" >"$H/out" 2>"$H/err" || fail "events: $(cat "$H/err")"
expect_event "events" "$H/out" "  wasm-call +handle-send\(\"$a200\"\.\.\.\(\+33558328 bytes\)\)  \(recorded by reference: 67\.1 MB\)$"
curl -s --unix-socket "$H/home/theater.sock" "http://theater/v1/actors/$A/events?after=0&limit=1" >"$H/json"
grep -q "\"data\":{\"content-ref\":\"$hash\",\"size\":67117096},\"description\":\"content-ref\"}" "$H/json" ||
    fail "GET .../events has no description: $(cut -c1-400 "$H/json")"
kill -TERM "$DPID"
wait "$DPID"
DPID=

# the content gone from the store: in words, never '?'
"$BIG" "$H/home" --drop || { echo "FAIL: big_event could not drop the content"; exit 1; }
"$T" chain --home "$H/home" events "$A" >"$H/out" 2>"$H/err" || fail "chain events (no content): $(cat "$H/err")"
expect_event "chain events (no content)" "$H/out" \
    "  wasm-call +\(data recorded by reference: 67\.1 MB, sha256 $short\.\.\.; it is not in the home's store\)$"
"$T" chain --home "$H/home" events "$A" --wide >"$H/out" 2>"$H/err" || fail "chain events --wide: $(cat "$H/err")"
expect_event "chain events --wide (no content)" "$H/out" "sha256 $hash; it is not in the home's store\)$"

it_done
