//! The problems the CLI knows, rebuilt from a checkpoint's manifest: the model template, the fixed
//! objective and, for ReLU networks, the objective with θ₀'s activation pattern frozen (for
//! finite-difference curvature).

use anyhow::{Context, Result, bail};
use burn::tensor::Device;
use hessrank_core::DiagPreconditioner;
use hessrank_models::{
    DnCnn, DnCnnConfig, FrozenNoisyMnist, GlobalMinimum, LinearNet, LinearNetConfig, NoisyMnist, NoisyMnistConfig,
    SampleObjective,
};
use hessrank_train::checkpoint::{Checkpoint, Manifest};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The data of `train linear`: x ~ N(0, I), y = T x with T of a random global minimum.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LinearData {
    /// Dimension d.
    pub d: usize,
    /// Depth M.
    pub depth: usize,
    /// Samples n.
    pub samples: usize,
    /// Seed of T and of the samples.
    pub seed: u64,
}

impl LinearData {
    /// The sample objective on `device`.
    pub fn objective(&self, device: &Device) -> Result<SampleObjective> {
        let min = GlobalMinimum::random(self.d, self.depth, self.seed)?;
        Ok(SampleObjective::regression(&min.t, self.samples, self.seed, device))
    }
}

/// A checkpointed problem (one value per command; the size difference does not matter).
#[allow(clippy::large_enum_variant)]
pub enum Problem {
    /// The DnCNN on fixed noisy MNIST.
    Dncnn {
        /// θ₀.
        model: DnCnn,
        /// The fixed objective.
        objective: NoisyMnist,
        /// The objective with θ₀'s ReLU pattern frozen.
        frozen: FrozenNoisyMnist,
    },
    /// A deep linear net on regression data.
    Linear {
        /// θ₀.
        model: LinearNet,
        /// The sample objective.
        objective: SampleObjective,
    },
}

/// A loaded checkpoint.
pub struct Loaded {
    /// Model and objective.
    pub problem: Problem,
    /// Adam's preconditioner.
    pub precond: DiagPreconditioner,
    /// The manifest.
    pub manifest: Manifest,
}

fn field<T: serde::de::DeserializeOwned>(v: &serde_json::Value, what: &str, dir: &Path) -> Result<T> {
    serde_json::from_value(v.clone())
        .with_context(|| format!("{}: manifest.json has an unreadable {what}", dir.display()))
}

/// Loads the checkpoint in `dir` onto `device`.
pub fn load(dir: &Path, device: &Device) -> Result<Loaded> {
    let manifest = Checkpoint::manifest(dir)?;
    let plain = device.clone().inner();
    match manifest.model_kind.as_str() {
        "dncnn" => {
            let cfg: DnCnnConfig = field(&manifest.model_config, "model_config", dir)?;
            let data: NoisyMnistConfig = field(&manifest.data, "data", dir)?;
            let (model, precond, manifest) = Checkpoint::load(dir, cfg.init(device)?, &plain)?;
            let mnist_dir = manifest.data.get("mnist").and_then(|v| v.as_str()).map(std::path::PathBuf::from);
            let mnist = crate::cmd::dncnn::load_mnist(mnist_dir.as_deref())?;
            let objective = NoisyMnist::new(&mnist, &data, device)?;
            let frozen = objective.frozen_at(&model);
            Ok(Loaded { problem: Problem::Dncnn { model, objective, frozen }, precond, manifest })
        }
        "linear" => {
            let cfg: LinearNetConfig = field(&manifest.model_config, "model_config", dir)?;
            let data: LinearData = field(&manifest.data, "data", dir)?;
            let (model, precond, manifest) = Checkpoint::load(dir, cfg.init(device)?, &plain)?;
            let objective = data.objective(device)?;
            Ok(Loaded { problem: Problem::Linear { model, objective }, precond, manifest })
        }
        other => bail!("{}: unknown model kind {other:?} in manifest.json (expected dncnn or linear)", dir.display()),
    }
}

/// Calls `$body` with `$model`, `$objective` and `$curvature` bound for either problem.
#[macro_export]
macro_rules! with_problem {
    ($problem:expr, |$model:ident, $objective:ident, $curvature:ident| $body:expr) => {
        match $problem {
            $crate::problem::Problem::Dncnn { model: $model, objective: $objective, frozen: $curvature } => $body,
            $crate::problem::Problem::Linear { model: $model, objective: $objective } => {
                let $curvature = $objective;
                $body
            }
        }
    };
}
