//! The interpreter's dispatch for the operators that reshape, select, reduce or pass values
//! through (kept apart from the arithmetic and layers in [`crate::interp`]).

use crate::ops::shape as sh;
use crate::ops::{Inputs, OpResult, axis, float_input, int_input};
use crate::value::{DynTensor, Value};
use burn::tensor::Device;
use onnx_ir::Node;

/// Input `k` as a present value.
fn value(x: Inputs<'_>, k: usize) -> OpResult<Value> {
    x.get(k).and_then(Option::as_ref).cloned().ok_or_else(|| format!("input {k} is missing"))
}

/// Evaluates a shape, selection, reduction or pass-through node.
pub fn eval(node: &Node, x: Inputs<'_>, dev: &Device, constants: &[Option<Value>]) -> OpResult<Vec<Value>> {
    let one = |v: Value| Ok(vec![v]);
    // A config's runtime input: the integers at that input index.
    let ints_at = |i: usize| int_input(x, i).map(|(_, d)| d);
    match node {
        Node::Identity(_) | Node::Dropout(_) => one(value(x, 0)?),
        Node::Constant(_) => one(constants.first().cloned().flatten().ok_or("the constant has no value")?),
        Node::Cast(n) => {
            let v = value(x, 0)?;
            let to_float = n.config.to.is_float();
            one(match v {
                Value::Int { shape, data } if to_float => {
                    let scalar = shape.is_empty();
                    Value::Float {
                        t: DynTensor::from_host(data.iter().map(|&d| d as f64).collect(), &shape, dev),
                        scalar,
                    }
                }
                Value::Float { .. } if !to_float => {
                    return Err("casting a float tensor computed by the graph to integers is not supported".into());
                }
                v => v,
            })
        }
        Node::Shape(n) => {
            let shape = value(x, 0)?.shape();
            let (s, e) = (n.config.start.min(shape.len()), n.config.end.min(shape.len()));
            let data: Vec<i64> = shape[s..e.max(s)].iter().map(|&d| d as i64).collect();
            one(Value::Int { shape: vec![data.len()], data })
        }
        Node::Flatten(n) => {
            let v = value(x, 0)?;
            let shape = v.shape();
            let a = n.config.axis.min(shape.len());
            let outer: usize = shape[..a].iter().product();
            let inner: usize = shape[a..].iter().product();
            one(sh::reshape_value(v, vec![outer, inner]))
        }
        Node::Reshape(n) => {
            let v = value(x, 0)?;
            let target = match &n.config.shape {
                onnx_ir::node::reshape::ReshapeInput::Static(s) => s.clone(),
                onnx_ir::node::reshape::ReshapeInput::Runtime(r) => ints_at(r.input_index)?,
            };
            let out = sh::reshape_target(&v.shape(), &target, false)?;
            one(sh::reshape_value(v, out))
        }
        Node::Transpose(n) => one(sh::transpose(value(x, 0)?, &n.config.perm)?),
        Node::Squeeze(n) => {
            let v = value(x, 0)?;
            let axes = match &n.config.axes {
                None => None,
                Some(onnx_ir::node::squeeze::SqueezeInput::Static(a)) => Some(a.clone()),
                Some(onnx_ir::node::squeeze::SqueezeInput::Runtime(r)) => Some(ints_at(r.input_index)?),
            };
            let out = sh::squeezed(&v.shape(), axes.as_deref())?;
            one(sh::reshape_value(v, out))
        }
        Node::Unsqueeze(n) => {
            let v = value(x, 0)?;
            let axes = match &n.config {
                onnx_ir::node::unsqueeze::UnsqueezeConfig::Static(a) => a.clone(),
                onnx_ir::node::unsqueeze::UnsqueezeConfig::Runtime(r) => ints_at(r.input_index)?,
            };
            let out = sh::unsqueezed(&v.shape(), &axes)?;
            one(sh::reshape_value(v, out))
        }
        Node::Concat(n) => {
            let values: Vec<Value> = (0..x.len()).map(|k| value(x, k)).collect::<OpResult<_>>()?;
            one(sh::concat(values, n.config.axis, dev)?)
        }
        Node::Slice(n) => {
            use onnx_ir::node::slice::SliceInput;
            let get = |s: &SliceInput| match s {
                SliceInput::Static(v) => Ok(v.clone()),
                SliceInput::Runtime(r) => ints_at(r.input_index),
            };
            let c = &n.config;
            let axes = c.axes.as_ref().map(get).transpose()?;
            let steps = c.steps.as_ref().map(get).transpose()?;
            one(sh::slice(value(x, 0)?, &get(&c.starts)?, &get(&c.ends)?, axes.as_deref(), steps.as_deref(), dev)?)
        }
        Node::Gather(n) => {
            let (idx_shape, idx) =
                int_input(x, 1).map_err(|_| "Gather indices must be integer constants of the graph".to_string())?;
            one(sh::gather(value(x, 0)?, n.config.axis, &idx_shape, &idx, dev)?)
        }
        Node::Split(n) => {
            use onnx_ir::node::split::SplitSizesInput;
            let t = float_input(x, 0, dev)?;
            let c = &n.config;
            let len = t.dims()[c.axis];
            let sizes: Vec<usize> = match (&c.split_sizes, c.split_size) {
                (Some(SplitSizesInput::Static(s)), _) => s.clone(),
                (Some(SplitSizesInput::Runtime(r)), _) => ints_at(r.input_index)?.iter().map(|&v| v as usize).collect(),
                (None, Some(size)) => {
                    let mut v = vec![size; len / size];
                    if len % size != 0 {
                        v.push(len % size);
                    }
                    v
                }
                (None, None) => {
                    let parts = c.num_outputs.unwrap_or(node.outputs().len()).max(1);
                    let size = len.div_ceil(parts);
                    (0..parts).map(|k| size.min(len.saturating_sub(k * size))).collect()
                }
            };
            sh::split(t, c.axis, &sizes)
        }
        Node::Pad(n) => {
            use onnx_ir::node::pad::{ConstantValueInput, PadInput, PadMode};
            let c = &n.config;
            if c.mode != PadMode::Constant {
                return Err(format!("mode {:?}: only constant padding is supported", c.mode));
            }
            let t = float_input(x, 0, dev)?;
            let rank = t.rank();
            let pads: Vec<(usize, usize)> = match &c.pads {
                PadInput::Static(p) => p.clone(),
                PadInput::Runtime { input, axes } => {
                    let raw = ints_at(input.input_index)?;
                    let axes: Vec<usize> = match axes {
                        None => (0..rank).collect(),
                        Some(onnx_ir::node::pad::AxesInput::Static(a)) => a.clone(),
                        Some(onnx_ir::node::pad::AxesInput::Runtime(r)) => {
                            ints_at(r.input_index)?.iter().map(|&a| axis(a, rank)).collect::<OpResult<_>>()?
                        }
                    };
                    let half = raw.len() / 2;
                    let mut p = vec![(0, 0); rank];
                    for (j, &a) in axes.iter().enumerate().take(half) {
                        if raw[j] < 0 || raw[half + j] < 0 {
                            return Err(format!("negative pads {raw:?} are not supported"));
                        }
                        p[a] = (raw[j] as usize, raw[half + j] as usize);
                    }
                    p
                }
            };
            let value = match &c.constant_value {
                ConstantValueInput::Static(v) => *v as f64,
                ConstantValueInput::Runtime(r) => {
                    crate::interp::host_scalar(&x[r.input_index]).ok_or("the pad value must be a constant")?
                }
            };
            // onnx-ir lists pads from the first axis; a shorter list pads the last axes
            let mut full = vec![(0, 0); rank.saturating_sub(pads.len())];
            full.extend(pads);
            one(Value::float(sh::pad_constant(t, &full, value)))
        }
        Node::Expand(n) => {
            let target = match &n.config {
                onnx_ir::node::expand::ExpandConfig::Static(s) => s.clone(),
                onnx_ir::node::expand::ExpandConfig::Runtime(r) => ints_at(r.input_index)?,
            };
            one(Value::float(sh::expand(float_input(x, 0, dev)?, &target)?))
        }
        Node::ReduceMean(_) | Node::ReduceSum(_) => reduce(node, x, dev),
        Node::ConstantOfShape(n) => {
            use onnx_ir::TensorDataExt;
            let shape: Vec<usize> = match &n.config.shape {
                onnx_ir::node::constant_of_shape::ConstantOfShapeShape::Static(s) => s.clone(),
                onnx_ir::node::constant_of_shape::ConstantOfShapeShape::Runtime(r) => ints_at(r.input_index)?,
            }
            .iter()
            .map(|&d| d.max(0) as usize)
            .collect();
            let count: usize = shape.iter().product();
            match &n.config.value {
                Some(v) if v.dtype().is_float() => {
                    let fill = v.scalar_f64().map_err(|e| format!("{e:?}"))?;
                    let scalar = shape.is_empty();
                    one(Value::Float { t: DynTensor::from_host(vec![fill; count], &shape, dev), scalar })
                }
                Some(v) => one(Value::Int { shape, data: vec![v.scalar_i64().map_err(|e| format!("{e:?}"))?; count] }),
                None => one(Value::Float { t: DynTensor::from_host(vec![0.0; count], &shape, dev), scalar: false }),
            }
        }
        Node::Equal(_) => {
            let ((sa, a), (sb, b)) = (int_input(x, 0)?, int_input(x, 1)?);
            let out = crate::ops::broadcast_shape(&sa, &sb)?;
            let n: usize = out.iter().product();
            let at = |v: &[i64], i: usize| if v.len() == 1 { v[0] } else { v[i] };
            if (a.len() != n && a.len() != 1) || (b.len() != n && b.len() != 1) {
                return Err("integer broadcasting beyond scalars is not supported".into());
            }
            one(Value::Int { shape: out, data: (0..n).map(|i| i64::from(at(&a, i) == at(&b, i))).collect() })
        }
        Node::Where(_) => {
            let (sc, c) = int_input(x, 0)?;
            let ((sa, a), (sb, b)) = (int_input(x, 1)?, int_input(x, 2)?);
            let out = crate::ops::broadcast_shape(&crate::ops::broadcast_shape(&sc, &sa)?, &sb)?;
            let n: usize = out.iter().product();
            if [c.len(), a.len(), b.len()].iter().any(|&l| l != n && l != 1) {
                return Err("Where on integers: broadcasting beyond scalars is not supported".into());
            }
            let at = |v: &[i64], i: usize| if v.len() == 1 { v[0] } else { v[i] };
            one(Value::Int {
                shape: out,
                data: (0..n).map(|i| if at(&c, i) != 0 { at(&a, i) } else { at(&b, i) }).collect(),
            })
        }
        other => Err(format!("{} is not run by the interpreter", other.node_type())),
    }
}

fn reduce(node: &Node, x: Inputs<'_>, dev: &Device) -> OpResult<Vec<Value>> {
    let (config, mean) = match node {
        Node::ReduceMean(m) => (&m.config, true),
        Node::ReduceSum(s) => (&s.config, false),
        _ => unreachable!("reduce nodes only"),
    };
    let (t, scalar) = crate::ops::float_value(x, 0, dev)?;
    let rank = if scalar { 0 } else { t.rank() };
    let axes: Vec<usize> = match &config.axes {
        onnx_ir::node::reduce::ReduceAxes::Static(a) => a.clone(),
        onnx_ir::node::reduce::ReduceAxes::Runtime(r) => {
            int_input(x, r.input_index)?.1.iter().map(|&a| axis(a, rank)).collect::<OpResult<_>>()?
        }
    };
    if axes.is_empty() && config.noop_with_empty_axes {
        return Ok(vec![Value::Float { t, scalar }]);
    }
    Ok(vec![sh::reduce(t, scalar, &axes, config.keepdims, mean)])
}
