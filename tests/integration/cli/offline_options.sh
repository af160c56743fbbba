#!/bin/sh
# offline_options.sh THEATER EXAMPLES_DIR WASM_DIR - the options every
# command takes, on the offline commands (run, server, store, chain, wasm,
# replay, state --at, new, build): --home DIR and --home=DIR after the
# command, --json with output that parses as JSON (one document, or JSON
# Lines), an option without its value ("CMD: OPT needs a value", exit 2),
# an unknown option named (exit 2), and `server --listen` checked before the
# home is made.  WASM_DIR holds the modules of tests/integration/wasm.
set -u
T=$1
EX=$2
W=$3
. "$(dirname "$0")/../lib.sh"
it_need "$EX/ping.toml" "$W/calc.wasm" "$W/invalid.wasm" "$W/stdout.wasm" -- python3
it_workdir offline-options

# json NAME FILE: FILE holds one JSON document
json() {
    python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$2" 2>/dev/null ||
        { fail "$1: not one JSON document:"; cat "$2"; return 1; }
}
# jsonl NAME FILE: FILE holds JSON Lines (at least one)
jsonl() {
    python3 -c '
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert lines
for l in lines:
    assert isinstance(json.loads(l), dict)' "$2" 2>/dev/null ||
        { fail "$1: not JSON Lines:"; cat "$2"; return 1; }
}
# py NAME FILE EXPR: the Python expression EXPR is true of `d`, FILE's JSON
py() {
    python3 -c 'import json,sys; d = json.load(open(sys.argv[1])); sys.exit(0 if ('"$3"') else 1)' \
        "$2" 2>/dev/null || { fail "$1: not ($3):"; cat "$2"; }
}
# ok_json NAME STATUS CMD...: exit STATUS, one JSON document on stdout
ok_json() {
    name=$1 want=$2
    shift 2
    "$@" >json.out 2>err
    st=$?
    [ "$st" = "$want" ] || { fail "$name: exit $st, expected $want:"; cat err json.out; return; }
    json "$name" json.out && echo "ok $name"
}

# ---- run --json --home=DIR: JSON Lines, of every kind --------------------
"$T" run --home="$H/home" --json --events "$EX/ping.toml" >run.out 2>run.err ||
    fail "run --home=DIR --json --events: $(cat run.err)"
jsonl run_json run.out && echo "ok run_json"
for k in started log event exit; do
    grep -q "^{\"kind\":\"$k\"" run.out || fail "run --json: no line of kind $k"
done
grep -q '"event_type":"actor-spawned"' run.out || fail "run --json: no actor-spawned event"
[ -f "$H/home/theater.db" ] || fail "run --home=DIR did not use DIR"

# ---- chain, replay, state --at with --home=DIR ---------------------------
"$T" chain ls --home="$H/home" --json >ls.out 2>err || fail "chain ls --home=DIR: $(cat err)"
jsonl chain_ls ls.out && echo "ok chain_ls"
ping=$(python3 -c '
import json, sys
for l in open(sys.argv[1]):
    d = json.loads(l)
    if d["name"] == "ping": print(d["actor"])' ls.out)
[ -n "$ping" ] || fail "chain ls --json: no ping actor"
"$T" chain --home="$H/home" events "$ping" --json >ev.out 2>err || fail "chain events --home=DIR: $(cat err)"
jsonl chain_events ev.out && echo "ok chain_events"
ok_json replay_json 0 "$T" replay "$ping" --home="$H/home" --json
py replay_json json.out 'd["identical"] is True'
ok_json state_at_json 0 "$T" state "$ping" --home="$H/home" --at 1 --json

# ---- store: --json everywhere, --home=DIR ---------------------------------
S="--home=$H/store"
printf 'hello store\n' >blob
ok_json store_new 0 "$T" store new "$S" --json
py store_new json.out 'len(d["id"]) == 36'
sid=$(python3 -c 'import json; print(json.load(open("json.out"))["id"])')
ok_json store_put 0 "$T" store put --store="$sid" "$S" --json blob
ref=$(python3 -c 'import json; print(json.load(open("json.out"))["ref"])')
py store_put json.out 'd["store"] == "'"$sid"'" and d["bytes"] == 12 and len(d["ref"]) == 64'
ok_json store_ls_after 0 "$T" store ls "$S" --json
py store_ls_after json.out 'd[0]["id"] == "'"$sid"'" and d[0]["bytes"] == 12'
ok_json store_ls_before 0 "$T" store --json "$S" ls
ok_json store_ls_global 0 "$T" --json --home "$H/store" store ls
ok_json store_label_set 0 "$T" store "$S" label set greeting "$ref" --json
py store_label_set json.out 'd == {"store": "'"$sid"'", "label": "greeting", "ref": "'"$ref"'"}'
ok_json store_label_get 0 "$T" store "$S" --json label get greeting
py store_label_get json.out 'd["ref"] == "'"$ref"'"'
ok_json store_label_ls 0 "$T" store "$S" --json label ls
py store_label_ls json.out 'd["labels"] == {"greeting": "'"$ref"'"}'
ok_json store_ls_one 0 "$T" store "$S" --json ls "$sid"
py store_ls_one json.out 'd["content"] == ["'"$ref"'"] and d["labels"]["greeting"] == "'"$ref"'"'
ok_json store_label_rm 0 "$T" store "$S" --json label rm greeting
py store_label_rm json.out 'd["removed"] is True'
"$T" store "$S" get --json "$ref" >got 2>err || fail "store get --json: $(cat err)"
cmp -s blob got || fail "store get --json did not write the raw bytes"

# ---- wasm: --json, --home before and after the subcommand ---------------
ok_json wasm_validate_json 0 "$T" wasm validate --json "$W/calc.wasm"
py wasm_validate_json json.out 'd["valid"] is True'
ok_json wasm_json_validate 1 "$T" wasm --json validate "$W/invalid.wasm"
py wasm_json_validate json.out 'd["valid"] is False and d["error"] and isinstance(d["offset"], int)'
ok_json global_json_wasm 1 "$T" --json wasm validate "$W/invalid.wasm"
expect wasm_validate_with_home 0 '^ok$' "$T" wasm validate --home "$H/nohome" "$W/calc.wasm"
expect wasm_home_validate 0 '^ok$' "$T" wasm --home "$H/nohome" validate "$W/calc.wasm"
expect wasm_home_eq_validate 0 '^ok$' "$T" wasm --home="$H/nohome" validate "$W/calc.wasm"
expect wasm_run_with_home 0 '^hi from wat$' "$T" wasm run --home "$H/nohome" "$W/stdout.wasm"
[ -e "$H/nohome" ] && fail "wasm made the home given with --home"
ok_json wasm_run_invoke_json 0 "$T" wasm run --json --invoke=add "$W/calc.wasm" 2 3
py wasm_run_invoke_json json.out 'd["exit_code"] == 0 and d["results"] == [{"type": "i32", "value": 5}]'
ok_json wasm_run_json 0 "$T" wasm --json run "$W/stdout.wasm"
py wasm_run_json json.out 'd == {"exit_code": 0}'
grep -q '^hi from wat$' err || fail "wasm run --json: the guest's stdout is not on stderr"
ok_json wasm_run_trap_json 134 "$T" wasm run --json --invoke div "$W/calc.wasm" 1 0
py wasm_run_trap_json json.out 'd["exit_code"] == 134 and "divide by zero" in d["trap"]'

# ---- new and build: --home=DIR ------------------------------------------
ok_json new_home_eq 0 "$T" new --home="$H/nohome" proj --json
[ -f proj/actor.c ] || fail "new --home=DIR wrote no project"

# ---- server: --home=DIR and --json, then a clean stop --------------------
"$T" server --home="$H/srv" --json 2>srv.err &
DPID=$!
i=0
until [ -S "$H/srv/theater.sock" ]; do
    i=$((i + 1))
    if [ $i -gt 600 ] || ! kill -0 "$DPID" 2>/dev/null; then
        fail "server --home=DIR --json did not start: $(cat srv.err)"
        break
    fi
    sleep 0.05
done
if kill -0 "$DPID" 2>/dev/null; then
    kill -TERM "$DPID"
    wait "$DPID"
    st=$?
    DPID=
    [ $st = 0 ] && echo "ok server_home_eq_json" || fail "server --json: exit $st after SIGTERM"
fi

# ---- an option without its value, an unknown option ----------------------
# needs NAME OPTION CMD...: CMD is a usage error (exit 2) that says
# "CMD: OPTION needs a value"
needs() {
    name=$1 opt=$2
    shift 2
    expect "$name" 2 "^theater: [a-z ]+: $opt needs a value$" "$@"
}
needs run_home --home "$T" run "$EX/ping.toml" --home
needs run_home_eq --home "$T" run "$EX/ping.toml" --home=
needs run_workers --workers "$T" run "$EX/ping.toml" --workers
needs server_listen --listen "$T" server --home "$H/s1" --listen
needs server_home --home "$T" server --home
needs server_log_level --log-level "$T" server --home "$H/s1" --log-level
needs store_home --home "$T" store ls --home
needs store_store --store "$T" store --home "$H/store" label ls --store
needs store_out -o "$T" store --home "$H/store" get "$ref" -o
needs chain_home --home "$T" chain ls --home
needs chain_limit --limit "$T" chain --home "$H/home" events "$ping" --limit
needs replay_home --home "$T" replay "$ping" --home
needs replay_until --until "$T" replay "$ping" --home "$H/home" --until
needs state_at --at "$T" state "$ping" --home "$H/home" --at
needs new_home --home "$T" new proj2 --home
needs build_home --home "$T" build . --home
needs build_sdk --sdk "$T" build . --sdk
needs wasm_home --home "$T" wasm --home
needs wasm_validate_home --home "$T" wasm validate "$W/calc.wasm" --home
needs wasm_run_home --home "$T" wasm run --home
needs wasm_run_fuel --fuel "$T" wasm run --fuel
[ -e "$H/s1" ] && fail "a server usage error made the home"
expect wasm_validate_unknown 2 "unknown option --bogus" "$T" wasm validate --bogus "$W/calc.wasm"
expect wasm_unknown 2 "unknown option --bogus" "$T" wasm --bogus validate "$W/calc.wasm"

# ---- missing or malformed arguments: usage errors, exit 2, in every command
# (checked before the home is opened: no home is made)
# usage NAME ERE ARGS...: `theater --home $H/u ARGS` exits 2 with ERE
usage() {
    name=$1 pat=$2
    shift 2
    expect "$name" 2 "$pat" "$T" --home "$H/u" "$@"
}
usage store_put_none "store put: want one FILE" store put
usage store_get_none "store get: want one reference" store get
usage store_new_extra "store new: wrong number of arguments" store new x
usage store_label_none "store label: want set LABEL REF" store label
usage store_label_set_short "store label: want set LABEL REF" store label set x
usage chain_head_none "chain head: wrong number of arguments" chain head
usage chain_events_none "chain events: wrong number of arguments" chain events
usage chain_verify_file_none "chain verify-file: wrong number of arguments" chain verify-file
usage chain_trust_none "chain trust: wrong number of arguments" chain trust
usage chain_trust_add_none "usage: theater chain trust ls" chain trust add
usage chain_trust_rm_none "usage: theater chain trust ls" chain trust rm
usage chain_trust_add_bad "KEY wants the 64 hex digits" chain trust add zz
usage chain_verify_file_key "--key wants the 64 hex digits" chain verify-file x.jsonl --key zz
usage replay_none "replay: missing ID or FILE" replay
usage state_none "state: missing ID" state
usage wasm_run_none "wasm run: missing FILE.wasm" wasm run
usage wasm_validate_none "wasm validate: missing FILE.wasm" wasm validate
usage run_none "run: missing MANIFEST" run
usage new_none "new: missing NAME" new
for c in start stop inspect message update restart events channel; do
    usage "${c}_none" "$c: (missing|expected)" "$c"
done
[ -e "$H/u" ] && fail "a usage error made the home"

# ---- server --listen: checked before anything is created ----------------
# bad_listen NAME ERE ARGS...: exit 2 with ERE, and no home made
bad_listen() {
    name=$1 pat=$2
    shift 2
    rm -rf "$H/s2"
    expect "$name" 2 "$pat" timeout 20 "$T" server --home "$H/s2" "$@"
    [ -e "$H/s2" ] && fail "$name: the home was made"
}
bad_listen listen_no_port "--listen bad: expected HOST:PORT" --listen bad
bad_listen listen_port_range "port must be a number from 0 to 65535" --listen 127.0.0.1:99999
bad_listen listen_empty_port "port must be a number from 0 to 65535" --listen=127.0.0.1:
bad_listen listen_v6_unclosed "expected HOST:PORT" --listen "[::1:9000"
bad_listen compat_listen_bad "--compat-listen nohost: expected HOST:PORT" --compat-listen nohost

it_done
