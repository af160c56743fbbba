# lib.sh - what the shell integration tests share; a test sources it with
#   . "$(dirname "$0")/../lib.sh"
# after setting T (the theater binary).
#
#   it_workdir NAME   a fresh directory H (the test runs in it), removed at
#                     exit together with a daemon it_daemon started
#   fail TEXT         count a failure
#   expect NAME STATUS ERE CMD...
#                     CMD must exit with STATUS and print (stdout and
#                     stderr) a line that matches ERE; its output is in
#                     ./out afterwards
#   it_daemon [HOME]  start `$T server --home HOME` (default $H; stderr in
#                     $H/server.log) and wait until it answers /v1/health;
#                     DPID is its pid (set it empty after stopping it
#                     yourself)
#   it_wait_event ACTOR TYPE
#                     wait (a minute at most, then a failure) until the
#                     chain of ACTOR in $H has an event of TYPE
#   it_done           exit 1 with the number of failures, or say "all ok"
#   it_skip WHY, it_skip_part WHY, it_skipped_parts
#                     skips that show (skip.sh)
#   it_need FILE... [-- CMD...]
#                     exit 77 (skipped) unless every FILE exists (was built)
#                     and every CMD is on the PATH; under
#                     THEATER_REQUIRE_SUITES=1 (.ci/run) a failure instead
# With KEEP set (to anything) the work directory is kept at exit.

fails=0
H=
DPID=

it_cleanup() {
    if [ -n "$DPID" ] && kill -0 "$DPID" 2>/dev/null; then
        kill -KILL "$DPID" 2>/dev/null
        wait "$DPID" 2>/dev/null
    fi
    # KEEP set: the work directory is kept (to look at after a failure)
    [ -n "$H" ] && [ -z "${KEEP:-}" ] && rm -rf "$H"
}

it_workdir() {
    H=$(mktemp -d "${TMPDIR:-/tmp}/theater-$1.XXXXXX") || exit 2
    trap it_cleanup EXIT INT TERM
    cd "$H" || exit 2
}

fail() {
    echo "FAIL $*"
    fails=$((fails + 1))
}

expect() {
    name=$1 want=$2 pat=$3
    shift 3
    "$@" >out 2>&1
    st=$?
    if [ "$st" != "$want" ]; then
        fail "$name: exit $st, expected $want"
        cat out
        return
    fi
    if ! grep -Eq -- "$pat" out; then
        fail "$name: output does not match '$pat'"
        cat out
        return
    fi
    echo "ok $name"
}

it_daemon() {
    "$T" server --home "${1:-$H}" 2>>"$H/server.log" &
    DPID=$!
    i=0
    until curl -s -o /dev/null --unix-socket "${1:-$H}/theater.sock" http://theater/v1/health; do
        i=$((i + 1))
        # (up to 30 s: a sanitizer build on a loaded machine)
        [ $i -gt 600 ] && { echo "the daemon did not start"; cat "$H/server.log"; exit 1; }
        sleep 0.05
    done
}

it_wait_event() {
    i=0
    until "$T" chain --home "$H" events "$1" | grep -q -- "$2"; do
        i=$((i + 1))
        [ "$i" -lt 600 ] || { fail "actor $1 has no $2 event after a minute"; return 1; }
        sleep 0.1
    done
}

it_done() {
    [ $fails -eq 0 ] || { echo "$fails failure(s)"; exit 1; }
    echo "all ok"
}

. "$(dirname "$0")/../skip.sh"

it_need() {
    while [ $# -gt 0 ] && [ "$1" != "--" ]; do
        [ -f "$1" ] || it_skip "$1 was not built"
        shift
    done
    [ $# -gt 0 ] && shift
    for c in "$@"; do
        command -v "$c" >/dev/null 2>&1 || it_skip "no $c"
    done
}
