#!/bin/sh
# batched_compare.sh: batched decode, `frugal bench --seqs N` next to llama.cpp's
# llama-batched-bench (-npp 128 -ntg 32 -npl N) on the same file and threads, in one run:
# aggregate generation t/s of N sequences decoded together, and the ratio. The peer is the
# llama-batched-bench binary you point to (build it yourself; nothing here builds it).
# llama-batched-bench feeds token id 0 at every prompt position and every decode step of every
# sequence, so its N sequences are one sequence N times (a MoE model routes all N rows to the
# same experts). frugal runs twice: with `--tokens zero`, the peer's work, which gives the
# ratio; and with its default distinct random tokens per sequence (a server's different
# requests: a MoE model then reads the union of N rows' experts), shown beside it against the
# same peer figure, which is the harder work for frugal.
#
# usage: LLAMA_BATCHED_BENCH=/path/to/llama-batched-bench sh bench/batched_compare.sh
#        [-t THREADS] [-s "1 4 8"] [-a ROUNDS] MODEL.gguf...
# -a N: N rounds per file, the two engines' order alternating (the peer first in odd rounds,
# frugal first in even ones), each engine's median of its N results and the ratio of the
# medians (per-round results to stderr): batched decode reads much of the memory bandwidth,
# and on a shared VM whose bandwidth drifts within minutes one pair of runs can straddle a dip.
set -eu
T=2
SEQS="1 4 8"
A=1
while [ $# -gt 0 ]; do
    case "$1" in
    -t) T="$2"; shift 2 ;;
    -s) SEQS="$2"; shift 2 ;;
    -a) A="$2"; shift 2 ;;
    *) break ;;
    esac
done
FRUGAL=${FRUGAL:-build/frugal}
: "${LLAMA_BATCHED_BENCH:?set LLAMA_BATCHED_BENCH to a llama-batched-bench binary}"
. "$(dirname "$0")/lib.sh" # median, json_num, ratio
# the peer's S_TG (aggregate generation t/s) at s sequences from its output $lout
# (llama-batched-bench rows: | PP | TG | B | N_KV | T_PP | S_PP | T_TG | S_TG | T | S |)
peer_tg() { printf '%s\n' "$lout" | awk -F'|' -v b="$1" '$4 + 0 == b && $2 + 0 == 128 { gsub(/ /, "", $9); print $9 }' | head -1; }
# frugal's aggregate generation t/s at $2 sequences, token ids $3 (zero or random)
frugal_tg() {
    "$FRUGAL" bench -m "$1" -t "$T" --seqs "$2" -p 128 -n 32 --tokens "$3" --json | tail -n 1 | json_num tg_tps
}
printf '| model | seqs | frugal gen t/s | llama.cpp gen t/s | ratio | frugal, distinct tokens | ratio, distinct |\n'
printf '|---|---|---|---|---|---|---|\n'
npl=$(echo "$SEQS" | tr ' ' ',')
for m in "$@"; do
    name=$(basename "$m")
    i=0
    for s in $SEQS; do eval "f_$i=''; d_$i=''; l_$i=''"; i=$((i + 1)); done
    r=1
    while [ "$r" -le "$A" ]; do
        for side in peer frugal; do
            # odd rounds: the peer first; even rounds: frugal first
            if [ $((r % 2)) -eq 0 ]; then [ "$side" = peer ] && side=frugal || side=peer; fi
            if [ "$side" = peer ]; then
                lout=$("$LLAMA_BATCHED_BENCH" -m "$m" -t "$T" -npp 128 -ntg 32 -npl "$npl" -c 8192 2>/dev/null)
                i=0
                for s in $SEQS; do
                    l=$(peer_tg "$s")
                    eval "l_$i=\"\$l_$i ${l:-}\""
                    if [ "$A" -gt 1 ]; then echo "round $r $name seqs $s llama.cpp ${l:-?}" >&2; fi
                    i=$((i + 1))
                done
            else
                i=0
                for s in $SEQS; do
                    f=$(frugal_tg "$m" "$s" zero)
                    d=$(frugal_tg "$m" "$s" random)
                    eval "f_$i=\"\$f_$i $f\"; d_$i=\"\$d_$i $d\""
                    if [ "$A" -gt 1 ]; then echo "round $r $name seqs $s frugal $f distinct $d" >&2; fi
                    i=$((i + 1))
                done
            fi
        done
        r=$((r + 1))
    done
    i=0
    for s in $SEQS; do
        f=$(eval "echo \$f_$i" | median)
        d=$(eval "echo \$d_$i" | median)
        l=$(eval "echo \$l_$i" | median)
        printf '| %s | %s | %.1f | %s | %s | %.1f | %s |\n' "$name" "$s" "$f" "${l:-?}" "$(ratio "$f" "$l")" "$d" \
            "$(ratio "$d" "$l")"
        i=$((i + 1))
    done
done
