//! Observers: where the loss traces go (progress bars, CSV writers). The algorithm never prints.

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
    /// Called once before the first iteration.
    fn start(&mut self, _info: &StartInfo) {}
    /// Called at recorded iterations with L(θ_k) of every chain (and of the drift chain, if any).
    /// Return `false` to stop the run early: the result is then marked partial.
    fn iteration(&mut self, _k: usize, _losses: &[f64], _drift: Option<f64>) -> bool {
        true
    }
}

/// An observer that ignores everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct NullObserver;

impl Observer for NullObserver {}
