//! Any network through ONNX: a graph exported from PyTorch (`torch.onnx.export`) is parsed by
//! `onnx-ir` and run by an interpreter on Burn tensors, on any backend, with Burn's autodiff for
//! the gradient. Its floating-point initializers are the parameters (named as in the file),
//! a fixed batch and a loss make it an [`hessrank_core::Objective`], and its piecewise-linear
//! nodes can freeze their pattern at θ₀ for the frozen-activation check.
//!
//! Burn's own ONNX support (burn-onnx) generates Rust code at build time; a researcher's model
//! is known only at run time, so this crate interprets the graph instead.

pub mod error;
pub mod fast;
pub mod freeze;
pub mod graph;
pub mod interp;
pub mod objective;
pub mod ops;
pub mod params;
pub mod prepass;
pub mod shape_ops;
pub mod value;

pub use error::{OnnxError, Result};
pub use graph::{Graph, SUPPORTED};
pub use objective::{Loss, OnnxObjective, OnnxProblem, OnnxSpec, TARGETS};
pub use params::OnnxParams;
