//! The paper's DnCNN experiment (Figure 3) end to end: θ₀ and G (a matching checkpoint, training,
//! or weights trained elsewhere with G = I), the exact Hessian spectrum, Algorithm 1 on the real
//! loss and, with the same noise, on the frozen-activation objective, the discrete theory on the
//! exact spectrum of G^½HG^½, Ubaru–Saad, and the checks of every premise.

mod checks;
mod run;
mod theta0;

pub use checks::{BnScaleDrift, CheckWarning, NOT_A_MINIMUM_SHARE, SCALE_DRIFT_LIMIT, US_BLOWUP_LIMIT};
pub use run::run;
pub use theta0::dncnn_kind;

use hessrank_models::{NoisyMnistConfig, WeightsOptions};
use hessrank_rank::baselines::{UbaruSaad, UbaruSaadConfig};
use hessrank_rank::hessian::Spectrum;
use hessrank_rank::theory::DiscreteTheory;
use hessrank_rank::validation::{PairedDifference, ThresholdPoint};
use hessrank_rank::{LangevinConfig, RankEstimate};
use hessrank_train::TrainConfig;
use serde::Serialize;
use std::path::PathBuf;

use crate::paired::Paired;
use crate::sweep::SweepRow;

/// Where θ₀ comes from.
#[derive(Debug, Clone)]
pub enum Theta0Source {
    /// The checkpoint in `dir` when it was trained for the same data settings (and `retrain` is
    /// off), else trained there with `schedule`; G is Adam's second moment.
    Checkpoint {
        /// The checkpoint folder.
        dir: PathBuf,
        /// Train again even if a matching checkpoint exists.
        retrain: bool,
        /// The training schedule.
        schedule: TrainConfig,
    },
    /// Weights trained elsewhere (safetensors or PyTorch), G = I; the batch from `data` (a
    /// safetensors batch file) or else from the data settings.
    Weights {
        /// The weights file.
        file: PathBuf,
        /// Key renames and partial loading.
        options: WeightsOptions,
        /// A batch file.
        data: Option<PathBuf>,
    },
}

/// What to run.
#[derive(Debug, Clone)]
pub struct DncnnSpec {
    /// θ₀'s source.
    pub theta0: Theta0Source,
    /// The batch: N images, the noise level and the seed (used unless a batch file is given).
    pub data: NoisyMnistConfig,
    /// The standard MNIST release's folder instead of the bundled digits.
    pub mnist: Option<PathBuf>,
    /// σ² of each run; the first is the headline result, more make a sweep.
    pub sigma2: Vec<f64>,
    /// Algorithm 1's settings (its σ² is replaced by each of `sigma2`). The step `Auto { c }` is
    /// η = c / μ_max(G^½HG^½) with μ_max from the exact spectrum.
    pub langevin: LangevinConfig,
    /// Ubaru–Saad's settings.
    pub ubaru_saad: UbaruSaadConfig,
    /// The exact Hessian at θ₀ as a saved f64 matrix, instead of computing it.
    pub hessian: Option<PathBuf>,
    /// Where the runs keep their resumable state.
    pub state_dir: PathBuf,
    /// Save the state every this many iterations.
    pub checkpoint_every: usize,
    /// Continue the runs saved in `state_dir`.
    pub resume: bool,
    /// What the dynamics do with the loss's scale-invariant groups (`None`: project them,
    /// [`crate::symmetry::with_scale_groups`]).
    pub symmetry: Option<hessrank_rank::Symmetry>,
}

/// θ₀ as the run records it.
#[derive(Debug, Clone, Serialize)]
pub struct Theta0Record {
    /// L(θ₀).
    pub loss: f64,
    /// ‖∇L(θ₀)‖.
    pub grad_norm: f64,
    /// Where it came from (`{"checkpoint": dir}` or `{"weights": file, "data": file}`).
    pub source: serde_json::Value,
    /// The preconditioner: `"adam"` or `"identity"`.
    pub precond: &'static str,
}

/// The frozen chains against the discrete theory on the exact Hessian: the verdict, beside the
/// frozen chains' own estimate (`result`), which it does not copy.
#[derive(Debug, Clone, Serialize)]
pub struct FrozenValidation {
    /// (frozen − theory) / SE.
    pub z_vs_theory: f64,
    /// |z| within [`crate::sweep::FROZEN_Z`].
    pub agrees_within_2_5_se: bool,
    /// The whole estimate.
    pub result: RankEstimate,
}

/// The like-for-like check.
#[derive(Debug, Clone, Serialize)]
pub struct Validation {
    /// The frozen chains.
    pub frozen: FrozenValidation,
}

/// Ubaru–Saad's count on the dense Hessian.
#[derive(Debug, Clone, Serialize)]
pub struct UsSummary {
    /// The rank.
    pub rank: f64,
    /// Its standard error over the probe vectors.
    pub stderr: f64,
    /// The eigenvalue threshold.
    pub threshold: f64,
    /// λ_max as it estimated it.
    pub lambda_max: f64,
    /// Matrix-vector products used.
    pub matvecs: usize,
    /// The threshold rule.
    pub variant: String,
}

/// Shares of the Hessian's energy Σ|λ| that the estimates capture.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct EnergyCaptured {
    /// By Algorithm 1's estimate.
    pub ours: f64,
    /// By U&S's.
    pub ubaru_saad: f64,
}

/// The discrete theory on the exact spectrum, for this run.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct TheorySummary {
    /// The expected estimate.
    pub expected_estimate: f64,
    /// Modes equilibrated by K_tot.
    pub effective_rank_at_k_tot: f64,
    /// μ_max(G^½HG^½).
    pub mu_max: f64,
    /// η μ_max.
    pub eta_mu_max: f64,
}

/// The exact spectrum in numbers.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct SpectrumSummary {
    /// λ_max.
    pub lambda_max: f64,
    /// Tr H.
    pub trace: f64,
    /// Eigenvalues below −1e-6.
    pub negatives: usize,
    /// Eigenvalues holding 98.5 % of the energy.
    pub rank_98_5_percent_energy: usize,
    /// max |H − Hᵀ| of the finite-difference Hessian.
    pub asymmetry: f64,
}

/// The settings a run used, as `config.json` records them.
#[derive(Debug, Clone, Serialize)]
pub struct DncnnRunConfig {
    /// Algorithm 1's settings at the first σ².
    pub langevin: LangevinConfig,
    /// Every σ².
    pub sigma2: Vec<f64>,
    /// The data settings.
    pub data: NoisyMnistConfig,
    /// The MNIST folder, when not the bundled digits.
    pub mnist: Option<PathBuf>,
    /// Ubaru–Saad's settings.
    pub ubaru_saad: UbaruSaadConfig,
    /// θ₀'s source.
    pub theta0: serde_json::Value,
    /// The saved Hessian read, if any.
    pub hessian: Option<PathBuf>,
    /// The training schedule of the checkpoint (null for imported weights).
    pub training: serde_json::Value,
}

/// The experiment's numbers (`result.json`) and, skipped there, what the plots and CSV files need.
#[derive(Debug, Clone, Serialize)]
pub struct DncnnReport {
    /// Algorithm 1 on the real loss at the first σ².
    pub estimate: RankEstimate,
    /// The like-for-like check.
    pub validation: Validation,
    /// real − frozen, paired chain by chain.
    pub relu_excess: PairedDifference,
    /// Ubaru–Saad.
    pub ubaru_saad: UsSummary,
    /// Energy captured.
    pub energy_captured: EnergyCaptured,
    /// The theory for this run.
    pub theory: TheorySummary,
    /// The rank at every eigenvalue threshold, thinned to 200 log-spaced points.
    pub threshold_curve: Vec<ThresholdPoint>,
    /// One row per σ².
    pub sigma2_sweep: Vec<SweepRow>,
    /// The exact spectrum in numbers.
    pub spectrum: SpectrumSummary,
    /// θ₀.
    pub theta0: Theta0Record,
    /// The batch's settings.
    pub data: NoisyMnistConfig,
    /// The MNIST folder, when not the bundled digits.
    pub mnist: Option<PathBuf>,
    /// The seed.
    pub seed: u64,
    /// Premises that failed (θ₀ not a minimum, U&S outside its interval, BatchNorm scale drift).
    pub warnings: Vec<CheckWarning>,
    /// The chains' drift along the scale-invariant channels (None without BatchNorm).
    pub scale_drift: Option<BnScaleDrift>,
    /// The scale-invariant groups of the loss at θ₀, found numerically (the model declares the
    /// same: each BatchNorm-fed output channel).
    pub scale_groups: Vec<hessrank_rank::symmetry::ScaleGroup>,
    /// Seconds from start to end.
    pub wall_s: f64,
    /// What the run was given.
    #[serde(skip)]
    pub config: DncnnRunConfig,
    /// Parameters of the model.
    #[serde(skip)]
    pub n_params: usize,
    /// The exact spectrum.
    #[serde(skip)]
    pub exact: Spectrum,
    /// The discrete theory at the first σ².
    #[serde(skip)]
    pub discrete: DiscreteTheory,
    /// Each σ²'s paired runs with their traces.
    #[serde(skip)]
    pub runs: Vec<Paired>,
    /// The whole threshold curves: real (with the exact count and the theory) and frozen.
    #[serde(skip)]
    pub curves: [Vec<ThresholdPoint>; 2],
    /// U&S's full result.
    #[serde(skip)]
    pub us: UbaruSaad,
}
