// Runs Glimpse's browser tests (suite.js) in three browser engines, once per backend, and checks
// that a model saved in the browser loads natively (`glimpse predict`) with the same outputs.
//   node tests/browser/run.mjs [--browsers chromium,firefox,webkit] [--backends cpu,cpu-plain,webgpu]
//                              [--only NAME] [--out DIR]
// (cpu-plain: the CPU backend on the CPU-only engine's plain-SIMD module, for browsers without
// relaxed SIMD; cpu runs the module the browser picks.) Chromium runs every backend (WebGPU on its
// software adapter); Firefox and WebKit run the CPU ones, and WebGPU where they expose an adapter.
// Needs: pkg/wasm (scripts/build-pkg), the browsers and npm tools of scripts/browser-deps, the
// converted EfficientNet-Lite0 in $GLIMPSE_ZOO_DIR (default /var/tmp/glimpse-zoo), the glimpse CLI
// in $GLIMPSE_BIN.
import { launch } from './engines.mjs';
import { serve } from '../../scripts/serve.mjs';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const browsers = opt('--browsers', 'chromium,firefox,webkit').split(',');
const backends = opt('--backends', 'cpu,cpu-plain,webgpu').split(',');
const only = opt('--only', '');
const outDir = opt('--out', join(tmpdir(), 'glimpse-browser'));
mkdirSync(outDir, { recursive: true });

const server = await serve({ port: 0 });
const origin = `http://127.0.0.1:${server.address().port}`;

let failed = 0;
const report = {};
for (const name of browsers) {
  const browser = await launch(name, { args: ['--enable-unsafe-webgpu'] });
  for (const backend of backends) {
    const label = `${name} ${backend}`;
    const url = `${origin}/tests/browser/index.html?engine=${name}&backend=${backend}${only ? `&only=${encodeURIComponent(only)}` : ''}`;
    if (backend === 'webgpu' && name !== 'chromium') {
      // WebGPU only where this engine exposes an adapter.
      const probe = await browser.open(`${origin}/tests/browser/blank.html`);
      const has = await probe.evaluate('(async () => Boolean(navigator.gpu && await navigator.gpu.requestAdapter()))()');
      await probe.close();
      if (!has) {
        console.log(`\n== ${label}: skipped, this engine exposes no WebGPU adapter ==`);
        report[label] = { skipped: 'no WebGPU adapter' };
        continue;
      }
    }
    const t0 = Date.now();
    const page = await browser.open(url, { onLog: (t) => console.log(`[${label}] ${t.slice(0, 400)}`) });
    // (Waits for the suite module to have set it, 60 s at most: WebKit may report the load
    // before a module that awaits at its top level has run, as threads.mjs found.)
    const res = await page.evaluate(`new Promise((resolve) => {
      const t0 = Date.now();
      const t = setInterval(() => {
        if (window.glimpseDone || Date.now() - t0 > 60000) { clearInterval(t); resolve(window.glimpseDone ?? null); }
      }, 20);
    })`);
    if (!res) {
      console.log(`\n== ${label}: FAIL, the suite never started (no window.glimpseDone after 60 s) ==`);
      report[label] = { version: browser.version, error: 'the suite never started' };
      failed++;
      await page.close();
      continue;
    }
    report[label] = { version: browser.version, ...res };
    console.log(`\n== ${label}${browser.version ? ` (${browser.version})` : ''} (${((Date.now() - t0) / 1000).toFixed(1)} s) ==`);
    for (const r of res.results) {
      console.log(`${r.ok ? 'ok  ' : 'FAIL'} ${r.name} (${r.ms} ms)${r.detail ? ' ' + JSON.stringify(r.detail) : ''}`);
      if (!r.ok) {
        console.log('     ' + r.error.split('\n').join('\n     '));
        failed++;
      }
    }
    if (res.results.length === 0) {
      console.log('FAIL no test ran');
      failed++;
    }
    console.log('timings:', JSON.stringify(res.timings));
    // Nothing leaves the origin (the page's resource timings list every fetch).
    const foreign = await page.evaluate(`performance.getEntriesByType('resource').map((e) => e.name).filter((u) => !u.startsWith(${JSON.stringify(origin)}) && !u.startsWith('data:') && !u.startsWith('blob:'))`);
    if (foreign.length) {
      console.log(`FAIL requests left the origin: ${foreign.join(', ')}`);
      failed++;
    }
    // The model saved in the browser, checked natively.
    const saved = await page.evaluate('window.glimpseSaved ?? null');
    if (saved && process.env.GLIMPSE_BIN) {
      const dir = mkdtempSync(join(tmpdir(), 'glimpse-saved-'));
      writeFileSync(join(dir, 'model.json'), saved.structure);
      writeFileSync(join(dir, 'model.weights.h5'), Uint8Array.from(saved.weights));
      writeFileSync(join(dir, 'x.npy'), npy(Float32Array.from(saved.x), saved.shape));
      execFileSync(process.env.GLIMPSE_BIN, ['predict', join(dir, 'model.json'), '--weights', join(dir, 'model.weights.h5'),
        '--save-output', join(dir, 'y.npy'), join(dir, 'x.npy')], { stdio: 'pipe' });
      const y = readNpy(readFileSync(join(dir, 'y.npy')));
      let worst = 0;
      saved.y.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - y[i]))));
      const ok = worst <= 1e-5 && y.length === saved.y.length;
      console.log(`${ok ? 'ok  ' : 'FAIL'} saved in the browser, predicted natively: max diff ${worst}`);
      if (!ok) failed++;
    }
    await page.screenshot(join(outDir, `browser-tests-${name}-${backend}.png`));
    await page.close();
  }
  await browser.close();
}
writeFileSync(join(outDir, 'browser-tests.json'), JSON.stringify(report, null, 2));
server.close();
console.log(failed ? `\n${failed} browser check(s) FAILED` : '\nall browser checks passed');
process.exit(failed ? 1 : 0);

function npy(data, shape) {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  header += ' '.repeat(63 - ((header.length + 10) % 64)) + '\n';
  const buf = Buffer.alloc(10 + header.length + data.byteLength);
  buf.write('\x93NUMPY', 0, 'latin1');
  buf[6] = 1;
  buf[7] = 0;
  buf.writeUInt16LE(header.length, 8);
  buf.write(header, 10, 'latin1');
  Buffer.from(data.buffer).copy(buf, 10 + header.length);
  return buf;
}

function readNpy(buf) {
  const len = buf.readUInt16LE(8);
  const body = buf.subarray(10 + len);
  return new Float32Array(body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength));
}
