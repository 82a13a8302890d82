#!/bin/sh
# batched_compare.sh: batched decode, `frugal bench --seqs N` next to llama.cpp's
# llama-batched-bench (-npp 128 -ntg 32 -npl N) on the same file and threads, in one run:
# aggregate generation t/s of N sequences decoded together, and the ratio. The peer is the
# llama-batched-bench binary you point to (build it yourself; nothing here builds it).
#
# usage: LLAMA_BATCHED_BENCH=/path/to/llama-batched-bench sh bench/batched_compare.sh
#        [-t THREADS] [-s "1 4 8"] MODEL.gguf...
set -eu
T=2
SEQS="1 4 8"
while [ $# -gt 0 ]; do
    case "$1" in
    -t) T="$2"; shift 2 ;;
    -s) SEQS="$2"; shift 2 ;;
    *) break ;;
    esac
done
FRUGAL=${FRUGAL:-build/frugal}
: "${LLAMA_BATCHED_BENCH:?set LLAMA_BATCHED_BENCH to a llama-batched-bench binary}"
printf '| model | seqs | frugal gen t/s | llama.cpp gen t/s | ratio |\n|---|---|---|---|---|\n'
for m in "$@"; do
    npl=$(echo "$SEQS" | tr ' ' ',')
    lout=$("$LLAMA_BATCHED_BENCH" -m "$m" -t "$T" -npp 128 -ntg 32 -npl "$npl" -c 8192 2>/dev/null)
    for s in $SEQS; do
        f=$("$FRUGAL" bench -m "$m" -t "$T" --seqs "$s" -p 128 -n 32 --json | tail -n 1 | sed -n 's/.*"tg_tps":\([0-9.]*\).*/\1/p')
        # llama-batched-bench rows: | PP | TG | B | N_KV | T_PP | S_PP | T_TG | S_TG | T | S |
        l=$(printf '%s\n' "$lout" | awk -F'|' -v b="$s" '$4 + 0 == b && $2 + 0 == 128 { gsub(/ /, "", $9); print $9 }' | head -1)
        ratio=$(awk -v a="$f" -v b="${l:-0}" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "?" }')
        printf '| %s | %s | %.1f | %s | %s |\n' "$(basename "$m")" "$s" "$f" "${l:-?}" "$ratio"
    done
done
