//! Shared vocabulary of hessrank: objectives, parameter maps, preconditioners, linear operators,
//! atomic files and typed errors; the seeded noise is re-exported from `hessrank-noise`.
//!
//! Burn 0.22 is backend-erased: everything here takes a [`burn::tensor::Device`] (through the
//! tensors it is handed) and never names a backend. Gradients need an autodiff device
//! (`device.autodiff()`); trainable parameters are recognised by `require_grad` on such a device.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod atomic;
pub mod device;
pub mod error;
pub mod host_params;
pub mod objective;
pub mod operator;
pub mod params;
pub mod precond;

/// The seeded noise, from its own crate (`hessrank-noise`), under the names the other crates use.
pub use hessrank_noise::{lane_normals, noise, step_noise};

pub use error::{Error, Result, TensorProblem};
pub use objective::{FnObjective, Minibatches, Objective, ValueAndGrad, check_deterministic, value_and_grad};
pub use operator::{CountedOperator, DenseOperator, LinearOperator};
pub use params::{ParamLayout, ParamSpec, ParamTensors};
pub use precond::DiagPreconditioner;
