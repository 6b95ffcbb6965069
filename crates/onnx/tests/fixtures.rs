//! Loss, gradient and Hessian-vector products against PyTorch (f64), fixture by fixture.

use crate::common::{f64_device, floats, load, rel_err};
use hessrank_core::params::{ParamLayout, flatten_f64};
use hessrank_core::{LinearOperator, value_and_grad};
use hessrank_rank::hessian::FdHessian;

/// Checks the fixture: parameter names and order, loss and gradient to 1e-10 relative, and each
/// reference H·v to 1e-6 by central differences of our gradient (on the frozen objective where
/// the graph has kinks: the same Hessian at θ₀, no kink for the differences to straddle).
fn check(name: &str) {
    let device = f64_device();
    let (problem, reference) = load(name, &device);
    let layout = ParamLayout::of(&problem.params);
    let names: Vec<&str> = layout.specs.iter().map(|s| s.path.as_str()).collect();
    let expected: Vec<&str> = reference["params"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(names, expected, "{name}: parameters by initializer name, in state_dict order");
    assert!(problem.conversions.is_empty(), "{name}: f64 files in an f64 run: {:?}", problem.conversions);

    let vg = value_and_grad(&problem.objective, &problem.params);
    let loss_ref = reference["loss"].as_f64().unwrap();
    let loss_err = (vg.loss - loss_ref).abs() / loss_ref.abs().max(1e-12);
    assert!(loss_err < 1e-10, "{name}: loss {} vs PyTorch {loss_ref} (rel {loss_err:e})", vg.loss);
    assert!((problem.loss0 - vg.loss).abs() <= 1e-14 * vg.loss.abs(), "{name}: loss at θ₀ recorded when loaded");
    let grad = vg.grads.to_flat();
    let grad_err = rel_err(&grad, &floats(&reference["grad"]));
    assert!(grad_err < 1e-10, "{name}: gradient rel err {grad_err:e}");

    let theta = flatten_f64(&problem.params);
    assert_eq!(theta.len(), grad.len());
    let curvature: &dyn Fn(&[f64], &mut [f64]) = &|v, out| match &problem.frozen {
        Some(frozen) => FdHessian::new(frozen, &problem.params).matvec(v, out),
        None => FdHessian::new(&problem.objective, &problem.params).matvec(v, out),
    };
    for (k, hvp) in reference["hvps"].as_array().unwrap().iter().enumerate() {
        let v = floats(&hvp["v"]);
        let mut hv = vec![0.0; v.len()];
        curvature(&v, &mut hv);
        let err = rel_err(&hv, &floats(&hvp["hv"]));
        assert!(err < 1e-6, "{name}: H·v #{k} rel err {err:e}");
    }
    if let Some(frozen) = &problem.frozen {
        // the frozen objective equals the real one at θ₀, value and gradient
        let fg = value_and_grad(frozen, &problem.params);
        assert!((fg.loss - vg.loss).abs() <= 1e-13 * vg.loss.abs().max(1e-300), "{name}: frozen loss at θ₀");
        assert!(rel_err(&fg.grads.to_flat(), &grad) < 1e-12, "{name}: frozen gradient at θ₀");
    }
}

#[test]
fn mlp_with_every_activation_matches_pytorch() {
    check("mlp_activations");
}

#[test]
fn cnn_with_batchnorm_inference_matches_pytorch() {
    check("cnn_batchnorm_inference");
}

#[test]
fn cnn_with_batchnorm_training_matches_pytorch() {
    check("cnn_batchnorm_training");
}

#[test]
fn attention_block_with_loss_in_graph_matches_pytorch() {
    check("attention_graph_loss");
}

#[test]
fn convtranspose_and_norms_match_pytorch() {
    check("convtranspose_norms");
}

#[test]
fn exact_minima_match_pytorch() {
    check("mse_exact_minimum");
    check("cross_entropy_exact_minimum");
}

#[test]
fn dncnn_matches_pytorch() {
    check("dncnn");
}

#[test]
fn a_graph_with_a_dynamic_batch_axis_runs_on_the_batch_of_the_data() {
    check("attention_dynamic_batch");
}
