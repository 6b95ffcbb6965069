//! The linear net's Hessian at one of the paper's global minima, written in the orthonormal bases
//! where every layer is diagonal: a direct sum of d² rank-one M×M blocks, applied in O(M d²).
//!
//! At a minimum with Σx = I and W_k = U_k D U_{k−1}ᵀ (orthogonal U_k, diagonal D = diag δ), the
//! change of coordinates Ṽ_k = U_kᵀ V_k U_{k−1} is orthogonal on the parameters, and the Kronecker
//! product of eq. 26, (H V)_k = 2 L_kᵀ (Σ_j L_j V_j R_j) R_kᵀ with L_k = U_M D^{M−k} U_kᵀ and
//! R_k = U_{k−1} D^{k−1} U_0ᵀ, becomes (H̃ Ṽ)_k[a, b] = 2 u_k Σ_j u_j Ṽ_j[a, b] with
//! u_k = δ_a^{M−k} δ_b^{k−1}. So H = S H̃ Sᵀ for the orthogonal S = [`EigenbasisHessian::from_eigenbasis`],
//! H̃ has H's spectrum (2‖u‖² per pair (a, b), and zeros), and any estimator that sees H only
//! through products with Gaussian probes, whose law S leaves unchanged, has the same distribution
//! on H̃ as on H. U&S on H̃ costs 2M d² flops per product instead of the ≈ 4M d³ of eq. 26, which is
//! what makes 15,000 products per trial affordable at d = 256.

use hessrank_core::LinearOperator;
use nalgebra::DMatrix;

/// H̃ = S ᵀ H S: the closed-form Hessian in the layers' eigenbases (see the module documentation).
#[derive(Debug, Clone)]
pub struct EigenbasisHessian {
    /// U_0, …, U_M, each [d, d].
    bases: Vec<DMatrix<f64>>,
    /// `powers[a * depth + p]` = δ_a^p, p = 0 … M − 1.
    powers: Vec<f64>,
    d: usize,
    depth: usize,
}

impl EigenbasisHessian {
    /// The operator for layer bases U_0 … U_M and the diagonal δ of D (W_k = U_k D U_{k−1}ᵀ).
    pub fn new(bases: Vec<DMatrix<f64>>, delta: &[f64]) -> Self {
        let (d, depth) = (delta.len(), bases.len() - 1);
        let powers = delta.iter().flat_map(|&x| (0..depth).map(move |p| x.powi(p as i32))).collect();
        Self { bases, powers, d, depth }
    }

    /// u_k for the pair (a, b), k = 1 … M (index k − 1).
    fn u(&self, a: usize, b: usize, k: usize) -> f64 {
        self.powers[a * self.depth + (self.depth - k)] * self.powers[b * self.depth + (k - 1)]
    }

    /// Sᵀ x: the parameters x (layer by layer, each V_k row-major) in the eigenbases, Ṽ_k = U_kᵀ V_k U_{k−1}.
    pub fn to_eigenbasis(&self, x: &[f64]) -> Vec<f64> {
        self.map_layers(x, |k, v| self.bases[k].transpose() * v * &self.bases[k - 1])
    }

    /// S x̃: back to the parameters' own coordinates, V_k = U_k Ṽ_k U_{k−1}ᵀ.
    pub fn from_eigenbasis(&self, x: &[f64]) -> Vec<f64> {
        self.map_layers(x, |k, v| &self.bases[k] * v * self.bases[k - 1].transpose())
    }

    fn map_layers(&self, x: &[f64], f: impl Fn(usize, &DMatrix<f64>) -> DMatrix<f64>) -> Vec<f64> {
        let dd = self.d * self.d;
        assert_eq!(x.len(), self.depth * dd, "a vector of M d² parameters");
        let mut out = Vec::with_capacity(x.len());
        for (k, block) in x.chunks(dd).enumerate() {
            let v = f(k + 1, &DMatrix::from_row_slice(self.d, self.d, block));
            // Row-major write-out, matching the parameter order.
            out.extend((0..self.d).flat_map(|i| (0..self.d).map(move |j| (i, j))).map(|(i, j)| v[(i, j)]));
        }
        out
    }
}

impl LinearOperator for EigenbasisHessian {
    fn dim(&self) -> usize {
        self.depth * self.d * self.d
    }

    fn matvec(&self, x: &[f64], y: &mut [f64]) {
        let dd = self.d * self.d;
        let mut u = vec![0.0; self.depth];
        for a in 0..self.d {
            for b in 0..self.d {
                let at = a * self.d + b;
                u.iter_mut().enumerate().for_each(|(i, u)| *u = self.u(a, b, i + 1));
                let s: f64 = u.iter().enumerate().map(|(i, u)| u * x[i * dd + at]).sum();
                for (i, u) in u.iter().enumerate() {
                    y[i * dd + at] = 2.0 * u * s;
                }
            }
        }
    }
}
