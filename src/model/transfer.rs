//! Transfer learning: a new Dense head trained on a network's pooled features, and the
//! end-to-end model that joins the network (up to those features) and the head.
//!
//! Joining needs no readback: the joined model shares the variables of both parts, so it works
//! the same on the CPU and on WebGPU.

use crate::error::{Error, Result};
use crate::keras;
use crate::model::init;
use crate::model::{Graph, Model};
use crate::rng::Rng;
use burn::tensor::Device;
use serde_json::{json, Value};

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
    Ok(Model::initialized(keras::parse_model(&json)?, device, seed)?.with_structure(json))
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

/// The Keras 3 structure JSON of `base` up to layer `cut`, followed by `head`'s layers
/// ([`join`]'s, written from its spec).
pub fn joined_structure(base: &Model, cut: &str, head: &Model, name: &str) -> Result<String> {
    join(base, cut, head, name)?.structure_json()
}

/// The end-to-end model: `base` up to layer `cut`, then `head`. The head's input width must
/// equal the width of `cut`'s output. Variables are shared, not copied.
pub fn join(base: &Model, cut: &str, head: &Model, name: &str) -> Result<Model> {
    let spec = base.spec.joined(cut, &head.spec, name)?;
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
    // The structure is written from the spec when saved.
    Ok(Model::from_parts(spec, graph, params, base.device.clone()))
}

/// The layers of `base` after layer `from` up to layer `to` as a model of their own (named
/// `name`) sharing `base`'s variables, whose input, named `from`, takes `from`'s output: the
/// top of a network (to fine-tune it on activations cached at `from`), or a classifier head
/// ([`ModelSpec::sub`](crate::keras::ModelSpec::sub); with `freeze_batch_norm` its
/// BatchNormalization layers stay in inference mode and keep their variables).
pub fn sub_model(
    base: &Model,
    from: &str,
    to: &str,
    name: &str,
    freeze_batch_norm: bool,
) -> Result<Model> {
    if !base.spec.layers.iter().any(|l| l.name == from) {
        return Err(Error::Graph(format!("the model has no layer '{from}'")));
    }
    let from_ref = keras::TensorRef {
        layer: from.into(),
        node: 0,
        index: 0,
    };
    let shape = base
        .graph
        .shape_of(&base.spec, &from_ref)
        .ok_or_else(|| Error::Graph(format!("layer '{from}' is not called in the model")))?
        .to_vec();
    let spec = base.spec.sub(from, to, name, &shape, freeze_batch_norm)?;
    let graph = Graph::build(&spec)?;
    let mut params = Vec::with_capacity(spec.layers.len());
    for (l, ps) in spec.layers.iter().zip(&graph.params) {
        if l.class_name == "InputLayer" {
            params.push(Vec::new());
            continue;
        }
        let i = base
            .spec
            .layers
            .iter()
            .position(|x| x.name == l.name)
            .ok_or_else(|| Error::Graph(format!("no variables for layer '{}'", l.name)))?;
        if base.graph.params[i].len() != ps.len() {
            return Err(Error::Graph(format!(
                "layer '{}': {} variables in the model, {} in its part",
                l.name,
                base.graph.params[i].len(),
                ps.len()
            )));
        }
        params.push(base.params()[i].clone());
    }
    Ok(Model::from_parts(spec, graph, params, base.device.clone()))
}

/// Where a classifier ends its feature extractor: the layer before the model's trailing run of
/// Dense layers (with any Dropout, Flatten or Activation among them), as in a Glimpse export
/// (EfficientNet-Lite0 + `head_*`) or a Teachable Machine model (MobileNet + two Dense layers).
/// `None` when the model does not end in a Dense layer.
pub fn head_cut(model: &Model) -> Option<String> {
    let layers = &model.spec.layers;
    let last = layers.iter().rposition(|l| l.class_name == "Dense")?;
    if layers[last + 1..]
        .iter()
        .any(|l| !matches!(l.class_name.as_str(), "Activation" | "Softmax"))
    {
        return None;
    }
    let mut i = last;
    while i > 0
        && matches!(
            layers[i].class_name.as_str(),
            "Dense" | "Dropout" | "Flatten" | "Activation"
        )
    {
        i -= 1;
    }
    (layers[i].class_name != "InputLayer" || i > 0).then(|| layers[i].name.clone())
}

/// A classifier head (a model whose last Dense layer gives the classes) with other classes:
/// output `j` of the result is old output `from[j]` (its kernel column and bias kept) or, where
/// `None`, a new class initialised as Keras initialises a Dense layer (seeded). Teaching a taught
/// model further: its classes keep what they learned, new ones start fresh. The head carries its
/// structure.
pub async fn remap_classes(head: &Model, from: &[Option<usize>], seed: u64) -> Result<Model> {
    let last = head
        .spec
        .layers
        .iter()
        .rposition(|l| l.class_name == "Dense")
        .ok_or_else(|| Error::Graph("the head has no Dense layer".into()))?;
    let name = head.spec.layers[last].name.clone();
    let old_units = *head.output_shapes()[0].last().unwrap_or(&0);
    if from.len() < 2 {
        return Err(Error::input(
            "classes",
            format!("a classifier needs at least 2 classes; got {}", from.len()),
        ));
    }
    if let Some(bad) = from.iter().flatten().find(|&&k| k >= old_units) {
        return Err(Error::input(
            "classes",
            format!("old class {bad} does not exist: the head has {old_units}"),
        ));
    }
    // The same structure with the classifier `from.len()` wide (as a spec; written when saved).
    let mut spec = head.spec.clone();
    let layer = &mut spec.layers[last];
    if let keras::LayerConfig::Dense(c) = &mut layer.config {
        c.units = from.len();
    }
    if let Some(o) = layer.raw.as_object_mut() {
        // Shapes recorded for the old width go: they are worked out again.
        o.remove("build_config");
        if let Some(c) = o
            .get_mut("config")
            .and_then(serde_json::Value::as_object_mut)
        {
            c.insert("units".into(), serde_json::json!(from.len()));
        }
    }
    let old = head.keras_values_async().await?;
    let mut rng = Rng(seed);
    let model = Model::from_spec_with(spec, &head.device, |layer, i, p| {
        let li = head
            .spec
            .layers
            .iter()
            .position(|l| l.name == layer)
            .ok_or_else(|| Error::Graph(format!("no layer '{layer}' in the head")))?;
        if layer != name {
            return Ok(old[li][i].clone());
        }
        let fresh = init::keras_default(p, &mut rng);
        let mut out = fresh.clone();
        let units = from.len();
        let rows = p.size() / units;
        for (j, src) in from.iter().enumerate() {
            let Some(k) = *src else { continue };
            for r in 0..rows {
                // Kernel [in, units] row-major; bias [units] (one row).
                out[r * units + j] = old[li][i][r * old_units + k];
            }
        }
        Ok(out)
    })?;
    Ok(model)
}

/// Fills the `shape` of every call argument of a Functional structure (Keras needs it to read
/// the JSON back), from Glimpse's own shape inference.
pub fn with_shapes(json: &str) -> crate::Result<String> {
    let spec = crate::keras::parse_model(json)?;
    let graph = Graph::build(&spec)?;
    let mut shapes = std::collections::HashMap::new();
    for n in &graph.nodes {
        shapes
            .entry(spec.layers[n.layer].name.clone())
            .or_insert_with(|| n.out_shape.clone());
    }
    let mut v: Value = serde_json::from_str(json).map_err(|e| crate::Error::Json {
        context: "structure".into(),
        message: e.to_string(),
    })?;
    fn fill(v: &mut Value, shapes: &std::collections::HashMap<String, Vec<usize>>) {
        match v {
            Value::Object(o) => {
                if o.get("class_name").and_then(Value::as_str) == Some("__keras_tensor__") {
                    if let Some(c) = o.get_mut("config").and_then(Value::as_object_mut) {
                        let name = c
                            .get("keras_history")
                            .and_then(|h| h.get(0))
                            .and_then(Value::as_str)
                            .map(String::from);
                        if let Some(s) = name.and_then(|n| shapes.get(&n)) {
                            let mut dims = vec![Value::Null];
                            dims.extend(s.iter().map(|&d| json!(d)));
                            c.insert("shape".into(), Value::Array(dims));
                        }
                    }
                    return;
                }
                o.values_mut().for_each(|x| fill(x, shapes));
            }
            Value::Array(a) => a.iter_mut().for_each(|x| fill(x, shapes)),
            _ => {}
        }
    }
    fill(&mut v, &shapes);
    Ok(serde_json::to_string(&v).expect("JSON values serialize"))
}
