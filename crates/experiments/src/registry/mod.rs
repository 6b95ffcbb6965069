//! The model registry: every model kind hessrank knows, typed, and the one way to rebuild a
//! [`Problem`] (θ₀, its objective, its frozen-activation objective, G) from a checkpoint or from
//! weights trained elsewhere, or from any network exported to ONNX. Commands take a [`Problem`] and never name a model type; a model
//! outside the registry joins them through [`Problem::new`].

mod batch;
mod checkpoint;
mod import;
mod kind;
mod onnx;
mod problem;

pub use checkpoint::{from_checkpoint, load_dncnn, load_model, manifest};
pub use hessrank_onnx::{Loss as OnnxLoss, OnnxSpec};
pub use import::{Arch, ImportSpec, from_weights};
pub use kind::{ClassifierData, DncnnData, LinearData, ModelKind};
pub use onnx::from_onnx;
pub use problem::{CurvatureOf, Layering, Problem, ProblemOps, Typed};

use burn::tensor::Device;
use hessrank_core::Result;
use std::path::PathBuf;

/// Where θ₀ comes from.
#[derive(Debug, Clone)]
pub enum ModelSource {
    /// A checkpoint folder written by training (θ₀, Adam's G, the manifest).
    Checkpoint(PathBuf),
    /// Weights trained elsewhere, for a built-in architecture.
    Weights(ImportSpec),
    /// Any network exported to ONNX, with its batch and loss (`data` of the spec is unused: the
    /// batch is part of the ONNX spec).
    Onnx(OnnxSpec),
}

/// A problem to load: the model, and optionally another batch and another label smoothing.
#[derive(Debug, Clone)]
pub struct ProblemSpec {
    /// θ₀'s source.
    pub source: ModelSource,
    /// A batch file replacing the source's batch.
    pub data: Option<PathBuf>,
    /// Classifiers: the label smoothing ε of the loss probed (else the trained one; 0 for
    /// imported weights).
    pub label_smoothing: Option<f64>,
}

impl ProblemSpec {
    /// The checkpoint in `dir` as it was trained.
    pub fn checkpoint(dir: impl Into<PathBuf>) -> Self {
        ProblemSpec { source: ModelSource::Checkpoint(dir.into()), data: None, label_smoothing: None }
    }

    /// Loads the problem on `device` (an autodiff device).
    pub fn load(&self, device: &Device) -> Result<Problem<'static>> {
        match &self.source {
            ModelSource::Checkpoint(dir) => from_checkpoint(dir, self.data.as_deref(), self.label_smoothing, device),
            ModelSource::Weights(spec) => from_weights(spec, self.data.as_deref(), self.label_smoothing, device),
            ModelSource::Onnx(spec) => from_onnx(spec, self.label_smoothing, device),
        }
    }
}
