#!/bin/sh
# compare.sh: frugal bench next to a peer's llama-bench, on the same files, same threads, in
# one run, and the ratio frugal / peer. The peer is whatever llama-bench binary you point
# to (build it yourself; nothing here fetches or builds it).
#
# usage: LLAMA_BENCH=/path/to/llama-bench sh bench/compare.sh [-t THREADS] [-r REPS] [-a ROUNDS] MODEL.gguf...
# FRUGAL_ARGS and LLAMA_ARGS add options to each side, e.g. a Q8_0 KV cache:
#   FRUGAL_ARGS="--kv-type q8_0" LLAMA_ARGS="-fa 1 -ctk q8_0 -ctv q8_0" (llama.cpp needs flash
#   attention for a quantized V cache)
# Models come from `build/frugal synth SHAPE --type TYPE -o FILE` (never committed).
# -a N: N rounds, the two engines' order alternating (frugal first in odd rounds, the peer first
# in even ones), each engine's median of its N results (per-round results to stderr): on a
# shared VM whose bandwidth drifts within minutes, one pair of runs can straddle a dip.
set -eu
T=2
R=3
A=1
while [ $# -gt 0 ]; do
    case "$1" in
    -t) T="$2"; shift 2 ;;
    -r) R="$2"; shift 2 ;;
    -a) A="$2"; shift 2 ;;
    *) break ;;
    esac
done
FRUGAL=${FRUGAL:-build/frugal}
: "${LLAMA_BENCH:?set LLAMA_BENCH to a llama-bench binary}"
median() { tr ' ' '\n' | grep . | sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print ""; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.6f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
run_frugal() {
    # shellcheck disable=SC2086 # word splitting of the extra options is intended
    "$FRUGAL" bench -m "$1" -t "$T" -r "$R" ${FRUGAL_ARGS:-} --json | tail -n 1
}
run_llama() {
    # shellcheck disable=SC2086
    "$LLAMA_BENCH" -m "$1" -t "$T" -r "$R" ${LLAMA_ARGS:-} -o json 2>/dev/null | tr -d '\n '
}
printf '| model | test | frugal t/s | llama.cpp t/s | ratio |\n|---|---|---|---|---|\n'
for m in "$@"; do
    fpp="" ftg="" lpp="" ltg="" i=1
    while [ "$i" -le "$A" ]; do
        if [ $((i % 2)) -eq 1 ]; then
            fj=$(run_frugal "$m")
            lj=$(run_llama "$m")
        else
            lj=$(run_llama "$m")
            fj=$(run_frugal "$m")
        fi
        fp=$(printf '%s' "$fj" | sed -n 's/.*"pp_tps": *\([0-9.]*\).*/\1/p')
        ft=$(printf '%s' "$fj" | sed -n 's/.*"tg_tps": *\([0-9.]*\).*/\1/p')
        lp=$(printf '%s' "$lj" | sed -n 's/.*"n_prompt":512,"n_gen":0,[^}]*"avg_ts":\([0-9.]*\).*/\1/p')
        lt=$(printf '%s' "$lj" | sed -n 's/.*"n_prompt":0,"n_gen":128,[^}]*"avg_ts":\([0-9.]*\).*/\1/p')
        [ "$A" -gt 1 ] && echo "$(basename "$m") round $i: pp $fp / ${lp:-?}, tg $ft / ${lt:-?}" >&2
        fpp="$fpp $fp" ftg="$ftg $ft" lpp="$lpp $lp" ltg="$ltg $lt"
        i=$((i + 1))
    done
    for test in pp tg; do
        if [ "$test" = pp ]; then
            f=$(echo "$fpp" | median) l=$(echo "$lpp" | median)
        else
            f=$(echo "$ftg" | median) l=$(echo "$ltg" | median)
        fi
        ratio=$(awk -v a="$f" -v b="$l" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "?" }')
        printf '| %s | %s | %.2f | %s | %s |\n' "$(basename "$m")" "$test" "$f" "${l:-?}" "$ratio"
    done
done
