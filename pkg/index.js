// @ts-check
// Glimpse: Keras models in the browser, on WebGPU or the CPU (WebAssembly).
// This module is the package's main entry; `glimpse-ml/worker` runs the same API in a Web
// Worker (see client.js). Every failure is a real `Error` with Glimpse's message.

import { GlimpseWorker } from './client.js';

// The public types are pkg/index.d.ts's (tsconfig.check.json maps 'glimpse-ml' to it).
/** @typedef {import('glimpse-ml').ReadyOptions} ReadyOptions
 *
 * @typedef {import('glimpse-ml').Preprocessing} Preprocessing
 */
/** @typedef {import('glimpse-ml').FeaturesOptions} FeaturesOptions */
/** @typedef {import('glimpse-ml').ImageInput} ImageInput */

// Two builds of the engine: wasm/ has the WebGPU and CPU backends; wasm-cpu/ only the CPU
// backend, about a quarter of the download, so pages that run on the CPU fetch, compile and
// keep much less. ready() picks one; see loadEngine. The CPU-only engine comes as two modules
// with one glue: `relaxed` uses relaxed SIMD's fused multiply-add in its matrix product (about
// 10-15% faster predictions in Chromium), for browsers that validate it; `wasm` for the rest.
//
// Every file is named by a literal `import('./…')` or `new URL('./…', import.meta.url)`: that is
// the form bundlers (Vite, webpack 5, Rollup, esbuild, Parcel) recognise, so they copy the files
// and rewrite the URLs with no configuration. `glueUrl` (the glue as a plain file) serves a
// restart after a crash, which needs a fresh instance of the glue module.
const ENGINES = {
  full: {
    glue: () => import('./wasm/glimpse.js'),
    glueUrl: () => new URL('./wasm/glimpse.js', import.meta.url),
    wasm: () => new URL('./wasm/glimpse_bg.wasm', import.meta.url),
  },
  cpu: {
    glue: () => import('./wasm-cpu/glimpse.js'),
    glueUrl: () => new URL('./wasm-cpu/glimpse.js', import.meta.url),
    wasm: () => new URL('./wasm-cpu/glimpse_bg.wasm', import.meta.url),
    relaxed: () => new URL('./wasm-cpu/glimpse_relaxed_bg.wasm', import.meta.url),
  },
  // The CPU engine with threads (wasm atomics, shared memory): a pool of Web Workers
  // (thread.js) that each instantiate this module on its memory splits every large product
  // and depthwise convolution. Only for cross-origin-isolated pages (SharedArrayBuffer) and only
  // inside a worker (the engine's thread waits on the pool, which a page's main thread may not).
  threads: {
    glue: () => import('./wasm-threads/glimpse.js'),
    glueUrl: () => new URL('./wasm-threads/glimpse.js', import.meta.url),
    wasm: () => new URL('./wasm-threads/glimpse_bg.wasm', import.meta.url),
    relaxed: () => new URL('./wasm-threads/glimpse_relaxed_bg.wasm', import.meta.url),
    thread: () => new Worker(new URL('./thread.js', import.meta.url), { type: 'module' }),
  },
};

// The smallest module that uses relaxed SIMD: one function returning
// f32x4.relaxed_madd(v128.const 0, v128.const 0, v128.const 0).
const RELAXED_SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 61, 1, 59, 0,
  ...[0, 1, 2].flatMap(() => [253, 12, ...new Array(16).fill(0)]),
  253, 133, 2, 11,
]);

// The files each engine was loaded from (its glue and its .wasm), as absolute URLs.
const files = {};

/**
 * The files the engine in use was loaded from (its glue and its .wasm; absolute URLs), for
 * example to keep them for offline use; empty before ready(). A .wasm given to ready() as a
 * compiled module is not listed.
 */
export function engineFiles() {
  return engineKind ? [...(files[engineKind] ?? [])] : [];
}

/** Whether this browser's WebAssembly has relaxed SIMD (then the faster CPU module loads). */
export function hasRelaxedSimd() {
  try {
    return WebAssembly.validate(RELAXED_SIMD_PROBE);
  } catch {
    return false;
  }
}

// The engine in use: its glue module's exports (the API below calls them) and its kind.
let wasm = null;
let engineKind = null;
let exportsOfWasm = null;
const loadingEngines = {};
let readyInfo = null;
// What the last ready() asked for: an engine that starts afresh after a crash gets the same.
let lastReady = {};
// The engine's compiled WebAssembly.Module (helper workers instantiate it too).
let engineModule = null;

/** Default ImageNet-style preprocessing for models without their own: resize to the input. */
const GENERIC_PREPROCESSING = { crop_fraction: 1, resize: 'nearest', scale: 1 / 255, offset: 0, square: false };

/** Teachable Machine's image models: the central square, resized, values in [-1, 1]. */
export const TEACHABLE_MACHINE_PREPROCESSING = Object.freeze({
  crop_fraction: 1, square: true, resize: 'bicubic', scale: 1 / 127.5, offset: -1,
});

function error(message, cause) {
  const e = new Error(message);
  if (cause !== undefined) e.cause = cause;
  return e;
}

// An engine instance's life. A trap (a Rust panic, memory running out) stops a WebAssembly
// instance for good: its memory may be half-updated. The engine reports a panic's message
// through setPanicHandler just before it traps; every call in flight on it is then rejected
// with that message (a trap inside a promise's task would otherwise leave the promise pending
// forever), models made on it refuse further calls, and the next call that needs an engine
// instantiates a fresh one from the same compiled module.
let engineState = null;
const restarts = {};
const compiled = {};

function newEngineState(kind) {
  let fail;
  const crashed = new Promise((_, reject) => {
    fail = reject;
  });
  crashed.catch(() => {});
  return { kind, dead: null, crashed, fail, live: true };
}

function engineCrashed(state, message) {
  if (!state || state.dead) return state?.dead;
  state.dead = error(
    `the Glimpse engine stopped on an internal error (${message}); it starts afresh on the next ` +
    'call, and models loaded before must be loaded again',
  );
  state.fail(state.dead);
  for (const w of state.pool?.workers ?? []) w.terminate();
  delete loadingEngines[state.kind];
  restarts[state.kind] = (restarts[state.kind] ?? 0) + 1;
  if (engineState === state) {
    engineState = null;
    wasm = null;
    engineKind = null;
    exportsOfWasm = null;
    readyInfo = null;
  }
  return state.dead;
}

// A trap that escaped a promise's task (no panic hook ran: memory ran out) reaches the page as
// an uncaught error: it stops the engine all the same.
if (typeof globalThis.addEventListener === 'function') {
  globalThis.addEventListener('error', (ev) => {
    if (ev.error instanceof WebAssembly.RuntimeError && engineState) {
      engineCrashed(engineState, ev.error.message);
    }
  });
}

// wasm-bindgen raises JsError values (real Errors); keep them, wrap anything else. A trap
// (WebAssembly.RuntimeError) stops the engine `state` (default: the current one).
function asError(e, state = engineState) {
  if (e instanceof WebAssembly.RuntimeError) return engineCrashed(state, e.message) ?? e;
  return e instanceof Error ? e : error(String(e));
}

// Awaits an engine promise, rejected as soon as the engine stops.
async function onEngine(state, promise) {
  try {
    return await (state ? Promise.race([promise, state.crashed]) : promise);
  } catch (e) {
    throw asError(e, state);
  }
}

// Loads (once) and instantiates the engine `kind` ('full', 'cpu' or 'threads'). `over` overrides
// where its files are: `wasm` (a URL of its .wasm file, or the compiled module itself) and `glue`
// (a URL of its glimpse.js); for 'threads', `threads` is the pool's size. The compiled module is kept: helper workers (features({ workers })) instantiate
// the same one, with its optimised code, instead of compiling their own.
function loadEngine(kind, over = {}, onProgress) {
  if (!loadingEngines[kind]) {
    const paths = ENGINES[kind];
    const source = over.wasm ?? compiled[kind] ??
      (paths.relaxed && hasRelaxedSimd() ? paths.relaxed() : paths.wasm());
    loadingEngines[kind] = importGlue(kind, over.glue).then(async (mod) => {
      const module = source instanceof WebAssembly.Module ? source : await compileEngine(source, onProgress);
      compiled[kind] = module;
      const base = typeof location !== 'undefined' ? location.href : import.meta.url;
      // (A module given compiled keeps the file it was compiled from, when known.)
      const wasmFile = source instanceof WebAssembly.Module ? files[kind]?.[1] : new URL(String(source), base).href;
      files[kind] = [new URL(String(over.glue ?? ENGINES[kind].glueUrl()), base).href, wasmFile].filter(Boolean);
      if (kind === 'threads') files[kind].push(new URL('./thread.js', import.meta.url).href);
      const exports = await mod.default({ module_or_path: module });
      const state = newEngineState(kind);
      // The pool starts in the background (its workers take a few hundred ms): calls run on
      // this thread alone until it is up, or for good if it fails.
      if (kind === 'threads') {
        state.pool = { workers: [], threads: over.threads };
        state.poolStarted = startPool(mod, module, exports.memory, over.threads, state).catch((e) => {
          state.pool.threads = 1;
          state.pool.reason = `the threaded engine's workers failed to start: ${e.message}`;
          if (engineState === state && readyInfo) {
            readyInfo = { ...readyInfo, threads: 1, threadsReason: state.pool.reason };
          }
        });
      }
      mod.setPanicHandler?.((message) => {
        engineCrashed(state, message);
      });
      if (limitsAsked) mod.setLimits(limitsAsked);
      return { mod, exports, module, state };
    });
    loadingEngines[kind].catch(() => {
      delete loadingEngines[kind];
    });
  }
  return loadingEngines[kind];
}

// Whether this context can run the threaded engine: shared memory (a cross-origin-isolated page)
// and a worker's thread, which may wait on the pool (a page's main thread may not block), with
// Workers to start the pool from. Else a reason why not.
function threadsUnavailable() {
  if (!globalThis.crossOriginIsolated) return 'page not cross-origin isolated';
  // (WebKitGTK isolates pages but does not enable SharedArrayBuffer.)
  if (typeof SharedArrayBuffer !== 'function') return 'this browser has no SharedArrayBuffer';
  if (typeof WorkerGlobalScope === 'undefined' || !(globalThis instanceof WorkerGlobalScope)) {
    return 'not in a Web Worker (the page\'s main thread may not wait on threads)';
  }
  if (typeof Worker !== 'function') return 'no Web Workers in this worker';
  return null;
}

// The threads a pool gets by default: one per core, at most 8, and at most 2 on devices that say
// they have 2 GB of memory or less (each pool worker holds an instance and its stack).
function defaultThreads() {
  const cores = (typeof navigator !== 'undefined' && navigator.hardwareConcurrency) || 1;
  const memory = typeof navigator !== 'undefined' ? navigator.deviceMemory : undefined;
  return Math.max(1, Math.min(cores, 8, memory !== undefined && memory <= 2 ? 2 : 8));
}

// How long a pool worker may take to start (download the glue, instantiate) before the
// one-thread engine is used instead.
const POOL_START_MS = 20000;

// Starts the threaded engine's pool for `count` threads: `count` - 1 workers (thread.js) on
// `memory`, the engine's own thread being the last (src/wasm/threads.rs), kept in
// `state.pool.workers`. Rejects (the workers gone) when one fails or does not start in time.
async function startPool(mod, module, memory, count, state) {
  const workers = state.pool.workers;
  try {
    await Promise.all(Array.from({ length: count - 1 }, () => /** @type {Promise<void>} */ (new Promise((resolve, reject) => {
      const w = ENGINES.threads.thread();
      workers.push(w);
      const timer = setTimeout(() => reject(error(`a thread did not start in ${POOL_START_MS / 1000} s`)), POOL_START_MS);
      w.onmessage = ({ data }) => {
        clearTimeout(timer);
        if (data?.type === 'glimpse-thread-ready') resolve();
        else reject(error(`a thread failed to start: ${data?.message ?? 'unknown error'}`));
      };
      w.onerror = (ev) => {
        clearTimeout(timer);
        ev.preventDefault?.();
        reject(error(`a thread failed to start: ${ev.message ?? 'unknown error'}`));
      };
      w.postMessage({ type: 'glimpse-thread', module, memory, stopped: mod.poolStoppedFlag() });
    }))));
    if (state.dead) throw error('the engine stopped');
    mod.startThreads(workers.length);
  } catch (e) {
    for (const w of workers) w.terminate();
    workers.length = 0;
    throw e;
  }
}

// The engine's glue module. After a crash it is imported afresh from its file (its state belongs
// to the stopped instance, and its finalizers still free that instance's objects).
function importGlue(kind, url) {
  const n = restarts[kind];
  if (!url && !n) return ENGINES[kind].glue();
  const href = String(url ?? ENGINES[kind].glueUrl());
  const specifier = n ? `${href}${href.includes('?') ? '&' : '?'}restart=${n}` : href;
  return import(/* @vite-ignore */ /* webpackIgnore: true */ specifier);
}

// Fetches and compiles the engine's .wasm while it streams; onProgress({ phase: 'engine', loaded,
// total }) as its bytes arrive (total 0 when the server does not say, or sends it compressed).
async function compileEngine(url, onProgress) {
  let response = await fetchOk(url, 'the Glimpse engine');
  if (onProgress && response.body && typeof TransformStream === 'function') {
    const length = Number(response.headers.get('Content-Length')) || 0;
    const total = response.headers.get('Content-Encoding') ? 0 : length;
    let loaded = 0;
    onProgress({ phase: 'engine', loaded, total });
    const counted = response.body.pipeThrough(new TransformStream({
      transform(chunk, out) {
        loaded += chunk.byteLength;
        onProgress({ phase: 'engine', loaded, total: total >= loaded ? total : 0 });
        out.enqueue(chunk);
      },
    }));
    response = new Response(counted, { headers: response.headers });
  }
  if (typeof WebAssembly.compileStreaming === 'function' &&
      response.headers.get('Content-Type')?.startsWith('application/wasm')) {
    return WebAssembly.compileStreaming(response);
  }
  return WebAssembly.compile(await response.arrayBuffer());
}

// The browser's WebGPU adapter, or null.
async function browserAdapter() {
  try {
    return (typeof navigator !== 'undefined' && (await navigator.gpu?.requestAdapter())) || null;
  } catch {
    return null;
  }
}

// A fallback adapter such as SwiftShader renders on the CPU: Lite0 takes ~2 s a photo there
// against ~30 ms in the CPU engine.
function isSoftware(adapter) {
  return Boolean(adapter.info?.isFallbackAdapter || adapter.isFallbackAdapter);
}

/**
 * Loads the engine and chooses the backend: 'auto' (WebGPU when the browser has a hardware
 * adapter, else the CPU: a software fallback adapter is far slower than the CPU engine),
 * 'webgpu' (any adapter) or 'cpu'. Resolves to { backend, adapter }, plus `reason` when 'auto'
 * chose the CPU: 'no WebGPU adapter' or 'software WebGPU adapter'.
 *
 * On the CPU it loads the CPU-only build of the engine (wasm-cpu/: glimpse_relaxed_bg.wasm where
 * the browser has relaxed SIMD, see hasRelaxedSimd(), else glimpse_bg.wasm), unless the full build
 * is already loaded or `wasmUrl` (the full build's .wasm) is given without `cpuWasmUrl`. Models
 * made before a later ready() switched engines keep working on theirs. `onProgress({ phase:
 * 'engine', loaded, total })` follows the engine's download (the call that loads it).
 *
 * `threads` ('auto', false, or a number): in a Web Worker of a cross-origin-isolated page the CPU
 * runs on the threaded engine (wasm-threads/), which shares out each prediction's large products
 * and convolutions over `threads` threads (default: one per core, at most 8): this one and
 * `threads` - 1 pool workers, started in the background (until they are up, calls run on this
 * thread alone). Its results are the same, bit for bit. The result's `threads` says how many it
 * uses (1 on the one-thread engine) and `threadsReason` why not more (for example 'page not
 * cross-origin isolated'); see also poolReady().
 *
 * @param {ReadyOptions} [options]
 */
export function ready(options = {}) {
  const pending = startEngine(options);
  readyPending = pending;
  const clear = () => {
    if (readyPending === pending) readyPending = null;
  };
  pending.then(clear, clear);
  return pending;
}

// A ready() under way: calls made meanwhile (loadPretrained's downloads start at once, then wait
// for it) use the engine it brings instead of starting one of their own.
let readyPending = null;

/** @param {ReadyOptions} [options] */
async function startEngine({ backend = 'auto', wasmUrl, cpuWasmUrl, glueUrl, cpuGlueUrl, threads = 'auto', onProgress } = {}) {
  if (!['auto', 'webgpu', 'cpu'].includes(backend)) {
    throw error(`ready(): unknown backend '${backend}'; expected 'auto', 'webgpu' or 'cpu'`);
  }
  if (threads !== 'auto' && threads !== false && !(Number.isInteger(threads) && threads >= 1 && threads <= 64)) {
    throw error(`ready(): threads must be 'auto', false or a whole number from 1 to 64, found ${shown(threads)}`);
  }
  const onlyFull = (wasmUrl !== undefined || glueUrl !== undefined) &&
    cpuWasmUrl === undefined && cpuGlueUrl === undefined;
  const adapter = backend === 'auto' ? await browserAdapter() : null;
  const autoCpu = backend === 'auto' && (!adapter || isSoftware(adapter));
  let kind = 'full';
  if (engineKind !== 'full' && !onlyFull && (backend === 'cpu' || autoCpu)) kind = 'cpu';
  // The CPU with threads where this context allows them (an engine in use keeps its kind).
  let threadsReason = null;
  let engine = null;
  if (kind === 'cpu') {
    const count = threads === 'auto' ? defaultThreads() : threads === false ? 1 : threads;
    threadsReason = engineKind === 'cpu' ? 'the one-thread engine is already in use'
      : count < 2 ? (threads === 'auto' ? 'one core' : 'one thread asked for')
      : cpuWasmUrl !== undefined || cpuGlueUrl !== undefined ? 'cpuWasmUrl or cpuGlueUrl given'
      : threadsUnavailable();
    if (!threadsReason) {
      try {
        engine = await loadEngine('threads', { threads: count }, onProgress);
        kind = 'threads';
      } catch (e) {
        threadsReason = `the threaded engine failed to start: ${asError(e).message}`;
      }
    }
  }
  engine ??= await loadEngine(
    kind,
    kind === 'cpu' ? { wasm: cpuWasmUrl, glue: cpuGlueUrl } : { wasm: wasmUrl, glue: glueUrl },
    onProgress,
  );
  // 'auto' on an engine that has chosen already keeps its choice.
  let info = await onEngine(
    engine.state,
    engine.mod.initBackend(autoCpu && !engine.chosen ? 'cpu' : backend),
  );
  engine.chosen = true;
  if (autoCpu && info.backend === 'cpu') {
    info = { ...info, reason: adapter ? 'software WebGPU adapter' : 'no WebGPU adapter' };
  }
  if (info.backend === 'cpu') {
    info = { ...info, threads: engine.state.pool?.threads ?? 1 };
    threadsReason ??= engine.state.pool?.reason ?? null;
    if (threadsReason) info.threadsReason = threadsReason;
  }
  wasm = engine.mod;
  engineState = engine.state;
  engineKind = kind;
  engineModule = engine.module;
  exportsOfWasm = engine.exports;
  if (info.backend === 'webgpu') {
    info = { ...info, adapter: describeAdapter(adapter ?? (await browserAdapter()), info.adapter) };
  }
  readyInfo = info;
  lastReady = { backend, wasmUrl, cpuWasmUrl, glueUrl, cpuGlueUrl, threads };
  return { ...readyInfo };
}

// The browser's own description of its WebGPU adapter (wgpu's is often empty on the web).
function describeAdapter(a, fallback) {
  const i = a?.info;
  const text = [i?.vendor, i?.architecture, i?.device, i?.description].filter(Boolean).join(' ');
  return text ? `${text} (WebGPU)` : fallback;
}

async function ensureReady() {
  // (A ready() under way that fails fails this call too, rather than another engine starting.)
  if (readyPending) await readyPending;
  if (!readyInfo) await ready(lastReady);
  return readyInfo;
}

// The budgets asked for with setLimits(), given again to an engine that starts afresh.
let limitsAsked = null;

/**
 * Raises or lowers the sizes Glimpse refuses before allocating (numbers of float32 values):
 * { maxParams, maxActivation (one layer output, one sample), maxBatchActivation }. A model over
 * them is refused with an Error naming the layer, the size and the limit. Resolves to the
 * budgets in force.
 */
export async function setLimits(limits = {}) {
  await ensureReady();
  if (!limits || typeof limits !== 'object') throw error('setLimits(): expected an object');
  let result;
  try {
    result = wasm.setLimits(limits);
  } catch (e) {
    throw asError(e);
  }
  limitsAsked = { ...(limitsAsked ?? {}), ...limits };
  return result;
}

/**
 * Resolves once the threaded engine's pool workers have started (at once on any other engine):
 * to the threads calls now use (1 where the workers failed, backendInfo().threadsReason says why).
 */
export async function poolReady() {
  await ensureReady();
  await engineState?.poolStarted;
  return engineState?.pool?.threads ?? 1;
}

/** The backend in use, or null before ready(). */
export function backendInfo() {
  return readyInfo ? { ...readyInfo } : null;
}

/** Bytes of the engine's WebAssembly memory (grows, never shrinks; for leak checks). */
export function memoryBytes() {
  return exportsOfWasm ? exportsOfWasm.memory.buffer.byteLength : 0;
}

async function toBytes(value, what) {
  if (value instanceof Uint8Array) return value;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) {
    return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  }
  if (typeof Blob !== 'undefined' && value instanceof Blob) {
    return new Uint8Array(await value.arrayBuffer());
  }
  if (typeof Response !== 'undefined' && value instanceof Response) {
    return new Uint8Array(await value.arrayBuffer());
  }
  throw error(
    `${what}: expected the file's bytes (Uint8Array, ArrayBuffer or Blob), found ${describe(value)}`,
  );
}

// A value as an error message shows it: itself for a short string or number, else its kind.
function shown(value) {
  return (typeof value === 'string' && value.length <= 40) || typeof value === 'number' ? JSON.stringify(value) : describe(value);
}

function describe(value) {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (typeof value === 'object') return value.constructor?.name ?? 'an object';
  return typeof value;
}

async function fetchOk(url, what) {
  let response;
  try {
    response = await fetch(url);
  } catch (e) {
    throw error(`cannot download ${what} from ${url}: ${e.message ?? e}`, e);
  }
  if (!response.ok) {
    throw error(`cannot download ${what} from ${url}: HTTP ${response.status}`);
  }
  return response;
}

const SOURCES =
  'expected { structure, weights }, { keras }, { tfjs: { modelJson, weights } }, { url } or { files }';

/** Labels from a labels.txt: one per line; Teachable Machine's `0 Class 1` numbering dropped. */
export function parseLabels(text) {
  const lines = String(text).split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  const numbered = lines.length > 0 && lines.every((l, i) => l.startsWith(`${i} `));
  return numbered ? lines.map((l, i) => l.slice(String(i).length + 1).trim()) : lines;
}

/** A model source from the files a person chose (a file input, a drop): a .keras; a full-model
 * .h5 (+ labels.txt); a structure .json + its .h5 weights; a TF.js model.json + its weight
 * files (+ Teachable Machine's metadata.json); or a .zip of any of these (Teachable Machine's
 * downloads). */
async function filesSource(files) {
  let list = [];
  for (const f of files) {
    if (/\.zip$/i.test(f.name ?? '')) {
      let entries;
      try {
        entries = wasm.zipFiles(await toBytes(f, `loadModel({ files }): ${f.name}`));
      } catch (e) {
        throw asError(e);
      }
      for (const [name, data] of entries) list.push({ name, data, text: async () => new TextDecoder().decode(data) });
    } else {
      list.push({ name: f.name ?? '', data: f, text: () => (typeof f.text === 'function' ? f.text() : new TextDecoder().decode(f)) });
    }
  }
  list = list.filter((f) => !f.name.startsWith('.') && !f.name.startsWith('__MACOSX'));
  const by = (re) => list.find((f) => re.test(f.name));
  const labelsFile = by(/\.txt$/i);
  const labels = labelsFile ? parseLabels(await labelsFile.text()) : undefined;
  const withLabels = (src) => (labels ? { ...src, labels } : src);
  const keras = by(/\.keras$/i);
  if (keras) return withLabels({ keras: keras.data });
  const jsons = list.filter((f) => /\.json$/i.test(f.name));
  const texts = await Promise.all(jsons.map((f) => f.text()));
  const tfIdx = texts.findIndex((t) => /"weightsManifest"|"modelTopology"/.test(t));
  if (tfIdx >= 0) {
    const metaIdx = texts.findIndex((t, i) => i !== tfIdx && /"labels"/.test(t));
    const weights = list
      .filter((f) => !/\.(json|txt)$/i.test(f.name))
      .map((f) => ({ name: f.name, data: f.data }));
    return withLabels({ tfjs: { modelJson: texts[tfIdx], weights, metadata: metaIdx >= 0 ? texts[metaIdx] : null } });
  }
  const h5 = by(/\.(h5|hdf5)$/i);
  const structure = texts.find((t) => /"class_name"/.test(t));
  if (structure && h5) return withLabels({ structure, weights: h5.data });
  if (h5) {
    // Teachable Machine's Keras export: keras_model.h5 + numbered labels.txt.
    const teachable = /keras_model\.h5$/i.test(h5.name) && Boolean(labelsFile) &&
      /^0 /.test((await /** @type {{ text(): Promise<string> }} */ (labelsFile).text()).trim());
    return withLabels({ keras: h5.data, ...(teachable ? { preprocessing: TEACHABLE_MACHINE_PREPROCESSING } : {}) });
  }
  throw error(
    'loadModel({ files }): choose a .keras file; a full-model .h5 (with labels.txt); a structure .json ' +
      'with its .h5 weights; a TF.js model.json with its weight files (and metadata.json); or a .zip of one of these',
  );
}

/** The weight files of a TF.js model as [names, Uint8Arrays]. */
async function tfjsShards(weights) {
  const names = [];
  const shards = [];
  const add = async (name, value) => {
    names.push(String(name));
    shards.push(await toBytes(value, `loadModel({ tfjs }): weight file '${name}'`));
  };
  if (weights === undefined || weights === null) return [names, shards];
  if (weights instanceof Map) {
    for (const [name, value] of weights) await add(name, value);
  } else if (Array.isArray(weights)) {
    for (const [i, w] of weights.entries()) {
      // File objects carry their names; { name, data } pairs too.
      if (typeof File !== 'undefined' && w instanceof File) await add(w.name, w);
      else if (w && typeof w === 'object' && 'name' in w && 'data' in w) await add(w.name, w.data);
      else await add(`shard ${i}`, w);
    }
  } else if (typeof weights === 'object' && !ArrayBuffer.isView(weights) && !(weights instanceof ArrayBuffer)) {
    for (const [name, value] of Object.entries(weights)) await add(name, value);
  } else {
    await add('weights.bin', weights);
  }
  return [names, shards];
}

/** Teachable Machine's labels from its metadata.json (text or object), if it has them. */
function parseMetadata(metadata) {
  if (!metadata) return null;
  try {
    return typeof metadata === 'string' ? JSON.parse(metadata) : metadata;
  } catch {
    return null;
  }
}

function metadataLabels(metadata) {
  if (!metadata) return null;
  try {
    const m = typeof metadata === 'string' ? JSON.parse(metadata) : metadata;
    return Array.isArray(m?.labels) && m.labels.every((l) => typeof l === 'string') ? m.labels : null;
  } catch {
    return null;
  }
}

/** Downloads a model by URL: a TF.js model.json (with its shards and, when there is one, the
 * metadata.json beside it) or a .keras / .h5 file. */
async function fetchModel(url, onProgress) {
  const base = new URL(url, typeof location !== 'undefined' ? location.href : import.meta.url);
  const path = base.pathname.toLowerCase();
  if (path.endsWith('.keras') || path.endsWith('.h5')) {
    const r = await fetchOk(base, 'the model');
    return { keras: await readWithProgress(r, onProgress) };
  }
  const modelJson = await (await fetchOk(base, 'model.json')).text();
  let parsed;
  try {
    parsed = JSON.parse(modelJson);
  } catch (e) {
    throw error(`loadModel({ url }): ${base} is not JSON: ${e.message}`);
  }
  const paths = [...new Set((parsed?.weightsManifest ?? []).flatMap((g) => g?.paths ?? []))];
  const [weights, metadata] = await Promise.all([
    Promise.all(
      paths.map(async (p) => ({
        name: p,
        data: new Uint8Array(await (await fetchOk(new URL(p, base), `weight file '${p}'`)).arrayBuffer()),
      })),
    ),
    fetch(new URL('metadata.json', base))
      .then((r) => (r.ok ? r.text() : null))
      .catch(() => null),
  ]);
  return { tfjs: { modelJson, weights, metadata } };
}

/**
 * Loads a model: { structure, weights } (structure JSON text or object from model.to_json();
 * weights: bytes of a .weights.h5 or Keras 2 .h5), { keras } (bytes of a .keras file or a
 * full-model .h5), { tfjs: { modelJson, weights, metadata } } (a TF.js layers model or
 * Teachable Machine web export: model.json text or object; its weight files as a Map or
 * object of name → bytes, an array of File objects or { name, data }; optional metadata.json
 * for the labels) or { url } (a model.json, .keras or .h5 to download). Optional: labels
 * (class names), preprocessing.
 */
export async function loadModel(source, options = {}) {
  if (!source || typeof source !== 'object') {
    throw error(`loadModel(): ${SOURCES}`);
  }
  const info = await ensureReady();
  if (source.url !== undefined) {
    const fetched = await fetchModel(source.url, options.onProgress);
    return loadModel({ ...source, url: undefined, ...fetched }, options);
  }
  if (source.files !== undefined) {
    const { files, ...rest } = source;
    const found = await filesSource(files);
    return loadModel({ ...found, ...Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined)) }, options);
  }
  let raw;
  let tfjsLabels = null;
  let teachable = false;
  try {
    if (source.tfjs !== undefined) {
      const { modelJson, weights, metadata } = source.tfjs ?? {};
      if (modelJson === undefined) throw error('loadModel({ tfjs }): expected { modelJson, weights }');
      const text = typeof modelJson === 'string' ? modelJson : JSON.stringify(modelJson);
      const [names, shards] = await tfjsShards(weights);
      raw = wasm.loadTfjs(text, names, shards);
      tfjsLabels = metadataLabels(metadata);
      const meta = parseMetadata(metadata);
      teachable = Boolean(meta?.tmVersion || String(meta?.packageName ?? '').includes('teachablemachine'));
    } else if (source.keras !== undefined) {
      raw = wasm.loadModelFile(await toBytes(source.keras, 'loadModel({ keras })'));
    } else {
      if (source.structure === undefined || source.weights === undefined) {
        throw error(`loadModel(): ${SOURCES}`);
      }
      const structure =
        typeof source.structure === 'string' ? source.structure : JSON.stringify(source.structure);
      raw = wasm.loadModel(structure, await toBytes(source.weights, 'loadModel({ weights })'));
    }
  } catch (e) {
    throw asError(e);
  }
  const model = new Model(raw, {
    labels: source.labels ?? raw.archiveLabels ?? tfjsLabels ?? null,
    preprocessing: source.preprocessing ?? (teachable ? TEACHABLE_MACHINE_PREPROCESSING : null),
    featuresLayer: source.featuresLayer ?? null,
  });
  if (info.backend === 'webgpu' && options.warmUp !== false) await model.warmUp();
  return model;
}

const PRETRAINED = {
  'efficientnet-lite0': { featuresLayer: 'avg_pool' },
  'efficientnet-lite1': { featuresLayer: 'avg_pool' },
  'efficientnet-lite2': { featuresLayer: 'avg_pool' },
};

/**
 * Loads a pretrained network ('efficientnet-lite0', '-lite1' or '-lite2') converted by
 * `glimpse zoo fetch NAME` from `baseUrl` (a folder with model.json, model.f16.weights.h5 and/or
 * model.weights.h5, labels.txt, preprocessing.json). `precision` 'float16' (default) downloads
 * the weights stored as float16 (half the bytes, expanded to float32 at load: top-1 the same as
 * float32's on every photo of the tests' sets but near-ties), falling back to the float32 file
 * where there is none; 'float32' the float32 file. onProgress({ loaded, total }) reports the
 * weights download. The model's `files` lists the URLs it came from.
 *
 * @param {string} [name]
 * @param {Parameters<typeof import('glimpse-ml').loadPretrained>[1]} [options]
 */
export async function loadPretrained(name = 'efficientnet-lite0', { baseUrl, onProgress, warmUp, precision = 'float16' } = {}) {
  if (precision !== 'float16' && precision !== 'float32') {
    throw error(`loadPretrained(): precision must be 'float16' or 'float32', found ${shown(precision)}`);
  }
  const known = PRETRAINED[name];
  if (!known) {
    throw error(`loadPretrained(): unknown network '${name}'; available: ${Object.keys(PRETRAINED).join(', ')}`);
  }
  const base = new URL(
    baseUrl ?? `models/${name}/`,
    typeof location !== 'undefined' ? location.href : import.meta.url,
  );
  if (!base.pathname.endsWith('/')) base.pathname += '/';
  // All four downloads at once (the weights are most of the bytes).
  /** @type {{ url: string | null }} */
  const weightsFile = { url: null };
  const [structure, labels, pre, weights] = await Promise.all([
    fetchOk(new URL('model.json', base), 'the model structure').then((r) => r.text()),
    fetchOk(new URL('labels.txt', base), 'the labels').then((r) => r.text()),
    fetchOk(new URL('preprocessing.json', base), 'the preprocessing').then((r) => r.json()),
    fetchWeights(base, precision, weightsFile).then((r) => readWithProgress(r, onProgress)),
  ]);
  try {
    const files = ['model.json', 'labels.txt', 'preprocessing.json'].map((f) => new URL(f, base).href);
    files.push(/** @type {string} */ (weightsFile.url));
    const model = await loadModel(
      {
        structure,
        weights,
        labels: labels.split('\n').map((l) => l.trim()).filter(Boolean),
        preprocessing: { ...pre, scale: 1 },
        featuresLayer: known.featuresLayer,
      },
      { warmUp },
    );
    model.files = files;
    return model;
  } finally {
    // The engine has copied the weights; detaching our download frees its ~19 MB now
    // instead of whenever the garbage collector gets to large buffers.
    weights.buffer.transfer?.(0);
  }
}

// The pretrained weights' response: the float16 file unless float32 is asked for or the folder
// has none (a folder converted before the float16 copy existed). Sets `file.url`.
async function fetchWeights(base, precision, file) {
  if (precision === 'float16') {
    const url = new URL('model.f16.weights.h5', base);
    let response = null;
    try {
      response = await fetch(url);
    } catch {
      response = null;
    }
    if (response?.ok) {
      file.url = url.href;
      return response;
    }
  }
  const url = new URL('model.weights.h5', base);
  file.url = url.href;
  return fetchOk(url, 'the weights');
}

async function readWithProgress(response, onProgress) {
  const total = Number(response.headers.get('content-length')) || 0;
  if (!onProgress || !response.body) return new Uint8Array(await response.arrayBuffer());
  const reader = response.body.getReader();
  const chunks = [];
  let loaded = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loaded += value.length;
    onProgress({ loaded, total });
  }
  const out = new Uint8Array(loaded);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** A new classifier head for transfer learning: [Dense(hidden, relu)] + Dense(classes, softmax).
 *
 * @param {{ features?: number, classes?: number, hidden?: number, seed?: number }} [options]
 */
export async function createHead({ features, classes, hidden, seed = 1337 } = {}) {
  await ensureReady();
  if (!Number.isInteger(features) || !Number.isInteger(classes)) {
    throw error('createHead(): features and classes must be whole numbers');
  }
  try {
    return new Model(wasm.createHead(features, classes, hidden ?? undefined, seed), {});
  } catch (e) {
    throw asError(e);
  }
}

/** RGBA pixels of an image: ImageData, ImageBitmap, HTMLImageElement, canvases or a Blob. */
export async function imagePixels(image) {
  if (isPixels(image)) return image;
  const bitmap = await imageBitmap(image);
  return drawn(bitmap, 0, 0, bitmap.width, bitmap.height);
}

/** The augmentation a transfer() option asks for: true (the standard one), an object of
 * factors ({ flip, rotate, zoom, shift, contrast, brightness }), or nothing. */
function normalizeAugment(a) {
  if (!a) return null;
  const std = { flip: true, rotate: 0.1, zoom: 0.1, shift: 0, contrast: 0.1, brightness: 0 };
  if (a === true) return std;
  if (typeof a !== 'object') throw error(`transfer(): augment should be true or an object of factors, found ${describe(a)}`);
  const out = { flip: Boolean(a.flip), rotate: 0, zoom: 0, shift: 0, contrast: 0, brightness: 0 };
  for (const k of ['rotate', 'zoom', 'shift', 'contrast', 'brightness']) {
    if (a[k] === undefined || a[k] === false) continue;
    const v = Number(a[k]);
    if (!(v > 0 && v <= 1)) throw error(`transfer(): augment.${k} should be a factor in (0, 1], found ${a[k]}`);
    out[k] = v;
  }
  return out;
}

function pixelsAsImageData(px) {
  return px instanceof ImageData ? px : new ImageData(px.data, px.width, px.height);
}

function isPixels(image) {
  return (typeof ImageData !== 'undefined' && image instanceof ImageData) ||
    Boolean(image && typeof image === 'object' && image.data instanceof Uint8ClampedArray &&
      Number.isInteger(image.width) && Number.isInteger(image.height));
}

// The image as something a canvas draws (a Blob decoded), with a typed error for the rest.
async function imageBitmap(image) {
  let bitmap;
  /** @type {ImageBitmapOptions} */
  const options = { colorSpaceConversion: 'none', premultiplyAlpha: 'none' };
  try {
    if (typeof Blob !== 'undefined' && image instanceof Blob) {
      bitmap = await createImageBitmap(image, options);
    } else if (typeof ImageBitmap !== 'undefined' && image instanceof ImageBitmap) {
      bitmap = image;
    } else if (typeof HTMLImageElement !== 'undefined' && image instanceof HTMLImageElement) {
      if (!image.complete || image.naturalWidth === 0) await image.decode();
      bitmap = await createImageBitmap(image, options);
    } else if (
      (typeof HTMLCanvasElement !== 'undefined' && image instanceof HTMLCanvasElement) ||
      (typeof OffscreenCanvas !== 'undefined' && image instanceof OffscreenCanvas) ||
      (typeof HTMLVideoElement !== 'undefined' && image instanceof HTMLVideoElement)
    ) {
      bitmap = await createImageBitmap(image, options);
    } else {
      throw error(
        `expected an image (ImageBitmap, ImageData, HTMLImageElement, HTMLCanvasElement or Blob), found ${describe(image)}`,
      );
    }
  } catch (e) {
    if (e instanceof Error && e.message.startsWith('expected an image')) throw e;
    const name = image && image.name ? `'${image.name}'` : 'the image';
    throw error(`cannot decode ${name}: not an image the browser can read (${e.message ?? e})`, e);
  }
  if (!bitmap.width || !bitmap.height) throw error('the image is empty (0 pixels)');
  return bitmap;
}

// The RGBA pixels of the w x h part of `bitmap` at (x, y), drawn 1:1.
function drawn(bitmap, x, y, w, h) {
  const canvas = new OffscreenCanvas(w, h);
  const ctx = /** @type {OffscreenCanvasRenderingContext2D} */ (canvas.getContext('2d', { willReadFrequently: true }));
  ctx.drawImage(bitmap, x, y, w, h, 0, 0, w, h);
  return ctx.getImageData(0, 0, w, h);
}

// Resolves in a later task of the event loop, not a microtask: a message to ourselves, queued
// behind the tasks already waiting (scheduler.yield() would jump ahead of them; setTimeout
// clamps to 4 ms).
// Two typed arrays of one kind end to end.
function concat(a, b) {
  const out = new a.constructor(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** @returns {Promise<void>} */
function nextTask() {
  return new Promise((resolve) => {
    const { port1, port2 } = new MessageChannel();
    port1.onmessage = () => {
      port1.close();
      resolve();
    };
    port2.postMessage(null);
  });
}

/** The held-out split transfer() uses (the library's rule, `holdout` in the engine: each class
 * in proportion, seeded): { order: training indices then held-out ones, nVal, warnings }. A
 * class keeps at least one training photo; one with fewer than 5 photos gets a warning. Needs
 * the engine (after ready()).
 * @param {ArrayLike<number>} labels @param {string[]} names @param {number} split @param {number} seed */
export function stratifiedSplit(labels, names, split, seed) {
  if (!wasm) throw error('stratifiedSplit(): call ready() first (the rule is in the engine)');
  let plan;
  try {
    plan = wasm.holdout(Uint32Array.from(labels), names.map(String), split, seed);
  } catch (e) {
    throw asError(e);
  }
  return { order: [...plan.train, ...plan.validation], nVal: plan.validation.length, warnings: [...plan.warnings] };
}

function labelIndices(y, n, classes) {
  if (y instanceof Float32Array || y instanceof Float64Array) {
    if (y.length === n * classes && classes > 1) {
      const out = new Uint32Array(n);
      for (let i = 0; i < n; i++) {
        let best = 0;
        for (let c = 1; c < classes; c++) if (y[i * classes + c] > y[i * classes + best]) best = c;
        out[i] = best;
      }
      return out;
    }
    if (y.length === n) return Uint32Array.from(y, (v) => Math.round(v));
    throw error(`fit(): y has ${y.length} values; expected ${n} class indices or ${n} x ${classes} one-hot rows`);
  }
  const arr = Array.from(y ?? []);
  if (arr.length !== n) throw error(`fit(): y has ${arr.length} labels for ${n} samples`);
  for (const v of arr) {
    if (!Number.isInteger(v) || v < 0) throw error(`fit(): labels must be class indices (whole numbers >= 0), found ${v}`);
  }
  return Uint32Array.from(arr);
}

function asFloat32(x, what) {
  if (x instanceof Float32Array) return x;
  if (x && x.data instanceof Float32Array) return x.data;
  if (Array.isArray(x) || ArrayBuffer.isView(x)) return Float32Array.from(/** @type {ArrayLike<number>} */ (x));
  throw error(`${what}: expected a Float32Array, found ${describe(x)}`);
}

function topK(row, labels, k) {
  const idx = Array.from(row.keys()).sort((a, b) => row[b] - row[a]).slice(0, Math.max(1, k));
  return idx.map((index) => ({ index, label: labels?.[index] ?? String(index), score: row[index] }));
}

/** A Keras model on the chosen backend. */
export class Model {
  #raw;
  #engine;
  /**
   * @param {any} raw the engine's model
   * @param {{ labels?: string[] | null, preprocessing?: Preprocessing | null, featuresLayer?: string | null }} [options]
   */
  constructor(raw, { labels = null, preprocessing = null, featuresLayer = null } = {}) {
    this.#raw = raw;
    this.#engine = engineState;
    /** Class names for classify(), or null (indices are used). */
    this.labels = labels;
    /** How classify() prepares images: { size | height,width, crop_fraction, resize, scale }. */
    this.preprocessing = preprocessing;
    /** The layer whose output features() returns (the pooled features of a pretrained net). */
    this.featuresLayer = featuresLayer;
    /** The URLs a loadPretrained() model came from (set there); else absent.
     * @type {string[] | undefined} */
    this.files; // (a declaration for the type checker: reads nothing that is there)
  }

  #live() {
    if (this.#engine?.dead) throw this.#engine.dead;
    if (!this.#raw) throw error('this model was disposed');
    return this.#raw;
  }

  /** Keras' summary table. */
  summary() {
    return this.#live().summary();
  }
  /** Input shape, batch first (null). */
  get inputShape() {
    return this.#live().inputShape;
  }
  /** Output shape, batch first (null). */
  get outputShape() {
    return this.#live().outputShape;
  }
  /** Layer names in order. */
  get layerNames() {
    return this.#live().layerNames;
  }
  /** Keras' count_params(). */
  countParams() {
    return this.#live().countParams();
  }

  /** Predicts a batch: data in Keras' layout (channels last), shape batch first. */
  async predict(data, shape) {
    const raw = this.#live();
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0 && d <= 0xffffffff)) {
      throw error(`predict(): shape must be an array of whole numbers, found ${JSON.stringify(shape)}`);
    }
    try {
      return await onEngine(this.#engine, raw.predict(asFloat32(data, 'predict()'), Uint32Array.from(shape)));
    } catch (e) {
      throw asError(e, this.#engine);
    }
  }

  /** One prediction on zeros: compiles the backend's kernels before the first real call. */
  async warmUp() {
    const shape = [1, ...this.inputShape.slice(1)];
    await this.predict(new Float32Array(shape.reduce((a, b) => a * b, 1)), shape);
  }

  #prep() {
    const [, h, w, c] = this.inputShape;
    if (this.inputShape.length !== 4 || c !== 3) {
      throw error(`images need a model with an input of shape (None, height, width, 3); this one takes ${JSON.stringify(this.inputShape)}`);
    }
    const p = { ...GENERIC_PREPROCESSING, ...(this.preprocessing ?? {}) };
    return {
      h, w, crop: p.crop_fraction ?? 1, resize: p.resize ?? 'nearest', scale: p.scale ?? 1,
      offset: p.offset ?? 0, square: Boolean(p.square),
    };
  }

  /** Network inputs for images (after this model's preprocessing): { data, shape }. */
  async prepareImages(images) {
    const list = Array.isArray(images) ? images : [images];
    if (list.length === 0) throw error('no images given');
    const p = this.#prep();
    const per = p.h * p.w * 3;
    const data = new Float32Array(list.length * per);
    for (let i = 0; i < list.length; i++) {
      // Pixels the page already has go to the engine whole (it crops); anything drawn is drawn
      // only where the crop is (cropBox: the engine's own rule), so a phone photo's 48 MB of
      // RGBA becomes its crop's 28 MB, in JS and in the engine's memory.
      let px = list[i];
      let crop = p.crop;
      if (!isPixels(px) || (p.square && px.width !== px.height)) {
        const bitmap = isPixels(px) ? await createImageBitmap(pixelsAsImageData(px)) : await imageBitmap(px);
        let box;
        try {
          box = wasm.cropBox(bitmap.width, bitmap.height, crop);
        } catch (e) {
          throw asError(e);
        }
        if (p.square && crop >= 1) {
          // The central square of the whole shorter side (Teachable Machine's crop).
          const side = Math.min(bitmap.width, bitmap.height);
          box = [Math.floor((bitmap.width - side) / 2), Math.floor((bitmap.height - side) / 2), side, side];
        }
        px = drawn(bitmap, box[0], box[1], box[2], box[3]);
        crop = 1;
      }
      let x;
      try {
        x = wasm.prepareImage(
          new Uint8Array(px.data.buffer, px.data.byteOffset, px.data.byteLength),
          px.width, px.height, p.h, p.w, crop, p.resize, p.scale,
        );
      } catch (e) {
        throw asError(e);
      }
      if (p.offset) for (let j = 0; j < x.length; j++) x[j] += p.offset;
      data.set(x, i * per);
    }
    return { data, shape: [list.length, p.h, p.w, 3] };
  }

  /**
   * Classifies one image (→ [{ index, label, score }], best first) or an array of images
   * (→ one such list per image). Options: topK (5), batchSize (8), workers (threads, as in
   * features()), onProgress({ done, total }), signal.
   *
   * @param {ImageInput | ImageInput[]} image
   * @param {{ topK?: number } & FeaturesOptions} [options]
   */
  async classify(image, { topK: k = 5, batchSize = 8, workers = 1, onProgress, signal } = {}) {
    if (!Number.isInteger(k) || k < 1) throw error(`classify(): topK must be a whole number >= 1, found ${k}`);
    const list = Array.isArray(image) ? image : [image];
    const out = new Array(list.length);
    await this.#spread(list, {
      what: 'classify()', batchSize, workers, onProgress, signal,
      here: async (images) => {
        const x = await this.prepareImages(images);
        const y = await this.predict(x.data, x.shape);
        const per = y.data.length / x.shape[0];
        return Array.from({ length: x.shape[0] }, (_, j) =>
          topK(y.data.subarray(j * per, (j + 1) * per), this.labels, k));
      },
      there: (m, images) => m.classify(images, { topK: k, batchSize }),
      store: (start, rows) => rows.forEach((r, j) => (out[start + j] = r)),
    });
    return Array.isArray(image) ? out : out[0];
  }

  /** A model that outputs layer `layer` (default: featuresLayer), sharing the weights. */
  featureExtractor(layer = this.featuresLayer) {
    if (!layer) throw error('featureExtractor(): name the layer whose output to use');
    try {
      return new Model(this.#live().truncated(layer), { preprocessing: this.preprocessing });
    } catch (e) {
      throw asError(e);
    }
  }

  /**
   * Features of images at featuresLayer (or `layer`): { data, shape: [n, width] }, each row the
   * layer's output flattened. Options: batchSize (8), workers (threads in all, default 1: see
   * #spread), onProgress({ done, total }), signal.
   *
   * @param {ImageInput | ImageInput[]} images
   * @param {Omit<FeaturesOptions, 'layer'> & { layer?: string | null }} [options]
   */
  async features(images, { batchSize = 8, workers = 1, onProgress, signal, layer = this.featuresLayer } = {}) {
    const list = Array.isArray(images) ? images : [images];
    if (list.length === 0) throw error('features(): no images given');
    const fx = this.featureExtractor(layer);
    /** @type {Float32Array | null} */
    let data = null;
    let width = 0;
    try {
      await this.#spread(list, {
        what: 'features()', batchSize, workers, onProgress, signal,
        // Helpers load the network up to featuresLayer only (Lite0: 13 of its 18 MB).
        copy: fx,
        here: async (imgs) => {
          const x = await this.prepareImages(imgs);
          return (await fx.predict(x.data, x.shape)).data;
        },
        there: async (m, imgs) => (await m.features(imgs, { batchSize, layer: /** @type {string} */ (layer) })).data,
        store: (start, y, rows) => {
          width = y.length / rows;
          data ??= new Float32Array(list.length * width);
          data.set(y, start * width);
        },
      });
    } finally {
      fx.dispose();
    }
    // (Every batch stored, or this threw: the data is there.)
    return { data: /** @type {Float32Array} */ (/** @type {unknown} */ (data)), shape: [list.length, width] };
  }

  // Runs `list` in batches: here(images) on this thread, or there(remoteModel, images) on a
  // helper (which loads the model `copy`, this one or a part of it, with this one's labels,
  // preprocessing and featuresLayer); store(start, result, count) keeps each batch's result. With `workers` > 1 on the
  // CPU backend the batches are shared with helper Web Workers (see #startHelpers): whichever
  // thread is free takes the next one; a batch a helper fails goes back to the front, for this
  // thread, where its error surfaces with its usual message.
  /**
   * @param {any[]} list
   * @param {{ what: string, batchSize: number, workers: number, onProgress?: FeaturesOptions['onProgress'],
   *   signal?: AbortSignal, copy?: Model, here: (images: any[]) => Promise<any>,
   *   there: (m: import('glimpse-ml/client').RemoteModel, images: any[]) => Promise<any>,
   *   store: (start: number, result: any, count: number) => void }} options
   */
  async #spread(list, { what, batchSize, workers, onProgress, signal, copy = this, here, there, store }) {
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw error(`${what}: batchSize must be a whole number >= 1, found ${batchSize}`);
    }
    if (!Number.isInteger(workers) || workers < 1) {
      throw error(`${what}: workers must be a whole number >= 1, found ${workers}`);
    }
    let done = 0;
    /** @type {{ list: any[], batchSize: number, signal?: AbortSignal, copy: Model, there: Function, queue: number[],
     *   busy: Set<Promise<any>>, helpers: import('glimpse-ml/client').GlimpseWorker[], starting: number, stopped: boolean,
     *   store: (start: number, result: any, count: number) => void }} */
    const run = {
      list, batchSize, signal, copy, there, queue: [], busy: new Set(), helpers: [], starting: 0,
      stopped: false,
      store(start, result, count) {
        store(start, result, count);
        done += count;
        onProgress?.({ done, total: list.length });
      },
    };
    for (let i = 0; i < list.length; i += batchSize) run.queue.push(i);
    const local = async () => {
      while (run.queue.length > 0) {
        const start = /** @type {number} */ (run.queue.shift());
        const end = Math.min(start + batchSize, list.length);
        for (let i = start; i < end;) {
          if (signal?.aborted) throw signal.reason ?? error('aborted');
          // While helpers start (each step of which waits for this thread's event loop), a
          // quarter batch at a time: the network's time per image hardly depends on the batch.
          const step = run.starting > 0 ? Math.max(1, batchSize >> 2) : end - i;
          const images = list.slice(i, Math.min(i + step, end));
          run.store(i, await here(images), images.length);
          i += images.length;
          // On the CPU a batch resolves without leaving this task: let the event loop run (the
          // page's input and painting, the helpers' replies) before the next one.
          await nextTask();
        }
      }
    };
    try {
      // At most one thread per core (more only add memory), and as a helper's start (engine,
      // model) takes about two batches' time, none for fewer batches.
      const cores = (typeof navigator !== 'undefined' && navigator.hardwareConcurrency) || 1;
      this.#startHelpers(run, Math.min(workers, cores, (run.queue.length + 1) >> 1) - 1);
      await local();
      // Then only the helpers' batches still running (and any they give back).
      while (run.busy.size > 0) {
        await Promise.allSettled([...run.busy]);
        await local();
      }
    } finally {
      run.stopped = true;
      for (const w of run.helpers) w.terminate();
    }
    if (signal?.aborted) throw signal.reason ?? error('aborted');
  }

  // Starts `count` helper Web Workers (this package's worker.js on this engine, its compiled
  // module posted to them) that each load a copy of this model and take batches from
  // `run.queue` (for #spread). No SharedArrayBuffer, so the page needs no cross-origin isolation; each costs
  // an engine instance and its memory until the call ends. Helpers only help: one that cannot
  // start, or fails a batch, gives the batch back and retires. On WebGPU, or with images a
  // worker cannot receive (elements, canvases), none start.
  #startHelpers(run, count) {
    const cloneable = (x) =>
      (typeof Blob !== 'undefined' && x instanceof Blob) ||
      (typeof ImageBitmap !== 'undefined' && x instanceof ImageBitmap) ||
      isPixels(x);
    // The threaded engine already uses every core in each call (helpers would only add memory),
    // and its module needs its shared memory (if its pool failed, this stays one thread).
    if (count < 1 || typeof Worker === 'undefined' || readyInfo?.backend !== 'cpu' ||
        engineKind === 'threads' || !run.list.every(cloneable)) {
      return;
    }
    const source = run.copy.save().then((s) => ({
      structure: s.structure,
      weights: s.weights,
      labels: this.labels,
      preprocessing: this.preprocessing,
      featuresLayer: this.featuresLayer,
    }));
    source.catch(() => {}); // each helper sees the failure itself
    // Two batches in flight per helper: its next one is already there when it finishes one,
    // however long this thread takes to get back to the event loop. The spare lane stops
    // while there are still batches for every thread, so that no thread waits at the end on
    // a batch queued behind another.
    const lane = async (m, spare) => {
      const left = spare ? count + 1 : 0;
      while (run.queue.length > left && !run.stopped && !run.signal?.aborted) {
        const start = /** @type {number} */ (run.queue.shift());
        const chunk = run.list.slice(start, start + run.batchSize);
        const job = run.there(m, chunk);
        run.busy.add(job);
        try {
          const result = await job;
          if (!run.stopped) run.store(start, result, chunk.length);
        } catch {
          run.queue.unshift(start);
          return;
        } finally {
          run.busy.delete(job);
        }
      }
    };
    const helper = async () => {
      const w = new GlimpseWorker();
      run.helpers.push(w);
      // The same engine build, already compiled (posting a module shares its code), and the
      // model, in one message.
      const engine = engineKind === 'cpu' ? { cpuWasmUrl: engineModule } : { wasmUrl: engineModule };
      let m;
      try {
        m = await w.startHelper({ backend: 'cpu', ...engine }, await source);
      } finally {
        run.starting--;
      }
      await Promise.all([lane(m, false), lane(m, true)]);
    };
    run.starting = count;
    for (let i = 0; i < count; i++) {
      helper().catch(() => {
        // could not start (or was stopped): the other threads take its share
      });
    }
  }

  /**
   * Trains like Keras' model.fit. x: Float32Array of samples (Keras layout) or { data, shape };
   * y: class indices or one-hot rows. Options: epochs, batchSize, shuffle, seed, optimizer,
   * learningRate, validationSplit, validationData [x, y], onBatchEnd(batch, logs),
   * onEpochEnd(epoch, logs), signal. Resolves to { epoch, history, stopped }. An abort keeps
   * the weights learned so far and rejects with the signal's reason (history attached).
   *
   * @param {Float32Array | import('glimpse-ml').TensorData} x
   * @param {ArrayLike<number>} y
   * @param {import('glimpse-ml').FitOptions} [options]
   */
  async fit(x, y, options = {}) {
    const raw = this.#live();
    const data = asFloat32(x, 'fit() x');
    const per = this.inputShape.slice(1).reduce((a, b) => a * b, 1);
    if (data.length % per !== 0 || data.length === 0) {
      throw error(`fit(): x has ${data.length} values, not a whole number of samples of ${per} values (input shape ${JSON.stringify(this.inputShape)})`);
    }
    const n = data.length / per;
    const classes = this.outputShape.slice(1).reduce((a, b) => a * b, 1);
    const labels = labelIndices(y, n, classes);
    const { signal, validationData, ...rest } = options;
    if (signal?.aborted) throw signal.reason ?? error('aborted');
    /** @type {Record<string, any>} */
    const opts = { ...rest, signal };
    if (validationData) {
      const [vx, vy] = validationData;
      const vdata = asFloat32(vx, 'fit() validationData x');
      opts.validationX = vdata;
      opts.validationLabels = labelIndices(vy, vdata.length / per, classes);
    }
    let result;
    try {
      result = await onEngine(this.#engine, raw.fit(data, labels, opts));
    } catch (e) {
      throw asError(e, this.#engine);
    }
    if (signal?.aborted) {
      const reason = signal.reason ?? error('training was aborted');
      try {
        reason.history = result;
      } catch {
        // a frozen reason: the history stays on the model's side only
      }
      throw reason;
    }
    return result;
  }

  /** The model in Keras' formats: { structure (JSON text), weights (.weights.h5 bytes), labels }. */
  async save() {
    let out;
    try {
      out = await onEngine(this.#engine, this.#live().save());
    } catch (e) {
      throw asError(e, this.#engine);
    }
    return { ...out, labels: this.labels ? [...this.labels] : null };
  }

  /** The model as one .keras file (Keras loads it; Glimpse also keeps the labels inside). */
  async saveKeras() {
    try {
      return await onEngine(this.#engine, this.#live().saveKeras(this.labels ?? undefined));
    } catch (e) {
      throw asError(e, this.#engine);
    }
  }

  /**
   * Where the network looks: occlusion sensitivity. A grey square slides over a `grid` x `grid`
   * lattice of the (preprocessed) image; each cell's value is how much the score of class
   * `index` (default: the top class) drops when that cell is hidden. Resolves to
   * { index, score, grid, values: Float32Array (row-major, grid * grid) }.
   *
   * @param {ImageInput} image
   * @param {{ index?: number, grid?: number, batchSize?: number }} [options]
   */
  async occlusion(image, { index, grid = 7, batchSize = 7 } = {}) {
    const x = await this.prepareImages([image]);
    const [, h, w, c] = x.shape;
    const base = await this.predict(x.data, x.shape);
    const k = index ?? base.data.indexOf(Math.max(...base.data));
    const score = base.data[k];
    const grey = 127.5 * (this.preprocessing?.scale ?? GENERIC_PREPROCESSING.scale) + (this.preprocessing?.offset ?? 0);
    const values = new Float32Array(grid * grid);
    const cellH = Math.ceil(h / grid), cellW = Math.ceil(w / grid);
    for (let start = 0; start < grid * grid; start += batchSize) {
      const cells = Math.min(batchSize, grid * grid - start);
      const batch = new Float32Array(cells * h * w * c);
      for (let b = 0; b < cells; b++) {
        const cell = start + b;
        const y0 = Math.floor(cell / grid) * cellH, x0 = (cell % grid) * cellW;
        const off = b * h * w * c;
        batch.set(x.data, off);
        for (let yy = y0; yy < Math.min(h, y0 + cellH); yy++) {
          batch.fill(grey, off + (yy * w + x0) * c, off + (yy * w + Math.min(w, x0 + cellW)) * c);
        }
      }
      const y = await this.predict(batch, [cells, h, w, c]);
      const per = y.data.length / cells;
      for (let b = 0; b < cells; b++) values[start + b] = score - y.data[b * per + k];
    }
    return { index: k, score, grid, values };
  }

  /**
   * The end-to-end model of transfer learning: this model up to `cut` (default featuresLayer),
   * then `head`. Takes this model's preprocessing; `labels` name the head's classes.
   * @param {Model} head
   * @param {{ labels?: string[] | null, cut?: string | null, name?: string }} [options]
   */
  withHead(head, { labels = null, cut = this.featuresLayer, name = 'glimpse_transfer' } = {}) {
    if (!(head instanceof Model)) throw error('withHead(): expected a Model made by createHead()');
    try {
      const raw = this.#live().withHead(cut, head.#live(), name);
      return new Model(raw, { labels, preprocessing: this.preprocessing, featuresLayer: cut });
    } catch (e) {
      throw asError(e);
    }
  }

  /**
   * Transfer learning in one call: `examples` = [{ label, images: [...] }, ...]. Extracts
   * features once, trains a new head and returns { model (end to end), head, history,
   * validation: { labels, predictions }, warnings, skipped }. Options: epochs (20), batchSize
   * (16), hidden, learningRate, validationSplit (0.2 when there are enough images), seed,
   * workers (threads for the features, see features()), augment and views (varied copies of the
   * training photos), onProgress({ phase, done, total }), onEpochEnd, onBatchEnd, signal.
   *
   * keepHead: teach this (already taught) classifier further: its head, from its current
   * weights, is trained on, its classes kept (by label) and new ones added; classes given no
   * photos keep what they learned but fade as the others train (a warning says so).
   * unfreezeBlocks (EfficientNet-Lite0): then fine-tune the network's last N blocks and its top
   * convolution with the head for fineTuneEpochs (5) at fineTuneLearningRate (1e-4), on
   * activations computed once; BatchNormalization stays frozen (Keras' recipe).
   */
  async transfer(examples, options = {}) {
    const { epochs = 20, batchSize = 16, hidden, learningRate, seed = 1337, onProgress,
      onEpochEnd, onBatchEnd, signal, keepHead = false, unfreezeBlocks = 0,
      fineTuneEpochs = 5, fineTuneLearningRate = 1e-4 } = options;
    if (!Array.isArray(examples) || examples.length < (keepHead ? 1 : 2)) {
      throw error(`transfer(): give at least ${keepHead ? 'one class' : 'two classes'}: [{ label, images }, ...]`);
    }
    for (const ex of examples) {
      if (!ex || !Array.isArray(ex.images) || ex.images.length === 0) {
        throw error(`transfer(): class '${ex?.label ?? '?'}' has no images`);
      }
    }
    if (!Number.isInteger(unfreezeBlocks) || unfreezeBlocks < 0) {
      throw error(`transfer(): unfreezeBlocks must be a whole number >= 0, found ${unfreezeBlocks}`);
    }
    // The classes, and where the features end: a new head on featuresLayer, or this model's
    // own head (keepHead) after its feature extractor.
    let cut = this.featuresLayer;
    let names = examples.map((e) => String(e.label));
    const owned = []; // made here, disposed at the end
    const base = (() => {
      if (!keepHead) return this;
      cut ??= this.#live().headCut();
      if (!cut) {
        throw error('transfer({ keepHead }): this model does not end in a Dense classifier, so it has no head to teach further');
      }
      const old = (this.labels ?? []).map(String);
      names = [...old, ...names.filter((n) => !old.includes(n))];
      if (names.length < 2) throw error('transfer({ keepHead }): a classifier needs at least two classes');
      if (cut === this.featuresLayer) return this;
      const m = new Model(this.#live().share(), { labels: this.labels, preprocessing: this.preprocessing, featuresLayer: cut });
      owned.push(m);
      return m;
    })();
    if (!cut) throw error('transfer(): this model has no featuresLayer; use a pretrained network or keepHead');
    let tuneCut = null;
    if (unfreezeBlocks > 0) {
      try {
        tuneCut = this.#live().topBlocksCut(unfreezeBlocks);
      } catch (e) {
        throw asError(e);
      }
    }
    // Teaching a taught classifier further: each class starts from its old output (-1: new).
    const keepFrom = keepHead ? names.map((n) => (this.labels ?? []).map(String).indexOf(n)) : null;
    try {
      return await base.#teach(examples, names, {
        epochs, batchSize, hidden, learningRate, seed, onProgress, onEpochEnd, onBatchEnd, signal,
        workers: options.workers, validationSplit: options.validationSplit, augment: options.augment,
        views: options.views, cut, tuneCut, keepFrom, fineTuneEpochs, fineTuneLearningRate,
      });
    } finally {
      for (const m of owned) m.dispose();
    }
  }

  // transfer()'s work on a model whose featuresLayer is `cut`.
  async #teach(examples, names, o) {
    const { epochs, batchSize, seed, onProgress, signal, cut, tuneCut } = o;
    let images = examples.flatMap((ex) => ex.images);
    let ys = examples.flatMap((ex) => ex.images.map(() => names.indexOf(String(ex.label))));
    // What is computed once per photo: the features, or (fine-tuning blocks) the activations
    // where those blocks begin, from which the features follow through the network's top.
    const layer = tuneCut ?? cut;
    const featureOptions = {
      signal, layer,
      // Helpers copy the network; activations come on this thread (their model is smaller).
      workers: tuneCut ? 1 : o.workers,
      onProgress: (p) => onProgress?.({ phase: 'features', ...p }),
    };
    let acts;
    const skipped = [];
    try {
      acts = await this.features(images, featureOptions);
    } catch (e) {
      if (signal?.aborted) throw e;
      // A photo that does not decode is left out (and named), not the whole training: find
      // which, then look again at the rest.
      const keep = [];
      for (let i = 0; i < images.length; i++) {
        try {
          await this.prepareImages([images[i]]);
          keep.push(i);
        } catch (err) {
          skipped.push({ image: images[i], label: names[ys[i]], error: asError(err).message });
        }
      }
      if (skipped.length === 0) throw e;
      images = keep.map((i) => images[i]);
      ys = keep.map((i) => ys[i]);
      for (const ex of examples) {
        const c = names.indexOf(String(ex.label));
        if (!ys.includes(c)) throw error(`transfer(): none of the photos of '${names[c]}' could be read (${skipped.find((s) => s.label === names[c])?.error})`);
      }
      acts = await this.features(images, featureOptions);
    }
    const owned = [];
    try {
      const actWidth = acts.shape[1];
      const n = ys.length;
      const split = o.validationSplit ?? (n >= 10 ? 0.2 : 0);
      // Which photos are held out: the library's rule (each class in proportion, seeded).
      const { order, nVal, warnings } = stratifiedSplit(ys, names, split, seed);
      const ax = new Float32Array(n * actWidth);
      const y = new Uint32Array(n);
      order.forEach((src, dst) => {
        ax.set(acts.data.subarray(src * actWidth, (src + 1) * actWidth), dst * actWidth);
        y[dst] = ys[src];
      });
      acts = null;
      // Varied copies of the training photos (never of the held-out ones), computed once:
      // Keras' augmentation layers in training mode.
      let trainA = ax.subarray(0, (n - nVal) * actWidth);
      let trainY = y.subarray(0, n - nVal);
      const augment = normalizeAugment(o.augment);
      const views = augment ? Math.max(1, Math.min(16, Math.round(o.views ?? 2))) : 0;
      if (augment && n - nVal > 0) {
        const extractor = this.featureExtractor(layer);
        owned.push(extractor);
        const trainImages = order.slice(0, n - nVal).map((i) => images[i]);
        const total = trainImages.length * views;
        const vx = new Float32Array(total * actWidth);
        const vy = new Uint32Array(total);
        let done = 0;
        const step = 8;
        for (let start = 0; start < trainImages.length; start += step) {
          if (signal?.aborted) throw signal.reason ?? error('aborted');
          const batch = trainImages.slice(start, start + step);
          const prepared = await this.prepareImages(batch);
          let all;
          try {
            all = wasm.augmentViews(prepared.data, prepared.shape, JSON.stringify(augment), views, seed, start / step);
          } catch (e) {
            throw asError(e);
          }
          const per = prepared.data.length;
          for (let v = 0; v < views; v++) {
            const f = await extractor.predict(all.subarray(v * per, (v + 1) * per), prepared.shape);
            for (let i = 0; i < batch.length; i++) {
              const row = (start + i) * views + v;
              vx.set(f.data.subarray(i * actWidth, (i + 1) * actWidth), row * actWidth);
              vy[row] = y[start + i];
            }
            done += batch.length;
            onProgress?.({ phase: 'views', done, total });
            await nextTask();
          }
        }
        trainA = concat(trainA, vx);
        trainY = concat(trainY, vy);
      }
      const valA = ax.subarray((n - nVal) * actWidth);
      const valY = y.subarray(n - nVal);
      // The rest is the library's: the head, its training, the second step, the whole model.
      const phaseEpochs = { train: epochs, 'fine-tune': o.fineTuneEpochs };
      const r = await onEngine(this.#engine, this.#live().teach(cut, trainA, trainY, valA, valY, names, {
        epochs, batchSize, seed, hidden: o.hidden, learningRate: o.learningRate,
        fineTuneEpochs: tuneCut ? o.fineTuneEpochs : 0, fineTuneLearningRate: o.fineTuneLearningRate,
        augment: augment ?? undefined, tuneCut: tuneCut ?? undefined, keepFrom: o.keepFrom ?? undefined,
        signal, onEpochEnd: o.onEpochEnd,
        onBatchEnd: (b, logs) => {
          const phase = logs.phase ?? 'train';
          onProgress?.({ phase, epoch: logs.epoch, batch: b, batches: logs.batches, epochs: phaseEpochs[phase], ...logs });
          o.onBatchEnd?.(b, logs);
        },
      }));
      const meta = { labels: names, preprocessing: this.preprocessing, featuresLayer: cut };
      const model = new Model(r.model, meta);
      const trained = new Model(r.head, {});
      if (signal?.aborted) {
        // As fit() does: an abort rejects with the signal's reason (what was learned is dropped).
        model.dispose();
        trained.dispose();
        throw signal.reason ?? error('training was aborted');
      }
      const validation = nVal > 0 ? { labels: Array.from(valY), predictions: Array.from(r.predictions) } : null;
      for (const s of skipped) {
        warnings.unshift(`${s.image?.name ?? 'a photo'} of '${s.label}' was left out: ${s.error}`);
      }
      return { model, head: trained, history: r.history, validation, warnings, skipped };
    } finally {
      for (const m of owned) m.dispose();
    }
  }





  /** Frees the model's memory now. */
  dispose() {
    if (this.#raw) {
      // A stopped engine's memory is gone with it: nothing to free.
      if (!this.#engine?.dead) this.#raw.free();
      this.#raw = null;
    }
  }
}
