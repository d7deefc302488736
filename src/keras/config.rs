//! Typed configurations of the supported layers, one serde struct per Keras class.
//!
//! Only the fields Glimpse uses are declared; serde ignores the rest (initializers,
//! regularizers, dtype policies). Keras 2 spellings are accepted through aliases.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

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

/// `Conv2DTranspose`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Conv2DTransposeConfig {
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
    /// Extra output rows/columns (Keras' `output_padding`; `None`: inferred).
    #[serde(default)]
    pub output_padding: Option<Pair>,
    /// Dilation.
    #[serde(default = "default_pair_one")]
    pub dilation_rate: Pair,
    /// Must be 1 (Keras 3 takes no other value).
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

/// `PReLU`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct PReluConfig {
    /// Axes (1-based, batch excluded) along which one slope is shared; `null` for none.
    #[serde(default)]
    pub shared_axes: Option<Axes>,
}

/// `UpSampling2D`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct UpSamplingConfig {
    /// Repeats along height and width.
    #[serde(default = "default_pair_two")]
    pub size: Pair,
    /// `nearest` (Glimpse's only one so far) or `bilinear`.
    #[serde(default = "default_nearest")]
    pub interpolation: String,
    /// Must be channels_last.
    #[serde(default, deserialize_with = "de_data_format")]
    pub data_format: DataFormat,
}

fn default_pair_two() -> Pair {
    Pair(2, 2)
}

fn default_nearest() -> String {
    "nearest".into()
}

/// `Permute`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct PermuteConfig {
    /// The new order of the non-batch axes, 1-based.
    pub dims: Vec<i64>,
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

/// `Resizing`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ResizingConfig {
    /// Output height.
    pub height: usize,
    /// Output width.
    pub width: usize,
    /// `bilinear`, `nearest`, `bicubic`, `lanczos3`, `lanczos5` or `area`.
    #[serde(default = "default_bilinear")]
    pub interpolation: String,
    /// Crop the largest centred window of the target's aspect ratio first.
    #[serde(default)]
    pub crop_to_aspect_ratio: bool,
    /// Pad to the target's aspect ratio first (Keras 3).
    #[serde(default)]
    pub pad_to_aspect_ratio: bool,
    /// Only `constant`.
    #[serde(default = "default_constant")]
    pub fill_mode: String,
    /// The padding value.
    #[serde(default)]
    pub fill_value: f64,
    /// Widen the kernel when downsampling.
    #[serde(default)]
    pub antialias: bool,
    /// Must be channels_last.
    #[serde(default, deserialize_with = "de_data_format")]
    pub data_format: DataFormat,
}

fn default_bilinear() -> String {
    "bilinear".into()
}

fn default_constant() -> String {
    "constant".into()
}

fn default_reflect() -> String {
    "reflect".into()
}

fn default_both_flips() -> String {
    "horizontal_and_vertical".into()
}

/// `CenterCrop` and `RandomCrop`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct CropConfig {
    /// Output height.
    pub height: usize,
    /// Output width.
    pub width: usize,
    /// RandomCrop's seed.
    #[serde(default)]
    pub seed: Option<i64>,
    /// Must be channels_last.
    #[serde(default, deserialize_with = "de_data_format")]
    pub data_format: DataFormat,
}

/// `RandomFlip`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct FlipConfig {
    /// `horizontal`, `vertical` or `horizontal_and_vertical`.
    #[serde(default = "default_both_flips")]
    pub mode: String,
    /// Seed.
    #[serde(default)]
    pub seed: Option<i64>,
    /// Must be channels_last.
    #[serde(default, deserialize_with = "de_data_format")]
    pub data_format: DataFormat,
}

/// `RandomRotation`, `RandomZoom` and `RandomTranslation`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct AffineConfig {
    /// RandomRotation's range, in turns.
    #[serde(default)]
    pub factor: Option<ScalarOrList>,
    /// RandomZoom's and RandomTranslation's height range.
    #[serde(default)]
    pub height_factor: Option<ScalarOrList>,
    /// Their width range (RandomZoom: `None` keeps the aspect ratio).
    #[serde(default)]
    pub width_factor: Option<ScalarOrList>,
    /// `reflect` (Keras' default), `mirror`, `wrap`, `nearest` or `constant`.
    #[serde(default = "default_reflect")]
    pub fill_mode: String,
    /// `bilinear` or `nearest`.
    #[serde(default = "default_bilinear")]
    pub interpolation: String,
    /// The value for `constant`.
    #[serde(default)]
    pub fill_value: f64,
    /// Seed.
    #[serde(default)]
    pub seed: Option<i64>,
    /// Must be channels_last.
    #[serde(default, deserialize_with = "de_data_format")]
    pub data_format: DataFormat,
}

/// `RandomContrast` and `RandomBrightness`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ColorConfig {
    /// The factor (a number or a pair).
    pub factor: ScalarOrList,
    /// Outputs are clipped to it (Keras' default `[0, 255]`).
    #[serde(default)]
    pub value_range: Option<Vec<f64>>,
    /// Seed.
    #[serde(default)]
    pub seed: Option<i64>,
}

/// `ThresholdedReLU` (Keras 2).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ThresholdedReluConfig {
    /// Values at or below it become 0.
    #[serde(default = "default_theta")]
    pub theta: f64,
}

fn default_theta() -> f64 {
    1.0
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
    Conv2DTranspose(Conv2DTransposeConfig),
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
    /// Layers that pass their input through at inference and in training (Identity,
    /// ActivityRegularization: its loss term is not trained by Glimpse).
    Identity,
    PRelu(PReluConfig),
    UpSampling2D(UpSamplingConfig),
    Permute(PermuteConfig),
    Resizing(ResizingConfig),
    CenterCrop(CropConfig),
    RandomCrop(CropConfig),
    RandomFlip(FlipConfig),
    /// RandomRotation, RandomZoom and RandomTranslation (the class name says which).
    RandomAffine(AffineConfig),
    /// RandomContrast and RandomBrightness (the class name says which).
    RandomColor(ColorConfig),
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

/// One supported layer class: the `class_name`s it is written as (the first is Keras 3's; the
/// others are aliases older Keras versions wrote) and how its config becomes a [`LayerConfig`].
pub struct LayerClass {
    /// Class names, canonical first.
    pub names: &'static [&'static str],
    /// Types the layer's `config` object.
    pub parse: fn(&Value) -> Result<LayerConfig, serde_json::Error>,
}

fn de<T: serde::de::DeserializeOwned>(v: &Value) -> Result<T, serde_json::Error> {
    T::deserialize(v)
}

/// Every layer class Glimpse implements: the one table the parser, the list of supported
/// layers in errors and the README's table (checked by a test) come from. The builders match
/// on the [`LayerConfig`] it produces (`model::layers::build`).
pub static REGISTRY: &[LayerClass] = &[
    LayerClass {
        names: &["InputLayer"],
        parse: |c| Ok(LayerConfig::Input(de(c)?)),
    },
    LayerClass {
        names: &["Conv2D", "Convolution2D"],
        parse: |c| Ok(LayerConfig::Conv2D(de(c)?)),
    },
    LayerClass {
        names: &[
            "Conv2DTranspose",
            "Convolution2DTranspose",
            "Deconvolution2D",
        ],
        parse: |c| Ok(LayerConfig::Conv2DTranspose(de(c)?)),
    },
    LayerClass {
        names: &["DepthwiseConv2D"],
        parse: |c| Ok(LayerConfig::DepthwiseConv2D(de(c)?)),
    },
    LayerClass {
        names: &["SeparableConv2D", "SeparableConvolution2D"],
        parse: |c| Ok(LayerConfig::SeparableConv2D(de(c)?)),
    },
    LayerClass {
        names: &["Dense"],
        parse: |c| Ok(LayerConfig::Dense(de(c)?)),
    },
    LayerClass {
        names: &["Flatten"],
        parse: |_| Ok(LayerConfig::Flatten),
    },
    LayerClass {
        names: &["Reshape"],
        parse: |c| Ok(LayerConfig::Reshape(de(c)?)),
    },
    LayerClass {
        names: &["Dropout"],
        parse: |c| Ok(LayerConfig::Dropout(de(c)?)),
    },
    // Identity at inference; Glimpse trains them as the identity too.
    LayerClass {
        names: &["SpatialDropout2D"],
        parse: |_| Ok(LayerConfig::Dropout(DropoutConfig::default())),
    },
    LayerClass {
        names: &["GaussianNoise"],
        parse: |_| Ok(LayerConfig::Dropout(DropoutConfig::default())),
    },
    LayerClass {
        names: &["GaussianDropout"],
        parse: |_| Ok(LayerConfig::Dropout(DropoutConfig::default())),
    },
    LayerClass {
        names: &["MaxPooling2D", "MaxPool2D"],
        parse: |c| Ok(LayerConfig::MaxPool2D(de(c)?)),
    },
    LayerClass {
        names: &["AveragePooling2D", "AvgPool2D"],
        parse: |c| Ok(LayerConfig::AvgPool2D(de(c)?)),
    },
    LayerClass {
        names: &["GlobalAveragePooling2D", "GlobalAvgPool2D"],
        parse: |c| Ok(LayerConfig::GlobalAvgPool2D(de(c)?)),
    },
    LayerClass {
        names: &["GlobalMaxPooling2D", "GlobalMaxPool2D"],
        parse: |c| Ok(LayerConfig::GlobalMaxPool2D(de(c)?)),
    },
    LayerClass {
        names: &["BatchNormalization"],
        parse: |c| Ok(LayerConfig::BatchNorm(de(c)?)),
    },
    LayerClass {
        names: &["ZeroPadding2D"],
        parse: |c| Ok(LayerConfig::ZeroPadding2D(de(c)?)),
    },
    LayerClass {
        names: &["Cropping2D"],
        parse: |c| Ok(LayerConfig::Cropping2D(de(c)?)),
    },
    LayerClass {
        names: &["Activation"],
        parse: |c| Ok(LayerConfig::Activation(de(c)?)),
    },
    LayerClass {
        names: &["ReLU"],
        parse: |c| Ok(LayerConfig::Relu(de(c)?)),
    },
    LayerClass {
        names: &["LeakyReLU"],
        parse: |c| Ok(LayerConfig::LeakyRelu(de(c)?)),
    },
    LayerClass {
        names: &["ELU"],
        parse: |c| Ok(LayerConfig::Elu(de(c)?)),
    },
    LayerClass {
        names: &["Softmax"],
        parse: |c| Ok(LayerConfig::Softmax(de(c)?)),
    },
    LayerClass {
        names: &["Add"],
        parse: |_| Ok(LayerConfig::Merge(MergeOp::Add)),
    },
    LayerClass {
        names: &["Subtract"],
        parse: |_| Ok(LayerConfig::Merge(MergeOp::Subtract)),
    },
    LayerClass {
        names: &["Multiply"],
        parse: |_| Ok(LayerConfig::Merge(MergeOp::Multiply)),
    },
    LayerClass {
        names: &["Average"],
        parse: |_| Ok(LayerConfig::Merge(MergeOp::Average)),
    },
    LayerClass {
        names: &["Maximum"],
        parse: |_| Ok(LayerConfig::Merge(MergeOp::Maximum)),
    },
    LayerClass {
        names: &["Minimum"],
        parse: |_| Ok(LayerConfig::Merge(MergeOp::Minimum)),
    },
    // Keras 3's op layer for `x / y` on symbolic tensors.
    LayerClass {
        names: &["TrueDivide"],
        parse: |_| Ok(LayerConfig::Merge(MergeOp::Divide)),
    },
    LayerClass {
        names: &["Concatenate"],
        parse: |c| Ok(LayerConfig::Concatenate(de(c)?)),
    },
    LayerClass {
        names: &["Rescaling"],
        parse: |c| Ok(LayerConfig::Rescaling(de(c)?)),
    },
    LayerClass {
        names: &["Normalization"],
        parse: |c| Ok(LayerConfig::Normalization(de(c)?)),
    },
    LayerClass {
        names: &["LayerNormalization"],
        parse: |c| Ok(LayerConfig::LayerNorm(de(c)?)),
    },
    LayerClass {
        names: &["LayerScale"],
        parse: |c| Ok(LayerConfig::LayerScale(de(c)?)),
    },
    LayerClass {
        names: &["Identity"],
        parse: |_| Ok(LayerConfig::Identity),
    },
    LayerClass {
        names: &["ActivityRegularization"],
        parse: |_| Ok(LayerConfig::Identity),
    },
    LayerClass {
        names: &["PReLU"],
        parse: |c| Ok(LayerConfig::PRelu(de(c)?)),
    },
    LayerClass {
        names: &["UpSampling2D"],
        parse: |c| Ok(LayerConfig::UpSampling2D(de(c)?)),
    },
    LayerClass {
        names: &["Permute"],
        parse: |c| Ok(LayerConfig::Permute(de(c)?)),
    },
    LayerClass {
        names: &["ThresholdedReLU"],
        parse: |c| {
            let t: ThresholdedReluConfig = de(c)?;
            Ok(LayerConfig::Relu(ReluConfig {
                max_value: None,
                negative_slope: 0.0,
                threshold: t.theta,
            }))
        },
    },
    LayerClass {
        names: &["Resizing"],
        parse: |c| Ok(LayerConfig::Resizing(de(c)?)),
    },
    LayerClass {
        names: &["CenterCrop"],
        parse: |c| Ok(LayerConfig::CenterCrop(de(c)?)),
    },
    LayerClass {
        names: &["RandomCrop"],
        parse: |c| Ok(LayerConfig::RandomCrop(de(c)?)),
    },
    LayerClass {
        names: &["RandomFlip"],
        parse: |c| Ok(LayerConfig::RandomFlip(de(c)?)),
    },
    LayerClass {
        names: &["RandomRotation"],
        parse: |c| Ok(LayerConfig::RandomAffine(de(c)?)),
    },
    LayerClass {
        names: &["RandomZoom"],
        parse: |c| Ok(LayerConfig::RandomAffine(de(c)?)),
    },
    LayerClass {
        names: &["RandomTranslation"],
        parse: |c| Ok(LayerConfig::RandomAffine(de(c)?)),
    },
    LayerClass {
        names: &["RandomContrast"],
        parse: |c| Ok(LayerConfig::RandomColor(de(c)?)),
    },
    LayerClass {
        names: &["RandomBrightness"],
        parse: |c| Ok(LayerConfig::RandomColor(de(c)?)),
    },
];

/// The registry entry for a `class_name`, if Glimpse implements the class.
pub fn layer_class(class_name: &str) -> Option<&'static LayerClass> {
    REGISTRY.iter().find(|c| c.names.contains(&class_name))
}

/// The supported classes' canonical names, in the registry's order (for errors and docs).
pub fn supported_layers() -> Vec<&'static str> {
    REGISTRY.iter().map(|c| c.names[0]).collect()
}

impl LayerConfig {
    /// Parses `config` for the Keras class `class_name`. `Ok(None)` when the class is unknown.
    pub fn parse(class_name: &str, config: &Value) -> Result<Option<Self>, serde_json::Error> {
        match layer_class(class_name) {
            Some(c) => (c.parse)(config).map(Some),
            None => Ok(None),
        }
    }
}
