//! Test helpers shared by the models tests: an f64 autodiff CPU device and a finite-difference Hessian.
// Device::ndarray() is deprecated in Burn 0.22 in favour of flex; the tests keep it as the reference CPU backend.
#![allow(deprecated)]
#![allow(dead_code)]

use burn::tensor::{Device, FloatDType};
use hessrank_core::device::with_float_dtype;
use hessrank_core::params::{flatten_f64, unflatten_f64};
use hessrank_core::{Objective, value_and_grad};
use nalgebra::DMatrix;

/// The flex CPU device in f64, with autodiff (flex: ~10× less per-op overhead than ndarray and a
/// 6× faster convolution, so ground truths on the DnCNN stay quick).
pub fn f64_device() -> Device {
    with_float_dtype(Device::flex(), FloatDType::F64).expect("f64 flex").autodiff()
}

/// The ndarray CPU device in f64, with autodiff (the reference backend).
pub fn f64_ndarray() -> Device {
    with_float_dtype(Device::ndarray(), FloatDType::F64).expect("f64 ndarray").autodiff()
}

/// Central finite-difference Hessian of `objective` at `model`, column by column from two Burn
/// gradients each: H e_i ≈ (∇L(θ + ε e_i) − ∇L(θ − ε e_i)) / 2ε.
pub fn fd_hessian<O: Objective>(objective: &O, model: &O::Model, eps: f64) -> DMatrix<f64>
where
    O::Model: Clone,
{
    let theta = flatten_f64(model);
    let n = theta.len();
    let mut h = DMatrix::zeros(n, n);
    for i in 0..n {
        let grad_at = |delta: f64| {
            let mut t = theta.clone();
            t[i] += delta;
            let m = unflatten_f64(model.clone(), &t).unwrap();
            value_and_grad(objective, &m).grads.to_flat()
        };
        let (gp, gm) = (grad_at(eps), grad_at(-eps));
        for j in 0..n {
            h[(j, i)] = (gp[j] - gm[j]) / (2.0 * eps);
        }
    }
    h
}

/// Largest absolute entry.
pub fn max_abs(m: &DMatrix<f64>) -> f64 {
    m.iter().fold(0.0f64, |a, &x| a.max(x.abs()))
}
