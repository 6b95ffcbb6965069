//! The DnCNN's size and determinism.

use crate::common::*;
use burn::module::Module;
use hessrank_core::ParamLayout;
use hessrank_core::params::flatten_f64;
use hessrank_models::DnCnnConfig;

#[test]
fn default_dncnn_has_exactly_753_trainable_parameters() {
    let device = f64_device();
    let net = DnCnnConfig::new().init(&device).unwrap();
    let layout = ParamLayout::of(&net);
    let per_param: Vec<usize> = layout.specs.iter().map(|s| s.numel()).collect();
    // conv1 72 + 8, conv2 576 + 8, BatchNorm γ, β 8 + 8, conv3 72 + 1.
    assert_eq!(per_param, vec![72, 8, 576, 8, 8, 8, 72, 1], "{layout:?}");
    assert_eq!(layout.numel(), 753);
    // Burn also visits BatchNorm's running mean and variance (2 × 8), which are not parameters of the loss.
    assert_eq!(net.num_params(), 769);
}

#[test]
fn same_seed_same_weights_and_bad_configs_are_errors() {
    let device = f64_device();
    let a = flatten_f64(&DnCnnConfig::new().with_seed(4).init(&device).unwrap());
    let b = flatten_f64(&DnCnnConfig::new().with_seed(4).init(&device).unwrap());
    let c = flatten_f64(&DnCnnConfig::new().with_seed(5).init(&device).unwrap());
    assert_eq!(a, b);
    assert_ne!(a, c);
    let bound = 1.0 / 3.0; // 1/√(1·3·3) for the first layer
    assert!(a[..72].iter().all(|x| x.abs() <= bound));
    let err = DnCnnConfig::new().with_depth(1).init(&device).unwrap_err().to_string();
    assert!(err.contains("depth"), "{err}");
}
