//! Files that carry both structure and weights: `.keras` zips and full-model `.h5`.

use super::{hdf5, WeightStore};
use crate::error::{Error, Result};
use std::io::{Cursor, Read};

/// Structure JSON text and weights read from one file.
#[derive(Debug)]
pub struct ModelArchive {
    /// The structure JSON (`config.json` / `model_config`).
    pub structure: String,
    /// The weights.
    pub weights: WeightStore,
    /// The Keras version recorded beside the structure, when the file records one.
    pub keras_version: Option<String>,
}

/// Reads a `.keras` zip: `config.json` + `model.weights.h5`.
pub fn read_keras_zip(bytes: &[u8], source: &str) -> Result<ModelArchive> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| Error::weights_file(source, format!("not a .keras zip archive: {e}")))?;
    let mut entry = |name: &str| -> Result<Vec<u8>> {
        let mut f = zip.by_name(name).map_err(|e| {
            Error::weights_file(source, format!("the archive has no '{name}' ({e})"))
        })?;
        let mut buf = Vec::with_capacity(f.size() as usize);
        f.read_to_end(&mut buf)
            .map_err(|e| Error::weights_file(source, format!("reading '{name}': {e}")))?;
        Ok(buf)
    };
    let structure = String::from_utf8(entry("config.json")?)
        .map_err(|_| Error::weights_file(source, "config.json is not UTF-8"))?;
    let weights = hdf5::read_weights(
        entry("model.weights.h5")?,
        &format!("{source}:model.weights.h5"),
    )?;
    Ok(ModelArchive {
        structure,
        weights,
        keras_version: None,
    })
}

/// Reads a full-model legacy `.h5` (`model.save('x.h5')`): `model_config` + `model_weights`.
pub fn read_full_h5(bytes: Vec<u8>, source: &str) -> Result<ModelArchive> {
    let file = hdf5::open(bytes, source)?;
    let structure = hdf5::root_string_attr(&file, "model_config", source)?.ok_or_else(|| {
        Error::weights_file(
            source,
            "no 'model_config' attribute: this .h5 holds weights only; pass the structure JSON \
             and this file as --weights",
        )
    })?;
    let weights = hdf5::read_weights_from(&file, source)?;
    let keras_version = hdf5::root_string_attr(&file, "keras_version", source)?;
    Ok(ModelArchive {
        structure,
        weights,
        keras_version,
    })
}

/// Whether bytes look like a zip archive.
pub fn is_zip(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04")
}

/// Writes a `.keras` zip as Keras 3 saves one (`config.json`, `metadata.json`,
/// `model.weights.h5`), plus `extra` entries (such as `labels.txt`, which Keras ignores).
pub fn write_keras_zip(
    structure: &str,
    weights_h5: &[u8],
    extra: &[(&str, &[u8])],
) -> Result<Vec<u8>> {
    use std::io::Write;
    let err =
        |e: &dyn std::fmt::Display| Error::weights_file(".keras", format!("cannot write: {e}"));
    let metadata =
        serde_json::json!({"keras_version": "3.15.1", "date_saved": "", "saved_by": "glimpse"});
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    let metadata = metadata.to_string();
    let mut entries: Vec<(&str, &[u8])> = vec![
        ("metadata.json", metadata.as_bytes()),
        ("config.json", structure.as_bytes()),
        ("model.weights.h5", weights_h5),
    ];
    entries.extend_from_slice(extra);
    for (name, bytes) in entries {
        zip.start_file(name, options).map_err(|e| err(&e))?;
        zip.write_all(bytes).map_err(|e| err(&e))?;
    }
    Ok(zip.finish().map_err(|e| err(&e))?.into_inner())
}

/// The bytes of entry `name` of a zip, when it has one.
pub fn zip_entry(bytes: &[u8], name: &str) -> Option<Vec<u8>> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).ok()?;
    let mut f = zip.by_name(name).ok()?;
    let mut buf = Vec::new();
    f.read_to_end(&mut buf).ok()?;
    Some(buf)
}
