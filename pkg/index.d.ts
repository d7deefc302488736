// Type declarations for glimpse-ml (the main entry, index.js).

/**
 * The kind of a Glimpse failure, as `code` on every Error the package throws or rejects with:
 * the model's structure (`json`, `unsupported-layer`, `unsupported-config`, `graph`), its
 * weights (`weights-file`, `model-file`, `weights-mismatch`), data of the wrong size (`shape`),
 * an argument that cannot be used (`input`), a download or file (`io`), a size over a limit of
 * setLimits() (`limit`), the engine or its device (`backend`), a stopped call (`aborted`; a call
 * given an AbortSignal rejects with the signal's reason when it has one).
 */
export type ErrorCode =
  | 'json' | 'unsupported-layer' | 'unsupported-config' | 'graph' | 'shape' | 'weights-file'
  | 'model-file' | 'weights-mismatch' | 'input' | 'io' | 'limit' | 'backend' | 'aborted';

/** An Error from Glimpse: its message says what, where, expected and found; `code` its kind. */
export interface GlimpseError extends Error {
  code: ErrorCode;
}

/** Which engine computes: WebGPU (burn's wgpu backend) or the CPU (WebAssembly). */
export type Backend = 'webgpu' | 'cpu';

/** The backend that ready() chose and the adapter behind it. */
export interface BackendInfo {
  backend: Backend;
  /** Adapter description, e.g. "SwiftShader Device (Subzero) (BrowserWebGpu)". */
  adapter: string;
  /** Why 'auto' chose the CPU, when it did. */
  reason?: 'no WebGPU adapter' | 'software WebGPU adapter';
  /** On the CPU: the threads each call is shared out over (1 on the one-thread engine). */
  threads?: number;
  /** On the CPU with 1 thread: why not more (e.g. 'page not cross-origin isolated'). */
  threadsReason?: string;
}

export interface ReadyOptions {
  /**
   * 'auto' (default) takes WebGPU when the browser has a hardware adapter, else the CPU (a
   * software fallback adapter, such as SwiftShader, is far slower than the CPU engine);
   * 'webgpu' takes any adapter.
   */
  backend?: 'auto' | Backend;
  /**
   * Where the full engine's glimpse_bg.wasm (WebGPU + CPU, wasm/) is served, if not beside
   * index.js, or that module already compiled. Given without `cpuWasmUrl`, the full engine
   * also serves the CPU backend.
   */
  wasmUrl?: string | URL | WebAssembly.Module;
  /**
   * Where the CPU-only engine's module (wasm-cpu/, about a quarter of the download) is served,
   * if not beside index.js. ready() loads it for the CPU backend. Without it, ready() picks
   * wasm-cpu/glimpse_relaxed_bg.wasm where the browser has relaxed SIMD (hasRelaxedSimd()),
   * else wasm-cpu/glimpse_bg.wasm; with it, that file is loaded (either module: they share
   * one glue, but the relaxed one compiles only where relaxed SIMD is supported), or that
   * module already compiled.
   */
  cpuWasmUrl?: string | URL | WebAssembly.Module;
  /**
   * Where the full engine's glue (wasm/glimpse.js) is served, if not where the package's own
   * `import('./wasm/glimpse.js')` finds it. Given without the CPU ones, the full engine also
   * serves the CPU backend.
   */
  glueUrl?: string | URL;
  /** Where the CPU-only engine's glue (wasm-cpu/glimpse.js) is served, if elsewhere. */
  cpuGlueUrl?: string | URL;
  /**
   * The CPU's threads: 'auto' (default: one per core, at most 8, where the threaded engine can
   * run: a Web Worker of a cross-origin-isolated page), false (one thread) or a number (1-64).
   */
  threads?: 'auto' | false | number;
  /**
   * The engine's download, as its bytes arrive (only on the call that loads it). `total` is 0
   * when the server does not say, or sends the file compressed.
   */
  onProgress?: (progress: { phase: 'engine'; loaded: number; total: number }) => void;
}

/**
 * Whether this browser's WebAssembly has relaxed SIMD: then ready() loads the CPU-only engine
 * built with fused multiply-add in its matrix product (glimpse_relaxed_bg.wasm).
 */
export function hasRelaxedSimd(): boolean;

/**
 * The files the engine in use was loaded from (its glue and its .wasm, absolute URLs; empty
 * before ready()), e.g. to keep them for offline use. A module given compiled is not listed.
 */
export function engineFiles(): string[];

/** Bytes of a file. */
export type Bytes = Uint8Array | ArrayBuffer | ArrayBufferView | Blob | Response;

/** How images become network inputs (classify, features, transfer). */
export interface Preprocessing {
  /** Central square crop of this fraction of the shorter side first (1: none). */
  crop_fraction?: number;
  /** Resampling filter: 'bicubic' (PIL's, antialiased) or 'nearest' (Keras' load_img). */
  resize?: 'bicubic' | 'nearest';
  /** Multiplies the 0..255 pixel values (generic models default to 1/255). */
  scale?: number;
  /** Side of the square input (informational; the model's input shape rules). */
  size?: number;
  /** Added after scaling (Teachable Machine: -1, for values in [-1, 1]). */
  offset?: number;
  /** Take the central square of the whole shorter side first (Teachable Machine). */
  square?: boolean;
}

/** Teachable Machine's image preprocessing: central square, resize, x / 127.5 - 1. */
export const TEACHABLE_MACHINE_PREPROCESSING: Readonly<Preprocessing>;

export type ModelSource =
  | {
      /** model.to_json() text, or the parsed object. */
      structure: string | object;
      /** A .weights.h5 (Keras 3) or save_weights .h5 (Keras 2). */
      weights: Bytes;
      labels?: string[] | null;
      preprocessing?: Preprocessing | null;
      featuresLayer?: string | null;
    }
  | {
      /** A .keras file or a full-model .h5. */
      keras: Bytes;
      labels?: string[] | null;
      preprocessing?: Preprocessing | null;
      featuresLayer?: string | null;
    }
  | {
      /** A TF.js layers model or Teachable Machine web export. */
      tfjs: {
        /** model.json text or object. */
        modelJson: string | object;
        /** Its weight files: name → bytes, File objects, or { name, data } pairs. */
        weights?: Map<string, Bytes> | Record<string, Bytes> | (File | { name: string; data: Bytes })[] | Bytes;
        /** Teachable Machine's metadata.json (text or object): gives the labels. */
        metadata?: string | object | null;
      };
      labels?: string[] | null;
      preprocessing?: Preprocessing | null;
      featuresLayer?: string | null;
    }
  | {
      /** Files a person chose: a .keras; a full-model .h5 (+ labels.txt); a structure .json
       * + .h5; a TF.js model.json + weight files (+ metadata.json); or a .zip of one of these. */
      files: Iterable<File | Blob & { name: string }>;
      labels?: string[] | null;
      preprocessing?: Preprocessing | null;
      featuresLayer?: string | null;
    }
  | {
      /** A model.json (its shards and metadata.json are fetched beside it), .keras or .h5 URL. */
      url: string | URL;
      labels?: string[] | null;
      preprocessing?: Preprocessing | null;
      featuresLayer?: string | null;
    };

export interface LoadOptions {
  /** On WebGPU, run one prediction on zeros at load so the first real call is fast (default true). */
  warmUp?: boolean;
  /** Download progress of { url } sources (.keras / .h5). */
  onProgress?: (p: { loaded: number; total: number }) => void;
}

/** What an image can be. */
export type ImageInput =
  | ImageBitmap
  | ImageData
  | HTMLImageElement
  | HTMLCanvasElement
  | OffscreenCanvas
  | HTMLVideoElement
  | Blob;

/** A tensor: values in Keras' layout (channels last) and the shape, batch first. */
export interface TensorData {
  data: Float32Array;
  shape: number[];
}

export interface Prediction {
  index: number;
  label: string;
  score: number;
}

export interface BatchLogs {
  loss: number;
  accuracy: number;
  epoch: number;
  batches: number;
}

export interface EpochLogs {
  loss: number;
  accuracy: number;
  val_loss?: number;
  val_accuracy?: number;
  seconds: number;
}

export interface FitOptions {
  epochs?: number;
  batchSize?: number;
  shuffle?: boolean;
  seed?: number;
  optimizer?: 'adam' | 'sgd' | 'rmsprop';
  learningRate?: number;
  /** The last fraction of the samples is held out, as Keras' fit does. */
  validationSplit?: number;
  validationData?: [Float32Array | TensorData, ArrayLike<number>];
  onBatchEnd?: (batch: number, logs: BatchLogs) => void;
  onEpochEnd?: (epoch: number, logs: EpochLogs) => void;
  /** Aborting keeps the weights learned so far and rejects with the signal's reason. */
  signal?: AbortSignal;
}

export interface History {
  epoch: number[];
  history: { loss: number[]; accuracy: number[]; val_loss?: number[]; val_accuracy?: number[] };
  stopped: boolean;
}

/** A model in Keras' formats. */
export interface SavedModel {
  /** Structure JSON (model.to_json()). */
  structure: string;
  /** Keras 3 .weights.h5 bytes. */
  weights: Uint8Array;
  labels: string[] | null;
}

export interface FeaturesOptions {
  /** Images per network call (default 8). */
  batchSize?: number;
  /**
   * Threads in all (default 1; at most navigator.hardwareConcurrency, and one per two
   * batches). On the CPU backend, more than 1 starts that many minus one helper Web Workers for
   * the call: each instantiates the already compiled engine, loads its own copy of the model
   * (EfficientNet-Lite0, batches of 8: about 100 MiB each for features, which load the
   * network up to featuresLayer only, 115 for classify) and takes batches from one queue
   * with this thread; they stop when the call ends. No SharedArrayBuffer, so the page needs no
   * cross-origin isolation. Helpers start only when every image is a Blob, ImageBitmap or
   * ImageData (what a worker can receive; the worker client turns elements into ImageBitmaps),
   * and not on WebGPU, where the GPU does the work.
   */
  workers?: number;
  /** After each batch: images done so far, of total. */
  onProgress?: (p: { done: number; total: number }) => void;
  signal?: AbortSignal;
  /** The layer whose output to give (default featuresLayer), flattened per image. */
  layer?: string;
}

export interface TransferOptions {
  epochs?: number;
  batchSize?: number;
  hidden?: number;
  learningRate?: number;
  validationSplit?: number;
  seed?: number;
  /** Threads for the features: see FeaturesOptions.workers (default 1). */
  workers?: number;
  /** Vary the training photos with Keras' augmentation layers: true (flip, rotate 0.1, zoom
   * 0.1, contrast 0.1) or the factors; each training photo adds `views` copies. */
  augment?: boolean | { flip?: boolean; rotate?: number; zoom?: number; shift?: number; contrast?: number; brightness?: number };
  /** Varied copies per training photo with `augment` (default 2, at most 16). */
  views?: number;
  /**
   * Teach this (already taught) classifier further: its own head is trained on from its
   * current weights, its classes kept by label and new ones added. A class given no photos
   * keeps what it learned but fades as the others train (a warning says so).
   */
  keepHead?: boolean;
  /**
   * EfficientNet-Lite (any of the zoo's): after the head, fine-tune the network's last N blocks and its top
   * convolution with it, on activations computed once where those blocks begin; their
   * BatchNormalization stays frozen (Keras' second transfer-learning step). Default 0.
   */
  unfreezeBlocks?: number;
  /** Passes of that fine-tuning (default 5). */
  fineTuneEpochs?: number;
  /** Adam's learning rate for it (default 1e-4). */
  fineTuneLearningRate?: number;
  onProgress?: (p: {
    phase: 'features' | 'views' | 'train' | 'fine-tune';
    done?: number;
    total?: number;
    epoch?: number;
    batch?: number;
    batches?: number;
    epochs?: number;
    loss?: number;
    accuracy?: number;
  }) => void;
  onEpochEnd?: (epoch: number, logs: EpochLogs) => void;
  onBatchEnd?: (batch: number, logs: BatchLogs) => void;
  signal?: AbortSignal;
}

export interface TransferResult {
  /** The network up to its features, then the new head: classify() with the new labels. */
  model: Model;
  head: Model;
  history: History;
  /** Held-out class indices and the head's predictions for them (null without a split). */
  validation: { labels: number[]; predictions: number[] } | null;
  /** Things the person should know (a photo left out, a class with too few photos). */
  warnings: string[];
  /** Photos that could not be read and were left out. */
  skipped: { image: ImageInput; label: string; error: string }[];
}

export interface Occlusion {
  index: number;
  score: number;
  grid: number;
  /** Score drop per cell, row-major, grid * grid values. */
  values: Float32Array;
}

/** A Keras model on the chosen backend. */
export class Model {
  labels: string[] | null;
  preprocessing: Preprocessing | null;
  featuresLayer: string | null;
  /** The URLs a loadPretrained() model came from (its weights file among them); else absent. */
  files?: string[];
  readonly inputShape: (number | null)[];
  readonly outputShape: (number | null)[];
  readonly layerNames: string[];
  summary(): string;
  countParams(): number;
  predict(data: Float32Array | number[], shape: number[]): Promise<TensorData>;
  warmUp(): Promise<void>;
  prepareImages(images: ImageInput | ImageInput[]): Promise<TensorData>;
  classify(image: ImageInput, options?: { topK?: number }): Promise<Prediction[]>;
  /** One list per image; `workers` etc. as in features(). */
  classify(images: ImageInput[], options?: { topK?: number } & FeaturesOptions): Promise<Prediction[][]>;
  featureExtractor(layer?: string): Model;
  features(images: ImageInput | ImageInput[], options?: FeaturesOptions): Promise<TensorData>;
  fit(x: Float32Array | TensorData, y: ArrayLike<number>, options?: FitOptions): Promise<History>;
  save(): Promise<SavedModel>;
  /** One .keras file (structure, weights and labels.txt). */
  saveKeras(): Promise<Uint8Array>;
  /** Occlusion sensitivity: how much class `index`'s score drops when each grid cell is hidden. */
  occlusion(image: ImageInput, options?: { index?: number; grid?: number; batchSize?: number }): Promise<Occlusion>;
  withHead(head: Model, options?: { labels?: string[] | null; cut?: string; name?: string }): Model;
  transfer(examples: { label: string; images: ImageInput[] }[], options?: TransferOptions): Promise<TransferResult>;
  dispose(): void;
}

export function ready(options?: ReadyOptions): Promise<BackendInfo>;
export function backendInfo(): BackendInfo | null;
/** Resolves once the threaded engine's workers have started: to the threads calls now use. */
export function poolReady(): Promise<number>;
export function memoryBytes(): number;
/** Sizes refused before allocating, in float32 values. */
export interface Limits {
  /** All the model's variables together. */
  maxParams?: number;
  /** One layer's output for one sample. */
  maxActivation?: number;
  /** One layer's output for a whole batch. */
  maxBatchActivation?: number;
}
export function setLimits(limits: Limits): Promise<Required<Limits>>;
/** The held-out split transfer() uses: from each class in proportion, seeded (the engine's
 * rule: call after ready()). */
export function stratifiedSplit(
  labels: ArrayLike<number>,
  names: string[],
  split: number,
  seed: number,
): { order: number[]; nVal: number; warnings: string[] };
/** labels.txt lines (Teachable Machine's `0 Class 1` numbering dropped). */
export function parseLabels(text: string): string[];
export function loadModel(source: ModelSource, options?: LoadOptions): Promise<Model>;
export function loadPretrained(
  name?: 'efficientnet-lite0' | 'efficientnet-lite1' | 'efficientnet-lite2',
  options?: {
    baseUrl?: string | URL;
    onProgress?: (p: { loaded: number; total: number }) => void;
    warmUp?: boolean;
    /**
     * 'float16' (default: half the download, falls back to float32 where absent), 'int8'
     * (Glimpse's int8 pointwise and dense kernels: under a third; falls back to float16) or
     * 'float32'.
     */
    precision?: 'int8' | 'float16' | 'float32';
  },
): Promise<Model>;
export function createHead(options: { features: number; classes: number; hidden?: number; seed?: number }): Promise<Model>;
export function imagePixels(image: ImageInput): Promise<ImageData>;
