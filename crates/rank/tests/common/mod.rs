//! Shared helpers of the rank tests: an f64 autodiff device, quadratics with known spectra.
// Device::ndarray() is deprecated in Burn 0.22 in favour of flex; the tests keep it as the reference CPU backend.
#![allow(deprecated)]
#![allow(dead_code)]

use burn::tensor::{Device, FloatDType};
use hessrank_core::device::with_float_dtype;
use hessrank_core::noise::SeededNoise;
use nalgebra::DMatrix;

/// The flex CPU device in f64, with autodiff (flex: ~10× less per-op overhead than ndarray and a
/// 6× faster convolution, so ground truths on the DnCNN stay quick).
pub fn f64_device() -> Device {
    with_float_dtype(Device::flex(), FloatDType::F64).expect("f64 flex").autodiff()
}

/// The ndarray CPU device in f64, with autodiff (the reference backend).
pub fn f64_ndarray() -> Device {
    with_float_dtype(Device::ndarray(), FloatDType::F64).expect("f64 ndarray").autodiff()
}

/// A Haar-random orthogonal n×n matrix.
pub fn orthogonal(n: usize, seed: u64) -> DMatrix<f64> {
    let g = DMatrix::from_vec(n, n, SeededNoise::new(seed, 0).normal_vec(n * n));
    g.qr().q()
}

/// Q diag(eigenvalues) Qᵀ for a random orthogonal Q.
pub fn with_spectrum(eigenvalues: &[f64], seed: u64) -> DMatrix<f64> {
    let n = eigenvalues.len();
    let q = orthogonal(n, seed);
    let s = &q * DMatrix::from_diagonal(&nalgebra::DVector::from_column_slice(eigenvalues)) * q.transpose();
    (&s + s.transpose()) * 0.5
}

/// Row-major entries.
pub fn row_major(m: &DMatrix<f64>) -> Vec<f64> {
    (0..m.nrows()).flat_map(|i| (0..m.ncols()).map(move |j| m[(i, j)])).collect()
}

/// `count` log-spaced values in [lo, hi].
pub fn log_spaced(lo: f64, hi: f64, count: usize) -> Vec<f64> {
    (0..count).map(|i| lo * (hi / lo).powf(i as f64 / (count - 1) as f64)).collect()
}

/// Keeps every chain's 4/σ²-scaled excess from iteration `from` on (the averaging window).
pub struct WindowTraces {
    /// The first iteration kept.
    pub from: usize,
    /// One trace per chain.
    pub traces: Vec<Vec<f64>>,
}

impl hessrank_rank::langevin::Observer for WindowTraces {
    fn iteration(&mut self, it: &hessrank_rank::langevin::Iteration<'_>) -> bool {
        if it.k >= self.from {
            self.traces.resize(it.excess.len(), Vec::new());
            for (t, &x) in self.traces.iter_mut().zip(it.excess) {
                t.push(x);
            }
        }
        true
    }
}
