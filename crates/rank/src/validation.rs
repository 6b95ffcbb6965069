//! Like-for-like checks of an estimate: the paired difference of two runs that share every noise
//! draw (the real loss against its frozen-activation quadratic model), and the rank at every
//! eigenvalue threshold, r(k) against μ = 1/(2ηk), beside the exact count and the theory.
//!
//! # Why pair
//! Two runs with the same θ₀, G, η, σ², K and seed draw the same noise ξ_k for chain c. Their
//! per-chain estimates are then strongly correlated, and the difference real − frozen has a far
//! smaller spread than either: it isolates what the loss does beyond its Hessian (on ReLU networks,
//! units at their kink act as convex hinges that the Hessian does not see).
//!
//! # The threshold curve
//! After k steps, a mode of G^½HG^½ with eigenvalue μ has relaxed by 1 − (1 − ημ)^{2k} ≈
//! 1 − e^{−2ημk}: modes well above μ_k = 1/(2ηk) count fully, modes well below hardly at all. So the
//! scaled excess loss r(k) = 4/σ² (L(θ_k) − L(θ₀)) is a soft count of the eigenvalues above μ_k, and
//! reading it against μ_k gives the "effective rank" at every threshold.

use crate::langevin::{RankEstimate, TracePoint, uncertainty};
use crate::theory::DiscreteTheory;
use hessrank_core::{Error, Result};
use serde::{Deserialize, Serialize};

/// The paired difference of two runs' estimates, chain by chain.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PairedDifference {
    /// Mean over chains of (a_c − b_c).
    pub value: f64,
    /// Its standard error, by [`uncertainty`] on the per-iteration difference traces: s/√C of the
    /// per-chain differences for C ≥ 2, Geyer's for one chain.
    pub stderr: f64,
    /// 95 % interval (Student-t(C − 1) for C ≥ 2, normal for one chain).
    pub ci95: [f64; 2],
    /// Chains paired.
    pub chains: usize,
}

/// a − b, chain by chain, for two runs that differ only in their objective (same noise draws).
///
/// Errors when the runs have different chain counts or other Langevin settings (η, σ², K, seed,
/// scheme, drift, first chain): they would not be paired.
pub fn paired_difference(a: &RankEstimate, b: &RankEstimate) -> Result<PairedDifference> {
    // The same settings and length (an adaptive run pairs with a fixed one of its final length).
    let ca = serde_json::to_value(a.config.clone().with_adaptive(None)).ok();
    let cb = serde_json::to_value(b.config.clone().with_adaptive(None)).ok();
    if a.chain.len() != b.chain.len() || ca != cb || a.eta != b.eta {
        return Err(Error::config(
            "paired runs",
            format!("{} vs {} chains, η {} vs {}", a.chain.len(), b.chain.len(), a.eta, b.eta),
            "two runs with the same chains, η, σ², K, seed, scheme and drift correction",
        ));
    }
    // The per-iteration differences of the window traces: each chain's mean is a_c − b_c, so the
    // shared statistics (between-chain Student-t for C ≥ 2, Geyer within one chain) apply as is.
    if a.traces.len() != a.chain.len() || b.traces.len() != b.chain.len() {
        return Err(Error::config(
            "paired runs",
            format!("{} and {} window traces for {} chains", a.traces.len(), b.traces.len(), a.chain.len()),
            "the runs' window traces (a result read back from result.json has none)",
        ));
    }
    let diff: Vec<Vec<f64>> =
        a.traces.iter().zip(&b.traces).map(|(x, y)| x.iter().zip(y).map(|(p, q)| p - q).collect()).collect();
    let u = uncertainty(&diff);
    Ok(PairedDifference { value: u.estimate, stderr: u.stderr, ci95: u.ci95, chains: a.chain.len() })
}

/// Whether `value` agrees with `expected` within `z` standard errors.
pub fn agrees_within(value: f64, stderr: f64, expected: f64, z: f64) -> bool {
    (value - expected).abs() <= z * stderr
}

/// One point of the rank-at-every-threshold curve.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct ThresholdPoint {
    /// The iteration k.
    pub k: usize,
    /// Its effective eigenvalue threshold μ_k = 1/(2ηk).
    pub threshold: f64,
    /// r(k): the chain-averaged 4/σ²-scaled excess loss at k (drift-corrected when the run was).
    pub estimate: f64,
    /// Its standard error across chains (None for one chain).
    pub stderr: Option<f64>,
    /// The exact number of eigenvalues of G^½HG^½ above μ_k, when the spectrum is known.
    pub exact_count: Option<usize>,
    /// The discrete theory's expectation of r(k) on that spectrum.
    pub theory: Option<f64>,
}

/// r(k) against μ_k = 1/(2ηk) from a recorded trace (k = 0 is skipped: its threshold is infinite);
/// with `mu` (the eigenvalues of G^½HG^½) and `theory`, also the exact count and the expected r(k).
pub fn threshold_curve(
    trace: &[TracePoint],
    eta: f64,
    mu: Option<&[f64]>,
    theory: Option<&DiscreteTheory>,
) -> Vec<ThresholdPoint> {
    trace
        .iter()
        .filter(|p| p.k > 0)
        .map(|p| {
            let threshold = 1.0 / (2.0 * eta * p.k as f64);
            ThresholdPoint {
                k: p.k,
                threshold,
                estimate: p.mean_excess,
                stderr: p.excess_stderr,
                exact_count: mu.map(|m| m.iter().filter(|&&x| x > threshold).count()),
                theory: theory.map(|t| 4.0 / t.sigma2 * t.expected_loss(p.k)),
            }
        })
        .collect()
}

/// At most about `points` of `curve`, evenly spaced in log k (the first and last kept): a curve
/// small enough for a result file, with the same shape on the log-threshold axis.
pub fn thin_log(curve: &[ThresholdPoint], points: usize) -> Vec<ThresholdPoint> {
    let (Some(first), Some(last)) = (curve.first(), curve.last()) else { return Vec::new() };
    if curve.len() <= points.max(2) {
        return curve.to_vec();
    }
    let (lo, hi) = ((first.k as f64).ln(), (last.k as f64).ln());
    let mut out: Vec<ThresholdPoint> = Vec::with_capacity(points);
    let mut next = 0usize;
    for (i, p) in curve.iter().enumerate() {
        let level = ((p.k as f64).ln() - lo) / (hi - lo).max(f64::MIN_POSITIVE) * (points - 1) as f64;
        if level >= next as f64 || i + 1 == curve.len() {
            out.push(*p);
            next = level.floor() as usize + 1;
        }
    }
    out
}

/// How far the chains moved along one scale-invariant group of parameters, e.g. one output channel
/// of a convolution that feeds BatchNorm. The loss is flat along such a scale, so the noise
/// random-walks it outward (E‖w‖² grows by about fan-in · ησ²G per step) while a noise-free step,
/// orthogonal to w, leaves it unchanged; the curvature of the group falls as 1/ratio², so the
/// spectrum at θ₀ over-predicts how fast its modes equilibrate.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScaleDrift {
    /// The group, e.g. `mid.0.conv.weight[3]` (output channel 3).
    pub group: String,
    /// ‖w‖ at θ₀.
    pub norm0: f64,
    /// ‖w‖ / ‖w₀‖ of each chain.
    pub ratios: Vec<f64>,
}

impl ScaleDrift {
    /// The largest ratio over the chains.
    pub fn max_ratio(&self) -> f64 {
        self.ratios.iter().copied().fold(f64::NAN, f64::max)
    }
}

/// The [`ScaleDrift`] of each `(name, index range)` group of the flattened parameters, from θ₀ to
/// each chain's `chains[c]`.
pub fn scale_drift(theta0: &[f64], chains: &[&[f64]], groups: &[(String, std::ops::Range<usize>)]) -> Vec<ScaleDrift> {
    let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
    groups
        .iter()
        .map(|(group, range)| {
            let norm0 = norm(&theta0[range.clone()]);
            let ratios = chains.iter().map(|c| norm(&c[range.clone()]) / norm0).collect();
            ScaleDrift { group: group.clone(), norm0, ratios }
        })
        .collect()
}
