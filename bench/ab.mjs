// A/B of two builds of the package (e.g. main's and a change's) in one Chromium session: one
// warm page per build, then rounds of 5 predictions on each in turn (the order alternating),
// so that this shared machine's slow spells fall on both alike. Prints min / p25 / median.
//   node bench/ab.mjs A_PKG_DIR B_PKG_DIR [--rounds N] [--batch N] [--backend cpu|webgpu] [--per-round K]
//                     [--worker] [--isolate]
// A_PKG_DIR, B_PKG_DIR: package folders with a built wasm/ (scripts/build-pkg in two
// checkouts, e.g. a `git worktree` of main). Needs the zoo model. --worker: through the
// package's Web Worker client (createWorker()); --isolate: the pages cross-origin isolated, so
// that a worker's ready() loads the threaded engine (the threads it reports are printed).
import { chromium } from 'playwright-core';
import { serve } from '../scripts/serve.mjs';
import { resolve } from 'node:path';

const args = process.argv.slice(2);
const opt = (n, d) => (args.includes(n) ? args[args.indexOf(n) + 1] : d);
const [a, b] = args.filter((x, i) => !x.startsWith('--') && !args[i - 1]?.startsWith('--'));
if (!a || !b) throw new Error('usage: node bench/ab.mjs A_PKG_DIR B_PKG_DIR [--rounds N] [--batch N] [--backend cpu|webgpu] [--per-round K]');
const rounds = Number(opt('--rounds', 12));
const batch = Number(opt('--batch', 1));
const backend = opt('--backend', 'cpu');
const perRound = Number(opt('--per-round', 5));
const worker = args.includes('--worker');
const isolate = args.includes('--isolate');
const zoo = process.env.GLIMPSE_ZOO_DIR ?? '/var/tmp/glimpse-zoo';
const server = await serve({ port: 0, zooDir: zoo, isolate, extra: { '/pkgA/': resolve(a), '/pkgB/': resolve(b) } });
const origin = `http://127.0.0.1:${server.address().port}`;
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox', '--enable-unsafe-webgpu'] });
const builds = [];
for (const name of ['A', 'B']) {
  const page = await (await browser.newContext()).newPage();
  await page.goto(`${origin}/bench/browser/index.html?engine=none`);
  // Load, then warm up for 3 s (V8 tiers the wasm up meanwhile).
  const info = await page.evaluate(async ([name, batch, backend, worker]) => {
    const g = worker
      ? (await import(`/pkg${name}/client.js`)).createWorker(`/pkg${name}/worker.js`)
      : await import(`/pkg${name}/index.js`);
    const info = await g.ready({ backend });
    const net = await g.loadPretrained('efficientnet-lite0', { baseUrl: '/models/efficientnet-lite0/' });
    const x = new Float32Array(batch * 224 * 224 * 3).map((_, i) => ((i * 7919) % 255) / 255);
    const step = () => net.predict(x, [batch, 224, 224, 3]);
    const t = performance.now();
    while (performance.now() - t < 3000) await step();
    window.round = async (k) => {
      const ms = [];
      for (let i = 0; i < k; i++) {
        const s = performance.now();
        await step();
        ms.push(performance.now() - s);
      }
      return ms;
    };
    return { backend: info.backend, threads: info.threads ?? 1, isolated: globalThis.crossOriginIsolated };
  }, [name, batch, backend, worker]);
  builds.push({ name, dir: name === 'A' ? a : b, page, ms: [], info });
}
for (let i = 0; i < rounds; i++) {
  for (const x of i % 2 ? [...builds].reverse() : builds) x.ms.push(...(await x.page.evaluate((k) => window.round(k), perRound)));
}
console.log(`${backend}${worker ? ' in a Web Worker' : ''}, batch ${batch}, ${rounds} rounds of ${perRound} predictions each (ms)`);
for (const { name, dir, ms, info } of builds) {
  console.log(`${name}: ${info.backend}, ${info.threads} thread(s), page ${info.isolated ? '' : 'not '}cross-origin isolated`);
  const s = [...ms].sort((p, q) => p - q);
  console.log(`${name} ${dir}: min ${s[0].toFixed(1)}, p25 ${s[s.length >> 2].toFixed(1)}, median ${s[s.length >> 1].toFixed(1)}`);
}
await browser.close();
server.close();
