// The browser benchmark: one command, one Chromium session, EfficientNet-Lite0 with the same
// weights on Glimpse (WebGPU, CPU) and onnxruntime-web (wasm, webgpu). Prints a markdown table
// with ratios to the fastest engine per workload and writes it (and JSON) to --out.
//   node bench/browser/run.mjs [--engines a,b] [--iters N] [--out DIR]
// Needs: scripts/build-pkg done, the zoo model (glimpse zoo fetch), python with onnx + h5py
// ($PYTHON, default python3) for the ONNX file; installs bench/'s npm peers when missing.
import { chromium } from 'playwright-core';
import { serve } from '../../scripts/serve.mjs';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync, readFileSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join, dirname } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..', '..');
const args = process.argv.slice(2);
const opt = (n, d) => (args.includes(n) ? args[args.indexOf(n) + 1] : d);
const engines = opt('--engines', 'glimpse-cpu,ort-wasm,glimpse-webgpu,ort-webgpu').split(',');
const iters = Number(opt('--iters', 20));
const out = opt('--out', join(tmpdir(), 'glimpse-bench'));
mkdirSync(out, { recursive: true });
const zoo = process.env.GLIMPSE_ZOO_DIR ?? '/var/tmp/glimpse-zoo';

if (!existsSync(join(repo, 'bench', 'node_modules', 'onnxruntime-web'))) {
  execFileSync('npm', ['install', '--no-audit', '--no-fund'], { cwd: join(repo, 'bench'), stdio: 'inherit' });
}
const data = join(out, 'data');
mkdirSync(data, { recursive: true });
const onnx = join(data, 'efficientnet-lite0.onnx');
if (!existsSync(onnx)) {
  execFileSync(process.env.PYTHON ?? 'python3', [join(repo, 'bench', 'onnx_export.py'), join(zoo, 'efficientnet-lite0'), onnx], { stdio: 'inherit' });
}

const server = await serve({ port: 0, zooDir: zoo, extra: { '/bench-data/': data } });
const origin = `http://127.0.0.1:${server.address().port}`;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--enable-unsafe-webgpu', '--no-sandbox', '--disable-background-networking', '--enable-precise-memory-info'],
});
const results = [];
for (const engine of engines) {
  const page = await browser.newPage();
  // WebGPU here is usually SwiftShader (a CPU rasteriser): fewer, smaller runs.
  const gpu = engine.endsWith('webgpu');
  const q = gpu ? `iters=3&batch=8&batchRuns=1&memRuns=0` : `iters=${iters}&batch=32&batchRuns=3&memRuns=200`;
  await page.goto(`${origin}/bench/browser/index.html?engine=${engine}&${q}`);
  const r = await page.evaluate(() => window.benchDone);
  console.log(JSON.stringify(r));
  results.push(r);
  await page.close();
}
await browser.close();
server.close();

const size = (f) => {
  const b = readFileSync(f);
  return { raw: b.length, gzip: gzipSync(b, { level: 9 }).length };
};
const sizes = {
  'Glimpse wasm': size(join(repo, 'pkg', 'wasm', 'glimpse_bg.wasm')),
  'onnxruntime-web wasm (jsep)': size(join(repo, 'bench', 'node_modules', 'onnxruntime-web', 'dist', 'ort-wasm-simd-threaded.jsep.wasm')),
  'model: Keras .weights.h5 (Glimpse)': { raw: statSync(join(zoo, 'efficientnet-lite0', 'model.weights.h5')).size },
  'model: ONNX (onnxruntime-web)': { raw: statSync(onnx).size },
};
const ok = results.filter((r) => !r.error);
const groups = [['CPU', ok.filter((r) => !r.engine.endsWith('webgpu'))], ['WebGPU', ok.filter((r) => r.engine.endsWith('webgpu'))]];
let md = `# Browser benchmark: EfficientNet-Lite0, same weights, one Chromium session\n\n`;
md += `Ratios are to the fastest engine of the same group (CPU or WebGPU) per column: 1.00 is the fastest.\n\n`;
for (const [name, rows] of groups) {
  if (!rows.length) continue;
  const b = (key, lower) => Math.min(...rows.map((r) => (lower ? r[key] : 1 / r[key])));
  const rr = (r, key, lower) => ((lower ? r[key] : 1 / r[key]) / b(key, lower)).toFixed(2);
  md += `## ${name}\n\n| engine | top-1 | first prediction ms (ratio) | p50 ms (ratio) | p95 ms | batch | batch img/s (ratio) | wasm memory (growth over N more predictions) |\n|---|---|---|---|---|---|---|---|\n`;
  for (const r of rows) {
    md += `| ${r.info} | ${r.top1} | ${r.firstPredictionMs} (${rr(r, 'firstPredictionMs', true)}) | ${r.p50Ms} (${rr(r, 'p50Ms', true)}) | ${r.p95Ms} | ${r.batch} | ${r.batchImgPerS} (${rr(r, 'batchImgPerS', false)}) | ${r.wasmMemoryBytes ? `${(r.wasmMemoryBytes / 2 ** 20).toFixed(1)} MiB (+${r.wasmMemoryGrowth} B over ${r.memRuns})` : 'n/a'} |\n`;
  }
  md += '\n';
}
for (const r of results.filter((r) => r.error)) md += `- ${r.engine} failed: ${r.error.split('\n')[0]}\n`;
md += `\n## Download sizes\n\n| file | bytes | gzip |\n|---|---|---|\n`;
for (const [k, v] of Object.entries(sizes)) md += `| ${k} | ${v.raw.toLocaleString('en')} | ${v.gzip ? v.gzip.toLocaleString('en') : ''} |\n`;
md += `\nTF.js is not in this table yet (it needs the network in TF.js' layers format).\n`;
writeFileSync(join(out, 'bench.md'), md);
writeFileSync(join(out, 'bench.json'), JSON.stringify({ results, sizes }, null, 2));
console.log('\n' + md);
