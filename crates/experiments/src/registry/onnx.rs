//! Problems from an ONNX graph (any network exported from PyTorch): the graph's float
//! initializers are θ₀, its batch and loss are the objective, G = I (an ONNX file carries no
//! optimizer state), and its parameters group into layers by name.

use super::{Layering, Problem};
use burn::tensor::Device;
use hessrank_core::Result;
use hessrank_onnx::{Loss, OnnxProblem, OnnxSpec};

/// The problem of `spec` on `device` (an autodiff device); `label_smoothing` replaces the
/// cross-entropy's ε where given.
pub fn from_onnx(spec: &OnnxSpec, label_smoothing: Option<f64>, device: &Device) -> Result<Problem<'static>> {
    let mut spec = spec.clone();
    if let Some(eps) = label_smoothing {
        match &mut spec.loss {
            Loss::CrossEntropy { label_smoothing } => *label_smoothing = eps,
            _ => {
                return Err(hessrank_core::Error::config(
                    "label_smoothing",
                    eps,
                    "a cross-entropy loss (--loss cross-entropy): the label smoothing of other losses is undefined",
                ));
            }
        }
    }
    let loaded = OnnxProblem::load(&spec, device)?;
    let count: usize = loaded.params.values().map(|(_, t)| t.numel()).sum();
    let tensors = loaded.params.names().len();
    let mut notes = vec![format!(
        "{}: {count} parameters in {tensors} tensors, loss {:.6e} at θ₀ ({})",
        spec.model.display(),
        loaded.loss0,
        loss_name(spec.loss)
    )];
    if !loaded.conversions.is_empty() {
        notes.push(format!("converted {}", loaded.conversions.join(", ")));
    }
    if !loaded.constants.is_empty() {
        notes.push(format!(
            "kept as constants (BatchNorm statistics, shapes, indices, bounds): {}",
            loaded.constants.join(", ")
        ));
    }
    if !loaded.tied.is_empty() {
        let tied: Vec<String> = loaded.tied.iter().map(|(name, n)| format!("{name} ({n} nodes)")).collect();
        notes.push(format!(
            "one parameter feeds several nodes: {}; tied weights, or equal tensors PyTorch's exporter merged \
             (export with keep_initializers_as_inputs=True if they are separate parameters)",
            tied.join(", ")
        ));
    }
    if loaded.frozen.is_none() {
        notes.push("the graph is smooth (no piecewise-linear operator): it has no frozen-activation variant".into());
    }
    let origin = format!("{} on {}", spec.model.display(), spec.data.display());
    let mut problem = Problem::new(loaded.params, loaded.objective, loaded.frozen, origin);
    problem.notes = notes;
    problem.layering = Layering::Prefix;
    Ok(problem)
}

fn loss_name(loss: Loss) -> String {
    match loss {
        Loss::Mse => "mse".into(),
        Loss::CrossEntropy { label_smoothing } if label_smoothing > 0.0 => {
            format!("cross-entropy, label smoothing {label_smoothing}")
        }
        Loss::CrossEntropy { .. } => "cross-entropy".into(),
        Loss::Graph => "the graph's own".into(),
    }
}
