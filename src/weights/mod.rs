//! Reading Keras weight files into plain tensors, keyed by layer name.
//!
//! * [`hdf5`]: Keras 3 `.weights.h5` (`layers/<attr>/vars/<i>` with a `name` attribute) and the
//!   legacy layout of Keras 2 `save_weights` / full-model `.h5` (`layer_names`, `weight_names`);
//! * [`tfjs`]: TensorFlow.js layers models (`model.json` + binary shards, quantized or not);
//! * [`archive`]: `.keras` zip files and full-model `.h5` files (structure + weights);
//! * [`stream`]: a `.weights.h5` read while it downloads;
//! * `layout`: Keras ↔ burn tensor layouts, in one place;
//! * `report`: the strict-loading report (missing / unexpected / mis-shaped by name).

pub mod archive;
pub mod hdf5;
pub(crate) mod layout;
mod report;
pub mod stream;
pub mod tfjs;
pub mod write;

pub use report::{LoadReport, ShapeMismatch};

use std::collections::BTreeMap;

/// One stored tensor: its Keras variable name when the file records one, its shape, its values.
#[derive(Debug, Clone, PartialEq)]
pub struct RawTensor {
    /// The variable name (`kernel`, `bias`, `gamma`...) when the file names it.
    pub name: Option<String>,
    /// Shape in Keras' layout.
    pub shape: Vec<usize>,
    /// Row-major values.
    pub data: Vec<f32>,
}

impl RawTensor {
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether the tensor has no elements.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}

/// All tensors of a weights file, grouped by the layer that owns them, in Keras' order.
#[derive(Debug, Clone, Default)]
pub struct WeightStore {
    /// Layer name → its variables in order.
    pub layers: BTreeMap<String, Vec<RawTensor>>,
    /// Where they came from (for messages).
    pub source: String,
}

impl WeightStore {
    /// Total number of stored values.
    pub fn count(&self) -> usize {
        self.layers.values().flatten().map(RawTensor::len).sum()
    }
}
