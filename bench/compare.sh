#!/bin/sh
# compare.sh: frugal bench next to a peer's llama-bench, on the same files, same threads, in
# one run, and the ratio frugal / peer. The peer is whatever llama-bench binary you point
# to (build it yourself; nothing here fetches or builds it).
#
# usage: LLAMA_BENCH=/path/to/llama-bench sh bench/compare.sh [-t THREADS] [-r REPS] MODEL.gguf...
# FRUGAL_ARGS and LLAMA_ARGS add options to each side, e.g. a Q8_0 KV cache:
#   FRUGAL_ARGS="--kv-type q8_0" LLAMA_ARGS="-fa 1 -ctk q8_0 -ctv q8_0" (llama.cpp needs flash
#   attention for a quantized V cache)
# Models come from `build/frugal synth SHAPE --type TYPE -o FILE` (never committed).
set -eu
T=2
R=3
while [ $# -gt 0 ]; do
    case "$1" in
    -t) T="$2"; shift 2 ;;
    -r) R="$2"; shift 2 ;;
    *) break ;;
    esac
done
FRUGAL=${FRUGAL:-build/frugal}
: "${LLAMA_BENCH:?set LLAMA_BENCH to a llama-bench binary}"
printf '| model | test | frugal t/s | llama.cpp t/s | ratio |\n|---|---|---|---|---|\n'
for m in "$@"; do
    # shellcheck disable=SC2086 # word splitting of the extra options is intended
    fj=$("$FRUGAL" bench -m "$m" -t "$T" -r "$R" ${FRUGAL_ARGS:-} --json | tail -n 1)
    # shellcheck disable=SC2086
    lj=$("$LLAMA_BENCH" -m "$m" -t "$T" -r "$R" ${LLAMA_ARGS:-} -o json 2>/dev/null)
    for test in pp tg; do
        f=$(printf '%s' "$fj" | sed -n "s/.*\"${test}_tps\": *\([0-9.]*\).*/\1/p")
        if [ "$test" = pp ]; then l=$(printf '%s' "$lj" | tr -d '\n ' | sed -n 's/.*"n_prompt":512,"n_gen":0,[^}]*"avg_ts":\([0-9.]*\).*/\1/p'); fi
        if [ "$test" = tg ]; then l=$(printf '%s' "$lj" | tr -d '\n ' | sed -n 's/.*"n_prompt":0,"n_gen":128,[^}]*"avg_ts":\([0-9.]*\).*/\1/p'); fi
        ratio=$(awk -v a="$f" -v b="$l" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "?" }')
        printf '| %s | %s | %.2f | %s | %s |\n' "$(basename "$m")" "$test" "$f" "${l:-?}" "$ratio"
    done
done
