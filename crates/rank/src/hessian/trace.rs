//! Hutchinson's trace estimator (Rademacher probes) and stochastic Lanczos quadrature (SLQ) for the
//! spectral density, as PyHessian computes them.

use super::lanczos::lanczos;
use hessrank_core::LinearOperator;
use hessrank_core::noise::SeededNoise;
use rand::RngExt;
use serde::{Deserialize, Serialize};

/// A trace estimate.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TraceEstimate {
    /// Mean of vᵀAv over the probes.
    pub trace: f64,
    /// Its standard error.
    pub stderr: f64,
    /// Probes = matrix-vector products.
    pub matvecs: usize,
    /// Seed of the probes.
    pub seed: u64,
}

/// Hutchinson: tr A ≈ mean of vᵀAv with Rademacher v (E[vvᵀ] = I).
pub fn hutchinson(op: &dyn LinearOperator, probes: usize, seed: u64) -> TraceEstimate {
    let n = op.dim();
    let mut noise = SeededNoise::new(seed, 0);
    let mut av = vec![0.0; n];
    let samples: Vec<f64> = (0..probes.max(2))
        .map(|_| {
            let v: Vec<f64> = (0..n).map(|_| if noise.rng().random::<bool>() { 1.0 } else { -1.0 }).collect();
            op.matvec(&v, &mut av);
            v.iter().zip(&av).map(|(a, b)| a * b).sum()
        })
        .collect();
    let m = samples.len() as f64;
    let mean = samples.iter().sum::<f64>() / m;
    let var = samples.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (m - 1.0);
    TraceEstimate { trace: mean, stderr: (var / m).sqrt(), matvecs: samples.len(), seed }
}

/// A spectral density from SLQ: quadrature nodes and weights, and a Gaussian-smoothed curve.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SpectralDensity {
    /// Ritz values of every probe.
    pub nodes: Vec<f64>,
    /// Their weights (each probe's weights sum to 1/probes).
    pub weights: Vec<f64>,
    /// Grid of the smoothed density.
    pub grid: Vec<f64>,
    /// Smoothed density on the grid (integrates to ≈ 1 over a grid covering the nodes).
    pub density: Vec<f64>,
    /// Matrix-vector products.
    pub matvecs: usize,
    /// Seed of the probes.
    pub seed: u64,
}

/// SLQ with `probes` Rademacher starts and `steps` Lanczos steps each; the density is smoothed with
/// Gaussians of width `sigma` (relative to the spectral range) on `grid_points` points.
pub fn slq_density(
    op: &dyn LinearOperator,
    probes: usize,
    steps: usize,
    sigma: f64,
    grid_points: usize,
    seed: u64,
) -> SpectralDensity {
    let n = op.dim();
    let mut noise = SeededNoise::new(seed, 1);
    let (mut nodes, mut weights, mut matvecs) = (Vec::new(), Vec::new(), 0);
    for _ in 0..probes.max(1) {
        let v: Vec<f64> = (0..n).map(|_| if noise.rng().random::<bool>() { 1.0 } else { -1.0 }).collect();
        let (t, _) = lanczos(op, &v, steps);
        matvecs += t.alpha.len();
        let (values, vectors) = t.eigen();
        for i in 0..values.len() {
            nodes.push(values[i]);
            weights.push(vectors[(0, i)].powi(2) / probes.max(1) as f64);
        }
    }
    let lo = nodes.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = nodes.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let range = (hi - lo).max(1e-12);
    let width = sigma * range;
    let (g_lo, g_hi) = (lo - 5.0 * width, hi + 5.0 * width);
    let points = grid_points.max(2);
    let grid: Vec<f64> = (0..points).map(|i| g_lo + (g_hi - g_lo) * i as f64 / (points - 1) as f64).collect();
    let norm = 1.0 / (width * (2.0 * std::f64::consts::PI).sqrt());
    let density = grid
        .iter()
        .map(|&x| {
            nodes.iter().zip(&weights).map(|(&t, &w)| w * norm * (-(x - t).powi(2) / (2.0 * width * width)).exp()).sum()
        })
        .collect();
    SpectralDensity { nodes, weights, grid, density, matvecs, seed }
}
