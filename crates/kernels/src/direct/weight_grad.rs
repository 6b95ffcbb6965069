//! The weight and bias gradients of the direct convolution for a chunk of images, over the
//! padded layout of [`super::layout`], in vector accumulators that live across the chunk.
//!
//! Per input channel and kernel row one pass over the plane: per vector of positions 3 input loads
//! (the row's three taps) and `B` output-gradient loads feed `3·B` fused multiply-adds. `B` is
//! sized per instruction set: 8 with 32 registers (24 accumulators), 4 with 16 (12).
//!
//! Loops here index arrays rather than use closures: every call must inline into the function
//! macerator compiles for the instruction set (see `forward`).
#![allow(clippy::needless_range_loop)]

use super::layout::Layout;
use crate::real::{Real, load};
use macerator::{Simd, Vector, WithSimd, vload_unaligned};

/// The weight- and bias-gradient sums of a chunk of images: `[co][ci][k]` then one per output
/// channel, each the lane sum of its vector accumulator (a fixed order, whatever the threads).
pub(super) struct WeightGradChunk<'a, T> {
    /// The padded layout of the planes.
    pub lay: Layout,
    /// Input channels.
    pub c_in: usize,
    /// Output channels.
    pub c_out: usize,
    /// Vector registers of the instruction set (picks the tiles).
    pub registers: usize,
    /// The chunk's inputs, [images, c_in, h, w].
    pub x: &'a [T],
    /// The chunk's output gradients, [images, c_out, h, w].
    pub dy: &'a [T],
    /// The chunk's ReLU outputs, where a ReLU follows: `dy` counts only where they are > 0.
    pub relu_output: Option<&'a [T]>,
}

impl<T: Real> WithSimd for WeightGradChunk<'_, T> {
    type Output = Vec<T>;

    #[inline(always)]
    fn with_simd<S: Simd>(self) -> Vec<T> {
        let WeightGradChunk { lay, c_in, c_out, registers, x, dy, relu_output } = self;
        let (image_in, image_out) = (c_in * lay.h * lay.w, c_out * lay.h * lay.w);
        let nw = c_out * c_in * 9;
        let zero = T::default().splat::<S>();
        let mut acc = vec![zero; nw + c_out];
        let mut xp = vec![T::default(); c_in * lay.plane];
        let mut dflat = vec![T::default(); c_out * lay.len];
        let images = x.len().checked_div(image_in).unwrap_or(0);
        for i in 0..images {
            lay.pad::<S, T>(c_in, &x[i * image_in..][..image_in], &mut xp);
            let relu_i = relu_output.map(|y| &y[i * image_out..][..image_out]);
            lay.spread::<S, T>(c_out, &dy[i * image_out..][..image_out], relu_i, &mut dflat);
            let mut co0 = 0;
            while co0 < c_out {
                co0 += match (registers, c_out - co0) {
                    (32.., 8..) => block::<S, T, 8>(&lay, c_in, &xp, &dflat, co0, &mut acc),
                    (_, 4..) => block::<S, T, 4>(&lay, c_in, &xp, &dflat, co0, &mut acc),
                    (_, 2..) => block::<S, T, 2>(&lay, c_in, &xp, &dflat, co0, &mut acc),
                    _ => block::<S, T, 1>(&lay, c_in, &xp, &dflat, co0, &mut acc),
                };
            }
            // The bias gradient: the sum of the output gradient (zero in the padding column).
            let lanes = T::lanes::<S>();
            for co in 0..c_out {
                let plane = &dflat[co * lay.len..][..lay.len];
                let mut sum = acc[nw + co];
                for q in (0..lay.len).step_by(lanes) {
                    sum += load::<S, T>(plane, q);
                }
                acc[nw + co] = sum;
            }
        }
        let mut sums = Vec::with_capacity(acc.len());
        for v in acc {
            sums.push(v.reduce_add());
        }
        sums
    }
}

/// Output channels `co0 .. co0 + B` of one image, added into `acc` ([co][ci][k] vectors).
/// Returns `B`.
#[inline(always)]
fn block<S: Simd, T: Real, const B: usize>(
    lay: &Layout,
    c_in: usize,
    xp: &[T],
    dflat: &[T],
    co0: usize,
    acc: &mut [Vector<S, T>],
) -> usize {
    let lanes = T::lanes::<S>();
    let zero = T::default().splat::<S>();
    // Every read below stays inside `xp` and `dflat`: positions run below `len` (a whole number
    // of vectors), a kernel row's taps add at most guard + r + 1 (inside a plane of guard + len +
    // r + 1), and channels co0 .. co0 + B are among `dflat`'s.
    assert!(
        lay.len.is_multiple_of(lanes) && xp.len() >= c_in * lay.plane && dflat.len() >= (co0 + B) * lay.len,
        "buffers"
    );
    let dflat = dflat[co0 * lay.len..].as_ptr();
    for ci in 0..c_in {
        for ky in 0..3 {
            // SAFETY: the start of kernel row ky's taps in plane ci (assertion above).
            let row = unsafe { xp.as_ptr().add(ci * lay.plane + lay.tap(3 * ky)) };
            let mut sums = [[zero; 3]; B];
            for q in (0..lay.len).step_by(lanes) {
                let mut xv = [zero; 3];
                for kx in 0..3 {
                    // SAFETY: position q + kx of the row is inside the plane (assertion above).
                    xv[kx] = unsafe { vload_unaligned(row.add(q + kx)) };
                }
                for o in 0..B {
                    // SAFETY: position q of channel co0 + o is inside `dflat` (assertion above).
                    let d: Vector<S, T> = unsafe { vload_unaligned(dflat.add(o * lay.len + q)) };
                    for kx in 0..3 {
                        sums[o][kx] = d.mul_add(xv[kx], sums[o][kx]);
                    }
                }
            }
            for o in 0..B {
                for kx in 0..3 {
                    let slot = ((co0 + o) * c_in + ci) * 9 + ky * 3 + kx;
                    acc[slot] += sums[o][kx];
                }
            }
        }
    }
    B
}
