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
    let m = e.to_string();
    // HDF5's undefined address (all ones) is what a link to nothing resolves to; the reader
    // reports it as a read of 2^64 - 1 bytes.
    let m = if m.contains(&u64::MAX.to_string()) {
        "it refers to an object the file does not hold (a dangling soft link, or a truncated \
         file)"
            .to_string()
    } else {
        m
    };
    Error::weights_file(source, format!("{what}: {m}"))
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

/// What reading one file may still decode: a file can name far more data than it holds
/// (never-written chunked datasets read as fill values, compressed chunks, the same dataset
/// linked under many names), so every dataset's declared size is charged before it is read.
pub(crate) struct Budget<'f> {
    /// The file's bytes (for the chunks Glimpse decodes itself: [`read_shuffled_f16`]).
    file: &'f [u8],
    /// Those chunks already decoded while the file downloaded (`weights::stream`).
    decoded: Decoded,
    /// Bytes left to decode.
    left: u64,
    /// The allowance, for errors.
    total: u64,
    /// Groups left to walk (links can make a small file's tree exponentially wide).
    groups: u64,
}

/// Most groups one file's walk visits.
const MAX_GROUPS: u64 = 200_000;

impl<'f> Budget<'f> {
    /// The allowance for `file`: 8 times its length (Keras writes weights uncompressed; gzip
    /// rarely wins more than 2x on float weights), at least 64 MiB, at most the parameter
    /// budget.
    pub(crate) fn for_file(file: &'f File) -> Budget<'f> {
        let cap = crate::limits::get().max_params.saturating_mul(4);
        let total = file.file_size().saturating_mul(8).max(64 << 20).min(cap);
        Budget {
            file: file.as_bytes(),
            decoded: Decoded::default(),
            left: total,
            total,
            groups: MAX_GROUPS,
        }
    }

    fn charge(&mut self, source: &str, path: &str, shape: &[u64], elem: u64) -> Result<usize> {
        let count = shape.iter().try_fold(1u64, |a, &d| a.checked_mul(d));
        let bytes = count.and_then(|c| c.checked_mul(elem.max(4)));
        match (count, bytes) {
            (Some(c), Some(b)) if b <= self.left && usize::try_from(c).is_ok() => {
                self.left -= b;
                Ok(c as usize)
            }
            _ => Err(Error::weights_file(
                source,
                format!(
                    "dataset '{path}' declares shape {shape:?}: more data than the file can \
                     hold (Glimpse decodes at most {} bytes from this file, 8 times its size; \
                     {} left)",
                    self.total, self.left
                ),
            )),
        }
    }

    /// A chunked dataset's chunks are decoded whole, padding included: one chunk larger than
    /// the file may decode in all (a small dataset declaring chunks of gigabytes) is refused
    /// before the HDF5 reader allocates it.
    fn check_chunks(
        &self,
        ds: &hdf5_pure::Dataset,
        source: &str,
        path: &str,
        elem: u64,
    ) -> Result<()> {
        let Ok(Some(chunk)) = ds.chunk_shape() else {
            return Ok(());
        };
        let bytes = chunk.iter().try_fold(elem.max(1), |a, &d| a.checked_mul(d));
        match bytes {
            Some(b) if b <= self.total => Ok(()),
            _ => Err(Error::weights_file(
                source,
                format!(
                    "dataset '{path}' is stored in chunks of shape {chunk:?}: more data per \
                     chunk than the file can hold (Glimpse decodes at most {} bytes from this \
                     file, 8 times its size)",
                    self.total
                ),
            )),
        }
    }

    fn visit_group(&mut self, source: &str, path: &str) -> Result<()> {
        if self.groups == 0 {
            return Err(Error::weights_file(
                source,
                format!("more than {MAX_GROUPS} groups to walk (at '{path}'): links in a loop?"),
            ));
        }
        self.groups -= 1;
        Ok(())
    }
}

/// IEEE single precision to half, rounded to nearest (ties to even) as numpy's `astype(float16)`:
/// beyond 65504 infinity, below 2^-25 zero, subnormals in between.
pub(crate) fn f32_to_f16(x: f32) -> u16 {
    let b = x.to_bits();
    let sign = ((b >> 16) & 0x8000) as u16;
    let exp = ((b >> 23) & 0xff) as i32;
    let mant = b & 0x7f_ffff;
    if exp == 0xff {
        return sign | 0x7c00 | if mant != 0 { 0x200 } else { 0 };
    }
    // The exponent in half's bias.
    let e = exp - 127 + 15;
    if e >= 0x1f {
        return sign | 0x7c00;
    }
    // (value bits, bits dropped, how many)
    let (kept, shift) = if e <= 0 {
        if e < -10 {
            return sign;
        }
        // Subnormal: the implicit leading 1 becomes explicit, h = m * 2^(e - 14).
        ((mant | 0x80_0000) >> (14 - e), (14 - e) as u32)
    } else {
        (((e as u32) << 10) | (mant >> 13), 13)
    };
    let full = if e <= 0 { mant | 0x80_0000 } else { mant };
    let rest = full & ((1 << shift) - 1);
    let halfway = 1 << (shift - 1);
    let up = rest > halfway || (rest == halfway && kept & 1 == 1);
    // A carry out of the mantissa moves into the exponent, as it should (up to infinity).
    sign | (kept + u32::from(up)) as u16
}

fn read_dataset(
    ds: &hdf5_pure::Dataset,
    path: &str,
    source: &str,
    budget: &mut Budget<'_>,
) -> Result<RawTensor> {
    let shape64 = ds
        .shape()
        .map_err(|e| h5err(source, &format!("shape of '{path}'"), e))?;
    let dt = ds
        .datatype()
        .map_err(|e| h5err(source, &format!("datatype of '{path}'"), e))?;
    let expected = budget.charge(source, path, &shape64, u64::from(dt.type_size()))?;
    budget.check_chunks(ds, source, path, u64::from(dt.type_size()))?;
    let shape: Vec<usize> = shape64.iter().map(|&d| d as usize).collect();
    // Glimpse's int8 kernels carry their scales in an attribute (read once, only for bytes).
    let int8 = matches!(dt, hdf5_pure::Datatype::FixedPoint { size: 1, .. })
        .then(|| int8_scale(ds))
        .flatten();
    let data = match &dt {
        // float16 (Keras reads it into float32 variables).
        hdf5_pure::Datatype::FloatingPoint {
            size: 2,
            byte_order,
            ..
        } => {
            let big = matches!(byte_order, hdf5_pure::DatatypeByteOrder::BigEndian);
            match (!big).then(|| read_shuffled_f16(ds, budget)).flatten() {
                Some(values) => values,
                None => {
                    let raw = ds
                        .read_raw()
                        .map_err(|e| h5err(source, &format!("values of '{path}'"), e))?;
                    let mut values = vec![0.0; raw.len() / 2];
                    glimpse_kernels::layout::f16_bytes_to_f32(&raw, big, &mut values);
                    values
                }
            }
        }
        // Glimpse's int8 kernels: integers and one scale per output channel (the last axis).
        hdf5_pure::Datatype::FixedPoint { .. } if int8.is_some() => {
            let scale = int8.unwrap_or_default();
            let out = shape.last().copied().unwrap_or(0);
            if scale.len() != out || out == 0 {
                return Err(Error::weights_file(
                    source,
                    format!(
                        "int8 dataset '{path}' of shape {shape:?} has {} scales; expected one \
                         per output channel ({out})",
                        scale.len()
                    ),
                ));
            }
            ds.read_i8()
                .map_err(|e| h5err(source, &format!("values of '{path}'"), e))?
                .into_iter()
                .enumerate()
                .map(|(i, q)| f32::from(q) * scale[i % out])
                .collect()
        }
        hdf5_pure::Datatype::FloatingPoint { .. } | hdf5_pure::Datatype::FixedPoint { .. } => {
            match ds.read_f32() {
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
            }
        }
        other => {
            return Err(Error::weights_file(
                source,
                format!(
                    "dataset '{path}' holds {} values, not numbers (expected float or integer \
                     weights)",
                    datatype_name(other)
                ),
            ))
        }
    };
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

/// Float16 chunks decoded ahead (`weights::stream`), by chunk address and stored size.
pub(crate) type Decoded = HashMap<(u64, u64), Vec<f32>>;

/// One chunk of a [`shuffled_f16_layout`] dataset: where it is stored, how many bytes, the
/// values it holds (padding rows past the dataset's end included) and its first row.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ShuffledChunk {
    pub address: u64,
    pub stored: u64,
    pub values: usize,
    pub first_row: usize,
}

/// The chunks of a little-endian float16 dataset stored as Glimpse writes its reduced-precision
/// files (`weights::write`): chunks of whole rows along the first axis, every one present once,
/// each shuffled and then deflated; the values of one row (never 0) and the rows. `None` for
/// any other layout.
pub(crate) fn shuffled_f16_layout(
    ds: &hdf5_pure::Dataset,
) -> Option<(Vec<ShuffledChunk>, usize, usize)> {
    const SHUFFLE: u16 = 2;
    const DEFLATE: u16 = 1;
    if ds.filters() != [SHUFFLE, DEFLATE] {
        return None;
    }
    let little_half = matches!(
        ds.datatype().ok()?,
        hdf5_pure::Datatype::FloatingPoint {
            size: 2,
            byte_order: hdf5_pure::DatatypeByteOrder::LittleEndian,
            ..
        }
    );
    let shape = ds.shape().ok()?;
    let (&rows, rest) = shape.split_first()?;
    let chunk = ds.chunk_shape().ok()??;
    let (&chunk_rows, chunk_rest) = chunk.split_first()?;
    if !little_half || chunk_rest != rest || chunk_rows == 0 || chunk_rows > rows {
        return None;
    }
    let row = usize::try_from(rest.iter().product::<u64>()).ok()?;
    let (rows, chunk_rows) = (
        usize::try_from(rows).ok()?,
        usize::try_from(chunk_rows).ok()?,
    );
    // (An empty dataset, however many rows it declares, is the general path's.)
    if row == 0 {
        return None;
    }
    let values = chunk_rows.checked_mul(row)?;
    rows.checked_mul(row)?.checked_mul(4)?;
    // Nothing allocated by the declared rows: the chunks the index lists, which must tile them.
    let mut out = Vec::new();
    for c in ds.chunks().ok()? {
        let first_row = usize::try_from(*c.offset.first()?).ok()?;
        if c.filter_mask != 0
            || first_row % chunk_rows != 0
            || c.offset[1..].iter().any(|&o| o != 0)
        {
            return None;
        }
        out.push(ShuffledChunk {
            address: c.address,
            stored: c.storage_size,
            values,
            first_row,
        });
    }
    out.sort_by_key(|c| c.first_row);
    let tiles = out.len() == rows.div_ceil(chunk_rows)
        && out
            .iter()
            .enumerate()
            .all(|(k, c)| c.first_row == k * chunk_rows);
    tiles.then_some((out, row, rows))
}

/// One shuffled, deflated float16 chunk of `values` values inflated: its two byte planes (all
/// low bytes, then all high bytes). `None` unless it inflates to exactly that many bytes, and
/// before allocating them where `stored` could not (deflate expands at most 1032 times).
pub(crate) fn inflate_planes(stored: &[u8], values: usize) -> Option<Vec<u8>> {
    let bytes = values.checked_mul(2)?;
    if bytes > stored.len().saturating_mul(1032).saturating_add(64) {
        return None;
    }
    let mut planes = vec![0u8; bytes];
    let mut inflate = flate2::Decompress::new(true);
    let status = inflate
        .decompress(stored, &mut planes, flate2::FlushDecompress::Finish)
        .ok()?;
    (status == flate2::Status::StreamEnd && inflate.total_out() == planes.len() as u64)
        .then_some(planes)
}

/// The values of a dataset of [`shuffled_f16_layout`], decoded here in one pass per chunk
/// (inflate, then the byte planes straight to float32) rather than by the HDF5 reader's general
/// filter pipeline, which the browser build compiles for size: Lite0's weights parse in 64 ms
/// there instead of 96. Chunks decoded ahead (`budget.decoded`) are taken as they are. `None`
/// for any other layout, which the reader's general path then decodes (and checks).
fn read_shuffled_f16(ds: &hdf5_pure::Dataset, budget: &mut Budget<'_>) -> Option<Vec<f32>> {
    let (chunks, row, rows) = shuffled_f16_layout(ds)?;
    // One chunk decoded ahead that is the whole dataset, no padding: its values as they are.
    if let [c] = chunks[..] {
        let whole = budget.decoded.remove(&(c.address, c.stored));
        if let Some(v) = whole.filter(|v| v.len() == rows * row) {
            return Some(v);
        }
    }
    let mut out = vec![0.0f32; rows * row];
    for c in chunks {
        // An edge chunk is stored whole: its rows past the dataset's end are padding.
        let n = (rows - c.first_row).min(c.values / row) * row;
        let dst = &mut out[c.first_row * row..][..n];
        match budget.decoded.remove(&(c.address, c.stored)) {
            Some(v) if v.len() == c.values => dst.copy_from_slice(&v[..n]),
            _ => {
                let start = usize::try_from(c.address).ok()?;
                let end = start.checked_add(usize::try_from(c.stored).ok()?)?;
                let planes = inflate_planes(budget.file.get(start..end)?, c.values)?;
                let (lo, hi) = planes.split_at(c.values);
                glimpse_kernels::layout::f16_planes_to_f32(lo, hi, dst);
            }
        }
    }
    Some(out)
}

/// The per-channel scales of a Glimpse int8 kernel ([`crate::weights::write::INT8_SCALE`]).
fn int8_scale(ds: &hdf5_pure::Dataset) -> Option<Vec<f32>> {
    let attrs = ds.attrs().ok()?;
    match attrs.get(crate::weights::write::INT8_SCALE)? {
        AttrValue::F32Array(v) => Some(v.clone()),
        AttrValue::F32(v) => Some(vec![*v]),
        _ => None,
    }
}

fn datatype_name(dt: &hdf5_pure::Datatype) -> &'static str {
    use hdf5_pure::Datatype as D;
    match dt {
        D::String { .. } => "string",
        D::Time { .. } => "time",
        D::BitField { .. } => "bit-field",
        D::Compound { .. } => "compound",
        D::Reference { .. } => "reference",
        D::Enumeration { .. } => "enumeration",
        D::VariableLength { .. } => "variable-length",
        D::Array { .. } => "array",
        D::Opaque { .. } => "opaque",
        _ => "non-numeric",
    }
}

fn read_tensor(
    group: &Group,
    path: &str,
    source: &str,
    budget: &mut Budget<'_>,
) -> Result<RawTensor> {
    let ds = group
        .dataset(path)
        .map_err(|e| h5err(source, &format!("dataset '{path}'"), e))?;
    read_dataset(&ds, path, source, budget)
}

/// Reads a weights file in either Keras layout.
pub fn read_weights(bytes: Vec<u8>, source: &str) -> Result<WeightStore> {
    let file = open(bytes, source)?;
    read_weights_from(&file, source)
}

/// Reads weights from an opened file: Keras 3 (`layers/...`) or legacy (`layer_names`).
pub fn read_weights_from(file: &File, source: &str) -> Result<WeightStore> {
    read_weights_decoded(file, source, Decoded::default())
}

/// [`read_weights_from`], with float16 chunks decoded ahead while the file downloaded.
pub(crate) fn read_weights_decoded(
    file: &File,
    source: &str,
    decoded: Decoded,
) -> Result<WeightStore> {
    let mut budget = Budget::for_file(file);
    budget.decoded = decoded;
    let root = file.root();
    let groups = root.groups().map_err(|e| h5err(source, "root group", e))?;
    if groups.iter().any(|g| g == "layers") {
        return read_keras3(&root, source, &mut budget);
    }
    if groups.iter().any(|g| g == "model_weights") {
        let g = root
            .group("model_weights")
            .map_err(|e| h5err(source, "group 'model_weights'", e))?;
        return read_legacy(&g, source, &mut budget);
    }
    let attrs = root
        .attrs()
        .map_err(|e| h5err(source, "root attributes", e))?;
    if attrs.contains_key("layer_names") {
        return read_legacy(&root, source, &mut budget);
    }
    Err(Error::weights_file(
        source,
        "HDF5 file without Keras weights: expected a 'layers' group (Keras 3 .weights.h5), \
         a 'model_weights' group (full-model .h5) or a 'layer_names' attribute (save_weights .h5)",
    ))
}

fn read_keras3(root: &Group, source: &str, budget: &mut Budget<'_>) -> Result<WeightStore> {
    let mut store = WeightStore {
        source: source.to_string(),
        ..Default::default()
    };
    let layers = root
        .group("layers")
        .map_err(|e| h5err(source, "group 'layers'", e))?;
    walk_keras3(&layers, "layers", 0, source, &mut store, budget)?;
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
    budget: &mut Budget<'_>,
) -> Result<()> {
    if depth > MAX_DEPTH {
        return Err(Error::weights_file(
            source,
            format!("groups nested deeper than {MAX_DEPTH} levels at '{path}' (a cycle?)"),
        ));
    }
    // Each child once, by iteration (looking every name up again is quadratic in a group's
    // size).
    let children = group.iter_groups().map_err(|e| h5err(source, path, e))?;
    for (child, g) in children {
        let cpath = format!("{path}/{child}");
        budget.visit_group(source, &cpath)?;
        let mut vars = None;
        let mut subs = Vec::new();
        for (name, sg) in g.iter_groups().map_err(|e| h5err(source, &cpath, e))? {
            if name == "vars" {
                vars = Some(sg);
            } else {
                subs.push((name, sg));
            }
        }
        if let Some(vars) = vars {
            let attrs = vars.attrs().map_err(|e| h5err(source, &cpath, e))?;
            let name = attr_string(&attrs, "name").unwrap_or_else(|| child.clone());
            let mut sets: Vec<(String, hdf5_pure::Dataset)> = vars
                .iter_datasets()
                .map_err(|e| h5err(source, &cpath, e))?
                .collect();
            sets.sort_by_key(|(n, _)| n.parse::<usize>().unwrap_or(usize::MAX));
            let mut tensors = Vec::with_capacity(sets.len());
            for (n, ds) in &sets {
                let mut t = read_dataset(ds, &format!("{cpath}/vars/{n}"), source, budget)?;
                t.name = None; // Keras 3 stores variables by index only
                tensors.push(t);
            }
            if !tensors.is_empty() {
                store.layers.insert(name, tensors);
            }
        }
        // Nested models and layers that own sub-layers.
        for (s, sg) in subs {
            walk_keras3(
                &sg,
                &format!("{cpath}/{s}"),
                depth + 1,
                source,
                store,
                budget,
            )?;
        }
    }
    Ok(())
}

fn read_legacy(group: &Group, source: &str, budget: &mut Budget<'_>) -> Result<WeightStore> {
    let mut store = WeightStore {
        source: source.to_string(),
        ..Default::default()
    };
    let attrs = group.attrs().map_err(|e| h5err(source, "attributes", e))?;
    let layer_names = attrs
        .get("layer_names")
        .map(attr_strings)
        .ok_or_else(|| Error::weights_file(source, "missing the 'layer_names' attribute"))?;
    let mut groups: HashMap<String, Group> = group
        .iter_groups()
        .map_err(|e| h5err(source, "layer groups", e))?
        .collect();
    let mut seen_layers = std::collections::HashSet::new();
    for layer in layer_names {
        if !seen_layers.insert(layer.clone()) {
            return Err(Error::weights_file(
                source,
                format!("'layer_names' lists '{layer}' twice"),
            ));
        }
        budget.visit_group(source, &layer)?;
        let g = groups.remove(&layer).ok_or_else(|| {
            Error::weights_file(
                source,
                format!("layer group '{layer}': listed in 'layer_names' but not in the file"),
            )
        })?;
        let la = g.attrs().map_err(|e| h5err(source, &layer, e))?;
        let names = la.get("weight_names").map(attr_strings).unwrap_or_default();
        let mut seen = std::collections::HashSet::new();
        for wn in names {
            if !seen.insert(wn.clone()) {
                return Err(Error::weights_file(
                    source,
                    format!("layer '{layer}': 'weight_names' lists '{wn}' twice"),
                ));
            }
            let t = read_tensor(&g, &wn, source, budget)?;
            // `model/layer/kernel` (Keras 3 legacy) or `layer/kernel:0` (Keras 2): the owning
            // layer is the segment before the variable; nested models list their inner layers'
            // variables under the outer group.
            // Keras 2.0.x named a layer's variables after a reused TF name scope: layer
            // `conv2d_1` stores `conv2d_1_1/kernel:0`. Keras loads them by their order in
            // the layer's group, and so does Glimpse.
            let segs: Vec<&str> = wn.split('/').collect();
            let scope_copy = segs.len() == 2 && is_scope_copy(segs[0], &layer);
            let owner = if segs.len() >= 2 && !scope_copy {
                segs[segs.len() - 2].to_string()
            } else {
                layer.clone()
            };
            store.layers.entry(owner).or_default().push(t);
        }
    }
    Ok(store)
}

/// Whether `scope` is `layer` with a TF name-scope suffix (`conv2d_1_1` for `conv2d_1`).
fn is_scope_copy(scope: &str, layer: &str) -> bool {
    scope
        .strip_prefix(layer)
        .and_then(|rest| rest.strip_prefix('_'))
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Reads a string attribute of the root (`model_config` of a full-model `.h5`).
pub fn root_string_attr(file: &File, key: &str, source: &str) -> Result<Option<String>> {
    let attrs = file
        .root()
        .attrs()
        .map_err(|e| h5err(source, "root attributes", e))?;
    Ok(attr_string(&attrs, key))
}

#[cfg(test)]
mod tests {
    use super::f32_to_f16;
    use glimpse_kernels::layout::f16_to_f32;

    /// A float16 dataset of `shape` with values `i / 64` (exact in float16), chunked by
    /// `chunk`, shuffled and deflated when asked.
    fn f16_file(shape: &[u64], chunk: &[u64], shuffle: bool) -> (hdf5_pure::File, Vec<f32>) {
        let n = shape.iter().product::<u64>() as usize;
        let want: Vec<f32> = (0..n).map(|i| (i % 4096) as f32 / 64.0 - 32.0).collect();
        let raw: Vec<u8> = want
            .iter()
            .flat_map(|&x| f32_to_f16(x).to_le_bytes())
            .collect();
        let mut fb = hdf5_pure::FileBuilder::new();
        let ds = fb.create_dataset("w");
        ds.with_raw_data(crate::weights::write::float16_type(), raw, n as u64)
            .with_shape(shape)
            .with_chunks(chunk);
        if shuffle {
            ds.with_shuffle();
        }
        ds.with_deflate(6);
        let file = hdf5_pure::File::from_bytes(fb.finish().unwrap()).unwrap();
        (file, want)
    }

    #[test]
    fn shuffled_float16_rows_decode_in_one_pass_and_other_layouts_take_the_general_path() {
        // Chunks of whole rows, the last one partly past the end: Glimpse's own decoding.
        let (file, want) = f16_file(&[50, 3, 4], &[16, 3, 4], true);
        let ds = file.dataset("w").unwrap();
        let mut budget = super::Budget::for_file(&file);
        let got = super::read_shuffled_f16(&ds, &mut budget);
        assert_eq!(got.as_deref(), Some(&want[..]));
        assert_eq!(
            super::read_dataset(&ds, "w", "t", &mut budget)
                .unwrap()
                .data,
            want
        );
        // Chunks that split the inner axes, or deflate without shuffle: the HDF5 reader's.
        for (chunk, shuffle) in [(&[16u64, 2, 4][..], true), (&[16, 3, 4][..], false)] {
            let (file, want) = f16_file(&[50, 3, 4], chunk, shuffle);
            let ds = file.dataset("w").unwrap();
            let mut budget = super::Budget::for_file(&file);
            assert!(super::read_shuffled_f16(&ds, &mut budget).is_none());
            let got = super::read_dataset(&ds, "w", "t", &mut budget).unwrap();
            assert_eq!(got.data, want, "{chunk:?} shuffle {shuffle}");
        }
        // A chunk cut short (a damaged file) is not decoded here; the general path refuses it.
        let (file, _) = f16_file(&[50, 3, 4], &[16, 3, 4], true);
        let mut bytes = file.as_bytes().to_vec();
        let c = &file.dataset("w").unwrap().chunks().unwrap()[1];
        let at = c.address as usize + c.storage_size as usize / 2;
        bytes[at..at + 8].fill(0xff);
        let file = hdf5_pure::File::from_bytes(bytes).unwrap();
        let ds = file.dataset("w").unwrap();
        let mut budget = super::Budget::for_file(&file);
        assert!(super::read_shuffled_f16(&ds, &mut budget).is_none());
        assert!(super::read_dataset(&ds, "w", "t", &mut budget).is_err());
    }

    #[test]
    fn half_precision_round_trips_and_rounds_to_nearest_even() {
        for h in 0..=u16::MAX {
            let x = f16_to_f32(h);
            if x.is_nan() {
                assert!(f16_to_f32(f32_to_f16(x)).is_nan());
            } else {
                assert_eq!(f32_to_f16(x), h, "{h:#06x} = {x}");
            }
        }
        // (numpy: np.float32(v).astype(np.float16).view(np.uint16))
        for (v, h) in [
            (1.0f32, 0x3c00u16),
            (-2.0, 0xc000),
            (65504.0, 0x7bff),
            (65520.0, 0x7c00),
            (1e-8, 0x0000),
            (3e-8, 0x0001),
            (6.1e-5, 0x03ff),
            (0.1, 0x2e66),
            (1.0 + 1.0 / 2048.0, 0x3c00),
            (1.0 + 3.0 / 2048.0, 0x3c02),
        ] {
            assert_eq!(f32_to_f16(v), h, "{v}");
        }
    }
}
