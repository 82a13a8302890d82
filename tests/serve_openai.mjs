// serve_openai.mjs FRUGAL_BIN MODEL: drives `frugal serve --api-key KEY` with the official
// `openai` npm client (pinned in package.json): models.list, chat completions (plain, streamed,
// with usage), legacy completions, the SDK's error classes for 400 and 401, plus raw HTTP checks
// of what the SDK hides (SSE framing, auth on every endpoint but / and /health, error JSON shape).
import OpenAI from 'openai';
import { args, check, fail, log, modelIdOf, setName, startServer, streamChat, watchdog, SLOW } from './serve_common.mjs';

setName('serve_openai');
const { bin, model } = args('FRUGAL_BIN MODEL.gguf');
watchdog(120 * SLOW);
const KEY = 'sk-frugal-test-' + process.pid;
const MAX = 12;

const srv = await startServer(bin, model, ['--api-key', KEY]);
const base = srv.url;
const id = modelIdOf(model);
log(`server at ${base}, pid ${srv.pid}`);
const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: KEY, maxRetries: 0, timeout: 60000 * SLOW });
const messages = [
    { role: 'system', content: 'You are a terse assistant.' },
    { role: 'user', content: 'Name three prime numbers.' },
];

// --- models.list
{
    const ids = [];
    for await (const m of client.models.list()) ids.push(m.id);
    check(ids.includes(id), `models.list() ids ${JSON.stringify(ids)} do not include "${id}"`);
    log(`models.list: ${JSON.stringify(ids)}`);
}

// --- chat.completions.create, not streamed
let plain;
{
    const r = await client.chat.completions.create({ model: id, messages, max_tokens: MAX, temperature: 0 });
    check(r.object === 'chat.completion', `object is ${JSON.stringify(r.object)}, want "chat.completion"`);
    check(Array.isArray(r.choices) && r.choices.length === 1, `want one choice, got ${JSON.stringify(r.choices)}`);
    const c = r.choices[0];
    check(c.message && c.message.role === 'assistant', `message.role is ${JSON.stringify(c.message && c.message.role)}`);
    check(typeof c.message.content === 'string', `message.content is ${typeof c.message.content}, want a string`);
    check(['stop', 'length'].includes(c.finish_reason), `finish_reason ${JSON.stringify(c.finish_reason)} not stop/length`);
    check(r.usage && r.usage.prompt_tokens > 0, `usage.prompt_tokens should be > 0: ${JSON.stringify(r.usage)}`);
    check(r.usage.completion_tokens >= 0 && r.usage.completion_tokens <= MAX,
        `usage.completion_tokens ${r.usage.completion_tokens} not within 0..${MAX}`);
    check(r.usage.total_tokens === r.usage.prompt_tokens + r.usage.completion_tokens,
        `usage.total_tokens ${r.usage.total_tokens} != prompt + completion ${JSON.stringify(r.usage)}`);
    if (c.finish_reason === 'length') check(r.usage.completion_tokens === MAX, `finish_reason length but completion_tokens ${r.usage.completion_tokens} != max_tokens ${MAX}`);
    plain = r;
    log(`chat (plain): ${JSON.stringify(c.message.content)} finish=${c.finish_reason} usage=${JSON.stringify(r.usage)}`);
    // temperature 0 is deterministic
    const again = await client.chat.completions.create({ model: id, messages, max_tokens: MAX, temperature: 0 });
    check(again.choices[0].message.content === c.message.content,
        `two temperature-0 runs differ: ${JSON.stringify(c.message.content)} vs ${JSON.stringify(again.choices[0].message.content)}`);
}

// --- chat.completions.create, streamed with usage: the same text as the plain run
{
    const stream = await client.chat.completions.create({
        model: id, messages, max_tokens: MAX, temperature: 0, stream: true, stream_options: { include_usage: true },
    });
    let text = '', finish = null, usage = null, chunks = 0, usageChunks = 0;
    for await (const ch of stream) {
        chunks++;
        check(ch.object === 'chat.completion.chunk', `chunk object ${JSON.stringify(ch.object)}`);
        if (ch.usage) {
            usageChunks++;
            usage = ch.usage;
        }
        const c = ch.choices && ch.choices[0];
        if (c) {
            if (c.delta && typeof c.delta.content === 'string') text += c.delta.content;
            if (c.finish_reason) finish = c.finish_reason;
        } else {
            check(ch.usage, `a chunk without choices must be the usage chunk: ${JSON.stringify(ch)}`);
        }
    }
    const want = plain.choices[0].message.content;
    check(text === want, `streamed content ${JSON.stringify(text)} != non-streamed ${JSON.stringify(want)}`);
    check(finish === plain.choices[0].finish_reason, `streamed finish_reason ${finish} != non-streamed ${plain.choices[0].finish_reason}`);
    check(usageChunks === 1, `want exactly one usage chunk with include_usage, got ${usageChunks}`);
    check(usage.prompt_tokens === plain.usage.prompt_tokens && usage.completion_tokens === plain.usage.completion_tokens,
        `streamed usage ${JSON.stringify(usage)} != non-streamed ${JSON.stringify(plain.usage)}`);
    log(`chat (stream): ${chunks} chunks, same text, usage ${JSON.stringify(usage)}`);

    // without include_usage there is no usage chunk
    const s2 = await client.chat.completions.create({ model: id, messages, max_tokens: MAX, temperature: 0, stream: true });
    let t2 = '';
    for await (const ch of s2) {
        check(!ch.usage, `usage chunk sent without stream_options.include_usage: ${JSON.stringify(ch)}`);
        if (ch.choices && ch.choices[0] && ch.choices[0].delta.content) t2 += ch.choices[0].delta.content;
    }
    check(t2 === want, `second streamed content ${JSON.stringify(t2)} != ${JSON.stringify(want)}`);
}

// --- raw SSE framing (what the SDK tolerates silently)
{
    const r = await streamChat(base, { model: id, messages, max_tokens: MAX, temperature: 0 }, { Authorization: `Bearer ${KEY}` });
    check(r.content === plain.choices[0].message.content, `raw SSE content ${JSON.stringify(r.content)} != ${JSON.stringify(plain.choices[0].message.content)}`);
    check(r.usage && r.usage.completion_tokens === plain.usage.completion_tokens, `raw SSE usage ${JSON.stringify(r.usage)}`);
    log('raw SSE: data: {chunk} events, ids consistent, ends with data: [DONE]');
}

// --- legacy completions with a raw prompt
{
    const prompt = 'The capital of France is';
    const r = await client.completions.create({ model: id, prompt, max_tokens: 8, temperature: 0 });
    check(r.object === 'text_completion', `completions object ${JSON.stringify(r.object)}, want "text_completion"`);
    check(r.choices && r.choices.length === 1 && typeof r.choices[0].text === 'string', `completions choices: ${JSON.stringify(r.choices)}`);
    check(['stop', 'length'].includes(r.choices[0].finish_reason), `completions finish_reason ${JSON.stringify(r.choices[0].finish_reason)}`);
    check(r.usage && r.usage.prompt_tokens > 0 && r.usage.completion_tokens <= 8, `completions usage ${JSON.stringify(r.usage)}`);
    const s = await client.completions.create({ model: id, prompt, max_tokens: 8, temperature: 0, stream: true });
    let text = '';
    for await (const ch of s) if (ch.choices && ch.choices[0]) text += ch.choices[0].text || '';
    check(text === r.choices[0].text, `streamed completion ${JSON.stringify(text)} != ${JSON.stringify(r.choices[0].text)}`);
    log(`completions: ${JSON.stringify(r.choices[0].text)} (streamed: same)`);
}

// --- bad requests: the SDK's BadRequestError (400)
async function expectError(what, cls, status, fn) {
    try {
        await fn();
    } catch (e) {
        check(e instanceof cls, `${what}: want ${cls.name}, got ${e && e.constructor && e.constructor.name}: ${e && e.message}`);
        check(e.status === status, `${what}: want status ${status}, got ${e.status}`);
        check(e.error && typeof e.error.message === 'string' && e.error.message.length > 0,
            `${what}: the error body has no error.message: ${JSON.stringify(e.error)}`);
        log(`${what}: ${cls.name} ${e.status} "${e.error.message}"`);
        return;
    }
    fail(`${what}: no error raised, want ${cls.name} (${status})`);
}
await expectError('messages: []', OpenAI.BadRequestError, 400,
    () => client.chat.completions.create({ model: id, messages: [], max_tokens: MAX }));
await expectError('max_tokens: -5', OpenAI.BadRequestError, 400,
    () => client.chat.completions.create({ model: id, messages, max_tokens: -5 }));
await expectError('messages missing', OpenAI.BadRequestError, 400,
    () => client.chat.completions.create({ model: id, max_tokens: MAX }));
await expectError('message without role', OpenAI.BadRequestError, 400,
    () => client.chat.completions.create({ model: id, messages: [{ content: 'hi' }], max_tokens: MAX }));

// --- a wrong key: AuthenticationError (401)
{
    const bad = new OpenAI({ baseURL: `${base}/v1`, apiKey: KEY + 'x', maxRetries: 0 });
    await expectError('wrong api key (models.list)', OpenAI.AuthenticationError, 401, () => bad.models.list());
    await expectError('wrong api key (chat)', OpenAI.AuthenticationError, 401,
        () => bad.chat.completions.create({ model: id, messages, max_tokens: MAX }));
}

// --- raw HTTP: what needs the key and what does not; error JSON; malformed JSON
{
    const auth = { Authorization: `Bearer ${KEY}` };
    const get = async (path, headers = {}) => fetch(base + path, { headers });
    let r = await get('/health');
    check(r.status === 200, `GET /health without a key: HTTP ${r.status}, want 200`);
    r = await get('/');
    check(r.status === 200 && (r.headers.get('content-type') || '').startsWith('text/html'),
        `GET / without a key: HTTP ${r.status} ${r.headers.get('content-type')}, want 200 text/html`);
    await r.text();
    for (const [method, path] of [['GET', '/v1/models'], ['POST', '/v1/chat/completions'], ['POST', '/v1/completions'],
        ['POST', '/tokenize'], ['POST', '/detokenize'], ['GET', '/metrics']]) {
        r = await fetch(base + path, { method, headers: { 'Content-Type': 'application/json' }, body: method === 'POST' ? '{}' : undefined });
        check(r.status === 401, `${method} ${path} without a key: HTTP ${r.status}, want 401`);
        const t = await r.text();
        let j = null;
        try { j = JSON.parse(t); } catch (e) { /* checked below */ }
        check(j && j.error && typeof j.error.message === 'string', `${method} ${path} 401 body is not {"error":{"message":..}}: ${t.slice(0, 200)}`);
    }
    r = await get('/metrics', auth);
    check(r.status === 200, `GET /metrics with the key: HTTP ${r.status}`);
    await r.text();
    r = await fetch(`${base}/v1/chat/completions`, { method: 'POST', headers: { ...auth, 'Content-Type': 'application/json' }, body: '{"messages": [' });
    check(r.status === 400, `malformed JSON body: HTTP ${r.status}, want 400`);
    const t = await r.text();
    let j = null;
    try { j = JSON.parse(t); } catch (e) { /* checked below */ }
    check(j && j.error && j.error.type === 'invalid_request_error', `malformed JSON: want error.type invalid_request_error, got ${t.slice(0, 200)}`);
    r = await get('/v1/no-such-endpoint', auth);
    check(r.status === 404, `GET /v1/no-such-endpoint: HTTP ${r.status}, want 404`);
    await r.text();
    log('auth on every endpoint but / and /health; malformed JSON -> 400 invalid_request_error; unknown path -> 404');
}

// --- /tokenize and /detokenize (llama.cpp's shapes: {content} -> {tokens}, {tokens} -> {content}):
// the same ids and text as `frugal tokenize` / `frugal detokenize` give
{
    const { execFileSync } = await import('node:child_process');
    const auth = { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json' };
    for (const text of ['Hello, world! How are you today?', 'x Ü <b>&amp;</b>\n\ttabs']) {
        const cli = execFileSync(bin, ['tokenize', '-m', model, text], { encoding: 'utf8' }).trim().split(/\s+/).map(Number);
        let r = await fetch(`${base}/tokenize`, { method: 'POST', headers: auth, body: JSON.stringify({ content: text }) });
        const tj = await r.json();
        check(r.status === 200 && Array.isArray(tj.tokens) && tj.tokens.every(Number.isInteger),
            `POST /tokenize {"content":${JSON.stringify(text)}}: HTTP ${r.status} ${JSON.stringify(tj).slice(0, 200)}, want {"tokens":[ids]}`);
        check(JSON.stringify(tj.tokens) === JSON.stringify(cli),
            `POST /tokenize ${JSON.stringify(text)}: ${JSON.stringify(tj.tokens)} != frugal tokenize ${JSON.stringify(cli)}`);
        const want = execFileSync(bin, ['detokenize', '-m', model, ...cli.map(String)], { encoding: 'utf8' });
        r = await fetch(`${base}/detokenize`, { method: 'POST', headers: auth, body: JSON.stringify({ tokens: tj.tokens }) });
        const dj = await r.json();
        check(r.status === 200 && dj.content === want,
            `POST /detokenize ${JSON.stringify(tj.tokens)}: HTTP ${r.status} ${JSON.stringify(dj).slice(0, 200)}, want {"content":${JSON.stringify(want)}} (frugal detokenize)`);
        if (text.startsWith('Hello')) check(dj.content === text, `ASCII text does not round-trip: ${JSON.stringify(dj.content)}`);
    }
    let r = await fetch(`${base}/tokenize`, { method: 'POST', headers: auth, body: JSON.stringify({ tokens: 'x' }) });
    check(r.status === 400, `POST /tokenize without "content": HTTP ${r.status}, want 400`);
    await r.text();
    r = await fetch(`${base}/detokenize`, { method: 'POST', headers: auth, body: JSON.stringify({ tokens: [1, 'a'] }) });
    check(r.status === 400, `POST /detokenize with a non-integer token: HTTP ${r.status}, want 400`);
    await r.text();
    r = await fetch(`${base}/detokenize`, { method: 'POST', headers: auth, body: JSON.stringify({ tokens: [999999999] }) });
    check(r.status === 400, `POST /detokenize with an out-of-range id: HTTP ${r.status}, want 400`);
    await r.text();
    log('tokenize/detokenize agree with the CLI; bad input -> 400');
}

await srv.stop();
log('all checks passed');
