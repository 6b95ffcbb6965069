//! BatchNorm with batch statistics (training mode) on host slices (NCHW): statistics, the
//! normalisation and its backward pass, each in one or two passes over the activations.
//!
//! Written by hand because Burn's default `batch_norm_train` (which Flex inherits) transposes the
//! activations to [C, N·H·W] twice in the forward pass and twice more in the backward pass, and
//! runs about a dozen elementwise passes; in NCHW every (image, channel) plane is already
//! contiguous, so per-channel sums need no transpose. Sums accumulate in f64 and run in a fixed
//! order, so results do not depend on the thread count.

pub use crate::Activation;
use crate::direct::Real;
use rayon::prelude::*;
use std::mem::MaybeUninit;

/// Conversions between the element type and the f64 accumulators, and the per-plane sums.
pub trait Accumulate: Real {
    /// Widens to f64.
    fn to_f64(self) -> f64;
    /// Narrows from f64 (rounding to nearest).
    fn from_f64(v: f64) -> Self;
    /// `(Σ g, Σ (x − μ)·g)` over one plane in f64, g the output gradient `ds`, or where a ReLU
    /// output `ys` is given, `ds` where y > 0 and 0 elsewhere. On AVX-512 in vector lanes.
    fn plane_grad_sums(xs: &[Self], ds: &[Self], ys: Option<&[Self]>, mu: f64) -> (f64, f64);
    /// The mean and centred sum of squares Σ (x − mean)² of one plane in f64 (two passes while
    /// it sits in the cache). On AVX-512 in vector lanes.
    fn plane_moments(xs: &[Self]) -> (f64, f64);
}

macro_rules! impl_accumulate {
    ($T:ty) => {
        impl Accumulate for $T {
            fn to_f64(self) -> f64 {
                self as f64
            }
            fn from_f64(v: f64) -> Self {
                v as $T
            }
            fn plane_grad_sums(xs: &[$T], ds: &[$T], ys: Option<&[$T]>, mu: f64) -> (f64, f64) {
                assert!(ds.len() == xs.len() && ys.is_none_or(|y| y.len() == xs.len()), "planes of different sizes");
                #[cfg(target_arch = "x86_64")]
                if avx512::available() {
                    // SAFETY: AVX-512F was just checked; the planes have equal lengths.
                    return unsafe { avx512::grad_sums(xs, ds, ys, mu) };
                }
                plane_grad_sums_portable(xs, ds, ys, mu)
            }
            fn plane_moments(xs: &[$T]) -> (f64, f64) {
                #[cfg(target_arch = "x86_64")]
                if avx512::available() {
                    // SAFETY: AVX-512F was just checked.
                    return unsafe { avx512::moments(xs) };
                }
                plane_moments_portable(xs)
            }
        }
    };
}

impl_accumulate!(f32);
impl_accumulate!(f64);

#[cfg(target_arch = "x86_64")]
mod avx512;

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
    fn plane<'a, T>(&self, x: &'a [T], n: usize, c: usize) -> &'a [T] {
        &x[(n * self.c + c) * self.hw..][..self.hw]
    }

    fn count(&self) -> f64 {
        (self.n * self.hw) as f64
    }
}

/// `−v`, through f64 (the element trait has no `Neg`).
fn neg<T: Accumulate>(v: T) -> T {
    T::from_f64(-v.to_f64())
}

/// f64 lanes of the sums below: independent partial sums the compiler keeps in one vector
/// register, added in a fixed order at the end (a single running f64 sum is a serial chain
/// the compiler may not reorder, one add per element).
const SUM_LANES: usize = 8;

/// `Σ f(v)` over the values of `xs` in f64, in [`SUM_LANES`] interleaved partial sums.
#[inline(always)]
fn lane_sum<T: Copy>(xs: &[T], f: impl Fn(T) -> f64) -> f64 {
    let mut lanes = [0.0f64; SUM_LANES];
    let chunks = xs.chunks_exact(SUM_LANES);
    let tail: f64 = chunks.remainder().iter().map(|&v| f(v)).sum();
    for chunk in chunks {
        for (lane, &v) in lanes.iter_mut().zip(chunk) {
            *lane += f(v);
        }
    }
    lanes.iter().sum::<f64>() + tail
}

/// [`Accumulate::plane_moments`] in portable code (f64 lane arrays).
fn plane_moments_portable<T: Accumulate>(xs: &[T]) -> (f64, f64) {
    let mean = lane_sum(xs, |a| a.to_f64()) / xs.len() as f64;
    (mean, lane_sum(xs, |a| (a.to_f64() - mean).powi(2)))
}

/// [`Accumulate::plane_grad_sums`] in portable code: f64 lane arrays, and the ReLU mask as a
/// select, not a branch (the ReLU pattern is random; a branch would mispredict half the time).
fn plane_grad_sums_portable<T: Accumulate>(xs: &[T], ds: &[T], ys: Option<&[T]>, mu: f64) -> (f64, f64) {
    let zero = T::default();
    let (mut sg, mut sxg) = ([0.0f64; SUM_LANES], [0.0f64; SUM_LANES]);
    let whole = xs.len() - xs.len() % SUM_LANES;
    // One block of SUM_LANES values: the gradient g (masked by the ReLU output when given),
    // then both sums, lane by lane.
    let mut block = |xc: &[T; SUM_LANES], g: [f64; SUM_LANES]| {
        for l in 0..SUM_LANES {
            sg[l] += g[l];
            sxg[l] += (xc[l].to_f64() - mu) * g[l];
        }
    };
    let as_block = |c: &[T]| -> [T; SUM_LANES] { c.try_into().expect("a whole block") };
    match ys {
        None => {
            for (xc, dc) in xs[..whole].chunks_exact(SUM_LANES).zip(ds[..whole].chunks_exact(SUM_LANES)) {
                let dc = as_block(dc);
                block(&as_block(xc), std::array::from_fn(|l| dc[l].to_f64()));
            }
        }
        Some(ys) => {
            let chunks = xs[..whole].chunks_exact(SUM_LANES).zip(ds[..whole].chunks_exact(SUM_LANES));
            for ((xc, dc), yc) in chunks.zip(ys[..whole].chunks_exact(SUM_LANES)) {
                let (dc, yc) = (as_block(dc), as_block(yc));
                block(&as_block(xc), std::array::from_fn(|l| if yc[l] > zero { dc[l].to_f64() } else { 0.0 }));
            }
        }
    }
    let (mut total_g, mut total_xg) = (sg.iter().sum::<f64>(), sxg.iter().sum::<f64>());
    for i in whole..xs.len() {
        let g = match ys {
            Some(ys) if ys[i] > zero => ds[i].to_f64(),
            Some(_) => 0.0,
            None => ds[i].to_f64(),
        };
        total_g += g;
        total_xg += (xs[i].to_f64() - mu) * g;
    }
    (total_g, total_xg)
}

/// Defines `$name` as `$body` compiled for AVX-512 where the CPU has it and for the baseline
/// target elsewhere. The workspace builds for baseline x86-64 (SSE2), where LLVM vectorises these
/// loops two f64 lanes wide at best; with AVX-512 it uses 8 f64 / 16 f32 lanes and masked selects.
macro_rules! multiversioned {
    ($(#[$doc:meta])* fn $name:ident($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty = $body:ident;) => {
        $(#[$doc])*
        fn $name<T: Accumulate>($($arg: $ty),*) -> $ret {
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("avx512vl")
                && std::arch::is_x86_feature_detected!("avx512dq") && std::arch::is_x86_feature_detected!("avx512bw")
            {
                #[target_feature(enable = "avx512f,avx512vl,avx512dq,avx512bw")]
                unsafe fn fast<T: Accumulate>($($arg: $ty),*) -> $ret {
                    $body($($arg),*)
                }
                // SAFETY: the CPU was just checked for these features.
                return unsafe { fast($($arg),*) };
            }
            $body($($arg),*)
        }
    };
}

/// One plane of the normalisation: `y = act((x − μ)·scale + β)`, `coef` = (μ, scale, β).
#[inline(always)]
fn normalise_plane_body<T: Accumulate>(yp: &mut [MaybeUninit<T>], xp: &[T], (mu, scale, shift): (T, T, T), relu: bool) {
    let zero = T::default();
    if relu {
        for (o, &v) in yp.iter_mut().zip(xp) {
            let z = (v + neg(mu)) * scale + shift;
            o.write(if z > zero { z } else { zero });
        }
    } else {
        for (o, &v) in yp.iter_mut().zip(xp) {
            o.write((v + neg(mu)) * scale + shift);
        }
    }
}

multiversioned! {
    /// One plane of the normalisation (see [`normalise_plane_body`]).
    fn normalise_plane(yp: &mut [MaybeUninit<T>], xp: &[T], coef: (T, T, T), relu: bool) -> () = normalise_plane_body;
}

/// One plane of the input gradient: `dx = a·g + b·(x − μ) + k`, `coef` = [a, b, −μ, k], g the
/// output gradient masked where the ReLU output `ys` is not positive (when there is one).
#[inline(always)]
fn plane_input_grad_body<T: Accumulate>(o: &mut [MaybeUninit<T>], xp: &[T], dp: &[T], ys: Option<&[T]>, coef: [T; 4]) {
    let [a, b, neg_mu, k] = coef;
    let zero = T::default();
    match ys {
        None => {
            for ((o, &xv), &d) in o.iter_mut().zip(xp).zip(dp) {
                o.write(a * d + (b * (xv + neg_mu) + k));
            }
        }
        Some(ys) => {
            for (((o, &xv), &d), &yv) in o.iter_mut().zip(xp).zip(dp).zip(ys) {
                let g = if yv > zero { d } else { zero };
                o.write(a * g + (b * (xv + neg_mu) + k));
            }
        }
    }
}

multiversioned! {
    /// One plane of the input gradient (see [`plane_input_grad_body`]).
    fn plane_input_grad(o: &mut [MaybeUninit<T>], xp: &[T], dp: &[T], ys: Option<&[T]>, coef: [T; 4]) -> () = plane_input_grad_body;
}

/// Per channel, the count-weighted combination of per-plane `(mean, m2)` pairs over the images
/// (Chan et al.'s pairwise update), one channel per task: `(mean, Σ (x − mean)²)` of the channel.
fn channel_moments(p: Planes, plane: impl Fn(usize, usize) -> (f64, f64) + Sync) -> Vec<(f64, f64)> {
    let hw = p.hw as f64;
    (0..p.c)
        .into_par_iter()
        .map(|c| {
            (0..p.n).fold((0.0, 0.0), |(mean, m2), n| {
                let (plane_mean, plane_m2) = plane(n, c);
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
pub fn channel_stats<T: Accumulate>(p: Planes, x: &[T]) -> (Vec<f64>, Vec<f64>) {
    assert_eq!(x.len(), p.n * p.c * p.hw, "BatchNorm input of {p:?} has {} elements", x.len());
    if p.hw == 0 || p.n == 0 {
        return (vec![f64::NAN; p.c], vec![f64::NAN; p.c]);
    }
    let moments = channel_moments(p, |n, c| T::plane_moments(p.plane(x, n, c)));
    moments.into_iter().map(|(mean, m2)| (mean, m2 / p.count())).unzip()
}

/// The batch statistics of `x` as [`channel_stats`] gives them: per-channel mean and biased variance.
pub type Stats<'a> = (&'a [f64], &'a [f64]);

/// `y = act((x − mean) / √(var + eps) · gamma + beta)`, with `(mean, var)` the batch statistics of
/// `x` from [`channel_stats`] (computed once by the caller, who also needs them for running
/// averages).
pub fn batch_norm_forward<T: Accumulate>(
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
    filled(x.len(), |y| {
        y.par_chunks_mut(p.hw.max(1))
            .zip(x.par_chunks(p.hw.max(1)))
            .enumerate()
            .for_each(|(i, (yp, xp))| normalise_plane(yp, xp, coef[i % p.c], act == Activation::Relu))
    })
}

/// A vector of `len` values written by `fill`, which writes every element: no zero-filling pass
/// over memory first (at N = 1,024 the DnCNN's activations are 26 MB each).
fn filled<T>(len: usize, fill: impl FnOnce(&mut [MaybeUninit<T>])) -> Vec<T> {
    let mut v = Vec::with_capacity(len);
    fill(&mut v.spare_capacity_mut()[..len]);
    // SAFETY: `fill` wrote all `len` values (every caller covers the slice with its chunks).
    unsafe { v.set_len(len) };
    v
}

/// The backward pass of [`batch_norm_forward`]: `(dx, dgamma, dbeta)` from the input `x`, `gamma`,
/// the batch statistics of `x` and the output gradient `dy`. With a ReLU, `y` is the forward
/// pass's output: the gradient flows where y > 0 (as Burn's `relu_backward`).
///
/// With x̂ = (x − μ)/σ, M = n·hw and g the gradient at BatchNorm's output (dy, masked by the
/// ReLU): dβ = Σ g, dγ = Σ g·x̂, dx = γ/σ · (g − dβ/M − x̂·dγ/M).
pub fn batch_norm_backward<T: Accumulate>(
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
            (0..p.n).fold((0.0, 0.0), |(db, dg), n| {
                let ys = relu_output.map(|y| p.plane(y, n, c));
                let (plane_db, plane_dg) = T::plane_grad_sums(p.plane(x, n, c), p.plane(dy, n, c), ys, mean[c]);
                (db + plane_db, dg + plane_dg)
            })
        })
        .collect();
    let dbeta: Vec<f64> = sums.iter().map(|s| s.0).collect();
    let dgamma: Vec<f64> = sums.iter().zip(&inv_std).map(|(s, is)| s.1 * is).collect();
    // dx = a·g + b·(x − μ) + k per channel: a = γ/σ, b = −a·dγ/(M·σ), k = −a·dβ/M.
    let m = p.count();
    let coef: Vec<[T; 4]> = (0..p.c)
        .map(|c| {
            let a = gamma[c].to_f64() * inv_std[c];
            [a, -a * dgamma[c] / m * inv_std[c], -mean[c], -a * dbeta[c] / m].map(T::from_f64)
        })
        .collect();
    let hw = p.hw.max(1);
    let dx = filled(x.len(), |dx| {
        dx.par_chunks_mut(hw).zip(x.par_chunks(hw).zip(dy.par_chunks(hw))).enumerate().for_each(|(i, (o, (xp, dp)))| {
            let ys = relu_output.map(|y| &y[i * hw..][..xp.len()]);
            plane_input_grad(o, xp, dp, ys, coef[i % p.c])
        })
    });
    let narrow = |v: Vec<f64>| v.into_iter().map(T::from_f64).collect();
    (dx, narrow(dgamma), narrow(dbeta))
}

#[cfg(test)]
mod tests;
