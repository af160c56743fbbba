#!/bin/sh
# damaged_db.sh THEATER EXAMPLES_DIR - every offline command that opens the
# home's database (`theater chain ls|head|events|verify|export`, `store
# ls|new|put|get|label`, `run`, `state --at`, `replay`, and `server`, which
# cannot start) on a file that is not a SQLite database, and on a database
# whose pages are damaged: each exits 1 and says on stderr which file and
# what is wrong; the reading commands also on an empty (truncated) file.
set -u
T=$1
EX=$2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/theater-damaged.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT INT TERM
cd "$tmp" || exit 2
fails=0

echo "some bytes" > file.txt

# Each command on `home` must exit 1 with `pattern` on stderr.
check() { # home pattern command...
    home=$1
    pattern=$2
    shift 2
    for cmd in "$@"; do
        # (a command that cannot open the database ends at once: the
        # timeout is for one that would run, such as a server)
        timeout 20 $T $cmd --home "$home" >out 2>err </dev/null
        st=$?
        if [ $st -ne 1 ] || ! grep -Eq "$pattern" err; then
            echo "FAIL $cmd on $home: exit $st, stderr:"; cat err; fails=$((fails + 1))
        else
            echo "ok $cmd on $home: $(head -n 1 err)"
        fi
    done
}

check_all() { # home pattern [actor]
    who=${3:-someone}
    set -- "$1" "$2" "chain ls" "chain verify" "chain verify $who" "chain events $who" \
        "chain export $who" "chain head $who" "store ls" "store new" "store put file.txt" \
        "store get 0000000000000000000000000000000000000000000000000000000000000000" \
        "store label ls" "state $who --at 1" "replay $who" "server"
    [ -f "$EX/counter.toml" ] && set -- "$@" "run $EX/counter.toml"
    check "$@"
}

mkdir garbage
echo "this is not a database" > garbage/theater.db
check_all garbage "garbage/theater.db(: .*| is )(not a (SQLite )?database|damaged)"

# A real database with every other page overwritten.
mkdir damaged
if [ -f "$EX/counter.toml" ]; then
    # the counter runs until Ctrl-C: stop it once its chain is there
    $T run --home damaged "$EX/counter.toml" >/dev/null 2>&1 &
    rpid=$!
    i=0
    until $T chain --home damaged ls 2>/dev/null | grep -q counter; do
        i=$((i + 1))
        [ $i -gt 600 ] && { echo "FAIL: no chain after 60 s"; kill -KILL $rpid; exit 1; }
        sleep 0.1
    done
    kill -INT $rpid
    wait $rpid
else
    for i in 1 2 3 4 5 6 7 8; do head -c 20000 /dev/urandom > f$i; $T store --home damaged put f$i >/dev/null; done
fi
actor=$($T chain --home damaged ls 2>/dev/null | head -n 1 | cut -d" " -f1)
python3 - <<'PY' || exit 2
with open("damaged/theater.db", "r+b") as f:
    data = bytearray(f.read())
    for off in range(4096, len(data), 8192):
        data[off:off + 4096] = b"\xff" * min(4096, len(data) - off)
    f.seek(0)
    f.write(data)
PY
check_all damaged "damaged/theater.db: .*(malformed|not a database|damaged)" "$actor"

# An empty file (truncated to 0 bytes): the commands that read say so,
# and none of them says all is well.
mkdir empty
: >empty/theater.db
check empty "empty/theater\.db is empty" "chain ls" "chain verify" "chain events someone" \
    "chain export someone"

if [ $fails -ne 0 ]; then
    echo "$fails failure(s)"
    exit 1
fi
