#!/bin/sh
# run.sh: the whole benchmark in one go. Synthesizes the benchmark models (random weights,
# real shapes; never committed) if they are missing, runs frugal on them and, when LLAMA_DIR
# points to a llama.cpp build's bin/ folder (built by you; nothing here builds it), llama.cpp's
# llama-bench / llama-batched-bench next to it, then writes a Markdown table and an SVG chart.
#
# The files are the speed issue's: tinyllama-1.1b in Q4_0, Q8_0, Q4_K_M and F16, and
# deepseek-v2-lite in Q4_0 (8.3 GiB; -q leaves it out).
#
# usage: [LLAMA_DIR=/path/to/llama.cpp/build/bin] sh bench/run.sh [-t THREADS] [-a ROUNDS] [-q]
#                                                                 [-o OUTDIR] [-m MODELDIR]
#   -a ROUNDS (default 1): rounds of each comparison in alternating order, medians (compare.sh -a);
#   -q: tinyllama only;
#   OUTDIR (default build/bench) receives bench.md and bench.svg;
#   MODELDIR (default build/bench/models) holds the synthesized files;
#   VOCAB (default ../shared/tokenizer/ggml-vocab-llama-spm.gguf) gives them a real vocabulary.
set -eu
T=2
A=1
QUICK=0
OUT=build/bench
MD=""
while [ $# -gt 0 ]; do
    case "$1" in
    -t) T="$2"; shift 2 ;;
    -a) A="$2"; shift 2 ;;
    -q) QUICK=1; shift ;;
    -o) OUT="$2"; shift 2 ;;
    -m) MD="$2"; shift 2 ;;
    *) echo "usage: sh bench/run.sh [-t THREADS] [-a ROUNDS] [-q] [-o OUTDIR] [-m MODELDIR]" >&2; exit 2 ;;
    esac
done
MD=${MD:-$OUT/models}
FRUGAL=${FRUGAL:-build/frugal}
VOCAB=${VOCAB:-../shared/tokenizer/ggml-vocab-llama-spm.gguf}
mkdir -p "$OUT" "$MD"
files=""
for ty in Q4_0 Q8_0 Q4_K_M F16; do
    f="$MD/tinyllama-1.1b-$(echo "$ty" | tr 'A-Z' 'a-z').gguf"
    if [ ! -f "$f" ]; then
        if [ -f "$VOCAB" ]; then
            "$FRUGAL" synth tinyllama-1.1b --type "$ty" --vocab "$VOCAB" -o "$f"
        else
            "$FRUGAL" synth tinyllama-1.1b --type "$ty" -o "$f"
        fi
    fi
    files="$files $f"
done
ds=""
if [ "$QUICK" -eq 0 ]; then
    ds="$MD/deepseek-v2-lite-q4_0.gguf"
    [ -f "$ds" ] || "$FRUGAL" synth deepseek-v2-lite --type Q4_0 -o "$ds"
    files="$files $ds"
fi
{
    echo "# frugal benchmark"
    echo
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs, $T threads"
    echo
    echo "Machine ceilings (\`frugal bench --membw --flops -t $T\`):"
    echo
    echo '```'
    "$FRUGAL" bench --membw --flops -t "$T" --json | tail -n 1
    echo '```'
    echo
    if [ -n "${LLAMA_DIR:-}" ]; then
        echo "## pp512 / tg128 (llama-bench's method), frugal vs llama.cpp"
        echo
        # shellcheck disable=SC2086
        LLAMA_BENCH="$LLAMA_DIR/llama-bench" sh bench/compare.sh -t "$T" -a "$A" $files
        echo
        echo "## Batched decode (-npp 128 -ntg 32), frugal bench --seqs vs llama-batched-bench"
        echo
        # shellcheck disable=SC2086
        LLAMA_BATCHED_BENCH="$LLAMA_DIR/llama-batched-bench" sh bench/batched_compare.sh -t "$T" -s "1 4 8" -a "$A" \
            "$MD/tinyllama-1.1b-q4_0.gguf" $ds
    else
        echo "## frugal alone (set LLAMA_DIR for the comparison)"
        echo
        for f in $files; do "$FRUGAL" bench -m "$f" -t "$T" | tail -n 1; done
    fi
} | tee "$OUT/bench.md"
if [ -n "${LLAMA_DIR:-}" ]; then
    sed -n '/^## pp512/,/^## Batched/p' "$OUT/bench.md" | python3 bench/chart.py "frugal / llama.cpp, $T threads (higher is better)" >"$OUT/bench.svg"
    echo "wrote $OUT/bench.md and $OUT/bench.svg"
fi
