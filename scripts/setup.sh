#!/bin/sh
# setup.sh: install what frugal needs to build and test, where we can.
# Needs: a C compiler (gcc or clang), make, and Debian's libjansson-dev (JSON).
# Installs missing Debian packages with apt-get when running as root (or with
# passwordless sudo); otherwise prints the exact command to run and fails.
set -u
missing=""
command -v cc >/dev/null 2>&1 || command -v gcc >/dev/null 2>&1 || missing="$missing gcc"
command -v make >/dev/null 2>&1 || missing="$missing make"
command -v pkg-config >/dev/null 2>&1 || missing="$missing pkg-config"
[ -f /usr/include/jansson.h ] || missing="$missing libjansson-dev"
if [ -z "$missing" ]; then
    exit 0
fi
echo "frugal setup: installing missing Debian packages:$missing"
if ! command -v apt-get >/dev/null 2>&1; then
    echo "frugal setup: apt-get not found. Install these packages with your package manager:$missing" >&2
    exit 1
fi
if [ "$(id -u)" = 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
else
    echo "frugal setup: not root. Run:  sudo apt-get install -y$missing" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC2086
$SUDO apt-get install -y --no-install-recommends $missing >/dev/null 2>&1 ||
    { $SUDO apt-get update >/dev/null 2>&1 && $SUDO apt-get install -y --no-install-recommends $missing; } || {
    echo "frugal setup: apt-get failed. Run:  sudo apt-get install -y$missing" >&2
    exit 1
}
