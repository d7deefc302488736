// One thread of the threaded CPU engine's pool (see startPool in index.js and
// src/wasm/threads.rs): it instantiates the engine's module on the engine's shared memory, says
// it is ready, then works on the kernels' parallel calls for good (runThread never returns: this
// worker then only works for the engine, through the shared memory).
self.addEventListener('message', async function start({ data }) {
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
  glue.runThread();
});
