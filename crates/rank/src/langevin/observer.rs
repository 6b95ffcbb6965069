//! Observers: where the loss traces go (progress bars, CSV writers, the trace recorder). The
//! algorithm never prints.

pub use super::run::Iteration;

/// What an observer learns before the first iteration.
#[derive(Debug, Clone)]
pub struct StartInfo {
    /// Number of chains.
    pub chains: usize,
    /// K_tot.
    pub k_tot: usize,
    /// The step η in use.
    pub eta: f64,
    /// L(θ_0) per chain.
    pub loss0: Vec<f64>,
    /// σ².
    pub sigma2: f64,
    /// The warnings found while setting up (about the step, or the groups' predicted drift), to
    /// show before the run.
    pub warnings: Vec<super::Warning>,
}

/// Receives the run's progress.
pub trait Observer {
    /// Called once before the first recorded iteration.
    fn start(&mut self, _info: &StartInfo) {}
    /// Called after every iteration (an observer that keeps fewer points thins them itself, as
    /// [`TraceRecorder`] does). Return `false` to stop the run early: the result is then marked
    /// partial.
    fn iteration(&mut self, _it: &Iteration<'_>) -> bool {
        true
    }
    /// Called when an adaptive run finishes `stage` and starts the next, which runs to `k_tot`.
    fn next_stage(&mut self, _stage: &super::Stage, _k_tot: usize) {}
}

/// An observer that ignores everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct NullObserver;

impl Observer for NullObserver {}

/// Several observers fed in turn; the run stops when any of them asks to.
#[derive(Default)]
pub struct Fanout<'o>(pub Vec<&'o mut dyn Observer>);

impl Observer for Fanout<'_> {
    fn start(&mut self, info: &StartInfo) {
        self.0.iter_mut().for_each(|o| o.start(info));
    }

    fn next_stage(&mut self, stage: &super::Stage, k_tot: usize) {
        self.0.iter_mut().for_each(|o| o.next_stage(stage, k_tot));
    }

    fn iteration(&mut self, it: &Iteration<'_>) -> bool {
        // Every observer sees the iteration, even after one has asked to stop.
        let mut go_on = true;
        for o in &mut self.0 {
            go_on &= o.iteration(it);
        }
        go_on
    }
}

/// One recorded point of a [`TraceRecorder`].
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TracePoint {
    /// The iteration k.
    pub k: usize,
    /// Mean L(θ_k) over the chains.
    pub mean_loss: f64,
    /// Mean 4/σ²-scaled excess over the chains (drift-corrected when the run corrects).
    pub mean_excess: f64,
    /// The companion's L(θ̄_k), when the drift is corrected.
    pub companion: Option<f64>,
    /// Standard error of `mean_excess` across the chains (None for one chain).
    #[serde(default)]
    pub excess_stderr: Option<f64>,
}

/// How many points a [`TraceRecorder`] keeps by default: the trace is thinned to about this many.
pub const TRACE_POINTS: usize = 2000;

/// Records the chains' mean loss and mean excess every `stride`-th iteration (and at the last):
/// the recorder's own cadence, as argmin's `ObserverMode::Every`. The default keeps about
/// [`TRACE_POINTS`] points of a run (stride ⌊K_tot/2000⌋, at least 1).
#[derive(Debug, Default, Clone)]
pub struct TraceRecorder {
    /// The points, in iteration order (a resumed run replaces those it repeats).
    pub points: Vec<TracePoint>,
    /// Record every this many iterations (`None`: ⌊K_tot/[`TRACE_POINTS`]⌋, at least 1).
    pub stride: Option<usize>,
    /// The run's K_tot (known at start: its last iteration is always recorded).
    k_tot: usize,
}

impl TraceRecorder {
    /// A recorder that keeps every `stride`-th iteration (1: all of them).
    pub fn every(stride: usize) -> Self {
        Self { stride: Some(stride.max(1)), ..Self::default() }
    }

    /// Whether iteration `k` (counted from 0, as [`Iteration::k`]) is recorded: every stride-th
    /// from the first, and the last.
    pub fn records(&self, k: usize) -> bool {
        let stride = self.stride.unwrap_or((self.k_tot / TRACE_POINTS).max(1));
        k.is_multiple_of(stride) || k + 1 == self.k_tot
    }
}

impl Observer for TraceRecorder {
    fn start(&mut self, info: &StartInfo) {
        self.k_tot = info.k_tot;
    }

    /// The run now goes to `k_tot`: with the default stride, the points kept so far are thinned
    /// to the new one, so a run of any length keeps about [`TRACE_POINTS`].
    fn next_stage(&mut self, _stage: &super::Stage, k_tot: usize) {
        let last = self.points.last().map(|p| p.k);
        self.k_tot = k_tot;
        if self.stride.is_none() {
            let stride = (k_tot / TRACE_POINTS).max(1);
            self.points.retain(|p| p.k.is_multiple_of(stride) || Some(p.k) == last);
        }
    }

    fn iteration(&mut self, it: &Iteration<'_>) -> bool {
        if !self.records(it.k) {
            return true;
        }
        let n = it.losses.len() as f64;
        while self.points.last().is_some_and(|p| p.k >= it.k) {
            self.points.pop();
        }
        let mean_excess = it.excess.iter().sum::<f64>() / n;
        let excess_stderr = (it.excess.len() >= 2).then(|| {
            let var = it.excess.iter().map(|x| (x - mean_excess).powi(2)).sum::<f64>() / (n - 1.0);
            (var / n).sqrt()
        });
        self.points.push(TracePoint {
            k: it.k,
            mean_loss: it.losses.iter().sum::<f64>() / n,
            mean_excess,
            companion: it.companion,
            excess_stderr,
        });
        true
    }
}
