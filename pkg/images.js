// @ts-check
// Images to network inputs: the preprocessing defaults, an image's RGBA pixels (decoded,
// drawn only where the crop is) and a batch of images as a model's input.

import { asError, wasm } from './engine.js';
import { describe, error } from './errors.js';

/** @typedef {import('glimpse-ml').Preprocessing} Preprocessing */

/** Default ImageNet-style preprocessing for models without their own: resize to the input. */
export const GENERIC_PREPROCESSING = { crop_fraction: 1, resize: 'nearest', scale: 1 / 255, offset: 0, square: false };

/** Teachable Machine's image models: the central square, resized, values in [-1, 1]. */
export const TEACHABLE_MACHINE_PREPROCESSING = Object.freeze({
  crop_fraction: 1, square: true, resize: 'bicubic', scale: 1 / 127.5, offset: -1,
});

/** RGBA pixels of an image: ImageData, ImageBitmap, HTMLImageElement, canvases or a Blob. */
export async function imagePixels(image) {
  if (isPixels(image)) return image;
  const bitmap = await imageBitmap(image);
  return drawn(bitmap, 0, 0, bitmap.width, bitmap.height);
}

function pixelsAsImageData(px) {
  return px instanceof ImageData ? px : new ImageData(px.data, px.width, px.height);
}

export function isPixels(image) {
  return (typeof ImageData !== 'undefined' && image instanceof ImageData) ||
    Boolean(image && typeof image === 'object' && image.data instanceof Uint8ClampedArray &&
      Number.isInteger(image.width) && Number.isInteger(image.height));
}

// The image as something a canvas draws (a Blob decoded), with a typed error for the rest.
async function imageBitmap(image) {
  let bitmap;
  /** @type {ImageBitmapOptions} */
  const options = { colorSpaceConversion: 'none', premultiplyAlpha: 'none' };
  try {
    if (typeof Blob !== 'undefined' && image instanceof Blob) {
      bitmap = await createImageBitmap(image, options);
    } else if (typeof ImageBitmap !== 'undefined' && image instanceof ImageBitmap) {
      bitmap = image;
    } else if (typeof HTMLImageElement !== 'undefined' && image instanceof HTMLImageElement) {
      if (!image.complete || image.naturalWidth === 0) await image.decode();
      bitmap = await createImageBitmap(image, options);
    } else if (
      (typeof HTMLCanvasElement !== 'undefined' && image instanceof HTMLCanvasElement) ||
      (typeof OffscreenCanvas !== 'undefined' && image instanceof OffscreenCanvas) ||
      (typeof HTMLVideoElement !== 'undefined' && image instanceof HTMLVideoElement)
    ) {
      bitmap = await createImageBitmap(image, options);
    } else {
      throw error(
        `expected an image (ImageBitmap, ImageData, HTMLImageElement, HTMLCanvasElement or Blob), found ${describe(image)}`,
      );
    }
  } catch (e) {
    if (e instanceof Error && e.message.startsWith('expected an image')) throw e;
    const name = image && image.name ? `'${image.name}'` : 'the image';
    throw error(`cannot decode ${name}: not an image the browser can read (${e.message ?? e})`, e);
  }
  if (!bitmap.width || !bitmap.height) throw error('the image is empty (0 pixels)');
  return bitmap;
}

// The RGBA pixels of the w x h part of `bitmap` at (x, y), drawn 1:1.
function drawn(bitmap, x, y, w, h) {
  const canvas = new OffscreenCanvas(w, h);
  const ctx = /** @type {OffscreenCanvasRenderingContext2D} */ (canvas.getContext('2d', { willReadFrequently: true }));
  ctx.drawImage(bitmap, x, y, w, h, 0, 0, w, h);
  return ctx.getImageData(0, 0, w, h);
}

// Whether a helper Web Worker can receive `image` (a Blob, an ImageBitmap, pixels; not an
// element or a canvas).
export function cloneable(image) {
  return (typeof Blob !== 'undefined' && image instanceof Blob) ||
    (typeof ImageBitmap !== 'undefined' && image instanceof ImageBitmap) ||
    isPixels(image);
}

/**
 * How images become inputs of a model with input shape `inputShape` and `preprocessing` (the
 * defaults for what it leaves out): { h, w, crop, resize, scale, offset, square }.
 * @param {any[]} inputShape
 * @param {Preprocessing | null} preprocessing
 */
export function imagePlan(inputShape, preprocessing) {
  const [, h, w, c] = inputShape;
  if (inputShape.length !== 4 || c !== 3) {
    throw error(`images need a model with an input of shape (None, height, width, 3); this one takes ${JSON.stringify(inputShape)}`);
  }
  const p = { ...GENERIC_PREPROCESSING, ...(preprocessing ?? {}) };
  return {
    h, w, crop: p.crop_fraction ?? 1, resize: p.resize ?? 'nearest', scale: p.scale ?? 1,
    offset: p.offset ?? 0, square: Boolean(p.square),
  };
}

/**
 * Network inputs for `list` (a non-empty array of images) as `p` (imagePlan()) says:
 * { data, shape }.
 * @param {any[]} list
 * @param {ReturnType<typeof imagePlan>} p
 */
export async function prepareImages(list, p) {
  const per = p.h * p.w * 3;
  const data = new Float32Array(list.length * per);
  for (let i = 0; i < list.length; i++) {
    // Pixels the page already has go to the engine whole (it crops); anything drawn is drawn
    // only where the crop is (cropBox: the engine's own rule), so a phone photo's 48 MB of
    // RGBA becomes its crop's 28 MB, in JS and in the engine's memory.
    let px = list[i];
    let crop = p.crop;
    if (!isPixels(px) || (p.square && px.width !== px.height)) {
      const bitmap = isPixels(px) ? await createImageBitmap(pixelsAsImageData(px)) : await imageBitmap(px);
      let box;
      try {
        box = wasm().cropBox(bitmap.width, bitmap.height, crop);
      } catch (e) {
        throw asError(e);
      }
      if (p.square && crop >= 1) {
        // The central square of the whole shorter side (Teachable Machine's crop).
        const side = Math.min(bitmap.width, bitmap.height);
        box = [Math.floor((bitmap.width - side) / 2), Math.floor((bitmap.height - side) / 2), side, side];
      }
      px = drawn(bitmap, box[0], box[1], box[2], box[3]);
      crop = 1;
    }
    let x;
    try {
      x = wasm().prepareImage(
        new Uint8Array(px.data.buffer, px.data.byteOffset, px.data.byteLength),
        px.width, px.height, p.h, p.w, crop, p.resize, p.scale,
      );
    } catch (e) {
      throw asError(e);
    }
    if (p.offset) for (let j = 0; j < x.length; j++) x[j] += p.offset;
    data.set(x, i * per);
  }
  return { data, shape: [list.length, p.h, p.w, 3] };
}
