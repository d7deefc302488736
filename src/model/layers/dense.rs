//! Dense: a matrix product over the last axis, for inputs of any rank.

use super::activation::Act;
use super::{BuildCtx, Built, Op, ParamSpec};
use crate::error::Result;
use crate::keras::DenseConfig;
use crate::model::axes::{from_keras_order, to_keras_order};
use burn::tensor::module::linear;
use burn::tensor::Tensor;

/// A Dense layer.
#[derive(Debug, Clone)]
pub struct Dense {
    /// Input features.
    pub units_in: usize,
    /// Output features.
    pub units: usize,
    /// Whether variable 1 is a bias.
    pub bias: bool,
    /// Fused activation.
    pub act: Act,
}

impl Dense {
    /// Runs it with `params` = [kernel `[in, out]`, bias?].
    pub fn forward(&self, x: Tensor<4>, params: &[Tensor<1>]) -> Tensor<4> {
        let [n, c, a, b] = x.dims();
        let w = params[0].clone().reshape([self.units_in, self.units]);
        let bias = if self.bias {
            Some(params[1].clone())
        } else {
            None
        };
        let y = if a == 1 && b == 1 {
            linear(x.reshape([n, c]), w, bias).reshape([n, self.units, 1, 1])
        } else {
            let rows = to_keras_order(x).reshape([n * a * b, c]);
            from_keras_order(linear(rows, w, bias).reshape([n, a, b, self.units]))
        };
        self.act.forward(y)
    }
}

/// Builds `Dense`.
pub fn build(ctx: &BuildCtx, c: &DenseConfig) -> Result<Built> {
    let s = ctx.one_input()?;
    let units_in = *s
        .last()
        .ok_or_else(|| ctx.shape_error("a tensor with features", "a scalar"))?;
    let mut out_shape = s.to_vec();
    *out_shape.last_mut().expect("non-empty") = c.units;
    let mut params = vec![ParamSpec::new("kernel", vec![units_in, c.units])];
    if c.use_bias {
        params.push(ParamSpec::new("bias", vec![c.units]));
    }
    Ok(Built {
        op: Op::Dense(Dense {
            units_in,
            units: c.units,
            bias: c.use_bias,
            act: Act::new(c.activation, ctx.flavor),
        }),
        out_shape,
        params,
    })
}
