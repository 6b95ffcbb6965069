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

use crate::hessian::symmetric_eigenvalues;
use crate::langevin::Scheme;
use nalgebra::{DMatrix, DVector};
use serde::{Deserialize, Serialize};

/// Eigenvalues μ of G^½ H G^½ for a diagonal preconditioner `g` (ascending). Through
/// [`symmetric_eigenvalues`], which splits off exactly-zero rows (parameters the loss cannot see,
/// and those a block's G zeroes) before nalgebra's solver, which returns NaN on such matrices.
pub fn mode_eigenvalues(h: &DMatrix<f64>, g: &[f64]) -> Vec<f64> {
    let s = DVector::from_iterator(g.len(), g.iter().map(|x| x.sqrt()));
    let a = DMatrix::from_fn(h.nrows(), h.ncols(), |i, j| s[i] * h[(i, j)] * s[j]);
    let mut mu = symmetric_eigenvalues(&a);
    mu.sort_by(f64::total_cmp);
    mu
}

/// The expected estimate taken apart: `modes + inflation − deficit` is
/// [`DiscreteTheory::expected_estimate`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TheoryBreakdown {
    /// The number of modes with μ > 0 (the rank).
    pub modes: usize,
    /// Σ over modes above their equilibrium share of max(0, share − 1): EM's 1/(1 − ημ/2) − 1.
    pub inflation: f64,
    /// Σ over modes below it of 1 − share: the modes that have not equilibrated in K_tot steps.
    pub deficit: f64,
    /// The fewest smallest-μ modes that carry the asked-for part of the deficit.
    pub slow_modes: usize,
    /// The largest μ among them.
    pub slow_mu: f64,
}

impl TheoryBreakdown {
    /// `modes + inflation − deficit`: [`DiscreteTheory::expected_estimate`] from the same pass.
    pub fn expected_estimate(&self) -> f64 {
        self.modes as f64 + self.inflation - self.deficit
    }
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

/// One eigen-mode's recursion, in a form that stays finite for every μ ≥ 0 (the closed forms
/// v_∞(1 − r^k) cancel catastrophically when ημ ≲ 1e-16, and r = (1 − ημ)² is 0 when ημ = 1).
#[derive(Debug, Clone, Copy)]
struct Mode {
    /// x = −ln r = −2 ln|1 − ημ| (log1p, so it keeps its precision for tiny ημ; +∞ at ημ = 1).
    x: f64,
    /// ½ μ v_∞: the mode's stationary expected loss (σ²/(2(2 − ημ)) for EM, σ²/4 for LM).
    stationary: f64,
    /// v_{k_s}/v_∞: the variance at the first index k_s as a fraction of the stationary one
    /// (EM: 0; LM: ημ, see [`DiscreteTheory::mode`]).
    start_fraction: f64,
    /// k_s: v_k = 0 before it (EM: 0, LM: 1).
    first: usize,
}

impl Mode {
    /// ½μ v_k for k ≥ k_s: ½μ v_∞ [(1 − r^j) + f r^j] with j = k − k_s.
    fn loss_at(&self, k: usize) -> f64 {
        if k < self.first {
            return 0.0;
        }
        let j = k - self.first;
        let one_minus = one_minus_power(self.x, j);
        self.stationary * (one_minus + self.start_fraction * (1.0 - one_minus))
    }

    /// Σ ½μ v_k over k ∈ [k0, k0 + n).
    fn loss_sum(&self, k0: usize, n: usize) -> f64 {
        let start = k0.max(self.first);
        let n = (k0 + n).saturating_sub(start);
        let s1 = sum_one_minus_powers(self.x, start - self.first, n);
        self.stationary * (s1 + self.start_fraction * (n as f64 - s1))
    }
}

/// 1 − r^j with r = e^{−x}, x ≥ 0 or +∞ (r^0 = 1 even when r = 0), or x < 0 for an unstable mode.
fn one_minus_power(x: f64, j: usize) -> f64 {
    if j == 0 {
        0.0
    } else if x == f64::INFINITY {
        1.0
    } else {
        -(-(j as f64) * x).exp_m1()
    }
}

/// Σ_{j=j0}^{j0+n−1} (1 − r^j), r = e^{−x}, without cancellation for x → 0 and without 0·ln 0 at
/// r = 0 (x = +∞).
fn sum_one_minus_powers(x: f64, j0: usize, n: usize) -> f64 {
    if n == 0 {
        return 0.0;
    }
    if x == f64::INFINITY {
        return n as f64 - if j0 == 0 { 1.0 } else { 0.0 };
    }
    let last = (j0 + n) as f64;
    if x >= 0.0 && last * x < 1e-4 {
        // 1 − e^{−jx} = jx − (jx)²/2 + (jx)³/6 − (jx)⁴/24 + …; the next term is < 1e-18 of the first.
        let p = |m: u32| power_sum(j0 + n, m) - power_sum(j0, m);
        return x * p(1) - x * x / 2.0 * p(2) + x.powi(3) / 6.0 * p(3) - x.powi(4) / 24.0 * p(4);
    }
    // n − r^{j0} (1 − r^n)/(1 − r); here (j0 + n)·x ≥ 1e-4, so the difference keeps ≥ 12 digits.
    let geometric = (-(j0 as f64) * x).exp() * (-(n as f64) * x).exp_m1() / (-x).exp_m1();
    n as f64 - geometric
}

/// Σ_{j=0}^{m−1} j^p for p = 1…4 (Faulhaber), in f64.
fn power_sum(m: usize, p: u32) -> f64 {
    let n = m as f64 - 1.0; // Σ_{j=0}^{n} j^p
    match p {
        1 => n * (n + 1.0) / 2.0,
        2 => n * (n + 1.0) * (2.0 * n + 1.0) / 6.0,
        3 => (n * (n + 1.0) / 2.0).powi(2),
        4 => n * (n + 1.0) * (2.0 * n + 1.0) * (3.0 * n * n + 3.0 * n - 1.0) / 30.0,
        _ => unreachable!("only p ≤ 4 is used"),
    }
}

impl DiscreteTheory {
    /// The recursion of the mode with eigenvalue μ (None for μ ≤ 0, which adds nothing).
    ///
    /// With a = 1 − ημ, c² = ησ² and r = a²:
    /// - EM: v_k = v_∞(1 − r^k), ½μv_∞ = ½μ c²/(1 − a²) = σ²/(2(2 − ημ));
    /// - LM: v_k = v_∞ + (v_1 − v_∞) r^{k−1}, v_1 = c²/2, ½μv_∞ = σ²/4 and v_1/v_∞ = ημ.
    fn mode(&self, mu: f64) -> Option<Mode> {
        if mu.is_nan() || mu <= 0.0 {
            return None;
        }
        let h = self.eta * mu;
        // r = (1 − h)²: ln r by log1p below h = 1 (full precision for tiny h), exactly −∞ at h = 1.
        let x = if h < 1.0 {
            -2.0 * (-h).ln_1p()
        } else if h == 1.0 {
            f64::INFINITY
        } else {
            -2.0 * (h - 1.0).ln()
        };
        Some(match self.scheme {
            Scheme::EulerMaruyama => {
                Mode { x, stationary: self.sigma2 / (2.0 * (2.0 - h)), start_fraction: 0.0, first: 0 }
            }
            Scheme::LeimkuhlerMatthews => Mode { x, stationary: self.sigma2 / 4.0, start_fraction: h, first: 1 },
        })
    }

    /// Whether every mode is stable (η μ_max < 2).
    pub fn is_stable(&self) -> bool {
        self.mu.iter().all(|&m| self.eta * m < 2.0)
    }

    /// E[L(θ_k)] − L(θ*) after k steps from θ_0 = θ*.
    pub fn expected_loss(&self, k: usize) -> f64 {
        self.modes().map(|m| m.loss_at(k)).sum()
    }

    fn modes(&self) -> impl Iterator<Item = Mode> + '_ {
        self.mu.iter().filter_map(|&mu| self.mode(mu))
    }

    /// The mean of E[L(θ_k)] − L(θ*) over the recorded window k ∈ [k_tot − k_avg, k_tot − 1]
    /// (Algorithm 1 records the loss of θ_0 … θ_{K_tot−1}).
    pub fn window_mean(&self, k_tot: usize, k_avg: usize) -> f64 {
        let k0 = k_tot - k_avg;
        self.modes().map(|m| m.loss_sum(k0, k_avg)).sum::<f64>() / k_avg as f64
    }

    /// The expected estimate 4/σ² · window mean: what Algorithm 1 returns on average.
    pub fn expected_estimate(&self, k_tot: usize, k_avg: usize) -> f64 {
        4.0 / self.sigma2 * self.window_mean(k_tot, k_avg)
    }

    /// Each mode's expected share of the estimate, (4/σ²) × its window-mean loss, beside its μ (modes
    /// with μ > 0, in the order of `mu`): 1 for a mode that has equilibrated under LM,
    /// 1/(1 − ημ/2) under EM, less for a mode that has not.
    pub fn mode_estimates(&self, k_tot: usize, k_avg: usize) -> Vec<(f64, f64)> {
        let k0 = k_tot - k_avg;
        let scale = 4.0 / self.sigma2 / k_avg as f64;
        self.mu.iter().filter_map(|&mu| self.mode(mu).map(|m| (mu, scale * m.loss_sum(k0, k_avg)))).collect()
    }

    /// Where the expected estimate departs from the rank, and which modes hold it back
    /// ([`TheoryBreakdown`]); `share` (e.g. 0.9) sets how much of the deficit `slow_modes` covers.
    pub fn breakdown(&self, k_tot: usize, k_avg: usize, share: f64) -> TheoryBreakdown {
        let mut modes = self.mode_estimates(k_tot, k_avg);
        let inflation: f64 = modes.iter().map(|&(_, c)| (c - 1.0).max(0.0)).sum();
        let deficit: f64 = modes.iter().map(|&(_, c)| (1.0 - c).max(0.0)).sum();
        modes.sort_by(|a, b| a.0.total_cmp(&b.0));
        let (mut covered, mut slow_modes, mut slow_mu) = (0.0, 0, 0.0);
        for &(mu, c) in &modes {
            if covered >= share * deficit || deficit == 0.0 {
                break;
            }
            covered += (1.0 - c).max(0.0);
            slow_modes += 1;
            slow_mu = mu;
        }
        TheoryBreakdown { modes: modes.len(), inflation, deficit, slow_modes, slow_mu }
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
