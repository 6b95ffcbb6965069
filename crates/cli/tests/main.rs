//! The cli crate's integration tests, linked into one binary: each test file is a module,
//! so Burn and its backends are linked once per crate rather than once per file.

mod cli;
mod wgpu_parity;
