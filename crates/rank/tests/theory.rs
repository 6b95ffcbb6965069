//! The paper's closed forms against brute-force computations: Theorem 1 against a numerically
//! integrated Lyapunov equation, Propositions 3–4, Corollaries 1–3, eq. 14, and the discrete-time
//! recursions against direct iteration.

use crate::common::*;
use hessrank_core::noise::SeededNoise;
use hessrank_rank::Scheme;
use hessrank_rank::theory::*;
use nalgebra::DMatrix;

fn random_spd(n: usize, seed: u64, shift: f64) -> DMatrix<f64> {
    let a = DMatrix::from_vec(n, n, SeededNoise::new(seed, 3).normal_vec(n * n));
    &a * a.transpose() / n as f64 + DMatrix::identity(n, n) * shift
}

/// E f(θ_t) = ½ Tr(H C_t) with dC/dt = −GH C − C HG + GΣG, C_0 = 0, integrated by RK4.
fn lyapunov_expected_loss(h: &DMatrix<f64>, g: &DMatrix<f64>, sigma: &DMatrix<f64>, t: f64, steps: usize) -> f64 {
    let gh = g * h;
    let q = g * sigma * g;
    let f = |c: &DMatrix<f64>| -(&gh * c) - c * gh.transpose() + &q;
    let dt = t / steps as f64;
    let mut c = DMatrix::zeros(h.nrows(), h.ncols());
    for _ in 0..steps {
        let k1 = f(&c);
        let k2 = f(&(&c + &k1 * (dt / 2.0)));
        let k3 = f(&(&c + &k2 * (dt / 2.0)));
        let k4 = f(&(&c + &k3 * dt));
        c += (k1 + k2 * 2.0 + k3 * 2.0 + k4) * (dt / 6.0);
    }
    0.5 * (h * c).trace()
}

#[test]
fn theorem1_matches_the_integrated_covariance_for_non_commuting_g_and_sigma() {
    let n = 5;
    let mut ev = log_spaced(0.2, 2.0, 4);
    ev.push(0.0); // a PSD Hessian with a null direction
    let h = with_spectrum(&ev, 1);
    let g = random_spd(n, 2, 0.3);
    let sigma = random_spd(n, 3, 0.1);
    let ou = OuModel::new(&h, &g, &sigma);
    for t in [0.1, 0.5, 2.0, 8.0] {
        let brute = lyapunov_expected_loss(&h, &g, &sigma, t, 4000);
        let closed = ou.expected_loss(t);
        assert!((brute - closed).abs() < 1e-8 * brute.abs().max(1e-12), "t = {t}: {brute} vs {closed}");
    }
    // Proposition 1: the limit, reached for t ≫ 1/λ_min+.
    let far = ou.expected_loss(500.0);
    assert!((far - ou.limit(1e-10)).abs() < 1e-10, "{far} vs {}", ou.limit(1e-10));
    // Corollary 2: with Σ = σ²G⁻¹ the limit is σ²/4 · rank(H) = σ² for rank 4.
    let sigma2 = 0.3;
    let ou2 = OuModel::new(&h, &g, &(g.clone().try_inverse().unwrap() * sigma2));
    assert!((ou2.limit(1e-10) - sigma2 / 4.0 * 4.0).abs() < 1e-12);
    // Algorithm 1's form of Theorem 1 from the spectrum of G^½HG^½ alone, against the integrated
    // covariance with Σ = σ²G⁻¹.
    let g_diag: Vec<f64> = (0..n).map(|i| g[(i, i)]).collect();
    let g_d = DMatrix::from_diagonal(&nalgebra::DVector::from_vec(g_diag.clone()));
    let mu = mode_eigenvalues(&h, &g_diag);
    let sigma_alg1 = g_d.clone().try_inverse().unwrap() * sigma2;
    for t in [0.1, 2.0, 8.0] {
        let brute = lyapunov_expected_loss(&h, &g_d, &sigma_alg1, t, 4000);
        let spectral = algorithm1_expected_loss(&mu, sigma2, t);
        assert!((brute - spectral).abs() < 1e-8 * brute.abs(), "t = {t}: {brute} vs {spectral}");
    }
}

#[test]
fn corollary1_pd_limit_and_eq14_slope() {
    let n = 6;
    let h = random_spd(n, 4, 0.5);
    let g = random_spd(n, 5, 0.5);
    let sigma = random_spd(n, 6, 0.2);
    let ou = OuModel::new(&h, &g, &sigma);
    assert!((ou.limit(1e-12) - cor1_pd_limit(&g, &sigma)).abs() < 1e-12);
    // eq. 14: with G = Σ^{−½} the initial slope is ½ Tr(H).
    let slope = eq14_initial_slope(&h, &sigma);
    assert!((slope - 0.5 * h.trace()).abs() < 1e-10 * h.trace(), "{slope} vs {}", 0.5 * h.trace());
    // …and it is the derivative of Theorem 1's curve (central difference).
    let dt = 1e-5;
    let fd = (ou.expected_loss(0.3 + dt) - ou.expected_loss(0.3 - dt)) / (2.0 * dt);
    assert!((fd - ou.expected_loss_slope(0.3)).abs() < 1e-7);
}

#[test]
fn corollary3_and_proposition3_hold_on_random_instances() {
    for seed in 0..20 {
        let n = 5;
        let sigma = random_spd(n, 100 + seed, 0.05) * (1.0 + seed as f64 * 0.3);
        let best = cor3_best_preconditioner(&sigma);
        let best_value = cor1_pd_limit(&best, &sigma);
        // Any other G with ‖G‖_F = 1 gives no more.
        let other = random_spd(n, 200 + seed, 0.1);
        let other = &other / other.norm();
        assert!(cor1_pd_limit(&other, &sigma) <= best_value + 1e-12);
        assert!((best.norm() - 1.0).abs() < 1e-12);
        // Proposition 3: Tr Σ > n ⇒ G = I gives the higher loss at equal Frobenius norm.
        let (sgd, adam_like) = prop3_sgd_beats_adam_like(&sigma);
        if sigma.trace() > n as f64 {
            assert!(sgd > adam_like, "seed {seed}: Tr Σ = {} but {sgd} ≤ {adam_like}", sigma.trace());
        }
    }
}

#[test]
fn proposition4_bounds_the_escape_time_from_a_saddle() {
    let n = 4;
    let h = with_spectrum(&[1.0, 0.5, -0.3, 0.2], 9);
    let g = random_spd(n, 7, 0.5);
    let sigma = random_spd(n, 8, 0.5);
    let ou = OuModel::new(&h, &g, &sigma);
    let bound = prop4_escape_time_bound(&h, &g, &sigma);
    // The first time the expected loss drops below f(θ_0) = 0, on a fine grid.
    let escape = (1..200_000).map(|i| i as f64 * 1e-3).find(|&t| ou.expected_loss(t) < 0.0).expect("escapes");
    assert!(escape <= bound, "escape at {escape}, bound {bound}");
}

/// Direct iteration of one mode's variance, x_{k+1} = a x_k + c ζ_k.
fn iterate_mode(mu: f64, eta: f64, sigma2: f64, scheme: Scheme, k: usize) -> f64 {
    let a = 1.0 - eta * mu;
    let c2 = eta * sigma2;
    // State covariance of (x_k, ξ_k): v = Var x, p = E[x ξ_k].
    let (mut v, mut p) = (0.0, 0.0);
    for _ in 0..k {
        (v, p) = match scheme {
            Scheme::EulerMaruyama => (a * a * v + c2, 0.0),
            // x_{k+1} = a x_k + (c/2) ξ_k + (c/2) ξ_{k+1}; E[x_{k+1} ξ_{k+1}] = c/2.
            Scheme::LeimkuhlerMatthews => (a * a * v + c2 / 2.0 + a * c2.sqrt() * p, c2.sqrt() / 2.0),
        };
    }
    0.5 * mu * v
}

#[test]
fn discrete_theory_matches_direct_iteration_and_its_limits() {
    let mu = vec![0.0, 0.05, 0.4, 1.3, 3.0];
    let (eta, sigma2) = (0.5, 0.2);
    for scheme in [Scheme::EulerMaruyama, Scheme::LeimkuhlerMatthews] {
        let th = DiscreteTheory { mu: mu.clone(), eta, sigma2, scheme };
        assert!(th.is_stable());
        for k in [0, 1, 2, 7, 50, 400] {
            let direct: f64 = mu.iter().map(|&m| iterate_mode(m, eta, sigma2, scheme, k)).sum();
            assert!(
                (th.expected_loss(k) - direct).abs() < 1e-12,
                "{scheme:?} k={k}: {} vs {direct}",
                th.expected_loss(k)
            );
        }
        let (k_tot, k_avg) = (300, 120);
        let direct: f64 = (k_tot - k_avg..k_tot).map(|k| th.expected_loss(k)).sum::<f64>() / k_avg as f64;
        assert!((th.window_mean(k_tot, k_avg) - direct).abs() < 1e-12);
        let stationary = 4.0 / sigma2 * th.expected_loss(100_000);
        assert!(
            (stationary - th.stationary_estimate()).abs() < 1e-9,
            "{scheme:?}: {stationary} vs {}",
            th.stationary_estimate()
        );
    }
    // LM is exact: 4 nonzero modes; EM inflates by 1/(1 − ημ/2).
    let lm = DiscreteTheory { mu: mu.clone(), eta, sigma2, scheme: Scheme::LeimkuhlerMatthews };
    assert!((lm.stationary_estimate() - 4.0).abs() < 1e-12);
    let em = DiscreteTheory { mu, eta, sigma2, scheme: Scheme::EulerMaruyama };
    assert!((em.stationary_estimate() - (1.0 / (1.0 - 0.0125) + 1.0 / 0.9 + 1.0 / 0.675 + 1.0 / 0.25)).abs() < 1e-12);
}

#[test]
fn breakdown_takes_the_expectation_apart_by_mode() {
    // Three modes far too slow for the run (μ K η ≪ 1), two equilibrated, one zero.
    let mu = vec![2e-6, 0.0, 1e-6, 1.5, 5e-6, 0.9];
    let (eta, sigma2, k_tot, k_avg) = (0.5, 1e-3, 3000, 2000);
    for scheme in [Scheme::EulerMaruyama, Scheme::LeimkuhlerMatthews] {
        let th = DiscreteTheory { mu: mu.clone(), eta, sigma2, scheme };
        let each = th.mode_estimates(k_tot, k_avg);
        assert_eq!(each.len(), 5, "zero modes are left out");
        // Each share is 4/σ² × that mode's window mean, from its own recursion iterated directly.
        for &(m, share) in &each {
            let direct: f64 =
                (k_tot - k_avg..k_tot).map(|k| iterate_mode(m, eta, sigma2, scheme, k)).sum::<f64>() / k_avg as f64;
            assert!((share - 4.0 / sigma2 * direct).abs() < 1e-9, "{scheme:?} μ = {m}: {share} vs {direct}");
        }
        let b = th.breakdown(k_tot, k_avg, 0.9);
        let whole = th.expected_estimate(k_tot, k_avg);
        assert!((b.expected_estimate() - whole).abs() < 1e-9, "{b:?} vs {whole}");
        // The three slow modes hold back nearly all of three; 90 % of that needs all three.
        assert!(b.deficit > 2.95 && b.deficit < 3.0, "{scheme:?}: {b:?}");
        assert_eq!((b.slow_modes, b.slow_mu), (3, 5e-6), "{scheme:?}");
        match scheme {
            // EM's equilibrated modes are inflated by 1/(1 − ημ/2).
            Scheme::EulerMaruyama => {
                let want = 1.0 / (1.0 - 0.375) - 1.0 + 1.0 / (1.0 - 0.225) - 1.0;
                assert!((b.inflation - want).abs() < 1e-9, "{b:?} vs {want}");
            }
            Scheme::LeimkuhlerMatthews => assert!(b.inflation < 1e-12, "{b:?}"),
        }
    }
}

#[test]
fn discrete_theory_is_finite_and_exact_at_zero_tiny_and_unit_step_modes() {
    // Eigen-solvers return exact zeros and positive μ far below 1/η; η μ = 1 makes r = (1 − ημ)² = 0.
    let (eta, sigma2) = (0.25, 1e-5);
    let mu = vec![0.0, 1e-20, 1e-12, 1.0 / eta, 0.3];
    for scheme in [Scheme::EulerMaruyama, Scheme::LeimkuhlerMatthews] {
        for (k_tot, k_avg) in [(40, 40), (500, 500), (500, 120)] {
            let th = DiscreteTheory { mu: mu.clone(), eta, sigma2, scheme };
            // Direct iteration of every mode's recursion, averaged over the window.
            let direct: f64 = (k_tot - k_avg..k_tot)
                .map(|k| mu.iter().map(|&m| iterate_mode(m, eta, sigma2, scheme, k)).sum::<f64>())
                .sum::<f64>()
                / k_avg as f64;
            let got = th.window_mean(k_tot, k_avg);
            assert!(got.is_finite(), "{scheme:?} K = {k_tot}/{k_avg}: {got}");
            assert!((got - direct).abs() <= 1e-11 * direct.abs(), "{scheme:?} K = {k_tot}/{k_avg}: {got} vs {direct}");
            for k in [0, 1, 2, 39] {
                let direct: f64 = mu.iter().map(|&m| iterate_mode(m, eta, sigma2, scheme, k)).sum();
                let got = th.expected_loss(k);
                assert!(
                    (got - direct).abs() <= 1e-11 * direct.abs().max(1e-300),
                    "{scheme:?} k = {k}: {got} vs {direct}"
                );
            }
        }
        // The tiny modes alone: their contribution is ½ μ k c² to first order, not NaN and not 0/0.
        let tiny = DiscreteTheory { mu: vec![1e-20], eta, sigma2, scheme };
        let direct = iterate_mode(1e-20, eta, sigma2, scheme, 300);
        let got = tiny.expected_loss(300);
        assert!(got > 0.0 && (got / direct - 1.0).abs() < 1e-9, "{scheme:?}: {got} vs {direct}");
    }
}

#[test]
fn mode_eigenvalues_survive_exactly_zero_rows_and_equal_the_scaled_spectrum() {
    // H = diag(3, 0, 2, 0, 5) with one coupled pair: the [0, 2] block is [[3, 1], [1, 2]]; rows 1
    // and 3 are exactly zero (parameters the loss cannot see). G = (4, 7, 1, 9, 0.5).
    let mut h = DMatrix::<f64>::zeros(5, 5);
    h[(0, 0)] = 3.0;
    h[(2, 2)] = 2.0;
    h[(0, 2)] = 1.0;
    h[(2, 0)] = 1.0;
    h[(4, 4)] = 5.0;
    let g = [4.0, 7.0, 1.0, 9.0, 0.5];
    let mu = mode_eigenvalues(&h, &g);
    // G^½HG^½ on the live rows: [[12, 2], [2, 2]] and 2.5; its 2×2 eigenvalues are 7 ± √29.
    let want = [0.0, 0.0, 7.0 - 29f64.sqrt(), 2.5, 7.0 + 29f64.sqrt()];
    assert_eq!(mu.len(), 5);
    for (m, w) in mu.iter().zip(want) {
        assert!((m - w).abs() < 1e-12, "{mu:?} vs {want:?}");
    }
}
