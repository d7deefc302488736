//! Writing a model's variables as a Keras 3 `.weights.h5` that `model.load_weights` reads:
//! `layers/<snake_case class, uniquified in layer order>/vars/<i>` plus the `name` attributes.

use crate::error::{Error, Result};
use crate::model::Model;
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

/// Serializes `model`'s variables (read back asynchronously, in Keras' layout) as Keras 3
/// `.weights.h5` bytes.
pub async fn keras3_weights_async(model: &Model) -> Result<Vec<u8>> {
    let values = model.keras_values_async().await?;
    keras3_weights_from(model, &values)
}

/// [`keras3_weights_async`] driven to completion here (native only).
#[cfg(not(target_arch = "wasm32"))]
pub fn keras3_weights(model: &Model) -> Result<Vec<u8>> {
    crate::train::block_on(keras3_weights_async(model))
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
}

/// Serializes Keras-layout variable values (per layer, per variable) for `model`'s structure.
pub fn keras3_weights_from(model: &Model, values: &[Vec<Vec<f32>>]) -> Result<Vec<u8>> {
    keras3_weights_with(model, values, Precision::Float32)
}

/// [`keras3_weights_from`] with float variables stored at `precision`.
pub fn keras3_weights_with(
    model: &Model,
    values: &[Vec<Vec<f32>>],
    precision: Precision,
) -> Result<Vec<u8>> {
    let spec = &model.spec;
    let sequential = spec.layers.iter().all(|l| l.calls.len() <= 1)
        && model.graph.nodes.iter().all(|n| n.inputs.len() <= 1)
        && spec.inputs.len() == 1
        && !spec
            .layers
            .iter()
            .any(|l| l.raw.is_null() && l.class_name != "InputLayer");
    let mut fb = FileBuilder::new();
    let mut layers = fb.create_group("layers");
    let mut used: HashMap<String, usize> = HashMap::new();
    for (li, l) in spec.layers.iter().enumerate() {
        // A Sequential model's `layers` leaves out its InputLayer; a Functional one keeps it.
        if sequential && l.class_name == "InputLayer" {
            continue;
        }
        let base = snake_case(&l.class_name);
        let n = used.entry(base.clone()).or_insert(0);
        let key = if *n == 0 {
            base.clone()
        } else {
            format!("{base}_{n}")
        };
        *n += 1;
        let mut g = layers.create_group(&key);
        let mut vars = g.create_group("vars");
        vars.set_attr("name", AttrValue::String(l.name.clone()));
        for (vi, (p, v)) in model.graph.params[li].iter().zip(&values[li]).enumerate() {
            if v.len() != p.size() {
                return Err(Error::Shape {
                    context: format!("saving {}/{}", l.name, p.name),
                    expected: format!("{} values", p.size()),
                    found: v.len().to_string(),
                });
            }
            let shape: Vec<u64> = p.keras_shape.iter().map(|&d| d as u64).collect();
            if p.name == "count" {
                vars.create_dataset(&vi.to_string())
                    .with_i64_data(&[v[0] as i64])
                    .with_shape(&shape);
            } else if precision == Precision::Float16
                && shape.len() >= 2
                && v.iter().all(|x| !x.is_finite() || x.abs() <= 65504.0)
            {
                let raw: Vec<u8> = v
                    .iter()
                    .flat_map(|&x| crate::weights::hdf5::f32_to_f16(x).to_le_bytes())
                    .collect();
                vars.create_dataset(&vi.to_string())
                    .with_raw_data(float16_type(), raw, v.len() as u64)
                    .with_shape(&shape);
            } else {
                vars.create_dataset(&vi.to_string())
                    .with_f32_data(v)
                    .with_shape(&shape);
            }
        }
        g.add_group(vars.finish());
        layers.add_group(g.finish());
    }
    fb.add_group(layers.finish());
    let mut top = fb.create_group("vars");
    top.set_attr("name", AttrValue::String(spec.name.clone()));
    fb.add_group(top.finish());
    fb.finish()
        .map_err(|e| Error::weights_file("<new .weights.h5>", format!("writing: {e}")))
}

/// HDF5's IEEE float16, little endian (what h5py writes for numpy's float16).
fn float16_type() -> hdf5_pure::Datatype {
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
mod tests {
    use super::snake_case;

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
