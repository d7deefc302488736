//! The JS `Model` class: loading (structure + weights, `.keras` / `.h5`, TF.js), predicting,
//! training, saving, and the transfer-learning building blocks (truncate, join, sub-models).

use super::*;

/// A loaded Keras model.
#[wasm_bindgen(js_name = Model)]
pub struct WasmModel {
    pub(super) model: Rc<RefCell<Model>>,
    pub(super) training: Rc<Cell<bool>>,
    /// What the file it was loaded from said besides the model (a `.keras` file's labels and
    /// Glimpse's metadata).
    pub(super) archive: crate::bundle::Metadata,
}

impl WasmModel {
    pub(super) fn new(model: Model) -> WasmModel {
        WasmModel {
            model: Rc::new(RefCell::new(model)),
            training: Rc::new(Cell::new(false)),
            archive: crate::bundle::Metadata::default(),
        }
    }

    /// A snapshot of the model (shares tensors; cheap).
    pub(super) fn snapshot(&self) -> Model {
        self.model.borrow().clone()
    }
}

/// Loads a model from its structure JSON text and the bytes of a `.weights.h5` (Keras 3) or
/// `save_weights` `.h5` (Keras 2) file, on the chosen backend.
#[wasm_bindgen(js_name = loadModel)]
pub fn load_model(structure: String, weights: Vec<u8>) -> Result<WasmModel, JsValue> {
    let model = Model::from_json_and_weights(&structure, weights, "weights", &backend().device)
        .map_err(js_err)?;
    Ok(WasmModel::new(model))
}

/// A `.weights.h5` handed over piece by piece as it downloads, its float16 chunks inflated as
/// they complete (`weights::stream`); then [`load_model_streamed`].
#[wasm_bindgen(js_name = WeightsStream)]
pub struct WasmWeightsStream {
    stream: Option<crate::weights::stream::WeightsStream>,
}

#[wasm_bindgen(js_class = WeightsStream)]
impl WasmWeightsStream {
    /// A stream for a download of `total` bytes (its `Content-Length`).
    #[wasm_bindgen(constructor)]
    pub fn new(total: f64) -> Result<WasmWeightsStream, JsValue> {
        if !(total.is_finite() && total >= 0.0 && total.fract() == 0.0) {
            return Err(js_input(&format!(
                "WeightsStream: expected a whole number of bytes, found {total}"
            )));
        }
        let stream =
            crate::weights::stream::WeightsStream::new(total as u64, "weights").map_err(js_err)?;
        Ok(WasmWeightsStream {
            stream: Some(stream),
        })
    }

    /// Appends the next piece of the download.
    pub fn push(&mut self, piece: &[u8]) -> Result<(), JsValue> {
        match &mut self.stream {
            Some(s) => s.push(piece).map_err(js_err),
            None => Err(js_input("WeightsStream: already loaded")),
        }
    }
}

/// [`load_model`] from a [`WasmWeightsStream`] that has received its whole file (which it
/// uses up).
#[wasm_bindgen(js_name = loadModelStreamed)]
pub fn load_model_streamed(
    structure: String,
    weights: &mut WasmWeightsStream,
) -> Result<WasmModel, JsValue> {
    let stream = weights
        .stream
        .take()
        .ok_or_else(|| js_input("loadModelStreamed: the stream was already loaded"))?;
    let model =
        Model::from_json_and_stream(&structure, stream, &backend().device).map_err(js_err)?;
    Ok(WasmModel::new(model))
}

/// Loads a TF.js layers model: its `model.json` text and the weight files its manifest names
/// (`names[i]` is the path or file name of `shards[i]`). Teachable Machine's labels come from
/// `metadata.json`, which the JS side reads.
#[wasm_bindgen(js_name = loadTfjs)]
pub fn load_tfjs(
    model_json: String,
    names: Vec<String>,
    shards: Vec<js_sys::Uint8Array>,
) -> Result<WasmModel, JsValue> {
    use crate::weights::tfjs::shard_name;
    if names.len() != shards.len() {
        return Err(js_input(&format!(
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
    let model = Model::from_spec_and_weights(spec, store, &backend().device).map_err(js_err)?;
    Ok(WasmModel::new(model))
}

/// The files in a zip of a model export (Teachable Machine's downloads): `[name, bytes]` pairs.
#[wasm_bindgen(js_name = zipFiles)]
pub fn zip_files(bytes: Vec<u8>) -> Result<Array, JsValue> {
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
pub fn load_model_file(bytes: Vec<u8>) -> Result<WasmModel, JsValue> {
    let b =
        crate::bundle::Bundle::from_file(bytes, "model file", &backend().device).map_err(js_err)?;
    let mut m = WasmModel::new(b.model);
    m.archive = b.meta;
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
) -> Result<WasmModel, JsValue> {
    let head = crate::model::transfer::new_head(
        features as usize,
        classes as usize,
        hidden.map(|h| h as usize),
        seed as u64,
        &backend().device,
    )
    .map_err(js_err)?;
    Ok(WasmModel::new(head))
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
            let (values, out_shape) = model.predict_async(data, &shape).await.map_err(js_err)?;
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
                return Err(js_input(
                    "this model is already training; wait for the running fit() to end",
                ));
            }
            let opts = fit_options(&options)?;
            let cfg = FitConfig::resolve(&model, &opts).map_err(js_err)?;
            let all = dataset(&model, x, labels, "fit")?;
            let (train_ds, val_ds) = match opts.validation_split {
                Some(f) if f != 0.0 => {
                    let (t, v) = all.holdout_tail(f).map_err(js_err)?;
                    (t, Some(v))
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
            let mut progress = JsProgress::from_options(&options);
            training.set(true);
            let result =
                train::fit(&mut model, &train_ds, val_ds.as_ref(), &cfg, &mut progress).await;
            training.set(false);
            let history = result.map_err(js_err)?;
            // Keep what was learned, also when stopped.
            *cell.borrow_mut() = model;
            if let Some(e) = progress.error.take() {
                return Err(e);
            }
            let stopped = history.epochs.len() < cfg.epochs || progress.aborted();
            history_object(&history, stopped)
        })
    }

    /// The model in Keras' formats: resolves to `{ structure: string, weights: Uint8Array }`
    /// (the structure JSON and a Keras 3 `.weights.h5`).
    pub fn save(&self) -> js_sys::Promise {
        let model = self.snapshot();
        let structure = match model.structure_json() {
            Ok(s) => s,
            Err(e) => return js_sys::Promise::reject(&js_err(e)),
        };
        wasm_bindgen_futures::future_to_promise(async move {
            let h5 = model
                .keras3_weights_async(crate::weights::write::Precision::Float32)
                .await
                .map_err(js_err)?;
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
        self.archive.labels.clone()
    }

    /// The preprocessing a Glimpse `.keras` export recorded (`glimpse.json`), if any: the
    /// object `Model.preprocessing` holds.
    #[wasm_bindgen(getter, js_name = archivePreprocessing)]
    pub fn archive_preprocessing(&self) -> JsValue {
        use serde::Serialize;
        self.archive
            .preprocessing
            .as_ref()
            .and_then(|p| {
                p.serialize(&serde_wasm_bindgen::Serializer::json_compatible())
                    .ok()
            })
            .unwrap_or(JsValue::UNDEFINED)
    }

    /// The features layer a Glimpse `.keras` export recorded (`glimpse.json`), if any.
    #[wasm_bindgen(getter, js_name = archiveFeaturesLayer)]
    pub fn archive_features_layer(&self) -> Option<String> {
        self.archive.features_layer.clone()
    }

    /// The model as one `.keras` file (what `keras.saving.load_model` reads), with `labels`
    /// inside as `labels.txt`, and `preprocessing` and `featuresLayer` as `glimpse.json`, when
    /// given (Keras ignores both; `loadModel` reads them back). Resolves to a `Uint8Array`.
    #[wasm_bindgen(js_name = saveKeras)]
    pub fn save_keras(
        &self,
        labels: Option<Vec<String>>,
        preprocessing: JsValue,
        features_layer: Option<String>,
    ) -> js_sys::Promise {
        let preprocessing = if preprocessing.is_undefined() || preprocessing.is_null() {
            None
        } else {
            let v: Result<serde_json::Value, _> = serde_wasm_bindgen::from_value(preprocessing);
            match v
                .map_err(|e| crate::Error::input("saveKeras", format!("preprocessing: {e}")))
                .and_then(|v| crate::bundle::check_preprocessing(v, "saveKeras"))
            {
                Ok(v) => Some(v),
                Err(e) => return js_sys::Promise::reject(&js_err(e)),
            }
        };
        let bundle = crate::bundle::Bundle {
            model: self.snapshot(),
            meta: crate::bundle::Metadata {
                labels,
                preprocessing,
                features_layer,
            },
        };
        wasm_bindgen_futures::future_to_promise(async move {
            let zip = bundle
                .to_keras_async(crate::weights::write::Precision::Float32)
                .await
                .map_err(js_err)?;
            Ok(js_sys::Uint8Array::from(zip.as_slice()).into())
        })
    }

    /// The same model (sharing its variables) whose structure holds Keras' augmentation
    /// layers `spec` (the JSON of [`crate::teach::augment::Augment`]) after its input, as a model
    /// trained with them would: the identity at inference, and without variables, so the
    /// weights file is unchanged.
    #[wasm_bindgen(js_name = withAugmentation)]
    pub fn with_augmentation(&self, spec: &str, seed: f64) -> Result<WasmModel, JsValue> {
        let aug: crate::teach::augment::Augment =
            serde_json::from_str(spec).map_err(|e| js_input(&format!("augment: {e}")))?;
        let model = crate::teach::augment::augmented(&self.model.borrow(), &aug, seed as u64)
            .map_err(js_err)?;
        let mut m = WasmModel::new(model);
        m.archive = self.archive.clone();
        Ok(m)
    }

    /// The same model (sharing its variables) with layer `layer`'s output as its output: a
    /// feature extractor.
    pub fn truncated(&self, layer: &str) -> Result<WasmModel, JsValue> {
        let model = self.model.borrow().truncated(layer).map_err(js_err)?;
        Ok(WasmModel::new(model))
    }

    /// This model up to layer `cut`, followed by `head`'s layers: the end-to-end model of
    /// transfer learning, named `name`. Shares both models' variables.
    #[wasm_bindgen(js_name = withHead)]
    pub fn with_head(&self, cut: &str, head: &WasmModel, name: &str) -> Result<WasmModel, JsValue> {
        let base = self.model.borrow();
        let head = head.model.borrow();
        let joined = crate::model::transfer::join(&base, cut, &head, name).map_err(js_err)?;
        Ok(WasmModel::new(joined))
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
    ) -> Result<WasmModel, JsValue> {
        let base = self.model.borrow();
        let model = crate::model::transfer::sub_model(&base, from, to, name, freeze_batch_norm)
            .map_err(js_err)?;
        Ok(WasmModel::new(model))
    }

    /// The same model (structure, labels, shared variables) as a second handle.
    pub fn share(&self) -> WasmModel {
        let mut m = WasmModel::new(self.snapshot());
        m.archive = self.archive.clone();
        m
    }

    /// Where this EfficientNet-Lite network's last `n` blocks begin (the layer to cache
    /// activations at when they are fine-tuned).
    #[wasm_bindgen(js_name = topBlocksCut)]
    pub fn top_blocks_cut(&self, n: u32) -> Result<String, JsValue> {
        crate::zoo::efficientnet::top_blocks_cut(&self.model.borrow().spec, n as usize)
            .map_err(js_err)
    }

    /// Where this classifier's feature extractor ends: the layer before its trailing Dense
    /// layers (`undefined` when it does not end in one).
    #[wasm_bindgen(js_name = headCut)]
    pub fn head_cut(&self) -> Option<String> {
        crate::model::transfer::head_cut(&self.model.borrow())
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
    pub fn with_variables_of(&self, other: &WasmModel) -> Result<WasmModel, JsValue> {
        let (model, _) = self
            .model
            .borrow()
            .with_variables_of(&other.model.borrow())
            .map_err(js_err)?;
        let mut m = WasmModel::new(model);
        m.archive = self.archive.clone();
        Ok(m)
    }

    /// This head (a model ending in a Dense classifier) with other classes: output `j` is old
    /// output `from[j]`, or a new class (Keras-initialised from `seed`) where `from[j]` is -1.
    /// Resolves to the new head.
    #[wasm_bindgen(js_name = remapClasses)]
    pub fn remap_classes(&self, from: Vec<i32>, seed: f64) -> js_sys::Promise {
        let model = self.snapshot();
        wasm_bindgen_futures::future_to_promise(async move {
            let from: Vec<Option<usize>> = from.iter().map(|&k| usize::try_from(k).ok()).collect();
            let head = crate::model::transfer::remap_classes(&model, &from, seed as u64)
                .await
                .map_err(js_err)?;
            Ok(WasmModel::new(head).into())
        })
    }

    /// Frees the model's memory now (JS objects otherwise wait for the garbage collector).
    pub fn dispose(self) {}
}
