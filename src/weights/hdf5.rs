//! Keras weights in HDF5, read with the pure-Rust `hdf5-pure` (also builds for wasm32).

use super::{RawTensor, WeightStore};
use crate::error::{Error, Result};
use hdf5_pure::{AttrValue, File, Group};
use std::collections::HashMap;

/// Opens HDF5 bytes, with a clear error when they are not HDF5.
pub fn open(bytes: Vec<u8>, source: &str) -> Result<File> {
    if !hdf5_pure::is_hdf5_bytes(&bytes) {
        return Err(Error::weights_file(
            source,
            format!(
                "not an HDF5 file (expected the HDF5 signature \\x89HDF, found {:02x?})",
                &bytes[..bytes.len().min(8)]
            ),
        ));
    }
    File::from_bytes(bytes).map_err(|e| Error::weights_file(source, format!("corrupt HDF5: {e}")))
}

fn h5err(source: &str, what: &str, e: impl std::fmt::Display) -> Error {
    Error::weights_file(source, format!("{what}: {e}"))
}

fn attr_strings(v: &AttrValue) -> Vec<String> {
    if let Some(s) = v.as_strings() {
        return s.to_vec();
    }
    if let Some(s) = v.as_str() {
        return vec![s.to_string()];
    }
    Vec::new()
}

fn attr_string(attrs: &HashMap<String, AttrValue>, key: &str) -> Option<String> {
    attrs
        .get(key)
        .and_then(|v| attr_strings(v).into_iter().next())
}

fn read_tensor(group: &Group, path: &str, source: &str) -> Result<RawTensor> {
    let ds = group
        .dataset(path)
        .map_err(|e| h5err(source, &format!("dataset '{path}'"), e))?;
    let shape: Vec<usize> = ds
        .shape()
        .map_err(|e| h5err(source, &format!("shape of '{path}'"), e))?
        .into_iter()
        .map(|d| d as usize)
        .collect();
    let data = match ds.read_f32() {
        Ok(d) => d,
        // Integer variables (Normalization's `count`) and doubles.
        Err(_) => match ds.read_f64() {
            Ok(d) => d.into_iter().map(|x| x as f32).collect(),
            Err(_) => ds
                .read_i32()
                .map_err(|e| h5err(source, &format!("values of '{path}'"), e))?
                .into_iter()
                .map(|x| x as f32)
                .collect(),
        },
    };
    let expected: usize = shape.iter().product();
    if data.len() != expected {
        return Err(Error::weights_file(
            source,
            format!(
                "dataset '{path}': shape {shape:?} holds {expected} values, read {}",
                data.len()
            ),
        ));
    }
    let name = path
        .rsplit('/')
        .next()
        .map(|n| n.trim_end_matches(":0").to_string());
    Ok(RawTensor { name, shape, data })
}

/// Reads a weights file in either Keras layout.
pub fn read_weights(bytes: Vec<u8>, source: &str) -> Result<WeightStore> {
    let file = open(bytes, source)?;
    read_weights_from(&file, source)
}

/// Reads weights from an opened file: Keras 3 (`layers/...`) or legacy (`layer_names`).
pub fn read_weights_from(file: &File, source: &str) -> Result<WeightStore> {
    let root = file.root();
    let groups = root.groups().map_err(|e| h5err(source, "root group", e))?;
    if groups.iter().any(|g| g == "layers") {
        return read_keras3(&root, source);
    }
    if groups.iter().any(|g| g == "model_weights") {
        let g = root
            .group("model_weights")
            .map_err(|e| h5err(source, "group 'model_weights'", e))?;
        return read_legacy(&g, source);
    }
    let attrs = root
        .attrs()
        .map_err(|e| h5err(source, "root attributes", e))?;
    if attrs.contains_key("layer_names") {
        return read_legacy(&root, source);
    }
    Err(Error::weights_file(
        source,
        "HDF5 file without Keras weights: expected a 'layers' group (Keras 3 .weights.h5), \
         a 'model_weights' group (full-model .h5) or a 'layer_names' attribute (save_weights .h5)",
    ))
}

fn read_keras3(root: &Group, source: &str) -> Result<WeightStore> {
    let mut store = WeightStore {
        source: source.to_string(),
        ..Default::default()
    };
    let layers = root
        .group("layers")
        .map_err(|e| h5err(source, "group 'layers'", e))?;
    walk_keras3(&layers, "layers", 0, source, &mut store)?;
    Ok(store)
}

/// Deepest nesting of models inside models that Glimpse follows (a corrupt file can link a
/// group into itself).
const MAX_DEPTH: usize = 32;

fn walk_keras3(
    group: &Group,
    path: &str,
    depth: usize,
    source: &str,
    store: &mut WeightStore,
) -> Result<()> {
    if depth > MAX_DEPTH {
        return Err(Error::weights_file(
            source,
            format!("groups nested deeper than {MAX_DEPTH} levels at '{path}' (a cycle?)"),
        ));
    }
    let children = group.groups().map_err(|e| h5err(source, path, e))?;
    for child in children {
        let cpath = format!("{path}/{child}");
        let g = group.group(&child).map_err(|e| h5err(source, &cpath, e))?;
        let sub = g.groups().map_err(|e| h5err(source, &cpath, e))?;
        if sub.iter().any(|s| s == "vars") {
            let vars = g.group("vars").map_err(|e| h5err(source, &cpath, e))?;
            let attrs = vars.attrs().map_err(|e| h5err(source, &cpath, e))?;
            let name = attr_string(&attrs, "name").unwrap_or_else(|| child.clone());
            let mut names = vars.datasets().map_err(|e| h5err(source, &cpath, e))?;
            names.sort_by_key(|n| n.parse::<usize>().unwrap_or(usize::MAX));
            let mut tensors = Vec::with_capacity(names.len());
            for n in &names {
                let mut t = read_tensor(&vars, n, source)?;
                t.name = None; // Keras 3 stores variables by index only
                tensors.push(t);
            }
            if !tensors.is_empty() {
                store.layers.insert(name, tensors);
            }
        }
        // Nested models and layers that own sub-layers.
        for s in sub.iter().filter(|s| *s != "vars") {
            let sg = g.group(s).map_err(|e| h5err(source, &cpath, e))?;
            walk_keras3(&sg, &format!("{cpath}/{s}"), depth + 1, source, store)?;
        }
    }
    Ok(())
}

fn read_legacy(group: &Group, source: &str) -> Result<WeightStore> {
    let mut store = WeightStore {
        source: source.to_string(),
        ..Default::default()
    };
    let attrs = group.attrs().map_err(|e| h5err(source, "attributes", e))?;
    let layer_names = attrs
        .get("layer_names")
        .map(attr_strings)
        .ok_or_else(|| Error::weights_file(source, "missing the 'layer_names' attribute"))?;
    for layer in layer_names {
        let g = group
            .group(&layer)
            .map_err(|e| h5err(source, &format!("layer group '{layer}'"), e))?;
        let la = g.attrs().map_err(|e| h5err(source, &layer, e))?;
        let names = la.get("weight_names").map(attr_strings).unwrap_or_default();
        for wn in names {
            let t = read_tensor(&g, &wn, source)?;
            // `model/layer/kernel` (Keras 3 legacy) or `layer/kernel:0` (Keras 2): the owning
            // layer is the segment before the variable; nested models list their inner layers'
            // variables under the outer group.
            let segs: Vec<&str> = wn.split('/').collect();
            let owner = if segs.len() >= 2 {
                segs[segs.len() - 2].to_string()
            } else {
                layer.clone()
            };
            store.layers.entry(owner).or_default().push(t);
        }
    }
    Ok(store)
}

/// Reads a string attribute of the root (`model_config` of a full-model `.h5`).
pub fn root_string_attr(file: &File, key: &str, source: &str) -> Result<Option<String>> {
    let attrs = file
        .root()
        .attrs()
        .map_err(|e| h5err(source, "root attributes", e))?;
    Ok(attr_string(&attrs, key))
}
