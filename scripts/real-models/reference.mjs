// Reference outputs of TF.js layers models with the real TF.js loader.
//
// node reference.mjs ID...   (ids from models.json with loader "tfjs"; inputs
// already written by reference.py).  Uses @tensorflow/tfjs from
// $GLIMPSE_REAL_DIR/node (pure-JS "cpu" backend, no tfjs-node), loading each
// model through a custom IOHandler that reads model.json + the weight files of
// its weightsManifest from disk, exactly as tf.loadLayersModel would over HTTP.
// Writes output.npy and ref.json next to input.npy.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REAL = process.env.GLIMPSE_REAL_DIR || '/var/tmp/glimpse-real';
const NODE_DIR = path.join(REAL, 'node');
const require = createRequire(path.join(NODE_DIR, 'noop.js'));
const tf = require('@tensorflow/tfjs');

function readNpy(file) {
  const buf = fs.readFileSync(file);
  if (buf.readUInt8(0) !== 0x93 || buf.toString('latin1', 1, 6) !== 'NUMPY') throw new Error(`${file}: not .npy`);
  const major = buf.readUInt8(6);
  const hlen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const hstart = major === 1 ? 10 : 12;
  const header = buf.toString('latin1', hstart, hstart + hlen);
  if (!/'descr':\s*'<f4'/.test(header) || /'fortran_order':\s*True/.test(header)) throw new Error(`${file}: want C-order <f4, got ${header}`);
  const shape = header.match(/'shape':\s*\(([^)]*)\)/)[1].split(',').map(s => s.trim()).filter(Boolean).map(Number);
  const off = hstart + hlen;
  const data = new Float32Array(buf.buffer.slice(buf.byteOffset + off, buf.byteOffset + buf.length));
  return { shape, data };
}

function writeNpy(file, shape, data) {
  const shp = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shp}, }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const pre = Buffer.alloc(10);
  pre.writeUInt8(0x93, 0); pre.write('NUMPY', 1, 'latin1'); pre.writeUInt8(1, 6); pre.writeUInt8(0, 7);
  pre.writeUInt16LE(header.length, 8);
  fs.writeFileSync(file, Buffer.concat([pre, Buffer.from(header, 'latin1'), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]));
}

// A tf.io.IOHandler over local files: what tf.loadLayersModel('…/model.json') does over HTTP.
function fileHandler(modelJsonPath) {
  return {
    load: async () => {
      const j = JSON.parse(fs.readFileSync(modelJsonPath, 'utf8'));
      const dir = path.dirname(modelJsonPath);
      const weightSpecs = [];
      const bufs = [];
      for (const group of j.weightsManifest) {
        weightSpecs.push(...group.weights);
        for (const p of group.paths) bufs.push(fs.readFileSync(path.join(dir, p)));
      }
      const all = Buffer.concat(bufs);
      return {
        modelTopology: j.modelTopology,
        weightSpecs,
        weightData: all.buffer.slice(all.byteOffset, all.byteOffset + all.length),
        format: j.format, generatedBy: j.generatedBy, convertedBy: j.convertedBy,
      };
    },
  };
}

const models = JSON.parse(fs.readFileSync(path.join(HERE, 'models.json'), 'utf8')).models;
const want = new Set(process.argv.slice(2));
await tf.setBackend('cpu');
await tf.ready();
let failed = 0;
for (const m of models) {
  if (!want.has(m.id)) continue;
  const dir = path.join(REAL, m.id);
  try {
    const model = await tf.loadLayersModel(fileHandler(path.join(dir, m.model_file)));
    const x = readNpy(path.join(dir, 'input.npy'));
    const y = tf.tidy(() => model.predict(tf.tensor(x.data, x.shape, 'float32')));
    const out = new Float32Array(await y.data());
    writeNpy(path.join(dir, 'output.npy'), y.shape, out);
    const n = y.shape[1];
    let top = 0;
    for (let i = 1; i < n; i++) if (out[i] > out[top]) top = i;
    const ref = {
      id: m.id,
      loader: 'tf.loadLayersModel (custom file IOHandler)',
      loader_version: `@tensorflow/tfjs ${tf.version.tfjs} (backend ${tf.getBackend()}, node ${process.version})`,
      model_file: m.model_file,
      input_shape: x.shape,
      output_shape: y.shape,
      input_rows: 'row 0 = photo (preprocessed as below), rows 1-2 = np.random.seed(0); uniform(noise_range)',
      preprocess: m.preprocess,
      photo_top_class_index: top,
      photo_top_score: out[top],
    };
    fs.writeFileSync(path.join(dir, 'ref.json'), JSON.stringify(ref, null, 1));
    console.log(`ref   ${m.id.padEnd(28)} tfjs ${tf.version.tfjs} -> [${y.shape}]  photo top=${top} (${out[top].toFixed(4)})`);
    y.dispose();
    model.dispose();
  } catch (e) {
    failed++;
    console.log(`FAIL  ${m.id.padEnd(28)} ${e.stack || e}`);
  }
}
process.exit(failed ? 1 : 0);
