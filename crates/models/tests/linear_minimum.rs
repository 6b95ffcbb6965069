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
    let err = GlobalMinimum::random(0, 5, 0).unwrap_err().to_string();
    assert!(err.contains("d = 0"), "{err}");
}
