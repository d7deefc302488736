// Where Glimpse's time goes in the browser: Chromium's sampling profiler (over CDP) around a
// workload, on a build of the package whose wasm keeps its function names, printed as self time
// per function (and, with --inclusive PATTERN, inclusive time of the functions matching it).
//   node bench/profile.mjs [--work predict|batch|head|prepare|cold] [--runs N] [--inclusive REGEX]
// (cold: up to 5 fresh pages, each profiled from importing the package to its first prediction;
// prepare: a 12-megapixel photo's pixels, 4000 x 3000 RGBA as a canvas gives them, made into
// Lite0's input: central crop and bicubic resize in the engine.)
// Needs scripts/build-pkg done (it reuses the cargo output, re-running only wasm-bindgen
// without --remove-name-section into a scratch folder) and the zoo model.
import { chromium } from 'playwright-core';
import { serve } from '../scripts/serve.mjs';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (n, d) => (args.includes(n) ? args[args.indexOf(n) + 1] : d);
const work = opt('--work', 'predict');
const runs = Number(opt('--runs', 20));
const inclusive = opt('--inclusive', null);
const zoo = process.env.GLIMPSE_ZOO_DIR ?? '/var/tmp/glimpse-zoo';
const target = process.env.GLIMPSE_TARGET_DIR ?? process.env.CARGO_TARGET_DIR ?? '/var/tmp/glimpse-target';

// The package with a names-kept wasm.
const pkg = mkdtempSync(join(tmpdir(), 'glimpse-profile-'));
for (const f of readdirSync(join(repo, 'pkg')).filter((f) => f.endsWith('.js'))) cpSync(join(repo, 'pkg', f), join(pkg, f));
// Every engine (scripts/build-pkg keeps their raw modules in the target dir).
// The CPU engine's relaxed-SIMD module (what Chromium loads) shares wasm-cpu/'s glue.
for (const [dir, variant] of [['wasm', 'webgpu'], ['wasm-cpu', 'cpu'], ['relaxed', 'cpu-relaxed']]) {
  mkdirSync(join(pkg, dir));
  execFileSync(process.env.WASM_BINDGEN ?? 'wasm-bindgen', ['--target', 'web', '--out-dir', join(pkg, dir), '--out-name', 'glimpse',
    join(target, `glimpse-${variant}.wasm`)], { stdio: 'inherit' });
}
cpSync(join(pkg, 'relaxed', 'glimpse_bg.wasm'), join(pkg, 'wasm-cpu', 'glimpse_relaxed_bg.wasm'));

const server = await serve({ port: 0, zooDir: zoo, extra: { '/profpkg/': pkg } });
const origin = `http://127.0.0.1:${server.address().port}`;
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox'] });
const self = new Map();
const incl = new Map();
let total = 0;
// Adds one CPU profile's samples to the self and inclusive totals.
const tally = (profile) => {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  profile.nodes.forEach((n) => (n.children ?? []).forEach((c) => parent.set(c, n.id)));
  const name = (n) => n.callFrame.functionName || n.callFrame.url || '(anonymous)';
  profile.samples.forEach((id, i) => {
    const d = profile.timeDeltas[i] ?? 0;
    total += d;
    self.set(name(byId.get(id)), (self.get(name(byId.get(id))) ?? 0) + d);
    const seen = new Set();
    for (let x = id; x !== undefined; x = parent.get(x)) {
      const k = name(byId.get(x));
      if (!seen.has(k)) incl.set(k, (incl.get(k) ?? 0) + d);
      seen.add(k);
    }
  });
};
const profiled = async (page, fn, arg) => {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Profiler.enable');
  await cdp.send('Profiler.setSamplingInterval', { interval: 200 });
  await cdp.send('Profiler.start');
  const r = await page.evaluate(fn, arg);
  tally((await cdp.send('Profiler.stop')).profile);
  return r;
};
if (work === 'cold') {
  // Each round on a fresh page (new context: nothing cached): import, ready, loadPretrained and
  // the first prediction, profiled together; the phases' times are printed per round.
  for (let r = 0; r < Math.min(runs, 5); r++) {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    await page.goto(`${origin}/bench/browser/index.html?engine=none`);
    const phases = await profiled(page, async () => {
      const t = [performance.now()];
      const g = await import('/profpkg/index.js');
      t.push(performance.now());
      await g.ready({ backend: 'cpu' });
      t.push(performance.now());
      const net = await g.loadPretrained('efficientnet-lite0', { baseUrl: '/models/efficientnet-lite0/' });
      t.push(performance.now());
      await net.predict(new Float32Array(224 * 224 * 3).fill(0.5), [1, 224, 224, 3]);
      t.push(performance.now());
      return ['import', 'ready', 'loadPretrained', 'first predict'].map((k, i) => `${k} ${(t[i + 1] - t[i]).toFixed(0)} ms`).join(', ');
    });
    console.log(`cold round ${r + 1}: ${phases}`);
    await ctx.close();
  }
} else {
  const page = await browser.newPage();
  await page.goto(`${origin}/bench/browser/index.html?engine=none`);
  // Set-up and one untimed round (compilation, tier-up), then the profiled rounds.
  const setup = async (work) => {
    const g = await import('/profpkg/index.js');
    await g.ready({ backend: 'cpu' });
    const one = 224 * 224 * 3;
    if (work === 'predict' || work === 'batch') {
      const net = await g.loadPretrained('efficientnet-lite0', { baseUrl: '/models/efficientnet-lite0/' });
      const n = work === 'batch' ? 8 : 1;
      const x = new Float32Array(n * one).map((_, i) => (i * 7919) % 255);
      window.step = () => net.predict(x, [n, 224, 224, 3]);
    } else if (work === 'prepare') {
      const net = await g.loadPretrained('efficientnet-lite0', { baseUrl: '/models/efficientnet-lite0/' });
      const img = new ImageData(new Uint8ClampedArray(4000 * 3000 * 4).map((_, i) => (i * 7919) % 251), 4000, 3000);
      window.step = () => net.prepareImages([img]);
    } else if (work === 'head') {
      const f = new Float32Array(100 * 1280).map((_, i) => ((i * 7919) % 255) / 255);
      const y = Int32Array.from({ length: 100 }, (_, i) => i % 7);
      window.step = async () => (await g.createHead({ features: 1280, classes: 7 })).fit(f, y, { epochs: 20, batchSize: 32 });
    } else throw new Error(`unknown --work ${work}`);
    await window.step();
  };
  await page.evaluate(setup, work);
  const ms = await profiled(page, async (runs) => {
    const t = [];
    for (let i = 0; i < runs; i++) {
      const s = performance.now();
      await window.step();
      t.push(performance.now() - s);
    }
    return t.sort((a, b) => a - b);
  }, work === 'head' ? Math.min(runs, 3) : runs);
  console.log(`${work}: fastest ${ms[0].toFixed(1)} ms, median ${ms[ms.length >> 1].toFixed(1)} ms`);
}
const show = (m, filter) => [...m.entries()].filter(([k]) => !filter || filter.test(k)).sort((a, b) => b[1] - a[1]).slice(0, 25)
  .forEach(([k, v]) => console.log(`${((100 * v) / total).toFixed(1).padStart(5)} %  ${k.slice(0, 150)}`));
console.log('--- self time');
show(self);
if (inclusive) {
  console.log(`--- inclusive time, /${inclusive}/`);
  show(incl, new RegExp(inclusive));
}
await browser.close();
server.close();
