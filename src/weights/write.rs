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
            } else if precision == Precision::Float16
                && shape.len() >= 2
                && values.iter().all(|x| !x.is_finite() || x.abs() <= 65504.0)
            {
                let raw: Vec<u8> = values
                    .iter()
                    .flat_map(|&x| crate::weights::hdf5::f32_to_f16(x).to_le_bytes())
                    .collect();
                vars.create_dataset(&vi.to_string())
                    .with_raw_data(float16_type(), raw, values.len() as u64)
                    .with_shape(&shape);
            } else {
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
