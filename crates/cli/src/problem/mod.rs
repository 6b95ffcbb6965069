//! The problems the CLI knows, rebuilt from a checkpoint's manifest or from an architecture with
//! weights trained elsewhere (`--arch`, `--weights`, `--data`): the model template, the fixed
//! objective and, for ReLU networks, the objective with θ₀'s activation pattern frozen (for
//! finite-difference curvature).

mod checkpoint;
mod imported;

pub use checkpoint::load;
use imported::{load_imported, with_data};

use anyhow::{Context, Result, bail, ensure};
use burn::store::ModuleSnapshot;
use burn::tensor::Device;
use hessrank_core::DiagPreconditioner;
use hessrank_core::ParamLayout;
use hessrank_models::classification::{Classification, Classifier, FrozenClassification};
use hessrank_models::{
    Cnn, CnnConfig, DnCnn, DnCnnConfig, FrozenNoisyMnist, GlobalMinimum, LinearNet, LinearNetConfig, Mlp, MlpConfig,
    NoisyMnist, NoisyMnistConfig, SampleObjective,
};
use hessrank_models::{WeightsOptions, load_weights};
use hessrank_train::checkpoint::{Checkpoint, Manifest};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// A model trained elsewhere: its architecture, its weights and the batch its loss is computed on.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ImportArgs {
    /// Architecture of `--weights`: `dncnn` (the paper's 753-parameter DnCNN; a PyTorch
    /// `nn.Sequential(Conv2d, ReLU, Conv2d, BatchNorm2d, ReLU, Conv2d)` state_dict loads as it is),
    /// `mlp:784-64-10` (`nn.Sequential(Linear, ReLU, …)`) or `cnn:4-8` (`nn.Sequential(Conv2d(3×3,
    /// padding 1), ReLU, AvgPool2d(2), …, Flatten, Linear)`).
    #[arg(long, requires = "weights")]
    pub arch: Option<String>,
    /// Weights trained elsewhere (.safetensors, or PyTorch .pt/.pth), loaded instead of the checkpoint.
    #[arg(long, requires = "arch")]
    pub weights: Option<PathBuf>,
    /// The fixed batch the loss is computed on (.safetensors; DnCNN: `noisy` and `clean`, each
    /// [N, 1, 28, 28]), instead of the checkpoint's (or, with --weights, the default MNIST batch).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Rename the keys of --weights, REGEX=REPLACEMENT (regex syntax; `$1` for groups); repeatable,
    /// applied in order before the architecture's own PyTorch layout.
    #[arg(long = "rename", value_parser = parse_rename)]
    pub renames: Vec<(String, String)>,
    /// Load the tensors that match and leave the rest at their initial values (reported).
    #[arg(long)]
    pub allow_partial: bool,
    /// Classifiers: the label smoothing ε of the cross-entropy probed (PyTorch's
    /// `label_smoothing`), instead of the checkpoint's (or 0 for --weights).
    #[arg(long)]
    pub label_smoothing: Option<f64>,
}

impl ImportArgs {
    /// The load options: the user's renames first, then the architecture's own PyTorch layout.
    /// The weights options: the user's renames, then `arch_renames`.
    pub fn options(&self, arch_renames: Vec<(String, String)>) -> WeightsOptions {
        WeightsOptions { allow_partial: self.allow_partial, ..Default::default() }
            .with_renames(self.renames.iter().cloned())
            .with_renames(arch_renames)
    }
}

/// One `--rename REGEX=REPLACEMENT`.
pub fn parse_rename(s: &str) -> Result<(String, String), String> {
    let (from, to) = s.split_once('=').ok_or_else(|| format!("invalid --rename {s:?}: expected REGEX=REPLACEMENT"))?;
    regex::Regex::new(from).map_err(|e| format!("invalid --rename {s:?}: {from:?} is not a regex ({e})"))?;
    Ok((from.to_string(), to.to_string()))
}

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

/// The data of `train mlp` and `train cnn`: N MNIST digits (pixels / 255, flattened) with their
/// labels, and the label smoothing of the loss.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClassifierData {
    /// Digits N.
    pub n_images: usize,
    /// Seed of the subset.
    pub seed: u64,
    /// The standard MNIST release folder, when not the bundled digits.
    #[serde(default)]
    pub mnist: Option<PathBuf>,
    /// Label smoothing ε of the cross-entropy (0: plain).
    #[serde(default)]
    pub label_smoothing: f64,
}

impl ClassifierData {
    /// N of the default batch for imported classifier weights.
    pub const DEFAULT_N: usize = 256;

    /// The fixed cross-entropy objective on `device`.
    pub fn objective<M>(&self, device: &Device) -> Result<Classification<M>> {
        let mnist = hessrank_experiments::data::load_mnist(self.mnist.as_deref())?;
        Ok(Classification::mnist(&mnist, self.n_images, self.seed, device)?
            .with_label_smoothing(self.label_smoothing)?)
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
    /// A ReLU MLP classifier on labelled inputs (cross-entropy).
    Mlp {
        /// θ₀.
        model: Mlp,
        /// The fixed objective.
        objective: Classification<Mlp>,
        /// The objective with θ₀'s ReLU pattern frozen.
        frozen: FrozenClassification<Mlp>,
    },
    /// A small ReLU CNN classifier on labelled images (cross-entropy).
    Cnn {
        /// θ₀.
        model: Cnn,
        /// The fixed objective.
        objective: Classification<Cnn>,
        /// The objective with θ₀'s ReLU pattern frozen.
        frozen: FrozenClassification<Cnn>,
    },
    /// A deep linear net on regression data.
    Linear {
        /// θ₀.
        model: LinearNet,
        /// The sample objective.
        objective: SampleObjective,
    },
}

/// A loaded problem.
pub struct Loaded {
    /// Model and objective.
    pub problem: Problem,
    /// Adam's preconditioner (`None` for weights trained elsewhere: the file holds no Adam state).
    pub precond: Option<DiagPreconditioner>,
    /// The checkpoint's manifest (`None` for imported weights).
    pub manifest: Option<Manifest>,
    /// Where θ₀ and the data came from, in words (for the summary and the run's config).
    pub origin: String,
}

impl Loaded {
    /// A problem loaded from the checkpoint in `dir`.
    fn checkpoint(problem: Problem, precond: DiagPreconditioner, manifest: Manifest, dir: &Path) -> Self {
        Loaded { problem, precond: Some(precond), manifest: Some(manifest), origin: dir.display().to_string() }
    }

    /// The trainable parameters of θ₀.
    pub fn layout(&self) -> ParamLayout {
        match &self.problem {
            Problem::Dncnn { model, .. } => ParamLayout::of(model),
            Problem::Mlp { model, .. } => ParamLayout::of(model),
            Problem::Cnn { model, .. } => ParamLayout::of(model),
            Problem::Linear { model, .. } => ParamLayout::of(model),
        }
    }
}

/// Loads the problem a command names: `--arch`/`--weights` if given, else the checkpoint in `dir`;
/// `--data` replaces the batch. Progress and conversions are printed.
pub fn load_source(dir: &Path, import: &ImportArgs, device: &Device) -> Result<Loaded> {
    let mut loaded = match (&import.arch, &import.weights) {
        (Some(arch), Some(weights)) => load_imported(arch, weights, import, device)?,
        _ => {
            ensure!(
                import.renames.is_empty() && !import.allow_partial,
                "--rename and --allow-partial apply to --weights"
            );
            load(dir, import.label_smoothing, device)?
        }
    };
    if let Some(data) = &import.data {
        loaded = with_data(loaded, data, device)?;
    }
    if let Some(e) = import.label_smoothing {
        ensure!(
            matches!(loaded.problem, Problem::Mlp { .. } | Problem::Cnn { .. }),
            "--label-smoothing {e}: only the classifiers (mlp, cnn) have a cross-entropy to smooth"
        );
    }
    Ok(loaded)
}

/// Calls `$body` with `$model`, `$objective` and `$curvature` bound for any problem.
#[macro_export]
macro_rules! with_problem {
    ($problem:expr, |$model:ident, $objective:ident, $curvature:ident| $body:expr) => {
        match $problem {
            $crate::problem::Problem::Dncnn { model: $model, objective: $objective, frozen: $curvature } => $body,
            $crate::problem::Problem::Mlp { model: $model, objective: $objective, frozen: $curvature } => $body,
            $crate::problem::Problem::Cnn { model: $model, objective: $objective, frozen: $curvature } => $body,
            $crate::problem::Problem::Linear { model: $model, objective: $objective } => {
                let $curvature = $objective;
                $body
            }
        }
    };
}
