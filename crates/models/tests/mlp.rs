//! The MLP classifier: its cross-entropy gradient against central differences of the loss, and its
//! frozen-ReLU Hessian from gradients against second differences of the loss alone, on a tiny net;
//! label smoothing against its closed-form minimum.

use crate::common::*;
use burn::tensor::{Int, Tensor, TensorData};
use hessrank_core::objective::ScalarExt;
use hessrank_core::params::flatten_f64;
use hessrank_core::{Error, Objective, TensorProblem};
use hessrank_models::classification::{Classification, check_label_smoothing, cross_entropy};
use hessrank_models::mlp::{Mlp, MlpConfig};
use hessrank_models::tensor_file::{NamedTensor, write_safetensors};
use hessrank_models::{Mnist, WeightsOptions, load_weights};

fn tiny() -> (Mlp, Classification<Mlp>) {
    let device = f64_device();
    let net = MlpConfig::parse("6-5-3").unwrap().with_seed(2).init(&device).unwrap();
    let x: Vec<f64> = (0..8 * 6).map(|i| ((i as f64) * 0.91).sin()).collect();
    let y: Vec<i64> = (0..8).map(|i| (i % 3) as i64).collect();
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let file = std::env::temp_dir().join(format!("hessrank-mlp-{}-{call}.safetensors", std::process::id()));
    write_safetensors(
        &file,
        &[NamedTensor::float("inputs", vec![8, 6], x, false), NamedTensor::int("targets", vec![8], y)],
    )
    .unwrap();
    (net, Classification::from_file(&file, 6, 3, &device).unwrap())
}

#[test]
fn the_cross_entropy_is_the_softmax_formula_and_its_gradient_equals_central_differences() {
    let (net, data) = tiny();
    // The loss by hand: −mean log softmax(logits)[target].
    let logits: Vec<f64> = net.forward(data.inputs.clone()).into_data().iter::<f64>().collect();
    let targets: Vec<i64> = data.targets.clone().into_data().iter::<i64>().collect();
    let by_hand = (0..8)
        .map(|i| {
            let row = &logits[3 * i..3 * i + 3];
            let m = row.iter().cloned().fold(f64::MIN, f64::max);
            let lse = m + row.iter().map(|z| (z - m).exp()).sum::<f64>().ln();
            lse - row[targets[i] as usize]
        })
        .sum::<f64>()
        / 8.0;
    let loss = data.loss(&net).into_scalar_f64();
    assert!((loss - by_hand).abs() < 1e-13, "{loss} vs {by_hand}");
    assert_gradient_is_central_differences(&data, &net, 1, 1e-7);
}

#[test]
fn the_frozen_hessian_is_symmetric_and_equals_second_differences_of_the_loss() {
    let (net, data) = tiny();
    let frozen = data.frozen_at(&net);
    let h = fd_hessian(&frozen, &net, 1e-5);
    let n = h.nrows();
    assert_eq!(n, 6 * 5 + 5 + 5 * 3 + 3);
    // Second differences of the loss value alone (no gradients): an independent Hessian.
    assert_hessian_is_second_differences(&frozen, &net, &h, 3, 4);
}

#[test]
fn pytorch_linear_layers_load_transposed_and_labels_out_of_range_are_named() {
    let (net, data) = tiny();
    let device = f64_device();
    // PyTorch keeps nn.Linear's weight as [out, in]; Burn as [in, out].
    let layout = hessrank_core::ParamLayout::of(&net);
    let values = hessrank_core::params::params_of(&net).to_host();
    let tensors: Vec<NamedTensor> = layout
        .specs
        .iter()
        .zip(values)
        .map(|(s, v)| {
            let layer: usize = s.path.split('.').nth(1).unwrap().parse().unwrap();
            let key = format!("{}.{}", 2 * layer, s.path.rsplit('.').next().unwrap());
            if s.shape.len() == 2 {
                let (rows, cols) = (s.shape[0], s.shape[1]);
                let t: Vec<f64> = (0..cols * rows).map(|k| v[(k % rows) * cols + k / rows]).collect();
                NamedTensor::float(key, vec![cols, rows], t, false)
            } else {
                NamedTensor::float(key, s.shape.clone(), v, false)
            }
        })
        .collect();
    let file = std::env::temp_dir().join(format!("hessrank-mlp-w-{}.safetensors", std::process::id()));
    write_safetensors(&file, &tensors).unwrap();
    let cfg = MlpConfig::parse("6-5-3").unwrap();
    let options = WeightsOptions::default().with_renames(cfg.pytorch_sequential_renames());
    let (loaded, _) = load_weights(cfg.with_seed(9).init(&device).unwrap(), &file, &options).unwrap();
    assert_eq!(flatten_f64(&loaded), flatten_f64(&net));
    assert_eq!(data.loss(&loaded).into_scalar_f64(), data.loss(&net).into_scalar_f64());

    let bad = std::env::temp_dir().join(format!("hessrank-mlp-bad-{}.safetensors", std::process::id()));
    write_safetensors(
        &bad,
        &[
            NamedTensor::float("inputs", vec![2, 6], vec![0.0; 12], false),
            NamedTensor::int("targets", vec![2], vec![1, 3]),
        ],
    )
    .unwrap();
    let e = Classification::<Mlp>::from_file(&bad, 6, 3, &device).unwrap_err();
    assert!(
        matches!(&e, Error::Tensor { key, problem: TensorProblem::OutOfRange { allowed, .. }, .. }
            if key == "targets" && allowed == "0..3"),
        "{e}"
    );
    assert!(MlpConfig::parse("784-x-10").is_err() && MlpConfig::parse("784").is_err());
    // MNIST batches: N images flattened, labels from the dataset.
    let m = Classification::<Mlp>::mnist(&Mnist::bundled().unwrap(), 5, 0, &device).unwrap();
    assert_eq!((m.inputs.dims(), m.len()), ([5, 784], 5));
}

/// Softmax cross-entropy with label smoothing ε over C classes, by hand: −Σ_k q_k log p_k with
/// q = (1 − ε)·onehot + ε/C.
fn smoothed_by_hand(row: &[f64], target: usize, eps: f64) -> f64 {
    let c = row.len() as f64;
    let m = row.iter().cloned().fold(f64::MIN, f64::max);
    let lse = m + row.iter().map(|z| (z - m).exp()).sum::<f64>().ln();
    row.iter().enumerate().map(|(k, z)| -((if k == target { 1.0 - eps } else { 0.0 }) + eps / c) * (z - lse)).sum()
}

#[test]
fn label_smoothing_is_pytorchs_definition_and_has_its_minimum_at_finite_logits() {
    let (net, data) = tiny();
    let data = data.with_label_smoothing(0.1).unwrap();
    let logits: Vec<f64> = net.forward(data.inputs.clone()).into_data().iter::<f64>().collect();
    let targets: Vec<i64> = data.targets.clone().into_data().iter::<i64>().collect();
    let by_hand =
        (0..8).map(|i| smoothed_by_hand(&logits[3 * i..3 * i + 3], targets[i] as usize, 0.1)).sum::<f64>() / 8.0;
    let loss = data.loss(&net).into_scalar_f64();
    assert!((loss - by_hand).abs() < 1e-13, "{loss} vs {by_hand}");
    // The gradient through the network still equals central differences.
    assert_gradient_is_central_differences(&data, &net, 5, 1e-7);

    // The closed-form minimum over free logits: softmax(z) = q, i.e. z = log q, where the loss is the
    // entropy of q. Scaling those logits up (more confident) raises the loss with ε > 0; without
    // smoothing it lowers it for ever, so there is no minimum.
    let device = f64_device();
    let (c, eps) = (4usize, 0.2);
    let q_hit = 1.0 - eps + eps / c as f64;
    let q_miss = eps / c as f64;
    let entropy = -q_hit * q_hit.ln() - (c - 1) as f64 * q_miss * q_miss.ln();
    let logits_at = |scale: f64| {
        let row: Vec<f64> = (0..c).map(|k| scale * if k == 2 { q_hit.ln() } else { q_miss.ln() }).collect();
        Tensor::<2>::from_data(TensorData::new(row, [1, c]), &device).require_grad()
    };
    let target = || Tensor::<1, Int>::from_data(TensorData::new(vec![2i64], [1]), &device);
    let z = logits_at(1.0);
    let at_min = cross_entropy(z.clone(), target(), eps);
    assert!((at_min.clone().into_scalar_f64() - entropy).abs() < 1e-14);
    let grads = at_min.backward();
    let grad: Vec<f64> = z.grad(&grads).unwrap().into_data().iter::<f64>().collect();
    assert!(grad.iter().all(|g| g.abs() < 1e-14), "the gradient at z = log q is {grad:?}");
    for scale in [0.5, 2.0] {
        assert!(cross_entropy(logits_at(scale), target(), eps).into_scalar_f64() > entropy + 1e-3);
    }
    let plain = |s: f64| cross_entropy(logits_at(s), target(), 0.0).into_scalar_f64();
    assert!(plain(4.0) < plain(2.0) && plain(2.0) < plain(1.0), "plain cross-entropy falls as the logits grow");

    for bad in [-0.1, 1.0, f64::NAN] {
        let e = check_label_smoothing(bad).unwrap_err();
        assert!(
            matches!(&e, Error::InvalidConfig { field: "label_smoothing", value, .. } if *value == bad.to_string()),
            "{e}"
        );
    }
}
