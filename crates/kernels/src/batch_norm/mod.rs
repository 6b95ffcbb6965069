//! BatchNorm with batch statistics (training mode) on host slices (NCHW): statistics, the
//! normalisation and its backward pass, each in one or two passes over the activations.
//!
//! Written by hand because Burn's default `batch_norm_train` (which Flex inherits) transposes the
//! activations to [C, N·H·W] twice in the forward pass and twice more in the backward pass, and
//! runs about a dozen elementwise passes; in NCHW every (image, channel) plane is already
//! contiguous, so per-channel sums need no transpose. Sums accumulate in f64 and run in a fixed
//! order, so results do not depend on the thread count.

pub use crate::Activation;
pub use crate::real::Real;
use crate::real::filled;
use crate::simd::{self, Kernel, Path};
use planes::{GradSums, InputGrad, Moments, Normalise};
use rayon::prelude::*;

mod planes;

/// The shape of a BatchNorm input: `n` images of `c` channels of `hw` pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Planes {
    /// Images.
    pub n: usize,
    /// Channels.
    pub c: usize,
    /// Pixels per channel plane.
    pub hw: usize,
}

impl Planes {
    fn count(&self) -> f64 {
        (self.n * self.hw) as f64
    }
}

/// Per channel, the count-weighted combination of per-plane `(mean, m2)` pairs over the images
/// (Chan et al.'s pairwise update), one channel per task: `(mean, Σ (x − mean)²)` of the channel.
fn channel_moments<T: Real>(path: Path, p: Planes, x: &[T]) -> Vec<(f64, f64)> {
    let hw = p.hw as f64;
    (0..p.c)
        .into_par_iter()
        .map(|c| {
            let planes = simd::run(path, Moments { x, first: c * p.hw, stride: p.c * p.hw, planes: p.n, hw: p.hw });
            planes.into_iter().enumerate().fold((0.0, 0.0), |(mean, m2), (n, (plane_mean, plane_m2))| {
                let seen = (n as f64) * hw;
                let delta = plane_mean - mean;
                let total = seen + hw;
                (mean + delta * hw / total, m2 + plane_m2 + delta * delta * seen * hw / total)
            })
        })
        .collect()
}

/// The batch mean and biased variance of every channel (what BatchNorm normalises with and what
/// its running statistics average).
///
/// One pass over memory: each plane's mean and centred sum of squares come from two passes over
/// the plane while it sits in the cache, and the planes combine by Chan's update — as accurate as
/// two passes over the whole channel, without the cancellation of Σx² − (Σx)²/M.
pub fn channel_stats<T: Real>(p: Planes, x: &[T]) -> (Vec<f64>, Vec<f64>) {
    channel_stats_on(simd::take_path(Kernel::BatchNorm), p, x)
}

/// [`channel_stats`] on a given path (which the CPU must support).
fn channel_stats_on<T: Real>(path: Path, p: Planes, x: &[T]) -> (Vec<f64>, Vec<f64>) {
    assert_eq!(x.len(), p.n * p.c * p.hw, "BatchNorm input of {p:?} has {} elements", x.len());
    if p.hw == 0 || p.n == 0 {
        return (vec![f64::NAN; p.c], vec![f64::NAN; p.c]);
    }
    let moments = channel_moments(path, p, x);
    moments.into_iter().map(|(mean, m2)| (mean, m2 / p.count())).unzip()
}

/// The batch statistics of `x` as [`channel_stats`] gives them: per-channel mean and biased variance.
pub type Stats<'a> = (&'a [f64], &'a [f64]);

/// `y = act((x − mean) / √(var + eps) · gamma + beta)`, with `(mean, var)` the batch statistics of
/// `x` from [`channel_stats`] (computed once by the caller, who also needs them for running
/// averages).
pub fn batch_norm_forward<T: Real>(
    p: Planes,
    x: &[T],
    gamma: &[T],
    beta: &[T],
    stats: Stats,
    eps: f64,
    act: Activation,
) -> Vec<T> {
    batch_norm_forward_on(simd::take_path(Kernel::BatchNorm), p, x, gamma, beta, stats, eps, act)
}

/// [`batch_norm_forward`] on a given path (which the CPU must support).
#[allow(clippy::too_many_arguments)]
fn batch_norm_forward_on<T: Real>(
    path: Path,
    p: Planes,
    x: &[T],
    gamma: &[T],
    beta: &[T],
    (mean, var): Stats,
    eps: f64,
    act: Activation,
) -> Vec<T> {
    // y = (x − μ) · scale + β per channel; centring first avoids cancellation.
    let coef: Vec<(T, T, T)> = (0..p.c)
        .map(|c| {
            let scale = gamma[c].to_f64() / (var[c] + eps).sqrt();
            (T::from_f64(mean[c]), T::from_f64(scale), beta[c])
        })
        .collect();
    let image = (p.c * p.hw).max(1);
    let relu = act == Activation::Relu;
    filled(x.len(), |y| {
        y.par_chunks_mut(image)
            .zip(x.par_chunks(image))
            .for_each(|(y, x)| simd::run(path, Normalise { y, x, coef: &coef, relu }))
    })
}

/// The backward pass of [`batch_norm_forward`]: `(dx, dgamma, dbeta)` from the input `x`, `gamma`,
/// the batch statistics of `x` and the output gradient `dy`. With a ReLU, `y` is the forward
/// pass's output: the gradient flows where y > 0 (as Burn's `relu_backward`).
///
/// With x̂ = (x − μ)/σ, M = n·hw and g the gradient at BatchNorm's output (dy, masked by the
/// ReLU): dβ = Σ g, dγ = Σ g·x̂, dx = γ/σ · (g − dβ/M − x̂·dγ/M).
pub fn batch_norm_backward<T: Real>(
    p: Planes,
    x: &[T],
    gamma: &[T],
    stats: Stats,
    dy: &[T],
    eps: f64,
    relu_output: Option<&[T]>,
) -> (Vec<T>, Vec<T>, Vec<T>) {
    batch_norm_backward_on(simd::take_path(Kernel::BatchNorm), p, x, gamma, stats, dy, eps, relu_output)
}

/// [`batch_norm_backward`] on a given path (which the CPU must support).
#[allow(clippy::too_many_arguments)]
fn batch_norm_backward_on<T: Real>(
    path: Path,
    p: Planes,
    x: &[T],
    gamma: &[T],
    (mean, var): Stats,
    dy: &[T],
    eps: f64,
    relu_output: Option<&[T]>,
) -> (Vec<T>, Vec<T>, Vec<T>) {
    assert_eq!(dy.len(), x.len(), "BatchNorm output gradient of {p:?} has {} elements", dy.len());
    if let Some(y) = relu_output {
        assert_eq!(y.len(), x.len(), "BatchNorm + ReLU output of {p:?} has {} elements", y.len());
    }
    let inv_std: Vec<f64> = var.iter().map(|v| 1.0 / (v + eps).sqrt()).collect();
    // dβ and Σ g·(x − μ) per channel, in one pass over the planes.
    let sums: Vec<(f64, f64)> = (0..p.c)
        .into_par_iter()
        .map(|c| {
            let (first, stride, planes, hw) = (c * p.hw, p.c * p.hw, p.n, p.hw);
            let sums = GradSums { x, dy, relu_output, mu: mean[c], first, stride, planes, hw };
            simd::run(path, sums)
                .into_iter()
                .fold((0.0, 0.0), |(db, dg), (plane_db, plane_dg)| (db + plane_db, dg + plane_dg))
        })
        .collect();
    let dbeta: Vec<f64> = sums.iter().map(|s| s.0).collect();
    let dgamma: Vec<f64> = sums.iter().zip(&inv_std).map(|(s, is)| s.1 * is).collect();
    // dx = a·g + b·(x − μ) + k per channel: a = γ/σ, b = −a·dγ/(M·σ), k = −a·dβ/M.
    let m = p.count();
    let coef: Vec<[T; 4]> = (0..p.c)
        .map(|c| {
            let a = gamma[c].to_f64() * inv_std[c];
            [a, -a * dgamma[c] / m * inv_std[c], mean[c], -a * dbeta[c] / m].map(T::from_f64)
        })
        .collect();
    let image = (p.c * p.hw).max(1);
    let dx = filled(x.len(), |dx| {
        dx.par_chunks_mut(image).zip(x.par_chunks(image).zip(dy.par_chunks(image))).enumerate().for_each(
            |(i, (dx, (x, dy)))| {
                let relu_output = relu_output.map(|y| &y[i * image..][..x.len()]);
                simd::run(path, InputGrad { dx, x, dy, relu_output, coef: &coef })
            },
        )
    });
    let narrow = |v: Vec<f64>| v.into_iter().map(T::from_f64).collect();
    (dx, narrow(dgamma), narrow(dbeta))
}

#[cfg(test)]
mod tests;
