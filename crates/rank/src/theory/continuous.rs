//! Continuous-time results: Theorem 1's expected loss curve and its consequences.

use nalgebra::{DMatrix, DVector};

/// Symmetric square root and inverse square root of an SPD matrix.
fn sqrt_and_inv_sqrt(g: &DMatrix<f64>) -> (DMatrix<f64>, DMatrix<f64>) {
    let e = g.clone().symmetric_eigen();
    let v = &e.eigenvectors;
    let s = DMatrix::from_diagonal(&e.eigenvalues.map(f64::sqrt));
    let si = DMatrix::from_diagonal(&e.eigenvalues.map(|x| 1.0 / x.sqrt()));
    (v * s * v.transpose(), v * si * v.transpose())
}

/// The OU model of LD near a stationary point: Hessian H, preconditioner G, noise covariance Σ.
///
/// Internally GH = G^½ (G^½ H G^½) G^{−½} = G^½ V Λ Vᵀ G^{−½}, so every matrix function of GH is
/// computed from the symmetric eigendecomposition of A = G^½ H G^½.
#[derive(Debug, Clone)]
pub struct OuModel {
    /// Eigenvalues λ of A = G^½ H G^½ (equal to those of GH).
    pub lambda: DVector<f64>,
    /// M = Vᵀ G^½ Σ G^½ V: the noise seen in A's eigenbasis.
    m: DMatrix<f64>,
    /// Tr(ΣG).
    trace_sigma_g: f64,
}

impl OuModel {
    /// Builds the model for H, G (SPD) and Σ.
    pub fn new(h: &DMatrix<f64>, g: &DMatrix<f64>, sigma: &DMatrix<f64>) -> Self {
        let (gs, _) = sqrt_and_inv_sqrt(g);
        let a = &gs * h * &gs;
        let a = (&a + a.transpose()) * 0.5;
        let e = a.symmetric_eigen();
        let v = e.eigenvectors;
        // In φ = G^{−½}θ the process is dφ = −Aφ dt + G^½Σ^½ dn, so E f = ½ Tr(A Cov φ_t)
        // = ¼ Σ_i M_ii (1 − e^{−2λ_i t}) with M = Vᵀ G^½ Σ G^½ V. This is ¼ Tr(GΣ(I − e^{−2GHt}))
        // = ¼ Tr(ΣG(I − e^{−2HGt})); it equals the paper's printed ¼ Tr(ΣG(I − e^{−2GHt}))
        // whenever Σ and G commute — always in Algorithm 1 (Σ = σ²G⁻¹) and for diagonal G and Σ.
        let m = v.transpose() * &gs * sigma * &gs * &v;
        let trace_sigma_g = (sigma * g).trace();
        Self { lambda: e.eigenvalues, m, trace_sigma_g }
    }

    /// Theorem 1: E[f(θ_t)] = ¼ Tr(GΣ(I − e^{−2GHt})) for θ_0 = θ* (loss measured from f(θ*)); the
    /// paper's ¼ Tr(ΣG(I − e^{−2GHt})) when Σ and G commute (see [`OuModel::new`]).
    pub fn expected_loss(&self, t: f64) -> f64 {
        let decay: f64 = (0..self.lambda.len()).map(|i| self.m[(i, i)] * (-2.0 * self.lambda[i] * t).exp()).sum();
        0.25 * (self.trace_sigma_g - decay)
    }

    /// eq. 13: d/dt E[f(θ_t)] = ½ Σ_i M_ii λ_i e^{−2λ_i t} (= ½ Tr(ΣG GH e^{−2GHt}) when Σ, G commute).
    pub fn expected_loss_slope(&self, t: f64) -> f64 {
        0.5 * (0..self.lambda.len())
            .map(|i| self.m[(i, i)] * self.lambda[i] * (-2.0 * self.lambda[i] * t).exp())
            .sum::<f64>()
    }

    /// Proposition 1 (H PSD): lim E[f] = ¼ Tr(ΣG P J P⁻¹), J selecting the eigenvalues of GH above
    /// `zero_tol` (relative to the largest).
    pub fn limit(&self, zero_tol: f64) -> f64 {
        let max = self.lambda.iter().fold(0.0f64, |a, &x| a.max(x.abs()));
        0.25 * (0..self.lambda.len()).filter(|&i| self.lambda[i] > zero_tol * max).map(|i| self.m[(i, i)]).sum::<f64>()
    }

    /// Tr(ΣG).
    pub fn trace_sigma_g(&self) -> f64 {
        self.trace_sigma_g
    }
}

/// Theorem 1 in Algorithm 1's setting, Σ = σ²G⁻¹ (so ΣG = σ²I): E[f(θ_t)] = σ²/4 Σ_i (1 − e^{−2μ_i t})
/// over the eigenvalues μ_i of G^½HG^½, from the spectrum alone (no dense matrices). Its limit is
/// Proposition 1's σ²/4 · rank(H).
pub fn algorithm1_expected_loss(mu: &[f64], sigma2: f64, t: f64) -> f64 {
    sigma2 / 4.0 * mu.iter().map(|&m| -(-2.0 * m * t).exp_m1()).sum::<f64>()
}

/// Corollary 1 (H PD): lim E[f] = ¼ Tr(ΣG).
pub fn cor1_pd_limit(g: &DMatrix<f64>, sigma: &DMatrix<f64>) -> f64 {
    0.25 * (sigma * g).trace()
}

/// Corollary 3: the G with ‖G‖_F = 1 that maximises the limit ¼ Tr(ΣG) is Σ/‖Σ‖_F.
pub fn cor3_best_preconditioner(sigma: &DMatrix<f64>) -> DMatrix<f64> {
    sigma / sigma.norm()
}

/// Proposition 3: with G_θ = I and G_ψ = Σ^{−½} rescaled to the same Frobenius norm, returns the
/// two limits (¼ Tr(Σ G_θ), ¼ Tr(Σ G_ψ)) for a PD Hessian. The proposition says the first is larger
/// whenever Tr Σ > n.
pub fn prop3_sgd_beats_adam_like(sigma: &DMatrix<f64>) -> (f64, f64) {
    let n = sigma.nrows();
    let (_, inv_sqrt) = sqrt_and_inv_sqrt(sigma);
    let g_theta = DMatrix::<f64>::identity(n, n);
    let g_psi = &inv_sqrt * (g_theta.norm() / inv_sqrt.norm());
    (cor1_pd_limit(&g_theta, sigma), cor1_pd_limit(&g_psi, sigma))
}

/// Proposition 4: at a saddle (λ_min(GH) < 0), the escape time satisfies
/// t_esc ≤ log(Tr(ΣG)/λ_min(ΣG)) / |2 λ_min(GH)|.
pub fn prop4_escape_time_bound(h: &DMatrix<f64>, g: &DMatrix<f64>, sigma: &DMatrix<f64>) -> f64 {
    let (gs, _) = sqrt_and_inv_sqrt(g);
    let a = &gs * h * &gs;
    let lmin_gh = a.symmetric_eigen().eigenvalues.min();
    let sg = &gs * sigma * &gs; // similar to ΣG
    let lmin_sg = sg.clone().symmetric_eigen().eigenvalues.min();
    (sg.trace() / lmin_sg).ln() / (2.0 * lmin_gh).abs()
}

/// eq. 14: with G = Σ^{−½}, the slope of the expected loss at t = 0 is ½ Tr(H). Returns the slope
/// computed from eq. 13 for that G, so callers can compare it with ½ Tr(H).
pub fn eq14_initial_slope(h: &DMatrix<f64>, sigma: &DMatrix<f64>) -> f64 {
    let (_, inv_sqrt) = sqrt_and_inv_sqrt(sigma);
    OuModel::new(h, &inv_sqrt, sigma).expected_loss_slope(0.0)
}
