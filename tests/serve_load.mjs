// serve_load.mjs FRUGAL_BIN MODEL [PARALLEL]: a bounded load test of `frugal serve --parallel N`.
// 16 concurrent streaming clients x 8 requests (FRUGAL_SANITIZED=1: 8 x 2), temperature 0,
// max_tokens 8, prompts from 4 fixed ones (two share a long system prompt: the prefix cache).
// Checks: every request completes with no error, each output equals that prompt's output run
// alone before the load (batch invariance of continuous batching), the server's RSS after the
// last round is less than 10% above its RSS after round 1 (not checked under ASan). Prints aggregate tokens/s and TTFT.
import { args, check, log, rssKiB, setName, startServer, streamChat, watchdog, SANITIZED, SLOW } from './serve_common.mjs';

setName('serve_load');
const { bin, model, rest } = args('FRUGAL_BIN MODEL.gguf [PARALLEL]');
const PARALLEL = parseInt(rest[0] || '4', 10);
check(PARALLEL > 0, `bad PARALLEL ${rest[0]}`);
const CLIENTS = SANITIZED ? 8 : 16;
const ROUNDS = +process.env.FRUGAL_LOAD_ROUNDS || (SANITIZED ? 2 : 8);   // more rounds: a soak test
const MAX = 8;
watchdog((SANITIZED ? 240 : 90) * Math.max(1, ROUNDS / 8));

const LONG_SYSTEM = 'You are a careful assistant for the frugal project. Answer briefly and precisely. ' +
    'Prefer plain words over jargon, give numbers with units, say when you are unsure, and never invent ' +
    'facts, names or citations. When asked for code, give C99 that compiles without warnings, with short ' +
    'comments. Keep every answer under one hundred words unless the user asks for more detail.';
const PROMPTS = [
    [{ role: 'system', content: LONG_SYSTEM }, { role: 'user', content: 'How much memory does a 7B model need?' }],
    [{ role: 'system', content: LONG_SYSTEM }, { role: 'user', content: 'Write a C function that reverses a string.' }],
    [{ role: 'user', content: 'Hello!' }],
    [{ role: 'system', content: 'Answer in French.' }, { role: 'user', content: 'What is the weather like on Mars?' }],
];

const srv = await startServer(bin, model, ['--parallel', String(PARALLEL)]);
const base = srv.url;
log(`server at ${base}, pid ${srv.pid}, --parallel ${PARALLEL}, ${CLIENTS} clients x ${ROUNDS} requests`);

async function run(p, what) {
    try {
        const r = await streamChat(base, { messages: PROMPTS[p], max_tokens: MAX, temperature: 0 });
        if (!['stop', 'length'].includes(r.finish)) throw new Error(`finish_reason ${JSON.stringify(r.finish)}`);
        if (!r.usage || !(r.usage.completion_tokens <= MAX)) throw new Error(`usage ${JSON.stringify(r.usage)}`);
        return r;
    } catch (e) {
        return { error: `${what}: ${e.message}` };
    }
}

// each prompt alone, one after the other: the reference outputs
const want = [];
for (let p = 0; p < PROMPTS.length; p++) {
    const r = await run(p, `prompt ${p} alone`);
    check(!r.error, r.error);
    want.push(r.content);
    log(`prompt ${p} alone: ${JSON.stringify(r.content)} (${r.usage.prompt_tokens} prompt tokens, ${r.usage.completion_tokens} generated)`);
}

// warm-up (not measured): CLIENTS concurrent requests of long prompts that share no prefix, so
// that prompt batches reach their largest size and every connection thread has allocated: the
// high-water marks of scratch buffers and malloc arenas are reached before RSS is first read
{
    const warm = await Promise.all(Array.from({ length: CLIENTS }, async (_, c) => {
        const text = `Variant ${c}: ${LONG_SYSTEM} ${c % 2 ? LONG_SYSTEM : ''}`;
        try {
            await streamChat(base, { messages: [{ role: 'user', content: text }], max_tokens: MAX, temperature: 0 });
            return null;
        } catch (e) {
            return `warm-up client ${c}: ${e.message}`;
        }
    }));
    const bad = warm.filter(Boolean);
    check(bad.length === 0, `${bad.length} warm-up requests failed:\n  ${bad.slice(0, 8).join('\n  ')}`);
    log(`warm-up: ${CLIENTS} concurrent long prompts, RSS ${rssKiB(srv.pid)} KiB`);
}

// the load: ROUNDS rounds of CLIENTS concurrent requests
const errors = [];
const mismatches = [];
const ttfts = [];
const rss = [];
let tokens = 0, done = 0;
const t0 = performance.now();
for (let round = 0; round < ROUNDS; round++) {
    const results = await Promise.all(Array.from({ length: CLIENTS }, (_, c) => {
        const p = (c + round) % PROMPTS.length;
        return run(p, `round ${round + 1} client ${c}`).then((r) => ({ r, p, c }));
    }));
    for (const { r, p, c } of results) {
        if (r.error) { errors.push(r.error); continue; }
        done++;
        tokens += r.usage.completion_tokens;
        if (r.ttft !== null) ttfts.push(r.ttft);
        if (r.content !== want[p]) mismatches.push(`round ${round + 1} client ${c} prompt ${p}: ${JSON.stringify(r.content)} != alone ${JSON.stringify(want[p])}`);
    }
    rss.push(rssKiB(srv.pid));
}
const secs = (performance.now() - t0) / 1000;
const total = CLIENTS * ROUNDS;
const mean = ttfts.length ? ttfts.reduce((a, b) => a + b, 0) / ttfts.length : NaN;
log(`${done}/${total} requests in ${secs.toFixed(2)} s: ${(tokens / secs).toFixed(1)} generated tokens/s aggregate, ` +
    `mean time to first token ${mean.toFixed(1)} ms, ${(total / secs).toFixed(1)} requests/s`);
log(`RSS after each round (KiB): ${rss.join(' ')}`);
check(errors.length === 0, `${errors.length} of ${total} requests failed:\n  ${errors.slice(0, 8).join('\n  ')}`);
check(done === total, `only ${done} of ${total} requests completed`);
check(mismatches.length === 0, `${mismatches.length} of ${total} outputs under load differ from the same prompt run alone ` +
    `(batch invariance):\n  ${mismatches.slice(0, 8).join('\n  ')}`);
// (not under ASan: its quarantine of freed blocks makes RSS grow by design)
if (ROUNDS > 1 && !SANITIZED) {
    const growth = (rss[rss.length - 1] - rss[0]) / rss[0];
    check(growth < 0.10, `RSS grew ${(growth * 100).toFixed(1)}% from round 1 (${rss[0]} KiB) to round ${ROUNDS} (${rss[rss.length - 1]} KiB); limit 10%`);
}
// still healthy after the load
const h = await fetch(`${base}/health`);
check(h.status === 200, `GET /health after the load: HTTP ${h.status}`);
await h.text();
await srv.stop();
log('all checks passed');
