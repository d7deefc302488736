// Type declarations for glimpse-ml/client: the engine in a Web Worker.
import type {
  BackendInfo, ReadyOptions, ModelSource, LoadOptions, ImageInput, TensorData, Prediction,
  FitOptions, History, SavedModel, Occlusion, TransferOptions, Preprocessing, EpochLogs,
  FeaturesOptions, Limits,
} from './index.js';

export class GlimpseWorker {
  constructor(url?: string | URL);
  ready(options?: Omit<ReadyOptions, never>): Promise<BackendInfo>;
  /** poolReady() in the worker. */
  poolReady(): Promise<number>;
  memoryBytes(): Promise<number>;
  /** The files the worker's engine was loaded from (glue and .wasm, absolute URLs). */
  engineFiles(): Promise<string[]>;
  setLimits(limits: Limits): Promise<Required<Limits>>;
  /** ready(options) then loadModel(source) in one message (what features({ workers }) uses). */
  startHelper(options: ReadyOptions, source: ModelSource): Promise<RemoteModel>;
  loadModel(source: ModelSource, options?: LoadOptions): Promise<RemoteModel>;
  loadPretrained(
    name?: 'efficientnet-lite0',
    options?: { baseUrl?: string; onProgress?: (p: { loaded: number; total: number }) => void; warmUp?: boolean },
  ): Promise<RemoteModel>;
  createHead(options: { features: number; classes: number; hidden?: number; seed?: number }): Promise<RemoteModel>;
  /** Stops the worker; calls still running reject. */
  terminate(): void;
}

/** A model living in the worker: Model's methods, all asynchronous. */
export class RemoteModel {
  readonly handle: number;
  readonly inputShape: (number | null)[];
  readonly outputShape: (number | null)[];
  readonly layerNames: string[];
  readonly labels: string[] | null;
  readonly preprocessing: Preprocessing | null;
  readonly featuresLayer: string | null;
  /** The URLs a loadPretrained() model came from (its weights file among them); else absent. */
  readonly files?: string[];
  summary(): string;
  countParams(): number;
  predict(data: Float32Array, shape: number[]): Promise<TensorData>;
  classify(image: ImageInput, options?: { topK?: number }): Promise<Prediction[]>;
  classify(images: ImageInput[], options?: { topK?: number } & FeaturesOptions): Promise<Prediction[][]>;
  features(images: ImageInput | ImageInput[], options?: FeaturesOptions): Promise<TensorData>;
  fit(x: Float32Array, y: ArrayLike<number>, options?: FitOptions): Promise<History>;
  save(): Promise<SavedModel>;
  saveKeras(): Promise<Uint8Array>;
  occlusion(image: ImageInput, options?: { index?: number; grid?: number; batchSize?: number }): Promise<Occlusion>;
  setLabels(labels: string[]): Promise<void>;
  setPreprocessing(preprocessing: Preprocessing): Promise<void>;
  featureExtractor(layer?: string): Promise<RemoteModel>;
  withHead(head: RemoteModel, options?: { labels?: string[] | null; cut?: string; name?: string }): Promise<RemoteModel>;
  transfer(
    examples: { label: string; images: ImageInput[] }[],
    options?: TransferOptions & { onEpochEnd?: (epoch: number, logs: EpochLogs) => void },
  ): Promise<{
    model: RemoteModel;
    head: RemoteModel;
    history: History;
    validation: { labels: number[]; predictions: number[] } | null;
    /** Things the person should know (a photo left out, a class with too few photos). */
    warnings: string[];
    /** Photos that could not be read: their file names (when they had one) and the error. */
    skipped: { name: string | null; label: string; error: string }[];
  }>;
  dispose(): Promise<void>;
}

export function createWorker(url?: string | URL): GlimpseWorker;
