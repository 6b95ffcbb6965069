//! The zero-padded flat layout the convolution kernels read and write.
//!
//! A plane of `h × w` pixels is stored with row stride `r = w + 1`: each row is followed by one
//! zero, which serves as the right neighbour of its last pixel and the left neighbour of the next
//! row's first. The output at flat position q = y·r + x then reads the input of tap (ky, kx) at
//! q + (ky − 1)·r + (kx − 1): nine shifted, contiguous vectors with no bounds logic in the inner
//! loop, and one computed-and-discarded column per row (1/w extra work; 3.6 % at w = 28). A guard
//! of r + 1 zeros before the plane and after its last row covers the rows above and below.

use super::Geometry;
use crate::real::{Real, Slot, where_positive};
use macerator::{Simd, vload_unaligned};
use std::mem::MaybeUninit;

/// Values every flat length is rounded up to: a whole number of vectors on every instruction set
/// (16 f32 = 8 f64 = 64 bytes, AVX-512's width).
const ROUND: usize = 16;

/// The padded sizes of one geometry.
#[derive(Clone, Copy, Debug)]
pub(super) struct Layout {
    /// Row stride (w + 1).
    pub r: usize,
    /// Flat output positions per plane: h·r rounded up to [`ROUND`].
    pub len: usize,
    /// Stride of a padded input plane: guard, `len` positions, guard.
    pub plane: usize,
    /// Zeros before position 0 of a padded input plane.
    pub guard: usize,
    /// Image height and width.
    pub h: usize,
    /// Image width.
    pub w: usize,
}

impl Layout {
    /// The layout of `g`'s planes.
    pub fn of(g: &Geometry) -> Layout {
        let r = g.w + 1;
        let len = (g.h * r).div_ceil(ROUND) * ROUND;
        let guard = r + 1;
        Layout { r, len, plane: guard + len + r + 1, guard, h: g.h, w: g.w }
    }

    /// Offset, from an output position, of tap `k` (row-major over the 3×3 kernel) in a padded
    /// input plane (the guard included, so it is never negative).
    #[inline(always)]
    pub fn tap(&self, k: usize) -> usize {
        self.guard + (k / 3) * self.r + (k % 3) - self.r - 1
    }

    /// Copies `c` planes of `h × w` from `src` into the padded input planes of `dst`. Only the
    /// pixels are written: the guard and padding positions of `dst` must be zero already, and
    /// stay zero (a scratch buffer allocated zeroed keeps its padding across images).
    #[inline(always)]
    pub fn pad<S: Simd, T: Real>(&self, c: usize, src: &[T], dst: &mut [T]) {
        let rows = Rows { rows: self.h, w: self.w, src_stride: self.w, dst_stride: self.r };
        for ch in 0..c {
            let hw = self.h * self.w;
            rows.copy::<S, T, T>(&src[ch * hw..][..hw], None, &mut dst[ch * self.plane + self.guard..][..self.len]);
        }
    }

    /// Copies `c` planes of `h × w` from `src` into the flat planes of `dst` (stride `len`, the
    /// output layout); where a ReLU output `relu_output` is given, each value is kept only where
    /// that output is > 0 (the gradient through the ReLU). As in [`Layout::pad`], the padding
    /// column and the tail of `dst` must be zero already.
    #[inline(always)]
    pub fn spread<S: Simd, T: Real>(&self, c: usize, src: &[T], relu_output: Option<&[T]>, dst: &mut [T]) {
        let rows = Rows { rows: self.h, w: self.w, src_stride: self.w, dst_stride: self.r };
        for ch in 0..c {
            let hw = self.h * self.w;
            let mask = relu_output.map(|out| &out[ch * hw..][..hw]);
            rows.copy::<S, T, T>(&src[ch * hw..][..hw], mask, &mut dst[ch * self.len..][..self.len]);
        }
    }

    /// Copies the `h × w` pixels of the flat planes of `channels` (stride `len`) into `dst`
    /// (NCHW, all channels of one image), every value of which is written.
    #[inline(always)]
    pub fn gather<S: Simd, T: Real>(&self, channels: std::ops::Range<usize>, flat: &[T], dst: &mut [MaybeUninit<T>]) {
        let rows = Rows { rows: self.h, w: self.w, src_stride: self.r, dst_stride: self.w };
        let hw = self.h * self.w;
        for ch in channels {
            rows.copy::<S, T, _>(&flat[ch * self.len..][..self.len], None, &mut dst[ch * hw..][..hw]);
        }
    }
}

/// `rows` rows of `w` values, `src_stride` apart in the source and `dst_stride` in the
/// destination.
struct Rows {
    rows: usize,
    w: usize,
    src_stride: usize,
    dst_stride: usize,
}

impl Rows {
    /// `dst = src` row by row (where `mask` is given: `src` where the mask is > 0, else 0), in
    /// vectors, the last of a row overlapping the one before. The bounds are checked once: a row
    /// is a few vectors, too short for a call to `memcpy` or a check per vector to pay.
    #[inline(always)]
    fn copy<S: Simd, T: Real, D: Slot<T>>(&self, src: &[T], mask: Option<&[T]>, dst: &mut [D]) {
        let Rows { rows, w, src_stride, dst_stride } = *self;
        let l = T::lanes::<S>();
        if rows == 0 || w == 0 {
            return;
        }
        let (src_end, dst_end) = ((rows - 1) * src_stride + w, (rows - 1) * dst_stride + w);
        assert!(src.len() >= src_end && dst.len() >= dst_end && mask.is_none_or(|m| m.len() >= src_end), "rows");
        let kept = |i: usize| match mask {
            Some(m) if m[i] > T::default() => src[i],
            Some(_) => T::default(),
            None => src[i],
        };
        if w < l {
            for y in 0..rows {
                for x in 0..w {
                    dst[y * dst_stride + x].set(kept(y * src_stride + x));
                }
            }
            return;
        }
        let (from, to) = (src.as_ptr(), dst.as_mut_ptr());
        for y in 0..rows {
            let (s, d) = (y * src_stride, y * dst_stride);
            let mut x = 0;
            loop {
                // SAFETY: x + l ≤ w, so the vector lies inside row y of `src` (and of `mask`)
                // and of `dst`, all of which the assertion above bounds.
                unsafe {
                    let mut v = vload_unaligned(from.add(s + x));
                    if let Some(m) = mask {
                        v = where_positive(vload_unaligned(m.as_ptr().add(s + x)), v);
                    }
                    D::put_at::<S>(to.add(d + x), v);
                }
                if x + l == w {
                    break;
                }
                x = (x + l).min(w - l);
            }
        }
    }
}
