//! The TensorFlow.js layers format: `model.json` (a Keras topology and a `weightsManifest`)
//! and its binary shards.
//!
//! Read as TF.js reads it: each manifest group's `paths` are joined in order and its weights
//! read back to back (a tensor may straddle shards); data is little-endian, row-major; a
//! `quantization` entry stores `uint8`/`uint16` affine values (`q * scale + min`, computed in
//! f64 as TF.js does) or `float16`. Weight names are `<layer>/<variable>` (possibly with
//! the names of enclosing models before them, and `:0` after); optimizer state
//! (`"group": "optimizer"`) is skipped. Accepted layouts: `format: "layers-model"`, the older
//! files with no `format` key, and a `modelTopology` wrapped as `{"model_config": ...}`.

use super::{RawTensor, WeightStore};
use crate::error::{Error, Result};
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};

/// One tensor of the manifest.
#[derive(Debug, Clone)]
pub struct ManifestEntry {
    /// Full name (`conv2d/kernel`).
    pub name: String,
    /// Shape.
    pub shape: Vec<usize>,
    /// Stored type: `float32`, `int32`, `uint8`, `uint16`, `float16`.
    pub stored: Stored,
    /// `"optimizer"` for optimizer state.
    pub group: Option<String>,
}

/// How a tensor's values are stored.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stored {
    /// 4-byte floats.
    F32,
    /// 4-byte integers.
    I32,
    /// 1-byte booleans.
    Bool,
    /// Affine `u8`: `q * scale + min`.
    U8 {
        /// Step.
        scale: f64,
        /// Offset.
        min: f64,
    },
    /// Affine `u16`.
    U16 {
        /// Step.
        scale: f64,
        /// Offset.
        min: f64,
    },
    /// IEEE half floats.
    F16,
}

impl Stored {
    fn bytes(self) -> usize {
        match self {
            Stored::F32 | Stored::I32 => 4,
            Stored::U16 { .. } | Stored::F16 => 2,
            Stored::U8 { .. } | Stored::Bool => 1,
        }
    }
}

/// One group of the manifest: shard paths and the tensors stored in them, in order.
#[derive(Debug, Clone)]
pub struct ManifestGroup {
    /// Shard file names, relative to `model.json`.
    pub paths: Vec<String>,
    /// Tensors, back to back across the shards.
    pub weights: Vec<ManifestEntry>,
}

/// A parsed `model.json`.
#[derive(Debug, Clone)]
pub struct TfjsModel {
    /// The Keras topology as JSON text (what [`crate::keras::parse_model`] reads).
    pub topology: String,
    /// The version that wrote it (`tfjs-layers 4.22.0`, `2.4.0`...).
    pub keras_version: Option<String>,
    /// The weights manifest.
    pub manifest: Vec<ManifestGroup>,
}

fn bad(source: &str, what: impl Into<String>) -> Error {
    Error::ModelFile {
        file: source.to_string(),
        message: what.into(),
    }
}

/// Whether `bytes` look like a TF.js `model.json` (a JSON object with `modelTopology` or
/// `weightsManifest`).
pub fn is_model_json(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(1 << 20)];
    let text = String::from_utf8_lossy(head);
    text.trim_start().starts_with('{')
        && (text.contains("\"weightsManifest\"") || text.contains("\"modelTopology\""))
}

/// Parses a `model.json`.
pub fn parse_model_json(text: &str, source: &str) -> Result<TfjsModel> {
    let v: Value =
        serde_json::from_str(text).map_err(|e| bad(source, format!("is not JSON: {e}")))?;
    let Value::Object(top) = &v else {
        return Err(bad(source, "is not a JSON object"));
    };
    if let Some(f) = top.get("format").and_then(Value::as_str) {
        if f == "graph-model" {
            return Err(bad(
                source,
                "is a TF.js graph model (converted from a SavedModel or frozen graph); Glimpse \
                 reads layers models (format \"layers-model\", from Keras or tf.LayersModel.save)",
            ));
        }
        if f != "layers-model" {
            return Err(bad(
                source,
                format!("has format \"{f}\"; expected \"layers-model\""),
            ));
        }
    }
    let Some(topo) = top.get("modelTopology") else {
        return Err(bad(source, "has no \"modelTopology\""));
    };
    let (model, keras_version) = match topo.get("model_config") {
        Some(m) => (m, topo.get("keras_version")),
        None => (topo, topo.get("keras_version")),
    };
    if model.get("class_name").and_then(Value::as_str).is_none() {
        return Err(bad(
            source,
            "\"modelTopology\" has no \"class_name\" (expected a Keras Sequential or Model)",
        ));
    }
    let keras_version = keras_version
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| Some("tfjs-layers".into()));
    let manifest = match top.get("weightsManifest") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(groups)) => groups
            .iter()
            .enumerate()
            .map(|(i, g)| parse_group(g, i, source))
            .collect::<Result<_>>()?,
        Some(_) => return Err(bad(source, "\"weightsManifest\" is not a list")),
    };
    Ok(TfjsModel {
        topology: model.to_string(),
        keras_version,
        manifest,
    })
}

fn parse_group(g: &Value, i: usize, source: &str) -> Result<ManifestGroup> {
    let at = |what: &str| format!("weightsManifest[{i}]: {what}");
    let paths = g
        .get("paths")
        .and_then(Value::as_array)
        .ok_or_else(|| bad(source, at("no \"paths\" list")))?
        .iter()
        .map(|p| {
            p.as_str()
                .map(str::to_string)
                .ok_or_else(|| bad(source, at("a path is not a string")))
        })
        .collect::<Result<Vec<_>>>()?;
    let weights = g
        .get("weights")
        .and_then(Value::as_array)
        .ok_or_else(|| bad(source, at("no \"weights\" list")))?
        .iter()
        .map(|w| parse_entry(w, &at, source))
        .collect::<Result<Vec<_>>>()?;
    Ok(ManifestGroup { paths, weights })
}

fn parse_entry(w: &Value, at: &dyn Fn(&str) -> String, source: &str) -> Result<ManifestEntry> {
    let name = w
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| bad(source, at("a weight has no \"name\"")))?
        .to_string();
    let here = |what: String| bad(source, at(&format!("weight '{name}': {what}")));
    let shape = w
        .get("shape")
        .and_then(Value::as_array)
        .ok_or_else(|| here("no \"shape\" list".into()))?
        .iter()
        .map(|d| {
            d.as_u64()
                .and_then(|d| usize::try_from(d).ok())
                .ok_or_else(|| here(format!("shape entry {d} is not a size")))
        })
        .collect::<Result<Vec<_>>>()?;
    let dtype = w.get("dtype").and_then(Value::as_str).unwrap_or("float32");
    let stored = match w.get("quantization") {
        None | Some(Value::Null) => match dtype {
            "float32" => Stored::F32,
            "int32" => Stored::I32,
            "bool" => Stored::Bool,
            other => {
                return Err(here(format!(
                    "dtype \"{other}\" (expected float32, int32 or bool)"
                )))
            }
        },
        Some(q) => {
            let qd = q.get("dtype").and_then(Value::as_str).unwrap_or("");
            let num = |k: &str| {
                q.get(k)
                    .and_then(Value::as_f64)
                    .filter(|v| v.is_finite())
                    .ok_or_else(|| here(format!("quantization \"{qd}\" has no finite \"{k}\"")))
            };
            match qd {
                "uint8" => Stored::U8 {
                    scale: num("scale")?,
                    min: num("min")?,
                },
                "uint16" => Stored::U16 {
                    scale: num("scale")?,
                    min: num("min")?,
                },
                "float16" => Stored::F16,
                other => {
                    return Err(here(format!(
                        "quantization dtype \"{other}\" (expected uint8, uint16 or float16)"
                    )))
                }
            }
        }
    };
    Ok(ManifestEntry {
        name,
        shape,
        stored,
        group: w.get("group").and_then(Value::as_str).map(str::to_string),
    })
}

/// The names of the shard files, in manifest order (each once).
pub fn shard_paths(model: &TfjsModel) -> Vec<String> {
    let mut seen = HashSet::new();
    model
        .manifest
        .iter()
        .flat_map(|g| g.paths.iter())
        .filter(|p| seen.insert(p.as_str()))
        .cloned()
        .collect()
}

/// The file name part of a shard path (`./group1-shard1of2.bin` → `group1-shard1of2.bin`).
pub fn shard_name(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

/// The layer and variable a weight name refers to: the last two `/`-separated parts (a
/// nested model's name may come first; `:0` is dropped). `layers` are the model's layer
/// names: a longer prefix that is itself a layer name wins.
fn split_name<'a>(name: &'a str, layers: &HashSet<&str>) -> (String, &'a str) {
    let name = name.strip_suffix(":0").unwrap_or(name);
    let Some((prefix, var)) = name.rsplit_once('/') else {
        return (String::new(), name);
    };
    if layers.contains(prefix) {
        return (prefix.to_string(), var);
    }
    let last = prefix.rsplit('/').next().unwrap_or(prefix);
    (last.to_string(), var)
}

/// Decodes the weights of `model` from its shards (`shard(path)` returns a shard's bytes),
/// grouped by layer for the model whose layer names are `layers`. Each group's declared
/// size is checked against its shards before any tensor is decoded, and against the
/// parameter budget.
pub fn read_weights(
    model: &TfjsModel,
    layers: &[String],
    source: &str,
    mut shard: impl FnMut(&str) -> Result<Vec<u8>>,
) -> Result<WeightStore> {
    let layer_set: HashSet<&str> = layers.iter().map(String::as_str).collect();
    let budget = crate::limits::get().max_params;
    let mut total_values = 0u64;
    let mut by_layer: BTreeMap<String, Vec<(String, RawTensor)>> = BTreeMap::new();
    let mut seen = HashSet::new();
    for (gi, group) in model.manifest.iter().enumerate() {
        let mut need = 0u64;
        for w in &group.weights {
            let n = crate::limits::checked_product(&w.shape)
                .and_then(|n| n.checked_mul(w.stored.bytes() as u64));
            let Some(n) = n else {
                return Err(bad(
                    source,
                    format!("weight '{}': its size overflows", w.name),
                ));
            };
            need = need.saturating_add(n);
            if w.group.as_deref() != Some("optimizer") {
                total_values = total_values
                    .saturating_add(crate::limits::checked_product(&w.shape).unwrap_or(u64::MAX));
            }
        }
        crate::limits::check(
            format!("the weights of {source}"),
            Some(total_values),
            budget,
            "GLIMPSE_MAX_PARAMS",
        )?;
        let mut data = Vec::new();
        for p in &group.paths {
            let bytes = shard(p)?;
            data.extend_from_slice(&bytes);
            if data.len() as u64 > need.saturating_add(1 << 20) {
                break;
            }
        }
        if (data.len() as u64) < need {
            return Err(bad(
                source,
                format!(
                    "weightsManifest[{gi}] declares {need} bytes of weights but its shards \
                     ({}) hold {}",
                    group.paths.join(", "),
                    data.len()
                ),
            ));
        }
        let mut offset = 0usize;
        for w in &group.weights {
            let n: usize = w.shape.iter().product();
            let len = n * w.stored.bytes();
            let bytes = &data[offset..offset + len];
            offset += len;
            if w.group.as_deref() == Some("optimizer") {
                continue;
            }
            if !seen.insert(w.name.as_str()) {
                return Err(bad(source, format!("weight '{}' is listed twice", w.name)));
            }
            let values = decode(bytes, w.stored);
            let (layer, var) = split_name(&w.name, &layer_set);
            by_layer.entry(layer).or_default().push((
                var.to_string(),
                RawTensor {
                    name: Some(var.to_string()),
                    shape: w.shape.clone(),
                    data: values,
                },
            ));
        }
    }
    Ok(WeightStore {
        layers: by_layer
            .into_iter()
            .map(|(l, ts)| (l, ts.into_iter().map(|(_, t)| t).collect()))
            .collect(),
        source: source.to_string(),
    })
}

fn decode(bytes: &[u8], stored: Stored) -> Vec<f32> {
    match stored {
        Stored::F32 => bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
        Stored::I32 => bytes
            .chunks_exact(4)
            .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f32)
            .collect(),
        Stored::Bool => bytes.iter().map(|&b| f32::from(u8::from(b != 0))).collect(),
        Stored::U8 { scale, min } => bytes
            .iter()
            .map(|&q| (q as f64 * scale + min) as f32)
            .collect(),
        Stored::U16 { scale, min } => bytes
            .chunks_exact(2)
            .map(|b| (u16::from_le_bytes([b[0], b[1]]) as f64 * scale + min) as f32)
            .collect(),
        Stored::F16 => {
            let mut values = vec![0.0; bytes.len() / 2];
            glimpse_kernels::layout::f16_bytes_to_f32(bytes, false, &mut values);
            values
        }
    }
}

/// Teachable Machine's `metadata.json`: its class labels, when it has them.
pub fn metadata_labels(text: &str) -> Option<Vec<String>> {
    let v: Value = serde_json::from_str(text).ok()?;
    let labels = v.get("labels")?.as_array()?;
    labels
        .iter()
        .map(|l| l.as_str().map(str::to_string))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_split_into_layer_and_variable() {
        let layers: HashSet<&str> = ["conv", "model/inner"].into_iter().collect();
        assert_eq!(
            split_name("conv/kernel", &layers),
            ("conv".into(), "kernel")
        );
        assert_eq!(
            split_name("seq/conv/kernel:0", &layers),
            ("conv".into(), "kernel")
        );
        assert_eq!(
            split_name("model/inner/bias", &layers),
            ("model/inner".into(), "bias")
        );
    }
}
