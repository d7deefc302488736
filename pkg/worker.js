// Glimpse's Web Worker entry: runs the engine off the page's main thread. Pages talk to it
// through client.js (`createWorker()`), which mirrors the main API with the same names.
// Protocol: { id, op, args } in; { id, ok, result } / { id, ok: false, error } out, plus
// { id, event, payload } for progress while a call runs.

import * as glimpse from './index.js';

const models = new Map();
const aborts = new Map();
let nextHandle = 1;

function describe(model) {
  const handle = nextHandle++;
  models.set(handle, model);
  return {
    handle,
    inputShape: model.inputShape,
    outputShape: model.outputShape,
    layerNames: model.layerNames,
    params: model.countParams(),
    summary: model.summary(),
    labels: model.labels,
    preprocessing: model.preprocessing,
    featuresLayer: model.featuresLayer,
    files: model.files,
  };
}

function model(handle) {
  const m = models.get(handle);
  if (!m) throw new Error('this model was disposed');
  return m;
}

function signalFor(id) {
  const c = new AbortController();
  aborts.set(id, c);
  return c.signal;
}

const ops = {
  ready: (id, options = {}) =>
    glimpse.ready({ ...options, onProgress: (p) => postMessage({ id, event: 'progress', payload: p }) }),
  memory: () => glimpse.memoryBytes(),
  engineFiles: () => glimpse.engineFiles(),
  poolReady: () => glimpse.poolReady(),
  setLimits: (id, limits) => glimpse.setLimits(limits),
  startHelper: async (id, options, source) => {
    await glimpse.ready(options);
    return describe(await glimpse.loadModel(source));
  },
  loadModel: async (id, source, options) => describe(await glimpse.loadModel(source, options)),
  loadPretrained: async (id, name, options = {}) =>
    describe(await glimpse.loadPretrained(name, {
      ...options,
      onProgress: (p) => postMessage({ id, event: 'progress', payload: p }),
    })),
  createHead: async (id, options) => describe(await glimpse.createHead(options)),
  predict: (id, h, data, shape) => model(h).predict(data, shape),
  classify: (id, h, images, options = {}) =>
    model(h).classify(images, {
      ...options,
      signal: signalFor(id),
      onProgress: (p) => postMessage({ id, event: 'progress', payload: p }),
    }),
  features: (id, h, images, options = {}) =>
    model(h).features(images, {
      ...options,
      signal: signalFor(id),
      onProgress: (p) => postMessage({ id, event: 'progress', payload: p }),
    }),
  fit: (id, h, x, y, options = {}) =>
    model(h).fit(x, y, {
      ...options,
      signal: signalFor(id),
      onBatchEnd: (batch, logs) => postMessage({ id, event: 'batch', payload: { batch, logs } }),
      onEpochEnd: (epoch, logs) => postMessage({ id, event: 'epoch', payload: { epoch, logs } }),
    }),
  save: (id, h) => model(h).save(),
  saveKeras: (id, h) => model(h).saveKeras(),
  occlusion: (id, h, image, options) => model(h).occlusion(image, options),
  withHead: (id, h, head, options) => describe(model(h).withHead(model(head), options)),
  featureExtractor: (id, h, layer) => describe(model(h).featureExtractor(layer)),
  configure: (id, h, fields) => {
    const m = model(h);
    if ('labels' in fields) m.labels = fields.labels;
    if ('preprocessing' in fields) m.preprocessing = fields.preprocessing;
  },
  transfer: async (id, h, examples, options = {}) => {
    const r = await model(h).transfer(examples, {
      ...options,
      signal: signalFor(id),
      onProgress: (p) => postMessage({ id, event: 'progress', payload: p }),
      onEpochEnd: (epoch, logs) => postMessage({ id, event: 'epoch', payload: { epoch, logs } }),
    });
    return {
      model: describe(r.model), head: describe(r.head), history: r.history, validation: r.validation,
      warnings: r.warnings,
      // The photos themselves stay on the page's side: their names and what went wrong.
      skipped: r.skipped.map((s) => ({ name: s.image?.name ?? null, label: s.label, error: s.error })),
    };
  },
  dispose: (id, h) => {
    models.get(h)?.dispose();
    models.delete(h);
  },
};

function plainError(e) {
  if (e && typeof e === 'object') {
    return { name: e.name ?? 'Error', message: e.message ?? String(e), history: e.history };
  }
  return { name: 'Error', message: String(e) };
}

self.onmessage = async (event) => {
  const { id, op, args = [] } = event.data ?? {};
  if (op === 'abort') {
    aborts.get(args[0])?.abort();
    return;
  }
  const run = ops[op];
  if (!run) {
    postMessage({ id, ok: false, error: { name: 'Error', message: `unknown operation '${op}'` } });
    return;
  }
  try {
    const result = await run(id, ...args);
    const transfer = [];
    if (result?.data instanceof Float32Array) transfer.push(result.data.buffer);
    if (result?.weights instanceof Uint8Array) transfer.push(result.weights.buffer);
    if (result instanceof Uint8Array) transfer.push(result.buffer);
    if (result?.values instanceof Float32Array) transfer.push(result.values.buffer);
    postMessage({ id, ok: true, result }, transfer);
  } catch (e) {
    postMessage({ id, ok: false, error: plainError(e) });
  } finally {
    aborts.delete(id);
  }
};
