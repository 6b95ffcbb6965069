//! The per-plane sums of BatchNorm on AVX-512, accumulated in f64 vector lanes.
//!
//! Written with intrinsics because LLVM does not vectorise an f64 sum on its own (reassociating
//! a floating-point reduction changes its rounding, which Rust does not allow it to do), and the
//! portable lane-array formulation compiles to one lane at a time. Each function keeps 8 (f64) or
//! 2 × 8 (f32, widened) independent partial sums and adds them in a fixed order at the end, so
//! the result does not depend on anything but the data.

use std::arch::x86_64::*;

/// Whether this CPU runs these kernels.
pub(super) fn available() -> bool {
    std::arch::is_x86_feature_detected!("avx512f")
}

/// Lanes in one f64 vector.
const F64_LANES: usize = 8;

/// The mask of the first `n` lanes (n ≤ 16).
#[inline(always)]
fn first(n: usize) -> u16 {
    if n >= 16 { u16::MAX } else { (1u16 << n) - 1 }
}

/// Per element type: its values as f64 vectors, 8 at a time.
pub(crate) trait Widen: Copy {
    /// Elements per step of the loops below (16 for f32: one vector, two f64 halves).
    const STEP: usize;
    /// The `STEP` values at `p` (the first `n` of them; the rest zero) as f64 vectors, and the
    /// same for `q`, with `q`'s lanes zeroed where `mask_by` (when given) is not > 0.
    ///
    /// # Safety
    /// AVX-512F; `n` values readable at `p`, `q` and `mask_by`.
    unsafe fn load_pair(p: *const Self, q: *const Self, mask_by: Option<*const Self>, n: usize) -> [[__m512d; 2]; 2];
}

impl Widen for f32 {
    const STEP: usize = 16;
    #[inline(always)]
    unsafe fn load_pair(p: *const f32, q: *const f32, mask_by: Option<*const f32>, n: usize) -> [[__m512d; 2]; 2] {
        // SAFETY: AVX-512F is enabled in the caller and `n` values are readable at `p`, `q` and
        // `mask_by` (this function's contract); the load mask covers only the first `n` lanes.
        unsafe {
            let m = first(n);
            let a = _mm512_maskz_loadu_ps(m, p);
            let mut b = _mm512_maskz_loadu_ps(m, q);
            if let Some(y) = mask_by {
                let y = _mm512_maskz_loadu_ps(m, y);
                b = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask::<_CMP_GT_OQ>(y, _mm512_setzero_ps()), b);
            }
            let halves = |v: __m512| {
                let lo = _mm512_castps512_ps256(v);
                let hi = _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(v)));
                [_mm512_cvtps_pd(lo), _mm512_cvtps_pd(hi)]
            };
            [halves(a), halves(b)]
        }
    }
}

impl Widen for f64 {
    const STEP: usize = 8;
    #[inline(always)]
    unsafe fn load_pair(p: *const f64, q: *const f64, mask_by: Option<*const f64>, n: usize) -> [[__m512d; 2]; 2] {
        // SAFETY: AVX-512F is enabled in the caller and `n` values are readable at `p`, `q` and
        // `mask_by` (this function's contract); the load masks cover only the first `n` lanes.
        unsafe {
            let m = first(n.min(F64_LANES)) as u8;
            let a = _mm512_maskz_loadu_pd(m, p);
            let mut b = _mm512_maskz_loadu_pd(m, q);
            if let Some(y) = mask_by {
                let y = _mm512_maskz_loadu_pd(m, y);
                b = _mm512_maskz_mov_pd(_mm512_cmp_pd_mask::<_CMP_GT_OQ>(y, _mm512_setzero_pd()), b);
            }
            let zero = _mm512_setzero_pd();
            [[a, zero], [b, zero]]
        }
    }
}

/// `(Σ g, Σ (x − μ)·g)` over one plane, g = `ds` masked where `ys` (when given) is not > 0.
///
/// # Safety
/// AVX-512F; `ds` and `ys` as long as `xs`.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn grad_sums<T: Widen>(xs: &[T], ds: &[T], ys: Option<&[T]>, mu: f64) -> (f64, f64) {
    // SAFETY: AVX-512F is enabled on this function; every load takes at most the values left in
    // `xs`, and `ds`, `ys` are as long as `xs` (this function's contract).
    unsafe {
        let mu = _mm512_set1_pd(mu);
        let (mut sg, mut sxg) = ([_mm512_setzero_pd(); 2], [_mm512_setzero_pd(); 2]);
        for i in (0..xs.len()).step_by(T::STEP) {
            let n = xs.len() - i;
            let [x, g] = T::load_pair(xs.as_ptr().add(i), ds.as_ptr().add(i), ys.map(|y| y.as_ptr().add(i)), n);
            for h in 0..2 {
                sg[h] = _mm512_add_pd(sg[h], g[h]);
                sxg[h] = _mm512_fmadd_pd(_mm512_sub_pd(x[h], mu), g[h], sxg[h]);
            }
        }
        (_mm512_reduce_add_pd(_mm512_add_pd(sg[0], sg[1])), _mm512_reduce_add_pd(_mm512_add_pd(sxg[0], sxg[1])))
    }
}

/// The mean and the centred sum of squares Σ (x − mean)² of one plane (two passes over it).
///
/// # Safety
/// AVX-512F.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn moments<T: Widen>(xs: &[T]) -> (f64, f64) {
    // SAFETY: AVX-512F is enabled on this function; every load takes at most the values left in `xs`.
    unsafe {
        let mut s = [_mm512_setzero_pd(); 2];
        for i in (0..xs.len()).step_by(T::STEP) {
            let [x, _] = T::load_pair(xs.as_ptr().add(i), xs.as_ptr().add(i), None, xs.len() - i);
            s[0] = _mm512_add_pd(s[0], x[0]);
            s[1] = _mm512_add_pd(s[1], x[1]);
        }
        let mean = _mm512_reduce_add_pd(_mm512_add_pd(s[0], s[1])) / xs.len() as f64;
        let (mu, mut m2) = (_mm512_set1_pd(mean), [_mm512_setzero_pd(); 2]);
        for i in (0..xs.len()).step_by(T::STEP) {
            let n = xs.len() - i;
            let [x, _] = T::load_pair(xs.as_ptr().add(i), xs.as_ptr().add(i), None, n);
            // Lanes past the end loaded as 0: their centred value −μ must not count.
            let valid = first(n.min(T::STEP));
            let lanes = [valid as u8, (valid >> 8) as u8];
            for h in 0..2 {
                let c = _mm512_maskz_sub_pd(lanes[h], x[h], mu);
                m2[h] = _mm512_fmadd_pd(c, c, m2[h]);
            }
        }
        (mean, _mm512_reduce_add_pd(_mm512_add_pd(m2[0], m2[1])))
    }
}
