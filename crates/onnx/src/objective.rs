//! An ONNX graph as an objective: the fixed batch (one tensor per graph input, plus `targets`),
//! the loss (`mse`, `cross-entropy` with labels or probabilities, or the graph's own scalar), θ₀
//! as an [`OnnxParams`] module, and the frozen-activation objective recorded at θ₀.

use crate::error::{OnnxError, Result};
use crate::freeze::Pattern;
use crate::graph::Graph;
use crate::interp::{Interpreter, Patterns};
use crate::params::OnnxParams;
use crate::value::{DynTensor, Value};
use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use hessrank_core::Objective;
use hessrank_core::objective::ScalarExt;
use hessrank_models::tensor_file::{HostValues, TensorFile};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The key of the targets in the data file.
pub const TARGETS: &str = "targets";

/// The loss of the graph's output.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Loss {
    /// PyTorch's `F.mse_loss(output, targets)`: the mean of the squared differences.
    Mse,
    /// PyTorch's `F.cross_entropy(logits, targets, label_smoothing)` of logits [N, C], with
    /// integer labels [N] or class probabilities [N, C].
    CrossEntropy {
        /// PyTorch's `label_smoothing` ε.
        label_smoothing: f64,
    },
    /// The graph's single output is the loss.
    Graph,
}

impl std::str::FromStr for Loss {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "mse" => Ok(Loss::Mse),
            "cross-entropy" => Ok(Loss::CrossEntropy { label_smoothing: 0.0 }),
            "graph" => Ok(Loss::Graph),
            other => Err(format!("unknown loss {other:?}: expected mse, cross-entropy or graph")),
        }
    }
}

/// What to load: the graph, its batch and its loss.
#[derive(Debug, Clone)]
pub struct OnnxSpec {
    /// The `.onnx` file.
    pub model: PathBuf,
    /// The batch (.safetensors): one tensor per graph input by name, plus `targets`.
    pub data: PathBuf,
    /// The loss.
    pub loss: Loss,
}

/// The loss's fixed comparison, on the device.
#[derive(Debug, Clone)]
enum Targets {
    /// `--loss graph`: none.
    None,
    /// MSE targets, the output's shape.
    Values(DynTensor),
    /// Cross-entropy: the target distribution of each row (one-hot labels or probabilities),
    /// label smoothing applied, [N, C].
    Distribution(Tensor<2>),
}

/// An ONNX graph's loss on a fixed batch, as a function of its parameters.
#[derive(Clone)]
pub struct OnnxObjective {
    interp: Arc<Interpreter>,
    data: Arc<HashMap<String, Value>>,
    targets: Targets,
    /// The θ₀ pattern of every piecewise-linear node (the frozen objective), if frozen.
    patterns: Option<Arc<Vec<Option<Pattern>>>>,
}

/// A loaded ONNX problem: θ₀, its objective, and the frozen objective where the graph has kinks.
pub struct OnnxProblem {
    /// θ₀.
    pub params: OnnxParams,
    /// The loss on the fixed batch.
    pub objective: OnnxObjective,
    /// The same loss with θ₀'s activation pattern frozen (`None` for a smooth graph).
    pub frozen: Option<OnnxObjective>,
    /// The floating-point initializers kept as constants (statistics, shapes, indices, bounds).
    pub constants: Vec<String>,
    /// Parameters feeding more than one node, with the count (tied, or merged by the exporter).
    pub tied: Vec<(String, usize)>,
    /// The loss at θ₀.
    pub loss0: f64,
    /// What was converted to the run's float dtype, e.g. `"parameters F32 → F64"`.
    pub conversions: Vec<String>,
}

fn bad(path: &Path, key: &str, problem: String) -> OnnxError {
    OnnxError::BadData { path: path.into(), key: key.into(), problem }
}

impl OnnxProblem {
    /// Loads `spec` on `device` (an autodiff device): parses the graph, reads and checks the
    /// batch, builds θ₀, runs the graph once at θ₀ (which checks every node's shapes and records
    /// the activation pattern) and checks the targets against the output.
    pub fn load(spec: &OnnxSpec, device: &Device) -> Result<Self> {
        let graph = Arc::new(Graph::load(&spec.model)?);
        let file = TensorFile::read(&spec.data).map_err(|e| bad(&spec.data, "", e.to_string()))?;
        let keys = || file.tensors.keys().cloned().collect::<Vec<_>>().join(", ");
        let mut data = HashMap::new();
        for input in &graph.inputs {
            let t = file.tensors.get(&input.name).ok_or_else(|| OnnxError::MissingData {
                path: spec.data.clone(),
                key: input.name.clone(),
                needed: format!("graph input of shape {}", shape_text(&input.shape)),
                found: keys(),
            })?;
            let fits = t.shape.len() == input.shape.len()
                && t.shape.iter().zip(&input.shape).all(|(a, e)| e.is_none_or(|e| e == *a));
            if !fits {
                return Err(bad(
                    &spec.data,
                    &input.name,
                    format!("shape {:?}, but the graph declares {}", t.shape, shape_text(&input.shape)),
                ));
            }
            let value = match (&t.values, input.integer) {
                (HostValues::Float(v), false) => {
                    Value::Float { t: DynTensor::from_host(v.clone(), &t.shape, device), scalar: t.shape.is_empty() }
                }
                (HostValues::Int(v), true) => Value::Int { shape: t.shape.clone(), data: v.clone() },
                (_, integer) => {
                    let want = if integer { "integers" } else { "floats" };
                    return Err(bad(
                        &spec.data,
                        &input.name,
                        format!("dtype {}, but the graph declares {want}", t.dtype),
                    ));
                }
            };
            data.insert(input.key.clone(), value);
        }
        let names = graph.params.iter().map(|p| p.name.clone()).collect();
        let param_keys = graph.params.iter().map(|p| p.key.clone()).collect();
        let run_dtype = match device.settings().float_dtype {
            burn::tensor::FloatDType::F64 => "F64",
            _ => "F32",
        };
        let converted = |dtypes: Vec<&str>| {
            let mut from: Vec<&str> = dtypes.into_iter().filter(|d| *d != run_dtype).collect();
            from.sort_unstable();
            from.dedup();
            (!from.is_empty()).then(|| format!("{} → {run_dtype}", from.join("/")))
        };
        let mut conversions = Vec::new();
        if let Some(c) = converted(graph.params.iter().map(|p| p.dtype).collect()) {
            conversions.push(format!("parameters {c}"));
        }
        let float_inputs = graph.inputs.iter().filter(|i| !i.integer).map(|i| i.name.as_str()).chain([TARGETS]);
        let data_dtypes = float_inputs
            .filter_map(|k| file.tensors.get(k))
            .filter(|t| matches!(t.values, HostValues::Float(_)))
            .map(|t| t.dtype.as_str())
            .collect();
        if let Some(c) = converted(data_dtypes) {
            conversions.push(format!("data {c}"));
        }
        let values = graph.params.iter().map(|p| DynTensor::from_host(p.values.clone(), &p.shape, device)).collect();
        let params = OnnxParams::new(names, values);
        let interp = Arc::new(Interpreter::new(graph.clone(), param_keys, device));
        if graph.outputs.len() != 1 {
            let names: Vec<&str> = graph.outputs.iter().map(|(n, _)| n.as_str()).collect();
            return Err(OnnxError::Parse {
                path: spec.model.clone(),
                reason: format!(
                    "the graph has {} outputs ({}); the loss takes exactly one",
                    names.len(),
                    names.join(", ")
                ),
            });
        }
        let mut patterns = Vec::new();
        let output = interp.run(&params.clone().no_grad(), &data, Patterns::Record(&mut patterns))?.remove(0);
        let out_shape = output.shape();
        let targets = match spec.loss {
            Loss::Graph => {
                if out_shape.iter().product::<usize>() != 1 {
                    return Err(OnnxError::Parse {
                        path: spec.model.clone(),
                        reason: format!(
                            "--loss graph needs a scalar output, but the graph's output has shape {out_shape:?}"
                        ),
                    });
                }
                Targets::None
            }
            Loss::Mse => {
                let t = target(&file, &spec.data, keys)?;
                let HostValues::Float(v) = &t.values else {
                    return Err(bad(&spec.data, TARGETS, format!("dtype {}: MSE targets are floats", t.dtype)));
                };
                if t.shape != out_shape {
                    return Err(bad(
                        &spec.data,
                        TARGETS,
                        format!("shape {:?}, but the graph's output has shape {out_shape:?}", t.shape),
                    ));
                }
                Targets::Values(DynTensor::from_host(v.clone(), &t.shape, device))
            }
            Loss::CrossEntropy { label_smoothing } => {
                let t = target(&file, &spec.data, keys)?;
                if out_shape.len() != 2 {
                    return Err(OnnxError::Parse {
                        path: spec.model.clone(),
                        reason: format!(
                            "cross-entropy takes logits [N, C], but the graph's output has shape {out_shape:?}"
                        ),
                    });
                }
                if !(0.0..=1.0).contains(&label_smoothing) {
                    return Err(bad(
                        &spec.data,
                        TARGETS,
                        format!("label smoothing {label_smoothing} is outside [0, 1]"),
                    ));
                }
                let dist = distribution(&spec.data, t, out_shape[0], out_shape[1], label_smoothing)?;
                Targets::Distribution(Tensor::from_data(TensorData::new(dist, [out_shape[0], out_shape[1]]), device))
            }
        };
        let objective = OnnxObjective { interp, data: Arc::new(data), targets, patterns: None };
        let loss0 = objective.loss(&params.clone().no_grad()).into_scalar_f64();
        let frozen =
            graph.has_kinks().then(|| OnnxObjective { patterns: Some(Arc::new(patterns)), ..objective.clone() });
        Ok(OnnxProblem {
            params,
            objective,
            frozen,
            constants: graph.constants.clone(),
            tied: graph.tied.clone(),
            loss0,
            conversions,
        })
    }
}

fn shape_text(shape: &[Option<usize>]) -> String {
    let dims: Vec<String> = shape.iter().map(|d| d.map_or("?".to_string(), |d| d.to_string())).collect();
    format!("[{}]", dims.join(", "))
}

fn target<'a>(
    file: &'a TensorFile,
    path: &Path,
    keys: impl Fn() -> String,
) -> Result<&'a hessrank_models::tensor_file::HostTensor> {
    file.tensors.get(TARGETS).ok_or_else(|| OnnxError::MissingData {
        path: path.into(),
        key: TARGETS.into(),
        needed: "the loss's targets".into(),
        found: keys(),
    })
}

/// Each row's target distribution, smoothed: `(1 − ε) · target + ε / C`, from labels [N] or
/// probabilities [N, C] (rows must sum to 1).
fn distribution(
    path: &Path,
    t: &hessrank_models::tensor_file::HostTensor,
    n: usize,
    c: usize,
    eps: f64,
) -> Result<Vec<f64>> {
    let mut dist = vec![0.0; n * c];
    match &t.values {
        HostValues::Int(labels) => {
            if t.shape != [n] {
                return Err(bad(
                    path,
                    TARGETS,
                    format!("labels of shape {:?}, but the logits have shape [{n}, {c}]: expected [{n}]", t.shape),
                ));
            }
            for (row, &label) in labels.iter().enumerate() {
                if !(0..c as i64).contains(&label) {
                    return Err(bad(path, TARGETS, format!("label {label} at row {row} is outside 0..{c}")));
                }
                dist[row * c + label as usize] = 1.0;
            }
        }
        HostValues::Float(p) => {
            if t.shape != [n, c] {
                return Err(bad(
                    path,
                    TARGETS,
                    format!("probabilities of shape {:?}, but the logits have shape [{n}, {c}]", t.shape),
                ));
            }
            let tol = if t.dtype == "F64" { 1e-9 } else { 1e-5 } * c as f64;
            for (row, r) in p.chunks(c).enumerate() {
                let sum: f64 = r.iter().sum();
                if (sum - 1.0).abs() > tol || r.iter().any(|&v| v < 0.0) {
                    return Err(bad(path, TARGETS, format!("row {row} is not a probability distribution (sum {sum})")));
                }
            }
            dist.copy_from_slice(p);
        }
    }
    Ok(dist.into_iter().map(|v| (1.0 - eps) * v + eps / c as f64).collect())
}

impl OnnxObjective {
    /// The graph's output on `params` (real or frozen patterns, as this objective is).
    pub fn output(&self, params: &OnnxParams) -> Value {
        let patterns = match &self.patterns {
            Some(p) => Patterns::Use(p),
            None => Patterns::Off,
        };
        // Every node was run and checked when the problem was loaded; the same graph on
        // parameters of the same shapes cannot fail.
        self.interp.run(params, &self.data, patterns).expect("checked when loaded").remove(0)
    }

    /// Whether this is the frozen-activation objective.
    pub fn is_frozen(&self) -> bool {
        self.patterns.is_some()
    }
}

impl Objective for OnnxObjective {
    type Model = OnnxParams;

    fn loss(&self, model: &OnnxParams) -> Tensor<1> {
        let Value::Float { t: out, .. } = self.output(model) else {
            panic!("the graph's output is not a float tensor")
        };
        match &self.targets {
            Targets::Values(t) => {
                let diff = crate::ops::elementwise::binary(crate::ops::elementwise::Binary::Sub, out, t.clone())
                    .expect("same shape");
                diff.flatten().powi_scalar(2).mean().reshape([1])
            }
            Targets::Distribution(d) => {
                let n = d.dims()[0] as f64;
                let logp = burn::tensor::activation::log_softmax(out.into_rank::<2>(), 1);
                (logp * d.clone()).sum().neg().mul_scalar(1.0 / n).reshape([1])
            }
            Targets::None => out.flatten().reshape([1]),
        }
    }
}
