//! The operators, grouped by kind, each a function from the node's input values to its outputs;
//! the shared helpers that read an input as a float tensor or as host integers.

pub mod elementwise;
pub mod linalg;
pub mod norm;
pub mod pool;
pub mod shape;

use crate::value::{DynTensor, Value};
use burn::tensor::Device;

/// What an operator may fail with: a sentence the interpreter prefixes with the node and op.
pub type OpResult<T> = std::result::Result<T, String>;

/// The node's inputs, `None` where an optional input is absent.
pub type Inputs<'a> = &'a [Option<Value>];

/// Input `k` as a float tensor (host integers are converted on `device`).
pub fn float_input(inputs: Inputs<'_>, k: usize, device: &Device) -> OpResult<DynTensor> {
    match inputs.get(k).and_then(Option::as_ref) {
        Some(Value::Float { t, .. }) => Ok(t.clone()),
        Some(Value::Int { shape, data }) => {
            Ok(DynTensor::from_host(data.iter().map(|&v| v as f64).collect(), shape, device))
        }
        None => Err(format!("input {k} is missing")),
    }
}

/// Input `k` as a float value with its logical rank.
pub fn float_value(inputs: Inputs<'_>, k: usize, device: &Device) -> OpResult<(DynTensor, bool)> {
    match inputs.get(k).and_then(Option::as_ref) {
        Some(Value::Float { t, scalar }) => Ok((t.clone(), *scalar)),
        Some(Value::Int { shape, .. }) => Ok((float_input(inputs, k, device)?, shape.is_empty())),
        None => Err(format!("input {k} is missing")),
    }
}

/// Input `k` as host integers (shapes, axes, indices): it must be a constant of the graph.
pub fn int_input(inputs: Inputs<'_>, k: usize) -> OpResult<(Vec<usize>, Vec<i64>)> {
    match inputs.get(k).and_then(Option::as_ref) {
        Some(Value::Int { shape, data }) => Ok((shape.clone(), data.clone())),
        Some(Value::Float { .. }) => Err(format!(
            "input {k} must be integers known before the run (a shape, axes or indices), not a float tensor"
        )),
        None => Err(format!("input {k} is missing")),
    }
}

/// A possibly negative axis of a rank-`rank` tensor, as an index.
pub fn axis(a: i64, rank: usize) -> OpResult<usize> {
    let r = rank as i64;
    let resolved = if a < 0 { a + r } else { a };
    if (0..r.max(1)).contains(&resolved) {
        Ok(resolved as usize)
    } else {
        Err(format!("axis {a} is out of range for rank {rank}"))
    }
}

/// The numpy broadcast of two shapes.
pub fn broadcast_shape(a: &[usize], b: &[usize]) -> OpResult<Vec<usize>> {
    let rank = a.len().max(b.len());
    let pad = |s: &[usize]| {
        let mut v = vec![1; rank - s.len()];
        v.extend_from_slice(s);
        v
    };
    let (a, b) = (pad(a), pad(b));
    a.iter()
        .zip(&b)
        .map(|(&x, &y)| match (x, y) {
            (x, y) if x == y => Ok(x),
            (1, y) => Ok(y),
            (x, 1) => Ok(x),
            _ => Err(format!("shapes {a:?} and {b:?} do not broadcast")),
        })
        .collect()
}
