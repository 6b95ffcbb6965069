//! Typed errors of the library crates: every variant names the thing, the value and what was expected.

use std::path::PathBuf;

/// The result type of hessrank's library crates.
pub type Result<T> = std::result::Result<T, Error>;

/// Everything that can go wrong on user input or I/O. Library code returns these; it never panics
/// on user input.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The operating-system error.
        #[source]
        source: std::io::Error,
    },
    /// A file's content is not what its format requires.
    #[error("{path}: {problem}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the value found and the value expected.
        problem: String,
    },
    /// A configuration value is out of its allowed range.
    #[error("invalid {field} = {value}: {expected}")]
    InvalidConfig {
        /// The field or flag.
        field: String,
        /// The value given.
        value: String,
        /// What is allowed.
        expected: String,
    },
    /// Two things that must agree in shape or layout do not.
    #[error("shape mismatch in {what}: expected {expected}, found {found}")]
    Shape {
        /// What was compared.
        what: String,
        /// The expected shape or layout.
        expected: String,
        /// The shape or layout found.
        found: String,
    },
    /// A (de)serialisation of JSON failed.
    #[error("{path}: invalid JSON: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The parser's error.
        #[source]
        source: serde_json::Error,
    },
    /// A numerical procedure failed (divergence, non-finite value, no convergence).
    #[error("{0}")]
    Numerical(String),
    /// The run was stopped on request (Ctrl-C or an observer); its last checkpoint is on disk.
    #[error("interrupted: {0}")]
    Interrupted(String),
    /// A device could not be configured.
    #[error("device: {0}")]
    Device(String),
    /// A named tensor of a weights or data file cannot be used as it is.
    #[error("{path}: tensor {key:?} {problem}")]
    Tensor {
        /// The file.
        path: PathBuf,
        /// The tensor's key (the file's name for it where it was renamed on loading).
        key: String,
        /// What is wrong with it.
        problem: TensorProblem,
    },
}

/// What is wrong with one named tensor of a weights or data file (see [`Error::Tensor`]).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TensorProblem {
    /// The model or the objective needs it and the file does not have it.
    #[error("is missing (expected shape {expected:?})")]
    Missing {
        /// The shape the model expects.
        expected: Vec<usize>,
    },
    /// The file has it and nothing uses it.
    #[error("is not used by the model (shape {shape:?}); rename it onto a parameter or allow a partial load")]
    Unused {
        /// Its shape in the file.
        shape: Vec<usize>,
    },
    /// Its shape is not the one expected.
    #[error("has shape {found:?}, expected {expected:?}")]
    Shape {
        /// The shape required.
        expected: Vec<usize>,
        /// The shape in the file.
        found: Vec<usize>,
    },
    /// Its element type cannot be used here.
    #[error("has dtype {found}, expected {expected}")]
    Dtype {
        /// What is accepted.
        expected: String,
        /// The file's dtype.
        found: String,
    },
    /// It holds a NaN or an infinity.
    #[error("holds the non-finite value {value} at flat index {index}")]
    NonFinite {
        /// The first offending element's flat index.
        index: usize,
        /// Its value.
        value: f64,
    },
    /// An integer entry is outside its allowed range (e.g. a class label).
    #[error("holds {value} at flat index {index}, outside {allowed}")]
    OutOfRange {
        /// The flat index.
        index: usize,
        /// The value found.
        value: i64,
        /// The allowed range.
        allowed: String,
    },
}

impl Error {
    /// An [`Error::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }

    /// An [`Error::Format`] for `path`.
    pub fn format(path: impl Into<PathBuf>, problem: impl Into<String>) -> Self {
        Error::Format { path: path.into(), problem: problem.into() }
    }

    /// An [`Error::InvalidConfig`].
    pub fn config(field: impl Into<String>, value: impl ToString, expected: impl Into<String>) -> Self {
        Error::InvalidConfig { field: field.into(), value: value.to_string(), expected: expected.into() }
    }
}
