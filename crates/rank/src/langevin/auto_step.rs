//! The automatic step: μ_max of G^½HG^½ by power iteration, then η = c/μ_max.

use hessrank_core::LinearOperator;
use hessrank_core::noise::SeededNoise;
use serde::{Deserialize, Serialize};

/// The result of a power iteration.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PowerIteration {
    /// The Rayleigh quotient at the last iterate (≤ μ_max for a symmetric operator).
    pub mu_max: f64,
    /// ‖A v − μ v‖ at the last iterate (v unit).
    pub residual: f64,
    /// Iterations run.
    pub iterations: usize,
    /// Seed of the start vector.
    pub seed: u64,
}

/// Largest eigenvalue of a symmetric PSD operator by power iteration from a seeded Gaussian vector;
/// stops after `max_iters` or when the Rayleigh quotient changes by less than 1e-4 (relative).
pub fn estimate_mu_max(op: &dyn LinearOperator, max_iters: usize, seed: u64) -> PowerIteration {
    let n = op.dim();
    let mut v = SeededNoise::new(seed, u64::MAX).normal_vec(n);
    normalise(&mut v);
    let mut av = vec![0.0; n];
    let (mut mu, mut residual, mut iterations) = (0.0, f64::INFINITY, 0);
    for it in 1..=max_iters.max(1) {
        op.matvec(&v, &mut av);
        let new_mu: f64 = v.iter().zip(&av).map(|(a, b)| a * b).sum();
        residual = v.iter().zip(&av).map(|(a, b)| (b - new_mu * a).powi(2)).sum::<f64>().sqrt();
        iterations = it;
        let converged = (new_mu - mu).abs() <= 1e-4 * new_mu.abs();
        mu = new_mu;
        v.copy_from_slice(&av);
        if normalise(&mut v) == 0.0 || converged {
            break;
        }
    }
    PowerIteration { mu_max: mu, residual, iterations, seed }
}

fn normalise(v: &mut [f64]) -> f64 {
    let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    norm
}

#[cfg(test)]
mod tests {
    use super::*;
    use hessrank_core::DenseOperator;

    #[test]
    fn finds_the_top_eigenvalue_of_a_diagonal_matrix() {
        let n = 20;
        let mut a = vec![0.0; n * n];
        for i in 0..n {
            a[i * n + i] = 1.0 + i as f64 * 0.1; // top 2.9, next 2.8
        }
        let op = DenseOperator::new(n, a).unwrap();
        let p = estimate_mu_max(&op, 2000, 1);
        assert!((p.mu_max - 2.9).abs() < 2.9 * 5e-3, "{p:?}");
        assert!(p.mu_max <= 2.9 + 1e-12);
    }
}
