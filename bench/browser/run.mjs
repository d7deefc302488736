// The browser benchmark: one command, one Chromium session, a fresh page (a new browser context)
// per engine. The same EfficientNet-Lite0 weights on Glimpse (CPU on the page's thread, CPU through
// its Web Worker client, WebGPU), onnxruntime-web (wasm on 1 thread and on hardwareConcurrency
// threads, webgpu) and TensorFlow.js (wasm, webgl, webgpu); the course CNN's training step,
// transfer learning (features + a Dense head) and memory. Every CPU engine runs on two pages,
// served plainly and served cross-origin isolated (COOP + COEP: SharedArrayBuffer, so wasm
// threads; rows "· isolated"), each in its best configuration there. While each engine's pages
// run it reads the machine's load from /proc and flags rows where other processes took more than
// --max-others of the cores ("⚠ busy"). Prints markdown tables with ratios to the best row of
// each group (CPU: every engine and page mode; GPU) and workload, and writes them (and JSON) to
// --out.
//   node bench/browser/run.mjs [--engines a,b] [--work infer,memory,train,transfer,native] [--iters N]
//        [--cold N] [--out DIR] [--modes plain,isolated] [--set trainN=64,transferN=20,...]
//        [--strict-load] [--max-others 0.1] [--chromium-args "--flag ..."] [--real-gpu]
//        [--report DIR/bench.json]
// Engines: the CPU group glimpse-cpu, glimpse-cpu-worker, glimpse-cpu-workers (transfer only:
// features() on helper workers), ort-wasm (numThreads 1), ort-wasm-threads (numThreads =
// hardwareConcurrency), tfjs-wasm, each on the pages of --modes; the GPU group glimpse-webgpu,
// ort-webgpu, tfjs-webgl, tfjs-webgpu, on plain pages.
// --strict-load fails the run at the first busy row instead of flagging it; the quiet run for the
// record, on an otherwise idle machine: node bench/browser/run.mjs --strict-load
// --chromium-args (or $CHROMIUM_ARGS) adds Chromium flags; --real-gpu gives the GPU group the CPU
// group's workload sizes and --cold pages (not the small ones SwiftShader needs). bench/gpu.sh
// runs only the GPU group so, with flags for a real GPU.
// Needs: scripts/build-pkg and the release CLI built, the zoo model (glimpse zoo fetch); python
// with onnx, onnxruntime, h5py, keras 3 + jax, pillow ($PYTHON, or a venv it makes under
// /var/tmp/glimpse-bench-venv); installs bench/'s npm peers when missing. --work native adds the
// native section (bench/native.mjs: CLI vs onnxruntime CPU, training vs Keras on jax). Files it
// writes go to --out/data and are reused.
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
const ALL = 'glimpse-cpu,glimpse-cpu-worker,glimpse-cpu-workers,ort-wasm,ort-wasm-threads,tfjs-wasm,glimpse-webgpu,ort-webgpu,tfjs-webgl,tfjs-webgpu';
const engines = opt('--engines', ALL).split(',');
const work = opt('--work', 'infer,memory,train,transfer,native');
const iters = Number(opt('--iters', 20));
const out = opt('--out', join(tmpdir(), 'glimpse-bench'));
mkdirSync(out, { recursive: true });
const zoo = process.env.GLIMPSE_ZOO_DIR ?? '/var/tmp/glimpse-zoo';
const python = opt('--report', null) ? 'python3' : benchPython();
const nm = join(repo, 'bench', 'node_modules');
const isGpu = (e) => /-(webgpu|webgl)$/.test(e);
// --report FILE: only render the tables again from a bench.json of an earlier run.
const report = opt('--report', null);
const saved = report ? JSON.parse(readFileSync(report, 'utf8')) : null;
// Page modes of the CPU group: plain (not cross-origin isolated: one thread for every wasm
// engine) and isolated (COOP + COEP). The GPU group's engines keep plain pages.
const modes = saved?.modes ?? opt('--modes', 'plain,isolated').split(',');
const modesOf = (e) => (isGpu(e) ? ['plain'] : modes);
// A row is busy when other processes took more than this share of the cores while its pages ran.
const maxOthers = saved?.maxOthers ?? Number(opt('--max-others', 0.1));
const strictLoad = args.includes('--strict-load');
const realGpu = saved?.realGpu ?? args.includes('--real-gpu');
// More Chromium flags (a real GPU wants other ones than SwiftShader: bench/gpu.sh).
const chromiumArgs = saved?.chromiumArgs ?? opt('--chromium-args', process.env.CHROMIUM_ARGS ?? '').split(/\s+/).filter(Boolean);
// Fresh pages that time the first prediction (the median is reported): --cold N for the CPU
// engines; one for the GPU group (SwiftShader makes each page slow) unless --real-gpu.
// Predictions per engine per interleaved latency round.
const LATENCY_ROUND = 5;
const coldRuns = (e) => (isGpu(e) && !realGpu ? 1 : Number(opt('--cold', 5)));

// WebGL/WebGPU here are usually SwiftShader (a CPU rasteriser, ~40x slower than the wasm
// engines): fewer, smaller runs, and no 200-prediction memory loop.
const SIZES = {
  cpu: { iters, warmUpMs: 3000, batch: 32, batchRuns: 3, memRuns: 200, trainN: 320, trainEpochs: 3, transferN: 100, featureBatch: 10, headEpochs: 20 },
  gpu: { iters: 3, warmUpMs: 1000, batch: 8, batchRuns: 1, memRuns: 0, trainN: 64, trainEpochs: 2, transferN: 10, featureBatch: 5, headEpochs: 20 },
};
// A real GPU runs the CPU group's sizes (its tensors stay on the GPU: still no memory loop).
if (realGpu) SIZES.gpu = { ...SIZES.cpu, memRuns: 0 };
const data = join(out, 'data');
const net = join(zoo, 'efficientnet-lite0');
const onnx = join(data, 'efficientnet-lite0.onnx');
const tfjsDir = join(data, 'efficientnet-lite0-tfjs');
// TF.js' smallest download that still computes in float32: its float16 weight quantization.
const tfjsHalfDir = join(data, 'efficientnet-lite0-tfjs-f16');
if (saved) Object.assign(SIZES, saved.sizes);

const pct = (x) => `${(100 * x).toFixed(1)} %`;
const busy = (load) => load != null && load.othersShare > maxOthers;
// A row's name in the tables: what the engine says it runs, its page mode, its load flag.
const label = (r, flag = true) => `${r.info ?? r.engine}${r.mode === 'isolated' ? ' · isolated' : ''}${flag && busy(r.load) ? ' ⚠ busy' : ''}`;

// Load on this machine while pages run, from /proc (Linux; none elsewhere), in clock ticks: the
// busy time of all cores (/proc/stat), the CPU time (utime + stime) of Chromium's processes,
// i.e. of this script's descendants, and this script's own.
const HZ = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' })) || 100;
  } catch {
    return 100;
  }
})();

function systemTicks() {
  const lines = readFileSync('/proc/stat', 'utf8').split('\n');
  const [user, nice, system, idle, iowait, irq, softirq, steal = 0] = lines[0].trim().split(/\s+/).slice(1).map(Number);
  const busyTicks = user + nice + system + irq + softirq + steal;
  return { busy: busyTicks, total: busyTicks + idle + iowait, cores: lines.filter((l) => /^cpu\d/.test(l)).length };
}

function descendants() {
  const byParent = new Map();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let stat;
    try {
      stat = readFileSync(`/proc/${d}/stat`, 'utf8');
    } catch {
      continue; // ended meanwhile
    }
    // The fields after "(comm)" (a name that may hold spaces): state, ppid, ..., utime, stime
    // (fields 14, 15), ..., starttime (22).
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ppid = Number(f[1]);
    if (!byParent.has(ppid)) byParent.set(ppid, []);
    byParent.get(ppid).push({ pid: Number(d), ticks: Number(f[11]) + Number(f[12]), start: Number(f[19]) });
  }
  const found = [];
  const todo = [process.pid];
  while (todo.length) {
    for (const c of byParent.get(todo.pop()) ?? []) {
      found.push(c);
      todo.push(c.pid);
    }
  }
  return found;
}

// Sampled every second, so that a process that starts and ends while the page runs (a renderer,
// a utility process) still counts: each process counts its ticks from when it was first seen (or
// from 0 when it started since), until it was last seen. Dead children's time in their parent's
// cutime is not used: a closed page's renderer reaped later would bring its whole life in.
function loadMeter() {
  if (!existsSync('/proc/stat')) return { stop: () => null };
  const since = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]) * HZ;
  const sys0 = systemTicks();
  const self0 = process.cpuUsage();
  const seen = new Map();
  const sample = () => {
    for (const p of descendants()) {
      const key = `${p.pid}:${p.start}`;
      const s = seen.get(key);
      if (s) s.last = p.ticks;
      else seen.set(key, { first: p.start >= since ? 0 : p.ticks, last: p.ticks });
    }
  };
  sample();
  const timer = setInterval(sample, 1000);
  return {
    stop() {
      clearInterval(timer);
      sample();
      const sys1 = systemTicks();
      const self = process.cpuUsage(self0);
      let browserTicks = 0;
      for (const { first, last } of seen.values()) browserTicks += last - first;
      return {
        cores: sys1.cores, hz: HZ, total: sys1.total - sys0.total, busy: sys1.busy - sys0.busy,
        browser: browserTicks, self: ((self.user + self.system) / 1e6) * HZ,
      };
    },
  };
}

// Several windows' ticks -> the load over them: the wall time, Chromium's cores (CPU time per
// wall second) and the others' share of all cores (busy time not Chromium's nor this script's).
function loadOf(parts) {
  const l = parts.filter(Boolean);
  if (!l.length) return null;
  const sum = (k) => l.reduce((a, x) => a + x[k], 0);
  const { cores, hz } = l[0];
  const wall = sum('total') / cores; // ticks of one core
  return {
    windows: l.length, cores, wallS: +(wall / hz).toFixed(1),
    browserCores: +(sum('browser') / wall).toFixed(2),
    othersShare: +(Math.max(0, sum('busy') - sum('browser') - sum('self')) / sum('total')).toFixed(3),
  };
}

function checkLoad(what, load) {
  if (!busy(load)) return;
  const msg = `${what}: other processes took ${pct(load.othersShare)} of the cores while its pages ran (more than ${pct(maxOthers)}); its numbers are not from a quiet machine`;
  if (strictLoad) throw Object.assign(new Error(`--strict-load: ${msg}`), { strictLoad: true });
  console.warn(`⚠ busy: ${msg}`);
}

// (A busy row under --strict-load ends the run with its message, not a stack.)
const { results, chromiumVersion, latencyLoad = null } = saved ?? (await runAll().catch((e) => {
  if (!e.strictLoad) throw e;
  console.error(`✗ ${e.message}`);
  process.exit(1);
}));
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
  if (!existsSync(join(tfjsHalfDir, 'model.json'))) py('tfjs_export.py', net, tfjsHalfDir, '--float16');
  if (!existsSync(join(data, 'cifar_cnn-tfjs', 'model.json'))) py('course_cnn.py', data);

  // One server per page mode (two origins: each its own HTTP cache). Both count the bodies they
  // send, for the bytes each page downloads: as static hosts send them, wasm, JS, JSON and text
  // gzipped (every engine's alike), weights files as they are.
  const served = { bytes: 0 };
  const servers = {};
  for (const mode of ['plain', 'isolated']) {
    const s = await serve({ port: 0, zooDir: zoo, isolate: mode === 'isolated', extra: { '/bench-data/': data } });
    s.on('request', (req, res) => res.on('finish', () => {
      if (req.method === 'GET') served.bytes += Number(res.getHeader('content-length') ?? 0);
    }));
    servers[mode] = s;
  }
  const origin = (mode) => `http://127.0.0.1:${servers[mode].address().port}`;
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--enable-unsafe-webgpu', '--no-sandbox', '--disable-background-networking', '--enable-precise-memory-info', '--js-flags=--expose-gc', ...chromiumArgs],
  });
  try {
    return await runPages(browser, origin, served);
  } finally {
    await browser.close();
    for (const s of Object.values(servers)) s.close();
  }
}

async function runPages(browser, origin, served) {
  const chromiumVersion = browser.version();
  // --set k=v,k=v overrides workload sizes in both groups (for quick runs while developing).
  for (const kv of opt('--set', '').split(',').filter(Boolean)) {
    const [k, v] = kv.split('=');
    SIZES.cpu[k] = SIZES.gpu[k] = Number(v);
  }
  // A fresh page of `engine` served in `mode` (a new browser context: empty HTTP and code
  // caches): its result, the load while it ran and the bytes it had downloaded at its first
  // prediction (the page calls benchFirstPrediction() then).
  const open = async (engine, mode, params, progress = false) => {
    const meter = loadMeter();
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    if (progress) page.on('console', (m) => m.text().startsWith('[bench]') && console.log(m.text()));
    const bytes0 = served.bytes;
    let downloadedBytes = null;
    await page.exposeFunction('benchFirstPrediction', () => {
      downloadedBytes = served.bytes - bytes0;
    });
    await page.goto(`${origin(mode)}/bench/browser/index.html?${new URLSearchParams({ engine, ...params })}`);
    const r = await page.evaluate(() => window.benchDone);
    return { r, page, ctx, load: meter.stop(), downloadedBytes };
  };
  const results = [];
  for (const engine of engines) {
    const only = engine.endsWith('-workers') ? work.split(',').filter((w) => w === 'transfer').join(',') : work;
    if (!only) continue;
    for (const mode of modesOf(engine)) {
      const t = Date.now();
      const main = await open(engine, mode, { work: only, ...SIZES[isGpu(engine) ? 'gpu' : 'cpu'] }, true);
      await main.ctx.close();
      const r = { ...main.r, mode };
      r.wallS = Math.round((Date.now() - t) / 1000);
      // Threads depend on it: the page must be what its server made it.
      if (!r.error && r.crossOriginIsolated !== (mode === 'isolated')) {
        r.error = `the ${mode} page was ${r.crossOriginIsolated ? '' : 'not '}cross-origin isolated`;
      }
      const loads = [main.load];
      // Time to first prediction varies by ±100 ms from page to page: repeat it on fresh pages
      // and keep the median page (its phases and downloads with it).
      if (!r.error && typeof r.firstPredictionMs === 'number') {
        const runs = [{ ms: r.firstPredictionMs, phases: r.phases, bytes: main.downloadedBytes }];
        for (let i = 1; i < coldRuns(engine); i++) {
          const c = await open(engine, mode, { work: 'first' });
          await c.ctx.close();
          loads.push(c.load);
          if (c.r.error || c.r.top1 !== r.top1) throw new Error(`${label(r, false)}: cold page ${i + 1}: ${c.r.error ?? `top-1 ${c.r.top1}, not ${r.top1}`}`);
          runs.push({ ms: c.r.firstPredictionMs, phases: c.r.phases, bytes: c.downloadedBytes });
        }
        const mid = [...runs].sort((a, b) => a.ms - b.ms)[runs.length >> 1];
        Object.assign(r, { firstPredictionMs: mid.ms, phases: mid.phases, downloadedBytes: mid.bytes });
        if (runs.length > 1) r.firstPredictionRunsMs = runs.map((x) => x.ms);
        r.downloadedRunsBytes = runs.map((x) => x.bytes);
      }
      r.load = loadOf(loads);
      console.log(JSON.stringify({ ...r, probs: undefined, latenciesMs: undefined }));
      results.push(r);
      checkLoad(label(r, false), r.load);
    }
  }
  // Single-image latency, interleaved: one warmed-up page per CPU row (engine and page mode), then
  // rounds of a few predictions on each in turn (the order rotating), so that a slow spell of
  // this shared machine falls on every row alike. These rounds give the p50/p95 of the CPU group.
  const interleave = results.filter((r) => !r.error && !isGpu(r.engine) && typeof r.p50Ms === 'number');
  let latencyLoad = null;
  if (interleave.length > 1) {
    const pages = [];
    for (const r of interleave) {
      const { r: ready, page, ctx } = await open(r.engine, r.mode, { work: 'latency', warmUpMs: SIZES.cpu.warmUpMs });
      if (ready.error) throw new Error(`${label(r, false)}: latency page: ${ready.error}`);
      pages.push({ r, p: page, ctx, times: [] });
    }
    const meter = loadMeter();
    const rounds = Math.ceil(SIZES.cpu.iters / LATENCY_ROUND);
    for (let i = 0; i < rounds; i++) {
      for (let j = 0; j < pages.length; j++) {
        const x = pages[(i + j) % pages.length];
        x.times.push(...(await x.p.evaluate((k) => window.latencyRound(k), LATENCY_ROUND)));
      }
    }
    latencyLoad = loadOf([meter.stop()]);
    for (const { r, ctx, times } of pages) {
      await ctx.close();
      const sorted = [...times].sort((a, b) => a - b);
      const at = (q) => +sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))].toFixed(1);
      Object.assign(r, { p50PageMs: r.p50Ms, p95PageMs: r.p95Ms, p50Ms: at(0.5), p95Ms: at(0.95), interleavedLatenciesMs: times.map((t) => +t.toFixed(1)) });
      console.log(`[bench] ${label(r, false)}: interleaved p50 ${r.p50Ms} ms, p95 ${r.p95Ms} ms (own page: p50 ${r.p50PageMs} ms)`);
    }
    checkLoad('the interleaved latency rounds', latencyLoad);
  }
  return { results, chromiumVersion, latencyLoad };
}

// Agreement: max |p - p_ref| over the 1000 probabilities of the golden photo, against Glimpse CPU
// (its plain page's row).
const refRow = results.find((r) => r.engine === 'glimpse-cpu' && r.mode !== 'isolated' && r.probs) ?? results.find((r) => r.engine === 'glimpse-cpu' && r.probs);
if (refRow) refRow.isReference = true;
for (const r of results) {
  if (refRow && r.probs) r.maxAbsDiffVsGlimpseCpu = Math.max(...r.probs.map((p, i) => Math.abs(p - refRow.probs[i])));
}
for (const r of results) delete r.probs;
// (bench.json files from before the page modes mark no reference row.)
const isReference = (r) => r.isReference ?? (r.engine === 'glimpse-cpu' && r.mode !== 'isolated');

const size = (f) => {
  const b = readFileSync(f);
  return { raw: b.length, gzip: gzipSync(b, { level: 9 }).length };
};
const sum = (...s) => ({ raw: s.reduce((a, x) => a + x.raw, 0), gzip: s.reduce((a, x) => a + x.gzip, 0) });
const dirBytes = (d) => readdirSync(d).reduce((s, f) => s + statSync(join(d, f)).size, 0);
const tfWasm = (f) => join(nm, '@tensorflow', 'tfjs-backend-wasm', 'dist', f);
// What each of Glimpse's CPU-only engine files is (any other one there is listed by its name).
const CPU_WASM = {
  'glimpse_relaxed_bg.wasm': 'relaxed SIMD: what a CPU page in Chromium loads',
  'glimpse_bg.wasm': 'SIMD: browsers without relaxed SIMD',
};
// Download sizes: from the saved run with --report (its files may be gone or elsewhere).
const sizes = saved?.downloads ?? {
  'Glimpse wasm (WebGPU + CPU)': size(join(repo, 'pkg', 'wasm', 'glimpse_bg.wasm')),
  ...Object.fromEntries(readdirSync(join(repo, 'pkg', 'wasm-cpu')).filter((f) => f.endsWith('.wasm')).sort().reverse()
    .map((f) => [`Glimpse wasm (CPU only, ${CPU_WASM[f] ?? f})`, size(join(repo, 'pkg', 'wasm-cpu', f))])),
  'onnxruntime-web wasm (the wasm backend, any numThreads)': size(join(nm, 'onnxruntime-web', 'dist', 'ort-wasm-simd-threaded.wasm')),
  'onnxruntime-web wasm (jsep: the webgpu backend)': size(join(nm, 'onnxruntime-web', 'dist', 'ort-wasm-simd-threaded.jsep.wasm')),
  'TF.js JS (tf.min.js: core, layers, converter, cpu + webgl backends)': size(join(nm, '@tensorflow', 'tfjs', 'dist', 'tf.min.js')),
  'TF.js wasm backend JS + wasm (SIMD: plain pages)': sum(size(tfWasm('tf-backend-wasm.min.js')), size(tfWasm('tfjs-backend-wasm-simd.wasm'))),
  'TF.js wasm backend JS + wasm (threaded SIMD: isolated pages)': sum(size(tfWasm('tf-backend-wasm.min.js')), size(tfWasm('tfjs-backend-wasm-threaded-simd.wasm'))),
  'TF.js webgpu backend JS': size(join(nm, '@tensorflow', 'tfjs-backend-webgpu', 'dist', 'tf-backend-webgpu.min.js')),
  // Every weights file the zoo folder holds (a float16 one beside the float32 one, when made).
  ...Object.fromEntries(readdirSync(net).filter((f) => f.endsWith('.weights.h5')).sort()
    .map((f) => [`model: Keras ${f} (Glimpse${/f16/.test(f) ? ', float16' : ''})`, { raw: statSync(join(net, f)).size }])),
  'model: ONNX (onnxruntime-web)': { raw: statSync(onnx).size },
  'model: TF.js layers model.json + shards': { raw: dirBytes(tfjsDir) },
  'model: TF.js layers model, float16-quantized weights (what the TF.js rows load)': { raw: dirBytes(tfjsHalfDir) },
};

const get = (o, path) => path.split('.').reduce((v, k) => (v == null ? v : v[k]), o);
const mib = (b) => `${(b / 2 ** 20).toFixed(1)} MiB`;
// One table per group: each column either a value with its ratio to the best of the rows given
// (the CPU group: every engine in both page modes), or text.
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
    md += `| ${label(r)} | ${cells.join(' | ')} |\n`;
  }
  return md + '\n';
}
// A workload's cell when it did not run: its error or "n/a (why)".
const missing = (w) => (w == null ? 'not run' : w.error ? `error: ${w.error}` : w.na ?? w.head ?? '');
function sectioned(key, title, cols, note, gpuNote = '', extra = '') {
  if (!ok.some((r) => r[key ?? 'top1'] !== undefined)) return '';
  let md = `## ${title}\n\n`;
  for (const [name, gpu] of [['CPU', false], ['GPU (WebGL, WebGPU)', true]]) {
    const rows = ok.filter((r) => isGpu(r.engine) === gpu && r[key ?? 'top1'] !== undefined);
    const good = key === null ? rows : rows.filter((r) => r[key] && !r[key].error && !r[key].na);
    const bad = key === null ? [] : rows.filter((r) => !good.includes(r));
    let t = table(name, good, cols, gpu ? gpuNote : '');
    if (bad.length) {
      if (!t) t = `### ${name}\n\n`;
      t += bad.map((r) => `- ${label(r)}: ${missing(r[key])}`).join('\n') + '\n\n';
    }
    md += t;
  }
  return md + (note ? note + '\n\n' : '') + extra;
}

const ok = results.filter((r) => !r.error);
const sz = SIZES.cpu;
const gz = SIZES.gpu;
const cpuRows = results.filter((r) => !isGpu(r.engine));
const gpuRows = ok.filter((r) => isGpu(r.engine));
const modesRun = [...new Set(cpuRows.map((r) => r.mode ?? 'plain'))];
const cores = ok.find((r) => r.hardwareConcurrency)?.hardwareConcurrency;
// What each CPU engine says it runs, per page mode (from the rows, not from what was asked).
const threadsSaid = [...new Set(ok.filter((r) => !isGpu(r.engine) && r.threads != null).map((r) => r.engine))]
  .map((e) => `${e} ${ok.filter((r) => r.engine === e && r.threads != null).map((r) => `${r.threads} (${r.mode ?? 'plain'})`).join(', ')}`)
  .join('; ');
const software = gpuRows.some((r) => /swiftshader/i.test(r.info ?? ''));
let md = `# Browser benchmark: one Chromium session, a fresh page per engine\n\n`;
md += `Chromium ${chromiumVersion} headless${chromiumArgs.length ? ` (with ${chromiumArgs.join(' ')})` : ''}; EfficientNet-Lite0 with the same weights in every engine, each downloading its smallest form that computes in float32 (Glimpse: its default model.f16.weights.h5, float16 kernels expanded at load; TF.js: the layers model from bench/tfjs_export.py --float16, TF.js' float16 weight quantization, the same kernels in float16; onnxruntime-web: the float32 ONNX from bench/onnx_export.py, as a float16 ONNX would compute in float16 on its wasm backend, where it has few kernels). `;
md += `Numbers in parentheses are ratios to the best row of the same group in that column (CPU: every engine in every page mode, in one table; GPU): 1.00 is the best. `;
if (modesRun.length > 1) {
  md += `Every CPU engine runs on two kinds of page: served plainly, not cross-origin isolated (no SharedArrayBuffer, so every wasm engine runs one thread), and served cross-origin isolated (COOP same-origin + COEP require-corp; the rows marked "· isolated"); each page reports crossOriginIsolated and a row whose page was not what its server made it fails. `;
} else if (modesRun.length) {
  md += `The CPU engines ran on ${modesRun[0] === 'isolated' ? 'cross-origin-isolated pages only (COOP same-origin + COEP require-corp; rows "· isolated")' : 'plain pages only (not cross-origin isolated: no SharedArrayBuffer, so every wasm engine runs one thread)'} (--modes ${modesRun[0]}). `;
}
if (cpuRows.length) md += `Each engine takes its best configuration for the page, and its row says the threads it reports running: onnxruntime-web's wasm backend with numThreads 1 (ort-wasm) and numThreads = navigator.hardwareConcurrency (ort-wasm-threads${cores ? `; ${cores} here` : ''}), as ort.env.wasm.numThreads reads once its session is made (onnxruntime-web falls back to 1 thread on a page that is not isolated); TF.js' wasm backend with its SIMD binary on plain pages and its threaded SIMD binary after setThreadsCount(hardwareConcurrency) on isolated ones, as tf.wasm.getThreadsCount() reports (TF.js may run fewer than asked); Glimpse through its main API on the page's thread (glimpse-cpu), the same workloads through the package's Web Worker client (glimpse-cpu-worker: createWorker(), every call a message to the worker; the threads its ready() reports, 1 where it names none) and, in the transfer table only, features() spread over helper Web Workers (glimpse-cpu-workers: one per core, at most 4). `;
if (threadsSaid) md += `Threads reported: ${threadsSaid}. `;
if (gpuRows.length) {
  md += software
    ? `WebGL and WebGPU are SwiftShader (CPU emulation) on this machine: the GPU group runs on plain pages with smaller workloads (noted per table) and says nothing about real GPUs. `
    : `The GPU group ran on plain pages on ${[...new Set(gpuRows.map((r) => r.info))].join('; ')}${realGpu ? ", with the CPU group's workload sizes" : ''}. `;
}
md += `The machine's load while each row's pages ran is in the Machine load table: rows where other processes took more than ${pct(maxOthers)} of the cores are marked ⚠ busy.\n\n`;
const phases = ok.filter((r) => r.phases);
const phaseMs = (k) => ({ name: k[0], text: (r) => String(r.phases[k[1]] ?? '') });
md += sectioned(null, 'Inference (EfficientNet-Lite0, 224x224)', [
  { name: 'top-1 (golden cat: 282)', text: (r) => String(r.top1) },
  { name: 'max abs diff of probabilities vs Glimpse CPU', text: (r) => (isReference(r) ? 'reference' : r.maxAbsDiffVsGlimpseCpu == null ? '' : r.maxAbsDiffVsGlimpseCpu.toExponential(1)) },
  { name: 'first prediction ms', key: 'firstPredictionMs', lower: true },
  { name: 'downloaded MB (to first prediction)', key: 'downloadedBytes', lower: true, fmt: (v) => (v / 1e6).toFixed(1) },
  { name: 'p50 ms', key: 'p50Ms', lower: true },
  { name: 'p95 ms', text: (r) => String(r.p95Ms) },
  { name: 'batch img/s', key: 'batchImgPerS' },
], `First prediction: from navigation start (script and model download, compile, warm-up, one prediction); ${realGpu ? 'every engine' : 'CPU engines'}: the median of ${saved?.coldRuns ?? coldRuns('cpu')} fresh pages (each a new browser context: empty HTTP and code caches; all times in bench.json). Downloaded: the bytes the server sent that page until its first prediction, the median page's: as static hosts send them, every engine's wasm, JS and JSON gzipped, weights files (.h5, .bin, .onnx) as they are (the Download sizes table has each file raw and gzipped). p50/p95: ${sz.iters} single predictions per row after ${sz.warmUpMs / 1000} s of warm-up, the CPU rows interleaved (rounds of ${LATENCY_ROUND} on each in turn, each row warm in its own page); batch throughput over ${sz.batchRuns} batches of ${sz.batch}.`,
`GPU group: ${gz.iters} single predictions, ${gz.batchRuns === 1 ? 'one batch' : `${gz.batchRuns} batches`} of ${gz.batch}.`,
phases.length
  ? table('First prediction by phase: Glimpse (ms)', phases, [
    ['page (HTML, bench script)', 'pageMs'], ['engine: ready() (fetch, compile, instantiate)', 'engineMs'],
    ['model: loadPretrained() (weights download, parse)', 'modelMs'], ['warm-up', 'warmUpMs'],
    ['input (photo decode, tensor)', 'inputMs'], ['first predict', 'predictMs'], ['total', 'totalMs'],
  ].map(phaseMs), `The median page's phases, which add up to its first prediction: the page until the engine starts loading, ready() (for the Web Worker row: the worker's start too), loadPretrained() without warm-up, the warm-up (WebGPU: one prediction on zeros that compiles its kernels; none on the CPU), the golden photo's fetch and decode and its input tensor, the prediction.`)
  : '');
md += sectioned('memory', `Memory after ${sz.memRuns} single predictions (CPU engines)`, [
  { name: 'peak JS heap', key: 'memory.jsHeapPeakBytes', lower: true, fmt: mib, na: (r) => r.memory.jsHeap },
  { name: 'JS heap after the loop', key: 'memory.jsHeapBytes', lower: true, fmt: mib, na: (r) => r.memory.jsHeap },
  { name: 'JS heap kept (after a collection)', key: 'memory.jsHeapRetainedBytes', lower: true, fmt: mib, na: (r) => r.memory.jsHeap },
  { name: 'wasm memory', key: 'memory.wasmMemoryBytes', lower: true, fmt: mib, na: (r) => r.memory.wasmMemory },
  { name: 'wasm growth over the loop', text: (r) => (r.memory.wasmMemoryGrowth == null ? '' : `${r.memory.wasmMemoryGrowth.toLocaleString('en')} B`) },
  { name: 'TF.js tensors', text: (r) => (r.memory.tensorBytes == null ? '' : `${r.memory.tensors} tensors, ${mib(r.memory.tensorBytes)}`) },
], 'Peak JS heap: the largest performance.memory.usedJSHeapSize seen after each prediction (--enable-precise-memory-info), after one forced garbage collection before the loop (--js-flags=--expose-gc). V8 releases large ArrayBuffers lazily, so the peak still counts buffers that are already garbage (the weights download, the 19 MB batch input of the throughput run) until later predictions let them go; the heap after the loop is the steady state, garbage included; the heap kept is what is left after one more forced collection (the engine\'s code and objects, much of it V8\'s per-function tables of the wasm module: Glimpse\'s CPU pages load its CPU-only engine, 10,251 functions, against 74,545 for the build with the WebGPU backend). The Web Worker row\'s engine lives in its worker, whose heap performance.memory does not see: n/a there; its wasm memory is the worker engine\'s (memoryBytes()). Wasm memory: the engine\'s WebAssembly.Memory (grows, never shrinks; threaded builds share one memory among their threads); onnxruntime-web keeps its instance private, so n/a. TF.js webgl/webgpu keep tensors on the GPU and are not in this loop.');
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
], `${sz.transferN} distinct 224x224 photos made in the page from the 7 fixture photos (random crops of 60-100%, flips), 7 classes; features: the network up to avg_pool (1280 values), batches of ${sz.featureBatch}, input tensors and the cut model (or ORT session) made before timing, first batch timed; head: Dense(7, softmax), Adam (lr 0.001), batch 32. onnxruntime-web extracts features from an ONNX file cut at avg_pool (onnx_export.py --features) and has no training. The Web Worker row sends each batch to its worker and gets the features back. The helper-workers row: features(images, { workers }) on ImageData made from the same tensors before timing and taken as they are (no crop or resize); the helpers' start (an engine instance from the compiled module, a copy of the model) is inside the time.`,
`GPU group: ${gz.transferN} photos in batches of ${gz.featureBatch} (same head training on their features).`);
for (const r of results.filter((r) => r.error)) md += `- ${label(r)} failed: ${r.error.split('\n')[0]}\n`;
// The load: per row over its own pages (the first page with every workload, the cold pages).
const loaded = results.filter((r) => r.load);
if (loaded.length || latencyLoad) {
  const row = (name, l, pages) => `| ${name} | ${pages} | ${l.wallS} | ${l.browserCores.toFixed(2)} | ${pct(l.othersShare)}${busy(l) ? ' ⚠ busy' : ''} |\n`;
  md += `\n## Machine load while the pages ran\n\n`;
  md += `While each row's pages ran (its page with every workload, then its cold first-prediction pages; each from its opening to its result), the bench read /proc: the busy time of all ${loaded[0]?.load.cores ?? latencyLoad?.cores} cores (/proc/stat) and the CPU time (utime + stime) of Chromium's processes (this script's descendants: browser, renderers, GPU and utility processes, sampled each second) and of this script. Browser CPU per wall second: Chromium's CPU time over the wall time, in cores. Others' share: the busy time neither Chromium's nor this script's, over cores x wall time. Rows where others took more than ${pct(maxOthers)} are marked ⚠ busy: their numbers are not from a quiet machine (--strict-load makes such a run fail).\n\n`;
  md += `| engine | pages | wall s | browser CPU per wall second (cores) | others' share of the cores |\n|---|---|---|---|---|\n`;
  for (const r of loaded) md += row(label(r), r.load, r.load.windows);
  if (latencyLoad) md += row('interleaved latency rounds (every CPU row\'s page warm, one predicting at a time)', latencyLoad, 'all CPU rows');
  const flagged = loaded.filter((r) => busy(r.load)).length + (busy(latencyLoad) ? 1 : 0);
  if (flagged) md += `\n⚠ ${flagged} of ${loaded.length + (latencyLoad ? 1 : 0)} measurements ran on a busy machine.\n`;
}
md += `\n## Download sizes\n\n| file | bytes | gzip |\n|---|---|---|\n`;
for (const [k, v] of Object.entries(sizes)) md += `| ${k} | ${v.raw.toLocaleString('en')} | ${v.gzip ? v.gzip.toLocaleString('en') : ''} |\n`;
if (native) md += `\n${native.md}`;
writeFileSync(join(out, 'bench.md'), md);
writeFileSync(join(out, 'bench.json'), JSON.stringify({
  chromiumVersion, chromiumArgs, sizes: SIZES, coldRuns: saved?.coldRuns ?? coldRuns('cpu'), modes, maxOthers, realGpu,
  latencyLoad, results, downloads: sizes, native,
}, null, 2));
console.log('\n' + md);
const busyRows = results.filter((r) => busy(r.load)).map((r) => label(r, false));
if (busyRows.length || busy(latencyLoad)) console.warn(`⚠ busy machine (others over ${pct(maxOthers)} of the cores): ${[...busyRows, ...(busy(latencyLoad) ? ['the interleaved latency rounds'] : [])].join('; ')}`);
