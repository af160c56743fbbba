#!/bin/sh
# stdio_append.sh THEATER WASM_DIR - a guest run with no --dir whose
# stdout and stderr are appended to a host file (`>> log 2>&1`) can add to
# the file and do nothing else to it: stdio_rights.wasm tries to truncate
# it, write at offset 0, seek, re-time it, allocate, clear O_APPEND... and
# every call must be refused (exit 0 = none went through), the file keeping
# what it held, with the guest's line after it.
set -u
T=$1
W=$2
. "$(dirname "$0")/../lib.sh"
it_need "$W/stdio_rights.wasm"
it_workdir stdio-append

printf 'KEEP ME\n' >log
"$T" wasm run "$W/stdio_rights.wasm" </dev/null >>log 2>&1
st=$?
[ "$st" = 0 ] || fail "$st of the calls on stdout/stderr were not refused with ENOTCAPABLE"
# the guest's fd_filestat_set_times asked for 1970 (the append that follows
# sets the modification time again, not the access time; read before cmp)
[ "$(stat -c %X log)" != 0 ] || fail "the guest set the log's access time"
printf 'KEEP ME\nappended\n' >want
if cmp -s want log; then
    echo "ok log kept, guest line appended"
else
    fail "log changed beyond the append:"
    od -c log | head -5
fi

# --json sends the guest's stdout to stderr: the same rights there
printf 'KEEP ME\n' >log2
"$T" wasm run --json "$W/stdio_rights.wasm" </dev/null 2>>log2 >report.json
st=$?
[ "$st" = 0 ] || fail "--json: $st of the calls were not refused"
cmp -s want log2 || { fail "--json: log changed beyond the append:"; od -c log2 | head -5; }
grep -q '"exit_code": 0' report.json || { fail "--json: report"; cat report.json; }
it_done
