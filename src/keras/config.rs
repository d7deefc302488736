//! Typed configurations of the supported layers, one serde struct per Keras class.
//!
//! Only the fields Glimpse uses are declared; serde ignores the rest (initializers,
//! regularizers, dtype policies). Keras 2 spellings are accepted through aliases.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// The classes Glimpse implements, as they appear in `class_name`.
pub const SUPPORTED_LAYERS: &[&str] = &[
    "InputLayer",
    "Conv2D",
    "DepthwiseConv2D",
    "SeparableConv2D",
    "Dense",
    "Flatten",
    "Reshape",
    "Dropout",
    "SpatialDropout2D",
    "GaussianNoise",
    "GaussianDropout",
    "MaxPooling2D",
    "AveragePooling2D",
    "GlobalAveragePooling2D",
    "GlobalMaxPooling2D",
    "BatchNormalization",
    "ZeroPadding2D",
    "Cropping2D",
    "Activation",
    "ReLU",
    "LeakyReLU",
    "ELU",
    "Softmax",
    "Add",
    "Subtract",
    "Multiply",
    "Average",
    "Maximum",
    "Minimum",
    "Concatenate",
    "Rescaling",
    "Normalization",
    "LayerNormalization",
    "LayerScale",
    "TrueDivide",
];

/// A Keras activation function (the `activation=` argument and the `Activation` layer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// Identity.
    Linear,
    /// max(x, 0).
    Relu,
    /// min(max(x, 0), 6).
    Relu6,
    /// 1 / (1 + e^-x).
    Sigmoid,
    /// Keras 3: relu6(x + 3) / 6. tf.keras 2: clip(0.2 x + 0.5, 0, 1).
    HardSigmoid,
    /// tanh.
    Tanh,
    /// Softmax over the last axis.
    Softmax,
    /// x * sigmoid(x) (also `silu`).
    Swish,
    /// x > 0 ? x : e^x - 1.
    Elu,
    /// Scaled ELU.
    Selu,
    /// Exact (erf) GELU.
    Gelu,
    /// log(1 + e^x).
    Softplus,
    /// x * hard_sigmoid(x) (also `hard_swish`).
    HardSilu,
    /// x / (1 + |x|).
    Softsign,
    /// e^x.
    Exponential,
}

impl Activation {
    /// Parses a Keras activation name.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "linear" | "None" => Self::Linear,
            "relu" => Self::Relu,
            "relu6" => Self::Relu6,
            "sigmoid" => Self::Sigmoid,
            "hard_sigmoid" => Self::HardSigmoid,
            "tanh" => Self::Tanh,
            "softmax" => Self::Softmax,
            "swish" | "silu" => Self::Swish,
            "elu" => Self::Elu,
            "selu" => Self::Selu,
            "gelu" => Self::Gelu,
            "softplus" => Self::Softplus,
            "hard_silu" | "hard_swish" => Self::HardSilu,
            "softsign" => Self::Softsign,
            "exponential" => Self::Exponential,
            _ => return None,
        })
    }

    /// The Keras name of this activation.
    pub fn name(self) -> &'static str {
        match self {
            Self::Linear => "linear",
            Self::Relu => "relu",
            Self::Relu6 => "relu6",
            Self::Sigmoid => "sigmoid",
            Self::HardSigmoid => "hard_sigmoid",
            Self::Tanh => "tanh",
            Self::Softmax => "softmax",
            Self::Swish => "swish",
            Self::Elu => "elu",
            Self::Selu => "selu",
            Self::Gelu => "gelu",
            Self::Softplus => "softplus",
            Self::HardSilu => "hard_silu",
            Self::Softsign => "softsign",
            Self::Exponential => "exponential",
        }
    }
}

impl<'de> Deserialize<'de> for Activation {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // A plain name, null, or Keras 3's serialized function
        // `{"class_name": "function", "config": "relu", ...}`.
        let v = Value::deserialize(d)?;
        let name = match &v {
            Value::Null => "linear".to_string(),
            Value::String(s) => s.clone(),
            Value::Object(o) => match o.get("config") {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Object(c)) => c
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                _ => o
                    .get("class_name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
            },
            other => other.to_string(),
        };
        Activation::from_name(&name).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unsupported activation '{name}' (supported: linear, relu, relu6, sigmoid, \
                 hard_sigmoid, tanh, softmax, swish/silu, elu, selu, gelu, softplus, \
                 hard_silu/hard_swish, softsign, exponential)"
            ))
        })
    }
}

fn default_linear() -> Activation {
    Activation::Linear
}
fn default_true() -> bool {
    true
}
fn default_one() -> usize {
    1
}
fn default_valid() -> Padding {
    Padding::Valid
}
fn default_pair_one() -> Pair {
    Pair(1, 1)
}
fn default_axis_last() -> Axes {
    Axes(vec![-1])
}

/// A pair of sizes (height, width); Keras writes an int or a 2-list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Pair(pub usize, pub usize);

impl<'de> Deserialize<'de> for Pair {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        match &v {
            Value::Number(n) => {
                let k = n.as_u64().ok_or_else(|| {
                    serde::de::Error::custom(format!("expected a positive integer, found {n}"))
                })? as usize;
                Ok(Pair(k, k))
            }
            Value::Array(a) if a.len() == 2 => {
                let get = |i: usize| {
                    a[i].as_u64().map(|x| x as usize).ok_or_else(|| {
                        serde::de::Error::custom(format!("expected an integer, found {}", a[i]))
                    })
                };
                Ok(Pair(get(0)?, get(1)?))
            }
            other => Err(serde::de::Error::custom(format!(
                "expected an integer or a pair of integers, found {other}"
            ))),
        }
    }
}

/// Per-side amounts for ZeroPadding2D / Cropping2D: ((top, bottom), (left, right)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Sides(pub (usize, usize), pub (usize, usize));

impl<'de> Deserialize<'de> for Sides {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        let num = |x: &Value| {
            x.as_u64()
                .map(|x| x as usize)
                .ok_or_else(|| serde::de::Error::custom(format!("expected an integer, found {x}")))
        };
        match &v {
            Value::Number(_) => {
                let k = num(&v)?;
                Ok(Sides((k, k), (k, k)))
            }
            Value::Array(a) if a.len() == 2 => match (&a[0], &a[1]) {
                (Value::Array(h), Value::Array(w)) if h.len() == 2 && w.len() == 2 => Ok(Sides(
                    (num(&h[0])?, num(&h[1])?),
                    (num(&w[0])?, num(&w[1])?),
                )),
                (h, w) => {
                    let (h, w) = (num(h)?, num(w)?);
                    Ok(Sides((h, h), (w, w)))
                }
            },
            other => Err(serde::de::Error::custom(format!(
                "expected an int, a pair, or a pair of pairs, found {other}"
            ))),
        }
    }
}

/// A list of axes; Keras writes an int or a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Axes(pub Vec<i64>);

impl<'de> Deserialize<'de> for Axes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        match &v {
            Value::Number(n) => Ok(Axes(vec![n.as_i64().unwrap_or(-1)])),
            Value::Array(a) => a
                .iter()
                .map(|x| {
                    x.as_i64().ok_or_else(|| {
                        serde::de::Error::custom(format!("expected an integer axis, found {x}"))
                    })
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Axes),
            Value::Null => Ok(Axes(vec![-1])),
            other => Err(serde::de::Error::custom(format!(
                "expected an axis or a list of axes, found {other}"
            ))),
        }
    }
}

/// `valid` or `same` (TF-style, possibly asymmetric) padding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Padding {
    /// No padding.
    Valid,
    /// Output size ceil(input / stride); the extra pixel goes after.
    Same,
}

/// `channels_last` (the only layout Glimpse runs) or `channels_first`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum DataFormat {
    /// NHWC, Keras' default.
    #[default]
    ChannelsLast,
    /// NCHW.
    ChannelsFirst,
}

fn de_data_format<'de, D: Deserializer<'de>>(d: D) -> Result<DataFormat, D::Error> {
    Option::<DataFormat>::deserialize(d).map(Option::unwrap_or_default)
}

/// `InputLayer`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct InputConfig {
    /// Keras 3 `batch_shape` or Keras 2 `batch_input_shape`, batch first.
    #[serde(alias = "batch_input_shape")]
    pub batch_shape: Option<Vec<Option<usize>>>,
    /// Keras 3 `shape` (without batch), when `batch_shape` is absent.
    pub shape: Option<Vec<Option<usize>>>,
}

/// `Conv2D`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Conv2DConfig {
    /// Output channels.
    pub filters: usize,
    /// Kernel height and width.
    pub kernel_size: Pair,
    /// Strides.
    #[serde(default = "default_pair_one")]
    pub strides: Pair,
    /// Padding mode.
    #[serde(default = "default_valid")]
    pub padding: Padding,
    /// Dilation.
    #[serde(default = "default_pair_one")]
    pub dilation_rate: Pair,
    /// Channel groups.
    #[serde(default = "default_one")]
    pub groups: usize,
    /// Whether there is a bias.
    #[serde(default = "default_true")]
    pub use_bias: bool,
    /// Fused activation.
    #[serde(default = "default_linear")]
    pub activation: Activation,
    /// Must be channels_last.
    #[serde(default, deserialize_with = "de_data_format")]
    pub data_format: DataFormat,
}

/// `DepthwiseConv2D`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct DepthwiseConv2DConfig {
    /// Kernel height and width.
    pub kernel_size: Pair,
    /// Strides.
    #[serde(default = "default_pair_one")]
    pub strides: Pair,
    /// Padding mode.
    #[serde(default = "default_valid")]
    pub padding: Padding,
    /// Dilation.
    #[serde(default = "default_pair_one")]
    pub dilation_rate: Pair,
    /// Output channels per input channel.
    #[serde(default = "default_one")]
    pub depth_multiplier: usize,
    /// Whether there is a bias.
    #[serde(default = "default_true")]
    pub use_bias: bool,
    /// Fused activation.
    #[serde(default = "default_linear")]
    pub activation: Activation,
    /// Must be channels_last.
    #[serde(default, deserialize_with = "de_data_format")]
    pub data_format: DataFormat,
}

/// `SeparableConv2D`: a depthwise convolution followed by a 1x1 convolution.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct SeparableConv2DConfig {
    /// Output channels.
    pub filters: usize,
    /// Depthwise kernel height and width.
    pub kernel_size: Pair,
    /// Strides of the depthwise step.
    #[serde(default = "default_pair_one")]
    pub strides: Pair,
    /// Padding mode.
    #[serde(default = "default_valid")]
    pub padding: Padding,
    /// Dilation.
    #[serde(default = "default_pair_one")]
    pub dilation_rate: Pair,
    /// Depthwise multiplier.
    #[serde(default = "default_one")]
    pub depth_multiplier: usize,
    /// Whether there is a bias.
    #[serde(default = "default_true")]
    pub use_bias: bool,
    /// Fused activation.
    #[serde(default = "default_linear")]
    pub activation: Activation,
    /// Must be channels_last.
    #[serde(default, deserialize_with = "de_data_format")]
    pub data_format: DataFormat,
}

/// `Dense`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct DenseConfig {
    /// Output features.
    pub units: usize,
    /// Fused activation.
    #[serde(default = "default_linear")]
    pub activation: Activation,
    /// Whether there is a bias.
    #[serde(default = "default_true")]
    pub use_bias: bool,
}

/// `MaxPooling2D` and `AveragePooling2D`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Pool2DConfig {
    /// Window height and width.
    #[serde(default = "default_pool")]
    pub pool_size: Pair,
    /// Strides (defaults to the window).
    pub strides: Option<Pair>,
    /// Padding mode.
    #[serde(default = "default_valid")]
    pub padding: Padding,
    /// Must be channels_last.
    #[serde(default, deserialize_with = "de_data_format")]
    pub data_format: DataFormat,
}

fn default_pool() -> Pair {
    Pair(2, 2)
}

/// `GlobalAveragePooling2D` and `GlobalMaxPooling2D`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct GlobalPoolConfig {
    /// Keep the spatial axes as size 1.
    #[serde(default)]
    pub keepdims: bool,
    /// Must be channels_last.
    #[serde(default, deserialize_with = "de_data_format")]
    pub data_format: DataFormat,
}

/// `BatchNormalization`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct BatchNormConfig {
    /// The feature axis.
    #[serde(default = "default_axis_last")]
    pub axis: Axes,
    /// Added to the variance.
    #[serde(default = "default_bn_eps")]
    pub epsilon: f64,
    /// Moving-average momentum (training).
    #[serde(default = "default_momentum")]
    pub momentum: f64,
    /// Whether there is a beta.
    #[serde(default = "default_true")]
    pub center: bool,
    /// Whether there is a gamma.
    #[serde(default = "default_true")]
    pub scale: bool,
}

fn default_bn_eps() -> f64 {
    1e-3
}
fn default_momentum() -> f64 {
    0.99
}

/// `LayerNormalization`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct LayerNormConfig {
    /// The normalized axes.
    #[serde(default = "default_axis_last")]
    pub axis: Axes,
    /// Added to the variance.
    #[serde(default = "default_ln_eps")]
    pub epsilon: f64,
    /// Whether there is a beta.
    #[serde(default = "default_true")]
    pub center: bool,
    /// Whether there is a gamma.
    #[serde(default = "default_true")]
    pub scale: bool,
    /// RMS scaling (not supported).
    #[serde(default)]
    pub rms_scaling: bool,
}

fn default_ln_eps() -> f64 {
    1e-3
}

/// `Normalization` (the preprocessing layer with stored mean and variance).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct NormalizationConfig {
    /// The kept axes (per-feature statistics).
    #[serde(default = "default_axis_last")]
    pub axis: Axes,
    /// Mean given in the config instead of as weights.
    pub mean: Option<Value>,
    /// Variance given in the config instead of as weights.
    pub variance: Option<Value>,
    /// Undo the normalization instead.
    #[serde(default)]
    pub invert: bool,
}

/// `ZeroPadding2D`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ZeroPaddingConfig {
    /// ((top, bottom), (left, right)).
    pub padding: Sides,
    /// Must be channels_last.
    #[serde(default, deserialize_with = "de_data_format")]
    pub data_format: DataFormat,
}

/// `Cropping2D`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct CroppingConfig {
    /// ((top, bottom), (left, right)).
    pub cropping: Sides,
    /// Must be channels_last.
    #[serde(default, deserialize_with = "de_data_format")]
    pub data_format: DataFormat,
}

/// `Activation`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ActivationConfig {
    /// The function.
    pub activation: Activation,
}

/// `ReLU` with its options.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ReluConfig {
    /// Upper clip.
    pub max_value: Option<f64>,
    /// Slope below the threshold.
    #[serde(default)]
    pub negative_slope: f64,
    /// Values at or below are treated as negative.
    #[serde(default)]
    pub threshold: f64,
}

/// `LeakyReLU` (`negative_slope` in Keras 3, `alpha` in Keras 2).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct LeakyReluConfig {
    /// Slope for negative inputs.
    #[serde(alias = "alpha", default = "default_leaky")]
    pub negative_slope: f64,
}

fn default_leaky() -> f64 {
    0.3
}

/// `ELU` layer.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct EluConfig {
    /// Scale of the negative part.
    #[serde(default = "default_alpha_one")]
    pub alpha: f64,
}

fn default_alpha_one() -> f64 {
    1.0
}

/// `Softmax` layer.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct SoftmaxConfig {
    /// The axis.
    #[serde(default = "default_axis_last")]
    pub axis: Axes,
}

/// `Concatenate`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ConcatConfig {
    /// The axis.
    #[serde(default = "default_concat_axis")]
    pub axis: i64,
}

fn default_concat_axis() -> i64 {
    -1
}

/// `Reshape`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ReshapeConfig {
    /// The target shape without the batch axis; one entry may be -1.
    pub target_shape: Vec<i64>,
}

/// `Rescaling`: `x * scale + offset`; scale and offset may be per channel.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct RescalingConfig {
    /// Multiplier(s).
    pub scale: ScalarOrList,
    /// Offset(s).
    #[serde(default)]
    pub offset: ScalarOrList,
}

/// A number or a list of numbers (per channel).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(untagged)]
pub enum ScalarOrList {
    /// One value.
    Scalar(f64),
    /// One per channel.
    List(Vec<f64>),
}

impl Default for ScalarOrList {
    fn default() -> Self {
        ScalarOrList::Scalar(0.0)
    }
}

/// `LayerScale` (ConvNeXt): multiplies by a learned per-channel gamma.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct LayerScaleConfig {
    /// The number of channels.
    pub projection_dim: Option<usize>,
}

/// `Dropout`.
#[derive(Debug, Clone, Deserialize, Serialize, Default)]
pub struct DropoutConfig {
    /// Fraction of inputs dropped in training (0 for the layers that only act in training in
    /// ways Glimpse does not train: SpatialDropout2D, GaussianNoise, GaussianDropout).
    #[serde(default)]
    pub rate: f64,
}

/// Layers without options Glimpse needs (Flatten, Dropout, merges...).
#[derive(Debug, Clone, Deserialize, Serialize, Default)]
pub struct NoConfig {}

/// The typed configuration of one layer, by Keras class.
#[derive(Debug, Clone, Serialize)]
#[allow(missing_docs)]
pub enum LayerConfig {
    Input(InputConfig),
    Conv2D(Conv2DConfig),
    DepthwiseConv2D(DepthwiseConv2DConfig),
    SeparableConv2D(SeparableConv2DConfig),
    Dense(DenseConfig),
    Flatten,
    Reshape(ReshapeConfig),
    /// Dropout and the other layers that are the identity at inference.
    Dropout(DropoutConfig),
    MaxPool2D(Pool2DConfig),
    AvgPool2D(Pool2DConfig),
    GlobalAvgPool2D(GlobalPoolConfig),
    GlobalMaxPool2D(GlobalPoolConfig),
    BatchNorm(BatchNormConfig),
    ZeroPadding2D(ZeroPaddingConfig),
    Cropping2D(CroppingConfig),
    Activation(ActivationConfig),
    Relu(ReluConfig),
    LeakyRelu(LeakyReluConfig),
    Elu(EluConfig),
    Softmax(SoftmaxConfig),
    Merge(MergeOp),
    Concatenate(ConcatConfig),
    Rescaling(RescalingConfig),
    Normalization(NormalizationConfig),
    LayerNorm(LayerNormConfig),
    LayerScale(LayerScaleConfig),
}

/// Element-wise merges of several tensors (with broadcasting), or of a tensor and a constant
/// (Keras 3 records `x + 3.0` on symbolic tensors as an `Add` op of `keras.src.ops.numpy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum MergeOp {
    /// Sum.
    Add,
    /// First minus second.
    Subtract,
    /// Product.
    Multiply,
    /// Mean.
    Average,
    /// Element-wise max.
    Maximum,
    /// Element-wise min.
    Minimum,
    /// First divided by second.
    Divide,
}

impl LayerConfig {
    /// Parses `config` for the Keras class `class_name`. `Ok(None)` when the class is unknown.
    pub fn parse(class_name: &str, config: &Value) -> Result<Option<Self>, serde_json::Error> {
        fn de<T: serde::de::DeserializeOwned>(v: &Value) -> Result<T, serde_json::Error> {
            T::deserialize(v)
        }
        Ok(Some(match class_name {
            "InputLayer" => Self::Input(de(config)?),
            "Conv2D" | "Convolution2D" => Self::Conv2D(de(config)?),
            "DepthwiseConv2D" => Self::DepthwiseConv2D(de(config)?),
            "SeparableConv2D" | "SeparableConvolution2D" => Self::SeparableConv2D(de(config)?),
            "Dense" => Self::Dense(de(config)?),
            "Flatten" => Self::Flatten,
            "Reshape" => Self::Reshape(de(config)?),
            "Dropout" => Self::Dropout(de(config)?),
            "SpatialDropout2D" | "GaussianNoise" | "GaussianDropout" => {
                Self::Dropout(DropoutConfig::default())
            }
            "MaxPooling2D" | "MaxPool2D" => Self::MaxPool2D(de(config)?),
            "AveragePooling2D" | "AvgPool2D" => Self::AvgPool2D(de(config)?),
            "GlobalAveragePooling2D" | "GlobalAvgPool2D" => Self::GlobalAvgPool2D(de(config)?),
            "GlobalMaxPooling2D" | "GlobalMaxPool2D" => Self::GlobalMaxPool2D(de(config)?),
            "BatchNormalization" => Self::BatchNorm(de(config)?),
            "ZeroPadding2D" => Self::ZeroPadding2D(de(config)?),
            "Cropping2D" => Self::Cropping2D(de(config)?),
            "Activation" => Self::Activation(de(config)?),
            "ReLU" => Self::Relu(de(config)?),
            "LeakyReLU" => Self::LeakyRelu(de(config)?),
            "ELU" => Self::Elu(de(config)?),
            "Softmax" => Self::Softmax(de(config)?),
            "Add" => Self::Merge(MergeOp::Add),
            "Subtract" => Self::Merge(MergeOp::Subtract),
            "Multiply" => Self::Merge(MergeOp::Multiply),
            "Average" => Self::Merge(MergeOp::Average),
            "Maximum" => Self::Merge(MergeOp::Maximum),
            "Minimum" => Self::Merge(MergeOp::Minimum),
            "TrueDivide" => Self::Merge(MergeOp::Divide),
            "Concatenate" => Self::Concatenate(de(config)?),
            "Rescaling" => Self::Rescaling(de(config)?),
            "Normalization" => Self::Normalization(de(config)?),
            "LayerNormalization" => Self::LayerNorm(de(config)?),
            "LayerScale" => Self::LayerScale(de(config)?),
            _ => return Ok(None),
        }))
    }
}
