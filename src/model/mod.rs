//! A Keras model as burn computes it: the graph, its variables, loading and prediction.

pub mod axes;
pub mod cpu;
pub(crate) mod graph;
pub mod init;
pub(crate) mod layers;
mod save;
mod summary;
pub mod transfer;

pub use graph::Graph;
pub use layers::ParamSpec;
pub use summary::{Summary, SummaryRow};

use crate::error::{Error, Result};
use crate::keras::{self, ModelSpec};
use crate::weights::{archive, hdf5, LoadReport, ShapeMismatch, WeightStore};
use burn::tensor::{Device, Tensor, TensorData};
use layers::conv::ConvWeights;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

/// The variables of every layer, flattened, in burn's layout: per layer of the spec, its
/// variables in Keras' order.
pub type Params = Vec<Vec<Tensor<1>>>;

/// A moving-statistics update produced by a training forward pass:
/// (layer index, variable index, new value).
pub type StatUpdate = (usize, usize, Tensor<1>);

/// A loaded model, ready to predict. Cloning shares the variables' tensors (cheap).
#[derive(Debug, Clone)]
pub struct Model {
    /// The parsed structure.
    pub spec: ModelSpec,
    /// The built graph.
    pub graph: Graph,
    /// The variables (read with [`Model::params`], changed with [`Model::set_param`]).
    params: Params,
    /// Where it runs.
    pub device: Device,
    /// Inference-ready convolution weights derived from `params`.
    prepared: Prepared,
    /// Graphs for other input sizes (models that leave the spatial size unknown), by shape.
    sized: Sized,
    /// The structure JSON `spec` was parsed from, when it came as text (saved as it is:
    /// [`Model::structure_json`]).
    structure: Option<Arc<str>>,
}

/// A model's own graph, or one built for another input size.
pub enum GraphRef<'a> {
    /// [`Model::graph`].
    Own(&'a Graph),
    /// Built for an input size.
    Sized(Arc<Graph>),
}

impl std::ops::Deref for GraphRef<'_> {
    type Target = Graph;
    fn deref(&self) -> &Graph {
        match self {
            GraphRef::Own(g) => g,
            GraphRef::Sized(g) => g,
        }
    }
}

/// The graphs a model with unknown input axes was built for, most recent last (at most 8).
#[derive(Clone, Default)]
struct Sized(Arc<Mutex<Vec<SizedGraph>>>);

/// An input shape and the graph built for it.
type SizedGraph = (Vec<usize>, Arc<Graph>);

impl std::fmt::Debug for Sized {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.0.lock().map_or(0, |m| m.len());
        write!(f, "Sized({n} graphs)")
    }
}

/// Inference-ready weights of convolutions ([`layers::conv::Conv::prepare`]: BatchNormalization folded in,
/// values read out for the CPU kernels) and of Dense layers on the CPU ([`layers::dense::Dense::prepare`]:
/// packed), keyed by (layer, folded BatchNormalization layer). Built on first use, shared by clones that share the variables,
/// replaced by an empty cache whenever a variable changes ([`Model::set_param`]).
#[derive(Clone, Default)]
struct Prepared(Arc<Mutex<HashMap<ConvKey, Arc<ConvWeights>>>>);

/// (convolution or Dense layer, folded BatchNormalization layer).
type ConvKey = (usize, Option<usize>);

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.0.lock().map_or(0, |m| m.len());
        write!(f, "Prepared({n} convolutions)")
    }
}

impl Prepared {
    /// The weights under `key`, made by `make` the first time.
    fn get(&self, key: ConvKey, make: impl FnOnce() -> ConvWeights) -> Arc<ConvWeights> {
        let lock = || self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(w) = lock().get(&key) {
            return w.clone();
        }
        let w = Arc::new(make());
        lock().insert(key, w.clone());
        w
    }
}

/// How many images [`Model::predict_async`] runs at once on the CPU in the browser.
pub const CPU_CHUNK: usize = 8;

/// The default device: burn's flex CPU backend.
pub fn default_device() -> Device {
    Device::flex()
}

impl Model {
    /// Builds a model from a spec, with each variable's Keras-layout values from `init`
    /// (called with the layer name, the variable's index and its spec).
    pub fn from_spec_with(
        spec: ModelSpec,
        device: &Device,
        mut init: impl FnMut(&str, usize, &ParamSpec) -> Result<Vec<f32>>,
    ) -> Result<Model> {
        let graph = Graph::build(&spec)?;
        let mut layers = Vec::with_capacity(spec.layers.len());
        for (l, ps) in spec.layers.iter().zip(&graph.params) {
            let mut vars = Vec::with_capacity(ps.len());
            for (i, p) in ps.iter().enumerate() {
                let values = init(&l.name, i, p)?;
                if values.len() != p.size() {
                    return Err(Error::Shape {
                        context: format!("variable {}/{}", l.name, p.name),
                        expected: format!("{} values {:?}", p.size(), p.keras_shape),
                        found: format!("{} values", values.len()),
                    });
                }
                let (burn_values, _) = p.layout.to_burn(&values, &p.keras_shape);
                let n = burn_values.len();
                vars.push(Tensor::<1>::from_data(
                    TensorData::new(burn_values, [n]),
                    device,
                ));
            }
            layers.push(vars);
        }
        Ok(Model::from_parts(spec, graph, layers, device.clone()))
    }

    /// A model from its parts: `params` must hold, per layer of `spec`, the variables
    /// `graph.params` lists, in burn's layout.
    pub fn from_parts(spec: ModelSpec, graph: Graph, params: Params, device: Device) -> Model {
        Model {
            spec,
            graph,
            params,
            device,
            prepared: Prepared::default(),
            sized: Sized::default(),
            structure: None,
        }
    }

    /// This model with `json`, the text its spec was parsed from, as the structure it saves.
    pub fn with_structure(mut self, json: impl Into<Arc<str>>) -> Model {
        self.structure = Some(json.into());
        self
    }

    /// The structure JSON to save with this model's weights: the text it was loaded or built
    /// from, as it is, for a Keras 3 model; for a Keras 2 or TF.js one, and for a spec that came
    /// without text, the Keras 3 structure written from the spec
    /// ([`crate::keras::write::keras3_structure`]), which real Keras 3 opens.
    pub fn structure_json(&self) -> Result<String> {
        match &self.structure {
            Some(s) if self.spec.flavor != keras::KerasFlavor::Keras2 => Ok(s.to_string()),
            _ => Ok(keras::write::keras3_structure(&self.spec, |t| {
                self.graph.shape_of(&self.spec, t)
            })?
            .to_string()),
        }
    }

    /// The variables: per layer of the spec, its variables in Keras' order, in burn's layout.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// This model with the variables of `other`'s layers in place of those of its layers of the
    /// same names (variables shared, not copied), and how many layers took them: a fine-tuned
    /// part written back into the whole. Layers of the same name must have variables of the
    /// same sizes.
    pub fn with_variables_of(&self, other: &Model) -> Result<(Model, usize)> {
        let mut out = self.clone();
        let mut taken = 0;
        for (i, l) in self.spec.layers.iter().enumerate() {
            let Some(j) = other.spec.layers.iter().position(|x| x.name == l.name) else {
                continue;
            };
            let sizes = |ps: &[ParamSpec]| ps.iter().map(ParamSpec::size).collect::<Vec<_>>();
            let (mine, theirs) = (sizes(&self.graph.params[i]), sizes(&other.graph.params[j]));
            if mine.is_empty() && theirs.is_empty() {
                continue;
            }
            if mine != theirs {
                return Err(Error::Shape {
                    context: format!("the variables of layer '{}'", l.name),
                    expected: format!("sizes {mine:?}"),
                    found: format!("{theirs:?}"),
                });
            }
            out.params[i] = other.params[j].clone();
            taken += 1;
        }
        out.prepared = Prepared::default();
        Ok((out, taken))
    }

    /// Sets variable `var` of layer `layer` (burn layout, same shape).
    pub fn set_param(&mut self, layer: usize, var: usize, value: Tensor<1>) {
        self.params[layer][var] = value;
        self.prepared = Prepared::default();
    }

    /// Builds a model from a spec and a weights store, strictly: every variable present with
    /// the right shape and nothing left over, or an error with the full report.
    pub fn from_spec_and_weights(
        spec: ModelSpec,
        mut weights: WeightStore,
        device: &Device,
    ) -> Result<Model> {
        let graph = Graph::build(&spec)?;
        let report = check_weights(&spec, &graph, &weights);
        if !report.is_clean() {
            return Err(Error::WeightsMismatch(report));
        }
        drop(graph);
        // Each variable's values leave the store as its tensor is made: the file's values and
        // the model's are never all in memory at once (in the browser, memory never shrinks).
        Model::from_spec_with(spec, device, |layer, i, _| {
            Ok(weights
                .layers
                .get_mut(layer)
                .map(|v| std::mem::take(&mut v[i].data))
                .unwrap_or_default())
        })
    }

    /// Loads structure JSON text plus weight-file bytes (`.weights.h5` or Keras 2 `.h5`).
    pub fn from_json_and_weights(
        json: &str,
        weights: Vec<u8>,
        weights_name: &str,
        device: &Device,
    ) -> Result<Model> {
        let spec = keras::parse_model(json)?;
        // Check the structure before reading any weights.
        Graph::build(&spec)?;
        let store = hdf5::read_weights(weights, weights_name)?;
        Ok(Model::from_spec_and_weights(spec, store, device)?.with_structure(json))
    }

    /// [`Model::from_json_and_weights`] for a weights file read while it downloaded
    /// ([`crate::weights::stream::WeightsStream`]): the structure is checked before the
    /// weights are read whole.
    pub fn from_json_and_stream(
        json: &str,
        weights: crate::weights::stream::WeightsStream,
        device: &Device,
    ) -> Result<Model> {
        let spec = keras::parse_model(json)?;
        Graph::build(&spec)?;
        let store = weights.finish()?;
        Ok(Model::from_spec_and_weights(spec, store, device)?.with_structure(json))
    }

    /// Loads a file that carries structure and weights: a `.keras` zip or a full-model `.h5`.
    pub fn from_archive(bytes: Vec<u8>, name: &str, device: &Device) -> Result<Model> {
        let arch = if archive::is_zip(&bytes) {
            archive::read_keras_zip(&bytes, name)?
        } else {
            archive::read_full_h5(bytes, name)?
        };
        let spec = keras::parse_model_versioned(&arch.structure, arch.keras_version.as_deref())?;
        Ok(
            Model::from_spec_and_weights(spec, arch.weights, device)?
                .with_structure(arch.structure),
        )
    }

    /// Loads a TF.js layers model: the `model.json` text and `shard(path)`, which returns the
    /// bytes of each weight file the manifest names (relative to `model.json`).
    pub fn from_tfjs(
        model_json: &str,
        source: &str,
        shard: impl FnMut(&str) -> Result<Vec<u8>>,
        device: &Device,
    ) -> Result<Model> {
        let (spec, store) = read_tfjs(model_json, source, shard)?;
        Model::from_spec_and_weights(spec, store, device)
    }

    /// Keras shape (without batch) of each input.
    pub fn input_shapes(&self) -> Vec<Vec<usize>> {
        self.graph
            .inputs
            .iter()
            .map(|&i| self.graph.nodes[i].out_shape.clone())
            .collect()
    }

    /// Keras shape (without batch) of each output.
    pub fn output_shapes(&self) -> Vec<Vec<usize>> {
        self.graph
            .outputs
            .iter()
            .map(|&i| self.graph.nodes[i].out_shape.clone())
            .collect()
    }

    /// Number of the values training changes (Keras' trainable parameter count).
    pub fn count_trainable(&self) -> usize {
        self.graph
            .params
            .iter()
            .flatten()
            .filter(|p| p.trainable)
            .map(ParamSpec::size)
            .sum()
    }

    /// Total number of variables' values (Keras' `count_params()`).
    pub fn count_params(&self) -> usize {
        self.graph
            .params
            .iter()
            .flatten()
            .map(ParamSpec::size)
            .sum()
    }

    /// Runs the graph on internal-layout inputs; returns internal-layout outputs. Inference
    /// keeps its convolutions' prepared weights for the next call.
    pub fn forward(&self, inputs: Vec<Tensor<4>>, training: bool) -> Vec<Tensor<4>> {
        let cache = (!training).then_some(&self.prepared);
        let g = self.graph_of(&inputs);
        self.run_graph(&g, inputs, &self.params, training, &mut Vec::new(), cache)
    }

    /// Whether the model leaves input axes unknown (a fully convolutional model that runs at
    /// the size it is given).
    pub fn has_free_axes(&self) -> bool {
        self.graph.free_axes.iter().flatten().any(|&f| f)
    }

    /// The graph for one input of Keras shape `shape` (without batch): the model's own, or one
    /// built for that size when the model leaves those axes unknown.
    pub fn graph_for(&self, shape: &[usize]) -> Result<GraphRef<'_>> {
        let own = &self.graph.nodes[self.graph.inputs[0]].out_shape;
        if own == shape || !self.has_free_axes() || self.graph.inputs.len() != 1 {
            return Ok(GraphRef::Own(&self.graph));
        }
        let mut cache = self.sized.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, g)) = cache.iter().find(|(s, _)| s == shape) {
            return Ok(GraphRef::Sized(g.clone()));
        }
        let g = Arc::new(Graph::build_sized(&self.spec, &[shape.to_vec()])?);
        if g.params != self.graph.params {
            return Err(Error::Shape {
                context: format!("model '{}' at input size {shape:?}", self.spec.name),
                expected: "the same variables at every input size (a fully convolutional model)"
                    .into(),
                found: "variables whose shapes depend on the input size".into(),
            });
        }
        if cache.len() >= 8 {
            cache.remove(0);
        }
        cache.push((shape.to_vec(), g.clone()));
        Ok(GraphRef::Sized(g))
    }

    /// The graph for internal-layout inputs (built by [`Model::input_tensor`] for their size).
    fn graph_of(&self, inputs: &[Tensor<4>]) -> GraphRef<'_> {
        if !self.has_free_axes() || inputs.len() != 1 {
            return GraphRef::Own(&self.graph);
        }
        let [_, c, h, w] = inputs[0].dims();
        let own = &self.graph.nodes[self.graph.inputs[0]].out_shape;
        let shape = match own.len() {
            3 => vec![h, w, c],
            2 => vec![h, c],
            _ => vec![c],
        };
        if &shape == own {
            return GraphRef::Own(&self.graph);
        }
        // input_tensor built it (or refused the size) already.
        self.graph_for(&shape).unwrap_or(GraphRef::Own(&self.graph))
    }

    /// Runs the graph with the given variable values. In training mode Dropout drops and
    /// BatchNormalization uses batch statistics, pushing its moving-statistics updates.
    pub fn forward_with(
        &self,
        inputs: Vec<Tensor<4>>,
        params: &Params,
        training: bool,
        updates: &mut Vec<StatUpdate>,
    ) -> Vec<Tensor<4>> {
        let g = self.graph_of(&inputs);
        self.run_graph(&g, inputs, params, training, updates, None)
    }

    fn run_graph(
        &self,
        g: &Graph,
        inputs: Vec<Tensor<4>>,
        params: &Params,
        training: bool,
        updates: &mut Vec<StatUpdate>,
        cache: Option<&Prepared>,
    ) -> Vec<Tensor<4>> {
        let mut values: Vec<Option<Tensor<4>>> = vec![None; g.nodes.len()];
        let mut inputs = inputs.into_iter();
        for &i in &g.inputs {
            values[i] = inputs.next();
        }
        for (id, node) in g.nodes.iter().enumerate() {
            if matches!(node.op, layers::Op::Input) {
                continue;
            }
            let args: Vec<Tensor<4>> = node
                .inputs
                .iter()
                .map(|&j| {
                    if g.last_use[j] == id && node.inputs.iter().filter(|&&k| k == j).count() == 1 {
                        values[j].take().expect("computed before use")
                    } else {
                        values[j].clone().expect("computed before use")
                    }
                })
                .collect();
            let p = &params[node.layer];
            values[id] = Some(match &node.op {
                layers::Op::Conv(conv) if !training => {
                    let bn = g.fold_bn[id].map(|k| &g.nodes[k]);
                    let make = || {
                        let affine = bn.map(|bn_node| {
                            let layers::Op::BatchNorm(bn) = &bn_node.op else {
                                unreachable!("fold_bn points at BatchNormalization nodes")
                            };
                            bn.affine(&params[bn_node.layer])
                        });
                        conv.prepare(p, affine)
                    };
                    let weights = match cache {
                        Some(c) => c.get((node.layer, bn.map(|n| n.layer)), make),
                        None => Arc::new(make()),
                    };
                    let x = args.into_iter().next().expect("one input");
                    conv.forward_prepared(x, &weights, g.fuse_clip[id].map(|(_, r)| r))
                }
                layers::Op::Dense(dense) if !training && dense.can_prepare(&args[0]) => {
                    let make = || dense.prepare(p);
                    let weights = match cache {
                        Some(c) => c.get((node.layer, None), make),
                        None => Arc::new(make()),
                    };
                    let x = args.into_iter().next().expect("one input");
                    match &*weights {
                        ConvWeights::Packed { weight, bias } => {
                            dense.forward_packed(x, weight, bias)
                        }
                        _ => dense.forward(x, p),
                    }
                }
                // Computed by the convolution before it.
                _ if !training && g.fused_away[id] => args.into_iter().next().expect("one input"),
                // A frozen BatchNormalization (`trainable: false`, Keras' transfer-learning
                // recipe) runs in inference mode in training too.
                layers::Op::BatchNorm(bn) if training && !g.frozen[node.layer] => {
                    let x = args.into_iter().next().expect("one input");
                    let (y, mean, var) = bn.forward_train(x, p);
                    let k = bn.moving_index();
                    updates.push((node.layer, k, mean));
                    updates.push((node.layer, k + 1, var));
                    y
                }
                op => op.forward(args, p, training),
            });
            for &j in &node.inputs {
                if g.last_use[j] == id {
                    values[j] = None;
                }
            }
        }
        g.outputs
            .iter()
            .map(|&o| values[o].clone().expect("output computed"))
            .collect()
    }

    /// Turns a Keras-layout batch `[N, ...input shape]` into the internal tensor for input `k`.
    pub fn input_tensor(&self, k: usize, data: Vec<f32>, shape: &[usize]) -> Result<Tensor<4>> {
        let want = self.input_shapes().get(k).cloned().ok_or_else(|| {
            Error::input(
                "input",
                format!(
                    "the model has {} inputs, not {}",
                    self.graph.inputs.len(),
                    k + 1
                ),
            )
        })?;
        let free = self.graph.free_axes.get(k).cloned().unwrap_or_default();
        let fits = shape.len() == want.len() + 1
            && shape[1..]
                .iter()
                .zip(&want)
                .enumerate()
                .all(|(i, (s, w))| s == w || free.get(i).copied().unwrap_or(false));
        if !fits {
            return Err(Error::Shape {
                context: format!("model input {k}"),
                expected: format!("(batch, {})", axes::dims_text(&want)),
                found: format!("({})", axes::dims_text(shape)),
            });
        }
        let n = shape[0];
        if n == 0 {
            return Err(Error::input("input", "an empty batch"));
        }
        // Sizes in 64 bits: on wasm a 32-bit product could wrap onto the data's length.
        let needed = crate::limits::checked_product(shape);
        if needed != Some(data.len() as u64) {
            return Err(Error::input(
                "input",
                format!(
                    "shape {shape:?} needs {} values, got {}",
                    needed.map_or_else(|| "more than 2^64".to_string(), |n| n.to_string()),
                    data.len()
                ),
            ));
        }
        let graph = self.graph_for(&shape[1..])?;
        let want = shape[1..].to_vec();
        crate::limits::check(
            format!(
                "a batch of {n}: the largest layer output ({} values a sample)",
                graph.max_activation
            ),
            (n as u64).checked_mul(graph.max_activation),
            crate::limits::get().max_batch_activation,
            "GLIMPSE_MAX_BATCH_ACTIVATION",
        )?;
        let [c, a, b] = axes::internal_dims(&want, "input")?;
        if cpu::is_cpu(&self.device) {
            // Channels first here, in one pass: burn's permute is a strided view, which its
            // next element-wise op (or a kernel's read) walks value by value.
            let (v, _) = glimpse_kernels::layout::permute(&data, &[n, a, b, c], &[0, 3, 1, 2]);
            return Ok(Tensor::from_data(
                TensorData::new(v, [n, c, a, b]),
                &self.device,
            ));
        }
        let t = Tensor::<4>::from_data(TensorData::new(data, [n, a, b, c]), &self.device);
        Ok(axes::from_keras_order(t))
    }

    /// Runs the first input's Keras-layout batch and returns the first output (internal
    /// layout, not yet read back) and its Keras shape `[N, ...]`.
    pub fn run_batch(&self, data: Vec<f32>, shape: &[usize]) -> Result<(Tensor<4>, Vec<usize>)> {
        if self.graph.inputs.len() != 1 {
            return Err(Error::input(
                "input",
                format!(
                    "the model takes {} inputs; predict takes one",
                    self.graph.inputs.len()
                ),
            ));
        }
        // The threaded browser engine's workers may have gone to sleep since the last call:
        // woken now, they are spinning by the first convolution.
        glimpse_kernels::pool::wake();
        let x = self.input_tensor(0, data, shape)?;
        let y = self.forward(vec![x], false).swap_remove(0);
        let g = self.graph_for(&shape[1..])?;
        let mut out_shape = vec![shape[0]];
        out_shape.extend(g.nodes[g.outputs[0]].out_shape.iter());
        Ok((y, out_shape))
    }

    /// Predicts the first output for a Keras-layout batch of the first input, reading the
    /// result back synchronously (native only; on wasm use [`Model::predict_async`]).
    /// Returns the values and the output shape `[N, ...]`.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn predict(&self, data: Vec<f32>, shape: &[usize]) -> Result<(Vec<f32>, Vec<usize>)> {
        let (y, out_shape) = self.run_batch(data, shape)?;
        let values = axes::to_keras_order(y)
            .into_data()
            .try_into_vec::<f32>()
            .map_err(|e| Error::Backend(format!("{e:?}")))?;
        Ok((values, out_shape))
    }

    /// [`Model::predict`] with an asynchronous readback (what WebGPU on wasm requires).
    ///
    /// On the CPU in the browser a large batch runs [`CPU_CHUNK`] images at a time: one thread
    /// gains nothing from bigger batches, while every image adds its activations to the wasm
    /// memory, which never shrinks (a batch of 32 EfficientNet-Lite0 images took 311 MiB at
    /// once, 115 MiB in chunks of 8, at the same speed).
    pub async fn predict_async(
        &self,
        data: Vec<f32>,
        shape: &[usize],
    ) -> Result<(Vec<f32>, Vec<usize>)> {
        let n = shape.first().copied().unwrap_or(0);
        let per: usize = shape.iter().skip(1).product();
        if cfg!(target_arch = "wasm32")
            && cpu::is_cpu(&self.device)
            && n > CPU_CHUNK
            && per > 0
            && data.len() == n * per
        {
            let mut values = Vec::new();
            let mut out_shape = Vec::new();
            for (k, chunk) in data.chunks(CPU_CHUNK * per).enumerate() {
                let mut s = shape.to_vec();
                s[0] = chunk.len() / per;
                let (v, os) = self.predict_async_whole(chunk.to_vec(), &s).await?;
                if k == 0 {
                    values.reserve(v.len() * n.div_ceil(s[0]));
                    out_shape = os;
                }
                values.extend_from_slice(&v);
            }
            out_shape[0] = n;
            return Ok((values, out_shape));
        }
        self.predict_async_whole(data, shape).await
    }

    async fn predict_async_whole(
        &self,
        data: Vec<f32>,
        shape: &[usize],
    ) -> Result<(Vec<f32>, Vec<usize>)> {
        let (y, out_shape) = self.run_batch(data, shape)?;
        let values = axes::to_keras_order(y)
            .into_data_async()
            .await
            .map_err(|e| Error::Backend(format!("{e:?}")))?
            .try_into_vec::<f32>()
            .map_err(|e| Error::Backend(format!("{e:?}")))?;
        Ok((values, out_shape))
    }

    /// Every variable's values in Keras' layout (per layer, per variable), read back
    /// asynchronously (what WebGPU on wasm requires).
    pub async fn keras_values_async(&self) -> Result<Vec<Vec<Vec<f32>>>> {
        let mut out = Vec::with_capacity(self.params.len());
        for (vals, specs) in self.params.iter().zip(&self.graph.params) {
            let mut layer = Vec::with_capacity(vals.len());
            for (v, p) in vals.iter().zip(specs) {
                let data = v
                    .clone()
                    .into_data_async()
                    .await
                    .map_err(|e| Error::Backend(format!("{e:?}")))?
                    .try_into_vec::<f32>()
                    .map_err(|e| Error::Backend(format!("{e:?}")))?;
                layer.push(p.layout.to_keras(&data, &p.keras_shape));
            }
            out.push(layer);
        }
        Ok(out)
    }

    /// [`Model::keras_values_async`] driven to completion here (native only).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn keras_values(&self) -> Result<Vec<Vec<Vec<f32>>>> {
        crate::runtime::block_on(self.keras_values_async())
    }

    /// The same model (sharing its variables) with `layer`'s output as its only output, and
    /// only the layers it reads ([`ModelSpec::truncated`]): a feature extractor. Its structure
    /// is written from the spec when saved.
    pub fn truncated(&self, layer: &str) -> Result<Model> {
        let (spec, kept) = self.spec.truncated(layer)?;
        let graph = Graph::build(&spec)?;
        let params = kept.iter().map(|&i| self.params[i].clone()).collect();
        // Layers gone only after the kept ones: the prepared weights (by layer index) stay valid.
        let prepared = if kept.iter().enumerate().all(|(k, &i)| k == i) {
            self.prepared.clone()
        } else {
            Prepared::default()
        };
        Ok(Model {
            spec,
            graph,
            params,
            device: self.device.clone(),
            prepared,
            sized: Sized::default(),
            structure: None,
        })
    }

    /// Keras' `summary()` table.
    pub fn summary(&self) -> Summary {
        Summary::of(self)
    }
}

/// The structure and weights of a TF.js layers model (its weights in each layer's order).
pub fn read_tfjs(
    model_json: &str,
    source: &str,
    shard: impl FnMut(&str) -> Result<Vec<u8>>,
) -> Result<(ModelSpec, WeightStore)> {
    let tf = crate::weights::tfjs::parse_model_json(model_json, source)?;
    let spec = keras::parse_model_versioned(&tf.topology, tf.keras_version.as_deref())?;
    let graph = Graph::build(&spec)?;
    let names: Vec<String> = spec.layers.iter().map(|l| l.name.clone()).collect();
    let mut store = crate::weights::tfjs::read_weights(&tf, &names, source, shard)?;
    order_by_names(&mut store, &spec, &graph);
    Ok((spec, store))
}

/// Puts each layer's stored tensors in the order the layer declares its variables, where the
/// file names them all (TF.js lists trainable variables first, or alphabetically).
pub fn order_by_names(store: &mut WeightStore, spec: &ModelSpec, graph: &Graph) {
    for (l, ps) in spec.layers.iter().zip(&graph.params) {
        let Some(stored) = store.layers.get_mut(&l.name) else {
            continue;
        };
        if stored.len() != ps.len() {
            continue;
        }
        let mut order = Vec::with_capacity(ps.len());
        for p in ps {
            match stored
                .iter()
                .position(|t| t.name.as_deref() == Some(p.name))
            {
                Some(i) if !order.contains(&i) => order.push(i),
                _ => break,
            }
        }
        if order.len() == ps.len() {
            let mut taken: Vec<Option<crate::weights::RawTensor>> =
                std::mem::take(stored).into_iter().map(Some).collect();
            *stored = order
                .iter()
                .map(|&i| taken[i].take().expect("once"))
                .collect();
        }
    }
}

/// Compares what the model needs with what the file holds.
pub fn check_weights(spec: &ModelSpec, graph: &Graph, store: &WeightStore) -> LoadReport {
    let mut report = LoadReport {
        source: store.source.clone(),
        ..Default::default()
    };
    let mut used = BTreeSet::new();
    for (l, ps) in spec.layers.iter().zip(&graph.params) {
        if ps.is_empty() {
            continue;
        }
        let Some(stored) = store.layers.get(&l.name) else {
            report
                .missing
                .extend(ps.iter().map(|p| format!("{}/{}", l.name, p.name)));
            continue;
        };
        used.insert(l.name.as_str());
        for (i, p) in ps.iter().enumerate() {
            match stored.get(i) {
                None => report.missing.push(format!("{}/{}", l.name, p.name)),
                Some(t)
                    if t.shape != p.keras_shape && !(p.keras_shape.is_empty() && t.len() == 1) =>
                {
                    report.mismatched.push(ShapeMismatch {
                        name: format!("{}/{}", l.name, p.name),
                        expected: p.keras_shape.clone(),
                        found: t.shape.clone(),
                    })
                }
                Some(_) => {}
            }
        }
        for (i, t) in stored.iter().enumerate().skip(ps.len()) {
            report.unexpected.push(format!(
                "{}/{}",
                l.name,
                t.name.clone().unwrap_or_else(|| i.to_string())
            ));
        }
    }
    for (name, tensors) in &store.layers {
        if !used.contains(name.as_str()) && !tensors.is_empty() {
            report.unexpected.push(name.clone());
        }
    }
    report.suggest();
    report
}
