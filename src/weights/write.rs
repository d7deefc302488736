//! Writing variables as a Keras 3 `.weights.h5` that `model.load_weights` reads:
//! `layers/<snake_case class, uniquified in layer order>/vars/<i>` plus the `name` attributes.
//! It takes plain layers of values (a format, below the engine); `Model`'s own saving is
//! `crate::model::save`.

use crate::error::{Error, Result};
use hdf5_pure::{AttrValue, FileBuilder};
use std::collections::HashMap;

/// Keras' `to_snake_case` of a class name (`MaxPooling2D` → `max_pooling2d`).
pub fn snake_case(class: &str) -> String {
    let chars: Vec<char> = class
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    // (.)([A-Z][a-z]+) → \1_\2
    let mut step1 = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if i > 0
            && c.is_ascii_uppercase()
            && chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase())
        {
            step1.push('_');
        }
        step1.push(c);
    }
    // ([a-z])([A-Z]) → \1_\2
    let s: Vec<char> = step1.chars().collect();
    let mut out = String::new();
    for (i, &c) in s.iter().enumerate() {
        if i > 0 && c.is_ascii_uppercase() && s[i - 1].is_ascii_lowercase() {
            out.push('_');
        }
        out.push(c);
    }
    out.to_lowercase()
}

/// How a `.weights.h5` stores float variables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    /// float32, what the variables hold.
    Float32,
    /// IEEE float16 (rounded to nearest) for the kernels (variables of two axes or more), about
    /// half the bytes: Keras' `load_weights` reads a float16 dataset into its float32
    /// variable, and Glimpse expands it at load. Vectors (biases, BatchNormalization's
    /// statistics: a few per cent of the bytes, and where float16's 3 digits cost agreement)
    /// and a kernel with a value float16 cannot hold (beyond 65504) stay float32.
    Float16,
    /// [`Precision::Float16`], with the pointwise and dense kernels (`Conv2D` kernels of 1 x 1,
    /// `Dense` kernels) as int8 per output channel instead: Glimpse-only, a quarter of their
    /// float32 bytes. See [`INT8_SCALE`] for the form; Keras' `load_weights` would read the
    /// integers without their scales, so such a file is named `*.int8.weights.h5` and is for
    /// Glimpse (`glimpse convert` writes a Keras file from it).
    Int8,
}

/// The attribute of an int8 kernel's dataset that holds its scales, one float32 per output
/// channel (the kernel's last axis): value `[..., c]` is `q[..., c] * scale[c]`, with `q` the
/// int8 stored (symmetric, `q = round(w / scale[c])` clamped to ±127; [`quantize_int8`]).
pub const INT8_SCALE: &str = "glimpse_int8_scale";

/// Whether variable `v` of a layer of class `class` is stored as int8 in an
/// [`Precision::Int8`] file: a 1 x 1 `Conv2D` kernel or a `Dense` kernel, every value finite.
fn int8_kernel(class: &str, v: &Variable<'_>) -> bool {
    let pointwise = class == "Conv2D"
        && v.keras_shape.len() == 4
        && v.keras_shape[0] == 1
        && v.keras_shape[1] == 1;
    let dense = class == "Dense" && v.keras_shape.len() == 2;
    let big = v.values.len() >= INT8_MIN_VALUES;
    v.name == "kernel" && (pointwise || dense) && big && v.values.iter().all(|x| x.is_finite())
}

/// The smallest kernel stored as int8: smaller ones are few of the bytes and much of the error,
/// and stay float16. For EfficientNet-Lite0 (scripts/int8-agreement): every kernel as int8,
/// 5.24 MB and top-1 as float32's on 248 of 250 photos (golden set, hymenoptera); from 65,536
/// values, 5.54 MB and 249 of 250; from 200,000, 6.04 MB and 250 (sizes before deflating).
const INT8_MIN_VALUES: usize = 65_536;

/// `values` (the last axis `out` wide) as int8 and one scale per output channel
/// (`max |w[..., c]| / 127`). (Scales that clip a channel's largest values to keep resolution
/// for the rest, chosen by least squared error, agreed on exactly the same photos.)
pub fn quantize_int8(values: &[f32], out: usize) -> (Vec<i8>, Vec<f32>) {
    let mut scale = vec![0.0f32; out];
    for (i, &x) in values.iter().enumerate() {
        scale[i % out] = scale[i % out].max(x.abs());
    }
    for s in &mut scale {
        *s /= 127.0;
    }
    let ints = values
        .iter()
        .enumerate()
        .map(|(i, &x)| {
            let s = scale[i % out];
            if s > 0.0 {
                (x / s).round().clamp(-127.0, 127.0) as i8
            } else {
                0
            }
        })
        .collect();
    (ints, scale)
}

/// One variable to write: its name (for errors), Keras shape and values in Keras' layout.
#[derive(Debug, Clone, Copy)]
pub struct Variable<'a> {
    /// The variable's name within its layer (`kernel`, `bias`, `count`, ...).
    pub name: &'a str,
    /// Its shape in Keras' layout.
    pub keras_shape: &'a [usize],
    /// Its values in Keras' layout.
    pub values: &'a [f32],
}

/// One layer's variables, in the order Keras' `layer.variables` lists them.
#[derive(Debug, Clone)]
pub struct LayerVariables<'a> {
    /// The layer's Keras class (its group is the class in snake case, numbered when repeated).
    pub class_name: &'a str,
    /// The layer's name.
    pub name: &'a str,
    /// Its variables.
    pub variables: Vec<Variable<'a>>,
}

/// Serializes layers' variables as Keras 3 `.weights.h5` bytes for a model named `model_name`:
/// `layers/<snake_case class, uniquified in layer order>/vars/<i>`. A `sequential` model's
/// list leaves out its InputLayer (Keras' `Sequential.layers` does); float variables are
/// stored at `precision`.
pub fn keras3_weights_h5(
    model_name: &str,
    sequential: bool,
    layers: &[LayerVariables<'_>],
    precision: Precision,
) -> Result<Vec<u8>> {
    let mut fb = FileBuilder::new();
    let mut group = fb.create_group("layers");
    let mut used: HashMap<String, usize> = HashMap::new();
    for l in layers {
        if sequential && l.class_name == "InputLayer" {
            continue;
        }
        let base = snake_case(l.class_name);
        let n = used.entry(base.clone()).or_insert(0);
        let key = if *n == 0 {
            base.clone()
        } else {
            format!("{base}_{n}")
        };
        *n += 1;
        let mut g = group.create_group(&key);
        let mut vars = g.create_group("vars");
        vars.set_attr("name", AttrValue::String(l.name.to_string()));
        for (vi, v) in l.variables.iter().enumerate() {
            let size: usize = v.keras_shape.iter().product();
            if v.values.len() != size {
                return Err(Error::Shape {
                    context: format!("saving {}/{}", l.name, v.name),
                    expected: format!("{size} values"),
                    found: v.values.len().to_string(),
                });
            }
            let shape: Vec<u64> = v.keras_shape.iter().map(|&d| d as u64).collect();
            let values = v.values;
            if v.name == "count" {
                vars.create_dataset(&vi.to_string())
                    .with_i64_data(&[values.first().copied().unwrap_or(0.0) as i64])
                    .with_shape(&shape);
            } else if precision == Precision::Int8 && int8_kernel(l.class_name, v) {
                let out = *v.keras_shape.last().expect("a kernel has axes");
                let (q, scale) = quantize_int8(values, out);
                let ds = vars.create_dataset(&vi.to_string());
                ds.with_i8_data(&q)
                    .with_shape(&shape)
                    .set_attr(INT8_SCALE, AttrValue::F32Array(scale));
                compress(ds, &shape, 1);
            } else if precision != Precision::Float32
                && shape.len() >= 2
                && values.iter().all(|x| !x.is_finite() || x.abs() <= 65504.0)
            {
                let raw: Vec<u8> = values
                    .iter()
                    .flat_map(|&x| crate::weights::hdf5::f32_to_f16(x).to_le_bytes())
                    .collect();
                let ds = vars.create_dataset(&vi.to_string());
                ds.with_raw_data(float16_type(), raw, values.len() as u64)
                    .with_shape(&shape);
                compress(ds, &shape, 2);
            } else {
                // (float32 vectors stay contiguous: deflated, Lite0's 197 would save 35 KB
                // and cost more time to read than they save to download.)
                vars.create_dataset(&vi.to_string())
                    .with_f32_data(values)
                    .with_shape(&shape);
            }
        }
        g.add_group(vars.finish());
        group.add_group(g.finish());
    }
    fb.add_group(group.finish());
    let mut top = fb.create_group("vars");
    top.set_attr("name", AttrValue::String(model_name.to_string()));
    fb.add_group(top.finish());
    fb.finish()
        .map_err(|e| Error::weights_file("<new .weights.h5>", format!("writing: {e}")))
}

/// The most bytes of one chunk of a compressed kernel: whole rows (the first axis) up to this.
const CHUNK_BYTES: u64 = 1 << 20;

/// Stores a reduced-precision kernel of `shape` (`elem` bytes a value) compressed as HDF5 does
/// natively: chunks of whole rows (at most [`CHUNK_BYTES`], one row at least), each through
/// the shuffle filter (a value's bytes regrouped by significance, so float16's sign and
/// exponent bytes sit together) and deflate. h5py, and so Keras' `load_weights`, reads such
/// datasets as any other (a float32 file stays as Keras writes it). For EfficientNet-Lite0's
/// float16 kernels: 9.22 MB of values in 7.92.
fn compress(ds: &mut hdf5_pure::DatasetBuilder, shape: &[u64], elem: u64) {
    let Some((&rows, rest)) = shape.split_first() else {
        return;
    };
    let row_bytes = rest.iter().product::<u64>() * elem;
    if rows == 0 || row_bytes == 0 {
        return;
    }
    let mut chunk = shape.to_vec();
    chunk[0] = (CHUNK_BYTES / row_bytes).clamp(1, rows);
    ds.with_chunks(&chunk);
    if elem > 1 {
        ds.with_shuffle();
    }
    ds.with_deflate(9);
}

/// HDF5's IEEE float16, little endian (what h5py writes for numpy's float16).
pub(crate) fn float16_type() -> hdf5_pure::Datatype {
    hdf5_pure::Datatype::FloatingPoint {
        size: 2,
        byte_order: hdf5_pure::DatatypeByteOrder::LittleEndian,
        layout: hdf5_pure::FloatingPointLayout {
            bit_offset: 0,
            bit_precision: 16,
            exponent_location: 10,
            exponent_size: 5,
            mantissa_location: 0,
            mantissa_size: 10,
            exponent_bias: 15,
        },
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::{keras3_weights_h5, snake_case, LayerVariables, Precision, Variable, INT8_SCALE};

    /// Deterministic values in [-1, 1), channel c scaled by (c + 1) so channels differ.
    pub(crate) fn values(n: usize, out: usize) -> Vec<f32> {
        let mut x = 0x2545_f491_u32;
        (0..n)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                (x as f32 / u32::MAX as f32 * 2.0 - 1.0) * ((i % out) as f32 + 1.0)
            })
            .collect()
    }

    #[test]
    fn int8_kernels_read_back_within_half_a_step_and_the_rest_as_before() {
        let (big, small) = (values(256 * 300, 300), values(16 * 8, 8));
        let conv = values(3 * 3 * 4 * 8, 8);
        let bias = values(300, 300);
        let var = |name, keras_shape, values| Variable {
            name,
            keras_shape,
            values,
        };
        let layers = [
            LayerVariables {
                class_name: "Dense",
                name: "big",
                variables: vec![var("kernel", &[256, 300], &big), var("bias", &[300], &bias)],
            },
            LayerVariables {
                class_name: "Dense",
                name: "small",
                variables: vec![var("kernel", &[16, 8], &small)],
            },
            LayerVariables {
                class_name: "Conv2D",
                name: "conv",
                variables: vec![var("kernel", &[3, 3, 4, 8], &conv)],
            },
        ];
        let h5 = keras3_weights_h5("m", false, &layers, Precision::Int8).unwrap();
        let f16 = keras3_weights_h5("m", false, &layers, Precision::Float16).unwrap();
        assert!(
            h5.len() < f16.len() * 7 / 10,
            "{} vs {}",
            h5.len(),
            f16.len()
        );
        let store = crate::weights::hdf5::read_weights(h5, "int8").unwrap();
        let got = &store.layers["big"];
        for (i, (&w, &r)) in big.iter().zip(&got[0].data).enumerate() {
            // Channel c's step is max |w[.., c]| / 127 <= (c + 1) / 127.
            let step = ((i % 300) as f32 + 1.0) / 127.0;
            assert!((w - r).abs() <= step / 2.0 + 1e-6, "{i}: {w} vs {r}");
        }
        assert_eq!(got[1].data, bias, "a bias stays float32");
        // The small kernel and the 3x3 convolution are float16: within its rounding.
        for (l, want) in [("small", &small), ("conv", &conv)] {
            for (&w, &r) in want.iter().zip(&store.layers[l][0].data) {
                assert!((w - r).abs() <= w.abs() / 1024.0 + 1e-7, "{l}: {w} vs {r}");
            }
        }
    }

    #[test]
    fn reduced_precision_files_are_shuffled_and_deflated_in_chunks_of_whole_rows() {
        // 2,000 x 300 float16 values: 1.2 MB, two chunks of 1,747 and 253 rows.
        let kernel: Vec<f32> = values(2000 * 300, 300).iter().map(|x| x / 300.0).collect();
        let bias = values(300, 300);
        let layers = [LayerVariables {
            class_name: "Dense",
            name: "d",
            variables: vec![
                Variable {
                    name: "kernel",
                    keras_shape: &[2000, 300],
                    values: &kernel,
                },
                Variable {
                    name: "bias",
                    keras_shape: &[300],
                    values: &bias,
                },
            ],
        }];
        let h5 = keras3_weights_h5("m", false, &layers, Precision::Float16).unwrap();
        assert!(h5.len() < 2000 * 300 * 2 * 92 / 100, "{} bytes", h5.len());
        let file = crate::weights::hdf5::open(h5.clone(), "f16").unwrap();
        let ds = file.dataset("layers/dense/vars/0").unwrap();
        assert_eq!(ds.filters(), vec![2, 1], "shuffle, then deflate");
        assert_eq!(ds.chunk_shape().unwrap(), Some(vec![1747, 300]));
        let store = crate::weights::hdf5::read_weights(h5, "f16").unwrap();
        let got = &store.layers["d"];
        let want: Vec<f32> = kernel
            .iter()
            .map(|&x| glimpse_kernels::layout::f16_to_f32(crate::weights::hdf5::f32_to_f16(x)))
            .collect();
        assert_eq!(
            got[0].data, want,
            "the kernel is float16's rounding, exactly"
        );
        assert_eq!(got[1].data, bias, "a vector stays float32, exactly");
        // A float32 file stays as Keras writes it: contiguous, unfiltered.
        let h5 = keras3_weights_h5("m", false, &layers, Precision::Float32).unwrap();
        let file = crate::weights::hdf5::open(h5, "f32").unwrap();
        let ds = file.dataset("layers/dense/vars/0").unwrap();
        assert!(ds.filters().is_empty() && ds.chunk_shape().unwrap().is_none());
    }

    #[test]
    fn an_int8_kernel_with_the_wrong_number_of_scales_is_refused() {
        let mut fb = hdf5_pure::FileBuilder::new();
        let mut layers = fb.create_group("layers");
        let mut g = layers.create_group("dense");
        let mut vars = g.create_group("vars");
        vars.set_attr("name", hdf5_pure::AttrValue::String("d".into()));
        vars.create_dataset("0")
            .with_i8_data(&[1, 2, 3, 4, 5, 6])
            .with_shape(&[2, 3])
            .set_attr(INT8_SCALE, hdf5_pure::AttrValue::F32Array(vec![0.1, 0.2]));
        g.add_group(vars.finish());
        layers.add_group(g.finish());
        fb.add_group(layers.finish());
        let bytes = fb.finish().unwrap();
        let e = crate::weights::hdf5::read_weights(bytes, "bad.h5")
            .unwrap_err()
            .to_string();
        assert!(e.contains("has 2 scales") && e.contains("(3)"), "{e}");
    }

    #[test]
    fn snake_case_matches_keras() {
        assert_eq!(snake_case("Conv2D"), "conv2d");
        assert_eq!(snake_case("MaxPooling2D"), "max_pooling2d");
        assert_eq!(snake_case("BatchNormalization"), "batch_normalization");
        assert_eq!(snake_case("InputLayer"), "input_layer");
        assert_eq!(
            snake_case("GlobalAveragePooling2D"),
            "global_average_pooling2d"
        );
        assert_eq!(snake_case("ReLU"), "re_lu");
        assert_eq!(snake_case("DepthwiseConv2D"), "depthwise_conv2d");
    }
}
