//! Linear operators on host `f64` vectors: what Hessian-vector products, dense matrices and the
//! linear net's structured Hessian offer, and what Lanczos, Hutchinson and Ubaru–Saad take.

use std::cell::Cell;

/// A symmetric linear operator `y = A x` on `R^dim`.
pub trait LinearOperator {
    /// The dimension n of the space.
    fn dim(&self) -> usize;
    /// Writes `A x` into `y` (both of length `dim`).
    fn matvec(&self, x: &[f64], y: &mut [f64]);
}

/// Counts the matrix-vector products of the operator it wraps.
pub struct CountedOperator<'a, A: LinearOperator + ?Sized> {
    inner: &'a A,
    count: Cell<usize>,
}

impl<'a, A: LinearOperator + ?Sized> CountedOperator<'a, A> {
    /// Wraps `inner` with a zero count.
    pub fn new(inner: &'a A) -> Self {
        Self { inner, count: Cell::new(0) }
    }
    /// The number of products so far.
    pub fn count(&self) -> usize {
        self.count.get()
    }
}

impl<A: LinearOperator + ?Sized> LinearOperator for CountedOperator<'_, A> {
    fn dim(&self) -> usize {
        self.inner.dim()
    }
    fn matvec(&self, x: &[f64], y: &mut [f64]) {
        self.count.set(self.count.get() + 1);
        self.inner.matvec(x, y)
    }
}

/// A dense n×n matrix, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct DenseOperator {
    n: usize,
    data: Vec<f64>,
}

impl DenseOperator {
    /// The matrix with row-major `data`; `None` unless `data.len() == n²`.
    pub fn new(n: usize, data: Vec<f64>) -> Option<Self> {
        (data.len() == n * n).then_some(Self { n, data })
    }
    /// Row-major entries.
    pub fn data(&self) -> &[f64] {
        &self.data
    }
    /// Entry (i, j).
    pub fn get(&self, i: usize, j: usize) -> f64 {
        self.data[i * self.n + j]
    }
}

impl LinearOperator for DenseOperator {
    fn dim(&self) -> usize {
        self.n
    }
    fn matvec(&self, x: &[f64], y: &mut [f64]) {
        for (row, yi) in self.data.chunks_exact(self.n).zip(y.iter_mut()) {
            *yi = row.iter().zip(x).map(|(a, b)| a * b).sum();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_matvec_and_count() {
        let a = DenseOperator::new(2, vec![1.0, 2.0, 3.0, 4.0]).unwrap();
        let c = CountedOperator::new(&a);
        let mut y = [0.0; 2];
        c.matvec(&[1.0, -1.0], &mut y);
        c.matvec(&[0.5, 0.5], &mut y);
        assert_eq!(y, [1.5, 3.5]);
        assert_eq!(c.count(), 2);
        assert!(DenseOperator::new(3, vec![0.0; 4]).is_none());
    }
}
