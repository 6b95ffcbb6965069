//! The training schedule: three phases, each with its own settings, saved beside every checkpoint.

use burn::config::Config;
use hessrank_core::Error;
use serde::{Deserialize, Serialize};

/// Minibatch SGD with momentum, fresh noise every epoch.
#[derive(Config, Debug)]
pub struct SgdPhase {
    /// Learning rate.
    #[config(default = 0.05)]
    pub lr: f64,
    /// Momentum μ (v ← μv + ∇L; θ ← θ − lr·v).
    #[config(default = 0.9)]
    pub momentum: f64,
    /// Epochs.
    #[config(default = 20)]
    pub epochs: usize,
    /// Minibatch size.
    #[config(default = 32)]
    pub batch_size: usize,
}

/// Full-batch gradient descent on the fixed objective.
#[derive(Config, Debug)]
pub struct GdPhase {
    /// Step size.
    #[config(default = 0.05)]
    pub lr: f64,
    /// Step limit.
    #[config(default = 500)]
    pub max_steps: usize,
    /// Stop when ‖∇L‖ ≤ tol.
    #[config(default = 1e-4)]
    pub tol: f64,
    /// Outer L-BFGS steps (Burn's, strong Wolfe line search, ≤ 20 iterations each) after GD, for
    /// when plain GD stalls at ReLU kinks and BatchNorm's ill-conditioning; 0 disables it.
    #[config(default = 0)]
    pub lbfgs_steps: usize,
}

/// Adam on a copy of θ₀, for its second moment.
#[derive(Config, Debug)]
pub struct AdamPhase {
    /// Learning rate.
    #[config(default = 1e-3)]
    pub lr: f64,
    /// β₁.
    #[config(default = 0.9)]
    pub beta1: f64,
    /// β₂.
    #[config(default = 0.999)]
    pub beta2: f64,
    /// ε, added after the square root (Burn's default 1e-5).
    #[config(default = 1e-5)]
    pub epsilon: f64,
    /// Steps.
    #[config(default = 200)]
    pub steps: usize,
}

/// The scale s of G = s/(√v̂ + ε).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum PrecondScale {
    /// s = 1: Adam's raw preconditioner.
    One,
    /// s = Adam's learning rate: the step Adam itself takes.
    AdamLr,
    /// s chosen so that mean(G) = 1.
    MeanOne,
}

/// The whole schedule.
#[derive(Config, Debug)]
pub struct TrainConfig {
    /// Phase 1.
    pub sgd: SgdPhase,
    /// Phase 2.
    pub gd: GdPhase,
    /// Phase 3.
    pub adam: AdamPhase,
    /// Scale of the preconditioner.
    #[config(default = "PrecondScale::MeanOne")]
    pub precond_scale: PrecondScale,
    /// Write a resumable checkpoint every this many GD/Adam steps (and after every SGD epoch).
    #[config(default = 50)]
    pub checkpoint_every: usize,
}

impl TrainConfig {
    /// The default schedule.
    pub fn standard() -> Self {
        Self::new(SgdPhase::new(), GdPhase::new(), AdamPhase::new())
    }

    /// Checks every field, naming the first bad one.
    pub fn validate(&self) -> hessrank_core::Result<()> {
        let positive = |name: &'static str, v: f64| {
            if v.is_finite() && v > 0.0 { Ok(()) } else { Err(Error::config(name, v, "a finite number > 0")) }
        };
        positive("sgd.lr", self.sgd.lr)?;
        positive("gd.lr", self.gd.lr)?;
        positive("adam.lr", self.adam.lr)?;
        positive("adam.epsilon", self.adam.epsilon)?;
        positive("gd.tol", self.gd.tol)?;
        for (name, b) in
            [("sgd.momentum", self.sgd.momentum), ("adam.beta1", self.adam.beta1), ("adam.beta2", self.adam.beta2)]
        {
            if !(0.0..1.0).contains(&b) {
                return Err(Error::config(name, b, "0 ≤ value < 1"));
            }
        }
        if self.sgd.batch_size == 0 {
            return Err(Error::config("sgd.batch_size", 0, "≥ 1"));
        }
        if self.adam.steps == 0 {
            return Err(Error::config("adam.steps", 0, "≥ 1 (the preconditioner needs a second moment)"));
        }
        if self.checkpoint_every == 0 {
            return Err(Error::config("checkpoint_every", 0, "≥ 1"));
        }
        Ok(())
    }
}
