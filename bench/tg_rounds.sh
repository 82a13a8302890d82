#!/bin/sh
# tg_rounds.sh: generation speed (tg128) of frugal and a peer's llama-bench, alternated over
# several rounds on the same files and threads, and the ratio of the medians. On a shared
# machine whose memory bandwidth moves from minute to minute, one run of each engine can land
# in different states; alternating and taking medians puts both engines in the same ones.
#
# -b: also each engine's share of the read bandwidth, measured next to its own runs. The
# bandwidth (`frugal bench --membw`, best of 2 x 5 streaming reads of 1 GiB) is probed before
# the first run and after every run, so that each run sits between two probes; a run's share is
# its tg rate x the weight bytes a token reads (frugal info's active_bytes) / the larger of its
# two probes, and each engine's figure is the median of its runs' shares. Both engines are
# treated alike; a ceiling probed minutes away (compare.sh's largest probe of the whole run)
# can come from another state of the VM.
#
# usage: LLAMA_BENCH=/path/to/llama-bench sh bench/tg_rounds.sh [-t THREADS] [-n ROUNDS] [-b] MODEL.gguf...
# (FRUGAL_ISA and the like pass through to frugal; nothing here fetches or builds the peer.)
set -eu
T=2
N=5
B=0
while [ $# -gt 0 ]; do
    case "$1" in
    -t) T="$2"; shift 2 ;;
    -n) N="$2"; shift 2 ;;
    -b) B=1; shift ;;
    *) break ;;
    esac
done
FRUGAL=${FRUGAL:-build/frugal}
: "${LLAMA_BENCH:?set LLAMA_BENCH to a llama-bench binary}"
. "$(dirname "$0")/lib.sh" # median, json_num, ratio
probe() { "$FRUGAL" bench --membw -t "$T" --json | tail -n 1 | json_num membw_gbps; }
# the share (%) of a run at RATE t/s between probes P0 and P1 GB/s, AB bytes per token
share() {
    awk -v r="$1" -v ab="$2" -v p0="$3" -v p1="$4" \
        'BEGIN { p = p0 > p1 ? p0 : p1; printf "%.1f", (p > 0 ? 100 * r * ab / (p * 1e9) : 0) }'
}
if [ "$B" -eq 1 ]; then
    printf '| model | rounds | frugal tg128 median | llama.cpp tg128 median | ratio | frugal %% of membw (median) '
    printf '| llama.cpp %% of membw (median) | frugal all | llama.cpp all | probes (GB/s) |\n'
    printf '|---|---|---|---|---|---|---|---|---|---|\n'
else
    printf '| model | rounds | frugal tg128 median | llama.cpp tg128 median | ratio | frugal all | llama.cpp all |\n'
    printf '|---|---|---|---|---|---|---|\n'
fi
for m in "$@"; do
    fa=""
    la=""
    fs=""
    ls=""
    ps=""
    ab=0
    if [ "$B" -eq 1 ]; then
        ab=$("$FRUGAL" info -m "$m" --json | tr -d '\n ' | json_num active_bytes)
        p=$(probe)
        ps="$p"
    fi
    i=0
    while [ "$i" -lt "$N" ]; do
        f=$("$FRUGAL" bench -m "$m" -t "$T" -p 0 -n 128 -r 1 --json | tail -n 1 | json_num tg_tps)
        if [ "$B" -eq 1 ]; then
            q=$(probe)
            fs="$fs $(share "$f" "$ab" "$p" "$q")"
            p=$q
            ps="$ps $p"
        fi
        l=$("$LLAMA_BENCH" -m "$m" -t "$T" -p 0 -n 128 -r 1 -o json 2>/dev/null | tr -d '\n ' |
            sed -n 's/.*"n_gen":128,[^}]*"avg_ts":\([0-9.]*\).*/\1/p')
        if [ "$B" -eq 1 ]; then
            q=$(probe)
            ls="$ls $(share "$l" "$ab" "$p" "$q")"
            p=$q
            ps="$ps $p"
        fi
        fa="$fa $(printf '%.2f' "$f")"
        la="$la $(printf '%.2f' "$l")"
        i=$((i + 1))
    done
    fm=$(echo "$fa" | median %.2f)
    lm=$(echo "$la" | median %.2f)
    ratio=$(ratio "$fm" "$lm")
    if [ "$B" -eq 1 ]; then
        printf '| %s | %s | %s | %s | %s | %s | %s |%s |%s | %s |\n' "$(basename "$m")" "$N" "$fm" "$lm" "$ratio" \
            "$(echo "$fs" | median %.2f)" "$(echo "$ls" | median %.2f)" "$fa" "$la" "$(echo "$ps" | xargs printf " %.1f")"
    else
        printf '| %s | %s | %s | %s | %s |%s |%s |\n' "$(basename "$m")" "$N" "$fm" "$lm" "$ratio" "$fa" "$la"
    fi
done
