// One engine per (fresh) page: ?engine=glimpse-cpu | glimpse-cpu-worker | glimpse-cpu-workers |
// glimpse-webgpu | ort-wasm | ort-wasm-threads | ort-webgpu | tfjs-wasm | tfjs-webgl | tfjs-webgpu.
// EfficientNet-Lite0 with the same weights everywhere (Glimpse's converted Keras model; ORT gets
// the ONNX file bench/onnx_export.py writes from it, TF.js the layers-format model
// bench/tfjs_export.py writes from it). Each engine takes its best configuration for the page it
// is on: run.mjs serves this page both plainly and cross-origin isolated (COOP + COEP: then
// SharedArrayBuffer, so wasm threads), and the result says which (crossOriginIsolated) and how
// many threads each engine says it runs (threads). Workloads (?work=, comma separated, default
// all):
//   first     only the time to the first prediction (run.mjs's repeats on fresh pages), split into
//             phases for Glimpse;
//   latency   warm up, then leave window.latencyRound(k) for run.mjs to time k predictions
//             (it interleaves the engines' rounds);
//   infer     time to first prediction from page start (download + compile + warm-up + one
//             prediction), single-image latency p50/p95, batch throughput, top-1 on the golden
//             cat photo and its probabilities (run.mjs compares them across engines);
//   memory    peak JS heap and wasm memory over `memRuns` more single predictions;
//   train     the course CIFAR-10 CNN (bench/course_cnn.py: same initial weights for Glimpse and
//             TF.js), `trainN` random 32x32x3 images, batch 32, Adam, `trainEpochs` epochs; ms per
//             step from the epochs after the first;
//   transfer  EfficientNet-Lite0 features (1280-d, avg_pool) of `transferN` images made in the
//             page from the fixture photos (crops, flips, shifts), then a Dense softmax head
//             (1280 -> 7 photos) trained on them: Adam, `headEpochs` epochs, batch 32.
const q = new URLSearchParams(location.search);
const engine = q.get('engine');
const num = (k, d) => Number(q.get(k) ?? d);
const iters = num('iters', 20);
const warmUpMs = num('warmUpMs', 3000);
const batch = num('batch', 32);
const batchRuns = num('batchRuns', 3);
const memRuns = num('memRuns', 200);
const trainN = num('trainN', 320);
const trainEpochs = num('trainEpochs', 3);
const transferN = num('transferN', 100);
const featureBatch = num('featureBatch', 10);
const headEpochs = num('headEpochs', 20);
const work = (q.get('work') ?? 'infer,memory,train,transfer').split(',');
const log = (s) => {
  document.getElementById('log').textContent += s + '\n';
  console.log(`[bench] ${engine}${self.crossOriginIsolated ? ' · isolated' : ''}: ${s.split('\n')[0]}`); // run.mjs prints these as progress
};
const PHOTOS = ['chelsea', 'astronaut', 'china', 'coffee', 'flower', 'motorcycle', 'rocket'];
const LR = 0.001;

async function photoBitmap(name) {
  const blob = await (await fetch(`/tests/fixtures/efficientnet/${name}_224.png`)).blob();
  return createImageBitmap(blob, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
}

function rgbaOf(source, draw) {
  const c = new OffscreenCanvas(224, 224);
  const ctx = c.getContext('2d', { willReadFrequently: true });
  draw(ctx, source);
  return ctx.getImageData(0, 0, 224, 224).data;
}

async function goldenPixels() {
  return rgbaOf(await photoBitmap('chelsea'), (ctx, b) => ctx.drawImage(b, 0, 0));
}

// A small seeded generator (LCG): the same images and labels in every engine's page.
function rng(seed) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

// n distinct 224x224 images from the fixture photos: a random crop (60-100% of the side) at a
// random place, scaled back to 224, mirrored every other time. Labels: which photo.
async function transferImages(n) {
  const bitmaps = await Promise.all(PHOTOS.map(photoBitmap));
  const r = rng(7);
  const x = new Float32Array(n * 224 * 224 * 3);
  const labels = new Int32Array(n);
  for (let k = 0; k < n; k++) {
    const p = k % PHOTOS.length;
    const side = Math.round(224 * (0.6 + 0.4 * r()));
    const sx = Math.floor(r() * (224 - side + 1));
    const sy = Math.floor(r() * (224 - side + 1));
    const flip = Math.floor(k / PHOTOS.length) % 2 === 1;
    const px = rgbaOf(bitmaps[p], (ctx, b) => {
      if (flip) {
        ctx.translate(224, 0);
        ctx.scale(-1, 1);
      }
      ctx.drawImage(b, sx, sy, side, side, 0, 0, 224, 224);
    });
    const o = k * 224 * 224 * 3;
    for (let i = 0; i < 224 * 224; i++) for (let c = 0; c < 3; c++) x[o + i * 3 + c] = px[i * 4 + c];
    labels[k] = p;
  }
  return { x, labels, classes: PHOTOS.length };
}

// Batch inputs this page made (tens of MB): detached once the throughput run is over, so that
// every engine's memory loop starts without the bench's own garbage (V8 frees large buffers
// late).
const scratch = [];
const track = (a, n) => (n > 1 && scratch.push(a), a);
const releaseScratch = () => scratch.splice(0).forEach((a) => a.buffer.transfer?.(0));

function nhwc(px, n) {
  const one = new Float32Array(224 * 224 * 3);
  for (let i = 0; i < 224 * 224; i++) for (let c = 0; c < 3; c++) one[i * 3 + c] = px[i * 4 + c];
  const x = new Float32Array(n * one.length);
  for (let k = 0; k < n; k++) x.set(one, k * one.length);
  return track(x, n);
}

// NHWC float images -> NCHW (ONNX layout).
function toNchw(x, n, h = 224, w = 224, ch = 3) {
  const out = track(new Float32Array(x.length), n);
  for (let k = 0; k < n; k++) {
    const o = k * h * w * ch;
    for (let i = 0; i < h * w; i++) for (let c = 0; c < ch; c++) out[o + c * h * w + i] = x[o + i * ch + c];
  }
  return out;
}

function oneHot(labels, classes) {
  const y = new Float32Array(labels.length * classes);
  labels.forEach((l, i) => (y[i * classes + l] = 1));
  return y;
}

async function fetchBytes(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`cannot download ${url}: HTTP ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
}

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const s = document.createElement('script');
    s.src = src;
    s.onload = resolve;
    s.onerror = () => reject(new Error(`cannot load ${src}`));
    document.head.append(s);
  });
}

// Epoch-end timestamps -> ms per step, leaving out the first epoch (compilation, warm-up).
function msPerStep(ends, start, stepsPerEpoch) {
  if (ends.length < 2) return (ends[0] - start) / stepsPerEpoch;
  return (ends[ends.length - 1] - ends[0]) / ((ends.length - 1) * stepsPerEpoch);
}

const plural = (n, what) => `${n} ${what}${n === 1 ? '' : 's'}`;

// glimpse-cpu: the package's main API on the page's thread. glimpse-cpu-worker: the same
// workloads through its Web Worker client (createWorker(): the same API, every call a message);
// in a worker on a cross-origin-isolated page ready() may load a threaded engine, and says so in
// `threads` (absent: one thread). glimpse-cpu-workers: the main API, features() spreading its
// batches over `helpers` helper Web Workers (no cross-origin isolation needed).
async function glimpseEngine(backend, { worker = false, helpers = 1 } = {}) {
  // The cold start's phases (run.mjs's first-prediction table), from navigation start.
  const start = performance.now();
  // The package's single-file entries (pkg/*.bundle.js), as the peers load their dist/*.min.js.
  const g = worker
    ? (await import('/pkg/client.js')).createWorker('/pkg/worker.bundle.js')
    : await import('/pkg/index.bundle.js');
  const info = await g.ready({ backend });
  const ready = performance.now();
  // No warm-up inside: the WebGPU one (its kernels compile) is a phase of its own.
  const net = await g.loadPretrained('efficientnet-lite0', { baseUrl: '/models/efficientnet-lite0/', warmUp: false });
  const loaded = performance.now();
  if (info.backend === 'webgpu' && net.warmUp) await net.warmUp();
  const warm = performance.now();
  const threads = info.threads ?? 1;
  const engine = {
    info: `Glimpse ${info.backend}${worker ? ' in a Web Worker' : ''}: ${info.adapter}` +
      (info.backend === 'cpu' ? `, ${plural(threads, 'thread')}` : '') +
      (helpers > 1 ? `, features on ${helpers} threads (helper workers)` : ''),
    threads: info.backend === 'cpu' ? threads : undefined,
    phases: { pageMs: start, engineMs: ready - start, modelMs: loaded - ready, warmUpMs: warm - loaded, endMs: warm },
    prepare: (px, n) => ({ data: nhwc(px, n), n }),
    run: async ({ data, n }) => (await net.predict(data, [n, 224, 224, 3])).data,
    wasmMemory: () => g.memoryBytes(),
    // performance.memory is the page's heap: the worker's (where the engine lives) is not in it.
    heapHidden: worker ? "n/a (the engine's heap is the worker's)" : null,
    async trainCnn(x, labels, { epochs, batchSize }) {
      const model = await g.loadModel({
        structure: await (await fetch('/bench-data/cifar_cnn.json')).text(),
        weights: await fetchBytes('/bench-data/cifar_cnn.weights.h5'),
      });
      const ends = [];
      const start = performance.now();
      const h = await model.fit(x, labels, {
        epochs, batchSize, optimizer: 'adam', learningRate: LR, shuffle: true, seed: 1,
        onEpochEnd: () => ends.push(performance.now()),
      });
      await model.dispose();
      return { ends, start, loss: h.history.loss };
    },
    async features(x, n, b) {
      const fx = await net.featureExtractor();
      const out = [];
      const t = performance.now();
      for (let i = 0; i < n; i += b) {
        const m = Math.min(b, n - i);
        out.push((await fx.predict(x.subarray(i * 150528, (i + m) * 150528), [m, 224, 224, 3])).data);
      }
      const ms = performance.now() - t;
      await fx.dispose();
      return { ms, width: out[0].length / Math.min(b, n), data: out };
    },
    async trainHead(f, labels, classes, { epochs, batchSize }) {
      const head = await g.createHead({ features: f.length / labels.length, classes, seed: 1 });
      const t = performance.now();
      const h = await head.fit(f, Array.from(labels), { epochs, batchSize, optimizer: 'adam', learningRate: LR, shuffle: true, seed: 1 });
      const ms = performance.now() - t;
      await head.dispose();
      return { ms, accuracy: h.history.accuracy.at(-1) };
    },
  };
  if (helpers > 1) {
    // features(images, { workers }): the inputs as ImageData (made before timing), taken as
    // they are (no crop, same size), so the network sees exactly the tensors above; the
    // helpers' start (engine instance, model copy) is inside the time.
    engine.features = async (x, n, b) => {
      const images = [];
      for (let i = 0; i < n; i++) {
        const img = new ImageData(224, 224);
        for (let p = 0; p < 224 * 224; p++) {
          for (let c = 0; c < 3; c++) img.data[p * 4 + c] = x[i * 150528 + p * 3 + c];
          img.data[p * 4 + 3] = 255;
        }
        images.push(img);
      }
      const kept = net.preprocessing;
      net.preprocessing = { size: 224, crop_fraction: 1, resize: 'nearest', scale: 1 };
      const t = performance.now();
      const f = await net.features(images, { batchSize: b, workers: helpers });
      const ms = performance.now() - t;
      net.preprocessing = kept;
      // The same values as the one-thread path on the first batch.
      const fx = net.featureExtractor();
      const m = Math.min(b, n);
      const ref = (await fx.predict(x.subarray(0, m * 150528), [m, 224, 224, 3])).data;
      fx.dispose();
      const diff = ref.reduce((d, v, i) => Math.max(d, Math.abs(v - f.data[i])), 0);
      if (diff > 1e-5) throw new Error(`features on ${helpers} threads differ from one thread's by ${diff}`);
      return { ms, width: f.shape[1], data: [f.data] };
    };
  }
  return engine;
}

// ort-wasm: numThreads 1; ort-wasm-threads: numThreads = `threads` (the page's
// hardwareConcurrency). onnxruntime-web falls back to one thread where the page cannot share
// memory (not cross-origin isolated) and writes what it uses back to env.wasm.numThreads.
async function ortEngine(ep, threads = 1) {
  const ort = await import(ep === 'webgpu'
    ? '/bench/node_modules/onnxruntime-web/dist/ort.webgpu.min.mjs'
    : '/bench/node_modules/onnxruntime-web/dist/ort.wasm.min.mjs');
  ort.env.wasm.wasmPaths = '/bench/node_modules/onnxruntime-web/dist/';
  ort.env.wasm.numThreads = threads;
  const session = async (file) => {
    try {
      return await ort.InferenceSession.create(await fetchBytes(`/bench-data/${file}`), { executionProviders: [ep] });
    } catch (e) {
      throw new Error(`onnxruntime-web session (${ep}): ${typeof e === 'number' ? `wasm exception ${e}` : e}`);
    }
  };
  const runOn = async (s, tensor) => {
    let out;
    try {
      out = await s.run({ image: tensor });
    } catch (e) {
      throw new Error(`onnxruntime-web run (${ep}): ${typeof e === 'number' ? `wasm exception ${e}` : e}`);
    }
    const y = Object.values(out)[0];
    return y.getData ? await y.getData() : y.data;
  };
  const net = await session('efficientnet-lite0.onnx');
  const used = ort.env.wasm.numThreads;
  return {
    info: `onnxruntime-web ${ort.env.versions?.web ?? ''} ${ep}` +
      (ep === 'wasm' ? `, ${plural(used, 'thread')}${used === threads ? '' : ` (numThreads ${threads} asked)`}` : ''),
    threads: ep === 'wasm' ? used : undefined,
    threadsAsked: ep === 'wasm' ? threads : undefined,
    prepare: (px, n) => ({ tensor: new ort.Tensor('float32', toNchw(nhwc(px, n), n), [n, 3, 224, 224]) }),
    run: ({ tensor }) => runOn(net, tensor),
    wasmMemory: null, // ORT's wasm instance is internal to the package: not reachable from the page
    trainCnn: 'n/a (inference only)',
    async features(x, n, b) {
      const fs = await session('efficientnet-lite0-features.onnx');
      const tensors = [];
      for (let i = 0; i < n; i += b) {
        const m = Math.min(b, n - i);
        tensors.push(new ort.Tensor('float32', toNchw(x.subarray(i * 150528, (i + m) * 150528), m), [m, 3, 224, 224]));
      }
      const out = [];
      const t = performance.now();
      for (const tensor of tensors) out.push(await runOn(fs, tensor));
      const ms = performance.now() - t;
      await fs.release?.();
      return { ms, width: out[0].length / tensors[0].dims[0], data: out };
    },
    trainHead: 'n/a (inference only)',
  };
}

async function tfjsEngine(backend) {
  const nm = '/bench/node_modules/@tensorflow';
  await loadScript(`${nm}/tfjs/dist/tf.min.js`);
  const tf = window.tf;
  let detail = '';
  // On a cross-origin-isolated page TF.js loads its threaded SIMD binary (it needs
  // SharedArrayBuffer) and runs at most the threads asked for (getThreadsCount() says how many);
  // elsewhere its SIMD binary on one thread.
  const threadsAsked = backend === 'wasm' && self.crossOriginIsolated ? navigator.hardwareConcurrency : undefined;
  if (backend === 'wasm') {
    await loadScript(`${nm}/tfjs-backend-wasm/dist/tf-backend-wasm.min.js`);
    tf.wasm.setWasmPaths(`${nm}/tfjs-backend-wasm/dist/`);
    if (threadsAsked) tf.wasm.setThreadsCount(threadsAsked);
  } else if (backend === 'webgpu') {
    await loadScript(`${nm}/tfjs-backend-webgpu/dist/tf-backend-webgpu.min.js`);
  }
  // setBackend resolves to false (and TF.js logs the cause) when the backend cannot start, e.g.
  // no WebGL context: keep the logged line for the error.
  const warnings = [];
  const warn = console.warn;
  console.warn = (...a) => {
    warnings.push(a.map(String).join(' '));
    warn.apply(console, a);
  };
  let ok;
  try {
    ok = await tf.setBackend(backend);
  } finally {
    console.warn = warn;
  }
  if (!ok || tf.getBackend() !== backend) {
    throw new Error(`TF.js ${backend} backend did not start: ${warnings.filter(Boolean).join(' | ') || 'no reason given'}`);
  }
  await tf.ready();
  let threads;
  if (backend === 'wasm') {
    // The binary TF.js picked: threaded SIMD where both are there (backend_wasm.js' rule).
    const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
    const mt = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
    threads = tf.wasm.getThreadsCount();
    const asked = threadsAsked && threadsAsked !== threads ? `, ${threadsAsked} asked` : '';
    detail = ` (${simd ? (mt ? 'threaded SIMD' : 'SIMD') : mt ? 'threaded, no SIMD' : 'no SIMD'}, ${plural(threads, 'thread')}${asked})`;
  } else if (backend === 'webgl') {
    try {
      const gl = tf.backend().gpgpu.gl;
      const ext = gl.getExtension('WEBGL_debug_renderer_info');
      detail = `: ${gl.getParameter(ext ? ext.UNMASKED_RENDERER_WEBGL : gl.RENDERER)} (WebGL ${tf.env().get('WEBGL_VERSION')})`;
    } catch {
      detail = '';
    }
  } else if (backend === 'webgpu') {
    try {
      const i = tf.backend().adapterInfo;
      detail = `: ${[i?.vendor, i?.architecture].filter(Boolean).join(' ')}`;
    } catch {
      detail = '';
    }
  }
  // TF.js' smallest download (float16-quantized weights, float32 compute), like Glimpse's default.
  const net = await tf.loadLayersModel('/bench-data/efficientnet-lite0-tfjs-f16/model.json');
  const predict = async (x) => {
    const y = net.predict(x);
    const d = await y.data();
    y.dispose();
    return d;
  };
  const fitCnn = async (x, labels, { epochs, batchSize }) => {
    const model = await tf.loadLayersModel('/bench-data/cifar_cnn-tfjs/model.json');
    model.compile({ optimizer: tf.train.adam(LR), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    const xs = tf.tensor4d(x, [labels.length, 32, 32, 3]);
    const ys = tf.tensor2d(oneHot(labels, 10), [labels.length, 10]);
    const ends = [];
    const start = performance.now();
    try {
      const h = await model.fit(xs, ys, {
        epochs, batchSize, shuffle: true, yieldEvery: 'never',
        callbacks: { onEpochEnd: async () => ends.push(performance.now()) },
      });
      return { ends, start, loss: h.history.loss };
    } finally {
      tf.dispose([xs, ys]);
      model.dispose();
    }
  };
  return {
    info: `TF.js ${tf.version.tfjs} ${backend}${detail}`,
    threads,
    threadsAsked,
    prepare: (px, n) => tf.tensor4d(nhwc(px, n), [n, 224, 224, 3]),
    run: predict,
    wasmMemory: backend === 'wasm' ? () => tf.backend().wasm.HEAPU8.buffer.byteLength : null,
    tensorMemory: () => tf.memory(),
    async trainCnn(x, labels, opts) {
      try {
        return await fitCnn(x, labels, opts);
      } catch (err) {
        // TF.js' wasm backend has no gradient kernels for convolutions: train on its plain-JS
        // cpu backend instead (the last workload of the page, so nothing else moves).
        if (backend !== 'wasm' || !/not registered/.test(err.message)) throw err;
        // That backend takes ~45 s a step here: one batch, 3 epochs (2 steps timed).
        await tf.setBackend('cpu');
        const r = await fitCnn(x.subarray(0, 32 * 3072), labels.subarray(0, 32), { ...opts, epochs: 3 });
        const kernel = err.message.match(/'(\w+)'/)?.[1] ?? 'conv gradient';
        return { ...r, n: 32, epochs: 3, note: `TF.js' cpu backend (plain JS), 32 images x 3 epochs: the wasm backend has no ${kernel} kernel` };
      }
    },
    async features(x, n, b) {
      const fx = tf.model({ inputs: net.inputs, outputs: net.getLayer('avg_pool').output });
      const inputs = [];
      for (let i = 0; i < n; i += b) {
        const m = Math.min(b, n - i);
        inputs.push(tf.tensor4d(x.subarray(i * 150528, (i + m) * 150528), [m, 224, 224, 3]));
      }
      const out = [];
      const t = performance.now();
      for (const xi of inputs) {
        const y = fx.predict(xi);
        out.push(await y.data());
        y.dispose();
      }
      const ms = performance.now() - t;
      tf.dispose(inputs);
      return { ms, width: out[0].length / inputs[0].shape[0], data: out };
    },
    async trainHead(f, labels, classes, { epochs, batchSize }) {
      const width = f.length / labels.length;
      const head = tf.sequential({ layers: [tf.layers.dense({ inputShape: [width], units: classes, activation: 'softmax' })] });
      head.compile({ optimizer: tf.train.adam(LR), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
      const xs = tf.tensor2d(f, [labels.length, width]);
      const ys = tf.tensor2d(oneHot(labels, classes), [labels.length, classes]);
      const t = performance.now();
      const h = await head.fit(xs, ys, { epochs, batchSize, shuffle: true, yieldEvery: 'never' });
      const ms = performance.now() - t;
      tf.dispose([xs, ys]);
      head.dispose();
      const acc = h.history.acc ?? h.history.accuracy;
      return { ms, accuracy: acc.at(-1) };
    },
  };
}

function pct(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const jsHeap = () => performance.memory?.usedJSHeapSize ?? null;

// The first prediction on the golden photo, timed from navigation start. Glimpse's pages split
// that time into phases that add up to it: page (HTML, this script), engine (ready(): fetch,
// compile, instantiate), model (loadPretrained(): weights download and parse), warm-up (WebGPU
// only), input (the photo's fetch and decode, its tensor) and the prediction itself. run.mjs
// counts the bytes the page has downloaded when benchFirstPrediction() is called.
async function firstPrediction(e, result) {
  const px = await goldenPixels();
  const one = e.prepare(px, 1);
  const inputReady = performance.now();
  const y = await e.run(one);
  const done = performance.now();
  result.firstPredictionMs = Math.round(done);
  result.top1 = y.indexOf(Math.max(...y));
  if (e.phases) {
    const { endMs, ...p } = e.phases;
    const ms = { ...p, inputMs: inputReady - endMs, predictMs: done - inputReady, totalMs: done };
    result.phases = Object.fromEntries(Object.entries(ms).map(([k, v]) => [k, Math.round(v)]));
  }
  await window.benchFirstPrediction?.();
  return { px, one, y };
}

async function infer(e, result) {
  const { px, one, y } = await firstPrediction(e, result);
  result.probs = Array.from(y.subarray(0, 1000));
  // Warm-up: wasm engines start on baseline code and switch to optimised code as V8 compiles
  // it in the background, which takes longer for a larger module. Run for warmUpMs (at least
  // three predictions) so every engine is timed in its steady state.
  const warm = performance.now();
  for (let i = 0; i < 3 || performance.now() - warm < warmUpMs; i++) await e.run(one);
  const times = [];
  for (let i = 0; i < iters; i++) {
    const t = performance.now();
    await e.run(one);
    times.push(performance.now() - t);
  }
  result.latenciesMs = times.map((t) => +t.toFixed(1));
  times.sort((a, b) => a - b);
  Object.assign(result, { p50Ms: +pct(times, 50).toFixed(1), p95Ms: +pct(times, 95).toFixed(1), iters, warmUpMs });
  const many = e.prepare(px, batch);
  await e.run(many);
  const t = performance.now();
  for (let i = 0; i < batchRuns; i++) await e.run(many);
  Object.assign(result, { batch, batchImgPerS: +((batch * batchRuns) / ((performance.now() - t) / 1000)).toFixed(2) });
  many.dispose?.();
  releaseScratch();
  return one;
}

async function memory(e, one) {
  // Collect what loading and the earlier workloads left behind (the weights download, the
  // batch-of-32 input), so the peak is each engine's own while predicting.
  globalThis.gc?.();
  const wasm0 = e.wasmMemory ? await e.wasmMemory() : null;
  const start = jsHeap();
  let peak = start;
  for (let i = 0; i < memRuns; i++) {
    await e.run(one);
    peak = Math.max(peak, jsHeap());
  }
  const m = e.heapHidden ? { memRuns, jsHeap: e.heapHidden } : { memRuns, jsHeapStartBytes: start, jsHeapPeakBytes: peak, jsHeapBytes: jsHeap() };
  // What the loop kept: the heap after a full collection (garbage it made is not counted).
  globalThis.gc?.();
  if (!e.heapHidden) m.jsHeapRetainedBytes = jsHeap();
  if (e.wasmMemory) {
    const bytes = await e.wasmMemory();
    Object.assign(m, { wasmMemoryBytes: bytes, wasmMemoryGrowth: bytes - wasm0 });
  }
  else m.wasmMemory = 'n/a (not reachable from the page)';
  if (e.tensorMemory) {
    const t = e.tensorMemory();
    Object.assign(m, { tensorBytes: t.numBytes, tensors: t.numTensors });
  }
  return m;
}

async function train(e) {
  if (typeof e.trainCnn === 'string') return { na: e.trainCnn };
  const r = rng(3);
  const x = new Float32Array(trainN * 32 * 32 * 3).map(() => r());
  const labels = Int32Array.from({ length: trainN }, (_, i) => i % 10);
  const t = await e.trainCnn(x, labels, { epochs: trainEpochs, batchSize: 32 });
  const { ends, start, loss, note, n = trainN, epochs = trainEpochs } = t;
  return {
    note, n, epochs, stepsPerEpoch: Math.ceil(n / 32), firstEpochS: +((ends[0] - start) / 1000).toFixed(2),
    msPerStep: +msPerStep(ends, start, Math.ceil(n / 32)).toFixed(1), loss: loss.map((l) => +Number(l).toFixed(4)),
  };
}

async function transfer(e) {
  const { x, labels, classes } = await transferImages(transferN);
  const f = await e.features(x, transferN, featureBatch);
  const out = { n: transferN, featureBatch, featuresS: +(f.ms / 1000).toFixed(2), featuresMsPerImage: +(f.ms / transferN).toFixed(1), width: f.width };
  if (typeof e.trainHead === 'string') return { ...out, head: e.trainHead };
  const feats = new Float32Array(transferN * f.width);
  let at = 0;
  for (const d of f.data) {
    feats.set(d, at);
    at += d.length;
  }
  const h = await e.trainHead(feats, labels, classes, { epochs: headEpochs, batchSize: 32 });
  return { ...out, headEpochs, classes, headS: +(h.ms / 1000).toFixed(2), headAccuracy: +Number(h.accuracy).toFixed(3) };
}

async function main() {
  // run.mjs checks that the page is isolated exactly when it served it so.
  const cores = navigator.hardwareConcurrency || 1;
  const result = { engine, crossOriginIsolated: self.crossOriginIsolated, hardwareConcurrency: cores };
  const [kind, backend] = engine.split('-');
  const e = kind === 'glimpse'
    ? await glimpseEngine(backend, { worker: engine.endsWith('-worker'), helpers: engine.endsWith('-workers') ? Math.min(4, cores) : 1 })
    : kind === 'ort' ? await ortEngine(backend, engine.endsWith('-threads') ? cores : 1) : await tfjsEngine(backend);
  Object.assign(result, { info: e.info, threads: e.threads, threadsAsked: e.threadsAsked });
  // Each workload on its own: one failing leaves its error line and the others still run.
  const step = async (name, f) => {
    if (!work.includes(name)) return;
    try {
      log(`${name}...`);
      const t = performance.now();
      result[name] = await f();
      log(`${name}: ${((performance.now() - t) / 1000).toFixed(1)} s`);
    } catch (err) {
      result[name] = { error: String(err?.message ?? err).split('\n')[0] };
      log(`${name} failed: ${err?.stack ?? err}`);
    }
  };
  let one = null;
  if (work.includes('latency')) {
    // Set up for run.mjs's interleaved latency rounds: warm up, then wait to be driven.
    one = e.prepare(await goldenPixels(), 1);
    const warm = performance.now();
    for (let i = 0; i < 3 || performance.now() - warm < warmUpMs; i++) await e.run(one);
    window.latencyRound = async (k) => {
      const times = [];
      for (let i = 0; i < k; i++) {
        const t = performance.now();
        await e.run(one);
        times.push(performance.now() - t);
      }
      return times;
    };
    return result;
  }
  // Only the time to the first prediction (run.mjs repeats it on fresh pages).
  if (work.includes('first')) await firstPrediction(e, result);
  if (work.includes('infer')) {
    const r = { };
    one = await infer(e, r); // a failing inference fails the page: nothing else is comparable then
    Object.assign(result, r);
    log(`infer: top-1 ${r.top1}, p50 ${r.p50Ms} ms`);
  }
  if (memRuns > 0 && one) await step('memory', () => memory(e, one));
  await step('transfer', () => transfer(e));
  await step('train', () => train(e)); // last: TF.js wasm switches to its cpu backend for it
  document.getElementById('log').textContent += JSON.stringify({ ...result, probs: undefined }, null, 2);
  return result;
}

window.benchDone = main().catch((err) => ({ engine, error: String(err?.stack ?? err) }));
