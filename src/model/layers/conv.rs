//! Conv2D, DepthwiseConv2D and SeparableConv2D, with TF-style ("same", possibly asymmetric)
//! padding.

use super::activation::{self, Act};
use super::{BuildCtx, Built, Op, ParamSpec};
use crate::error::Result;
use crate::keras::{
    Conv2DConfig, Conv2DTransposeConfig, DataFormat, DepthwiseConv2DConfig, Padding, Pair,
    SeparableConv2DConfig,
};
use crate::model::cpu;
use crate::weights::layout::Layout;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{DType, Tensor, TensorData};
use glimpse_kernels::gemm::PackedWeights;

/// Output size and (before, after) padding of one spatial axis, as TensorFlow computes them.
pub fn window(
    input: usize,
    kernel: usize,
    stride: usize,
    dilation: usize,
    padding: Padding,
) -> Option<(usize, (usize, usize))> {
    let eff = kernel
        .checked_sub(1)?
        .checked_mul(dilation)?
        .checked_add(1)?;
    match padding {
        Padding::Valid => {
            if input < eff {
                None
            } else {
                Some(((input - eff) / stride + 1, (0, 0)))
            }
        }
        Padding::Same => {
            let out = input.div_ceil(stride);
            let total = out
                .checked_sub(1)?
                .checked_mul(stride)?
                .checked_add(eff)?
                .saturating_sub(input);
            // The padded input must fit too.
            input.checked_add(total)?;
            Some((out, (total / 2, total - total / 2)))
        }
    }
}

/// Spatial output size (height, width) and (before, after) paddings per axis.
pub(crate) type Window2 = ((usize, usize), [(usize, usize); 2]);

/// Spatial output shape and paddings for a 2-D window op.
pub(crate) fn window2(
    ctx: &BuildCtx,
    hw: (usize, usize),
    kernel: Pair,
    strides: Pair,
    dilation: Pair,
    padding: Padding,
) -> Result<Window2> {
    if kernel.0 == 0
        || kernel.1 == 0
        || strides.0 == 0
        || strides.1 == 0
        || dilation.0 == 0
        || dilation.1 == 0
    {
        return Err(ctx.unsupported("kernel sizes, strides and dilations must be positive"));
    }
    let h = window(hw.0, kernel.0, strides.0, dilation.0, padding);
    let w = window(hw.1, kernel.1, strides.1, dilation.1, padding);
    match (h, w) {
        (Some((oh, ph)), Some((ow, pw))) => Ok(((oh, ow), [ph, pw])),
        _ => Err(ctx.shape_error(
            format!(
                "an input of at least the window {}x{} (dilation {}x{}, {padding:?} padding) \
                 whose sizes fit in {} bits",
                kernel.0,
                kernel.1,
                dilation.0,
                dilation.1,
                usize::BITS
            ),
            format!("{}x{}", hw.0, hw.1),
        )),
    }
}

/// Checks the values a convolution's unrolled input (im2col: every output pixel's window) holds
/// for one sample against the activation budget.
fn workspace(ctx: &BuildCtx, (oh, ow): (usize, usize), depth: usize, window: usize) -> Result<()> {
    let limits = crate::limits::get();
    crate::limits::check(
        format!("the unrolled input of {} for one sample", ctx.context()),
        crate::limits::checked_product(&[oh, ow, depth, window]),
        limits.max_activation,
        "GLIMPSE_MAX_ACTIVATION",
    )
}

pub(crate) fn image_input(ctx: &BuildCtx, format: DataFormat) -> Result<(usize, usize, usize)> {
    if format == DataFormat::ChannelsFirst {
        return Err(
            ctx.unsupported("data_format='channels_first' (Glimpse runs channels_last models)")
        );
    }
    match ctx.one_input()? {
        [h, w, c] => Ok((*h, *w, *c)),
        other => Err(ctx.shape_error("an image tensor (None, H, W, C)", format!("{other:?}"))),
    }
}

/// A (grouped) 2-D convolution; depthwise convolutions are grouped ones.
#[derive(Debug, Clone)]
pub struct Conv {
    /// burn weight shape `[out, in/groups, kh, kw]`.
    pub weight_shape: [usize; 4],
    /// Stride, padding, dilation, groups.
    pub options: ConvOptions<2>,
    /// Whether variable 1 is a bias.
    pub bias: bool,
    /// Fused activation.
    pub act: Act,
}

impl Conv {
    /// Runs the convolution with `params` = [kernel, bias?].
    pub fn forward(&self, x: Tensor<4>, params: &[Tensor<1>]) -> Tensor<4> {
        let w = params[0].clone().reshape(self.weight_shape);
        let b = if self.bias {
            Some(params[1].clone())
        } else {
            None
        };
        self.act.forward(conv2d(x, w, b, self.options.clone()))
    }

    /// Whether it is depthwise with multiplier 1 (one filter per channel).
    fn is_depthwise(&self) -> bool {
        self.weight_shape[1] == 1 && self.options.groups == self.weight_shape[0]
    }

    /// The weights for inference with `params` = [kernel, bias?] and, when given, a
    /// following per-channel affine map (a BatchNormalization) folded in:
    /// `conv(x, w * scale) + (bias * scale + shift)`, one pass over the output instead of
    /// three. On the plain CPU, depthwise convolutions get their values read out for Glimpse's
    /// depthwise kernel and one-group ones packed for its matrix product.
    pub fn prepare(
        &self,
        params: &[Tensor<1>],
        affine: Option<(Tensor<1>, Tensor<1>)>,
    ) -> ConvWeights {
        let out = self.weight_shape[0];
        let mut weight = params[0].clone().reshape(self.weight_shape);
        let mut bias = self.bias.then(|| params[1].clone());
        if let Some((scale, shift)) = affine {
            weight = weight * scale.clone().reshape([out, 1, 1, 1]);
            bias = Some(match bias {
                Some(b) => b * scale + shift,
                None => shift,
            });
        }
        let host_kernel = self.is_depthwise() || self.options.groups == 1;
        if host_kernel && cpu::on_plain_cpu(&weight) && weight.dtype() == DType::F32 {
            let values = cpu::host_values(weight);
            let bias = bias.map_or_else(|| vec![0.0; out], cpu::host_values);
            if !self.is_depthwise() {
                let depth = values.len() / out.max(1);
                let packed = PackedWeights::new(&values, out, depth);
                return ConvWeights::Packed {
                    weight: packed,
                    bias,
                };
            }
            return ConvWeights::Host {
                weight: values,
                bias,
            };
        }
        ConvWeights::Tensors { weight, bias }
    }

    /// Inference with weights from [`Conv::prepare`], then the layer's activation, or `clip`
    /// instead when the graph fused a clamp-like activation layer into it (only for a linear
    /// layer; see [`crate::model::Graph::fuse_clip`]). On the plain CPU, depthwise and
    /// one-group convolutions run Glimpse's kernels, which clamp as they write.
    pub fn forward_prepared(
        &self,
        x: Tensor<4>,
        weights: &ConvWeights,
        clip: Option<(f32, f32)>,
    ) -> Tensor<4> {
        let clip = clip.or(self.act.clip_range());
        // What the kernels leave to do: the layer's own activation when it is not a clamp.
        let then = |y: Tensor<4>| match clip {
            Some(_) => y,
            None => self.act.forward(y),
        };
        // A geometry the kernels leave out (an empty output) goes to burn's conv2d.
        let (weight, bias) = match weights {
            ConvWeights::Host { weight, bias } => {
                if let Some(g) = cpu::depthwise_plan(&x, self.weight_shape, &self.options) {
                    return then(cpu::depthwise_conv2d(x, weight, Some(bias), clip, &g));
                }
                host_tensors(weight.clone(), bias, self.weight_shape, &x.device())
            }
            ConvWeights::Packed { weight, bias } => {
                if let Some(g) = cpu::gemm_plan(&x, self.weight_shape, &self.options) {
                    return then(cpu::gemm_conv2d(x, weight, bias, clip, &g));
                }
                host_tensors(weight.unpack(), bias, self.weight_shape, &x.device())
            }
            ConvWeights::Tensors { weight, bias } => (weight.clone(), bias.clone()),
        };
        let y = conv2d(x, weight, bias, self.options.clone());
        match clip {
            Some(range) => activation::clip_range(y, range),
            None => self.act.forward(y),
        }
    }
}

/// burn tensors of a kernel and bias prepared for Glimpse's kernels, for a geometry those leave
/// to burn's `conv2d`.
fn host_tensors(
    weight: Vec<f32>,
    bias: &[f32],
    shape: [usize; 4],
    device: &burn::tensor::Device,
) -> (Tensor<4>, Option<Tensor<1>>) {
    let w = TensorData::new(weight, shape);
    let b = TensorData::new(bias.to_vec(), [bias.len()]);
    (
        Tensor::from_data(w, device),
        Some(Tensor::from_data(b, device)),
    )
}

/// A convolution's weights made ready for inference by [`Conv::prepare`].
// One per convolution, held behind an `Arc`: the variants' sizes do not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum ConvWeights {
    /// A depthwise convolution's values for Glimpse's depthwise kernel: the kernel in burn's
    /// layout `[out, 1, kh, kw]`, and the bias `[out]` (zeros when the layer has none).
    Host {
        /// The kernel.
        weight: Vec<f32>,
        /// The bias.
        bias: Vec<f32>,
    },
    /// A one-group convolution's values for Glimpse's own matrix product, the kernel packed
    /// once.
    Packed {
        /// The kernel `[out, in * kh * kw]`, packed.
        weight: PackedWeights,
        /// The bias `[out]` (zeros when the layer has none).
        bias: Vec<f32>,
    },
    /// Tensors for burn's `conv2d`.
    Tensors {
        /// The kernel `[out, in/groups, kh, kw]`.
        weight: Tensor<4>,
        /// The bias, if any.
        bias: Option<Tensor<1>>,
    },
}

/// Builds `Conv2D`.
pub fn build_conv(ctx: &BuildCtx, c: &Conv2DConfig) -> Result<Built> {
    let (h, w, cin) = image_input(ctx, c.data_format)?;
    if c.groups == 0 || !cin.is_multiple_of(c.groups) || !c.filters.is_multiple_of(c.groups) {
        return Err(ctx.unsupported(format!(
            "groups={} must divide the input channels ({cin}) and filters ({})",
            c.groups, c.filters
        )));
    }
    let ((oh, ow), pads) = window2(
        ctx,
        (h, w),
        c.kernel_size,
        c.strides,
        c.dilation_rate,
        c.padding,
    )?;
    let (kh, kw) = (c.kernel_size.0, c.kernel_size.1);
    workspace(ctx, (oh, ow), cin / c.groups, kh.saturating_mul(kw))?;
    let mut params = vec![
        ParamSpec::new("kernel", vec![kh, kw, cin / c.groups, c.filters])
            .layout(Layout::ConvKernel),
    ];
    if c.use_bias {
        params.push(ParamSpec::new("bias", vec![c.filters]));
    }
    Ok(Built {
        op: Op::Conv(Conv {
            weight_shape: [c.filters, cin / c.groups, kh, kw],
            options: ConvOptions::new_with_padding(
                [c.strides.0, c.strides.1],
                pads,
                [c.dilation_rate.0, c.dilation_rate.1],
                c.groups,
            ),
            bias: c.use_bias,
            act: Act::new(c.activation, ctx.flavor),
        }),
        out_shape: vec![oh, ow, c.filters],
        params,
    })
}

/// Builds `DepthwiseConv2D`.
pub fn build_depthwise(ctx: &BuildCtx, c: &DepthwiseConv2DConfig) -> Result<Built> {
    let (h, w, cin) = image_input(ctx, c.data_format)?;
    let ((oh, ow), pads) = window2(
        ctx,
        (h, w),
        c.kernel_size,
        c.strides,
        c.dilation_rate,
        c.padding,
    )?;
    let (kh, kw, m) = (c.kernel_size.0, c.kernel_size.1, c.depth_multiplier);
    let cout = ctx.mul(cin, m, "channels x depth_multiplier")?;
    let mut params =
        vec![ParamSpec::new("kernel", vec![kh, kw, cin, m]).layout(Layout::DepthwiseKernel)];
    if c.use_bias {
        params.push(ParamSpec::new("bias", vec![cout]));
    }
    Ok(Built {
        op: Op::Conv(Conv {
            weight_shape: [cout, 1, kh, kw],
            options: ConvOptions::new_with_padding(
                [c.strides.0, c.strides.1],
                pads,
                [c.dilation_rate.0, c.dilation_rate.1],
                cin,
            ),
            bias: c.use_bias,
            act: Act::new(c.activation, ctx.flavor),
        }),
        out_shape: vec![oh, ow, cout],
        params,
    })
}

/// A depthwise convolution followed by a 1x1 convolution, bias and activation.
#[derive(Debug, Clone)]
pub struct Separable {
    /// The depthwise step (no bias, no activation).
    pub depthwise: Conv,
    /// The pointwise step's weight shape `[filters, in*mult, 1, 1]`.
    pub pointwise_shape: [usize; 4],
    /// Whether variable 2 is a bias.
    pub bias: bool,
    /// Fused activation.
    pub act: Act,
}

impl Separable {
    /// Runs it with `params` = [depthwise_kernel, pointwise_kernel, bias?]; at inference the
    /// depthwise step may run Glimpse's CPU kernel.
    pub fn forward(&self, x: Tensor<4>, params: &[Tensor<1>], training: bool) -> Tensor<4> {
        let y = if training {
            self.depthwise.forward(x, &params[..1])
        } else {
            let w = self.depthwise.prepare(&params[..1], None);
            self.depthwise.forward_prepared(x, &w, None)
        };
        let w = params[1].clone().reshape(self.pointwise_shape);
        let b = if self.bias {
            Some(params[2].clone())
        } else {
            None
        };
        self.act
            .forward(conv2d(y, w, b, ConvOptions::new([1, 1], [0, 0], [1, 1], 1)))
    }
}

/// Builds `SeparableConv2D`.
pub fn build_separable(ctx: &BuildCtx, c: &SeparableConv2DConfig) -> Result<Built> {
    let (h, w, cin) = image_input(ctx, c.data_format)?;
    let ((oh, ow), pads) = window2(
        ctx,
        (h, w),
        c.kernel_size,
        c.strides,
        c.dilation_rate,
        c.padding,
    )?;
    let (kh, kw, m) = (c.kernel_size.0, c.kernel_size.1, c.depth_multiplier);
    let mid = ctx.mul(cin, m, "channels x depth_multiplier")?;
    workspace(ctx, (oh, ow), mid, 1)?;
    let mut params = vec![
        ParamSpec::new("depthwise_kernel", vec![kh, kw, cin, m]).layout(Layout::DepthwiseKernel),
        ParamSpec::new("pointwise_kernel", vec![1, 1, mid, c.filters]).layout(Layout::ConvKernel),
    ];
    if c.use_bias {
        params.push(ParamSpec::new("bias", vec![c.filters]));
    }
    Ok(Built {
        op: Op::Separable(Separable {
            depthwise: Conv {
                weight_shape: [mid, 1, kh, kw],
                options: ConvOptions::new_with_padding(
                    [c.strides.0, c.strides.1],
                    pads,
                    [c.dilation_rate.0, c.dilation_rate.1],
                    cin,
                ),
                bias: false,
                act: Act::linear(),
            },
            pointwise_shape: [c.filters, mid, 1, 1],
            bias: c.use_bias,
            act: Act::new(c.activation, ctx.flavor),
        }),
        out_shape: vec![oh, ow, c.filters],
        params,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keras::{Activation, KerasFlavor};
    use burn::tensor::Device;

    fn ramp(n: usize, scale: f32) -> Vec<f32> {
        (0..n)
            .map(|i| ((i * 37 % 23) as f32 - 11.0) * scale)
            .collect()
    }

    /// Inference through prepared weights (Glimpse's kernels on the plain CPU) gives what
    /// burn's `conv2d` plus the activation gives, for depthwise, pointwise and unfolded
    /// convolutions, with clamp-like activations (run inside the kernels) and others (run
    /// after them), with and without a bias.
    #[test]
    fn prepared_inference_matches_the_plain_forward() {
        let dev = Device::flex();
        let (n, c, h, w) = (2, 6, 9, 8);
        let x = Tensor::<4>::from_data(
            TensorData::new(ramp(n * c * h * w, 0.1), [n, c, h, w]),
            &dev,
        );
        let convs = [
            ([c, 1, 3, 3], ConvOptions::new([2, 2], [1, 1], [1, 1], c)),
            ([5, c, 1, 1], ConvOptions::new([1, 1], [0, 0], [1, 1], 1)),
            ([5, c, 3, 3], ConvOptions::new([1, 1], [1, 1], [1, 1], 1)),
        ];
        let acts = [
            Activation::Linear,
            Activation::Relu,
            Activation::Relu6,
            Activation::Tanh,
            Activation::Sigmoid,
        ];
        for (shape, options) in convs {
            for act in acts {
                for bias in [false, true] {
                    let conv = Conv {
                        weight_shape: shape,
                        options: options.clone(),
                        bias,
                        act: Act::new(act, KerasFlavor::Keras3),
                    };
                    let size = shape.iter().product::<usize>();
                    let mut params = vec![Tensor::<1>::from_data(
                        TensorData::new(ramp(size, 0.05), [size]),
                        &dev,
                    )];
                    if bias {
                        params.push(Tensor::from_data(
                            TensorData::new(ramp(shape[0], 0.3), [shape[0]]),
                            &dev,
                        ));
                    }
                    let want = conv.forward(x.clone(), &params);
                    let prepared = conv.prepare(&params, None);
                    match &prepared {
                        ConvWeights::Host { .. } => assert!(conv.is_depthwise(), "{shape:?}"),
                        ConvWeights::Packed { .. } => assert!(!conv.is_depthwise(), "{shape:?}"),
                        ConvWeights::Tensors { .. } => panic!("{shape:?}: not for the CPU kernels"),
                    }
                    let got = conv.forward_prepared(x.clone(), &prepared, None);
                    let diff = (got - want).abs().max().into_scalar::<f32>();
                    assert!(diff < 1e-5, "{shape:?} {act:?} bias {bias}: {diff}");
                }
            }
        }
    }

    #[test]
    fn same_padding_is_tf_style() {
        // stride-2 3x3 at 224: pad 0 before, 1 after (TensorFlow's rule).
        assert_eq!(window(224, 3, 2, 1, Padding::Same), Some((112, (0, 1))));
        // stride-2 5x5 at 224: 1 before, 2 after.
        assert_eq!(window(224, 5, 2, 1, Padding::Same), Some((112, (1, 2))));
        assert_eq!(window(17, 3, 1, 1, Padding::Same), Some((17, (1, 1))));
        assert_eq!(window(17, 3, 1, 2, Padding::Valid), Some((13, (0, 0))));
        assert_eq!(window(2, 3, 1, 1, Padding::Valid), None);
    }
}

/// A transposed convolution (Keras' `Conv2DTranspose`): burn's full transposed convolution,
/// then the window Keras keeps of it (its JAX padding rule), then bias and activation.
#[derive(Debug, Clone)]
pub struct ConvTranspose {
    /// burn weight shape `[in, out, kh, kw]`.
    pub weight_shape: [usize; 4],
    /// Strides and dilation.
    pub options: burn::tensor::ops::ConvTransposeOptions<2>,
    /// Per axis: rows dropped at the start of the full output, and the output length.
    pub keep: [(usize, usize); 2],
    /// Whether variable 1 is a bias.
    pub bias: bool,
    /// Fused activation.
    pub act: Act,
}

/// One axis of a transposed convolution as Keras computes it: the length of the full output
/// (every input pixel's whole kernel footprint), the start of Keras' window in it and the
/// window's length (it may run past the full output: those rows hold only the bias).
pub fn transpose_axis(
    input: usize,
    kernel: usize,
    stride: usize,
    dilation: usize,
    padding: Padding,
    output_padding: Option<usize>,
) -> Option<(usize, usize, usize)> {
    let k = kernel
        .checked_sub(1)?
        .checked_mul(dilation)?
        .checked_add(1)?;
    let (left, right) = match padding {
        Padding::Valid => {
            let op = output_padding.unwrap_or(k.max(stride) - k);
            (k - 1, (k - 1).checked_add(op)?)
        }
        Padding::Same => {
            let pad_len = match output_padding {
                None => (stride + k).checked_sub(2)?,
                Some(op) => (k + k % 2 + op).checked_sub(2)?,
            };
            let left = (pad_len / 2 + pad_len % 2).min(k - 1);
            (left, pad_len - left)
        }
    };
    let dilated = input.checked_sub(1)?.checked_mul(stride)?.checked_add(1)?;
    let out = dilated
        .checked_add(left)?
        .checked_add(right)?
        .checked_add(1)?
        .checked_sub(k)?;
    let full = dilated.checked_add(k)?.checked_sub(1)?;
    Some((full, k - 1 - left, out))
}

/// Builds `Conv2DTranspose`.
pub fn build_conv_transpose(ctx: &BuildCtx, c: &Conv2DTransposeConfig) -> Result<Built> {
    let (h, w, cin) = image_input(ctx, c.data_format)?;
    if c.groups != 1 {
        return Err(ctx.unsupported(format!("groups={} (Keras 3 takes only 1)", c.groups)));
    }
    let (kh, kw) = (c.kernel_size.0, c.kernel_size.1);
    if [
        kh,
        kw,
        c.strides.0,
        c.strides.1,
        c.dilation_rate.0,
        c.dilation_rate.1,
        c.filters,
    ]
    .contains(&0)
    {
        return Err(
            ctx.unsupported("filters, kernel sizes, strides and dilations must be positive")
        );
    }
    let op = c.output_padding;
    let axes = [
        transpose_axis(
            h,
            kh,
            c.strides.0,
            c.dilation_rate.0,
            c.padding,
            op.map(|p| p.0),
        ),
        transpose_axis(
            w,
            kw,
            c.strides.1,
            c.dilation_rate.1,
            c.padding,
            op.map(|p| p.1),
        ),
    ];
    let [Some((fh, sh, oh)), Some((fw, sw, ow))] = axes else {
        return Err(ctx.shape_error(
            "an output size that fits",
            format!("input {h}x{w}, kernel {kh}x{kw}, strides {:?}", c.strides),
        ));
    };
    if oh == 0 || ow == 0 {
        return Err(ctx.shape_error("a non-empty output", format!("{oh}x{ow}")));
    }
    workspace(ctx, (fh, fw), c.filters, 1)?;
    let mut params =
        vec![ParamSpec::new("kernel", vec![kh, kw, c.filters, cin]).layout(Layout::ConvKernel)];
    if c.use_bias {
        params.push(ParamSpec::new("bias", vec![c.filters]));
    }
    Ok(Built {
        op: Op::ConvTranspose(ConvTranspose {
            weight_shape: [cin, c.filters, kh, kw],
            options: burn::tensor::ops::ConvTransposeOptions::new(
                [c.strides.0, c.strides.1],
                [0, 0],
                [0, 0],
                [c.dilation_rate.0, c.dilation_rate.1],
                1,
            ),
            keep: [(sh, oh), (sw, ow)],
            bias: c.use_bias,
            act: Act::new(c.activation, ctx.flavor),
        }),
        out_shape: vec![oh, ow, c.filters],
        params,
    })
}

impl ConvTranspose {
    /// Runs on `[N, C, H, W]` with the layer's variables (burn layout, flattened).
    pub fn forward(&self, x: Tensor<4>, params: &[Tensor<1>]) -> Tensor<4> {
        let weight = params[0].clone().reshape(self.weight_shape);
        let full = burn::tensor::module::conv_transpose2d(x, weight, None, self.options.clone());
        let [n, c, fh, fw] = full.dims();
        let [(sh, oh), (sw, ow)] = self.keep;
        // Rows past the full output are zero before the bias.
        let full = full.pad(
            [
                (0, (sh + oh).saturating_sub(fh)),
                (0, (sw + ow).saturating_sub(fw)),
            ],
            burn::tensor::ops::PadMode::Constant(0.0),
        );
        let mut y = full.slice([0..n, 0..c, sh..sh + oh, sw..sw + ow]);
        if self.bias {
            let b = params[1].clone().reshape([1, self.weight_shape[1], 1, 1]);
            y = y + b;
        }
        self.act.forward(y)
    }
}
