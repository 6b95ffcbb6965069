//! The one way to run the dynamics: a builder that sets the observers, the checkpointing and the
//! resume, then drives a [`LangevinRun`] to the end (the executor of the solver/executor split).
//!
//! ```ignore
//! let r = Langevin::new(&config).observe(&mut bar).checkpoint(saving).resume(true).run(&objective, &theta0, &g)?;
//! ```

use super::observer::{Fanout, Observer, StartInfo};
use super::run::LangevinRun;
use super::state::LangevinState;
use super::{LangevinConfig, RankEstimate};
use hessrank_core::atomic::{read_json, write_json_atomic};
use hessrank_core::error::first_difference;
use hessrank_core::{DiagPreconditioner, Error, Objective, Result};
use std::path::PathBuf;

/// Where and how often a run saves its [`LangevinState`].
#[derive(Debug, Clone)]
pub struct Checkpointing {
    /// The state file (JSON, written atomically).
    pub path: PathBuf,
    /// Save every this many iterations (and when the observer stops the run).
    pub every: usize,
}

/// μ_max is measured on the objective itself (the default of [`Langevin`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct SameObjective;

/// What μ_max (for the automatic or checked step) is measured on.
pub trait Curvature<O: Objective> {
    /// A fresh run of `objective` whose step is chosen on this curvature.
    fn start<'a>(
        &self,
        config: &LangevinConfig,
        objective: &'a O,
        theta0: &O::Model,
        precond: &DiagPreconditioner,
    ) -> Result<LangevinRun<'a, O>>;
}

impl<O: Objective> Curvature<O> for SameObjective
where
    O::Model: Clone,
{
    fn start<'a>(
        &self,
        config: &LangevinConfig,
        objective: &'a O,
        theta0: &O::Model,
        precond: &DiagPreconditioner,
    ) -> Result<LangevinRun<'a, O>> {
        LangevinRun::new(config, objective, theta0, precond)
    }
}

impl<O: Objective, C: Objective<Model = O::Model>> Curvature<O> for &C
where
    O::Model: Clone,
{
    fn start<'a>(
        &self,
        config: &LangevinConfig,
        objective: &'a O,
        theta0: &O::Model,
        precond: &DiagPreconditioner,
    ) -> Result<LangevinRun<'a, O>> {
        LangevinRun::with_curvature(config, objective, *self, theta0, precond)
    }
}

/// Algorithm 1, configured step by step and run once.
pub struct Langevin<'o, C = SameObjective> {
    config: LangevinConfig,
    curvature: C,
    observers: Fanout<'o>,
    checkpoint: Option<Checkpointing>,
    resume: bool,
}

impl<'o> Langevin<'o> {
    /// A run with these settings, no observer, no checkpoints.
    pub fn new(config: &LangevinConfig) -> Self {
        Self {
            config: config.clone(),
            curvature: SameObjective,
            observers: Fanout::default(),
            checkpoint: None,
            resume: false,
        }
    }
}

impl<'o, C> Langevin<'o, C> {
    /// Measures μ_max on `curvature`: an objective with the same value, gradient and Hessian at θ₀
    /// that finite differences handle better (for ReLU networks, the frozen activation pattern).
    pub fn curvature<D>(self, curvature: &'o D) -> Langevin<'o, &'o D> {
        Langevin {
            config: self.config,
            curvature,
            observers: self.observers,
            checkpoint: self.checkpoint,
            resume: self.resume,
        }
    }

    /// Adds an observer (all of them see every recorded iteration, in the order added).
    pub fn observe(mut self, observer: &'o mut dyn Observer) -> Self {
        self.observers.0.push(observer);
        self
    }

    /// Saves the state periodically.
    pub fn checkpoint(mut self, checkpointing: Checkpointing) -> Self {
        self.checkpoint = Some(checkpointing);
        self
    }

    /// With `true`, continues from the checkpoint's state file when it exists (its settings must
    /// be this run's).
    pub fn resume(mut self, resume: bool) -> Self {
        self.resume = resume;
        self
    }

    /// Runs Algorithm 1 from `theta0` with preconditioner `precond` (same layout as the model) to
    /// the end, or until an observer stops it (the result is then partial).
    ///
    /// Errors: an invalid configuration, a preconditioner of another layout, a state file of
    /// other settings, or divergence (a non-finite loss, or one above the configured bound),
    /// naming the iteration, the loss and the fix.
    pub fn run<O: Objective>(
        mut self,
        objective: &O,
        theta0: &O::Model,
        precond: &DiagPreconditioner,
    ) -> Result<RankEstimate>
    where
        O::Model: Clone,
        C: Curvature<O>,
    {
        let saved = match &self.checkpoint {
            Some(c) if self.resume && c.path.is_file() => {
                let saved: LangevinState = read_json(&c.path)?;
                let [was, now] = [&saved.config, &self.config].map(|c| serde_json::to_value(c).unwrap_or_default());
                // An adaptive run's K_tot and K_avg are its current stage's, not the settings'.
                let fields: Vec<&str> = LangevinConfig::FIELDS
                    .iter()
                    .copied()
                    .filter(|f| self.config.adaptive.is_none() || !matches!(*f, "k_tot" | "k_avg"))
                    .collect();
                if let Some((field, saved, given)) = first_difference(&was, &now, &fields) {
                    return Err(Error::SettingsMismatch { path: c.path.clone(), field, saved, given });
                }
                Some(saved)
            }
            _ => None,
        };
        let mut run = match saved {
            Some(s) => LangevinRun::restore(s, objective, theta0, precond)?,
            None => self.curvature.start(&self.config, objective, theta0, precond)?,
        };
        let save = |run: &LangevinRun<'_, O>| match &self.checkpoint {
            Some(c) => write_json_atomic(&c.path, &run.snapshot()),
            None => Ok(()),
        };
        let sigma2 = self.config.sigma2;
        let every = self.checkpoint.as_ref().map(|c| c.every.max(1));
        // Observers start at the first iteration this process runs: L(θ_0) is known by then
        // (measured at k = 0, or restored).
        let (eta, mut loss0) = (run.eta(), run.loss0().to_vec());
        let mut setup_warnings = run.warnings().to_vec();
        let mut started = false;
        let observers = &mut self.observers;
        'stages: loop {
            let k_tot = run.config.k_tot;
            while !run.is_done() {
                let k = run.iteration();
                let mut go_on = true;
                run.step_with(|it| {
                    if !started {
                        started = true;
                        if loss0.is_empty() {
                            loss0 = it.losses.to_vec();
                        }
                        let info = StartInfo {
                            chains: it.losses.len(),
                            k_tot,
                            eta,
                            loss0: std::mem::take(&mut loss0),
                            sigma2,
                            warnings: std::mem::take(&mut setup_warnings),
                        };
                        observers.start(&info);
                    }
                    go_on = observers.iteration(it);
                    true
                })?;
                if every.is_some_and(|e| (k + 1).is_multiple_of(e)) {
                    save(&run)?;
                }
                if !go_on {
                    save(&run)?;
                    break 'stages;
                }
            }
            // An adaptive run either stops here or goes on to a stage twice as long.
            match run.next_stage()? {
                Some(stage) => {
                    observers.next_stage(&stage, run.config.k_tot);
                    save(&run)?;
                }
                None => break,
            }
        }
        if run.is_done() {
            save(&run)?;
        }
        run.finish()
    }
}
