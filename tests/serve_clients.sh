#!/bin/sh
# serve_clients.sh FRUGAL_BIN: `frugal serve` driven by real clients, with the fixture model:
#   serve_openai.mjs  the official openai npm client (+ raw HTTP: auth, errors, SSE framing)
#   serve_web.mjs     the chat page in Debian's chromium through playwright-core
#   serve_load.mjs    16 concurrent streaming clients against --parallel 4; again with
#                     ../shared's tiny DeepSeek-V3 (MLA: every step one forward pass of
#                     prompt-phase and decode-phase sequences), where ../shared exists
# Prints PASS/FAIL per script and exits non-zero if any failed. A missing tool (node, the npm
# packages, chromium) prints "SKIPPED <what> (<why>)"; with CI=true a skip counts as a failure.
# FRUGAL_SANITIZED=1 (ASan builds) shrinks the load test and stretches the timeouts.
BIN="$1"
if [ -z "$BIN" ]; then
    echo "usage: sh tests/serve_clients.sh FRUGAL_BIN" >&2
    exit 2
fi
case "$BIN" in /*) ;; *) BIN="$(pwd)/$BIN" ;; esac
cd "$(dirname "$0")/.." || exit 2
MODEL=tests/data/models/llama3-tiny-F16.gguf
DS_MODEL="${FRUGAL_SHARED:-../shared}/models/ds3-tiny-Q4_K_M.gguf"
failed=0
passed=0
skipped=0
failed_names=""

skip() {   # skip WHAT WHY
    echo "SKIPPED $1 ($2)"
    skipped=$((skipped + 1))
    if [ "$CI" = "true" ]; then
        failed=$((failed + 1))
        failed_names="$failed_names $1(skipped)"
    fi
}

# run NAME SCRIPT SECONDS MODEL [extra args]: one script, with a time limit when timeout(1) exists
run() {
    name="$1"
    script="$2"
    limit="$3"
    model="$4"
    shift 4
    start=$(date +%s)
    if command -v timeout >/dev/null 2>&1; then
        timeout -k 10 "$limit" node "tests/$script.mjs" "$BIN" "$model" "$@"
    else
        node "tests/$script.mjs" "$BIN" "$model" "$@"
    fi
    rc=$?
    secs=$(( $(date +%s) - start ))
    if [ "$rc" -eq 0 ]; then
        passed=$((passed + 1))
        echo "PASS $name (${secs}s)"
    else
        failed=$((failed + 1))
        failed_names="$failed_names $name"
        [ "$rc" -eq 124 ] && echo "$name: killed after ${limit}s"
        echo "FAIL $name (exit $rc, ${secs}s)"
    fi
}

slow=1
[ "$FRUGAL_SANITIZED" = "1" ] && slow=4
if [ ! -x "$BIN" ]; then
    echo "FAIL serve_clients: $BIN is not an executable"
    exit 1
fi
if [ ! -f "$MODEL" ]; then
    echo "FAIL serve_clients: no fixture model $MODEL"
    exit 1
fi
if ! command -v node >/dev/null 2>&1; then
    skip serve_openai "node not found"
    skip serve_web "node not found"
    skip serve_load "node not found"
    skip serve_load_deepseek2 "node not found"
else
    if [ -f node_modules/openai/package.json ]; then
        run serve_openai serve_openai $((180 * slow)) "$MODEL"
    else
        skip serve_openai "node_modules/openai missing: npm ci"
    fi
    if [ ! -f node_modules/playwright-core/package.json ]; then
        skip serve_web "node_modules/playwright-core missing: npm ci"
    elif [ ! -x "${CHROMIUM:-/usr/bin/chromium}" ]; then
        skip serve_web "no chromium at ${CHROMIUM:-/usr/bin/chromium}: apt-get install chromium"
    else
        run serve_web serve_web $((200 * slow)) "$MODEL"
    fi
    run serve_load serve_load $((120 * slow)) "$MODEL"
    if [ -f "$DS_MODEL" ]; then
        run serve_load_deepseek2 serve_load $((120 * slow)) "$DS_MODEL"
    else
        skip serve_load_deepseek2 "no $DS_MODEL (../shared)"
    fi
fi
echo "serve_clients: $passed passed, $failed failed${skipped:+, $skipped skipped}${failed_names:+ (failed:$failed_names)}"
[ "$failed" -eq 0 ]
