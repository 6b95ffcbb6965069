//! Hessians of any objective: Hessian-vector products by central finite differences of Burn
//! gradients (Burn has no second-order autodiff), preconditioned operators, dense matrices.

mod dense;
mod fd;

pub use dense::{dense_matrix, symmetric_eigenvalues};
pub use fd::{FdHessian, Preconditioned, default_fd_eps};
