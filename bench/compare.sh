#!/bin/sh
# compare.sh: frugal bench next to a peer's llama-bench, on the same files, same threads, in
# one run, the ratio frugal / peer, and each side's share of the machine's ceiling (below).
# The peer is whatever llama-bench binary you point to (build it yourself; nothing here
# fetches or builds it).
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
. "$(dirname "$0")/lib.sh" # median, json_num
run_frugal() {
    # shellcheck disable=SC2086 # word splitting of the extra options is intended
    "$FRUGAL" bench -m "$1" -t "$T" -r "$R" ${FRUGAL_ARGS:-} --json | tail -n 1
}
run_llama() {
    # shellcheck disable=SC2086
    "$LLAMA_BENCH" -m "$1" -t "$T" -r "$R" ${LLAMA_ARGS:-} -o json 2>/dev/null | tr -d '\n '
}
# The machine's ceilings, probed by frugal before the runs and after each file, the largest of
# each kept (a VM's bandwidth and clock drift within minutes; a probe in a dip would make a
# ceiling the engines exceed): each side's % of ceiling is its tg rate x the weight bytes a
# token reads (frugal info's active_bytes) / membw, and its pp rate x 2 x the multiply-adds of a
# prompt token's matrix products (n_params_layer_matrices) / the FP32 FMA peak (files mostly of
# F16 or F32 weights; BF16 too where the CPU has no BF16 dot product, else that one's peak,
# bf16_gflops) or the int8 dot-product peak (the others). Attention, norms and the
# output matrix are left out, so pp's % is a lower bound. FRUGAL_ISA, if set, caps the probes too.
probe() { "$FRUGAL" bench "$@" -t "$T" --json | tail -n 1; }
p0=$(probe --membw --flops)
BW0=$(printf '%s' "$p0" | json_num membw_gbps)
FP32=$(printf '%s' "$p0" | json_num fp32_gflops)
INT8=$(printf '%s' "$p0" | json_num int8_gops)
BF16=$(printf '%s' "$p0" | json_num bf16_gflops)
rows=""
BWS="$BW0" FPS="$FP32" I8S="$INT8" BFS="$BF16"
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
    pj=$(probe --membw --flops)
    BWS="$BWS $(printf '%s' "$pj" | json_num membw_gbps)"
    FPS="$FPS $(printf '%s' "$pj" | json_num fp32_gflops)"
    I8S="$I8S $(printf '%s' "$pj" | json_num int8_gops)"
    BFS="$BFS $(printf '%s' "$pj" | json_num bf16_gflops)"
    info=$("$FRUGAL" info -m "$m" --json | tr -d '\n ')
    ab=$(printf '%s' "$info" | json_num active_bytes)
    mp=$(printf '%s' "$info" | json_num n_params_layer_matrices)
    # the type holding the most bytes: {"TYPE":{"tensors":N,"bytes":B},...}
    big=$(printf '%s' "$info" | sed 's/.*"types":{\(.*\)}.*/\1/' | tr '}' '\n' |
        sed -n 's/^,*"\([A-Z0-9_a-z]*\)":{"tensors":[0-9]*,"bytes":\([0-9]*\).*/\2 \1/p' |
        sort -n | tail -n 1 | cut -d' ' -f2)
    case "$big" in F16 | F32) peak=fp32 ;; BF16) peak=bf16 ;; *) peak=int8 ;; esac
    for test in pp tg; do
        if [ "$test" = pp ]; then
            f=$(echo "$fpp" | median) l=$(echo "$lpp" | median)
        else
            f=$(echo "$ftg" | median) l=$(echo "$ltg" | median)
        fi
        rows="$rows$(basename "$m") $test $f ${l:-?} $ab $mp $peak
"
    done
done
largest() { tr ' ' '\n' | grep . | sort -g | tail -n 1; }
BW=$(echo "$BWS" | largest) FP32=$(echo "$FPS" | largest) INT8=$(echo "$I8S" | largest) BF16=$(echo "$BFS" | largest)
echo "ceilings (the largest of the probes before the runs and after each file): membw $BW GB/s ($BWS), fp32 $FP32 GFLOP/s ($FPS), int8 $INT8 GOP/s ($I8S)${BF16:+, bf16 $BF16 GFLOP/s ($BFS)}" >&2
printf '| model | test | frugal t/s | llama.cpp t/s | ratio | frugal %% of ceiling | llama.cpp %% of ceiling |\n'
printf '|---|---|---|---|---|---|---|\n'
printf '%s' "$rows" | while read -r name test f l ab mp kind; do
    # BF16 files: the BF16 dot-product peak where the CPU has one (AVX512_BF16), else FP32's
    case "$kind" in fp32) peak=$FP32 ;; bf16) peak=${BF16:-$FP32} ;; *) peak=$INT8 ;; esac
    awk -v n="$name" -v t="$test" -v f="$f" -v l="$l" -v ab="$ab" -v mp="$mp" -v pk="$peak" -v bw="$BW" 'BEGIN {
        ratio = (l + 0 > 0) ? sprintf("%.2f", f / l) : "?"
        # % of ceiling: tg of membw, pp of the arithmetic peak ("?" where a figure is missing)
        if (t == "tg") { den = bw * 1e9; per = ab + 0 } else { den = pk * 1e9; per = 2 * mp }
        pf = (den > 0 && per > 0) ? sprintf("%.0f%%", 100 * f * per / den) : "?"
        pl = (den > 0 && per > 0 && l + 0 > 0) ? sprintf("%.0f%%", 100 * l * per / den) : "?"
        printf "| %s | %s | %.2f | %s | %s | %s | %s |\n", n, t, f, l, ratio, pf, pl
    }'
done
