#!/bin/sh
# run.sh BUILD LABEL: run every unit test program and the CLI tests; print a summary line
# "N passed, N failed" and exit non-zero if anything failed.
BUILD="$1"
LABEL="$2"
passed=0
failed=0
failed_names=""
for t in "$BUILD"/tests/test_*; do
    [ -x "$t" ] || continue
    name=$(basename "$t")
    start=$(date +%s)
    if "$t"; then
        passed=$((passed + 1))
        echo "PASS $LABEL $name ($(( $(date +%s) - start ))s)"
    else
        failed=$((failed + 1))
        failed_names="$failed_names $name"
        echo "FAIL $LABEL $name ($(( $(date +%s) - start ))s)"
    fi
done
if sh tests/cli.sh "$BUILD/frugal"; then
    passed=$((passed + 1))
    echo "PASS $LABEL cli"
else
    failed=$((failed + 1))
    failed_names="$failed_names cli"
    echo "FAIL $LABEL cli"
fi
# the server: raw HTTP (limits, bad input, queue, disconnects, SIGTERM), then real clients
for s in serve serve_clients; do
    start=$(date +%s)
    if sh "tests/$s.sh" "$BUILD/frugal"; then
        passed=$((passed + 1))
        echo "PASS $LABEL $s ($(( $(date +%s) - start ))s)"
    else
        failed=$((failed + 1))
        failed_names="$failed_names $s"
        echo "FAIL $LABEL $s ($(( $(date +%s) - start ))s)"
    fi
done
echo "$LABEL: $passed passed, $failed failed${failed_names:+ (failed:$failed_names)}"
[ "$failed" -eq 0 ]
