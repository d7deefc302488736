//! A parsed model written back as a Keras 3 structure: the inverse of the parser, for files
//! real Keras 3 opens whatever format the model came from (TF.js, Keras 2.0–2.x `.h5`, nested
//! Teachable Machine models).
//!
//! The model is written flat, as Glimpse holds it: one `Functional` whose layers are every
//! layer of the spec (nested models inlined), called as the spec calls them, each with its
//! original config minus what Keras 3 refuses or does not need to load trained weights:
//! initializers (the weights replace them), input shapes on layers other than InputLayer,
//! `groups: 1` on depthwise and transposed convolutions; a one-element list `axis` becomes the
//! int Keras 3 takes. Its weights file is
//! `Model::keras3_weights`'s, whose `layers/<name>/vars/<i>` match it.

use super::config::{layer_class, LayerConfig};
use super::schema::{Arg, KerasFlavor, ModelSpec, TensorRef};
use crate::error::{Error, Result};
use serde_json::{json, Map, Value};

fn history(t: &TensorRef, shape: Option<&[usize]>) -> Value {
    let shape: Value = match shape {
        Some(s) => std::iter::once(Value::Null)
            .chain(s.iter().map(|d| json!(d)))
            .collect(),
        None => Value::Null,
    };
    json!({
        "class_name": "__keras_tensor__",
        "config": {"shape": shape, "dtype": "float32", "keras_history": [t.layer, t.node, t.index]}
    })
}

/// Whether a class takes its tensors as one list argument (`Add()([a, b])`).
fn takes_list(class: &str) -> bool {
    matches!(
        class,
        "Add" | "Subtract" | "Multiply" | "Average" | "Maximum" | "Minimum" | "Concatenate"
    )
}

/// The layer's config for Keras 3.
fn clean_config(raw: &Value, name: &str, class: &str) -> Map<String, Value> {
    let mut c = match raw.get("config") {
        Some(Value::Object(o)) => o.clone(),
        _ => Map::new(),
    };
    c.retain(|k, _| {
        !k.ends_with("_initializer")
            && k != "batch_input_shape"
            && k != "batch_shape"
            && k != "input_shape"
            && k != "build_config"
    });
    // tf.keras writes Conv's arguments on its subclasses; Keras 3 refuses them there.
    if matches!(
        class,
        "DepthwiseConv2D" | "SeparableConv2D" | "Conv2DTranspose"
    ) && c.get("groups") == Some(&json!(1))
    {
        c.remove("groups");
    }
    if matches!(class, "DepthwiseConv2D" | "SeparableConv2D") {
        for k in ["kernel_regularizer", "kernel_constraint"] {
            if c.get(k) == Some(&Value::Null) {
                c.remove(k);
            }
        }
    }
    // tf.keras writes BatchNormalization's axis as a one-element list; Keras 3 takes an int.
    if matches!(class, "BatchNormalization" | "Concatenate") {
        if let Some(Value::Array(a)) = c.get("axis") {
            if let [one] = a.as_slice() {
                let one = one.clone();
                c.insert("axis".into(), one);
            }
        }
    }
    // Keras 3's dtype policies and tf.keras' strings both load; TF.js' "float32" too.
    c.insert("name".into(), Value::String(name.to_string()));
    c.entry("trainable").or_insert(Value::Bool(true));
    c
}

/// The Keras 3 `Functional` structure of `spec` (what `model.to_json()` would write for it);
/// `shape_of` gives each tensor's shape without batch (the built graph knows them).
///
/// Refuses a Keras 2 model that uses `hard_sigmoid` (Keras 3 defines it differently:
/// `relu6(x + 3) / 6` against `clip(0.2 x + 0.5, 0, 1)`) or bicubic resizing (TensorFlow's
/// table-driven kernel against JAX's), so the file would compute otherwise.
pub fn keras3_structure<'a>(
    spec: &'a ModelSpec,
    shape_of: impl Fn(&TensorRef) -> Option<&'a [usize]>,
) -> Result<Value> {
    if spec.flavor == KerasFlavor::Keras2 {
        // (config pointer, value, what, why): what tf.keras computes otherwise than Keras 3.
        const DIFFER: [(&str, &str, &str, &str); 2] = [
            (
                "/config/activation",
                "hard_sigmoid",
                "Keras 2 hard_sigmoid",
                "Keras 3 defines hard_sigmoid as relu6(x + 3) / 6, not Keras 2's \
                 clip(0.2 x + 0.5, 0, 1): a .keras file would compute something else",
            ),
            (
                "/config/interpolation",
                "bicubic",
                "Keras 2 bicubic interpolation",
                "tf.keras resizes bicubic as TensorFlow's resize_bicubic (a table of 1024 \
                 steps, taps outside the image dropped), Keras 3 as JAX's: a .keras file \
                 would compute something else (up to 4e-4 apart)",
            ),
        ];
        for (at, value, what, why) in DIFFER {
            let layers: Vec<&str> = spec
                .layers
                .iter()
                .filter(|l| l.raw.pointer(at).and_then(Value::as_str) == Some(value))
                .map(|l| l.name.as_str())
                .collect();
            if !layers.is_empty() {
                return Err(Error::UnsupportedConfig {
                    layer: layers.join(", "),
                    class_name: what.into(),
                    message: why.into(),
                });
            }
        }
    }
    let mut layers = Vec::new();
    for l in &spec.layers {
        // The canonical Keras 3 class name (aliases such as Convolution2D become Conv2D).
        let class = layer_class(&l.class_name)
            .map(|c| c.names[0])
            .unwrap_or(l.class_name.as_str());
        let config = match &l.config {
            LayerConfig::Input(i) => {
                let shape: Vec<Value> = match (&i.batch_shape, &i.shape) {
                    (Some(b), _) => b.iter().map(|d| json!(d)).collect(),
                    (None, Some(s)) => std::iter::once(Value::Null)
                        .chain(s.iter().map(|d| json!(d)))
                        .collect(),
                    (None, None) => vec![Value::Null],
                };
                let mut m = Map::new();
                m.insert("batch_shape".into(), Value::Array(shape));
                m.insert("dtype".into(), json!("float32"));
                m.insert("sparse".into(), json!(false));
                m.insert("name".into(), json!(l.name));
                m
            }
            _ => clean_config(&l.raw, &l.name, class),
        };
        // Keras 3 op layers (`x + 3.0`) keep their own module; they take their arguments as
        // they were given.
        let module = l
            .raw
            .get("module")
            .and_then(Value::as_str)
            .filter(|m| m.starts_with("keras.src.ops"))
            .unwrap_or("keras.layers");
        let op_layer = module != "keras.layers";
        let nodes: Vec<Value> = l
            .calls
            .iter()
            .map(|args| {
                let vals: Vec<Value> = args
                    .iter()
                    .map(|a| match a {
                        Arg::Tensor(t) => history(t, shape_of(t)),
                        Arg::Scalar(v) => json!(v),
                    })
                    .collect();
                let args = if !op_layer && takes_list(class) && vals.len() > 1 {
                    vec![Value::Array(vals)]
                } else {
                    vals
                };
                json!({"args": args, "kwargs": {}})
            })
            .collect();
        layers.push(json!({
            "module": module,
            "class_name": if op_layer { l.class_name.as_str() } else { class },
            "config": config,
            "registered_name": null,
            "name": l.name,
            "inbound_nodes": nodes,
        }));
    }
    let refs = |ts: &[TensorRef]| -> Value {
        ts.iter()
            .map(|t| json!([t.layer, t.node, t.index]))
            .collect()
    };
    Ok(json!({
        "module": "keras.src.models.functional",
        "class_name": "Functional",
        "config": {
            "name": spec.name,
            "trainable": true,
            "layers": layers,
            "input_layers": refs(&spec.inputs),
            "output_layers": refs(&spec.outputs),
        },
        "registered_name": "Functional",
    }))
}
