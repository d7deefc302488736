// A/B of two builds of the package (e.g. main's and a change's) in one Chromium session: one
// warm page per build, then rounds of 5 predictions on each in turn (the order alternating),
// so that this shared machine's slow spells fall on both alike. Prints min / p25 / median.
//   node bench/ab.mjs A_PKG_DIR B_PKG_DIR [--rounds N] [--batch N] [--backend cpu|webgpu] [--per-round K]
// A_PKG_DIR, B_PKG_DIR: package folders with a built wasm/ (scripts/build-pkg in two
// checkouts, e.g. a `git worktree` of main). Needs the zoo model.
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
const zoo = process.env.GLIMPSE_ZOO_DIR ?? '/var/tmp/glimpse-zoo';
const server = await serve({ port: 0, zooDir: zoo, extra: { '/pkgA/': resolve(a), '/pkgB/': resolve(b) } });
const origin = `http://127.0.0.1:${server.address().port}`;
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox', '--enable-unsafe-webgpu'] });
const builds = [];
for (const name of ['A', 'B']) {
  const page = await (await browser.newContext()).newPage();
  await page.goto(`${origin}/bench/browser/index.html?engine=none`);
  // Load, then warm up for 3 s (V8 tiers the wasm up meanwhile).
  await page.evaluate(async ([name, batch, backend]) => {
    const g = await import(`/pkg${name}/index.js`);
    await g.ready({ backend });
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
  }, [name, batch, backend]);
  builds.push({ name, dir: name === 'A' ? a : b, page, ms: [] });
}
for (let i = 0; i < rounds; i++) {
  for (const x of i % 2 ? [...builds].reverse() : builds) x.ms.push(...(await x.page.evaluate((k) => window.round(k), perRound)));
}
console.log(`${backend}, batch ${batch}, ${rounds} rounds of ${perRound} predictions each (ms)`);
for (const { name, dir, ms } of builds) {
  const s = [...ms].sort((p, q) => p - q);
  console.log(`${name} ${dir}: min ${s[0].toFixed(1)}, p25 ${s[s.length >> 2].toFixed(1)}, median ${s[s.length >> 1].toFixed(1)}`);
}
await browser.close();
server.close();
