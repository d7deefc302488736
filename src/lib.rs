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

//! ## The API
//!
//! The names re-exported here are the library every surface (the CLI, the wasm API, the JS
//! package, the page) is a thin adapter over: load a [`Model`] (or a [`Bundle`]: a model with
//! its labels and preprocessing), predict, [`fit`] with settings resolved once
//! ([`FitConfig::resolve`] from [`FitOptions`] and the file's `compile_config`), [`teach()`](teach::teach) a
//! network new classes (with [`holdout`]'s split), save (`Model::keras3_weights`,
//! `Model::structure_json`, [`Bundle::to_keras`]).
//!
//! ## The floors
//!
//! Modules use only modules on their own floor or below (`scripts/structure-check` checks it):
//! `error`, `limits`, `rng`, `runtime` | `io`, `image`, `keras`, `weights` | `model` | `train` |
//! `bundle` | `zoo` | `teach` | the surfaces `wasm` and `bin`. The modules stay public for the
//! tools, benches and tests that reach into a floor; within them, what nothing outside uses is
//! `pub(crate)`, so the compiler reports it when it goes unused.

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

pub use bundle::{Bundle, Metadata};
pub use error::{Error, Result};
pub use keras::{parse_model, ModelSpec};
pub use model::{default_device, Model, Summary};
pub use teach::{holdout, teach, Holdout, Lesson, Taught, TeachOptions, TeachSettings};
pub use train::{evaluate, fit, Dataset, FitConfig, FitOptions, History, Progress};
pub use weights::LoadReport;
