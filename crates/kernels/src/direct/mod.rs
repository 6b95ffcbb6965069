//! Direct 3×3 "same" convolution on host slices (NCHW): the forward pass, the input gradient and
//! the weight gradient, with a following ReLU fused in.
//!
//! Written by hand because no maintained crate has a small-channel direct convolution: the
//! im2col + GEMM route of general libraries spends most of its time packing when the channel
//! counts are 1–16, as in the DnCNN. One source serves every instruction set: the kernels
//! ([`forward`], [`weight_grad`]) are generic over macerator's vectors, read the zero-padded flat
//! layout of [`layout`], and are compiled for each [`Path`] the CPU may have; each call takes
//! the fastest it supports ([`Path::current`]), with register tiles sized for that path. One
//! exception, measured: on AVX-512 the hand-written kernels of [`avx512`] run instead, since the
//! portable ones take 1.12× their time there (they read and write the unpadded planes with lane
//! masks, which macerator does not offer).
//!
//! Results do not depend on the thread count: images are independent in the forward pass, and
//! the weight gradient sums per-chunk partials in a fixed order.

use rayon::prelude::*;

pub use crate::Activation;
pub use crate::real::Real;
use crate::real::filled;
use crate::simd::{self, Kernel};
pub use crate::simd::{Path, limit_path};

#[cfg(target_arch = "x86_64")]
mod avx512;
mod forward;
#[cfg(target_arch = "x86_64")]
mod lanes;
mod layout;
mod weight_grad;

use forward::ForwardImage;
use layout::Layout;
use weight_grad::WeightGradChunk;

/// How many convolutions (forward, input gradient or weight gradient) `path` has run since the
/// process started: the evidence a test needs that the fast path was taken.
pub fn calls(path: Path) -> u64 {
    simd::calls(Kernel::Conv, path)
}

/// The path for this call, counted.
fn take_path() -> Path {
    simd::take_path(Kernel::Conv)
}

/// An element type of the direct convolution (f32 or f64): [`Real`], and on x86-64 the
/// hand-written AVX-512 kernels of the type.
pub trait ConvElement: Real {
    /// The batch forward pass on the AVX-512 path (`wt` as [ci][k][co]), with a ReLU when `relu`.
    #[cfg(target_arch = "x86_64")]
    #[doc(hidden)]
    fn forward_avx512(g: Geometry, x: &[Self], wt: &[Self], bias: &[Self], relu: bool) -> Vec<Self>;
    /// The batch weight and bias gradients on the AVX-512 path, `dy` masked by a ReLU output.
    #[cfg(target_arch = "x86_64")]
    #[doc(hidden)]
    fn weight_grad_avx512(g: Geometry, x: &[Self], dy: &[Self], relu_output: Option<&[Self]>)
    -> (Vec<Self>, Vec<Self>);
}

macro_rules! impl_conv_element {
    ($T:ty) => {
        impl ConvElement for $T {
            #[cfg(target_arch = "x86_64")]
            fn forward_avx512(g: Geometry, x: &[$T], wt: &[$T], bias: &[$T], relu: bool) -> Vec<$T> {
                avx512::forward(g, x, wt, bias, relu)
            }
            #[cfg(target_arch = "x86_64")]
            fn weight_grad_avx512(g: Geometry, x: &[$T], dy: &[$T], relu_output: Option<&[$T]>) -> (Vec<$T>, Vec<$T>) {
                avx512::weight_grad(g, x, dy, relu_output)
            }
        }
    };
}

impl_conv_element!(f32);
impl_conv_element!(f64);

/// Images per weight-gradient partial sum: fixes the summation order independently of threads.
const GRAD_CHUNK: usize = 8;

/// Values per job of the parallel ReLU gradient (64 KiB of f64).
const RELU_CHUNK: usize = 8192;

/// The gradient through a ReLU from its output `y` and the gradient at its output `dy`: `dy`
/// where y > 0, 0 elsewhere (Burn's `relu_backward`). Chunks run in parallel; each value is
/// computed alone, so the split does not change a bit.
pub fn relu_grad<T: Real>(y: &[T], dy: &[T]) -> Vec<T> {
    assert_eq!(y.len(), dy.len(), "relu_grad: {} outputs, {} gradients", y.len(), dy.len());
    let mut dx = vec![T::default(); dy.len()];
    dx.par_chunks_mut(RELU_CHUNK).zip(y.par_chunks(RELU_CHUNK).zip(dy.par_chunks(RELU_CHUNK))).for_each(
        |(o, (y, d))| {
            for ((o, &y), &d) in o.iter_mut().zip(y).zip(d) {
                *o = if y > T::default() { d } else { T::default() };
            }
        },
    );
    dx
}

/// The shape of one convolution: `n` images of `c_in` channels, `h × w` pixels, to `c_out` channels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    /// Images in the batch.
    pub n: usize,
    /// Input channels.
    pub c_in: usize,
    /// Output channels.
    pub c_out: usize,
    /// Image height.
    pub h: usize,
    /// Image width.
    pub w: usize,
}

impl Geometry {
    fn image_in(&self) -> usize {
        self.c_in * self.h * self.w
    }

    fn image_out(&self) -> usize {
        self.c_out * self.h * self.w
    }
}

/// Every kernel needs at least one input and one output channel (a plane of either is split into
/// per-image chunks of that size).
fn check_channels(g: &Geometry) {
    assert!(g.c_in > 0 && g.c_out > 0, "conv3x3 of {g:?}: a convolution needs input and output channels");
}

fn check_lengths<T>(g: &Geometry, x: &[T], weight: &[T]) {
    check_channels(g);
    assert_eq!(x.len(), g.n * g.image_in(), "input of {g:?} has {} elements", x.len());
    assert_eq!(weight.len(), g.c_out * g.c_in * 9, "3×3 weight of {g:?} has {} elements", weight.len());
}

/// `y = conv(x, weight) + bias` with a 3×3 kernel, stride 1, padding 1 (output size = input size).
///
/// `x` is [n, c_in, h, w], `weight` [c_out, c_in, 3, 3], `bias` [c_out] (zeros when `None`); the
/// result is [n, c_out, h, w], all row-major. Images run in parallel on rayon's pool.
pub fn conv3x3_forward<T: ConvElement>(g: Geometry, x: &[T], weight: &[T], bias: Option<&[T]>) -> Vec<T> {
    forward_on(take_path(), Implementation::Dispatched, g, x, weight, bias, Activation::Identity)
}

/// [`conv3x3_forward`] followed by `act` in the same pass (a ReLU is applied before the store).
pub fn conv3x3_forward_with<T: ConvElement>(
    g: Geometry,
    x: &[T],
    weight: &[T],
    bias: Option<&[T]>,
    act: Activation,
) -> Vec<T> {
    forward_on(take_path(), Implementation::Dispatched, g, x, weight, bias, act)
}

/// Which convolution kernels a path runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Implementation {
    /// What the dispatcher runs: the hand-written AVX-512 kernels on [`Path::Avx512`] (measured
    /// faster there, see `avx512`), the portable ones on every other path.
    Dispatched,
    /// The portable kernels on every path (tests of their 32-register tiles on AVX-512).
    #[cfg_attr(not(test), allow(dead_code))]
    Portable,
}

impl Implementation {
    /// Whether `path` runs the hand-written AVX-512 kernels under this choice.
    #[cfg(target_arch = "x86_64")]
    fn hand_written(self, path: Path) -> bool {
        self == Implementation::Dispatched && path == Path::Avx512
    }
}

/// [`conv3x3_forward_with`] on a given path (which the CPU must support), with the kernels
/// `kernels` picks.
#[allow(clippy::too_many_arguments)]
fn forward_on<T: ConvElement>(
    path: Path,
    kernels: Implementation,
    g: Geometry,
    x: &[T],
    weight: &[T],
    bias: Option<&[T]>,
    act: Activation,
) -> Vec<T> {
    check_lengths(&g, x, weight);
    // Weights as [ci][k][co]: the B output channels of one tap are contiguous.
    let mut wt = vec![T::default(); weight.len()];
    for co in 0..g.c_out {
        for ci in 0..g.c_in {
            for k in 0..9 {
                wt[(ci * 9 + k) * g.c_out + co] = weight[(co * g.c_in + ci) * 9 + k];
            }
        }
    }
    let bias = bias.map_or_else(|| vec![T::default(); g.c_out], <[T]>::to_vec);
    assert_eq!(bias.len(), g.c_out, "bias of {g:?} has {} elements", bias.len());
    #[cfg(target_arch = "x86_64")]
    if kernels.hand_written(path) {
        return T::forward_avx512(g, x, &wt, &bias, act == Activation::Relu);
    }
    if g.n == 0 || g.image_out() == 0 {
        return vec![T::default(); g.n * g.image_out()];
    }
    let lay = Layout::of(&g);
    filled(g.n * g.image_out(), |y| {
        y.par_chunks_mut(g.image_out()).zip(x.par_chunks(g.image_in())).for_each_init(
            || (vec![T::default(); g.c_in * lay.plane], vec![T::default(); g.c_out * lay.len]),
            |(xp, flat), (y, x)| {
                let op = ForwardImage {
                    lay,
                    c_in: g.c_in,
                    c_out: g.c_out,
                    wt: &wt,
                    bias: &bias,
                    relu: act == Activation::Relu,
                    registers: path.registers(),
                    x,
                    xp,
                    flat,
                    y,
                };
                simd::run(path, op)
            },
        )
    })
}

/// The input gradient of [`conv3x3_forward`]: `dx = conv(dy, flip(weightᵀ))`, itself a 3×3 "same"
/// convolution from `c_out` to `c_in` channels with the kernel rotated by 180°.
pub fn conv3x3_input_grad<T: ConvElement>(g: Geometry, dy: &[T], weight: &[T]) -> Vec<T> {
    input_grad_on(take_path(), Implementation::Dispatched, g, dy, weight)
}

/// [`conv3x3_input_grad`] on a given path (which the CPU must support), with the kernels
/// `kernels` picks.
fn input_grad_on<T: ConvElement>(path: Path, kernels: Implementation, g: Geometry, dy: &[T], weight: &[T]) -> Vec<T> {
    let back = Geometry { c_in: g.c_out, c_out: g.c_in, ..g };
    let mut rotated = vec![T::default(); weight.len()];
    for co in 0..g.c_out {
        for ci in 0..g.c_in {
            for k in 0..9 {
                rotated[(ci * g.c_out + co) * 9 + (8 - k)] = weight[(co * g.c_in + ci) * 9 + k];
            }
        }
    }
    forward_on(path, kernels, back, dy, &rotated, None, Activation::Identity)
}

/// The weight and bias gradients of [`conv3x3_forward`]: `dweight` [c_out, c_in, 3, 3] and
/// `dbias` [c_out], from the input `x` and the output gradient `dy`.
pub fn conv3x3_weight_grad<T: ConvElement>(g: Geometry, x: &[T], dy: &[T]) -> (Vec<T>, Vec<T>) {
    weight_grad_on(take_path(), Implementation::Dispatched, g, x, dy, None)
}

/// The weight and bias gradients of [`conv3x3_forward_with`] with a ReLU, from the input `x`, the
/// gradient `dy` at the ReLU's output and the ReLU's output `y`: [`conv3x3_weight_grad`] of
/// [`relu_grad`]`(y, dy)`, the mask applied one image at a time inside the kernel (no separate
/// pass over the batch).
pub fn conv3x3_weight_grad_relu<T: ConvElement>(g: Geometry, x: &[T], dy: &[T], y: &[T]) -> (Vec<T>, Vec<T>) {
    assert_eq!(y.len(), dy.len(), "ReLU output of {g:?} has {} elements, its gradient {}", y.len(), dy.len());
    weight_grad_on(take_path(), Implementation::Dispatched, g, x, dy, Some(y))
}

/// The weight and bias gradients on a given path (which the CPU must support), with the kernels
/// `kernels` picks, `dy` masked by a ReLU output when given.
fn weight_grad_on<T: ConvElement>(
    path: Path,
    kernels: Implementation,
    g: Geometry,
    x: &[T],
    dy: &[T],
    relu_output: Option<&[T]>,
) -> (Vec<T>, Vec<T>) {
    check_channels(&g);
    assert_eq!(x.len(), g.n * g.image_in(), "input of {g:?} has {} elements", x.len());
    assert_eq!(dy.len(), g.n * g.image_out(), "output gradient of {g:?} has {} elements", dy.len());
    #[cfg(target_arch = "x86_64")]
    if kernels.hand_written(path) {
        return T::weight_grad_avx512(g, x, dy, relu_output);
    }
    let nw = g.c_out * g.c_in * 9;
    let lay = Layout::of(&g);
    let (image_in, image_out) = (g.image_in().max(1), g.image_out().max(1));
    let chunks = x.par_chunks(GRAD_CHUNK * image_in).zip(dy.par_chunks(GRAD_CHUNK * image_out)).enumerate();
    let partials: Vec<Vec<T>> = chunks
        .map(|(chunk, (x, dy))| {
            let relu_output = relu_output.map(|y| &y[chunk * GRAD_CHUNK * image_out..][..dy.len()]);
            let op =
                WeightGradChunk { lay, c_in: g.c_in, c_out: g.c_out, registers: path.registers(), x, dy, relu_output };
            simd::run(path, op)
        })
        .collect();
    let mut total = vec![T::default(); nw + g.c_out];
    for part in partials {
        total.iter_mut().zip(part).for_each(|(a, b)| *a = *a + b);
    }
    let db = total.split_off(nw);
    (total, db)
}

#[cfg(test)]
mod tests;
