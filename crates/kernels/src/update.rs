//! The fused Langevin update θ ← θ − a⊙g + b⊙ζ over macerator's vectors, one source for every
//! instruction set.
//!
//! Each product and sum is rounded as Burn's separate operations round them (no fused
//! multiply-add), so the fused pass and Burn's agree bitwise on every path. Large slices are split
//! into chunks on Rayon's pool (each value is computed alone, so the split does not change a
//! bit): the pass reads five arrays and is memory bound, and one core does not saturate the bus.

use crate::real::{Real, load, store};
use crate::simd::{self, Kernel, Path};
use macerator::{Simd, WithSimd};
use rayon::prelude::*;

/// Values per parallel job (64 KiB of f64).
pub(crate) const UPDATE_CHUNK: usize = 8192;

/// One chunk of the update, in place.
struct Chunk<'a, T> {
    theta: &'a mut [T],
    a: &'a [T],
    g: &'a [T],
    b: &'a [T],
    zeta: &'a [T],
}

impl<T: Real> WithSimd for Chunk<'_, T> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self) {
        let Chunk { theta, a, g, b, zeta } = self;
        let (n, l) = (theta.len(), T::lanes::<S>());
        let (a, g, b, zeta) = (&a[..n], &g[..n], &b[..n], &zeta[..n]);
        let whole = n - n % l;
        for i in (0..whole).step_by(l) {
            let t = load::<S, T>(theta, i) - load::<S, T>(a, i) * load::<S, T>(g, i);
            store(theta, i, t + load::<S, T>(b, i) * load::<S, T>(zeta, i));
        }
        for i in whole..n {
            theta[i] = (theta[i] - a[i] * g[i]) + b[i] * zeta[i];
        }
    }
}

/// θ ← θ − a⊙g + b⊙ζ in place over equal-length slices, on the path the kernels take now.
pub(crate) fn update_in_place<T: Real>(theta: &mut [T], a: &[T], g: &[T], b: &[T], zeta: &[T]) {
    update_on(simd::take_path(Kernel::Update), theta, a, g, b, zeta)
}

/// [`update_in_place`] on a given path (which the CPU must support).
pub(crate) fn update_on<T: Real>(path: Path, theta: &mut [T], a: &[T], g: &[T], b: &[T], zeta: &[T]) {
    let n = theta.len();
    assert!(
        [a.len(), g.len(), b.len(), zeta.len()] == [n; 4],
        "langevin_update: θ has {n} values, a, g, b, ζ {:?}",
        [a.len(), g.len(), b.len(), zeta.len()]
    );
    let chunk = |(c, theta): (usize, &mut [T])| {
        let at = c * UPDATE_CHUNK;
        let m = theta.len();
        let op = Chunk { theta, a: &a[at..][..m], g: &g[at..][..m], b: &b[at..][..m], zeta: &zeta[at..][..m] };
        simd::run(path, op)
    };
    if n >= 4 * UPDATE_CHUNK && rayon::current_num_threads() > 1 {
        theta.par_chunks_mut(UPDATE_CHUNK).enumerate().for_each(chunk);
    } else {
        theta.chunks_mut(UPDATE_CHUNK).enumerate().for_each(chunk);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// On every path the CPU supports, down to the scalar one, the fused update equals the
    /// scalar expression (θ − a·g) + b·ζ bitwise, in f32 and f64, across the parallel chunks and
    /// a length that is not a whole number of vectors.
    #[test]
    fn every_path_equals_the_scalar_update_bitwise() {
        let n = 4 * UPDATE_CHUNK + 77;
        let v = |seed: u64| -> Vec<f64> {
            (0..n).map(|i| ((i as u64 * 2654435761 + seed * 97) % 1000) as f64 / 300.0 - 1.6).collect()
        };
        let (theta, a, g, b, z) = (v(1), v(2), v(3), v(4), v(5));
        let want: Vec<f64> = (0..n).map(|i| (theta[i] - a[i] * g[i]) + b[i] * z[i]).collect();
        let f = |x: &[f64]| x.iter().map(|&v| v as f32).collect::<Vec<f32>>();
        let (theta32, a32, g32, b32, z32) = (f(&theta), f(&a), f(&g), f(&b), f(&z));
        let want32: Vec<f32> = (0..n).map(|i| (theta32[i] - a32[i] * g32[i]) + b32[i] * z32[i]).collect();
        for path in Path::supported() {
            let mut got = theta.clone();
            update_on(path, &mut got, &a, &g, &b, &z);
            assert!(got.iter().zip(&want).all(|(x, y)| x.to_bits() == y.to_bits()), "{path:?} f64");
            let mut got32 = theta32.clone();
            update_on(path, &mut got32, &a32, &g32, &b32, &z32);
            assert!(got32.iter().zip(&want32).all(|(x, y)| x.to_bits() == y.to_bits()), "{path:?} f32");
        }
    }
}
