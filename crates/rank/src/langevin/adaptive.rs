//! Run until the answer is trustworthy: the chains run in stages that double the run, each stage's
//! estimate is taken over its last half (the first half is burn-in), and the run stops at a
//! plateau, at the resolution asked for, or at its budget, saying which.
//!
//! # The schedule
//! Stage s runs to K_s = K₀·2ˢ and averages over [K_s/2, K_s): exactly the iterations the stage
//! itself added, so the chains, their noise and their traces carry on from stage to stage and no
//! gradient is wasted. Its estimate counts the modes of G^½HG^½ above μ_K = 1/(2ηK_s).
//!
//! # When it stops ([`AdaptiveLength::decide`])
//! - **Plateau**: the last doubling changed the estimate by less than 2 of its standard errors and
//!   by less than `precision` of its value, and its 95 % half-width is within `precision` of it.
//!   Doubling K halves μ_K; an estimate that no longer moves has found a gap in the spectrum, and
//!   is the rank above it. A doubling that no longer moves the estimate while its interval is still
//!   wider than `precision` runs on to narrow it: a single small change is also what a gap-free
//!   spectrum gives now and then by chance (on log-uniform eigenvalues, about one run in ten at
//!   1 %), and only the narrow interval rules that out. If the budget comes first, the run says so.
//! - **Resolved**: the user's μ* is met, 1/(2ηk) ≤ μ*/10 over the whole window (k = K_s/2): every
//!   mode above μ* has equilibrated.
//! - **Budget**: the next stage would pass `max_iters`, or (at the time per iteration so far)
//!   `max_time_s`. There is no plateau then: the estimate is the count of modes above μ_K, and the
//!   report says how much the last doubling added.
//!
//! # Why stages, not chains
//! The interval's precision could also be bought with more chains. On the run's cost model a
//! doubling costs C·K gradients and halves the variance of the estimate (its window doubles);
//! C new chains cost 2·C·K (the K of burn-in the others had, then the window) for the same
//! halving. The stage is always the cheaper, so the run adds stages.

use serde::{Deserialize, Serialize};

/// The settings of an adaptive run length (`--iters auto`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AdaptiveLength {
    /// The first stage's length K₀ (≥ 8).
    pub first: usize,
    /// The plateau's relative tolerance and the interval's target half-width, relative to the
    /// estimate (0.01: 1 %).
    pub precision: f64,
    /// Stop once every mode above this μ* has equilibrated.
    pub resolve: Option<f64>,
    /// The longest run: no stage passes it.
    pub max_iters: usize,
    /// The most seconds: no stage starts that would pass it at the time per iteration so far.
    pub max_time_s: Option<f64>,
}

impl Default for AdaptiveLength {
    fn default() -> Self {
        Self { first: 1000, precision: 0.01, resolve: None, max_iters: 256_000, max_time_s: None }
    }
}

/// One finished stage.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Stage {
    /// K_s: the stage ran to this iteration and averaged over its last half.
    pub k_tot: usize,
    /// The stage's estimate.
    pub estimate: f64,
    /// Its standard error.
    pub stderr: f64,
    /// Its 95 % half-width.
    pub half_width: f64,
    /// μ_K = 1/(2ηK_s): the estimate counts the modes of G^½HG^½ above it.
    pub threshold: f64,
    /// Seconds spent when it finished.
    pub elapsed_s: f64,
}

/// Why an adaptive run stopped.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Stop {
    /// The last doubling no longer moved the estimate: a gap in the spectrum.
    Plateau,
    /// Every mode above μ* has equilibrated.
    Resolved {
        /// μ*.
        mu: f64,
    },
    /// The next stage would pass `max_iters`.
    MaxIters,
    /// The next stage would pass `max_time_s`.
    MaxTime,
}

/// What an adaptive run did: its stages and why it stopped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdaptiveReport {
    /// Every finished stage, in order.
    pub stages: Vec<Stage>,
    /// Why it stopped.
    pub stop: Stop,
    /// The precision asked for (relative to the estimate).
    pub precision: f64,
}

impl AdaptiveReport {
    /// Whether a plateau was found (otherwise the estimate counts the modes above μ_K only).
    pub fn found_plateau(&self) -> bool {
        self.stop == Stop::Plateau
    }

    /// Whether the last doubling moved the estimate by less than 2 of its standard errors and less
    /// than the precision (a plateau but for the interval's width).
    pub fn nearly_flat(&self) -> bool {
        match self.stages.as_slice() {
            [.., a, b] => {
                let change = (b.estimate - a.estimate).abs();
                change < 2.0 * b.stderr && change < self.precision * b.estimate.abs()
            }
            _ => false,
        }
    }

    /// What the last doubling added to the estimate (None after one stage).
    pub fn last_change(&self) -> Option<f64> {
        match self.stages.as_slice() {
            [.., a, b] => Some(b.estimate - a.estimate),
            _ => None,
        }
    }
}

impl std::fmt::Display for AdaptiveReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Some(last) = self.stages.last() else { return write!(f, "no stage finished") };
        let change = self.last_change().map(|d| format!("{d:+.1}")).unwrap_or_else(|| "n/a".into());
        let (k, mu, n) = (last.k_tot, last.threshold, self.stages.len());
        match self.stop {
            Stop::Plateau => write!(
                f,
                "plateau after {n} stages (K = {k}): the last doubling moved the estimate by {change}, within \
                 2 SE and the precision; the spectrum has a gap and the estimate is the rank above it \
                 (μ_K = {mu:.3e})"
            ),
            Stop::Resolved { mu: target } => write!(
                f,
                "resolved after {n} stages (K = {k}): every mode above μ* = {target:.3e} has equilibrated \
                 (μ_K = {mu:.3e}); the last doubling moved the estimate by {change}"
            ),
            Stop::MaxIters | Stop::MaxTime => {
                let budget = if self.stop == Stop::MaxIters { "iteration budget" } else { "time budget" };
                if self.nearly_flat() {
                    write!(
                        f,
                        "no plateau established: stopped at the {budget} after {n} stages (K = {k}); the last \
                         doubling moved the estimate by only {change}, within 2 SE and the {} % asked, but its 95 % \
                         interval ±{:.2} is wider than that, and one small change also happens by chance without a \
                         gap (more chains or a longer budget decide it); the estimate counts the modes above \
                         μ_K = {mu:.3e}",
                        100.0 * self.precision,
                        last.half_width
                    )
                } else {
                    write!(
                        f,
                        "no plateau: stopped at the {budget} after {n} stages (K = {k}); the estimate counts the \
                         modes above μ_K = {mu:.3e} and the last doubling added {change} (threshold.svg draws the \
                         count against μ)"
                    )
                }
            }
        }
    }
}

impl AdaptiveLength {
    /// Checks the settings, naming the first bad one.
    pub fn validate(&self) -> hessrank_core::Result<()> {
        use hessrank_core::Error;
        if self.first < 8 {
            return Err(Error::config("first stage", self.first, "≥ 8 iterations"));
        }
        if !(self.precision.is_finite() && self.precision > 0.0) {
            return Err(Error::config("precision", self.precision, "a finite number > 0"));
        }
        if let Some(mu) = self.resolve.filter(|m| !(m.is_finite() && *m > 0.0)) {
            return Err(Error::config("resolve", mu, "a finite μ* > 0"));
        }
        if self.max_iters < self.first {
            return Err(Error::config("max_iters", self.max_iters, format!("≥ the first stage, {}", self.first)));
        }
        if let Some(t) = self.max_time_s.filter(|t| !(t.is_finite() && *t > 0.0)) {
            return Err(Error::config("max_time", t, "a finite number of seconds > 0"));
        }
        Ok(())
    }

    /// Whether the run stops after `stages` (the last just finished) with step `eta`: the module's
    /// rules, in order plateau, resolved, budget.
    pub fn decide(&self, stages: &[Stage], eta: f64) -> Option<Stop> {
        let last = stages.last()?;
        let tol = self.precision * last.estimate.abs();
        let flat = match stages {
            [.., previous, _] => {
                let change = (last.estimate - previous.estimate).abs();
                change < 2.0 * last.stderr && change < tol
            }
            _ => false,
        };
        if flat && last.half_width <= tol {
            return Some(Stop::Plateau);
        }
        if let Some(mu) = self.resolve
            && 1.0 / (eta * last.k_tot as f64) <= mu / 10.0
        {
            return Some(Stop::Resolved { mu });
        }
        let next = last.k_tot * 2;
        if next > self.max_iters {
            Some(Stop::MaxIters)
        } else {
            self.max_time_s.filter(|max| last.elapsed_s * next as f64 / last.k_tot as f64 > *max).map(|_| Stop::MaxTime)
        }
    }
}
