//! The result of Algorithm 1 and its statistics, computed from the per-iteration excess-loss
//! traces of the averaging window as the MCMC world does:
//! - C ≥ 2 chains: the pooled mean, the between-chain standard error s/√C and a Student-t(C − 1)
//!   95 % interval (the chains are independent, so this needs no model of the autocorrelation);
//! - one chain: the autocorrelation-aware standard error of its mean (Geyer's initial monotone
//!   sequence, [`super::diagnostics::mean_stderr`]) and a normal 95 % interval;
//! - always: rank-normalised split-R̂ and bulk ESS of the traces. When R̂ > [`R_HAT_MAX`] or
//!   ESS < [`ESS_MIN`], C ≥ 2 chains get the "still rising" note (the loss is not stationary, so
//!   the estimate counts the modes above μ_K; the interval, over independent replicates of this
//!   run length, still holds) and one chain the warning that its interval needs stationarity.

use super::LangevinConfig;
use super::diagnostics::{ess_bulk, mean_stderr, split_r_hat};
use super::warning::Warning;
use serde::{Deserialize, Serialize};

/// R̂ above this means the chains' window is not stationary (Vehtari et al. 2021's threshold).
pub const R_HAT_MAX: f64 = 1.01;
/// Bulk ESS below this means the same; for one chain it makes the standard error unreliable
/// (Vehtari et al. 2021). With C ≥ 2 chains from θ₀ the between-chain interval stays valid.
pub const ESS_MIN: f64 = 100.0;

/// One chain's numbers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChainSummary {
    /// L(θ_0).
    pub loss0: f64,
    /// Mean loss over the last K_avg iterations.
    pub window_mean: f64,
    /// 4/σ² · the mean excess over the window (drift-corrected when the run corrects).
    pub estimate: f64,
    /// 4/σ² (window mean − L(θ_0)), before drift correction.
    pub estimate_uncorrected: f64,
    /// Autocorrelation-aware standard error of `estimate` from this chain's trace alone.
    pub stderr_within: f64,
}

/// The uncertainty of a pooled estimate.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Uncertainty {
    /// The pooled estimate (mean over chains).
    pub estimate: f64,
    /// Its standard error: between chains for C ≥ 2, within the chain for C = 1.
    pub stderr: f64,
    /// 95 % interval: Student-t(C − 1) for C ≥ 2, normal for C = 1.
    pub ci95: [f64; 2],
    /// s/√C over the chain estimates (None for one chain).
    pub stderr_between_chains: Option<f64>,
    /// √(Σ_c se_c²)/C from each chain's own trace.
    pub stderr_within_chains: f64,
    /// Rank-normalised split-R̂ of the excess-loss traces.
    pub r_hat: f64,
    /// Bulk effective sample size of the traces, all chains together.
    pub ess: f64,
}

impl Uncertainty {
    /// What R̂ and ESS say about `chains` chains of a run with eigenvalue threshold `threshold`
    /// (see [`Warning::of_statistics`]).
    pub fn warnings(&self, chains: usize, threshold: f64) -> Vec<Warning> {
        Warning::of_statistics(self.r_hat, self.ess, chains, threshold)
    }
}

/// The rank estimate with its diagnostics, serialisable with its configuration and seed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RankEstimate {
    /// The estimate r̂ (pooled over chains, drift-corrected if requested), its standard error,
    /// interval, R̂ and ESS (in the JSON, at the top level beside the other fields).
    #[serde(flatten)]
    pub uncertainty: Uncertainty,
    /// The pooled estimate before drift correction.
    pub estimate_uncorrected: f64,
    /// The correction applied, estimate_uncorrected − estimate (None without a companion chain).
    pub drift: Option<f64>,
    /// Per-chain numbers.
    pub chain: Vec<ChainSummary>,
    /// The step η used.
    pub eta: f64,
    /// μ_max of G^½HG^½ from power iteration (when the step was automatic or checked).
    pub mu_max: Option<f64>,
    /// η μ_max (stability needs < 2).
    pub eta_mu_max: Option<f64>,
    /// Modes of G^½HG^½ with μ below 1/(2 η K_tot) have not equilibrated: they are under-counted.
    pub eigenvalue_threshold: f64,
    /// Number of trainable parameters (per chain).
    pub n_params: usize,
    /// SHA-256 of θ₀'s parameters (f64, layout order): identifies the point the chains start from.
    pub theta0_sha256: String,
    /// SHA-256 of the preconditioner G (f64, layout order).
    pub precond_sha256: String,
    /// Gradient evaluations (each over the full batch), including the automatic step's.
    pub grad_evals: usize,
    /// Wall-clock seconds.
    pub wall_s: f64,
    /// Whether the run stopped early (interrupted) and the numbers cover fewer iterations.
    pub partial: bool,
    /// Iterations completed.
    pub iterations: usize,
    /// Warnings raised before or during the run (a fixed η with η μ_max ≥ 2, R̂, ESS).
    pub warnings: Vec<Warning>,
    /// The configuration, seed included (for an adaptive run, `k_tot` and `k_avg` are the last
    /// stage's).
    pub config: LangevinConfig,
    /// The stages of an adaptive run and why it stopped (None for a fixed length).
    #[serde(default)]
    pub adaptive: Option<super::AdaptiveReport>,
    /// The per-iteration excess-loss traces of the window, 4/σ²-scaled, one per chain (what R̂, ESS
    /// and `merge` work on; saved beside the result, not in it).
    #[serde(skip)]
    pub traces: Vec<Vec<f64>>,
}

/// Two-sided 97.5 % quantile of Student's t with `dof` degrees of freedom.
pub(crate) fn t975(dof: usize) -> f64 {
    const TABLE: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
        2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
    ];
    match dof {
        0 => f64::NAN,
        d if d <= 30 => TABLE[d - 1],
        d if d <= 60 => 2.000 + (2.042 - 2.000) * (60 - d) as f64 / 30.0,
        d if d <= 120 => 1.980 + (2.000 - 1.980) * (120 - d) as f64 / 60.0,
        _ => 1.96,
    }
}

/// The statistics of chains whose 4/σ²-scaled excess traces over the window are `traces`.
pub fn uncertainty(traces: &[Vec<f64>]) -> Uncertainty {
    let c = traces.len();
    let est: Vec<f64> = traces.iter().map(|t| t.iter().sum::<f64>() / t.len() as f64).collect();
    let mean = est.iter().sum::<f64>() / c as f64;
    let within: Vec<f64> = traces.iter().map(|t| mean_stderr(t)).collect();
    let stderr_within_chains = within.iter().map(|s| s * s).sum::<f64>().sqrt() / c as f64;
    let between = (c >= 2).then(|| {
        let var = est.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (c - 1) as f64;
        (var / c as f64).sqrt()
    });
    let (stderr, q) = match between {
        Some(s) => (s, t975(c - 1)),
        None => (stderr_within_chains, 1.96),
    };
    let refs: Vec<&[f64]> = traces.iter().map(Vec::as_slice).collect();
    let r_hat = split_r_hat(&refs);
    let ess = ess_bulk(&refs);
    Uncertainty {
        estimate: mean,
        stderr,
        ci95: [mean - q * stderr, mean + q * stderr],
        stderr_between_chains: between,
        stderr_within_chains,
        r_hat,
        ess,
    }
}

impl RankEstimate {
    /// Replaces the statistics with those of `chain` and `traces` (after pooling runs).
    pub(crate) fn set_chains(&mut self, chain: Vec<ChainSummary>, traces: Vec<Vec<f64>>) {
        let u = uncertainty(&traces);
        let uncorrected = chain.iter().map(|c| c.estimate_uncorrected).sum::<f64>() / chain.len() as f64;
        self.warnings.retain(|w| !w.is_statistical());
        self.warnings.extend(u.warnings(chain.len(), self.eigenvalue_threshold));
        self.estimate_uncorrected = uncorrected;
        self.drift = self.config.drift.uses_companion().then_some(uncorrected - u.estimate);
        self.uncertainty = u;
        self.chain = chain;
        self.traces = traces;
    }
}

/// One line: the estimate, its 95 % interval, R̂ and ESS over the chains, and the eigenvalue
/// threshold below which modes had no time to equilibrate (they are not counted).
impl std::fmt::Display for RankEstimate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let u = &self.uncertainty;
        write!(
            f,
            "rank {:.1} ± {:.1} (95 % CI {:.1}–{:.1}; {} chain{}, R̂ {:.3}, ESS {:.0}; counts eigenvalues of G^½HG^½ \
             above {:.2e}){}",
            u.estimate,
            u.stderr,
            u.ci95[0],
            u.ci95[1],
            self.chain.len(),
            if self.chain.len() == 1 { "" } else { "s" },
            u.r_hat,
            u.ess,
            self.eigenvalue_threshold,
            if self.partial { " PARTIAL: interrupted" } else { "" }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pooled_interval_uses_the_spread_across_chains_and_student_t() {
        // Three chains with means 9, 10, 11 (each trace is its mean plus a zero-mean wiggle).
        let traces: Vec<Vec<f64>> = [9.0, 10.0, 11.0]
            .iter()
            .map(|m| (0..400).map(|i| m + if i % 2 == 0 { 0.5 } else { -0.5 }).collect())
            .collect();
        let u = uncertainty(&traces);
        assert!((u.estimate - 10.0).abs() < 1e-12);
        assert!((u.stderr - (1.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert_eq!(u.stderr_between_chains, Some(u.stderr));
        assert!((u.ci95[1] - 10.0 - 4.303 * u.stderr).abs() < 1e-12);
        // Chains centred apart by far more than their spread have not mixed.
        assert!(u.r_hat > 1.5, "{u:?}");
        assert_eq!(u.warnings(3, 1e-3), vec![Warning::StillRising { r_hat: u.r_hat, ess: u.ess, threshold: 1e-3 }]);
        assert_eq!(u.warnings(1, 1e-3), vec![Warning::NotStationary { r_hat: u.r_hat, ess: u.ess }]);
    }
}
