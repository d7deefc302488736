//! From a [`ModelSpec`] to a graph of built layer calls in topological order, with shape
//! inference and the variables each layer needs.

use super::layers::{self, BuildCtx, Op, ParamSpec};
use crate::error::{Error, Result};
use crate::keras::{Arg, LayerConfig, ModelSpec, TensorRef};
use crate::limits::{self, Limits};
use std::collections::{HashMap, HashSet};

/// One call of one layer.
#[derive(Debug, Clone)]
pub struct Node {
    /// Index of the layer in [`ModelSpec::layers`] (and of its variables).
    pub layer: usize,
    /// What it computes.
    pub op: Op,
    /// The nodes whose outputs it takes, in order.
    pub inputs: Vec<usize>,
    /// Output shape without batch.
    pub out_shape: Vec<usize>,
}

/// The model graph, nodes in an order where every input comes first.
#[derive(Debug, Clone)]
pub struct Graph {
    /// Nodes, topologically sorted.
    pub nodes: Vec<Node>,
    /// Node ids of the model inputs.
    pub inputs: Vec<usize>,
    /// Node ids of the model outputs.
    pub outputs: Vec<usize>,
    /// For each node, the index of the last node that reads it (outputs: `usize::MAX`).
    pub last_use: Vec<usize>,
    /// Variables per layer (empty for layers without any).
    pub params: Vec<Vec<ParamSpec>>,
    /// For each node, the BatchNormalization node that inference folds into it: set on a
    /// convolution without activation whose output only that BatchNormalization reads.
    pub fold_bn: Vec<Option<usize>>,
    /// For each convolution, the clamp-like activation node (ReLU, ReLU6) that inference
    /// applies inside it: the only reader of the convolution's output (after its folded
    /// BatchNormalization, if any), not itself a model output.
    pub fuse_clip: Vec<Option<(usize, (f32, f32))>>,
    /// The nodes inference skips because a convolution before them computes them (folded
    /// BatchNormalizations, fused activations): they pass their input through.
    pub fused_away: Vec<bool>,
    /// Values of the largest layer output for one sample (checked against
    /// [`Limits::max_batch_activation`] for each batch).
    pub max_activation: u64,
    /// The node of each `(layer, call)` of the spec.
    pub calls: HashMap<(usize, usize), usize>,
    /// Per model input, which axes (without batch) the model leaves unknown (`None` in Keras:
    /// a fully convolutional model runs at the size it is given). This graph has them at
    /// `NOMINAL_SIZE` unless built for given sizes ([`Graph::build_sized`]).
    pub free_axes: Vec<Vec<bool>>,
    /// Per layer of the spec, whether it was saved with `trainable: false`.
    pub frozen: Vec<bool>,
}

/// The size a graph gives an input axis the model leaves unknown until it is given an input.
pub const NOMINAL_SIZE: usize = 224;

struct Builder<'a> {
    spec: &'a ModelSpec,
    by_name: HashMap<&'a str, usize>,
    done: HashMap<(usize, usize), usize>,
    visiting: HashSet<(usize, usize)>,
    nodes: Vec<Node>,
    params: Vec<Option<Vec<ParamSpec>>>,
    limits: Limits,
    /// Values of the variables seen so far (`None` once past 2^64).
    param_count: Option<u64>,
    /// Values of the largest output of one sample so far.
    max_activation: u64,
    /// Input sizes to use, by input layer index (for axes the model leaves unknown).
    sizes: HashMap<usize, Vec<usize>>,
}

impl Graph {
    /// The shape (without batch) of the tensor `r` of `spec`, once built.
    pub fn shape_of(&self, spec: &ModelSpec, r: &crate::keras::TensorRef) -> Option<&[usize]> {
        let layer = spec.layers.iter().position(|l| l.name == r.layer)?;
        let node = self.calls.get(&(layer, r.node))?;
        Some(&self.nodes[*node].out_shape)
    }

    /// Builds the graph, checking that it connects and that shapes fit.
    pub fn build(spec: &ModelSpec) -> Result<Graph> {
        Graph::build_sized(spec, &[])
    }

    /// Builds the graph for inputs of the given shapes (without batch, one per model input;
    /// empty: the declared shapes, unknown axes at `NOMINAL_SIZE`). A given shape must
    /// match the declared one wherever the model fixes it.
    pub fn build_sized(spec: &ModelSpec, shapes: &[Vec<usize>]) -> Result<Graph> {
        let mut by_name = HashMap::new();
        for (i, l) in spec.layers.iter().enumerate() {
            if by_name.insert(l.name.as_str(), i).is_some() {
                return Err(Error::Graph(format!("two layers are named '{}'", l.name)));
            }
        }
        let mut b = Builder {
            spec,
            by_name,
            done: HashMap::new(),
            visiting: HashSet::new(),
            nodes: Vec::new(),
            params: vec![None; spec.layers.len()],
            limits: limits::get(),
            param_count: Some(0),
            max_activation: 0,
            sizes: HashMap::new(),
        };
        for (r, shape) in spec.inputs.iter().zip(shapes) {
            if let Some(&i) = b.by_name.get(r.layer.as_str()) {
                b.sizes.insert(i, shape.clone());
            }
        }
        let inputs = spec
            .inputs
            .iter()
            .map(|r| b.node(r))
            .collect::<Result<Vec<_>>>()?;
        for &i in &inputs {
            if !matches!(b.nodes[i].op, Op::Input) {
                return Err(Error::Graph(format!(
                    "model input '{}' is not an InputLayer",
                    spec.layers[b.nodes[i].layer].name
                )));
            }
        }
        let outputs = spec
            .outputs
            .iter()
            .map(|r| b.node(r))
            .collect::<Result<Vec<_>>>()?;
        if outputs.is_empty() {
            return Err(Error::Graph("the model has no outputs".into()));
        }
        for (i, n) in b.nodes.iter().enumerate() {
            if matches!(n.op, Op::Input) && !inputs.contains(&i) {
                return Err(Error::Graph(format!(
                    "the outputs depend on '{}', which is not among the model inputs",
                    spec.layers[n.layer].name
                )));
            }
        }
        let mut last_use = vec![0usize; b.nodes.len()];
        for (i, n) in b.nodes.iter().enumerate() {
            for &j in &n.inputs {
                last_use[j] = i;
            }
        }
        for &o in &outputs {
            last_use[o] = usize::MAX;
        }
        let fold_bn = fold_targets(&b.nodes, &outputs);
        let fuse_clip = clip_targets(&b.nodes, &outputs, &fold_bn);
        let mut fused_away = vec![false; b.nodes.len()];
        for k in fold_bn.iter().flatten() {
            fused_away[*k] = true;
        }
        for (k, _) in fuse_clip.iter().flatten() {
            fused_away[*k] = true;
        }
        let free_axes = inputs
            .iter()
            .map(|&i| {
                declared_input(&spec.layers[b.nodes[i].layer])
                    .map_or_else(Vec::new, |d| d.iter().map(Option::is_none).collect())
            })
            .collect();
        let frozen = spec
            .layers
            .iter()
            .map(|l| l.raw.pointer("/config/trainable") == Some(&serde_json::Value::Bool(false)))
            .collect();
        Ok(Graph {
            frozen,
            free_axes,
            calls: b.done,
            nodes: b.nodes,
            inputs,
            outputs,
            last_use,
            fold_bn,
            fuse_clip,
            fused_away,
            max_activation: b.max_activation,
            params: b
                .params
                .into_iter()
                .map(Option::unwrap_or_default)
                .collect(),
        })
    }
}

/// The shape (without batch) an InputLayer declares, `None` for unknown axes.
fn declared_input(layer: &crate::keras::LayerSpec) -> Option<Vec<Option<usize>>> {
    let LayerConfig::Input(c) = &layer.config else {
        return None;
    };
    match (&c.batch_shape, &c.shape) {
        (Some(b), _) if !b.is_empty() => Some(b[1..].to_vec()),
        (_, Some(s)) => Some(s.clone()),
        _ => None,
    }
}

/// Which convolutions take the BatchNormalization after them at inference (see
/// [`Graph::fold_bn`]).
fn fold_targets(nodes: &[Node], outputs: &[usize]) -> Vec<Option<usize>> {
    let readers = readers(nodes);
    let mut fold = vec![None; nodes.len()];
    for (j, n) in nodes.iter().enumerate() {
        let Op::Conv(conv) = &n.op else { continue };
        if conv.act.kind != crate::keras::Activation::Linear || outputs.contains(&j) {
            continue;
        }
        if let [k] = readers[j][..] {
            if matches!(nodes[k].op, Op::BatchNorm(_)) && nodes[k].inputs == [j] {
                fold[j] = Some(k);
            }
        }
    }
    fold
}

/// Which nodes read each node's output.
fn readers(nodes: &[Node]) -> Vec<Vec<usize>> {
    let mut readers = vec![Vec::new(); nodes.len()];
    for (i, n) in nodes.iter().enumerate() {
        for &j in &n.inputs {
            readers[j].push(i);
        }
    }
    readers
}

/// Which convolutions take the clamp-like activation after them at inference (see
/// [`Graph::fuse_clip`]).
fn clip_targets(
    nodes: &[Node],
    outputs: &[usize],
    fold_bn: &[Option<usize>],
) -> Vec<Option<(usize, (f32, f32))>> {
    let readers = readers(nodes);
    let mut fuse = vec![None; nodes.len()];
    for (j, n) in nodes.iter().enumerate() {
        let Op::Conv(conv) = &n.op else { continue };
        let last = fold_bn[j].unwrap_or(j);
        if conv.act.kind != crate::keras::Activation::Linear || outputs.contains(&last) {
            continue;
        }
        if let [k] = readers[last][..] {
            let range = match &nodes[k].op {
                Op::Act(a) => a.clip_range(),
                Op::Relu(r) => r.clip_range(),
                _ => None,
            };
            if let (Some(range), true) = (range, nodes[k].inputs == [last]) {
                fuse[j] = Some((k, range));
            }
        }
    }
    fuse
}

impl Builder<'_> {
    /// The (layer, call) a reference names.
    fn key(&self, r: &TensorRef) -> Result<(usize, usize)> {
        let &layer = self.by_name.get(r.layer.as_str()).ok_or_else(|| {
            Error::Graph(format!(
                "a layer refers to '{}', which is not in the model",
                r.layer
            ))
        })?;
        if r.index != 0 {
            return Err(Error::Graph(format!(
                "output {} of layer '{}' is used, but every supported layer has one output",
                r.index, r.layer
            )));
        }
        Ok((layer, r.node))
    }

    /// The tensor arguments of a layer call (none for an InputLayer).
    fn call_inputs(&self, (layer, call): (usize, usize)) -> Result<Vec<&TensorRef>> {
        let spec = &self.spec.layers[layer];
        if matches!(spec.config, LayerConfig::Input(_)) {
            return Ok(vec![]);
        }
        let args = spec.calls.get(call).ok_or_else(|| {
            Error::Graph(format!("layer '{}' has no call number {call}", spec.name))
        })?;
        Ok(args
            .iter()
            .filter_map(|a| match a {
                Arg::Tensor(t) => Some(t),
                Arg::Scalar(_) => None,
            })
            .collect())
    }

    /// The node computing `r`, building it and everything it depends on first. Depth-first
    /// with an explicit stack: a chain of 100,000 layers needs no deep recursion.
    fn node(&mut self, r: &TensorRef) -> Result<usize> {
        let root = self.key(r)?;
        // (layer call, whether its inputs have been pushed)
        let mut stack = vec![(root, false)];
        while let Some((key, expanded)) = stack.pop() {
            if self.done.contains_key(&key) {
                continue;
            }
            if expanded {
                let id = self.build_node(key)?;
                self.visiting.remove(&key);
                self.done.insert(key, id);
                continue;
            }
            // Calls being expanded but not yet built are exactly the path from the root.
            if !self.visiting.insert(key) {
                return Err(Error::Graph(format!(
                    "a cycle through layer '{}'",
                    self.spec.layers[key.0].name
                )));
            }
            stack.push((key, true));
            let children = self
                .call_inputs(key)?
                .into_iter()
                .map(|t| self.key(t))
                .collect::<Result<Vec<_>>>()?;
            for child in children.into_iter().rev() {
                if self.visiting.contains(&child) {
                    return Err(Error::Graph(format!(
                        "a cycle through layer '{}'",
                        self.spec.layers[child.0].name
                    )));
                }
                if !self.done.contains_key(&child) {
                    stack.push((child, false));
                }
            }
        }
        Ok(self.done[&root])
    }

    /// Builds one layer call whose inputs are all built.
    fn build_node(&mut self, (layer, call): (usize, usize)) -> Result<usize> {
        let spec = &self.spec.layers[layer];
        if let LayerConfig::Input(_) = &spec.config {
            let declared = declared_input(spec)
                .ok_or_else(|| Error::Graph(format!("input '{}' has no shape", spec.name)))?;
            let shape: Vec<usize> = match self.sizes.get(&layer) {
                Some(given) => {
                    let fits = given.len() == declared.len()
                        && given
                            .iter()
                            .zip(&declared)
                            .all(|(g, d)| d.is_none_or(|d| d == *g));
                    if !fits {
                        return Err(Error::Shape {
                            context: format!("input '{}'", spec.name),
                            expected: format!("{declared:?}"),
                            found: format!("{given:?}"),
                        });
                    }
                    given.clone()
                }
                None => declared.iter().map(|d| d.unwrap_or(NOMINAL_SIZE)).collect(),
            };
            if declared.last().is_some_and(Option::is_none) {
                return Err(Error::UnsupportedConfig {
                    layer: spec.name.clone(),
                    class_name: spec.class_name.clone(),
                    message: format!(
                        "input shape {declared:?} leaves the channels unknown (None); Glimpse \
                         needs the number of channels"
                    ),
                });
            }
            super::axes::internal_dims(&shape, &format!("input '{}'", spec.name))?;
            self.check_output(layer, &shape)?;
            self.nodes.push(Node {
                layer,
                op: Op::Input,
                inputs: vec![],
                out_shape: shape,
            });
            return Ok(self.nodes.len() - 1);
        }
        let args = spec.calls.get(call).ok_or_else(|| {
            Error::Graph(format!("layer '{}' has no call number {call}", spec.name))
        })?;
        let mut inputs = Vec::new();
        let mut slots = Vec::new();
        for a in args {
            match a {
                Arg::Tensor(t) => {
                    let key = self.key(t)?;
                    inputs.push(self.done[&key]);
                    slots.push(None);
                }
                Arg::Scalar(s) => slots.push(Some(*s)),
            }
        }
        if inputs.is_empty() {
            return Err(Error::Graph(format!(
                "layer '{}' is called without a tensor",
                spec.name
            )));
        }
        let shapes: Vec<Vec<usize>> = inputs
            .iter()
            .map(|&i| self.nodes[i].out_shape.clone())
            .collect();
        let mut built = layers::build(&BuildCtx {
            layer: spec,
            inputs: &shapes,
            slots: &slots,
            flavor: self.spec.flavor,
        })?;
        // A layer saved with `trainable: false` (a frozen base) keeps its variables in fit and
        // counts them as non-trainable, as Keras does.
        if spec.raw.pointer("/config/trainable") == Some(&serde_json::Value::Bool(false)) {
            built.params = built.params.into_iter().map(ParamSpec::frozen).collect();
        }
        match &self.params[layer] {
            None => {
                self.check_params(layer, &built.params)?;
                self.params[layer] = Some(built.params)
            }
            Some(p) if *p == built.params => {}
            Some(_) => {
                return Err(Error::Graph(format!(
                    "shared layer '{}' is called on inputs of different shapes",
                    spec.name
                )))
            }
        }
        super::axes::internal_dims(
            &built.out_shape,
            &format!("output of layer '{}'", spec.name),
        )?;
        self.check_output(layer, &built.out_shape)?;
        self.nodes.push(Node {
            layer,
            op: built.op,
            inputs,
            out_shape: built.out_shape,
        });
        Ok(self.nodes.len() - 1)
    }

    /// A layer's output: no empty dimension, and within the activation budget.
    fn check_output(&mut self, layer: usize, shape: &[usize]) -> Result<()> {
        let spec = &self.spec.layers[layer];
        if shape.contains(&0) {
            return Err(Error::Shape {
                context: format!("output of layer '{}' ({})", spec.name, spec.class_name),
                expected: "every dimension at least 1".into(),
                found: format!("(None, {})", super::axes::dims_text(shape)),
            });
        }
        let count = limits::checked_product(shape);
        limits::check(
            format!(
                "the output of layer '{}' ({}), shape (None, {}), for one sample,",
                spec.name,
                spec.class_name,
                super::axes::dims_text(shape)
            ),
            count,
            self.limits.max_activation,
            "GLIMPSE_MAX_ACTIVATION",
        )?;
        self.max_activation = self.max_activation.max(count.unwrap_or(u64::MAX));
        Ok(())
    }

    /// A layer's variables: no empty one, and all the model's together within the budget.
    fn check_params(&mut self, layer: usize, params: &[ParamSpec]) -> Result<()> {
        let spec = &self.spec.layers[layer];
        for p in params {
            let count = limits::checked_product(&p.keras_shape);
            if count == Some(0) {
                return Err(Error::Shape {
                    context: format!("variable {}/{} ({})", spec.name, p.name, spec.class_name),
                    expected: "every dimension at least 1".into(),
                    found: format!("{:?}", p.keras_shape),
                });
            }
            self.param_count = count
                .zip(self.param_count)
                .and_then(|(c, t)| c.checked_add(t));
            limits::check(
                format!(
                    "the model's variables (up to {}/{}, shape {:?})",
                    spec.name, p.name, p.keras_shape
                ),
                self.param_count,
                self.limits.max_params,
                "GLIMPSE_MAX_PARAMS",
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keras::Activation;

    /// In EfficientNet-Lite0 every BatchNormalization folds into the convolution before it and
    /// every ReLU6 runs inside one: inference skips them all. The fusion keeps Keras' outputs
    /// (tests/keras_fixtures.rs: MobileNets, ResNets, a Conv2D then Activation('relu6')).
    #[test]
    fn lite0_fuses_every_batchnorm_and_relu6() {
        let spec = crate::keras::parse_model(&crate::zoo::efficientnet::structure(1000)).unwrap();
        let g = Graph::build(&spec).unwrap();
        let mut counts = (0, 0);
        for (id, n) in g.nodes.iter().enumerate() {
            match &n.op {
                Op::BatchNorm(_) => {
                    assert!(g.fused_away[id], "BatchNormalization node {id}");
                    counts.0 += 1;
                }
                Op::Act(a) if a.kind == Activation::Relu6 => {
                    assert!(g.fused_away[id], "ReLU6 node {id}");
                    let conv = g.fuse_clip.iter().position(|f| f.map(|f| f.0) == Some(id));
                    assert!(conv.is_some(), "ReLU6 node {id} has its convolution");
                    counts.1 += 1;
                }
                _ => assert!(!g.fused_away[id], "node {id} runs"),
            }
        }
        // 49 convolutions with a BatchNormalization; 33 of them then ReLU6 (the projections
        // have none).
        assert_eq!(counts, (49, 33));
    }
}
