//! The engine's start and its backend: static constructors, the panic hook, limits, and the
//! choice of WebGPU or the CPU (made once by [`init_backend`]).

use super::*;

extern "C" {
    /// wasm-ld's function that runs the static constructors (the `inventory` registrations of
    /// burn's GPU compiler).
    fn __wasm_call_ctors();
}

/// Runs the static constructors, once. They are all `inventory` registrations of burn's GPU
/// compiler (cubecl and pliron; nothing on the CPU path uses them), so they run when WebGPU is
/// first tried, not at start: that saves a CPU-only page about 70-90 ms before its first
/// prediction (Chromium's profiler). The explicit call also matters: when nothing calls
/// `__wasm_call_ctors`, wasm-ld treats the module as a "command" and wraps every export in a call
/// to it, so each call from JS would re-run all constructors.
pub(super) fn run_ctors_once() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    // SAFETY: `Once` runs it a single time; the constructors only register GPU compiler items.
    ONCE.call_once(|| unsafe { __wasm_call_ctors() });
}

/// Without the GPU backend there is no reason to wait: run them when the module starts.
#[cfg(not(feature = "webgpu"))]
#[wasm_bindgen(start)]
pub(super) fn start() {
    run_ctors_once();
}

thread_local! {
    static PANIC_HANDLER: RefCell<Option<Function>> = const { RefCell::new(None) };
}

/// Registers `handler(message)`, called with a Rust panic's message just before the instance
/// stops (a panic is a trap on wasm: the instance cannot go on). The JS package rejects every
/// call in flight with the message and starts a fresh instance for the next call; without this
/// a panic inside a promise's task would leave the promise pending forever.
#[wasm_bindgen(js_name = setPanicHandler)]
pub fn set_panic_handler(handler: Function) {
    PANIC_HANDLER.with(|h| *h.borrow_mut() = Some(handler));
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let message = info.to_string();
            PANIC_HANDLER.with(|h| {
                if let Ok(h) = h.try_borrow() {
                    if let Some(f) = h.as_ref() {
                        let _ = f.call1(&JsValue::NULL, &JsValue::from_str(&message));
                    }
                }
            });
        }));
    });
}

/// Stops the instance as an internal error would: a panic now (`later` false) or inside the
/// returned promise's task (`later` true). The browser tests check with it that the package
/// recovers (rejected calls, a fresh instance that works); nothing else calls it.
#[wasm_bindgen(js_name = crashForTest)]
pub fn crash_for_test(later: bool) -> js_sys::Promise {
    if !later {
        panic!("crashForTest: a deliberate panic");
    }
    wasm_bindgen_futures::future_to_promise(async {
        // One turn of the event loop first, so the panic happens in a task of its own.
        let tick = js_sys::Promise::resolve(&JsValue::NULL);
        let _ = wasm_bindgen_futures::JsFuture::from(tick).await;
        panic!("crashForTest: a deliberate panic in a task");
    })
}

/// Replaces the budgets of `glimpse::limits` (numbers of float32 values): `maxParams`,
/// `maxActivation`, `maxBatchActivation`; keys left out keep their value. Returns the budgets
/// in force.
#[wasm_bindgen(js_name = setLimits)]
pub fn set_limits(options: JsValue) -> Result<JsValue, JsValue> {
    /// The budgets as JS gives and gets them.
    #[derive(serde::Deserialize, serde::Serialize, Default)]
    #[serde(rename_all = "camelCase", default)]
    struct Given {
        max_params: Option<f64>,
        max_activation: Option<f64>,
        max_batch_activation: Option<f64>,
    }
    let given: Given = serde_wasm_bindgen::from_value(options)
        .map_err(|e| js_input(&format!("setLimits(): {e}")))?;
    let mut l = crate::limits::get();
    for (key, v, slot) in [
        ("maxParams", given.max_params, &mut l.max_params),
        ("maxActivation", given.max_activation, &mut l.max_activation),
        (
            "maxBatchActivation",
            given.max_batch_activation,
            &mut l.max_batch_activation,
        ),
    ] {
        if let Some(v) = v {
            *slot = crate::train::compile::whole(&format!("setLimits(): '{key}'"), v, 1)
                .map_err(js_err)?;
        }
    }
    crate::limits::set(l);
    Ok(super::fit::to_js(&Given {
        max_params: Some(l.max_params as f64),
        max_activation: Some(l.max_activation as f64),
        max_batch_activation: Some(l.max_batch_activation as f64),
    }))
}

/// The chosen backend: its name (`"webgpu"` / `"cpu"`), the adapter's description, the device.
pub(super) struct Backend {
    pub(super) name: &'static str,
    pub(super) adapter: String,
    pub(super) device: Device,
}

thread_local! {
    static BACKEND: RefCell<Option<Rc<Backend>>> = const { RefCell::new(None) };
}

pub(super) fn backend() -> Rc<Backend> {
    BACKEND.with(|b| {
        b.borrow_mut()
            .get_or_insert_with(|| Rc::new(cpu_backend()))
            .clone()
    })
}

pub(super) fn cpu_backend() -> Backend {
    Backend {
        name: "cpu",
        adapter: "burn flex (wasm)".into(),
        device: Device::flex(),
    }
}

pub(super) fn info_object(b: &Backend) -> Result<JsValue, JsValue> {
    let o = Object::new();
    Reflect::set(&o, &"backend".into(), &b.name.into())?;
    Reflect::set(&o, &"adapter".into(), &b.adapter.as_str().into())?;
    Ok(o.into())
}

#[cfg(feature = "webgpu")]
pub(super) async fn webgpu_backend() -> Result<Backend, String> {
    let gpu = Reflect::get(&js_sys::global(), &"navigator".into())
        .and_then(|n| Reflect::get(&n, &"gpu".into()))
        .unwrap_or(JsValue::UNDEFINED);
    if gpu.is_undefined() || gpu.is_null() {
        return Err("this browser has no WebGPU (navigator.gpu is missing)".into());
    }
    run_ctors_once();
    let (device, setup) = Device::wgpu_options()
        .init_with_setup_async()
        .await
        .map_err(|e| format!("no WebGPU adapter: {e}"))?;
    let info = setup.adapter.get_info();
    let adapter = if info.name.is_empty() {
        format!("{} ({:?})", info.driver, info.backend)
    } else {
        format!("{} ({:?})", info.name, info.backend)
    };
    Ok(Backend {
        name: "webgpu",
        adapter,
        device,
    })
}

#[cfg(not(feature = "webgpu"))]
pub(super) async fn webgpu_backend() -> Result<Backend, String> {
    Err("this build of Glimpse has no WebGPU backend (built without the `webgpu` feature)".into())
}

/// Chooses the backend: `"webgpu"`, `"cpu"` or `"auto"` (WebGPU when an adapter is available,
/// else the CPU). Resolves to `{ backend, adapter }`. Once chosen, the backend stays: a second
/// call with another choice rejects.
#[wasm_bindgen(js_name = initBackend)]
pub async fn init_backend(kind: String) -> Result<JsValue, JsValue> {
    if let Some(b) = BACKEND.with(|b| b.borrow().clone()) {
        if kind == "auto" || kind == b.name {
            return info_object(&b);
        }
        return Err(js_input(&format!(
            "the backend is already '{}'; it cannot change to '{kind}' in this page (reload, or use a new worker)",
            b.name
        )));
    }
    let chosen = match kind.as_str() {
        "cpu" => cpu_backend(),
        "webgpu" => webgpu_backend()
            .await
            .map_err(|e| js_error(&e, "backend"))?,
        "auto" => match webgpu_backend().await {
            Ok(b) => b,
            Err(_) => cpu_backend(),
        },
        other => {
            return Err(js_input(&format!(
                "unknown backend '{other}': expected 'auto', 'webgpu' or 'cpu'"
            )))
        }
    };
    let chosen = Rc::new(chosen);
    BACKEND.with(|b| *b.borrow_mut() = Some(chosen.clone()));
    info_object(&chosen)
}

/// The backend in use (`{ backend, adapter }`; the CPU when none was chosen yet).
#[wasm_bindgen(js_name = backendInfo)]
pub fn backend_info() -> Result<JsValue, JsValue> {
    info_object(&backend())
}
