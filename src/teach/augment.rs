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

/// `model` (sharing its variables) whose structure holds Keras' augmentation
/// layers `aug` (seeded) after its input, as a model trained with them would: the identity at
/// inference, and without variables, so the weights file is unchanged. The model carries its
/// structure.
pub fn augmented(model: &Model, aug: &Augment, seed: u64) -> Result<Model> {
    let structure = with_augmentation(&model.structure_json()?, aug.layers(seed))?;
    let spec = crate::keras::parse_model(&structure)?;
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
    Ok(Model::from_parts(spec, graph, params, model.device.clone()).with_structure(structure))
}

/// Inserts augmentation `layers` after the input of a Keras 3 Functional structure (so the
/// exported model holds them, as a Keras model trained with augmentation would).
pub fn with_augmentation(structure: &str, layers: Vec<Value>) -> Result<String> {
    let mut v: Value = serde_json::from_str(structure).map_err(|e| Error::Json {
        context: "model structure".into(),
        message: e.to_string(),
    })?;
    if layers.is_empty() {
        return Ok(structure.to_string());
    }
    // A model taught again with augmentation holds this run's layers, not two sets.
    drop_augmentation(&mut v);
    let input = v
        .pointer("/config/input_layers/0")
        .and_then(Value::as_str)
        .or_else(|| {
            v.pointer("/config/input_layers/0/0")
                .and_then(Value::as_str)
        })
        .ok_or_else(|| Error::Graph("the structure has no input layer".into()))?
        .to_string();
    let list = v
        .pointer_mut("/config/layers")
        .and_then(Value::as_array_mut)
        .ok_or_else(|| Error::Graph("the structure has no layers".into()))?;
    let at = list
        .iter()
        .position(|l| l.get("name").and_then(Value::as_str) == Some(input.as_str()))
        .ok_or_else(|| Error::Graph(format!("input layer '{input}' not found")))?;
    let shape = list[at]
        .pointer("/config/batch_shape")
        .cloned()
        .unwrap_or(Value::Null);
    let tensor = |from: &str| {
        json!({"class_name": "__keras_tensor__",
               "config": {"shape": shape, "dtype": "float32", "keras_history": [from, 0, 0]}})
    };
    // Every call that read the input now reads the last augmentation layer.
    let last = layers
        .last()
        .and_then(|l| l.pointer("/config/name"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    for l in list.iter_mut() {
        if let Some(nodes) = l.get_mut("inbound_nodes") {
            redirect(nodes, &input, &last);
        }
    }
    let mut prev = input.clone();
    let mut inserted = Vec::new();
    for mut l in layers {
        let name = l
            .pointer("/config/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        l["name"] = name.clone().into();
        l["inbound_nodes"] = json!([{"args": [tensor(&prev)], "kwargs": {}}]);
        inserted.push(l);
        prev = name;
    }
    for (k, l) in inserted.into_iter().enumerate() {
        list.insert(at + 1 + k, l);
    }
    Ok(v.to_string())
}

/// Replaces `keras_history` references to layer `from` by `to` inside `v`.
/// The augmentation layers Keras (and Glimpse) put after a model's input.
const AUGMENTATION: [&str; 6] = [
    "RandomFlip",
    "RandomRotation",
    "RandomZoom",
    "RandomTranslation",
    "RandomContrast",
    "RandomBrightness",
];

/// Removes a Functional structure's augmentation layers that take one input, the layers that
/// read them reading that input instead (they are the identity at inference).
fn drop_augmentation(v: &mut Value) {
    loop {
        let Some(list) = v
            .pointer_mut("/config/layers")
            .and_then(Value::as_array_mut)
        else {
            return;
        };
        let found = list.iter().enumerate().find_map(|(i, l)| {
            let class = l.get("class_name").and_then(Value::as_str)?;
            if !AUGMENTATION.contains(&class) {
                return None;
            }
            let name = l
                .pointer("/config/name")
                .and_then(Value::as_str)?
                .to_string();
            let from = l
                .pointer("/inbound_nodes/0/args/0/config/keras_history/0")
                .and_then(Value::as_str)?
                .to_string();
            Some((i, name, from))
        });
        let Some((i, name, from)) = found else {
            return;
        };
        list.remove(i);
        for l in list.iter_mut() {
            if let Some(nodes) = l.get_mut("inbound_nodes") {
                redirect(nodes, &name, &from);
            }
        }
        if let Some(outs) = v.pointer_mut("/config/output_layers") {
            redirect_pairs(outs, &name, &from);
        }
    }
}

/// `output_layers` entries (`[name, node, index]`) naming `from` name `to`.
fn redirect_pairs(v: &mut Value, from: &str, to: &str) {
    match v {
        Value::Array(a) if a.first().and_then(Value::as_str) == Some(from) => a[0] = to.into(),
        Value::Array(a) => a.iter_mut().for_each(|x| redirect_pairs(x, from, to)),
        _ => {}
    }
}

fn redirect(v: &mut Value, from: &str, to: &str) {
    match v {
        Value::Object(o) => {
            if let Some(Value::Array(h)) = o.get_mut("keras_history") {
                if h.first().and_then(Value::as_str) == Some(from) {
                    h[0] = to.into();
                }
            }
            for x in o.values_mut() {
                redirect(x, from, to);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| redirect(x, from, to)),
        _ => {}
    }
}
