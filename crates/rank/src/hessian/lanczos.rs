//! Lanczos with full reorthogonalisation: top-k eigenvalues, and the tridiagonal quadrature that
//! stochastic Lanczos quadrature (SLQ) builds on.

use hessrank_core::LinearOperator;
use hessrank_core::noise::SeededNoise;
use nalgebra::{DMatrix, DVector};
use serde::{Deserialize, Serialize};

/// Top eigenvalues of a symmetric operator.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TopEigen {
    /// The k largest Ritz values, descending.
    pub eigenvalues: Vec<f64>,
    /// ‖A y − θ y‖ of each Ritz pair (|β_m · last component|).
    pub residuals: Vec<f64>,
    /// Lanczos steps = matrix-vector products.
    pub matvecs: usize,
    /// Seed of the start vector.
    pub seed: u64,
}

/// The Lanczos tridiagonal matrix T_m = Qᵀ A Q from a start vector.
pub(crate) struct Tridiagonal {
    pub alpha: Vec<f64>,
    pub beta: Vec<f64>,
}

impl Tridiagonal {
    /// Eigenvalues (ascending) and eigenvectors of T.
    pub fn eigen(&self) -> (DVector<f64>, DMatrix<f64>) {
        let m = self.alpha.len();
        let t = DMatrix::from_fn(m, m, |i, j| {
            if i == j {
                self.alpha[i]
            } else if i + 1 == j {
                self.beta[i]
            } else if j + 1 == i {
                self.beta[j]
            } else {
                0.0
            }
        });
        let e = t.symmetric_eigen();
        let mut idx: Vec<usize> = (0..m).collect();
        idx.sort_by(|&a, &b| e.eigenvalues[a].total_cmp(&e.eigenvalues[b]));
        let values = DVector::from_iterator(m, idx.iter().map(|&i| e.eigenvalues[i]));
        let vectors = DMatrix::from_fn(m, m, |r, c| e.eigenvectors[(r, idx[c])]);
        (values, vectors)
    }
}

/// `steps` Lanczos steps from `start` (normalised here) with full reorthogonalisation; stops early
/// on an invariant subspace. Returns T and the last β (for residuals).
pub(crate) fn lanczos(op: &dyn LinearOperator, start: &[f64], steps: usize) -> (Tridiagonal, f64) {
    let n = op.dim();
    let steps = steps.min(n).max(1);
    let mut q: Vec<Vec<f64>> = Vec::with_capacity(steps);
    let norm = start.iter().map(|x| x * x).sum::<f64>().sqrt();
    q.push(start.iter().map(|x| x / norm).collect());
    let (mut alpha, mut beta) = (Vec::new(), Vec::new());
    let mut w = vec![0.0; n];
    let mut last_beta = 0.0;
    for j in 0..steps {
        op.matvec(&q[j], &mut w);
        let a: f64 = w.iter().zip(&q[j]).map(|(x, y)| x * y).sum();
        alpha.push(a);
        // Full reorthogonalisation, twice (Kahan–Parlett "twice is enough").
        for _ in 0..2 {
            for qi in &q {
                let c: f64 = w.iter().zip(qi).map(|(x, y)| x * y).sum();
                w.iter_mut().zip(qi).for_each(|(x, y)| *x -= c * y);
            }
        }
        let b = w.iter().map(|x| x * x).sum::<f64>().sqrt();
        last_beta = b;
        if j + 1 == steps || b <= 1e-12 * a.abs().max(1.0) {
            break;
        }
        beta.push(b);
        q.push(w.iter().map(|x| x / b).collect());
    }
    (Tridiagonal { alpha, beta }, last_beta)
}

/// The `k` largest eigenvalues by `steps` Lanczos steps (≥ k; 2k + 20 is a good default) from a
/// seeded Gaussian start.
pub fn lanczos_top_k(op: &dyn LinearOperator, k: usize, steps: usize, seed: u64) -> TopEigen {
    let start = SeededNoise::new(seed, 0).normal_vec(op.dim());
    let (t, last_beta) = lanczos(op, &start, steps.max(k));
    let (values, vectors) = t.eigen();
    let m = values.len();
    let take = k.min(m);
    let eigenvalues = (0..take).map(|i| values[m - 1 - i]).collect();
    let residuals = (0..take).map(|i| (last_beta * vectors[(m - 1, m - 1 - i)]).abs()).collect();
    TopEigen { eigenvalues, residuals, matvecs: m, seed }
}
