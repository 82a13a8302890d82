#!/bin/sh
# depth_compare.sh: long context, frugal next to llama.cpp's llama-batched-bench on the same
# file and threads, in one run: a prompt of N tokens (frugal bench -p N; llama-batched-bench's
# S_PP at -npp N) and G tokens generated after N tokens of context (frugal bench -d N -p 0
# -n G; llama-batched-bench's S_TG at -npp N -ntg G -npl 1), t/s and ratios. The peer is the
# llama-batched-bench binary you point to (build it yourself; nothing here builds it).
# FRUGAL_ISA and frugal's other environment switches apply to frugal as usual.
# llama-batched-bench's prompt is token id 0 at every position; frugal gets the same
# (`--tokens zero`) for the ratios, and its prompt rate on its default random tokens is shown
# last: a MoE model sends N equal tokens to one token's experts, N random ones to all of them.
#
# usage: LLAMA_BATCHED_BENCH=/path/to/llama-batched-bench sh bench/depth_compare.sh
#        [-t THREADS] [-d "1024 4096"] [-n 64] [--kv-type f16|q8_0] MODEL.gguf...
set -eu
T=2
DEPTHS="4096"
G=64
KV=f16
while [ $# -gt 0 ]; do
    case "$1" in
    -t) T="$2"; shift 2 ;;
    -d) DEPTHS="$2"; shift 2 ;;
    -n) G="$2"; shift 2 ;;
    --kv-type) KV="$2"; shift 2 ;;
    *) break ;;
    esac
done
FRUGAL=${FRUGAL:-build/frugal}
: "${LLAMA_BATCHED_BENCH:?set LLAMA_BATCHED_BENCH to a llama-batched-bench binary}"
case "$KV" in
f16) LKV="" ;;
q8_0) LKV="-ctk q8_0 -ctv q8_0 -fa" ;; # (llama.cpp quantizes V only with flash attention)
*) echo "depth_compare.sh: --kv-type $KV: expected f16 or q8_0" >&2; exit 2 ;;
esac
. "$(dirname "$0")/lib.sh" # json_num, ratio
# frugal bench on model $m with this script's threads and cache, its --json line
fb() { "$FRUGAL" bench -m "$m" -t "$T" -r 1 --kv-type "$KV" --json "$@" | tail -n 1; }
printf '| model | depth | KV | frugal pp t/s | llama.cpp pp t/s | ratio | frugal tg t/s | llama.cpp tg t/s | ratio |'
printf ' frugal pp t/s, random tokens |\n|---|---|---|---|---|---|---|---|---|---|\n'
for m in "$@"; do
    for d in $DEPTHS; do
        # shellcheck disable=SC2086 # (LKV: several words or none)
        lout=$("$LLAMA_BATCHED_BENCH" -m "$m" -t "$T" -c $((d + G + 64)) -b 2048 -ub 512 -npp "$d" -ntg "$G" -npl 1 \
            $LKV 2>/dev/null)
        # llama-batched-bench rows: | PP | TG | B | N_KV | T_PP | S_PP | T_TG | S_TG | T | S |
        lpp=$(printf '%s\n' "$lout" | awk -F'|' -v n="$d" '$2 + 0 == n { gsub(/ /, "", $7); print $7 }' | head -1)
        ltg=$(printf '%s\n' "$lout" | awk -F'|' -v n="$d" '$2 + 0 == n { gsub(/ /, "", $9); print $9 }' | head -1)
        fpp=$(fb -p "$d" -n 0 --tokens zero | json_num pp_tps)
        ftg=$(fb -d "$d" -p 0 -n "$G" --tokens zero | json_num tg_tps)
        frp=$(fb -p "$d" -n 0 | json_num pp_tps)
        printf '| %s | %s | %s | %.2f | %s | %s | %.2f | %s | %s | %.2f |\n' "$(basename "$m")" "$d" "$KV" "$fpp" \
            "${lpp:-?}" "$(ratio "$fpp" "$lpp")" "$ftg" "${ltg:-?}" "$(ratio "$ftg" "$ltg")" "$frp"
    done
done
