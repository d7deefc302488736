//! Teaching from JS: the library's [`crate::teach`] behind `Model.teach()` and `holdout()`,
//! which the package's `transfer()` calls after computing the photos' features.

use super::*;
use crate::model::transfer;
use crate::teach::{self, Lesson, TeachSettings};

/// What `teach()` takes besides the settings: where to fine-tune, and the head to go on from.
#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct TeachParts {
    /// Fine-tune the network from this layer (where the activations were taken) to the cut.
    tune_cut: Option<String>,
    /// Teach this classifier's own head further: output `j` starts from old output
    /// `keep_from[j]`, or fresh where it is -1.
    keep_from: Option<Vec<i32>>,
}

/// Which samples teaching holds out ([`teach::holdout`]): `labels` (class indices of
/// `classes`), the `fraction` to hold out, the `seed`. Returns `{ train, validation,
/// warnings }` (sample indices, messages).
#[wasm_bindgen]
pub fn holdout(
    labels: Vec<u32>,
    classes: Vec<String>,
    fraction: f64,
    seed: f64,
) -> Result<JsValue, JsValue> {
    let seed = crate::train::compile::whole("seed", seed, 0).map_err(js_err)?;
    let h = teach::holdout(&labels, &classes, fraction, seed).map_err(js_err)?;
    #[derive(serde::Serialize)]
    struct Plan {
        train: Vec<usize>,
        validation: Vec<usize>,
        warnings: Vec<String>,
    }
    Ok(to_js(&Plan {
        train: h.train,
        validation: h.validation,
        warnings: h.warnings,
    }))
}

#[wasm_bindgen(js_class = Model)]
impl WasmModel {
    /// Teaches this network `classes` on samples computed once per photo: the output of layer
    /// `cut` (its features), or with `options.tuneCut` the activations of that layer, from
    /// which the network's top (`tuneCut` to `cut`) is fine-tuned with the head. `trainX` /
    /// `trainLabels` train, `valX` / `valLabels` (may be empty) are held out. Options: the
    /// library's teaching settings (`epochs`, `batchSize`, `hidden`, `learningRate`, `seed`,
    /// `fineTuneEpochs`, `fineTuneLearningRate`, `augment`, `name`), `tuneCut`, `keepFrom`
    /// (teach this classifier's head further), `onBatchEnd` (logs carry `phase`),
    /// `onEpochEnd`, `signal`. Resolves to `{ model, head, history, predictions }`.
    #[allow(clippy::too_many_arguments)]
    pub fn teach(
        &self,
        cut: String,
        train_x: Vec<f32>,
        train_labels: Vec<u32>,
        val_x: Vec<f32>,
        val_labels: Vec<u32>,
        classes: Vec<String>,
        options: JsValue,
    ) -> js_sys::Promise {
        let network = self.snapshot();
        wasm_bindgen_futures::future_to_promise(async move {
            let given = |e: serde_wasm_bindgen::Error| js_input(&format!("teach() options: {e}"));
            let (settings, parts): (TeachSettings, TeachParts) =
                if options.is_undefined() || options.is_null() {
                    Default::default()
                } else {
                    (
                        serde_wasm_bindgen::from_value(options.clone()).map_err(given)?,
                        serde_wasm_bindgen::from_value(options.clone()).map_err(given)?,
                    )
                };
            let o = settings.resolve().map_err(js_err)?;
            let top = match &parts.tune_cut {
                Some(t) => {
                    Some(transfer::sub_model(&network, t, &cut, "top", true).map_err(js_err)?)
                }
                None => None,
            };
            let head = match &parts.keep_from {
                Some(from) => {
                    let out = network
                        .spec
                        .outputs
                        .first()
                        .map(|t| t.layer.clone())
                        .ok_or_else(|| js_input("teach(): the model has no output"))?;
                    let old =
                        transfer::sub_model(&network, &cut, &out, "head", false).map_err(js_err)?;
                    let from: Vec<Option<usize>> =
                        from.iter().map(|&k| usize::try_from(k).ok()).collect();
                    Some(
                        transfer::remap_classes(&old, &from, o.seed)
                            .await
                            .map_err(js_err)?,
                    )
                }
                None => None,
            };
            let shape = match &top {
                Some(t) => t.input_shapes()[0].clone(),
                None => network.truncated(&cut).map_err(js_err)?.output_shapes()[0].clone(),
            };
            let train = checked_dataset(
                train_x,
                train_labels,
                &shape,
                classes.clone(),
                "teach(): training samples",
            )?;
            let val = if val_labels.is_empty() {
                None
            } else {
                Some(checked_dataset(
                    val_x,
                    val_labels,
                    &shape,
                    classes.clone(),
                    "teach(): held-out samples",
                )?)
            };
            let mut progress = JsProgress::from_options(&options);
            let lesson = Lesson {
                network: &network,
                cut: &cut,
                top: top.as_ref(),
                head,
            };
            let result = teach::teach(lesson, &train, val.as_ref(), &o, &mut progress).await;
            if let Some(e) = progress.error.take() {
                return Err(e);
            }
            let taught = result.map_err(js_err)?;
            let stopped = progress.aborted();
            let out = Object::new();
            let set = |k: &str, v: &JsValue| Reflect::set(&out, &k.into(), v);
            // (Models are JS class instances: set one by one; the rest is plain data.)
            set("model", &WasmModel::new(taught.model).into())?;
            set("head", &WasmModel::new(taught.head).into())?;
            set("history", &history_object(&taught.history, stopped)?)?;
            set(
                "predictions",
                &js_sys::Uint32Array::from(&taught.predictions[..]).into(),
            )?;
            Ok(out.into())
        })
    }
}
