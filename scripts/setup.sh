#!/bin/sh
# setup.sh - install the Debian packages the project needs, if missing.
#
# Run as root it installs them with apt-get; otherwise it prints the exact
# command to run and fails.  THEATER_NO_INSTALL=1 only checks.
set -eu

PACKAGES="build-essential cmake ninja-build pkg-config clang lld
libsqlite3-dev libssl-dev libuv1-dev libjansson-dev libcurl4-openssl-dev
libcmocka-dev libmicrohttpd-dev curl wasi-libc libclang-rt-14-dev-wasm32 wabt erlang-base
zsh fish python3 clang-format
libh2o-dev libwslay-dev nodejs"

# npm packages the tests use (installed globally; tests find them through
# NODE_PATH=$(npm root -g)): `ws`, a WebSocket client for the
# http-framework tests.
NPM_PACKAGES="ws@8"

npm_setup() {
    # Debian's nodejs has no npm of its own (its `npm` package does); a
    # nodejs from elsewhere may bring one.  Without npm the WebSocket tests
    # would be skipped, so it is installed like the other packages.
    if ! command -v npm >/dev/null 2>&1; then
        if [ "$(id -u)" -ne 0 ] && [ -z "$SUDO" ]; then
            echo "setup: npm is missing; install it with: sudo apt-get install -y npm" >&2
            return 1
        fi
        echo "setup: installing Debian's npm"
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends npm ||
            return 1
    fi
    root=$(npm root -g)
    for p in $NPM_PACKAGES; do
        name=${p%@*}
        if [ ! -d "$root/$name" ]; then
            echo "setup: npm install -g $p"
            $SUDO npm install -g -q "$p" || return 1
        fi
    done
}

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

SUDO=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo"
fi

if [ -z "$missing" ]; then
    echo "setup: all packages present"
    if [ "${THEATER_NO_INSTALL:-0}" != "1" ]; then
        npm_setup
    fi
    exit 0
fi

echo "setup: missing Debian packages:$missing"
if [ "${THEATER_NO_INSTALL:-0}" = "1" ]; then
    echo "setup: THEATER_NO_INSTALL=1, not installing; run:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y$missing" >&2
    exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO="sudo"
    else
        echo "setup: not root; install them with:" >&2
        echo "  sudo apt-get update && sudo apt-get install -y$missing" >&2
        exit 1
    fi
else
    SUDO=""
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing
echo "setup: installed$missing"
npm_setup
