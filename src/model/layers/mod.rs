//! One file per layer family. Each turns its typed Keras config into an [`Op`]: the output
//! shape, the variables it expects (names and Keras shapes, in Keras' order) and the forward
//! computation on Glimpse's internal layout (see [`super::axes`]).

pub mod activation;
pub mod conv;
pub mod dense;
pub mod merge;
pub mod norm;
pub mod pool;
pub mod preprocess;
pub mod shape;

use crate::error::{Error, Result};
use crate::keras::{KerasFlavor, LayerConfig, LayerSpec};
use crate::weights::layout::Layout;
use burn::tensor::Tensor;

/// A variable a layer needs.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamSpec {
    /// Keras' variable name (`kernel`, `bias`, `gamma`, `moving_mean`...).
    pub name: &'static str,
    /// Its shape in Keras' layout.
    pub keras_shape: Vec<usize>,
    /// How burn lays it out.
    pub layout: Layout,
    /// Whether training updates it (moving statistics and Normalization's are not trainable).
    pub trainable: bool,
}

impl ParamSpec {
    pub(crate) fn new(name: &'static str, keras_shape: Vec<usize>) -> Self {
        ParamSpec {
            name,
            keras_shape,
            layout: Layout::Keep,
            trainable: true,
        }
    }
    pub(crate) fn layout(mut self, layout: Layout) -> Self {
        self.layout = layout;
        self
    }
    pub(crate) fn frozen(mut self) -> Self {
        self.trainable = false;
        self
    }
    /// Number of values.
    pub fn size(&self) -> usize {
        self.keras_shape.iter().product()
    }
}

/// What one call of a layer computes.
#[derive(Debug, Clone)]
#[allow(missing_docs)]
pub enum Op {
    /// A model input.
    Input,
    Identity,
    /// Dropout with its rate (identity at inference).
    Dropout(f64),
    Conv(conv::Conv),
    ConvTranspose(conv::ConvTranspose),
    Separable(conv::Separable),
    Dense(dense::Dense),
    Pool(pool::Pool),
    GlobalPool(pool::GlobalPool),
    BatchNorm(norm::BatchNorm),
    LayerNorm(norm::LayerNorm),
    Normalization(norm::Normalization),
    Rescaling(norm::Rescaling),
    LayerScale,
    Act(activation::Act),
    Relu(activation::Relu),
    Softmax(usize),
    Flatten(shape::Flatten),
    Reshape(shape::Reshape),
    Pad(shape::Pad),
    Crop(shape::Crop),
    Merge(merge::Merge),
    Concat(usize),
    PRelu(activation::PRelu),
    UpSampling(shape::UpSampling),
    Permute(shape::Permute),
    Resize(preprocess::Resize),
    RandomCrop(preprocess::RandomCrop),
    Flip(preprocess::Flip),
    Affine(preprocess::Affine),
    Color(preprocess::Color),
}

/// A built layer call: what to compute, its output shape and the variables of its layer.
#[derive(Debug, Clone)]
pub struct Built {
    /// The computation.
    pub op: Op,
    /// Output shape without batch.
    pub out_shape: Vec<usize>,
    /// Variables in Keras' order.
    pub params: Vec<ParamSpec>,
}

/// Context for building one layer call.
pub struct BuildCtx<'a> {
    /// The layer.
    pub layer: &'a LayerSpec,
    /// Shapes of the tensor arguments (without batch).
    pub inputs: &'a [Vec<usize>],
    /// Every argument in call order: `None` for a tensor (in `inputs` order), or a constant.
    pub slots: &'a [Option<f64>],
    /// Which Keras wrote the model.
    pub flavor: KerasFlavor,
}

impl BuildCtx<'_> {
    /// The single input shape, or an error naming the layer.
    pub fn one_input(&self) -> Result<&[usize]> {
        match self.inputs {
            [s] => Ok(s),
            _ => Err(Error::Graph(format!(
                "layer '{}' ({}) takes one input, got {}",
                self.layer.name,
                self.layer.class_name,
                self.inputs.len()
            ))),
        }
    }

    /// An [`Error::UnsupportedConfig`] for this layer.
    pub fn unsupported(&self, message: impl Into<String>) -> Error {
        Error::UnsupportedConfig {
            layer: self.layer.name.clone(),
            class_name: self.layer.class_name.clone(),
            message: message.into(),
        }
    }

    /// An [`Error::Shape`] for this layer.
    pub fn shape_error(&self, expected: impl Into<String>, found: impl Into<String>) -> Error {
        Error::Shape {
            context: format!("layer '{}' ({})", self.layer.name, self.layer.class_name),
            expected: expected.into(),
            found: found.into(),
        }
    }

    /// `a * b`, or an error naming the layer and `what` when it does not fit in `usize` (32
    /// bits on wasm).
    pub fn mul(&self, a: usize, b: usize, what: &str) -> Result<usize> {
        a.checked_mul(b)
            .ok_or_else(|| self.too_large(what, format!("{a} x {b}")))
    }

    /// `a + b`, or an error like [`BuildCtx::mul`]'s.
    pub fn add(&self, a: usize, b: usize, what: &str) -> Result<usize> {
        a.checked_add(b)
            .ok_or_else(|| self.too_large(what, format!("{a} + {b}")))
    }

    fn too_large(&self, what: &str, found: String) -> Error {
        self.shape_error(format!("{what} that fits in {} bits", usize::BITS), found)
    }

    /// The layer's context string for errors.
    pub fn context(&self) -> String {
        format!("layer '{}' ({})", self.layer.name, self.layer.class_name)
    }
}

/// Builds one call of a layer.
pub fn build(ctx: &BuildCtx) -> Result<Built> {
    use LayerConfig as L;
    let same = |op: Op| -> Result<Built> {
        Ok(Built {
            op,
            out_shape: ctx.one_input()?.to_vec(),
            params: vec![],
        })
    };
    match &ctx.layer.config {
        L::Input(_) => Err(Error::Graph(format!(
            "input layer '{}' is called like a layer",
            ctx.layer.name
        ))),
        L::Conv2D(c) => conv::build_conv(ctx, c),
        L::Conv2DTranspose(c) => conv::build_conv_transpose(ctx, c),
        L::DepthwiseConv2D(c) => conv::build_depthwise(ctx, c),
        L::SeparableConv2D(c) => conv::build_separable(ctx, c),
        L::Dense(c) => dense::build(ctx, c),
        L::Flatten => shape::build_flatten(ctx),
        L::Reshape(c) => shape::build_reshape(ctx, c),
        // Keras refuses rates outside [0, 1) as Glimpse does (a rate of 1 drops everything).
        L::Dropout(c) if !(0.0..1.0).contains(&c.rate) => {
            Err(ctx.unsupported(format!("rate={} (Keras takes a rate in [0, 1))", c.rate)))
        }
        L::Dropout(c) if c.rate > 0.0 => same(Op::Dropout(c.rate)),
        L::Dropout(_) => same(Op::Identity),
        L::MaxPool2D(c) => pool::build_pool(ctx, c, pool::PoolKind::Max),
        L::AvgPool2D(c) => pool::build_pool(ctx, c, pool::PoolKind::Avg),
        L::GlobalAvgPool2D(c) => pool::build_global(ctx, c, pool::PoolKind::Avg),
        L::GlobalMaxPool2D(c) => pool::build_global(ctx, c, pool::PoolKind::Max),
        L::BatchNorm(c) => norm::build_batch_norm(ctx, c),
        L::LayerNorm(c) => norm::build_layer_norm(ctx, c),
        L::Normalization(c) => norm::build_normalization(ctx, c),
        L::Rescaling(c) => norm::build_rescaling(ctx, c),
        L::LayerScale(c) => norm::build_layer_scale(ctx, c),
        L::ZeroPadding2D(c) => shape::build_pad(ctx, c),
        L::Cropping2D(c) => shape::build_crop(ctx, c),
        L::Activation(c) => same(Op::Act(activation::Act::new(c.activation, ctx.flavor))),
        L::Relu(c) => same(Op::Relu(activation::Relu {
            max_value: c.max_value,
            negative_slope: c.negative_slope,
            threshold: c.threshold,
        })),
        L::LeakyRelu(c) => same(Op::Relu(activation::Relu {
            max_value: None,
            negative_slope: c.negative_slope,
            threshold: 0.0,
        })),
        L::Elu(c) => same(Op::Act(activation::Act::elu(c.alpha))),
        L::Softmax(c) => {
            let s = ctx.one_input()?;
            if c.axis.0.len() != 1 {
                return Err(ctx.unsupported("Softmax over several axes"));
            }
            let axis = super::axes::internal_axis(c.axis.0[0], s.len(), &ctx.context())?;
            same(Op::Softmax(axis))
        }
        L::Identity => same(Op::Identity),
        L::PRelu(c) => activation::build_prelu(ctx, c),
        L::UpSampling2D(c) => shape::build_upsampling(ctx, c),
        L::Permute(c) => shape::build_permute(ctx, c),
        L::Merge(op) => merge::build_merge(ctx, *op),
        L::Concatenate(c) => merge::build_concat(ctx, c),
        L::Resizing(c) => preprocess::build_resizing(ctx, c),
        L::CenterCrop(c) => preprocess::build_center_crop(ctx, c),
        L::RandomCrop(c) => preprocess::build_random_crop(ctx, c),
        L::RandomFlip(c) => preprocess::build_flip(ctx, c),
        L::RandomAffine(c) => preprocess::build_affine(ctx, c),
        L::RandomColor(c) => preprocess::build_color(ctx, c),
    }
}

impl Op {
    /// Runs the op on its inputs with its layer's variables (burn layout, flattened).
    pub fn forward(
        &self,
        mut inputs: Vec<Tensor<4>>,
        params: &[Tensor<1>],
        training: bool,
    ) -> Tensor<4> {
        match self {
            Op::Input | Op::Identity => inputs.swap_remove(0),
            Op::Dropout(rate) => {
                let x = inputs.swap_remove(0);
                if training {
                    let keep = Tensor::<4>::random(
                        x.shape(),
                        burn::tensor::Distribution::Bernoulli(1.0 - rate),
                        &x.device(),
                    );
                    x * keep.div_scalar(1.0 - rate)
                } else {
                    x
                }
            }
            Op::Conv(c) => c.forward(inputs.swap_remove(0), params),
            Op::ConvTranspose(c) => c.forward(inputs.swap_remove(0), params),
            Op::Separable(c) => c.forward(inputs.swap_remove(0), params, training),
            Op::Dense(d) => d.forward(inputs.swap_remove(0), params),
            Op::Pool(p) => p.forward(inputs.swap_remove(0)),
            Op::GlobalPool(p) => p.forward(inputs.swap_remove(0)),
            Op::BatchNorm(b) => b.forward(inputs.swap_remove(0), params),
            Op::LayerNorm(l) => l.forward(inputs.swap_remove(0), params),
            Op::Normalization(n) => n.forward(inputs.swap_remove(0), params),
            Op::Rescaling(r) => r.forward(inputs.swap_remove(0)),
            Op::LayerScale => {
                let x = inputs.swap_remove(0);
                let c = params[0].dims()[0];
                x * params[0].clone().reshape([1, c, 1, 1])
            }
            Op::Act(a) => a.forward(inputs.swap_remove(0)),
            Op::Relu(r) => r.forward(inputs.swap_remove(0)),
            Op::Softmax(axis) => burn::tensor::activation::softmax(inputs.swap_remove(0), *axis),
            Op::Flatten(f) => f.forward(inputs.swap_remove(0)),
            Op::Reshape(r) => r.forward(inputs.swap_remove(0)),
            Op::Pad(p) => p.forward(inputs.swap_remove(0)),
            Op::Crop(c) => c.forward(inputs.swap_remove(0)),
            Op::Merge(m) => m.forward(inputs),
            Op::Concat(axis) => Tensor::cat(inputs, *axis),
            Op::PRelu(p) => p.forward(inputs.swap_remove(0), &params[0]),
            Op::UpSampling(u) => u.forward(inputs.swap_remove(0)),
            Op::Permute(p) => p.forward(inputs.swap_remove(0)),
            Op::Resize(r) => r.forward(inputs.swap_remove(0)),
            Op::RandomCrop(r) => r.forward(inputs.swap_remove(0), training),
            Op::Flip(f) => f.forward(inputs.swap_remove(0), training),
            Op::Affine(a) => a.forward(inputs.swap_remove(0), training),
            Op::Color(c) => c.forward(inputs.swap_remove(0), training),
        }
    }
}
