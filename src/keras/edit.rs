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

/// `calls` with every tensor of layer `from` read from `to` instead.
fn redirect(calls: &[Vec<Arg>], from: &str, to: &TensorRef) -> Vec<Vec<Arg>> {
    calls
        .iter()
        .map(|call| {
            call.iter()
                .map(|a| match a {
                    Arg::Tensor(t) if t.layer == from => Arg::Tensor(to.clone()),
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
            l.calls = redirect(&l.calls, &head_input.layer, &from);
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
            l.calls = redirect(&l.calls, from, &input);
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
}
