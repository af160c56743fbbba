#!/bin/sh
# check_layers.sh SRC_DIR BUILD_DIR [RUNTIME_NAMES] - the layers of the
# README, as built.
#
# Each part (src/<part>/, library th_<part>) may use only the parts listed
# for it below, all of them lower: no part includes a header of a part above
# it or of a sibling (src/<other>/*.h), and no part's library references a
# symbol that only such a part defines.  Public headers (include/theater/)
# are everyone's.  Exit 1 naming each breach.
set -u
src=$1
build=$2
names=${3:-}

# part: the parts it may use (besides itself)
allowed() {
    case $1 in
    base) echo "" ;;
    wasm) echo "base" ;;
    db) echo "base" ;;
    store) echo "base db" ;;
    chain) echo "base db" ;;
    runtime) echo "base wasm db store chain" ;;
    handlers) echo "base wasm db store chain runtime" ;;
    server) echo "base wasm db store chain runtime handlers" ;;
    cli) echo "base wasm db store chain runtime handlers server" ;;
    *) echo "?" ;;
    esac
}

parts="base wasm db store chain runtime handlers server cli"
bad=0
for p in $parts; do
    [ -d "$src/src/$p" ] || continue
    ok=" $p $(allowed "$p") "
    if [ "$ok" = " $p ? " ]; then
        echo "layers: src/$p is a part with no place in the layers (add it to tests/layers/check_layers.sh)"
        bad=1
        continue
    fi
    # includes of another part's headers: #include "other/..."
    for used in $(grep -ho '^#include "[a-z_]*/' "$src/src/$p"/*.c "$src/src/$p"/*.h 2>/dev/null |
                  sed 's/#include "//; s/\///' | sort -u); do
        case $used in theater) continue ;; esac
        case "$ok" in *" $used "*) ;; *)
            echo "layers: src/$p includes a header of src/$used:"
            grep -n "^#include \"$used/" "$src/src/$p"/*.c "$src/src/$p"/*.h 2>/dev/null | sed 's/^/    /'
            bad=1 ;;
        esac
    done
    # links: symbols the part needs that only a part it may not use defines
    lib="$build/libth_$p.a"
    [ -f "$lib" ] || continue
    nm -u "$lib" 2>/dev/null | awk '{print $2}' | sort -u > "$build/layers.undef.$p"
    for q in $parts; do
        case "$ok" in *" $q "*) continue ;; esac
        other="$build/libth_$q.a"
        [ -f "$other" ] || continue
        nm --defined-only "$other" 2>/dev/null | awk 'NF == 3 && $2 ~ /[TDRB]/ {print $3}' |
            sort -u > "$build/layers.def.$q"
        hits=$(comm -12 "$build/layers.undef.$p" "$build/layers.def.$q")
        if [ -n "$hits" ]; then
            echo "layers: th_$p uses th_$q, which it may not:"
            echo "$hits" | head -5 | sed 's/^/    /'
            bad=1
        fi
        rm -f "$build/layers.def.$q"
    done
    rm -f "$build/layers.undef.$p"
done
# The handlers see the runtime through its face only (rt_host.h, and the
# manifest's grants in manifest.h), never its internals (rt_int.h and the
# part headers it gathers: rt_actor.h with the actor structure and its
# lock, rt_queue.h, rt_sched.h, rt_registry.h, ...).
inner=$(grep -n '^#include "runtime/' "$src/src/handlers"/*.c "$src/src/handlers"/*.h 2>/dev/null |
        grep -v '"runtime/rt_host.h"' | grep -v '"runtime/manifest.h"')
if [ -n "$inner" ]; then
    echo "layers: src/handlers includes runtime internals (only runtime/rt_host.h and runtime/manifest.h):"
    echo "$inner" | sed 's/^/    /'
    bad=1
fi
# The runtime knows the handlers only through the table it is given: no
# handler's name, module or setting in src/runtime (tests/layers/
# runtime_names.c says what counts).  The check is first shown a file that
# breaks the rule, so it cannot pass by finding nothing.
if [ -n "$names" ]; then
    probe=$(mktemp -d)
    printf 'static const char *k = "allowed_vars";\nint x = RT_H_STORE;\n' > "$probe/probe.c"
    if "$names" "$probe" > "$probe/out" 2>&1 || [ "$(grep -c . "$probe/out")" -ne 2 ]; then
        echo "layers: runtime_names does not see a handler's setting and number in a probe file:"
        sed 's/^/    /' "$probe/out"
        bad=1
    fi
    rm -rf "$probe"
    if ! out=$("$names" "$src/src/runtime" 2>&1); then
        echo "layers: src/runtime names handlers (it may know them only through rt_iface):"
        echo "$out"
        bad=1
    fi
fi
if [ $bad -eq 0 ]; then
    echo "layers: every part uses only the parts below it"
fi
exit $bad
