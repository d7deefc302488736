//! Augmented views of photos for teaching: Keras' own augmentation layers (RandomFlip,
//! RandomRotation, RandomZoom, RandomTranslation, RandomContrast, RandomBrightness) run in
//! training mode on the network's input, so each photo gives several varied copies whose
//! features are computed once. The same layers go into the exported model, where Keras (and
//! Glimpse) treat them as the identity at inference.

use crate::error::{Error, Result};
use crate::keras::build;
use crate::model::Model;
use burn::tensor::{Device, Tensor};
use serde_json::{json, Value};

/// Which transforms, and how strong (Keras' factors).
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct Augment {
    /// Mirror left-right with probability 1/2.
    #[serde(default)]
    pub flip: bool,
    /// RandomRotation factor (a fraction of a full turn either way).
    #[serde(default)]
    pub rotate: f64,
    /// RandomZoom factor.
    #[serde(default)]
    pub zoom: f64,
    /// RandomTranslation factor (height and width).
    #[serde(default)]
    pub shift: f64,
    /// RandomContrast factor.
    #[serde(default)]
    pub contrast: f64,
    /// RandomBrightness factor.
    #[serde(default)]
    pub brightness: f64,
}

impl Augment {
    /// What the page and `--augment` use by default: flip, rotate 0.1, zoom 0.1, contrast 0.1.
    pub fn standard() -> Augment {
        Augment {
            flip: true,
            rotate: 0.1,
            zoom: 0.1,
            shift: 0.0,
            contrast: 0.1,
            brightness: 0.0,
        }
    }

    /// Parses `flip,rotate=0.1,zoom=0.1,contrast=0.1` (also `shift=`, `brightness=`;
    /// `standard` for [`Augment::standard`], `none` for nothing).
    pub fn parse(spec: &str) -> Result<Augment> {
        let bad = |m: String| Error::input("--augment", m);
        let mut a = Augment::default();
        let spec = spec.trim();
        if spec == "none" || spec.is_empty() {
            return Ok(a);
        }
        if spec == "standard" {
            return Ok(Augment::standard());
        }
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, value) = match part.split_once('=') {
                Some((n, v)) => (n.trim(), Some(v.trim())),
                None => (part, None),
            };
            let factor = |default: f64, max: f64| -> Result<f64> {
                let v = match value {
                    None => default,
                    Some(v) => v
                        .parse::<f64>()
                        .map_err(|_| bad(format!("'{name}={v}': expected a number")))?,
                };
                if !(v > 0.0 && v <= max) {
                    return Err(bad(format!(
                        "'{name}={v}': expected a factor in (0, {max}]"
                    )));
                }
                Ok(v)
            };
            match name {
                "flip" if value.is_none() => a.flip = true,
                "rotate" => a.rotate = factor(0.1, 0.5)?,
                "zoom" => a.zoom = factor(0.1, 0.9)?,
                "shift" => a.shift = factor(0.1, 0.5)?,
                "contrast" => a.contrast = factor(0.1, 1.0)?,
                "brightness" => a.brightness = factor(0.1, 1.0)?,
                _ => {
                    return Err(bad(format!(
                        "unknown transform '{part}' (expected flip, rotate=F, zoom=F, shift=F, \
                         contrast=F, brightness=F, standard or none)"
                    )))
                }
            }
        }
        Ok(a)
    }

    /// Whether it changes nothing.
    pub fn is_empty(&self) -> bool {
        *self == Augment::default()
    }

    /// The Keras layers (structure JSON, Keras 3 style), each seeded from `seed`. The input's
    /// values are 0..255 (the contrast and brightness ranges).
    pub fn layers(&self, seed: u64) -> Vec<Value> {
        let s =
            |k: u64| (seed.wrapping_mul(0x9e37_79b9) ^ k.wrapping_mul(0x85eb_ca6b)) & 0x7fff_ffff;
        let layer = |class: &str, name: &str, mut config: Value| {
            config["name"] = name.into();
            config["trainable"] = true.into();
            json!({"module": "keras.layers", "class_name": class, "config": config,
                   "registered_name": null})
        };
        let mut out = Vec::new();
        if self.flip {
            out.push(layer(
                "RandomFlip",
                "augment_flip",
                json!({"mode": "horizontal", "seed": s(1)}),
            ));
        }
        if self.rotate > 0.0 {
            out.push(layer(
                "RandomRotation",
                "augment_rotate",
                json!({"factor": self.rotate,
                "fill_mode": "reflect", "interpolation": "bilinear", "seed": s(2)}),
            ));
        }
        if self.zoom > 0.0 {
            out.push(layer(
                "RandomZoom",
                "augment_zoom",
                json!({"height_factor": self.zoom,
                "fill_mode": "reflect", "interpolation": "bilinear", "seed": s(3)}),
            ));
        }
        if self.shift > 0.0 {
            out.push(layer(
                "RandomTranslation",
                "augment_shift",
                json!({"height_factor": self.shift,
                "width_factor": self.shift, "fill_mode": "reflect", "interpolation": "bilinear",
                "seed": s(4)}),
            ));
        }
        if self.contrast > 0.0 {
            out.push(layer(
                "RandomContrast",
                "augment_contrast",
                json!({"factor": self.contrast,
                "value_range": [0, 255], "seed": s(5)}),
            ));
        }
        if self.brightness > 0.0 {
            out.push(layer(
                "RandomBrightness",
                "augment_brightness",
                json!({"factor": self.brightness,
                "value_range": [0, 255], "seed": s(6)}),
            ));
        }
        out
    }

    /// A model that applies the augmentation (in training mode) to `(h, w, 3)` images.
    pub fn model(&self, h: usize, w: usize, seed: u64, device: &Device) -> Result<Model> {
        let mut layers = vec![build::input("augment_input", &[h, w, 3])];
        layers.extend(self.layers(seed));
        let json = build::sequential("augment", layers);
        let spec = crate::keras::parse_model(&json)?;
        Model::from_spec_with(spec, device, |_, _, p| Ok(vec![0.0; p.size()]))
    }

    /// `views` varied copies of the Keras-layout batch `x` (`[N, h, w, 3]`, values 0..255), as
    /// internal-layout tensors: view `v` of batch `batch` draws from `(seed, batch, v)`, so a
    /// run is reproducible whatever order batches are computed in.
    pub fn views(
        &self,
        x: &[f32],
        shape: &[usize],
        views: usize,
        seed: u64,
        batch: u64,
        device: &Device,
    ) -> Result<Vec<Tensor<4>>> {
        let [_, h, w, _] = shape[..] else {
            return Err(Error::input(
                "augment",
                format!("expected [N, H, W, 3], found {shape:?}"),
            ));
        };
        (0..views as u64)
            .map(|v| {
                let m = self.model(h, w, seed ^ (batch << 20) ^ (v << 8) ^ 0x5151, device)?;
                let t = m.input_tensor(0, x.to_vec(), shape)?;
                Ok(m.forward(vec![t], true).swap_remove(0))
            })
            .collect()
    }
}

/// `model` (sharing its variables) holding Keras' augmentation layers `aug` (seeded) after
/// its input, as a model trained with them would ([`ModelSpec::with_augmentation`](crate::keras::ModelSpec::with_augmentation)): the
/// identity at inference, and without variables, so the weights file is unchanged. Its
/// structure is written from the spec when saved.
pub fn augmented(model: &Model, aug: &Augment, seed: u64) -> Result<Model> {
    let spec = model.spec.with_augmentation(aug.layers(seed))?;
    let graph = crate::model::Graph::build(&spec)?;
    // Same variables by layer name: the augmentation layers have none.
    let params = spec
        .layers
        .iter()
        .map(|l| {
            model
                .spec
                .layers
                .iter()
                .position(|o| o.name == l.name)
                .map_or_else(Vec::new, |i| model.params()[i].clone())
        })
        .collect();
    Ok(Model::from_parts(spec, graph, params, model.device.clone()))
}
