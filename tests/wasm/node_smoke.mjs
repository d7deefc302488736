// The wasm build, run in Node (CPU backend): Keras fixtures predict within 1e-4 of Keras, in
// every weight format, and bad input rejects with real JS Errors.
//   node tests/wasm/node_smoke.mjs PKG_DIR   (PKG_DIR: wasm-bindgen --target nodejs output)
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
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
console.log(`wasm (Node, CPU backend): ${checks} checks passed`);
