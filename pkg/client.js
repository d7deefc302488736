// Runs Glimpse in a Web Worker so the page's main thread never blocks: the same API as the
// main entry, every method async. `const g = createWorker(); await g.ready();
// const m = await g.loadPretrained('efficientnet-lite0', { baseUrl }); await m.classify(blob)`.
// The methods that post a message are made from the table of operations in ops.js.

import { OPS } from './ops.js';

/** @typedef {import('./ops.js').OpMethods<'worker'>} WorkerMethods */
/** @typedef {import('./ops.js').OpMethods<'model'>} ModelMethods */
/** @typedef {import('./ops.js').ModelInfo} ModelInfo */

/**
 * An Error as it crossed from the worker (worker.js's plainError).
 * @param {{ name?: string, message: string, code?: import('glimpse-ml').ErrorCode, history?: import('glimpse-ml').History }} e
 */
function rebuildError(e) {
  const err = /** @type {Error & { code?: import('glimpse-ml').ErrorCode, history?: import('glimpse-ml').History }} */ (new Error(e.message));
  if (e.name && e.name !== 'Error') err.name = e.name;
  if (e.code) err.code = e.code;
  if (e.history) err.history = e.history;
  return err;
}

/** A Glimpse engine in a Web Worker. */
class GlimpseWorker {
  #worker;
  #next = 1;
  /** @type {Map<number, { resolve: (result: any) => void, reject: (e: any) => void, listeners: Record<string, ((payload: any) => void) | undefined>, cleanup?: () => void }>} */
  #calls = new Map();

  /**
   * `url`: where worker.js is, when not beside client.js (bundlers find it without this).
   * @param {string | URL} [url]
   */
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

  /**
   * Sends one operation; `listeners` receive its progress events; `signal` aborts it.
   * @param {string} op
   * @param {any[]} [args]
   * @param {{ listeners?: Record<string, ((payload: any) => void) | undefined>, signal?: AbortSignal }} [options]
   * @returns {Promise<any>}
   */
  call(op, args = [], { listeners = {}, signal } = {}) {
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason ?? new Error('aborted'));
        return;
      }
      /** @type {(() => void) | undefined} */
      let cleanup;
      if (signal) {
        const onAbort = () => this.#worker.postMessage({ op: 'abort', args: [id] });
        signal.addEventListener('abort', onAbort, { once: true });
        cleanup = () => signal.removeEventListener('abort', onAbort);
      }
      // An aborted call rejects with the signal's reason, as fetch() does.
      /** @param {any} e */
      const rejectWith = (e) =>
        reject(signal?.aborted && e.name === 'AbortError'
          ? Object.assign(signal.reason ?? e, { history: e.history })
          : e);
      this.#calls.set(id, { resolve, reject: rejectWith, listeners, cleanup });
      this.#worker.postMessage({ id, op, args });
    });
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

// The worker each RemoteModel lives in (for the methods made from the table).
/** @type {WeakMap<object, GlimpseWorker>} */
const workerOf = new WeakMap();

/** A model living in the worker; the same methods as Model, all async. */
class RemoteModel {
  /**
   * @param {GlimpseWorker} worker
   * @param {ModelInfo} info
   */
  constructor(worker, info) {
    workerOf.set(this, worker);
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
}

// Each row of the table becomes a method of GlimpseWorker (on: 'worker') or RemoteModel (on:
// 'model', which sends its handle first): it posts what the row's send makes of its arguments
// and resolves to what receive makes of the result (a RemoteModel for returns: 'model').
for (const [name, op] of Object.entries(OPS)) {
  const row = /** @type {import('./ops.js').Op} */ (op);
  const cls = row.on === 'model' ? RemoteModel : GlimpseWorker;
  Object.defineProperty(cls.prototype, name, {
    configurable: true,
    writable: true,
    /** @this {any} @param {any[]} args */
    value(...args) {
      const worker = row.on === 'model' ? /** @type {GlimpseWorker} */ (workerOf.get(this)) : this;
      const handle = row.on === 'model' ? [this.handle] : [];
      /** @param {import('./ops.js').Sent} sent */
      const post = ({ args: posted, listeners, signal }) =>
        worker.call(name, [...handle, ...posted], { listeners, signal }).then((result) => {
          const wrap = (/** @type {ModelInfo} */ info) => new TypedRemoteModel(worker, info);
          if (row.returns === 'model') return wrap(result);
          return row.receive ? row.receive(result, { wrap, self: this, args }) : result;
        });
      try {
        // A synchronous send posts at once (calls reach the worker in the order they were made).
        const sent = row.send(...args);
        return sent instanceof Promise ? sent.then(post) : post(sent);
      } catch (e) {
        return Promise.reject(e);
      }
    },
  });
}

// The classes with the methods the table gave them, as the type checker sees them.
const TypedGlimpseWorker = /** @type {{ new (url?: string | URL): GlimpseWorker & WorkerMethods, prototype: GlimpseWorker & WorkerMethods }} */ (
  /** @type {unknown} */ (GlimpseWorker)
);
const TypedRemoteModel = /** @type {{ new (worker: GlimpseWorker, info: ModelInfo): RemoteModel & ModelMethods, prototype: RemoteModel & ModelMethods }} */ (
  /** @type {unknown} */ (RemoteModel)
);
export { TypedGlimpseWorker as GlimpseWorker, TypedRemoteModel as RemoteModel };

/**
 * Starts a Glimpse worker (module worker from this package's worker.js by default).
 * @param {string | URL} [url]
 */
export function createWorker(url) {
  return new TypedGlimpseWorker(url);
}
