//! Shared check of the direct path against Burn's convolution: values and all three gradients.

use crate::{conv2d, takes_direct_path};
use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2dConfig;
use burn::tensor::{Device, Distribution, Tensor};

/// Builds a 3×3 "same" convolution c_in → c_out on `device`, runs [`conv2d`] and Burn's
/// `Conv2d::forward` on one input, and returns the largest absolute differences of the output and
/// of the gradients of Σ y ⊙ r with respect to x, weight and bias.
pub fn max_differences(device: &Device, n: usize, c_in: usize, c_out: usize, h: usize, w: usize) -> [f64; 4] {
    let conv = Conv2dConfig::new([c_in, c_out], [3, 3]).with_padding(PaddingConfig2d::Same).init(device);
    let x = Tensor::<4>::random([n, c_in, h, w], Distribution::Normal(0.0, 1.0), device).require_grad();
    let r = Tensor::<4>::random([n, c_out, h, w], Distribution::Normal(0.0, 1.0), device);
    assert!(takes_direct_path(&conv, &x), "the direct path does not apply on {device:?}");
    let run = |fast: bool| {
        let y = if fast { conv2d(&conv, x.clone()) } else { conv.forward(x.clone()) };
        let grads = (y.clone() * r.clone()).sum().backward();
        let dx = x.grad(&grads).expect("x gradient");
        let dw = conv.weight.grad(&grads).expect("weight gradient");
        let db = conv.bias.as_ref().expect("bias").grad(&grads).expect("bias gradient");
        (y.inner(), dx, dw, db)
    };
    let (a, b) = (run(true), run(false));
    let diff = |p: Vec<f64>, q: Vec<f64>| {
        assert_eq!(p.len(), q.len());
        p.iter().zip(&q).map(|(u, v)| (u - v).abs()).fold(0.0, f64::max)
    };
    let v4 = |t: Tensor<4>| t.into_data().convert::<f64>().try_to_vec::<f64>().expect("f64");
    let v1 = |t: Tensor<1>| t.into_data().convert::<f64>().try_to_vec::<f64>().expect("f64");
    [diff(v4(a.0), v4(b.0)), diff(v4(a.1), v4(b.1)), diff(v4(a.2), v4(b.2)), diff(v1(a.3), v1(b.3))]
}

/// The DnCNN's three layer shapes plus odd sizes: (n, c_in, c_out, h, w).
pub const SHAPES: [(usize, usize, usize, usize, usize); 5] =
    [(4, 1, 8, 28, 28), (4, 8, 8, 28, 28), (4, 8, 1, 28, 28), (3, 5, 3, 7, 11), (2, 2, 13, 1, 30)];
