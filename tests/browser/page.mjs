// End-to-end tests of the web page (index.html), acting as a person in headless Chromium:
// classify the golden cat photo, teach two classes, reload and find the taught model, export,
// delete, import and get the same predictions, survive a broken file; no request may leave the
// page's origin; axe-core finds no serious accessibility problem on any tab; on a phone (390 px,
// touch) everything fits and every control is at least 44 px tall. Screenshots of each state go
// to --out. (tests/browser/page-engines.mjs runs the core of it in Firefox and WebKit.)
//   node tests/browser/page.mjs [--out DIR]
// Photos for teaching: ../shared/data/hymenoptera (ants, bees) when present, else variations
// (crops, flips) of two golden photos made in the browser.
import { chromium } from 'playwright-core';
import { serve } from '../../scripts/serve.mjs';
import { readFileSync, readdirSync, existsSync, mkdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const args = process.argv.slice(2);
const outDir = args.includes('--out') ? args[args.indexOf('--out') + 1] : join(tmpdir(), 'glimpse-page');
mkdirSync(outDir, { recursive: true });
const fixtures = join(repo, 'tests', 'fixtures', 'efficientnet');

const server = await serve({ port: 0 });
const origin = `http://127.0.0.1:${server.address().port}`;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-background-networking', '--enable-unsafe-webgpu'],
});
const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1100, height: 900 } });
const page = await context.newPage();
// Confirmations (deleting a model) are answered by `dialogAnswer`; each is recorded.
let dialogAnswer = true;
const dialogs = [];
page.on('dialog', async (d) => {
  dialogs.push(d.message());
  await (dialogAnswer ? d.accept() : d.dismiss());
});
const foreign = [];
context.on('request', (r) => {
  const u = r.url();
  if (!u.startsWith(origin) && !u.startsWith('blob:') && !u.startsWith('data:')) foreign.push(u);
});
page.on('pageerror', (e) => console.log(`page error: ${e}`));

let failed = 0;
let shot = 0;
async function step(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    console.log(`ok   ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}: ${e.stack ?? e}`);
  }
  await page.screenshot({ path: join(outDir, `${String(++shot).padStart(2, '0')}-${name.replace(/\W+/g, '-').slice(0, 50)}.png`), fullPage: true });
}
// The training settings (a <details>), opened if closed.
async function openSettings() {
  if (!(await page.locator('#epochs').isVisible())) await page.click('.settings summary');
}
const file = (path, mimeType = 'image/jpeg') => ({ name: path.split('/').pop(), mimeType, buffer: readFileSync(path) });
const expect = (cond, msg) => {
  if (!cond) throw new Error(msg);
};

// Backend: the CPU (?backend=cpu), so the run is the same with or without a GPU; the engine
// tests cover WebGPU.

await step('page loads and names its backend', async () => {
  await page.goto(`${origin}/?backend=cpu`);
  await page.waitForSelector('body[data-ready=true]', { timeout: 120_000 });
  const status = await page.textContent('#status');
  // This server sends no COOP/COEP and the service worker is not in control yet: one thread.
  expect(/CPU \(WebAssembly, 1 thread: page not cross-origin isolated\)/.test(status), `status: ${status}`);
});

// The automatic choice on a second page: WebGPU only on a hardware adapter. Here (SwiftShader,
// a software fallback adapter) that is the CPU, saying why; on a machine with a GPU, WebGPU.
await step('automatic backend: the CPU unless the WebGPU adapter is hardware', async () => {
  const auto = await context.newPage();
  await auto.goto(`${origin}/`);
  await auto.waitForSelector('body[data-ready=true]', { timeout: 120_000 });
  const status = await auto.textContent('#status');
  const adapter = await auto.evaluate(async () => {
    const a = await navigator.gpu?.requestAdapter();
    return a ? (a.info?.isFallbackAdapter ? 'software' : 'hardware') : 'none';
  });
  await auto.close();
  // (The first page's service worker may control this one: then it is isolated, with threads.)
  const cpu = 'CPU \\(WebAssembly, (1 thread: page not cross-origin isolated|[2-8] threads)\\)';
  const want = { software: new RegExp(`${cpu}.*runs in software`), hardware: /^WebGPU/, none: new RegExp(`${cpu}.*no WebGPU adapter`) }[adapter];
  expect(want.test(status), `adapter ${adapter}, status: ${status}`);
});

await step('classify the golden cat photo: tiger cat on top', async () => {
  await page.setInputFiles('#classify-files', [file(join(fixtures, 'chelsea_orig.jpg'))]);
  await page.waitForSelector('.card[data-top]', { timeout: 60_000 });
  const top = await page.getAttribute('.card', 'data-top');
  expect(top === 'tiger cat', `top label ${top}`);
  const bars = await page.locator('.card .bars li').count();
  expect(bars === 5, `${bars} bars`);
});

await step('several photos give a grid', async () => {
  await page.setInputFiles('#classify-files', ['coffee', 'rocket'].map((n) => file(join(fixtures, `${n}_orig.jpg`))));
  await page.waitForFunction(() => document.querySelectorAll('.card[data-top]').length === 3, null, { timeout: 60_000 });
  const tops = await page.$$eval('.card[data-top]', (cs) => cs.map((c) => c.dataset.top));
  expect(tops.includes('espresso') && tops.includes('missile'), `tops ${tops}`);
});

await step('a broken file shows an error and the page keeps working', async () => {
  await page.setInputFiles('#classify-files', [{ name: 'broken.jpg', mimeType: 'image/jpeg', buffer: Buffer.from('this is not a jpeg') }]);
  await page.waitForSelector('.card.failed', { timeout: 30_000 });
  const err = await page.textContent('#errors');
  expect(/broken\.jpg/.test(err), `error box: ${err}`);
  await page.setInputFiles('#classify-files', [file(join(fixtures, 'flower_orig.jpg'))]);
  await page.waitForFunction(() => document.querySelectorAll('.card[data-top]').length === 4, null, { timeout: 60_000 });
});

await step('errors go away when the tab changes', async () => {
  expect((await page.locator('#errors p').count()) > 0, 'the broken file left an error');
  await page.click('#tab-teach');
  expect((await page.locator('#errors p').count()) === 0, 'a stale error stayed on another tab');
  await page.click('#tab-classify');
});

await step('where did it look: a heat map over the photo', async () => {
  await page.click('.card[data-top="daisy"] button');
  await page.waitForSelector('.card[data-top="daisy"] canvas.heat', { timeout: 120_000 });
});

await step('EfficientNet-Lite2 is offered, downloads once and classifies', async () => {
  const options = await page.$$eval('#model-select option', (os) => os.map((o) => o.value));
  expect(options.includes('net:efficientnet-lite2'), `options ${options}`);
  await page.selectOption('#model-select', 'net:efficientnet-lite2');
  await page.waitForFunction(() => document.getElementById('status').dataset.kind === 'ready', null, { timeout: 120_000 });
  await page.evaluate(() => (document.getElementById('results').innerHTML = ''));
  await page.setInputFiles('#classify-files', [file(join(fixtures, 'coffee_orig.jpg'))]);
  await page.waitForSelector('.card[data-top]', { timeout: 60_000 });
  expect(await page.getAttribute('.card', 'data-top') === 'espresso', 'Lite2 names the espresso');
  expect(/EfficientNet-Lite2/.test(await page.textContent('.card .hint')), 'the card names the network');
  await page.selectOption('#model-select', 'pretrained');
  await page.waitForFunction(() => document.getElementById('status').dataset.kind === 'ready');
});

// Photos for teaching.
const hymenoptera = join(repo, '..', 'shared', 'data', 'hymenoptera', 'train');
let classes;
if (existsSync(join(hymenoptera, 'ants'))) {
  const pick = (c) => readdirSync(join(hymenoptera, c)).filter((f) => /\.jpe?g$/i.test(f)).sort().slice(0, 24).map((f) => file(join(hymenoptera, c, f)));
  classes = { ants: pick('ants'), bees: pick('bees') };
} else {
  const make = (name) => page.evaluate(async (url) => {
    const bmp = await createImageBitmap(await (await fetch(url)).blob());
    const out = [];
    for (let k = 0; k < 24; k++) {
      const c = new OffscreenCanvas(180, 180);
      const ctx = c.getContext('2d');
      if (k % 2) { ctx.translate(180, 0); ctx.scale(-1, 1); }
      const s = 150 + (k % 6) * 12;
      ctx.drawImage(bmp, (k * 7) % 60, (k * 5) % 50, s, s, 0, 0, 180, 180);
      const b = await c.convertToBlob({ type: 'image/jpeg', quality: 0.9 });
      out.push(Array.from(new Uint8Array(await b.arrayBuffer())));
    }
    return out;
  }, `/tests/fixtures/efficientnet/${name}_224.png`);
  const files = async (name) => (await make(name)).map((b, i) => ({ name: `${name}${i}.jpg`, mimeType: 'image/jpeg', buffer: Buffer.from(b) }));
  classes = { cat: await files('chelsea'), motorcycle: await files('motorcycle') };
}
const names = Object.keys(classes);
const train = Object.fromEntries(names.map((n) => [n, classes[n].slice(0, 18)]));
const heldOut = names.flatMap((n) => classes[n].slice(18).map((f) => ({ f, label: n })));

await step(`teach two classes (${names.join(', ')}) and train`, async () => {
  await page.click('#tab-teach');
  const cards = page.locator('.class');
  // One photo that does not decode is left out with a note, not the whole training.
  const broken = { name: 'broken.jpg', mimeType: 'image/jpeg', buffer: Buffer.from('not a photo') };
  for (let i = 0; i < 2; i++) {
    await cards.nth(i).locator('.class-name').fill(names[i]);
    await cards.nth(i).locator('input[type=file]').setInputFiles(i === 0 ? [...train[names[i]], broken] : train[names[i]]);
  }
  // A photo added by mistake comes out on its own (its thumbnail is the button).
  const extra = classes[names[1]][0];
  await cards.nth(0).locator('input[type=file]').setInputFiles([{ ...extra, name: 'mistake.jpg' }]);
  const count = () => cards.nth(0).locator('.count').textContent();
  expect(await count() === `${train[names[0]].length + 2} photos`, `count ${await count()}`);
  await cards.nth(0).locator('.thumb[aria-label^="Remove mistake.jpg"]').click();
  expect(await count() === `${train[names[0]].length + 1} photos`, `after removing one: ${await count()}`);
  // A name at the length limit says so.
  const nameBox = cards.nth(1).locator('.class-name');
  await nameBox.fill('x'.repeat(70));
  expect((await nameBox.inputValue()).length === 60 && await cards.nth(1).locator('.name-note').isVisible(), 'the 60-character limit is shown');
  await nameBox.fill(names[1]);
  expect(!(await cards.nth(1).locator('.name-note').isVisible()), 'the note goes under the limit');
  await page.click('.settings summary');
  await page.fill('#epochs', '15');
  await page.click('#train');
  await page.waitForSelector('#taught:not([hidden])', { timeout: 300_000 });
  const text = await page.textContent('#heldout');
  const acc = Number(text.match(/(\d+) %/)?.[1]);
  // 8 photos held out (4 a class, drawn from each class): above chance here; the 12 unseen
  // photos of the next step must be well above it.
  expect(/on 8 held-out photos/.test(text) && acc > 50, `held-out accuracy text: ${text}`);
  expect(/broken\.jpg of '[^']+' was left out/.test(text), `the broken photo is named: ${text}`);
  expect(await page.locator('#confusion td').count() === 4, 'a 2 x 2 confusion matrix');
  const chartLabel = await page.getAttribute('#chart', 'aria-label');
  expect(/after epoch 15 of 15, loss [\d.]+, accuracy \d+ %/.test(chartLabel ?? ''), `chart: ${chartLabel}`);
});

await step('cancel stops training and empties the progress bar', async () => {
  await page.fill('#epochs', '400');
  await page.click('#train');
  await page.waitForFunction(() => /Training: epoch/.test(document.getElementById('train-text').textContent), null, { timeout: 120_000 });
  await page.click('#cancel');
  await page.waitForFunction(() => /cancelled/.test(document.getElementById('train-text').textContent), null, { timeout: 60_000 });
  expect(await page.$eval('#train-progress', (p) => p.value) === 0, 'progress bar back at 0');
  await page.fill('#epochs', '15');
});

async function classifyHeldOut() {
  await page.click('#tab-classify');
  await page.evaluate(() => (document.getElementById('results').innerHTML = ''));
  await page.setInputFiles('#classify-files', heldOut.map((h) => h.f));
  await page.waitForFunction((n) => document.querySelectorAll('.card[data-top]').length === n, heldOut.length, { timeout: 120_000 });
  // Cards are prepended: reverse to input order.
  const tops = (await page.$$eval('.card[data-top]', (cs) => cs.map((c) => c.dataset.top))).reverse();
  const scores = (await page.$$eval('.card .bars li:first-child .pct', (s) => s.map((x) => x.textContent))).reverse();
  return { tops, scores, correct: tops.filter((t, i) => t === heldOut[i].label).length };
}

let before;
await step('classify held-out photos with the taught model: well above chance', async () => {
  before = await classifyHeldOut();
  expect(before.correct / heldOut.length >= 0.75, `${before.correct} of ${heldOut.length} correct: ${before.tops}`);
});

await step('reload: the taught model is still there', async () => {
  await page.reload();
  await page.waitForSelector('body[data-ready=true]', { timeout: 120_000 });
  const options = await page.$$eval('#model-select option', (os) => os.map((o) => o.textContent));
  expect(options.some((o) => o.includes(names[0]) && o.includes(names[1])), `options ${options}`);
  const value = await page.$$eval('#model-select option', (os, n) => os.find((o) => o.textContent.includes(n[0]) && o.textContent.includes(n[1])).value, names);
  await page.selectOption('#model-select', value);
  await page.waitForFunction(() => document.getElementById('status').dataset.kind === 'ready');
  const again = await classifyHeldOut();
  expect(JSON.stringify(again.tops) === JSON.stringify(before.tops), `after reload ${again.tops} vs ${before.tops}`);
});

let exported;
await step('export, delete, import: same predictions', async () => {
  await page.click('#tab-keep');
  await page.waitForSelector('#saved li[data-id]');
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#saved li[data-id] >> text=Export')]);
  exported = join(outDir, download.suggestedFilename());
  await download.saveAs(exported);
  expect(exported.endsWith('.keras'), `exported ${exported}`);
  // Deleting asks first: declined, the model stays; accepted, it goes.
  dialogAnswer = false;
  await page.click('#saved li[data-id] >> text=Delete');
  await page.waitForTimeout(300);
  expect(await page.locator('#saved li[data-id]').count() === 1 && /cannot be undone/.test(dialogs.at(-1) ?? ''), 'a declined delete keeps the model');
  dialogAnswer = true;
  await page.click('#saved li[data-id] >> text=Delete');
  await page.waitForFunction(() => !document.querySelector('#saved li[data-id]'));
  await page.setInputFiles('#import-files', [exported]);
  await page.waitForSelector('#saved li[data-id]', { timeout: 120_000 });
  // The same file again: no second entry.
  await page.setInputFiles('#import-files', [exported]);
  await page.waitForFunction(() => /already in My models/.test(document.getElementById('errors').textContent), null, { timeout: 120_000 });
  expect(await page.locator('#saved li[data-id]').count() === 1, 'one entry after importing the same model twice');
  const after = await classifyHeldOut();
  expect(JSON.stringify(after.tops) === JSON.stringify(before.tops), `after import ${after.tops} vs ${before.tops}`);
  expect(JSON.stringify(after.scores) === JSON.stringify(before.scores), `scores ${after.scores} vs ${before.scores}`);
});

await step('teach the imported model further: its classes open in Teach, training goes on', async () => {
  await page.click('#tab-keep');
  await page.click('#saved li[data-id] >> text=Teach more');
  await page.waitForSelector('#teach-from:not([hidden])');
  const shown = await page.$$eval('.class .class-name', (xs) => xs.map((x) => x.value));
  expect(JSON.stringify(shown) === JSON.stringify(names), `classes ${shown}`);
  // Photos for the first class only: the second keeps what it learned, and the page says so.
  await page.locator('.class').nth(0).locator('input[type=file]').setInputFiles(train[names[0]].slice(0, 8));
  await openSettings();
  await page.fill('#epochs', '5');
  await page.click('#train');
  await page.waitForSelector('#taught:not([hidden])', { timeout: 300_000 });
  const text = await page.textContent('#heldout');
  expect(text.includes(`'${names[1]}' had no photos this time`), `the kept class is explained: ${text}`);
  const again = await classifyHeldOut();
  expect(again.correct / heldOut.length >= 0.75, `after teaching further: ${again.correct} of ${heldOut.length}`);
  await page.click('#tab-teach');
  await page.click('#teach-fresh');
  expect(await page.locator('#teach-from').isHidden(), 'back to a fresh start');
  await page.fill('#epochs', '15');
});

await step('fine-tune the network\'s last block: the cost is said first, then it trains', async () => {
  await page.click('#tab-teach');
  const cards = page.locator('.class');
  for (let i = 0; i < 2; i++) {
    await cards.nth(i).locator('.class-name').fill(names[i]);
    await cards.nth(i).locator('input[type=file]').setInputFiles(train[names[i]].slice(0, 10));
  }
  await openSettings();
  await page.selectOption('#unfreeze', '1');
  const cost = await page.textContent('#unfreeze-cost');
  expect(/Fine-tuning adds 5 passes over your 20 photos[^:]*: about \d+ (s|min)/.test(cost), `cost: ${cost}`);
  await page.fill('#epochs', '5');
  await page.click('#train');
  await page.waitForFunction(() => /Fine-tuning the network: pass/.test(document.getElementById('train-text').textContent), null, { timeout: 300_000 });
  await page.waitForSelector('#taught:not([hidden])', { timeout: 300_000 });
  const label = await page.getAttribute('#chart', 'aria-label');
  expect(/after epoch 10 of 10/.test(label ?? ''), `chart ${label}`);
  await page.selectOption('#unfreeze', '0');
  await page.fill('#epochs', '15');
});

await step('a model that does not load shows an error', async () => {
  await page.click('#tab-keep');
  await page.setInputFiles('#import-files', [{ name: 'bad.keras', mimeType: 'application/octet-stream', buffer: Buffer.from('PK\x03\x04 nope') }]);
  await page.waitForFunction(() => /Import failed/.test(document.getElementById('errors').textContent), null, { timeout: 30_000 });
});

await step('look inside: the summary table', async () => {
  await page.click('#tab-inside');
  const text = await page.textContent('#summary');
  expect(/Total params/.test(text) && /head_predictions/.test(text), 'summary of the taught model');
});

await step('a Teachable Machine web export (its zip) classifies with its labels', async () => {
  await page.click('#tab-keep');
  const before = await page.locator('#saved li[data-id]').count();
  await page.setInputFiles('#import-files', [join(repo, 'tests', 'fixtures', 'tfjs', 'teachable_like.zip')]);
  await page.waitForFunction((n) => document.querySelectorAll('#saved li[data-id]').length === n + 1, before, { timeout: 60_000 });
  await page.click('#tab-classify');
  await page.evaluate(() => (document.getElementById('results').innerHTML = ''));
  await page.setInputFiles('#classify-files', [file(join(fixtures, 'chelsea_orig.jpg'))]);
  await page.waitForSelector('.card[data-top]', { timeout: 60_000 });
  const top = await page.getAttribute('.card', 'data-top');
  expect(/^Class [123]$/.test(top ?? ''), `top label ${top}`);
  await page.selectOption('#model-select', 'pretrained');
});

await step('a photo chosen while the model loads is classified when it is ready', async () => {
  // Hold the weights back so the model is still loading when the photo is chosen.
  let release;
  const held = new Promise((r) => { release = r; });
  await page.route('**/model*.weights.h5', async (route) => { await held; await route.continue(); });
  try {
    await page.goto(`${origin}/?backend=cpu`);
    await page.waitForSelector('#classify-files', { state: 'attached' });
    await page.setInputFiles('#classify-files', [file(join(fixtures, 'chelsea_orig.jpg'))]);
    await page.waitForFunction(() => /Waiting for the model/.test(document.querySelector('.card')?.textContent ?? ''), null, { timeout: 30_000 });
    expect(!(await page.$('.card.failed')), 'not refused while loading');
    release();
    await page.waitForSelector('.card[data-top]', { timeout: 120_000 });
    expect(await page.getAttribute('.card', 'data-top') === 'tiger cat', 'classified once ready');
    const err = await page.textContent('#errors');
    expect(!/still loading/.test(err), `no stale loading error: ${err}`);
  } finally {
    release();
    await page.unroute('**/model*.weights.h5');
  }
});

await step('offline after the first visit: reload and classify', async () => {
  await page.waitForSelector('body[data-offline=ready]', { timeout: 60_000 });
  // What the offline cache holds: what this CPU page used, not the WebGPU engine it never
  // loaded (which the first visit used to download as well).
  const cached = await page.evaluate(async () => {
    const out = [];
    for (const k of await caches.keys()) for (const r of await (await caches.open(k)).keys()) out.push(new URL(r.url).pathname);
    return out;
  });
  // The float16 weights the page loaded, not the float32 file it did not.
  expect(cached.some((p) => p.endsWith('/models/efficientnet-lite0/model.f16.weights.h5')), `weights cached: ${cached}`);
  expect(!cached.some((p) => p.endsWith('/models/efficientnet-lite0/model.weights.h5')), `float32 weights not fetched: ${cached}`);
  expect(cached.some((p) => p.startsWith('/pkg/wasm-cpu/')), `the CPU engine cached: ${cached}`);
  expect(!cached.some((p) => p === '/pkg/wasm/glimpse_bg.wasm'), `the WebGPU engine not fetched: ${cached}`);
  await context.setOffline(true);
  try {
    await page.goto(`${origin}/?backend=cpu`);
    await page.waitForSelector('body[data-ready=true]', { timeout: 120_000 });
    await page.selectOption('#model-select', 'pretrained');
    await page.waitForFunction(() => document.getElementById('status').dataset.kind === 'ready');
    await page.evaluate(() => (document.getElementById('results').innerHTML = ''));
    await page.setInputFiles('#classify-files', [file(join(fixtures, 'chelsea_orig.jpg'))]);
    await page.waitForSelector('.card[data-top]', { timeout: 60_000 });
    expect(await page.getAttribute('.card', 'data-top') === 'tiger cat', 'offline classification');
  } finally {
    await context.setOffline(false);
  }
});

await step('a phone (390 px, touch): everything fits, every control is 44 px or more', async () => {
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, hasTouch: true, isMobile: true, deviceScaleFactor: 2 });
  const p = await phone.newPage();
  try {
    await p.goto(`${origin}/?backend=cpu`);
    await p.waitForSelector('body[data-ready=true]', { timeout: 120_000 });
    const small = [];
    for (const tab of ['#tab-classify', '#tab-teach', '#tab-keep']) {
      await p.tap(tab);
      if (tab === '#tab-teach') await p.tap('.settings summary');
      const found = await p.evaluate(() => {
        const out = { wide: document.documentElement.scrollWidth, cut: [], small: [] };
        out.over = [...document.querySelectorAll('body *')].filter((e) => e.getBoundingClientRect().right > innerWidth + 1 && !e.closest('[hidden]'))
          .slice(0, 5).map((e) => `${e.tagName.toLowerCase()}#${e.id}.${e.className}`);
        for (const t of document.querySelectorAll('[role=tab]')) {
          const r = t.getBoundingClientRect();
          if (r.left < 0 || r.right > innerWidth) out.cut.push(t.textContent);
        }
        for (const el of document.querySelectorAll('button, select, input:not([type=file]):not([hidden]), summary')) {
          const r = el.getBoundingClientRect();
          if (r.width === 0 || el.closest('[hidden]')) continue;
          if (r.height < 44) out.small.push(`${el.id || el.className || el.tagName} ${Math.round(r.height)} px`);
        }
        return out;
      });
      expect(found.wide <= 390, `${tab}: the page is ${found.wide} px wide (${found.over.join(', ')})`);
      expect(found.cut.length === 0, `${tab}: tabs cut off: ${found.cut}`);
      small.push(...found.small.map((x) => `${tab}: ${x}`));
      await p.screenshot({ path: join(outDir, `phone-${tab.slice(5)}.png`), fullPage: true });
    }
    expect(small.length === 0, `controls under 44 px: ${small.join('; ')}`);
  } finally {
    await phone.close();
  }
});

await step('accessibility: axe-core finds no serious or critical problem on any tab', async () => {
  await page.setViewportSize({ width: 1100, height: 900 });
  await page.addScriptTag({ path: join(repo, 'node_modules', 'axe-core', 'axe.min.js') });
  const problems = [];
  for (const tab of ['#tab-classify', '#tab-teach', '#tab-keep', '#tab-inside']) {
    await page.click(tab);
    const found = await page.evaluate(async () => {
      const r = await window.axe.run(document, { resultTypes: ['violations'] });
      return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
        .map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`);
    });
    problems.push(...found.map((f) => `${tab}: ${f}`));
  }
  expect(problems.length === 0, problems.join('\n'));
});

await step('keyboard: every file chooser is a button in the tab order', async () => {
  await page.setViewportSize({ width: 1100, height: 900 });
  await page.click('#tab-classify');
  for (const [tab, selector] of [['#tab-classify', '#choose-photos'], ['#tab-teach', '.class .add-photos'], ['#tab-keep', '#import-button']]) {
    await page.click(tab);
    const el = page.locator(selector).first();
    expect(await el.evaluate((b) => b.tagName === 'BUTTON' && b.tabIndex >= 0), `${selector} is a focusable button`);
    const [chooser] = await Promise.all([
      page.waitForEvent('filechooser', { timeout: 10_000 }).catch(() => { throw new Error(`Enter on ${selector} opened no file chooser`); }),
      el.press('Enter'),
    ]);
    expect(chooser.isMultiple(), `${selector} opens a multi-file chooser`);
    // Close it (choosing nothing): Chromium opens no other chooser while one is open.
    await chooser.setFiles([]);
  }
  await page.click('#tab-classify');
  // The drop zone is a named group around its buttons (not a button holding buttons).
  expect(await page.getAttribute('#drop', 'role') === 'group' && Boolean(await page.getAttribute('#drop', 'aria-label')), 'the drop zone has a role and a name');
});

await step('keyboard: arrow keys move between tabs', async () => {
  await page.setViewportSize({ width: 1100, height: 900 });
  await page.focus('#tab-classify');
  await page.keyboard.press('ArrowRight');
  expect(await page.getAttribute('#tab-teach', 'aria-selected') === 'true', 'Teach selected');
});

await browser.close();
server.close();
if (foreign.length) {
  failed++;
  console.log(`FAIL requests left the page's origin: ${foreign.join(', ')}`);
} else {
  console.log('ok   no request left the page\'s origin');
}
console.log(failed ? `${failed} page check(s) FAILED (screenshots in ${outDir})` : `all page checks passed (screenshots in ${outDir})`);
process.exit(failed ? 1 : 0);
