//! Algorithm 1: the rank of the Hessian from the expected loss of preconditioned Langevin dynamics.
//!
//! # The update
//! With a fixed diagonal preconditioner G and noise covariance Σ = σ²G⁻¹ (so GΣ^½ = σG^½), eq. 21 is
//!
//! θ_{k+1} = θ_k − η G ∇L(θ_k) + √η σ G^½ ξ,
//!
//! and the estimate (eq. 20) is r̂ = 4/σ² (⟨L(θ_k)⟩ over the last K_avg iterations − L(θ_0)).
//!
//! # Schemes
//! On a quadratic L = ½ θᵀHθ, in the coordinates φ = G^{−½}θ where A = G^½HG^½ = V diag(μ) Vᵀ, each
//! eigen-mode evolves as x_{k+1} = a x_k + c ζ_k with a = 1 − ημ and c = √η σ.
//! - **Euler–Maruyama** (ζ_k = ξ_k, the paper's eq. 21): the stationary variance solves
//!   v = a²v + c², so v = ησ²/(1 − a²) = σ²/(μ(2 − ημ)) and the mode's expected loss ½μv is
//!   σ²/4 · 1/(1 − ημ/2): every mode is inflated, most of all the stiff ones.
//! - **Leimkuhler–Matthews** (ζ_k = (ξ_k + ξ_{k+1})/2): x_k contains c ξ_k/2, so
//!   E[x_k ξ_k] = c/2 and v = a²v + c²/2 + a c²/2, giving v = c²/(2(1 − a)) = σ²/(2μ) — exactly the
//!   OU stationary variance, for every stable step (ημ < 2). Each mode contributes σ²/4, so the
//!   estimate is unbiased in the limit whatever η. LM is the default; EM reproduces the paper.
//!
//! Both are stable iff η μ_max < 2; modes with μ < 1/(2ηK_tot) have not equilibrated after K_tot
//! steps and are under-counted, so the estimate reports that threshold.
//!
//! # Drift
//! θ₀ of a real network is never an exact minimum. A noise-free companion chain from θ₀ measures
//! the drift, and [`DriftCorrection::ControlVariate`] subtracts it with the cross term taken out
//! (derivation at [`DriftCorrection`]).
//!
//! # Uncertainty
//! Chains are independent: with C ≥ 2 the error bar is the chains' spread (Student-t); with one it
//! comes from the autocorrelation of its own trace (Geyer). Split-R̂ and bulk ESS are always
//! reported ([`diagnostics`]).
//!
//! # Structure
//! [`LangevinConfig`] holds the settings; [`Langevin`] is the one driver (observers, checkpoints,
//! resume); [`LangevinRun`] is one run in progress, its chains in `replica`, its saved form
//! [`LangevinState`]; [`RankEstimate`] is the serialisable result; [`merge`] pools runs that differ
//! only in seed. The algorithm never prints: [`Observer`]s see every recorded iteration.

pub mod adaptive;
mod auto_step;
mod config;
pub mod diagnostics;
mod driver;
mod estimate;
mod merge;
mod observer;
pub mod projection;
mod replica;
mod run;
mod state;
mod warning;

pub use adaptive::{AdaptiveLength, AdaptiveReport, Stage, Stop};
pub use auto_step::{PowerIteration, estimate_mu_max};
pub use config::{DriftCorrection, LangevinConfig, Scheme, StepSize, Symmetry};
pub use driver::{Checkpointing, Curvature, Langevin, SameObjective};
pub use estimate::{ChainSummary, ESS_MIN, R_HAT_MAX, RankEstimate, Uncertainty, uncertainty};
pub use merge::{MergeInput, merge};
pub use observer::{Fanout, Iteration, NullObserver, Observer, StartInfo, TracePoint, TraceRecorder};
pub use run::LangevinRun;
pub use state::LangevinState;
pub use warning::Warning;
