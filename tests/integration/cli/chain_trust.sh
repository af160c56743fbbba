#!/bin/sh
# chain_trust.sh THEATER EXAMPLES_DIR - the chain trust model.  A chain
# exported from another home verifies as intact, but it is signed by a key
# this home does not trust: verify-file fails naming the signer's
# fingerprint, import refuses it (unless --allow-untrusted); once the key
# is trusted (`chain trust add`) both accept it, `--key` checks one key,
# and `chain key` prints what to publish.  (verify-file used to trust the
# key embedded in the file: any edited, re-hashed, re-signed chain passed.)
set -u
T=$1
EX=$2
. "$(dirname "$0")/../skip.sh"
[ -f "$EX/ping.toml" ] || it_skip "$EX/ping.toml was not built"
. "$(dirname "$0")/../lib.sh"
it_workdir trust


for h in A B; do
    timeout 60 $T run --home $h "$EX/ping.toml" >/dev/null 2>&1 || { fail "run in $h"; }
done
a_actor=$($T chain --home A ls --json | sed -n 's/.*"actor":"\([^"]*\)".*/\1/p' | head -n 1)
b_actor=$($T chain --home B ls --json | sed -n 's/.*"actor":"\([^"]*\)".*/\1/p' | head -n 1)
[ -n "$a_actor" ] && [ -n "$b_actor" ] || { echo "no actors: $a_actor / $b_actor"; $T chain --home A ls --json; exit 1; }
$T chain --home A export "$a_actor" -o a.jsonl || fail "export A"
$T chain --home B export "$b_actor" -o b.jsonl || fail "export B"
bkey=$($T chain --home B key | sed -n 's/^public key  *//p')
bfp=$($T chain --home B key | sed -n 's/^fingerprint  *//p')
expect key_format 0 "^fingerprint  sha256:[0-9a-f]{32}$" $T chain --home B key
[ ${#bkey} -eq 64 ] || fail "chain key printed '$bkey'"

# A's own chain: intact and signed by A's own key.
expect own_ok 0 "trusted: this home's own key" $T chain --home A verify-file a.jsonl
# B's chain in A: intact, but the signer is not trusted -> exit 1, fingerprint.
expect foreign_untrusted 1 "untrusted key.*$bfp" $T chain --home A verify-file b.jsonl
expect foreign_signer 1 "signed by $bfp .*NOT trusted" $T chain --home A verify-file b.jsonl
expect import_refused 1 "untrusted key" $T chain --home A import b.jsonl
expect import_refused_nothing 1 "no chain|not found|no actor" $T chain --home A verify "$b_actor"
# One-off check of a given key.
expect with_key 0 "the key given with --key" $T chain --home A verify-file b.jsonl --key "$bkey"
# An edited chain fails whoever signed it.
sed '3s/"timestamp":[0-9]*/"timestamp":1/' b.jsonl > edited.jsonl
expect edited 1 "FAILED" $T chain --home A verify-file edited.jsonl --key "$bkey"
# Trust B's key: accepted; listed; removed again: refused again.
expect trust_add 0 "trusted $bfp" $T chain --home A trust add "$bkey" "home B"
expect trust_ls 0 "$bfp .*home B" $T chain --home A trust ls
expect trust_ls_own 0 "own key" $T chain --home A trust ls
expect foreign_trusted 0 "trusted: listed in trusted_keys" $T chain --home A verify-file b.jsonl
expect trust_rm 0 "no longer trusted" $T chain --home A trust rm "$bfp"
expect foreign_again 1 "untrusted key" $T chain --home A verify-file b.jsonl
afp=$($T chain --home A key | sed -n 's/^fingerprint  *//p')
expect trust_rm_own 1 "always trusted" $T chain --home A trust rm "$afp"
expect trust_add_bad 2 "64 hex digits" $T chain --home A trust add 1234
# Import anyway, when told to.
expect import_allowed 0 "imported .*not trusted" $T chain --home A import b.jsonl --allow-untrusted
expect imported_verifies 0 "^ok" $T chain --home A verify
# The trust file is owner-only.
[ "$(stat -c %a A/trusted_keys)" = "600" ] || fail "trusted_keys mode $(stat -c %a A/trusted_keys)"
for f in A/theater.db B/theater.db; do
    [ "$(stat -c %a $f)" = "600" ] || fail "$f mode $(stat -c %a $f)"
done

it_done
