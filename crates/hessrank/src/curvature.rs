//! The Hessian of a loss at a point, as the classical tools show it: top eigenvalues (Lanczos),
//! trace (Hutchinson), spectral density (stochastic Lanczos quadrature) and, for small models, the
//! full spectrum. Products are central differences of two Burn gradients (f64: relative error ~1e-10).

use burn::module::Module;
use burn::tensor::Tensor;
use hessrank_core::{FnObjective, LinearOperator, Objective};
use hessrank_rank::hessian::{
    FdHessian, SpectralDensity, Spectrum, TraceEstimate, dense_matrix, hutchinson, lanczos_top_k, slq_density,
};

/// The Hessian of an objective at θ₀.
pub struct Hessian<O: Objective> {
    objective: O,
    model: O::Model,
    seed: u64,
}

impl<M, F> Hessian<FnObjective<M, F>>
where
    M: Module + Clone,
    F: Fn(&M) -> Tensor<1> + Sync,
{
    /// The Hessian of the closure `loss` at `model` (on an autodiff device; f64 for accuracy).
    pub fn new(loss: F, model: &M) -> Self {
        Self::of(FnObjective::new(loss), model)
    }
}

impl<O: Objective> Hessian<O>
where
    O::Model: Clone,
{
    /// The Hessian of any [`Objective`] at `model`.
    pub fn of(objective: O, model: &O::Model) -> Self {
        Self { objective, model: model.clone(), seed: 0 }
    }

    /// The seed of the random probes (the same seed gives the same numbers).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    fn operator(&self) -> FdHessian<'_, O> {
        FdHessian::new(&self.objective, &self.model)
    }

    /// The `k` largest eigenvalues, descending (Lanczos with full reorthogonalisation, 2k + 20 steps).
    pub fn top_eigenvalues(&self, k: usize) -> Vec<f64> {
        let op = self.operator();
        let steps = (2 * k + 20).min(op.dim());
        lanczos_top_k(&op, k.min(op.dim()), steps, self.seed).eigenvalues
    }

    /// Hutchinson's trace estimate with 100 Rademacher probes, and its standard error.
    pub fn trace(&self) -> TraceEstimate {
        hutchinson(&self.operator(), 100, self.seed)
    }

    /// The spectral density by stochastic Lanczos quadrature: 10 probes of 80 Lanczos steps,
    /// smoothed with Gaussians of 1 % of the spectral range on 200 points.
    pub fn density(&self) -> SpectralDensity {
        let op = self.operator();
        slq_density(&op, 10, 80.min(op.dim()), 0.01, 200, self.seed)
    }

    /// Every eigenvalue, from the dense matrix (2n gradients and n² memory: small models only).
    pub fn eigenvalues(&self) -> Spectrum {
        Spectrum::of(&dense_matrix(&self.operator()))
    }
}
