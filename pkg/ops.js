// @ts-check
// The operations the engine's Web Worker runs, one row each: worker.js dispatches the messages
// it gets with this table, and client.js makes GlimpseWorker's and RemoteModel's methods from it
// (one method per row, of the row's name). Adding an operation is adding a row here (and its
// declaration in client.d.ts, which tests/types/check.mjs holds against the table).
//
// Protocol: { id, op, args } in; { id, ok, result } / { id, ok: false, error } out, plus
// { id, event, payload } for progress while a call runs, and { op: 'abort', args: [id] }.
//
// A row:
// - on: 'worker' (a GlimpseWorker method) or 'model' (a RemoteModel method: the model's handle
//   is sent first, and the worker gives `ctx.model`, that model, to `run`).
// - run(ctx, ...args): in the worker, what the operation does with the message's args (less the
//   handle); its result (or what it resolves to) is posted back.
// - send(...methodArgs): on the page, the method's arguments as { args, listeners, signal }: the
//   args posted (callbacks stay on the page), the callbacks that receive the call's events
//   (ctx.emit(kind) in the worker), the AbortSignal that aborts it; its parameters are the
//   method's. It may be async (images become ImageBitmaps first); a synchronous one posts at
//   once, so that calls made one after the other reach the worker in that order.
// - returns: 'model': run gives a Model, kept in the worker; the page gets a RemoteModel of it.
// - receive(result, { wrap, self, args }): on the page, the method's result from the posted one
//   (wrap(info) makes a RemoteModel of what ctx.describe gave; self: the client object; args:
//   the method's arguments). Without it (and returns), the posted result as it is.
// - transfer(result): in the worker, the buffers of the result to transfer rather than copy.
//
// This module is loaded on the page (by client.js) and in the worker: it imports neither side.

/** @typedef {typeof import('glimpse-ml')} Glimpse */
/** @typedef {import('glimpse-ml').Model} Model */
/** @typedef {import('glimpse-ml').ImageInput} ImageInput */
/** @typedef {import('glimpse-ml/client').RemoteModel} RemoteModel */

/**
 * What the worker knows of a model it keeps: the page's RemoteModel is made from it.
 * @typedef {{ handle: number, inputShape: (number | null)[], outputShape: (number | null)[],
 *   layerNames: string[], params: number, summary: string, labels: string[] | null,
 *   preprocessing: import('glimpse-ml').Preprocessing | null, featuresLayer: string | null,
 *   files?: string[] }} ModelInfo
 */

/**
 * What `run` gets in the worker besides the message's args.
 * @typedef {object} WorkerContext
 * @property {Glimpse} glimpse the engine's API (index.js)
 * @property {Model} model the call's model (on: 'model'); an Error once it was disposed
 * @property {(handle: number) => Model} modelOf another model of this worker, by its handle
 * @property {(model: Model) => ModelInfo} describe keeps `model` in the worker: its RemoteModel's info
 * @property {() => void} drop disposes of the call's model and forgets its handle
 * @property {() => AbortSignal} signal a signal the page's abort of this call aborts
 * @property {(kind: string) => (payload: any) => void} emit posts the call's events of `kind`
 */

/**
 * A method's message: see the table's header.
 * @typedef {{ args: any[], listeners?: Record<string, ((payload: any) => void) | undefined>,
 *   signal?: AbortSignal }} Sent
 */

/**
 * A row of the table.
 * @typedef {object} Op
 * @property {'worker' | 'model'} on
 * @property {(ctx: WorkerContext, ...args: any[]) => any} run
 * @property {(...args: any[]) => Sent | Promise<Sent>} send
 * @property {'model'} [returns]
 * @property {(result: any, on: { wrap: (info: ModelInfo) => RemoteModel, self: any, args: any[] }) => any} [receive]
 * @property {(result: any) => Transferable[]} [transfer]
 */

// Images the worker can receive: pages' elements become ImageBitmaps first.
/**
 * @param {ImageInput | ImageInput[]} image
 * @returns {Promise<any>}
 */
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
  // (An element: the cast is for the workers' program, whose lib has no elements.)
  return createImageBitmap(/** @type {any} */ (image));
}

/** @param {{ data: Float32Array }} r */
const dataBuffer = (r) => [r.data.buffer];

export const OPS = /** @satisfies {Record<string, Op>} */ ({
  // ---- GlimpseWorker's methods ----

  /** Loads the engine in the worker and picks the backend; onProgress for the engine's download. */
  ready: {
    on: 'worker',
    /** @param {import('glimpse-ml').ReadyOptions} [options] */
    send: ({ onProgress, ...options } = {}) => ({ args: [options], listeners: { progress: onProgress } }),
    run: (ctx, options = {}) => ctx.glimpse.ready({ ...options, onProgress: ctx.emit('progress') }),
  },
  /** ready(options), then loadModel(source), in one message (index.js's feature helpers). */
  startHelper: {
    on: 'worker',
    /**
     * @param {import('glimpse-ml').ReadyOptions} options
     * @param {import('glimpse-ml').ModelSource} source
     */
    send: (options, source) => ({ args: [options, source] }),
    run: async (ctx, options, source) => {
      await ctx.glimpse.ready(options);
      return ctx.glimpse.loadModel(source);
    },
    returns: 'model',
  },
  /** setLimits() in the worker. */
  setLimits: {
    on: 'worker',
    /** @param {import('glimpse-ml').Limits} limits */
    send: (limits) => ({ args: [limits] }),
    run: (ctx, limits) => ctx.glimpse.setLimits(limits),
  },
  /** poolReady() in the worker: once the threaded engine's threads are up, how many calls use. */
  poolReady: { on: 'worker', send: () => ({ args: [] }), run: (ctx) => ctx.glimpse.poolReady() },
  /** engineFiles() in the worker: the files its engine was loaded from. */
  engineFiles: { on: 'worker', send: () => ({ args: [] }), run: (ctx) => ctx.glimpse.engineFiles() },
  /** Bytes of the worker engine's WebAssembly memory. */
  memoryBytes: { on: 'worker', send: () => ({ args: [] }), run: (ctx) => ctx.glimpse.memoryBytes() },
  /** loadModel() in the worker. */
  loadModel: {
    on: 'worker',
    /**
     * @param {import('glimpse-ml').ModelSource} source
     * @param {import('glimpse-ml').LoadOptions} [options]
     */
    send: (source, options) => ({ args: [source, options] }),
    run: (ctx, source, options) => ctx.glimpse.loadModel(source, options),
    returns: 'model',
  },
  /** loadPretrained() in the worker; onProgress({ loaded, total }) for the download. */
  loadPretrained: {
    on: 'worker',
    /**
     * @param {'efficientnet-lite0'} [name]
     * @param {{ baseUrl?: string, onProgress?: (p: { loaded: number, total: number }) => void, warmUp?: boolean }} [options]
     */
    send: (name = 'efficientnet-lite0', { onProgress, ...options } = {}) => {
      // Relative to this page, not to the worker's script.
      options.baseUrl = new URL(options.baseUrl ?? `models/${name}/`, location.href).href;
      return { args: [name, options], listeners: { progress: onProgress } };
    },
    run: (ctx, name, options = {}) => ctx.glimpse.loadPretrained(name, { ...options, onProgress: ctx.emit('progress') }),
    returns: 'model',
  },
  /** createHead() in the worker. */
  createHead: {
    on: 'worker',
    /** @param {{ features: number, classes: number, hidden?: number, seed?: number }} options */
    send: (options) => ({ args: [options] }),
    run: (ctx, options) => ctx.glimpse.createHead(options),
    returns: 'model',
  },

  // ---- RemoteModel's methods ----

  predict: {
    on: 'model',
    /**
     * @param {Float32Array} data
     * @param {number[]} shape
     */
    send: (data, shape) => ({ args: [data, shape] }),
    run: (ctx, data, shape) => ctx.model.predict(data, shape),
    transfer: dataBuffer,
  },
  classify: {
    on: 'model',
    /**
     * @param {ImageInput | ImageInput[]} image
     * @param {{ topK?: number } & import('glimpse-ml').FeaturesOptions} [options]
     */
    send: async (image, { onProgress, signal, ...options } = {}) =>
      ({ args: [await transferable(image), options], listeners: { progress: onProgress }, signal }),
    run: (ctx, images, options = {}) =>
      ctx.model.classify(images, { ...options, signal: ctx.signal(), onProgress: ctx.emit('progress') }),
  },
  features: {
    on: 'model',
    /**
     * @param {ImageInput | ImageInput[]} images
     * @param {import('glimpse-ml').FeaturesOptions} [options]
     */
    send: async (images, { onProgress, signal, ...options } = {}) =>
      ({ args: [await transferable(images), options], listeners: { progress: onProgress }, signal }),
    run: (ctx, images, options = {}) =>
      ctx.model.features(images, { ...options, signal: ctx.signal(), onProgress: ctx.emit('progress') }),
    transfer: dataBuffer,
  },
  fit: {
    on: 'model',
    /**
     * @param {Float32Array} x
     * @param {ArrayLike<number>} y
     * @param {import('glimpse-ml').FitOptions} [options]
     */
    send: (x, y, { onBatchEnd, onEpochEnd, signal, ...options } = {}) => ({
      args: [x, y, options],
      listeners: {
        batch: (p) => onBatchEnd?.(p.batch, p.logs),
        epoch: (p) => onEpochEnd?.(p.epoch, p.logs),
      },
      signal,
    }),
    run: (ctx, x, y, options = {}) => {
      const batch = ctx.emit('batch');
      const epoch = ctx.emit('epoch');
      return ctx.model.fit(x, y, {
        ...options,
        signal: ctx.signal(),
        onBatchEnd: (b, logs) => batch({ batch: b, logs }),
        onEpochEnd: (e, logs) => epoch({ epoch: e, logs }),
      });
    },
  },
  save: {
    on: 'model',
    send: () => ({ args: [] }),
    run: (ctx) => ctx.model.save(),
    /** @param {import('glimpse-ml').SavedModel} r */
    transfer: (r) => [r.weights.buffer],
  },
  saveKeras: {
    on: 'model',
    send: () => ({ args: [] }),
    run: (ctx) => ctx.model.saveKeras(),
    /** @param {Uint8Array} r */
    transfer: (r) => [r.buffer],
  },
  occlusion: {
    on: 'model',
    /**
     * @param {ImageInput} image
     * @param {{ index?: number, grid?: number, batchSize?: number }} [options]
     */
    send: async (image, options) => ({ args: [await transferable(image), options] }),
    run: (ctx, image, options) => ctx.model.occlusion(image, options),
    /** @param {import('glimpse-ml').Occlusion} r */
    transfer: (r) => [r.values.buffer],
  },
  setLabels: {
    on: 'model',
    /** @param {string[]} labels */
    send: (labels) => ({ args: [labels] }),
    run: (ctx, labels) => {
      ctx.model.labels = labels;
    },
    receive: (_, { self, args: [labels] }) => {
      self.labels = labels;
    },
  },
  setPreprocessing: {
    on: 'model',
    /** @param {import('glimpse-ml').Preprocessing} preprocessing */
    send: (preprocessing) => ({ args: [preprocessing] }),
    run: (ctx, preprocessing) => {
      ctx.model.preprocessing = preprocessing;
    },
    receive: (_, { self, args: [preprocessing] }) => {
      self.preprocessing = preprocessing;
    },
  },
  featureExtractor: {
    on: 'model',
    /** @param {string} [layer] */
    send: (layer) => ({ args: [layer] }),
    run: (ctx, layer) => ctx.model.featureExtractor(layer),
    returns: 'model',
  },
  withHead: {
    on: 'model',
    /**
     * @param {RemoteModel} head
     * @param {{ labels?: string[] | null, cut?: string, name?: string }} [options]
     */
    send: (head, options) => ({ args: [head.handle, options] }),
    run: (ctx, head, options) => ctx.model.withHead(ctx.modelOf(head), options),
    returns: 'model',
  },
  transfer: {
    on: 'model',
    /**
     * @param {{ label: string, images: ImageInput[] }[]} examples
     * @param {import('glimpse-ml').TransferOptions} [options]
     */
    send: async (examples, { onProgress, onEpochEnd, signal, ...options } = {}) => ({
      args: [
        await Promise.all(examples.map(async (e) => ({ label: e.label, images: await transferable(e.images) }))),
        options,
      ],
      listeners: { progress: onProgress, epoch: (p) => onEpochEnd?.(p.epoch, p.logs) },
      signal,
    }),
    run: async (ctx, examples, options = {}) => {
      const epoch = ctx.emit('epoch');
      const r = await ctx.model.transfer(examples, {
        ...options,
        signal: ctx.signal(),
        onProgress: ctx.emit('progress'),
        onEpochEnd: (e, logs) => epoch({ epoch: e, logs }),
      });
      return {
        model: ctx.describe(r.model), head: ctx.describe(r.head), history: r.history,
        validation: r.validation, warnings: r.warnings,
        // The photos themselves stay on the page's side: their names and what went wrong.
        skipped: r.skipped.map((s) => ({
          name: /** @type {{ name?: string }} */ (s.image)?.name ?? null, label: s.label, error: s.error,
        })),
      };
    },
    /**
     * @param {{ model: ModelInfo, head: ModelInfo, history: import('glimpse-ml').History,
     *   validation: { labels: number[], predictions: number[] } | null, warnings?: string[],
     *   skipped?: { name: string | null, label: string, error: string }[] }} r
     */
    receive: (r, { wrap }) => ({
      model: wrap(r.model),
      head: wrap(r.head),
      history: r.history,
      validation: r.validation,
      warnings: r.warnings ?? [],
      skipped: r.skipped ?? [],
    }),
  },
  dispose: {
    on: 'model',
    send: () => ({ args: [] }),
    run: (ctx) => ctx.drop(),
  },
});

/**
 * The methods the rows of `on` make: a row's method takes what its `send` takes and resolves to
 * what its `receive` gives (a RemoteModel for `returns: 'model'`; else the posted result, whose
 * type the declarations state).
 * @template {'worker' | 'model'} On
 * @typedef {{ [K in keyof typeof OPS as (typeof OPS)[K]['on'] extends On ? K : never]:
 *   (...args: Parameters<(typeof OPS)[K]['send']>) => Promise<MethodResult<(typeof OPS)[K]>> }} OpMethods
 */

/**
 * @template R
 * @typedef {R extends { returns: 'model' } ? RemoteModel
 *   : R extends { receive: (...args: any[]) => infer T } ? Awaited<T> : any} MethodResult
 */
