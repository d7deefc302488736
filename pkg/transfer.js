// @ts-check
// Transfer learning's data, before the engine trains: the held-out split (the library's rule),
// the augmentation asked for, and each photo's features (or activations) computed once, with
// varied copies of the training photos. Model.transfer() gives the result to the engine.

import { asError, stratifiedSplit, wasm } from './engine.js';
import { describe, error } from './errors.js';
import { nextTask } from './io.js';

/** @typedef {import('./model.js').Model} Model */

/** The augmentation a transfer() option asks for: true (the standard one), an object of
 * factors ({ flip, rotate, zoom, shift, contrast, brightness }), or nothing. */
function normalizeAugment(a) {
  if (!a) return null;
  const std = { flip: true, rotate: 0.1, zoom: 0.1, shift: 0, contrast: 0.1, brightness: 0 };
  if (a === true) return std;
  if (typeof a !== 'object') throw error(`transfer(): augment should be true or an object of factors, found ${describe(a)}`);
  const out = { flip: Boolean(a.flip), rotate: 0, zoom: 0, shift: 0, contrast: 0, brightness: 0 };
  for (const k of ['rotate', 'zoom', 'shift', 'contrast', 'brightness']) {
    if (a[k] === undefined || a[k] === false) continue;
    const v = Number(a[k]);
    if (!(v > 0 && v <= 1)) throw error(`transfer(): augment.${k} should be a factor in (0, 1], found ${a[k]}`);
    out[k] = v;
  }
  return out;
}

// Two typed arrays of one kind end to end.
function concat(a, b) {
  const out = new a.constructor(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}


/**
 * What transfer() trains on, for `model` whose features end at `o.cut` (or, fine-tuning, at
 * `o.tuneCut`): each photo of `examples` through the network once (photos that do not decode
 * left out, in `skipped`), split as stratifiedSplit() says, the training rows followed by
 * their augmented views. Resolves to { trainA, trainY, valA, valY, nVal, warnings, skipped,
 * augment }.
 * @param {Model} model
 * @param {{ label: unknown, images: any[] }[]} examples
 * @param {string[]} names the classes, in the head's order
 * @param {Record<string, any>} o transfer()'s options, resolved
 */
export async function teachingSet(model, examples, names, o) {
  const { seed, onProgress, signal, cut, tuneCut } = o;
  let images = examples.flatMap((ex) => ex.images);
  let ys = examples.flatMap((ex) => ex.images.map(() => names.indexOf(String(ex.label))));
  // What is computed once per photo: the features, or (fine-tuning blocks) the activations
  // where those blocks begin, from which the features follow through the network's top.
  const layer = tuneCut ?? cut;
  const featureOptions = {
    signal, layer,
    // Helpers copy the network; activations come on this thread (their model is smaller).
    workers: tuneCut ? 1 : o.workers,
    onProgress: (p) => onProgress?.({ phase: 'features', ...p }),
  };
  let acts;
  const skipped = [];
  try {
    acts = await model.features(images, featureOptions);
  } catch (e) {
    if (signal?.aborted) throw e;
    // A photo that does not decode is left out (and named), not the whole training: find
    // which, then look again at the rest.
    const keep = [];
    for (let i = 0; i < images.length; i++) {
      try {
        await model.prepareImages([images[i]]);
        keep.push(i);
      } catch (err) {
        skipped.push({ image: images[i], label: names[ys[i]], error: asError(err).message });
      }
    }
    if (skipped.length === 0) throw e;
    images = keep.map((i) => images[i]);
    ys = keep.map((i) => ys[i]);
    for (const ex of examples) {
      const c = names.indexOf(String(ex.label));
      if (!ys.includes(c)) throw error(`transfer(): none of the photos of '${names[c]}' could be read (${skipped.find((s) => s.label === names[c])?.error})`);
    }
    acts = await model.features(images, featureOptions);
  }
  const owned = [];
  try {
    const actWidth = acts.shape[1];
    const n = ys.length;
    const split = o.validationSplit ?? (n >= 10 ? 0.2 : 0);
    // Which photos are held out: the library's rule (each class in proportion, seeded).
    const { order, nVal, warnings } = stratifiedSplit(ys, names, split, seed);
    const ax = new Float32Array(n * actWidth);
    const y = new Uint32Array(n);
    order.forEach((src, dst) => {
      ax.set(acts.data.subarray(src * actWidth, (src + 1) * actWidth), dst * actWidth);
      y[dst] = ys[src];
    });
    acts = null;
    // Varied copies of the training photos (never of the held-out ones), computed once:
    // Keras' augmentation layers in training mode.
    let trainA = ax.subarray(0, (n - nVal) * actWidth);
    let trainY = y.subarray(0, n - nVal);
    const augment = normalizeAugment(o.augment);
    const views = augment ? Math.max(1, Math.min(16, Math.round(o.views ?? 2))) : 0;
    if (augment && n - nVal > 0) {
      const extractor = model.featureExtractor(layer);
      owned.push(extractor);
      const trainImages = order.slice(0, n - nVal).map((i) => images[i]);
      const total = trainImages.length * views;
      const vx = new Float32Array(total * actWidth);
      const vy = new Uint32Array(total);
      let done = 0;
      const step = 8;
      for (let start = 0; start < trainImages.length; start += step) {
        if (signal?.aborted) throw signal.reason ?? error('aborted', undefined, 'aborted');
        const batch = trainImages.slice(start, start + step);
        const prepared = await model.prepareImages(batch);
        let all;
        try {
          all = wasm().augmentViews(prepared.data, prepared.shape, JSON.stringify(augment), views, seed, start / step);
        } catch (e) {
          throw asError(e);
        }
        const per = prepared.data.length;
        for (let v = 0; v < views; v++) {
          const f = await extractor.predict(all.subarray(v * per, (v + 1) * per), prepared.shape);
          for (let i = 0; i < batch.length; i++) {
            const row = (start + i) * views + v;
            vx.set(f.data.subarray(i * actWidth, (i + 1) * actWidth), row * actWidth);
            vy[row] = y[start + i];
          }
          done += batch.length;
          onProgress?.({ phase: 'views', done, total });
          await nextTask();
        }
      }
      trainA = concat(trainA, vx);
      trainY = concat(trainY, vy);
    }
    const valA = ax.subarray((n - nVal) * actWidth);
    const valY = y.subarray(n - nVal);
    return { trainA, trainY, valA, valY, nVal, warnings, skipped, augment };
  } finally {
    for (const m of owned) m.dispose();
  }
}
