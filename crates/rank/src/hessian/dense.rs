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
pub fn symmetric_eigenvalues(m: &DMatrix<f64>) -> Vec<f64> {
    let mut ev: Vec<f64> = m.clone().symmetric_eigen().eigenvalues.iter().copied().collect();
    ev.sort_by(|a, b| b.total_cmp(a));
    ev
}
