//! Elementwise operators: arithmetic with numpy broadcasting, the smooth functions, and the
//! piecewise-linear activations, each of which can record its pattern at θ₀ and replay it
//! (the frozen-activation objective: same value, gradient and Hessian at θ₀, no kinks).

use super::{OpResult, broadcast_shape};
use crate::each_rank;
use crate::freeze::{Freeze, Pattern};
use crate::value::DynTensor;
use burn::tensor::Tensor;
use burn::tensor::activation;

/// A binary arithmetic operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binary {
    /// a + b.
    Add,
    /// a − b.
    Sub,
    /// a · b.
    Mul,
    /// a / b.
    Div,
    /// a ^ b.
    Pow,
}

fn apply<const D: usize>(op: Binary, a: Tensor<D>, b: Tensor<D>) -> Tensor<D> {
    match op {
        Binary::Add => a + b,
        Binary::Sub => a - b,
        Binary::Mul => a * b,
        Binary::Div => a / b,
        Binary::Pow => a.powf(b),
    }
}

/// `a op b` with numpy broadcasting.
pub fn binary(op: Binary, a: DynTensor, b: DynTensor) -> OpResult<DynTensor> {
    let out = broadcast_shape(&a.dims(), &b.dims())?;
    let rank = out.len();
    let (a, b) = (expand_to(a.lift(rank), &out), expand_to(b.lift(rank), &out));
    use DynTensor::*;
    Ok(match (a, b) {
        (R1(a), R1(b)) => R1(apply(op, a, b)),
        (R2(a), R2(b)) => R2(apply(op, a, b)),
        (R3(a), R3(b)) => R3(apply(op, a, b)),
        (R4(a), R4(b)) => R4(apply(op, a, b)),
        (R5(a), R5(b)) => R5(apply(op, a, b)),
        (R6(a), R6(b)) => R6(apply(op, a, b)),
        _ => unreachable!("both operands were lifted to rank {rank}"),
    })
}

/// `x` broadcast to `shape` (same rank), where it differs.
pub fn expand_to(x: DynTensor, shape: &[usize]) -> DynTensor {
    if x.dims() == shape {
        return x;
    }
    each_rank!(x, t => { let d = crate::value::dims_array(shape); t.expand(d) })
}

/// `x op s` for a scalar `s`.
pub fn scalar(x: DynTensor, op: Binary, s: f64) -> DynTensor {
    match op {
        Binary::Add => each_rank!(x, t => t.add_scalar(s)),
        Binary::Sub => each_rank!(x, t => t.sub_scalar(s)),
        Binary::Mul => each_rank!(x, t => t.mul_scalar(s)),
        // not div_scalar: Burn 0.22.1 rounds its divisor to f32 in the backward pass
        Binary::Div => each_rank!(x, t => t.mul_scalar(1.0 / s)),
        Binary::Pow => each_rank!(x, t => t.powf_scalar(s)),
    }
}

/// A smooth elementwise function.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Unary {
    /// −x.
    Neg,
    /// √x.
    Sqrt,
    /// eˣ.
    Exp,
    /// ln x.
    Log,
    /// erf x.
    Erf,
    /// |x| (a kink at 0; not frozen).
    Abs,
    /// 1/x.
    Reciprocal,
    /// 1/(1 + e⁻ˣ).
    Sigmoid,
    /// tanh x.
    Tanh,
    /// ln(1 + eˣ), computed stably.
    Softplus,
    /// x·Φ(x), exact (erf).
    Gelu,
    /// PyTorch's tanh approximation of GELU.
    GeluTanh,
    /// x for x > 0, α(eˣ − 1) otherwise.
    Elu(f64),
}

fn unary_rank<const D: usize>(op: Unary, t: Tensor<D>) -> Tensor<D> {
    match op {
        Unary::Neg => t.neg(),
        Unary::Sqrt => t.sqrt(),
        Unary::Exp => t.exp(),
        Unary::Log => t.log(),
        Unary::Erf => t.erf(),
        Unary::Abs => t.abs(),
        Unary::Reciprocal => t.recip(),
        Unary::Sigmoid => activation::sigmoid(t),
        Unary::Tanh => t.tanh(),
        Unary::Softplus => activation::relu(t.clone()) + t.abs().neg().exp().log1p(),
        Unary::Gelu => {
            t.clone().mul(t.mul_scalar(std::f64::consts::FRAC_1_SQRT_2).erf().add_scalar(1.0)).mul_scalar(0.5)
        }
        Unary::GeluTanh => {
            let inner = t
                .clone()
                .add(t.clone().powi_scalar(3).mul_scalar(0.044715))
                .mul_scalar((2.0 / std::f64::consts::PI).sqrt());
            t.mul(inner.tanh().add_scalar(1.0)).mul_scalar(0.5)
        }
        Unary::Elu(alpha) => {
            let positive = t.clone().greater_elem(0.0);
            let negative = t.clone().exp().sub_scalar(1.0).mul_scalar(alpha);
            negative.mask_where(positive, t)
        }
    }
}

/// A smooth elementwise function of `x`.
pub fn unary(op: Unary, x: DynTensor) -> DynTensor {
    each_rank!(x, t => unary_rank(op, t))
}

/// The 0/1 indicator of `x > 0`, detached.
fn positive(x: &DynTensor) -> DynTensor {
    each_rank!(x.clone(), t => t.greater_elem(0.0).float().detach())
}

/// `max(x, 0)`, or with a recorded pattern `x · mask(θ₀)`.
pub fn relu(x: DynTensor, freeze: Freeze<'_>) -> DynTensor {
    leaky_relu(x, 0.0, freeze)
}

/// `x` for x > 0, `αx` otherwise; frozen: `x · f` with f = 1 or α as at θ₀.
pub fn leaky_relu(x: DynTensor, alpha: f64, freeze: Freeze<'_>) -> DynTensor {
    match freeze {
        Freeze::Use(Pattern::Factor(f)) => {
            return binary(Binary::Mul, x, f.clone()).expect("same shape");
        }
        Freeze::Record(slot) => {
            let m = positive(&x);
            let f = if alpha == 0.0 { m } else { each_rank!(m, t => t.mul_scalar(1.0 - alpha).add_scalar(alpha)) };
            *slot = Some(Pattern::Factor(f));
        }
        _ => {}
    }
    if alpha == 0.0 {
        each_rank!(x, t => activation::relu(t))
    } else {
        each_rank!(x, t => activation::leaky_relu(t, alpha))
    }
}

/// `x` for x > 0, `slope · x` otherwise (slope broadcast, a parameter); frozen: the sign pattern
/// of θ₀.
pub fn prelu(x: DynTensor, slope: DynTensor, freeze: Freeze<'_>) -> OpResult<DynTensor> {
    let m = match freeze {
        Freeze::Use(Pattern::Factor(m)) => m.clone(),
        Freeze::Record(slot) => {
            let m = positive(&x);
            *slot = Some(Pattern::Factor(m.clone()));
            m
        }
        _ => positive(&x),
    };
    // x·m + slope·x·(1 − m)
    let on = binary(Binary::Mul, x.clone(), m.clone())?;
    let off = binary(Binary::Mul, x, each_rank!(m, t => t.neg().add_scalar(1.0)))?;
    binary(Binary::Add, on, binary(Binary::Mul, off, slope)?)
}

/// `clamp(x, lo, hi)`; frozen: `x · inside(θ₀) + (the bound θ₀ was clamped to)`.
pub fn clamp(x: DynTensor, lo: Option<f64>, hi: Option<f64>, freeze: Freeze<'_>) -> OpResult<DynTensor> {
    if let Freeze::Use(Pattern::Affine { m, c }) = freeze {
        return binary(Binary::Add, binary(Binary::Mul, x, m.clone())?, c.clone());
    }
    let y = match (lo, hi) {
        (Some(lo), Some(hi)) => each_rank!(x.clone(), t => t.clamp(lo, hi)),
        (Some(lo), None) => each_rank!(x.clone(), t => t.clamp_min(lo)),
        (None, Some(hi)) => each_rank!(x.clone(), t => t.clamp_max(hi)),
        (None, None) => x.clone(),
    };
    if let Freeze::Record(slot) = freeze {
        let (lo, hi) = (lo.unwrap_or(f64::NEG_INFINITY), hi.unwrap_or(f64::INFINITY));
        let inside = each_rank!(x, t => {
            let above = t.clone().greater_elem(lo).float();
            let below = t.lower_elem(hi).float();
            (above * below).detach()
        });
        let outside = each_rank!(inside.clone(), t => t.neg().add_scalar(1.0));
        let c = binary(Binary::Mul, outside, y.clone().detach())?;
        *slot = Some(Pattern::Affine { m: inside, c });
    }
    Ok(y)
}

/// ONNX HardSigmoid: `clamp(αx + β, 0, 1)`, frozen as [`clamp`].
pub fn hard_sigmoid(x: DynTensor, alpha: f64, beta: f64, freeze: Freeze<'_>) -> OpResult<DynTensor> {
    let z = each_rank!(x, t => t.mul_scalar(alpha).add_scalar(beta));
    clamp(z, Some(0.0), Some(1.0), freeze)
}

/// ONNX HardSwish: `x · HardSigmoid(x; 1/6, 1/2)`, its clamp frozen as [`clamp`].
pub fn hard_swish(x: DynTensor, freeze: Freeze<'_>) -> OpResult<DynTensor> {
    let gate = hard_sigmoid(x.clone(), 1.0 / 6.0, 0.5, freeze)?;
    binary(Binary::Mul, x, gate)
}

/// Softmax (or log-softmax) along `axis`.
pub fn softmax(x: DynTensor, axis: usize, log: bool) -> DynTensor {
    if log {
        each_rank!(x, t => activation::log_softmax(t, axis))
    } else {
        each_rank!(x, t => activation::softmax(t, axis))
    }
}
