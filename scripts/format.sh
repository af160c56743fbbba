#!/bin/sh
# format.sh - the house layout (.clang-format) over every C file in git.
#
#   sh scripts/format.sh          rewrite the files in place
#   sh scripts/format.sh --check  change nothing; list the files that differ
#                                 and exit 1 if there are any (make test runs this)
#
# Generated files are left out: sdk/c/theater_wit.h is tools/witgen's output
# and must stay byte-identical to it (the test sdk_wit_current).
set -eu
cd "$(dirname "$0")/.."

CF=""
for c in clang-format-14 clang-format; do
    if command -v "$c" >/dev/null 2>&1; then CF=$c; break; fi
done
if [ -z "$CF" ]; then
    echo "format.sh: clang-format not found (Debian package clang-format; scripts/setup.sh installs it)" >&2
    exit 2
fi

files=$(git ls-files '*.c' '*.h' | grep -v '^sdk/c/theater_wit\.h$')

if [ "${1:-}" = "--check" ]; then
    bad=0
    for f in $files; do
        if ! "$CF" --dry-run --Werror "$f" >/dev/null 2>&1; then
            echo "format: $f differs from .clang-format (run: make format)" >&2
            bad=1
        fi
    done
    if [ $bad -eq 0 ]; then echo "format: all $(echo "$files" | wc -l) C files follow .clang-format"; fi
    exit $bad
fi
# shellcheck disable=SC2086
"$CF" -i $files
