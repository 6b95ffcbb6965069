//! The paper's Figure 1: a deep linear net (d = 32, M = 5, G = I, η = 1e-4, σ² = 2e-5) at a
//! random global minimum; its loss trace beside Theorem 1's expected loss and Proposition 1's
//! limit, both from the closed-form Hessian spectrum, and the discrete-time expectation.

use crate::observer::ExperimentObserver;
use burn::tensor::Device;
use hessrank_core::{DiagPreconditioner, ParamLayout, Result};
use hessrank_models::GlobalMinimum;
use hessrank_rank::langevin::TraceRecorder;
use hessrank_rank::theory::{DiscreteTheory, algorithm1_expected_loss};
use hessrank_rank::{Langevin, LangevinConfig, RankEstimate, Scheme, StepSize};
use serde::Serialize;

/// What to run (the defaults of [`Figure1Spec::paper`] are the paper's).
#[derive(Debug, Clone, Serialize)]
pub struct Figure1Spec {
    /// Dimension d (d_x = d_y = every width).
    pub d: usize,
    /// Depth M.
    pub depth: usize,
    /// Step size η.
    pub eta: f64,
    /// Noise power σ².
    pub sigma2: f64,
    /// Iterations K_tot.
    pub k_tot: usize,
    /// Iterations averaged for the estimate, K_avg.
    pub k_avg: usize,
    /// Discretisation (the paper: Euler–Maruyama).
    pub scheme: Scheme,
    /// Seed of the global minimum and of the noise.
    pub seed: u64,
}

impl Figure1Spec {
    /// The paper's settings.
    pub fn paper(seed: u64) -> Self {
        Self {
            d: 32,
            depth: 5,
            eta: 1e-4,
            sigma2: 2e-5,
            k_tot: 15000,
            k_avg: 10000,
            scheme: Scheme::EulerMaruyama,
            seed,
        }
    }

    /// Algorithm 1's settings for this spec, validated.
    pub fn langevin_config(&self) -> Result<LangevinConfig> {
        let config = LangevinConfig::new()
            .with_chains(1)
            .with_step(StepSize::Fixed(self.eta))
            .with_sigma2(self.sigma2)
            .with_k_tot(self.k_tot)
            .with_k_avg(self.k_avg)
            .with_scheme(self.scheme)
            .with_seed(self.seed)
            .with_check_step(false);
        config.validate()?;
        Ok(config)
    }
}

/// One recorded iteration of the figure.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Figure1Point {
    /// The iteration k.
    pub iteration: usize,
    /// L(θ_k) − L(θ_0), the chain's.
    pub loss_minus_loss0: f64,
    /// Theorem 1's expected excess at t = ηk.
    pub theorem1: f64,
    /// Proposition 1's limit σ²/4 · d².
    pub prop1_limit: f64,
    /// The exact expectation of the discrete recursion after k steps.
    pub discrete_expectation: f64,
}

/// The figure's numbers.
#[derive(Debug, Clone, Serialize)]
pub struct Figure1Report {
    /// What was run.
    pub spec: Figure1Spec,
    /// Algorithm 1's settings.
    pub langevin: LangevinConfig,
    /// The rank estimate.
    pub estimate: RankEstimate,
    /// The true rank, d².
    pub true_rank: usize,
    /// Theorem 1 at the last iteration.
    pub theorem1_at_end: f64,
    /// Proposition 1's limit.
    pub prop1_limit: f64,
    /// The discrete theory's expected estimate for this run length.
    pub discrete_expected_estimate: f64,
    /// The trace beside the theory (written as CSV, not into the JSON report).
    #[serde(skip)]
    pub trace: Vec<Figure1Point>,
}

/// Runs Figure 1 on `device` (an autodiff device).
pub fn run(spec: &Figure1Spec, device: &Device, observer: &mut dyn ExperimentObserver) -> Result<Figure1Report> {
    let config = spec.langevin_config()?;
    let min = GlobalMinimum::random(spec.d, spec.depth, spec.seed)?;
    let net = min.net(device);
    let objective = min.objective(device);
    let g = DiagPreconditioner::identity(&ParamLayout::of(&net), &device.clone().inner());
    let mut recorder = TraceRecorder::every(1);
    let estimate = {
        let mut progress = observer.langevin("figure1");
        Langevin::new(&config).observe(&mut recorder).observe(progress.as_mut()).run(&objective, &net, &g)?
    };

    // The closed-form spectrum of G^½HG^½ = H (G = I), zeros included.
    let mut lambda = min.hessian_eigenvalues();
    lambda.extend(std::iter::repeat_n(0.0, spec.depth * spec.d * spec.d - lambda.len()));
    let theorem1 = |k: usize| algorithm1_expected_loss(&lambda, spec.sigma2, spec.eta * k as f64);
    let true_rank = spec.d * spec.d;
    let prop1_limit = spec.sigma2 / 4.0 * true_rank as f64;
    let discrete = DiscreteTheory { mu: lambda.clone(), eta: spec.eta, sigma2: spec.sigma2, scheme: spec.scheme };
    let loss0 = estimate.chain[0].loss0;
    let trace = recorder
        .points
        .iter()
        .map(|p| Figure1Point {
            iteration: p.k,
            loss_minus_loss0: p.mean_loss - loss0,
            theorem1: theorem1(p.k),
            prop1_limit,
            discrete_expectation: discrete.expected_loss(p.k),
        })
        .collect();
    Ok(Figure1Report {
        spec: spec.clone(),
        langevin: config,
        true_rank,
        theorem1_at_end: theorem1(spec.k_tot),
        prop1_limit,
        discrete_expected_estimate: discrete.expected_estimate(spec.k_tot, spec.k_avg),
        estimate,
        trace,
    })
}
