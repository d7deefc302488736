// @ts-check
// Loading models: loadModel() from every source it takes (Keras files, TF.js and Teachable
// Machine exports, URLs, the files a person chose), loadPretrained() for the converted
// EfficientNet-Lite networks, and parseLabels().

import { asError, ensureReady, wasm } from './engine.js';
import { error, shown } from './errors.js';
import { TEACHABLE_MACHINE_PREPROCESSING } from './images.js';
import { bodyLength, fetchOk, readPieces, readWithProgress, toBytes } from './io.js';
import { Model } from './model.js';

const SOURCES =
  'expected { structure, weights }, { keras }, { tfjs: { modelJson, weights } }, { url } or { files }';

/** Labels from a labels.txt: one per line; Teachable Machine's `0 Class 1` numbering dropped
 * (the engine's bundle::parse_labels is the same rule; a test of each checks the same cases). */
export function parseLabels(text) {
  const lines = String(text).split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  const numbered = lines.length > 0 && lines.every((l, i) => l.startsWith(`${i} `));
  return numbered ? lines.map((l, i) => l.slice(String(i).length + 1).trim()) : lines;
}

/** A model source from the files a person chose (a file input, a drop): a .keras; a full-model
 * .h5 (+ labels.txt); a structure .json + its .h5 weights; a TF.js model.json + its weight
 * files (+ Teachable Machine's metadata.json); or a .zip of any of these (Teachable Machine's
 * downloads). */
async function filesSource(files) {
  let list = [];
  for (const f of files) {
    if (/\.zip$/i.test(f.name ?? '')) {
      let entries;
      try {
        entries = wasm().zipFiles(await toBytes(f, `loadModel({ files }): ${f.name}`));
      } catch (e) {
        throw asError(e);
      }
      for (const [name, data] of entries) list.push({ name, data, text: async () => new TextDecoder().decode(data) });
    } else {
      list.push({ name: f.name ?? '', data: f, text: () => (typeof f.text === 'function' ? f.text() : new TextDecoder().decode(f)) });
    }
  }
  list = list.filter((f) => !f.name.startsWith('.') && !f.name.startsWith('__MACOSX'));
  const by = (re) => list.find((f) => re.test(f.name));
  const labelsFile = by(/\.txt$/i);
  const labels = labelsFile ? parseLabels(await labelsFile.text()) : undefined;
  const withLabels = (src) => (labels ? { ...src, labels } : src);
  const keras = by(/\.keras$/i);
  if (keras) return withLabels({ keras: keras.data });
  const jsons = list.filter((f) => /\.json$/i.test(f.name));
  const texts = await Promise.all(jsons.map((f) => f.text()));
  const tfIdx = texts.findIndex((t) => /"weightsManifest"|"modelTopology"/.test(t));
  if (tfIdx >= 0) {
    const metaIdx = texts.findIndex((t, i) => i !== tfIdx && /"labels"/.test(t));
    const weights = list
      .filter((f) => !/\.(json|txt)$/i.test(f.name))
      .map((f) => ({ name: f.name, data: f.data }));
    return withLabels({ tfjs: { modelJson: texts[tfIdx], weights, metadata: metaIdx >= 0 ? texts[metaIdx] : null } });
  }
  const h5 = by(/\.(h5|hdf5)$/i);
  const structure = texts.find((t) => /"class_name"/.test(t));
  if (structure && h5) return withLabels({ structure, weights: h5.data });
  if (h5) {
    // Teachable Machine's Keras export: keras_model.h5 + numbered labels.txt.
    const teachable = /keras_model\.h5$/i.test(h5.name) && Boolean(labelsFile) &&
      /^0 /.test((await /** @type {{ text(): Promise<string> }} */ (labelsFile).text()).trim());
    return withLabels({ keras: h5.data, ...(teachable ? { preprocessing: TEACHABLE_MACHINE_PREPROCESSING } : {}) });
  }
  throw error(
    'loadModel({ files }): choose a .keras file; a full-model .h5 (with labels.txt); a structure .json ' +
      'with its .h5 weights; a TF.js model.json with its weight files (and metadata.json); or a .zip of one of these',
  );
}

/** The weight files of a TF.js model as [names, Uint8Arrays]. */
async function tfjsShards(weights) {
  const names = [];
  const shards = [];
  const add = async (name, value) => {
    names.push(String(name));
    shards.push(await toBytes(value, `loadModel({ tfjs }): weight file '${name}'`));
  };
  if (weights === undefined || weights === null) return [names, shards];
  if (weights instanceof Map) {
    for (const [name, value] of weights) await add(name, value);
  } else if (Array.isArray(weights)) {
    for (const [i, w] of weights.entries()) {
      // File objects carry their names; { name, data } pairs too.
      if (typeof File !== 'undefined' && w instanceof File) await add(w.name, w);
      else if (w && typeof w === 'object' && 'name' in w && 'data' in w) await add(w.name, w.data);
      else await add(`shard ${i}`, w);
    }
  } else if (typeof weights === 'object' && !ArrayBuffer.isView(weights) && !(weights instanceof ArrayBuffer)) {
    for (const [name, value] of Object.entries(weights)) await add(name, value);
  } else {
    await add('weights.bin', weights);
  }
  return [names, shards];
}

/** Teachable Machine's labels from its metadata.json (text or object), if it has them. */
function parseMetadata(metadata) {
  if (!metadata) return null;
  try {
    return typeof metadata === 'string' ? JSON.parse(metadata) : metadata;
  } catch {
    return null;
  }
}

function metadataLabels(metadata) {
  if (!metadata) return null;
  try {
    const m = typeof metadata === 'string' ? JSON.parse(metadata) : metadata;
    return Array.isArray(m?.labels) && m.labels.every((l) => typeof l === 'string') ? m.labels : null;
  } catch {
    return null;
  }
}

/** Downloads a model by URL: a TF.js model.json (with its shards and, when there is one, the
 * metadata.json beside it) or a .keras / .h5 file. */
async function fetchModel(url, onProgress) {
  const base = new URL(url, typeof location !== 'undefined' ? location.href : import.meta.url);
  const path = base.pathname.toLowerCase();
  if (path.endsWith('.keras') || path.endsWith('.h5')) {
    const r = await fetchOk(base, 'the model');
    return { keras: await readWithProgress(r, onProgress) };
  }
  const modelJson = await (await fetchOk(base, 'model.json')).text();
  let parsed;
  try {
    parsed = JSON.parse(modelJson);
  } catch (e) {
    throw error(`loadModel({ url }): ${base} is not JSON: ${e.message}`, e, 'json');
  }
  const paths = [...new Set((parsed?.weightsManifest ?? []).flatMap((g) => g?.paths ?? []))];
  const [weights, metadata] = await Promise.all([
    Promise.all(
      paths.map(async (p) => ({
        name: p,
        data: new Uint8Array(await (await fetchOk(new URL(p, base), `weight file '${p}'`)).arrayBuffer()),
      })),
    ),
    fetch(new URL('metadata.json', base))
      .then((r) => (r.ok ? r.text() : null))
      .catch(() => null),
  ]);
  return { tfjs: { modelJson, weights, metadata } };
}

/**
 * Loads a model: { structure, weights } (structure JSON text or object from model.to_json();
 * weights: bytes of a .weights.h5 or Keras 2 .h5), { keras } (bytes of a .keras file or a
 * full-model .h5), { tfjs: { modelJson, weights, metadata } } (a TF.js layers model or
 * Teachable Machine web export: model.json text or object; its weight files as a Map or
 * object of name → bytes, an array of File objects or { name, data }; optional metadata.json
 * for the labels) or { url } (a model.json, .keras or .h5 to download). Optional: labels
 * (class names), preprocessing.
 */
export async function loadModel(source, options = {}) {
  if (!source || typeof source !== 'object') {
    throw error(`loadModel(): ${SOURCES}`);
  }
  const info = await ensureReady();
  if (source.url !== undefined) {
    const fetched = await fetchModel(source.url, options.onProgress);
    return loadModel({ ...source, url: undefined, ...fetched }, options);
  }
  if (source.files !== undefined) {
    const { files, ...rest } = source;
    const found = await filesSource(files);
    return loadModel({ ...found, ...Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined)) }, options);
  }
  let raw;
  let tfjsLabels = null;
  let teachable = false;
  try {
    if (source.tfjs !== undefined) {
      const { modelJson, weights, metadata } = source.tfjs ?? {};
      if (modelJson === undefined) throw error('loadModel({ tfjs }): expected { modelJson, weights }');
      const text = typeof modelJson === 'string' ? modelJson : JSON.stringify(modelJson);
      const [names, shards] = await tfjsShards(weights);
      raw = wasm().loadTfjs(text, names, shards);
      tfjsLabels = metadataLabels(metadata);
      const meta = parseMetadata(metadata);
      teachable = Boolean(meta?.tmVersion || String(meta?.packageName ?? '').includes('teachablemachine'));
    } else if (source.keras !== undefined) {
      raw = wasm().loadModelFile(await toBytes(source.keras, 'loadModel({ keras })'));
    } else {
      if (source.structure === undefined || source.weights === undefined) {
        throw error(`loadModel(): ${SOURCES}`);
      }
      const structure =
        typeof source.structure === 'string' ? source.structure : JSON.stringify(source.structure);
      const weights = /** @type {any} */ (source.weights);
      raw = weights instanceof StreamedWeights
        ? wasm().loadModelStreamed(structure, weights.stream)
        : wasm().loadModel(structure, await toBytes(source.weights, 'loadModel({ weights })'));
    }
  } catch (e) {
    throw asError(e);
  }
  const model = new Model(raw, {
    labels: source.labels ?? raw.archiveLabels ?? tfjsLabels ?? null,
    // A Glimpse .keras export says its preprocessing and features layer (glimpse.json).
    preprocessing: source.preprocessing ?? raw.archivePreprocessing ?? (teachable ? TEACHABLE_MACHINE_PREPROCESSING : null),
    featuresLayer: source.featuresLayer ?? raw.archiveFeaturesLayer ?? null,
  });
  if (info.backend === 'webgpu' && options.warmUp !== false) await model.warmUp();
  return model;
}

const PRETRAINED = {
  'efficientnet-lite0': { featuresLayer: 'avg_pool' },
  'efficientnet-lite1': { featuresLayer: 'avg_pool' },
  'efficientnet-lite2': { featuresLayer: 'avg_pool' },
};

/**
 * Loads a pretrained network ('efficientnet-lite0', '-lite1' or '-lite2') converted by
 * `glimpse zoo fetch NAME` from `baseUrl` (a folder with model.json, model.f16.weights.h5 and/or
 * model.weights.h5, labels.txt, preprocessing.json). `precision` 'float16' (default) downloads
 * the weights stored as float16 (half the bytes, expanded to float32 at load: top-1 the same as
 * float32's on every photo of the tests' sets but near-ties), falling back to the float32 file
 * where there is none; 'int8' Glimpse's model.int8.weights.h5 (the large pointwise and dense
 * kernels as int8 per channel: under a third of the bytes, top-1 as float32's on 249 of 250
 * photos), falling back to float16; 'float32' the float32 file. onProgress({ loaded, total }) reports the
 * weights download. The model's `files` lists the URLs it came from.
 *
 * @param {string} [name]
 * @param {Parameters<typeof import('glimpse-ml').loadPretrained>[1]} [options]
 */
export async function loadPretrained(name = 'efficientnet-lite0', { baseUrl, onProgress, warmUp, precision = 'float16' } = {}) {
  if (!(precision in WEIGHTS_FILES)) {
    throw error(`loadPretrained(): precision must be 'int8', 'float16' or 'float32', found ${shown(precision)}`);
  }
  const known = PRETRAINED[name];
  if (!known) {
    throw error(`loadPretrained(): unknown network '${name}'; available: ${Object.keys(PRETRAINED).join(', ')}`);
  }
  const base = new URL(
    baseUrl ?? `models/${name}/`,
    typeof location !== 'undefined' ? location.href : import.meta.url,
  );
  if (!base.pathname.endsWith('/')) base.pathname += '/';
  // All four downloads at once (the weights are most of the bytes).
  /** @type {{ url: string | null }} */
  const weightsFile = { url: null };
  const [structure, labels, pre, weights] = await Promise.all([
    fetchOk(new URL('model.json', base), 'the model structure').then((r) => r.text()),
    fetchOk(new URL('labels.txt', base), 'the labels').then((r) => r.text()),
    fetchOk(new URL('preprocessing.json', base), 'the preprocessing').then((r) => r.json()),
    fetchWeights(base, precision, weightsFile).then((r) => streamWeights(r, onProgress)),
  ]);
  try {
    const files = ['model.json', 'labels.txt', 'preprocessing.json'].map((f) => new URL(f, base).href);
    files.push(/** @type {string} */ (weightsFile.url));
    const model = await loadModel(
      {
        structure,
        weights,
        labels: parseLabels(labels),
        preprocessing: { ...pre, scale: 1 },
        featuresLayer: known.featuresLayer,
      },
      { warmUp },
    );
    model.files = files;
    return model;
  } finally {
    // The engine has copied the weights; detaching our download frees its ~19 MB now
    // instead of whenever the garbage collector gets to large buffers.
    if (weights instanceof StreamedWeights) weights.stream.free();
    else weights.buffer.transfer?.(0);
  }
}

// A weights download handed to the engine as it arrived (streamWeights): loadModel() reads it
// whole from there.
class StreamedWeights {
  /** @param {any} stream the engine's WeightsStream */
  constructor(stream) {
    this.stream = stream;
  }
}

// The pretrained weights' response, each piece handed to the engine's WeightsStream as it
// arrives (pieces that arrive before the engine is ready wait for it), so that their float16
// chunks inflate while the rest downloads; the bytes whole where the response does not say its
// length. onProgress({ loaded, total }) as they arrive.
/** @returns {Promise<any>} */
async function streamWeights(response, onProgress) {
  const total = bodyLength(response);
  if (!total || !response.body) return readWithProgress(response, onProgress);
  /** @type {Uint8Array[]} */
  const waiting = [];
  /** @type {any} */
  let stream = null;
  const engine = ensureReady().then(() => {
    stream = new (wasm().WeightsStream)(total);
    for (const piece of waiting) stream.push(piece);
    waiting.length = 0;
  });
  // (Awaited below, after the download: a failure meanwhile is not unhandled.)
  engine.catch(() => {});
  try {
    await readPieces(response, onProgress, (piece) => (stream ? stream.push(piece) : waiting.push(piece)));
    await engine;
  } catch (e) {
    stream?.free();
    throw asError(e);
  }
  return new StreamedWeights(stream);
}

// The weights files of each precision, smallest first, ending in the float32 one: a folder
// converted before a smaller copy existed falls back to the next.
const WEIGHTS_FILES = {
  int8: ['model.int8.weights.h5', 'model.f16.weights.h5', 'model.weights.h5'],
  float16: ['model.f16.weights.h5', 'model.weights.h5'],
  float32: ['model.weights.h5'],
};

// The pretrained weights' response: the first of `precision`'s files the folder has. Sets
// `file.url`.
async function fetchWeights(base, precision, file) {
  const names = WEIGHTS_FILES[precision];
  for (const name of names.slice(0, -1)) {
    const url = new URL(name, base);
    let response = null;
    try {
      response = await fetch(url);
    } catch {
      response = null;
    }
    if (response?.ok) {
      file.url = url.href;
      return response;
    }
  }
  const url = new URL(names[names.length - 1], base);
  file.url = url.href;
  return fetchOk(url, 'the weights');
}
