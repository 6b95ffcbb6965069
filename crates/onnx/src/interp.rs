//! The interpreter: runs a [`Graph`]'s nodes in order on Burn tensors, the parameters taken from
//! an [`OnnxParams`] module (so Burn's autodiff differentiates the loss by them) and the data from
//! the fixed batch. Constants are converted once, when the interpreter is built: a run moves no
//! data between host and device but the integer indices of Gather nodes.

use crate::error::{OnnxError, Result};
use crate::freeze::{Freeze, Pattern};
use crate::graph::Graph;
use crate::ops::elementwise::{self as ew, Binary, Unary};
use crate::ops::linalg::ConvGeometry;
use crate::ops::{self, Inputs, OpResult, axis, float_input, float_value};
use crate::params::OnnxParams;
use crate::prepass::BATCH_NORM_TRAINING;
use crate::value::{DynTensor, MAX_RANK, Value};
use burn::tensor::Device;
use burn::tensor::ops::ConvTransposeOptions;
use onnx_ir::node::padding::{AutoPad, PaddingConfig1d, PaddingConfig2d};
use onnx_ir::{Argument, Node, TensorDataExt};
use std::collections::HashMap;
use std::sync::Arc;

/// What the piecewise-linear nodes do in one run.
pub enum Patterns<'a> {
    /// The real operators.
    Off,
    /// The real operators, each recording its θ₀ pattern (indexed by node).
    Record(&'a mut Vec<Option<Pattern>>),
    /// The recorded patterns.
    Use(&'a [Option<Pattern>]),
}

/// A graph ready to run on one device.
pub struct Interpreter {
    graph: Arc<Graph>,
    device: Device,
    /// Per node, per input: the constant it is, if it is one.
    constants: Vec<Vec<Option<Value>>>,
    /// The graph's name of each parameter, in the module's order.
    param_keys: Vec<String>,
    /// Per node: a Conv or training-mode BatchNorm whose only consumer is a Relu, which the real
    /// objective fuses into it (the native DnCNN's kernels do the same).
    fuse_relu: Vec<bool>,
    /// Per node: a Relu fused into its producer (it passes its input through).
    fused_away: Vec<bool>,
}

/// Which nodes fuse the ReLU that follows them, and which ReLUs that makes pass-throughs.
fn relu_fusion(graph: &Graph) -> (Vec<bool>, Vec<bool>) {
    let n = graph.nodes.len();
    let mut consumers: HashMap<&str, Vec<usize>> = HashMap::new();
    for (k, node) in graph.nodes.iter().enumerate() {
        for arg in node.inputs() {
            consumers.entry(arg.name.as_str()).or_default().push(k);
        }
    }
    let outputs: Vec<&str> = graph.outputs.iter().map(|(name, _)| name.as_str()).collect();
    let (mut fuse, mut away) = (vec![false; n], vec![false; n]);
    for (k, node) in graph.nodes.iter().enumerate() {
        let fusible = matches!(node, Node::Conv2d(_) | Node::Conv1d(_))
            || matches!(node, Node::Custom(c) if c.op_type == BATCH_NORM_TRAINING);
        let Some(out) = node.outputs().first() else { continue };
        if !fusible || outputs.contains(&out.name.as_str()) {
            continue;
        }
        if let Some([j]) = consumers.get(out.name.as_str()).map(Vec::as_slice)
            && matches!(graph.nodes[*j], Node::Relu(_))
        {
            fuse[k] = true;
            away[*j] = true;
        }
    }
    (fuse, away)
}

/// A constant argument's value, on `device` if float.
fn constant_of(arg: &Argument, device: &Device) -> Option<Value> {
    let data = arg.value()?;
    let shape = data.shape().to_vec();
    if data.dtype().is_float() {
        let values = data.to_f64_vec().ok()?;
        let scalar = shape.is_empty();
        Some(Value::Float { t: DynTensor::from_host(values, &shape, device), scalar })
    } else {
        Some(Value::Int { shape, data: data.to_i64_vec().ok()? })
    }
}

impl Interpreter {
    /// `graph` on `device`, its parameters named `param_keys` in the graph (module order).
    pub fn new(graph: Arc<Graph>, param_keys: Vec<String>, device: &Device) -> Self {
        let constants = graph
            .nodes
            .iter()
            .map(|n| match n {
                Node::Constant(c) => vec![constant_of(&c.outputs[0], device)],
                n => n.inputs().iter().map(|a| constant_of(a, device)).collect(),
            })
            .collect();
        let (fuse_relu, fused_away) = relu_fusion(&graph);
        Interpreter { graph, device: device.clone(), constants, param_keys, fuse_relu, fused_away }
    }

    /// The graph.
    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// The device it runs on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Runs the graph on `params` and the named `data`, returning the graph's outputs in order.
    pub fn run(
        &self,
        params: &OnnxParams,
        data: &HashMap<String, Value>,
        mut patterns: Patterns<'_>,
    ) -> Result<Vec<Value>> {
        let mut env: HashMap<&str, Value> = HashMap::new();
        for (key, (_, t)) in self.param_keys.iter().zip(params.values()) {
            env.insert(key, Value::float(t));
        }
        for (name, v) in data {
            env.insert(name, v.clone());
        }
        if let Patterns::Record(p) = &mut patterns {
            p.clear();
            p.resize(self.graph.nodes.len(), None);
        }
        // Fusing needs no pattern: only the real objective fuses.
        let fuse = matches!(patterns, Patterns::Off);
        for (k, node) in self.graph.nodes.iter().enumerate() {
            let inputs: Vec<Option<Value>> = match node {
                Node::Constant(_) => Vec::new(),
                _ => node
                    .inputs()
                    .iter()
                    .zip(&self.constants[k])
                    .map(|(arg, c)| match c {
                        Some(v) => Ok(Some(v.clone())),
                        None if arg.is_optional() || arg.name.is_empty() => Ok(None),
                        None => env.get(arg.name.as_str()).cloned().map(Some).ok_or_else(|| {
                            self.error(node, format!("input {:?} is not computed before this node", arg.name))
                        }),
                    })
                    .collect::<Result<_>>()?,
            };
            let freeze = match &mut patterns {
                Patterns::Off => Freeze::Off,
                Patterns::Record(p) => Freeze::Record(&mut p[k]),
                Patterns::Use(p) => match &p[k] {
                    Some(pattern) => Freeze::Use(pattern),
                    None => Freeze::Off,
                },
            };
            let outputs = if fuse && self.fused_away[k] {
                vec![inputs[0].clone().expect("the fused node's output")]
            } else {
                self.eval(k, node, &inputs, freeze, fuse && self.fuse_relu[k])
                    .map_err(|problem| self.error(node, problem))?
            };
            for (arg, v) in node.outputs().iter().zip(outputs) {
                if v.shape().len() > MAX_RANK {
                    return Err(self.error(node, format!("output of rank {} exceeds {MAX_RANK}", v.shape().len())));
                }
                env.insert(arg.name.as_str(), v);
            }
        }
        self.graph
            .outputs
            .iter()
            .map(|(name, _)| {
                env.get(name.as_str()).cloned().ok_or_else(|| OnnxError::Parse {
                    path: self.graph.path.clone(),
                    reason: format!("graph output {name:?} is not computed by any node"),
                })
            })
            .collect()
    }

    fn error(&self, node: &Node, problem: String) -> OnnxError {
        let op = match node {
            Node::Custom(c) => c.op_type.clone(),
            n => n.node_type().to_string(),
        };
        OnnxError::Node { path: self.graph.path.clone(), node: node.name().into(), op, problem }
    }

    /// One node (with the ReLU that follows it when `relu`).
    fn eval(&self, k: usize, node: &Node, x: Inputs<'_>, freeze: Freeze<'_>, relu: bool) -> OpResult<Vec<Value>> {
        let dev = &self.device;
        let f = |i: usize| float_input(x, i, dev);
        let one = |t: DynTensor| Ok(vec![Value::float(t)]);
        // An optional input (a bias, Gemm's C): `None` where the node leaves it out.
        let optional = |i: usize| x.get(i).and_then(Option::as_ref).map(|_| f(i)).transpose();
        let bin = |op: Binary| -> OpResult<Vec<Value>> {
            match (&x[0], &x[1]) {
                (Some(Value::Int { shape: sa, data: a }), Some(Value::Int { shape: sb, data: b }))
                    if op != Binary::Pow =>
                {
                    int_binary(op, sa, a, sb, b)
                }
                _ => {
                    let (a, sa) = float_value(x, 0, dev)?;
                    let sb = x[1].as_ref().is_some_and(|v| v.shape().is_empty());
                    let t = match host_scalar(&x[1]) {
                        Some(s) => ew::scalar(a, op, s),
                        _ => ew::binary(op, a, float_input(x, 1, dev)?)?,
                    };
                    Ok(vec![Value::Float { t, scalar: sa && sb }])
                }
            }
        };
        let un = |op: Unary| -> OpResult<Vec<Value>> {
            let (t, s) = float_value(x, 0, dev)?;
            Ok(vec![Value::Float { t: ew::unary(op, t), scalar: s }])
        };
        match node {
            Node::Add(_) => bin(Binary::Add),
            Node::Sub(_) => bin(Binary::Sub),
            Node::Mul(_) => bin(Binary::Mul),
            Node::Div(_) => bin(Binary::Div),
            Node::Pow(_) => bin(Binary::Pow),
            Node::Neg(_) => un(Unary::Neg),
            Node::Sqrt(_) => un(Unary::Sqrt),
            Node::Exp(_) => un(Unary::Exp),
            Node::Log(_) => un(Unary::Log),
            Node::Erf(_) => un(Unary::Erf),
            Node::Abs(_) => un(Unary::Abs),
            Node::Reciprocal(_) => un(Unary::Reciprocal),
            Node::Sigmoid(_) => un(Unary::Sigmoid),
            Node::Tanh(_) => un(Unary::Tanh),
            Node::Softplus(_) => un(Unary::Softplus),
            Node::Gelu(n) => un(match n.config.approximate {
                onnx_ir::node::gelu::GeluApproximate::Exact => Unary::Gelu,
                onnx_ir::node::gelu::GeluApproximate::Tanh => Unary::GeluTanh,
            }),
            Node::Elu(n) => un(Unary::Elu(n.config.alpha)),
            Node::Relu(_) => one(ew::relu(f(0)?, freeze)),
            Node::LeakyRelu(n) => one(ew::leaky_relu(f(0)?, n.config.alpha, freeze)),
            Node::PRelu(_) => one(ew::prelu(f(0)?, f(1)?, freeze)?),
            Node::HardSigmoid(n) => one(ew::hard_sigmoid(f(0)?, n.config.alpha, n.config.beta, freeze)?),
            Node::HardSwish(_) => one(ew::hard_swish(f(0)?, freeze)?),
            Node::Clip(n) => {
                let bound = |b: &Option<onnx_ir::node::clip::ClipInput>| -> OpResult<Option<f64>> {
                    match b {
                        None => Ok(None),
                        Some(onnx_ir::node::clip::ClipInput::Static(v)) => Ok(Some(*v)),
                        Some(onnx_ir::node::clip::ClipInput::Runtime(r)) => host_scalar(&x[r.input_index])
                            .map(Some)
                            .ok_or_else(|| "Clip bounds must be constants".to_string()),
                    }
                };
                one(ew::clamp(f(0)?, bound(&n.config.min)?, bound(&n.config.max)?, freeze)?)
            }
            Node::Softmax(n) => one(ew::softmax(f(0)?, n.config.axis, false)),
            Node::LogSoftmax(n) => one(ew::softmax(f(0)?, n.config.axis, true)),
            Node::MatMul(_) => one(ops::linalg::matmul(f(0)?, f(1)?)?),
            Node::Gemm(n) => {
                let c = optional(2)?;
                let cfg = &n.config;
                one(ops::linalg::gemm(
                    f(0)?,
                    f(1)?,
                    c,
                    cfg.alpha as f64,
                    cfg.beta as f64,
                    cfg.trans_a != 0,
                    cfg.trans_b != 0,
                )?)
            }
            Node::Linear(n) => {
                let b = optional(2)?;
                one(ops::linalg::linear(f(0)?, f(1)?, b, n.config.transpose_weight)?)
            }
            Node::Conv1d(n) => {
                let c = &n.config;
                no_auto_pad(&c.auto_pad)?;
                let pad = match c.padding {
                    PaddingConfig1d::Valid => (0, 0),
                    PaddingConfig1d::Explicit(l, r) => (l, r),
                };
                let b = optional(2)?;
                let geometry =
                    ConvGeometry { stride: &[c.stride], padding: &[pad], dilation: &[c.dilation], groups: c.groups };
                one(ops::linalg::conv(f(0)?, f(1)?, b, geometry, relu)?)
            }
            Node::Conv2d(n) => {
                let c = &n.config;
                no_auto_pad(&c.auto_pad)?;
                let b = optional(2)?;
                let padding = pad2(&c.padding);
                let geometry =
                    ConvGeometry { stride: &c.stride, padding: &padding, dilation: &c.dilation, groups: c.groups };
                one(ops::linalg::conv(f(0)?, f(1)?, b, geometry, relu)?)
            }
            Node::ConvTranspose2d(n) => {
                let c = &n.config;
                no_auto_pad(&c.auto_pad)?;
                if c.output_shape.is_some() {
                    return Err("the output_shape attribute is not supported: give pads and output_padding".into());
                }
                let options = ConvTransposeOptions::new(c.stride, c.padding, c.padding_out, c.dilation, c.groups);
                let b = optional(2)?;
                one(ops::linalg::conv_transpose(f(0)?, f(1)?, b, options)?)
            }
            Node::BatchNormalization(n) => {
                let eps = match &n.config {
                    onnx_ir::node::batch_norm::BatchNormConfig::Static(c) => c.epsilon,
                    onnx_ir::node::batch_norm::BatchNormConfig::Runtime(c) => c.epsilon,
                };
                one(ops::norm::batch_norm(f(0)?, f(1)?, f(2)?, f(3)?, f(4)?, eps)?)
            }
            Node::Custom(c) if c.op_type == BATCH_NORM_TRAINING => {
                let eps = c.attrs.get_f32("epsilon").map_or(1e-5, f64::from);
                one(ops::norm::batch_norm_training(f(0)?, f(1)?, f(2)?, eps, relu)?)
            }
            Node::LayerNormalization(n) => {
                let xs = f(0)?;
                let ax = axis(n.config.axis, xs.rank())?;
                let bias = optional(2)?;
                one(ops::norm::layer_norm(xs, ax, f(1)?, bias, n.config.epsilon)?)
            }
            Node::GroupNormalization(n) => {
                one(ops::norm::group_norm(f(0)?, n.config.num_groups, f(1)?, f(2)?, n.config.epsilon)?)
            }
            Node::InstanceNormalization(n) => one(ops::norm::instance_norm(f(0)?, f(1)?, f(2)?, n.config.epsilon)?),
            Node::MaxPool2d(n) => {
                let c = &n.config;
                no_auto_pad(&c.auto_pad)?;
                let w = ops::pool::Window::two_d(c.kernel_size, c.strides, pad2(&c.padding), c.dilation, c.ceil_mode);
                one(ops::pool::max_pool(f(0)?, w, freeze)?)
            }
            Node::MaxPool1d(n) => {
                let c = &n.config;
                no_auto_pad(&c.auto_pad)?;
                let w = ops::pool::Window::one_d(c.kernel_size, c.stride, pad1(&c.padding), c.dilation, c.ceil_mode);
                one(ops::pool::max_pool(f(0)?, w, freeze)?)
            }
            Node::AveragePool2d(n) => {
                let c = &n.config;
                no_auto_pad(&c.auto_pad)?;
                let w = ops::pool::Window::two_d(c.kernel_size, c.strides, pad2(&c.padding), c.dilation, c.ceil_mode);
                one(ops::pool::avg_pool(f(0)?, w, c.count_include_pad)?)
            }
            Node::AveragePool1d(n) => {
                let c = &n.config;
                no_auto_pad(&c.auto_pad)?;
                let w = ops::pool::Window::one_d(c.kernel_size, c.stride, pad1(&c.padding), c.dilation, c.ceil_mode);
                one(ops::pool::avg_pool(f(0)?, w, c.count_include_pad)?)
            }
            Node::GlobalAveragePool(_) => one(ops::pool::global_avg_pool(f(0)?)?),
            _ => crate::shape_ops::eval(node, x, dev, &self.constants[k]),
        }
    }
}

/// The host value of a one-element constant, if it is one.
pub fn host_scalar(v: &Option<Value>) -> Option<f64> {
    match v {
        Some(Value::Int { data, .. }) if data.len() == 1 => Some(data[0] as f64),
        _ => None,
    }
}

fn int_binary(op: Binary, sa: &[usize], a: &[i64], sb: &[usize], b: &[i64]) -> OpResult<Vec<Value>> {
    let out = ops::broadcast_shape(sa, sb)?;
    let n: usize = out.iter().product();
    if (a.len() != n && a.len() != 1) || (b.len() != n && b.len() != 1) {
        return Err("integer broadcasting beyond scalars is not supported".into());
    }
    let at = |v: &[i64], i: usize| if v.len() == 1 { v[0] } else { v[i] };
    let data = (0..n)
        .map(|i| {
            let (x, y) = (at(a, i), at(b, i));
            match op {
                Binary::Add => Ok(x + y),
                Binary::Sub => Ok(x - y),
                Binary::Mul => Ok(x * y),
                Binary::Div if y != 0 => Ok(x.div_euclid(y)),
                _ => Err("integer division by zero".to_string()),
            }
        })
        .collect::<OpResult<_>>()?;
    Ok(vec![Value::Int { shape: out, data }])
}

fn no_auto_pad(a: &AutoPad) -> OpResult<()> {
    match a {
        AutoPad::NotSet | AutoPad::Valid => Ok(()),
        other => Err(format!("auto_pad {other:?} is not supported: export with explicit pads (PyTorch does)")),
    }
}

fn pad2(p: &PaddingConfig2d) -> [(usize, usize); 2] {
    match *p {
        PaddingConfig2d::Valid => [(0, 0), (0, 0)],
        PaddingConfig2d::Explicit(top, left, bottom, right) => [(top, bottom), (left, right)],
    }
}

fn pad1(p: &PaddingConfig1d) -> (usize, usize) {
    match *p {
        PaddingConfig1d::Valid => (0, 0),
        PaddingConfig1d::Explicit(l, r) => (l, r),
    }
}
