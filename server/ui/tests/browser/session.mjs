// Browser sessions under bearer tokens, in a real headless Chromium:
//
//   node server/ui/tests/browser/session.mjs --base http://127.0.0.1:PORT --token T --instance ID
//
// A page of the server opens a session (POST /v1/session with the token),
// then loads the running instance's live view as a plain <img> and its event
// stream with a plain EventSource: both need the cookie. Then pages of
// another site (http://localhost:OTHER) and of another port of the same host
// (http://127.0.0.1:OTHER) post a form to the API: neither may act (the
// cookie never authorizes a write, and is not even sent cross-site). Prints
// one line per step; exit 1 with a message on the first failure.

import { createServer } from 'node:http';
import { chromium } from 'playwright-core';

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].slice(2)] = process.argv[i + 1];
for (const k of ['base', 'token', 'instance']) if (!args[k]) throw new Error(`missing --${k}`);
const base = args.base.replace(/\/$/, '');
const auth = { Authorization: `Bearer ${args.token}` };

const count = async () => (await (await fetch(`${base}/v1/core/instances`, { headers: auth })).json()).instances.length;

// The attacker's pages: a form that posts a new instance to the API.
const attacker = createServer((req, res) => {
  res.writeHead(200, { 'Content-Type': 'text/html' });
  res.end(`<!doctype html><form id="f" method="POST" action="${base}/v1/core/instance" enctype="text/plain">
    <input name='{"name":"csrf","x":"' value='"}'></form>`);
});
await new Promise((r) => attacker.listen(0, '127.0.0.1', r));
const port = attacker.address().port;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
let failed = false;
const step = async (name, fn) => {
  try {
    const detail = await fn();
    console.log(`ok   ${name}${detail ? `: ${detail}` : ''}`);
  } catch (e) {
    console.log(`FAIL ${name}: ${e.message}`);
    failed = true;
  }
};
try {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${base}/docs`);
  await step('without a session, an <img> of the live view is refused', async () => {
    const ok = await page.evaluate((src) => new Promise((r) => {
      const img = new Image();
      img.onload = () => r(true);
      img.onerror = () => r(false);
      img.src = src;
    }), `${base}/v1/core/instance/${args.instance}/mjpeg`);
    if (ok) throw new Error('the live view loaded without a session');
  });
  await step('POST /v1/session with the token sets an HttpOnly cookie', async () => {
    const status = await page.evaluate(async (h) => (await fetch('/v1/session', { method: 'POST', headers: h })).status, auth);
    if (status !== 204) throw new Error(`status ${status}`);
    const cookies = await context.cookies(base);
    const c = cookies.find((x) => x.name === 'rt_session');
    if (!c || !c.httpOnly || c.sameSite !== 'Strict') throw new Error(JSON.stringify(cookies));
    if (await page.evaluate(() => document.cookie.includes('rt_session'))) throw new Error('visible to scripts');
  });
  await step('with the session, a plain <img> plays the live view', async () => {
    const size = await page.evaluate((src) => new Promise((r, j) => {
      const img = new Image();
      img.onload = () => r(`${img.naturalWidth}x${img.naturalHeight}`);
      img.onerror = () => j(new Error('the image did not load'));
      img.src = src;
      document.body.appendChild(img);
    }), `${base}/v1/core/instance/${args.instance}/mjpeg`);
    return size;
  });
  await step('with the session, a plain EventSource receives events', async () => {
    const kind = await page.evaluate((url) => new Promise((r, j) => {
      const es = new EventSource(url);
      es.addEventListener('statistics', () => { es.close(); r('statistics'); });
      es.onerror = () => { es.close(); j(new Error('EventSource failed')); };
      setTimeout(() => { es.close(); j(new Error('no event in 10 s')); }, 10000);
    }), `${base}/v1/core/instance/${args.instance}/consume_events_sse`);
    return kind;
  });
  const before = await count();
  for (const origin of [`http://localhost:${port}`, `http://127.0.0.1:${port}`]) {
    await step(`a form posted from ${origin} cannot act with the cookie`, async () => {
      const attack = await context.newPage();
      await attack.goto(`${origin}/`);
      const [response] = await Promise.all([
        attack.waitForNavigation(),
        attack.evaluate(() => document.getElementById('f').submit()),
      ]);
      const status = response ? response.status() : 0;
      await attack.close();
      if (status !== 401) throw new Error(`answered ${status}`);
      return `401`;
    });
  }
  await step('no instance was created by the forms', async () => {
    const after = await count();
    if (after !== before) throw new Error(`${before} instances before, ${after} after`);
  });
  await step('DELETE /v1/session ends the session', async () => {
    const status = await page.evaluate(async (h) => (await fetch('/v1/session', { method: 'DELETE', headers: h })).status, auth);
    if (status !== 204) throw new Error(`status ${status}`);
    const r = await page.evaluate(async (url) => (await fetch(url)).status, `/v1/core/instance/${args.instance}/frame`);
    if (r !== 401) throw new Error(`a read after the end answered ${r}`);
  });
} finally {
  await browser.close();
  attacker.close();
}
if (failed) process.exit(1);
console.log('PASS sessions');
