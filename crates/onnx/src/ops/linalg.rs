//! Matrix products and convolutions: MatMul (numpy semantics), Gemm, Linear (onnx-ir's name for a
//! Gemm with transB = 1, α = β = 1), Conv 1-D/2-D (stride, padding, dilation, groups) and
//! ConvTranspose 2-D, on Burn's module operations (differentiable on every backend).

use super::elementwise::{Binary, binary, expand_to, scalar};
use super::{OpResult, broadcast_shape};
use crate::value::DynTensor;
use burn::tensor::Tensor;
use burn::tensor::module::{conv_transpose2d, conv1d};
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};

fn mm<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> Tensor<D> {
    a.matmul(b)
}

/// ONNX MatMul: rank-1 operands are promoted (and the added axis removed), batch axes broadcast.
pub fn matmul(a: DynTensor, b: DynTensor) -> OpResult<DynTensor> {
    let (da, db) = (a.dims(), b.dims());
    let a_vec = da.len() == 1;
    let b_vec = db.len() == 1;
    let a = if a_vec { a.reshape(&[1, da[0]]) } else { a };
    let b = if b_vec { b.reshape(&[db[0], 1]) } else { b };
    let (da, db) = (a.dims(), b.dims());
    let (ra, rb) = (da.len(), db.len());
    if da[ra - 1] != db[rb - 2] {
        return Err(format!("inner dimensions differ: {da:?} × {db:?}"));
    }
    let batch = broadcast_shape(&da[..ra - 2], &db[..rb - 2])?;
    let shape_a: Vec<usize> = batch.iter().copied().chain(da[ra - 2..].iter().copied()).collect();
    let shape_b: Vec<usize> = batch.iter().copied().chain(db[rb - 2..].iter().copied()).collect();
    let rank = shape_a.len();
    let a = expand_to(a.lift(rank), &shape_a);
    let b = expand_to(b.lift(rank), &shape_b);
    use DynTensor::*;
    let y = match (a, b) {
        (R2(a), R2(b)) => R2(mm(a, b)),
        (R3(a), R3(b)) => R3(mm(a, b)),
        (R4(a), R4(b)) => R4(mm(a, b)),
        (R5(a), R5(b)) => R5(mm(a, b)),
        (R6(a), R6(b)) => R6(mm(a, b)),
        _ => unreachable!("both operands have rank {rank} ≥ 2"),
    };
    let mut out = y.dims();
    if b_vec {
        out.pop();
    }
    if a_vec {
        out.remove(out.len() - 1 - usize::from(!b_vec));
    }
    Ok(y.reshape(&out))
}

/// ONNX Gemm: `α · op(A) · op(B) + β · C`, A and B of rank 2.
pub fn gemm(
    a: DynTensor,
    b: DynTensor,
    c: Option<DynTensor>,
    alpha: f64,
    beta: f64,
    trans_a: bool,
    trans_b: bool,
) -> OpResult<DynTensor> {
    if a.rank() != 2 || b.rank() != 2 {
        return Err(format!("A and B must be matrices, found shapes {:?} and {:?}", a.dims(), b.dims()));
    }
    let a = a.into_rank::<2>();
    let b = b.into_rank::<2>();
    let a = if trans_a { a.transpose() } else { a };
    let b = if trans_b { b.transpose() } else { b };
    if a.dims()[1] != b.dims()[0] {
        return Err(format!("inner dimensions differ: {:?} × {:?}", a.dims(), b.dims()));
    }
    let mut y = DynTensor::R2(a.matmul(b));
    if alpha != 1.0 {
        y = scalar(y, Binary::Mul, alpha);
    }
    if let Some(c) = c {
        let c = if beta != 1.0 { scalar(c, Binary::Mul, beta) } else { c };
        y = binary(Binary::Add, y, c)?;
    }
    Ok(y)
}

/// onnx-ir's Linear: `x · Wᵀ + b` (W of shape [out, in], `transpose_weight`) or `x · W + b`.
pub fn linear(x: DynTensor, w: DynTensor, b: Option<DynTensor>, transpose_weight: bool) -> OpResult<DynTensor> {
    let w = if transpose_weight { DynTensor::R2(w.into_rank::<2>().transpose()) } else { w };
    let y = matmul(x, w)?;
    match b {
        Some(b) => binary(Binary::Add, y, b),
        None => Ok(y),
    }
}

/// A convolution's geometry, one entry per spatial axis.
#[derive(Debug, Clone, Copy)]
pub struct ConvGeometry<'a> {
    /// Strides.
    pub stride: &'a [usize],
    /// Padding (begin, end).
    pub padding: &'a [(usize, usize)],
    /// Dilations.
    pub dilation: &'a [usize],
    /// Groups.
    pub groups: usize,
}

/// Convolution, 1-D or 2-D, with per-side padding, followed by a ReLU when `relu` (fused into
/// the direct kernel where it runs).
pub fn conv(
    x: DynTensor,
    w: DynTensor,
    b: Option<DynTensor>,
    geometry: ConvGeometry<'_>,
    relu: bool,
) -> OpResult<DynTensor> {
    let ConvGeometry { stride, padding, dilation, groups } = geometry;
    let bias = b.map(|b| b.into_rank::<1>());
    match (x.rank(), w.rank(), stride.len()) {
        (3, 3, 1) => {
            let options = ConvOptions::new_with_padding([stride[0]], [padding[0]], [dilation[0]], groups);
            let y = conv1d(x.into_rank::<3>(), w.into_rank::<3>(), bias, options);
            Ok(DynTensor::R3(if relu { burn::tensor::activation::relu(y) } else { y }))
        }
        (4, 4, 2) => {
            let options = ConvOptions::new_with_padding(
                [stride[0], stride[1]],
                [padding[0], padding[1]],
                [dilation[0], dilation[1]],
                groups,
            );
            let (x, w) = (x.into_rank::<4>(), w.into_rank::<4>());
            Ok(DynTensor::R4(crate::fast::conv2d(x, w, bias, options, relu)))
        }
        (rx, rw, _) => Err(format!("input of rank {rx} and weight of rank {rw} do not make a 1-D or 2-D convolution")),
    }
}

/// 2-D transposed convolution.
pub fn conv_transpose(
    x: DynTensor,
    w: DynTensor,
    b: Option<DynTensor>,
    options: ConvTransposeOptions<2>,
) -> OpResult<DynTensor> {
    if x.rank() != 4 || w.rank() != 4 {
        return Err(format!("input {:?} and weight {:?} must have rank 4", x.dims(), w.dims()));
    }
    Ok(DynTensor::R4(conv_transpose2d(x.into_rank::<4>(), w.into_rank::<4>(), b.map(|b| b.into_rank::<1>()), options)))
}
