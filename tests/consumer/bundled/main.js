// A bundled app (Vite, webpack) that installed glimpse-ml from npm: the direct API, the worker
// client (with threads, the page being cross-origin isolated), and an engine restart after a
// crash, each checked against Keras' own outputs.
// Its files come from the bundler's output; the model and Keras' outputs from model/.
import { ready, loadModel } from 'glimpse-ml';
import { createWorker } from 'glimpse-ml/client';

const worst = (a, b) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

async function modelFiles() {
  const base = new URL('model/', location.href);
  return {
    structure: await (await fetch(new URL('model.json', base))).text(),
    weights: await (await fetch(new URL('model.weights.h5', base))).arrayBuffer(),
  };
}

async function run() {
  const { input, output } = await (await fetch(new URL('model/expected.json', location.href))).json();
  const x = Float32Array.from(input.data);
  const out = {};

  const info = await ready({ backend: 'cpu' });
  const model = await loadModel(await modelFiles());
  out.direct = { backend: info.backend, worst: worst((await model.predict(x, input.shape)).data, output.data) };

  // In the worker of an isolated page: the threaded engine, whose pool workers (thread.js and
  // its glue) the bundler must have emitted too.
  const g = createWorker();
  const winfo = await g.ready({ backend: 'cpu', threads: 2 });
  const threads = await g.poolReady();
  const remote = await g.loadModel(await modelFiles());
  out.worker = { backend: winfo.backend, isolated: crossOriginIsolated, threads, reason: winfo.threadsReason, worst: worst((await remote.predict(x, input.shape)).data, output.data) };
  g.terminate();

  // A panic stops the engine; the next model loads on a fresh instance of the engine, whose
  // glue the bundler must have emitted as a file of its own.
  const raw = await import('glimpse-ml/wasm-cpu/glimpse.js');
  try {
    raw.crashForTest(false);
  } catch {
    // the trap itself
  }
  let stopped = '';
  try {
    await model.predict(x, input.shape);
  } catch (e) {
    stopped = String(e.message);
  }
  const fresh = await loadModel(await modelFiles());
  out.restart = { stopped: stopped.includes('stopped on an internal error'), worst: worst((await fresh.predict(x, input.shape)).data, output.data) };
  return out;
}

window.result = run().catch((e) => ({ error: String(e?.stack ?? e) }));
