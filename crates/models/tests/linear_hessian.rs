//! The linear net's closed-form Hessian (eq. 24–25) against a finite-difference Hessian of the Burn
//! loss, its rank d_x·d_y, its structured product (up to Table 1's d = 64), its analytic spectrum, and
//! the same Hessian in the layers' eigenbases.

use crate::common::*;
use hessrank_core::LinearOperator;
use hessrank_core::noise::SeededNoise;
use hessrank_models::GlobalMinimum;
use nalgebra::{DMatrix, DVector};

#[test]
fn closed_form_equals_finite_difference_hessian_of_the_burn_loss() {
    let device = f64_device();
    let min = GlobalMinimum::random(4, 3, 5).unwrap();
    let net = min.net(&device);
    let objective = min.objective(&device);
    // The population loss is a polynomial of degree 2M in θ: central differences are exact up to
    // O(ε²) terms and round-off; ε = 1e-5 balances the two in f64.
    let fd = fd_hessian(&objective, &net, 1e-5);
    let exact = min.hessian().dense();
    let rel = max_abs(&(&fd - &exact)) / max_abs(&exact);
    assert!(rel < 1e-6, "max |H_fd − H| / max |H| = {rel:e}");
}

fn sorted_eigenvalues(h: &DMatrix<f64>) -> Vec<f64> {
    let mut ev: Vec<f64> = h.clone().symmetric_eigen().eigenvalues.iter().copied().collect();
    ev.sort_by(|a, b| b.total_cmp(a));
    ev
}

#[test]
fn numerical_rank_is_dx_dy_for_several_sizes() {
    for (d, depth, seed) in [(2, 2, 1), (3, 4, 2), (4, 3, 3), (5, 2, 4), (6, 5, 5), (8, 5, 6)] {
        let h = GlobalMinimum::random(d, depth, seed).unwrap().hessian().dense();
        assert_eq!(h.nrows(), depth * d * d);
        let ev = sorted_eigenvalues(&h);
        let rank = ev.iter().filter(|&&x| x > 1e-9 * ev[0]).count();
        assert_eq!(rank, d * d, "d={d} M={depth}: rank {rank}");
        assert!(ev.iter().all(|&x| x > -1e-9 * ev[0]), "H must be PSD");
    }
}

#[test]
fn structured_product_equals_dense_matrix_times_vector() {
    let min = GlobalMinimum::random(6, 4, 8).unwrap();
    let op = min.hessian();
    let h = op.dense();
    let mut noise = SeededNoise::new(3, 0);
    for _ in 0..3 {
        let v = noise.normal_vec(op.dim());
        let hv = apply(&op, &v);
        let dense = &h * DVector::from_vec(v);
        let err = hv.iter().zip(dense.iter()).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        assert!(err < 1e-10 * dense.amax(), "structured vs dense: {err:e}");
    }
}

#[test]
fn spectrum_matches_the_analytic_eigenvalues() {
    for (d, depth, seed) in [(3, 2, 1), (4, 3, 2), (5, 5, 3)] {
        let min = GlobalMinimum::random(d, depth, seed).unwrap();
        let ev = sorted_eigenvalues(&min.hessian().dense());
        let analytic = min.hessian_eigenvalues();
        for (k, (a, b)) in ev.iter().zip(&analytic).enumerate() {
            assert!((a - b).abs() <= 1e-9 * analytic[0], "d={d} M={depth}: λ_{k} = {a} vs analytic {b}");
        }
        assert!(ev[d * d..].iter().all(|x| x.abs() <= 1e-9 * ev[0]), "the other M d² − d² eigenvalues are zero");
    }
}

/// A x.
fn apply(op: &dyn LinearOperator, x: &[f64]) -> Vec<f64> {
    let mut y = vec![0.0; op.dim()];
    op.matvec(x, &mut y);
    y
}

/// max |a − b| / max |b|.
fn rel_err(a: &[f64], b: &[f64]) -> f64 {
    let err = a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max);
    err / b.iter().map(|x| x.abs()).fold(0.0, f64::max)
}

#[test]
fn kronecker_product_equals_the_dense_closed_form_at_d_64() {
    // Table 1's fourth width (depth 5, 20,480 parameters). The dense H = 2ΦΦᵀ would be 3.4 GB, so
    // the dense side is Φ itself (20,480 × 4,096, built entry by entry from eq. 25) applied twice.
    let min = GlobalMinimum::random_with_gauge(64, 5, 17, 18).unwrap();
    let op = min.hessian();
    let phi = op.phi();
    let mut noise = SeededNoise::new(4, 0);
    for _ in 0..2 {
        let v = noise.normal_vec(op.dim());
        let hv = apply(&op, &v);
        let dense = (&phi * phi.tr_mul(&DVector::from_vec(v))) * 2.0;
        let rel = rel_err(&hv, dense.as_slice());
        assert!(rel < 1e-11, "d = 64: eq. 26 vs 2ΦΦᵀv: {rel:e}");
    }
}

#[test]
fn eigenbasis_hessian_is_the_closed_form_in_orthonormal_coordinates() {
    for (d, depth, seed) in [(5, 4, 1), (4, 1, 2), (3, 2, 3), (6, 5, 4), (64, 5, 5)] {
        let min = GlobalMinimum::random_with_gauge(d, depth, seed, seed + 100).unwrap();
        let (h, h_rot) = (min.hessian(), min.hessian_in_eigenbasis());
        assert_eq!(h_rot.dim(), h.dim());
        let mut noise = SeededNoise::new(seed, 0);
        for _ in 0..2 {
            let x = noise.normal_vec(h.dim());
            let x_rot = h_rot.to_eigenbasis(&x);
            // S is orthogonal: it keeps norms and S Sᵀ x = x.
            let norm = |v: &[f64]| v.iter().map(|a| a * a).sum::<f64>().sqrt();
            assert!((norm(&x_rot) / norm(&x) - 1.0).abs() < 1e-12, "d={d} M={depth}: ‖Sᵀx‖ ≠ ‖x‖");
            assert!(rel_err(&h_rot.from_eigenbasis(&x_rot), &x) < 1e-12, "d={d} M={depth}: S Sᵀ x ≠ x");
            // H x = S H̃ Sᵀ x.
            let rel = rel_err(&h_rot.from_eigenbasis(&apply(&h_rot, &x_rot)), &apply(&h, &x));
            assert!(rel < 1e-11, "d={d} M={depth}: S H̃ Sᵀ x vs H x: {rel:e}");
        }
    }
}

#[test]
fn eigenbasis_hessian_has_the_analytic_spectrum() {
    let min = GlobalMinimum::random_with_gauge(4, 3, 7, 8).unwrap();
    let op = min.hessian_in_eigenbasis();
    let n = op.dim();
    let mut dense = DMatrix::zeros(n, n);
    for j in 0..n {
        let mut e = vec![0.0; n];
        e[j] = 1.0;
        dense.set_column(j, &DVector::from_vec(apply(&op, &e)));
    }
    let ev = sorted_eigenvalues(&dense);
    let analytic = min.hessian_eigenvalues();
    for (k, (a, b)) in ev.iter().zip(&analytic).enumerate() {
        assert!((a - b).abs() <= 1e-12 * analytic[0], "λ_{k} = {a} vs analytic {b}");
    }
    assert!(ev[16..].iter().all(|x| x.abs() <= 1e-12 * ev[0]), "the other M d² − d² eigenvalues are zero");
}
