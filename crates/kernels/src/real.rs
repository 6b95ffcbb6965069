//! The float types the kernels run on (f32 and f64): what each needs from macerator's vectors,
//! and its conversions to and from the f64 accumulators.

use std::mem::MaybeUninit;

use macerator::{ReduceAdd, Scalar, Simd, VAdd, VMul, VMulAdd, VOrd, VSelect, VSub, Vector, vload_unaligned};

/// Keeps [`Real`] implemented for f32 and f64 only.
mod sealed {
    /// The sealing supertrait.
    pub trait Sealed {}
}

/// A float type the kernels run on (f32 or f64).
pub trait Real:
    Scalar
    + VAdd
    + VSub
    + VMul
    + VMulAdd
    + VOrd
    + VSelect
    + ReduceAdd
    + Send
    + Sync
    + PartialOrd
    + std::fmt::Debug
    + sealed::Sealed
    + 'static
{
    /// Widens to f64.
    fn to_f64(self) -> f64;
    /// Narrows from f64 (rounding to nearest).
    fn from_f64(v: f64) -> Self;
    /// The first `f64::lanes::<S>()` values of `xs` as one f64 vector.
    ///
    /// # Panics
    /// If `xs` is shorter than that.
    fn widen<S: Simd>(xs: &[Self]) -> Vector<S, f64>;
}

/// Most f64 lanes of any instruction set (AVX-512: 8).
const MAX_F64_LANES: usize = 8;

impl sealed::Sealed for f32 {}
impl sealed::Sealed for f64 {}

impl Real for f32 {
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self as f64
    }
    #[inline(always)]
    fn from_f64(v: f64) -> f32 {
        v as f32
    }
    #[inline(always)]
    fn widen<S: Simd>(xs: &[f32]) -> Vector<S, f64> {
        let n = f64::lanes::<S>();
        // Converted lane by lane into a buffer (macerator has no f32 → f64 conversion); inside a
        // function compiled for the instruction set this is one vector conversion.
        let mut wide = [0.0f64; MAX_F64_LANES];
        let xs = &xs[..n];
        for i in 0..n {
            wide[i] = xs[i] as f64;
        }
        // SAFETY: `wide` holds MAX_F64_LANES ≥ n values, all initialised.
        unsafe { vload_unaligned(wide.as_ptr()) }
    }
}

impl Real for f64 {
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self
    }
    #[inline(always)]
    fn from_f64(v: f64) -> f64 {
        v
    }
    #[inline(always)]
    fn widen<S: Simd>(xs: &[f64]) -> Vector<S, f64> {
        let n = f64::lanes::<S>();
        let xs = &xs[..n];
        // SAFETY: `xs` holds the n values of one vector (the slice above is bounds-checked).
        unsafe { vload_unaligned(xs.as_ptr()) }
    }
}

/// max(v, 0) per lane with Burn's `relu` convention: v where v > 0, else 0.
#[inline(always)]
pub(crate) fn relu<S: Simd, T: Real>(v: Vector<S, T>) -> Vector<S, T> {
    let zero = T::default().splat::<S>();
    v.gt(zero).select(v, zero)
}

/// `d` where `y` > 0, else 0, per lane (the gradient through a ReLU whose output is `y`).
#[inline(always)]
pub(crate) fn where_positive<S: Simd, T: Real>(y: Vector<S, T>, d: Vector<S, T>) -> Vector<S, T> {
    let zero = T::default().splat::<S>();
    y.gt(zero).select(d, zero)
}

/// The `T::lanes::<S>()` values at `xs[at..]` as a vector.
///
/// # Panics
/// If they run past the end of `xs`.
#[inline(always)]
pub(crate) fn load<S: Simd, T: Real>(xs: &[T], at: usize) -> Vector<S, T> {
    let v = &xs[at..at + T::lanes::<S>()];
    // SAFETY: `v` holds exactly one vector of values (the slice above is bounds-checked).
    unsafe { vload_unaligned(v.as_ptr()) }
}

/// Stores `v` at `out[at..]`.
///
/// # Panics
/// If the vector runs past the end of `out`.
#[inline(always)]
pub(crate) fn store<S: Simd, T: Real>(out: &mut [T], at: usize, v: Vector<S, T>) {
    let o = &mut out[at..at + T::lanes::<S>()];
    // SAFETY: `o` has room for exactly one vector (the slice above is bounds-checked).
    unsafe { macerator::vstore_unaligned(o.as_mut_ptr(), v) }
}

/// A place a kernel writes a value to: an initialised `T` or a `MaybeUninit<T>` of an output
/// that is filled without zeroing it first.
pub(crate) trait Slot<T: Real>: Sized {
    /// Writes `v` here.
    fn set(&mut self, v: T);
    /// Stores `v` at `out[at..]`.
    ///
    /// # Panics
    /// If the vector runs past the end of `out`.
    fn put<S: Simd>(out: &mut [Self], at: usize, v: Vector<S, T>);
    /// Stores `v` at `p`.
    ///
    /// # Safety
    /// `p` must be valid for writes of one vector of `T`.
    unsafe fn put_at<S: Simd>(p: *mut Self, v: Vector<S, T>);
}

impl<T: Real> Slot<T> for T {
    #[inline(always)]
    fn set(&mut self, v: T) {
        *self = v;
    }
    #[inline(always)]
    fn put<S: Simd>(out: &mut [T], at: usize, v: Vector<S, T>) {
        store(out, at, v)
    }
    #[inline(always)]
    unsafe fn put_at<S: Simd>(p: *mut T, v: Vector<S, T>) {
        // SAFETY: `p` is valid for one vector (this function's contract).
        unsafe { macerator::vstore_unaligned(p, v) }
    }
}

impl<T: Real> Slot<T> for MaybeUninit<T> {
    #[inline(always)]
    fn set(&mut self, v: T) {
        self.write(v);
    }
    #[inline(always)]
    fn put<S: Simd>(out: &mut [MaybeUninit<T>], at: usize, v: Vector<S, T>) {
        let o = &mut out[at..at + T::lanes::<S>()];
        // SAFETY: `o` has room for one vector (bounds-checked above); `MaybeUninit<T>` has `T`'s
        // layout, and a store writes without reading what was there.
        unsafe { macerator::vstore_unaligned(o.as_mut_ptr().cast::<T>(), v) }
    }
    #[inline(always)]
    unsafe fn put_at<S: Simd>(p: *mut MaybeUninit<T>, v: Vector<S, T>) {
        // SAFETY: `p` is valid for one vector (this function's contract), and `MaybeUninit<T>`
        // has `T`'s layout.
        unsafe { macerator::vstore_unaligned(p.cast::<T>(), v) }
    }
}

/// A vector of `len` values written by `fill`, which writes every element: no zero-filling pass
/// over memory first (at N = 1,024 the DnCNN's activations are 26 MB each).
pub(crate) fn filled<T>(len: usize, fill: impl FnOnce(&mut [MaybeUninit<T>])) -> Vec<T> {
    let mut v = Vec::with_capacity(len);
    fill(&mut v.spare_capacity_mut()[..len]);
    // SAFETY: `fill` wrote all `len` values (every caller covers the slice with its chunks).
    unsafe { v.set_len(len) };
    v
}
