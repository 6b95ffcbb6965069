//! The DnCNN's size and determinism, and the scale invariance BatchNorm gives it.

use crate::common::*;
use burn::module::Module;
use hessrank_core::Objective;
use hessrank_core::ParamLayout;
use hessrank_core::objective::ScalarExt;
use hessrank_core::params::flatten_f64;
use hessrank_core::params::unflatten_f64;
use hessrank_models::{DnCnnConfig, Mnist, NoisyMnist, NoisyMnistConfig};

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
    let err = DnCnnConfig::new().with_depth(1).init(&device).unwrap_err();
    assert!(matches!(&err, hessrank_core::Error::InvalidConfig { field: "depth", value, .. } if value == "1"), "{err}");
}

#[test]
fn the_channels_feeding_batch_norm_are_exactly_the_scales_the_loss_ignores() {
    let device = f64_device();
    let mut net = DnCnnConfig::new().with_seed(2).init(&device).unwrap();
    // Training-mode BatchNorm divides by √(channel variance + ε): with ε = 0 the invariance is exact
    // (with the default 1e-5 a scaling by 3 moves this loss by 1.6e-5, relative).
    net.mid[0].bn.as_mut().unwrap().epsilon = 0.0;
    let groups = net.scale_invariant_groups();
    // mid.0.conv.weight: 8 output channels of 8·3·3 weights, after first.weight (72) and first.bias (8).
    let want: Vec<(String, std::ops::Range<usize>)> =
        (0..8).map(|c| (format!("mid.0.conv.weight[{c}]"), 80 + 72 * c..80 + 72 * (c + 1))).collect();
    assert_eq!(groups, want);
    let data = NoisyMnist::new(&Mnist::bundled().unwrap(), &NoisyMnistConfig::new().with_n_images(8), &device).unwrap();
    let theta = flatten_f64(&net);
    let loss_with = |range: std::ops::Range<usize>, factor: f64| {
        let mut t = theta.clone();
        t[range].iter_mut().for_each(|x| *x *= factor);
        data.loss(&unflatten_f64(net.clone(), &t).unwrap()).into_scalar_f64()
    };
    let l0 = data.loss(&net).into_scalar_f64();
    for (_, range) in &groups {
        let l = loss_with(range.clone(), 3.0);
        assert!((l - l0).abs() < 1e-12 * l0, "scaling {range:?} by 3 moved the loss from {l0} to {l}");
    }
    // A channel of the first convolution, which feeds a ReLU, is no such direction.
    let l = loss_with(0..9, 3.0);
    assert!((l - l0).abs() > 1e-3 * l0, "scaling first.weight[0] left the loss at {l}");
    assert!(DnCnnConfig::new().with_batch_norm(false).init(&device).unwrap().scale_invariant_groups().is_empty());
}

/// The kernel policy is the model's: two DnCNNs in one process, one on hessrank's kernels and one
/// on Burn's operations, give the same loss and gradient to f64 rounding, and the fast one really
/// takes the direct path.
#[test]
fn kernel_policy_is_per_model_and_both_give_the_same_numbers() {
    use hessrank_kernels::{Kernels, takes_direct_path};
    let device = f64_device();
    let mnist = Mnist::bundled().unwrap();
    let objective = NoisyMnist::new(&mnist, &NoisyMnistConfig::new().with_n_images(4), &device).unwrap();
    let fast = DnCnnConfig::new().init(&device).unwrap();
    let burn = fast.clone().with_kernels(Kernels::Burn);
    assert_eq!((fast.kernels, burn.kernels), (Kernels::Fast, Kernels::Burn));
    let x = objective.noisy.clone();
    assert!(takes_direct_path(&fast.first, &x), "flex f64 takes the direct 3×3 path");
    use hessrank_kernels::simd::{Kernel, Path, calls};
    let best = Path::best_supported();
    let before = [Kernel::Conv, Kernel::BatchNorm].map(|k| calls(k, best));
    let a = hessrank_core::value_and_grad(&objective, &fast);
    // 3 forward convolutions, 2 input gradients, 3 weight gradients, and the BatchNorm's
    // statistics, normalisation and backward pass, all on the CPU's fastest path (other tests
    // may run kernels at the same time: at least these).
    let ran = [Kernel::Conv, Kernel::BatchNorm].map(|k| calls(k, best));
    let (conv, bn) = (ran[0] - before[0], ran[1] - before[1]);
    assert!(conv >= 8, "{best:?} ran {conv} of the step's 8 convolutions");
    assert!(bn >= 3, "{best:?} ran {bn} of the step's 3 BatchNorm passes");
    let b = hessrank_core::value_and_grad(&objective, &burn);
    assert!((a.loss - b.loss).abs() <= 1e-12 * a.loss.abs(), "{} vs {}", a.loss, b.loss);
    let (ga, gb) = (a.grads.to_flat(), b.grads.to_flat());
    let scale = gb.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let diff = ga.iter().zip(&gb).map(|(u, v)| (u - v).abs()).fold(0.0, f64::max);
    assert!(diff <= 1e-12 * scale, "max |Δ∇L| = {diff:e} at scale {scale:e}");
}
