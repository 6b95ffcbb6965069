//! The AVX-512 path of the direct convolution: it reads and writes the unpadded NCHW planes.
//!
//! The `h·w` pixels of a plane form one flat vector, in vectors of 16 f32 (8 f64) lanes; tap (ky, kx)
//! of output q reads q + (ky − 1)·w + (kx − 1), and a lane mask per vector and tap ([`Plan`]) zeroes
//! the lanes outside the image (the padding) or past the plane. Masked loads do not touch masked
//! lanes: no halo, no padded copies in or strided copies out, every lane does work.
//!
//! Register tiles (in the 32 vector registers, no spills):
//! - forward: `B` output channels × `P` vectors of positions (8 × 3 for the DnCNN's 8 → 8 layer),
//!   per tap `P` masked loads and `B` weight broadcasts feeding `B·P` fused multiply-adds;
//! - weight gradient: `B` output channels × the 3 taps of one kernel row, per vector of positions
//!   3 masked input loads and `B` output-gradient loads feeding `3·B` fused multiply-adds. Every
//!   weight's vector accumulator lives across the whole plane and the images of a chunk, and is
//!   reduced to a scalar once per chunk.
//!
//! Hand-written intrinsics, kept beside the portable kernels (which macerator's lack of masked loads
//! makes copy planes in and out) because they are faster here: with the portable kernels on
//! AVX-512 the DnCNN step took 1.12× the time (f32, N = 256, BENCHMARKS.md).

use super::lanes::Lanes;
use super::{GRAD_CHUNK, Geometry};
use rayon::prelude::*;
use std::mem::MaybeUninit;

/// Whether this CPU runs the AVX-512 path (checked once; the answer is cached by std).
pub(super) fn available() -> bool {
    std::arch::is_x86_feature_detected!("avx512f")
}

/// Tap k = 4 (the centre) reads every pixel: its mask is the lanes inside the plane.
const CENTRE: usize = 4;

/// The lane masks and tap offsets of one plane size, for vectors of `lanes` lanes.
pub(super) struct Plan {
    /// Per vector of the flat plane, per tap (row-major over the 3×3 kernel): the lanes whose
    /// source pixel is inside the image.
    masks: Vec<[u16; 9]>,
    /// Per tap: the flat offset (ky − 1)·w + (kx − 1) of its source pixel.
    offsets: [isize; 9],
    /// Pixels per plane.
    hw: usize,
}

impl Plan {
    /// The plan of an `h × w` plane cut into vectors of `lanes` lanes.
    pub(super) fn new(h: usize, w: usize, lanes: usize) -> Self {
        let hw = h * w;
        let masks = (0..hw.div_ceil(lanes))
            .map(|v| {
                std::array::from_fn(|k| {
                    let (dy, dx) = ((k / 3) as isize - 1, (k % 3) as isize - 1);
                    (0..lanes).fold(0u16, |mask, lane| {
                        let q = v * lanes + lane;
                        let (y, x) = ((q / w.max(1)) as isize + dy, (q % w.max(1)) as isize + dx);
                        let inside = q < hw && y >= 0 && x >= 0 && (y as usize) < h && (x as usize) < w;
                        mask | (u16::from(inside) << lane)
                    })
                })
            })
            .collect();
        let offsets = std::array::from_fn(|k| ((k / 3) as isize - 1) * w as isize + (k % 3) as isize - 1);
        Plan { masks, offsets, hw }
    }

    fn vectors(&self) -> usize {
        self.masks.len()
    }
}

/// What every forward tile of a batch shares: the shape, the plan and the parameters.
struct Layer<'a, T> {
    g: &'a Geometry,
    plan: &'a Plan,
    /// The weights as [ci][k][co].
    wt: &'a [T],
    /// One per output channel.
    bias: &'a [T],
    /// Whether a ReLU follows (applied before the store).
    relu: bool,
}

/// One forward tile: output channels `co0 .. co0 + B` at vectors `v0 .. v0 + P` of one image.
///
/// # Safety
/// AVX-512F must be available; `x` holds `c_in` planes and `y` room for `c_out` planes of the
/// plan's size.
#[inline(always)]
unsafe fn forward_tile<T: Lanes, const B: usize, const P: usize>(
    layer: &Layer<'_, T>,
    x: *const T,
    co0: usize,
    v0: usize,
    y: *mut T,
) {
    let Layer { g, plan, wt, bias, relu } = *layer;
    // SAFETY: AVX-512F is available and `x`/`y` hold the planes this tile reads and writes (this
    // function's contract); every access goes through the plan's lane masks, which stay inside a plane.
    unsafe {
        let masks: &[[u16; 9]; P] = plan.masks[v0..v0 + P].try_into().expect("tile masks");
        let mut acc = [[T::zero(); P]; B];
        for (o, row) in acc.iter_mut().enumerate() {
            *row = [T::splat(bias[co0 + o]); P];
        }
        for ci in 0..g.c_in {
            let plane = x.add(ci * plan.hw);
            let weights = &wt[ci * 9 * g.c_out..][..9 * g.c_out];
            for k in 0..9 {
                let mut xv = [T::zero(); P];
                for p in 0..P {
                    let at = plane.wrapping_offset(((v0 + p) * T::LANES) as isize + plan.offsets[k]);
                    xv[p] = T::load_masked(masks[p][k], at);
                }
                let wk: &[T; B] = weights[k * g.c_out + co0..][..B].try_into().expect("weights");
                for o in 0..B {
                    let w = T::splat(wk[o]);
                    for p in 0..P {
                        acc[o][p] = T::fmadd(w, xv[p], acc[o][p]);
                    }
                }
            }
        }
        for (o, row) in acc.iter().enumerate() {
            for (p, &v) in row.iter().enumerate() {
                // ReLU: v where v > 0, else 0 (as the portable path's `relu`).
                let v = if relu { T::where_positive(v, v) } else { v };
                T::store_masked(y.add((co0 + o) * plan.hw + (v0 + p) * T::LANES), masks[p][CENTRE], v);
            }
        }
    }
}

/// The forward tiles of output channels `co0 .. co0 + B` over the whole plane: `P` vectors at a
/// time, then one at a time for the rest.
///
/// # Safety
/// As [`forward_tile`].
#[inline(always)]
unsafe fn forward_block<T: Lanes, const B: usize, const P: usize>(
    layer: &Layer<'_, T>,
    x: *const T,
    co0: usize,
    y: *mut T,
) {
    let nv = layer.plan.vectors();
    let whole = nv - nv % P;
    // SAFETY: as `forward_tile`, which every tile of this block calls with the same planes.
    unsafe {
        for v0 in (0..whole).step_by(P) {
            forward_tile::<T, B, P>(layer, x, co0, v0, y);
        }
        for v0 in whole..nv {
            forward_tile::<T, B, 1>(layer, x, co0, v0, y);
        }
    }
}

/// Splits `c_out` into blocks of 8, 4, 2 and 1 channels, each with its tile of positions.
macro_rules! for_channel_blocks {
    ($c_out:expr, |$co0:ident, $B:ident, $P:ident| $body:expr) => {{
        let mut $co0 = 0;
        while $co0 < $c_out {
            let left = $c_out - $co0;
            let step = match left {
                8.. => {
                    const $B: usize = 8;
                    const $P: usize = 3;
                    $body;
                    8
                }
                4..=7 => {
                    const $B: usize = 4;
                    const $P: usize = 6;
                    $body;
                    4
                }
                2 | 3 => {
                    const $B: usize = 2;
                    const $P: usize = 8;
                    $body;
                    2
                }
                _ => {
                    const $B: usize = 1;
                    const $P: usize = 8;
                    $body;
                    1
                }
            };
            $co0 += step;
        }
    }};
}

/// The forward pass of one image.
///
/// # Safety
/// As [`forward_tile`].
#[target_feature(enable = "avx512f")]
unsafe fn forward_image<T: Lanes>(layer: &Layer<'_, T>, x: *const T, y: *mut T) {
    // SAFETY: AVX-512F is enabled on this function and the planes are this function's contract;
    // the channel blocks partition 0..c_out, so every block writes inside `y`.
    for_channel_blocks!(layer.g.c_out, |co0, B, P| unsafe { forward_block::<T, B, P>(layer, x, co0, y) });
}

/// `y = conv(x, w) + bias` for a batch, images in parallel (see [`super::conv3x3_forward`]),
/// max(y, 0) when `relu`; `wt` is the weight as [ci][k][co].
pub(super) fn forward<T: Lanes>(g: Geometry, x: &[T], wt: &[T], bias: &[T], relu: bool) -> Vec<T> {
    assert!(available(), "the AVX-512 convolution runs only where the CPU has AVX-512F");
    let (image_in, image_out) = (g.c_in * g.h * g.w, g.c_out * g.h * g.w);
    assert_eq!(x.len(), g.n * image_in, "input of {g:?}");
    assert_eq!((wt.len(), bias.len()), (9 * g.c_in * g.c_out, g.c_out), "weights of {g:?}");
    let mut y = Vec::<T>::with_capacity(g.n * image_out);
    if g.n * image_out > 0 {
        let plan = Plan::new(g.h, g.w, T::LANES);
        let layer = Layer { g: &g, plan: &plan, wt, bias, relu };
        y.spare_capacity_mut()[..g.n * image_out]
            .par_chunks_mut(image_out)
            .zip(x.par_chunks(image_in.max(1)))
            .for_each(|(yi, xi): (&mut [MaybeUninit<T>], &[T])| {
                // SAFETY: AVX-512F was checked above; xi holds c_in planes and yi room for c_out
                // planes of h·w; every lane of every output plane is stored (the centre masks
                // cover the plane exactly).
                unsafe { forward_image(&layer, xi.as_ptr(), yi.as_mut_ptr().cast::<T>()) }
            });
    }
    // SAFETY: the loop above wrote all g.n · image_out values.
    unsafe { y.set_len(g.n * image_out) };
    y
}

/// The weight-gradient accumulators of output channels `co0 .. co0 + B` for one image: for each
/// input channel and kernel row, one pass over the plane with `B × 3` vector accumulators, added
/// into `acc` ([co][ci][k] vectors) at the end of the pass.
///
/// # Safety
/// AVX-512F must be available; `x` holds `c_in` and `dy` `c_out` planes of the plan's size.
#[inline(always)]
unsafe fn weight_grad_block<T: Lanes, const B: usize>(
    g: &Geometry,
    plan: &Plan,
    x: *const T,
    dy: *const T,
    co0: usize,
    acc: &mut [T::V],
) {
    // SAFETY: AVX-512F is available and `x`/`dy` hold the planes read (this function's contract);
    // loads go through the plan's lane masks, and `acc` is a slice (bounds-checked).
    unsafe {
        for ci in 0..g.c_in {
            let plane = x.add(ci * plan.hw);
            for ky in 0..3 {
                let mut sums = [[T::zero(); 3]; B];
                for (v, masks) in plan.masks.iter().enumerate() {
                    let q = (v * T::LANES) as isize;
                    let xv: [T::V; 3] = std::array::from_fn(|kx| {
                        let k = ky * 3 + kx;
                        T::load_masked(masks[k], plane.wrapping_offset(q + plan.offsets[k]))
                    });
                    for (o, row) in sums.iter_mut().enumerate() {
                        let d = T::load_masked(masks[CENTRE], dy.add((co0 + o) * plan.hw + v * T::LANES));
                        for kx in 0..3 {
                            row[kx] = T::fmadd(d, xv[kx], row[kx]);
                        }
                    }
                }
                for (o, row) in sums.iter().enumerate() {
                    for (kx, &s) in row.iter().enumerate() {
                        let slot = &mut acc[((co0 + o) * g.c_in + ci) * 9 + ky * 3 + kx];
                        *slot = T::add(*slot, s);
                    }
                }
            }
        }
    }
}

/// The weight- and bias-gradient accumulators of one image, added into `acc` ([co][ci][k]
/// vectors, then one per output channel for the bias).
///
/// # Safety
/// As [`weight_grad_block`].
#[target_feature(enable = "avx512f")]
unsafe fn weight_grad_image<T: Lanes>(g: &Geometry, plan: &Plan, x: *const T, dy: *const T, acc: &mut [T::V]) {
    let nw = g.c_out * g.c_in * 9;
    // SAFETY: AVX-512F is enabled on this function; the planes are its contract, passed on to
    // `weight_grad_block` for channel blocks that partition 0..c_out.
    unsafe {
        let mut co0 = 0;
        while co0 < g.c_out {
            co0 += match g.c_out - co0 {
                8.. => {
                    weight_grad_block::<T, 8>(g, plan, x, dy, co0, acc);
                    8
                }
                4..=7 => {
                    weight_grad_block::<T, 4>(g, plan, x, dy, co0, acc);
                    4
                }
                2 | 3 => {
                    weight_grad_block::<T, 2>(g, plan, x, dy, co0, acc);
                    2
                }
                _ => {
                    weight_grad_block::<T, 1>(g, plan, x, dy, co0, acc);
                    1
                }
            };
        }
        for co in 0..g.c_out {
            let d = dy.add(co * plan.hw);
            let sum = plan
                .masks
                .iter()
                .enumerate()
                .fold(T::zero(), |s, (v, masks)| T::add(s, T::load_masked(masks[CENTRE], d.add(v * T::LANES))));
            acc[nw + co] = T::add(acc[nw + co], sum);
        }
    }
}

/// `out = dy` where `y` > 0 and 0 elsewhere over `c` planes (one image's output gradient through
/// a ReLU, into a scratch buffer that stays in the cache for the weight gradient that reads it).
///
/// # Safety
/// AVX-512F must be available; `y` and `dy` hold `c` planes of the plan's size, `out` room for them.
#[target_feature(enable = "avx512f")]
unsafe fn relu_masked_planes<T: Lanes>(plan: &Plan, c: usize, y: *const T, dy: *const T, out: *mut T) {
    // SAFETY: AVX-512F is enabled on this function; `y`, `dy` and `out` hold `c` planes (its
    // contract) and every access goes through a lane mask inside the plane.
    unsafe {
        for ch in 0..c {
            for (v, masks) in plan.masks.iter().enumerate() {
                let at = ch * plan.hw + v * T::LANES;
                let (yv, d) = (T::load_masked(masks[CENTRE], y.add(at)), T::load_masked(masks[CENTRE], dy.add(at)));
                T::store_masked(out.add(at), masks[CENTRE], T::where_positive(yv, d));
            }
        }
    }
}

/// The lane sums of the accumulators of one chunk of images.
///
/// # Safety
/// AVX-512F must be available.
#[target_feature(enable = "avx512f")]
unsafe fn lane_sums<T: Lanes>(acc: &[T::V]) -> Vec<T> {
    // SAFETY: AVX-512F is enabled on this function; a lane sum touches registers only.
    acc.iter().map(|&v| unsafe { T::sum(v) }).collect()
}

/// The weight and bias gradients `(dw [co][ci][k], db [co])` of a batch (see
/// [`super::conv3x3_weight_grad`]): chunks of [`GRAD_CHUNK`] images in parallel, each summed in
/// vector accumulators, the chunks' lane sums added in order (independent of the thread count).
/// With a ReLU output `relu_output`, `dy` is first masked by it, one image at a time into a
/// scratch buffer (no separate pass over the batch).
pub(super) fn weight_grad<T: Lanes + std::ops::Add<Output = T>>(
    g: Geometry,
    x: &[T],
    dy: &[T],
    relu_output: Option<&[T]>,
) -> (Vec<T>, Vec<T>) {
    assert!(available(), "the AVX-512 convolution runs only where the CPU has AVX-512F");
    if let Some(y) = relu_output {
        assert_eq!(y.len(), dy.len(), "ReLU output of {g:?}");
    }
    let (image_in, image_out) = ((g.c_in * g.h * g.w).max(1), (g.c_out * g.h * g.w).max(1));
    let nw = g.c_out * g.c_in * 9;
    let plan = Plan::new(g.h, g.w, T::LANES);
    let partials: Vec<Vec<T>> = x
        .par_chunks(GRAD_CHUNK * image_in)
        .zip(dy.par_chunks(GRAD_CHUNK * image_out))
        .enumerate()
        .map(|(chunk, (xc, dyc))| {
            // SAFETY: AVX-512F was checked above; each chunk holds whole images of c_in and
            // c_out planes, and the ReLU output has dy's shape.
            unsafe {
                let mut acc = vec![T::zero(); nw + g.c_out];
                let mut masked = Vec::<T>::with_capacity(if relu_output.is_some() { image_out } else { 0 });
                for (i, (xi, dyi)) in xc.chunks(image_in).zip(dyc.chunks(image_out)).enumerate() {
                    let dyi = match relu_output {
                        Some(y) => {
                            let yi = &y[(chunk * GRAD_CHUNK + i) * image_out..][..dyi.len()];
                            relu_masked_planes(&plan, g.c_out, yi.as_ptr(), dyi.as_ptr(), masked.as_mut_ptr());
                            masked.as_ptr()
                        }
                        None => dyi.as_ptr(),
                    };
                    weight_grad_image(&g, &plan, xi.as_ptr(), dyi, &mut acc);
                }
                lane_sums::<T>(&acc)
            }
        })
        .collect();
    let mut total = vec![T::default(); nw + g.c_out];
    for part in partials {
        total.iter_mut().zip(part).for_each(|(a, b)| *a = *a + b);
    }
    let db = total.split_off(nw);
    (total, db)
}
