//! Algorithm 1 as a builder: the paper's settings by name, G = I unless Adam's state is given.

use burn::module::Module;
use burn::tensor::Tensor;
use hessrank_core::{DiagPreconditioner, FnObjective, Objective, Result};
use hessrank_experiments::Quiet;
use hessrank_experiments::estimate::{EstimateSpec, PrecondChoice, estimate};
use hessrank_experiments::registry::Problem;
use hessrank_rank::langevin::AdaptiveLength;
use hessrank_rank::{DriftCorrection, LangevinConfig, RankEstimate, Scheme, StepSize, Symmetry};

/// Preconditioned Langevin dynamics at a minimum, and the rank estimate it gives.
///
/// Defaults are [`LangevinConfig`]'s, the CLI's too: η = 1/μ_max (measured), σ² = 1e-5,
/// K_tot = 2,000, K_avg = 1,000, four chains (their spread gives R̂ and the error bar),
/// Leimkuhler–Matthews, G = I; the loss's scale-invariant groups (weights feeding a normalization
/// layer), found at θ₀, move on the sphere of their θ₀ norm.
#[derive(Debug, Clone)]
pub struct Langevin {
    config: LangevinConfig,
    precond: Option<DiagPreconditioner>,
    params: Vec<String>,
    symmetry: Option<Symmetry>,
}

impl Default for Langevin {
    fn default() -> Self {
        Self::new()
    }
}

impl Langevin {
    /// The default settings.
    pub fn new() -> Self {
        Self { config: LangevinConfig::new(), precond: None, params: Vec::new(), symmetry: None }
    }

    /// Starts from a full configuration.
    pub fn with_config(config: LangevinConfig) -> Self {
        Self { config, precond: None, params: Vec::new(), symmetry: None }
    }

    /// The noise power σ² (the paper: 2e-5 for linear nets, 1e-5 for the DnCNN).
    pub fn sigma2(mut self, sigma2: f64) -> Self {
        self.config.sigma2 = sigma2;
        self
    }

    /// Total iterations K_tot.
    pub fn k_tot(mut self, k_tot: usize) -> Self {
        self.config.k_tot = k_tot;
        self.config.adaptive = None;
        self
    }

    /// The last K_avg iterations, whose mean loss gives the estimate.
    pub fn k_avg(mut self, k_avg: usize) -> Self {
        self.config.k_avg = k_avg;
        self
    }

    /// Independent chains (their spread gives the error bar and R̂).
    pub fn chains(mut self, chains: usize) -> Self {
        self.config.chains = chains;
        self
    }

    /// The step: `StepSize::Auto { c }` (η = c/μ_max) or `StepSize::Fixed(η)`.
    pub fn step(mut self, step: StepSize) -> Self {
        self.config.step = step;
        self
    }

    /// The discretisation (Euler–Maruyama is the paper's; Leimkuhler–Matthews has less bias).
    pub fn scheme(mut self, scheme: Scheme) -> Self {
        self.config.scheme = scheme;
        self
    }

    /// The drift correction by a noise-free companion chain.
    pub fn drift(mut self, drift: DriftCorrection) -> Self {
        self.config.drift = drift;
        self
    }

    /// The seed of the noise (the same seed gives the same numbers).
    pub fn seed(mut self, seed: u64) -> Self {
        self.config.seed = seed;
        self
    }

    /// The diagonal preconditioner G, e.g. Adam's second moment at the end of training
    /// (`hessrank::train` keeps it); the default is G = I.
    pub fn preconditioner(mut self, g: DiagPreconditioner) -> Self {
        self.precond = Some(g);
        self
    }

    /// Runs the dynamics on the parameters whose paths match these globs only (`mid.*`,
    /// `first.weight`; `*` spans dots), the rest held at θ₀: the estimate is then the rank of the
    /// diagonal block H_BB of the Hessian. A glob that matches nothing is an error.
    pub fn params<S: Into<String>>(mut self, globs: impl IntoIterator<Item = S>) -> Self {
        self.params = globs.into_iter().map(Into::into).collect();
        self
    }

    /// An adaptive run length (the CLI's `--iters auto`): stages that double the run, each averaged
    /// over its last half, until a plateau, `adaptive.resolve`, or the budget; the result's
    /// `adaptive` says which. Replaces K_tot and K_avg.
    pub fn adaptive(mut self, adaptive: AdaptiveLength) -> Self {
        self.config = self.config.adaptive_from(adaptive);
        self
    }

    /// What the dynamics do with the loss's scale-invariant groups: [`Symmetry::Project`] (the
    /// default) or [`Symmetry::Off`] (the plain dynamics, whose groups' norms drift upward).
    pub fn symmetry(mut self, symmetry: Symmetry) -> Self {
        self.symmetry = Some(symmetry);
        self
    }

    /// The settings as they stand.
    pub fn config(&self) -> &LangevinConfig {
        &self.config
    }

    /// Runs Algorithm 1 on the closure `loss` at `model` (θ₀, on an autodiff device).
    pub fn run<M, F>(&self, loss: &F, model: &M) -> Result<RankEstimate>
    where
        M: Module + Clone,
        F: Fn(&M) -> Tensor<1> + Sync,
    {
        self.run_objective(&FnObjective::new(loss), model)
    }

    /// Runs Algorithm 1 on any [`Objective`] at `model`: the library's `estimate`, the code path
    /// of `hessrank estimate`, on the caller's model.
    pub fn run_objective<O: Objective>(&self, objective: &O, model: &O::Model) -> Result<RankEstimate>
    where
        O::Model: Clone,
    {
        let mut problem = Problem::smooth(model.clone(), objective, "the caller's model");
        problem.precond = self.precond.clone();
        Ok(estimate(&self.spec(), &problem, None, &mut Quiet)?.estimate)
    }

    /// The library's spec of these settings.
    fn spec(&self) -> EstimateSpec {
        EstimateSpec {
            langevin: self.config.clone(),
            sigma2: vec![self.config.sigma2],
            precond: PrecondChoice::Default,
            params: self.params.clone(),
            validate: false,
            checkpoint_every: 1,
            resume: false,
            symmetry: self.symmetry,
        }
    }
}
