//! Model structures edited as parsed specs, for transfer learning: a network joined to a new
//! head at a layer, and the layers between two layers as a model of their own. The result is a
//! [`ModelSpec`] like any parsed one; its JSON is written from it ([`super::write`]), so no
//! structure text is patched.

use super::config::{InputConfig, LayerConfig};
use super::schema::{Arg, LayerSpec, ModelSpec, TensorRef};
use crate::error::{Error, Result};
use serde_json::Value;

fn graph_err(msg: String) -> Error {
    Error::Graph(msg)
}

/// The first output of layer `name`.
fn output_of(name: &str) -> TensorRef {
    TensorRef {
        layer: name.to_string(),
        node: 0,
        index: 0,
    }
}

/// An InputLayer named `name` for samples of `shape` (without batch).
fn input_layer(name: &str, shape: &[usize]) -> LayerSpec {
    let batch_shape: Vec<Option<usize>> = std::iter::once(None)
        .chain(shape.iter().map(|&d| Some(d)))
        .collect();
    LayerSpec {
        name: name.to_string(),
        class_name: "InputLayer".into(),
        raw: serde_json::json!({
            "class_name": "InputLayer",
            "name": name,
            "config": {"batch_shape": batch_shape, "dtype": "float32", "sparse": false, "name": name},
        }),
        config: LayerConfig::Input(InputConfig {
            batch_shape: Some(batch_shape),
            shape: None,
        }),
        calls: Vec::new(),
    }
}

/// `calls` with every tensor that `from` matches read from `to` instead.
fn redirect(
    calls: &[Vec<Arg>],
    from: impl Fn(&TensorRef) -> bool,
    to: &TensorRef,
) -> Vec<Vec<Arg>> {
    calls
        .iter()
        .map(|call| {
            call.iter()
                .map(|a| match a {
                    Arg::Tensor(t) if from(t) => Arg::Tensor(to.clone()),
                    other => other.clone(),
                })
                .collect()
        })
        .collect()
}

impl ModelSpec {
    /// This model's layers up to layer `cut` (in their order), then `head`'s layers reading
    /// `cut`'s output where they read the head's input: the end-to-end model of transfer
    /// learning, named `name`. A head layer may not share a name with a kept layer (layers
    /// after the cut, a taught model's old head, go).
    pub fn joined(&self, cut: &str, head: &ModelSpec, name: &str) -> Result<ModelSpec> {
        let at = self
            .layers
            .iter()
            .position(|l| l.name == cut)
            .ok_or_else(|| graph_err(format!("the base model has no layer '{cut}'")))?;
        let [head_input] = head.inputs.as_slice() else {
            return Err(graph_err(format!(
                "a head takes one input; this one takes {}",
                head.inputs.len()
            )));
        };
        let mut layers: Vec<LayerSpec> = self.layers[..=at].to_vec();
        let from = output_of(cut);
        for l in head.layers.iter().filter(|l| l.name != head_input.layer) {
            if layers.iter().any(|b| b.name == l.name) {
                return Err(graph_err(format!(
                    "the head's layer '{}' has the name of a layer of the base model",
                    l.name
                )));
            }
            let mut l = l.clone();
            l.calls = redirect(&l.calls, |t| t.layer == head_input.layer, &from);
            layers.push(l);
        }
        let outputs = head
            .outputs
            .iter()
            .map(|t| {
                if t.layer == head_input.layer {
                    from.clone()
                } else {
                    t.clone()
                }
            })
            .collect();
        Ok(ModelSpec {
            name: name.to_string(),
            flavor: self.flavor,
            layers,
            inputs: self.inputs.clone(),
            outputs,
            compile_config: None,
        })
    }

    /// The layers after layer `from` up to layer `to` as a model of their own named `name`,
    /// whose input (an InputLayer named `from`, of `from_shape` without batch) takes `from`'s
    /// output. Every layer in the range may read only `from` or layers inside it. With
    /// `freeze_batch_norm`, its BatchNormalization layers are saved `trainable: false`: fit
    /// keeps their variables and runs them in inference mode (Keras' fine-tuning recipe).
    pub fn sub(
        &self,
        from: &str,
        to: &str,
        name: &str,
        from_shape: &[usize],
        freeze_batch_norm: bool,
    ) -> Result<ModelSpec> {
        let at = |n: &str| {
            self.layers
                .iter()
                .position(|l| l.name == n)
                .ok_or_else(|| graph_err(format!("the model has no layer '{n}'")))
        };
        let (start, end) = (at(from)?, at(to)?);
        if end <= start {
            return Err(graph_err(format!(
                "layer '{to}' does not come after layer '{from}'"
            )));
        }
        let input = output_of(from);
        let mut layers = vec![input_layer(from, from_shape)];
        let mut inside: Vec<&str> = vec![from];
        for orig in &self.layers[start + 1..=end] {
            for call in &orig.calls {
                for arg in call {
                    if let Arg::Tensor(t) = arg {
                        if !inside.contains(&t.layer.as_str()) {
                            return Err(graph_err(format!(
                                "layer '{}' reads '{}', from before '{from}': the model cannot \
                                 be cut there",
                                orig.name, t.layer
                            )));
                        }
                    }
                }
            }
            let mut l = orig.clone();
            l.calls = redirect(&l.calls, |t| t.layer == from, &input);
            if freeze_batch_norm && l.class_name == "BatchNormalization" {
                if let Some(c) = l.raw.get_mut("config").and_then(Value::as_object_mut) {
                    c.insert("trainable".into(), Value::Bool(false));
                }
            }
            inside.push(&orig.name);
            layers.push(l);
        }
        Ok(ModelSpec {
            name: name.to_string(),
            flavor: self.flavor,
            layers,
            inputs: vec![input],
            outputs: vec![output_of(to)],
            compile_config: None,
        })
    }
}

/// The augmentation layers Keras (and Glimpse) put after a model's input: the identity at
/// inference, without variables.
pub const AUGMENTATION: [&str; 6] = [
    "RandomFlip",
    "RandomRotation",
    "RandomZoom",
    "RandomTranslation",
    "RandomContrast",
    "RandomBrightness",
];

impl ModelSpec {
    /// This model with layer `cut`'s first output as its only output, keeping the inputs and
    /// the layers that output reads (in their order; a shared layer keeps the calls up to the
    /// last one read). Also gives the kept layers' indices in `self.layers`.
    pub fn truncated(&self, cut: &str) -> Result<(ModelSpec, Vec<usize>)> {
        let index = |n: &str| self.layers.iter().position(|l| l.name == n);
        let at = index(cut).ok_or_else(|| graph_err(format!("the model has no layer '{cut}'")))?;
        // calls[i]: how many calls of layer i the output needs.
        let mut calls = vec![0usize; self.layers.len()];
        let mut todo = vec![(at, 0usize)];
        for t in &self.inputs {
            if let Some(i) = index(&t.layer) {
                todo.push((i, t.node));
            }
        }
        while let Some((i, node)) = todo.pop() {
            if calls[i] > node {
                continue;
            }
            let layer = &self.layers[i];
            for call in layer.calls.get(calls[i]..=node).unwrap_or_default() {
                for arg in call {
                    if let Arg::Tensor(t) = arg {
                        let j = index(&t.layer).ok_or_else(|| {
                            graph_err(format!(
                                "layer '{}' reads '{}', which the model does not have",
                                layer.name, t.layer
                            ))
                        })?;
                        todo.push((j, t.node));
                    }
                }
            }
            calls[i] = node + 1;
        }
        let kept: Vec<usize> = (0..self.layers.len()).filter(|&i| calls[i] > 0).collect();
        let layers = kept
            .iter()
            .map(|&i| {
                let mut l = self.layers[i].clone();
                l.calls.truncate(calls[i]);
                l
            })
            .collect();
        Ok((
            ModelSpec {
                name: self.name.clone(),
                flavor: self.flavor,
                layers,
                inputs: self.inputs.clone(),
                outputs: vec![output_of(cut)],
                compile_config: self.compile_config.clone(),
            },
            kept,
        ))
    }

    /// This model with augmentation `layers` (structure-JSON entries of `AUGMENTATION`
    /// classes) after its first input, every reader of the input reading the last of them, as a
    /// model trained with them holds them. The augmentation it held already goes (a model taught
    /// again holds this run's layers, not two sets). No layers: the model as it is.
    pub fn with_augmentation(&self, layers: Vec<Value>) -> Result<ModelSpec> {
        if layers.is_empty() {
            return Ok(self.clone());
        }
        let mut out = self.without_augmentation();
        let input = out
            .inputs
            .first()
            .cloned()
            .ok_or_else(|| graph_err("the model has no input".into()))?;
        let at = out
            .layers
            .iter()
            .position(|l| l.name == input.layer)
            .ok_or_else(|| graph_err(format!("input layer '{}' not found", input.layer)))?;
        let mut prev = input.clone();
        let mut inserted = Vec::new();
        for raw in layers {
            let l = LayerSpec::from_raw(raw, vec![vec![Arg::Tensor(prev.clone())]])?;
            if !AUGMENTATION.contains(&l.class_name.as_str()) {
                return Err(graph_err(format!(
                    "layer '{}' ({}) is not an augmentation layer",
                    l.name, l.class_name
                )));
            }
            if out.layers.iter().chain(&inserted).any(|o| o.name == l.name) {
                return Err(graph_err(format!(
                    "the model has a layer named '{}' already",
                    l.name
                )));
            }
            prev = output_of(&l.name);
            inserted.push(l);
        }
        for l in &mut out.layers {
            l.calls = redirect(&l.calls, |t| *t == input, &prev);
        }
        out.outputs = out
            .outputs
            .iter()
            .map(|t| if *t == input { prev.clone() } else { t.clone() })
            .collect();
        out.layers.splice(at + 1..at + 1, inserted);
        Ok(out)
    }

    /// This model without its augmentation layers that take one tensor, their readers reading
    /// that tensor instead (they are the identity at inference).
    fn without_augmentation(&self) -> ModelSpec {
        let mut out = self.clone();
        while let Some((i, from)) =
            out.layers
                .iter()
                .enumerate()
                .find_map(|(i, l)| match l.calls.as_slice() {
                    [call] if AUGMENTATION.contains(&l.class_name.as_str()) => {
                        match call.as_slice() {
                            [Arg::Tensor(t)] => Some((i, t.clone())),
                            _ => None,
                        }
                    }
                    _ => None,
                })
        {
            let gone = out.layers.remove(i);
            let at = output_of(&gone.name);
            for l in &mut out.layers {
                l.calls = redirect(&l.calls, |t| *t == at, &from);
            }
            for t in &mut out.outputs {
                if *t == at {
                    *t = from.clone();
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use crate::keras::build::{add, dense, functional, input, node, sequential};
    use crate::keras::parse_model;

    #[test]
    fn joined_reads_the_cut_and_drops_what_came_after_it() {
        let base = parse_model(&sequential(
            "net",
            vec![
                input("x", &[4]),
                dense("features", 3, "relu"),
                dense("old_head", 2, "softmax"),
            ],
        ))
        .unwrap();
        let head = parse_model(&sequential(
            "head",
            vec![input("f", &[3]), dense("new_head", 5, "softmax")],
        ))
        .unwrap();
        let j = base.joined("features", &head, "joined").unwrap();
        let names: Vec<&str> = j.layers.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["x", "features", "new_head"]);
        let call = &j.layers[2].calls[0][0];
        assert!(
            matches!(call, super::Arg::Tensor(t) if t.layer == "features"),
            "{call:?}"
        );
        assert_eq!(j.outputs[0].layer, "new_head");
        assert_eq!(j.inputs, base.inputs);
        // A head layer named like a kept layer is refused; a missing cut is named.
        let clash = parse_model(&sequential(
            "head",
            vec![input("f", &[3]), dense("features", 5, "softmax")],
        ))
        .unwrap();
        assert!(base.joined("features", &clash, "j").is_err());
        let e = base.joined("nope", &head, "j").unwrap_err().to_string();
        assert!(e.contains("'nope'"), "{e}");
    }

    #[test]
    fn sub_takes_the_range_and_refuses_a_cut_that_a_later_layer_crosses() {
        // x -> a -> b -> c, then d = add(a, c): cut at b, d reads a, from before the cut.
        let json = functional(
            "net",
            vec![
                input("x", &[4]),
                node(dense("a", 4, "relu"), &["x"]),
                node(dense("b", 4, "relu"), &["a"]),
                node(dense("c", 4, "relu"), &["b"]),
                node(add("d"), &["a", "c"]),
            ],
            "x",
            "d",
        );
        let spec = parse_model(&json).unwrap();
        let top = spec.sub("a", "c", "top", &[4], false).unwrap();
        let names: Vec<&str> = top.layers.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(
            names,
            ["a", "b", "c"],
            "an InputLayer named 'a', then b and c"
        );
        assert_eq!(top.layers[0].class_name, "InputLayer");
        assert_eq!(top.outputs[0].layer, "c");
        assert!(
            spec.sub("c", "a", "t", &[4], false).is_err(),
            "to before from"
        );
        assert!(spec.sub("b", "c", "t", &[4], false).is_ok());
        let e = spec
            .sub("b", "d", "t", &[4], false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("'d' reads 'a'"), "{e}");
        assert!(spec.sub("x", "zzz", "t", &[4], false).is_err());
    }

    #[test]
    fn truncated_keeps_what_the_cut_reads_and_nothing_else() {
        // x -> a -> b, a -> c, d = add(b, c).
        let json = functional(
            "net",
            vec![
                input("x", &[4]),
                node(dense("a", 4, "relu"), &["x"]),
                node(dense("b", 4, "relu"), &["a"]),
                node(dense("c", 4, "relu"), &["a"]),
                node(add("d"), &["b", "c"]),
            ],
            "x",
            "d",
        );
        let spec = parse_model(&json).unwrap();
        let names =
            |s: &super::ModelSpec| s.layers.iter().map(|l| l.name.clone()).collect::<Vec<_>>();
        let (t, kept) = spec.truncated("c").unwrap();
        assert_eq!(names(&t), ["x", "a", "c"]);
        assert_eq!(kept, [0, 1, 3]);
        assert_eq!(t.outputs[0].layer, "c");
        let (t, kept) = spec.truncated("d").unwrap();
        assert_eq!(kept, [0, 1, 2, 3, 4]);
        assert_eq!(names(&t), names(&spec));
        let e = spec.truncated("zz").unwrap_err().to_string();
        assert!(e.contains("'zz'"), "{e}");
    }

    #[test]
    fn augmentation_goes_after_the_input_and_replaces_the_last_runs() {
        let spec = parse_model(&sequential(
            "net",
            vec![input("x", &[8, 8, 3]), dense("out", 2, "softmax")],
        ))
        .unwrap();
        let aug = |class: &str, name: &str| serde_json::json!({"class_name": class, "config": {"name": name, "seed": 1}});
        let once = spec
            .with_augmentation(vec![aug("RandomFlip", "f"), aug("RandomZoom", "z")])
            .unwrap();
        let names: Vec<&str> = once.layers.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["x", "f", "z", "out"]);
        let reads = |l: &super::LayerSpec| match &l.calls[0][0] {
            super::Arg::Tensor(t) => t.layer.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(reads(&once.layers[1]), "x");
        assert_eq!(reads(&once.layers[2]), "f");
        assert_eq!(reads(&once.layers[3]), "z");
        let twice = once
            .with_augmentation(vec![aug("RandomRotation", "r")])
            .unwrap();
        let names: Vec<&str> = twice.layers.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["x", "r", "out"]);
        assert_eq!(reads(&twice.layers[2]), "r");
        // Not an augmentation layer, or a name the model has: refused.
        assert!(spec.with_augmentation(vec![aug("Dense", "d")]).is_err());
        assert!(spec
            .with_augmentation(vec![aug("RandomFlip", "out")])
            .is_err());
        assert_eq!(spec.with_augmentation(vec![]).unwrap().layers.len(), 2);
    }
}
