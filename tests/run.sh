#!/bin/sh
# run.sh BUILD LABEL: run every unit test program, the CLI tests and the server tests; print a
# summary line "N passed, N failed" and exit non-zero if anything failed (or did not end in time).
BUILD="$1"
LABEL="$2"
# Suites run $FRUGAL_TEST_JOBS at a time (the CPU count unless set), each under run_suite.sh's
# time limit; the server suites, which time clients and disconnects, run after them on their own.
JOBS=${FRUGAL_TEST_JOBS:-$(nproc 2>/dev/null || echo 1)}
LOGS=$(mktemp -d)
trap 'rm -rf "$LOGS"' EXIT
: >"$LOGS/list"
# add NAME COMMAND...: one suite for the parallel part (no argument may contain a blank)
add() {
    echo "$*" >>"$LOGS/list"
}

# the longest first, so that the lanes end together
add cli sh tests/cli.sh "$BUILD/frugal"
for t in test_tokenizer test_golden; do
    [ -x "$BUILD/tests/$t" ] && add "$t" "$BUILD/tests/$t"
done
# x86: again with the AVX2 kernels only, as dispatched on an AVX2 CPU (decode's multi-stream
# kernels run inside fr_matmul there), once as on AMD and once as on Intel: the CPU's vendor
# picks decode's prefetch level, how F16 rows are read and whether the K-quants decode as streams
# (fr_cpu_decode_prefetch_l2, fr_cpu_decode_f16_prefetch/_streams, fr_cpu_decode_kquant_streams); and
# natively with the other choice of K-quant streams than this CPU's
if [ -x "$BUILD/tests/test_tiles" ] && grep -q avx2 /proc/cpuinfo 2>/dev/null; then
    add test_tiles_avx2 env FRUGAL_ISA=avx2 FRUGAL_DECODE_PREFETCH=l1 FRUGAL_KQUANT_STREAMS=0 \
        FRUGAL_F16_PREFETCH=2048 FRUGAL_F16_STREAMS=3 "$BUILD/tests/test_tiles"
    add test_tiles_avx2_intel env FRUGAL_ISA=avx2 FRUGAL_DECODE_PREFETCH=l2 FRUGAL_KQUANT_STREAMS=1 \
        FRUGAL_F16_PREFETCH=8192 FRUGAL_F16_STREAMS=2 "$BUILD/tests/test_tiles"
    if grep -q GenuineIntel /proc/cpuinfo; then ks=0; else ks=1; fi
    add "test_tiles_kquant_streams_$ks" env FRUGAL_KQUANT_STREAMS=$ks "$BUILD/tests/test_tiles"
    # the float experts over AVX2's panels and tiles
    [ -x "$BUILD/tests/test_gemm_f16" ] && add test_gemm_f16_avx2 env FRUGAL_ISA=avx2 "$BUILD/tests/test_gemm_f16"
    # MLA decode's W_UK/W_UV kernels as an AVX2 CPU runs them (wrow_avx2.c, its multi-input
    # forms included; natively, AVX-512 takes those)
    [ -x "$BUILD/tests/test_wrow" ] && add test_wrow_avx2 env FRUGAL_ISA=avx2 "$BUILD/tests/test_wrow"
fi
# and where AMX takes prompts, once without it (the AVX-512 VNNI prompt path through the drivers)
if [ -x "$BUILD/tests/test_tiles" ] && grep -q amx_int8 /proc/cpuinfo 2>/dev/null; then
    add test_tiles_avx512 env FRUGAL_ISA=avx512 "$BUILD/tests/test_tiles"
fi
for t in "$BUILD"/tests/test_*; do
    [ -x "$t" ] || continue
    case "$(basename "$t")" in test_tokenizer | test_golden) continue ;; esac
    add "$(basename "$t")" "$t"
done
xargs -P "$JOBS" -L 1 sh tests/run_suite.sh "$LOGS" "$LABEL" <"$LOGS/list"
# the server: raw HTTP (limits, bad input, queue, disconnects, SIGTERM), then real clients
for s in serve serve_clients; do
    echo "$s sh tests/$s.sh $BUILD/frugal" >>"$LOGS/list"
    sh tests/run_suite.sh "$LOGS" "$LABEL" "$s" sh "tests/$s.sh" "$BUILD/frugal"
done
passed=0
failed=0
failed_names=""
while read -r name _; do
    if [ "$(cat "$LOGS/$name.rc" 2>/dev/null)" = 0 ]; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        failed_names="$failed_names $name"
    fi
done <"$LOGS/list"
echo "$LABEL: $passed passed, $failed failed${failed_names:+ (failed:$failed_names)}"
[ "$failed" -eq 0 ]
