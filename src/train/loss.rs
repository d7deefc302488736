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
        }
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
        }
    }
}

/// The predicted class of each row: argmax for several classes, p > 0.5 for one output.
pub fn predicted_class(pred: Tensor<2>) -> Tensor<1, Int> {
    let [n, c] = pred.dims();
    if c == 1 {
        pred.greater_elem(0.5).int().reshape([n])
    } else {
        pred.argmax(1).reshape([n])
    }
}

/// Number of correct predictions in the batch.
pub fn correct(pred: Tensor<2>, labels: Tensor<1, Int>) -> Tensor<1, Int> {
    predicted_class(pred).equal(labels).int().sum()
}
