//! Reading an `.onnx` file into a graph ready to run: the parameter rewrite
//! ([`crate::prepass`]), `onnx-ir`'s parse (types, shapes, constants), and a check, before any
//! run, that every node is an operator the interpreter runs.

use crate::error::{OnnxError, Result};
use crate::prepass::{BATCH_NORM_TRAINING, RawParam, rewrite};
use onnx_ir::{Message, ModelProto, Node, OnnxGraphBuilder};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// The operators the interpreter runs (ONNX names), as listed in errors.
pub const SUPPORTED: &[&str] = &[
    "Add",
    "AveragePool",
    "BatchNormalization",
    "Cast",
    "Clip",
    "Concat",
    "Constant",
    "Conv",
    "ConvTranspose",
    "Div",
    "Dropout",
    "Elu",
    "Erf",
    "Exp",
    "Expand",
    "Flatten",
    "Gather",
    "Gelu",
    "Gemm",
    "GlobalAveragePool",
    "GroupNormalization",
    "HardSigmoid",
    "HardSwish",
    "Identity",
    "InstanceNormalization",
    "LayerNormalization",
    "LeakyRelu",
    "Log",
    "LogSoftmax",
    "MatMul",
    "MaxPool",
    "Mul",
    "Neg",
    "PRelu",
    "Pad",
    "Pow",
    "ReduceMean",
    "ReduceSum",
    "Relu",
    "Reshape",
    "Shape",
    "Sigmoid",
    "Slice",
    "Softmax",
    "Softplus",
    "Split",
    "Sqrt",
    "Squeeze",
    "Sub",
    "Tanh",
    "Transpose",
    "Unsqueeze",
    "Abs",
    "Reciprocal",
    // on integers known before the run (the shape arithmetic exporters emit)
    "ConstantOfShape",
    "Equal",
    "Where",
];

/// A declared graph input the data file must provide.
#[derive(Debug, Clone)]
pub struct InputInfo {
    /// Its name (the key in the data file).
    pub name: String,
    /// Its name in the parsed graph.
    pub key: String,
    /// Its declared shape (`None` for a dimension the file leaves open).
    pub shape: Vec<Option<usize>>,
    /// Whether it is an integer tensor (else float).
    pub integer: bool,
}

/// A parsed graph: its nodes, data inputs, output and parameters.
pub struct Graph {
    /// The file it came from.
    pub path: PathBuf,
    /// onnx-ir's nodes, in execution order.
    pub nodes: Vec<Node>,
    /// The inputs the data must provide (the parameters excluded).
    pub inputs: Vec<InputInfo>,
    /// The graph's outputs (name and declared shape).
    pub outputs: Vec<(String, Option<Vec<usize>>)>,
    /// The parameters, with their values at θ₀.
    pub params: Vec<RawParam>,
    /// The floating-point initializers kept as constants (see [`crate::prepass::Rewritten`]).
    pub constants: Vec<String>,
    /// Parameters feeding more than one node, with the count.
    pub tied: Vec<(String, usize)>,
}

impl Graph {
    /// Reads, rewrites, parses and checks `path`.
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|source| OnnxError::Io { path: path.into(), source })?;
        Self::from_bytes(path, &bytes)
    }

    /// The graph in `bytes` (named `path` in errors).
    pub fn from_bytes(path: &Path, bytes: &[u8]) -> Result<Self> {
        let parse_error = |reason: String| OnnxError::Parse { path: path.into(), reason };
        let model = ModelProto::parse_from_bytes(bytes).map_err(|e| parse_error(e.to_string()))?;
        if model.graph.is_none() || model.graph.node.is_empty() {
            return Err(parse_error("the model has no graph nodes".into()));
        }
        check_raw_ops(path, &model)?;
        let rewritten = rewrite(path, model)?;
        let bytes = rewritten.model.write_to_bytes().map_err(|e| parse_error(e.to_string()))?;
        // onnx-ir reports most problems as errors, but a malformed file can trip an assertion
        // inside it: either way the user gets one line naming the file.
        let parsed = std::panic::catch_unwind(|| OnnxGraphBuilder::new().parse_bytes(&bytes))
            .map_err(|panic| {
                let what = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()));
                parse_error(what.unwrap_or_else(|| "the parser failed".into()))
            })?
            .map_err(|e| parse_error(e.to_string()))?;
        let param_keys: HashSet<&str> = rewritten.params.iter().map(|p| p.key.as_str()).collect();
        let original: std::collections::HashMap<&str, &str> =
            rewritten.inputs.iter().map(|(name, key)| (key.as_str(), name.as_str())).collect();
        let inputs = parsed
            .inputs
            .iter()
            .filter(|a| !param_keys.contains(a.name.as_str()))
            .map(|a| InputInfo {
                name: original.get(a.name.as_str()).map_or_else(|| a.name.clone(), |n| n.to_string()),
                key: a.name.clone(),
                shape: a.ty.static_shape().cloned().unwrap_or_else(|| vec![None; a.ty.rank()]),
                integer: !a.ty.elem_type().is_float(),
            })
            .collect();
        let outputs = parsed.outputs.iter().map(|a| (a.name.clone(), a.ty.static_shape_known())).collect();
        for node in &parsed.nodes {
            check_node(path, node)?;
        }
        Ok(Graph {
            path: path.into(),
            nodes: parsed.nodes,
            inputs,
            outputs,
            params: rewritten.params,
            constants: rewritten.constants,
            tied: rewritten.tied,
        })
    }

    /// Whether any node is piecewise linear (the graph has a frozen-activation objective).
    pub fn has_kinks(&self) -> bool {
        self.nodes.iter().any(|n| {
            matches!(
                n,
                Node::Relu(_)
                    | Node::LeakyRelu(_)
                    | Node::PRelu(_)
                    | Node::Clip(_)
                    | Node::HardSigmoid(_)
                    | Node::HardSwish(_)
                    | Node::MaxPool1d(_)
                    | Node::MaxPool2d(_)
            )
        })
    }
}

/// Control flow and operators outside [`SUPPORTED`], named as the file names them, before onnx-ir
/// renames the nodes (its own errors on them are less direct).
fn check_raw_ops(path: &Path, model: &ModelProto) -> Result<()> {
    for node in &model.graph.node {
        let op = node.op_type.as_str();
        if matches!(op, "If" | "Loop" | "Scan") {
            return Err(OnnxError::Node {
                path: path.into(),
                node: node.name.clone(),
                op: op.into(),
                problem: "control flow is not supported: export a graph without data-dependent branches or loops"
                    .into(),
            });
        }
    }
    for node in &model.graph.node {
        if !SUPPORTED.contains(&node.op_type.as_str()) {
            return Err(unsupported(path, &node.name, &node.op_type));
        }
    }
    Ok(())
}

fn unsupported(path: &Path, node: &str, op: &str) -> OnnxError {
    OnnxError::Unsupported { path: path.into(), node: node.into(), op: op.into(), supported: SUPPORTED.join(", ") }
}

/// Rejects what onnx-ir parsed into something the interpreter does not run (3-D convolutions,
/// custom ops other than our training-mode BatchNorm, ...).
fn check_node(path: &Path, node: &Node) -> Result<()> {
    let ok = match node {
        Node::Custom(c) => c.op_type == BATCH_NORM_TRAINING,
        Node::Add(_)
        | Node::Sub(_)
        | Node::Mul(_)
        | Node::Div(_)
        | Node::Pow(_)
        | Node::Neg(_)
        | Node::Sqrt(_)
        | Node::Exp(_)
        | Node::Log(_)
        | Node::Erf(_)
        | Node::Abs(_)
        | Node::Reciprocal(_) => true,
        Node::Relu(_)
        | Node::LeakyRelu(_)
        | Node::PRelu(_)
        | Node::Sigmoid(_)
        | Node::Tanh(_)
        | Node::Softplus(_)
        | Node::Gelu(_)
        | Node::Elu(_)
        | Node::HardSigmoid(_)
        | Node::HardSwish(_)
        | Node::Clip(_) => true,
        Node::Softmax(_) | Node::LogSoftmax(_) => true,
        Node::Gemm(_) | Node::MatMul(_) | Node::Linear(_) => true,
        Node::Conv1d(_) | Node::Conv2d(_) | Node::ConvTranspose2d(_) => true,
        Node::BatchNormalization(_)
        | Node::LayerNormalization(_)
        | Node::GroupNormalization(_)
        | Node::InstanceNormalization(_) => true,
        Node::MaxPool1d(_)
        | Node::MaxPool2d(_)
        | Node::AveragePool1d(_)
        | Node::AveragePool2d(_)
        | Node::GlobalAveragePool(_) => true,
        Node::Flatten(_)
        | Node::Reshape(_)
        | Node::Transpose(_)
        | Node::Squeeze(_)
        | Node::Unsqueeze(_)
        | Node::Concat(_)
        | Node::Slice(_)
        | Node::Gather(_)
        | Node::Split(_)
        | Node::Pad(_)
        | Node::Expand(_) => true,
        Node::ReduceMean(_) | Node::ReduceSum(_) => true,
        Node::Identity(_) | Node::Dropout(_) | Node::Constant(_) | Node::Shape(_) | Node::Cast(_) => true,
        Node::ConstantOfShape(_) | Node::Equal(_) | Node::Where(_) => true,
        _ => false,
    };
    if ok {
        return Ok(());
    }
    let op = match node {
        Node::Custom(c) => c.op_type.clone(),
        other => other.node_type().to_string(),
    };
    Err(unsupported(path, node.name(), &op))
}
