//! The WebAssembly API (wasm-bindgen), the low-level half of the npm package: `pkg/index.js`
//! wraps it in the documented JS API (`ready`, `loadModel`, `loadPretrained`, `Model`).
//!
//! - The backend is chosen once by [`init_backend`]: WebGPU (burn's wgpu backend, when the
//!   crate is built with the `webgpu` feature and the browser offers an adapter) or the CPU
//!   (burn's flex backend). Models load on that backend.
//! - Every failure is a real JS `Error` carrying Glimpse's message; results are read back
//!   asynchronously only.
//! - Training works on a copy of the model's variables (tensor handles, not data) and stores the
//!   result when it ends, so a `predict` during `fit` sees the previous weights instead of
//!   failing, and a stopped `fit` keeps what it learned.

#[cfg(feature = "threads")]
mod threads;

use crate::model::Model;
use crate::train::{self, Dataset, EpochLog, FitConfig, OptimizerConfig, Samples};
use crate::weights::archive;
use burn::tensor::Device;
use js_sys::{Array, Float32Array, Function, Object, Reflect};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

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
fn run_ctors_once() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    // SAFETY: `Once` runs it a single time; the constructors only register GPU compiler items.
    ONCE.call_once(|| unsafe { __wasm_call_ctors() });
}

/// Without the GPU backend there is no reason to wait: run them when the module starts.
#[cfg(not(feature = "webgpu"))]
#[wasm_bindgen(start)]
fn start() {
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
    let mut l = crate::limits::get();
    for (key, slot) in [
        ("maxParams", &mut l.max_params),
        ("maxActivation", &mut l.max_activation),
        ("maxBatchActivation", &mut l.max_batch_activation),
    ] {
        if let Some(v) = get(&options, key) {
            let n = v
                .as_f64()
                .filter(|n| n.fract() == 0.0 && *n >= 1.0)
                .ok_or_else(|| {
                    JsValue::from(JsError::new(&format!(
                        "setLimits(): '{key}' must be a whole number >= 1, found {v:?}"
                    )))
                })?;
            *slot = n as u64;
        }
    }
    crate::limits::set(l);
    let o = Object::new();
    Reflect::set(&o, &"maxParams".into(), &(l.max_params as f64).into())?;
    Reflect::set(
        &o,
        &"maxActivation".into(),
        &(l.max_activation as f64).into(),
    )?;
    Reflect::set(
        &o,
        &"maxBatchActivation".into(),
        &(l.max_batch_activation as f64).into(),
    )?;
    Ok(o.into())
}

fn js_err(e: crate::Error) -> JsError {
    JsError::new(&e.to_string())
}

fn js_value(e: crate::Error) -> JsValue {
    JsValue::from(js_err(e))
}

/// The chosen backend: its name (`"webgpu"` / `"cpu"`), the adapter's description, the device.
struct Backend {
    name: &'static str,
    adapter: String,
    device: Device,
}

thread_local! {
    static BACKEND: RefCell<Option<Rc<Backend>>> = const { RefCell::new(None) };
}

fn backend() -> Rc<Backend> {
    BACKEND.with(|b| {
        b.borrow_mut()
            .get_or_insert_with(|| Rc::new(cpu_backend()))
            .clone()
    })
}

fn cpu_backend() -> Backend {
    Backend {
        name: "cpu",
        adapter: "burn flex (wasm)".into(),
        device: Device::flex(),
    }
}

fn info_object(b: &Backend) -> Result<JsValue, JsValue> {
    let o = Object::new();
    Reflect::set(&o, &"backend".into(), &b.name.into())?;
    Reflect::set(&o, &"adapter".into(), &b.adapter.as_str().into())?;
    Ok(o.into())
}

#[cfg(feature = "webgpu")]
async fn webgpu_backend() -> Result<Backend, String> {
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
async fn webgpu_backend() -> Result<Backend, String> {
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
        return Err(JsError::new(&format!(
            "the backend is already '{}'; it cannot change to '{kind}' in this page (reload, or use a new worker)",
            b.name
        ))
        .into());
    }
    let chosen = match kind.as_str() {
        "cpu" => cpu_backend(),
        "webgpu" => webgpu_backend()
            .await
            .map_err(|e| JsValue::from(JsError::new(&e)))?,
        "auto" => match webgpu_backend().await {
            Ok(b) => b,
            Err(_) => cpu_backend(),
        },
        other => {
            return Err(JsError::new(&format!(
                "unknown backend '{other}': expected 'auto', 'webgpu' or 'cpu'"
            ))
            .into())
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

/// A loaded Keras model.
#[wasm_bindgen(js_name = Model)]
pub struct WasmModel {
    model: Rc<RefCell<Model>>,
    structure: Rc<String>,
    training: Rc<Cell<bool>>,
    archive_labels: Option<Vec<String>>,
}

impl WasmModel {
    fn new(model: Model, structure: String) -> WasmModel {
        WasmModel {
            model: Rc::new(RefCell::new(model)),
            structure: Rc::new(structure),
            training: Rc::new(Cell::new(false)),
            archive_labels: None,
        }
    }

    /// A snapshot of the model (shares tensors; cheap).
    fn snapshot(&self) -> Model {
        self.model.borrow().clone()
    }
}

/// Loads a model from its structure JSON text and the bytes of a `.weights.h5` (Keras 3) or
/// `save_weights` `.h5` (Keras 2) file, on the chosen backend.
#[wasm_bindgen(js_name = loadModel)]
pub fn load_model(structure: String, weights: Vec<u8>) -> Result<WasmModel, JsError> {
    let model = Model::from_json_and_weights(&structure, weights, "weights", &backend().device)
        .map_err(js_err)?;
    Ok(WasmModel::new(model, structure))
}

/// Loads a TF.js layers model: its `model.json` text and the weight files its manifest names
/// (`names[i]` is the path or file name of `shards[i]`). Teachable Machine's labels come from
/// `metadata.json`, which the JS side reads.
#[wasm_bindgen(js_name = loadTfjs)]
pub fn load_tfjs(
    model_json: String,
    names: Vec<String>,
    shards: Vec<js_sys::Uint8Array>,
) -> Result<WasmModel, JsError> {
    use crate::weights::tfjs::shard_name;
    if names.len() != shards.len() {
        return Err(JsError::new(&format!(
            "loadTfjs: {} names for {} weight files",
            names.len(),
            shards.len()
        )));
    }
    let find =
        |path: &str| -> crate::Result<Vec<u8>> {
            let i = names
                .iter()
                .position(|n| n == path)
                .or_else(|| names.iter().position(|n| shard_name(n) == shard_name(path)));
            match i {
                Some(i) => Ok(shards[i].to_vec()),
                None => {
                    Err(crate::Error::ModelFile {
                        file: "model.json".into(),
                        message: format!(
                    "the manifest names weight file '{path}', which was not given (given: {})",
                    if names.is_empty() { "none".to_string() } else { names.join(", ") }
                ),
                    })
                }
            }
        };
    let (spec, store) = crate::model::read_tfjs(&model_json, "model.json", find).map_err(js_err)?;
    let structure = crate::weights::tfjs::parse_model_json(&model_json, "model.json")
        .map_err(js_err)?
        .topology;
    let model = Model::from_spec_and_weights(spec, store, &backend().device).map_err(js_err)?;
    Ok(WasmModel::new(model, structure))
}

/// `views` varied copies of a Keras-layout batch of network inputs (`shape` `[N, H, W, 3]`,
/// values 0..255), by Keras' augmentation layers in training mode: `spec` is the JSON of
/// [`crate::zoo::augment::Augment`] (`{"flip": true, "rotate": 0.1, ...}`). Runs on the CPU
/// (cheap next to the network, and read back synchronously without blocking a GPU); returns
/// the views one after the other, each `[N, H, W, 3]`.
#[wasm_bindgen(js_name = augmentViews)]
pub fn augment_views(
    x: Vec<f32>,
    shape: Vec<usize>,
    spec: String,
    views: usize,
    seed: f64,
    batch: u32,
) -> Result<Vec<f32>, JsError> {
    let aug: crate::zoo::augment::Augment =
        serde_json::from_str(&spec).map_err(|e| JsError::new(&format!("augment: {e}")))?;
    if views == 0 || views > 16 {
        return Err(JsError::new(&format!(
            "augment: expected 1 to 16 views, found {views}"
        )));
    }
    let dev = Device::flex();
    let out = aug
        .views(&x, &shape, views, seed as u64, u64::from(batch), &dev)
        .map_err(js_err)?;
    let mut all = Vec::with_capacity(x.len() * views);
    for t in out {
        let v = crate::model::axes::to_keras_order(t)
            .into_data()
            .try_into_vec::<f32>()
            .map_err(|e| JsError::new(&format!("augment: {e:?}")))?;
        all.extend(v);
    }
    Ok(all)
}

/// The files in a zip of a model export (Teachable Machine's downloads): `[name, bytes]` pairs.
#[wasm_bindgen(js_name = zipFiles)]
pub fn zip_files(bytes: Vec<u8>) -> Result<Array, JsError> {
    let files = archive::zip_files(&bytes, "zip").map_err(js_err)?;
    let out = Array::new();
    for (name, data) in files {
        let pair = Array::new();
        pair.push(&JsValue::from_str(&name));
        pair.push(&js_sys::Uint8Array::from(data.as_slice()));
        out.push(&pair);
    }
    Ok(out)
}

/// Loads a `.keras` zip or a full-model `.h5` (structure and weights in one file).
#[wasm_bindgen(js_name = loadModelFile)]
pub fn load_model_file(bytes: Vec<u8>) -> Result<WasmModel, JsError> {
    let name = "model file";
    let zipped = archive::is_zip(&bytes);
    let labels = if zipped {
        archive::zip_entry(&bytes, "labels.txt")
            .map(|t| crate::zoo::labels(&String::from_utf8_lossy(&t)))
    } else {
        None
    };
    let arch = if zipped {
        archive::read_keras_zip(&bytes, name)
    } else {
        archive::read_full_h5(bytes, name)
    }
    .map_err(js_err)?;
    let spec = crate::keras::parse_model_versioned(&arch.structure, arch.keras_version.as_deref())
        .map_err(js_err)?;
    let model =
        Model::from_spec_and_weights(spec, arch.weights, &backend().device).map_err(js_err)?;
    let mut m = WasmModel::new(model, arch.structure);
    m.archive_labels = labels;
    Ok(m)
}

/// A new classifier head for transfer learning: `[Dense(hidden, relu)] + Dense(classes,
/// softmax)` on `features`-wide inputs, Keras-initialised from `seed`.
#[wasm_bindgen(js_name = createHead)]
pub fn create_head(
    features: u32,
    classes: u32,
    hidden: Option<u32>,
    seed: f64,
) -> Result<WasmModel, JsError> {
    let head = crate::zoo::transfer::new_head(
        features as usize,
        classes as usize,
        hidden.map(|h| h as usize),
        seed as u64,
        &backend().device,
    )
    .map_err(js_err)?;
    let structure = crate::keras::build::with_shapes(&crate::zoo::transfer::head_structure(
        features as usize,
        classes as usize,
        hidden.map(|h| h as usize),
    ))
    .map_err(js_err)?;
    Ok(WasmModel::new(head, structure))
}

/// Prepares RGBA pixels (`ImageData.data`, `width` x `height`) as one network input: optional
/// central crop (`cropFraction` < 1), resize (`"bicubic"` or `"nearest"`) to `outHeight` x
/// `outWidth`, values 0..255 times `scale`, HWC order.
#[wasm_bindgen(js_name = prepareImage)]
#[allow(clippy::too_many_arguments)]
pub fn prepare_image(
    rgba: &[u8],
    width: u32,
    height: u32,
    out_height: u32,
    out_width: u32,
    crop_fraction: f64,
    resize: String,
    scale: f32,
) -> Result<Vec<f32>, JsError> {
    // The crop first, from the RGBA bytes (only its pixels converted); then the resize.
    let img = crate::image::from_rgba_cropped(rgba, width, height, crop_fraction, "image")
        .map_err(js_err)?;
    crate::image::Prepare {
        height: out_height as usize,
        width: out_width as usize,
        crop_fraction: 1.0,
        resize,
        scale,
    }
    .apply(&img)
    .map_err(js_err)
}

/// The part of a `width x height` image that `prepareImage` keeps for `crop_fraction`:
/// `[left, top, width, height]` (the central square, or the whole image at 1). Pages that
/// draw only this part and pass it with a fraction of 1 get the same input.
#[wasm_bindgen(js_name = cropBox)]
pub fn crop_box(width: u32, height: u32, crop_fraction: f64) -> Result<Vec<u32>, JsError> {
    let (x, y, w, h) = crate::image::crop_box(width, height, crop_fraction).map_err(js_err)?;
    Ok(vec![x, y, w, h])
}

fn shape_array(dims: &[usize]) -> Array {
    let a = Array::new();
    a.push(&JsValue::NULL);
    for &d in dims {
        a.push(&JsValue::from(d as u32));
    }
    a
}

fn get(o: &JsValue, key: &str) -> Option<JsValue> {
    Reflect::get(o, &key.into())
        .ok()
        .filter(|v| !v.is_undefined() && !v.is_null())
}

fn get_f64(o: &JsValue, key: &str) -> Result<Option<f64>, JsValue> {
    match get(o, key) {
        None => Ok(None),
        Some(v) => v.as_f64().map(Some).ok_or_else(|| {
            JsError::new(&format!(
                "fit option '{key}': expected a number, found {v:?}"
            ))
            .into()
        }),
    }
}

/// `fit`'s progress, forwarded to the JS callbacks; polls the `AbortSignal`.
struct JsProgress {
    on_batch: Option<Function>,
    on_epoch: Option<Function>,
    signal: Option<JsValue>,
    error: Option<JsValue>,
}

impl JsProgress {
    fn call(&mut self, f: Option<&Function>, index: usize, logs: &Object) {
        if let Some(f) = f {
            if let Err(e) = f.call2(&JsValue::NULL, &JsValue::from(index as u32), logs) {
                self.error.get_or_insert(e);
            }
        }
    }
}

fn epoch_logs(log: &EpochLog) -> Object {
    let o = Object::new();
    let set = |k: &str, v: f64| {
        let _ = Reflect::set(&o, &k.into(), &v.into());
    };
    set("loss", log.loss);
    set("accuracy", log.accuracy);
    if let Some(v) = log.val_loss {
        set("val_loss", v);
    }
    if let Some(v) = log.val_accuracy {
        set("val_accuracy", v);
    }
    set("seconds", log.seconds);
    o
}

impl train::Progress for JsProgress {
    fn batch(&mut self, epoch: usize, batch: usize, batches: usize, loss: f64, accuracy: f64) {
        let o = Object::new();
        for (k, v) in [
            ("loss", loss),
            ("accuracy", accuracy),
            ("epoch", epoch as f64),
            ("batches", batches as f64),
        ] {
            let _ = Reflect::set(&o, &k.into(), &v.into());
        }
        let f = self.on_batch.clone();
        self.call(f.as_ref(), batch, &o);
    }

    fn epoch(&mut self, log: &EpochLog) {
        let f = self.on_epoch.clone();
        self.call(f.as_ref(), log.epoch - 1, &epoch_logs(log));
    }

    fn cancelled(&mut self) -> bool {
        self.error.is_some()
            || self
                .signal
                .as_ref()
                .and_then(|s| get(s, "aborted"))
                .is_some_and(|a| a.is_truthy())
    }
}

fn fit_config(model: &Model, options: &JsValue) -> Result<FitConfig, JsValue> {
    let mut cfg = FitConfig::default();
    let whole = |k: &str, v: f64| -> Result<usize, JsValue> {
        if v.fract() != 0.0 || v < 1.0 {
            return Err(JsError::new(&format!(
                "fit option '{k}': expected a whole number >= 1, found {v}"
            ))
            .into());
        }
        Ok(v as usize)
    };
    if let Some(v) = get_f64(options, "epochs")? {
        cfg.epochs = whole("epochs", v)?;
    }
    if let Some(v) = get_f64(options, "batchSize")? {
        cfg.batch_size = whole("batchSize", v)?;
    }
    if let Some(v) = get(options, "shuffle") {
        cfg.shuffle = v.is_truthy();
    }
    if let Some(v) = get_f64(options, "seed")? {
        cfg.seed = v as u64;
    }
    let compile = train::compile_settings(model.spec.compile_config.as_ref()).map_err(js_err)?;
    cfg.loss = train::compile::resolve_loss(model, compile.loss);
    if let Some(o) = compile.optimizer {
        cfg.optimizer = o;
    }
    if let Some(name) = get(options, "optimizer") {
        let name = name.as_string().unwrap_or_default();
        cfg.optimizer = OptimizerConfig::from_keras(&serde_json::Value::String(name.clone()))
            .ok_or_else(|| {
                JsValue::from(JsError::new(&format!(
                    "fit option 'optimizer': expected 'adam', 'sgd' or 'rmsprop', found '{name}'"
                )))
            })?;
    }
    if let Some(lr) = get_f64(options, "learningRate")? {
        if !(lr > 0.0 && lr.is_finite()) {
            return Err(JsError::new(&format!(
                "fit option 'learningRate': expected a positive number, found {lr}"
            ))
            .into());
        }
        match &mut cfg.optimizer {
            OptimizerConfig::Adam { learning_rate, .. }
            | OptimizerConfig::Sgd { learning_rate, .. }
            | OptimizerConfig::Rmsprop { learning_rate, .. } => *learning_rate = lr,
        }
    }
    cfg.validate().map_err(js_value)?;
    Ok(cfg)
}

fn history_object(h: &train::History, stopped: bool) -> Result<JsValue, JsValue> {
    let o = Object::new();
    let epochs = Array::new();
    let keys = ["loss", "accuracy", "val_loss", "val_accuracy"];
    let series: Vec<Array> = keys.iter().map(|_| Array::new()).collect();
    for e in &h.epochs {
        epochs.push(&JsValue::from((e.epoch - 1) as u32));
        let vals = [Some(e.loss), Some(e.accuracy), e.val_loss, e.val_accuracy];
        for (s, v) in series.iter().zip(vals) {
            if let Some(v) = v {
                s.push(&v.into());
            }
        }
    }
    let hist = Object::new();
    for (k, s) in keys.iter().zip(series) {
        if s.length() > 0 {
            Reflect::set(&hist, &(*k).into(), &s)?;
        }
    }
    Reflect::set(&o, &"epoch".into(), &epochs)?;
    Reflect::set(&o, &"history".into(), &hist)?;
    Reflect::set(&o, &"stopped".into(), &stopped.into())?;
    Ok(o.into())
}

fn dataset(model: &Model, x: Vec<f32>, labels: Vec<u32>, what: &str) -> Result<Dataset, JsValue> {
    let sample_shape = model.input_shapes()[0].clone();
    let per: usize = sample_shape.iter().product();
    let out: usize = model.output_shapes()[0].iter().product();
    let classes = out.max(2);
    if labels.is_empty() || x.len() != labels.len() * per {
        return Err(JsError::new(&format!(
            "{what}: {} labels need {} input values ({} per sample of shape {sample_shape:?}), found {}",
            labels.len(),
            labels.len() * per,
            per,
            x.len()
        ))
        .into());
    }
    if let Some(bad) = labels.iter().find(|&&l| l as usize >= classes) {
        return Err(JsError::new(&format!(
            "{what}: label {bad} is out of range for a model with {classes} classes"
        ))
        .into());
    }
    Ok(Dataset {
        sample_shape,
        samples: Samples::F32(x),
        labels,
        classes: (0..classes).map(|c| c.to_string()).collect(),
        skipped: Vec::new(),
    })
}

#[wasm_bindgen(js_class = Model)]
impl WasmModel {
    /// Keras' summary table.
    pub fn summary(&self) -> String {
        self.model.borrow().summary().to_string()
    }

    /// The input shape, batch first (`null`), as Keras writes it.
    #[wasm_bindgen(getter, js_name = inputShape)]
    pub fn input_shape(&self) -> Array {
        shape_array(&self.model.borrow().input_shapes()[0])
    }

    /// The output shape, batch first (`null`).
    #[wasm_bindgen(getter, js_name = outputShape)]
    pub fn output_shape(&self) -> Array {
        shape_array(&self.model.borrow().output_shapes()[0])
    }

    /// Names of the model's layers, in order.
    #[wasm_bindgen(getter, js_name = layerNames)]
    pub fn layer_names(&self) -> Vec<String> {
        self.model
            .borrow()
            .spec
            .layers
            .iter()
            .map(|l| l.name.clone())
            .collect()
    }

    /// Number of parameters (Keras' `count_params()`).
    #[wasm_bindgen(js_name = countParams)]
    pub fn count_params(&self) -> f64 {
        self.model.borrow().count_params() as f64
    }

    /// Whether a `fit` is running.
    #[wasm_bindgen(getter)]
    pub fn training(&self) -> bool {
        self.training.get()
    }

    /// Predicts a batch: `data` in Keras' layout (channels last), `shape` batch first. Resolves
    /// to `{ data: Float32Array, shape: number[] }`.
    pub fn predict(&self, data: Vec<f32>, shape: Vec<u32>) -> js_sys::Promise {
        let model = self.snapshot();
        wasm_bindgen_futures::future_to_promise(async move {
            let shape: Vec<usize> = shape.iter().map(|&d| d as usize).collect();
            let (values, out_shape) = model.predict_async(data, &shape).await.map_err(js_value)?;
            let result = Object::new();
            Reflect::set(
                &result,
                &"data".into(),
                &Float32Array::from(values.as_slice()),
            )?;
            let s = Array::new();
            for d in out_shape {
                s.push(&JsValue::from(d as u32));
            }
            Reflect::set(&result, &"shape".into(), &s)?;
            Ok(result.into())
        })
    }

    /// Trains like Keras' `model.fit` on `x` (samples in Keras' layout, back to back) with
    /// class-index `labels`. `options`: `epochs`, `batchSize`, `shuffle`, `seed`, `optimizer`
    /// (`'adam'`, `'sgd'`, `'rmsprop'`), `learningRate`, `validationSplit` (the last fraction
    /// of the samples, as Keras takes it), `validationX` + `validationLabels`, `onBatchEnd`,
    /// `onEpochEnd`, `signal` (an `AbortSignal`). Resolves to
    /// `{ epoch, history: { loss, accuracy, val_loss?, val_accuracy? }, stopped }`.
    pub fn fit(&self, x: Vec<f32>, labels: Vec<u32>, options: JsValue) -> js_sys::Promise {
        let cell = self.model.clone();
        let training = self.training.clone();
        let mut model = self.snapshot();
        wasm_bindgen_futures::future_to_promise(async move {
            if training.get() {
                return Err(JsError::new(
                    "this model is already training; wait for the running fit() to end",
                )
                .into());
            }
            let cfg = fit_config(&model, &options)?;
            let all = dataset(&model, x, labels, "fit")?;
            let (train_ds, val_ds) = match get_f64(&options, "validationSplit")? {
                Some(f) if f != 0.0 => {
                    if !(0.0..1.0).contains(&f) {
                        return Err(JsError::new(&format!(
                            "fit option 'validationSplit': expected a fraction in [0, 1), found {f}"
                        ))
                        .into());
                    }
                    let at = ((all.len() as f64) * (1.0 - f)).floor() as usize;
                    if at == 0 || at == all.len() {
                        return Err(JsError::new(&format!(
                            "fit option 'validationSplit': {f} of {} samples leaves an empty side",
                            all.len()
                        ))
                        .into());
                    }
                    let idx: Vec<usize> = (0..all.len()).collect();
                    (all.subset(&idx[..at]), Some(all.subset(&idx[at..])))
                }
                _ => match (
                    get(&options, "validationX"),
                    get(&options, "validationLabels"),
                ) {
                    (Some(vx), Some(vl)) => {
                        let vx = Float32Array::from(vx).to_vec();
                        let vl = js_sys::Uint32Array::from(vl).to_vec();
                        let v = dataset(&model, vx, vl, "validation data")?;
                        (all, Some(v))
                    }
                    _ => (all, None),
                },
            };
            let mut progress = JsProgress {
                on_batch: get(&options, "onBatchEnd").and_then(|f| f.dyn_into().ok()),
                on_epoch: get(&options, "onEpochEnd").and_then(|f| f.dyn_into().ok()),
                signal: get(&options, "signal"),
                error: None,
            };
            training.set(true);
            let result =
                train::fit(&mut model, &train_ds, val_ds.as_ref(), &cfg, &mut progress).await;
            training.set(false);
            let history = result.map_err(js_value)?;
            // Keep what was learned, also when stopped.
            *cell.borrow_mut() = model;
            if let Some(e) = progress.error {
                return Err(e);
            }
            let stopped = history.epochs.len() < cfg.epochs
                || progress
                    .signal
                    .as_ref()
                    .and_then(|s| get(s, "aborted"))
                    .is_some_and(|a| a.is_truthy());
            history_object(&history, stopped)
        })
    }

    /// The structure to save: a Keras 2 or TF.js one written as Keras 3's (which real Keras 3
    /// opens), a Keras 3 one as it is.
    fn saved_structure(&self, model: &Model) -> crate::Result<Rc<String>> {
        if model.spec.flavor != crate::keras::KerasFlavor::Keras2 {
            return Ok(self.structure.clone());
        }
        let v = crate::keras::write::keras3_structure(&model.spec, |t| {
            model.graph.shape_of(&model.spec, t)
        })?;
        Ok(Rc::new(v.to_string()))
    }

    /// The model in Keras' formats: resolves to `{ structure: string, weights: Uint8Array }`
    /// (the structure JSON and a Keras 3 `.weights.h5`).
    pub fn save(&self) -> js_sys::Promise {
        let model = self.snapshot();
        let structure = match self.saved_structure(&model) {
            Ok(s) => s,
            Err(e) => return js_sys::Promise::reject(&js_value(e)),
        };
        wasm_bindgen_futures::future_to_promise(async move {
            let h5 = model
                .keras3_weights_async(crate::weights::write::Precision::Float32)
                .await
                .map_err(js_value)?;
            let o = Object::new();
            Reflect::set(&o, &"structure".into(), &structure.as_str().into())?;
            Reflect::set(
                &o,
                &"weights".into(),
                &js_sys::Uint8Array::from(h5.as_slice()),
            )?;
            Ok(o.into())
        })
    }

    /// Class names stored in a `.keras` file's `labels.txt` (Glimpse's exports), if any.
    #[wasm_bindgen(getter, js_name = archiveLabels)]
    pub fn archive_labels(&self) -> Option<Vec<String>> {
        self.archive_labels.clone()
    }

    /// The model as one `.keras` file (what `keras.saving.load_model` reads), with `labels`
    /// stored beside it as `labels.txt` when given. Resolves to a `Uint8Array`.
    #[wasm_bindgen(js_name = saveKeras)]
    pub fn save_keras(&self, labels: Option<Vec<String>>) -> js_sys::Promise {
        let model = self.snapshot();
        let structure = match self.saved_structure(&model) {
            Ok(s) => s,
            Err(e) => return js_sys::Promise::reject(&js_value(e)),
        };
        wasm_bindgen_futures::future_to_promise(async move {
            let h5 = model
                .keras3_weights_async(crate::weights::write::Precision::Float32)
                .await
                .map_err(js_value)?;
            let labels_text = labels.map(|l| l.join("\n") + "\n");
            let extra: Vec<(&str, &[u8])> = labels_text
                .as_ref()
                .map(|t| vec![("labels.txt", t.as_bytes())])
                .unwrap_or_default();
            let zip = archive::write_keras_zip(&structure, &h5, &extra).map_err(js_value)?;
            Ok(js_sys::Uint8Array::from(zip.as_slice()).into())
        })
    }

    /// The same model (sharing its variables) whose structure holds Keras' augmentation
    /// layers `spec` (the JSON of [`crate::zoo::augment::Augment`]) after its input, as a model
    /// trained with them would: the identity at inference, and without variables, so the
    /// weights file is unchanged.
    #[wasm_bindgen(js_name = withAugmentation)]
    pub fn with_augmentation(&self, spec: &str, seed: f64) -> Result<WasmModel, JsError> {
        let aug: crate::zoo::augment::Augment =
            serde_json::from_str(spec).map_err(|e| JsError::new(&format!("augment: {e}")))?;
        let structure =
            crate::zoo::augment::with_augmentation(&self.structure, aug.layers(seed as u64))
                .map_err(js_err)?;
        let spec = crate::keras::parse_model(&structure).map_err(js_err)?;
        let graph = crate::model::Graph::build(&spec).map_err(js_err)?;
        let old = self.model.borrow();
        // Same variables by layer name: the augmentation layers have none.
        let mut params = Vec::with_capacity(spec.layers.len());
        for l in &spec.layers {
            match old.spec.layers.iter().position(|o| o.name == l.name) {
                Some(i) => params.push(old.params()[i].clone()),
                None => params.push(Vec::new()),
            }
        }
        let model = Model::from_parts(spec, graph, params, old.device.clone());
        let mut m = WasmModel::new(model, structure);
        m.archive_labels = self.archive_labels.clone();
        Ok(m)
    }

    /// The same model (sharing its variables) with layer `layer`'s output as its output: a
    /// feature extractor.
    pub fn truncated(&self, layer: &str) -> Result<WasmModel, JsError> {
        let model = self.model.borrow().truncated(layer).map_err(js_err)?;
        // A Keras 2 or TF.js model may hold the layer inside a nested model: its structure is
        // written out flat (Keras 3), ending there.
        let structure = if model.spec.flavor == crate::keras::KerasFlavor::Keras2 {
            crate::keras::write::keras3_structure(&model.spec, |t| {
                model.graph.shape_of(&model.spec, t)
            })
            .map_err(js_err)?
            .to_string()
        } else {
            crate::zoo::transfer::truncated_structure(&self.structure, layer).map_err(js_err)?
        };
        Ok(WasmModel::new(model, structure))
    }

    /// This model up to layer `cut`, followed by `head`'s layers: the end-to-end model of
    /// transfer learning, named `name`. Shares both models' variables.
    #[wasm_bindgen(js_name = withHead)]
    pub fn with_head(&self, cut: &str, head: &WasmModel, name: &str) -> Result<WasmModel, JsError> {
        let base = self.model.borrow();
        let head = head.model.borrow();
        let joined = crate::zoo::transfer::join(&base, cut, &head, name).map_err(js_err)?;
        let structure =
            crate::zoo::transfer::joined_structure(&base, cut, &head, name).map_err(js_err)?;
        Ok(WasmModel::new(joined, structure))
    }

    /// The layers after `from` up to `to` as a model of their own, whose input (named `from`)
    /// takes `from`'s output, sharing the variables: a network's top to fine-tune on activations
    /// cached at `from` (`freezeBatchNorm`: its BatchNormalization layers stay in inference mode
    /// and keep their variables), or a classifier's head.
    #[wasm_bindgen(js_name = subModel)]
    pub fn sub_model(
        &self,
        from: &str,
        to: &str,
        name: &str,
        freeze_batch_norm: bool,
    ) -> Result<WasmModel, JsError> {
        let base = self.model.borrow();
        let structure =
            crate::zoo::transfer::sub_structure(&base, from, to, name, freeze_batch_norm)
                .map_err(js_err)?;
        let model = crate::zoo::transfer::sub_model(&base, from, to, name, freeze_batch_norm)
            .map_err(js_err)?;
        Ok(WasmModel::new(model, structure))
    }

    /// The same model (structure, labels, shared variables) as a second handle.
    pub fn share(&self) -> WasmModel {
        let mut m = WasmModel::new(self.snapshot(), self.structure.as_str().to_owned());
        m.archive_labels = self.archive_labels.clone();
        m
    }

    /// Where this EfficientNet-Lite network's last `n` blocks begin (the layer to cache
    /// activations at when they are fine-tuned).
    #[wasm_bindgen(js_name = topBlocksCut)]
    pub fn top_blocks_cut(&self, n: u32) -> Result<String, JsError> {
        crate::zoo::efficientnet::top_blocks_cut(&self.model.borrow().spec, n as usize)
            .map_err(js_err)
    }

    /// Where this classifier's feature extractor ends: the layer before its trailing Dense
    /// layers (`undefined` when it does not end in one).
    #[wasm_bindgen(js_name = headCut)]
    pub fn head_cut(&self) -> Option<String> {
        crate::zoo::transfer::head_cut(&self.model.borrow())
    }

    /// The name of the layer that gives the model's output.
    #[wasm_bindgen(getter, js_name = outputLayer)]
    pub fn output_layer(&self) -> Option<String> {
        self.model
            .borrow()
            .spec
            .outputs
            .first()
            .map(|o| o.layer.clone())
    }

    /// Number of the values training changes.
    #[wasm_bindgen(js_name = countTrainable)]
    pub fn count_trainable(&self) -> f64 {
        self.model.borrow().count_trainable() as f64
    }

    /// This model with `other`'s variables in its layers of the same names (a fine-tuned part
    /// written back into the whole); shares them.
    #[wasm_bindgen(js_name = withVariablesOf)]
    pub fn with_variables_of(&self, other: &WasmModel) -> Result<WasmModel, JsError> {
        let (model, _) = self
            .model
            .borrow()
            .with_variables_of(&other.model.borrow())
            .map_err(js_err)?;
        let mut m = WasmModel::new(model, self.structure.as_str().to_owned());
        m.archive_labels = self.archive_labels.clone();
        Ok(m)
    }

    /// This head (a model ending in a Dense classifier) with other classes: output `j` is old
    /// output `from[j]`, or a new class (Keras-initialised from `seed`) where `from[j]` is -1.
    /// Resolves to the new head.
    #[wasm_bindgen(js_name = remapClasses)]
    pub fn remap_classes(&self, from: Vec<i32>, seed: f64) -> js_sys::Promise {
        let model = self.snapshot();
        let structure = self.structure.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let from: Vec<Option<usize>> = from.iter().map(|&k| usize::try_from(k).ok()).collect();
            let (head, json) =
                crate::zoo::transfer::remap_classes(&model, &structure, &from, seed as u64)
                    .await
                    .map_err(js_value)?;
            Ok(WasmModel::new(head, json).into())
        })
    }

    /// Frees the model's memory now (JS objects otherwise wait for the garbage collector).
    pub fn dispose(self) {}
}
