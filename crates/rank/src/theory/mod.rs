//! The paper's closed forms for the Ornstein–Uhlenbeck approximation dθ = −GHθ dt + GΣ^½ dn
//! (Theorem 1, Propositions 1–4, Corollaries 1–3, eq. 14), and the exact expected loss of the
//! discrete Euler–Maruyama and Leimkuhler–Matthews recursions after k steps.
//!
//! Everything is dense f64 (nalgebra) and meant for ground truths on small problems. G must be
//! symmetric positive definite; H symmetric; Σ symmetric positive semi-definite.

mod continuous;
mod discrete;

pub use continuous::{
    OuModel, algorithm1_expected_loss, cor1_pd_limit, cor3_best_preconditioner, eq14_initial_slope,
    prop3_sgd_beats_adam_like, prop4_escape_time_bound,
};
pub use discrete::{DiscreteTheory, TheoryBreakdown, mode_eigenvalues};
