#!/bin/sh
# user_files.sh THEATER EXAMPLES_DIR - every file a user names on the command
# line (or a manifest names) is read only if it is a regular file within the
# limit that applies: a FIFO, a device, a directory or an over-size file is
# refused at once with a message naming it, and nothing blocks (a FIFO used
# to block open() forever while holding the home's lock).
set -u
T=$1
EX=$2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/theater-files.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT INT TERM
cd "$tmp" || exit 2
mkfifo fifo
truncate -s 70M big      # sparse: over every 64 MiB limit
truncate -s 2M bigtoml   # over the 1 MiB manifest limit
mkdir dir
fails=0

# refused NAME PATTERN CMD... : exits non-zero within 60 s (not 124 = hung:
# a FIFO blocks forever; a minute leaves room for reading a 96 MiB line in a
# sanitizer build on a loaded machine), and stderr matches PATTERN
refused() {
    name=$1 pat=$2
    shift 2
    timeout 60 "$@" >out 2>err </dev/null
    st=$?
    if [ $st -eq 0 ] || [ $st -eq 124 ] || [ $st -ge 128 ]; then
        echo "FAIL $name: exit status $st"; cat err; fails=$((fails + 1)); return
    fi
    if ! grep -Eq "$pat" err; then
        echo "FAIL $name: stderr does not match '$pat':"; cat err; fails=$((fails + 1)); return
    fi
    echo "ok $name: $(head -n 1 err)"
}

H="--home $tmp/home"
refused run_manifest_fifo "manifest fifo is a FIFO" $T run $H fifo
refused run_manifest_dir "manifest dir is a directory" $T run $H dir
refused run_manifest_big "manifest bigtoml is 2097152 bytes, above the limit" $T run $H bigtoml
refused state_dev_zero "initial state /dev/zero is a character device" \
    $T run $H --initial-state @/dev/zero "$EX/ping.toml"
refused state_fifo "initial state fifo is a FIFO" $T run $H --initial-state @fifo "$EX/ping.toml"
refused state_big "initial state big is 73400320 bytes, above the limit of 67108864" \
    $T run $H --initial-state @big "$EX/ping.toml"
refused store_put_fifo "file fifo is a FIFO" $T store $H put fifo
refused store_put_dev "file /dev/zero is a character device" $T store $H put /dev/zero
refused store_put_big "file big is 73400320 bytes, above the limit of 67108864" $T store $H put big
refused verify_file_fifo "chain file fifo is a FIFO" $T chain $H verify-file fifo
refused import_fifo "chain file fifo is a FIFO" $T chain $H import fifo
refused wasm_fifo "fifo is a FIFO" $T wasm validate fifo

# A manifest naming a FIFO as its component or init_state file.
if [ -f "$EX/ping.toml" ]; then
    printf 'name = "x"\nversion = "0.1.0"\ncomponent = "%s/fifo"\n' "$tmp" > comp.toml
    refused component_fifo "component .*fifo is a FIFO" $T run $H comp.toml
    sed "s|^init_state = .*|init_state = \"$tmp/fifo\"|; s|^component = .*|component = \"$EX/ping.wasm\"|" \
        "$EX/ping.toml" > state.toml
    refused init_state_fifo "init_state file .*fifo is a FIFO" $T run $H state.toml
    sed "s|^init_state = .*|init_state = \"$tmp/big\"|; s|^component = .*|component = \"$EX/ping.wasm\"|" \
        "$EX/ping.toml" > state2.toml
    refused init_state_big "init_state file .*big is 73400320 bytes" $T run $H state2.toml
fi

# A line of an export longer than the line limit is refused without being
# held in memory whole: a 200 MiB line of spaces (sparse file of zeros would
# be NUL bytes; use a file of one long line).
head -c 120000000 /dev/zero | tr '\0' 'x' > longline
refused verify_file_long_line "line 1 is longer than" $T chain $H verify-file longline

if [ $fails -ne 0 ]; then
    echo "$fails failure(s)"
    exit 1
fi
echo "all refused"
