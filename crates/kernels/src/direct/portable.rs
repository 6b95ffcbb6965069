//! The portable direct-convolution loops ([`Path::Avx2Fma`] and [`Path::Portable`]): zero-padded
//! planes, register tiles of `B` output channels × `L` positions, compiled with and without AVX2 +
//! FMA; and the element trait that picks each type's tile sizes at compile time.

use super::{Geometry, Path, Real, TILE_ELEMS_F32};

/// Keeps [`ConvElement`] implemented for f32 and f64 only.
mod sealed {
    /// The sealing supertrait.
    pub trait Sealed {}
}

/// `a · b + c`, fused when the caller runs with FMA enabled (`FUSED`), plain otherwise (a fused
/// multiply-add without hardware support is a slow library call).
#[inline(always)]
fn madd<T: Real, const FUSED: bool>(a: T, b: T, c: T) -> T {
    if FUSED { a.fused_mul_add(b, c) } else { a * b + c }
}

/// Copies `c` planes of `h × w` from `src` into zero-padded planes of stride `g.plane()`, with the
/// image at row 1, column 1 of each (the 3×3 "same" halo).
pub(super) fn pad_planes<T: Real>(g: &Geometry, c: usize, src: &[T], dst: &mut [T]) {
    let (plane, wp) = (g.plane(), g.wp());
    dst[..c * plane].fill(T::default());
    for ch in 0..c {
        for y in 0..g.h {
            let s = &src[(ch * g.h + y) * g.w..][..g.w];
            dst[ch * plane + (y + 1) * wp + 1..][..g.w].copy_from_slice(s);
        }
    }
}

/// Copies `c` planes of `h × w` from `src` into planes of stride `g.len()` with row stride `w + 2`
/// (the output layout of the flat kernel), zeros in the two padding columns and the tail.
pub(super) fn spread_planes<T: Real>(g: &Geometry, c: usize, src: &[T], dst: &mut [T]) {
    let (len, wp) = (g.len(), g.wp());
    dst[..c * len].fill(T::default());
    for ch in 0..c {
        for y in 0..g.h {
            dst[ch * len + y * wp..][..g.w].copy_from_slice(&src[(ch * g.h + y) * g.w..][..g.w]);
        }
    }
}

/// Forward pass of one image, output channels `co0 .. co0 + B`: `out_flat[o][q]` for every tile.
#[inline(always)]
fn forward_block<T: Real, const B: usize, const L: usize, const FUSED: bool>(
    g: &Geometry,
    xp: &[T],
    wt: &[T],
    bias: &[T],
    co0: usize,
    out_flat: &mut [T],
) {
    let (plane, len) = (g.plane(), g.len());
    let bias: &[T; B] = bias[co0..co0 + B].try_into().expect("bias block");
    for q0 in (0..len).step_by(L) {
        let mut acc = [[T::default(); L]; B];
        for o in 0..B {
            acc[o] = [bias[o]; L];
        }
        for ci in 0..g.c_in {
            let xs = &xp[ci * plane..(ci + 1) * plane];
            for k in 0..9 {
                let v: &[T; L] = xs[q0 + g.offset(k)..][..L].try_into().expect("tile");
                let wk: &[T; B] = wt[(ci * 9 + k) * g.c_out + co0..][..B].try_into().expect("weights");
                for o in 0..B {
                    for l in 0..L {
                        acc[o][l] = madd::<T, FUSED>(wk[o], v[l], acc[o][l]);
                    }
                }
            }
        }
        for o in 0..B {
            out_flat[o * len + q0..][..L].copy_from_slice(&acc[o]);
        }
    }
}

/// Weight gradient of one image, output channels `co0 .. co0 + B`, added into `dw` ([co][ci][k]).
#[inline(always)]
fn weight_grad_block<T: Real, const B: usize, const L: usize, const FUSED: bool>(
    g: &Geometry,
    xp: &[T],
    dy: &[T],
    co0: usize,
    dw: &mut [T],
) {
    let (plane, len) = (g.plane(), g.len());
    for ci in 0..g.c_in {
        let xs = &xp[ci * plane..(ci + 1) * plane];
        for k in 0..9 {
            let off = g.offset(k);
            let mut acc = [[T::default(); L]; B];
            for q0 in (0..len).step_by(L) {
                let v: &[T; L] = xs[q0 + off..][..L].try_into().expect("tile");
                for o in 0..B {
                    let d: &[T; L] = dy[(co0 + o) * len + q0..][..L].try_into().expect("tile");
                    for l in 0..L {
                        acc[o][l] = madd::<T, FUSED>(d[l], v[l], acc[o][l]);
                    }
                }
            }
            for o in 0..B {
                let s = acc[o].iter().fold(T::default(), |s, &a| s + a);
                let slot = &mut dw[((co0 + o) * g.c_in + ci) * 9 + k];
                *slot = *slot + s;
            }
        }
    }
}

/// Splits `c_out` into blocks of 8, 4, 2, 1 channels and runs `run(B-dispatched block)` on each.
macro_rules! for_channel_blocks {
    ($T:ty, $c_out:expr, |$co0:ident, $B:ident, $L:ident| $body:expr) => {{
        let mut $co0 = 0;
        while $co0 < $c_out {
            let left = $c_out - $co0;
            let step = if left >= 8 {
                8
            } else if left >= 4 {
                4
            } else if left >= 2 {
                2
            } else {
                1
            };
            match step {
                8 => {
                    const $B: usize = 8;
                    const $L: usize = TILE_ELEMS_F32 / 8 * 4 / std::mem::size_of::<$T>();
                    $body
                }
                4 => {
                    const $B: usize = 4;
                    const $L: usize = TILE_ELEMS_F32 / 4 * 4 / std::mem::size_of::<$T>();
                    $body
                }
                2 => {
                    const $B: usize = 2;
                    const $L: usize = TILE_ELEMS_F32 / 2 * 4 / std::mem::size_of::<$T>();
                    $body
                }
                _ => {
                    const $B: usize = 1;
                    const $L: usize = TILE_ELEMS_F32 * 4 / std::mem::size_of::<$T>();
                    $body
                }
            }
            $co0 += step;
        }
    }};
}

/// An element type of the direct convolution (f32 or f64): its kernels, with every tile length a
/// compile-time constant per type.
pub trait ConvElement: Real + sealed::Sealed {
    /// One image's forward pass over its zero-padded planes `xp` (`wt` as [co][ci][k]), into `out`.
    fn forward_image<const FUSED: bool>(g: &Geometry, xp: &[Self], wt: &[Self], bias: &[Self], out: &mut [Self]);
    /// One image's weight-gradient contribution, added into `dw`.
    fn weight_grad_image<const FUSED: bool>(g: &Geometry, xp: &[Self], dy: &[Self], dw: &mut [Self]);
    /// The batch forward pass on the AVX-512 path (`wt` as [ci][k][co]), with a ReLU when `relu`.
    #[cfg(target_arch = "x86_64")]
    fn forward_avx512(g: Geometry, x: &[Self], wt: &[Self], bias: &[Self], relu: bool) -> Vec<Self>;
    /// The batch weight and bias gradients on the AVX-512 path, `dy` masked by a ReLU output.
    #[cfg(target_arch = "x86_64")]
    fn weight_grad_avx512(g: Geometry, x: &[Self], dy: &[Self], relu_output: Option<&[Self]>)
    -> (Vec<Self>, Vec<Self>);
}

macro_rules! impl_kernels {
    ($T:ty) => {
        impl sealed::Sealed for $T {}
        impl ConvElement for $T {
            #[inline(always)]
            fn forward_image<const FUSED: bool>(g: &Geometry, xp: &[$T], wt: &[$T], bias: &[$T], out: &mut [$T]) {
                for_channel_blocks!($T, g.c_out, |co0, B, L| forward_block::<$T, B, L, FUSED>(
                    g,
                    xp,
                    wt,
                    bias,
                    co0,
                    &mut out[co0 * g.len()..]
                ));
            }

            #[inline(always)]
            fn weight_grad_image<const FUSED: bool>(g: &Geometry, xp: &[$T], dy: &[$T], dw: &mut [$T]) {
                for_channel_blocks!($T, g.c_out, |co0, B, L| weight_grad_block::<$T, B, L, FUSED>(g, xp, dy, co0, dw));
            }

            #[cfg(target_arch = "x86_64")]
            fn forward_avx512(g: Geometry, x: &[$T], wt: &[$T], bias: &[$T], relu: bool) -> Vec<$T> {
                super::avx512::forward(g, x, wt, bias, relu)
            }

            #[cfg(target_arch = "x86_64")]
            fn weight_grad_avx512(g: Geometry, x: &[$T], dy: &[$T], relu_output: Option<&[$T]>) -> (Vec<$T>, Vec<$T>) {
                super::avx512::weight_grad(g, x, dy, relu_output)
            }
        }
    };
}

impl_kernels!(f32);
impl_kernels!(f64);

/// Whether this CPU has AVX2 and FMA (checked once; the answer is cached by std).
pub(super) fn has_avx2_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// [`ConvElement::forward_image`] compiled for AVX2 + FMA.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn forward_image_avx2<T: ConvElement>(g: &Geometry, xp: &[T], wt: &[T], bias: &[T], out: &mut [T]) {
    T::forward_image::<true>(g, xp, wt, bias, out)
}

/// [`ConvElement::weight_grad_image`] compiled for AVX2 + FMA.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn weight_grad_image_avx2<T: ConvElement>(g: &Geometry, xp: &[T], dy: &[T], dw: &mut [T]) {
    T::weight_grad_image::<true>(g, xp, dy, dw)
}

pub(super) fn forward_image<T: ConvElement>(path: Path, g: &Geometry, xp: &[T], wt: &[T], bias: &[T], out: &mut [T]) {
    #[cfg(target_arch = "x86_64")]
    if path >= Path::Avx2Fma {
        // SAFETY: the CPU was just checked for AVX2 and FMA.
        return unsafe { forward_image_avx2(g, xp, wt, bias, out) };
    }
    T::forward_image::<false>(g, xp, wt, bias, out)
}

pub(super) fn weight_grad_image<T: ConvElement>(path: Path, g: &Geometry, xp: &[T], dy: &[T], dw: &mut [T]) {
    #[cfg(target_arch = "x86_64")]
    if path >= Path::Avx2Fma {
        // SAFETY: the CPU was just checked for AVX2 and FMA.
        return unsafe { weight_grad_image_avx2(g, xp, dy, dw) };
    }
    T::weight_grad_image::<false>(g, xp, dy, dw)
}
