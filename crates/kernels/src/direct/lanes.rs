//! The element types of the AVX-512 convolution: each `Lanes` method is one intrinsic on a vector of
//! 16 f32 or 8 f64 lanes, so the kernels in `avx512` are written once for both types.

use std::arch::x86_64::*;

/// An element type with an AVX-512 vector: 16 f32 or 8 f64 lanes.
///
/// Every method is an `unsafe` wrapper of one intrinsic, inlined into the kernels that carry
/// `#[target_feature(enable = "avx512f")]`; callers must have checked `avx512::available`.
pub(super) trait Lanes: Copy + Send + Sync + Default + 'static {
    /// The vector type.
    type V: Copy + Send + Sync;
    /// Lanes per vector.
    const LANES: usize;
    /// All lanes zero.
    unsafe fn zero() -> Self::V;
    /// All lanes `x`.
    unsafe fn splat(x: Self) -> Self::V;
    /// The lanes of `mask` from `p`, zeros elsewhere; masked lanes are not read.
    unsafe fn load_masked(mask: u16, p: *const Self) -> Self::V;
    /// Stores the lanes of `mask` to `p`; masked lanes are not written.
    unsafe fn store_masked(p: *mut Self, mask: u16, v: Self::V);
    /// `a · b + c`, fused.
    unsafe fn fmadd(a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    /// `a + b`.
    unsafe fn add(a: Self::V, b: Self::V) -> Self::V;
    /// `d` where `y` > 0, 0 elsewhere, per lane (the gradient through a ReLU with output `y`).
    unsafe fn where_positive(y: Self::V, d: Self::V) -> Self::V;
    /// The sum of the lanes, in a fixed order.
    unsafe fn sum(v: Self::V) -> Self;
}

impl Lanes for f32 {
    type V = __m512;
    const LANES: usize = 16;
    #[inline(always)]
    unsafe fn zero() -> __m512 {
        // SAFETY: AVX-512F is enabled in the caller (the `Lanes` contract); registers only, no memory is touched.
        unsafe { _mm512_setzero_ps() }
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> __m512 {
        // SAFETY: AVX-512F is enabled in the caller (the `Lanes` contract); registers only, no memory is touched.
        unsafe { _mm512_set1_ps(x) }
    }
    #[inline(always)]
    unsafe fn load_masked(mask: u16, p: *const f32) -> __m512 {
        // SAFETY: AVX-512F is enabled in the caller; the caller guarantees `p` is valid for every lane of `mask`
        // (masked-off lanes are neither read nor written, so a plane's tail never reaches past its end).
        unsafe { _mm512_maskz_loadu_ps(mask, p) }
    }
    #[inline(always)]
    unsafe fn store_masked(p: *mut f32, mask: u16, v: __m512) {
        // SAFETY: AVX-512F is enabled in the caller; the caller guarantees `p` is valid for every lane of `mask`
        // (masked-off lanes are neither read nor written, so a plane's tail never reaches past its end).
        unsafe { _mm512_mask_storeu_ps(p, mask, v) }
    }
    #[inline(always)]
    unsafe fn fmadd(a: __m512, b: __m512, c: __m512) -> __m512 {
        // SAFETY: AVX-512F is enabled in the caller (the `Lanes` contract); registers only, no memory is touched.
        unsafe { _mm512_fmadd_ps(a, b, c) }
    }
    #[inline(always)]
    unsafe fn add(a: __m512, b: __m512) -> __m512 {
        // SAFETY: AVX-512F is enabled in the caller (the `Lanes` contract); registers only, no memory is touched.
        unsafe { _mm512_add_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn where_positive(y: __m512, d: __m512) -> __m512 {
        // SAFETY: AVX-512F is enabled in the caller (the `Lanes` contract); registers only, no memory is touched.
        unsafe { _mm512_maskz_mov_ps(_mm512_cmp_ps_mask::<_CMP_GT_OQ>(y, _mm512_setzero_ps()), d) }
    }
    #[inline(always)]
    unsafe fn sum(v: __m512) -> f32 {
        // SAFETY: AVX-512F is enabled in the caller (the `Lanes` contract); registers only, no memory is touched.
        unsafe { _mm512_reduce_add_ps(v) }
    }
}

impl Lanes for f64 {
    type V = __m512d;
    const LANES: usize = 8;
    #[inline(always)]
    unsafe fn zero() -> __m512d {
        // SAFETY: AVX-512F is enabled in the caller (the `Lanes` contract); registers only, no memory is touched.
        unsafe { _mm512_setzero_pd() }
    }
    #[inline(always)]
    unsafe fn splat(x: f64) -> __m512d {
        // SAFETY: AVX-512F is enabled in the caller (the `Lanes` contract); registers only, no memory is touched.
        unsafe { _mm512_set1_pd(x) }
    }
    #[inline(always)]
    unsafe fn load_masked(mask: u16, p: *const f64) -> __m512d {
        // The plan builds 8-lane masks for f64: the high byte is zero.
        // SAFETY: AVX-512F is enabled in the caller; the caller guarantees `p` is valid for every lane of `mask`
        // (masked-off lanes are neither read nor written, so a plane's tail never reaches past its end).
        unsafe { _mm512_maskz_loadu_pd(mask as u8, p) }
    }
    #[inline(always)]
    unsafe fn store_masked(p: *mut f64, mask: u16, v: __m512d) {
        // SAFETY: AVX-512F is enabled in the caller; the caller guarantees `p` is valid for every lane of `mask`
        // (masked-off lanes are neither read nor written, so a plane's tail never reaches past its end).
        unsafe { _mm512_mask_storeu_pd(p, mask as u8, v) }
    }
    #[inline(always)]
    unsafe fn fmadd(a: __m512d, b: __m512d, c: __m512d) -> __m512d {
        // SAFETY: AVX-512F is enabled in the caller (the `Lanes` contract); registers only, no memory is touched.
        unsafe { _mm512_fmadd_pd(a, b, c) }
    }
    #[inline(always)]
    unsafe fn add(a: __m512d, b: __m512d) -> __m512d {
        // SAFETY: AVX-512F is enabled in the caller (the `Lanes` contract); registers only, no memory is touched.
        unsafe { _mm512_add_pd(a, b) }
    }
    #[inline(always)]
    unsafe fn where_positive(y: __m512d, d: __m512d) -> __m512d {
        // SAFETY: AVX-512F is enabled in the caller (the `Lanes` contract); registers only, no memory is touched.
        unsafe { _mm512_maskz_mov_pd(_mm512_cmp_pd_mask::<_CMP_GT_OQ>(y, _mm512_setzero_pd()), d) }
    }
    #[inline(always)]
    unsafe fn sum(v: __m512d) -> f64 {
        // SAFETY: AVX-512F is enabled in the caller (the `Lanes` contract); registers only, no memory is touched.
        unsafe { _mm512_reduce_add_pd(v) }
    }
}
