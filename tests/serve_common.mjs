// serve_common.mjs: helpers shared by the `frugal serve` client tests (serve_web.mjs,
// serve_openai.mjs, serve_load.mjs): start the server on a free port, stop it with SIGTERM
// (expecting exit status 0), read its RSS, parse server-sent events, fail with a clear message.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

export const SANITIZED = process.env.FRUGAL_SANITIZED === '1';
// ASan/UBSan builds are several times slower: stretch every timeout
export const SLOW = SANITIZED ? 5 : 1;

let current = null;         // the server we started, killed on any unexpected exit
let testName = 'serve test';

export function setName(name) { testName = name; }

export function fail(msg) {
    const tail = current ? current.stderrTail() : '';
    console.error(`FAIL ${testName}: ${msg}`);
    if (tail) console.error(`--- server stderr (last lines) ---\n${tail}`);
    if (current && current.proc.exitCode === null) current.proc.kill('SIGKILL');
    process.exit(1);
}

export function check(cond, msg) { if (!cond) fail(msg); }

export function log(msg) { console.log(`  ${testName}: ${msg}`); }

// argv: node SCRIPT FRUGAL_BIN MODEL [extra...]
export function args(usage) {
    const [bin, model, ...rest] = process.argv.slice(2);
    if (!bin || !model) {
        console.error(`usage: node ${basename(process.argv[1])} ${usage}`);
        process.exit(2);
    }
    return { bin, model, rest };
}

export function modelIdOf(model) { return basename(model).replace(/\.gguf$/i, ''); }

// a watchdog for the whole script: fail instead of hanging
export function watchdog(seconds) {
    const t = setTimeout(() => fail(`took longer than ${seconds} s in total`), seconds * 1000);
    t.unref();
}

process.on('unhandledRejection', (e) => fail(`unexpected error: ${e && e.stack ? e.stack : e}`));
process.on('uncaughtException', (e) => fail(`unexpected error: ${e && e.stack ? e.stack : e}`));
process.on('exit', () => { if (current && current.proc.exitCode === null) current.proc.kill('SIGKILL'); });

// Starts `BIN serve -m MODEL --host 127.0.0.1 --port 0 EXTRA...` and waits for the one line
// "listening on http://HOST:PORT" on stderr. Returns { url, pid, proc, stderrTail(), stop() }.
export function startServer(bin, model, extra = [], timeoutSec = 30 * SLOW) {
    // FRUGAL_SERVE_ARGS: more server options for every test (e.g. "-t 1" on a busy machine)
    const more = (process.env.FRUGAL_SERVE_ARGS || '').split(/\s+/).filter(Boolean);
    const argv = ['serve', '-m', model, '--host', '127.0.0.1', '--port', '0', ...extra, ...more];
    const proc = spawn(bin, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let stdout = '';
    const srv = {
        proc, pid: proc.pid, url: null, stopping: false,
        stderrTail(n = 30) {
            const all = (stdout ? `[stdout]\n${stdout}\n[stderr]\n` : '') + stderr;
            return all.split('\n').slice(-n).join('\n').trim();
        },
        stderrText() { return stderr; },
        // SIGTERM: the server drains and must exit with status 0
        async stop(timeout = 20 * SLOW) {
            if (proc.exitCode !== null || proc.signalCode !== null) {
                fail(`server had already exited (status ${proc.exitCode}, signal ${proc.signalCode})`);
            }
            const exited = new Promise((resolve) => proc.once('exit', (code, sig) => resolve({ code, sig })));
            srv.stopping = true;
            proc.kill('SIGTERM');
            let t;
            const timer = new Promise((resolve) => { t = setTimeout(() => resolve(null), timeout * 1000); });
            const r = await Promise.race([exited, timer]);
            clearTimeout(t);
            if (!r) fail(`server did not exit within ${timeout} s of SIGTERM`);
            current = null;
            if (r.code !== 0) {
                console.error(`--- server stderr (last lines) ---\n${srv.stderrTail()}`);
                fail(`server exited with status ${r.code}, signal ${r.sig} after SIGTERM (want status 0)`);
            }
        },
    };
    current = srv;
    proc.stdout.setEncoding('utf8');
    proc.stdout.on('data', (d) => { stdout = (stdout + d).slice(-20000); });
    proc.stderr.setEncoding('utf8');
    return new Promise((resolve) => {
        const timer = setTimeout(() => fail(`server printed no "listening on http://HOST:PORT" line within ${timeoutSec} s`), timeoutSec * 1000);
        proc.on('error', (e) => fail(`cannot start ${bin}: ${e.message}`));
        proc.on('exit', (code, sig) => {
            if (current === srv && !srv.stopping) fail(`server exited unexpectedly (status ${code}, signal ${sig}); command: ${bin} ${argv.join(' ')}`);
        });
        proc.stderr.on('data', (d) => {
            stderr += d;
            if (stderr.length > 200000) stderr = stderr.slice(-100000);
            if (!srv.url) {
                const m = /^listening on (http:\/\/\S+?)\/?\s*$/m.exec(stderr);
                if (m) {
                    clearTimeout(timer);
                    srv.url = m[1];
                    resolve(srv);
                }
            }
        });
    });
}

// VmRSS of a process in KiB (Linux /proc)
export function rssKiB(pid) {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    if (!m) fail(`no VmRSS in /proc/${pid}/status`);
    return +m[1];
}

// Reads a text/event-stream body; calls onData(payload) for each event's data (lines joined
// with "\n"). Returns { done: saw "data: [DONE]", events: count }.
export async function readSSE(body, onData) {
    const dec = new TextDecoder();
    let buf = '';
    let done = false;
    let events = 0;
    for await (const chunk of body) {
        buf += dec.decode(chunk, { stream: true });
        let m;
        while ((m = /\r?\n\r?\n/.exec(buf))) {
            const ev = buf.slice(0, m.index);
            buf = buf.slice(m.index + m[0].length);
            const data = ev.split(/\r?\n/).filter((l) => l.startsWith('data:'))
                .map((l) => l.slice(5).replace(/^ /, '')).join('\n');
            if (!data) continue;
            if (done) fail(`event after "data: [DONE]": ${JSON.stringify(data).slice(0, 200)}`);
            if (data === '[DONE]') { done = true; continue; }
            events++;
            onData(data);
        }
    }
    if (buf.trim()) fail(`stream ended with an unterminated event: ${JSON.stringify(buf).slice(0, 200)}`);
    return { done, events };
}

// POST /v1/chat/completions with stream:true and include_usage; returns the concatenated content,
// reasoning, finish_reason, usage, the time to the first content (ms) and the total time (ms).
export async function streamChat(base, body, headers = {}) {
    const t0 = performance.now();
    const res = await fetch(`${base}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', ...headers },
        body: JSON.stringify({ ...body, stream: true, stream_options: { include_usage: true } }),
    });
    if (res.status !== 200) {
        throw new Error(`POST /v1/chat/completions ${JSON.stringify(body).slice(0, 200)}: HTTP ${res.status}: ${(await res.text()).slice(0, 300)}`);
    }
    const ct = res.headers.get('content-type') || '';
    if (!ct.startsWith('text/event-stream')) throw new Error(`streaming answer has Content-Type "${ct}", want text/event-stream`);
    let content = '', reasoning = '', finish = null, usage = null, ttft = null, id = null;
    const sse = await readSSE(res.body, (data) => {
        let j;
        try { j = JSON.parse(data); } catch (e) { throw new Error(`SSE data is not JSON: ${data.slice(0, 200)}`); }
        if (j.error) throw new Error(`error event in stream: ${data.slice(0, 300)}`);
        if (j.object !== 'chat.completion.chunk') throw new Error(`chunk object is ${JSON.stringify(j.object)}, want "chat.completion.chunk"`);
        if (id === null) id = j.id;
        else if (j.id !== id) throw new Error(`chunk ids differ within one stream: ${id} vs ${j.id}`);
        if (j.usage) usage = j.usage;
        const ch = j.choices && j.choices[0];
        if (ch) {
            const d = ch.delta || {};
            if (typeof d.content === 'string' && d.content) {
                if (ttft === null) ttft = performance.now() - t0;
                content += d.content;
            }
            if (typeof d.reasoning_content === 'string') reasoning += d.reasoning_content;
            if (ch.finish_reason) finish = ch.finish_reason;
        }
    });
    if (!sse.done) throw new Error('stream ended without "data: [DONE]"');
    return { content, reasoning, finish, usage, ttft, ms: performance.now() - t0 };
}
