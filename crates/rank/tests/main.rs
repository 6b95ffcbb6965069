//! The rank crate's integration tests, linked into one binary: each test file is a module,
//! so Burn and its backends are linked once per crate rather than once per file.

mod adaptive;
mod common;
mod langevin_quadratic;
mod matrix_rank;
mod projection;
mod statistics;
mod theory;
mod ubaru_saad;
mod validation;
