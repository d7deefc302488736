//! # Glimpse
//!
//! Keras models, computed faithfully by [burn](https://burn.dev): load the structure JSON that
//! `model.to_json()` writes and the weights that `save_weights` writes (or a `.keras` /
//! full-model `.h5` file), print Keras' `summary()`, and predict — natively or as WebAssembly.
//!
//! ```no_run
//! use glimpse::{Model, default_device};
//! let json = std::fs::read_to_string("model.json").unwrap();
//! let weights = std::fs::read("model.weights.h5").unwrap();
//! let model = Model::from_json_and_weights(&json, weights, "model.weights.h5", &default_device()).unwrap();
//! println!("{}", model.summary());
//! let (y, shape) = model.predict(vec![0.0; 32 * 32 * 3], &[1, 32, 32, 3]).unwrap();
//! ```

#![warn(missing_docs)]

pub mod bundle;
pub mod error;
pub mod image;
pub mod io;
pub mod keras;
pub mod limits;
pub mod model;
pub mod rng;
pub mod runtime;
pub mod teach;
pub mod train;
#[cfg(target_arch = "wasm32")]
pub mod wasm;
pub mod weights;
pub mod zoo;

pub use error::{Error, Result};
pub use model::{default_device, Model, Summary};
