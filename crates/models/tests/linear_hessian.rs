//! The linear net's closed-form Hessian (eq. 24–25) against a finite-difference Hessian of the Burn
//! loss, its rank d_x·d_y, its structured product and its analytic spectrum.

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
        let mut hv = vec![0.0; op.dim()];
        op.matvec(&v, &mut hv);
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
