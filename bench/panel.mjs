// `rt-bench --panel` (issue 12): the web panel in a real headless Chromium
// (Debian's, driven by the playwright-core that server/ui pins), against a
// running rt-server with one instance on the clip:
//
//   node bench/panel.mjs --base URL --instance ID --server-pid PID --secs N
//
// Prints one JSON object:
// - first load of `/` in a fresh profile (no cache): time to the `load`
//   event and to first contentful paint, requests and bytes transferred;
// - glass-to-glass latency of the live view: for each Motion JPEG part,
//   from `X-Frame-Time` (the frame reached the pipeline, server clock) to
//   the frame decoded and painted in the page (`createImageBitmap`, drawn,
//   next animation frame; same machine, same clock), p50/p99;
// - CPU (% of one core) of the server and of the browser with the
//   instance's view open in the panel for N seconds, and of the server
//   with no view open for N seconds (the difference is the view's cost).

import { createRequire } from 'node:module';
import { readFileSync, readdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const require = createRequire(new URL('../server/ui/package.json', import.meta.url));
const { chromium } = require('playwright-core');

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].slice(2)] = process.argv[i + 1];
for (const k of ['base', 'instance', 'server-pid', 'secs']) {
  if (!args[k]) throw new Error(`missing --${k}`);
}
const base = args.base.replace(/\/$/, '');
const secs = Number(args.secs);
const TICK = 100; // clock ticks per second (USER_HZ)

// utime + stime of a process, in seconds.
function cpuOf(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / TICK;
  } catch {
    return 0; // the process is gone
  }
}

// The browser's processes: every process whose command line names our profile.
function browserPids(profile) {
  const pids = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(profile)) pids.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

async function cpuOver(pids, ms) {
  const before = new Map(pids().map((p) => [p, cpuOf(p)]));
  await new Promise((r) => setTimeout(r, ms));
  let used = 0;
  for (const p of pids()) used += cpuOf(p) - (before.get(p) ?? 0);
  return (used / (ms / 1000)) * 100;
}

const pct = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.round((s.length - 1) * q)] : NaN;
};

const profile = mkdtempSync(join(tmpdir(), 'rt-bench-chromium-'));
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  viewport: { width: 1280, height: 800 },
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const serverPid = Number(args['server-pid']);
const result = {};
try {
  const page = browser.pages()[0] ?? (await browser.newPage());

  // Server CPU with no view open.
  result.server_cpu_idle = await cpuOver(() => [serverPid], secs * 1000);

  // First load (fresh profile: nothing cached).
  await page.goto(`${base}/`, { waitUntil: 'load' });
  result.first_load = await page.evaluate(() => {
    const nav = performance.getEntriesByType('navigation')[0];
    const res = performance.getEntriesByType('resource');
    const fcp = performance.getEntriesByName('first-contentful-paint')[0];
    const all = [nav, ...res];
    return {
      load_ms: nav.loadEventEnd,
      fcp_ms: fcp ? fcp.startTime : null,
      requests: all.length,
      transferred_bytes: all.reduce((n, e) => n + (e.transferSize || 0), 0),
      decoded_bytes: all.reduce((n, e) => n + (e.decodedBodySize || 0), 0),
    };
  });

  // The instance's view in the panel: CPU of the server and of the browser.
  await page.goto(`${base}/#/instance/${args.instance}`, { waitUntil: 'load' });
  await page.waitForTimeout(2000); // let the stream start before measuring
  const [serverView, browserView] = await Promise.all([
    cpuOver(() => [serverPid], secs * 1000),
    cpuOver(() => browserPids(profile), secs * 1000),
  ]);
  result.server_cpu_view = serverView;
  result.browser_cpu_view = browserView;

  // Glass to glass, in a blank page of the same origin (one stream only).
  await page.goto(`${base}/ui/vendor/README.md`);
  result.latency_ms = await page.evaluate(async ({ url, ms }) => {
    const canvas = document.createElement('canvas');
    document.body.appendChild(canvas);
    const ctx = canvas.getContext('2d');
    const res = await fetch(url);
    const reader = res.body.getReader();
    const te = new TextDecoder('latin1');
    let buf = new Uint8Array(0);
    const out = [];
    const end = performance.now() + ms;
    while (performance.now() < end) {
      const { value, done } = await reader.read();
      if (done) break;
      const b = new Uint8Array(buf.length + value.length);
      b.set(buf);
      b.set(value, buf.length);
      buf = b;
      for (;;) {
        const text = te.decode(buf.subarray(0, Math.min(buf.length, 512)));
        const headEnd = text.indexOf('\r\n\r\n');
        if (headEnd < 0) break;
        const len = Number(/Content-Length: (\d+)/.exec(text)[1]);
        const time = Number(/X-Frame-Time: (\d+)/.exec(text)[1]);
        const start = headEnd + 4;
        if (buf.length < start + len + 2) break;
        const jpeg = buf.slice(start, start + len);
        buf = buf.slice(start + len + 2);
        const bmp = await createImageBitmap(new Blob([jpeg], { type: 'image/jpeg' }));
        canvas.width = bmp.width;
        canvas.height = bmp.height;
        ctx.drawImage(bmp, 0, 0);
        await new Promise((r) => requestAnimationFrame(r));
        out.push(Date.now() - time);
      }
    }
    reader.cancel();
    return out;
  }, { url: `${base}/v1/core/instance/${args.instance}/mjpeg`, ms: secs * 1000 });
} finally {
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
}
const l = result.latency_ms;
result.latency = { frames: l.length, p50_ms: pct(l, 0.5), p99_ms: pct(l, 0.99) };
delete result.latency_ms;
console.log(JSON.stringify(result));
