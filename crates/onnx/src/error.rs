//! What can be wrong with an ONNX graph, its data or its loss: one variant per kind of problem,
//! each naming the file, node, input or value, so the one-line message says where to look.

use std::path::PathBuf;

/// An error of loading or running an ONNX graph.
#[derive(Debug, thiserror::Error)]
pub enum OnnxError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating-system error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a valid ONNX model (corrupt, truncated, or rejected by the parser).
    #[error("{path}: not a valid ONNX model: {reason}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The decoder's or parser's message.
        reason: String,
    },
    /// An operator the interpreter does not run.
    #[error("{path}: node {node:?}: operator {op} is not supported; supported: {supported}")]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// The node's name.
        node: String,
        /// The operator.
        op: String,
        /// The supported operators, comma-separated.
        supported: String,
    },
    /// An operator is supported, but not with these attributes or inputs.
    #[error("{path}: node {node:?} ({op}): {problem}")]
    Node {
        /// The file.
        path: PathBuf,
        /// The node's name.
        node: String,
        /// The operator.
        op: String,
        /// What about it cannot be run.
        problem: String,
    },
    /// The data file lacks a tensor the graph or the loss needs.
    #[error("{path}: no tensor {key:?} ({needed}); the file has: {found}")]
    MissingData {
        /// The data file.
        path: PathBuf,
        /// The missing key.
        key: String,
        /// What needs it.
        needed: String,
        /// The keys the file has.
        found: String,
    },
    /// A data tensor does not fit what the graph declares or the loss requires.
    #[error("{path}: tensor {key:?}: {problem}")]
    BadData {
        /// The data file.
        path: PathBuf,
        /// The tensor's key.
        key: String,
        /// What is wrong, with the value found and the value expected.
        problem: String,
    },
}

impl From<OnnxError> for hessrank_core::Error {
    fn from(e: OnnxError) -> Self {
        let path = match &e {
            OnnxError::Io { path, .. }
            | OnnxError::Parse { path, .. }
            | OnnxError::Unsupported { path, .. }
            | OnnxError::Node { path, .. }
            | OnnxError::MissingData { path, .. }
            | OnnxError::BadData { path, .. } => path.clone(),
        };
        let message = e.to_string();
        let prefix = format!("{}: ", path.display());
        let problem = message.strip_prefix(&prefix).unwrap_or(&message).to_string();
        hessrank_core::Error::Format { path, problem }
    }
}

/// Results of this crate.
pub type Result<T> = std::result::Result<T, OnnxError>;
