//! Hessians of any objective: Hessian-vector products by central finite differences of Burn
//! gradients (Burn has no second-order autodiff), preconditioned operators, dense matrices and
//! their spectra, Lanczos, Hutchinson and stochastic Lanczos quadrature (PyHessian's toolbox).

mod dense;
mod fd;
mod lanczos;
mod spectrum;
mod trace;

pub use dense::{dense_matrix, symmetric_eigenvalues};
pub use fd::{FdHessian, Preconditioned, default_fd_eps};
pub use lanczos::{TopEigen, lanczos_top_k};
pub use spectrum::Spectrum;
pub use trace::{SpectralDensity, TraceEstimate, hutchinson, slq_density};
