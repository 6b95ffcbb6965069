//! The result of Algorithm 1 and its statistics: per-chain and pooled estimates, standard errors
//! (batch means within chains, spread across chains) and a 95 % interval.

use super::LangevinConfig;
use serde::{Deserialize, Serialize};

/// Number of batches for the batch-means standard error within a chain.
const BATCHES: usize = 20;

/// One chain's numbers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChainSummary {
    /// L(θ_0).
    pub loss0: f64,
    /// Mean loss over the last K_avg iterations.
    pub window_mean: f64,
    /// 4/σ² (window mean − L(θ_0)), before drift correction.
    pub estimate: f64,
    /// Batch-means standard error of `estimate`.
    pub stderr_batch_means: f64,
}

/// The rank estimate with its diagnostics, serialisable with its configuration and seed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RankEstimate {
    /// The estimate r̂ (pooled over chains, drift-corrected if requested).
    pub estimate: f64,
    /// Its standard error (across chains when there are ≥ 2, else batch means).
    pub stderr: f64,
    /// 95 % confidence interval.
    pub ci95: [f64; 2],
    /// Standard error from the spread of the chain estimates (None for one chain).
    pub stderr_between_chains: Option<f64>,
    /// Standard error from batch means within chains.
    pub stderr_batch_means: f64,
    /// The pooled estimate before drift correction.
    pub estimate_uncorrected: f64,
    /// The drift chain's contribution 4/σ² (⟨L_drift⟩ − L(θ_0)), when requested.
    pub drift: Option<f64>,
    /// Per-chain numbers.
    pub chain: Vec<ChainSummary>,
    /// The step η used.
    pub eta: f64,
    /// μ_max of G^½HG^½ from power iteration (when the step was automatic).
    pub mu_max: Option<f64>,
    /// η μ_max (stability needs < 2).
    pub eta_mu_max: Option<f64>,
    /// Modes of G^½HG^½ with μ below 1/(2 η K_tot) have not equilibrated: they are under-counted.
    pub eigenvalue_threshold: f64,
    /// Number of trainable parameters (per chain).
    pub n_params: usize,
    /// Gradient evaluations (each over the full batch), including the automatic step's.
    pub grad_evals: usize,
    /// Wall-clock seconds.
    pub wall_s: f64,
    /// Whether the run stopped early (interrupted) and the numbers cover fewer iterations.
    pub partial: bool,
    /// Iterations completed.
    pub iterations: usize,
    /// Warnings raised before or during the run (e.g. a fixed η with η μ_max ≥ 2).
    pub warnings: Vec<String>,
    /// The configuration, seed included.
    pub config: LangevinConfig,
}

/// Mean and batch-means standard error of the mean of `window`.
pub(crate) fn batch_means(window: &[f64]) -> (f64, f64) {
    let n = window.len();
    let mean = window.iter().sum::<f64>() / n as f64;
    let b = BATCHES.min(n);
    if b < 2 {
        return (mean, f64::NAN);
    }
    let size = n / b;
    let means: Vec<f64> = (0..b).map(|i| window[i * size..(i + 1) * size].iter().sum::<f64>() / size as f64).collect();
    let m = means.iter().sum::<f64>() / b as f64;
    let var = means.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (b - 1) as f64;
    (mean, (var / b as f64).sqrt())
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
        _ => 1.96,
    }
}

/// Pools per-chain estimates: mean, the spread-based standard error, and the interval.
pub(crate) fn pool(chains: &[ChainSummary], offset: f64) -> (f64, f64, Option<f64>, f64, [f64; 2]) {
    let c = chains.len();
    let est: Vec<f64> = chains.iter().map(|s| s.estimate - offset).collect();
    let mean = est.iter().sum::<f64>() / c as f64;
    let se_bm = (chains.iter().map(|s| s.stderr_batch_means.powi(2)).sum::<f64>()).sqrt() / c as f64;
    let between = (c >= 2).then(|| {
        let var = est.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (c - 1) as f64;
        (var / c as f64).sqrt()
    });
    let (se, q) = match between {
        Some(s) => (s, t975(c - 1)),
        None => (se_bm, t975(BATCHES - 1)),
    };
    (mean, se, between, se_bm, [mean - q * se, mean + q * se])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_means_of_iid_data_matches_the_naive_standard_error() {
        // Independent values: the batch-means standard error estimates σ/√n.
        let mut noise = hessrank_core::noise::SeededNoise::new(1, 0);
        let x = noise.normal_vec(20_000);
        let (m, se) = batch_means(&x);
        let naive = 1.0 / (x.len() as f64).sqrt();
        assert!(m.abs() < 4.0 * naive);
        assert!((se / naive - 1.0).abs() < 0.5, "se {se} vs {naive}");
    }

    #[test]
    fn pooled_interval_uses_the_spread_across_chains() {
        let mk = |e| ChainSummary { loss0: 0.0, window_mean: 0.0, estimate: e, stderr_batch_means: 0.1 };
        let (m, se, between, _, ci) = pool(&[mk(9.0), mk(10.0), mk(11.0)], 0.0);
        assert_eq!(m, 10.0);
        assert!((se - (1.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert_eq!(between, Some(se));
        assert!((ci[1] - 10.0 - 4.303 * se).abs() < 1e-12);
    }
}
