//! A run's saved state: parameters, noise positions and running windows of every chain, as JSON
//! (f64 values round-trip exactly), so that an interrupted run continues bitwise as if it never
//! stopped.

use super::LangevinConfig;
use super::Scheme;
use super::replica::{Replica, draw_parts};
use super::run::{LangevinRun, divergence_bound, projection_of, step_factors};
use super::warning::Warning;
use hessrank_core::params::{flatten_f64, set_params};
use hessrank_core::step_noise::CounterNoise;
use hessrank_core::{DiagPreconditioner, Error, Objective, ParamLayout, ParamTensors, Result};
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// A resumable snapshot of a [`LangevinRun`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LangevinState {
    /// The run's settings.
    pub config: LangevinConfig,
    /// Iterations done.
    pub k: usize,
    /// The step in use.
    pub eta: f64,
    /// μ_max, when measured.
    pub mu_max: Option<f64>,
    /// Gradient evaluations so far.
    pub grad_evals: usize,
    /// L(θ_0) per chain.
    pub loss0: Vec<f64>,
    /// Losses recorded in the averaging window, per chain.
    pub windows: Vec<Vec<f64>>,
    /// 4/σ²-scaled excess losses recorded in the averaging window, per chain.
    pub excess: Vec<Vec<f64>>,
    /// Warnings so far.
    pub warnings: Vec<Warning>,
    /// Seconds spent so far.
    pub elapsed_s: f64,
    /// SHA-256 of θ₀ and of G.
    pub fingerprints: [String; 2],
    replicas: Vec<ReplicaState>,
    companion: Option<ReplicaState>,
    /// The finished stages of an adaptive run.
    #[serde(default)]
    pub stages: Vec<super::Stage>,
    /// Why an adaptive run stopped, once it has.
    #[serde(default)]
    pub stop: Option<super::Stop>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct ReplicaState {
    params: Vec<f64>,
    stream: u64,
    /// Noise draws made so far (the Leimkuhler–Matthews ξ_k is draw `draws − 1`, made again on
    /// restore).
    draws: u64,
}

impl LangevinState {
    /// Each chain's parameters θ_k at the snapshot, flattened in layout order.
    pub fn chain_params(&self) -> Vec<&[f64]> {
        self.replicas.iter().map(|r| r.params.as_slice()).collect()
    }
}

impl<M: burn::module::Module> Replica<M> {
    fn state(&self) -> ReplicaState {
        ReplicaState {
            params: self.model.as_ref().map(flatten_f64).unwrap_or_default(),
            stream: self.noise.stream(),
            draws: self.draws,
        }
    }
}

impl<'a, O: Objective> LangevinRun<'a, O>
where
    O::Model: Clone,
{
    /// Everything needed to continue this run later (see [`LangevinRun::restore`]).
    pub fn snapshot(&self) -> LangevinState {
        LangevinState {
            config: self.config.clone(),
            k: self.k,
            eta: self.eta,
            mu_max: self.mu_max,
            grad_evals: self.grad_evals,
            loss0: self.loss0.clone(),
            windows: self.windows.clone(),
            excess: self.excess.clone(),
            warnings: self.warnings.clone(),
            elapsed_s: self.elapsed0 + self.start.elapsed().as_secs_f64(),
            fingerprints: [self.theta0_sha256.clone(), self.precond_sha256.clone()],
            replicas: self.replicas.iter().map(Replica::state).collect(),
            companion: self.companion.as_ref().map(Replica::state),
            stages: self.stages.clone(),
            stop: self.stop,
        }
    }

    /// Continues a run from `state` for the same objective, θ₀ template and preconditioner. With
    /// the same backend, the result is bitwise that of an uninterrupted run (the noise resumes at
    /// the same draw).
    pub fn restore(
        state: LangevinState,
        objective: &'a O,
        theta0: &O::Model,
        precond: &DiagPreconditioner,
    ) -> Result<Self> {
        let config = state.config.clone();
        config.validate()?;
        let layout = ParamLayout::of(theta0);
        layout.check_same(precond.layout(), "preconditioner vs model")?;
        if state.replicas.len() != config.chains
            || state.companion.is_some() != config.drift.uses_companion()
            || state.k > config.k_tot
        {
            return Err(Error::config(
                "langevin state",
                format!("{} chains at iteration {}", state.replicas.len(), state.k),
                format!("{} chains, iteration ≤ K_tot, companion as configured", config.chains),
            ));
        }
        let device = precond
            .g()
            .tensors
            .first()
            .map(|t| t.device().inner())
            .ok_or_else(|| Error::config("model", "no parameters", "≥ 1"))?;
        let (a, b) = step_factors(precond, state.eta, config.sigma2);
        let per_replica = objective.stacked().max(1);
        let projection = projection_of(&config, theta0, &layout, &a)?;
        let rebuild = |s: &ReplicaState, noiseless: bool| -> Result<Replica<O::Model>> {
            let params = ParamTensors::from_flat(&layout, &s.params, &device)?;
            let noise = CounterNoise::new(config.seed, s.stream);
            let lm = config.scheme == Scheme::LeimkuhlerMatthews && !noiseless;
            let mut r =
                Replica::new(set_params(theta0.clone(), &params)?, noise, noiseless, layout.numel(), per_replica);
            r.draws = s.draws;
            r.xi = (lm && s.draws > 0).then(|| draw_parts(&noise, s.draws - 1, &a));
            Ok(r)
        };
        let replicas = state.replicas.iter().map(|s| rebuild(s, false)).collect::<Result<Vec<_>>>()?;
        let companion = state.companion.as_ref().map(|s| rebuild(s, true)).transpose()?;
        let n_params = layout.numel() / per_replica;
        let [theta0_sha256, precond_sha256] = state.fingerprints;
        Ok(Self {
            bound_excess: divergence_bound(&config, n_params),
            config,
            objective,
            replicas,
            companion,
            a,
            b,
            projection,
            eta: state.eta,
            mu_max: state.mu_max,
            n_params,
            grad_evals: state.grad_evals,
            k: state.k,
            loss0: state.loss0,
            windows: state.windows,
            excess: state.excess,
            warnings: state.warnings,
            theta0_sha256,
            precond_sha256,
            start: Instant::now(),
            elapsed0: state.elapsed_s,
            stages: state.stages,
            stop: state.stop,
        })
    }
}
