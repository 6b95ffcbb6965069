//! Problems from an architecture with weights trained elsewhere (PyTorch `state_dict`s as
//! safetensors or `.pt`): the architecture names the template, the file fills in θ₀, G = I.

use super::{ClassifierData, DncnnData, ModelKind, Problem, batch};
use burn::store::ModuleSnapshot;
use burn::tensor::Device;
use hessrank_core::{Error, Result};
use hessrank_models::classification::Classifier;
use hessrank_models::{CnnConfig, DnCnnConfig, MlpConfig, NoisyMnistConfig, WeightsOptions, load_weights};
use std::path::{Path, PathBuf};

/// A built-in architecture for imported weights.
#[derive(Debug, Clone)]
pub enum Arch {
    /// The paper's 753-parameter DnCNN (`nn.Sequential(Conv2d, ReLU, Conv2d, BatchNorm2d, ReLU,
    /// Conv2d)` loads as it is).
    Dncnn,
    /// `mlp:784-64-10`: `nn.Sequential(Linear, ReLU, …)`.
    Mlp(MlpConfig),
    /// `cnn:4-8`: `nn.Sequential(Conv2d(3×3, padding 1), ReLU, AvgPool2d(2), …, Flatten, Linear)`.
    Cnn(CnnConfig),
}

impl std::str::FromStr for Arch {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        if s == "dncnn" {
            Ok(Arch::Dncnn)
        } else if let Some(widths) = s.strip_prefix("mlp:") {
            Ok(Arch::Mlp(MlpConfig::parse(widths)?))
        } else if let Some(channels) = s.strip_prefix("cnn:") {
            Ok(Arch::Cnn(CnnConfig::parse(channels)?))
        } else {
            Err(Error::config(
                "arch",
                format!("{s:?}"),
                "dncnn, mlp:WIDTHS (e.g. mlp:784-64-10) or cnn:CHANNELS (e.g. cnn:4-8)",
            ))
        }
    }
}

/// Weights trained elsewhere and how to read them.
#[derive(Debug, Clone)]
pub struct ImportSpec {
    /// The architecture.
    pub arch: Arch,
    /// The weights file (.safetensors, or PyTorch .pt/.pth).
    pub weights: PathBuf,
    /// Key renames `(regex, replacement)`, applied in order before the architecture's own PyTorch
    /// layout.
    pub renames: Vec<(String, String)>,
    /// Load what matches and leave the rest at the template's values (reported).
    pub allow_partial: bool,
}

impl ImportSpec {
    /// The load options: the user's renames first, then the architecture's own PyTorch layout.
    pub fn options(&self, arch_renames: Vec<(String, String)>) -> WeightsOptions {
        WeightsOptions { allow_partial: self.allow_partial, ..Default::default() }
            .with_renames(self.renames.iter().cloned())
            .with_renames(arch_renames)
    }
}

/// The problem of imported weights on `device` (an autodiff device), on the batch in `data` (else
/// the default MNIST batch, noted), with a classifier's label smoothing `label_smoothing` (else 0).
/// G is left unset: the file holds no Adam state.
pub fn from_weights(
    spec: &ImportSpec,
    data: Option<&Path>,
    label_smoothing: Option<f64>,
    device: &Device,
) -> Result<Problem<'static>> {
    let mut notes = Vec::new();
    let origin = match data {
        Some(file) => format!("{} on {}", spec.weights.display(), file.display()),
        None => spec.weights.display().to_string(),
    };
    let smoothing = label_smoothing.unwrap_or(0.0);
    if smoothing != 0.0 {
        notes.push(format!("loss: cross-entropy with label smoothing ε = {smoothing}"));
    }
    let classifier_data =
        ClassifierData { n_images: ClassifierData::DEFAULT_N, seed: 0, mnist: None, label_smoothing: smoothing };
    let mut problem = match &spec.arch {
        Arch::Dncnn => {
            let model_config = DnCnnConfig::new();
            let kind = ModelKind::Dncnn {
                model_config: model_config.clone(),
                data: DncnnData { noise: NoisyMnistConfig::new(), mnist: None },
            };
            if let Some(e) = label_smoothing {
                return Err(super::checkpoint::no_smoothing(&kind, e));
            }
            let (model, report) = hessrank_models::load_dncnn(&spec.weights, &spec.options(Vec::new()), device)?;
            notes.push(format!("weights: {}", report.summary()));
            let ModelKind::Dncnn { data: default, .. } = &kind else { unreachable!("built above") };
            let objective = batch::noisy_mnist(data, default, true, device, &mut notes)?;
            let frozen = objective.frozen_at(&model);
            Problem::new(model, objective, Some(frozen), origin).with_kind(kind)
        }
        Arch::Mlp(cfg) => {
            let kind = ModelKind::Mlp { model_config: cfg.clone(), data: classifier_data };
            let shape = (cfg.sizes[0], cfg.classes());
            let batch = Batch { file: data, shape, kind };
            classifier(cfg.init(device)?, cfg.pytorch_sequential_renames(), spec, batch, origin, device, &mut notes)?
        }
        Arch::Cnn(cfg) => {
            let kind = ModelKind::Cnn { model_config: cfg.clone(), data: classifier_data };
            let shape = (cfg.side * cfg.side, cfg.classes);
            let batch = Batch { file: data, shape, kind };
            classifier(cfg.init(device)?, cfg.pytorch_sequential_renames(), spec, batch, origin, device, &mut notes)?
        }
    };
    problem.notes = notes;
    Ok(problem)
}

/// An imported classifier's batch: the user's file (else the default one its kind names), its
/// `(features, classes)`, and the kind the problem is recorded as.
struct Batch<'a> {
    file: Option<&'a Path>,
    shape: (usize, usize),
    kind: ModelKind,
}

/// A classifier trained elsewhere: `template` with the tensors of the weights file (the
/// architecture's PyTorch `renames` after the user's), on its batch, with the frozen objective.
fn classifier<M: Classifier + ModuleSnapshot + 'static>(
    template: M,
    renames: Vec<(String, String)>,
    spec: &ImportSpec,
    batch: Batch<'_>,
    origin: String,
    device: &Device,
    notes: &mut Vec<String>,
) -> Result<Problem<'static>> {
    let (model, report) = load_weights(template, &spec.weights, &spec.options(renames))?;
    notes.push(format!("weights: {}", report.summary()));
    let (ModelKind::Mlp { data: default, .. } | ModelKind::Cnn { data: default, .. }) = &batch.kind else {
        unreachable!("a classifier kind")
    };
    let objective = batch::labelled::<M>(batch.file, default, batch.shape, true, device, notes)?;
    let frozen = objective.frozen_at(&model);
    Ok(Problem::new(model, objective, Some(frozen), origin).with_kind(batch.kind))
}
