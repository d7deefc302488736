//! The settings of a `fit`, resolved once for every surface: what the caller asks
//! ([`FitOptions`]: the CLI's flags, the JS options object, a transfer-learning recipe), what
//! the model file carries (Keras' `compile_config`, read strictly) and Keras' defaults, in that
//! order, into one [`FitConfig`] ([`FitConfig::resolve`]); and the ranges they are checked
//! against.

use super::{FitConfig, Loss, OptimizerConfig};
use crate::error::{Error, Result};
use serde_json::Value;

/// Most passes over the data one `fit` call takes.
pub const MAX_EPOCHS: usize = 1_000_000;
/// Largest batch `fit` takes.
pub const MAX_BATCH_SIZE: usize = 1 << 16;
/// Widest hidden layer of a transfer-learning head (more learns nothing from 1280 features,
/// and its weights would not fit a browser).
pub const MAX_HIDDEN_UNITS: usize = 1 << 16;
/// Largest learning rate accepted (Keras' defaults are 1e-3 to 1e-2).
pub const MAX_LEARNING_RATE: f64 = 100.0;

/// What a `compile_config` says: each entry only when the file gives it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CompileSettings {
    /// The optimizer.
    pub optimizer: Option<OptimizerConfig>,
    /// The loss.
    pub loss: Option<Loss>,
}

/// The loss `fit` and `evaluate` use for `model`: the one its `compile_config` names (sparse
/// categorical as categorical: Glimpse's targets are one-hot), else binary cross-entropy for
/// one output and categorical for several, from logits when the model's last layer outputs
/// logits (a linear activation, as Keras' tutorials end: `Dense(5)` with
/// `from_logits=True`). One rule for the CLI, wasm and the library.
pub fn resolve_loss(model: &crate::Model, compiled: Option<Loss>) -> Loss {
    if let Some(l) = compiled {
        return if l == Loss::SparseCategoricalCrossentropy {
            Loss::CategoricalCrossentropy
        } else {
            l
        };
    }
    let outputs: usize = model.output_shapes()[0].iter().product();
    let base = if outputs == 1 {
        Loss::BinaryCrossentropy
    } else {
        Loss::CategoricalCrossentropy
    };
    if outputs_logits(model) {
        base.from_logits()
    } else {
        base
    }
}

/// Whether the model's (first) output is a layer with a linear activation.
fn outputs_logits(model: &crate::Model) -> bool {
    let Some(out) = model.spec.outputs.first() else {
        return false;
    };
    let Some(layer) = model.spec.layers.iter().find(|l| l.name == out.layer) else {
        return false;
    };
    let act = layer.raw.pointer("/config/activation");
    match layer.class_name.as_str() {
        "Dense" | "Conv2D" | "Activation" => {
            matches!(act, None | Some(Value::Null)) || act == Some(&Value::String("linear".into()))
        }
        _ => false,
    }
}

/// Reads a Keras `compile_config`: an optimizer or a loss that Glimpse does not train with is
/// an error naming it (training with something else than what the file asks would be
/// silently wrong); absent or `null` entries are `None`.
pub fn compile_settings(compile: Option<&Value>) -> Result<CompileSettings> {
    let Some(c) = compile.filter(|c| !c.is_null()) else {
        return Ok(CompileSettings::default());
    };
    let optimizer = match c.get("optimizer").filter(|o| !o.is_null()) {
        None => None,
        Some(o) => Some(OptimizerConfig::from_keras(o).ok_or_else(|| {
            Error::input(
                "compile_config",
                format!(
                    "optimizer {} is not one Glimpse trains with (adam, sgd, rmsprop without \
                     momentum or centering)",
                    short(o)
                ),
            )
        })?),
    };
    let loss = match c.get("loss").filter(|l| !l.is_null()) {
        None => None,
        Some(l) => {
            let name = match l {
                Value::String(s) => Some(s.as_str()),
                Value::Object(o) => o.get("class_name").and_then(Value::as_str),
                _ => None,
            };
            let logits = l.pointer("/config/from_logits") == Some(&Value::Bool(true));
            Some(
                name.and_then(Loss::from_name)
                    .map(|l| if logits { l.from_logits() } else { l })
                    .ok_or_else(|| {
                        Error::input(
                            "compile_config",
                            format!(
                        "loss {} is not one Glimpse trains with (categorical_crossentropy, \
                         sparse_categorical_crossentropy, binary_crossentropy, mean_squared_error)",
                        short(l)
                    ),
                        )
                    })?,
            )
        }
    };
    Ok(CompileSettings { optimizer, loss })
}

/// A JSON value for an error message, cut to a readable length.
fn short(v: &Value) -> String {
    let s = match v {
        Value::Object(o) => o
            .get("class_name")
            .and_then(Value::as_str)
            .map(|c| format!("'{c}'"))
            .unwrap_or_else(|| v.to_string()),
        Value::String(s) => format!("'{s}'"),
        _ => v.to_string(),
    };
    match s.char_indices().nth(80) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s,
    }
}

/// A learning rate: finite, positive and at most [`MAX_LEARNING_RATE`].
pub fn check_learning_rate(lr: f64) -> Result<f64> {
    if lr.is_finite() && lr > 0.0 && lr <= MAX_LEARNING_RATE {
        Ok(lr)
    } else {
        Err(Error::input(
            "learning rate",
            format!("expected a number in (0, {MAX_LEARNING_RATE}], found {lr}"),
        ))
    }
}

/// `value` when it is 1 to `max`, else an error naming `what`.
fn count_in_range(what: &str, value: usize, max: usize) -> Result<usize> {
    if (1..=max).contains(&value) {
        Ok(value)
    } else {
        Err(Error::input(
            what,
            format!("expected 1 to {max}, found {value}"),
        ))
    }
}

/// Epochs: 1 to [`MAX_EPOCHS`].
pub fn check_epochs(epochs: usize) -> Result<usize> {
    count_in_range("epochs", epochs, MAX_EPOCHS)
}

/// Hidden units of a head: 1 to [`MAX_HIDDEN_UNITS`].
pub fn check_hidden_units(units: usize) -> Result<usize> {
    count_in_range("hidden units", units, MAX_HIDDEN_UNITS)
}

/// Batch size: 1 to [`MAX_BATCH_SIZE`].
pub fn check_batch_size(batch: usize) -> Result<usize> {
    count_in_range("batch size", batch, MAX_BATCH_SIZE)
}

/// A validation split: a fraction strictly between 0 and 1.
pub fn check_split(fraction: f64) -> Result<f64> {
    if fraction > 0.0 && fraction < 1.0 {
        Ok(fraction)
    } else {
        Err(Error::input(
            "validation split",
            format!("expected a fraction between 0 and 1 (exclusive), found {fraction}"),
        ))
    }
}

/// What a caller asks of one `fit` (Keras' argument names; the JS package's camelCase ones
/// too): each `None` leaves the setting to the model's `compile_config`, else to Keras'
/// default. Numbers come as they were given (a JS number, a flag's value) and are checked by
/// [`FitConfig::resolve`], which names the setting when one is out of range.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct FitOptions {
    /// Passes over the training data (Keras' default 1).
    pub epochs: Option<f64>,
    /// Samples per step (Keras' default 32).
    pub batch_size: Option<f64>,
    /// Reshuffle the training data every epoch (default true).
    pub shuffle: Option<bool>,
    /// Seed for shuffling, dropout and initialisation (default 1337).
    pub seed: Option<f64>,
    /// `adam`, `sgd` or `rmsprop`, with Keras' default settings (default: the
    /// `compile_config`'s optimizer, else Adam).
    pub optimizer: Option<String>,
    /// The optimizer's learning rate (default: the optimizer's own).
    pub learning_rate: Option<f64>,
    /// The last fraction of the samples held out for validation, as `model.fit` takes it
    /// ([`crate::train::Dataset::holdout_tail`]); 0 or `None` holds out nothing.
    pub validation_split: Option<f64>,
}

/// `v` as a whole number of at least `min`, else an error naming `what`.
pub fn whole(what: &str, v: f64, min: u64) -> Result<u64> {
    if v.is_finite() && v.fract() == 0.0 && v >= min as f64 && v <= u64::MAX as f64 {
        Ok(v as u64)
    } else {
        Err(Error::input(
            what,
            format!("expected a whole number >= {min}, found {v}"),
        ))
    }
}

impl FitConfig {
    /// The one resolver of `fit`'s settings, for the CLI, the wasm API and the library's own
    /// recipes: `options` first, then `model`'s `compile_config` (its optimizer; its loss, or
    /// the loss its outputs call for: [`resolve_loss`]), then Keras' defaults; every value
    /// checked ([`FitConfig::validate`]). A learning rate given alone changes the optimizer's
    /// rate and keeps its other settings.
    pub fn resolve(model: &crate::Model, options: &FitOptions) -> Result<FitConfig> {
        let compile = compile_settings(model.spec.compile_config.as_ref())?;
        let mut cfg = FitConfig {
            loss: resolve_loss(model, compile.loss),
            ..FitConfig::default()
        };
        if let Some(v) = options.epochs {
            cfg.epochs = check_epochs(whole("epochs", v, 1)? as usize)?;
        }
        if let Some(v) = options.batch_size {
            cfg.batch_size = check_batch_size(whole("batch size", v, 1)? as usize)?;
        }
        if let Some(v) = options.shuffle {
            cfg.shuffle = v;
        }
        if let Some(v) = options.seed {
            cfg.seed = whole("seed", v, 0)?;
        }
        if let Some(o) = compile.optimizer {
            cfg.optimizer = o;
        }
        if let Some(name) = &options.optimizer {
            cfg.optimizer =
                OptimizerConfig::from_keras(&Value::String(name.clone())).ok_or_else(|| {
                    Error::input(
                        "optimizer",
                        format!("expected 'adam', 'sgd' or 'rmsprop', found '{name}'"),
                    )
                })?;
        }
        if let Some(lr) = options.learning_rate {
            cfg.optimizer = cfg.optimizer.with_learning_rate(check_learning_rate(lr)?);
        }
        if let Some(f) = options.validation_split.filter(|&f| f != 0.0) {
            check_split(f)?;
        }
        cfg.validate()?;
        Ok(cfg)
    }
}

impl FitConfig {
    /// Checks every setting's range: epochs, batch size, and the optimizer's learning rate
    /// and coefficients (finite; momentum and decay rates in [0, 1), epsilon positive).
    pub fn validate(&self) -> Result<()> {
        check_epochs(self.epochs)?;
        check_batch_size(self.batch_size)?;
        let unit = |name: &str, v: f64| -> Result<()> {
            if (0.0..1.0).contains(&v) {
                Ok(())
            } else {
                Err(Error::input(
                    "optimizer",
                    format!("{name} must be in [0, 1), found {v}"),
                ))
            }
        };
        let eps = |v: f64| -> Result<()> {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(Error::input(
                    "optimizer",
                    format!("epsilon must be a positive number, found {v}"),
                ))
            }
        };
        match self.optimizer {
            OptimizerConfig::Adam {
                learning_rate,
                beta_1,
                beta_2,
                epsilon,
            } => {
                check_learning_rate(learning_rate)?;
                unit("beta_1", beta_1)?;
                unit("beta_2", beta_2)?;
                eps(epsilon)
            }
            OptimizerConfig::Sgd {
                learning_rate,
                momentum,
                ..
            } => {
                check_learning_rate(learning_rate)?;
                unit("momentum", momentum)
            }
            OptimizerConfig::Rmsprop {
                learning_rate,
                rho,
                epsilon,
            } => {
                check_learning_rate(learning_rate)?;
                unit("rho", rho)?;
                eps(epsilon)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn compile_config_names_what_glimpse_cannot_train_with() {
        let s = compile_settings(Some(&json!({"optimizer": "sgd", "loss": "mse"}))).unwrap();
        assert!(matches!(s.optimizer, Some(OptimizerConfig::Sgd { .. })));
        assert_eq!(s.loss, Some(Loss::MeanSquaredError));
        let s = compile_settings(Some(&json!({"optimizer": {"class_name": "Adam",
            "config": {"learning_rate": 0.01}}, "loss": {"class_name": "CategoricalCrossentropy"}})))
        .unwrap();
        assert!(
            matches!(s.optimizer, Some(OptimizerConfig::Adam { learning_rate, .. }) if learning_rate == 0.01)
        );
        assert_eq!(s.loss, Some(Loss::CategoricalCrossentropy));
        let s = compile_settings(Some(&json!({"loss": {"module": "keras.losses",
            "class_name": "BinaryCrossentropy", "config": {"from_logits": true}}})))
        .unwrap();
        assert_eq!(s.loss, Some(Loss::BinaryCrossentropyLogits));
        assert_eq!(compile_settings(None).unwrap(), CompileSettings::default());
        assert_eq!(
            compile_settings(Some(&json!({"optimizer": null, "loss": null}))).unwrap(),
            CompileSettings::default()
        );
        let e = compile_settings(Some(&json!({"optimizer": "adamw"}))).unwrap_err();
        assert!(e.to_string().contains("'adamw'"), "{e}");
        let e = compile_settings(Some(&json!({"loss": "hinge"}))).unwrap_err();
        assert!(e.to_string().contains("'hinge'"), "{e}");
    }

    /// A small classifier whose file carries `compile` as its `compile_config`.
    fn classifier(compile: Option<Value>) -> crate::Model {
        use crate::keras::build;
        let json = build::sequential(
            "m",
            vec![build::input("x", &[4]), build::dense("out", 3, "softmax")],
        );
        let mut spec = crate::keras::parse_model(&json).unwrap();
        spec.compile_config = compile;
        crate::Model::from_spec_with(spec, &crate::default_device(), |_, _, p| {
            Ok(vec![0.0; p.size()])
        })
        .unwrap()
    }

    #[test]
    fn one_resolver_for_compile_config_cli_flags_and_js_options() {
        // The same request three ways: in the file, as the CLI's flags, as JS options.
        let from_file = FitConfig::resolve(
            &classifier(Some(json!({"optimizer": {"class_name": "SGD",
                "config": {"learning_rate": 0.05}}, "loss": "categorical_crossentropy"}))),
            &FitOptions {
                epochs: Some(3.0),
                batch_size: Some(8.0),
                ..FitOptions::default()
            },
        )
        .unwrap();
        let cli = FitOptions {
            epochs: Some(3.0),
            batch_size: Some(8.0),
            shuffle: Some(true),
            seed: Some(1337.0),
            optimizer: Some("sgd".into()),
            learning_rate: Some(0.05),
            validation_split: None,
        };
        let js: FitOptions = serde_json::from_value(json!({"epochs": 3, "batchSize": 8,
            "optimizer": "sgd", "learningRate": 0.05, "onEpochEnd": "a callback, ignored"}))
        .unwrap();
        let plain = classifier(None);
        let from_cli = FitConfig::resolve(&plain, &cli).unwrap();
        let from_js = FitConfig::resolve(&plain, &js).unwrap();
        assert_eq!(from_file, from_cli);
        assert_eq!(from_cli, from_js);
        assert_eq!(from_js.optimizer, OptimizerConfig::sgd(0.05, 0.0));
        assert_eq!((from_js.epochs, from_js.batch_size), (3, 8));
        assert_eq!(from_js.loss, Loss::CategoricalCrossentropy);
        // A learning rate alone keeps the file's optimizer and its other settings.
        let rms = classifier(Some(json!({"optimizer": {"class_name": "RMSprop",
            "config": {"learning_rate": 0.001, "rho": 0.8}}})));
        let c = FitConfig::resolve(
            &rms,
            &FitOptions {
                learning_rate: Some(0.01),
                ..FitOptions::default()
            },
        )
        .unwrap();
        assert!(
            matches!(c.optimizer, OptimizerConfig::Rmsprop { learning_rate, rho, .. }
                if learning_rate == 0.01 && rho == 0.8),
            "{c:?}"
        );
        // Defaults: Keras' (1 epoch, batch 32, Adam).
        assert_eq!(
            FitConfig::resolve(&plain, &FitOptions::default()).unwrap(),
            FitConfig::default()
        );
        // Out of range: named, whichever surface sent it.
        for (o, needle) in [
            (json!({"epochs": 1.5}), "epochs"),
            (json!({"batchSize": 0}), "batch size"),
            (json!({"seed": -1}), "seed"),
            (json!({"optimizer": "adamw"}), "'adamw'"),
            (json!({"learningRate": -1}), "learning rate"),
            (json!({"validationSplit": 1.5}), "validation split"),
        ] {
            let o: FitOptions = serde_json::from_value(o).unwrap();
            let e = FitConfig::resolve(&plain, &o).unwrap_err().to_string();
            assert!(e.contains(needle), "{o:?}: {e}");
        }
    }

    #[test]
    fn fit_settings_out_of_range_are_refused() {
        let ok = FitConfig::default();
        ok.validate().unwrap();
        for lr in [f64::NAN, f64::INFINITY, -1.0, 0.0, 1e30] {
            let mut c = ok.clone();
            c.optimizer = OptimizerConfig::sgd(lr, 0.0);
            let e = c.validate().unwrap_err();
            assert!(e.to_string().contains("learning rate"), "{lr}: {e}");
        }
        let mut c = ok.clone();
        c.epochs = usize::MAX;
        assert!(c.validate().unwrap_err().to_string().contains("epochs"));
        c.epochs = 0;
        assert!(c.validate().is_err());
        let mut c = ok.clone();
        c.batch_size = 0;
        assert!(c.validate().unwrap_err().to_string().contains("batch size"));
        let mut c = ok;
        c.optimizer = OptimizerConfig::sgd(0.01, 1.5);
        assert!(c.validate().unwrap_err().to_string().contains("momentum"));
        assert!(check_split(1.0).is_err() && check_split(f64::NAN).is_err());
        assert_eq!(check_split(0.2).unwrap(), 0.2);
    }
}
