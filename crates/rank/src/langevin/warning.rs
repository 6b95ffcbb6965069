//! What a run warns about, typed: each variant carries its numbers, and its text (`Display`) says
//! what it means and what to do.

use super::estimate::{ESS_MIN, R_HAT_MAX};

/// A plain run whose scale-invariant groups are predicted to grow past this ratio of their θ₀ norm
/// is warned before it starts.
pub const SCALE_DRIFT_AHEAD: f64 = 1.25;

use serde::{Deserialize, Serialize};

/// A warning about a run's settings or its statistics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Warning {
    /// A fixed step with η μ_max ≥ 2: the dynamics are unstable along the stiffest mode.
    UnstableStep {
        /// The step η.
        eta: f64,
        /// μ_max of G^½HG^½ from power iteration.
        mu_max: f64,
    },
    /// A note, not a fault: with C ≥ 2 independent chains started at θ₀, R̂ > [`R_HAT_MAX`] or
    /// bulk ESS < [`ESS_MIN`] says the loss has not become stationary: modes of G^½HG^½ near
    /// μ_K = 1/(2ηK_tot) are partly equilibrated, so the estimate counts the modes above μ_K and
    /// grows with K. The between-chain interval still covers the expectation of this run length at
    /// its stated rate (the chains are independent replicates of it).
    StillRising {
        /// The split-R̂.
        r_hat: f64,
        /// The bulk ESS.
        ess: f64,
        /// μ_K = 1/(2ηK_tot), the eigenvalue threshold of the count.
        threshold: f64,
    },
    /// The plain dynamics (`--symmetry off`) on a loss with scale-invariant groups, whose norms are
    /// predicted to grow past [`SCALE_DRIFT_AHEAD`] over the run (E‖w_K‖² = ‖w₀‖² + Kησ² Σ_{i∈w} Gᵢ,
    /// [`crate::symmetry::predicted_norm_growth`]): the modes around them will relax ever more
    /// slowly and be under-counted. Raised before the run.
    ScaleDriftAhead {
        /// How many groups pass the limit.
        groups: usize,
        /// The group predicted to drift most.
        worst: String,
        /// Its predicted ‖w_K‖/‖w₀‖.
        ratio: f64,
        /// K_tot.
        k_tot: usize,
    },
    /// One chain: its interval comes from the autocorrelation of its own trace, which assumes the
    /// trace is stationary, and R̂ > [`R_HAT_MAX`] or bulk ESS < [`ESS_MIN`] says it is not.
    NotStationary {
        /// The split-R̂ (of the chain's two halves).
        r_hat: f64,
        /// The bulk ESS.
        ess: f64,
    },
}

impl Warning {
    /// Whether the warning is about the statistics of the chains (recomputed when runs are pooled).
    pub fn is_statistical(&self) -> bool {
        matches!(self, Warning::StillRising { .. } | Warning::NotStationary { .. })
    }

    /// Whether it is a note (what the numbers mean) rather than a fault of the run.
    pub fn is_note(&self) -> bool {
        matches!(self, Warning::StillRising { .. })
    }

    /// What split-R̂ `r_hat` and bulk ESS `ess` of `chains` chains say, for a run whose eigenvalue
    /// threshold is `threshold`: nothing when R̂ ≤ [`R_HAT_MAX`] and ESS ≥ [`ESS_MIN`]; else, with
    /// C ≥ 2, the "still rising" note, and with one chain the stationarity warning.
    pub fn of_statistics(r_hat: f64, ess: f64, chains: usize, threshold: f64) -> Vec<Warning> {
        let stationary = r_hat <= R_HAT_MAX && ess >= ESS_MIN;
        match (stationary, chains) {
            (true, _) => Vec::new(),
            (false, 0 | 1) => vec![Warning::NotStationary { r_hat, ess }],
            (false, _) => vec![Warning::StillRising { r_hat, ess, threshold }],
        }
    }
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Warning::UnstableStep { eta, mu_max } => write!(
                f,
                "η = {eta:.3e} with μ_max ≈ {mu_max:.4e} gives η μ_max = {:.3} ≥ 2: the run will diverge; use η < {:.3e} \
                 (or an automatic step)",
                eta * mu_max,
                2.0 / mu_max
            ),
            Warning::StillRising { r_hat, ess, threshold } => write!(
                f,
                "still rising (R̂ {r_hat:.3}, bulk ESS {ess:.0}): the loss is not yet stationary, so the estimate \
                 counts the modes of G^½HG^½ above μ_K = {threshold:.3e} and grows with K_tot where the spectrum \
                 goes on below it (threshold.svg draws the count against μ); the interval holds for this run length"
            ),
            Warning::ScaleDriftAhead { groups, ref worst, ratio, k_tot } => write!(
                f,
                "without the projection the norms of {groups} scale-invariant groups are predicted to grow past \
                 ×{SCALE_DRIFT_AHEAD} over K_tot = {k_tot} (E‖w_K‖² = ‖w₀‖² + Kησ²ΣG), up to ×{ratio:.2} for {worst}: \
                 the modes around them will relax ever more slowly and be under-counted; run with --symmetry project"
            ),
            Warning::NotStationary { r_hat, ess } => write!(
                f,
                "one chain: its interval assumes a stationary trace, and R̂ {r_hat:.3} / bulk ESS {ess:.0} (< \
                 {ESS_MIN:.0} or R̂ > {R_HAT_MAX}) say it is not; the standard error is unreliable: run 2 or more \
                 chains (their spread needs no stationarity) or more iterations"
            ),
        }
    }
}
