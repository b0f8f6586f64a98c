// End-to-end test of the web panel in a real headless Chromium (Debian's
// /usr/bin/chromium, driven by playwright-core; no browser download), against
// a running rt-server:
//
//   node server/ui/tests/browser/panel.mjs --base http://127.0.0.1:PORT --video /path/vtest.avi --out DIR
//
// Creates an instance on the clip through the UI and starts it, checks that
// the live view changes, draws an intrusion area (4 clicks) and a crossing
// line (2 clicks) in the editor and reads them back through the API (within
// 1 %), sees `track` and analytics events in the feed, queries stored events
// and sees the chart, runs GET /v1/core/version from /docs with try-it-out,
// creates a Manual instance and pushes image files to it from the instance
// view (a file that is no image gets the server's reason), and deletes the
// instances through the UI. No console error and no request
// to another host is allowed on any page. Screenshots go under --out. One
// line per step; exit 0 on success, 1 with a message on the first failure.
// CHROMIUM overrides the browser path. With `--token T` (a server that
// requires a bearer token) the panel must ask for it once, and every call,
// the event stream and the live view must then carry it.

import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

function parseArgs(argv) {
  const a = {};
  for (let i = 2; i < argv.length; i += 2) {
    if (!argv[i].startsWith('--') || argv[i + 1] === undefined) throw new Error(`bad argument ${argv[i]}`);
    a[argv[i].slice(2)] = argv[i + 1];
  }
  for (const k of ['base', 'video', 'out']) if (!a[k]) throw new Error(`missing --${k}`);
  for (const k of Object.keys(a)) if (!['base', 'video', 'out', 'token'].includes(k)) throw new Error(`unknown option --${k}`);
  return a;
}

const args = parseArgs(process.argv);
const base = new URL(args.base);
const out = resolve(args.out);
mkdirSync(out, { recursive: true });
const T = 30_000; // default wait for a condition
const started = Date.now();
let current = 'start';

const step = async (name, fn) => {
  current = name;
  const t0 = Date.now();
  const detail = await fn();
  console.log(`ok   ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)${detail ? `: ${detail}` : ''}`);
};

async function apiGet(path) {
  const res = await fetch(new URL(path, base), { headers: args.token ? { Authorization: `Bearer ${args.token}` } : {} });
  if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

// Polls `probe` (async, truthy = done) until `ms` pass.
async function until(what, probe, ms = T, every = 500) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, every));
  }
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
const foreign = [];
const consoleErrors = [];
context.on('request', (r) => {
  const u = new URL(r.url());
  if (u.protocol === 'data:' || u.protocol === 'blob:') return;
  if (u.origin !== base.origin) foreign.push(r.url());
});
const page = await context.newPage();
page.on('console', (m) => {
  if (m.type() === 'error') consoleErrors.push(`${page.url()}: ${m.text()}`);
});
page.on('pageerror', (e) => consoleErrors.push(`${page.url()}: uncaught ${e.message}`));
const shot = (name, locator) => (locator ?? page).screenshot({ path: join(out, `${name}.png`) });
const checkClean = () => {
  if (consoleErrors.length) throw new Error(`console errors:\n  ${consoleErrors.join('\n  ')}`);
  if (foreign.length) throw new Error(`requests to other hosts:\n  ${foreign.join('\n  ')}`);
};

const name = `browser-test-${Date.now()}`;
let id = '';

try {
  await step('open / (the panel)', async () => {
    await page.goto(new URL('/', base).href);
    await page.getByRole('heading', { name: 'Instances', level: 1 }).waitFor({ timeout: T });
    if (args.token) {
      // The first calls get 401 (logged by the browser as failed loads, not
      // errors of the panel): one dialog asks for the token.
      const dialog = page.getByRole('dialog', { name: 'Access token' });
      await dialog.waitFor({ timeout: T });
      await dialog.getByLabel('Bearer token').fill(args.token);
      await dialog.getByRole('button', { name: 'Use token' }).click();
      await dialog.waitFor({ state: 'hidden' });
      await page.locator('form.create select[name="solution"] option').first().waitFor({ state: 'attached', timeout: T });
      consoleErrors.splice(0, consoleErrors.length, ...consoleErrors.filter((m) => !/status of 401/.test(m)));
    }
    checkClean();
    return args.token ? 'token asked once and used' : '';
  });

  await step('create an instance on the test clip through the UI and start it', async () => {
    const form = page.locator('form.create');
    await form.getByLabel('Name').fill(name);
    await form.getByLabel('Solution').selectOption('securt');
    await form.getByLabel('Input type').selectOption('File');
    await form.getByLabel('Input URI').fill(args.video);
    await form.getByLabel('Debug mode (send every track and crop)').check();
    await form.getByLabel('Start now').check();
    await form.getByRole('button', { name: 'Create' }).click();
    const link = form.getByRole('status').getByRole('link');
    await link.waitFor({ timeout: T });
    id = (await link.getAttribute('href')).split('/').pop();
    const row = page.locator(`tr[data-instance="${id}"]`);
    await row.locator('.badge.state-running').waitFor({ timeout: T });
    await row.getByText('File').first().waitFor({ timeout: T });
    checkClean();
    return `instance ${id}, Running`;
  });

  await step('screenshots of the instances screen (1280x800 and 390x844)', async () => {
    await shot('instances-1280x800');
    await page.setViewportSize({ width: 390, height: 844 });
    await page.locator(`tr[data-instance="${id}"]`).waitFor();
    await shot('instances-390x844');
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  await step('instance view: the live view changes within 2 s', async () => {
    await page.locator(`tr[data-instance="${id}"]`).getByRole('link', { name }).click();
    await page.waitForFunction(() => {
      const i = document.getElementById('live-view');
      return i && i.complete && i.naturalWidth > 0;
    }, null, { timeout: T });
    // Hash the img's current pixels through a canvas; wait for a different
    // hash. (Functions, not strings: the page's CSP forbids eval.)
    const changed = (h0) => {
      const img = document.getElementById('live-view');
      const c = document.createElement('canvas');
      c.width = 96;
      c.height = 72;
      const g = c.getContext('2d', { willReadFrequently: true });
      g.drawImage(img, 0, 0, c.width, c.height);
      const d = g.getImageData(0, 0, c.width, c.height).data;
      let h = 0;
      for (let k = 0; k < d.length; k += 4) h = (h * 31 + d[k] + d[k + 1] * 7 + d[k + 2] * 13) >>> 0;
      return h0 === null ? h : h !== h0;
    };
    const h0 = await page.evaluate(changed, null);
    const t0 = Date.now();
    await page.waitForFunction(changed, h0, { timeout: 2000, polling: 100 });
    const size = await page.evaluate(() => {
      const i = document.getElementById('live-view');
      return `${i.naturalWidth}x${i.naturalHeight}`;
    });
    checkClean();
    return `changed after ${Date.now() - t0} ms (${size} frames)`;
  });

  await step('event feed: track events arrive', async () => {
    await page.locator('ol.events li[data-type="track"]').first().waitFor({ timeout: 60_000 });
  });

  const clicks = { area: [[0.03, 0.04], [0.97, 0.04], [0.97, 0.96], [0.03, 0.96]], line: [[0.1, 0.62], [0.9, 0.55]] };
  await step('editor: draw an intrusion area (4 clicks) and a crossing line (2 clicks)', async () => {
    await page.getByRole('link', { name: 'Zones and lines' }).click();
    await page.getByRole('heading', { name: /Zones and lines/, level: 1 }).waitFor();
    await until('a frame in the editor', async () => {
      if (await page.locator('.stage img').count()) return true;
      const b = page.getByRole('button', { name: 'Refresh frame' });
      await b.click();
      return false;
    });
    await page.waitForFunction(() => document.querySelector('.stage img')?.naturalWidth > 0);
    const svg = page.locator('#editor-canvas');
    const at = async ([x, y]) => {
      const b = await svg.boundingBox();
      await page.mouse.click(b.x + x * b.width, b.y + y * b.height);
    };
    await page.getByRole('button', { name: 'Draw area' }).click();
    for (const p of clicks.area) await at(p);
    await page.getByRole('button', { name: 'Finish' }).click();
    const form = page.locator('form[aria-labelledby="draft-title"]');
    await form.getByLabel('Rule type').selectOption('intrusion');
    await form.getByLabel('Name').fill('UI intrusion');
    await form.getByRole('button', { name: 'Save' }).click();
    await page.locator('ul.entities li', { hasText: 'UI intrusion' }).waitFor({ timeout: T });

    await page.getByRole('button', { name: 'Draw line' }).click();
    for (const p of clicks.line) await at(p);
    await form.getByLabel('Rule type').selectOption('crossing');
    await form.getByLabel('Name').fill('UI line');
    await form.getByLabel('Direction').selectOption('Up');
    await form.getByRole('button', { name: 'Flip direction' }).click();
    await form.getByRole('button', { name: 'Flip direction' }).click(); // back to Up
    await form.getByRole('button', { name: 'Save' }).click();
    await page.locator('ul.entities li', { hasText: 'UI line' }).waitFor({ timeout: T });
    await shot('editor');
    checkClean();
  });

  await step('read the area and the line back through the API (within 1 %)', async () => {
    const e = await apiGet(`/v1/securt/instance/${id}/analytics_entities`);
    const area = e.intrusionAreas.find((a) => a.name === 'UI intrusion');
    const line = e.crossingLines.find((l) => l.name === 'UI line');
    if (!area) throw new Error(`no intrusion area named "UI intrusion" in ${JSON.stringify(e)}`);
    if (!line) throw new Error(`no crossing line named "UI line" in ${JSON.stringify(e)}`);
    const near = (got, want, what) => {
      if (got.length !== want.length) throw new Error(`${what}: ${got.length} points, want ${want.length}`);
      got.forEach((p, i) => {
        if (Math.abs(p.x - want[i][0]) > 0.01 || Math.abs(p.y - want[i][1]) > 0.01)
          throw new Error(`${what} point ${i}: got (${p.x}, ${p.y}), clicked (${want[i]})`);
      });
    };
    near(area.coordinates, clicks.area, 'area');
    near(line.coordinates, clicks.line, 'line');
    if (line.direction !== 'Up') throw new Error(`line direction ${line.direction}, want Up`);
    return `area ${JSON.stringify(area.coordinates)}; line ${JSON.stringify(line.coordinates)} ${line.direction}`;
  });

  await step('event feed: analytics events arrive; clicking one shows its crop', async () => {
    await page.getByRole('link', { name: 'Instances' }).first().waitFor();
    await page.goto(new URL(`/#/instance/${id}`, base).href);
    await page.locator('ol.events li[data-type="track"]').first().waitFor({ timeout: 60_000 });
    await page.getByLabel('Type').selectOption('analytics');
    const ev = page.locator('ol.events li[data-type^="event-"]').first();
    await ev.waitFor({ timeout: 90_000 });
    const type = await ev.getAttribute('data-type');
    await page.getByRole('button', { name: 'Pause' }).click();
    await page.locator('ol.events li[data-type^="event-"] button').first().click();
    await page.locator('.event-detail').waitFor();
    // The event's crop is shown when it arrived while the feed was open.
    const eventImg = await page.locator('.event-detail img.crop').count();
    await page.getByRole('button', { name: /^Resume/ }).click();
    // A crop record (debug mode sends every crop) shows its image. Not
    // required: the issue's checks do not name crops; reported either way.
    await page.getByLabel('Type').selectOption('crop');
    const crop = page.locator('ol.events li[data-type="crop"] button').first();
    let cropNote = 'no crop record within 20 s';
    if (await crop.waitFor({ timeout: 20_000 }).then(() => true, () => false)) {
      await page.getByRole('button', { name: 'Pause' }).click();
      await crop.click();
      await page.waitForFunction(() => document.querySelector('.event-detail img.crop')?.naturalWidth > 0, null, { timeout: T });
      cropNote = `crop image ${await page.locator('.event-detail img.crop').evaluate((i) => `${i.naturalWidth}x${i.naturalHeight}`)} shown`;
      await page.getByRole('button', { name: /^Resume/ }).click();
    }
    await page.getByLabel('Type').selectOption('analytics');
    await shot('instance-view');
    checkClean();
    return `${type} (${eventImg ? 'its crop shown' : 'no crop for it'}); ${cropNote}`;
  });

  await step('exporting: HLS toggle shows its URI; an MQTT handler is added, its password never shown, removed', async () => {
    await page.getByRole('link', { name: 'Exporting' }).click();
    await page.getByRole('heading', { name: 'MQTT handlers' }).waitFor({ timeout: T });
    await page.getByLabel('HLS output enabled').check();
    const playlist = page.getByRole('link', { name: new RegExp(`/hls/${id}\\.m3u8$`) });
    await playlist.waitFor({ timeout: T });
    await page.getByRole('button', { name: 'Add handler' }).click();
    const form = page.locator('form[aria-labelledby="handler-title"]');
    await form.getByLabel('Name', { exact: true }).fill('uitest');
    await form.getByLabel('Broker URI').fill('mqtt://127.0.0.1:1');
    await form.getByLabel('User name').fill('panel');
    await form.getByLabel('Password', { exact: true }).fill('s3cret-from-ui');
    await form.getByRole('button', { name: 'Save handler' }).click();
    const row = page.locator('tr', { hasText: 'uitest' });
    await row.getByText('stored').waitFor({ timeout: T });
    const cfg = await apiGet(`/v1/core/instance/${id}/config`);
    const h = cfg.Output?.handlers?.uitest;
    if (!h || h.uri !== 'mqtt://127.0.0.1:1' || h.config?.username !== 'panel') throw new Error(`handler not stored: ${JSON.stringify(h)}`);
    if (h.config.password === 's3cret-from-ui') throw new Error('the server returned the password in clear');
    await row.getByRole('button', { name: 'Edit' }).click();
    const shown = await form.getByLabel('Password', { exact: true }).inputValue();
    if (shown !== '') throw new Error(`the edit form shows a password: ${shown}`);
    if ((await page.content()).includes('********')) throw new Error('the password mask is shown');
    await shot('export');
    await form.getByRole('button', { name: 'Cancel' }).click();
    await row.getByRole('button', { name: 'Remove handler uitest' }).click();
    await row.waitFor({ state: 'detached', timeout: T });
    const after = await apiGet(`/v1/core/instance/${id}/config`);
    if (after.Output?.handlers?.uitest) throw new Error('handler still in the config after Remove');
    await page.getByLabel('HLS output enabled').uncheck();
    await playlist.waitFor({ state: 'detached', timeout: T });
    checkClean();
    return `playlist /hls/${id}.m3u8; handler password stored as ${JSON.stringify(h.config.password)}`;
  });

  await step('stored data: query events and see the chart', async () => {
    await page.getByRole('link', { name: 'Stored data' }).click();
    await page.getByRole('heading', { name: 'Stored data', level: 1 }).waitFor();
    await page.locator('form.filters select').first().waitFor();
    const form = page.locator('form.filters');
    await form.getByLabel('Instance').selectOption(id);
    const bars = await until('stored events in the chart', async () => {
      const answer = page.waitForResponse((r) => r.url().endsWith('/v1/database/analytics'));
      await form.getByRole('button', { name: 'Query' }).click();
      await answer;
      await page.locator('#chart-title').waitFor();
      const n = await page.locator('figure.barchart rect').count();
      return n > 0 ? n : false;
    }, 60_000, 1000);
    const rows = await page.locator('table.stored tbody tr').count();
    await shot('stored-data');
    checkClean();
    return `${bars} bar segment(s), ${rows} row(s)`;
  });

  await step('cameras and system screens', async () => {
    await page.getByRole('link', { name: 'Cameras' }).click();
    await page.getByRole('button', { name: 'Discover ONVIF cameras' }).waitFor();
    await shot('cameras');
    await page.getByRole('link', { name: 'System' }).click();
    await page.locator('#engine-version').waitFor({ timeout: T });
    await page.locator('#log-tail').waitFor();
    await shot('system');
    checkClean();
    return `engine ${await page.locator('#engine-version').textContent()}`;
  });

  await step('/docs: GET /v1/core/version with try-it-out answers 200', async () => {
    await page.goto(new URL('/docs', base).href);
    const op = page.locator('#operations-core-get_version');
    await op.waitFor({ timeout: T });
    const execute = op.getByRole('button', { name: 'Execute' });
    if (!(await execute.count())) await op.locator('.opblock-summary').first().click();
    const tryIt = op.getByRole('button', { name: 'Try it out' });
    if (await tryIt.count()) await tryIt.click();
    await op.getByRole('button', { name: 'Execute' }).click();
    const status = op.locator('.live-responses-table tbody .response-col_status').first();
    await status.waitFor({ timeout: T });
    const code = (await status.textContent()).trim();
    if (!code.startsWith('200')) throw new Error(`try-it-out answered ${code}`);
    await shot('docs');
    checkClean();
    return `status ${code}`;
  });

  const pushedName = `${name}-pushed`;
  let pushedId = '';
  await step('a Manual instance: images pushed from the instance view are processed; a file that is no image is refused with the reason', async () => {
    // A JPEG to push: the clip instance's last frame.
    const jpeg = Buffer.from((await apiGet(`/v1/core/instance/${id}/frame`)).frame, 'base64');
    await page.goto(new URL('/#/', base).href);
    const form = page.locator('form.create');
    await form.getByLabel('Name').fill(pushedName);
    await form.getByLabel('Solution').selectOption('securt');
    await form.getByLabel('Input type').selectOption('Manual');
    await form.getByLabel('Start now').check();
    await form.getByRole('button', { name: 'Create' }).click();
    await form.getByRole('status').getByRole('link', { name: pushedName }).click();
    pushedId = page.url().split('/').pop();
    await page.locator('.badge.state-running').first().waitFor({ timeout: T });
    const card = page.getByRole('region', { name: 'Push images' });
    const files = card.getByLabel('Images');
    await until('the file input enabled', () => files.isEnabled());
    await files.setInputFiles([1, 2, 3].map((k) => ({ name: `f${k}.jpg`, mimeType: 'image/jpeg', buffer: jpeg })));
    await card.getByRole('status').filter({ hasText: '3 of 3 pushed' }).waitFor({ timeout: T });
    const frame = await until('the pushed frame shown by GET .../frame', async () => {
      const f = await apiGet(`/v1/core/instance/${pushedId}/frame`);
      return f.frame ? f : null;
    });
    await files.setInputFiles({ name: 'notes.jpg', mimeType: 'image/jpeg', buffer: Buffer.from('not an image') });
    await card.getByRole('alert').filter({ hasText: 'notes.jpg: frame: is not a JPEG, PNG or BMP image' }).waitFor({ timeout: T });
    // Chromium logs the refused push (400) as a failed load: expected here.
    consoleErrors.splice(0, consoleErrors.length, ...consoleErrors.filter((m) => !/status of 400/.test(m)));
    await shot('push-images', card);
    checkClean();
    return `instance ${pushedId}, frame of ${Buffer.from(frame.frame, 'base64').length} bytes`;
  });

  await step('delete the instances through the UI (with confirmation)', async () => {
    await page.goto(new URL('/#/', base).href);
    for (const [rowId, rowName] of [[id, name], [pushedId, pushedName]]) {
      const row = page.locator(`tr[data-instance="${rowId}"]`);
      await row.waitFor({ timeout: T });
      await row.getByRole('button', { name: `Delete ${rowName}` }).click();
      const dialog = page.getByRole('dialog');
      await dialog.getByRole('button', { name: 'Delete' }).click();
      await row.waitFor({ state: 'detached', timeout: T });
    }
    checkClean();
  });

  console.log(`PASS panel browser test in ${((Date.now() - started) / 1000).toFixed(1)} s; screenshots in ${out}`);
  await browser.close();
  process.exit(0);
} catch (e) {
  console.log(`FAIL ${current}: ${e.message.split('\n').slice(0, 12).join('\n')}`);
  try {
    await shot('failure');
    console.log(`     screenshot of the failure: ${join(out, 'failure.png')}`);
  } catch {
    /* page gone */
  }
  await browser.close();
  process.exit(1);
}
