//! A run of Algorithm 1 in progress: C chains advanced in lock step (plus the noise-free companion
//! when the drift is corrected), one full-batch gradient per replica per iteration through Burn
//! autodiff. Parameters, gradients and the update stay on the device; the only read-back per
//! iteration is the chains' scalar losses (and their control-variate terms).

use super::estimate::{ChainSummary, RankEstimate};
use super::projection::Projection;
use super::replica::{CompanionPoint, Replica, StepLosses};
use super::warning::Warning;
use super::{DriftCorrection, LangevinConfig, PowerIteration, StepSize, estimate_mu_max};
use crate::hessian::{FdHessian, Preconditioned};
use hessrank_core::params::flatten_f64;
use hessrank_core::step_noise::CounterNoise;
use hessrank_core::{DiagPreconditioner, Error, Objective, ParamLayout, ParamTensors, Result};
use sha2::{Digest, Sha256};
use std::time::Instant;

/// The fewest averaging-window iterations an estimate with an error bar is made from.
const MIN_WINDOW: usize = 4;

/// Noise stream of the drift companion (it draws none, but keeps the layout uniform).
pub(crate) const COMPANION_STREAM: u64 = u64::MAX - 1;

/// One recorded iteration, as observers see it.
#[derive(Debug, Clone, Copy)]
pub struct Iteration<'a> {
    /// The iteration k (the losses are at θ_k, before the k-th step).
    pub k: usize,
    /// L(θ_k) of every chain.
    pub losses: &'a [f64],
    /// 4/σ² times the excess loss of every chain: L(θ_k) − L(θ₀), or its drift-corrected form.
    pub excess: &'a [f64],
    /// The companion's L(θ̄_k), when the drift is corrected.
    pub companion: Option<f64>,
}

/// The constant factors of the update, ηG and √η σ G^½, on the plain device.
pub(crate) fn step_factors(precond: &DiagPreconditioner, eta: f64, sigma2: f64) -> (ParamTensors, ParamTensors) {
    let a = precond.dynamics_g().map(|t| t.inner().mul_scalar(eta));
    let b = precond.dynamics_sqrt_g().map(|t| t.inner().mul_scalar((eta * sigma2).sqrt()));
    (a, b)
}

/// The projection of the configuration's scale-invariant groups at θ₀ (`None` without groups).
/// The groups are in the model's own layout: for a batched objective, each chain's groups are
/// slices of the stacked parameters (a row per chain), so chains never share a group.
pub(crate) fn projection_of<M: burn::module::Module>(
    config: &LangevinConfig,
    theta0: &M,
    layout: &ParamLayout,
    like: &ParamTensors,
) -> Result<Option<Projection>> {
    let groups = config.projected_groups();
    if groups.is_empty() {
        return Ok(None);
    }
    let device =
        like.tensors.first().map(|t| t.device()).ok_or_else(|| Error::config("model", "no parameters", "≥ 1"))?;
    Projection::new(&groups, layout, &flatten_f64(theta0), &device)
}

/// The warning of a plain run whose groups' norms are predicted to pass
/// [`super::warning::SCALE_DRIFT_AHEAD`] (none when they are not).
fn drift_ahead(config: &LangevinConfig, layout: &ParamLayout, g: &[f64], eta: f64) -> Result<Option<Warning>> {
    let growth =
        crate::symmetry::predicted_norm_growth(&config.scale_groups, layout, g, eta, config.sigma2, config.k_tot)?;
    let over: Vec<&(String, f64)> = growth.iter().filter(|(_, r)| *r > super::warning::SCALE_DRIFT_AHEAD).collect();
    let worst = over.iter().max_by(|a, b| a.1.total_cmp(&b.1));
    Ok(worst.map(|(name, ratio)| Warning::ScaleDriftAhead {
        groups: over.len(),
        worst: name.clone(),
        ratio: *ratio,
        k_tot: config.k_tot,
    }))
}

/// The largest excess loss before a run counts as diverged: `divergence_factor` · σ²/4 · n.
pub(crate) fn divergence_bound(config: &LangevinConfig, n_params: usize) -> f64 {
    config.divergence_factor * config.sigma2 / 4.0 * n_params as f64
}

/// Hex SHA-256 of f64 values (little-endian bytes).
pub(crate) fn sha256_of(values: &[f64]) -> String {
    let mut h = Sha256::new();
    for v in values {
        h.update(v.to_le_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// A run of Algorithm 1: built by [`LangevinRun::new`], advanced by [`LangevinRun::step`],
/// summarised by [`LangevinRun::finish`] (the solver of the solver/executor split; the executor is
/// [`super::Langevin`]).
pub struct LangevinRun<'a, O: Objective> {
    pub(crate) config: LangevinConfig,
    pub(crate) objective: &'a O,
    pub(crate) replicas: Vec<Replica<O::Model>>,
    pub(crate) companion: Option<Replica<O::Model>>,
    /// ηG and √η σ G^½ per parameter, on the plain device.
    pub(crate) a: ParamTensors,
    pub(crate) b: ParamTensors,
    /// The scale-invariant groups' projection, when the configuration names groups.
    pub(crate) projection: Option<Projection>,
    pub(crate) eta: f64,
    pub(crate) mu_max: Option<f64>,
    pub(crate) n_params: usize,
    pub(crate) grad_evals: usize,
    pub(crate) k: usize,
    pub(crate) loss0: Vec<f64>,
    /// L(θ_k) over the averaging window, per chain.
    pub(crate) windows: Vec<Vec<f64>>,
    /// 4/σ²-scaled excess over the averaging window, per chain.
    pub(crate) excess: Vec<Vec<f64>>,
    pub(crate) bound_excess: f64,
    pub(crate) warnings: Vec<Warning>,
    pub(crate) theta0_sha256: String,
    pub(crate) precond_sha256: String,
    pub(crate) start: Instant,
    /// Seconds spent before a resume.
    pub(crate) elapsed0: f64,
    /// The finished stages of an adaptive run.
    pub(crate) stages: Vec<super::Stage>,
    /// Why an adaptive run stopped, once it has.
    pub(crate) stop: Option<super::Stop>,
}

impl<'a, O: Objective> LangevinRun<'a, O>
where
    O::Model: Clone,
{
    /// Validates the configuration, checks the preconditioner's layout against the model and that
    /// the objective is deterministic (two evaluations at θ₀, [`hessrank_core::check_deterministic`]),
    /// and chooses η (by power iteration on finite-difference HVPs for [`StepSize::Auto`]).
    pub fn new(
        config: &LangevinConfig,
        objective: &'a O,
        theta0: &O::Model,
        precond: &DiagPreconditioner,
    ) -> Result<Self> {
        Self::with_curvature(config, objective, objective, theta0, precond)
    }

    /// As [`LangevinRun::new`], but μ_max is measured on `curvature` — an objective with the same
    /// value, gradient and Hessian at θ₀ that finite differences handle better (for ReLU networks,
    /// the objective with the activation pattern of θ₀ frozen).
    pub fn with_curvature<C: Objective<Model = O::Model>>(
        config: &LangevinConfig,
        objective: &'a O,
        curvature: &C,
        theta0: &O::Model,
        precond: &DiagPreconditioner,
    ) -> Result<Self> {
        config.validate()?;
        let start = Instant::now();
        let layout = ParamLayout::of(theta0);
        layout.check_same(precond.layout(), "preconditioner vs model")?;
        // A loss that is not a function of θ has no Hessian: refuse it before the run.
        hessrank_core::check_deterministic(objective, theta0)?;
        let mut grad_evals = 2;
        let needs_mu = matches!(config.step, StepSize::Auto { .. }) || config.check_step;
        let mu_max = if needs_mu {
            let h = FdHessian::new(curvature, theta0);
            let p: PowerIteration =
                estimate_mu_max(&Preconditioned::new(&h, &precond.dynamics_flat()), config.power_iters, config.seed);
            grad_evals += h.grad_evals();
            Some(p.mu_max)
        } else {
            None
        };
        let mut warnings = Vec::new();
        let eta = match (config.step, mu_max) {
            (StepSize::Fixed(eta), Some(mu)) => {
                if eta * mu >= 2.0 {
                    warnings.push(Warning::UnstableStep { eta, mu_max: mu });
                }
                eta
            }
            (StepSize::Fixed(eta), None) => eta,
            (StepSize::Auto { c }, Some(mu)) if mu.is_finite() && mu > 0.0 => c / mu,
            (StepSize::Auto { .. }, mu) => {
                return Err(Error::NoStepSize { mu_max: mu });
            }
        };
        let (a, b) = step_factors(precond, eta, config.sigma2);
        let per_replica = objective.stacked().max(1);
        let projection = projection_of(config, theta0, &layout, &a)?;
        if config.symmetry == super::Symmetry::Off && !config.scale_groups.is_empty() {
            warnings.extend(drift_ahead(config, &layout, &precond.dynamics_flat(), eta)?);
        }
        let replica = |stream: u64, noiseless: bool| {
            Replica::new(theta0.clone(), CounterNoise::new(config.seed, stream), noiseless, layout.numel(), per_replica)
        };
        let replicas = (0..config.chains as u64).map(|c| replica(config.first_chain + c, false)).collect();
        let companion = config.drift.uses_companion().then(|| replica(COMPANION_STREAM, true));
        let n_params = layout.numel() / per_replica;
        let n_chains = config.chains * per_replica;
        Ok(Self {
            config: config.clone(),
            objective,
            replicas,
            companion,
            a,
            b,
            projection,
            eta,
            mu_max,
            n_params,
            grad_evals,
            k: 0,
            loss0: Vec::new(),
            windows: vec![Vec::with_capacity(config.k_avg); n_chains],
            excess: vec![Vec::with_capacity(config.k_avg); n_chains],
            warnings,
            elapsed0: 0.0,
            bound_excess: divergence_bound(config, n_params),
            theta0_sha256: sha256_of(&flatten_f64(theta0)),
            precond_sha256: sha256_of(&precond.dynamics_flat()),
            start,
            stages: Vec::new(),
            stop: None,
        })
    }

    /// Warnings found while setting up (show them before running).
    pub fn warnings(&self) -> &[Warning] {
        &self.warnings
    }

    /// The step size in use.
    pub fn eta(&self) -> f64 {
        self.eta
    }

    /// Iterations done so far.
    pub fn iteration(&self) -> usize {
        self.k
    }

    /// Whether all K_tot iterations are done (for an adaptive run: the current stage's).
    pub fn is_done(&self) -> bool {
        self.k >= self.config.k_tot
    }

    /// Closes the stage an adaptive run has just finished: records its estimate, and either
    /// stops the run ([`super::AdaptiveLength::decide`]) or starts the next stage, twice as long,
    /// whose window is the iterations it adds. Returns the finished stage when a next one started.
    /// A fixed-length run, or a run already stopped, has no next stage.
    pub fn next_stage(&mut self) -> Result<Option<super::Stage>> {
        let Some(adaptive) = self.config.adaptive else { return Ok(None) };
        if self.stop.is_some() || !self.is_done() {
            return Ok(None);
        }
        let u = self.finish()?.uncertainty;
        let stage = super::Stage {
            k_tot: self.k,
            estimate: u.estimate,
            stderr: u.stderr,
            half_width: (u.ci95[1] - u.ci95[0]) / 2.0,
            threshold: 1.0 / (2.0 * self.eta * self.k as f64),
            elapsed_s: self.elapsed0 + self.start.elapsed().as_secs_f64(),
        };
        self.stages.push(stage);
        if let Some(stop) = adaptive.decide(&self.stages, self.eta) {
            self.stop = Some(stop);
            return Ok(None);
        }
        let k_tot = 2 * self.k;
        self.config.k_tot = k_tot;
        self.config.k_avg = k_tot - self.k;
        self.windows.iter_mut().chain(self.excess.iter_mut()).for_each(Vec::clear);
        Ok(Some(stage))
    }

    /// The current parameters of every replica (the companion last, if any).
    pub fn models(&self) -> impl Iterator<Item = &O::Model> {
        self.replicas.iter().chain(&self.companion).filter_map(|c| c.model.as_ref())
    }

    /// L(θ_0) of every chain (empty before the first step).
    pub fn loss0(&self) -> &[f64] {
        &self.loss0
    }

    /// One iteration of every chain; calls `record` with what observers see, then returns whether
    /// the record asked to go on. Errors on divergence.
    pub fn step_with(&mut self, record: impl FnOnce(&Iteration<'_>) -> bool) -> Result<bool> {
        let k = self.k;
        let scheme = self.config.scheme;
        let factors = (&self.a, &self.b);
        // The companion steps first: its θ̄_k and ∇L(θ̄_k) are what the noisy chains' control
        // variate needs at iteration k.
        let companion = self.companion.as_mut().map(|c| {
            let theta = c.point();
            let (out, grad) = c.step(self.objective, factors, scheme, self.projection.as_ref(), None, true);
            (CompanionPoint { theta, grad: grad.expect("kept gradient") }, out.losses)
        });
        let cv = self.config.drift == DriftCorrection::ControlVariate;
        let point = companion.as_ref().filter(|_| cv).map(|(p, _)| p);
        let mut losses = Vec::with_capacity(self.windows.len());
        let mut cross = Vec::with_capacity(self.windows.len());
        for replica in self.replicas.iter_mut() {
            let (StepLosses { losses: l, cross: x }, _) =
                replica.step(self.objective, factors, scheme, self.projection.as_ref(), point, false);
            losses.extend(l);
            cross.extend(x.unwrap_or_default());
        }
        self.grad_evals += self.replicas.len() + usize::from(companion.is_some());
        if k == 0 {
            self.loss0 = losses.clone();
        }
        let scale = 4.0 / self.config.sigma2;
        let per = self.replicas.first().map_or(1, |r| r.chains);
        let companion_losses = companion.map(|(_, l)| l);
        let excess: Vec<f64> = losses
            .iter()
            .enumerate()
            .map(|(c, &l)| {
                let reference = match &companion_losses {
                    Some(lbar) => lbar[c % per],
                    None => self.loss0[c],
                };
                scale * (l - reference - cross.get(c).copied().unwrap_or(0.0))
            })
            .collect();
        for (c, (&l, &l0)) in losses.iter().zip(&self.loss0).enumerate() {
            if !l.is_finite() || l - l0 > self.bound_excess {
                return Err(Error::Diverged {
                    phase: "langevin",
                    iteration: k,
                    chain: Some(c),
                    loss: l,
                    bound: l0 + self.bound_excess,
                    eta: self.eta,
                    eta_mu_max: self.mu_max.map(|m| self.eta * m),
                });
            }
        }
        if k >= self.config.k_tot - self.config.k_avg {
            for ((w, e), (&l, &x)) in self.windows.iter_mut().zip(&mut self.excess).zip(losses.iter().zip(&excess)) {
                w.push(l);
                e.push(x);
            }
        }
        self.k += 1;
        let companion = companion_losses.map(|l| l.iter().sum::<f64>() / l.len() as f64);
        Ok(record(&Iteration { k, losses: &losses, excess: &excess, companion }))
    }

    /// One iteration of every chain. Returns L(θ_k) of every chain, or the divergence error.
    pub fn step(&mut self) -> Result<Vec<f64>> {
        let mut out = Vec::new();
        self.step_with(|it| {
            out = it.losses.to_vec();
            true
        })?;
        Ok(out)
    }

    /// The estimate from the iterations done (marked partial if fewer than K_tot).
    pub fn finish(&self) -> Result<RankEstimate> {
        let done = self.excess.first().map_or(0, Vec::len);
        if done < MIN_WINDOW && self.k < self.config.k_tot {
            return Err(Error::Interrupted {
                phase: "langevin",
                iteration: self.k,
                total: self.config.k_tot,
                resume: None,
            });
        }
        if done < MIN_WINDOW {
            return Err(Error::TooFewSamples { done, needed: MIN_WINDOW, iteration: self.k, k_tot: self.config.k_tot });
        }
        let scale = 4.0 / self.config.sigma2;
        let chain: Vec<ChainSummary> = self
            .windows
            .iter()
            .zip(&self.excess)
            .zip(&self.loss0)
            .map(|((w, e), &l0)| {
                let mean = w.iter().sum::<f64>() / w.len() as f64;
                ChainSummary {
                    loss0: l0,
                    window_mean: mean,
                    estimate: e.iter().sum::<f64>() / e.len() as f64,
                    estimate_uncorrected: scale * (mean - l0),
                    stderr_within: super::diagnostics::mean_stderr(e),
                }
            })
            .collect();
        let mut r = RankEstimate {
            // Filled in by `set_chains` from the window's traces.
            uncertainty: super::estimate::Uncertainty {
                estimate: f64::NAN,
                stderr: f64::NAN,
                ci95: [f64::NAN; 2],
                stderr_between_chains: None,
                stderr_within_chains: f64::NAN,
                r_hat: f64::NAN,
                ess: f64::NAN,
            },
            estimate_uncorrected: f64::NAN,
            drift: None,
            chain: Vec::new(),
            eta: self.eta,
            mu_max: self.mu_max,
            eta_mu_max: self.mu_max.map(|m| self.eta * m),
            eigenvalue_threshold: 1.0 / (2.0 * self.eta * self.config.k_tot as f64),
            n_params: self.n_params,
            theta0_sha256: self.theta0_sha256.clone(),
            precond_sha256: self.precond_sha256.clone(),
            grad_evals: self.grad_evals,
            wall_s: self.elapsed0 + self.start.elapsed().as_secs_f64(),
            partial: self.k < self.config.k_tot,
            iterations: self.k,
            warnings: self.warnings.clone(),
            config: self.config.clone(),
            adaptive: self.stop.zip(self.config.adaptive).map(|(stop, a)| super::AdaptiveReport {
                stages: self.stages.clone(),
                stop,
                precision: a.precision,
            }),
            traces: Vec::new(),
        };
        r.set_chains(chain, self.excess.clone());
        Ok(r)
    }
}
