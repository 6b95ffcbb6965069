//! Dense matrices of operators, for models up to a few thousand parameters.

use hessrank_core::LinearOperator;
use nalgebra::DMatrix;

/// The n×n matrix of `op`, column by column (n products), symmetrised as (M + Mᵀ)/2.
pub fn dense_matrix(op: &dyn LinearOperator) -> DMatrix<f64> {
    let n = op.dim();
    let mut m = DMatrix::zeros(n, n);
    let mut e = vec![0.0; n];
    let mut col = vec![0.0; n];
    for j in 0..n {
        e[j] = 1.0;
        op.matvec(&e, &mut col);
        e[j] = 0.0;
        m.column_mut(j).copy_from_slice(&col);
    }
    (&m + m.transpose()) * 0.5
}

/// Eigenvalues of a symmetric matrix, descending.
///
/// Rows that are exactly zero (parameters the loss does not see: weights on always-zero inputs, dead
/// units) are split off first, each an eigenvalue 0, and the rest is scaled to unit max-entry: on
/// such a Hessian (an MNIST classifier, 995 zero rows of 1,600) nalgebra's `symmetric_eigen`
/// returned NaN for the leading eigenvalues.
pub fn symmetric_eigenvalues(m: &DMatrix<f64>) -> Vec<f64> {
    let n = m.nrows();
    let live: Vec<usize> = (0..n).filter(|&i| m.row(i).iter().any(|x| *x != 0.0)).collect();
    let mut ev = vec![0.0; n - live.len()];
    if !live.is_empty() {
        let sub = DMatrix::from_fn(live.len(), live.len(), |i, j| m[(live[i], live[j])]);
        let scale = sub.amax();
        ev.extend((sub / scale).symmetric_eigen().eigenvalues.iter().map(|x| x * scale));
    }
    ev.sort_by(|a, b| b.total_cmp(a));
    ev
}
