// The native section of the benchmark: Glimpse's CLI against onnxruntime's CPU runtime
// (EfficientNet-Lite0 classify and features, bench/zoo_vs_onnxruntime.py) and Glimpse's training
// against Keras on jax (the course CNN, bench/train_vs_keras.py), on this machine's CPU cores.
// Both scripts time end to end (process start, model load, image decoding) as a user runs them.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Runs both native comparisons; returns { md, json } (a skipped part says why). */
export function nativeSection({ repo, out, python, zoo, photos = 64, perClass = 100, epochs = 1 }) {
  const target = process.env.GLIMPSE_TARGET_DIR ?? process.env.CARGO_TARGET_DIR ?? '/var/tmp/glimpse-target';
  const glimpse = join(target, 'release', 'glimpse');
  let md = `## Native (the CLI on this machine's CPU cores)\n\n`;
  const json = {};
  if (!existsSync(glimpse)) {
    return { md: `${md}Skipped: no CLI at ${glimpse} (cargo build --release).\n\n`, json };
  }
  const env = { ...process.env, GLIMPSE_ZOO_DIR: zoo, KERAS_BACKEND: 'jax' };
  const run = (script, args, file) => {
    try {
      execFileSync(python, [join(repo, 'bench', script), '--glimpse', glimpse, '--json', file, ...args], {
        cwd: join(repo, 'bench'), env, stdio: ['ignore', 'inherit', 'inherit'],
      });
      return JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      return { error: String(e.message ?? e).split('\n')[0] };
    }
  };
  const z = run('zoo_vs_onnxruntime.py', ['--limit', String(photos)], join(out, 'native-zoo.json'));
  json.inference = z;
  md += `### EfficientNet-Lite0: \`glimpse classify\` / \`glimpse features\` vs onnxruntime ${z.onnxruntime ?? ''} CPU\n\n`;
  if (z.error) md += `Failed: ${z.error}\n\n`;
  else {
    md += `| workload | Glimpse img/s | onnxruntime img/s | ratio (Glimpse time / ORT time) | check |\n|---|---|---|---|---|\n`;
    for (const r of z.rows) md += `| ${r.workload} | ${r.glimpse_img_s.toFixed(1)} | ${r.onnxruntime_img_s.toFixed(1)} | ${r.ratio.toFixed(2)} | ${r.check} |\n`;
    md += `\n${z.photos} photos from ${z.images.replace(repo + '/', '')}, ${z.cores} cores; each side end to end (session or CLI start, decoding, preprocessing; onnxruntime in batches of 16, the CLI in its own batches of 4); median of ${z.repeat ?? 1} interleaved runs each.\n\n`;
  }
  const t = run('train_vs_keras.py', ['--per-class', String(perClass), '--epochs', String(epochs)], join(out, 'native-train.json'));
  json.training = t;
  md += `### The course CIFAR-10 CNN: \`glimpse train\` vs Keras ${t.keras?.backend ?? 'jax'} CPU\n\n`;
  if (t.error) md += `Failed: ${t.error}\n\n`;
  else {
    md += `| engine | training s | images/s | ratio |\n|---|---|---|---|\n`;
    const n = t.images * t.epochs;
    md += `| Glimpse CLI | ${t.glimpse.seconds.toFixed(1)} | ${(n / t.glimpse.seconds).toFixed(0)} | ${t.ratio.toFixed(2)} |\n`;
    md += `| Keras ${t.keras.backend} | ${t.keras.seconds.toFixed(1)} | ${(n / t.keras.seconds).toFixed(0)} | 1.00 |\n`;
    md += `\n${t.images} images (${t.synthetic ? 'random 32x32 images: ../shared/data/cifar10 is absent' : 'CIFAR-10 JPEGs'}), ${t.epochs} epoch(s), batch 32, Adam; Keras' time includes its jit compilation, as model.fit pays it.\n\n`;
  }
  return { md, json };
}

/**
 * The Python the bench scripts run with: $PYTHON, else a virtual environment under
 * /var/tmp/glimpse-bench-venv made on first use (a fresh machine has none of the packages).
 */
export function benchPython() {
  if (process.env.PYTHON) return process.env.PYTHON;
  const venv = process.env.GLIMPSE_BENCH_VENV ?? '/var/tmp/glimpse-bench-venv';
  const py = join(venv, 'bin', 'python');
  const need = ['keras', 'jax', 'h5py', 'numpy', 'onnx', 'onnxruntime', 'pillow'];
  if (!existsSync(py)) execFileSync('python3', ['-m', 'venv', venv], { stdio: 'inherit' });
  try {
    execFileSync(py, ['-c', 'import keras, jax, h5py, numpy, onnx, onnxruntime, PIL'], { stdio: 'ignore' });
  } catch {
    execFileSync(py, ['-m', 'pip', 'install', '--quiet', ...need], { stdio: 'inherit' });
  }
  return py;
}
