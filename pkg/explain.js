// @ts-check
// Where a network looks: occlusion sensitivity, Model.occlusion()'s heat map.

import { GENERIC_PREPROCESSING } from './images.js';

/** @typedef {import('./model.js').Model} Model */
/** @typedef {import('glimpse-ml').ImageInput} ImageInput */

/**
 * Occlusion sensitivity of `model` on `image`: a grey square slides over a `grid` x `grid`
 * lattice of the (preprocessed) image; each cell's value is how much the score of class `index`
 * (default: the top class) drops when that cell is hidden. Resolves to
 * { index, score, grid, values: Float32Array (row-major, grid * grid) }.
 *
 * @param {Model} model
 * @param {ImageInput} image
 * @param {{ index?: number, grid?: number, batchSize?: number }} [options]
 */
export async function occlusion(model, image, { index, grid = 7, batchSize = 7 } = {}) {
  const x = await model.prepareImages([image]);
  const [, h, w, c] = x.shape;
  const base = await model.predict(x.data, x.shape);
  const k = index ?? base.data.indexOf(Math.max(...base.data));
  const score = base.data[k];
  const grey = 127.5 * (model.preprocessing?.scale ?? GENERIC_PREPROCESSING.scale) + (model.preprocessing?.offset ?? 0);
  const values = new Float32Array(grid * grid);
  const cellH = Math.ceil(h / grid), cellW = Math.ceil(w / grid);
  for (let start = 0; start < grid * grid; start += batchSize) {
    const cells = Math.min(batchSize, grid * grid - start);
    const batch = new Float32Array(cells * h * w * c);
    for (let b = 0; b < cells; b++) {
      const cell = start + b;
      const y0 = Math.floor(cell / grid) * cellH, x0 = (cell % grid) * cellW;
      const off = b * h * w * c;
      batch.set(x.data, off);
      for (let yy = y0; yy < Math.min(h, y0 + cellH); yy++) {
        batch.fill(grey, off + (yy * w + x0) * c, off + (yy * w + Math.min(w, x0 + cellW)) * c);
      }
    }
    const y = await model.predict(batch, [cells, h, w, c]);
    const per = y.data.length / cells;
    for (let b = 0; b < cells; b++) values[start + b] = score - y.data[b * per + k];
  }
  return { index: k, score, grid, values };
}
