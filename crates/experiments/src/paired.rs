//! Algorithm 1 at one σ² on any objective and, for ReLU networks, the same chains (the same noise)
//! on the frozen-activation objective: the paired difference is the loss the Hessian does not see.
//! Each run is resumable on its own, with its loss trace kept beside its saved state.

use crate::observer::{ExperimentObserver, PersistentTrace};
use hessrank_core::{DiagPreconditioner, Objective, Result};
use hessrank_rank::langevin::{Checkpointing, Langevin, TracePoint};
use hessrank_rank::validation::{PairedDifference, paired_difference};
use hessrank_rank::{LangevinConfig, RankEstimate};
use std::path::{Path, PathBuf};

/// The real and the frozen run of one σ², with the same noise.
#[derive(Debug, Clone)]
pub struct Paired {
    /// Algorithm 1 on the real loss.
    pub real: RankEstimate,
    /// Its recorded mean trace.
    pub real_trace: Vec<TracePoint>,
    /// The same chains on the frozen-activation objective (θ₀'s ReLU pattern fixed).
    pub frozen: RankEstimate,
    /// Its recorded mean trace.
    pub frozen_trace: Vec<TracePoint>,
    /// real − frozen, chain by chain: the loss the Hessian does not see.
    pub relu_excess: PairedDifference,
}

/// The state files of the `i`-th σ² of a sweep (real, frozen).
pub fn state_files(i: usize) -> (String, String) {
    if i == 0 {
        ("langevin-state.json".into(), "langevin-state-frozen.json".into())
    } else {
        (format!("langevin-state-s{i}.json"), format!("langevin-state-s{i}-frozen.json"))
    }
}

/// Where the runs of one σ² keep their state.
#[derive(Debug, Clone, Copy)]
pub struct StateFiles<'a> {
    /// The folder (`None`: nothing is saved).
    pub dir: Option<&'a Path>,
    /// The σ²'s index in the sweep.
    pub index: usize,
    /// Save every this many iterations.
    pub every: usize,
    /// Continue saved runs.
    pub resume: bool,
}

impl StateFiles<'_> {
    /// Nothing saved, nothing resumed.
    pub const NONE: StateFiles<'static> = StateFiles { dir: None, index: 0, every: 1, resume: false };
}

/// One run with its trace ([`hessrank_core::Error::Interrupted`] when it was stopped before an
/// estimate; its state and trace are saved).
fn one_run<O, C>(
    config: &LangevinConfig,
    (objective, curvature): (&O, &C),
    (model, precond): (&O::Model, &DiagPreconditioner),
    state: Option<PathBuf>,
    files: StateFiles<'_>,
    progress: &mut dyn hessrank_rank::langevin::Observer,
) -> Result<(RankEstimate, Vec<TracePoint>)>
where
    O: Objective,
    C: Objective<Model = O::Model>,
    O::Model: Clone,
{
    let mut trace =
        PersistentTrace::new(state.as_ref().map(|s| s.with_extension("trace.json")), files.every, files.resume)?;
    let mut driver = Langevin::new(config).curvature(curvature).observe(&mut trace).observe(progress);
    if let Some(path) = state {
        driver = driver.checkpoint(Checkpointing { path, every: files.every }).resume(files.resume);
    }
    let r = driver.run(objective, model, precond);
    let points = trace.finish()?;
    Ok((r?, points))
}

/// Runs Algorithm 1 with `config` on `objective`, η chosen on `curvature`'s curvature, saving its
/// state and trace as the real run of `files` ([`hessrank_core::Error::Interrupted`] when it was
/// stopped before an estimate).
#[allow(clippy::too_many_arguments)]
pub fn run_real<O, C>(
    config: &LangevinConfig,
    objective: &O,
    curvature: &C,
    model: &O::Model,
    precond: &DiagPreconditioner,
    files: StateFiles<'_>,
    observer: &mut dyn ExperimentObserver,
    label: &str,
) -> Result<(RankEstimate, Vec<TracePoint>)>
where
    O: Objective,
    C: Objective<Model = O::Model>,
    O::Model: Clone,
{
    let state = files.dir.map(|d| d.join(state_files(files.index).0));
    let mut progress = observer.langevin(label);
    one_run(config, (objective, curvature), (model, precond), state, files, progress.as_mut())
}

/// Runs [`run_real`] and then the same chains on `curvature` itself, the frozen-activation
/// objective ([`hessrank_core::Error::Interrupted`] when either was stopped before an estimate;
/// its state is saved).
#[allow(clippy::too_many_arguments)]
pub fn run_paired<O, C>(
    config: &LangevinConfig,
    objective: &O,
    curvature: &C,
    model: &O::Model,
    precond: &DiagPreconditioner,
    files: StateFiles<'_>,
    observer: &mut dyn ExperimentObserver,
) -> Result<Paired>
where
    O: Objective,
    C: Objective<Model = O::Model>,
    O::Model: Clone,
{
    let s2 = config.sigma2;
    let label = format!("σ² = {s2:.1e}: real loss");
    observer.note(&label);
    let (real, real_trace) = run_real(config, objective, curvature, model, precond, files, observer, &label)?;
    let label = format!("σ² = {s2:.1e}: frozen-activation objective (same noise)");
    observer.note(&label);
    let frozen_state = files.dir.map(|d| d.join(state_files(files.index).1));
    // The same length as the real run: an adaptive real run's last stage, fixed.
    let frozen_config = real.config.clone().with_adaptive(None);
    let (frozen, frozen_trace) = {
        let mut progress = observer.langevin(&label);
        one_run(&frozen_config, (curvature, curvature), (model, precond), frozen_state, files, progress.as_mut())?
    };
    let relu_excess = paired_difference(&real, &frozen)?;
    Ok(Paired { real, real_trace, frozen, frozen_trace, relu_excess })
}

/// The most parameters [`exact_mode_eigenvalues`] forms the dense Hessian of (2n gradients, n²
/// memory).
pub const EXACT_MAX_PARAMS: usize = 5_000;

/// The eigenvalues μ of G^½HG^½, ascending, with H the exact Hessian of `curvature` at `model`
/// (central differences of gradients; run it on an f64 device): the spectrum the discrete theory
/// predicts the frozen chains from.
pub fn exact_mode_eigenvalues<C: Objective>(
    curvature: &C,
    model: &C::Model,
    precond: &DiagPreconditioner,
) -> Result<Vec<f64>> {
    let n = hessrank_core::ParamLayout::of(model).numel();
    if n > EXACT_MAX_PARAMS {
        return Err(hessrank_core::Error::config(
            "validate",
            format!("{n} parameters"),
            format!("at most {EXACT_MAX_PARAMS} (the dense Hessian is formed)"),
        ));
    }
    let h = hessrank_rank::hessian::dense_matrix(&hessrank_rank::hessian::FdHessian::new(curvature, model));
    Ok(hessrank_rank::theory::mode_eigenvalues(&h, &precond.dynamics_flat()))
}
