//! Direct 3×3 "same" convolution on host slices (NCHW): the forward pass and the weight gradient.
//!
//! Written by hand because no maintained crate has a small-channel direct convolution: the
//! im2col + GEMM route of general libraries spends most of its time packing when the channel
//! counts are 1–16, as in the DnCNN. Three paths compute the same definition ([`Path`]); each
//! call takes the fastest the CPU supports:
//! - [`Path::Avx512`] ([`avx512`]): hand-written register tiles over the unpadded planes, with
//!   lane masks standing in for the zero padding.
//! - [`Path::Avx2Fma`] and [`Path::Portable`]: the loops below, compiled with and without AVX2 +
//!   FMA. Each input plane is zero-padded to (H+2)×(W+2) and flattened, so the output at flat
//!   position q = y·(W+2)+x reads the input at q + ky·(W+2) + kx for every tap — nine contiguous,
//!   shifted vectors. Outputs at the two padding columns of each row are computed and thrown away
//!   (2/(W+2) extra work), which keeps the inner loop free of bounds logic so the compiler
//!   vectorises it. A register tile holds `B` output channels × `L` positions.
//!
//! Results do not depend on the thread count: images are independent in the forward pass, and
//! the weight gradient sums per-chunk partials in a fixed order.

use rayon::prelude::*;
use std::ops::{Add, Mul};
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

pub use crate::Activation;

#[cfg(target_arch = "x86_64")]
mod avx512;
#[cfg(target_arch = "x86_64")]
mod lanes;
mod portable;

pub use portable::ConvElement;
use portable::{forward_image, has_avx2_fma, pad_planes, spread_planes, weight_grad_image};

/// Which implementation of the direct convolution runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Path {
    /// Plain loops compiled for the baseline target (vectorised by LLVM where it can).
    Portable = 0,
    /// The same loops compiled for AVX2 and FMA, over zero-padded copies of the planes.
    Avx2Fma = 1,
    /// Hand-written AVX-512 tiles over the unpadded planes, with lane masks for the padding.
    Avx512 = 2,
}

impl Path {
    /// The fastest path this CPU supports.
    pub fn best_supported() -> Path {
        #[cfg(target_arch = "x86_64")]
        if avx512::available() {
            return Path::Avx512;
        }
        if has_avx2_fma() { Path::Avx2Fma } else { Path::Portable }
    }

    /// The path the convolutions take now: the best the CPU supports, capped by [`limit_path`].
    pub fn current() -> Path {
        let cap = match LIMIT.load(Ordering::Relaxed) {
            0 => Path::Portable,
            1 => Path::Avx2Fma,
            _ => Path::Avx512,
        };
        Path::best_supported().min(cap)
    }
}

/// The cap set by [`limit_path`] (a `Path` as u8).
static LIMIT: AtomicU8 = AtomicU8::new(Path::Avx512 as u8);

/// Calls of the three entry points per path, since the process started.
static CALLS: [AtomicU64; 3] = [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)];

/// Caps the path every later convolution in this process takes (for A/B timings and tests):
/// the best the CPU supports, but no faster than `cap`. `limit_path(Path::Avx512)` lifts the cap.
pub fn limit_path(cap: Path) {
    LIMIT.store(cap as u8, Ordering::Relaxed);
}

/// How many convolutions (forward, input gradient or weight gradient) `path` has run since the
/// process started: the evidence a test needs that the fast path was taken.
pub fn calls(path: Path) -> u64 {
    CALLS[path as usize].load(Ordering::Relaxed)
}

/// The path for this call, counted.
fn take_path() -> Path {
    let path = Path::current();
    CALLS[path as usize].fetch_add(1, Ordering::Relaxed);
    path
}

/// Accumulator elements per register tile (`B × L`), per element type: eight AVX2 registers.
const TILE_ELEMS_F32: usize = 64;

/// Images per weight-gradient partial sum: fixes the summation order independently of threads.
const GRAD_CHUNK: usize = 8;

/// A float type the kernels run on (f32 or f64).
pub trait Real: Copy + Send + Sync + Default + PartialOrd + Add<Output = Self> + Mul<Output = Self> + 'static {
    /// Fused multiply-add `self · a + b`.
    fn fused_mul_add(self, a: Self, b: Self) -> Self;
}

impl Real for f32 {
    #[inline(always)]
    fn fused_mul_add(self, a: Self, b: Self) -> Self {
        self.mul_add(a, b)
    }
}

impl Real for f64 {
    #[inline(always)]
    fn fused_mul_add(self, a: Self, b: Self) -> Self {
        self.mul_add(a, b)
    }
}

/// max(v, 0), with Burn's `relu` convention (0 where v ≤ 0).
#[inline(always)]
fn relu<T: Real>(v: T) -> T {
    if v > T::default() { v } else { T::default() }
}

/// Values per job of the parallel ReLU gradient (64 KiB of f64).
const RELU_CHUNK: usize = 8192;

/// The gradient through a ReLU from its output `y` and the gradient at its output `dy`: `dy`
/// where y > 0, 0 elsewhere (Burn's `relu_backward`). Chunks run in parallel; each value is
/// computed alone, so the split does not change a bit.
pub fn relu_grad<T: ConvElement>(y: &[T], dy: &[T]) -> Vec<T> {
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
    /// Row stride of a padded plane.
    fn wp(&self) -> usize {
        self.w + 2
    }

    /// Flat output positions computed per plane, padding columns included, rounded up to whole tiles.
    fn len(&self) -> usize {
        (self.h * self.wp()).div_ceil(TILE_ELEMS_F32) * TILE_ELEMS_F32
    }

    /// Stride of a padded input plane: every shifted read of every tile stays inside it.
    fn plane(&self) -> usize {
        self.len() + 2 * self.wp() + 2
    }

    /// Offset of tap `k` (row-major over the 3×3 kernel) in a padded plane.
    fn offset(&self, k: usize) -> usize {
        (k / 3) * self.wp() + (k % 3)
    }

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
    forward_on(take_path(), g, x, weight, bias, Activation::Identity)
}

/// [`conv3x3_forward`] followed by `act` in the same pass (a ReLU is applied before the store).
pub fn conv3x3_forward_with<T: ConvElement>(
    g: Geometry,
    x: &[T],
    weight: &[T],
    bias: Option<&[T]>,
    act: Activation,
) -> Vec<T> {
    forward_on(take_path(), g, x, weight, bias, act)
}

/// [`conv3x3_forward_with`] on a given path (which the CPU must support).
fn forward_on<T: ConvElement>(
    path: Path,
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
    if path == Path::Avx512 {
        return T::forward_avx512(g, x, &wt, &bias, act == Activation::Relu);
    }
    let mut y = vec![T::default(); g.n * g.image_out()];
    if g.n == 0 || g.image_out() == 0 {
        return y;
    }
    let (len, wp) = (g.len(), g.wp());
    y.par_chunks_mut(g.image_out()).zip(x.par_chunks(g.image_in())).for_each_init(
        || (vec![T::default(); g.c_in * g.plane()], vec![T::default(); g.c_out * len]),
        |(xp, flat), (yi, xi)| {
            pad_planes(&g, g.c_in, xi, xp);
            forward_image(path, &g, xp, &wt, &bias, flat);
            for co in 0..g.c_out {
                for r in 0..g.h {
                    let row = &mut yi[(co * g.h + r) * g.w..][..g.w];
                    row.copy_from_slice(&flat[co * len + r * wp..][..g.w]);
                    if act == Activation::Relu {
                        row.iter_mut().for_each(|v| *v = relu(*v));
                    }
                }
            }
        },
    );
    y
}

/// The input gradient of [`conv3x3_forward`]: `dx = conv(dy, flip(weightᵀ))`, itself a 3×3 "same"
/// convolution from `c_out` to `c_in` channels with the kernel rotated by 180°.
pub fn conv3x3_input_grad<T: ConvElement>(g: Geometry, dy: &[T], weight: &[T]) -> Vec<T> {
    input_grad_on(take_path(), g, dy, weight)
}

/// [`conv3x3_input_grad`] on a given path (which the CPU must support).
fn input_grad_on<T: ConvElement>(path: Path, g: Geometry, dy: &[T], weight: &[T]) -> Vec<T> {
    let back = Geometry { c_in: g.c_out, c_out: g.c_in, ..g };
    let mut rotated = vec![T::default(); weight.len()];
    for co in 0..g.c_out {
        for ci in 0..g.c_in {
            for k in 0..9 {
                rotated[(ci * g.c_out + co) * 9 + (8 - k)] = weight[(co * g.c_in + ci) * 9 + k];
            }
        }
    }
    forward_on(path, back, dy, &rotated, None, Activation::Identity)
}

/// The weight and bias gradients of [`conv3x3_forward`]: `dweight` [c_out, c_in, 3, 3] and
/// `dbias` [c_out], from the input `x` and the output gradient `dy`.
pub fn conv3x3_weight_grad<T: ConvElement>(g: Geometry, x: &[T], dy: &[T]) -> (Vec<T>, Vec<T>) {
    weight_grad_on(take_path(), g, x, dy)
}

/// The weight and bias gradients of [`conv3x3_forward_with`] with a ReLU, from the input `x`, the
/// gradient `dy` at the ReLU's output and the ReLU's output `y`: [`conv3x3_weight_grad`] of
/// [`relu_grad`]`(y, dy)`. On the AVX-512 path the mask is applied one image at a time inside the
/// kernel, without the separate pass over the batch.
pub fn conv3x3_weight_grad_relu<T: ConvElement>(g: Geometry, x: &[T], dy: &[T], y: &[T]) -> (Vec<T>, Vec<T>) {
    weight_grad_relu_on(take_path(), g, x, dy, y)
}

/// [`conv3x3_weight_grad_relu`] on a given path (which the CPU must support).
fn weight_grad_relu_on<T: ConvElement>(path: Path, g: Geometry, x: &[T], dy: &[T], y: &[T]) -> (Vec<T>, Vec<T>) {
    assert_eq!(y.len(), dy.len(), "ReLU output of {g:?} has {} elements, its gradient {}", y.len(), dy.len());
    #[cfg(target_arch = "x86_64")]
    if path == Path::Avx512 {
        assert_eq!(x.len(), g.n * g.image_in(), "input of {g:?} has {} elements", x.len());
        assert_eq!(dy.len(), g.n * g.image_out(), "output gradient of {g:?} has {} elements", dy.len());
        return T::weight_grad_avx512(g, x, dy, Some(y));
    }
    weight_grad_on(path, g, x, &relu_grad(y, dy))
}

/// [`conv3x3_weight_grad`] on a given path (which the CPU must support).
fn weight_grad_on<T: ConvElement>(path: Path, g: Geometry, x: &[T], dy: &[T]) -> (Vec<T>, Vec<T>) {
    check_channels(&g);
    assert_eq!(x.len(), g.n * g.image_in(), "input of {g:?} has {} elements", x.len());
    assert_eq!(dy.len(), g.n * g.image_out(), "output gradient of {g:?} has {} elements", dy.len());
    #[cfg(target_arch = "x86_64")]
    if path == Path::Avx512 {
        return T::weight_grad_avx512(g, x, dy, None);
    }
    let nw = g.c_out * g.c_in * 9;
    let partials: Vec<(Vec<T>, Vec<T>)> = x
        .par_chunks(GRAD_CHUNK * g.image_in().max(1))
        .zip(dy.par_chunks(GRAD_CHUNK * g.image_out().max(1)))
        .map(|(xc, dyc)| {
            let mut xp = vec![T::default(); g.c_in * g.plane()];
            let mut dflat = vec![T::default(); g.c_out * g.len()];
            let (mut dw, mut db) = (vec![T::default(); nw], vec![T::default(); g.c_out]);
            for (xi, dyi) in xc.chunks(g.image_in()).zip(dyc.chunks(g.image_out())) {
                pad_planes(&g, g.c_in, xi, &mut xp);
                spread_planes(&g, g.c_out, dyi, &mut dflat);
                weight_grad_image(path, &g, &xp, &dflat, &mut dw);
                for (co, b) in db.iter_mut().enumerate() {
                    *b = dyi[co * g.h * g.w..][..g.h * g.w].iter().fold(*b, |s, &v| s + v);
                }
            }
            (dw, db)
        })
        .collect();
    let (mut dw, mut db) = (vec![T::default(); nw], vec![T::default(); g.c_out]);
    for (pw, pb) in partials {
        dw.iter_mut().zip(pw).for_each(|(a, b)| *a = *a + b);
        db.iter_mut().zip(pb).for_each(|(a, b)| *a = *a + b);
    }
    (dw, db)
}

#[cfg(test)]
mod tests;
