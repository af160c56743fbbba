#!/bin/sh
# bench.sh - what `make bench` runs: every benchmark program in BUILD/bench/
# (default build/), one after the other.  Each prints its own baseline and
# ratios.  Extra arguments go to every program (e.g. --quick for
# engine_bench); BENCH_ARGS in the environment does the same.
#
#   scripts/bench.sh [BUILD] [ARGS...]
set -u

BUILD=${1:-build}
[ $# -gt 0 ] && shift
dir="$BUILD/bench"

if [ ! -d "$dir" ]; then
    echo "bench: $dir does not exist; build first (make build)" >&2
    exit 1
fi

status=0
found=0
for prog in "$dir"/*; do
    # programs only: executable regular files, not wasm modules or data
    [ -f "$prog" ] && [ -x "$prog" ] || continue
    case "$prog" in *.wasm|*.sh|*.txt|*.json) continue ;; esac
    found=1
    echo "=== $(basename "$prog") ==="
    # shellcheck disable=SC2086
    if ! "$prog" ${BENCH_ARGS:-} "$@"; then
        echo "bench: $(basename "$prog") failed" >&2
        status=1
    fi
    echo
done

if [ "$found" = 0 ]; then
    echo "bench: no benchmark programs in $dir" >&2
    exit 1
fi
exit $status
