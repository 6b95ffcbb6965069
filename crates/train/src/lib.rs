//! Training to a minimum and extracting the preconditioner: SGD with fresh noise every epoch, then
//! full-batch gradient descent on the fixed objective (so θ₀ is a minimum of the function whose
//! Hessian is measured), then Adam on a copy of θ₀ to obtain its second moment v̂, which becomes the
//! fixed preconditioner G = s/(√v̂ + ε). Checkpoints are atomic and training resumes from the last one.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod adam;
pub mod checkpoint;
pub mod config;
pub mod lbfgs;
pub mod trainer;

pub use adam::AdamState;
pub use checkpoint::{Checkpoint, Manifest, PhaseLog};
pub use config::{AdamPhase, GdPhase, PrecondScale, SgdPhase, TrainConfig};
pub use trainer::{TrainObserver, TrainOutcome, train};
