//! The paper's random global minimum of the deep linear net, checked against its defining identities.

use crate::common::*;
use hessrank_core::params::flatten_f64;
use hessrank_core::value_and_grad;
use hessrank_models::GlobalMinimum;
use hessrank_models::linear::tensor_to_matrix;

#[test]
fn product_of_layers_is_t_gradient_vanishes_and_loss_is_the_analytic_minimum() {
    let device = f64_device();
    for (d, depth, seed) in [(4, 3, 1), (8, 5, 2), (16, 5, 3)] {
        let min = GlobalMinimum::random(d, depth, seed).unwrap();
        let net = min.net(&device);
        let a = tensor_to_matrix(&net.product());
        let err = (&a - &min.t).abs().max();
        assert!(err < 1e-10, "d={d} M={depth}: |W_M⋯W_1 − T| = {err:e}");
        // The layers really differ from each other (the random rotation P was applied).
        let w0 = tensor_to_matrix(&net.weights[0].val());
        let w1 = tensor_to_matrix(&net.weights[1].val());
        assert!((&w0 - &w1).abs().max() > 1e-3, "layers should differ after the rotation");

        let objective = min.objective(&device);
        let vg = value_and_grad(&objective, &net);
        let gnorm = vg.grads.sq_norm().sqrt();
        assert!(gnorm <= 1e-9, "d={d} M={depth}: ‖∇L‖ = {gnorm:e}");
        let expected = min.min_loss();
        assert!((vg.loss - expected).abs() <= 1e-10 * expected.abs(), "loss {} vs −tr(TΣxTᵀ) = {expected}", vg.loss);
        assert_eq!(flatten_f64(&net).len(), depth * d * d);
    }
}

#[test]
fn same_seed_same_minimum_other_seed_other_minimum() {
    let a = GlobalMinimum::random(6, 3, 11).unwrap();
    let b = GlobalMinimum::random(6, 3, 11).unwrap();
    let c = GlobalMinimum::random(6, 3, 12).unwrap();
    assert_eq!(a.weights, b.weights);
    assert_ne!(a.sigma_yx, c.sigma_yx);
}

#[test]
fn bad_sizes_are_errors_not_panics() {
    let err = GlobalMinimum::random(0, 5, 0).unwrap_err();
    assert!(
        matches!(&err, hessrank_core::Error::InvalidConfig { field: "linear net", value, .. } if value == "d = 0, depth = 5"),
        "{err}"
    );
}

/// Away from the minimum and with a symmetric Σx ≠ I (so the loss takes its detached-product
/// form), the autodiff gradient equals the closed form ∂L/∂W_k = (W_M⋯W_{k+1})ᵀ · 2(AΣx − Σyx) ·
/// (W_{k−1}⋯W_1)ᵀ and the loss equals tr(AΣxAᵀ) − 2 tr(AΣyxᵀ) + c, both to f64 rounding.
#[test]
fn gradient_and_loss_with_a_symmetric_sigma_x_match_the_closed_form() {
    use hessrank_models::linear::{LinearNet, PopulationObjective, matrix_to_tensor};
    use nalgebra::DMatrix;
    let device = f64_device();
    let (d, depth) = (5, 4);
    let mut noise = hessrank_core::noise::SeededNoise::new(31, 0);
    let mut random = |r: usize, c: usize| DMatrix::from_row_slice(r, c, &noise.normal_vec(r * c));
    let weights: Vec<DMatrix<f64>> = (0..depth).map(|_| random(d, d)).collect();
    let b = random(d, d);
    let m = &b * b.transpose() + DMatrix::identity(d, d);
    let sigma_x = (&m + m.transpose()) * 0.5; // exactly symmetric
    let sigma_yx = random(d, d);
    let net = LinearNet {
        weights: weights.iter().map(|w| burn::module::Param::from_tensor(matrix_to_tensor(w, &device))).collect(),
        kernels: Default::default(),
    };
    let objective =
        PopulationObjective::new(matrix_to_tensor(&sigma_x, &device), matrix_to_tensor(&sigma_yx, &device), 1.5)
            .unwrap();
    let vg = value_and_grad(&objective, &net);

    let product = |ws: &[DMatrix<f64>]| ws.iter().fold(DMatrix::identity(d, d), |acc, w| w * acc);
    let a = product(&weights);
    let loss = (&a * &sigma_x * a.transpose()).trace() - 2.0 * (&a * sigma_yx.transpose()).trace() + 1.5;
    assert!((vg.loss - loss).abs() <= 1e-12 * loss.abs().max(1.0), "loss {} vs {loss}", vg.loss);
    let g = (&a * &sigma_x - &sigma_yx) * 2.0;
    let flat = flatten_f64(&net).len();
    let got = vg.grads.to_flat();
    assert_eq!(got.len(), flat);
    for k in 0..depth {
        let left = product(&weights[k + 1..]);
        let right = product(&weights[..k]);
        let expected = left.transpose() * &g * right.transpose();
        let scale = expected.abs().max();
        for i in 0..d {
            for j in 0..d {
                let v = got[k * d * d + i * d + j];
                assert!(
                    (v - expected[(i, j)]).abs() <= 1e-11 * scale,
                    "∂L/∂W_{k}[{i},{j}] = {v} vs {}",
                    expected[(i, j)]
                );
            }
        }
    }
}

#[test]
fn one_spectrum_seed_with_other_gauges_gives_other_minima_with_the_same_hessian_spectrum() {
    use hessrank_core::LinearOperator;
    let (d, depth) = (3, 3);
    let dense_eigenvalues = |m: &GlobalMinimum| {
        let h = m.hessian();
        let n = h.dim();
        let mut cols = vec![0.0; n * n];
        let (mut e, mut y) = (vec![0.0; n], vec![0.0; n]);
        for j in 0..n {
            e.iter_mut().enumerate().for_each(|(i, x)| *x = if i == j { 1.0 } else { 0.0 });
            h.matvec(&e, &mut y);
            cols[j * n..(j + 1) * n].copy_from_slice(&y);
        }
        let mut ev: Vec<f64> =
            nalgebra::DMatrix::from_vec(n, n, cols).symmetric_eigen().eigenvalues.iter().copied().collect();
        ev.sort_by(|a, b| b.total_cmp(a));
        ev
    };
    let base = GlobalMinimum::random_with_gauge(d, depth, 21, 0).unwrap();
    let base_ev = dense_eigenvalues(&base);
    // The dense Hessian's spectrum is the closed form's d² values and (M − 1)d² zeros.
    let closed = base.hessian_eigenvalues();
    for (i, x) in base_ev.iter().enumerate() {
        let want = closed.get(i).copied().unwrap_or(0.0);
        assert!((x - want).abs() < 1e-9 * closed[0], "eigenvalue {i}: {x} vs {want}");
    }
    for gauge in 1..4 {
        let m = GlobalMinimum::random_with_gauge(d, depth, 21, gauge).unwrap();
        assert_eq!(m.sigma_yx, base.sigma_yx, "one Σyx per spectrum seed");
        assert!((&m.weights[0] - &base.weights[0]).abs().max() > 1e-3, "gauge {gauge}: another P, another point");
        let ev = dense_eigenvalues(&m);
        let diff = ev.iter().zip(&base_ev).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        assert!(diff < 1e-9 * base_ev[0], "gauge {gauge}: spectra differ by {diff:e}");
    }
    // The default draw uses one seed for both.
    assert_eq!(
        GlobalMinimum::random(d, depth, 21).unwrap().weights,
        GlobalMinimum::random_with_gauge(d, depth, 21, 21).unwrap().weights
    );
}
