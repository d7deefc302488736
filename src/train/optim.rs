//! Keras' optimizers, update rule for update rule (Keras 3 `keras.optimizers`).

use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

/// An optimizer and its hyper-parameters (Keras defaults).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "lowercase")]
pub enum OptimizerConfig {
    /// Adam: lr 1e-3, beta 0.9 / 0.999, epsilon 1e-7.
    Adam {
        /// Learning rate.
        learning_rate: f64,
        /// First-moment decay.
        beta_1: f64,
        /// Second-moment decay.
        beta_2: f64,
        /// Added to the denominator.
        epsilon: f64,
    },
    /// SGD with optional (Nesterov) momentum: lr 1e-2.
    Sgd {
        /// Learning rate.
        learning_rate: f64,
        /// Momentum (0: plain SGD).
        momentum: f64,
        /// Nesterov momentum.
        nesterov: bool,
    },
    /// RMSprop: lr 1e-3, rho 0.9, epsilon 1e-7.
    Rmsprop {
        /// Learning rate.
        learning_rate: f64,
        /// Decay of the squared-gradient average.
        rho: f64,
        /// Added under the square root.
        epsilon: f64,
    },
}

impl OptimizerConfig {
    /// The same optimizer with `learning_rate` (its other settings kept).
    pub fn with_learning_rate(mut self, lr: f64) -> Self {
        match &mut self {
            OptimizerConfig::Adam { learning_rate, .. }
            | OptimizerConfig::Sgd { learning_rate, .. }
            | OptimizerConfig::Rmsprop { learning_rate, .. } => *learning_rate = lr,
        }
        self
    }

    /// Keras' `Adam()`.
    pub fn adam() -> Self {
        OptimizerConfig::Adam {
            learning_rate: 1e-3,
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-7,
        }
    }
    /// Keras' `SGD()` with a momentum.
    pub fn sgd(learning_rate: f64, momentum: f64) -> Self {
        OptimizerConfig::Sgd {
            learning_rate,
            momentum,
            nesterov: false,
        }
    }
    /// Keras' `RMSprop()`.
    pub fn rmsprop() -> Self {
        OptimizerConfig::Rmsprop {
            learning_rate: 1e-3,
            rho: 0.9,
            epsilon: 1e-7,
        }
    }

    /// Reads a Keras `compile_config["optimizer"]` entry (a name or a serialized optimizer).
    pub fn from_keras(v: &serde_json::Value) -> Option<Self> {
        let (name, cfg) = match v {
            serde_json::Value::String(s) => (s.to_lowercase(), serde_json::Value::Null),
            serde_json::Value::Object(o) => (
                o.get("class_name")
                    .and_then(|c| c.as_str())
                    .unwrap_or("")
                    .to_lowercase(),
                o.get("config").cloned().unwrap_or_default(),
            ),
            _ => return None,
        };
        let f = |k: &str, d: f64| cfg.get(k).and_then(|x| x.as_f64()).unwrap_or(d);
        Some(match name.as_str() {
            "adam" => OptimizerConfig::Adam {
                learning_rate: f("learning_rate", 1e-3),
                beta_1: f("beta_1", 0.9),
                beta_2: f("beta_2", 0.999),
                epsilon: f("epsilon", 1e-7),
            },
            "sgd" => OptimizerConfig::Sgd {
                learning_rate: f("learning_rate", 1e-2),
                momentum: f("momentum", 0.0),
                nesterov: cfg
                    .get("nesterov")
                    .and_then(|x| x.as_bool())
                    .unwrap_or(false),
            },
            "rmsprop" | "rm_sprop"
                if f("momentum", 0.0) == 0.0
                    && !cfg
                        .get("centered")
                        .and_then(|x| x.as_bool())
                        .unwrap_or(false) =>
            {
                OptimizerConfig::Rmsprop {
                    learning_rate: f("learning_rate", 1e-3),
                    rho: f("rho", 0.9),
                    epsilon: f("epsilon", 1e-7),
                }
            }
            _ => return None,
        })
    }
}

/// Per-variable optimizer state: the first slot (momentum / m / velocity) and, for Adam, v.
type Slots = (Tensor<1>, Option<Tensor<1>>);

/// An optimizer with its per-variable state.
#[derive(Debug)]
pub struct Optimizer {
    /// The rule.
    pub config: OptimizerConfig,
    /// Steps taken.
    pub iterations: u64,
    state: Vec<Vec<Option<Slots>>>,
}

impl Optimizer {
    /// A fresh optimizer for variables laid out as `shape` (variables per layer).
    pub fn new(config: OptimizerConfig, shape: &[usize]) -> Self {
        Optimizer {
            config,
            iterations: 0,
            state: shape.iter().map(|&n| vec![None; n]).collect(),
        }
    }

    /// Starts a step (Keras increments `iterations` once per batch).
    pub fn begin_step(&mut self) {
        self.iterations += 1;
    }

    /// Returns the new value of variable (`layer`, `var`) given its gradient.
    pub fn update(
        &mut self,
        layer: usize,
        var: usize,
        value: Tensor<1>,
        grad: Tensor<1>,
    ) -> Tensor<1> {
        let slot = &mut self.state[layer][var];
        match self.config {
            OptimizerConfig::Adam {
                learning_rate,
                beta_1,
                beta_2,
                epsilon,
            } => {
                let t = self.iterations as i32;
                let (m, v) = match slot.take() {
                    Some((m, Some(v))) => (m, v),
                    _ => (grad.zeros_like(), grad.zeros_like()),
                };
                // m += (g - m) * (1 - b1); v += (g^2 - v) * (1 - b2)
                let m = m.clone() + (grad.clone() - m).mul_scalar(1.0 - beta_1);
                let v = v.clone() + (grad.square() - v).mul_scalar(1.0 - beta_2);
                let alpha = learning_rate * (1.0 - beta_2.powi(t)).sqrt() / (1.0 - beta_1.powi(t));
                let new =
                    value - (m.clone().mul_scalar(alpha)) / (v.clone().sqrt().add_scalar(epsilon));
                *slot = Some((m, Some(v)));
                new
            }
            OptimizerConfig::Sgd {
                learning_rate,
                momentum,
                nesterov,
            } => {
                if momentum == 0.0 {
                    return value - grad.mul_scalar(learning_rate);
                }
                let m = match slot.take() {
                    Some((m, _)) => m,
                    None => grad.zeros_like(),
                };
                // m = momentum * m - lr * g; w += m (Nesterov: w += momentum * m - lr * g)
                let m = m.mul_scalar(momentum) - grad.clone().mul_scalar(learning_rate);
                let new = if nesterov {
                    value + m.clone().mul_scalar(momentum) - grad.mul_scalar(learning_rate)
                } else {
                    value + m.clone()
                };
                *slot = Some((m, None));
                new
            }
            OptimizerConfig::Rmsprop {
                learning_rate,
                rho,
                epsilon,
            } => {
                let vel = match slot.take() {
                    Some((v, _)) => v,
                    None => grad.zeros_like(),
                };
                let vel = vel.mul_scalar(rho) + grad.clone().square().mul_scalar(1.0 - rho);
                let new =
                    value - grad.mul_scalar(learning_rate) / vel.clone().add_scalar(epsilon).sqrt();
                *slot = Some((vel, None));
                new
            }
        }
    }
}
