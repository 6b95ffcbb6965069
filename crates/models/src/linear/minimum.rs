//! The paper's random global minima of the linear net: Σx = I, Σyx = R Rᵀ/√d, every W_i = T^{1/M}
//! (symmetric eigen-root of T = Σyx Σx⁻¹), then rotated by a random orthogonal P so that the layers
//! differ while their product stays T.

use super::{ClosedFormHessian, EigenbasisHessian, LinearNet, PopulationObjective, matrix_to_tensor};
use burn::module::Param;
use burn::tensor::Device;
use hessrank_core::noise::SeededNoise;
use hessrank_core::{Error, Result};
use nalgebra::DMatrix;

/// A random global minimum of the population objective of a square deep linear net.
#[derive(Debug, Clone)]
pub struct GlobalMinimum {
    /// Input/output dimension d (d_x = d_y = every width).
    pub d: usize,
    /// Depth M.
    pub depth: usize,
    /// Seed that drew Σyx.
    pub seed: u64,
    /// Seed that drew the gauge P.
    pub gauge_seed: u64,
    /// Σx (the identity).
    pub sigma_x: DMatrix<f64>,
    /// Σyx = R Rᵀ/√d.
    pub sigma_yx: DMatrix<f64>,
    /// T = Σyx Σx⁻¹, the end-to-end matrix at every global minimum.
    pub t: DMatrix<f64>,
    /// Eigenvalues of T (≥ 0), ascending.
    pub t_eigenvalues: Vec<f64>,
    /// W_1, …, W_M, each [d, d].
    pub weights: Vec<DMatrix<f64>>,
    /// The orthonormal bases U_0, …, U_M in which every layer is diagonal, W_k = U_k D U_{k−1}ᵀ
    /// (U_0 = U_M = Q, the eigenvectors of T; U_k = P Q between), so that the Hessian there is
    /// block diagonal ([`EigenbasisHessian`]).
    pub layer_bases: Vec<DMatrix<f64>>,
    /// D's diagonal: T's eigenvalues to the power 1/M, in the order of Q's columns.
    pub root_diagonal: Vec<f64>,
}

impl GlobalMinimum {
    /// Draws a minimum for dimension `d` and depth `depth` from `seed` (Σyx and the gauge P both).
    pub fn random(d: usize, depth: usize, seed: u64) -> Result<Self> {
        Self::random_with_gauge(d, depth, seed, seed)
    }

    /// Draws Σyx (so T and the whole Hessian spectrum) from `seed` and the orthogonal gauge P from
    /// `gauge_seed`: minima with one `seed` and different gauges are different points of the same
    /// global-minimum manifold, with the same Hessian eigenvalues (the authors' Table 1 protocol).
    pub fn random_with_gauge(d: usize, depth: usize, seed: u64, gauge_seed: u64) -> Result<Self> {
        if d == 0 || depth == 0 {
            return Err(Error::config("linear net", format!("d = {d}, depth = {depth}"), "d ≥ 1 and depth ≥ 1"));
        }
        let mut noise = SeededNoise::new(seed, 0);
        let r = DMatrix::from_vec(d, d, noise.normal_vec(d * d));
        let sigma_yx = (&r * r.transpose()) / (d as f64).sqrt();
        let sigma_x = DMatrix::<f64>::identity(d, d);
        // Σx = I, so T = Σyx; symmetrise against round-off before the eigen-root.
        let t = (&sigma_yx + sigma_yx.transpose()) * 0.5;
        let eig = t.clone().symmetric_eigen();
        let mut t_eigenvalues: Vec<f64> = eig.eigenvalues.iter().map(|&x| x.max(0.0)).collect();
        let root_diag = DMatrix::from_diagonal(&nalgebra::DVector::from_iterator(
            d,
            t_eigenvalues.iter().map(|&x| x.powf(1.0 / depth as f64)),
        ));
        let root_diagonal: Vec<f64> = root_diag.diagonal().iter().copied().collect();
        let q = eig.eigenvectors;
        let root = &q * root_diag * q.transpose();
        t_eigenvalues.sort_by(f64::total_cmp);

        let (weights, layer_bases) = if depth == 1 {
            (vec![t.clone()], vec![q.clone(), q])
        } else {
            let p = random_orthogonal(d, &mut SeededNoise::new(gauge_seed, 1));
            let weights = (0..depth)
                .map(|i| match i {
                    0 => &p * &root,
                    i if i == depth - 1 => &root * p.transpose(),
                    _ => &p * &root * p.transpose(),
                })
                .collect();
            let pq = &p * &q;
            let bases = (0..=depth).map(|k| if k == 0 || k == depth { q.clone() } else { pq.clone() }).collect();
            (weights, bases)
        };
        Ok(Self {
            d,
            depth,
            seed,
            gauge_seed,
            sigma_x,
            sigma_yx,
            t,
            t_eigenvalues,
            weights,
            layer_bases,
            root_diagonal,
        })
    }

    /// The net with these weights on `device`.
    pub fn net(&self, device: &Device) -> LinearNet {
        let weights = self.weights.iter().map(|w| Param::from_tensor(matrix_to_tensor(w, device))).collect();
        LinearNet { weights, kernels: hessrank_kernels::Kernels::default() }
    }

    /// The population objective with Σx, Σyx on `device` (constant term 0).
    pub fn objective(&self, device: &Device) -> PopulationObjective {
        let (sigma_x, sigma_yx) = (matrix_to_tensor(&self.sigma_x, device), matrix_to_tensor(&self.sigma_yx, device));
        PopulationObjective::new(sigma_x, sigma_yx, 0.0).expect("Σx [d, d] and Σyx [d, d] of a checked minimum")
    }

    /// The loss at every global minimum, −tr(T Σx Tᵀ).
    pub fn min_loss(&self) -> f64 {
        -(&self.t * &self.sigma_x * self.t.transpose()).trace()
    }

    /// The closed-form Hessian at this minimum.
    pub fn hessian(&self) -> ClosedFormHessian {
        ClosedFormHessian::new(self.weights.clone(), self.sigma_x.clone())
    }

    /// The Hessian at this minimum in the layers' eigenbases: the same matrix as [`Self::hessian`]
    /// up to an orthogonal change of coordinates, with a product that costs O(M d²), not O(M d³).
    pub fn hessian_in_eigenbasis(&self) -> EigenbasisHessian {
        EigenbasisHessian::new(self.layer_bases.clone(), &self.root_diagonal)
    }

    /// The d² eigenvalues of the Hessian that are nonzero when T is nonsingular,
    /// 2 Σ_{j=0}^{M−1} t_k^{2j/M} t_l^{2(M−1−j)/M} over pairs (t_k, t_l), sorted descending; the other
    /// M d² − d² eigenvalues are zero.
    pub fn hessian_eigenvalues(&self) -> Vec<f64> {
        let m = self.depth as f64;
        let mut out = Vec::with_capacity(self.d * self.d);
        for &tk in &self.t_eigenvalues {
            for &tl in &self.t_eigenvalues {
                let s: f64 = (0..self.depth)
                    .map(|j| tk.powf(2.0 * j as f64 / m) * tl.powf(2.0 * (self.depth - 1 - j) as f64 / m))
                    .sum();
                out.push(2.0 * s);
            }
        }
        out.sort_by(|a, b| b.total_cmp(a));
        out
    }
}

/// A Haar-random orthogonal matrix: QR of a Gaussian matrix with the signs of R's diagonal folded in.
fn random_orthogonal(d: usize, noise: &mut SeededNoise) -> DMatrix<f64> {
    let g = DMatrix::from_vec(d, d, noise.normal_vec(d * d));
    let qr = g.qr();
    let (mut q, r) = (qr.q(), qr.r());
    for j in 0..d {
        if r[(j, j)] < 0.0 {
            q.column_mut(j).neg_mut();
        }
    }
    q
}
