//! BatchNormalization, LayerNormalization, Normalization, Rescaling and LayerScale.

use super::{BuildCtx, Built, Op, ParamSpec};
use crate::error::Result;
use crate::keras::{
    BatchNormConfig, LayerNormConfig, LayerScaleConfig, NormalizationConfig, RescalingConfig,
    ScalarOrList,
};
use crate::model::axes::{from_keras_order, internal_axis};
use crate::model::cpu;
use burn::tensor::{DType, Tensor};
use serde_json::Value;

fn channels(ctx: &BuildCtx) -> Result<usize> {
    ctx.one_input()?
        .last()
        .copied()
        .ok_or_else(|| ctx.shape_error("a tensor with channels", "a scalar"))
}

fn per_channel(t: Tensor<1>) -> Tensor<4> {
    let c = t.dims()[0];
    t.reshape([1, c, 1, 1])
}

/// Batch normalization over the channel axis.
#[derive(Debug, Clone)]
pub struct BatchNorm {
    /// Whether there is a gamma.
    pub scale: bool,
    /// Whether there is a beta.
    pub center: bool,
    /// Added to the variance.
    pub epsilon: f64,
    /// Moving-average momentum.
    pub momentum: f64,
}

impl BatchNorm {
    /// Splits `params` into (gamma, beta, moving_mean, moving_variance).
    pub fn parts(
        &self,
        params: &[Tensor<1>],
    ) -> (Option<Tensor<1>>, Option<Tensor<1>>, Tensor<1>, Tensor<1>) {
        let mut i = 0;
        let mut next = |on: bool| {
            on.then(|| {
                i += 1;
                params[i - 1].clone()
            })
        };
        let gamma = next(self.scale);
        let beta = next(self.center);
        let mean = next(true).expect("moving_mean");
        let var = next(true).expect("moving_variance");
        (gamma, beta, mean, var)
    }

    /// Inference: `x * g / sqrt(var + eps) + (b - mean * g / sqrt(var + eps))`.
    pub fn forward(&self, x: Tensor<4>, params: &[Tensor<1>]) -> Tensor<4> {
        let (scale, shift) = self.affine(params);
        x * per_channel(scale) + per_channel(shift)
    }

    /// Inference as a per-channel affine map `x * scale + shift`.
    pub fn affine(&self, params: &[Tensor<1>]) -> (Tensor<1>, Tensor<1>) {
        let (gamma, beta, mean, var) = self.parts(params);
        let mut inv = var.add_scalar(self.epsilon).sqrt().recip();
        if let Some(g) = gamma {
            inv = inv * g;
        }
        let mut shift = mean.neg() * inv.clone();
        if let Some(b) = beta {
            shift = shift + b;
        }
        (inv, shift)
    }
}

impl BatchNorm {
    /// Training: normalizes with the batch's statistics and returns the new moving mean and
    /// variance (`moving * momentum + batch * (1 - momentum)`, biased variance, as Keras).
    pub fn forward_train(
        &self,
        x: Tensor<4>,
        params: &[Tensor<1>],
    ) -> (Tensor<4>, Tensor<1>, Tensor<1>) {
        let (gamma, beta, moving_mean, moving_var) = self.parts(params);
        let c = x.dims()[1];
        let mean = x.clone().mean_dim(0).mean_dim(2).mean_dim(3);
        let centered = x - mean.clone();
        let var = centered
            .clone()
            .square()
            .mean_dim(0)
            .mean_dim(2)
            .mean_dim(3);
        let mut y = centered * var.clone().add_scalar(self.epsilon).sqrt().recip();
        if let Some(g) = gamma {
            y = y * per_channel(g);
        }
        if let Some(b) = beta {
            y = y + per_channel(b);
        }
        let m = self.momentum;
        let batch_mean = mean.detach().reshape([c]).inner();
        let batch_var = var.detach().reshape([c]).inner();
        let new_mean = moving_mean.inner().mul_scalar(m) + batch_mean.mul_scalar(1.0 - m);
        let new_var = moving_var.inner().mul_scalar(m) + batch_var.mul_scalar(1.0 - m);
        (y, new_mean, new_var)
    }

    /// Index of the moving mean among the layer's variables (the variance follows it).
    pub fn moving_index(&self) -> usize {
        usize::from(self.scale) + usize::from(self.center)
    }
}

/// Builds `BatchNormalization` (channel axis only).
pub fn build_batch_norm(ctx: &BuildCtx, c: &BatchNormConfig) -> Result<Built> {
    let s = ctx.one_input()?;
    if c.axis.0.len() != 1 || internal_axis(c.axis.0[0], s.len(), &ctx.context())? != 1 {
        return Err(ctx.unsupported(format!(
            "axis={:?}: only the channel (last) axis is supported",
            c.axis.0
        )));
    }
    let ch = channels(ctx)?;
    let mut params = Vec::new();
    if c.scale {
        params.push(ParamSpec::new("gamma", vec![ch]));
    }
    if c.center {
        params.push(ParamSpec::new("beta", vec![ch]));
    }
    params.push(ParamSpec::new("moving_mean", vec![ch]).frozen());
    params.push(ParamSpec::new("moving_variance", vec![ch]).frozen());
    Ok(Built {
        op: Op::BatchNorm(BatchNorm {
            scale: c.scale,
            center: c.center,
            epsilon: c.epsilon,
            momentum: c.momentum,
        }),
        out_shape: s.to_vec(),
        params,
    })
}

/// Layer normalization over one or more axes.
#[derive(Debug, Clone)]
pub struct LayerNorm {
    /// Internal axes normalized over.
    pub axes: Vec<usize>,
    /// Keras-order broadcast shape of gamma/beta `[1, s1, s2, C]`.
    pub param_shape: [usize; 4],
    /// Added to the variance.
    pub epsilon: f64,
    /// Whether there is a gamma.
    pub scale: bool,
    /// Whether there is a beta.
    pub center: bool,
}

impl LayerNorm {
    /// `(x - mean) / sqrt(var + eps) * gamma + beta` over the axes.
    pub fn forward(&self, x: Tensor<4>, params: &[Tensor<1>]) -> Tensor<4> {
        let mut mean = x.clone();
        for &a in &self.axes {
            mean = mean.mean_dim(a);
        }
        let centered = x - mean;
        let mut var = centered.clone().square();
        for &a in &self.axes {
            var = var.mean_dim(a);
        }
        let mut y = centered * var.add_scalar(self.epsilon).sqrt().recip();
        let mut i = 0;
        if self.scale {
            y = y * from_keras_order(params[i].clone().reshape(self.param_shape));
            i += 1;
        }
        if self.center {
            y = y + from_keras_order(params[i].clone().reshape(self.param_shape));
        }
        y
    }
}

/// Builds `LayerNormalization`.
pub fn build_layer_norm(ctx: &BuildCtx, c: &LayerNormConfig) -> Result<Built> {
    if c.rms_scaling {
        return Err(ctx.unsupported("rms_scaling=True"));
    }
    let s = ctx.one_input()?;
    let rank = s.len();
    let mut keras_axes = Vec::new();
    for &a in &c.axis.0 {
        let k = if a < 0 { rank as i64 + 1 + a } else { a };
        if k <= 0 || k > rank as i64 {
            return Err(ctx.unsupported(format!("axis {a} (the batch axis or out of range)")));
        }
        keras_axes.push(k as usize);
    }
    keras_axes.sort_unstable();
    keras_axes.dedup();
    let axes = keras_axes
        .iter()
        .map(|&k| internal_axis(k as i64, rank, &ctx.context()))
        .collect::<Result<Vec<_>>>()?;
    let pshape: Vec<usize> = keras_axes.iter().map(|&k| s[k - 1]).collect();
    // Keras-order [1, s1, s2, C] with 1 on the axes that are not normalized.
    let mut ko = [1usize; 4];
    for &k in &keras_axes {
        let pos = if k == rank { 3 } else { k };
        ko[pos] = s[k - 1];
    }
    let mut params = Vec::new();
    if c.scale {
        params.push(ParamSpec::new("gamma", pshape.clone()));
    }
    if c.center {
        params.push(ParamSpec::new("beta", pshape));
    }
    Ok(Built {
        op: Op::LayerNorm(LayerNorm {
            axes,
            param_shape: ko,
            epsilon: c.epsilon,
            scale: c.scale,
            center: c.center,
        }),
        out_shape: s.to_vec(),
        params,
    })
}

/// The `Normalization` preprocessing layer: `(x - mean) / max(sqrt(var), 1e-7)`.
#[derive(Debug, Clone)]
pub struct Normalization {
    /// Undo instead.
    pub invert: bool,
    /// Mean and variance from the config (then the layer has no variables).
    pub fixed: Option<(Vec<f32>, Vec<f32>)>,
}

const KERAS_EPSILON: f64 = 1e-7;

impl Normalization {
    /// Runs it with `params` = [mean, variance, count] unless the statistics are fixed.
    pub fn forward(&self, x: Tensor<4>, params: &[Tensor<1>]) -> Tensor<4> {
        let (mean, var) = match &self.fixed {
            Some((m, v)) => {
                let dev = x.device();
                (
                    Tensor::<1>::from_floats(m.as_slice(), &dev),
                    Tensor::<1>::from_floats(v.as_slice(), &dev),
                )
            }
            None => (params[0].clone(), params[1].clone()),
        };
        let std = per_channel(var.sqrt().clamp_min(KERAS_EPSILON));
        let mean = per_channel(mean);
        if self.invert {
            mean + x * std
        } else {
            (x - mean) / std
        }
    }
}

fn floats(v: &Value, n: usize) -> Option<Vec<f32>> {
    match v {
        Value::Number(x) => Some(vec![x.as_f64()? as f32; n]),
        Value::Array(a) => {
            let flat: Vec<f32> = a
                .iter()
                .flat_map(|x| match x {
                    Value::Array(inner) => inner.clone(),
                    other => vec![other.clone()],
                })
                .filter_map(|x| x.as_f64().map(|f| f as f32))
                .collect();
            match flat.len() {
                1 => Some(vec![flat[0]; n]),
                l if l == n => Some(flat),
                _ => None,
            }
        }
        _ => None,
    }
}

/// Builds `Normalization` (statistics per channel, i.e. `axis=-1`).
pub fn build_normalization(ctx: &BuildCtx, c: &NormalizationConfig) -> Result<Built> {
    let s = ctx.one_input()?;
    let ch = channels(ctx)?;
    let axes = &c.axis.0;
    if axes.len() != 1 || internal_axis(axes[0], s.len(), &ctx.context())? != 1 {
        return Err(ctx.unsupported(format!(
            "axis={axes:?}: only per-channel (last axis) statistics are supported"
        )));
    }
    let fixed = match (&c.mean, &c.variance) {
        (Some(m), Some(v)) if !m.is_null() && !v.is_null() => {
            Some(floats(m, ch).zip(floats(v, ch)).ok_or_else(|| {
                ctx.unsupported("mean/variance in the config must be numbers or per-channel lists")
            })?)
        }
        _ => None,
    };
    let params = if fixed.is_some() {
        vec![]
    } else {
        vec![
            ParamSpec::new("mean", vec![ch]).frozen(),
            ParamSpec::new("variance", vec![ch]).frozen(),
            ParamSpec::new("count", vec![]).frozen(),
        ]
    };
    Ok(Built {
        op: Op::Normalization(Normalization {
            invert: c.invert,
            fixed,
        }),
        out_shape: s.to_vec(),
        params,
    })
}

/// `x * scale + offset`, each a scalar or per channel.
#[derive(Debug, Clone)]
pub struct Rescaling {
    /// Multiplier(s).
    pub scale: ScalarOrList,
    /// Offset(s).
    pub offset: ScalarOrList,
}

impl Rescaling {
    /// Rescales.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let dev = x.device();
        let [_, c, h, w] = x.dims();
        if cpu::on_plain_cpu(&x) && x.dtype() == DType::F32 && c > 0 && h * w > 0 {
            let list = |v: &ScalarOrList| match v {
                ScalarOrList::Scalar(s) => vec![*s as f32],
                ScalarOrList::List(l) => l.iter().map(|&f| f as f32).collect(),
            };
            return cpu::rescale(x, &list(&self.scale), &list(&self.offset));
        }
        let vec = |v: &[f64]| {
            per_channel(Tensor::<1>::from_floats(
                v.iter().map(|&f| f as f32).collect::<Vec<_>>().as_slice(),
                &dev,
            ))
        };
        let x = match &self.scale {
            ScalarOrList::Scalar(s) => x.mul_scalar(*s),
            ScalarOrList::List(v) => x * vec(v),
        };
        match &self.offset {
            ScalarOrList::Scalar(o) if *o == 0.0 => x,
            ScalarOrList::Scalar(o) => x.add_scalar(*o),
            ScalarOrList::List(v) => x + vec(v),
        }
    }
}

/// Builds `Rescaling`.
pub fn build_rescaling(ctx: &BuildCtx, c: &RescalingConfig) -> Result<Built> {
    let ch = channels(ctx)?;
    for v in [&c.scale, &c.offset] {
        if let ScalarOrList::List(l) = v {
            if l.len() != ch && l.len() != 1 {
                return Err(ctx.shape_error(
                    format!("1 or {ch} scale/offset values"),
                    l.len().to_string(),
                ));
            }
        }
    }
    let norm = |v: &ScalarOrList| match v {
        ScalarOrList::List(l) if l.len() == 1 => ScalarOrList::Scalar(l[0]),
        other => other.clone(),
    };
    Ok(Built {
        op: Op::Rescaling(Rescaling {
            scale: norm(&c.scale),
            offset: norm(&c.offset),
        }),
        out_shape: ctx.one_input()?.to_vec(),
        params: vec![],
    })
}

/// Builds `LayerScale`: `x * gamma` per channel.
pub fn build_layer_scale(ctx: &BuildCtx, c: &LayerScaleConfig) -> Result<Built> {
    let ch = channels(ctx)?;
    if let Some(p) = c.projection_dim {
        if p != ch {
            return Err(ctx.shape_error(format!("{p} channels (projection_dim)"), ch.to_string()));
        }
    }
    Ok(Built {
        op: Op::LayerScale,
        out_shape: ctx.one_input()?.to_vec(),
        params: vec![ParamSpec::new("gamma", vec![ch])],
    })
}
