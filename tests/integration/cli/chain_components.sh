#!/bin/sh
# chain_components.sh THEATER EXAMPLES_DIR - an actor's component is part
# of its record: actor-spawned names the SHA-256 of the code, the bytes
# are in the content store, `chain export --with-components` carries them,
# verify-file checks them (altered or missing: bad content) and import
# stores them in the other home.
set -u
T=$1
EX=$2
. "$(dirname "$0")/../skip.sh"
[ -f "$EX/ping.toml" ] || it_skip "$EX/ping.toml was not built"
. "$(dirname "$0")/../lib.sh"
it_workdir comp

timeout 60 $T run --home A "$EX/ping.toml" >/dev/null 2>&1 || fail "run"
pong=$($T chain --home A ls | awk '$2 == "pong" {print $1}')
[ -n "$pong" ] || { echo "no pong chain"; exit 1; }
hash=$(sha256sum "$EX/pong.wasm" | cut -c1-64)
# the spawn event names the component's hash, and the store has the bytes
expect spawn_names_hash 0 "\"component\":\"$hash\"" $T chain --home A events "$pong" --json --type actor-spawned
$T store --home A get --store 00000000-0000-4000-8000-000000000000 "$hash" -o got.wasm || fail "store get"
cmp -s got.wasm "$EX/pong.wasm" || fail "stored component differs from pong.wasm"

$T chain --home A export "$pong" --with-components -o with.jsonl || fail "export --with-components"
$T chain --home A export "$pong" -o plain.jsonl || fail "export"
grep -q '"kind":"component"' with.jsonl || fail "no component line in with.jsonl"
grep -q '"kind":"component"' plain.jsonl && fail "component line without --with-components"
expect verify_with 0 "17 events verified|events verified" $T chain --home A verify-file with.jsonl

# altered bytes / a missing component line: bad content, exit 1
python3 - <<'PY'
import base64, json
lines = open("with.jsonl").read().splitlines()
i = next(k for k, l in enumerate(lines) if '"kind":"component"' in l)
o = json.loads(lines[i])
d = bytearray(base64.b64decode(o["data"])); d[len(d) // 2] ^= 1
o["data"] = base64.b64encode(bytes(d)).decode()
open("altered.jsonl", "w").write("\n".join(lines[:i] + [json.dumps(o)] + lines[i + 1:]) + "\n")
open("missing.jsonl", "w").write("\n".join(lines[:i] + lines[i + 1:]) + "\n")
PY
expect verify_altered 1 "bad content.*component $hash was altered" $T chain --home A verify-file altered.jsonl
expect verify_missing 1 "bad content.*component $hash that the event names is not in the file" $T chain --home A verify-file missing.jsonl

# import into another home stores the component with the chain
mkdir B
expect import 0 "imported the chain" $T chain --home B import --allow-untrusted with.jsonl
$T store --home B get --store 00000000-0000-4000-8000-000000000000 "$hash" -o b.wasm || fail "store get in B"
cmp -s b.wasm "$EX/pong.wasm" || fail "imported component differs"
expect verify_b 0 "verified" $T chain --home B verify
# and B exports it again with its component
$T chain --home B export "$pong" --with-components -o again.jsonl || fail "re-export"
grep -q "\"hash\":\"$hash\"" again.jsonl || fail "re-export lacks the component"

# a plain import (no component lines) brings the chain without its code:
# that verifies (the component is not in C's store, and need not be)
mkdir C
expect import_plain 0 "imported the chain" $T chain --home C import --allow-untrusted plain.jsonl
expect verify_c 0 "verified" $T chain --home C verify

# the component's bytes altered in A's store: both verifications name it
python3 - "$hash" <<'PY'
import sqlite3, sys
db = sqlite3.connect("A/theater.db")
h = bytes.fromhex(sys.argv[1])
row = db.execute("SELECT b.id, b.data FROM store_content c JOIN store_blob b ON b.id = c.blob"
                 " WHERE c.hash = ?", (h,)).fetchone()
d = bytearray(row[1]); d[len(d) // 2] ^= 1
db.execute("UPDATE store_blob SET data = ? WHERE id = ?", (bytes(d), row[0]))
db.commit()
PY
expect verify_store_altered 1 "bad content.*component $hash it names was altered" $T chain --home A verify
expect verify_one_altered 1 "bad content.*component $hash it names was altered" $T chain --home A verify "$pong"

it_done
