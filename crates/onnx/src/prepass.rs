//! The rewrite an ONNX model gets before `onnx-ir` parses it, so the parameters keep their names
//! and stay variables: every floating-point initializer the loss is differentiated by becomes a
//! graph input (onnx-ir would otherwise turn it into an anonymous constant and fold it), and
//! everything else stays a constant. Also: BatchNormalization in training mode (which onnx-ir
//! rejects) becomes a node of our own domain, run with batch statistics.

use crate::error::{OnnxError, Result};
use onnx_ir::{ModelProto, NodeProto, TensorProto};
use std::collections::{HashMap, HashSet};
use std::path::Path;

/// The domain of the nodes this rewrite introduces.
pub const DOMAIN: &str = "hessrank";
/// BatchNormalization with `training_mode = 1`: normalized by the statistics of the whole batch.
pub const BATCH_NORM_TRAINING: &str = "BatchNormalizationTraining";

/// ONNX's element type codes for the floats parameters may have.
const FLOAT: i32 = 1;
const DOUBLE: i32 = 11;

/// One parameter: a floating-point initializer the loss depends on as data.
#[derive(Debug, Clone)]
pub struct RawParam {
    /// Its initializer name (PyTorch's state_dict key).
    pub name: String,
    /// Its name in the rewritten graph ([`param_key`]).
    pub key: String,
    /// Its shape.
    pub shape: Vec<usize>,
    /// Its values at θ₀.
    pub values: Vec<f64>,
    /// Its element type in the file, `"F32"` or `"F64"`.
    pub dtype: &'static str,
}

/// The rewritten model and what the rewrite decided.
pub struct Rewritten {
    /// The model onnx-ir parses.
    pub model: ModelProto,
    /// The parameters, in initializer order.
    pub params: Vec<RawParam>,
    /// The floating-point initializers kept as constants: statistics, shapes, indices or bounds
    /// (or `NAME (unused)`).
    pub constants: Vec<String>,
    /// The data inputs: (name in the file, name in the rewritten graph).
    pub inputs: Vec<(String, String)>,
    /// Parameters that feed more than one node as data, with the count: tied weights, or equal
    /// tensors PyTorch's exporter merged into one (it does unless `keep_initializers_as_inputs`).
    pub tied: Vec<(String, usize)>,
}

/// The rewritten graph's name of parameter `k`. onnx-ir rewrites names into identifiers
/// (`fc1.weight` becomes `fc1_weight`, which could collide); these names it keeps as they are.
pub fn param_key(k: usize) -> String {
    format!("hessrank_param_{k}")
}

/// The rewritten graph's name of data input `k` (see [`param_key`]).
pub fn input_key(k: usize) -> String {
    format!("hessrank_input_{k}")
}

/// The inputs of `op` that are statistics, shapes, axes, indices or bounds rather than data: an
/// initializer feeding only these is a constant, not a parameter.
fn non_data_inputs(op: &str) -> &'static [usize] {
    match op {
        "BatchNormalization" => &[3, 4],
        "Reshape" | "Expand" | "Tile" | "Squeeze" | "Unsqueeze" | "Split" | "CumSum" | "TopK" | "Gather"
        | "GatherElements" | "ReduceMean" | "ReduceSum" | "ReduceMax" | "ReduceMin" | "ReduceProd" | "ReduceL2"
        | "ReduceL1" | "ReduceSumSquare" | "ReduceLogSumExp" => &[1],
        "Slice" => &[1, 2, 3, 4],
        "Pad" | "Clip" | "Dropout" | "OneHot" => &[1, 2, 3],
        "Resize" | "Upsample" => &[1, 2, 3],
        "ConstantOfShape" | "Range" | "Shape" | "Size" => &[0, 1, 2],
        _ => &[],
    }
}

/// Decodes an initializer's floating-point values (f32 or f64, inline or raw).
fn float_values(path: &Path, t: &TensorProto) -> Result<Vec<f64>> {
    let bad = |problem: String| OnnxError::Parse {
        path: path.to_path_buf(),
        reason: format!("initializer {:?}: {problem}", t.name),
    };
    if !t.external_data.is_empty() {
        return Err(bad("its data is stored outside the .onnx file (external data); export the model with its weights inside (models < 2 GB)".into()));
    }
    let n: usize = t.dims.iter().map(|&d| d.max(0) as usize).product();
    let values: Vec<f64> = match t.data_type {
        FLOAT if !t.raw_data.is_empty() => {
            t.raw_data.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64).collect()
        }
        FLOAT => t.float_data.iter().map(|&v| v as f64).collect(),
        DOUBLE if !t.raw_data.is_empty() => t
            .raw_data
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
            .collect(),
        DOUBLE => t.double_data.clone(),
        other => return Err(bad(format!("element type {other} is not f32 or f64"))),
    };
    if values.len() != n {
        return Err(bad(format!("{} values for shape {:?} ({n} expected): truncated?", values.len(), t.dims)));
    }
    Ok(values)
}

/// Rewrites `model` (read from `path`): see the module docs.
pub fn rewrite(path: &Path, mut model: ModelProto) -> Result<Rewritten> {
    let graph =
        model.graph.as_mut().ok_or_else(|| OnnxError::Parse { path: path.to_path_buf(), reason: "no graph".into() })?;

    // An Identity of an initializer is a copy of it of its own: PyTorch's exporter merges equal
    // tensors (a fresh BatchNorm's running variance and its weight, two layers initialised alike)
    // into one initializer and names the others by Identity nodes. Each becomes the initializer it
    // was, so the graph has the model's parameters, untied, under their state_dict names.
    let mut copies = Vec::new();
    let mut drop_nodes = HashSet::new();
    for (k, node) in graph.node.iter().enumerate() {
        if node.op_type == "Identity"
            && node.input.len() == 1
            && node.output.len() == 1
            && let Some(source) = graph.initializer.iter().find(|t| t.name == node.input[0])
        {
            let mut copy = source.clone();
            copy.name = node.output[0].clone();
            copies.push(copy);
            drop_nodes.insert(k);
        }
    }
    if !drop_nodes.is_empty() {
        let nodes = std::mem::take(&mut graph.node);
        graph.node = nodes.into_iter().enumerate().filter(|(k, _)| !drop_nodes.contains(k)).map(|(_, n)| n).collect();
        graph.initializer.extend(copies);
    }

    // Classify: a float initializer some node uses as data is a parameter.
    let mut data_use: HashMap<&str, bool> = HashMap::new();
    let mut data_nodes: HashMap<&str, usize> = HashMap::new();
    for node in &graph.node {
        let skip = non_data_inputs(&node.op_type);
        for (k, input) in node.input.iter().enumerate() {
            let entry = data_use.entry(input.as_str()).or_insert(false);
            *entry |= !skip.contains(&k);
            if !skip.contains(&k) {
                *data_nodes.entry(input.as_str()).or_insert(0) += 1;
            }
        }
    }
    let mut params = Vec::new();
    let mut constants = Vec::new();
    let mut keep = Vec::new();
    let mut param_protos = Vec::new();
    for t in std::mem::take(&mut graph.initializer) {
        let is_float = t.data_type == FLOAT || t.data_type == DOUBLE;
        let used_as_data = data_use.get(t.name.as_str()).copied();
        match (is_float, used_as_data) {
            (true, Some(true)) => {
                let shape: Vec<usize> = t.dims.iter().map(|&d| d as usize).collect();
                let key = param_key(params.len());
                let dtype = if t.data_type == DOUBLE { "F64" } else { "F32" };
                params.push(RawParam { name: t.name.clone(), key, shape, values: float_values(path, &t)?, dtype });
                param_protos.push(t);
            }
            (true, Some(false)) => {
                constants.push(t.name.clone());
                keep.push(t);
            }
            (true, None) => {
                constants.push(format!("{} (unused)", t.name));
                keep.push(t);
            }
            (false, _) => keep.push(t),
        }
    }
    let tied: Vec<(String, usize)> = params
        .iter()
        .filter_map(|p| data_nodes.get(p.name.as_str()).filter(|&&n| n > 1).map(|&n| (p.name.clone(), n)))
        .collect();
    graph.initializer = keep;
    let declared: HashSet<String> = graph.input.iter().map(|i| i.name.clone()).collect();
    for t in &param_protos {
        if declared.contains(&t.name) {
            continue;
        }
        let mut info = onnx_ir::ValueInfoProto::new();
        info.name = t.name.clone();
        let mut ty = onnx_ir::TypeProto::new();
        let tensor = ty.mut_tensor_type();
        tensor.elem_type = t.data_type;
        let shape = tensor.shape.mut_or_insert_default();
        for &d in &t.dims {
            shape.dim.push(Default::default());
            shape.dim.last_mut().expect("pushed").set_dim_value(d);
        }
        info.type_ = Some(ty).into();
        graph.input.push(info);
    }

    // Names onnx-ir keeps: parameters and data inputs renamed to identifiers of our own.
    let mut rename: HashMap<String, String> = HashMap::new();
    for (p, t) in params.iter().zip(&param_protos) {
        rename.insert(t.name.clone(), p.key.clone());
    }
    let mut inputs = Vec::new();
    for info in graph.input.iter_mut() {
        let key = match rename.get(&info.name) {
            Some(key) => key.clone(),
            None if graph.initializer.iter().any(|t| t.name == info.name) => continue,
            None => {
                let key = input_key(inputs.len());
                inputs.push((info.name.clone(), key.clone()));
                rename.insert(info.name.clone(), key.clone());
                key
            }
        };
        info.name = key;
    }
    for node in &mut graph.node {
        for input in &mut node.input {
            if let Some(key) = rename.get(input) {
                *input = key.clone();
            }
        }
    }
    for output in &mut graph.output {
        if let Some(key) = rename.get(&output.name) {
            output.name = key.clone();
        }
    }

    // BatchNormalization in training mode: our own node, its running-statistics outputs dropped.
    let mut training_bn = false;
    for node in &mut graph.node {
        if node.op_type == "BatchNormalization" && is_training(node) {
            node.op_type = BATCH_NORM_TRAINING.into();
            node.domain = DOMAIN.into();
            node.output.truncate(1);
            node.attribute.retain(|a| a.name == "epsilon");
            training_bn = true;
        }
    }
    if training_bn {
        model.opset_import.push(Default::default());
        let entry = model.opset_import.last_mut().expect("pushed");
        entry.domain = DOMAIN.into();
        entry.version = 1;
    }
    Ok(Rewritten { model, params, constants, inputs, tied })
}

/// Whether a BatchNormalization node normalizes by batch statistics (`training_mode = 1`, or the
/// opset < 14 form with its running-statistics outputs requested).
fn is_training(node: &NodeProto) -> bool {
    node.attribute.iter().any(|a| a.name == "training_mode" && a.i != 0)
}
