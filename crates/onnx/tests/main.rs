//! The interpreter against PyTorch: loss, gradient and Hessian-vector products of networks that
//! together use every supported operator (fixtures written by scripts/fixtures/onnx_fixtures.py,
//! f64), the exact minima of known rank, and the errors on bad input. One test binary.

mod common;
mod errors;
mod fixtures;
mod ops;
