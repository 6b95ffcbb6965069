//! The Hessian-rank estimator of Bar, Mulayoff, Michaeli and Talmon (AAAI 2024) on Burn autodiff,
//! with the paper's theory, exact Hessian ground truths and the Ubaru–Saad baseline.
//!
//! - [`langevin`]: Algorithm 1 — preconditioned Langevin dynamics, chains, schemes, automatic step,
//!   drift correction, diagnostics.
//! - [`theory`]: the closed forms (Theorem 1, Propositions 1–4, Corollaries 1–3, eq. 14) and the
//!   exact expectation of the discrete recursions.
//! - [`hessian`]: Hessian-vector products by finite differences of Burn gradients, dense Hessians.
//! - [`validation`]: paired real-vs-frozen differences and the rank at every eigenvalue threshold.
//! - [`quadratic`]: L = ½ θᵀSθ as a Burn objective, for symmetric-matrix rank and for tests.
//!
//! Nothing here names a model or a backend: it works for any [`hessrank_core::Objective`] on any
//! device.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod baselines;
pub mod hessian;
pub mod langevin;
pub mod matrix_file;
pub mod quadratic;
pub mod symmetry;
pub mod theory;
pub mod validation;

pub use langevin::{DriftCorrection, Langevin, LangevinConfig, RankEstimate, Scheme, StepSize, Symmetry};
