//! One σ²'s paired runs: Algorithm 1 on the real loss and on the frozen-activation objective with
//! the same noise draws, each resumable on its own, each with its loss trace kept beside its state.

use crate::observer::{ExperimentObserver, PersistentTrace};
use hessrank_core::{DiagPreconditioner, Objective, Result};
use hessrank_models::{DnCnn, FrozenNoisyMnist, NoisyMnist};
use hessrank_rank::langevin::{Checkpointing, Langevin, TracePoint};
use hessrank_rank::validation::{PairedDifference, paired_difference};
use hessrank_rank::{LangevinConfig, RankEstimate};
use std::path::{Path, PathBuf};

/// The real and the frozen run of one σ².
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
pub struct StateFiles<'a> {
    /// The folder.
    pub dir: &'a Path,
    /// The σ²'s index in the sweep.
    pub index: usize,
    /// Save every this many iterations.
    pub every: usize,
    /// Continue saved runs.
    pub resume: bool,
}

/// What the real and the frozen run of one σ² share.
struct Shared<'a> {
    config: &'a LangevinConfig,
    model: &'a DnCnn,
    precond: &'a DiagPreconditioner,
    files: &'a StateFiles<'a>,
}

/// One resumable run with its trace ([`hessrank_core::Error::Interrupted`] when it was stopped
/// before an estimate; its state and trace are saved).
fn one_run<O, C>(
    shared: &Shared<'_>,
    objective: &O,
    curvature: &C,
    state: PathBuf,
    observer: &mut dyn ExperimentObserver,
    label: &str,
) -> Result<(RankEstimate, Vec<TracePoint>)>
where
    O: Objective<Model = DnCnn>,
    C: Objective<Model = DnCnn>,
{
    let files = shared.files;
    let mut trace = PersistentTrace::new(state.with_extension("trace.json"), files.every, files.resume)?;
    let r = {
        let mut progress = observer.langevin(label);
        Langevin::new(shared.config)
            .curvature(curvature)
            .observe(&mut trace)
            .observe(progress.as_mut())
            .checkpoint(Checkpointing { path: state, every: files.every })
            .resume(files.resume)
            .run(objective, shared.model, shared.precond)
    };
    let points = trace.finish()?;
    Ok((r?, points))
}

/// Runs the real and the frozen chains of `config` ([`hessrank_core::Error::Interrupted`] when either was stopped
/// before an estimate; its state is saved).
pub fn run_paired(
    config: &LangevinConfig,
    objective: &NoisyMnist,
    frozen: &FrozenNoisyMnist,
    model: &DnCnn,
    precond: &DiagPreconditioner,
    files: &StateFiles<'_>,
    observer: &mut dyn ExperimentObserver,
) -> Result<Paired> {
    let (real_state, frozen_state) = state_files(files.index);
    let s2 = config.sigma2;
    let label = format!("σ² = {s2:.1e}: real loss");
    observer.note(&label);
    let shared = Shared { config, model, precond, files };
    let (real, real_trace) = one_run(&shared, objective, frozen, files.dir.join(real_state), observer, &label)?;
    let label = format!("σ² = {s2:.1e}: frozen-activation objective (same noise)");
    observer.note(&label);
    let (frozen, frozen_trace) = one_run(&shared, frozen, frozen, files.dir.join(frozen_state), observer, &label)?;
    let relu_excess = paired_difference(&real, &frozen)?;
    Ok(Paired { real, real_trace, frozen, frozen_trace, relu_excess })
}
