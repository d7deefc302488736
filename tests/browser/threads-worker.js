// Inside a Web Worker of an isolated page (tests/browser/threads.js starts it): a panic in one of
// the threaded engine's pool workers stops the engine with an error (the engine's thread, which
// waits on that worker's tasks, must not hang), and the next call starts a fresh engine with a
// fresh pool.
import * as g from '../../pkg/index.js';

const out = {};
try {
  await g.ready({ backend: 'cpu', threads: 2 });
  out.threads = await g.poolReady();
  if (out.threads > 1) {
    // The engine's own glue (the same module instance index.js loaded).
    const glue = await import('../../pkg/wasm-threads/glimpse.js');
    const t0 = performance.now();
    try {
      glue.crashPoolForTest();
      out.crash = 'returned';
    } catch (e) {
      out.crash = String(e?.message ?? e);
    }
    out.crashMs = Math.round(performance.now() - t0);
    // Stopped: no backend until the next call starts a fresh engine.
    out.stoppedInfo = g.backendInfo();
    const head = await g.createHead({ features: 4, classes: 2 });
    const y = await head.predict(new Float32Array([1, 2, 3, 4]), [1, 4]);
    out.after = { values: y.data.length, threads: await g.poolReady(), info: g.backendInfo() };
  }
} catch (e) {
  out.error = String(e?.stack ?? e);
}
postMessage(out);
