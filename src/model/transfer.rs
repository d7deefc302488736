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

/// Each layer's entry in a Keras 3 layer list, in the order of the model's layers: as written,
/// for a Keras 3 model; written out flat for a Keras 2 or TF.js one (whose nested models and
/// older call format a Keras 3 list cannot hold).
pub fn layer_entries(model: &Model) -> Result<Vec<serde_json::Value>> {
    if model.spec.flavor != keras::KerasFlavor::Keras2 {
        return Ok(model.spec.layers.iter().map(|l| l.raw.clone()).collect());
    }
    let v = keras::write::keras3_structure(&model.spec, |t| model.graph.shape_of(&model.spec, t))?;
    let entries = v["config"]["layers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if entries.len() != model.spec.layers.len() {
        return Err(Error::Graph(format!(
            "the flat structure has {} layers for the model's {}",
            entries.len(),
            model.spec.layers.len()
        )));
    }
    Ok(entries)
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
    let entries = layer_entries(base)?;
    for (l, raw) in base.spec.layers.iter().zip(entries) {
        let entry = if l.class_name == "InputLayer" && raw.get("inbound_nodes").is_none() {
            let shape = base.input_shapes().first().cloned().unwrap_or_default();
            let mut input = keras::build::input(&l.name, &shape);
            input["name"] = serde_json::Value::String(l.name.clone());
            input["inbound_nodes"] = serde_json::json!([]);
            input
        } else if raw.get("inbound_nodes").is_some() {
            raw
        } else {
            let from = prev.clone().ok_or_else(|| {
                Error::Graph(format!("layer '{}' has no input to follow", l.name))
            })?;
            keras::build::node(raw, &[&from])
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
    // Only the layers kept (up to the cut) may not share a head layer's name: a model's own
    // head, after the cut, is replaced by the new one (teaching a taught model further).
    let kept = layers.len();
    let mut prev = cut.to_string();
    for l in head
        .spec
        .layers
        .iter()
        .filter(|l| l.class_name != "InputLayer")
    {
        if base.spec.layers[..kept].iter().any(|b| b.name == l.name) {
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
    with_shapes(&keras::build::functional(name, layers, &input.layer, &prev))
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
    Ok(Model::from_parts(spec, graph, params, base.device.clone()).with_structure(json))
}

/// The layers of `base` after layer `from` up to layer `to`, as a structure JSON of their own
/// (Keras 3 Functional named `name`) whose input, named `from`, takes `from`'s output: the top
/// of a network (to fine-tune it on activations cached at `from`), or a classifier head. Every
/// layer in that range may read only `from` or layers inside it. With `freeze_batch_norm`, its
/// BatchNormalization layers are saved `trainable: false`: fit keeps their variables and runs
/// them in inference mode, Keras' recipe for fine-tuning.
pub fn sub_structure(
    base: &Model,
    from: &str,
    to: &str,
    name: &str,
    freeze_batch_norm: bool,
) -> Result<String> {
    let layers = &base.spec.layers;
    let at = |n: &str| {
        layers
            .iter()
            .position(|l| l.name == n)
            .ok_or_else(|| Error::Graph(format!("the model has no layer '{n}'")))
    };
    let (start, end) = (at(from)?, at(to)?);
    if end <= start {
        return Err(Error::Graph(format!(
            "layer '{to}' does not come after layer '{from}'"
        )));
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
    let mut input = keras::build::input(from, &shape);
    input["name"] = serde_json::Value::String(from.into());
    input["inbound_nodes"] = serde_json::json!([]);
    let mut out = vec![input];
    let mut inside: Vec<&str> = vec![from];
    let mut prev = from.to_string();
    let entries = layer_entries(base)?;
    for (l, entry) in layers[start + 1..=end]
        .iter()
        .zip(&entries[start + 1..=end])
    {
        let mut raw = if entry.get("inbound_nodes").is_some() {
            for call in &l.calls {
                for arg in call {
                    if let keras::Arg::Tensor(t) = arg {
                        if !inside.contains(&t.layer.as_str()) {
                            return Err(Error::Graph(format!(
                                "layer '{}' reads '{}', from before '{from}': the model cannot be cut there",
                                l.name, t.layer
                            )));
                        }
                    }
                }
            }
            entry.clone()
        } else {
            keras::build::node(entry.clone(), &[&prev])
        };
        if freeze_batch_norm && l.class_name == "BatchNormalization" {
            raw["config"]["trainable"] = serde_json::Value::Bool(false);
        }
        out.push(raw);
        inside.push(&l.name);
        prev = l.name.clone();
    }
    with_shapes(&keras::build::functional(name, out, from, to))
}

/// [`sub_structure`] as a model sharing `base`'s variables.
pub fn sub_model(
    base: &Model,
    from: &str,
    to: &str,
    name: &str,
    freeze_batch_norm: bool,
) -> Result<Model> {
    let json = sub_structure(base, from, to, name, freeze_batch_norm)?;
    let spec = keras::parse_model(&json)?;
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
    Ok(Model::from_parts(spec, graph, params, base.device.clone()).with_structure(json))
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
pub async fn remap_classes(
    head: &Model,
    structure: &str,
    from: &[Option<usize>],
    seed: u64,
) -> Result<Model> {
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
    let mut v: serde_json::Value = serde_json::from_str(structure).map_err(|e| Error::Json {
        context: "head structure".into(),
        message: e.to_string(),
    })?;
    let entry = v["config"]["layers"]
        .as_array_mut()
        .and_then(|ls| {
            ls.iter_mut()
                .find(|l| l["config"]["name"].as_str() == Some(name.as_str()))
        })
        .ok_or_else(|| Error::Graph(format!("the head structure has no layer '{name}'")))?;
    entry["config"]["units"] = serde_json::json!(from.len());
    // Shapes recorded for the old width go: they are worked out again.
    if let Some(o) = entry.as_object_mut() {
        o.remove("build_config");
    }
    let json = with_shapes(&v.to_string())?;
    let old = head.keras_values_async().await?;
    let mut rng = Rng(seed);
    let spec = keras::parse_model(&json)?;
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
    Ok(model.with_structure(json))
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
