//! The exact spectrum of a dense Hessian and what the paper reads from it: counts above relative
//! thresholds, negative eigenvalues, and the normalised cumulative energy λ̄_j = Σ_{i≤j} λ_i / Tr H
//! (Figure 3).

use nalgebra::DMatrix;
use serde::{Deserialize, Serialize};

/// The eigenvalues of a symmetric matrix, descending, with the paper's summaries.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Spectrum {
    /// Eigenvalues, descending.
    pub eigenvalues: Vec<f64>,
    /// Tr H = Σ λ_i.
    pub trace: f64,
    /// ‖H − Hᵀ‖_max / ‖H‖_max of the matrix before symmetrisation.
    pub asymmetry: f64,
}

impl Spectrum {
    /// The spectrum of `h` (symmetrised as (H + Hᵀ)/2 first; its asymmetry is recorded).
    pub fn of(h: &DMatrix<f64>) -> Self {
        let scale = h.amax().max(f64::MIN_POSITIVE);
        let asymmetry = (h - h.transpose()).amax() / scale;
        let s = (h + h.transpose()) * 0.5;
        let eigenvalues = super::dense::symmetric_eigenvalues(&s);
        let trace = eigenvalues.iter().sum();
        Self { eigenvalues, trace, asymmetry }
    }

    /// λ_min.
    pub fn min(&self) -> f64 {
        self.eigenvalues.last().copied().unwrap_or(0.0)
    }

    /// The share of Σ|λ_i| carried by negative eigenvalues: 0 at a minimum (H is PSD there), so a
    /// share well above the round-off of the Hessian says θ₀ is not a minimum.
    pub fn negative_share(&self) -> f64 {
        let total: f64 = self.eigenvalues.iter().map(|l| l.abs()).sum();
        if total == 0.0 {
            return 0.0;
        }
        self.eigenvalues.iter().filter(|&&l| l < 0.0).map(|l| -l).sum::<f64>() / total
    }

    /// λ_max.
    pub fn max(&self) -> f64 {
        self.eigenvalues.first().copied().unwrap_or(0.0)
    }

    /// How many eigenvalues exceed `rel · λ_max` (the numerical rank at that threshold).
    pub fn count_above(&self, rel: f64) -> usize {
        let t = rel * self.max();
        self.eigenvalues.iter().filter(|&&x| x > t).count()
    }

    /// How many eigenvalues are below −`rel · λ_max` (numerically negative).
    pub fn negatives(&self, rel: f64) -> usize {
        let t = rel * self.max();
        self.eigenvalues.iter().filter(|&&x| x < -t).count()
    }

    /// λ̄_j for j = 1 … n: the cumulative sum of the descending eigenvalues over Tr H.
    pub fn energy_curve(&self) -> Vec<f64> {
        let mut acc = 0.0;
        self.eigenvalues
            .iter()
            .map(|&x| {
                acc += x;
                acc / self.trace
            })
            .collect()
    }

    /// The energy captured by a (possibly fractional) rank r: λ̄ interpolated linearly, 0 at r = 0.
    pub fn energy_at_rank(&self, r: f64) -> f64 {
        let curve = self.energy_curve();
        let r = r.clamp(0.0, curve.len() as f64);
        let j = r.floor() as usize;
        let below = if j == 0 { 0.0 } else { curve[j - 1] };
        let above = curve.get(j).copied().unwrap_or(below);
        below + (r - j as f64) * (above - below)
    }

    /// The smallest rank capturing at least `fraction` of the energy.
    pub fn rank_for_energy(&self, fraction: f64) -> usize {
        self.energy_curve().iter().position(|&e| e >= fraction).map(|i| i + 1).unwrap_or(self.eigenvalues.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_of_a_diagonal_matrix() {
        let h = DMatrix::from_diagonal(&nalgebra::DVector::from_vec(vec![4.0, 0.0, 3.0, 2.0, 1.0, -1e-9]));
        let s = Spectrum::of(&h);
        assert_eq!(s.eigenvalues, vec![4.0, 3.0, 2.0, 1.0, 0.0, -1e-9]);
        assert_eq!(s.count_above(1e-6), 4);
        assert_eq!(s.negatives(1e-12), 1);
        let e = s.energy_curve();
        assert!((e[0] - 0.4).abs() < 1e-9 && (e[3] - 1.0).abs() < 1e-9);
        assert!((s.energy_at_rank(1.5) - 0.55).abs() < 1e-9);
        assert_eq!(s.rank_for_energy(0.9), 3);
        assert_eq!(s.asymmetry, 0.0);
    }
}
