//! The frozen-activation objective for any graph: every piecewise-linear operator (Relu,
//! LeakyRelu, PRelu, Clip, HardSigmoid, HardSwish's gate, MaxPool's argmax) records at θ₀ which
//! linear piece each element is on, and replays it. The frozen loss equals the real loss, with the
//! same gradient and Hessian, at θ₀, and has no kinks nearby: the paired frozen chains measure
//! the Hessian the theory uses.

use crate::value::DynTensor;
use burn::tensor::{Int, Tensor};

/// The linear piece one node was on at θ₀ (detached tensors: constants of the frozen objective).
// Tensors are handles; a value is moved a few times per node, so boxing the larger variant
// would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Pattern {
    /// y = x · f (ReLU: f = 1 or 0; LeakyReLU: 1 or α; PRelu: the positive mask).
    Factor(DynTensor),
    /// y = x · m + c (a clamp: m = 1 inside the bounds, c = the bound outside).
    Affine {
        /// 1 where θ₀ was inside the bounds.
        m: DynTensor,
        /// The clamped value where θ₀ was outside, 0 inside.
        c: DynTensor,
    },
    /// Max pooling: the flat index within each [n, c] plane of each window's maximum at θ₀.
    ArgMax(Tensor<3, Int>),
}

/// What a piecewise-linear operator does about its pattern in one evaluation.
pub enum Freeze<'a> {
    /// Nothing: the real operator.
    Off,
    /// Run the real operator and record its pattern here.
    Record(&'a mut Option<Pattern>),
    /// Apply the recorded pattern.
    Use(&'a Pattern),
}
