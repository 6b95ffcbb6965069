//! BatchNorm's per-plane passes over macerator's vectors, one source for every instruction set:
//! the sums in f64 lanes (f32 values widened), the normalisation and the input gradient in the
//! element type. Each op covers many planes, so one dispatch serves a channel or an image.
//!
//! Sums keep four independent vector accumulators (a single one is a chain of dependent adds)
//! and combine them, then the lanes, then the scalar tail, in a fixed order: the result depends
//! on the data and the instruction set only. Loops here avoid closures: every call must inline
//! into the function macerator compiles for the instruction set, and a closure left out of line
//! runs its vector operations as calls.

#![allow(clippy::needless_range_loop)]

use crate::real::{Real, Slot, load, where_positive};
use macerator::{Scalar, Simd, Vector, WithSimd};
use std::mem::MaybeUninit;

/// Independent accumulators per sum.
const UNROLL: usize = 4;

/// The lanes of four accumulators, added in a fixed order.
#[inline(always)]
fn total<S: Simd>(acc: [Vector<S, f64>; UNROLL]) -> f64 {
    ((acc[0] + acc[1]) + (acc[2] + acc[3])).reduce_add()
}

/// The start of the values not covered by whole f64 vectors.
#[inline(always)]
fn whole<S: Simd>(len: usize) -> usize {
    len - len % f64::lanes::<S>()
}

/// `K` terms of a sum at one vector of values, widened to f64: a trait with an inlined method
/// rather than a closure, so that the loop of [`vector_sums`] compiles for the instruction set.
trait Terms<S: Simd, const K: usize> {
    /// The terms of the vector starting at value `i`.
    fn at(&self, i: usize) -> [Vector<S, f64>; K];
}

/// x, or (x − μ)² when `mu` is given.
struct MomentTerms<'a, S: Simd, T> {
    xs: &'a [T],
    mu: Option<Vector<S, f64>>,
}

impl<S: Simd, T: Real> Terms<S, 1> for MomentTerms<'_, S, T> {
    #[inline(always)]
    fn at(&self, i: usize) -> [Vector<S, f64>; 1] {
        let x = T::widen::<S>(&self.xs[i..]);
        [match self.mu {
            None => x,
            Some(mu) => (x - mu) * (x - mu),
        }]
    }
}

/// g (`ds`, masked where `ys` is not > 0) and (x − μ)·g.
struct GradTerms<'a, S: Simd, T> {
    xs: &'a [T],
    ds: &'a [T],
    ys: Option<&'a [T]>,
    mu: Vector<S, f64>,
}

impl<S: Simd, T: Real> Terms<S, 2> for GradTerms<'_, S, T> {
    #[inline(always)]
    fn at(&self, i: usize) -> [Vector<S, f64>; 2] {
        let mut g = T::widen::<S>(&self.ds[i..]);
        if let Some(ys) = self.ys {
            g = where_positive(T::widen::<S>(&ys[i..]), g);
        }
        [g, (T::widen::<S>(&self.xs[i..]) - self.mu) * g]
    }
}

/// The `K` sums of `terms` over the whole f64 vectors of `len` values (the caller adds the tail):
/// UNROLL vectors per step, each into its own accumulator (constant indices keep them in
/// registers), then the vectors left into the first, combined by [`total`].
#[inline(always)]
fn vector_sums<S: Simd, const K: usize>(len: usize, terms: &impl Terms<S, K>) -> [f64; K] {
    let (l, end) = (f64::lanes::<S>(), whole::<S>(len));
    let zero = 0.0f64.splat::<S>();
    let mut acc = [[zero; UNROLL]; K];
    let mut i = 0;
    while i + UNROLL * l <= end {
        for u in 0..UNROLL {
            let t = terms.at(i + u * l);
            for k in 0..K {
                acc[k][u] += t[k];
            }
        }
        i += UNROLL * l;
    }
    while i < end {
        let t = terms.at(i);
        for k in 0..K {
            acc[k][0] += t[k];
        }
        i += l;
    }
    let mut sums = [0.0; K];
    for k in 0..K {
        sums[k] = total(acc[k]);
    }
    sums
}

/// `Σ x` of one plane in f64 when `mu` is `None`, else `Σ (x − μ)²`.
#[inline(always)]
fn plane_sum<S: Simd, T: Real>(xs: &[T], mu: Option<f64>) -> f64 {
    // Once per plane: a closure's vector operation out of line costs one call here.
    let [sum] = vector_sums::<S, 1>(xs.len(), &MomentTerms { xs, mu: mu.map(|m| m.splat::<S>()) });
    xs[whole::<S>(xs.len())..].iter().fold(sum, |s, &x| {
        s + match mu {
            None => x.to_f64(),
            Some(m) => (x.to_f64() - m) * (x.to_f64() - m),
        }
    })
}

/// Per plane of `planes` (each `hw` long, `stride` apart from the first at `first`): the mean
/// and centred sum of squares Σ (x − mean)² in f64, from two passes while it sits in the cache.
pub(super) struct Moments<'a, T> {
    /// The activations.
    pub x: &'a [T],
    /// Where the first plane starts, the distance between planes, their count and length.
    pub first: usize,
    /// Distance between planes.
    pub stride: usize,
    /// Planes.
    pub planes: usize,
    /// Values per plane.
    pub hw: usize,
}

impl<T: Real> WithSimd for Moments<'_, T> {
    type Output = Vec<(f64, f64)>;

    #[inline(always)]
    fn with_simd<S: Simd>(self) -> Vec<(f64, f64)> {
        let mut out = Vec::with_capacity(self.planes);
        for i in 0..self.planes {
            let xs = &self.x[self.first + i * self.stride..][..self.hw];
            let mean = plane_sum::<S, T>(xs, None) / xs.len() as f64;
            out.push((mean, plane_sum::<S, T>(xs, Some(mean))));
        }
        out
    }
}

/// Per plane (as in [`Moments`]): `(Σ g, Σ (x − μ)·g)` in f64, g the output gradient `dy`, or
/// where a ReLU output is given, `dy` where that output is > 0 and 0 elsewhere.
pub(super) struct GradSums<'a, T> {
    /// The activations.
    pub x: &'a [T],
    /// The output gradient.
    pub dy: &'a [T],
    /// The ReLU's output, where one follows.
    pub relu_output: Option<&'a [T]>,
    /// The channel's batch mean.
    pub mu: f64,
    /// Where the first plane starts.
    pub first: usize,
    /// Distance between planes.
    pub stride: usize,
    /// Planes.
    pub planes: usize,
    /// Values per plane.
    pub hw: usize,
}

impl<T: Real> WithSimd for GradSums<'_, T> {
    type Output = Vec<(f64, f64)>;

    #[inline(always)]
    fn with_simd<S: Simd>(self) -> Vec<(f64, f64)> {
        let end = whole::<S>(self.hw);
        let (mu, mu_v) = (self.mu, self.mu.splat::<S>());
        let mut out = Vec::with_capacity(self.planes);
        for plane in 0..self.planes {
            let at = self.first + plane * self.stride;
            let (xs, ds) = (&self.x[at..][..self.hw], &self.dy[at..][..self.hw]);
            let ys = self.relu_output.map(|y| &y[at..][..self.hw]);
            let [mut sg, mut sxg] = vector_sums::<S, 2>(self.hw, &GradTerms { xs, ds, ys, mu: mu_v });
            for i in end..self.hw {
                let g = match ys {
                    Some(ys) if ys[i] > T::default() => ds[i].to_f64(),
                    Some(_) => 0.0,
                    None => ds[i].to_f64(),
                };
                sg += g;
                sxg += (xs[i].to_f64() - mu) * g;
            }
            out.push((sg, sxg));
        }
        out
    }
}

/// One image's normalisation: per channel plane `y = act((x − μ)·scale + β)`, rounded as the
/// scalar expression (a product, then a sum: no fused multiply-add, the same on every path).
pub(super) struct Normalise<'a, T> {
    /// The image's output planes.
    pub y: &'a mut [MaybeUninit<T>],
    /// The image's input planes.
    pub x: &'a [T],
    /// Per channel: (μ, scale, β).
    pub coef: &'a [(T, T, T)],
    /// Whether a ReLU follows.
    pub relu: bool,
}

impl<T: Real> WithSimd for Normalise<'_, T> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self) {
        let (l, zero) = (T::lanes::<S>(), T::default());
        let hw = self.x.len() / self.coef.len().max(1);
        for (c, &(mu, scale, shift)) in self.coef.iter().enumerate() {
            let (xs, ys) = (&self.x[c * hw..][..hw], &mut self.y[c * hw..][..hw]);
            let (mu_v, scale_v, shift_v) = (mu.splat::<S>(), scale.splat::<S>(), shift.splat::<S>());
            let whole = hw - hw % l;
            for i in (0..whole).step_by(l) {
                let z = (load::<S, T>(xs, i) - mu_v) * scale_v + shift_v;
                MaybeUninit::put(ys, i, if self.relu { crate::real::relu(z) } else { z });
            }
            for i in whole..hw {
                let z = (xs[i] - mu) * scale + shift;
                ys[i].write(if !self.relu || z > zero { z } else { zero });
            }
        }
    }
}

/// One image's input gradient: per channel plane `dx = a·g + (b·(x − μ) + k)`, `coef` = [a, b,
/// μ, k], g the output gradient masked where the ReLU output is not > 0 (when there is one).
pub(super) struct InputGrad<'a, T> {
    /// The image's input-gradient planes.
    pub dx: &'a mut [MaybeUninit<T>],
    /// The image's input planes.
    pub x: &'a [T],
    /// The image's output-gradient planes.
    pub dy: &'a [T],
    /// The image's ReLU output planes, where a ReLU follows.
    pub relu_output: Option<&'a [T]>,
    /// Per channel: [a, b, μ, k].
    pub coef: &'a [[T; 4]],
}

impl<T: Real> WithSimd for InputGrad<'_, T> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self) {
        let l = T::lanes::<S>();
        let hw = self.x.len() / self.coef.len().max(1);
        for (c, &[a, b, mu, k]) in self.coef.iter().enumerate() {
            let (xs, ds, out) = (&self.x[c * hw..][..hw], &self.dy[c * hw..][..hw], &mut self.dx[c * hw..][..hw]);
            let ys = self.relu_output.map(|y| &y[c * hw..][..hw]);
            let (a_v, b_v, mu_v, k_v) = (a.splat::<S>(), b.splat::<S>(), mu.splat::<S>(), k.splat::<S>());
            let whole = hw - hw % l;
            for i in (0..whole).step_by(l) {
                let d = load::<S, T>(ds, i);
                let g = match ys {
                    Some(ys) => where_positive(load::<S, T>(ys, i), d),
                    None => d,
                };
                MaybeUninit::put(out, i, a_v * g + (b_v * (load::<S, T>(xs, i) - mu_v) + k_v));
            }
            for i in whole..hw {
                let g = match ys {
                    Some(ys) if ys[i] > T::default() => ds[i],
                    Some(_) => T::default(),
                    None => ds[i],
                };
                out[i].write(a * g + (b * (xs[i] - mu) + k));
            }
        }
    }
}
