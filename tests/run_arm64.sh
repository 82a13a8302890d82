#!/bin/sh
# run_arm64.sh BUILD TEST...: run cross-compiled AArch64 unit tests under qemu-user-static
# ($FRUGAL_QEMU); print "arm64: N passed, N failed" and exit non-zero if anything failed.
BUILD="$1"
shift
# the tests run $FRUGAL_TEST_JOBS at a time (the CPU count unless set), each through
# run_suite.sh (its time limit; output in BUILD/tests/TEST.log, exit status in TEST.rc)
JOBS=${FRUGAL_TEST_JOBS:-$(nproc 2>/dev/null || echo 1)}
for t in "$@"; do rm -f "$BUILD/tests/$t.rc"; done
for t in "$@"; do echo "$t $FRUGAL_QEMU $BUILD/tests/$t"; done |
    xargs -P "$JOBS" -L 1 sh tests/run_suite.sh "$BUILD/tests" arm64
passed=0
failed=0
for t in "$@"; do
    if [ "$(cat "$BUILD/tests/$t.rc" 2>/dev/null)" = 0 ]; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
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
