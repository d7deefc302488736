// @ts-check
// Glimpse's Web Worker entry: runs the engine off the page's main thread. Pages talk to it
// through client.js (`createWorker()`), which mirrors the main API with the same names. The
// operations, and the protocol, are the table in ops.js: this file runs its rows.

import * as glimpse from './index.js';
import { OPS } from './ops.js';

/** @typedef {import('glimpse-ml').Model} Model */

/** @type {Map<number, Model>} */
const models = new Map();
/** @type {Map<number, AbortController>} */
const aborts = new Map();
let nextHandle = 1;

/**
 * Keeps `model` here: what the page's RemoteModel is made from.
 * @param {Model} model
 * @returns {import('./ops.js').ModelInfo}
 */
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

/** @param {number} handle */
function model(handle) {
  const m = models.get(handle);
  if (!m) throw new Error('this model was disposed');
  return m;
}

/**
 * What a row's run gets for the call `id` (on the model `handle`, for the models' rows).
 * @param {number} id
 * @param {number} handle
 * @returns {import('./ops.js').WorkerContext}
 */
function context(id, handle) {
  return {
    glimpse,
    get model() {
      return model(handle);
    },
    modelOf: model,
    describe,
    drop: () => {
      models.get(handle)?.dispose();
      models.delete(handle);
    },
    signal: () => {
      const c = new AbortController();
      aborts.set(id, c);
      return c.signal;
    },
    emit: (kind) => (payload) => postMessage({ id, event: kind, payload }),
  };
}

/** @param {any} e */
function plainError(e) {
  if (e && typeof e === 'object') {
    return { name: e.name ?? 'Error', message: e.message ?? String(e), code: typeof e.code === 'string' ? e.code : undefined, history: e.history };
  }
  return { name: 'Error', message: String(e) };
}

self.onmessage = async (event) => {
  const { id, op, args = [] } = event.data ?? {};
  if (op === 'abort') {
    aborts.get(args[0])?.abort();
    return;
  }
  // (Own rows only: a name such as 'constructor' is no operation.)
  const row = typeof op === 'string' && Object.hasOwn(OPS, op)
    ? /** @type {import('./ops.js').Op} */ (OPS[/** @type {keyof typeof OPS} */ (op)])
    : null;
  if (!row) {
    postMessage({ id, ok: false, error: { name: 'Error', message: `unknown operation '${op}'` } });
    return;
  }
  try {
    const [handle, rest] = row.on === 'model' ? [args[0], args.slice(1)] : [0, args];
    let result = await row.run(context(id, handle), ...rest);
    if (row.returns === 'model') result = describe(result);
    postMessage({ id, ok: true, result }, row.transfer?.(result) ?? []);
  } catch (e) {
    postMessage({ id, ok: false, error: plainError(e) });
  } finally {
    aborts.delete(id);
  }
};
