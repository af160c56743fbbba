#!/bin/sh
# engine_compare.sh - compare builds of the WebAssembly engine on a shared,
# noisy machine: runs two or more engine_bench programs in turn, N times
# each (A B A B ...), so every build sees the same changes of load, and
# prints per kernel the minimum and median of the engine's CPU time and
# the median of its engine/native ratio, then the median geometric mean.
# The engine's own CPU time is what a change of the engine moves; the
# ratio also moves with the native run of the same round.
#
#   scripts/engine_compare.sh [-n N] [-r ROUNDS] [-k KERNEL] BENCH1 BENCH2 ...
#
#   -n N        alternations (default 5)
#   -r ROUNDS   --rounds of each engine_bench run (default 3)
#   -k KERNEL   one kernel only (engine_bench --only KERNEL)
#
# Example (the build before a change in build-before/, after it in build/):
#   scripts/engine_compare.sh -n 6 build-before/bench/engine_bench build/bench/engine_bench
set -u

n=5
rounds=3
only=""
while getopts n:r:k: opt; do
    case "$opt" in
    n) n=$OPTARG ;;
    r) rounds=$OPTARG ;;
    k) only=$OPTARG ;;
    *) echo "usage: $0 [-n N] [-r ROUNDS] [-k KERNEL] BENCH1 BENCH2 ..." >&2; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
if [ $# -lt 1 ]; then
    echo "usage: $0 [-n N] [-r ROUNDS] [-k KERNEL] BENCH1 BENCH2 ..." >&2
    exit 2
fi
case "$n$rounds" in *[!0-9]*)
    echo "engine_compare: -n and -r take positive integers" >&2
    exit 2 ;;
esac
for b in "$@"; do
    if [ ! -x "$b" ]; then
        echo "engine_compare: $b is not an executable engine_bench" >&2
        exit 1
    fi
done

out=$(mktemp) || exit 1
trap 'rm -f "$out"' EXIT INT TERM

i=0
while [ "$i" -lt "$n" ]; do
    i=$((i + 1))
    idx=0
    for b in "$@"; do
        idx=$((idx + 1))
        if [ -n "$only" ]; then
            res=$("$b" --quick --rounds "$rounds" --no-inst --only "$only" 2>&1)
        else
            res=$("$b" --quick --rounds "$rounds" --no-inst 2>&1)
        fi
        if [ $? -ne 0 ]; then
            echo "engine_compare: $b failed:" >&2
            echo "$res" >&2
            exit 1
        fi
        # kernel rows: name, ..., native ms, engine ms, ratio ("8.3x"), checksum
        echo "$res" | awk -v b="$idx" '
            $NF ~ /^[0-9a-f]+$/ && $(NF-1) ~ /x$/ && $1 !~ /^simd/ {
                r = $(NF-1); sub(/x$/, "", r)
                print b, "k", $1, $(NF-2), r
            }
            /^geometric mean engine\/native over/ {
                for (f = 1; f <= NF; f++) if ($f ~ /^[0-9.]+x$/) { g = $f; sub(/x$/, "", g); print b, "g", g; break }
            }' >>"$out"
    done
done

idx=0
for b in "$@"; do
    idx=$((idx + 1))
    echo "[$idx] $b"
done
sort -k1,1n -k3,3 -k4,4n "$out" | awk '
    function med(arr, cnt) { return cnt % 2 ? arr[(cnt + 1) / 2] : (arr[cnt / 2] + arr[cnt / 2 + 1]) / 2 }
    function flush() {
        if (key == "") return
        m = med(ms, c)
        # ratios: sort the few values by insertion
        for (x = 2; x <= c; x++) { v = rs[x]; y = x - 1; while (y > 0 && rs[y] > v) { rs[y + 1] = rs[y]; y-- } rs[y + 1] = v }
        printf "[%s] %-8s engine ms min %7.1f median %7.1f   ratio median %5.2fx  (%d runs)\n", bin, kern, ms[1], m, med(rs, c), c
        key = ""; c = 0
    }
    $2 == "k" {
        if ($1 " " $3 != key) { flush(); key = $1 " " $3; bin = $1; kern = $3 }
        c++; ms[c] = $4; rs[c] = $5
    }
    $2 == "g" { g[$1] = g[$1] " " $3; if ($1 > nb) nb = $1 }
    END {
        flush()
        for (b = 1; b <= nb; b++) {
            if (!(b in g)) continue
            cnt = split(g[b], gv, " ")
            for (x = 2; x <= cnt; x++) { v = gv[x]; y = x - 1; while (y > 0 && gv[y] > v) { gv[y + 1] = gv[y]; y-- } gv[y + 1] = v }
            printf "[%s] geometric mean engine/native: median %.2fx, range %.2f-%.2fx\n", b, med(gv, cnt), gv[1], gv[cnt]
        }
    }'
