#!/bin/sh
# expect.sh - run a command and check its exit status and output; used by
# the integration tests (tests/integration/CMakeLists.txt).
#
#   expect.sh [--exit N] [--stdout ERE]... [--stderr ERE]...
#             [--no-stdout ERE]... [--needs FILE]... -- CMD [ARGS...]
#
# Each --stdout/--stderr pattern must match some line of that stream
# (grep -E); --no-stdout patterns must match none.  "@TMP@" anywhere in CMD
# or ARGS becomes a fresh temporary directory, removed afterwards.  If a
# --needs FILE is missing the test is skipped (exit 77), or fails under
# THEATER_REQUIRE_SUITES=1 (.ci/run: everything the build makes with the
# tools scripts/setup.sh installs must be there; skip.sh).
set -u
. "$(dirname "$0")/skip.sh"

want_exit=0
out_pats=""
err_pats=""
not_out_pats=""
NL='
'
while [ $# -gt 0 ]; do
    case $1 in
    --exit) want_exit=$2; shift 2 ;;
    --stdout) out_pats="$out_pats$2$NL"; shift 2 ;;
    --stderr) err_pats="$err_pats$2$NL"; shift 2 ;;
    --no-stdout) not_out_pats="$not_out_pats$2$NL"; shift 2 ;;
    --needs)
        [ -e "$2" ] || it_skip "$2 does not exist"
        shift 2 ;;
    --) shift; break ;;
    *) echo "expect.sh: bad option $1" >&2; exit 2 ;;
    esac
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/theater-it.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT INT TERM
mkdir "$tmp/dir"

n=$#
i=0
while [ $i -lt $n ]; do
    a=$1
    shift
    case $a in
    *@TMP@*) a=$(printf '%s' "$a" | sed "s|@TMP@|$tmp/dir|g") ;;
    esac
    set -- "$@" "$a"
    i=$((i + 1))
done

"$@" >"$tmp/stdout" 2>"$tmp/stderr" </dev/null
status=$?

fail=""
[ "$status" = "$want_exit" ] || fail="${fail}exit status $status, expected $want_exit$NL"
check() { # stream file patterns mode
    printf '%s' "$3" | while IFS= read -r pat; do
        [ -n "$pat" ] || continue
        if grep -Eq -- "$pat" "$2"; then
            [ "$4" = absent ] && echo "$1 matches '$pat' but must not"
        else
            [ "$4" = present ] && echo "$1 does not match '$pat'"
        fi
    done
}
fail="$fail$(check stdout "$tmp/stdout" "$out_pats" present)"
fail="$fail$(check stderr "$tmp/stderr" "$err_pats" present)"
fail="$fail$(check stdout "$tmp/stdout" "$not_out_pats" absent)"

if [ -n "$fail" ]; then
    echo "FAILED: $*"
    printf '%s\n' "$fail"
    echo "--- stdout ---"; cat "$tmp/stdout"
    echo "--- stderr ---"; cat "$tmp/stderr"
    exit 1
fi
echo "ok: $* (exit $status)"
exit 0
