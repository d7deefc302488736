//! The crate's one error type. Every variant says what went wrong, where, and what was
//! expected versus found, so a user can act on it without reading the source.

use thiserror::Error;

/// Result alias used throughout Glimpse.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while loading, building or running a model.
#[derive(Debug, Error)]
pub enum Error {
    /// The model structure JSON is not valid JSON or does not have Keras' shape.
    #[error("model JSON: {context}: {message}")]
    Json {
        /// Where in the document (e.g. `layer 'conv2d' (Conv2D) config`).
        context: String,
        /// What the parser reported.
        message: String,
    },

    /// A layer whose class Glimpse does not implement.
    #[error(
        "unsupported layer '{layer}' of class '{class_name}'{module}: Glimpse supports {supported}"
    )]
    UnsupportedLayer {
        /// The layer's name in the model.
        layer: String,
        /// Its Keras class name.
        class_name: String,
        /// `" (module x.y)"` when the JSON named a module, else empty.
        module: String,
        /// The supported classes, comma separated.
        supported: String,
    },

    /// Several layers whose classes Glimpse does not implement, all named at once.
    #[error(
        "unsupported layer classes {classes}, in layers {layers}: Glimpse supports {supported}"
    )]
    UnsupportedLayers {
        /// The unsupported classes, each once, comma separated.
        classes: String,
        /// Every layer of those classes with its class (and module).
        layers: String,
        /// The supported classes, comma separated.
        supported: String,
    },

    /// A layer configuration Glimpse understands but cannot honour (e.g. `channels_first`).
    #[error("layer '{layer}' ({class_name}): {message}")]
    UnsupportedConfig {
        /// The layer's name.
        layer: String,
        /// Its class.
        class_name: String,
        /// What is not supported and what is.
        message: String,
    },

    /// A graph that does not connect (unknown inbound layer, cycle, missing input).
    #[error("model graph: {0}")]
    Graph(String),

    /// Shapes that do not fit together while building or running the model.
    #[error("shape mismatch in {context}: expected {expected}, found {found}")]
    Shape {
        /// Where (layer name, input name).
        context: String,
        /// The shape that was expected.
        expected: String,
        /// The shape that was given.
        found: String,
    },

    /// A weights file that cannot be read as HDF5 / zip, or that lacks Keras' layout.
    #[error("weights file {file}: {message}")]
    WeightsFile {
        /// The file (or `<bytes>`).
        file: String,
        /// What is wrong with it.
        message: String,
    },

    /// A model file (a TF.js `model.json`, its manifest or shards) that cannot be read.
    #[error("model file {file}: {message}")]
    ModelFile {
        /// The file.
        file: String,
        /// What is wrong with it.
        message: String,
    },

    /// Weights that do not match the model: the full strict-loading report.
    #[error("weights do not match the model:\n{0}")]
    WeightsMismatch(crate::weights::LoadReport),

    /// Input data that cannot be used (wrong shape, bad .npy, image that does not decode).
    #[error("input {source_name}: {message}")]
    Input {
        /// The file or argument the input came from.
        source_name: String,
        /// What is wrong.
        message: String,
    },

    /// An I/O error with the path it happened on.
    #[error("{path}: {source}")]
    Io {
        /// The path that was being read or written.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// A size over one of Glimpse's budgets ([`crate::limits`]), found before allocating.
    #[error(
        "{what} needs {found} values, over the limit of {limit} (a model this large is \
         refused before anything is allocated; raise the limit with {setting} if it is real)"
    )]
    Limit {
        /// What would be allocated (a layer's output, the model's variables, a dataset).
        what: String,
        /// How many values it needs.
        found: String,
        /// The limit in force.
        limit: u64,
        /// How to raise it (the CLI's environment variable; `limits::set` in Rust,
        /// `setLimits` in JS).
        setting: String,
    },

    /// The compute backend failed (device lost, readback failed).
    #[error("backend: {0}")]
    Backend(String),
}

impl Error {
    /// The kind of failure as a short stable word (`code` on the JS `Error`): `json`,
    /// `unsupported-layer`, `unsupported-config`, `graph`, `shape`, `weights-file`,
    /// `model-file`, `weights-mismatch`, `input`, `io`, `limit` or `backend`.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Json { .. } => "json",
            Error::UnsupportedLayer { .. } | Error::UnsupportedLayers { .. } => "unsupported-layer",
            Error::UnsupportedConfig { .. } => "unsupported-config",
            Error::Graph(_) => "graph",
            Error::Shape { .. } => "shape",
            Error::WeightsFile { .. } => "weights-file",
            Error::ModelFile { .. } => "model-file",
            Error::WeightsMismatch(_) => "weights-mismatch",
            Error::Input { .. } => "input",
            Error::Io { .. } => "io",
            Error::Limit { .. } => "limit",
            Error::Backend(_) => "backend",
        }
    }

    /// Builds an [`Error::Io`] for `path`.
    pub fn io(path: impl AsRef<std::path::Path>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.as_ref().display().to_string(),
            source,
        }
    }

    /// Builds an [`Error::Input`].
    pub fn input(source_name: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Input {
            source_name: source_name.into(),
            message: message.into(),
        }
    }

    /// Builds an [`Error::WeightsFile`].
    pub fn weights_file(file: impl Into<String>, message: impl Into<String>) -> Self {
        Error::WeightsFile {
            file: file.into(),
            message: message.into(),
        }
    }
}
