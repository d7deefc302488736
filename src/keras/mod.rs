//! The Keras structure JSON, parsed into plain typed data (no burn types).
//!
//! [`parse_model`] reads what `model.to_json()` writes in Keras 3 and tf.keras 2 (Sequential and
//! Functional, nested models inlined) into a [`ModelSpec`]: a flat list of layers, each with its
//! typed [`LayerConfig`] and the tensors it is called on.

pub mod build;
mod config;
mod edit;
mod schema;
pub mod write;

pub use config::*;
pub use schema::{
    parse_model, parse_model_versioned, Arg, KerasFlavor, LayerSpec, ModelSpec, TensorRef,
};
