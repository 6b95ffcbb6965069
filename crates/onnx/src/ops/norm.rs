//! Normalization layers: BatchNormalization (running statistics, or the statistics of the whole
//! fixed batch in training mode), LayerNormalization, GroupNormalization and
//! InstanceNormalization, written with Burn's differentiable reductions.

use super::OpResult;
use super::elementwise::{Binary, binary};
use crate::value::DynTensor;

/// `x` normalized over its last axis (a rank-2 view [outer, inner]): (x − mean) / √(var + ε),
/// the biased variance, as PyTorch computes it.
fn normalize_rows(x: DynTensor, outer: usize, inner: usize, eps: f64) -> DynTensor {
    let shape = x.dims();
    let t = x.reshape(&[outer, inner]).into_rank::<2>();
    let centered = t.clone() - t.mean_dim(1);
    let var = centered.clone().powi_scalar(2).mean_dim(1);
    let y = centered / var.add_scalar(eps).sqrt();
    DynTensor::R2(y).reshape(&shape)
}

/// Per-channel `scale` and `bias` ([C]) shaped to broadcast over `[N, C, …]` of rank `rank`.
fn per_channel(v: DynTensor, rank: usize) -> DynTensor {
    let c = v.numel();
    let mut shape = vec![1; rank];
    shape[1] = c;
    v.reshape(&shape)
}

fn affine(y: DynTensor, scale: Option<DynTensor>, bias: Option<DynTensor>) -> OpResult<DynTensor> {
    let y = match scale {
        Some(s) => binary(Binary::Mul, y, s)?,
        None => y,
    };
    match bias {
        Some(b) => binary(Binary::Add, y, b),
        None => Ok(y),
    }
}

/// BatchNormalization over `[N, C, …]` with the given per-channel mean and variance, as one
/// per-channel affine map: y = x·s + t with s = γ/√(var + ε) and t = β − mean·s computed on the
/// [C] vectors (two passes over x instead of four).
pub fn batch_norm(
    x: DynTensor,
    scale: DynTensor,
    bias: DynTensor,
    mean: DynTensor,
    var: DynTensor,
    eps: f64,
) -> OpResult<DynTensor> {
    let rank = x.rank();
    if rank < 2 {
        return Err(format!("input {:?} has no channel axis", x.dims()));
    }
    let (gamma, beta) = (scale.into_rank::<1>(), bias.into_rank::<1>());
    let inv_std = var.into_rank::<1>().add_scalar(eps).sqrt().recip();
    let s = gamma * inv_std;
    let t = beta - mean.into_rank::<1>() * s.clone();
    let y = binary(Binary::Mul, x, per_channel(DynTensor::R1(s), rank))?;
    binary(Binary::Add, y, per_channel(DynTensor::R1(t), rank))
}

/// BatchNormalization in training mode: the mean and biased variance of each channel over the
/// batch and spatial axes; followed by a ReLU when `relu` (fused into the kernel where it runs).
pub fn batch_norm_training(
    x: DynTensor,
    scale: DynTensor,
    bias: DynTensor,
    eps: f64,
    relu: bool,
) -> OpResult<DynTensor> {
    let dims = x.dims();
    if dims.len() < 2 {
        return Err(format!("input {dims:?} has no channel axis"));
    }
    if dims.len() == 4 && scale.rank() == 1 && bias.rank() == 1 {
        let (x4, g, b) = (x.clone().into_rank::<4>(), scale.clone().into_rank::<1>(), bias.clone().into_rank::<1>());
        if let Some(y) = crate::fast::batch_norm_batch_stats(x4, g, b, eps, relu) {
            return Ok(DynTensor::R4(y));
        }
    }
    let (n, c) = (dims[0], dims[1]);
    let spatial: usize = dims[2..].iter().product();
    // [N, C, S] → [C, N·S]
    let t = x.reshape(&[n, c, spatial]).into_rank::<3>().swap_dims(0, 1).reshape([c, n * spatial]);
    let y = normalize_rows(DynTensor::R2(t), c, n * spatial, eps).into_rank::<2>();
    let y = DynTensor::R3(y.reshape([c, n, spatial]).swap_dims(0, 1)).reshape(&dims);
    let rank = dims.len();
    let y = affine(y, Some(per_channel(scale, rank)), Some(per_channel(bias, rank)))?;
    Ok(if relu { crate::each_rank!(y, t => burn::tensor::activation::relu(t)) } else { y })
}

/// LayerNormalization over the axes from `axis` on; scale and bias broadcast over those axes.
pub fn layer_norm(
    x: DynTensor,
    axis: usize,
    scale: DynTensor,
    bias: Option<DynTensor>,
    eps: f64,
) -> OpResult<DynTensor> {
    let dims = x.dims();
    let outer: usize = dims[..axis].iter().product();
    let inner: usize = dims[axis..].iter().product();
    affine(normalize_rows(x, outer, inner, eps), Some(scale), bias)
}

/// GroupNormalization: channels split into `groups`, each normalized over its channels and the
/// spatial axes; scale and bias per channel ([C], opset 21) or per group ([G], opset 18).
pub fn group_norm(x: DynTensor, groups: usize, scale: DynTensor, bias: DynTensor, eps: f64) -> OpResult<DynTensor> {
    let dims = x.dims();
    let (n, c) = (dims[0], dims[1]);
    if groups == 0 || c % groups != 0 {
        return Err(format!("{c} channels do not split into {groups} groups"));
    }
    let per_group: usize = c / groups * dims[2..].iter().product::<usize>();
    let y = normalize_rows(x, n * groups, per_group, eps);
    let rank = dims.len();
    let expand = |v: DynTensor| -> DynTensor {
        if v.numel() == groups && groups != c {
            // one value per group: repeat it for the group's channels
            let t = v.reshape(&[groups, 1]).into_rank::<2>().expand([groups, c / groups]).reshape([c]);
            per_channel(DynTensor::R1(t), rank)
        } else {
            per_channel(v, rank)
        }
    };
    affine(y, Some(expand(scale)), Some(expand(bias)))
}

/// InstanceNormalization: each (sample, channel) plane normalized; scale and bias per channel.
pub fn instance_norm(x: DynTensor, scale: DynTensor, bias: DynTensor, eps: f64) -> OpResult<DynTensor> {
    let dims = x.dims();
    let (n, c) = (dims[0], dims[1]);
    let spatial: usize = dims[2..].iter().product();
    let y = normalize_rows(x, n * c, spatial, eps);
    let rank = dims.len();
    affine(y, Some(per_channel(scale, rank)), Some(per_channel(bias, rank)))
}
