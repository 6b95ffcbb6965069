//! Operators that move, select or reduce elements: Flatten, Reshape, Transpose, Squeeze,
//! Unsqueeze, Concat, Slice, Gather (constant indices), Split, Pad (constant), Expand, ReduceMean,
//! ReduceSum, and the same on host integers where a shape computation needs them (Shape, Cast).

use super::{OpResult, axis, broadcast_shape};
use crate::value::{DynTensor, Value};
use crate::{each_rank, with_rank};
use burn::tensor::{Device, Int, Tensor, TensorData};

/// ONNX Reshape's target: 0 copies the input's length (unless `allow_zero`), −1 is inferred.
pub fn reshape_target(input: &[usize], target: &[i64], allow_zero: bool) -> OpResult<Vec<usize>> {
    let total: usize = input.iter().product();
    let mut out = Vec::with_capacity(target.len());
    let mut infer = None;
    for (k, &t) in target.iter().enumerate() {
        match t {
            -1 if infer.is_none() => {
                infer = Some(k);
                out.push(1);
            }
            0 if !allow_zero => {
                out.push(*input.get(k).ok_or_else(|| format!("0 at axis {k} beyond the input's rank"))?)
            }
            t if t >= 0 => out.push(t as usize),
            _ => return Err(format!("invalid target shape {target:?}")),
        }
    }
    let known: usize = out.iter().product();
    if let Some(k) = infer {
        if known == 0 || !total.is_multiple_of(known) {
            return Err(format!("cannot reshape {input:?} to {target:?}"));
        }
        out[k] = total / known;
    }
    if out.iter().product::<usize>() != total {
        return Err(format!("cannot reshape {input:?} ({total} elements) to {out:?}"));
    }
    Ok(out)
}

/// A value (float or integer) in a new shape with the same elements.
pub fn reshape_value(v: Value, shape: Vec<usize>) -> Value {
    match v {
        Value::Float { t, .. } => {
            let scalar = shape.is_empty();
            Value::Float { t: t.reshape(&shape), scalar }
        }
        Value::Int { data, .. } => Value::Int { shape, data },
    }
}

/// The shape after Squeeze of `axes` (all length-1 axes if none).
pub fn squeezed(shape: &[usize], axes: Option<&[i64]>) -> OpResult<Vec<usize>> {
    let drop: Vec<usize> = match axes {
        Some(a) => a.iter().map(|&a| axis(a, shape.len())).collect::<OpResult<_>>()?,
        None => (0..shape.len()).filter(|&k| shape[k] == 1).collect(),
    };
    for &k in &drop {
        if shape[k] != 1 {
            return Err(format!("cannot squeeze axis {k} of length {} in {shape:?}", shape[k]));
        }
    }
    Ok(shape.iter().enumerate().filter(|(k, _)| !drop.contains(k)).map(|(_, &d)| d).collect())
}

/// The shape after Unsqueeze at `axes` (positions in the output).
pub fn unsqueezed(shape: &[usize], axes: &[i64]) -> OpResult<Vec<usize>> {
    let rank = shape.len() + axes.len();
    let mut at: Vec<usize> = axes.iter().map(|&a| axis(a, rank)).collect::<OpResult<_>>()?;
    at.sort_unstable();
    let mut out = Vec::with_capacity(rank);
    let mut rest = shape.iter();
    for k in 0..rank {
        if at.contains(&k) { out.push(1) } else { out.push(*rest.next().ok_or("too many axes")?) }
    }
    Ok(out)
}

/// Transpose by `perm` (reversed axes if empty).
pub fn transpose(v: Value, perm: &[i64]) -> OpResult<Value> {
    let shape = v.shape();
    let perm: Vec<usize> = if perm.is_empty() {
        (0..shape.len()).rev().collect()
    } else {
        perm.iter().map(|&p| axis(p, shape.len())).collect::<OpResult<_>>()?
    };
    match v {
        Value::Float { t, scalar } => {
            let t = each_rank!(t, x => { let p: [usize; _] = crate::value::dims_array(&perm); x.permute(p) });
            Ok(Value::Float { t, scalar })
        }
        Value::Int { shape, data } => {
            let out_shape: Vec<usize> = perm.iter().map(|&p| shape[p]).collect();
            let strides = strides(&shape);
            let mut out = Vec::with_capacity(data.len());
            for flat in 0..data.len() {
                let idx = unravel(flat, &out_shape);
                let src: usize = idx.iter().zip(&perm).map(|(&i, &p)| i * strides[p]).sum();
                out.push(data[src]);
            }
            Ok(Value::Int { shape: out_shape, data: out })
        }
    }
}

fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for k in (0..shape.len().saturating_sub(1)).rev() {
        s[k] = s[k + 1] * shape[k + 1];
    }
    s
}

fn unravel(mut flat: usize, shape: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; shape.len()];
    for k in (0..shape.len()).rev() {
        idx[k] = flat % shape[k].max(1);
        flat /= shape[k].max(1);
    }
    idx
}

/// Concat along `axis`: float tensors on the device, or host integers.
pub fn concat(values: Vec<Value>, ax: usize, device: &Device) -> OpResult<Value> {
    if values.iter().all(|v| matches!(v, Value::Int { .. })) {
        let shapes: Vec<Vec<usize>> = values.iter().map(Value::shape).collect();
        if shapes.iter().all(|s| s.len() == 1) {
            let data = values
                .into_iter()
                .flat_map(|v| if let Value::Int { data, .. } = v { data } else { unreachable!() })
                .collect::<Vec<_>>();
            return Ok(Value::Int { shape: vec![data.len()], data });
        }
        return Err("concatenating integer tensors of rank > 1 is not supported".into());
    }
    let tensors: Vec<DynTensor> = values
        .into_iter()
        .map(|v| match v {
            Value::Float { t, .. } => t,
            Value::Int { shape, data } => {
                DynTensor::from_host(data.into_iter().map(|x| x as f64).collect(), &shape, device)
            }
        })
        .collect();
    let first = tensors[0].clone();
    let rank = first.rank();
    macro_rules! cat {
        ($d:literal, $v:ident) => {
            DynTensor::$v(Tensor::cat(tensors.into_iter().map(|t| t.into_rank::<$d>()).collect(), ax))
        };
    }
    Ok(Value::float(match rank {
        1 => cat!(1, R1),
        2 => cat!(2, R2),
        3 => cat!(3, R3),
        4 => cat!(4, R4),
        5 => cat!(5, R5),
        _ => cat!(6, R6),
    }))
}

/// Elements `start..end` along `ax` (step 1).
pub fn narrow(t: DynTensor, ax: usize, start: usize, len: usize) -> DynTensor {
    each_rank!(t, x => x.narrow(ax, start, len))
}

/// ONNX Slice: per axis, the elements from `start` towards `end` (exclusive) by `step`, with the
/// standard's clamping (negative indices count from the end; negative steps run backwards).
pub fn slice(
    v: Value,
    starts: &[i64],
    ends: &[i64],
    axes: Option<&[i64]>,
    steps: Option<&[i64]>,
    device: &Device,
) -> OpResult<Value> {
    let shape = v.shape();
    let rank = shape.len();
    let axes: Vec<usize> = match axes {
        Some(a) => a.iter().map(|&a| axis(a, rank)).collect::<OpResult<_>>()?,
        None => (0..starts.len()).collect(),
    };
    let mut picks: Vec<Option<Vec<usize>>> = vec![None; rank];
    for (j, &a) in axes.iter().enumerate() {
        let d = shape[a] as i64;
        let step = steps.map_or(1, |s| s[j]);
        if step == 0 {
            return Err("a step of 0".into());
        }
        let resolve = |x: i64| if x < 0 { x + d } else { x };
        let (s, e) = (resolve(starts[j]), resolve(ends[j]));
        let idx: Vec<usize> = if step > 0 {
            let (s, e) = (s.clamp(0, d), e.clamp(0, d));
            (s..e).step_by(step as usize).map(|i| i as usize).collect()
        } else {
            let (s, e) = (s.clamp(-1, d - 1), e.clamp(-1, d - 1));
            let mut out = Vec::new();
            let mut i = s;
            while i > e {
                out.push(i as usize);
                i += step;
            }
            out
        };
        picks[a] = Some(idx);
    }
    match v {
        Value::Float { mut t, scalar } => {
            for (a, pick) in picks.iter().enumerate() {
                let Some(idx) = pick else { continue };
                let contiguous = idx.windows(2).all(|w| w[1] == w[0] + 1);
                t = if contiguous && !idx.is_empty() {
                    if idx.len() == shape[a] { t } else { narrow(t, a, idx[0], idx.len()) }
                } else {
                    let n = idx.len();
                    let data: Vec<i64> = idx.iter().map(|&i| i as i64).collect();
                    let index = Tensor::<1, Int>::from_data(TensorData::new(data, [n]), device);
                    each_rank!(t, x => x.select(a, index))
                };
            }
            Ok(Value::Float { t, scalar })
        }
        Value::Int { shape, data } => {
            let ranges: Vec<Vec<usize>> =
                picks.into_iter().enumerate().map(|(a, p)| p.unwrap_or_else(|| (0..shape[a]).collect())).collect();
            let out_shape: Vec<usize> = ranges.iter().map(Vec::len).collect();
            let st = strides(&shape);
            let n: usize = out_shape.iter().product();
            let data = (0..n)
                .map(|flat| {
                    let idx = unravel(flat, &out_shape);
                    data[idx.iter().zip(&ranges).zip(&st).map(|((&i, r), &k)| r[i] * k).sum::<usize>()]
                })
                .collect();
            Ok(Value::Int { shape: out_shape, data })
        }
    }
}

/// ONNX Gather along `ax` with constant integer `indices` (negative counted from the end).
pub fn gather(v: Value, ax: usize, idx_shape: &[usize], indices: &[i64], device: &Device) -> OpResult<Value> {
    let shape = v.shape();
    let len = *shape.get(ax).ok_or_else(|| format!("axis {ax} beyond rank {}", shape.len()))? as i64;
    let resolved: Vec<i64> = indices
        .iter()
        .map(|&i| {
            let r = if i < 0 { i + len } else { i };
            if (0..len).contains(&r) { Ok(r) } else { Err(format!("index {i} out of range for length {len}")) }
        })
        .collect::<OpResult<_>>()?;
    let mut out_shape: Vec<usize> = shape[..ax].to_vec();
    out_shape.extend_from_slice(idx_shape);
    out_shape.extend_from_slice(&shape[ax + 1..]);
    match v {
        Value::Float { t, .. } => {
            let n = resolved.len();
            let idx = Tensor::<1, Int>::from_data(TensorData::new(resolved, [n]), device);
            let picked = each_rank!(t, x => x.select(ax, idx));
            let scalar = out_shape.is_empty();
            Ok(Value::Float { t: picked.reshape(&out_shape), scalar })
        }
        Value::Int { shape, data } => {
            let outer: usize = shape[..ax].iter().product();
            let inner: usize = shape[ax + 1..].iter().product();
            let mut out = Vec::new();
            for o in 0..outer {
                for &i in &resolved {
                    for k in 0..inner {
                        out.push(data[o * shape[ax] * inner + i as usize * inner + k]);
                    }
                }
            }
            Ok(Value::Int { shape: out_shape, data: out })
        }
    }
}

/// ONNX Split of a float tensor along `ax` into pieces of `sizes`.
pub fn split(t: DynTensor, ax: usize, sizes: &[usize]) -> OpResult<Vec<Value>> {
    let len = t.dims()[ax];
    if sizes.iter().sum::<usize>() != len {
        return Err(format!("split sizes {sizes:?} do not add up to the axis length {len}"));
    }
    let mut start = 0;
    Ok(sizes
        .iter()
        .map(|&s| {
            let piece = narrow(t.clone(), ax, start, s);
            start += s;
            Value::float(piece)
        })
        .collect())
}

/// ONNX Pad, constant mode: `pads` = (begin, end) per axis.
pub fn pad_constant(t: DynTensor, pads: &[(usize, usize)], value: f64) -> DynTensor {
    let mut t = t;
    for (ax, &(b, e)) in pads.iter().enumerate() {
        if b == 0 && e == 0 {
            continue;
        }
        let dims = t.dims();
        let device = with_rank!(&t, x => x.device());
        let block = |n: usize| {
            let mut shape = dims.clone();
            shape[ax] = n;
            let count: usize = shape.iter().product();
            DynTensor::from_flat(Tensor::<1>::full([count], value, &device), &shape)
        };
        let mut parts = Vec::new();
        if b > 0 {
            parts.push(Value::float(block(b)));
        }
        parts.push(Value::float(t));
        if e > 0 {
            parts.push(Value::float(block(e)));
        }
        t = match concat(parts, ax, &device).expect("same ranks") {
            Value::Float { t, .. } => t,
            Value::Int { .. } => unreachable!("float parts"),
        };
    }
    t
}

/// ONNX Expand: broadcast `t` against `target`.
pub fn expand(t: DynTensor, target: &[i64]) -> OpResult<DynTensor> {
    let target: Vec<usize> = target.iter().map(|&d| d.max(0) as usize).collect();
    let out = broadcast_shape(&t.dims(), &target)?;
    Ok(super::elementwise::expand_to(t.lift(out.len()), &out))
}

/// ReduceMean or ReduceSum over `axes` (every axis if empty).
pub fn reduce(t: DynTensor, scalar_in: bool, axes: &[usize], keepdims: bool, mean: bool) -> Value {
    let dims = t.dims();
    let rank = if scalar_in { 0 } else { dims.len() };
    let axes: Vec<usize> = if axes.is_empty() { (0..rank).collect() } else { axes.to_vec() };
    let mut y = t;
    for &a in &axes {
        y = if mean { each_rank!(y, x => x.mean_dim(a)) } else { each_rank!(y, x => x.sum_dim(a)) };
    }
    if keepdims {
        return Value::Float { t: y, scalar: scalar_in };
    }
    let out: Vec<usize> = dims.iter().enumerate().filter(|(k, _)| !axes.contains(k)).map(|(_, &d)| d).collect();
    reshape_value(Value::float(y), if rank == 0 { Vec::new() } else { out })
}
