// @ts-check
// One thread of the threaded CPU engine's pool (see startPool in index.js and
// src/wasm/threads.rs): it instantiates the engine's module on the engine's shared memory, says
// it is ready, then works on the kernels' parallel calls for good (runThread never returns: this
// worker then only works for the engine, through the shared memory).
self.addEventListener('message', /** @param {MessageEvent} event */ async function start({ data }) {
  if (data?.type !== 'glimpse-thread') return;
  self.removeEventListener('message', start);
  let glue;
  try {
    // A literal specifier, so that bundlers bundle the glue into this worker.
    glue = await import('./wasm-threads/glimpse.js');
    await glue.default({ module_or_path: data.module, memory: data.memory });
  } catch (e) {
    self.postMessage({ type: 'glimpse-thread-failed', message: String(e?.message ?? e) });
    return;
  }
  self.postMessage({ type: 'glimpse-thread-ready' });
  try {
    glue.runThread();
  } catch (e) {
    // A trap in a task (a panic, memory run out): tell the engine's thread, which may be waiting
    // on this worker's tasks, through the pool's flag in the shared memory.
    Atomics.store(new Int32Array(data.memory.buffer), data.stopped >>> 2, 1);
    throw e;
  }
});
