//! The linear net's Hessian at a global minimum, H = 2ΦΦᵀ (eq. 24–25), dense and as a structured
//! Hessian-vector product that never forms H.
//!
//! Derivation used here (Σx-weighted, any widths): with A = W_M ⋯ W_1, L_k = W_M ⋯ W_{k+1} and
//! R_k = W_{k−1} ⋯ W_1, a perturbation V changes A by dA = Σ_k L_k V_k R_k. At a global minimum
//! A Σx = Σyx, the residual term of the Hessian vanishes and ½ Vᵀ H V = tr(dA Σx dAᵀ), so
//! (H V)_k = 2 L_kᵀ (dA Σx) R_kᵀ, and H = 2ΦΦᵀ with Φ[(k,a,b), (p,q)] = L_k[p,a] (R_k Σx^½)[b,q].
//! Parameters are ordered layer by layer, each W_k row-major, as Burn visits `LinearNet`.

use hessrank_core::LinearOperator;
use nalgebra::DMatrix;

/// The closed-form Hessian of the population loss at a global minimum.
#[derive(Debug, Clone)]
pub struct ClosedFormHessian {
    weights: Vec<DMatrix<f64>>,
    sigma_x: DMatrix<f64>,
    left: Vec<DMatrix<f64>>,
    right: Vec<DMatrix<f64>>,
    dim: usize,
}

impl ClosedFormHessian {
    /// The Hessian for weights W_1 … W_M (W_k of shape [d_k, d_{k−1}]) and input moment Σx.
    pub fn new(weights: Vec<DMatrix<f64>>, sigma_x: DMatrix<f64>) -> Self {
        let m = weights.len();
        let d_x = weights[0].ncols();
        let d_y = weights[m - 1].nrows();
        let mut right = Vec::with_capacity(m);
        let mut acc = DMatrix::<f64>::identity(d_x, d_x);
        for w in &weights {
            right.push(acc.clone());
            acc = w * acc;
        }
        let mut left = vec![DMatrix::<f64>::zeros(0, 0); m];
        let mut acc = DMatrix::<f64>::identity(d_y, d_y);
        for k in (0..m).rev() {
            left[k] = acc.clone();
            // Not `*=`: the product changes shape for non-square layers.
            let next = &acc * &weights[k];
            acc = next;
        }
        let dim = weights.iter().map(|w| w.len()).sum();
        Self { weights, sigma_x, left, right, dim }
    }

    /// The layer matrices W_1 … W_M.
    pub fn weights(&self) -> &[DMatrix<f64>] {
        &self.weights
    }

    /// Φ, of shape [n, d_y·d_x], so that H = 2ΦΦᵀ.
    pub fn phi(&self) -> DMatrix<f64> {
        let eig = self.sigma_x.clone().symmetric_eigen();
        let sqrt_sx = &eig.eigenvectors
            * DMatrix::from_diagonal(&eig.eigenvalues.map(|x| x.max(0.0).sqrt()))
            * eig.eigenvectors.transpose();
        let d_y = self.left[0].nrows();
        let d_x = self.sigma_x.nrows();
        let mut phi = DMatrix::zeros(self.dim, d_y * d_x);
        let mut row = 0;
        for (k, w) in self.weights.iter().enumerate() {
            let rs = &self.right[k] * &sqrt_sx;
            for a in 0..w.nrows() {
                for b in 0..w.ncols() {
                    for p in 0..d_y {
                        let l = self.left[k][(p, a)];
                        for q in 0..d_x {
                            phi[(row, p * d_x + q)] = l * rs[(b, q)];
                        }
                    }
                    row += 1;
                }
            }
        }
        phi
    }

    /// The dense Hessian 2ΦΦᵀ, [n, n].
    pub fn dense(&self) -> DMatrix<f64> {
        let phi = self.phi();
        (&phi * phi.transpose()) * 2.0
    }

    fn split(&self, x: &[f64]) -> Vec<DMatrix<f64>> {
        let mut at = 0;
        self.weights
            .iter()
            .map(|w| {
                let v = DMatrix::from_row_slice(w.nrows(), w.ncols(), &x[at..at + w.len()]);
                at += w.len();
                v
            })
            .collect()
    }
}

impl LinearOperator for ClosedFormHessian {
    fn dim(&self) -> usize {
        self.dim
    }

    fn matvec(&self, x: &[f64], y: &mut [f64]) {
        let v = self.split(x);
        let mut da = DMatrix::<f64>::zeros(self.left[0].nrows(), self.sigma_x.nrows());
        for (k, vk) in v.iter().enumerate() {
            da += &self.left[k] * vk * &self.right[k];
        }
        let g = da * &self.sigma_x * 2.0;
        let mut at = 0;
        for k in 0..self.weights.len() {
            let hk = self.left[k].transpose() * &g * self.right[k].transpose();
            // Row-major write-out, matching the parameter order.
            for i in 0..hk.nrows() {
                for j in 0..hk.ncols() {
                    y[at] = hk[(i, j)];
                    at += 1;
                }
            }
        }
    }
}
