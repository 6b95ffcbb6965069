//! The CNN classifier: its logits against a by-hand f64 forward pass, its cross-entropy gradient
//! against central differences, its frozen-ReLU Hessian against second differences of the loss,
//! and a PyTorch `nn.Sequential` state_dict loaded onto it.

use crate::common::*;
use burn::tensor::{Int, Tensor, TensorData};
use hessrank_core::objective::ScalarExt;
use hessrank_core::params::{flatten_f64, params_of};
use hessrank_core::{Objective, ParamLayout};
use hessrank_models::classification::Classification;
use hessrank_models::tensor_file::{NamedTensor, write_safetensors};
use hessrank_models::{Cnn, CnnConfig, WeightsOptions, load_weights};
use std::collections::HashMap;

const SIDE: usize = 8;
const N: usize = 6;
const CLASSES: usize = 3;

fn config() -> CnnConfig {
    CnnConfig::new(vec![2, 3]).with_side(SIDE).with_classes(CLASSES).with_seed(4)
}

fn tiny() -> (Cnn, Classification<Cnn>) {
    let device = f64_device();
    let net = config().init(&device).unwrap();
    let x: Vec<f64> = (0..N * SIDE * SIDE).map(|i| ((i as f64) * 0.37).sin()).collect();
    let y: Vec<i64> = (0..N).map(|i| (i % CLASSES) as i64).collect();
    let data = Classification::new(
        Tensor::from_data(TensorData::new(x, [N, SIDE * SIDE]), &device),
        Tensor::<1, Int>::from_data(TensorData::new(y, [N]), &device),
        None,
    );
    (net, data)
}

/// Every parameter by module path, with its shape.
fn named(net: &Cnn) -> HashMap<String, (Vec<usize>, Vec<f64>)> {
    let layout = ParamLayout::of(net);
    layout.specs.iter().zip(params_of(net).to_host()).map(|(s, v)| (s.path.clone(), (s.shape.clone(), v))).collect()
}

/// The forward pass written out with loops: 3×3 zero-padded convolution + bias, ReLU, 2×2 mean,
/// per stage; then logits = flat · W + b with Burn's [in, out] weight.
fn logits_by_hand(net: &Cnn, x: &[f64]) -> Vec<f64> {
    let p = named(net);
    let mut out = Vec::new();
    for img in x.chunks(SIDE * SIDE) {
        let (mut maps, mut side) = (vec![img.to_vec()], SIDE);
        for stage in 0..config().channels.len() {
            let (shape, w) = &p[&format!("convs.{stage}.weight")];
            let (_, b) = &p[&format!("convs.{stage}.bias")];
            let (c_out, c_in) = (shape[0], shape[1]);
            assert_eq!(c_in, maps.len());
            let at = |m: &Vec<f64>, r: isize, c: isize| {
                if r < 0 || c < 0 || r >= side as isize || c >= side as isize {
                    0.0
                } else {
                    m[r as usize * side + c as usize]
                }
            };
            let mut next = Vec::new();
            for o in 0..c_out {
                let mut conv = vec![b[o]; side * side];
                for (i, m) in maps.iter().enumerate() {
                    for r in 0..side {
                        for c in 0..side {
                            for dr in 0..3 {
                                for dc in 0..3 {
                                    let wv = w[((o * c_in + i) * 3 + dr) * 3 + dc];
                                    conv[r * side + c] +=
                                        wv * at(m, r as isize + dr as isize - 1, c as isize + dc as isize - 1);
                                }
                            }
                        }
                    }
                }
                let half = side / 2;
                let pooled: Vec<f64> = (0..half * half)
                    .map(|k| {
                        let (r, c) = (2 * (k / half), 2 * (k % half));
                        [(r, c), (r, c + 1), (r + 1, c), (r + 1, c + 1)]
                            .iter()
                            .map(|&(a, b)| conv[a * side + b].max(0.0))
                            .sum::<f64>()
                            / 4.0
                    })
                    .collect();
                next.push(pooled);
            }
            maps = next;
            side /= 2;
        }
        let flat: Vec<f64> = maps.concat();
        let (shape, w) = &p["head.weight"];
        let (_, b) = &p["head.bias"];
        assert_eq!(shape, &vec![flat.len(), CLASSES]);
        for k in 0..CLASSES {
            out.push(b[k] + flat.iter().enumerate().map(|(j, f)| f * w[j * CLASSES + k]).sum::<f64>());
        }
    }
    out
}

#[test]
fn the_logits_equal_a_by_hand_forward_pass_and_the_gradient_equals_central_differences() {
    let (net, data) = tiny();
    assert_eq!(ParamLayout::of(&net).numel(), (2 * 9 + 2) + (3 * 2 * 9 + 3) + (3 * 2 * 2 * CLASSES + CLASSES));
    let x: Vec<f64> = data.inputs.clone().into_data().iter::<f64>().collect();
    let got: Vec<f64> = net.forward(data.inputs.clone()).into_data().iter::<f64>().collect();
    let want = logits_by_hand(&net, &x);
    let worst = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    assert!(worst < 1e-12, "logits differ from the by-hand forward pass by {worst:e}");

    assert_gradient_is_central_differences(&data, &net, 1, 1e-7);
}

#[test]
fn the_frozen_hessian_is_symmetric_and_equals_second_differences_of_the_loss() {
    let (net, data) = tiny();
    let frozen = data.frozen_at(&net);
    // At θ₀ the frozen objective is the real one, value for value.
    assert_eq!(frozen.loss(&net).into_scalar_f64(), data.loss(&net).into_scalar_f64());
    let h = fd_hessian(&frozen, &net, 1e-5);
    assert_hessian_is_second_differences(&frozen, &net, &h, 5, 7);
    assert!(max_abs(&h) > 1e-3, "a Hessian of zeros would pass the comparison");
}

#[test]
fn a_pytorch_sequential_state_dict_loads_with_the_configs_renames() {
    let (net, data) = tiny();
    let device = f64_device();
    // nn.Sequential(Conv2d, ReLU, AvgPool2d, Conv2d, ReLU, AvgPool2d, Flatten, Linear): PyTorch
    // keeps the convolutions' [out, in, 3, 3] layout and the Linear weight as [out, in].
    let p = named(&net);
    let mut tensors = Vec::new();
    for (stage, index) in [(0, 0), (1, 3)] {
        for part in ["weight", "bias"] {
            let (shape, v) = &p[&format!("convs.{stage}.{part}")];
            tensors.push(NamedTensor::float(format!("{index}.{part}"), shape.clone(), v.clone(), false));
        }
    }
    let (shape, w) = &p["head.weight"];
    let (rows, cols) = (shape[0], shape[1]);
    let wt: Vec<f64> = (0..rows * cols).map(|k| w[(k % rows) * cols + k / rows]).collect();
    tensors.push(NamedTensor::float("7.weight", vec![cols, rows], wt, false));
    tensors.push(NamedTensor::float("7.bias", p["head.bias"].0.clone(), p["head.bias"].1.clone(), false));
    let file = std::env::temp_dir().join(format!("hessrank-cnn-{}.safetensors", std::process::id()));
    write_safetensors(&file, &tensors).unwrap();
    let cfg = config();
    let options = WeightsOptions::default().with_renames(cfg.pytorch_sequential_renames());
    let (loaded, report) = load_weights(cfg.clone().with_seed(11).init(&device).unwrap(), &file, &options).unwrap();
    assert_eq!(report.applied.len(), 6);
    assert_eq!(flatten_f64(&loaded), flatten_f64(&net));
    assert_eq!(data.loss(&loaded).into_scalar_f64(), data.loss(&net).into_scalar_f64());
}

#[test]
fn bad_configurations_are_refused_naming_the_value() {
    assert_eq!(CnnConfig::parse("4-8").unwrap().channels, vec![4, 8]);
    assert_eq!(CnnConfig::parse("4-8").unwrap().features(), 8 * 7 * 7);
    for bad in ["", "4-x", "4-0", "1-1-1-1-1"] {
        let e = CnnConfig::parse(bad).unwrap_err();
        assert!(
            matches!(&e, hessrank_core::Error::InvalidConfig { field: "cnn", value, .. } if value == bad),
            "{bad}: {e}"
        );
    }
    let e = CnnConfig::new(vec![2; 5]).validate().unwrap_err();
    assert!(
        matches!(&e, hessrank_core::Error::InvalidConfig { field: "channels", value, .. } if value == "[2, 2, 2, 2, 2]"),
        "{e}"
    );
}
