//! U&S as published (Ubaru and Saad's MATLAB code, as the paper's authors ran it) against
//! independent truths: the exact trace of its filter computed from known eigenvalues by
//! quadrature, the gap rule on a hand-built density of states, and a matrix with a clean gap.

use crate::common::*;
use hessrank_core::DenseOperator;
use hessrank_rank::baselines::{
    GapRule, PUBLISHED_MARGIN, UbaruSaad, UbaruSaadConfig, chebyshev_blowup, published_dos, published_dos_grid,
    published_gap,
};

fn dense(m: &nalgebra::DMatrix<f64>) -> DenseOperator {
    DenseOperator::new(m.nrows(), row_major(m)).unwrap()
}

/// Σ_i p(λ_i) for the published filter, computed independently of the crate: the step function's
/// Chebyshev coefficients by Gauss–Chebyshev quadrature (N nodes), Lanczos σ-damping, T_k by the
/// three-term recurrence.
fn filter_trace_by_quadrature(eigenvalues: &[f64], eps: f64, lambda_max: f64, degree: usize) -> f64 {
    let (lmin, lmax) = (-PUBLISHED_MARGIN, lambda_max);
    let (c, h) = ((lmax + lmin) / 2.0, (lmax - lmin) / 2.0);
    let t_eps = (eps - c) / h;
    let nodes = 400_000;
    let cheb = |t: f64| {
        let mut t_k = vec![1.0, t];
        for k in 2..=degree {
            t_k.push(2.0 * t * t_k[k - 1] - t_k[k - 2]);
        }
        t_k
    };
    let mut coeff = vec![0.0; degree + 1];
    for j in 0..nodes {
        let t = (std::f64::consts::PI * (j as f64 + 0.5) / nodes as f64).cos();
        if t >= t_eps {
            for (ck, tk) in coeff.iter_mut().zip(cheb(t)) {
                *ck += tk;
            }
        }
    }
    let th = std::f64::consts::PI / (degree as f64 + 1.0);
    for (k, ck) in coeff.iter_mut().enumerate() {
        let sigma = if k == 0 { 1.0 } else { (k as f64 * th).sin() / (k as f64 * th) };
        *ck *= sigma * if k == 0 { 1.0 } else { 2.0 } / nodes as f64;
    }
    eigenvalues.iter().map(|&l| coeff.iter().zip(cheb((l - c) / h)).map(|(a, b)| a * b).sum::<f64>()).sum()
}

#[test]
fn published_us_is_an_unbiased_trace_of_its_filter_on_a_known_spectrum() {
    // n = 120: 50 eigenvalues log-spaced in [0.02, 5], 70 zeros; a gap-free lower end on purpose.
    let mut ev = log_spaced(0.02, 5.0, 50);
    ev.extend([0.0; 70]);
    let us = UbaruSaad::estimate(&dense(&with_spectrum(&ev, 9)), &UbaruSaadConfig { seed: 4, ..Default::default() });
    assert_eq!(us.config.gap_rule, GapRule::Published);
    let exact = filter_trace_by_quadrature(&ev, us.threshold, us.lambda_max, 50);
    println!(
        "published U&S: {:.2} ± {:.2}, ε = {:.4}, exact filter trace {exact:.2}",
        us.rank, us.stderr, us.threshold
    );
    assert!((us.rank - exact).abs() < 3.0 * us.stderr, "{} ± {} vs {exact}", us.rank, us.stderr);
    assert!(us.stderr < 0.05 * exact, "300 unit probes: {}", us.stderr);
    // λ_max is the top eigenvalue plus the published margin.
    assert!((us.lambda_max - 5.0 - PUBLISHED_MARGIN).abs() < 1e-6, "{}", us.lambda_max);
    assert_eq!(us.dos.len(), 125);
}

#[test]
fn published_us_finds_a_clean_gap() {
    // Rank 64 of n = 100 with eigenvalues in [2, 10] and a clean gap down to 0.
    let mut ev = log_spaced(2.0, 10.0, 64);
    ev.extend([0.0; 36]);
    let us = UbaruSaad::estimate(&dense(&with_spectrum(&ev, 2)), &UbaruSaadConfig { seed: 1, ..Default::default() });
    println!("published U&S: {:.2} ± {:.2}, ε = {:.3}", us.rank, us.stderr, us.threshold);
    assert!(us.threshold > 0.0 && us.threshold < 2.0, "ε = {} must lie in the gap (0, 2)", us.threshold);
    assert!((us.rank - 64.0).abs() < 2.0, "{} ± {}", us.rank, us.stderr);
}

#[test]
fn the_published_grid_has_125_points_fine_left_of_zero() {
    let pts = published_dos_grid(100);
    let h = 2.0 / 101.0;
    assert_eq!(pts.len(), 125);
    assert!((pts[0] - (-1.0 + h)).abs() < 1e-15 && (pts[1] - pts[0] - h / 2.0).abs() < 1e-12);
    assert!(pts[99].abs() < 1e-12, "the fine part ends at 0: {}", pts[99]);
    // h, 3h, …, 49h: the last odd multiple of h not above 1 − h = 49.5h.
    assert!((pts[100] - h).abs() < 1e-12 && (pts[124] - 49.0 * h).abs() < 1e-12, "{}", pts[124]);
}

#[test]
fn the_published_gap_rule_on_a_hand_built_dos() {
    // y_i = 20 · 2^{−i} for i < 20 (the spike at 0), 0 up to i = 59, 2 from i = 60 (the bulk).
    // Smoothed z_i = (y_i + y_{i+2} + y_{i+3})/4 = 6.875 · 2^{−i} on the spike, so the slope
    // t_i = −z_i/2 first reaches −0.01 at i₁ = 9 (z_9 = 0.0134); s = Σ_{i ≤ 9} z_i / 126 = 0.10902,
    // the level (1 − s)/4 = 0.2227 is first reached at i₂ = 57 (z_57 = (y_59 + y_60)/4 = 0.5).
    let xx: Vec<f64> = (0..125).map(|i| i as f64 * 0.1).collect();
    let yy: Vec<f64> = (0..125)
        .map(|i| {
            if i < 20 {
                20.0 * 0.5f64.powi(i)
            } else if i < 60 {
                0.0
            } else {
                2.0
            }
        })
        .collect();
    let (i1, i2, eps) = published_gap(&xx, &yy);
    assert_eq!((i1, i2), (9, 57));
    assert!((eps - (0.9 + 5.7) / 2.0).abs() < 1e-12, "{eps}");
    // Values above (npts + 1)/2 = 63 are skipped even where the slope is flat.
    let mut tall = yy.clone();
    tall[0] = 300.0;
    tall[1] = 300.0;
    tall[2] = 300.0;
    tall[3] = 300.0;
    let (i1, _, _) = published_gap(&xx, &tall);
    assert!(i1 >= 2, "a flat top above the tolerance is not a gap: {i1}");
}

#[test]
fn the_published_dos_has_unit_area_and_peaks_where_the_eigenvalues_are() {
    // Moments of a spectrum with all its mass at λ = 3 on [lmin, lmax] = [−1e-5, 4 + 1e-5]:
    // v̄ᵀT_k v̄ = T_k(t₃) for unit probes.
    let (lmin, lmax): (f64, f64) = (-1e-5, 4.0 + 1e-5);
    let t3: f64 = (3.0 - (lmin + lmax) / 2.0) / ((lmax - lmin) / 2.0);
    let mean: Vec<f64> = (0..=50).map(|k| (k as f64 * t3.acos()).cos()).collect();
    let (xx, yy) = published_dos(&mean, lmin, lmax, 100);
    let area = yy.iter().sum::<f64>() * (xx[1] - xx[0]);
    assert!((area - 1.0).abs() < 1e-12);
    let peak = (0..yy.len()).max_by(|&a, &b| yy[a].total_cmp(&yy[b])).unwrap();
    assert!((xx[peak] - 3.0).abs() < 0.2, "peak at {}", xx[peak]);
}

#[test]
fn the_filter_blowup_below_the_psd_interval_is_the_chebyshev_recursion_at_that_point() {
    // Inside the interval (a PSD spectrum): no growth.
    assert_eq!(chebyshev_blowup(0.0, 10.0, 50), 1.0);
    assert_eq!(chebyshev_blowup(-PUBLISHED_MARGIN, 10.0, 50), 1.0);
    // Below it: |T_m(x)| at the mapped point, by the three-term recurrence (not the cosh form).
    for (lmin, lmax, m) in [(-0.01, 10.0, 50usize), (-7.489, 25.67, 50), (-1e-3, 36.2, 50), (-0.5, 2.0, 7)] {
        let (a, b) = (-PUBLISHED_MARGIN, lmax + PUBLISHED_MARGIN);
        let x = (2.0 * lmin - (a + b)) / (b - a);
        let (mut t0, mut t1) = (1.0f64, x);
        for _ in 2..=m {
            (t0, t1) = (t1, 2.0 * x * t1 - t0);
        }
        let got = chebyshev_blowup(lmin, lmax, m);
        assert!((got - t1.abs()).abs() <= 1e-9 * t1.abs(), "λ_min {lmin}: {got} vs |T_{m}| = {}", t1.abs());
    }
    // The PyTorch fixture's spectrum (λ_min −7.49, λ_max 25.67): the degree-50 filter is magnified
    // by ~1e22, which is why U&S returned 9e18 on it.
    assert!(chebyshev_blowup(-7.489, 25.67, 50) > 1e20);
}
