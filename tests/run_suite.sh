#!/bin/sh
# run_suite.sh LOGDIR LABEL NAME COMMAND...: run one test suite under a time limit
# ($FRUGAL_SUITE_TIMEOUT seconds, 1200 unless set), keep its output in LOGDIR/NAME.log and its exit
# status in LOGDIR/NAME.rc, then print the output and a PASS or FAIL line with the time it took.
# run.sh and run_arm64.sh run several suites at once through it; each prints its block when it
# ends.
LOGDIR="$1"
LABEL="$2"
NAME="$3"
shift 3
limit=${FRUGAL_SUITE_TIMEOUT:-1200}
start=$(date +%s)
if command -v timeout >/dev/null 2>&1; then
    timeout -k 10 "$limit" "$@" >"$LOGDIR/$NAME.log" 2>&1 </dev/null
else
    "$@" >"$LOGDIR/$NAME.log" 2>&1 </dev/null
fi
rc=$?
secs=$(($(date +%s) - start))
[ "$rc" = 124 ] && echo "  stopped: still running after ${limit}s" >>"$LOGDIR/$NAME.log"
echo "$rc" >"$LOGDIR/$NAME.rc"
if [ "$rc" = 0 ]; then verdict=PASS; else verdict=FAIL; fi
echo "$verdict $LABEL $NAME (${secs}s)" >>"$LOGDIR/$NAME.log"
cat "$LOGDIR/$NAME.log"
exit 0
