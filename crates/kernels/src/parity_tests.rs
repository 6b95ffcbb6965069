//! Shared checks of the fast path against Burn's operations: values, every gradient and (for
//! BatchNorm) the running statistics.

use crate::{Activation, batch_norm_then, conv2d_then, takes_direct_path, takes_fast_batch_norm};
use burn::module::Param;
use burn::nn::conv::Conv2dConfig;
use burn::nn::{BatchNormConfig, PaddingConfig2d};
use burn::tensor::{Device, Distribution, FloatDType, Tensor};

/// Flex at `dtype`, plain (a device keeps one float type per process: the first test to call this
/// configures it, the others find it done).
///
/// # Panics
/// If Flex already runs at another float type in this process.
pub fn flex_at(dtype: FloatDType) -> Device {
    let mut device = Device::flex();
    let _ = device.configure(dtype);
    assert_eq!(device.settings().float_dtype, dtype, "flex runs at {dtype:?} in this process");
    device
}

/// max |a − b| / max(1, max |b|): the difference relative to the result's scale (sums of
/// thousands of terms, e.g. a weight gradient, carry rounding in proportion to their size).
fn scaled_diff<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> f64 {
    let v = |t: Tensor<D>| t.into_data().convert::<f64>().try_to_vec::<f64>().expect("f64");
    let (p, q) = (v(a), v(b));
    assert_eq!(p.len(), q.len());
    let scale = q.iter().fold(1.0_f64, |m, v| m.max(v.abs()));
    p.iter().zip(&q).map(|(u, v)| (u - v).abs()).fold(0.0, f64::max) / scale
}

/// Runs [`batch_norm`] and Burn's `BatchNorm::forward` (training mode) on one input x ~ N(0.5, 2²)
/// with random γ, β and returns the largest differences (relative to the result's scale, see `scaled_diff`) of the output, of the gradients
/// of Σ y ⊙ r with respect to x, γ and β, and of the running mean and variance afterwards.
pub fn batch_norm_max_differences(device: &Device, n: usize, c: usize, h: usize, w: usize) -> [f64; 6] {
    batch_norm_then_max_differences(device, (n, c, h, w), Activation::Identity)
}

/// [`batch_norm_max_differences`] of BatchNorm followed by `act`: the fast path's fused layer
/// against Burn's `BatchNorm::forward` and then Burn's `relu`.
pub fn batch_norm_then_max_differences(
    device: &Device,
    (n, c, h, w): (usize, usize, usize, usize),
    act: Activation,
) -> [f64; 6] {
    let x = Tensor::<4>::random([n, c, h, w], Distribution::Normal(0.5, 2.0), device).require_grad();
    let r = Tensor::<4>::random([n, c, h, w], Distribution::Normal(0.0, 1.0), device);
    let gamma = Tensor::<1>::random([c], Distribution::Uniform(0.5, 2.0), device);
    let beta = Tensor::<1>::random([c], Distribution::Normal(0.0, 1.0), device);
    let run = |fast: bool| {
        let mut bn = BatchNormConfig::new(c).init(device);
        bn.gamma = Param::from_tensor(gamma.clone());
        bn.beta = Param::from_tensor(beta.clone());
        assert!(takes_fast_batch_norm(&bn, &x), "the fast BatchNorm does not apply on {device:?}");
        let y = if fast { batch_norm_then(&bn, x.clone(), act) } else { act.apply(bn.forward(x.clone())) };
        let grads = (y.clone() * r.clone()).sum().backward();
        let dx = x.grad(&grads).expect("x gradient");
        let dg = bn.gamma.grad(&grads).expect("gamma gradient");
        let db = bn.beta.grad(&grads).expect("beta gradient");
        (y.inner(), dx, dg, db, bn.running_mean.value().inner(), bn.running_var.value().inner())
    };
    let (a, b) = (run(true), run(false));
    [
        scaled_diff(a.0, b.0),
        scaled_diff(a.1, b.1),
        scaled_diff(a.2, b.2),
        scaled_diff(a.3, b.3),
        scaled_diff(a.4, b.4),
        scaled_diff(a.5, b.5),
    ]
}

/// Builds a 3×3 "same" convolution c_in → c_out on `device`, runs [`conv2d`] and Burn's
/// `Conv2d::forward` on one input, and returns the largest differences (relative to the result's scale, see `scaled_diff`) of the output and
/// of the gradients of Σ y ⊙ r with respect to x, weight and bias.
pub fn max_differences(device: &Device, n: usize, c_in: usize, c_out: usize, h: usize, w: usize) -> [f64; 4] {
    max_differences_with(device, (n, c_in, c_out, h, w), Activation::Identity, true)
}

/// [`max_differences`] of the convolution followed by `act`, against Burn's `Conv2d::forward` and
/// then Burn's `relu`; with `input_grad` false, x is a constant (as the network's input is: the
/// ReLU mask then runs inside the weight gradient) and the x difference is reported as 0.
pub fn max_differences_with(
    device: &Device,
    (n, c_in, c_out, h, w): (usize, usize, usize, usize, usize),
    act: Activation,
    input_grad: bool,
) -> [f64; 4] {
    let conv = Conv2dConfig::new([c_in, c_out], [3, 3]).with_padding(PaddingConfig2d::Same).init(device);
    let x = Tensor::<4>::random([n, c_in, h, w], Distribution::Normal(0.0, 1.0), device);
    let x = if input_grad { x.require_grad() } else { x };
    let r = Tensor::<4>::random([n, c_out, h, w], Distribution::Normal(0.0, 1.0), device);
    assert!(takes_direct_path(&conv, &x), "the direct path does not apply on {device:?}");
    let run = |fast: bool| {
        let y = if fast { conv2d_then(&conv, x.clone(), act) } else { act.apply(conv.forward(x.clone())) };
        let grads = (y.clone() * r.clone()).sum().backward();
        let dx = if input_grad { x.grad(&grads).expect("x gradient") } else { x.clone().inner().zeros_like() };
        let dw = conv.weight.grad(&grads).expect("weight gradient");
        let db = conv.bias.as_ref().expect("bias").grad(&grads).expect("bias gradient");
        (y.inner(), dx, dw, db)
    };
    let (a, b) = (run(true), run(false));
    [scaled_diff(a.0, b.0), scaled_diff(a.1, b.1), scaled_diff(a.2, b.2), scaled_diff(a.3, b.3)]
}

/// The DnCNN's three layer shapes plus odd sizes: (n, c_in, c_out, h, w).
pub const SHAPES: [(usize, usize, usize, usize, usize); 5] =
    [(4, 1, 8, 28, 28), (4, 8, 8, 28, 28), (4, 8, 1, 28, 28), (3, 5, 3, 7, 11), (2, 2, 13, 1, 30)];

/// BatchNorm shapes: the DnCNN's middle layer and odd sizes, (n, c, h, w).
pub const BN_SHAPES: [(usize, usize, usize, usize); 3] = [(4, 8, 28, 28), (3, 5, 7, 11), (2, 1, 1, 30)];

/// Checks [`crate::langevin_update`] on the plain `device` against Burn's operations
/// θ − a⊙g + b⊙ζ, bitwise, for a θ held only by the update (updated in place) and for a θ also
/// held elsewhere (which must come through unchanged); and θ − a⊙g when there is no noise. It
/// runs at a size taken in one pass and, on a pool of 2 threads, at a size split into parallel
/// chunks with a ragged last one.
///
/// # Panics
/// On any difference, naming the case, the size and the first differing index.
pub fn check_langevin_update(device: &Device) {
    assert!(!device.is_autodiff(), "the update runs on plain tensors");
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().expect("a pool of 2 threads");
    // Neither size is a multiple of any vector width; the second spans 4 chunks and a part.
    for n in [4099, 4 * crate::update::UPDATE_CHUNK + 77] {
        pool.install(|| check_langevin_update_at(device, n));
    }
}

fn check_langevin_update_at(device: &Device, n: usize) {
    let r = |lo: f64, hi: f64| Tensor::<1>::random([n], Distribution::Uniform(lo, hi), device);
    let (theta, a, g, b, zeta) = (r(-2.0, 2.0), r(1e-4, 1e-2), r(-5.0, 5.0), r(1e-3, 1e-1), r(-3.0, 3.0));
    assert!(crate::takes_fused_update(&theta), "the fused kernel is compiled for this device");
    let bits = |t: Tensor<1>| -> Vec<u64> {
        t.into_data().convert::<f64>().try_to_vec::<f64>().expect("f64").iter().map(|v| v.to_bits()).collect()
    };
    let expected = bits(theta.clone().sub(a.clone().mul(g.clone())).add(b.clone().mul(zeta.clone())));
    let before = bits(theta.clone());
    // A copy of θ's values in its own buffer, held by nothing else: the in-place branch.
    let own = Tensor::<1>::from_data(theta.to_data(), device);
    let noise = || Some((b.clone(), zeta.clone()));
    let cases = [
        ("θ held only by the update", bits(crate::langevin_update(own, a.clone(), g.clone(), noise()))),
        ("θ also held elsewhere", bits(crate::langevin_update(theta.clone(), a.clone(), g.clone(), noise()))),
    ];
    for (case, got) in cases {
        let first = got.iter().zip(&expected).position(|(x, y)| x != y);
        assert!(first.is_none(), "{case}, n = {n}: differs from Burn's operations at index {first:?}");
    }
    assert_eq!(bits(theta.clone()), before, "n = {n}: the shared θ was changed by the update");
    let drift = bits(crate::langevin_update(theta.clone(), a.clone(), g.clone(), None));
    assert_eq!(drift, bits(theta.sub(a.mul(g))), "n = {n}: θ − a⊙g without noise");
}

/// Shapes (m, k, n) of the fast products' tests: square at the linear net's d = 256, odd sizes with
/// a ragged last block (n = 260 = 2 · 128 + 4), and tiny products taken by the loops (d = 8, and
/// an odd one).
pub const MATMUL_SHAPES: [(usize, usize, usize); 4] = [(256, 256, 256), (300, 100, 260), (8, 8, 8), (5, 7, 3)];

/// Runs [`crate::matmul`] (the blocked or the loop path) and Burn's matmul on the autodiff `device` for
/// a [m, k] · [k, n] product, b being the transpose of an [n, k] leaf when `transposed` (a strided
/// view), and returns the differences (relative to the result's scale, see `scaled_diff`) of the
/// product and of the gradients of Σ y ⊙ r with respect to a and b.
pub fn matmul_max_differences(device: &Device, m: usize, k: usize, n: usize, transposed: bool) -> [f64; 3] {
    let normal = |shape: [usize; 2]| Tensor::<2>::random(shape, Distribution::Normal(0.0, 1.0), device);
    let a = normal([m, k]).require_grad();
    let b = if transposed { normal([n, k]) } else { normal([k, n]) }.require_grad();
    let r = normal([m, n]);
    let used = |b: &Tensor<2>| if transposed { b.clone().transpose() } else { b.clone() };
    assert!(crate::takes_fast_matmul(&a, &used(&b)), "a fast path applies to {:?}", (m, k, n));
    let run = |fast: bool| {
        let y = if fast { crate::matmul(a.clone(), used(&b)) } else { a.clone().matmul(used(&b)) };
        let grads = y.clone().mul(r.clone()).sum().backward();
        (y.inner(), a.grad(&grads).expect("∂a"), b.grad(&grads).expect("∂b"))
    };
    let (y1, da1, db1) = run(true);
    let (y2, da2, db2) = run(false);
    [scaled_diff(y1, y2), scaled_diff(da1, da2), scaled_diff(db1, db2)]
}
