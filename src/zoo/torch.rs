//! Reading a PyTorch state dict saved with torch's legacy (non-zip) serialization: a sequence of
//! pickles (magic, protocol, system info, the object, the storage keys) followed by each
//! storage's raw little-endian values. No torch, no Python.

use super::pickle::{self, Value};
use crate::error::{Error, Result};
use std::collections::HashMap;

/// A float tensor from a state dict.
#[derive(Debug, Clone, PartialEq)]
pub struct TorchTensor {
    /// Shape (PyTorch layout).
    pub shape: Vec<usize>,
    /// Row-major values.
    pub data: Vec<f32>,
}

/// The low 64 bits of torch's magic number 0x1950a86a20f9469cfc6c.
const MAGIC: i64 = 0x1950a86a20f9469cfc6c_i128 as i64;

fn err(source: &str, msg: impl Into<String>) -> Error {
    Error::weights_file(source, msg.into())
}

struct StorageRef {
    key: String,
    dtype: String,
}

fn storage_of(v: &Value) -> Option<StorageRef> {
    let Value::Persistent(p) = v else { return None };
    let items = p.items()?;
    // ('storage', torch.FloatStorage, key, location, numel)
    let dtype = match items.get(1)? {
        Value::Global(_, name) => name.clone(),
        _ => return None,
    };
    Some(StorageRef {
        key: items.get(2)?.as_str()?.to_string(),
        dtype,
    })
}

/// Reads every tensor of a legacy `.pth` state dict, by name, in file order.
pub fn read_state_dict(bytes: &[u8], source: &str) -> Result<Vec<(String, TorchTensor)>> {
    let wrap = |e: Error| err(source, format!("not a legacy PyTorch file: {e}"));
    if bytes.starts_with(b"PK\x03\x04") {
        return Err(err(
            source,
            "a zip-format PyTorch file; Glimpse reads the legacy format this model ships in",
        ));
    }
    let (magic, pos) = pickle::load(bytes, 0).map_err(wrap)?;
    if magic.as_int() != Some(MAGIC) {
        return Err(err(source, "missing PyTorch's magic number"));
    }
    let (_protocol, pos) = pickle::load(bytes, pos).map_err(wrap)?;
    let (_sys_info, pos) = pickle::load(bytes, pos).map_err(wrap)?;
    let (object, pos) = pickle::load(bytes, pos).map_err(wrap)?;
    let (keys, mut pos) = pickle::load(bytes, pos).map_err(wrap)?;
    let keys: Vec<String> = keys
        .items()
        .ok_or_else(|| err(source, "storage key list missing"))?
        .iter()
        .filter_map(|k| k.as_str().map(String::from))
        .collect();
    // Raw storages, in key order: u64 element count, then the values.
    let mut storages: HashMap<String, (usize, usize)> = HashMap::new(); // key -> (offset, count)
    let mut sizes: HashMap<String, usize> = HashMap::new();
    collect_storage_types(&object, &mut sizes);
    for k in &keys {
        let b = bytes
            .get(pos..pos + 8)
            .ok_or_else(|| err(source, "truncated storage header"))?;
        let n = u64::from_le_bytes(b.try_into().expect("8 bytes")) as usize;
        let elem = *sizes.get(k).unwrap_or(&4);
        let len = n
            .checked_mul(elem)
            .ok_or_else(|| err(source, "storage size overflows"))?;
        pos += 8;
        if pos.checked_add(len).is_none_or(|end| end > bytes.len()) {
            return Err(err(
                source,
                format!("storage {k} needs {len} bytes, the file ends first"),
            ));
        }
        storages.insert(k.clone(), (pos, n));
        pos += len;
    }
    let entries = match &object {
        Value::Dict(d) => d.clone(),
        Value::Call(_, args, _) => args
            .iter()
            .filter_map(|a| match a {
                Value::Dict(d) => Some(d.clone()),
                _ => None,
            })
            .flatten()
            .collect(),
        _ => return Err(err(source, "the saved object is not a state dict")),
    };
    let mut out = Vec::new();
    for (k, v) in entries {
        let Some(name) = k.as_str() else { continue };
        let Value::Call(f, args, _) = &v else {
            continue;
        };
        if !matches!(f.as_ref(), Value::Global(_, n) if n.starts_with("_rebuild_tensor")) {
            continue;
        }
        let st = args
            .first()
            .and_then(storage_of)
            .ok_or_else(|| err(source, format!("{name}: no storage")))?;
        if st.dtype != "FloatStorage" {
            continue; // num_batches_tracked and other integer buffers
        }
        let offset = args.get(1).and_then(Value::as_int).unwrap_or(0) as usize;
        let shape = usizes(args.get(2));
        let stride = usizes(args.get(3));
        let &(start, count) = storages.get(&st.key).ok_or_else(|| {
            err(
                source,
                format!("{name}: storage {} not in the file", st.key),
            )
        })?;
        // A view reads each value of its storage at most a few times: more is a corrupt file.
        let numel = shape
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .filter(|&n| n <= count.saturating_mul(16).max(1))
            .ok_or_else(|| {
                err(
                    source,
                    format!("{name}: shape {shape:?} does not fit its storage of {count}"),
                )
            })?;
        if stride.len() != shape.len() {
            return Err(err(
                source,
                format!(
                    "{name}: {} strides for {} dimensions",
                    stride.len(),
                    shape.len()
                ),
            ));
        }
        let mut data = Vec::with_capacity(numel);
        let mut idx = vec![0usize; shape.len()];
        for _ in 0..numel {
            let e = idx
                .iter()
                .zip(&stride)
                .try_fold(offset, |acc, (i, s)| i.checked_mul(*s)?.checked_add(acc))
                .unwrap_or(usize::MAX);
            if e >= count {
                return Err(err(
                    source,
                    format!("{name}: element {e} outside its storage of {count}"),
                ));
            }
            let b = &bytes[start + 4 * e..start + 4 * e + 4];
            data.push(f32::from_le_bytes([b[0], b[1], b[2], b[3]]));
            for d in (0..shape.len()).rev() {
                idx[d] += 1;
                if idx[d] < shape[d] {
                    break;
                }
                idx[d] = 0;
            }
        }
        out.push((name.to_string(), TorchTensor { shape, data }));
    }
    if out.is_empty() {
        return Err(err(source, "no float tensors in the state dict"));
    }
    Ok(out)
}

/// A tuple of integers (a size or a stride) as `usize`s.
fn usizes(v: Option<&Value>) -> Vec<usize> {
    v.and_then(Value::items)
        .unwrap_or(&[])
        .iter()
        .filter_map(Value::as_int)
        .map(|x| x as usize)
        .collect()
}

fn collect_storage_types(v: &Value, sizes: &mut HashMap<String, usize>) {
    if let Some(s) = storage_of(v) {
        let elem = match s.dtype.as_str() {
            "LongStorage" | "DoubleStorage" => 8,
            "HalfStorage" | "ShortStorage" | "BFloat16Storage" => 2,
            "ByteStorage" | "CharStorage" | "BoolStorage" => 1,
            _ => 4,
        };
        sizes.insert(s.key, elem);
        return;
    }
    match v {
        Value::Tuple(x) | Value::List(x) => x.iter().for_each(|i| collect_storage_types(i, sizes)),
        Value::Dict(d) => d.iter().for_each(|(_, i)| collect_storage_types(i, sizes)),
        Value::Call(_, args, _) => args.iter().for_each(|i| collect_storage_types(i, sizes)),
        _ => {}
    }
}
