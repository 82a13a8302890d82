#!/bin/sh
# env_ab.sh: frugal alone, one environment switch at two (or more) settings, alternated over
# several rounds of the same `frugal bench` command, and each setting's median. The vendor
# defaults of FRUGAL_STREAMS_PREFETCH, FRUGAL_DECODE_PREFETCH, FRUGAL_KQUANT_STREAMS and
# FRUGAL_F16_STREAMS / FRUGAL_F16_PREFETCH (README) were each decided by such an A/B on one
# machine type; on a shared machine whose bandwidth moves from minute to minute, alternating
# puts every setting in the same states, and the rounds each setting wins say how clear a
# difference is. Only the speed is compared: those switches give the same bits whatever their
# setting (FRUGAL_ISA=scalar, for one, does not, and nothing here checks results).
#
# usage: sh bench/env_ab.sh [-n ROUNDS] VAR "VALUE1 VALUE2..." BENCH_ARGS...
#   e.g. sh bench/env_ab.sh -n 5 FRUGAL_STREAMS_PREFETCH "0 1" -m ds2lite-q4_0.gguf -t 2 --seqs 4
#        sh bench/env_ab.sh FRUGAL_STREAMS_PREFETCH "0 1" -m tl-q4_0.gguf -t 2 -p 0 -n 128 -r 1
# BENCH_ARGS go to `frugal bench` as they are (with --json added). Each round runs the values
# in turn, the order rotating from round to round; the rounds' figures go to stderr, then a
# Markdown table: per value the medians of tg_tps and pp_tps (pp: where the command has a prompt
# test) and the rounds in which its tg was the best.
set -eu
N=5
while [ $# -gt 0 ]; do
    case "$1" in
    -n) N="$2"; shift 2 ;;
    *) break ;;
    esac
done
if [ $# -lt 3 ]; then
    echo "usage: sh bench/env_ab.sh [-n ROUNDS] VAR \"VALUE1 VALUE2...\" BENCH_ARGS..." >&2
    exit 2
fi
VAR=$1
VALUES=$2
shift 2
case "$VAR" in
FRUGAL_*) ;;
*) echo "env_ab.sh: $VAR: expected one of frugal's FRUGAL_* switches" >&2; exit 2 ;;
esac
case "$N" in
'' | *[!0-9]*) echo "env_ab.sh: -n $N: expected a number of rounds" >&2; exit 2 ;;
esac
FRUGAL=${FRUGAL:-build/frugal}
. "$(dirname "$0")/lib.sh" # median, json_num
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

NV=$(echo $VALUES | wc -w)
r=1
while [ "$r" -le "$N" ]; do
    # this round's order: the values rotated by r - 1
    order=$(echo $VALUES | tr ' ' '\n' | awk -v k="$r" -v n="$NV" '{ v[NR - 1] = $0 }
        END { for (i = 0; i < n; i++) print v[(i + k - 1) % n] }')
    best=""
    best_tg=0
    for v in $order; do
        if ! env "$VAR=$v" "$FRUGAL" bench "$@" --json >"$TMP/out"; then
            echo "env_ab.sh: frugal bench failed with $VAR=$v" >&2
            exit 1
        fi
        out=$(tail -n 1 "$TMP/out")
        tg=$(echo "$out" | json_num tg_tps)
        pp=$(echo "$out" | json_num pp_tps)
        echo "round $r $VAR=$v tg $tg pp $pp" >&2
        echo "$tg" >>"$TMP/tg.$v"
        # (pp_tps is 0 where the command has no prompt test: -p 0)
        if [ -n "$pp" ] && awk -v a="$pp" 'BEGIN { exit !(a > 0) }'; then echo "$pp" >>"$TMP/pp.$v"; fi
        if [ -n "$tg" ] && awk -v a="$tg" -v b="$best_tg" 'BEGIN { exit !(a > b) }'; then
            best=$v
            best_tg=$tg
        fi
    done
    [ -n "$best" ] && echo "$best" >>"$TMP/wins"
    r=$((r + 1))
done

echo "| $VAR | tg t/s (median) | pp t/s (median) | rounds with the best tg |"
echo "|---|---|---|---|"
for v in $VALUES; do
    tg=$(median <"$TMP/tg.$v" | awk 'NF { printf "%.2f", $1 }')
    pp=""
    [ -f "$TMP/pp.$v" ] && pp=$(median <"$TMP/pp.$v" | awk 'NF { printf "%.2f", $1 }')
    wins=$(grep -cx "$v" "$TMP/wins" 2>/dev/null || true)
    echo "| $v | ${tg:--} | ${pp:--} | ${wins:-0} of $N |"
done
