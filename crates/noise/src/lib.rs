//! Reproducible Gaussian noise: every draw is a function of (seed, stream, position), never of
//! thread scheduling or the device.
//!
//! - [`noise`]: one sequential ChaCha8 generator per (seed, stream), for data, initial points and
//!   tests.
//! - [`step_noise`]: counter-based streams for Langevin dynamics, one independent block per step
//!   and chunk, so chains and threads draw in any order and a resumed run continues bitwise.
//! - [`lane_normals`]: the standard-normal transform those streams use, a ziggurat run on eight
//!   lanes at once (AVX-512 where the CPU has it, the same numbers in plain Rust elsewhere).
#![warn(missing_docs)]

pub mod lane_normals;
pub mod noise;
pub mod step_noise;
mod ziggurat_tables;
