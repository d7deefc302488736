// The browser benchmark: one command, one Chromium session, a fresh page per engine. The same
// EfficientNet-Lite0 weights on Glimpse (CPU, WebGPU), onnxruntime-web (wasm, webgpu) and
// TensorFlow.js (wasm, webgl, webgpu); the course CNN's training step, transfer learning
// (features + a Dense head) and memory. Prints markdown tables with ratios to the fastest engine
// of each group and workload, and writes them (and JSON) to --out.
//   node bench/browser/run.mjs [--engines a,b] [--work infer,memory,train,transfer] [--iters N] [--cold N] [--out DIR]
//                              [--set trainN=64,transferN=20,...] [--report DIR/bench.json]
// Needs: scripts/build-pkg and the release CLI built, the zoo model (glimpse zoo fetch); python
// with onnx, onnxruntime, h5py, keras 3 + jax, pillow ($PYTHON, or a venv it makes under
// /var/tmp/glimpse-bench-venv); installs bench/'s npm peers when missing. --work native adds the
// native section (bench/native.mjs: CLI vs onnxruntime CPU, training vs Keras on jax). Files it
// writes go to --out/data and are
// reused.
import { chromium } from 'playwright-core';
import { serve } from '../../scripts/serve.mjs';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join, dirname } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { benchPython, nativeSection } from '../native.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..', '..');
const args = process.argv.slice(2);
const opt = (n, d) => (args.includes(n) ? args[args.indexOf(n) + 1] : d);
// glimpse-cpu-workers runs only the transfer workload (features on helper workers).
const ALL = 'glimpse-cpu,glimpse-cpu-workers,ort-wasm,tfjs-wasm,glimpse-webgpu,ort-webgpu,tfjs-webgl,tfjs-webgpu';
const engines = opt('--engines', ALL).split(',');
const work = opt('--work', 'infer,memory,train,transfer,native');
const iters = Number(opt('--iters', 20));
const out = opt('--out', join(tmpdir(), 'glimpse-bench'));
mkdirSync(out, { recursive: true });
const zoo = process.env.GLIMPSE_ZOO_DIR ?? '/var/tmp/glimpse-zoo';
const python = opt('--report', null) ? 'python3' : benchPython();
const nm = join(repo, 'bench', 'node_modules');
const isGpu = (e) => /-(webgpu|webgl)$/.test(e);
// Fresh pages that time the first prediction (the median is reported): --cold N for the CPU
// engines; one for the GPU group (SwiftShader makes each page slow).
// Predictions per engine per interleaved latency round.
const LATENCY_ROUND = 5;
const coldRuns = (e) => (isGpu(e) ? 1 : Number(opt('--cold', 5)));

// WebGL/WebGPU here are usually SwiftShader (a CPU rasteriser, ~40x slower than the wasm
// engines): fewer, smaller runs, and no 200-prediction memory loop.
const SIZES = {
  cpu: { iters, warmUpMs: 3000, batch: 32, batchRuns: 3, memRuns: 200, trainN: 320, trainEpochs: 3, transferN: 100, featureBatch: 10, headEpochs: 20 },
  gpu: { iters: 3, warmUpMs: 1000, batch: 8, batchRuns: 1, memRuns: 0, trainN: 64, trainEpochs: 2, transferN: 10, featureBatch: 5, headEpochs: 20 },
};
// --report FILE: only render the tables again from a bench.json of an earlier run.
const report = opt('--report', null);
const data = join(out, 'data');
const net = join(zoo, 'efficientnet-lite0');
const onnx = join(data, 'efficientnet-lite0.onnx');
const tfjsDir = join(data, 'efficientnet-lite0-tfjs');
const saved = report ? JSON.parse(readFileSync(report, 'utf8')) : null;
if (saved) Object.assign(SIZES, saved.sizes);
const { results, chromiumVersion } = saved ?? (await runAll());
// The native section (CLI vs onnxruntime, training vs Keras): after the browser, on a quiet CPU.
const native = saved ? (saved.native ?? null) : work.split(',').includes('native') ? nativeSection({ repo, out, python, zoo }) : null;

async function runAll() {
  const pkgs = Object.keys(JSON.parse(readFileSync(join(repo, 'bench', 'package.json'), 'utf8')).devDependencies);
  if (!pkgs.every((p) => existsSync(join(nm, p)))) {
    execFileSync('npm', ['install', '--no-audit', '--no-fund'], { cwd: join(repo, 'bench'), stdio: 'inherit' });
  }
  mkdirSync(data, { recursive: true });
  const py = (script, ...a) => execFileSync(python, [join(repo, 'bench', script), ...a], { stdio: 'inherit' });
  if (!existsSync(onnx)) py('onnx_export.py', net, onnx);
  const onnxFeatures = join(data, 'efficientnet-lite0-features.onnx');
  if (!existsSync(onnxFeatures)) py('onnx_export.py', net, onnxFeatures, '--features');
  if (!existsSync(join(tfjsDir, 'model.json'))) py('tfjs_export.py', net, tfjsDir);
  if (!existsSync(join(data, 'cifar_cnn-tfjs', 'model.json'))) py('course_cnn.py', data);

  const server = await serve({ port: 0, zooDir: zoo, extra: { '/bench-data/': data } });
  const origin = `http://127.0.0.1:${server.address().port}`;
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--enable-unsafe-webgpu', '--no-sandbox', '--disable-background-networking', '--enable-precise-memory-info', '--js-flags=--expose-gc'],
  });
  const chromiumVersion = browser.version();
  // --set k=v,k=v overrides workload sizes in both groups (for quick runs while developing).
  for (const kv of opt('--set', '').split(',').filter(Boolean)) {
    const [k, v] = kv.split('=');
    SIZES.cpu[k] = SIZES.gpu[k] = Number(v);
  }
  const results = [];
  for (const engine of engines) {
    const page = await browser.newPage();
    page.on('console', (m) => m.text().startsWith('[bench]') && console.log(m.text()));
    const only = engine.endsWith('-workers') ? work.split(',').filter((w) => w === 'transfer').join(',') : work;
    if (!only) continue;
    const q = new URLSearchParams({ engine, work: only, ...SIZES[isGpu(engine) ? 'gpu' : 'cpu'] });
    const t = Date.now();
    await page.goto(`${origin}/bench/browser/index.html?${q}`);
    const r = await page.evaluate(() => window.benchDone);
    r.wallS = Math.round((Date.now() - t) / 1000);
    await page.close();
    // Time to first prediction varies by ±100 ms from page to page: repeat it on fresh pages
    // (each in a new browser context: empty HTTP and code caches) and keep the median.
    if (typeof r.firstPredictionMs === 'number' && coldRuns(engine) > 1) {
      const all = [r.firstPredictionMs];
      for (let i = 1; i < coldRuns(engine); i++) {
        const ctx = await browser.newContext();
        const p = await ctx.newPage();
        await p.goto(`${origin}/bench/browser/index.html?${new URLSearchParams({ engine, work: 'first' })}`);
        const c = await p.evaluate(() => window.benchDone);
        await ctx.close();
        if (c.error || c.top1 !== r.top1) throw new Error(`${engine}: cold page ${i + 1}: ${c.error ?? `top-1 ${c.top1}, not ${r.top1}`}`);
        all.push(c.firstPredictionMs);
      }
      r.firstPredictionRunsMs = all;
      r.firstPredictionMs = [...all].sort((a, b) => a - b)[all.length >> 1];
    }
    console.log(JSON.stringify({ ...r, probs: undefined, latenciesMs: undefined }));
    results.push(r);
  }
  // Single-image latency, interleaved: one warmed-up page per CPU engine, then rounds of a few
  // predictions on each in turn (the order rotating), so that a slow spell of this shared
  // machine falls on every engine alike. These rounds give the p50/p95 of the CPU group.
  const interleave = results.filter((r) => !isGpu(r.engine) && typeof r.p50Ms === 'number');
  if (interleave.length > 1) {
    const pages = [];
    for (const r of interleave) {
      const ctx = await browser.newContext();
      const p = await ctx.newPage();
      await p.goto(`${origin}/bench/browser/index.html?${new URLSearchParams({ engine: r.engine, work: 'latency', warmUpMs: SIZES.cpu.warmUpMs })}`);
      const ready = await p.evaluate(() => window.benchDone);
      if (ready.error) throw new Error(`${r.engine}: latency page: ${ready.error}`);
      pages.push({ r, p, ctx, times: [] });
    }
    const rounds = Math.ceil(SIZES.cpu.iters / LATENCY_ROUND);
    for (let i = 0; i < rounds; i++) {
      for (let j = 0; j < pages.length; j++) {
        const x = pages[(i + j) % pages.length];
        x.times.push(...(await x.p.evaluate((k) => window.latencyRound(k), LATENCY_ROUND)));
      }
    }
    for (const { r, ctx, times } of pages) {
      await ctx.close();
      const sorted = [...times].sort((a, b) => a - b);
      const at = (q) => +sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))].toFixed(1);
      Object.assign(r, { p50PageMs: r.p50Ms, p95PageMs: r.p95Ms, p50Ms: at(0.5), p95Ms: at(0.95), interleavedLatenciesMs: times.map((t) => +t.toFixed(1)) });
      console.log(`[bench] ${r.engine}: interleaved p50 ${r.p50Ms} ms, p95 ${r.p95Ms} ms (own page: p50 ${r.p50PageMs} ms)`);
    }
  }
  await browser.close();
  server.close();
  return { results, chromiumVersion };
}

// Agreement: max |p - p_ref| over the 1000 probabilities of the golden photo, against Glimpse CPU.
const ref = results.find((r) => r.engine === 'glimpse-cpu' && r.probs)?.probs;
for (const r of results) {
  if (ref && r.probs) r.maxAbsDiffVsGlimpseCpu = Math.max(...r.probs.map((p, i) => Math.abs(p - ref[i])));
  delete r.probs;
}

const size = (f) => {
  const b = readFileSync(f);
  return { raw: b.length, gzip: gzipSync(b, { level: 9 }).length };
};
const dirBytes = (d) => readdirSync(d).reduce((s, f) => s + statSync(join(d, f)).size, 0);
// Download sizes: from the saved run with --report (its files may be gone or elsewhere).
const sizes = saved?.downloads ?? {
  'Glimpse wasm (WebGPU + CPU)': size(join(repo, 'pkg', 'wasm', 'glimpse_bg.wasm')),
  'Glimpse wasm (CPU only, relaxed SIMD: what a CPU page in Chromium loads)': size(join(repo, 'pkg', 'wasm-cpu', 'glimpse_relaxed_bg.wasm')),
  'onnxruntime-web wasm (jsep)': size(join(nm, 'onnxruntime-web', 'dist', 'ort-wasm-simd-threaded.jsep.wasm')),
  'TF.js JS (tf.min.js: core, layers, converter, cpu + webgl backends)': size(join(nm, '@tensorflow', 'tfjs', 'dist', 'tf.min.js')),
  'TF.js wasm backend JS + wasm (SIMD)': (() => {
    const a = size(join(nm, '@tensorflow', 'tfjs-backend-wasm', 'dist', 'tf-backend-wasm.min.js'));
    const b = size(join(nm, '@tensorflow', 'tfjs-backend-wasm', 'dist', 'tfjs-backend-wasm-simd.wasm'));
    return { raw: a.raw + b.raw, gzip: a.gzip + b.gzip };
  })(),
  'TF.js webgpu backend JS': size(join(nm, '@tensorflow', 'tfjs-backend-webgpu', 'dist', 'tf-backend-webgpu.min.js')),
  'model: Keras .weights.h5 (Glimpse)': { raw: statSync(join(net, 'model.weights.h5')).size },
  'model: ONNX (onnxruntime-web)': { raw: statSync(onnx).size },
  'model: TF.js layers model.json + shards': { raw: dirBytes(tfjsDir) },
};

const get = (o, path) => path.split('.').reduce((v, k) => (v == null ? v : v[k]), o);
const mib = (b) => `${(b / 2 ** 20).toFixed(1)} MiB`;
// One table per group: each column either a value with its ratio to the group's best, or text.
function table(title, rows, cols, note = '') {
  if (!rows.length) return '';
  let md = `### ${title}\n\n${note ? note + '\n\n' : ''}| engine | ${cols.map((c) => c.name).join(' | ')} |\n|---|${cols.map(() => '---|').join('')}\n`;
  for (const r of rows) {
    const cells = cols.map((c) => {
      if (c.text) return c.text(r);
      const v = get(r, c.key);
      if (typeof v !== 'number') return c.na?.(r) ?? '';
      const vals = rows.map((x) => get(x, c.key)).filter((x) => typeof x === 'number' && x > 0);
      const best = c.lower ? Math.min(...vals) : Math.max(...vals);
      const ratio = c.lower ? v / best : best / v;
      return `${c.fmt ? c.fmt(v, r) : v} (${ratio.toFixed(2)})`;
    });
    md += `| ${r.info ?? r.engine} | ${cells.join(' | ')} |\n`;
  }
  return md + '\n';
}
// A workload's cell when it did not run: its error or "n/a (why)".
const missing = (w) => (w == null ? 'not run' : w.error ? `error: ${w.error}` : w.na ?? w.head ?? '');
function sectioned(key, title, cols, note, gpuNote = '') {
  if (!ok.some((r) => r[key ?? 'top1'] !== undefined)) return '';
  let md = `## ${title}\n\n`;
  for (const [name, gpu] of [['CPU', false], ['GPU (WebGL, WebGPU)', true]]) {
    const rows = ok.filter((r) => isGpu(r.engine) === gpu && r[key ?? 'top1'] !== undefined);
    const good = key === null ? rows : rows.filter((r) => r[key] && !r[key].error && !r[key].na);
    const bad = key === null ? [] : rows.filter((r) => !good.includes(r));
    let t = table(name, good, cols, gpu ? gpuNote : '');
    if (bad.length) {
      if (!t) t = `### ${name}\n\n`;
      t += bad.map((r) => `- ${r.info ?? r.engine}: ${missing(r[key])}`).join('\n') + '\n\n';
    }
    md += t;
  }
  return md + (note ? note + '\n\n' : '');
}

const ok = results.filter((r) => !r.error);
const sz = SIZES.cpu;
const gz = SIZES.gpu;
let md = `# Browser benchmark: one Chromium session, a fresh page per engine\n\n`;
md += `Chromium ${chromiumVersion} headless; EfficientNet-Lite0 with the same weights in every engine (Glimpse: Keras .weights.h5; onnxruntime-web: ONNX from bench/onnx_export.py; TF.js: layers model from bench/tfjs_export.py). `;
md += `Numbers in parentheses are ratios to the best engine of the same group (CPU or GPU) in that column: 1.00 is the best. `;
md += `The page is not cross-origin isolated, so every wasm engine runs single-threaded (onnxruntime-web numThreads = 1; TF.js wasm gets no SharedArrayBuffer and uses SIMD without threads). Glimpse's features() can also spread its batches over helper Web Workers, which need no isolation: the transfer table's extra Glimpse row (one thread per core, at most 4). `;
md += `WebGL and WebGPU are SwiftShader (CPU emulation) on this machine: the GPU group runs smaller workloads (noted per table) and says nothing about real GPUs.\n\n`;
md += sectioned(null, 'Inference (EfficientNet-Lite0, 224x224)', [
  { name: 'top-1 (golden cat: 282)', text: (r) => String(r.top1) },
  { name: 'max abs diff of probabilities vs Glimpse CPU', text: (r) => (r.engine === 'glimpse-cpu' ? 'reference' : r.maxAbsDiffVsGlimpseCpu == null ? '' : r.maxAbsDiffVsGlimpseCpu.toExponential(1)) },
  { name: 'first prediction ms', key: 'firstPredictionMs', lower: true },
  { name: 'p50 ms', key: 'p50Ms', lower: true },
  { name: 'p95 ms', text: (r) => String(r.p95Ms) },
  { name: 'batch img/s', key: 'batchImgPerS' },
], `First prediction: from navigation start (script and model download, compile, warm-up, one prediction); CPU engines: the median of ${saved?.coldRuns ?? coldRuns('cpu')} fresh pages (all times in bench.json). p50/p95: ${sz.iters} single predictions per engine after ${sz.warmUpMs / 1000} s of warm-up, the CPU engines interleaved (rounds of ${LATENCY_ROUND} on each in turn, each engine warm in its own page); batch throughput over ${sz.batchRuns} batches of ${sz.batch}.`,
`GPU group: ${gz.iters} single predictions, one batch of ${gz.batch}.`);
md += sectioned('memory', `Memory after ${sz.memRuns} single predictions (CPU engines)`, [
  { name: 'peak JS heap', key: 'memory.jsHeapPeakBytes', lower: true, fmt: mib },
  { name: 'JS heap after the loop', key: 'memory.jsHeapBytes', lower: true, fmt: mib },
  { name: 'JS heap kept (after a collection)', key: 'memory.jsHeapRetainedBytes', lower: true, fmt: mib },
  { name: 'wasm memory', key: 'memory.wasmMemoryBytes', lower: true, fmt: mib, na: (r) => r.memory.wasmMemory },
  { name: 'wasm growth over the loop', text: (r) => (r.memory.wasmMemoryGrowth == null ? '' : `${r.memory.wasmMemoryGrowth.toLocaleString('en')} B`) },
  { name: 'TF.js tensors', text: (r) => (r.memory.tensorBytes == null ? '' : `${r.memory.tensors} tensors, ${mib(r.memory.tensorBytes)}`) },
], 'Peak JS heap: the largest performance.memory.usedJSHeapSize seen after each prediction (--enable-precise-memory-info), after one forced garbage collection before the loop (--js-flags=--expose-gc). V8 releases large ArrayBuffers lazily, so the peak still counts buffers that are already garbage (the weights download, the 19 MB batch input of the throughput run) until later predictions let them go; the heap after the loop is the steady state, garbage included; the heap kept is what is left after one more forced collection (the engine\'s code and objects, much of it V8\'s per-function tables of the wasm module: Glimpse\'s CPU pages load its CPU-only engine, 10,251 functions, against 74,545 for the build with the WebGPU backend). Wasm memory: the engine\'s WebAssembly.Memory (grows, never shrinks); onnxruntime-web keeps its instance private, so n/a. TF.js webgl/webgpu keep tensors on the GPU and are not in this loop.');
md += sectioned('train', 'Training: the course CIFAR-10 CNN, batch 32', [
  { name: 'ms per step', key: 'train.msPerStep', lower: true },
  { name: 'first epoch s (compile + warm-up)', text: (r) => String(r.train.firstEpochS) },
  { name: 'loss per epoch', text: (r) => r.train.loss.join(', ') },
  { name: 'note', text: (r) => r.train.note ?? '' },
], `${sz.trainN} random 32x32x3 images, 10 classes, Adam (lr 0.001), categorical cross-entropy, ${sz.trainEpochs} epochs; ms per step from the epochs after the first. Both engines start from the same initial weights (bench/course_cnn.py, Keras' initialisers); dropout is random in each, so losses differ slightly.`,
`GPU group: ${gz.trainN} images, ${gz.trainEpochs} epochs.`);
md += sectioned('transfer', 'Transfer learning: EfficientNet-Lite0 features + a Dense head', [
  { name: `features s (${sz.transferN} photos)`, key: 'transfer.featuresS', lower: true, fmt: (v, r) => (r.transfer.n === sz.transferN ? String(v) : `${v} for ${r.transfer.n}`) },
  { name: 'features ms / photo', key: 'transfer.featuresMsPerImage', lower: true },
  { name: `head training s (${sz.headEpochs} epochs)`, key: 'transfer.headS', lower: true, na: (r) => r.transfer.head },
  { name: 'head train accuracy', text: (r) => (r.transfer.headAccuracy == null ? '' : String(r.transfer.headAccuracy)) },
], `${sz.transferN} distinct 224x224 photos made in the page from the 7 fixture photos (random crops of 60-100%, flips), 7 classes; features: the network up to avg_pool (1280 values), batches of ${sz.featureBatch}, input tensors and the cut model (or ORT session) made before timing, first batch timed; head: Dense(7, softmax), Adam (lr 0.001), batch 32. onnxruntime-web extracts features from an ONNX file cut at avg_pool (onnx_export.py --features) and has no training. The helper-workers row: features(images, { workers }) on ImageData made from the same tensors before timing and taken as they are (no crop or resize); the helpers' start (an engine instance from the compiled module, a copy of the model) is inside the time.`,
`GPU group: ${gz.transferN} photos in batches of ${gz.featureBatch} (same head training on their features).`);
for (const r of results.filter((r) => r.error)) md += `- ${r.engine} failed: ${r.error.split('\n')[0]}\n`;
md += `\n## Download sizes\n\n| file | bytes | gzip |\n|---|---|---|\n`;
for (const [k, v] of Object.entries(sizes)) md += `| ${k} | ${v.raw.toLocaleString('en')} | ${v.gzip ? v.gzip.toLocaleString('en') : ''} |\n`;
if (native) md += `\n${native.md}`;
writeFileSync(join(out, 'bench.md'), md);
writeFileSync(join(out, 'bench.json'), JSON.stringify({ chromiumVersion, sizes: SIZES, coldRuns: saved?.coldRuns ?? coldRuns('cpu'), results, downloads: sizes, native }, null, 2));
console.log('\n' + md);
