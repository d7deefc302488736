// Glimpse's in-browser tests, one backend per page (?backend=cpu|cpu-plain|webgpu, and
// ?engine=chromium|firefox|webkit: which browser runs it). run.mjs opens the page in each browser
// engine and reads window.glimpseResults when window.glimpseDone resolves.
import * as g from '/pkg/index.js';
import { createWorker } from '/pkg/client.js';

// The checks read which files the page loaded (the engines, no foreign origin) from the resource
// timings: keep them all (browsers keep 250 by default, fewer than this suite's requests).
performance.setResourceTimingBufferSize(100_000);

const params = new URLSearchParams(location.search);
// 'cpu-plain': the CPU backend on the CPU-only engine's plain-SIMD module (the one browsers
// without relaxed SIMD load), asked for with cpuWasmUrl; Chromium would load the other.
const asked = params.get('backend') ?? 'cpu';
const plain = asked === 'cpu-plain';
const backend = plain ? 'cpu' : asked;
const only = params.get('only');
const engine = params.get('engine') ?? 'chromium';
const results = [];
const log = (s) => {
  document.getElementById('log').textContent += s + '\n';
};

function assert(cond, message) {
  if (!cond) throw new Error(message);
}

async function test(name, fn) {
  if (only && !name.includes(only)) return;
  const t0 = performance.now();
  try {
    const detail = await fn();
    results.push({ name, ok: true, ms: Math.round(performance.now() - t0), detail: detail ?? null });
    log(`ok   ${name}`);
  } catch (e) {
    results.push({ name, ok: false, ms: Math.round(performance.now() - t0), error: String(e?.stack ?? e) });
    log(`FAIL ${name}: ${e}`);
  }
}

async function bytes(url) {
  const r = await fetch(url);
  assert(r.ok, `${url}: HTTP ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
}

async function npy(url) {
  const buf = await bytes(url);
  const view = new DataView(buf.buffer);
  const headerLen = view.getUint16(8, true);
  const header = new TextDecoder().decode(buf.subarray(10, 10 + headerLen));
  assert(header.includes("'descr': '<f4'"), `${url}: not float32`);
  const shape = header.match(/'shape': \(([^)]*)\)/)[1].split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  const body = buf.slice(10 + headerLen);
  return { data: new Float32Array(body.buffer), shape };
}

// `n` photos of golden photo `name`: crops, every other one mirrored (PNG blobs).
async function variations(name, n) {
  const bmp = await createImageBitmap(new Blob([await bytes(`${FIX}/efficientnet/${name}_224.png`)]));
  const out = [];
  for (let k = 0; k < n; k++) {
    const c = new OffscreenCanvas(160, 160);
    const ctx = c.getContext('2d');
    if (k % 2) { ctx.translate(160, 0); ctx.scale(-1, 1); }
    ctx.drawImage(bmp, k * 8, k * 6, 200 - k * 10, 200 - k * 10, 0, 0, 160, 160);
    out.push(await c.convertToBlob());
  }
  return out;
}

function maxDiff(a, b) {
  assert(a.length === b.length, `lengths differ: ${a.length} vs ${b.length}`);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / Math.max(1, Math.abs(b[i])));
  return worst;
}

// `code`, when given: the kind the Error must say (index.d.ts's ErrorCode).
async function expectError(fn, needle, code) {
  let caught;
  try {
    await fn();
  } catch (e) {
    caught = e;
  }
  assert(caught instanceof Error, `expected an Error mentioning "${needle}", got ${caught}`);
  assert(caught.message.includes(needle), `"${caught.message}" should mention "${needle}"`);
  if (code) assert(caught.code === code, `"${caught.message}": code ${caught.code}, expected ${code}`);
  return caught.message;
}

const FIX = '/tests/fixtures';
const SMALL = ['small_cnn', 'convs', 'dense_acts', 'more_layers', 'conv_transpose'];
const PHOTOS = ['chelsea', 'astronaut', 'coffee', 'china', 'flower', 'motorcycle', 'rocket'];
const timings = {};

async function run() {
  const t0 = performance.now();
  let info;
  await test(`ready({ backend: '${backend}' })`, async () => {
    info = await g.ready({ backend, ...(plain ? { cpuWasmUrl: '/pkg/wasm-cpu/glimpse_bg.wasm' } : {}) });
    assert(info.backend === backend, `asked for ${backend}, got ${info.backend}`);
    assert(typeof info.adapter === 'string' && info.adapter.length > 0, 'adapter is reported');
    timings.readyMs = Math.round(performance.now() - t0);
    // Each backend loads its own engine: the CPU-only build for 'cpu' (its relaxed-SIMD module
    // where the browser has relaxed SIMD, as Chromium and Firefox do; the 'cpu-plain' page runs
    // every CPU test again on the other module), the full one for WebGPU.
    const engines = performance
      .getEntriesByType('resource')
      .map((e) => new URL(e.name).pathname)
      .filter((p) => p.endsWith('_bg.wasm'));
    if (engine === 'chromium') assert(g.hasRelaxedSimd(), 'Chromium validates relaxed SIMD');
    const want = plain || (backend === 'cpu' && !g.hasRelaxedSimd())
      ? '/wasm-cpu/glimpse_bg.wasm'
      : backend === 'cpu'
        ? '/wasm-cpu/glimpse_relaxed_bg.wasm'
        : '/wasm/glimpse_bg.wasm';
    assert(
      engines.length === 1 && engines[0].endsWith(want),
      `the ${backend} backend should load only ${want}, loaded ${engines.join(', ') || 'none'}`,
    );
    return { ...info, engine: engines[0] };
  });
  if (!info) return;

  await test('first prediction from a cold page (small_cnn)', async () => {
    const dir = `${FIX}/keras3/small_cnn`;
    const m = await g.loadModel({ structure: await (await fetch(`${dir}/model.json`)).text(), weights: await bytes(`${dir}/model.weights.h5`) });
    const x = await npy(`${dir}/input.npy`);
    await m.predict(x.data, x.shape);
    timings.firstPredictionMs = Math.round(performance.now() - t0);
    m.dispose();
    return { ms: timings.firstPredictionMs };
  });

  for (const name of SMALL) {
    await test(`Keras fixture ${name} within 1e-4 (weights.h5, .keras, .h5)`, async () => {
      const dir = `${FIX}/keras3/${name}`;
      const x = await npy(`${dir}/input.npy`);
      const y = await npy(`${dir}/output.npy`);
      const structure = JSON.parse(await (await fetch(`${dir}/model.json`)).text());
      const models = [
        await g.loadModel({ structure, weights: await bytes(`${dir}/model.weights.h5`) }),
        await g.loadModel({ keras: await bytes(`${dir}/model.keras`) }),
        await g.loadModel({ keras: new Blob([await bytes(`${dir}/model.h5`)]) }),
      ];
      const diffs = [];
      for (const m of models) {
        const out = await m.predict(x.data, x.shape);
        assert(JSON.stringify(out.shape) === JSON.stringify(y.shape), `shape ${out.shape} vs ${y.shape}`);
        diffs.push(maxDiff(out.data, y.data));
        m.dispose();
      }
      assert(Math.max(...diffs) <= 1e-4, `max diff ${Math.max(...diffs)}`);
      return { maxDiff: Math.max(...diffs) };
    });
  }

  for (const name of ['preprocessing', 'tutorial_augment']) {
    await test(`Keras fixture ${name} within 1e-4 (weights.h5, .keras)`, async () => {
      const dir = `${FIX}/keras3/${name}`;
      const x = await npy(`${dir}/input.npy`);
      const y = await npy(`${dir}/output.npy`);
      const structure = await (await fetch(`${dir}/model.json`)).text();
      const diffs = [];
      for (const m of [
        await g.loadModel({ structure, weights: await bytes(`${dir}/model.weights.h5`) }),
        await g.loadModel({ url: `${dir}/model.keras` }),
      ]) {
        const out = await m.predict(x.data, x.shape);
        diffs.push(maxDiff(out.data, y.data));
        m.dispose();
      }
      assert(Math.max(...diffs) <= 1e-4, `max diff ${Math.max(...diffs)}`);
      return { maxDiff: Math.max(...diffs) };
    });
  }

  const TFJS = ['cnn_layers', 'functional_shards', 'old_topology', 'quant_uint8', 'quant_uint16',
    'quant_float16', 'quant_mixed', 'teachable_like', 'int32_and_misc'];
  await test('TF.js layers models by URL within 1e-4 of TF.js', async () => {
    const diffs = {};
    for (const name of TFJS) {
      const dir = `${FIX}/tfjs/${name}`;
      const m = await g.loadModel({ url: `${dir}/model.json` });
      const x = await npy(`${dir}/input.npy`);
      const y = await npy(`${dir}/output.npy`);
      const out = await m.predict(x.data, x.shape);
      diffs[name] = maxDiff(out.data, y.data);
      if (name === 'teachable_like') {
        assert(JSON.stringify(m.labels) === '["Class 1","Class 2","Class 3"]', `labels ${m.labels}`);
        assert(m.preprocessing?.offset === -1 && m.preprocessing?.square, 'Teachable Machine preprocessing');
      }
      m.dispose();
      assert(diffs[name] <= 1e-4, `${name}: max diff ${diffs[name]}`);
    }
    return diffs;
  });

  await test('a Teachable Machine web export as chosen files and as its zip', async () => {
    const dir = `${FIX}/tfjs/teachable_like`;
    const file = async (n) => new File([await bytes(`${dir}/${n}`)], n);
    const x = await npy(`${dir}/input.npy`);
    const y = await npy(`${dir}/output.npy`);
    const sources = [
      { files: [await file('metadata.json'), await file('model.json'), await file('weights.bin')] },
      { files: [new File([await bytes(`${FIX}/tfjs/teachable_like.zip`)], 'tm-my-image-model.zip')] },
    ];
    const diffs = [];
    for (const src of sources) {
      const m = await g.loadModel(src);
      assert(m.labels?.[1] === 'Class 2', `labels ${m.labels}`);
      diffs.push(maxDiff((await m.predict(x.data, x.shape)).data, y.data));
      m.dispose();
    }
    assert(Math.max(...diffs) <= 1e-4, `max diff ${diffs}`);
    assert(JSON.stringify(g.parseLabels('0 Cat\n1 Dog\n')) === '["Cat","Dog"]', 'numbered labels');
    // The cases of the engine's bundle::parse_labels test: numbers only where every line has its own.
    assert(JSON.stringify(g.parseLabels('0 Cats\n7 Dogs')) === '["0 Cats","7 Dogs"]', 'not numbered');
    assert(JSON.stringify(g.parseLabels('3 Dogs')) === '["3 Dogs"]', 'one label with a number');
    return { diffs };
  });

  await test('broken TF.js models reject with Errors naming the problem', async () => {
    const dir = `${FIX}/tfjs/cnn_layers`;
    const modelJson = await (await fetch(`${dir}/model.json`)).text();
    const shard = await bytes(`${dir}/group1-shard1of1.bin`);
    const messages = [];
    messages.push(await expectError(() => g.loadModel({ tfjs: { modelJson, weights: [] } }), 'group1-shard1of1.bin'));
    messages.push(await expectError(() => g.loadModel({ tfjs: { modelJson, weights: { 'group1-shard1of1.bin': shard.subarray(0, 64) } } }), 'declares'));
    messages.push(await expectError(() => g.loadModel({ tfjs: { modelJson: '{"modelTopology": 3', weights: [] } }), 'not JSON'));
    const complex = JSON.parse(modelJson);
    complex.weightsManifest[0].weights[0].dtype = 'complex64';
    messages.push(await expectError(() => g.loadModel({ tfjs: { modelJson: complex, weights: { 'group1-shard1of1.bin': shard } } }), 'complex64'));
    messages.push(await expectError(() => g.loadModel({ url: `${FIX}/tfjs/nowhere/model.json` }), 'HTTP 404'));
    messages.push(await expectError(() => g.loadModel({ files: [new File(['x'], 'notes.md')] }), 'choose a .keras'));
    return { checked: messages.length };
  });

  await test('the held-out split takes photos from every class in proportion', async () => {
    // The case: 1 photo of one class, 40 of another; and a 3-photo class.
    const labels = [0, ...Array(40).fill(1), 2, 2, 2];
    const { order, nVal, warnings } = g.stratifiedSplit(labels, ['rare', 'common', 'few'], 0.2, 5);
    const held = order.slice(order.length - nVal).map((i) => labels[i]);
    const count = (c) => held.filter((l) => l === c).length;
    assert(order.length === labels.length && new Set(order).size === labels.length, 'a permutation');
    assert(count(0) === 0 && count(1) === 8 && count(2) === 1, `held out per class ${count(0)}, ${count(1)}, ${count(2)}`);
    assert(warnings.length === 2 && /'rare' has only 1 photo: none could be held out/.test(warnings[0]), warnings.join(' | '));
    const again = g.stratifiedSplit(labels, ['rare', 'common', 'few'], 0.2, 5);
    assert(JSON.stringify(again.order) === JSON.stringify(order), 'seeded');
    return { nVal, warnings: warnings.length };
  });

  await test('bad inputs reject with Errors', async () => {
    const dir = `${FIX}/keras3/small_cnn`;
    const json = await (await fetch(`${dir}/model.json`)).text();
    const weights = await bytes(`${dir}/model.weights.h5`);
    const messages = [];
    // Each with its kind as `code`: the engine's from the Rust error, the package's own.
    messages.push(await expectError(() => g.loadModel({ structure: '{"class_name": "Sequential"', weights }), 'model JSON', 'json'));
    messages.push(await expectError(() => g.loadModel({ structure: json.replace('"Flatten"', '"LSTM"'), weights }), "class 'LSTM'", 'unsupported-layer'));
    messages.push(await expectError(() => g.loadModel({ structure: json, weights: weights.subarray(0, 200) }), 'weights file', 'weights-file'));
    messages.push(await expectError(() => g.loadModel({ keras: new Uint8Array([1, 2, 3]) }), 'not an HDF5 file'));
    messages.push(await expectError(() => g.loadModel({ structure: json, weights: 'nope' }), 'expected the file', 'input'));
    messages.push(await expectError(() => g.loadModel({ url: `${FIX}/nowhere/model.json` }), 'HTTP 404', 'io'));
    const m = await g.loadModel({ structure: json, weights });
    messages.push(await expectError(() => m.predict(new Float32Array(10), [1, 10]), 'shape mismatch', 'shape'));
    messages.push(await expectError(() => m.predict(new Float32Array(10), 'x'), 'shape must be', 'input'));
    messages.push(await expectError(() => m.classify(new Blob(['not an image'], { type: 'image/png' })), 'cannot decode', 'input'));
    messages.push(await expectError(() => m.classify(42), 'expected an image', 'input'));
    messages.push(await expectError(() => m.fit(new Float32Array(7), [0]), 'not a whole number of samples', 'input'));
    messages.push(await expectError(() => g.ready({ backend: 'tpu' }), "unknown backend 'tpu'", 'input'));
    m.dispose();
    messages.push(await expectError(() => m.predict(new Float32Array(1), [1]), 'disposed', 'input'));
    return { checked: messages.length };
  });

  // Issue 22: what used to trap the instance (uncaught "unreachable", a promise that never
  // settled, "memory access out of bounds" for every later call) now rejects with an Error
  // that names the problem, and the engine keeps working.
  await test('hostile models and shapes reject; the engine stays usable', async () => {
    const seq = (input, layers) => JSON.stringify({
      module: 'keras', class_name: 'Sequential', config: {
        name: 'hostile', layers: [{ class_name: 'InputLayer', config: { name: 'in', batch_shape: [null, ...input] } },
          ...layers.map(([cls, name, cfg]) => ({ class_name: cls, config: { name, ...cfg } }))],
      },
    });
    const weights = await bytes(`${FIX}/keras3/small_cnn/model.weights.h5`);
    const messages = [];
    messages.push(await expectError(() => g.loadModel({ structure: seq([8, 8, 3], [['Conv2D', 'c', { filters: 0, kernel_size: [3, 3] }]]), weights }), 'at least 1'));
    messages.push(await expectError(() => g.loadModel({ structure: seq([4], [['Dense', 'd', { units: 0 }]]), weights }), 'at least 1'));
    messages.push(await expectError(() => g.loadModel({ structure: seq([16], [['Dense', 'big', { units: 1e9 }]]), weights }), 'over the limit'));
    messages.push(await expectError(() => g.loadModel({ structure: seq([4], [['Reshape', 'r', { target_shape: [65536, 65536, 4] }]]), weights }), 'a shape with 4 values'));
    const deep = seq([2], Array.from({ length: 20000 }, (_, i) => ['Activation', `a${i}`, { activation: 'relu' }]));
    messages.push(await expectError(() => g.loadModel({ structure: deep, weights }), 'in the file but not in the model'));
    // 536870913 * 12 * 10 * 3 wraps to a small number in 32 bits.
    const dir = `${FIX}/keras3/small_cnn`;
    const m = await g.loadModel({ structure: await (await fetch(`${dir}/model.json`)).text(), weights });
    const shape = m.inputShape.slice(1);
    messages.push(await expectError(() => m.predict(new Float32Array(8), [536870913, ...shape]), 'needs'));
    messages.push(await expectError(() => m.classify(new ImageData(4, 4), { topK: NaN }), 'topK'));
    const x = await npy(`${dir}/input.npy`);
    const y = await npy(`${dir}/output.npy`);
    assert(maxDiff((await m.predict(x.data, x.shape)).data, y.data) <= 1e-4, 'the engine still predicts');
    // A budget set from JS is honoured, then restored.
    const before = await g.setLimits({});
    await g.setLimits({ maxParams: 100 });
    const smallJson = await (await fetch(`${dir}/model.json`)).text();
    messages.push(await expectError(() => g.loadModel({ structure: smallJson, weights }), 'over the limit of 100', 'limit'));
    await g.setLimits(before);
    m.dispose();
    return { checked: messages.length, limits: before };
  });

  await test('an engine that traps rejects what is in flight and starts afresh', async () => {
    const dir = `${FIX}/keras3/small_cnn`;
    const load = async () => g.loadModel({ structure: await (await fetch(`${dir}/model.json`)).text(), weights: await bytes(`${dir}/model.weights.h5`) });
    const x = await npy(`${dir}/input.npy`);
    const y = await npy(`${dir}/output.npy`);
    const old = await load();
    const raw = await import(backend === 'webgpu' ? '/pkg/wasm/glimpse.js' : '/pkg/wasm-cpu/glimpse.js');
    // A panic inside a promise's task: the pending call must reject, not hang.
    const pending = old.fit(x.data, Array.from({ length: x.shape[0] }, (_, i) => i % 2), { epochs: 1000 }).then(() => 'finished', (e) => e.message);
    raw.crashForTest(true); // a promise the stopped instance never settles
    const settled = await Promise.race([pending, new Promise((r) => setTimeout(() => r('hung'), 10000))]);
    assert(settled.includes('stopped on an internal error'), `the call in flight rejects: ${settled}`);
    const msg = await expectError(() => old.predict(x.data, x.shape), 'stopped on an internal error');
    assert(msg.includes('crashForTest'), `the panic's message is kept: ${msg}`);
    const fresh = await load();
    assert(maxDiff((await fresh.predict(x.data, x.shape)).data, y.data) <= 1e-4, 'a fresh engine predicts');
    fresh.dispose();
    old.dispose();
    return { message: msg };
  });

  await test('200 predictions in a row do not grow memory', async () => {
    const dir = `${FIX}/keras3/small_cnn`;
    const m = await g.loadModel({ structure: await (await fetch(`${dir}/model.json`)).text(), weights: await bytes(`${dir}/model.weights.h5`) });
    const x = await npy(`${dir}/input.npy`);
    for (let i = 0; i < 20; i++) await m.predict(x.data, x.shape);
    const before = g.memoryBytes();
    for (let i = 0; i < 200; i++) await m.predict(x.data, x.shape);
    const after = g.memoryBytes();
    m.dispose();
    assert(after <= before, `wasm memory grew from ${before} to ${after} bytes`);
    return { before, after };
  });

  await test('fit lowers the loss; save() loads back and predicts the same', async () => {
    // Two separable blobs in 8 dimensions.
    const n = 64, d = 8;
    const x = new Float32Array(n * d), y = new Uint32Array(n);
    let s = 7;
    const rnd = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32) - 0.5;
    for (let i = 0; i < n; i++) {
      y[i] = i % 2;
      for (let j = 0; j < d; j++) x[i * d + j] = rnd() + (y[i] ? 0.8 : -0.8) * (j < 3 ? 1 : 0);
    }
    const head = await g.createHead({ features: d, classes: 2, hidden: 16, seed: 3 });
    const epochs = [];
    let batches = 0;
    const h = await head.fit(x, y, {
      epochs: 8, batchSize: 16, learningRate: 0.01,
      onEpochEnd: (e, logs) => epochs.push(logs.loss),
      onBatchEnd: () => batches++,
    });
    assert(h.history.loss.length === 8 && epochs.length === 8, 'one log per epoch');
    assert(batches === 8 * 4, `batches ${batches}`);
    assert(h.history.loss[7] < h.history.loss[0] * 0.5, `loss ${h.history.loss[0]} -> ${h.history.loss[7]}`);
    assert(h.history.accuracy[7] >= 0.9, `accuracy ${h.history.accuracy[7]}`);
    const saved = await head.save();
    const back = await g.loadModel({ structure: saved.structure, weights: saved.weights });
    const a = await head.predict(x, [n, d]);
    const b = await back.predict(x, [n, d]);
    assert(maxDiff(a.data, b.data) <= 1e-6, `reloaded model differs by ${maxDiff(a.data, b.data)}`);
    window.glimpseSaved = { structure: saved.structure, weights: Array.from(saved.weights), x: Array.from(x), y: Array.from(a.data), shape: [n, d] };
    head.dispose();
    back.dispose();
    return { loss: [h.history.loss[0], h.history.loss[7]], accuracy: h.history.accuracy[7] };
  });

  await test('fit stops on AbortSignal and keeps what it learned', async () => {
    const n = 32, d = 4;
    const x = new Float32Array(n * d).map((_, i) => (i % 7) / 7);
    const y = Array.from({ length: n }, (_, i) => i % 2);
    const head = await g.createHead({ features: d, classes: 2, seed: 5 });
    const before = (await head.predict(x, [n, d])).data;
    const ctrl = new AbortController();
    let err;
    try {
      await head.fit(x, y, { epochs: 50, batchSize: 8, signal: ctrl.signal, onBatchEnd: (b, logs) => { if (logs.epoch === 1 && b === 1) ctrl.abort(); } });
    } catch (e) {
      err = e;
    }
    assert(err && err.name === 'AbortError', `expected an AbortError, got ${err}`);
    assert(err.history && err.history.epoch.length === 2 && err.history.stopped, `history ${JSON.stringify(err.history)}`);
    const after = (await head.predict(x, [n, d])).data;
    assert(maxDiff(after, before) > 1e-4, 'weights changed');
    head.dispose();
    return { epochsRun: err.history.epoch.length };
  });

  let net;
  await test('pretrained EfficientNet-Lite0 loads', async () => {
    const t = performance.now();
    // float32 weights: the reference checks below hold them to 1e-4.
    net = await g.loadPretrained('efficientnet-lite0', { baseUrl: '/models/efficientnet-lite0/', precision: 'float32' });
    timings.loadPretrainedMs = Math.round(performance.now() - t);
    assert(net.labels.length === 1000 && net.countParams() > 4e6, 'labels and parameters');
    assert(net.files.some((f) => f.endsWith('/model.weights.h5')), `files ${net.files}`);
    return { ms: timings.loadPretrainedMs, params: net.countParams() };
  });
  if (!net) return;

  // The smaller weight copies: float16 (the default; half the download) and Glimpse's int8
  // pointwise and dense kernels (under a third): the reference top-1 on every golden photo.
  for (const [precision, file, ratio, tolerance] of [
    [undefined, 'model.f16.weights.h5', 0.55, 1e-2],
    ['int8', 'model.int8.weights.h5', 0.32, 5e-2],
  ]) {
    await test(`pretrained with ${precision ?? 'its default'} weights: ${file}, under ${ratio} of the float32 bytes, the reference top-1, probabilities within ${tolerance}`, async () => {
      const t = performance.now();
      const small = await g.loadPretrained('efficientnet-lite0', { baseUrl: '/models/efficientnet-lite0/', precision });
      const ms = Math.round(performance.now() - t);
      const url = small.files.find((f) => f.includes('weights.h5'));
      assert(url.endsWith(`/${file}`), `weights from ${url}`);
      const size = Number((await fetch(url, { method: 'HEAD' })).headers.get('content-length'));
      const full = Number((await fetch('/models/efficientnet-lite0/model.weights.h5', { method: 'HEAD' })).headers.get('content-length'));
      assert(size > 0 && size < ratio * full, `${size} bytes against ${full}`);
      const golden = await (await fetch(`${FIX}/efficientnet/golden.json`)).json();
      const photos = backend === 'webgpu' ? PHOTOS.slice(0, 2) : PHOTOS;
      let worst = 0;
      for (const name of photos) {
        const px = await g.imagePixels(new Blob([await bytes(`${FIX}/efficientnet/${name}_224.png`)]));
        const x = new Float32Array(224 * 224 * 3);
        for (let i = 0; i < 224 * 224; i++) for (let c = 0; c < 3; c++) x[i * 3 + c] = px.data[i * 4 + c];
        const y = (await small.predict(x, [1, 224, 224, 3])).data;
        const top = y.indexOf(Math.max(...y));
        const ref = golden.images[name].top5;
        assert(top === ref[0].index, `${name}: top-1 ${top} vs ${ref[0].index}`);
        worst = Math.max(worst, ...ref.map((r) => Math.abs(y[r.index] - r.prob)));
      }
      small.dispose();
      assert(worst <= tolerance, `probabilities differ by ${worst}`);
      return { ms, bytes: size, float32Bytes: full, photos: photos.length, maxProbDiff: +worst.toExponential(2) };
    });
  }

  await test('pretrained: same top-5 as the PyTorch reference on the 224 px golden inputs', async () => {
    const golden = await (await fetch(`${FIX}/efficientnet/golden.json`)).json();
    const worst = [];
    const photos = backend === 'webgpu' ? PHOTOS.slice(0, 3) : PHOTOS;
    for (const name of photos) {
      const px = await g.imagePixels(new Blob([await bytes(`${FIX}/efficientnet/${name}_224.png`)]));
      assert(px.width === 224 && px.height === 224, '224 px');
      const x = new Float32Array(224 * 224 * 3);
      for (let i = 0; i < 224 * 224; i++) for (let c = 0; c < 3; c++) x[i * 3 + c] = px.data[i * 4 + c];
      const t = performance.now();
      const y = (await net.predict(x, [1, 224, 224, 3])).data;
      if (name === photos[1]) timings.perImageMs = Math.round(performance.now() - t);
      const top = Array.from(y.keys()).sort((a, b) => y[b] - y[a]).slice(0, 5);
      const ref = golden.images[name].top5;
      assert(JSON.stringify(top) === JSON.stringify(ref.map((r) => r.index)), `${name}: top-5 ${top} vs ${ref.map((r) => r.index)}`);
      worst.push(Math.max(...ref.map((r) => Math.abs(y[r.index] - r.prob))));
    }
    assert(Math.max(...worst) <= 1e-4, `probabilities differ by ${Math.max(...worst)}`);
    return { photos: photos.length, maxProbDiff: Math.max(...worst) };
  });

  await test('classify(photo) gives the reference top-1 (crop + bicubic in the engine)', async () => {
    const golden = await (await fetch(`${FIX}/efficientnet/golden.json`)).json();
    const photos = backend === 'webgpu' ? PHOTOS.slice(0, 2) : PHOTOS;
    const blobs = await Promise.all(photos.map(async (n) => new Blob([await bytes(`${FIX}/efficientnet/${n}_orig.jpg`)], { type: 'image/jpeg' })));
    const t = performance.now();
    const got = await net.classify(blobs, { topK: 5 });
    const perImage = (performance.now() - t) / photos.length;
    got.forEach((top, i) => {
      const ref = golden.images[photos[i]].top5[0];
      assert(top[0].index === ref.index && top[0].label === ref.label, `${photos[i]}: ${top[0].label} vs ${ref.label}`);
    });
    return { top1: got.map((t) => t[0].label), perImageMs: Math.round(perImage) };
  });

  await test('prepareImages: a photo drawn only where the crop is equals the engine cropping all its pixels', async () => {
    const sizes = [];
    let worst = 0;
    for (const name of ['chelsea', 'astronaut', 'rocket']) {
      const blob = new Blob([await bytes(`${FIX}/efficientnet/${name}_orig.jpg`)], { type: 'image/jpeg' });
      const whole = await g.imagePixels(blob); // ImageData: the engine crops it
      const a = await net.prepareImages(blob); // drawn: only cropBox's part
      const b = await net.prepareImages(whole);
      for (let i = 0; i < a.data.length; i++) worst = Math.max(worst, Math.abs(a.data[i] - b.data[i]));
      sizes.push(`${whole.width}x${whole.height}`);
    }
    assert(worst === 0, `inputs differ by ${worst}`);
    return { sizes };
  });

  await test('transfer learning: features once, new head, classify with new labels, save', async () => {
    // Two "objects": photos of the cat and of the rocket, with flips and crops as variety.
    const examples = [{ label: 'cat', images: await variations('chelsea', 5) }, { label: 'rocket', images: await variations('rocket', 5) }];
    const phases = new Set();
    const r = await net.transfer(examples, { epochs: 10, batchSize: 4, validationSplit: 0.2, onProgress: (p) => phases.add(p.phase) });
    assert(phases.has('features') && phases.has('train'), `progress phases ${[...phases]}`);
    assert(r.model.labels.join() === 'cat,rocket', 'labels');
    const top = await r.model.classify(examples[1].images[0], { topK: 2 });
    assert(top[0].label === 'rocket', `classified as ${top[0].label}`);
    const saved = await r.model.save();
    assert(saved.structure.includes('head_predictions') && saved.weights.length > 1e6, 'end-to-end save');
    // With augmentation: each of the 8 training photos adds 2 varied copies, their features
    // computed once, seeded (the same run gives the same head). On the CPU backends only (the
    // copies are made on the CPU either way; SwiftShader would take a minute more).
    const views = [];
    const runs = [];
    for (let k = 0; k < (backend === 'cpu' ? 2 : 0); k++) {
      let last = 0;
      const ra = await net.transfer(examples, {
        epochs: 3, batchSize: 4, validationSplit: 0.2, augment: true, views: 2,
        onProgress: (p) => { if (p.phase === 'views') last = p.total; },
      });
      views.push(last);
      runs.push((await ra.model.predict((await ra.model.prepareImages([examples[0].images[0]])).data, [1, 224, 224, 3])).data);
      const saved = await ra.model.save();
      assert(saved.structure.includes('"RandomFlip"') && saved.structure.includes('"RandomRotation"'), 'the model holds its augmentation layers');
      const back = await g.loadModel({ ...saved, preprocessing: net.preprocessing });
      assert(maxDiff((await back.predict((await back.prepareImages([examples[0].images[0]])).data, [1, 224, 224, 3])).data, runs[k]) === 0, 'reloaded, the same');
      back.dispose();
      ra.head.dispose();
      ra.model.dispose();
    }
    if (backend === 'cpu') {
      assert(views[0] === 16, `varied copies ${views}`);
      assert(maxDiff(runs[0], runs[1]) === 0, 'augmented transfer is seeded');
    }
    await expectError(() => net.transfer(examples, { augment: { rotate: 3 } }), 'augment.rotate');
    return { history: r.history.history.loss.length, top: top[0], views: views[0] };
  });

  // On the CPU backends: the same JS and Rust run on WebGPU, where Firefox's Mesa adapter takes
  // minutes over it.
  if (backend === 'cpu') await test('teaching further: a Glimpse export and a Teachable Machine model keep their classes', async () => {
    const [cat, rocket, coffee] = await Promise.all([variations('chelsea', 6), variations('rocket', 6), variations('coffee', 6)]);
    const opts = { epochs: 15, batchSize: 4, validationSplit: 0 };
    // A Glimpse model of two classes, exported and imported as a person would.
    const first = await net.transfer([{ label: 'cat', images: cat.slice(0, 4) }, { label: 'rocket', images: rocket.slice(0, 4) }], opts);
    const imported = await g.loadModel({ files: [new File([await first.model.saveKeras()], 'two.keras')] });
    first.model.dispose();
    first.head.dispose();
    assert(imported.labels.join() === 'cat,rocket', `imported labels ${imported.labels}`);
    // The export says how its photos are prepared and where its features end (glimpse.json).
    const sorted = (o) => JSON.stringify(Object.fromEntries(Object.entries(o ?? {}).sort()));
    assert(sorted(imported.preprocessing) === sorted(net.preprocessing),
      `imported preprocessing ${JSON.stringify(imported.preprocessing)}, the network's ${JSON.stringify(net.preprocessing)}`);
    assert(imported.featuresLayer === 'avg_pool', `imported featuresLayer ${imported.featuresLayer}`);
    // A new class and photos of one old class; the other old class gets none.
    const r = await imported.transfer([{ label: 'coffee', images: coffee.slice(0, 4) }, { label: 'cat', images: cat.slice(0, 4) }], { ...opts, keepHead: true });
    assert(r.model.labels.join() === 'cat,rocket,coffee', `labels ${r.model.labels}`);
    assert(r.warnings.some((w) => w.startsWith("'rocket' had no photos this time")), `warnings ${r.warnings}`);
    const tops = (await r.model.classify([cat[5], rocket[5], coffee[5]], { topK: 1 })).map((t) => t[0].label);
    assert(tops.join() === 'cat,rocket,coffee', `unseen photos: ${tops}`);
    const again = await g.loadModel(await r.model.save());
    assert(again.layerNames.filter((l) => l.startsWith('head_')).length === 1, 'one head, not two');
    again.dispose();
    r.model.dispose();
    r.head.dispose();
    imported.dispose();
    // Teachable Machine's layout (a MobileNet-like model, then two Dense layers), taught further.
    const tm = await g.loadModel({ files: [new File([await bytes(`${FIX}/tfjs/teachable_like.zip`)], 'tm.zip')] });
    const rt = await tm.transfer([{ label: 'Class 1', images: cat.slice(0, 4) }, { label: 'Class 2', images: rocket.slice(0, 4) }], { ...opts, epochs: 40, learningRate: 0.01, keepHead: true });
    assert(rt.model.labels.join() === 'Class 1,Class 2,Class 3', `TM labels ${rt.model.labels}`);
    const tmTops = (await rt.model.classify([cat[0], rocket[0]], { topK: 1 })).map((t) => t[0].label);
    assert(tmTops.join() === 'Class 1,Class 2', `TM after teaching: ${tmTops}`);
    rt.model.dispose();
    rt.head.dispose();
    tm.dispose();
    await expectError(() => net.transfer([{ label: 'a', images: cat }], {}), 'at least two classes');
    // Fine-tuning the last block (CPU backends: SwiftShader would take minutes): it moves, the
    // blocks before it do not.
    let tuned = null;
    if (backend === 'cpu') {
      const phases = new Set();
      const rf = await net.transfer([{ label: 'cat', images: cat.slice(0, 4) }, { label: 'rocket', images: rocket.slice(0, 4) }], {
        epochs: 3, batchSize: 4, validationSplit: 0.25, unfreezeBlocks: 1, fineTuneEpochs: 2, fineTuneLearningRate: 1e-3,
        onProgress: (p) => phases.add(p.phase),
      });
      assert(phases.has('fine-tune') && rf.history.history.loss.length === 5, `phases ${[...phases]}, ${rf.history.history.loss.length} epochs`);
      const x = await net.prepareImages([cat[0]]);
      const at = async (m, layer) => {
        const fx = m.featureExtractor(layer);
        const y = (await fx.predict(x.data, x.shape)).data;
        fx.dispose();
        return y;
      };
      assert(maxDiff(await at(rf.model, 'block14_add'), await at(net, 'block14_add')) === 0, 'a block before the cut moved');
      tuned = maxDiff(await at(rf.model, 'block15_project_conv'), await at(net, 'block15_project_conv'));
      assert(tuned > 1e-5, `the last block did not move (${tuned})`);
      assert((await rf.model.classify(rocket[5], { topK: 1 }))[0].label === 'rocket', 'fine-tuned model classifies');
      rf.model.dispose();
      rf.head.dispose();
    }
    return { tops, tmTops, tuned };
  });

  if (backend === 'cpu') {
    await test('Web Worker: ready, load, predict, fit with abort', async () => {
      const w = createWorker('/pkg/worker.js');
      const info = await w.ready({ backend: 'cpu' });
      const dir = `${FIX}/keras3/dense_acts`;
      const m = await w.loadModel({ structure: await (await fetch(`${dir}/model.json`)).text(), weights: await bytes(`${dir}/model.weights.h5`) });
      const x = await npy(`${dir}/input.npy`);
      const y = await npy(`${dir}/output.npy`);
      const out = await m.predict(x.data, x.shape);
      assert(maxDiff(out.data, y.data) <= 1e-4, 'worker prediction');
      assert(m.summary().includes('Total params'), 'summary');
      const head = await w.createHead({ features: 4, classes: 2 });
      const ctrl = new AbortController();
      let err;
      let epochs = 0;
      try {
        await head.fit(new Float32Array(64).map((_, i) => i % 5), Array.from({ length: 16 }, (_, i) => i % 2), {
          epochs: 1000, batchSize: 4, signal: ctrl.signal, onEpochEnd: () => { if (++epochs === 2) ctrl.abort(); },
        });
      } catch (e) {
        err = e;
      }
      assert(err?.name === 'AbortError', `worker fit abort: ${err}`);
      await expectError(() => w.loadModel({ structure: '{', weights: new Uint8Array(1) }), 'model JSON', 'json');
      // An abort reaches the worker between batches even when no image needs decoding
      // (ImageData: every batch resolves without leaving the worker's task).
      const remoteNet = await w.loadPretrained('efficientnet-lite0', { baseUrl: '/models/efficientnet-lite0/' });
      const pixels = await g.imagePixels(new Blob([await bytes(`${FIX}/efficientnet/chelsea_224.png`)]));
      const many = Array.from({ length: 24 }, () => pixels);
      const stop = new AbortController();
      let seenDone = 0;
      let featErr;
      try {
        await remoteNet.features(many, { batchSize: 2, signal: stop.signal, onProgress: (p) => { seenDone = p.done; stop.abort(); } });
      } catch (e) {
        featErr = e;
      }
      assert(featErr?.name === 'AbortError', `worker features abort: ${featErr}`);
      assert(seenDone < 24, `the abort came after all ${seenDone} images`);
      w.terminate();
      return { backend: info.backend, epochsBeforeAbort: epochs, imagesBeforeAbort: seenDone };
    });

    await test('features({ workers: 3 }), classify({ workers: 3 }): helper workers give the same results; errors, abort', async () => {
      // Count the helpers the package starts, the batches they are sent and the ones stopped.
      const Real = globalThis.Worker;
      const seen = { made: 0, batches: 0, stopped: 0 };
      globalThis.Worker = class extends Real {
        constructor(...a) { super(...a); seen.made++; }
        postMessage(m, t) { if (m?.op === 'features' || m?.op === 'classify') seen.batches++; return super.postMessage(m, t); }
        terminate() { seen.stopped++; return super.terminate(); }
      };
      try {
        const blobs = await Promise.all(PHOTOS.map(async (n) => new Blob([await bytes(`${FIX}/efficientnet/${n}_224.png`)], { type: 'image/png' })));
        const images = Array.from({ length: 22 }, (_, i) => blobs[i % blobs.length]);
        // workers: 3 gives 2 helpers, or one per core beyond the first where there are fewer.
        const helpers = Math.min(2, navigator.hardwareConcurrency - 1);
        assert(helpers >= 1, 'this test needs two cores');
        const one = await net.features(images, { batchSize: 2 });
        assert(seen.made === 0, 'one thread starts no helper');
        const done = [];
        const par = await net.features(images, { batchSize: 2, workers: 3, onProgress: (p) => done.push(p.done) });
        assert(seen.made === helpers && seen.stopped === helpers, `helpers started ${seen.made}, stopped ${seen.stopped}`);
        assert(seen.batches > 0, 'the helpers took no batch');
        assert(JSON.stringify(par.shape) === JSON.stringify(one.shape), `shape ${par.shape}`);
        const diff = maxDiff(par.data, one.data);
        assert(diff <= 1e-6, `features differ by ${diff}`);
        assert(done.length >= 11 && done.at(-1) === 22 && done.every((d, i) => i === 0 || d > done[i - 1]), `progress ${done}`);
        // classify() shares its batches the same way: the same labels and scores.
        const batches = seen.batches;
        const top = await net.classify(images, { batchSize: 2, topK: 3 });
        const topPar = await net.classify(images, { batchSize: 2, topK: 3, workers: 3 });
        assert(seen.made === 2 * helpers && seen.batches > batches, `classify helpers: ${seen.made - helpers} started, ${seen.batches - batches} batches`);
        // (Batches split differently sum in a different order: scores agree to float rounding.)
        const idx = (t) => JSON.stringify(t.map((r) => r.map((p) => p.index)));
        assert(idx(topPar) === idx(top), 'classify on 3 threads ranks differently from one thread');
        const scoreDiff = Math.max(...top.flatMap((r, i) => r.map((p, j) => Math.abs(p.score - topPar[i][j].score))));
        assert(scoreDiff <= 1e-5, `classify scores differ by ${scoreDiff}`);
        assert(top[0][0].label === 'tiger cat', `first photo: ${top[0][0].label}`);
        // A photo that cannot be decoded fails the call with its message, wherever it lands.
        const bad = [...images];
        bad[15] = new Blob([new Uint8Array([1, 2, 3])], { type: 'image/png' });
        await expectError(() => net.features(bad, { batchSize: 2, workers: 3 }), 'cannot decode');
        await expectError(() => net.features(images, { workers: 0 }), 'workers must be');
        const ctrl = new AbortController();
        let err;
        try {
          await net.features(images, { batchSize: 2, workers: 3, signal: ctrl.signal, onProgress: () => ctrl.abort() });
        } catch (e) {
          err = e;
        }
        assert(err?.name === 'AbortError', `abort: ${err}`);
        assert(seen.made === 4 * helpers && seen.stopped === 4 * helpers, `every helper stopped: ${seen.stopped} of ${seen.made}`);
        return { maxDiff: diff, helpersPerCall: helpers, helperBatches: seen.batches };
      } finally {
        globalThis.Worker = Real;
      }
    });

    // Last: it switches this page's engine. With only `wasmUrl` (the full engine) given, the
    // CPU backend runs on the full engine; a model made on the CPU-only engine keeps working.
    await test('ready({ wasmUrl }) switches to the full engine; earlier models keep working', async () => {
      const dir = `${FIX}/keras3/small_cnn`;
      const before = await g.loadModel({ structure: await (await fetch(`${dir}/model.json`)).text(), weights: await bytes(`${dir}/model.weights.h5`) });
      const x = await npy(`${dir}/input.npy`);
      const y = await npy(`${dir}/output.npy`);
      const info = await g.ready({ backend: 'cpu', wasmUrl: '/pkg/wasm/glimpse_bg.wasm' });
      assert(info.backend === 'cpu', `backend ${info.backend}`);
      const loaded = performance.getEntriesByType('resource').map((e) => new URL(e.name).pathname);
      assert(loaded.includes('/pkg/wasm/glimpse_bg.wasm'), `the full engine was not loaded: ${loaded.join(', ')}`);
      const after = await g.loadModel({ structure: await (await fetch(`${dir}/model.json`)).text(), weights: await bytes(`${dir}/model.weights.h5`) });
      const a = await before.predict(x.data, x.shape);
      const b = await after.predict(x.data, x.shape);
      assert(maxDiff(a.data, y.data) <= 1e-4 && maxDiff(b.data, y.data) <= 1e-4, 'both engines agree with Keras');
      return { engines: loaded.filter((p) => p.endsWith('glimpse_bg.wasm')) };
    });
  }
  net.dispose();
}

window.glimpseDone = run().then(() => {
  window.glimpseResults = { backend, engine, relaxedSimd: g.hasRelaxedSimd(), results, timings, memoryBytes: g.memoryBytes() };
  return window.glimpseResults;
});
