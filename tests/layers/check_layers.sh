#!/bin/sh
# check_layers.sh SRC_DIR BUILD_DIR [RUNTIME_NAMES] - the layers of the
# README, as built.
#
# Each part (src/<part>/, library th_<part>) may use only the parts listed
# for it below, all of them lower: no part includes a header of a part above
# it or of a sibling (src/<other>/*.h), however the include is written
# (tests/layers/check_layers_test.sh shows it the forms), and no part's
# library references a symbol that only such a part defines.  Public
# headers (include/theater/) are everyone's.  Exit 1 naming each breach.
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
TAB=$(printf '\t')
tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT INT TERM

# Every #include of every file under src/, resolved to the file it names
# as the compiler finds it (CMake gives every part -I include -I src, and
# the runtime's parts also the generated glue's folder): "NAME" first
# beside the including file, then on those paths; <NAME> on those paths
# only.  However it is written ("runtime/x.h", "../runtime/x.h",
# <runtime/x.h>, "# include"), an include that lands in src/<part>/ is a
# use of that part.  Lines: PART USED FILE:LINE PATH (PATH relative to
# src/, USED "?" for an include whose name is a macro, which cannot be
# checked).  Files outside the source tree (system headers, the
# generated glue) are no part's.
srcabs=$(cd "$src" && pwd -P) || exit 2
genabs=$build/gen
find "$srcabs/src" -name '*.[ch]' -exec awk -v src="$srcabs" -v gen="$genabs" -v OFS="$TAB" '
# a path without "." and ".." components (textually, as the compiler
# opens it: the source tree has no symbolic links of its own)
function norm(p,    n, a, i, k, s, out) {
    n = split(p, a, "/")
    k = 0
    for (i = 1; i <= n; i++) {
        if (a[i] == "" || a[i] == ".")
            continue
        if (a[i] == ".." && k > 0) {
            k--
            continue
        }
        s[++k] = a[i]
    }
    out = ""
    for (i = 1; i <= k; i++)
        out = out "/" s[i]
    return out
}
function exists(p,    r, l) {
    r = (getline l < p)
    close(p)
    return r >= 0
}
function resolve(name, quoted, dir,    c) {
    if (substr(name, 1, 1) == "/")
        return exists(name) ? norm(name) : ""
    if (quoted && exists(c = norm(dir "/" name)))
        return c
    if (exists(c = norm(src "/include/" name)))
        return c
    if (exists(c = norm(src "/src/" name)))
        return c
    if (exists(c = norm(gen "/" name)))
        return c
    return ""
}
FNR == 1 {
    file = FILENAME
    rel = substr(file, length(src "/src/") + 1)
    part = rel
    sub(/\/.*/, "", part)
    dir = file
    sub(/\/[^\/]*$/, "", dir)
}
/^[ \t]*#[ \t]*include/ {
    line = $0
    sub(/^[ \t]*#[ \t]*include[ \t]*/, "", line)
    q = substr(line, 1, 1)
    if (q == "\"")
        close_ch = "\""
    else if (q == "<")
        close_ch = ">"
    else {
        print part, "?", rel ":" FNR, line
        next
    }
    rest = substr(line, 2)
    end = index(rest, close_ch)
    if (end == 0)
        next
    name = substr(rest, 1, end - 1)
    if (name == "" || name ~ /\/$/)
        next
    path = resolve(name, q == "\"", dir)
    if (path == "" || index(path, src "/src/") != 1)
        next
    used = substr(path, length(src "/src/") + 1)
    target = used
    sub(/\/.*/, "", used)
    print part, used, rel ":" FNR, target
}
' {} + > "$tmp/includes"

for p in $parts; do
    [ -d "$src/src/$p" ] || continue
    ok=" $p $(allowed "$p") "
    if [ "$ok" = " $p ? " ]; then
        echo "layers: src/$p is a part with no place in the layers (add it to tests/layers/check_layers.sh)"
        bad=1
        continue
    fi
    # includes of another part's headers, however the include is written
    for used in $(awk -F "$TAB" -v p="$p" '$1 == p {print $2}' "$tmp/includes" | sort -u); do
        case "$ok" in *" $used "*) continue ;; esac
        if [ "$used" = "?" ]; then
            echo "layers: src/$p has an include whose file cannot be told (a macro):"
        else
            echo "layers: src/$p includes a header of src/$used:"
        fi
        awk -F "$TAB" -v p="$p" -v u="$used" '$1 == p && $2 == u {print "    src/" $3 ": " $4}' \
            "$tmp/includes"
        bad=1
    done
    # links: symbols the part needs that only a part it may not use defines
    lib="$build/libth_$p.a"
    [ -f "$lib" ] || continue
    nm -u "$lib" 2>/dev/null | awk '{print $2}' | sort -u > "$tmp/undef.$p"
    for q in $parts; do
        case "$ok" in *" $q "*) continue ;; esac
        other="$build/libth_$q.a"
        [ -f "$other" ] || continue
        nm --defined-only "$other" 2>/dev/null | awk 'NF == 3 && $2 ~ /[TDRB]/ {print $3}' |
            sort -u > "$tmp/def.$q"
        hits=$(comm -12 "$tmp/undef.$p" "$tmp/def.$q")
        if [ -n "$hits" ]; then
            echo "layers: th_$p uses th_$q, which it may not:"
            echo "$hits" | head -5 | sed 's/^/    /'
            bad=1
        fi
    done
done
# The handlers see the runtime through its face only (rt_host.h, and the
# manifest's grants in manifest.h), never its internals (rt_int.h and the
# part headers it gathers: rt_actor.h with the actor structure and its
# lock, rt_queue.h, rt_sched.h, rt_registry.h, ...), however the include
# is written.
inner=$(awk -F "$TAB" '$1 == "handlers" && $2 == "runtime" &&
                       $4 != "runtime/rt_host.h" && $4 != "runtime/manifest.h" {
                           print "    src/" $3 ": " $4 }' "$tmp/includes")
if [ -n "$inner" ]; then
    echo "layers: src/handlers includes runtime internals (only runtime/rt_host.h and runtime/manifest.h):"
    echo "$inner"
    bad=1
fi
# The runtime knows the handlers only through the table it is given: no
# handler's name, module or setting in src/runtime (tests/layers/
# runtime_names.c says what counts).  The check is first shown a file that
# breaks the rule, so it cannot pass by finding nothing.
if [ -n "$names" ]; then
    probe=$tmp/probe
    mkdir "$probe"
    printf 'static const char *k = "allowed_vars";\nint x = RT_H_STORE;\n' > "$probe/probe.c"
    if "$names" "$probe" > "$probe/out" 2>&1 || [ "$(grep -c . "$probe/out")" -ne 2 ]; then
        echo "layers: runtime_names does not see a handler's setting and number in a probe file:"
        sed 's/^/    /' "$probe/out"
        bad=1
    fi
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
