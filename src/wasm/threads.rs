//! The threaded CPU engine's workers (the `threads` feature): Web Workers that share this
//! instance's memory and run the kernels' pool (`glimpse_kernels::pool`).
//!
//! The package's loader (`pkg/index.js`) starts them from the engine's own worker (a thread that
//! may wait, unlike a page's main thread): each pool worker (`pkg/thread.js`) instantiates the
//! same module on the same memory, says it is ready and calls [`run_thread`], which never
//! returns; then [`start_threads`] tells the kernels how many there are. Calls from the
//! engine's thread then split their large products and depthwise convolutions over the workers
//! and the calling thread.

use super::js_input;
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
pub fn start_threads(workers: usize) -> Result<usize, JsValue> {
    if workers > 63 {
        return Err(js_input(&format!(
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

/// The address of the pool's "a worker stopped" flag, which a pool worker's JS sets when its
/// `runThread` traps: the engine's thread then stops with an error instead of waiting forever.
#[wasm_bindgen(js_name = poolStoppedFlag)]
pub fn pool_stopped_flag() -> usize {
    glimpse_kernels::pool::stopped_flag()
}

/// Panics in a pool worker's task, for the tests (the engine must stop with an error, not
/// hang); nothing else calls it. Every task spins a while so that the workers take some.
#[wasm_bindgen(js_name = crashPoolForTest)]
pub fn crash_pool_for_test() {
    let tasks = 64 * glimpse_kernels::pool::threads();
    glimpse_kernels::pool::for_each(tasks, &|i| {
        if glimpse_kernels::pool::on_worker() {
            panic!("crashPoolForTest: a deliberate panic in a pool worker's task {i}");
        }
        let mut x = 0u64;
        for k in 0..200_000u64 {
            x = std::hint::black_box(x.wrapping_add(k));
        }
    });
}
