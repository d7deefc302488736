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

/// Largest `config.json` read from a `.keras` zip (EfficientNetB7's is under 1 MB).
const MAX_CONFIG: u64 = 64 << 20;

/// Reads entry `name` of a zip, streaming: at most `cap` bytes are decompressed whatever the
/// entry declares, and `check` sees its first bytes before the rest is read.
fn read_entry(
    zip: &mut zip::ZipArchive<Cursor<&[u8]>>,
    name: &str,
    cap: u64,
    source: &str,
    check: impl FnOnce(&[u8]) -> Result<()>,
) -> Result<Vec<u8>> {
    let names: Vec<String> = zip
        .file_names()
        .take(8)
        .filter_map(|n| n.ok().map(|n| n.into_owned()))
        .collect();
    let mut f = match zip.by_name(name) {
        Ok(f) => f,
        Err(zip::result::ZipError::FileNotFound) => {
            return Err(Error::weights_file(
                source,
                if names.is_empty() {
                    "an empty zip archive; a .keras file holds config.json and model.weights.h5"
                        .to_string()
                } else {
                    format!(
                        "the archive has no '{name}' (a .keras file holds config.json and \
                         model.weights.h5; this one has {})",
                        names.join(", ")
                    )
                },
            ))
        }
        Err(zip::result::ZipError::UnsupportedArchive(m)) => {
            return Err(Error::weights_file(
                source,
                format!("'{name}' cannot be read: {m} (encrypted entries are not supported)"),
            ))
        }
        Err(e) => {
            return Err(Error::weights_file(
                source,
                format!("reading '{name}': {e}"),
            ))
        }
    };
    if f.encrypted() {
        return Err(Error::weights_file(
            source,
            format!("'{name}' is encrypted; Glimpse reads unencrypted .keras files"),
        ));
    }
    if f.size() > cap {
        return Err(Error::weights_file(
            source,
            format!(
                "'{name}' declares {} bytes, more than the {cap} Glimpse reads from this archive",
                f.size()
            ),
        ));
    }
    let err = |e: std::io::Error| Error::weights_file(source, format!("reading '{name}': {e}"));
    let mut head = Vec::new();
    (&mut f).take(16).read_to_end(&mut head).map_err(err)?;
    check(&head)?;
    let mut buf = head;
    // Never trust the declared size for the allocation; stop one byte past the cap.
    (&mut f)
        .take(cap + 1 - buf.len() as u64)
        .read_to_end(&mut buf)
        .map_err(err)?;
    if buf.len() as u64 > cap {
        return Err(Error::weights_file(
            source,
            format!("'{name}' decompresses to more than the {cap} bytes Glimpse reads"),
        ));
    }
    Ok(buf)
}

/// Reads a `.keras` zip: `config.json` + `model.weights.h5`. Entries are read with caps (the
/// weights at most 64 times the archive's size, at least 256 MiB and at most 4 GiB; the
/// structure 64 MiB), the weights' HDF5 signature checked before the rest is decompressed.
pub fn read_keras_zip(bytes: &[u8], source: &str) -> Result<ModelArchive> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| Error::weights_file(source, format!("not a .keras zip archive: {e}")))?;
    let config = read_entry(&mut zip, "config.json", MAX_CONFIG, source, |_| Ok(()))?;
    let structure = String::from_utf8(config)
        .map_err(|_| Error::weights_file(source, "config.json is not UTF-8"))?;
    let cap = (bytes.len() as u64)
        .saturating_mul(64)
        .clamp(256 << 20, 4 << 30);
    let h5_name = format!("{source}:model.weights.h5");
    let h5 = read_entry(&mut zip, "model.weights.h5", cap, source, |head| {
        if hdf5_pure::is_hdf5_bytes(head) || head.len() < 8 {
            Ok(())
        } else {
            Err(Error::weights_file(
                &h5_name,
                format!(
                    "not an HDF5 file (expected the HDF5 signature \\x89HDF, found {:02x?})",
                    &head[..8]
                ),
            ))
        }
    })?;
    let weights = hdf5::read_weights(h5, &h5_name)?;
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
            "no 'model_config' attribute: this .h5 holds weights only (save_weights); load it \
             together with the model's structure JSON (model.to_json())",
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

/// Whether bytes look like a zip archive (an empty one starts with its end record).
pub fn is_zip(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06")
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

/// The bytes of entry `name` of a zip (at most 64 MiB: labels, metadata), when it has one.
pub fn zip_entry(bytes: &[u8], name: &str) -> Option<Vec<u8>> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).ok()?;
    read_entry(&mut zip, name, MAX_CONFIG, "<zip>", |_| Ok(())).ok()
}

/// The files of a zip that holds a model export (Teachable Machine's downloads: `model.json`,
/// `metadata.json` and `weights.bin`, or `keras_model.h5` and `labels.txt`): each entry's base
/// name and bytes, folders and entries past 64 files skipped. Entries are read with the
/// `.keras` caps (all together at most 64 times the archive, 256 MiB .. 4 GiB).
pub fn zip_files(bytes: &[u8], source: &str) -> Result<Vec<(String, Vec<u8>)>> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| Error::weights_file(source, format!("not a readable zip archive: {e}")))?;
    let names: Vec<String> = zip
        .file_names()
        .filter_map(|n| n.ok().map(|n| n.into_owned()))
        .filter(|n| !n.ends_with('/'))
        .take(64)
        .collect();
    let mut left = (bytes.len() as u64)
        .saturating_mul(64)
        .clamp(256 << 20, 4 << 30);
    let mut out = Vec::new();
    for name in names {
        let data = read_entry(&mut zip, &name, left, source, |_| Ok(()))?;
        left -= data.len() as u64;
        let base = name.rsplit('/').next().unwrap_or(&name).to_string();
        out.push((base, data));
    }
    Ok(out)
}
