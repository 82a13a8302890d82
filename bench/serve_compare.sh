#!/bin/sh
# serve_compare.sh: `frugal serve` next to llama.cpp's llama-server on the same model file, the
# same threads and the same number of slots (--parallel = the number of concurrent streams),
# one after the other in one run. Reports aggregate generation t/s and mean time to first token
# (bench/serve_bench.mjs) at each concurrency, and the ratios. The peer is whatever llama-server
# binary you point to (build it yourself; nothing here fetches or builds it).
#
# usage: [LLAMA_SERVER=/path/to/llama-server] sh bench/serve_compare.sh [-t THREADS] [-n MAX_TOKENS]
#        [-r REQUESTS_PER_CLIENT] [-c "1 4 16"] MODEL.gguf
set -eu
T=2
N=64
R=2
CONC="1 4 16"
CTX=512 # per slot
while [ $# -gt 0 ]; do
    case "$1" in
    -t) T="$2"; shift 2 ;;
    -n) N="$2"; shift 2 ;;
    -r) R="$2"; shift 2 ;;
    -c) CONC="$2"; shift 2 ;;
    *) break ;;
    esac
done
MODEL="$1"
FRUGAL=${FRUGAL:-build/frugal}
. "$(dirname "$0")/lib.sh" # ratio
LOG=$(mktemp)
trap 'rm -f "$LOG"' EXIT

wait_up() { # wait_up URL PID
    i=0
    while ! curl -sf "$1/health" >/dev/null 2>&1; do
        i=$((i + 1))
        if [ $i -gt 600 ] || ! kill -0 "$2" 2>/dev/null; then echo "server did not come up: $(tail -3 "$LOG")" >&2; return 1; fi
        sleep 0.2
    done
}
field() { printf '%s' "$1" | sed -n "s/.*\"$2\":\([0-9.]*\).*/\1/p"; }

printf '| streams | frugal gen t/s | llama-server gen t/s | ratio | frugal TTFT ms | llama-server TTFT ms |\n|---|---|---|---|---|---|\n'
# ports of this run: two servers' closed connections linger in TIME-WAIT for a minute, and a
# socket of one server there can keep another (or the next run) from binding the same port.
# 20000-29999: below Linux's ephemeral range (32768 up), where clients' own ports come from.
BASE=$((20000 + ($$ % 250) * 40))
for c in $CONC; do
    port=$((BASE + c))
    "$FRUGAL" serve -m "$MODEL" -t "$T" --parallel "$c" --ctx "$CTX" --port "$port" 2>"$LOG" &
    pid=$!
    wait_up "http://127.0.0.1:$port" "$pid"
    node bench/serve_bench.mjs "http://127.0.0.1:$port" 1 1 8 >/dev/null # warm-up
    f=$(node bench/serve_bench.mjs "http://127.0.0.1:$port" "$c" "$R" "$N")
    kill -TERM "$pid"; wait "$pid" || true
    l=""
    if [ -n "${LLAMA_SERVER:-}" ]; then
        port=$((BASE + 20 + c))
        "$LLAMA_SERVER" -m "$MODEL" -t "$T" -np "$c" -c $((CTX * c)) --port "$port" >"$LOG" 2>&1 &
        pid=$!
        wait_up "http://127.0.0.1:$port" "$pid"
        node bench/serve_bench.mjs "http://127.0.0.1:$port" 1 1 8 >/dev/null
        l=$(node bench/serve_bench.mjs "http://127.0.0.1:$port" "$c" "$R" "$N")
        kill -TERM "$pid"; wait "$pid" || true
    fi
    ft=$(field "$f" gen_tps); lt=$(field "$l" gen_tps)
    fq=$(field "$f" ttft_ms_mean); lq=$(field "$l" ttft_ms_mean)
    ratio=$(ratio "$ft" "$lt")
    printf '| %s | %s | %s | %s | %s | %s |\n' "$c" "$ft" "${lt:-?}" "$ratio" "$fq" "${lq:-?}"
done
