//! The numerical rank of Ubaru & Saad (ICML 2016), the paper's "U&S": the trace of a Chebyshev
//! polynomial approximation of the step function on [ε, λ_max], with Jackson damping, by
//! stochastic trace estimation; ε is found at the first gap (local minimum) of the density of
//! states computed by the kernel polynomial method from the same moments.
//!
//! With B = (A − c)/h mapping [a, b] = [0, λ_max] to [−1, 1], every probe v gives the moments
//! μ_k(v) = vᵀ T_k(B) v (three-term recurrence, one product each). Then
//! - density of states: φ(t) = (1/(nπ√(1 − t²))) Σ_k (2 − δ_k0) g_k μ̄_k T_k(t), μ̄ the probe mean;
//! - rank: Σ_k g_k c_k μ̄_k with c_k the Chebyshev coefficients of the indicator of [t_ε, 1]:
//!   c_0 = (arccos t_ε)/π, c_k = 2 sin(k arccos t_ε)/(kπ).
//!
//! Probes are standard Gaussian (E[vvᵀ] = I), so μ̄_k estimates tr T_k(B).

use crate::hessian::lanczos_top_k;
use hessrank_core::LinearOperator;
use hessrank_core::noise::SeededNoise;
use serde::{Deserialize, Serialize};
use std::f64::consts::PI;

/// Settings of the U&S estimate (the paper's comparison: degree 50, 300 probes).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UbaruSaadConfig {
    /// Polynomial degree m.
    pub degree: usize,
    /// Probe vectors.
    pub nvecs: usize,
    /// Lanczos steps for λ_max.
    pub lanczos_steps: usize,
    /// Points on which the density of states is evaluated to find the gap.
    pub dos_points: usize,
    /// Seed of the probes.
    pub seed: u64,
}

impl Default for UbaruSaadConfig {
    fn default() -> Self {
        Self { degree: 50, nvecs: 300, lanczos_steps: 30, dos_points: 1000, seed: 0 }
    }
}

/// The U&S result.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UbaruSaad {
    /// The estimated numerical rank.
    pub rank: f64,
    /// Its standard error over the probes.
    pub stderr: f64,
    /// The threshold ε found at the first gap of the density of states.
    pub threshold: f64,
    /// λ_max used for the interval.
    pub lambda_max: f64,
    /// Mean moments μ̄_k / n, k = 0 … m.
    pub moments: Vec<f64>,
    /// The density-of-states grid (in eigenvalue units) and values.
    pub dos_grid: Vec<f64>,
    /// The density of states on `dos_grid`.
    pub dos: Vec<f64>,
    /// Matrix-vector products used (Lanczos + m per probe).
    pub matvecs: usize,
    /// The configuration.
    pub config: UbaruSaadConfig,
}

/// Jackson damping coefficients g_0 … g_m.
pub fn jackson_coefficients(m: usize) -> Vec<f64> {
    let a = PI / (m as f64 + 2.0);
    (0..=m)
        .map(|k| {
            let k = k as f64;
            ((1.0 - k / (m as f64 + 2.0)) * a.sin() * (k * a).cos()
                + (1.0 / (m as f64 + 2.0)) * a.cos() * (k * a).sin())
                / a.sin()
        })
        .collect()
}

impl UbaruSaad {
    /// Runs U&S on a symmetric PSD operator.
    pub fn estimate(op: &dyn LinearOperator, config: &UbaruSaadConfig) -> Self {
        let n = op.dim();
        let m = config.degree.max(2);
        let top = lanczos_top_k(op, 1, config.lanczos_steps, config.seed);
        // Lanczos' Ritz value is ≤ λ_max; widen by its residual so the interval covers the spectrum.
        let lambda_max = top.eigenvalues[0] + top.residuals[0];
        let (a, b) = (0.0, lambda_max);
        let (c, h) = ((a + b) / 2.0, (b - a) / 2.0);
        let apply_b = |x: &[f64], y: &mut [f64]| {
            op.matvec(x, y);
            y.iter_mut().zip(x).for_each(|(yi, xi)| *yi = (*yi - c * xi) / h);
        };
        let mut noise = SeededNoise::new(config.seed, 2);
        let mut per_probe = Vec::with_capacity(config.nvecs);
        let (mut w_prev, mut w, mut w_next) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
        for _ in 0..config.nvecs.max(2) {
            let v = noise.normal_vec(n);
            let mut mu = vec![0.0; m + 1];
            w_prev.copy_from_slice(&v);
            mu[0] = dot(&v, &v);
            apply_b(&v, &mut w);
            mu[1] = dot(&v, &w);
            for mu_k in mu.iter_mut().skip(2) {
                apply_b(&w, &mut w_next);
                w_next.iter_mut().zip(&w_prev).for_each(|(x, p)| *x = 2.0 * *x - p);
                *mu_k = dot(&v, &w_next);
                std::mem::swap(&mut w_prev, &mut w);
                std::mem::swap(&mut w, &mut w_next);
            }
            per_probe.push(mu);
        }
        let probes = per_probe.len() as f64;
        let mean: Vec<f64> = (0..=m).map(|k| per_probe.iter().map(|mu| mu[k]).sum::<f64>() / probes).collect();
        let g = jackson_coefficients(m);

        // Density of states on (−1, 1), then the first local minimum after the spike at 0.
        let points = config.dos_points.max(10);
        let ts: Vec<f64> = (0..points).map(|i| -1.0 + (i as f64 + 0.5) * 2.0 / points as f64).collect();
        let dos: Vec<f64> = ts
            .iter()
            .map(|&t| {
                let theta = t.acos();
                let s: f64 =
                    (0..=m).map(|k| (if k == 0 { 1.0 } else { 2.0 }) * g[k] * mean[k] * (k as f64 * theta).cos()).sum();
                s / (n as f64 * PI * (1.0 - t * t).sqrt())
            })
            .collect();
        let gap = first_local_minimum(&dos);
        let t_eps = ts[gap];
        let theta_eps = t_eps.acos();
        let coeff: Vec<f64> = (0..=m)
            .map(|k| if k == 0 { theta_eps / PI } else { 2.0 * (k as f64 * theta_eps).sin() / (k as f64 * PI) })
            .collect();
        let rank_of = |mu: &[f64]| (0..=m).map(|k| g[k] * coeff[k] * mu[k]).sum::<f64>();
        let ranks: Vec<f64> = per_probe.iter().map(|mu| rank_of(mu)).collect();
        let rank = ranks.iter().sum::<f64>() / probes;
        let var = ranks.iter().map(|r| (r - rank).powi(2)).sum::<f64>() / (probes - 1.0);
        Self {
            rank,
            stderr: (var / probes).sqrt(),
            threshold: c + h * t_eps,
            lambda_max,
            moments: mean.iter().map(|x| x / n as f64).collect(),
            dos_grid: ts.iter().map(|t| c + h * t).collect(),
            dos,
            matvecs: top.matvecs + per_probe.len() * m,
            config: config.clone(),
        }
    }

    /// The exact trace of the same damped polynomial filter for a known spectrum: what the
    /// stochastic estimate converges to for this threshold.
    pub fn filter_trace(&self, eigenvalues: &[f64]) -> f64 {
        let m = self.config.degree.max(2);
        let g = jackson_coefficients(m);
        let (c, h) = (self.lambda_max / 2.0, self.lambda_max / 2.0);
        let theta_eps = ((self.threshold - c) / h).clamp(-1.0, 1.0).acos();
        eigenvalues
            .iter()
            .map(|&l| {
                let theta = ((l - c) / h).clamp(-1.0, 1.0).acos();
                (0..=m)
                    .map(|k| {
                        let ck =
                            if k == 0 { theta_eps / PI } else { 2.0 * (k as f64 * theta_eps).sin() / (k as f64 * PI) };
                        g[k] * ck * (k as f64 * theta).cos()
                    })
                    .sum::<f64>()
            })
            .sum()
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Index of the first local minimum of `f` after its initial descent (the first gap of a density
/// of states whose spike at 0 comes first); the last index if the curve never rises again.
fn first_local_minimum(f: &[f64]) -> usize {
    let mut i = 0;
    // Climb the spike at the left edge, if any.
    while i + 1 < f.len() && f[i + 1] >= f[i] {
        i += 1;
    }
    while i + 1 < f.len() && f[i + 1] < f[i] {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jackson_damping_starts_at_one_and_decays() {
        let g = jackson_coefficients(50);
        assert!((g[0] - 1.0).abs() < 1e-12);
        assert!(g.windows(2).all(|w| w[1] <= w[0] + 1e-12));
        assert!(g[50] < 0.01);
    }

    #[test]
    fn first_local_minimum_skips_the_spike() {
        assert_eq!(first_local_minimum(&[1.0, 5.0, 2.0, 1.0, 1.5, 0.5]), 3);
        assert_eq!(first_local_minimum(&[5.0, 2.0, 1.0, 3.0]), 2);
    }
}
