#!/bin/sh
# serve.sh FRUGAL: `frugal serve` over raw HTTP with curl: endpoints, SSE framing, limits and
# bad input (shared/CHECKLIST.md items 19-27), auth, CORS, the prefix cache, stop strings,
# the bounded queue, client disconnects and the SIGTERM drain. Exits non-zero on any failure.
# Needs curl and python3 (JSON checks); without them it says SKIPPED (a failure with CI=true).
F="$1"
case "$F" in /*) ;; *) F="$(pwd)/$F" ;; esac
cd "$(dirname "$0")/.." || exit 2
for tool in curl python3; do
    if ! command -v $tool >/dev/null 2>&1; then
        echo "SKIPPED serve.sh ($tool not found)"
        [ "$CI" = "true" ] && exit 1
        exit 0
    fi
done
MODEL=tests/data/models/llama3-tiny-F16.gguf
T=$(mktemp -d)
PIDS=""
cleanup() {
    for p in $PIDS; do kill -9 "$p" 2>/dev/null; done
    rm -rf "$T"
}
trap cleanup EXIT
fails=0
ok() { echo "  ok: $1"; }
bad() { echo "  FAIL: $1"; fails=$((fails + 1)); }
SLOW=1
[ -n "$FRUGAL_SANITIZED" ] && SLOW=4

# start NAME ARGS...: starts a server, sets URL and PID (waits for the listening line)
start() {
    name="$1"
    shift
    "$F" serve -m "$MODEL" --port 0 -t 2 "$@" 2>"$T/$name.err" &
    PID=$!
    PIDS="$PIDS $PID"
    i=0
    while ! grep -q "^listening on http://" "$T/$name.err" 2>/dev/null; do
        i=$((i + 1))
        if [ $i -gt $((100 * SLOW)) ] || ! kill -0 "$PID" 2>/dev/null; then
            bad "$name: server did not start: $(cat "$T/$name.err")"
            return 1
        fi
        sleep 0.1
    done
    URL=$(sed -n 's/^listening on //p' "$T/$name.err" | head -1)
}

# stop NAME: SIGTERM the current server; it must exit 0
stop() {
    kill -TERM "$PID"
    wait "$PID"
    rc=$?
    [ "$rc" = 0 ] && ok "$1: exit status 0 after SIGTERM" || bad "$1: exit status $rc after SIGTERM: $(tail -5 "$T/$1.err")"
}

# req METHOD PATH [BODY] [curl args...]: status in $T/code, body in $T/body
req() {
    m="$1" p="$2" b="${3:-}"
    if [ $# -ge 3 ]; then shift 3; else shift $#; fi
    if [ -n "$b" ]; then
        curl -s -o "$T/body" -w '%{http_code}' -X "$m" "$URL$p" -H 'Content-Type: application/json' --data-binary "$b" "$@" >"$T/code"
    else
        curl -s -o "$T/body" -w '%{http_code}' -X "$m" "$URL$p" "$@" >"$T/code"
    fi
}
expect() { # expect CODE DESC
    if [ "$(cat "$T/code")" = "$1" ]; then ok "$2"; else bad "$2: status $(cat "$T/code"), wanted $1: $(head -c 300 "$T/body")"; fi
}
# jq-like check with python: jcheck DESC PYTHON-EXPR (j = the parsed body)
jcheck() {
    if python3 -c "import json,sys; j=json.load(open('$T/body')); sys.exit(0 if ($2) else 1)" 2>/dev/null; then ok "$1"; else bad "$1: $(head -c 400 "$T/body")"; fi
}
chat() { # chat CONTENT MAX [extra json]
    printf '{"messages":[{"role":"user","content":"%s"}],"max_tokens":%s,"temperature":0%s}' "$1" "$2" "$3"
}

echo "serve: endpoints"
start main --parallel 2 --ctx 256 --queue 1 --max-body 131072 --max-header 4096 --json-depth 16 --read-timeout 2 || exit 1
req GET /health; expect 200 "/health"
req GET /; expect 200 "GET / (chat page)"
grep -qi "<html" "$T/body" || bad "the page is HTML"
req GET /v1/models; expect 200 "/v1/models"
jcheck "model id is the file name" "j['data'][0]['id'] == 'llama3-tiny-F16' and j['object'] == 'list'"
req GET /nope; expect 404 "unknown path"
jcheck "404 is an OpenAI error object" "'message' in j['error'] and 'type' in j['error']"
req GET /v1/chat/completions; expect 405 "GET on a POST endpoint"
req POST /v1/chat/completions "$(chat Hello 6)"; expect 200 "chat completion"
jcheck "chat response shape" "j['object']=='chat.completion' and j['choices'][0]['message']['role']=='assistant' and isinstance(j['choices'][0]['message']['content'], str) and j['choices'][0]['finish_reason'] in ('stop','length') and j['usage']['completion_tokens'] <= 6 and j['usage']['prompt_tokens'] > 0"
cp "$T/body" "$T/first.json"
req POST /v1/chat/completions "$(chat Hello 6)"; expect 200 "the same chat again"
python3 -c "
import json; a=json.load(open('$T/first.json')); b=json.load(open('$T/body'))
assert a['choices'][0]['message']['content']==b['choices'][0]['message']['content'], 'different output'
assert b['usage']['prompt_tokens_details']['cached_tokens'] >= b['usage']['prompt_tokens'] - 1, 'prefix not reused'
" && ok "temperature 0 repeats exactly; the prefix comes from the cache" || bad "repeat/prefix cache: $(cat "$T/body")"
req POST /v1/completions '{"prompt":"Once upon a time","max_tokens":5,"temperature":0,"logprobs":3}'; expect 200 "completion with logprobs"
jcheck "completion logprobs shape" "j['object']=='text_completion' and len(j['choices'][0]['logprobs']['tokens'])==j['usage']['completion_tokens'] and all(len(t)<=3 for t in j['choices'][0]['logprobs']['top_logprobs']) and all(l<=0 for l in j['choices'][0]['logprobs']['token_logprobs'])"
req POST /v1/chat/completions "$(chat Hi 4 ',"logprobs":true,"top_logprobs":2')"; expect 200 "chat with logprobs"
jcheck "chat logprobs: one entry per token, 2 alternatives, sorted" "all(len(e['top_logprobs'])==2 and e['top_logprobs'][0]['logprob']>=e['top_logprobs'][1]['logprob'] for e in j['choices'][0]['logprobs']['content']) and len(j['choices'][0]['logprobs']['content'])==j['usage']['completion_tokens']"
req POST /v1/completions '{"prompt":[1,2,3],"max_tokens":2,"temperature":0}'; expect 200 "completion from token ids"
req POST /tokenize '{"content":"Hello world"}'; expect 200 "/tokenize"
jcheck "tokens are ids" "len(j['tokens'])>0 and all(isinstance(t,int) for t in j['tokens'])"
TOKS=$(python3 -c "import json; print(json.dumps(json.load(open('$T/body'))['tokens']))")
req POST /detokenize "{\"tokens\":$TOKS}"; expect 200 "/detokenize"
jcheck "detokenize round-trips" "j['content']=='Hello world'"
req GET /metrics; expect 200 "/metrics"
for m in frugal_requests_total frugal_generated_tokens_total frugal_queue_depth frugal_generation_tokens_per_second frugal_kv_cache_used_tokens frugal_prompt_tokens_cached_total; do
    grep -q "^$m" "$T/body" || bad "/metrics has $m"
done

echo "serve: streaming"
curl -sN "$URL/v1/chat/completions" -d "$(chat Hello 5 ',"stream":true,"stream_options":{"include_usage":true}')" >"$T/sse"
python3 - "$T/sse" "$T/first.json" <<'EOF' && ok "SSE framing, deltas equal the non-streamed answer, usage chunk, [DONE]" || bad "SSE: $(head -c 600 "$T/sse")"
import json, sys
raw = open(sys.argv[1]).read()
events = raw.split("\n\n")
assert events[-1] == "", "stream ends with a blank line"
events = events[:-1]
assert all(e.startswith("data: ") for e in events), "every event is a data: line"
assert events[-1] == "data: [DONE]"
chunks = [json.loads(e[6:]) for e in events[:-1]]
assert chunks[0]["choices"][0]["delta"].get("role") == "assistant"
text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
fins = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]]
assert len(fins) == 1, fins
assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] <= 5
first = json.load(open(sys.argv[2]))["choices"][0]["message"]["content"]
assert first.startswith(text) or text.startswith(first[:len(text)]), (text, first)
EOF

echo "serve: stop strings"
req POST /v1/completions '{"prompt":"The","max_tokens":12,"temperature":0}'; expect 200 "completion"
FULL=$(python3 -c "import json; print(json.load(open('$T/body'))['choices'][0]['text'])")
STOP=$(python3 -c "import json,sys; t=json.load(open('$T/body'))['choices'][0]['text']; print(json.dumps(t[len(t)//2:len(t)//2+3]))")
req POST /v1/completions "{\"prompt\":\"The\",\"max_tokens\":12,\"temperature\":0,\"stop\":[$STOP]}"; expect 200 "completion with a stop string"
python3 -c "
import json; j=json.load(open('$T/body')); full=json.load(open('/dev/stdin'))['t']; stop=$STOP
c=j['choices'][0]; i=full.find(stop)
assert c['text']==full[:i] and c['finish_reason']=='stop', (c, full, stop)
" <<EOF && ok "the output ends before the stop string (which may span tokens), finish_reason stop" || bad "stop string: $(cat "$T/body") full=[$FULL]"
{"t": $(python3 -c "import json,sys; print(json.dumps(sys.argv[1]))" "$FULL")}
EOF

echo "serve: bad input"
req POST /v1/chat/completions '{"messages":[]}'; expect 400 "empty messages"
jcheck "the error names the field" "j['error']['param']=='messages'"
req POST /v1/chat/completions '{"messages":[{"role":"user","content":5}]}'; expect 400 "content of the wrong type"
req POST /v1/chat/completions '{"messages":[{"content":"x"}]}'; expect 400 "missing role"
req POST /v1/chat/completions "$(chat x 4 ',"max_tokens":-5')"; expect 400 "max_tokens -5"
req POST /v1/chat/completions "$(chat x 4 ',"n":0')"; expect 400 "n 0"
req POST /v1/chat/completions "$(chat x 4 ',"n":100')"; expect 400 "n above the slots"
req POST /v1/chat/completions "$(chat x 4 ',"logprobs":true,"top_logprobs":21')"; expect 400 "top_logprobs 21"
req POST /v1/chat/completions "$(chat x 4 ',"top_logprobs":2')"; expect 400 "top_logprobs without logprobs"
req POST /v1/chat/completions "$(chat x 4 ',"temperature":"hot"')"; expect 400 "temperature of the wrong type"
req POST /v1/chat/completions "$(chat x 4 ',"temperature":7')"; expect 400 "temperature out of range"
req POST /v1/chat/completions "$(chat x 4 ',"stop":["a","b","c","d","e"]')"; expect 400 "five stop strings"
req POST /v1/chat/completions "$(chat x 4 ',"top_k":1000000000000')"; expect 400 "top_k huge"
req POST /v1/chat/completions "$(chat x 4 ',"seed":1e30')"; expect 400 "seed not an integer"
req POST /v1/chat/completions "$(chat x 2 ',"seed":-1')"; expect 200 "seed -1 (any 64-bit value is a seed)"
req POST /v1/chat/completions "$(chat x 4 ',"n":-3')"; expect 400 "n negative"
# ignore_eos (the requests below that must outlive a signal rely on it): seed 205 samples an
# end-of-generation token after 27 tokens from this model (the same natively, with
# FRUGAL_ISA=avx2 and under ASan); with ignore_eos the same seed runs to max_tokens
req POST /v1/completions '{"prompt":"Hello","max_tokens":64,"seed":205}'; expect 200 "seed 205"
jcheck "seed 205 ends at an end-of-generation token" "j['choices'][0]['finish_reason']=='stop' and j['usage']['completion_tokens']<64"
req POST /v1/completions '{"prompt":"Hello","max_tokens":64,"seed":205,"ignore_eos":true}'; expect 200 "seed 205 with ignore_eos"
jcheck "with ignore_eos it runs to max_tokens" "j['choices'][0]['finish_reason']=='length' and j['usage']['completion_tokens']==64"
req POST /v1/completions '{"prompt":"Hello","max_tokens":4,"ignore_eos":1}'; expect 400 "ignore_eos not a boolean"
# response_format json_schema: what the guard cannot enforce is refused, naming the keyword
req POST /v1/chat/completions "$(chat x 4 ',"response_format":{"type":"json_schema","json_schema":{"name":"a","schema":{"type":"object","properties":{"d":{"type":"string","format":"date"}}}}}')"
expect 400 "json_schema with an unsupported keyword"
jcheck "the error names the keyword and its place" "j['error']['param']=='response_format' and \"'format' at /properties/d\" in j['error']['message']"
req POST /v1/chat/completions "$(chat x 4 ',"response_format":{"type":"json_schema","json_schema":{"name":"a"}}')"; expect 400 "json_schema without a schema"
req POST /v1/chat/completions "$(chat x 4 ',"response_format":{"type":"json_schema","json_schema":{"schema":{"$ref":"#/$defs/x"}}}')"; expect 400 "json_schema with a dangling \$ref"
# the output follows the schema: every seed's answer ends ("stop") and validates
SCHEMA='{"type":"object","properties":{"n":{"type":"integer"},"c":{"enum":["red","blue"]},"t":{"type":"string","maxLength":4},"l":{"type":"array","items":{"type":"boolean"},"maxItems":2}},"required":["n","c","t"],"additionalProperties":false}'
for form in json_schema llama; do
    for seed in 1 2 3; do
        if [ $form = json_schema ]; then rf="{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"x\",\"strict\":true,\"schema\":$SCHEMA}}"
        else rf="{\"type\":\"json_object\",\"schema\":$SCHEMA}"; fi
        req POST /v1/chat/completions "{\"messages\":[{\"role\":\"user\",\"content\":\"Answer in JSON\"}],\"max_tokens\":400,\"temperature\":1,\"seed\":$seed,\"response_format\":$rf}"
        expect 200 "response_format $form (seed $seed)"
        python3 - "$T/body" <<'PYEOF' && ok "$form output (seed $seed) is complete and follows the schema" || bad "$form output (seed $seed): $(cat "$T/body")"
import json, sys
c = json.load(open(sys.argv[1]))["choices"][0]
assert c["finish_reason"] == "stop", c
v = json.loads(c["message"]["content"])
assert isinstance(v, dict) and set(v) <= {"n", "c", "t", "l"} and {"n", "c", "t"} <= set(v), v
assert type(v["n"]) is int and v["c"] in ("red", "blue") and isinstance(v["t"], str) and len(v["t"]) <= 4, v
assert "l" not in v or (isinstance(v["l"], list) and len(v["l"]) <= 2 and all(type(b) is bool for b in v["l"])), v
PYEOF
    done
done
for seed in 1 2 3; do
    req POST /v1/chat/completions "{\"messages\":[{\"role\":\"user\",\"content\":\"Answer in JSON\"}],\"max_tokens\":40,\"temperature\":1,\"seed\":$seed,\"response_format\":{\"type\":\"json_object\"}}"
    expect 200 "json_object (seed $seed)"
    python3 - "$T/body" <<'PYEOF' && ok "json_object output is a JSON object or a valid prefix of one" || bad "json_object output: $(cat "$T/body")"
import json, sys
c = json.load(open(sys.argv[1]))["choices"][0]
s = c["message"]["content"]
assert s.lstrip().startswith("{"), s
def prefix_ok(s, depth=0):
    # a complete object, or an error only at the end of the text (truncation)
    try:
        return isinstance(json.loads(s), dict)
    except json.JSONDecodeError as e:
        if e.pos >= len(s.rstrip()):
            return True
        # a literal or number cut short: complete it and look again
        if depth < 3:
            t = s.rstrip()
            for lit in ("true", "false", "null"):
                for k in range(1, len(lit)):
                    if t.endswith(lit[:k]) and not t[: len(t) - k][-1:].isalnum():
                        return prefix_ok(t + lit[k:], depth + 1)
            if t[-1:] in "-+.eE" and t[-1:] != "":
                return prefix_ok(t + "0", depth + 1)
        if e.msg.startswith("Unterminated string") and depth < 3:
            t = s
            if len(t) - len(t.rstrip("\\")) % 2 == 1:
                t += "n"
            i = t.rfind("\\u")
            if i >= 0 and len(t) - i < 6 and all(ch in "0123456789abcdefABCDEF" for ch in t[i + 2:]):
                t += "0" * (6 - (len(t) - i))
            return prefix_ok(t + '"', depth + 1)
        return False
assert prefix_ok(s), s
if c["finish_reason"] == "stop":
    assert isinstance(json.loads(s), dict), s
PYEOF
done
req POST /v1/chat/completions "$(chat x 2 ',"unknown_field":{"a":[1,2]},"user":"u"')"; expect 200 "unknown fields are ignored"
req POST /v1/completions '{"prompt":[1,99999999],"max_tokens":2}'; expect 400 "token id out of range"
req POST /v1/completions '{"prompt":[-1],"max_tokens":2}'; expect 400 "negative token id"
req POST /detokenize '{"tokens":[4096]}'; expect 400 "detokenize: id = vocabulary size"
req POST /tokenize '{"content":7}'; expect 400 "tokenize: content of the wrong type"
req POST /v1/chat/completions '{"messages":'; expect 400 "truncated JSON"
req POST /v1/chat/completions '[1,2]'; expect 400 "a JSON array body"
req POST /v1/chat/completions "$(python3 -c "print('{\"a\":' * 40 + '1' + '}' * 40)")"; expect 400 "JSON nested 40 deep (limit 16)"
req POST /v1/chat/completions '{"messages":[{"role":"user","content":"a\u0000b"}],"max_tokens":2}'; expect 400 "an escaped NUL in a string"
req POST /v1/chat/completions '{"messages":[{"role":"user","content":"\ud800"}],"max_tokens":2}'; expect 400 "a lone surrogate escape"
req POST /v1/chat/completions "$(printf '{"messages":[{"role":"user","content":"\377\376"}],"max_tokens":2}')"; expect 400 "invalid UTF-8 in the body"
head -c 140000 /dev/zero | tr '\0' 'a' >"$T/big"
code=$(curl -s -o "$T/body" -w '%{http_code}' "$URL/v1/chat/completions" --data-binary @"$T/big")
[ "$code" = 413 ] && ok "body over --max-body: 413" || bad "body over --max-body: $code"
code=$(curl -s -o /dev/null -w '%{http_code}' "$URL/health" -H "X-Big: $(head -c 6000 /dev/zero | tr '\0' 'b')")
case "$code" in 4*) ok "headers over --max-header: $code" ;; *) bad "headers over --max-header: $code" ;; esac
RUN=$(head -c 60000 /dev/zero | tr '\0' 'a')
req POST /v1/completions "{\"prompt\":\"$RUN\",\"max_tokens\":4}"; expect 400 "a run of 60,000 'a's: too long for the context, no crash"
req POST /tokenize "{\"content\":\"$RUN\"}"; expect 200 "and it tokenizes"
# a slow sender: headers and part of a body, then nothing (--read-timeout 2)
python3 - "$URL" <<'PYEOF' && ok "a slow sender is cut off after --read-timeout" || bad "slow sender not cut off"
import socket, sys, time, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
s = socket.create_connection((u.hostname, u.port))
s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
s.settimeout(15)
t0 = time.time()
try:
    data = s.recv(4096)
except ConnectionResetError:
    data = b""
sys.exit(0 if time.time() - t0 < 12 else 1)
PYEOF
LONG=$(python3 -c "print(' '.join(['word']*400))")
req POST /v1/completions "{\"prompt\":\"$LONG\",\"max_tokens\":4}"; expect 400 "a prompt longer than the context"
req POST /v1/completions '{"prompt":"Hi","max_tokens":100000,"temperature":0}'; expect 200 "max_tokens beyond the context"
jcheck "clamped to the context with finish_reason length" "j['choices'][0]['finish_reason']=='length' and j['usage']['prompt_tokens']+j['usage']['completion_tokens'] <= 257"
req GET /health; expect 200 "still healthy after the bad input"

stop main

echo "serve: queue bound and client disconnects"
# --step-delay-ms makes each step last long enough to observe queueing from a shell; requests that
# must outlive an event set ignore_eos (sampled, about 2% of 200-token answers end early at EOS)
start slow --parallel 2 --ctx 256 --queue 1 --step-delay-ms 20 || exit 1
req POST /v1/chat/completions "$(chat Hello 6)"; expect 200 "chat completion"
cp "$T/body" "$T/first.json"
# --parallel 2 --queue 1: two run, one waits, the fourth is refused
QP=""
for i in 1 2 3; do
    curl -s -o "$T/q$i" -w '%{http_code}' "$URL/v1/completions" -d '{"prompt":"Hi","max_tokens":100,"temperature":0,"ignore_eos":true}' >"$T/qc$i" &
    QP="$QP $!"
    sleep 0.3
done
req POST /v1/completions '{"prompt":"Hi","max_tokens":2}' -D "$T/hdr"
expect 503 "a full queue answers 503"
grep -qi "^Retry-After:" "$T/hdr" && ok "with Retry-After" || bad "Retry-After header missing"
for p in $QP; do wait "$p"; done
qok=1
for i in 1 2 3; do [ "$(cat "$T/qc$i")" = 200 ] || { bad "queued request $i: $(cat "$T/qc$i")"; qok=0; }; done
[ "$qok" = 1 ] && ok "the running and queued requests complete"
# a streaming client that goes away: its slot is freed and the others are unaffected
curl -sN "$URL/v1/completions" -d '{"prompt":"Hi","max_tokens":250,"stream":true,"ignore_eos":true}' >"$T/gone" &
CP=$!
sleep 1
kill "$CP" 2>/dev/null
wait "$CP" 2>/dev/null
busy=1
for i in $(seq 1 $((20 * SLOW))); do
    req GET /metrics
    busy=$(sed -n 's/^frugal_slots_busy //p' "$T/body")
    [ "$busy" = 0 ] && break
    sleep 0.1
done
[ "$busy" = 0 ] && ok "a disconnected stream frees its slot" || bad "slot still busy after a disconnect ($busy)"
grep -q '^frugal_requests_cancelled_total [1-9]' "$T/body" && ok "counted as cancelled" || bad "cancelled count"
req POST /v1/chat/completions "$(chat Hello 6)"; expect 200 "a request after the disconnect"
python3 -c "
import json; a=json.load(open('$T/first.json')); b=json.load(open('$T/body'))
assert a['choices'][0]['message']['content']==b['choices'][0]['message']['content']" && ok "and its output is unchanged" || bad "output changed after a disconnect"

echo "serve: SIGTERM drains"
curl -s -o "$T/drain" -w '%{http_code}' "$URL/v1/completions" -d '{"prompt":"Hi","max_tokens":60,"temperature":0}' >"$T/drainc" &
CP=$!
sleep 0.3
kill -TERM "$PID"
wait "$CP"
[ "$(cat "$T/drainc")" = 200 ] && ok "the in-flight request completes" || bad "in-flight request during SIGTERM: $(cat "$T/drainc")"
wait "$PID"
rc=$?
[ "$rc" = 0 ] && ok "exit status 0 after SIGTERM" || bad "exit status $rc after SIGTERM"

echo "serve: a shutdown that cuts answers short says so (CHECKLIST 27)"
start cut --drain-timeout 0 --step-delay-ms 20 || exit 1
curl -sN "$URL/v1/completions" -d '{"prompt":"Hi","max_tokens":200,"stream":true,"ignore_eos":true}' >"$T/cut_sse" &
C1=$!
curl -s -o "$T/cut_body" -w '%{http_code}' "$URL/v1/completions" -d '{"prompt":"Hello","max_tokens":200,"ignore_eos":true}' >"$T/cut_code" &
C2=$!
sleep 1
kill -TERM "$PID"
wait "$C1"; wait "$C2"
wait "$PID"; rc=$?
[ "$rc" = 0 ] && ok "exit 0" || bad "exit $rc after SIGTERM with --drain-timeout 0"
tail -c 300 "$T/cut_sse" | grep -q '^data: {"error":{"message":"the server is shutting down' && ok "the stream ends with an error event" || bad "stream cut without an error event: $(tail -c 300 "$T/cut_sse")"
grep -q "data: \[DONE\]" "$T/cut_sse" && bad "[DONE] after an error" || ok "no [DONE] after the error"
[ "$(cat "$T/cut_code")" = 503 ] && ok "the non-streamed request gets 503" || bad "non-streamed request cut short: $(cat "$T/cut_code") $(head -c 200 "$T/cut_body")"

echo "serve: structured output at its limits"
start deep --ctx 2048 || exit 1
# arrays that must hold arrays: past 64 levels nothing may follow, and the request says why
req POST /v1/chat/completions '{"messages":[{"role":"user","content":"x"}],"max_tokens":1800,"temperature":0,"response_format":{"type":"json_schema","json_schema":{"name":"deep","schema":{"type":"array","items":{"$ref":"#"},"minItems":1}}}}'
expect 500 "a schema that needs nesting past the limit"
jcheck "the error says that no token can continue" "'no token can continue' in j['error']['message']"
# a complete value ends the answer, with ignore_eos too
req POST /v1/chat/completions '{"messages":[{"role":"user","content":"x"}],"max_tokens":50,"temperature":0,"ignore_eos":true,"response_format":{"type":"json_schema","json_schema":{"name":"b","schema":{"type":"boolean"}}}}'
expect 200 "a boolean schema with ignore_eos"
jcheck "the answer is a boolean and stops there" "j['choices'][0]['finish_reason']=='stop' and j['choices'][0]['message']['content'] in ('true','false')"
# a number at the top never ends itself: the end-of-generation token ends it (seed 2 gives "0",
# after which nothing else may follow)
for seed in 2 3; do
    req POST /v1/chat/completions "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_tokens\":40,\"temperature\":1,\"seed\":$seed,\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"n\",\"schema\":{\"type\":\"integer\"}}}}"
    expect 200 "an integer schema (seed $seed)"
    jcheck "the answer is an integer, ended by the model (seed $seed)" "j['choices'][0]['finish_reason']=='stop' and type(json.loads(j['choices'][0]['message']['content'])) is int"
done
stop deep

echo "serve: templates: reasoning (R1) and tools (Qwen2.5)"
start r1 --template tests/data/templates/deepseek-ai-DeepSeek-R1-Distill-Llama-8B.jinja || exit 1
req POST /v1/chat/completions "$(chat Hello 6)"; expect 200 "chat through the R1 template"
jcheck "the answer is reasoning (the prompt ends inside <think>): reasoning_content, empty content" "len(j['choices'][0]['message']['reasoning_content'])>0 and j['choices'][0]['message']['content']==''"
curl -sN "$URL/v1/chat/completions" -d "$(chat Hello 6 ',"stream":true')" >"$T/sse"
grep -q '"reasoning_content":' "$T/sse" && ok "streamed as reasoning_content deltas" || bad "no reasoning_content deltas: $(head -c 300 "$T/sse")"
stop r1
start qwen --template tests/data/templates/Qwen-Qwen2.5-7B-Instruct.jinja || exit 1
req POST /v1/chat/completions "$(chat Hello 2)"; expect 200 "chat through the Qwen2.5 template"
P0=$(python3 -c "import json; print(json.load(open('$T/body'))['usage']['prompt_tokens'])")
req POST /v1/chat/completions "$(chat Hello 2 ',"tools":[{"type":"function","function":{"name":"get_weather","description":"Weather of a city","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]')"
expect 200 "a request with tools"
jcheck "tools are rendered into the prompt" "j['usage']['prompt_tokens'] > $P0 + 20"
req POST /v1/chat/completions "$(chat Hello 2 ',"tools":{"a":1}')"; expect 400 "tools that are not an array"
stop qwen

echo "serve: API key and CORS"
echo "sekrit-key" >"$T/key"
start auth --api-key-file "$T/key" --cors "http://example.test" || exit 1
req GET /health; expect 200 "/health needs no key"
req GET /; expect 200 "the page needs no key"
req GET /v1/models; expect 401 "no key: 401"
jcheck "401 is an authentication_error" "j['error']['type']=='authentication_error'"
req GET /v1/models "" -H "Authorization: Bearer wrong"; expect 401 "wrong key: 401"
req POST /tokenize '{"content":"a"}' -H "Authorization: Bearer sekrit-keyX"; expect 401 "a longer key: 401"
req GET /v1/models "" -H "Authorization: Bearer sekrit-key"; expect 200 "right key: 200"
curl -s -D "$T/hdr" -o /dev/null "$URL/v1/models" -H "Authorization: Bearer sekrit-key"
grep -qi "^Access-Control-Allow-Origin: http://example.test" "$T/hdr" && ok "CORS header with --cors" || bad "CORS header missing"
code=$(curl -s -o /dev/null -w '%{http_code}' -X OPTIONS "$URL/v1/chat/completions" -H "Origin: http://example.test")
[ "$code" = 204 ] && ok "CORS preflight 204" || bad "preflight: $code"
stop auth
start nocors || exit 1
curl -s -D "$T/hdr" -o /dev/null "$URL/health"
grep -qi "^Access-Control-Allow-Origin" "$T/hdr" && bad "CORS is off by default" || ok "CORS is off by default"
stop nocors
"$F" serve --help >"$T/help"
for flag in --parallel --ctx --api-key --api-key-file --cors --queue --max-body --max-header --json-depth --read-timeout --queue-timeout --request-timeout --drain-timeout; do
    grep -q -- "$flag" "$T/help" || bad "--help documents $flag"
done
"$F" serve 2>/dev/null; [ $? = 2 ] && ok "serve without -m: usage error" || bad "serve without -m"
"$F" serve -m "$T/none.gguf" --port 0 2>"$T/err"; [ $? = 1 ] && grep -q none.gguf "$T/err" && ok "missing model: exit 1 naming the file" || bad "missing model: $(cat "$T/err")"

if grep -l "AddressSanitizer\|LeakSanitizer\|runtime error" "$T"/*.err >/dev/null 2>&1; then
    bad "sanitizer reports: $(grep -h -A3 "AddressSanitizer\|LeakSanitizer\|runtime error" "$T"/*.err | head -20)"
fi
[ "$fails" -eq 0 ] && echo "serve.sh: all passed" || echo "serve.sh: $fails failed"
[ "$fails" -eq 0 ]
