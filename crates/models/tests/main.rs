//! The models crate's integration tests, linked into one binary: each test file is a module,
//! so Burn and its backends are linked once per crate rather than once per file.

mod cnn;
mod common;
mod denoise;
mod dncnn;
mod linear_hessian;
mod linear_minimum;
mod mlp;
mod mnist;
mod weights;
