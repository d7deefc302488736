//! Activation functions exactly as Keras defines them, and the ReLU family of layers.

use super::{BuildCtx, Built, Op, ParamSpec};
use crate::error::Result;
use crate::keras::{Activation, KerasFlavor, PReluConfig};
use crate::model::axes::{from_keras_order, internal_dims};
use burn::tensor::{activation as F, Tensor};

/// An activation function with the Keras semantics it was saved under.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Act {
    /// Which function.
    pub kind: Activation,
    /// Which Keras (hard_sigmoid differs between 2 and 3).
    pub flavor: KerasFlavor,
    /// ELU's alpha.
    pub alpha: f64,
}

const SELU_ALPHA: f64 = 1.673_263_242_354_377_3;
const SELU_SCALE: f64 = 1.050_700_987_355_480_5;

impl Act {
    /// `kind` under `flavor`.
    pub fn new(kind: Activation, flavor: KerasFlavor) -> Self {
        Act {
            kind,
            flavor,
            alpha: 1.0,
        }
    }
    /// The identity.
    pub fn linear() -> Self {
        Act::new(Activation::Linear, KerasFlavor::Keras3)
    }
    /// ELU with `alpha` (the ELU layer).
    pub fn elu(alpha: f64) -> Self {
        Act {
            kind: Activation::Elu,
            flavor: KerasFlavor::Keras3,
            alpha,
        }
    }

    /// `Some((lo, hi))` when the function is `clamp(x, lo, hi)` (ReLU, ReLU6), which a
    /// convolution's CPU kernel can apply as it writes its output.
    pub fn clip_range(&self) -> Option<(f32, f32)> {
        match self.kind {
            Activation::Relu => Some((0.0, f32::INFINITY)),
            Activation::Relu6 => Some((0.0, 6.0)),
            _ => None,
        }
    }

    /// Applies the function element-wise (softmax: over the channel axis).
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        match self.kind {
            Activation::Linear => x,
            Activation::Relu => F::relu(x),
            Activation::Relu6 => clip(x, 0.0, 6.0),
            Activation::Sigmoid => F::sigmoid(x),
            Activation::HardSigmoid => hard_sigmoid(x, self.flavor),
            Activation::Tanh => x.tanh(),
            Activation::Softmax => F::softmax(x, 1),
            Activation::Swish => x.clone() * F::sigmoid(x),
            Activation::Elu => elu(x, self.alpha),
            Activation::Selu => elu(x, SELU_ALPHA).mul_scalar(SELU_SCALE),
            Activation::Gelu => F::gelu(x),
            Activation::Softplus => {
                // Stable: max(x, 0) + log1p(exp(-|x|)).
                let neg_abs = x.clone().abs().neg();
                F::relu(x) + neg_abs.exp().log1p()
            }
            Activation::HardSilu => x.clone() * hard_sigmoid(x, KerasFlavor::Keras3),
            Activation::Softsign => x.clone() / (x.abs().add_scalar(1.0)),
            Activation::Exponential => x.exp(),
        }
    }
}

/// `clamp(x, lo, hi)` for a [`Act::clip_range`] / [`Relu::clip_range`]: an infinite `hi` is a
/// ReLU.
pub(crate) fn clip_range(x: Tensor<4>, (lo, hi): (f32, f32)) -> Tensor<4> {
    if lo == 0.0 && hi == f32::INFINITY {
        F::relu(x)
    } else {
        clip(x, lo.into(), hi.into())
    }
}

/// `clamp(x, lo, hi)`, fast on every backend. Native inference on the CPU clamps in place in
/// one pass ([`crate::model::cpu::clamp`]). Otherwise on the CPU burn flex's `clamp_min` /
/// `clamp_max`: its `clamp` is a scalar loop with NaN checks per element, ~3.5x slower than the
/// two vector passes (measured on 1.2 M values). On a GPU one kernel beats two.
pub(crate) fn clip(x: Tensor<4>, lo: f64, hi: f64) -> Tensor<4> {
    if crate::model::cpu::can_clamp(&x) {
        crate::model::cpu::clamp(x, lo as f32, hi as f32)
    } else if crate::model::cpu::is_cpu(&x.device()) {
        x.clamp_min(lo).clamp_max(hi)
    } else {
        x.clamp(lo, hi)
    }
}

fn hard_sigmoid(x: Tensor<4>, flavor: KerasFlavor) -> Tensor<4> {
    match flavor {
        // Keras 3: relu6(x + 3) / 6
        KerasFlavor::Keras3 => clip(x.div_scalar(6.0).add_scalar(0.5), 0.0, 1.0),
        // tf.keras 2: clip(0.2 x + 0.5, 0, 1)
        KerasFlavor::Keras2 => clip(x.mul_scalar(0.2).add_scalar(0.5), 0.0, 1.0),
    }
}

fn elu(x: Tensor<4>, alpha: f64) -> Tensor<4> {
    let neg = x
        .clone()
        .clamp_max(0.0)
        .exp()
        .sub_scalar(1.0)
        .mul_scalar(alpha);
    x.clamp_min(0.0) + neg
}

/// Keras' `ReLU(max_value, negative_slope, threshold)` (and `LeakyReLU`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Relu {
    /// Upper clip.
    pub max_value: Option<f64>,
    /// Slope below the threshold.
    pub negative_slope: f64,
    /// Threshold.
    pub threshold: f64,
}

impl Relu {
    /// `Some((0, max_value))` when the layer is a plain clamp (no slope, no threshold).
    pub fn clip_range(&self) -> Option<(f32, f32)> {
        (self.negative_slope == 0.0 && self.threshold == 0.0)
            .then(|| (0.0, self.max_value.map_or(f32::INFINITY, |m| m as f32)))
    }

    /// `clip(x * (x > t), 0, max) - slope * relu(t - x)`, which is what Keras computes.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let t = self.threshold;
        let neg = if self.negative_slope != 0.0 {
            Some(F::relu(x.clone().neg().add_scalar(t)).mul_scalar(self.negative_slope))
        } else {
            None
        };
        let mut pos = if t != 0.0 {
            let mask = x.clone().lower_equal_elem(t);
            x.mask_fill(mask, 0.0)
        } else {
            F::relu(x)
        };
        if let Some(m) = self.max_value {
            pos = clip(pos, 0.0, m);
        }
        match neg {
            Some(n) => pos - n,
            None => pos,
        }
    }
}

/// PReLU: `max(x, 0) + alpha * min(x, 0)` with a learned slope per value, shared along
/// `shared_axes`.
#[derive(Debug, Clone)]
pub struct PRelu {
    /// The slope's shape in Keras order `[s1, s2, C]` (padded like the input, 1 on shared axes).
    pub keras_order: [usize; 3],
}

impl PRelu {
    /// Runs it with the slope `alpha` (Keras layout, flattened).
    pub fn forward(&self, x: Tensor<4>, alpha: &Tensor<1>) -> Tensor<4> {
        let [a, b, c] = self.keras_order;
        let alpha = from_keras_order(alpha.clone().reshape([1, a, b, c]));
        x.clone().clamp_min(0.0) + x.clamp_max(0.0) * alpha
    }
}

/// Builds `PReLU`: `alpha` has the input's shape with 1 on each shared axis.
pub fn build_prelu(ctx: &BuildCtx, c: &PReluConfig) -> Result<Built> {
    let s = ctx.one_input()?;
    let mut alpha = s.to_vec();
    for &axis in c.shared_axes.as_ref().map_or(&[][..], |a| a.0.as_slice()) {
        // Keras counts the batch as axis 0 and takes negative axes from the end.
        let k = if axis < 0 {
            s.len() as i64 + 1 + axis
        } else {
            axis
        };
        if k < 1 || k > s.len() as i64 {
            return Err(ctx.unsupported(format!(
                "shared_axes entry {axis} for an input of rank {}",
                s.len() + 1
            )));
        }
        alpha[k as usize - 1] = 1;
    }
    let [ch, a, b] = internal_dims(&alpha, &ctx.context())?;
    Ok(Built {
        op: Op::PRelu(PRelu {
            keras_order: [a, b, ch],
        }),
        out_shape: s.to_vec(),
        params: vec![ParamSpec::new("alpha", alpha)],
    })
}
