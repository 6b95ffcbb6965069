//! Compute kernels of hessrank: a direct 3×3 "same" convolution and a transpose-free BatchNorm,
//! forward and backward, used by the DnCNN on the Flex CPU backend; matrix products for the linear
//! net (column blocks for large ones, plain loops for tiny ones); and the fused Langevin update.
//! Burn's own operations everywhere else.
//!
//! The kernels are written once over `macerator`'s portable vectors and compiled for every
//! instruction set it has (AVX-512, AVX2, SSE4.2, NEON, a scalar fallback); [`simd`] picks the
//! best the CPU supports at run time. On AVX-512 the convolution runs hand-written masked tiles
//! instead, measured faster there (see [`direct`]).
//!
//! [`conv2d`] is a drop-in for `Conv2d::forward` and [`batch_norm`] for `BatchNorm::forward`: they
//! take the fast path when the tensors live on Flex (with or without autodiff) in f32 or f64 and
//! the layer has the shape the kernel computes (a 3×3, stride-1, padding-1, ungrouped convolution;
//! a BatchNorm in training mode on an autodiff device over [n, c, h, w]); otherwise they call Burn.
//! Both paths give the same numbers to rounding (the tests check f64 to 1e-12 and f32 to its
//! rounding), and [`batch_norm`] updates the running statistics exactly as Burn does.
//! [`conv2d_relu`] and [`batch_norm_relu`] are the same layers with the ReLU that follows them
//! fused in (applied before the store; its mask applied inside the layer's backward pass).

#![warn(missing_docs)]

pub mod batch_norm;
pub mod direct;
#[cfg(feature = "flex")]
mod extension;
#[cfg(feature = "flex")]
pub mod matmul;
#[cfg(all(feature = "flex", any(test, feature = "test-utils")))]
pub mod parity_tests;
mod real;
pub mod simd;
#[cfg(feature = "flex")]
mod update;

use burn::nn::conv::Conv2d;
use burn::nn::{BatchNorm, PaddingConfig2d};
use burn::tensor::{DType, Tensor};

/// What follows a layer in the same pass over memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// Nothing: the layer's output as it is.
    Identity,
    /// max(output, 0): saves the separate pass over memory (and in the backward pass the
    /// separate mask) a ReLU layer costs.
    Relu,
}

impl Activation {
    /// The activation applied with Burn's operations (the reference, and the path for layers the
    /// kernels do not compute).
    pub fn apply(self, y: Tensor<4>) -> Tensor<4> {
        match self {
            Activation::Identity => y,
            Activation::Relu => burn::tensor::activation::relu(y),
        }
    }

    /// [`Activation::Relu`] when `relu`, else [`Activation::Identity`] (the backend extension's
    /// operations take a flag).
    pub fn relu_if(relu: bool) -> Activation {
        if relu { Activation::Relu } else { Activation::Identity }
    }
}

/// Which implementation a model's layers run: hessrank's kernels where they apply (the default),
/// or Burn's own operations everywhere (the reference, and the other side of an A/B timing). A
/// model holds one (e.g. `DnCnn::with_kernels`), so two models in one process can differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Kernels {
    /// [`conv2d`], [`batch_norm`] and [`matmul`]: the fast path where it applies, Burn elsewhere.
    #[default]
    Fast,
    /// Burn's `Conv2d::forward`, `BatchNorm::forward` and `matmul` everywhere.
    Burn,
}

impl Kernels {
    /// `conv.forward(x)` under this policy.
    pub fn conv2d(self, conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
        match self {
            Kernels::Fast => conv2d(conv, x),
            Kernels::Burn => conv.forward(x),
        }
    }

    /// `relu(conv.forward(x))` under this policy (one pass on the fast path).
    pub fn conv2d_relu(self, conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
        match self {
            Kernels::Fast => conv2d_relu(conv, x),
            Kernels::Burn => Activation::Relu.apply(conv.forward(x)),
        }
    }

    /// `bn.forward(x)` under this policy.
    pub fn batch_norm(self, bn: &BatchNorm, x: Tensor<4>) -> Tensor<4> {
        match self {
            Kernels::Fast => batch_norm(bn, x),
            Kernels::Burn => bn.forward(x),
        }
    }

    /// `relu(bn.forward(x))` under this policy (one pass on the fast path).
    pub fn batch_norm_relu(self, bn: &BatchNorm, x: Tensor<4>) -> Tensor<4> {
        match self {
            Kernels::Fast => batch_norm_relu(bn, x),
            Kernels::Burn => Activation::Relu.apply(bn.forward(x)),
        }
    }

    /// `a.matmul(b)` under this policy.
    pub fn matmul(self, a: Tensor<2>, b: Tensor<2>) -> Tensor<2> {
        match self {
            Kernels::Fast => matmul(a, b),
            Kernels::Burn => a.matmul(b),
        }
    }
}

/// Whether `conv` is a 3×3, stride-1, dilation-1, ungrouped convolution with one pixel of zero
/// padding on every side: the shape the direct kernel computes.
pub fn is_same_3x3(conv: &Conv2d) -> bool {
    let padding_one = match &conv.padding {
        PaddingConfig2d::Same => true,
        PaddingConfig2d::Explicit(top, left, bottom, right) => [*top, *left, *bottom, *right] == [1; 4],
        _ => false,
    };
    conv.kernel_size == [3, 3] && conv.stride == [1, 1] && conv.dilation == [1, 1] && conv.groups == 1 && padding_one
}

/// `conv.forward(x)`, through the direct 3×3 kernel when it applies (see the crate docs).
pub fn conv2d(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    conv2d_then(conv, x, Activation::Identity)
}

/// `relu(conv.forward(x))`: on the direct path the ReLU is applied before the store and its
/// gradient masks the output gradient inside the convolution's backward pass.
pub fn conv2d_relu(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    conv2d_then(conv, x, Activation::Relu)
}

/// `act(conv.forward(x))`, the activation fused into the direct kernel when it applies.
pub(crate) fn conv2d_then(conv: &Conv2d, x: Tensor<4>, act: Activation) -> Tensor<4> {
    if takes_direct_path(conv, &x) {
        #[cfg(feature = "flex")]
        return extension::conv3x3(x, conv.weight.val(), conv.bias.as_ref().map(|b| b.val()), act == Activation::Relu);
    }
    act.apply(conv.forward(x))
}

/// Whether [`conv2d`]`(conv, x)` runs the direct kernel: it is compiled in for `x`'s backend and
/// dtype, and `conv` has the shape it computes.
pub fn takes_direct_path(conv: &Conv2d, x: &Tensor<4>) -> bool {
    is_same_3x3(conv) && fast_path_device(x)
}

/// A 3×3, stride-1, one-pixel-padded, ungrouped convolution given as tensors (for callers without
/// a `Conv2d` module, such as an ONNX interpreter), `relu` fused in: the direct kernel where
/// [`fast_path_device`] holds for `x`, Burn's `conv2d` elsewhere. The caller checks the shape.
pub fn conv3x3_same(x: Tensor<4>, weight: Tensor<4>, bias: Option<Tensor<1>>, relu: bool) -> Tensor<4> {
    #[cfg(feature = "flex")]
    if fast_path_device(&x) && weight.dtype() == x.dtype() {
        return extension::conv3x3(x, weight, bias, relu);
    }
    let options = burn::tensor::ops::ConvOptions::new([1, 1], [1, 1], [1, 1], 1);
    Activation::relu_if(relu).apply(burn::tensor::module::conv2d(x, weight, bias, options))
}

/// BatchNorm over [n, c, h, w] with the batch's own statistics (biased variance), given as
/// tensors, `relu` fused in: the transpose-free kernel on Flex with autodiff, `None` elsewhere
/// (the caller computes it with Burn's operations). No running statistics are kept.
pub fn batch_norm_batch_stats(
    x: Tensor<4>,
    gamma: Tensor<1>,
    beta: Tensor<1>,
    epsilon: f64,
    relu: bool,
) -> Option<Tensor<4>> {
    #[cfg(feature = "flex")]
    if x.device().is_autodiff() && fast_path_device(&x) {
        return Some(extension::batch_norm_train(x, gamma, beta, epsilon, relu).0);
    }
    let _ = (x, gamma, beta, epsilon, relu);
    None
}

/// `bn.forward(x)`, through the transpose-free kernel when it applies (see the crate docs).
pub fn batch_norm(bn: &BatchNorm, x: Tensor<4>) -> Tensor<4> {
    batch_norm_then(bn, x, Activation::Identity)
}

/// `relu(bn.forward(x))`: on the fast path the ReLU is applied in the normalising pass and its
/// gradient masks the output gradient inside BatchNorm's backward pass.
pub fn batch_norm_relu(bn: &BatchNorm, x: Tensor<4>) -> Tensor<4> {
    batch_norm_then(bn, x, Activation::Relu)
}

/// `act(bn.forward(x))`, the activation fused into the BatchNorm kernel when it applies.
pub(crate) fn batch_norm_then(bn: &BatchNorm, x: Tensor<4>, act: Activation) -> Tensor<4> {
    if !takes_fast_batch_norm(bn, &x) {
        return act.apply(bn.forward(x));
    }
    #[cfg(feature = "flex")]
    {
        let device = x.device();
        let (y, stats) =
            extension::batch_norm_train(x, bn.gamma.val(), bn.beta.val(), bn.epsilon, act == Activation::Relu);
        // The running statistics, updated as `BatchNorm::forward_train` does.
        let [mean, var] = [0, 1].map(|row| stats.clone().narrow(0, row, 1).flatten::<1>(0, 1));
        let running_mean = bn.running_mean.value_sync().to_device(&device);
        let running_var = bn.running_var.value_sync().to_device(&device);
        let m = bn.momentum;
        bn.running_mean.update(running_mean.mul_scalar(1.0 - m).add(mean.mul_scalar(m)).detach());
        bn.running_var.update(running_var.mul_scalar(1.0 - m).add(var.mul_scalar(m)).detach());
        y
    }
    #[cfg(not(feature = "flex"))]
    unreachable!("the fast path is only taken with the flex feature")
}

/// Whether [`batch_norm`]`(bn, x)` runs the fast kernel: compiled in for `x`'s backend and dtype,
/// and `bn` in training mode on an autodiff device (batch statistics).
pub fn takes_fast_batch_norm(bn: &BatchNorm, x: &Tensor<4>) -> bool {
    x.device().is_autodiff() && bn.training.is_enabled() && fast_path_device(x)
}

/// `a.matmul(b)` for matrices, through [`matmul::matmul`] when it applies: both on Flex in f32
/// or f64, and either tiny (at most [`matmul::SMALL_MAX`] multiply-adds: plain loops, without the
/// `gemm` crate's per-call scratch allocation) or large (at least two blocks of output columns and
/// at least 192³ multiply-adds, where Flex itself turns to threads: column blocks, one
/// single-threaded `gemm` call each, run in parallel); Burn's matmul otherwise. Gradients flow
/// through either path, and the backward products take the same route by their own sizes.
pub fn matmul(a: Tensor<2>, b: Tensor<2>) -> Tensor<2> {
    #[cfg(feature = "flex")]
    if takes_fast_matmul(&a, &b) {
        return extension::matmul2d(a, b);
    }
    a.matmul(b)
}

/// Whether [`matmul`]`(a, b)` runs [`matmul::matmul`] (see there).
pub fn takes_fast_matmul(a: &Tensor<2>, b: &Tensor<2>) -> bool {
    #[cfg(feature = "flex")]
    {
        let ([m, k], [_, n]) = (a.dims(), b.dims());
        let size = m * n * k;
        let pays = size <= matmul::SMALL_MAX || (n > matmul::BLOCK && size >= 192 * 192 * 192);
        pays && fast_path_device(a) && b.dtype() == a.dtype() && extension::is_flex(&b.device())
    }
    #[cfg(not(feature = "flex"))]
    {
        let _ = (a, b);
        false
    }
}

/// The Langevin update θ − a⊙g + b⊙ζ of flat tensors (θ − a⊙g when `noise` is `None`), where
/// `noise` is `(b, ζ)`: one pass over memory, reusing θ's buffer, for plain tensors on Flex in f32
/// or f64; Burn's operations everywhere else. Both paths round every product and sum the same
/// way, so they agree bitwise.
pub fn langevin_update(
    theta: Tensor<1>,
    a: Tensor<1>,
    g: Tensor<1>,
    noise: Option<(Tensor<1>, Tensor<1>)>,
) -> Tensor<1> {
    match noise {
        #[cfg(feature = "flex")]
        Some((b, zeta)) if takes_fused_update(&theta) => extension::langevin_update(theta, a, g, b, zeta),
        Some((b, zeta)) => theta.sub(a.mul(g)).add(b.mul(zeta)),
        None => theta.sub(a.mul(g)),
    }
}

/// Whether [`langevin_update`] runs the fused kernel for `theta`: a plain (non-autodiff) tensor, and
/// a backend and dtype the kernel is compiled for.
pub fn takes_fused_update(theta: &Tensor<1>) -> bool {
    !theta.device().is_autodiff() && fast_path_device(theta)
}

/// Whether `x` lives on a backend and dtype the direct kernel is compiled for.
/// Whether `x` lives where the kernels run: Flex, f32 or f64, with the `flex` feature.
pub fn fast_path_device<const D: usize>(x: &Tensor<D>) -> bool {
    #[cfg(feature = "flex")]
    {
        matches!(x.dtype(), DType::F32 | DType::F64) && extension::is_flex(&x.device())
    }
    #[cfg(not(feature = "flex"))]
    {
        let _ = (x, DType::F32);
        false
    }
}

#[cfg(all(test, feature = "flex"))]
mod tests {
    use crate::Activation;
    use crate::parity_tests::{
        BN_SHAPES, MATMUL_SHAPES, SHAPES, batch_norm_then_max_differences, check_langevin_update, flex_at,
        matmul_max_differences, max_differences_with,
    };
    use burn::tensor::{Device, FloatDType};

    /// f64 on Flex: the direct path equals Burn's convolution to 1e-12 (relative to each result's scale), gradients included,
    /// alone and with the ReLU fused (with and without an input gradient), and so does BatchNorm (+ ReLU).
    /// (The f32 twin is an integration test: a device keeps one dtype per process.)
    #[test]
    fn direct_path_equals_burn_conv_in_f64() {
        let device = flex_f64().autodiff();
        let cases = [(Activation::Identity, true), (Activation::Relu, true), (Activation::Relu, false)];
        for (shape, (act, input_grad)) in SHAPES.into_iter().flat_map(|s| cases.map(|c| (s, c))) {
            let d = max_differences_with(&device, shape, act, input_grad);
            assert!(
                d.iter().all(|&e| e < 1e-12),
                "{shape:?} {act:?} dx {input_grad}: |Δy|, |Δdx|, |Δdw|, |Δdb| = {d:?}"
            );
        }
        // BatchNorm (and BatchNorm + ReLU): output, gradients and running statistics.
        for (shape, act) in BN_SHAPES.into_iter().flat_map(|s| [(s, Activation::Identity), (s, Activation::Relu)]) {
            let d = batch_norm_then_max_differences(&device, shape, act);
            assert!(d.iter().all(|&e| e < 1e-12), "{shape:?} {act:?}: |Δy|, |Δdx|, |Δdγ|, |Δdβ|, |Δμ|, |Δσ²| = {d:?}");
        }
    }

    /// f64 on Flex: the fused Langevin update equals Burn's operations bitwise.
    #[test]
    fn fused_langevin_update_equals_burn_ops_in_f64() {
        check_langevin_update(&flex_f64());
    }

    /// f64 on Flex: the blocked and the loop products equal Burn's matmul to 1e-12 (relative to each result's
    /// scale), both gradients included, for plain and transposed right-hand sides.
    #[test]
    fn fast_matmul_equals_burn_matmul_in_f64() {
        let device = flex_f64().autodiff();
        for (m, k, n) in MATMUL_SHAPES {
            for transposed in [false, true] {
                let d = matmul_max_differences(&device, m, k, n, transposed);
                assert!(d.iter().all(|&e| e < 1e-12), "{:?}: |Δy|, |Δda|, |Δdb| = {d:?}", (m, k, n, transposed));
            }
        }
    }

    fn flex_f64() -> Device {
        flex_at(FloatDType::F64)
    }
}
