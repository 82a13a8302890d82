// serve_web.mjs FRUGAL_BIN MODEL: drives the chat page of `frugal serve` (GET /) in Debian's
// chromium through playwright-core: API-key prompt, model name, Enter / Shift+Enter, a streamed
// answer identical to the API's, tokens/s, a second turn, the Stop button, safe Markdown, narrow
// layout, no requests to other origins and no script errors. Screenshots go to build/test-artifacts/.
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { args, check, fail, log, modelIdOf, setName, startServer, watchdog, SLOW } from './serve_common.mjs';

setName('serve_web');
const { bin, model } = args('FRUGAL_BIN MODEL.gguf');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const ART = 'build/test-artifacts';
watchdog(150 * SLOW);
mkdirSync(ART, { recursive: true });
const KEY = 'web-key-' + process.pid;
const MAX = 12;
const T = 30000 * SLOW;     // per-step timeout (ms)

const srv = await startServer(bin, model, ['--api-key', KEY]);
const base = srv.url;
const id = modelIdOf(model);
log(`server at ${base}, pid ${srv.pid}`);

let browser;
try {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--headless=new'] });
} catch (e) {
    fail(`cannot launch ${CHROMIUM}: ${e.message.split('\n')[0]}`);
}
const context = await browser.newContext({ viewport: { width: 1000, height: 760 } });
const page = await context.newPage();
page.setDefaultTimeout(T);
const problems = [];
page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
let expected = /status of 401/;   // chromium logs the expected 401 of /v1/models (before the key) as an error
page.on('console', (m) => {
    if (m.type() === 'error' && !expected.test(m.text())) problems.push(`console error: ${m.text()}`);
});
page.on('request', (r) => {
    if (!r.url().startsWith(base + '/') && !r.url().startsWith('data:')) problems.push(`request to another origin: ${r.url()}`);
});
async function step(what, fn) {
    try {
        return await fn();
    } catch (e) {
        await page.screenshot({ path: `${ART}/serve_web_fail.png`, fullPage: true }).catch(() => {});
        fail(`${what}: ${e.message.split('\n').slice(0, 6).join(' | ')} (screenshot: ${ART}/serve_web_fail.png)`);
    }
}
const assistant = (n) => page.locator('.msg.assistant').nth(n);
// opens (true) or closes the Settings panel, by clicking its summary when needed
async function settings(open) {
    if (await page.evaluate(() => document.querySelector('details.settings').open) !== open) await page.click('details.settings summary');
}

// --- the page, and the API key it asks for
await step('GET / (the chat page)', async () => {
    const res = await page.goto(`${base}/?max_tokens=${MAX}&temperature=0`);
    check(res.status() === 200, `GET / answered HTTP ${res.status()}`);
    const ct = res.headers()['content-type'] || '';
    check(ct.startsWith('text/html'), `GET / Content-Type "${ct}", want text/html`);
});
await step('the page asks for the API key after /v1/models answers 401', async () => {
    await page.locator('#apikey-form').waitFor({ state: 'visible' });
    await page.fill('#apikey', KEY);
    await page.click('#apikey-save');
    await page.waitForSelector('#model[data-ready="1"]');
    const shown = (await page.textContent('#model')).trim();
    check(shown === id, `#model shows "${shown}", want "${id}"`);
    check(await page.locator('#apikey-form').isHidden(), 'the API-key form is still shown after a good key');
    check(await page.evaluate(() => localStorage.getItem('frugal.apiKey')) === KEY, 'the API key is not kept in localStorage');
});
log(`model name shown: ${id}; API key prompt works`);

// --- the system prompt, Enter and Shift+Enter, one streamed answer
const SYSTEM = 'You are a terse assistant.';
const Q1 = 'Write a haiku about small computers.';
await step('system prompt field', async () => {
    await settings(true);
    await page.fill('#system', SYSTEM);
    check(await page.inputValue('#max-tokens') === String(MAX), 'max_tokens from the URL is not in #max-tokens');
    await settings(false);
});
await step('Shift+Enter inserts a new line', async () => {
    await page.click('#input');
    await page.keyboard.type('line one');
    await page.keyboard.press('Shift+Enter');
    await page.keyboard.type('line two');
    check(await page.inputValue('#input') === 'line one\nline two', `#input is ${JSON.stringify(await page.inputValue('#input'))}`);
    check(await page.locator('.msg').count() === 0, 'Shift+Enter sent the message');
    await page.fill('#input', '');
});
await step('the first answer streams and finishes', async () => {
    await page.evaluate(() => {   // the answer may be over before playwright looks: record the buttons
        window.__sawBusy = false;
        const send = document.getElementById('send'), stop = document.getElementById('stop');
        new MutationObserver(() => { if (send.disabled && !stop.disabled) window.__sawBusy = true; })
            .observe(send, { attributes: true });
    });
    await page.fill('#input', Q1);
    await page.press('#input', 'Enter');
    await page.waitForSelector('.msg.user');
    await page.waitForSelector('.msg.assistant[data-state]:not([data-state="streaming"])');
    const state = await assistant(0).getAttribute('data-state');
    check(state === 'done', `the answer ended in state "${state}": ${await assistant(0).textContent()}`);
    check(await page.evaluate(() => window.__sawBusy), '#send was not disabled (with #stop enabled) while streaming');
    check(await page.isEnabled('#send'), '#send not enabled again after the answer');
    check(await page.isDisabled('#stop'), '#stop not disabled after the answer');
    check(await page.inputValue('#input') === '', '#input not cleared after sending');
});
const a1 = await assistant(0).getAttribute('data-text');
const shown1 = (await assistant(0).locator('.content').innerText()).trim();
check(a1 && a1.length > 0 && shown1.length > 0, `the assistant answer is empty (raw ${JSON.stringify(a1)}, shown ${JSON.stringify(shown1)})`);
{
    // the page asks exactly what the API would be asked: same text as a direct request
    const r = await fetch(`${base}/v1/chat/completions`, {
        method: 'POST', headers: { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ model: id, messages: [{ role: 'system', content: SYSTEM }, { role: 'user', content: Q1 }], max_tokens: MAX, temperature: 0 }),
    });
    const j = await r.json();
    check(r.status === 200, `direct request: HTTP ${r.status} ${JSON.stringify(j)}`);
    check(j.choices[0].message.content === a1, `the page's answer ${JSON.stringify(a1)} != the API's ${JSON.stringify(j.choices[0].message.content)}`);
}
const tps = (await page.textContent('#tps')).trim();
check(/^\d+(\.\d+)? tokens\/s$/.test(tps) && parseFloat(tps) > 0, `#tps shows ${JSON.stringify(tps)}, want "N tokens/s" with N > 0`);
log(`answer 1: ${JSON.stringify(a1)}; ${tps}`);

// --- a second turn (the history is sent along)
await step('a second turn', async () => {
    await page.fill('#input', 'And one more, please.');
    await page.click('#send');
    await page.waitForFunction(() => {
        const a = document.querySelectorAll('.msg.assistant');
        return a.length === 2 && a[1].dataset.state && a[1].dataset.state !== 'streaming';
    });
    check(await assistant(1).getAttribute('data-state') === 'done', `second answer state ${await assistant(1).getAttribute('data-state')}`);
    check(await page.locator('.msg.user').count() === 2, 'want 2 user messages');
});
await page.screenshot({ path: `${ART}/serve_web.png`, fullPage: true });
log(`screenshot ${ART}/serve_web.png`);

// --- Stop: a long answer, stopped once it is visibly streaming
await step('the Stop button ends a streaming answer', async () => {
    await settings(true);
    await page.click('#clear');
    check(await page.locator('.msg').count() === 0, '"New chat" did not clear the messages');
    await page.evaluate(() => { document.getElementById('max-tokens').value = '400'; });
    // a slow network (about 8 chunks/s), so that the answer is still streaming when Stop is
    // pressed however fast the server generates
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: 1500, uploadThroughput: -1 });
    await page.fill('#input', 'Tell me a very long story.');
    await page.click('#send');
    await page.waitForFunction(() => {
        const a = document.querySelector('.msg.assistant .content');
        return a && a.textContent.length > 0;
    });
    check(await page.isEnabled('#stop'), '#stop is not enabled while streaming');
    await page.evaluate(() => {
        window.__stopT = null;
        // capture phase: before the page's own handler
        document.addEventListener('click', (e) => { if (e.target.id === 'stop' && !window.__stopT) window.__stopT = performance.now(); }, true);
        const a = document.querySelector('.msg.assistant');
        new MutationObserver(() => { if (a.dataset.state !== 'streaming' && !window.__endT) window.__endT = performance.now(); })
            .observe(a, { attributes: true });
    });
    const t0 = Date.now();
    await page.click('#stop');
    await page.waitForSelector('.msg.assistant[data-state]:not([data-state="streaming"])', { timeout: 5000 * SLOW });
    const state = await assistant(0).getAttribute('data-state');
    check(state === 'stopped', `after Stop the answer is in state "${state}" (want "stopped"; did it finish before Stop?)`);
    const len = (await assistant(0).getAttribute('data-text')).length;
    const shown = await assistant(0).locator('.content').textContent();
    await page.waitForTimeout(500);
    check(await assistant(0).locator('.content').textContent() === shown, 'the answer kept growing after Stop');
    check(await page.isEnabled('#send') && await page.isDisabled('#stop'), 'buttons not reset after Stop');
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    await cdp.detach();
    const inPage = await page.evaluate(() => window.__endT - window.__stopT);
    check(inPage >= 0 && inPage < 1000 * SLOW, `the page took ${inPage} ms from the Stop click to the end of streaming`);
    log(`Stop ended streaming ${inPage.toFixed(0)} ms after the click (${len} chars shown; the click took ${Date.now() - t0} ms in all)`);
});
await step('the server frees the slot of a stopped stream', async () => {
    // /metrics: frugal_slots_busy back to 0 (the request was cancelled, or had just finished)
    const metric = (text, name) => { const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text); return m ? +m[1] : NaN; };
    const until = Date.now() + 10000 * SLOW;
    let text = '';
    for (;;) {
        const r = await fetch(`${base}/metrics`, { headers: { Authorization: `Bearer ${KEY}` } });
        text = await r.text();
        check(r.status === 200, `GET /metrics: HTTP ${r.status}`);
        if (metric(text, 'frugal_slots_busy') === 0) break;
        check(Date.now() < until, `frugal_slots_busy is still ${metric(text, 'frugal_slots_busy')} 10 s after Stop`);
        await new Promise((res) => setTimeout(res, 100));
    }
    log(`after Stop: slots busy 0, requests cancelled ${metric(text, 'frugal_requests_cancelled_total')}, ` +
        `tokens generated in all ${metric(text, 'frugal_generated_tokens_total')}`);
});
await step('the server answers again after a stopped stream', async () => {
    await page.evaluate((m) => { document.getElementById('max-tokens').value = String(m); }, MAX);
    await page.fill('#input', 'Short answer now.');
    await page.click('#send');
    await page.waitForFunction(() => {
        const a = document.querySelectorAll('.msg.assistant');
        return a.length === 2 && a[1].dataset.state && a[1].dataset.state !== 'streaming';
    });
    check(await assistant(1).getAttribute('data-state') === 'done', `answer after Stop: state ${await assistant(1).getAttribute('data-state')}`);
});

// --- reasoning_content in a collapsible block, and errors shown (canned answers via page.route:
// the fixture model does not reason)
await step('reasoning block and error display', async () => {
    const chunk = (delta, finish = null) => `data: ${JSON.stringify({ id: 'x', object: 'chat.completion.chunk', created: 0, model: id, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
    const sse = chunk({ role: 'assistant' }) + chunk({ reasoning_content: 'Let me think ' }) + chunk({ reasoning_content: 'step by step.' }) +
        chunk({ content: 'The **answer** is 42.' }) + chunk({}, 'stop') + 'data: [DONE]\n\n';
    await page.route('**/v1/chat/completions', (route) => route.fulfill({ status: 200, contentType: 'text/event-stream', body: sse }));
    await settings(true);
    await page.click('#clear');
    await settings(false);
    await page.fill('#input', 'Think first.');
    await page.click('#send');
    await page.waitForSelector('.msg.assistant[data-state="done"]');
    const r = await assistant(0).evaluate((el) => ({
        summary: el.querySelector('details.reasoning summary')?.textContent,
        open: el.querySelector('details.reasoning')?.open,
        reasoning: el.querySelector('details.reasoning .rtext')?.textContent,
        strong: el.querySelector('.content strong')?.textContent,
        raw: el.dataset.text,
    }));
    check(r.summary === 'Reasoning' && r.reasoning === 'Let me think step by step.' && r.open === false,
        `reasoning block: ${JSON.stringify(r)}`);
    check(r.strong === 'answer' && r.raw === 'The **answer** is 42.', `content beside reasoning: ${JSON.stringify(r)}`);
    await page.unroute('**/v1/chat/completions');
    expected = /status of 40[01]/;
    await page.route('**/v1/chat/completions', (route) => route.fulfill({
        status: 400, contentType: 'application/json',
        body: JSON.stringify({ error: { message: 'max_tokens: too large', type: 'invalid_request_error' } }),
    }));
    await page.fill('#input', 'This fails.');
    await page.click('#send');
    await page.waitForSelector('.msg.assistant[data-state="error"]');
    const shown = await page.textContent('#error');
    check(/400/.test(shown) && /max_tokens: too large/.test(shown), `the error shown is ${JSON.stringify(shown)}`);
    check(await page.isEnabled('#send'), '#send not enabled after an error');
    await page.unroute('**/v1/chat/completions');
    expected = /status of 401/;
});
log('reasoning_content shown in a closed <details> "Reasoning"; HTTP errors shown');

// --- Markdown is rendered safely (the renderer the page uses for answers)
await step('safe Markdown', async () => {
    const r = await page.evaluate(() => {
        const md = window.frugal.markdown;
        const box = document.createElement('div');
        box.innerHTML = md([
            '# Title', '', 'Some **bold**, *italic* and `a<b>` code.', '',
            '- one', '- two', '', '1. first', '2. second', '',
            '```c', 'int main(void) { return 1 < 2; }', '```', '',
            '[ok](https://example.org/a_b_c) [bad](javascript:alert(1)) <img src=x onerror="window.pwned=1">',
            '<script>window.pwned=1</script>',
        ].join('\n'));
        return {
            h1: box.querySelector('h1')?.textContent, strong: box.querySelector('strong')?.textContent,
            em: box.querySelector('em')?.textContent, code: box.querySelector('p code')?.textContent,
            ul: box.querySelectorAll('ul li').length, ol: box.querySelectorAll('ol li').length,
            pre: box.querySelector('pre code')?.textContent, lang: box.querySelector('pre code')?.dataset.lang,
            links: [...box.querySelectorAll('a')].map((a) => a.getAttribute('href')),
            img: box.querySelectorAll('img').length, script: box.querySelectorAll('script').length,
            unclosed: md('```py\nprint(1)').includes('<pre><code'),
        };
    });
    check(r.h1 === 'Title' && r.strong === 'bold' && r.em === 'italic' && r.code === 'a<b>', `inline/heading: ${JSON.stringify(r)}`);
    check(r.ul === 2 && r.ol === 2, `lists: ${JSON.stringify(r)}`);
    check(r.pre === 'int main(void) { return 1 < 2; }' && r.lang === 'c', `code fence: ${JSON.stringify(r)}`);
    check(JSON.stringify(r.links) === '["https://example.org/a_b_c"]', `links (only http(s)): ${JSON.stringify(r.links)}`);
    check(r.img === 0 && r.script === 0, `raw HTML was not escaped: ${JSON.stringify(r)}`);
    check(r.unclosed, 'an unclosed fence (mid-stream) is not shown as code');
    check(await page.evaluate(() => window.pwned === undefined), 'injected HTML ran');
});
log('Markdown: headings, emphasis, code, lists, fences, http(s)-only links, HTML escaped');

// --- narrow screens: no horizontal scrolling, controls visible
await step('narrow layout', async () => {
    await page.setViewportSize({ width: 360, height: 700 });
    const o = await page.evaluate(() => ({ sw: document.documentElement.scrollWidth, cw: document.documentElement.clientWidth }));
    check(o.sw <= o.cw, `horizontal overflow at 360 px: scrollWidth ${o.sw} > clientWidth ${o.cw}`);
    for (const sel of ['#input', '#send', '#stop']) check(await page.isVisible(sel), `${sel} not visible at 360 px`);
    await page.screenshot({ path: `${ART}/serve_web_narrow.png`, fullPage: true });
});

// --- accessibility basics
await step('accessibility basics', async () => {
    const a = await page.evaluate(() => ({
        live: document.getElementById('messages').getAttribute('aria-live'),
        unlabeled: [...document.querySelectorAll('input, textarea, select')]
            .filter((e) => e.type !== 'hidden' && !(e.labels && e.labels.length) && !e.getAttribute('aria-label')).map((e) => e.id),
    }));
    check(a.live === 'polite' || a.live === 'assertive', `#messages aria-live is ${a.live}`);
    check(a.unlabeled.length === 0, `form fields without a label: ${a.unlabeled.join(', ')}`);
});

check(problems.length === 0, `the page had problems:\n  ${problems.join('\n  ')}`);
await browser.close();
await srv.stop();
log('all checks passed');
