//! Keras' losses and the accuracy metric, on `[N, C]` predictions.

use burn::tensor::{Int, Tensor};
use serde::{Deserialize, Serialize};

const EPSILON: f64 = 1e-7;

/// A loss function, as named in `model.compile(loss=...)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Loss {
    /// Cross-entropy against one-hot targets, from probabilities.
    CategoricalCrossentropy,
    /// Cross-entropy against class indices, from probabilities.
    SparseCategoricalCrossentropy,
    /// Binary cross-entropy, from probabilities.
    BinaryCrossentropy,
    /// Mean squared error.
    MeanSquaredError,
    /// Categorical (or sparse categorical) cross-entropy from logits (`from_logits=True`).
    CategoricalCrossentropyLogits,
    /// Binary cross-entropy from logits (`from_logits=True`, Keras' transfer-learning
    /// tutorial).
    BinaryCrossentropyLogits,
}

impl Loss {
    /// Parses a Keras loss name.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "categorical_crossentropy" | "CategoricalCrossentropy" => Self::CategoricalCrossentropy,
            "sparse_categorical_crossentropy" | "SparseCategoricalCrossentropy" => {
                Self::SparseCategoricalCrossentropy
            }
            "binary_crossentropy" | "BinaryCrossentropy" => Self::BinaryCrossentropy,
            "mse" | "mean_squared_error" | "MeanSquaredError" => Self::MeanSquaredError,
            _ => return None,
        })
    }

    /// The Keras name.
    pub fn name(self) -> &'static str {
        match self {
            Self::CategoricalCrossentropy => "categorical_crossentropy",
            Self::SparseCategoricalCrossentropy => "sparse_categorical_crossentropy",
            Self::BinaryCrossentropy => "binary_crossentropy",
            Self::MeanSquaredError => "mean_squared_error",
            Self::CategoricalCrossentropyLogits => "categorical_crossentropy (from logits)",
            Self::BinaryCrossentropyLogits => "binary_crossentropy (from logits)",
        }
    }

    /// This loss with `from_logits=True` (the cross-entropies), or itself.
    pub fn from_logits(self) -> Self {
        match self {
            Self::CategoricalCrossentropy | Self::SparseCategoricalCrossentropy => {
                Self::CategoricalCrossentropyLogits
            }
            Self::BinaryCrossentropy => Self::BinaryCrossentropyLogits,
            other => other,
        }
    }

    /// Whether the predictions are logits (a class is predicted at logit 0, not 0.5).
    pub fn takes_logits(self) -> bool {
        matches!(
            self,
            Self::CategoricalCrossentropyLogits | Self::BinaryCrossentropyLogits
        )
    }

    /// The batch-mean loss of predictions `pred` `[N, C]` against `target` `[N, C]` (one-hot
    /// for the categorical losses, 0/1 for binary with C = 1).
    pub fn compute(self, pred: Tensor<2>, target: Tensor<2>) -> Tensor<1> {
        match self {
            Self::CategoricalCrossentropy | Self::SparseCategoricalCrossentropy => {
                let p = pred.clone() / pred.sum_dim(1);
                let p = p.clamp(EPSILON, 1.0 - EPSILON);
                (target * p.log()).sum_dim(1).neg().mean()
            }
            Self::BinaryCrossentropy => {
                let p = pred.clamp(EPSILON, 1.0 - EPSILON);
                let pos = target.clone() * p.clone().add_scalar(EPSILON).log();
                let neg = target.neg().add_scalar(1.0) * p.neg().add_scalar(1.0 + EPSILON).log();
                (pos + neg).mean_dim(1).neg().mean()
            }
            Self::MeanSquaredError => (pred - target).square().mean_dim(1).mean(),
            Self::CategoricalCrossentropyLogits => {
                let logp = burn::tensor::activation::log_softmax(pred, 1);
                (target * logp).sum_dim(1).neg().mean()
            }
            Self::BinaryCrossentropyLogits => {
                // max(x, 0) - x z + log(1 + exp(-|x|)), as Keras computes it.
                let soft = pred.clone().abs().neg().exp().add_scalar(1.0).log();
                let l = pred.clone().clamp_min(0.0) - pred * target + soft;
                l.mean_dim(1).mean()
            }
        }
    }
}

/// The predicted class of each row: argmax for several classes, p > 0.5 for one output
/// (logit > 0 when `logits`).
pub fn predicted_class(pred: Tensor<2>, logits: bool) -> Tensor<1, Int> {
    let [n, c] = pred.dims();
    if c == 1 {
        pred.greater_elem(if logits { 0.0 } else { 0.5 })
            .int()
            .reshape([n])
    } else {
        pred.argmax(1).reshape([n])
    }
}

/// Number of correct predictions in the batch.
pub fn correct(pred: Tensor<2>, labels: Tensor<1, Int>, logits: bool) -> Tensor<1, Int> {
    predicted_class(pred, logits).equal(labels).int().sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    fn t(v: &[f32], c: usize) -> Tensor<2> {
        Tensor::from_data(
            TensorData::new(v.to_vec(), [v.len() / c, c]),
            &Device::flex(),
        )
    }

    fn scalar(x: Tensor<1>) -> f32 {
        x.into_data().try_into_vec::<f32>().unwrap()[0]
    }

    /// From logits, the cross-entropies equal the probability forms on softmax / sigmoid of
    /// the logits (and stay finite where the probabilities would saturate).
    #[test]
    fn logit_losses_match_the_probability_forms() {
        let logits = [2.0f32, -1.0, 0.5, -3.0, 0.1, 4.0];
        let target = [1.0f32, 0.0, 0.0, 0.0, 0.0, 1.0];
        let probs: Vec<f32> = logits
            .chunks(3)
            .flat_map(|r| {
                let s: f32 = r.iter().map(|v| v.exp()).sum();
                r.iter().map(move |v| v.exp() / s).collect::<Vec<_>>()
            })
            .collect();
        let a = scalar(Loss::CategoricalCrossentropyLogits.compute(t(&logits, 3), t(&target, 3)));
        let b = scalar(Loss::CategoricalCrossentropy.compute(t(&probs, 3), t(&target, 3)));
        assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        let z = [1.0f32, 0.0, 1.0, 0.0, 1.0, 0.0];
        let sig: Vec<f32> = logits.iter().map(|x| 1.0 / (1.0 + (-x).exp())).collect();
        let a = scalar(Loss::BinaryCrossentropyLogits.compute(t(&logits, 1), t(&z, 1)));
        let b = scalar(Loss::BinaryCrossentropy.compute(t(&sig, 1), t(&z, 1)));
        assert!((a - b).abs() < 1e-4, "{a} vs {b}");
        let big = scalar(Loss::BinaryCrossentropyLogits.compute(t(&[100.0], 1), t(&[0.0], 1)));
        assert!((big - 100.0).abs() < 1e-3, "{big}");
        assert_eq!(
            Loss::SparseCategoricalCrossentropy.from_logits(),
            Loss::CategoricalCrossentropyLogits
        );
    }
}
