// @ts-check
// The Model class: a Keras model on the engine it was made on (predict, classify, features,
// fit, save, transfer learning), and createHead() for a new classifier head.

import { asError, currentState, ensureReady, onEngine, wasm } from './engine.js';
import { describe, error } from './errors.js';
import { imagePlan, prepareImages } from './images.js';
import { runBatches } from './pool.js';

/** @typedef {import('glimpse-ml').Preprocessing} Preprocessing */
/** @typedef {import('glimpse-ml').FeaturesOptions} FeaturesOptions */
/** @typedef {import('glimpse-ml').ImageInput} ImageInput */

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
    this.#engine = currentState();
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

  /** Network inputs for images (after this model's preprocessing): { data, shape }. */
  async prepareImages(images) {
    const list = Array.isArray(images) ? images : [images];
    if (list.length === 0) throw error('no images given');
    return prepareImages(list, imagePlan(this.inputShape, this.preprocessing));
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
    await runBatches(list, {
      what: 'classify()', batchSize, workers, onProgress, signal,
      helperSource: () => this.#helperSource(this),
      runLocal: async (images) => {
        const x = await this.prepareImages(images);
        const y = await this.predict(x.data, x.shape);
        const per = y.data.length / x.shape[0];
        return Array.from({ length: x.shape[0] }, (_, j) =>
          topK(y.data.subarray(j * per, (j + 1) * per), this.labels, k));
      },
      runRemote: (m, images) => m.classify(images, { topK: k, batchSize }),
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
   * runBatches in pool.js), onProgress({ done, total }), signal.
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
      await runBatches(list, {
        what: 'features()', batchSize, workers, onProgress, signal,
        // Helpers load the network up to featuresLayer only (Lite0: 13 of its 18 MB).
        helperSource: () => this.#helperSource(fx),
        runLocal: async (imgs) => {
          const x = await this.prepareImages(imgs);
          return (await fx.predict(x.data, x.shape)).data;
        },
        runRemote: async (m, imgs) => (await m.features(imgs, { batchSize, layer: /** @type {string} */ (layer) })).data,
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

  // What a helper worker loads (pool.js): the model `copy` (this one or a part of it) with this
  // one's labels, preprocessing and featuresLayer.
  /** @param {Model} copy */
  async #helperSource(copy) {
    const s = await copy.save();
    return {
      structure: s.structure,
      weights: s.weights,
      labels: this.labels,
      preprocessing: this.preprocessing,
      featuresLayer: this.featuresLayer,
    };
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
    if (signal?.aborted) throw signal.reason ?? error('aborted', undefined, 'aborted');
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
      const reason = signal.reason ?? error('training was aborted', undefined, 'aborted');
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

  /** The model as one .keras file (Keras loads it; Glimpse also keeps the labels, the
   * preprocessing and the features layer inside, which loadModel() reads back). */
  async saveKeras() {
    try {
      return await onEngine(this.#engine, this.#live().saveKeras(this.labels ?? undefined,
        this.preprocessing ?? undefined, this.featuresLayer ?? undefined));
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
  async occlusion(image, options = {}) {
    const { occlusion } = await import('./explain.js');
    return occlusion(this, image, options);
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
    const { teachingSet } = await import('./transfer.js');
    const { trainA, trainY, valA, valY, nVal, warnings, skipped, augment } = await teachingSet(this, examples, names, o);
    // The rest is the library's: the head, its training, the second step, the whole model.
    const phaseEpochs = { train: epochs, 'fine-tune': o.fineTuneEpochs };
    const taught = onEngine(this.#engine, this.#live().teach(cut, trainA, trainY, valA, valY, names, {
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
    // An abort while the network's top computes the features rejects in the engine: as fit()
    // does, it rejects with the signal's reason here.
    const r = await taught.catch((e) => {
      throw signal?.aborted ? signal.reason ?? error('training was aborted', undefined, 'aborted') : e;
    });
    const meta = { labels: names, preprocessing: this.preprocessing, featuresLayer: cut };
    const model = new Model(r.model, meta);
    const trained = new Model(r.head, {});
    if (signal?.aborted) {
      // As fit() does: an abort rejects with the signal's reason (what was learned is dropped).
      model.dispose();
      trained.dispose();
      throw signal.reason ?? error('training was aborted', undefined, 'aborted');
    }
    const validation = nVal > 0 ? { labels: Array.from(valY), predictions: Array.from(r.predictions) } : null;
    for (const s of skipped) {
      warnings.unshift(`${s.image?.name ?? 'a photo'} of '${s.label}' was left out: ${s.error}`);
    }
    return { model, head: trained, history: r.history, validation, warnings, skipped };
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
    return new Model(wasm().createHead(features, classes, hidden ?? undefined, seed), {});
  } catch (e) {
    throw asError(e);
  }
}
