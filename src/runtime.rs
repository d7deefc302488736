//! The bottom floor every other module may use: driving futures and yielding to the host.
//!
//! The engine's reads are asynchronous (WebGPU on wasm can only read back that way), so the
//! model, the weights writer and training are `async`; natively [`block_on`] drives them, and
//! in a browser [`yield_now`] lets the page's event loop run between steps.

/// Lets the host's event loop run (in a browser: rendering, input, an abort) between training
/// steps, whose reads on the CPU backend otherwise complete without ever yielding.
#[cfg(target_arch = "wasm32")]
pub async fn yield_now() {
    use wasm_bindgen::JsCast;
    let promise = js_sys::Promise::new(&mut |resolve, _reject| {
        let global = js_sys::global();
        let timer = js_sys::Reflect::get(&global, &"setTimeout".into())
            .ok()
            .and_then(|f| f.dyn_into::<js_sys::Function>().ok());
        let scheduled = timer.is_some_and(|f| f.call2(&global, &resolve, &0.into()).is_ok());
        if !scheduled {
            let _ = resolve.call0(&wasm_bindgen::JsValue::NULL);
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

/// Natively there is no event loop to serve: a no-op.
#[cfg(not(target_arch = "wasm32"))]
pub async fn yield_now() {}

/// Drives a future whose reads complete immediately (the native CPU backend).
///
/// (`pollster` does the same with a thread parker; the futures here never wait on another
/// thread, so polling with a no-op waker is all it takes, without a dependency.)
#[cfg(not(target_arch = "wasm32"))]
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::yield_now();
    }
}

/// Yields to the host's event loop once per time slice rather than after every step: in a
/// browser each yield costs a timer task (clamped to at least 4 ms once timers nest), which
/// dominated small steps (a Dense head on 100 photos: 80 steps). A slice of 25 ms keeps a page
/// responsive and an abort prompt.
pub(crate) struct TimeSlice(web_time::Instant);

impl TimeSlice {
    const LENGTH: web_time::Duration = web_time::Duration::from_millis(25);

    /// A slice starting now.
    pub(crate) fn new() -> Self {
        TimeSlice(web_time::Instant::now())
    }

    /// Yields when the slice is used up, and starts the next.
    pub(crate) async fn yield_if_due(&mut self) {
        if self.0.elapsed() >= Self::LENGTH {
            yield_now().await;
            self.0 = web_time::Instant::now();
        }
    }
}
