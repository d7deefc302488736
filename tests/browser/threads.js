// The threaded CPU engine against the one-thread engine, in one page (tests/browser/threads.mjs
// opens it cross-origin isolated and not): which engine each context gets, and, where threads
// run, that they compute the same values bit for bit (predictions of a batch of 1 and of 3,
// features of photos, a transfer-learning run's history).
import { createWorker } from '../../pkg/client.js';
import * as direct from '../../pkg/index.js';

const PHOTOS = ['chelsea', 'coffee', 'rocket', 'astronaut', 'flower', 'china'];
const BASE = '/models/efficientnet-lite0/';

// Deterministic input values in [0, 1] for a batch of `n` images.
function synthetic(n, seed) {
  const x = new Float32Array(n * 224 * 224 * 3);
  let s = seed >>> 0;
  for (let i = 0; i < x.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    x[i] = (s >>> 8) / 16777216;
  }
  return x;
}

const floats = (r) => Array.from(r.data ?? r.values ?? r);

// Everything one engine computes, with what it says of itself.
let step = 'start';
async function onEngine(threads) {
  const g = createWorker();
  try {
    step = `threads ${threads}: ready`;
    const info = await g.ready({ backend: 'cpu', threads });
    const pool = await g.poolReady();
    const files = await g.engineFiles();
    const m = await g.loadPretrained('efficientnet-lite0', { baseUrl: BASE });
    step = `threads ${threads}: predictions`;
    const one = floats(await m.predict(synthetic(1, 7), [1, 224, 224, 3]));
    const three = floats(await m.predict(synthetic(3, 11), [3, 224, 224, 3]));
    const photos = await Promise.all(PHOTOS.map(async (p) => (await fetch(`/tests/fixtures/efficientnet/${p}_224.png`)).blob()));
    step = `threads ${threads}: features`;
    const features = floats(await m.features(photos, { batchSize: 3 }));
    step = `threads ${threads}: transfer`;
    const t = await m.transfer(
      [{ label: 'animal', images: photos.slice(0, 3) }, { label: 'thing', images: photos.slice(3) }],
      { epochs: 4, seed: 5, validationSplit: 0 },
    );
    return { info, pool, files, one, three, features, history: t.history.history };
  } finally {
    g.terminate();
  }
}

function firstDifference(a, b, path = '') {
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return `${path}: ${a.length} values against ${b.length}`;
    for (let i = 0; i < a.length; i++) {
      const d = firstDifference(a[i], b[i], `${path}[${i}]`);
      if (d) return d;
    }
    return null;
  }
  if (a && typeof a === 'object') {
    for (const k of Object.keys(a)) {
      const d = firstDifference(a[k], b?.[k], `${path}.${k}`);
      if (d) return d;
    }
    return null;
  }
  return Object.is(a, b) ? null : `${path}: ${a} against ${b}`;
}

async function run() {
  const isolated = globalThis.crossOriginIsolated === true;
  const threaded = await onEngine(2);
  const single = await onEngine(false);
  step = 'a pool worker that panics';
  const crash = await new Promise((resolve) => {
    const w = new Worker('threads-worker.js', { type: 'module' });
    w.onmessage = (e) => {
      resolve(e.data);
      w.terminate();
    };
    w.onerror = (e) => resolve({ error: e.message ?? 'the test worker failed' });
  });
  step = 'the main thread';
  const main = await direct.ready({ backend: 'cpu', threads: 2 });
  const summary = (e) => ({ threads: e.info.threads, reason: e.info.threadsReason ?? null, pool: e.pool, files: e.files.map((f) => new URL(f).pathname) });
  return {
    isolated,
    sharedMemory: typeof SharedArrayBuffer === 'function',
    relaxed: direct.hasRelaxedSimd(),
    threaded: summary(threaded),
    single: summary(single),
    mainThread: { threads: main.threads, reason: main.threadsReason ?? null },
    crash,
    difference: firstDifference(
      { one: threaded.one, three: threaded.three, features: threaded.features, history: threaded.history },
      { one: single.one, three: single.three, features: single.features, history: single.history },
    ),
    values: threaded.one.length + threaded.three.length + threaded.features.length,
  };
}

window.threadsDone = run().catch((e) => ({ error: `${step}: ${e.message}\n${e.stack ?? ''}` }));
