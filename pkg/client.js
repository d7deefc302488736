// Runs Glimpse in a Web Worker so the page's main thread never blocks: the same API as the
// main entry, every method async. `const g = createWorker(); await g.ready();
// const m = await g.loadPretrained('efficientnet-lite0', { baseUrl }); await m.classify(blob)`.

function rebuildError(e) {
  const err = new Error(e.message);
  if (e.name && e.name !== 'Error') err.name = e.name;
  if (e.history) err.history = e.history;
  return err;
}

// Images the worker can receive: pages' elements become ImageBitmaps first.
async function transferable(image) {
  if (Array.isArray(image)) return Promise.all(image.map(transferable));
  const isElement =
    (typeof HTMLImageElement !== 'undefined' && image instanceof HTMLImageElement) ||
    (typeof HTMLCanvasElement !== 'undefined' && image instanceof HTMLCanvasElement) ||
    (typeof HTMLVideoElement !== 'undefined' && image instanceof HTMLVideoElement);
  if (!isElement) return image;
  if (image instanceof HTMLImageElement && (!image.complete || image.naturalWidth === 0)) {
    await image.decode();
  }
  return createImageBitmap(image);
}

/** A Glimpse engine in a Web Worker. */
export class GlimpseWorker {
  #worker;
  #next = 1;
  #calls = new Map();

  /** `url`: where worker.js is, when not beside client.js (bundlers find it without this). */
  constructor(url) {
    // The literal `new Worker(new URL('./worker.js', import.meta.url), …)` is the form bundlers
    // recognise: they bundle the worker and its engine and rewrite the URL.
    this.#worker = url
      ? new Worker(url, { type: 'module' })
      : new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
    this.#worker.onmessage = (event) => {
      const { id, ok, result, error, event: kind, payload } = event.data;
      const call = this.#calls.get(id);
      if (!call) return;
      if (kind) {
        call.listeners[kind]?.(payload);
        return;
      }
      this.#calls.delete(id);
      call.cleanup?.();
      if (ok) call.resolve(result);
      else call.reject(rebuildError(error));
    };
    this.#worker.onerror = (event) => {
      const err = new Error(`the Glimpse worker failed: ${event.message ?? 'unknown error'}`);
      for (const call of this.#calls.values()) call.reject(err);
      this.#calls.clear();
    };
  }

  /** Sends one operation; `listeners` receive its progress events; `signal` aborts it. */
  call(op, args = [], { listeners = {}, signal } = {}) {
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason ?? new Error('aborted'));
        return;
      }
      let cleanup;
      if (signal) {
        const onAbort = () => this.#worker.postMessage({ op: 'abort', args: [id] });
        signal.addEventListener('abort', onAbort, { once: true });
        cleanup = () => signal.removeEventListener('abort', onAbort);
      }
      // An aborted call rejects with the signal's reason, as fetch() does.
      const rejectWith = (e) =>
        reject(signal?.aborted && e.name === 'AbortError'
          ? Object.assign(signal.reason ?? e, { history: e.history })
          : e);
      this.#calls.set(id, { resolve, reject: rejectWith, listeners, cleanup });
      this.#worker.postMessage({ id, op, args });
    });
  }

  /** Loads the engine in the worker and picks the backend: { backend, adapter }; onProgress({
   * phase: 'engine', loaded, total }) for the engine's download. */
  ready({ onProgress, ...options } = {}) {
    return this.call('ready', [options], { listeners: { progress: onProgress } });
  }
  /** ready(options), then loadModel(source), in one message (index.js's feature helpers). */
  async startHelper(options, source) {
    return new RemoteModel(this, await this.call('startHelper', [options, source]));
  }
  /** setLimits() in the worker. */
  setLimits(limits) {
    return this.call('setLimits', [limits]);
  }
  /** poolReady() in the worker: once the threaded engine's threads are up, how many calls use. */
  poolReady() {
    return this.call('poolReady');
  }

  /** engineFiles() in the worker: the files its engine was loaded from. */
  engineFiles() {
    return this.call('engineFiles');
  }
  /** Bytes of the worker engine's WebAssembly memory. */
  memoryBytes() {
    return this.call('memory');
  }
  /** loadModel() in the worker. */
  async loadModel(source, options) {
    return new RemoteModel(this, await this.call('loadModel', [source, options]));
  }
  /** loadPretrained() in the worker; onProgress({ loaded, total }) for the download. */
  async loadPretrained(name = 'efficientnet-lite0', { onProgress, ...options } = {}) {
    // Relative to this page, not to the worker's script.
    options.baseUrl = new URL(options.baseUrl ?? `models/${name}/`, location.href).href;
    const info = await this.call('loadPretrained', [name, options], {
      listeners: { progress: onProgress },
    });
    return new RemoteModel(this, info);
  }
  /** createHead() in the worker. */
  async createHead(options) {
    return new RemoteModel(this, await this.call('createHead', [options]));
  }
  /** Stops the worker (and frees everything in it); calls still running reject. */
  terminate() {
    this.#worker.terminate();
    const err = new Error('the Glimpse worker was terminated');
    for (const call of this.#calls.values()) {
      call.cleanup?.();
      call.reject(err);
    }
    this.#calls.clear();
  }
}

/** A model living in the worker; the same methods as Model, all async. */
export class RemoteModel {
  #w;
  constructor(worker, info) {
    this.#w = worker;
    this.handle = info.handle;
    this.inputShape = info.inputShape;
    this.outputShape = info.outputShape;
    this.layerNames = info.layerNames;
    this.labels = info.labels;
    this.preprocessing = info.preprocessing;
    this.featuresLayer = info.featuresLayer;
    if (info.files) this.files = info.files;
    this.params = info.params;
    this.summaryText = info.summary;
  }
  summary() {
    return this.summaryText;
  }
  countParams() {
    return this.params;
  }
  predict(data, shape) {
    return this.#w.call('predict', [this.handle, data, shape]);
  }
  async classify(image, { onProgress, signal, ...options } = {}) {
    return this.#w.call('classify', [this.handle, await transferable(image), options], {
      listeners: { progress: onProgress },
      signal,
    });
  }
  async features(images, { onProgress, signal, ...options } = {}) {
    return this.#w.call('features', [this.handle, await transferable(images), options], {
      listeners: { progress: onProgress },
      signal,
    });
  }
  fit(x, y, { onBatchEnd, onEpochEnd, signal, ...options } = {}) {
    return this.#w.call('fit', [this.handle, x, y, options], {
      listeners: {
        batch: (p) => onBatchEnd?.(p.batch, p.logs),
        epoch: (p) => onEpochEnd?.(p.epoch, p.logs),
      },
      signal,
    });
  }
  save() {
    return this.#w.call('save', [this.handle]);
  }
  saveKeras() {
    return this.#w.call('saveKeras', [this.handle]);
  }
  async occlusion(image, options) {
    return this.#w.call('occlusion', [this.handle, await transferable(image), options]);
  }
  async setLabels(labels) {
    await this.#w.call('configure', [this.handle, { labels }]);
    this.labels = labels;
  }
  async setPreprocessing(preprocessing) {
    await this.#w.call('configure', [this.handle, { preprocessing }]);
    this.preprocessing = preprocessing;
  }
  async featureExtractor(layer) {
    return new RemoteModel(this.#w, await this.#w.call('featureExtractor', [this.handle, layer]));
  }
  async withHead(head, options) {
    return new RemoteModel(this.#w, await this.#w.call('withHead', [this.handle, head.handle, options]));
  }
  async transfer(examples, { onProgress, onEpochEnd, signal, ...options } = {}) {
    const ex = await Promise.all(
      examples.map(async (e) => ({ label: e.label, images: await transferable(e.images) })),
    );
    const r = await this.#w.call('transfer', [this.handle, ex, options], {
      listeners: { progress: onProgress, epoch: (p) => onEpochEnd?.(p.epoch, p.logs) },
      signal,
    });
    return {
      model: new RemoteModel(this.#w, r.model),
      head: new RemoteModel(this.#w, r.head),
      history: r.history,
      validation: r.validation,
      warnings: r.warnings ?? [],
      skipped: r.skipped ?? [],
    };
  }
  dispose() {
    return this.#w.call('dispose', [this.handle]);
  }
}

/** Starts a Glimpse worker (module worker from this package's worker.js by default). */
export function createWorker(url) {
  return new GlimpseWorker(url);
}
