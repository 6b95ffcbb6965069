//! What a run warns about, typed: each variant carries its numbers, and its text (`Display`) says
//! what it means and what to do.

use super::estimate::{ESS_MIN, R_HAT_MAX};
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
    /// Split-R̂ of the window's traces above [`R_HAT_MAX`].
    RHat {
        /// The split-R̂.
        r_hat: f64,
    },
    /// Bulk ESS of the window's traces below [`ESS_MIN`].
    LowEss {
        /// The bulk ESS.
        ess: f64,
    },
}

impl Warning {
    /// Whether the warning is about the statistics of the chains (recomputed when runs are pooled).
    pub fn is_statistical(&self) -> bool {
        matches!(self, Warning::RHat { .. } | Warning::LowEss { .. })
    }

    /// The statistics' warnings for split-R̂ `r_hat` and bulk ESS `ess`.
    pub fn of_statistics(r_hat: f64, ess: f64) -> Vec<Warning> {
        let mut out = Vec::new();
        if r_hat.is_nan() || r_hat > R_HAT_MAX {
            out.push(Warning::RHat { r_hat });
        }
        if ess.is_nan() || ess < ESS_MIN {
            out.push(Warning::LowEss { ess });
        }
        out
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
            Warning::RHat { r_hat } => write!(
                f,
                "R̂ = {r_hat:.3} > {R_HAT_MAX}: the chains have not mixed over the averaging window; run more \
                 iterations (a longer K_tot and K_avg) or more chains"
            ),
            Warning::LowEss { ess } => write!(
                f,
                "bulk ESS = {ess:.0} < {ESS_MIN:.0}: the standard error is unreliable; run more iterations or more chains"
            ),
        }
    }
}
