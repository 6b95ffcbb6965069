//! The objective: a deterministic full-batch scalar loss of a Burn module, and its gradient.

use crate::params::{ParamTensors, gradients_of};
use burn::module::Module;
use burn::tensor::Tensor;

/// A deterministic scalar loss of a Burn module over fixed data (the full batch).
///
/// Determinism matters: the Hessian rank is a property of one fixed function of the parameters, so
/// the loss may not resample data or noise between calls. Burn 0.22 is backend-erased: the model's
/// device decides where the loss runs; gradients need the model on an autodiff device.
///
/// Objectives are `Sync` (they hold tensors and settings): the Langevin loop evaluates the loss on
/// a worker of Rayon's pool while the noise is drawn on another.
pub trait Objective: Sync {
    /// The module whose parameters the loss depends on.
    type Model: Module;

    /// The loss on the model's device (still attached to the autodiff graph): one element, or one
    /// per stacked copy for a batched objective (see [`Objective::stacked`]).
    fn loss(&self, model: &Self::Model) -> Tensor<1>;

    /// How many independent copies of the parameters one model stacks along the leading axis of
    /// every parameter (1 unless the objective is batched). A batched objective returns one loss
    /// per copy; the copies must not interact, so the gradient of the summed losses is every
    /// copy's own gradient. The Langevin run gives each copy its own noise: it is one chain.
    fn stacked(&self) -> usize {
        1
    }
}

/// A borrowed objective is the same objective (so a caller's objective can be lent to code that
/// holds objectives by value).
impl<O: Objective> Objective for &O {
    type Model = O::Model;

    fn loss(&self, model: &Self::Model) -> Tensor<1> {
        (**self).loss(model)
    }

    fn stacked(&self) -> usize {
        (**self).stacked()
    }
}

/// Minibatch objectives for stochastic training: each epoch a fresh list of batches (fresh noise, a
/// fresh shuffle), determined by the epoch number so training is reproducible and resumable.
pub trait Minibatches {
    /// The module trained.
    type Model: Module;
    /// One minibatch's loss.
    type Batch: Objective<Model = Self::Model>;

    /// The batches of `epoch`, each of at most `batch_size` examples.
    fn epoch(&self, epoch: u64, batch_size: usize) -> Vec<Self::Batch>;
}

/// A loss value with the gradient of every trainable parameter.
#[derive(Debug, Clone)]
pub struct ValueAndGrad {
    /// The loss, read back to the host.
    pub loss: f64,
    /// The gradient, in the model's parameter order (see [`crate::ParamLayout`]).
    pub grads: ParamTensors,
}

/// Evaluates the loss and its gradient by one backward pass (for a batched objective: the summed
/// loss of all chains). The model must live on an autodiff device. The only host transfer is the
/// scalar loss.
pub fn value_and_grad<O: Objective>(objective: &O, model: &O::Model) -> ValueAndGrad {
    let loss = objective.loss(model).sum();
    let grads = loss.backward();
    let value = loss.into_scalar_f64();
    ValueAndGrad { loss: value, grads: gradients_of(model, &grads) }
}

/// How far two evaluations at the same point may differ and still count as one function: this many
/// units of the dtype's rounding, relative to the value's size. Reductions that change their order
/// between calls (GPU atomics) move the last few bits; a loss that resamples data or noise moves
/// by its own variance, many orders above this.
pub const DETERMINISM_ULPS: f64 = 1024.0;

/// Checks that `objective` is a function of the parameters: two evaluations of the loss and the
/// gradient at `model` must agree to [`DETERMINISM_ULPS`] of the dtype's rounding (the check of
/// curvlinops' `_check_deterministic`). Costs two gradient evaluations.
///
/// Errors: [`crate::Error::Nondeterministic`] naming what differed and by how much.
pub fn check_deterministic<O: Objective>(objective: &O, model: &O::Model) -> crate::Result<()> {
    let [a, b] = [(), ()].map(|_| value_and_grad(objective, model));
    let unit = match a.grads.tensors.first().map(|t| t.dtype()) {
        Some(burn::tensor::DType::F64) | None => f64::EPSILON,
        Some(burn::tensor::DType::F16 | burn::tensor::DType::BF16) => 1e-3,
        _ => f32::EPSILON as f64,
    };
    let tolerance = DETERMINISM_ULPS * unit * a.loss.abs().max(b.loss.abs()).max(f64::MIN_POSITIVE);
    if (a.loss - b.loss).abs() > tolerance || a.loss.is_finite() != b.loss.is_finite() {
        return Err(crate::Error::Nondeterministic { what: "loss", first: a.loss, second: b.loss, tolerance });
    }
    let scale = a.grads.sq_norm().sqrt().max(b.grads.sq_norm().sqrt());
    let difference = a.grads.zip(&b.grads, |x, y| x.sub(y)).sq_norm().sqrt();
    let tolerance = DETERMINISM_ULPS * unit * scale.max(f64::MIN_POSITIVE);
    if difference > tolerance {
        return Err(crate::Error::Nondeterministic {
            what: "gradient norm",
            first: 0.0,
            second: difference,
            tolerance,
        });
    }
    Ok(())
}

/// Reading a one-element tensor as `f64`, whatever the device's dtype.
pub trait ScalarExt {
    /// The single value of a one-element tensor.
    fn into_scalar_f64(self) -> f64;
}

impl ScalarExt for Tensor<1> {
    fn into_scalar_f64(self) -> f64 {
        self.into_data().iter::<f64>().next().unwrap_or(f64::NAN)
    }
}

/// A closure `|model: &M| -> Tensor<1>` as an [`Objective`].
///
/// Rust cannot implement a trait for every closure over a model type that appears only in the
/// closure's argument (the model would be an unconstrained parameter of the impl), so closures are
/// wrapped once here: `FnObjective::new(|m: &Mlp| …)`. The `hessrank` facade does it for you.
pub struct FnObjective<M, F> {
    loss: F,
    _model: std::marker::PhantomData<fn(&M)>,
}

impl<M, F> FnObjective<M, F>
where
    F: Fn(&M) -> Tensor<1>,
{
    /// The objective whose loss is `loss(model)`; it must be deterministic (full batch, fixed data).
    pub fn new(loss: F) -> Self {
        Self { loss, _model: std::marker::PhantomData }
    }
}

impl<M: Module, F: Fn(&M) -> Tensor<1> + Sync> Objective for FnObjective<M, F> {
    type Model = M;

    fn loss(&self, model: &M) -> Tensor<1> {
        (self.loss)(model)
    }
}
