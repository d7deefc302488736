//! The model-level schema: Sequential and Functional configs, inbound nodes, nesting.

use super::config::{layer_class, supported_layers, InputConfig, LayerConfig};
use crate::error::{Error, Result};
use serde_json::Value;
use std::collections::HashMap;

/// Which Keras wrote the JSON. Some semantics differ (e.g. `hard_sigmoid`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum KerasFlavor {
    /// tf.keras 2.x / Keras 2.
    Keras2,
    /// Keras 3.
    Keras3,
}

/// The output `index` of call number `node` of layer `layer`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct TensorRef {
    /// Layer name.
    pub layer: String,
    /// Which call of the layer (shared layers are called more than once).
    pub node: usize,
    /// Which output of that call.
    pub index: usize,
}

/// One positional argument of a layer call.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub enum Arg {
    /// A tensor produced by another layer.
    Tensor(TensorRef),
    /// A constant (Keras 3 op layers such as `x + 3.0`).
    Scalar(f64),
}

/// One layer of the (flattened) model.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LayerSpec {
    /// Unique layer name.
    pub name: String,
    /// Keras class name, as written.
    pub class_name: String,
    /// The typed configuration.
    pub config: LayerConfig,
    /// The arguments of each call of this layer (one entry per inbound node).
    pub calls: Vec<Vec<Arg>>,
    /// The layer's raw JSON entry (kept so a model can be written back unchanged).
    #[serde(skip)]
    pub raw: Value,
}

impl LayerSpec {
    /// A layer from its structure-JSON entry (`class_name`, `config`; Keras 3 style), called
    /// with `calls`; an unsupported class or a bad config is an error naming the layer.
    pub fn from_raw(raw: Value, calls: Vec<Vec<Arg>>) -> Result<LayerSpec> {
        let name = layer_name(&raw);
        let (class_name, config) = typed_config(&raw, &name)?;
        Ok(LayerSpec {
            name,
            class_name,
            config,
            calls,
            raw,
        })
    }
}

/// A parsed model structure: a flat list of layers (nested models inlined), inputs and outputs.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ModelSpec {
    /// The model's name.
    pub name: String,
    /// Which Keras wrote it.
    pub flavor: KerasFlavor,
    /// Layers in the order the JSON lists them (inputs first for Sequential).
    pub layers: Vec<LayerSpec>,
    /// The model inputs.
    pub inputs: Vec<TensorRef>,
    /// The model outputs.
    pub outputs: Vec<TensorRef>,
    /// `compile_config` when the JSON carries one (`.keras` files).
    pub compile_config: Option<Value>,
}

fn json_err(context: impl Into<String>, message: impl ToString) -> Error {
    Error::Json {
        context: context.into(),
        message: message.to_string(),
    }
}

/// Parses the text `model.to_json()` wrote (or a `.keras` `config.json`, or a legacy `.h5`
/// `model_config`).
pub fn parse_model(json: &str) -> Result<ModelSpec> {
    parse_model_versioned(json, None)
}

/// Like [`parse_model`], with the Keras version recorded next to the JSON (a full-model `.h5`
/// keeps it in a file attribute), used when the JSON itself does not say.
pub fn parse_model_versioned(json: &str, keras_version: Option<&str>) -> Result<ModelSpec> {
    let mut value: Value =
        serde_json::from_str(json).map_err(|e| json_err("document", format!("{e}")))?;
    if let (Some(v), Value::Object(o)) = (keras_version, &mut value) {
        o.entry("keras_version")
            .or_insert_with(|| Value::String(v.to_string()));
    }
    parse_model_value(&value)
}

fn flavor_of(v: &Value) -> KerasFlavor {
    if let Some(ver) = v.get("keras_version").and_then(Value::as_str) {
        // TF.js layers (`tfjs-layers 1.7.4`) follows Keras 2's definitions.
        return if ver.starts_with('2') || ver.starts_with('1') || ver.starts_with("tfjs") {
            KerasFlavor::Keras2
        } else {
            KerasFlavor::Keras3
        };
    }
    if v.get("module").is_some() {
        KerasFlavor::Keras3
    } else {
        KerasFlavor::Keras2
    }
}

/// Every layer of the model (nested models included) whose class Glimpse does not implement:
/// (name, class, module).
fn unsupported_layers(v: &Value) -> Vec<(String, String, Option<String>)> {
    let mut found = Vec::new();
    let mut models = vec![v];
    while let Some(m) = models.pop() {
        let layers = match m.get("config") {
            Some(Value::Array(a)) => a.as_slice(),
            Some(c) => c
                .get("layers")
                .and_then(Value::as_array)
                .map_or(&[][..], Vec::as_slice),
            None => &[],
        };
        for raw in layers {
            let Some(class) = raw.get("class_name").and_then(Value::as_str) else {
                continue;
            };
            if is_model_class(class) {
                models.push(raw);
            } else if layer_class(class).is_none() {
                found.push((
                    layer_name(raw),
                    class.to_string(),
                    raw.get("module").and_then(Value::as_str).map(String::from),
                ));
            }
        }
    }
    found
}

/// Parses a model given as a JSON value.
pub fn parse_model_value(v: &Value) -> Result<ModelSpec> {
    // Every unsupported class at once, before anything else is checked.
    let unsupported = unsupported_layers(v);
    if unsupported.len() > 1 {
        let mut classes: Vec<String> = Vec::new();
        for (_, c, _) in &unsupported {
            if !classes.contains(c) {
                classes.push(c.clone());
            }
        }
        return Err(Error::UnsupportedLayers {
            classes: classes.join(", "),
            layers: unsupported
                .iter()
                .map(|(n, c, m)| match m {
                    Some(m) => format!("'{n}' ({c}, module {m})"),
                    None => format!("'{n}' ({c})"),
                })
                .collect::<Vec<_>>()
                .join(", "),
            supported: supported_layers().join(", "),
        });
    }
    let flavor = flavor_of(v);
    let mut spec = parse_any(v, flavor)?;
    spec.compile_config = v.get("compile_config").filter(|c| !c.is_null()).cloned();
    Ok(spec)
}

fn parse_any(v: &Value, flavor: KerasFlavor) -> Result<ModelSpec> {
    let class = v.get("class_name").and_then(Value::as_str).ok_or_else(|| {
        json_err(
            "document",
            "expected an object with a \"class_name\" (what model.to_json() writes)",
        )
    })?;
    let config = v
        .get("config")
        .ok_or_else(|| json_err("document", "missing \"config\""))?;
    match class {
        "Sequential" => parse_sequential(config, flavor),
        "Functional" | "Model" => parse_functional(config, flavor),
        other => Err(json_err(
            "document",
            format!("expected a Sequential or Functional model, found class '{other}'"),
        )),
    }
}

fn is_model_class(class: &str) -> bool {
    matches!(class, "Sequential" | "Functional" | "Model")
}

fn layer_name(raw: &Value) -> String {
    raw.get("name")
        .and_then(Value::as_str)
        .or_else(|| raw.pointer("/config/name").and_then(Value::as_str))
        .unwrap_or("<unnamed>")
        .to_string()
}

/// Types one layer's config, or fails with an error naming the layer and its class.
fn typed_config(raw: &Value, name: &str) -> Result<(String, LayerConfig)> {
    let class = raw
        .get("class_name")
        .and_then(Value::as_str)
        .ok_or_else(|| json_err(format!("layer '{name}'"), "missing \"class_name\""))?;
    let empty = Value::Object(Default::default());
    let config = raw.get("config").unwrap_or(&empty);
    match LayerConfig::parse(class, config) {
        Ok(Some(c)) => Ok((class.to_string(), c)),
        Ok(None) => Err(Error::UnsupportedLayer {
            layer: name.to_string(),
            class_name: class.to_string(),
            module: raw
                .get("module")
                .and_then(Value::as_str)
                .map(|m| format!(" (module {m})"))
                .unwrap_or_default(),
            supported: supported_layers().join(", "),
        }),
        Err(e) => Err(json_err(format!("layer '{name}' ({class}) config"), e)),
    }
}

/// The input shape a layer declares: its own `batch_input_shape` / `batch_shape`, or, for a
/// nested model (TF.js and Teachable Machine nest a Sequential in a Sequential), its first
/// layer's or its InputLayer's. Bounded depth: nesting deeper than 64 models is not looked into.
fn first_input_shape(raw: &Value, depth: usize) -> Option<&Value> {
    let own = raw
        .pointer("/config/batch_input_shape")
        .or_else(|| raw.pointer("/config/batch_shape"))
        .filter(|s| !s.is_null());
    if own.is_some() || depth > 64 {
        return own;
    }
    let class = raw.get("class_name").and_then(Value::as_str).unwrap_or("");
    let config = raw.get("config")?;
    match class {
        "Sequential" => {
            let layers = match config {
                Value::Array(a) => a,
                c => c.get("layers")?.as_array()?,
            };
            config
                .get("build_input_shape")
                .filter(|s| !s.is_null())
                .or_else(|| first_input_shape(layers.first()?, depth + 1))
        }
        "Functional" | "Model" => {
            let first = config
                .pointer("/input_layers/0/0")
                .or_else(|| config.pointer("/input_layers/0"))?;
            let name = first.as_str()?;
            let layers = config.get("layers")?.as_array()?;
            let input = layers.iter().find(|l| layer_name(l) == name)?;
            first_input_shape(input, depth + 1)
        }
        _ => None,
    }
}

fn parse_sequential(config: &Value, flavor: KerasFlavor) -> Result<ModelSpec> {
    // tf.keras 2 writes {"name", "layers"}; very old Keras a bare list.
    let (name, layers) = match config {
        Value::Array(a) => ("sequential".to_string(), a.as_slice()),
        Value::Object(o) => (
            o.get("name")
                .and_then(Value::as_str)
                .unwrap_or("sequential")
                .to_string(),
            o.get("layers")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .ok_or_else(|| json_err("Sequential config", "missing \"layers\" list"))?,
        ),
        _ => return Err(json_err("Sequential config", "expected an object")),
    };
    let mut out = ModelSpec {
        name: name.clone(),
        flavor,
        layers: Vec::new(),
        inputs: Vec::new(),
        outputs: Vec::new(),
        compile_config: None,
    };
    let mut prev: Option<TensorRef> = None;
    for raw in layers {
        let lname = layer_name(raw);
        let class = raw.get("class_name").and_then(Value::as_str).unwrap_or("");
        if prev.is_none() && class != "InputLayer" {
            // No InputLayer: the shape sits on the first layer (batch_input_shape / batch_shape)
            // or on the Sequential itself (build_input_shape).
            let shape = first_input_shape(raw, 0)
                .or_else(|| config.get("build_input_shape").filter(|s| !s.is_null()))
                .ok_or_else(|| {
                    json_err(
                        format!("Sequential '{name}'"),
                        "no InputLayer and no input shape (batch_input_shape / build_input_shape)",
                    )
                })?;
            let input: InputConfig =
                serde_json::from_value(serde_json::json!({ "batch_shape": shape }))
                    .map_err(|e| json_err(format!("Sequential '{name}' input shape"), e))?;
            let iname = format!("{name}_input");
            out.layers.push(LayerSpec {
                name: iname.clone(),
                class_name: "InputLayer".into(),
                config: LayerConfig::Input(input),
                calls: vec![],
                raw: Value::Null,
            });
            let r = TensorRef {
                layer: iname,
                node: 0,
                index: 0,
            };
            out.inputs.push(r.clone());
            prev = Some(r);
        }
        if class == "InputLayer" {
            if prev.is_some() {
                return Err(json_err(
                    format!("Sequential '{name}'"),
                    format!(
                        "InputLayer '{lname}' comes after the model's input; a Sequential \
                         model has one input, given by its first layer"
                    ),
                ));
            }
            let (class_name, cfg) = typed_config(raw, &lname)?;
            out.layers.push(LayerSpec {
                name: lname.clone(),
                class_name,
                config: cfg,
                calls: vec![],
                raw: raw.clone(),
            });
            let r = TensorRef {
                layer: lname,
                node: 0,
                index: 0,
            };
            out.inputs.push(r.clone());
            prev = Some(r);
            continue;
        }
        let input = prev.clone().expect("set above");
        if is_model_class(class) {
            let inner = parse_any(raw, flavor)?;
            let outs = inline(&mut out, inner, &[Arg::Tensor(input)], &lname)?;
            prev = outs.into_iter().next();
            continue;
        }
        let (class_name, cfg) = typed_config(raw, &lname)?;
        out.layers.push(LayerSpec {
            name: lname.clone(),
            class_name,
            config: cfg,
            calls: vec![vec![Arg::Tensor(input)]],
            raw: raw.clone(),
        });
        prev = Some(TensorRef {
            layer: lname,
            node: 0,
            index: 0,
        });
    }
    out.outputs = prev.into_iter().collect();
    if out.inputs.is_empty() {
        return Err(json_err(
            format!("Sequential '{name}'"),
            "the model has no layers",
        ));
    }
    Ok(out)
}

/// Appends a nested model's layers to `outer`, wiring its inputs to `args`; returns the refs
/// that stand for its outputs.
fn inline(
    outer: &mut ModelSpec,
    inner: ModelSpec,
    args: &[Arg],
    name: &str,
) -> Result<Vec<TensorRef>> {
    let tensors: Vec<&TensorRef> = args
        .iter()
        .filter_map(|a| match a {
            Arg::Tensor(t) => Some(t),
            Arg::Scalar(_) => None,
        })
        .collect();
    if tensors.len() != inner.inputs.len() {
        return Err(Error::Graph(format!(
            "nested model '{name}' takes {} inputs, called with {}",
            inner.inputs.len(),
            tensors.len()
        )));
    }
    let mut alias: HashMap<String, TensorRef> = HashMap::new();
    for (i, t) in inner.inputs.iter().zip(tensors) {
        alias.insert(i.layer.clone(), t.clone());
    }
    let map = |r: &TensorRef| alias.get(&r.layer).cloned().unwrap_or_else(|| r.clone());
    for mut l in inner.layers {
        if alias.contains_key(&l.name) {
            continue; // an inner InputLayer
        }
        for call in &mut l.calls {
            for a in call.iter_mut() {
                if let Arg::Tensor(t) = a {
                    *t = map(t);
                }
            }
        }
        outer.layers.push(l);
    }
    Ok(inner.outputs.iter().map(map).collect())
}

/// Reads `[name, node, index, ...]`.
fn parse_ref_list(v: &Value) -> Option<TensorRef> {
    let a = v.as_array()?;
    Some(TensorRef {
        layer: a.first()?.as_str()?.to_string(),
        node: a.get(1).and_then(Value::as_u64).unwrap_or(0) as usize,
        index: a.get(2).and_then(Value::as_u64).unwrap_or(0) as usize,
    })
}

/// `input_layers` / `output_layers`: one `[name, node, index]` or a list of them.
fn parse_io(v: Option<&Value>, what: &str) -> Result<Vec<TensorRef>> {
    let v = v.ok_or_else(|| json_err("Functional config", format!("missing \"{what}\"")))?;
    if let Some(r) = parse_ref_list(v) {
        return Ok(vec![r]);
    }
    v.as_array()
        .map(|a| a.iter().map(parse_ref_list).collect::<Option<Vec<_>>>())
        .and_then(|x| x)
        .ok_or_else(|| {
            json_err(
                format!("Functional \"{what}\""),
                format!("expected [name, node, index] entries, found {v}"),
            )
        })
}

/// Flattens one Keras 3 call argument into tensors and constants.
fn keras3_args(v: &Value, out: &mut Vec<Arg>, ctx: &str) -> Result<()> {
    match v {
        Value::Number(n) => out.push(Arg::Scalar(n.as_f64().unwrap_or(0.0))),
        Value::Array(a) => {
            for x in a {
                keras3_args(x, out, ctx)?;
            }
        }
        Value::Object(o) => {
            let hist = o
                .get("config")
                .and_then(|c| c.get("keras_history"))
                .and_then(parse_ref_list)
                .ok_or_else(|| json_err(ctx, format!("unexpected call argument {v}")))?;
            out.push(Arg::Tensor(hist));
        }
        Value::Null => {}
        other => return Err(json_err(ctx, format!("unexpected call argument {other}"))),
    }
    Ok(())
}

fn parse_calls(raw: &Value, name: &str) -> Result<Vec<Vec<Arg>>> {
    let ctx = format!("layer '{name}' inbound_nodes");
    let nodes = match raw.get("inbound_nodes") {
        None | Some(Value::Null) => return Ok(vec![]),
        Some(Value::Array(a)) => a,
        Some(other) => return Err(json_err(ctx, format!("expected a list, found {other}"))),
    };
    let mut calls = Vec::new();
    for node in nodes {
        let mut args = Vec::new();
        match node {
            // Keras 3: {"args": [...], "kwargs": {...}}
            Value::Object(o) => {
                if let Some(a) = o.get("args") {
                    keras3_args(a, &mut args, &ctx)?;
                }
            }
            // Keras 2: [[name, node, index, kwargs], ...]
            Value::Array(a) => {
                for t in a {
                    let r = parse_ref_list(t).ok_or_else(|| {
                        json_err(
                            &ctx,
                            format!("expected [name, node, index, kwargs], found {t}"),
                        )
                    })?;
                    args.push(Arg::Tensor(r));
                }
            }
            other => return Err(json_err(&ctx, format!("unexpected node {other}"))),
        }
        calls.push(args);
    }
    Ok(calls)
}

fn parse_functional(config: &Value, flavor: KerasFlavor) -> Result<ModelSpec> {
    let name = config
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("model")
        .to_string();
    let layers = config
        .get("layers")
        .and_then(Value::as_array)
        .ok_or_else(|| json_err("Functional config", "missing \"layers\" list"))?;
    let mut out = ModelSpec {
        name,
        flavor,
        layers: Vec::new(),
        inputs: parse_io(config.get("input_layers"), "input_layers")?,
        outputs: Vec::new(),
        compile_config: None,
    };
    let mut alias: HashMap<(String, usize), Vec<TensorRef>> = HashMap::new();
    for raw in layers {
        let lname = layer_name(raw);
        let class = raw.get("class_name").and_then(Value::as_str).unwrap_or("");
        let calls = parse_calls(raw, &lname)?;
        if is_model_class(class) {
            let inner = parse_any(raw, flavor)?;
            if calls.len() > 1 {
                // Each call would need its own copy of the nodes, sharing weights.
                return Err(Error::UnsupportedConfig {
                    layer: lname.clone(),
                    class_name: class.into(),
                    message: "a nested model called more than once".into(),
                });
            }
            if let Some(call) = calls.first() {
                let outs = inline(&mut out, inner, call, &lname)?;
                alias.insert((lname.clone(), 0), outs);
            }
            continue;
        }
        let (class_name, cfg) = typed_config(raw, &lname)?;
        out.layers.push(LayerSpec {
            name: lname,
            class_name,
            config: cfg,
            calls,
            raw: raw.clone(),
        });
    }
    // Resolve references to nested models into their output layers.
    let resolve = |r: &TensorRef| -> TensorRef {
        match alias.get(&(r.layer.clone(), r.node)) {
            Some(outs) => outs.get(r.index).cloned().unwrap_or_else(|| r.clone()),
            None => r.clone(),
        }
    };
    for l in &mut out.layers {
        for call in &mut l.calls {
            for a in call.iter_mut() {
                if let Arg::Tensor(t) = a {
                    *t = resolve(t);
                }
            }
        }
    }
    out.outputs = parse_io(config.get("output_layers"), "output_layers")?
        .iter()
        .map(resolve)
        .collect();
    out.inputs = out.inputs.iter().map(resolve).collect();
    Ok(out)
}
