//! Shared vocabulary of hessrank: objectives, parameter maps, preconditioners, linear operators,
//! seeded noise, atomic files and typed errors.
//!
//! Burn 0.22 is backend-erased: everything here takes a [`burn::tensor::Device`] (through the
//! tensors it is handed) and never names a backend. Gradients need an autodiff device
//! (`device.autodiff()`); trainable parameters are recognised by `require_grad` on such a device.
#![warn(missing_docs)]

pub mod atomic;
pub mod device;
pub mod error;
pub mod lane_normals;
pub mod memory;
pub mod noise;
pub mod objective;
pub mod operator;
pub mod params;
pub mod precond;
pub mod step_noise;
mod ziggurat_tables;

pub use error::{Error, Result, TensorProblem};
pub use objective::{FnObjective, Minibatches, Objective, ValueAndGrad, value_and_grad};
pub use operator::{CountedOperator, DenseOperator, LinearOperator};
pub use params::{ParamLayout, ParamSpec, ParamTensors};
pub use precond::DiagPreconditioner;
