//! BatchNorm with batch statistics (training mode) on host slices (NCHW): statistics, the
//! normalisation and its backward pass, each in one or two passes over the activations.
//!
//! Written by hand because Burn's default `batch_norm_train` (which Flex inherits) transposes the
//! activations to [C, N·H·W] twice in the forward pass and twice more in the backward pass, and
//! runs about a dozen elementwise passes; in NCHW every (image, channel) plane is already
//! contiguous, so per-channel sums need no transpose. Sums accumulate in f64 and run in a fixed
//! order, so results do not depend on the thread count.

use crate::direct::Real;
use rayon::prelude::*;

/// Conversions between the element type and the f64 accumulators.
pub trait Accumulate: Real {
    /// Widens to f64.
    fn to_f64(self) -> f64;
    /// Narrows from f64 (rounding to nearest).
    fn from_f64(v: f64) -> Self;
}

impl Accumulate for f32 {
    fn to_f64(self) -> f64 {
        self as f64
    }
    fn from_f64(v: f64) -> Self {
        v as f32
    }
}

impl Accumulate for f64 {
    fn to_f64(self) -> f64 {
        self
    }
    fn from_f64(v: f64) -> Self {
        v
    }
}

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

/// Per-channel sum of `f(x, y)` over every image and pixel, in f64, one channel per task.
fn channel_sums(p: Planes, f: impl Fn(usize, usize) -> f64 + Sync) -> Vec<f64> {
    (0..p.c).into_par_iter().map(|c| (0..p.n).map(|n| f(n, c)).sum()).collect()
}

/// The batch mean and biased variance of every channel (what BatchNorm normalises with and what
/// its running statistics average), computed in two passes for accuracy.
pub fn channel_stats<T: Accumulate>(p: Planes, x: &[T]) -> (Vec<f64>, Vec<f64>) {
    assert_eq!(x.len(), p.n * p.c * p.hw, "BatchNorm input of {p:?} has {} elements", x.len());
    let mean: Vec<f64> = channel_sums(p, |n, c| p.plane(x, n, c).iter().map(|v| v.to_f64()).sum())
        .into_iter()
        .map(|s| s / p.count())
        .collect();
    let var = channel_sums(p, |n, c| p.plane(x, n, c).iter().map(|v| (v.to_f64() - mean[c]).powi(2)).sum())
        .into_iter()
        .map(|s| s / p.count())
        .collect();
    (mean, var)
}

/// The batch statistics of `x` as [`channel_stats`] gives them: per-channel mean and biased variance.
pub type Stats<'a> = (&'a [f64], &'a [f64]);

/// `y = (x − mean) / √(var + eps) · gamma + beta`, with `(mean, var)` the batch statistics of `x`
/// from [`channel_stats`] (computed once by the caller, who also needs them for running averages).
pub fn batch_norm_forward<T: Accumulate>(
    p: Planes,
    x: &[T],
    gamma: &[T],
    beta: &[T],
    (mean, var): Stats,
    eps: f64,
) -> Vec<T> {
    // y = (x − μ) · scale + β per channel; centring first avoids cancellation.
    let coef: Vec<(T, T, T)> = (0..p.c)
        .map(|c| {
            let scale = gamma[c].to_f64() / (var[c] + eps).sqrt();
            (T::from_f64(mean[c]), T::from_f64(scale), beta[c])
        })
        .collect();
    let mut y = vec![T::default(); x.len()];
    y.par_chunks_mut(p.hw.max(1)).zip(x.par_chunks(p.hw.max(1))).enumerate().for_each(|(i, (yp, xp))| {
        let (mu, scale, shift) = coef[i % p.c];
        for (o, &v) in yp.iter_mut().zip(xp) {
            *o = (v + neg(mu)) * scale + shift;
        }
    });
    y
}

/// The backward pass of [`batch_norm_forward`]: `(dx, dgamma, dbeta)` from the input `x`, `gamma`,
/// the batch statistics of `x` and the output gradient `dy`.
///
/// With x̂ = (x − μ)/σ, M = n·hw: dβ = Σ dy, dγ = Σ dy·x̂, dx = γ/σ · (dy − dβ/M − x̂·dγ/M).
pub fn batch_norm_backward<T: Accumulate>(
    p: Planes,
    x: &[T],
    gamma: &[T],
    (mean, var): Stats,
    dy: &[T],
    eps: f64,
) -> (Vec<T>, Vec<T>, Vec<T>) {
    assert_eq!(dy.len(), x.len(), "BatchNorm output gradient of {p:?} has {} elements", dy.len());
    let inv_std: Vec<f64> = var.iter().map(|v| 1.0 / (v + eps).sqrt()).collect();
    let dbeta = channel_sums(p, |n, c| p.plane(dy, n, c).iter().map(|v| v.to_f64()).sum());
    let dgamma = channel_sums(p, |n, c| {
        p.plane(x, n, c)
            .iter()
            .zip(p.plane(dy, n, c))
            .map(|(a, d)| (a.to_f64() - mean[c]) * inv_std[c] * d.to_f64())
            .sum()
    });
    // dx = a·dy + b·(x − μ) + k per channel: a = γ/σ, b = −a·dγ/(M·σ), k = −a·dβ/M.
    let m = p.count();
    let coef: Vec<[T; 4]> = (0..p.c)
        .map(|c| {
            let a = gamma[c].to_f64() * inv_std[c];
            [a, -a * dgamma[c] / m * inv_std[c], -mean[c], -a * dbeta[c] / m].map(T::from_f64)
        })
        .collect();
    let mut dx = vec![T::default(); x.len()];
    dx.par_chunks_mut(p.hw.max(1)).zip(x.par_chunks(p.hw.max(1)).zip(dy.par_chunks(p.hw.max(1)))).enumerate().for_each(
        |(i, (o, (xp, dp)))| {
            let [a, b, neg_mu, k] = coef[i % p.c];
            for ((o, &xv), &dv) in o.iter_mut().zip(xp).zip(dp) {
                *o = a * dv + (b * (xv + neg_mu) + k);
            }
        },
    );
    let narrow = |v: Vec<f64>| v.into_iter().map(T::from_f64).collect();
    (dx, narrow(dgamma), narrow(dbeta))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(len: usize, seed: u64) -> Vec<f64> {
        (0..len).map(|i| ((i as u64 * 2654435761 + seed * 97) % 1000) as f64 / 250.0 - 1.5).collect()
    }

    /// The loss L = Σ y ⊙ r and its gradients by central differences (L is smooth in x and γ, β):
    /// the backward pass must match them to the differences' own error.
    #[test]
    fn backward_matches_central_differences_in_f64() {
        let p = Planes { n: 3, c: 4, hw: 10 };
        let (x, g, b, r) = (values(120, 1), values(4, 2), values(4, 3), values(120, 4));
        let eps = 1e-5;
        let loss = |x: &[f64], g: &[f64], b: &[f64]| {
            let (m, v) = channel_stats(p, x);
            batch_norm_forward(p, x, g, b, (&m, &v), eps).iter().zip(&r).map(|(y, r)| y * r).sum::<f64>()
        };
        let (m, v) = channel_stats(p, &x);
        let (dx, dg, db) = batch_norm_backward(p, &x, &g, (&m, &v), &r, eps);
        let h = 1e-6;
        let fd = |f: &dyn Fn(f64) -> f64| (f(h) - f(-h)) / (2.0 * h);
        for i in (0..x.len()).step_by(7) {
            let want = fd(&|d| {
                let mut x2 = x.clone();
                x2[i] += d;
                loss(&x2, &g, &b)
            });
            assert!((dx[i] - want).abs() < 1e-7, "dx[{i}] {} vs {want}", dx[i]);
        }
        for c in 0..4 {
            let want_g = fd(&|d| {
                let mut g2 = g.clone();
                g2[c] += d;
                loss(&x, &g2, &b)
            });
            let want_b = fd(&|d| {
                let mut b2 = b.clone();
                b2[c] += d;
                loss(&x, &g, &b2)
            });
            assert!((dg[c] - want_g).abs() < 1e-7, "dgamma[{c}] {} vs {want_g}", dg[c]);
            assert!((db[c] - want_b).abs() < 1e-7, "dbeta[{c}] {} vs {want_b}", db[c]);
        }
    }

    #[test]
    fn forward_normalises_every_channel() {
        let p = Planes { n: 5, c: 3, hw: 7 };
        let x = values(105, 5);
        let (m, v) = channel_stats(p, &x);
        let y = batch_norm_forward(p, &x, &[1.0; 3], &[0.0; 3], (&m, &v), 0.0);
        let (mean, var) = channel_stats(p, &y);
        assert!(mean.iter().all(|m| m.abs() < 1e-14), "{mean:?}");
        assert!(var.iter().all(|v| (v - 1.0).abs() < 1e-12), "{var:?}");
    }
}
