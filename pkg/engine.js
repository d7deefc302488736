// @ts-check
// The engine: which build of it loads (ENGINES, the relaxed-SIMD probe), its download and
// compilation, ready() and the backend chosen, the threaded engine's pool, and an engine
// instance's life (a crash stops it; the next call starts a fresh one). This module owns the
// engine's state: the others read it through wasm(), currentState() and currentEngine().

import { error, shown } from './errors.js';
import { bodyLength, fetchOk } from './io.js';

/** @typedef {import('glimpse-ml').ReadyOptions} ReadyOptions */

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

// The engine in use: its glue module's exports (the API calls them) and its kind.
let engineGlue = null;
let engineKind = null;
let exportsOfWasm = null;
const loadingEngines = {};
let readyInfo = null;
// What the last ready() asked for: an engine that starts afresh after a crash gets the same.
let lastReady = {};
// The engine's compiled WebAssembly.Module (helper workers instantiate it too).
let engineModule = null;


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
    undefined,
    'backend',
  );
  state.fail(state.dead);
  for (const w of state.pool?.workers ?? []) w.terminate();
  delete loadingEngines[state.kind];
  restarts[state.kind] = (restarts[state.kind] ?? 0) + 1;
  if (engineState === state) {
    engineState = null;
    engineGlue = null;
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
export function asError(e, state = engineState) {
  if (e instanceof WebAssembly.RuntimeError) return engineCrashed(state, e.message) ?? e;
  return e instanceof Error ? e : error(String(e), undefined, 'backend');
}

// Awaits an engine promise, rejected as soon as the engine stops.
export async function onEngine(state, promise) {
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
      const timer = setTimeout(() => reject(error(`a thread did not start in ${POOL_START_MS / 1000} s`, undefined, 'backend')), POOL_START_MS);
      w.onmessage = ({ data }) => {
        clearTimeout(timer);
        if (data?.type === 'glimpse-thread-ready') resolve();
        else reject(error(`a thread failed to start: ${data?.message ?? 'unknown error'}`, undefined, 'backend'));
      };
      w.onerror = (ev) => {
        clearTimeout(timer);
        ev.preventDefault?.();
        reject(error(`a thread failed to start: ${ev.message ?? 'unknown error'}`, undefined, 'backend'));
      };
      w.postMessage({ type: 'glimpse-thread', module, memory, stopped: mod.poolStoppedFlag() });
    }))));
    if (state.dead) throw error('the engine stopped', undefined, 'backend');
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
    const total = bodyLength(response);
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
  engineGlue = engine.mod;
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

export async function ensureReady() {
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
    result = engineGlue.setLimits(limits);
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

/** The glue module of the engine in use (the API calls its exports), or null before ready().
 * @returns {any} */
export function wasm() {
  return engineGlue;
}

/** The engine instance in use (its life: see newEngineState), or null before ready(): a model
 * keeps the one it was made on. */
export function currentState() {
  return engineState;
}

/** The engine in use as helper workers need it: its kind ('full', 'cpu' or 'threads'), its
 * compiled module and the backend chosen (null before ready()). */
export function currentEngine() {
  return { kind: engineKind, module: engineModule, backend: readyInfo?.backend ?? null };
}

/** The held-out split transfer() uses (the library's rule, `holdout` in the engine: each class
 * in proportion, seeded): { order: training indices then held-out ones, nVal, warnings }. A
 * class keeps at least one training photo; one with fewer than 5 photos gets a warning. Needs
 * the engine (after ready()).
 * @param {ArrayLike<number>} labels @param {string[]} names @param {number} split @param {number} seed */
export function stratifiedSplit(labels, names, split, seed) {
  if (!wasm()) throw error('stratifiedSplit(): call ready() first (the rule is in the engine)');
  let plan;
  try {
    plan = wasm().holdout(Uint32Array.from(labels), names.map(String), split, seed);
  } catch (e) {
    throw asError(e);
  }
  return { order: [...plan.train, ...plan.validation], nVal: plan.validation.length, warnings: [...plan.warnings] };
}
