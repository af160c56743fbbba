#!/bin/sh
# chain_json.sh THEATER EXAMPLES_DIR - `--json` on every `theater chain`
# command that prints a result: head, verify, verify-file, import, key,
# trust ls|add|rm print one JSON document on stdout with the facts of their
# text form, exit as the text form does (a failed verification exits 1 with
# {"ok": false, "problems": [{"actor", "seq", "what", "detail"}]}), and
# errors stay on stderr.  (They used to accept --json and print text.)
# `chain ls` and `chain events` (JSON Lines) are checked elsewhere.
set -u
T=$1
EX=$2
. "$(dirname "$0")/../lib.sh"
it_need "$EX/ping.toml" -- python3
it_workdir chain-json

# check NAME STATUS EXPR CMD...: CMD exits STATUS, prints one JSON document
# `d` on stdout and nothing on stderr, and the Python expression EXPR is true
# (E is os.environ: the variables exported below)
check() {
    name=$1 want=$2 expr=$3
    shift 3
    "$@" >out 2>err
    st=$?
    if [ "$st" != "$want" ]; then
        fail "$name: exit $st, expected $want"
        cat out err
        return 1
    fi
    if [ -s err ]; then
        fail "$name: stderr is not empty"
        cat err
        return 1
    fi
    if ! python3 -c '
import json, os, re, sys
E = os.environ
d = json.load(open("out"))
sys.exit(0 if ('"$expr"') else 1)' 2>pyerr; then
        fail "$name: not ($expr):"
        cat out pyerr
        return 1
    fi
    echo "ok $name"
}
# first KEY: the value of KEY in out's JSON (a string)
first() { python3 -c 'import json,sys; print(json.load(open("out"))[sys.argv[1]])' "$1"; }

for h in A B; do
    timeout 60 "$T" run --home $h "$EX/ping.toml" >/dev/null 2>&1 || fail "run in $h"
done
"$T" chain --home A ls --json >ls.a || fail "ls A"
"$T" chain --home B ls --json >ls.b || fail "ls B"
a_actor=$(sed -n 's/.*"actor":"\([^"]*\)".*/\1/p' ls.a | head -n 1)
b_actor=$(sed -n 's/.*"actor":"\([^"]*\)".*/\1/p' ls.b | head -n 1)
[ -n "$a_actor" ] && [ -n "$b_actor" ] || { echo "no actors"; cat ls.a ls.b; exit 1; }
a_events=$(python3 -c 'import json,sys; print(sum(json.loads(l)["events"] for l in open("ls.a")))')
a_chains=$(wc -l <ls.a | tr -d ' ')
"$T" chain --home A export "$a_actor" -o a.jsonl || fail "export A"
"$T" chain --home B export "$b_actor" -o b.jsonl || fail "export B"
export a_actor b_actor a_events a_chains

# key: {"public_key", "fingerprint"}, as the text form prints them
check key_a 0 're.fullmatch("[0-9a-f]{64}", d["public_key"]) and re.fullmatch("sha256:[0-9a-f]{32}", d["fingerprint"])' \
    "$T" chain --home A key --json
akey=$(first public_key) afp=$(first fingerprint)
export akey
check key_b 0 'd["public_key"] != E["akey"]' "$T" chain --home B key --json
bkey=$(first public_key) bfp=$(first fingerprint)
export akey afp bkey bfp
"$T" chain --home A key >key.txt
grep -q "^public key  *$akey$" key.txt && grep -q "^fingerprint  *$afp$" key.txt ||
    fail "key --json and text differ: $(cat key.txt)"

# head: the fields of `chain ls --json` and the signer
check head 0 'd["actor"] == E["a_actor"] and d["name"] in ("ping", "pong")
    and d["events"] == d["head_seq"] + 1 and d["signer_key"] == E["akey"]
    and d["signer_fingerprint"] == E["afp"] and re.fullmatch("[0-9a-f]{64}", d["head"])
    and d["signed"].endswith("Z") and isinstance(d["signed_ms"], int)
    and [json.loads(l) for l in open("ls.a")][0]["head"] == d["head"]' \
    "$T" chain --home A head "$a_actor" --json

# verify: all chains, one (by prefix)
check verify_all 0 'd["ok"] is True and d["actor"] is None and d["problems"] == []
    and d["chains"] == int(E["a_chains"]) and d["events"] == int(E["a_events"])' \
    "$T" chain --home A verify --json
check verify_one 0 'd["ok"] is True and d["actor"] == E["a_actor"] and d["chains"] == 1' \
    "$T" chain --home A verify "$(echo "$a_actor" | cut -c1-8)" --json

# verify-file: its own chain, a foreign one (untrusted), with --key, edited
check file_own 0 'd["ok"] is True and d["file"] == "a.jsonl" and d["actor"] == E["a_actor"]
    and d["signed_by"] == E["afp"] and d["signer_key"] == E["akey"] and d["trusted"] is True
    and d["trust"] == "own" and d["events"] > 0 and d["problems"] == []' \
    "$T" chain --home A verify-file a.jsonl --json
check file_untrusted 1 'd["ok"] is False and d["signed_by"] == E["bfp"] and d["trusted"] is False
    and d["trust"] == "untrusted" and len(d["problems"]) == 1
    and d["problems"][0]["what"] == "untrusted key" and d["problems"][0]["actor"] == E["b_actor"]
    and E["bfp"] in d["problems"][0]["detail"]' \
    "$T" chain --home A verify-file b.jsonl --json
check file_key 0 'd["ok"] is True and d["trusted"] is True and d["trust"] == "key"
    and d["signer_key"] == E["bkey"]' \
    "$T" chain --home A verify-file b.jsonl --key "$bkey" --json
sed '3s/"timestamp":[0-9]*/"timestamp":1/' b.jsonl >edited.jsonl
check file_edited 1 'd["ok"] is False and d["signed_by"] is None and d["trusted"] is False
    and d["problems"][0]["what"] == "bad hash" and isinstance(d["problems"][0]["seq"], int)' \
    "$T" chain --home A verify-file edited.jsonl --key "$bkey" --json
check file_stdin 0 'd["ok"] is True and d["file"] == "-"' \
    sh -c '"$1" chain --home A verify-file - --json <a.jsonl' sh "$T"

# a line that is not JSON is a verdict too (malformed), with --json as one
# object; before the header no chain is known: actor and seq are null
sed '4s/.*/not json/' a.jsonl >notjson.jsonl
check file_not_json 1 'd["ok"] is False and d["problems"][0]["what"] == "malformed"
    and "line 4 is not a JSON object" in d["problems"][0]["detail"]' \
    "$T" chain --home A verify-file notjson.jsonl --json
sed '1s/.*/not json/' a.jsonl >notjson1.jsonl
check file_not_json_first 1 'd["ok"] is False and d["actor"] is None
    and d["problems"][0]["what"] == "malformed" and d["problems"][0]["actor"] is None
    and d["problems"][0]["seq"] is None' \
    "$T" chain --home A verify-file notjson1.jsonl --json
expect file_not_json_text 1 "^FAILED: notjson1.jsonl: malformed: line 1 is not a JSON object" \
    "$T" chain --home A verify-file notjson1.jsonl

# trust add / ls / rm
check trust_add 0 'd["added"] is True and d["fingerprint"] == E["bfp"] and d["key"] == E["bkey"]
    and d["note"] == "home B" and d["own"] is False' \
    "$T" chain --home A trust add "$bkey" "home B" --json
check trust_ls 0 'isinstance(d, list) and len(d) == 2
    and {"fingerprint": E["afp"], "key": E["akey"], "own": True, "note": None} in d
    and {"fingerprint": E["bfp"], "key": E["bkey"], "own": False, "note": "home B"} in d' \
    "$T" chain --home A trust ls --json
check file_listed 0 'd["ok"] is True and d["trust"] == "trusted_keys" and d["trust_note"] == "home B"' \
    "$T" chain --home A verify-file b.jsonl --json
check trust_rm 0 'd["removed"] is True and d["fingerprint"] == E["bfp"] and d["key"] == E["bkey"]' \
    "$T" chain --home A trust rm "$bfp" --json
check trust_ls_own 0 'd == [{"fingerprint": E["afp"], "key": E["akey"], "own": True, "note": None}]' \
    "$T" chain --home A trust ls --json

# import: refused (untrusted), then allowed
check import_refused 1 'd["ok"] is False and d["imported"] is False
    and d["problems"][0]["what"] == "untrusted key" and d["signed_by"] == E["bfp"]' \
    "$T" chain --home A import b.jsonl --json
check import_allowed 0 'd["ok"] is True and d["imported"] is True and d["allowed_untrusted"] is True
    and d["actor"] == E["b_actor"] and d["trusted"] is False and d["events"] > 0' \
    "$T" chain --home A import b.jsonl --allow-untrusted --json
check verify_imported 0 'd["ok"] is True and d["chains"] == int(E["a_chains"]) + 1' \
    "$T" chain --home A verify --json

# a tampered database: one byte of an event's data changed in its segment
python3 - <<'PY' || fail "tamper"
import sqlite3
db = sqlite3.connect("B/theater.db")
for i, ev in db.execute("SELECT id, events FROM chain_segment ORDER BY id").fetchall():
    if b'"ping"' in ev:
        db.execute("UPDATE chain_segment SET events = ? WHERE id = ?",
                   (ev.replace(b'"ping"', b'"pinG"', 1), i))
        db.commit()
        break
else:
    raise SystemExit("no segment names ping")
PY
export b_actors="$(sed -n 's/.*"actor":"\([^"]*\)".*/\1/p' ls.b | tr '\n' ' ')"
check verify_tampered 1 'd["ok"] is False and len(d["problems"]) == 1
    and d["problems"][0]["actor"] in E["b_actors"].split() and isinstance(d["problems"][0]["seq"], int)
    and d["problems"][0]["what"] == "bad hash" and d["problems"][0]["detail"]' \
    "$T" chain --home B verify --json

it_done
