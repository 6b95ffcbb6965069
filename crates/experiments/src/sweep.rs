//! The σ² sweep's rows and the verdicts of the like-for-like check: the real and frozen estimates,
//! their paired difference and the theory at each σ², shared by the DnCNN experiment and
//! `estimate`.

use hessrank_rank::RankEstimate;
use hessrank_rank::validation::{PairedDifference, agrees_within};
use serde::Serialize;

/// An estimate and its standard error.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Value {
    /// The estimate.
    pub estimate: f64,
    /// Its standard error.
    pub stderr: f64,
}

/// One σ² of a sweep.
#[derive(Debug, Clone, Serialize)]
pub struct SweepRow {
    /// σ².
    pub sigma2: f64,
    /// Algorithm 1 on the real loss.
    pub real: Value,
    /// The same chains on the frozen-activation objective (where the model has one).
    pub frozen: Option<Value>,
    /// real − frozen, paired.
    pub relu_excess: Option<PairedDifference>,
    /// The discrete theory's expected estimate on the exact spectrum (where it is known).
    pub theory: Option<f64>,
}

impl SweepRow {
    /// The row of a real estimate, with its frozen partner and the theory when known.
    pub fn of(real: &RankEstimate, frozen: Option<(&RankEstimate, &PairedDifference)>, theory: Option<f64>) -> Self {
        Self {
            sigma2: real.config.sigma2,
            real: Value { estimate: real.uncertainty.estimate, stderr: real.uncertainty.stderr },
            frozen: frozen.map(|(f, _)| Value { estimate: f.uncertainty.estimate, stderr: f.uncertainty.stderr }),
            relu_excess: frozen.map(|(_, d)| d.clone()),
            theory,
        }
    }
}

/// The like-for-like check: the frozen chains' estimate against the discrete theory on the exact
/// spectrum, in standard errors, and whether it lies within [`FROZEN_Z`] of it.
pub struct FrozenCheck {
    /// (frozen − theory) / SE.
    pub z: f64,
    /// |z| ≤ [`FROZEN_Z`].
    pub agrees: bool,
}

/// Standard errors within which the frozen chains agree with the theory.
pub const FROZEN_Z: f64 = 2.5;

impl FrozenCheck {
    /// The check of a frozen `estimate` ± `stderr` against `theory`.
    pub fn of(estimate: f64, stderr: f64, theory: f64) -> Self {
        Self { z: (estimate - theory) / stderr, agrees: agrees_within(estimate, stderr, theory, FROZEN_Z) }
    }

    /// The verdict in words.
    pub fn verdict(&self) -> &'static str {
        if self.agrees { "agrees (the estimator is right on this Hessian)" } else { "DISAGREES beyond 2.5 SE" }
    }
}

/// Standard errors beyond which the ReLU excess is read as a sign, not noise.
const EXCESS_Z: f64 = 3.0;

/// What a paired ReLU excess (real − frozen) says, by its sign. Positive: units at their kink act
/// as convex hinges, so the real loss rises faster than its Hessian predicts (the DnCNN). Negative:
/// crossing kinks lowers the loss, so θ₀ sits on the edge of its activation pattern's region rather
/// than at a minimum of the real loss, and the dynamics drift to lower loss (the MLP classifier).
pub fn relu_excess_meaning(d: &PairedDifference) -> &'static str {
    if d.value > EXCESS_Z * d.stderr {
        "loss from units at their kink, which the Hessian does not see"
    } else if d.value < -EXCESS_Z * d.stderr {
        "crossing ReLU kinks LOWERS the loss: θ₀ is on the edge of its activation pattern's region, \
         not at a minimum of the real loss, so the real estimate assumes what is not there"
    } else {
        "within 3 SE of 0: no loss beyond the Hessian's is resolved at this σ² and length"
    }
}
