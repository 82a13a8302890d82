#!/bin/sh
# setup.sh: install what frugal needs to build and test, where we can.
# Needs: a C compiler (gcc or clang), make, and Debian's libjansson-dev (JSON),
# libonig-dev (Oniguruma: the tokenizers' regexes), libutf8proc-dev (NFC/NFKC) and
# libedit-dev (line editing in `frugal chat`; BSD licensed) and libmicrohttpd-dev (the HTTP
# server of `frugal serve`); on x86-64 also gcc-aarch64-linux-gnu, libc6-dev-arm64-cross and
# qemu-user-static (the AArch64 build and its NEON kernels, tested under emulation);
# the tests also use python3 and python3-jinja2 (the chat-template reference), and, where
# node and npm exist, the pinned npm packages of package-lock.json (the tokenizer reference).
# Installs missing Debian packages with apt-get when running as root (or with
# passwordless sudo); otherwise prints the exact command to run and fails.
set -u
missing=""
command -v cc >/dev/null 2>&1 || command -v gcc >/dev/null 2>&1 || missing="$missing gcc"
command -v make >/dev/null 2>&1 || missing="$missing make"
command -v pkg-config >/dev/null 2>&1 || missing="$missing pkg-config"
[ -f /usr/include/jansson.h ] || missing="$missing libjansson-dev"
[ -f /usr/include/oniguruma.h ] || missing="$missing libonig-dev"
[ -f /usr/include/utf8proc.h ] || missing="$missing libutf8proc-dev"
[ -f /usr/include/editline/readline.h ] || missing="$missing libedit-dev"
[ -f /usr/include/microhttpd.h ] || missing="$missing libmicrohttpd-dev"
# the server's web-page test drives Debian's chromium with playwright-core (npm)
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
# the terminal-chat test drives `frugal chat` through a pseudo-terminal with tmux
command -v tmux >/dev/null 2>&1 || missing="$missing tmux"
# on x86-64, the AArch64 build's NEON kernels are tested too: cross-compiled, run under qemu
if [ "$(uname -m)" = x86_64 ]; then
    command -v aarch64-linux-gnu-gcc >/dev/null 2>&1 || missing="$missing gcc-aarch64-linux-gnu"
    # its C library headers and static libc: only a Recommends of gcc-aarch64-linux-gnu, which
    # --no-install-recommends below leaves out (a fresh machine then fails on <stdio.h>)
    [ -f /usr/aarch64-linux-gnu/include/stdio.h ] || missing="$missing libc6-dev-arm64-cross"
    command -v qemu-aarch64-static >/dev/null 2>&1 || missing="$missing qemu-user-static"
fi
# the chat-template tests compare with Python's jinja2 (Debian's python3 and python3-jinja2)
[ -x /usr/bin/python3 ] || missing="$missing python3"
/usr/bin/python3 -c 'import jinja2' >/dev/null 2>&1 || missing="$missing python3-jinja2"
# The tokenizer tests compare with transformers.js (npm @lenml/tokenizers, pinned in
# package-lock.json). Installed when node and npm exist; without them those tests say SKIPPED,
# and with CI=true they fail.
npm_oracles() {
    command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || return 0
    root=$(cd "$(dirname "$0")/.." && pwd)
    [ -f "$root/package-lock.json" ] || return 0
    if [ ! -f "$root/node_modules/.package-lock.json" ] || [ "$root/package-lock.json" -nt "$root/node_modules/.package-lock.json" ]; then
        echo "frugal setup: npm ci (tokenizer test references)"
        (cd "$root" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) ||
            echo "frugal setup: npm ci failed; the tokenizer reference tests will not run" >&2
    fi
    return 0
}
if [ -z "$missing" ]; then
    npm_oracles
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
npm_oracles
