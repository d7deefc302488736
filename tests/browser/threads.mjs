// The threaded CPU engine in Chromium, Firefox and WebKit: tests/browser/threads.html served
// cross-origin isolated (COOP + COEP) and not. Isolated, a Web Worker's ready({ threads: 2 })
// gets the threaded engine (wasm-threads/) with 2 threads, and its predictions, features and a
// transfer-learning run equal the one-thread engine's bit for bit; the page's main thread keeps
// one thread (it may not wait on the pool). Not isolated, or without SharedArrayBuffer (WebKitGTK),
// every context gets one thread and says why.
//   node tests/browser/threads.mjs [--browsers chromium,firefox,webkit]
// Needs scripts/build-pkg, the converted EfficientNet-Lite0 ($GLIMPSE_ZOO_DIR) and the browsers of
// scripts/browser-deps.
import { launch } from './engines.mjs';
import { serve } from '../../scripts/serve.mjs';

const args = process.argv.slice(2);
const at = args.indexOf('--browsers');
const browsers = (at >= 0 ? args[at + 1] : 'chromium,firefox,webkit').split(',');

const servers = { isolated: await serve({ port: 0, isolate: true }), plain: await serve({ port: 0 }) };
let failed = 0;
const check = (ok, what, detail) => {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}${ok || detail === undefined ? '' : `: ${JSON.stringify(detail)}`}`);
  if (!ok) failed++;
};
const has = (files, folder) => files.some((f) => f.includes(`/pkg/${folder}/`));
try {
  for (const name of browsers) {
    const browser = await launch(name);
    try {
      for (const [mode, server] of Object.entries(servers)) {
        const t0 = Date.now();
        const page = await browser.open(`http://127.0.0.1:${server.address().port}/tests/browser/threads.html`, {
          onLog: (t) => console.log(`[${name} ${mode}] ${t.slice(0, 300)}`),
        });
        // (Waits for the module to have set it: WebKit may report the load before a module
        // that awaits at its top level has run.)
        const r = await page.evaluate(`new Promise((resolve) => {
          const t = setInterval(() => { if (window.threadsDone) { clearInterval(t); resolve(window.threadsDone); } }, 20);
        })`);
        await page.close();
        const label = `${name} ${browser.version ?? ''} ${mode}`.replace(/\s+/g, ' ');
        console.log(`\n== ${label} (${((Date.now() - t0) / 1000).toFixed(1)} s) ==`);
        if (r.error) {
          check(false, `${label}: the page`, r.error);
          continue;
        }
        check(r.isolated === (mode === 'isolated'), `${label}: crossOriginIsolated is ${r.isolated}`, r);
        if (mode === 'isolated' && !r.sharedMemory) {
          // WebKitGTK: isolated, yet no SharedArrayBuffer.
          check(r.threaded.threads === 1 && r.threaded.reason === 'this browser has no SharedArrayBuffer' && has(r.threaded.files, 'wasm-cpu'),
            `${label}: no SharedArrayBuffer here: a worker asking for 2 threads gets the one-thread engine, and says why`, r.threaded);
        } else if (mode === 'isolated') {
          check(r.threaded.threads === 2 && r.threaded.pool === 2 && !r.threaded.reason,
            `${label}: a worker asking for 2 threads gets 2`, r.threaded);
          check(has(r.threaded.files, 'wasm-threads') && r.threaded.files.some((f) => f.endsWith('/pkg/thread.js')),
            `${label}: ...from the threaded engine (${r.threaded.files.find((f) => f.endsWith('.wasm'))})`, r.threaded.files);
          check(r.crash.crash && r.crash.crash !== 'returned' && r.crash.stoppedInfo === null &&
            r.crash.after?.values === 2 && r.crash.after?.threads === 2,
            `${label}: a panic in a pool worker stops the engine with an error (${r.crash.crashMs} ms), and the next call gets a fresh engine with 2 threads`, r.crash);
          check(r.difference === null && r.values > 8000,
            `${label}: threads compute what one thread computes, bit for bit (${r.values} values, a 4-epoch transfer's history)`, r.difference);
        } else {
          check(r.threaded.threads === 1 && r.threaded.reason === 'page not cross-origin isolated' && has(r.threaded.files, 'wasm-cpu'),
            `${label}: a worker asking for 2 threads gets the one-thread engine, and says why`, r.threaded);
        }
        check(r.single.threads === 1 && r.single.reason === 'one thread asked for' && has(r.single.files, 'wasm-cpu'),
          `${label}: threads: false gets the one-thread engine`, r.single);
        check(r.mainThread.threads === 1 && /not in a Web Worker|not cross-origin isolated|no SharedArrayBuffer/.test(r.mainThread.reason ?? ''),
          `${label}: the page's main thread keeps one thread (${r.mainThread.reason})`, r.mainThread);
      }
    } finally {
      await browser.close();
    }
  }
} finally {
  for (const s of Object.values(servers)) s.close();
}
console.log(failed ? `\n${failed} check(s) failed` : '\nall threads checks passed');
process.exit(failed ? 1 : 0);
