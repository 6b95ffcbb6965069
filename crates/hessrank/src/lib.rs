//! hessrank: the rank of a loss Hessian from the expected loss of preconditioned Langevin dynamics
//! (Bar, Mulayoff, Michaeli, Talmon, AAAI 2024), for any Burn model.
//!
//! Near a minimum θ₀, the dynamics θ ← θ − ηG∇L + √η σ G^½ ξ settle at an expected loss
//! L(θ₀) + σ²/4 · rank(H), so the rank is read off the mean loss (the paper's Algorithm 1):
//!
//! ```no_run
//! # use burn::tensor::Tensor;
//! # fn demo<M: burn::module::Module + Clone>(model: &M, loss: impl Fn(&M) -> Tensor<1> + Sync) -> hessrank::Result<()> {
//! use hessrank::Langevin;
//! let rank = Langevin::new().sigma2(1e-5).k_tot(4000).k_avg(2000).chains(4).run(&loss, model)?;
//! println!("{rank}");
//! # Ok(()) }
//! ```
//!
//! The model lives on an autodiff device (`device.autodiff()`); `loss` is a deterministic
//! full-batch loss. [`Hessian`] gives the classical views of the same curvature (top eigenvalues,
//! trace, spectral density), as PyHessian does. The pieces underneath are re-exported: [`core`],
//! [`rank`], [`models`] and [`train`].
#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod curvature;
mod langevin;

pub use curvature::Hessian;
pub use hessrank_core::{
    DiagPreconditioner, Error, FnObjective, Objective, ParamLayout, Result, TensorProblem, value_and_grad,
};
pub use hessrank_rank::{DriftCorrection, LangevinConfig, RankEstimate, Scheme, StepSize};
pub use langevin::Langevin;

/// The vocabulary: objectives, parameter maps, preconditioners, operators, seeded noise, errors.
pub use hessrank_core as core;
/// The paper's experiments (Figure 1, Table 1, the DnCNN) as functions: a typed spec, a device and
/// an observer in, a typed report out.
pub use hessrank_experiments as experiments;
/// The models hessrank ships: the deep linear net, the DnCNN, MNIST, weights from PyTorch.
pub use hessrank_models as models;
/// The estimator, the theory, exact Hessians and the baselines.
pub use hessrank_rank as rank;
/// Training to a minimum, with Adam's second moment kept as G.
pub use hessrank_train as train;
