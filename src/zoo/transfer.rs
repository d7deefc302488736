//! Transfer learning: a new Dense head trained on a network's pooled features, and the
//! end-to-end model that joins the network (up to those features) and the head.
//!
//! Joining needs no readback: the joined model shares the variables of both parts, so it works
//! the same on the CPU and on WebGPU.

use crate::error::{Error, Result};
use crate::keras;
use crate::model::{Graph, Model};
use crate::train::{init, Rng};
use burn::tensor::Device;

/// Name of the head's optional hidden layer.
pub const HIDDEN_LAYER: &str = "head_hidden";
/// Name of the head's classifier layer.
pub const OUTPUT_LAYER: &str = "head_predictions";

/// A new head for `features`-wide inputs: `[Dense(hidden, relu)] + Dense(classes, softmax)`,
/// initialised as Keras does (Glorot-uniform kernels, zero biases) from `seed`.
pub fn new_head(
    features: usize,
    classes: usize,
    hidden: Option<usize>,
    seed: u64,
    device: &Device,
) -> Result<Model> {
    if features == 0 || classes < 2 {
        return Err(Error::input(
            "head",
            format!(
                "a head needs at least 1 input feature and 2 classes; got {features} features, {classes} classes"
            ),
        ));
    }
    if hidden == Some(0) {
        return Err(Error::input("head", "hidden units must be at least 1"));
    }
    let json = head_structure(features, classes, hidden);
    let mut rng = Rng(seed);
    Model::from_spec_with(keras::parse_model(&json)?, device, |_, _, p| {
        Ok(init::keras_default(p, &mut rng))
    })
}

/// The structure JSON (Keras 3 Sequential) of the head [`new_head`] makes.
pub fn head_structure(features: usize, classes: usize, hidden: Option<usize>) -> String {
    let mut layers = vec![keras::build::input("features", &[features])];
    if let Some(h) = hidden {
        layers.push(keras::build::dense(HIDDEN_LAYER, h, "relu"));
    }
    layers.push(keras::build::dense(OUTPUT_LAYER, classes, "softmax"));
    keras::build::sequential("head", layers)
}

/// A structure JSON whose output is layer `cut`: a Sequential's layer list ends there, a
/// Functional model's `output_layers` name it.
pub fn truncated_structure(json: &str, cut: &str) -> Result<String> {
    let mut v: serde_json::Value = serde_json::from_str(json).map_err(|e| Error::Json {
        context: "model structure".into(),
        message: e.to_string(),
    })?;
    let class = v["class_name"].as_str().unwrap_or("").to_string();
    let config = &mut v["config"];
    if class == "Sequential" {
        let layers = config["layers"]
            .as_array_mut()
            .ok_or_else(|| Error::Graph("the Sequential structure has no layer list".into()))?;
        let at = layers
            .iter()
            .position(|l| l["config"]["name"].as_str() == Some(cut))
            .ok_or_else(|| Error::Graph(format!("the model has no layer '{cut}'")))?;
        layers.truncate(at + 1);
    } else {
        config["output_layers"] = serde_json::json!([[cut, 0, 0]]);
    }
    Ok(v.to_string())
}

/// The Keras structure JSON of `base` up to layer `cut`, followed by `head`'s layers.
pub fn joined_structure(base: &Model, cut: &str, head: &Model, name: &str) -> Result<String> {
    // Functional layers keep their recorded calls; a Sequential's layers (no calls recorded)
    // are chained in order.
    let mut layers: Vec<serde_json::Value> = Vec::new();
    let mut found = false;
    let mut prev: Option<String> = None;
    for l in &base.spec.layers {
        let entry = if l.class_name == "InputLayer" && l.raw.get("inbound_nodes").is_none() {
            let shape = base.input_shapes().first().cloned().unwrap_or_default();
            let mut input = keras::build::input(&l.name, &shape);
            input["name"] = serde_json::Value::String(l.name.clone());
            input["inbound_nodes"] = serde_json::json!([]);
            input
        } else if l.raw.get("inbound_nodes").is_some() {
            l.raw.clone()
        } else {
            let from = prev.clone().ok_or_else(|| {
                Error::Graph(format!("layer '{}' has no input to follow", l.name))
            })?;
            keras::build::node(l.raw.clone(), &[&from])
        };
        layers.push(entry);
        prev = Some(l.name.clone());
        if l.name == cut {
            found = true;
            break;
        }
    }
    if !found {
        return Err(Error::Graph(format!("the base model has no layer '{cut}'")));
    }
    let mut prev = cut.to_string();
    for l in head
        .spec
        .layers
        .iter()
        .filter(|l| l.class_name != "InputLayer")
    {
        if base.spec.layers.iter().any(|b| b.name == l.name) {
            return Err(Error::Graph(format!(
                "the head's layer '{}' has the name of a layer of the base model",
                l.name
            )));
        }
        let mut raw = l.raw.clone();
        if let Some(o) = raw.as_object_mut() {
            o.remove("inbound_nodes");
        }
        layers.push(keras::build::node(raw, &[&prev]));
        prev = l.name.clone();
    }
    let input = base
        .spec
        .inputs
        .first()
        .ok_or_else(|| Error::Graph("the base model has no input".into()))?;
    keras::build::with_shapes(&keras::build::functional(name, layers, &input.layer, &prev))
}

/// The end-to-end model: `base` up to layer `cut`, then `head`. The head's input width must
/// equal the width of `cut`'s output. Variables are shared, not copied.
pub fn join(base: &Model, cut: &str, head: &Model, name: &str) -> Result<Model> {
    let json = joined_structure(base, cut, head, name)?;
    let spec = keras::parse_model(&json)?;
    let graph = Graph::build(&spec)?;
    let mut params = Vec::with_capacity(spec.layers.len());
    for (l, ps) in spec.layers.iter().zip(&graph.params) {
        let from = |m: &Model| {
            m.spec
                .layers
                .iter()
                .position(|x| x.name == l.name)
                .map(|i| (m.params()[i].clone(), m.graph.params[i].clone()))
        };
        let (vals, specs) = from(head)
            .filter(|_| l.class_name != "InputLayer")
            .or_else(|| from(base))
            .ok_or_else(|| Error::Graph(format!("no variables for layer '{}'", l.name)))?;
        let sizes = |s: &[crate::model::ParamSpec]| s.iter().map(|p| p.size()).collect::<Vec<_>>();
        if sizes(&specs) != sizes(ps) {
            return Err(Error::Shape {
                context: format!("joining the head at layer '{}'", l.name),
                expected: format!("variables of sizes {:?}", sizes(ps)),
                found: format!("{:?}", sizes(&specs)),
            });
        }
        params.push(vals);
    }
    Ok(Model::from_parts(spec, graph, params, base.device.clone()))
}
