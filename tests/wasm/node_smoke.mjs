// The wasm build, run in Node (CPU backend): Keras fixtures predict within 1e-4 of Keras, in
// every weight format, and bad input rejects with real JS Errors.
//   node tests/wasm/node_smoke.mjs PKG_DIR   (PKG_DIR: wasm-bindgen --target nodejs output)
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { inflateSync } from 'node:zlib';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';

const require = createRequire(import.meta.url);
const pkg = process.argv[2];
const glimpse = require(join(pkg, 'glimpse.js'));
const fixtures = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'keras3');

function readNpy(path) {
  const buf = readFileSync(path);
  const headerLen = buf.readUInt16LE(8);
  const header = buf.subarray(10, 10 + headerLen).toString('latin1');
  assert.match(header, /'descr': '<f4'/);
  const shape = header.match(/'shape': \(([^)]*)\)/)[1].split(',').map(s => s.trim()).filter(Boolean).map(Number);
  const body = buf.subarray(10 + headerLen);
  const data = new Float32Array(body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength));
  return { data, shape };
}

let checks = 0;
async function expectError(fn, needle) {
  let caught;
  try {
    await fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof Error, `expected an Error containing "${needle}", got ${caught}`);
  assert.ok(caught.message.includes(needle), `"${caught.message}" should mention "${needle}"`);
  checks++;
}

for (const name of ['small_cnn', 'convs', 'dense_acts']) {
  const dir = join(fixtures, name);
  const x = readNpy(join(dir, 'input.npy'));
  const y = readNpy(join(dir, 'output.npy'));
  const json = readFileSync(join(dir, 'model.json'), 'utf8');
  const models = [
    glimpse.loadModel(json, readFileSync(join(dir, 'model.weights.h5'))),
    glimpse.loadModelFile(readFileSync(join(dir, 'model.keras'))),
    glimpse.loadModelFile(readFileSync(join(dir, 'model.h5'))),
  ];
  for (const m of models) {
    const out = await m.predict(x.data, x.shape);
    assert.deepEqual(out.shape, y.shape);
    let worst = 0;
    for (let i = 0; i < y.data.length; i++) worst = Math.max(worst, Math.abs(out.data[i] - y.data[i]));
    assert.ok(worst <= 1e-4, `${name}: max diff ${worst}`);
    checks++;
  }
  assert.deepEqual(models[0].inputShape, [null, ...x.shape.slice(1)]);
  assert.ok(models[0].summary().includes('Total params'));
  models.forEach(m => m.dispose());
}

const dir = join(fixtures, 'small_cnn');
const json = readFileSync(join(dir, 'model.json'), 'utf8');
const weights = readFileSync(join(dir, 'model.weights.h5'));
await expectError(() => glimpse.loadModel('{"class_name": "Sequential"', weights), 'model JSON');
await expectError(() => glimpse.loadModel(json.replace('"Flatten"', '"LSTM"'), weights), "class 'LSTM'");
await expectError(() => glimpse.loadModel(json, weights.subarray(0, 200)), 'weights file');
await expectError(() => glimpse.loadModelFile(new Uint8Array([1, 2, 3])), 'not an HDF5 file');
const m = glimpse.loadModel(json, weights);
await expectError(() => m.predict(new Float32Array(10), [1, 10]), 'shape mismatch');
assert.equal(m.countParams(), 740);

// The weights handed over piece by piece as a download arrives (what loadPretrained does) give
// the model the whole file gives; a stream that gets more or fewer bytes than announced is an
// Error, as is a stream loaded twice.
{
  const s = new glimpse.WeightsStream(weights.length);
  for (let at = 0; at < weights.length; at += 777) s.push(weights.subarray(at, at + 777));
  const streamed = glimpse.loadModelStreamed(json, s);
  const x = readNpy(join(dir, 'input.npy'));
  const [a, b] = [await streamed.predict(x.data, x.shape), await m.predict(x.data, x.shape)];
  assert.deepEqual(Array.from(a.data), Array.from(b.data));
  await expectError(() => glimpse.loadModelStreamed(json, s), 'already loaded');
  streamed.dispose();
  s.free();
  const over = new glimpse.WeightsStream(10);
  await expectError(() => over.push(weights.subarray(0, 11)), 'more bytes than the 10 announced');
  const short = new glimpse.WeightsStream(weights.length);
  short.push(weights.subarray(0, 100));
  await expectError(() => glimpse.loadModelStreamed(json, short), 'ended after 100');
  await expectError(() => new glimpse.WeightsStream(-1), 'whole number of bytes');
  checks++;
}

// The engine's image preparation (RGBA in, as a canvas gives it) against Pillow's own bicubic
// resize: tests/fixtures/resize holds PIL's outputs for sources made by a generator this test
// runs too (see make_pil_bicubic.py); every value must be identical.
function readPngRgb(path) {
  const buf = readFileSync(path);
  let at = 8;
  let width = 0;
  let height = 0;
  const idat = [];
  while (at < buf.length) {
    const len = buf.readUInt32BE(at);
    const type = buf.toString('latin1', at + 4, at + 8);
    const body = buf.subarray(at + 8, at + 8 + len);
    if (type === 'IHDR') {
      width = body.readUInt32BE(0);
      height = body.readUInt32BE(4);
      assert.deepEqual([body[8], body[9], body[12]], [8, 2, 0], `${path}: 8-bit RGB, not interlaced`);
    } else if (type === 'IDAT') idat.push(body);
    at += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const row = width * 3;
  const out = new Uint8Array(row * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (row + 1)];
    const line = raw.subarray(y * (row + 1) + 1, (y + 1) * (row + 1));
    for (let i = 0; i < row; i++) {
      const a = i >= 3 ? out[y * row + i - 3] : 0;
      const b = y > 0 ? out[(y - 1) * row + i] : 0;
      const c = i >= 3 && y > 0 ? out[(y - 1) * row + i - 3] : 0;
      const p = a + b - c;
      const [pa, pb, pc] = [Math.abs(p - a), Math.abs(p - b), Math.abs(p - c)];
      const pred = [0, a, b, (a + b) >> 1, pa <= pb && pa <= pc ? a : pb <= pc ? b : c][filter];
      out[y * row + i] = (line[i] + pred) & 255;
    }
  }
  return { width, height, data: out };
}
function generatedRgba(w, h, seed) {
  const out = new Uint8Array(w * h * 4);
  let s = seed >>> 0;
  for (let i = 0; i < w * h * 3; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[Math.floor(i / 3) * 4 + (i % 3)] = s >>> 24;
  }
  for (let p = 0; p < w * h; p++) out[p * 4 + 3] = 255;
  return out;
}
const resizeFixtures = join(fixtures, '..', 'resize');
for (const [[sw, sh], seed, targets] of [[[53, 31], 7, [[17, 9], [80, 47], [20, 60]]], [[301, 211], 11, [[224, 224], [100, 70]]]]) {
  const rgba = generatedRgba(sw, sh, seed);
  for (const [w, h] of targets) {
    const want = readPngRgb(join(resizeFixtures, `pil_bicubic_${sw}x${sh}_to_${w}x${h}.png`));
    const got = glimpse.prepareImage(rgba, sw, sh, h, w, 1.0, 'bicubic', 1.0);
    assert.equal(got.length, want.data.length);
    const off = want.data.filter((v, i) => got[i] !== v).length;
    assert.equal(off, 0, `${sw}x${sh} -> ${w}x${h}: ${off} values differ from PIL's`);
    checks++;
  }
}
// A central crop taken from the RGBA bytes is the crop of the whole image.
{
  const rgba = generatedRgba(53, 31, 7);
  const cropped = glimpse.prepareImage(rgba, 53, 31, 9, 17, 0.5, 'bicubic', 1.0);
  // side 15 of the 31 rows, at (19, 8): the same crop cut out first, then prepared whole.
  const part = new Uint8Array(15 * 15 * 4);
  for (let y = 0; y < 15; y++) part.set(rgba.subarray(((8 + y) * 53 + 19) * 4, ((8 + y) * 53 + 34) * 4), y * 60);
  assert.deepEqual(cropped, glimpse.prepareImage(part, 15, 15, 9, 17, 1.0, 'bicubic', 1.0));
  checks++;
}
console.log(`wasm (Node, CPU backend): ${checks} checks passed`);
