// The page in each browser engine (default: Chromium, Firefox and WebKit), as a person meets it
// on a 20 Mbit/s link: time until it is usable and bytes on the first and a repeat visit (the
// server counts what it sends), then the core of the page test (page-steps.js: classify, teach,
// keep, export, import) run inside the page.
//   node tests/browser/page-engines.mjs [--browsers chromium,firefox,webkit] [--mbit 20]
// (PAGE_STALL_MS: how long a visit may take to become usable, default 120 s.)
import { launch } from './engines.mjs';
import { serve } from '../../scripts/serve.mjs';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const browsers = opt('--browsers', 'chromium,firefox,webkit').split(',');
const mbit = Number(opt('--mbit', '20'));

const link = { rate: (mbit * 1e6) / 8 };
// Served as scripts/serve serves it, cross-origin isolated: the CPU engine with threads where the
// browser shares memory, from the first visit.
const server = await serve({ port: 0, link, isolate: true });
const origin = `http://127.0.0.1:${server.address().port}`;
const url = `${origin}/?backend=cpu`;
// Milliseconds from the navigation's start until the page says it is ready.
const READY = `new Promise((resolve) => {
  const check = () => (document.body?.dataset.ready === 'true' ? resolve(Math.round(performance.now())) : setTimeout(check, 20));
  check();
})`;
const OFFLINE = `new Promise((resolve) => {
  const check = () => (document.body?.dataset.offline === 'ready' ? resolve(true) : setTimeout(check, 20));
  check();
})`;

// A visit that never becomes usable (a browser that hangs) fails after STALL_MS with what the
// server sent so far, instead of holding the run until CI's limit; a browser that stalls is
// started again once (a CI run saw Firefox hang on one first visit that passes when repeated).
const STALL_MS = Number(process.env.PAGE_STALL_MS ?? 120_000);
class Stalled extends Error {}
const within = (promise, what) => {
  let timer;
  const stall = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Stalled(`${what}: not reached in ${STALL_MS / 1000} s`)), STALL_MS);
  });
  return Promise.race([promise, stall]).finally(() => clearTimeout(timer));
};

let failed = 0;
const figures = [];
for (const name of browsers) {
  for (let attempt = 1, again = true; again; attempt++) {
    again = false;
    const failedBefore = failed;
    const browser = await launch(name);
    try {
      link.sent = 0;
      link.paths = {};
      const page = await browser.open(url, { onLog: (t) => console.log(`[${name}] ${t.slice(0, 300)}`) });
      const firstMs = await within(page.evaluate(READY), 'first visit usable');
      await within(page.evaluate(OFFLINE), 'first visit kept for offline use');
      const firstMB = link.sent / 1e6;
      const big = Object.entries(link.paths).filter(([, n]) => n > 1e5).map(([p, n]) => `${p} ${(n / 1e6).toFixed(1)} MB`);
      console.log(`[${name}] first visit, files over 0.1 MB: ${big.join(', ')}`);
      link.sent = 0;
      await page.goto(url);
      const repeatMs = await within(page.evaluate(READY), 'repeat visit usable');
      await within(page.evaluate(OFFLINE), 'repeat visit kept for offline use');
      const repeatMB = link.sent / 1e6;
      const row = { engine: name, version: browser.version, firstMs, firstMB, repeatMs, repeatMB };
      figures.push(row);
      console.log(`\n== ${name} ${browser.version ?? ''}: usable after ${(firstMs / 1000).toFixed(1)} s on ${mbit} Mbit/s (${firstMB.toFixed(1)} MB); repeat visit ${(repeatMs / 1000).toFixed(1)} s (${repeatMB.toFixed(2)} MB) ==`);
      // One download of what a CPU page uses: not the WebGPU engine, not the other CPU module, the
      // weights once.
      const got = (p) => link.paths[p] ?? 0;
      if (got('/pkg/wasm/glimpse_bg.wasm') > 0 || (got('/pkg/wasm-cpu/glimpse_bg.wasm') > 0 && got('/pkg/wasm-cpu/glimpse_relaxed_bg.wasm') > 0)) {
        console.log('FAIL the first visit downloaded an engine the page does not use');
        failed++;
      }
      if (got('/models/efficientnet-lite0/model.f16.weights.h5') > 9e6 || got('/models/efficientnet-lite0/model.weights.h5') > 0) {
        console.log('FAIL the first visit downloaded the weights twice, uncompressed, or the float32 ones');
        failed++;
      }
      // Engine, network and page in at most 10 MB (the float16 weights shuffled and deflated).
      if (firstMB > 10) {
        console.log(`FAIL the first visit downloaded ${firstMB.toFixed(1)} MB (at most 10)`);
        failed++;
      }
      if (repeatMB > 1) {
        console.log(`FAIL a repeat visit downloaded ${repeatMB.toFixed(1)} MB again`);
        failed++;
      }
      // The rest at full speed.
      link.rate = 1e12;
      const res = await page.evaluate(`import('/tests/browser/page-steps.js').then((m) => m.run())`);
      link.rate = (mbit * 1e6) / 8;
      for (const s of res.steps) {
        console.log(`${s.ok ? 'ok  ' : 'FAIL'} ${s.name} (${(s.ms / 1000).toFixed(1)} s)${s.ok ? '' : `\n     ${s.error.split('\n').join('\n     ')}`}`);
        if (!s.ok) failed++;
      }
      await page.close();
    } catch (e) {
      const sent = Object.entries(link.paths ?? {}).map(([p, n]) => `${p} ${n}`).join(', ');
      if (e instanceof Stalled && attempt === 1) {
        console.log(`RETRY ${name}: ${e.message} (sent so far: ${sent}); starting the browser again`);
        failed = failedBefore;
        again = true;
      } else {
        console.log(`FAIL ${name}: ${e.stack ?? e}${e instanceof Stalled ? ` (sent so far: ${sent})` : ''}`);
        failed++;
      }
    } finally {
      link.rate = (mbit * 1e6) / 8;
      await browser.close();
    }
  }
}
server.close();
console.log('\n| engine | usable, first visit | downloaded | repeat visit | downloaded |\n|---|---|---|---|---|');
for (const f of figures) {
  console.log(`| ${f.engine} ${f.version ?? ''} | ${(f.firstMs / 1000).toFixed(1)} s | ${f.firstMB.toFixed(1)} MB | ${(f.repeatMs / 1000).toFixed(1)} s | ${f.repeatMB.toFixed(2)} MB |`);
}
console.log(failed ? `\n${failed} page check(s) FAILED` : '\nall page checks passed in every engine');
process.exit(failed ? 1 : 0);
