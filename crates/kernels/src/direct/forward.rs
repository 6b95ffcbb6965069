//! The forward pass of the direct convolution for one image, over the padded layout of
//! [`super::layout`]: register tiles of `B` output channels × `P` vectors of flat positions,
//! sized per instruction set; the pixels are then copied out to the NCHW output.
//!
//! Per tap a tile does `P` vector loads and `B` weight broadcasts feeding `B·P` fused
//! multiply-adds. Its `B·P` accumulators, the `P` inputs and one broadcast fit the registers:
//! - 32 registers (AVX-512, NEON): 8 × 3, then 4 × 6, 2 × 8, 1 × 8 for the channels left;
//! - 16 registers (AVX2, SSE4.2, scalar): 6 × 2, then 4 × 2, 2 × 4, 1 × 8 (4 × 3 would fit 16
//!   registers exactly, and LLVM spills one: 1.2× the time of the AVX2 step at N = 256).
//!
//! Loops here index arrays rather than use closures or iterator adaptors: every call must inline
//! into the function macerator compiles for the instruction set, and a closure left out of line
//! runs its vector operations as calls.
#![allow(clippy::needless_range_loop)]

use super::layout::Layout;
use crate::real::{Real, relu};
use macerator::{Simd, WithSimd, vload_unaligned, vstore_unaligned};
use std::mem::MaybeUninit;

/// One image's forward pass: pads `x` into `xp`, computes every flat position into `flat`
/// (stride `len` per channel), and copies the pixels to `y`.
pub(super) struct ForwardImage<'a, T> {
    /// The layout of the planes.
    pub lay: Layout,
    /// Input channels.
    pub c_in: usize,
    /// Output channels.
    pub c_out: usize,
    /// The weights as [ci][k][co]: the output channels of one tap are contiguous.
    pub wt: &'a [T],
    /// One per output channel.
    pub bias: &'a [T],
    /// Whether a ReLU follows (applied before the store).
    pub relu: bool,
    /// Vector registers of the instruction set (picks the tiles).
    pub registers: usize,
    /// This image's input, [c_in, h, w].
    pub x: &'a [T],
    /// Scratch for `c_in` padded planes (zero outside the pixels).
    pub xp: &'a mut [T],
    /// Scratch for `c_out` flat planes.
    pub flat: &'a mut [T],
    /// This image's output, [c_out, h, w] (every value is written).
    pub y: &'a mut [MaybeUninit<T>],
}

/// What every tile of one image reads.
struct Tiles<'a, T> {
    lay: Layout,
    c_in: usize,
    c_out: usize,
    wt: &'a [T],
    bias: &'a [T],
    relu: bool,
    xp: &'a [T],
    /// Per tap, its offset from an output position in a padded plane.
    taps: [usize; 9],
}

impl<T: Real> WithSimd for ForwardImage<'_, T> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self) {
        let ForwardImage { lay, c_in, c_out, wt, bias, relu, registers, x, xp, flat, y } = self;
        assert!(wt.len() == 9 * c_in * c_out && bias.len() == c_out, "weights of {c_in} → {c_out} channels");
        lay.pad::<S, T>(c_in, x, xp);
        let taps = std::array::from_fn(|k| lay.tap(k));
        let t = Tiles { lay, c_in, c_out, wt, bias, relu, xp, taps };
        let flat = &mut flat[..c_out * lay.len];
        let mut co0 = 0;
        while co0 < c_out {
            co0 += match (registers, c_out - co0) {
                (32.., 8..) => block::<S, T, 8, 3>(&t, co0, flat),
                (32.., 4..) => block::<S, T, 4, 6>(&t, co0, flat),
                (32.., 2..) => block::<S, T, 2, 8>(&t, co0, flat),
                (_, 6..) => block::<S, T, 6, 2>(&t, co0, flat),
                (_, 4..) => block::<S, T, 4, 2>(&t, co0, flat),
                (_, 2..) => block::<S, T, 2, 4>(&t, co0, flat),
                _ => block::<S, T, 1, 8>(&t, co0, flat),
            };
        }
        lay.gather::<S, T>(0..c_out, flat, y);
    }
}

/// The tiles of output channels `co0 .. co0 + B` over the whole plane: `P` vectors at a time,
/// then one at a time for the rest. Returns `B`.
#[inline(always)]
fn block<S: Simd, T: Real, const B: usize, const P: usize>(t: &Tiles<'_, T>, co0: usize, flat: &mut [T]) -> usize {
    let vectors = t.lay.len / T::lanes::<S>();
    let whole = vectors - vectors % P;
    for v0 in (0..whole).step_by(P) {
        tile::<S, T, B, P>(t, co0, v0, flat);
    }
    for v0 in whole..vectors {
        tile::<S, T, B, 1>(t, co0, v0, flat);
    }
    B
}

/// One tile: output channels `co0 .. co0 + B` at vectors `v0 .. v0 + P` of the flat plane.
#[inline(always)]
fn tile<S: Simd, T: Real, const B: usize, const P: usize>(t: &Tiles<'_, T>, co0: usize, v0: usize, flat: &mut [T]) {
    let lanes = T::lanes::<S>();
    let q0 = v0 * lanes;
    let (lay, c_out) = (&t.lay, t.c_out);
    // Every access below stays inside `xp`, `wt` and `flat`: the tile ends inside the plane's
    // `len` positions, the largest tap offset is guard + r + 1 (so `plane` = guard + len + r + 1
    // covers it), and channels co0 .. co0 + B ≤ c_out of every (ci, k) are in `wt` and `flat`.
    assert!(q0 + P * lanes <= lay.len && co0 + B <= c_out, "tile past the plane or the channels");
    assert!(t.xp.len() >= t.c_in * lay.plane && t.wt.len() == 9 * t.c_in * c_out, "tile inputs");
    assert!(flat.len() >= c_out * lay.len, "tile output");
    let zero = T::default().splat::<S>();
    let mut acc = [[zero; P]; B];
    for o in 0..B {
        let b = t.bias[co0 + o].splat::<S>();
        for p in 0..P {
            acc[o][p] = b;
        }
    }
    for ci in 0..t.c_in {
        // SAFETY: offsets inside this plane and these weights, by the assertions above.
        let (plane, weights) =
            unsafe { (t.xp.as_ptr().add(ci * lay.plane + q0), t.wt.as_ptr().add(ci * 9 * c_out + co0)) };
        for k in 0..9 {
            let mut xv = [zero; P];
            for p in 0..P {
                // SAFETY: tap k's P vectors of this tile lie inside the plane (assertions above).
                xv[p] = unsafe { vload_unaligned(plane.add(t.taps[k] + p * lanes)) };
            }
            for o in 0..B {
                // SAFETY: weight (ci, k, co0 + o) is inside `wt` (assertions above).
                let w = unsafe { *weights.add(k * c_out + o) }.splat::<S>();
                for p in 0..P {
                    acc[o][p] = w.mul_add(xv[p], acc[o][p]);
                }
            }
        }
    }
    let out = flat.as_mut_ptr();
    for o in 0..B {
        for p in 0..P {
            let v = if t.relu { relu(acc[o][p]) } else { acc[o][p] };
            // SAFETY: vector p of channel co0 + o lies inside `flat` (assertions above).
            unsafe { vstore_unaligned(out.add((co0 + o) * lay.len + q0 + p * lanes), v) };
        }
    }
}
