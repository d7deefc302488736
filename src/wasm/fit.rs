//! `fit`'s JS side: options through serde into the library's [`FitOptions`], progress to the JS
//! callbacks, the history back as a plain object, and the checks of the data given.

use super::*;

/// `fit`'s progress, forwarded to the JS callbacks; polls the `AbortSignal`.
pub(super) struct JsProgress {
    pub(super) on_batch: Option<Function>,
    pub(super) on_epoch: Option<Function>,
    pub(super) signal: Option<JsValue>,
    pub(super) error: Option<JsValue>,
    /// The phase of a longer task (teaching), given to `onBatchEnd` in its logs.
    pub(super) phase: Option<String>,
}

impl JsProgress {
    /// The callbacks and the signal of a JS options object (`onBatchEnd`, `onEpochEnd`,
    /// `signal`).
    pub(super) fn from_options(options: &JsValue) -> JsProgress {
        JsProgress {
            on_batch: get(options, "onBatchEnd").and_then(|f| f.dyn_into().ok()),
            on_epoch: get(options, "onEpochEnd").and_then(|f| f.dyn_into().ok()),
            signal: get(options, "signal"),
            error: None,
            phase: None,
        }
    }

    /// Whether the signal was aborted.
    pub(super) fn aborted(&self) -> bool {
        self.signal
            .as_ref()
            .and_then(|s| get(s, "aborted"))
            .is_some_and(|a| a.is_truthy())
    }

    fn call(&mut self, f: Option<&Function>, index: usize, logs: &JsValue) {
        if let Some(f) = f {
            if let Err(e) = f.call2(&JsValue::NULL, &JsValue::from(index as u32), logs) {
                self.error.get_or_insert(e);
            }
        }
    }
}

/// A value as a plain JS object (maps as objects, not `Map`s; `None` fields left out).
pub(super) fn to_js(v: &impl serde::Serialize) -> JsValue {
    v.serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .unwrap_or(JsValue::UNDEFINED)
}

/// One epoch's logs as Keras' callbacks get them.
#[derive(serde::Serialize)]
pub(super) struct EpochLogs {
    loss: f64,
    accuracy: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    val_loss: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    val_accuracy: Option<f64>,
    seconds: f64,
}

pub(super) fn epoch_logs(log: &EpochLog) -> JsValue {
    to_js(&EpochLogs {
        loss: log.loss,
        accuracy: log.accuracy,
        val_loss: log.val_loss,
        val_accuracy: log.val_accuracy,
        seconds: log.seconds,
    })
}

/// One batch's logs (`phase` while teaching).
#[derive(serde::Serialize)]
struct BatchLogs<'a> {
    loss: f64,
    accuracy: f64,
    epoch: usize,
    batches: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    phase: Option<&'a str>,
}

impl train::Progress for JsProgress {
    fn batch(&mut self, epoch: usize, batch: usize, batches: usize, loss: f64, accuracy: f64) {
        let logs = to_js(&BatchLogs {
            loss,
            accuracy,
            epoch,
            batches,
            phase: self.phase.as_deref(),
        });
        let f = self.on_batch.clone();
        self.call(f.as_ref(), batch, &logs);
    }

    fn epoch(&mut self, log: &EpochLog) {
        let f = self.on_epoch.clone();
        self.call(f.as_ref(), log.epoch - 1, &epoch_logs(log));
    }

    fn phase(&mut self, phase: &str) {
        self.phase = Some(phase.to_string());
    }

    fn cancelled(&mut self) -> bool {
        self.error.is_some() || self.aborted()
    }
}

/// `fit`'s settings from its JS options object (`epochs`, `batchSize`, `shuffle`, `seed`,
/// `optimizer`, `learningRate`, `validationSplit`; the callbacks and arrays are read apart),
/// resolved with the model's `compile_config` by the library's one resolver.
pub(super) fn fit_options(options: &JsValue) -> Result<FitOptions, JsValue> {
    if options.is_undefined() || options.is_null() {
        return Ok(FitOptions::default());
    }
    serde_wasm_bindgen::from_value(options.clone())
        .map_err(|e| js_input(&format!("fit options: {e}")))
}

/// `fit`'s result as Keras' `History` reads in JS: `{ epoch, history: { loss, accuracy,
/// val_loss?, val_accuracy? }, stopped }`.
#[derive(serde::Serialize)]
struct HistoryJs {
    epoch: Vec<usize>,
    history: Series,
    stopped: bool,
}

#[derive(serde::Serialize)]
struct Series {
    loss: Vec<f64>,
    accuracy: Vec<f64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    val_loss: Vec<f64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    val_accuracy: Vec<f64>,
}

pub(super) fn history_object(h: &train::History, stopped: bool) -> Result<JsValue, JsValue> {
    let e = &h.epochs;
    Ok(to_js(&HistoryJs {
        epoch: e.iter().map(|e| e.epoch - 1).collect(),
        history: Series {
            loss: e.iter().map(|e| e.loss).collect(),
            accuracy: e.iter().map(|e| e.accuracy).collect(),
            val_loss: e.iter().filter_map(|e| e.val_loss).collect(),
            val_accuracy: e.iter().filter_map(|e| e.val_accuracy).collect(),
        },
        stopped,
    }))
}

pub(super) fn dataset(
    model: &Model,
    x: Vec<f32>,
    labels: Vec<u32>,
    what: &str,
) -> Result<Dataset, JsValue> {
    let out: usize = model.output_shapes()[0].iter().product();
    let classes: Vec<String> = (0..out.max(2)).map(|c| c.to_string()).collect();
    checked_dataset(x, labels, &model.input_shapes()[0], classes, what)
}

/// `x` (samples of `sample_shape`, back to back) with class-index `labels` as a data set of
/// `classes`, or an error naming `what` when the sizes disagree or a label is out of range.
pub(super) fn checked_dataset(
    x: Vec<f32>,
    labels: Vec<u32>,
    sample_shape: &[usize],
    classes: Vec<String>,
    what: &str,
) -> Result<Dataset, JsValue> {
    let per: usize = sample_shape.iter().product();
    if labels.is_empty() || per == 0 || x.len() != labels.len() * per {
        return Err(js_input(&format!(
            "{what}: {} labels need {} input values ({per} per sample of shape {sample_shape:?}), found {}",
            labels.len(),
            labels.len() * per,
            x.len()
        )));
    }
    if let Some(bad) = labels.iter().find(|&&l| l as usize >= classes.len()) {
        return Err(js_input(&format!(
            "{what}: label {bad} is out of range for a model with {} classes",
            classes.len()
        )));
    }
    Ok(Dataset {
        sample_shape: sample_shape.to_vec(),
        samples: Samples::F32(x),
        labels,
        classes,
        skipped: Vec::new(),
    })
}
