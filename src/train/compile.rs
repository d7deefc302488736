//! The training settings a model file carries (Keras' `compile_config`), read strictly, and the
//! ranges every surface checks `fit`'s settings against.

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
