#!/bin/sh
# tg_rounds.sh: generation speed (tg128) of frugal and a peer's llama-bench, alternated over
# several rounds on the same files and threads, and the ratio of the medians. On a shared
# machine whose memory bandwidth moves from minute to minute, one run of each engine can land
# in different states; alternating and taking medians puts both engines in the same ones.
#
# usage: LLAMA_BENCH=/path/to/llama-bench sh bench/tg_rounds.sh [-t THREADS] [-n ROUNDS] MODEL.gguf...
# (FRUGAL_ISA and the like pass through to frugal; nothing here fetches or builds the peer.)
set -eu
T=2
N=5
while [ $# -gt 0 ]; do
    case "$1" in
    -t) T="$2"; shift 2 ;;
    -n) N="$2"; shift 2 ;;
    *) break ;;
    esac
done
FRUGAL=${FRUGAL:-build/frugal}
: "${LLAMA_BENCH:?set LLAMA_BENCH to a llama-bench binary}"
median() { tr ' ' '\n' | grep . | sort -g | awk '{v[NR] = $1} END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
printf '| model | rounds | frugal tg128 median | llama.cpp tg128 median | ratio | frugal all | llama.cpp all |\n'
printf '|---|---|---|---|---|---|---|\n'
for m in "$@"; do
    fa=""
    la=""
    i=0
    while [ "$i" -lt "$N" ]; do
        f=$("$FRUGAL" bench -m "$m" -t "$T" -p 0 -n 128 -r 1 --json | tail -n 1 | sed -n 's/.*"tg_tps":\([0-9.]*\).*/\1/p')
        l=$("$LLAMA_BENCH" -m "$m" -t "$T" -p 0 -n 128 -r 1 -o json 2>/dev/null | tr -d '\n ' |
            sed -n 's/.*"n_gen":128,[^}]*"avg_ts":\([0-9.]*\).*/\1/p')
        fa="$fa $(printf '%.2f' "$f")"
        la="$la $(printf '%.2f' "$l")"
        i=$((i + 1))
    done
    fm=$(echo "$fa" | median)
    lm=$(echo "$la" | median)
    ratio=$(awk -v a="$fm" -v b="$lm" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "?" }')
    printf '| %s | %s | %s | %s | %s |%s |%s |\n' "$(basename "$m")" "$N" "$fm" "$lm" "$ratio" "$fa" "$la"
done
