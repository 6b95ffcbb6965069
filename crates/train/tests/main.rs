//! The train crate's integration tests, linked into one binary: each test file is a module,
//! so Burn and its backends are linked once per crate rather than once per file.

mod adam;
mod train;
