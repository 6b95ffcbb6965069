//! A loaded problem behind one object-safe interface: θ₀, its fixed objective and, for networks
//! with ReLU kinks, the objective with θ₀'s activation pattern frozen. Every command reaches the
//! model only through [`Problem`], so a new model kind (built in, or a caller's own through
//! [`Problem::new`]) needs no change to any command.

use crate::observer::ExperimentObserver;
use crate::paired::{Paired, StateFiles, exact_mode_eigenvalues, run_paired, run_real};
use burn::tensor::Tensor;
use hessrank_core::params::params_of;
use hessrank_core::{DiagPreconditioner, Error, LinearOperator, Objective, ParamLayout, Result};
use hessrank_rank::hessian::FdHessian;
use hessrank_rank::langevin::TracePoint;
use hessrank_rank::{LangevinConfig, RankEstimate};

/// What every command needs of a problem, whatever its model type. Implemented once, for
/// [`Typed`]; commands call it through [`Problem`].
pub trait ProblemOps {
    /// The trainable parameters of θ₀.
    fn layout(&self) -> ParamLayout;
    /// Whether a frozen-activation objective exists (ReLU networks).
    fn has_frozen(&self) -> bool;
    /// Algorithm 1 on the real loss, η chosen on the curvature objective.
    fn run_real(
        &self,
        config: &LangevinConfig,
        precond: &DiagPreconditioner,
        files: StateFiles<'_>,
        observer: &mut dyn ExperimentObserver,
        label: &str,
    ) -> Result<(RankEstimate, Vec<TracePoint>)>;
    /// The real run and the same chains on the frozen objective (an error without one).
    fn run_paired(
        &self,
        config: &LangevinConfig,
        precond: &DiagPreconditioner,
        files: StateFiles<'_>,
        observer: &mut dyn ExperimentObserver,
    ) -> Result<Paired>;
    /// The eigenvalues of G^½HG^½ with H the exact Hessian of the curvature objective at θ₀.
    fn exact_mode_eigenvalues(&self, precond: &DiagPreconditioner) -> Result<Vec<f64>>;
    /// Hands `visit` the finite-difference Hessian of the curvature objective at θ₀ and returns
    /// the gradients it evaluated.
    fn with_hessian(&self, visit: &mut dyn FnMut(&dyn LinearOperator)) -> usize;
    /// Whether θ₀ lives on an f64 device (exact Hessians need it).
    fn is_f64(&self) -> bool;
    /// The plain (non-autodiff) device of θ₀'s parameters, where G lives.
    fn plain_device(&self) -> Option<burn::tensor::Device>;
    /// The scale-invariant groups of the loss at θ₀, found numerically
    /// ([`hessrank_rank::symmetry::find_scale_groups`]).
    fn scale_groups(&self) -> Result<Vec<hessrank_rank::symmetry::ScaleGroup>>;
}

/// The objective Hessians are measured on: the frozen-activation one where it exists (the same
/// value, gradient and Hessian at θ₀, without kinks for finite differences to straddle), else the
/// objective itself.
pub enum CurvatureOf<'a, O, C> {
    /// The objective itself (smooth models).
    Real(&'a O),
    /// The frozen-activation objective.
    Frozen(&'a C),
}

impl<O: Objective, C: Objective<Model = O::Model>> Objective for CurvatureOf<'_, O, C> {
    type Model = O::Model;

    fn loss(&self, model: &O::Model) -> Tensor<1> {
        match self {
            CurvatureOf::Real(o) => o.loss(model),
            CurvatureOf::Frozen(c) => c.loss(model),
        }
    }

    fn stacked(&self) -> usize {
        match self {
            CurvatureOf::Real(o) => o.stacked(),
            CurvatureOf::Frozen(c) => c.stacked(),
        }
    }
}

/// θ₀ with its objective and optional frozen objective, of concrete types.
pub struct Typed<O: Objective, C> {
    /// θ₀.
    pub model: O::Model,
    /// The fixed objective.
    pub objective: O,
    /// The objective with θ₀'s activation pattern frozen, where the loss has kinks.
    pub frozen: Option<C>,
}

impl<O: Objective, C: Objective<Model = O::Model>> Typed<O, C> {
    /// The curvature objective.
    pub fn curvature(&self) -> CurvatureOf<'_, O, C> {
        match &self.frozen {
            Some(c) => CurvatureOf::Frozen(c),
            None => CurvatureOf::Real(&self.objective),
        }
    }
}

impl<O, C> ProblemOps for Typed<O, C>
where
    O: Objective,
    C: Objective<Model = O::Model>,
    O::Model: Clone,
{
    fn layout(&self) -> ParamLayout {
        ParamLayout::of(&self.model)
    }

    fn has_frozen(&self) -> bool {
        self.frozen.is_some()
    }

    fn run_real(
        &self,
        config: &LangevinConfig,
        precond: &DiagPreconditioner,
        files: StateFiles<'_>,
        observer: &mut dyn ExperimentObserver,
        label: &str,
    ) -> Result<(RankEstimate, Vec<TracePoint>)> {
        run_real(config, &self.objective, &self.curvature(), &self.model, precond, files, observer, label)
    }

    fn run_paired(
        &self,
        config: &LangevinConfig,
        precond: &DiagPreconditioner,
        files: StateFiles<'_>,
        observer: &mut dyn ExperimentObserver,
    ) -> Result<Paired> {
        let frozen = self.frozen.as_ref().ok_or_else(|| {
            Error::config("validate", "a smooth model", "a model with ReLU kinks (a frozen-activation objective)")
        })?;
        run_paired(config, &self.objective, frozen, &self.model, precond, files, observer)
    }

    fn exact_mode_eigenvalues(&self, precond: &DiagPreconditioner) -> Result<Vec<f64>> {
        exact_mode_eigenvalues(&self.curvature(), &self.model, precond)
    }

    fn with_hessian(&self, visit: &mut dyn FnMut(&dyn LinearOperator)) -> usize {
        let curvature = self.curvature();
        let fd = FdHessian::new(&curvature, &self.model);
        visit(&fd);
        fd.grad_evals()
    }

    fn is_f64(&self) -> bool {
        params_of(&self.model).tensors.first().is_none_or(|t| t.dtype() == burn::tensor::DType::F64)
    }

    fn plain_device(&self) -> Option<burn::tensor::Device> {
        params_of(&self.model).tensors.first().map(|t| t.device())
    }

    fn scale_groups(&self) -> Result<Vec<hessrank_rank::symmetry::ScaleGroup>> {
        hessrank_rank::symmetry::find_scale_groups(&self.objective, &self.model)
    }
}

/// A problem ready for any command: θ₀ and its objectives behind [`ProblemOps`], with the
/// preconditioner its training left, where it came from, and what loading decided.
pub struct Problem<'a> {
    ops: Box<dyn ProblemOps + 'a>,
    /// The registered kind it was rebuilt from (`None` for a caller's own model).
    pub kind: Option<super::ModelKind>,
    /// Adam's G from training (`None` for weights trained elsewhere: no Adam state).
    pub precond: Option<DiagPreconditioner>,
    /// Where θ₀ and the data came from, in words.
    pub origin: String,
    /// What loading chose on the user's behalf (default batches, replaced settings, the weights'
    /// load report), for the front end to show.
    pub notes: Vec<String>,
    /// How `--per-layer` splits the parameters into layers.
    pub layering: Layering,
}

/// How a model's parameters group into layers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Layering {
    /// By module: a top-level module, or one element of a top-level list of modules
    /// ([`ParamLayout::layer_blocks`]; the built-in networks).
    #[default]
    Modules,
    /// By name: the path up to the last dot ([`ParamLayout::prefix_layers`]; an ONNX graph's
    /// initializers, named like PyTorch's state_dict).
    Prefix,
}

impl<'a> Problem<'a> {
    /// A problem of any model: θ₀ `model`, its fixed `objective` and, where the loss has kinks,
    /// the `frozen` objective with θ₀'s pattern fixed (same value, gradient and Hessian at θ₀).
    /// This is how a model kind outside the registry joins every command.
    pub fn new<O, C>(model: O::Model, objective: O, frozen: Option<C>, origin: impl Into<String>) -> Self
    where
        O: Objective + 'a,
        C: Objective<Model = O::Model> + 'a,
        O::Model: Clone + 'a,
    {
        Problem {
            ops: Box::new(Typed { model, objective, frozen }),
            kind: None,
            precond: None,
            origin: origin.into(),
            notes: Vec::new(),
            layering: Layering::Modules,
        }
    }

    /// A problem whose loss is smooth (no frozen-activation objective).
    pub fn smooth<O>(model: O::Model, objective: O, origin: impl Into<String>) -> Self
    where
        O: Objective + 'a,
        O::Model: Clone + 'a,
    {
        Self::new::<O, O>(model, objective, None, origin)
    }

    /// With the preconditioner training left.
    pub fn with_precond(mut self, precond: DiagPreconditioner) -> Self {
        self.precond = Some(precond);
        self
    }

    /// With the registered kind it was built from.
    pub fn with_kind(mut self, kind: super::ModelKind) -> Self {
        self.kind = Some(kind);
        self
    }

    /// The model-typed operations.
    pub fn ops(&self) -> &dyn ProblemOps {
        self.ops.as_ref()
    }

    /// The layers `--per-layer` estimates, each with the globs that select its parameters.
    pub fn layers(&self) -> Vec<(String, Vec<String>)> {
        let layout = self.layout();
        match self.layering {
            Layering::Modules => layout.layer_blocks().into_iter().map(|(name, glob)| (name, vec![glob])).collect(),
            Layering::Prefix => layout.prefix_layers(),
        }
    }

    /// The trainable parameters of θ₀.
    pub fn layout(&self) -> ParamLayout {
        self.ops.layout()
    }

    /// Whether a frozen-activation objective exists.
    pub fn has_frozen(&self) -> bool {
        self.ops.has_frozen()
    }

    /// The plain (non-autodiff) device of θ₀'s parameters, where G lives (an error for a model
    /// without trainable parameters).
    pub fn plain_device(&self) -> Result<burn::tensor::Device> {
        self.ops.plain_device().ok_or_else(|| {
            Error::config(
                "model",
                "no trainable parameters",
                "a model on an autodiff device with at least one parameter",
            )
        })
    }

    /// G = I on θ₀'s parameters.
    pub fn identity_precond(&self) -> Result<DiagPreconditioner> {
        Ok(DiagPreconditioner::identity(&self.layout(), &self.plain_device()?))
    }

    /// An error naming `field` unless θ₀ is in f64: the exact Hessian is formed by central
    /// differences of gradients, which lose about four digits in f32.
    pub fn require_f64(&self, field: &'static str) -> Result<()> {
        if self.ops.is_f64() {
            return Ok(());
        }
        Err(Error::config(
            field,
            "an f32 run",
            "an f64 run (dtype f64): the exact Hessian is formed by finite differences",
        ))
    }
}
