//! A model with what a person needs to use it: its class names, how its images are prepared,
//! where its features end. One type that the CLI, the wasm API, the JS package and the page
//! load, save, export and import.
//!
//! On disk it is either a folder (`model.json`, `model.weights.h5`, `labels.txt`,
//! `preprocessing.json`: what `glimpse zoo fetch` and `glimpse fine-tune` write) or one `.keras`
//! file, which real Keras opens as it is: its `config.json` and `model.weights.h5`, plus
//! `labels.txt` and `glimpse.json` (the preprocessing and the features layer), which Keras
//! ignores. A full-model `.h5` carries the model only.

use crate::error::{Error, Result};
use crate::model::Model;
use crate::weights::archive;
use crate::weights::write::Precision;
use burn::tensor::Device;
use serde_json::Value;

/// The `.keras` entry that holds what Keras does not: [`Metadata`] without the labels.
pub const METADATA_FILE: &str = "glimpse.json";
/// The `.keras` entry (and folder file) with the class names, one per line.
pub const LABELS_FILE: &str = "labels.txt";

/// What a model needs besides itself to be used on photos.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metadata {
    /// The class names, in the output's order.
    pub labels: Option<Vec<String>>,
    /// How images become the model's input, as the JS package describes it (`size` or
    /// `height`/`width`, `crop_fraction`, `resize`, `scale`, `offset`, `square`): a JSON object
    /// of numbers, strings and booleans.
    pub preprocessing: Option<Value>,
    /// The layer whose output is the network's features (where a new head goes).
    pub features_layer: Option<String>,
}

/// A model and its [`Metadata`].
#[derive(Debug, Clone)]
pub struct Bundle {
    /// The model.
    pub model: Model,
    /// Its labels, preprocessing and features layer.
    pub meta: Metadata,
}

/// Labels text (one per line, blank lines skipped) as a list; Teachable Machine's numbering
/// (`0 Class 1`, `1 Class 2`, ... on every line) dropped. The package's `parseLabels` follows
/// the same rule.
pub fn parse_labels(text: &str) -> Vec<String> {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let numbered = !lines.is_empty()
        && lines
            .iter()
            .enumerate()
            .all(|(i, l)| l.starts_with(&format!("{i} ")));
    lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            if numbered {
                l[i.to_string().len() + 1..].trim().to_string()
            } else {
                l.to_string()
            }
        })
        .collect()
}

/// `v` when it is a preprocessing object: keys to numbers, strings or booleans.
pub fn check_preprocessing(v: Value, source: &str) -> Result<Value> {
    let ok = v.as_object().is_some_and(|o| {
        o.values()
            .all(|x| x.is_number() || x.is_string() || x.is_boolean())
    });
    if ok {
        Ok(v)
    } else {
        Err(Error::input(
            source,
            format!(
                "preprocessing: expected an object of numbers, strings and booleans, found {}",
                short(&v)
            ),
        ))
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    match s.char_indices().nth(80) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s,
    }
}

impl Metadata {
    /// What a `.keras` file's `labels.txt` and `glimpse.json` say (each optional; a
    /// `glimpse.json` that is not what Glimpse writes is an error naming it).
    pub fn from_keras_zip(bytes: &[u8], source: &str) -> Result<Metadata> {
        let labels = archive::zip_entry(bytes, LABELS_FILE)
            .map(|t| parse_labels(&String::from_utf8_lossy(&t)));
        let mut meta = Metadata {
            labels,
            ..Metadata::default()
        };
        if let Some(raw) = archive::zip_entry(bytes, METADATA_FILE) {
            let v: Value = serde_json::from_slice(&raw).map_err(|e| Error::Json {
                context: format!("{source}: {METADATA_FILE}"),
                message: e.to_string(),
            })?;
            let what = format!("{source}: {METADATA_FILE}");
            meta.preprocessing = match v.get("preprocessing") {
                None | Some(Value::Null) => None,
                Some(p) => Some(check_preprocessing(p.clone(), &what)?),
            };
            meta.features_layer = match v.get("features_layer") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => Some(s.clone()),
                Some(other) => {
                    return Err(Error::input(
                        what,
                        format!(
                            "features_layer: expected a layer name, found {}",
                            short(other)
                        ),
                    ))
                }
            };
        }
        Ok(meta)
    }

    /// The `.keras` entries that carry this metadata.
    pub fn keras_entries(&self) -> Vec<(&'static str, Vec<u8>)> {
        let mut out = Vec::new();
        if let Some(l) = &self.labels {
            out.push((LABELS_FILE, (l.join("\n") + "\n").into_bytes()));
        }
        if self.preprocessing.is_some() || self.features_layer.is_some() {
            let v = serde_json::json!({
                "preprocessing": self.preprocessing,
                "features_layer": self.features_layer,
            });
            out.push((
                METADATA_FILE,
                serde_json::to_vec_pretty(&v).expect("JSON values serialize"),
            ));
        }
        out
    }
}

impl Bundle {
    /// A model with no metadata.
    pub fn new(model: Model) -> Bundle {
        Bundle {
            model,
            meta: Metadata::default(),
        }
    }

    /// A model file's bundle: a `.keras` zip (with its labels and Glimpse's metadata when it
    /// holds them) or a full-model `.h5` (the model only).
    pub fn from_file(bytes: Vec<u8>, source: &str, device: &Device) -> Result<Bundle> {
        if archive::is_zip(&bytes) {
            let meta = Metadata::from_keras_zip(&bytes, source)?;
            let model = Model::from_archive(bytes, source, device)?;
            Ok(Bundle { model, meta })
        } else {
            Ok(Bundle::new(Model::from_archive(bytes, source, device)?))
        }
    }

    /// One `.keras` file (what `keras.saving.load_model` opens) with the labels and the
    /// metadata inside, float variables at `precision`; weights read back asynchronously (as
    /// WebGPU on wasm requires).
    pub async fn to_keras_async(&self, precision: Precision) -> Result<Vec<u8>> {
        let structure = self.model.structure_json()?;
        let h5 = self.model.keras3_weights_async(precision).await?;
        let entries = self.meta.keras_entries();
        let extra: Vec<(&str, &[u8])> = entries.iter().map(|(n, b)| (*n, b.as_slice())).collect();
        archive::write_keras_zip(&structure, &h5, &extra)
    }

    /// [`Bundle::to_keras_async`] driven here (native only).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn to_keras(&self, precision: Precision) -> Result<Vec<u8>> {
        crate::runtime::block_on(self.to_keras_async(precision))
    }

    /// Whatever model file or folder a person names (what the CLI opens): a TF.js model
    /// (its `model.json` or its folder; the shards its manifest names, inside that folder only;
    /// Teachable Machine's labels from `metadata.json` beside it), a structure `.json` with
    /// `weights` (`.weights.h5` or Keras 2 `.h5`), a `.keras` zip (its labels and metadata) or
    /// a full-model `.h5`. Files over [`crate::io::MAX_MODEL_FILE`] are refused.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn open_path(
        model: &std::path::Path,
        weights: Option<&std::path::Path>,
        device: &Device,
    ) -> Result<Bundle> {
        use std::path::Path;
        let read = |p: &Path| crate::io::read_capped(p, crate::io::MAX_MODEL_FILE);
        let name = model.display().to_string();
        let is_json = model
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"));
        if let Some((file, text)) = tfjs_json(model)? {
            if weights.is_some() {
                return Err(Error::input(
                    &name,
                    "--weights is not for a TF.js model.json: its manifest names the weight files",
                ));
            }
            let source = file.display().to_string();
            let m = Model::from_tfjs(&text, &source, |p| tfjs_shard(&file, p), device)?;
            let dir = file.parent().unwrap_or(Path::new("."));
            let labels = std::fs::read_to_string(dir.join("metadata.json"))
                .ok()
                .and_then(|t| crate::weights::tfjs::metadata_labels(&t));
            return Ok(Bundle {
                model: m,
                meta: Metadata {
                    labels,
                    ..Metadata::default()
                },
            });
        }
        if is_json {
            let json = String::from_utf8(read(model)?)
                .map_err(|_| Error::input(&name, "the structure JSON is not UTF-8"))?;
            let Some(w) = weights else {
                return Err(Error::input(
                    &name,
                    "a structure .json needs --weights (a .weights.h5 or Keras 2 .h5 file)",
                ));
            };
            let m =
                Model::from_json_and_weights(&json, read(w)?, &w.display().to_string(), device)?;
            return Ok(Bundle::new(m));
        }
        if weights.is_some() {
            return Err(Error::input(
                &name,
                "--weights is only for a structure .json; this file carries its own",
            ));
        }
        Bundle::from_file(read(model)?, &name, device)
    }

    /// The parsed structure when `path` is a Keras structure `.json` (not a TF.js
    /// `model.json`): what a summary needs, without allocating a variable. `None` for any other
    /// file or folder.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn structure_at(path: &std::path::Path) -> Result<Option<crate::keras::ModelSpec>> {
        let is_json = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"));
        if !is_json || path.is_dir() {
            return Ok(None);
        }
        let bytes = crate::io::read_capped(path, crate::io::MAX_MODEL_FILE)?;
        if crate::weights::tfjs::is_model_json(&bytes) {
            return Ok(None);
        }
        let json = String::from_utf8(bytes).map_err(|_| {
            Error::input(
                path.display().to_string(),
                "the structure JSON is not UTF-8",
            )
        })?;
        crate::keras::parse_model(&json).map(Some)
    }

    /// A model folder: `model.json` and `model.weights.h5`, with `labels.txt` and
    /// `preprocessing.json` when there (what `glimpse zoo fetch` and `glimpse fine-tune` write).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn open_dir(dir: &std::path::Path, device: &Device) -> Result<Bundle> {
        let path = |f: &str| dir.join(f);
        let read = |f: &str| std::fs::read(path(f)).map_err(|e| Error::io(path(f), e));
        for f in ["model.json", "model.weights.h5"] {
            if !path(f).is_file() {
                return Err(Error::input(
                    dir.display().to_string(),
                    format!("missing {f}: not a model folder"),
                ));
            }
        }
        let json = String::from_utf8(read("model.json")?)
            .map_err(|_| Error::input(path("model.json").display().to_string(), "not UTF-8"))?;
        let model = Model::from_json_and_weights(
            &json,
            read("model.weights.h5")?,
            "model.weights.h5",
            device,
        )?;
        let labels = path(LABELS_FILE)
            .is_file()
            .then(|| read(LABELS_FILE).map(|t| parse_labels(&String::from_utf8_lossy(&t))))
            .transpose()?;
        let preprocessing = if path("preprocessing.json").is_file() {
            let v: Value =
                serde_json::from_slice(&read("preprocessing.json")?).map_err(|e| Error::Json {
                    context: path("preprocessing.json").display().to_string(),
                    message: e.to_string(),
                })?;
            Some(check_preprocessing(v, "preprocessing.json")?)
        } else {
            None
        };
        Ok(Bundle {
            model,
            meta: Metadata {
                labels,
                preprocessing,
                features_layer: None,
            },
        })
    }
}

/// The `model.json` of a TF.js model given as its folder or as the file itself; `None` for
/// anything else.
#[cfg(not(target_arch = "wasm32"))]
fn tfjs_json(model: &std::path::Path) -> Result<Option<(std::path::PathBuf, String)>> {
    let file = if model.is_dir() {
        let f = model.join("model.json");
        if !f.is_file() {
            return Err(Error::input(
                model.display().to_string(),
                "a folder is read as a TF.js model, and this one has no model.json",
            ));
        }
        f
    } else if model
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
    {
        model.to_path_buf()
    } else {
        return Ok(None);
    };
    let bytes = crate::io::read_capped(&file, crate::io::MAX_MODEL_FILE)?;
    if !crate::weights::tfjs::is_model_json(&bytes) {
        return Ok(None);
    }
    let text = String::from_utf8(bytes)
        .map_err(|_| Error::input(file.display().to_string(), "model.json is not UTF-8"))?;
    Ok(Some((file, text)))
}

/// The shard `path` of the TF.js model whose `model.json` is `json`: relative to its folder,
/// never outside it.
#[cfg(not(target_arch = "wasm32"))]
fn tfjs_shard(json: &std::path::Path, path: &str) -> Result<Vec<u8>> {
    use std::path::{Component, Path};
    let rel = Path::new(path);
    let outside = rel.is_absolute()
        || rel
            .components()
            .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir));
    if outside {
        return Err(Error::input(
            json.display().to_string(),
            format!("weight file '{path}' is outside the model's folder"),
        ));
    }
    let dir = json.parent().unwrap_or(Path::new("."));
    let file = dir.join(rel);
    if !file.is_file() {
        return Err(Error::input(
            json.display().to_string(),
            format!(
                "the manifest names weight file '{path}', which is not in {}",
                dir.display()
            ),
        ));
    }
    crate::io::read_capped(&file, crate::io::MAX_MODEL_FILE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn metadata_round_trips_through_keras_entries() {
        let meta = Metadata {
            labels: Some(vec!["ants".into(), "bees".into()]),
            preprocessing: Some(json!({"size": 224, "crop_fraction": 0.875, "resize": "bicubic"})),
            features_layer: Some("avg_pool".into()),
        };
        let entries = meta.keras_entries();
        let extra: Vec<(&str, &[u8])> = entries.iter().map(|(n, b)| (*n, b.as_slice())).collect();
        let zip = archive::write_keras_zip("{}", b"h5", &extra).unwrap();
        assert_eq!(Metadata::from_keras_zip(&zip, "t.keras").unwrap(), meta);
        // Labels alone: no glimpse.json.
        let labels_only = Metadata {
            labels: meta.labels.clone(),
            ..Metadata::default()
        };
        assert_eq!(labels_only.keras_entries().len(), 1);
        // A glimpse.json that is not Glimpse's is an error naming the file.
        let bad = archive::write_keras_zip(
            "{}",
            b"h5",
            &[(METADATA_FILE, br#"{"preprocessing": [1, 2]}"#.as_slice())],
        )
        .unwrap();
        let e = Metadata::from_keras_zip(&bad, "t.keras")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("glimpse.json") && e.contains("preprocessing"),
            "{e}"
        );
    }

    #[test]
    fn labels_text_skips_blank_lines_and_teachable_machines_numbers() {
        assert_eq!(parse_labels("a\n\n b \r\nc"), ["a", "b", "c"]);
        assert_eq!(parse_labels("0 Cats\n1 Dogs  \n"), ["Cats", "Dogs"]);
        // Numbers only where every line has its own: a label that starts with one stays.
        assert_eq!(parse_labels("0 Cats\n7 Dogs"), ["0 Cats", "7 Dogs"]);
        assert_eq!(parse_labels("3 Dogs"), ["3 Dogs"]);
    }
}
