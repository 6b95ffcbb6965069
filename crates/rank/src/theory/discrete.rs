//! The exact expected loss of the discrete Langevin recursions on a quadratic, for Algorithm 1's
//! noise Σ = σ²G⁻¹: a finite run's expectation predicted from a spectrum.
//!
//! With φ = G^{−½}(θ − θ*) and A = G^½ H G^½ = V diag(μ) Vᵀ, each eigen-mode x of A evolves on its own:
//! - Euler–Maruyama: x_{k+1} = a x_k + c ξ_k, a = 1 − ημ, c² = ησ². With x_0 = 0 the variance is
//!   v_k = v_∞ (1 − a^{2k}), v_∞ = c²/(1 − a²) = σ²/(μ(2 − ημ)).
//! - Leimkuhler–Matthews: x_{k+1} = a x_k + c (ξ_k + ξ_{k+1})/2. Since x_k holds c ξ_k / 2,
//!   E[x_k ξ_k] = c/2 for k ≥ 1, so v_1 = c²/2 and v_{k+1} = a² v_k + c²(1 + a)/2, giving
//!   v_k = v_∞ + (v_1 − v_∞) a^{2(k−1)} with v_∞ = c²/(2(1 − a)) = σ²/(2μ): the exact OU variance.
//!
//! The expected loss above f(θ*) is E f_k = ½ Σ_i μ_i v_{k,i}; its stationary value per nonzero mode
//! is σ²/4 for LM and σ²/4 · 1/(1 − ημ/2) for EM. Modes with μ = 0 contribute nothing; a mode with
//! ημ ≥ 2 is unstable (its expectation is infinite).

use crate::langevin::Scheme;
use nalgebra::{DMatrix, DVector};

/// Eigenvalues μ of G^½ H G^½ for a diagonal preconditioner `g` (ascending).
pub fn mode_eigenvalues(h: &DMatrix<f64>, g: &[f64]) -> Vec<f64> {
    let s = DVector::from_iterator(g.len(), g.iter().map(|x| x.sqrt()));
    let a = DMatrix::from_fn(h.nrows(), h.ncols(), |i, j| s[i] * h[(i, j)] * s[j]);
    let mut mu: Vec<f64> = a.symmetric_eigen().eigenvalues.iter().copied().collect();
    mu.sort_by(f64::total_cmp);
    mu
}

/// Discrete-time expectation of Algorithm 1 on a quadratic with the eigenvalues μ of G^½ H G^½.
#[derive(Debug, Clone)]
pub struct DiscreteTheory {
    /// Eigenvalues μ_i of G^½ H G^½ (those ≤ 0 contribute nothing).
    pub mu: Vec<f64>,
    /// Step size η.
    pub eta: f64,
    /// Noise power σ².
    pub sigma2: f64,
    /// The discretisation.
    pub scheme: Scheme,
}

/// Σ_{k=k0}^{k0+n−1} r^k, accurate for r near 1.
fn geometric_sum(r: f64, k0: usize, n: usize) -> f64 {
    if n == 0 {
        return 0.0;
    }
    if (1.0 - r).abs() < 1e-15 {
        return n as f64;
    }
    let ln_r = r.ln();
    (k0 as f64 * ln_r).exp() * (-(n as f64 * ln_r).exp_m1()) / (1.0 - r)
}

impl DiscreteTheory {
    /// Per-mode (v_∞, first index k_s, v at k_s) so that v_k = v_∞ + (v_{k_s} − v_∞) a^{2(k − k_s)} for k ≥ k_s.
    fn mode(&self, mu: f64) -> Option<(f64, f64, usize, f64)> {
        if mu <= 0.0 {
            return None;
        }
        let a = 1.0 - self.eta * mu;
        let c2 = self.eta * self.sigma2;
        Some(match self.scheme {
            Scheme::EulerMaruyama => (a * a, c2 / (1.0 - a * a), 0, 0.0),
            Scheme::LeimkuhlerMatthews => (a * a, c2 / (2.0 * (1.0 - a)), 1, c2 / 2.0),
        })
    }

    /// Whether every mode is stable (η μ_max < 2).
    pub fn is_stable(&self) -> bool {
        self.mu.iter().all(|&m| self.eta * m < 2.0)
    }

    /// E[L(θ_k)] − L(θ*) after k steps from θ_0 = θ*.
    pub fn expected_loss(&self, k: usize) -> f64 {
        self.modes()
            .map(|(mu, r, v_inf, ks, v_s)| {
                let v = if k < ks { 0.0 } else { v_inf + (v_s - v_inf) * r.powf((k - ks) as f64) };
                0.5 * mu * v
            })
            .sum()
    }

    fn modes(&self) -> impl Iterator<Item = (f64, f64, f64, usize, f64)> + '_ {
        self.mu.iter().filter_map(|&mu| self.mode(mu).map(|(r, vi, ks, vs)| (mu, r, vi, ks, vs)))
    }

    /// The mean of E[L(θ_k)] − L(θ*) over the recorded window k ∈ [k_tot − k_avg, k_tot − 1]
    /// (Algorithm 1 records the loss of θ_0 … θ_{K_tot−1}).
    pub fn window_mean(&self, k_tot: usize, k_avg: usize) -> f64 {
        let k0 = k_tot - k_avg;
        let total: f64 = self
            .modes()
            .map(|(mu, r, v_inf, ks, v_s)| {
                // Σ_k v_k over the window, split at k_s (v_k = 0 before k_s).
                let start = k0.max(ks);
                let n = (k_tot).saturating_sub(start);
                let sum_v = v_inf * n as f64 + (v_s - v_inf) * geometric_sum(r, start - ks, n);
                0.5 * mu * sum_v
            })
            .sum();
        total / k_avg as f64
    }

    /// The expected estimate 4/σ² · window mean: what Algorithm 1 returns on average.
    pub fn expected_estimate(&self, k_tot: usize, k_avg: usize) -> f64 {
        4.0 / self.sigma2 * self.window_mean(k_tot, k_avg)
    }

    /// The stationary expected estimate: Σ_i 1 (LM) or Σ_i 1/(1 − ημ_i/2) (EM) over nonzero modes.
    pub fn stationary_estimate(&self) -> f64 {
        self.mu
            .iter()
            .filter(|&&m| m > 0.0)
            .map(|&m| match self.scheme {
                Scheme::EulerMaruyama => 1.0 / (1.0 - self.eta * m / 2.0),
                Scheme::LeimkuhlerMatthews => 1.0,
            })
            .sum()
    }

    /// The continuous-time effective rank Σ_i (1 − e^{−2 μ_i t}) at t = η k.
    pub fn effective_rank(&self, k: usize) -> f64 {
        let t = self.eta * k as f64;
        self.mu.iter().filter(|&&m| m > 0.0).map(|&m| -(-2.0 * m * t).exp_m1()).sum()
    }
}
