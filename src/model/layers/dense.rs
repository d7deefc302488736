//! Dense: a matrix product over the last axis, for inputs of any rank.

use super::activation::Act;
use super::conv::ConvWeights;
use super::{BuildCtx, Built, Op, ParamSpec};
use crate::error::Result;
use crate::keras::DenseConfig;
use crate::model::axes::{from_keras_order, to_keras_order};
use crate::model::cpu;
use burn::tensor::module::linear;
use burn::tensor::{DType, Tensor, TensorData};
use glimpse_kernels::gemm::PackedWeights;

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

    /// Whether inference on `x` can take [`Dense::forward_packed`]: `x` is `f32` on the plain
    /// CPU, one feature vector per image (`[n, units_in, 1, 1]`, after a global pooling or a
    /// flattening).
    pub fn can_prepare(&self, x: &Tensor<4>) -> bool {
        let [_, c, a, b] = x.dims();
        cpu::on_plain_cpu(x)
            && x.dtype() == DType::F32
            && [c, a, b] == [self.units_in, 1, 1]
            && self.units > 0
            && self.units_in > 0
    }

    /// The kernel packed for Glimpse's matrix product (`[units, units_in]`, one row per unit),
    /// and the bias (zeros when the layer has none); `params` on the plain CPU.
    pub fn prepare(&self, params: &[Tensor<1>]) -> ConvWeights {
        // Keras' kernel is [units_in, units]: the transpose of rows of units.
        let kernel = cpu::host_values(params[0].clone());
        let bias = if self.bias {
            cpu::host_values(params[1].clone())
        } else {
            vec![0.0; self.units]
        };
        ConvWeights::Packed {
            weight: PackedWeights::from_columns(&kernel, self.units, self.units_in),
            bias,
        }
    }

    /// Inference with the packed weights from [`Dense::prepare`] (checked by [`Dense::can_prepare`]):
    /// the product of `[units, units_in]` and the batch's feature vectors on Glimpse's matrix
    /// product, which shares the units out over the kernels' threads (burn's CPU `linear` is
    /// one thread in the browser), a ReLU fused into it.
    pub fn forward_packed(&self, x: Tensor<4>, weight: &PackedWeights, bias: &[f32]) -> Tensor<4> {
        let device = x.device();
        let n = x.dims()[0];
        let (depth, units) = (self.units_in, self.units);
        let xs = cpu::host_values(x);
        // The product reads [depth, n]: the batch's vectors as columns.
        let cols = transpose(xs, n, depth);
        let clip = self.act.clip_range();
        let mut out: Vec<f32> = Vec::with_capacity(units * n);
        let parallel = n < glimpse_kernels::pool::threads();
        glimpse_kernels::gemm::gemm_bias_clip(
            weight,
            &cols,
            n,
            bias,
            clip,
            &mut out.spare_capacity_mut()[..units * n],
            parallel,
        );
        // SAFETY: gemm_bias_clip wrote all units * n values (its contract).
        unsafe { out.set_len(units * n) };
        let y = transpose(out, units, n);
        let y = Tensor::from_data(TensorData::new(y, [n, units, 1, 1]), &device);
        match clip {
            Some(_) => y,
            None => self.act.forward(y),
        }
    }
}

/// `m` `[rows, cols]` as `[cols, rows]` (as it is for one row or column).
fn transpose(m: Vec<f32>, rows: usize, cols: usize) -> Vec<f32> {
    if rows <= 1 || cols <= 1 {
        return m;
    }
    glimpse_kernels::layout::permute(&m, &[rows, cols], &[1, 0]).0
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keras::{Activation, KerasFlavor};
    use burn::tensor::Device;

    /// The packed product gives burn's `linear` (+ activation) for one image and a batch, with
    /// and without a bias, with a fused ReLU and with an activation applied after.
    #[test]
    fn packed_inference_matches_the_plain_forward() {
        let dev = Device::flex();
        let value = |i: usize, s: f32| ((i * 7919 + 13) % 101) as f32 / 50.0 * s - 1.0;
        for (n, units_in, units) in [(1, 37, 21), (3, 64, 1000), (5, 8, 3)] {
            for (act, bias) in [
                (Activation::Linear, true),
                (Activation::Relu, false),
                (Activation::Softmax, true),
            ] {
                let dense = Dense {
                    units_in,
                    units,
                    bias,
                    act: Act::new(act, KerasFlavor::Keras3),
                };
                let mut params = vec![Tensor::<1>::from_data(
                    TensorData::new(
                        (0..units_in * units).map(|i| value(i, 0.3)).collect(),
                        [units_in * units],
                    ),
                    &dev,
                )];
                if bias {
                    params.push(Tensor::<1>::from_data(
                        TensorData::new((0..units).map(|i| value(i, 1.0)).collect(), [units]),
                        &dev,
                    ));
                }
                let x = Tensor::<4>::from_data(
                    TensorData::new(
                        (0..n * units_in).map(|i| value(i + 5, 1.0)).collect(),
                        [n, units_in, 1, 1],
                    ),
                    &dev,
                );
                assert!(dense.can_prepare(&x));
                let want = dense.forward(x.clone(), &params);
                let ConvWeights::Packed { weight, bias } = dense.prepare(&params) else {
                    panic!("packed weights");
                };
                let got = dense.forward_packed(x, &weight, &bias);
                assert_eq!(got.dims(), want.dims());
                let diff = (got - want).abs().max().into_scalar::<f32>();
                assert!(diff < 1e-5, "{n}x{units_in}x{units} {act:?}: {diff}");
            }
        }
        // Feature maps (not one vector per image) and autodiff tensors keep burn's product.
        let dense = Dense {
            units_in: 4,
            units: 2,
            bias: false,
            act: Act::new(Activation::Linear, KerasFlavor::Keras3),
        };
        assert!(!dense.can_prepare(&Tensor::<4>::zeros([1, 4, 2, 2], &dev)));
        assert!(!dense.can_prepare(&Tensor::<4>::zeros([1, 4, 1, 1], &dev.autodiff())));
    }
}
