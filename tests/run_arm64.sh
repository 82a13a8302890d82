#!/bin/sh
# run_arm64.sh BUILD TEST...: run cross-compiled AArch64 unit tests under qemu-user-static
# ($FRUGAL_QEMU); print "arm64: N passed, N failed" and exit non-zero if anything failed.
BUILD="$1"
shift
# the tests run $FRUGAL_TEST_JOBS at a time (the CPU count unless set); results in order
JOBS=${FRUGAL_TEST_JOBS:-$(nproc 2>/dev/null || echo 1)}
for t in "$@"; do rm -f "$BUILD/tests/$t.rc" "$BUILD/tests/$t.secs"; done
# shellcheck disable=SC2016
printf '%s\n' "$@" | xargs -P "$JOBS" -I{} sh -c '
    start=$(date +%s)
    $FRUGAL_QEMU "$1/tests/$2" >"$1/tests/$2.log" 2>&1 </dev/null
    echo $? >"$1/tests/$2.rc"
    echo $(($(date +%s) - start)) >"$1/tests/$2.secs"' sh "$BUILD" {}
passed=0
failed=0
for t in "$@"; do
    secs=$(cat "$BUILD/tests/$t.secs" 2>/dev/null)
    if [ "$(cat "$BUILD/tests/$t.rc" 2>/dev/null)" = 0 ]; then
        passed=$((passed + 1))
        echo "PASS arm64 $t (${secs}s): $(tail -n 1 "$BUILD/tests/$t.log")"
        grep -h "NEON" "$BUILD/tests/$t.log" | sed 's/^/    /'
    else
        failed=$((failed + 1))
        echo "FAIL arm64 $t (${secs}s)"
        tail -n 20 "$BUILD/tests/$t.log"
    fi
done
# the suites also pass on a CPU without sdot, comparing the reference with itself: make sure
# the NEON kernels ran (test_tiles names each one it tested)
neon=0
for t in "$@"; do grep -q "testing the NEON sdot kernel" "$BUILD/tests/$t.log" && neon=1; done
if [ "$neon" -eq 0 ]; then
    failed=$((failed + 1))
    echo "FAIL arm64: no test ran a NEON kernel (no sdot under this qemu?)"
fi
echo "arm64: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
