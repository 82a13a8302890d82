// serve_bench.mjs: load an OpenAI-compatible server (frugal serve or llama.cpp's llama-server)
// with N concurrent streaming clients and report aggregate generation speed and time to first
// token. Each client sends R requests one after another to /v1/completions (stream, temperature
// 0, ignore_eos so that every request generates exactly max_tokens).
//
// usage: node bench/serve_bench.mjs URL CONCURRENCY [REQUESTS_PER_CLIENT=2] [MAX_TOKENS=64]
// Prints one JSON line: {"concurrency", "requests", "gen_tokens", "seconds", "gen_tps", "ttft_ms_mean", ...}
const [url, concArg, reqArg = '2', maxArg = '64'] = process.argv.slice(2);
if (!url || !concArg) {
    console.error('usage: node bench/serve_bench.mjs URL CONCURRENCY [REQUESTS_PER_CLIENT] [MAX_TOKENS]');
    process.exit(2);
}
const conc = +concArg, reqs = +reqArg, maxTokens = +maxArg;
// distinct prompts (no shared prefix beyond a few tokens), about 60 tokens each
const words = 'the of and to in is was for on are with as by at from his her they which one all were there when'.split(' ');
function prompt(i) {
    let s = `Request ${i}:`;
    let x = (i + 1) * 2654435761 % 4294967296;
    for (let k = 0; k < 50; k++) { x = (x * 1103515245 + 12345) % 2147483648; s += ' ' + words[x % words.length]; }
    return s;
}

async function one(i) {
    const t0 = performance.now();
    const res = await fetch(url + '/v1/completions', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ prompt: prompt(i), max_tokens: maxTokens, temperature: 0, stream: true, ignore_eos: true,
                               stream_options: { include_usage: true } }),
    });
    if (!res.ok) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
    const dec = new TextDecoder();
    let buf = '', first = 0, chunks = 0, usage = null;
    for await (const part of res.body) {
        buf += dec.decode(part, { stream: true });
        let at;
        while ((at = buf.indexOf('\n\n')) >= 0) {
            const ev = buf.slice(0, at);
            buf = buf.slice(at + 2);
            if (!ev.startsWith('data: ') || ev === 'data: [DONE]') continue;
            const j = JSON.parse(ev.slice(6));
            if (j.usage) usage = j.usage;
            if (j.choices && j.choices.length && (j.choices[0].text || '').length) {
                if (!first) first = performance.now();
                chunks++;
            }
        }
    }
    const n = usage && usage.completion_tokens ? usage.completion_tokens : chunks;
    return { ttft: (first || performance.now()) - t0, tokens: n };
}

const t0 = performance.now();
const results = [];
await Promise.all(Array.from({ length: conc }, async (_, c) => {
    for (let r = 0; r < reqs; r++) results.push(await one(c * 1000 + r));
}));
const secs = (performance.now() - t0) / 1000;
const gen = results.reduce((a, r) => a + r.tokens, 0);
const ttfts = results.map((r) => r.ttft).sort((a, b) => a - b);
console.log(JSON.stringify({
    concurrency: conc, requests: results.length, max_tokens: maxTokens, gen_tokens: gen, seconds: +secs.toFixed(3),
    gen_tps: +(gen / secs).toFixed(2), ttft_ms_mean: +(ttfts.reduce((a, b) => a + b, 0) / ttfts.length).toFixed(1),
    ttft_ms_p50: +ttfts[Math.floor(ttfts.length / 2)].toFixed(1),
}));
