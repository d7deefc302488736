//! The threaded CPU engine's workers (the `threads` feature): Web Workers that share this
//! instance's memory and run the kernels' pool (`glimpse_kernels::pool`).
//!
//! The package's loader (`pkg/index.js`) starts them from the engine's own worker (a thread that
//! may wait, unlike a page's main thread): each pool worker (`pkg/thread.js`) instantiates the
//! same module on the same memory, says it is ready and calls [`run_thread`], which never
//! returns; then [`start_threads`] tells the kernels how many there are. Calls from the
//! engine's thread then split their large products and depthwise convolutions over the workers
//! and the calling thread.

use wasm_bindgen::prelude::*;

/// Run by a pool worker once it is ready: works on the kernels' parallel calls for the life of
/// the worker (never returns).
#[wasm_bindgen(js_name = runThread)]
pub fn run_thread() {
    glimpse_kernels::pool::run_worker();
}

/// Declares `workers` pool workers running [`run_thread`]: the kernels' calls are split over
/// them and the caller from now on. Returns the threads a call uses (`workers` + 1). Fails for
/// more than 63 workers.
#[wasm_bindgen(js_name = startThreads)]
pub fn start_threads(workers: usize) -> Result<usize, JsError> {
    if workers > 63 {
        return Err(JsError::new(&format!(
            "startThreads(): at most 63 workers, found {workers}"
        )));
    }
    glimpse_kernels::pool::start(workers);
    Ok(glimpse_kernels::pool::threads())
}

/// The threads the engine's calls split their work over (1 before the pool starts).
#[wasm_bindgen(js_name = threadCount)]
pub fn thread_count() -> usize {
    glimpse_kernels::pool::threads()
}
