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

    fn call(&mut self, f: Option<&Function>, index: usize, logs: &Object) {
        if let Some(f) = f {
            if let Err(e) = f.call2(&JsValue::NULL, &JsValue::from(index as u32), logs) {
                self.error.get_or_insert(e);
            }
        }
    }
}

pub(super) fn epoch_logs(log: &EpochLog) -> Object {
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
        if let Some(p) = &self.phase {
            let _ = Reflect::set(&o, &"phase".into(), &p.into());
        }
        let f = self.on_batch.clone();
        self.call(f.as_ref(), batch, &o);
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
        .map_err(|e| JsError::new(&format!("fit options: {e}")).into())
}

pub(super) fn history_object(h: &train::History, stopped: bool) -> Result<JsValue, JsValue> {
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

pub(super) fn dataset(
    model: &Model,
    x: Vec<f32>,
    labels: Vec<u32>,
    what: &str,
) -> Result<Dataset, JsValue> {
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
