#!/bin/sh
# check_layers_test.sh SRC_DIR - check_layers.sh refuses a part's include of
# a header it may not use however the include is written (ctest
# layers.refuses).
#
# The check runs over a copy of src/ and include/ (without a build: the
# include rules only), first as it is (it must pass, or the probes below
# would prove nothing), then once per probe file added to the copy: each
# must make it exit 1 naming the probe's file and line.
set -u
src=$1
check=$src/tests/layers/check_layers.sh
tmp=$(mktemp -d "${TMPDIR:-/tmp}/theater-layers.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT INT TERM
cp -R "$src/src" "$src/include" "$tmp/" || exit 2
mkdir "$tmp/build"
fails=0

if ! out=$(sh "$check" "$tmp" "$tmp/build" 2>&1); then
    echo "FAIL: the copy of the source tree does not pass the check:"
    echo "$out" | sed 's/^/    /'
    exit 1
fi

# refused PART/FILE TEXT WHY: the check must fail on src/PART/FILE
# holding TEXT, and name src/PART/FILE:LINE in its output.
refused() {
    printf '%s\n' "$2" > "$tmp/src/$1"
    line=$(grep -n 'include' "$tmp/src/$1" | head -1 | cut -d: -f1)
    out=$(sh "$check" "$tmp" "$tmp/build" 2>&1)
    rc=$?
    rm -f "$tmp/src/$1"
    if [ $rc -ne 1 ] || ! printf '%s\n' "$out" | grep -q "src/$1:$line:"; then
        echo "FAIL: $3 ($1: $(printf '%s' "$2" | tr '\n' ' ')) is not refused (exit $rc):"
        printf '%s\n' "$out" | sed 's/^/    /'
        fails=$((fails + 1))
    else
        echo "ok: $3 refused"
    fi
}

# passed PART/FILE TEXT WHY: the check must pass with it.
passed() {
    printf '%s\n' "$2" > "$tmp/src/$1"
    out=$(sh "$check" "$tmp" "$tmp/build" 2>&1)
    rc=$?
    rm -f "$tmp/src/$1"
    if [ $rc -ne 0 ]; then
        echo "FAIL: $3 ($1) is refused:"
        printf '%s\n' "$out" | sed 's/^/    /'
        fails=$((fails + 1))
    else
        echo "ok: $3 passes"
    fi
}

refused handlers/probe.c '#include "../runtime/rt_actor.h"' \
    "a handler reaching the actor structure by a relative path"
refused handlers/probe.c '#include "runtime/rt_int.h"' "a handler including the runtime's internals"
refused handlers/probe.c '#include <runtime/rt_queue.h>' "a handler including runtime internals with <>"
refused handlers/probe.c '  #  include   "../runtime/./rt_sched.h"' \
    "a handler's include with spaces and a ./ in its path"
refused chain/probe.c '#include "../runtime/rt_int.h"' "the chain including the runtime by a relative path"
refused wasm/probe.c '#include "db/db.h"' "the engine including the database"
refused wasm/probe.c '#include "../../src/chain/chain_int.h"' "the engine including the chain from above src/"
refused base/probe.h '#include <wasm/wasm_int.h>' "base including the engine with <>"
refused chain/probe.c '#include "../db/../runtime/rt_int.h"' "the chain including the runtime through another part"
refused db/probe.c '#include HEADER' "an include whose file is a macro"
passed handlers/probe.c '#include "../runtime/rt_host.h"' "a handler including the runtime's face relatively"
passed wasm/probe.c '#include "../base/utf8.h"' "the engine including base relatively"
passed store/probe.c '#include <db/db.h>' "the store including the database with <>"
passed runtime/probe.c '#include "rt_int.h"' "the runtime including its own header"

[ $fails -eq 0 ] || exit 1
echo "layers.refuses: every probe refused, the real tree and the allowed probes pass"
