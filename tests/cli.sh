#!/bin/sh
# cli.sh FRUGAL: end-to-end checks of the command line. Exits non-zero on any failure.
F="$1"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
ok() { echo "  ok: $1"; }
bad() { echo "  FAIL: $1"; fails=$((fails + 1)); }
expect_rc() { # expect_rc WANT DESC cmd...
    want="$1"; desc="$2"; shift 2
    "$@" >"$T/out" 2>"$T/err"
    rc=$?
    if [ "$rc" = "$want" ]; then ok "$desc"; else bad "$desc (exit $rc, wanted $want): $(head -c 300 "$T/err")"; fi
}
MODEL=tests/data/models/llama-tiny-Q4_K_M.gguf

expect_rc 0 "--version" "$F" --version
grep -q "^frugal " "$T/out" || bad "--version prints 'frugal VERSION'"
expect_rc 0 "--help" "$F" --help
for c in run info logits bench synth; do expect_rc 0 "$c --help" "$F" $c --help; done
expect_rc 2 "no command" "$F"
expect_rc 2 "unknown command" "$F" frobnicate
expect_rc 2 "run without a model" "$F" run
expect_rc 2 "bad flag value" "$F" run -m "$MODEL" -n abc

# bad files: exit 1 with a message naming the file
expect_rc 1 "missing file" "$F" info "$T/nope.gguf"
grep -q "nope.gguf" "$T/err" || bad "missing-file message names the file"
printf 'GGUF\003\000\000\000' >"$T/trunc.gguf"
expect_rc 1 "truncated file" "$F" info "$T/trunc.gguf"
grep -q "trunc.gguf" "$T/err" || bad "truncated-file message names the file"
printf 'NOPE\003\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000' >"$T/magic.gguf"
expect_rc 1 "bad magic" "$F" info "$T/magic.gguf"

# info
expect_rc 0 "info" "$F" info "$MODEL"
grep -q "architecture: llama" "$T/out" || bad "info shows the architecture"
expect_rc 0 "info bare path" "$F" "$MODEL"
expect_rc 0 "info --json" "$F" info -m "$MODEL" --json
grep -q '"kv_bytes_per_token_f16": 1024' "$T/out" || bad "info --json kv bytes/token (4 layers x (K+V) x 2 kv heads x 32 dims x 2 B = 1024)"
expect_rc 0 "info --check (clean file)" "$F" info "$MODEL" --check

# run: deterministic with a seed, streams text, reports speed
expect_rc 0 "run --ids" "$F" run -m "$MODEL" --ids 1,450,996 -n 8 -s 7 -t 2
cp "$T/out" "$T/run1"
grep -q "tokens/s" "$T/err" || bad "run reports tokens/s on stderr"
expect_rc 0 "run again, same seed" "$F" run -m "$MODEL" --ids 1,450,996 -n 8 -s 7 -t 1
cmp -s "$T/out" "$T/run1" && ok "same seed, same output (1 vs 2 threads)" || bad "same seed gave different output"
expect_rc 0 "run --show-ids greedy" "$F" run -m "$MODEL" --ids 1,450 -n 5 --temp 0 --show-ids
[ "$(wc -w <"$T/out")" -eq 5 ] && ok "5 ids generated" || bad "expected 5 ids, got: $(cat "$T/out")"
expect_rc 1 "token id out of range" "$F" run -m "$MODEL" --ids 1,999999 -n 2
grep -q "out of range" "$T/err" || bad "out-of-range message"
expect_rc 1 "prompt longer than the context" "$F" run -m "$MODEL" --ids 1,2,3,4,5 --ctx 4 -n 2
expect_rc 2 "text prompt before the tokenizer lands" "$F" run -m "$MODEL" -p hello

# end-of-generation tokens: a model whose greedy choice is always EOS
BUILD_DIR=$(dirname "$F")
"$BUILD_DIR/tests/test_model_load" --write-eos-model "$T" || bad "writing the EOS model"
expect_rc 0 "run stops at EOS" "$F" run -m "$T/eos_always.gguf" --ids 1,5 -n 10 --temp 0
grep -q "stopped: end of generation" "$T/err" && ok "stop reason: end of generation" || bad "did not stop at EOS: $(cat "$T/err")"
expect_rc 0 "run --ignore-eos" "$F" run -m "$T/eos_always.gguf" --ids 1,5 -n 10 --temp 0 --ignore-eos --show-ids
[ "$(cat "$T/out")" = "2 2 2 2 2 2 2 2 2 2" ] && ok "--ignore-eos generates past EOS" || bad "--ignore-eos: $(cat "$T/out")"

# stop strings, also across token boundaries: in --show-ids mode the text is the ids
expect_rc 0 "greedy ids" "$F" run -m "$MODEL" --ids 3487,735,111,2620,1498 -n 6 --temp 0 --show-ids
GREEDY=$(cat "$T/out")
[ "$GREEDY" = "237 1472 3227 2603 1630 989" ] && ok "greedy ids match the golden continuation" || bad "greedy ids: $GREEDY"
expect_rc 0 "stop string spanning tokens" "$F" run -m "$MODEL" --ids 3487,735,111,2620,1498 -n 6 --temp 0 --show-ids --stop "72 32"
[ "$(cat "$T/out")" = "237 14" ] && ok "output cut before the stop string" || bad "stop string: '$(cat "$T/out")'"
grep -q "stopped: stop string" "$T/err" || bad "stop reason: stop string"

# logits: golden format; compared against the golden file by test_golden --cmp
G=tests/data/golden/llama-tiny-Q4_K_M.short.bin
expect_rc 0 "logits --follow" "$F" logits -m "$MODEL" --ids 3487,735,111,2620,1498 --follow "$(sh tests/golden_ids.sh "$G")" --batch 2 -t 2 -o "$T/l.bin"
expect_rc 0 "logits file matches golden (quantized tolerance)" "$BUILD_DIR/tests/test_golden" --cmp "$T/l.bin" "$G" quant
expect_rc 0 "logits --gen" "$F" logits -m "$MODEL" --ids 3487,735,111,2620,1498 --rows 1 --gen 4 -o "$T/g.bin"
[ "$(wc -c <"$T/g.bin")" -eq $((12 + 4096 * 4 + 4 + 16 + 4 * 4096 * 4)) ] && ok "--gen file size" || bad "--gen file size"

# synth: a tiny real file type round trip is covered by unit tests; here the CLI errors
expect_rc 2 "synth unknown shape" "$F" synth nope -o "$T/x.gguf"
expect_rc 2 "synth bad type" "$F" synth tinyllama-1.1b --type Q9 -o "$T/x.gguf"

# synth: a real shape (release build only: it writes ~600 MB)
if [ -z "${FRUGAL_SANITIZED:-}" ]; then
    expect_rc 0 "synth tinyllama-1.1b Q4_0" "$F" synth tinyllama-1.1b --type Q4_0 --seed 3 -o "$T/tl.gguf"
    expect_rc 0 "info on the synth file" "$F" info "$T/tl.gguf" --json
    grep -q '"n_params": 1100048384' "$T/out" && ok "tinyllama-1.1b has 1,100,048,384 parameters" || bad "synth params: $(grep n_params "$T/out")"
    grep -q '"Q4_0"' "$T/out" && ok "Q4_0 tensors" || bad "no Q4_0 tensors"
    expect_rc 0 "run the synth file" "$F" run -m "$T/tl.gguf" -n 3 -t 2
    rm -f "$T/tl.gguf"
fi

# bench on the tiny model
expect_rc 0 "bench --json" "$F" bench -m "$MODEL" -p 16 -n 4 -r 1 -t 2 --json
tail -n 1 "$T/out" | grep -q '"tg_tps"' || bad "bench --json last line has tg_tps"

[ "$fails" -eq 0 ]
