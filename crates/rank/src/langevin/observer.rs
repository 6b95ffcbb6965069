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
}

/// Receives the run's progress.
pub trait Observer {
    /// Called once before the first recorded iteration.
    fn start(&mut self, _info: &StartInfo) {}
    /// Called at recorded iterations. Return `false` to stop the run early: the result is then
    /// marked partial.
    fn iteration(&mut self, _it: &Iteration<'_>) -> bool {
        true
    }
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

/// Records the chains' mean loss and mean excess at every recorded iteration.
#[derive(Debug, Default, Clone)]
pub struct TraceRecorder {
    /// The points, in iteration order (a resumed run replaces those it repeats).
    pub points: Vec<TracePoint>,
}

impl Observer for TraceRecorder {
    fn iteration(&mut self, it: &Iteration<'_>) -> bool {
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
