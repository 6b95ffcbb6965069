//! The Langevin loop: C chains advanced in lock step, one full-batch gradient per chain per
//! iteration through Burn autodiff; parameters, gradients and the update stay on the device and the
//! only read-back per iteration is the chains' scalar losses.

use super::estimate::{ChainSummary, RankEstimate, batch_means, pool};
use super::{LangevinConfig, Observer, PowerIteration, Scheme, StartInfo, StepSize, estimate_mu_max};
use crate::hessian::{FdHessian, Preconditioned};
use burn::tensor::Tensor;
use hessrank_core::atomic::{read_json, write_json_atomic};
use hessrank_core::params::{flatten_f64, gradients_of, map_trainable, set_params};
use hessrank_core::step_noise::{CounterNoise, HostNormals};
use hessrank_core::{DiagPreconditioner, Error, Objective, ParamLayout, ParamTensors, Result};
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// Noise stream of the drift chain (it draws none, but keeps the layout uniform).
const DRIFT_STREAM: u64 = u64::MAX - 1;

/// One copy of the parameters (holding `objective.chains()` chains) with its noise state.
struct Copy<M> {
    /// Always `Some` between steps (taken and put back by the update mapper).
    model: Option<M>,
    noise: CounterNoise,
    /// Draws made so far: the next draw's index (draw k is a pure function of seed, stream, k).
    draws: u64,
    /// ξ_k of the Leimkuhler–Matthews scheme, per parameter, on the host (draw `draws − 1`).
    xi: Option<Vec<HostNormals>>,
    /// No noise: the deterministic drift companion.
    noiseless: bool,
    /// Parameters in this copy (all its chains).
    numel: usize,
}

/// Draw `draw` of `noise` for every parameter of `like`, in the parameters' float type.
fn draw_parts(noise: &CounterNoise, draw: u64, like: &ParamTensors) -> Vec<HostNormals> {
    let parts = like.tensors.iter().enumerate();
    parts.map(|(part, t)| noise.normals(draw, part as u64, t.shape().num_elements(), t.dtype())).collect()
}

/// Below this many parameters per copy a step runs on the calling thread: handing the noise to
/// another thread costs more than drawing it.
const CONCURRENT_NOISE_MIN: usize = 16_384;

impl<M: burn::module::Module> Copy<M> {
    /// The index of the next draw, counted as made.
    fn next_draw(&mut self) -> u64 {
        self.draws += 1;
        self.draws - 1
    }

    fn draw(&mut self, like: &ParamTensors) -> Vec<HostNormals> {
        let draw = self.next_draw();
        draw_parts(&self.noise, draw, like)
    }

    /// The noise ζ of this step for every parameter, on the host: ξ_k (EM) or (ξ_k + ξ_{k+1})/2
    /// (LM); `None` for the drift chain.
    fn zeta(&mut self, like: &ParamTensors, scheme: Scheme) -> Vec<Option<HostNormals>> {
        if self.noiseless {
            return Vec::new();
        }
        match scheme {
            Scheme::EulerMaruyama => self.draw(like).into_iter().map(Some).collect(),
            Scheme::LeimkuhlerMatthews => {
                let mut zeta = match self.xi.take() {
                    Some(xi) => xi,
                    None => self.draw(like), // ξ_0, at the first step
                };
                // ξ_{k+1} is drawn and ξ_k's buffer becomes (ξ_k + ξ_{k+1})/2 in one pass.
                let (noise, draw) = (self.noise, self.next_draw());
                let next =
                    zeta.iter_mut().enumerate().map(|(part, xi)| noise.next_with_midpoint(draw, part as u64, xi));
                self.xi = Some(next.collect());
                zeta.into_iter().map(Some).collect()
            }
        }
    }

    /// One LD step: θ ← θ − (ηG)∇L + (√η σ G^½) ζ, with ζ = ξ_k (EM) or (ξ_k + ξ_{k+1})/2 (LM).
    /// Returns the chains' losses at the current θ (before the step).
    ///
    /// The noise does not depend on θ, so on a pool of several threads it is drawn while the
    /// gradient is computed (`rayon::join`: the other worker takes it when free, otherwise this
    /// thread draws it afterwards); the numbers are the same either way. Called from outside
    /// the pool, the whole step then runs on one worker, so the update's parallel pass finds the
    /// other worker awake instead of the step crossing threads twice.
    fn step<O: Objective<Model = M>>(
        &mut self,
        objective: &O,
        a: &ParamTensors,
        b: &ParamTensors,
        scheme: Scheme,
    ) -> Vec<f64> {
        let concurrent = self.numel >= CONCURRENT_NOISE_MIN && rayon::current_num_threads() > 1;
        if concurrent && rayon::current_thread_index().is_none() {
            return rayon::scope(|_| self.step(objective, a, b, scheme));
        }
        let model = self.model.take().expect("model present between steps");
        let gradient = |model: M| {
            let loss = objective.loss(&model);
            // Backward seeds the root with ones of its shape, so the chains' [C] losses give the
            // gradient of their sum without a sum on the tape.
            let grads = loss.backward();
            let losses: Vec<f64> = loss.into_data().iter::<f64>().collect();
            let g = gradients_of(&model, &grads);
            (model, losses, g)
        };
        let ((model, losses, g), mut zeta) = if concurrent {
            rayon::join(|| gradient(model), || self.zeta(a, scheme))
        } else {
            let out = gradient(model);
            (out, self.zeta(a, scheme))
        };
        let mut g: Vec<Option<Tensor<1>>> = g.tensors.into_iter().map(Some).collect();
        self.model = Some(map_trainable(model, |i, theta| {
            let g = g[i].take().expect("one gradient per parameter");
            // ζ is uploaded once per parameter and the update is one fused pass where available.
            let noise = zeta.get_mut(i).and_then(Option::take).map(|z| {
                let z = Tensor::from_data(z.into_data(), &theta.device());
                (b.tensors[i].clone(), z)
            });
            hessrank_kernels::langevin_update(theta, a.tensors[i].clone(), g, noise)
        }));
        losses
    }
}

/// The constant factors of the update, ηG and √η σ G^½, on the plain device.
fn step_factors(precond: &DiagPreconditioner, eta: f64, sigma2: f64) -> (ParamTensors, ParamTensors) {
    let a = precond.g().map(|t| t.inner().mul_scalar(eta));
    let b = precond.sqrt_g().map(|t| t.inner().mul_scalar((eta * sigma2).sqrt()));
    (a, b)
}

/// The largest excess loss before a run counts as diverged: `divergence_factor` · σ²/4 · n.
fn divergence_bound(config: &LangevinConfig, n_params: usize) -> f64 {
    config.divergence_factor * config.sigma2 / 4.0 * n_params as f64
}

/// A resumable snapshot of a [`LangevinRun`]: parameters, noise positions and ξ of every chain,
/// running sums and the iteration, as JSON (f64 values round-trip exactly).
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
    /// L(θ_0) of the drift chain.
    pub drift0: f64,
    /// Losses recorded in the averaging window, per chain.
    pub windows: Vec<Vec<f64>>,
    /// The drift chain's window.
    pub drift_window: Vec<f64>,
    /// Warnings so far.
    pub warnings: Vec<String>,
    /// Seconds spent so far.
    pub elapsed_s: f64,
    copies: Vec<CopyState>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct CopyState {
    params: Vec<f64>,
    stream: u64,
    /// Noise draws made so far (the Leimkuhler–Matthews ξ_k is draw `draws − 1`, made again on
    /// restore).
    draws: u64,
    noiseless: bool,
}

/// A run of Algorithm 1 in progress: built by [`LangevinRun::new`], advanced by
/// [`LangevinRun::step`], summarised by [`LangevinRun::finish`] (the solver/executor split: [`run`]
/// is the executor that drives it and feeds an [`Observer`]).
pub struct LangevinRun<'a, O: Objective> {
    config: LangevinConfig,
    objective: &'a O,
    copies: Vec<Copy<O::Model>>,
    /// ηG and √η σ G^½ per parameter, on the plain device.
    a: ParamTensors,
    b: ParamTensors,
    eta: f64,
    mu_max: Option<f64>,
    n_params: usize,
    grad_evals: usize,
    k: usize,
    loss0: Vec<f64>,
    drift0: f64,
    windows: Vec<Vec<f64>>,
    drift_window: Vec<f64>,
    bound_excess: f64,
    warnings: Vec<String>,
    start: Instant,
    /// Seconds spent before a resume.
    elapsed0: f64,
}

impl<'a, O: Objective> LangevinRun<'a, O>
where
    O::Model: Clone,
{
    /// Validates the configuration, checks the preconditioner's layout against the model, and
    /// chooses η (by power iteration on finite-difference HVPs for [`StepSize::Auto`]).
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
        let per_copy = objective.chains();
        let n_params = layout.numel() / per_copy.max(1);
        let mut grad_evals = 0;
        let needs_mu = matches!(config.step, StepSize::Auto { .. }) || config.check_step;
        let mu_max = if needs_mu {
            let h = FdHessian::new(curvature, theta0);
            let p: PowerIteration =
                estimate_mu_max(&Preconditioned::new(&h, &precond.to_flat()), config.power_iters, config.seed);
            grad_evals += h.grad_evals();
            Some(p.mu_max)
        } else {
            None
        };
        let mut warnings = Vec::new();
        let eta = match (config.step, mu_max) {
            (StepSize::Fixed(eta), Some(mu)) => {
                if eta * mu >= 2.0 {
                    warnings.push(format!(
                        "η = {eta:.3e} with μ_max ≈ {mu:.4e} gives η μ_max = {:.3} ≥ 2: the run will diverge; \
                         use η < {:.3e} (or --eta auto)",
                        eta * mu,
                        2.0 / mu
                    ));
                }
                eta
            }
            (StepSize::Fixed(eta), None) => eta,
            (StepSize::Auto { c }, Some(mu)) if mu.is_finite() && mu > 0.0 => c / mu,
            (StepSize::Auto { .. }, mu) => {
                return Err(Error::Numerical(format!(
                    "automatic step: the largest eigenvalue of G^½HG^½ came out as {mu:?} — θ_0 is not near a \
                     minimum; give a fixed η"
                )));
            }
        };
        let (a, b) = step_factors(precond, eta, config.sigma2);
        let mut copies: Vec<Copy<O::Model>> = (0..config.chains)
            .map(|c| Copy {
                model: Some(theta0.clone()),
                noise: CounterNoise::new(config.seed, c as u64),
                draws: 0,
                xi: None,
                noiseless: false,
                numel: layout.numel(),
            })
            .collect();
        if config.drift_correction {
            copies.push(Copy {
                model: Some(theta0.clone()),
                noise: CounterNoise::new(config.seed, DRIFT_STREAM),
                draws: 0,
                xi: None,
                noiseless: true,
                numel: layout.numel(),
            });
        }
        let n_chains = config.chains * per_copy;
        Ok(Self {
            config: config.clone(),
            objective,
            copies,
            a,
            b,
            eta,
            mu_max,
            n_params,
            grad_evals,
            k: 0,
            loss0: Vec::new(),
            drift0: 0.0,
            windows: vec![Vec::with_capacity(config.k_avg); n_chains],
            drift_window: Vec::new(),
            warnings,
            elapsed0: 0.0,
            bound_excess: divergence_bound(config, n_params),
            start,
        })
    }

    /// Warnings found while setting up (show them before running).
    pub fn warnings(&self) -> &[String] {
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

    /// Whether all K_tot iterations are done.
    pub fn is_done(&self) -> bool {
        self.k >= self.config.k_tot
    }

    /// The current parameters of every copy (the drift chain last, if any).
    pub fn models(&self) -> impl Iterator<Item = &O::Model> {
        self.copies.iter().filter_map(|c| c.model.as_ref())
    }

    /// L(θ_0) of every chain (empty before the first step).
    pub fn loss0(&self) -> &[f64] {
        &self.loss0
    }

    /// One iteration of every chain. Returns L(θ_k) of every chain and the drift chain's mean
    /// loss, or the divergence error.
    pub fn step(&mut self) -> Result<(Vec<f64>, Option<f64>)> {
        let k = self.k;
        let mut losses = Vec::with_capacity(self.windows.len());
        let mut drift = None;
        for copy in self.copies.iter_mut() {
            let l = copy.step(self.objective, &self.a, &self.b, self.config.scheme);
            if copy.noiseless {
                drift = Some(l.iter().sum::<f64>() / l.len() as f64);
            } else {
                losses.extend(l);
            }
        }
        self.grad_evals += self.copies.len();
        if k == 0 {
            self.loss0 = losses.clone();
            self.drift0 = drift.unwrap_or(0.0);
        }
        for (c, (&l, &l0)) in losses.iter().zip(&self.loss0).enumerate() {
            if !l.is_finite() || l - l0 > self.bound_excess {
                return Err(Error::Numerical(format!(
                    "Langevin dynamics diverged at iteration {k} (chain {c}): loss {l:.6e}, L(θ_0) = {l0:.6e}, \
                     bound L(θ_0) + {:.3e}; η = {:.3e}{} — use a smaller η (η μ_max < 2) or a preconditioner",
                    self.bound_excess,
                    self.eta,
                    self.mu_max.map(|m| format!(", η μ_max = {:.3}", self.eta * m)).unwrap_or_default()
                )));
            }
        }
        if k >= self.config.k_tot - self.config.k_avg {
            for (w, &l) in self.windows.iter_mut().zip(&losses) {
                w.push(l);
            }
            if let Some(d) = drift {
                self.drift_window.push(d);
            }
        }
        self.k += 1;
        Ok((losses, drift))
    }

    /// Everything needed to continue this run later (see [`LangevinRun::restore`]).
    pub fn snapshot(&self) -> LangevinState {
        let copies = self
            .copies
            .iter()
            .map(|c| CopyState {
                params: c.model.as_ref().map(flatten_f64).unwrap_or_default(),
                stream: c.noise.stream(),
                draws: c.draws,
                noiseless: c.noiseless,
            })
            .collect();
        LangevinState {
            config: self.config.clone(),
            k: self.k,
            eta: self.eta,
            mu_max: self.mu_max,
            grad_evals: self.grad_evals,
            loss0: self.loss0.clone(),
            drift0: self.drift0,
            windows: self.windows.clone(),
            drift_window: self.drift_window.clone(),
            warnings: self.warnings.clone(),
            elapsed_s: self.elapsed0 + self.start.elapsed().as_secs_f64(),
            copies,
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
        let expected_copies = config.chains + usize::from(config.drift_correction);
        if state.copies.len() != expected_copies || state.k > config.k_tot {
            return Err(Error::config(
                "langevin state",
                format!("{} copies at iteration {}", state.copies.len(), state.k),
                format!("{expected_copies} copies, iteration ≤ K_tot"),
            ));
        }
        let device = precond
            .g()
            .tensors
            .first()
            .map(|t| t.device().inner())
            .ok_or_else(|| Error::config("model", "no parameters", "≥ 1"))?;
        let eta = state.eta;
        let (a, b) = step_factors(precond, eta, config.sigma2);
        let mut copies = Vec::with_capacity(state.copies.len());
        for c in &state.copies {
            let params = ParamTensors::from_flat(&layout, &c.params, &device)?;
            let noise = CounterNoise::new(config.seed, c.stream);
            let lm = config.scheme == Scheme::LeimkuhlerMatthews && !c.noiseless;
            let xi = (lm && c.draws > 0).then(|| draw_parts(&noise, c.draws - 1, &a));
            copies.push(Copy {
                model: Some(set_params(theta0.clone(), &params)?),
                noise,
                draws: c.draws,
                xi,
                noiseless: c.noiseless,
                numel: layout.numel(),
            });
        }
        let n_params = layout.numel() / objective.chains().max(1);
        Ok(Self {
            bound_excess: divergence_bound(&config, n_params),
            config,
            objective,
            copies,
            a,
            b,
            eta,
            mu_max: state.mu_max,
            n_params,
            grad_evals: state.grad_evals,
            k: state.k,
            loss0: state.loss0,
            drift0: state.drift0,
            windows: state.windows,
            drift_window: state.drift_window,
            warnings: state.warnings,
            start: Instant::now(),
            elapsed0: state.elapsed_s,
        })
    }

    /// The estimate from the iterations done (marked partial if fewer than K_tot).
    pub fn finish(&self) -> Result<RankEstimate> {
        if self.windows.first().is_none_or(|w| w.is_empty()) && self.k < self.config.k_tot {
            return Err(Error::Interrupted(format!(
                "stopped at iteration {} of {}, before the averaging window (from iteration {}): no estimate yet",
                self.k,
                self.config.k_tot,
                self.config.k_tot - self.config.k_avg
            )));
        }
        if self.windows.first().is_none_or(|w| w.is_empty()) {
            return Err(Error::Numerical(format!(
                "no iteration of the averaging window was reached ({} of {} iterations done, window starts at {})",
                self.k,
                self.config.k_tot,
                self.config.k_tot - self.config.k_avg
            )));
        }
        let scale = 4.0 / self.config.sigma2;
        let chain: Vec<ChainSummary> = self
            .windows
            .iter()
            .zip(&self.loss0)
            .map(|(w, &l0)| {
                let (mean, se) = batch_means(w);
                ChainSummary {
                    loss0: l0,
                    window_mean: mean,
                    estimate: scale * (mean - l0),
                    stderr_batch_means: scale * se,
                }
            })
            .collect();
        let drift_term = self
            .config
            .drift_correction
            .then(|| scale * (self.drift_window.iter().sum::<f64>() / self.drift_window.len() as f64 - self.drift0));
        let (uncorrected, ..) = pool(&chain, 0.0);
        let (estimate, stderr, between, se_bm, ci95) = pool(&chain, drift_term.unwrap_or(0.0));
        Ok(RankEstimate {
            estimate,
            stderr,
            ci95,
            stderr_between_chains: between,
            stderr_batch_means: se_bm,
            estimate_uncorrected: uncorrected,
            drift: drift_term,
            chain,
            eta: self.eta,
            mu_max: self.mu_max,
            eta_mu_max: self.mu_max.map(|m| self.eta * m),
            eigenvalue_threshold: 1.0 / (2.0 * self.eta * self.config.k_tot as f64),
            n_params: self.n_params,
            grad_evals: self.grad_evals,
            wall_s: self.elapsed0 + self.start.elapsed().as_secs_f64(),
            partial: self.k < self.config.k_tot,
            iterations: self.k,
            warnings: self.warnings.clone(),
            config: self.config.clone(),
        })
    }
}

/// Runs Algorithm 1 from `theta0` with preconditioner `precond` (same layout as the model) to the
/// end, reporting to `observer`.
///
/// Errors: an invalid configuration, a preconditioner of another layout, or divergence (a
/// non-finite loss, or one above the configured bound) — naming the iteration, the loss and the fix.
pub fn run<O: Objective>(
    config: &LangevinConfig,
    objective: &O,
    theta0: &O::Model,
    precond: &DiagPreconditioner,
    observer: &mut dyn Observer,
) -> Result<RankEstimate>
where
    O::Model: Clone,
{
    drive(LangevinRun::new(config, objective, theta0, precond)?, config, observer)
}

/// [`run`] with μ_max measured on `curvature` (see [`LangevinRun::with_curvature`]).
pub fn run_with_curvature<O: Objective, C: Objective<Model = O::Model>>(
    config: &LangevinConfig,
    objective: &O,
    curvature: &C,
    theta0: &O::Model,
    precond: &DiagPreconditioner,
    observer: &mut dyn Observer,
) -> Result<RankEstimate>
where
    O::Model: Clone,
{
    drive(LangevinRun::with_curvature(config, objective, curvature, theta0, precond)?, config, observer)
}

/// Where and how often a run saves its [`LangevinState`].
#[derive(Debug, Clone)]
pub struct Checkpointing {
    /// The state file (JSON, written atomically).
    pub path: std::path::PathBuf,
    /// Save every this many iterations (and when the observer stops the run).
    pub every: usize,
}

/// [`run_with_curvature`] that saves its state periodically and, when `resume` is set and the state
/// file exists, continues from it (the settings must be the ones the state was written with).
#[allow(clippy::too_many_arguments)]
pub fn run_resumable<O: Objective, C: Objective<Model = O::Model>>(
    config: &LangevinConfig,
    objective: &O,
    curvature: &C,
    theta0: &O::Model,
    precond: &DiagPreconditioner,
    observer: &mut dyn Observer,
    checkpointing: &Checkpointing,
    resume: bool,
) -> Result<RankEstimate>
where
    O::Model: Clone,
{
    let state = if resume && checkpointing.path.is_file() {
        let saved: LangevinState = read_json(&checkpointing.path)?;
        if serde_json::to_value(&saved.config).ok() != serde_json::to_value(config).ok() {
            return Err(Error::format(
                &checkpointing.path,
                "the saved run used other settings; resume with the same flags (or start a new run)",
            ));
        }
        LangevinRun::restore(saved, objective, theta0, precond)?
    } else {
        LangevinRun::with_curvature(config, objective, curvature, theta0, precond)?
    };
    drive_with(state, config, observer, Some(checkpointing))
}

/// The executor: steps a run to the end, feeding the observer.
fn drive<O: Objective>(
    state: LangevinRun<'_, O>,
    config: &LangevinConfig,
    observer: &mut dyn Observer,
) -> Result<RankEstimate>
where
    O::Model: Clone,
{
    drive_with(state, config, observer, None)
}

fn drive_with<O: Objective>(
    mut state: LangevinRun<'_, O>,
    config: &LangevinConfig,
    observer: &mut dyn Observer,
    checkpointing: Option<&Checkpointing>,
) -> Result<RankEstimate>
where
    O::Model: Clone,
{
    let save = |state: &LangevinRun<'_, O>| -> Result<()> {
        match checkpointing {
            Some(c) => write_json_atomic(&c.path, &state.snapshot()),
            None => Ok(()),
        }
    };
    let mut started = false;
    while !state.is_done() {
        let k = state.iteration();
        let (losses, drift) = state.step()?;
        if !started {
            started = true;
            observer.start(&StartInfo {
                chains: losses.len(),
                k_tot: config.k_tot,
                eta: state.eta(),
                loss0: state.loss0().to_vec(),
                sigma2: config.sigma2,
            });
        }
        if let Some(c) = checkpointing
            && (k + 1).is_multiple_of(c.every.max(1))
        {
            save(&state)?;
        }
        if (k.is_multiple_of(config.record_stride) || k + 1 == config.k_tot) && !observer.iteration(k, &losses, drift) {
            save(&state)?;
            break;
        }
    }
    if state.is_done() {
        save(&state)?;
    }
    state.finish()
}
