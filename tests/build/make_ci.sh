#!/bin/sh
# make_ci.sh SRC_DIR - the Makefile makes warnings errors under CI only:
# CI=true, 1 or yes (as CI systems set it) configure with
# -DTHEATER_WERROR=ON; CI unset, empty, false, 0 or no do not, and WERROR=1
# does whatever CI says (ctest build.make_ci; `make -n`, nothing is run).
set -u
cd "$1" || exit 2
fails=0

werror() { # CI-value [VAR=VALUE...]: the THEATER_WERROR `make build` configures with
    ci=$1
    shift
    env -u CI -u WERROR ${ci:+CI="$ci"} make -n build BUILD=/nonexistent/theater-make-ci "$@" 2>/dev/null |
        grep -o 'THEATER_WERROR=[A-Z]*' | head -1
}

check() { # CI-value want [VAR=VALUE...]
    ci=$1
    want=$2
    shift 2
    got=$(werror "$ci" "$@")
    if [ "$got" != "THEATER_WERROR=$want" ]; then
        echo "FAIL: CI='$ci' $*: configured with '$got', expected THEATER_WERROR=$want"
        fails=$((fails + 1))
    else
        echo "ok: CI='$ci' $* -> $want"
    fi
}

check "" OFF
check false OFF
check FALSE OFF
check 0 OFF
check no OFF
check true ON
check TRUE ON
check 1 ON
check yes ON
check "" ON WERROR=1
check false ON WERROR=1
[ $fails -eq 0 ] || exit 1
