//! Ground truths and baselines against exact spectra: U&S, Lanczos, Hutchinson, SLQ, and the
//! finite-difference Hessian of Burn objectives.

use crate::common::*;
use hessrank_core::params::flatten_f64;
use hessrank_core::{DenseOperator, LinearOperator, value_and_grad};
use hessrank_models::{DnCnnConfig, GlobalMinimum, Mnist, NoisyMnist, NoisyMnistConfig};
use hessrank_rank::baselines::{UbaruSaad, UbaruSaadConfig};
use hessrank_rank::hessian::{FdHessian, Spectrum, dense_matrix, hutchinson, lanczos_top_k, slq_density};

fn dense(m: &nalgebra::DMatrix<f64>) -> DenseOperator {
    DenseOperator::new(m.nrows(), row_major(m)).unwrap()
}

#[test]
fn ubaru_saad_recovers_a_known_rank_with_a_clear_gap() {
    // Diagonal, and rotated by a random orthogonal matrix: rank 40 of n = 100, eigenvalues in [1, 10].
    let n = 100;
    let mut ev = log_spaced(1.0, 10.0, 40);
    ev.extend(std::iter::repeat_n(0.0, n - 40));
    let diag = nalgebra::DMatrix::from_diagonal(&nalgebra::DVector::from_column_slice(&ev));
    for (name, m) in [("diagonal", diag), ("rotated", with_spectrum(&ev, 3))] {
        let us = UbaruSaad::estimate(&dense(&m), &UbaruSaadConfig { seed: 1, ..Default::default() });
        println!(
            "U&S {name}: rank {:.2} ± {:.2}, ε = {:.3}, λ_max {:.3}",
            us.rank, us.stderr, us.threshold, us.lambda_max
        );
        assert!((us.rank / 40.0 - 1.0).abs() < 0.02, "{name}: {} ± {}", us.rank, us.stderr);
        assert!(us.threshold > 0.0 && us.threshold < 1.0, "{name}: threshold {}", us.threshold);
        assert_eq!(us.matvecs, 300 * 50 + 30);
    }
}

#[test]
fn ubaru_saad_on_the_linear_net_hessian_is_an_unbiased_trace_of_its_filter() {
    for (d, seed) in [(8, 1), (16, 2)] {
        let min = GlobalMinimum::random(d, 5, seed).unwrap();
        let op = min.hessian();
        let us = UbaruSaad::estimate(&op, &UbaruSaadConfig { seed: 3, ..Default::default() });
        let mut exact = min.hessian_eigenvalues();
        exact.extend(std::iter::repeat_n(0.0, op.dim() - d * d));
        let filter = us.filter_trace(&exact);
        println!(
            "U&S linear d = {d}: rank {:.1} ± {:.1} (true {}), ε = {:.4e}, filter trace {:.1}",
            us.rank,
            us.stderr,
            d * d,
            us.threshold,
            filter
        );
        // What the algorithm guarantees: its estimate is the stochastic trace of the damped filter.
        assert!((us.rank - filter).abs() < 4.0 * us.stderr, "d = {d}: {} vs filter trace {filter}", us.rank);
        assert!(us.rank > 0.0 && us.rank < op.dim() as f64);
    }
}

#[test]
fn lanczos_hutchinson_and_slq_against_the_dense_spectrum() {
    let min = GlobalMinimum::random(6, 3, 4).unwrap();
    let op = min.hessian();
    let spectrum = Spectrum::of(&op.dense());
    let top = lanczos_top_k(&op, 5, 60, 2);
    for (k, (a, b)) in top.eigenvalues.iter().zip(&spectrum.eigenvalues).enumerate() {
        assert!((a - b).abs() <= 1e-8 * b.abs(), "λ_{k}: Lanczos {a} vs dense {b}");
        assert!(top.residuals[k] < 1e-6 * spectrum.max());
    }
    let tr = hutchinson(&op, 400, 5);
    assert!(
        (tr.trace - spectrum.trace).abs() < 3.0 * tr.stderr,
        "Hutchinson {} ± {} vs {}",
        tr.trace,
        tr.stderr,
        spectrum.trace
    );
    let slq = slq_density(&op, 10, 40, 0.01, 2000, 6);
    let dx = slq.grid[1] - slq.grid[0];
    let integral: f64 = slq.density.iter().sum::<f64>() * dx;
    assert!((integral - 1.0).abs() < 1e-3, "SLQ density integrates to {integral}");
    let weights: f64 = slq.weights.iter().sum();
    assert!((weights - 1.0).abs() < 1e-10);
}

#[test]
fn fd_hessian_of_the_linear_net_equals_the_closed_form() {
    let device = f64_device();
    let min = GlobalMinimum::random(4, 3, 8).unwrap();
    let (net, objective) = (min.net(&device), min.objective(&device));
    let fd = dense_matrix(&FdHessian::new(&objective, &net));
    let exact = min.hessian().dense();
    let rel = (&fd - &exact).amax() / exact.amax();
    assert!(rel < 1e-6, "{rel:e}");
}

#[test]
fn fd_hessian_of_the_dncnn_objective_is_symmetric_and_consistent_with_its_products() {
    let device = f64_device();
    let mnist = Mnist::bundled().unwrap();
    let net = DnCnnConfig::new().with_seed(1).init(&device).unwrap();
    let objective = NoisyMnist::new(&mnist, &NoisyMnistConfig::new().with_n_images(8), &device).unwrap();
    // Freeze the ReLU pattern of θ₀ (see FrozenNoisyMnist): its Hessian at θ₀ is the DnCNN's.
    let frozen = objective.frozen_at(&net);
    let h = FdHessian::new(&frozen, &net);
    assert_eq!(h.dim(), 753);
    let n = h.dim();
    // Columns without symmetrisation, to measure the asymmetry of the raw finite differences.
    let mut raw = nalgebra::DMatrix::zeros(n, n);
    let mut e = vec![0.0; n];
    let mut col = vec![0.0; n];
    for j in 0..n {
        e[j] = 1.0;
        h.matvec(&e, &mut col);
        e[j] = 0.0;
        raw.column_mut(j).copy_from_slice(&col);
    }
    let spectrum = Spectrum::of(&raw);
    println!(
        "DnCNN N = 8 at initialisation: asymmetry {:.2e}, λ_max {:.3}, trace {:.3}, negatives {}",
        spectrum.asymmetry,
        spectrum.max(),
        spectrum.trace,
        spectrum.negatives(1e-6)
    );
    assert!(spectrum.asymmetry < 1e-6, "asymmetry {:e}", spectrum.asymmetry);
    // A product with a random direction agrees with the dense matrix.
    let v = hessrank_core::noise::SeededNoise::new(4, 0).normal_vec(n);
    let mut hv = vec![0.0; n];
    h.matvec(&v, &mut hv);
    let dense_hv = &raw * nalgebra::DVector::from_vec(v);
    let err = hv.iter().zip(dense_hv.iter()).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    assert!(err < 1e-6 * dense_hv.amax(), "HVP vs dense: {err:e}");
    assert_eq!(flatten_f64(&net).len(), 753);
    // The frozen objective has the loss and gradient of the real one at θ₀.
    let (a, b) = (value_and_grad(&objective, &net), value_and_grad(&frozen, &net));
    assert_eq!(a.loss, b.loss);
    assert_eq!(a.grads.to_flat(), b.grads.to_flat());
}

#[test]
fn a_spectrum_with_zero_rows_and_tiny_entries_is_the_known_one_plus_zeros() {
    // Q diag(λ) Qᵀ (λ known, scaled to 1e-5) spread over every third index of a 60×60 matrix whose
    // other rows are exactly zero: parameters the loss does not see, as in an MNIST classifier.
    let k = 20;
    let lambdas: Vec<f64> = (0..k).map(|i| 1e-5 * (1.0 + i as f64) * if i % 5 == 0 { -0.1 } else { 1.0 }).collect();
    let a = nalgebra::DMatrix::<f64>::from_fn(k, k, |i, j| ((i * 7 + j * 3) as f64 * 0.37).sin());
    let q = a.qr().q();
    let small = &q * nalgebra::DMatrix::from_diagonal(&nalgebra::DVector::from_vec(lambdas.clone())) * q.transpose();
    let n = 3 * k;
    let h = nalgebra::DMatrix::<f64>::from_fn(
        n,
        n,
        |i, j| if i % 3 == 0 && j % 3 == 0 { small[(i / 3, j / 3)] } else { 0.0 },
    );
    let s = Spectrum::of(&h);
    let mut want: Vec<f64> = lambdas.iter().cloned().chain(std::iter::repeat_n(0.0, n - k)).collect();
    want.sort_by(|x, y| y.total_cmp(x));
    assert!(s.eigenvalues.iter().all(|x| x.is_finite()), "{:?}", s.eigenvalues);
    let worst = s.eigenvalues.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    assert!(worst < 1e-18, "eigenvalues off by {worst:e}");
    let total: f64 = lambdas.iter().sum();
    assert!((s.trace - total).abs() < 1e-12 * total.abs(), "trace {} vs {total}", s.trace);
}
