//! A model's variables saved as a Keras 3 `.weights.h5` (what `model.load_weights` reads, for
//! the structure [`crate::keras::write`] writes), through the plain writer in
//! [`crate::weights::write`].

use super::Model;
use crate::error::Result;
use crate::weights::write::{keras3_weights_h5, LayerVariables, Precision, Variable};

/// [`Model::is_sequential`] of a spec and its graph (one rule for the summary and the file).
pub(crate) fn sequential(spec: &crate::keras::ModelSpec, graph: &super::graph::Graph) -> bool {
    spec.layers.iter().all(|l| l.calls.len() <= 1)
        && graph.nodes.iter().all(|n| n.inputs.len() <= 1)
        && spec.inputs.len() == 1
}

impl Model {
    /// Whether Keras holds this model as a `Sequential` (one input, each layer called once on
    /// one input, every layer with a config): its summary and its weights file leave out the
    /// InputLayer.
    pub fn is_sequential(&self) -> bool {
        sequential(&self.spec, &self.graph)
    }

    /// The model's variables (read back asynchronously, as WebGPU on wasm requires) as Keras 3
    /// `.weights.h5` bytes, float variables at `precision`.
    pub async fn keras3_weights_async(&self, precision: Precision) -> Result<Vec<u8>> {
        let values = self.keras_values_async().await?;
        self.keras3_weights_from(&values, precision)
    }

    /// [`Model::keras3_weights_async`] in float32, driven to completion here (native only).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn keras3_weights(&self) -> Result<Vec<u8>> {
        crate::runtime::block_on(self.keras3_weights_async(Precision::Float32))
    }

    /// Keras-layout variable values (per layer, per variable, as
    /// [`Model::keras_values_async`] gives them) written for this model's structure.
    pub fn keras3_weights_from(
        &self,
        values: &[Vec<Vec<f32>>],
        precision: Precision,
    ) -> Result<Vec<u8>> {
        let spec = &self.spec;
        // A layer without a config (a nested model's stand-in) makes Keras hold it as Functional.
        let sequential = self.is_sequential()
            && !spec
                .layers
                .iter()
                .any(|l| l.raw.is_null() && l.class_name != "InputLayer");
        let layers: Vec<LayerVariables<'_>> = spec
            .layers
            .iter()
            .zip(&self.graph.params)
            .zip(values)
            .map(|((l, params), vals)| LayerVariables {
                class_name: &l.class_name,
                name: &l.name,
                variables: params
                    .iter()
                    .zip(vals)
                    .map(|(p, v)| Variable {
                        name: p.name,
                        keras_shape: &p.keras_shape,
                        values: v,
                    })
                    .collect(),
            })
            .collect();
        keras3_weights_h5(&spec.name, sequential, &layers, precision)
    }
}
