#!/bin/sh
# outside_examples.sh THEATER EXAMPLES - the example actors that reach
# outside, run as a user runs them: `fetcher` against a local web server
# (python3 -m http.server on 127.0.0.1, a free port), refused for a host
# its manifest does not allow; `runner` running its default command and
# one given as its initial state.  Every chain verifies afterwards.
set -u
theater=$1
ex=$2
. "$(dirname "$0")/../skip.sh"
[ -f "$ex/fetcher.toml" ] && [ -f "$ex/runner.toml" ] || it_skip "examples not built"
command -v python3 >/dev/null 2>&1 || it_skip "no python3"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/theater-outside.XXXXXX") || exit 2
spid=
trap '[ -n "$spid" ] && kill "$spid" 2>/dev/null; rm -rf "$tmp"' EXIT INT TERM
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
has() { grep -Eq -- "$2" "$1" || fail "$1 lacks /$2/:" "$(cat "$1")"; }

mkdir "$tmp/www"
printf 'first line\nsecond line\n' >"$tmp/www/page.txt"
(cd "$tmp/www" && exec python3 -u -m http.server 0 --bind 127.0.0.1) >"$tmp/server.out" 2>&1 &
spid=$!
i=0
while [ $i -lt 100 ] && ! grep -q 'port [0-9]' "$tmp/server.out"; do
    sleep 0.1
    i=$((i + 1))
done
port=$(sed -n 's/.* port \([0-9][0-9]*\).*/\1/p' "$tmp/server.out" | head -n 1)
[ -n "$port" ] || { fail "the web server did not start: $(cat "$tmp/server.out")"; exit 1; }

"$theater" run --home "$tmp/home" --initial-state "{\"url\": \"http://127.0.0.1:$port/page.txt\"}" \
    "$ex/fetcher.toml" >"$tmp/f1.out" 2>&1 || fail "fetcher: $(cat "$tmp/f1.out")"
has "$tmp/f1.out" 'status 200, Content-Type text/plain, 23 bytes'
has "$tmp/f1.out" 'first line: first line$'
has "$tmp/f1.out" 'shut down with data: first line'
"$theater" run --home "$tmp/home" --initial-state '{"url": "http://example.com/"}' \
    "$ex/fetcher.toml" >"$tmp/f2.out" 2>&1 || fail "fetcher: $(cat "$tmp/f2.out")"
has "$tmp/f2.out" 'failed: host example.com port 80 is not in this actor.s allowed_hosts'

"$theater" run --home "$tmp/home" "$ex/runner.toml" >"$tmp/r1.out" 2>&1 || fail "runner: $(cat "$tmp/r1.out")"
has "$tmp/r1.out" 'stdout: hello from Linux'
has "$tmp/r1.out" 'stdout: line 3'
has "$tmp/r1.out" 'stderr: to stderr'
has "$tmp/r1.out" 'exited with 3'
has "$tmp/r1.out" 'shut down with data: exit 3, 5 lines'
"$theater" run --home "$tmp/home" --initial-state '{"command": "echo home=$HOME; kill -9 $$"}' \
    "$ex/runner.toml" >"$tmp/r2.out" 2>&1 || fail "runner: $(cat "$tmp/r2.out")"
has "$tmp/r2.out" 'stdout: home=$'
has "$tmp/r2.out" 'exited with -9'

"$theater" chain --home "$tmp/home" verify >"$tmp/v.out" 2>&1 || fail "verify: $(cat "$tmp/v.out")"
has "$tmp/v.out" '^ok: all chains: 4 chains'
[ $fails = 0 ] && echo "ok"
exit $fails
