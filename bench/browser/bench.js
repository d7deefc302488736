// One engine per (fresh) page: ?engine=glimpse-cpu | glimpse-webgpu | ort-wasm | ort-webgpu.
// EfficientNet-Lite0 with the same weights everywhere (Glimpse's converted Keras model; ORT gets
// the ONNX file bench/onnx_export.py writes from it). Measures: time to first prediction from
// page start (download + compile + warm-up + one prediction), single-image latency p50/p95,
// batch throughput; checks the top-1 class on the golden cat photo.
const q = new URLSearchParams(location.search);
const engine = q.get('engine');
const iters = Number(q.get('iters') ?? 20);
const batch = Number(q.get('batch') ?? 32);
const batchRuns = Number(q.get('batchRuns') ?? 3);
const memRuns = Number(q.get('memRuns') ?? 200);
const log = (s) => (document.getElementById('log').textContent += s + '\n');

async function goldenPixels() {
  const blob = await (await fetch('/tests/fixtures/efficientnet/chelsea_224.png')).blob();
  const bmp = await createImageBitmap(blob, { colorSpaceConversion: 'none' });
  const c = new OffscreenCanvas(224, 224);
  const ctx = c.getContext('2d');
  ctx.drawImage(bmp, 0, 0);
  return ctx.getImageData(0, 0, 224, 224).data;
}

function nhwc(px, n) {
  const one = new Float32Array(224 * 224 * 3);
  for (let i = 0; i < 224 * 224; i++) for (let c = 0; c < 3; c++) one[i * 3 + c] = px[i * 4 + c];
  const x = new Float32Array(n * one.length);
  for (let k = 0; k < n; k++) x.set(one, k * one.length);
  return x;
}

function nchw(px, n) {
  const one = new Float32Array(3 * 224 * 224);
  for (let i = 0; i < 224 * 224; i++) for (let c = 0; c < 3; c++) one[c * 224 * 224 + i] = px[i * 4 + c];
  const x = new Float32Array(n * one.length);
  for (let k = 0; k < n; k++) x.set(one, k * one.length);
  return x;
}

async function glimpseEngine(backend) {
  const g = await import('/pkg/index.js');
  const info = await g.ready({ backend });
  const net = await g.loadPretrained('efficientnet-lite0', { baseUrl: '/models/efficientnet-lite0/' });
  return {
    info: `${info.backend}: ${info.adapter}`,
    prepare: (px, n) => ({ data: nhwc(px, n), n }),
    run: async ({ data, n }) => (await net.predict(data, [n, 224, 224, 3])).data,
    memory: () => g.memoryBytes(),
  };
}

async function ortEngine(ep) {
  const ort = await import(ep === 'webgpu'
    ? '/bench/node_modules/onnxruntime-web/dist/ort.webgpu.min.mjs'
    : '/bench/node_modules/onnxruntime-web/dist/ort.wasm.min.mjs');
  ort.env.wasm.wasmPaths = '/bench/node_modules/onnxruntime-web/dist/';
  ort.env.wasm.numThreads = 1;
  const model = new Uint8Array(await (await fetch('/bench-data/efficientnet-lite0.onnx')).arrayBuffer());
  let session;
  try {
    session = await ort.InferenceSession.create(model, { executionProviders: [ep] });
  } catch (e) {
    throw new Error(`onnxruntime-web session (${ep}): ${typeof e === 'number' ? `wasm exception ${e}` : e}`);
  }
  return {
    info: `onnxruntime-web ${ort.env.versions?.web ?? ''} ${ep}`,
    prepare: (px, n) => ({ tensor: new ort.Tensor('float32', nchw(px, n), [n, 3, 224, 224]) }),
    run: async ({ tensor }) => {
      let out;
      try {
        out = await session.run({ image: tensor });
      } catch (e) {
        throw new Error(`onnxruntime-web run (${ep}): ${typeof e === 'number' ? `wasm exception ${e}` : e}`);
      }
      return Object.values(out)[0].getData ? await Object.values(out)[0].getData() : Object.values(out)[0].data;
    },
    memory: () => 0,
  };
}

function pct(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function main() {
  const px = await goldenPixels();
  const e = engine.startsWith('glimpse')
    ? await glimpseEngine(engine.split('-')[1])
    : await ortEngine(engine.split('-')[1]);
  const one = e.prepare(px, 1);
  const y = await e.run(one);
  const firstPredictionMs = performance.now();
  const top1 = y.indexOf(Math.max(...y));
  for (let i = 0; i < 2; i++) await e.run(one);
  const times = [];
  for (let i = 0; i < iters; i++) {
    const t = performance.now();
    await e.run(one);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  const many = e.prepare(px, batch);
  await e.run(many);
  const t = performance.now();
  for (let i = 0; i < batchRuns; i++) await e.run(many);
  const batchImgPerS = (batch * batchRuns) / ((performance.now() - t) / 1000);
  const mem0 = e.memory();
  for (let i = 0; i < memRuns; i++) await e.run(one);
  const result = {
    engine, info: e.info, top1, firstPredictionMs: Math.round(firstPredictionMs),
    p50Ms: +pct(times, 50).toFixed(1), p95Ms: +pct(times, 95).toFixed(1),
    batch, batchImgPerS: +batchImgPerS.toFixed(2),
    wasmMemoryBytes: e.memory(), memRuns, wasmMemoryGrowth: e.memory() - mem0,
    jsHeapBytes: performance.memory?.usedJSHeapSize ?? null,
  };
  log(JSON.stringify(result, null, 2));
  return result;
}

window.benchDone = main().catch((err) => ({ engine, error: String(err?.stack ?? err) }));
