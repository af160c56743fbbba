#!/bin/sh
# new_build_run.sh THEATER - exactly what a new user does: `theater new`,
# `theater build`, `theater run` (and `theater start` in a daemon), with no
# edit in between; then what goes
# wrong: a compile error (the old module stays), a missing compiler, a
# missing SDK, a project that exists already.
set -u
theater=$1
. "$(dirname "$0")/../skip.sh"
command -v clang >/dev/null 2>&1 || it_skip "no clang"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/theater-new.XXXXXX") || exit 2
pid=
spid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; [ -n "$spid" ] && kill "$spid" 2>/dev/null; rm -rf "$tmp"' EXIT INT TERM
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
has() { grep -Eq -- "$2" "$1" || fail "$1 lacks /$2/:" "$(cat "$1")"; }

cd "$tmp" || exit 2
"$theater" new hello-world >new.out 2>&1 || fail "new: $(cat new.out)"
for f in actor.c manifest.toml build.toml; do
    [ -f hello-world/$f ] || fail "new wrote no $f"
done
has new.out 'theater build hello-world'
"$theater" build hello-world >build.out 2>&1 || fail "build: $(cat build.out)"
has build.out '^built hello-world/hello-world\.wasm \([0-9]+ bytes\)$'
"$theater" wasm validate hello-world/hello-world.wasm >/dev/null 2>&1 || fail "the module does not validate"
# --json and --home, which every command takes
"$theater" new other --json --home "$tmp/nohome" >newj.out 2>&1 || fail "new --json --home: $(cat newj.out)"
has newj.out '"dir": "other"'
"$theater" build other --json --home "$tmp/nohome" >buildj.out 2>&1 || fail "build --json --home: $(cat buildj.out)"
has buildj.out '"output": "other/other\.wasm"'
has buildj.out '"bytes": [0-9]+'
[ -e "$tmp/nohome" ] && fail "new or build made the home given with --home"

# run it: it starts, logs, and stops cleanly on Ctrl-C
"$theater" run --home "$tmp/home" hello-world/manifest.toml >run.out 2>&1 &
pid=$!
# (up to a minute: a background job of a script starts with SIGINT ignored,
# so a Ctrl-C before `theater run` has set its handler would be lost)
i=0
while [ $i -lt 600 ] && ! grep -q 'is running' run.out; do
    sleep 0.1
    i=$((i + 1))
done
kill -INT "$pid"
wait "$pid"
status=$?
pid=
[ $status = 130 ] || fail "run exited $status, expected 130 after Ctrl-C: $(cat run.out)"
has run.out '^\[hello-world [0-9a-f]{8}\] hello-world [0-9a-f-]{36} is running$'
"$theater" chain --home "$tmp/home" ls >ls.out 2>&1 || fail "chain ls"
has ls.out '^[0-9a-f]{8,} +hello-world +[0-9]+ '
id=$(awk '$2 == "hello-world" {print $1}' ls.out)
"$theater" chain --home "$tmp/home" events "$id" >ev.out 2>&1 || fail "chain events"
has ev.out 'host-call +runtime\.log\("hello-world [0-9a-f-]{36} is running"\)'
has ev.out 'wasm-result +init -> ok, state "0"|wasm-call +init\([0-9a-f]{8}\) -> ok, state "0"'
has ev.out 'actor-stopped +stopped: '

# the same project, unchanged, in the daemon: start, message, request,
# read its events by a short id, ask it to stop
"$theater" server --home "$tmp/dh" 2>server.log &
spid=$!
i=0
until "$theater" list --home "$tmp/dh" >/dev/null 2>&1 || [ $i -ge 600 ]; do
    sleep 0.1
    i=$((i + 1))
done
id=$("$theater" start --home "$tmp/dh" hello-world/manifest.toml 2>start.err)
echo "$id" | grep -Eqx '[0-9a-f-]{36}' || fail "start: '$id' $(cat start.err)"
short=$(echo "$id" | cut -c1-8)
"$theater" message --home "$tmp/dh" "$short" hi >msg.out 2>&1 || fail "message: $(cat msg.out)"
reply=$("$theater" message --home "$tmp/dh" --request "$short" count 2>&1)
[ "$reply" = "hello-world has seen 1 messages" ] || fail "request answered '$reply'"
"$theater" events --home "$tmp/dh" "$short" >dev.out 2>&1 || fail "events: $(cat dev.out)"
has dev.out 'handle-send\("hi"\)'
has dev.out 'handle-request\(request [0-9a-f]{8}, "count"\) -> response "hello-world has seen 1 messages"'
reply=$("$theater" message --home "$tmp/dh" --request "$short" stop 2>&1)
[ "$reply" = "stopping" ] || fail "stop answered '$reply'"
kill -TERM $spid
wait $spid || fail "the daemon exited $?: $(tail -5 server.log)"
spid=

# a compile error: the message from clang, and the old module stays
cp hello-world/hello-world.wasm old.wasm
echo 'this is not C' >>hello-world/actor.c
"$theater" build hello-world >bad.out 2>&1 && fail "a broken actor.c built"
has bad.out 'error'
has bad.out 'failed \(exit status [0-9]+\); nothing was written'
cmp -s old.wasm hello-world/hello-world.wasm || fail "a failed build changed the module"
ls hello-world | grep -q tmp && fail "a failed build left a temporary file"

# what is missing is named
PATH=/nonexistent "$theater" build hello-world >nocc.out 2>&1 && fail "built without clang"
has nocc.out 'clang \(the C compiler for wasm32\) is missing: none of clang, .* is in PATH \(install the Debian package clang'
THEATER_WASM_LD=/nonexistent/wasm-ld "$theater" build hello-world >nold.out 2>&1 && fail "built without wasm-ld"
has nold.out 'THEATER_WASM_LD=/nonexistent/wasm-ld is not an executable'
cp "$theater" ./lonely-theater
./lonely-theater build hello-world >nosdk.out 2>&1 && fail "built without the SDK"
has nosdk.out 'the guest SDK is missing: no theater\.h in '"$tmp"'/share/theater/sdk/c'
"$theater" build "$tmp/none" >nodir.out 2>&1 && fail "built a missing directory"
has nodir.out 'is not a directory'

# new never overwrites, and refuses names that are not names
"$theater" new hello-world >again.out 2>&1 && fail "new overwrote a project"
has again.out 'hello-world already exists'
"$theater" new 'x y' >badname.out 2>&1
[ $? = 2 ] || fail "new accepted 'x y'"
ls -a | grep -q '\.new-' && fail "new left a temporary directory"

[ $fails = 0 ] || exit 1
echo "ok: new_build_run"
