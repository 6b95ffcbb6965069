//! Test helpers shared by the models tests: an f64 autodiff CPU device and a finite-difference Hessian.
// Device::ndarray() is deprecated in Burn 0.22 in favour of flex; the tests keep it as the reference CPU backend.
#![allow(deprecated)]
#![allow(dead_code)]

use burn::tensor::{Device, FloatDType};
use hessrank_core::device::with_float_dtype;
use hessrank_core::objective::ScalarExt;
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

/// Asserts that the autodiff gradient of `objective` at `model` equals central differences of the
/// loss value (step 1e-6) to `tol`, for every `stride`-th parameter.
pub fn assert_gradient_is_central_differences<O: Objective>(objective: &O, model: &O::Model, stride: usize, tol: f64)
where
    O::Model: Clone,
{
    let g = value_and_grad(objective, model).grads.to_flat();
    let theta = flatten_f64(model);
    let eps = 1e-6;
    for i in (0..theta.len()).step_by(stride) {
        let at = |d: f64| {
            let mut t = theta.clone();
            t[i] += d;
            objective.loss(&unflatten_f64(model.clone(), &t).unwrap()).into_scalar_f64()
        };
        let fd = (at(eps) - at(-eps)) / (2.0 * eps);
        assert!((fd - g[i]).abs() < tol, "parameter {i}: autodiff {} vs central difference {fd}", g[i]);
    }
}

/// Asserts that `h`, a Hessian of `objective` at `model` from gradients, is symmetric to 1e-8 and
/// equals second differences of the loss value alone (step 1e-4, an independent Hessian) to 1e-6,
/// on the entries (i, j) with i a multiple of `stride_i` and j of `stride_j`.
pub fn assert_hessian_is_second_differences<O: Objective>(
    objective: &O,
    model: &O::Model,
    h: &DMatrix<f64>,
    stride_i: usize,
    stride_j: usize,
) where
    O::Model: Clone,
{
    let n = h.nrows();
    let asym = (0..n)
        .flat_map(|i| (0..n).map(move |j| (i, j)))
        .map(|(i, j)| (h[(i, j)] - h[(j, i)]).abs())
        .fold(0.0, f64::max);
    assert!(asym < 1e-8, "asymmetry {asym}");
    let theta = flatten_f64(model);
    let l = |t: &[f64]| objective.loss(&unflatten_f64(model.clone(), t).unwrap()).into_scalar_f64();
    let e = 1e-4;
    let mut worst: f64 = 0.0;
    for i in (0..n).step_by(stride_i) {
        for j in (0..n).step_by(stride_j) {
            let shifted = |a: f64, b: f64| {
                let mut t = theta.clone();
                t[i] += a;
                t[j] += b;
                l(&t)
            };
            let second = (shifted(e, e) - shifted(e, -e) - shifted(-e, e) + shifted(-e, -e)) / (4.0 * e * e);
            worst = worst.max((second - h[(i, j)]).abs());
        }
    }
    assert!(worst < 1e-6, "Hessian from gradients vs second differences of the loss: {worst:e}");
}
