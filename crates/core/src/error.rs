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
